// clock_gettime, clock_getres, gettimeofday, time, nanosleep, clock_nanosleep.
#include <ostd/mm/io.h>
#include <ostd/time.h>

#include "abi/x86_64/stat.h"
#include "time/clock.h"
#include "process/process.h"
#include "process/internal.h"
#include "syscall/table.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u64;

using namespace clk;  // the clock ids

namespace {

Result<long> sys_clock_gettime(Thread& t, const SyscallArgs& a) {
  u64 now = TRY(clock_now(t, a.as_int(0)));
  TRY(ostd::UserPtr<abi::Timespec>(a[1]).write(t.vm(), to_timespec(now)));
  return 0;
}

Result<long> sys_clock_getres(Thread& t, const SyscallArgs& a) {
  int clk = a.as_int(0);
  TRY(clock_now(t, clk));
  u64 res = clk == kRealtimeCoarse || clk == kMonotonicCoarse ? ostd::kNsPerSec / ostd::tick_hz() : 1;
  if (a[1] != 0) TRY(ostd::UserPtr<abi::Timespec>(a[1]).write(t.vm(), to_timespec(res)));
  return 0;
}

struct Timeval {
  ostd::i64 sec, usec;
};

Result<long> sys_gettimeofday(Thread& t, const SyscallArgs& a) {
  u64 now = ostd::realtime_ns();
  if (a[0] != 0) {
    Timeval tv{static_cast<ostd::i64>(now / ostd::kNsPerSec),
               static_cast<ostd::i64>(now % ostd::kNsPerSec / 1000)};
    TRY(ostd::UserPtr<Timeval>(a[0]).write(t.vm(), tv));
  }
  if (a[1] != 0) {
    struct Timezone {
      ostd::i32 minuteswest, dsttime;
    };
    TRY(ostd::UserPtr<Timezone>(a[1]).write(t.vm(), Timezone{0, 0}));
  }
  return 0;
}

Result<long> sys_time(Thread& t, const SyscallArgs& a) {
  auto secs = static_cast<ostd::i64>(ostd::realtime_ns() / ostd::kNsPerSec);
  if (a[0] != 0) TRY(ostd::UserPtr<ostd::i64>(a[0]).write(t.vm(), secs));
  return secs;
}

// Sleeps until the monotonic deadline; on a signal writes the remaining time.
Result<long> sleep_until(Thread& t, u64 deadline, ostd::Vaddr rem) {
  ostd::WaitQueue wq;
  for (;;) {
    u64 now = ostd::monotonic_ns();
    if (now >= deadline) return 0;
    auto r = t.wait_interruptible(wq, [&] { return ostd::monotonic_ns() >= deadline; }, deadline - now);
    if (r.is_ok() || r.error() == Errno::etimedout) continue;
    if (rem != 0) {
      u64 left = deadline > ostd::monotonic_ns() ? deadline - ostd::monotonic_ns() : 0;
      TRY(ostd::UserPtr<abi::Timespec>(rem).write(t.vm(), to_timespec(left)));
    }
    return Errno::eintr;
  }
}

Result<long> sys_nanosleep(Thread& t, const SyscallArgs& a) {
  abi::Timespec req = TRY(ostd::UserPtr<abi::Timespec>(a[0]).read(t.vm()));
  u64 ns = TRY(from_timespec(req));
  u64 deadline = 0;
  if (!ostd::checked_add(ostd::monotonic_ns(), ns, deadline)) deadline = ~u64{0};
  return sleep_until(t, deadline, a[1]);
}

Result<long> sys_clock_nanosleep(Thread& t, const SyscallArgs& a) {
  constexpr int kAbstime = 1;
  int clk = a.as_int(0);
  int flags = a.as_int(1);
  if (clk == kThreadCputime) return Errno::einval;
  TRY(clock_now(t, clk));
  abi::Timespec req = TRY(ostd::UserPtr<abi::Timespec>(a[2]).read(t.vm()));
  u64 ns = TRY(from_timespec(req));
  u64 deadline = 0;
  if ((flags & kAbstime) != 0) {
    u64 now_clk = TRY(clock_now(t, clk));
    u64 delta = ns > now_clk ? ns - now_clk : 0;
    if (!ostd::checked_add(ostd::monotonic_ns(), delta, deadline)) deadline = ~u64{0};
    auto r = sleep_until(t, deadline, 0);
    return r;
  }
  if (!ostd::checked_add(ostd::monotonic_ns(), ns, deadline)) deadline = ~u64{0};
  return sleep_until(t, deadline, a[3]);
}

}  // namespace

Result<CpuClock> cpu_clock_of(Thread& t, int clock) {
  if (clock == kProcessCputime) return CpuClock{false, t.process().pid()};
  if (clock == kThreadCputime) return CpuClock{true, t.tid()};
  if (clock >= 0) return Errno::einval;
  // Linux's encoding: ~pid << 3 | per-thread bit (4) | kind (0 prof, 1 virt, 2 sched; 3 is
  // invalid). Every kind reads the same total here.
  if ((clock & 3) == 3) return Errno::einval;
  const bool thread = (clock & 4) != 0;
  const ostd::i32 id = ~(clock >> 3);
  if (id == 0) return CpuClock{thread, thread ? t.tid() : t.process().pid()};
  if (thread) {
    auto th = pid_table().thread(id);
    if (!th) return Errno::einval;
    return CpuClock{true, id};
  }
  auto p = pid_table().process(id);
  if (!p || p->state == Process::State::Reaped) return Errno::einval;
  return CpuClock{false, id};
}

Result<u64> cpu_clock_now(const CpuClock& c) {
  if (c.thread) {
    auto th = pid_table().thread(c.id);
    if (!th) return Errno::einval;
    return th->utime_ns + th->stime_ns;
  }
  auto p = pid_table().process(c.id);
  if (!p) return Errno::einval;
  return p->utime_ns + p->stime_ns;
}

Result<u64> clock_now(Thread& t, int clk) {
  switch (clk) {
    case kRealtime: case kRealtimeCoarse: case kRealtimeAlarm: case kTai:
      return ostd::realtime_ns();
    case kMonotonic: case kMonotonicRaw: case kMonotonicCoarse: case kBoottime: case kBoottimeAlarm:
      return ostd::monotonic_ns();
    default: break;
  }
  CpuClock c = TRY(cpu_clock_of(t, clk));
  return cpu_clock_now(c);
}

Result<u64> from_timespec(const abi::Timespec& ts) {
  if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= static_cast<ostd::i64>(ostd::kNsPerSec)) {
    return Errno::einval;
  }
  u64 ns = 0;
  if (!ostd::checked_mul<u64>(static_cast<u64>(ts.tv_sec), ostd::kNsPerSec, ns) ||
      !ostd::checked_add<u64>(ns, static_cast<u64>(ts.tv_nsec), ns)) {
    return ~u64{0};
  }
  return ns;
}

void register_time_syscalls(SyscallTable& t) {
  using S = x86_64::Sysno;
  t.set(S::clock_gettime, &sys_clock_gettime);
  t.set(S::clock_getres, &sys_clock_getres);
  t.set(S::gettimeofday, &sys_gettimeofday);
  t.set(S::time, &sys_time);
  t.set(S::nanosleep, &sys_nanosleep);
  t.set(S::clock_nanosleep, &sys_clock_nanosleep);
}

ostd::u64 uptime_ns() {
  static const ostd::u64 boot = ostd::monotonic_ns();
  return ostd::monotonic_ns() - boot;
}

}  // namespace services
