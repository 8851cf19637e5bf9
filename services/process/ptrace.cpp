// ptrace(2): one process tracing another's threads, as strace and gdb do.
//
// A tracee stops at the places Linux reports to a tracer — a signal about to be delivered, a
// system call's entry and exit (PTRACE_SYSCALL, PTRACE_SYSEMU), exec, clone, exit, a single
// step, PTRACE_INTERRUPT — and sleeps until its tracer resumes it. The tracer sees each stop
// through wait (exit_wait.cpp reads Process::tracees), reads and changes the stopped thread's
// registers, FPU state and memory (forced past read-only protections, for breakpoints), and
// resumes it with a signal of its choice.
#include "process/ptrace.h"

#include <algorithm>
#include <vector>

#include <ostd/bytes.h>
#include <ostd/mm/io.h>

#include "process/internal.h"
#include "process/process.h"
#include "syscall/table.h"
#include "vm/memory_map.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::i32;
using ostd::i64;
using ostd::u32;
using ostd::u64;
using ostd::u8;
using ostd::usize;
using ostd::Vaddr;

namespace {

constexpr i64 kTraceme = 0, kPeektext = 1, kPeekdata = 2, kPeekuser = 3, kPoketext = 4, kPokedata = 5, kPokeuser = 6,
              kCont = 7, kKill = 8, kSinglestep = 9, kGetregs = 12, kSetregs = 13, kGetfpregs = 14, kSetfpregs = 15,
              kAttach = 16, kDetach = 17, kSyscall = 24, kArchPrctl = 30, kSysemu = 31, kSysemuSinglestep = 32,
              kSetoptions = 0x4200, kGeteventmsg = 0x4201, kGetsiginfo = 0x4202, kSetsiginfo = 0x4203,
              kGetregset = 0x4204, kSetregset = 0x4205, kSeize = 0x4206, kInterrupt = 0x4207, kListen = 0x4208,
              kGetSyscallInfo = 0x420e;
constexpr u32 kOptTracesysgood = 1, kOptTracefork = 2, kOptTracevfork = 4, kOptTraceclone = 8, kOptTraceexec = 0x10,
              kOptTracevforkdone = 0x20, kOptTraceexit = 0x40, kOptExitkill = 0x100000;
constexpr u32 kOptMask = 0x3000ff;
constexpr int kEventFork = 1, kEventVfork = 2, kEventClone = 3, kEventExec = 4, kEventVforkDone = 5, kEventExit = 6,
              kEventStop = 128;
// PTRACE_GETEVENTMSG at syscall stops.
constexpr u64 kEventMsgSyscallEntry = 1, kEventMsgSyscallExit = 2;
constexpr u64 kCloneVfork = 0x4000, kCloneUntraced = 0x00800000;
constexpr i32 kCldTrapped = 4;
constexpr u64 kTf = 0x100;
constexpr u64 kFlagMask = 0x50dd5;  // CF PF AF ZF SF TF DF OF RF AC: what a tracer may change
// struct user as the kernel has it (928 bytes: error_code and fault_address after the debug
// registers; C libraries' copies stop at 912).
constexpr usize kUserRegsSize = usize{27} * 8, kUserSize = 928, kDebugRegOffset = 848;
constexpr u32 kNtPrstatus = 1, kNtPrfpreg = 2, kNtX86Xstate = 0x202;
constexpr u64 kUserCs = 0x33, kUserSs = 0x2b;
constexpr u32 kAuditArchX8664 = 0xc000003e;

Tracee::Stop stop_of(const Tracee& tr) {
  ostd::SpinLockGuard g(tr.lock);
  return tr.stop;
}

bool kill_pending(const Thread& t) {
  return t.exiting || t.pending.has(kSigKill) || t.process().shared_pending.has(kSigKill);
}

bool cont_pending(const Thread& t) { return t.pending.has(kSigCont) || t.process().shared_pending.has(kSigCont); }

// Stops t until its tracer resumes it (or a kill, or the tracer's end); returns the signal the
// tracer resumed it with.
int ptrace_stop(Thread& t, Tracee& tr, Tracee::Stop kind, int status, const SigInfo& info) {
  std::shared_ptr<Process> tracer = tr.tracer.lock();
  if (!tracer || kill_pending(t)) return 0;
  {
    ostd::SpinLockGuard g(tr.lock);
    tr.stop = kind;
    tr.status = status;
    tr.reported = false;
    tr.resume_sig = 0;
    tr.info = info;
  }
  bool nocldstop = false;
  if (tracer->handlers) {
    ostd::MutexGuard g(tracer->handlers->lock);
    nocldstop = (tracer->handlers->actions.at(kSigChld - 1).flags & kSaNocldstop) != 0;
  }
  if (!nocldstop) {
    SigInfo ci = kernel_siginfo(kSigChld);
    ci.si_code = kCldTrapped;
    ci.si_pid = t.tid();
    ci.si_uid = t.process().creds.uid;
    ci.si_status = (status >> 8) & 0x7f;
    send_signal_to_process(*tracer, kSigChld, ci);
  }
  (void)tracer->child_event.wake_all();
  tracer.reset();
  auto listener_woken = [&] {
    ostd::SpinLockGuard g(tr.lock);
    return tr.listening && cont_pending(t);
  };
  auto resumed = [&] {
    return stop_of(tr) == Tracee::Stop::None || kill_pending(t) || tr.tracer.expired() || listener_woken();
  };
  while (!resumed()) t.wait_stopped(tr.wq, resumed);
  ostd::SpinLockGuard g(tr.lock);
  tr.stop = Tracee::Stop::None;
  if (tr.listening) {
    tr.listening = false;
    return -1;  // SIGCONT woke a listener (ptrace_group_stop reports it)
  }
  return tr.resume_sig;
}

SigInfo trap_info(const Thread& t, int code) {
  SigInfo si = kernel_siginfo(kSigTrap);
  si.si_code = code;
  si.si_pid = t.tid();
  si.si_uid = t.process().creds.uid;
  return si;
}

// A SIGTRAP stop that is no signal's (an event, a system call's entry or exit), its si_code and
// wait status naming it (`code`), with the message PTRACE_GETEVENTMSG gives; a signal the
// tracer resumes it with is sent anew, as Linux.
void trap_stop(Thread& t, Tracee& tr, Tracee::Stop kind, int code, u64 msg) {
  {
    ostd::SpinLockGuard g(tr.lock);
    tr.event_msg = msg;
  }
  int sig = ptrace_stop(t, tr, kind, (code << 8) | 0x7f, trap_info(t, code));
  if (sig != 0) send_signal_to_thread(t, sig, kernel_siginfo(sig));
}

// An event stop (PTRACE_EVENT_*).
void event_stop(Thread& t, Tracee& tr, int event, u64 msg) {
  trap_stop(t, tr, Tracee::Stop::Event, kSigTrap | (event << 8), msg);
}

// A syscall-entry or -exit stop: SIGTRAP, or SIGTRAP | 0x80 with PTRACE_O_TRACESYSGOOD.
void syscall_stop(Thread& t, Tracee& tr, Tracee::Stop kind, u64 msg) {
  trap_stop(t, tr, kind, kSigTrap | ((tr.options & kOptTracesysgood) != 0 ? 0x80 : 0), msg);
}

// Makes `tracer` trace t.
std::shared_ptr<Tracee> attach(Thread& t, const std::shared_ptr<Process>& tracer, bool seized, u32 options) {
  auto tr = std::make_shared<Tracee>();
  tr->tracer = tracer;
  tr->tracer_pid = tracer->pid();
  tr->seized = seized;
  tr->options = options;
  // Attached inside a system call (blocked in pause, read...): orig_rax names it.
  tr->orig_rax = t.in_syscall ? t.syscall_nr : ~u64{0};
  auto ref = std::make_shared<TraceeRef>();
  ref->thread = t.weak_from_this();
  ref->tid = t.tid();
  ref->process = t.process_shared();
  ref->state = tr;
  {
    ostd::SpinLockGuard g(process_tree_lock());
    std::erase_if(tracer->tracees, [](const auto& r) { return r->thread.expired() && r->exit_reported; });
    tracer->tracees.push_back(ref);
    t.ptrace_state = tr;
    t.traced.store(true);
    if (t.tid() == t.process().pid()) t.process().leader_tracer = tracer;
  }
  return tr;
}

// Ends the tracing of t: it runs again (with `sig` delivered, if any).
void detach(Thread& t, const std::shared_ptr<Tracee>& tr, int sig) {
  auto tracer = tr->tracer.lock();
  {
    ostd::SpinLockGuard g(process_tree_lock());
    if (t.ptrace_state == tr) {
      t.ptrace_state.reset();
      t.traced.store(false);
    }
    if (tracer) std::erase_if(tracer->tracees, [&](const auto& r) { return r->state == tr; });
    if (t.tid() == t.process().pid()) t.process().leader_tracer.reset();
  }
  if (tr->forced_tf) t.context().regs().rflags &= ~kTf;
  {
    ostd::SpinLockGuard g(tr->lock);
    tr->tracer.reset();
    tr->stop = Tracee::Stop::None;
  }
  (void)tr->wq.wake_all();
  if (sig != 0) send_signal_to_thread(t, sig, kernel_siginfo(sig));
}

// ---- register views ----

// struct user_regs_struct: 27 registers.
using UserRegs = std::array<u64, 27>;
static_assert(sizeof(UserRegs) == kUserRegsSize);

// struct user_regs_struct, by index (offset / 8).
u64 get_reg(Thread& t, const Tracee& tr, usize i) {
  const ostd::GeneralRegs& r = t.context().regs();
  switch (i) {
    case 0: return r.r15;
    case 1: return r.r14;
    case 2: return r.r13;
    case 3: return r.r12;
    case 4: return r.rbp;
    case 5: return r.rbx;
    case 6: return r.r11;
    case 7: return r.r10;
    case 8: return r.r9;
    case 9: return r.r8;
    case 10: return r.rax;
    case 11: return r.rcx;
    case 12: return r.rdx;
    case 13: return r.rsi;
    case 14: return r.rdi;
    case 15: return tr.orig_rax;
    case 16: return r.rip;
    case 17: return kUserCs;
    case 18: return tr.forced_tf ? r.rflags & ~kTf : r.rflags;  // the tracer's own TF is hidden
    case 19: return r.rsp;
    case 20: return kUserSs;
    case 21: return r.fs_base;
    case 22: return r.gs_base;
    default: return 0;  // ds, es, fs, gs
  }
}

// putreg: EIO for what a tracer may not set (segment selectors the thread cannot have, a base
// beyond user space); flags keep the bits user code may not change.
Result<void> set_reg(Thread& t, Tracee& tr, usize i, u64 v) {
  ostd::GeneralRegs& r = t.context().regs();
  switch (i) {
    case 0: r.r15 = v; break;
    case 1: r.r14 = v; break;
    case 2: r.r13 = v; break;
    case 3: r.r12 = v; break;
    case 4: r.rbp = v; break;
    case 5: r.rbx = v; break;
    case 6: r.r11 = v; break;
    case 7: r.r10 = v; break;
    case 8: r.r9 = v; break;
    case 9: r.r8 = v; break;
    case 10: r.rax = v; break;
    case 11: r.rcx = v; break;
    case 12: r.rdx = v; break;
    case 13: r.rsi = v; break;
    case 14: r.rdi = v; break;
    case 15: tr.orig_rax = v; break;
    case 16: r.rip = v; break;
    case 17:
      if (v != kUserCs) return Errno::eio;
      break;
    case 18: r.rflags = (r.rflags & ~kFlagMask) | (v & kFlagMask); break;
    case 19: r.rsp = v; break;
    case 20:
      if (v != kUserSs) return Errno::eio;
      break;
    case 21:
      if (v >= ostd::VmSpace::user_top()) return Errno::eio;
      r.fs_base = v;
      break;
    case 22:
      if (v >= ostd::VmSpace::user_top()) return Errno::eio;
      r.gs_base = v;
      // Rewritten system call sites enter the kernel through %gs (vm/syscall_patch.cpp).
      if (v != 0) t.process().mm->stop_syscall_patching();
      break;
    default:
      if (v != 0) return Errno::eio;  // ds, es, fs, gs: the null selector only
      break;
  }
  return {};
}

UserRegs get_regs(Thread& t, const Tracee& tr) {
  UserRegs regs{};
  for (usize i = 0; i < regs.size(); ++i) regs[i] = get_reg(t, tr, i);
  return regs;
}

Result<void> set_regs(Thread& t, Tracee& tr, const UserRegs& regs) {
  // All or nothing, as Linux checks each register before the next.
  const ostd::GeneralRegs saved = t.context().regs();
  const u64 saved_orig = tr.orig_rax;
  for (usize i = 0; i < regs.size(); ++i) {
    if (auto r = set_reg(t, tr, i, regs[i]); r.is_error()) {
      t.context().regs() = saved;
      tr.orig_rax = saved_orig;
      return r.error();
    }
  }
  return {};
}

// The FXSAVE image a tracer sees (software-reserved bytes zero) and the whole XSAVE image with
// XCR0 where Linux puts it (sw_reserved, offset 464: gdb reads it there).
Result<std::vector<u8>> fpu_image(Thread& t, bool xstate) {
  ostd::FpuState f = TRY(t.user().fpu_state());
  std::vector<u8> out(f.fxsave.begin(), f.fxsave.end());
  std::fill(out.begin() + 464, out.end(), u8{0});
  if (!xstate) return out;
  if (f.xsave.empty()) return Errno::enodev;
  const auto xcr0 = ostd::bytes_of(f.xfeatures);
  std::copy(xcr0.begin(), xcr0.end(), out.begin() + 464);
  out.insert(out.end(), f.xsave.begin(), f.xsave.end());
  return out;
}

Result<void> set_fpu_image(Thread& t, std::span<const u8> image) {
  ostd::FpuState f = TRY(t.user().fpu_state());
  const std::span<const u8> legacy = image.first(std::min<usize>(464, image.size()));
  std::copy(legacy.begin(), legacy.end(), f.fxsave.begin());
  if (image.size() > 512) {
    const std::span<const u8> rest = image.subspan(512, std::min(f.xsave.size(), image.size() - 512));
    std::copy(rest.begin(), rest.end(), f.xsave.begin());
  }
  return t.user().set_fpu_state(f);
}

// ---- requests ----

struct Target {
  std::shared_ptr<Thread> thread;
  std::shared_ptr<Tracee> state;
};

// ptrace_check_attach: the thread, traced by the caller's process, and (unless `any_state`)
// stopped for it; ESRCH otherwise.
Result<Target> traced_by(Thread& self, i32 tid, bool any_state) {
  auto th = pid_table().thread(tid);
  if (!th) return Errno::esrch;
  auto tr = tracee_state(*th);
  if (!tr) return Errno::esrch;
  {
    ostd::SpinLockGuard g(tr->lock);
    auto tracer = tr->tracer.lock();
    if (tracer.get() != &self.process()) return Errno::esrch;
    if (!any_state && (tr->stop == Tracee::Stop::None || tr->listening)) return Errno::esrch;
  }
  return Target{th, tr};
}

Result<long> resume(Target& tg, Tracee::Resume how, u64 data) {
  if (data > static_cast<u64>(kNumSignals)) return Errno::eio;
  Thread& t = *tg.thread;
  Tracee& tr = *tg.state;
  const bool step = how == Tracee::Resume::Step || how == Tracee::Resume::SysemuStep;
  ostd::GeneralRegs& r = t.context().regs();
  if (step) {
    if ((r.rflags & kTf) == 0) tr.forced_tf = true;
    r.rflags |= kTf;
  } else if (tr.forced_tf) {
    r.rflags &= ~kTf;
    tr.forced_tf = false;
  }
  {
    ostd::SpinLockGuard g(tr.lock);
    tr.resume = how;
    tr.resume_sig = static_cast<int>(data);
    tr.stop = Tracee::Stop::None;
  }
  (void)tr.wq.wake_all();
  return 0;
}

Result<long> peek_user(Target& tg, u64 addr) {
  if ((addr & 7) != 0 || addr >= kUserSize) return Errno::eio;
  if (addr < kUserRegsSize) return static_cast<long>(get_reg(*tg.thread, *tg.state, addr / 8));
  if (addr >= kDebugRegOffset && addr < kDebugRegOffset + 64) {
    return static_cast<long>(tg.state->debugregs.at((addr - kDebugRegOffset) / 8));
  }
  return 0;
}

Result<long> poke_user(Target& tg, u64 addr, u64 data) {
  if ((addr & 7) != 0 || addr >= kUserSize) return Errno::eio;
  if (addr < kUserRegsSize) {
    TRY(set_reg(*tg.thread, *tg.state, addr / 8, data));
    return 0;
  }
  if (addr >= kDebugRegOffset && addr < kDebugRegOffset + 64) {
    const usize i = (addr - kDebugRegOffset) / 8;
    if (i == 4 || i == 5) return Errno::eio;  // dr4, dr5 do not exist
    // There are no hardware breakpoints or watchpoints: enabling one (dr7's L/G bits) fails
    // rather than being accepted and never firing.
    if (i == 7 && (data & 0xff) != 0) return Errno::eio;
    if (i < 4 && data >= ostd::VmSpace::user_top()) return Errno::eio;
    tg.state->debugregs.at(i) = data;
    return 0;
  }
  return Errno::eio;
}

Result<long> regset(Thread& self, Target& tg, bool get, u64 type, Vaddr iov_addr) {
  struct Iovec {
    u64 base, len;
    OSTD_POD(Iovec, base, len);
  };
  Iovec iov = TRY(ostd::UserPtr<Iovec>(iov_addr).read(self.vm()));
  if (iov.len % 8 != 0) return Errno::einval;  // whole registers only
  std::vector<u8> image;
  switch (type) {
    case kNtPrstatus: {
      const UserRegs regs = get_regs(*tg.thread, *tg.state);
      image.assign(ostd::bytes_of(regs).begin(), ostd::bytes_of(regs).end());
      break;
    }
    case kNtPrfpreg: image = TRY(fpu_image(*tg.thread, false)); break;
    case kNtX86Xstate: image = TRY(fpu_image(*tg.thread, true)); break;
    default: return Errno::einval;
  }
  const usize n = std::min<u64>(iov.len, image.size());
  if (get) {
    TRY(self.vm().write_bytes(iov.base, std::span<const u8>(image).first(n)));
  } else {
    std::vector<u8> in(n);
    TRY(self.vm().read_bytes(iov.base, in));
    std::copy(in.begin(), in.end(), image.begin());
    if (type == kNtPrstatus) {
      TRY(set_regs(*tg.thread, *tg.state, *ostd::load_from<UserRegs>(image, 0)));
    } else {
      TRY(set_fpu_image(*tg.thread, image));
    }
  }
  TRY(ostd::UserPtr<u64>(iov_addr + 8).write(self.vm(), n));
  return 0;
}

// struct ptrace_syscall_info for the stop the tracee is in: its size is that of the part the
// op uses (24 bytes for none, 80 for an entry, 33 for an exit, whose is_error byte follows rval).
struct SyscallInfo {
  u8 op;
  std::array<u8, 3> pad;
  u32 arch;
  u64 instruction_pointer, stack_pointer;
  u64 nr_or_rval;
  std::array<u64, 6> args;  // an exit: is_error in the first byte
};
static_assert(sizeof(SyscallInfo) == 80);

Result<long> syscall_info(Thread& self, Target& tg, u64 size, Vaddr out) {
  Thread& t = *tg.thread;
  const ostd::GeneralRegs& r = t.context().regs();
  SyscallInfo info{0, {}, kAuditArchX8664, r.rip, r.rsp, 0, {}};
  usize len = 24;
  const Tracee::Stop stop = stop_of(*tg.state);
  const bool sysgood = (tg.state->options & kOptTracesysgood) != 0;
  if (stop == Tracee::Stop::SyscallEntry && sysgood) {
    info.op = 1;
    info.nr_or_rval = tg.state->orig_rax;
    info.args = t.context().syscall_args();
    len = sizeof(SyscallInfo);
  } else if (stop == Tracee::Stop::SyscallExit && sysgood) {
    info.op = 2;
    info.nr_or_rval = r.rax;
    const auto rv = static_cast<i64>(r.rax);
    info.args[0] = rv < 0 && rv >= -4095 ? 1 : 0;
    len = 33;
  }
  const usize n = std::min<u64>(size, len);
  if (n > 0) TRY(self.vm().write_bytes(out, std::span<const u8>(ostd::bytes_of(info)).first(n)));
  return static_cast<long>(len);
}

Result<long> sys_ptrace(Thread& self, const SyscallArgs& a) {
  const i64 req = static_cast<i64>(a[0]);
  const i32 pid = a.as_int(1);
  const u64 addr = a[2], data = a[3];
  Process& me = self.process();
  if (req == kTraceme) {
    if (self.traced.load()) return Errno::eperm;
    auto parent = parent_of(me);
    if (!parent) return Errno::eperm;
    attach(self, parent, false, 0);
    return 0;
  }
  if (req == kAttach || req == kSeize) {
    u32 options = 0;
    if (req == kSeize) {
      if (addr != 0 || (data & ~u64{kOptMask}) != 0) return Errno::eio;
      options = static_cast<u32>(data);
    }
    auto th = pid_table().thread(pid);
    if (!th) return Errno::esrch;
    Process& target = th->process();
    if (&target == &me || th->traced.load() || target.state == Process::State::Zombie || th->exiting) {
      return Errno::eperm;
    }
    if (!ptrace_may_access(me, target)) return Errno::eperm;
    attach(*th, me.shared_from_this(), req == kSeize, options);
    if (req == kAttach) {
      SigInfo si = kernel_siginfo(kSigStop);
      send_signal_to_thread(*th, kSigStop, si);
    }
    return 0;
  }
  const bool any_state = req == kKill || req == kInterrupt || req == kListen;
  Target tg = TRY(traced_by(self, pid, any_state));
  Thread& t = *tg.thread;
  Tracee& tr = *tg.state;
  switch (req) {
    case kPeektext:
    case kPeekdata: {
      u64 v = 0;
      if (t.process().mm->read_forced(addr, ostd::writable_bytes_of(v)).is_error()) return Errno::eio;
      TRY(ostd::UserPtr<u64>(data).write(self.vm(), v));
      return 0;
    }
    case kPeekuser: {
      u64 v = static_cast<u64>(TRY(peek_user(tg, addr)));
      TRY(ostd::UserPtr<u64>(data).write(self.vm(), v));
      return 0;
    }
    case kPoketext:
    case kPokedata: {
      if (t.process().mm->write_forced(addr, ostd::bytes_of(data)).is_error()) return Errno::eio;
      return 0;
    }
    case kPokeuser: return poke_user(tg, addr, data);
    case kCont: return resume(tg, Tracee::Resume::Cont, data);
    case kSyscall: return resume(tg, Tracee::Resume::Syscall, data);
    case kSysemu: return resume(tg, Tracee::Resume::Sysemu, data);
    case kSinglestep: return resume(tg, Tracee::Resume::Step, data);
    case kSysemuSinglestep: return resume(tg, Tracee::Resume::SysemuStep, data);
    case kKill: send_signal_to_thread(t, kSigKill, kernel_siginfo(kSigKill)); return 0;
    case kDetach:
      if (data > static_cast<u64>(kNumSignals)) return Errno::eio;
      detach(t, tg.state, static_cast<int>(data));
      return 0;
    case kGetregs: TRY(ostd::UserPtr<UserRegs>(data).write(self.vm(), get_regs(t, tr))); return 0;
    case kSetregs: TRY(set_regs(t, tr, TRY(ostd::UserPtr<UserRegs>(data).read(self.vm())))); return 0;
    case kGetfpregs: {
      auto image = TRY(fpu_image(t, false));
      TRY(self.vm().write_bytes(data, image));
      return 0;
    }
    case kSetfpregs: {
      std::vector<u8> b(512);
      TRY(self.vm().read_bytes(data, b));
      TRY(set_fpu_image(t, b));
      return 0;
    }
    case kGetregset: return regset(self, tg, true, addr, data);
    case kSetregset: return regset(self, tg, false, addr, data);
    case kSetoptions:
      if ((data & ~u64{kOptMask}) != 0) return Errno::einval;
      tr.options = static_cast<u32>(data);
      return 0;
    case kGeteventmsg: {
      u64 msg = 0;
      {
        ostd::SpinLockGuard g(tr.lock);
        msg = tr.event_msg;
      }
      TRY(ostd::UserPtr<u64>(data).write(self.vm(), msg));
      return 0;
    }
    case kGetsiginfo: {
      SigInfo si{};
      {
        ostd::SpinLockGuard g(tr.lock);
        // A group stop of a tracee not seized has no siginfo (Linux's last_siginfo is NULL).
        if (tr.stop == Tracee::Stop::Group && !tr.seized) return Errno::einval;
        si = tr.info;
      }
      TRY(ostd::UserPtr<SigInfo>(data).write(self.vm(), si));
      return 0;
    }
    case kSetsiginfo: {
      SigInfo si = TRY(ostd::UserPtr<SigInfo>(data).read(self.vm()));
      ostd::SpinLockGuard g(tr.lock);
      tr.info = si;
      return 0;
    }
    case kInterrupt:
      if (!tr.seized) return Errno::eio;
      t.trap_requested.store(true);
      t.interrupt();
      return 0;
    case kListen:
      // Only from a seized tracee's group stop; it then stays stopped until SIGCONT, without a
      // new report.
      if (!tr.seized || stop_of(tr) != Tracee::Stop::Group) return Errno::eio;
      {
        ostd::SpinLockGuard g(tr.lock);
        tr.listening = true;
      }
      (void)tr.wq.wake_all();
      return 0;
    case kArchPrctl: {
      constexpr u64 kSetGs = 0x1001, kSetFs = 0x1002, kGetFs = 0x1003, kGetGs = 0x1004;
      ostd::GeneralRegs& r = t.context().regs();
      switch (data) {
        case kSetFs: TRY(set_reg(t, tr, 21, addr)); return 0;
        case kSetGs: TRY(set_reg(t, tr, 22, addr)); return 0;
        case kGetFs: TRY(ostd::UserPtr<u64>(addr).write(self.vm(), r.fs_base)); return 0;
        case kGetGs: TRY(ostd::UserPtr<u64>(addr).write(self.vm(), r.gs_base)); return 0;
        default: return Errno::einval;
      }
    }
    case kGetSyscallInfo: return syscall_info(self, tg, addr, data);
    default: return Errno::eio;
  }
}

}  // namespace

std::shared_ptr<Tracee> tracee_state(const Thread& t) {
  if (!t.traced.load(std::memory_order_relaxed)) return nullptr;
  ostd::SpinLockGuard g(process_tree_lock());
  return t.ptrace_state;
}

int ptrace_signal(Thread& t, int sig, SigInfo& info) {
  auto tr = tracee_state(t);
  if (!tr || sig == kSigKill) return sig;
  int given = ptrace_stop(t, *tr, Tracee::Stop::Signal, (sig << 8) | 0x7f, info);
  if (kill_pending(t)) return 0;
  if (given == 0) return 0;
  SigInfo now{};
  {
    ostd::SpinLockGuard g(tr->lock);
    now = tr->info;
  }
  if (given != now.si_signo) {
    // Another signal than the one stopped for: as if the tracer had sent it.
    now = user_siginfo(given, tr->tracer_pid, 0);
  }
  info = now;
  if (t.sigmask.has(given)) {
    send_signal_to_thread(t, given, info);
    return 0;
  }
  return given;
}

void ptrace_group_stop(Thread& t, int sig) {
  auto tr = tracee_state(t);
  if (!tr) return;
  const int code = tr->seized ? sig | (kEventStop << 8) : sig;
  SigInfo si = kernel_siginfo(sig);
  si.si_code = code;
  if (ptrace_stop(t, *tr, Tracee::Stop::Group, (code << 8) | 0x7f, si) == -1) {
    // A listener woken by SIGCONT: the group stop ends in a PTRACE_EVENT_STOP trap.
    event_stop(t, *tr, kEventStop, 0);
  }
}

bool ptrace_syscall_entry(Thread& t) {
  auto tr = tracee_state(t);
  if (!tr) return true;
  tr->orig_rax = t.syscall_nr;
  t.context().set_syscall_ret(static_cast<u64>(-ostd::errno_value(Errno::enosys)));
  Tracee::Resume mode = tr->resume;
  if (mode != Tracee::Resume::Syscall && mode != Tracee::Resume::Sysemu && mode != Tracee::Resume::SysemuStep) {
    return true;
  }
  syscall_stop(t, *tr, Tracee::Stop::SyscallEntry, kEventMsgSyscallEntry);
  if (kill_pending(t) || mode != Tracee::Resume::Syscall) return false;
  if (tr->orig_rax == ~u64{0}) return false;  // the tracer skipped the call
  t.syscall_nr = tr->orig_rax;
  return true;
}

void ptrace_syscall_exit(Thread& t) {
  auto tr = tracee_state(t);
  if (!tr || kill_pending(t)) return;
  if (tr->resume == Tracee::Resume::Step && tr->forced_tf) {
    // A single step over `syscall` stops right after it (Linux's user_single_step_report).
    SigInfo si = kernel_siginfo(kSigTrap);
    si.si_code = 1;  // TRAP_BRKPT
    send_signal_to_thread(t, kSigTrap, si, true);
    return;
  }
  if (tr->resume != Tracee::Resume::Syscall) return;
  syscall_stop(t, *tr, Tracee::Stop::SyscallExit, kEventMsgSyscallExit);
}

void ptrace_exec(Thread& t, i32 old_tid) {
  auto tr = tracee_state(t);
  if (!tr) return;
  if ((tr->options & kOptTraceexec) != 0) {
    event_stop(t, *tr, kEventExec, static_cast<u64>(old_tid));
  } else if (!tr->seized) {
    send_signal_to_thread(t, kSigTrap, user_siginfo(kSigTrap, t.process().pid(), t.process().creds.uid));
  }
}

void ptrace_exit(Thread& t, int status) {
  auto tr = tracee_state(t);
  if (!tr) return;
  tr->exit_status = status;
  if ((tr->options & kOptTraceexit) == 0) return;
  event_stop(t, *tr, kEventExit, static_cast<u64>(status));
}

void ptrace_thread_gone(Thread& t) {
  auto tr = tracee_state(t);
  if (!tr) return;
  std::shared_ptr<Process> tracer;
  {
    ostd::SpinLockGuard g(tr->lock);
    tr->exited = true;
    if (t.process().group_exiting) tr->exit_status = t.process().exit_code;
    tracer = tr->tracer.lock();
  }
  if (tracer && t.tid() != t.process().pid()) (void)tracer->child_event.wake_all();
}

void ptrace_trap(Thread& t) {
  if (!t.trap_requested.exchange(false)) return;
  auto tr = tracee_state(t);
  if (!tr) return;
  event_stop(t, *tr, kEventStop, 0);
}

int ptrace_clone_attach(Thread& parent, Thread& child, u64 flags, int exit_signal) {
  auto tr = tracee_state(parent);
  if (!tr || (flags & kCloneUntraced) != 0) return 0;
  const int event = (flags & kCloneVfork) != 0 ? kEventVfork : exit_signal != kSigChld ? kEventClone : kEventFork;
  const u32 want = event == kEventFork ? kOptTracefork : event == kEventVfork ? kOptTracevfork : kOptTraceclone;
  if ((tr->options & want) == 0) return 0;
  auto tracer = tr->tracer.lock();
  if (!tracer) return 0;
  attach(child, tracer, tr->seized, tr->options);
  if (tr->seized) {
    child.trap_requested.store(true);
  } else {
    send_signal_to_thread(child, kSigStop, user_siginfo(kSigStop, 0, 0));
  }
  return event;
}

void ptrace_clone_event(Thread& parent, int event, i32 child_tid) {
  auto tr = tracee_state(parent);
  if (!tr || event == 0) return;
  event_stop(parent, *tr, event, static_cast<u64>(child_tid));
}

void ptrace_exception(Thread& t, bool step) {
  auto tr = tracee_state(t);
  if (!tr) return;
  tr->orig_rax = ~u64{0};
  constexpr u64 kDr6Bs = 0x4000;
  if (step) tr->debugregs[6] |= kDr6Bs;
}

void ptrace_vfork_done(Thread& parent, i32 child_tid) {
  auto tr = tracee_state(parent);
  if (!tr || (tr->options & kOptTracevforkdone) == 0) return;
  event_stop(parent, *tr, kEventVforkDone, static_cast<u64>(child_tid));
}

bool traced_keeps_signals(const Process& p) {
  ostd::SpinLockGuard g(process_tree_lock());
  return !p.leader_tracer.expired();
}

void ptrace_release_tracees(Process& tracer) {
  std::vector<std::shared_ptr<TraceeRef>> refs;
  {
    ostd::SpinLockGuard g(process_tree_lock());
    refs.swap(tracer.tracees);
  }
  for (auto& ref : refs) {
    auto th = ref->thread.lock();
    if (!th) continue;
    if ((ref->state->options & kOptExitkill) != 0)
      send_signal_to_process(th->process(), kSigKill, kernel_siginfo(kSigKill));
    detach(*th, ref->state, 0);
  }
}

i32 tracer_pid_of(const Process& p) {
  auto t = pid_table().thread(p.pid());
  if (!t) return 0;
  auto tr = tracee_state(*t);
  if (!tr) return 0;
  ostd::SpinLockGuard g(tr->lock);
  return tr->tracer.expired() ? 0 : tr->tracer_pid;
}

bool in_trace_stop(const Process& p) {
  auto t = pid_table().thread(p.pid());
  if (!t) return false;
  auto tr = tracee_state(*t);
  return tr && stop_of(*tr) != Tracee::Stop::None;
}

void register_ptrace_syscalls(SyscallTable& t) { t.set(x86_64::Sysno::ptrace, &sys_ptrace); }

}  // namespace services
