// services/fs/pipe.h — pipes and FIFOs: a 64 KiB buffer with reader and writer ends.
#pragma once

#include <deque>
#include <memory>
#include <utility>

#include <ostd/error.h>
#include <ostd/sync.h>
#include <ostd/types.h>

#include "fs/file.h"

namespace services {

class Dentry;

inline constexpr ostd::usize kPipeBuf = 4096;            // PIPE_BUF: writes up to this are atomic
inline constexpr ostd::usize kPipeCapacity = 65536;      // default pipe size

/// The shared state of a pipe or FIFO.
class Pipe {
 public:
  ostd::Mutex lock;
  ostd::WaitQueue queue;          // readers, writers and pollers
  std::deque<ostd::u8> buffer;
  ostd::usize capacity = kPipeCapacity;
  int readers = 0;
  int writers = 0;
  bool had_writer = false;        // FIFOs: EOF only once a writer came and went
  bool had_reader = false;
  ostd::u64 reader_opens = 0;     // FIFO opens, for the open-time rendezvous
  ostd::u64 writer_opens = 0;
  ostd::u64 ino = 0;
};

/// pipe2(): the read end and the write end. `flags` may hold O_NONBLOCK.
std::pair<std::shared_ptr<File>, std::shared_ptr<File>> make_pipe(ostd::u32 flags);
/// Opens one end of a FIFO (by the access mode in `flags`; O_RDWR opens both).
ostd::Result<std::shared_ptr<File>> open_fifo(const std::shared_ptr<Pipe>& pipe,
                                              const std::shared_ptr<Dentry>& dentry, ostd::u32 flags);

}  // namespace services
