// ostd/dev/block.h — the backend's own disks: sectors in and out of a block device.
//
// On the host backend a disk is a host file (`umk run --disk FILE[:ro]`), read and written with
// positioned host I/O; its contents survive umk. On bare metal there are none here: the
// services' virtio-blk driver drives QEMU's disks through the PCI API (ostd/dev/io.h).
//
// Transfers are whole sectors: an offset or length that is not a multiple of kSectorSize is
// EINVAL, a range past the end of the disk EIO, as a block device's request queue refuses
// them. Transfers are synchronous; what write() returns is in the host's page cache, and
// flush() makes it durable (the host's fdatasync), as a disk's cache flush does.
#pragma once

#include <optional>
#include <span>

#include <ostd/error.h>
#include <ostd/mm/frame.h>
#include <ostd/types.h>

namespace ostd::block {

inline constexpr usize kSectorSize = 512;

struct Info {
  /// The size in bytes (a multiple of kSectorSize: a partial last sector is not part of it).
  u64 bytes = 0;
  bool read_only = false;
};

/// How many disks the backend has; they are numbered from 0 in the order they were given.
usize count();
/// What disk `disk` is; nullopt when there is no such disk.
std::optional<Info> info(usize disk);

/// Reads [offset, offset + dst.size()) of the disk into `dst`. ENXIO: no such disk; EINVAL:
/// not whole sectors; EIO: past the end, or the host's I/O failed.
Result<void> read(usize disk, u64 offset, std::span<u8> dst);
/// Writes `src` at `offset`. As read(), and EROFS for a read-only disk.
Result<void> write(usize disk, u64 offset, std::span<const u8> src);
/// The same for whole frames, page after page from `offset`: the data moves between the disk
/// and the frames with no copy in between (a page cache fills and writes back this way).
Result<void> read_frames(usize disk, u64 offset, std::span<const Frame> frames);
Result<void> write_frames(usize disk, u64 offset, std::span<const Frame> frames);
/// Makes everything written so far durable. ENXIO: no such disk; EIO: the host failed.
Result<void> flush(usize disk);

}  // namespace ostd::block
