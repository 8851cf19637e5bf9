#include <atomic>
#include <optional>

#include <ostd/internal.h>
#include <ostd/irq.h>
#include <ostd/log.h>
#include <ostd/time.h>
#include <ostd/user_clock.h>

namespace ostd {

// The armed timers, sorted by (deadline, arming order). Interrupts off protects it (one CPU).
struct TimerQueue {
  Timer* head = nullptr;
  u64 seq = 0;
  u64 jiffies = 0;
  u64 next_tick = 0;
  u64 tick_ns = 0;
  u64 programmed = ~u64{0};

  void insert(Timer* t) {
    t->seq_ = ++seq;
    Timer** pp = &head;
    while (*pp != nullptr && (*pp)->deadline_ <= t->deadline_) pp = &(*pp)->next_;
    t->next_ = *pp;
    *pp = t;
    t->armed_ = true;
  }
  bool remove(Timer* t) {
    if (!t->armed_) return false;
    for (Timer** pp = &head; *pp != nullptr; pp = &(*pp)->next_) {
      if (*pp == t) {
        *pp = t->next_;
        t->next_ = nullptr;
        t->armed_ = false;
        return true;
      }
    }
    panic("armed timer missing from the timer queue");
  }
  void fire_expired(u64 now) {
    while (head != nullptr && head->deadline_ <= now) {
      Timer* t = head;
      head = t->next_;
      t->next_ = nullptr;
      t->armed_ = false;
      if (t->callback_) t->callback_();
    }
  }
  void program() {
    u64 next = next_tick;
    if (head != nullptr && head->deadline_ < next) next = head->deadline_;
    programmed = next;
    arch::set_timer_deadline(next);
  }
};

namespace {
TimerQueue& queue() {
  static TimerQueue q;
  return q;
}
}  // namespace

namespace {
// What clock_settime added to the backend's real time.
std::atomic<i64> g_realtime_delta{0};
}  // namespace

u64 monotonic_ns() { return arch::monotonic_ns(); }
u64 realtime_ns() { return arch::realtime_ns() + static_cast<u64>(g_realtime_delta.load(std::memory_order_relaxed)); }
u64 jiffies() { return queue().jiffies; }
u32 tick_hz() { return arch::tick_hz(); }

Timer::Timer(std::function<void()> callback) : callback_(std::move(callback)) {}

Timer::~Timer() { cancel(); }

void Timer::arm_at(u64 deadline_ns) {
  irq::DisabledGuard g;
  TimerQueue& q = queue();
  q.remove(this);
  deadline_ = deadline_ns;
  q.insert(this);
  if (deadline_ns < q.programmed) q.program();
}

bool Timer::cancel() {
  irq::DisabledGuard g;
  return queue().remove(this);
}

namespace time_internal {

void init() {
  static std::optional<irq::IrqLine> line;
  if (!line) {
    auto claimed = irq::IrqLine::claim(irq::kTimerLine);
    if (claimed.is_error()) panic("timer interrupt line is taken");
    line.emplace(claimed.release_value());
    line->on_interrupt([](u32) { on_timer_interrupt(); });
    line->enable();
  }
  irq::DisabledGuard g;
  TimerQueue& q = queue();
  q.tick_ns = kNsPerSec / arch::tick_hz();
  if (q.next_tick == 0) q.next_tick = arch::monotonic_ns() + q.tick_ns;
  q.program();
}

// ---- the clock page ----

std::optional<Frame>& clock_page_slot() {
  static std::optional<Frame> page;
  return page;
}

void store_clock(ostd_user_clock& c, const arch::ClockParams& p) {
  std::atomic_ref<u32> seq(c.seq);
  u32 s = seq.load(std::memory_order_relaxed);
  seq.store(s + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  std::atomic_ref<u32>(c.mode).store(p.tsc ? OSTD_USER_CLOCK_TSC : OSTD_USER_CLOCK_SYSCALL, std::memory_order_relaxed);
  std::atomic_ref<u64>(c.tsc_base).store(p.tsc_base, std::memory_order_relaxed);
  std::atomic_ref<u64>(c.ns_base).store(p.ns_base, std::memory_order_relaxed);
  std::atomic_ref<u64>(c.mult).store(p.mult, std::memory_order_relaxed);
  std::atomic_ref<i64>(c.realtime_offset_ns).store(p.realtime_offset_ns, std::memory_order_relaxed);
  seq.store(s + 2, std::memory_order_release);
}

ClockReading load_clock(const ostd_user_clock& c, u64 (*read_counter)()) {
  // SAFETY: atomic_ref needs a non-const T&; only loads go through m, and the clocks passed in
  // (host::g_clock, the clock page) are non-const objects.
  auto& m = const_cast<ostd_user_clock&>(c);  // atomic_ref needs non-const; only loads here
  for (;;) {
    u32 s = std::atomic_ref<u32>(m.seq).load(std::memory_order_acquire);
    u64 tsc = read_counter();
    u64 base = std::atomic_ref<u64>(m.tsc_base).load(std::memory_order_relaxed);
    u64 ns = std::atomic_ref<u64>(m.ns_base).load(std::memory_order_relaxed);
    u64 mult = std::atomic_ref<u64>(m.mult).load(std::memory_order_relaxed);
    i64 off = std::atomic_ref<i64>(m.realtime_offset_ns).load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if ((s & 1) == 0 && std::atomic_ref<u32>(m.seq).load(std::memory_order_relaxed) == s) {
      return {ostd_user_clock_ns(tsc, base, ns, mult), off};
    }
  }
}

// Writes the backend's clock parameters into the page (interrupts off: the only writer).
void publish_user_clock() {
  std::optional<Frame>& page = clock_page_slot();
  if (!page) return;
  arch::ClockParams p = arch::clock_params();
  p.realtime_offset_ns += g_realtime_delta.load(std::memory_order_relaxed);
  // SAFETY: page is a live Frame (held in clock_page_slot): 4096 page-aligned bytes, room for
  // the trivial ostd_user_clock; interrupts are off and this is its only writer.
  store_clock(*reinterpret_cast<ostd_user_clock*>(arch::phys_to_virt(page->paddr())), p);
}

void on_timer_interrupt() {
  if (arch::clock_adjust()) publish_user_clock();
  TimerQueue& q = queue();
  u64 now = arch::monotonic_ns();
  if (now >= q.next_tick) {
    u64 missed = (now - q.next_tick) / q.tick_ns;
    q.jiffies += 1 + missed;
    q.next_tick += (1 + missed) * q.tick_ns;
    TaskInternals::tick(q.tick_ns);
    arch::user_notify_kernel_event();
  }
  q.fire_expired(now);
  q.program();
}

}  // namespace time_internal

}  // namespace ostd

namespace ostd {

Result<Frame> user_clock_page() {
  std::optional<Frame>& page = time_internal::clock_page_slot();
  if (!page) {
    Frame f = TRY(Frame::alloc());  // zeroed: mode 0 (ask the kernel) until published
    irq::DisabledGuard g;
    if (!page) {
      page = std::move(f);
      time_internal::publish_user_clock();
    }
  }
  return *page;
}

}  // namespace ostd

namespace ostd {

void set_realtime_ns(u64 ns) {
  irq::DisabledGuard g;
  g_realtime_delta.store(static_cast<i64>(ns - arch::realtime_ns()), std::memory_order_relaxed);
  time_internal::publish_user_clock();
}

}  // namespace ostd
