// ostd/format.h — a tiny, allocation-light "{}" formatter usable on both backends (libstdc++ in
// GCC 12 has no <format>). Supports {}, {:x}, {:#x}, {:X}, {:d}, {:o} and {:b} on integers, plus
// strings, booleans, pointers (printed as addresses, ostd-internal only) and Errno.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <type_traits>

#include <ostd/error.h>
#include <ostd/types.h>

namespace ostd {

namespace detail {

struct FormatArg {
  enum class Kind : u8 { Signed, Unsigned, String, Bool, Errno } kind;
  i64 s = 0;
  u64 u = 0;
  std::string_view str;
};

template <typename T>
FormatArg make_format_arg(const T& v) {
  using D = std::decay_t<T>;
  if constexpr (std::is_same_v<D, bool>) {
    return {FormatArg::Kind::Bool, 0, v ? 1u : 0u, {}};
  } else if constexpr (std::is_same_v<D, Errno>) {
    return {FormatArg::Kind::Errno, static_cast<i64>(v), 0, errno_name(v)};
  } else if constexpr (std::is_enum_v<D>) {
    return make_format_arg(static_cast<std::underlying_type_t<D>>(v));
  } else if constexpr (std::is_integral_v<D> && std::is_signed_v<D>) {
    return {FormatArg::Kind::Signed, static_cast<i64>(v), 0, {}};
  } else if constexpr (std::is_integral_v<D>) {
    return {FormatArg::Kind::Unsigned, 0, static_cast<u64>(v), {}};
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    return {FormatArg::Kind::String, 0, 0, std::string_view(v)};
  } else {
    static_assert(sizeof(T) == 0, "ostd::format: unsupported argument type");
  }
}

void vformat_to(std::string& out, std::string_view fmt, const FormatArg* args, usize nargs);

}  // namespace detail

/// format("{} pages at {:#x}", n, addr) -> "3 pages at 0x1000". Unknown specs print the value
/// in decimal; missing arguments print "{?}".
template <typename... Args>
std::string format(std::string_view fmt, const Args&... args) {
  std::string out;
  if constexpr (sizeof...(Args) == 0) {
    detail::vformat_to(out, fmt, nullptr, 0);
  } else {
    const std::array<detail::FormatArg, sizeof...(Args)> list{detail::make_format_arg(args)...};
    detail::vformat_to(out, fmt, list.data(), list.size());
  }
  return out;
}

}  // namespace ostd
