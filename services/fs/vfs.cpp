// The VFS core: inode defaults, dentries, mounts, the path walk, the boot-time root file system.
#include "fs/vfs.h"
#include "abi/mount.h"
#include "device/devices.h"

#include <algorithm>
#include <array>
#include <deque>
#include <map>
#include <utility>

#include <ostd/time.h>

#include "device/tty.h"
#include "fs/cpio.h"
#include "fs/notify.h"
#include "fs/protected.h"
#include "process/internal.h"
#include "process/process.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u32;
using ostd::u64;
using ostd::usize;

abi::Timespec now_timespec() {
  u64 ns = ostd::realtime_ns();
  return abi::Timespec{static_cast<ostd::i64>(ns / 1000000000), static_cast<ostd::i64>(ns % 1000000000)};
}

ostd::u8 dirent_type(u32 mode) {
  switch (mode & abi::kSIfmt) {
    case abi::kSIfifo: return kDtFifo;
    case abi::kSIfchr: return kDtChr;
    case abi::kSIfdir: return kDtDir;
    case abi::kSIfblk: return kDtBlk;
    case abi::kSIfreg: return kDtReg;
    case abi::kSIflnk: return kDtLnk;
    case abi::kSIfsock: return kDtSock;
    default: return kDtUnknown;
  }
}

// ---- Inode defaults ----

namespace {
u64 next_ino() {
  static u64 ino = 1;
  return ++ino;
}
}  // namespace

Inode::Inode(u64 dev, u32 mode) : dev_(dev), ino_(next_ino()), mode_(mode) {
  atime = mtime = ctime = now_timespec();
  if ((mode & abi::kSIfmt) == abi::kSIfdir) nlink = 2;
}

Inode::Inode(u64 dev, u32 mode, u64 ino) : dev_(dev), ino_(ino), mode_(mode) {}

void Inode::touch_mtime() { mtime = ctime = now_timespec(); }
void Inode::touch_ctime() { ctime = now_timespec(); }

abi::Stat Inode::stat() const {
  abi::Stat st{};
  st.st_dev = dev_;
  st.st_ino = ino_;
  st.st_nlink = nlink;
  st.st_mode = mode_;
  st.st_uid = uid;
  st.st_gid = gid;
  st.st_rdev = rdev;
  st.st_size = static_cast<ostd::i64>(size());
  st.st_blksize = 4096;
  st.st_blocks = is_dir() ? 0 : static_cast<ostd::i64>((size() + 511) / 512);  // tmpfs directories hold no pages
  st.st_atim = atime;
  st.st_mtim = mtime;
  st.st_ctim = ctime;
  return st;
}

Result<std::shared_ptr<Inode>> Inode::lookup(std::string_view) { return Errno::enotdir; }
Result<std::shared_ptr<Inode>> Inode::create(std::string_view, u32, u64) {
  return is_dir() ? Errno::eperm : Errno::enotdir;
}
Result<std::shared_ptr<Inode>> Inode::symlink(std::string_view, std::string_view) {
  return is_dir() ? Errno::eperm : Errno::enotdir;
}
Result<void> Inode::link(std::string_view, const std::shared_ptr<Inode>&) {
  return is_dir() ? Errno::eperm : Errno::enotdir;
}
Result<void> Inode::unlink(std::string_view) { return is_dir() ? Errno::eperm : Errno::enotdir; }
Result<void> Inode::rmdir(std::string_view) { return is_dir() ? Errno::eperm : Errno::enotdir; }
Result<void> Inode::rename(std::string_view, Inode&, std::string_view) {
  return is_dir() ? Errno::eperm : Errno::enotdir;
}
Result<std::vector<DirEntry>> Inode::list() { return Errno::enotdir; }
Result<std::string> Inode::readlink(const Process*) { return Errno::einval; }
Result<usize> Inode::read_at(u64, ostd::VmWriter&) { return is_dir() ? Errno::eisdir : Errno::einval; }
Result<usize> Inode::write_at(u64, ostd::VmReader&) { return is_dir() ? Errno::eisdir : Errno::einval; }
Result<void> Inode::truncate(u64) { return is_dir() ? Errno::eisdir : Errno::einval; }

Result<std::shared_ptr<File>> Inode::open(const std::shared_ptr<Dentry>& d, u32 flags) {
  if (is_regular() || is_dir()) return std::shared_ptr<File>(std::make_shared<InodeFile>(d, flags));
  if (is_symlink()) return Errno::eloop;
  return Errno::enxio;
}

std::string Dentry::path() const { return *names_from(nullptr); }

std::optional<std::string> Dentry::path_from(const Dentry& root) const { return names_from(&root); }

std::optional<std::string> Dentry::names_from(const Dentry* root) const {
  std::vector<const Dentry*> chain;
  const Dentry* d = this;
  for (; d != nullptr && (root != nullptr ? d->inode_ != root->inode_ : !d->is_root()); d = d->parent_.get()) {
    chain.push_back(d);
  }
  if (d == nullptr) return std::nullopt;
  std::string out;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    out += '/';
    out += (*it)->name_;
  }
  if (out.empty()) out.push_back('/');  // (assigning a literal trips GCC 12's -Wrestrict)
  return out;
}

std::shared_ptr<FsContext> FsContext::clone() const {
  auto c = std::make_shared<FsContext>(root_, cwd_);
  c->umask = umask;
  c->mnt_ns = mnt_ns;
  return c;
}

// ---- mounts ----

namespace {

struct Mount {
  u64 covered_dev;
  u64 covered_ino;
  std::shared_ptr<FileSystem> fs;
  MountInfo info;
  /// A bind mount's root (a directory or file of `fs`); nullptr: the file system's root.
  std::shared_ptr<Inode> root = nullptr;
  /// The mount's own flags (MS_REMOUNT|MS_BIND), shared with the names reached through it.
  std::shared_ptr<MountFlags> flags = std::make_shared<MountFlags>();
  /// A file system in memory made read-only by its mount or a remount (it keeps no such state
  /// itself): its super options say "ro".
  bool memory_read_only = false;
  std::shared_ptr<Inode> root_inode() const { return root ? root : fs->root(); }
};

struct VfsState {
  ostd::Mutex lock;
  std::shared_ptr<Dentry> root;
  std::shared_ptr<FileSystem> root_fs;
  std::string root_source = "rootfs";  // the root's /proc/mounts line: source and type
  std::string root_type = "rootfs";
  /// The root mount's own flags (every name under the root dentry carries them), and whether
  /// a file system in memory at the root was remounted read-only (its super options say "ro").
  /// One root mount for every mount namespace: a copy does not get a root of its own.
  std::shared_ptr<MountFlags> root_flags;
  bool root_memory_read_only = false;
  std::shared_ptr<MountNamespace> first_ns;
};

VfsState& vfs() {
  static VfsState s;
  return s;
}

ostd::u32 next_mount_id() {
  static ostd::u32 next = 2;  // 1 is the root
  return next++;
}

}  // namespace

class MountNamespace {
 public:
  explicit MountNamespace(ostd::u32 inum) : inum(inum) {}
  mutable ostd::Mutex lock;
  std::vector<Mount> mounts;  // in mount order; later mounts hide earlier ones
  const ostd::u32 inum;
};

MountNamespace& ns_of(const FsContext& fs);

std::shared_ptr<MountNamespace> copy_mount_namespace(const FsContext& fs) {
  const MountNamespace& ns = ns_of(fs);
  auto out = std::make_shared<MountNamespace>(next_ns_inum());
  auto g = ns.lock.lock();
  out->mounts = ns.mounts;
  for (Mount& m : out->mounts) {
    m.info.id = next_mount_id();
    auto flags = std::make_shared<MountFlags>();  // the copy's own, as they were
    flags->bits.store(m.flags->get());
    m.flags = std::move(flags);
  }
  return out;
}

ostd::u32 mount_namespace_inum(const MountNamespace& ns) { return ns.inum; }

// fs's namespace (the first one for a context made before namespaces existed).
MountNamespace& ns_of(const FsContext& fs) {
  if (fs.mnt_ns) return *fs.mnt_ns;
  auto& s = vfs();
  auto g = s.lock.lock();
  if (!s.first_ns) s.first_ns = std::make_shared<MountNamespace>(kFirstMountNsInum);
  return *s.first_ns;
}

namespace {

// What a walk finds at `inode`: the root of what is mounted on it (the topmost mount), with
// that mount's flags (nullptr when nothing is).
struct Covered {
  std::shared_ptr<Inode> inode;
  std::shared_ptr<MountFlags> mount;
};
Covered covered(const FsContext& fs, std::shared_ptr<Inode> inode) {
  MountNamespace& ns = ns_of(fs);
  auto g = ns.lock.lock();
  Covered out{std::move(inode), nullptr};
  for (int rounds = 0; rounds < 16; ++rounds) {
    bool changed = false;
    for (auto it = ns.mounts.rbegin(); it != ns.mounts.rend(); ++it) {
      if (it->covered_dev == out.inode->dev() && it->covered_ino == out.inode->ino()) {
        out.inode = it->root_inode();
        out.mount = it->flags;
        changed = true;
        break;
      }
    }
    if (!changed) break;
  }
  return out;
}

}  // namespace

Result<void> mount_fs(const FsContext& fs, const std::shared_ptr<Dentry>& at, std::shared_ptr<FileSystem> fsys,
                      std::string source, u32 flags, std::string fs_options) {
  if (!at->inode()->is_dir()) return Errno::enotdir;
  MountNamespace& ns = ns_of(fs);
  auto g = ns.lock.lock();
  MountInfo info;
  info.source = std::move(source);
  info.target = at->path_from(*fs.root()).value_or(at->path());
  info.type = fsys->type();
  info.fs_options = std::move(fs_options);
  info.dev = fsys->dev();
  info.id = next_mount_id();
  Mount m{at->inode()->dev(), at->inode()->ino(), std::move(fsys), std::move(info)};
  m.flags->bits.store(flags);
  m.memory_read_only = (flags & mnt::kReadOnly) != 0;
  ns.mounts.push_back(std::move(m));
  return {};
}

Result<void> unmount(const FsContext& fs, const std::shared_ptr<Dentry>& at, bool detach) {
  MountNamespace& ns = ns_of(fs);
  std::shared_ptr<FileSystem> gone;
  {
    auto g = ns.lock.lock();
    auto it = ns.mounts.rbegin();
    while (it != ns.mounts.rend() && it->root_inode() != at->inode()) ++it;
    if (it == ns.mounts.rend()) return Errno::einval;
    gone = it->fs;
    // The file system stays mounted while another mount shows it (a bind mount, the root's):
    // then this one goes whatever is open on it.
    const bool last =
        std::count_if(ns.mounts.begin(), ns.mounts.end(), [&](const Mount& m) { return m.fs == gone; }) == 1;
    bool is_root = false;
    {
      auto& s = vfs();
      auto sg = s.lock.lock();
      is_root = s.root_fs == gone;
    }
    // `at` holds one reference to the root inode.
    if (last && !is_root && !detach && gone->busy(1)) return Errno::ebusy;
    ns.mounts.erase(std::next(it).base());
    if (!last || is_root) return {};
  }
  // The mount is gone either way: what could not be written back is lost (the file system
  // logged it), and umount succeeds, as Linux's does.
  (void)gone->unmounted();
  return {};
}

Result<void> bind_mount(const FsContext& fs, const std::shared_ptr<Dentry>& source, const std::shared_ptr<Dentry>& at) {
  const auto& what = source->inode();
  if (what->is_dir() != at->inode()->is_dir()) return Errno::enotdir;
  auto fsys = filesystem_of_dev(fs, what->dev());
  if (!fsys) return Errno::einval;
  // What of its file system the source is: its path below the mount it lies on.
  std::string path = source->path_from(*fs.root()).value_or(source->path());
  std::string root = path;
  MountNamespace& ns = ns_of(fs);
  auto g = ns.lock.lock();
  usize best = 0;
  for (const Mount& m : ns.mounts) {
    const std::string& t = m.info.target;
    if (m.fs != fsys || t.size() < best) continue;
    if (path == t || (path.size() > t.size() && path.starts_with(t) && (t == "/" || path[t.size()] == '/'))) {
      std::string below = path.substr(t == "/" ? 0 : t.size());
      root = m.info.root == "/" ? (below.empty() ? "/" : below) : m.info.root + below;
      best = t.size();
    }
  }
  std::string where = at->path_from(*fs.root()).value_or(at->path());
  MountInfo info;
  for (const Mount& m : ns.mounts) {
    if (m.fs == fsys) info = m.info;  // the file system's source, type and options
  }
  if (info.type.empty()) {
    auto& st = vfs();
    auto sg = st.lock.lock();
    info = MountInfo{};
    info.source = st.root_source;
    info.type = st.root_type;
    info.dev = fsys->dev();
  }
  info.target = std::move(where);
  info.id = next_mount_id();
  info.root = std::move(root);
  Mount m{at->inode()->dev(), at->inode()->ino(), std::move(fsys), std::move(info), what};
  // The bind has the flags of the mount its source was reached through (clone_mnt): a bind of
  // what a read-only or nosuid mount shows is read-only or nosuid too.
  if (source->mount()) m.flags->bits.store(source->mount()->get());
  ns.mounts.push_back(std::move(m));
  return {};
}

Result<void> move_mount(const FsContext& fs, const std::shared_ptr<Dentry>& source, const std::shared_ptr<Dentry>& at) {
  MountNamespace& ns = ns_of(fs);
  auto g = ns.lock.lock();
  for (auto it = ns.mounts.rbegin(); it != ns.mounts.rend(); ++it) {
    if (it->root_inode() != source->inode()) continue;
    // As Linux's do_move_mount: a directory to a directory, and not beneath itself (ELOOP).
    if (at->inode()->is_dir() != source->inode()->is_dir()) return Errno::einval;
    for (auto d = at; d; d = d->parent()) {
      if (d->inode() == source->inode()) return Errno::eloop;
    }
    it->covered_dev = at->inode()->dev();
    it->covered_ino = at->inode()->ino();
    std::string old_target = it->info.target;
    std::string where = at->path_from(*fs.root()).value_or(at->path());
    // Mounts beneath the moved one are shown under its new place.
    for (Mount& m : ns.mounts) {
      if (m.info.target.size() > old_target.size() && m.info.target.starts_with(old_target) &&
          m.info.target[old_target.size()] == '/') {
        m.info.target = where + m.info.target.substr(old_target.size());
      }
    }
    it->info.target = std::move(where);
    return {};
  }
  return Errno::einval;
}

namespace {
// Whether `at` is the root mount's root (reached through it, not through a bind of it), and
// that mount's flags.
std::shared_ptr<MountFlags> root_mount_at(const Dentry& at) {
  auto& s = vfs();
  auto g = s.lock.lock();
  if (!s.root_fs || !s.root_flags || at.mount() != s.root_flags || at.inode() != s.root_fs->root()) return nullptr;
  return s.root_flags;
}

// MS_REMOUNT of the root: its file system (one in memory keeps no read-only state: the root
// mount remembers it, as for any other mount of one), then the root mount's flags.
Result<void> remount_root(MountNamespace& ns, MountFlags& flags, u64 ms_flags) {
  const bool read_only = (ms_flags & abi::ms::kRdonly) != 0;
  auto& s = vfs();
  std::shared_ptr<FileSystem> target;
  {
    auto g = s.lock.lock();
    target = s.root_fs;
  }
  auto r = target->remount(read_only);
  if (r.is_error() && r.error() != Errno::einval) return r;
  const bool memory_read_only = r.is_error() && read_only;
  {
    auto g = s.lock.lock();
    s.root_memory_read_only = memory_read_only;
  }
  auto g = ns.lock.lock();
  for (auto& m : ns.mounts) {
    if (m.fs == target) m.memory_read_only = memory_read_only;
  }
  flags.bits.store(mnt::from_ms_flags(ms_flags, flags.get()));
  return {};
}
}  // namespace

Result<void> remount(const FsContext& fs, const std::shared_ptr<Dentry>& at, u64 ms_flags) {
  const bool read_only = (ms_flags & abi::ms::kRdonly) != 0;
  MountNamespace& ns = ns_of(fs);
  if (auto root = root_mount_at(*at)) return remount_root(ns, *root, ms_flags);
  std::shared_ptr<FileSystem> target;
  std::shared_ptr<MountFlags> flags;  // the mount at `at`
  {
    auto g = ns.lock.lock();
    for (auto it = ns.mounts.rbegin(); it != ns.mounts.rend(); ++it) {
      // The very mount the walk entered, or (reached otherwise, e.g. from a chroot) the topmost
      // one of that root.
      const bool this_one = at->is_mount_root() ? it->flags == at->mount() : it->root_inode() == at->inode();
      if (this_one) {
        target = it->fs;
        flags = it->flags;
        break;
      }
    }
  }
  if (!target) return Errno::einval;
  auto r = target->remount(read_only);
  // File systems in memory keep no read-only state (EINVAL): the mounts remember it for them.
  if (r.is_error() && r.error() != Errno::einval) return r;
  const bool in_memory = r.is_error();
  auto g = ns.lock.lock();
  // A file system that keeps its own state answers for itself from now on (an ext2 mounted
  // MS_RDONLY and remounted read-write is no longer "ro" in its super options).
  for (auto& m : ns.mounts) {
    if (m.fs == target) m.memory_read_only = in_memory && read_only;
  }
  flags->bits.store(mnt::from_ms_flags(ms_flags, flags->get()));
  return {};
}

Result<void> remount_mount(const FsContext& fs, const std::shared_ptr<Dentry>& at, u64 ms_flags) {
  if (!at->is_mount_root() || !at->mount()) return Errno::einval;
  if (auto root = root_mount_at(*at)) {
    root->bits.store(mnt::from_ms_flags(ms_flags, root->get()));
    return {};
  }
  MountNamespace& ns = ns_of(fs);
  auto g = ns.lock.lock();
  for (auto& m : ns.mounts) {
    if (m.flags != at->mount()) continue;
    m.flags->bits.store(mnt::from_ms_flags(ms_flags, m.flags->get()));
    return {};
  }
  return Errno::einval;  // a mount of another namespace, or one unmounted since
}

std::vector<MountInfo> mounts(const FsContext& fs) {
  MountInfo root;
  root.source = root.type = "rootfs";
  root.target = "/";
  root.id = 1;
  {
    auto& s = vfs();
    auto g = s.lock.lock();
    if (s.root_fs) {
      root.dev = s.root_fs->dev();
      root.source = s.root_source;
      root.type = s.root_type;
      root.fs_read_only = s.root_fs->read_only() || s.root_memory_read_only;
    }
    if (s.root_flags) root.flags = s.root_flags->get();
  }
  MountNamespace& ns = ns_of(fs);
  auto g = ns.lock.lock();
  std::vector<MountInfo> out;
  out.push_back(std::move(root));
  for (const auto& m : ns.mounts) {
    out.push_back(m.info);
    out.back().flags = m.flags->get();
    out.back().fs_read_only = m.fs->read_only() || m.memory_read_only;
  }
  return out;
}

std::string MountInfo::options() const {
  return ((flags & mnt::kReadOnly) != 0 || fs_read_only ? "ro" : "rw") + mnt::options_of(flags) + fs_options;
}
std::string MountInfo::mount_options() const {
  return ((flags & mnt::kReadOnly) != 0 ? "ro" : "rw") + mnt::options_of(flags);
}
std::string MountInfo::super_options() const { return (fs_read_only ? "ro" : "rw") + fs_options; }

namespace mnt {

u32 from_ms_flags(u64 given, std::optional<u32> old) {
  namespace ms = abi::ms;
  u32 f = (given & ms::kNoatime) != 0 ? 0 : kRelatime;  // relatime unless told otherwise
  if ((given & ms::kNosuid) != 0) f |= kNosuid;
  if ((given & ms::kNodev) != 0) f |= kNodev;
  if ((given & ms::kNoexec) != 0) f |= kNoexec;
  if ((given & ms::kNoatime) != 0) f |= kNoatime;
  if ((given & ms::kNodiratime) != 0) f |= kNodiratime;
  if ((given & ms::kStrictatime) != 0) f &= ~(kRelatime | kNoatime);
  if ((given & ms::kRdonly) != 0) f |= kReadOnly;
  if ((given & ms::kNosymfollow) != 0) f |= kNosymfollow;
  // A remount keeps the access-time flags unless it names one.
  if (old && (given & (ms::kNoatime | ms::kNodiratime | ms::kRelatime | ms::kStrictatime)) == 0) {
    f = (f & ~kAtimeMask) | (*old & kAtimeMask);
  }
  return f;
}

std::string options_of(u32 flags) {
  static constexpr std::array<std::pair<u32, std::string_view>, 7> kNames{{{kNosuid, ",nosuid"},
                                                                           {kNodev, ",nodev"},
                                                                           {kNoexec, ",noexec"},
                                                                           {kNoatime, ",noatime"},
                                                                           {kNodiratime, ",nodiratime"},
                                                                           {kRelatime, ",relatime"},
                                                                           {kNosymfollow, ",nosymfollow"}}};
  std::string s;
  for (const auto& [bit, name] : kNames) {
    if ((flags & bit) != 0) s += name;
  }
  return s;
}

u64 statfs_flags_of(u32 flags) {
  constexpr u64 kStRdonly = 1, kStNosuid = 2, kStNodev = 4, kStNoexec = 8, kStNoatime = 1024, kStNodiratime = 2048,
                kStRelatime = 4096, kStNosymfollow = 8192;
  static constexpr std::array<std::pair<u32, u64>, 8> kBits{{{kReadOnly, kStRdonly},
                                                             {kNosuid, kStNosuid},
                                                             {kNodev, kStNodev},
                                                             {kNoexec, kStNoexec},
                                                             {kNoatime, kStNoatime},
                                                             {kNodiratime, kStNodiratime},
                                                             {kRelatime, kStRelatime},
                                                             {kNosymfollow, kStNosymfollow}}};
  u64 out = 0;
  for (const auto& [bit, st] : kBits) {
    if ((flags & bit) != 0) out |= st;
  }
  return out;
}

}  // namespace mnt

std::shared_ptr<FileSystem> filesystem_of_dev(const FsContext& fs, u64 dev) {
  {
    auto& s = vfs();
    auto g = s.lock.lock();
    if (s.root_fs && s.root_fs->dev() == dev) return s.root_fs;
  }
  MountNamespace& ns = ns_of(fs);
  auto g = ns.lock.lock();
  for (const auto& m : ns.mounts) {
    if (m.fs->dev() == dev) return m.fs;
  }
  return nullptr;
}

u64 fs_magic_of_dev(const FsContext& fs, u64 dev) {
  auto f = filesystem_of_dev(fs, dev);
  return f ? f->magic() : 0;
}

ostd::u32 mount_id_of_dev(const FsContext& fs, u64 dev) {
  MountNamespace& ns = ns_of(fs);
  auto g = ns.lock.lock();
  for (auto it = ns.mounts.rbegin(); it != ns.mounts.rend(); ++it) {
    if (it->fs->dev() == dev) return it->info.id;
  }
  return 1;  // the root (and the file systems nobody mounted: pipes, sockets)
}

Result<void> pivot_root_check(const FsContext& fs, const std::shared_ptr<Dentry>& new_root,
                              const std::shared_ptr<Dentry>& put_old) {
  u64 root_dev = fs.root()->inode()->dev();
  // A mount is known here by its file system: on the root's mount means on the root's device.
  if (new_root->inode()->dev() == root_dev || put_old->inode()->dev() == root_dev) return Errno::ebusy;
  // The root must be a mount with a parent; the rootfs (every root here) has none.
  return Errno::einval;
}

std::vector<std::string> filesystem_types() {
  return {"sysfs", "tmpfs", "ramfs", "proc", "devtmpfs", "mqueue", "ext2", "ext3", "ext4", "9p"};
}

Result<std::shared_ptr<FileSystem>> make_filesystem(std::string_view type) {
  if (type == "tmpfs" || type == "ramfs") return make_ramfs();
  if (type == "proc") return make_procfs();
  if (type == "sysfs") return make_sysfs();
  if (type == "devtmpfs") return make_devfs();
  if (type == "mqueue") return mqueue_filesystem();
  return Errno::enodev;
}

// ---- path walk ----

namespace {

// Splits a path into components, dropping empty ones ("a//b" is "a/b").
void push_components(std::deque<std::string>& out, std::string_view path) {
  std::vector<std::string> parts;
  usize i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    usize j = i;
    while (j < path.size() && path[j] != '/') ++j;
    if (j > i) parts.emplace_back(path.substr(i, j - i));
    i = j;
  }
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) out.push_front(*it);
}

// What a magic link to a file without a path (a pipe, an eventfd...) resolves to: opening it
// gives that same open file.
class OpenFileInode final : public Inode {
 public:
  OpenFileInode(std::shared_ptr<File> file, abi::Stat st)
      : Inode(st.st_dev, st.st_mode), file_(std::move(file)), st_(st) {}
  abi::Stat stat() const override { return st_; }
  Result<std::shared_ptr<File>> open(const std::shared_ptr<Dentry>&, u32) override { return file_; }

 private:
  std::shared_ptr<File> file_;
  abi::Stat st_;
};

// Where a walk starts and what its "/" is: the process's root, or with RESOLVE_BENEATH and
// RESOLVE_IN_ROOT the starting directory.
std::shared_ptr<Dentry> walk_root(const PathLookup& at) {
  if ((at.resolve & (kResolveBeneath | kResolveInRoot)) != 0) return at.start ? at.start : at.fs.cwd();
  return at.fs.root();
}

Result<std::shared_ptr<Dentry>> walk_components(const PathLookup& at, std::shared_ptr<Dentry> cur,
                                                std::deque<std::string> comps, bool follow, bool must_dir) {
  const std::shared_ptr<Dentry> root = walk_root(at);
  const bool scoped = (at.resolve & (kResolveBeneath | kResolveInRoot)) != 0;
  const bool no_xdev = (at.resolve & kResolveNoXdev) != 0;
  int links = 0;
  while (!comps.empty()) {
    std::string name = std::move(comps.front());
    comps.pop_front();
    if (!cur->inode()->is_dir()) return Errno::enotdir;
    // Every directory a path passes through must be searchable by the caller (may_lookup).
    if (at.caller != nullptr) TRY(inode_permission(at.caller->creds, *cur->inode(), kMayExec));
    if (name == ".") continue;
    if (name == "..") {
      if (cur->inode() == root->inode()) {
        if ((at.resolve & kResolveBeneath) != 0) return Errno::exdev;  // out of the tree
        continue;
      }
      if (cur->parent()) {
        if (no_xdev && cur->parent()->inode()->dev() != cur->inode()->dev()) return Errno::exdev;
        cur = cur->parent();
      }
      continue;
    }
    if (name.size() > kNameMax) return Errno::enametoolong;
    auto [inode, entered] = covered(at.fs, TRY(cur->inode()->lookup(name)));
    if (no_xdev && inode->dev() != cur->inode()->dev()) return Errno::exdev;
    bool last = comps.empty();
    if (inode->is_symlink() && (!last || follow || must_dir)) {
      if (++links > kMaxSymlinks) return Errno::eloop;
      // A trailing link in a sticky world-writable directory (fs.protected_symlinks).
      if (last && at.caller != nullptr) TRY(may_follow_link(at.caller->creds, *cur->inode(), *inode));
      // RESOLVE_NO_SYMLINKS, and a link on a nosymfollow mount (pick_link): not followed.
      if ((at.resolve & kResolveNoSymlinks) != 0 || cur->mount_has(mnt::kNosymfollow)) return Errno::eloop;
      if (inode->is_magic_link()) {
        if ((at.resolve & kResolveNoMagiclinks) != 0) return Errno::eloop;
        if (scoped) return Errno::exdev;
      }
      if (auto file = inode->magic_target(at.caller)) {
        if (auto d = file->dentry()) {
          if (no_xdev && d->inode()->dev() != cur->inode()->dev()) return Errno::exdev;
          cur = d;
        } else {
          abi::Stat st = TRY(file->stat());
          cur = std::make_shared<Dentry>(cur, std::move(name), std::make_shared<OpenFileInode>(file, st));
        }
        continue;
      }
      std::string target = TRY(inode->readlink(at.caller));
      if (target.empty()) return Errno::enoent;
      if (target.front() == '/') {
        if ((at.resolve & kResolveBeneath) != 0) return Errno::exdev;
        if (no_xdev && root->inode()->dev() != cur->inode()->dev()) return Errno::exdev;
        cur = root;
      }
      if (last && !target.empty() && target.back() == '/') must_dir = true;
      push_components(comps, target);
      continue;
    }
    cur = std::make_shared<Dentry>(cur, std::move(name), std::move(inode));
    if (entered) cur->enter_mount(std::move(entered));
  }
  if (must_dir && !cur->inode()->is_dir()) return Errno::enotdir;
  return cur;
}

}  // namespace

Result<std::shared_ptr<Dentry>> walk(const PathLookup& at, std::string_view path, bool follow) {
  if (path.empty()) return Errno::enoent;
  if (path.size() >= kPathMax) return Errno::enametoolong;
  if (path.front() == '/' && (at.resolve & kResolveBeneath) != 0) return Errno::exdev;
  std::shared_ptr<Dentry> cur = path.front() == '/' ? walk_root(at) : (at.start ? at.start : at.fs.cwd());
  std::deque<std::string> comps;
  push_components(comps, path);
  bool must_dir = path.back() == '/';
  return walk_components(at, std::move(cur), std::move(comps), follow, must_dir);
}

Result<ParentAndName> walk_parent(const PathLookup& at, std::string_view path) {
  if (path.empty()) return Errno::enoent;
  if (path.size() >= kPathMax) return Errno::enametoolong;
  if (path.front() == '/' && (at.resolve & kResolveBeneath) != 0) return Errno::exdev;
  std::shared_ptr<Dentry> cur = path.front() == '/' ? walk_root(at) : (at.start ? at.start : at.fs.cwd());
  std::deque<std::string> comps;
  push_components(comps, path);
  ParentAndName out;
  out.trailing_slash = path.back() == '/';
  if (comps.empty()) {
    // "/" (or "//"): the root itself; its "last name" is ".".
    out.parent = cur;
    out.name.push_back('.');  // (assigning a literal trips GCC 12's -Wrestrict false positive)
    return out;
  }
  out.name = std::move(comps.back());
  comps.pop_back();
  if (out.name.size() > kNameMax) return Errno::enametoolong;
  out.parent = TRY(walk_components(at, std::move(cur), std::move(comps), true, true));
  if (at.caller != nullptr) TRY(inode_permission(at.caller->creds, *out.parent->inode(), kMayExec));
  return out;
}

Result<std::shared_ptr<Dentry>> lookup_path(FsContext& fs, std::string_view path, bool follow) {
  return walk(PathLookup{fs, nullptr, nullptr}, path, follow);
}

Result<std::shared_ptr<Dentry>> dirfd_start(Thread& self, int dirfd, std::string_view path) {
  constexpr int kAtFdcwd = -100;
  if (!path.empty() && path.front() == '/') return std::shared_ptr<Dentry>(nullptr);
  if (dirfd == kAtFdcwd) return self.process().fs->cwd();
  auto file = TRY(self.process().fds->get(dirfd));
  auto d = file->dentry();
  if (!d) return Errno::enotdir;
  if (!path.empty() && !d->inode()->is_dir()) return Errno::enotdir;
  return d;
}

Result<std::shared_ptr<Dentry>> lookup_path(Thread& self, int dirfd, std::string_view path, bool follow) {
  auto start = TRY(dirfd_start(self, dirfd, path));
  return walk(PathLookup{*self.process().fs, start, &self.process()}, path, follow);
}

Result<std::vector<ostd::u8>> read_entire_file(const std::shared_ptr<Dentry>& d) {
  const auto& inode = d->inode();
  if (inode->is_dir()) return Errno::eisdir;
  std::vector<ostd::u8> out(static_cast<usize>(inode->size()));
  usize done = 0;
  for (;;) {
    if (out.size() - done < 4096) out.resize(out.size() + 65536);
    auto w = ostd::VmWriter::from_kernel(std::span<ostd::u8>(out).subspan(done));
    usize n = TRY(inode->read_at(done, w));
    if (n == 0) break;
    done += n;
  }
  out.resize(done);
  return out;
}

u32 dentry_mode(const std::shared_ptr<Dentry>& d) { return d->inode()->mode(); }
std::string dentry_path(const std::shared_ptr<Dentry>& d) { return d->path(); }

Result<std::shared_ptr<File>> open_dentry(const std::shared_ptr<Dentry>& d, u32 flags) {
  return d->inode()->open(d, flags);
}

// ---- InodeFile ----

InodeFile::InodeFile(std::shared_ptr<Dentry> d, u32 flags) : dentry_(std::move(d)) {
  set_status_flags(flags);
  inode()->open_files.fetch_add(1);
}

InodeFile::~InodeFile() {
  if (inode()->open_files.fetch_sub(1) == 1 && inode()->unlinked) fsnotify_removed(*inode());
}

Result<usize> InodeFile::read(Thread&, ostd::VmWriter& out) {
  if (inode()->is_dir()) return Errno::eisdir;
  auto g = lock_.lock();
  usize n = TRY(inode()->read_at(pos_, out));
  pos_ += n;
  inode()->atime = now_timespec();
  if (n > 0) fsnotify(*dentry_, kInAccess);
  return n;
}

Result<usize> InodeFile::write(Thread&, ostd::VmReader& in) {
  if (inode()->is_dir()) return Errno::eisdir;
  auto g = lock_.lock();
  if ((status_flags() & kOAppend) != 0) pos_ = inode()->size();
  usize n = TRY(inode()->write_at(pos_, in));
  pos_ += n;
  if (n > 0) fsnotify(*dentry_, kInModify);
  return n;
}

Result<usize> InodeFile::read_at(Thread&, u64 offset, ostd::VmWriter& out) {
  if (inode()->is_dir()) return Errno::eisdir;
  usize n = TRY(inode()->read_at(offset, out));
  if (n > 0) fsnotify(*dentry_, kInAccess);
  return n;
}

Result<usize> InodeFile::write_at(Thread&, u64 offset, ostd::VmReader& in) {
  if (inode()->is_dir()) return Errno::eisdir;
  // Linux: pwrite on an O_APPEND file appends.
  if ((status_flags() & kOAppend) != 0) offset = inode()->size();
  usize n = TRY(inode()->write_at(offset, in));
  if (n > 0) fsnotify(*dentry_, kInModify);
  return n;
}

Result<ostd::i64> InodeFile::seek(ostd::i64 offset, int whence) {
  constexpr int kSeekSet = 0, kSeekCur = 1, kSeekEnd = 2, kSeekData = 3, kSeekHole = 4;
  auto g = lock_.lock();
  ostd::i64 base = 0;
  auto size = static_cast<ostd::i64>(inode()->size());
  switch (whence) {
    case kSeekSet: base = 0; break;
    case kSeekCur: base = static_cast<ostd::i64>(pos_); break;
    case kSeekEnd: base = size; break;
    case kSeekData:
      if (offset < 0 || offset >= size) return Errno::enxio;
      base = 0;
      break;
    case kSeekHole:
      if (offset < 0 || offset >= size) return Errno::enxio;
      pos_ = static_cast<u64>(size);
      return size;
    default: return Errno::einval;
  }
  ostd::i64 np = 0;
  if (!ostd::checked_add<ostd::i64>(base, offset, np)) return Errno::eoverflow;
  if (np < 0) return Errno::einval;
  if (inode()->is_dir() && np != 0) {
    // Directory positions are entry indices; only rewinding and SEEK_CUR 0 are meaningful.
    if (static_cast<usize>(np) > dir_snapshot_.size()) return Errno::einval;
  }
  pos_ = static_cast<u64>(np);
  return np;
}

Result<abi::Stat> InodeFile::stat() {
  inode()->revalidate();
  return inode()->stat();
}

Result<usize> InodeFile::getdents(Thread&, ostd::VmWriter& out) {
  if (!inode()->is_dir()) return Errno::enotdir;
  auto g = lock_.lock();
  if (pos_ == 0 || dir_snapshot_.empty()) {
    std::vector<DirEntry> entries = TRY(inode()->list());
    dir_snapshot_.clear();
    dir_snapshot_.push_back(DirEntry{".", inode()->ino(), kDtDir});
    auto parent = dentry_->parent() ? dentry_->parent()->inode() : inode();
    dir_snapshot_.push_back(DirEntry{"..", parent->ino(), kDtDir});
    for (auto& e : entries) dir_snapshot_.push_back(std::move(e));
  }
  usize written = 0;
  while (pos_ < dir_snapshot_.size()) {
    const DirEntry& e = dir_snapshot_[static_cast<usize>(pos_)];
    usize reclen = (19 + e.name.size() + 1 + 7) & ~usize{7};
    if (reclen > out.avail()) {
      if (written == 0) return Errno::einval;
      break;
    }
    std::vector<ostd::u8> rec(reclen, 0);
    auto put = [&](usize at, u64 v, usize n) {
      for (usize k = 0; k < n; ++k) rec[at + k] = static_cast<ostd::u8>(v >> (8 * k));
    };
    put(0, e.ino, 8);
    put(8, pos_ + 1, 8);
    put(16, reclen, 2);
    rec[18] = e.type;
    std::copy(e.name.begin(), e.name.end(), rec.begin() + 19);
    TRY(out.write_bytes(rec));
    written += reclen;
    ++pos_;
  }
  fsnotify(*dentry_, kInAccess);
  return written;
}

Result<void> InodeFile::truncate(u64 length) {
  if (!inode()->is_regular()) return Errno::einval;
  if (!writable()) return Errno::einval;
  TRY(inode()->truncate(length));
  fsnotify(*dentry_, kInModify);
  return {};
}

void InodeFile::on_last_close() {
  if (is_opath()) return;
  inode()->closed(writable());
  fsnotify(*dentry_, writable() ? kInCloseWrite : kInCloseNowrite);
}

Result<abi::Stat> DeviceFile::stat() { return dentry_->inode()->stat(); }

// ---- boot ----

namespace {

// Creates the directories of `path` below `root` as needed; returns the last one.
Result<std::shared_ptr<Inode>> make_dirs(const std::shared_ptr<Inode>& root, std::string_view path) {
  std::shared_ptr<Inode> cur = root;
  std::deque<std::string> comps;
  push_components(comps, path);
  for (const auto& c : comps) {
    auto next = cur->lookup(c);
    if (next.is_ok()) {
      cur = next.release_value();
      if (!cur->is_dir()) return Errno::enotdir;
    } else {
      cur = TRY(cur->create(c, abi::kSIfdir | 0755, 0));
    }
  }
  return cur;
}

// As Linux's initramfs unpacker: ownership, modes and times as archived, device numbers, and
// regular files with more than one link (the data comes with one of the names, in newc the
// last) made hard links of one inode.
Result<void> unpack_initramfs(const std::shared_ptr<Inode>& root, std::span<const ostd::u8> archive) {
  auto entries = TRY(cpio::parse(archive));
  std::map<u64, std::shared_ptr<Inode>> linked;
  for (const auto& e : entries) {
    if (e.path.empty()) {
      root->set_permissions(e.mode);
      root->uid = e.uid;
      root->gid = e.gid;
      continue;
    }
    auto slash = e.path.rfind('/');
    std::string dir = slash == std::string::npos ? std::string() : e.path.substr(0, slash);
    std::string name = slash == std::string::npos ? e.path : e.path.substr(slash + 1);
    if (name.empty() || name == "." || name == "..") continue;
    auto parent = TRY(make_dirs(root, dir));
    u32 type = e.mode & cpio::kTypeMask;
    std::shared_ptr<Inode> made;
    if (type == cpio::kTypeDirectory) {
      auto d = parent->lookup(name);
      if (d.is_ok()) {
        d.value()->set_permissions(e.mode);
        made = d.release_value();
      } else {
        made = TRY(parent->create(name, e.mode, 0));
      }
    } else if (type == cpio::kTypeSymlink) {
      (void)parent->unlink(name);
      std::string target(e.data.begin(), e.data.end());
      made = TRY(parent->symlink(name, target));
    } else if (type == cpio::kTypeRegular) {
      (void)parent->unlink(name);
      auto earlier = e.nlink > 1 ? linked.find(e.link_key) : linked.end();
      if (earlier != linked.end()) {
        made = earlier->second;
        TRY(parent->link(name, made));
      } else {
        made = TRY(parent->create(name, e.mode, 0));
        if (e.nlink > 1) linked[e.link_key] = made;
      }
      if (!e.data.empty()) {
        auto r = ostd::VmReader::from_kernel(e.data);
        TRY(made->write_at(0, r));
      }
    } else {
      (void)parent->unlink(name);
      made = TRY(parent->create(name, e.mode, make_dev(e.rdev_major, e.rdev_minor)));
    }
    made->uid = e.uid;
    made->gid = e.gid;
    made->mtime = made->atime = abi::Timespec{static_cast<ostd::i64>(e.mtime), 0};
  }
  return {};
}

}  // namespace

std::shared_ptr<Dentry> vfs_root() {
  auto& s = vfs();
  auto g = s.lock.lock();
  return s.root;
}

Result<void> init_root_fs(std::span<const ostd::u8> initramfs, std::shared_ptr<FileSystem> disk_root,
                          std::string root_source) {
  auto& s = vfs();
  std::shared_ptr<MountNamespace> old_ns;  // released after the lock
  {
    // A new boot (a fuzzer's next input in the same host process): the last boot's mounts go
    // with its root, or their file systems and everything left in them would stay forever.
    // (Namespaces a process of the last boot copied went with that process.)
    auto g = s.lock.lock();
    old_ns = std::exchange(s.first_ns, std::make_shared<MountNamespace>(kFirstMountNsInum));
  }
  if (old_ns) {
    auto g = old_ns->lock.lock();
    old_ns->mounts.clear();
  }
  const bool on_disk = disk_root != nullptr;
  if (on_disk) {
    // The root is a disk's file system (root=/dev/vda): the initramfs is not used.
    s.root_type = disk_root->type();
    s.root_source = std::move(root_source);
    s.root_fs = std::move(disk_root);
  } else {
    s.root_type = s.root_source = "rootfs";
    s.root_fs = make_ramfs();
    if (!initramfs.empty()) TRY(unpack_initramfs(s.root_fs->root(), initramfs));
  }
  s.root = std::make_shared<Dentry>(nullptr, "", s.root_fs->root());
  // The root mount: no flags of its own until a remount gives it some (Linux's rootfs and a
  // root= mount show "rw" or "ro" alone here too).
  s.root_flags = std::make_shared<MountFlags>();
  s.root_memory_read_only = false;
  s.root->enter_mount(s.root_flags);
  using namespace std::string_view_literals;
  for (std::string_view d : {"dev"sv, "proc"sv, "tmp"sv, "sys"sv, "run"sv}) {
    // A disk root keeps what it has (a read-only one cannot get more).
    if (on_disk && (s.root_fs->read_only() || s.root_fs->root()->lookup(d).is_ok())) continue;
    auto in = make_dirs(s.root_fs->root(), d);
    if (in.is_error()) continue;
    if (d == "tmp") {
      in.value()->set_permissions(01777);
      (void)in.value()->attributes_changed();
    }
  }
  FsContext ctx(s.root, s.root);
  ctx.mnt_ns = s.first_ns;
  auto dev = TRY(walk(PathLookup{ctx, nullptr, nullptr}, "/dev", true));
  TRY(mount_fs(ctx, dev, make_devfs(), "devtmpfs", mnt::kNosuid | mnt::kRelatime, ",mode=755"));
  // POSIX shared memory (shm_open) and semaphores live in a tmpfs of their own, as on Linux.
  if (auto shm = walk(PathLookup{ctx, nullptr, nullptr}, "/dev/shm", true);
      shm.is_ok() && shm.value()->inode()->is_dir()) {
    auto tmp = TRY(make_tmpfs(""));
    TRY(mount_fs(ctx, shm.value(), std::move(tmp.first), "tmpfs", mnt::kNosuid | mnt::kNodev, tmp.second));
  }
  auto proc = TRY(walk(PathLookup{ctx, nullptr, nullptr}, "/proc", true));
  constexpr u32 kSafe = mnt::kNosuid | mnt::kNodev | mnt::kNoexec | mnt::kRelatime;
  TRY(mount_fs(ctx, proc, make_procfs(), "proc", kSafe));
  if (auto sys = walk(PathLookup{ctx, nullptr, nullptr}, "/sys", true); sys.is_ok() && sys.value()->inode()->is_dir()) {
    TRY(mount_fs(ctx, sys.value(), make_sysfs(), "sysfs", kSafe));
  }
  // A host directory as the root: the guest's scratch files stay in the guest.
  if (s.root_type == "9p") {
    if (auto tmp = walk(PathLookup{ctx, nullptr, nullptr}, "/tmp", true);
        tmp.is_ok() && tmp.value()->inode()->is_dir()) {
      auto fs = make_ramfs();
      fs->root()->set_permissions(01777);
      TRY(mount_fs(ctx, tmp.value(), std::move(fs), "tmpfs", mnt::kNosuid | mnt::kNodev | mnt::kRelatime));
    }
  }
  return {};
}

Result<void> provide_root_file(std::string_view dir, std::string_view name, std::string_view content) {
  auto& s = vfs();
  if (!s.root_fs) return Errno::enoent;
  if (s.root_type != "rootfs") return Errno::erofs;  // a disk's files are the disk owner's
  auto d = TRY(s.root_fs->root()->lookup(dir));
  if (!d->is_dir()) return Errno::enotdir;
  if (d->lookup(name).is_ok()) return Errno::eexist;
  auto f = TRY(d->create(name, abi::kSIfreg | 0644, 0));
  auto r = ostd::VmReader::from_kernel(ostd::bytes_of_string(content));
  TRY(f->write_at(0, r));
  return {};
}

std::shared_ptr<FsContext> initial_fs_context() {
  auto& s = vfs();
  auto c = std::make_shared<FsContext>(s.root, s.root);
  auto g = s.lock.lock();
  c->mnt_ns = s.first_ns;
  return c;
}

Result<std::shared_ptr<File>> open_console_stream(int fd, const std::shared_ptr<Dentry>& console_node) {
  return console_stream(fd, console_node);
}

}  // namespace services
