// ostd/boot.h — what the machine tells the kernel at boot.
#pragma once

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
/// Reads up to dst.size() bytes from the console input; 0 at end of input. Blocks the task.
Result<usize> read(std::span<u8> dst);
}  // namespace console

}  // namespace ostd
