// exit, exit_group, wait4, waitid, and what happens when threads and processes end.
#include <algorithm>
#include <iterator>
#include <vector>

#include <ostd/log.h>
#include <ostd/time.h>
#include <ostd/mm/io.h>

#include "fs/file.h"
#include "fs/vfs.h"
#include "process/internal.h"
#include "process/ptrace.h"
#include "syscall/table.h"
#include "vm/memory_map.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;

namespace {

constexpr ostd::Logger kLog{"exit"};
constexpr int kWNohang = 1, kWUntraced = 2, kWExited = 4, kWContinued = 8, kWNowait = 0x01000000;
constexpr int kWNothread = 0x20000000, kWAll = 0x40000000, kWClone = static_cast<int>(0x80000000u);

void release_resources(Process& p) {
  stop_real_timer(p);
  ptrace_release_tracees(p);
  delete_posix_timers(p);
  sysv_exit(p);
  // A table shared by CLONE_FILES stays open for the other sharers.
  if (p.fds && p.fds.use_count() == 1) p.fds->close_all(&p);
  p.fds.reset();
  release_record_locks(p.pid());
  p.fs.reset();
}

struct Releases {
  ostd::SpinLock lock;
  std::vector<std::pair<std::shared_ptr<MemoryMap>, std::shared_ptr<ostd::VmSpace>>> queue;
  bool task_running = false;
};

Releases& releases() {
  static Releases r;
  return r;
}

// The release task: drops queued address spaces until none is left.
void run_releases() {
  Releases& r = releases();
  for (;;) {
    std::pair<std::shared_ptr<MemoryMap>, std::shared_ptr<ostd::VmSpace>> next;
    {
      ostd::SpinLockGuard g(r.lock);
      if (r.queue.empty()) {
        r.task_running = false;
        return;
      }
      next = std::move(r.queue.front());
      r.queue.erase(r.queue.begin());
    }
    next.first.reset();
    next.second.reset();
  }
}

// CLD_EXITED or CLD_KILLED for a wait status word.
int exit_cld_code(int status) { return (status & 0x7f) == 0 ? 1 : 2; }

// The siginfo of signal `sig` telling that `child` ended.
SigInfo exit_siginfo(int sig, const Process& child) {
  SigInfo info = kernel_siginfo(sig);
  info.si_code = exit_cld_code(child.exit_code);
  info.si_pid = child.pid();
  info.si_status = info.si_code == 1 ? (child.exit_code >> 8) & 0xff : child.exit_code & 0x7f;
  return info;
}

void notify_parent(Process& child) {
  auto parent = parent_of(child);
  if (!parent) return;
  bool auto_reap = false;
  if (child.exit_signal == kSigChld && parent->handlers) {
    ostd::MutexGuard g(parent->handlers->lock);
    const SigAction& act = parent->handlers->actions.at(kSigChld - 1);
    auto_reap = act.handler == kSigIgn || (act.flags & kSaNocldwait) != 0;
  }
  if (child.exit_signal > 0 && !auto_reap) {
    send_signal_to_process(*parent, child.exit_signal, exit_siginfo(child.exit_signal, child));
  }
  if (auto_reap) {
    child.state = Process::State::Reaped;
    unlink_child(*parent, child);
  }
  (void)parent->child_event.wake_all();
}

// A tracer other than the parent hears of its tracee's death too (wait reports it to both).
void notify_tracer(Process& p) {
  std::shared_ptr<Process> tracer;
  {
    ostd::SpinLockGuard g(process_tree_lock());
    tracer = p.leader_tracer.lock();
  }
  if (!tracer || tracer == parent_of(p)) return;
  send_signal_to_process(*tracer, kSigChld, exit_siginfo(kSigChld, p));
  (void)tracer->child_event.wake_all();
}

}  // namespace

void release_address_space(std::shared_ptr<MemoryMap> mm, std::shared_ptr<ostd::VmSpace> vm) {
  if (!mm && !vm) return;
  Releases& r = releases();
  bool start = false;
  {
    ostd::SpinLockGuard g(r.lock);
    r.queue.emplace_back(std::move(mm), std::move(vm));
    start = !r.task_running;
    if (start) r.task_running = true;
  }
  if (!start) return;
  // Only worth a task when user code runs beside the kernel (the teardown then overlaps the
  // parent or the new image); on one CPU it would only add a task switch: here and now.
  if (!ostd::UserMode::runs_beside_kernel() ||
      ostd::Task::spawn(run_releases, ostd::TaskOptions{"release", 0}).is_error()) {
    run_releases();
  }
}

bool address_space_releases_pending() {
  Releases& r = releases();
  ostd::SpinLockGuard g(r.lock);
  return r.task_running;
}

bool wait_for_address_space_releases() {
  if (!address_space_releases_pending()) return false;
  while (address_space_releases_pending()) ostd::Task::sleep_for_ns(ostd::kNsPerMs / 10);
  return true;
}

namespace {

void process_exit(Process& p) {
  p.note_rss();
  // The address space goes last, in a task of its own that runs after the parent's.
  std::shared_ptr<MemoryMap> mm = std::move(p.mm);
  std::shared_ptr<ostd::VmSpace> vm = std::move(p.vm);
  release_resources(p);
  // Orphans go to init (pid 1), which reaps them.
  auto init = pid_table().process(1);
  std::vector<std::shared_ptr<Process>> orphans;  // released after unlocking
  {
    ostd::SpinLockGuard g(process_tree_lock());
    orphans.swap(p.children);
    for (auto& c : orphans) {
      if (init && init.get() != &p) {
        c->parent = init;
        c->parent_pid.store(init->pid(), std::memory_order_relaxed);
        init->children.push_back(c);
        if (c->state == Process::State::Zombie) (void)init->child_event.wake_all();
      }
    }
  }
  p.state = Process::State::Zombie;
  notify_parent(p);
  notify_tracer(p);
  p.vfork_released = true;
  (void)p.vfork_done.wake_all();
  file_state_changed(p.exited);  // pidfds poll readable now
  release_address_space(std::move(mm), std::move(vm));
}

bool matches(const Process& self, const Process& child, ostd::i32 pid) {
  if (pid > 0) return child.pid() == pid;
  if (pid == 0) return child.pgid == self.pgid;
  if (pid == -1) return true;
  return child.pgid == -pid;
}

struct WaitResult {
  ostd::i32 pid = 0;
  int status = 0;
  int code = 0;  // CLD_* for waitid
  std::shared_ptr<Process> who;
  std::shared_ptr<TraceeRef> traced;  // a tracee's stop or exit, reported to its tracer
};

bool matches_tracee(const Process& self, const TraceeRef& r, ostd::i32 pid) {
  if (pid > 0) return r.tid == pid;
  if (pid == 0) return r.process->pgid == self.pgid;
  if (pid == -1) return true;
  return r.process->pgid == -pid;
}

// Looks for a reportable child; ECHILD when no child matches at all.
Result<std::optional<WaitResult>> find_waitable(Process& self, ostd::i32 pid, int options) {
  bool any = false;
  ostd::SpinLockGuard g(process_tree_lock());
  for (auto& c : self.children) {
    if (!matches(self, *c, pid)) continue;
    any = true;
    if (c->state == Process::State::Zombie && (options & kWExited) != 0) {
      WaitResult r{c->pid(), c->exit_code, exit_cld_code(c->exit_code), c, nullptr};
      return std::optional<WaitResult>(r);
    }
    if (c->state == Process::State::Stopped && (options & kWUntraced) != 0 && !c->stop_reported) {
      WaitResult r{c->pid(), (c->stop_signal << 8) | 0x7f, 5, c, nullptr};  // CLD_STOPPED
      return std::optional<WaitResult>(r);
    }
    if ((options & kWContinued) != 0 && !c->continue_reported) {
      WaitResult r{c->pid(), 0xffff, 6, c, nullptr};  // CLD_CONTINUED
      return std::optional<WaitResult>(r);
    }
  }
  // Tracees: their ptrace stops, and the death of one whose parent is another process.
  for (auto& r : self.tracees) {
    if (r->exit_reported || !matches_tracee(self, *r, pid)) continue;
    any = true;
    const Process& tp = *r->process;
    if (r->tid != tp.pid() && (options & kWExited) != 0) {
      // A thread other than the main one: its own exit.
      ostd::SpinLockGuard sg(r->state->lock);
      if (r->state->exited) {
        WaitResult w{r->tid, r->state->exit_status, exit_cld_code(r->state->exit_status), nullptr, r};
        return std::optional<WaitResult>(w);
      }
    }
    if (tp.state == Process::State::Zombie || tp.state == Process::State::Reaped) {
      if (r->tid != tp.pid() || (options & kWExited) == 0) continue;
      if (tp.parent.lock().get() == &self) continue;  // reported as a child
      WaitResult w{r->tid, tp.exit_code, exit_cld_code(tp.exit_code), nullptr, r};
      return std::optional<WaitResult>(w);
    }
    ostd::SpinLockGuard sg(r->state->lock);
    if (r->state->stop != Tracee::Stop::None && !r->state->reported) {
      WaitResult w{r->tid, r->state->status, 4, nullptr, r};  // CLD_TRAPPED
      return std::optional<WaitResult>(w);
    }
  }
  if (!any) return Errno::echild;
  return std::optional<WaitResult>();
}

void consume(Process& self, const WaitResult& r, bool nowait) {
  if (nowait) return;
  if (r.traced) {
    if (r.code == 4) {
      ostd::SpinLockGuard g(r.traced->state->lock);
      r.traced->state->reported = true;
    } else {
      ostd::SpinLockGuard g(process_tree_lock());
      r.traced->exit_reported = true;
      std::erase(self.tracees, r.traced);
    }
    return;
  }
  Process& c = *r.who;
  if (c.state == Process::State::Zombie) {
    c.state = Process::State::Reaped;
    self.cutime_ns += c.utime_ns + c.cutime_ns;
    self.cstime_ns += c.stime_ns + c.cstime_ns;
    self.cmin_flt += c.min_flt + c.cmin_flt;
    self.cmaxrss_kb = std::max({self.cmaxrss_kb, c.maxrss_kb, c.cmaxrss_kb});
    unlink_child(self, c);
    // A child that was also our tracee is gone for the tracer as well: with the reference to
    // its main thread left behind, a later wait would sleep on it instead of answering ECHILD
    // (strace's last wait4). Its other threads' exits are still to be reported on their own.
    std::vector<std::shared_ptr<TraceeRef>> stale;  // released after unlocking
    ostd::SpinLockGuard g(process_tree_lock());
    auto split = std::stable_partition(self.tracees.begin(), self.tracees.end(),
                                       [&](const auto& t) { return t->process.get() != &c || t->tid != c.pid(); });
    std::move(split, self.tracees.end(), std::back_inserter(stale));
    self.tracees.erase(split, self.tracees.end());
  } else if (c.state == Process::State::Stopped) {
    c.stop_reported = true;
  } else {
    c.continue_reported = true;
  }
}

Result<WaitResult> do_wait(Thread& self, ostd::i32 pid, int options) {
  Process& p = self.process();
  for (;;) {
    auto found = TRY(find_waitable(p, pid, options));
    if (found) {
      consume(p, *found, (options & kWNowait) != 0);
      return *found;
    }
    if ((options & kWNohang) != 0) return WaitResult{};
    TRY(self.wait_interruptible(p.child_event, [&] {
      auto f = find_waitable(p, pid, options);
      return f.is_error() || f.value().has_value();
    }));
  }
}

Result<long> sys_wait4(Thread& self, const SyscallArgs& a) {
  ostd::i32 pid = a.as_int(0);
  int options = a.as_int(2);
  if ((options & ~(kWNohang | kWUntraced | kWContinued | kWNothread | kWAll | kWClone)) != 0) {
    return Errno::einval;
  }
  WaitResult r = TRY(do_wait(self, pid, options | kWExited));
  if (r.pid != 0) {
    if (a[1] != 0) TRY(ostd::UserPtr<ostd::i32>(a[1]).write(self.vm(), r.status));
    // The child's usage with its own waited-for children's, as Linux's wait_task_zombie (and
    // _stopped/_continued) report getrusage(child, RUSAGE_BOTH).
    if (a[3] != 0) {
      const Process* child = r.who ? r.who.get() : r.traced ? r.traced->process.get() : nullptr;
      abi::Rusage ru = child != nullptr ? rusage_of(*child, RusageOf::Both) : abi::Rusage{};
      TRY(ostd::UserPtr<abi::Rusage>(a[3]).write(self.vm(), ru));
    }
  }
  return r.pid;
}

Result<long> report_waitid(Thread& self, ostd::Vaddr infop, const WaitResult& r);

Result<long> sys_waitid(Thread& self, const SyscallArgs& a) {
  constexpr int kPAll = 0, kPPid = 1, kPPgid = 2, kPPidfd = 3;
  int which = a.as_int(0);
  ostd::i32 id = a.as_int(1);
  int options = a.as_int(3);
  if ((options & ~(kWNohang | kWUntraced | kWExited | kWContinued | kWNowait | kWNothread | kWAll | kWClone)) != 0 ||
      (options & (kWExited | kWUntraced | kWContinued)) == 0) {
    return Errno::einval;
  }
  ostd::i32 pid = -1;
  if (which == kPPid) {
    if (id <= 0) return Errno::einval;
    pid = id;
  } else if (which == kPPgid) {
    if (id < 0) return Errno::einval;
    pid = id == 0 ? 0 : -id;
  } else if (which == kPPidfd) {
    auto [target, nonblocking] = TRY(pidfd_process(self, id));
    pid = target->pid();
    // A nonblocking pidfd makes the wait nonblocking, with EAGAIN for nothing to report.
    if (nonblocking && (options & kWNohang) == 0) {
      WaitResult r = TRY(do_wait(self, pid, options | kWNohang));
      if (r.pid == 0) return Errno::eagain;
      return report_waitid(self, a[2], r);
    }
  } else if (which != kPAll) {
    return Errno::einval;
  }
  WaitResult r = TRY(do_wait(self, pid, options));
  return report_waitid(self, a[2], r);
}

Result<long> report_waitid(Thread& self, ostd::Vaddr infop, const WaitResult& r) {
  if (infop != 0) {
    SigInfo info{};
    if (r.pid != 0) {
      info.si_signo = kSigChld;
      info.si_code = r.code;
      info.si_pid = r.pid;
      info.si_status = r.code == 1   ? (r.status >> 8) & 0xff
                       : r.code == 2 ? r.status & 0x7f
                       : r.code == 5 ? (r.status >> 8) & 0xff
                       : r.code == 4 ? (r.status >> 8) & 0xffff
                                     : kSigCont;
    }
    TRY(ostd::UserPtr<SigInfo>(infop).write(self.vm(), info));
  }
  return 0;
}

Result<long> sys_exit(Thread& self, const SyscallArgs& a) {
  ptrace_exit(self, (a.as_int(0) & 0xff) << 8);
  Process& p = self.process();
  self.exiting = true;
  ostd::SpinLockGuard g(process_tree_lock());
  if (p.threads.size() <= 1) p.exit_code = (a.as_int(0) & 0xff) << 8;
  return 0;
}

Result<long> sys_exit_group(Thread& self, const SyscallArgs& a) {
  ptrace_exit(self, (a.as_int(0) & 0xff) << 8);
  group_exit(self.process(), (a.as_int(0) & 0xff) << 8);
  return 0;
}

}  // namespace

void group_exit(Process& p, int status) {
  if (!p.group_exiting) {
    p.group_exiting = true;
    p.exit_code = status;
  }
  ostd::SpinLockGuard g(process_tree_lock());
  for (auto& t : p.threads) {
    t->exiting = true;
    t->interrupt();
  }
}

void unlink_child(Process& parent, const Process& child) {
  std::vector<std::shared_ptr<Process>> gone;  // a last reference is dropped after unlocking
  {
    ostd::SpinLockGuard g(process_tree_lock());
    auto& kids = parent.children;
    auto split = std::stable_partition(kids.begin(), kids.end(), [&](const auto& k) { return k.get() != &child; });
    std::move(split, kids.end(), std::back_inserter(gone));
    kids.erase(split, kids.end());
  }
  pid_table().remove_process(child.pid());
}

void thread_exit(Thread& t) {
  Process& p = t.process();
  if (t.clear_child_tid != 0 && p.vm) {
    (void)ostd::UserPtr<ostd::u32>(t.clear_child_tid).write(*p.vm, 0);
    futex_wake_address(p, t.clear_child_tid, 1);
  }
  std::shared_ptr<Thread> keep = t.shared_from_this();
  ptrace_thread_gone(t);
  t.release_user_mode();
  bool last = false;
  {
    ostd::SpinLockGuard g(process_tree_lock());
    auto& threads = p.threads;
    threads.erase(std::remove(threads.begin(), threads.end(), keep), threads.end());
    last = threads.empty();
  }
  pid_table().remove_thread(t.tid());
  if (last) {
    kLog.debug("pid {} exits with status {:#x}", p.pid(), p.exit_code);
    process_exit(p);
  }
}

void register_exit_wait_syscalls(SyscallTable& t) {
  t.set(x86_64::Sysno::exit, &sys_exit);
  t.set(x86_64::Sysno::exit_group, &sys_exit_group);
  t.set(x86_64::Sysno::wait4, &sys_wait4);
  t.set(x86_64::Sysno::waitid, &sys_waitid);
}

}  // namespace services
