/* FPU and vector state across signals, fork and exec: a signal handler that clobbers every vector
 * register (as glibc's AVX2 memcpy or strlen would) and MXCSR must leave the interrupted code's
 * registers as they were (the signal frame carries the whole XSAVE state and rt_sigreturn puts it
 * back); a forked child starts with its parent's registers and control words; exec starts over.
 * With AVX the checks cover the YMM registers' upper halves; without it, XMM. */
#define _GNU_SOURCE
#include <cpuid.h>
#include <fenv.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#ifndef AT_MINSIGSTKSZ
#define AT_MINSIGSTKSZ 51
#endif
#include <sys/auxv.h>
#include <sys/syscall.h>

#include "abi_check.h"

static int have_avx;
static uint8_t pattern[16][32] __attribute__((aligned(32)));
static uint8_t garbage[16][32] __attribute__((aligned(32)));
static uint8_t after[16][32] __attribute__((aligned(32)));
static uint32_t mxcsr_after;
static volatile int handled;

static int detect_avx(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  if (!(c & (1u << 27)) || !(c & (1u << 28))) return 0; /* OSXSAVE, AVX */
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (lo & 6) == 6; /* the OS saves XMM and YMM state */
}

/* Registers 0-15 loaded from / stored to 16 rows 32 bytes apart at p, with `op` (vmovdqu for
 * YMM; movdqu for XMM, which leaves each row's upper 16 bytes unused). */
// clang-format off
#define ROW(op, reg, i, off, p) op " " off "(" p "), %%" reg #i "\n"
#define LOAD16(op, reg, p)                                                                      \
  ROW(op, reg, 0, "0", p) ROW(op, reg, 1, "32", p) ROW(op, reg, 2, "64", p) ROW(op, reg, 3, "96", p) \
  ROW(op, reg, 4, "128", p) ROW(op, reg, 5, "160", p) ROW(op, reg, 6, "192", p)                   \
  ROW(op, reg, 7, "224", p) ROW(op, reg, 8, "256", p) ROW(op, reg, 9, "288", p)                   \
  ROW(op, reg, 10, "320", p) ROW(op, reg, 11, "352", p) ROW(op, reg, 12, "384", p)                \
  ROW(op, reg, 13, "416", p) ROW(op, reg, 14, "448", p) ROW(op, reg, 15, "480", p)
#define BACK(op, reg, i, off, p) op " %%" reg #i ", " off "(" p ")\n"
#define STORE16(op, reg, p)                                                                     \
  BACK(op, reg, 0, "0", p) BACK(op, reg, 1, "32", p) BACK(op, reg, 2, "64", p)                   \
  BACK(op, reg, 3, "96", p) BACK(op, reg, 4, "128", p) BACK(op, reg, 5, "160", p)                \
  BACK(op, reg, 6, "192", p) BACK(op, reg, 7, "224", p) BACK(op, reg, 8, "256", p)               \
  BACK(op, reg, 9, "288", p) BACK(op, reg, 10, "320", p) BACK(op, reg, 11, "352", p)             \
  BACK(op, reg, 12, "384", p) BACK(op, reg, 13, "416", p) BACK(op, reg, 14, "448", p)            \
  BACK(op, reg, 15, "480", p)
// clang-format on
#define LOAD_YMM(p) LOAD16("vmovdqu", "ymm", p)
#define STORE_YMM(p) STORE16("vmovdqu", "ymm", p)
#define LOAD_XMM(p) LOAD16("movdqu", "xmm", p)
#define STORE_XMM(p) STORE16("movdqu", "xmm", p)
#define CLOBBERS \
  "rax", "rdi", "rsi", "rdx", "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", \
      "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"

static void on_usr1(int sig) {
  (void)sig;
  /* Everything different: the vector registers and MXCSR's rounding control. */
  uint32_t mx = 0x7f80; /* round toward zero */
  if (have_avx) {
    __asm__ volatile(LOAD_YMM("%0") : : "r"(garbage) : CLOBBERS);
  } else {
    __asm__ volatile(LOAD_XMM("%0") : : "r"(garbage) : CLOBBERS);
  }
  __asm__ volatile("ldmxcsr %0" : : "m"(mx));
  handled = 1;
}

/* Loads the pattern, makes system call `nr` (a, b, c), stores the registers and MXCSR; returns
 * the call's result. Nothing runs in between but the system call (and whatever it delivers). */
static long around_syscall(long nr, long a, long b, long c) {
  long ret;
  register long r10 __asm__("r10") = 0;
  if (have_avx) {
    __asm__ volatile(LOAD_YMM("%[p]") "syscall\n" STORE_YMM("%[o]") "stmxcsr %[mx]\n"
                     : "=a"(ret), [mx] "=m"(mxcsr_after)
                     : [p] "r"(pattern), [o] "r"(after), "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                       "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
  } else {
    __asm__ volatile(LOAD_XMM("%[p]") "syscall\n" STORE_XMM("%[o]") "stmxcsr %[mx]\n"
                     : "=a"(ret), [mx] "=m"(mxcsr_after)
                     : [p] "r"(pattern), [o] "r"(after), "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                       "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
  }
  return ret;
}

static char guard_below[4096], small_stack[2048], guard_above[4096];

static void small_altstack(void) {
  memset(guard_below, 0x5a, sizeof guard_below);
  memset(guard_above, 0x5a, sizeof guard_above);
  stack_t ss = {.ss_sp = small_stack, .ss_size = sizeof small_stack, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) abort();
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_ONSTACK;
  sigaction(SIGUSR1, &sa, NULL);
  raise(SIGUSR1);
  for (size_t i = 0; i < sizeof guard_below; ++i) {
    if (guard_below[i] != 0x5a || guard_above[i] != 0x5a) abort(); /* killed_by sees SIGABRT */
  }
}

static void minsigstksz_altstack(void) {
  size_t size = getauxval(AT_MINSIGSTKSZ);
  if (size < MINSIGSTKSZ) size = MINSIGSTKSZ; /* what sigaltstack takes at the least (glibc's sysconf too) */
  char* mem = malloc(size + 8192);
  memset(mem, 0x5a, size + 8192);
  stack_t ss = {.ss_sp = mem + 4096, .ss_size = size, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) abort();
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_ONSTACK;
  sigaction(SIGUSR1, &sa, NULL);
  handled = 0;
  raise(SIGUSR1);
  if (!handled) abort();
  for (size_t i = 0; i < 4096; ++i) {
    if (mem[i] != 0x5a || mem[4096 + size + i] != 0x5a) abort(); /* nothing outside it written */
  }
}

static int registers_kept(void) {
  size_t row = have_avx ? 32 : 16;
  for (int i = 0; i < 16; ++i) {
    if (memcmp(pattern[i], after[i], row) != 0) return 0;
  }
  return 1;
}

static uint32_t get_mxcsr(void) {
  uint32_t v;
  __asm__ volatile("stmxcsr %0" : "=m"(v));
  return v;
}

int main(int argc, char** argv) {
  have_avx = detect_avx();
  if (argc > 1 && strcmp(argv[1], "after-exec") == 0) {
    CHECK("exec starts with the default rounding mode", fegetround() == FE_TONEAREST);
    CHECK("exec starts with the default MXCSR", (get_mxcsr() & 0xffbf) == 0x1f80);
    return ABI_DONE();
  }
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 32; ++j) {
      pattern[i][j] = (uint8_t)(i * 32 + j + 1);
      garbage[i][j] = (uint8_t)(0xa5 ^ (i * 7 + j));
    }
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, NULL);

  /* A signal delivered on the way back from a system call. */
  long pid = getpid(), tid = syscall(SYS_gettid);
  uint32_t mx_before = get_mxcsr();
  long r = around_syscall(SYS_tgkill, pid, tid, SIGUSR1);
  CHECK("tgkill to itself", r == 0 && handled == 1);
  CHECK("vector registers survive a handler that clobbers them", registers_kept());
  CHECK("MXCSR survives a handler that changes it", mxcsr_after == mx_before);

  /* Many times, with the handler on an alternate stack. */
  stack_t ss;
  ss.ss_sp = malloc(65536);
  ss.ss_size = 65536;
  ss.ss_flags = 0;
  sigaltstack(&ss, NULL);
  sa.sa_flags = SA_ONSTACK;
  sigaction(SIGUSR1, &sa, NULL);
  int kept = 1;
  for (int i = 0; i < 200; ++i) {
    handled = 0;
    pattern[i % 16][i % 32] ^= 0xff;
    around_syscall(SYS_tgkill, pid, tid, SIGUSR1);
    kept &= handled == 1 && registers_kept() && mxcsr_after == mx_before;
  }
  CHECK("200 more times, on an alternate stack", kept);

  /* An alternate stack of MINSIGSTKSZ bytes: the frame fits (x87/SSE/AVX state) or, with larger
   * state (AVX-512), the process dies of SIGSEGV, as Linux's; never a frame written below it. */
  int small = killed_by(small_altstack);
  /* (Which of the two depends on the CPU: QEMU's differs from the host's.) */
  CHECK("a MINSIGSTKSZ altstack holds the frame, or SIGSEGV", small == SIGSEGV || small == 0);

  /* AT_MINSIGSTKSZ is what a frame needs on this machine: an altstack that size holds one. */
  CHECK("AT_MINSIGSTKSZ is given", getauxval(AT_MINSIGSTKSZ) >= 1024);
  CHECK("an AT_MINSIGSTKSZ altstack holds a frame", killed_by(minsigstksz_altstack) == 0);

  /* A forked child starts with the parent's registers and control words. */
  fesetround(FE_UPWARD);
  fflush(stdout);
  long child = around_syscall(SYS_fork, 0, 0, 0);
  if (child == 0) {
    int ok = registers_kept() && fegetround() == FE_UPWARD;
    _exit(ok ? 0 : 1);
  }
  int st = 0;
  waitpid((pid_t)child, &st, 0);
  CHECK("a forked child has the parent's vector registers and rounding mode", WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK("the parent's registers after fork", registers_kept());

  /* exec starts over. */
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    char* args[] = {argv[0], "after-exec", NULL};
    execv(argv[0], args);
    _exit(127);
  }
  waitpid(p, &st, 0);
  CHECK("the exec'd program's checks passed", WIFEXITED(st) && WEXITSTATUS(st) == 0);
  fesetround(FE_TONEAREST);
  return ABI_DONE();
}
