// ostd/bytes.h — byte views of trivially copyable objects (the one place the cast lives).
// Views that can change an object, and loads out of bytes, take Pod types only (ostd/pod.h):
// whatever the bytes are, the object stays a valid value.
#pragma once

#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>

#include <ostd/pod.h>
#include <ostd/types.h>

namespace ostd {

template <Pod T>
std::span<u8, sizeof(T)> writable_bytes_of(T& v) {
  // SAFETY: u8 may alias any object; the span covers exactly v's sizeof(T) bytes and borrows v;
  // T is Pod, so whatever is written there leaves a valid T.
  return std::span<u8, sizeof(T)>(reinterpret_cast<u8*>(&v), sizeof(T));  // NOLINT
}
template <typename T>
requires std::is_trivially_copyable_v<T> std::span<const u8, sizeof(T)> bytes_of(const T& v) {
  // SAFETY: u8 may alias any object; a read-only view of v's sizeof(T) bytes, borrowing v.
  return std::span<const u8, sizeof(T)>(reinterpret_cast<const u8*>(&v), sizeof(T));  // NOLINT
}

/// The bytes of an array of T.
template <typename T>
requires std::is_trivially_copyable_v<T> std::span<const u8> bytes_of_span(std::span<const T> v) {
  // SAFETY: u8 may alias any T; size_bytes() is exactly the bytes of v's elements, read-only.
  return std::span<const u8>(reinterpret_cast<const u8*>(v.data()), v.size_bytes());  // NOLINT
}

/// The bytes of a string (no terminating NUL).
inline std::span<const u8> bytes_of_string(std::string_view s) {
  // SAFETY: char and u8 have the same size and may alias; the view is s's s.size() bytes.
  return std::span<const u8>(reinterpret_cast<const u8*>(s.data()), s.size());  // NOLINT
}

/// Reads a T stored at `offset` in `bytes` (any alignment); nullopt when it does not fit.
/// The safe way for services to decode binary formats (ELF, cpio, ABI structs).
template <Pod T>
std::optional<T> load_from(std::span<const u8> bytes, usize offset) {
  if (offset > bytes.size() || sizeof(T) > bytes.size() - offset) return std::nullopt;
  T v;
  // SAFETY: offset + sizeof(T) <= bytes.size() (checked above); v is a local T of sizeof(T);
  // T is Pod, so any bytes form a valid T.
  std::memcpy(&v, bytes.data() + offset, sizeof(T));
  return v;
}

}  // namespace ostd
