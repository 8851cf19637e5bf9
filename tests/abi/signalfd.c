/* signalfd/signalfd4 and rt_sigqueueinfo/rt_tgsigqueueinfo: signals read as records (their
 * fields for kill, sigqueue, a child's exit and a timer), queued real-time signals, mask updates,
 * poll and epoll readiness, a blocking read woken by another process's signal, and the errno of
 * every documented failure. Run natively and under the kernel: the outputs must match. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <time.h>

#include "abi_check.h"

static int sigqueueinfo(pid_t pid, int sig, siginfo_t* si) { return syscall(SYS_rt_sigqueueinfo, pid, sig, si); }

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGUSR1);
  sigaddset(&mask, SIGUSR2);
  sigaddset(&mask, SIGRTMIN);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGALRM);
  sigprocmask(SIG_BLOCK, &mask, NULL);

  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, SIGUSR1);
  int sfd = signalfd(-1, &one, SFD_NONBLOCK | SFD_CLOEXEC);
  CHECK("signalfd(-1, {SIGUSR1}, SFD_NONBLOCK|SFD_CLOEXEC)", sfd >= 0);
  CHECK("close-on-exec set", (fcntl(sfd, F_GETFD) & FD_CLOEXEC) != 0);
  struct signalfd_siginfo rec[4];
  CHECK_ERRNO("nothing pending: EAGAIN", read(sfd, rec, sizeof rec), EAGAIN);
  struct pollfd pfd = {sfd, POLLIN, 0};
  CHECK("poll: not readable", poll(&pfd, 1, 0) == 0);

  /* kill(): signo, SI_USER, the sender's pid and uid. */
  kill(getpid(), SIGUSR1);
  CHECK("poll: readable once SIGUSR1 is pending", poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN));
  ssize_t n = read(sfd, rec, sizeof rec);
  CHECK("read: one record of 128 bytes", n == sizeof(struct signalfd_siginfo));
  CHECK("ssi_signo, ssi_code = SI_USER", rec[0].ssi_signo == SIGUSR1 && rec[0].ssi_code == SI_USER);
  CHECK("ssi_pid, ssi_uid: the sender", rec[0].ssi_pid == (uint32_t)getpid() && rec[0].ssi_uid == getuid());
  sigset_t pend;
  sigpending(&pend);
  CHECK("the signal is taken: no longer pending", !sigismember(&pend, SIGUSR1));

  /* A signal outside the mask is not read. */
  kill(getpid(), SIGUSR2);
  CHECK_ERRNO("SIGUSR2 is not in the mask: EAGAIN", read(sfd, rec, sizeof rec), EAGAIN);
  sigaddset(&one, SIGUSR2);
  sigaddset(&one, SIGRTMIN);
  CHECK("signalfd(fd, ...) changes the mask of that signalfd", signalfd(sfd, &one, 0) == sfd);
  n = read(sfd, rec, sizeof rec);
  CHECK("now SIGUSR2 is read", n == sizeof(struct signalfd_siginfo) && rec[0].ssi_signo == SIGUSR2);

  /* sigqueue(): real-time signals queue, each with its value. */
  for (int i = 0; i < 3; ++i) sigqueue(getpid(), SIGRTMIN, (union sigval){.sival_int = 100 + i});
  n = read(sfd, rec, sizeof rec);
  CHECK("three queued SIGRTMIN in one read", n == 3 * (ssize_t)sizeof(struct signalfd_siginfo));
  CHECK("in order, with SI_QUEUE and their values",
        rec[0].ssi_code == SI_QUEUE && rec[0].ssi_int == 100 && rec[1].ssi_int == 101 && rec[2].ssi_int == 102 &&
            rec[2].ssi_signo == (uint32_t)SIGRTMIN && rec[0].ssi_pid == (uint32_t)getpid());
  /* Standard signals do not queue. */
  kill(getpid(), SIGUSR1);
  kill(getpid(), SIGUSR1);
  n = read(sfd, rec, sizeof rec);
  CHECK("two SIGUSR1 read as one", n == sizeof(struct signalfd_siginfo));

  /* A short buffer, a buffer the kernel cannot write. */
  char small[64];
  kill(getpid(), SIGUSR1);
  CHECK_ERRNO("read of 64 bytes: EINVAL", read(sfd, small, sizeof small), EINVAL);
  CHECK_ERRNO("read into a bad pointer: EFAULT", read(sfd, (void*)8, sizeof rec), EFAULT);
  /* epoll. */
  int ep = epoll_create1(0);
  struct epoll_event e = {EPOLLIN, {.u64 = 5}}, got;
  epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &e);
  CHECK("epoll: nothing yet", epoll_wait(ep, &got, 1, 0) == 0);
  kill(getpid(), SIGUSR2);
  CHECK("epoll reports the signalfd", epoll_wait(ep, &got, 1, 5000) == 1 && got.data.u64 == 5);
  read(sfd, rec, sizeof rec);
  close(ep);

  /* A blocking read woken by another process's signal. */
  int bfd = signalfd(-1, &one, 0);
  fflush(stdout);
  pid_t parent = getpid(), pid = fork();
  if (pid == 0) {
    sleep_ms(30);
    kill(parent, SIGUSR2);
    _exit(3);
  }
  n = read(bfd, rec, sizeof rec);
  CHECK("blocking read: woken by the child's SIGUSR2",
        n == sizeof(struct signalfd_siginfo) && rec[0].ssi_signo == SIGUSR2 && rec[0].ssi_pid == (uint32_t)pid);
  /* SIGCHLD (ignored by default, but blocked: queued) with the child's exit. */
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  int cfd = signalfd(-1, &chld, 0);
  n = read(cfd, rec, sizeof rec);
  CHECK("SIGCHLD: CLD_EXITED, the child's pid and status",
        n == sizeof(struct signalfd_siginfo) && rec[0].ssi_signo == SIGCHLD && rec[0].ssi_code == CLD_EXITED &&
            rec[0].ssi_pid == (uint32_t)pid && rec[0].ssi_status == 3);
  waitpid(pid, NULL, 0);
  close(cfd);
  close(bfd);

  /* A timer's signal: SI_TIMER, the timer id, the value. */
  sigset_t alrm;
  sigemptyset(&alrm);
  sigaddset(&alrm, SIGALRM);
  int afd = signalfd(-1, &alrm, 0);
  timer_t t;
  struct sigevent ev = {0};
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGALRM;
  ev.sigev_value.sival_int = 9;
  timer_create(CLOCK_MONOTONIC, &ev, &t);
  struct itimerspec its = {{0, 0}, {0, 5000000}};
  timer_settime(t, 0, &its, NULL);
  n = read(afd, rec, sizeof rec);
  CHECK("timer: SI_TIMER, ssi_tid = the timer id, ssi_int = the value",
        n == sizeof(struct signalfd_siginfo) && rec[0].ssi_code == SI_TIMER &&
            rec[0].ssi_tid == (uint32_t)(intptr_t)t && rec[0].ssi_int == 9 && rec[0].ssi_overrun == 0);
  timer_delete(t);
  close(afd);

  /* signalfd errors. */
  CHECK_ERRNO("signalfd4: mask size 4: EINVAL", syscall(SYS_signalfd4, -1, &one, 4, 0), EINVAL);
  CHECK_ERRNO("signalfd4: bad flags: EINVAL", syscall(SYS_signalfd4, -1, &one, 8, 1), EINVAL);
  CHECK_ERRNO("signalfd4: bad mask pointer: EFAULT", syscall(SYS_signalfd4, -1, (void*)8, 8, 0), EFAULT);
  CHECK_ERRNO("signalfd: closed descriptor: EBADF", syscall(SYS_signalfd4, 999, &one, 8, 0), EBADF);
  int p[2];
  pipe(p);
  CHECK_ERRNO("signalfd on a pipe: EINVAL", syscall(SYS_signalfd4, p[0], &one, 8, 0), EINVAL);
  close(p[0]);
  close(p[1]);
  CHECK("signalfd (the old call)", syscall(SYS_signalfd, -1, &one, 8) >= 0);

  /* rt_sigqueueinfo and rt_tgsigqueueinfo. */
  siginfo_t si;
  memset(&si, 0, sizeof si);
  si.si_code = SI_QUEUE;
  si.si_pid = 4242;
  si.si_value.sival_int = 55;
  CHECK("rt_sigqueueinfo to itself", sigqueueinfo(getpid(), SIGUSR1, &si) == 0);
  n = read(sfd, rec, sizeof rec);
  CHECK("the caller's siginfo arrives as given", n == sizeof(struct signalfd_siginfo) && rec[0].ssi_code == SI_QUEUE &&
                                                     rec[0].ssi_pid == 4242 && rec[0].ssi_int == 55);
  si.si_code = SI_USER;
  CHECK("rt_sigqueueinfo with SI_USER to itself", sigqueueinfo(getpid(), SIGUSR1, &si) == 0);
  read(sfd, rec, sizeof rec);
  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    sleep_ms(10000);
    _exit(0);
  }
  CHECK_ERRNO("SI_USER to another process: EPERM", sigqueueinfo(pid, SIGUSR1, &si), EPERM);
  si.si_code = SI_TKILL;
  CHECK_ERRNO("SI_TKILL to another process: EPERM", sigqueueinfo(pid, SIGUSR1, &si), EPERM);
  si.si_code = SI_QUEUE;
  CHECK("SI_QUEUE to another process", sigqueueinfo(pid, 0, &si) == 0);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  CHECK_ERRNO("rt_sigqueueinfo: no such process: ESRCH", sigqueueinfo(pid, SIGUSR1, &si), ESRCH);
  CHECK_ERRNO("rt_sigqueueinfo: signal 65: EINVAL", sigqueueinfo(getpid(), 65, &si), EINVAL);
  CHECK_ERRNO("rt_sigqueueinfo: bad pointer: EFAULT", syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, (void*)8),
              EFAULT);
  pid_t tid = (pid_t)syscall(SYS_gettid);
  si.si_value.sival_int = 66;
  CHECK("rt_tgsigqueueinfo to this thread", syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, SIGUSR2, &si) == 0);
  n = read(sfd, rec, sizeof rec);
  CHECK("arrives with its value",
        n == sizeof(struct signalfd_siginfo) && rec[0].ssi_signo == SIGUSR2 && rec[0].ssi_int == 66);
  CHECK_ERRNO("rt_tgsigqueueinfo: tgid 0: EINVAL", syscall(SYS_rt_tgsigqueueinfo, 0, tid, SIGUSR2, &si), EINVAL);
  CHECK_ERRNO("rt_tgsigqueueinfo: wrong tgid: ESRCH", syscall(SYS_rt_tgsigqueueinfo, pid, tid, SIGUSR2, &si), ESRCH);
  close(sfd);
  return ABI_DONE();
}
