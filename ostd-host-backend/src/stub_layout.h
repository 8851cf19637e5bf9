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
/// The whole region the stub owns; everything else in the process is the guest's or unmapped.
inline constexpr std::uint64_t kStubRegionStart = 0x7ff700000000ull;
inline constexpr std::uint64_t kStubRegionEnd = 0x7ffa00000000ull;
/// The read-only request page (a physical frame the kernel writes through the direct map).
inline constexpr std::uint64_t kStubRequestPage = 0x7ff840000000ull;
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
