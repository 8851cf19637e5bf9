/* System call sites under rewriting (docs/syscall-patching.md): umk rewrites `syscall` sites
 * it sees trapping into jumps to trampolines. Everything here must behave as on Linux: calls
 * from the same sites in a loop (the first traps, the rest go through the rewritten site),
 * from several threads at once (sites rewritten while others run them), after fork, a jump
 * straight to the `syscall` of a rewritten `mov $nr, %eax; syscall`, blocking calls restarted
 * after a signal (through the original `syscall` or the mark the rewrite leaves there), a GS
 * base of the program's own, and a program that single-steps itself through a site.
 * With --maps it only says whether the process has the trampoline area (umk-only check). */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>

#include "abi_check.h"

/* mov $39, %eax; syscall (getpid), and its syscall reachable by a jump with another number;
 * mov $0, %eax; syscall (read), a site that blocks. */
__asm__(
    ".text\n"
    ".globl getpid_site, getpid_site_syscall, jump_to_site_syscall, read_site\n"
    "getpid_site:\n"
    "  mov $39, %eax\n"
    "getpid_site_syscall:\n"
    "  syscall\n"
    "  ret\n"
    "jump_to_site_syscall:\n"
    "  mov %rdi, %rax\n"
    "  jmp getpid_site_syscall\n"
    "read_site:\n"
    "  mov $0, %eax\n"
    "  syscall\n"
    "  ret\n");
long getpid_site(void);
long jump_to_site_syscall(long nr);
long read_site(long fd, void* buf, long n);

static int loop_ok(int n) {
  pid_t me = getpid();
  int fds[2];
  if (pipe(fds) != 0) return 0;
  for (int i = 0; i < n; ++i) {
    if (getpid_site() != me || syscall(SYS_getpid) != me) return 0;
    unsigned char c = (unsigned char)i, d = 0;
    if (write(fds[1], &c, 1) != 1 || read(fds[0], &d, 1) != 1 || d != c) return 0;
  }
  close(fds[0]);
  close(fds[1]);
  return 1;
}

static void* thread_main(void* arg) {
  (void)arg;
  return (void*)(intptr_t)loop_ok(2000);
}

static volatile sig_atomic_t alarms;
static void on_alarm(int sig) {
  (void)sig;
  alarms++;
}

/* A read on an empty pipe interrupted by SIGALRM after 20 ms; the data comes after 60 ms. */
static long interrupted_read(int restart, int through_site) {
  struct sigaction sa = {0};
  sa.sa_handler = on_alarm;
  sa.sa_flags = restart ? SA_RESTART : 0;
  sigaction(SIGALRM, &sa, 0);
  int fds[2];
  if (pipe(fds) != 0) return -100;
  pid_t pid = fork();
  if (pid == 0) {
    usleep(60000);
    char c = 'x';
    write(fds[1], &c, 1);
    _exit(0);
  }
  alarms = 0;
  struct itimerval it = {{0, 0}, {0, 20000}};
  setitimer(ITIMER_REAL, &it, 0);
  char c = 0;
  long r = through_site ? read_site(fds[0], &c, 1) : read(fds[0], &c, 1);
  if (!through_site && r < 0) r = -errno;
  waitpid(pid, 0, 0);
  close(fds[0]);
  close(fds[1]);
  return alarms == 1 ? r : -200;
}

static void own_gs(void) {
  static uint64_t area[4] = {0x1122334455667788ull, 0, 0, 0};
  if (syscall(SYS_arch_prctl, 0x1001 /* ARCH_SET_GS */, area) != 0) _exit(2);
  uint64_t v = 0;
  __asm__ volatile("mov %%gs:0, %0" : "=r"(v));
  _exit(v == area[0] && loop_ok(500) ? 0 : 1);
}

static volatile int traps;
static void on_trap(int sig) {
  (void)sig;
  traps++;
}

static void single_step(void) {
  signal(SIGTRAP, on_trap);
  long r;
  __asm__ volatile(
      "sub $128, %%rsp\n" /* clear of the red zone */
      "pushf\n orq $0x100, (%%rsp)\n popf\n"
      "call getpid_site\n"
      "pushf\n andq $~0x100, (%%rsp)\n popf\n"
      "add $128, %%rsp\n"
      : "=a"(r)
      :
      : "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory", "cc");
  _exit(r == getpid() && traps > 0 ? 0 : 1);
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "--maps") == 0) {
    loop_ok(100);
    FILE* f = fopen("/proc/self/maps", "r");
    char line[256];
    int found = 0;
    while (f && fgets(line, sizeof line, f)) found |= strstr(line, "[usertrap]") != 0;
    printf("usertrap: %s\n", found ? "yes" : "no");
    return 0;
  }
  CHECK("calls from the same sites in a loop", loop_ok(3000));
  CHECK("a jump to the syscall of a mov $nr site", jump_to_site_syscall(SYS_getppid) == getppid());
  CHECK("the mov $nr site still makes its own call", getpid_site() == getpid());

  pthread_t th[4];
  for (int i = 0; i < 4; ++i) pthread_create(&th[i], 0, thread_main, 0);
  int all = 1;
  for (int i = 0; i < 4; ++i) {
    void* r = 0;
    pthread_join(th[i], &r);
    all &= r != 0;
  }
  CHECK("four threads on the same sites", all);

  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) _exit(loop_ok(1000) ? 0 : 1);
  int st = -1;
  waitpid(pid, &st, 0);
  CHECK("a forked child on its parent's sites", WIFEXITED(st) && WEXITSTATUS(st) == 0);

  for (int i = 0; i < 40; ++i) read_site(-1, 0, 0); /* rewrite the read site first */
  CHECK("a read restarted after SA_RESTART (libc)", interrupted_read(1, 0) == 1);
  CHECK("a read interrupted without SA_RESTART (libc)", interrupted_read(0, 0) == -EINTR);
  CHECK("a read restarted after SA_RESTART (mov $nr site)", interrupted_read(1, 1) == 1);
  CHECK("a read interrupted without SA_RESTART (mov $nr site)", interrupted_read(0, 1) == -EINTR);

  fflush(stdout);
  pid = fork();
  if (pid == 0) own_gs();
  waitpid(pid, &st, 0);
  CHECK("calls after setting a GS base", WIFEXITED(st) && WEXITSTATUS(st) == 0);

  fflush(stdout);
  pid = fork();
  if (pid == 0) single_step();
  waitpid(pid, &st, 0);
  CHECK("single-stepping through a site", WIFEXITED(st) && WEXITSTATUS(st) == 0);
  return ABI_DONE();
}
