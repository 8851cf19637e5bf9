# Runs /abi/escape under umk on PLATFORM; fails if umk dies, the program does not finish, or the
# host file that an escaped creat() would make exists.
set(tag "${PLATFORM}-ctest")
set(host_file "/tmp/umk-escape-${tag}")
file(REMOVE ${host_file})
execute_process(COMMAND ${UMK} run --platform ${PLATFORM} --initramfs ${CPIO} -- /abi/escape ${tag}
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc TIMEOUT 100)
message("---- umk (rc ${rc})\n${out}---- stderr\n${err}")
if(EXISTS ${host_file})
  file(REMOVE ${host_file})
  message(FATAL_ERROR "ESCAPE: the guest created ${host_file} on the host")
endif()
if(NOT rc EQUAL 0 OR NOT out MATCHES "escape: done")
  message(FATAL_ERROR "umk did not survive the escape attempts")
endif()
if(NOT out MATCHES "stub code page: [1-9]")
  message(FATAL_ERROR "the stub's code page was not found: the attempts tested nothing")
endif()
