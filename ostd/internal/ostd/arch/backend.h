// ostd/arch/backend.h — what each backend (host, x86_64, riscv64) provides to ostd's generic
// code. Not for services: the boundary gate rejects any services/ include of ostd/arch/.
// Backends are chosen at link time; there is no virtual dispatch on these paths.
#pragma once

#include <atomic>
#include <memory>
#include <span>
#include <string_view>

#include <ostd/cpu.h>
#include <ostd/error.h>
#include <ostd/log.h>
#include <ostd/mm/vm_space.h>
#include <ostd/types.h>
#include <ostd/user_mode.h>

namespace ostd {
class Task;
}

namespace ostd::arch {

/// Per-CPU state shared by generic code and the backend's interrupt entry.
struct CpuLocal {
  u32 id = 0;
  /// Virtual interrupt mask: an interrupt arriving while set is only recorded in `pending`.
  std::atomic<bool> irq_disabled{true};
  std::atomic<u32> pending{0};
  std::atomic<bool> in_irq{false};
  u32 preempt_count = 0;
  std::atomic<bool> need_resched{false};
  /// True while the CPU's idle loop waits; an interrupt that wakes a task then kicks the CPU.
  std::atomic<bool> idle_waiting{false};
  Task* current = nullptr;
  Task* idle = nullptr;
  Task* rq_head = nullptr;
  Task* rq_tail = nullptr;
  u64 nr_runnable = 0;
  u64 context_switches = 0;
  u64 preemptions = 0;
};
CpuLocal& cpu_local();

// ---- tasks ----
/// Creates a context that will run `entry()` on a fresh stack of at least stack_size bytes.
Result<std::unique_ptr<TaskContext, TaskContextDeleter>> create_task_context(usize stack_size, void (*entry)());
/// A context for the code already running on this CPU (the boot/idle context).
std::unique_ptr<TaskContext, TaskContextDeleter> create_boot_context();
/// Saves the current context into `from` and resumes `to`. `from_dying` tells the backend
/// that `from` will never be resumed (sanitizer bookkeeping).
void switch_context(TaskContext& from, TaskContext& to, bool from_dying);

// ---- interrupts and idle ----
/// Waits until an interrupt or device event may have made a task runnable. Called by the idle
/// task with interrupts disabled; returns with interrupts disabled.
void idle_wait();
/// An interrupt handler woke a task while the CPU was idle-waiting: make idle_wait() return.
void kick_idle();
/// Whether the interrupted code (backend-specific handle) may be preempted at this point.

/// Interrupt lines of devices (x86: line n is GSI n through the IOAPIC). `level` for
/// level-triggered lines (PCI INTx). Lines start masked; the line follows IrqLine::enable().
void irq_route(u32 line, bool level);
void irq_line_set_enabled(u32 line, bool enabled);
/// Called after the handlers of `line` ran (a level-triggered line masked on arrival reopens).
void irq_line_done(u32 line);

// ---- time ----
u64 monotonic_ns();
u64 realtime_ns();
/// How monotonic_ns() and realtime_ns() follow the time-stamp counter (ostd/user_clock.h), for
/// the clock page; `tsc` false when they do not (user code must then ask the kernel).
struct ClockParams {
  bool tsc = false;
  u64 tsc_base = 0;
  u64 ns_base = 0;
  u64 mult = 0;
  i64 realtime_offset_ns = 0;
};
ClockParams clock_params();
/// Called from the timer interrupt: the backend may resynchronise its clock (the host backend
/// slews its TSC clock towards the host's). True when clock_params() changed.
bool clock_adjust();
u32 tick_hz();
/// Programs the one-shot timer interrupt for `deadline_ns` (monotonic); the backend fires the
/// timer line at or after it.
void set_timer_deadline(u64 deadline_ns);

// ---- physical memory ----
/// The usable physical range [base, base + size) managed by the frame allocator.
struct PhysRange {
  Paddr base;
  u64 size;
};
std::span<const PhysRange> phys_ranges();
/// The direct map: kernel pointer to physical address `p` (ostd-internal code only).
u8* phys_to_virt(Paddr p);
/// Frames [base, base + bytes) are about to be used for the first time (the allocator hands
/// them out in 2 MiB steps of a high-water mark). The host backend backs their direct-map pages
/// in one call: a first touch costs a host page fault each, ~10 us on virtual machines.
void prepare_frames(Paddr base, u64 bytes);

// ---- address spaces ----
Vaddr user_base();
Vaddr user_top();
Result<std::unique_ptr<AddressSpace, AddressSpaceDeleter>> create_address_space();
/// Records a mapping change; the backend applies it before `flush` returns.
void as_map(AddressSpace& as, Vaddr va, Paddr pa, usize npages, PageFlags flags);
void as_unmap(AddressSpace& as, Vaddr va, usize npages);
void as_protect(AddressSpace& as, Vaddr va, usize npages, PageFlags flags);
Result<void> as_flush(AddressSpace& as);
/// Copies between `kbuf` and user memory at [va, va + kbuf.size()) of `as` through the CPU's
/// own translation, when `as` is the space the CPU has loaded and `as_lock` (the VmSpace's
/// lock) is free: no task can change the space during the copy. Returns the bytes copied — all
/// of them, or 0 (not the loaded space, locked, a fault, or a backend without the means), in
/// which case the caller copies through the page table with the lock held.
usize as_copy_direct(AddressSpace& as, const Mutex& as_lock, Vaddr va, std::span<u8> kbuf, bool to_user);

// ---- user mode ----
Result<std::unique_ptr<UserThread, UserThreadDeleter>> create_user_thread(VmSpace& vm);
ReturnReason user_execute(UserThread& t, VmSpace& vm, UserContext& ctx, void* pred, bool (*call)(void*));
Result<FpuState> user_get_fpu(UserThread& t);
Result<void> user_set_fpu(UserThread& t, const FpuState& s);
void user_notify_kernel_event();
bool user_runs_beside_kernel();
/// UserMode::barrier_all_user_cpus().
Result<void> user_barrier_all_cpus();
/// UserMode::fast_syscall_entry(): the entry pointer's offset from the GS base, 0 for none.
u32 user_fast_syscall_gs_offset();
/// Bytes of a user thread's FPU image (UserMode::fpu_image_size).
usize user_fpu_image_size();

// ---- devices (ostd/dev/io.h) ----
/// Whether the machine has x86 I/O ports at all (false on the host backend).
bool has_io_ports();
/// Whether drivers may use port `port` (false for ports the backend itself owns).
bool io_port_available(u16 port);
u32 io_port_read(u16 port, int width);
void io_port_write(u16 port, int width, u32 value);
/// PCI configuration space (aligned dword access); pci_present() false where there is none.
bool pci_present();
u32 pci_config_read32(u8 bus, u8 device, u8 function, u16 offset);
void pci_config_write32(u8 bus, u8 device, u8 function, u16 offset, u32 value);

// ---- the CPU (ostd/cpu.h) ----
/// Describes the boot CPU; called once, after boot.
CpuDescription describe_cpu();
void fill_entropy(std::span<u8> out);

// ---- console, log, halt ----
void log_write(LogLevel level, std::string_view module, std::string_view message);
[[noreturn]] void halt_on_panic(std::string_view message);

}  // namespace ostd::arch
