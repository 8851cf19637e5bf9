// vCPUs as host threads: per-CPU state, the timer interrupt (a POSIX timer signal), virtual
// interrupt masking, the idle loop, and faults in umk itself.
#include <dlfcn.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <ostd/internal.h>
#include <ostd/boot.h>
#include <ostd/host/host.h>

#include "host_internal.h"
#include "platform_internal.h"
#include <ostd/time.h>

extern "C" {
extern const char __executable_start[];  // NOLINT
extern const char etext[];               // NOLINT
}

namespace ostd::arch {

namespace {
thread_local CpuLocal t_cpu __attribute__((tls_model("initial-exec")));
}

CpuLocal& cpu_local() { return t_cpu; }

}  // namespace ostd::arch

namespace ostd::host {

namespace {

// The timer interrupt is a real-time signal, not SIGALRM: a host program that embeds the kernel
// may use SIGALRM itself (libFuzzer's -timeout is an ITIMER_REAL), and such a process-directed
// signal can land on any of its threads.
// Set on the thread that runs the kernel (the one the timer is aimed at). A timer signal on any
// other thread (someone's kill(), a stray process-directed copy) must not run interrupt
// handlers or switch tasks there, concurrently with the kernel: it is ignored.
thread_local bool t_kernel_thread __attribute__((tls_model("initial-exec"))) = false;
// Inside a HostWait (a blocking host call of the kernel thread).
thread_local bool t_host_wait __attribute__((tls_model("initial-exec"))) = false;
timer_t g_timer{};
bool g_timer_created = false;
u64 g_deferred_interrupts = 0;
u32 g_hz = 250;
// How soon a timer interrupt that found library code running is tried again.
constexpr u64 kDeferredRetryNs = 200 * kNsPerUs;

// The interrupt signals (timer and device). Each handler runs with both blocked: a second one
// landing inside a handler would find umk's text there and could switch tasks while the code
// the first one interrupted, library code, still held a lock — a task switched out inside
// malloc with the arena lock held, and the next free() on this thread waited for good (umk hung
// once in a hundred fork bombs).
sigset_t g_irq_signals;

// Switches tasks from inside a handler when the interrupted code, umk's own, asked for it. The
// handler's frame stays on the task's stack until that task runs again, so the next one must
// run with the interrupt signals unblocked (the first's sigreturn restores its own mask).
void preempt_from_handler() {
  if (!arch::cpu_local().need_resched.load(std::memory_order_relaxed)) return;
  pthread_sigmask(SIG_UNBLOCK, &g_irq_signals, nullptr);
  irq_internal::preempt_on_irq_return();
}

void on_timer_signal(int, siginfo_t*, void* uc) {
  if (!t_kernel_thread) return;
  int saved = errno;
  bool in_umk = pc_is_preemptible(uc);
  if (in_umk || t_host_wait) {
    irq::dispatch(irq::kTimerLine);
    if (in_umk) preempt_from_handler();
  } else {
    // Library code: the handlers might take a lock it holds (see HostWait). The line stays
    // pending; enabling interrupts runs it, or this signal again once it lands in our code.
    // Until then the timer is re-armed here (the handler is what programs it).
    arch::cpu_local().pending.fetch_or(1u << irq::kTimerLine, std::memory_order_relaxed);
    ++g_deferred_interrupts;
    arch::set_timer_deadline(arch::monotonic_ns() + kDeferredRetryNs);
  }
  errno = saved;
}

// Device interrupts raised by other host threads (the NIC's slirp thread): the lines, and the
// kernel thread's id to signal.
std::atomic<u32> g_remote_lines{0};
std::atomic<pid_t> g_kernel_tid{0};

int device_signal() { return SIGRTMIN + 3; }

void on_device_signal(int, siginfo_t*, void* uc) {
  if (!t_kernel_thread) return;
  int saved = errno;
  u32 lines = g_remote_lines.exchange(0, std::memory_order_acq_rel);
  bool in_umk = pc_is_preemptible(uc);
  if (in_umk || t_host_wait) {
    for (u32 l = 0; l < irq::kNumLines; ++l) {
      if ((lines & (1u << l)) != 0) irq::dispatch(l);
    }
    if (in_umk) preempt_from_handler();
  } else if (lines != 0) {
    // Library code: as for the timer, the lines stay pending until umk's code runs again.
    arch::cpu_local().pending.fetch_or(lines, std::memory_order_relaxed);
    ++g_deferred_interrupts;
    arch::set_timer_deadline(arch::monotonic_ns() + kDeferredRetryNs);
  }
  errno = saved;
}

void write_stderr(const char* s) {
  ssize_t r = ::write(2, s, std::strlen(s));
  (void)r;
}

void fatal_signal(int sig, siginfo_t* info, void*) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "\numk: fatal signal %d (%s) at address %p in the kernel%s\n", sig, strsignal(sig),
                info->si_addr, sig == SIGSEGV ? " (a kernel stack overflow hits a task's guard page)" : "");
  write_stderr(buf);
  leave_terminal_and_print_backtrace();
  signal(SIGABRT, SIG_DFL);
  abort();
}

bool in_executable_text(uintptr_t pc) {
  // SAFETY: only the linker symbols' addresses are taken, as integers; nothing is read.
  return pc >= reinterpret_cast<uintptr_t>(__executable_start) && pc < reinterpret_cast<uintptr_t>(etext);
}

// A timer interrupt preempts the running task only when it arrived in umk's own code (ostd, the
// backend, services: written to be interrupted, every critical section marked) — not in libc,
// libstdc++ or the dynamic loader, which keep per-thread state (malloc's caches, stdio locks)
// that another task on this thread would then find half-updated. That rule needs the allocator
// outside the executable. A statically linked sanitizer runtime breaks it (clang links ASan's
// into the executable unless -shared-libsan): a task preempted inside ASan's malloc and another
// allocating on the same thread corrupt its per-thread cache and quarantine — heap corruption
// that took the syscalls fuzzer half an hour to show. Refuse to run that way.
void check_allocator_outside_executable() {
  for (const char* name : {"malloc", "free", "realloc"}) {
    void* fn = dlsym(RTLD_DEFAULT, name);
    // SAFETY: fn's address is only compared as an integer, never called or read.
    if (fn != nullptr && in_executable_text(reinterpret_cast<uintptr_t>(fn))) {
      panic(
          "{} is linked into the executable: a timer interrupt would preempt tasks inside the "
          "allocator (link a sanitizer runtime as a shared library: clang -shared-libsan)",
          std::string_view(name));
    }
  }
}

}  // namespace

HostWait::HostWait() {
  t_host_wait = true;
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

HostWait::~HostWait() {
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t_host_wait = false;
}

u64 deferred_interrupts() { return g_deferred_interrupts; }

bool interrupt_signals_blocked() {
  sigset_t now;
  pthread_sigmask(SIG_BLOCK, nullptr, &now);
  return sigismember(&now, timer_signal()) == 1 && sigismember(&now, device_signal()) == 1;
}

bool pc_is_preemptible(const void* ucontext) {
  // SAFETY: callers pass the third argument of an SA_SIGINFO handler, a ucontext_t*.
  const auto* uc = static_cast<const ucontext_t*>(ucontext);
  return in_executable_text(static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]));
}

void init_signals_once(bool catch_fatal) {
  static bool done = false;
  if (done) return;
  done = true;
  check_allocator_outside_executable();
  struct sigaction sa {};
  sigemptyset(&g_irq_signals);
  sigaddset(&g_irq_signals, host::timer_signal());
  sigaddset(&g_irq_signals, device_signal());
  sa.sa_sigaction = on_timer_signal;
  sa.sa_flags = SA_SIGINFO;  // no SA_RESTART: blocking host calls see EINTR
  sa.sa_mask = g_irq_signals;
  sigaction(host::timer_signal(), &sa, nullptr);
  sa.sa_sigaction = on_device_signal;
  sigaction(device_signal(), &sa, nullptr);

  // Faults in umk itself are kernel bugs: report them on an alternate stack (unless the host
  // program, e.g. a fuzzer with sanitizers, wants them itself).
  static char altstack[64 * 1024];
  stack_t ss{};
  ss.ss_sp = altstack;
  ss.ss_size = sizeof altstack;
  sigaltstack(&ss, nullptr);
  struct sigaction fa {};
  fa.sa_sigaction = fatal_signal;
  fa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
  sigemptyset(&fa.sa_mask);
  if (catch_fatal) {
    sigaction(SIGSEGV, &fa, nullptr);
    sigaction(SIGBUS, &fa, nullptr);
    sigaction(SIGILL, &fa, nullptr);
    sigaction(SIGFPE, &fa, nullptr);
  }

  // Stub state changes are collected with waitpid; SIGCHLD itself is never needed.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int timer_signal() { return SIGRTMIN + 2; }

void raise_from_thread(u32 line) {
  if (line >= irq::kNumLines) return;
  g_remote_lines.fetch_or(1u << line, std::memory_order_acq_rel);
  pid_t tid = g_kernel_tid.load(std::memory_order_acquire);
  if (tid != 0) syscall(SYS_tgkill, getpid(), tid, device_signal());
}

void start_timer(u32 hz) {
  g_hz = hz == 0 ? 250 : hz;
  t_kernel_thread = true;
  g_kernel_tid.store(static_cast<pid_t>(syscall(SYS_gettid)), std::memory_order_release);
  init_clock();
  if (!g_timer_created) {
    sigevent sev{};
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = host::timer_signal();
    sev._sigev_un._tid = static_cast<pid_t>(syscall(SYS_gettid));
    if (timer_create(CLOCK_MONOTONIC, &sev, &g_timer) != 0) {
      panic("timer_create failed: {}", std::string_view(strerror(errno)));
    }
    g_timer_created = true;
  }
  time_internal::init();
}

void stop_timer() {
  if (!g_timer_created) return;
  itimerspec its{};
  timer_settime(g_timer, 0, &its, nullptr);
}

}  // namespace ostd::host

namespace ostd::arch {

u32 tick_hz() { return host::g_hz; }

void set_timer_deadline(u64 deadline_ns) {
  if (!host::g_timer_created) return;
  // The deadline is on our clock (clock.cpp), which is not the host's: arm for the interval.
  u64 now = monotonic_ns();
  u64 delta = deadline_ns > now ? deadline_ns - now : 1;
  itimerspec its{};
  its.it_value.tv_sec = static_cast<time_t>(delta / kNsPerSec);
  its.it_value.tv_nsec = static_cast<long>(delta % kNsPerSec);
  timer_settime(host::g_timer, 0, &its, nullptr);
}

void kick_idle() {
  // Seccomp platform: the idle loop sleeps on the doorbell word; changing it is enough.
  if (host::seccomp_kick_idle()) return;
  // The idle loop may be just about to block in a host call: make sure a timer signal
  // interrupts it soon. (When it is already blocked, this handler's signal does that.)
  set_timer_deadline(monotonic_ns() + 20 * kNsPerUs);
}

void idle_wait() {
  auto& c = cpu_local();
  c.idle_waiting.store(true, std::memory_order_relaxed);
  irq_internal::enable_local();
  if (c.rq_head == nullptr && !host::seccomp_idle([] { return cpu_local().rq_head != nullptr; })) {
    if (!host::reap_children(true)) {
      sigset_t none;
      sigprocmask(SIG_SETMASK, nullptr, &none);
      host::HostWait w;
      sigsuspend(&none);  // returns after the timer (or another) signal handler ran
    }
  }
  c.idle_waiting.store(false, std::memory_order_relaxed);
  c.irq_disabled.store(true, std::memory_order_relaxed);
}

}  // namespace ostd::arch
