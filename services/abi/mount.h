// services/abi/mount.h — mount(2)'s MS_* flags (<linux/mount.h>), the same on every Linux
// architecture: sys_mount reads the calls among them, mnt::from_ms_flags the mount's own flags.
#pragma once

#include <ostd/types.h>

namespace services::abi::ms {

// clang-format off
inline constexpr ostd::u64 kRdonly = 1, kNosuid = 2, kNodev = 4, kNoexec = 8, kRemount = 32,
                           kNosymfollow = 256, kNoatime = 1024, kNodiratime = 2048, kBind = 4096,
                           kMove = 8192, kUnbindable = 1 << 17, kPrivate = 1 << 18, kSlave = 1 << 19,
                           kShared = 1 << 20, kRelatime = 1 << 21, kStrictatime = 1 << 24;
// clang-format on
/// Old programs put a magic number in the top half (MS_MGC_VAL under MS_MGC_MSK); it means nothing.
inline constexpr ostd::u64 kMgcMask = 0xffff0000, kMgcVal = 0xc0ed0000;

}  // namespace services::abi::ms
