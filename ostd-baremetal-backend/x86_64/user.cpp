// User mode on the real CPU: enter_user (entry.S) irets into the thread with its registers and
// comes back on a system call, an exception or an interrupt. FPU/SSE/AVX state is switched
// lazily: kernel code never uses it (-mgeneral-regs-only), so the registers keep the state of
// the last user thread that ran until another thread needs them (XSAVE where the CPU has it).
#include <cstring>

#include <ostd/internal.h>
#include <ostd/log.h>
#include <ostd/mm/vm_space.h>
#include <ostd/time.h>

#include "heap.h"
#include "x86.h"

extern "C" void enter_user(ostd::GeneralRegs* regs);
extern "C" void enter_user_sysret(ostd::GeneralRegs* regs);
extern "C" ostd::x86::TrapInfo g_trap;

// entry.S stores and loads the user registers at these offsets.
static_assert(offsetof(ostd::GeneralRegs, rax) == 0 && offsetof(ostd::GeneralRegs, rcx) == 16 &&
              offsetof(ostd::GeneralRegs, rdi) == 40 && offsetof(ostd::GeneralRegs, rsp) == 56 &&
              offsetof(ostd::GeneralRegs, r8) == 64 && offsetof(ostd::GeneralRegs, r11) == 88 &&
              offsetof(ostd::GeneralRegs, r15) == 120 && offsetof(ostd::GeneralRegs, rip) == 128 &&
              offsetof(ostd::GeneralRegs, rflags) == 136);

namespace ostd::arch {
void as_activate(AddressSpace& as);
}

namespace ostd::arch {

struct UserThread {
  u8* fpu = nullptr;  // XSAVE (or FXSAVE) area, 64-byte aligned
};

namespace {
bool g_xsave = false;
u64 g_xcr0 = 3;  // the components xsave saves (XCR0)
usize g_fpu_size = 512;
u32 g_mxcsr_mask = 0xffbf;
u8* g_fpu_template = nullptr;
UserThread* g_fpu_owner = nullptr;
u64 g_cur_fs = 0;
u64 g_cur_gs = 0;

void fpu_save(u8* area) {
  if (g_xsave) {
    // SAFETY: area is g_fpu_size bytes, 64-aligned (heap_alloc), >= CPUID.0xd EBX for g_xcr0.
    asm volatile("xsave64 (%0)" : : "r"(area), "a"(0xffffffffu), "d"(0xffffffffu) : "memory");
  } else {
    // SAFETY: area is at least 512 bytes and 64-aligned (heap_alloc): what fxsave64 writes.
    asm volatile("fxsave64 (%0)" : : "r"(area) : "memory");
  }
}
void fpu_restore(const u8* area) {
  if (g_xsave) {
    // SAFETY: as in fpu_save; the image came from xsave or from store_image, which masks MXCSR and
    // fixes the XSAVE header, so xrstor64 does not fault.
    asm volatile("xrstor64 (%0)" : : "r"(area), "a"(0xffffffffu), "d"(0xffffffffu) : "memory");
  } else {
    // SAFETY: a 512-byte, 64-aligned FXSAVE image from fxsave64 or store_image (MXCSR masked).
    asm volatile("fxrstor64 (%0)" : : "r"(area) : "memory");
  }
}

bool canonical(u64 v) {
  u64 top = v >> 47;
  return top == 0 || top == 0x1ffff;
}

ExceptionKind kind_of(u64 vector) {
  switch (vector) {
    case 0: return ExceptionKind::DivideError;
    case 1: return ExceptionKind::Debug;
    case 3: return ExceptionKind::Breakpoint;
    case 4: return ExceptionKind::Overflow;
    case 6: return ExceptionKind::InvalidOpcode;
    case 13: return ExceptionKind::GeneralProtection;
    case 14: return ExceptionKind::PageFault;
    case 16: return ExceptionKind::FloatingPoint;
    case 17: return ExceptionKind::AlignmentCheck;
    case 19: return ExceptionKind::SimdFloatingPoint;
    default: return ExceptionKind::Unknown;
  }
}

ReturnReason exception(u64 vector, u64 error, u64 cr2) {
  ReturnReason rr;
  rr.kind = ReturnReason::Kind::Exception;
  rr.exception.kind = kind_of(vector);
  rr.exception.vector = static_cast<u32>(vector);
  rr.exception.error_code = error;
  if (vector == 14) {
    rr.exception.address = cr2;
    rr.exception.access = (error & 16) != 0 ? Access::Execute : (error & 2) != 0 ? Access::Write : Access::Read;
    rr.exception.present = (error & 1) != 0;
  }
  return rr;
}
}  // namespace

void UserThreadDeleter::operator()(UserThread* t) const {
  if (g_fpu_owner == t) g_fpu_owner = nullptr;
  x86::heap_free(t->fpu);
  delete t;
}

Result<std::unique_ptr<UserThread, UserThreadDeleter>> create_user_thread(VmSpace&) {
  std::unique_ptr<UserThread, UserThreadDeleter> t(new UserThread);
  // SAFETY: heap_alloc gives g_fpu_size raw bytes, 64-aligned, used as bytes; the memcpy runs
  // after the null check, from the g_fpu_size-byte template user_init filled at boot.
  t->fpu = static_cast<u8*>(x86::heap_alloc(g_fpu_size, 64));
  if (t->fpu == nullptr) return Errno::enomem;
  std::memcpy(t->fpu, g_fpu_template, g_fpu_size);
  return t;
}

namespace {
ReturnReason execute_loop(UserThread& t, VmSpace& vm, UserContext& ctx, void* pred, bool (*call)(void*));
}  // namespace

ReturnReason user_execute(UserThread& t, VmSpace& vm, UserContext& ctx, void* pred, bool (*call)(void*)) {
  // User time is charged a tick at a time: the ticks that arrive while the thread is in user
  // mode (they are taken inside this loop). Cheaper than two clock reads per system call.
  u64 j0 = jiffies();
  ReturnReason rr = execute_loop(t, vm, ctx, pred, call);
  u64 ticks = jiffies() - j0;
  if (ticks != 0) rr.user_ns = ticks * (kNsPerSec / tick_hz());  // no division per system call
  return rr;
}

namespace {
ReturnReason execute_loop(UserThread& t, VmSpace& vm, UserContext& ctx, void* pred, bool (*call)(void*)) {
  for (;;) {
    // From here to the entry into user mode the CPU state that belongs to this thread is put
    // in place: its page tables, FPU registers and FS/GS bases. A preemption in between would
    // let another thread load its own and send this one to user mode with them (a timer
    // interrupt in kernel mode may switch tasks), so real interrupts stay off until the iretq
    // or sysretq. An interrupt that arrives meanwhile is taken at once in user mode and comes
    // back here, where the predicate sees what it woke.
    x86::cli();
    if (call(pred)) {
      x86::sti();
      return ReturnReason{ReturnReason::Kind::KernelEvent, {}, 0};
    }
    GeneralRegs& r = ctx.regs();
    if (!canonical(r.rip) || !canonical(r.fs_base) || !canonical(r.gs_base)) {
      x86::sti();
      return exception(13, 0, 0);
    }
    as_activate(vm.arch_space());
    if (g_fpu_owner != &t) {
      if (g_fpu_owner != nullptr) fpu_save(g_fpu_owner->fpu);
      fpu_restore(t.fpu);
      g_fpu_owner = &t;
    }
    if (r.fs_base != g_cur_fs) {
      x86::wrmsr(x86::kMsrFsBase, r.fs_base);
      g_cur_fs = r.fs_base;
    }
    if (r.gs_base != g_cur_gs) {
      x86::wrmsr(x86::kMsrGsBase, r.gs_base);
      g_cur_gs = r.gs_base;
    }
    // Only the flags user code may set (CF PF AF ZF SF TF DF OF AC ID), and IF.
    r.rflags = (r.rflags & 0x240dd5) | 0x202;
    // sysretq is several times cheaper than iretq; it needs rcx/r11 to hold rip/rflags (as
    // after a system call) and a canonical rip (a non-canonical one would fault in ring 0).
    if (r.rcx == r.rip && r.r11 == r.rflags && r.rip < x86::kUserTop &&
        (r.rflags & 0x10100) == 0) {  // no TF (single-step) or RF
      enter_user_sysret(&r);
    } else {
      enter_user(&r);
    }
    // Interrupts are still off: g_trap is this thread's until they are on again (a preemption
    // would let another thread's user-mode exit overwrite it).
    x86::TrapInfo trap = g_trap;
    x86::sti();
    u64 vector = trap.vector;
    if (vector == x86::kSyscallVector) return ReturnReason{ReturnReason::Kind::Syscall, {}};
    if (vector >= x86::kIrqBase) {
      x86::handle_irq(static_cast<u32>(vector));
      irq_internal::preempt_on_irq_return();
      continue;
    }
    if (vector == 2) continue;  // NMI
    return exception(vector, trap.error_code, trap.cr2);
  }
}

}  // namespace

Result<FpuState> user_get_fpu(UserThread& t) {
  if (g_fpu_owner == &t) fpu_save(t.fpu);
  return fpu_internal::load_image(std::span<const u8>(t.fpu, g_fpu_size), g_xsave, g_xcr0);
}

Result<void> user_set_fpu(UserThread& t, const FpuState& s) {
  if (g_fpu_owner == &t) g_fpu_owner = nullptr;  // the registers are stale now
  // Reserved MXCSR bits or a bad XSAVE header would make the restore fault in the kernel.
  fpu_internal::store_image(std::span<u8>(t.fpu, g_fpu_size), g_xsave, g_xcr0, s, g_mxcsr_mask);
  return {};
}

void user_notify_kernel_event() {
  // One CPU: whatever woke a task ran in an interrupt, which already brought the CPU back from
  // user mode to user_execute's loop, where the predicate is checked.
}

bool user_runs_beside_kernel() { return false; }  // one CPU for both

Result<void> user_barrier_all_cpus() {
  // One CPU: user code runs only between kernel entries, each a serializing event.
  // SAFETY: mfence is only a barrier; it touches no memory ("memory" orders the compiler too).
  asm volatile("mfence" ::: "memory");
  return {};
}
u32 user_fast_syscall_gs_offset() { return 0; }  // `syscall` is the fast way in
usize user_fpu_image_size() { return g_fpu_size; }

}  // namespace ostd::arch

namespace ostd::x86 {

namespace {
constexpr Logger kLog{"x86"};
}

void user_init() {
  u32 a, b, c, d;
  cpuid(1, 0, a, b, c, d);
  if ((c & (1u << 26)) != 0) {  // XSAVE
    u64 cr4;
    // SAFETY: CR4 moves touch no memory; OSXSAVE may be set as CPUID.1 ECX bit 26 (XSAVE) is,
    // and it makes the xsetbv below legal.
    asm volatile("mov %%cr4, %0" : "=r"(cr4));
    cr4 |= 1ull << 18;  // OSXSAVE
    asm volatile("mov %0, %%cr4" : : "r"(cr4));
    u32 ea, eb, ec, ed;
    cpuid(0xd, 0, ea, eb, ec, ed);
    u64 xcr0 = ea & 0x7;  // x87, SSE, AVX
    // SAFETY: XCR0 gets only x87/SSE/AVX bits CPUID.0xd EAX reports (x87 always); OSXSAVE is on.
    asm volatile("xsetbv" : : "c"(0), "a"(static_cast<u32>(xcr0)), "d"(0u));
    arch::g_xcr0 = xcr0;
    cpuid(0xd, 0, ea, eb, ec, ed);
    arch::g_xsave = true;
    arch::g_fpu_size = (eb + 63) & ~63u;
  }
  // SAFETY: g_fpu_size raw bytes, 64-aligned, from the heap (checked below), zeroed before use.
  arch::g_fpu_template = static_cast<u8*>(heap_alloc(arch::g_fpu_size, 64));
  if (arch::g_fpu_template == nullptr) panic("no memory for the FPU state template");
  // SAFETY: as above: g_fpu_size bytes at a non-null heap block.
  std::memset(arch::g_fpu_template, 0, arch::g_fpu_size);
  u32 mxcsr = 0x1f80;
  // SAFETY: fninit resets only x87 registers; ldmxcsr reads the 4-byte mxcsr ("m", 0x1f80 valid).
  asm volatile("fninit; ldmxcsr %0" : : "m"(mxcsr));
  arch::fpu_save(arch::g_fpu_template);
  u32 mask = 0;
  // SAFETY: bytes 28..31 (MXCSR_MASK) lie inside the >= 512-byte template fpu_save just wrote.
  std::memcpy(&mask, arch::g_fpu_template + 28, 4);
  if (mask != 0) arch::g_mxcsr_mask = mask;
  kLog.info("FPU state: {} ({} bytes)", std::string_view(arch::g_xsave ? "xsave" : "fxsave"), arch::g_fpu_size);
}

}  // namespace ostd::x86
