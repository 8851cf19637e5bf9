// services/syscall/strace.h — strace-style tracing of system calls (umk --strace).
#pragma once

#include <string>

#include <ostd/error.h>
#include <ostd/types.h>

#include "syscall/table.h"

namespace services {

class Thread;

/// Whether the kernel command line asked for tracing ("strace" word).
bool strace_enabled();
/// "name(arg, arg, ...)" with arguments decoded by kind (paths read from user memory).
std::string strace_call(Thread& t, ostd::u64 nr, const SyscallArgs& args);
/// Prints one finished call: "[pid N] call = result".
void strace_print(Thread& t, const std::string& call, const ostd::Result<long>& r);

}  // namespace services
