// services/device/loop.h — loop devices (/dev/loop-control, /dev/loopN): a regular file as a
// block device (device/loop.cpp).
#pragma once

#include <memory>

#include <ostd/error.h>
#include <ostd/types.h>

#include "fs/file.h"

namespace services {

class BlockDevice;
class Dentry;
class Inode;
class Thread;

inline constexpr ostd::u32 kLoopMajor = 7, kMiscMajor = 10, kLoopControlMinor = 237;

/// Makes the loop devices (at boot; every boot starts with all of them unbound).
void init_loop_devices();
/// The loop device with number `rdev`; nullptr when it is none.
std::shared_ptr<BlockDevice> loop_device(ostd::u64 rdev);
/// Creates /dev/loop-control and the /dev/loopN nodes in `dev_dir`, a devtmpfs root, which
/// gets the nodes of devices added later too (and loses those of devices removed).
void add_loop_nodes(const std::shared_ptr<Inode>& dev_dir);
ostd::Result<std::shared_ptr<File>> open_loop_control(const std::shared_ptr<Dentry>& d, ostd::u32 flags);
/// The LOOP_* ioctls on an open loop device (ENOTTY for other devices and requests).
ostd::Result<long> loop_ioctl(Thread& self, const std::shared_ptr<BlockDevice>& dev, ostd::u32 cmd, ostd::u64 arg);
/// A file system was mounted on `dev` or unmounted from it (an autoclear loop device unbinds).
void loop_mount_changed(const std::shared_ptr<BlockDevice>& dev, bool mounted);

}  // namespace services
