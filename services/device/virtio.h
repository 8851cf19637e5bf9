// services/device/virtio.h — virtio over PCI (the legacy/transitional I/O-port interface of the
// virtio 1.x spec, section 4.1.4.8) with split virtqueues, and the block device on top.
#pragma once

#include <memory>
#include <optional>
#include <span>

#include <ostd/dev/io.h>
#include <ostd/error.h>
#include <ostd/mm/io.h>
#include <ostd/sync.h>
#include <ostd/types.h>

namespace services::virtio {

/// One buffer of a descriptor chain: [offset, offset + len) of the driver's DMA memory.
struct Segment {
  ostd::usize offset;
  ostd::u32 len;
  bool device_writes;
};

/// A split virtqueue (spec 2.7) of a legacy device: descriptor table, available and used rings
/// in one DMA area. Buffers live in a separate DMA area the caller owns.
class Queue {
 public:
  static ostd::Result<Queue> create(const ostd::IoPort& io, ostd::u16 index);
  ostd::u16 size() const { return size_; }
  /// Puts a chain of buffers (at most size()) of `data` on the ring and notifies the device.
  ostd::Result<void> submit(const ostd::IoPort& io, const ostd::DmaCoherent& data,
                            std::span<const Segment> chain);
  /// The next chain the device has finished with, if any: its head and the bytes written.
  std::optional<std::pair<ostd::u16, ostd::u32>> take_used();

 private:
  Queue(ostd::DmaCoherent ring, ostd::u16 index, ostd::u16 size, ostd::usize used_offset)
      : ring_(std::move(ring)), index_(index), size_(size), used_offset_(used_offset) {}
  ostd::DmaCoherent ring_;
  ostd::u16 index_;
  ostd::u16 size_;
  ostd::usize used_offset_;
  ostd::u16 avail_idx_ = 0;
  ostd::u16 last_used_ = 0;
};

/// A virtio block device (/dev/vda). Requests are serialized; each moves up to kMaxSectors.
class BlockDevice {
 public:
  static constexpr ostd::usize kSectorSize = 512;
  static constexpr ostd::usize kMaxSectors = 128;
  static constexpr ostd::usize kDataOffset = ostd::kPageSize;

  /// Finds and initializes the first virtio-blk PCI function; ENODEV when there is none.
  static ostd::Result<std::shared_ptr<BlockDevice>> probe();
  BlockDevice(ostd::IoPort io, Queue q, ostd::DmaCoherent buf, ostd::u64 sectors)
      : io_(std::move(io)), queue_(std::move(q)), buf_(std::move(buf)), sectors_(sectors) {}

  ostd::u64 size_bytes() const { return sectors_ * kSectorSize; }
  /// Byte-granular access (partial sectors are read, merged and written back); reads stop at
  /// the end of the device, writes past it are ENOSPC.
  ostd::Result<ostd::usize> read_at(ostd::u64 offset, ostd::VmWriter& out);
  ostd::Result<ostd::usize> write_at(ostd::u64 offset, ostd::VmReader& in);

 private:
  ostd::Result<void> transfer(bool write, ostd::u64 sector, ostd::usize count);
  ostd::Mutex lock_;
  ostd::IoPort io_;
  Queue queue_;
  /// The request header (16 bytes at 0), the status byte (at 16), the data (kMaxSectors
  /// sectors from kDataOffset).
  ostd::DmaCoherent buf_;
  ostd::u64 sectors_;
};

/// The machine's block device, probed once (nullptr when there is none).
std::shared_ptr<BlockDevice> block_device();

}  // namespace services::virtio
