// Fixed layout of the stub image and of the stub's region of every guest process.
#pragma once

#include <cstdint>

namespace ostd::host {

inline constexpr std::uint64_t kStubBase = 0x7ff800000000ull;
inline constexpr std::uint64_t kStubStart = kStubBase + 0x00;
inline constexpr std::uint64_t kStubSyscall = kStubBase + 0x10;
inline constexpr std::uint64_t kStubBatch = kStubBase + 0x20;
inline constexpr std::uint64_t kStubSegvHandler = kStubBase + 0x80;
inline constexpr std::uint64_t kStubRestorer = kStubBase + 0xa0;
inline constexpr std::uint64_t kStubSegvAction = kStubBase + 0xc0;
// The seccomp platform's entry points (stub.S).
inline constexpr std::uint64_t kStubClone = kStubBase + 0x100;
inline constexpr std::uint64_t kStubPark = kStubBase + 0x180;
inline constexpr std::uint64_t kStubSigHandler = kStubBase + 0x200;
inline constexpr std::uint64_t kStubSigAction = kStubBase + 0x480;
/// The handler's futex sleep (a syscall instruction) and the address it returns to.
inline constexpr std::uint64_t kStubSleep = kStubBase + 0x4c0;
inline constexpr std::uint64_t kStubSleepReturn = kStubSleep + 2;
/// The fast system call entry (no host trap), reached through mailbox +152.
inline constexpr std::uint64_t kStubFastSyscall = kStubBase + 0x700;
/// The stub's code page: the only place guest threads' allowed host system calls come from.
inline constexpr std::uint64_t kStubCodeEnd = kStubBase + 0x1000;
/// The whole region the stub owns; everything else in the process is the guest's or unmapped.
inline constexpr std::uint64_t kStubRegionStart = 0x7ff700000000ull;
inline constexpr std::uint64_t kStubRegionEnd = 0x7ffa00000000ull;
/// The read-only request page (a physical frame the kernel writes through the direct map).
inline constexpr std::uint64_t kStubRequestPage = 0x7ff840000000ull;
/// Read-only configuration page shared by all stubs (seccomp platform): flags at 0, spin
/// iterations at 8, the guest CPU mask's size at 16 (0: none), the filter's sock_fprog at 32,
/// the host's XSAVE signal-frame image size (u32) at 48 and its xfeatures at 56 (for the fast
/// entry's frames; 0 until the first thread parks), the filter's instructions from 64, the
/// guest CPU mask at 512.
inline constexpr std::uint64_t kStubConfigPage = 0x7ff840001000ull;
/// The doorbell page (read-write; one frame for all stubs): a u32 counter every post bumps.
inline constexpr std::uint64_t kStubDoorbellPage = 0x7ff840002000ull;
/// The wake page (read-only; one frame for all stubs): a u32 futex word per guest thread that
/// has one (WakeWord), which any stub can wake (the kernel's hand-off, doorbell +20).
inline constexpr std::uint64_t kStubWakePage = 0x7ff840003000ull;
inline constexpr std::uint32_t kWakeWords = 1024;
/// Per-thread mailboxes (seccomp platform), one page per slot.
inline constexpr std::uint64_t kStubMailboxes = 0x7ff8c0000000ull;
/// Per-thread signal stacks (anonymous, 64 KiB each).
inline constexpr std::uint64_t kStubAltStacks = 0x7ff880000000ull;
inline constexpr std::uint64_t kStubAltStackSize = 64 * 1024;
inline constexpr std::uint64_t kStubMaxThreads = 16384;
/// Guest addresses are [kGuestBase, kGuestTop).
inline constexpr std::uint64_t kGuestBase = 0x10000ull;
inline constexpr std::uint64_t kGuestTop = 0x7ff000000000ull;
/// The physical-memory memfd's descriptor number inside the stub.
inline constexpr int kStubMemFd = 3;

}  // namespace ostd::host
