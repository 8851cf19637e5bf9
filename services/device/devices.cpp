// The memory devices (null, zero, full, random, urandom), the console devices and devfs.
#include "device/devices.h"

#include <algorithm>
#include <vector>

#include <ostd/mm/io.h>
#include <ostd/task.h>
#include <ostd/time.h>

#include "device/block.h"
#include "device/kmsg.h"
#include "device/loop.h"
#include "device/tty.h"
#include "device/virtio.h"
#include "fs/vfs.h"
#include "process/internal.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u32;
using ostd::u64;
using ostd::usize;

namespace {

enum class MemKind : ostd::u8 { Null, Zero, Full, Random };

class MemDevice final : public DeviceFile {
 public:
  MemDevice(MemKind kind, std::shared_ptr<Dentry> d, u32 flags) : DeviceFile(std::move(d)), kind_(kind) {
    set_status_flags(flags);
  }
  Result<usize> read(Thread&, ostd::VmWriter& out) override { return fill(out); }
  Result<usize> read_at(Thread&, u64, ostd::VmWriter& out) override { return fill(out); }
  Result<usize> write(Thread&, ostd::VmReader& in) override { return consume(in); }
  Result<usize> write_at(Thread&, u64, ostd::VmReader& in) override { return consume(in); }
  Result<ostd::i64> seek(ostd::i64, int) override { return ostd::i64{0}; }
  ostd::WaitQueue* poll_queue() override { return nullptr; }

 private:
  Result<usize> fill(ostd::VmWriter& out) {
    switch (kind_) {
      case MemKind::Null: return usize{0};
      case MemKind::Zero:
      case MemKind::Full: return out.fill_zeros(out.avail());
      case MemKind::Random: {
        usize total = std::min<usize>(out.avail(), usize{32} << 20);
        std::vector<ostd::u8> buf(std::min<usize>(total, 65536));
        usize done = 0;
        while (done < total) {
          usize n = std::min(buf.size(), total - done);
          for (usize i = 0; i < n; i += 8) {
            u64 r = next_random();
            for (usize k = 0; k < 8 && i + k < n; ++k) buf[i + k] = static_cast<ostd::u8>(r >> (8 * k));
          }
          auto w = out.write_bytes(std::span<const ostd::u8>(buf).first(n));
          if (w.is_error()) return done > 0 ? Result<usize>(done) : Result<usize>(w.error());
          done += n;
        }
        return done;
      }
    }
    return usize{0};
  }
  Result<usize> consume(ostd::VmReader& in) {
    if (kind_ == MemKind::Full) return Errno::enospc;
    usize n = in.remain();
    in.skip(n);
    return n;
  }
  MemKind kind_;
};

constexpr u32 kMemMajor = 1, kTtyMajor = 4, kTtyAuxMajor = 5;
/// /dev/vda...: a disk as a seekable byte stream, with the block ioctls programs ask sizes by.
class BlockFile final : public DeviceFile {
 public:
  BlockFile(std::shared_ptr<BlockDevice> dev, std::shared_ptr<Dentry> d, u32 flags)
      : DeviceFile(std::move(d)), dev_(std::move(dev)) {
    set_status_flags(flags);
  }
  Result<usize> read(Thread&, ostd::VmWriter& out) override {
    usize n = TRY(dev_->read_bytes(pos_, out));
    pos_ += n;
    return n;
  }
  Result<usize> write(Thread&, ostd::VmReader& in) override {
    usize n = TRY(dev_->write_bytes(pos_, in));
    pos_ += n;
    return n;
  }
  Result<usize> read_at(Thread&, u64 offset, ostd::VmWriter& out) override { return dev_->read_bytes(offset, out); }
  Result<usize> write_at(Thread&, u64 offset, ostd::VmReader& in) override { return dev_->write_bytes(offset, in); }
  Result<ostd::i64> seek(ostd::i64 offset, int whence) override {
    constexpr int kSeekSet = 0, kSeekCur = 1, kSeekEnd = 2;
    ostd::i64 base = 0;
    switch (whence) {
      case kSeekSet: base = 0; break;
      case kSeekCur: base = static_cast<ostd::i64>(pos_); break;
      case kSeekEnd: base = static_cast<ostd::i64>(dev_->size_bytes()); break;
      default: return Errno::einval;
    }
    ostd::i64 target = 0;
    if (!ostd::checked_add(base, offset, target) || target < 0) return Errno::einval;
    pos_ = static_cast<u64>(target);
    return target;
  }
  Result<long> ioctl(Thread& self, u32 cmd, u64 arg) override {
    constexpr u32 kBlkRoGet = 0x125e, kBlkGetSize = 0x1260, kBlkFlsBuf = 0x1261, kBlkSszGet = 0x1268,
                  kBlkGetSize64 = 0x80081272, kBlkBszGet = 0x80081270, kBlkIoMin = 0x1278, kBlkIoOpt = 0x1279,
                  kBlkPbszGet = 0x127b, kBlkDiscardZeroes = 0x127c;
    auto put_int = [&](ostd::i32 v) -> Result<long> {
      TRY(ostd::UserPtr<ostd::i32>(arg).write(self.vm(), v));
      return 0;
    };
    switch (cmd) {
      case kBlkGetSize64: TRY(ostd::UserPtr<u64>(arg).write(self.vm(), dev_->size_bytes())); return 0;
      case kBlkGetSize: TRY(ostd::UserPtr<u64>(arg).write(self.vm(), dev_->size_bytes() / 512)); return 0;
      case kBlkSszGet:
      case kBlkPbszGet:
      case kBlkIoMin: return put_int(512);
      case kBlkBszGet: return put_int(4096);
      case kBlkIoOpt:
      case kBlkDiscardZeroes: return put_int(0);
      case kBlkRoGet: return put_int(dev_->read_only() ? 1 : 0);
      case kBlkFlsBuf:
        if (!self.process().creds.capable(cap::kSysAdmin)) return Errno::eacces;
        TRY(dev_->flush());
        return 0;
      default: return loop_ioctl(self, dev_, cmd, arg);
    }
  }
  ostd::WaitQueue* poll_queue() override { return nullptr; }

 private:
  std::shared_ptr<BlockDevice> dev_;
  u64 pos_ = 0;
};

/// /dev/hvc0: the virtio console.
class HvcFile final : public DeviceFile {
 public:
  HvcFile(std::shared_ptr<virtio::ConsoleDevice> dev, std::shared_ptr<Dentry> d, u32 flags)
      : DeviceFile(std::move(d)), dev_(std::move(dev)) {
    set_status_flags(flags);
  }
  Result<usize> read(Thread& self, ostd::VmWriter& out) override {
    // Woken by the device's interrupt (polled every 2 ms when it has none); a signal ends the
    // wait.
    for (;;) {
      auto r = dev_->try_read(out);
      if (r.is_ok() || r.error() != Errno::eagain || nonblocking()) return r;
      std::optional<ostd::u64> timeout;
      if (!dev_->interrupt_driven()) timeout = 2 * ostd::kNsPerMs;
      auto w = self.wait_interruptible(
          dev_->input_queue(), [this] { return dev_->readable(); }, timeout);
      if (w.is_error() && w.error() == Errno::erestartsys) return w.error();
    }
  }
  Result<usize> write(Thread&, ostd::VmReader& in) override { return dev_->write(in); }
  ostd::WaitQueue* poll_queue() override { return nullptr; }

 private:
  std::shared_ptr<virtio::ConsoleDevice> dev_;
};

constexpr u32 kHvcMajor = 229;

}  // namespace

Result<std::shared_ptr<File>> open_device(bool char_device, u64 rdev, const std::shared_ptr<Dentry>& dentry,
                                          u32 flags) {
  auto major = static_cast<u32>((rdev >> 8) & 0xfff);
  auto minor = static_cast<u32>((rdev & 0xff) | ((rdev >> 12) & 0xfff00));
  u32 f = flags & ~(kOCreat | kOExcl | kOTrunc);
  if (!char_device) {
    auto blk = block_device_by_rdev(rdev);
    if (!blk) return Errno::enxio;
    if (blk->read_only() && (f & kOAccMode) != kORdOnly) return Errno::erofs;
    return std::shared_ptr<File>(std::make_shared<BlockFile>(blk, dentry, f));
  }
  auto mem = [&](MemKind k) { return std::shared_ptr<File>(std::make_shared<MemDevice>(k, dentry, f)); };
  if (major == kMemMajor) {
    switch (minor) {
      case 3: return mem(MemKind::Null);
      case 5: return mem(MemKind::Zero);
      case 7: return mem(MemKind::Full);
      case 8:
      case 9: return mem(MemKind::Random);
      case 11: return open_kmsg(dentry, f);
      default: return Errno::enxio;
    }
  }
  if (major == kMiscMajor && minor == kLoopControlMinor) return open_loop_control(dentry, f);
  if (major == kHvcMajor && minor == 0) {
    auto hvc = virtio::console_device();
    if (!hvc) return Errno::enxio;
    return std::shared_ptr<File>(std::make_shared<HvcFile>(hvc, dentry, f));
  }
  if ((major == kTtyAuxMajor && (minor == 0 || minor == 1)) || (major == kTtyMajor && minor <= 1)) {
    return open_console_device(f, dentry);
  }
  return Errno::enxio;
}

std::shared_ptr<FileSystem> make_devfs() {
  auto fs = make_ramfs("devtmpfs");
  auto root = fs->root();
  struct Node {
    std::string_view name;
    u32 major, minor, perm;
  };
  for (const Node& n :
       {Node{"null", 1, 3, 0666}, Node{"zero", 1, 5, 0666}, Node{"full", 1, 7, 0666}, Node{"random", 1, 8, 0666},
        Node{"urandom", 1, 9, 0666}, Node{"kmsg", 1, 11, 0644}, Node{"tty", 5, 0, 0666}, Node{"console", 5, 1, 0600},
        Node{"tty0", 4, 0, 0620}, Node{"tty1", 4, 1, 0620}}) {
    (void)root->create(n.name, abi::kSIfchr | n.perm, make_dev(n.major, n.minor));
  }
  if (virtio::console_device()) {
    (void)root->create("hvc0", abi::kSIfchr | 0620, make_dev(kHvcMajor, 0));
  }
  for (const auto& disk : block_devices()) {
    (void)root->create(disk->name(), abi::kSIfblk | 0660, disk->rdev());
  }
  add_loop_nodes(root);
  for (auto [name, target] : {std::pair<std::string_view, std::string_view>{"fd", "/proc/self/fd"},
                              {"stdin", "/proc/self/fd/0"},
                              {"stdout", "/proc/self/fd/1"},
                              {"stderr", "/proc/self/fd/2"}}) {
    (void)root->symlink(name, target);
  }
  if (auto shm = root->create("shm", abi::kSIfdir | 01777, 0); shm.is_error()) {
    // Nothing else to do: /dev/shm is optional.
  }
  (void)root->create("pts", abi::kSIfdir | 0755, 0);
  return fs;
}

}  // namespace services
