// ostd/dev/p9.h — the backend's own 9P servers: host directories shared into the guest.
//
// On the host backend each `umk run --volume HOSTDIR:GUESTDIR[:ro]` (and `--root HOSTDIR`) is a
// share served in-process with host system calls; the services' 9P2000.L client
// (services/fs/p9.h) talks to it one message at a time, as it talks to QEMU's virtio-9p on
// bare metal, where this API has no shares.
//
// The server confines every operation to the shared directory: a walk moves one directory entry
// at a time and never follows a symbolic link (the guest's own path walk reads and follows
// them), ".." does not leave the share's root, and a host rename that moves a directory
// out from under a walk cannot take it elsewhere (re-resolution is RESOLVE_BENEATH). A read-only
// share refuses every change with EROFS. Ownership is the host's (QEMU's
// security_model=passthrough when umk runs as root; as security_model=none otherwise: a chown
// the host refuses is ignored).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include <ostd/error.h>
#include <ostd/types.h>

namespace ostd::p9 {

struct Share {
  /// The name the guest mounts it by (mount -t 9p TAG DIR).
  std::string tag;
  bool read_only = false;
};

/// The largest message a share carries (msize).
inline constexpr u32 kMaxMessage = 512 * 1024 + 4096;

/// How many shares the backend has; they are numbered from 0.
usize count();
/// Share `index`, or nullopt when there is none.
std::optional<Share> share(usize index);
/// One exchange with share `index`'s server: `request` is a whole T-message, `reply` receives
/// the whole R-message (an Rlerror when the request failed or was malformed). ENXIO: no such
/// share; EINVAL: a request longer than kMaxMessage or shorter than a header.
Result<void> rpc(usize index, std::span<const u8> request, std::vector<u8>& reply);

}  // namespace ostd::p9
