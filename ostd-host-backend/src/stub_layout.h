// Fixed layout of the stub image and of the stub's region of every guest process: the one
// definition that stub/stub.S (the assembler, through the macros) and the C++ of the host
// backend (the constants below, made from the same macros) both use, so they cannot drift.
#pragma once

// ---- Macros (plain numbers: the assembler reads them) ----
#define STUB_BASE 0x7ff800000000          /* the image's link address (-Ttext, CMakeLists.txt) */
#define STUB_OFF_SYSCALL 0x10             /* entry points: offsets from STUB_BASE (.org) */
#define STUB_OFF_BATCH 0x20
#define STUB_OFF_SEGV_HANDLER 0x80
#define STUB_OFF_RESTORER 0xa0
#define STUB_OFF_SEGV_ACTION 0xc0
#define STUB_OFF_CLONE 0x100
#define STUB_OFF_PARK 0x180
#define STUB_OFF_SIG_HANDLER 0x200
#define STUB_OFF_SIG_ACTION 0x480
#define STUB_OFF_SLEEP 0x4c0
#define STUB_OFF_HANDOFF 0x500
#define STUB_OFF_FAST_SYSCALL 0x700
#define STUB_REQUEST_PAGE 0x7ff840000000
#define STUB_CONFIG_PAGE 0x7ff840001000
#define STUB_CONFIG_CPU_MASK 0x200        /* the guest CPU mask's offset in the config page */
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
#define MB_CROWD 88        /* at the reply: how many other guest threads wait for one */
#define MB_SLEEPING 96
#define MB_KICK_PENDING 104 /* the stub's own: a kick came while it applied a reply */
#define MB_WAKE_WORD 112   /* the futex word the stub sleeps on (stub address) */
#define MB_STACK 128       /* stack_t, for the new thread's sigaltstack (stub_clone) */
#define MB_FAST_ENTRY 152  /* the fast entry's address: `jmp *%gs:MB_FAST_ENTRY` */
#define MB_FAST_SCRATCH 160
#define MB_TF 184          /* the fast entry gives the guest's flags their TF back */
#define MB_BLOCKS 192      /* 64 bytes: a bit per system call number, "blocked twice" */
#define MB_SELF 256        /* the mailbox's own address: `mov %gs:MB_SELF, %rsp` */

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
#endif  // __ASSEMBLER__
