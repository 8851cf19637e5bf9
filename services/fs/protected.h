// fs.protected_symlinks, fs.protected_hardlinks, fs.protected_fifos and fs.protected_regular
// (/proc/sys/fs): Linux's guards against the link and file races of shared sticky directories
// such as /tmp (Documentation/admin-guide/sysctl/fs.rst). They bind root as well.
#pragma once

#include <atomic>

#include <ostd/error.h>

#include "fs/vfs.h"

namespace services {

/// The four settings, one set for the whole kernel as on Linux. Defaults: Debian's
/// (/usr/lib/sysctl.d/protect-links.conf: symlinks 1, hardlinks 1, fifos 1, regular 2).
struct LinkProtection {
  std::atomic<int> symlinks{1};   // 0..1
  std::atomic<int> hardlinks{1};  // 0..1
  std::atomic<int> fifos{1};      // 0..2
  std::atomic<int> regular{2};    // 0..2
};
LinkProtection& link_protection();
/// Back to the defaults (a new kernel run in the same process).
void reset_link_protection();

/// Following the symbolic link `link` found in `dir` at the end of a path (may_follow_link):
/// EACCES when protected_symlinks is set, `dir` is sticky and world-writable, and the link
/// belongs neither to the follower (fsuid) nor to the directory's owner.
ostd::Result<void> may_follow_link(const Credentials& c, const Inode& dir, const Inode& link);

/// open(O_CREAT) of `file`, which already exists in `dir` (may_create_in_sticky): EACCES for a
/// regular file (protected_regular) or a FIFO (protected_fifos) in a sticky directory that
/// belongs neither to the opener (fsuid) nor to the directory's owner, when the directory is
/// world-writable, or group-writable and the setting is 2.
ostd::Result<void> may_open_existing_in_sticky(const Credentials& c, const Inode& dir, const Inode& file);

}  // namespace services
