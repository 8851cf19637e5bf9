// alarm, setitimer and getitimer: ITIMER_REAL sends SIGALRM when it expires.
//
// Timer callbacks run in interrupt context and may not send signals, so each process that arms
// its real timer gets a small kernel task that sleeps until the deadline and sends the signal.
#include <algorithm>

#include <ostd/mm/io.h>
#include <ostd/task.h>
#include <ostd/time.h>

#include "abi/x86_64/time.h"
#include "process/internal.h"
#include "process/process.h"
#include "signal/signal.h"
#include "syscall/table.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::i64;
using ostd::u64;

namespace {
using abi::Timeval;
struct Itimerval {
  Timeval interval;
  Timeval value;
  OSTD_POD(Itimerval, interval, value);
};
}  // namespace

struct CpuTimer {
  u64 left = 0;      // ns of CPU time until it fires; 0 when disarmed
  u64 interval = 0;  // ns
};

struct RealTimer {
  // ITIMER_VIRTUAL and ITIMER_PROF count CPU time (account_cpu_time runs them down).
  CpuTimer virt, prof;
  u64 deadline = 0;  // monotonic ns; 0 when disarmed
  u64 interval = 0;  // ns; 0 for one-shot
  bool stop = false;
  ostd::WaitQueue changed;
  bool task_started = false;
};

namespace {

constexpr int kItimerReal = 0, kItimerVirtual = 1, kItimerProf = 2;

void timer_task(std::weak_ptr<Process> weak, std::shared_ptr<RealTimer> rt) {
  for (;;) {
    if (rt->stop) return;
    if (rt->deadline == 0) {
      (void)rt->changed.wait_until([&] { return rt->deadline != 0 || rt->stop; });
      continue;
    }
    u64 now = ostd::monotonic_ns();
    if (now < rt->deadline) {
      u64 seen = rt->deadline;
      (void)rt->changed.wait_until([&] { return rt->deadline != seen || rt->stop; }, rt->deadline - now);
      continue;
    }
    auto p = weak.lock();
    if (!p || p->state == Process::State::Zombie || p->state == Process::State::Reaped) return;
    send_signal_to_process(*p, kSigAlrm, kernel_siginfo(kSigAlrm));
    rt->deadline = rt->interval != 0 ? now + rt->interval : 0;
  }
}

Result<RealTimer*> real_timer(Process& p) {
  if (!p.real_timer) p.real_timer = std::make_shared<RealTimer>();
  RealTimer& rt = *p.real_timer;
  if (!rt.task_started) {
    std::weak_ptr<Process> weak = p.shared_from_this();
    auto keep = p.real_timer;
    auto t = ostd::Task::spawn([weak, keep] { timer_task(weak, keep); },
                               ostd::TaskOptions{"itimer", ostd::usize{64} * 1024});
    if (t.is_error()) return Errno::enomem;
    rt.task_started = true;
  }
  return &rt;
}

u64 to_ns(const Timeval& tv) {
  return static_cast<u64>(tv.sec) * ostd::kNsPerSec + static_cast<u64>(tv.usec) * ostd::kNsPerUs;
}

Itimerval current(const Process& p) {
  Itimerval v{};
  if (!p.real_timer || p.real_timer->deadline == 0) return v;
  u64 now = ostd::monotonic_ns();
  u64 left = p.real_timer->deadline > now ? p.real_timer->deadline - now : 1000;
  v.value = abi::timeval_from_ns(left);
  v.interval = abi::timeval_from_ns(p.real_timer->interval);
  return v;
}

Result<void> arm(Process& p, u64 value_ns, u64 interval_ns) {
  if (value_ns == 0 && (!p.real_timer || p.real_timer->deadline == 0)) return {};
  RealTimer* rt = TRY(real_timer(p));
  rt->deadline = value_ns == 0 ? 0 : ostd::monotonic_ns() + value_ns;
  rt->interval = interval_ns;
  rt->changed.wake_all();
  return {};
}

Result<long> sys_setitimer(Thread& t, const SyscallArgs& a) {
  int which = a.as_int(0);
  if (which != kItimerReal && which != kItimerVirtual && which != kItimerProf) return Errno::einval;
  Itimerval nv{};
  if (a[1] != 0) nv = TRY(ostd::UserPtr<Itimerval>(a[1]).read(t.vm()));
  for (const Timeval& tv : {nv.value, nv.interval}) {
    if (tv.sec < 0 || tv.usec < 0 || tv.usec >= 1000000) return Errno::einval;
  }
  Process& p = t.process();
  if (which == kItimerReal) {
    Itimerval old = current(p);
    TRY(arm(p, to_ns(nv.value), to_ns(nv.interval)));
    if (a[2] != 0) TRY(ostd::UserPtr<Itimerval>(a[2]).write(t.vm(), old));
    return 0;
  }
  if (!p.real_timer) p.real_timer = std::make_shared<RealTimer>();
  CpuTimer& slot = which == kItimerVirtual ? p.real_timer->virt : p.real_timer->prof;
  if (a[2] != 0)
    TRY(ostd::UserPtr<Itimerval>(a[2]).write(
        t.vm(), Itimerval{abi::timeval_from_ns(slot.interval), abi::timeval_from_ns(slot.left)}));
  slot.left = to_ns(nv.value);
  slot.interval = to_ns(nv.interval);
  return 0;
}

Result<long> sys_getitimer(Thread& t, const SyscallArgs& a) {
  int which = a.as_int(0);
  if (which != kItimerReal && which != kItimerVirtual && which != kItimerProf) return Errno::einval;
  Process& p = t.process();
  Itimerval v{};
  if (which == kItimerReal) {
    v = current(p);
  } else if (p.real_timer) {
    const CpuTimer& c = which == kItimerVirtual ? p.real_timer->virt : p.real_timer->prof;
    v = Itimerval{abi::timeval_from_ns(c.interval), abi::timeval_from_ns(c.left)};
  }
  TRY(ostd::UserPtr<Itimerval>(a[1]).write(t.vm(), v));
  return 0;
}

Result<long> sys_alarm(Thread& t, const SyscallArgs& a) {
  Process& p = t.process();
  Itimerval old = current(p);
  // Linux rounds the remaining time to the nearest second, and reports at least 1.
  long left = old.value.sec + (old.value.usec >= 500000 ? 1 : 0);
  if (left == 0 && (old.value.usec != 0)) left = 1;
  TRY(arm(p, u64{a.as_u32(0)} * ostd::kNsPerSec, 0));
  return left;
}

}  // namespace

void account_cpu_time(Thread& t, u64 user_ns, u64 sys_ns) {
  t.utime_ns += user_ns;
  t.stime_ns += sys_ns;
  Process& p = t.process();
  p.utime_ns += user_ns;
  p.stime_ns += sys_ns;
  run_cpu_posix_timers(t, user_ns, sys_ns);
  if (!p.real_timer) return;
  constexpr int kSigVtalrm = 26, kSigProf = 27;
  auto run_down = [&](CpuTimer& c, u64 ns, int sig) {
    if (c.left == 0) return;
    if (ns < c.left) {
      c.left -= ns;
      return;
    }
    c.left = c.interval;
    send_signal_to_process(p, sig, kernel_siginfo(sig));
  };
  run_down(p.real_timer->virt, user_ns, kSigVtalrm);
  run_down(p.real_timer->prof, user_ns + sys_ns, kSigProf);
}

u64 cpu_timer_budget_ns(const Process& p) {
  u64 budget = posix_cpu_timer_budget_ns(p);
  if (!p.real_timer) return budget;
  if (p.real_timer->virt.left != 0) budget = p.real_timer->virt.left;
  if (p.real_timer->prof.left != 0) budget = std::min(budget, p.real_timer->prof.left);
  return budget;
}

void stop_real_timer(Process& p) {
  if (!p.real_timer) return;
  p.real_timer->stop = true;
  p.real_timer->changed.wake_all();
}

void register_itimer_syscalls(SyscallTable& t) {
  t.set(x86_64::Sysno::setitimer, &sys_setitimer);
  t.set(x86_64::Sysno::getitimer, &sys_getitimer);
  t.set(x86_64::Sysno::alarm, &sys_alarm);
}

}  // namespace services
