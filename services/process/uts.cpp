// Host and domain names, namespaces and the machine's power: sethostname, setdomainname,
// unshare and reboot.
//
// unshare takes apart what clone shares (CLONE_FILES, CLONE_FS; CLONE_SYSVSEM has nothing to
// part) and makes new UTS and mount namespaces; the other namespaces answer EINVAL, as a Linux
// built without them does. reboot treats the kernel as the machine: power-off, halt and restart end
// every process, init last with status 0, and so the kernel (umk exits, QEMU powers off).
#include <string>
#include <vector>

#include <ostd/log.h>
#include <ostd/mm/io.h>

#include "fs/file.h"
#include "fs/vfs.h"
#include "process/internal.h"
#include "process/process.h"
#include "syscall/table.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u32;
using ostd::u64;

namespace {

constexpr ostd::Logger kLog{"reboot"};
constexpr u64 kNewUtsLen = 64;

Result<std::string> read_name(Thread& t, ostd::Vaddr at, long len) {
  if (!t.process().creds.capable(cap::kSysAdmin)) return Errno::eperm;
  if (len < 0 || static_cast<u64>(len) > kNewUtsLen) return Errno::einval;
  std::vector<ostd::u8> raw(static_cast<ostd::usize>(len));
  TRY(t.vm().read_bytes(at, raw));
  return std::string(raw.begin(), raw.end());
}

// sethostname (`host`) and setdomainname.
Result<long> set_name(Thread& t, const SyscallArgs& a, bool host) {
  std::string name = TRY(read_name(t, a[0], static_cast<long>(a[1])));
  UtsNamespace& uts = uts_of(t.process());
  ostd::MutexGuard g(uts.lock);
  (host ? uts.nodename : uts.domainname) = std::move(name);
  return 0;
}
Result<long> sys_sethostname(Thread& t, const SyscallArgs& a) { return set_name(t, a, true); }
Result<long> sys_setdomainname(Thread& t, const SyscallArgs& a) { return set_name(t, a, false); }

Result<long> sys_unshare(Thread& t, const SyscallArgs& a) {
  constexpr u64 kSighand = 0x800, kVm = 0x100, kFs = 0x200, kFiles = 0x400, kThread = 0x10000, kNewns = 0x20000,
                kSysvsem = 0x40000, kNewcgroup = 0x02000000, kNewuts = 0x04000000, kNewipc = 0x08000000,
                kNewuser = 0x10000000, kNewpid = 0x20000000, kNewnet = 0x40000000, kNewtime = 0x80;
  constexpr u64 kNamespaces = kNewns | kNewcgroup | kNewuts | kNewipc | kNewpid | kNewnet | kNewtime;
  u64 flags = a[0] & 0xffffffff;
  if ((flags & ~(kThread | kFs | kNewns | kSighand | kVm | kFiles | kSysvsem | kNewuts | kNewipc | kNewnet | kNewuser |
                 kNewpid | kNewcgroup | kNewtime)) != 0) {
    return Errno::einval;
  }
  if ((flags & kNewuser) != 0) flags |= kThread | kFs;
  if ((flags & kVm) != 0) flags |= kSighand;
  if ((flags & kSighand) != 0) flags |= kThread;
  if ((flags & kNewns) != 0) flags |= kFs;
  Process& p = t.process();
  if ((flags & (kThread | kSighand | kVm)) != 0) {
    // Only a process of one thread, whose handlers and memory nobody else shares, has nothing
    // of these to part with.
    if (threads_of(p).size() > 1) return Errno::einval;
    if ((flags & (kSighand | kVm)) != 0 && p.handlers.use_count() > 1) return Errno::einval;
    if ((flags & kVm) != 0 && p.mm.use_count() > 1) return Errno::einval;
  }
  if ((flags & (kNamespaces | kNewuser)) != 0) {
    if (!p.creds.capable(cap::kSysAdmin)) return Errno::eperm;
    // Not built in: IPC, network, pid, cgroup, time and user namespaces.
    if ((flags & (kNamespaces | kNewuser) & ~(kNewuts | kNewns)) != 0) return Errno::einval;
  }
  if ((flags & kFs) != 0 && p.fs.use_count() > 1) p.fs = p.fs->clone();
  if ((flags & kNewns) != 0) p.fs->mnt_ns = copy_mount_namespace(*p.fs);
  if ((flags & kFiles) != 0 && p.fds.use_count() > 1) p.fds = p.fds->clone();
  if ((flags & kNewuts) != 0) p.uts = copy_uts_namespace(p);
  return 0;
}

Result<long> sys_reboot(Thread& t, const SyscallArgs& a) {
  constexpr u32 kMagic1 = 0xfee1dead, kMagic2 = 672274793, kMagic2a = 85072278, kMagic2b = 369367448,
                kMagic2c = 537993216;
  constexpr u32 kRestart = 0x01234567, kHalt = 0xCDEF0123, kCadOn = 0x89ABCDEF, kCadOff = 0, kPowerOff = 0x4321FEDC,
                kRestart2 = 0xA1B2C3D4, kSwSuspend = 0xD000FCE2, kKexec = 0x45584543;
  if (!t.process().creds.capable(cap::kSysBoot)) return Errno::eperm;
  const u32 m1 = a.as_u32(0), m2 = a.as_u32(1), cmd = a.as_u32(2);
  if (m1 != kMagic1 || (m2 != kMagic2 && m2 != kMagic2a && m2 != kMagic2b && m2 != kMagic2c)) return Errno::einval;
  switch (cmd) {
    // clang-format off
    case kCadOn: case kCadOff: return 0;  // what Ctrl-Alt-Del does: there is no such key here
    case kSwSuspend: case kKexec: return Errno::enosys;  // no hibernation, no kexec
    case kRestart: case kRestart2: case kHalt: case kPowerOff: break;
    // clang-format on
    default: return Errno::einval;
  }
  kLog.info("{}", cmd == kPowerOff ? "Power down" : cmd == kHalt ? "System halted" : "Restarting system");
  // Every process ends; init (whose end is the kernel's) with status 0.
  for (auto& p : pid_table().all_processes()) {
    if (p->state == Process::State::Zombie || p->state == Process::State::Reaped) continue;
    group_exit(*p, p->pid() == 1 ? 0 : kSigKill);
  }
  return 0;
}

}  // namespace

UtsNamespace& first_uts() {
  static UtsNamespace first;
  return first;
}

UtsNamespace& uts_of(const Process& p) { return p.uts ? *p.uts : first_uts(); }

std::shared_ptr<UtsNamespace> copy_uts_namespace(const Process& p) {
  UtsNamespace& old = uts_of(p);
  auto fresh = std::make_shared<UtsNamespace>();
  fresh->inum = next_ns_inum();
  ostd::MutexGuard g(old.lock);
  fresh->nodename = old.nodename;
  fresh->domainname = old.domainname;
  return fresh;
}

void register_uts_syscalls(SyscallTable& t) {
  using S = x86_64::Sysno;
  t.set(S::sethostname, &sys_sethostname);
  t.set(S::setdomainname, &sys_setdomainname);
  t.set(S::unshare, &sys_unshare);
  t.set(S::reboot, &sys_reboot);
}

}  // namespace services
