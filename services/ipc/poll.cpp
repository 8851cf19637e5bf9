// Waiting on many files: poll, ppoll, select, pselect6, epoll and eventfd.
//
// Every file whose readiness changes calls file_state_changed(), which also wakes
// global_poll_queue(); the waiters here sleep on that one queue and re-check their files.
#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <optional>
#include <vector>

#include <ostd/mm/io.h>
#include <ostd/time.h>

#include "abi/x86_64/time.h"
#include "fs/file.h"
#include "process/process.h"
#include "syscall/table.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::i64;
using ostd::u32;
using ostd::u64;
using ostd::usize;
using ostd::Vaddr;

namespace {

constexpr u32 kPollRdnorm = 0x040, kPollWrnorm = 0x100;

using abi::Timespec;
using abi::Timeval;

// Readiness with the derived bits poll(2) reports (POLLRDNORM with POLLIN...).
u32 readiness(File& f) {
  u32 ev = f.poll_events();
  if ((ev & kPollIn) != 0) ev |= kPollRdnorm;
  if ((ev & kPollOut) != 0) ev |= kPollWrnorm;
  return ev;
}

// Swaps in a temporary signal mask for the wait; the old one comes back when the call ends,
// or after the handler when a signal interrupted it.
class TempMask {
 public:
  TempMask(Thread& t, std::optional<SigSet> mask) : t_(t) {
    if (mask) {
      old_ = t.sigmask;
      t.sigmask = *mask;
    }
  }
  void finish(bool interrupted) {
    if (!old_) return;
    if (interrupted) {
      t_.saved_sigmask = *old_;
    } else {
      t_.sigmask = *old_;
    }
    old_.reset();
  }

 private:
  Thread& t_;
  std::optional<SigSet> old_;
};

Result<std::optional<SigSet>> read_sigmask(Thread& t, Vaddr addr, u64 size) {
  if (addr == 0) return std::optional<SigSet>();
  if (size != sizeof(SigSet)) return Errno::einval;
  SigSet s = TRY(ostd::UserPtr<SigSet>(addr).read(t.vm()));
  return std::optional<SigSet>(s);
}

// Sleeps until ready() is true, the deadline passes, or a signal arrives.
// Returns false on timeout; erestartnohand when a signal interrupted.
template <typename Ready>
Result<bool> wait_ready(Thread& t, std::optional<u64> deadline, Ready&& ready) {
  for (;;) {
    if (ready()) return true;
    if (deadline && ostd::monotonic_ns() >= *deadline) return false;
    std::optional<u64> left;
    if (deadline) left = *deadline - ostd::monotonic_ns();
    auto r = t.wait_interruptible(global_poll_queue(), ready, left);
    if (r.is_error()) {
      if (r.error() == Errno::etimedout) return ready();
      return Errno::erestartnohand;
    }
  }
}

struct PollFd {
  ostd::i32 fd;
  ostd::i16 events;
  ostd::i16 revents;
  OSTD_POD(PollFd, fd, events, revents);
};
static_assert(sizeof(PollFd) == 8);

Result<long> do_poll(Thread& t, Vaddr fds_addr, u64 nfds, std::optional<u64> deadline) {
  if (nfds > static_cast<u64>(t.process().fds->limit())) return Errno::einval;
  std::vector<PollFd> fds(nfds);
  for (usize i = 0; i < fds.size(); ++i) {
    auto p = TRY(ostd::UserPtr<PollFd>(fds_addr).element(i));
    fds[i] = TRY(p.read(t.vm()));
  }
  std::vector<std::shared_ptr<File>> files(nfds);
  for (usize i = 0; i < fds.size(); ++i) {
    if (fds[i].fd < 0) continue;
    auto f = t.process().fds->get(fds[i].fd);
    if (f.is_ok()) files[i] = f.release_value();
  }
  int count = 0;
  auto scan = [&] {
    count = 0;
    for (usize i = 0; i < fds.size(); ++i) {
      fds[i].revents = 0;
      if (fds[i].fd < 0) continue;
      if (!files[i]) {
        fds[i].revents = static_cast<ostd::i16>(kPollNval);
        ++count;
        continue;
      }
      u32 want = static_cast<ostd::u16>(fds[i].events) | kPollErr | kPollHup;
      u32 got = readiness(*files[i]) & want;
      fds[i].revents = static_cast<ostd::i16>(got);
      if (got != 0) ++count;
    }
    return count > 0;
  };
  bool ready = TRY(wait_ready(t, deadline, scan));
  if (!ready) scan();
  for (usize i = 0; i < fds.size(); ++i) {
    auto p = TRY(ostd::UserPtr<PollFd>(fds_addr).element(i));
    TRY(p.write(t.vm(), fds[i]));
  }
  return count;
}

std::optional<u64> deadline_after_ns(u64 ns) {
  u64 now = ostd::monotonic_ns();
  if (ns > std::numeric_limits<u64>::max() - now) return std::nullopt;
  return now + ns;
}

Result<std::optional<u64>> timespec_deadline(Thread& t, Vaddr addr) {
  if (addr == 0) return std::optional<u64>();
  Timespec ts = TRY(ostd::UserPtr<Timespec>(addr).read(t.vm()));
  if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= static_cast<i64>(ostd::kNsPerSec)) return Errno::einval;
  u64 ns = static_cast<u64>(ts.tv_nsec);
  if (static_cast<u64>(ts.tv_sec) > (std::numeric_limits<u64>::max() - ns) / ostd::kNsPerSec)
    return std::optional<u64>();
  return deadline_after_ns(static_cast<u64>(ts.tv_sec) * ostd::kNsPerSec + ns);
}

Result<long> sys_poll(Thread& t, const SyscallArgs& a) {
  int timeout_ms = a.as_int(2);
  std::optional<u64> deadline;
  if (timeout_ms >= 0) deadline = deadline_after_ns(static_cast<u64>(timeout_ms) * 1000000);
  return do_poll(t, a[0], a[1], deadline);
}

Result<long> sys_ppoll(Thread& t, const SyscallArgs& a) {
  auto deadline = TRY(timespec_deadline(t, a[2]));
  auto mask = TRY(read_sigmask(t, a[3], a[4]));
  TempMask tm(t, mask);
  auto r = do_poll(t, a[0], a[1], deadline);
  bool interrupted = r.is_error() && r.error() == Errno::erestartnohand;
  tm.finish(interrupted);
  // ppoll updates the timeout with the time left.
  if (a[2] != 0 && deadline && !interrupted) {
    u64 now = ostd::monotonic_ns();
    u64 left = now >= *deadline ? 0 : *deadline - now;
    (void)ostd::UserPtr<Timespec>(a[2]).write(
        t.vm(), Timespec{static_cast<i64>(left / ostd::kNsPerSec), static_cast<i64>(left % ostd::kNsPerSec)});
  }
  return r;
}

// ---- select ----

using FdSetWords = std::vector<u64>;

Result<FdSetWords> read_fdset(Thread& t, Vaddr addr, usize words) {
  FdSetWords s(words, 0);
  if (addr == 0) return s;
  for (usize i = 0; i < words; ++i) {
    auto p = TRY(ostd::UserPtr<u64>(addr).element(i));
    s[i] = TRY(p.read(t.vm()));
  }
  return s;
}

Result<void> write_fdset(Thread& t, Vaddr addr, const FdSetWords& s) {
  if (addr == 0) return {};
  for (usize i = 0; i < s.size(); ++i) {
    auto p = TRY(ostd::UserPtr<u64>(addr).element(i));
    TRY(p.write(t.vm(), s[i]));
  }
  return {};
}

Result<long> do_select(Thread& t, int nfds, Vaddr rd, Vaddr wr, Vaddr ex, std::optional<u64> deadline) {
  if (nfds < 0) return Errno::einval;
  nfds = std::min(nfds, t.process().fds->limit());
  usize words = (static_cast<usize>(nfds) + 63) / 64;
  FdSetWords in_r = TRY(read_fdset(t, rd, words));
  FdSetWords in_w = TRY(read_fdset(t, wr, words));
  FdSetWords in_e = TRY(read_fdset(t, ex, words));
  std::map<int, std::shared_ptr<File>> files;
  for (int fd = 0; fd < nfds; ++fd) {
    usize w = static_cast<usize>(fd) / 64;
    u64 bit = u64{1} << (static_cast<unsigned>(fd) % 64);
    if (((in_r[w] | in_w[w] | in_e[w]) & bit) == 0) continue;
    files[fd] = TRY(t.process().fds->get(fd));
  }
  FdSetWords out_r(words), out_w(words), out_e(words);
  long count = 0;
  auto scan = [&] {
    count = 0;
    std::fill(out_r.begin(), out_r.end(), 0);
    std::fill(out_w.begin(), out_w.end(), 0);
    std::fill(out_e.begin(), out_e.end(), 0);
    for (auto& [fd, f] : files) {
      usize w = static_cast<usize>(fd) / 64;
      u64 bit = u64{1} << (static_cast<unsigned>(fd) % 64);
      u32 ev = readiness(*f);
      if ((in_r[w] & bit) != 0 && (ev & (kPollIn | kPollHup | kPollErr)) != 0) {
        out_r[w] |= bit;
        ++count;
      }
      if ((in_w[w] & bit) != 0 && (ev & (kPollOut | kPollErr)) != 0) {
        out_w[w] |= bit;
        ++count;
      }
      if ((in_e[w] & bit) != 0 && (ev & kPollPri) != 0) {
        out_e[w] |= bit;
        ++count;
      }
    }
    return count > 0;
  };
  bool ready = TRY(wait_ready(t, deadline, scan));
  if (!ready) scan();
  TRY(write_fdset(t, rd, out_r));
  TRY(write_fdset(t, wr, out_w));
  TRY(write_fdset(t, ex, out_e));
  return count;
}

Result<long> sys_select(Thread& t, const SyscallArgs& a) {
  std::optional<u64> deadline;
  if (a[4] != 0) {
    Timeval tv = TRY(ostd::UserPtr<Timeval>(a[4]).read(t.vm()));
    if (tv.sec < 0 || tv.usec < 0) return Errno::einval;
    // Linux normalizes usec >= 1000000 rather than failing.
    u64 ns = static_cast<u64>(tv.usec) * 1000;
    if (static_cast<u64>(tv.sec) < std::numeric_limits<u64>::max() / ostd::kNsPerSec / 2) {
      deadline = deadline_after_ns(static_cast<u64>(tv.sec) * ostd::kNsPerSec + ns);
    }
  }
  auto r = do_select(t, a.as_int(0), a[1], a[2], a[3], deadline);
  if (a[4] != 0 && deadline && r.is_ok()) {
    u64 now = ostd::monotonic_ns();
    u64 left = now >= *deadline ? 0 : *deadline - now;
    (void)ostd::UserPtr<Timeval>(a[4]).write(t.vm(), abi::timeval_from_ns(left));
  }
  return r;
}

Result<long> sys_pselect6(Thread& t, const SyscallArgs& a) {
  auto deadline = TRY(timespec_deadline(t, a[4]));
  std::optional<SigSet> mask;
  if (a[5] != 0) {
    struct SigArg {
      u64 ss;
      u64 ss_len;
      OSTD_POD(SigArg, ss, ss_len);
    };
    SigArg sa = TRY(ostd::UserPtr<SigArg>(a[5]).read(t.vm()));
    mask = TRY(read_sigmask(t, sa.ss, sa.ss_len));
  }
  TempMask tm(t, mask);
  auto r = do_select(t, a.as_int(0), a[1], a[2], a[3], deadline);
  tm.finish(r.is_error() && r.error() == Errno::erestartnohand);
  return r;
}

// ---- eventfd ----

class EventFd final : public File {
 public:
  EventFd(u64 initial, bool semaphore, u32 flags) : count_(initial), semaphore_(semaphore) { set_status_flags(flags); }
  Result<usize> read(Thread& t, ostd::VmWriter& out) override {
    if (out.avail() < 8) return Errno::einval;
    for (;;) {
      if (count_ > 0) {
        u64 v = semaphore_ ? 1 : count_;
        TRY(out.write_val(v));
        count_ -= v;
        file_state_changed(queue_);
        return usize{8};
      }
      if (nonblocking()) return Errno::eagain;
      TRY(t.wait_interruptible(queue_, [&] { return count_ > 0; }));
    }
  }
  Result<usize> write(Thread& t, ostd::VmReader& in) override {
    if (in.remain() < 8) return Errno::einval;
    u64 v = TRY(in.read_val<u64>());
    if (v == kMax + 1) return Errno::einval;
    for (;;) {
      if (kMax - count_ >= v) {
        count_ += v;
        file_state_changed(queue_);
        return usize{8};
      }
      if (nonblocking()) return Errno::eagain;
      TRY(t.wait_interruptible(queue_, [&] { return kMax - count_ >= v; }));
    }
  }
  u32 poll_events() override {
    u32 ev = 0;
    if (count_ > 0) ev |= kPollIn;
    if (count_ < kMax) ev |= kPollOut;
    return ev;
  }
  ostd::WaitQueue* poll_queue() override { return &queue_; }
  Result<abi::Stat> stat() override { return anon_inode_stat(); }

 private:
  static constexpr u64 kMax = 0xfffffffffffffffeull;
  u64 count_;
  bool semaphore_;
  ostd::WaitQueue queue_;
};

Result<long> do_eventfd(Thread& t, u32 initval, u32 flags) {
  constexpr u32 kEfdSemaphore = 1;
  if ((flags & ~(kEfdSemaphore | kOCloexec | kONonblock)) != 0) return Errno::einval;
  auto f = std::make_shared<EventFd>(initval, (flags & kEfdSemaphore) != 0, kORdWr | (flags & kONonblock));
  return TRY(t.process().fds->install(f, (flags & kOCloexec) != 0));
}
Result<long> sys_eventfd(Thread& t, const SyscallArgs& a) { return do_eventfd(t, a.as_u32(0), 0); }
Result<long> sys_eventfd2(Thread& t, const SyscallArgs& a) { return do_eventfd(t, a.as_u32(0), a.as_u32(1)); }

// ---- epoll ----

constexpr u32 kEpollEt = 1u << 31, kEpollOneshot = 1u << 30, kEpollWakeup = 1u << 29, kEpollExclusive = 1u << 28;

class EpollFile final : public File {
 public:
  struct Interest {
    std::weak_ptr<File> file;
    u32 events;
    u64 data;
    bool disabled = false;  // EPOLLONESHOT after a report
    // EPOLLET: an interest is reported when it was just added or modified, when a bit is set
    // that was not reported last time, or when a set bit's kind had an event since it was last
    // looked at (File::poll_event_count: Linux's keyed wake-up putting it on the ready list).
    u32 last_reported = 0;
    ostd::u64 seen_in = 0, seen_out = 0;
    bool fresh = true;
  };
  EpollFile() { set_status_flags(kORdWr); }

  std::map<int, Interest>& interests() { return interests_; }

  // The ready events of each interest, for up to `max` entries.
  std::vector<std::pair<u32, u64>> collect(Thread& t, usize max, bool consume) {
    std::vector<std::pair<u32, u64>> out;
    for (auto it = interests_.begin(); it != interests_.end();) {
      auto f = it->second.file.lock();
      auto cur = t.process().fds->get(it->first);
      if (!f || cur.is_error() || cur.value() != f) {
        it = interests_.erase(it);  // the descriptor was closed
        continue;
      }
      Interest& in = it->second;
      ++it;
      if (in.disabled) continue;
      u32 ev = readiness(*f) & (in.events | kPollErr | kPollHup);
      if ((in.events & kEpollEt) != 0) {
        ostd::u64 n_in = f->poll_event_count(kPollIn), n_out = f->poll_event_count(kPollOut);
        bool edge = in.fresh || (ev & ~in.last_reported) != 0 || ((ev & kPollIn) != 0 && n_in != in.seen_in) ||
                    ((ev & kPollOut) != 0 && n_out != in.seen_out);
        if (consume) {
          // Looked at: off the ready list, whether or not there was something to report.
          in.last_reported = ev;
          in.seen_in = n_in;
          in.seen_out = n_out;
          in.fresh = false;
        }
        if (!edge) ev = 0;
      }
      if (ev == 0) continue;
      out.emplace_back(ev, in.data);
      if (consume && (in.events & kEpollOneshot) != 0) in.disabled = true;
      if (out.size() >= max) break;
    }
    return out;
  }

  // Polling an epoll file itself (nesting) is not supported yet: it never reports ready.
  u32 poll_events() override { return 0; }
  ostd::WaitQueue* poll_queue() override { return &queue_; }
  Result<abi::Stat> stat() override { return anon_inode_stat(); }

 private:
  std::map<int, Interest> interests_;
  ostd::WaitQueue queue_;
};

FileKind<EpollFile>& epoll_files() {
  static FileKind<EpollFile> k;
  return k;
}

Result<std::shared_ptr<EpollFile>> get_epoll(Thread& t, int fd) {
  auto f = TRY(t.process().fds->get(fd));
  auto ep = epoll_files().find(*f);
  if (!ep) return Errno::einval;
  return ep;
}

Result<long> do_epoll_create(Thread& t, u32 flags) {
  if ((flags & ~kOCloexec) != 0) return Errno::einval;
  auto ep = std::make_shared<EpollFile>();
  epoll_files().add(ep);
  return TRY(t.process().fds->install(ep, (flags & kOCloexec) != 0));
}
Result<long> sys_epoll_create(Thread& t, const SyscallArgs& a) {
  if (a.as_int(0) <= 0) return Errno::einval;
  return do_epoll_create(t, 0);
}
Result<long> sys_epoll_create1(Thread& t, const SyscallArgs& a) { return do_epoll_create(t, a.as_u32(0)); }

struct EpollEvent {
  std::array<ostd::u8, 12> raw;  // packed { u32 events; u64 data; } on x86-64
  OSTD_POD(EpollEvent, raw);
};

Result<long> sys_epoll_ctl(Thread& t, const SyscallArgs& a) {
  constexpr int kAdd = 1, kDel = 2, kMod = 3;
  int epfd = a.as_int(0), op = a.as_int(1), fd = a.as_int(2);
  auto target = TRY(t.process().fds->get(fd));
  auto ep = TRY(get_epoll(t, epfd));
  if (epfd == fd) return Errno::einval;
  if (target->poll_queue() == nullptr && target->poll_events() == (kPollIn | kPollOut)) {
    // Regular files and directories are always ready: Linux refuses them.
    auto st = target->stat();
    if (st.is_ok() &&
        ((st.value().st_mode & abi::kSIfmt) == abi::kSIfreg || (st.value().st_mode & abi::kSIfmt) == abi::kSIfdir)) {
      return Errno::eperm;
    }
  }
  u32 events = 0;
  u64 data = 0;
  if (op != kDel) {
    EpollEvent ev = TRY(ostd::UserPtr<EpollEvent>(a[3]).read(t.vm()));
    for (usize k = 0; k < 4; ++k) events |= u32{ev.raw.at(k)} << (8 * k);
    for (usize k = 0; k < 8; ++k) data |= u64{ev.raw.at(4 + k)} << (8 * k);
  }
  auto& in = ep->interests();
  switch (op) {
    case kAdd:
      if (in.contains(fd)) return Errno::eexist;
      in[fd] = EpollFile::Interest{target, events | kPollErr | kPollHup, data};
      break;
    case kMod: {
      auto it = in.find(fd);
      if (it == in.end()) return Errno::enoent;
      if ((events & kEpollExclusive) != 0) return Errno::einval;
      it->second.events = events | kPollErr | kPollHup;
      it->second.data = data;
      it->second.disabled = false;
      it->second.last_reported = 0;
      it->second.fresh = true;
      break;
    }
    case kDel:
      if (in.erase(fd) == 0) return Errno::enoent;
      break;
    default: return Errno::einval;
  }
  (void)kEpollWakeup;
  global_poll_queue().wake_all();
  return 0;
}

Result<long> do_epoll_wait(Thread& t, int epfd, Vaddr events, int maxevents, std::optional<u64> deadline,
                           std::optional<SigSet> mask) {
  if (maxevents <= 0 || maxevents > std::numeric_limits<int>::max() / 12) return Errno::einval;
  auto ep = TRY(get_epoll(t, epfd));
  TempMask tm(t, mask);
  auto ready = [&] { return !ep->collect(t, 1, false).empty(); };
  auto w = wait_ready(t, deadline, ready);
  tm.finish(w.is_error());
  if (w.is_error()) return w.error();
  auto got = ep->collect(t, static_cast<usize>(maxevents), true);
  for (usize i = 0; i < got.size(); ++i) {
    EpollEvent ev{};
    for (usize k = 0; k < 4; ++k) ev.raw.at(k) = static_cast<ostd::u8>(got[i].first >> (8 * k));
    for (usize k = 0; k < 8; ++k) ev.raw.at(4 + k) = static_cast<ostd::u8>(got[i].second >> (8 * k));
    auto p = TRY(ostd::UserPtr<EpollEvent>(events).element(i));
    TRY(p.write(t.vm(), ev));
  }
  return static_cast<long>(got.size());
}

std::optional<u64> ms_deadline(int timeout_ms) {
  if (timeout_ms < 0) return std::nullopt;
  return deadline_after_ns(static_cast<u64>(timeout_ms) * 1000000);
}

Result<long> sys_epoll_wait(Thread& t, const SyscallArgs& a) {
  return do_epoll_wait(t, a.as_int(0), a[1], a.as_int(2), ms_deadline(a.as_int(3)), std::nullopt);
}
Result<long> sys_epoll_pwait(Thread& t, const SyscallArgs& a) {
  auto mask = TRY(read_sigmask(t, a[4], a[5]));
  return do_epoll_wait(t, a.as_int(0), a[1], a.as_int(2), ms_deadline(a.as_int(3)), mask);
}
// epoll_pwait2: the timeout as a timespec (NULL: none), to the nanosecond.
Result<long> sys_epoll_pwait2(Thread& t, const SyscallArgs& a) {
  auto deadline = TRY(timespec_deadline(t, a[3]));
  auto mask = TRY(read_sigmask(t, a[4], a[5]));
  return do_epoll_wait(t, a.as_int(0), a[1], a.as_int(2), deadline, mask);
}

}  // namespace

void register_poll_syscalls(SyscallTable& t) {
  using S = x86_64::Sysno;
  t.set(S::poll, &sys_poll);
  t.set(S::ppoll, &sys_ppoll);
  t.set(S::select, &sys_select);
  t.set(S::pselect6, &sys_pselect6);
  t.set(S::eventfd, &sys_eventfd);
  t.set(S::eventfd2, &sys_eventfd2);
  t.set(S::epoll_create, &sys_epoll_create);
  t.set(S::epoll_create1, &sys_epoll_create1);
  t.set(S::epoll_ctl, &sys_epoll_ctl);
  t.set(S::epoll_wait, &sys_epoll_wait);
  t.set(S::epoll_pwait, &sys_epoll_pwait);
  t.set(S::epoll_pwait2, &sys_epoll_pwait2);
}

}  // namespace services
