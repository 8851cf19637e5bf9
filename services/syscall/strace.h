// services/syscall/strace.h — strace-style tracing of system calls (umk --strace).
#pragma once

#include <string>

#include <ostd/error.h>
#include <ostd/types.h>

#include "syscall/table.h"

namespace services {

class Thread;

/// Whether the kernel command line asked for tracing ("strace" word); set by init_strace() at
/// every boot, read on every system call (a plain flag: no call, no guard on the hot path).
inline bool& strace_flag() {
  static bool on = false;  // constant-initialized: no guard to check
  return on;
}
inline bool strace_enabled() { return strace_flag(); }
void init_strace();
/// "name(arg, arg, ...)" with arguments decoded by kind (paths read from user memory).
std::string strace_call(Thread& t, ostd::u64 nr, const SyscallArgs& args);
/// Prints one finished call: "[pid N] call = result".
void strace_print(Thread& t, const std::string& call, const ostd::Result<long>& r);

}  // namespace services
