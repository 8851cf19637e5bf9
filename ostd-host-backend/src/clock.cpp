// The host backend's clocks: the CPU's time-stamp counter, scaled to follow the host's
// CLOCK_MONOTONIC. Guest code reads the same formula from the clock page through the vDSO
// (ostd/user_clock.h), so a guest's clock_gettime needs no system call and agrees exactly with
// the kernel's own timestamps (sleeps, timers, file times).
//
// Used when the host itself keeps time with the TSC (its current clocksource is "tsc": then the
// counter is invariant and synchronised across CPUs, so guest threads on other CPUs read the
// same clock), or with kvm-clock over a TSC the CPU calls constant and nonstop and that proves
// to be in step across the CPUs (readings passed between two CPUs never go backwards, as
// Linux's check_tsc_warp; kvm-clock is that TSC scaled). Otherwise the kernel reads the host's
// clocks and the clock page tells the vDSO to make the system call.
//
// Calibration takes 1 ms at the first boot of the process. Once a second, from the timer
// interrupt, the rate is re-estimated over the whole time since calibration and the scale is
// slewed (at most 1000 ppm) so that the clock converges on the host's; it never steps back.
#include <time.h>

#include <sched.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <ostd/internal.h>
#include "host_internal.h"
#include <ostd/arch/backend.h>
#include <ostd/time.h>

namespace ostd::host {

namespace {

using u128 = unsigned __int128;
using i128 = __int128;

bool g_tsc_clock = false;

// The formula's parameters, in the clock page's layout under its sequence lock
// (time_internal::store_clock/load_clock). Written only on the kernel thread with interrupts
// off (calibration, the timer interrupt), read by it everywhere — also by code that a timer
// signal interrupted in the middle of a read, which then retries.
ostd_user_clock g_clock{};

u64 g_tsc0 = 0;  // calibration start: the baseline for the rate
u64 g_host0 = 0;
u64 g_last_adjust_tsc = 0;
u64 g_tsc_per_sec = 0;

u64 read_counter() { return ostd_rdtsc_ordered(); }

// ns per count (in 32.32 fixed point) and counts per second between two points.
u64 ns_mult(u64 dtsc, u64 dns) { return static_cast<u64>((static_cast<u128>(dns) << 32) / dtsc); }
u64 counts_per_sec(u64 dtsc, u64 dns) { return static_cast<u64>(static_cast<u128>(dtsc) * kNsPerSec / dns); }

void publish(u64 tsc_base, u64 ns_base, u64 mult, i64 real_off) {
  time_internal::store_clock(g_clock, {true, tsc_base, ns_base, mult, real_off});
}

u64 host_clock(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<u64>(ts.tv_sec) * kNsPerSec + static_cast<u64>(ts.tv_nsec);
}

struct Sample {
  u64 tsc, mono, real;
};

// A (counter, host clocks) triple read as close together as possible: the host may preempt us
// between the reads, so take the tightest of a few tries.
Sample sample() {
  Sample best{};
  u64 best_width = ~u64{0};
  for (int i = 0; i < 8; ++i) {
    u64 t1 = read_counter();
    u64 mono = host_clock(CLOCK_MONOTONIC);
    u64 real = host_clock(CLOCK_REALTIME);
    u64 t2 = read_counter();
    if (t2 - t1 < best_width) {
      best_width = t2 - t1;
      best = {t1 + (t2 - t1) / 2, mono, real};
    }
    if (g_tsc_per_sec != 0 && best_width < g_tsc_per_sec / 200000) break;  // under 5 us
  }
  return best;
}

// Whether /proc/cpuinfo's flags name `flag`.
bool cpu_has_flag(std::string_view flag) {
  std::string flags = " " + cpuinfo_field("flags") + " ";
  return flags.find(" " + std::string(flag) + " ") != std::string::npos;
}

// Two threads, on CPU a and CPU b, pass TSC readings back and forth: each reads its own counter
// after seeing the other's, which must not be smaller. False on a warp, or when the threads do
// not get through their rounds within the time allowed (a loaded host: trust nothing).
bool tsc_in_step(int cpu_a, int cpu_b) {
  constexpr u32 kRounds = 2000;
  std::atomic<u64> value{0};
  std::atomic<u32> turn{0};  // even: a's turn, odd: b's
  std::atomic<bool> warp{false}, give_up{false};
  u64 deadline = host_clock(CLOCK_MONOTONIC) + 200 * kNsPerMs;
  auto play = [&](u32 parity) {
    for (u32 r = 0; r < 2 * kRounds; r += 2) {
      u32 mine = r + parity;
      u32 spins = 0;
      while (turn.load(std::memory_order_acquire) != mine) {
        if (give_up.load(std::memory_order_relaxed)) return;
        if ((++spins & 1023) == 0 && host_clock(CLOCK_MONOTONIC) > deadline) {
          give_up.store(true);
          return;
        }
        __builtin_ia32_pause();
      }
      u64 now = ostd_rdtsc_ordered();
      if (now < value.load(std::memory_order_acquire)) warp.store(true);
      value.store(now, std::memory_order_release);
      turn.store(mine + 1, std::memory_order_release);
    }
  };
  bool pinned_b = true;
  std::thread b([&] {
    pinned_b = pin_this_thread(cpu_b);
    if (!pinned_b) give_up.store(true);
    play(1);
  });
  cpu_set_t old;
  bool restore = sched_getaffinity(0, sizeof old, &old) == 0;
  bool pinned_a = pin_this_thread(cpu_a);
  if (!pinned_a) give_up.store(true);
  play(0);
  b.join();
  if (restore) sched_setaffinity(0, sizeof old, &old);
  return pinned_a && pinned_b && !give_up.load() && !warp.load();
}

// kvm-clock over a constant, nonstop TSC that is in step between the first CPU this process may
// use and each other one (at most 8 pairs).
bool tsc_in_step_under_kvm_clock() {
  if (!cpu_has_flag("constant_tsc") || !cpu_has_flag("nonstop_tsc")) return false;
  std::vector<int> cpus = allowed_cpus();
  for (usize i = 1; i < cpus.size() && i <= 8; ++i) {
    if (!tsc_in_step(cpus[0], cpus[i])) return false;
  }
  return true;
}

}  // namespace

bool tsc_is_the_clock() {
  static const bool usable = [] {
    std::string cs = current_clocksource();
    if (cs == "tsc") return true;
    return cs == "kvm-clock" && tsc_in_step_under_kvm_clock();
  }();
  return usable;
}

void init_clock() {
  static bool done = false;
  if (done) return;  // later boots in this process keep the clock running
  done = true;
  if (!tsc_is_the_clock()) return;
  Sample a = sample();
  Sample b = a;
  while (b.mono < a.mono + kNsPerMs) b = sample();
  if (b.tsc <= a.tsc) return;  // a counter that does not count: keep the host's clocks
  g_tsc0 = a.tsc;
  g_host0 = a.mono;
  g_last_adjust_tsc = b.tsc;
  g_tsc_per_sec = counts_per_sec(b.tsc - a.tsc, b.mono - a.mono);
  publish(b.tsc, b.mono, ns_mult(b.tsc - a.tsc, b.mono - a.mono), static_cast<i64>(b.real - b.mono));
  g_tsc_clock = true;
}

}  // namespace ostd::host

namespace ostd::arch {

u64 monotonic_ns() {
  if (!host::g_tsc_clock) return host::host_clock(CLOCK_MONOTONIC);
  return time_internal::load_clock(host::g_clock, host::read_counter).monotonic_ns;
}

u64 realtime_ns() {
  if (!host::g_tsc_clock) return host::host_clock(CLOCK_REALTIME);
  time_internal::ClockReading r = time_internal::load_clock(host::g_clock, host::read_counter);
  return r.monotonic_ns + static_cast<u64>(r.realtime_offset_ns);
}

ClockParams clock_params() {
  // Called with interrupts off, like every writer: a plain read is consistent.
  if (!host::g_tsc_clock) return {};
  const ostd_user_clock& c = host::g_clock;
  return {true, c.tsc_base, c.ns_base, c.mult, c.realtime_offset_ns};
}

bool clock_adjust() {
  using namespace host;
  if (!g_tsc_clock) return false;
  if (read_counter() - g_last_adjust_tsc < g_tsc_per_sec) return false;
  Sample s = sample();
  if (s.tsc <= g_tsc0 || s.mono <= g_host0) return false;
  u64 ours = ostd_user_clock_ns(s.tsc, g_clock.tsc_base, g_clock.ns_base, g_clock.mult);
  // The rate over everything since calibration, and the error to close over the next second.
  u64 rate = ns_mult(s.tsc - g_tsc0, s.mono - g_host0);
  i64 err = static_cast<i64>(s.mono - ours);
  // Real time moves with monotonic time (the host slews both alike) except when the host's
  // clock is set: follow steps, not the jitter of the two reads.
  i64 real_off = static_cast<i64>(s.real - s.mono);
  i64 old_off = g_clock.realtime_offset_ns;
  if (real_off - old_off < static_cast<i64>(kNsPerMs) && old_off - real_off < static_cast<i64>(kNsPerMs)) {
    real_off = old_off;
  }
  if (err > static_cast<i64>(100 * kNsPerMs)) {
    publish(s.tsc, s.mono, rate, real_off);  // far behind (the host was suspended): catch up
  } else {
    i64 e = std::clamp<i64>(err, -static_cast<i64>(kNsPerMs), static_cast<i64>(kNsPerMs));
    i128 mult = static_cast<i128>(rate) + static_cast<i128>(rate) * e / static_cast<i128>(kNsPerSec);
    publish(s.tsc, ours, static_cast<u64>(mult), real_off);
  }
  g_last_adjust_tsc = s.tsc;
  g_tsc_per_sec = counts_per_sec(s.tsc - g_tsc0, s.mono - g_host0);
  return true;
}

}  // namespace ostd::arch
