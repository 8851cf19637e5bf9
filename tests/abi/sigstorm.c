/* A correct program under a storm of signals: one thread makes system calls in a loop while a
 * 100 us interval timer and another process's signals interrupt it, and a second thread does the
 * same. Every interruption reaches the kernel as a kick landing anywhere in the guest or in the
 * user-mode stub's handler; none may lose a thread or the process (on a loaded host too: run it
 * under scripts/stress-suite). Counts vary from run to run, so only bounds are printed. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>

#include "abi_check.h"

static atomic_long alarms, usr1s;
static atomic_int stop;

static void on_alarm(int sig) {
  (void)sig;
  atomic_fetch_add(&alarms, 1);
}
static void on_usr1(int sig) {
  (void)sig;
  atomic_fetch_add(&usr1s, 1);
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static void* caller(void* arg) {
  long* calls = arg;
  while (!atomic_load(&stop)) {
    syscall(SYS_getppid);
    ++*calls;
  }
  return NULL;
}

int main(void) {
  struct sigaction sa = {0};
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, NULL);
  pid_t parent = getpid();
  pid_t sender = fork();
  if (sender == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (;;) {
      if (kill(parent, SIGUSR1) != 0) _exit(0);
      for (volatile int i = 0; i < 2000; i++) {}
    }
  }
  long calls[2] = {0, 0};
  pthread_t t;
  int started = pthread_create(&t, NULL, caller, &calls[1]) == 0;
  /* The storm, for a second: a 100 us timer and the other process's flood, faster than a
   * signal's round trip through a user-mode kernel on a slow or loaded host (the thread may
   * then run little but its handlers: no progress is required, only that nothing is lost). */
  struct itimerval it = {{0, 100}, {0, 100}};
  setitimer(ITIMER_REAL, &it, NULL);
  for (long end = now_ms() + 1000; now_ms() < end;) syscall(SYS_getppid);
  kill(sender, SIGKILL);
  int st = 0;
  waitpid(sender, &st, 0);
  /* Then half a second under a 10 ms timer alone: the calls must go on. Only progress is
   * required, not speed: on a host whose CPUs are all busy every system call of a user-mode
   * kernel waits for the host scheduler (a run of the suite beside two compilers saw 90 calls
   * in the half second), while a thread that only runs handlers makes none. */
  struct itimerval ms = {{0, 10000}, {0, 10000}};
  setitimer(ITIMER_REAL, &ms, NULL);
  for (long end = now_ms() + 500; now_ms() < end;) {
    syscall(SYS_getppid);
    ++calls[0];
  }
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  atomic_store(&stop, 1);
  if (started) pthread_join(t, NULL);
  fprintf(stderr, "sigstorm: %ld + %ld calls, %ld alarms, %ld SIGUSR1\n", calls[0], calls[1], atomic_load(&alarms),
          atomic_load(&usr1s));
  CHECK("second thread ran", started && calls[1] > 0);
  CHECK("system calls go on beside a 10 ms timer", calls[0] > 10);
  CHECK("timer signals arrived", atomic_load(&alarms) > 0);
  CHECK("the other process's signals arrived", atomic_load(&usr1s) > 0);
  CHECK("the sender was killed", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  return ABI_DONE();
}
