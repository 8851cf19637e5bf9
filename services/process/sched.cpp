// Scheduling parameters and I/O priorities: sched_{set,get}scheduler, sched_{set,get}param,
// sched_get_priority_{max,min}, sched_rr_get_interval, sched_{set,get}attr, getcpu,
// ioprio_{get,set} and get_robust_list.
//
// Policies, real-time priorities and I/O priorities are per thread, checked and inherited as
// Linux does them (with its permission rules), and reported back; the scheduler itself runs
// every runnable task round-robin and does not yet order them by policy. SCHED_DEADLINE is
// refused with EBUSY once its parameters are valid: no deadline bandwidth is reserved (Linux's
// answer when admission control fails).
#include <algorithm>

#include <ostd/mm/io.h>
#include <ostd/time.h>

#include "abi/x86_64/resource.h"
#include "process/internal.h"
#include "process/process.h"
#include "syscall/table.h"
#include "time/clock.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::i32;
using ostd::u32;
using ostd::u64;

namespace {

constexpr int kSchedOther = 0, kSchedFifo = 1, kSchedRr = 2, kSchedBatch = 3, kSchedIdle = 5, kSchedDeadline = 6;
constexpr int kSchedResetOnFork = 0x40000000;
constexpr u64 kFlagResetOnFork = 0x01, kFlagReclaim = 0x02, kFlagDlOverrun = 0x04, kFlagKeepPolicy = 0x08,
              kFlagKeepParams = 0x10, kFlagUtilClampMin = 0x20, kFlagUtilClampMax = 0x40;
constexpr u64 kKnownFlags = kFlagResetOnFork | kFlagReclaim | kFlagDlOverrun | kFlagKeepPolicy | kFlagKeepParams |
                            kFlagUtilClampMin | kFlagUtilClampMax;
constexpr u64 kRrTimesliceNs = 100 * ostd::kNsPerMs;  // Linux's RR_TIMESLICE

bool rt_policy(int policy) { return policy == kSchedFifo || policy == kSchedRr; }
bool fair_policy(int policy) { return policy == kSchedOther || policy == kSchedBatch || policy == kSchedIdle; }

// struct sched_attr (SCHED_ATTR_SIZE_VER1).
struct SchedAttr {
  u32 size;
  u32 policy;
  u64 flags;
  i32 nice;
  u32 priority;
  u64 runtime;
  u64 deadline;
  u64 period;
  u32 util_min;
  u32 util_max;
  OSTD_POD(SchedAttr, size, policy, flags, nice, priority, runtime, deadline, period, util_min, util_max);
};
static_assert(sizeof(SchedAttr) == 56);
constexpr u32 kAttrSizeVer0 = 48;

// The thread `pid` names (0: the caller); ESRCH when there is none.
Result<std::shared_ptr<Thread>> target_thread(Thread& self, i32 pid) {
  if (pid == 0) return self.shared_from_this();
  auto t = pid_table().thread(pid);
  if (!t || t->exiting) return Errno::esrch;
  return t;
}

// Linux's __sched_setscheduler checks: EINVAL for a bad policy or priority, EPERM for what the
// caller may not do. `nice` is the fair policies' nice value (sched_setattr), else unchanged.
Result<void> set_scheduling(Thread& self, Thread& t, int policy, int priority, bool reset_on_fork,
                            std::optional<int> nice) {
  if (!rt_policy(policy) && !fair_policy(policy)) return Errno::einval;
  if (priority < 0 || priority > 99 || rt_policy(policy) != (priority != 0)) return Errno::einval;
  const Credentials& c = self.process().creds;
  if (!c.capable(cap::kSysNice)) {
    const Credentials& tc = t.process().creds;
    if (tc.uid != c.euid && tc.euid != c.euid) return Errno::eperm;
    if (rt_policy(policy)) {
      const u64 limit = self.process().rlimits.at(abi::kRlimitRtprio).cur;
      // Raising a real-time priority past RLIMIT_RTPRIO (or becoming real-time from nothing).
      if (static_cast<u64>(priority) > limit && (priority > t.sched_priority || !rt_policy(t.sched_policy))) {
        return Errno::eperm;
      }
    }
    if (nice && *nice < t.process().nice) return Errno::eperm;
    // Leaving SCHED_IDLE needs the right too, and so does clearing SCHED_RESET_ON_FORK.
    if (t.sched_policy == kSchedIdle && policy != kSchedIdle) return Errno::eperm;
    if (t.sched_reset_on_fork && !reset_on_fork) return Errno::eperm;
  }
  t.sched_policy = policy;
  t.sched_priority = priority;
  t.sched_reset_on_fork = reset_on_fork;
  if (nice) t.process().nice = *nice;
  return {};
}

Result<long> sys_sched_setscheduler(Thread& self, const SyscallArgs& a) {
  const i32 pid = a.as_int(0);
  int policy = a.as_int(1);
  if (a[2] == 0 || pid < 0) return Errno::einval;
  const i32 priority = TRY(ostd::UserPtr<i32>(a[2]).read(self.vm()));
  auto t = TRY(target_thread(self, pid));
  const bool reset = (policy & kSchedResetOnFork) != 0;
  policy &= ~kSchedResetOnFork;
  if (policy == kSchedDeadline) return Errno::einval;  // sched_setattr only
  TRY(set_scheduling(self, *t, policy, priority, reset, std::nullopt));
  return 0;
}

Result<long> sys_sched_setparam(Thread& self, const SyscallArgs& a) {
  const i32 pid = a.as_int(0);
  if (a[1] == 0 || pid < 0) return Errno::einval;
  const i32 priority = TRY(ostd::UserPtr<i32>(a[1]).read(self.vm()));
  auto t = TRY(target_thread(self, pid));
  TRY(set_scheduling(self, *t, t->sched_policy, priority, t->sched_reset_on_fork, std::nullopt));
  return 0;
}

Result<long> sys_sched_getscheduler(Thread& self, const SyscallArgs& a) {
  const i32 pid = a.as_int(0);
  if (pid < 0) return Errno::einval;
  auto t = TRY(target_thread(self, pid));
  return t->sched_policy | (t->sched_reset_on_fork ? kSchedResetOnFork : 0);
}

Result<long> sys_sched_getparam(Thread& self, const SyscallArgs& a) {
  const i32 pid = a.as_int(0);
  if (a[1] == 0 || pid < 0) return Errno::einval;
  auto t = TRY(target_thread(self, pid));
  TRY(ostd::UserPtr<i32>(a[1]).write(self.vm(), t->sched_priority));
  return 0;
}

Result<long> sys_sched_get_priority_max(Thread&, const SyscallArgs& a) {
  const int policy = a.as_int(0);
  if (rt_policy(policy)) return 99;
  if (fair_policy(policy) || policy == kSchedDeadline) return 0;
  return Errno::einval;
}

Result<long> sys_sched_get_priority_min(Thread&, const SyscallArgs& a) {
  const int policy = a.as_int(0);
  if (rt_policy(policy)) return 1;
  if (fair_policy(policy) || policy == kSchedDeadline) return 0;
  return Errno::einval;
}

Result<long> sys_sched_rr_get_interval(Thread& self, const SyscallArgs& a) {
  const i32 pid = a.as_int(0);
  if (pid < 0) return Errno::einval;
  auto t = TRY(target_thread(self, pid));
  // SCHED_RR's time slice; FIFO has none; the fair policies run a tick at a time here.
  u64 slice = t->sched_policy == kSchedRr     ? kRrTimesliceNs
              : t->sched_policy == kSchedFifo ? 0
                                              : ostd::kNsPerSec / ostd::tick_hz();
  TRY(ostd::UserPtr<abi::Timespec>(a[1]).write(self.vm(), to_timespec(slice)));
  return 0;
}

// sched_copy_attr: the size field says how much the caller's structure holds (0: the first
// version); a smaller one than the first version or one bigger than a page is E2BIG (and the
// size we know is written back), as is a bigger one whose unknown tail is not zero.
Result<SchedAttr> read_attr(Thread& self, ostd::Vaddr at) {
  u32 size = TRY(ostd::UserPtr<u32>(at).read(self.vm()));
  if (size == 0) size = kAttrSizeVer0;
  if (size < kAttrSizeVer0 || size > ostd::kPageSize) {
    TRY(ostd::UserPtr<u32>(at).write(self.vm(), static_cast<u32>(sizeof(SchedAttr))));
    return Errno::e2big;
  }
  auto read = read_sized_struct<SchedAttr>(self.vm(), at, size);
  if (read.is_error() && read.error() == Errno::e2big) {
    TRY(ostd::UserPtr<u32>(at).write(self.vm(), static_cast<u32>(sizeof(SchedAttr))));
  }
  SchedAttr attr = TRY(std::move(read));
  attr.size = size;
  return attr;
}

Result<long> sys_sched_setattr(Thread& self, const SyscallArgs& a) {
  const i32 pid = a.as_int(0);
  if (a[1] == 0 || pid < 0 || a.as_u32(2) != 0) return Errno::einval;
  SchedAttr attr = TRY(read_attr(self, a[1]));
  if (static_cast<i32>(attr.policy) < 0) return Errno::einval;
  if ((attr.flags & ~kKnownFlags) != 0) return Errno::einval;
  auto t = TRY(target_thread(self, pid));
  int policy = (attr.flags & kFlagKeepPolicy) != 0 ? t->sched_policy : static_cast<int>(attr.policy);
  if ((attr.flags & (kFlagUtilClampMin | kFlagUtilClampMax)) != 0) return Errno::eopnotsupp;  // no uclamp
  if (policy == kSchedDeadline) {
    // __checkparam_dl: a deadline of at least 1 us and runtime <= deadline <= period.
    const u64 period = attr.period != 0 ? attr.period : attr.deadline;
    if (attr.deadline == 0 || attr.runtime < 1024 || attr.deadline < attr.runtime || period < attr.deadline ||
        (attr.deadline >> 63) != 0 || (period >> 63) != 0 || attr.priority != 0) {
      return Errno::einval;
    }
    return Errno::ebusy;
  }
  if ((attr.flags & kFlagKeepParams) != 0) {
    attr.priority = static_cast<u32>(t->sched_priority);
    attr.nice = t->process().nice;
  }
  std::optional<int> nice;
  if (fair_policy(policy)) nice = std::clamp(attr.nice, -20, 19);
  if (attr.priority > 99) return Errno::einval;
  TRY(set_scheduling(self, *t, policy, static_cast<int>(attr.priority), (attr.flags & kFlagResetOnFork) != 0, nice));
  return 0;
}

Result<long> sys_sched_getattr(Thread& self, const SyscallArgs& a) {
  const i32 pid = a.as_int(0);
  const u32 usize = a.as_u32(2);
  if (a[1] == 0 || pid < 0 || usize > ostd::kPageSize || usize < kAttrSizeVer0 || a.as_u32(3) != 0) {
    return Errno::einval;
  }
  auto t = TRY(target_thread(self, pid));
  SchedAttr attr{};
  attr.size = std::min<u32>(usize, sizeof(SchedAttr));
  attr.policy = static_cast<u32>(t->sched_policy);
  attr.flags = t->sched_reset_on_fork ? kFlagResetOnFork : 0;
  if (rt_policy(t->sched_policy)) {
    attr.priority = static_cast<u32>(t->sched_priority);
  } else {
    attr.nice = t->process().nice;
  }
  auto bytes = ostd::bytes_of(attr);
  TRY(self.vm().write_bytes(a[1], std::span<const ostd::u8>(bytes).first(attr.size)));
  return 0;
}

Result<long> sys_getcpu(Thread& self, const SyscallArgs& a) {
  // One CPU and one NUMA node, as sched_getaffinity says.
  if (a[0] != 0) TRY(ostd::UserPtr<u32>(a[0]).write(self.vm(), 0));
  if (a[1] != 0) TRY(ostd::UserPtr<u32>(a[1]).write(self.vm(), 0));
  return 0;
}

// ---- I/O priorities ----

constexpr int kWhoProcess = 1, kWhoPgrp = 2, kWhoUser = 3;
constexpr int kClassNone = 0, kClassRt = 1, kClassBe = 2, kClassIdle = 3, kClassShift = 13;
constexpr int kBeNorm = 4, kLevels = 8;

// The value: class (3 bits) << 13, a hint (10 bits) << 3, the level (3 bits).
int ioprio_class(int prio) { return (prio >> kClassShift) & 7; }
// ioprio_best: "none" counts as best-effort at the normal level.
int ioprio_best(int x, int y) {
  auto valid = [](int p) { return ioprio_class(p) != kClassNone ? p : (kClassBe << kClassShift) | kBeNorm; };
  return std::min(valid(x), valid(y));
}

// The threads ioprio_{get,set} address.
Result<std::vector<std::shared_ptr<Thread>>> ioprio_targets(Thread& self, int which, int who) {
  std::vector<std::shared_ptr<Thread>> out;
  switch (which) {
    case kWhoProcess: out.push_back(TRY(target_thread(self, who))); return out;
    case kWhoPgrp:
    case kWhoUser: {
      const i32 pgrp = who == 0 ? self.process().pgid : who;
      const u32 uid = who == 0 ? self.process().creds.uid : static_cast<u32>(who);
      for (auto& p : pid_table().all_processes()) {
        if (p->state == Process::State::Zombie || p->state == Process::State::Reaped) continue;
        if (which == kWhoPgrp ? p->pgid != pgrp : p->creds.uid != uid) continue;
        for (auto& t : threads_of(*p)) out.push_back(t);
      }
      if (out.empty()) return Errno::esrch;
      return out;
    }
    default: return Errno::einval;
  }
}

Result<long> sys_ioprio_get(Thread& self, const SyscallArgs& a) {
  const int which = a.as_int(0);
  auto targets = TRY(ioprio_targets(self, which, a.as_int(1)));
  if (which == kWhoProcess) return targets.front()->ioprio;
  int best = targets.front()->ioprio;
  best = ioprio_best(best, best);
  for (auto& t : targets) best = ioprio_best(best, t->ioprio);
  return best;
}

Result<long> sys_ioprio_set(Thread& self, const SyscallArgs& a) {
  const int which = a.as_int(0), prio = a.as_int(2);
  const int cls = ioprio_class(prio), level = prio & (kLevels - 1);
  const Credentials& c = self.process().creds;
  switch (cls) {
    case kClassRt:
      if (!c.capable(cap::kSysNice) && !c.capable(cap::kSysAdmin)) return Errno::eperm;
      break;
    // clang-format off
    case kClassBe: case kClassIdle: break;
    case kClassNone:
      if (level != 0) return Errno::einval;
      // clang-format on
      break;
    default: return Errno::einval;
  }
  auto targets = TRY(ioprio_targets(self, which, a.as_int(1)));
  for (auto& t : targets) {
    const Credentials& tc = t->process().creds;
    if (tc.uid != c.euid && tc.uid != c.uid && !c.capable(cap::kSysNice)) return Errno::eperm;
  }
  for (auto& t : targets) t->ioprio = prio;
  return 0;
}

Result<long> sys_get_robust_list(Thread& self, const SyscallArgs& a) {
  auto t = TRY(target_thread(self, a.as_int(0)));
  if (!ptrace_may_access(self.process(), t->process())) return Errno::eperm;
  constexpr u64 kRobustListHeadSize = 24;
  TRY(ostd::UserPtr<u64>(a[2]).write(self.vm(), kRobustListHeadSize));
  TRY(ostd::UserPtr<u64>(a[1]).write(self.vm(), t->robust_list));
  return 0;
}

}  // namespace

void inherit_scheduling(const Thread& parent, Thread& child) {
  child.ioprio = parent.ioprio;
  child.mempolicy = parent.mempolicy;
  child.seccomp_mode = parent.seccomp_mode;
  child.seccomp_filter = parent.seccomp_filter;
  child.no_new_privs = parent.no_new_privs;
  if (!parent.sched_reset_on_fork) {
    child.sched_policy = parent.sched_policy;
    child.sched_priority = parent.sched_priority;
    return;
  }
  // SCHED_RESET_ON_FORK: real-time goes back to SCHED_OTHER, a negative nice to 0.
  child.sched_policy = rt_policy(parent.sched_policy) ? kSchedOther : parent.sched_policy;
  child.sched_priority = 0;
  if (&child.process() != &parent.process() && child.process().nice < 0) child.process().nice = 0;
}

void register_sched_syscalls(SyscallTable& t) {
  using S = x86_64::Sysno;
  t.set(S::sched_setscheduler, &sys_sched_setscheduler);
  t.set(S::sched_getscheduler, &sys_sched_getscheduler);
  t.set(S::sched_setparam, &sys_sched_setparam);
  t.set(S::sched_getparam, &sys_sched_getparam);
  t.set(S::sched_get_priority_max, &sys_sched_get_priority_max);
  t.set(S::sched_get_priority_min, &sys_sched_get_priority_min);
  t.set(S::sched_rr_get_interval, &sys_sched_rr_get_interval);
  t.set(S::sched_setattr, &sys_sched_setattr);
  t.set(S::sched_getattr, &sys_sched_getattr);
  t.set(S::getcpu, &sys_getcpu);
  t.set(S::ioprio_get, &sys_ioprio_get);
  t.set(S::ioprio_set, &sys_ioprio_set);
  t.set(S::get_robust_list, &sys_get_robust_list);
}

}  // namespace services
