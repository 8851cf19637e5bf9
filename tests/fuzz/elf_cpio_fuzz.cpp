// libFuzzer target: the ELF header/program-header checker and the newc cpio reader on raw
// bytes. Both must return a clean error (ENOEXEC / EINVAL / ENOENT / ELOOP) for any input and
// never read outside it; ASan and UBSan are on in the fuzz build.
//
// The first input byte picks the parser (even: ELF, odd: cpio); the rest is the file.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "fs/cpio.h"
#include "process/elf_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::span<const ostd::u8> bytes(data + 1, size - 1);
  if ((data[0] & 1) == 0) {
    // parse_elf sees the file's first 16 KiB and its size, as execve gives it.
    auto head = bytes.first(bytes.size() < 16384 ? bytes.size() : 16384);
    // As a program, and as a dynamic loader placed high (exec puts one below the mmap base).
    for (std::optional<ostd::u64> bias : {std::optional<ostd::u64>(), std::optional<ostd::u64>(0x7fefc0000000ull)}) {
      auto r = services::parse_elf(head, bytes.size(), bias);
      if (r.is_error()) continue;
      for (const auto& s : r.value().segments) {
        // Invariants of an accepted image: page-aligned, ordered, inside the user range.
        if (s.start % 4096 != 0 || s.end % 4096 != 0 || s.start >= s.end || s.filesz > s.end - s.start)
          __builtin_trap();
        if (s.offset + s.filesz > bytes.size()) __builtin_trap();
        if (s.start < 0x10000 || s.end > 0x7ff000000000ull) __builtin_trap();
      }
      // PT_INTERP's path: non-empty, shorter than a page, no NUL inside.
      const std::string& interp = r.value().interpreter;
      if (interp.size() >= 4096 || interp.find('\0') != std::string::npos) __builtin_trap();
    }
  } else {
    auto entries = services::cpio::parse(bytes);
    if (entries.is_ok()) {
      for (const char* path : {"/bin/sh", "init", "a/../b", "/", "x/y/z"}) {
        (void)services::cpio::lookup(entries.value(), path);
      }
      for (const auto& e : entries.value()) {
        // Entries borrow from the input: their data must lie inside it.
        if (!e.data.empty() &&
            (e.data.data() < bytes.data() || e.data.data() + e.data.size() > bytes.data() + bytes.size())) {
          __builtin_trap();
        }
      }
    }
  }
  return 0;
}
