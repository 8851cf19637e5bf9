// clock_gettime, clock_getres, gettimeofday, time, nanosleep, clock_nanosleep; setting the
// real-time clock (clock_settime, settimeofday, adjtimex, clock_adjtime: CAP_SYS_TIME). Setting
// moves the kernel's own clock (ostd::set_realtime_ns), never the host's; the NTP state adjtimex
// reports is kept and given back, without slewing (an offset is stepped at once).
#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>

#include <ostd/mm/io.h>
#include <ostd/time.h>

#include "abi/x86_64/time.h"
#include "abi/x86_64/stat.h"
#include "time/clock.h"
#include "process/process.h"
#include "process/internal.h"
#include "syscall/table.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u32;
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

using abi::Timeval;

struct Timezone {
  ostd::i32 minuteswest, dsttime;
  OSTD_POD(Timezone, minuteswest, dsttime);
};
// settimeofday's timezone (sys_tz), reported by gettimeofday.
Timezone& sys_tz() {
  static Timezone tz{0, 0};
  return tz;
}

Result<long> sys_gettimeofday(Thread& t, const SyscallArgs& a) {
  u64 now = ostd::realtime_ns();
  if (a[0] != 0) {
    TRY(ostd::UserPtr<Timeval>(a[0]).write(t.vm(), abi::timeval_from_ns(now)));
  }
  if (a[1] != 0) TRY(ostd::UserPtr<Timezone>(a[1]).write(t.vm(), sys_tz()));
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
    auto r = t.wait_interruptible(
        wq, [&] { return ostd::monotonic_ns() >= deadline; }, deadline - now);
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

// ---- setting the clock ----

Result<void> may_set_time(Thread& t) {
  if (!t.process().creds.capable(cap::kSysTime)) return Errno::eperm;
  return {};
}

Result<long> sys_clock_settime(Thread& t, const SyscallArgs& a) {
  const int clock = a.as_int(0);
  const bool realtime = clock == kRealtime;
  if (!realtime) {
    TRY(clock_now(t, clock));  // EINVAL for an unknown clock
    // CPU-time clocks cannot be set (EPERM, as Linux); the others have no setter.
    if (clock == kProcessCputime || clock == kThreadCputime || clock < 0) return Errno::eperm;
    return Errno::einval;
  }
  abi::Timespec ts = TRY(ostd::UserPtr<abi::Timespec>(a[1]).read(t.vm()));
  const u64 ns = TRY(from_timespec(ts));
  TRY(may_set_time(t));
  ostd::set_realtime_ns(ns);
  return 0;
}

Result<long> sys_settimeofday(Thread& t, const SyscallArgs& a) {
  std::optional<u64> ns;
  if (a[0] != 0) {
    const Timeval tv = TRY(ostd::UserPtr<Timeval>(a[0]).read(t.vm()));
    if (tv.usec < 0 || tv.usec >= 1000000 || tv.sec < 0) return Errno::einval;
    ns = static_cast<u64>(tv.sec) * ostd::kNsPerSec + static_cast<u64>(tv.usec) * 1000;
  }
  std::optional<Timezone> tz;
  if (a[1] != 0) {
    tz = TRY(ostd::UserPtr<Timezone>(a[1]).read(t.vm()));
    if (tz->minuteswest > 15 * 60 || tz->minuteswest < -15 * 60) return Errno::einval;
  }
  TRY(may_set_time(t));
  if (tz) sys_tz() = *tz;
  if (ns) ostd::set_realtime_ns(*ns);
  return 0;
}

// struct __kernel_timex (adjtimex, clock_adjtime).
struct Timex {
  u32 modes;
  ostd::i32 pad0;
  ostd::i64 offset, freq, maxerror, esterror;
  ostd::i32 status;
  ostd::i32 pad1;
  ostd::i64 constant, precision, tolerance;
  ostd::i64 time_sec, time_usec;
  ostd::i64 tick, ppsfreq, jitter;
  ostd::i32 shift;
  ostd::i32 pad2;
  ostd::i64 stabil, jitcnt, calcnt, errcnt, stbcnt;
  ostd::i32 tai;
  std::array<ostd::i32, 11> pad3;
  OSTD_POD(Timex, modes, pad0, offset, freq, maxerror, esterror, status, pad1, constant, precision, tolerance, time_sec,
           time_usec, tick, ppsfreq, jitter, shift, pad2, stabil, jitcnt, calcnt, errcnt, stbcnt, tai, pad3);
};
static_assert(sizeof(Timex) == 208);

constexpr u32 kAdjOffset = 0x0001, kAdjFrequency = 0x0002, kAdjMaxerror = 0x0004, kAdjEsterror = 0x0008,
              kAdjStatus = 0x0010, kAdjTimeconst = 0x0020, kAdjTai = 0x0080, kAdjSetoffset = 0x0100, kAdjMicro = 0x1000,
              kAdjNano = 0x2000, kAdjTick = 0x4000, kAdjOffsetSingleshot = 0x8001, kAdjOffsetSsRead = 0xa001;
constexpr ostd::i32 kStaUnsync = 0x0040, kStaNano = 0x2000;
constexpr ostd::i32 kStaRonly = 0x0100 | 0x0200 | 0x0400 | 0x0800 | 0x1000 | 0x2000 | 0x4000 | 0x8000;
constexpr int kTimeOk = 0, kTimeError = 5;
constexpr ostd::i64 kUserHz = 100, kMaxFreqScaled = 500LL << 16;

// The NTP state adjtimex reports (Linux's defaults for a clock nobody synchronised).
struct NtpState {
  ostd::i64 offset = 0, freq = 0, maxerror = 16000000, esterror = 16000000, constant = 2;
  ostd::i64 tick = 1000000 / kUserHz;
  ostd::i32 status = kStaUnsync, tai = 0;
};
NtpState& ntp() {
  static NtpState s;
  return s;
}

Result<long> do_adjtimex(Thread& t, ostd::Vaddr at) {
  Timex tx = TRY(ostd::UserPtr<Timex>(at).read(t.vm()));
  const u32 modes = tx.modes;
  NtpState& s = ntp();
  if (modes == kAdjOffsetSsRead) {
    tx.offset = 0;  // offsets are stepped at once: none is left to slew
  } else if (modes != 0) {
    // timekeeping_validate_timex.
    if ((modes & kAdjOffsetSingleshot) == kAdjOffsetSingleshot && modes != kAdjOffsetSingleshot) {
      return Errno::einval;
    }
    TRY(may_set_time(t));
    if ((modes & kAdjTick) != 0 && (tx.tick < 900000 / kUserHz || tx.tick > 1100000 / kUserHz)) return Errno::einval;
    if ((modes & kAdjSetoffset) != 0) {
      const bool nano = (modes & kAdjNano) != 0;
      if (tx.time_usec < 0 || tx.time_usec >= (nano ? 1000000000 : 1000000)) return Errno::einval;
    }
    if ((modes & kAdjFrequency) != 0 && (tx.freq > INT64_MAX / 1000 || tx.freq < INT64_MIN / 1000)) {
      return Errno::einval;
    }
    if ((modes & kAdjSetoffset) != 0) {
      const bool nano = (modes & kAdjNano) != 0;
      const ostd::i64 delta = tx.time_sec * static_cast<ostd::i64>(ostd::kNsPerSec) + tx.time_usec * (nano ? 1 : 1000);
      ostd::set_realtime_ns(static_cast<u64>(static_cast<ostd::i64>(ostd::realtime_ns()) + delta));
    }
    if (modes == kAdjOffsetSingleshot) {
      // adjtime(3): Linux slews; the offset (microseconds) is stepped at once here.
      const ostd::i64 old = 0;
      ostd::set_realtime_ns(static_cast<u64>(static_cast<ostd::i64>(ostd::realtime_ns()) + tx.offset * 1000));
      tx.offset = old;
    } else {
      if ((modes & kAdjStatus) != 0) s.status = (s.status & kStaRonly) | (tx.status & ~kStaRonly);
      if ((modes & kAdjNano) != 0) s.status |= kStaNano;
      if ((modes & kAdjMicro) != 0) s.status &= ~kStaNano;
      if ((modes & kAdjFrequency) != 0) s.freq = std::clamp<ostd::i64>(tx.freq, -kMaxFreqScaled, kMaxFreqScaled);
      if ((modes & kAdjMaxerror) != 0) s.maxerror = tx.maxerror;
      if ((modes & kAdjEsterror) != 0) s.esterror = tx.esterror;
      if ((modes & kAdjTimeconst) != 0) s.constant = tx.constant;
      if ((modes & kAdjTai) != 0 && tx.constant >= 0) s.tai = static_cast<ostd::i32>(tx.constant);
      if ((modes & kAdjTick) != 0) s.tick = tx.tick;
      if ((modes & kAdjOffset) != 0) s.offset = tx.offset;
    }
  }
  if (modes != kAdjOffsetSingleshot && modes != kAdjOffsetSsRead) tx.offset = s.offset;
  tx.freq = s.freq;
  tx.maxerror = s.maxerror;
  tx.esterror = s.esterror;
  tx.status = s.status;
  tx.constant = s.constant;
  tx.precision = 1;
  tx.tolerance = kMaxFreqScaled;
  tx.tick = s.tick;
  tx.tai = s.tai;
  tx.ppsfreq = tx.jitter = tx.stabil = tx.jitcnt = tx.calcnt = tx.errcnt = tx.stbcnt = 0;
  tx.shift = 0;
  const u64 now = ostd::realtime_ns();
  tx.time_sec = static_cast<ostd::i64>(now / ostd::kNsPerSec);
  tx.time_usec = static_cast<ostd::i64>(now % ostd::kNsPerSec) / ((s.status & kStaNano) != 0 ? 1 : 1000);
  TRY(ostd::UserPtr<Timex>(at).write(t.vm(), tx));
  return (s.status & kStaUnsync) != 0 ? kTimeError : kTimeOk;
}

Result<long> sys_adjtimex(Thread& t, const SyscallArgs& a) { return do_adjtimex(t, a[0]); }

Result<long> sys_clock_adjtime(Thread& t, const SyscallArgs& a) {
  const int clock = a.as_int(0);
  if (clock == kRealtime) return do_adjtimex(t, a[1]);
  TRY(clock_now(t, clock));  // EINVAL for an unknown clock
  return Errno::eopnotsupp;
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
    // clang-format off
    case kRealtime: case kRealtimeCoarse: case kRealtimeAlarm: case kTai:
      return ostd::realtime_ns();
    // clang-format on
    // clang-format off
    case kMonotonic: case kMonotonicRaw: case kMonotonicCoarse: case kBoottime: case kBoottimeAlarm:
      return ostd::monotonic_ns();
    // clang-format on
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
  t.set(S::clock_settime, &sys_clock_settime);
  t.set(S::settimeofday, &sys_settimeofday);
  t.set(S::adjtimex, &sys_adjtimex);
  t.set(S::clock_adjtime, &sys_clock_adjtime);
}

ostd::u64 uptime_ns() {
  static const ostd::u64 boot = ostd::monotonic_ns();
  return ostd::monotonic_ns() - boot;
}

}  // namespace services
