// ostd/irq.h — interrupt lines and local interrupt masking.
//
// "Interrupts disabled" is a per-CPU flag, not a hardware/host mask on every path: an interrupt
// that arrives while it is set is recorded as pending and runs when interrupts are re-enabled.
// Interrupt handlers run with interrupts disabled, must not sleep, allocate memory or log; they
// may wake tasks, fire timers and queue deferred work. Preemption happens on interrupt return
// and when interrupts or preemption are re-enabled, never inside a handler.
#pragma once

#include <functional>

#include <ostd/error.h>
#include <ostd/types.h>

namespace ostd::irq {

/// Number of interrupt lines. Line 0 is the timer; the host backend uses 1 for child events.
inline constexpr u32 kNumLines = 32;
inline constexpr u32 kTimerLine = 0;

/// Disables local interrupts until destroyed, restoring the previous state (nests).
class [[nodiscard]] DisabledGuard {
 public:
  DisabledGuard();
  ~DisabledGuard();
  DisabledGuard(const DisabledGuard&) = delete;
  DisabledGuard& operator=(const DisabledGuard&) = delete;
  DisabledGuard(DisabledGuard&&) = delete;
  DisabledGuard& operator=(DisabledGuard&&) = delete;

 private:
  bool was_enabled_;
};

/// Disables preemption (not interrupts) until destroyed (nests).
class [[nodiscard]] PreemptGuard {
 public:
  PreemptGuard();
  ~PreemptGuard();
  PreemptGuard(const PreemptGuard&) = delete;
  PreemptGuard& operator=(const PreemptGuard&) = delete;
  PreemptGuard(PreemptGuard&&) = delete;
  PreemptGuard& operator=(PreemptGuard&&) = delete;
};

bool local_enabled();
bool in_interrupt();

/// Handler signature: runs in interrupt context.
using Handler = void (*)(u32 line, void* arg);

/// An owned interrupt line. Lines are freed when the IrqLine is destroyed.
class IrqLine {
 public:
  /// Allocates a free line (EBUSY when all are taken).
  static Result<IrqLine> alloc();
  /// Claims a specific line (EBUSY when taken, EINVAL when out of range).
  static Result<IrqLine> claim(u32 line);

  IrqLine(IrqLine&& other) noexcept;
  IrqLine& operator=(IrqLine&& other) noexcept;
  IrqLine(const IrqLine&) = delete;
  IrqLine& operator=(const IrqLine&) = delete;
  ~IrqLine();

  u32 number() const { return line_; }
  /// Sets the handler. The std::function is stored once; calling it allocates nothing.
  void on_interrupt(std::function<void(u32)> handler);
  void enable();
  void disable();
  /// Raises the line in software (as if the device fired): runs now if interrupts are enabled,
  /// otherwise when they are re-enabled.
  void raise() const;

 private:
  explicit IrqLine(u32 line) : line_(line) {}
  u32 line_;
};

/// Backend entry point: an interrupt arrived on `line`. Runs the handler now or marks it pending.
void dispatch(u32 line);

/// Counters for tests and /proc/interrupts.
u64 count(u32 line);

}  // namespace ostd::irq
