// services/abi/x86_64/stat.h — struct stat as the x86-64 kernel fills it (newfstatat/fstat).
#pragma once

#include <array>

#include <ostd/pod.h>
#include <ostd/types.h>

#include "abi/x86_64/time.h"

namespace services::abi {

struct Stat {
  ostd::u64 st_dev;
  ostd::u64 st_ino;
  ostd::u64 st_nlink;
  ostd::u32 st_mode;
  ostd::u32 st_uid;
  ostd::u32 st_gid;
  ostd::u32 pad0;
  ostd::u64 st_rdev;
  ostd::i64 st_size;
  ostd::i64 st_blksize;
  ostd::i64 st_blocks;
  Timespec st_atim;
  Timespec st_mtim;
  Timespec st_ctim;
  std::array<ostd::i64, 3> reserved;
  OSTD_POD(Stat, st_dev, st_ino, st_nlink, st_mode, st_uid, st_gid, pad0, st_rdev, st_size, st_blksize, st_blocks,
           st_atim, st_mtim, st_ctim, reserved);
};
static_assert(sizeof(Stat) == 144);

// File type bits of st_mode.
inline constexpr ostd::u32 kSIfmt = 0170000;
inline constexpr ostd::u32 kSIfsock = 0140000;
inline constexpr ostd::u32 kSIflnk = 0120000;
inline constexpr ostd::u32 kSIfreg = 0100000;
inline constexpr ostd::u32 kSIfblk = 0060000;
inline constexpr ostd::u32 kSIfdir = 0040000;
inline constexpr ostd::u32 kSIfchr = 0020000;
inline constexpr ostd::u32 kSIfifo = 0010000;

}  // namespace services::abi
