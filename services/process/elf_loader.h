// services/process/elf_loader.h — loading ELF64 executables into a VmSpace.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include <ostd/error.h>
#include <ostd/mm/vm_space.h>
#include <ostd/types.h>

namespace services {

struct LoadedSegment {
  ostd::Vaddr start;  // page-aligned
  ostd::Vaddr end;    // page-aligned
  ostd::PageFlags flags;
  ostd::Vaddr vaddr = 0;  // where the file bytes begin (load bias included)
  ostd::u64 offset = 0;   // their file offset (congruent to vaddr modulo the page size)
  ostd::u64 filesz = 0;   // the rest up to `end` is zero
};

struct LoadedImage {
  std::vector<LoadedSegment> segments;
  ostd::Vaddr entry = 0;
  ostd::Vaddr phdr = 0;  // address of the program headers in memory (AT_PHDR)
  ostd::u16 phent = 0;
  ostd::u16 phnum = 0;
  ostd::Vaddr load_bias = 0;
  ostd::Vaddr brk_start = 0;  // first page after the highest segment
  std::string interpreter;    // PT_INTERP's path (the dynamic loader), empty for none
  bool dynamic = false;       // ET_DYN: position-independent, placed at the bias it was given
  ostd::Vaddr lowest = 0;     // the lowest segment page (before any bias: for ET_DYN placement)
};

/// Whether `head` starts with the ELF header of a 64-bit little-endian x86-64 file (what
/// parse_elf checks first; the rest of the header may still be malformed).
bool is_x86_64_elf(std::span<const ostd::u8> head);

/// Checks an ELF image whose first bytes are `head` and whose size is `file_size` (the headers,
/// program headers and PT_INTERP's path must lie in `head`) and describes its segments, mapping
/// nothing. An ET_DYN image is placed at `dyn_bias` (default: 0x555555554000, where Linux puts
/// a PIE without randomization). ENOEXEC as load_elf.
ostd::Result<LoadedImage> parse_elf(std::span<const ostd::u8> head, ostd::u64 file_size,
                                    std::optional<ostd::Vaddr> dyn_bias = std::nullopt);

/// Checks the image completely, then maps every PT_LOAD segment (file bytes copied, the rest
/// zero). ENOEXEC for anything malformed or unsupported (not ELF64 x86-64, bad sizes or
/// offsets, segments outside the user range, a PT_INTERP path that is not NUL-terminated);
/// ENOMEM when frames run out. The interpreter itself is the caller's to load.
ostd::Result<LoadedImage> load_elf(ostd::VmSpace& vm, std::span<const ostd::u8> image,
                                   std::optional<ostd::Vaddr> dyn_bias = std::nullopt);

}  // namespace services
