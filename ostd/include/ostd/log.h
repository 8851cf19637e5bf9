// ostd/log.h — leveled, per-module logging and panic(). On the host backend messages go to
// spdlog (stderr); on bare metal to the serial console. Never call from interrupt context.
#pragma once

#include <string_view>

#include <ostd/format.h>

namespace ostd {

enum class LogLevel : u8 { Trace, Debug, Info, Warn, Error, Off };

namespace log {
/// Messages below this level are dropped (default: Warn on the host, so guest output stays clean).
void set_level(LogLevel level);
LogLevel level();
bool enabled(LogLevel level);
/// Parses "trace|debug|info|warn|error|off"; EINVAL otherwise.
Result<LogLevel> parse_level(std::string_view name);
void write(LogLevel level, std::string_view module, std::string_view message);

/// Receives every message of level Info and above, printed or not: the kernel log that dmesg
/// reads keeps them, as Linux's ring keeps what the console level hides. Set once at boot (the
/// services' kernel log); called where the message was logged, so it must not sleep.
using Observer = void (*)(LogLevel level, std::string_view module, std::string_view message);
void set_observer(Observer observer);
/// Whether a message of this level is printed or observed (worth formatting).
bool wanted(LogLevel level);
}  // namespace log

/// A named logger for one area: `constexpr Logger kLog{"vm"}; kLog.info("{} pages", n);`
class Logger {
 public:
  constexpr explicit Logger(std::string_view module) : module_(module) {}

  template <typename... A>
  void trace(std::string_view fmt, const A&... a) const {
    emit(LogLevel::Trace, fmt, a...);
  }
  template <typename... A>
  void debug(std::string_view fmt, const A&... a) const {
    emit(LogLevel::Debug, fmt, a...);
  }
  template <typename... A>
  void info(std::string_view fmt, const A&... a) const {
    emit(LogLevel::Info, fmt, a...);
  }
  template <typename... A>
  void warn(std::string_view fmt, const A&... a) const {
    emit(LogLevel::Warn, fmt, a...);
  }
  template <typename... A>
  void error(std::string_view fmt, const A&... a) const {
    emit(LogLevel::Error, fmt, a...);
  }

 private:
  template <typename... A>
  void emit(LogLevel lvl, std::string_view fmt, const A&... a) const {
    if (log::wanted(lvl)) {
      log::write(lvl, module_, format(fmt, a...));
    }
  }
  std::string_view module_;
};

/// Where a panic was written (std::source_location needs a builtin clang 14 lacks).
struct SourceLocation {
  const char* file;
  int line;
  const char* function;
};

/// A format string that remembers where it was written (for panic messages).
struct PanicFormat {
  template <typename S>
  consteval PanicFormat(const S& s, const char* file = __builtin_FILE(),  // NOLINT
                        int line = __builtin_LINE(), const char* fn = __builtin_FUNCTION())
      : fmt(s), loc{file, line, fn} {}
  std::string_view fmt;
  SourceLocation loc;
};

namespace detail {
[[noreturn]] void panic_impl(std::string_view message, const SourceLocation& loc);
}

/// A kernel invariant was violated: print the message with its source location and a backtrace
/// (where the backend can), then stop the machine. Never returns. Not for bad user input.
template <typename... A>
[[noreturn]] void panic(PanicFormat fmt, const A&... a) {
  detail::panic_impl(format(fmt.fmt, a...), fmt.loc);
}

}  // namespace ostd

/// Checked in every build: panics with the expression text when false.
#define OSTD_ASSERT(cond) \
  do { \
    if (!(cond)) [[unlikely]] { \
      ::ostd::panic("assertion failed: {}", #cond); \
    } \
  } while (0)
