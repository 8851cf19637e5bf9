// services/process/internal.h — functions shared by the process, signal and syscall code.
#pragma once

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ostd/bytes.h>
#include <ostd/error.h>
#include <ostd/user_mode.h>

#include "process/process.h"

namespace services {
class Dentry;
class File;
}  // namespace services

namespace services {

/// Orders a signal to many processes (kill of a group, of a session's, of all) against fork:
/// the kill picks its targets and signals them holding it, and a fork links its child holding
/// it, after checking that no signal came for the forking thread meanwhile (else the fork is
/// undone and restarts after the signal, as Linux's copy_process does). So a group kill reaches
/// either the parent before the fork or both after it: no child escapes it.
ostd::Mutex& group_signal_lock();

/// Handles a CPU exception of the thread's user code (page fault → demand paging or SIGSEGV).
void handle_exception(Thread& t, const ostd::CpuException& e);
/// At a trapped system call: lets the memory map rewrite its site (vm/syscall_patch.cpp).
void consider_syscall_site(Thread& t);
/// Runs the handler for the system call in the thread's context (see syscall/dispatch.cpp).
void dispatch_syscall(Thread& t);
/// Delivers pending, unblocked signals: default actions or a handler frame. Also finishes
/// syscall restarts.
void deliver_signals(Thread& t);
/// Ends the thread (after its run loop); the last thread ends the process.
void thread_exit(Thread& t);
/// Makes every thread of p exit; `status` is the wait status of the process.
void group_exit(Process& p, int status);
/// Takes `child` out of `parent`'s children and out of the pid table: reaped, or never started.
void unlink_child(Process& parent, const Process& child);
/// A page fault of `faulting` found no free memory: kills the process that holds the most
/// (never init) with SIGKILL and waits for it to go. False when there is nobody else to kill
/// (the faulting process is the biggest, or the only one).
bool oom_kill_for(Thread& faulting);
/// Creates a thread's kernel task and starts it, with `fpu` as its FPU state when given (clone
/// copies the parent's; a new program starts with the initial state).
ostd::Result<void> start_thread(const std::shared_ptr<Thread>& t, const ostd::UserContext& ctx,
                                const std::optional<ostd::FpuState>& fpu = std::nullopt);

/// Drops an address space that no thread runs in any more (an exited process's, or the image
/// exec replaced) in a kernel task of its own, so that the parent's wait or the new image does
/// not wait for its teardown (on the host backend: the stub checked and kept as a spare, tens
/// of microseconds). In that task's own order, so the frames come back soon; out of memory,
/// oom_kill_for waits for pending teardowns first.
void release_address_space(std::shared_ptr<MemoryMap> mm, std::shared_ptr<ostd::VmSpace> vm);
/// Whether address spaces wait in release_address_space's queue.
bool address_space_releases_pending();
/// Out of memory: sleeps until the queued address spaces are torn down (their frames free).
/// False when none were queued (retrying cannot help).
bool wait_for_address_space_releases();
/// Runs `attempt` (returning a Result) and, when it ran out of memory while exited processes'
/// address spaces were still being torn down, once more after them.
template <typename F>
auto retry_after_address_space_releases(F&& attempt) {
  auto r = attempt();
  if (r.is_error() && r.error() == ostd::Errno::enomem && wait_for_address_space_releases()) {
    r = attempt();
  }
  return r;
}

/// Replaces p's program (execve). On failure p is unchanged. `file`: the program when execveat
/// named it by a descriptor (`path` is then its /dev/fd/N name), else `path` is looked up.
ostd::Result<void> exec_program(Thread& self, const std::string& path, std::vector<std::string> argv,
                                std::vector<std::string> envp, std::shared_ptr<Dentry> file = nullptr);
/// Loads the first program into a fresh process (pid 1) and starts it.
ostd::Result<std::shared_ptr<Process>> spawn_init(const std::vector<std::string>& argv);

/// Attaches the memory map's fault handler to its VmSpace (for kernel user copies).
void attach_fault_handler(const std::shared_ptr<class MemoryMap>& mm);

/// Wakes up to n futex waiters on `addr` in p's address space; returns how many woke.
int futex_wake_address(Process& p, ostd::Vaddr addr, int n);

/// Nanoseconds since the kernel booted (the first call marks boot; kernel_main makes it).
ostd::u64 uptime_ns();

/// Charges user and system time to the process (getrusage, times, /proc) and runs down its
/// ITIMER_VIRTUAL (user time, SIGVTALRM) and ITIMER_PROF (user + system, SIGPROF).
/// Charges CPU time to the thread and its process (getrusage, times, the CPU-time clocks) and
/// runs down the process's ITIMER_VIRTUAL/PROF.
void account_cpu_time(Thread& t, ostd::u64 user_ns, ostd::u64 sys_ns);
/// User-mode time after which an armed ITIMER_VIRTUAL or ITIMER_PROF of `p` expires (~0 when
/// none is armed): a thread that runs that long without entering the kernel is called back so
/// that the timer fires on time.
ostd::u64 cpu_timer_budget_ns(const Process& p);

/// A new thread's scheduling policy, priority and I/O priority from its creator (with
/// SCHED_RESET_ON_FORK: back to SCHED_OTHER, and a negative nice to 0); also its seccomp
/// filters and no_new_privs.
void inherit_scheduling(const Thread& parent, Thread& child);

/// The seccomp answer to system call `nr` of a thread in seccomp mode (process/seccomp.cpp):
/// nullopt runs the call; a value skips it and is its return register (an errno, or after a
/// kill or a trap the signal to come).
std::optional<long> seccomp_verdict(Thread& t, ostd::u64 nr, const struct SyscallArgs& args);
/// prctl PR_GET_SECCOMP (`set` false) and PR_SET_SECCOMP (mode, filter program).
ostd::Result<long> prctl_seccomp(Thread& t, bool set, ostd::u64 mode, ostd::u64 arg);

/// copy_struct_from_user: a structure of which the caller gives `size` bytes (an older caller
/// fewer, a newer one more). Bytes past sizeof(T) must be zero (E2BIG; checked first, as
/// Linux does), missing ones read as zero. The caller bounds `size` (at most a page).
template <typename T>
ostd::Result<T> read_sized_struct(ostd::VmSpace& vm, ostd::Vaddr at, ostd::u64 size) {
  for (ostd::u64 off = sizeof(T); off < size;) {
    std::array<ostd::u8, 256> chunk{};
    const ostd::usize want = std::min<ostd::u64>(chunk.size(), size - off);
    const ostd::usize got = TRY(vm.read_bytes_partial(at + off, std::span<ostd::u8>(chunk).first(want)));
    if (std::ranges::any_of(std::span<const ostd::u8>(chunk).first(got), [](ostd::u8 b) { return b != 0; })) {
      return ostd::Errno::e2big;
    }
    if (got < want) return ostd::Errno::efault;
    off += got;
  }
  std::array<ostd::u8, sizeof(T)> raw{};
  TRY(vm.read_bytes(at, std::span<ostd::u8>(raw).first(std::min<ostd::u64>(size, sizeof(T)))));
  return ostd::load_from<T>(std::span<const ostd::u8>(raw), 0).value();
}

/// The nsfs inode number of the next new namespace.
ostd::u32 next_ns_inum();
/// The entries of /proc/PID/ns, what each reads ("uts:[4026531838]"), and the namespace file
/// opening one gives (nullptr for an unknown name).
std::vector<std::string> namespace_names();
ostd::Result<std::string> namespace_link(const Process& p, std::string_view name);
std::shared_ptr<File> open_namespace(const Process& p, std::string_view name);

/// Installs a pidfd for p (pidfd_open, CLONE_PIDFD), close-on-exec; `flags` may hold
/// O_NONBLOCK.
ostd::Result<int> install_pidfd(Thread& self, const std::shared_ptr<Process>& p, ostd::u32 flags);
/// The process pidfd `fd` refers to, and whether the pidfd is nonblocking (EBADF when fd is
/// not a pidfd).
ostd::Result<std::pair<std::shared_ptr<Process>, bool>> pidfd_process(Thread& self, int fd);
/// ptrace_may_access as far as credentials go: the same process, the same uids and gids all
/// through, or CAP_SYS_PTRACE (kcmp, process_vm_*, pidfd_getfd, get_robust_list).
bool ptrace_may_access(const Process& me, const Process& target);
/// kill(2)'s permission rule (check_kill_permission): may `me` send `sig` to `target`?
bool may_signal(const Process& me, const Process& target, int sig);

/// The System V IPC limits as /proc/sys/kernel shows them (msgmax, msgmnb, msgmni, sem, shmall,
/// shmmax, shmmni): the ones ipc/sysv.cpp enforces.
std::vector<std::pair<std::string_view, std::string>> sysv_sysctls();
/// Drops every System V IPC object (the machine shuts down: a new boot in the same host
/// process, as the fuzzers do, starts without them).
void sysv_shutdown();
/// Drops every POSIX message queue (ipc/mqueue.cpp), for the same reason.
void mqueue_shutdown();
/// Undoes the process's SEM_UNDO semaphore adjustments (at exit).
void sysv_exit(Process& p);
/// /proc/sysvipc/sem and /proc/sysvipc/msg.
std::string sysvipc_sem_text();
std::string sysvipc_msg_text();
std::string sysvipc_shm_text();

/// The UTS namespace p is in, and the first one (init's).
UtsNamespace& uts_of(const Process& p);
UtsNamespace& first_uts();
/// A new UTS namespace with p's names (unshare and clone with CLONE_NEWUTS).
std::shared_ptr<UtsNamespace> copy_uts_namespace(const Process& p);

/// Ends the process's ITIMER_REAL task (on exit).
void stop_real_timer(Process& p);
/// Deletes the process's POSIX timers (execve, exit).
void delete_posix_timers(Process& p);
/// Runs down the process's CPU-time POSIX timers (account_cpu_time calls it).
void run_cpu_posix_timers(Thread& t, ostd::u64 user_ns, ostd::u64 sys_ns);
/// CPU time after which the first CPU-time POSIX timer of the process expires (~0: none).
ostd::u64 posix_cpu_timer_budget_ns(const Process& p);
/// A timer's signal was taken from the queue: fills in its si_overrun and lets the timer
/// queue its next one (signal/signal.cpp calls it).
void posix_timer_signal_taken(Process& p, SigInfo& info);
/// Wakes the process's signalfd readers (the signal senders call it).
void signalfd_notify(Process& p);

/// /proc/sys/kernel/randomize_va_space: 2 (stack, mmap base, PIE base, vDSO and heap placed at
/// random) unless the kernel command line has `norandmaps` (0, as Linux).
int randomize_va_space();

/// The release uname(2), /proc/version and /proc/sys/kernel/osrelease give.
inline constexpr std::string_view kKernelRelease = "6.1.0-framekernel";

/// Kernel pseudo-random numbers (getrandom, /dev/urandom, AT_RANDOM).
ostd::u64 next_random();

/// Default resource limits for the first process.
void init_rlimits(Process& p);

class SyscallTable;
void register_fork_syscalls(SyscallTable& t);
/// prctl's capability options (PR_{GET,SET}_KEEPCAPS, PR_CAPBSET_*, PR_*_SECUREBITS,
/// PR_CAP_AMBIENT); EINVAL for any other option.
ostd::Result<long> credential_prctl(Thread& t, int option, ostd::u64 arg2, ostd::u64 arg3);
/// The uid/gid/groups/capability calls (credentials.cpp).
void register_credential_syscalls(SyscallTable& t);

/// The shell-style exit status for a wait status (128+sig for a signal death).
int shell_status(int wait_status);

}  // namespace services
