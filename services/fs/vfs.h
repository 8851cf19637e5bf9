// services/fs/vfs.h — the virtual file system: inodes, dentries, mounts and the path walk.
//
// An Inode is a file-system object (regular file, directory, symlink, device, FIFO). Each file
// system derives from it and overrides the operations its objects support; the defaults give
// the errno Linux gives for an object that does not support the operation (ENOTDIR, EINVAL...).
// A Dentry is a name in the tree: (parent dentry, name, inode). Dentries are made by the path
// walk and are not cached; the parent chain gives ".." and the absolute path, also across
// mount points. Mounts are kept in one table keyed by the mounted-on dentry's path.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ostd/error.h>
#include <ostd/mm/io.h>
#include <ostd/sync.h>
#include <ostd/types.h>

#include "abi/x86_64/stat.h"
#include "process/credentials.h"
#include "fs/file.h"

namespace services {

class Process;
class Thread;
class Inode;
class SharedPages;

inline constexpr ostd::usize kPathMax = 4096;
inline constexpr ostd::usize kNameMax = 255;
inline constexpr int kMaxSymlinks = 40;

// linux_dirent64 d_type values.
inline constexpr ostd::u8 kDtUnknown = 0, kDtFifo = 1, kDtChr = 2, kDtDir = 4, kDtBlk = 6, kDtReg = 8, kDtLnk = 10,
                          kDtSock = 12;
ostd::u8 dirent_type(ostd::u32 mode);

struct DirEntry {
  std::string name;
  ostd::u64 ino;
  ostd::u8 type;  // kDt*
};

/// A file system instance (one per mount of tmpfs/proc/devfs).
class FileSystem {
 public:
  explicit FileSystem(std::string type) : type_(std::move(type)) {}
  FileSystem(const FileSystem&) = delete;
  FileSystem& operator=(const FileSystem&) = delete;
  FileSystem(FileSystem&&) = delete;
  FileSystem& operator=(FileSystem&&) = delete;
  virtual ~FileSystem() = default;
  virtual std::shared_ptr<Inode> root() = 0;
  const std::string& type() const { return type_; }
  ostd::u64 dev() const { return dev_; }
  /// f_type of statfs (TMPFS_MAGIC, PROC_SUPER_MAGIC...).
  virtual ostd::u64 magic() const = 0;
  /// name_to_handle_at: the handle type and bytes naming `inode` for as long as it lives
  /// (EOPNOTSUPP where the file system has no handles).
  virtual ostd::Result<std::pair<int, std::vector<ostd::u8>>> encode_handle(const Inode& /*inode*/) {
    return ostd::Errno::eopnotsupp;
  }
  /// open_by_handle_at: the inode a handle names (ESTALE once it is gone, or for a handle this
  /// file system did not make).
  virtual ostd::Result<std::shared_ptr<Inode>> decode_handle(int /*type*/, std::span<const ostd::u8> /*bytes*/) {
    return ostd::Errno::estale;
  }
  /// What statfs reports; nullopt for file systems in memory (the VFS makes up their figures).
  struct Stats {
    ostd::u64 block_size = 0, blocks = 0, free_blocks = 0, available_blocks = 0, files = 0, free_files = 0;
    ostd::u32 name_max = 255;
  };
  virtual std::optional<Stats> stats() const { return std::nullopt; }
  /// Writes everything dirty to the device and flushes it (sync, syncfs; umount).
  virtual ostd::Result<void> sync() { return {}; }
  /// Whether it was mounted read-only (or its device is): changes are EROFS.
  virtual bool read_only() const { return false; }
  /// mount(MS_REMOUNT): read-only or read-write from now on. EACCES: read-write on a read-only
  /// device; EINVAL where the file system cannot change (the default).
  virtual ostd::Result<void> remount(bool /*read_only*/) { return ostd::Errno::einval; }
  /// The mount on `at` went (umount): a disk file system writes back and marks itself clean.
  virtual ostd::Result<void> unmounted() { return {}; }
  /// Whether something still uses it (umount's EBUSY): an open file, a working directory, a
  /// mapping — other than `root_refs_held` references to its root inode the caller holds.
  virtual bool busy(ostd::usize /*root_refs_held*/) const { return false; }

 private:
  std::string type_;
  ostd::u64 dev_ = next_dev()++;
  static ostd::u64& next_dev() {
    static ostd::u64 d = 1;
    return d;
  }
};

class Inode : public std::enable_shared_from_this<Inode> {
 public:
  /// A new inode of file system `dev` with a fresh inode number.
  Inode(ostd::u64 dev, ostd::u32 mode);
  /// An inode with the number its file system gives it (a disk inode).
  Inode(ostd::u64 dev, ostd::u32 mode, ostd::u64 ino);
  Inode(const Inode&) = delete;
  Inode& operator=(const Inode&) = delete;
  Inode(Inode&&) = delete;
  Inode& operator=(Inode&&) = delete;
  virtual ~Inode() = default;

  ostd::u64 dev() const { return dev_; }
  ostd::u64 ino() const { return ino_; }
  /// The generation number file handles carry (set by file systems that make handles).
  ostd::u32 generation = 0;
  ostd::u32 mode() const { return mode_; }
  ostd::u32 type() const { return mode_ & abi::kSIfmt; }
  bool is_dir() const { return type() == abi::kSIfdir; }
  bool is_symlink() const { return type() == abi::kSIflnk; }
  bool is_regular() const { return type() == abi::kSIfreg; }
  void set_permissions(ostd::u32 perm) {
    mode_ = (mode_ & abi::kSIfmt) | (perm & 07777);
    touch_ctime();
  }
  ostd::u32 uid = 0, gid = 0;
  ostd::u64 rdev = 0;
  ostd::u32 nlink = 1;
  /// File seals (F_ADD_SEALS): tmpfs files have them (F_SEAL_SEAL from the start, so only a
  /// memfd made with MFD_ALLOW_SEALING takes more); nullopt for files that cannot be sealed.
  std::optional<ostd::u32> seals;
  /// inotify watches on this inode (fs/inotify.cpp keeps them): the event hooks of fs/notify.h
  /// look no further while it is zero.
  std::atomic<ostd::u32> notify_watchers{0};
  /// Open files of this inode (InodeFile), and whether its last name is gone: the watches hear
  /// IN_DELETE_SELF when both hold, at the unlink or at the last close after it (Linux's final
  /// dput of the dentry).
  std::atomic<ostd::u32> open_files{0};
  bool unlinked = false;
  abi::Timespec atime{}, mtime{}, ctime{};
  void touch_mtime();
  void touch_ctime();

  /// Size in bytes (st_size).
  virtual ostd::u64 size() const { return 0; }
  virtual abi::Stat stat() const;
  /// Before stat and fstat: a file system whose files change behind its back (a 9P share)
  /// takes their attributes afresh.
  virtual void revalidate() {}
  /// chmod, chown or utimes changed the mode, owner or times in place: a file system that keeps
  /// them elsewhere (a server) sends them now. An error leaves the attributes as they were.
  virtual ostd::Result<void> attributes_changed() { return {}; }
  /// The last descriptor of an open file of this inode went (`was_writable`: it was open for
  /// writing): a file system that caches writes for a server sends them now (close-to-open).
  virtual void closed(bool /*was_writable*/) {}

  // ---- directories (default: ENOTDIR) ----
  /// The child called `name` (never "." or ".."); ENOENT when absent.
  virtual ostd::Result<std::shared_ptr<Inode>> lookup(std::string_view name);
  /// Makes a new regular file, directory, FIFO, device node or socket; EEXIST when present.
  virtual ostd::Result<std::shared_ptr<Inode>> create(std::string_view name, ostd::u32 mode, ostd::u64 rdev);
  virtual ostd::Result<std::shared_ptr<Inode>> symlink(std::string_view name, std::string_view target);
  /// Adds a hard link to `target` (not a directory).
  virtual ostd::Result<void> link(std::string_view name, const std::shared_ptr<Inode>& target);
  /// Removes a non-directory entry (EISDIR for a directory).
  virtual ostd::Result<void> unlink(std::string_view name);
  /// Removes an empty directory (ENOTEMPTY otherwise, ENOTDIR for a non-directory).
  virtual ostd::Result<void> rmdir(std::string_view name);
  /// Moves `name` to `new_dir`/`new_name`, replacing what is there as rename(2) allows.
  virtual ostd::Result<void> rename(std::string_view name, Inode& new_dir, std::string_view new_name);
  /// The entries, without "." and "..".
  virtual ostd::Result<std::vector<DirEntry>> list();

  // ---- symlinks (default: EINVAL) ----
  /// The link target; `caller` is the reading process (for /proc/self).
  virtual ostd::Result<std::string> readlink(const Process* caller);
  /// For "magic" links (/proc/<pid>/fd/N): the open file the link stands for. Following such a
  /// link reaches that file itself (also pipes and anonymous files), not a path named by it.
  virtual std::shared_ptr<File> magic_target(const Process* /*caller*/) { return nullptr; }
  /// Whether this is a magic link (/proc/PID/{fd/N,exe,cwd,root,ns/*}): one that stands for an
  /// object rather than naming a path (RESOLVE_NO_MAGICLINKS refuses it).
  virtual bool is_magic_link() const { return false; }

  // ---- regular files (default: EINVAL / EISDIR) ----
  virtual ostd::Result<ostd::usize> read_at(ostd::u64 off, ostd::VmWriter& out);
  virtual ostd::Result<ostd::usize> write_at(ostd::u64 off, ostd::VmReader& in);
  virtual ostd::Result<void> truncate(ostd::u64 length);
  /// The file's pages when its contents live in frames (tmpfs): mmap maps them directly, so
  /// MAP_SHARED mappings and read/write see each other. nullptr otherwise.
  virtual std::shared_ptr<SharedPages> page_cache() { return nullptr; }
  /// fsync/fdatasync: makes the file's data (and what finds it) durable on its device.
  virtual ostd::Result<void> sync_file() { return {}; }

  // ---- extended attributes (fs/xattr.cpp) ----
  /// Whether the file system keeps extended attributes for this inode (tmpfs does; proc,
  /// pipes and sockets do not: getting or setting one there is EOPNOTSUPP).
  virtual bool keeps_xattrs() const { return false; }
  /// The attributes, name -> value, under their lock.
  ostd::MutexProtected<std::map<std::string, std::vector<ostd::u8>, std::less<>>>& xattrs() { return xattrs_; }

  /// Opens the inode: the default gives a seekable file over read_at/write_at (or a directory
  /// handle). Device nodes and FIFOs override this.
  virtual ostd::Result<std::shared_ptr<File>> open(const std::shared_ptr<class Dentry>& d, ostd::u32 flags);

 private:
  ostd::u64 dev_;
  ostd::u64 ino_;
  ostd::u32 mode_;
  ostd::MutexProtected<std::map<std::string, std::vector<ostd::u8>, std::less<>>> xattrs_;
};

// File seals (fcntl F_ADD_SEALS / F_GET_SEALS).
inline constexpr ostd::u32 kSealSeal = 1, kSealShrink = 2, kSealGrow = 4, kSealWrite = 8, kSealFutureWrite = 0x10;

/// A mount's own flags (Linux's MNT_*: what mount(2) gives a new mount and MS_REMOUNT changes),
/// as bits of MountFlags.
namespace mnt {
inline constexpr ostd::u32 kReadOnly = 1, kNosuid = 2, kNodev = 4, kNoexec = 8, kNoatime = 0x10, kNodiratime = 0x20,
                           kRelatime = 0x40, kNosymfollow = 0x80;
/// The access-time bits a remount keeps unless it names one (MNT_ATIME_MASK).
inline constexpr ostd::u32 kAtimeMask = kNoatime | kNodiratime | kRelatime;
/// What mount(2)'s MS_* flags make of a mount's flags: `old` is the mount's present flags for a
/// remount (whose access-time bits stay unless the call names one), nullopt for a new mount
/// (relatime unless MS_NOATIME or MS_STRICTATIME), as Linux's path_mount.
ostd::u32 from_ms_flags(ostd::u64 ms_flags, std::optional<ostd::u32> old);
/// ",nosuid,nodev,noexec,noatime,nodiratime,relatime,nosymfollow" as far as set (show_mnt_opts).
std::string options_of(ostd::u32 flags);
/// statfs's f_flags bits for them (flags_by_mnt), without ST_VALID.
ostd::u64 statfs_flags_of(ostd::u32 flags);
}  // namespace mnt

/// A mount's own flags, shared by every name reached through it, so a change applies to names
/// looked up before it too.
struct MountFlags {
  std::atomic<ostd::u32> bits{0};
  ostd::u32 get() const { return bits.load(std::memory_order_relaxed); }
  bool has(ostd::u32 flag) const { return (get() & flag) != 0; }
};

/// A name in the directory tree.
class Dentry : public std::enable_shared_from_this<Dentry> {
 public:
  Dentry(std::shared_ptr<Dentry> parent, std::string name, std::shared_ptr<Inode> inode)
      : parent_(std::move(parent)), name_(std::move(name)), inode_(std::move(inode)),
        mount_(parent_ ? parent_->mount_ : nullptr) {}
  /// This name is where the walk entered a mount: names below it carry the mount's flags.
  void enter_mount(std::shared_ptr<MountFlags> m) {
    mount_ = std::move(m);
    mount_root_ = true;
  }
  /// The flags of the mount this name was reached through (nullptr: the namespace's root).
  const std::shared_ptr<MountFlags>& mount() const { return mount_; }
  /// Whether the walk entered a mount here (its root, for MS_REMOUNT|MS_BIND).
  bool is_mount_root() const { return mount_root_; }
  /// EROFS when the mount this name was reached through is read-only (Linux's
  /// mnt_want_write): no change goes through it, whatever its file system allows.
  ostd::Result<void> want_write() const {
    if (mount_has(mnt::kReadOnly)) return ostd::Errno::erofs;
    return {};
  }
  /// Whether the mount this name was reached through has `flag` (mnt::k*); the namespace's
  /// root has none.
  bool mount_has(ostd::u32 flag) const { return mount_ && mount_->has(flag); }
  const std::shared_ptr<Dentry>& parent() const { return parent_; }
  const std::string& name() const { return name_; }
  const std::shared_ptr<Inode>& inode() const { return inode_; }
  /// The absolute path ("/" for the root).
  std::string path() const;
  /// The path as seen from `root` (a chroot): "/" + the names below it, or nullopt when this
  /// dentry is not under `root` (getcwd's "(unreachable)").
  std::optional<std::string> path_from(const Dentry& root) const;
  /// Whether this is the root of the whole tree.
  bool is_root() const { return parent_ == nullptr; }

 private:
  // "/" and the names from `root` (nullptr: the top of the tree) down to this dentry.
  std::optional<std::string> names_from(const Dentry* root) const;

  std::shared_ptr<Dentry> parent_;
  std::string name_;
  std::shared_ptr<Inode> inode_;
  std::shared_ptr<MountFlags> mount_;
  bool mount_root_ = false;
};

/// A mount namespace: what is mounted where, as the processes in it see it. unshare and clone
/// with CLONE_NEWNS copy one (mounts are private: nothing propagates between copies); all share
/// the root file system itself. Defined in fs/vfs.cpp.
class MountNamespace;
class FsContext;
/// The first mount namespace's nsfs inode number (as Linux's usually is).
inline constexpr ostd::u32 kFirstMountNsInum = 0xF0000001;
/// A copy of fs's namespace with the same mounts (new mount ids).
std::shared_ptr<MountNamespace> copy_mount_namespace(const FsContext& fs);
/// Its nsfs inode number (/proc/PID/ns/mnt).
ostd::u32 mount_namespace_inum(const MountNamespace& ns);

/// Root and working directory and umask of a process (shared with CLONE_FS), and the mount
/// namespace its paths are walked in.
class FsContext {
 public:
  FsContext(std::shared_ptr<Dentry> root, std::shared_ptr<Dentry> cwd) : root_(std::move(root)), cwd_(std::move(cwd)) {}
  std::shared_ptr<MountNamespace> mnt_ns;
  std::shared_ptr<FsContext> clone() const;
  std::shared_ptr<Dentry> root() const { return root_; }
  std::shared_ptr<Dentry> cwd() const { return cwd_; }
  void set_cwd(std::shared_ptr<Dentry> d) { cwd_ = std::move(d); }
  void set_root(std::shared_ptr<Dentry> d) { root_ = std::move(d); }
  ostd::u32 umask = 022;

 private:
  std::shared_ptr<Dentry> root_;
  std::shared_ptr<Dentry> cwd_;
};

// ---- mounts ----
struct MountInfo {
  std::string source, target, type;
  /// The file system's own options after its rw/ro word (",size=...,mode=..." for a tmpfs).
  std::string fs_options;
  ostd::u32 flags = 0;        // the mount's own flags (mnt::k*)
  bool fs_read_only = false;  // the file system (the superblock) is read-only
  ostd::u64 dev = 0;          // the mounted file system's device number
  ostd::u32 id = 0;           // the mount's id (/proc/PID/mountinfo)
  std::string root = "/";     // what of the file system is mounted (a bind mount's directory)
  /// /proc/mounts's options: "ro" when the mount or its file system is read-only, the mount's
  /// flags, then the file system's options (show_vfsmnt).
  std::string options() const;
  /// /proc/PID/mountinfo's per-mount options ("rw,nosuid,relatime") and super options
  /// ("rw,size=...": the file system's).
  std::string mount_options() const;
  std::string super_options() const;
};
/// Mounts `fs` on the directory `at` (which must be a directory) in fs's mount namespace, with
/// the mount's own flags `flags` (mnt::k*; a read-only file system makes no read-only mount) and
/// the file system's options `fs_options` (",key=value..." as /proc/mounts shows them).
ostd::Result<void> mount_fs(const FsContext& fs, const std::shared_ptr<Dentry>& at, std::shared_ptr<FileSystem> fsys,
                            std::string source, ostd::u32 flags, std::string fs_options = {});
/// Unmounts what is mounted on `at` (EINVAL when nothing is; EBUSY while the file system is in
/// use, unless `detach`: MNT_DETACH). The file system hears unmounted() when it was its last
/// mount in the namespace.
ostd::Result<void> unmount(const FsContext& fs, const std::shared_ptr<Dentry>& at, bool detach = false);
/// mount --bind: what `source` names (a directory, or a file, and what is mounted beneath it)
/// also at `at`. ENOTDIR when one is a directory and the other not; EINVAL for an object on
/// no mounted file system (a pipe).
ostd::Result<void> bind_mount(const FsContext& fs, const std::shared_ptr<Dentry>& source,
                              const std::shared_ptr<Dentry>& at);
/// MS_MOVE: the mount whose root is `source` is at `at` from now on. EINVAL when `source` is no
/// mount's root or one is a directory and the other not; ELOOP when `at` lies beneath it.
ostd::Result<void> move_mount(const FsContext& fs, const std::shared_ptr<Dentry>& source,
                              const std::shared_ptr<Dentry>& at);
/// MS_REMOUNT of the mount whose root is `at` (the MS_* flags `ms_flags`): the file system
/// changes to read-only or read-write, and the mount takes the flags the call names (Linux's
/// do_remount: reconfigure_super, then set_mount_attributes). EINVAL when `at` is no mount's root.
ostd::Result<void> remount(const FsContext& fs, const std::shared_ptr<Dentry>& at, ostd::u64 ms_flags);
/// MS_REMOUNT|MS_BIND: only the mount at `at` (a bind mount's, or any mount's) takes the flags
/// `ms_flags` names (read-only, nosuid, nodev, noexec, access times, nosymfollow); its file
/// system and its other mounts stay as they are. EINVAL when `at` is no mount's root (the
/// namespace's root included).
ostd::Result<void> remount_mount(const FsContext& fs, const std::shared_ptr<Dentry>& at, ostd::u64 ms_flags);
/// The mounts of fs's namespace, the root first.
std::vector<MountInfo> mounts(const FsContext& fs);
/// statfs f_type of the file system with device number `dev` (0 when unknown).
ostd::u64 fs_magic_of_dev(const FsContext& fs, ostd::u64 dev);
/// The file system with device number `dev` mounted in fs's namespace (nullptr when none is).
std::shared_ptr<FileSystem> filesystem_of_dev(const FsContext& fs, ostd::u64 dev);
/// The id of the mount of the file system `dev` (/proc/PID/mountinfo, statx's stx_mnt_id).
ostd::u32 mount_id_of_dev(const FsContext& fs, ostd::u64 dev);
/// pivot_root's checks, in Linux's order, for new_root and put_old (EBUSY when either is on the
/// root's mount, EINVAL otherwise: the root is the initramfs's rootfs, which Linux never
/// pivots either).
ostd::Result<void> pivot_root_check(const FsContext& fs, const std::shared_ptr<Dentry>& new_root,
                                    const std::shared_ptr<Dentry>& put_old);
/// Drops the fcntl record locks a process holds (when it exits).
void release_record_locks(ostd::i32 pid);
/// The file system type names known to mount(2) (for /proc/filesystems).
std::vector<std::string> filesystem_types();
ostd::Result<std::shared_ptr<FileSystem>> make_filesystem(std::string_view type);
/// The mqueue file system of POSIX message queues (ipc/mqueue.cpp): one for the whole kernel,
/// as Linux has one per IPC namespace; every mount shows it.
std::shared_ptr<FileSystem> mqueue_filesystem();

// ---- permissions (fs/permission.cpp) ----
inline constexpr ostd::u32 kMayExec = 1, kMayWrite = 2, kMayRead = 4;
/// generic_permission: whether `c` may read, write or execute/search (`mask`) `inode`, by its
/// owner, group and other bits and the DAC capabilities; EACCES if not.
ostd::Result<void> inode_permission(const Credentials& c, const Inode& inode, ostd::u32 mask);
/// The file's owner, or CAP_FOWNER (chmod, utimes with explicit times...).
bool owner_or_capable(const Credentials& c, const Inode& inode);
/// Making an entry in `dir`: write and search permission (EACCES).
ostd::Result<void> may_create_in(const Credentials& c, const Inode& dir);
/// Removing `victim` from `dir`: write and search permission (EACCES), and in a sticky directory
/// ownership of the file or the directory, or CAP_FOWNER (EPERM).
ostd::Result<void> may_delete_from(const Credentials& c, const Inode& dir, const Inode& victim);
/// A hard link to `target` (EPERM as with fs.protected_hardlinks = 1).
ostd::Result<void> may_link(const Credentials& c, const Inode& target);
/// A new inode's owner: the fsuid, and the fsgid or a set-group-ID parent's group.
void set_new_owner(Inode& child, const Inode& dir, const Credentials& c);

// ---- path walk ----
/// openat2's RESOLVE_* flags, as PathLookup::resolve takes them.
inline constexpr ostd::u32 kResolveNoXdev = 0x01, kResolveNoMagiclinks = 0x02, kResolveNoSymlinks = 0x04,
                           kResolveBeneath = 0x08, kResolveInRoot = 0x10, kResolveCached = 0x20;

struct PathLookup {
  const FsContext& fs;
  std::shared_ptr<Dentry> start;  // for relative paths; nullptr means the cwd
  const Process* caller = nullptr;
  /// RESOLVE_* restrictions: BENEATH and IN_ROOT scope the walk to `start` (EXDEV for escaping
  /// it; IN_ROOT treats it as the root), NO_XDEV refuses to cross a mount (EXDEV),
  /// NO_SYMLINKS and NO_MAGICLINKS refuse to follow those links (ELOOP).
  ostd::u32 resolve = 0;
};

/// Resolves `path`; follows a final symlink when `follow`. A trailing slash requires a
/// directory (and follows). ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG as Linux.
ostd::Result<std::shared_ptr<Dentry>> walk(const PathLookup& at, std::string_view path, bool follow);
/// Resolves all but the last component: returns the parent directory and the last name
/// ("." / ".." / "" are returned as is for the caller to reject). `trailing_slash` is set when
/// the path ended with "/".
struct ParentAndName {
  std::shared_ptr<Dentry> parent;
  std::string name;
  bool trailing_slash = false;
};
ostd::Result<ParentAndName> walk_parent(const PathLookup& at, std::string_view path);

ostd::Result<std::shared_ptr<Dentry>> lookup_path(FsContext& fs, std::string_view path, bool follow);
/// Resolves relative to `dirfd` (AT_FDCWD or an open directory) for the calling thread.
ostd::Result<std::shared_ptr<Dentry>> lookup_path(Thread& self, int dirfd, std::string_view path, bool follow);
/// The starting directory for dirfd-relative calls (cwd for AT_FDCWD; ENOTDIR/EBADF).
ostd::Result<std::shared_ptr<Dentry>> dirfd_start(Thread& self, int dirfd, std::string_view path);

ostd::Result<std::vector<ostd::u8>> read_entire_file(const std::shared_ptr<Dentry>& d);
ostd::u32 dentry_mode(const std::shared_ptr<Dentry>& d);
std::string dentry_path(const std::shared_ptr<Dentry>& d);

/// Opens `d` with open(2) flags (access checks done by the caller).
ostd::Result<std::shared_ptr<File>> open_dentry(const std::shared_ptr<Dentry>& d, ostd::u32 flags);

// ---- boot ----
/// The root of the whole tree (what a chroot leaves behind; setns to the mount namespace).
std::shared_ptr<Dentry> vfs_root();
/// Builds the root tmpfs from the initramfs — or, given `disk_root`, makes that file system the
/// root (`root_source` names it in /proc/mounts) — and mounts /dev and /proc.
ostd::Result<void> init_root_fs(std::span<const ostd::u8> initramfs, std::shared_ptr<FileSystem> disk_root = nullptr,
                                std::string root_source = {});
std::shared_ptr<FsContext> initial_fs_context();
/// Creates the regular file `/dir/name` (0644, root's) with `content` in the root file system,
/// unless it exists (EEXIST) or `/dir` does not (ENOENT): files the kernel provides, such as
/// /etc/resolv.conf for its network.
ostd::Result<void> provide_root_file(std::string_view dir, std::string_view name, std::string_view content);
/// The console as file descriptor 0, 1 or 2 of the first process.
ostd::Result<std::shared_ptr<File>> open_console_stream(int fd, const std::shared_ptr<Dentry>& console_node);

// ---- file systems (fs/ramfs.cpp, fs/devfs.cpp, fs/procfs.cpp) ----
std::shared_ptr<FileSystem> make_ramfs(std::string type = "tmpfs");
/// tmpfs with mount(2)'s data options (size=N[kmg%], nr_inodes=N[kmg], mode=, uid=, gid=; EINVAL
/// for others), and what /proc/mounts shows of them (",size=64k,mode=700").
ostd::Result<std::pair<std::shared_ptr<FileSystem>, std::string>> make_tmpfs(std::string_view options);
std::shared_ptr<FileSystem> make_devfs();
std::shared_ptr<FileSystem> make_procfs();
/// /sys: CPUs, disks, network interfaces (fs/procfs.cpp).
std::shared_ptr<FileSystem> make_sysfs();
class BlockDevice;
/// The ext2 family on `disk` (fs/ext2.cpp), mounted as `type`: "ext2" (no journal to recover,
/// none of ext4's additions), "ext3" (a journal) or "ext4" (also extents, 64-bit descriptors,
/// flexible groups and the rest this driver reads; read-only). EINVAL when the disk holds no
/// file system of that type this kernel can mount (bad superblock, unknown incompatible
/// features, a journal to recover), EROFS for a read-write mount of features it only reads,
/// EBUSY when it is mounted already.
ostd::Result<std::shared_ptr<FileSystem>> make_ext2(const std::shared_ptr<BlockDevice>& disk, bool read_only,
                                                    std::string_view type = "ext2");
/// Which of ext2, ext3 and ext4 the disk's superblock describes (EINVAL: none).
ostd::Result<std::string> ext_type_of(const std::shared_ptr<BlockDevice>& disk);
/// 9P2000.L on the share called `tag` (fs/v9fs.cpp): ENOENT when there is no such share, EIO
/// when its server does not speak 9P2000.L.
ostd::Result<std::shared_ptr<FileSystem>> make_9p(std::string_view tag, bool read_only);
void sync_9p_filesystems();
void shrink_9p_filesystems();
/// Starts the task that writes back every disk file system and share every five seconds.
void start_writeback_flusher();
/// sync(2): writes back every disk file system.
void sync_all_filesystems();
/// Memory pressure: disk file systems write back their page caches and drop the clean pages
/// nobody maps (read-only ones drop theirs too).
void reclaim_page_caches();
/// Whether page caches should give memory back (less than an eighth of it is free).
bool memory_is_short();
/// Power-off: every disk file system written back and marked clean, the flusher stopped.
void shutdown_filesystems();

/// A file over an inode (regular files and directories): position, read/write/seek/getdents.
class InodeFile : public File {
 public:
  InodeFile(std::shared_ptr<Dentry> d, ostd::u32 flags);
  InodeFile(const InodeFile&) = delete;
  InodeFile& operator=(const InodeFile&) = delete;
  InodeFile(InodeFile&&) = delete;
  InodeFile& operator=(InodeFile&&) = delete;
  ~InodeFile() override;
  ostd::Result<ostd::usize> read(Thread& self, ostd::VmWriter& out) override;
  ostd::Result<ostd::usize> write(Thread& self, ostd::VmReader& in) override;
  ostd::Result<ostd::usize> read_at(Thread& self, ostd::u64 offset, ostd::VmWriter& out) override;
  ostd::Result<ostd::usize> write_at(Thread& self, ostd::u64 offset, ostd::VmReader& in) override;
  ostd::Result<ostd::i64> seek(ostd::i64 offset, int whence) override;
  ostd::Result<abi::Stat> stat() override;
  ostd::Result<ostd::usize> getdents(Thread& self, ostd::VmWriter& out) override;
  ostd::Result<void> truncate(ostd::u64 length) override;
  void on_last_close() override;
  ostd::u32 poll_events() override { return kPollIn | kPollOut; }
  std::shared_ptr<Dentry> dentry() const override { return dentry_; }
  const std::shared_ptr<Inode>& inode() const { return dentry_->inode(); }

 private:
  std::shared_ptr<Dentry> dentry_;
  ostd::Mutex lock_;
  ostd::u64 pos_ = 0;
  // Directory reading: a snapshot taken at offset 0, indexed by position.
  std::vector<DirEntry> dir_snapshot_;
};

/// A file that is not a regular file but still has a dentry (devices, FIFOs): stat comes from
/// the inode.
class DeviceFile : public File {
 public:
  explicit DeviceFile(std::shared_ptr<Dentry> d) : dentry_(std::move(d)) {}
  ostd::Result<abi::Stat> stat() override;
  std::shared_ptr<Dentry> dentry() const override { return dentry_; }

 private:
  std::shared_ptr<Dentry> dentry_;
};

/// A file shrank: its pages from `first_index` on leave every address space that maps them
/// (fs/memfd.cpp), so touching them faults afresh (SIGBUS past the end).
void unmap_truncated_pages(const std::shared_ptr<SharedPages>& pages, ostd::u64 first_index);

/// A current time as a Timespec (realtime clock).
abi::Timespec now_timespec();

}  // namespace services
