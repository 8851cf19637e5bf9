// Signal sending, delivery (default actions and the x86-64 rt_sigframe), sigreturn and the
// signal system calls.
#include <array>
#include <bit>
#include <cstddef>
#include <vector>

#include <algorithm>

#include <ostd/bytes.h>
#include <ostd/log.h>
#include <ostd/mm/io.h>

#include "process/internal.h"
#include "process/process.h"
#include "process/ptrace.h"
#include "abi/x86_64/stat.h"
#include "signal/signal.h"
#include "syscall/table.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u16;
using ostd::u32;
using ostd::u8;
using ostd::usize;
using ostd::u64;
using ostd::Vaddr;

namespace {

constexpr ostd::Logger kLog{"signal"};

enum class Default : ostd::u8 { Terminate, Core, Stop, Continue, Ignore };

Default default_action(int sig) {
  switch (sig) {
    // clang-format off
    case kSigQuit: case kSigIll: case kSigTrap: case kSigAbrt: case kSigBus: case kSigFpe:
    case kSigSegv: case kSigXcpu: case kSigXfsz: case kSigSys:
      return Default::Core;
    // clang-format on
    // clang-format off
    case kSigStop: case kSigTstp: case kSigTtin: case kSigTtou: return Default::Stop;
    case kSigCont: return Default::Continue;
    case kSigChld: case kSigUrg: case kSigWinch: return Default::Ignore;
    // clang-format on
    default: return Default::Terminate;
  }
}

bool valid_signal(int sig) { return sig >= 1 && sig <= kNumSignals; }

// ---- the x86-64 signal frame ----

struct SigContext {
  u64 r8, r9, r10, r11, r12, r13, r14, r15;
  u64 rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
  u16 cs, gs, fs, ss;
  u64 err, trapno, oldmask, cr2, fpstate;
  std::array<u64, 8> reserved;
  OSTD_POD(SigContext, r8, r9, r10, r11, r12, r13, r14, r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags, cs,
           gs, fs, ss, err, trapno, oldmask, cr2, fpstate, reserved);
};
static_assert(sizeof(SigContext) == 256);

struct UContext {
  u64 uc_flags;
  u64 uc_link;
  AltStack uc_stack;
  SigContext mcontext;
  u64 sigmask;
  OSTD_POD(UContext, uc_flags, uc_link, uc_stack, mcontext, sigmask);
};
static_assert(sizeof(UContext) == 304);

struct RtSigFrame {
  u64 pretcode;
  UContext uc;
  SigInfo info;
  OSTD_POD(RtSigFrame, pretcode, uc, info);
};
static_assert(sizeof(RtSigFrame) == 440);

constexpr u64 kUcFpXstate = 1, kUcSigcontextSs = 2, kUcStrictRestoreSs = 4;

// The signal frame's fpstate (Linux's layout): the FXSAVE area whose software-reserved words
// (struct _fpx_sw_bytes at +464) say an XSAVE image follows (FP_XSTATE_MAGIC1, its sizes and
// features), the XSAVE header and components, and FP_XSTATE_MAGIC2 right after the image; or the
// bare FXSAVE area where the CPU has no XSAVE.
constexpr u32 kFpXstateMagic1 = 0x46505853, kFpXstateMagic2 = 0x46505845;
constexpr usize kSwBytes = 464;

struct FpxSwBytes {  // struct _fpx_sw_bytes
  u32 magic1;
  u32 extended_size;
  u64 xfeatures;
  u32 xstate_size;
  std::array<u32, 7> padding;
  OSTD_POD(FpxSwBytes, magic1, extended_size, xfeatures, xstate_size, padding);
};
static_assert(sizeof(FpxSwBytes) == 48 && offsetof(FpxSwBytes, xstate_size) == 16);

std::vector<u8> fpstate_image(const ostd::FpuState& fpu) {
  std::vector<u8> img(fpu.fxsave.begin(), fpu.fxsave.end());
  std::fill(img.begin() + kSwBytes, img.end(), u8{0});
  if (fpu.xsave.empty()) return img;
  const u32 xstate_size = static_cast<u32>(fpu.fxsave.size() + fpu.xsave.size());
  FpxSwBytes sw{kFpXstateMagic1, xstate_size + 4, fpu.xfeatures, xstate_size, {}};
  std::ranges::copy(ostd::bytes_of(sw), img.begin() + kSwBytes);
  img.insert(img.end(), fpu.xsave.begin(), fpu.xsave.end());
  auto magic2 = ostd::bytes_of(kFpXstateMagic2);
  img.insert(img.end(), magic2.begin(), magic2.end());
  return img;
}

}  // namespace

ostd::u64 signal_frame_max_size() {
  usize image = ostd::UserMode::fpu_image_size();
  usize fpstate = image > 512 ? image + 4 : image;  // FP_XSTATE_MAGIC2 after an XSAVE image
  usize size = sizeof(RtSigFrame) + 15 + fpstate + 63;
  return (size + 15) & ~usize{15};
}

namespace {

// Reads a frame's fpstate back: the XSAVE image when its software words and magic numbers say
// it is one of this machine's size (Linux's check_xstate_in_sigframe), else the FXSAVE area alone.
Result<ostd::FpuState> read_fpstate(ostd::VmSpace& vm, Vaddr at, const ostd::FpuState& current) {
  ostd::FpuState fpu;
  TRY(vm.read_bytes(at, fpu.fxsave));
  auto sw = ostd::load_from<FpxSwBytes>(std::span<const u8>(fpu.fxsave), kSwBytes);
  const usize want = fpu.fxsave.size() + current.xsave.size();
  if (current.xsave.empty() || !sw || sw->magic1 != kFpXstateMagic1 || sw->xstate_size != want ||
      sw->extended_size != want + 4) {
    return fpu;
  }
  auto magic2 = ostd::UserPtr<u32>(at + want).read(vm);
  if (magic2.is_error() || magic2.value() != kFpXstateMagic2) return fpu;
  fpu.xsave.resize(current.xsave.size());
  TRY(vm.read_bytes(at + fpu.fxsave.size(), fpu.xsave));
  fpu.xfeatures = current.xfeatures;
  return fpu;
}
// Whether `fpu`'s MXCSR sets only bits this CPU's MXCSR_MASK allows (FXSAVE bytes 24 and 28 of
// the current state; a zero mask means the architectural default 0xffbf).
bool mxcsr_valid(const ostd::FpuState& fpu, const ostd::FpuState& current) {
  constexpr usize kMxcsr = 24, kMxcsrMask = 28;
  auto mxcsr = ostd::load_from<u32>(std::span<const u8>(fpu.fxsave), kMxcsr);
  auto mask = ostd::load_from<u32>(std::span<const u8>(current.fxsave), kMxcsrMask);
  if (!mxcsr || !mask) return false;
  const u32 allowed = mask.value() != 0 ? mask.value() : 0xffbf;
  return (mxcsr.value() & ~allowed) == 0;
}
constexpr u64 kUserFlagsMask = 0x244dd5;  // CF PF AF ZF SF TF DF OF AC ID

bool on_altstack(const Thread& t, Vaddr sp) {
  return t.altstack.flags != 2 && sp > t.altstack.sp && sp - t.altstack.sp <= t.altstack.size;
}

// Pushes a handler frame; false when user memory is unusable (the caller kills the process).
bool setup_frame(Thread& t, int sig, const SigAction& act, const SigInfo& info) {
  ostd::UserContext& ctx = t.context();
  ostd::GeneralRegs& r = ctx.regs();
  Vaddr sp = r.rsp - 128;  // skip the red zone
  bool alt = on_altstack(t, r.rsp);
  if ((act.flags & kSaOnstack) != 0 && t.altstack.flags == 0 && !alt) {
    sp = t.altstack.sp + t.altstack.size;
    alt = true;
  }
  auto fpu = t.user().fpu_state();
  if (fpu.is_error()) return false;
  std::vector<u8> fpimage = fpstate_image(fpu.value());
  sp = (sp - fpimage.size()) & ~Vaddr{63};
  Vaddr fpstate = sp;
  Vaddr frame = ((sp - sizeof(RtSigFrame)) & ~Vaddr{15}) - 8;
  // As Linux's get_sigframe: a frame that does not fit on the alternate stack it goes on is a
  // SIGSEGV (the stack is too small for this CPU's state), never a write below it.
  if (alt && (frame <= t.altstack.sp || frame > sp)) return false;

  RtSigFrame f{};
  f.pretcode = act.restorer;
  f.uc.uc_flags = kUcSigcontextSs | kUcStrictRestoreSs | (fpu.value().xsave.empty() ? 0 : kUcFpXstate);
  f.uc.uc_stack = t.altstack;
  f.uc.uc_stack.flags = t.altstack.flags == 2 ? 2 : (on_altstack(t, r.rsp) ? 1 : 0);
  SigContext& m = f.uc.mcontext;
  m.r8 = r.r8;
  m.r9 = r.r9;
  m.r10 = r.r10;
  m.r11 = r.r11;
  m.r12 = r.r12;
  m.r13 = r.r13;
  m.r14 = r.r14;
  m.r15 = r.r15;
  m.rdi = r.rdi;
  m.rsi = r.rsi;
  m.rbp = r.rbp;
  m.rbx = r.rbx;
  m.rdx = r.rdx;
  m.rax = r.rax;
  m.rcx = r.rcx;
  m.rsp = r.rsp;
  m.rip = r.rip;
  m.eflags = r.rflags;
  m.cs = 0x33;
  m.ss = 0x2b;
  m.fpstate = fpstate;
  if (sig == kSigSegv || sig == kSigBus) {
    m.cr2 = si_addr(info);
    m.trapno = 14;
  }
  f.uc.sigmask = t.saved_sigmask ? t.saved_sigmask->bits : t.sigmask.bits;
  m.oldmask = f.uc.sigmask;
  f.info = info;

  ostd::VmSpace& vm = t.vm();
  if (vm.write_bytes(fpstate, fpimage).is_error()) return false;
  if (ostd::UserPtr<RtSigFrame>(frame).write(vm, f).is_error()) return false;

  r.rsp = frame;
  r.rip = act.handler;
  r.rdi = static_cast<u64>(sig);
  r.rsi = frame + offsetof(RtSigFrame, info);
  r.rdx = frame + offsetof(RtSigFrame, uc);
  r.rax = 0;
  r.rflags &= ~u64{0x100 | 0x400};  // TF and DF clear in the handler
  t.saved_sigmask.reset();
  return true;
}

// Takes the next deliverable signal: thread-directed first, then process-wide; lowest number
// first, except that SIGKILL and SIGSTOP go before all others.
std::optional<std::pair<int, SigInfo>> dequeue_locked(Thread& t, u64 blocked) {
  Process& p = t.process();
  ostd::SpinLockGuard g(p.sig_lock);
  auto take = [&](SigSet& set, std::vector<SigInfo>& infos) -> std::optional<std::pair<int, SigInfo>> {
    u64 ready = set.bits & ~blocked;
    if (ready == 0) return std::nullopt;
    int sig = 0;
    if (((ready >> (kSigKill - 1)) & 1) != 0) {
      sig = kSigKill;
    } else if (((ready >> (kSigStop - 1)) & 1) != 0) {
      sig = kSigStop;
    } else {
      sig = std::countr_zero(ready) + 1;
    }
    SigInfo info = kernel_siginfo(sig);
    bool more = false;
    for (auto it = infos.begin(); it != infos.end();) {
      if (it->si_signo == sig) {
        if (!more) {
          info = *it;
          it = infos.erase(it);
          more = true;
          continue;
        }
        // Real-time signals queue; standard ones coalesce.
        if (sig >= kSigRtMin) return std::pair<int, SigInfo>(sig, info);
        it = infos.erase(it);
        continue;
      }
      ++it;
    }
    set.remove(sig);
    return std::pair<int, SigInfo>(sig, info);
  };
  if (auto s = take(t.pending, t.pending_info)) return s;
  return take(p.shared_pending, p.shared_pending_info);
}

std::optional<std::pair<int, SigInfo>> dequeue(Thread& t, u64 blocked) {
  auto got = dequeue_locked(t, blocked);
  // A timer's signal says how often the timer expired again while it waited (outside the
  // queue lock: the timers have a sleeping lock of their own).
  if (got && got->second.si_code == kSiTimer) posix_timer_signal_taken(t.process(), got->second);
  return got;
}
std::optional<std::pair<int, SigInfo>> dequeue(Thread& t) { return dequeue(t, t.sigmask.bits); }

// Inlined where it is called: every system call's return runs it (deliver_signals), and as a
// separate piece it was one more jump on the bare-metal kernel's hottest path.
[[gnu::always_inline]] inline void finish_restart(Thread& t, bool handler, const SigAction* act) {
  if (!t.in_syscall) return;
  t.in_syscall = false;
  ostd::UserContext& ctx = t.context();
  auto ret = static_cast<ostd::i64>(ctx.regs().rax);
  auto is = [&](Errno e) { return ret == -ostd::errno_value(e); };
  bool restart = false;
  bool eintr = false;
  if (is(Errno::erestartnointr)) {
    restart = true;
  } else if (is(Errno::erestartsys)) {
    restart = !handler || (act != nullptr && (act->flags & kSaRestart) != 0);
    eintr = !restart;
  } else if (is(Errno::erestartnohand) || is(Errno::erestart_restartblock)) {
    restart = !handler;
    eintr = handler;
  }
  if (restart) {
    ctx.regs().rax = t.syscall_nr;
    ctx.regs().rip -= 2;
  } else if (eintr) {
    ctx.regs().rax = static_cast<u64>(-ostd::errno_value(Errno::eintr));
  }
}

void stop_process(Thread& t, int sig) {
  Process& p = t.process();
  p.state = Process::State::Stopped;
  p.stop_signal = sig;
  p.stop_reported = false;
  if (auto parent = parent_of(p)) {
    bool nocldstop = false;
    {
      ostd::MutexGuard g(parent->handlers->lock);
      nocldstop = (parent->handlers->actions.at(kSigChld - 1).flags & kSaNocldstop) != 0;
    }
    if (!nocldstop) {
      SigInfo info = kernel_siginfo(kSigChld);
      info.si_code = 5;  // CLD_STOPPED
      info.si_pid = p.pid();
      info.si_status = sig;
      send_signal_to_process(*parent, kSigChld, info);
    }
    (void)parent->child_event.wake_all();
  }
  // Sleep until SIGCONT (or SIGKILL) arrives. Other pending signals wait: a stopped process
  // does not run (sleeping interruptibly here would return at once and spin for as long as
  // such a signal is pending -- found by the syscalls fuzzer).
  ostd::WaitQueue wq;
  auto killed = [&] { return t.pending.has(kSigKill) || p.shared_pending.has(kSigKill); };
  while (p.state == Process::State::Stopped && !t.exiting && !killed()) {
    t.wait_stopped(wq, [&] { return p.state != Process::State::Stopped || t.exiting || killed(); });
  }
}

}  // namespace

SigInfo kernel_siginfo(int sig) {
  SigInfo i{};
  i.si_signo = sig;
  i.si_code = kSiKernel;
  return i;
}

SigInfo user_siginfo(int sig, ostd::i32 pid, ostd::u32 uid) {
  SigInfo i{};
  i.si_signo = sig;
  i.si_code = kSiUser;
  i.si_pid = pid;
  i.si_uid = uid;
  return i;
}

namespace {
void continue_process(Process& p) {
  // SIGCONT resumes a stopped process and discards pending stop signals.
  {
    ostd::SpinLockGuard g(p.sig_lock);
    ostd::SpinLockGuard tree(process_tree_lock());
    for (int s : {kSigStop, kSigTstp, kSigTtin, kSigTtou}) {
      p.shared_pending.remove(s);
      for (auto& t : p.threads) t->pending.remove(s);
    }
  }
  if (p.state == Process::State::Stopped) {
    p.state = Process::State::Running;
    p.continue_reported = false;
    if (auto parent = parent_of(p)) (void)parent->child_event.wake_all();
  }
}
// Init (pid 1) only gets the signals it has handlers for, SIGKILL and SIGSTOP included, as in
// Linux (SIGNAL_UNKILLABLE) and in a container's pid namespace; its own faults still kill it.
// As in Linux, a blocked signal is queued anyway (the handler may change before it is
// unblocked); delivery drops it if it still has the default action (init_drops).
// Blocked signals are never ignored for the same reason, whatever their disposition (a
// program blocks SIGCHLD to take it with sigtimedwait or a signalfd).
bool ignored(Process& p, int sig, bool forced, bool blocked) {
  if (blocked) return false;
  ostd::MutexGuard g(p.handlers->lock);
  const SigAction& act = p.handlers->actions.at(static_cast<ostd::usize>(sig - 1));
  if (p.pid() == 1 && !forced && act.handler == kSigDfl) return true;
  if (sig == kSigKill || sig == kSigStop) return false;
  return act.handler == kSigIgn || (act.handler == kSigDfl && default_action(sig) == Default::Ignore);
}
}  // namespace

namespace {
// Signals the kernel raises for a thread's own fault (force_sig in Linux).
bool is_fault_signal(int sig) {
  return sig == kSigSegv || sig == kSigBus || sig == kSigIll || sig == kSigFpe || sig == kSigTrap || sig == kSigSys;
}
}  // namespace

bool send_signal_to_process(Process& p, int sig, const SigInfo& info) {
  if (!valid_signal(sig) || p.state == Process::State::Zombie || p.state == Process::State::Reaped || !p.handlers) {
    return false;
  }
  if (sig == kSigCont || sig == kSigKill) continue_process(p);
  bool blocked = false;
  {
    ostd::SpinLockGuard g(process_tree_lock());
    for (auto& t : p.threads) blocked = blocked || t->sigmask.has(sig) || t->real_blocked.has(sig);
  }
  bool drop = ignored(p, sig, false, blocked) && !traced_keeps_signals(p);
  {
    ostd::SpinLockGuard g(p.sig_lock);
    if (sig >= kSigStop && sig <= kSigTtou && sig != kSigCont) p.shared_pending.remove(kSigCont);
    if (drop) return false;
    p.shared_pending.add(sig);
    p.shared_pending_info.push_back(info);
  }
  {
    ostd::SpinLockGuard g(process_tree_lock());
    for (auto& t : p.threads) {
      if (!t->sigmask.has(sig) || sig == kSigKill) t->interrupt();
    }
  }
  signalfd_notify(p);
  return true;
}

bool send_signal_to_thread(Thread& t, int sig, const SigInfo& info, bool forced) {
  Process& p = t.process();
  if (!valid_signal(sig) || !p.handlers) return false;
  if (sig == kSigCont || sig == kSigKill) continue_process(p);
  if (ignored(p, sig, forced, t.sigmask.has(sig) || t.real_blocked.has(sig)) && !t.traced.load()) return false;
  {
    ostd::SpinLockGuard g(p.sig_lock);
    t.pending.add(sig);
    t.pending_info.push_back(info);
  }
  t.interrupt();
  signalfd_notify(p);
  return true;
}

void force_signal(Thread& t, int sig, const SigInfo& info) {
  {
    ostd::MutexGuard g(t.process().handlers->lock);
    SigAction& act = t.process().handlers->actions.at(static_cast<ostd::usize>(sig - 1));
    if (t.sigmask.has(sig) || act.handler == kSigIgn) {
      act.handler = kSigDfl;
      t.sigmask.remove(sig);
    }
  }
  send_signal_to_thread(t, sig, info, true);
}

std::optional<std::pair<int, SigInfo>> take_signal(Thread& t, SigSet set) { return dequeue(t, ~set.bits); }

SigSet pending_signals(const Thread& t, SigSet set) {
  Process& p = t.process();
  ostd::SpinLockGuard g(p.sig_lock);
  return SigSet{(t.pending.bits | p.shared_pending.bits) & set.bits};
}

void deliver_signals(Thread& t) {
  Process& p = t.process();
  // The tracer's stop comes first, with an interrupted call's -ERESTART* still in rax.
  if (t.trap_requested.load(std::memory_order_relaxed)) [[unlikely]]
    ptrace_trap(t);
  // The common case, without the queue lock: nothing deliverable. (A signal sent after this
  // look is not lost: user mode is not entered while one is pending.)
  if (!t.signal_pending()) {
    finish_restart(t, false, nullptr);
    return;
  }
  for (;;) {
    auto next = dequeue(t);
    if (!next) {
      finish_restart(t, false, nullptr);
      return;
    }
    auto [sig, info] = *next;
    if (t.traced.load(std::memory_order_relaxed)) [[unlikely]] {
      sig = ptrace_signal(t, sig, info);
      if (sig == 0) continue;
    }
    SigAction act;
    {
      ostd::MutexGuard g(p.handlers->lock);
      act = p.handlers->actions.at(static_cast<ostd::usize>(sig - 1));
    }
    if (sig == kSigKill || sig == kSigStop) act.handler = kSigDfl;
    if (act.handler == kSigIgn) continue;
    if (act.handler == kSigDfl && p.pid() == 1 && !is_fault_signal(sig)) continue;  // init
    if (act.handler == kSigDfl) {
      switch (default_action(sig)) {
        case Default::Ignore:
        case Default::Continue: continue;
        case Default::Stop:
          if (t.traced.load(std::memory_order_relaxed)) {
            ptrace_group_stop(t, sig);
            continue;
          }
          finish_restart(t, false, nullptr);
          stop_process(t, sig);
          continue;
        case Default::Terminate:
          ptrace_exit(t, sig);
          group_exit(p, sig);
          return;
        case Default::Core:
          ptrace_exit(t, sig | 0x80);
          group_exit(p, sig | 0x80);
          return;
      }
    }
    finish_restart(t, true, &act);
    if (!setup_frame(t, sig, act, info)) {
      kLog.warn("pid {}: cannot push a frame for signal {}; killing it", p.pid(), sig);
      group_exit(p, kSigSegv);
      return;
    }
    if ((act.flags & kSaNodefer) == 0) t.sigmask.add(sig);
    t.sigmask.bits |= act.mask.bits;
    t.sigmask.remove(kSigKill);
    t.sigmask.remove(kSigStop);
    if ((act.flags & kSaResethand) != 0) {
      ostd::MutexGuard g(p.handlers->lock);
      p.handlers->actions.at(static_cast<ostd::usize>(sig - 1)) = SigAction{};
    }
    return;  // one handler frame per return to user mode
  }
}

namespace {

Result<long> sys_rt_sigreturn(Thread& t, const SyscallArgs&) {
  ostd::UserContext& ctx = t.context();
  Vaddr frame = ctx.regs().rsp - 8;
  auto f = ostd::UserPtr<RtSigFrame>(frame).read(t.vm());
  if (f.is_error()) {
    send_signal_to_thread(t, kSigSegv, kernel_siginfo(kSigSegv), true);
    return Errno::efault;
  }
  const SigContext& m = f.value().uc.mcontext;
  ostd::GeneralRegs& r = ctx.regs();
  r.r8 = m.r8;
  r.r9 = m.r9;
  r.r10 = m.r10;
  r.r11 = m.r11;
  r.r12 = m.r12;
  r.r13 = m.r13;
  r.r14 = m.r14;
  r.r15 = m.r15;
  r.rdi = m.rdi;
  r.rsi = m.rsi;
  r.rbp = m.rbp;
  r.rbx = m.rbx;
  r.rdx = m.rdx;
  r.rax = m.rax;
  r.rcx = m.rcx;
  r.rsp = m.rsp;
  r.rip = m.rip;
  r.rflags = (r.rflags & ~kUserFlagsMask) | (m.eflags & kUserFlagsMask);
  t.sigmask.bits = f.value().uc.sigmask;
  t.sigmask.remove(kSigKill);
  t.sigmask.remove(kSigStop);
  // What Linux's restore_sigcontext refuses (a SIGSEGV, the registers and mask restored):
  // reserved MXCSR bits (FXRSTOR would fault), a stack segment other than the user one when
  // the frame asks for a strict restore (IRET would fault). A code segment other than 64-bit
  // user code is one too here: Linux would return into a 32-bit segment, which this kernel
  // does not run.
  bool bad = (m.cs | 3) != 0x33 || ((f.value().uc.uc_flags & kUcStrictRestoreSs) != 0 && (m.ss | 3) != 0x2b);
  if (m.fpstate != 0) {
    auto current = t.user().fpu_state();
    if (current.is_ok()) {
      auto fpu = read_fpstate(t.vm(), m.fpstate, current.value());
      if (fpu.is_ok() && !mxcsr_valid(fpu.value(), current.value())) bad = true;
      if (fpu.is_ok() && !bad) (void)t.user().set_fpu_state(fpu.value());
    }
  }
  t.in_syscall = false;  // not a restartable call: rax is the interrupted code's
  if (bad) send_signal_to_thread(t, kSigSegv, kernel_siginfo(kSigSegv), true);
  return static_cast<long>(r.rax);
}

Result<long> sys_rt_sigaction(Thread& t, const SyscallArgs& a) {
  int sig = a.as_int(0);
  if (a[3] != sizeof(SigSet)) return Errno::einval;
  if (!valid_signal(sig)) return Errno::einval;
  std::optional<SigAction> new_act;
  if (a[1] != 0) {
    if (sig == kSigKill || sig == kSigStop) return Errno::einval;
    new_act = TRY(ostd::UserPtr<SigAction>(a[1]).read(t.vm()));
    new_act->mask.remove(kSigKill);
    new_act->mask.remove(kSigStop);
  }
  Process& p = t.process();
  SigAction old;
  {
    ostd::MutexGuard g(p.handlers->lock);
    SigAction& slot = p.handlers->actions.at(static_cast<ostd::usize>(sig - 1));
    if (a[2] != 0) old = slot;
    if (new_act) slot = *new_act;
  }
  // As on Linux, the new action stays installed when the old one cannot be written out.
  if (new_act &&
      (new_act->handler == kSigIgn || (new_act->handler == kSigDfl && default_action(sig) == Default::Ignore))) {
    // Setting a signal to be ignored discards it if pending.
    ostd::SpinLockGuard g(p.sig_lock);
    ostd::SpinLockGuard tree(process_tree_lock());
    p.shared_pending.remove(sig);
    for (auto& th : p.threads) th->pending.remove(sig);
  }
  if (a[2] != 0) TRY(ostd::UserPtr<SigAction>(a[2]).write(t.vm(), old));
  return 0;
}

Result<long> sys_rt_sigprocmask(Thread& t, const SyscallArgs& a) {
  constexpr int kBlock = 0, kUnblock = 1, kSetmask = 2;
  int how = a.as_int(0);
  if (a[3] != sizeof(SigSet)) return Errno::einval;
  std::optional<SigSet> set;
  if (a[1] != 0) {
    if (how != kBlock && how != kUnblock && how != kSetmask) return Errno::einval;
    set = TRY(ostd::UserPtr<SigSet>(a[1]).read(t.vm()));
  }
  SigSet old = t.sigmask;
  if (a[2] != 0) TRY(ostd::UserPtr<SigSet>(a[2]).write(t.vm(), old));
  if (set) {
    if (how == kBlock) {
      t.sigmask.bits |= set->bits;
    } else if (how == kUnblock) {
      t.sigmask.bits &= ~set->bits;
    } else {
      t.sigmask = *set;
    }
    t.sigmask.remove(kSigKill);
    t.sigmask.remove(kSigStop);
  }
  return 0;
}

Result<long> sys_rt_sigpending(Thread& t, const SyscallArgs& a) {
  if (a[1] > sizeof(SigSet)) return Errno::einval;
  SigSet s;
  {
    ostd::SpinLockGuard g(t.process().sig_lock);
    s = SigSet{(t.pending.bits | t.process().shared_pending.bits) & t.sigmask.bits};
  }
  TRY(ostd::UserPtr<SigSet>(a[0]).write(t.vm(), s));
  return 0;
}

Result<long> sys_rt_sigsuspend(Thread& t, const SyscallArgs& a) {
  if (a[1] != sizeof(SigSet)) return Errno::einval;
  SigSet mask = TRY(ostd::UserPtr<SigSet>(a[0]).read(t.vm()));
  mask.remove(kSigKill);
  mask.remove(kSigStop);
  t.saved_sigmask = t.sigmask;
  t.sigmask = mask;
  ostd::WaitQueue wq;
  (void)t.wait_interruptible(wq, [] { return false; });
  return Errno::erestartnohand;
}

Result<long> sys_pause(Thread& t, const SyscallArgs&) {
  ostd::WaitQueue wq;
  (void)t.wait_interruptible(wq, [] { return false; });
  return Errno::erestartnohand;
}

Result<long> sys_rt_sigtimedwait(Thread& t, const SyscallArgs& a) {
  if (a[3] != sizeof(SigSet)) return Errno::einval;
  SigSet set = TRY(ostd::UserPtr<SigSet>(a[0]).read(t.vm()));
  set.remove(kSigKill);
  set.remove(kSigStop);
  std::optional<ostd::u64> timeout;
  if (a[2] != 0) {
    abi::Timespec ts = TRY(ostd::UserPtr<abi::Timespec>(a[2]).read(t.vm()));
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) return Errno::einval;
    timeout = static_cast<ostd::u64>(ts.tv_sec) * 1000000000 + static_cast<ostd::u64>(ts.tv_nsec);
  }
  auto got = take_signal(t, set);
  if (!got) {
    if (timeout && *timeout == 0) return Errno::eagain;
    // While waiting, the signals of `set` are unblocked so that they wake us (as Linux does).
    SigSet saved = t.sigmask;
    t.real_blocked = saved;
    t.sigmask.bits &= ~set.bits;
    ostd::WaitQueue wq;
    auto w = t.wait_interruptible(
        wq, [] { return false; }, timeout);
    t.sigmask = saved;
    t.real_blocked = SigSet{};
    got = take_signal(t, set);
    if (!got) return w.is_error() && w.error() == Errno::etimedout ? Errno::eagain : Errno::eintr;
  }
  if (a[1] != 0) TRY(ostd::UserPtr<SigInfo>(a[1]).write(t.vm(), got->second));
  return got->first;
}

Result<long> sys_sigaltstack(Thread& t, const SyscallArgs& a) {
  constexpr ostd::i32 kSsOnstack = 1, kSsDisable = 2, kSsAutodisarm = ostd::i32{1} << 31;
  constexpr u64 kMinsigstksz = 2048;
  AltStack old = t.altstack;
  bool on = on_altstack(t, t.context().regs().rsp);
  if (a[0] != 0) {
    AltStack ss = TRY(ostd::UserPtr<AltStack>(a[0]).read(t.vm()));
    if (on) return Errno::eperm;
    ostd::i32 mode = ss.flags & ~kSsAutodisarm;
    if (mode != 0 && mode != kSsDisable && mode != kSsOnstack) return Errno::einval;
    if (mode == kSsDisable) {
      t.altstack = AltStack{};
    } else {
      if (ss.size < kMinsigstksz) return Errno::enomem;
      t.altstack = ss;
      t.altstack.flags = 0;
    }
  }
  if (a[1] != 0) {
    old.flags = old.flags == kSsDisable ? kSsDisable : (on ? kSsOnstack : 0);
    TRY(ostd::UserPtr<AltStack>(a[1]).write(t.vm(), old));
  }
  return 0;
}

Result<long> do_kill(Thread& self, ostd::i32 pid, int sig) {
  if (sig < 0 || sig > kNumSignals) return Errno::einval;
  Process& me = self.process();
  SigInfo info = user_siginfo(sig, me.pid(), me.creds.uid);
  // Many targets: chosen and signalled atomically against forks (group_signal_lock).
  std::optional<ostd::MutexGuard> group;
  if (pid <= 0 && sig != 0) group.emplace(group_signal_lock());
  std::vector<std::shared_ptr<Process>> targets;
  // A zombie is still a target (Linux answers 0 and the signal goes nowhere).
  for (auto& p : pid_table().all_processes()) {
    if (p->state == Process::State::Reaped) continue;
    bool hit = pid > 0     ? p->pid() == pid
               : pid == 0  ? p->pgid == me.pgid
               : pid == -1 ? p->pid() != 1 && p.get() != &me
                           : p->pgid == -pid;
    if (hit) targets.push_back(p);
  }
  if (targets.empty()) return Errno::esrch;
  // As Linux: one process or a group fails with EPERM only when no target may be signalled;
  // kill(-1) succeeds even then.
  bool any = false;
  for (auto& p : targets) {
    if (!may_signal(me, *p, sig)) continue;
    any = true;
    if (sig != 0) send_signal_to_process(*p, sig, info);
  }
  return any || pid == -1 ? Result<long>(0) : Result<long>(Errno::eperm);
}

Result<long> sys_kill(Thread& self, const SyscallArgs& a) { return do_kill(self, a.as_int(0), a.as_int(1)); }

Result<long> do_tkill(Thread& self, ostd::i32 tgid, ostd::i32 tid, int sig) {
  if (tid <= 0 || sig < 0 || sig > kNumSignals) return Errno::einval;
  auto t = pid_table().thread(tid);
  if (!t || (tgid > 0 && t->process().pid() != tgid)) return Errno::esrch;
  if (!may_signal(self.process(), t->process(), sig)) return Errno::eperm;
  if (sig == 0) return 0;
  SigInfo info = user_siginfo(sig, self.process().pid(), self.process().creds.uid);
  info.si_code = kSiTkill;
  send_signal_to_thread(*t, sig, info);
  return 0;
}

Result<long> sys_tkill(Thread& self, const SyscallArgs& a) { return do_tkill(self, -1, a.as_int(0), a.as_int(1)); }
Result<long> sys_tgkill(Thread& self, const SyscallArgs& a) {
  if (a.as_int(0) <= 0) return Errno::einval;
  return do_tkill(self, a.as_int(0), a.as_int(1), a.as_int(2));
}

// rt_sigqueueinfo and rt_tgsigqueueinfo: a signal with the sender's own siginfo. Only a
// process signalling itself may claim a kernel or kill()-style origin (si_code >= 0 or
// SI_TKILL), as Linux says.
Result<SigInfo> queued_info(Thread& self, Vaddr uinfo, int sig, ostd::i32 target) {
  SigInfo info = TRY(ostd::UserPtr<SigInfo>(uinfo).read(self.vm()));
  if ((info.si_code >= 0 || info.si_code == kSiTkill) && target != self.tid()) return Errno::eperm;
  info.si_signo = sig;
  return info;
}

Result<long> sys_rt_sigqueueinfo(Thread& self, const SyscallArgs& a) {
  const ostd::i32 pid = a.as_int(0);
  const int sig = a.as_int(1);
  // Compared with the caller's tid, as Linux's task_pid_vnr(current).
  SigInfo info = TRY(queued_info(self, a[2], sig, pid));
  auto p = pid > 0 ? pid_table().process(pid) : nullptr;
  if (!p || p->state == Process::State::Reaped) return Errno::esrch;
  if (!valid_signal(sig) && sig != 0) return Errno::einval;
  if (!may_signal(self.process(), *p, sig)) return Errno::eperm;
  if (sig != 0) send_signal_to_process(*p, sig, info);
  return 0;
}

Result<long> sys_rt_tgsigqueueinfo(Thread& self, const SyscallArgs& a) {
  const ostd::i32 tgid = a.as_int(0), tid = a.as_int(1);
  const int sig = a.as_int(2);
  if (tgid <= 0 || tid <= 0) return Errno::einval;
  SigInfo info = TRY(queued_info(self, a[3], sig, tid));
  auto t = pid_table().thread(tid);
  if (!t || t->process().pid() != tgid) return Errno::esrch;
  if (!valid_signal(sig) && sig != 0) return Errno::einval;
  if (!may_signal(self.process(), t->process(), sig)) return Errno::eperm;
  if (sig != 0) send_signal_to_thread(*t, sig, info);
  return 0;
}

// restart_syscall: the kernel never leaves a restart block behind (an interrupted sleep is
// restarted as the call itself), so there is nothing to resume: Linux's do_no_restart_syscall.
Result<long> sys_restart_syscall(Thread&, const SyscallArgs&) { return Errno::eintr; }

}  // namespace

// check_kill_permission: the sender's real or effective uid is the target's real or saved uid,
// or it has CAP_KILL; SIGCONT also goes anywhere in the sender's session.
bool may_signal(const Process& me, const Process& target, int sig) {
  if (&me == &target) return true;
  const Credentials& c = me.creds;
  const Credentials& tc = target.creds;
  if (c.euid == tc.suid || c.euid == tc.uid || c.uid == tc.suid || c.uid == tc.uid || c.capable(cap::kKill)) {
    return true;
  }
  return sig == kSigCont && target.sid == me.sid;
}

SigSet process_pending_signals(Process& p) {
  ostd::SpinLockGuard g(p.sig_lock);
  ostd::SpinLockGuard tree(process_tree_lock());
  SigSet s = p.shared_pending;
  for (auto& t : p.threads) s.bits |= t->pending.bits;
  return s;
}

void register_signal_syscalls(SyscallTable& t) {
  t.set(x86_64::Sysno::rt_sigqueueinfo, &sys_rt_sigqueueinfo);
  t.set(x86_64::Sysno::restart_syscall, &sys_restart_syscall);
  t.set(x86_64::Sysno::rt_tgsigqueueinfo, &sys_rt_tgsigqueueinfo);
  t.set(x86_64::Sysno::rt_sigreturn, &sys_rt_sigreturn);
  t.set(x86_64::Sysno::rt_sigaction, &sys_rt_sigaction);
  t.set(x86_64::Sysno::rt_sigprocmask, &sys_rt_sigprocmask);
  t.set(x86_64::Sysno::rt_sigpending, &sys_rt_sigpending);
  t.set(x86_64::Sysno::rt_sigsuspend, &sys_rt_sigsuspend);
  t.set(x86_64::Sysno::sigaltstack, &sys_sigaltstack);
  t.set(x86_64::Sysno::pause, &sys_pause);
  t.set(x86_64::Sysno::rt_sigtimedwait, &sys_rt_sigtimedwait);
  t.set(x86_64::Sysno::kill, &sys_kill);
  t.set(x86_64::Sysno::tkill, &sys_tkill);
  t.set(x86_64::Sysno::tgkill, &sys_tgkill);
}

}  // namespace services
