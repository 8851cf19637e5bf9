// Private declarations of the x86-64 backend (not visible to generic ostd code or services).
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include <ostd/types.h>

// The copy to or from user pages (entry.S); see ostd::arch::as_copy_direct.
extern "C" {
ostd::u64 x86_user_copy(void* dst, const void* src, ostd::u64 n);  // 0, or 1 after a fault
extern const char x86_user_copy_end[];                             // NOLINT: a fault before this in x86_user_copy
extern const char x86_user_copy_fault[];                           // NOLINT: resumes here
extern ostd::u8 x86_smap;                                          // NOLINT: 1 when SMAP is on (stac/clac exist)
}

namespace ostd::x86 {

// ---- virtual memory layout ----
/// All physical memory (and the MMIO hole below 4 GiB) is mapped here.
inline constexpr u64 kDirectMapBase = 0xffff800000000000ull;
/// Kernel task stacks, each with an unmapped guard page below it.
inline constexpr u64 kStackAreaBase = 0xffffc00000000000ull;
inline constexpr u64 kStackAreaSize = 1ull << 39;  // one PML4 slot
/// The kernel image is linked at kKernelVma + its physical address.
inline constexpr u64 kKernelVma = 0xffffffff80000000ull;
inline constexpr u64 kUserBase = 0x10000ull;
inline constexpr u64 kUserTop = 0x7ffffffff000ull;

// SAFETY: only forms the address; callers pass a paddr the direct map covers (all RAM
// and the MMIO hole below 4 GiB; before memory_init only the boot tables' first GiB).
inline u8* phys_ptr(Paddr p) { return reinterpret_cast<u8*>(kDirectMapBase + p); }
// SAFETY: pointer to integer only; v must point into the direct map (heap pages,
// phys_ptr results), never into the kernel image or the stack area.
inline Paddr virt_to_phys_direct(const void* v) { return reinterpret_cast<u64>(v) - kDirectMapBase; }

// ---- segment selectors ----
inline constexpr u16 kKernelCs = 0x08;
inline constexpr u16 kKernelDs = 0x10;
inline constexpr u16 kUserDs = 0x18 | 3;
inline constexpr u16 kUserCs = 0x20 | 3;
inline constexpr u16 kTssSel = 0x28;

// ---- traps ----
/// Why user mode was left, as entry.S records it (one CPU: a global; per-CPU data with SMP). The
/// user registers themselves go straight into the thread's GeneralRegs, whose first 18 fields
/// entry.S addresses by offset (checked in user.cpp).
struct TrapInfo {
  u64 vector;  // kSyscallVector for `syscall`
  u64 error_code;
  u64 cr2;
};
inline constexpr u64 kSyscallVector = 0x100;

/// A trap taken in kernel mode, as entry.S pushes it.
struct KernelFrame {
  u64 rax, rbx, rcx, rdx, rsi, rdi, rbp;
  u64 r8, r9, r10, r11, r12, r13, r14, r15;
  u64 vector, error_code;
  u64 rip, cs, rflags, rsp, ss;
};

inline constexpr u32 kIrqBase = 0x20;      // IRQ vectors start here
inline constexpr u32 kTimerVector = 0x20;  // LAPIC timer -> irq line 0
inline constexpr u32 kSpuriousVector = 0xff;

// ---- port and register access ----
// SAFETY: outb touches only the I/O port: value in al, port in dx or an imm8 ("Nd").
inline void outb(u16 port, u8 v) { asm volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
inline u8 inb(u16 port) {
  u8 v;
  // SAFETY: inb touches only the I/O port; al is the declared output, the port dx/imm8.
  asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
// SAFETY: outl touches only the I/O port: value in eax, port in dx or an imm8 ("Nd").
inline void outl(u16 port, u32 v) { asm volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
inline u64 rdmsr(u32 msr) {
  u32 lo, hi;
  // SAFETY: rdmsr reads the MSR in ecx into edx:eax, all declared; callers name MSRs
  // that exist (a missing one would #GP, not corrupt memory).
  asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return (u64{hi} << 32) | lo;
}
inline void wrmsr(u32 msr, u64 v) {
  // SAFETY: ecx and edx:eax as wrmsr needs; callers write existing MSRs (STAR, LSTAR, SFMASK,
  // APIC enable, canonical FS/GS bases), none changing memory the compiler sees (no fs:/gs:).
  asm volatile("wrmsr" : : "c"(msr), "a"(static_cast<u32>(v)), "d"(static_cast<u32>(v >> 32)));
}
inline u64 rdtsc() {
  u32 lo, hi;
  // SAFETY: rdtsc only writes edx:eax, both declared outputs; it touches no memory.
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (u64{hi} << 32) | lo;
}
inline u64 read_cr3() {
  u64 v;
  // SAFETY: reading CR3 has no side effects; the result goes to a register output.
  asm volatile("mov %%cr3, %0" : "=r"(v));
  return v;
}
// SAFETY: v is the paddr of a PML4 holding the kernel half (kernel_pml4 or a copy of it);
// the "memory" clobber keeps earlier page-table stores before the switch.
inline void write_cr3(u64 v) { asm volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
inline void cpuid(u32 leaf, u32 sub, u32& a, u32& b, u32& c, u32& d) {
  // SAFETY: cpuid reads eax/ecx and writes exactly eax, ebx, ecx, edx (all declared).
  asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(leaf), "c"(sub));
}
/// The calibrated TSC frequency (0 before calibration).
u64 tsc_hz();
// SAFETY: cli/sti only change IF; the "memory" clobber stops the compiler from moving
// memory accesses across the start or end of an interrupts-off section.
inline void cli() { asm volatile("cli" ::: "memory"); }
inline void sti() { asm volatile("sti" ::: "memory"); }

inline constexpr u32 kMsrEfer = 0xc0000080;
inline constexpr u32 kMsrStar = 0xc0000081;
inline constexpr u32 kMsrLstar = 0xc0000082;
inline constexpr u32 kMsrSfmask = 0xc0000084;
inline constexpr u32 kMsrFsBase = 0xc0000100;
inline constexpr u32 kMsrGsBase = 0xc0000101;

// ---- boot-time set-up, in order (main.cpp calls them) ----
void serial_init();
/// Physical memory: builds the final kernel page tables and the heap.
/// `usable` are the firmware's usable RAM ranges.
struct RamRange {
  u64 base, size;
};
/// `keep` (the initramfs) must stay intact until it is copied: the heap may not overlap it.
void memory_init(std::span<const RamRange> usable, u64 kernel_phys_end, RamRange keep);
void cpu_init();    // GDT, TSS, IDT, syscall MSRs, FPU/XSAVE
void timer_init();  // TSC calibration, LAPIC timer, RTC
void user_init();
void ioapic_init();  // every line masked until a driver enables it
void ioapic_on_vector(u32 line);

// ---- services of one file to another ----
void serial_write(int port_index, std::string_view s);
bool serial_try_read(u8& byte);
void print_backtrace(u64 rbp);
[[noreturn]] void shutdown(int status);
/// Kernel page-table entry for [va] in the stack area (4 KiB pages, created on demand).
void map_kernel_page(u64 va, Paddr pa);
void unmap_kernel_page(u64 va);
Paddr kernel_pml4();
/// Page-sized, page-aligned allocations for page tables and stacks (zeroed).
void* alloc_pages(usize n);
void free_pages(void* p, usize n);
/// Handles an interrupt vector taken while user or kernel code ran (EOI, dispatch).
void handle_irq(u32 vector);
/// The FPU state owner is going away.
void fpu_forget(const void* owner);
u64 tsc_to_ns(u64 tsc);

}  // namespace ostd::x86
