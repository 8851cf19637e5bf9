// Loop devices: /dev/loop-control and /dev/loopN, block devices whose sectors are a regular
// file's bytes (Linux's drivers/block/loop.c), so `mount -o loop IMAGE DIR` and `losetup` work.
//
// /dev/loop0../dev/loop15 exist from boot (Linux's max_loop default is 8; the nodes are cheap);
// LOOP_CTL_GET_FREE hands out the first unbound one, or adds one when all are bound;
// LOOP_CTL_ADD and LOOP_CTL_REMOVE add and remove devices by number, their nodes appearing and
// going in every devtmpfs as devtmpfs does. A device is bound to a file with
// LOOP_SET_FD or LOOP_CONFIGURE and unbound with LOOP_CLR_FD, or, with LO_FLAGS_AUTOCLEAR, when
// the file system mounted on it is unmounted. I/O goes to the backing inode's read_at/write_at
// (its page cache), at lo_offset, within lo_sizelimit.
#include "device/loop.h"

#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <vector>

#include <ostd/bytes.h>
#include <ostd/mm/io.h>
#include <ostd/sync.h>

#include "device/block.h"
#include "device/devices.h"
#include "fs/vfs.h"
#include "process/internal.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u32;
using ostd::u64;
using ostd::u8;
using ostd::usize;

namespace {

constexpr u32 kLoopDevices = 16;
constexpr u32 kMaxLoopMinor = (1u << 20) - 1;  // MINORMASK: a device numbered past it is EINVAL
// Devices in all: past it adding one is ENOMEM (Linux runs out of memory later; a guest
// adding a million devices must not exhaust the kernel's heap).
constexpr usize kMaxLoopDevices = 4096;
constexpr u32 kLoFlagsReadOnly = 1, kLoFlagsAutoclear = 4, kLoFlagsPartscan = 8, kLoFlagsDirectIo = 16;
constexpr u32 kLoNameSize = 64, kLoKeySize = 32;

// struct loop_info64 (232 bytes).
struct LoopInfo64 {
  u64 lo_device, lo_inode, lo_rdevice, lo_offset, lo_sizelimit;
  u32 lo_number, lo_encrypt_type, lo_encrypt_key_size, lo_flags;
  std::array<u8, kLoNameSize> lo_file_name;
  std::array<u8, kLoNameSize> lo_crypt_name;
  std::array<u8, kLoKeySize> lo_encrypt_key;
  std::array<u64, 2> lo_init;
  OSTD_POD(LoopInfo64, lo_device, lo_inode, lo_rdevice, lo_offset, lo_sizelimit, lo_number, lo_encrypt_type,
           lo_encrypt_key_size, lo_flags, lo_file_name, lo_crypt_name, lo_encrypt_key, lo_init);
};
static_assert(sizeof(LoopInfo64) == 232);

// struct loop_config (304 bytes).
struct LoopConfig {
  u32 fd, block_size;
  LoopInfo64 info;
  std::array<u64, 8> reserved;
  OSTD_POD(LoopConfig, fd, block_size, info, reserved);
};
static_assert(sizeof(LoopConfig) == 304);

class LoopDevice final : public BlockDevice {
 public:
  explicit LoopDevice(u32 number)
      : BlockDevice("loop" + std::to_string(number), make_dev(kLoopMajor, number), 0, false), number_(number) {}

  Result<void> read(u64 offset, std::span<u8> dst) override {
    auto g = lock_.lock();
    TRY(check(offset, dst.size(), false));
    auto w = ostd::VmWriter::from_kernel(dst);
    usize n = TRY(backing_->read_at(info_.lo_offset + offset, w));
    // Past the backing file's end (it shrank) reads zeros, as a hole would.
    if (n < dst.size()) std::fill(dst.begin() + static_cast<long>(n), dst.end(), u8{0});
    return {};
  }
  Result<void> write(u64 offset, std::span<const u8> src) override {
    auto g = lock_.lock();
    TRY(check(offset, src.size(), true));
    auto r = ostd::VmReader::from_kernel(src);
    usize n = TRY(backing_->write_at(info_.lo_offset + offset, r));
    if (n != src.size()) return Errno::eio;
    return {};
  }
  Result<void> flush() override {
    std::shared_ptr<Inode> b;
    {
      auto g = lock_.lock();
      b = backing_;
    }
    if (b) TRY(b->sync_file());
    return {};
  }
  u32 number() const { return number_; }
  bool bound() const {
    auto g = lock_.lock();
    return backing_ != nullptr;
  }

  // LOOP_SET_FD / LOOP_CONFIGURE.
  Result<void> bind(const std::shared_ptr<File>& file, const LoopInfo64* info) {
    auto d = file->dentry();
    if (!d || !d->inode()->is_regular()) return Errno::einval;
    auto g = lock_.lock();
    if (backing_) return Errno::ebusy;
    LoopInfo64 li{};
    if (info != nullptr) li = *info;
    li.lo_number = number_;
    if (!file->writable()) li.lo_flags |= kLoFlagsReadOnly;
    li.lo_flags &= kLoFlagsReadOnly | kLoFlagsAutoclear | kLoFlagsPartscan | kLoFlagsDirectIo;
    abi::Stat st = d->inode()->stat();
    li.lo_device = st.st_dev;
    li.lo_inode = st.st_ino;
    std::string path = dentry_path(d);
    std::fill(li.lo_file_name.begin(), li.lo_file_name.end(), u8{0});
    std::copy_n(path.begin(), std::min<usize>(path.size(), kLoNameSize - 1), li.lo_file_name.begin());
    backing_ = d->inode();
    info_ = li;
    update_size();
    return {};
  }
  // LOOP_CLR_FD (EBUSY while a file system is mounted on the device).
  Result<void> unbind() {
    auto g = lock_.lock();
    if (!backing_) return Errno::enxio;
    if (mounted_) {
      info_.lo_flags |= kLoFlagsAutoclear;  // as Linux: it goes when the last user does
      return {};
    }
    clear();
    return {};
  }
  Result<LoopInfo64> status() const {
    auto g = lock_.lock();
    if (!backing_) return Errno::enxio;
    return info_;
  }
  // LOOP_SET_STATUS64: offset, size limit, the file name and the settable flags.
  Result<void> set_status(const LoopInfo64& li) {
    auto g = lock_.lock();
    if (!backing_) return Errno::enxio;
    if (li.lo_encrypt_type != 0 || li.lo_encrypt_key_size != 0) return Errno::einval;
    if (li.lo_offset % 512 != 0 && li.lo_offset != info_.lo_offset) return Errno::einval;
    info_.lo_offset = li.lo_offset;
    info_.lo_sizelimit = li.lo_sizelimit;
    constexpr u32 kSettable = kLoFlagsAutoclear | kLoFlagsPartscan;
    info_.lo_flags = (info_.lo_flags & ~kSettable) | (li.lo_flags & kSettable);
    info_.lo_file_name = li.lo_file_name;
    info_.lo_file_name.back() = 0;
    update_size();
    return {};
  }
  // LOOP_SET_CAPACITY: the backing file's size is read again.
  Result<void> recompute_size() {
    auto g = lock_.lock();
    if (!backing_) return Errno::enxio;
    update_size();
    return {};
  }
  void set_mounted(bool on) {
    auto g = lock_.lock();
    mounted_ = on;
    if (!on && backing_ && (info_.lo_flags & kLoFlagsAutoclear) != 0) clear();
  }
  u64 size_bytes() const override {
    auto g = lock_.lock();
    return size_;
  }
  bool read_only() const override {
    auto g = lock_.lock();
    return (info_.lo_flags & kLoFlagsReadOnly) != 0;
  }

 private:
  Result<void> check(u64 offset, usize len, bool write) const {
    if (!backing_) return Errno::eio;
    if (offset % kSectorSize != 0 || len % kSectorSize != 0) return Errno::einval;
    if (offset > size_ || len > size_ - offset) return Errno::eio;
    if (write && (info_.lo_flags & kLoFlagsReadOnly) != 0) return Errno::erofs;
    return {};
  }
  void update_size() {
    u64 file = backing_->size();
    u64 size = file > info_.lo_offset ? file - info_.lo_offset : 0;
    if (info_.lo_sizelimit != 0) size = std::min(size, info_.lo_sizelimit);
    size_ = size / kSectorSize * kSectorSize;
  }
  void clear() {
    backing_.reset();
    info_ = LoopInfo64{};
    size_ = 0;
  }

  u32 number_;
  mutable ostd::Mutex lock_;
  std::shared_ptr<Inode> backing_;
  LoopInfo64 info_{};
  u64 size_ = 0;
  bool mounted_ = false;
};

// The loop devices by number, and the devtmpfs directories that have their nodes.
struct Loops {
  ostd::Mutex lock;
  std::map<u32, std::shared_ptr<LoopDevice>> all;
  std::vector<std::weak_ptr<Inode>> dev_dirs;
};
Loops& loops() {
  static Loops l;
  return l;
}

// Every loop device, and every devtmpfs directory still alive (a snapshot: their nodes are
// made and removed with the lock free).
std::vector<std::shared_ptr<LoopDevice>> all_loops() {
  auto& l = loops();
  auto g = l.lock.lock();
  std::vector<std::shared_ptr<LoopDevice>> out;
  for (const auto& [n, d] : l.all) out.push_back(d);
  return out;
}
std::vector<std::shared_ptr<Inode>> live_dev_dirs_locked(Loops& l) {
  std::erase_if(l.dev_dirs, [](const auto& w) { return w.expired(); });
  std::vector<std::shared_ptr<Inode>> out;
  for (const auto& w : l.dev_dirs) {
    if (auto d = w.lock()) out.push_back(std::move(d));
  }
  return out;
}

std::shared_ptr<LoopDevice> loop_by_minor(u32 minor) {
  auto& l = loops();
  auto g = l.lock.lock();
  auto it = l.all.find(minor);
  return it != l.all.end() ? it->second : nullptr;
}

// Adds loop device `number` (the lowest free number when negative) and its nodes: its number,
// EEXIST when it exists, EINVAL past the largest minor.
Result<u32> add_loop(ostd::i64 number) {
  auto& l = loops();
  std::shared_ptr<LoopDevice> dev;
  std::vector<std::shared_ptr<Inode>> dirs;
  {
    auto g = l.lock.lock();
    if (number > ostd::i64{kMaxLoopMinor}) return Errno::einval;
    if (number < 0) {
      number = 0;
      for (const auto& [n, d] : l.all) {
        if (n != static_cast<u32>(number)) break;
        ++number;
      }
      if (number > ostd::i64{kMaxLoopMinor}) return Errno::enospc;
    }
    auto n = static_cast<u32>(number);
    if (l.all.count(n) != 0) return Errno::eexist;
    if (l.all.size() >= kMaxLoopDevices) return Errno::enomem;
    dev = std::make_shared<LoopDevice>(n);
    l.all.emplace(n, dev);
    dirs = live_dev_dirs_locked(l);
  }
  for (const auto& d : dirs) (void)d->create(dev->name(), abi::kSIfblk | 0660, dev->rdev());
  return static_cast<u32>(number);
}

// LOOP_CTL_REMOVE: EBUSY while the device is bound or open, ENODEV when there is none.
Result<void> remove_loop(ostd::i64 number) {
  if (number < 0) return Errno::einval;  // "deleting an unspecified loop device is not supported"
  auto& l = loops();
  std::shared_ptr<LoopDevice> dev;
  std::vector<std::shared_ptr<Inode>> dirs;
  {
    auto g = l.lock.lock();
    auto it = number <= ostd::i64{kMaxLoopMinor} ? l.all.find(static_cast<u32>(number)) : l.all.end();
    if (it == l.all.end()) return Errno::enodev;
    // Held by the map alone: no open file, no mount, no request in flight.
    if (it->second->bound() || it->second.use_count() > 1) return Errno::ebusy;
    dev = std::move(it->second);
    l.all.erase(it);
    dirs = live_dev_dirs_locked(l);
  }
  for (const auto& d : dirs) {
    // Only the node devtmpfs made for it (a node someone put there in its place stays).
    auto node = d->lookup(dev->name());
    if (node.is_ok() && (node.value()->mode() & abi::kSIfmt) == abi::kSIfblk && node.value()->rdev == dev->rdev()) {
      (void)d->unlink(dev->name());
    }
  }
  return {};
}

std::shared_ptr<LoopDevice> loop_by_rdev(u64 rdev) {
  if (dev_major(rdev) != kLoopMajor) return nullptr;
  return loop_by_minor(dev_minor(rdev));
}

// /dev/loop-control.
class LoopControlFile final : public DeviceFile {
 public:
  LoopControlFile(std::shared_ptr<Dentry> d, u32 flags) : DeviceFile(std::move(d)) { set_status_flags(flags); }
  Result<long> ioctl(Thread& self, u32 cmd, u64 arg) override {
    constexpr u32 kLoopCtlAdd = 0x4C80, kLoopCtlRemove = 0x4C81, kLoopCtlGetFree = 0x4C82;
    if (!self.process().creds.capable(cap::kSysAdmin)) return Errno::eperm;
    // The argument is an int to Linux (a negative one asks ADD for any free number).
    auto number = static_cast<ostd::i64>(static_cast<ostd::i32>(arg));
    switch (cmd) {
      case kLoopCtlGetFree: {
        for (const auto& d : all_loops()) {
          if (!d->bound()) return static_cast<long>(d->number());
        }
        return static_cast<long>(TRY(add_loop(-1)));
      }
      case kLoopCtlAdd: return static_cast<long>(TRY(add_loop(number)));
      case kLoopCtlRemove: TRY(remove_loop(number)); return 0;
      default: return Errno::enosys;  // as Linux's loop_control_ioctl
    }
  }
  ostd::WaitQueue* poll_queue() override { return nullptr; }
};

}  // namespace

void init_loop_devices() {
  auto& l = loops();
  auto g = l.lock.lock();
  l.all.clear();
  l.dev_dirs.clear();
  for (u32 i = 0; i < kLoopDevices; ++i) l.all.emplace(i, std::make_shared<LoopDevice>(i));
}

std::shared_ptr<BlockDevice> loop_device(u64 rdev) { return loop_by_rdev(rdev); }

void add_loop_nodes(const std::shared_ptr<Inode>& dev_dir) {
  {
    auto& l = loops();
    auto g = l.lock.lock();
    l.dev_dirs.push_back(dev_dir);
  }
  (void)dev_dir->create("loop-control", abi::kSIfchr | 0660, make_dev(kMiscMajor, kLoopControlMinor));
  for (const auto& d : all_loops()) (void)dev_dir->create(d->name(), abi::kSIfblk | 0660, d->rdev());
}

Result<std::shared_ptr<File>> open_loop_control(const std::shared_ptr<Dentry>& d, u32 flags) {
  return std::shared_ptr<File>(std::make_shared<LoopControlFile>(d, flags));
}

Result<long> loop_ioctl(Thread& self, const std::shared_ptr<BlockDevice>& dev, u32 cmd, u64 arg) {
  constexpr u32 kLoopSetFd = 0x4C00, kLoopClrFd = 0x4C01, kLoopSetStatus = 0x4C02, kLoopGetStatus = 0x4C03,
                kLoopSetStatus64 = 0x4C04, kLoopGetStatus64 = 0x4C05, kLoopChangeFd = 0x4C06, kLoopSetCapacity = 0x4C07,
                kLoopSetDirectIo = 0x4C08, kLoopSetBlockSize = 0x4C09, kLoopConfigure = 0x4C0A;
  auto l = loop_by_rdev(dev->rdev());
  if (!l) return Errno::enotty;
  const bool admin = self.process().creds.capable(cap::kSysAdmin);
  switch (cmd) {
    case kLoopSetFd: {
      if (!admin) return Errno::eperm;
      auto file = TRY(self.process().fds->get(static_cast<int>(arg)));
      TRY(l->bind(file, nullptr));
      return 0;
    }
    case kLoopConfigure: {
      if (!admin) return Errno::eperm;
      LoopConfig c = TRY(ostd::UserPtr<LoopConfig>(arg).read(self.vm()));
      if (c.block_size != 0 &&
          (c.block_size < 512 || c.block_size > 4096 || (c.block_size & (c.block_size - 1)) != 0)) {
        return Errno::einval;
      }
      auto file = TRY(self.process().fds->get(static_cast<int>(c.fd)));
      TRY(l->bind(file, &c.info));
      return 0;
    }
    case kLoopClrFd:
      if (!admin) return Errno::eperm;
      TRY(l->unbind());
      return 0;
    case kLoopGetStatus64: {
      LoopInfo64 li = TRY(l->status());
      if (!admin) std::fill(li.lo_encrypt_key.begin(), li.lo_encrypt_key.end(), u8{0});
      TRY(ostd::UserPtr<LoopInfo64>(arg).write(self.vm(), li));
      return 0;
    }
    case kLoopSetStatus64: {
      if (!admin) return Errno::eperm;
      LoopInfo64 li = TRY(ostd::UserPtr<LoopInfo64>(arg).read(self.vm()));
      TRY(l->set_status(li));
      return 0;
    }
    case kLoopSetCapacity:
      if (!admin) return Errno::eperm;
      TRY(l->recompute_size());
      return 0;
    case kLoopSetDirectIo:
    case kLoopSetBlockSize:
      if (!admin) return Errno::eperm;
      TRY(l->status());
      return 0;
    case kLoopSetStatus:
    case kLoopGetStatus:
    case kLoopChangeFd: TRY(l->status()); return Errno::einval;  // the old struct loop_info: not kept
    default: return Errno::enotty;
  }
}

void loop_mount_changed(const std::shared_ptr<BlockDevice>& dev, bool mounted) {
  if (auto l = loop_by_rdev(dev->rdev())) l->set_mounted(mounted);
}

}  // namespace services
