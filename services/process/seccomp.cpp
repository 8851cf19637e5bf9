// seccomp(2) and prctl's PR_SET/GET_SECCOMP: a program's own system-call filters.
//
// Strict mode leaves read, write, exit and rt_sigreturn; filter mode runs classic BPF programs
// over struct seccomp_data before every call. A thread's filters are an immutable chain (newest
// first) shared with the threads and processes it creates and kept across execve. The programs
// are checked as Linux's bpf_check_classic and seccomp_check_filter check them, and run by a
// small interpreter here; the action of lowest precedence value over all filters wins, the
// newest filter's among equals.
#include <array>
#include <memory>
#include <vector>

#include <ostd/bytes.h>
#include <ostd/log.h>
#include <ostd/mm/io.h>

#include "process/internal.h"
#include "process/process.h"
#include "signal/signal.h"
#include "syscall/table.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::i32;
using ostd::u16;
using ostd::u32;
using ostd::u64;
using ostd::u8;
using ostd::usize;

struct SockFilter {
  u16 code;
  u8 jt;
  u8 jf;
  u32 k;
  OSTD_POD(SockFilter, code, jt, jf, k);
};
static_assert(sizeof(SockFilter) == 8);

struct SeccompFilter {
  std::vector<SockFilter> prog;
  std::shared_ptr<const SeccompFilter> prev;
  bool log = false;
  usize path_insns = 0;  // instructions of this and every older filter, +4 each (Linux's bound)
};

namespace {

constexpr ostd::Logger kLog{"seccomp"};

constexpr u32 kSetModeStrict = 0, kSetModeFilter = 1, kGetActionAvail = 2, kGetNotifSizes = 3;
constexpr u32 kFlagTsync = 1, kFlagLog = 2, kFlagSpecAllow = 4, kFlagNewListener = 8, kFlagTsyncEsrch = 16,
              kFlagWaitKillableRecv = 32;
constexpr u32 kRetKillProcess = 0x80000000, kRetKillThread = 0, kRetTrap = 0x00030000, kRetErrno = 0x00050000,
              kRetUserNotif = 0x7fc00000, kRetTrace = 0x7ff00000, kRetLog = 0x7ffc0000, kRetAllow = 0x7fff0000;
constexpr u32 kRetActionFull = 0xffff0000, kRetData = 0x0000ffff;
constexpr u32 kAuditArchX8664 = 0xc000003e;
constexpr usize kMaxInsns = 4096, kMaxInsnsPerPath = 32768, kMemWords = 16, kDataSize = 64;
constexpr u8 kModeStrict = 1, kModeFilter = 2;
constexpr i32 kSysSeccomp = 1;  // si_code of SIGSYS

// Classic BPF opcodes.
constexpr u16 kLd = 0x00, kLdx = 0x01, kSt = 0x02, kStx = 0x03, kAlu = 0x04, kJmp = 0x05, kRet = 0x06, kMisc = 0x07;
constexpr u16 kW = 0x00, kImm = 0x00, kAbs = 0x20, kMem = 0x60, kLen = 0x80;
constexpr u16 kK = 0x00, kX = 0x08, kA = 0x10;
constexpr u16 kAdd = 0x00, kSub = 0x10, kMul = 0x20, kDiv = 0x30, kOr = 0x40, kAnd = 0x50, kLsh = 0x60, kRsh = 0x70,
              kNeg = 0x80, kMod = 0x90, kXor = 0xa0;
constexpr u16 kJa = 0x00, kJeq = 0x10, kJgt = 0x20, kJge = 0x30, kJset = 0x40;
constexpr u16 kTax = 0x00, kTxa = 0x80;

bool is_cond_jump(u16 c) {
  switch (c) {
    // clang-format off
    case kJmp | kJeq | kK: case kJmp | kJeq | kX: case kJmp | kJgt | kK: case kJmp | kJgt | kX:
    case kJmp | kJge | kK: case kJmp | kJge | kX: case kJmp | kJset | kK: case kJmp | kJset | kX:
      return true;
    // clang-format on
    default: return false;
  }
}

bool seccomp_allows(u16 c) {
  if (is_cond_jump(c)) return true;
  switch (c) {
    // clang-format off
    case kRet | kK: case kRet | kA:
    case kAlu | kAdd | kK: case kAlu | kAdd | kX: case kAlu | kSub | kK: case kAlu | kSub | kX:
    case kAlu | kMul | kK: case kAlu | kMul | kX: case kAlu | kDiv | kK: case kAlu | kDiv | kX:
    case kAlu | kAnd | kK: case kAlu | kAnd | kX: case kAlu | kOr | kK: case kAlu | kOr | kX:
    case kAlu | kXor | kK: case kAlu | kXor | kX: case kAlu | kLsh | kK: case kAlu | kLsh | kX:
    case kAlu | kRsh | kK: case kAlu | kRsh | kX: case kAlu | kNeg:
    case kLd | kImm: case kLdx | kImm: case kMisc | kTax: case kMisc | kTxa:
    case kLd | kMem: case kLdx | kMem: case kSt: case kStx: case kJmp | kJa:
      return true;
    // clang-format on
    default: return false;
  }
}

// bpf_check_classic and seccomp_check_filter: EINVAL for anything Linux refuses; rewrites the
// length loads into immediates as Linux does.
Result<void> check_program(std::vector<SockFilter>& prog) {
  const usize len = prog.size();
  for (usize pc = 0; pc < len; ++pc) {
    SockFilter& f = prog[pc];
    switch (f.code) {
      case kLd | kW | kAbs:
        if (f.k >= kDataSize || (f.k & 3) != 0) return Errno::einval;
        continue;
      case kLd | kW | kLen:
        f.code = kLd | kImm;
        f.k = kDataSize;
        continue;
      case kLdx | kW | kLen:
        f.code = kLdx | kImm;
        f.k = kDataSize;
        continue;
      default: break;
    }
    if (!seccomp_allows(f.code)) return Errno::einval;
    switch (f.code) {
      // clang-format off
      case kAlu | kDiv | kK: case kAlu | kMod | kK:
        if (f.k == 0) return Errno::einval;
        // clang-format on
        break;
      // clang-format off
      case kAlu | kLsh | kK: case kAlu | kRsh | kK:
        if (f.k >= 32) return Errno::einval;
        // clang-format on
        break;
      // clang-format off
      case kLd | kMem: case kLdx | kMem: case kSt: case kStx:
        if (f.k >= kMemWords) return Errno::einval;
        // clang-format on
        break;
      case kJmp | kJa:
        if (f.k >= len - pc - 1) return Errno::einval;
        break;
      default:
        if (is_cond_jump(f.code) && (pc + f.jt + 1 >= len || pc + f.jf + 1 >= len)) return Errno::einval;
        break;
    }
  }
  const u16 last = prog.back().code;
  if (last != (kRet | kK) && last != (kRet | kA)) return Errno::einval;
  // check_load_and_stores: scratch memory is read only where every path stored it first.
  std::vector<u16> masks(len, 0xffff);
  u16 valid = 0;
  for (usize pc = 0; pc < len; ++pc) {
    const SockFilter& f = prog[pc];
    valid &= masks[pc];
    switch (f.code) {
      // clang-format off
      case kSt: case kStx: valid |= static_cast<u16>(1u << f.k); break;
      case kLd | kMem: case kLdx | kMem:
        if ((valid & (1u << f.k)) == 0) return Errno::einval;
        // clang-format on
        break;
      case kJmp | kJa:
        masks[pc + 1 + f.k] &= valid;
        valid = 0xffff;
        break;
      default:
        if (is_cond_jump(f.code)) {
          masks[pc + 1 + f.jt] &= valid;
          masks[pc + 1 + f.jf] &= valid;
          valid = 0xffff;
        }
        break;
    }
  }
  return {};
}

// struct seccomp_data: nr, arch, instruction_pointer, args[6].
std::array<u32, kDataSize / 4> seccomp_data(Thread& t, u64 nr, const SyscallArgs& args) {
  std::array<u32, kDataSize / 4> d{};
  d[0] = static_cast<u32>(nr);
  d[1] = kAuditArchX8664;
  const u64 ip = t.context().instruction_pointer();
  d[2] = static_cast<u32>(ip);
  d[3] = static_cast<u32>(ip >> 32);
  for (usize i = 0; i < 6; ++i) {
    d[4 + 2 * i] = static_cast<u32>(args[i]);
    d[5 + 2 * i] = static_cast<u32>(args[i] >> 32);
  }
  return d;
}

u32 run_filter(const std::vector<SockFilter>& prog, const std::array<u32, kDataSize / 4>& data) {
  u32 a = 0, x = 0;
  std::array<u32, kMemWords> mem{};
  for (usize pc = 0; pc < prog.size(); ++pc) {
    const SockFilter& f = prog[pc];
    const u32 src = (f.code & kX) != 0 ? x : f.k;
    switch (f.code & 0x07) {
      case kLd:
        if ((f.code & 0xe0) == kAbs) a = data.at(f.k / 4);
        else if ((f.code & 0xe0) == kMem) a = mem.at(f.k);
        else a = f.k;
        break;
      case kLdx: x = (f.code & 0xe0) == kMem ? mem.at(f.k) : f.k; break;
      case kSt: mem.at(f.k) = a; break;
      case kStx: mem.at(f.k) = x; break;
      case kAlu:
        switch (f.code & 0xf0) {
          case kAdd: a += src; break;
          case kSub: a -= src; break;
          case kMul: a *= src; break;
          case kDiv:
            if (src == 0) return 0;  // as Linux's converted program: the filter returns 0
            a /= src;
            break;
          case kOr: a |= src; break;
          case kAnd: a &= src; break;
          case kLsh: a = src >= 32 ? 0 : a << src; break;
          case kRsh: a = src >= 32 ? 0 : a >> src; break;
          case kNeg: a = 0u - a; break;
          case kXor: a ^= src; break;
          default: return 0;
        }
        break;
      case kJmp: {
        const u16 op = f.code & 0xf0;
        if (op == kJa) {
          pc += f.k;
          break;
        }
        bool taken = false;
        switch (op) {
          case kJeq: taken = a == src; break;
          case kJgt: taken = a > src; break;
          case kJge: taken = a >= src; break;
          case kJset: taken = (a & src) != 0; break;
          default: return 0;
        }
        pc += taken ? f.jt : f.jf;
        break;
      }
      case kRet: return (f.code & 0x18) == kA ? a : f.k;
      case kMisc:
        if ((f.code & 0xf8) == kTxa) a = x;
        else x = a;
        break;
      default: return 0;
    }
  }
  return 0;  // unreachable for a checked program (its last instruction returns)
}

// The action's precedence: the lowest (as a signed number) wins, KILL_PROCESS first.
i32 precedence(u32 ret) { return static_cast<i32>(ret & kRetActionFull); }

bool known_action(u32 action) {
  switch (action) {
    // clang-format off
    case kRetKillProcess: case kRetKillThread: case kRetTrap: case kRetErrno:
    case kRetUserNotif: case kRetTrace: case kRetLog: case kRetAllow:
      return true;
    // clang-format on
    default: return false;
  }
}

// Kills the calling process by `sig` whatever its handlers say (the call never returns to it).
void kill_by(Thread& t, int sig) {
  {
    ostd::MutexGuard g(t.process().handlers->lock);
    t.process().handlers->actions.at(static_cast<usize>(sig - 1)).handler = kSigDfl;
    t.sigmask.remove(sig);
  }
  send_signal_to_thread(t, sig, kernel_siginfo(sig), true);
}

Result<long> set_mode_strict(Thread& t) {
  if (t.seccomp_mode == kModeFilter) return Errno::einval;
  t.seccomp_mode = kModeStrict;
  return 0;
}

Result<long> set_mode_filter(Thread& t, u32 flags, ostd::Vaddr uprog) {
  constexpr u32 kKnown =
      kFlagTsync | kFlagLog | kFlagSpecAllow | kFlagNewListener | kFlagTsyncEsrch | kFlagWaitKillableRecv;
  if ((flags & ~kKnown) != 0) return Errno::einval;
  // User notification (a listener descriptor) is not supported: the flags that ask for it are
  // refused as unknown ones.
  if ((flags & (kFlagNewListener | kFlagWaitKillableRecv)) != 0) return Errno::einval;
  struct SockFprog {
    u16 len;
    std::array<u8, 6> pad;
    u64 filter;
    OSTD_POD(SockFprog, len, pad, filter);
  };
  auto fprog = TRY(ostd::UserPtr<SockFprog>(uprog).read(t.vm()));
  if (fprog.len == 0 || fprog.len > kMaxInsns) return Errno::einval;
  if (!t.no_new_privs && !t.process().creds.capable(cap::kSysAdmin)) return Errno::eacces;
  if (fprog.filter == 0) return Errno::einval;
  std::vector<u8> raw(usize{fprog.len} * sizeof(SockFilter));
  TRY(t.vm().read_bytes(fprog.filter, raw));
  std::vector<SockFilter> prog(fprog.len);
  for (usize i = 0; i < prog.size(); ++i) prog[i] = *ostd::load_from<SockFilter>(raw, i * sizeof(SockFilter));
  TRY(check_program(prog));
  if (t.seccomp_mode == kModeStrict) return Errno::einval;
  auto f = std::make_shared<SeccompFilter>();
  f->path_insns = prog.size() + 4 + (t.seccomp_filter ? t.seccomp_filter->path_insns : 0);
  if (f->path_insns > kMaxInsnsPerPath) return Errno::enomem;
  f->prog = std::move(prog);
  f->prev = t.seccomp_filter;
  f->log = (flags & kFlagLog) != 0;
  if ((flags & kFlagTsync) != 0) {
    // Every other thread must run the caller's filters or older ones of the same chain.
    auto threads = threads_of(t.process());
    for (const auto& o : threads) {
      if (o.get() == &t) continue;
      bool ancestor = o->seccomp_mode != kModeStrict;
      if (ancestor && o->seccomp_filter) {
        ancestor = false;
        for (auto c = t.seccomp_filter; c; c = c->prev) {
          if (c == o->seccomp_filter) {
            ancestor = true;
            break;
          }
        }
      }
      if (!ancestor) return (flags & kFlagTsyncEsrch) != 0 ? Result<long>(Errno::esrch) : Result<long>(o->tid());
    }
    for (const auto& o : threads) {
      o->seccomp_filter = f;
      o->seccomp_mode = kModeFilter;
      if (t.no_new_privs) o->no_new_privs = true;
    }
    return 0;
  }
  t.seccomp_filter = std::move(f);
  t.seccomp_mode = kModeFilter;
  return 0;
}

Result<long> sys_seccomp(Thread& t, const SyscallArgs& a) {
  const u32 op = a.as_u32(0), flags = a.as_u32(1);
  switch (op) {
    case kSetModeStrict:
      if (flags != 0 || a[2] != 0) return Errno::einval;
      return set_mode_strict(t);
    case kSetModeFilter: return set_mode_filter(t, flags, a[2]);
    case kGetActionAvail: {
      if (flags != 0) return Errno::einval;
      u32 action = TRY(ostd::UserPtr<u32>(a[2]).read(t.vm()));
      return known_action(action) ? 0 : Result<long>(Errno::eopnotsupp);
    }
    case kGetNotifSizes: {
      if (flags != 0) return Errno::einval;
      struct NotifSizes {
        u16 notif, resp, data;
      };
      TRY(ostd::UserPtr<NotifSizes>(a[2]).write(t.vm(), NotifSizes{80, 24, kDataSize}));
      return 0;
    }
    default: return Errno::einval;
  }
}

}  // namespace

Result<long> prctl_seccomp(Thread& t, bool set, u64 mode, u64 arg) {
  if (!set) return t.seccomp_mode;
  if (mode == kModeStrict) return set_mode_strict(t);
  if (mode == kModeFilter) return set_mode_filter(t, 0, arg);
  return Errno::einval;
}

std::optional<long> seccomp_verdict(Thread& t, u64 nr, const SyscallArgs& args) {
  if (t.seccomp_mode == kModeStrict) {
    using S = x86_64::Sysno;
    for (S ok : {S::read, S::write, S::exit, S::rt_sigreturn}) {
      if (nr == static_cast<u64>(ok)) return std::nullopt;
    }
    kill_by(t, kSigKill);
    return -static_cast<long>(ostd::errno_value(Errno::enosys));
  }
  const auto data = seccomp_data(t, nr, args);
  u32 ret = kRetAllow;
  const SeccompFilter* logged_by = nullptr;
  for (const SeccompFilter* f = t.seccomp_filter.get(); f != nullptr; f = f->prev.get()) {
    u32 r = run_filter(f->prog, data);
    if (precedence(r) < precedence(ret)) {
      ret = r;
      logged_by = f;
    }
  }
  const u32 action = ret & kRetActionFull, value = ret & kRetData;
  switch (action) {
    case kRetAllow: return std::nullopt;
    case kRetLog: kLog.info("pid {}: system call {} logged", t.process().pid(), nr); return std::nullopt;
    case kRetErrno: return -static_cast<long>(std::min<u32>(value, 4095));
    case kRetTrace:
    case kRetUserNotif:
      // No tracer and no listener: the call fails with ENOSYS, as Linux's.
      return -static_cast<long>(ostd::errno_value(Errno::enosys));
    case kRetTrap: {
      SigInfo info = kernel_siginfo(kSigSys);
      info.si_code = kSysSeccomp;
      info.si_errno = static_cast<i32>(value);
      const u64 ip = t.context().instruction_pointer();
      info.si_pid = static_cast<i32>(ip & 0xffffffffu);
      info.si_uid = static_cast<u32>(ip >> 32);
      info.si_status = static_cast<i32>(nr);
      info.pad1 = static_cast<i32>(kAuditArchX8664);
      force_signal(t, kSigSys, info);  // a blocked or ignored SIGSYS kills
      // syscall_rollback: rax goes back to the call's number.
      return static_cast<long>(nr);
    }
    case kRetKillThread: {
      // Only this thread goes, unless it is the last one.
      bool last = false;
      {
        ostd::SpinLockGuard g(process_tree_lock());
        last = t.process().threads.size() <= 1;
      }
      if (!last) {
        t.exiting = true;
        return 0;
      }
      kill_by(t, kSigSys);
      return -static_cast<long>(ostd::errno_value(Errno::enosys));
    }
    default:
      // KILL_PROCESS and unknown actions: the process dies of SIGSYS.
      if (logged_by != nullptr) kLog.info("pid {}: killed by its filter at system call {}", t.process().pid(), nr);
      kill_by(t, kSigSys);
      return -static_cast<long>(ostd::errno_value(Errno::enosys));
  }
}

void register_seccomp_syscalls(SyscallTable& t) { t.set(x86_64::Sysno::seccomp, &sys_seccomp); }

}  // namespace services
