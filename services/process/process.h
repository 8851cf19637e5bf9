// services/process/process.h — processes and threads.
//
// A Thread is one user thread: an ostd Task that loops in UserMode::execute and handles what
// comes back (system calls, faults, kernel events). A Process groups threads that share an
// address space, descriptor table, file-system context and signal handlers.
#pragma once

#include <algorithm>
#include <atomic>
#include <array>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <ostd/mm/vm_space.h>
#include <ostd/sync.h>
#include <ostd/task.h>
#include <ostd/types.h>
#include <ostd/user_mode.h>

#include "abi/x86_64/resource.h"
#include "abi/x86_64/time.h"
#include "process/credentials.h"
#include "signal/signal.h"

namespace services {

class FdTable;
class FsContext;
struct RealTimer;
struct PosixTimers;
class MemoryMap;
class Process;

/// A UTS namespace: the host and domain names uname(2) reports. Processes share it until one
/// calls unshare(CLONE_NEWUTS).
struct UtsNamespace {
  ostd::Mutex lock;
  std::string nodename = "umk";
  std::string domainname = "(none)";
  /// Its nsfs inode number (/proc/PID/ns/uts): Linux's PROC_UTS_INIT_INO for the first.
  ostd::u32 inum = 0xEFFFFFFE;
};

/// A NUMA memory policy (set_mempolicy, mbind): MPOL_* mode, its mode flags and node mask.
struct MemPolicy {
  int mode = 0;  // MPOL_DEFAULT
  ostd::u32 flags = 0;
  ostd::u64 nodes = 0;
  int home_node = -1;  // set_mempolicy_home_node (NUMA_NO_NODE: none)
};

class Thread : public std::enable_shared_from_this<Thread> {
 public:
  Thread(std::shared_ptr<Process> process, ostd::i32 tid);
  Thread(const Thread&) = delete;
  Thread& operator=(const Thread&) = delete;
  Thread(Thread&&) = delete;
  Thread& operator=(Thread&&) = delete;
  ~Thread();

  Process& process() const { return *process_; }
  std::shared_ptr<Process> process_shared() const { return process_; }
  ostd::i32 tid() const { return tid_; }
  inline ostd::VmSpace& vm() const;  // below Process (every system call's path: inline)
  ostd::UserMode& user() { return *user_; }
  ostd::UserContext& context() { return user_->context(); }
  /// Lets the user thread (and its hold on the address space) go: the last step before the
  /// thread's exit is reported, so an exited process's memory is free by the time its parent
  /// hears of it (Linux: exit_mm before exit_notify). user() and context() are gone after it.
  void release_user_mode() { user_.reset(); }

  /// Sleeps until cond() is true. Returns ERESTARTSYS (seen as EINTR or a restart) when a
  /// signal became deliverable first, ETIMEDOUT when `timeout_ns` passed.
  template <typename Cond>
  ostd::Result<void> wait_interruptible(ostd::WaitQueue& wq, Cond&& cond,
                                        std::optional<ostd::u64> timeout_ns = std::nullopt) {
    set_waiting_on(&wq);
    bool ok = wq.wait_until([&] { return cond() || signal_pending(); }, timeout_ns);
    set_waiting_on(nullptr);
    if (cond()) return {};
    if (signal_pending()) return ostd::Errno::erestartsys;
    if (!ok) return ostd::Errno::etimedout;
    return {};
  }
  /// Sleeps until cond() is true while the process is stopped: only interrupt() (SIGCONT,
  /// SIGKILL) wakes it early, other pending signals do not; cond() is also re-checked every
  /// 10 ms.
  template <typename Cond>
  void wait_stopped(ostd::WaitQueue& wq, Cond&& cond) {
    set_waiting_on(&wq);
    (void)wq.wait_until([&] { return cond(); }, ostd::u64{10000000});  // 10 ms
    set_waiting_on(nullptr);
  }
  /// Whether a signal is pending and not blocked for this thread.
  inline bool signal_pending() const;
  /// Wakes the thread if it sleeps in wait_interruptible, and kicks it out of user mode.
  void interrupt();
  /// Whether the thread sleeps in the kernel now (wait_interruptible, wait_stopped): /proc's
  /// 'S' rather than 'R'.
  bool sleeping() const {
    ostd::SpinLockGuard g(waiting_lock_);
    return waiting_on_ != nullptr;
  }

  // ---- state owned by the process code ----
  SigSet sigmask{};
  SigSet pending{};
  std::vector<SigInfo> pending_info;
  std::optional<SigSet> saved_sigmask;  // restored after a sigsuspend/pselect handler
  /// The mask sigtimedwait replaced while it waits (Linux's real_blocked): its signals still
  /// count as blocked for the senders, so that they are queued rather than ignored.
  SigSet real_blocked{};
  AltStack altstack{};
  ostd::Vaddr clear_child_tid = 0;
  bool in_syscall = false;  // the last trap was a system call (for restarts)
  // `syscall` sites this thread trapped from lately (by address bits) that the process's memory
  // map has settled (rewritten or found not rewritable: vm/syscall_patch.cpp): no need to ask
  // it again.
  std::array<ostd::Vaddr, 16> syscall_sites_settled{};
  ostd::u64 syscall_nr = 0;
  ostd::Vaddr robust_list = 0;
  /// sched_setscheduler/sched_setattr: the policy (SCHED_OTHER...), the real-time priority and
  /// SCHED_RESET_ON_FORK, inherited by clone; ioprio_set's class and level (0: none set).
  int sched_policy = 0;
  int sched_priority = 0;
  bool sched_reset_on_fork = false;
  int ioprio = 0;
  /// set_mempolicy's policy (inherited by clone).
  MemPolicy mempolicy;
  /// seccomp: 0 off, 1 strict, 2 filter, and the newest filter of the chain (process/seccomp.cpp);
  /// with no_new_privs (prctl), inherited by clone and kept across execve.
  ostd::u8 seccomp_mode = 0;
  std::shared_ptr<const struct SeccompFilter> seccomp_filter;
  bool no_new_privs = false;
  /// ptrace (process/ptrace.h): the tracing state while traced (under process_tree_lock();
  /// `traced` says whether there is one without the lock), and a stop its tracer asked for
  /// (PTRACE_INTERRUPT, a seized clone's first stop).
  std::shared_ptr<struct Tracee> ptrace_state;
  std::atomic<bool> traced{false};
  std::atomic<bool> trap_requested{false};
  bool exiting = false;
  /// This thread's CPU time so far (CLOCK_THREAD_CPUTIME_ID): user mode, and the kernel's work
  /// for it.
  ostd::u64 utime_ns = 0, stime_ns = 0;

  /// Runs the user thread until it exits (the body of its kernel task).
  void run();
  void start(std::unique_ptr<ostd::UserMode> user);
  std::shared_ptr<ostd::Task> task() const { return task_; }

 private:
  std::shared_ptr<Process> process_;
  ostd::i32 tid_;
  std::unique_ptr<ostd::UserMode> user_;
  std::shared_ptr<ostd::Task> task_;
  /// The queue this thread sleeps on (often a local of the sleeping frame). interrupt() from
  /// another task reads and wakes it under waiting_lock_, so the queue cannot go away between
  /// the read and the wake (a preemption there once woke a dead stack object: the fuzzer's
  /// double free in walk()).
  void set_waiting_on(ostd::WaitQueue* wq) {
    ostd::SpinLockGuard g(waiting_lock_);
    waiting_on_ = wq;
  }
  mutable ostd::SpinLock waiting_lock_;
  ostd::WaitQueue* waiting_on_ = nullptr;
};

class Process : public std::enable_shared_from_this<Process> {
 public:
  explicit Process(ostd::i32 pid);
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  Process(Process&&) = delete;
  Process& operator=(Process&&) = delete;
  ~Process();

  ostd::i32 pid() const { return pid_; }

  // Identity and family.
  std::weak_ptr<Process> parent;
  /// The parent's pid, kept with `parent` (under the tree lock) for getppid, which reads it
  /// without a lock as Linux does under RCU.
  std::atomic<ostd::i32> parent_pid{0};
  /// With process_tree_lock() held, like `threads`.
  std::vector<std::shared_ptr<Process>> children;
  ostd::i32 pgid = 0;
  ostd::i32 sid = 0;
  Credentials creds;
  std::string comm;  // the executable's base name (16 bytes max, as Linux)
  int nice = 0;      // -20..19 (setpriority), inherited by fork
  std::string exe_path;
  std::vector<std::string> cmdline;
  /// membarrier(2) registrations of this address space (MEMBARRIER_CMD_REGISTER_* bits); a new
  /// address space (fork, exec) starts without.
  ostd::u32 membarrier_registered = 0;
  /// personality(2)'s persona (ADDR_NO_RANDOMIZE...): inherited by fork, kept across execve.
  ostd::u32 personality = 0;
  /// Where execve put the argument and environment strings, and the auxiliary vector it gave:
  /// /proc/PID/{cmdline,environ} read the strings from the process's memory, as Linux does.
  ostd::Vaddr arg_start = 0, arg_end = 0, env_start = 0, env_end = 0;
  std::vector<ostd::u64> saved_auxv;

  // Resources.
  std::shared_ptr<ostd::VmSpace> vm;
  std::shared_ptr<MemoryMap> mm;
  std::shared_ptr<FdTable> fds;
  std::shared_ptr<FsContext> fs;
  std::shared_ptr<SignalHandlers> handlers;
  /// nullptr: the first UTS namespace (uts_of).
  std::shared_ptr<UtsNamespace> uts;

  // Threads (with process_tree_lock() held).
  std::vector<std::shared_ptr<Thread>> threads;
  /// Guards the pending-signal queues: shared_pending(_info) here and every thread's
  /// pending(_info). Tasks are preemptible: a sender (a timer task, another process) may run
  /// in the middle of a dequeue.
  ostd::SpinLock sig_lock;
  SigSet shared_pending{};
  std::vector<SigInfo> shared_pending_info;

  // Exit and wait.
  enum class State : ostd::u8 { Running, Stopped, Zombie, Reaped };
  State state = State::Running;
  bool group_exiting = false;
  /// PR_GET_DUMPABLE: cleared when the effective or fs ids change (and by PR_SET_DUMPABLE 0),
  /// set again by an execve that changes no credentials; inherited by fork. A process that is
  /// not dumpable may be traced or inspected only with CAP_SYS_PTRACE.
  bool dumpable = true;
  int stop_signal = 0;
  // vfork: the parent sleeps on vfork_done until the child execs or exits.
  ostd::WaitQueue vfork_done;
  bool vfork_released = true;
  int exit_code = 0;  // wait status word (as returned by wait4)
  bool exit_reported = false;
  bool stop_reported = true;
  bool continue_reported = true;
  int exit_signal = 17;         // SIGCHLD unless clone says otherwise
  ostd::WaitQueue child_event;  // parents (and tracers) sleep here in wait4
  /// The threads this process traces (under process_tree_lock()), and who traces this
  /// process's main thread (told of its exit beside the parent).
  std::vector<std::shared_ptr<struct TraceeRef>> tracees;
  std::weak_ptr<Process> leader_tracer;
  ostd::WaitQueue exited;  // woken when the process becomes a zombie
  ostd::u64 start_ns = 0;
  struct Rlimit {
    ostd::u64 cur;
    ostd::u64 max;
  };
  std::array<Rlimit, abi::kNumRlimits> rlimits{};
  ostd::u64 utime_ns = 0, stime_ns = 0, cutime_ns = 0, cstime_ns = 0;
  /// Page faults resolved for user code (ru_minflt, /proc/PID/stat minflt) and the peak resident
  /// size in kB (ru_maxrss), this process's and its reaped children's.
  ostd::u64 min_flt = 0, cmin_flt = 0, maxrss_kb = 0, cmaxrss_kb = 0;
  /// Samples the resident size into maxrss_kb (at getrusage and before the exit drops it).
  void note_rss() {
    if (vm) maxrss_kb = std::max<ostd::u64>(maxrss_kb, vm->mapped_pages() * 4);
  }
  /// mbind's policies of address ranges [start, end), latest first (get_mempolicy(MPOL_F_ADDR)).
  struct RangePolicy {
    ostd::Vaddr start, end;
    MemPolicy policy;
  };
  std::vector<RangePolicy> range_policies;
  /// ITIMER_REAL / alarm(2) state (made on first use; kept across execve, not fork).
  std::shared_ptr<RealTimer> real_timer;
  /// POSIX timers (timer_create), made on first use; not inherited by fork, deleted by execve.
  std::shared_ptr<PosixTimers> posix_timers;
  /// Where signalfd readers and pollers sleep (Linux's sighand->signalfd_wqh): once the process
  /// has made a signalfd, every signal sent to it wakes the queue.
  ostd::WaitQueue signalfd_wq;
  std::atomic<bool> signalfd_used{false};

 private:
  ostd::i32 pid_;
};

inline ostd::VmSpace& Thread::vm() const { return *process_->vm; }

inline bool Thread::signal_pending() const {
  if (exiting || trap_requested.load(std::memory_order_relaxed)) return true;
  ostd::u64 blocked = sigmask.bits;
  return (pending.bits & ~blocked) != 0 || (process_->shared_pending.bits & ~blocked) != 0;
}

/// The lock of the process tree, like Linux's tasklist_lock: every Process's `children` and
/// `threads` are read and changed only with it held (kernel code is preemptible: a fork, an exit
/// and a kill run in different tasks). A SpinLock: nothing may sleep under it — walks that do
/// more take a copy (threads_of, children_of). PidTable has a lock of its own.
ostd::SpinLock& process_tree_lock();
std::vector<std::shared_ptr<Thread>> threads_of(Process& p);
std::vector<std::shared_ptr<Process>> children_of(Process& p);
/// p.parent, read under the lock (exit reparents children to init from another task).
std::shared_ptr<Process> parent_of(const Process& p);

/// Whose usage a struct rusage reports: the process's own (getrusage RUSAGE_SELF), that of its
/// waited-for descendants (RUSAGE_CHILDREN), or both summed (what wait4 reports of a child).
enum class RusageOf { Self, Children, Both };
abi::Rusage rusage_of(const Process& p, RusageOf which);

/// The table of live processes and threads (pid/tid namespace, one for now). Each call is
/// atomic (an internal lock).
class PidTable {
 public:
  ostd::i32 alloc_id();
  /// Whether `id` is a live process's or thread's (clone3's set_tid asks before taking it).
  bool in_use(ostd::i32 id) const;
  void add_process(const std::shared_ptr<Process>& p);
  void remove_process(ostd::i32 pid);
  std::shared_ptr<Process> process(ostd::i32 pid) const;
  void add_thread(const std::shared_ptr<Thread>& t);
  void remove_thread(ostd::i32 tid);
  std::shared_ptr<Thread> thread(ostd::i32 tid) const;
  std::vector<std::shared_ptr<Process>> all_processes() const;
  /// Tasks in the table, as Linux's nr_threads counts them: every thread, and a process whose
  /// threads are gone (a zombie) until it is reaped.
  ostd::usize task_count() const;
  /// Live threads whose process's real uid is `uid` (RLIMIT_NPROC counts these).
  ostd::usize threads_of_uid(ostd::u32 uid) const;
  /// Forgets every entry and starts again at 1 (a new boot of the kernel in the same host
  /// process: fuzzers and tests).
  void reset();

 private:
  mutable ostd::SpinLock lock_;
  ostd::i32 next_ = 1;
  std::map<ostd::i32, std::shared_ptr<Process>> processes_;
  std::map<ostd::i32, std::weak_ptr<Thread>> threads_;
};

PidTable& pid_table();

/// The kernel-wide task limit (/proc/sys/kernel/threads-max): Linux's default, a task per 32
/// pages of memory (at least 20), so a fork bomb ends in EAGAIN with the machine's memory, and
/// the host processes and threads behind guest tasks stay bounded by --mem.
ostd::usize max_threads();

}  // namespace services
