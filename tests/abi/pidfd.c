/* Process descriptors and clone3: pidfd_open, a pidfd polling readable when its process exits,
 * pidfd_send_signal, pidfd_getfd, waitid(P_PIDFD) (nonblocking too), CLONE_PIDFD through clone
 * and clone3, clone3's exit_signal, CLONE_CLEAR_SIGHAND and set_tid, kill() of a zombie, and the
 * errno of every documented failure. Run natively (as root) and under the kernel: the outputs
 * must match. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>

#include "abi_check.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x1000
#endif
#define CLONE_CLEAR_SIGHAND 0x100000000ULL
#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK
#endif

struct clone_args {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

static int pidfd_open(pid_t pid, unsigned flags) { return syscall(SYS_pidfd_open, pid, flags); }
static int pidfd_send_signal(int fd, int sig, siginfo_t* info, unsigned flags) {
  return syscall(SYS_pidfd_send_signal, fd, sig, info, flags);
}
static long clone3(struct clone_args* a, size_t size) { return syscall(SYS_clone3, a, size); }

static pid_t child_sleeping(void) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    sleep_ms(10000);
    _exit(0);
  }
  return pid;
}

static volatile int usr1_handled;
static void on_usr1(int sig) {
  (void)sig;
  usr1_handled = 1;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (getuid() != 0) {
    printf("pidfd: needs root\n");
    return 0;
  }
  /* pidfd_open and exit notification. */
  pid_t pid = child_sleeping();
  int fd = pidfd_open(pid, 0);
  CHECK("pidfd_open", fd >= 0);
  CHECK("close-on-exec", (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
  struct pollfd pfd = {fd, POLLIN, 0};
  CHECK("poll: not readable while it runs", poll(&pfd, 1, 0) == 0);
  char b;
  CHECK_ERRNO("read: EINVAL", read(fd, &b, 1), EINVAL);
  CHECK("pidfd_send_signal(SIGKILL)", pidfd_send_signal(fd, SIGKILL, NULL, 0) == 0);
  CHECK("poll: readable once it exited", poll(&pfd, 1, 5000) == 1 && (pfd.revents & POLLIN));
  siginfo_t si;
  memset(&si, 0, sizeof si);
  CHECK("waitid(P_PIDFD)", waitid(P_PIDFD, fd, &si, WEXITED) == 0 && si.si_pid == pid && si.si_code == CLD_KILLED &&
                               si.si_status == SIGKILL);
  CHECK_ERRNO("signal to a reaped process: ESRCH", pidfd_send_signal(fd, SIGTERM, NULL, 0), ESRCH);
  CHECK_ERRNO("waitid(P_PIDFD) once reaped: ECHILD", waitid(P_PIDFD, fd, &si, WEXITED), ECHILD);
  close(fd);

  /* epoll on a pidfd. */
  pid = child_sleeping();
  fd = pidfd_open(pid, PIDFD_NONBLOCK);
  int ep = epoll_create1(0);
  struct epoll_event e = {EPOLLIN, {.u64 = 9}}, got;
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
  CHECK("epoll: nothing while it runs", epoll_wait(ep, &got, 1, 0) == 0);
  CHECK_ERRNO("waitid on a nonblocking pidfd with nothing to report: EAGAIN", waitid(P_PIDFD, fd, &si, WEXITED),
              EAGAIN);
  kill(pid, SIGTERM);
  CHECK("epoll reports the exit", epoll_wait(ep, &got, 1, 5000) == 1 && got.data.u64 == 9);
  /* kill() of a zombie succeeds, and so does a pidfd signal to one. */
  CHECK("kill() of a zombie: 0", kill(pid, 0) == 0 && kill(pid, SIGUSR1) == 0);
  CHECK("pidfd_send_signal to a zombie: 0", pidfd_send_signal(fd, SIGUSR1, NULL, 0) == 0);
  CHECK("waitid(P_PIDFD) on the nonblocking pidfd",
        waitid(P_PIDFD, fd, &si, WEXITED) == 0 && si.si_pid == pid && si.si_status == SIGTERM);
  close(ep);
  close(fd);

  /* pidfd_send_signal with a siginfo; pidfd_getfd. */
  sigset_t usr;
  sigemptyset(&usr);
  sigaddset(&usr, SIGUSR2);
  sigprocmask(SIG_BLOCK, &usr, NULL);
  int self = pidfd_open(getpid(), 0);
  memset(&si, 0, sizeof si);
  si.si_signo = SIGUSR2;
  si.si_code = SI_QUEUE;
  si.si_value.sival_int = 31;
  CHECK("pidfd_send_signal to itself with a siginfo", pidfd_send_signal(self, SIGUSR2, &si, 0) == 0);
  siginfo_t in;
  CHECK("arrives with it", sigwaitinfo(&usr, &in) == SIGUSR2 && in.si_code == SI_QUEUE && in.si_value.sival_int == 31);
  si.si_signo = SIGUSR1;
  CHECK_ERRNO("siginfo for another signal: EINVAL", pidfd_send_signal(self, SIGUSR2, &si, 0), EINVAL);
  CHECK_ERRNO("unknown flags: EINVAL", pidfd_send_signal(self, 0, NULL, 0x100), EINVAL);
  CHECK_ERRNO("signal 65: EINVAL", pidfd_send_signal(self, 65, NULL, 0), EINVAL);
  CHECK_ERRNO("not a pidfd: EBADF", pidfd_send_signal(1, SIGUSR2, NULL, 0), EBADF);
  pid = child_sleeping();
  fd = pidfd_open(pid, 0);
  si.si_signo = SIGUSR2;
  si.si_code = SI_USER;
  CHECK_ERRNO("SI_USER siginfo to another process: EPERM", pidfd_send_signal(fd, SIGUSR2, &si, 0), EPERM);
  int p[2];
  pipe(p);
  int dup_fd = syscall(SYS_pidfd_getfd, self, p[1], 0);
  CHECK("pidfd_getfd of its own descriptor", dup_fd >= 0 && dup_fd != p[1]);
  CHECK("close-on-exec, the same pipe",
        (fcntl(dup_fd, F_GETFD) & FD_CLOEXEC) != 0 && write(dup_fd, "z", 1) == 1 && read(p[0], &b, 1) == 1 && b == 'z');
  CHECK("pidfd_getfd from a child (stdout)", syscall(SYS_pidfd_getfd, fd, 1, 0) >= 0);
  CHECK_ERRNO("pidfd_getfd: no such descriptor there: EBADF", syscall(SYS_pidfd_getfd, fd, 999, 0), EBADF);
  CHECK_ERRNO("pidfd_getfd: flags: EINVAL", syscall(SYS_pidfd_getfd, fd, 1, 1), EINVAL);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  CHECK_ERRNO("pidfd_getfd from a reaped process: ESRCH", syscall(SYS_pidfd_getfd, fd, 1, 0), ESRCH);
  close(fd);
  CHECK_ERRNO("pidfd_open: flags: EINVAL", pidfd_open(getpid(), 1), EINVAL);
  CHECK_ERRNO("pidfd_open(0): EINVAL", pidfd_open(0, 0), EINVAL);
  CHECK_ERRNO("pidfd_open: no such process: ESRCH", pidfd_open(pid, 0), ESRCH);
  CHECK_ERRNO("waitid(P_PIDFD) of a pipe: EBADF", waitid(P_PIDFD, p[0], &si, WEXITED), EBADF);

  /* clone with CLONE_PIDFD (the pidfd comes where the parent's tid would). */
  int cfd = -1;
  fflush(stdout);
  long r = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, &cfd, 0, 0);
  if (r == 0) _exit(7);
  CHECK("clone(CLONE_PIDFD)", r > 0 && cfd >= 0);
  CHECK("its pidfd waits for it", waitid(P_PIDFD, cfd, &si, WEXITED) == 0 && si.si_pid == r && si.si_status == 7);
  close(cfd);
  CHECK_ERRNO("clone: CLONE_PIDFD|CLONE_PARENT_SETTID: EINVAL",
              syscall(SYS_clone, CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD, 0, &cfd, 0, 0), EINVAL);

  /* clone3. */
  struct clone_args a;
  memset(&a, 0, sizeof a);
  a.exit_signal = SIGCHLD;
  fflush(stdout);
  r = clone3(&a, 64);
  if (r == 0) _exit(3);
  int st = 0;
  CHECK("clone3 like fork", r > 0 && waitpid(r, &st, 0) == r && WIFEXITED(st) && WEXITSTATUS(st) == 3);
  memset(&a, 0, sizeof a);
  a.flags = CLONE_PIDFD;
  a.pidfd = (uintptr_t)&cfd;
  a.exit_signal = SIGUSR2; /* blocked here: it stays pending */
  fflush(stdout);
  r = clone3(&a, sizeof a);
  if (r == 0) _exit(4);
  CHECK("clone3(CLONE_PIDFD) with exit_signal SIGUSR2", r > 0 && cfd >= 0);
  CHECK("waited for with __WALL (not SIGCHLD)", waitpid(r, &st, __WALL) == r && WEXITSTATUS(st) == 4);
  struct timespec zero = {0, 0};
  CHECK("its exit sent SIGUSR2", sigtimedwait(&usr, &in, &zero) == SIGUSR2 && in.si_code == CLD_EXITED);
  close(cfd);
  /* CLONE_CLEAR_SIGHAND: handlers back to default in the child, ignored signals stay ignored. */
  signal(SIGUSR1, on_usr1);
  signal(SIGHUP, SIG_IGN);
  memset(&a, 0, sizeof a);
  a.flags = CLONE_CLEAR_SIGHAND;
  a.exit_signal = SIGCHLD;
  fflush(stdout);
  r = clone3(&a, sizeof a);
  if (r == 0) {
    struct sigaction sa;
    sigaction(SIGUSR1, NULL, &sa);
    int dfl = sa.sa_handler == SIG_DFL;
    sigaction(SIGHUP, NULL, &sa);
    _exit(dfl && sa.sa_handler == SIG_IGN ? 0 : 1);
  }
  CHECK("CLONE_CLEAR_SIGHAND", r > 0 && waitpid(r, &st, 0) == r && WIFEXITED(st) && WEXITSTATUS(st) == 0);
  signal(SIGHUP, SIG_DFL);
  /* set_tid. */
  pid_t taken = getpid();
  memset(&a, 0, sizeof a);
  a.exit_signal = SIGCHLD;
  a.set_tid = (uintptr_t)&taken;
  a.set_tid_size = 1;
  CHECK_ERRNO("set_tid of a pid in use: EEXIST", clone3(&a, sizeof a), EEXIST);
  a.set_tid_size = 40;
  CHECK_ERRNO("set_tid_size 40: EINVAL", clone3(&a, sizeof a), EINVAL);
  a.set_tid = 0;
  a.set_tid_size = 1;
  CHECK_ERRNO("set_tid_size without set_tid: EINVAL", clone3(&a, sizeof a), EINVAL);
  /* clone3 errors. */
  memset(&a, 0, sizeof a);
  CHECK_ERRNO("size 32: EINVAL", clone3(&a, 32), EINVAL);
  CHECK_ERRNO("size 8192: E2BIG", clone3(&a, 8192), E2BIG);
  char big[128];
  memset(big, 0, sizeof big);
  big[100] = 1;
  CHECK_ERRNO("a bigger structure with a non-zero tail: E2BIG", clone3((struct clone_args*)big, sizeof big), E2BIG);
  a.flags = SIGCHLD;
  CHECK_ERRNO("a signal in the flags: EINVAL", clone3(&a, sizeof a), EINVAL);
  a.flags = 0;
  a.exit_signal = 65;
  CHECK_ERRNO("exit_signal 65: EINVAL", clone3(&a, sizeof a), EINVAL);
  a.exit_signal = SIGCHLD;
  a.stack = 4096;
  CHECK_ERRNO("a stack without a size: EINVAL", clone3(&a, sizeof a), EINVAL);
  a.stack = 0;
  a.flags = CLONE_SIGHAND | CLONE_VM | CLONE_CLEAR_SIGHAND;
  CHECK_ERRNO("CLONE_SIGHAND|CLONE_CLEAR_SIGHAND: EINVAL", clone3(&a, sizeof a), EINVAL);
  a.flags = CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;
  CHECK_ERRNO("CLONE_THREAD with an exit_signal: EINVAL", clone3(&a, sizeof a), EINVAL);
  CHECK_ERRNO("bad pointer: EFAULT", clone3((struct clone_args*)8, 64), EFAULT);
  return ABI_DONE();
}
