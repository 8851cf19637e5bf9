/* fork + copy-on-write isolation, exit statuses, wait4/waitpid edge cases, getppid. */
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fenv.h>

#include "abi_check.h"

int global = 1;
static __thread int tls_var = 5;

int main(void) {
  int local = 10;
  char* heap = malloc(64);
  strcpy(heap, "parent");
  pid_t me = getpid();
  pid_t c = fork();
  if (c == 0) {
    global = 2;
    local = 20;
    strcpy(heap, "child");
    _exit(getppid() == me ? 7 : 8);
  }
  int st = 0;
  CHECK("fork returns child pid", c > 0);
  CHECK("waitpid returns the child", waitpid(c, &st, 0) == c);
  CHECK("child exit status 7 (and getppid was the parent)", WIFEXITED(st) && WEXITSTATUS(st) == 7);
  CHECK("COW: global unchanged", global == 1);
  CHECK("COW: stack unchanged", local == 10);
  CHECK("COW: heap unchanged", strcmp(heap, "parent") == 0);
  {
    /* The forking thread's stack and thread-local block (which umk copies at fork instead of
     * sharing them copy-on-write): each side sees the other's writes neither way. */
    volatile int on_stack = 30;
    tls_var = 6;
    int go[2];
    CHECK("pipe", pipe(go) == 0);
    pid_t k = fork();
    if (k == 0) {
      char b;
      if (read(go[0], &b, 1) != 1) _exit(9);
      int ok = on_stack == 30 && tls_var == 6; /* the parent has written since the fork */
      on_stack = 40;
      tls_var = 8;
      _exit(ok ? 0 : 1);
    }
    on_stack = 31;
    tls_var = 7;
    CHECK("signal the child", write(go[1], "x", 1) == 1);
    int kst = 0;
    waitpid(k, &kst, 0);
    CHECK("the child saw the stack and TLS as at fork", WIFEXITED(kst) && WEXITSTATUS(kst) == 0);
    CHECK("the parent keeps its own stack and TLS", on_stack == 31 && tls_var == 7);
    close(go[0]);
    close(go[1]);
  }
  CHECK_ERRNO("waitpid with no children is ECHILD", waitpid(-1, &st, 0), ECHILD);
  CHECK_ERRNO("waitpid bad options is EINVAL", waitpid(-1, &st, 0x1000), EINVAL);

  c = fork();
  if (c == 0) {
    raise(SIGTERM);
    _exit(0);
  }
  waitpid(c, &st, 0);
  CHECK("child killed by SIGTERM", WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);

  c = fork();
  if (c == 0) {
    pause();
    _exit(0);
  }
  CHECK("WNOHANG on a running child returns 0", waitpid(c, &st, WNOHANG) == 0);
  kill(c, SIGKILL);
  CHECK("SIGKILL then wait", waitpid(c, &st, 0) == c && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

  /* Shared anonymous memory is shared across fork; private is not. */
  int* shared = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  int* priv = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  *shared = 1;
  *priv = 1;
  c = fork();
  if (c == 0) {
    *shared = 42;
    *priv = 42;
    _exit(0);
  }
  waitpid(c, &st, 0);
  CHECK("MAP_SHARED anonymous is shared with the child", *shared == 42);
  CHECK("MAP_PRIVATE anonymous is not", *priv == 1);

  /* Many children, reaped in any order. */
  for (int i = 0; i < 5; i++) {
    if (fork() == 0) _exit(i);
  }
  int sum = 0, n = 0;
  while (waitpid(-1, &st, 0) > 0) {
    sum += WEXITSTATUS(st);
    n++;
  }
  CHECK("five children reaped", n == 5 && sum == 10);
  /* The child inherits the FPU/SSE control state (here the rounding mode in MXCSR). */
  fesetround(FE_UPWARD);
  pid_t r = fork();
  if (r == 0) _exit(fegetround() == FE_UPWARD ? 0 : 1);
  int rst = 0;
  waitpid(r, &rst, 0);
  fesetround(FE_TONEAREST);
  CHECK("fork keeps the rounding mode", WIFEXITED(rst) && WEXITSTATUS(rst) == 0);
  return ABI_DONE();
}
