/* CPU faults in user code end the process with the signal Linux sends (and the right si_code
 * and si_addr when it has a handler); a bad system call is an error, not a crash. */
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

static volatile int zero = 0;
static int* volatile null_ptr = 0;

static void do_divide(void) {
  unsigned q, d = (unsigned)zero;
  __asm__ volatile("xorl %%edx, %%edx; movl $7, %%eax; divl %1" : "=&a"(q) : "r"(d) : "rdx");
  printf("%u\n", q);
}
static void do_null(void) { *null_ptr = 1; }
static void do_ud2(void) { __asm__ volatile("ud2"); }
static void do_int3(void) { __asm__ volatile("int3"); }
static void do_hlt(void) { __asm__ volatile("hlt"); } /* privileged: #GP */
static void do_cli(void) { __asm__ volatile("cli"); } /* IOPL 0: #GP */
static void do_kernel_read(void) { (void)*(volatile long*)0xffffffff80100000ul; }
static void do_noncanonical(void) { (void)*(volatile long*)0x8000000000000000ul; }
static void do_jump_nowhere(void) { ((void (*)(void))0x12345000)(); }
static void do_readonly_write(void) {
  char* p = mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  p[10] = 1;
}
static void do_exec_noexec(void) {
  unsigned char* p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  p[0] = 0xc3; /* ret */
  ((void (*)(void))p)();
}
static void do_abort(void) { abort(); }

static sigjmp_buf env;
static volatile int got_sig, got_code;
static void* volatile got_addr;
static void handler(int sig, siginfo_t* si, void* uc) {
  (void)uc;
  got_sig = sig;
  got_code = si->si_code;
  got_addr = si->si_addr;
  siglongjmp(env, 1);
}

/* Single-stepping with TF set by popf: a SIGTRAP (TRAP_TRACE, si_addr the next instruction)
 * after each instruction; across a system call the next one comes after the first instruction
 * behind it, as on a return from the kernel with iret. */
#define MAX_STEPS 16
static volatile int steps;
static int step_code[MAX_STEPS];
static long step_at[MAX_STEPS];
static int step_addr_ok[MAX_STEPS];
extern char step_start[];
static void on_step(int sig, siginfo_t* si, void* ucv) {
  (void)sig;
  ucontext_t* uc = ucv;
  int i = steps++;
  if (i < MAX_STEPS) {
    step_code[i] = si->si_code;
    step_at[i] = uc->uc_mcontext.gregs[REG_RIP] - (long)step_start;
    step_addr_ok[i] = (long)si->si_addr == uc->uc_mcontext.gregs[REG_RIP];
  }
  if (steps >= MAX_STEPS) uc->uc_mcontext.gregs[REG_EFL] &= ~0x100L;
}
static void single_step(void) {
  struct sigaction sa = {0}, old;
  sa.sa_sigaction = on_step;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGTRAP, &sa, &old);
  long pid;
  __asm__ volatile(
      "pushfq; orq $0x100, (%%rsp); popfq\n"
      "step_start: mov $39, %%eax\n"
      "syscall\n"
      "nop\n"
      "nop\n"
      "mov $39, %%eax\n"
      "syscall\n"
      "pushfq; andq $~0x100, (%%rsp); popfq\n"
      : "=a"(pid)
      :
      : "rcx", "r11", "memory");
  sigaction(SIGTRAP, &old, 0);
  CHECK("single-stepped system calls return their result", pid == getpid());
  printf("  %d steps\n", steps);
  for (int i = 0; i < steps && i < MAX_STEPS; ++i) {
    printf("  step at +%ld: si_code %d, si_addr %s\n", step_at[i], step_code[i],
           step_addr_ok[i] ? "the next instruction" : "other");
  }
}

int main(void) {
  CHECK("divide by zero -> SIGFPE", killed_by(do_divide) == SIGFPE);
  CHECK("null write -> SIGSEGV", killed_by(do_null) == SIGSEGV);
  CHECK("ud2 -> SIGILL", killed_by(do_ud2) == SIGILL);
  CHECK("int3 -> SIGTRAP", killed_by(do_int3) == SIGTRAP);
  CHECK("hlt -> SIGSEGV", killed_by(do_hlt) == SIGSEGV);
  CHECK("cli -> SIGSEGV", killed_by(do_cli) == SIGSEGV);
  CHECK("kernel address -> SIGSEGV", killed_by(do_kernel_read) == SIGSEGV);
  CHECK("non-canonical address -> SIGSEGV", killed_by(do_noncanonical) == SIGSEGV);
  CHECK("jump to unmapped -> SIGSEGV", killed_by(do_jump_nowhere) == SIGSEGV);
  CHECK("write to read-only page -> SIGSEGV", killed_by(do_readonly_write) == SIGSEGV);
  CHECK("execute a no-exec page -> SIGSEGV", killed_by(do_exec_noexec) == SIGSEGV);
  CHECK("abort -> SIGABRT", killed_by(do_abort) == SIGABRT);

  /* With a handler: the signal, si_code and si_addr of each fault. */
  struct sigaction sa = {0};
  sa.sa_sigaction = handler;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGSEGV, &sa, 0);
  sigaction(SIGFPE, &sa, 0);
  sigaction(SIGILL, &sa, 0);
  if (sigsetjmp(env, 1) == 0) do_null();
  CHECK("SIGSEGV at 0: SEGV_MAPERR, si_addr 0", got_sig == SIGSEGV && got_code == SEGV_MAPERR && got_addr == 0);
  printf("  (signal %d, code %d)\n", got_sig, got_code);
  char* ro = mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (sigsetjmp(env, 1) == 0) ro[100] = 1;
  CHECK("SIGSEGV on a read-only page: SEGV_ACCERR",
        got_sig == SIGSEGV && got_code == SEGV_ACCERR && got_addr == ro + 100);
  if (sigsetjmp(env, 1) == 0) do_divide();
  CHECK("SIGFPE: FPE_INTDIV", got_sig == SIGFPE && got_code == FPE_INTDIV);
  if (sigsetjmp(env, 1) == 0) do_ud2();
  CHECK("SIGILL: ILL_ILLOPN", got_sig == SIGILL && got_code == ILL_ILLOPN);

  single_step();

  /* Bad system calls are errors. */
  CHECK_ERRNO("unknown system call number", syscall(100000), ENOSYS);
  CHECK_ERRNO("negative system call number", syscall(-5), ENOSYS);
  CHECK_ERRNO("write from a kernel address", write(1, (void*)0xffffffff80100000ul, 8), EFAULT);
  printf("done\n");
  return ABI_DONE();
}
