// services/vm/shared_pages.h — pages shared by index: the contents of a tmpfs file (its page
// cache) and of MAP_SHARED anonymous memory. Mappings of the same object map the same frames.
#pragma once

#include <map>

#include <optional>

#include <ostd/error.h>
#include <ostd/mm/frame.h>
#include <ostd/sync.h>
#include <ostd/types.h>

namespace services {

class SharedPages {
 public:
  /// The frame at `index`, if any (a missing page reads as zeros).
  std::optional<ostd::Frame> find(ostd::u64 index) const {
    auto g = lock_.lock();
    auto it = pages_.find(index);
    if (it == pages_.end()) return std::nullopt;
    return it->second;
  }
  /// The frame at `index`, allocated (zeroed) when missing.
  ostd::Result<ostd::Frame> get_or_alloc(ostd::u64 index) {
    auto g = lock_.lock();
    auto it = pages_.find(index);
    if (it == pages_.end()) it = pages_.emplace(index, TRY(ostd::Frame::alloc())).first;
    return it->second;
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
  }
  ostd::usize count() const {
    auto g = lock_.lock();
    return pages_.size();
  }
  /// The size of the file these pages hold (mappings fault with SIGBUS past its last page);
  /// unlimited for anonymous shared memory.
  void set_file_size(ostd::u64 size) { file_size_ = size; }
  bool page_in_file(ostd::u64 index) const {
    return index < (file_size_ + ostd::kPageSize - 1) / ostd::kPageSize || file_size_ == kNoLimit;
  }

 private:
  // Copies of frames are handed out, so no caller holds this lock while it touches memory.
  static constexpr ostd::u64 kNoLimit = ~ostd::u64{0};
  mutable ostd::Mutex lock_;
  std::map<ostd::u64, ostd::Frame> pages_;  // page index -> frame
  ostd::u64 file_size_ = kNoLimit;
};

}  // namespace services
