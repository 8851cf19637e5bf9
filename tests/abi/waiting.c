/* Waiting and IPC: poll/ppoll/select readiness, epoll (level and edge triggered, oneshot),
 * eventfd, futex wait/wake/timeouts, alarm and setitimer, sigtimedwait, nanosleep. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "abi_check.h"

/* <linux/futex.h> is not in musl's include path. */
#define FUTEX_WAIT_PRIVATE (0 | 128)
#define FUTEX_WAKE_PRIVATE (1 | 128)

static volatile sig_atomic_t alarms, vtalrms;
static void on_vtalrm(int sig) {
  (void)sig;
  vtalrms++;
}
static void on_alarm(int sig) {
  (void)sig;
  alarms++;
}

static long futex(int* addr, int op, int val, const struct timespec* ts, int* addr2, int val3) {
  return syscall(SYS_futex, addr, op, val, ts, addr2, val3);
}

static int futex_word;
static void* waker(void* arg) {
  (void)arg;
  usleep(20000);
  __atomic_store_n(&futex_word, 1, __ATOMIC_SEQ_CST);
  futex(&futex_word, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
  return 0;
}

int main(void) {
  int p[2];
  CHECK("pipe", pipe(p) == 0);
  struct pollfd pf[2] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}};
  CHECK("poll: empty pipe is writable, not readable",
        poll(pf, 2, 0) == 1 && pf[0].revents == 0 && pf[1].revents == POLLOUT);
  write(p[1], "x", 1);
  CHECK("poll: data makes it readable", poll(pf, 1, 0) == 1 && (pf[0].revents & POLLIN));
  struct pollfd bad = {999, POLLIN, 0};
  CHECK("poll: a closed fd is POLLNVAL", poll(&bad, 1, 0) == 1 && bad.revents == POLLNVAL);
  CHECK_ERRNO("poll: bad pointer is EFAULT", poll((struct pollfd*)8, 1, 0), EFAULT);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  struct pollfd none = {p[1], POLLIN, 0};
  CHECK("poll: times out with 0", poll(&none, 1, 50) == 0);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
  CHECK("poll: waited about 50 ms", ms >= 45 && ms < 1000);

  fd_set rd;
  FD_ZERO(&rd);
  FD_SET(p[0], &rd);
  struct timeval tv = {0, 0};
  CHECK("select: readable pipe", select(p[0] + 1, &rd, 0, 0, &tv) == 1 && FD_ISSET(p[0], &rd));
  FD_ZERO(&rd);
  FD_SET(40, &rd);
  CHECK_ERRNO("select: closed fd is EBADF", select(41, &rd, 0, 0, &tv), EBADF);
  char c;
  read(p[0], &c, 1);

  /* A child writes later: poll blocks until then. */
  pid_t kid = fork();
  if (kid == 0) {
    usleep(30000);
    write(p[1], "y", 1);
    _exit(0);
  }
  pf[0].revents = 0;
  CHECK("poll: wakes when another process writes", poll(pf, 1, 5000) == 1 && (pf[0].revents & POLLIN));
  read(p[0], &c, 1);
  waitpid(kid, 0, 0);

  int ep = epoll_create1(EPOLL_CLOEXEC);
  CHECK("epoll_create1", ep >= 0);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1122334455667788ull};
  CHECK("epoll_ctl ADD", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0);
  CHECK_ERRNO("epoll_ctl ADD twice is EEXIST", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), EEXIST);
  CHECK_ERRNO("epoll_ctl MOD of an unknown fd is ENOENT", epoll_ctl(ep, EPOLL_CTL_MOD, p[1], &ev), ENOENT);
  CHECK_ERRNO("epoll on itself is EINVAL", epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev), EINVAL);
  int regular = open("/proc/self/exe", O_RDONLY);
  CHECK_ERRNO("epoll of a regular file is EPERM", epoll_ctl(ep, EPOLL_CTL_ADD, regular, &ev), EPERM);
  close(regular);
  struct epoll_event out[4];
  CHECK("epoll_wait: nothing ready", epoll_wait(ep, out, 4, 0) == 0);
  write(p[1], "z", 1);
  CHECK("epoll_wait: ready with its data",
        epoll_wait(ep, out, 4, 100) == 1 && out[0].data.u64 == 0x1122334455667788ull && (out[0].events & EPOLLIN));
  CHECK("epoll level-triggered reports again", epoll_wait(ep, out, 4, 0) == 1);
  ev.events = EPOLLIN | EPOLLET;
  CHECK("epoll_ctl MOD to edge-triggered", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev) == 0);
  CHECK("epoll edge-triggered reports once", epoll_wait(ep, out, 4, 0) == 1 && epoll_wait(ep, out, 4, 0) == 0);
  write(p[1], "y", 1);
  CHECK("epoll edge-triggered reports new data though still readable",
        epoll_wait(ep, out, 4, 0) == 1 && epoll_wait(ep, out, 4, 0) == 0);
  read(p[0], &c, 1);
  CHECK("epoll edge-triggered: a partial read is no new event", epoll_wait(ep, out, 4, 0) == 0);
  ev.events = EPOLLIN | EPOLLONESHOT;
  epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev);
  CHECK("epoll oneshot reports once", epoll_wait(ep, out, 4, 0) == 1 && epoll_wait(ep, out, 4, 0) == 0);
  CHECK_ERRNO("epoll_wait maxevents 0 is EINVAL", epoll_wait(ep, out, 0, 0), EINVAL);
  CHECK("epoll_ctl DEL", epoll_ctl(ep, EPOLL_CTL_DEL, p[0], 0) == 0);
  read(p[0], &c, 1);
  close(ep);

  int efd = eventfd(3, EFD_NONBLOCK);
  uint64_t v = 0;
  CHECK("eventfd read returns the count", read(efd, &v, 8) == 8 && v == 3);
  CHECK_ERRNO("empty nonblocking eventfd is EAGAIN", read(efd, &v, 8), EAGAIN);
  CHECK_ERRNO("eventfd short read is EINVAL", read(efd, &v, 4), EINVAL);
  v = 5;
  write(efd, &v, 8);
  write(efd, &v, 8);
  CHECK("eventfd writes add up", read(efd, &v, 8) == 8 && v == 10);
  v = UINT64_MAX;
  CHECK_ERRNO("eventfd write of 2^64-1 is EINVAL", write(efd, &v, 8), EINVAL);
  close(efd);
  int sem = eventfd(2, EFD_SEMAPHORE);
  CHECK("EFD_SEMAPHORE reads 1 at a time", read(sem, &v, 8) == 8 && v == 1 && read(sem, &v, 8) == 8 && v == 1);
  close(sem);

  int word = 5;
  CHECK_ERRNO("FUTEX_WAIT on a changed value is EAGAIN", futex(&word, FUTEX_WAIT_PRIVATE, 4, 0, 0, 0), EAGAIN);
  struct timespec tmo = {0, 20000000};
  CHECK_ERRNO("FUTEX_WAIT times out", futex(&word, FUTEX_WAIT_PRIVATE, 5, &tmo, 0, 0), ETIMEDOUT);
  CHECK("FUTEX_WAKE with no waiters wakes 0", futex(&word, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0) == 0);
  CHECK_ERRNO("futex on a bad address is EFAULT", futex((int*)8, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0), EFAULT);
  pthread_t th;
  pthread_create(&th, 0, waker, 0);
  int woke = 0;
  while (__atomic_load_n(&futex_word, __ATOMIC_SEQ_CST) == 0) {
    futex(&futex_word, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0);
    woke = 1;
  }
  pthread_join(th, 0);
  CHECK("FUTEX_WAIT is woken by another thread", woke == 1 && futex_word == 1);

  signal(SIGALRM, on_alarm);
  CHECK("alarm returns 0 when none was set", alarm(10) == 0);
  CHECK("alarm returns the time left", alarm(0) == 10);
  struct itimerval it = {{0, 20000}, {0, 20000}}, old;
  CHECK("setitimer ITIMER_REAL", setitimer(ITIMER_REAL, &it, 0) == 0);
  while (alarms < 3) pause();
  struct itimerval zero = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &zero, &old);
  CHECK("the interval timer fired repeatedly", alarms >= 3 && old.it_interval.tv_usec == 20000);
  CHECK_ERRNO("setitimer with a bad which is EINVAL", setitimer(7, &it, 0), EINVAL);

  /* ITIMER_VIRTUAL counts user CPU time: a busy loop makes it fire; getrusage sees the time. */
  signal(SIGVTALRM, on_vtalrm);
  struct itimerval vt = {{0, 0}, {0, 30000}};
  CHECK("setitimer ITIMER_VIRTUAL", setitimer(ITIMER_VIRTUAL, &vt, 0) == 0);
  struct timespec b0, b1;
  clock_gettime(CLOCK_MONOTONIC, &b0);
  volatile unsigned long spin = 0;
  do {
    for (int k = 0; k < 100000; ++k) spin++;
    clock_gettime(CLOCK_MONOTONIC, &b1);
  } while (vtalrms == 0 && b1.tv_sec - b0.tv_sec < 5);
  CHECK("ITIMER_VIRTUAL fired during a busy loop", vtalrms == 1);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  CHECK("getrusage reports user time", ru.ru_utime.tv_sec > 0 || ru.ru_utime.tv_usec >= 10000);

  /* wait4's rusage is the child's own usage (with its waited-for children's): a child that
   * burns ~100 ms of CPU reports it, and the parent's RUSAGE_CHILDREN grows by the same. */
  struct rusage before, child_ru, after;
  getrusage(RUSAGE_CHILDREN, &before);
  pid_t burner = fork();
  if (burner == 0) {
    char* fresh = mmap(0, 64 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (int k = 0; fresh != MAP_FAILED && k < 64; ++k)
      fresh[k * 4096] = 1; /* page faults (Linux counts 64; this kernel maps ahead, fewer) */
    struct timespec c0, c1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    do {
      for (int k = 0; k < 100000; ++k) spin++;
      clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    } while ((c1.tv_sec - c0.tv_sec) * 1000000000L + (c1.tv_nsec - c0.tv_nsec) < 100000000L);
    _exit(0);
  }
  memset(&child_ru, 0xff, sizeof child_ru);
  int wst = 0;
  CHECK("wait4 with a rusage reaps the child", wait4(burner, &wst, 0, &child_ru) == burner && WIFEXITED(wst));
  long child_us = (child_ru.ru_utime.tv_sec + child_ru.ru_stime.tv_sec) * 1000000L + child_ru.ru_utime.tv_usec +
                  child_ru.ru_stime.tv_usec;
  CHECK("wait4's rusage has the child's CPU time", child_us >= 80000 && child_us < 5000000);
  CHECK("wait4's rusage has the child's page faults", child_ru.ru_minflt > 0);
  CHECK("wait4's rusage leaves the unused fields zero", child_ru.ru_ixrss == 0 && child_ru.ru_nswap == 0);
  getrusage(RUSAGE_CHILDREN, &after);
  long grew =
      (after.ru_utime.tv_sec - before.ru_utime.tv_sec + after.ru_stime.tv_sec - before.ru_stime.tv_sec) * 1000000L +
      after.ru_utime.tv_usec - before.ru_utime.tv_usec + after.ru_stime.tv_usec - before.ru_stime.tv_usec;
  CHECK("RUSAGE_CHILDREN grew by what wait4 reported", grew >= child_us - 2000 && grew <= child_us + 2000);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, 0);
  kill(getpid(), SIGUSR1);
  siginfo_t si;
  CHECK("sigtimedwait takes a pending signal",
        sigtimedwait(&set, &si, 0) == SIGUSR1 && si.si_signo == SIGUSR1 && si.si_pid == getpid());
  struct timespec short_wait = {0, 10000000};
  CHECK_ERRNO("sigtimedwait times out with EAGAIN", sigtimedwait(&set, &si, &short_wait), EAGAIN);

  struct timespec nap = {0, 1000000000};
  CHECK_ERRNO("nanosleep with 10^9 ns is EINVAL", nanosleep(&nap, 0), EINVAL);
  return ABI_DONE();
}
