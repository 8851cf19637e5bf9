// The seccomp platform: guest threads run untraced; their system calls trap through a seccomp
// filter (SECCOMP_RET_TRAP) into the stub's signal handler, which posts the event in a mailbox
// page and sleeps on a futex until the kernel replies (see stub.S).
//
// What the kernel trusts: nothing it reads from the stub process. The mailbox, the altstack
// (signal frame) and the doorbell are writable by every guest thread of the process, so every
// pointer is checked against the thread's own altstack, every value is copied once before use,
// and a forged value can only misdirect the forging process itself. The guest threads' filter
// allows host system calls only from the stub's code page, and only futex (wait/wake),
// arch_prctl, sched_yield and exit; anything else from there (rt_sigreturn too: the stub resumes
// with iretq) traps like any guest system call. Mapping
// changes stay with the traced control thread (ptrace), whose results come in registers.
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include <ostd/bytes.h>
#include <ostd/host/host.h>
#include <ostd/log.h>
#include <ostd/task.h>
#include <ostd/time.h>

#include "bpf.h"

#include <ostd/internal.h>
#include "platform_internal.h"
#include "stub_layout.h"

namespace ostd::host {

namespace {

constexpr Logger kLog{"seccomp"};
constexpr int kKickSignal = SIGUSR2;
constexpr u64 kAltStackBytes = 32 * 1024;  // mapped at the top of each 64 KiB slot
constexpr usize kAltFrames = kAltStackBytes / kPageSize;

// Mailbox offsets: stub_layout.h (MB_*), shared with stub.S.
constexpr usize kMbState = MB_STATE;
constexpr usize kMbCtid = MB_CTID;
constexpr usize kMbSigno = MB_SIGNO;
constexpr usize kMbSiginfo = MB_SIGINFO;
constexpr usize kMbUc = MB_UC;
constexpr usize kMbRsp = MB_RSP;
constexpr usize kMbFs = MB_FS;
constexpr usize kMbGs = MB_GS;
constexpr usize kMbCmd = MB_CMD;
constexpr usize kMbSetFlags = MB_SET_FLAGS;
constexpr usize kMbNewFs = MB_NEW_FS;
constexpr usize kMbNewGs = MB_NEW_GS;
constexpr usize kMbCrowd = MB_CROWD;
constexpr usize kMbSleeping = MB_SLEEPING;
constexpr usize kMbWakeWord = MB_WAKE_WORD;
constexpr usize kMbStack = MB_STACK;
constexpr usize kMbFastEntry = MB_FAST_ENTRY;
constexpr usize kMbBlocks = MB_BLOCKS;
constexpr usize kMbSelf = MB_SELF;
constexpr u32 kBlockBits = 512;
// Spinning only pays when stubs and the kernel are on different CPUs.
// pause loops (~1 ms, yielding the CPU every 64) before FUTEX_WAIT; cut short when the kernel
// goes idle after seeing the post.
constexpr u64 kStubSpinIterations = 20000;
constexpr u64 kKickTimeoutNs = 200 * 1000 * 1000;   // a kicked thread must post by then
constexpr u64 kTaskSpinNs = 20 * 1000;              // a waiting task's spin before it sleeps
constexpr u64 kIdleSpinNs = 50 * 1000;              // the kernel's idle spin on the doorbell
constexpr u64 kRetiredSettleNs = 20 * 1000 * 1000;  // a retired thread's way from spin to sleep
constexpr u64 kHandoffNs = 20 * 1000;               // a wake left to the stubs is taken back after this
constexpr usize kDbHandoff = 5;                     // doorbell word: the hand-off (a wake word's index + 1)
constexpr u32 kPosted = 1;
constexpr u32 kReplied = 2;

// The kernel's struct ucontext on x86-64 (glibc's ucontext_t is larger: its sigset is 128 bytes).
struct KUcontext {
  u64 flags;
  u64 link;
  u64 ss_sp;
  u32 ss_flags;
  u32 pad;
  u64 ss_size;
  std::array<u64, 23> gregs;  // REG_R8 ... REG_CR2, glibc's order
  u64 fpregs;
  std::array<u64, 8> reserved;
  u64 sigmask;
};
static_assert(sizeof(KUcontext) == 304);
// clang-format off
enum Greg : usize {
  kR8, kR9, kR10, kR11, kR12, kR13, kR14, kR15, kRdi, kRsi, kRbp, kRbx, kRdx, kRax, kRcx, kRsp,
  kRip, kEfl, kCsgsfs, kErr, kTrapno, kOldmask, kCr2
};
// clang-format on

struct Shared {
  std::optional<Frame> config;
  std::optional<Frame> doorbell;
  std::optional<Frame> wake;  // the wake page: kWakeWords futex words
  bool fsgsbase = false;
  bool fast_ready = false;  // config +48/+56 hold the host's XSAVE frame size and features
};
// Lives as long as the process (frames of the one physical memory; run_kernel may be re-run).
Shared* g_shared = nullptr;
std::atomic<bool> g_sigchld{false};
u32* g_doorbell = nullptr;  // umk's direct-map view of the doorbell word
u32 g_doorbell_seen = 0;
u64 g_idle_spin_ns = 0;
u64 g_reused_threads = 0;   // retired threads that served a new owner
u32 g_waiting_threads = 0;  // guest threads whose event a task holds (taken, not answered)
u64 g_idle_rounds = 0;      // times the kernel's idle loop ran (every task was blocked)
u32 g_away_threads = 0;     // guest threads answered whose next event is not yet taken
// The wake page: umk's direct-map view, the free words, and each taken word's mailbox.
u32* g_wake_words = nullptr;
std::vector<u32> g_free_words;
std::array<u8*, kWakeWords> g_word_mailbox{};
// The wake last left to the stubs (word index + 1, 0: none) and when; statistics.
u32 g_handed = 0;
u64 g_handed_at = 0;
u64 g_handoff_ns = kHandoffNs;
bool g_fast_syscalls = true;  // Config::fast_syscalls
bool g_use_fsgsbase = true;   // Config::use_fsgsbase

// Whether guest threads may enter through the stub's fast entry (and so get their GS base set
// to their mailbox while the guest has none).
bool fast_entry_enabled() { return g_fast_syscalls && g_shared != nullptr && g_shared->fast_ready; }

u64 g_handoffs = 0;
u64 g_handoffs_taken_back = 0;

// Grows whenever the running task leaves the CPU or every task waits (the idle loop runs on
// the waiting task's stack, without a switch): the same value before and after some work
// means the task did not block in between.
u64 kernel_waits() { return context_switches() + g_idle_rounds; }

u32* doorbell_word() { return g_doorbell; }

}  // namespace

bool host_has_fsgsbase() { return (getauxval(AT_HWCAP2) & 2) != 0; /* HWCAP2_FSGSBASE */ }

u64 host_xcr0() {
  static const u64 xcr0 = [] {
    u32 a = 0, b = 0, c = 0, d = 0;
    // SAFETY: cpuid reads no memory and writes only eax/ebx/ecx/edx, all four named as outputs.
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1u), "c"(0u));
    if ((c & (1u << 27)) == 0) return u64{3};  // no OSXSAVE
    u32 lo = 0, hi = 0;
    // SAFETY: CPUID.1:ECX.OSXSAVE (checked above) makes xgetbv legal; it writes only edx:eax.
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0u));
    return (u64{hi} << 32) | lo;
  }();
  return xcr0;
}

namespace {

void sigchld_handler(int) {
  g_sigchld.store(true, std::memory_order_relaxed);
  if (u32* d = doorbell_word()) __atomic_fetch_add(d, 1, __ATOMIC_SEQ_CST);
}

std::vector<sock_filter> build_filter() {
  enum { kTrap, kAllow, kFutex, kArchPrctl };
  constexpr u16 kLd = Bpf::kLd;
  constexpr u16 kJeq = Bpf::kJeq;
  constexpr u16 kJge = Bpf::kJge;
  constexpr u32 kArg0 = offsetof(seccomp_data, args);
  constexpr u32 kArg1 = offsetof(seccomp_data, args) + 8;
  constexpr u32 kIpLo = offsetof(seccomp_data, instruction_pointer);
  static_assert((kStubBase & 0xffffffffull) == 0 && kStubCodeEnd - kStubBase == 0x1000);
  Bpf b;
  // Anything but a native x86-64 call (int 0x80, x32 numbers fall out below) traps.
  b.stmt(kLd, offsetof(seccomp_data, arch));
  b.jump(kJeq, AUDIT_ARCH_X86_64, -1, kTrap);
  // Calls from outside the stub's code page are the guest's: they trap to the kernel.
  b.stmt(kLd, kIpLo + 4);
  b.jump(kJeq, static_cast<u32>(kStubBase >> 32), -1, kTrap);
  b.stmt(kLd, kIpLo);
  b.jump(kJge, 0x1000, kTrap, -1);
  // From the stub's code page: only what its handler uses. Anything else (a guest that jumped
  // into the stub's code) traps like any guest system call.
  b.stmt(kLd, offsetof(seccomp_data, nr));
  b.jump(kJeq, SYS_futex, kFutex, -1);
  b.jump(kJeq, SYS_arch_prctl, kArchPrctl, -1);
  b.jump(kJeq, SYS_sched_yield, kAllow, -1);
  b.jump(kJeq, SYS_exit, kAllow, kTrap);
  b.label(kFutex);  // FUTEX_WAIT or FUTEX_WAKE (shared), nothing else
  b.stmt(kLd, kArg1);
  b.jump(kJeq, FUTEX_WAIT, kAllow, -1);
  b.jump(kJeq, FUTEX_WAKE, kAllow, kTrap);
  b.label(kArchPrctl);  // ARCH_SET_GS 0x1001 .. ARCH_GET_GS 0x1004
  b.stmt(kLd, kArg0);
  b.jump(kJge, 0x1001, -1, kTrap);
  b.jump(kJge, 0x1005, kTrap, kAllow);
  b.label(kTrap);
  b.stmt(Bpf::kRet, SECCOMP_RET_TRAP);
  b.label(kAllow);
  b.stmt(Bpf::kRet, SECCOMP_RET_ALLOW);
  return b.finish();
}

Result<void> init_shared() {
  if (g_shared != nullptr) return {};
  auto* sh = new Shared;
  sh->config = TRY(Frame::alloc());
  sh->doorbell = TRY(Frame::alloc());
  sh->wake = TRY(Frame::alloc());
  sh->fsgsbase = g_use_fsgsbase && host_has_fsgsbase();
  std::vector<sock_filter> f = build_filter();
  u64 flags = sh->fsgsbase ? 1 : 0;
  TRY(sh->config->write_bytes(CFG_FLAGS, bytes_of(flags)));
  u64 spin = stub_cpus() != nullptr ? kStubSpinIterations : 0;
  TRY(sh->config->write_bytes(8, bytes_of(spin)));
  g_idle_spin_ns = stub_cpus() != nullptr ? kIdleSpinNs : 0;
  struct {
    u16 len;
    u16 pad0;
    u32 pad1;
    u64 filter;
  } prog{static_cast<u16>(f.size()), 0, 0, kStubConfigPage + 64};
  static_assert(sizeof prog == 16);
  TRY(sh->config->write_bytes(32, bytes_of(prog)));
  if (f.size() * sizeof(sock_filter) > 512 - 64) panic("seccomp filter too long");
  if (const cpu_set_t* cpus = stub_cpus()) {
    u64 size = sizeof(cpu_set_t);
    TRY(sh->config->write_bytes(CFG_CPU_MASK_SIZE, bytes_of(size)));
    // SAFETY: cpus is stub_cpus()'s live cpu_set_t, read as its sizeof *cpus bytes (u8 aliases).
    TRY(sh->config->write_bytes(STUB_CONFIG_CPU_MASK,
                                std::span<const u8>(reinterpret_cast<const u8*>(cpus), sizeof *cpus)));
  }
  // SAFETY: f's f.size() sock_filters are contiguous plain data, <= 448 bytes (checked above).
  TRY(sh->config->write_bytes(
      64, std::span<const u8>(reinterpret_cast<const u8*>(f.data()), f.size() * sizeof(sock_filter))));
  // SAFETY: the doorbell and wake frames are page-aligned u32 arrays, held by g_shared (never
  // freed) and always in the direct map, so these views stay valid for the process's life.
  g_doorbell = reinterpret_cast<u32*>(arch::phys_to_virt(sh->doorbell->paddr()));
  g_wake_words = reinterpret_cast<u32*>(arch::phys_to_virt(sh->wake->paddr()));
  g_free_words.clear();
  for (u32 i = kWakeWords; i-- > 0;) g_free_words.push_back(i);  // lowest first
  g_shared = sh;

  // Stub stops (control thread) now wake the idle loop's futex wait through SIGCHLD.
  struct sigaction sa {};
  sa.sa_handler = sigchld_handler;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGCHLD, &sa, nullptr);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_UNBLOCK, &set, nullptr);
  kLog.debug("seccomp platform: filter of {} instructions, fsgsbase {}", f.size(), sh->fsgsbase);
  return {};
}

u8* mailbox_ptr(const arch::UserThread& t) { return arch::phys_to_virt(t.as->slots.at(t.slot)->mailbox.paddr()); }
// SAFETY: callers pass p with 4 bytes left in a held, mapped frame and 4-aligned (MB_* offsets
// are; the fx + 464.. words assume the guest-written fpregs pointer is aligned).
u32 load32(const u8* p) { return __atomic_load_n(reinterpret_cast<const u32*>(p), __ATOMIC_ACQUIRE); }
void store32(u8* p, u32 v) { __atomic_store_n(reinterpret_cast<u32*>(p), v, __ATOMIC_RELEASE); }
// SAFETY: callers pass p with 8 readable bytes left in a held, mapped frame (no alignment needed).
u64 load64(const u8* p) {
  u64 v = 0;
  std::memcpy(&v, p, sizeof v);
  return v;
}
// SAFETY: callers pass p with 8 writable bytes left in a held mailbox frame (MB_* offsets).
void store64(u8* p, u64 v) { std::memcpy(p, &v, sizeof v); }

// Slot `slot`'s mailbox, at the stub's address.
u64 mailbox_va(u32 slot) { return kStubMailboxes + u64{slot} * kPageSize; }

// Where slot `slot`'s thread sleeps, as the stub sees it: its word in the wake page, or the
// state word of its mailbox (reply_word is the kernel's view of the same word).
u64 wake_word_va(const arch::SeccompSlot& sl, u32 slot) {
  u32 idx = sl.wake.index();
  return idx == arch::WakeWord::kNone ? mailbox_va(slot) + kMbState : kStubWakePage + u64{idx} * 4;
}

u64 alt_base(u32 slot) { return kStubAltStacks + slot * kStubAltStackSize + kStubAltStackSize - kAltStackBytes; }

// The direct-map address of [va, va + len) when it lies inside the thread's altstack.
u8* alt_ptr(const arch::UserThread& t, u64 va, u64 len) {
  u64 base = alt_base(t.slot);
  if (va < base || len > kAltStackBytes || va - base > kAltStackBytes - len) return nullptr;
  return arch::phys_to_virt(t.as->slots.at(t.slot)->altstack.paddr()) + (va - base);
}

// [fpregs, +len) of a signal frame, when it lies inside the thread's altstack and is 64-byte
// aligned, as every XSAVE image is (the host's and the fast entry's): a forged pointer that is
// not would make the loads of its software words misaligned.
u8* fpu_ptr(const arch::UserThread& t, const KUcontext& k, u64 len) {
  return k.fpregs % 64 == 0 ? alt_ptr(t, k.fpregs, len) : nullptr;
}

bool thread_alive(const arch::UserThread& t) { return !t.as->control.gone && load32(mailbox_ptr(t) + kMbCtid) != 0; }

void futex_wake(u32* word) { syscall(SYS_futex, word, FUTEX_WAKE, 1, nullptr, nullptr, 0); }

// After a reply in the slot's mailbox: the futex word its thread sleeps on (stub_wait), changed
// so that a FUTEX_WAIT the thread is about to make fails — its word in the wake page, bumped
// here, or else its mailbox's state word, which the reply changed.
u32* reply_word(const arch::SeccompSlot& sl) {
  u32 idx = sl.wake.index();
  if (idx == arch::WakeWord::kNone) {
    // SAFETY: sl holds its page-aligned mailbox frame; MB_STATE (0) is its u32 state word.
    return reinterpret_cast<u32*>(arch::phys_to_virt(sl.mailbox.paddr()) + kMbState);
  }
  __atomic_fetch_add(g_wake_words + idx, 1, __ATOMIC_SEQ_CST);
  return g_wake_words + idx;
}

// Tells the slot's thread, parked in the stub's handler, to exit the host thread (its clear-tid
// word then frees the slot).
void tell_exit(const arch::SeccompSlot& sl) {
  u8* m = arch::phys_to_virt(sl.mailbox.paddr());
  store64(m + kMbCmd, 1);
  store32(m + kMbState, kReplied);
  futex_wake(reply_word(sl));
}

// A guest thread is about to need a CPU (woken from its futex, or new): stubs spinning for a
// reply see the epoch change and sleep instead, so they do not keep it off their CPU (a
// spinner's sched_yield does not reliably hand the CPU over).
void bump_wake_epoch() {
  if (u32* d = doorbell_word()) __atomic_fetch_add(d + 4, 1, __ATOMIC_SEQ_CST);
}

// The thread's event is answered (or the thread is gone): one fewer in the crowd.
void stop_waiting(arch::UserThread& t) {
  if (!t.waiting) return;
  t.waiting = false;
  --g_waiting_threads;
}

// The thread's next event is taken (or it is gone): one fewer guest thread away.
void stop_away(arch::UserThread& t) {
  if (!t.away) return;
  t.away = false;
  --g_away_threads;
}

// Clears the doorbell's hand-off if it still names wake word `idx` (no stub took it).
bool clear_handoff(u32 idx) {
  u32 expect = idx + 1;
  return __atomic_compare_exchange_n(g_doorbell + kDbHandoff, &expect, 0, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

// The wake left to the stubs, if any, is settled: taken back if no stub took it, and the
// thread woken by the kernel if it still sleeps with its reply (a stub that took the hand-off
// may not have woken it yet: a second wake is harmless; the doorbell page is guest-writable,
// so a guest can also have erased the hand-off). `force`: now; else only once it is
// g_handoff_ns old. The hand-off state is shared by every task's calls: no task switch
// inside (one that settled it meanwhile left an index of -1 here once).
void settle_handoff(bool force) {
  irq::PreemptGuard no_switch;
  if (g_handed == 0) return;
  if (!force && arch::monotonic_ns() - g_handed_at < g_handoff_ns) return;
  u32 idx = g_handed - 1;
  g_handed = 0;
  if (clear_handoff(idx)) ++g_handoffs_taken_back;
  u8* m = g_word_mailbox.at(idx);
  if (m != nullptr && load32(m + kMbSleeping) != 0 && load32(m + kMbState) == kReplied) {
    bump_wake_epoch();
    futex_wake(g_wake_words + idx);
  }
}

// Wakes the stub thread t, which sleeps for the reply just written. Waking a guest CPU from the
// kernel's costs the kernel several microseconds (an IPI), so while another guest thread is
// away (it will post, or yield, soon) the wake is left to the stubs: the next one to give up
// its CPU does it (stub_handoff), and settle_handoff takes back what none took.
void wake_stub(arch::UserThread& t) {
  irq::PreemptGuard no_switch;  // (the hand-off state, as in settle_handoff)
  const arch::SeccompSlot& sl = *t.as->slots.at(t.slot);
  u32 idx = sl.wake.index();
  u32* word = reply_word(sl);
  // (On one CPU the kernel's wake is a local one: nothing to save.)
  if (idx == arch::WakeWord::kNone || g_away_threads == 0 || g_idle_spin_ns == 0) {
    bump_wake_epoch();
    futex_wake(word);
    return;
  }
  settle_handoff(true);  // one at a time
  g_handed = idx + 1;
  g_handed_at = arch::monotonic_ns();
  ++g_handoffs;
  __atomic_store_n(g_doorbell + kDbHandoff, idx + 1, __ATOMIC_SEQ_CST);
}

// Before the reply: the crowd (how many other guest threads wait for the kernel), and whether
// the system call just handled blocked (its task left the CPU or the kernel idled), kept in
// the mailbox as the stub's hint for the next call of that number. Only hints: the guest can
// write its mailboxes, and a wrong one costs a sched_yield.
void note_blocking(arch::UserThread& t, u8* m) {
  stop_waiting(t);
  store32(m + kMbCrowd, g_waiting_threads);
  if (t.taken_nr >= kBlockBits || g_idle_spin_ns == 0) return;
  // The hint says "blocks" after two blocking calls in a row: a writer that fills a pipe
  // blocks one write in three, and yielding before each following one costs more than it saves.
  bool now_blocked = kernel_waits() != t.taken_switches;
  u64& last = t.blocked_last.at(t.taken_nr / 64);
  u64 last_bit = u64{1} << (t.taken_nr % 64);
  bool blocked = now_blocked && (last & last_bit) != 0;
  last = now_blocked ? (last | last_bit) : (last & ~last_bit);
  u8* byte = m + kMbBlocks + t.taken_nr / 8;
  u8 bit = static_cast<u8>(1u << (t.taken_nr % 8));
  u8 old = __atomic_load_n(byte, __ATOMIC_RELAXED);
  u8 now = blocked ? (old | bit) : (old & ~bit);
  if (now != old) __atomic_store_n(byte, now, __ATOMIC_RELAXED);
  t.taken_nr = ~0u;
}

ReturnReason lost(arch::UserThread& t, const char* why) {
  stop_waiting(t);
  stop_away(t);
  kLog.error("guest thread {} (slot {}) lost: {}", t.t.tid, t.slot, std::string_view(why));
  t.parked = false;
  t.t.gone = true;
  return exception_reason(ExceptionKind::Unknown, ~0u);
}

// Waits until the thread posts an event (true) or is gone (false), kicking it once when
// `call(pred)` says the kernel needs it back.
bool wait_posted(arch::UserThread& t, void* pred, bool (*call)(void*)) {
  struct Ctx {
    arch::UserThread* t;
  } c{&t};
  bool kicked = false;
  u64 kicked_at = 0;
  if (g_idle_spin_ns != 0) {
    // The stub runs on another CPU and most system calls post again within microseconds:
    // wait right here while no other task wants this CPU (no trip through the idle loop).
    u8* state = mailbox_ptr(t) + kMbState;
    u64 deadline = 0;
    for (u32 i = 1;; ++i) {
      if (load32(state) == kPosted) return true;
      // Another task that can run (one this call woke: its reply, or the hand-off of its
      // stub's wake, is what the guests wait for next) goes first, at once.
      if (arch::cpu_local().rq_head != nullptr) break;
      __builtin_ia32_pause();
      if ((i & 63) != 0) continue;
      settle_handoff(false);
      if (g_sigchld.load(std::memory_order_relaxed) || !thread_alive(t) || call(pred)) break;
      u64 now = arch::monotonic_ns();
      if (deadline == 0) deadline = now + kTaskSpinNs;
      if (now > deadline) break;
    }
  }
  for (;;) {
    bool ready = wait_ready(
        [](void* a) {
          // SAFETY: wait_ready hands back &c, the Ctx above, alive until wait_posted returns.
          auto* ct = static_cast<Ctx*>(a);
          return load32(mailbox_ptr(*ct->t) + kMbState) == kPosted || !thread_alive(*ct->t);
        },
        &c, call, pred);
    if (ready) return load32(mailbox_ptr(t) + kMbState) == kPosted;
    if (!kicked) {
      syscall(SYS_tgkill, t.as->pid, t.t.tid, kKickSignal);
      kicked = true;
      kicked_at = arch::monotonic_ns();
    } else if (arch::monotonic_ns() - kicked_at > kKickTimeoutNs) {
      // The stub's handler drops a kick only when its post is under way (the wait above then
      // sees it); a thread silent this long was derailed (its mailbox or frame overwritten by
      // the guest itself).
      return false;
    }
  }
}

}  // namespace

Result<void> seccomp_boot() { return init_shared(); }

Result<void> seccomp_setup_space(arch::AddressSpace& as) {
  TRY(init_shared());
  as.pending.push_back(
      {SYS_mmap,
       {kStubConfigPage, kPageSize, PROT_READ, MAP_SHARED | MAP_FIXED, kStubMemFd, g_shared->config->paddr()}});
  as.pending.push_back({SYS_mmap,
                        {kStubDoorbellPage, kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, kStubMemFd,
                         g_shared->doorbell->paddr()}});
  as.pending.push_back(
      {SYS_mmap, {kStubWakePage, kPageSize, PROT_READ, MAP_SHARED | MAP_FIXED, kStubMemFd, g_shared->wake->paddr()}});
  for (int sig : {SIGSYS, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, kKickSignal}) {
    as.pending.push_back({SYS_rt_sigaction, {static_cast<u64>(sig), kStubSigAction, 0, 8, 0, 0}});
  }
  return {};
}

bool seccomp_slot_free(arch::AddressSpace& as, u32 slot) {
  if (slot >= as.slots.size() || !as.slots[slot]) return true;
  return load32(arch::phys_to_virt(as.slots[slot]->mailbox.paddr()) + kMbCtid) == 0;
}

namespace {
// One more round of a bounded wait for something the host does (a thread exiting, a thread
// falling asleep): false once `timeout_ns` has passed since the first round (`deadline` 0);
// otherwise lets other kernel tasks run meanwhile (the parent of an exiting process, say) or,
// with none runnable, gives the host CPU to whoever else wants it.
bool pause_before_retry(u64& deadline, u64 timeout_ns) {
  u64 now = arch::monotonic_ns();
  if (deadline == 0) deadline = now + timeout_ns;
  if (now >= deadline) return false;
  if (arch::cpu_local().rq_head != nullptr) {
    Task::yield_now();
  } else {
    sched_yield();
  }
  return true;
}
}  // namespace

bool seccomp_threads_gone(arch::AddressSpace& as, u64 timeout_ns) {
  // The prepared thread (parked, never let run guest code of this owner) is not counted.
  pid_t keep = as.prepared ? as.prepared->tid : 0;
  u64 deadline = 0;
  for (;;) {
    // tgkill with signal 0 finds a thread only while it exists in this very process (a tid the
    // host recycled elsewhere does not match the thread group).
    std::erase_if(as.thread_tids,
                  [&](pid_t tid) { return tid != keep && syscall(SYS_tgkill, as.pid, tid, 0) != 0 && errno == ESRCH; });
    if (std::ranges::all_of(as.thread_tids, [&](pid_t tid) { return tid == keep; })) return true;
    if (!pause_before_retry(deadline, timeout_ns)) return false;
  }
}

namespace {
// Makes the retired prepared thread's slot look like that of a thread that just started: its
// altstack holds only the pristine frame, its mailbox the park event, so that it serves the
// next owner exactly as a new thread would (registers, FPU state and FS/GS are all set again
// on its first resume: the FS/GS bases are marked unknown).
void restore_retired(arch::AddressSpace& as) {
  arch::PreparedThread& p = *as.prepared;
  arch::SeccompSlot& sl = *as.slots.at(p.slot);
  u8* alt = arch::phys_to_virt(sl.altstack.paddr());
  // SAFETY: the slot's altstack is kAltFrames contiguous frames (kAltStackBytes); pristine was
  // taken by alt_ptr from pristine_sp up to the altstack's top, so it ends there.
  std::memset(alt, 0, kAltStackBytes);
  std::memcpy(alt + (sl.pristine_sp - alt_base(p.slot)), sl.pristine.data(), sl.pristine.size());
  u8* m = arch::phys_to_virt(sl.mailbox.paddr());
  // SAFETY: m is the slot's mailbox, one whole frame held by sl.
  std::memset(m, 0, kPageSize);
  store32(m + kMbCtid, static_cast<u32>(p.tid));
  store64(m + kMbWakeWord, wake_word_va(sl, p.slot));
  store64(m + kMbFastEntry, kStubFastSyscall);
  store64(m + kMbSelf, mailbox_va(p.slot));
  store64(m + kMbSigno, SIGILL);
  store64(m + kMbSiginfo, sl.pristine_si);
  store64(m + kMbUc, sl.pristine_sp + 8);
  store64(m + kMbRsp, sl.pristine_sp);
  store64(m + kMbFs, ~0ull);
  store64(m + kMbGs, ~0ull);
  store32(m + kMbSleeping, 1);  // asleep (verified): the first resume must wake it
  store32(m + kMbState, kPosted);
  p.retired = false;
  p.reused = true;
}
}  // namespace

void seccomp_reset_space(arch::AddressSpace& as) {
  as.free_slots.clear();
  std::optional<u32> keep;
  if (as.prepared) keep = as.prepared->slot;
  for (u32 s = 0; s < as.slots.size(); ++s) {
    if (!as.slots[s]) continue;
    if (keep == s) {
      // A new prepared thread is left as it is (nothing but the stub ran since it started).
      if (as.prepared->retired) restore_retired(as);
      continue;
    }
    // SAFETY: slot s holds its one-frame mailbox and its kAltStackBytes (kAltFrames-frame)
    // altstack segment; both lie in the direct map.
    std::memset(arch::phys_to_virt(as.slots[s]->mailbox.paddr()), 0, kPageSize);
    std::memset(arch::phys_to_virt(as.slots[s]->altstack.paddr()), 0, kAltStackBytes);
  }
  // Lowest slots first (create_user_thread takes the first free one).
  for (u32 s = 0; s < as.next_slot; ++s) {
    if (keep != s) as.free_slots.push_back(s);
  }
  as.live_threads = 0;
}

u64 reused_stub_threads() { return g_reused_threads; }
void set_fast_syscalls(bool on) { g_fast_syscalls = on; }
void set_use_fsgsbase(bool on) {
  if (g_shared == nullptr) g_use_fsgsbase = on;
}
bool guests_may_use_fsgsbase() { return host_has_fsgsbase() && (!seccomp_platform() || g_use_fsgsbase); }
u32 seccomp_fast_syscall_gs_offset() {
  return seccomp_platform() && fast_entry_enabled() ? static_cast<u32>(kMbFastEntry) : 0;
}
HandoffStats stub_handoffs() { return {g_handoffs, g_handoffs_taken_back}; }
u64 set_stub_handoff_window_ns(u64 ns) {
  u64 old = g_handoff_ns;
  g_handoff_ns = ns;
  return old;
}

bool seccomp_verify_retired(arch::AddressSpace& as) {
  if (!as.prepared || !as.prepared->retired) return true;
  const arch::PreparedThread& p = *as.prepared;
  if (p.slot >= as.slots.size() || !as.slots[p.slot] || as.slots[p.slot]->pristine.empty()) {
    return false;
  }
  const u64 want_sp = as.slots[p.slot]->pristine_sp;
  const u64 want_word = wake_word_va(*as.slots[p.slot], p.slot);
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", as.pid, p.tid);
  u64 deadline = 0;
  for (;;) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    std::array<char, 256> buf{};
    ssize_t n = read(fd, buf.data(), buf.size() - 1);
    close(fd);
    if (n <= 0) return false;
    // "nr arg0..arg5 sp pc" while blocked in a system call; "running" while on a CPU.
    std::array<unsigned long long, 9> v{};
    if (std::sscanf(buf.data(), "%llu %llx %llx %llx %llx %llx %llx %llx %llx", &v[0], &v[1], &v[2], &v[3], &v[4],
                    &v[5], &v[6], &v[7], &v[8]) == 9) {
      return v[0] == SYS_futex && v[1] == want_word && v[2] == FUTEX_WAIT && v[7] == want_sp &&
             v[8] == kStubSleepReturn;
    }
    // Still spinning for the reply (end_thread bumped the wake epoch: it sleeps as soon as it
    // gets its CPU, which on a loaded host can take a scheduler slice or two).
    if (!pause_before_retry(deadline, kRetiredSettleNs)) return false;
  }
}

void seccomp_drop_prepared(arch::AddressSpace& as) {
  if (!as.prepared) return;
  u32 slot = as.prepared->slot;
  as.prepared.reset();
  if (slot >= as.slots.size() || !as.slots[slot]) return;
  tell_exit(*as.slots[slot]);
  // Reused once its clear-tid word says the thread is gone (create_user_thread checks).
  as.free_slots.push_back(slot);
}

namespace {

// Clones a guest thread into `slot` (mapping the slot's pages when new) and returns its tid
// without waiting for it to park.
Result<pid_t> clone_thread(arch::AddressSpace& as, u32 slot) {
  if (as.slots.size() <= slot) as.slots.resize(slot + 1);
  u64 alt = alt_base(slot);
  u64 mb = mailbox_va(slot);
  if (!as.slots[slot]) {
    Segment seg = TRY(Segment::alloc(kAltFrames));
    Frame mbox = TRY(Frame::alloc());
    as.pending.push_back(
        {SYS_mmap, {alt, kAltStackBytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, kStubMemFd, seg.paddr()}});
    as.pending.push_back(
        {SYS_mmap, {mb, kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, kStubMemFd, mbox.paddr()}});
    TRY(flush_locked(as));
    u8* mp = arch::phys_to_virt(mbox.paddr());
    as.slots[slot] = arch::SeccompSlot{std::move(seg), std::move(mbox), arch::WakeWord::take(mp), {}, 0, 0};
  }
  u8* m = arch::phys_to_virt(as.slots[slot]->mailbox.paddr());
  // SAFETY: m is slot `slot`'s mailbox, one whole frame held by as.slots[slot].
  std::memset(m, 0, kPageSize);
  store64(m + kMbWakeWord, wake_word_va(*as.slots[slot], slot));
  stack_t ss{};
  // SAFETY: alt is a stub address, never dereferenced here; stack_t fits at MB_STACK (128..152).
  ss.ss_sp = reinterpret_cast<void*>(alt);
  ss.ss_size = kAltStackBytes;
  std::memcpy(m + kMbStack, &ss, sizeof ss);
  store64(m + kMbFastEntry, kStubFastSyscall);
  store64(m + kMbSelf, mb);
  store32(m + kMbCtid, 1);  // until CLONE_CHILD_SETTID writes the tid (0 once it exits)

  user_regs_struct r = as.base_regs;
  r.rip = kStubClone;
  r.rax = SYS_clone;
  r.orig_rax = ~0ull;
  r.rdi = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | CLONE_CHILD_SETTID |
          CLONE_CHILD_CLEARTID;
  r.rsi = 0;
  r.rdx = 0;
  r.r10 = mb + kMbCtid;
  r.r8 = 0;
  r.r12 = mb + kMbStack;
  r.r13 = kStubConfigPage + 32;
  bump_wake_epoch();
  i64 tid = TRY(run_stub(as.control, r));
  if (tid <= 0) {
    store32(m + kMbCtid, 0);
    kLog.error("clone in stub {} failed: {}", as.pid, tid);
    return Errno::eagain;
  }
  // Born on the control thread's CPU (the kernel's, which the kernel keeps busy): move it to the
  // guests' CPUs now rather than when it first runs, so it does not wait for the kernel to sleep.
  if (const cpu_set_t* cpus = stub_cpus(); cpus != nullptr) {
    (void)sched_setaffinity(static_cast<pid_t>(tid), sizeof *cpus, cpus);
  }
  // Forget the threads that are gone now and then (a process that starts many threads).
  if (as.thread_tids.size() >= 2 * as.live_threads + 64) (void)seccomp_threads_gone(as, 0);
  as.thread_tids.push_back(static_cast<pid_t>(tid));
  return static_cast<pid_t>(tid);
}

// The fast entry builds frames like the host's: it needs the size of the host's XSAVE image
// and the features it saves (the software words at fxsave +464 of a frame the host made).
void learn_xsave_frame(const arch::UserThread& t, const KUcontext& k) {
  const u8* fx = fpu_ptr(t, k, 512);
  if (fx == nullptr || load32(fx + 464) != 0x46505853u /* FP_XSTATE_MAGIC1 */) return;
  u32 size = load32(fx + 480);
  u64 features = load64(fx + 472);
  if (size < 576 || size > 16384 || load32(fx + 468) != size + 4) return;
  if (g_shared->config->write_bytes(CFG_XFEATURES, bytes_of(features)).is_error() ||
      g_shared->config->write_bytes(CFG_XSAVE_SIZE, bytes_of(size)).is_error()) {
    return;
  }
  g_shared->fast_ready = true;
}

// Waits until the new thread t has parked: it installs its altstack and filter, then parks
// through ud2 at stub_park.
Result<void> await_park(arch::UserThread& t, bool trusted) {
  if (!wait_posted(t, nullptr, [](void*) { return false; })) {
    kLog.error("new guest thread {} died before parking", t.t.tid);
    return Errno::eagain;
  }
  u8* m = mailbox_ptr(t);
  u64 uc = load64(m + kMbUc);
  const u8* ucp = alt_ptr(t, uc, sizeof(KUcontext));
  KUcontext k{};
  // SAFETY: a non-null ucp has sizeof(KUcontext) bytes in the thread's altstack (alt_ptr).
  if (ucp != nullptr) std::memcpy(&k, ucp, sizeof k);
  if (ucp == nullptr || load64(m + kMbSigno) != SIGILL || k.gregs[kRip] != kStubPark) {
    kLog.error("new guest thread {} parked wrongly (signal {}, rip {:#x})", t.t.tid, load64(m + kMbSigno),
               k.gregs[kRip]);
    return Errno::eagain;
  }
  t.parked = true;
  t.uc_va = uc;
  t.fs_known = load64(m + kMbFs);
  t.gs_known = load64(m + kMbGs);
  if (!g_shared->fast_ready) learn_xsave_frame(t, k);
  arch::SeccompSlot& sl = *t.as->slots.at(t.slot);
  if (trusted && sl.pristine.empty() && load64(m + kMbRsp) == uc - 8) {
    // No guest code ran in the process since this thread started: its frame is the stub's.
    u64 sp = uc - 8;
    u64 top = alt_base(t.slot) + kAltStackBytes;
    if (const u8* p = alt_ptr(t, sp, top - sp)) {
      sl.pristine.assign(p, p + (top - sp));
      sl.pristine_sp = sp;
      sl.pristine_si = load64(m + kMbSiginfo);
    }
  }
  return {};
}

}  // namespace

Result<void> seccomp_start_thread(arch::AddressSpace& as, arch::UserThread& t, bool first) {
  if (as.prepared) {
    // A thread started while the process was a spare (it never ran guest code), or the
    // previous owner's last thread, verified and reset.
    t.slot = as.prepared->slot;
    t.t.tid = as.prepared->tid;
    if (as.prepared->reused) ++g_reused_threads;
    as.prepared.reset();
    return await_park(t, true);
  }
  t.t.tid = TRY(clone_thread(as, t.slot));
  return await_park(t, first);
}

Result<void> seccomp_prepare_thread(arch::AddressSpace& as) {
  if (as.prepared) return {};
  u32 slot = 0;
  if (!as.free_slots.empty()) {
    slot = as.free_slots.front();
    as.free_slots.erase(as.free_slots.begin());
  } else {
    slot = as.next_slot++;
  }
  Result<pid_t> tid = clone_thread(as, slot);
  if (tid.is_error()) {
    as.free_slots.insert(as.free_slots.begin(), slot);
    return tid.error();
  }
  as.prepared = arch::PreparedThread{slot, tid.value(), false, false};
  return {};
}

bool seccomp_end_thread(arch::UserThread& t) {
  stop_waiting(t);
  stop_away(t);
  if (t.t.tid == 0 || t.slot >= t.as->slots.size() || !t.as->slots[t.slot]) return false;
  if (!t.parked || !thread_alive(t)) return false;
  arch::AddressSpace& as = *t.as;
  if (seccomp_platform() && as.live_threads == 1 && !as.prepared && !as.slots[t.slot]->pristine.empty()) {
    // The process's last thread: starting a thread costs the control thread a clone and the
    // new thread its set-up, so it stays parked as the stub's next owner's first thread.
    // keep_spare trusts it only after finding it asleep where the stub sleeps.
    as.prepared = arch::PreparedThread{t.slot, t.t.tid, true, false};
    t.parked = false;
    t.retired = true;
    bump_wake_epoch();  // a handler spinning for the reply sleeps instead
    return true;
  }
  tell_exit(*t.as->slots[t.slot]);
  t.parked = false;
  return false;
}

ReturnReason seccomp_execute(arch::UserThread& t, VmSpace& vm, UserContext& ctx, void* pred, bool (*call)(void*)) {
  if (!t.parked || t.t.gone) return lost(t, "not parked");
  settle_handoff(false);  // the kernel may have been busy since it left a wake to the stubs
  if (!t.as->pending.empty() && vm.flush().is_error()) return lost(t, "mapping flush failed");
  u8* m = mailbox_ptr(t);
  u8* ucp = alt_ptr(t, t.uc_va, sizeof(KUcontext));
  if (ucp == nullptr) return lost(t, "bad frame");
  const GeneralRegs& g = ctx.regs();
  KUcontext k{};
  // SAFETY: ucp is non-null: alt_ptr found sizeof(KUcontext) bytes in the thread's altstack.
  std::memcpy(&k, ucp, sizeof k);
  k.gregs[kR8] = g.r8;
  k.gregs[kR9] = g.r9;
  k.gregs[kR10] = g.r10;
  k.gregs[kR11] = g.r11;
  k.gregs[kR12] = g.r12;
  k.gregs[kR13] = g.r13;
  k.gregs[kR14] = g.r14;
  k.gregs[kR15] = g.r15;
  k.gregs[kRdi] = g.rdi;
  k.gregs[kRsi] = g.rsi;
  k.gregs[kRbp] = g.rbp;
  k.gregs[kRbx] = g.rbx;
  k.gregs[kRdx] = g.rdx;
  k.gregs[kRax] = g.rax;
  k.gregs[kRcx] = g.rcx;
  k.gregs[kRsp] = g.rsp;
  k.gregs[kRip] = g.rip;
  k.gregs[kEfl] = (g.rflags & 0x244dd5ull) | 0x202ull;
  // 64-bit user code and stack segments (cs 0x33, ss 0x2b), whatever the frame said: a frame
  // taken in a compat (sysenter/int 0x80) entry carries the 32-bit code segment.
  k.gregs[kCsgsfs] = 0x33ull | (0x2bull << 48);
  k.flags |= 0x2;  // UC_SIGCONTEXT_SS: restore ss from the frame
  k.sigmask = 0;
  k.ss_sp = alt_base(t.slot);
  k.ss_flags = 0;
  k.ss_size = kAltStackBytes;
  // SAFETY: the same sizeof k altstack bytes ucp was checked for and read from above.
  std::memcpy(ucp, &k, sizeof k);
  u64 set = 0;
  u64 fs = g.fs_base < kGuestTop ? g.fs_base : 0;
  u64 gs = g.gs_base < kGuestTop ? g.gs_base : 0;
  if (gs == 0 && fast_entry_enabled()) gs = mailbox_va(t.slot);  // for `jmp *%gs:152`
  if (fs != t.fs_known) {
    set |= 1;
    store64(m + kMbNewFs, fs);
    t.fs_known = fs;
  }
  if (gs != t.gs_known) {
    set |= 2;
    store64(m + kMbNewGs, gs);
    t.gs_known = gs;
  }
  store64(m + kMbSetFlags, set);
  store64(m + kMbCmd, 0);
  note_blocking(t, m);
  t.parked = false;
  // SAFETY: m is the slot's page-aligned mailbox frame; MB_STATE (0) is a u32 word.
  __atomic_store_n(reinterpret_cast<u32*>(m + kMbState), kReplied, __ATOMIC_SEQ_CST);
  if (load32(m + kMbSleeping) != 0) wake_stub(t);
  t.away = true;
  ++g_away_threads;

  if (!wait_posted(t, pred, call)) return lost(t, "exited");
  stop_away(t);
  t.parked = true;
  // Copy everything once: guest threads of this process can write these pages concurrently.
  u64 signo = load64(m + kMbSigno);
  u64 uc = load64(m + kMbUc);
  u64 si = load64(m + kMbSiginfo);
  const u8* nucp = alt_ptr(t, uc, sizeof(KUcontext));
  const u8* sip = alt_ptr(t, si, 48);
  if (nucp == nullptr || sip == nullptr) return lost(t, "bad frame pointers");
  t.uc_va = uc;
  // SAFETY: both non-null: alt_ptr found sizeof(KUcontext) and 48 bytes in the altstack.
  std::memcpy(&k, nucp, sizeof k);
  std::array<u8, 48> info{};
  std::memcpy(info.data(), sip, info.size());
  i32 code = 0;
  // SAFETY: bytes 8..12 (si_code) of info's 48 into the 4-byte code.
  std::memcpy(&code, info.data() + 8, 4);
  t.taken_nr = ~0u;
  if (!t.waiting) {
    t.waiting = true;
    ++g_waiting_threads;
  }
  if (signo == SIGSYS) {
    // SAFETY: bytes 24..28 of info's 48 into the u32 taken_nr.
    std::memcpy(&t.taken_nr, info.data() + 24, 4);  // si_syscall
    t.taken_switches = kernel_waits();
  }
  u64 fault_addr = 0;
  // SAFETY: bytes 16..24 (si_addr) of info's 48 into the u64 fault_addr.
  std::memcpy(&fault_addr, info.data() + 16, 8);
  t.fs_known = load64(m + kMbFs);
  t.gs_known = load64(m + kMbGs);

  GeneralRegs& o = ctx.regs();
  o.r8 = k.gregs[kR8];
  o.r9 = k.gregs[kR9];
  o.r10 = k.gregs[kR10];
  o.r11 = k.gregs[kR11];
  o.r12 = k.gregs[kR12];
  o.r13 = k.gregs[kR13];
  o.r14 = k.gregs[kR14];
  o.r15 = k.gregs[kR15];
  o.rdi = k.gregs[kRdi];
  o.rsi = k.gregs[kRsi];
  o.rbp = k.gregs[kRbp];
  o.rbx = k.gregs[kRbx];
  o.rdx = k.gregs[kRdx];
  o.rax = k.gregs[kRax];
  o.rcx = k.gregs[kRcx];
  o.rsp = k.gregs[kRsp];
  o.rip = k.gregs[kRip];
  o.rflags = k.gregs[kEfl];
  o.fs_base = t.fs_known;
  o.gs_base = t.gs_known == mailbox_va(t.slot) ? 0 : t.gs_known;  // the guest's is 0

  switch (signo) {
    case SIGSYS: {
      u32 arch = 0;
      // SAFETY: bytes 28..32 (si_arch) of info's 48 into the u32 arch.
      std::memcpy(&arch, info.data() + 28, 4);
      if (code != 1 /* SYS_SECCOMP */ || arch != AUDIT_ARCH_X86_64) {
        // int 0x80 / sysenter: no IA-32 emulation, so a #GP as on such a kernel.
        return exception_reason(ExceptionKind::GeneralProtection, 13);
      }
      // The host rolled rax back to the system call number.
      ReturnReason rr;
      rr.kind = ReturnReason::Kind::Syscall;
      return rr;
    }
    case SIGSEGV: {
      u64 trapno = k.gregs[kTrapno];
      u64 err = k.gregs[kErr];
      if (trapno != 14 || (code != SEGV_MAPERR && code != SEGV_ACCERR && code != 4)) {
        return exception_reason(ExceptionKind::GeneralProtection, 13);
      }
      ReturnReason rr = exception_reason(ExceptionKind::PageFault, 14);
      rr.exception.address = fault_addr;
      rr.exception.error_code = err & 0x1f;
      rr.exception.present = code == SEGV_ACCERR;
      rr.exception.access = (err & 0x10) != 0 ? Access::Execute : (err & 2) != 0 ? Access::Write : Access::Read;
      return rr;
    }
    case SIGILL: return exception_reason(ExceptionKind::InvalidOpcode, 6);
    case SIGFPE:
      if (code == FPE_INTDIV) return exception_reason(ExceptionKind::DivideError, 0);
      if (code == FPE_INTOVF) return exception_reason(ExceptionKind::Overflow, 4);
      return exception_reason(ExceptionKind::SimdFloatingPoint, 19);
    case SIGTRAP:
      if (code == SI_KERNEL) return exception_reason(ExceptionKind::Breakpoint, 3);
      return exception_reason(ExceptionKind::Debug, 1);
    case SIGBUS:
      if (code == BUS_ADRALN) return exception_reason(ExceptionKind::AlignmentCheck, 17);
      return exception_reason(ExceptionKind::GeneralProtection, 13);
    default: {
      // The kick (or a forged signal number): the kernel wanted the CPU back.
      ReturnReason rr;
      rr.kind = ReturnReason::Kind::KernelEvent;
      return rr;
    }
  }
}

namespace {
// The FPU image inside the parked frame: the host's XSAVE image (its size and features in the
// software-reserved words at +464) or a bare FXSAVE area; an empty span when the frame is not
// usable.
struct FrameFpu {
  std::span<u8> img;
  bool xsave = false;
  u64 xfeatures = 0;
};
FrameFpu parked_fpu(arch::UserThread& t) {
  if (!t.parked) return {};
  const u8* ucp = alt_ptr(t, t.uc_va, sizeof(KUcontext));
  if (ucp == nullptr) return {};
  KUcontext k{};
  // SAFETY: ucp is non-null: alt_ptr found sizeof(KUcontext) bytes in the thread's altstack.
  std::memcpy(&k, ucp, sizeof k);
  u8* fx = fpu_ptr(t, k, 512);
  if (fx == nullptr) return {};
  if (load32(fx + 464) != 0x46505853u /* FP_XSTATE_MAGIC1 */) return {{fx, 512}, false, 3};
  u32 size = load32(fx + 480);
  u8* img = size >= 576 && size <= 16384 ? fpu_ptr(t, k, size) : nullptr;
  if (img == nullptr) return {{fx, 512}, false, 3};
  // The frame is guest-writable: features the CPU does not have would make the stub's xrstor fault.
  return {{img, size}, true, load64(fx + 472) & host_xcr0()};
}
}  // namespace

Result<FpuState> seccomp_get_fpu(arch::UserThread& t) {
  FrameFpu f = parked_fpu(t);
  if (f.img.empty()) return Errno::esrch;
  return fpu_internal::load_image(f.img, f.xsave, f.xfeatures);
}

Result<void> seccomp_set_fpu(arch::UserThread& t, const FpuState& s) {
  FrameFpu f = parked_fpu(t);
  if (f.img.empty()) return Errno::esrch;
  u32 mask = 0;
  // SAFETY: a non-empty f.img has at least an FXSAVE area's 512 bytes; MXCSR_MASK is at 28..32.
  std::memcpy(&mask, f.img.data() + 28, 4);
  fpu_internal::store_image(f.img, f.xsave, f.xfeatures, s, mask);
  return {};
}

bool seccomp_kick_idle() {
  u32* d = doorbell_word();
  if (d == nullptr) return false;
  __atomic_fetch_add(d, 1, __ATOMIC_SEQ_CST);
  return true;
}

bool seccomp_idle(bool (*has_work)()) {
  u32* d = doorbell_word();
  if (d == nullptr) return false;
  ++g_idle_rounds;
  if (g_sigchld.exchange(false, std::memory_order_relaxed)) reap_children(false);
  // Every task is blocked: stubs spinning for a reply should sleep instead (they may be
  // keeping another guest off its CPU).
  // (Not while a task only waits for a control thread's mapping batch: that is quick.)
  u32* idle = d + 3;
  if (!tracee_waits_pending()) {
    __atomic_store_n(d + 2, g_doorbell_seen, __ATOMIC_RELAXED);
    __atomic_store_n(idle, 1, __ATOMIC_RELEASE);
  }
  u32 cur = __atomic_load_n(d, __ATOMIC_SEQ_CST);
  if (cur == g_doorbell_seen && g_idle_spin_ns != 0 && !tracee_waits_pending()) {
    // Stubs run on other CPUs: a post usually comes within microseconds.
    u64 deadline = arch::monotonic_ns() + g_idle_spin_ns;
    for (u32 i = 1;; ++i) {
      __builtin_ia32_pause();
      cur = __atomic_load_n(d, __ATOMIC_ACQUIRE);
      if (cur != g_doorbell_seen || g_sigchld.load(std::memory_order_relaxed)) break;
      if ((i & 63) != 0) continue;
      settle_handoff(false);
      if (has_work() || arch::monotonic_ns() > deadline) break;
    }
  }
  if (cur == g_doorbell_seen && !has_work()) {
    // A wake left to the stubs: sleep no longer than it may wait for one (a post wakes us).
    timespec left{};
    const timespec* timeout = nullptr;
    if (g_handed != 0) {
      u64 now = arch::monotonic_ns();
      u64 end = g_handed_at + g_handoff_ns;
      if (now >= end) {
        settle_handoff(true);
      } else {
        left.tv_sec = static_cast<time_t>((end - now) / kNsPerSec);
        left.tv_nsec = static_cast<long>((end - now) % kNsPerSec);
        timeout = &left;
      }
    }
    // Interrupted by the timer, by SIGCHLD (which also bumps the word) or woken by a post.
    u32* sleeping = d + 1;
    __atomic_store_n(sleeping, 1, __ATOMIC_SEQ_CST);
    cur = __atomic_load_n(d, __ATOMIC_SEQ_CST);
    if (cur == g_doorbell_seen) {
      HostWait w;
      syscall(SYS_futex, d, FUTEX_WAIT, cur, timeout, nullptr, 0);
    }
    __atomic_store_n(sleeping, 0, __ATOMIC_RELAXED);
    settle_handoff(false);
    cur = __atomic_load_n(d, __ATOMIC_SEQ_CST);
  }
  __atomic_store_n(idle, 0, __ATOMIC_RELAXED);
  if (g_sigchld.exchange(false, std::memory_order_relaxed)) reap_children(false);
  if (cur != g_doorbell_seen) {
    g_doorbell_seen = cur;
    // The idle loop is not about to block: no need for wake-ups to kick it with a timer.
    arch::cpu_local().idle_waiting.store(false, std::memory_order_relaxed);
    notify_tracee_waiters();
  }
  return true;
}

}  // namespace ostd::host

namespace ostd::arch {

WakeWord WakeWord::take(u8* mailbox) {
  irq::PreemptGuard no_switch;  // the free list and the hand-off are shared by every task
  if (host::g_free_words.empty()) return WakeWord{};
  u32 idx = host::g_free_words.back();
  host::g_free_words.pop_back();
  host::g_word_mailbox.at(idx) = mailbox;
  return WakeWord{idx};
}

void WakeWord::release() {
  if (idx_ == kNone) return;
  irq::PreemptGuard no_switch;
  if (host::g_handed == idx_ + 1) {
    host::g_handed = 0;
    (void)host::clear_handoff(idx_);
  }
  host::g_word_mailbox.at(idx_) = nullptr;
  host::g_free_words.push_back(idx_);
  idx_ = kNone;
}

}  // namespace ostd::arch
