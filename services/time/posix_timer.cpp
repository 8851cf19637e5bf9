// POSIX per-process timers: timer_create, timer_settime, timer_gettime, timer_getoverrun and
// timer_delete.
//
// The timers of one process on the wall clocks (REALTIME, MONOTONIC, BOOTTIME, TAI) share a
// kernel task that sleeps until the earliest deadline and sends their signals (timer callbacks
// run in interrupt context and may not send signals); the timers on CPU-time clocks run down as
// account_cpu_time charges time to the process or thread. A timer's signal is queued once:
// expirations while it is still pending count as overruns, reported in si_overrun when the
// signal is taken and by timer_getoverrun afterwards, as Linux does.
#include <algorithm>
#include <limits>
#include <map>
#include <vector>

#include <ostd/mm/io.h>
#include <ostd/sync.h>
#include <ostd/task.h>
#include <ostd/time.h>

#include "abi/x86_64/resource.h"
#include "process/internal.h"
#include "process/process.h"
#include "signal/signal.h"
#include "syscall/table.h"
#include "time/clock.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::i32;
using ostd::u64;
using ostd::usize;

namespace {

enum class Kind : ostd::u8 { Wall, ProcessCpu, ThreadCpu };

struct PosixTimer {
  int clock = 0;
  Kind kind = Kind::Wall;
  i32 cpu_id = 0;  // the process or thread whose CPU time a CPU-clock timer counts
  int notify = kSigevSignal;
  int signo = 0;
  u64 value = 0;     // sigev_value
  i32 target = 0;    // SIGEV_THREAD_ID: the thread the signal goes to
  u64 deadline = 0;  // Wall: monotonic ns; CPU clocks: CPU time (ns) left. 0: disarmed.
  u64 interval = 0;
  int overrun = 0;       // expirations while the signal waited in the queue
  int last_overrun = 0;  // timer_getoverrun: the count the last taken signal carried
  bool queued = false;   // its signal is pending
};

}  // namespace

struct PosixTimers {
  ostd::Mutex lock;
  std::map<int, PosixTimer> timers;
  int next_id = 0;
  // Armed CPU-clock timers: account_cpu_time looks here before it takes the lock.
  std::atomic<usize> cpu_armed{0};
  ostd::WaitQueue changed;
  std::atomic<u64> generation{0};
  std::atomic<bool> stop{false};
  bool task_started = false;

  void recount_cpu() {
    usize n = 0;
    for (auto& [id, tm] : timers) n += tm.kind != Kind::Wall && tm.deadline != 0 ? 1 : 0;
    cpu_armed = n;
  }
  void kick() {
    ++generation;
    changed.wake_all();
  }
};

namespace {

struct Firing {
  int id;
  int signo;
  u64 value;
  i32 target;  // 0: the process
};

// One expiration of `tm` at `now` (on its own clock; for CPU clocks `late` is how far past the
// deadline the clock ran). Moves a periodic timer on and counts missed periods as overruns.
void expire(int id, PosixTimer& tm, u64 late, std::vector<Firing>& out) {
  u64 missed = 0;
  if (tm.interval == 0) {
    tm.deadline = 0;
  } else {
    const PeriodStep step = step_period(late, tm.interval);
    missed = step.expirations - 1;
    tm.deadline = tm.kind == Kind::Wall ? saturating_add(tm.deadline, step.advance) : step.advance - late;
  }
  if (tm.notify == kSigevNone) return;
  auto add = [](int& n, u64 k) {
    n = static_cast<int>(std::min<u64>(static_cast<u64>(n) + k, std::numeric_limits<int>::max()));
  };
  if (tm.queued) {
    add(tm.overrun, missed + 1);
    return;
  }
  add(tm.overrun, missed);
  tm.queued = true;
  out.push_back(Firing{id, tm.signo, tm.value, (tm.notify & kSigevThreadId) != 0 ? tm.target : 0});
}

// Sends what expire() collected (without the timers' lock: sending takes other locks).
void send(Process& p, PosixTimers& pt, const std::vector<Firing>& firings) {
  for (const Firing& f : firings) {
    SigInfo info{};
    info.si_signo = f.signo;
    info.si_code = kSiTimer;
    info.si_pid = f.id;  // si_timerid
    info.si_uid = 0;     // si_overrun, filled in when the signal is taken
    set_si_value(info, f.value);
    bool queued = false;
    if (f.target != 0) {
      auto th = pid_table().thread(f.target);
      if (th && &th->process() == &p) queued = send_signal_to_thread(*th, f.signo, info);
    } else {
      queued = send_signal_to_process(p, f.signo, info);
    }
    if (!queued) {
      // Ignored (or its thread is gone): nothing waits in the queue for it.
      ostd::MutexGuard g(pt.lock);
      auto it = pt.timers.find(f.id);
      if (it != pt.timers.end()) it->second.queued = false;
    }
  }
}

void wall_timer_task(std::weak_ptr<Process> weak, std::shared_ptr<PosixTimers> pt) {
  for (;;) {
    std::vector<Firing> firings;
    u64 next = ~u64{0};
    u64 gen = 0;
    {
      ostd::MutexGuard g(pt->lock);
      if (pt->stop) return;
      gen = pt->generation;
      const u64 now = ostd::monotonic_ns();
      for (auto& [id, tm] : pt->timers) {
        if (tm.kind != Kind::Wall || tm.deadline == 0) continue;
        if (tm.deadline <= now) expire(id, tm, now - tm.deadline, firings);
        if (tm.deadline != 0) next = std::min(next, tm.deadline);
      }
    }
    if (!firings.empty()) {
      auto p = weak.lock();
      if (!p) return;
      send(*p, *pt, firings);
      continue;
    }
    const u64 now = ostd::monotonic_ns();
    std::optional<u64> wait;
    if (next != ~u64{0}) wait = next > now ? next - now : 0;
    (void)pt->changed.wait_until([&] { return pt->generation != gen || pt->stop; }, wait);
  }
}

Result<PosixTimers*> timers_of(Process& p) {
  if (!p.posix_timers) p.posix_timers = std::make_shared<PosixTimers>();
  PosixTimers& pt = *p.posix_timers;
  if (!pt.task_started) {
    std::weak_ptr<Process> weak = p.shared_from_this();
    auto keep = p.posix_timers;
    auto task = ostd::Task::spawn([weak, keep] { wall_timer_task(weak, keep); },
                                  ostd::TaskOptions{"posix-timers", usize{64} * 1024});
    if (task.is_error()) return Errno::eagain;
    pt.task_started = true;
  }
  return &pt;
}

Result<long> sys_timer_create(Thread& t, const SyscallArgs& a) {
  const int clock = a.as_int(0);
  PosixTimer tm;
  tm.clock = clock;
  switch (clock) {
    case clk::kRealtime:
    case clk::kMonotonic:
    case clk::kBoottime:
    case clk::kTai: break;
    case clk::kRealtimeAlarm:
    case clk::kBoottimeAlarm:
      if (!t.process().creds.capable(cap::kWakeAlarm)) return Errno::eperm;
      break;
    case clk::kMonotonicRaw:
    case clk::kRealtimeCoarse:
    case clk::kMonotonicCoarse: return Errno::eopnotsupp;  // clocks without timers
    default: {
      CpuClock c = TRY(cpu_clock_of(t, clock));
      // Only the caller's own process and threads (Linux lets a process time others; not yet).
      if (c.thread) {
        auto th = pid_table().thread(c.id);
        if (!th || &th->process() != &t.process()) return Errno::einval;
      } else if (c.id != t.process().pid()) {
        return Errno::einval;
      }
      tm.kind = c.thread ? Kind::ThreadCpu : Kind::ProcessCpu;
      tm.cpu_id = c.id;
    }
  }
  Process& p = t.process();
  bool defaults = a[1] == 0;
  if (!defaults) {
    Sigevent ev = TRY(ostd::UserPtr<Sigevent>(a[1]).read(t.vm()));
    tm.notify = ev.notify;
    tm.signo = ev.signo;
    tm.value = ev.value;
    switch (ev.notify) {
      case kSigevSignal | kSigevThreadId: {
        auto th = pid_table().thread(ev.tid);
        if (!th || &th->process() != &p) return Errno::einval;
        tm.target = ev.tid;
      }
        [[fallthrough]];
      // clang-format off
      case kSigevSignal: case kSigevThread:
        if (ev.signo <= 0 || ev.signo > kNumSignals) return Errno::einval;
        // clang-format on
        break;
      case kSigevNone: break;
      default: return Errno::einval;
    }
    if (tm.notify == kSigevThread) tm.notify = kSigevSignal;  // the C library's business
  }
  PosixTimers* pt = TRY(timers_of(p));
  int id = 0;
  {
    ostd::MutexGuard g(pt->lock);
    if (pt->timers.size() >= p.rlimits.at(abi::kRlimitSigpending).cur) return Errno::eagain;
    // Linux hands out ids upwards from 0 and reuses them only after they wrap.
    id = pt->next_id;
    while (pt->timers.contains(id)) id = id == std::numeric_limits<int>::max() ? 0 : id + 1;
    pt->next_id = id == std::numeric_limits<int>::max() ? 0 : id + 1;
    if (defaults) {
      tm.notify = kSigevSignal;
      tm.signo = kSigAlrm;
      tm.value = static_cast<u64>(id);
    }
    pt->timers.emplace(id, tm);
  }
  if (auto w = ostd::UserPtr<i32>(a[2]).write(t.vm(), id); w.is_error()) {
    ostd::MutexGuard g(pt->lock);
    pt->timers.erase(id);
    return w.error();
  }
  return 0;
}

// The timer `id` of the calling process, with the timers' lock held by the caller.
Result<PosixTimer*> find(PosixTimers* pt, long id) {
  if (pt == nullptr || id < 0 || id > std::numeric_limits<int>::max()) return Errno::einval;
  auto it = pt->timers.find(static_cast<int>(id));
  if (it == pt->timers.end()) return Errno::einval;
  return &it->second;
}

// Time left until the next expiration, and the interval.
Itimerspec current(const PosixTimer& tm) {
  Itimerspec v{};
  v.interval = to_timespec(tm.interval);
  if (tm.deadline == 0) return v;
  if (tm.kind != Kind::Wall) {
    v.value = to_timespec(tm.deadline);
    return v;
  }
  const u64 now = ostd::monotonic_ns();
  // Due but not yet handled by the timer task: Linux reports 1 ns for an armed timer.
  v.value = to_timespec(tm.deadline > now ? tm.deadline - now : 1);
  return v;
}

Result<long> sys_timer_settime(Thread& t, const SyscallArgs& a) {
  const int flags = a.as_int(1);
  Itimerspec nv = TRY(ostd::UserPtr<Itimerspec>(a[2]).read(t.vm()));
  const u64 value = TRY(from_timespec(nv.value));
  const u64 interval = TRY(from_timespec(nv.interval));
  Process& p = t.process();
  PosixTimers* pt = p.posix_timers.get();
  Itimerspec old{};
  {
    if (pt == nullptr) return Errno::einval;
    ostd::MutexGuard g(pt->lock);
    PosixTimer* tm = TRY(find(pt, a.as_int(0)));
    old = current(*tm);
    tm->interval = interval;
    tm->overrun = 0;
    tm->last_overrun = 0;
    if (value == 0) {
      tm->deadline = 0;
    } else if ((flags & clk::kTimerAbstime) == 0) {
      tm->deadline = tm->kind == Kind::Wall ? saturating_add(ostd::monotonic_ns(), value) : value;
    } else {
      const u64 now = TRY(clock_now(t, tm->clock));
      const u64 rel = value > now ? value - now : 0;
      // An absolute time already past expires at once (1 ns from now on a CPU clock).
      tm->deadline = tm->kind == Kind::Wall ? saturating_add(ostd::monotonic_ns(), rel) : std::max<u64>(rel, 1);
    }
    pt->recount_cpu();
    pt->kick();
  }
  if (a[3] != 0) TRY(ostd::UserPtr<Itimerspec>(a[3]).write(t.vm(), old));
  return 0;
}

Result<long> sys_timer_gettime(Thread& t, const SyscallArgs& a) {
  PosixTimers* pt = t.process().posix_timers.get();
  if (pt == nullptr) return Errno::einval;
  Itimerspec v{};
  {
    ostd::MutexGuard g(pt->lock);
    v = current(*TRY(find(pt, a.as_int(0))));
  }
  TRY(ostd::UserPtr<Itimerspec>(a[1]).write(t.vm(), v));
  return 0;
}

Result<long> sys_timer_getoverrun(Thread& t, const SyscallArgs& a) {
  PosixTimers* pt = t.process().posix_timers.get();
  if (pt == nullptr) return Errno::einval;
  ostd::MutexGuard g(pt->lock);
  return TRY(find(pt, a.as_int(0)))->last_overrun;
}

Result<long> sys_timer_delete(Thread& t, const SyscallArgs& a) {
  PosixTimers* pt = t.process().posix_timers.get();
  if (pt == nullptr) return Errno::einval;
  ostd::MutexGuard g(pt->lock);
  TRY(find(pt, a.as_int(0)));
  pt->timers.erase(a.as_int(0));
  pt->recount_cpu();
  pt->kick();
  return 0;
}

}  // namespace

void delete_posix_timers(Process& p) {
  auto pt = std::move(p.posix_timers);
  if (!pt) return;
  ostd::MutexGuard g(pt->lock);
  pt->timers.clear();
  pt->cpu_armed = 0;
  pt->stop = true;
  pt->kick();
}

void run_cpu_posix_timers(Thread& t, u64 user_ns, u64 sys_ns) {
  Process& p = t.process();
  std::shared_ptr<PosixTimers> pt = p.posix_timers;
  if (!pt || pt->cpu_armed == 0) return;
  std::vector<Firing> firings;
  {
    ostd::MutexGuard g(pt->lock);
    const u64 ns = user_ns + sys_ns;
    for (auto& [id, tm] : pt->timers) {
      if (tm.kind == Kind::Wall || tm.deadline == 0) continue;
      if (tm.kind == Kind::ThreadCpu && tm.cpu_id != t.tid()) continue;
      if (ns < tm.deadline) {
        tm.deadline -= ns;
        continue;
      }
      expire(id, tm, ns - tm.deadline, firings);
    }
    pt->recount_cpu();
  }
  if (!firings.empty()) send(p, *pt, firings);
}

u64 posix_cpu_timer_budget_ns(const Process& p) {
  u64 budget = ~u64{0};
  PosixTimers* pt = p.posix_timers.get();
  if (pt == nullptr || pt->cpu_armed == 0) return budget;
  ostd::MutexGuard g(pt->lock);
  for (auto& [id, tm] : pt->timers) {
    if (tm.kind != Kind::Wall && tm.deadline != 0) budget = std::min(budget, tm.deadline);
  }
  return budget;
}

void posix_timer_signal_taken(Process& p, SigInfo& info) {
  std::shared_ptr<PosixTimers> pt = p.posix_timers;
  if (!pt) return;
  ostd::MutexGuard g(pt->lock);
  auto it = pt->timers.find(info.si_pid);
  if (it == pt->timers.end() || !it->second.queued || it->second.signo != info.si_signo) return;
  PosixTimer& tm = it->second;
  info.si_uid = static_cast<ostd::u32>(tm.overrun);
  tm.last_overrun = tm.overrun;
  tm.overrun = 0;
  tm.queued = false;
}

void register_posix_timer_syscalls(SyscallTable& t) {
  using S = x86_64::Sysno;
  t.set(S::timer_create, &sys_timer_create);
  t.set(S::timer_settime, &sys_timer_settime);
  t.set(S::timer_gettime, &sys_timer_gettime);
  t.set(S::timer_getoverrun, &sys_timer_getoverrun);
  t.set(S::timer_delete, &sys_timer_delete);
}

}  // namespace services
