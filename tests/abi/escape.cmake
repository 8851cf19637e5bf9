# Runs /abi/escape under umk on PLATFORM; fails if umk dies, the program does not finish, or the
# host file that an escaped creat() would make exists.
set(tag "${PLATFORM}-ctest")
set(host_file "/tmp/umk-escape-${tag}")
file(REMOVE ${host_file})
# With core dumps allowed, in a directory of its own: a stub killed by an attempt (the forged
# sigreturn) must not leave a core file of guest memory there or anywhere.
set(dir "${CMAKE_CURRENT_BINARY_DIR}/escape-${tag}")
file(REMOVE_RECURSE ${dir})
file(MAKE_DIRECTORY ${dir})
file(GLOB root_cores_before /core*)
execute_process(COMMAND sh -c "ulimit -c unlimited 2>/dev/null || ulimit -c 100000; exec \"$@\"" sh
                        ${UMK} run --platform ${PLATFORM} --initramfs ${CPIO} -- /abi/escape ${tag}
                WORKING_DIRECTORY ${dir}
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc TIMEOUT 100)
file(GLOB cores ${dir}/*)
file(GLOB root_cores_after /core*)
file(REMOVE_RECURSE ${dir})
message("---- umk (rc ${rc})\n${out}---- stderr\n${err}")
if(cores OR NOT root_cores_after STREQUAL root_cores_before)
  message(FATAL_ERROR "a stub left files on the host: ${cores} ${root_cores_after}")
endif()
if(EXISTS ${host_file})
  file(REMOVE ${host_file})
  message(FATAL_ERROR "ESCAPE: the guest created ${host_file} on the host")
endif()
if(NOT rc EQUAL 0 OR NOT out MATCHES "escape: done")
  message(FATAL_ERROR "umk did not survive the escape attempts")
endif()
# The stubs never make the host's rt_sigreturn: the guest's kernel answers a jump to it.
foreach(attempt "sigreturn_forged exited 42" "altstack_swap_to_main exited 0"
                "altstack_swap_to_sibling exited 0")
  if(NOT out MATCHES "${attempt}")
    message(FATAL_ERROR "expected '${attempt}': a host rt_sigreturn ran from the stub, or the "
                        "attempt did not finish within its 3 s alarm")
  endif()
endforeach()
if(out MATCHES "did not end")
  message(FATAL_ERROR "an attempt left its process running past its alarm (a wedged process)")
endif()
if(NOT out MATCHES "stub code page: [1-9]")
  message(FATAL_ERROR "the stub's code page was not found: the attempts tested nothing")
endif()
if(NOT out MATCHES "vsyscall exited 0")
  message(FATAL_ERROR "calls into the vsyscall page did not reach umk's kernel (they ran on the host)")
endif()
if(NOT out MATCHES "mremap_fixed exited 0")
  message(FATAL_ERROR "mremap(MREMAP_FIXED) reached the stub's range or past the top of guest space")
endif()
