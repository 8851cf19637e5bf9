// ostd-internal declarations shared by generic code and backends (not installed for services).
#pragma once

#include <span>

#include <ostd/arch/backend.h>
#include <ostd/task.h>
#include <ostd/user_clock.h>
#include <ostd/user_mode.h>

namespace ostd {

struct TaskInternals {
  /// Picks the next task and switches to it. Interrupts must be disabled. If the current task is
  /// Running it is requeued (a yield); if Blocked or Exited it is not.
  static void schedule();
  /// Makes a Blocked task runnable. Safe from interrupt context. Returns whether it was blocked.
  static bool wake(Task& t);
  /// Called by the timer on every tick (interrupt context).
  static void tick(u64 tick_ns);
  /// Creates the idle task for this CPU from the running context.
  static void init_cpu();
  /// Runs the idle loop until stop() is true and nothing is runnable (host: run_kernel).
  static void idle_loop(bool (*stop)(void*), void* arg);
  static void set_state(Task& t, Task::State s) { t.state_ = s; }
  static void enqueue(arch::CpuLocal& c, Task* t);
  static bool requeue(arch::CpuLocal& c, Task* t, bool ahead);
  static Task* dequeue(arch::CpuLocal& c);
  static void entry_trampoline();
  static void after_switch();
  [[noreturn]] static void exit_current();
};

namespace irq_internal {
/// Runs all pending interrupt lines. Interrupts must be disabled and in_irq set by the caller.
void run_pending(arch::CpuLocal& c);
/// Re-enables interrupts: runs what is pending, then preempts if needed.
void enable_local();
/// The interrupt-return preemption point (backends call it when the interrupted code may be
/// preempted); interrupts must be enabled.
void preempt_on_irq_return();
}  // namespace irq_internal

namespace time_internal {
void init();
void on_timer_interrupt();
/// The sequence lock over clock parameters in the clock page's layout (ostd/user_clock.h),
/// shared by the clock page and the host backend's own copy. One writer at a time (interrupts
/// off); readers retry while an update is under way.
void store_clock(ostd_user_clock& c, const arch::ClockParams& p);
struct ClockReading {
  u64 monotonic_ns;
  i64 realtime_offset_ns;
};
/// Reads the counter with `read_counter` inside the lock, so the reading and the parameters
/// belong together, and applies the formula.
ClockReading load_clock(const ostd_user_clock& c, u64 (*read_counter)());
}  // namespace time_internal

namespace fpu_internal {
/// A thread's saved FPU image (`img`: the 512-byte FXSAVE area, or an XSAVE standard-format
/// image of the CPU's size when `xsave`) as an FpuState.
FpuState load_image(std::span<const u8> img, bool xsave, u64 xfeatures);
/// Writes `s` into such an image as UserMode::set_fpu_state says: bytes 464..511 kept, MXCSR
/// limited to `mxcsr_mask` (0: the default 0xffbf), the XSAVE header made loadable (XSTATE_BV
/// within xfeatures and with x87/SSE set, XCOMP_BV and the reserved bytes zero), the extended
/// components replaced only when `s.xsave` has the image's size, else set to their initial state.
void store_image(std::span<u8> img, bool xsave, u64 xfeatures, const FpuState& s, u32 mxcsr_mask);
}  // namespace fpu_internal

namespace mm_internal {
/// Frame allocator refcount access for the page table (ostd-internal).
void frame_add_ref(Paddr p);
void frame_release(Paddr p);
}  // namespace mm_internal

}  // namespace ostd
