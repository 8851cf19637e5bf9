// The 16550 serial ports: COM1 carries the console (the init program's stdin/stdout), COM2 the
// kernel log and the program's stderr, COM3 the exit status at shutdown (scripts/qemu-run).
#include <ostd/boot.h>
#include <ostd/irq.h>
#include <ostd/log.h>
#include <ostd/time.h>

#include "x86.h"

namespace ostd::x86 {

namespace {
constexpr u16 kPorts[3] = {0x3f8, 0x2f8, 0x3e8};
bool g_console_tty = false;
// Not a terminal: scripts/qemu-run feeds exactly this many bytes of input, then end of input.
u64 g_input_limit = 0;
u64 g_input_seen = 0;

void port_init(u16 base) {
  outb(base + 1, 0x00);  // no interrupts
  outb(base + 3, 0x80);  // DLAB
  outb(base + 0, 0x01);  // 115200 baud
  outb(base + 1, 0x00);
  outb(base + 3, 0x03);  // 8N1
  // FCR stays as it is: switching the FIFOs on clears them, and input may already be waiting.
  outb(base + 4, 0x0b);  // DTR, RTS, OUT2
}
}  // namespace

void serial_init() {
  for (u16 p : kPorts) port_init(p);
}

void set_console_tty(bool on) { g_console_tty = on; }
void set_console_input_bytes(u64 n) { g_input_limit = n; }

void serial_write(int index, std::string_view s) {
  u16 base = kPorts[index];
  for (char ch : s) {
    while ((inb(base + 5) & 0x20) == 0) {}
    outb(base, static_cast<u8>(ch));
  }
}

bool serial_try_read(u8& byte) {
  if ((inb(kPorts[0] + 5) & 1) == 0) return false;
  byte = inb(kPorts[0]);
  return true;
}

[[noreturn]] void shutdown(int status) {
  cli();
  std::string s = format("{}\n", status);
  serial_write(2, s);
  outb(0xf4, 0);  // isa-debug-exit: QEMU exits; scripts/qemu-run reads the status from COM3
  // SAFETY: hlt only waits; with interrupts off (cli above) this parks the CPU for good.
  for (;;) asm volatile("hlt");
}

}  // namespace ostd::x86

namespace ostd::arch {

void log_write(LogLevel level, std::string_view module, std::string_view message) {
  const char* name = "?";
  switch (level) {
    case LogLevel::Trace: name = "trace"; break;
    case LogLevel::Debug: name = "debug"; break;
    case LogLevel::Info: name = "info"; break;
    case LogLevel::Warn: name = "warn"; break;
    case LogLevel::Error: name = "error"; break;
    case LogLevel::Off: return;
  }
  u64 us = monotonic_ns() / kNsPerUs;
  std::string line =
      format("[{}.{}] {}: {}: {}\n", us / 1000000, us % 1000000 + 1000000, std::string_view(name), module, message);
  // "[12.1000345]" -> "[12.000345]": the +1000000 kept the leading zeros.
  auto dot = line.find('.');
  if (dot != std::string::npos) line.erase(dot + 1, 1);
  irq::DisabledGuard g;
  x86::serial_write(1, line);
}

void halt_on_panic(std::string_view message) {
  x86::cli();
  x86::serial_write(1, "\n");
  x86::serial_write(1, message);
  x86::serial_write(1, "\nbacktrace (addr2line -e build/x86_64/kernel.elf):\n");
  // SAFETY: this function's frame address (-fno-omit-frame-pointer), only for print_backtrace's
  // bounded walk; the builtin just reads rbp.
  x86::print_backtrace(reinterpret_cast<u64>(__builtin_frame_address(0)));
  x86::shutdown(-1);
}

}  // namespace ostd::arch

namespace ostd::console {

Result<usize> write(int stream, std::span<const u8> bytes) {
  // SAFETY: u8 and char have the same size and char may alias any byte; same length as bytes.
  x86::serial_write(stream == 2 ? 1 : 0, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  return bytes.size();
}

Result<usize> try_read(std::span<u8> dst) {
  usize n = 0;
  u8 b = 0;
  bool tty = x86::g_console_tty;
  u64 left = x86::g_input_limit - x86::g_input_seen;
  if (!tty && left == 0) return usize{0};  // end of input
  while (n < dst.size() && (tty || n < left) && x86::serial_try_read(b)) dst[n++] = b;
  if (!tty) x86::g_input_seen += n;
  if (n == 0) return Errno::eagain;
  return n;
}

Result<usize> read(std::span<u8> dst) {
  for (;;) {
    auto r = try_read(dst);
    if (r.is_ok()) return r;
    // SAFETY: pause is a spin-wait hint with no memory or register effects.
    asm volatile("pause");
  }
}

bool is_terminal() { return x86::g_console_tty; }
void set_raw_mode(bool) {}
std::optional<WindowSize> window_size() { return std::nullopt; }

}  // namespace ostd::console
