#include "process/elf_loader.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include <ostd/bytes.h>
#include <ostd/mm/frame.h>

#include "abi/elf.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::kPageSize;
using ostd::PageFlags;
using ostd::Result;
using ostd::u64;
using ostd::usize;
using ostd::Vaddr;

namespace {

constexpr Vaddr kPieBias = 0x555555554000ull;

PageFlags segment_flags(ostd::u32 pf) {
  PageFlags f = PageFlags::None;
  if ((pf & elf::kPfR) != 0) f = f | PageFlags::R;
  if ((pf & elf::kPfW) != 0) f = f | PageFlags::W;
  if ((pf & elf::kPfX) != 0) f = f | PageFlags::X;
  return f;
}

struct Segment {
  Vaddr start;  // page-aligned
  Vaddr end;    // page-aligned
  Vaddr vaddr;
  u64 offset;
  u64 filesz;
  PageFlags flags;
};

}  // namespace

namespace {

struct Parsed {
  LoadedImage out;
  std::vector<Segment> segs;
};

// PT_INTERP's path: NUL-terminated, in the bytes at hand (the file's head), at most a page.
Result<std::string> interpreter_path(std::span<const ostd::u8> image, const elf::Phdr& ph) {
  u64 end = 0;
  if (ph.filesz < 2 || ph.filesz > kPageSize || !ostd::checked_add<u64>(ph.offset, ph.filesz, end) ||
      end > image.size() || image[end - 1] != 0) {
    return Errno::enoexec;
  }
  std::string path;
  for (u64 i = ph.offset; i + 1 < end && image[i] != 0; ++i) path.push_back(static_cast<char>(image[i]));
  if (path.empty()) return Errno::enoexec;
  return path;
}

Result<Parsed> parse(std::span<const ostd::u8> image, u64 file_size, std::optional<Vaddr> dyn_bias) {
  auto eh = ostd::load_from<elf::Ehdr>(image, 0);
  if (!eh || !is_x86_64_elf(image) || (eh->type != elf::kTypeExec && eh->type != elf::kTypeDyn) ||
      eh->phentsize != sizeof(elf::Phdr) || eh->phnum == 0 || eh->phnum > 128) {
    return Errno::enoexec;
  }
  LoadedImage out;
  Vaddr bias = eh->type == elf::kTypeDyn ? dyn_bias.value_or(kPieBias) : 0;
  std::vector<Segment> segs;
  std::vector<elf::Phdr> phdrs;
  for (usize i = 0; i < eh->phnum; ++i) {
    u64 at = 0;
    if (!ostd::checked_add<u64>(eh->phoff, i * sizeof(elf::Phdr), at)) return Errno::enoexec;
    auto ph = ostd::load_from<elf::Phdr>(image, at);
    if (!ph) return Errno::enoexec;
    phdrs.push_back(*ph);
  }
  for (const elf::Phdr& ph : phdrs) {
    if (ph.type == elf::kPtInterp && out.interpreter.empty()) {
      out.interpreter = TRY(interpreter_path(image, ph));
    }
    if (ph.type != elf::kPtLoad || ph.memsz == 0) continue;
    u64 file_end = 0;
    u64 vstart = 0;
    u64 vend = 0;
    if (!ostd::checked_add<u64>(ph.offset, ph.filesz, file_end) || file_end > file_size || ph.filesz > ph.memsz ||
        !ostd::checked_add<u64>(ph.vaddr, bias, vstart) || !ostd::checked_add<u64>(vstart, ph.memsz, vend) ||
        (ph.vaddr % kPageSize) != (ph.offset % kPageSize) ||
        ostd::page_align_down(vstart) < ostd::VmSpace::user_base() || vend > ostd::VmSpace::user_top()) {
      return Errno::enoexec;
    }
    segs.push_back({ostd::page_align_down(vstart), ostd::page_align_up(vend), vstart, ph.offset, ph.filesz,
                    segment_flags(ph.flags)});
  }
  if (segs.empty()) return Errno::enoexec;
  out.entry = eh->entry + bias;
  out.phent = eh->phentsize;
  out.phnum = eh->phnum;
  out.load_bias = bias;
  out.dynamic = eh->type == elf::kTypeDyn;
  out.lowest =
      std::min_element(segs.begin(), segs.end(), [](const Segment& a, const Segment& b) { return a.start < b.start; })
          ->start -
      bias;
  for (const elf::Phdr& ph : phdrs) {
    if (ph.type == elf::kPtPhdr) out.phdr = ph.vaddr + bias;
  }
  if (out.phdr == 0) {
    for (const elf::Phdr& ph : phdrs) {
      if (ph.type == elf::kPtLoad && ph.offset <= eh->phoff && eh->phoff - ph.offset < ph.filesz) {
        out.phdr = ph.vaddr + bias + (eh->phoff - ph.offset);
      }
    }
  }
  bool entry_ok = std::any_of(segs.begin(), segs.end(), [&](const Segment& s) {
    return out.entry >= s.vaddr && out.entry < s.end && ostd::has(s.flags, PageFlags::X);
  });
  if (!entry_ok) return Errno::enoexec;
  for (const Segment& s : segs) {
    out.brk_start = std::max(out.brk_start, s.end);
    out.segments.push_back({s.start, s.end, s.flags, s.vaddr, s.offset, s.filesz});
  }
  return Parsed{std::move(out), std::move(segs)};
}

}  // namespace

bool is_x86_64_elf(std::span<const ostd::u8> head) {
  auto eh = ostd::load_from<elf::Ehdr>(head, 0);
  if (!eh) return false;
  const auto& id = eh->ident;
  return id[0] == 0x7f && id[1] == 'E' && id[2] == 'L' && id[3] == 'F' && id[4] == 2 /*64-bit*/ &&
         id[5] == 1 /*little endian*/ && eh->machine == elf::kMachineAmd64;
}

Result<LoadedImage> parse_elf(std::span<const ostd::u8> head, u64 file_size, std::optional<Vaddr> dyn_bias) {
  Parsed p = TRY(parse(head, file_size, dyn_bias));
  return std::move(p.out);
}

Result<LoadedImage> load_elf(ostd::VmSpace& vm, std::span<const ostd::u8> image, std::optional<Vaddr> dyn_bias) {
  // ---- decode and check everything first ----
  Parsed p = TRY(parse(image, image.size(), dyn_bias));
  // ---- act: map the segments ----
  for (const Segment& s : p.segs) {
    for (Vaddr page = s.start; page < s.end; page += kPageSize) {
      auto existing = vm.query(page);
      ostd::Frame frame = existing ? existing->frame : TRY(ostd::Frame::alloc());
      PageFlags flags = existing ? (existing->flags | s.flags) : s.flags;
      // File bytes that land in this page.
      Vaddr copy_from = std::max<Vaddr>(page, s.vaddr);
      Vaddr copy_to = std::min<Vaddr>(page + kPageSize, s.vaddr + s.filesz);
      if (copy_from < copy_to) {
        u64 file_off = s.offset + (copy_from - s.vaddr);
        TRY(frame.write_bytes(copy_from - page, image.subspan(file_off, copy_to - copy_from)));
      }
      TRY(vm.map(page, frame, flags));
    }
  }
  return std::move(p.out);
}

}  // namespace services
