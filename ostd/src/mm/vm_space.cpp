// VmSpace: a software page table (4-level radix tree, like x86-64's) holding a frame reference
// per mapped page, mirrored into the backend's address space; and the checked user copies.
#include <atomic>
#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <vector>

#include <ostd/internal.h>
#include <ostd/log.h>
#include <ostd/mm/vm_space.h>

namespace ostd {

namespace {
constexpr u64 kPresent = 1;
constexpr u64 kFlagShift = 1;
constexpr u64 kFlagMask = 7ull << kFlagShift;
constexpr u64 kAddrMask = ~u64{0xfff};

u64 make_entry(Paddr p, PageFlags f) { return (p & kAddrMask) | (static_cast<u64>(f) << kFlagShift) | kPresent; }
PageFlags entry_flags(u64 e) { return static_cast<PageFlags>((e & kFlagMask) >> kFlagShift); }
Paddr entry_paddr(u64 e) { return e & kAddrMask; }
bool allows(PageFlags f, Access a) {
  switch (a) {
    case Access::Read: return has(f, PageFlags::R);
    case Access::Write: return has(f, PageFlags::W);
    case Access::Execute: return has(f, PageFlags::X);
  }
  return false;
}
}  // namespace

struct VmSpace::PageTable {
  struct Leaf {
    std::array<u64, 512> e{};
    u32 used = 0;
  };
  struct Mid {
    std::array<std::unique_ptr<Leaf>, 512> c;
  };
  struct Upper {
    std::array<std::unique_ptr<Mid>, 512> c;
  };
  std::array<std::unique_ptr<Upper>, 512> root;
  usize mapped = 0;

  static usize idx(Vaddr va, int level) { return (va >> (12 + 9 * level)) & 511; }

  Leaf* leaf(Vaddr va, bool create) {
    auto& u = root.at(idx(va, 3));
    if (!u) {
      if (!create) return nullptr;
      u = std::make_unique<Upper>();
    }
    auto& m = u->c.at(idx(va, 2));
    if (!m) {
      if (!create) return nullptr;
      m = std::make_unique<Mid>();
    }
    auto& l = m->c.at(idx(va, 1));
    if (!l) {
      if (!create) return nullptr;
      l = std::make_unique<Leaf>();
    }
    return l.get();
  }

  u64 get(Vaddr va) {
    Leaf* l = leaf(va, false);
    return l == nullptr ? 0 : l->e.at(idx(va, 0));
  }

  /// Calls fn(va, entry&, leaf&) for each present entry in [start, end), skipping empty subtrees.
  template <typename F>
  void for_each_present(Vaddr start, Vaddr end, F&& fn) {
    Vaddr va = start;
    while (va < end) {
      auto& u = root.at(idx(va, 3));
      if (!u) {
        va = (va | ((1ull << 39) - 1)) + 1;
        continue;
      }
      auto& m = u->c.at(idx(va, 2));
      if (!m) {
        va = (va | ((1ull << 30) - 1)) + 1;
        continue;
      }
      auto& l = m->c.at(idx(va, 1));
      if (!l) {
        va = (va | ((1ull << 21) - 1)) + 1;
        continue;
      }
      u64& e = l->e.at(idx(va, 0));
      if ((e & kPresent) != 0) fn(va, e, *l);
      va += kPageSize;
    }
  }

  /// Releases every mapped frame (address-space teardown).
  void release_all() {
    for_each_present(0, 1ull << 47, [this](Vaddr, u64& e, Leaf& l) {
      mm_internal::frame_release(entry_paddr(e));
      e = 0;
      --l.used;
      --mapped;
    });
  }
};

VmSpace::VmSpace() : pt_(std::make_unique<PageTable>()) {}

VmSpace::~VmSpace() {
  arch_.reset();  // the backend stops using the frames first
  pt_->release_all();
}

Result<std::shared_ptr<VmSpace>> VmSpace::create() {
  std::shared_ptr<VmSpace> vm(new VmSpace());
  vm->arch_ = TRY(arch::create_address_space());
  return vm;
}

Vaddr VmSpace::user_base() { return arch::user_base(); }
Vaddr VmSpace::user_top() { return arch::user_top(); }

namespace {
Result<Vaddr> check_range(Vaddr va, usize len) {
  if (!is_page_aligned(va)) return Errno::einval;
  u64 end = 0;
  if (!checked_add<u64>(va, len, end) || va < arch::user_base() || end > arch::user_top()) {
    return Errno::einval;
  }
  return page_align_up(end);
}
}  // namespace

Result<void> VmSpace::map(Vaddr va, Frame frame, PageFlags flags) {
  return map_frames(va, std::span<const Frame>(&frame, 1), flags);
}

Result<void> VmSpace::map_frames(Vaddr va, std::span<const Frame> frames, PageFlags flags) {
  u64 len = 0;
  if (!checked_mul<u64>(frames.size(), kPageSize, len)) return Errno::einval;
  TRY(check_range(va, len));
  std::vector<Paddr> replaced;
  MutexGuard g(lock_);
  // Allocate the table nodes first so failure cannot leave a half-done mapping.
  for (usize i = 0; i < frames.size(); ++i) pt_->leaf(va + i * kPageSize, true);
  for (usize i = 0; i < frames.size(); ++i) {
    Vaddr v = va + i * kPageSize;
    PageTable::Leaf* l = pt_->leaf(v, true);
    u64& e = l->e.at(PageTable::idx(v, 0));
    if ((e & kPresent) != 0) {
      replaced.push_back(entry_paddr(e));
    } else {
      ++l->used;
      ++pt_->mapped;
    }
    Paddr p = frames[i].paddr();
    mm_internal::frame_add_ref(p);
    e = make_entry(p, flags);
  }
  // Coalesce physically contiguous runs into one backend request each.
  usize run = 0;
  for (usize i = 1; i <= frames.size(); ++i) {
    if (i == frames.size() || frames[i].paddr() != frames[i - 1].paddr() + kPageSize) {
      arch::as_map(*arch_, va + run * kPageSize, frames[run].paddr(), i - run, flags);
      run = i;
    }
  }
  if (!replaced.empty()) {
    // The old frames may be reused only once no user thread can reach them.
    Result<void> r = arch::as_flush(*arch_);
    if (r.is_error()) panic("address-space flush failed: {}", r.error());
    for (Paddr p : replaced) mm_internal::frame_release(p);
  }
  return {};
}

Result<void> VmSpace::unmap(Vaddr va, usize len) {
  Vaddr end = TRY(check_range(va, len));
  std::vector<Paddr> removed;
  MutexGuard g(lock_);
  Vaddr run_start = 0;
  usize run_len = 0;
  pt_->for_each_present(va, end, [&](Vaddr v, u64& e, PageTable::Leaf& l) {
    removed.push_back(entry_paddr(e));
    e = 0;
    --l.used;
    --pt_->mapped;
    if (run_len > 0 && run_start + run_len * kPageSize == v) {
      ++run_len;
    } else {
      if (run_len > 0) arch::as_unmap(*arch_, run_start, run_len);
      run_start = v;
      run_len = 1;
    }
  });
  if (run_len > 0) arch::as_unmap(*arch_, run_start, run_len);
  if (!removed.empty()) {
    Result<void> r = arch::as_flush(*arch_);
    if (r.is_error()) panic("address-space flush failed: {}", r.error());
  }
  for (Paddr p : removed) mm_internal::frame_release(p);
  return {};
}

Result<void> VmSpace::protect(Vaddr va, usize len, PageFlags flags) {
  Protection one{va, len, flags};
  return protect_all(std::span<const Protection>(&one, 1));
}

Result<void> VmSpace::protect_all(std::span<const Protection> changes) {
  for (const Protection& c : changes) TRY(check_range(c.va, c.len));
  MutexGuard g(lock_);
  bool any = false;
  for (const Protection& c : changes) {
    Vaddr end = page_align_up(c.va + c.len);
    Vaddr run_start = 0;
    usize run_len = 0;
    pt_->for_each_present(c.va, end, [&](Vaddr v, u64& e, PageTable::Leaf&) {
      e = make_entry(entry_paddr(e), c.flags);
      any = true;
      if (run_len > 0 && run_start + run_len * kPageSize == v) {
        ++run_len;
      } else {
        if (run_len > 0) arch::as_protect(*arch_, run_start, run_len, c.flags);
        run_start = v;
        run_len = 1;
      }
    });
    if (run_len > 0) arch::as_protect(*arch_, run_start, run_len, c.flags);
  }
  if (any) {
    Result<void> r = arch::as_flush(*arch_);
    if (r.is_error()) panic("address-space flush failed: {}", r.error());
  }
  return {};
}

std::optional<PageMapping> VmSpace::query(Vaddr va) const {
  if (va < arch::user_base() || va >= arch::user_top()) return std::nullopt;
  MutexGuard g(lock_);
  u64 e = pt_->get(page_align_down(va));
  if ((e & kPresent) == 0) return std::nullopt;
  return PageMapping{Frame::from_paddr_add_ref(entry_paddr(e)), entry_flags(e)};
}

std::vector<std::pair<Vaddr, PageMapping>> VmSpace::mappings_in(Vaddr start, Vaddr end) const {
  std::vector<std::pair<Vaddr, PageMapping>> out;
  if (end > arch::user_top()) end = arch::user_top();
  MutexGuard g(lock_);
  pt_->for_each_present(page_align_down(start), end, [&](Vaddr v, u64& e, PageTable::Leaf&) {
    out.emplace_back(v, PageMapping{Frame::from_paddr_add_ref(entry_paddr(e)), entry_flags(e)});
  });
  return out;
}

usize VmSpace::mapped_pages() const {
  MutexGuard g(lock_);
  return pt_->mapped;
}

std::optional<Paddr> VmSpace::translate(Vaddr va, Access access) const {
  if (va < arch::user_base() || va >= arch::user_top()) return std::nullopt;
  u64 e = pt_->get(page_align_down(va));
  if ((e & kPresent) == 0 || !allows(entry_flags(e), access)) return std::nullopt;
  return entry_paddr(e) + (va & (kPageSize - 1));
}

Result<usize> VmSpace::copy(Vaddr va, std::span<u8> kbuf, bool to_user, bool partial) {
  // The backend's shortcut when this space is the one loaded (bare metal: the CPU's own page
  // walk); anything it cannot do in one go — a fault, a locked space — goes through the table.
  if (arch::as_copy_direct(*arch_, lock_, va, kbuf, to_user) == kbuf.size()) return kbuf.size();
  return copy_walk(va, kbuf, to_user, partial);
}

Result<usize> VmSpace::copy_walk(Vaddr va, std::span<u8> kbuf, bool to_user, bool partial) {
  usize done = 0;
  Vaddr faulted_page = ~Vaddr{0};
  Access access = to_user ? Access::Write : Access::Read;
  while (done < kbuf.size()) {
    Vaddr cur = 0;
    if (!checked_add<u64>(va, done, cur)) break;
    {
      MutexGuard g(lock_);
      while (done < kbuf.size()) {
        if (!checked_add<u64>(va, done, cur)) break;
        std::optional<Paddr> p = translate(cur, access);
        if (!p) break;
        usize chunk = kPageSize - (cur & (kPageSize - 1));
        if (chunk > kbuf.size() - done) chunk = kbuf.size() - done;
        u8* host = arch::phys_to_virt(*p);
        // SAFETY: chunk fits both kbuf[done..] and the page at *p; lock_ keeps that frame mapped.
        if (to_user) {
          std::memcpy(host, kbuf.data() + done, chunk);
        } else {
          std::memcpy(kbuf.data() + done, host, chunk);
        }
        done += chunk;
      }
    }
    if (done == kbuf.size()) break;
    // A fault at `cur`: let the handler fix it once per page, as the CPU would.
    if (page_align_down(cur) == faulted_page || !fault_handler_) break;
    faulted_page = page_align_down(cur);
    if (fault_handler_(cur, access).is_error()) break;
  }
  if (done == kbuf.size()) return done;
  if (!partial || done == 0) return Errno::efault;
  return done;
}

usize VmSpace::copy_between(VmSpace& src, Vaddr src_va, VmSpace& dst, Vaddr dst_va, usize n) {
  usize done = 0;
  Vaddr src_faulted = ~Vaddr{0};
  Vaddr dst_faulted = ~Vaddr{0};
  VmSpace* first = &src < &dst ? &src : &dst;  // a fixed lock order
  VmSpace* second = first == &src ? &dst : &src;
  while (done < n) {
    Vaddr s = 0;
    Vaddr d = 0;
    bool src_ok = true;
    {
      MutexGuard g1(first->lock_);
      std::optional<MutexGuard> g2;
      if (second != first) g2.emplace(second->lock_);
      while (done < n) {
        if (!checked_add<u64>(src_va, done, s) || !checked_add<u64>(dst_va, done, d)) return done;
        std::optional<Paddr> ps = src.translate(s, Access::Read);
        src_ok = ps.has_value();
        if (!src_ok) break;
        std::optional<Paddr> pd = dst.translate(d, Access::Write);
        if (!pd) break;
        usize chunk = n - done;
        chunk = std::min(chunk, kPageSize - (s & (kPageSize - 1)));
        chunk = std::min(chunk, kPageSize - (d & (kPageSize - 1)));
        // SAFETY: chunk stays inside both pages; both locks keep the frames mapped; memmove
        // allows both to be the same frame.
        std::memmove(arch::phys_to_virt(*pd), arch::phys_to_virt(*ps), chunk);
        done += chunk;
      }
    }
    if (done == n) break;
    // A fault on one side: its handler fixes it once per page, as the CPU would.
    VmSpace& side = src_ok ? dst : src;
    Vaddr at = src_ok ? d : s;
    Vaddr& faulted = src_ok ? dst_faulted : src_faulted;
    if (page_align_down(at) == faulted || !side.fault_handler_) break;
    faulted = page_align_down(at);
    if (side.fault_handler_(at, src_ok ? Access::Write : Access::Read).is_error()) break;
  }
  return done;
}

Result<void> VmSpace::read_bytes(Vaddr src, std::span<u8> dst) {
  if (arch::as_copy_direct(*arch_, lock_, src, dst, false) == dst.size()) return {};
  TRY(copy_walk(src, dst, false, false));
  return {};
}

Result<void> VmSpace::write_bytes(Vaddr dst, std::span<const u8> src) {
  // A copy to user only reads kbuf; the span is never written through.
  // SAFETY: with to_user set, as_copy_direct and copy_walk only read kbuf, never write it.
  std::span<u8> buf(const_cast<u8*>(src.data()), src.size());  // NOLINT
  if (arch::as_copy_direct(*arch_, lock_, dst, buf, true) == buf.size()) return {};
  TRY(copy_walk(dst, buf, true, false));
  return {};
}

Result<usize> VmSpace::read_bytes_partial(Vaddr src, std::span<u8> dst) { return copy(src, dst, false, true); }

Result<usize> VmSpace::write_bytes_partial(Vaddr dst, std::span<const u8> src) {
  // SAFETY: with to_user set, copy only reads kbuf (the user side is the destination).
  std::span<u8> buf(const_cast<u8*>(src.data()), src.size());  // NOLINT
  return copy(dst, buf, true, true);
}

Result<u32> VmSpace::compare_exchange_u32(Vaddr va, u32 expected, u32 desired) {
  if ((va & 3) != 0) return Errno::einval;
  for (int attempt = 0; attempt < 2; ++attempt) {
    {
      MutexGuard g(lock_);
      if (std::optional<Paddr> p = translate(va, Access::Write)) {
        // The frame's kernel view is the same memory the user mapping shows (a memfd view on
        // the host, the direct map on bare metal): an atomic there is atomic for the program.
        // SAFETY: va is 4-aligned, so the u32 is aligned and inside the present, writable page;
        // lock_ keeps the page mapped during the CAS.
        auto* word = reinterpret_cast<u32*>(arch::phys_to_virt(*p));  // NOLINT
        std::atomic_ref<u32> ref(*word);
        u32 seen = expected;
        (void)ref.compare_exchange_strong(seen, desired, std::memory_order_seq_cst);
        return seen;
      }
    }
    if (attempt > 0 || !fault_handler_ || fault_handler_(va, Access::Write).is_error()) break;
  }
  return Errno::efault;
}

Result<std::string> VmSpace::read_cstring(Vaddr src, usize max_len) {
  std::string out;
  std::array<u8, 256> chunk{};
  Vaddr cur = src;
  while (out.size() <= max_len) {
    usize want = chunk.size();
    usize to_page_end = kPageSize - (cur & (kPageSize - 1));
    if (want > to_page_end) want = to_page_end;
    if (want > max_len + 1 - out.size()) want = max_len + 1 - out.size();
    usize got = TRY(read_bytes_partial(cur, std::span<u8>(chunk.data(), want)));
    for (usize i = 0; i < got; ++i) {
      if (chunk.at(i) == 0) return out;
      out.push_back(static_cast<char>(chunk.at(i)));
    }
    if (!checked_add<u64>(cur, got, cur)) return Errno::efault;
  }
  return Errno::enametoolong;
}

void VmSpace::set_fault_handler(FaultHandler handler) {
  MutexGuard g(lock_);
  fault_handler_ = std::move(handler);
}

Result<void> VmSpace::handle_fault(Vaddr va, Access access) {
  if (!fault_handler_) return Errno::efault;
  return fault_handler_(va, access);
}

Result<void> VmSpace::flush() {
  MutexGuard g(lock_);
  return arch::as_flush(*arch_);
}

}  // namespace ostd
