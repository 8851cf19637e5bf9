// services/process/credentials.h — who a process acts as: user and group ids, supplementary
// groups and capabilities, with Linux's rules for changing them (kernel/sys.c, commoncap.c).
#pragma once

#include <algorithm>
#include <vector>

#include <ostd/types.h>

namespace services {

/// Capability numbers (linux/capability.h).
namespace cap {
inline constexpr int kChown = 0, kDacOverride = 1, kDacReadSearch = 2, kFowner = 3, kFsetid = 4, kKill = 5, kSetgid = 6,
                     kSetuid = 7, kSetpcap = 8, kLinuxImmutable = 9, kNetBindService = 10, kNetAdmin = 12, kNetRaw = 13,
                     kIpcLock = 14, kIpcOwner = 15, kSysModule = 16, kSysChroot = 18, kSysPtrace = 19, kSysAdmin = 21,
                     kSysBoot = 22, kSysNice = 23, kSysResource = 24, kSysTime = 25, kMknod = 27, kLease = 28,
                     kAuditWrite = 29, kSetfcap = 31, kMacOverride = 32, kSyslog = 34, kWakeAlarm = 35, kLast = 40;
inline constexpr ostd::u64 kAll = (ostd::u64{1} << (kLast + 1)) - 1;
inline constexpr ostd::u64 bit(int c) { return ostd::u64{1} << c; }
/// The capabilities that follow the file-system uid (CAP_FS_MASK).
inline constexpr ostd::u64 kFsMask = bit(kChown) | bit(kDacOverride) | bit(kDacReadSearch) | bit(kFowner) |
                                     bit(kFsetid) | bit(kLinuxImmutable) | bit(kMknod) | bit(kMacOverride);
}  // namespace cap

struct Credentials {
  ostd::u32 uid = 0, euid = 0, suid = 0, fsuid = 0;
  ostd::u32 gid = 0, egid = 0, sgid = 0, fsgid = 0;
  std::vector<ostd::u32> groups;  // supplementary groups, sorted, no duplicates
  ostd::u64 cap_inheritable = 0, cap_permitted = cap::kAll, cap_effective = cap::kAll;
  ostd::u64 cap_bounding = cap::kAll, cap_ambient = 0;
  bool keep_caps = false;  // prctl(PR_SET_KEEPCAPS): permitted survives leaving uid 0

  bool capable(int c) const { return (cap_effective & cap::bit(c)) != 0; }
  /// in_group_p: the file-system gid or a supplementary group.
  bool in_group(ostd::u32 g) const { return g == fsgid || std::binary_search(groups.begin(), groups.end(), g); }
};

/// After a change of uids from `old` (setuid, setresuid...), Linux's cap_task_fix_setuid: leaving
/// uid 0 in all of real, effective and saved drops the permitted and effective sets (permitted
/// stays with keep_caps); leaving euid 0 drops the effective set, getting it back raises the
/// effective set to the permitted one; the file-system capabilities follow fsuid 0.
void fix_caps_after_setuid(const Credentials& old, Credentials& c);

/// After an execve of a file with mode `file_mode` owned by `file_uid`/`file_gid`: set-user-ID
/// and set-group-ID (unless `nosuid`), saved ids, and the capabilities a program gets
/// (cap_bprm_creds_from_file: uid 0 gets the bounding set). Returns whether the exec is "secure"
/// (AT_SECURE: the ids or capabilities changed).
bool apply_exec_credentials(Credentials& c, ostd::u32 file_mode, ostd::u32 file_uid, ostd::u32 file_gid, bool nosuid);

}  // namespace services
