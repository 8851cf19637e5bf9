// services/syscall/dispatch.h — decoding a trapped system call and calling its handler.
// The conversion from Result to the -errno return value happens here and only here.
#pragma once

#include <ostd/user_mode.h>

#include "process/process.h"

namespace services {

/// Runs the system call in um.context() for process p and writes the result register.
void dispatch_syscall(Process& p, ostd::UserMode& um);

}  // namespace services
