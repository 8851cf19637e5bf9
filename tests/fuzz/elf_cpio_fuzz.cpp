// libFuzzer target: the ELF header/program-header checker and the newc cpio reader on raw
// bytes. Both must return a clean error (ENOEXEC / EINVAL / ENOENT / ELOOP) for any input and
// never read outside it; ASan and UBSan are on in the fuzz build.
//
// The first input byte picks the parser (even: ELF, odd: cpio); the rest is the file.
#include <cstddef>
#include <cstdint>
#include <span>

#include "fs/cpio.h"
#include "process/elf_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::span<const ostd::u8> bytes(data + 1, size - 1);
  if ((data[0] & 1) == 0) {
    // parse_elf sees the file's first 16 KiB and its size, as execve gives it.
    auto head = bytes.first(bytes.size() < 16384 ? bytes.size() : 16384);
    auto r = services::parse_elf(head, bytes.size());
    if (r.is_ok()) {
      for (const auto& s : r.value().segments) {
        // Invariants of an accepted image: page-aligned, ordered, inside the user range.
        if (s.start % 4096 != 0 || s.end % 4096 != 0 || s.start >= s.end || s.filesz > s.end - s.start) __builtin_trap();
        if (s.offset + s.filesz > bytes.size()) __builtin_trap();
      }
    }
  } else {
    auto entries = services::cpio::parse(bytes);
    if (entries.is_ok()) {
      for (const char* path : {"/bin/sh", "init", "a/../b", "/", "x/y/z"}) {
        (void)services::cpio::lookup(entries.value(), path);
      }
      for (const auto& e : entries.value()) {
        // Entries borrow from the input: their data must lie inside it.
        if (!e.data.empty() && (e.data.data() < bytes.data() || e.data.data() + e.data.size() > bytes.data() + bytes.size())) {
          __builtin_trap();
        }
      }
    }
  }
  return 0;
}
