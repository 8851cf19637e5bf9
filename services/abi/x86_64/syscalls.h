// services/abi/x86_64/syscalls.h — x86-64 system-call numbers as a typed enum, and their names.
#pragma once

#include <string_view>

#include <ostd/types.h>

#include "abi/x86_64/syscall_table.h"

namespace services::x86_64 {

enum class Sysno : ostd::u32 {
#define FK_SYSNO(n, name) name = (n),
  FK_X86_64_SYSCALLS(FK_SYSNO)
#undef FK_SYSNO
};

/// "write" for 1; "syscall_<n>" is not produced — unknown numbers give "?".
std::string_view syscall_name(ostd::u64 nr);

}  // namespace services::x86_64
