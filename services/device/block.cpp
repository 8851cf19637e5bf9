// Block devices: the virtio-blk disk and the backend's disks behind one interface.
#include "device/block.h"

#include <algorithm>

#include <ostd/dev/block.h>
#include <ostd/log.h>
#include <ostd/mm/io.h>
#include <ostd/sync.h>

#include "device/devices.h"
#include "device/loop.h"
#include "device/virtio.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u64;
using ostd::u8;
using ostd::usize;

namespace {

constexpr ostd::Logger kLog{"block"};

Result<void> check_range(const BlockDevice& d, u64 offset, usize len, bool write) {
  if (offset % BlockDevice::kSectorSize != 0 || len % BlockDevice::kSectorSize != 0) return Errno::einval;
  if (offset > d.size_bytes() || len > d.size_bytes() - offset) return Errno::eio;
  if (write && d.read_only()) return Errno::erofs;
  return {};
}

// QEMU's virtio-blk disk (bare metal).
class VirtioDisk final : public BlockDevice {
 public:
  VirtioDisk(std::string name, u64 rdev, std::shared_ptr<virtio::BlockDevice> dev)
      : BlockDevice(std::move(name), rdev, dev->size_bytes(), false), dev_(std::move(dev)) {}
  Result<void> read(u64 offset, std::span<u8> dst) override {
    TRY(check_range(*this, offset, dst.size(), false));
    return dev_->read(offset, dst);
  }
  Result<void> write(u64 offset, std::span<const u8> src) override {
    TRY(check_range(*this, offset, src.size(), true));
    return dev_->write(offset, src);
  }
  // The device writes through to QEMU's image (no volatile cache negotiated).
  Result<void> flush() override { return {}; }
  // Frames go through one buffer, so a run of pages is one request per 64 KiB rather than one
  // per page (each a round of exits to QEMU), and the requests go out together.
  Result<void> read_frames(u64 offset, std::span<const ostd::Frame> frames) override {
    std::vector<u8> buf(frames.size() * ostd::kPageSize);
    TRY(read(offset, buf));
    for (usize i = 0; i < frames.size(); ++i) {
      ostd::Frame f = frames[i];
      TRY(f.write_bytes(0, std::span<const u8>(buf).subspan(i * ostd::kPageSize, ostd::kPageSize)));
    }
    return {};
  }
  Result<void> write_frames(u64 offset, std::span<const ostd::Frame> frames) override {
    std::vector<u8> buf(frames.size() * ostd::kPageSize);
    for (usize i = 0; i < frames.size(); ++i) {
      TRY(frames[i].read_bytes(0, std::span<u8>(buf).subspan(i * ostd::kPageSize, ostd::kPageSize)));
    }
    return write(offset, buf);
  }
  // Every request of the batch in flight at once (as many as the device has slots for).
  Result<void> write_batch(std::span<const BlockWrite> writes) override {
    std::vector<std::vector<u8>> copies;  // the frames' bytes
    std::vector<virtio::BlockDevice::Piece> pieces;
    copies.reserve(writes.size());  // the pieces point into them
    pieces.reserve(writes.size());
    for (const BlockWrite& w : writes) {
      if (w.frames.empty()) {
        TRY(check_range(*this, w.offset, w.bytes.size(), true));
        pieces.push_back({w.offset, {}, w.bytes});
        continue;
      }
      std::vector<u8> buf(w.frames.size() * ostd::kPageSize);
      for (usize i = 0; i < w.frames.size(); ++i) {
        TRY(w.frames[i].read_bytes(0, std::span<u8>(buf).subspan(i * ostd::kPageSize, ostd::kPageSize)));
      }
      TRY(check_range(*this, w.offset, buf.size(), true));
      copies.push_back(std::move(buf));
      pieces.push_back({w.offset, {}, copies.back()});
    }
    return dev_->run(pieces, true);
  }

 private:
  std::shared_ptr<virtio::BlockDevice> dev_;
};

// A disk of the backend (ostd/dev/block.h).
class BackendDisk final : public BlockDevice {
 public:
  BackendDisk(std::string name, u64 rdev, usize index, const ostd::block::Info& info)
      : BlockDevice(std::move(name), rdev, info.bytes, info.read_only), index_(index) {}
  Result<void> read(u64 offset, std::span<u8> dst) override { return ostd::block::read(index_, offset, dst); }
  Result<void> write(u64 offset, std::span<const u8> src) override { return ostd::block::write(index_, offset, src); }
  Result<void> read_frames(u64 offset, std::span<const ostd::Frame> frames) override {
    return ostd::block::read_frames(index_, offset, frames);
  }
  Result<void> write_frames(u64 offset, std::span<const ostd::Frame> frames) override {
    return ostd::block::write_frames(index_, offset, frames);
  }
  Result<void> flush() override { return ostd::block::flush(index_); }

 private:
  usize index_;
};

std::vector<std::shared_ptr<BlockDevice>> probe_all() {
  std::vector<std::shared_ptr<BlockDevice>> out;
  auto next_name = [&out] {
    std::string n = "vd";
    n.push_back(static_cast<char>('a' + out.size()));
    return n;
  };
  auto next_rdev = [&out] { return make_dev(kVirtblkMajor, static_cast<ostd::u32>(out.size() * 16)); };
  if (auto v = virtio::block_device()) out.push_back(std::make_shared<VirtioDisk>(next_name(), next_rdev(), v));
  for (usize i = 0; i < ostd::block::count() && out.size() < 26; ++i) {
    auto info = ostd::block::info(i);
    if (!info) continue;
    out.push_back(std::make_shared<BackendDisk>(next_name(), next_rdev(), i, *info));
    kLog.info("{}: {} bytes{}", out.back()->name(), info->bytes, info->read_only ? ", read-only" : "");
  }
  return out;
}

}  // namespace

Result<void> BlockDevice::read_frames(u64 offset, std::span<const ostd::Frame> frames) {
  std::vector<u8> page(ostd::kPageSize);
  for (const ostd::Frame& f : frames) {
    TRY(read(offset, page));
    ostd::Frame handle = f;  // another reference to the same frame
    TRY(handle.write_bytes(0, page));
    offset += ostd::kPageSize;
  }
  return {};
}

Result<void> BlockDevice::write_frames(u64 offset, std::span<const ostd::Frame> frames) {
  std::vector<u8> page(ostd::kPageSize);
  for (const ostd::Frame& f : frames) {
    TRY(f.read_bytes(0, page));
    TRY(write(offset, page));
    offset += ostd::kPageSize;
  }
  return {};
}

Result<void> BlockDevice::write_batch(std::span<const BlockWrite> writes) {
  for (const BlockWrite& w : writes)
    TRY(w.frames.empty() ? write(w.offset, w.bytes) : write_frames(w.offset, w.frames));
  return {};
}

Result<usize> BlockDevice::read_bytes(u64 offset, ostd::VmWriter& out) {
  constexpr usize kChunk = usize{64} * 1024;
  std::vector<u8> buf;
  usize done = 0;
  while (out.has_avail() && offset < size_bytes()) {
    u64 first = offset / kSectorSize * kSectorSize;
    usize skip = offset - first;
    usize want = std::min<u64>(out.avail(), size_bytes() - offset);
    usize span_len = std::min<usize>(kChunk, (skip + want + kSectorSize - 1) / kSectorSize * kSectorSize);
    buf.resize(span_len);
    TRY(read(first, buf));
    usize n = std::min(want, span_len - skip);
    auto r = ostd::VmReader::from_kernel(std::span<const u8>(buf).subspan(skip, n));
    auto copied = r.read_to(out);
    if (copied.is_error()) return done > 0 ? Result<usize>(done) : copied;
    done += copied.value();
    offset += copied.value();
    if (copied.value() < n) break;
  }
  return done;
}

Result<usize> BlockDevice::write_bytes(u64 offset, ostd::VmReader& in) {
  constexpr usize kChunk = usize{64} * 1024;
  if (read_only()) return Errno::eperm;  // as Linux's blkdev_write_iter for a read-only disk
  if (in.has_remain() && offset >= size_bytes()) return Errno::enospc;
  std::vector<u8> buf;
  usize done = 0;
  while (in.has_remain() && offset < size_bytes()) {
    u64 first = offset / kSectorSize * kSectorSize;
    usize skip = offset - first;
    usize want = std::min<u64>(in.remain(), size_bytes() - offset);
    usize span_len = std::min<usize>(kChunk, (skip + want + kSectorSize - 1) / kSectorSize * kSectorSize);
    usize n = std::min(want, span_len - skip);
    buf.resize(span_len);
    if (skip != 0 || n != span_len) TRY(read(first, buf));  // partial sectors: merge
    auto w = ostd::VmWriter::from_kernel(std::span<u8>(buf).subspan(skip, n));
    auto copied = in.read_to(w);
    if (copied.is_error()) return done > 0 ? Result<usize>(done) : copied;
    TRY(write(first, buf));
    done += copied.value();
    offset += copied.value();
    if (copied.value() < n) break;
  }
  return done;
}

namespace {
std::vector<std::shared_ptr<BlockDevice>>& disk_list() {
  static std::vector<std::shared_ptr<BlockDevice>> all;
  return all;
}
}  // namespace

void init_block_devices() {
  disk_list() = probe_all();
  init_loop_devices();
}

const std::vector<std::shared_ptr<BlockDevice>>& block_devices() { return disk_list(); }

std::shared_ptr<BlockDevice> block_device_by_rdev(u64 rdev) {
  for (const auto& d : block_devices()) {
    if (d->rdev() == rdev) return d;
  }
  return loop_device(rdev);
}

}  // namespace services
