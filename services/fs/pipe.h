// services/fs/pipe.h — pipes and FIFOs: a 64 KiB buffer with reader and writer ends.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include <ostd/error.h>
#include <ostd/mm/io.h>
#include <ostd/sync.h>
#include <ostd/types.h>

#include "fs/file.h"

namespace services {

class Dentry;
class Thread;

inline constexpr ostd::usize kPipeBuf = 4096;        // PIPE_BUF: writes up to this are atomic
inline constexpr ostd::usize kPipeCapacity = 65536;  // default pipe size

/// A pipe's bytes: a ring of `capacity` bytes (allocated on the first write), so data is
/// copied once on the way in and once on the way out, straight between the ring and user
/// memory.
class PipeRing {
 public:
  explicit PipeRing(ostd::usize capacity) : capacity_(capacity) {}
  ostd::usize size() const { return size_; }
  bool empty() const { return size_ == 0; }
  ostd::usize space() const { return capacity_ - size_; }
  /// The first n stored bytes (n <= size()), in at most two pieces.
  std::array<std::span<const ostd::u8>, 2> stored(ostd::usize n) const { return stored(0, n); }
  /// The n stored bytes that start `offset` bytes in (offset + n <= size()).
  std::array<std::span<const ostd::u8>, 2> stored(ostd::usize offset, ostd::usize n) const;
  /// Room for n more bytes after the stored ones (n <= space()), in at most two pieces; they
  /// count as stored only after commit(n).
  std::array<std::span<ostd::u8>, 2> room(ostd::usize n);
  void commit(ostd::usize n) { size_ += n; }
  void consume(ostd::usize n);

 private:
  ostd::usize capacity_;
  std::vector<ostd::u8> data_;
  ostd::usize head_ = 0;
  ostd::usize size_ = 0;
};

/// A reader sleeping on an empty pipe: a writer copies straight into its buffer (user memory
/// to user memory, one copy instead of two) and sets `got`.
struct DirectRead {
  ostd::VmWriter* out;
  ostd::usize got = 0;
};

/// The shared state of a pipe or FIFO.
class Pipe {
 public:
  ostd::Mutex lock;
  ostd::WaitQueue queue;  // readers, writers and pollers
  PipeRing buffer{kPipeCapacity};
  DirectRead* direct = nullptr;  // at most one reader waits for a direct copy
  int readers = 0;
  int writers = 0;
  bool had_writer = false;  // FIFOs: EOF only once a writer came and went
  bool had_reader = false;
  ostd::u64 reader_opens = 0;  // FIFO opens, for the open-time rendezvous
  ostd::u64 writer_opens = 0;
  ostd::u64 ino = 0;
  ostd::u64 in_events = 0, out_events = 0;  // writes and reads (poll_event_count)
};

/// splice from a pipe: waits (unless `nonblock`) for data or the end of file, then offers up to
/// `len` stored bytes to `sink` (a reader over them; it returns how many it took) and consumes
/// what it took. 0 at the end of file. The pipe stays locked while the sink writes, as Linux's
/// splice holds the pipe lock.
ostd::Result<ostd::usize> pipe_drain(Thread& self, Pipe& p, ostd::usize len, bool nonblock,
                                     const std::function<ostd::Result<ostd::usize>(ostd::VmReader&)>& sink);
/// splice between two pipes (`consume`) or tee (copies, `in` keeps its bytes): waits (unless
/// `nonblock`) until `in` has bytes and `out` room, then moves what fits, up to `len`. 0 when
/// `in` is at its end of file; EPIPE (and SIGPIPE) when `out` has no reader.
ostd::Result<ostd::usize> pipe_to_pipe(Thread& self, Pipe& in, Pipe& out, ostd::usize len, bool nonblock, bool consume);
/// splice into a pipe: waits (unless `nonblock`) for room, then lets `source` fill up to `len`
/// bytes of it (a writer over the room; it returns how many it wrote). EPIPE (and SIGPIPE) when
/// the pipe has no reader.
ostd::Result<ostd::usize> pipe_fill(Thread& self, Pipe& p, ostd::usize len, bool nonblock,
                                    const std::function<ostd::Result<ostd::usize>(ostd::VmWriter&)>& source);

/// pipe2(): the read end and the write end. `flags` may hold O_NONBLOCK.
std::pair<std::shared_ptr<File>, std::shared_ptr<File>> make_pipe(ostd::u32 flags);
/// Opens one end of a FIFO (by the access mode in `flags`; O_RDWR opens both).
ostd::Result<std::shared_ptr<File>> open_fifo(const std::shared_ptr<Pipe>& pipe, const std::shared_ptr<Dentry>& dentry,
                                              ostd::u32 flags);

}  // namespace services
