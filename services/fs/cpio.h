// services/fs/cpio.h — reading "newc" cpio archives (the initramfs format).
#pragma once

#include <span>
#include <string>
#include <vector>

#include <ostd/error.h>
#include <ostd/types.h>

namespace services::cpio {

struct Entry {
  std::string path;  // normalized: no leading "/" or "./"; "" is the root
  ostd::u32 mode;    // file type and permission bits (S_IFMT | 07777)
  std::span<const ostd::u8> data;
  ostd::u32 uid = 0, gid = 0;
  ostd::u32 mtime = 0;
  ostd::u32 nlink = 1;
  ostd::u64 link_key = 0;  // (archive, dev, ino): entries with the same key are hard links
  ostd::u32 rdev_major = 0, rdev_minor = 0;
};

inline constexpr ostd::u32 kTypeMask = 0170000;
inline constexpr ostd::u32 kTypeRegular = 0100000;
inline constexpr ostd::u32 kTypeDirectory = 0040000;
inline constexpr ostd::u32 kTypeSymlink = 0120000;

/// Parses the whole archive. EINVAL for a malformed header, a size past the end, or a missing
/// trailer. The entries borrow from `archive`.
ostd::Result<std::vector<Entry>> parse(std::span<const ostd::u8> archive);

/// Finds `path` (absolute or relative to the root), following symlinks (at most 40, ELOOP
/// beyond). ENOENT when absent.
ostd::Result<const Entry*> lookup(const std::vector<Entry>& entries, std::string_view path);

}  // namespace services::cpio
