/* ostd/user_clock.h — the clock page: what user-mode code (the vDSO) needs to compute the
 * kernel's monotonic and real-time clocks without entering the kernel. Read by C (the vDSO)
 * and C++ (ostd, services).
 *
 * For a time-stamp counter value `tsc` (rdtsc):
 *   delta     = tsc - tsc_base, or 0 when that is negative (as a signed number)
 *   monotonic = ns_base + ((delta * mult) >> 32)      (a 128-bit product)
 *   realtime  = monotonic + realtime_offset_ns
 * which is exactly how the kernel's own ostd::monotonic_ns() and realtime_ns() are computed, so
 * user and kernel readings interleave in order. ostd writes the page under a sequence lock: a
 * reader reads `seq`, the fields, then `seq` again, and retries when it was odd or changed. When
 * `mode` is OSTD_USER_CLOCK_SYSCALL the clocks cannot be read in user mode (no invariant TSC on
 * the host): ask the kernel. */
#pragma once

#include <stdint.h>

struct ostd_user_clock {
  uint32_t seq;
  uint32_t mode;
  uint64_t tsc_base;
  uint64_t ns_base;
  uint64_t mult;
  int64_t realtime_offset_ns;
};

#define OSTD_USER_CLOCK_SYSCALL 0
#define OSTD_USER_CLOCK_TSC 1

/* The time-stamp counter, read after earlier loads (so a reading taken after an event is not
 * earlier than it). */
static inline uint64_t ostd_rdtsc_ordered(void) {
  uint32_t lo, hi;
  // SAFETY: reads no memory; writes only EAX/EDX (the two outputs); "memory" keeps loads
  // from moving across it.
  __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
  return ((uint64_t)hi << 32) | lo;
}

/* The formula above: monotonic nanoseconds at counter value `tsc`. */
static inline uint64_t ostd_user_clock_ns(uint64_t tsc, uint64_t tsc_base, uint64_t ns_base, uint64_t mult) {
  uint64_t delta = tsc - tsc_base;
  if ((int64_t)delta < 0) delta = 0; /* a counter read just before the base */
  return ns_base + (uint64_t)(((unsigned __int128)delta * mult) >> 32);
}

#ifdef __cplusplus
#include <ostd/error.h>
#include <ostd/mm/frame.h>

namespace ostd {
/// The clock page (allocated on first use, then kept current by ostd). Services map it
/// read-only into every process next to the vDSO; user code must never get it writable.
Result<Frame> user_clock_page();
}  // namespace ostd
#endif
