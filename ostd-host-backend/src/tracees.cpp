// Traced host threads: every stub thread's state changes are collected here with waitpid
// (from the idle loop) and handed to the task waiting for that thread.
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <unordered_map>

#include <ostd/irq.h>

#include "host_internal.h"
#include "platform_internal.h"

namespace ostd::host {

namespace {
// The registry is changed by kernel tasks, which are preemptible in umk's own code (and these
// maps' inlined code is umk's): every access runs with interrupts masked, so no task switch
// lands in the middle of an insertion's rehash (an ASan run once caught a lookup in a
// half-rehashed table: ptrace.Busybox cmdsub_large_output).
std::unordered_map<pid_t, Tracee*>& tracees() {
  static std::unordered_map<pid_t, Tracee*> m;
  return m;
}
// Stops reported before anyone registered the thread (a new thread's first SIGSTOP).
std::unordered_map<pid_t, int>& orphans() {
  static std::unordered_map<pid_t, int> m;
  return m;
}
// Constructed before main: the timer interrupt wakes it on every tick, and a first use there
// would register its destructor (glibc's atexit lock) from interrupt context.
WaitQueue g_waiters;
WaitQueue& waiters() { return g_waiters; }
std::atomic<u64> g_event_seq{0};
u32 g_tracee_waits = 0;  // tasks sleeping in wait_tracee

void dispatch(pid_t tid, int status) {
  irq::DisabledGuard g;
  auto it = tracees().find(tid);
  if (it != tracees().end()) {
    Tracee& t = *it->second;
    if (WIFEXITED(status) || WIFSIGNALED(status)) t.gone = true;
    t.status = status;
  } else if (WIFSTOPPED(status)) {
    orphans()[tid] = status;
  } else {
    orphans().erase(tid);
  }
}
}  // namespace

void register_tracee(Tracee& t) {
  irq::DisabledGuard g;
  tracees()[t.tid] = &t;
  auto it = orphans().find(t.tid);
  if (it != orphans().end()) {
    t.status = it->second;
    orphans().erase(it);
  }
}

void unregister_tracee(Tracee& t) {
  irq::DisabledGuard g;
  auto it = tracees().find(t.tid);
  if (it != tracees().end() && it->second == &t) tracees().erase(it);
}

bool has_children() {
  irq::DisabledGuard g;
  return !tracees().empty();
}

bool tracee_waits_pending() { return g_tracee_waits != 0; }

bool reap_children(bool block) {
  if (!has_children()) return false;
  int status = 0;
  pid_t r = 0;
  if (block) {
    HostWait w;
    r = waitpid(-1, &status, __WALL);
  } else {
    r = waitpid(-1, &status, __WALL | WNOHANG);
  }
  if (r < 0) return errno != ECHILD;
  bool any = false;
  while (r > 0) {
    dispatch(r, status);
    any = true;
    r = waitpid(-1, &status, __WALL | WNOHANG);
  }
  if (any) {
    // Blocking reaps come from the idle loop, which is not about to block again: the tasks
    // woken here need no timer kick (arch::kick_idle) to get the CPU.
    if (block) arch::cpu_local().idle_waiting.store(false, std::memory_order_relaxed);
    notify_tracee_waiters();
  }
  return true;
}

void notify_tracee_waiters() {
  g_event_seq.fetch_add(1, std::memory_order_relaxed);
  (void)waiters().wake_all();
}

std::optional<int> wait_tracee(Tracee& t, bool (*check)(void*), void* arg) {
  for (;;) {
    if (t.status) {
      int s = *t.status;
      t.status.reset();
      return s;
    }
    // Collect without blocking first: the stop may already be there.
    reap_children(false);
    if (t.status) continue;
    u64 seq = g_event_seq.load(std::memory_order_relaxed);
    ++g_tracee_waits;
    (void)waiters().wait_until(
        [&] { return t.status.has_value() || g_event_seq.load(std::memory_order_relaxed) != seq; });
    --g_tracee_waits;
    if (!t.status && check != nullptr && check(arg)) return std::nullopt;
  }
}

bool wait_ready(bool (*ready)(void*), void* rarg, bool (*check)(void*), void* carg) {
  for (;;) {
    if (ready(rarg)) return true;
    u64 seq = g_event_seq.load(std::memory_order_relaxed);
    (void)waiters().wait_until([&] { return ready(rarg) || g_event_seq.load(std::memory_order_relaxed) != seq; });
    if (ready(rarg)) return true;
    if (check != nullptr && check(carg)) return false;
  }
}

}  // namespace ostd::host

namespace ostd::arch {
void user_notify_kernel_event() { host::notify_tracee_waiters(); }
// Guest threads on CPUs of their own (split) while the kernel waits on its CPU.
bool user_runs_beside_kernel() { return host::stub_cpus() != nullptr; }

Result<void> user_barrier_all_cpus() {
  // Guest threads run in stub processes, possibly on other CPUs right now: only a barrier on
  // every CPU of the host reaches them (MEMBARRIER_CMD_GLOBAL, 1; no registration needed).
  if (syscall(SYS_membarrier, 1, 0, 0) == 0) return {};
  return Errno::enosys;
}
u32 user_fast_syscall_gs_offset() { return host::seccomp_fast_syscall_gs_offset(); }
usize user_fpu_image_size() {
  // The XSAVE standard-format size for the components XCR0 enables (CPUID 0xd, 0: EBX), what the
  // host's signal frames and NT_X86_XSTATE hold.
  if (host::host_xcr0() == 3) return 512;
  u32 a = 0, b = 0, c = 0, d = 0;
  // SAFETY: cpuid reads no memory and writes only eax/ebx/ecx/edx, all four named as outputs.
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0xdu), "c"(0u));
  return b >= 576 ? b : 512;
}
}  // namespace ostd::arch
