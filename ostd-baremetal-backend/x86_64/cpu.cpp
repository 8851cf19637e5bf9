// The CPU: GDT/TSS, IDT and traps taken in kernel mode, the legacy PIC (masked), the local APIC
// and its timer, the TSC clock, the CMOS real-time clock, FPU/XSAVE set-up, and the idle loop.
// One CPU for now; per-CPU state is kept per CPU (cpu_local) so SMP is a matter of more of them.
#include <cstring>

#include <ostd/internal.h>
#include <ostd/boot.h>
#include <ostd/irq.h>
#include <ostd/log.h>
#include <ostd/time.h>

#include "x86.h"

extern "C" {
ostd::u8 x86_smap = 0;            // NOLINT: read by x86_user_copy
extern char x86_vectors_start[];  // NOLINT
void syscall_entry();
struct __attribute__((packed)) Tss {
  ostd::u32 reserved0;
  ostd::u64 rsp[3];
  ostd::u64 reserved1;
  ostd::u64 ist[7];
  ostd::u64 reserved2;
  ostd::u16 reserved3;
  ostd::u16 iopb_offset;
};
Tss x86_tss;  // entry.S writes rsp0 (offset 4)
}
static_assert(sizeof(Tss) == 104);

namespace ostd::arch {
namespace {
CpuLocal g_cpu;
}
CpuLocal& cpu_local() { return g_cpu; }
}  // namespace ostd::arch

namespace ostd::x86 {

namespace {
constexpr Logger kLog{"x86"};

alignas(16) u64 g_gdt[7] = {
    0,
    0x00af9a000000ffffull,  // 0x08 kernel code
    0x00cf92000000ffffull,  // 0x10 kernel data
    0x00cff2000000ffffull,  // 0x18 user data
    0x00affa000000ffffull,  // 0x20 user code (64-bit)
    0,
    0,  // 0x28 TSS
};

struct __attribute__((packed)) DescPtr {
  u16 limit;
  u64 base;
};

struct IdtEntry {
  u16 off_lo;
  u16 sel;
  u8 ist;
  u8 type;
  u16 off_mid;
  u32 off_hi;
  u32 zero;
};
alignas(16) IdtEntry g_idt[256];

alignas(16) u8 g_ist_stacks[3][16 * 1024];

volatile u32* g_lapic = nullptr;
u64 g_tsc_hz = 0;
u64 g_tsc0 = 0;
u64 g_ns_mult = 0;  // ns = (tsc * mult) >> 32
u64 g_lapic_hz = 0;
u64 g_lapic_mult = 0;  // APIC timer ticks = (ns * mult) >> 32
u64 g_boot_realtime_ns = 0;
u32 g_hz = 250;

void lapic_write(u32 reg, u32 v) { g_lapic[reg / 4] = v; }
u32 lapic_read(u32 reg) { return g_lapic[reg / 4]; }

void set_gate(u32 v, u8 type, u8 ist) {
  // SAFETY: only an address is formed: entry.S emits 256 stubs, each .p2align 4 and under 16
  // bytes, from x86_vectors_start, so stub v (v < 256 at every call) starts at +16 * v.
  u64 addr = reinterpret_cast<u64>(x86_vectors_start) + 16 * v;
  g_idt[v] = IdtEntry{static_cast<u16>(addr),       kKernelCs, ist, type, static_cast<u16>(addr >> 16),
                      static_cast<u32>(addr >> 32), 0};
}

const char* vector_name(u64 v) {
  // clang-format off
  static const char* const names[] = {
      "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
      "#BR bound range", "#UD invalid opcode", "#NM device not available", "#DF double fault",
      "coprocessor segment overrun", "#TS invalid TSS", "#NP segment not present",
      "#SS stack fault", "#GP general protection", "#PF page fault", "reserved",
      "#MF x87 floating point", "#AC alignment check", "#MC machine check",
      "#XM SIMD floating point", "#VE virtualization", "#CP control protection"};
  // clang-format on
  return v < sizeof names / sizeof names[0] ? names[v] : "exception";
}

void pit_wait_start(u16 count) {
  outb(0x61, static_cast<u8>((inb(0x61) & ~0x02) | 0x01));  // gate on, speaker off
  outb(0x43, 0xb0);                                         // channel 2, mode 0, lo/hi
  outb(0x42, static_cast<u8>(count));
  outb(0x42, static_cast<u8>(count >> 8));
}
bool pit_done() { return (inb(0x61) & 0x20) != 0; }

u8 cmos(u8 reg) {
  outb(0x70, reg);
  return inb(0x71);
}

u64 days_from_civil(i64 y, u32 m, u32 d) {  // days since 1970-01-01
  y -= m <= 2 ? 1 : 0;
  i64 era = (y >= 0 ? y : y - 399) / 400;
  u64 yoe = static_cast<u64>(y - era * 400);
  u64 doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  u64 doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<u64>(era * 146097 + static_cast<i64>(doe) - 719468);
}

u64 read_rtc_ns() {
  while ((cmos(0x0a) & 0x80) != 0) {}
  u8 sec = cmos(0), min = cmos(2), hour = cmos(4), day = cmos(7), mon = cmos(8), year = cmos(9);
  u8 b = cmos(0x0b);
  auto bcd = [&](u8 v) -> u32 { return (b & 4) != 0 ? v : (v & 15) + (v >> 4) * 10; };
  bool pm = (hour & 0x80) != 0;
  u32 h = bcd(hour & 0x7f);
  if ((b & 2) == 0) h = (h % 12) + (pm ? 12 : 0);
  u64 days = days_from_civil(2000 + bcd(year), bcd(mon), bcd(day));
  u64 secs = days * 86400 + h * 3600 + bcd(min) * 60 + bcd(sec);
  return secs * kNsPerSec;
}

}  // namespace

void cpu_init() {
  // TSS with IST stacks for #DF, NMI and #MC.
  for (int i = 0; i < 3; ++i) {
    // SAFETY: address arithmetic only: one past the end of static IST stack i, its initial rsp.
    x86_tss.ist[i] = reinterpret_cast<u64>(g_ist_stacks[i] + sizeof g_ist_stacks[i]);
  }
  x86_tss.iopb_offset = sizeof(Tss);
  // SAFETY: only the address of the static TSS is taken, to encode it in its GDT descriptor.
  u64 base = reinterpret_cast<u64>(&x86_tss);
  u64 limit = sizeof(Tss) - 1;
  g_gdt[5] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) | (((limit >> 16) & 0xf) << 48) |
             (((base >> 24) & 0xff) << 56);
  g_gdt[6] = base >> 32;
  // SAFETY: gdtr covers the static g_gdt ("memory" orders the writes above); 0x08/0x10 equal the
  // boot GDT's (user + TSS added); rax is clobbered; push/lretq is fine (-mno-red-zone).
  DescPtr gdtr{sizeof g_gdt - 1, reinterpret_cast<u64>(g_gdt)};
  asm volatile(
      "lgdt %0\n"
      "pushq $0x08\n"
      "leaq 1f(%%rip), %%rax\n"
      "pushq %%rax\n"
      "lretq\n"
      "1:\n"
      "movw $0x10, %%ax\n"
      "movw %%ax, %%ds\n"
      "movw %%ax, %%es\n"
      "movw %%ax, %%ss\n"
      "movw $0x28, %%ax\n"
      "ltr %%ax\n"
      :
      : "m"(gdtr)
      : "rax", "memory");

  for (u32 v = 0; v < 256; ++v) set_gate(v, 0x8e, 0);
  set_gate(3, 0xee, 0);  // int3 and into from user mode are #BP/#OF, not #GP
  set_gate(4, 0xee, 0);
  set_gate(8, 0x8e, 1);
  set_gate(2, 0x8e, 2);
  set_gate(18, 0x8e, 3);
  // SAFETY: idtr covers the static g_idt, every gate of which points at an entry.S stub (above).
  DescPtr idtr{sizeof g_idt - 1, reinterpret_cast<u64>(g_idt)};
  asm volatile("lidt %0" : : "m"(idtr));

  // SMEP and SMAP: the kernel never executes user pages, and touches them only in ostd's user
  // copies (x86_user_copy opens the window with stac; everything else goes through the direct
  // map), so any other access is a bug and faults.
  u32 a, b, c, d;
  cpuid(0, 0, a, b, c, d);
  if (a >= 7) {
    cpuid(7, 0, a, b, c, d);
    u64 cr4;
    // SAFETY: reading CR4 into a register has no memory effects.
    asm volatile("mov %%cr4, %0" : "=r"(cr4));
    if ((b & (1u << 7)) != 0) cr4 |= 1ull << 20;  // SMEP
    if ((b & (1u << 20)) != 0) {
      cr4 |= 1ull << 21;  // SMAP
      x86_smap = 1;
    }
    // SAFETY: sets only SMEP/SMAP, which CPUID.7 EBX reports; with SMAP the kernel reaches user
    // pages only in x86_user_copy (stac/clac when x86_smap), all else uses the direct map.
    asm volatile("mov %0, %%cr4" : : "r"(cr4));
  }

  // System calls: CS/SS for syscall (0x08/0x10) and sysret (0x23/0x1b).
  wrmsr(kMsrStar, (u64{0x10} << 48) | (u64{kKernelCs} << 32));
  // SAFETY: LSTAR takes the address of syscall_entry (entry.S), the 64-bit `syscall` target.
  wrmsr(kMsrLstar, reinterpret_cast<u64>(&syscall_entry));
  wrmsr(kMsrSfmask, 0x47700);  // TF, DF, IF, IOPL, AC, NT

  // The legacy PIC: remapped out of the exception range, then masked for good.
  outb(0x20, 0x11);
  outb(0xa0, 0x11);
  outb(0x21, 0x20);
  outb(0xa1, 0x28);
  outb(0x21, 4);
  outb(0xa1, 2);
  outb(0x21, 1);
  outb(0xa1, 1);
  outb(0x21, 0xff);
  outb(0xa1, 0xff);
}

void timer_init() {
  u64 apic_base = rdmsr(0x1b);
  wrmsr(0x1b, apic_base | (1u << 11));
  // SAFETY: the LAPIC page (APIC_BASE bits 12-31: assumed below 4 GiB) is in the direct map,
  // PCD|PWT as non-RAM; g_lapic is only indexed by register offsets / 4 within that page.
  g_lapic = reinterpret_cast<volatile u32*>(phys_ptr(apic_base & 0xfffff000));
  lapic_write(0xf0, 0x100 | kSpuriousVector);  // enable, spurious vector
  lapic_write(0x80, 0);                        // accept every priority
  lapic_write(0x3e0, 0x3);                     // divide by 16
  lapic_write(0x320, 1u << 16);                // timer masked during calibration

  // Calibrate the TSC and the APIC timer against PIT channel 2 (10 ms).
  constexpr u16 kPitCount = 11932;  // 1193182 Hz / 100
  pit_wait_start(kPitCount);
  lapic_write(0x380, 0xffffffff);
  u64 t0 = rdtsc();
  while (!pit_done()) {}
  u64 t1 = rdtsc();
  u32 left = lapic_read(0x390);
  lapic_write(0x380, 0);
  u64 elapsed_ns = u64{kPitCount} * kNsPerSec / 1193182;
  g_tsc_hz = (t1 - t0) * kNsPerSec / elapsed_ns;
  g_lapic_hz = static_cast<u64>(0xffffffffu - left) * kNsPerSec / elapsed_ns;
  if (g_tsc_hz == 0 || g_lapic_hz == 0) panic("timer calibration failed");
  g_ns_mult = (kNsPerSec << 32) / g_tsc_hz;
  g_lapic_mult = (g_lapic_hz << 32) / kNsPerSec;
  g_tsc0 = t0;
  g_boot_realtime_ns = read_rtc_ns();
  kLog.info("TSC {} kHz, APIC timer {} kHz", g_tsc_hz / 1000, g_lapic_hz / 1000);
}

void set_hz(u32 hz) { g_hz = hz == 0 ? 250 : hz; }

u64 tsc_hz() { return g_tsc_hz; }

u64 tsc_to_ns(u64 tsc) { return static_cast<u64>((static_cast<unsigned __int128>(tsc) * g_ns_mult) >> 32); }

void handle_irq(u32 vector) {
  if (vector == kSpuriousVector) return;
  u32 line = vector - kIrqBase;
  ioapic_on_vector(line);
  lapic_write(0xb0, 0);  // EOI
  if (line < irq::kNumLines) irq::dispatch(line);
}

namespace {
// "  0x<16 hex digits>\n" on the log port, without allocating (a panic may be about the heap).
void print_code_address(u64 a) {
  char buf[21] = "  0x";
  const char* hex = "0123456789abcdef";
  for (int s = 60, n = 4; s >= 0; s -= 4) buf[n++] = hex[(a >> s) & 15];
  buf[20] = '\n';
  serial_write(1, std::string_view(buf, sizeof buf));
}
}  // namespace

void print_backtrace(u64 rbp) {
  for (int depth = 0; depth < 32; ++depth) {
    if (rbp < kDirectMapBase || (rbp & 7) != 0) break;
    // SAFETY: best effort on a dying kernel: rbp is 8-aligned and above the direct-map base, and
    // with -fno-omit-frame-pointer assumed to be a live frame (a corrupt chain would fault).
    auto* fp = reinterpret_cast<const u64*>(rbp);
    u64 ret = fp[1];
    if (ret < kKernelVma) break;
    print_code_address(ret);
    rbp = fp[0];
  }
}

}  // namespace ostd::x86

using namespace ostd;
using namespace ostd::x86;

extern "C" void trap_from_kernel(KernelFrame* f) {
  if (f->vector >= kIrqBase) {
    handle_irq(static_cast<u32>(f->vector));
    sti();
    irq_internal::preempt_on_irq_return();
    cli();
    return;
  }
  // SAFETY: code addresses are only compared; resuming at x86_user_copy_fault is how entry.S
  // ends a fault inside [x86_user_copy, x86_user_copy_end): it returns 1 and does clac.
  if (f->vector == 14 && f->rip >= reinterpret_cast<u64>(x86_user_copy) &&
      f->rip < reinterpret_cast<u64>(x86_user_copy_end)) {
    f->rip = reinterpret_cast<u64>(x86_user_copy_fault);  // as_copy_direct falls back
    return;
  }
  if (f->vector == 2) {
    serial_write(1, "NMI\n");
    return;
  }
  u64 cr2;
  // SAFETY: reading CR2 (the faulting address) into a register has no memory effects.
  asm volatile("mov %%cr2, %0" : "=r"(cr2));
  std::string msg = format(
      "kernel fault: {} (vector {}, error {:#x}) at rip {:#x}, cr2 {:#x}\n"
      "rax {:#x} rbx {:#x} rcx {:#x} rdx {:#x}\n"
      "rsi {:#x} rdi {:#x} rbp {:#x} rsp {:#x}\n"
      "r8  {:#x} r9  {:#x} r10 {:#x} r11 {:#x}\n"
      "r12 {:#x} r13 {:#x} r14 {:#x} r15 {:#x}\n"
      "rflags {:#x} cs {:#x} ss {:#x}",
      std::string_view(vector_name(f->vector)), f->vector, f->error_code, f->rip, cr2, f->rax, f->rbx, f->rcx, f->rdx,
      f->rsi, f->rdi, f->rbp, f->rsp, f->r8, f->r9, f->r10, f->r11, f->r12, f->r13, f->r14, f->r15, f->rflags, f->cs,
      f->ss);
  serial_write(1, msg);
  serial_write(1, "\nbacktrace (addr2line -e build/x86_64/kernel.elf):\n");
  print_code_address(f->rip);
  print_backtrace(f->rbp);
  shutdown(-1);
}

namespace ostd::arch {

u64 monotonic_ns() { return x86::tsc_to_ns(x86::rdtsc() - x86::g_tsc0); }
u64 realtime_ns() { return x86::g_boot_realtime_ns + monotonic_ns(); }
ClockParams clock_params() {
  // monotonic_ns() above, in the clock page's terms: ((tsc - tsc0) * mult) >> 32.
  return {x86::g_ns_mult != 0, x86::g_tsc0, 0, x86::g_ns_mult, static_cast<i64>(x86::g_boot_realtime_ns)};
}
bool clock_adjust() { return false; }  // the TSC is the clock: nothing to follow
u32 tick_hz() { return x86::g_hz; }

void set_timer_deadline(u64 deadline_ns) {
  if (x86::g_lapic == nullptr) return;
  u64 now = monotonic_ns();
  u64 ticks = 1;
  if (deadline_ns > now) {
    u64 delta = deadline_ns - now;
    if (delta > 60 * kNsPerSec) delta = 60 * kNsPerSec;
    ticks = static_cast<u64>((static_cast<unsigned __int128>(delta) * x86::g_lapic_mult) >> 32);
    if (ticks == 0) ticks = 1;
    if (ticks > 0xffffffffu) ticks = 0xffffffffu;
  }
  x86::lapic_write(0x320, x86::kTimerVector);  // one-shot
  x86::lapic_write(0x380, static_cast<u32>(ticks));
}

void kick_idle() {
  // One CPU: the interrupt that woke the task has already ended the idle loop's hlt.
}

void idle_wait() {
  auto& c = cpu_local();
  c.idle_waiting.store(true, std::memory_order_relaxed);
  irq_internal::enable_local();
  x86::cli();
  if (c.rq_head == nullptr) {
    // SAFETY: one asm, so no interrupt slips between sti and hlt; hlt only waits, and "memory"
    // makes the handler's writes (the run queue) visible after it.
    asm volatile("sti; hlt" ::: "memory");  // sti's one-instruction shadow: no lost wake-up
  } else {
    x86::sti();
  }
  c.idle_waiting.store(false, std::memory_order_relaxed);
  c.irq_disabled.store(true, std::memory_order_relaxed);
}

}  // namespace ostd::arch
