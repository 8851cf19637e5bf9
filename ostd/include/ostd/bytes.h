// ostd/bytes.h — byte views of trivially copyable objects (the one place the cast lives).
#pragma once

#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>

#include <ostd/types.h>

namespace ostd {

template <typename T>
  requires std::is_trivially_copyable_v<T>
std::span<u8, sizeof(T)> writable_bytes_of(T& v) {
  return std::span<u8, sizeof(T)>(reinterpret_cast<u8*>(&v), sizeof(T));  // NOLINT
}
template <typename T>
  requires std::is_trivially_copyable_v<T>
std::span<const u8, sizeof(T)> bytes_of(const T& v) {
  return std::span<const u8, sizeof(T)>(reinterpret_cast<const u8*>(&v), sizeof(T));  // NOLINT
}

/// The bytes of an array of T.
template <typename T>
  requires std::is_trivially_copyable_v<T>
std::span<const u8> bytes_of_span(std::span<const T> v) {
  return std::span<const u8>(reinterpret_cast<const u8*>(v.data()), v.size_bytes());  // NOLINT
}

/// The bytes of a string (no terminating NUL).
inline std::span<const u8> bytes_of_string(std::string_view s) {
  return std::span<const u8>(reinterpret_cast<const u8*>(s.data()), s.size());  // NOLINT
}

/// Reads a T stored at `offset` in `bytes` (any alignment); nullopt when it does not fit.
/// The safe way for services to decode binary formats (ELF, cpio, ABI structs).
template <typename T>
  requires std::is_trivially_copyable_v<T>
std::optional<T> load_from(std::span<const u8> bytes, usize offset) {
  if (offset > bytes.size() || sizeof(T) > bytes.size() - offset) return std::nullopt;
  T v;
  std::memcpy(&v, bytes.data() + offset, sizeof(T));
  return v;
}

}  // namespace ostd
