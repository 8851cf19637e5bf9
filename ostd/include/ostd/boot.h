// ostd/boot.h — what the machine tells the kernel at boot.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include <ostd/error.h>
#include <ostd/types.h>

namespace ostd {

struct BootInfo {
  /// The kernel command line (host: umk's arguments, joined).
  std::string cmdline;
  /// The initial program and its arguments (host: what follows `--`).
  std::vector<std::string> init_argv;
  /// The initramfs image (newc cpio), empty when none was given. Valid for the kernel's lifetime.
  std::span<const u8> initramfs;
  u64 memory_bytes = 0;
  u32 cpu_count = 1;
  /// Name of the platform: "host-ptrace", "host-seccomp", "x86_64".
  std::string platform;
};

const BootInfo& boot_info();

/// Console output for the init program's stdout/stderr (host: umk's own fds 1 and 2).
/// Returns the number of bytes written or EIO.
namespace console {
Result<usize> write(int stream, std::span<const u8> bytes);
/// Reads up to dst.size() bytes from the console input; 0 at end of input. Blocks the whole
/// CPU on the host (not only the task): kernel code uses try_read.
Result<usize> read(std::span<u8> dst);
/// Non-blocking read of the console input: EAGAIN when nothing is available now, 0 at end of
/// input (or when there is no input at all).
Result<usize> try_read(std::span<u8> dst);
/// Whether the console is a terminal (host: umk's stdin is a tty). When it is, the kernel runs
/// its own line discipline and the backend passes bytes through untouched (raw mode).
bool is_terminal();
/// Puts the terminal in raw mode (no echo, no line editing, no signals, no output processing)
/// or restores the mode it had. Does nothing when the console is not a terminal. The host
/// backend restores the terminal when the kernel ends or panics.
void set_raw_mode(bool on);
struct WindowSize {
  u16 rows;
  u16 cols;
};
/// The terminal's size, if the console is a terminal that knows it.
std::optional<WindowSize> window_size();
}  // namespace console

}  // namespace ostd
