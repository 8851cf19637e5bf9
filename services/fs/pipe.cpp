// Pipes and FIFOs.
#include "fs/pipe.h"

#include <algorithm>
#include <vector>

#include <ostd/mm/io.h>

#include "fs/vfs.h"
#include "process/process.h"
#include "signal/signal.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u32;
using ostd::u64;
using ostd::usize;

namespace {

constexpr u32 kFionread = 0x541B;
constexpr u32 kFionbio = 0x5421;
constexpr int kSigpipe = 13;

ostd::u64 next_pipe_ino() {
  static ostd::u64 ino = 1000000;
  return ++ino;
}

class PipeEnd final : public File {
 public:
  PipeEnd(std::shared_ptr<Pipe> pipe, bool reads, bool writes, std::shared_ptr<Dentry> dentry, u32 flags)
      : pipe_(std::move(pipe)), reads_(reads), writes_(writes), dentry_(std::move(dentry)) {
    set_status_flags(flags);
    auto g = pipe_->lock.lock();
    if (reads_) {
      ++pipe_->readers;
      ++pipe_->reader_opens;
      pipe_->had_reader = true;
    }
    if (writes_) {
      ++pipe_->writers;
      ++pipe_->writer_opens;
      pipe_->had_writer = true;
    }
    ++pipe_->in_events;
    ++pipe_->out_events;
    file_state_changed(pipe_->queue);
  }
  PipeEnd(const PipeEnd&) = delete;
  PipeEnd& operator=(const PipeEnd&) = delete;
  PipeEnd(PipeEnd&&) = delete;
  PipeEnd& operator=(PipeEnd&&) = delete;
  ~PipeEnd() override { drop(); }

  void on_last_close() override { drop(); }

  // FIFOs: a reader waits for a writer and a writer for a reader (O_RDWR and O_NONBLOCK
  // readers do not wait), as open(2) on Linux.
  Result<void> finish_open(Thread& self) override {
    if (!dentry_ || (reads_ && writes_)) return {};
    Pipe& p = *pipe_;
    if (reads_) {
      if (nonblocking()) return {};
      u64 seen = p.writer_opens;
      return self.wait_interruptible(p.queue, [&] { return p.writers > 0 || p.writer_opens != seen; });
    }
    u64 seen = p.reader_opens;
    return self.wait_interruptible(p.queue, [&] { return p.readers > 0 || p.reader_opens != seen; });
  }

  Result<usize> read(Thread& self, ostd::VmWriter& out) override {
    if (!reads_) return Errno::ebadf;
    if (!out.has_avail()) return usize{0};
    Pipe& p = *pipe_;
    // End of file: no writer left (a FIFO only once one came and went).
    auto at_eof = [&] { return p.writers == 0 && (p.had_writer || !dentry_); };
    for (;;) {
      DirectRead direct{&out};
      {
        auto g = p.lock.lock();
        if (!p.buffer.empty()) {
          usize n = std::min(out.avail(), p.buffer.size());
          // Nothing is consumed unless all n bytes reached the reader.
          for (std::span<const ostd::u8> piece : p.buffer.stored(n)) {
            if (!piece.empty()) TRY(out.write_bytes(piece));
          }
          p.buffer.consume(n);
          ++p.out_events;
          file_state_changed(p.queue);
          return n;
        }
        if (at_eof()) return usize{0};
        if (nonblocking()) return Errno::eagain;
        if (p.direct == nullptr) p.direct = &direct;
      }
      Result<void> w =
          self.wait_interruptible(p.queue, [&] { return direct.got != 0 || !p.buffer.empty() || at_eof(); });
      {
        auto g = p.lock.lock();
        if (p.direct == &direct) p.direct = nullptr;
      }
      // Bytes a writer already copied are this read's result, signal or not.
      if (direct.got != 0) return direct.got;
      TRY(w);
    }
  }

  Result<usize> write(Thread& self, ostd::VmReader& in) override {
    if (!writes_) return Errno::ebadf;
    usize total = in.remain();
    if (total == 0) return usize{0};
    Pipe& p = *pipe_;
    usize written = 0;
    for (;;) {
      usize left = total - written;
      // Writes of at most PIPE_BUF bytes are atomic: they wait for room for all of it.
      usize need = left <= kPipeBuf ? left : 1;
      {
        auto g = p.lock.lock();
        if (p.readers == 0) {
          send_signal_to_thread(self, kSigpipe, kernel_siginfo(kSigpipe));
          if (written > 0) return written;
          return Errno::epipe;
        }
        // A reader waits on the empty pipe: straight into its buffer (an atomic write only when
        // the reader takes all of it, since the lock is dropped before any rest goes on). A
        // fault on either side that stops the copy before any byte leaves it to the ring below
        // (the reader then meets its own fault itself).
        if (p.direct != nullptr && p.buffer.empty() && (left > kPipeBuf || p.direct->out->avail() >= left)) {
          DirectRead& d = *p.direct;
          p.direct = nullptr;
          Result<usize> n = in.read_to(*d.out);
          if (n.is_ok() && n.value() > 0) {
            d.got = n.value();
            written += n.value();
            ++p.in_events;
            file_state_changed(p.queue);
            if (written == total) return written;
            continue;
          }
        }
        usize space = p.buffer.space();
        if (space >= need) {
          usize chunk = std::min(space, left);
          // Copied into the free part of the ring; stored only once all of it arrived.
          for (std::span<ostd::u8> piece : p.buffer.room(chunk)) {
            if (piece.empty()) continue;
            auto r = in.read_bytes(piece);
            if (r.is_error()) return written > 0 ? Result<usize>(written) : Result<usize>(r.error());
          }
          p.buffer.commit(chunk);
          written += chunk;
          ++p.in_events;
          file_state_changed(p.queue);
          if (written == total) return written;
          continue;
        }
      }
      if (nonblocking()) return written > 0 ? Result<usize>(written) : Result<usize>(Errno::eagain);
      auto w = self.wait_interruptible(p.queue, [&] { return p.readers == 0 || p.buffer.space() >= need; });
      if (w.is_error()) return written > 0 ? Result<usize>(written) : Result<usize>(w.error());
    }
  }

  Result<abi::Stat> stat() override {
    if (dentry_) return dentry_->inode()->stat();
    abi::Stat st{};
    st.st_mode = abi::kSIfifo | 0600;
    st.st_nlink = 1;
    st.st_ino = pipe_->ino;
    st.st_dev = 0xc;  // pipefs
    st.st_blksize = 4096;
    return st;
  }

  Result<long> ioctl(Thread& self, u32 cmd, ostd::u64 arg) override {
    if (cmd == kFionread) {
      int n = 0;
      {
        auto g = pipe_->lock.lock();
        n = static_cast<int>(pipe_->buffer.size());
      }
      TRY(ostd::UserPtr<int>(arg).write(self.vm(), n));
      return 0;
    }
    if (cmd == kFionbio) {
      int on = TRY(ostd::UserPtr<int>(arg).read(self.vm()));
      set_status_flags(on != 0 ? (status_flags() | kONonblock) : (status_flags() & ~kONonblock));
      return 0;
    }
    return Errno::enotty;
  }

  ostd::u32 poll_events() override {
    auto g = pipe_->lock.lock();
    u32 ev = 0;
    if (reads_) {
      if (!pipe_->buffer.empty()) ev |= kPollIn;
      if (pipe_->writers == 0 && pipe_->had_writer) ev |= kPollHup;
    }
    if (writes_) {
      if (pipe_->buffer.space() >= kPipeBuf) ev |= kPollOut;
      if (pipe_->readers == 0) ev |= kPollErr;
    }
    return ev;
  }
  ostd::WaitQueue* poll_queue() override { return &pipe_->queue; }
  // Reads announce room, writes data; opening and closing an end (HUP, ERR) both.
  ostd::u64 poll_event_count(ostd::u32 bit) override {
    auto g = pipe_->lock.lock();
    return ((bit & kPollIn) != 0 ? pipe_->in_events : 0) + ((bit & kPollOut) != 0 ? pipe_->out_events : 0);
  }
  std::shared_ptr<Dentry> dentry() const override { return dentry_; }
  std::shared_ptr<Pipe> pipe() override { return pipe_; }
  ostd::u64 pipe_ino() const { return pipe_->ino; }

 private:
  void drop() {
    if (dropped_) return;
    dropped_ = true;
    {
      auto g = pipe_->lock.lock();
      if (reads_) --pipe_->readers;
      if (writes_) --pipe_->writers;
      ++pipe_->in_events;
      ++pipe_->out_events;
    }
    file_state_changed(pipe_->queue);
  }

  std::shared_ptr<Pipe> pipe_;
  bool reads_;
  bool writes_;
  bool dropped_ = false;
  std::shared_ptr<Dentry> dentry_;
};

}  // namespace

std::array<std::span<const ostd::u8>, 2> PipeRing::stored(usize offset, usize n) const {
  if (n == 0) return {};
  std::span<const ostd::u8> all(data_);
  usize start = (head_ + offset) % capacity_;
  usize first = std::min(n, capacity_ - start);
  return {all.subspan(start, first), all.subspan(0, n - first)};
}

std::array<std::span<ostd::u8>, 2> PipeRing::room(usize n) {
  if (data_.empty()) data_.resize(capacity_);
  std::span<ostd::u8> all(data_);
  usize tail = (head_ + size_) % capacity_;
  usize first = std::min(n, capacity_ - tail);
  return {all.subspan(tail, first), all.subspan(0, n - first)};
}

void PipeRing::consume(usize n) {
  head_ = (head_ + n) % capacity_;
  size_ -= n;
  if (size_ == 0) head_ = 0;
}

std::pair<std::shared_ptr<File>, std::shared_ptr<File>> make_pipe(u32 flags) {
  auto p = std::make_shared<Pipe>();
  p->ino = next_pipe_ino();
  u32 f = flags & kONonblock;
  auto r = std::make_shared<PipeEnd>(p, true, false, nullptr, kORdOnly | f);
  auto w = std::make_shared<PipeEnd>(p, false, true, nullptr, kOWrOnly | f);
  return {r, w};
}

Result<std::shared_ptr<File>> open_fifo(const std::shared_ptr<Pipe>& pipe, const std::shared_ptr<Dentry>& dentry,
                                        u32 flags) {
  u32 acc = flags & kOAccMode;
  if (acc == kOWrOnly && (flags & kONonblock) != 0) {
    auto g = pipe->lock.lock();
    if (pipe->readers == 0) return Errno::enxio;
  }
  if (pipe->ino == 0) pipe->ino = dentry->inode()->ino();
  bool reads = acc == kORdOnly || acc == kORdWr;
  bool writes = acc == kOWrOnly || acc == kORdWr;
  return std::shared_ptr<File>(
      std::make_shared<PipeEnd>(pipe, reads, writes, dentry, flags & ~(kOCreat | kOExcl | kOTrunc)));
}

}  // namespace services

namespace services {

namespace {
constexpr int kSigpipeNo = 13;
bool pipe_at_eof(const Pipe& p) { return p.writers == 0 && p.had_writer; }
}  // namespace

Result<usize> pipe_drain(Thread& self, Pipe& p, usize len, bool nonblock,
                         const std::function<Result<usize>(ostd::VmReader&)>& sink) {
  if (len == 0) return usize{0};
  for (;;) {
    {
      auto g = p.lock.lock();
      if (!p.buffer.empty()) {
        usize n = std::min(len, p.buffer.size());
        usize took = 0;
        for (std::span<const ostd::u8> piece : p.buffer.stored(n)) {
          if (piece.empty()) continue;
          auto r = ostd::VmReader::from_kernel(piece);
          auto w = sink(r);
          if (w.is_error()) {
            if (took > 0) break;
            return w.error();
          }
          took += w.value();
          if (w.value() < piece.size()) break;
        }
        if (took > 0) {
          p.buffer.consume(took);
          ++p.out_events;
          file_state_changed(p.queue);
        }
        return took;
      }
      if (pipe_at_eof(p)) return usize{0};
      if (nonblock) return Errno::eagain;
    }
    TRY(self.wait_interruptible(p.queue, [&] { return !p.buffer.empty() || pipe_at_eof(p); }));
  }
}

Result<usize> pipe_to_pipe(Thread& self, Pipe& in, Pipe& out, usize len, bool nonblock, bool consume) {
  if (len == 0) return usize{0};
  // Two pipe locks, always taken in the same (address) order.
  Pipe& first = std::less<const Pipe*>()(&in, &out) ? in : out;
  Pipe& second = &first == &in ? out : in;
  for (;;) {
    {
      auto g1 = first.lock.lock();
      auto g2 = second.lock.lock();
      if (out.readers == 0) {
        send_signal_to_thread(self, kSigpipeNo, kernel_siginfo(kSigpipeNo));
        return Errno::epipe;
      }
      if (in.buffer.empty() && pipe_at_eof(in)) return usize{0};
      usize n = std::min({len, in.buffer.size(), out.buffer.space()});
      if (n > 0) {
        usize at = 0;
        auto src = in.buffer.stored(n);
        for (std::span<ostd::u8> room : out.buffer.room(n)) {
          for (usize k = 0; k < room.size(); ++k, ++at) {
            room[k] = at < src[0].size() ? src[0][at] : src[1][at - src[0].size()];
          }
        }
        out.buffer.commit(n);
        ++out.in_events;
        if (consume) {
          in.buffer.consume(n);
          ++in.out_events;
        }
      }
      if (n > 0) {
        file_state_changed(out.queue);
        if (consume) file_state_changed(in.queue);
        return n;
      }
      if (nonblock) return Errno::eagain;
    }
    auto ready = [&] {
      return out.readers == 0 || (in.buffer.empty() && pipe_at_eof(in)) ||
             (!in.buffer.empty() && out.buffer.space() > 0);
    };
    // Woken by either pipe's queue: wait on the one that blocks the move.
    bool need_data = [&] {
      auto g = in.lock.lock();
      return in.buffer.empty();
    }();
    TRY(self.wait_interruptible(need_data ? in.queue : out.queue, ready));
  }
}

Result<usize> pipe_fill(Thread& self, Pipe& p, usize len, bool nonblock,
                        const std::function<Result<usize>(ostd::VmWriter&)>& source) {
  if (len == 0) return usize{0};
  for (;;) {
    {
      auto g = p.lock.lock();
      if (p.readers == 0) {
        send_signal_to_thread(self, kSigpipeNo, kernel_siginfo(kSigpipeNo));
        return Errno::epipe;
      }
      usize n = std::min(len, p.buffer.space());
      if (n > 0) {
        usize wrote = 0;
        for (std::span<ostd::u8> piece : p.buffer.room(n)) {
          if (piece.empty()) continue;
          auto w = ostd::VmWriter::from_kernel(piece);
          auto r = source(w);
          if (r.is_error()) {
            if (wrote > 0) break;
            return r.error();
          }
          wrote += r.value();
          if (r.value() < piece.size()) break;
        }
        if (wrote > 0) {
          p.buffer.commit(wrote);
          ++p.in_events;
          file_state_changed(p.queue);
        }
        return wrote;
      }
      if (nonblock) return Errno::eagain;
    }
    TRY(self.wait_interruptible(p.queue, [&] { return p.readers == 0 || p.buffer.space() > 0; }));
  }
}

}  // namespace services
