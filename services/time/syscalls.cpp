// clock_gettime, clock_getres, gettimeofday, time, nanosleep, clock_nanosleep.
#include <ostd/mm/io.h>
#include <ostd/time.h>

#include "abi/x86_64/stat.h"
#include "process/process.h"
#include "process/internal.h"
#include "syscall/table.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u64;

namespace {

constexpr int kRealtime = 0, kMonotonic = 1, kProcessCputime = 2, kThreadCputime = 3,
              kMonotonicRaw = 4, kRealtimeCoarse = 5, kMonotonicCoarse = 6, kBoottime = 7,
              kRealtimeAlarm = 8, kBoottimeAlarm = 9, kTai = 11;

Result<u64> clock_now(Thread& t, int clk) {
  switch (clk) {
    case kRealtime: case kRealtimeCoarse: case kRealtimeAlarm: case kTai:
      return ostd::realtime_ns();
    case kMonotonic: case kMonotonicRaw: case kMonotonicCoarse: case kBoottime: case kBoottimeAlarm:
      return ostd::monotonic_ns();
    case kProcessCputime: {
      Process& p = t.process();
      return p.utime_ns + p.stime_ns;
    }
    case kThreadCputime: return t.utime_ns + t.stime_ns;
    default: return Errno::einval;
  }
}

abi::Timespec to_ts(u64 ns) {
  return {static_cast<ostd::i64>(ns / ostd::kNsPerSec), static_cast<ostd::i64>(ns % ostd::kNsPerSec)};
}

Result<u64> from_ts(const abi::Timespec& ts) {
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

Result<long> sys_clock_gettime(Thread& t, const SyscallArgs& a) {
  u64 now = TRY(clock_now(t, a.as_int(0)));
  TRY(ostd::UserPtr<abi::Timespec>(a[1]).write(t.vm(), to_ts(now)));
  return 0;
}

Result<long> sys_clock_getres(Thread& t, const SyscallArgs& a) {
  int clk = a.as_int(0);
  TRY(clock_now(t, clk));
  u64 res = clk == kRealtimeCoarse || clk == kMonotonicCoarse ? ostd::kNsPerSec / ostd::tick_hz() : 1;
  if (a[1] != 0) TRY(ostd::UserPtr<abi::Timespec>(a[1]).write(t.vm(), to_ts(res)));
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
      TRY(ostd::UserPtr<abi::Timespec>(rem).write(t.vm(), to_ts(left)));
    }
    return Errno::eintr;
  }
}

Result<long> sys_nanosleep(Thread& t, const SyscallArgs& a) {
  abi::Timespec req = TRY(ostd::UserPtr<abi::Timespec>(a[0]).read(t.vm()));
  u64 ns = TRY(from_ts(req));
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
  u64 ns = TRY(from_ts(req));
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
