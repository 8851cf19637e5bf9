// Disks on the host backend (ostd/dev/block.h): each is a host file opened at boot and read
// and written with preadv/pwritev, straight from and into the frames' direct-map pages.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <ostd/arch/backend.h>
#include <ostd/dev/block.h>
#include <ostd/format.h>

#include "host_internal.h"

namespace ostd::host {
namespace {

struct Disk {
  int fd = -1;
  u64 bytes = 0;
  bool read_only = false;
};

std::vector<Disk>& disks() {
  static std::vector<Disk> d;
  return d;
}

}  // namespace

std::optional<DiskConfig> parse_disk(const std::string& text) {
  DiskConfig d;
  d.path = text;
  if (text.size() >= 3 && text.compare(text.size() - 3, 3, ":ro") == 0) {
    d.read_only = true;
    d.path.resize(text.size() - 3);
  } else if (text.size() >= 3 && text.compare(text.size() - 3, 3, ":rw") == 0) {
    d.path.resize(text.size() - 3);
  }
  if (d.path.empty()) return std::nullopt;
  return d;
}

std::string disks_start(const std::vector<DiskConfig>& config) {
  disks_stop();
  for (const DiskConfig& c : config) {
    int fd = ::open(c.path.c_str(), (c.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0) {
      std::string err = format("--disk {}: {}", c.path, std::string_view(strerror(errno)));
      if (fd >= 0) ::close(fd);
      disks_stop();
      return err;
    }
    u64 bytes = 0;
    if (S_ISREG(st.st_mode)) {
      bytes = static_cast<u64>(st.st_size);
    } else if (S_ISBLK(st.st_mode)) {
      off_t end = ::lseek(fd, 0, SEEK_END);
      bytes = end > 0 ? static_cast<u64>(end) : 0;
    } else {
      ::close(fd);
      disks_stop();
      return format("--disk {}: not a regular file or block device", c.path);
    }
    disks().push_back(Disk{fd, bytes / block::kSectorSize * block::kSectorSize, c.read_only});
  }
  return {};
}

void disks_stop() {
  for (Disk& d : disks()) ::close(d.fd);
  disks().clear();
}

}  // namespace ostd::host

namespace ostd::block {
namespace {

using host::Disk;

Result<const Disk*> checked(usize disk, u64 offset, u64 len, bool write) {
  const auto& all = host::disks();
  if (disk >= all.size()) return Errno::enxio;
  const Disk& d = all[disk];
  if (offset % kSectorSize != 0 || len % kSectorSize != 0) return Errno::einval;
  if (offset > d.bytes || len > d.bytes - offset) return Errno::eio;
  if (write && d.read_only) return Errno::erofs;
  return &d;
}

// Moves all of `iov` at `offset`, continuing after short transfers and EINTR.
Result<void> transfer(const Disk& d, u64 offset, std::vector<iovec> iov, bool write) {
  usize first = 0;
  while (first < iov.size()) {
    auto count = static_cast<int>(std::min<usize>(iov.size() - first, IOV_MAX));
    ssize_t n = write ? ::pwritev(d.fd, &iov[first], count, static_cast<off_t>(offset))
                      : ::preadv(d.fd, &iov[first], count, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Errno::eio;  // a read of 0: the file shrank under us
    offset += static_cast<u64>(n);
    auto left = static_cast<usize>(n);
    while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
    if (left > 0) {
      // SAFETY: here left < iov[first].iov_len (whole entries were skipped), so the base stays
      // inside that buffer.
      iov[first].iov_base = static_cast<u8*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return {};
}

std::vector<iovec> frame_iov(std::span<const Frame> frames) {
  std::vector<iovec> iov;
  iov.reserve(frames.size());
  for (const Frame& f : frames) iov.push_back(iovec{arch::phys_to_virt(f.paddr()), kPageSize});
  return iov;
}

}  // namespace

usize count() { return host::disks().size(); }

std::optional<Info> info(usize disk) {
  const auto& all = host::disks();
  if (disk >= all.size()) return std::nullopt;
  return Info{all[disk].bytes, all[disk].read_only};
}

Result<void> read(usize disk, u64 offset, std::span<u8> dst) {
  const Disk* d = TRY(checked(disk, offset, dst.size(), false));
  return transfer(*d, offset, {iovec{dst.data(), dst.size()}}, false);
}

Result<void> write(usize disk, u64 offset, std::span<const u8> src) {
  const Disk* d = TRY(checked(disk, offset, src.size(), true));
  // pwritev takes a non-const base; it only reads through it.
  // SAFETY: with write set, transfer passes iov only to pwritev, which only reads it.
  return transfer(*d, offset, {iovec{const_cast<u8*>(src.data()), src.size()}}, true);
}

Result<void> read_frames(usize disk, u64 offset, std::span<const Frame> frames) {
  const Disk* d = TRY(checked(disk, offset, frames.size() * kPageSize, false));
  return transfer(*d, offset, frame_iov(frames), false);
}

Result<void> write_frames(usize disk, u64 offset, std::span<const Frame> frames) {
  const Disk* d = TRY(checked(disk, offset, frames.size() * kPageSize, true));
  return transfer(*d, offset, frame_iov(frames), true);
}

Result<void> flush(usize disk) {
  const auto& all = host::disks();
  if (disk >= all.size()) return Errno::enxio;
  if (all[disk].read_only) return {};
  if (::fdatasync(all[disk].fd) != 0) return Errno::eio;
  return {};
}

}  // namespace ostd::block
