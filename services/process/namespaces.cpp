// Namespaces as files: /proc/PID/ns/* and setns(2).
//
// The kernel has one namespace of every kind but UTS and mount namespaces, of which unshare and
// clone make new ones. /proc/PID/ns/{cgroup,ipc,mnt,net,pid,pid_for_children,time,time_for_children,user,uts}
// are magic links that read "uts:[4026531838]" and open to an nsfs file (a regular file,
// mode 0444, its inode number the namespace's, as Linux's nsfs); the first namespaces carry
// Linux's fixed numbers (PROC_*_INIT_INO), new UTS namespaces numbers from 0xF0000000 on.
//
// setns(fd, nstype) takes such a file (nstype 0 or its CLONE_NEW* flag) or a pidfd (nstype:
// the kinds to join from that process). Joining: UTS switches the process's namespace; the
// mount namespace switches too and resets root and working directory to its root, as Linux's
// mntns_install does, and asks CAP_SYS_CHROOT too and an fs struct nobody else shares; the
// others are the caller's own already (so joining them changes nothing) and ask CAP_SYS_ADMIN;
// the own user namespace is refused (EINVAL) as Linux refuses re-entering it.
#include <array>
#include <string>
#include <vector>

#include <ostd/format.h>

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

constexpr u64 kNewns = 0x20000, kNewcgroup = 0x02000000, kNewuts = 0x04000000, kNewipc = 0x08000000,
              kNewuser = 0x10000000, kNewpid = 0x20000000, kNewnet = 0x40000000, kNewtime = 0x80;
constexpr u64 kAllKinds = kNewns | kNewcgroup | kNewuts | kNewipc | kNewuser | kNewpid | kNewnet | kNewtime;

struct NsKind {
  std::string_view name;  // the /proc/PID/ns entry
  std::string_view type;  // what its link reads before ":["
  u64 flag;
  u32 inum;  // of the kernel's namespace (Linux's PROC_*_INIT_INO, and the usual mnt/net)
};

constexpr std::array<NsKind, 10> kKinds{{
    {"cgroup", "cgroup", kNewcgroup, 0xEFFFFFFB},
    {"ipc", "ipc", kNewipc, 0xEFFFFFFF},
    {"mnt", "mnt", kNewns, 0xF0000001},
    {"net", "net", kNewnet, 0xF0000000},
    {"pid", "pid", kNewpid, 0xEFFFFFFC},
    {"pid_for_children", "pid", kNewpid, 0xEFFFFFFC},
    {"time", "time", kNewtime, 0xEFFFFFFA},
    {"time_for_children", "time", kNewtime, 0xEFFFFFFA},
    {"user", "user", kNewuser, 0xEFFFFFFD},
    {"uts", "uts", kNewuts, 0xEFFFFFFE},
}};

// The device number nsfs files report (one, like a file system's).
class NsFs final : public FileSystem {
 public:
  NsFs() : FileSystem("nsfs") {}
  std::shared_ptr<Inode> root() override { return nullptr; }
  u64 magic() const override { return 0x6e736673; }  // NSFS_MAGIC
};
u64 nsfs_dev() {
  static NsFs fs;
  return fs.dev();
}

// Which UTS and mount namespaces are meant (a UTS nullptr: the first; a mount nullptr: the
// kind's own, or none).
struct Namespaces {
  std::shared_ptr<UtsNamespace> uts;
  std::shared_ptr<MountNamespace> mnt;
};

// The namespaces of process p (for kinds other than UTS and mount: none to name).
Namespaces namespaces_of(const Process& p) { return Namespaces{p.uts, p.fs ? p.fs->mnt_ns : nullptr}; }

// The nsfs inode number of the namespace of `kind` that `ns` names.
u32 inum_of(const NsKind& kind, const Namespaces& ns) {
  if (kind.flag == kNewuts) return ns.uts ? ns.uts->inum : first_uts().inum;
  if (kind.flag == kNewns && ns.mnt) return mount_namespace_inum(*ns.mnt);
  return kind.inum;
}

// An open namespace file: which kind, and which namespace of it.
class NsFile final : public File {
 public:
  NsFile(const NsKind& kind, Namespaces ns) : kind_(kind), ns_(std::move(ns)) {}
  const NsKind& kind() const { return kind_; }
  const Namespaces& namespaces() const { return ns_; }
  u32 inum() const { return inum_of(kind_, ns_); }
  Result<abi::Stat> stat() override {
    abi::Stat st{};
    st.st_dev = nsfs_dev();
    st.st_ino = inum();
    st.st_mode = abi::kSIfreg | 0444;
    st.st_nlink = 1;
    st.st_blksize = 4096;
    return st;
  }

 private:
  const NsKind& kind_;
  Namespaces ns_;
};

FileKind<NsFile>& ns_files() {
  static FileKind<NsFile> kind;
  return kind;
}

const NsKind* kind_named(std::string_view name) {
  for (const NsKind& k : kKinds) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

// Joins the namespaces `ns` names of the kinds in `flags` (one kind for an ns file, several for a
// pidfd): checks every kind first, then joins, as Linux's validate_nsset/commit_nsset.
Result<long> join(Thread& t, u64 flags, const Namespaces& ns) {
  Process& p = t.process();
  const Credentials& c = p.creds;
  if ((flags & kNewuser) != 0) return Errno::einval;  // the caller's own: no re-entering it
  if ((flags & kNewns) != 0) {
    if (!c.capable(cap::kSysAdmin) || !c.capable(cap::kSysChroot)) return Errno::eperm;
    // Another thread, or a CLONE_FS process, would be moved too.
    if (p.fs.use_count() > 1 || threads_of(p).size() > 1) return Errno::einval;
  }
  if ((flags & kNewtime) != 0 && threads_of(p).size() > 1) return Errno::eusers;
  if ((flags & (kNewuts | kNewipc | kNewnet | kNewpid | kNewcgroup | kNewtime)) != 0 && !c.capable(cap::kSysAdmin)) {
    return Errno::eperm;
  }
  if ((flags & kNewuts) != 0) p.uts = ns.uts;
  if ((flags & kNewns) != 0) {
    // Into the namespace, at its root (Linux's mntns_install).
    if (ns.mnt) p.fs->mnt_ns = ns.mnt;
    std::shared_ptr<Dentry> root = vfs_root();
    p.fs->set_root(root);
    p.fs->set_cwd(root);
  }
  return 0;
}

Result<long> sys_setns(Thread& t, const SyscallArgs& a) {
  const int fd = a.as_int(0);
  const u64 nstype = a[1] & 0xffffffff;
  auto file = TRY(t.process().fds->get(fd));
  if (file->is_opath()) return Errno::ebadf;
  if (auto ns = ns_files().find(*file)) {
    if (nstype != 0 && nstype != ns->kind().flag) return Errno::einval;
    return join(t, ns->kind().flag, ns->namespaces());
  }
  auto target = pidfd_process(t, fd);
  if (target.is_error()) return Errno::einval;  // neither a namespace file nor a pidfd
  if (nstype == 0 || (nstype & ~kAllKinds) != 0) return Errno::einval;
  const std::shared_ptr<Process>& other = target.value().first;
  if (other->state == Process::State::Zombie || other->state == Process::State::Reaped) return Errno::esrch;
  if (!ptrace_may_access(t.process(), *other)) return Errno::eperm;
  return join(t, nstype, namespaces_of(*other));
}

}  // namespace

u32 next_ns_inum() {
  static u32 next = 0xF0000002;  // after the mount and network namespaces' numbers
  return next++;
}

std::vector<std::string> namespace_names() {
  std::vector<std::string> out;
  for (const NsKind& k : kKinds) out.emplace_back(k.name);
  return out;
}

Result<std::string> namespace_link(const Process& p, std::string_view name) {
  const NsKind* k = kind_named(name);
  if (k == nullptr) return Errno::enoent;
  return ostd::format("{}:[{}]", k->type, inum_of(*k, namespaces_of(p)));
}

std::shared_ptr<File> open_namespace(const Process& p, std::string_view name) {
  const NsKind* k = kind_named(name);
  if (k == nullptr) return nullptr;
  auto f = std::make_shared<NsFile>(*k, namespaces_of(p));
  f->set_status_flags(kORdOnly);
  ns_files().add(f);
  return f;
}

void register_namespace_syscalls(SyscallTable& t) { t.set(x86_64::Sysno::setns, &sys_setns); }

}  // namespace services
