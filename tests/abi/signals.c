/* Handlers, masks, SA_RESTART vs EINTR, SIGSEGV handler that recovers, sigaltstack, kill, frames
 * rt_sigreturn refuses. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "abi_check.h"

static volatile int got;
static volatile int got_sig;
static sigjmp_buf jb;
static volatile void* fault_addr;
static volatile int on_alt;
static char altstack[65536];

static void handler(int sig) { got++, got_sig = sig; }

/* A handler that edits its frame before returning: reserved MXCSR bits, a 32-bit code segment, a
 * bad stack segment (the kernel's frames ask for a strict SS restore). Linux's rt_sigreturn
 * answers each with SIGSEGV. */
static int bad_frame_mode;
static void bad_frame(int sig, siginfo_t* si, void* u) {
  ucontext_t* uc = u;
  (void)sig, (void)si;
  if (bad_frame_mode == 0) uc->uc_mcontext.fpregs->mxcsr |= 0x80000000u;
  if (bad_frame_mode == 1) uc->uc_mcontext.gregs[REG_CSGSFS] = (uc->uc_mcontext.gregs[REG_CSGSFS] & ~0xffffL) | 0x23;
  if (bad_frame_mode == 2)
    uc->uc_mcontext.gregs[REG_CSGSFS] = (uc->uc_mcontext.gregs[REG_CSGSFS] & ~(0xffffL << 48)) | (0x1bL << 48);
}
static int sigreturn_outcome(int mode) {
  pid_t c = fork();
  if (c == 0) {
    struct sigaction sa = {0};
    sa.sa_sigaction = bad_frame;
    sa.sa_flags = SA_SIGINFO;
    bad_frame_mode = mode;
    signal(SIGSEGV, SIG_DFL); /* not main's recovering handler */
    sigaction(SIGUSR1, &sa, 0);
    raise(SIGUSR1);
    _exit(0);
  }
  int st = 0;
  waitpid(c, &st, 0);
  return WIFSIGNALED(st) ? WTERMSIG(st) : -WEXITSTATUS(st);
}
static void segv(int sig, siginfo_t* si, void* uc) {
  (void)sig, (void)uc;
  fault_addr = si->si_addr;
  char probe;
  on_alt = &probe >= altstack && &probe < altstack + sizeof altstack;
  siglongjmp(jb, 1);
}

int main(void) {
  struct sigaction sa = {0};
  sa.sa_handler = handler;
  sigaction(SIGUSR1, &sa, 0);
  raise(SIGUSR1);
  CHECK("handler ran for raise", got == 1 && got_sig == SIGUSR1);

  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, &old);
  raise(SIGUSR1);
  CHECK("blocked signal stays pending", got == 1);
  sigset_t pend;
  sigpending(&pend);
  CHECK("sigpending shows it", sigismember(&pend, SIGUSR1));
  sigprocmask(SIG_SETMASK, &old, 0);
  CHECK("unblocking delivers it", got == 2);

  CHECK_ERRNO("sigaction on SIGKILL is EINVAL", sigaction(SIGKILL, &sa, 0), EINVAL);
  CHECK_ERRNO("kill with a bad signal is EINVAL", kill(getpid(), 99), EINVAL);
  CHECK("kill with signal 0 probes", kill(getpid(), 0) == 0);

  /* SIGSEGV handler on an alternate stack that recovers with siglongjmp. */
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
  CHECK("sigaltstack", sigaltstack(&ss, 0) == 0);
  struct sigaction sv = {0};
  sv.sa_sigaction = segv;
  sv.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigaction(SIGSEGV, &sv, 0);
  int* bad = (int*)0x1000;
  if (sigsetjmp(jb, 1) == 0) {
    *bad = 1;
    CHECK("unreachable", 0);
  }
  CHECK("SIGSEGV si_addr is the faulting address", fault_addr == (void*)0x1000);
  CHECK("handler ran on the alternate stack", on_alt);
  char* ro = mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (sigsetjmp(jb, 1) == 0) {
    ro[5] = 1;
  }
  CHECK("write to read-only page faults at its address", fault_addr == ro + 5);

  /* SA_RESTART: a read interrupted by a handled signal restarts; without it, EINTR. */
  int p[2];
  pipe(p);
  pid_t c = fork();
  if (c == 0) {
    usleep(50000);
    kill(getppid(), SIGUSR2);
    usleep(50000);
    write(p[1], "x", 1);
    _exit(0);
  }
  struct sigaction r = {0};
  r.sa_handler = handler;
  r.sa_flags = SA_RESTART;
  sigaction(SIGUSR2, &r, 0);
  char ch = 0;
  ssize_t n = read(p[0], &ch, 1);
  CHECK("SA_RESTART read completes after the handler", n == 1 && ch == 'x' && got_sig == SIGUSR2);
  waitpid(c, 0, 0);
  c = fork();
  if (c == 0) {
    usleep(50000);
    kill(getppid(), SIGUSR2);
    _exit(0);
  }
  r.sa_flags = 0;
  sigaction(SIGUSR2, &r, 0);
  errno = 0;
  n = read(p[0], &ch, 1);
  CHECK("without SA_RESTART read fails with EINTR", n == -1 && errno == EINTR);
  waitpid(c, 0, 0);

  /* Default action of SIGPIPE kills a writer with no readers. */
  c = fork();
  if (c == 0) {
    int q[2];
    pipe(q);
    close(q[0]);
    write(q[1], "x", 1);
    _exit(0);
  }
  int st;
  waitpid(c, &st, 0);
  CHECK("SIGPIPE kills the writer", WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE);

  /* Ignored SIGPIPE: EPIPE instead. */
  signal(SIGPIPE, SIG_IGN);
  int q[2];
  pipe(q);
  close(q[0]);
  CHECK_ERRNO("write to a pipe without readers is EPIPE", write(q[1], "x", 1), EPIPE);

  /* rt_sigaction with an unwritable oldact: EFAULT, but the new action is installed. */
  struct {
    void* handler;
    unsigned long flags;
    void* restorer;
    uint64_t mask;
  } kact = {(void*)SIG_IGN, 0, 0, 0}, kold = {0, 0, 0, 0};
  CHECK_ERRNO("rt_sigaction with a bad oldact", syscall(SYS_rt_sigaction, SIGUSR2, &kact, (void*)8, 8), EFAULT);
  CHECK("the new action is installed all the same",
        syscall(SYS_rt_sigaction, SIGUSR2, 0, &kold, 8) == 0 && kold.handler == (void*)SIG_IGN);
  CHECK_ERRNO("rt_sigaction with a bad act", syscall(SYS_rt_sigaction, SIGUSR2, (void*)8, &kold, 8), EFAULT);
  CHECK("rt_sigreturn of reserved MXCSR bits is SIGSEGV", sigreturn_outcome(0) == SIGSEGV);
  CHECK("rt_sigreturn into a 32-bit code segment is SIGSEGV", sigreturn_outcome(1) == SIGSEGV);
  CHECK("rt_sigreturn of a bad strict stack segment is SIGSEGV", sigreturn_outcome(2) == SIGSEGV);
  return ABI_DONE();
}
