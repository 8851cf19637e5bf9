// services/signal/signal.h — signal numbers, sets, actions and the sending API.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <utility>

#include <ostd/pod.h>
#include <ostd/sync.h>
#include <ostd/types.h>

namespace services {

class Thread;
class Process;

inline constexpr int kSigHup = 1, kSigInt = 2, kSigQuit = 3, kSigIll = 4, kSigTrap = 5, kSigAbrt = 6, kSigBus = 7,
                     kSigFpe = 8, kSigKill = 9, kSigUsr1 = 10, kSigSegv = 11, kSigUsr2 = 12, kSigPipe = 13,
                     kSigAlrm = 14, kSigTerm = 15, kSigStkflt = 16, kSigChld = 17, kSigCont = 18, kSigStop = 19,
                     kSigTstp = 20, kSigTtin = 21, kSigTtou = 22, kSigUrg = 23, kSigXcpu = 24, kSigXfsz = 25,
                     kSigVtalrm = 26, kSigProf = 27, kSigWinch = 28, kSigIo = 29, kSigPwr = 30, kSigSys = 31,
                     kSigRtMin = 32, kNumSignals = 64;

/// A set of signals 1..64 (bit n-1 is signal n), the kernel's sigset_t.
struct SigSet {
  ostd::u64 bits = 0;
  bool has(int sig) const { return sig >= 1 && sig <= kNumSignals && ((bits >> (sig - 1)) & 1) != 0; }
  void add(int sig) {
    if (sig >= 1 && sig <= kNumSignals) bits |= ostd::u64{1} << (sig - 1);
  }
  void remove(int sig) {
    if (sig >= 1 && sig <= kNumSignals) bits &= ~(ostd::u64{1} << (sig - 1));
  }
  bool empty() const { return bits == 0; }
  OSTD_POD(SigSet, bits);
};

/// siginfo_t (128 bytes), the fields the kernel fills.
struct SigInfo {
  ostd::i32 si_signo;
  ostd::i32 si_errno;
  ostd::i32 si_code;
  ostd::i32 pad0;
  // The union: kill (pid, uid), child (pid, uid, status, utime, stime), fault (addr).
  ostd::i32 si_pid;  // or the low half of si_addr (set_si_addr/si_addr)
  ostd::u32 si_uid;  // or the high half of si_addr
  ostd::i32 si_status;
  ostd::i32 pad1;
  ostd::i64 si_utime;
  ostd::i64 si_stime;
  std::array<ostd::u8, 80> rest;
  OSTD_POD(SigInfo, si_signo, si_errno, si_code, pad0, si_pid, si_uid, si_status, pad1, si_utime, si_stime, rest);
};
static_assert(sizeof(SigInfo) == 128);

inline constexpr ostd::i32 kSiUser = 0, kSiKernel = 0x80, kSiQueue = -1, kSiTimer = -2, kSiMesgq = -3, kSiAsyncio = -4,
                           kSiSigio = -5, kSiTkill = -6;

/// si_value (sigqueue, timers, message queues) lies where a child's si_status and the padding
/// after it are; a timer's id and overrun count where a sender's pid and uid are.
inline void set_si_value(SigInfo& i, ostd::u64 v) {
  i.si_status = static_cast<ostd::i32>(static_cast<ostd::u32>(v));
  i.pad1 = static_cast<ostd::i32>(static_cast<ostd::u32>(v >> 32));
}
inline ostd::u64 si_value(const SigInfo& i) {
  return ostd::u64{static_cast<ostd::u32>(i.si_status)} | (ostd::u64{static_cast<ostd::u32>(i.pad1)} << 32);
}

/// si_addr (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP) lies where a sender's pid and uid are: set
/// and read it only through these, never through si_pid/si_uid.
inline void set_si_addr(SigInfo& i, ostd::u64 addr) {
  i.si_pid = static_cast<ostd::i32>(static_cast<ostd::u32>(addr));
  i.si_uid = static_cast<ostd::u32>(addr >> 32);
}
inline ostd::u64 si_addr(const SigInfo& i) {
  return ostd::u64{static_cast<ostd::u32>(i.si_pid)} | (ostd::u64{i.si_uid} << 32);
}

// sa_flags
inline constexpr ostd::u64 kSaNocldstop = 1, kSaNocldwait = 2, kSaSiginfo = 4, kSaOnstack = 0x08000000,
                           kSaRestart = 0x10000000, kSaNodefer = 0x40000000, kSaResethand = 0x80000000,
                           kSaRestorer = 0x04000000;
inline constexpr ostd::u64 kSigDfl = 0, kSigIgn = 1;

/// struct k_sigaction as rt_sigaction sees it on x86-64.
struct SigAction {
  ostd::u64 handler = kSigDfl;
  ostd::u64 flags = 0;
  ostd::u64 restorer = 0;
  SigSet mask{};
  OSTD_POD(SigAction, handler, flags, restorer, mask);
};
static_assert(sizeof(SigAction) == 32);

struct AltStack {
  ostd::u64 sp = 0;
  ostd::i32 flags = 2;  // SS_DISABLE
  ostd::i32 pad = 0;
  ostd::u64 size = 0;
  OSTD_POD(AltStack, sp, flags, pad, size);
};
static_assert(sizeof(AltStack) == 24);

/// Signal dispositions, shared by CLONE_SIGHAND threads.
struct SignalHandlers {
  std::array<SigAction, kNumSignals> actions{};
  ostd::Mutex lock;
};

/// Queues `sig` for the process (any thread that does not block it takes it) and wakes it.
/// False when the signal was dropped (ignored, or the process is gone).
bool send_signal_to_process(Process& p, int sig, const SigInfo& info);
/// Queues `sig` for one thread. `forced`: a synchronous fault of the thread itself (reaches
/// init even without a handler, as Linux's force_sig). False when the signal was dropped.
bool send_signal_to_thread(Thread& t, int sig, const SigInfo& info, bool forced = false);
/// Linux's force_sig_info: a signal the thread raised itself (a fault, a seccomp trap) that it
/// may not block or ignore: a blocked or ignored one goes back to the default action first.
void force_signal(Thread& t, int sig, const SigInfo& info);

/// struct sigevent (64 bytes on x86-64): how POSIX timers and message queues notify.
inline constexpr int kSigevSignal = 0, kSigevNone = 1, kSigevThread = 2, kSigevThreadId = 4;
struct Sigevent {
  ostd::u64 value;
  ostd::i32 signo;
  ostd::i32 notify;
  ostd::i32 tid;  // SIGEV_THREAD_ID's thread
  std::array<ostd::i32, 11> pad;
  OSTD_POD(Sigevent, value, signo, notify, tid, pad);
};
static_assert(sizeof(Sigevent) == 64);

/// Takes the next pending signal of `set` for t, blocked or not (thread-directed first, lowest
/// number first): sigtimedwait and signalfd. A POSIX timer's signal comes with its overrun
/// count.
std::optional<std::pair<int, SigInfo>> take_signal(Thread& t, SigSet set);
/// The signals pending for any thread of p, or for p itself (signalfd's poll).
SigSet process_pending_signals(Process& p);
/// The signals of `set` pending for t (its own and its process's).
SigSet pending_signals(const Thread& t, SigSet set);

/// The most stack a signal frame can take on this machine, as Linux reports it in AT_MINSIGSTKSZ:
/// siginfo and ucontext, the FPU image with its trailing magic word, and the alignment padding of
/// both, rounded up to 16 bytes.
ostd::u64 signal_frame_max_size();
/// A SigInfo for a signal the kernel sends (SI_KERNEL) or a user sends (SI_USER with pid).
SigInfo kernel_siginfo(int sig);
SigInfo user_siginfo(int sig, ostd::i32 pid, ostd::u32 uid);

}  // namespace services
