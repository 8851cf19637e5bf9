// ostd/time.h — clocks and timers.
//
// monotonic_ns() never goes backwards; realtime_ns() is wall-clock time since the Unix epoch.
// A Timer runs its callback once, in interrupt context, at or after its deadline (host: within
// about 100 us plus scheduling noise; expirations are in deadline order). Periodic behaviour is
// a callback that re-arms. The tick (jiffies) runs at kTickHz and drives preemption.
#pragma once

#include <functional>

#include <ostd/types.h>

namespace ostd {

inline constexpr u64 kNsPerUs = 1000;
inline constexpr u64 kNsPerMs = 1000 * 1000;
inline constexpr u64 kNsPerSec = 1000 * 1000 * 1000;

u64 monotonic_ns();
u64 realtime_ns();
/// Sets the real-time clock to `ns` since the epoch (clock_settime): realtime_ns() and the clock
/// page follow it from now on, monotonic_ns() is untouched. The kernel's clock only: the host's
/// (or the RTC) is never set.
void set_realtime_ns(u64 ns);
/// Ticks since boot.
u64 jiffies();
/// Configured tick rate (host default 250 Hz, `--hz`).
u32 tick_hz();

/// A one-shot timer. The owner must keep it alive while armed; destroying it cancels it.
class Timer {
 public:
  /// The callback runs in interrupt context: it may wake tasks and re-arm timers, nothing more.
  explicit Timer(std::function<void()> callback);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  Timer(Timer&&) = delete;
  Timer& operator=(Timer&&) = delete;

  /// (Re)arms to fire at `deadline_ns` on the monotonic clock.
  void arm_at(u64 deadline_ns);
  void arm_after(u64 delay_ns) { arm_at(monotonic_ns() + delay_ns); }
  /// Disarms; returns true when the timer was armed.
  bool cancel();
  bool armed() const { return armed_; }
  u64 deadline() const { return deadline_; }

 private:
  friend struct TimerQueue;
  std::function<void()> callback_;
  u64 deadline_ = 0;
  u64 seq_ = 0;
  bool armed_ = false;
  Timer* next_ = nullptr;  // intrusive sorted list, ostd-internal
};

}  // namespace ostd
