// 9p: a share's files (a host directory) through the 9P2000.L client of fs/p9.h.
//
// Every inode holds a fid walked to its file; a lookup walks one name and asks for the
// attributes, so a path walk sees the server's tree as it is now — but for directories, which
// a lookup found in the last second are found again without asking (as FUSE's default entry
// timeout; rmdir and rename here forget them all), so a directory removed or renamed on the
// host may be reached by its old name for up to a second. Files are never cached by name.
// Inodes are shared while they live (one object per server file, by qid path), so open files,
// FIFOs and watches of one file meet.
//
// Caching: close-to-open, as NFS and Linux's v9fs cache=loose with revalidation. File data goes
// through a page cache (so mmap, exec and repeated reads share frames), checked against the
// server's size and modification time whenever the file is looked up, opened or fstat'ed: a
// file changed on the host is read afresh at the guest's next open or stat. Writes stay in the
// pages until the file is closed, fsync'ed or synced (and the flusher's five seconds), then go
// to the server in runs. Attributes are the server's: chmod, chown and utimes are sent as they
// happen.
#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ostd/log.h>
#include <ostd/mm/io.h>
#include <ostd/sync.h>
#include <ostd/time.h>

#include "device/devices.h"
#include "fs/p9.h"
#include "fs/pipe.h"
#include "fs/vfs.h"
#include "process/internal.h"
#include "vm/shared_pages.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u32;
using ostd::u64;
using ostd::u8;
using ostd::usize;

namespace {

constexpr ostd::Logger kLog{"9p"};
constexpr u64 kV9fsMagic = 0x01021997;
constexpr u32 kOWronly = 1, kOCreat = 0100, kOExcl = 0200, kODirectory = 0200000;
constexpr u32 kAtRemovedir = 0x200;
/// Page caches kept for files no inode uses any more (a program run again finds its pages).
constexpr usize kMaxIdleCaches = 2048;
// Directory lookups are remembered this long (FUSE's default entry timeout), this many at most.
constexpr u64 kDirCacheNs = ostd::kNsPerSec;
constexpr usize kMaxCachedDirs = 1024;

class P9Fs;

/// A file's data on the server: the page cache's source, with the fids it reads and writes
/// through. It outlives the inode (the cache is kept for the next open).
class P9Data final : public PageSource {
 public:
  P9Data(std::shared_ptr<p9::Client> c, u32 path_fid) : client_(std::move(c)), path_fid_(path_fid) {}
  P9Data(const P9Data&) = delete;
  P9Data& operator=(const P9Data&) = delete;
  P9Data(P9Data&&) = delete;
  P9Data& operator=(P9Data&&) = delete;
  ~P9Data() override {
    for (u32 f : {read_fid_, write_fid_, path_fid_}) {
      if (f != p9::kNoFid) client_->clunk(f);
    }
  }

  Result<void> fill(u64 index, ostd::Frame& frame) override {
    std::array<ostd::Frame, 1> one{frame};
    return fill_run(index, one);
  }
  Result<void> fill_run(u64 first, std::span<ostd::Frame> frames) override {
    u32 fid = TRY(read_fid());
    std::vector<u8> buf(frames.size() * ostd::kPageSize);
    usize got = TRY(client_->read(fid, first * ostd::kPageSize, buf));
    for (usize i = 0; i < frames.size() && i * ostd::kPageSize < got; ++i) {
      usize n = std::min<usize>(ostd::kPageSize, got - i * ostd::kPageSize);
      TRY(frames[i].write_bytes(0, std::span<const u8>(buf).subspan(i * ostd::kPageSize, n)));
    }
    return {};
  }

  /// A fid opened for reading (made at the first read).
  Result<u32> read_fid() { return opened(read_fid_, 0); }
  /// A fid opened for writing.
  Result<u32> write_fid() { return opened(write_fid_, kOWronly); }
  /// Adopts a fid the caller opened for writing (Tlcreate's).
  void adopt_write_fid(u32 fid) {
    auto g = lock_.lock();
    if (write_fid_ == p9::kNoFid) {
      write_fid_ = fid;
    } else {
      client_->clunk(fid);
    }
  }
  bool has_write_fid() const { return write_fid_ != p9::kNoFid; }

  /// What the server said when the cache was last checked (size and modification time).
  u64 seen_size = 0;
  abi::Timespec seen_mtime{};
  /// The cache holds our own writes since: the next check takes the server's new time as ours.
  bool own_writes = false;

 private:
  Result<u32> opened(u32& slot, u32 flags) {
    auto g = lock_.lock();
    if (slot != p9::kNoFid) return slot;
    auto [fid, qid] = TRY(client_->walk(path_fid_, ""));
    auto res = client_->lopen(fid, flags);
    if (res.is_error()) {
      client_->clunk(fid);
      return res.error();
    }
    slot = fid;
    return fid;
  }

  std::shared_ptr<p9::Client> client_;
  ostd::Mutex lock_;
  u32 path_fid_;
  u32 read_fid_ = p9::kNoFid;
  u32 write_fid_ = p9::kNoFid;
};

/// A regular file's cache: its pages and where they come from.
struct FileCache {
  std::shared_ptr<P9Data> data;
  std::shared_ptr<SharedPages> pages;
};

class P9Inode;

class P9Fs final : public FileSystem, public std::enable_shared_from_this<P9Fs> {
 public:
  P9Fs(std::shared_ptr<p9::Client> c, bool read_only) : FileSystem("9p"), client_(std::move(c)), ro_(read_only) {}
  P9Fs(const P9Fs&) = delete;
  P9Fs& operator=(const P9Fs&) = delete;
  P9Fs(P9Fs&&) = delete;
  P9Fs& operator=(P9Fs&&) = delete;
  ~P9Fs() override = default;

  Result<void> init();
  std::shared_ptr<Inode> root() override;
  u64 magic() const override { return kV9fsMagic; }
  std::optional<Stats> stats() const override;
  Result<void> sync() override;
  bool read_only() const override { return ro_; }
  Result<void> remount(bool read_only) override {
    if (!read_only && client_->transport().read_only()) return Errno::eacces;
    ro_ = read_only;
    return {};
  }
  Result<void> unmounted() override;
  bool busy(usize root_refs_held) const override;

  p9::Client& client() { return *client_; }
  /// The inode for the file `fid` names (which it adopts), with attributes `a`: the live one
  /// for that server file if there is one.
  Result<std::shared_ptr<P9Inode>> instantiate(u32 fid, const p9::Attr& a);
  /// The child `name` of directory fid `dir`.
  Result<std::shared_ptr<P9Inode>> walk_to(u32 dir, std::string_view name);
  /// The live inode for server file `path`, if any.
  std::shared_ptr<P9Inode> live(u64 path);
  /// The last lookup: `name` in directory `dir` found `node` (unlink and rmdir look their
  /// victim up first; this spares asking the server again).
  void remember_lookup(u64 dir, std::string_view name, const std::shared_ptr<P9Inode>& node) {
    auto g = lock_.lock();
    last_dir_ = dir;
    last_name_ = name;
    last_node_ = node;
  }
  std::shared_ptr<P9Inode> last_lookup(u64 dir, std::string_view name) {
    auto g = lock_.lock();
    return last_dir_ == dir && last_name_ == name ? last_node_.lock() : nullptr;
  }
  /// Directories looked up in the last kDirCacheNs: a path's directories are not asked for at
  /// every walk through them (each ask is a walk and a getattr). Files never are: open and stat
  /// always find the server's file of that name.
  std::shared_ptr<P9Inode> cached_dir(u64 dir, std::string_view name);
  void cache_dir(u64 dir, std::string_view name, const std::shared_ptr<P9Inode>& node);
  /// A directory went or moved here (rmdir, rename), or the mount is asked whether it is busy
  /// or goes: every cached directory is forgotten (const: the cache is no state of the mount).
  void forget_dirs() const;
  void forget(u64 path, const P9Inode* node);
  /// The page cache of file `path` (kept from before or made on `fid`'s file).
  Result<FileCache> cache_for(u64 path, u32 fid);
  /// Writes back what shared mappings dirtied in `c`.
  Result<void> write_back(const FileCache& c);
  /// Memory pressure: clean pages nobody maps go.
  void shrink();
  bool mounted() const { return mounted_; }
  Result<void> writable() const { return ro_ ? Result<void>(Errno::erofs) : Result<void>(); }

 private:
  std::shared_ptr<p9::Client> client_;
  bool ro_;
  bool mounted_ = true;
  mutable ostd::Mutex lock_;
  std::shared_ptr<P9Inode> root_;
  std::map<u64, std::weak_ptr<P9Inode>> live_;
  std::map<u64, FileCache> caches_;
  u64 last_dir_ = 0;
  std::string last_name_;
  std::weak_ptr<P9Inode> last_node_;
  struct CachedDir {
    std::shared_ptr<P9Inode> node;
    u64 expires_ns = 0;
  };
  // (parent directory, name) -> the directory; mutable: busy() lets go of it first.
  mutable std::map<std::pair<u64, std::string>, CachedDir> dirs_;
};

class P9Inode final : public Inode {
 public:
  P9Inode(std::shared_ptr<P9Fs> fs, u32 fid, const p9::Attr& a)
      : Inode(fs->dev(), a.mode, a.qid.path), fs_(std::move(fs)), fid_(fid) {
    if (type() == abi::kSIfifo) pipe_ = std::make_shared<Pipe>();
    apply(a);
  }
  P9Inode(const P9Inode&) = delete;
  P9Inode& operator=(const P9Inode&) = delete;
  P9Inode(P9Inode&&) = delete;
  P9Inode& operator=(P9Inode&&) = delete;
  ~P9Inode() override {
    if (cache_.pages && cache_.pages->has_dirty()) (void)fs_->write_back(cache_);
    fs_->forget(ino(), this);
    fs_->client().clunk(fid_);
  }

  u32 fid() const { return fid_; }
  void set_cache(FileCache c) { cache_ = std::move(c); }

  /// Takes the server's attributes; a regular file whose size or time changed behind our back
  /// loses its clean cached pages.
  void apply(const p9::Attr& a) {
    // Pages not written back yet: the size and times the guest made are the file's.
    const bool dirty = cache_.data && cache_.pages->has_dirty();
    const abi::Timespec keep_mtime = mtime, keep_ctime = ctime;
    uid = a.uid;
    gid = a.gid;
    nlink = static_cast<u32>(std::min<u64>(a.nlink, 0xffffffff));
    rdev = a.rdev;
    set_permissions(a.mode);
    atime = a.atime;
    mtime = dirty ? keep_mtime : a.mtime;
    ctime = dirty ? keep_ctime : a.ctime;
    blocks_ = a.blocks;
    blksize_ = a.blksize;
    seen_mode_ = a.mode & 07777;
    seen_uid_ = a.uid;
    seen_gid_ = a.gid;
    seen_atime_ = a.atime;
    seen_mtime_ = a.mtime;
    if (!cache_.data) {
      size_.store(a.size, std::memory_order_relaxed);
      return;
    }
    if (dirty) return;
    size_.store(a.size, std::memory_order_relaxed);
    P9Data& d = *cache_.data;
    const bool changed =
        d.seen_size != a.size || d.seen_mtime.tv_sec != a.mtime.tv_sec || d.seen_mtime.tv_nsec != a.mtime.tv_nsec;
    if (changed && !d.own_writes) {
      cache_.pages->drop_clean_unmapped();
      if (a.size < d.seen_size) cache_.pages->drop_from(ostd::page_align_up(a.size) / ostd::kPageSize);
    }
    d.own_writes = false;
    d.seen_size = a.size;
    d.seen_mtime = a.mtime;
    cache_.pages->set_file_size(a.size);
  }
  /// Asks the server again (open, fstat, the mount's root).
  Result<void> refresh() {
    auto a = TRY(fs_->client().getattr(fid_));
    apply(a);
    return {};
  }

  u64 size() const override { return size_.load(std::memory_order_relaxed); }
  abi::Stat stat() const override {
    abi::Stat st = Inode::stat();
    st.st_blocks = static_cast<ostd::i64>(blocks_);
    st.st_blksize = static_cast<ostd::i64>(blksize_ != 0 ? blksize_ : 4096);
    return st;
  }
  void revalidate() override { (void)refresh(); }
  void closed(bool was_writable) override {
    // Close-to-open: what this file's writers left in the cache reaches the server now.
    if (was_writable && cache_.data && cache_.pages->has_dirty()) (void)fs_->write_back(cache_);
  }
  Result<void> attributes_changed() override;

  Result<std::shared_ptr<Inode>> lookup(std::string_view name) override {
    if (!is_dir()) return Errno::enotdir;
    if (name.size() > kNameMax) return Errno::enametoolong;
    if (auto hit = fs_->cached_dir(ino(), name)) {
      fs_->remember_lookup(ino(), name, hit);
      return std::shared_ptr<Inode>(hit);
    }
    auto node = TRY(fs_->walk_to(fid_, name));
    fs_->remember_lookup(ino(), name, node);
    if (node->is_dir()) fs_->cache_dir(ino(), name, node);
    return std::shared_ptr<Inode>(node);
  }
  Result<std::shared_ptr<Inode>> create(std::string_view name, u32 mode, u64 device) override;
  Result<std::shared_ptr<Inode>> symlink(std::string_view name, std::string_view target) override {
    if (!is_dir()) return Errno::enotdir;
    TRY(fs_->writable());
    (void)TRY(fs_->client().symlink(fid_, name, target, gid));
    return std::shared_ptr<Inode>(TRY(fs_->walk_to(fid_, name)));
  }
  Result<void> link(std::string_view name, const std::shared_ptr<Inode>& target) override {
    if (!is_dir()) return Errno::enotdir;
    if (target->dev() != dev()) return Errno::exdev;
    TRY(fs_->writable());
    auto node = fs_->live(target->ino());
    if (!node) return Errno::enoent;
    TRY(fs_->client().link(fid_, node->fid(), name));
    (void)node->refresh();
    return {};
  }
  Result<void> unlink(std::string_view name) override { return remove(name, 0); }
  Result<void> rmdir(std::string_view name) override { return remove(name, kAtRemovedir); }
  Result<void> rename(std::string_view name, Inode& new_dir, std::string_view new_name) override {
    if (!is_dir()) return Errno::enotdir;
    if (new_dir.dev() != dev() || !new_dir.is_dir()) return Errno::exdev;
    TRY(fs_->writable());
    auto to = fs_->live(new_dir.ino());
    if (!to) return Errno::enoent;
    fs_->forget_dirs();
    TRY(fs_->client().renameat(fid_, name, to->fid(), new_name));
    return {};
  }
  Result<std::vector<DirEntry>> list() override;
  Result<std::string> readlink(const Process* /*caller*/) override {
    if (!is_symlink()) return Errno::einval;
    return fs_->client().readlink(fid_);
  }

  Result<usize> read_at(u64 off, ostd::VmWriter& out) override {
    if (is_dir()) return Errno::eisdir;
    if (!is_regular() || !cache_.pages) return Errno::einval;
    u64 size = this->size();
    if (off >= size) return usize{0};
    usize done = TRY(cache_.pages->read_to(off, std::min<u64>(out.avail(), size - off), out));
    if (memory_is_short()) reclaim_page_caches();
    return done;
  }
  Result<usize> write_at(u64 off, ostd::VmReader& in) override;
  Result<void> truncate(u64 length) override;
  std::shared_ptr<SharedPages> page_cache() override { return cache_.pages; }
  Result<void> sync_file() override {
    if (!cache_.data) return {};
    TRY(fs_->write_back(cache_));
    if (!cache_.data->has_write_fid()) return {};
    return fs_->client().fsync(TRY(cache_.data->write_fid()), false);
  }
  Result<std::shared_ptr<File>> open(const std::shared_ptr<Dentry>& d, u32 flags) override {
    const bool writing = (flags & kOAccMode) != kORdOnly;
    if (fs_->read_only() && writing && (is_regular() || is_dir())) return Errno::erofs;
    if (is_regular()) {
      TRY(refresh());
      // The server's own open now, not at the first read: a file unlinked meanwhile stays
      // readable through it (QEMU's server names files by path until they are opened).
      if (cache_.data) {
        if ((flags & kOAccMode) != kOWronly) (void)TRY(cache_.data->read_fid());
        if (writing) (void)TRY(cache_.data->write_fid());
      }
      return Inode::open(d, flags);
    }
    if (is_dir()) return Inode::open(d, flags);
    if (type() == abi::kSIfifo) return open_fifo(pipe_, d, flags);
    if (type() == abi::kSIfchr || type() == abi::kSIfblk) return open_device(type() == abi::kSIfchr, rdev, d, flags);
    if (is_symlink()) return Errno::eloop;
    return Errno::enxio;
  }

 private:
  Result<void> remove(std::string_view name, u32 flags) {
    if (!is_dir()) return Errno::enotdir;
    TRY(fs_->writable());
    // The victim, if alive here, learns it lost a name: the VFS looked it up just before (so
    // it is the last lookup), or it is asked for.
    std::shared_ptr<P9Inode> victim = fs_->last_lookup(ino(), name);
    if (!victim) {
      if (auto w = fs_->client().walk(fid_, name); w.is_ok()) {
        victim = fs_->live(w.value().second.path);
        fs_->client().clunk(w.value().first);
      }
    }
    if ((flags & kAtRemovedir) != 0) fs_->forget_dirs();
    TRY(fs_->client().unlinkat(fid_, name, flags));
    if (victim) victim->nlink = (flags & kAtRemovedir) != 0 || victim->nlink == 0 ? 0 : victim->nlink - 1;
    return {};
  }

  std::shared_ptr<P9Fs> fs_;
  u32 fid_;
  FileCache cache_;
  std::shared_ptr<Pipe> pipe_;
  ostd::Mutex io_lock_;  // writes and truncations of this file
  std::atomic<u64> size_{0};
  u64 blocks_ = 0, blksize_ = 0;
  // The attributes as the server last said, to send only what chmod/chown/utimes changed.
  u32 seen_mode_ = 0, seen_uid_ = 0, seen_gid_ = 0;
  abi::Timespec seen_atime_{}, seen_mtime_{};
};

// ---- P9Fs ----

Result<void> P9Fs::init() {
  auto [fid, qid] = TRY(client_->walk(client_->root_fid(), ""));
  auto a = client_->getattr(fid);
  if (a.is_error()) {
    client_->clunk(fid);
    return a.error();
  }
  root_ = TRY(instantiate(fid, a.value()));
  return {};
}

std::shared_ptr<Inode> P9Fs::root() {
  // Called at every walk across the mount: stat and open revalidate, not this.
  auto g = lock_.lock();
  return root_;
}

std::optional<FileSystem::Stats> P9Fs::stats() const {
  auto s = client_->statfs(client_->root_fid());
  if (s.is_error()) return std::nullopt;
  Stats st;
  st.block_size = s.value().bsize;
  st.blocks = s.value().blocks;
  st.free_blocks = s.value().bfree;
  st.available_blocks = s.value().bavail;
  st.files = s.value().files;
  st.free_files = s.value().ffree;
  st.name_max = s.value().namelen != 0 ? s.value().namelen : 255;
  return st;
}

Result<std::shared_ptr<P9Inode>> P9Fs::instantiate(u32 fid, const p9::Attr& a) {
  auto self = shared_from_this();
  std::shared_ptr<P9Inode> node;
  {
    auto g = lock_.lock();
    auto it = live_.find(a.qid.path);
    if (it != live_.end()) node = it->second.lock();
  }
  if (node && node->type() == (a.mode & abi::kSIfmt)) {
    client_->clunk(fid);
    node->apply(a);
    return node;
  }
  node = std::make_shared<P9Inode>(self, fid, a);
  if ((a.mode & abi::kSIfmt) == abi::kSIfreg) {
    node->set_cache(TRY(cache_for(a.qid.path, fid)));
    node->apply(a);
  }
  auto g = lock_.lock();
  live_[a.qid.path] = node;
  return node;
}

Result<std::shared_ptr<P9Inode>> P9Fs::walk_to(u32 dir, std::string_view name) {
  auto [fid, qid] = TRY(client_->walk(dir, name));
  auto a = client_->getattr(fid);
  if (a.is_error()) {
    client_->clunk(fid);
    return a.error();
  }
  return instantiate(fid, a.value());
}

std::shared_ptr<P9Inode> P9Fs::live(u64 path) {
  auto g = lock_.lock();
  auto it = live_.find(path);
  return it == live_.end() ? nullptr : it->second.lock();
}

void P9Fs::forget(u64 path, const P9Inode* node) {
  auto g = lock_.lock();
  auto it = live_.find(path);
  if (it != live_.end()) {
    auto cur = it->second.lock();
    if (!cur || cur.get() == node) live_.erase(it);
  }
}

Result<FileCache> P9Fs::cache_for(u64 path, u32 fid) {
  {
    auto g = lock_.lock();
    auto it = caches_.find(path);
    if (it != caches_.end()) return it->second;
  }
  auto [own, qid] = TRY(client_->walk(fid, ""));
  FileCache c;
  c.data = std::make_shared<P9Data>(client_, own);
  c.pages = std::make_shared<SharedPages>(c.data);
  auto g = lock_.lock();
  if (caches_.size() >= kMaxIdleCaches) {
    // Forget caches nobody uses (an inode or a mapping would hold a second reference).
    std::erase_if(caches_,
                  [](const auto& kv) { return kv.second.pages.use_count() == 1 && !kv.second.pages->has_dirty(); });
  }
  // Made meanwhile by another lookup of the same file: that one it is (ours goes, with its fid).
  return caches_.emplace(path, c).first->second;
}

Result<void> P9Fs::write_back(const FileCache& c) {
  if (!c.pages || ro_) return {};
  auto dirty = c.pages->take_dirty();
  if (dirty.empty()) return {};
  auto fid = c.data->write_fid();
  // Runs of consecutive pages go out as one write each (split by the message size).
  constexpr usize kMaxRun = 256;
  std::vector<u8> run;
  Result<void> res = fid.is_ok() ? Result<void>() : Result<void>(fid.error());
  for (usize i = 0; i < dirty.size() && res.is_ok();) {
    const u64 first = dirty[i].first;
    const u64 size = c.data->seen_size;
    usize j = i;
    run.clear();
    while (j < dirty.size() && dirty[j].first == first + (j - i) && j - i < kMaxRun) {
      const u64 at = dirty[j].first * ostd::kPageSize;
      if (at < size) {
        const usize n = static_cast<usize>(std::min<u64>(ostd::kPageSize, size - at));
        const usize old = run.size();
        run.resize(old + n);
        if (auto r = dirty[j].second.read_bytes(0, std::span<u8>(run).subspan(old, n)); r.is_error()) res = r;
      }
      ++j;
    }
    if (res.is_ok() && !run.empty()) {
      auto w = client_->write(fid.value(), first * ostd::kPageSize, run);
      if (w.is_error()) {
        res = w.error();
      } else if (w.value() < run.size()) {
        res = Errno::eio;
      }
    }
    c.data->own_writes = true;
    i = res.is_ok() ? j : i;
    if (res.is_error()) {
      // Still dirty: the next write-back tries again.
      for (usize k = i; k < dirty.size(); ++k) c.pages->mark_dirty(dirty[k].first);
    }
  }
  return res;
}

Result<void> P9Fs::sync() {
  std::vector<FileCache> all;
  {
    auto g = lock_.lock();
    for (auto& [path, c] : caches_) {
      if (c.pages->has_dirty()) all.push_back(c);
    }
  }
  Result<void> res;
  for (auto& c : all) {
    if (auto r = write_back(c); r.is_error() && res.is_ok()) res = r;
  }
  return res;
}

void P9Fs::shrink() {
  std::vector<FileCache> all;
  {
    auto g = lock_.lock();
    for (auto& [path, c] : caches_) all.push_back(c);
  }
  for (auto& c : all) {
    (void)write_back(c);
    c.pages->drop_clean_unmapped();
  }
  auto g = lock_.lock();
  std::erase_if(caches_,
                [](const auto& kv) { return kv.second.pages.use_count() == 1 && kv.second.pages->count() == 0; });
}

Result<void> P9Fs::unmounted() {
  auto res = sync();
  forget_dirs();
  std::shared_ptr<P9Inode> root;
  std::map<u64, FileCache> caches;
  {
    auto g = lock_.lock();
    mounted_ = false;
    root = std::move(root_);
    caches = std::move(caches_);
  }
  return res;
}

std::shared_ptr<P9Inode> P9Fs::cached_dir(u64 dir, std::string_view name) {
  auto g = lock_.lock();
  auto it = dirs_.find(std::pair<u64, std::string>(dir, std::string(name)));
  if (it == dirs_.end() || ostd::monotonic_ns() >= it->second.expires_ns) return nullptr;
  return it->second.node;
}

void P9Fs::cache_dir(u64 dir, std::string_view name, const std::shared_ptr<P9Inode>& node) {
  std::map<std::pair<u64, std::string>, CachedDir> gone;  // dies after the lock
  auto g = lock_.lock();
  const u64 now = ostd::monotonic_ns();
  if (dirs_.size() >= kMaxCachedDirs) {
    for (auto it = dirs_.begin(); it != dirs_.end();) {
      if (now >= it->second.expires_ns) {
        gone.insert(dirs_.extract(it++));
      } else {
        ++it;
      }
    }
    if (dirs_.size() >= kMaxCachedDirs) gone.merge(dirs_);
  }
  dirs_[std::pair<u64, std::string>(dir, std::string(name))] = CachedDir{node, now + kDirCacheNs};
}

void P9Fs::forget_dirs() const {
  std::map<std::pair<u64, std::string>, CachedDir> gone;
  auto g = lock_.lock();
  gone.swap(dirs_);
}

bool P9Fs::busy(usize root_refs_held) const {
  forget_dirs();  // the cache's references are no use of the file system
  auto g = lock_.lock();
  if (root_ && static_cast<usize>(root_.use_count()) > 1 + root_refs_held) return true;
  for (const auto& [path, weak] : live_) {
    if (root_ && path == root_->ino()) continue;
    if (!weak.expired()) return true;
  }
  return std::any_of(caches_.begin(), caches_.end(), [](const auto& kv) { return kv.second.pages.use_count() > 2; });
}

// ---- P9Inode ----

Result<void> P9Inode::attributes_changed() {
  TRY(fs_->writable());
  // Written data first: its write-back would move the times set here.
  if (cache_.data && cache_.pages->has_dirty()) TRY(fs_->write_back(cache_));
  p9::SetAttr s;
  if ((mode() & 07777) != seen_mode_) {
    s.valid |= p9::kSetMode;
    s.mode = mode() & 07777;
  }
  if (uid != seen_uid_) {
    s.valid |= p9::kSetUid;
    s.uid = uid;
  }
  if (gid != seen_gid_) {
    s.valid |= p9::kSetGid;
    s.gid = gid;
  }
  if (atime.tv_sec != seen_atime_.tv_sec || atime.tv_nsec != seen_atime_.tv_nsec) {
    s.valid |= p9::kSetAtime | p9::kSetAtimeSet;
    s.atime = atime;
  }
  if (mtime.tv_sec != seen_mtime_.tv_sec || mtime.tv_nsec != seen_mtime_.tv_nsec) {
    s.valid |= p9::kSetMtime | p9::kSetMtimeSet;
    s.mtime = mtime;
  }
  if (s.valid == 0) return {};
  s.valid |= p9::kSetCtime;
  auto res = fs_->client().setattr(fid_, s);
  if (res.is_error() || (s.valid & (p9::kSetUid | p9::kSetGid)) != 0) {
    // What the server made of it (a chown it ignores), or the old values back.
    (void)refresh();
    return res;
  }
  seen_mode_ = mode() & 07777;
  seen_atime_ = atime;
  seen_mtime_ = mtime;
  return res;
}

Result<std::shared_ptr<Inode>> P9Inode::create(std::string_view name, u32 mode, u64 device) {
  if (!is_dir()) return Errno::enotdir;
  TRY(fs_->writable());
  if (name.size() > kNameMax) return Errno::enametoolong;
  const u32 type = mode & abi::kSIfmt;
  auto& c = fs_->client();
  u32 opened = p9::kNoFid;
  switch (type) {
    case abi::kSIfreg: {
      auto [clone, q] = TRY(c.walk(fid_, ""));
      auto made = c.lcreate(clone, name, kOWronly | kOCreat | kOExcl, mode & 07777, gid);
      if (made.is_error()) {
        c.clunk(clone);
        return made.error();
      }
      opened = clone;
      break;
    }
    case abi::kSIfdir: (void)TRY(c.mkdir(fid_, name, mode & 07777, gid)); break;
    case abi::kSIfifo:
    case abi::kSIfchr:
    case abi::kSIfblk:
    case abi::kSIfsock: (void)TRY(c.mknod(fid_, name, mode, dev_major(device), dev_minor(device), gid)); break;
    default: return Errno::einval;
  }
  auto node = fs_->walk_to(fid_, name);
  if (node.is_error()) {
    if (opened != p9::kNoFid) c.clunk(opened);
    return node.error();
  }
  if (opened != p9::kNoFid) {
    if (node.value()->cache_.data) {
      node.value()->cache_.data->adopt_write_fid(opened);
    } else {
      c.clunk(opened);
    }
  }
  return std::shared_ptr<Inode>(node.release_value());
}

Result<std::vector<DirEntry>> P9Inode::list() {
  if (!is_dir()) return Errno::enotdir;
  auto& c = fs_->client();
  const u32 fid = TRY(c.walk(fid_, "")).first;
  std::vector<DirEntry> out;
  auto res = [&]() -> Result<void> {
    (void)TRY(c.lopen(fid, kODirectory));
    u64 offset = 0;
    for (;;) {
      auto batch = TRY(c.readdir(fid, offset));
      if (batch.empty()) return {};
      for (auto& e : batch) {
        offset = e.offset;
        if (e.name == "." || e.name == "..") continue;
        out.push_back(DirEntry{std::move(e.name), e.qid.path, e.type});
      }
    }
  }();
  c.clunk(fid);
  TRY(res);
  return out;
}

Result<usize> P9Inode::write_at(u64 off, ostd::VmReader& in) {
  if (is_dir()) return Errno::eisdir;
  if (!is_regular() || !cache_.data) return Errno::einval;
  TRY(fs_->writable());
  usize n = in.remain();
  if (n == 0) return usize{0};
  auto g = io_lock_.lock();
  // Into the page cache (write-back at close, fsync, sync and by the flusher); a page the write
  // covers whole is neither read from the server nor zeroed first.
  usize done = 0;
  while (done < n) {
    const u64 pos = off + done;
    const u64 index = pos / ostd::kPageSize;
    const usize in_page = pos % ostd::kPageSize;
    const usize chunk = std::min<usize>(n - done, ostd::kPageSize - in_page);
    bool uninit = false;
    Result<ostd::Frame> frame = Errno::enomem;
    if (chunk == ostd::kPageSize) {
      auto r = cache_.pages->get_for_overwrite(index);
      if (r.is_ok()) {
        uninit = r.value().second;
        frame = r.value().first;
      } else {
        frame = r.error();
      }
    } else {
      frame = cache_.pages->get_or_alloc(index);
    }
    if (frame.is_error()) return done > 0 ? Result<usize>(done) : Result<usize>(frame.error());
    auto w = frame.value().writer(in_page, chunk);
    auto r = in.read_to(w);
    const usize got = r.is_ok() ? r.value() : 0;
    if (uninit && got < chunk) {
      auto z = frame.value().writer(got, ostd::kPageSize - got);
      (void)z.fill_zeros(ostd::kPageSize - got);
    }
    if (got > 0) {
      // The size first, then the page is dirty: a write-back in between finds it inside.
      if (pos + got > size()) {
        size_.store(pos + got, std::memory_order_relaxed);
        cache_.data->seen_size = pos + got;
        cache_.pages->set_file_size(pos + got);
      }
      cache_.data->own_writes = true;
      cache_.pages->mark_dirty(index);
    }
    done += got;
    if (r.is_error() || got < chunk) {
      if (done == 0) return r.is_error() ? r.error() : Errno::efault;
      break;
    }
  }
  mtime = ctime = now_timespec();
  if (memory_is_short()) reclaim_page_caches();
  return done;
}

Result<void> P9Inode::truncate(u64 length) {
  if (is_dir()) return Errno::eisdir;
  if (!is_regular() || !cache_.data) return Errno::einval;
  TRY(fs_->writable());
  auto g = io_lock_.lock();
  p9::SetAttr s;
  s.valid = p9::kSetSize;
  s.size = length;
  // Through the opened fid where there is one (QEMU truncates an opened fid's file by its
  // descriptor, which still works once the name is gone).
  TRY(fs_->client().setattr(cache_.data->has_write_fid() ? TRY(cache_.data->write_fid()) : fid_, s));
  if (length < size()) {
    cache_.pages->drop_from(ostd::page_align_up(length) / ostd::kPageSize);
    unmap_truncated_pages(cache_.pages, ostd::page_align_up(length) / ostd::kPageSize);
    usize tail = length % ostd::kPageSize;
    if (tail != 0 && cache_.pages->resident(length / ostd::kPageSize)) {
      if (auto frame = cache_.pages->find(length / ostd::kPageSize)) {
        auto w = frame->writer(tail, ostd::kPageSize - tail);
        (void)w.fill_zeros(ostd::kPageSize - tail);
      }
    }
  }
  size_.store(length, std::memory_order_relaxed);
  cache_.data->seen_size = length;
  cache_.data->own_writes = true;
  cache_.pages->set_file_size(length);
  return {};
}

// Mounted 9P file systems, for sync(2), the flusher and memory pressure.
ostd::MutexProtected<std::vector<std::weak_ptr<P9Fs>>>& registry() {
  static ostd::MutexProtected<std::vector<std::weak_ptr<P9Fs>>> r;
  return r;
}

std::vector<std::shared_ptr<P9Fs>> mounted_9p() {
  return registry().with([](auto& all) {
    std::erase_if(all, [](const auto& w) { return w.expired(); });
    std::vector<std::shared_ptr<P9Fs>> out;
    for (const auto& w : all) {
      if (auto fs = w.lock(); fs && fs->mounted()) out.push_back(fs);
    }
    return out;
  });
}

}  // namespace

Result<std::shared_ptr<FileSystem>> make_9p(std::string_view tag, bool read_only) {
  auto t = p9::share_by_tag(tag);
  if (!t) return Errno::enoent;
  auto client = TRY(p9::Client::connect(t));
  auto fs = std::make_shared<P9Fs>(std::move(client), read_only || t->read_only());
  TRY(fs->init());
  registry().with([&](auto& all) { all.push_back(fs); });
  start_writeback_flusher();
  return std::shared_ptr<FileSystem>(fs);
}

void sync_9p_filesystems() {
  for (auto& fs : mounted_9p()) {
    if (auto r = fs->sync(); r.is_error()) kLog.warn("write-back to a 9p share failed: {}", r.error());
  }
}

void shrink_9p_filesystems() {
  for (auto& fs : mounted_9p()) fs->shrink();
}

}  // namespace services
