/* Setting the clock, under the kernel only (natively it would set the host's clock): clock_settime,
 * settimeofday and adjtimex's ADJ_SETOFFSET move CLOCK_REALTIME, the vDSO's reading and time(2)
 * with it and leave CLOCK_MONOTONIC alone; adjtimex reports and keeps the NTP state; the errno of
 * every documented failure, EPERM for a user without CAP_SYS_TIME. Prints "settime: all ok". */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <time.h>

#include "abi_check.h"

static int64_t ns(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int near(int64_t a, int64_t b) { return a - b < 2000000000LL && b - a < 2000000000LL; }

static int unprivileged(void) {
  if (setuid(65534) != 0) return 1;
  struct timespec ts = {1000000000, 0};
  errno = 0;
  if (clock_settime(CLOCK_REALTIME, &ts) != -1 || errno != EPERM) return 2;
  struct timex tx = {0};
  tx.modes = ADJ_OFFSET;
  errno = 0;
  if (adjtimex(&tx) != -1 || errno != EPERM) return 3;
  tx.modes = 0;
  if (adjtimex(&tx) < 0) return 4; /* reading is for everyone */
  return 0;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  const int64_t day = 86400LL * 1000000000;
  int64_t real0 = ns(CLOCK_REALTIME), mono0 = ns(CLOCK_MONOTONIC);
  struct timespec ts = {(time_t)((real0 + day) / 1000000000), 0};
  CHECK("clock_settime(CLOCK_REALTIME) a day ahead", clock_settime(CLOCK_REALTIME, &ts) == 0);
  CHECK("CLOCK_REALTIME (vDSO) follows", near(ns(CLOCK_REALTIME), real0 + day));
  struct timespec sys;
  syscall(SYS_clock_gettime, CLOCK_REALTIME, &sys);
  CHECK("and the system call", near((int64_t)sys.tv_sec * 1000000000 + sys.tv_nsec, real0 + day));
  CHECK("and time()", near((int64_t)time(NULL) * 1000000000, real0 + day));
  struct timeval tv;
  gettimeofday(&tv, NULL);
  CHECK("and gettimeofday", near((int64_t)tv.tv_sec * 1000000000 + tv.tv_usec * 1000LL, real0 + day));
  CHECK("CLOCK_MONOTONIC does not move", ns(CLOCK_MONOTONIC) - mono0 < 2000000000LL);
  tv.tv_sec = (time_t)(real0 / 1000000000);
  tv.tv_usec = 0;
  struct timezone tz = {60, 0};
  /* The system calls themselves: C libraries leave the timezone out. */
  CHECK("settimeofday back, with a timezone",
        syscall(SYS_settimeofday, &tv, &tz) == 0 && near(ns(CLOCK_REALTIME), real0));
  struct timezone got = {0, 0};
  CHECK("gettimeofday reports the timezone", syscall(SYS_gettimeofday, &tv, &got) == 0 && got.tz_minuteswest == 60);
  tz.tz_minuteswest = 0;
  syscall(SYS_settimeofday, NULL, &tz);

  struct timex tx = {0};
  int state = adjtimex(&tx);
  CHECK("adjtimex: an unsynchronised clock is TIME_ERROR", state == TIME_ERROR && (tx.status & STA_UNSYNC) != 0);
  CHECK("with Linux's defaults",
        tx.tick == 10000 && tx.constant == 2 && tx.maxerror == 16000000 && tx.tolerance == 32768000);
  tx.modes = ADJ_STATUS | ADJ_MAXERROR | ADJ_ESTERROR;
  tx.status = 0;
  tx.maxerror = 1000;
  tx.esterror = 500;
  CHECK("clearing STA_UNSYNC: TIME_OK", adjtimex(&tx) == TIME_OK && tx.maxerror == 1000 && tx.esterror == 500);
  memset(&tx, 0, sizeof tx);
  tx.modes = ADJ_SETOFFSET | ADJ_NANO;
  tx.time.tv_sec = 5;
  tx.time.tv_usec = 500000000; /* nanoseconds with ADJ_NANO */
  int64_t before = ns(CLOCK_REALTIME);
  CHECK("ADJ_SETOFFSET +5.5 s", adjtimex(&tx) >= 0 && near(ns(CLOCK_REALTIME), before + 5500000000LL));
  ts.tv_sec = (time_t)(before / 1000000000);
  clock_settime(CLOCK_REALTIME, &ts);
  memset(&tx, 0, sizeof tx);
  tx.modes = ADJ_TICK;
  tx.tick = 100;
  CHECK_ERRNO("ADJ_TICK out of range: EINVAL", adjtimex(&tx), EINVAL);
  memset(&tx, 0, sizeof tx);
  tx.modes = ADJ_SETOFFSET;
  tx.time.tv_usec = 1000000;
  CHECK_ERRNO("ADJ_SETOFFSET with tv_usec 1e6: EINVAL", adjtimex(&tx), EINVAL);
  CHECK_ERRNO("adjtimex: bad pointer: EFAULT", adjtimex((struct timex*)8), EFAULT);
  memset(&tx, 0, sizeof tx);
  CHECK("clock_adjtime(CLOCK_REALTIME)", clock_adjtime(CLOCK_REALTIME, &tx) >= 0);
  CHECK_ERRNO("clock_adjtime(CLOCK_MONOTONIC): EOPNOTSUPP", clock_adjtime(CLOCK_MONOTONIC, &tx), EOPNOTSUPP);
  CHECK_ERRNO("clock_adjtime(99): EINVAL", clock_adjtime(99, &tx), EINVAL);
  CHECK_ERRNO("clock_settime(CLOCK_MONOTONIC): EINVAL", clock_settime(CLOCK_MONOTONIC, &ts), EINVAL);
  CHECK_ERRNO("clock_settime of a CPU clock: EPERM", clock_settime(CLOCK_PROCESS_CPUTIME_ID, &ts), EPERM);
  ts.tv_nsec = 1000000000;
  CHECK_ERRNO("clock_settime: tv_nsec 1e9: EINVAL", clock_settime(CLOCK_REALTIME, &ts), EINVAL);
  CHECK_ERRNO("clock_settime: bad pointer: EFAULT", clock_settime(CLOCK_REALTIME, (struct timespec*)8), EFAULT);
  tv.tv_usec = 1000000;
  CHECK_ERRNO("settimeofday: tv_usec 1e6: EINVAL", syscall(SYS_settimeofday, &tv, NULL), EINVAL);
  tz.tz_minuteswest = 1000;
  CHECK_ERRNO("settimeofday: timezone 1000 minutes west: EINVAL", syscall(SYS_settimeofday, NULL, &tz), EINVAL);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) _exit(unprivileged());
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK("without CAP_SYS_TIME: EPERM to set, reading allowed", WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK("the clock is back where it was", near(ns(CLOCK_REALTIME), real0));
  if (abi_failures == 0) printf("settime: all ok\n");
  return ABI_DONE();
}
