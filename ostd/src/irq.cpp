#include <array>

#include <ostd/internal.h>
#include <ostd/irq.h>
#include <ostd/log.h>

namespace ostd::irq {

namespace {

struct LineState {
  std::function<void(u32)> handler;
  std::atomic<u64> count{0};
  bool allocated = false;
  bool enabled = false;
};

std::array<LineState, kNumLines>& lines() {
  static std::array<LineState, kNumLines> l;
  return l;
}

void run_line(u32 line) {
  LineState& s = lines().at(line);
  s.count.fetch_add(1, std::memory_order_relaxed);
  if (s.enabled && s.handler) {
    s.handler(line);
  }
  arch::irq_line_done(line);
}

}  // namespace

DisabledGuard::DisabledGuard() {
  was_enabled_ = !arch::cpu_local().irq_disabled.exchange(true, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

DisabledGuard::~DisabledGuard() {
  if (was_enabled_) {
    irq_internal::enable_local();
  }
}

PreemptGuard::PreemptGuard() {
  ++arch::cpu_local().preempt_count;
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

PreemptGuard::~PreemptGuard() {
  auto& c = arch::cpu_local();
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (--c.preempt_count == 0 && !c.irq_disabled.load(std::memory_order_relaxed) &&
      c.need_resched.load(std::memory_order_relaxed)) {
    DisabledGuard g;
    TaskInternals::schedule();
  }
}

bool local_enabled() { return !arch::cpu_local().irq_disabled.load(std::memory_order_relaxed); }
bool in_interrupt() { return arch::cpu_local().in_irq.load(std::memory_order_relaxed); }

Result<IrqLine> IrqLine::alloc() {
  DisabledGuard g;
  for (u32 i = 1; i < kNumLines; ++i) {
    if (!lines().at(i).allocated) {
      lines().at(i).allocated = true;
      return IrqLine(i);
    }
  }
  return Errno::ebusy;
}

Result<IrqLine> IrqLine::claim(u32 line) {
  if (line >= kNumLines) return Errno::einval;
  DisabledGuard g;
  if (lines().at(line).allocated) return Errno::ebusy;
  lines().at(line).allocated = true;
  return IrqLine(line);
}

IrqLine::IrqLine(IrqLine&& other) noexcept : line_(other.line_) { other.line_ = kNumLines; }
IrqLine& IrqLine::operator=(IrqLine&& other) noexcept {
  if (this != &other) {
    this->~IrqLine();
    line_ = other.line_;
    other.line_ = kNumLines;
  }
  return *this;
}

IrqLine::~IrqLine() {
  if (line_ >= kNumLines) return;
  std::function<void(u32)> old;
  {
    DisabledGuard g;
    LineState& s = lines().at(line_);
    s.enabled = false;
    s.allocated = false;
    arch::irq_line_set_enabled(line_, false);
    old = std::move(s.handler);
    s.handler = nullptr;
  }
  line_ = kNumLines;
}

void IrqLine::on_interrupt(std::function<void(u32)> handler) {
  DisabledGuard g;
  std::swap(lines().at(line_).handler, handler);
}
void IrqLine::enable() {
  DisabledGuard g;
  lines().at(line_).enabled = true;
  arch::irq_line_set_enabled(line_, true);
}
void IrqLine::disable() {
  DisabledGuard g;
  lines().at(line_).enabled = false;
  arch::irq_line_set_enabled(line_, false);
}
void IrqLine::raise() const { dispatch(line_); }

void dispatch(u32 line) {
  auto& c = arch::cpu_local();
  c.pending.fetch_or(1u << line, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (c.irq_disabled.load(std::memory_order_relaxed)) {
    return;  // runs when interrupts are re-enabled
  }
  c.irq_disabled.store(true, std::memory_order_relaxed);
  irq_internal::run_pending(c);
  c.irq_disabled.store(false, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  while (c.pending.load(std::memory_order_relaxed) != 0) {
    // Something arrived between the last drain and re-enabling.
    if (c.irq_disabled.exchange(true, std::memory_order_relaxed)) break;
    irq_internal::run_pending(c);
    c.irq_disabled.store(false, std::memory_order_relaxed);
  }
}

u64 count(u32 line) { return line < kNumLines ? lines().at(line).count.load() : 0; }

}  // namespace ostd::irq

namespace ostd::irq_internal {

void run_pending(arch::CpuLocal& c) {
  bool was_in_irq = c.in_irq.exchange(true, std::memory_order_relaxed);
  for (;;) {
    u32 bits = c.pending.exchange(0, std::memory_order_relaxed);
    if (bits == 0) break;
    for (u32 line = 0; line < irq::kNumLines; ++line) {
      if ((bits & (1u << line)) != 0) {
        irq::run_line(line);
      }
    }
  }
  c.in_irq.store(was_in_irq, std::memory_order_relaxed);
}

void enable_local() {
  auto& c = arch::cpu_local();
  std::atomic_signal_fence(std::memory_order_seq_cst);
  while (c.pending.load(std::memory_order_relaxed) != 0) {
    run_pending(c);
  }
  c.irq_disabled.store(false, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  // An interrupt between the drain and the store ran itself (the flag was clear) or left a
  // pending bit we pick up here.
  if (c.pending.load(std::memory_order_relaxed) != 0) {
    c.irq_disabled.store(true, std::memory_order_relaxed);
    enable_local();
    return;
  }
  if (c.need_resched.load(std::memory_order_relaxed) && c.preempt_count == 0 &&
      !c.in_irq.load(std::memory_order_relaxed)) {
    c.irq_disabled.store(true, std::memory_order_relaxed);
    TaskInternals::schedule();
    enable_local();
  }
}

void preempt_on_irq_return() {
  auto& c = arch::cpu_local();
  if (!c.need_resched.load(std::memory_order_relaxed) || c.preempt_count != 0 ||
      c.in_irq.load(std::memory_order_relaxed) || c.current == c.idle) {
    return;
  }
  if (c.irq_disabled.exchange(true, std::memory_order_relaxed)) return;
  ++c.preemptions;
  TaskInternals::schedule();
  enable_local();
}

}  // namespace ostd::irq_internal
