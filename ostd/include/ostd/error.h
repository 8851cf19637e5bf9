// ostd/error.h — Errno (Linux values) and Result<T>, the only way fallible operations report
// failure in the kernel. No exceptions, no -1 sentinels.
#pragma once

#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

#include <ostd/types.h>

namespace ostd {

/// Linux errno values (x86-64 and RISC-V share them). The numeric value is the ABI. Enumerators
/// are the lower-case errno names (Errno::efault is EFAULT) so <errno.h> macros cannot clash.
// clang-format off
enum class Errno : i32 {
  eperm = 1, enoent = 2, esrch = 3, eintr = 4, eio = 5, enxio = 6, e2big = 7, enoexec = 8,
  ebadf = 9, echild = 10, eagain = 11, enomem = 12, eacces = 13, efault = 14, enotblk = 15,
  ebusy = 16, eexist = 17, exdev = 18, enodev = 19, enotdir = 20, eisdir = 21, einval = 22,
  enfile = 23, emfile = 24, enotty = 25, etxtbsy = 26, efbig = 27, enospc = 28, espipe = 29,
  erofs = 30, emlink = 31, epipe = 32, edom = 33, erange = 34, edeadlk = 35, enametoolong = 36,
  enolck = 37, enosys = 38, enotempty = 39, eloop = 40, enomsg = 42, eidrm = 43, enostr = 60,
  enodata = 61, etime = 62, eproto = 71, eoverflow = 75, ebadfd = 77, elibbad = 80, eilseq = 84, erestart = 85,
  eusers = 87,  enotsock = 88, edestaddrreq = 89, emsgsize = 90, eprototype = 91, enoprotoopt = 92,
  eprotonosupport = 93, esocktnosupport = 94, eopnotsupp = 95, eafnosupport = 97, eaddrinuse = 98,
  eaddrnotavail = 99, enetdown = 100, enetunreach = 101, econnaborted = 103, econnreset = 104,
  enobufs = 105, eisconn = 106, enotconn = 107, eshutdown = 108, etoomanyrefs = 109,
  etimedout = 110, econnrefused = 111,
  ehostunreach = 113, ealready = 114, einprogress = 115, estale = 116, ecanceled = 125,
  // Kernel-internal restart codes (never reach user space as such).
  erestartsys = 512, erestartnointr = 513, erestartnohand = 514, erestart_restartblock = 516,
};
// clang-format on

/// The symbolic name ("EFAULT"), or "E?" for values outside the table.
std::string_view errno_name(Errno e);
/// What the error means in words, as strerror(3) says it ("No such file or directory"); the
/// symbolic name for the kernel-internal codes.
std::string_view errno_message(Errno e);
constexpr i64 errno_value(Errno e) { return static_cast<i64>(e); }

/// Result::value() on an error: a kernel bug, in every build (defined out of line so the
/// check costs a compare and a never-taken branch at each use).
[[noreturn]] void result_value_of_error(Errno e, const char* file, int line);

/// Either a T or an Errno. [[nodiscard]]: ignoring a failure is a compile error under -Werror.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Errno e) : error_(e) {}                 // NOLINT(google-explicit-constructor)

  bool is_ok() const { return value_.has_value(); }
  bool is_error() const { return !value_.has_value(); }
  explicit operator bool() const { return is_ok(); }
  Errno error() const { return error_; }

  /// The value; called on an error it panics ("Result::value() of EFAULT"), in every build.
  T& value(const char* file = __builtin_FILE(), int line = __builtin_LINE()) & {  // NOLINT
    check(file, line);
    return *value_;
  }
  const T& value(const char* file = __builtin_FILE(), int line = __builtin_LINE()) const& {  // NOLINT
    check(file, line);
    return *value_;
  }
  T&& value(const char* file = __builtin_FILE(), int line = __builtin_LINE()) && {  // NOLINT
    check(file, line);
    return std::move(*value_);
  }
  T release_value(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {  // NOLINT
    check(file, line);
    return std::move(*value_);
  }
  T value_or(T fallback) const { return is_ok() ? *value_ : fallback; }

 private:
  void check(const char* file, int line) const {
    if (!value_.has_value()) [[unlikely]]
      result_value_of_error(error_, file, line);
  }
  std::optional<T> value_;
  Errno error_{};
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Errno e) : error_(e), ok_(false) {}  // NOLINT(google-explicit-constructor)

  bool is_ok() const { return ok_; }
  bool is_error() const { return !ok_; }
  explicit operator bool() const { return ok_; }
  Errno error() const { return error_; }
  void value(const char* file = __builtin_FILE(), int line = __builtin_LINE()) const {  // NOLINT
    if (!ok_) [[unlikely]]
      result_value_of_error(error_, file, line);
  }
  void release_value(const char* file = __builtin_FILE(), int line = __builtin_LINE()) const {  // NOLINT
    value(file, line);
  }

 private:
  Errno error_{};
  bool ok_ = true;
};

}  // namespace ostd

/// TRY(expr): evaluate a Result; on error return the Errno from the enclosing function (which must
/// return a Result), otherwise yield the value. Uses a GNU statement expression (g++ and clang++).
#define TRY(expr) \
  ({ \
    auto _ostd_try_result = (expr); \
    if (_ostd_try_result.is_error()) { \
      return _ostd_try_result.error(); \
    } \
    std::move(_ostd_try_result).release_value(); \
  })
