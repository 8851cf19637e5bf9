// services/syscall/table.h — system-call handlers, registered per area by number.
//
// Handler shape: Result<long>(Thread& self, const SyscallArgs& args). The dispatcher turns the
// Result into the -errno return value in exactly one place. Each area registers its handlers in
// a register_<area>_syscalls() function (see syscall/registry.cpp for the list).
#pragma once

#include <array>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <ostd/error.h>
#include <ostd/types.h>

#include "abi/x86_64/syscalls.h"

namespace services {

class Thread;

struct SyscallArgs {
  std::array<ostd::u64, 6> a;
  ostd::u64 operator[](ostd::usize i) const { return a.at(i); }
  /// The argument as a C `int` (the low 32 bits, sign-extended), as the kernel reads ints.
  int as_int(ostd::usize i) const { return static_cast<int>(static_cast<ostd::i32>(a.at(i))); }
  ostd::u32 as_u32(ostd::usize i) const { return static_cast<ostd::u32>(a.at(i)); }
};

using SyscallHandler = ostd::Result<long> (*)(Thread& self, const SyscallArgs& args);

inline constexpr ostd::usize kMaxSyscalls = 512;

class SyscallTable {
 public:
  void set(x86_64::Sysno nr, SyscallHandler h);
  SyscallHandler get(ostd::u64 nr) const;

 private:
  std::array<SyscallHandler, kMaxSyscalls> handlers_{};
};

SyscallTable& syscall_table();

/// A system call refused by design, with the answer Linux gives where the feature is not built
/// in (ENOSYS) or not allowed in a container (EPERM...). The dispatcher answers these quietly;
/// calls neither implemented nor refused answer ENOSYS with a warning.
struct Refusal {
  x86_64::Sysno nr;
  ostd::Errno err;
  std::string_view why;
};
std::span<const Refusal> refusals();
std::optional<Refusal> find_refusal(ostd::u64 nr);
/// docs/syscalls.md: every x86-64 system call with its state (implemented, refused and why, or
/// missing) and the counts; a unit test keeps the file equal to it.
std::string syscall_table_markdown();

// Registration functions, one per area.
void register_process_syscalls(SyscallTable& t);
void register_exit_wait_syscalls(SyscallTable& t);
void register_fork_exec_syscalls(SyscallTable& t);
void register_futex_syscalls(SyscallTable& t);
void register_memory_syscalls(SyscallTable& t);
void register_fs_syscalls(SyscallTable& t);
void register_xattr_syscalls(SyscallTable& t);
void register_signal_syscalls(SyscallTable& t);
void register_time_syscalls(SyscallTable& t);
void register_misc_syscalls(SyscallTable& t);
void register_poll_syscalls(SyscallTable& t);
void register_itimer_syscalls(SyscallTable& t);
void register_posix_timer_syscalls(SyscallTable& t);
void register_signalfd_syscalls(SyscallTable& t);
void register_inotify_syscalls(SyscallTable& t);
void register_seccomp_syscalls(SyscallTable& t);
void register_mqueue_syscalls(SyscallTable& t);
void register_ptrace_syscalls(SyscallTable& t);
void register_sched_syscalls(SyscallTable& t);
void register_splice_syscalls(SyscallTable& t);
void register_pidfd_syscalls(SyscallTable& t);
void register_mempolicy_syscalls(SyscallTable& t);
void register_sysv_syscalls(SyscallTable& t);
void register_memfd_syscalls(SyscallTable& t);
void register_uts_syscalls(SyscallTable& t);
void register_klog_syscalls(SyscallTable& t);
void register_namespace_syscalls(SyscallTable& t);
void register_cross_process_syscalls(SyscallTable& t);
void register_timerfd_syscalls(SyscallTable& t);
void register_socket_syscalls(SyscallTable& t);

}  // namespace services
