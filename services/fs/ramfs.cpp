// ramfs/tmpfs: directories, regular files, symlinks, FIFOs and device nodes kept in memory.
#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <optional>

#include <ostd/bytes.h>
#include <ostd/format.h>
#include <ostd/mm/frame.h>
#include <ostd/mm/io.h>

#include "device/devices.h"
#include "fs/pipe.h"
#include "fs/vfs.h"
#include "vm/shared_pages.h"

#include "process/internal.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u32;
using ostd::u64;
using ostd::usize;

namespace {

constexpr int kFileidIno32Gen = 1;

constexpr u64 kTmpfsMagic = 0x01021994;
// The largest file tmpfs accepts (EFBIG beyond); memory runs out first in practice.
constexpr u64 kMaxFileSize = u64{1} << 34;

// tmpfs's size= in pages (0: no limit) and the pages its files hold, as write(2) and
// truncate count them (pages a shared mapping faulted in are counted at the file's next write,
// truncation or end).
struct PageBudget {
  u64 max_pages = 0;
  std::atomic<u64> used{0};
};

// A regular file whose contents are frames (its page cache): read/write copy to and from
// them, and mmap maps them.
class RamFile final : public Inode {
 public:
  bool keeps_xattrs() const override { return true; }
  RamFile(u64 dev, u32 mode, std::shared_ptr<PageBudget> budget = nullptr)
      : Inode(dev, mode), budget_(std::move(budget)) {
    pages_->set_file_size(0);
    seals = kSealSeal;
  }
  RamFile(const RamFile&) = delete;
  RamFile& operator=(const RamFile&) = delete;
  RamFile(RamFile&&) = delete;
  RamFile& operator=(RamFile&&) = delete;
  ~RamFile() override {
    if (budget_) budget_->used.fetch_sub(std::min<u64>(accounted_, budget_->used.load()));
  }
  u64 size() const override {
    auto g = lock_.lock();
    return size_;
  }
  Result<usize> read_at(u64 off, ostd::VmWriter& out) override {
    auto g = lock_.lock();
    if (off >= size_) return usize{0};
    return pages_->read_to(off, std::min<u64>(out.avail(), size_ - off), out);
  }
  Result<usize> write_at(u64 off, ostd::VmReader& in) override {
    auto g = lock_.lock();
    usize n = in.remain();
    if (n == 0) return usize{0};
    if (off >= kMaxFileSize || n > kMaxFileSize - off) return Errno::efbig;
    // Sealed: no writes at all, or none past the end (shmem_write_begin).
    if ((*seals & (kSealWrite | kSealFutureWrite)) != 0) return Errno::eperm;
    if ((*seals & kSealGrow) != 0 && off + n > size_) return Errno::eperm;
    usize done = 0;
    while (done < n) {
      u64 pos = off + done;
      u64 index = pos / ostd::kPageSize;
      usize in_page = pos % ostd::kPageSize;
      usize chunk = std::min<usize>(n - done, ostd::kPageSize - in_page);
      // A new page past tmpfs's size= is ENOSPC (a short write when some went in).
      if (budget_ && budget_->max_pages != 0 && !pages_->resident(index)) {
        account();
        if (budget_->used.load() >= budget_->max_pages) {
          return done > 0 ? Result<usize>(done) : Result<usize>(Errno::enospc);
        }
        budget_->used.fetch_add(1);
        ++accounted_;
      }
      auto frame = pages_->get_or_alloc(index);
      if (frame.is_error()) return done > 0 ? Result<usize>(done) : Result<usize>(Errno::enospc);
      auto w = frame.value().writer(in_page, chunk);
      auto r = in.read_to(w);
      usize got = r.is_ok() ? r.value() : 0;
      done += got;
      if (r.is_error() || got < chunk) {
        if (done == 0) return r.is_error() ? r.error() : Errno::efault;
        break;
      }
    }
    size_ = std::max<u64>(size_, off + done);
    pages_->set_file_size(size_);
    touch_mtime();
    return done;
  }
  Result<void> truncate(u64 length) override {
    if (length > kMaxFileSize) return Errno::efbig;
    auto g = lock_.lock();
    if ((length < size_ && (*seals & kSealShrink) != 0) || (length > size_ && (*seals & kSealGrow) != 0)) {
      return Errno::eperm;
    }
    if (length < size_) {
      // Drop whole pages past the end and zero the tail of the last one, so that growing the
      // file again (or a mapping of the last page) reads zeros.
      pages_->drop_from(ostd::page_align_up(length) / ostd::kPageSize);
      unmap_truncated_pages(pages_, ostd::page_align_up(length) / ostd::kPageSize);
      usize tail = length % ostd::kPageSize;
      if (tail != 0) {
        if (auto frame = pages_->find(length / ostd::kPageSize)) {
          auto w = frame->writer(tail, ostd::kPageSize - tail);
          (void)w.fill_zeros(ostd::kPageSize - tail);
        }
      }
    }
    size_ = length;
    pages_->set_file_size(size_);
    account();
    touch_mtime();
    return {};
  }
  std::shared_ptr<SharedPages> page_cache() override { return pages_; }
  abi::Stat stat() const override {
    abi::Stat st = Inode::stat();
    auto g = lock_.lock();
    st.st_blocks = static_cast<ostd::i64>(pages_->count() * (ostd::kPageSize / 512));
    return st;
  }

 private:
  // Brings the budget up to the pages the file holds now (mappings add some; truncation drops).
  void account() {
    if (!budget_) return;
    const u64 now = pages_->count();
    if (now > accounted_) budget_->used.fetch_add(now - accounted_);
    if (now < accounted_) budget_->used.fetch_sub(std::min<u64>(accounted_ - now, budget_->used.load()));
    accounted_ = now;
  }

  mutable ostd::Mutex lock_;
  std::shared_ptr<SharedPages> pages_ = std::make_shared<SharedPages>();
  u64 size_ = 0;
  std::shared_ptr<PageBudget> budget_;
  u64 accounted_ = 0;  // pages counted in the budget
};

class RamSymlink final : public Inode {
 public:
  bool keeps_xattrs() const override { return true; }
  RamSymlink(u64 dev, std::string target) : Inode(dev, abi::kSIflnk | 0777), target_(std::move(target)) {}
  u64 size() const override { return target_.size(); }
  Result<std::string> readlink(const Process*) override { return target_; }

 private:
  std::string target_;
};

class RamFifo final : public Inode {
 public:
  bool keeps_xattrs() const override { return true; }
  RamFifo(u64 dev, u32 mode) : Inode(dev, mode), pipe_(std::make_shared<Pipe>()) {}
  Result<std::shared_ptr<File>> open(const std::shared_ptr<Dentry>& d, u32 flags) override {
    return open_fifo(pipe_, d, flags);
  }

 private:
  std::shared_ptr<Pipe> pipe_;
};

class RamDevice final : public Inode {
 public:
  bool keeps_xattrs() const override { return true; }
  RamDevice(u64 dev, u32 mode, u64 device) : Inode(dev, mode) { rdev = device; }
  Result<std::shared_ptr<File>> open(const std::shared_ptr<Dentry>& d, u32 flags) override {
    return open_device(type() == abi::kSIfchr, rdev, d, flags);
  }
};

class RamSocket final : public Inode {
 public:
  bool keeps_xattrs() const override { return true; }
  using Inode::Inode;
  // A socket file is reached through connect(2), never opened (ENXIO, as Linux).
  Result<std::shared_ptr<File>> open(const std::shared_ptr<Dentry>&, u32) override { return Errno::enxio; }
};

class RamDir;

// What the inodes of one ramfs instance share: its directories by inode number (services are
// built without RTTI, so rename and rmdir find the RamDir behind an Inode here).
struct RamState {
  ostd::Mutex lock;
  std::shared_ptr<PageBudget> budget = std::make_shared<PageBudget>();
  u64 max_inodes = 0;  // tmpfs's nr_inodes= (0: no limit)
  std::map<u64, std::weak_ptr<RamDir>> dirs;
  // Every inode by number, for file handles (open_by_handle_at); entries of inodes that died
  // are dropped when the map has doubled since the last sweep.
  std::map<u64, std::weak_ptr<Inode>> nodes;
  ostd::usize sweep_at = 64;

  // Records a new inode, with the generation number its handles carry (random, as tmpfs's).
  void add(const std::shared_ptr<Inode>& node) {
    node->generation = static_cast<ostd::u32>(next_random());
    auto g = lock.lock();
    if (nodes.size() >= sweep_at) {
      std::erase_if(nodes, [](const auto& kv) { return kv.second.expired(); });
      sweep_at = std::max<ostd::usize>(64, nodes.size() * 2);
    }
    nodes[node->ino()] = node;
  }
  std::shared_ptr<Inode> find(u64 ino) {
    auto g = lock.lock();
    auto it = nodes.find(ino);
    return it == nodes.end() ? nullptr : it->second.lock();
  }
  /// Inodes alive (files, links, directories, the root; open but unlinked ones too).
  u64 live_inodes() {
    auto g = lock.lock();
    std::erase_if(nodes, [](const auto& kv) { return kv.second.expired(); });
    return nodes.size();  // directories too
  }
  /// nr_inodes=: ENOSPC when one more inode would pass it.
  Result<void> may_add_inode() {
    if (max_inodes != 0 && live_inodes() >= max_inodes) return Errno::enospc;
    return {};
  }
};

class RamDir final : public Inode {
 public:
  bool keeps_xattrs() const override { return true; }
  RamDir(u64 dev, u32 mode, std::shared_ptr<RamState> state) : Inode(dev, mode), state_(std::move(state)) {}
  RamDir(const RamDir&) = delete;
  RamDir& operator=(const RamDir&) = delete;
  RamDir(RamDir&&) = delete;
  RamDir& operator=(RamDir&&) = delete;
  ~RamDir() override {
    auto g = state_->lock.lock();
    state_->dirs.erase(ino());
  }

  static std::shared_ptr<RamDir> make(u64 dev, u32 mode, const std::shared_ptr<RamState>& state) {
    auto d = std::make_shared<RamDir>(dev, mode, state);
    state->add(d);
    auto g = state->lock.lock();
    state->dirs[d->ino()] = d;
    return d;
  }
  const std::shared_ptr<RamState>& state() const { return state_; }
  // The RamDir of this file system behind `inode`, or nullptr.
  std::shared_ptr<RamDir> find_dir(const Inode& inode) const {
    if (inode.dev() != dev() || !inode.is_dir()) return nullptr;
    auto g = state_->lock.lock();
    auto it = state_->dirs.find(inode.ino());
    return it == state_->dirs.end() ? nullptr : it->second.lock();
  }

  // As tmpfs: two entries' worth for "." and "..", 20 bytes (BOGO_DIRENT_SIZE) per entry.
  u64 size() const override {
    auto g = lock_.lock();
    return 40 + 20 * static_cast<u64>(children_.size());
  }

  Result<std::shared_ptr<Inode>> lookup(std::string_view name) override {
    auto g = lock_.lock();
    auto it = children_.find(name);
    if (it == children_.end()) return Errno::enoent;
    return it->second;
  }

  Result<std::shared_ptr<Inode>> create(std::string_view name, u32 mode, u64 device) override {
    auto g = lock_.lock();
    if (children_.find(name) != children_.end()) return Errno::eexist;
    if (dead_) return Errno::enoent;
    TRY(state_->may_add_inode());
    std::shared_ptr<Inode> node;
    switch (mode & abi::kSIfmt) {
      case abi::kSIfdir: node = RamDir::make(dev(), mode, state_); break;
      case abi::kSIfreg: node = std::make_shared<RamFile>(dev(), mode, state_->budget); break;
      case abi::kSIfifo: node = std::make_shared<RamFifo>(dev(), mode); break;
      case abi::kSIfchr:
      case abi::kSIfblk: node = std::make_shared<RamDevice>(dev(), mode, device); break;
      case abi::kSIfsock: node = std::make_shared<RamSocket>(dev(), mode); break;
      default: return Errno::einval;
    }
    if (!node->is_dir()) state_->add(node);
    children_.emplace(std::string(name), node);
    if (node->is_dir()) ++nlink;
    touch_mtime();
    return node;
  }

  Result<std::shared_ptr<Inode>> symlink(std::string_view name, std::string_view target) override {
    auto g = lock_.lock();
    if (children_.find(name) != children_.end()) return Errno::eexist;
    if (dead_) return Errno::enoent;
    TRY(state_->may_add_inode());
    auto node = std::make_shared<RamSymlink>(dev(), std::string(target));
    state_->add(node);
    children_.emplace(std::string(name), node);
    touch_mtime();
    return std::shared_ptr<Inode>(node);
  }

  Result<void> link(std::string_view name, const std::shared_ptr<Inode>& target) override {
    if (target->is_dir()) return Errno::eperm;
    if (target->dev() != dev()) return Errno::exdev;
    auto g = lock_.lock();
    if (children_.find(name) != children_.end()) return Errno::eexist;
    if (dead_) return Errno::enoent;
    children_.emplace(std::string(name), target);
    ++target->nlink;
    target->touch_ctime();
    touch_mtime();
    return {};
  }

  Result<void> unlink(std::string_view name) override {
    auto g = lock_.lock();
    auto it = children_.find(name);
    if (it == children_.end()) return Errno::enoent;
    if (it->second->is_dir()) return Errno::eisdir;
    if (it->second->nlink > 0) --it->second->nlink;
    it->second->touch_ctime();
    children_.erase(it);
    touch_mtime();
    return {};
  }

  Result<void> rmdir(std::string_view name) override {
    auto g = lock_.lock();
    auto it = children_.find(name);
    if (it == children_.end()) return Errno::enoent;
    auto dir = find_dir(*it->second);
    if (!dir) return Errno::enotdir;
    TRY(dir->mark_dead_if_empty());
    children_.erase(it);
    --nlink;
    touch_mtime();
    return {};
  }

  Result<void> rename(std::string_view name, Inode& new_dir_inode, std::string_view new_name) override {
    auto new_dir_ref = find_dir(new_dir_inode);
    if (!new_dir_ref) return Errno::exdev;
    RamDir* new_dir = new_dir_ref.get();
    // Lock both directories in address order (one lock when they are the same).
    ostd::Mutex* first = &lock_;
    ostd::Mutex* second = &new_dir->lock_;
    if (new_dir == this) second = nullptr;
    else if (std::less<ostd::Mutex*>()(second, first)) std::swap(first, second);
    auto g1 = first->lock();
    std::optional<ostd::MutexGuard> g2;
    if (second != nullptr) g2.emplace(*second);

    auto src = children_.find(name);
    if (src == children_.end()) return Errno::enoent;
    std::shared_ptr<Inode> node = src->second;
    auto dst = new_dir->children_.find(new_name);
    if (dst != new_dir->children_.end()) {
      if (dst->second == node) return {};  // same file: nothing to do
      if (node->is_dir()) {
        auto victim = find_dir(*dst->second);
        if (!victim) return Errno::enotdir;
        TRY(victim->mark_dead_if_empty());
        --new_dir->nlink;
      } else if (dst->second->is_dir()) {
        return Errno::eisdir;
      } else if (dst->second->nlink > 0) {
        --dst->second->nlink;
      }
      new_dir->children_.erase(dst);
    }
    children_.erase(src);
    new_dir->children_.emplace(std::string(new_name), node);
    if (node->is_dir() && new_dir != this) {
      --nlink;
      ++new_dir->nlink;
    }
    node->touch_ctime();
    touch_mtime();
    new_dir->touch_mtime();
    return {};
  }

  Result<std::vector<DirEntry>> list() override {
    auto g = lock_.lock();
    std::vector<DirEntry> out;
    out.reserve(children_.size());
    for (const auto& [name, node] : children_) out.push_back(DirEntry{name, node->ino(), dirent_type(node->mode())});
    return out;
  }

 private:
  Result<void> mark_dead_if_empty() {
    auto g = lock_.lock();
    if (!children_.empty()) return Errno::enotempty;
    dead_ = true;
    nlink = 0;
    return {};
  }

  std::shared_ptr<RamState> state_;
  mutable ostd::Mutex lock_;
  std::map<std::string, std::shared_ptr<Inode>, std::less<>> children_;
  bool dead_ = false;  // removed: no new entries
};

class RamFs final : public FileSystem {
 public:
  explicit RamFs(std::string type)
      : FileSystem(std::move(type)), root_(RamDir::make(dev(), abi::kSIfdir | 0755, std::make_shared<RamState>())) {}
  std::shared_ptr<Inode> root() override { return root_; }
  u64 magic() const override { return kTmpfsMagic; }
  /// tmpfs's limits (size= in bytes, nr_inodes=); 0 leaves one unlimited.
  void set_limits(u64 size_bytes, u64 max_inodes) {
    root_->state()->budget->max_pages = (size_bytes + ostd::kPageSize - 1) / ostd::kPageSize;
    root_->state()->max_inodes = max_inodes;
  }
  std::optional<Stats> stats() const override {
    const auto& st = root_->state();
    if (st->budget->max_pages == 0 && st->max_inodes == 0) return std::nullopt;
    Stats s;
    s.block_size = ostd::kPageSize;
    const u64 used = st->budget->used.load();
    s.blocks = st->budget->max_pages != 0 ? st->budget->max_pages : used + (u64{1} << 19);
    s.free_blocks = s.available_blocks = s.blocks > used ? s.blocks - used : 0;
    const u64 inodes = st->live_inodes();
    s.files = st->max_inodes != 0 ? st->max_inodes : inodes + (u64{1} << 19);
    s.free_files = s.files > inodes ? s.files - inodes : 0;
    return s;
  }

  // As tmpfs's handles (FILEID_INO32_GEN): the generation, then the inode number's low and
  // high 32 bits; 12 bytes. The type is not looked at when decoding, as tmpfs does not.
  struct Ino32GenHandle {
    u32 generation, ino_lo, ino_hi;
    OSTD_POD(Ino32GenHandle, generation, ino_lo, ino_hi);
  };
  Result<std::pair<int, std::vector<ostd::u8>>> encode_handle(const Inode& inode) override {
    const Ino32GenHandle h{inode.generation, static_cast<u32>(inode.ino()), static_cast<u32>(inode.ino() >> 32)};
    const auto bytes = ostd::bytes_of(h);
    return std::pair<int, std::vector<ostd::u8>>(kFileidIno32Gen, std::vector<ostd::u8>(bytes.begin(), bytes.end()));
  }
  Result<std::shared_ptr<Inode>> decode_handle(int, std::span<const ostd::u8> bytes) override {
    auto h = ostd::load_from<Ino32GenHandle>(bytes, 0);
    if (!h) return Errno::estale;
    auto node = root_->state()->find(u64{h->ino_lo} | (u64{h->ino_hi} << 32));
    if (!node || node->generation != h->generation) return Errno::estale;
    return node;
  }

 private:
  std::shared_ptr<RamDir> root_;
};

}  // namespace

std::shared_ptr<FileSystem> make_ramfs(std::string type) { return std::make_shared<RamFs>(std::move(type)); }

Result<std::pair<std::shared_ptr<FileSystem>, std::string>> make_tmpfs(std::string_view options) {
  // As shmem_parse_one: size=N[kmg%], nr_inodes=N[kmg], mode=OCTAL, uid=N, gid=N; anything
  // else is EINVAL.
  u64 size = 0, inodes = 0;
  std::optional<u32> mode, uid, gid;
  auto number = [](std::string_view v, int base) -> std::optional<u64> {
    if (v.empty()) return std::nullopt;
    u64 n = 0;
    for (char c : v) {
      const int d = c >= '0' && c <= '9' ? c - '0' : -1;
      if (d < 0 || d >= base || n > (~u64{0} - static_cast<u64>(d)) / static_cast<u64>(base)) return std::nullopt;
      n = n * static_cast<u64>(base) + static_cast<u64>(d);
    }
    return n;
  };
  auto scaled = [&](std::string_view v, bool percent_ok) -> std::optional<u64> {
    u64 mult = 1;
    bool percent = false;
    if (!v.empty()) {
      switch (v.back()) {
        // clang-format off
        case 'k': case 'K': mult = u64{1} << 10; break;
        case 'm': case 'M': mult = u64{1} << 20; break;
        case 'g': case 'G': mult = u64{1} << 30; break;
        case '%': percent = percent_ok; if (!percent) return std::nullopt; break;
        // clang-format on
        default: mult = 0; break;
      }
      if (mult != 0 || percent) v.remove_suffix(1);
      if (mult == 0) mult = 1;
    }
    auto n = number(v, 10);
    if (!n) return std::nullopt;
    if (percent) return ostd::frame_stats().total_frames * ostd::kPageSize / 100 * *n;
    if (*n > ~u64{0} / mult) return std::nullopt;
    return *n * mult;
  };
  for (std::size_t i = 0; i < options.size();) {
    std::size_t e = options.find(',', i);
    if (e == std::string_view::npos) e = options.size();
    std::string_view opt = options.substr(i, e - i);
    i = e + 1;
    if (opt.empty()) continue;
    std::size_t eq = opt.find('=');
    std::string_view key = opt.substr(0, eq),
                     val = eq == std::string_view::npos ? std::string_view() : opt.substr(eq + 1);
    if (key == "size") {
      auto v = scaled(val, true);
      if (!v) return Errno::einval;
      size = *v;
    } else if (key == "nr_inodes") {
      auto v = scaled(val, false);
      if (!v) return Errno::einval;
      inodes = *v;
    } else if (key == "mode") {
      auto v = number(val, 8);
      if (!v || *v > 07777) return Errno::einval;
      mode = static_cast<u32>(*v);
    } else if (key == "uid" || key == "gid") {
      auto v = number(val, 10);
      if (!v || *v > 0xfffffffe) return Errno::einval;
      (key == "uid" ? uid : gid) = static_cast<u32>(*v);
    } else if (key == "rw" || key == "ro" || key == "defaults" || key == "nosuid" || key == "nodev" ||
               key == "noexec" || key == "relatime" || key == "noatime") {
      continue;  // words mount(8) may leave in the data
    } else {
      return Errno::einval;
    }
  }
  auto fs = std::make_shared<RamFs>("tmpfs");
  fs->set_limits(size, inodes);
  auto root = fs->root();
  root->set_permissions(mode.value_or(01777));
  if (uid) root->uid = *uid;
  if (gid) root->gid = *gid;
  // What /proc/mounts shows after rw/ro, as Linux's shmem_show_options.
  std::string shown;
  if (size != 0) shown += ostd::format(",size={}k", (size + ostd::kPageSize - 1) / ostd::kPageSize * 4);
  if (inodes != 0) shown += ostd::format(",nr_inodes={}", inodes);
  if (mode.value_or(01777) != 01777) shown += ostd::format(",mode={:o}", *mode);
  if (uid.value_or(0) != 0) shown += ostd::format(",uid={}", *uid);
  if (gid.value_or(0) != 0) shown += ostd::format(",gid={}", *gid);
  return std::pair<std::shared_ptr<FileSystem>, std::string>(fs, shown);
}

}  // namespace services
