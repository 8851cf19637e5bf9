#include "syscall/table.h"

#include <ostd/format.h>

#include <ostd/enforce.h>

namespace services {

void SyscallTable::set(x86_64::Sysno nr, SyscallHandler h) { handlers_.at(static_cast<ostd::usize>(nr)) = h; }

SyscallHandler SyscallTable::get(ostd::u64 nr) const { return nr < handlers_.size() ? handlers_.at(nr) : nullptr; }

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
    register_inotify_syscalls(t);
    register_seccomp_syscalls(t);
    register_mqueue_syscalls(t);
    register_ptrace_syscalls(t);
    register_sched_syscalls(t);
    register_splice_syscalls(t);
    register_pidfd_syscalls(t);
    register_mempolicy_syscalls(t);
    register_sysv_syscalls(t);
    register_memfd_syscalls(t);
    register_uts_syscalls(t);
    register_klog_syscalls(t);
    register_namespace_syscalls(t);
    register_cross_process_syscalls(t);
    register_timerfd_syscalls(t);
    register_socket_syscalls(t);
    return t;
  }();
  return table;
}

namespace {
using S = x86_64::Sysno;
using ostd::Errno;
constexpr std::string_view kRemoved = "not a system call of Linux on x86-64 (removed, or never implemented)";
constexpr std::string_view kModules = "no loadable modules: a container may not load them (CAP_SYS_MODULE)";
constexpr std::string_view kAio = "no Linux AIO (CONFIG_AIO=n): libaio users fall back; POSIX AIO uses threads";
constexpr std::string_view kKeys = "no kernel key retention service (CONFIG_KEYS=n)";
constexpr std::string_view kLandlock = "no Landlock (CONFIG_SECURITY_LANDLOCK=n)";
constexpr std::string_view kMountApi = "the new mount API is not built; mount(2) and umount2(2) are";
constexpr std::string_view kQuota = "no disk quotas (CONFIG_QUOTACTL=n)";
constexpr std::string_view kIoUring = "no io_uring (CONFIG_IO_URING=n): programs fall back to read/write and epoll";
constexpr std::string_view kIoPorts = "no I/O port access for user programs (CAP_SYS_RAWIO), as in a container";
constexpr std::string_view kKexec = "no kexec: a container may not load a kernel (CAP_SYS_BOOT in the first namespace)";

constexpr std::array kRefusals{
    Refusal{S::rseq, Errno::enosys, "no restartable sequences (CONFIG_RSEQ=n): glibc does without them"},
    Refusal{S::create_module, Errno::enosys, kRemoved},
    Refusal{S::get_kernel_syms, Errno::enosys, kRemoved},
    Refusal{S::query_module, Errno::enosys, kRemoved},
    Refusal{S::nfsservctl, Errno::enosys, kRemoved},
    Refusal{S::afs_syscall, Errno::enosys, kRemoved},
    Refusal{S::tuxcall, Errno::enosys, kRemoved},
    Refusal{S::security, Errno::enosys, kRemoved},
    Refusal{S::vserver, Errno::enosys, kRemoved},
    Refusal{S::getpmsg, Errno::enosys, kRemoved},
    Refusal{S::putpmsg, Errno::enosys, kRemoved},
    Refusal{S::epoll_ctl_old, Errno::enosys, kRemoved},
    Refusal{S::epoll_wait_old, Errno::enosys, kRemoved},
    Refusal{S::_sysctl, Errno::enosys, "removed in Linux 5.5: /proc/sys is the interface"},
    Refusal{S::lookup_dcookie, Errno::enosys, "removed in Linux 6.8 (oprofile's)"},
    Refusal{S::uselib, Errno::enosys, "no a.out libraries (CONFIG_USELIB=n)"},
    Refusal{S::set_thread_area, Errno::enosys, "32-bit TLS descriptors: no IA-32 emulation"},
    Refusal{S::get_thread_area, Errno::enosys, "32-bit TLS descriptors: no IA-32 emulation"},
    Refusal{S::modify_ldt, Errno::enosys, "no LDT for user programs (CONFIG_MODIFY_LDT_SYSCALL=n)"},
    Refusal{S::init_module, Errno::eperm, kModules},
    Refusal{S::finit_module, Errno::eperm, kModules},
    Refusal{S::delete_module, Errno::eperm, kModules},
    Refusal{S::kexec_load, Errno::eperm, kKexec},
    Refusal{S::kexec_file_load, Errno::eperm, kKexec},
    Refusal{S::ioperm, Errno::eperm, kIoPorts},
    Refusal{S::iopl, Errno::eperm, kIoPorts},
    Refusal{S::vhangup, Errno::eperm, "no terminal hang-up for a container (CAP_SYS_TTY_CONFIG)"},
    Refusal{S::bpf, Errno::eperm, "no BPF for a container (unprivileged BPF disabled, no CAP_BPF)"},
    Refusal{S::perf_event_open, Errno::enosys, "no performance counters (CONFIG_PERF_EVENTS=n)"},
    Refusal{S::acct, Errno::enosys, "no process accounting (CONFIG_BSD_PROCESS_ACCT=n)"},
    Refusal{S::swapon, Errno::enosys, "no swap (CONFIG_SWAP=n)"},
    Refusal{S::swapoff, Errno::enosys, "no swap (CONFIG_SWAP=n)"},
    Refusal{S::quotactl, Errno::enosys, kQuota},
    Refusal{S::quotactl_fd, Errno::enosys, kQuota},
    Refusal{S::userfaultfd, Errno::enosys, "no userfaultfd (CONFIG_USERFAULTFD=n)"},
    Refusal{S::memfd_secret, Errno::enosys, "no secret memory (secretmem is off by default in Linux)"},
    Refusal{S::fanotify_init, Errno::eperm, "fanotify needs CAP_SYS_ADMIN in the first namespace"},
    Refusal{S::io_setup, Errno::enosys, kAio},
    Refusal{S::io_destroy, Errno::enosys, kAio},
    Refusal{S::io_submit, Errno::enosys, kAio},
    Refusal{S::io_cancel, Errno::enosys, kAio},
    Refusal{S::io_getevents, Errno::enosys, kAio},
    Refusal{S::io_pgetevents, Errno::enosys, kAio},
    Refusal{S::io_uring_setup, Errno::enosys, kIoUring},
    Refusal{S::io_uring_enter, Errno::enosys, kIoUring},
    Refusal{S::io_uring_register, Errno::enosys, kIoUring},
    Refusal{S::add_key, Errno::enosys, kKeys},
    Refusal{S::request_key, Errno::enosys, kKeys},
    Refusal{S::keyctl, Errno::enosys, kKeys},
    Refusal{S::landlock_create_ruleset, Errno::enosys, kLandlock},
    Refusal{S::landlock_add_rule, Errno::enosys, kLandlock},
    Refusal{S::landlock_restrict_self, Errno::enosys, kLandlock},
    Refusal{S::fsopen, Errno::enosys, kMountApi},
    Refusal{S::fsconfig, Errno::enosys, kMountApi},
    Refusal{S::fsmount, Errno::enosys, kMountApi},
    Refusal{S::fspick, Errno::enosys, kMountApi},
    Refusal{S::move_mount, Errno::enosys, kMountApi},
    Refusal{S::open_tree, Errno::enosys, kMountApi},
    Refusal{S::mount_setattr, Errno::enosys, kMountApi},
};
}  // namespace

std::span<const Refusal> refusals() { return kRefusals; }

std::optional<Refusal> find_refusal(ostd::u64 nr) {
  for (const Refusal& r : kRefusals) {
    if (static_cast<ostd::u64>(r.nr) == nr) return r;
  }
  return std::nullopt;
}

std::string syscall_table_markdown() {
  const SyscallTable& t = syscall_table();
  std::string rows;
  ostd::usize implemented = 0, refused = 0, missing = 0, numbers = 0;
#define FK_ROW(n, name) \
  { \
    ++numbers; \
    std::string state; \
    if (t.get(n) != nullptr) { \
      state = "implemented"; \
      ++implemented; \
    } else if (auto r = find_refusal(n)) { \
      state = ostd::format("refused: {} ({})", ostd::errno_name(r->err), r->why); \
      ++refused; \
    } else { \
      state = "missing (ENOSYS)"; \
      ++missing; \
    } \
    rows += ostd::format("| {} | `{}` | {} |\n", n, #name, state); \
  }
  FK_X86_64_SYSCALLS(FK_ROW)
#undef FK_ROW
  std::string out =
      "# System calls\n\n"
      "Every x86-64 Linux system call number and what the kernel does with it, on both backends: "
      "implemented (with Linux's semantics and errno values), refused as Linux refuses where the "
      "feature is not built in or not allowed in a container (the errno it gives, and why), or "
      "missing (ENOSYS, and umk warns once per number). Generated from the kernel's own table "
      "(`services/syscall/table.cpp`); the unit test `SyscallTable.DocumentMatchesTheTable` keeps "
      "this file equal to it (`SYSCALLS_MD_UPDATE=1 build/host/tests/services_tests "
      "--gtest_filter=SyscallTable.*` rewrites it).\n\n";
  out +=
      ostd::format("{} numbers: {} implemented, {} refused, {} missing.\n\n", numbers, implemented, refused, missing);
  out += "| nr | name | state |\n|---|---|---|\n";
  out += rows;
  return out;
}

}  // namespace services
