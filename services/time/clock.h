// services/time/clock.h — the clock ids and the conversions the time system calls share
// (clock_*, nanosleep, POSIX timers, timerfd).
#pragma once

#include <ostd/error.h>
#include <ostd/pod.h>
#include <ostd/time.h>
#include <ostd/types.h>

#include "abi/x86_64/stat.h"

namespace services {

class Thread;

namespace clk {
inline constexpr int kRealtime = 0, kMonotonic = 1, kProcessCputime = 2, kThreadCputime = 3, kMonotonicRaw = 4,
                     kRealtimeCoarse = 5, kMonotonicCoarse = 6, kBoottime = 7, kRealtimeAlarm = 8, kBoottimeAlarm = 9,
                     kTai = 11;
/// TIMER_ABSTIME (clock_nanosleep, timer_settime) and TFD_TIMER_ABSTIME.
inline constexpr int kTimerAbstime = 1;
}  // namespace clk

/// What a CPU-time clock id names: the calling process or thread (CLOCK_PROCESS_CPUTIME_ID,
/// CLOCK_THREAD_CPUTIME_ID) or another one by pid/tid (the negative ids of
/// clock_getcpuclockid and pthread_getcpuclockid).
struct CpuClock {
  bool thread = false;
  ostd::i32 id = 0;  // pid or tid
};
/// The CPU clock `clock` names for thread t (EINVAL for bad or unknown ids, or for a clock that
/// is not a CPU-time clock).
ostd::Result<CpuClock> cpu_clock_of(Thread& t, int clock);
/// CPU time used so far on a CPU clock (EINVAL once the process or thread is gone).
ostd::Result<ostd::u64> cpu_clock_now(const CpuClock& c);
/// The clock's current reading in nanoseconds (EINVAL for unknown clocks).
ostd::Result<ostd::u64> clock_now(Thread& t, int clock);

inline abi::Timespec to_timespec(ostd::u64 ns) {
  return {static_cast<ostd::i64>(ns / ostd::kNsPerSec), static_cast<ostd::i64>(ns % ostd::kNsPerSec)};
}
/// A timespec in nanoseconds: EINVAL when negative or tv_nsec is out of range; saturates at
/// ~0 (a time that never comes).
ostd::Result<ostd::u64> from_timespec(const abi::Timespec& ts);

/// struct itimerspec (timer_settime, timerfd_settime).
struct Itimerspec {
  abi::Timespec interval;
  abi::Timespec value;
  OSTD_POD(Itimerspec, interval, value);
};
static_assert(sizeof(Itimerspec) == 32);

/// Adds without wrapping (~0 stays a time that never comes).
inline ostd::u64 saturating_add(ostd::u64 a, ostd::u64 b) {
  ostd::u64 r = 0;
  return ostd::checked_add(a, b, r) ? r : ~ostd::u64{0};
}

/// A periodic timer that expired `late` ns ago: how many expirations that makes (the periods it
/// missed, plus this one) and how far its deadline moves to the next one in the future
/// (saturating at ~0, a time that never comes).
struct PeriodStep {
  ostd::u64 expirations;
  ostd::u64 advance;
};
inline PeriodStep step_period(ostd::u64 late, ostd::u64 interval) {
  const ostd::u64 n = saturating_add(late / interval, 1);
  ostd::u64 advance = 0;
  if (!ostd::checked_mul(n, interval, advance)) advance = ~ostd::u64{0};
  return {n, advance};
}

}  // namespace services
