// Logging to stderr through spdlog; panics print a host backtrace and abort umk.
#include <execinfo.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <ostd/boot.h>

#include "host_internal.h"

namespace ostd::arch {

namespace {
constexpr const char* kPattern = "[%H:%M:%S.%e] [%^%l%$] %v";

// On a terminal every line ends in "\r\n": the console may be in raw mode (the guest's line
// discipline), where a bare newline does not return the carriage.
void set_format(spdlog::logger& lg, bool terminal) {
  lg.set_formatter(std::make_unique<spdlog::pattern_formatter>(kPattern, spdlog::pattern_time_type::local,
                                                               terminal ? "\r\n" : "\n"));
}

spdlog::logger& logger() {
  static std::shared_ptr<spdlog::logger> l = [] {
    auto lg = spdlog::stderr_logger_st("umk");
    set_format(*lg, isatty(2) == 1);
    lg->set_level(spdlog::level::trace);
    return lg;
  }();
  return *l;
}
}  // namespace

void log_write(LogLevel level, std::string_view module, std::string_view message) {
  irq::PreemptGuard no_preempt;  // spdlog holds host locks in inlined code
  spdlog::level::level_enum l = spdlog::level::info;
  switch (level) {
    case LogLevel::Trace: l = spdlog::level::trace; break;
    case LogLevel::Debug: l = spdlog::level::debug; break;
    case LogLevel::Info: l = spdlog::level::info; break;
    case LogLevel::Warn: l = spdlog::level::warn; break;
    case LogLevel::Error: l = spdlog::level::err; break;
    case LogLevel::Off: return;
  }
  logger().log(l, "{}: {}", spdlog::string_view_t(module.data(), module.size()),
               spdlog::string_view_t(message.data(), message.size()));
}

}  // namespace ostd::arch

namespace ostd::host {

bool set_log_file(const std::string& path) {
  // Opened here first: spdlog would create missing directories on the way.
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  std::fclose(f);
  try {
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_st>(path, true);
    arch::logger().sinks().assign(1, sink);
    arch::set_format(arch::logger(), false);
    return true;
  } catch (const spdlog::spdlog_ex&) {
    return false;
  }
}

void leave_terminal_and_print_backtrace() {
  console::set_raw_mode(false);  // leave the user's terminal usable
  void* frames[64];
  int n = backtrace(frames, 64);
  backtrace_symbols_fd(frames, n, 2);
}

}  // namespace ostd::host

namespace ostd::arch {

void halt_on_panic(std::string_view message) {
  cpu_local().irq_disabled.store(true);
  std::fprintf(stderr, "\n%.*s\n", static_cast<int>(message.size()), message.data());
  host::leave_terminal_and_print_backtrace();
  std::fflush(stderr);
  std::abort();
}

}  // namespace ostd::arch
