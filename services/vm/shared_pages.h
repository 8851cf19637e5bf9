// services/vm/shared_pages.h — pages shared by index: the contents of a tmpfs file (its page
// cache) and of MAP_SHARED anonymous memory. Mappings of the same object map the same frames.
//
// A disk file system's file has a PageSource: a page inside the file that is not in memory yet
// is read from the disk at the first look (find, get_or_alloc), and the pages written since
// the last write-back are remembered as dirty (write() marks them; a page faulted into a
// writable shared mapping stays dirty for as long as it is cached, since the program may write
// it again without a fault).
#pragma once

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <vector>

#include <ostd/error.h>
#include <ostd/mm/frame.h>
#include <ostd/mm/io.h>
#include <ostd/sync.h>
#include <ostd/types.h>

namespace services {

/// Where a disk file's pages come from.
class PageSource {
 public:
  PageSource() = default;
  PageSource(const PageSource&) = delete;
  PageSource& operator=(const PageSource&) = delete;
  PageSource(PageSource&&) = delete;
  PageSource& operator=(PageSource&&) = delete;
  virtual ~PageSource() = default;
  /// Fills `frame` (zeroed) with page `index` of the file (holes stay zero).
  virtual ostd::Result<void> fill(ostd::u64 index, ostd::Frame& frame) = 0;
  /// Fills consecutive pages from `first` (read-ahead); by default one fill() each.
  virtual ostd::Result<void> fill_run(ostd::u64 first, std::span<ostd::Frame> frames) {
    for (ostd::usize i = 0; i < frames.size(); ++i) TRY(fill(first + i, frames[i]));
    return {};
  }
};

class SharedPages {
 public:
  SharedPages() = default;
  explicit SharedPages(std::shared_ptr<PageSource> source) : source_(std::move(source)) {}

  /// The frame at `index`, if any (a missing page reads as zeros). With a source, a page inside
  /// the file is read in first (nullopt when that fails).
  std::optional<ostd::Frame> find(ostd::u64 index) const {
    auto g = lock_.lock();
    auto it = pages_.find(index);
    if (it != pages_.end()) return it->second;
    if (!source_ || !page_in_file(index)) return std::nullopt;
    auto f = load(index);
    if (f.is_error()) return std::nullopt;
    return f.value();
  }
  /// The frame at `index`, allocated (zeroed, or read in from the source) when missing.
  ostd::Result<ostd::Frame> get_or_alloc(ostd::u64 index) {
    auto g = lock_.lock();
    auto it = pages_.find(index);
    if (it != pages_.end()) return it->second;
    if (source_ && page_in_file(index)) return load(index);
    return pages_.emplace(index, TRY(ostd::Frame::alloc())).first->second;
  }
  /// For a write that covers the whole page: the frame at `index`, and whether it is new and
  /// not zeroed (the caller fills all of it, or zeroes what it could not fill).
  ostd::Result<std::pair<ostd::Frame, bool>> get_for_overwrite(ostd::u64 index) {
    auto g = lock_.lock();
    auto it = pages_.find(index);
    if (it != pages_.end()) return std::make_pair(it->second, false);
    ostd::Frame f = TRY(ostd::Frame::alloc_uninit());
    return std::make_pair(pages_.emplace(index, f).first->second, true);
  }
  bool has_source() const { return source_ != nullptr; }
  /// read(2) of the object: [off, off + n) into `out`, page by page. A missing page reads as
  /// zeros; with a source, one that cannot be read in is EIO. Stops at the first byte `out`
  /// cannot take (EFAULT only when nothing was copied).
  ostd::Result<ostd::usize> read_to(ostd::u64 off, ostd::usize n, ostd::VmWriter& out) const {
    ostd::usize done = 0;
    while (done < n) {
      const ostd::u64 pos = off + done;
      const ostd::usize in_page = pos % ostd::kPageSize;
      const ostd::usize chunk = std::min<ostd::usize>(n - done, ostd::kPageSize - in_page);
      auto frame = find(pos / ostd::kPageSize);
      ostd::Result<ostd::usize> got = ostd::usize{0};
      if (frame) {
        auto r = frame->reader(in_page, chunk);
        got = out.write_from(r);
      } else if (source_) {
        got = ostd::Errno::eio;
      } else {
        got = out.fill_zeros(chunk);
      }
      if (got.is_error()) return done > 0 ? ostd::Result<ostd::usize>(done) : got;
      done += got.value();
      if (got.value() < chunk) break;
    }
    return done;
  }
  /// Whether page `index` is in memory (mincore), without reading it in.
  bool resident(ostd::u64 index) const {
    auto g = lock_.lock();
    return pages_.find(index) != pages_.end();
  }
  /// Page `index` was written (write(2)): write-back takes it. `mapped`: it is in a writable
  /// shared mapping and stays dirty until it leaves the cache.
  void mark_dirty(ostd::u64 index, bool mapped = false) {
    if (!source_) return;
    auto g = lock_.lock();
    (mapped ? mapped_dirty_ : dirty_).insert(index);
    any_dirty_.store(true, std::memory_order_relaxed);
  }
  /// The dirty pages, by index, for write-back; the plain ones are clean afterwards.
  std::vector<std::pair<ostd::u64, ostd::Frame>> take_dirty() {
    auto g = lock_.lock();
    std::vector<std::pair<ostd::u64, ostd::Frame>> out;
    std::set<ostd::u64> all = std::move(dirty_);
    dirty_.clear();
    any_dirty_.store(!mapped_dirty_.empty(), std::memory_order_relaxed);
    all.insert(mapped_dirty_.begin(), mapped_dirty_.end());
    for (ostd::u64 index : all) {
      auto it = pages_.find(index);
      if (it != pages_.end() && page_in_file(index)) out.emplace_back(index, it->second);
    }
    return out;
  }
  bool has_dirty() const {
    auto g = lock_.lock();
    return !dirty_.empty() || !mapped_dirty_.empty();
  }
  /// has_dirty() without the lock, for a holder of a lock that comes after it (a file system
  /// deciding, under its own lock, whether a cache nobody else holds may go: then nobody can
  /// dirty it meanwhile).
  bool has_dirty_unlocked() const { return any_dirty_.load(std::memory_order_relaxed); }
  /// Drops every clean page nobody maps (memory pressure, or a cache nobody uses).
  void drop_clean_unmapped() {
    auto g = lock_.lock();
    std::erase_if(pages_, [this](const auto& kv) {
      return kv.second.refcount() == 1 && dirty_.count(kv.first) == 0 && mapped_dirty_.count(kv.first) == 0;
    });
  }
  /// Puts `frame` at `index` (pages the kernel provides, e.g. the clock page).
  void insert(ostd::u64 index, ostd::Frame frame) {
    auto g = lock_.lock();
    pages_.insert_or_assign(index, std::move(frame));
  }
  /// Drops the pages at `first` and after.
  void drop_from(ostd::u64 first) {
    auto g = lock_.lock();
    pages_.erase(pages_.lower_bound(first), pages_.end());
    dirty_.erase(dirty_.lower_bound(first), dirty_.end());
    mapped_dirty_.erase(mapped_dirty_.lower_bound(first), mapped_dirty_.end());
    any_dirty_.store(!dirty_.empty() || !mapped_dirty_.empty(), std::memory_order_relaxed);
  }
  ostd::usize count() const {
    auto g = lock_.lock();
    return pages_.size();
  }
  /// The size of the file these pages hold (mappings fault with SIGBUS past its last page);
  /// unlimited for anonymous shared memory.
  void set_file_size(ostd::u64 size) { file_size_.store(size, std::memory_order_relaxed); }
  bool page_in_file(ostd::u64 index) const {
    const ostd::u64 size = file_size_.load(std::memory_order_relaxed);
    return size == kNoLimit || index < (size + ostd::kPageSize - 1) / ostd::kPageSize;
  }

 private:
  // Reads page `index` in from the source (lock_ held: two faults on one page read it once).
  // A load right after the page before it reads ahead: the following pages that are in the
  // file and not cached yet, up to kReadAhead, in one fill_run.
  ostd::Result<ostd::Frame> load(ostd::u64 index) const {
    static constexpr ostd::usize kReadAhead = 32;
    const bool sequential = index == next_load_;
    std::vector<ostd::Frame> frames;
    frames.push_back(TRY(ostd::Frame::alloc()));
    if (sequential) {
      for (ostd::u64 i = index + 1; i < index + kReadAhead && page_in_file(i) && pages_.count(i) == 0; ++i) {
        auto f = ostd::Frame::alloc();
        if (f.is_error()) break;  // read-ahead is a hint: short of memory, read less
        frames.push_back(f.release_value());
      }
    }
    TRY(source_->fill_run(index, frames));
    for (ostd::usize i = 0; i < frames.size(); ++i) pages_.emplace(index + i, frames[i]);
    next_load_ = index + frames.size();
    return pages_.find(index)->second;
  }

  // Copies of frames are handed out, so no caller holds this lock while it touches memory.
  static constexpr ostd::u64 kNoLimit = ~ostd::u64{0};
  mutable ostd::Mutex lock_;
  std::shared_ptr<PageSource> source_;
  mutable std::map<ostd::u64, ostd::Frame> pages_;  // page index -> frame
  mutable ostd::u64 next_load_ = 0;                 // where a sequential reader loads next
  std::set<ostd::u64> dirty_, mapped_dirty_;
  std::atomic<bool> any_dirty_{false};  // !dirty_.empty() || !mapped_dirty_.empty()
  std::atomic<ostd::u64> file_size_{kNoLimit};
};

}  // namespace services
