/* Wake-up latency: a process that sleeps 10 ms beside three CPU-bound processes must wake about
 * on time, as on Linux, whose scheduler lets a task that slept run ahead of the ones that used
 * their share. A round-robin that queues the sleeper behind every spinner makes each sleep last
 * three time slices instead (50-80 ms on the bare-metal kernel before wake-up preemption).
 * The bound is on the median of the sleeps, generous enough for a loaded host (and QEMU's
 * emulated CPU), far below three slices. The figures go to stderr, which the comparison with
 * native Linux ignores. */
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>

#include "abi_check.h"

enum { kSpinners = 3, kSleeps = 15, kSleepMs = 10, kMedianBoundMs = 30 };

static long now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

static int by_value(const void* a, const void* b) {
  long x = *(const long*)a, y = *(const long*)b;
  return (x > y) - (x < y);
}

int main(void) {
  pid_t kids[kSpinners];
  for (int i = 0; i < kSpinners; i++) {
    kids[i] = fork();
    if (kids[i] == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      for (volatile unsigned long n = 0;; n++) {}
    }
  }
  CHECK("three spinners started", kids[0] > 0 && kids[1] > 0 && kids[2] > 0);
  sleep_ms(30);  // the spinners are running and have used time slices
  long took[kSleeps];
  for (int i = 0; i < kSleeps; i++) {
    long t0 = now_us();
    sleep_ms(kSleepMs);
    took[i] = now_us() - t0;
  }
  for (int i = 0; i < kSpinners; i++) {
    if (kids[i] > 0) kill(kids[i], SIGKILL);
  }
  int reaped = 0;
  for (int i = 0; i < kSpinners; i++) {
    if (kids[i] > 0 && waitpid(kids[i], NULL, 0) == kids[i]) reaped++;
  }
  qsort(took, kSleeps, sizeof took[0], by_value);
  long median = took[kSleeps / 2];
  fprintf(stderr, "wakeup: %d sleeps of %d ms beside %d spinners: min %ld us, median %ld us, max %ld us\n", kSleeps,
          kSleepMs, kSpinners, took[0], median, took[kSleeps - 1]);
  CHECK("no sleep ends early", took[0] >= kSleepMs * 1000L);
  CHECK("a 10 ms sleep beside three spinners takes under 30 ms (median)", median < kMedianBoundMs * 1000L);
  CHECK("the spinners were killed and reaped", reaped == kSpinners);
  return ABI_DONE();
}
