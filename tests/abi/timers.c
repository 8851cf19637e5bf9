/* POSIX timers (timer_create/settime/gettime/getoverrun/delete) and timerfd: signals with
 * SI_TIMER and the timer's value, overruns counted while the signal waits, SIGEV_NONE,
 * SIGEV_THREAD_ID, CPU-time clocks, absolute times, the errno of every documented failure, and
 * the interaction with fork and exec (timers are not inherited and do not survive exec; an
 * alarm does). Timing checks are lower bounds that hold on a loaded machine. Run natively and
 * under the kernel: the outputs must match. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>

#include "abi_check.h"

static uint64_t now_ns(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Waits up to `ms` for one of `sig`; returns the signal (or -1) and fills *si. */
static int wait_sig(int sig, siginfo_t* si, long ms) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  return sigtimedwait(&set, si, &ts);
}

static int timer_id_of(timer_t t) { return (int)(intptr_t)t; }

/* The kernel's struct sigevent, for SIGEV_THREAD_ID without the C library in between. */
struct ksigevent {
  union sigval value;
  int signo;
  int notify;
  int tid;
  int pad[11];
};

static void posix_timers(char* self) {
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  sigaddset(&block, SIGUSR2);
  sigaddset(&block, SIGALRM);
  sigaddset(&block, SIGRTMIN);
  sigprocmask(SIG_BLOCK, &block, NULL);

  /* One-shot, SIGEV_SIGNAL with a value. */
  timer_t t;
  struct sigevent ev = {0};
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGUSR1;
  ev.sigev_value.sival_int = 42;
  CHECK("timer_create(CLOCK_MONOTONIC, SIGEV_SIGNAL)", timer_create(CLOCK_MONOTONIC, &ev, &t) == 0);
  struct itimerspec its = {{0, 0}, {0, 30000000}}, cur;
  uint64_t t0 = now_ns(CLOCK_MONOTONIC);
  CHECK("timer_settime 30 ms", timer_settime(t, 0, &its, NULL) == 0);
  CHECK("timer_gettime: armed, at most 30 ms left", timer_gettime(t, &cur) == 0 && cur.it_value.tv_sec == 0 &&
                                                        cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 30000000 &&
                                                        cur.it_interval.tv_nsec == 0);
  siginfo_t si;
  int sig = wait_sig(SIGUSR1, &si, 5000);
  CHECK("the signal comes", sig == SIGUSR1);
  CHECK("no earlier than 30 ms", now_ns(CLOCK_MONOTONIC) - t0 >= 30000000);
  CHECK("si_code is SI_TIMER", si.si_code == SI_TIMER);
  CHECK("si_value is sigev_value", si.si_value.sival_int == 42);
  CHECK("si_timerid is the timer", si.si_timerid == timer_id_of(t));
  CHECK("si_overrun is 0", si.si_overrun == 0);
  CHECK("expired one-shot: timer_gettime says disarmed",
        timer_gettime(t, &cur) == 0 && cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);

  /* timer_settime's old value, then disarm. */
  its.it_value.tv_sec = 10;
  its.it_value.tv_nsec = 0;
  timer_settime(t, 0, &its, NULL);
  struct itimerspec old, zero = {{0, 0}, {0, 0}};
  CHECK("disarm returns the old value",
        timer_settime(t, 0, &zero, &old) == 0 && old.it_value.tv_sec >= 9 && old.it_value.tv_sec <= 10);
  CHECK("disarmed", timer_gettime(t, &cur) == 0 && cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);
  CHECK("timer_delete", timer_delete(t) == 0);
  CHECK_ERRNO("timer_delete again: EINVAL", syscall(SYS_timer_delete, timer_id_of(t)), EINVAL);
  CHECK_ERRNO("timer_gettime of a deleted timer: EINVAL", timer_gettime(t, &cur), EINVAL);

  /* Periodic with the signal blocked: one signal waits, the rest count as overruns. */
  ev.sigev_signo = SIGRTMIN;
  ev.sigev_value.sival_int = 7;
  timer_create(CLOCK_MONOTONIC, &ev, &t);
  struct itimerspec per = {{0, 10000000}, {0, 10000000}};
  timer_settime(t, 0, &per, NULL);
  CHECK("periodic: timer_gettime shows the interval",
        timer_gettime(t, &cur) == 0 && cur.it_interval.tv_sec == 0 && cur.it_interval.tv_nsec == 10000000);
  sleep_ms(100);
  sig = wait_sig(SIGRTMIN, &si, 5000);
  CHECK("periodic: the signal comes", sig == SIGRTMIN && si.si_code == SI_TIMER && si.si_value.sival_int == 7);
  int overrun = si.si_overrun;
  CHECK("periodic: the expirations it waited through are overruns (>= 4)", overrun >= 4);
  CHECK("timer_getoverrun is the delivered count", timer_getoverrun(t) == overrun);
  timer_delete(t);

  /* No sigevent: SIGALRM carrying the timer id. */
  CHECK("timer_create with no sigevent", timer_create(CLOCK_REALTIME, NULL, &t) == 0);
  its = (struct itimerspec){{0, 0}, {0, 1000000}};
  timer_settime(t, 0, &its, NULL);
  sig = wait_sig(SIGALRM, &si, 5000);
  CHECK("default: SIGALRM with si_value = the timer id",
        sig == SIGALRM && si.si_code == SI_TIMER && si.si_value.sival_int == timer_id_of(t));
  timer_delete(t);

  /* Absolute time already past on CLOCK_REALTIME: expires at once. */
  ev.sigev_signo = SIGUSR2;
  timer_create(CLOCK_REALTIME, &ev, &t);
  struct timespec nowr;
  clock_gettime(CLOCK_REALTIME, &nowr);
  its = (struct itimerspec){{0, 0}, {nowr.tv_sec - 5, 0}};
  CHECK("TIMER_ABSTIME in the past", timer_settime(t, TIMER_ABSTIME, &its, NULL) == 0);
  CHECK("expires at once", wait_sig(SIGUSR2, &si, 5000) == SIGUSR2);
  timer_delete(t);
  /* Absolute time 40 ms ahead on CLOCK_MONOTONIC. */
  timer_create(CLOCK_MONOTONIC, &ev, &t);
  t0 = now_ns(CLOCK_MONOTONIC);
  its.it_value.tv_sec = (t0 + 40000000) / 1000000000;
  its.it_value.tv_nsec = (t0 + 40000000) % 1000000000;
  timer_settime(t, TIMER_ABSTIME, &its, NULL);
  CHECK("TIMER_ABSTIME 40 ms ahead: not before",
        wait_sig(SIGUSR2, &si, 5000) == SIGUSR2 && now_ns(CLOCK_MONOTONIC) - t0 >= 40000000);
  timer_delete(t);

  /* SIGEV_NONE: runs down, sends nothing. */
  ev.sigev_notify = SIGEV_NONE;
  timer_create(CLOCK_MONOTONIC, &ev, &t);
  its = (struct itimerspec){{0, 0}, {0, 20000000}};
  timer_settime(t, 0, &its, NULL);
  sleep_ms(40);
  sigset_t pend;
  sigpending(&pend);
  CHECK("SIGEV_NONE: no signal", !sigismember(&pend, SIGUSR2));
  CHECK("SIGEV_NONE: expired", timer_gettime(t, &cur) == 0 && cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);
  timer_delete(t);

  /* SIGEV_THREAD_ID: to this thread. */
  struct ksigevent kev = {0};
  kev.notify = SIGEV_SIGNAL | SIGEV_THREAD_ID;
  kev.signo = SIGUSR1;
  kev.tid = (int)syscall(SYS_gettid);
  int kid = -1;
  CHECK("SIGEV_THREAD_ID to this thread", syscall(SYS_timer_create, CLOCK_MONOTONIC, &kev, &kid) == 0);
  its = (struct itimerspec){{0, 0}, {0, 1000000}};
  syscall(SYS_timer_settime, kid, 0, &its, NULL);
  CHECK("the thread gets it", wait_sig(SIGUSR1, &si, 5000) == SIGUSR1 && si.si_code == SI_TIMER);
  syscall(SYS_timer_delete, kid);
  kev.tid = getppid();
  CHECK_ERRNO("SIGEV_THREAD_ID to another process: EINVAL", syscall(SYS_timer_create, CLOCK_MONOTONIC, &kev, &kid),
              EINVAL);

  /* CPU-time clocks: the timer counts the CPU time the program uses. */
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGUSR1;
  const clockid_t cpu_clocks[] = {CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID};
  const char* cpu_names[] = {"CLOCK_PROCESS_CPUTIME_ID", "CLOCK_THREAD_CPUTIME_ID"};
  for (int k = 0; k < 2; ++k) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s timer", cpu_names[k]);
    CHECK(msg, timer_create(cpu_clocks[k], &ev, &t) == 0);
    its = (struct itimerspec){{0, 0}, {0, 30000000}};
    uint64_t c0 = now_ns(cpu_clocks[k]);
    timer_settime(t, 0, &its, NULL);
    int fired = 0;
    while (now_ns(cpu_clocks[k]) - c0 < 3000000000ull) {
      sigpending(&pend);
      if (sigismember(&pend, SIGUSR1)) {
        fired = 1;
        break;
      }
    }
    uint64_t used = now_ns(cpu_clocks[k]) - c0;
    snprintf(msg, sizeof msg, "%s: fires after 30 ms of CPU time, not before", cpu_names[k]);
    CHECK(msg, fired && used >= 30000000 && wait_sig(SIGUSR1, &si, 0) == SIGUSR1 && si.si_code == SI_TIMER);
    timer_delete(t);
  }

  /* Errors. */
  CHECK_ERRNO("timer_create: unknown clock: EINVAL", timer_create(99, &ev, &t), EINVAL);
  CHECK_ERRNO("timer_create: CLOCK_MONOTONIC_RAW has no timers", timer_create(CLOCK_MONOTONIC_RAW, &ev, &t),
              EOPNOTSUPP);
  ev.sigev_notify = 99;
  CHECK_ERRNO("timer_create: bad sigev_notify: EINVAL", timer_create(CLOCK_MONOTONIC, &ev, &t), EINVAL);
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = 0;
  CHECK_ERRNO("timer_create: signal 0: EINVAL", timer_create(CLOCK_MONOTONIC, &ev, &t), EINVAL);
  ev.sigev_signo = 65;
  CHECK_ERRNO("timer_create: signal 65: EINVAL", timer_create(CLOCK_MONOTONIC, &ev, &t), EINVAL);
  CHECK_ERRNO("timer_create: bad sigevent pointer: EFAULT", syscall(SYS_timer_create, CLOCK_MONOTONIC, (void*)8, &kid),
              EFAULT);
  ev.sigev_signo = SIGUSR1;
  CHECK_ERRNO("timer_create: bad id pointer: EFAULT", syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, (void*)8),
              EFAULT);
  timer_create(CLOCK_MONOTONIC, &ev, &t);
  its = (struct itimerspec){{0, 0}, {0, 1000000000}};
  CHECK_ERRNO("timer_settime: tv_nsec = 1e9: EINVAL", timer_settime(t, 0, &its, NULL), EINVAL);
  its = (struct itimerspec){{0, -1}, {1, 0}};
  CHECK_ERRNO("timer_settime: negative interval: EINVAL", timer_settime(t, 0, &its, NULL), EINVAL);
  CHECK_ERRNO("timer_settime: bad pointer: EFAULT", syscall(SYS_timer_settime, timer_id_of(t), 0, (void*)8, NULL),
              EFAULT);
  CHECK_ERRNO("timer_gettime: unknown id: EINVAL", syscall(SYS_timer_gettime, 12345, &cur), EINVAL);
  CHECK_ERRNO("timer_getoverrun: unknown id: EINVAL", syscall(SYS_timer_getoverrun, 12345), EINVAL);
  CHECK_ERRNO("timer_delete: negative id: EINVAL", syscall(SYS_timer_delete, -1), EINVAL);

  /* fork: the child has no timers; exec: the timer is gone, an alarm stays. */
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    errno = 0;
    _exit(syscall(SYS_timer_gettime, timer_id_of(t), &cur) == -1 && errno == EINVAL ? 0 : 1);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK("fork: the child has none of the parent's timers", WIFEXITED(st) && WEXITSTATUS(st) == 0);
  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    alarm(100);
    char id[16];
    snprintf(id, sizeof id, "%d", timer_id_of(t));
    execl(self, self, "--after-exec", id, (char*)NULL);
    _exit(9);
  }
  waitpid(pid, &st, 0);
  CHECK("exec: POSIX timers deleted, the alarm kept", WIFEXITED(st) && WEXITSTATUS(st) == 0);
  timer_delete(t);
  sigprocmask(SIG_UNBLOCK, &block, NULL);
}

static int after_exec(int id) {
  struct itimerspec cur;
  errno = 0;
  int gone = syscall(SYS_timer_gettime, id, &cur) == -1 && errno == EINVAL;
  unsigned left = alarm(0);
  return gone && left > 90 ? 0 : 1;
}

static void timerfds(void) {
  CHECK_ERRNO("timerfd_create: unknown clock: EINVAL", timerfd_create(99, 0), EINVAL);
  CHECK_ERRNO("timerfd_create: CPU-time clock: EINVAL", timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0), EINVAL);
  CHECK_ERRNO("timerfd_create: bad flags: EINVAL", timerfd_create(CLOCK_MONOTONIC, 1), EINVAL);
  int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
  CHECK("timerfd_create(CLOCK_MONOTONIC)", fd >= 0);
  struct itimerspec its = {{0, 0}, {0, 30000000}}, cur, old;
  CHECK("timerfd_gettime: disarmed",
        timerfd_gettime(fd, &cur) == 0 && cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);
  uint64_t t0 = now_ns(CLOCK_MONOTONIC);
  CHECK("timerfd_settime 30 ms", timerfd_settime(fd, 0, &its, NULL) == 0);
  CHECK("timerfd_gettime: at most 30 ms left", timerfd_gettime(fd, &cur) == 0 && cur.it_value.tv_sec == 0 &&
                                                   cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 30000000);
  struct pollfd pfd = {fd, POLLIN, 0};
  CHECK("poll: not readable before it expires", poll(&pfd, 1, 0) == 0);
  uint64_t n = 0;
  CHECK("read blocks until it expires: 1", read(fd, &n, sizeof n) == 8 && n == 1);
  CHECK("not before 30 ms", now_ns(CLOCK_MONOTONIC) - t0 >= 30000000);
  CHECK("expired: disarmed", timerfd_gettime(fd, &cur) == 0 && cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);
  int fl = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, fl | O_NONBLOCK);
  CHECK_ERRNO("nonblocking read with nothing expired: EAGAIN", read(fd, &n, sizeof n), EAGAIN);
  char small[4];
  CHECK_ERRNO("read of 4 bytes: EINVAL", read(fd, small, sizeof small), EINVAL);
  fcntl(fd, F_SETFL, fl);

  /* Periodic: the expirations add up between reads. */
  struct itimerspec per = {{0, 5000000}, {0, 5000000}};
  timerfd_settime(fd, 0, &per, NULL);
  sleep_ms(60);
  CHECK("poll: readable after expiry", poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN));
  CHECK("periodic: one read counts every expiration (>= 8)", read(fd, &n, sizeof n) == 8 && n >= 8);
  CHECK("and the next read waits for the next period", read(fd, &n, sizeof n) == 8 && n >= 1);
  int ep = epoll_create1(0);
  struct epoll_event e = {EPOLLIN, {.u64 = 77}}, got;
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
  CHECK("epoll reports the timerfd", epoll_wait(ep, &got, 1, 5000) == 1 && got.data.u64 == 77);
  close(ep);
  CHECK("settime returns the old setting",
        timerfd_settime(fd, 0, &its, &old) == 0 && old.it_interval.tv_sec == 0 && old.it_interval.tv_nsec == 5000000);
  timerfd_settime(fd, 0, &(struct itimerspec){{0, 0}, {0, 0}}, NULL);
  CHECK("disarming drops what was not read", poll(&pfd, 1, 0) == 0);

  /* Absolute times on CLOCK_REALTIME. */
  int rfd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
  struct timespec nowr;
  clock_gettime(CLOCK_REALTIME, &nowr);
  its = (struct itimerspec){{0, 0}, {nowr.tv_sec - 1, 0}};
  CHECK("TFD_TIMER_ABSTIME in the past", timerfd_settime(rfd, TFD_TIMER_ABSTIME, &its, NULL) == 0);
  pfd.fd = rfd;
  CHECK("expires at once", poll(&pfd, 1, 5000) == 1 && read(rfd, &n, sizeof n) == 8 && n == 1);
  its.it_value.tv_sec = nowr.tv_sec + 100;
  CHECK("TFD_TIMER_ABSTIME|TFD_TIMER_CANCEL_ON_SET accepted",
        timerfd_settime(rfd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL) == 0);
  CHECK("100 s ahead", timerfd_gettime(rfd, &cur) == 0 && cur.it_value.tv_sec >= 98 && cur.it_value.tv_sec <= 100);
  close(rfd);

  /* Errors. */
  its = (struct itimerspec){{0, 0}, {0, 1000000000}};
  CHECK_ERRNO("timerfd_settime: tv_nsec = 1e9: EINVAL", timerfd_settime(fd, 0, &its, NULL), EINVAL);
  its = (struct itimerspec){{0, 0}, {1, 0}};
  CHECK_ERRNO("timerfd_settime: bad flags: EINVAL", timerfd_settime(fd, 4, &its, NULL), EINVAL);
  CHECK_ERRNO("timerfd_settime: bad pointer: EFAULT", timerfd_settime(fd, 0, (void*)8, NULL), EFAULT);
  CHECK_ERRNO("timerfd_settime: closed descriptor: EBADF", timerfd_settime(999, 0, &its, NULL), EBADF);
  int p[2];
  pipe(p);
  CHECK_ERRNO("timerfd_settime on a pipe: EINVAL", timerfd_settime(p[0], 0, &its, NULL), EINVAL);
  CHECK_ERRNO("timerfd_gettime on a pipe: EINVAL", timerfd_gettime(p[0], &cur), EINVAL);
  CHECK_ERRNO("timerfd_gettime: bad pointer: EFAULT", timerfd_gettime(fd, (void*)8), EFAULT);
  close(p[0]);
  close(p[1]);

  /* A forked child shares the timerfd (one open file description). */
  its = (struct itimerspec){{0, 0}, {0, 20000000}};
  timerfd_settime(fd, 0, &its, NULL);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) _exit(read(fd, &n, sizeof n) == 8 && n == 1 ? 0 : 1);
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK("fork: the child reads the shared timerfd", WIFEXITED(st) && WEXITSTATUS(st) == 0);
  fcntl(fd, F_SETFL, O_NONBLOCK);
  CHECK_ERRNO("and the parent finds it read", read(fd, &n, sizeof n), EAGAIN);
  close(fd);
}

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "--after-exec") == 0) return after_exec(atoi(argv[2]));
  setvbuf(stdout, NULL, _IONBF, 0);
  posix_timers(argv[0]);
  timerfds();
  return ABI_DONE();
}
