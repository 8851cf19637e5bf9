/* Escape attempts against the host backend's user-mode platforms. Each attempt runs in a child
 * process; the guest may die (that is the expected outcome for most) but no host system call may
 * run on its behalf and umk must keep going. Prints one line per attempt:
 *   <name> exited N | <name> killed by signal N
 * then "escape: done". Run under umk only (ctest abi.escape): the attempts jump into umk's stub
 * code, which does not exist natively.
 *
 * - stub_syscall: jump to the stub's `syscall` instructions (every one in its code page) with
 *   registers set up for creat("/tmp/umk-escape-TAG") — the host file must not appear
 *   (TAG is argv[1]; tests/abi/escape.cmake checks).
 * - sigreturn_forged: jump to a `syscall` instruction of the stub with rax = 15 (rt_sigreturn)
 *   and a forged frame that blocks every signal, then make a system call. The stubs' filter
 *   refuses the host's rt_sigreturn, so the guest's own kernel answers it (the guest's mask, its
 *   registers): the attempt exits 42.
 * - altstack_swap_to_main / _to_sibling: one thread makes the same jump with a frame whose
 *   uc_stack names a sibling thread's stub altstack (a host rt_sigreturn would move its events
 *   onto the sibling's slot and mailbox), then both threads make system calls. The guest's own
 *   kernel answers the rt_sigreturn (only the guest's sigaltstack changes): both exit 0.
 * - scribble: one thread overwrites the stub's per-thread pages (mailboxes, altstacks, doorbell,
 *   request page) with garbage while another makes system calls.
 * - int80: the 32-bit system call gate.
 * - mremap_fixed: MREMAP_FIXED onto the stub's code and pages (EINVAL: past the top of guest
 *   space), onto an end that wraps (EINVAL) and below the lowest mappable address (EPERM); exits
 *   0 when every one was refused and the process still makes system calls.
 * - vsyscall: sets the guest's clock to 2001 and calls time, gettimeofday and getcpu through the
 *   legacy vsyscall page, which the host emulates without a system call instruction; exits 0
 *   when all three answered from the guest's kernel (its clock, its CPU), not the host's. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STUB_BASE 0x7ff800000000ull
#define STUB_PAGES_LO 0x7ff840000000ull /* request, config, doorbell pages */
#define STUB_ALTSTACKS 0x7ff880000000ull
#define STUB_MAILBOXES 0x7ff8c0000000ull

static char host_path[64];

/* Every offset in the stub's code page where `syscall` (0f 05) starts. */
static int find_syscalls(const unsigned char* code, int* offs, int max) {
  int n = 0;
  for (int i = 0; i + 1 < 4096 && n < max; ++i)
    if (code[i] == 0x0f && code[i + 1] == 0x05) offs[n++] = i;
  return n;
}

static void attempt_stub_syscall(int off) {
  /* creat(host_path, 0644) through the stub's instruction at `off`. */
  uint64_t target = STUB_BASE + (uint64_t)off;
  __asm__ volatile(
      "mov $85, %%eax\n"
      "mov %0, %%rdi\n"
      "mov $0644, %%esi\n"
      "jmp *%1\n"
      :
      : "r"(host_path), "r"(target)
      : "rax", "rdi", "rsi", "memory");
}

/* The kernel's struct rt_sigframe head: return address, then struct ucontext. */
struct forged {
  uint64_t pretcode;
  uint64_t uc_flags, uc_link;
  uint64_t ss_sp;
  uint32_t ss_flags, pad;
  uint64_t ss_size;
  uint64_t gregs[23];
  uint64_t fpregs;
  uint64_t reserved[8];
  uint64_t sigmask;
  char slack[4096];
};

static void after_sigreturn(void) {
  /* Running with whatever mask the forged frame set: a system call now. */
  syscall(SYS_getppid);
  _exit(42);
}

/* The offset of a `syscall` instruction in the stub's code page (the host lets the stub's code
 * page make the stub's own calls), or -1. The attempts jump there with rax = 15 (rt_sigreturn)
 * and the stack pointer at a forged frame. */
static int find_sigreturn(void) {
  int offs[1];
  return find_syscalls((const unsigned char*)STUB_BASE, offs, 1) == 1 ? offs[0] : -1;
}

/* Jumps to the stub's `syscall` at offset `at` with rax = 15 (rt_sigreturn) and the stack
 * pointer at the forged frame `f`: the stub's own rt_sigreturn on a frame the guest chose. */
static void sigreturn_through_stub(struct forged* f, int at) {
  uint64_t target = STUB_BASE + (uint64_t)at;
  __asm__ volatile(
      "mov %0, %%rsp\n"
      "mov $15, %%eax\n"
      "jmp *%1\n"
      :
      : "r"(&f->uc_flags), "r"(target)
      : "memory");
}

static void attempt_sigreturn(void) {
  int at = find_sigreturn();
  if (at < 0) _exit(3); /* no sigreturn gadget: nothing to try */
  static struct forged f;
  static char stack[65536];
  memset(&f, 0, sizeof f);
  f.gregs[15] = (uint64_t)(stack + sizeof stack - 64); /* REG_RSP */
  f.gregs[16] = (uint64_t)after_sigreturn;             /* REG_RIP */
  f.gregs[18] = 0x33;                                  /* CSGSFS: user CS */
  f.sigmask = ~0ull;
  sigreturn_through_stub(&f, at);
}

static void after_swap(void) {
  /* Events of this thread would now run on the sibling's altstack (had the host taken the
   * frame's uc_stack): keep making system calls beside the sibling. */
  for (int i = 0; i < 200; ++i) syscall(SYS_getppid);
  syscall(SYS_exit, 0);
  for (;;) {}
}

static void* altstack_swapper(void* arg) {
  uint64_t slot = (uint64_t)(uintptr_t)arg;
  int at = find_sigreturn();
  if (at < 0) return NULL; /* no sigreturn gadget: nothing to try */
  static struct forged f;
  static char stack[65536];
  memset(&f, 0, sizeof f);
  f.ss_sp = STUB_ALTSTACKS + slot * 65536 + 32 * 1024; /* a sibling's altstack */
  f.ss_size = 32 * 1024;
  f.gregs[15] = (uint64_t)(stack + sizeof stack - 64); /* REG_RSP */
  f.gregs[16] = (uint64_t)after_swap;                  /* REG_RIP */
  f.gregs[18] = 0x33;                                  /* CSGSFS: user CS */
  sigreturn_through_stub(&f, at);
  return NULL;
}

static void* syscaller(void* arg) {
  (void)arg;
  for (int i = 0; i < 200; ++i) syscall(SYS_getppid);
  return NULL;
}

/* which 0: the second thread takes slot 0's altstack (the main thread's); 1: the main thread
 * takes slot 1's (the second thread's). */
static void attempt_altstack_swap(int which) {
  pthread_t t;
  if (which == 0) {
    pthread_create(&t, NULL, altstack_swapper, (void*)0);
    syscaller(NULL);
  } else {
    pthread_create(&t, NULL, syscaller, NULL);
    altstack_swapper((void*)1);
  }
  _exit(0);
}

static volatile int stop_scribbling;

static void* scribbler(void* arg) {
  (void)arg;
  uint64_t x = 0x9e3779b97f4a7c15ull;
  static const uint64_t regions[][2] = {
      {STUB_MAILBOXES, 4 * 4096},
      {STUB_ALTSTACKS + 32 * 1024, 32 * 1024},
      {STUB_ALTSTACKS + 65536 + 32 * 1024, 32 * 1024},
      {STUB_PAGES_LO + 2 * 4096, 4096},
      {STUB_PAGES_LO, 4096},
  };
  while (!stop_scribbling) {
    for (unsigned r = 0; r < sizeof regions / sizeof regions[0]; ++r) {
      volatile uint64_t* p = (volatile uint64_t*)regions[r][0];
      for (uint64_t i = 0; i < regions[r][1] / 8; i += 7) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = x;
      }
    }
  }
  return NULL;
}

static void attempt_scribble(void) {
  pthread_t t;
  pthread_create(&t, NULL, scribbler, NULL);
  for (int i = 0; i < 20000; ++i) syscall(SYS_getppid);
  stop_scribbling = 1;
  pthread_join(t, NULL);
  _exit(0);
}

static void attempt_int80(void) {
  long r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
  _exit(r == 0 ? 5 : 6);
}

static void attempt_mremap_fixed(void) {
  const uint64_t targets[] = {STUB_BASE,      STUB_PAGES_LO,    STUB_ALTSTACKS,
                              STUB_MAILBOXES, STUB_BASE - 4096, 0xfffffffffffff000ull};
  char* p = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) _exit(9);
  p[0] = 42;
  for (unsigned i = 0; i < sizeof targets / sizeof targets[0]; ++i) {
    void* r = mremap(p, 4096, 2 * 4096, MREMAP_MAYMOVE | MREMAP_FIXED, (void*)(uintptr_t)targets[i]);
    if (r != MAP_FAILED) _exit(7);
    if (errno != EINVAL) _exit(8);
  }
  void* low = mremap(p, 4096, 4096, MREMAP_MAYMOVE | MREMAP_FIXED, (void*)0x1000);
  if (low != MAP_FAILED || errno != EPERM) _exit(10);
  _exit(p[0] == 42 && getpid() > 0 ? 0 : 11);
}

static void attempt_vsyscall(void) {
  const time_t guest_now = 1000000000; /* 2001-09-09 */
  struct timespec ts = {guest_now, 0};
  if (clock_settime(CLOCK_REALTIME, &ts) != 0) _exit(20);
  time_t (*vtime)(time_t*) = (time_t(*)(time_t*))0xffffffffff600400ull;
  int (*vgettimeofday)(struct timeval*, void*) = (int (*)(struct timeval*, void*))0xffffffffff600000ull;
  long (*vgetcpu)(unsigned*, unsigned*, void*) = (long (*)(unsigned*, unsigned*, void*))0xffffffffff600800ull;
  time_t t = vtime(NULL);
  struct timeval tv = {0, 0};
  int r = vgettimeofday(&tv, NULL);
  unsigned cpu = 99, node = 99, want = 98;
  long c = vgetcpu(&cpu, &node, NULL);
  if (syscall(SYS_getcpu, &want, NULL, NULL) != 0) _exit(21);
  printf("vsyscall: time %s, gettimeofday %s, getcpu %s\n", t >= guest_now && t < guest_now + 60 ? "guest's" : "host's",
         r == 0 && tv.tv_sec >= guest_now && tv.tv_sec < guest_now + 60 ? "guest's" : "host's",
         c == 0 && cpu == want ? "guest's" : "other");
  fflush(stdout);
  _exit(t >= guest_now && t < guest_now + 60 && r == 0 && tv.tv_sec < guest_now + 60 && c == 0 && cpu == want ? 0 : 22);
}

static void run(const char* name, void (*fn)(int), int arg) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    alarm(3);
    fn(arg);
    _exit(0);
  }
  /* Every attempt must end within its 3 s alarm (exited or killed): a process the kernel can no
   * longer end is reported (and SIGKILLed once more) instead of hanging the test. */
  int st = 0;
  int waited_ms = 0;
  pid_t r;
  while ((r = waitpid(pid, &st, WNOHANG)) == 0 && waited_ms < 10000) {
    usleep(10000);
    waited_ms += 10;
  }
  if (r != pid) {
    printf("%s did not end\n", name);
    kill(pid, SIGKILL);
    for (waited_ms = 0; waitpid(pid, &st, WNOHANG) == 0 && waited_ms < 5000; waited_ms += 10) usleep(10000);
    return;
  }
  if (WIFEXITED(st)) printf("%s exited %d\n", name, WEXITSTATUS(st));
  else printf("%s killed by signal %d\n", name, WTERMSIG(st));
}

static void do_stub(int off) { attempt_stub_syscall(off); }
static void do_sigreturn(int unused) {
  (void)unused;
  attempt_sigreturn();
}
static void do_altstack_swap(int which) { attempt_altstack_swap(which); }
static void do_scribble(int unused) {
  (void)unused;
  attempt_scribble();
}
static void do_int80(int unused) {
  (void)unused;
  attempt_int80();
}
static void do_mremap_fixed(int unused) {
  (void)unused;
  attempt_mremap_fixed();
}
static void do_vsyscall(int unused) {
  (void)unused;
  attempt_vsyscall();
}

int main(int argc, char** argv) {
  snprintf(host_path, sizeof host_path, "/tmp/umk-escape-%s", argc > 1 ? argv[1] : "x");
  int offs[64];
  int n = find_syscalls((const unsigned char*)STUB_BASE, offs, 64);
  printf("stub code page: %d syscall instructions\n", n);
  for (int i = 0; i < n; ++i) {
    char name[64];
    snprintf(name, sizeof name, "stub_syscall+%#x", offs[i]);
    run(name, do_stub, offs[i]);
  }
  run("sigreturn_forged", do_sigreturn, 0);
  run("altstack_swap_to_main", do_altstack_swap, 0);
  run("altstack_swap_to_sibling", do_altstack_swap, 1);
  run("scribble", do_scribble, 0);
  run("int80", do_int80, 0);
  run("mremap_fixed", do_mremap_fixed, 0);
  run("vsyscall", do_vsyscall, 0);
  printf("host path: %s\n", host_path);
  printf("escape: done\n");
  return 0;
}
