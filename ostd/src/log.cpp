#include <atomic>

#include <ostd/arch/backend.h>
#include <ostd/log.h>

namespace ostd {

namespace {
std::atomic<LogLevel> g_level{LogLevel::Warn};
std::atomic<log::Observer> g_observer{nullptr};
}  // namespace

namespace log {

void set_level(LogLevel level) { g_level.store(level, std::memory_order_relaxed); }
LogLevel level() { return g_level.load(std::memory_order_relaxed); }
bool enabled(LogLevel lvl) { return lvl >= level() && lvl != LogLevel::Off; }

void set_observer(Observer observer) { g_observer.store(observer, std::memory_order_release); }

bool wanted(LogLevel lvl) {
  return enabled(lvl) ||
         (lvl >= LogLevel::Info && lvl != LogLevel::Off && g_observer.load(std::memory_order_acquire) != nullptr);
}

Result<LogLevel> parse_level(std::string_view name) {
  if (name == "trace") return LogLevel::Trace;
  if (name == "debug") return LogLevel::Debug;
  if (name == "info") return LogLevel::Info;
  if (name == "warn" || name == "warning") return LogLevel::Warn;
  if (name == "error") return LogLevel::Error;
  if (name == "off") return LogLevel::Off;
  return Errno::einval;
}

void write(LogLevel lvl, std::string_view module, std::string_view message) {
  if (enabled(lvl)) arch::log_write(lvl, module, message);
  Observer observer = g_observer.load(std::memory_order_acquire);
  if (observer != nullptr && lvl >= LogLevel::Info && lvl != LogLevel::Off) observer(lvl, module, message);
}

}  // namespace log

namespace detail {
[[noreturn]] void panic_impl(std::string_view message, const SourceLocation& loc) {
  std::string full = format("kernel panic at {}:{} ({}): {}", std::string_view(loc.file), loc.line,
                            std::string_view(loc.function), message);
  arch::halt_on_panic(full);
}
}  // namespace detail

}  // namespace ostd

// libstdc++'s bounds checks (_GLIBCXX_ASSERTIONS, on in every build) end here on both backends:
// an out-of-range index in kernel code is a kernel panic with its place, not an abort.
// (noreturn comes from libstdc++'s declaration, which clang wants to be the first to say so.)
namespace std {
void __glibcxx_assert_fail(const char* file, int line, const char* function, const char* condition) noexcept {
  ostd::panic("libstdc++ assertion failed at {}:{} in {}: {}", std::string_view(file), line, std::string_view(function),
              std::string_view(condition));
}
}  // namespace std
