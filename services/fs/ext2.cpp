// ext2 (revision 1) on a block device, read-write.
//
// Layout (the "Second Extended File System" as e2fsprogs writes it): a superblock at byte 1024,
// block groups each with a block bitmap, an inode bitmap and an inode table, described by the
// group descriptor table after the superblock; an inode maps its file's blocks through 12
// direct pointers and single, double and triple indirect blocks; a directory is a list of
// variable-length entries (inode, record length, name length, file type, name) packed into
// blocks. Directories indexed by htree (dir_index) read as plain lists, as the format intends;
// a directory this kernel changes loses its index flag (e2fsck -D can rebuild it).
//
// Caching. Metadata (superblock counts, group descriptors, bitmaps, inode tables, indirect and
// directory blocks) lives in a buffer cache of whole blocks, written back by sync. File data
// lives in each file's page cache (vm/shared_pages.h): read(2), write(2) and mmap share the
// frames; pages are read in from the disk at the first touch and written back when dirty.
// Blocks are allocated when write(2) reaches them, so a full disk is ENOSPC to the writer.
// Everything dirty goes to the disk at sync, syncfs, fsync, umount, every few seconds (the
// flusher) and at shutdown; until then a crash loses it, as on Linux.
//
// One lock per mounted file system guards the metadata. Lock order: a page cache's lock, then
// the file system's (a page cache fill maps blocks). An Ext2Inode object may die (and free an
// unlinked file on the disk) only with the lock free: code that holds the lock keeps the
// inodes it touches alive in a Pins list declared before its guard.
#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <ostd/log.h>
#include <ostd/mm/io.h>
#include <ostd/sync.h>
#include <ostd/task.h>
#include <ostd/time.h>

#include "device/block.h"
#include "device/devices.h"
#include "device/loop.h"
#include "fs/pipe.h"
#include "fs/vfs.h"
#include "process/internal.h"
#include "vm/shared_pages.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u16;
using ostd::u32;
using ostd::u64;
using ostd::u8;
using ostd::usize;

namespace {

constexpr ostd::Logger kLog{"ext2"};

constexpr u16 kMagic = 0xEF53;
constexpr u64 kSuperMagic = 0xEF53;  // statfs f_type
constexpr u32 kRootIno = 2;
constexpr u32 kGoodOldFirstIno = 11;
constexpr u32 kGoodOldInodeSize = 128;
constexpr u32 kNdirBlocks = 12;
constexpr u32 kIndBlock = 12, kDindBlock = 13, kTindBlock = 14;
constexpr usize kMaxCachedBuffers = 8192;

// Superblock field offsets (bytes from the superblock's start).
constexpr usize kSInodesCount = 0, kSBlocksCount = 4, kSRBlocksCount = 8, kSFreeBlocksCount = 12,
                kSFreeInodesCount = 16, kSFirstDataBlock = 20, kSLogBlockSize = 24, kSBlocksPerGroup = 32,
                kSInodesPerGroup = 40, kSMtime = 44, kSWtime = 48, kSMntCount = 52, kSMagic = 56, kSState = 58,
                kSRevLevel = 76, kSFirstIno = 84, kSInodeSize = 88, kSFeatureIncompat = 96, kSFeatureCompat = 92,
                kSFeatureRoCompat = 100;
constexpr u16 kStateValid = 1;
// Features this driver understands.
constexpr usize kSBlocksCountHi = 0x150, kSDescSize = 0xfe;
constexpr u32 kCompatHasJournal = 0x4;
constexpr u32 kIncompatFiletype = 0x2, kIncompatRecover = 0x4, kIncompatExtents = 0x40, kIncompat64bit = 0x80,
              kIncompatFlexBg = 0x200, kIncompatEaInode = 0x400, kIncompatCsumSeed = 0x2000, kIncompatLargedir = 0x4000;
// What this driver writes, and what it only reads (ext4's additions, mounted read-only: files
// mapped by extents, 64-bit group descriptors, flexible groups, inodes holding big xattrs,
// checksums it does not verify, three-level htrees it reads as lists). Not meta_bg, mmp,
// journal devices, inline data, encryption or casefolding.
constexpr u32 kIncompatWritable = kIncompatFiletype;
constexpr u32 kIncompatReadable = kIncompatWritable | kIncompatExtents | kIncompat64bit | kIncompatFlexBg |
                                  kIncompatEaInode | kIncompatCsumSeed | kIncompatLargedir;
constexpr u32 kRoCompatSparseSuper = 0x1, kRoCompatLargeFile = 0x2, kRoCompatHugeFile = 0x8, kRoCompatGdtCsum = 0x10,
              kRoCompatDirNlink = 0x20, kRoCompatExtraIsize = 0x40, kRoCompatBigalloc = 0x200,
              kRoCompatMetadataCsum = 0x400;
constexpr u32 kRoCompatWritable = kRoCompatSparseSuper | kRoCompatLargeFile;
// The ext4 features that make a file system "ext4" rather than ext2 or ext3 (with a journal).
constexpr u32 kIncompatExt4Only =
    kIncompatExtents | kIncompat64bit | kIncompatFlexBg | kIncompatEaInode | kIncompatCsumSeed | kIncompatLargedir;
constexpr u32 kRoCompatExt4Only =
    kRoCompatHugeFile | kRoCompatGdtCsum | kRoCompatDirNlink | kRoCompatExtraIsize | kRoCompatMetadataCsum;

// Group descriptor (32 bytes; 64 or more with the 64bit feature, the high halves after).
constexpr usize kGdSize = 32;
constexpr usize kBgBlockBitmap = 0, kBgInodeBitmap = 4, kBgInodeTable = 8, kBgFreeBlocks = 12, kBgFreeInodes = 14,
                kBgUsedDirs = 16, kBgBlockBitmapHi = 0x20, kBgInodeBitmapHi = 0x24, kBgInodeTableHi = 0x28,
                kBgFreeBlocksHi = 0x2c, kBgFreeInodesHi = 0x2e;

// Inode field offsets.
constexpr usize kIMode = 0, kIUid = 2, kISize = 4, kIAtime = 8, kICtime = 12, kIMtime = 16, kIDtime = 20, kIGid = 24,
                kILinks = 26, kIBlocks = 28, kIFlags = 32, kIBlock = 40, kIGeneration = 100, kIFileAcl = 104,
                kISizeHigh = 108, kIUidHigh = 120, kIGidHigh = 122, kIExtraIsize = 128, kICtimeExtra = 132,
                kIMtimeExtra = 136, kIAtimeExtra = 140;
constexpr usize kIBlocksHi = 116;
constexpr u32 kIndexFl = 0x1000, kHugeFileFl = 0x40000, kExtentsFl = 0x80000;
// Extent trees (ext4): a 12-byte header (magic, entries, capacity, depth) and 12-byte entries,
// in i_block at the top and in whole blocks below; the leaves map runs of file blocks.
constexpr u16 kExtentMagic = 0xf30a;
constexpr u32 kExtentMaxDepth = 5;
constexpr u32 kExtentInitMaxLen = 32768;  // a longer length marks an unwritten extent
constexpr u16 kExtraIsize = 32;           // the fields up to i_crtime_extra, as mke2fs sets for 256-byte inodes

u16 get16(std::span<const u8> b, usize off) { return static_cast<u16>(b[off] | (b[off + 1] << 8)); }
u32 get32(std::span<const u8> b, usize off) {
  return static_cast<u32>(b[off]) | (static_cast<u32>(b[off + 1]) << 8) | (static_cast<u32>(b[off + 2]) << 16) |
         (static_cast<u32>(b[off + 3]) << 24);
}
void put16(std::span<u8> b, usize off, u16 v) {
  b[off] = static_cast<u8>(v);
  b[off + 1] = static_cast<u8>(v >> 8);
}
void put32(std::span<u8> b, usize off, u32 v) {
  for (usize i = 0; i < 4; ++i) b[off + i] = static_cast<u8>(v >> (8 * i));
}

u8 ext2_file_type(u32 mode) {
  switch (mode & abi::kSIfmt) {
    case abi::kSIfreg: return 1;
    case abi::kSIfdir: return 2;
    case abi::kSIfchr: return 3;
    case abi::kSIfblk: return 4;
    case abi::kSIfifo: return 5;
    case abi::kSIfsock: return 6;
    case abi::kSIflnk: return 7;
    default: return 0;
  }
}

// A directory entry's record: 8 bytes of header and the name, rounded up to 4.
u32 rec_len_for(usize name_len) { return static_cast<u32>((8 + name_len + 3) & ~usize{3}); }

class Ext2Fs;
class Ext2Inode;
using Pins = std::vector<std::shared_ptr<Ext2Inode>>;

// The page source of one file: pages are read through the file system by inode number, so a
// mapping keeps working after every other reference to the inode is gone.
class FilePages final : public PageSource {
 public:
  FilePages(std::shared_ptr<Ext2Fs> fs, u32 ino) : fs_(std::move(fs)), ino_(ino) {}
  Result<void> fill(u64 index, ostd::Frame& frame) override;
  Result<void> fill_run(u64 first, std::span<ostd::Frame> frames) override;

 private:
  std::shared_ptr<Ext2Fs> fs_;
  u32 ino_;
};

class Ext2Fs final : public FileSystem, public std::enable_shared_from_this<Ext2Fs> {
 public:
  /// `type` is what mount(2) was asked for: "ext2", "ext3" or "ext4" (which accept what Linux's
  /// drivers of those names accept, as far as this one reads them).
  Ext2Fs(std::shared_ptr<BlockDevice> disk, bool read_only, std::string type)
      : FileSystem(std::move(type)), disk_(std::move(disk)), ro_(read_only) {}
  Ext2Fs(const Ext2Fs&) = delete;
  Ext2Fs& operator=(const Ext2Fs&) = delete;
  Ext2Fs(Ext2Fs&&) = delete;
  Ext2Fs& operator=(Ext2Fs&&) = delete;
  ~Ext2Fs() override = default;

  Result<void> load();
  std::shared_ptr<Inode> root() override;
  u64 magic() const override { return kSuperMagic; }
  std::optional<Stats> stats() const override;
  Result<void> sync() override;
  bool read_only() const override { return ro_; }
  Result<void> remount(bool read_only) override;
  Result<void> unmounted() override;
  const std::shared_ptr<BlockDevice>& disk() const { return disk_; }
  u32 block_size() const { return bs_; }

  // ---- inodes (lock held) ----
  Result<std::shared_ptr<Ext2Inode>> get_inode_locked(u32 ino, Pins& pins);
  Result<std::vector<u8>> read_raw_locked(u32 ino);
  Result<void> write_raw_locked(u32 ino, std::span<const u8> raw);
  /// The on-disk inode with the live object's attributes merged in.
  Result<void> store_locked(const Ext2Inode& node, std::vector<u8>& raw);
  /// store_locked of the inode as it is on the disk now.
  Result<void> save_locked(const Ext2Inode& node);
  Result<u32> alloc_inode_locked(u32 dir_ino, bool is_dir);
  Result<void> free_inode_locked(u32 ino, bool was_dir);
  /// Frees a dead inode's blocks and the inode itself (nlink 0, no user left).
  Result<void> delete_inode_locked(u32 ino);

  // ---- blocks (lock held) ----
  Result<std::vector<u8>*> buffer_locked(u64 block);
  void mark_buffer_dirty_locked(u64 block) { dirty_buffers_.insert(block); }
  Result<u32> alloc_block_locked(u32 goal);
  Result<void> free_block_locked(u32 block);
  /// The disk block of file block `fblock` (0 for a hole); with `create`, allocates it (and
  /// the indirect blocks on the way), counting them in i_blocks.
  Result<u32> bmap_locked(std::vector<u8>& raw, u64 fblock, bool create);
  /// bmap_locked's walk, allocating near `goal` (0: no preference).
  Result<u32> map_block_locked(std::vector<u8>& raw, u64 fblock, bool create, u32 goal);
  /// The disk block of file block `fblock` of an inode mapped by an extent tree (0 for a hole
  /// or an unwritten extent, which read as zeros).
  Result<u32> extent_map_locked(std::span<const u8> raw, u64 fblock);
  /// Frees the blocks of file blocks [first, ...) (truncate).
  Result<void> truncate_blocks_locked(std::vector<u8>& raw, u64 first);

  // ---- directories (lock held) ----
  struct Found {
    u32 ino = 0;
    u64 fblock = 0;
    usize offset = 0;       // of the entry in its block
    usize prev_offset = 0;  // of the entry before it in the same block (== offset for the first)
  };
  Result<std::optional<Found>> find_entry_locked(std::vector<u8>& dir_raw, std::string_view name);
  Result<std::vector<DirEntry>> list_locked(std::vector<u8>& dir_raw);
  Result<void> add_entry_locked(u32 dir_ino, std::vector<u8>& dir_raw, std::string_view name, u32 ino, u32 mode);
  Result<void> remove_entry_locked(std::vector<u8>& dir_raw, const Found& f);
  Result<void> set_entry_inode_locked(std::vector<u8>& dir_raw, const Found& f, u32 ino, u32 mode);
  Result<bool> dir_is_empty_locked(std::vector<u8>& dir_raw);

  // ---- files ----
  Result<void> fill_page(u32 ino, u64 index, ostd::Frame& frame);
  /// Consecutive pages from `first`: with page-sized blocks, runs of consecutive blocks are
  /// read in one request each.
  Result<void> fill_pages(u32 ino, u64 first, std::span<ostd::Frame> frames);
  Result<void> write_back_pages(u32 ino, SharedPages& pages);
  /// write_back_pages under the lock: `later` gets the pages that lie past the file's size.
  Result<void> write_pages_out(u32 ino, const std::vector<std::pair<u64, ostd::Frame>>& dirty, std::vector<u64>& later);
  /// The page cache of file `ino` (made, for a file of `size` bytes, when it has none).
  std::shared_ptr<SharedPages> pages_for(u32 ino, u64 size);
  void forget_pages(u32 ino);
  void add_live(u32 ino, const std::shared_ptr<Ext2Inode>& node) { live_[ino] = node; }
  /// Whether anything still uses the file system: an inode in use (an open file, a working
  /// directory, a mapping's pages) other than the root's own reference (umount's EBUSY).
  bool busy(usize root_refs_held) const override;
  bool mounted() const { return mounted_; }
  /// Inodes whose last name went while something still maps their pages: freed once nothing does.
  void add_orphan(u32 ino, std::shared_ptr<SharedPages> pages);
  /// Writes back every file's dirty pages and drops the clean ones nobody maps (memory pressure).
  void shrink();

  ostd::Mutex& lock() { return lock_; }
  u64 file_size(std::span<const u8> raw) const {
    u64 size = get32(raw, kISize);
    if ((get16(raw, kIMode) & abi::kSIfmt) == abi::kSIfreg) size |= static_cast<u64>(get32(raw, kISizeHigh)) << 32;
    return size;
  }
  void set_file_size(std::span<u8> raw, u64 size) {
    put32(raw, kISize, static_cast<u32>(size));
    if ((get16(raw, kIMode) & abi::kSIfmt) == abi::kSIfreg) {
      put32(raw, kISizeHigh, static_cast<u32>(size >> 32));
      if (size > 0x7fffffff) ro_compat_ |= kRoCompatLargeFile;
    }
  }
  u64 max_file_size() const;
  bool has_filetype() const { return (incompat_ & kIncompatFiletype) != 0; }
  /// Whether this driver may write the file system (it only reads ext4's additions).
  bool features_writable() const {
    return (incompat_ & ~kIncompatWritable) == 0 && (ro_compat_ & ~kRoCompatWritable) == 0;
  }
  /// st_blocks of an inode (i_blocks in 512-byte sectors; with huge_file, 48 bits, or in
  /// blocks for an inode flagged so).
  u64 sectors(std::span<const u8> raw) const {
    u64 n = get32(raw, kIBlocks);
    if ((ro_compat_ & kRoCompatHugeFile) != 0) {
      n |= u64{get16(raw, kIBlocksHi)} << 32;
      if ((get32(raw, kIFlags) & kHugeFileFl) != 0) n *= bs_ / 512;
    }
    return n;
  }
  u32 inode_size() const { return inode_size_; }

 private:
  Result<void> sync_locked(Pins& pins);
  Result<void> write_super_locked(bool clean);
  u32 groups() const { return groups_; }
  u64 gd_block(u32 g) const { return first_data_block_ + 1 + (u64{g} * desc_size_) / bs_; }
  usize gd_off(u32 g) const { return (usize{g} * desc_size_) % bs_; }
  Result<std::span<u8>> gd_locked(u32 g);
  Result<u32> indirect_walk_locked(std::vector<u8>& raw, usize slot, u32 depth, u64 index, bool create, u32 goal);
  Result<bool> free_tree_locked(u32 top, u32 depth, u64 first, u64 base, u64& freed);

  std::shared_ptr<BlockDevice> disk_;
  bool ro_;
  mutable ostd::Mutex lock_;
  std::vector<u8> super_;  // the 1024-byte superblock
  u32 bs_ = 1024;
  u32 first_data_block_ = 0;
  u32 blocks_count_ = 0, inodes_count_ = 0;
  u32 blocks_per_group_ = 0, inodes_per_group_ = 0;
  u32 groups_ = 0;
  u32 inode_size_ = kGoodOldInodeSize;
  u32 first_ino_ = kGoodOldFirstIno;
  u32 incompat_ = 0, ro_compat_ = 0;
  u32 desc_size_ = kGdSize;
  u32 free_blocks_ = 0, free_inodes_ = 0, reserved_blocks_ = 0;
  std::map<u64, std::vector<u8>> buffers_;
  std::set<u64> dirty_buffers_;
  std::map<u32, std::weak_ptr<Ext2Inode>> live_;
  std::map<u32, std::shared_ptr<SharedPages>> pages_;
  std::map<u32, std::shared_ptr<SharedPages>> orphans_;
  std::shared_ptr<Ext2Inode> root_;
  bool super_dirty_ = false;
  bool mounted_ = true;
};

// Mounted file systems, for sync(2), the flusher and EBUSY on a second mount of one disk.
struct Registry {
  ostd::Mutex lock;
  std::vector<std::weak_ptr<Ext2Fs>> all;
  bool running = false, stop = false;
  ostd::WaitQueue wake, ended;
};
Registry& registry() {
  static Registry r;
  return r;
}

class Ext2Inode final : public Inode {
 public:
  Ext2Inode(std::shared_ptr<Ext2Fs> fs, u32 ino, std::span<const u8> raw)
      : Inode(fs->dev(), get16(raw, kIMode), ino), fs_(std::move(fs)) {
    load_attrs(raw);
    if (is_regular()) pages_ = fs_->pages_for(ino, fs_->file_size(raw));
    if (type() == abi::kSIfifo) pipe_ = std::make_shared<Pipe>();
  }
  Ext2Inode(const Ext2Inode&) = delete;
  Ext2Inode& operator=(const Ext2Inode&) = delete;
  Ext2Inode(Ext2Inode&&) = delete;
  Ext2Inode& operator=(Ext2Inode&&) = delete;
  ~Ext2Inode() override;

  u32 number() const { return static_cast<u32>(ino()); }
  void load_attrs(std::span<const u8> raw) {
    uid = get16(raw, kIUid) | (static_cast<u32>(get16(raw, kIUidHigh)) << 16);
    gid = get16(raw, kIGid) | (static_cast<u32>(get16(raw, kIGidHigh)) << 16);
    nlink = get16(raw, kILinks);
    auto ts = [&](usize sec_off, usize extra_off) {
      abi::Timespec t{static_cast<ostd::i64>(static_cast<ostd::i32>(get32(raw, sec_off))), 0};
      if (has_extra(raw, extra_off)) {
        u32 extra = get32(raw, extra_off);
        t.tv_sec += static_cast<ostd::i64>(extra & 3) << 32;
        t.tv_nsec = static_cast<ostd::i64>(extra >> 2);
      }
      return t;
    };
    atime = ts(kIAtime, kIAtimeExtra);
    mtime = ts(kIMtime, kIMtimeExtra);
    ctime = ts(kICtime, kICtimeExtra);
    generation = get32(raw, kIGeneration);
    if (type() == abi::kSIfchr || type() == abi::kSIfblk) {
      u32 old = get32(raw, kIBlock);
      if (old != 0) {
        rdev = make_dev((old >> 8) & 0xff, old & 0xff);
      } else {
        u32 nw = get32(raw, kIBlock + 4);
        rdev = make_dev((nw & 0xfff00) >> 8, (nw & 0xff) | ((nw >> 12) & 0xfff00));
      }
    }
  }
  bool has_extra(std::span<const u8> raw, usize off) const {
    return fs_->inode_size() > kGoodOldInodeSize && raw.size() >= off + 4 &&
           kGoodOldInodeSize + get16(raw, kIExtraIsize) >= off + 4;
  }
  /// Writes the attributes the VFS changes directly (mode, owner, links, times) into `raw`.
  void save_attrs(std::span<u8> raw) const {
    put16(raw, kIMode, static_cast<u16>(mode()));
    put16(raw, kIUid, static_cast<u16>(uid));
    put16(raw, kIUidHigh, static_cast<u16>(uid >> 16));
    put16(raw, kIGid, static_cast<u16>(gid));
    put16(raw, kIGidHigh, static_cast<u16>(gid >> 16));
    put16(raw, kILinks, static_cast<u16>(std::min<u32>(nlink, 0xffff)));
    auto ts = [&](usize sec_off, usize extra_off, const abi::Timespec& t) {
      put32(raw, sec_off, static_cast<u32>(t.tv_sec));
      if (has_extra(raw, extra_off)) {
        u32 epoch = static_cast<u32>((t.tv_sec - static_cast<ostd::i64>(static_cast<ostd::i32>(t.tv_sec))) >> 32) & 3;
        put32(raw, extra_off, (static_cast<u32>(t.tv_nsec) << 2) | epoch);
      }
    };
    ts(kIAtime, kIAtimeExtra, atime);
    ts(kIMtime, kIMtimeExtra, mtime);
    ts(kICtime, kICtimeExtra, ctime);
  }

  u64 size() const override {
    auto g = fs_->lock().lock();
    auto raw = fs_->read_raw_locked(number());
    return raw.is_ok() ? fs_->file_size(raw.value()) : 0;
  }
  abi::Stat stat() const override {
    abi::Stat st = Inode::stat();
    auto g = fs_->lock().lock();
    if (auto raw = fs_->read_raw_locked(number()); raw.is_ok()) {
      st.st_size = static_cast<ostd::i64>(fs_->file_size(raw.value()));
      st.st_blocks = static_cast<ostd::i64>(fs_->sectors(raw.value()));
    }
    st.st_blksize = static_cast<ostd::i64>(fs_->block_size());
    return st;
  }

  // ---- directories ----
  Result<std::shared_ptr<Inode>> lookup(std::string_view name) override;
  Result<std::shared_ptr<Inode>> create(std::string_view name, u32 mode, u64 device) override;
  Result<std::shared_ptr<Inode>> symlink(std::string_view name, std::string_view target) override;
  Result<void> link(std::string_view name, const std::shared_ptr<Inode>& target) override;
  Result<void> unlink(std::string_view name) override;
  Result<void> rmdir(std::string_view name) override;
  Result<void> rename(std::string_view name, Inode& new_dir, std::string_view new_name) override;
  Result<std::vector<DirEntry>> list() override;

  // ---- symlinks ----
  Result<std::string> readlink(const Process* caller) override;

  // ---- files ----
  Result<usize> read_at(u64 off, ostd::VmWriter& out) override;
  Result<usize> write_at(u64 off, ostd::VmReader& in) override;
  Result<void> truncate(u64 length) override;
  std::shared_ptr<SharedPages> page_cache() override { return pages_; }
  Result<void> sync_file() override;
  Result<std::shared_ptr<File>> open(const std::shared_ptr<Dentry>& d, u32 flags) override {
    if (fs_->read_only() && (flags & kOAccMode) != kORdOnly && (is_regular() || is_dir())) return Errno::erofs;
    if (is_regular() || is_dir()) return Inode::open(d, flags);
    if (type() == abi::kSIfifo) return open_fifo(pipe_, d, flags);
    if (type() == abi::kSIfchr || type() == abi::kSIfblk) return open_device(type() == abi::kSIfchr, rdev, d, flags);
    if (is_symlink()) return Errno::eloop;
    return Errno::enxio;
  }

 private:
  Result<void> writable() const { return fs_->read_only() ? Result<void>(Errno::erofs) : Result<void>(); }
  Result<std::shared_ptr<Inode>> make_child(std::string_view name, u32 mode, u64 device, std::string_view target);
  /// The entry `name` in this directory (read from `dir_raw`) and its inode, kept in `pins`;
  /// ENOENT when there is none. The file system's lock is held.
  struct Entry {
    Ext2Fs::Found found;
    std::shared_ptr<Ext2Inode> node;
  };
  Result<Entry> entry_locked(std::vector<u8>& dir_raw, std::string_view name, Pins& pins);

  std::shared_ptr<Ext2Fs> fs_;
  std::shared_ptr<SharedPages> pages_;
  std::shared_ptr<Pipe> pipe_;
};

Result<void> FilePages::fill(u64 index, ostd::Frame& frame) { return fs_->fill_page(ino_, index, frame); }
Result<void> FilePages::fill_run(u64 first, std::span<ostd::Frame> frames) {
  return fs_->fill_pages(ino_, first, frames);
}

// ---- Ext2Fs: mounting ----

Result<void> Ext2Fs::load() {
  super_.resize(1024);
  TRY(disk_->read(1024, super_));
  if (get16(super_, kSMagic) != kMagic) return Errno::einval;
  u32 log = get32(super_, kSLogBlockSize);
  if (log > 2) return Errno::einval;  // 1, 2 or 4 KiB blocks
  bs_ = 1024u << log;
  first_data_block_ = get32(super_, kSFirstDataBlock);
  blocks_count_ = get32(super_, kSBlocksCount);
  inodes_count_ = get32(super_, kSInodesCount);
  blocks_per_group_ = get32(super_, kSBlocksPerGroup);
  inodes_per_group_ = get32(super_, kSInodesPerGroup);
  if (blocks_per_group_ == 0 || blocks_per_group_ > bs_ * 8 || inodes_per_group_ == 0 || inodes_per_group_ > bs_ * 8 ||
      blocks_count_ <= first_data_block_ || u64{blocks_count_} * bs_ > disk_->size_bytes() ||
      first_data_block_ != (bs_ == 1024 ? 1u : 0u)) {
    return Errno::einval;
  }
  groups_ = (blocks_count_ - first_data_block_ + blocks_per_group_ - 1) / blocks_per_group_;
  if (u64{groups_} * inodes_per_group_ < inodes_count_ || inodes_count_ < kGoodOldFirstIno) return Errno::einval;
  u32 compat = 0;
  if (get32(super_, kSRevLevel) >= 1) {
    inode_size_ = get16(super_, kSInodeSize);
    first_ino_ = get32(super_, kSFirstIno);
    compat = get32(super_, kSFeatureCompat);
    incompat_ = get32(super_, kSFeatureIncompat);
    ro_compat_ = get32(super_, kSFeatureRoCompat);
  }
  if ((incompat_ & kIncompat64bit) != 0) {
    desc_size_ = get16(super_, kSDescSize);
    if (desc_size_ < 64 || desc_size_ > 1024 || (desc_size_ & (desc_size_ - 1)) != 0) return Errno::einval;
    // Block numbers past 32 bits would not fit this driver's; no image of less than 16 TiB has them.
    if (get32(super_, kSBlocksCountHi) != 0) {
      kLog.warn("{}: more than 2^32 blocks", disk_->name());
      return Errno::efbig;
    }
  }
  if (inode_size_ < kGoodOldInodeSize || inode_size_ > bs_ || (inode_size_ & (inode_size_ - 1)) != 0 ||
      first_ino_ < kGoodOldFirstIno || first_ino_ >= inodes_count_) {
    return Errno::einval;
  }
  // What each type accepts, as Linux's drivers: ext2 no journal to recover and none of ext4's
  // additions, ext3 a journal, ext4 everything this driver reads.
  if ((incompat_ & kIncompatRecover) != 0) {
    kLog.warn("{}: the journal needs recovery (run e2fsck)", disk_->name());
    return Errno::einval;
  }
  u32 incompat_ok = type() == "ext4" ? kIncompatReadable : kIncompatWritable;
  if ((incompat_ & ~incompat_ok) != 0 || (ro_compat_ & kRoCompatBigalloc) != 0 ||
      (type() == "ext3" && (compat & kCompatHasJournal) == 0)) {
    kLog.warn("{}: cannot mount as {}: features compat {:#x} incompat {:#x} ro_compat {:#x}", disk_->name(), type(),
              compat, incompat_, ro_compat_);
    return Errno::einval;
  }
  // Features this driver only reads: a read-write mount is EROFS (mount(8) retries read-only).
  if (!features_writable() && !ro_) {
    kLog.warn("{}: features incompat {:#x} ro_compat {:#x} are read-only here", disk_->name(),
              incompat_ & ~kIncompatWritable, ro_compat_ & ~kRoCompatWritable);
    return Errno::erofs;
  }
  if (disk_->read_only()) ro_ = true;
  // The group descriptor table must fit before the first group's bitmaps, and point inside.
  u64 gdt_blocks = (u64{groups_} * desc_size_ + bs_ - 1) / bs_;
  if (first_data_block_ + 1 + gdt_blocks > blocks_count_) return Errno::einval;
  free_blocks_ = 0;
  free_inodes_ = 0;
  for (u32 g = 0; g < groups_; ++g) {
    auto gd = TRY(gd_locked(g));
    for (usize f : {kBgBlockBitmap, kBgInodeBitmap}) {
      u32 b = get32(gd, f);
      if (b < first_data_block_ || b >= blocks_count_) return Errno::einval;
    }
    u64 table = get32(gd, kBgInodeTable);
    u64 table_blocks = (u64{inodes_per_group_} * inode_size_ + bs_ - 1) / bs_;
    if (table < first_data_block_ || table + table_blocks > blocks_count_) return Errno::einval;
    free_blocks_ += get16(gd, kBgFreeBlocks);
    free_inodes_ += get16(gd, kBgFreeInodes);
    if (desc_size_ >= 64) {
      for (usize f : {kBgBlockBitmapHi, kBgInodeBitmapHi, kBgInodeTableHi}) {
        if (get32(gd, f) != 0) return Errno::einval;
      }
      free_blocks_ += u32{get16(gd, kBgFreeBlocksHi)} << 16;
      free_inodes_ += u32{get16(gd, kBgFreeInodesHi)} << 16;
    }
  }
  reserved_blocks_ = get32(super_, kSRBlocksCount);
  if (!ro_) {
    // Mounted: not clean until unmounted (e2fsck checks a file system left so).
    put16(super_, kSState, static_cast<u16>(get16(super_, kSState) & ~kStateValid));
    put16(super_, kSMntCount, static_cast<u16>(get16(super_, kSMntCount) + 1));
    put32(super_, kSMtime, static_cast<u32>(now_timespec().tv_sec));
    TRY(write_super_locked(false));
    TRY(disk_->flush());
  }
  auto raw = TRY(read_raw_locked(kRootIno));
  if ((get16(raw, kIMode) & abi::kSIfmt) != abi::kSIfdir) return Errno::einval;
  root_ = std::make_shared<Ext2Inode>(shared_from_this(), kRootIno, raw);
  live_[kRootIno] = root_;
  return {};
}

std::shared_ptr<Inode> Ext2Fs::root() { return root_; }

u64 Ext2Fs::max_file_size() const {
  u64 per = bs_ / 4;
  u64 blocks = kNdirBlocks + per + per * per + per * per * per;
  // i_blocks counts 512-byte sectors in 32 bits.
  return std::min<u64>(blocks * bs_, (u64{1} << 32) * 512 - bs_);
}

std::optional<FileSystem::Stats> Ext2Fs::stats() const {
  auto g = lock_.lock();
  Stats s;
  s.block_size = bs_;
  s.blocks = blocks_count_ - first_data_block_;
  s.free_blocks = free_blocks_;
  s.available_blocks = free_blocks_ > reserved_blocks_ ? free_blocks_ - reserved_blocks_ : 0;
  s.files = inodes_count_;
  s.free_files = free_inodes_;
  return s;
}

Result<std::span<u8>> Ext2Fs::gd_locked(u32 g) {
  auto* buf = TRY(buffer_locked(gd_block(g)));
  return std::span<u8>(*buf).subspan(gd_off(g), desc_size_);
}

Result<void> Ext2Fs::write_super_locked(bool clean) {
  put32(super_, kSFreeBlocksCount, free_blocks_);
  put32(super_, kSFreeInodesCount, free_inodes_);
  put32(super_, kSWtime, static_cast<u32>(now_timespec().tv_sec));
  put32(super_, kSFeatureRoCompat, ro_compat_);
  u16 state = get16(super_, kSState);
  put16(super_, kSState, static_cast<u16>(clean ? (state | kStateValid) : (state & ~kStateValid)));
  // The superblock is bytes 1024..2047 of the disk: within block 1 (1 KiB blocks) or block 0.
  if (bs_ == 1024) {
    auto* b = TRY(buffer_locked(1));
    std::copy(super_.begin(), super_.end(), b->begin());
    mark_buffer_dirty_locked(1);
  } else {
    auto* b = TRY(buffer_locked(0));
    std::copy(super_.begin(), super_.end(), b->begin() + 1024);
    mark_buffer_dirty_locked(0);
  }
  super_dirty_ = false;
  return {};
}

Result<void> Ext2Fs::unmounted() {
  if (!mounted_) return {};
  // Written back and marked clean; when the write-back fails (a full disk for pages a mapping
  // dirtied over a hole) the rest is lost, as Linux loses it, the superblock stays not clean
  // for e2fsck, and the file system goes all the same.
  Result<void> res;
  if (!ro_) {
    res = sync();
    Pins pins;
    auto g = lock_.lock();
    if (res.is_ok()) res = write_super_locked(true);
    if (auto r = sync_locked(pins); r.is_error() && res.is_ok()) res = r;
    if (auto r = disk_->flush(); r.is_error() && res.is_ok()) res = r;
  }
  // Nothing reaches this instance any more: let go of its caches (and the references from
  // them back to it). A new mount of the disk reads it afresh.
  std::shared_ptr<Ext2Inode> root;
  std::map<u32, std::shared_ptr<SharedPages>> pages;
  {
    auto g = lock_.lock();
    mounted_ = false;
    root = std::move(root_);
    pages.swap(pages_);
    buffers_.clear();
  }
  loop_mount_changed(disk_, false);
  if (res.is_error()) kLog.warn("{}: unmounted with data lost: {}", disk_->name(), res.error());
  return res;
}

Result<void> Ext2Fs::remount(bool read_only) {
  if (read_only == ro_) return {};
  if (read_only) {
    // Everything written goes to the disk first, which is then left clean (as umount does).
    TRY(sync());
    Pins pins;
    auto g = lock_.lock();
    TRY(write_super_locked(true));
    TRY(sync_locked(pins));
    ro_ = true;
    return disk_->flush();
  }
  if (disk_->read_only()) return Errno::eacces;
  if (!features_writable()) return Errno::erofs;
  Pins pins;
  auto g = lock_.lock();
  ro_ = false;
  put16(super_, kSMntCount, static_cast<u16>(get16(super_, kSMntCount) + 1));
  TRY(write_super_locked(false));
  TRY(sync_locked(pins));
  return disk_->flush();
}

bool Ext2Fs::busy(usize root_refs_held) const {
  auto g = lock_.lock();
  if (root_ && static_cast<usize>(root_.use_count()) > 1 + root_refs_held) return true;
  for (const auto& [ino, weak] : live_) {
    if (ino == kRootIno) continue;
    if (!weak.expired()) return true;
  }
  for (const auto& [ino, p] : pages_) {
    if (p.use_count() > 1) return true;
  }
  return !orphans_.empty();
}

// ---- the buffer cache ----

Result<std::vector<u8>*> Ext2Fs::buffer_locked(u64 block) {
  if (block >= blocks_count_) {
    kLog.warn("{}: block {} is past the end ({} blocks)", disk_->name(), block, blocks_count_);
    return Errno::eio;  // EUCLEAN would name the corruption; EIO is what callers expect
  }
  auto it = buffers_.find(block);
  if (it != buffers_.end()) return &it->second;
  if (buffers_.size() >= kMaxCachedBuffers) {
    // Drop clean buffers (the oldest block numbers first; the map is not an LRU).
    for (auto e = buffers_.begin(); e != buffers_.end() && buffers_.size() >= kMaxCachedBuffers / 2;) {
      if (dirty_buffers_.count(e->first) == 0) {
        e = buffers_.erase(e);
      } else {
        ++e;
      }
    }
  }
  std::vector<u8> data(bs_);
  TRY(disk_->read(block * bs_, data));
  return &buffers_.emplace(block, std::move(data)).first->second;
}

Result<void> Ext2Fs::sync_locked(Pins& pins) {
  if (ro_) return {};
  if (super_dirty_) TRY(write_super_locked(false));
  // Inode attributes the VFS changed in place.
  for (auto& [ino, weak] : live_) {
    if (auto node = weak.lock()) {
      pins.push_back(node);
      auto raw = TRY(read_raw_locked(ino));
      std::vector<u8> before = raw;
      node->save_attrs(raw);
      if (raw != before) TRY(write_raw_locked(ino, raw));
    }
  }
  std::erase_if(live_, [](const auto& kv) { return kv.second.expired(); });
  // Runs of consecutive dirty blocks go out in one request each (the set is sorted), the runs
  // of up to 4 MiB together in one batch.
  constexpr usize kMaxRun = 64;
  constexpr usize kMaxBatchBytes = usize{4} << 20;
  std::vector<std::vector<u8>> runs;
  std::vector<u64> starts;
  usize batch_bytes = 0;
  auto flush_batch = [&]() -> Result<void> {
    std::vector<BlockWrite> writes;
    for (usize i = 0; i < runs.size(); ++i) writes.push_back(BlockWrite{starts[i] * bs_, runs[i], {}});
    if (!writes.empty()) TRY(disk_->write_batch(writes));
    runs.clear();
    starts.clear();
    batch_bytes = 0;
    return {};
  };
  std::vector<u64> dirty(dirty_buffers_.begin(), dirty_buffers_.end());
  for (u64 b : dirty) {
    auto it = buffers_.find(b);
    if (it == buffers_.end()) continue;
    if (runs.empty() || b != starts.back() + runs.back().size() / bs_ || runs.back().size() / bs_ == kMaxRun) {
      if (batch_bytes >= kMaxBatchBytes) TRY(flush_batch());
      runs.emplace_back();
      starts.push_back(b);
    }
    runs.back().insert(runs.back().end(), it->second.begin(), it->second.end());
    batch_bytes += bs_;
  }
  TRY(flush_batch());
  dirty_buffers_.clear();
  return {};
}

Result<void> Ext2Fs::sync() {
  if (ro_) return {};
  // File pages first (they may allocate blocks), then the metadata, then the disk's cache.
  std::vector<std::pair<u32, std::shared_ptr<SharedPages>>> caches;
  {
    auto g = lock_.lock();
    for (auto& [ino, p] : pages_) caches.emplace_back(ino, p);
  }
  for (auto& [ino, p] : caches) TRY(write_back_pages(ino, *p));
  caches.clear();  // its references would keep every cache "in use" below
  Pins pins;
  std::vector<std::shared_ptr<SharedPages>> done_orphans;
  {
    auto g = lock_.lock();
    // Orphans nobody maps any more are deleted now; caches nobody uses are dropped.
    for (auto it = orphans_.begin(); it != orphans_.end();) {
      if (it->second.use_count() == 1 && live_.count(it->first) == 0) {
        done_orphans.push_back(std::move(it->second));
        TRY(delete_inode_locked(it->first));
        it = orphans_.erase(it);
      } else {
        ++it;
      }
    }
    // Caches nobody but this map holds (and nobody can dirty while the lock is held) go, unless
    // a write since the write-back above left them dirty: an inode opened, written and closed
    // again meanwhile.
    for (auto it = pages_.begin(); it != pages_.end();) {
      if (it->second.use_count() == 1 && !it->second->has_dirty_unlocked()) {
        done_orphans.push_back(std::move(it->second));
        it = pages_.erase(it);
      } else {
        ++it;
      }
    }
    TRY(sync_locked(pins));
  }
  return disk_->flush();
}

// ---- inodes ----

Result<std::vector<u8>> Ext2Fs::read_raw_locked(u32 ino) {
  if (ino == 0 || ino > inodes_count_) return Errno::eio;
  u32 g = (ino - 1) / inodes_per_group_;
  u32 index = (ino - 1) % inodes_per_group_;
  auto gd = TRY(gd_locked(g));
  u64 table = get32(gd, kBgInodeTable);
  u64 byte = u64{index} * inode_size_;
  auto* b = TRY(buffer_locked(table + byte / bs_));
  auto off = static_cast<usize>(byte % bs_);
  return std::vector<u8>(b->begin() + static_cast<long>(off), b->begin() + static_cast<long>(off + inode_size_));
}

Result<void> Ext2Fs::write_raw_locked(u32 ino, std::span<const u8> raw) {
  if (ino == 0 || ino > inodes_count_) return Errno::eio;
  u32 g = (ino - 1) / inodes_per_group_;
  u32 index = (ino - 1) % inodes_per_group_;
  auto gd = TRY(gd_locked(g));
  u64 table = get32(gd, kBgInodeTable);
  u64 byte = u64{index} * inode_size_;
  u64 block = table + byte / bs_;
  auto* b = TRY(buffer_locked(block));
  std::copy(raw.begin(), raw.begin() + inode_size_, b->begin() + static_cast<long>(byte % bs_));
  mark_buffer_dirty_locked(block);
  return {};
}

Result<void> Ext2Fs::store_locked(const Ext2Inode& node, std::vector<u8>& raw) {
  node.save_attrs(raw);
  return write_raw_locked(node.number(), raw);
}

Result<void> Ext2Fs::save_locked(const Ext2Inode& node) {
  auto raw = TRY(read_raw_locked(node.number()));
  return store_locked(node, raw);
}

Result<std::shared_ptr<Ext2Inode>> Ext2Fs::get_inode_locked(u32 ino, Pins& pins) {
  if (auto it = live_.find(ino); it != live_.end()) {
    if (auto node = it->second.lock()) {
      pins.push_back(node);
      return node;
    }
  }
  if (ino < kRootIno || ino > inodes_count_) return Errno::eio;
  auto raw = TRY(read_raw_locked(ino));
  if (get16(raw, kILinks) == 0 && orphans_.count(ino) == 0) {
    kLog.warn("{}: directory entry names free inode {}", disk_->name(), ino);
    return Errno::eio;
  }
  auto node = std::make_shared<Ext2Inode>(shared_from_this(), ino, raw);
  live_[ino] = node;
  pins.push_back(node);
  return node;
}

Result<u32> Ext2Fs::alloc_inode_locked(u32 dir_ino, bool is_dir) {
  if (free_inodes_ == 0) return Errno::enospc;
  u32 start = dir_ino == 0 ? 0 : (dir_ino - 1) / inodes_per_group_;
  if (is_dir) {
    // Spread directories: the group with the most free blocks among those with free inodes.
    u32 best = start;
    u32 best_free = 0;
    for (u32 g = 0; g < groups_; ++g) {
      auto gd = TRY(gd_locked(g));
      if (get16(gd, kBgFreeInodes) > 0 && get16(gd, kBgFreeBlocks) >= best_free) {
        best = g;
        best_free = get16(gd, kBgFreeBlocks);
      }
    }
    start = best;
  }
  for (u32 i = 0; i < groups_; ++i) {
    u32 g = (start + i) % groups_;
    auto gd = TRY(gd_locked(g));
    if (get16(gd, kBgFreeInodes) == 0) continue;
    u64 bitmap_block = get32(gd, kBgInodeBitmap);
    auto* bm = TRY(buffer_locked(bitmap_block));
    for (u32 bit = 0; bit < inodes_per_group_; ++bit) {
      u32 ino = g * inodes_per_group_ + bit + 1;
      if (ino < first_ino_ || ino > inodes_count_) continue;
      if (((*bm)[bit / 8] & (1u << (bit % 8))) != 0) continue;
      (*bm)[bit / 8] = static_cast<u8>((*bm)[bit / 8] | (1u << (bit % 8)));
      mark_buffer_dirty_locked(bitmap_block);
      gd = TRY(gd_locked(g));
      put16(gd, kBgFreeInodes, static_cast<u16>(get16(gd, kBgFreeInodes) - 1));
      if (is_dir) put16(gd, kBgUsedDirs, static_cast<u16>(get16(gd, kBgUsedDirs) + 1));
      mark_buffer_dirty_locked(gd_block(g));
      --free_inodes_;
      super_dirty_ = true;
      return ino;
    }
  }
  return Errno::enospc;
}

Result<void> Ext2Fs::free_inode_locked(u32 ino, bool was_dir) {
  u32 g = (ino - 1) / inodes_per_group_;
  u32 bit = (ino - 1) % inodes_per_group_;
  auto gd = TRY(gd_locked(g));
  u64 bitmap_block = get32(gd, kBgInodeBitmap);
  auto* bm = TRY(buffer_locked(bitmap_block));
  if (((*bm)[bit / 8] & (1u << (bit % 8))) == 0) {
    kLog.warn("{}: freeing free inode {}", disk_->name(), ino);
    return Errno::eio;
  }
  (*bm)[bit / 8] = static_cast<u8>((*bm)[bit / 8] & ~(1u << (bit % 8)));
  mark_buffer_dirty_locked(bitmap_block);
  gd = TRY(gd_locked(g));
  put16(gd, kBgFreeInodes, static_cast<u16>(get16(gd, kBgFreeInodes) + 1));
  if (was_dir && get16(gd, kBgUsedDirs) > 0) put16(gd, kBgUsedDirs, static_cast<u16>(get16(gd, kBgUsedDirs) - 1));
  mark_buffer_dirty_locked(gd_block(g));
  ++free_inodes_;
  super_dirty_ = true;
  return {};
}

Result<void> Ext2Fs::delete_inode_locked(u32 ino) {
  auto raw = TRY(read_raw_locked(ino));
  u32 mode = get16(raw, kIMode);
  bool fast_symlink = (mode & abi::kSIfmt) == abi::kSIflnk && get32(raw, kIBlocks) == 0;
  bool device = (mode & abi::kSIfmt) == abi::kSIfchr || (mode & abi::kSIfmt) == abi::kSIfblk;
  if (!fast_symlink && !device) TRY(truncate_blocks_locked(raw, 0));
  set_file_size(raw, 0);
  put32(raw, kIDtime, static_cast<u32>(now_timespec().tv_sec));
  put16(raw, kILinks, 0);
  TRY(write_raw_locked(ino, raw));
  return free_inode_locked(ino, (mode & abi::kSIfmt) == abi::kSIfdir);
}

// ---- blocks ----

Result<u32> Ext2Fs::alloc_block_locked(u32 goal) {
  if (free_blocks_ == 0) return Errno::enospc;
  if (goal < first_data_block_ || goal >= blocks_count_) goal = first_data_block_;
  u32 start_group = (goal - first_data_block_) / blocks_per_group_;
  for (u32 i = 0; i <= groups_; ++i) {
    u32 g = (start_group + i) % groups_;
    auto gd = TRY(gd_locked(g));
    if (get16(gd, kBgFreeBlocks) == 0) continue;
    u64 bitmap_block = get32(gd, kBgBlockBitmap);
    auto* bm = TRY(buffer_locked(bitmap_block));
    u32 first_bit = (i == 0) ? (goal - first_data_block_) % blocks_per_group_ : 0;
    u32 group_blocks = std::min(blocks_per_group_, blocks_count_ - first_data_block_ - g * blocks_per_group_);
    for (u32 k = 0; k < group_blocks; ++k) {
      u32 bit = (first_bit + k) % group_blocks;
      if (((*bm)[bit / 8] & (1u << (bit % 8))) != 0) continue;
      (*bm)[bit / 8] = static_cast<u8>((*bm)[bit / 8] | (1u << (bit % 8)));
      mark_buffer_dirty_locked(bitmap_block);
      gd = TRY(gd_locked(g));
      put16(gd, kBgFreeBlocks, static_cast<u16>(get16(gd, kBgFreeBlocks) - 1));
      mark_buffer_dirty_locked(gd_block(g));
      --free_blocks_;
      super_dirty_ = true;
      return first_data_block_ + g * blocks_per_group_ + bit;
    }
  }
  return Errno::enospc;
}

Result<void> Ext2Fs::free_block_locked(u32 block) {
  if (block < first_data_block_ || block >= blocks_count_) {
    kLog.warn("{}: freeing block {} outside the file system", disk_->name(), block);
    return Errno::eio;
  }
  u32 g = (block - first_data_block_) / blocks_per_group_;
  u32 bit = (block - first_data_block_) % blocks_per_group_;
  auto gd = TRY(gd_locked(g));
  u64 bitmap_block = get32(gd, kBgBlockBitmap);
  auto* bm = TRY(buffer_locked(bitmap_block));
  if (((*bm)[bit / 8] & (1u << (bit % 8))) == 0) {
    kLog.warn("{}: freeing free block {}", disk_->name(), block);
    return Errno::eio;
  }
  (*bm)[bit / 8] = static_cast<u8>((*bm)[bit / 8] & ~(1u << (bit % 8)));
  mark_buffer_dirty_locked(bitmap_block);
  gd = TRY(gd_locked(g));
  put16(gd, kBgFreeBlocks, static_cast<u16>(get16(gd, kBgFreeBlocks) + 1));
  mark_buffer_dirty_locked(gd_block(g));
  ++free_blocks_;
  super_dirty_ = true;
  // A stale cached copy must never be written over the block's next owner.
  buffers_.erase(block);
  dirty_buffers_.erase(block);
  return {};
}

// Walks one level of indirection: `slot` is where the pointer to this level's block lives
// (an i_block index of `raw` when depth is the top, else handled by the caller).
Result<u32> Ext2Fs::indirect_walk_locked(std::vector<u8>& raw, usize slot, u32 depth, u64 index, bool create,
                                         u32 goal) {
  u32 per = bs_ / 4;
  u32 block = get32(raw, kIBlock + slot * 4);
  auto sectors = [&] { return bs_ / 512; };
  if (block == 0) {
    if (!create) return u32{0};
    block = TRY(alloc_block_locked(goal));
    auto* b = TRY(buffer_locked(block));
    std::fill(b->begin(), b->end(), u8{0});
    mark_buffer_dirty_locked(block);
    put32(raw, kIBlock + slot * 4, block);
    put32(raw, kIBlocks, get32(raw, kIBlocks) + sectors());
  }
  // Descend: at each level, the entry index is a digit of `index` in base `per`.
  for (u32 level = depth; level > 0; --level) {
    u64 span = 1;
    for (u32 k = 1; k < level; ++k) span *= per;
    auto entry = static_cast<usize>(index / span);
    index %= span;
    auto* b = TRY(buffer_locked(block));
    u32 next = get32(*b, entry * 4);
    if (next == 0) {
      if (!create) return u32{0};
      next = TRY(alloc_block_locked(goal != 0 ? goal : block));
      if (level > 1) {
        auto* nb = TRY(buffer_locked(next));
        std::fill(nb->begin(), nb->end(), u8{0});
        mark_buffer_dirty_locked(next);
      }
      b = TRY(buffer_locked(block));  // the map may have moved entries (it does not; be safe)
      put32(*b, entry * 4, next);
      mark_buffer_dirty_locked(block);
      put32(raw, kIBlocks, get32(raw, kIBlocks) + sectors());
    }
    block = next;
  }
  return block;
}

Result<u32> Ext2Fs::bmap_locked(std::vector<u8>& raw, u64 fblock, bool create) {
  // New blocks go right after the file's previous block (a sequential file stays contiguous and
  // the bitmap search ends at once).
  u32 goal = 0;
  if (create && fblock > 0) {
    u32 prev = TRY(map_block_locked(raw, fblock - 1, false, 0));
    if (prev != 0) goal = prev + 1;
  }
  return map_block_locked(raw, fblock, create, goal);
}

Result<u32> Ext2Fs::map_block_locked(std::vector<u8>& raw, u64 fblock, bool create, u32 goal) {
  if ((get32(raw, kIFlags) & kExtentsFl) != 0) {
    if (create) return Errno::erofs;  // extent trees are only read (the mount is read-only)
    return extent_map_locked(raw, fblock);
  }
  u64 per = bs_ / 4;
  if (fblock < kNdirBlocks) {
    auto slot = static_cast<usize>(fblock);
    u32 b = get32(raw, kIBlock + slot * 4);
    if (b != 0 || !create) return b;
    b = TRY(alloc_block_locked(goal));
    put32(raw, kIBlock + slot * 4, b);
    put32(raw, kIBlocks, get32(raw, kIBlocks) + bs_ / 512);
    return b;
  }
  fblock -= kNdirBlocks;
  if (fblock < per) return indirect_walk_locked(raw, kIndBlock, 1, fblock, create, goal);
  fblock -= per;
  if (fblock < per * per) return indirect_walk_locked(raw, kDindBlock, 2, fblock, create, goal);
  fblock -= per * per;
  if (fblock < per * per * per) return indirect_walk_locked(raw, kTindBlock, 3, fblock, create, goal);
  return Errno::efbig;
}

Result<u32> Ext2Fs::extent_map_locked(std::span<const u8> raw, u64 fblock) {
  auto corrupt = [&](std::string_view what) -> Result<u32> {
    kLog.warn("{}: bad extent tree ({}) at file block {}", disk_->name(), what, fblock);
    return Errno::eio;
  };
  if (fblock > 0xffffffff) return u32{0};  // past what 32-bit logical block numbers reach
  std::span<const u8> node = raw.subspan(kIBlock, 60);
  u32 depth = 0;
  for (u32 level = 0;; ++level) {
    if (get16(node, 0) != kExtentMagic) return corrupt("magic");
    u32 entries = get16(node, 2), max = get16(node, 4), node_depth = get16(node, 6);
    if (max > (node.size() - 12) / 12 || entries > max) return corrupt("entries");
    if (level == 0) {
      if (node_depth > kExtentMaxDepth) return corrupt("depth");
      depth = node_depth;
    } else if (node_depth != depth - level) {
      return corrupt("depth");
    }
    // The last entry starting at or before fblock (entries are sorted by their first block).
    u32 lo = 0, hi = entries;
    while (lo < hi) {
      u32 mid = (lo + hi) / 2;
      if (get32(node, 12 + usize{mid} * 12) <= fblock) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    if (lo == 0) return u32{0};  // before the first entry: a hole
    auto e = node.subspan(12 + usize{lo - 1} * 12, 12);
    u32 first = get32(e, 0);
    if (node_depth == 0) {
      u32 len = get16(e, 4);
      bool unwritten = len > kExtentInitMaxLen;
      if (unwritten) len -= kExtentInitMaxLen;
      if (fblock >= u64{first} + len) return u32{0};
      u64 start = (u64{get16(e, 6)} << 32) | get32(e, 8);
      u64 block = start + (fblock - first);
      if (start < first_data_block_ || start + len > blocks_count_) return corrupt("extent past the end");
      if (unwritten) return u32{0};
      return static_cast<u32>(block);
    }
    u64 child = get32(e, 4) | (u64{get16(e, 8)} << 32);
    if (child < first_data_block_ || child >= blocks_count_) return corrupt("index past the end");
    node = *TRY(buffer_locked(child));
  }
}

// Frees what lies below `top`, an indirect block of `depth` levels whose first file block is
// `base`, for file blocks `first` and after (counting every freed block, indirect ones too, in
// `freed`); true when nothing below it is left, so the caller frees `top` itself. Iterative:
// a stack of the levels being walked (three at most).
Result<bool> Ext2Fs::free_tree_locked(u32 top, u32 depth, u64 first, u64 base, u64& freed) {
  struct Level {
    u32 block;
    u32 depth;
    u64 base;
    u64 entry;
    bool empty;
  };
  const u64 per = bs_ / 4;
  auto span_of = [per](u32 d) {
    u64 span = 1;
    for (u32 k = 1; k < d; ++k) span *= per;
    return span;
  };
  // Clears entry `e` of `block` after its child was freed.
  auto drop_entry = [&](u32 block, u64 e, u32 child) -> Result<void> {
    TRY(free_block_locked(child));
    ++freed;
    auto* b = TRY(buffer_locked(block));
    put32(*b, static_cast<usize>(e * 4), 0);
    mark_buffer_dirty_locked(block);
    return {};
  };
  std::vector<Level> stack{Level{top, depth, base, 0, true}};
  bool child_empty = false;
  bool returning = false;
  while (!stack.empty()) {
    Level& l = stack.back();
    if (returning) {
      // The child at the previous entry is done: freed when nothing is left below it.
      returning = false;
      auto* b = TRY(buffer_locked(l.block));
      u32 child = get32(*b, static_cast<usize>((l.entry - 1) * 4));
      if (child_empty) {
        TRY(drop_entry(l.block, l.entry - 1, child));
      } else {
        l.empty = false;
      }
    }
    if (l.entry == per) {
      child_empty = l.empty;
      stack.pop_back();
      returning = true;
      continue;
    }
    u64 e = l.entry++;
    auto* b = TRY(buffer_locked(l.block));
    u32 child = get32(*b, static_cast<usize>(e * 4));
    if (child == 0) continue;
    u64 span = span_of(l.depth);
    u64 child_base = l.base + e * span;
    if (child_base + span <= first) {
      l.empty = false;  // kept whole
      continue;
    }
    if (l.depth == 1) {
      TRY(drop_entry(l.block, e, child));  // a data block at or past `first`
      continue;
    }
    Level next{child, l.depth - 1, child_base, 0, true};
    stack.push_back(next);  // `l` is not used after this
  }
  return child_empty;
}

Result<void> Ext2Fs::truncate_blocks_locked(std::vector<u8>& raw, u64 first) {
  u64 per = bs_ / 4;
  u64 freed = 0;
  for (u64 i = first; i < kNdirBlocks; ++i) {
    auto slot = static_cast<usize>(i);
    if (u32 b = get32(raw, kIBlock + slot * 4); b != 0) {
      TRY(free_block_locked(b));
      put32(raw, kIBlock + slot * 4, 0);
      ++freed;
    }
  }
  struct Level {
    usize slot;
    u32 depth;
    u64 base;
  };
  const std::array<Level, 3> levels{Level{kIndBlock, 1, kNdirBlocks}, Level{kDindBlock, 2, kNdirBlocks + per},
                                    Level{kTindBlock, 3, kNdirBlocks + per + per * per}};
  for (const Level& l : levels) {
    u32 top = get32(raw, kIBlock + l.slot * 4);
    if (top == 0) continue;
    bool gone = TRY(free_tree_locked(top, l.depth, first, l.base, freed));
    if (gone) {
      TRY(free_block_locked(top));
      put32(raw, kIBlock + l.slot * 4, 0);
      ++freed;
    }
  }
  u32 sectors = get32(raw, kIBlocks);
  u64 drop = freed * (bs_ / 512);
  put32(raw, kIBlocks, sectors > drop ? static_cast<u32>(sectors - drop) : 0);
  return {};
}

// ---- directories ----

Result<std::optional<Ext2Fs::Found>> Ext2Fs::find_entry_locked(std::vector<u8>& dir_raw, std::string_view name) {
  u64 blocks = file_size(dir_raw) / bs_;
  for (u64 fb = 0; fb < blocks; ++fb) {
    u32 b = TRY(bmap_locked(dir_raw, fb, false));
    if (b == 0) continue;
    auto* data = TRY(buffer_locked(b));
    usize off = 0, prev = 0;
    while (off + 8 <= bs_) {
      u32 ino = get32(*data, off);
      u32 rec = get16(*data, off + 4);
      usize nlen = (*data)[off + 6];
      if (rec < 8 || off + rec > bs_ || 8 + nlen > rec) {
        kLog.warn("{}: bad directory entry in block {}", disk_->name(), b);
        return Errno::eio;
      }
      if (ino != 0 && nlen == name.size() &&
          std::equal(name.begin(), name.end(), data->begin() + static_cast<long>(off + 8))) {
        return std::optional<Found>(Found{ino, fb, off, prev});
      }
      prev = off;
      off += rec;
    }
  }
  return std::optional<Found>();
}

Result<std::vector<DirEntry>> Ext2Fs::list_locked(std::vector<u8>& dir_raw) {
  std::vector<DirEntry> out;
  u64 blocks = file_size(dir_raw) / bs_;
  for (u64 fb = 0; fb < blocks; ++fb) {
    u32 b = TRY(bmap_locked(dir_raw, fb, false));
    if (b == 0) continue;
    auto* data = TRY(buffer_locked(b));
    usize off = 0;
    while (off + 8 <= bs_) {
      u32 ino = get32(*data, off);
      u32 rec = get16(*data, off + 4);
      usize nlen = (*data)[off + 6];
      if (rec < 8 || off + rec > bs_ || 8 + nlen > rec) return Errno::eio;
      if (ino != 0) {
        std::string name(data->begin() + static_cast<long>(off + 8), data->begin() + static_cast<long>(off + 8 + nlen));
        if (name != "." && name != "..") {
          u8 type = kDtUnknown;
          if (has_filetype()) {
            static constexpr std::array<u8, 8> kTypes{kDtUnknown, kDtReg,  kDtDir,  kDtChr,
                                                      kDtBlk,     kDtFifo, kDtSock, kDtLnk};
            u8 ft = (*data)[off + 7];
            if (ft < kTypes.size()) type = kTypes[ft];
          }
          out.push_back(DirEntry{std::move(name), ino, type});
        }
      }
      off += rec;
    }
  }
  return out;
}

Result<void> Ext2Fs::add_entry_locked(u32 dir_ino, std::vector<u8>& dir_raw, std::string_view name, u32 ino, u32 mode) {
  u32 need = rec_len_for(name.size());
  auto write_entry = [&](std::vector<u8>& data, usize off, u32 rec) {
    put32(data, off, ino);
    put16(data, off + 4, static_cast<u16>(rec));
    data[off + 6] = static_cast<u8>(name.size());
    data[off + 7] = has_filetype() ? ext2_file_type(mode) : 0;
    std::copy(name.begin(), name.end(), data.begin() + static_cast<long>(off + 8));
  };
  // An index would no longer cover the new name.
  put32(dir_raw, kIFlags, get32(dir_raw, kIFlags) & ~kIndexFl);
  u64 blocks = file_size(dir_raw) / bs_;
  for (u64 fb = 0; fb < blocks; ++fb) {
    u32 b = TRY(bmap_locked(dir_raw, fb, false));
    if (b == 0) continue;
    auto* data = TRY(buffer_locked(b));
    usize off = 0;
    while (off + 8 <= bs_) {
      u32 cur_ino = get32(*data, off);
      u32 rec = get16(*data, off + 4);
      usize nlen = (*data)[off + 6];
      if (rec < 8 || off + rec > bs_) return Errno::eio;
      u32 used = cur_ino == 0 ? 0 : rec_len_for(nlen);
      if (rec - used >= need) {
        if (cur_ino == 0) {
          write_entry(*data, off, rec);
        } else {
          put16(*data, off + 4, static_cast<u16>(used));
          write_entry(*data, off + used, rec - used);
        }
        mark_buffer_dirty_locked(b);
        return write_raw_locked(dir_ino, dir_raw);
      }
      off += rec;
    }
  }
  // A new block at the end.
  u32 b = TRY(bmap_locked(dir_raw, blocks, true));
  auto* data = TRY(buffer_locked(b));
  std::fill(data->begin(), data->end(), u8{0});
  write_entry(*data, 0, bs_);
  mark_buffer_dirty_locked(b);
  set_file_size(dir_raw, (blocks + 1) * bs_);
  return write_raw_locked(dir_ino, dir_raw);
}

Result<void> Ext2Fs::remove_entry_locked(std::vector<u8>& dir_raw, const Found& f) {
  u32 b = TRY(bmap_locked(dir_raw, f.fblock, false));
  auto* data = TRY(buffer_locked(b));
  if (f.prev_offset == f.offset) {
    put32(*data, f.offset, 0);  // the first entry of a block: emptied in place
  } else {
    u32 merged = get16(*data, f.prev_offset + 4) + get16(*data, f.offset + 4);
    put16(*data, f.prev_offset + 4, static_cast<u16>(merged));
  }
  mark_buffer_dirty_locked(b);
  put32(dir_raw, kIFlags, get32(dir_raw, kIFlags) & ~kIndexFl);
  return {};
}

Result<void> Ext2Fs::set_entry_inode_locked(std::vector<u8>& dir_raw, const Found& f, u32 ino, u32 mode) {
  u32 b = TRY(bmap_locked(dir_raw, f.fblock, false));
  auto* data = TRY(buffer_locked(b));
  put32(*data, f.offset, ino);
  if (has_filetype()) (*data)[f.offset + 7] = ext2_file_type(mode);
  mark_buffer_dirty_locked(b);
  return {};
}

Result<bool> Ext2Fs::dir_is_empty_locked(std::vector<u8>& dir_raw) {
  auto entries = TRY(list_locked(dir_raw));
  return entries.empty();
}

// ---- file pages ----

std::shared_ptr<SharedPages> Ext2Fs::pages_for(u32 ino, u64 size) {
  // Called with the lock held (from Ext2Inode's constructor).
  auto it = pages_.find(ino);
  if (it != pages_.end()) return it->second;
  if (auto o = orphans_.find(ino); o != orphans_.end()) return o->second;
  auto p = std::make_shared<SharedPages>(std::make_shared<FilePages>(shared_from_this(), ino));
  p->set_file_size(size);
  pages_.emplace(ino, p);
  return p;
}

void Ext2Fs::forget_pages(u32 ino) { pages_.erase(ino); }

void Ext2Fs::add_orphan(u32 ino, std::shared_ptr<SharedPages> pages) { orphans_[ino] = std::move(pages); }

Result<void> Ext2Fs::fill_page(u32 ino, u64 index, ostd::Frame& frame) {
  auto g = lock_.lock();
  auto raw = TRY(read_raw_locked(ino));
  u64 size = file_size(raw);
  u32 per_page = static_cast<u32>(ostd::kPageSize / bs_);
  u64 first = index * per_page;
  if (per_page == 1) {
    u32 b = TRY(bmap_locked(raw, first, false));
    if (b == 0) return {};
    std::array<ostd::Frame, 1> one{frame};
    return disk_->read_frames(u64{b} * bs_, one);
  }
  std::vector<u8> page(ostd::kPageSize);
  bool any = false;
  for (u32 k = 0; k < per_page; ++k) {
    if ((first + k) * bs_ >= size) break;
    u32 b = TRY(bmap_locked(raw, first + k, false));
    if (b == 0) continue;
    TRY(disk_->read(u64{b} * bs_, std::span<u8>(page).subspan(usize{k} * bs_, bs_)));
    any = true;
  }
  if (any) TRY(frame.write_bytes(0, page));
  return {};
}

Result<void> Ext2Fs::fill_pages(u32 ino, u64 first, std::span<ostd::Frame> frames) {
  if (bs_ != ostd::kPageSize) {
    for (usize i = 0; i < frames.size(); ++i) TRY(fill_page(ino, first + i, frames[i]));
    return {};
  }
  std::vector<ostd::Frame> run;
  u64 run_block = 0;
  auto flush_run = [&]() -> Result<void> {
    if (!run.empty()) TRY(disk_->read_frames(run_block * bs_, run));
    run.clear();
    return {};
  };
  auto g = lock_.lock();
  auto raw = TRY(read_raw_locked(ino));
  for (usize i = 0; i < frames.size(); ++i) {
    u32 b = TRY(bmap_locked(raw, first + i, false));
    if (b == 0) {  // a hole stays zero
      TRY(flush_run());
      continue;
    }
    if (run.empty() || b != run_block + run.size()) {
      TRY(flush_run());
      run_block = b;
    }
    run.push_back(frames[i]);
  }
  return flush_run();
}

Result<void> Ext2Fs::write_back_pages(u32 ino, SharedPages& pages) {
  auto dirty = pages.take_dirty();
  if (dirty.empty()) return {};
  std::vector<u64> later;
  auto r = write_pages_out(ino, dirty, later);
  // After the file system's lock (a page cache's lock comes first): what could not go out now
  // is dirty again — all of it when the write-back failed.
  if (r.is_error()) {
    for (const auto& [index, frame] : dirty) pages.mark_dirty(index);
  } else {
    for (u64 index : later) pages.mark_dirty(index);
  }
  return r;
}

Result<void> Ext2Fs::write_pages_out(u32 ino, const std::vector<std::pair<u64, ostd::Frame>>& dirty,
                                     std::vector<u64>& later) {
  u32 per_page = static_cast<u32>(ostd::kPageSize / bs_);
  std::vector<u8> buf(ostd::kPageSize);
  auto g = lock_.lock();
  auto raw = TRY(read_raw_locked(ino));
  if (get16(raw, kILinks) == 0 && orphans_.count(ino) == 0 && live_.count(ino) == 0) return {};  // deleted
  u64 size = file_size(raw);
  std::vector<u8> before = raw;
  // Page-sized blocks: runs of pages on consecutive blocks go out in one request each, up to
  // 1024 pages of runs together in one batch.
  constexpr usize kMaxRun = 256, kMaxBatchPages = 1024;
  std::vector<std::vector<ostd::Frame>> runs;
  std::vector<u64> run_blocks;
  usize batch_pages = 0;
  auto flush_runs = [&]() -> Result<void> {
    std::vector<BlockWrite> writes;
    for (usize i = 0; i < runs.size(); ++i) writes.push_back(BlockWrite{run_blocks[i] * bs_, {}, runs[i]});
    if (!writes.empty()) TRY(disk_->write_batch(writes));
    runs.clear();
    run_blocks.clear();
    batch_pages = 0;
    return {};
  };
  // A dirty page past the size read here was written by a write(2) that has not recorded the new
  // size yet (or a truncate is dropping it): it stays dirty for the next write-back.
  for (const auto& [index, frame] : dirty) {
    u64 first = index * per_page;
    if (first * bs_ >= size) {
      later.push_back(index);
      continue;
    }
    if (per_page == 1) {
      u32 b = TRY(bmap_locked(raw, first, true));  // a page dirtied through a mapping may be a hole
      if (runs.empty() || b != run_blocks.back() + runs.back().size() || runs.back().size() == kMaxRun) {
        if (batch_pages >= kMaxBatchPages) TRY(flush_runs());
        runs.emplace_back();
        run_blocks.push_back(b);
      }
      runs.back().push_back(frame);
      ++batch_pages;
      continue;
    }
    TRY(frame.read_bytes(0, buf));
    for (u32 k = 0; k < per_page; ++k) {
      if ((first + k) * bs_ >= size) break;
      u32 b = TRY(bmap_locked(raw, first + k, true));
      TRY(disk_->write(u64{b} * bs_, std::span<const u8>(buf).subspan(usize{k} * bs_, bs_)));
    }
  }
  TRY(flush_runs());
  if (raw != before) TRY(write_raw_locked(ino, raw));
  return {};
}

void Ext2Fs::shrink() {
  std::vector<std::pair<u32, std::shared_ptr<SharedPages>>> caches;
  {
    auto g = lock_.lock();
    for (auto& [ino, p] : pages_) caches.emplace_back(ino, p);
  }
  for (auto& [ino, p] : caches) {
    if (auto r = write_back_pages(ino, *p); r.is_error()) {
      kLog.warn("{}: write-back failed: {}", disk_->name(), r.error());
      continue;
    }
    p->drop_clean_unmapped();
  }
}

// ---- Ext2Inode ----

Ext2Inode::~Ext2Inode() {
  // An unlinked file's pages go first (a page cache's lock comes before the file system's),
  // unless a mapping still uses them (this object's and the file system's references aside).
  const bool mapped = pages_ && pages_.use_count() > 2;
  if (nlink == 0 && pages_ && !mapped) pages_->drop_from(0);
  auto g = fs_->lock().lock();
  if (!fs_->mounted()) return;
  auto raw = fs_->read_raw_locked(number());
  if (raw.is_error()) return;
  if (nlink > 0 || fs_->read_only()) {
    if (!fs_->read_only()) (void)fs_->store_locked(*this, raw.value());
    return;
  }
  // The last reference to an unlinked inode: free it, unless a mapping still uses its pages.
  if (mapped) {
    (void)fs_->store_locked(*this, raw.value());
    fs_->add_orphan(number(), pages_);
    fs_->forget_pages(number());
    return;
  }
  if (pages_) fs_->forget_pages(number());
  if (auto r = fs_->delete_inode_locked(number()); r.is_error()) {
    kLog.warn("{}: cannot free inode {}: {}", fs_->disk()->name(), number(), r.error());
  }
}

Result<std::shared_ptr<Inode>> Ext2Inode::lookup(std::string_view name) {
  if (!is_dir()) return Errno::enotdir;
  Pins pins;
  auto g = fs_->lock().lock();
  auto raw = TRY(fs_->read_raw_locked(number()));
  auto entry = TRY(entry_locked(raw, name, pins));
  return std::shared_ptr<Inode>(entry.node);
}

Result<Ext2Inode::Entry> Ext2Inode::entry_locked(std::vector<u8>& dir_raw, std::string_view name, Pins& pins) {
  auto found = TRY(fs_->find_entry_locked(dir_raw, name));
  if (!found) return Errno::enoent;
  auto node = TRY(fs_->get_inode_locked(found->ino, pins));
  return Entry{*found, std::move(node)};
}

Result<std::vector<DirEntry>> Ext2Inode::list() {
  if (!is_dir()) return Errno::enotdir;
  auto g = fs_->lock().lock();
  auto raw = TRY(fs_->read_raw_locked(number()));
  return fs_->list_locked(raw);
}

Result<std::shared_ptr<Inode>> Ext2Inode::make_child(std::string_view name, u32 mode, u64 device,
                                                     std::string_view target) {
  if (!is_dir()) return Errno::enotdir;
  TRY(writable());
  if (name.size() > kNameMax) return Errno::enametoolong;
  const u32 type = mode & abi::kSIfmt;
  switch (type) {
    case abi::kSIfreg:
    case abi::kSIfdir:
    case abi::kSIfifo:
    case abi::kSIfchr:
    case abi::kSIfblk:
    case abi::kSIfsock:
    case abi::kSIflnk: break;
    default: return Errno::einval;
  }
  Pins pins;
  auto g = fs_->lock().lock();
  auto dir_raw = TRY(fs_->read_raw_locked(number()));
  if (nlink == 0) return Errno::enoent;  // removed directory
  if (TRY(fs_->find_entry_locked(dir_raw, name))) return Errno::eexist;
  if (type == abi::kSIfdir && nlink >= 65000) return Errno::emlink;
  const bool is_dir = type == abi::kSIfdir;
  u32 ino = TRY(fs_->alloc_inode_locked(number(), is_dir));
  std::vector<u8> raw(fs_->inode_size(), 0);
  put16(raw, kIMode, static_cast<u16>(mode));
  put32(raw, kIGeneration, static_cast<u32>(next_random()));
  if (fs_->inode_size() > kGoodOldInodeSize) put16(raw, kIExtraIsize, kExtraIsize);
  put16(raw, kILinks, is_dir ? 2 : 1);
  auto undo = [&](Errno e) -> Result<std::shared_ptr<Inode>> {
    (void)fs_->free_inode_locked(ino, is_dir);
    return e;
  };
  if (type == abi::kSIfchr || type == abi::kSIfblk) {
    u32 major = dev_major(device), minor = dev_minor(device);
    if (major < 256 && minor < 256) {
      put32(raw, kIBlock, (major << 8) | minor);
    } else {
      put32(raw, kIBlock + 4, (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12));
    }
  }
  if (type == abi::kSIflnk) {
    if (target.size() < 60) {
      std::copy(target.begin(), target.end(), raw.begin() + kIBlock);
    } else {
      u32 b = 0;
      if (auto r = fs_->alloc_block_locked(0); r.is_ok()) {
        b = r.value();
      } else {
        return undo(r.error());
      }
      auto* data = TRY(fs_->buffer_locked(b));
      std::fill(data->begin(), data->end(), u8{0});
      std::copy(target.begin(), target.end(), data->begin());
      fs_->mark_buffer_dirty_locked(b);
      put32(raw, kIBlock, b);
      put32(raw, kIBlocks, fs_->block_size() / 512);
    }
    fs_->set_file_size(raw, target.size());
  }
  if (is_dir) {
    auto b = fs_->bmap_locked(raw, 0, true);
    if (b.is_error()) return undo(b.error());
    auto* data = TRY(fs_->buffer_locked(b.value()));
    std::fill(data->begin(), data->end(), u8{0});
    put32(*data, 0, ino);
    put16(*data, 4, 12);
    (*data)[6] = 1;
    (*data)[7] = fs_->has_filetype() ? 2 : 0;
    (*data)[8] = '.';
    put32(*data, 12, number());
    put16(*data, 16, static_cast<u16>(fs_->block_size() - 12));
    (*data)[18] = 2;
    (*data)[19] = fs_->has_filetype() ? 2 : 0;
    (*data)[20] = '.';
    (*data)[21] = '.';
    fs_->mark_buffer_dirty_locked(b.value());
    fs_->set_file_size(raw, fs_->block_size());
  }
  const ostd::i64 now = now_timespec().tv_sec;
  put32(raw, kIAtime, static_cast<u32>(now));
  put32(raw, kIMtime, static_cast<u32>(now));
  put32(raw, kICtime, static_cast<u32>(now));
  TRY(fs_->write_raw_locked(ino, raw));
  auto node = std::make_shared<Ext2Inode>(fs_, ino, raw);
  node->atime = node->mtime = node->ctime = now_timespec();
  pins.push_back(node);
  fs_->add_live(ino, node);
  if (is_dir) ++nlink;
  touch_mtime();
  save_attrs(dir_raw);
  if (auto r = fs_->add_entry_locked(number(), dir_raw, name, ino, mode); r.is_error()) {
    // No room for the name: the new inode goes again (its object dies after the guard).
    node->nlink = 0;
    if (is_dir) --nlink;
    return r.error();
  }
  TRY(fs_->store_locked(*node, raw));
  return std::shared_ptr<Inode>(node);
}

Result<std::shared_ptr<Inode>> Ext2Inode::create(std::string_view name, u32 mode, u64 device) {
  return make_child(name, mode, device, {});
}

Result<std::shared_ptr<Inode>> Ext2Inode::symlink(std::string_view name, std::string_view target) {
  if (target.empty() || target.size() >= fs_->block_size()) return Errno::enametoolong;
  return make_child(name, abi::kSIflnk | 0777, 0, target);
}

Result<void> Ext2Inode::link(std::string_view name, const std::shared_ptr<Inode>& target) {
  if (!is_dir()) return Errno::enotdir;
  if (target->is_dir()) return Errno::eperm;
  if (target->dev() != dev()) return Errno::exdev;
  TRY(writable());
  if (name.size() > kNameMax) return Errno::enametoolong;
  Pins pins;
  auto g = fs_->lock().lock();
  auto dir_raw = TRY(fs_->read_raw_locked(number()));
  if (nlink == 0) return Errno::enoent;
  if (TRY(fs_->find_entry_locked(dir_raw, name))) return Errno::eexist;
  auto node = TRY(fs_->get_inode_locked(static_cast<u32>(target->ino()), pins));
  if (node->nlink == 0) return Errno::enoent;
  if (node->nlink >= 65000) return Errno::emlink;
  touch_mtime();
  save_attrs(dir_raw);
  TRY(fs_->add_entry_locked(number(), dir_raw, name, node->number(), node->mode()));
  ++node->nlink;
  node->touch_ctime();
  return fs_->save_locked(*node);
}

Result<void> Ext2Inode::unlink(std::string_view name) {
  if (!is_dir()) return Errno::enotdir;
  TRY(writable());
  Pins pins;
  auto g = fs_->lock().lock();
  auto dir_raw = TRY(fs_->read_raw_locked(number()));
  auto [found, node] = TRY(entry_locked(dir_raw, name, pins));
  if (node->is_dir()) return Errno::eisdir;
  TRY(fs_->remove_entry_locked(dir_raw, found));
  touch_mtime();
  TRY(fs_->store_locked(*this, dir_raw));
  if (node->nlink > 0) --node->nlink;
  node->touch_ctime();
  return fs_->save_locked(*node);
}

Result<void> Ext2Inode::rmdir(std::string_view name) {
  if (!is_dir()) return Errno::enotdir;
  TRY(writable());
  Pins pins;
  auto g = fs_->lock().lock();
  auto dir_raw = TRY(fs_->read_raw_locked(number()));
  auto [found, node] = TRY(entry_locked(dir_raw, name, pins));
  if (!node->is_dir()) return Errno::enotdir;
  auto raw = TRY(fs_->read_raw_locked(node->number()));
  if (!TRY(fs_->dir_is_empty_locked(raw))) return Errno::enotempty;
  TRY(fs_->remove_entry_locked(dir_raw, found));
  if (nlink > 0) --nlink;
  touch_mtime();
  TRY(fs_->store_locked(*this, dir_raw));
  node->nlink = 0;
  node->touch_ctime();
  return fs_->store_locked(*node, raw);
}

Result<void> Ext2Inode::rename(std::string_view name, Inode& new_dir_inode, std::string_view new_name) {
  if (!is_dir()) return Errno::enotdir;
  if (new_dir_inode.dev() != dev() || !new_dir_inode.is_dir()) return Errno::exdev;
  TRY(writable());
  if (new_name.size() > kNameMax) return Errno::enametoolong;
  Pins pins;
  auto g = fs_->lock().lock();
  auto new_dir = TRY(fs_->get_inode_locked(static_cast<u32>(new_dir_inode.ino()), pins));
  const bool same_dir = new_dir.get() == this;
  auto src_raw = TRY(fs_->read_raw_locked(number()));
  auto src = TRY(fs_->find_entry_locked(src_raw, name));
  if (!src) return Errno::enoent;
  auto node = TRY(fs_->get_inode_locked(src->ino, pins));
  if (new_dir->nlink == 0) return Errno::enoent;
  auto dst_raw = same_dir ? src_raw : TRY(fs_->read_raw_locked(new_dir->number()));
  auto dst = TRY(fs_->find_entry_locked(dst_raw, new_name));
  std::shared_ptr<Ext2Inode> victim;
  if (dst) {
    if (dst->ino == src->ino) return {};  // the same file: nothing to do
    victim = TRY(fs_->get_inode_locked(dst->ino, pins));
    if (node->is_dir()) {
      if (!victim->is_dir()) return Errno::enotdir;
      auto vraw = TRY(fs_->read_raw_locked(victim->number()));
      if (!TRY(fs_->dir_is_empty_locked(vraw))) return Errno::enotempty;
    } else if (victim->is_dir()) {
      return Errno::eisdir;
    }
  } else if (node->is_dir() && !same_dir && new_dir->nlink >= 65000) {
    return Errno::emlink;
  }
  // The new name first (replacing the victim's entry, or added), then the old one goes.
  if (dst) {
    TRY(fs_->set_entry_inode_locked(dst_raw, *dst, node->number(), node->mode()));
  } else {
    TRY(fs_->add_entry_locked(new_dir->number(), dst_raw, new_name, node->number(), node->mode()));
  }
  if (same_dir) {
    src_raw = dst_raw;
    src = TRY(fs_->find_entry_locked(src_raw, name));  // offsets may have moved
    if (!src) return Errno::eio;
  }
  TRY(fs_->remove_entry_locked(src_raw, *src));
  if (victim) {
    if (victim->is_dir()) {
      victim->nlink = 0;
      if (new_dir->nlink > 0) --new_dir->nlink;
    } else if (victim->nlink > 0) {
      --victim->nlink;
    }
    victim->touch_ctime();
    TRY(fs_->save_locked(*victim));
  }
  if (node->is_dir() && !same_dir) {
    // ".." now names the new parent.
    auto nraw = TRY(fs_->read_raw_locked(node->number()));
    auto dotdot = TRY(fs_->find_entry_locked(nraw, ".."));
    if (dotdot) TRY(fs_->set_entry_inode_locked(nraw, *dotdot, new_dir->number(), abi::kSIfdir));
    if (nlink > 0) --nlink;
    ++new_dir->nlink;
  }
  node->touch_ctime();
  TRY(fs_->save_locked(*node));
  touch_mtime();
  new_dir->touch_mtime();
  TRY(fs_->store_locked(*this, src_raw));
  if (!same_dir) {
    dst_raw = TRY(fs_->read_raw_locked(new_dir->number()));
    TRY(fs_->store_locked(*new_dir, dst_raw));
  }
  return {};
}

Result<std::string> Ext2Inode::readlink(const Process*) {
  if (!is_symlink()) return Errno::einval;
  auto g = fs_->lock().lock();
  auto raw = TRY(fs_->read_raw_locked(number()));
  u64 size = fs_->file_size(raw);
  if (size >= fs_->block_size()) return Errno::eio;
  // A fast symlink keeps its target in i_block: no data block (an xattr block aside).
  u32 acl_sectors = get32(raw, kIFileAcl) != 0 ? fs_->block_size() / 512 : 0;
  if (get32(raw, kIBlocks) <= acl_sectors) {
    if (size >= 60) return Errno::eio;
    return std::string(raw.begin() + kIBlock, raw.begin() + static_cast<long>(kIBlock + size));
  }
  u32 b = TRY(fs_->bmap_locked(raw, 0, false));
  if (b == 0) return Errno::eio;
  auto* data = TRY(fs_->buffer_locked(b));
  return std::string(data->begin(), data->begin() + static_cast<long>(size));
}

Result<usize> Ext2Inode::read_at(u64 off, ostd::VmWriter& out) {
  if (is_dir()) return Errno::eisdir;
  if (!is_regular()) return Errno::einval;
  u64 size = this->size();
  if (off >= size) return usize{0};
  usize done = TRY(pages_->read_to(off, std::min<u64>(out.avail(), size - off), out));
  if (memory_is_short()) reclaim_page_caches();
  return done;
}

Result<usize> Ext2Inode::write_at(u64 off, ostd::VmReader& in) {
  if (is_dir()) return Errno::eisdir;
  if (!is_regular()) return Errno::einval;
  TRY(writable());
  usize n = in.remain();
  if (n == 0) return usize{0};
  u64 max = fs_->max_file_size();
  if (off >= max) return Errno::efbig;
  n = static_cast<usize>(std::min<u64>(n, max - off));
  usize done = 0;
  const u32 bs = fs_->block_size();
  while (done < n) {
    u64 pos = off + done;
    u64 index = pos / ostd::kPageSize;
    usize in_page = pos % ostd::kPageSize;
    usize chunk = std::min<usize>(n - done, ostd::kPageSize - in_page);
    // The page as it is (read in, or zeros; a page the write covers whole is not read or
    // zeroed first), then its blocks: a fill never reads a block allocated here before its
    // data is written.
    bool uninit = false;
    Result<ostd::Frame> frame = Errno::enomem;
    if (chunk == ostd::kPageSize) {
      auto r = pages_->get_for_overwrite(index);
      if (r.is_ok()) {
        uninit = r.value().second;
        frame = r.value().first;
      } else {
        frame = r.error();
      }
    } else {
      frame = pages_->get_or_alloc(index);
    }
    if (frame.is_error()) return done > 0 ? Result<usize>(done) : Result<usize>(frame.error());
    {
      Pins pins;
      auto g = fs_->lock().lock();
      auto raw = TRY(fs_->read_raw_locked(number()));
      std::vector<u8> before = raw;
      u64 first_block = pos / bs, last_block = (pos + chunk - 1) / bs;
      Result<void> alloc{};
      for (u64 b = first_block; b <= last_block && alloc.is_ok(); ++b) {
        auto r = fs_->bmap_locked(raw, b, true);
        if (r.is_error()) alloc = r.error();
      }
      if (raw != before) TRY(fs_->write_raw_locked(number(), raw));
      if (alloc.is_error()) return done > 0 ? Result<usize>(done) : Result<usize>(alloc.error());
    }
    auto w = frame.value().writer(in_page, chunk);
    auto r = in.read_to(w);
    usize got = r.is_ok() ? r.value() : 0;
    if (uninit && got < chunk) {
      // The copy stopped short (a bad user address): the rest of the new page reads zeros,
      // never what the frame held before.
      auto z = frame.value().writer(got, ostd::kPageSize - got);
      (void)z.fill_zeros(ostd::kPageSize - got);
    }
    if (got > 0) {
      // The size first, then the page is dirty: a write-back in between must find the page
      // inside the file (one past the end stays dirty there anyway).
      bool grew = false;
      {
        auto g = fs_->lock().lock();
        auto raw = TRY(fs_->read_raw_locked(number()));
        if (pos + got > fs_->file_size(raw)) {
          fs_->set_file_size(raw, pos + got);
          TRY(fs_->write_raw_locked(number(), raw));
          grew = true;
        }
      }
      if (grew) pages_->set_file_size(pos + got);
      pages_->mark_dirty(index);
    }
    done += got;
    if (r.is_error() || got < chunk) {
      if (done == 0) return r.is_error() ? r.error() : Errno::efault;
      break;
    }
  }
  touch_mtime();
  // Memory runs short: the page caches are written back and their clean pages let go.
  if (memory_is_short()) reclaim_page_caches();
  return done;
}

Result<void> Ext2Inode::truncate(u64 length) {
  if (is_dir()) return Errno::eisdir;
  if (!is_regular()) return Errno::einval;
  TRY(writable());
  if (length > fs_->max_file_size()) return Errno::efbig;
  const u32 bs = fs_->block_size();
  // Whole pages past the end leave the cache (a page cache's lock comes before the file
  // system's); the rest of the last page reads zeros.
  if (length < size()) {
    pages_->drop_from(ostd::page_align_up(length) / ostd::kPageSize);
    unmap_truncated_pages(pages_, ostd::page_align_up(length) / ostd::kPageSize);
  }
  {
    auto g = fs_->lock().lock();
    auto raw = TRY(fs_->read_raw_locked(number()));
    if (length < fs_->file_size(raw)) TRY(fs_->truncate_blocks_locked(raw, (length + bs - 1) / bs));
    fs_->set_file_size(raw, length);
    TRY(fs_->write_raw_locked(number(), raw));
  }
  pages_->set_file_size(length);
  usize tail = length % ostd::kPageSize;
  if (tail != 0) {
    if (pages_->resident(length / ostd::kPageSize)) {
      if (auto frame = pages_->find(length / ostd::kPageSize)) {
        auto w = frame->writer(tail, ostd::kPageSize - tail);
        (void)w.fill_zeros(ostd::kPageSize - tail);
        pages_->mark_dirty(length / ostd::kPageSize);
      }
    }
  }
  touch_mtime();
  return {};
}

Result<void> Ext2Inode::sync_file() {
  if (fs_->read_only()) return {};
  if (pages_) TRY(fs_->write_back_pages(number(), *pages_));
  return fs_->sync();
}

// ---- the flusher ----

}  // namespace

bool memory_is_short() {
  const ostd::FrameStats st = ostd::frame_stats();
  return st.free_frames < st.total_frames / 8;
}

// Writes back every mounted ext2 file system and 9P share every five seconds (Linux's
// dirty_writeback_centisecs), until shutdown_filesystems().
void start_writeback_flusher() {
  auto& r = registry();
  {
    auto g = r.lock.lock();
    if (r.running) return;
    r.running = true;
    r.stop = false;
  }
  auto task = ostd::Task::spawn(
      [] {
        auto& reg = registry();
        for (;;) {
          (void)reg.wake.wait_until([&reg] { return reg.stop; }, 5 * ostd::kNsPerSec);
          if (reg.stop) break;
          sync_all_filesystems();
        }
        reg.running = false;
        reg.ended.wake_all();
      },
      ostd::TaskOptions{"flush", 0});
  if (task.is_error()) {
    kLog.warn("cannot start the flusher: {}", task.error());
    auto g = r.lock.lock();
    r.running = false;
  }
}

Result<std::string> ext_type_of(const std::shared_ptr<BlockDevice>& disk) {
  std::vector<u8> super(1024);
  TRY(disk->read(1024, super));
  if (get16(super, kSMagic) != kMagic) return Errno::einval;
  if (get32(super, kSRevLevel) == 0) return std::string("ext2");
  if ((get32(super, kSFeatureIncompat) & kIncompatExt4Only) != 0 ||
      (get32(super, kSFeatureRoCompat) & kRoCompatExt4Only) != 0) {
    return std::string("ext4");
  }
  return std::string((get32(super, kSFeatureCompat) & kCompatHasJournal) != 0 ? "ext3" : "ext2");
}

Result<std::shared_ptr<FileSystem>> make_ext2(const std::shared_ptr<BlockDevice>& disk, bool read_only,
                                              std::string_view type) {
  if (type != "ext2" && type != "ext3" && type != "ext4") return Errno::enodev;
  auto& r = registry();
  {
    auto g = r.lock.lock();
    std::erase_if(r.all, [](const auto& w) { return w.expired(); });
    for (const auto& w : r.all) {
      if (auto fs = w.lock(); fs && fs->mounted() && fs->disk() == disk) return Errno::ebusy;
    }
  }
  auto fs = std::make_shared<Ext2Fs>(disk, read_only, std::string(type));
  {
    auto g = fs->lock().lock();
    TRY(fs->load());
  }
  {
    auto g = r.lock.lock();
    r.all.push_back(fs);
  }
  loop_mount_changed(disk, true);
  start_writeback_flusher();
  return std::shared_ptr<FileSystem>(fs);
}

void sync_all_filesystems() {
  std::vector<std::shared_ptr<Ext2Fs>> all;
  {
    auto& r = registry();
    auto g = r.lock.lock();
    for (const auto& w : r.all) {
      if (auto fs = w.lock(); fs && fs->mounted()) all.push_back(fs);
    }
  }
  for (auto& fs : all) {
    if (auto res = fs->sync(); res.is_error()) kLog.warn("{}: write-back failed: {}", fs->disk()->name(), res.error());
  }
  sync_9p_filesystems();
}

void reclaim_page_caches() {
  std::vector<std::shared_ptr<Ext2Fs>> all;
  {
    auto& r = registry();
    auto g = r.lock.lock();
    for (const auto& w : r.all) {
      if (auto fs = w.lock(); fs && fs->mounted()) all.push_back(fs);
    }
  }
  for (auto& fs : all) fs->shrink();
  shrink_9p_filesystems();
}

void shutdown_filesystems() {
  auto& r = registry();
  std::vector<std::shared_ptr<Ext2Fs>> all;
  {
    auto g = r.lock.lock();
    for (const auto& w : r.all) {
      if (auto fs = w.lock(); fs && fs->mounted()) all.push_back(fs);
    }
    r.all.clear();
    r.stop = true;
  }
  // As Linux's power-off: every file system is written back and left clean.
  sync_9p_filesystems();
  for (auto& fs : all) {
    if (auto res = fs->unmounted(); res.is_error())
      kLog.warn("{}: write-back failed: {}", fs->disk()->name(), res.error());
  }
  r.wake.wake_all();
  (void)r.ended.wait_until([&r] { return !r.running; }, ostd::kNsPerSec);
}

}  // namespace services
