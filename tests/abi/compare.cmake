# Runs PROGRAM under umk (or QEMU_RUN) and NATIVE on the host; fails unless both succeed with equal output.
execute_process(COMMAND ${NATIVE} OUTPUT_VARIABLE native_out RESULT_VARIABLE native_rc)
# QEMU_RUN (scripts/qemu-run) instead of UMK: the bare-metal kernel in QEMU, same interface.
if(DEFINED QEMU_RUN)
  set(RUNNER ${QEMU_RUN})
else()
  set(RUNNER ${UMK} run)
endif()
execute_process(COMMAND ${RUNNER} --initramfs ${CPIO} -- ${PROGRAM}
                OUTPUT_VARIABLE umk_out ERROR_VARIABLE umk_err RESULT_VARIABLE umk_rc)
message("---- native (rc ${native_rc})\n${native_out}---- umk (rc ${umk_rc})\n${umk_out}${umk_err}")
if(NOT native_rc EQUAL 0)
  message(FATAL_ERROR "the native run failed: the test itself is wrong on this host")
endif()
if(NOT umk_rc EQUAL native_rc OR NOT umk_out STREQUAL native_out)
  message(FATAL_ERROR "umk differs from native Linux")
endif()
