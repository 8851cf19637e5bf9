#include "vm/memory_map.h"

#include "vm/syscall_patch.h"

#include <algorithm>
#include <iterator>

#include <ostd/log.h>

#include <ostd/enforce.h>

namespace services {

using ostd::Access;
using ostd::Errno;
using ostd::kPageSize;
using ostd::PageFlags;
using ostd::Result;
using ostd::u64;
using ostd::Vaddr;

namespace {
bool allowed(ostd::u32 prot, Access a) {
  switch (a) {
    case Access::Read: return (prot & (kProtRead | kProtWrite | kProtExec)) != 0;
    case Access::Write: return (prot & kProtWrite) != 0;
    case Access::Execute: return (prot & kProtExec) != 0;
  }
  return false;
}
PageFlags without_write(PageFlags f) {
  return static_cast<PageFlags>(static_cast<ostd::u8>(f) & ~static_cast<ostd::u8>(PageFlags::W));
}
bool is_shared(const Vma& v) { return (v.flags & kMapShared) != 0 && v.shared != nullptr; }
}  // namespace

PageFlags page_flags_for(ostd::u32 prot) {
  PageFlags f = PageFlags::None;
  if ((prot & (kProtRead | kProtWrite | kProtExec)) != 0) f = f | PageFlags::R;
  if ((prot & kProtWrite) != 0) f = f | PageFlags::W;
  if ((prot & kProtExec) != 0) f = f | PageFlags::X;
  return f;
}

MemoryMap::MemoryMap(std::shared_ptr<ostd::VmSpace> vm) : vm_(std::move(vm)) {}

std::optional<Vma> MemoryMap::find(Vaddr va) const {
  auto it = areas_.upper_bound(va);
  if (it == areas_.begin()) return std::nullopt;
  --it;
  if (va >= it->second.start && va < it->second.end) return it->second;
  return std::nullopt;
}

bool MemoryMap::is_mapped(Vaddr va) const {
  ostd::MutexGuard g(lock_);
  return find(va).has_value();
}

std::optional<ostd::u32> MemoryMap::protection_at(Vaddr va) const {
  ostd::MutexGuard g(lock_);
  auto v = find(va);
  if (!v) return std::nullopt;
  return v->prot;
}

bool MemoryMap::covers(Vaddr start, Vaddr end) const {
  ostd::MutexGuard g(lock_);
  Vaddr at = start;
  while (at < end) {
    auto v = find(at);
    if (!v) return false;
    at = v->end;
  }
  return true;
}

std::vector<ostd::u8> MemoryMap::residency(Vaddr start, ostd::usize npages) const {
  ostd::MutexGuard g(lock_);
  std::vector<ostd::u8> out(npages, 0);
  for (ostd::usize i = 0; i < npages; ++i) {
    Vaddr page = start + i * kPageSize;
    if (vm_->query(page)) {
      out[i] = 1;
      continue;
    }
    auto v = find(page);
    if (!v) continue;
    u64 index = (v->file_offset + (page - v->start)) / kPageSize;
    const auto& pages = v->shared ? v->shared : v->cache;
    if (pages && pages->resident(index)) out[i] = 1;
  }
  return out;
}

std::vector<Vma> MemoryMap::areas() const {
  ostd::MutexGuard g(lock_);
  std::vector<Vma> out;
  for (const auto& [start, v] : areas_) out.push_back(v);
  return out;
}

Result<Vaddr> MemoryMap::find_free(u64 length, Vaddr hint) const {
  const Vaddr lo = ostd::VmSpace::user_base();
  if (hint != 0 && ostd::is_page_aligned(hint) && hint >= lo && hint <= ostd::VmSpace::user_top() - length) {
    auto next = areas_.lower_bound(hint);
    bool free_after = next == areas_.end() || next->second.start >= hint + length;
    bool free_before = next == areas_.begin() || std::prev(next)->second.end <= hint;
    if (free_after && free_before) return hint;
  }
  Vaddr top = mmap_base_;
  auto it = areas_.lower_bound(top);  // first area starting at or above top
  for (;;) {
    Vaddr floor = lo;
    if (it != areas_.begin()) {
      const Vma& prev = std::prev(it)->second;
      if (prev.end > top) {  // top lies inside prev: move below it
        top = prev.start;
        it = std::prev(it);
        continue;
      }
      floor = prev.end;
    }
    if (top >= floor && top - floor >= length) return top - length;
    if (it == areas_.begin()) break;
    it = std::prev(it);
    top = it->second.start;
  }
  return Errno::enomem;
}

void MemoryMap::remove_range(Vaddr start, Vaddr end) {
  std::vector<Vma> keep;
  for (auto it = areas_.begin(); it != areas_.end();) {
    Vma& v = it->second;
    if (v.end <= start || v.start >= end) {
      ++it;
      continue;
    }
    if (v.start < start) {
      Vma left = v;
      left.end = start;
      keep.push_back(left);
    }
    if (v.end > end) {
      Vma right = v;
      right.file_offset += end - v.start;
      right.start = end;
      keep.push_back(right);
    }
    it = areas_.erase(it);
  }
  for (Vma& v : keep) areas_[v.start] = v;
  (void)vm_->unmap(start, end - start);
  // Rewritten system call sites in the range are gone (syscall_patch.cpp); without the table,
  // no more are rewritten.
  if (!patched_.empty() || !syscall_site_traps_.empty()) {
    std::erase_if(patched_, [&](const auto& p) {
      return p.first < end && p.first + p.second.length + 2 > start;  // through its `syscall`
    });
    syscall_site_traps_.erase(syscall_site_traps_.lower_bound(start), syscall_site_traps_.lower_bound(end));
    if (traps_used_ != 0 && start < kTrapTableEnd && end > kTrapTableStart) patching_off_ = true;
  }
}

Result<Vaddr> MemoryMap::map(Vaddr hint, u64 length, ostd::u32 prot, ostd::u32 flags,
                             std::shared_ptr<const std::vector<ostd::u8>> file_bytes, u64 offset, std::string name,
                             std::shared_ptr<SharedPages> cache, ostd::u32 max_prot) {
  if (length == 0 || length > ostd::VmSpace::user_top()) return Errno::enomem;
  length = ostd::page_align_up(length);
  ostd::MutexGuard g(lock_);
  Vaddr addr = 0;
  if ((flags & (kMapFixed | kMapFixedNoreplace)) != 0) {
    if (!ostd::is_page_aligned(hint)) return Errno::einval;
    if (hint < ostd::VmSpace::user_base() || hint > ostd::VmSpace::user_top() - length) {
      return Errno::enomem;
    }
    if ((flags & kMapFixedNoreplace) != 0) {
      auto next = areas_.lower_bound(hint);
      bool overlap = (next != areas_.end() && next->second.start < hint + length) ||
                     (next != areas_.begin() && std::prev(next)->second.end > hint);
      if (overlap) return Errno::eexist;
    }
    addr = hint;
    remove_range(addr, addr + length);
  } else {
    addr = TRY(find_free(length, ostd::page_align_down(hint)));
  }
  Vma v;
  v.start = addr;
  v.end = addr + length;
  v.prot = prot;
  v.max_prot = max_prot;
  v.flags = flags & (kMapShared | kMapPrivate | kMapAnonymous | kMapGrowsdown | kMapStack);
  v.file_bytes = std::move(file_bytes);
  v.file_offset = offset;
  v.name = std::move(name);
  if (cache != nullptr) {
    if ((flags & kMapShared) != 0) {
      v.shared = std::move(cache);
    } else {
      v.cache = std::move(cache);
    }
  } else if ((flags & kMapShared) != 0 && v.file_bytes == nullptr) {
    // Shared anonymous memory is an object of the mapping's size (Linux's shmem file): pages
    // past it (a remap_file_pages offset, an mremap that grew the area) fault with SIGBUS.
    v.shared = std::make_shared<SharedPages>();
    v.shared->set_file_size(length);
  }
  if ((flags & kMapShared) != 0 && v.shared == nullptr && v.file_bytes != nullptr) {
    // Shared file mappings are served from a private snapshot of the file for now: writes are
    // not written back to the file. (Page-cache backed files come with the block device.)
    v.flags = (v.flags & ~kMapShared) | kMapPrivate;
  }
  areas_[addr] = v;
  return addr;
}

Result<void> MemoryMap::remap_pages(Vaddr start, u64 length, u64 offset) {
  ostd::MutexGuard g(lock_);
  auto first = find(start);
  if (!first || !is_shared(*first)) return Errno::einval;
  // The rest of the range: areas that follow without a gap, of the same object and kind.
  for (Vaddr cur = first->end; cur < start + length;) {
    auto next = find(cur);
    if (!next || next->start != cur || next->shared != first->shared || next->flags != first->flags) {
      return Errno::einval;
    }
    cur = next->end;
  }
  Vma v = *first;
  v.start = start;
  v.end = start + length;
  v.file_offset = offset;
  remove_range(start, start + length);
  areas_[start] = v;
  // As Linux's vma_merge: neighbours that continue each other (same object, kind and
  // protection, offsets in sequence) become one area again.
  auto same = [](const Vma& a, const Vma& b) {
    return a.end == b.start && a.shared == b.shared && a.flags == b.flags && a.prot == b.prot &&
           a.max_prot == b.max_prot && a.name == b.name && a.dev == b.dev && a.ino == b.ino &&
           a.file_offset + (a.end - a.start) == b.file_offset;
  };
  auto it = areas_.find(start);
  if (it != areas_.begin() && same(std::prev(it)->second, it->second)) {
    std::prev(it)->second.end = it->second.end;
    it = std::prev(areas_.erase(it));
  }
  if (auto next = std::next(it); next != areas_.end() && same(it->second, next->second)) {
    it->second.end = next->second.end;
    areas_.erase(next);
  }
  return {};
}

void MemoryMap::add_area(const Vma& v) {
  ostd::MutexGuard g(lock_);
  areas_[v.start] = v;
}

Result<void> MemoryMap::unmap(Vaddr addr, u64 length) {
  if (!ostd::is_page_aligned(addr) || length == 0) return Errno::einval;
  u64 end = 0;
  if (!ostd::checked_add<u64>(addr, ostd::page_align_up(length), end) || end > ostd::VmSpace::user_top() ||
      addr < ostd::VmSpace::user_base()) {
    return Errno::einval;
  }
  ostd::MutexGuard g(lock_);
  remove_range(addr, end);
  return {};
}

Result<void> MemoryMap::protect(Vaddr addr, u64 length, ostd::u32 prot) {
  if (!ostd::is_page_aligned(addr)) return Errno::einval;
  if ((prot & ~(kProtRead | kProtWrite | kProtExec | kProtGrowsdown)) != 0) return Errno::einval;
  prot &= ~kProtGrowsdown;
  u64 end = 0;
  if (!ostd::checked_add<u64>(addr, ostd::page_align_up(length), end)) return Errno::enomem;
  if (length == 0) return {};
  ostd::MutexGuard g(lock_);
  // Every page must be covered by some area, and allow the protection.
  for (Vaddr cur = addr; cur < end;) {
    auto v = find(cur);
    if (!v) return Errno::enomem;
    if ((prot & ~v->max_prot) != 0) return Errno::eacces;
    cur = v->end;
  }
  std::vector<Vma> pieces;
  for (auto it = areas_.begin(); it != areas_.end();) {
    Vma v = it->second;
    if (v.end <= addr || v.start >= end) {
      ++it;
      continue;
    }
    it = areas_.erase(it);
    if (v.start < addr) {
      Vma left = v;
      left.end = addr;
      pieces.push_back(left);
    }
    if (v.end > end) {
      Vma right = v;
      right.file_offset += end - v.start;
      right.start = end;
      pieces.push_back(right);
    }
    Vma mid = v;
    mid.start = std::max(v.start, addr);
    mid.end = std::min(v.end, end);
    mid.file_offset += mid.start - v.start;
    mid.prot = prot;
    pieces.push_back(mid);
    PageFlags f = page_flags_for(prot);
    // Private pages stay write-protected until a write fault proves they are not shared.
    if (!is_shared(mid)) f = without_write(f);
    TRY(vm_->protect(mid.start, mid.end - mid.start, f));
  }
  for (Vma& v : pieces) areas_[v.start] = v;
  return {};
}

void MemoryMap::set_max_prot(Vaddr start, ostd::u32 max_prot) {
  ostd::MutexGuard g(lock_);
  auto it = areas_.find(start);
  if (it != areas_.end()) it->second.max_prot = max_prot;
}

void MemoryMap::set_file_identity(Vaddr start, u64 length, u64 dev, u64 ino) {
  ostd::MutexGuard g(lock_);
  for (auto it = areas_.lower_bound(start); it != areas_.end() && it->first < start + length; ++it) {
    it->second.dev = dev;
    it->second.ino = ino;
  }
}

Result<void> MemoryMap::discard(Vaddr addr, u64 length) {
  if (!ostd::is_page_aligned(addr)) return Errno::einval;
  u64 end = 0;
  if (!ostd::checked_add<u64>(addr, ostd::page_align_up(length), end)) return Errno::einval;
  ostd::MutexGuard g(lock_);
  for (Vaddr cur = addr; cur < end;) {
    auto v = find(cur);
    if (!v) return Errno::enomem;
    cur = v->end;
  }
  return vm_->unmap(addr, end - addr);
}

void MemoryMap::set_brk_base(Vaddr base) {
  ostd::MutexGuard g(lock_);
  brk_base_ = brk_ = base;
}

void MemoryMap::unmap_object_pages(const std::shared_ptr<SharedPages>& pages, u64 first_index) {
  ostd::MutexGuard g(lock_);
  const u64 first_off = first_index * kPageSize;
  for (const auto& [start, v] : areas_) {
    if (v.shared != pages && v.cache != pages) continue;
    if (v.file_offset + (v.end - v.start) <= first_off) continue;
    Vaddr from = first_off <= v.file_offset ? v.start : v.start + (first_off - v.file_offset);
    (void)vm_->unmap(from, v.end - from);
  }
}

Result<Vaddr> MemoryMap::brk(Vaddr want) {
  ostd::MutexGuard g(lock_);
  if (want < brk_base_ || want >= ostd::VmSpace::user_top()) return brk_;
  Vaddr old_end = ostd::page_align_up(brk_);
  Vaddr new_end = ostd::page_align_up(want);
  if (new_end > old_end) {
    auto next = areas_.lower_bound(old_end);
    if (next != areas_.end() && next->second.start < new_end) return brk_;  // would collide
    // The heap grows from the area that ends at the old break (the heap may have been split
    // by mprotect or madvise since: extending its first piece would overlap the others).
    auto heap = areas_.end();
    if (old_end > brk_base_) {
      auto it = areas_.upper_bound(old_end - 1);
      if (it != areas_.begin()) {
        --it;
        const Vma& h = it->second;
        if (h.end == old_end && h.name == "[heap]" && h.prot == (kProtRead | kProtWrite) &&
            h.flags == (kMapPrivate | kMapAnonymous)) {
          heap = it;
        }
      }
    }
    if (heap != areas_.end()) {
      heap->second.end = new_end;
    } else {
      Vma v;
      v.start = old_end;
      v.end = new_end;
      v.prot = kProtRead | kProtWrite;
      v.flags = kMapPrivate | kMapAnonymous;
      v.name = "[heap]";
      areas_[v.start] = v;
    }
  } else if (new_end < old_end) {
    remove_range(new_end, old_end);
  }
  brk_ = want;
  return brk_;
}

Result<Vaddr> MemoryMap::remap(Vaddr old_addr, u64 old_len, u64 new_len, ostd::u32 flags, Vaddr new_addr) {
  constexpr ostd::u32 kMayMove = 1;
  constexpr ostd::u32 kFixed = 2;
  if (!ostd::is_page_aligned(old_addr) || new_len == 0 || (flags & ~(kMayMove | kFixed | 4u)) != 0 ||
      ((flags & kFixed) != 0 && (flags & kMayMove) == 0)) {
    return Errno::einval;
  }
  old_len = ostd::page_align_up(old_len);
  new_len = ostd::page_align_up(new_len);
  ostd::MutexGuard g(lock_);
  auto v = find(old_addr);
  if (!v || old_addr + old_len > v->end) return Errno::efault;
  if ((flags & kFixed) == 0) {
    if (new_len <= old_len) {
      if (new_len < old_len) remove_range(old_addr + new_len, old_addr + old_len);
      return old_addr;
    }
    // Grow in place when the area ends here and the space after it is free.
    if (old_addr + old_len == v->end) {
      auto next = areas_.upper_bound(old_addr);
      Vaddr limit = next == areas_.end() ? ostd::VmSpace::user_top() : next->second.start;
      if (old_addr + new_len <= limit) {
        areas_[v->start].end = old_addr + new_len;
        return old_addr;
      }
    }
    if ((flags & kMayMove) == 0) return Errno::enomem;
    new_addr = TRY(find_free(new_len, 0));
  } else {
    if (!ostd::is_page_aligned(new_addr)) return Errno::einval;
    // Linux's mremap_to: a target that wraps or ends past the top of user space is EINVAL; one
    // below the lowest mappable address is EPERM (mmap_min_addr, as for a process without
    // CAP_SYS_RAWIO). Never a target in what the backend keeps for itself.
    if (new_len > ostd::VmSpace::user_top() || new_addr > ostd::VmSpace::user_top() - new_len) {
      return Errno::einval;
    }
    if (new_addr < ostd::VmSpace::user_base()) return Errno::eperm;
    if (new_addr < old_addr + old_len && old_addr < new_addr + new_len) return Errno::einval;
    remove_range(new_addr, new_addr + new_len);
  }
  Vma moved = *v;
  moved.file_offset += old_addr - v->start;
  moved.start = new_addr;
  moved.end = new_addr + new_len;
  u64 keep = std::min(old_len, new_len);
  for (auto& [va, m] : vm_->mappings_in(old_addr, old_addr + keep)) {
    TRY(vm_->map(new_addr + (va - old_addr), m.frame, m.flags));
  }
  remove_range(old_addr, old_addr + old_len);
  areas_[moved.start] = moved;
  return new_addr;
}

// Whether this process maps `pages` executable somewhere: the file is a program or library
// image (its text, read-only data and data segments are the loader's mappings of one file).
bool MemoryMap::maps_executable(const SharedPages* pages) const {
  return std::ranges::any_of(
      areas_, [&](const auto& a) { return a.second.cache.get() == pages && (a.second.prot & kProtExec) != 0; });
}

// File pages fault around as Linux's filemap_map_pages: with the faulting page, the pages of
// the window around it that the page cache holds and nothing maps yet are mapped too, in runs
// of consecutive pages (one backend request each), so a program's first touches of a library
// cost one fault per window rather than per page. The window is Linux's 64 KiB, and 256 KiB in
// a program or library image: a fault costs more here (on the host backend a trip to the stub
// process, ~50-100 us on a paravirtualized host) and a program's start touches its image
// widely (python3's start: 42 -> 37 ms), while the mappings of data files (git's index and
// packs) are read sparsely and a larger window only costs them mapping work (git status in a
// 1000-file repository: 38 -> 42 ms with 256 KiB for all).
Result<void> MemoryMap::map_file_around(const Vma& vma, Vaddr page, const ostd::Frame& frame, PageFlags flags,
                                        const SharedPages& pages) {
  const u64 window = (maps_executable(&pages) ? 64 : 16) * kPageSize;
  Vaddr lo = std::max(vma.start, page & ~(window - 1));
  Vaddr hi = std::min(vma.end, lo + window);
  std::vector<ostd::Frame> run;
  Vaddr run_start = 0;
  auto flush_run = [&]() -> Result<void> {
    if (!run.empty()) TRY(vm_->map_frames(run_start, run, flags));
    run.clear();
    return {};
  };
  for (Vaddr p = lo; p < hi; p += kPageSize) {
    std::optional<ostd::Frame> f;
    if (p == page) {
      f = frame;
    } else if (!vm_->query(p)) {
      u64 index = (vma.file_offset + (p - vma.start)) / kPageSize;
      if (pages.page_in_file(index)) f = pages.find(index);
    }
    if (!f) {
      TRY(flush_run());
      continue;
    }
    if (run.empty()) run_start = p;
    run.push_back(*f);
  }
  return flush_run();
}

// The first write to a page of a program's or library's data segment (a private writable
// mapping of a file this process also maps executable) copies it, and with it the pages of
// the same 64 KiB window that the process maps read-only from the page cache (touched or
// faulted around, not yet written): such writes come in clusters (the loader's relocations,
// a program's .data), and on the host backend every copy-on-write fault is a trip to the stub
// process and back (python3's start: ~300 of them), so one fault per window instead of per
// page. Two trades: memory, as with anonymous fault-around (a neighbour never written is a
// private copy all the same), and a neighbour copied early no longer shows later writes to
// the file, which Linux shows until the page is written. Hence only ELF images (whose files
// nobody rewrites while they run): a data file mapped private keeps Linux's behaviour.
// False when this is not such a page (the caller copies it alone).
Result<bool> MemoryMap::copy_file_pages_around(const Vma& vma, Vaddr page, PageFlags flags) {
  constexpr u64 kWindow = 16 * kPageSize;
  auto cached = [&](Vaddr p) -> std::optional<ostd::Frame> {
    auto m = vm_->query(p);
    if (!m || ostd::has(m->flags, PageFlags::W)) return std::nullopt;
    auto f = vma.cache->find((vma.file_offset + (p - vma.start)) / kPageSize);
    if (!f || f->paddr() != m->frame.paddr()) return std::nullopt;
    return f;
  };
  // (The page first: one lookup, where the image test scans the process's areas.)
  if (!cached(page) || !maps_executable(vma.cache.get())) return false;
  Vaddr lo = std::max(vma.start, page & ~(kWindow - 1));
  Vaddr hi = std::min(vma.end, lo + kWindow);
  // Runs of consecutive pages, each copied into one physically contiguous segment when there
  // is one, so that the backend maps a run in one operation.
  std::vector<ostd::Frame> run;
  Vaddr run_start = 0;
  auto copy_run = [&]() -> Result<void> {
    if (run.empty()) return {};
    auto seg = ostd::Segment::alloc_uninit(run.size());
    std::vector<ostd::Frame> copies;
    copies.reserve(run.size());
    for (ostd::usize i = 0; i < run.size(); ++i) {
      copies.push_back(seg.is_ok() ? seg.value().frame(i) : TRY(ostd::Frame::alloc_uninit()));
      copies.back().copy_from(run[i]);
    }
    // One replacement for the run: the backend makes the change (and waits for it, the old
    // frames being released after) once.
    TRY(vm_->map_frames(run_start, copies, flags));
    run.clear();
    return {};
  };
  for (Vaddr p = lo; p < hi; p += kPageSize) {
    auto f = cached(p);
    if (!f) {
      TRY(copy_run());
      continue;
    }
    if (run.empty()) run_start = p;
    run.push_back(std::move(*f));
  }
  TRY(copy_run());
  return true;
}

Result<void> MemoryMap::populate_page(const Vma& vma, Vaddr page, Access access) {
  PageFlags flags = page_flags_for(vma.prot);
  if (is_shared(vma)) {
    u64 index = (vma.file_offset + (page - vma.start)) / kPageSize;
    if (!vma.shared->page_in_file(index)) return Errno::enxio;  // past EOF: SIGBUS
    ostd::Frame frame = TRY(vma.shared->get_or_alloc(index));
    if (ostd::has(flags, PageFlags::W)) vma.shared->mark_dirty(index, true);
    // A disk file's page mapped writable is dirty from now on: no fault-around that would map
    // its neighbours writable unseen.
    if (access == Access::Write || (ostd::has(flags, PageFlags::W) && vma.shared->has_source())) {
      return vm_->map(page, frame, flags);
    }
    return map_file_around(vma, page, frame, flags, *vma.shared);
  }
  if (vma.cache != nullptr) {
    u64 index = (vma.file_offset + (page - vma.start)) / kPageSize;
    if (!vma.cache->page_in_file(index)) return Errno::enxio;  // past EOF: SIGBUS
    if (auto f = vma.cache->find(index)) {
      if (access == Access::Write) {
        // A write copies the file's page at once (do_cow_fault), not after a read-only map.
        ostd::Frame copy = TRY(ostd::Frame::alloc_uninit());
        copy.copy_from(*f);
        return vm_->map(page, copy, flags);
      }
      // The file's own pages, read-only: the first write copies (handle_fault).
      return map_file_around(vma, page, *f, without_write(flags), *vma.cache);
    }
    if (access != Access::Write) {
      // A hole of a file in memory gets its page in the file's cache, as tmpfs's fault does,
      // so that a later write(2) there shows through this mapping too.
      ostd::Frame f = TRY(vma.cache->get_or_alloc(index));
      return map_file_around(vma, page, f, without_write(flags), *vma.cache);
    }
  }
  if (vma.file_bytes == nullptr && vma.cache == nullptr) return populate_anonymous(vma, page, flags);
  ostd::Frame frame = TRY(ostd::Frame::alloc());
  if (vma.file_bytes != nullptr) {
    u64 off = vma.file_offset + (page - vma.start);
    const auto& bytes = *vma.file_bytes;
    if (off < bytes.size()) {
      u64 n = std::min<u64>(kPageSize, bytes.size() - off);
      TRY(frame.write_bytes(0, std::span<const ostd::u8>(bytes).subspan(off, n)));
    }
  }
  return vm_->map(page, frame, flags);
}

// Private anonymous memory faults around: the faulting page and up to kFaultAround - 1
// neighbours that are not mapped yet (above it, or below it in a grows-down stack), from one
// physically contiguous run, so the backend maps them in one host operation. Linux gives
// anonymous memory whole 2 MiB pages on fault when transparent huge pages allow it; this is
// the same trade (memory for fewer faults) on a smaller scale.
Result<void> MemoryMap::populate_anonymous(const Vma& vma, Vaddr page, PageFlags flags) {
  constexpr u64 kFaultAround = 16;
  bool down = (vma.flags & kMapGrowsdown) != 0;
  u64 n = 1;
  while (n < kFaultAround) {
    Vaddr next = down ? page - n * kPageSize : page + n * kPageSize;
    if (down ? (page < vma.start + n * kPageSize) : (next >= vma.end)) break;
    if (vm_->query(next)) break;
    ++n;
  }
  Vaddr first = down ? page - (n - 1) * kPageSize : page;
  if (n > 1) {
    if (auto seg = ostd::Segment::alloc(n); seg.is_ok()) {
      for (u64 i = 0; i < n; ++i) TRY(vm_->map(first + i * kPageSize, seg.value().frame(i), flags));
      return {};
    }
  }
  ostd::Frame frame = TRY(ostd::Frame::alloc());
  return vm_->map(page, frame, flags);
}

std::optional<std::pair<std::shared_ptr<SharedPages>, u64>> MemoryMap::shared_object_at(Vaddr va) const {
  ostd::MutexGuard g(lock_);
  auto v = find(va);
  if (!v || !is_shared(*v)) return std::nullopt;
  return std::make_pair(v->shared, v->file_offset + (va - v->start));
}

Result<void> MemoryMap::handle_fault(Vaddr va, Access access) {
  ostd::MutexGuard g(lock_);
  auto v = find(va);
  if (!v || !allowed(v->prot, access)) return Errno::efault;
  Vaddr page = ostd::page_align_down(va);
  auto existing = vm_->query(page);
  if (!existing) return populate_page(*v, page, access);
  if (access != Access::Write || ostd::has(existing->flags, PageFlags::W)) {
    return {};  // already fixed (by another thread) or a stale host mapping
  }
  PageFlags full = page_flags_for(v->prot);
  if (is_shared(*v)) {
    v->shared->mark_dirty((v->file_offset + (page - v->start)) / kPageSize, true);
    return vm_->map(page, existing->frame, full);
  }
  // Copy-on-write: the mapping and `existing` hold the only references when it is exclusive.
  if (existing->frame.refcount() <= 2) return vm_->protect(page, kPageSize, full);
  if (v->cache != nullptr && TRY(copy_file_pages_around(*v, page, full))) return {};
  ostd::Frame copy = TRY(ostd::Frame::alloc_uninit());
  copy.copy_from(existing->frame);
  return vm_->map(page, copy, full);
}

Result<std::shared_ptr<MemoryMap>> MemoryMap::fork(std::shared_ptr<ostd::VmSpace> child_vm,
                                                   std::span<const Vaddr> hot) {
  ostd::MutexGuard g(lock_);
  auto child = std::make_shared<MemoryMap>(std::move(child_vm));
  child->areas_ = areas_;
  child->brk_base_ = brk_base_;
  child->brk_ = brk_;
  child->mmap_base_ = mmap_base_;
  child->patched_ = patched_;
  child->syscall_site_traps_ = syscall_site_traps_;
  child->traps_used_ = traps_used_;
  child->patching_off_ = patching_off_;
  child->patches_slow_ = patches_slow_;
  // A private page the parent may write and nobody else maps.
  auto exclusive = [](const Vma& v, const ostd::PageMapping& m) {
    // `m` holds one reference and the parent's mapping another: nobody else has the frame.
    return (v.prot & kProtWrite) != 0 && ostd::has(m.flags, PageFlags::W) && m.frame.refcount() <= 2;
  };
  std::vector<std::pair<const Vma*, std::vector<std::pair<Vaddr, ostd::PageMapping>>>> all;
  ostd::usize exclusive_pages = 0;
  for (const auto& [start, v] : areas_) {
    auto pages = vm_->mappings_in(v.start, v.end);
    if (pages.empty()) continue;
    if (!is_shared(v)) {
      for (auto& [va, m] : pages) exclusive_pages += exclusive(v, m) ? 1 : 0;
    }
    all.emplace_back(&v, std::move(pages));
  }
  // A small working set is copied whole: both processes would soon write much of it (the
  // stack, libc's data, the heap's head), and a copy costs far less than write-protecting the
  // parent's pages and two write faults per page (on the host backend each is a mapping change
  // in another process, with a TLB shootdown). Otherwise only the hot pages (the forking
  // thread's stack and thread block) are copied and the rest is shared copy-on-write.
  constexpr ostd::usize kCopyWholeBelowPages = 64;
  bool copy_all = exclusive_pages <= kCopyWholeBelowPages;
  auto is_hot = [&](Vaddr page) {
    return copy_all || std::ranges::any_of(hot, [&](Vaddr a) { return ostd::page_align_down(a) == page; });
  };
  // Copied pages come from one contiguous run when there is one, so that runs of them map
  // with one backend operation.
  std::optional<ostd::Segment> run;
  ostd::usize run_used = 0;
  if (copy_all && exclusive_pages > 1) {
    if (auto seg = ostd::Segment::alloc_uninit(exclusive_pages); seg.is_ok()) {
      run = std::move(seg.value());
    }
  }
  auto copy_frame = [&]() -> Result<ostd::Frame> {
    if (run && run_used < run->nframes()) return run->frame(run_used++);
    return ostd::Frame::alloc_uninit();
  };
  // The parent's other writable private pages become read-only (one backend trip for all of
  // them) before the child can run; both then copy on write.
  std::vector<ostd::VmSpace::Protection> cow;
  for (auto& [vp, pages] : all) {
    const Vma& v = *vp;
    if (is_shared(v)) {
      for (auto& [va, m] : pages) TRY(child->vm_->map(va, m.frame, m.flags));
      continue;
    }
    PageFlags ro = without_write(page_flags_for(v.prot));
    for (auto& [va, m] : pages) {
      if (exclusive(v, m) && is_hot(va)) {
        ostd::Frame copy = TRY(copy_frame());
        copy.copy_from(m.frame);
        TRY(child->vm_->map(va, copy, m.flags));
        continue;
      }
      TRY(child->vm_->map(va, m.frame, without_write(m.flags)));
      if (!ostd::has(m.flags, PageFlags::W)) continue;
      if (!cow.empty() && cow.back().va + cow.back().len == va && cow.back().flags == ro) {
        cow.back().len += kPageSize;
      } else {
        cow.push_back({va, kPageSize, ro});
      }
    }
  }
  if (!cow.empty()) TRY(vm_->protect_all(cow));
  return child;
}

}  // namespace services
