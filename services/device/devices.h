// services/device/devices.h — character devices by number, and the devfs that lists them.
#pragma once

#include <memory>

#include <ostd/error.h>
#include <ostd/types.h>

#include "fs/file.h"

namespace services {

class Dentry;

/// Linux's makedev for the 32-bit numbers we use.
constexpr ostd::u64 make_dev(ostd::u32 major, ostd::u32 minor) {
  return (ostd::u64{major} << 8) | (minor & 0xff) | (ostd::u64{minor & ~0xffu} << 12);
}

/// The major and minor numbers of a dev_t as st_dev/st_rdev carry it (Linux's new_encode_dev).
constexpr ostd::u32 dev_major(ostd::u64 dev) {
  return static_cast<ostd::u32>(((dev >> 8) & 0xfff) | ((dev >> 32) & ~ostd::u64{0xfff}));
}
constexpr ostd::u32 dev_minor(ostd::u64 dev) {
  return static_cast<ostd::u32>((dev & 0xff) | ((dev >> 12) & ~ostd::u64{0xff}));
}

/// Opens the device node `rdev` (ENXIO when no driver has that number).
ostd::Result<std::shared_ptr<File>> open_device(bool char_device, ostd::u64 rdev, const std::shared_ptr<Dentry>& dentry,
                                                ostd::u32 flags);

}  // namespace services
