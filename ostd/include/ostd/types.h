// ostd/types.h — fixed-width integer names and address types used across the kernel.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ostd {

using u8 = std::uint8_t;
using u16 = std::uint16_t;
using u32 = std::uint32_t;
using u64 = std::uint64_t;
using i8 = std::int8_t;
using i16 = std::int16_t;
using i32 = std::int32_t;
using i64 = std::int64_t;
using usize = std::size_t;
using isize = std::ptrdiff_t;

/// A virtual address in a user address space (a VmSpace). Just a number: it is never dereferenced
/// by services; ostd's checked copies are the only way to reach the memory behind it.
using Vaddr = u64;
/// A physical address: an offset into the machine's physical memory (on the host backend, an offset
/// into the physical-memory memfd).
using Paddr = u64;

inline constexpr usize kPageSize = 4096;
inline constexpr usize kPageShift = 12;

constexpr bool is_page_aligned(u64 v) { return (v & (kPageSize - 1)) == 0; }
constexpr u64 page_align_down(u64 v) { return v & ~static_cast<u64>(kPageSize - 1); }
/// Rounds up to a page boundary; callers must check for overflow first (see checked_add).
constexpr u64 page_align_up(u64 v) { return (v + kPageSize - 1) & ~static_cast<u64>(kPageSize - 1); }

/// Overflow-checked addition: false when a + b does not fit.
template <typename T>
constexpr bool checked_add(T a, T b, T& out) {
  return !__builtin_add_overflow(a, b, &out);
}
template <typename T>
constexpr bool checked_mul(T a, T b, T& out) {
  return !__builtin_mul_overflow(a, b, &out);
}

}  // namespace ostd
