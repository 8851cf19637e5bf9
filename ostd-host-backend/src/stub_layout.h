// Fixed layout of the stub image and of the stub's region of every guest process: the one
// definition that stub/stub.S (the assembler, through the macros) and the C++ of the host
// backend (the constants below, made from the same macros) both use, so they cannot drift.
#pragma once

// ---- Macros (plain numbers: the assembler reads them) ----
#define STUB_BASE 0x7ff800000000 /* the image's link address (-Ttext, CMakeLists.txt) */
#define STUB_OFF_SYSCALL 0x10    /* entry points: offsets from STUB_BASE (.org) */
#define STUB_OFF_BATCH 0x20
#define STUB_OFF_SEGV_HANDLER 0x80
#define STUB_OFF_RESTORER 0xa0
#define STUB_OFF_SEGV_ACTION 0xc0
#define STUB_OFF_CLONE 0x100
#define STUB_OFF_PARK 0x180
#define STUB_OFF_SIG_HANDLER 0x200
#define STUB_OFF_SIG_ACTION 0x4c0
#define STUB_OFF_SLEEP 0x500
#define STUB_OFF_HANDOFF 0x540
#define STUB_OFF_FAST_SYSCALL 0x740
#define STUB_REQUEST_PAGE 0x7ff840000000
#define STUB_CONFIG_PAGE 0x7ff840001000
#define STUB_CONFIG_CPU_MASK 0x200 /* the guest CPU mask's offset in the config page */
#define STUB_DOORBELL_PAGE 0x7ff840002000
#define STUB_WAKE_PAGE 0x7ff840003000
#define STUB_ALTSTACKS 0x7ff880000000
#define STUB_ALTSTACK_SIZE 0x10000
#define STUB_MAILBOXES 0x7ff8c0000000
#define STUB_MAX_THREADS 16384
/* Mailbox fields (one page per guest thread, seccomp platform). States: 0 running (the stub
 * sets it), 1 posted, 2 replied. */
#define MB_STATE 0
#define MB_CTID 4
#define MB_SIGNO 8
#define MB_SIGINFO 16
#define MB_UC 24
#define MB_RSP 32
#define MB_FS 40
#define MB_GS 48
#define MB_CMD 56
#define MB_SET_FLAGS 64
#define MB_NEW_FS 72
#define MB_NEW_GS 80
#define MB_CROWD 88 /* at the reply: how many other guest threads wait for one */
#define MB_SLEEPING 96
#define MB_KICK_PENDING 104 /* the stub's own: a kick came while it applied a reply */
#define MB_WAKE_WORD 112    /* the futex word the stub sleeps on (stub address) */
#define MB_NESTED_UC 120    /* the stub's own: the nested event's context it resumes */
#define MB_STACK 128        /* stack_t, for the new thread's sigaltstack (stub_clone) */
#define MB_FAST_ENTRY 152   /* the fast entry's address: `jmp *%gs:MB_FAST_ENTRY` */
#define MB_FAST_SCRATCH 160
#define MB_TF 184     /* the fast entry gives the guest's flags their TF back */
#define MB_BLOCKS 192 /* 64 bytes: a bit per system call number, "blocked twice" */
#define MB_SELF 256   /* the mailbox's own address: `mov %gs:MB_SELF, %rsp` */

/* The host's signal frame as the stub reads it and as the fast entry builds it (x86-64 Linux;
 * the C++ side checks every value against <signal.h> and <ucontext.h> below). */
#define SI_SIGNO 0 /* siginfo_t: si_signo, si_errno at 4 */
#define SI_CODE 8
#define SI_ADDR 16 /* si_addr (SIGSEGV) and si_call_addr (SIGSYS) */
#define SI_SYSCALL 24
#define SI_ARCH 28
#define UC_FLAGS 0 /* ucontext_t */
#define UC_LINK 8
#define UC_STACK 16 /* stack_t: ss_sp, ss_flags (+8), ss_size (+16) */
#define UC_R8 40    /* uc_mcontext.gregs[REG_R8], the registers in REG_* order */
#define UC_R9 48
#define UC_R10 56
#define UC_R11 64
#define UC_R12 72
#define UC_R13 80
#define UC_R14 88
#define UC_R15 96
#define UC_RDI 104
#define UC_RSI 112
#define UC_RBP 120
#define UC_RBX 128
#define UC_RDX 136
#define UC_RAX 144
#define UC_RCX 152
#define UC_RSP 160
#define UC_RIP 168
#define UC_EFL 176
#define UC_CSGSFS 184 /* cs, gs, fs, ss (u16 each) */
#define UC_ERR 192
#define UC_TRAPNO 200
#define UC_OLDMASK 208
#define UC_CR2 216
#define UC_FPREGS 224    /* the XSAVE image's address */
#define UC_RESERVED 232  /* __reserved1[8], then uc_sigmask at 296 */
#define FP_SW_MAGIC1 464 /* the XSAVE image's software words (struct _fpx_sw_bytes) */
#define FP_SW_EXTENDED_SIZE 468
#define FP_SW_XFEATURES 472
#define FP_SW_XSTATE_SIZE 480
#define FP_SW_PADDING 484
#define XSAVE_HEADER_REST 520 /* the XSAVE header past XSTATE_BV (512): 56 bytes */
/* The fast entry's frame, below the XSAVE image it builds first. */
#define FAST_UC_BELOW 432    /* the ucontext */
#define FAST_SI_BELOW 128    /* the siginfo */
#define FAST_FRAME_BELOW 440 /* the frame's start (the restorer's address) */
/* The configuration page (kStubConfigPage below). */
#define CFG_FLAGS 0
#define CFG_CPU_MASK_SIZE 16
#define CFG_XSAVE_SIZE 48
#define CFG_XFEATURES 56
/* A request in the request page (arch::HostRequest): the number, then six arguments. */
#define REQ_SIZE 56

#ifndef __ASSEMBLER__
#include <cstdint>

namespace ostd::host {

inline constexpr std::uint64_t kStubBase = STUB_BASE;
inline constexpr std::uint64_t kStubStart = kStubBase + 0x00;
inline constexpr std::uint64_t kStubSyscall = kStubBase + STUB_OFF_SYSCALL;
inline constexpr std::uint64_t kStubBatch = kStubBase + STUB_OFF_BATCH;
inline constexpr std::uint64_t kStubSegvHandler = kStubBase + STUB_OFF_SEGV_HANDLER;
inline constexpr std::uint64_t kStubRestorer = kStubBase + STUB_OFF_RESTORER;
inline constexpr std::uint64_t kStubSegvAction = kStubBase + STUB_OFF_SEGV_ACTION;
// The seccomp platform's entry points (stub.S).
inline constexpr std::uint64_t kStubClone = kStubBase + STUB_OFF_CLONE;
inline constexpr std::uint64_t kStubPark = kStubBase + STUB_OFF_PARK;
inline constexpr std::uint64_t kStubSigHandler = kStubBase + STUB_OFF_SIG_HANDLER;
inline constexpr std::uint64_t kStubSigAction = kStubBase + STUB_OFF_SIG_ACTION;
/// The handler's futex sleep (a syscall instruction) and the address it returns to.
inline constexpr std::uint64_t kStubSleep = kStubBase + STUB_OFF_SLEEP;
inline constexpr std::uint64_t kStubSleepReturn = kStubSleep + 2;
/// The fast system call entry (no host trap), reached through mailbox +152.
inline constexpr std::uint64_t kStubFastSyscall = kStubBase + STUB_OFF_FAST_SYSCALL;
/// The stub's code page: the only place guest threads' allowed host system calls come from.
inline constexpr std::uint64_t kStubCodeEnd = kStubBase + 0x1000;
/// The whole region the stub owns; everything else in the process is the guest's or unmapped.
inline constexpr std::uint64_t kStubRegionStart = 0x7ff700000000ull;
inline constexpr std::uint64_t kStubRegionEnd = 0x7ffa00000000ull;
/// The read-only request page (a physical frame the kernel writes through the direct map).
inline constexpr std::uint64_t kStubRequestPage = STUB_REQUEST_PAGE;
/// Read-only configuration page shared by all stubs (seccomp platform): flags at 0, spin
/// iterations at 8, the guest CPU mask's size at 16 (0: none), the filter's sock_fprog at 32,
/// the host's XSAVE signal-frame image size (u32) at 48 and its xfeatures at 56 (for the fast
/// entry's frames; 0 until the first thread parks), the filter's instructions from 64, the
/// guest CPU mask at 512.
inline constexpr std::uint64_t kStubConfigPage = STUB_CONFIG_PAGE;
/// The doorbell page (read-write; one frame for all stubs): a u32 counter every post bumps.
inline constexpr std::uint64_t kStubDoorbellPage = STUB_DOORBELL_PAGE;
/// The wake page (read-only; one frame for all stubs): a u32 futex word per guest thread that
/// has one (WakeWord), which any stub can wake (the kernel's hand-off, doorbell +20).
inline constexpr std::uint64_t kStubWakePage = STUB_WAKE_PAGE;
inline constexpr std::uint32_t kWakeWords = 1024;
/// Per-thread mailboxes (seccomp platform), one page per slot.
inline constexpr std::uint64_t kStubMailboxes = STUB_MAILBOXES;
/// Per-thread signal stacks (anonymous, 64 KiB each).
inline constexpr std::uint64_t kStubAltStacks = STUB_ALTSTACKS;
inline constexpr std::uint64_t kStubAltStackSize = STUB_ALTSTACK_SIZE;
inline constexpr std::uint64_t kStubMaxThreads = STUB_MAX_THREADS;
/// Guest addresses are [kGuestBase, kGuestTop).
inline constexpr std::uint64_t kGuestBase = 0x10000ull;
inline constexpr std::uint64_t kGuestTop = 0x7ff000000000ull;
/// The physical-memory memfd's descriptor number inside the stub.
inline constexpr int kStubMemFd = 3;

}  // namespace ostd::host
#include <signal.h>
#include <ucontext.h>

#include <cstddef>

namespace ostd::host {
namespace stub_layout_checks {
constexpr std::size_t greg(int r) { return offsetof(ucontext_t, uc_mcontext.gregs) + 8 * static_cast<std::size_t>(r); }
static_assert(offsetof(siginfo_t, si_signo) == SI_SIGNO && offsetof(siginfo_t, si_code) == SI_CODE);
static_assert(offsetof(siginfo_t, si_addr) == SI_ADDR && offsetof(siginfo_t, si_call_addr) == SI_ADDR);
static_assert(offsetof(siginfo_t, si_syscall) == SI_SYSCALL && offsetof(siginfo_t, si_arch) == SI_ARCH);
static_assert(offsetof(ucontext_t, uc_flags) == UC_FLAGS && offsetof(ucontext_t, uc_link) == UC_LINK);
static_assert(offsetof(ucontext_t, uc_stack) == UC_STACK);
static_assert(greg(REG_R8) == UC_R8 && greg(REG_R9) == UC_R9 && greg(REG_R10) == UC_R10 && greg(REG_R11) == UC_R11 &&
              greg(REG_R12) == UC_R12 && greg(REG_R13) == UC_R13 && greg(REG_R14) == UC_R14 && greg(REG_R15) == UC_R15);
static_assert(greg(REG_RDI) == UC_RDI && greg(REG_RSI) == UC_RSI && greg(REG_RBP) == UC_RBP &&
              greg(REG_RBX) == UC_RBX && greg(REG_RDX) == UC_RDX && greg(REG_RAX) == UC_RAX &&
              greg(REG_RCX) == UC_RCX && greg(REG_RSP) == UC_RSP && greg(REG_RIP) == UC_RIP);
static_assert(greg(REG_EFL) == UC_EFL && greg(REG_CSGSFS) == UC_CSGSFS && greg(REG_ERR) == UC_ERR &&
              greg(REG_TRAPNO) == UC_TRAPNO && greg(REG_OLDMASK) == UC_OLDMASK && greg(REG_CR2) == UC_CR2);
static_assert(offsetof(ucontext_t, uc_mcontext.fpregs) == UC_FPREGS);
static_assert(offsetof(ucontext_t, uc_mcontext.__reserved1) == UC_RESERVED);
// struct _fpx_sw_bytes sits in the legacy FXSAVE area's last 48 bytes (464..511).
static_assert(FP_SW_MAGIC1 == 512 - 48 && FP_SW_EXTENDED_SIZE == FP_SW_MAGIC1 + 4 &&
              FP_SW_XFEATURES == FP_SW_MAGIC1 + 8 && FP_SW_XSTATE_SIZE == FP_SW_MAGIC1 + 16 &&
              FP_SW_PADDING == FP_SW_MAGIC1 + 20 && XSAVE_HEADER_REST == 512 + 8);
// The fast entry's frame below its XSAVE image: the kernel's ucontext (glibc's up to a 64-bit
// signal mask), then a siginfo, then the image.
static_assert(FAST_SI_BELOW == sizeof(siginfo_t) &&
              FAST_UC_BELOW - FAST_SI_BELOW == offsetof(ucontext_t, uc_sigmask) + 8 &&
              FAST_FRAME_BELOW == FAST_UC_BELOW + 8);
}  // namespace stub_layout_checks
}  // namespace ostd::host
#endif  // __ASSEMBLER__
