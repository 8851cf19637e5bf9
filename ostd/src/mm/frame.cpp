// The frame allocator: a bitmap over the backend's physical range plus a refcount per frame.
#include <array>
#include <cstring>
#include <memory>
#include <vector>

#include <ostd/internal.h>
#include <ostd/log.h>
#include <ostd/mm/frame.h>
#include <ostd/mm/io.h>
#include <ostd/sync.h>

namespace ostd {

namespace {

// Whether [offset, offset + len) lies inside one page (without overflow).
bool in_page(usize offset, usize len) { return offset <= kPageSize && len <= kPageSize - offset; }

class FrameAllocator {
 public:
  FrameAllocator() {
    auto ranges = arch::phys_ranges();
    if (ranges.empty()) panic("no physical memory");
    base_ = ranges[0].base;
    nframes_ = ranges[0].size / kPageSize;
    bitmap_.assign((nframes_ + 63) / 64, 0);
    refcounts_ = std::make_unique<std::atomic<u32>[]>(nframes_);
    free_ = nframes_;
  }

  Result<Paddr> alloc(usize n) {
    usize start = kNone;
    usize prepare_from = 0, prepare_to = 0;
    {
      SpinLockGuard g(lock_);
      ++allocations_;
      if (n == 0 || n > free_) {
        ++failures_;
        return Errno::enomem;
      }
      start = n == 1 ? pop_recent() : kNone;
      if (start == kNone) start = n == 1 ? find_one() : find_run(n);
      if (start == kNone) {
        ++failures_;
        return Errno::enomem;
      }
      for (usize i = start; i < start + n; ++i) {
        set_bit(i, true);
        refcounts_[i].store(1, std::memory_order_relaxed);
      }
      free_ -= n;
      usize used = nframes_ - free_;
      if (used > peak_) peak_ = used;
      if (start + n > prepared_) {
        // Frames never handed out before: the backend prepares them a 2 MiB step at a time.
        prepare_from = prepared_;
        prepared_ = std::min(nframes_, (start + n + kPrepareStep - 1) / kPrepareStep * kPrepareStep);
        prepare_to = prepared_;
      }
    }
    if (prepare_to > prepare_from) {
      arch::prepare_frames(base_ + prepare_from * kPageSize, (prepare_to - prepare_from) * kPageSize);
    }
    return base_ + start * kPageSize;
  }

  void free_one(usize idx) {
    SpinLockGuard g(lock_);
    if (!get_bit(idx)) panic("double free of frame {:#x}", base_ + idx * kPageSize);
    set_bit(idx, false);
    ++free_;
    ++frees_;
    if (idx < lowest_free_) lowest_free_ = idx;
    if (recent_count_ < recent_.size()) {
      recent_.at((recent_next_ + recent_count_) % recent_.size()) = idx;
      ++recent_count_;
    } else {
      recent_.at(recent_next_) = idx;  // full: forget the oldest
      recent_next_ = (recent_next_ + 1) % recent_.size();
    }
  }

  usize index(Paddr p) const {
    usize idx = (p - base_) / kPageSize;
    if (p < base_ || idx >= nframes_ || !is_page_aligned(p)) panic("bad frame address {:#x}", p);
    return idx;
  }
  std::atomic<u32>& refcount(Paddr p) { return refcounts_[index(p)]; }

  FrameStats stats() {
    SpinLockGuard g(lock_);
    return {nframes_, free_, nframes_ - free_, peak_, allocations_, frees_, failures_};
  }

 private:
  static constexpr usize kNone = ~usize{0};
  bool get_bit(usize i) const { return (bitmap_[i / 64] >> (i % 64)) & 1; }
  void set_bit(usize i, bool v) {
    if (v) {
      bitmap_[i / 64] |= u64{1} << (i % 64);
    } else {
      bitmap_[i / 64] &= ~(u64{1} << (i % 64));
    }
  }
  // The most recently freed frame still free (LIFO: likely in the caches, and already backed by
  // the host or the hypervisor), or kNone. A frame may have been taken since by find_one or
  // find_run; such entries are skipped.
  usize pop_recent() {
    while (recent_count_ > 0) {
      usize slot = (recent_next_ + recent_count_ - 1) % recent_.size();
      --recent_count_;
      usize i = recent_.at(slot);
      if (!get_bit(i)) return i;
    }
    recent_next_ = 0;
    return kNone;
  }
  // The lowest free frame. Everything below lowest_free_ is in use, so the search is short, and
  // memory is used from the bottom up instead of cycling through all of it (each first touch of
  // a page costs the host or hypervisor a fault).
  usize find_one() {
    for (usize w = lowest_free_ / 64; w < bitmap_.size(); ++w) {
      if (bitmap_[w] != ~u64{0}) {
        usize i = w * 64 + static_cast<usize>(__builtin_ctzll(~bitmap_[w]));
        if (i >= nframes_) break;
        lowest_free_ = i;
        return i;
      }
    }
    lowest_free_ = nframes_;
    return kNone;
  }
  usize find_run(usize n) {
    usize run = 0;
    for (usize i = 0; i < nframes_; ++i) {
      run = get_bit(i) ? 0 : run + 1;
      if (run == n) return i + 1 - n;
    }
    return kNone;
  }

  SpinLock lock_;
  Paddr base_ = 0;
  usize nframes_ = 0;
  usize free_ = 0;
  usize lowest_free_ = 0;                     // no free frame below this index
  static constexpr usize kPrepareStep = 512;  // frames (2 MiB)
  usize prepared_ = 0;                        // frames below this index were handed to arch::prepare_frames
  std::array<usize, 1024> recent_{};          // ring of recently freed frames, newest last
  usize recent_next_ = 0;                     // the oldest entry
  usize recent_count_ = 0;
  usize peak_ = 0;
  u64 allocations_ = 0, frees_ = 0, failures_ = 0;
  std::vector<u64> bitmap_;
  std::unique_ptr<std::atomic<u32>[]> refcounts_;
};

FrameAllocator& allocator() {
  static FrameAllocator a;
  return a;
}

u8* page_ptr(Paddr p) { return arch::phys_to_virt(p); }

}  // namespace

namespace mm_internal {
void frame_add_ref(Paddr p) { allocator().refcount(p).fetch_add(1, std::memory_order_relaxed); }
void frame_release(Paddr p) {
  auto& a = allocator();
  u32 old = a.refcount(p).fetch_sub(1, std::memory_order_acq_rel);
  if (old == 0) panic("frame {:#x} released with refcount 0", p);
  if (old == 1) a.free_one(a.index(p));
}
}  // namespace mm_internal

FrameStats frame_stats() { return allocator().stats(); }

Result<Frame> Frame::alloc_uninit() {
  Paddr p = TRY(allocator().alloc(1));
  return Frame(p, Adopt{});
}

Result<Frame> Frame::alloc() {
  Frame f = TRY(alloc_uninit());
  f.zero();
  return f;
}

Frame Frame::from_paddr_add_ref(Paddr paddr) {
  mm_internal::frame_add_ref(paddr);
  return Frame(paddr, Adopt{});
}

Frame::Frame(const Frame& other) : paddr_(other.paddr_) {
  if (paddr_ != kInvalid) mm_internal::frame_add_ref(paddr_);
}

Frame& Frame::operator=(const Frame& other) {
  if (this != &other) {
    Frame tmp(other);
    std::swap(paddr_, tmp.paddr_);
  }
  return *this;
}

Frame& Frame::operator=(Frame&& other) noexcept {
  if (this != &other) {
    if (paddr_ != kInvalid) mm_internal::frame_release(paddr_);
    paddr_ = other.paddr_;
    other.paddr_ = kInvalid;
  }
  return *this;
}

Frame::~Frame() {
  if (paddr_ != kInvalid) mm_internal::frame_release(paddr_);
}

u32 Frame::refcount() const { return allocator().refcount(paddr_).load(std::memory_order_relaxed); }

Paddr Frame::live() const {
  if (paddr_ == kInvalid) panic("use of a moved-from Frame");
  return paddr_;
}

// SAFETY: a live Frame owns a reference to one page, kPageSize bytes in the direct map.
void Frame::zero() { std::memset(page_ptr(live()), 0, kPageSize); }

void Frame::copy_from(const Frame& src) {
  if (src.live() == live()) return;  // the same page: nothing to copy
  // SAFETY: both live Frames own a kPageSize page, different pages: no overlap.
  std::memcpy(page_ptr(live()), page_ptr(src.live()), kPageSize);
}

Result<void> Frame::read_bytes(usize offset, std::span<u8> dst) const {
  if (!in_page(offset, dst.size())) return Errno::einval;
  // SAFETY: in_page: [offset, offset + dst.size()) is inside this live Frame's page.
  std::memcpy(dst.data(), page_ptr(live()) + offset, dst.size());
  return {};
}

Result<void> Frame::write_bytes(usize offset, std::span<const u8> src) {
  if (!in_page(offset, src.size())) return Errno::einval;
  // SAFETY: in_page: [offset, offset + src.size()) is inside this live Frame's page.
  std::memcpy(page_ptr(live()) + offset, src.data(), src.size());
  return {};
}

VmReader Frame::reader() const { return VmReader::from_phys(live(), kPageSize); }
VmWriter Frame::writer() { return VmWriter::from_phys(live(), kPageSize); }

VmReader Frame::reader(usize offset, usize len) const {
  if (!in_page(offset, len)) {
    panic("Frame::reader [{:#x}, +{:#x}) leaves the page", offset, len);
  }
  return VmReader::from_phys(live() + offset, len);
}
VmWriter Frame::writer(usize offset, usize len) {
  if (!in_page(offset, len)) {
    panic("Frame::writer [{:#x}, +{:#x}) leaves the page", offset, len);
  }
  return VmWriter::from_phys(live() + offset, len);
}

// ---- Segment ----

Result<Segment> Segment::alloc(usize nframes) {
  if (nframes == 0) return Errno::einval;
  Paddr p = TRY(allocator().alloc(nframes));
  // SAFETY: alloc gave nframes contiguous frames owned here; nframes <= free frames, no overflow.
  std::memset(page_ptr(p), 0, nframes * kPageSize);
  return Segment(p, nframes);
}

Result<Segment> Segment::alloc_uninit(usize nframes) {
  if (nframes == 0) return Errno::einval;
  Paddr p = TRY(allocator().alloc(nframes));
  return Segment(p, nframes);
}

Segment::Segment(Segment&& other) noexcept : paddr_(other.paddr_), nframes_(other.nframes_) { other.nframes_ = 0; }

Segment& Segment::operator=(Segment&& other) noexcept {
  if (this != &other) {
    this->~Segment();
    paddr_ = other.paddr_;
    nframes_ = other.nframes_;
    other.nframes_ = 0;
  }
  return *this;
}

Segment::~Segment() {
  for (usize i = 0; i < nframes_; ++i) mm_internal::frame_release(paddr_ + i * kPageSize);
  nframes_ = 0;
}

Frame Segment::frame(usize i) const {
  if (i >= nframes_) panic("Segment::frame({}) out of range ({} frames)", i, nframes_);
  return Frame::from_paddr_add_ref(paddr_ + i * kPageSize);
}

Result<void> Segment::read_bytes(usize offset, std::span<u8> dst) const {
  if (offset > size() || dst.size() > size() - offset) return Errno::einval;
  // SAFETY: [offset, offset + dst.size()) is inside the segment's contiguous pages (checked).
  std::memcpy(dst.data(), page_ptr(paddr_) + offset, dst.size());
  return {};
}

Result<void> Segment::write_bytes(usize offset, std::span<const u8> src) {
  if (offset > size() || src.size() > size() - offset) return Errno::einval;
  // SAFETY: [offset, offset + src.size()) is inside the segment's contiguous pages (checked).
  std::memcpy(page_ptr(paddr_) + offset, src.data(), src.size());
  return {};
}

VmReader Segment::reader() const { return VmReader::from_phys(paddr_, size()); }
VmWriter Segment::writer() { return VmWriter::from_phys(paddr_, size()); }

}  // namespace ostd
