// Identity, limits and system information: getpid and friends, credentials, process groups and
// sessions, rlimits, uname, sysinfo, rusage/times, prctl, arch_prctl, sched_*, getrandom.
#include <algorithm>
#include <array>
#include <string>

#include <ostd/bytes.h>
#include <ostd/cpu.h>
#include <ostd/mm/io.h>
#include <ostd/time.h>
#include <ostd/user_mode.h>

#include "abi/x86_64/resource.h"
#include "fs/file.h"
#include "process/internal.h"
#include "syscall/table.h"
#include "vm/memory_map.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u64;

namespace {

constexpr u64 kRlimInfinity = ~u64{0};

Result<long> sys_getpid(Thread& t, const SyscallArgs&) { return t.process().pid(); }
Result<long> sys_gettid(Thread& t, const SyscallArgs&) { return t.tid(); }
Result<long> sys_getppid(Thread& t, const SyscallArgs&) {
  return t.process().parent_pid.load(std::memory_order_relaxed);
}
std::shared_ptr<Process> find_process(Thread& t, ostd::i32 pid) {
  if (pid == 0) return t.process_shared();
  return pid_table().process(pid);
}

Result<long> sys_getpgid(Thread& t, const SyscallArgs& a) {
  if (a.as_int(0) < 0) return Errno::esrch;
  auto p = find_process(t, a.as_int(0));
  if (!p) return Errno::esrch;
  return p->pgid;
}
Result<long> sys_getpgrp(Thread& t, const SyscallArgs&) { return t.process().pgid; }
Result<long> sys_setpgid(Thread& t, const SyscallArgs& a) {
  ostd::i32 pid = a.as_int(0);
  ostd::i32 pgid = a.as_int(1);
  if (pgid < 0) return Errno::einval;
  auto p = find_process(t, pid);
  if (!p) return Errno::esrch;
  Process& me = t.process();
  bool is_child = false;
  for (auto& c : children_of(me)) is_child |= c == p;
  if (p.get() != &me && !is_child) return Errno::esrch;
  if (p->sid == p->pid()) return Errno::eperm;  // a session leader
  if (p->sid != me.sid) return Errno::eperm;
  if (pgid == 0) pgid = p->pid();
  if (pgid != p->pid()) {
    bool exists = false;
    for (auto& q : pid_table().all_processes()) exists |= q->pgid == pgid && q->sid == me.sid;
    if (!exists) return Errno::eperm;
  }
  p->pgid = pgid;
  return 0;
}
Result<long> sys_getsid(Thread& t, const SyscallArgs& a) {
  auto p = find_process(t, a.as_int(0));
  if (!p) return Errno::esrch;
  return p->sid;
}
Result<long> sys_setsid(Thread& t, const SyscallArgs&) {
  Process& me = t.process();
  for (auto& q : pid_table().all_processes()) {
    if (q->pgid == me.pid()) return Errno::eperm;
  }
  me.sid = me.pgid = me.pid();
  return me.sid;
}

struct Rlimit {
  u64 cur;
  u64 max;
  OSTD_POD(Rlimit, cur, max);
};

Result<long> do_prlimit(Thread& t, ostd::i32 pid, int resource, ostd::Vaddr new_lim, ostd::Vaddr old_lim) {
  if (resource < 0 || static_cast<ostd::usize>(resource) >= abi::kNumRlimits) return Errno::einval;
  const auto index = static_cast<ostd::usize>(resource);
  auto p = find_process(t, pid);
  if (!p) return Errno::esrch;
  auto& slot = p->rlimits.at(index);
  std::optional<Rlimit> nl;
  if (new_lim != 0) {
    nl = TRY(ostd::UserPtr<Rlimit>(new_lim).read(t.vm()));
    if (nl->cur > nl->max) return Errno::einval;
    if (index == abi::kRlimitNofile && nl->max > (u64{1} << 20)) return Errno::eperm;
    // Raising a hard limit needs CAP_SYS_RESOURCE.
    if (nl->max > slot.max && !t.process().creds.capable(cap::kSysResource)) return Errno::eperm;
  }
  if (old_lim != 0) TRY(ostd::UserPtr<Rlimit>(old_lim).write(t.vm(), Rlimit{slot.cur, slot.max}));
  if (nl) {
    slot.cur = nl->cur;
    slot.max = nl->max;
    if (index == abi::kRlimitNofile && p->fds) {
      p->fds->set_limit(static_cast<int>(std::min<u64>(nl->cur, u64{1} << 20)));
    }
  }
  return 0;
}
Result<long> sys_prlimit64(Thread& t, const SyscallArgs& a) {
  return do_prlimit(t, a.as_int(0), a.as_int(1), a[2], a[3]);
}
Result<long> sys_getrlimit(Thread& t, const SyscallArgs& a) { return do_prlimit(t, 0, a.as_int(0), 0, a[1]); }
Result<long> sys_setrlimit(Thread& t, const SyscallArgs& a) { return do_prlimit(t, 0, a.as_int(0), a[1], 0); }

struct Utsname {
  std::array<char, 65> sysname, nodename, release, version, machine, domainname;
  OSTD_POD(Utsname, sysname, nodename, release, version, machine, domainname);
};
static_assert(sizeof(Utsname) == 390);

void put(std::array<char, 65>& field, std::string_view s) {
  field.fill(0);
  for (ostd::usize i = 0; i < s.size() && i < 64; ++i) field.at(i) = s[i];
}

Result<long> sys_uname(Thread& t, const SyscallArgs& a) {
  Utsname u{};
  put(u.sysname, "Linux");
  {
    UtsNamespace& uts = uts_of(t.process());
    ostd::MutexGuard g(uts.lock);
    put(u.nodename, uts.nodename);
    put(u.domainname, uts.domainname);
  }
  put(u.release, kKernelRelease);
  put(u.version, "#1 SMP PREEMPT");
  put(u.machine, "x86_64");
  TRY(ostd::UserPtr<Utsname>(a[0]).write(t.vm(), u));
  return 0;
}

struct Sysinfo {
  ostd::i64 uptime;
  std::array<u64, 3> loads;
  u64 totalram, freeram, sharedram, bufferram, totalswap, freeswap;
  ostd::u16 procs, pad;
  ostd::u32 pad2;
  u64 totalhigh, freehigh;
  ostd::u32 mem_unit;
  std::array<char, 4> reserved;
  OSTD_POD(Sysinfo, uptime, loads, totalram, freeram, sharedram, bufferram, totalswap, freeswap, procs, pad, pad2,
           totalhigh, freehigh, mem_unit, reserved);
};
static_assert(sizeof(Sysinfo) == 112);

Result<long> sys_sysinfo(Thread& t, const SyscallArgs& a) {
  ostd::FrameStats fs = ostd::frame_stats();
  Sysinfo s{};
  s.uptime = static_cast<ostd::i64>(uptime_ns() / ostd::kNsPerSec);
  s.totalram = fs.total_frames * ostd::kPageSize;
  s.freeram = fs.free_frames * ostd::kPageSize;
  s.procs = static_cast<ostd::u16>(pid_table().all_processes().size());
  s.mem_unit = 1;
  TRY(ostd::UserPtr<Sysinfo>(a[0]).write(t.vm(), s));
  return 0;
}

}  // namespace

abi::Rusage rusage_of(const Process& p, RusageOf which) {
  const bool self = which != RusageOf::Children, children = which != RusageOf::Self;
  abi::Rusage r{};
  r.utime = abi::timeval_from_ns((self ? p.utime_ns : 0) + (children ? p.cutime_ns : 0));
  r.stime = abi::timeval_from_ns((self ? p.stime_ns : 0) + (children ? p.cstime_ns : 0));
  r.maxrss = static_cast<ostd::i64>(std::max(self ? p.maxrss_kb : 0, children ? p.cmaxrss_kb : 0));
  r.minflt = static_cast<ostd::i64>((self ? p.min_flt : 0) + (children ? p.cmin_flt : 0));
  return r;
}

namespace {

Result<long> sys_getrusage(Thread& t, const SyscallArgs& a) {
  constexpr int kSelf = 0, kChildren = -1, kThread = 1;
  int who = a.as_int(0);
  if (who != kSelf && who != kChildren && who != kThread) return Errno::einval;
  Process& p = t.process();
  if (who != kChildren) p.note_rss();
  TRY(ostd::UserPtr<abi::Rusage>(a[1]).write(t.vm(),
                                             rusage_of(p, who == kChildren ? RusageOf::Children : RusageOf::Self)));
  return 0;
}

struct Tms {
  ostd::i64 utime, stime, cutime, cstime;
  OSTD_POD(Tms, utime, stime, cutime, cstime);
};

Result<long> sys_times(Thread& t, const SyscallArgs& a) {
  Process& p = t.process();
  auto ticks = [](u64 ns) { return static_cast<ostd::i64>(ns / (ostd::kNsPerSec / 100)); };
  if (a[0] != 0) {
    Tms tms{ticks(p.utime_ns), ticks(p.stime_ns), ticks(p.cutime_ns), ticks(p.cstime_ns)};
    TRY(ostd::UserPtr<Tms>(a[0]).write(t.vm(), tms));
  }
  return ticks(ostd::monotonic_ns());
}

Result<long> sys_prctl(Thread& t, const SyscallArgs& a) {
  constexpr int kSetName = 15, kGetName = 16, kSetPdeathsig = 1, kGetPdeathsig = 2, kGetDumpable = 3, kSetDumpable = 4,
                kSetNoNewPrivs = 38, kGetNoNewPrivs = 39, kGetSeccomp = 21, kSetSeccomp = 22;
  switch (a.as_int(0)) {
    case kSetName: {
      auto name = t.vm().read_cstring(a[1], 4096);
      if (name.is_error()) return name.error();
      std::string n = name.release_value();
      if (n.size() > 15) n.resize(15);
      t.process().comm = n;
      return 0;
    }
    case kGetName: {
      std::array<ostd::u8, 16> buf{};
      for (ostd::usize i = 0; i < t.process().comm.size() && i < 15; ++i) {
        buf.at(i) = static_cast<ostd::u8>(t.process().comm[i]);
      }
      TRY(t.vm().write_bytes(a[1], buf));
      return 0;
    }
    case kSetPdeathsig:
      if (a[1] > kNumSignals) return Errno::einval;
      return 0;
    case kGetPdeathsig: TRY(ostd::UserPtr<ostd::i32>(a[1]).write(t.vm(), 0)); return 0;
    case kGetDumpable: return t.process().dumpable ? 1 : 0;
    case kSetDumpable:
      if (a[1] > 1) return Errno::einval;
      t.process().dumpable = a[1] == 1;
      return 0;
    case kSetNoNewPrivs:
      // Only ever set, by a thread for itself and what it starts (execve cannot gain privileges).
      if (a[1] != 1 || a[2] != 0 || a[3] != 0 || a[4] != 0) return Errno::einval;
      t.no_new_privs = true;
      return 0;
    case kGetNoNewPrivs:
      if (a[1] != 0 || a[2] != 0 || a[3] != 0 || a[4] != 0) return Errno::einval;
      return t.no_new_privs ? 1 : 0;
    case kGetSeccomp: return prctl_seccomp(t, false, 0, 0);
    case kSetSeccomp: return prctl_seccomp(t, true, a[1], a[2]);
    default: return credential_prctl(t, a.as_int(0), a[1], a[2]);
  }
}

Result<long> sys_arch_prctl(Thread& t, const SyscallArgs& a) {
  constexpr u64 kSetGs = 0x1001, kSetFs = 0x1002, kGetFs = 0x1003, kGetGs = 0x1004;
  ostd::GeneralRegs& r = t.context().regs();
  switch (a[0]) {
    case kSetFs:
      if (a[1] >= ostd::VmSpace::user_top()) return Errno::eperm;
      r.fs_base = a[1];
      return 0;
    case kSetGs:
      if (a[1] >= ostd::VmSpace::user_top()) return Errno::eperm;
      r.gs_base = a[1];
      // Rewritten system call sites enter the kernel through %gs: (vm/syscall_patch.cpp).
      if (a[1] != 0) t.process().mm->stop_syscall_patching();
      return 0;
    case kGetFs: TRY(ostd::UserPtr<u64>(a[1]).write(t.vm(), r.fs_base)); return 0;
    case kGetGs: TRY(ostd::UserPtr<u64>(a[1]).write(t.vm(), r.gs_base)); return 0;
    default: return Errno::einval;
  }
}

Result<long> sys_sched_yield(Thread&, const SyscallArgs&) {
  ostd::Task::yield_now();
  return 0;
}

Result<long> sys_sched_getaffinity(Thread& t, const SyscallArgs& a) {
  if (a.as_int(0) < 0 || (a.as_int(0) != 0 && !pid_table().thread(a.as_int(0)))) return Errno::esrch;
  if (a[1] < sizeof(u64) || (a[1] % sizeof(u64)) != 0) return Errno::einval;
  TRY(ostd::UserPtr<u64>(a[2]).write(t.vm(), 1));
  return sizeof(u64);
}
Result<long> sys_sched_setaffinity(Thread& t, const SyscallArgs& a) {
  if (a.as_int(0) < 0 || (a.as_int(0) != 0 && !pid_table().thread(a.as_int(0)))) return Errno::esrch;
  if (a[1] < sizeof(u64)) return Errno::einval;
  u64 mask = TRY(ostd::UserPtr<u64>(a[2]).read(t.vm()));
  if ((mask & 1) == 0) return Errno::einval;
  return 0;
}

Result<long> sys_set_tid_address(Thread& t, const SyscallArgs& a) {
  t.clear_child_tid = a[0];
  return t.tid();
}
Result<long> sys_set_robust_list(Thread& t, const SyscallArgs& a) {
  if (a[1] != 24) return Errno::einval;
  t.robust_list = a[0];
  return 0;
}

// getpriority/setpriority: the nice value of processes (PRIO_PROCESS), groups (PRIO_PGRP) and
// users (PRIO_USER; everyone is root here). Scheduling does not use it yet.
std::vector<std::shared_ptr<Process>> priority_targets(Thread& t, int which, int who) {
  constexpr int kPrioProcess = 0, kPrioPgrp = 1, kPrioUser = 2;
  std::vector<std::shared_ptr<Process>> out;
  for (auto& p : pid_table().all_processes()) {
    if (p->state == Process::State::Zombie || p->state == Process::State::Reaped) continue;
    bool match = (which == kPrioProcess && p->pid() == (who == 0 ? t.process().pid() : who)) ||
                 (which == kPrioPgrp && p->pgid == (who == 0 ? t.process().pgid : who)) ||
                 (which == kPrioUser && static_cast<ostd::u32>(who == 0 ? 0 : who) == p->creds.uid);
    if (match) out.push_back(p);
  }
  return out;
}

Result<long> sys_getpriority(Thread& t, const SyscallArgs& a) {
  int which = a.as_int(0);
  if (which < 0 || which > 2) return Errno::einval;
  auto targets = priority_targets(t, which, a.as_int(1));
  if (targets.empty()) return Errno::esrch;
  int best = 19;
  for (auto& p : targets) best = std::min(best, p->nice);
  return 20 - best;  // the raw system call returns 20 - nice (1..40)
}

Result<long> sys_setpriority(Thread& t, const SyscallArgs& a) {
  int which = a.as_int(0);
  if (which < 0 || which > 2) return Errno::einval;
  auto targets = priority_targets(t, which, a.as_int(1));
  if (targets.empty()) return Errno::esrch;
  int nice = std::clamp(a.as_int(2), -20, 19);
  const Credentials& c = t.process().creds;
  for (auto& p : targets) {
    // set_one_prio: another user's process needs CAP_SYS_NICE (EPERM), and so does a lower nice.
    if (p->creds.uid != c.euid && p->creds.euid != c.euid && !c.capable(cap::kSysNice)) return Errno::eperm;
    if (nice < p->nice && !c.capable(cap::kSysNice)) return Errno::eacces;
  }
  for (auto& p : targets) p->nice = nice;
  return 0;
}

// personality(2): any persona is accepted (Linux's set_personality never fails); 0xffffffff only
// asks. ADDR_NO_RANDOMIZE is the flag this kernel acts on (at the next execve).
Result<long> sys_personality(Thread& t, const SyscallArgs& a) {
  ostd::u32 old = t.process().personality;
  if (a.as_u32(0) != 0xffffffffu) t.process().personality = a.as_u32(0);
  return static_cast<long>(old);
}

// membarrier(2) without restartable sequences: every command but the RSEQ ones. A barrier is
// ostd's on every CPU running user code; the private commands need their registration (EPERM),
// which lives with the address space (threads share it, fork and exec start without).
Result<long> sys_membarrier(Thread& t, const SyscallArgs& a) {
  constexpr ostd::u32 kQuery = 0, kGlobal = 1, kGlobalExpedited = 2, kRegisterGlobalExpedited = 4,
                      kPrivateExpedited = 8, kRegisterPrivateExpedited = 16, kPrivateExpeditedSyncCore = 32,
                      kRegisterPrivateExpeditedSyncCore = 64, kGetRegistrations = 512;
  constexpr ostd::u32 kSupported = kGlobal | kGlobalExpedited | kRegisterGlobalExpedited | kPrivateExpedited |
                                   kRegisterPrivateExpedited | kPrivateExpeditedSyncCore |
                                   kRegisterPrivateExpeditedSyncCore | kGetRegistrations;
  static const bool available = ostd::UserMode::barrier_all_user_cpus().is_ok();
  if (!available) return Errno::enosys;
  ostd::u32 cmd = a.as_u32(0);
  if (a.as_u32(1) != 0) return Errno::einval;
  ostd::u32& registered = t.process().membarrier_registered;
  switch (cmd) {
    case kQuery: return kSupported;
    case kGlobal:
    case kGlobalExpedited: TRY(ostd::UserMode::barrier_all_user_cpus()); return 0;
    case kRegisterGlobalExpedited:
    case kRegisterPrivateExpedited:
    case kRegisterPrivateExpeditedSyncCore: registered |= cmd; return 0;
    case kPrivateExpedited:
    case kPrivateExpeditedSyncCore:
      if ((registered & (cmd << 1)) == 0) return Errno::eperm;
      TRY(ostd::UserMode::barrier_all_user_cpus());
      return 0;
    case kGetRegistrations: return registered;
    default: return Errno::einval;
  }
}

Result<long> sys_getrandom(Thread& t, const SyscallArgs& a) {
  constexpr ostd::u32 kNonblock = 1, kRandom = 2, kInsecure = 4;
  ostd::u32 flags = a.as_u32(2);
  if ((flags & ~(kNonblock | kRandom | kInsecure)) != 0 || (flags & (kRandom | kInsecure)) == (kRandom | kInsecure)) {
    return Errno::einval;
  }
  // As Linux: at most 32 MiB - 1 per call, made and copied a chunk at a time (the kernel never
  // holds a user-sized buffer), and a pending signal ends a long request early.
  constexpr ostd::usize kChunk = 4096;
  ostd::usize len = std::min<u64>(a[1], 33554431);
  std::vector<ostd::u8> buf(std::min(len, kChunk));
  ostd::usize done = 0;
  while (done < len) {
    if (done > 0 && t.signal_pending()) break;
    ostd::usize n = std::min(kChunk, len - done);
    for (ostd::usize i = 0; i < n; i += 8) {
      u64 r = next_random();
      for (ostd::usize k = 0; k < 8 && i + k < n; ++k) buf.at(i + k) = static_cast<ostd::u8>(r >> (8 * k));
    }
    auto w = t.vm().write_bytes_partial(a[0] + done, std::span<const ostd::u8>(buf).first(n));
    if (w.is_error()) {
      if (done == 0) return w.error();
      break;
    }
    done += w.value();
    if (w.value() < n) break;
  }
  return static_cast<long>(done);
}

}  // namespace

u64 next_random() {
  static u64 state = 0;
  while (state == 0) ostd::fill_entropy(ostd::writable_bytes_of(state));
  // xorshift64*
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545f4914f6cdd1dull;
}

void init_rlimits(Process& p) {
  for (auto& r : p.rlimits) r = {kRlimInfinity, kRlimInfinity};
  p.rlimits.at(abi::kRlimitStack) = {u64{8} << 20, kRlimInfinity};
  p.rlimits.at(abi::kRlimitNofile) = {1024, 4096};
  p.rlimits.at(abi::kRlimitCore) = {0, kRlimInfinity};
  p.rlimits.at(abi::kRlimitNproc) = {63704, 63704};
  p.rlimits.at(abi::kRlimitMemlock) = {u64{8} << 20, u64{8} << 20};
  p.rlimits.at(abi::kRlimitSigpending) = {63704, 63704};
  p.rlimits.at(abi::kRlimitMsgqueue) = {819200, 819200};
  p.rlimits.at(abi::kRlimitNice) = {0, 0};
  p.rlimits.at(abi::kRlimitRtprio) = {0, 0};
}

void register_process_syscalls(SyscallTable& t) {
  using S = x86_64::Sysno;
  register_credential_syscalls(t);
  t.set(S::getpid, &sys_getpid);
  t.set(S::gettid, &sys_gettid);
  t.set(S::getppid, &sys_getppid);
  t.set(S::getpgid, &sys_getpgid);
  t.set(S::getpgrp, &sys_getpgrp);
  t.set(S::setpgid, &sys_setpgid);
  t.set(S::getsid, &sys_getsid);
  t.set(S::setsid, &sys_setsid);
  t.set(S::prlimit64, &sys_prlimit64);
  t.set(S::getrlimit, &sys_getrlimit);
  t.set(S::setrlimit, &sys_setrlimit);
  t.set(S::uname, &sys_uname);
  t.set(S::sysinfo, &sys_sysinfo);
  t.set(S::getrusage, &sys_getrusage);
  t.set(S::times, &sys_times);
  t.set(S::prctl, &sys_prctl);
  t.set(S::arch_prctl, &sys_arch_prctl);
  t.set(S::sched_yield, &sys_sched_yield);
  t.set(S::sched_getaffinity, &sys_sched_getaffinity);
  t.set(S::sched_setaffinity, &sys_sched_setaffinity);
  t.set(S::set_tid_address, &sys_set_tid_address);
  t.set(S::set_robust_list, &sys_set_robust_list);
  t.set(S::getrandom, &sys_getrandom);
  t.set(S::personality, &sys_personality);
  t.set(S::membarrier, &sys_membarrier);
  t.set(S::getpriority, &sys_getpriority);
  t.set(S::setpriority, &sys_setpriority);
}

}  // namespace services
