// ostd/mm/frame.h — physical page frames.
//
// A Frame owns one reference to a 4 KiB page of physical memory. Copying a Frame adds a
// reference; the page returns to the allocator when the last reference goes. Frames are
// "untyped": their contents may be mapped into user space and changed by user code at any time,
// so the kernel reaches them only by copying (read_bytes/write_bytes, VmReader/VmWriter), never
// through a reference. A Segment is a run of physically contiguous frames (for DMA).
// Allocation never panics: exhaustion is ENOMEM, counted in the statistics.
#pragma once

#include <span>

#include <ostd/error.h>
#include <ostd/types.h>

namespace ostd {

class VmReader;
class VmWriter;

class Frame {
 public:
  /// A zero-filled frame.
  static Result<Frame> alloc();
  /// A frame with unspecified contents (faster; the caller overwrites it completely).
  static Result<Frame> alloc_uninit();

  Frame(const Frame& other);
  Frame& operator=(const Frame& other);
  Frame(Frame&& other) noexcept : paddr_(other.paddr_) { other.paddr_ = kInvalid; }
  Frame& operator=(Frame&& other) noexcept;
  ~Frame();

  Paddr paddr() const { return paddr_; }
  /// Current number of references (Frame objects and mappings) to this page.
  u32 refcount() const;

  void zero();
  /// Copies the whole contents of `src` into this frame.
  void copy_from(const Frame& src);
  /// Copies bytes at [offset, offset+dst.size()); EINVAL when the range leaves the page.
  Result<void> read_bytes(usize offset, std::span<u8> dst) const;
  Result<void> write_bytes(usize offset, std::span<const u8> src);
  /// The whole page.
  VmReader reader() const;
  VmWriter writer();
  /// Bytes [offset, offset+len) of the page; a range that leaves the page panics (the caller
  /// computes it from page arithmetic, so it is a kernel bug).
  VmReader reader(usize offset, usize len) const;
  VmWriter writer(usize offset, usize len);

  bool operator==(const Frame& o) const { return paddr_ == o.paddr_; }

 private:
  friend class Segment;
  friend class VmSpace;
  /// A new reference to an allocated page by address: for ostd's page tables and segments
  /// only (safe code could otherwise take hold of any page, its own or not).
  static Frame from_paddr_add_ref(Paddr paddr);
  struct Adopt {};
  Frame(Paddr paddr, Adopt) : paddr_(paddr) {}
  static constexpr Paddr kInvalid = ~Paddr{0};
  /// paddr_, or a panic for a moved-from Frame (its bytes are nobody's to touch).
  Paddr live() const;
  Paddr paddr_;
};

/// Physically contiguous frames, owned together.
class Segment {
 public:
  /// `nframes` contiguous zeroed frames; ENOMEM when no run is free, EINVAL for 0.
  static Result<Segment> alloc(usize nframes);
  /// The same with unspecified contents (the caller overwrites every frame).
  static Result<Segment> alloc_uninit(usize nframes);
  Segment(Segment&& other) noexcept;
  Segment& operator=(Segment&& other) noexcept;
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
  ~Segment();

  Paddr paddr() const { return paddr_; }
  usize nframes() const { return nframes_; }
  usize size() const { return nframes_ * kPageSize; }
  /// A new reference to frame `i` (panics when out of range).
  Frame frame(usize i) const;
  Result<void> read_bytes(usize offset, std::span<u8> dst) const;
  Result<void> write_bytes(usize offset, std::span<const u8> src);
  VmReader reader() const;
  VmWriter writer();

 private:
  Segment(Paddr p, usize n) : paddr_(p), nframes_(n) {}
  Paddr paddr_ = 0;
  usize nframes_ = 0;
};

struct FrameStats {
  usize total_frames;
  usize free_frames;
  usize allocated_frames;
  usize peak_allocated_frames;
  u64 allocations;
  u64 frees;
  u64 failures;
};
FrameStats frame_stats();

}  // namespace ostd
