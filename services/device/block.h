// services/device/block.h — block devices: the disks the machine has, whatever drives them.
//
// A BlockDevice moves whole sectors. The disks are probed at boot: QEMU's
// virtio-blk disk on bare metal (services/device/virtio.cpp), then the backend's own disks
// (ostd/dev/block.h: host files on the host backend). They are /dev/vda, /dev/vdb... in that
// order, block major 254 with minors 0, 16, 32... as Linux's virtio_blk numbers them.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include <ostd/error.h>
#include <ostd/mm/frame.h>
#include <ostd/types.h>

namespace services {

/// One write of a batch: whole sectors at `offset`, from `bytes` or (whole pages) `frames`.
struct BlockWrite {
  ostd::u64 offset = 0;
  std::span<const ostd::u8> bytes;
  std::span<const ostd::Frame> frames;
};

class BlockDevice {
 public:
  static constexpr ostd::usize kSectorSize = 512;

  BlockDevice(std::string name, ostd::u64 rdev, ostd::u64 bytes, bool read_only)
      : name_(std::move(name)), rdev_(rdev), bytes_(bytes), read_only_(read_only) {}
  BlockDevice(const BlockDevice&) = delete;
  BlockDevice& operator=(const BlockDevice&) = delete;
  BlockDevice(BlockDevice&&) = delete;
  BlockDevice& operator=(BlockDevice&&) = delete;
  virtual ~BlockDevice() = default;

  /// "vda", "vdb"...
  const std::string& name() const { return name_; }
  ostd::u64 rdev() const { return rdev_; }
  virtual ostd::u64 size_bytes() const { return bytes_; }
  virtual bool read_only() const { return read_only_; }

  /// Whole sectors at a sector-aligned offset (EINVAL otherwise, EIO past the end, EROFS for a
  /// write to a read-only disk).
  virtual ostd::Result<void> read(ostd::u64 offset, std::span<ostd::u8> dst) = 0;
  virtual ostd::Result<void> write(ostd::u64 offset, std::span<const ostd::u8> src) = 0;
  /// Whole pages between the disk and frames (page cache fills and write-back). By default
  /// through a bounce buffer; drivers that can move them directly override these.
  virtual ostd::Result<void> read_frames(ostd::u64 offset, std::span<const ostd::Frame> frames);
  virtual ostd::Result<void> write_frames(ostd::u64 offset, std::span<const ostd::Frame> frames);
  /// Every write of `writes` (a plug of requests, as Linux's blk_plug: the write-back of a
  /// file's runs, the dirty metadata of a sync). By default one after the other; a driver that
  /// can keep several requests in flight overrides it. Returns when all are done.
  virtual ostd::Result<void> write_batch(std::span<const BlockWrite> writes);
  /// Makes what was written durable (a cache flush).
  virtual ostd::Result<void> flush() = 0;

  /// Byte-granular access for the device node (/dev/vda read and write): partial sectors are
  /// read, merged and written back. Reads stop at the end; writes past it are ENOSPC.
  ostd::Result<ostd::usize> read_bytes(ostd::u64 offset, ostd::VmWriter& out);
  ostd::Result<ostd::usize> write_bytes(ostd::u64 offset, ostd::VmReader& in);

 private:
  std::string name_;
  ostd::u64 rdev_;
  ostd::u64 bytes_;
  bool read_only_;
};

/// Finds the machine's disks (at boot: the backend's disks may differ from one boot to the
/// next in one process, as in tests and fuzzers).
void init_block_devices();
/// The machine's disks, as init_block_devices() found them.
const std::vector<std::shared_ptr<BlockDevice>>& block_devices();
/// The disk with device number `rdev`; nullptr when there is none.
std::shared_ptr<BlockDevice> block_device_by_rdev(ostd::u64 rdev);
/// Block major of the disks (Linux's virtio_blk takes 254, the first dynamic major).
inline constexpr ostd::u32 kVirtblkMajor = 254;

}  // namespace services
