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

// The user ids and the group ids follow the same rules (kernel/sys.c has them twice): an IdKind
// names one family's four ids and the capability that overrides them. Changing uids also fixes
// up the capabilities (cap_task_fix_setuid); gids do not touch them.
struct IdKind {
  u32 Credentials::*real;
  u32 Credentials::*effective;
  u32 Credentials::*saved;
  u32 Credentials::*fs;
  int cap;
  bool fixes_caps;
};
constexpr IdKind kUids{&Credentials::uid,   &Credentials::euid, &Credentials::suid,
                       &Credentials::fsuid, cap::kSetuid,       true};
constexpr IdKind kGids{&Credentials::gid,   &Credentials::egid, &Credentials::sgid,
                       &Credentials::fsgid, cap::kSetgid,       false};

// What every id change does after it: the capability rules of setuid, and (as Linux's
// commit_creds) a process whose effective or file-system ids changed is no longer dumpable
// (PR_GET_DUMPABLE 0: no core, ptrace and /proc/PID only with CAP_SYS_PTRACE).
void after_change(Thread& t, const IdKind& k, const Credentials& old, Credentials& c) {
  if (k.fixes_caps) fix_caps_after_setuid(old, c);
  if (old.euid != c.euid || old.egid != c.egid || old.fsuid != c.fsuid || old.fsgid != c.fsgid) {
    t.process().dumpable = false;
  }
}

// setuid(2)/setgid(2): with the capability all four ids; otherwise only the effective (and fs)
// id, to the real or the saved one.
Result<long> set_id(Thread& t, const IdKind& k, u32 id) {
  if (id == kNoId) return Errno::einval;
  Credentials& c = creds(t);
  const Credentials old = c;
  if (c.capable(k.cap)) {
    c.*k.real = c.*k.effective = c.*k.saved = c.*k.fs = id;
  } else if (id == c.*k.real || id == c.*k.saved) {
    c.*k.effective = c.*k.fs = id;
  } else {
    return Errno::eperm;
  }
  after_change(t, k, old, c);
  return 0;
}

// setreuid(2)/setregid(2): the real id may become the real or effective one, the effective id
// the real, effective or saved one; the saved id follows the new effective one when the real id
// was set or the effective one became other than the old real id.
Result<long> set_re_id(Thread& t, const IdKind& k, u32 r, u32 e) {
  Credentials& c = creds(t);
  const Credentials old = c;
  bool priv = c.capable(k.cap);
  if (r != kNoId && !priv && r != c.*k.real && r != c.*k.effective) return Errno::eperm;
  if (e != kNoId && !priv && e != c.*k.real && e != c.*k.effective && e != c.*k.saved) return Errno::eperm;
  if (r != kNoId) c.*k.real = r;
  if (e != kNoId) c.*k.effective = e;
  if (r != kNoId || (e != kNoId && e != old.*k.real)) c.*k.saved = c.*k.effective;
  c.*k.fs = c.*k.effective;
  after_change(t, k, old, c);
  return 0;
}

// setresuid(2)/setresgid(2): without the capability each new id must be one of the current three.
Result<long> set_res_id(Thread& t, const IdKind& k, u32 r, u32 e, u32 s) {
  Credentials& c = creds(t);
  const Credentials old = c;
  auto allowed = [&](u32 id) { return id == kNoId || id == c.*k.real || id == c.*k.effective || id == c.*k.saved; };
  if (!c.capable(k.cap) && (!allowed(r) || !allowed(e) || !allowed(s))) return Errno::eperm;
  if (r != kNoId) c.*k.real = r;
  if (e != kNoId) c.*k.effective = e;
  if (s != kNoId) c.*k.saved = s;
  c.*k.fs = c.*k.effective;
  after_change(t, k, old, c);
  return 0;
}

Result<long> get_res_id(Thread& t, const IdKind& k, const SyscallArgs& a) {
  const Credentials& c = creds(t);
  TRY(ostd::UserPtr<u32>(a[0]).write(t.vm(), c.*k.real));
  TRY(ostd::UserPtr<u32>(a[1]).write(t.vm(), c.*k.effective));
  TRY(ostd::UserPtr<u32>(a[2]).write(t.vm(), c.*k.saved));
  return 0;
}

// setfsuid(2)/setfsgid(2): always return the old id; change it when allowed.
Result<long> set_fs_id(Thread& t, const IdKind& k, u32 id) {
  Credentials& c = creds(t);
  const Credentials old = c;
  if (id != kNoId &&
      (c.capable(k.cap) || id == c.*k.real || id == c.*k.effective || id == c.*k.saved || id == c.*k.fs)) {
    c.*k.fs = id;
    after_change(t, k, old, c);
  }
  return old.*k.fs;
}

Result<long> sys_setuid(Thread& t, const SyscallArgs& a) { return set_id(t, kUids, a.as_u32(0)); }
Result<long> sys_setgid(Thread& t, const SyscallArgs& a) { return set_id(t, kGids, a.as_u32(0)); }
Result<long> sys_setreuid(Thread& t, const SyscallArgs& a) { return set_re_id(t, kUids, a.as_u32(0), a.as_u32(1)); }
Result<long> sys_setregid(Thread& t, const SyscallArgs& a) { return set_re_id(t, kGids, a.as_u32(0), a.as_u32(1)); }
Result<long> sys_setresuid(Thread& t, const SyscallArgs& a) {
  return set_res_id(t, kUids, a.as_u32(0), a.as_u32(1), a.as_u32(2));
}
Result<long> sys_setresgid(Thread& t, const SyscallArgs& a) {
  return set_res_id(t, kGids, a.as_u32(0), a.as_u32(1), a.as_u32(2));
}
Result<long> sys_getresuid(Thread& t, const SyscallArgs& a) { return get_res_id(t, kUids, a); }
Result<long> sys_getresgid(Thread& t, const SyscallArgs& a) { return get_res_id(t, kGids, a); }
Result<long> sys_setfsuid(Thread& t, const SyscallArgs& a) { return set_fs_id(t, kUids, a.as_u32(0)); }
Result<long> sys_setfsgid(Thread& t, const SyscallArgs& a) { return set_fs_id(t, kGids, a.as_u32(0)); }

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
  OSTD_POD(CapHeader, version, pid);
};
struct CapData {
  u32 effective, permitted, inheritable;
  OSTD_POD(CapData, effective, permitted, inheritable);
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
