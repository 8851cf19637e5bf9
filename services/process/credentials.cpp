// User and group ids, supplementary groups and capabilities: the set*id family, getgroups/
// setgroups, capget/capset and the capability prctls, with Linux's rules (kernel/sys.c,
// kernel/capability.c, security/commoncap.c).
#include "process/credentials.h"

#include <array>

#include <ostd/mm/io.h>

#include "process/internal.h"
#include "process/process.h"
#include "syscall/table.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u32;
using ostd::u64;

void fix_caps_after_setuid(const Credentials& old, Credentials& c) {
  bool was_root = old.uid == 0 || old.euid == 0 || old.suid == 0;
  bool is_root = c.uid == 0 || c.euid == 0 || c.suid == 0;
  if (was_root && !is_root) {
    if (!c.keep_caps) c.cap_permitted = 0;
    c.cap_effective = 0;
    c.cap_ambient = 0;
  }
  if (old.euid == 0 && c.euid != 0) c.cap_effective = 0;
  if (old.euid != 0 && c.euid == 0) c.cap_effective = c.cap_permitted;
  if (old.fsuid == 0 && c.fsuid != 0) c.cap_effective &= ~cap::kFsMask;
  if (old.fsuid != 0 && c.fsuid == 0) c.cap_effective |= c.cap_permitted & cap::kFsMask;
}

bool apply_exec_credentials(Credentials& c, u32 file_mode, u32 file_uid, u32 file_gid, bool nosuid) {
  constexpr u32 kSetuid = 04000, kSetgid = 02000, kGroupExec = 0010;
  const Credentials old = c;
  if (!nosuid && (file_mode & kSetuid) != 0) c.euid = file_uid;
  if (!nosuid && (file_mode & (kSetgid | kGroupExec)) == (kSetgid | kGroupExec)) c.egid = file_gid;
  // cap_bprm_creds_from_file: a root (real or effective) program gets the bounding set, an
  // effective root one in its effective set too; others keep only the ambient set.
  if (c.euid == 0 || c.uid == 0) {
    c.cap_permitted = (c.cap_inheritable | c.cap_bounding) & cap::kAll;
  } else {
    c.cap_permitted = c.cap_ambient;
  }
  c.cap_effective = c.euid == 0 ? c.cap_permitted : c.cap_ambient;
  c.suid = c.fsuid = c.euid;
  c.sgid = c.fsgid = c.egid;
  c.keep_caps = false;
  return c.euid != c.uid || c.egid != c.gid || (c.cap_permitted & ~old.cap_permitted) != 0;
}

namespace {

constexpr u32 kNoId = 0xffffffffu;
constexpr int kNgroupsMax = 65536;

Credentials& creds(Thread& t) { return t.process().creds; }

Result<long> sys_getuid(Thread& t, const SyscallArgs&) { return creds(t).uid; }
Result<long> sys_geteuid(Thread& t, const SyscallArgs&) { return creds(t).euid; }
Result<long> sys_getgid(Thread& t, const SyscallArgs&) { return creds(t).gid; }
Result<long> sys_getegid(Thread& t, const SyscallArgs&) { return creds(t).egid; }

// setuid(2): with CAP_SETUID all four ids; otherwise only the effective (and fs) id, to the real
// or the saved one.
Result<long> sys_setuid(Thread& t, const SyscallArgs& a) {
  u32 uid = a.as_u32(0);
  if (uid == kNoId) return Errno::einval;
  Credentials& c = creds(t);
  const Credentials old = c;
  if (c.capable(cap::kSetuid)) {
    c.uid = c.euid = c.suid = c.fsuid = uid;
  } else if (uid == c.uid || uid == c.suid) {
    c.euid = c.fsuid = uid;
  } else {
    return Errno::eperm;
  }
  fix_caps_after_setuid(old, c);
  return 0;
}

Result<long> sys_setgid(Thread& t, const SyscallArgs& a) {
  u32 gid = a.as_u32(0);
  if (gid == kNoId) return Errno::einval;
  Credentials& c = creds(t);
  if (c.capable(cap::kSetgid)) {
    c.gid = c.egid = c.sgid = c.fsgid = gid;
  } else if (gid == c.gid || gid == c.sgid) {
    c.egid = c.fsgid = gid;
  } else {
    return Errno::eperm;
  }
  return 0;
}

// setreuid(2): the real id may become the real or effective one, the effective id the real,
// effective or saved one; the saved id follows the new effective one when the real id was set
// or the effective one became other than the old real id.
Result<long> sys_setreuid(Thread& t, const SyscallArgs& a) {
  u32 r = a.as_u32(0), e = a.as_u32(1);
  Credentials& c = creds(t);
  const Credentials old = c;
  bool priv = c.capable(cap::kSetuid);
  if (r != kNoId && !priv && r != c.uid && r != c.euid) return Errno::eperm;
  if (e != kNoId && !priv && e != c.uid && e != c.euid && e != c.suid) return Errno::eperm;
  if (r != kNoId) c.uid = r;
  if (e != kNoId) c.euid = e;
  if (r != kNoId || (e != kNoId && e != old.uid)) c.suid = c.euid;
  c.fsuid = c.euid;
  fix_caps_after_setuid(old, c);
  return 0;
}

Result<long> sys_setregid(Thread& t, const SyscallArgs& a) {
  u32 r = a.as_u32(0), e = a.as_u32(1);
  Credentials& c = creds(t);
  const Credentials old = c;
  bool priv = c.capable(cap::kSetgid);
  if (r != kNoId && !priv && r != c.gid && r != c.egid) return Errno::eperm;
  if (e != kNoId && !priv && e != c.gid && e != c.egid && e != c.sgid) return Errno::eperm;
  if (r != kNoId) c.gid = r;
  if (e != kNoId) c.egid = e;
  if (r != kNoId || (e != kNoId && e != old.gid)) c.sgid = c.egid;
  c.fsgid = c.egid;
  return 0;
}

// setresuid(2): without CAP_SETUID each new id must be one of the current three.
Result<long> sys_setresuid(Thread& t, const SyscallArgs& a) {
  u32 r = a.as_u32(0), e = a.as_u32(1), s = a.as_u32(2);
  Credentials& c = creds(t);
  const Credentials old = c;
  auto allowed = [&](u32 id) { return id == kNoId || id == c.uid || id == c.euid || id == c.suid; };
  if (!c.capable(cap::kSetuid) && (!allowed(r) || !allowed(e) || !allowed(s))) return Errno::eperm;
  if (r != kNoId) c.uid = r;
  if (e != kNoId) c.euid = e;
  if (s != kNoId) c.suid = s;
  c.fsuid = c.euid;
  fix_caps_after_setuid(old, c);
  return 0;
}

Result<long> sys_setresgid(Thread& t, const SyscallArgs& a) {
  u32 r = a.as_u32(0), e = a.as_u32(1), s = a.as_u32(2);
  Credentials& c = creds(t);
  auto allowed = [&](u32 id) { return id == kNoId || id == c.gid || id == c.egid || id == c.sgid; };
  if (!c.capable(cap::kSetgid) && (!allowed(r) || !allowed(e) || !allowed(s))) return Errno::eperm;
  if (r != kNoId) c.gid = r;
  if (e != kNoId) c.egid = e;
  if (s != kNoId) c.sgid = s;
  c.fsgid = c.egid;
  return 0;
}

Result<long> write_three(Thread& t, const SyscallArgs& a, u32 x, u32 y, u32 z) {
  TRY(ostd::UserPtr<u32>(a[0]).write(t.vm(), x));
  TRY(ostd::UserPtr<u32>(a[1]).write(t.vm(), y));
  TRY(ostd::UserPtr<u32>(a[2]).write(t.vm(), z));
  return 0;
}
Result<long> sys_getresuid(Thread& t, const SyscallArgs& a) {
  return write_three(t, a, creds(t).uid, creds(t).euid, creds(t).suid);
}
Result<long> sys_getresgid(Thread& t, const SyscallArgs& a) {
  return write_three(t, a, creds(t).gid, creds(t).egid, creds(t).sgid);
}

// setfsuid(2)/setfsgid(2): always return the old id; change it when allowed.
Result<long> sys_setfsuid(Thread& t, const SyscallArgs& a) {
  u32 id = a.as_u32(0);
  Credentials& c = creds(t);
  const Credentials old = c;
  if (id != kNoId && (c.capable(cap::kSetuid) || id == c.uid || id == c.euid || id == c.suid || id == c.fsuid)) {
    c.fsuid = id;
    fix_caps_after_setuid(old, c);
  }
  return old.fsuid;
}
Result<long> sys_setfsgid(Thread& t, const SyscallArgs& a) {
  u32 id = a.as_u32(0);
  Credentials& c = creds(t);
  u32 old = c.fsgid;
  if (id != kNoId && (c.capable(cap::kSetgid) || id == c.gid || id == c.egid || id == c.sgid || id == c.fsgid)) {
    c.fsgid = id;
  }
  return old;
}

Result<long> sys_getgroups(Thread& t, const SyscallArgs& a) {
  int size = a.as_int(0);
  const auto& g = creds(t).groups;
  if (size < 0) return Errno::einval;
  if (size == 0) return static_cast<long>(g.size());
  if (static_cast<std::size_t>(size) < g.size()) return Errno::einval;
  for (std::size_t i = 0; i < g.size(); ++i) {
    auto slot = TRY(ostd::UserPtr<u32>(a[1]).element(i));
    TRY(slot.write(t.vm(), g[i]));
  }
  return static_cast<long>(g.size());
}

Result<long> sys_setgroups(Thread& t, const SyscallArgs& a) {
  int size = a.as_int(0);
  if (size < 0 || size > kNgroupsMax) return Errno::einval;
  if (!creds(t).capable(cap::kSetgid)) return Errno::eperm;
  std::vector<u32> groups;
  for (int i = 0; i < size; ++i) {
    auto slot = TRY(ostd::UserPtr<u32>(a[1]).element(static_cast<std::size_t>(i)));
    groups.push_back(TRY(slot.read(t.vm())));
  }
  std::sort(groups.begin(), groups.end());
  groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
  creds(t).groups = std::move(groups);
  return 0;
}

// capget/capset with _LINUX_CAPABILITY_VERSION_1 (32 bits) and _2/_3 (64 bits in two words).
constexpr u32 kCapV1 = 0x19980330, kCapV2 = 0x20071026, kCapV3 = 0x20080522;
struct CapHeader {
  u32 version;
  ostd::i32 pid;
};
struct CapData {
  u32 effective, permitted, inheritable;
};

Result<int> cap_words(Thread& t, ostd::Vaddr header) {
  CapHeader h = TRY(ostd::UserPtr<CapHeader>(header).read(t.vm()));
  if (h.version == kCapV1) return 1;
  if (h.version == kCapV2 || h.version == kCapV3) return 2;
  // An unknown version: Linux answers with the one it prefers.
  h.version = kCapV3;
  TRY(ostd::UserPtr<CapHeader>(header).write(t.vm(), h));
  return Errno::einval;
}

Result<long> sys_capget(Thread& t, const SyscallArgs& a) {
  int words = TRY(cap_words(t, a[0]));
  ostd::i32 pid = TRY(ostd::UserPtr<CapHeader>(a[0]).read(t.vm())).pid;
  if (pid < 0) return Errno::einval;
  if (a[1] == 0) return 0;  // a probe of the version
  const Credentials* c = &creds(t);
  std::shared_ptr<Process> other;
  if (pid != 0 && pid != t.process().pid()) {
    other = pid_table().process(pid);
    if (!other || other->state == Process::State::Reaped) return Errno::esrch;
    c = &other->creds;
  }
  for (int i = 0; i < words; ++i) {
    CapData d{static_cast<u32>(c->cap_effective >> (32 * i)), static_cast<u32>(c->cap_permitted >> (32 * i)),
              static_cast<u32>(c->cap_inheritable >> (32 * i))};
    auto slot = TRY(ostd::UserPtr<CapData>(a[1]).element(static_cast<std::size_t>(i)));
    TRY(slot.write(t.vm(), d));
  }
  return 0;
}

Result<long> sys_capset(Thread& t, const SyscallArgs& a) {
  int words = TRY(cap_words(t, a[0]));
  ostd::i32 pid = TRY(ostd::UserPtr<CapHeader>(a[0]).read(t.vm())).pid;
  if (pid != 0 && pid != t.process().pid()) return Errno::eperm;
  u64 eff = 0, perm = 0, inh = 0;
  for (int i = 0; i < words; ++i) {
    auto slot = TRY(ostd::UserPtr<CapData>(a[1]).element(static_cast<std::size_t>(i)));
    CapData d = TRY(slot.read(t.vm()));
    eff |= u64{d.effective} << (32 * i);
    perm |= u64{d.permitted} << (32 * i);
    inh |= u64{d.inheritable} << (32 * i);
  }
  Credentials& c = creds(t);
  // cap_capset: nothing beyond what the process has; inheritable within permitted (or anything
  // with CAP_SETPCAP) and the bounding set.
  if ((perm & ~c.cap_permitted) != 0 || (eff & ~perm) != 0) return Errno::eperm;
  u64 inh_limit = c.capable(cap::kSetpcap) ? cap::kAll : (c.cap_inheritable | c.cap_permitted);
  if ((inh & ~inh_limit) != 0 || (inh & ~(c.cap_inheritable | c.cap_bounding)) != 0) return Errno::eperm;
  c.cap_effective = eff & cap::kAll;
  c.cap_permitted = perm & cap::kAll;
  c.cap_inheritable = inh & cap::kAll;
  c.cap_ambient &= c.cap_permitted & c.cap_inheritable;
  return 0;
}

}  // namespace

Result<long> credential_prctl(Thread& t, int option, u64 arg2, u64 arg3) {
  constexpr int kGetKeepcaps = 7, kSetKeepcaps = 8, kCapbsetRead = 23, kCapbsetDrop = 24, kGetSecurebits = 27,
                kSetSecurebits = 28, kCapAmbient = 47;
  constexpr u64 kAmbientIsSet = 1, kAmbientRaise = 2, kAmbientLower = 3, kAmbientClearAll = 4;
  Credentials& c = creds(t);
  switch (option) {
    case kGetKeepcaps: return c.keep_caps ? 1 : 0;
    case kSetKeepcaps:
      if (arg2 > 1) return Errno::einval;
      c.keep_caps = arg2 == 1;
      return 0;
    case kCapbsetRead:
      if (arg2 > cap::kLast) return Errno::einval;
      return (c.cap_bounding & cap::bit(static_cast<int>(arg2))) != 0 ? 1 : 0;
    case kCapbsetDrop:
      if (!c.capable(cap::kSetpcap)) return Errno::eperm;
      if (arg2 > cap::kLast) return Errno::einval;
      c.cap_bounding &= ~cap::bit(static_cast<int>(arg2));
      return 0;
    case kGetSecurebits: return 0;
    case kSetSecurebits: return c.capable(cap::kSetpcap) ? Errno::einval : Errno::eperm;
    case kCapAmbient:
      if (arg2 == kAmbientClearAll) {
        c.cap_ambient = 0;
        return 0;
      }
      if (arg3 > cap::kLast) return Errno::einval;
      switch (arg2) {
        case kAmbientIsSet: return (c.cap_ambient & cap::bit(static_cast<int>(arg3))) != 0 ? 1 : 0;
        case kAmbientRaise: {
          u64 b = cap::bit(static_cast<int>(arg3));
          if ((c.cap_permitted & b) == 0 || (c.cap_inheritable & b) == 0) return Errno::eperm;
          c.cap_ambient |= b;
          return 0;
        }
        case kAmbientLower: c.cap_ambient &= ~cap::bit(static_cast<int>(arg3)); return 0;
        default: return Errno::einval;
      }
    default: return Errno::einval;
  }
}

void register_credential_syscalls(SyscallTable& t) {
  using S = x86_64::Sysno;
  t.set(S::getuid, &sys_getuid);
  t.set(S::geteuid, &sys_geteuid);
  t.set(S::getgid, &sys_getgid);
  t.set(S::getegid, &sys_getegid);
  t.set(S::setuid, &sys_setuid);
  t.set(S::setgid, &sys_setgid);
  t.set(S::setreuid, &sys_setreuid);
  t.set(S::setregid, &sys_setregid);
  t.set(S::setresuid, &sys_setresuid);
  t.set(S::setresgid, &sys_setresgid);
  t.set(S::getresuid, &sys_getresuid);
  t.set(S::getresgid, &sys_getresgid);
  t.set(S::setfsuid, &sys_setfsuid);
  t.set(S::setfsgid, &sys_setfsgid);
  t.set(S::getgroups, &sys_getgroups);
  t.set(S::setgroups, &sys_setgroups);
  t.set(S::capget, &sys_capget);
  t.set(S::capset, &sys_capset);
}

}  // namespace services
