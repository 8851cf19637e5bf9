#include "syscall/table.h"

#include <ostd/enforce.h>

namespace services {

void SyscallTable::set(x86_64::Sysno nr, SyscallHandler h) {
  handlers_.at(static_cast<ostd::usize>(nr)) = h;
}

SyscallHandler SyscallTable::get(ostd::u64 nr) const {
  return nr < handlers_.size() ? handlers_.at(nr) : nullptr;
}

SyscallTable& syscall_table() {
  static SyscallTable table = [] {
    SyscallTable t;
    register_process_syscalls(t);
    register_exit_wait_syscalls(t);
    register_fork_exec_syscalls(t);
    register_memory_syscalls(t);
    register_fs_syscalls(t);
    register_xattr_syscalls(t);
    register_signal_syscalls(t);
    register_time_syscalls(t);
    register_futex_syscalls(t);
    register_poll_syscalls(t);
    register_itimer_syscalls(t);
    register_posix_timer_syscalls(t);
    register_signalfd_syscalls(t);
    register_sched_syscalls(t);
    register_splice_syscalls(t);
    register_pidfd_syscalls(t);
    register_mempolicy_syscalls(t);
    register_uts_syscalls(t);
    register_cross_process_syscalls(t);
    register_timerfd_syscalls(t);
    register_socket_syscalls(t);
    return t;
  }();
  return table;
}

}  // namespace services
