/* CPU faults in user code end the process with the signal Linux sends (and the right si_code
 * and si_addr when it has a handler); a bad system call is an error, not a crash. */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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
static void do_hlt(void) { __asm__ volatile("hlt"); }       /* privileged: #GP */
static void do_cli(void) { __asm__ volatile("cli"); }       /* IOPL 0: #GP */
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
static void *volatile got_addr;
static void handler(int sig, siginfo_t* si, void* uc) {
  (void)uc;
  got_sig = sig;
  got_code = si->si_code;
  got_addr = si->si_addr;
  siglongjmp(env, 1);
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
  CHECK("SIGSEGV at 0: SEGV_MAPERR, si_addr 0",
        got_sig == SIGSEGV && got_code == SEGV_MAPERR && got_addr == 0);
  printf("  (signal %d, code %d)\n", got_sig, got_code);
  char* ro = mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (sigsetjmp(env, 1) == 0) ro[100] = 1;
  CHECK("SIGSEGV on a read-only page: SEGV_ACCERR", got_sig == SIGSEGV &&
        got_code == SEGV_ACCERR && got_addr == ro + 100);
  if (sigsetjmp(env, 1) == 0) do_divide();
  CHECK("SIGFPE: FPE_INTDIV", got_sig == SIGFPE && got_code == FPE_INTDIV);
  if (sigsetjmp(env, 1) == 0) do_ud2();
  CHECK("SIGILL: ILL_ILLOPN", got_sig == SIGILL && got_code == ILL_ILLOPN);

  /* Bad system calls are errors. */
  CHECK_ERRNO("unknown system call number", syscall(100000), ENOSYS);
  CHECK_ERRNO("negative system call number", syscall(-5), ENOSYS);
  CHECK_ERRNO("write from a kernel address", write(1, (void*)0xffffffff80100000ul, 8), EFAULT);
  printf("done\n");
  return ABI_DONE();
}
