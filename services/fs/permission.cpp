// Discretionary access control as Linux's fs/namei.c and fs/attr.c decide it: owner, group and
// other permission bits, root's overrides through CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and
// CAP_FOWNER, the sticky bit, and who owns what a process creates.
#include "fs/protected.h"

#include "fs/vfs.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u32;

Result<void> inode_permission(const Credentials& c, const Inode& inode, u32 mask) {
  mask &= kMayRead | kMayWrite | kMayExec;
  u32 mode = inode.mode();
  u32 bits = c.fsuid == inode.uid ? (mode >> 6) & 7 : c.in_group(inode.gid) ? (mode >> 3) & 7 : mode & 7;
  if ((mask & ~bits) == 0) return {};
  if (inode.is_dir()) {
    // Directories: reading and searching with CAP_DAC_READ_SEARCH, anything with DAC_OVERRIDE.
    if ((mask & kMayWrite) == 0 && c.capable(cap::kDacReadSearch)) return {};
    if (c.capable(cap::kDacOverride)) return {};
    return Errno::eacces;
  }
  if (mask == kMayRead && c.capable(cap::kDacReadSearch)) return {};
  // Executing needs at least one execute bit, even for root.
  if (((mask & kMayExec) == 0 || (mode & 0111) != 0) && c.capable(cap::kDacOverride)) return {};
  return Errno::eacces;
}

bool owner_or_capable(const Credentials& c, const Inode& inode) {
  return c.fsuid == inode.uid || c.capable(cap::kFowner);
}

Result<void> may_create_in(const Credentials& c, const Inode& dir) {
  return inode_permission(c, dir, kMayWrite | kMayExec);
}

Result<void> may_delete_from(const Credentials& c, const Inode& dir, const Inode& victim) {
  TRY(inode_permission(c, dir, kMayWrite | kMayExec));
  // The sticky bit (/tmp): only the file's owner, the directory's owner or CAP_FOWNER.
  constexpr u32 kSticky = 01000;
  if ((dir.mode() & kSticky) != 0 && c.fsuid != victim.uid && c.fsuid != dir.uid && !c.capable(cap::kFowner)) {
    return Errno::eperm;
  }
  return {};
}

void set_new_owner(Inode& child, const Inode& dir, const Credentials& c) {
  constexpr u32 kSetgid = 02000;
  child.uid = c.fsuid;
  if ((dir.mode() & kSetgid) != 0) {
    // A set-group-ID directory gives its group, and to directories its set-group-ID bit.
    child.gid = dir.gid;
    if (child.is_dir()) child.set_permissions(child.mode() | kSetgid);
  } else {
    child.gid = c.fsgid;
  }
}

Result<void> may_link(const Credentials& c, const Inode& target) {
  // fs.protected_hardlinks: a link to another user's file needs its ownership, CAP_FOWNER,
  // or read and write access to a file that is not set-ID.
  if (link_protection().hardlinks.load(std::memory_order_relaxed) == 0) return {};
  if (owner_or_capable(c, target)) return {};
  u32 mode = target.mode();
  bool setid = (mode & 04000) != 0 || (mode & 02010) == 02010;
  if (target.is_regular() && !setid && inode_permission(c, target, kMayRead | kMayWrite).is_ok()) return {};
  return Errno::eperm;
}

LinkProtection& link_protection() {
  static LinkProtection p;
  return p;
}

void reset_link_protection() {
  const LinkProtection defaults;
  LinkProtection& p = link_protection();
  p.symlinks.store(defaults.symlinks.load());
  p.hardlinks.store(defaults.hardlinks.load());
  p.fifos.store(defaults.fifos.load());
  p.regular.store(defaults.regular.load());
}

namespace {
constexpr u32 kSticky = 01000, kOtherWrite = 0002, kGroupWrite = 0020;
}  // namespace

Result<void> may_follow_link(const Credentials& c, const Inode& dir, const Inode& link) {
  if (link_protection().symlinks.load(std::memory_order_relaxed) == 0) return {};
  if (link.uid == c.fsuid) return {};
  if ((dir.mode() & (kSticky | kOtherWrite)) != (kSticky | kOtherWrite)) return {};
  if (dir.uid == link.uid) return {};
  return Errno::eacces;
}

Result<void> may_open_existing_in_sticky(const Credentials& c, const Inode& dir, const Inode& file) {
  const u32 dir_mode = dir.mode();
  if ((dir_mode & kSticky) == 0) return {};
  const int regular = link_protection().regular.load(std::memory_order_relaxed);
  const int fifos = link_protection().fifos.load(std::memory_order_relaxed);
  const bool fifo = file.type() == abi::kSIfifo;
  if (file.is_regular() && regular == 0) return {};
  if (fifo && fifos == 0) return {};
  if (file.uid == dir.uid || file.uid == c.fsuid) return {};
  // Any other kind of file (a device node, a socket) is refused in a world-writable one too,
  // whatever the settings, as Linux's may_create_in_sticky does.
  if ((dir_mode & kOtherWrite) != 0) return Errno::eacces;
  if ((dir_mode & kGroupWrite) != 0 && ((fifo && fifos >= 2) || (file.is_regular() && regular >= 2))) {
    return Errno::eacces;
  }
  return {};
}

}  // namespace services
