// ostd/user_mode.h — running user code.
//
// UserMode::execute() runs the user thread with the registers in its UserContext until one of:
//   - Syscall: the thread executed `syscall`. context().syscall_number()/syscall_args() hold the
//     request; set_syscall_ret() the result, then execute() again to resume after the instruction.
//   - Exception: a CPU exception (page fault with address and access kind, #GP, #UD, #DE, #BP ...).
//     The registers are those at the faulting instruction.
//   - KernelEvent: the kernel needs this task: has_kernel_event() returned true when checked
//     (on every timer tick while the thread runs, and after wake-ups via notify_kernel_event()).
// Whatever the user code does, it cannot run a host system call or reach memory its VmSpace does
// not map; a 32-bit `int 0x80`/`sysenter` system call is reported as a #GP exception (no IA-32
// emulation). FPU/SSE/AVX state lives with the user thread and is fetched only on request.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <vector>

#include <ostd/error.h>
#include <ostd/mm/vm_space.h>
#include <ostd/types.h>

namespace ostd {

namespace arch {
struct UserThread;
struct UserThreadDeleter {
  void operator()(UserThread* t) const;
};
}  // namespace arch

/// x86-64 general registers as the user thread sees them.
struct GeneralRegs {
  u64 rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
  u64 r8, r9, r10, r11, r12, r13, r14, r15;
  u64 rip, rflags;
  u64 fs_base, gs_base;
};

/// A user thread's FPU and vector registers, as Linux lays them out in a signal frame's fpstate.
/// `fxsave` is the legacy FXSAVE area (x87, MXCSR, XMM0-15). Where the CPU saves its state with
/// XSAVE, `xsave` is the rest of the XSAVE standard-format image — the 64-byte XSAVE header at
/// image offset 512, then every component at its CPUID offset (AVX's upper halves, AVX-512,
/// PKRU...) — and `xfeatures` the components the CPU saves (XCR0); otherwise both are empty.
/// Bytes 464..511 of `fxsave` (software-reserved) are the backend's own on reads and ignored on
/// writes.
struct FpuState {
  alignas(16) std::array<u8, 512> fxsave{};
  std::vector<u8> xsave;
  u64 xfeatures = 0;
};

class UserContext {
 public:
  GeneralRegs& regs() { return regs_; }
  const GeneralRegs& regs() const { return regs_; }

  u64 syscall_number() const { return regs_.rax; }
  std::array<u64, 6> syscall_args() const { return {regs_.rdi, regs_.rsi, regs_.rdx, regs_.r10, regs_.r8, regs_.r9}; }
  void set_syscall_ret(u64 value) { regs_.rax = value; }
  Vaddr instruction_pointer() const { return regs_.rip; }
  void set_instruction_pointer(Vaddr ip) { regs_.rip = ip; }
  Vaddr stack_pointer() const { return regs_.rsp; }
  void set_stack_pointer(Vaddr sp) { regs_.rsp = sp; }
  u64 tls_pointer() const { return regs_.fs_base; }
  void set_tls_pointer(u64 fs) { regs_.fs_base = fs; }

 private:
  GeneralRegs regs_{};
};

enum class ExceptionKind : u8 {
  DivideError,        // #DE  vector 0
  Debug,              // #DB  1
  Breakpoint,         // #BP  3
  Overflow,           // #OF  4
  InvalidOpcode,      // #UD  6
  GeneralProtection,  // #GP  13
  PageFault,          // #PF  14
  FloatingPoint,      // #MF  16
  AlignmentCheck,     // #AC  17
  SimdFloatingPoint,  // #XM  19
  Unknown,
};

struct CpuException {
  ExceptionKind kind = ExceptionKind::Unknown;
  u32 vector = 0;
  /// Page faults: the faulting address and access; `present` is true for a protection fault.
  Vaddr address = 0;
  Access access = Access::Read;
  bool present = false;
  u64 error_code = 0;
};

struct ReturnReason {
  enum class Kind : u8 { Syscall, Exception, KernelEvent };
  Kind kind = Kind::KernelEvent;
  CpuException exception{};  // valid when kind == Exception
  /// Time the thread spent in user mode during this execute(), as cheaply as the backend can
  /// tell: the host backend measures the wait; the bare-metal backend charges each timer tick
  /// that found the thread in user mode (statistical, like Linux's tick accounting: reading
  /// the clock twice per system call would cost more than the call under emulation).
  u64 user_ns = 0;
};

/// A way into the kernel for a system call that costs no trap, where the platform has one (the
/// host backend's seccomp platform, where a trapped call costs a host signal delivery). User code
/// enters it with `jmp *%gs:gs_offset`, with rax = the system call number, rcx = the address to
/// return to and every other register as for `syscall` (which clobbers rcx and r11 too); it is
/// reported as a Syscall return reason exactly as the `syscall` instruction before that return
/// address would be, and resumes at that address. The GS base a user thread runs with is the
/// platform's own (its context still reads gs_base 0) as long as the kernel leaves gs_base 0:
/// a thread given a GS base of its own must not enter this way (it would jump through its own
/// memory: only that thread is harmed). The kernel proper decides which call sites enter so
/// (services/vm/syscall_patch.cpp rewrites them).
struct FastSyscallEntry {
  u32 gs_offset = 0;
};

class UserMode {
 public:
  /// Creates a user thread in `vm` that will start with `ctx`. ENOMEM/EAGAIN when the backend
  /// cannot create one.
  static Result<UserMode> create(std::shared_ptr<VmSpace> vm, const UserContext& ctx);
  UserMode(UserMode&&) noexcept;
  UserMode& operator=(UserMode&&) noexcept;
  UserMode(const UserMode&) = delete;
  UserMode& operator=(const UserMode&) = delete;
  ~UserMode();

  /// `has_kernel_event` is called before every entry into user mode, on bare metal with the
  /// CPU's interrupts off: it must be quick and must not block or take a Mutex (reading flags
  /// or taking a SpinLock is fine).
  template <typename F>
  ReturnReason execute(F&& has_kernel_event) {
    return execute_impl(&has_kernel_event,
                        [](void* f) { return static_cast<bool>((*static_cast<std::remove_reference_t<F>*>(f))()); });
  }
  UserContext& context() { return ctx_; }
  const UserContext& context() const { return ctx_; }
  VmSpace& vm_space() { return *vm_; }

  /// The user thread's FPU state (fetched from the thread on demand).
  Result<FpuState> fpu_state();
  /// Replaces the thread's FPU state before it next runs. With `state.xsave` of the size
  /// fpu_state() gives, every component is replaced (components not in the image's XSTATE_BV,
  /// or not in xfeatures, take their initial state); with `xsave` empty only the legacy area is
  /// replaced and the extended components take their initial state (Linux's restore of a frame
  /// without XSAVE data). Whatever the bytes, the state is made loadable (reserved MXCSR bits
  /// and XSAVE header fields cleared): it may come from user memory.
  Result<void> set_fpu_state(const FpuState& state);

  /// Bytes of the FPU image fpu_state() gives on this machine: 512 + the size of `xsave` (the
  /// XSAVE standard-format size for the components the CPU saves), or 512 without XSAVE. For the
  /// signal frame size a kernel reports (AT_MINSIGSTKSZ).
  static usize fpu_image_size();

  /// Makes every task waiting in execute() on this CPU re-check has_kernel_event() now.
  static void notify_kernel_event();

  /// Whether user code runs on CPUs of its own beside the kernel's (the host backend's seccomp
  /// platform with split CPUs): kernel work done while a task waits in execute() then overlaps
  /// the user code, where on one shared CPU it only comes before or after it.
  static bool runs_beside_kernel();

  /// A full memory barrier on every CPU that runs user code now, for membarrier(2): when this
  /// returns, each user thread running at the call has passed a barrier. Bare metal (one CPU):
  /// the kernel entry already was one. Host: the host kernel's MEMBARRIER_CMD_GLOBAL (stubs may
  /// run guest code on other CPUs meanwhile); ENOSYS where the host has no membarrier.
  static Result<void> barrier_all_user_cpus();

  /// The fast system call entry (see FastSyscallEntry), or nullopt where there is none (the
  /// ptrace platform, bare metal, --syscall-patching off, or before the first user thread ran).
  static std::optional<FastSyscallEntry> fast_syscall_entry();

 private:
  UserMode() = default;
  ReturnReason execute_impl(void* pred, bool (*call)(void*));
  std::shared_ptr<VmSpace> vm_;
  std::unique_ptr<arch::UserThread, arch::UserThreadDeleter> thread_;
  UserContext ctx_;
};

}  // namespace ostd
