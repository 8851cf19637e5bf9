// Open file descriptions (defaults) and descriptor tables.
#include "fs/file.h"

#include <algorithm>
#include <atomic>

#include <ostd/enforce.h>

namespace services {

abi::Stat anon_inode_stat() {
  abi::Stat st{};
  st.st_mode = 0600;
  st.st_nlink = 1;
  st.st_blksize = 4096;
  return st;
}

using ostd::Errno;
using ostd::Result;
using ostd::usize;

ostd::WaitQueue& global_poll_queue() {
  static ostd::WaitQueue q;
  return q;
}

void file_state_changed(ostd::WaitQueue& q) {
  q.wake_all();
  global_poll_queue().wake_all();
}

namespace {
std::atomic<ostd::u64>& open_files() {
  static std::atomic<ostd::u64> n{0};
  return n;
}
}  // namespace

ostd::u64 open_file_count() { return open_files().load(std::memory_order_relaxed); }
void count_open_files(int delta) {
  if (delta > 0) {
    open_files().fetch_add(1, std::memory_order_relaxed);
  } else {
    open_files().fetch_sub(1, std::memory_order_relaxed);
  }
}

Result<usize> File::read(Thread&, ostd::VmWriter&) { return Errno::einval; }
Result<usize> File::write(Thread&, ostd::VmReader&) { return Errno::einval; }
Result<usize> File::read_at(Thread&, ostd::u64, ostd::VmWriter&) { return Errno::espipe; }
Result<usize> File::write_at(Thread&, ostd::u64, ostd::VmReader&) { return Errno::espipe; }
Result<ostd::i64> File::seek(ostd::i64, int) { return Errno::espipe; }
Result<abi::Stat> File::stat() {
  abi::Stat st{};
  st.st_mode = abi::kSIfifo | 0600;
  st.st_nlink = 1;
  st.st_blksize = 4096;
  return st;
}
Result<long> File::ioctl(Thread&, ostd::u32, ostd::u64) { return Errno::enotty; }
ostd::u32 File::poll_events() { return kPollIn | kPollOut; }
ostd::WaitQueue* File::poll_queue() { return nullptr; }
ostd::u64 File::poll_event_count(ostd::u32) {
  ostd::WaitQueue* q = poll_queue();
  return q != nullptr ? q->wake_count() : 0;
}
Result<usize> File::getdents(Thread&, ostd::VmWriter&) { return Errno::enotdir; }
Result<void> File::truncate(ostd::u64) { return Errno::einval; }

// ---- FdTable ----

Result<std::shared_ptr<File>> FdTable::get(int fd) const {
  auto g = lock_.lock();
  if (fd < 0 || static_cast<usize>(fd) >= entries_.size() || !entries_[static_cast<usize>(fd)].file) {
    return Errno::ebadf;
  }
  return entries_[static_cast<usize>(fd)].file;
}

Result<int> FdTable::install(std::shared_ptr<File> file, bool cloexec, int min_fd) {
  auto g = lock_.lock();
  if (min_fd < 0) return Errno::einval;
  if (min_fd >= limit_) return Errno::emfile;
  for (int fd = min_fd; fd < limit_; ++fd) {
    auto i = static_cast<usize>(fd);
    if (i >= entries_.size()) entries_.resize(i + 1);
    if (!entries_[i].file) {
      acquire(*file);
      entries_[i] = Entry{std::move(file), cloexec};
      return fd;
    }
  }
  return Errno::emfile;
}

Result<int> FdTable::install_at(int fd, std::shared_ptr<File> file, bool cloexec, const Process* closer) {
  std::shared_ptr<File> old;
  {
    auto g = lock_.lock();
    if (fd < 0 || fd >= limit_) return Errno::ebadf;
    auto i = static_cast<usize>(fd);
    if (i >= entries_.size()) entries_.resize(i + 1);
    old = std::move(entries_[i].file);
    acquire(*file);
    entries_[i] = Entry{std::move(file), cloexec};
  }
  if (old) release(std::move(old), closer);
  return fd;
}

void FdTable::release(std::shared_ptr<File> file, const Process* closer) {
  if (closer != nullptr) file->flush(*closer);
  if (--file->fd_refs_ == 0) {
    release_flocks(*file);
    file->on_last_close();
  }
}

Result<void> FdTable::close(int fd, const Process* closer) {
  std::shared_ptr<File> old;
  {
    auto g = lock_.lock();
    if (fd < 0 || static_cast<usize>(fd) >= entries_.size() || !entries_[static_cast<usize>(fd)].file) {
      return Errno::ebadf;
    }
    old = std::move(entries_[static_cast<usize>(fd)].file);
    entries_[static_cast<usize>(fd)] = Entry{};
  }
  release(std::move(old), closer);
  return {};
}

Result<bool> FdTable::cloexec(int fd) const {
  auto g = lock_.lock();
  if (fd < 0 || static_cast<usize>(fd) >= entries_.size() || !entries_[static_cast<usize>(fd)].file) {
    return Errno::ebadf;
  }
  return entries_[static_cast<usize>(fd)].cloexec;
}

Result<void> FdTable::set_cloexec(int fd, bool on) {
  auto g = lock_.lock();
  if (fd < 0 || static_cast<usize>(fd) >= entries_.size() || !entries_[static_cast<usize>(fd)].file) {
    return Errno::ebadf;
  }
  entries_[static_cast<usize>(fd)].cloexec = on;
  return {};
}

void FdTable::close_on_exec(const Process* closer) {
  std::vector<std::shared_ptr<File>> closed;
  {
    auto g = lock_.lock();
    for (auto& e : entries_) {
      if (e.file && e.cloexec) {
        closed.push_back(std::move(e.file));
        e = Entry{};
      }
    }
  }
  for (auto& f : closed) release(std::move(f), closer);
}

void FdTable::close_range(int first, int last, bool only_set_cloexec, const Process* closer) {
  std::vector<std::shared_ptr<File>> closed;
  {
    auto g = lock_.lock();
    for (usize i = static_cast<usize>(std::max(first, 0)); i < entries_.size(); ++i) {
      if (static_cast<ostd::i64>(i) > static_cast<ostd::i64>(last)) break;
      auto& e = entries_[i];
      if (!e.file) continue;
      if (only_set_cloexec) {
        e.cloexec = true;
      } else {
        closed.push_back(std::move(e.file));
        e = Entry{};
      }
    }
  }
  for (auto& f : closed) release(std::move(f), closer);
}

std::shared_ptr<FdTable> FdTable::clone() const {
  auto t = std::make_shared<FdTable>();
  auto g = lock_.lock();
  t->entries_ = entries_;
  for (auto& e : t->entries_) {
    if (e.file) acquire(*e.file);
  }
  t->limit_ = limit_;
  return t;
}

std::vector<int> FdTable::open_fds() const {
  auto g = lock_.lock();
  std::vector<int> fds;
  for (usize i = 0; i < entries_.size(); ++i) {
    if (entries_[i].file) fds.push_back(static_cast<int>(i));
  }
  return fds;
}

void FdTable::close_all(const Process* closer) {
  std::vector<std::shared_ptr<File>> closed;
  {
    auto g = lock_.lock();
    for (auto& e : entries_) {
      if (e.file) closed.push_back(std::move(e.file));
    }
    entries_.clear();
  }
  for (auto& f : closed) release(std::move(f), closer);
}

}  // namespace services
