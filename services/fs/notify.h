// services/fs/notify.h — file-system events for inotify (Linux's fsnotify hooks).
//
// The system calls that change or use a file call these hooks; each costs one check of the
// inode's watcher count when nobody watches. Watches, instances and the event queues live in
// fs/inotify.cpp.
#pragma once

#include <string_view>

#include <ostd/types.h>

namespace services {

class Dentry;
class Inode;

// inotify event bits (<sys/inotify.h>).
inline constexpr ostd::u32 kInAccess = 0x1, kInModify = 0x2, kInAttrib = 0x4, kInCloseWrite = 0x8,
                           kInCloseNowrite = 0x10, kInOpen = 0x20, kInMovedFrom = 0x40, kInMovedTo = 0x80,
                           kInCreate = 0x100, kInDelete = 0x200, kInDeleteSelf = 0x400, kInMoveSelf = 0x800,
                           kInUnmount = 0x2000, kInQOverflow = 0x4000, kInIgnored = 0x8000, kInIsdir = 0x40000000;
inline constexpr ostd::u32 kInAllEvents = 0xfff;

/// An event on the object `d` names (access, modify, attrib, open, close): its own watches get
/// it without a name, a watch on its parent directory with the name (parent first, as Linux).
void fsnotify(const Dentry& d, ostd::u32 mask);
/// An event about the entry `name` of directory `dir` (create, delete, moved from/to); `child`
/// is the object the entry names (a directory adds IN_ISDIR).
void fsnotify_name(Inode& dir, std::string_view name, const Inode& child, ostd::u32 mask, ostd::u32 cookie = 0);
/// An event on `inode` alone (the link-count IN_ATTRIB, IN_MOVE_SELF).
void fsnotify_inode(Inode& inode, ostd::u32 mask);
/// `inode` lost its last name and no file has it open: IN_DELETE_SELF, then every watch on it
/// goes (IN_IGNORED).
void fsnotify_removed(Inode& inode);
/// `inode` lost its last name (unlink, rmdir, rename over it): fsnotify_removed now, or at the
/// last close of its open files.
void fsnotify_unlinked(Inode& inode);
/// A fresh cookie pairing IN_MOVED_FROM with IN_MOVED_TO.
ostd::u32 fsnotify_cookie();

}  // namespace services
