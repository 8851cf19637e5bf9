// timerfd_create, timerfd_settime and timerfd_gettime: timers read through a file descriptor.
//
// An ostd::Timer counts the expirations in interrupt context (under the file's spin lock, which
// keeps interrupts off in the tasks that read or set it) and wakes the readers and pollers;
// a periodic timer re-arms itself for the next period and counts the periods it missed.
#include <ostd/mm/io.h>
#include <ostd/sync.h>
#include <ostd/time.h>

#include "fs/file.h"
#include "process/process.h"
#include "syscall/table.h"
#include "time/clock.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u32;
using ostd::u64;
using ostd::usize;

namespace {

constexpr u32 kTfdTimerAbstime = 1, kTfdTimerCancelOnSet = 2;

class TimerFd final : public File {
 public:
  TimerFd(int clock, u32 flags) : clock_(clock), timer_([this] { fire(); }) { set_status_flags(kORdWr | flags); }
  int clock() const { return clock_; }

  // `deadline`: monotonic ns (0 disarms).
  Itimerspec set(u64 deadline, u64 interval) {
    Itimerspec old{};
    {
      ostd::SpinLockGuard g(lock_);
      old = current_locked();
      (void)timer_.cancel();
      ticks_ = 0;
      deadline_ = deadline;
      interval_ = interval;
      if (deadline_ != 0) timer_.arm_at(deadline_);
    }
    file_state_changed(queue_);
    return old;
  }
  Itimerspec current() {
    ostd::SpinLockGuard g(lock_);
    return current_locked();
  }

  Result<usize> read(Thread& t, ostd::VmWriter& out) override {
    if (out.avail() < sizeof(u64)) return Errno::einval;
    for (;;) {
      u64 n = 0;
      {
        ostd::SpinLockGuard g(lock_);
        n = ticks_;
        ticks_ = 0;
      }
      if (n != 0) {
        file_state_changed(queue_);
        if (auto w = out.write_val(n); w.is_error()) {
          ostd::SpinLockGuard g(lock_);
          ticks_ = saturating_add(ticks_, n);  // not consumed after all
          return w.error();
        }
        return sizeof(u64);
      }
      if (nonblocking()) return Errno::eagain;
      TRY(t.wait_interruptible(queue_, [&] { return ticks_ != 0; }));
    }
  }
  u32 poll_events() override { return ticks_ != 0 ? kPollIn : 0; }
  ostd::WaitQueue* poll_queue() override { return &queue_; }
  Result<abi::Stat> stat() override { return anon_inode_stat(); }

 private:
  // Interrupt context.
  void fire() {
    {
      ostd::SpinLockGuard g(lock_);
      if (deadline_ == 0) return;
      const u64 now = ostd::monotonic_ns();
      u64 n = 1;
      if (interval_ == 0) {
        deadline_ = 0;
      } else {
        const PeriodStep step = step_period(now > deadline_ ? now - deadline_ : 0, interval_);
        n = step.expirations;
        deadline_ = saturating_add(deadline_, step.advance);
        if (deadline_ != ~u64{0}) timer_.arm_at(deadline_);
      }
      ticks_ = saturating_add(ticks_, n);
    }
    file_state_changed(queue_);
  }
  Itimerspec current_locked() const {
    Itimerspec v{};
    v.interval = to_timespec(interval_);
    if (deadline_ != 0) {
      const u64 now = ostd::monotonic_ns();
      v.value = to_timespec(deadline_ > now ? deadline_ - now : 1);
    }
    return v;
  }

  const int clock_;
  ostd::SpinLock lock_;
  u64 ticks_ = 0;     // expirations not yet read
  u64 deadline_ = 0;  // monotonic ns of the next expiration; 0: disarmed
  u64 interval_ = 0;
  ostd::WaitQueue queue_;
  ostd::Timer timer_;  // last: destroyed (cancelled) before the state its callback uses
};

FileKind<TimerFd>& timerfds() {
  static FileKind<TimerFd> k;
  return k;
}

Result<std::shared_ptr<TimerFd>> get_timerfd(Thread& t, int fd) {
  auto f = TRY(t.process().fds->get(fd));
  auto tfd = timerfds().find(*f);
  if (!tfd) return Errno::einval;
  return tfd;
}

Result<long> sys_timerfd_create(Thread& t, const SyscallArgs& a) {
  const int clock = a.as_int(0);
  const u32 flags = a.as_u32(1);
  switch (clock) {
    case clk::kRealtime:
    case clk::kMonotonic:
    case clk::kBoottime: break;
    case clk::kRealtimeAlarm:
    case clk::kBoottimeAlarm:
      if (!t.process().creds.capable(cap::kWakeAlarm)) return Errno::eperm;
      break;
    default: return Errno::einval;
  }
  if ((flags & ~(kOCloexec | kONonblock)) != 0) return Errno::einval;
  auto tfd = std::make_shared<TimerFd>(clock, flags & kONonblock);
  timerfds().add(tfd);
  return TRY(t.process().fds->install(tfd, (flags & kOCloexec) != 0));
}

Result<long> sys_timerfd_settime(Thread& t, const SyscallArgs& a) {
  const u32 flags = a.as_u32(1);
  Itimerspec nv = TRY(ostd::UserPtr<Itimerspec>(a[2]).read(t.vm()));
  if ((flags & ~(kTfdTimerAbstime | kTfdTimerCancelOnSet)) != 0) return Errno::einval;
  const u64 value = TRY(from_timespec(nv.value));
  const u64 interval = TRY(from_timespec(nv.interval));
  auto tfd = TRY(get_timerfd(t, a.as_int(0)));
  // TFD_TIMER_CANCEL_ON_SET: the clock cannot be set here (clock_settime answers EPERM), so
  // there is never a change to report.
  u64 deadline = 0;
  if (value != 0) {
    u64 rel = value;
    if ((flags & kTfdTimerAbstime) != 0) {
      const u64 now = TRY(clock_now(t, tfd->clock()));
      rel = value > now ? value - now : 0;
    }
    deadline = std::max<u64>(saturating_add(ostd::monotonic_ns(), rel), 1);
  }
  Itimerspec old = tfd->set(deadline, interval);
  if (a[3] != 0) TRY(ostd::UserPtr<Itimerspec>(a[3]).write(t.vm(), old));
  return 0;
}

Result<long> sys_timerfd_gettime(Thread& t, const SyscallArgs& a) {
  auto tfd = TRY(get_timerfd(t, a.as_int(0)));
  TRY(ostd::UserPtr<Itimerspec>(a[1]).write(t.vm(), tfd->current()));
  return 0;
}

}  // namespace

void register_timerfd_syscalls(SyscallTable& t) {
  t.set(x86_64::Sysno::timerfd_create, &sys_timerfd_create);
  t.set(x86_64::Sysno::timerfd_settime, &sys_timerfd_settime);
  t.set(x86_64::Sysno::timerfd_gettime, &sys_timerfd_gettime);
}

}  // namespace services
