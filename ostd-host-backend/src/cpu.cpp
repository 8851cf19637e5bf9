// vCPUs as host threads: per-CPU state, the timer interrupt (a POSIX timer signal), virtual
// interrupt masking, the idle loop, and faults in umk itself.
#include <execinfo.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "../../ostd/src/internal.h"
#include <ostd/boot.h>

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

constexpr int kTimerSignal = SIGALRM;
timer_t g_timer{};
bool g_timer_created = false;
u32 g_hz = 250;

void timer_signal(int, siginfo_t*, void* uc) {
  int saved = errno;
  irq::dispatch(irq::kTimerLine);
  if (pc_is_preemptible(uc)) irq_internal::preempt_on_irq_return();
  errno = saved;
}

void write_stderr(const char* s) {
  ssize_t r = ::write(2, s, std::strlen(s));
  (void)r;
}

void fatal_signal(int sig, siginfo_t* info, void*) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "\numk: fatal signal %d (%s) at address %p in the kernel%s\n", sig,
                strsignal(sig), info->si_addr,
                sig == SIGSEGV ? " (a kernel stack overflow hits a task's guard page)" : "");
  write_stderr(buf);
  console::set_raw_mode(false);  // leave the user's terminal usable
  void* frames[64];
  int n = backtrace(frames, 64);
  backtrace_symbols_fd(frames, n, 2);
  signal(SIGABRT, SIG_DFL);
  abort();
}

}  // namespace

bool pc_is_preemptible(const void* ucontext) {
  const auto* uc = static_cast<const ucontext_t*>(ucontext);
  auto pc = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
  return pc >= reinterpret_cast<uintptr_t>(__executable_start) &&
         pc < reinterpret_cast<uintptr_t>(etext);
}

void init_signals_once(bool catch_fatal) {
  static bool done = false;
  if (done) return;
  done = true;
  struct sigaction sa {};
  sa.sa_sigaction = timer_signal;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;  // no SA_RESTART: blocking host calls see EINTR
  sigemptyset(&sa.sa_mask);
  sigaction(kTimerSignal, &sa, nullptr);

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

void start_timer(u32 hz) {
  g_hz = hz == 0 ? 250 : hz;
  if (!g_timer_created) {
    sigevent sev{};
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = kTimerSignal;
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

u64 monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<u64>(ts.tv_sec) * kNsPerSec + static_cast<u64>(ts.tv_nsec);
}

u64 realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<u64>(ts.tv_sec) * kNsPerSec + static_cast<u64>(ts.tv_nsec);
}

u32 tick_hz() { return host::g_hz; }

void set_timer_deadline(u64 deadline_ns) {
  if (!host::g_timer_created) return;
  itimerspec its{};
  if (deadline_ns == 0) deadline_ns = 1;
  its.it_value.tv_sec = static_cast<time_t>(deadline_ns / kNsPerSec);
  its.it_value.tv_nsec = static_cast<long>(deadline_ns % kNsPerSec);
  timer_settime(host::g_timer, TIMER_ABSTIME, &its, nullptr);
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
      sigsuspend(&none);  // returns after the timer (or another) signal handler ran
    }
  }
  c.idle_waiting.store(false, std::memory_order_relaxed);
  c.irq_disabled.store(true, std::memory_order_relaxed);
}

}  // namespace ostd::arch
