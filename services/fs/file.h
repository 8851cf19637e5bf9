// services/fs/file.h — open file descriptions and the per-process descriptor table.
#pragma once

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include <ostd/error.h>
#include <ostd/mm/io.h>
#include <ostd/sync.h>
#include <ostd/types.h>

#include "abi/x86_64/stat.h"

namespace services {

class Thread;
class Process;
class Dentry;
class Socket;
class Pipe;

// open(2) flags (x86-64 values).
inline constexpr ostd::u32 kOAccMode = 03;
inline constexpr ostd::u32 kORdOnly = 0;
inline constexpr ostd::u32 kOWrOnly = 01;
inline constexpr ostd::u32 kORdWr = 02;
inline constexpr ostd::u32 kOCreat = 0100;
inline constexpr ostd::u32 kOExcl = 0200;
inline constexpr ostd::u32 kONoctty = 0400;
inline constexpr ostd::u32 kOTrunc = 01000;
inline constexpr ostd::u32 kOAppend = 02000;
inline constexpr ostd::u32 kONonblock = 04000;
inline constexpr ostd::u32 kODsync = 010000;
inline constexpr ostd::u32 kODirect = 040000;
inline constexpr ostd::u32 kOLargefile = 0100000;
inline constexpr ostd::u32 kODirectory = 0200000;
inline constexpr ostd::u32 kONofollow = 0400000;
inline constexpr ostd::u32 kONoatime = 01000000;
inline constexpr ostd::u32 kOCloexec = 02000000;
inline constexpr ostd::u32 kOPath = 010000000;
inline constexpr ostd::u32 kOTmpfile = 020200000;

// poll(2) events.
inline constexpr ostd::u32 kPollIn = 0x001;
inline constexpr ostd::u32 kPollPri = 0x002;
inline constexpr ostd::u32 kPollOut = 0x004;
inline constexpr ostd::u32 kPollErr = 0x008;
inline constexpr ostd::u32 kPollHup = 0x010;
inline constexpr ostd::u32 kPollNval = 0x020;

/// The queue poll/select/epoll sleep on: every file whose readiness changes calls
/// file_state_changed(its own queue), which wakes both that queue and this one.
ostd::WaitQueue& global_poll_queue();
void file_state_changed(ostd::WaitQueue& q);

/// The most one read or write moves (MAX_RW_COUNT), and the most vectors an iovec array may
/// have (UIO_MAXIOV).
inline constexpr ostd::usize kMaxRw = 0x7ffff000;
inline constexpr ostd::usize kIovMax = 1024;

/// struct iovec.
struct IoVec {
  ostd::u64 base;
  ostd::u64 len;
  OSTD_POD(IoVec, base, len);
};
/// The user's iovec array of `count` entries (the caller checked the count): EFAULT, or EINVAL
/// when a length or the total passes SSIZE_MAX (fs/syscalls.cpp).
ostd::Result<std::vector<IoVec>> read_iovec_array(Thread& t, ostd::Vaddr addr, ostd::usize count);

/// fcntl F_ADD_SEALS (`add`, the seals in `arg`) and F_GET_SEALS (fs/memfd.cpp): EINVAL for
/// files that cannot be sealed.
ostd::Result<long> file_seals_fcntl(Thread& self, class File& f, bool add, ostd::u32 arg);

/// Drops the flock(2) locks held by an open file description (fs/syscalls.cpp).
void release_flocks(const class File& file);

/// What fstat says of a file with no inode of its own (eventfd, epoll, timerfd, signalfd, pidfd:
/// Linux's anonymous inode): mode 0600 and no file type.
abi::Stat anon_inode_stat();

/// Open file descriptions alive in the whole kernel (for leak checks: fuzzing, tests).
ostd::u64 open_file_count();
/// Bookkeeping of File's constructor and destructor.
void count_open_files(int delta);

/// An open file description (what a file descriptor refers to; shared by dup and fork).
/// Every operation has the Linux default for files that do not support it.
class File : public std::enable_shared_from_this<File> {
 public:
  File() { count_open_files(1); }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  File(File&&) = delete;
  File& operator=(File&&) = delete;
  virtual ~File() { count_open_files(-1); }

  /// Reads at the file position (or the stream) into `out`; returns bytes read, 0 at EOF.
  virtual ostd::Result<ostd::usize> read(Thread& self, ostd::VmWriter& out);
  virtual ostd::Result<ostd::usize> write(Thread& self, ostd::VmReader& in);
  /// Positional I/O (pread64/pwrite64); ESPIPE for streams.
  virtual ostd::Result<ostd::usize> read_at(Thread& self, ostd::u64 offset, ostd::VmWriter& out);
  virtual ostd::Result<ostd::usize> write_at(Thread& self, ostd::u64 offset, ostd::VmReader& in);
  /// lseek; ESPIPE for streams.
  virtual ostd::Result<ostd::i64> seek(ostd::i64 offset, int whence);
  virtual ostd::Result<abi::Stat> stat();
  virtual ostd::Result<long> ioctl(Thread& self, ostd::u32 cmd, ostd::u64 arg);
  /// Current readiness (kPollIn | kPollOut | ...), for poll/select/epoll.
  virtual ostd::u32 poll_events();
  /// Where readers of poll_events() sleep; nullptr when readiness never changes.
  virtual ostd::WaitQueue* poll_queue();
  /// How many events of kind `bit` (kPollIn: something came to read; kPollOut: room to write
  /// came) the file announced: edge-triggered epoll reports a bit that is still set again when
  /// its count moved, as Linux's keyed wake-ups requeue an item. By default every wake of the
  /// poll queue counts for every kind.
  virtual ostd::u64 poll_event_count(ostd::u32 bit);
  /// Directory entries as linux_dirent64 records into `out`; ENOTDIR for non-directories.
  virtual ostd::Result<ostd::usize> getdents(Thread& self, ostd::VmWriter& out);
  /// ftruncate; EINVAL when not a regular file opened for writing.
  virtual ostd::Result<void> truncate(ostd::u64 length);
  /// Completes an open(2) that may sleep (a FIFO waits for its other end); called by open
  /// before the descriptor is installed.
  virtual ostd::Result<void> finish_open(Thread& self) { return {}; }
  /// Called when the last descriptor referring to this description is closed.
  virtual void on_last_close() {}
  /// Called on every close of a descriptor referring to this description, with the process
  /// that closes it when known (Linux's flush: a message queue drops that process's
  /// notification).
  virtual void flush(const Process& /*closer*/) {}
  /// The socket this file is (the socket calls' ENOTSOCK otherwise).
  virtual Socket* socket() { return nullptr; }
  /// The pipe this file is an end of (a pipe or FIFO), for splice, tee and vmsplice.
  virtual std::shared_ptr<Pipe> pipe() { return nullptr; }
  /// The path this file was opened by (for /proc/<pid>/fd and fchdir), if any.
  virtual std::shared_ptr<Dentry> dentry() const { return nullptr; }

  ostd::u32 status_flags() const { return flags_; }
  void set_status_flags(ostd::u32 f) { flags_ = f; }
  bool readable() const { return (flags_ & kOAccMode) != kOWrOnly; }
  bool writable() const { return (flags_ & kOAccMode) != kORdOnly; }
  bool nonblocking() const { return (flags_ & kONonblock) != 0; }
  /// Opened with O_PATH: no I/O through it (EBADF).
  bool is_opath() const { return (flags_ & kOPath) != 0; }
  /// Whether any descriptor (in any table) refers to this description.
  bool has_descriptors() const { return fd_refs_ > 0; }

 private:
  friend class FdTable;
  ostd::u32 flags_ = kORdOnly;
  int fd_refs_ = 0;  // descriptors (in all tables) that refer to this description
};

/// Services are built without RTTI: a kind of file that system calls must find again by its
/// descriptor (an epoll instance, a signalfd, a timerfd) keeps its files in a FileKind.
template <typename T>
class FileKind {
 public:
  void add(const std::shared_ptr<T>& f) {
    ostd::MutexGuard g(lock_);
    if (files_.size() >= prune_at_) {
      std::erase_if(files_, [](const auto& kv) { return kv.second.expired(); });
      prune_at_ = std::max<ostd::usize>(64, files_.size() * 2);
    }
    files_[f.get()] = f;
  }
  /// The file as a T; nullptr when it is not one.
  std::shared_ptr<T> find(const File& f) {
    ostd::MutexGuard g(lock_);
    auto it = files_.find(&f);
    return it == files_.end() ? nullptr : it->second.lock();
  }

 private:
  ostd::Mutex lock_;
  std::map<const File*, std::weak_ptr<T>> files_;
  ostd::usize prune_at_ = 64;
};

/// A descriptor table, shared by threads (and by CLONE_FILES processes).
class FdTable {
 public:
  static constexpr int kDefaultLimit = 1024;

  /// The file behind fd; EBADF when fd is not open.
  ostd::Result<std::shared_ptr<File>> get(int fd) const;
  /// Installs `file` at the lowest free descriptor >= min_fd; EMFILE when none is below the
  /// limit.
  ostd::Result<int> install(std::shared_ptr<File> file, bool cloexec, int min_fd = 0);
  /// Installs at exactly `fd`, closing what was there (dup2/dup3).
  /// `closer` in these calls: the process closing descriptors, for File::flush.
  ostd::Result<int> install_at(int fd, std::shared_ptr<File> file, bool cloexec, const Process* closer = nullptr);
  ostd::Result<void> close(int fd, const Process* closer = nullptr);
  ostd::Result<bool> cloexec(int fd) const;
  ostd::Result<void> set_cloexec(int fd, bool on);
  /// Closes every close-on-exec descriptor (execve).
  void close_on_exec(const Process* closer = nullptr);
  /// Closes [first, last] (close_range).
  void close_range(int first, int last, bool only_set_cloexec, const Process* closer = nullptr);
  /// A copy for fork (same open file descriptions).
  std::shared_ptr<FdTable> clone() const;
  int limit() const { return limit_; }
  void set_limit(int l) { limit_ = l; }
  /// Open descriptor numbers, ascending (for /proc/<pid>/fd).
  std::vector<int> open_fds() const;
  void close_all(const Process* closer = nullptr);

 private:
  struct Entry {
    std::shared_ptr<File> file;
    bool cloexec = false;
  };
  static void release(std::shared_ptr<File> file, const Process* closer);
  static void acquire(File& file) { ++file.fd_refs_; }
  mutable ostd::Mutex lock_;
  std::vector<Entry> entries_;
  int limit_ = kDefaultLimit;
};

}  // namespace services
