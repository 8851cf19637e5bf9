// The console: one tty (N_TTY line discipline, foreground process group, window size) when the
// machine's console is a terminal, or plain byte streams when it is not.
//
// Input comes from a kernel task that polls the backend's console (ostd::console::try_read,
// every 10 ms while idle) and feeds the line discipline, which echoes and raises ^C/^\/^Z as
// SIGINT/SIGQUIT/SIGTSTP for the foreground process group.
#include "device/tty.h"

#include <algorithm>
#include <deque>
#include <vector>

#include <ostd/boot.h>
#include <ostd/mm/io.h>
#include <ostd/task.h>
#include <ostd/time.h>

#include "device/line_discipline.h"
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

constexpr u64 kPollIntervalNs = 10 * ostd::kNsPerMs;
constexpr int kSigwinch = 28;

// ioctl numbers (Linux's generic UAPI ioctls header).
constexpr u32 kTcgets = 0x5401, kTcsets = 0x5402, kTcsetsw = 0x5403, kTcsetsf = 0x5404, kTcsbrk = 0x5409,
              kTcxonc = 0x540A, kTcflsh = 0x540B, kTiocsctty = 0x540E, kTiocgpgrp = 0x540F, kTiocspgrp = 0x5410,
              kTiocoutq = 0x5411, kTiocgwinsz = 0x5413, kTiocswinsz = 0x5414, kFionread = 0x541B, kTiocnotty = 0x5422,
              kTiocgsid = 0x5429, kFionbio = 0x5421, kTcsbrkp = 0x5425;

struct Console {
  Console() : terminal(ostd::console::is_terminal()) {
    if (auto ws = ostd::console::window_size()) winsize = Winsize{ws->rows, ws->cols, 0, 0};
  }
  bool terminal;
  LineDiscipline ld;
  std::deque<ostd::u8> raw;  // input when the console is not a terminal
  bool eof = false;
  bool pump_started = false;
  ostd::WaitQueue queue;
  ostd::i32 fg_pgid = 0;
  ostd::i32 session = 0;
  Winsize winsize{24, 80, 0, 0};
};

Console& console() {
  static Console c;
  return c;
}

void signal_group(ostd::i32 pgid, int sig) {
  if (pgid <= 0) return;
  for (auto& p : pid_table().all_processes()) {
    if (p->pgid == pgid && p->state != Process::State::Zombie && p->state != Process::State::Reaped) {
      send_signal_to_process(*p, sig, kernel_siginfo(sig));
    }
  }
}

void write_out(int stream, std::string_view text) {
  if (!text.empty()) (void)ostd::console::write(stream, ostd::bytes_of_string(text));
}

void pump() {
  Console& c = console();
  std::vector<ostd::u8> buf(4096);
  for (;;) {
    auto r = ostd::console::try_read(buf);
    if (r.is_error() && r.error() == Errno::eagain) {
      ostd::Task::sleep_for_ns(kPollIntervalNs);
      continue;
    }
    if (r.is_error() || r.value() == 0) {
      c.eof = true;
      file_state_changed(c.queue);
      return;
    }
    for (usize i = 0; i < r.value(); ++i) {
      if (c.terminal) {
        auto fx = c.ld.receive(buf[i]);
        write_out(1, c.ld.process_output(fx.echo));
        if (fx.signal != 0) signal_group(c.fg_pgid, fx.signal);
      } else {
        c.raw.push_back(buf[i]);
      }
    }
    file_state_changed(c.queue);
  }
}

void start_pump() {
  Console& c = console();
  if (c.pump_started) return;
  c.pump_started = true;
  auto t = ostd::Task::spawn(pump, ostd::TaskOptions{"console-input", 0});
  if (t.is_error()) c.eof = true;
}

// Job control: a process of the tty's session that is not in the foreground group and reads
// the tty (or writes with TOSTOP) gets SIGTTIN (SIGTTOU) sent to its group and the call is
// restarted once it continues; EIO when the signal is ignored or blocked (for reads).
Result<void> check_background(Thread& self, int sig, bool is_write) {
  Console& c = console();
  Process& p = self.process();
  if (c.session == 0 || p.sid != c.session || c.fg_pgid == 0 || p.pgid == c.fg_pgid) return {};
  if (is_write && (c.ld.termios().c_lflag & tty::kTostop) == 0) return {};
  bool ignored = false;
  if (p.handlers) {
    auto g = p.handlers->lock.lock();
    ignored = p.handlers->actions.at(static_cast<usize>(sig)).handler == kSigIgn;
  }
  if (ignored || self.sigmask.has(sig)) {
    if (is_write) return {};
    return Errno::eio;
  }
  signal_group(p.pgid, sig);
  return Errno::erestartsys;
}

Result<usize> write_console(int stream, ostd::VmReader& in, bool process) {
  usize total = 0;
  std::vector<ostd::u8> buf;
  while (in.has_remain()) {
    buf.resize(std::min<usize>(in.remain(), 4096));
    auto r = in.read_bytes(buf);
    if (r.is_error()) return total > 0 ? Result<usize>(total) : Result<usize>(r.error());
    if (process) {
      std::string text(buf.begin(), buf.end());
      write_out(stream, console().ld.process_output(text));
    } else {
      TRY(ostd::console::write(stream, buf));
    }
    total += buf.size();
  }
  return total;
}

abi::Stat char_stat(u32 major, u32 minor, u32 perm) {
  abi::Stat st{};
  st.st_mode = abi::kSIfchr | perm;
  st.st_nlink = 1;
  st.st_rdev = (u64{major} << 8) | minor;
  st.st_blksize = 1024;
  st.st_dev = 6;
  st.st_ino = 4 + minor;
  return st;
}

/// The console tty.
class TtyFile final : public File {
 public:
  TtyFile(u32 flags, std::shared_ptr<Dentry> dentry) : dentry_(std::move(dentry)) { set_status_flags(flags); }
  std::shared_ptr<Dentry> dentry() const override { return dentry_; }

  Result<usize> read(Thread& self, ostd::VmWriter& out) override {
    Console& c = console();
    TRY(check_background(self, kSigTtin, false));
    start_pump();
    if (!out.has_avail()) return usize{0};
    for (;;) {
      if (c.ld.readable()) {
        bool eof = false;
        std::vector<ostd::u8> bytes = c.ld.read(out.avail(), eof);
        if (!bytes.empty()) {
          TRY(out.write_bytes(bytes));
          file_state_changed(c.queue);
          return bytes.size();
        }
        if (eof) return usize{0};
      }
      if (c.eof) return usize{0};
      if (nonblocking()) return Errno::eagain;
      TRY(self.wait_interruptible(c.queue, [&] { return c.ld.readable() || c.eof; }));
    }
  }

  Result<usize> write(Thread& self, ostd::VmReader& in) override {
    TRY(check_background(self, kSigTtou, true));
    return write_console(1, in, true);
  }

  Result<abi::Stat> stat() override {
    if (dentry_) return dentry_->inode()->stat();
    return char_stat(5, 1, 0620);
  }

  u32 poll_events() override {
    Console& c = console();
    start_pump();
    u32 ev = kPollOut;
    if (c.ld.readable() || c.eof) ev |= kPollIn;
    return ev;
  }
  ostd::WaitQueue* poll_queue() override { return &console().queue; }

  Result<long> ioctl(Thread& self, u32 cmd, u64 arg) override {
    Console& c = console();
    ostd::VmSpace& vm = self.vm();
    switch (cmd) {
      case kTcgets: TRY(ostd::UserPtr<Termios>(arg).write(vm, c.ld.termios())); return 0;
      case kTcsets:
      case kTcsetsw:
      case kTcsetsf: {
        Termios t = TRY(ostd::UserPtr<Termios>(arg).read(vm));
        if (cmd == kTcsetsf) c.ld.flush_input();
        c.ld.set_termios(t);
        file_state_changed(c.queue);
        return 0;
      }
      case kTiocgpgrp: TRY(ostd::UserPtr<ostd::i32>(arg).write(vm, c.fg_pgid)); return 0;
      case kTiocspgrp: {
        ostd::i32 pg = TRY(ostd::UserPtr<ostd::i32>(arg).read(vm));
        if (pg < 0) return Errno::einval;
        bool exists = false;
        for (auto& p : pid_table().all_processes()) exists = exists || p->pgid == pg;
        if (!exists) return Errno::esrch;
        c.fg_pgid = pg;
        return 0;
      }
      case kTiocgsid:
        if (c.session == 0) return Errno::enotty;
        TRY(ostd::UserPtr<ostd::i32>(arg).write(vm, c.session));
        return 0;
      case kTiocsctty:
        c.session = self.process().sid;
        c.fg_pgid = self.process().pgid;
        return 0;
      case kTiocnotty:
        if (c.session == self.process().sid) c.session = 0;
        return 0;
      case kTiocgwinsz: TRY(ostd::UserPtr<Winsize>(arg).write(vm, c.winsize)); return 0;
      case kTiocswinsz: {
        Winsize w = TRY(ostd::UserPtr<Winsize>(arg).read(vm));
        bool changed = w.ws_row != c.winsize.ws_row || w.ws_col != c.winsize.ws_col;
        c.winsize = w;
        if (changed) signal_group(c.fg_pgid, kSigwinch);
        return 0;
      }
      case kFionread: {
        auto n = static_cast<ostd::i32>(c.ld.available());
        TRY(ostd::UserPtr<ostd::i32>(arg).write(vm, n));
        return 0;
      }
      case kFionbio: {
        int on = TRY(ostd::UserPtr<int>(arg).read(vm));
        set_status_flags(on != 0 ? (status_flags() | kONonblock) : (status_flags() & ~kONonblock));
        return 0;
      }
      case kTcflsh:
        if (arg == 0 || arg == 2) c.ld.flush_input();
        return 0;
      case kTcsbrk:
      case kTcsbrkp:
      case kTcxonc: return 0;
      case kTiocoutq: TRY(ostd::UserPtr<ostd::i32>(arg).write(vm, 0)); return 0;
      default: return Errno::enotty;
    }
  }

 private:
  std::shared_ptr<Dentry> dentry_;  // the device node it was opened by (/dev/console...)
};

/// A plain console stream (the console is not a terminal).
class StreamFile final : public File {
 public:
  StreamFile(bool reads, int out_stream, u32 flags) : reads_(reads), out_stream_(out_stream) {
    set_status_flags(flags);
  }

  Result<usize> read(Thread& self, ostd::VmWriter& out) override {
    if (!reads_) return Errno::ebadf;
    Console& c = console();
    start_pump();
    if (!out.has_avail()) return usize{0};
    for (;;) {
      if (!c.raw.empty()) {
        usize n = std::min(out.avail(), c.raw.size());
        std::vector<ostd::u8> bytes(c.raw.begin(), c.raw.begin() + static_cast<long>(n));
        TRY(out.write_bytes(bytes));
        c.raw.erase(c.raw.begin(), c.raw.begin() + static_cast<long>(n));
        return n;
      }
      if (c.eof) return usize{0};
      if (nonblocking()) return Errno::eagain;
      TRY(self.wait_interruptible(c.queue, [&] { return !c.raw.empty() || c.eof; }));
    }
  }

  Result<usize> write(Thread&, ostd::VmReader& in) override { return write_console(out_stream_, in, false); }

  u32 poll_events() override {
    Console& c = console();
    u32 ev = kPollOut;
    if (reads_) {
      start_pump();
      if (!c.raw.empty() || c.eof) ev |= kPollIn;
    }
    return ev;
  }
  ostd::WaitQueue* poll_queue() override { return &console().queue; }

  Result<long> ioctl(Thread& self, u32 cmd, u64 arg) override {
    if (cmd == kFionread) {
      auto n = static_cast<ostd::i32>(console().raw.size());
      TRY(ostd::UserPtr<ostd::i32>(arg).write(self.vm(), n));
      return 0;
    }
    return Errno::enotty;
  }

 private:
  bool reads_;
  int out_stream_;
};

}  // namespace

std::shared_ptr<File> console_stream(int fd, const std::shared_ptr<Dentry>& console_node) {
  Console& c = console();
  if (c.terminal) {
    if (c.session == 0) {
      // The first process (pid 1, its own session and group) owns the console.
      c.session = 1;
      c.fg_pgid = 1;
      ostd::console::set_raw_mode(true);
    }
    return std::make_shared<TtyFile>(kORdWr, console_node);
  }
  if (fd == 0) return std::make_shared<StreamFile>(true, 1, kORdOnly);
  return std::make_shared<StreamFile>(false, fd == 2 ? 2 : 1, kOWrOnly);
}

std::shared_ptr<File> open_console_device(u32 flags, const std::shared_ptr<Dentry>& node) {
  if (console().terminal) return std::make_shared<TtyFile>(flags, node);
  return std::make_shared<StreamFile>(true, 1, flags);
}

}  // namespace services
