/* POSIX message queues: mq_open with given and default attributes, O_CREAT/O_EXCL, the name rules
 * (slashes, ".", "..", empty, 255 and 256 characters, the kernel not stripping a leading '/'),
 * attribute limits (maxmsg/msgsize <= 0, above the hard limits, above msg_max/msgsize_max for an
 * unprivileged user, RLIMIT_MSGQUEUE), access modes and permissions; mq_timedsend/mq_timedreceive
 * with priorities (highest first, FIFO within one), zero-length messages, EMSGSIZE both ways,
 * MQ_PRIO_MAX, O_NONBLOCK (EAGAIN), absolute CLOCK_REALTIME timeouts (ETIMEDOUT, EINVAL checked
 * before anything else), blocked receivers and senders woken by another process; mq_getsetattr
 * (mq_curmsgs, only O_NONBLOCK settable, shared with fcntl's F_GETFL/F_SETFL); mq_notify with
 * SIGEV_SIGNAL (SI_MESGQ, si_value, si_pid; EBUSY for a second registration; one-shot; only on an
 * empty queue becoming non-empty; not when a receiver is blocked; removed by mq_notify(NULL) of
 * the owner, by any close of the owner, by the owner's exit), SIGEV_NONE and bad sigevents;
 * mq_unlink (the descriptor outlives the name); the descriptor itself: close-on-exec, fstat,
 * read() of the "QSIZE:..." line, lseek/pread on it, write() refused, poll; inheritance across
 * fork; messages kept across close and reopen. With the errno of every documented failure. Run
 * natively (as root) and under the kernel: the outputs must match. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include "abi_check.h"

#ifndef SI_MESGQ
#define SI_MESGQ (-3)
#endif

/* Names of this run: queue names are global to the host and several native runs may overlap. */
static char name_a[64], name_b[64], name_c[64], name_d[64], name_n[64];

static void make_names(void) {
  int pid = getpid();
  snprintf(name_a, sizeof name_a, "/abi-mq-%d-a", pid);
  snprintf(name_b, sizeof name_b, "/abi-mq-%d-b", pid);
  snprintf(name_c, sizeof name_c, "/abi-mq-%d-c", pid);
  snprintf(name_d, sizeof name_d, "/abi-mq-%d-d", pid);
  snprintf(name_n, sizeof name_n, "/abi-mq-%d-n", pid);
}

static void unlink_all(void) {
  mq_unlink(name_a);
  mq_unlink(name_b);
  mq_unlink(name_c);
  mq_unlink(name_d);
  mq_unlink(name_n);
}

static long raw_open(const char* name, int flags, int mode, void* attr) {
  return syscall(SYS_mq_open, name, flags, mode, attr);
}

static mqd_t open_attr(const char* name, int flags, long maxmsg, long msgsize) {
  struct mq_attr a = {0};
  a.mq_maxmsg = maxmsg;
  a.mq_msgsize = msgsize;
  return mq_open(name, flags | O_CREAT, 0600, &a);
}

static int attr_is(mqd_t q, long flags, long maxmsg, long msgsize, long curmsgs) {
  struct mq_attr a;
  memset(&a, 0x55, sizeof a);
  return mq_getattr(q, &a) == 0 && a.mq_flags == flags && a.mq_maxmsg == maxmsg && a.mq_msgsize == msgsize &&
         a.mq_curmsgs == curmsgs;
}

static long curmsgs(mqd_t q) {
  struct mq_attr a;
  return mq_getattr(q, &a) == 0 ? a.mq_curmsgs : -1;
}

/* Receives one message into a buffer of `size` bytes; it must be `want` (with priority prio). */
static int receive_is(mqd_t q, size_t size, const char* want, unsigned prio) {
  char buf[8192];
  unsigned p = 12345;
  memset(buf, 0, sizeof buf);
  ssize_t n = mq_receive(q, buf, size, &p);
  return n == (ssize_t)strlen(want) && memcmp(buf, want, n) == 0 && p == prio;
}

static void drain(mqd_t q) {
  char buf[8192];
  struct timespec past = {0, 0};
  while (curmsgs(q) > 0) mq_timedreceive(q, buf, sizeof buf, NULL, &past);
}

static struct timespec realtime_in(long ms) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  t.tv_nsec += ms * 1000000;
  t.tv_sec += t.tv_nsec / 1000000000;
  t.tv_nsec %= 1000000000;
  return t;
}

static int not_before(struct timespec deadline) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return t.tv_sec > deadline.tv_sec || (t.tv_sec == deadline.tv_sec && t.tv_nsec >= deadline.tv_nsec);
}

/* The text read() gives for a queue: what Linux's mqueue_read_file formats. */
static void qsize_line(char* out, size_t size, unsigned long qsize, int notify, int signo, int pid) {
  snprintf(out, size, "QSIZE:%-10lu NOTIFY:%-5d SIGNO:%-5d NOTIFY_PID:%-6d\n", qsize, notify, signo, pid);
}

static int line_is(mqd_t q, unsigned long qsize, int notify, int signo, int pid) {
  char want[128], got[128];
  qsize_line(want, sizeof want, qsize, notify, signo, pid);
  memset(got, 0, sizeof got);
  ssize_t n = pread(q, got, sizeof got - 1, 0);
  return n == (ssize_t)strlen(want) && strcmp(got, want) == 0;
}

/* Waits (up to 2 s) until process `pid` sleeps, i.e. has blocked in its call. */
static void wait_sleeping(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  for (int i = 0; i < 2000; ++i) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) break;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) break;
    buf[n] = 0;
    char* p = strrchr(buf, ')');
    if (p && p[1] == ' ' && p[2] == 'S') {
      sleep_ms(5);
      return;
    }
    sleep_ms(1);
  }
  sleep_ms(50);
}

static int child_exit_ok(pid_t pid) {
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* A pending SIGUSR1 (blocked), taken with its siginfo; 0 if there is none. */
static int take_sigusr1(siginfo_t* si) {
  struct timespec zero = {0, 0};
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGUSR1);
  memset(si, 0, sizeof *si);
  return sigtimedwait(&s, si, &zero) == SIGUSR1;
}

static void open_and_names(void) {
  mqd_t q = open_attr(name_a, O_RDWR | O_EXCL, 4, 64);
  CHECK("mq_open(O_CREAT|O_EXCL) with maxmsg 4, msgsize 64", q >= 0);
  CHECK("mq_getattr: flags 0, maxmsg 4, msgsize 64, curmsgs 0", attr_is(q, 0, 4, 64, 0));
  CHECK("the descriptor is close-on-exec without O_CLOEXEC", fcntl(q, F_GETFD) == FD_CLOEXEC);
  CHECK("F_GETFL: O_RDWR", fcntl(q, F_GETFL) == O_RDWR);
  CHECK_ERRNO("O_CREAT|O_EXCL again: EEXIST", open_attr(name_a, O_RDWR | O_EXCL, 4, 64), EEXIST);
  mqd_t q2 = open_attr(name_a, O_RDONLY, 0, 0);
  CHECK("O_CREAT of an existing queue ignores the (invalid) attributes", q2 >= 0 && attr_is(q2, 0, 4, 64, 0));
  close(q2);
  q2 = mq_open(name_a, O_WRONLY | O_NONBLOCK);
  CHECK("open without O_CREAT finds it; F_GETFL: O_WRONLY|O_NONBLOCK",
        q2 >= 0 && fcntl(q2, F_GETFL) == (O_WRONLY | O_NONBLOCK) && attr_is(q2, O_NONBLOCK, 4, 64, 0));
  close(q2);
  q2 = raw_open(name_a + 1, O_RDWR, 0, NULL);
  CHECK("the raw syscall takes the name without the '/'", q2 >= 0 && attr_is(q2, 0, 4, 64, 0));
  close(q2);
  CHECK_ERRNO("the raw syscall with a leading '/': EACCES", raw_open(name_a, O_RDWR, 0, NULL), EACCES);
  CHECK_ERRNO("O_RDWR|O_WRONLY on an existing queue: EINVAL", mq_open(name_a, O_RDWR | O_WRONLY), EINVAL);
  CHECK_ERRNO("a missing queue without O_CREAT: ENOENT", mq_open(name_b, O_RDWR), ENOENT);

  /* Default attributes. */
  q2 = mq_open(name_d, O_RDWR | O_CREAT | O_EXCL, 0600, NULL);
  CHECK("O_CREAT with no attributes: maxmsg 10, msgsize 8192", q2 >= 0 && attr_is(q2, 0, 10, 8192, 0));
  char big[8193];
  memset(big, 'b', sizeof big);
  CHECK("an 8192-byte message fits", mq_send(q2, big, 8192, 0) == 0);
  CHECK_ERRNO("8193 bytes: EMSGSIZE", mq_send(q2, big, 8193, 0), EMSGSIZE);
  close(q2);
  mq_unlink(name_d);

  /* Names. */
  char name[300];
  CHECK_ERRNO("name with a '/' inside (raw \"a/b\"): EACCES", raw_open("a/b", O_RDWR | O_CREAT, 0600, NULL), EACCES);
  CHECK_ERRNO("mq_open(\"/a/b\"): EACCES", mq_open("/a/b", O_RDWR | O_CREAT, 0600, NULL), EACCES);
  CHECK_ERRNO("name \".\": EACCES", raw_open(".", O_RDWR | O_CREAT, 0600, NULL), EACCES);
  CHECK_ERRNO("name \"..\": EACCES", raw_open("..", O_RDWR | O_CREAT, 0600, NULL), EACCES);
  CHECK_ERRNO("empty name (raw): ENOENT", raw_open("", O_RDWR | O_CREAT, 0600, NULL), ENOENT);
  CHECK_ERRNO("mq_open(\"/\"): ENOENT", mq_open("/", O_RDWR | O_CREAT, 0600, NULL), ENOENT);
  int len = snprintf(name, sizeof name, "abi-mq-%d-", getpid());
  memset(name + len, 'x', 255 - len);
  name[255] = 0;
  long fd = raw_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, NULL);
  CHECK("a 255-character name", fd >= 0 && syscall(SYS_mq_unlink, name) == 0);
  close(fd);
  name[255] = 'x';
  name[256] = 0;
  CHECK_ERRNO("a 256-character name: ENAMETOOLONG", raw_open(name, O_RDWR | O_CREAT, 0600, NULL), ENAMETOOLONG);
  CHECK_ERRNO("mq_unlink of a 256-character name: ENAMETOOLONG", syscall(SYS_mq_unlink, name), ENAMETOOLONG);
  CHECK_ERRNO("bad name pointer: EFAULT", raw_open((char*)8, O_RDWR | O_CREAT, 0600, NULL), EFAULT);
  CHECK_ERRNO("bad attr pointer with O_CREAT: EFAULT", raw_open(name_b + 1, O_RDWR | O_CREAT, 0600, (void*)8), EFAULT);
  CHECK_ERRNO("bad attr pointer without O_CREAT (still read): EFAULT", raw_open(name_a + 1, O_RDWR, 0, (void*)8),
              EFAULT);

  /* Attributes. */
  CHECK_ERRNO("maxmsg 0: EINVAL", open_attr(name_b, O_RDWR, 0, 64), EINVAL);
  CHECK_ERRNO("msgsize 0: EINVAL", open_attr(name_b, O_RDWR, 4, 0), EINVAL);
  CHECK_ERRNO("maxmsg -1: EINVAL", open_attr(name_b, O_RDWR, -1, 64), EINVAL);
  CHECK_ERRNO("msgsize -1: EINVAL", open_attr(name_b, O_RDWR, 4, -1), EINVAL);
  CHECK_ERRNO("maxmsg 65537 (above HARD_MSGMAX): EINVAL", open_attr(name_b, O_RDWR, 65537, 64), EINVAL);
  CHECK_ERRNO("msgsize 16 MiB + 1 (above HARD_MSGSIZEMAX): EINVAL", open_attr(name_b, O_RDWR, 1, 16 * 1024 * 1024 + 1),
              EINVAL);
  CHECK_ERRNO("the failed creations left no queue: ENOENT", mq_open(name_b, O_RDWR), ENOENT);
  /* Above msg_max (10) or msgsize_max (8192) is EINVAL only without CAP_SYS_RESOURCE: see
   * other_user(). */

  /* mode and umask; the descriptor's fstat. */
  umask(022);
  q2 = mq_open(name_b, O_RDONLY | O_CREAT | O_EXCL, 0777, NULL);
  struct stat st;
  CHECK("fstat: a regular file, mode 0777 & ~umask, our uid, size 80, one link",
        q2 >= 0 && fstat(q2, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0755 &&
            st.st_uid == getuid() && st.st_gid == getgid() && st.st_size == 80 && st.st_nlink == 1);
  CHECK("mq_unlink", mq_unlink(name_b) == 0);
  CHECK("fstat after mq_unlink: no links", fstat(q2, &st) == 0 && st.st_nlink == 0);
  close(q2);
  close(q);
}

static void send_receive(void) {
  mqd_t q = mq_open(name_a, O_RDWR);
  CHECK("reopen", q >= 0 && attr_is(q, 0, 4, 64, 0));
  CHECK("send prio 1, 5, 5, 3", mq_send(q, "low", 3, 1) == 0 && mq_send(q, "high one", 8, 5) == 0 &&
                                    mq_send(q, "high two", 8, 5) == 0 && mq_send(q, "mid", 3, 3) == 0);
  CHECK("mq_curmsgs 4", curmsgs(q) == 4);
  char buf[128];
  CHECK_ERRNO("a receive buffer of 63 bytes (msgsize 64): EMSGSIZE", mq_receive(q, buf, 63, NULL), EMSGSIZE);
  CHECK("and nothing was taken", curmsgs(q) == 4);
  CHECK("highest priority first", receive_is(q, 64, "high one", 5));
  CHECK("FIFO within a priority", receive_is(q, 128, "high two", 5));
  CHECK("then prio 3", receive_is(q, 64, "mid", 3));
  CHECK("then prio 1 (a NULL msg_prio is fine)", mq_receive(q, buf, 64, NULL) == 3 && memcmp(buf, "low", 3) == 0);
  CHECK("mq_curmsgs 0", curmsgs(q) == 0);

  char big[65];
  memset(big, 'm', sizeof big);
  CHECK_ERRNO("a 65-byte message (msgsize 64): EMSGSIZE", mq_send(q, big, 65, 0), EMSGSIZE);
  CHECK("a 64-byte one fits",
        mq_send(q, big, 64, 0) == 0 && mq_receive(q, buf, 64, NULL) == 64 && memcmp(buf, big, 64) == 0);
  CHECK_ERRNO("priority 32768 (MQ_PRIO_MAX): EINVAL", mq_send(q, "x", 1, 32768), EINVAL);
  CHECK_ERRNO("priority checked before the descriptor: EINVAL", mq_send(-1, "x", 1, 32768), EINVAL);
  CHECK("priority 32767", mq_send(q, "top", 3, 32767) == 0 && receive_is(q, 64, "top", 32767));
  CHECK("a zero-length message", mq_send(q, "", 0, 7) == 0 && curmsgs(q) == 1 && receive_is(q, 64, "", 7));
  CHECK_ERRNO("send from a bad pointer: EFAULT", mq_send(q, (char*)8, 4, 0), EFAULT);
  CHECK("and nothing was queued", curmsgs(q) == 0);
  mq_send(q, "lost", 4, 0);
  CHECK_ERRNO("receive into a bad pointer: EFAULT", mq_receive(q, (char*)8, 64, NULL), EFAULT);
  CHECK("and the message is gone", curmsgs(q) == 0);

  int p[2];
  pipe(p);
  CHECK_ERRNO("mq_send on a pipe: EBADF", mq_send(p[1], "x", 1, 0), EBADF);
  CHECK_ERRNO("mq_receive on a pipe: EBADF", mq_receive(p[0], buf, 64, NULL), EBADF);
  CHECK_ERRNO("mq_getattr on a pipe: EBADF", mq_getattr(p[0], &(struct mq_attr){0}), EBADF);
  CHECK_ERRNO("mq_notify on a pipe: EBADF", mq_notify(p[0], NULL), EBADF);
  CHECK_ERRNO("mq_send on a closed descriptor: EBADF", mq_send(999, "x", 1, 0), EBADF);
  close(p[0]);
  close(p[1]);

  mqd_t ro = mq_open(name_a, O_RDONLY), wo = mq_open(name_a, O_WRONLY);
  CHECK_ERRNO("mq_send on an O_RDONLY descriptor: EBADF", mq_send(ro, "x", 1, 0), EBADF);
  CHECK_ERRNO("mq_receive on an O_WRONLY descriptor: EBADF", mq_receive(wo, buf, 64, NULL), EBADF);
  CHECK("O_WRONLY sends, O_RDONLY receives", mq_send(wo, "via wo", 6, 2) == 0 && receive_is(ro, 64, "via wo", 2));
  close(ro);
  close(wo);
  close(q);
}

static void blocking(void) {
  mqd_t q = mq_open(name_a, O_RDWR), nb = mq_open(name_a, O_RDWR | O_NONBLOCK);
  char buf[64];
  const short all = POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM;
  struct pollfd pf = {q, all, 0};
  CHECK("poll, empty: POLLOUT|POLLWRNORM only", poll(&pf, 1, 0) == 1 && pf.revents == (POLLOUT | POLLWRNORM));
  CHECK_ERRNO("receive, empty, O_NONBLOCK: EAGAIN", mq_receive(nb, buf, 64, NULL), EAGAIN);
  mq_send(q, "1", 1, 0);
  CHECK("poll, one message: POLLIN|POLLRDNORM|POLLOUT|POLLWRNORM",
        poll(&pf, 1, 0) == 1 && pf.revents == (POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM));
  mq_send(q, "2", 1, 0);
  mq_send(q, "3", 1, 0);
  mq_send(q, "4", 1, 0);
  CHECK("poll, full: POLLIN|POLLRDNORM only", poll(&pf, 1, 0) == 1 && pf.revents == (POLLIN | POLLRDNORM));
  mqd_t ro = mq_open(name_a, O_RDONLY);
  struct pollfd rf = {ro, all, 0};
  mq_receive(q, buf, 64, NULL);
  CHECK("poll on an O_RDONLY descriptor reports POLLOUT too",
        poll(&rf, 1, 0) == 1 && rf.revents == (POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM));
  close(ro);
  mq_send(q, "5", 1, 0);
  CHECK_ERRNO("send, full, O_NONBLOCK: EAGAIN", mq_send(nb, "x", 1, 0), EAGAIN);
  struct timespec t = realtime_in(30);
  CHECK_ERRNO("timed send, full, O_NONBLOCK: EAGAIN at once", mq_timedsend(nb, "x", 1, 0, &t), EAGAIN);
  t = realtime_in(30);
  CHECK_ERRNO("timed send, full, 30 ms: ETIMEDOUT", mq_timedsend(q, "x", 1, 0, &t), ETIMEDOUT);
  CHECK("not before the deadline", not_before(t));
  struct timespec bad = {0, 1000000000};
  CHECK_ERRNO("timed send, full, tv_nsec 1e9: EINVAL", mq_timedsend(q, "x", 1, 0, &bad), EINVAL);

  /* A blocked sender woken by another process's receive. */
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    sleep_ms(20);
    char b[64];
    _exit(mq_receive(q, b, 64, NULL) == 1 && b[0] == '2' ? 0 : 1);
  }
  CHECK("a send on a full queue blocks until the child receives", mq_send(q, "6", 1, 0) == 0);
  CHECK("the child received the oldest", child_exit_ok(pid));
  CHECK("still full: 4", curmsgs(q) == 4);
  drain(q);

  struct timespec past = {0, 0};
  CHECK_ERRNO("timed receive, empty, deadline in the past: ETIMEDOUT", mq_timedreceive(q, buf, 64, NULL, &past),
              ETIMEDOUT);
  t = realtime_in(30);
  CHECK_ERRNO("timed receive, empty, 30 ms: ETIMEDOUT", mq_timedreceive(q, buf, 64, NULL, &t), ETIMEDOUT);
  CHECK("not before the deadline", not_before(t));
  CHECK_ERRNO("timed receive, empty, tv_nsec 1e9: EINVAL", mq_timedreceive(q, buf, 64, NULL, &bad), EINVAL);
  struct timespec neg = {0, -1};
  CHECK_ERRNO("timed receive, empty, tv_nsec -1: EINVAL", mq_timedreceive(q, buf, 64, NULL, &neg), EINVAL);
  struct timespec negsec = {-1, 0};
  CHECK_ERRNO("timed receive, empty, tv_sec -1: EINVAL", mq_timedreceive(q, buf, 64, NULL, &negsec), EINVAL);
  CHECK_ERRNO("timed receive, empty, O_NONBLOCK, tv_nsec 1e9: EINVAL", mq_timedreceive(nb, buf, 64, NULL, &bad),
              EINVAL);
  CHECK_ERRNO("timed receive, bad timeout pointer: EFAULT", mq_timedreceive(q, buf, 64, NULL, (struct timespec*)8),
              EFAULT);
  mq_send(q, "ready", 5, 0);
  CHECK_ERRNO("timed receive, a message queued, tv_nsec 1e9: EINVAL (checked first)",
              mq_timedreceive(q, buf, 64, NULL, &bad), EINVAL);
  CHECK_ERRNO("timed send, room, tv_nsec 1e9: EINVAL (checked first)", mq_timedsend(q, "x", 1, 0, &bad), EINVAL);
  CHECK("timed receive, a message queued, deadline in the past: succeeds",
        mq_timedreceive(q, buf, 64, NULL, &past) == 5 && curmsgs(q) == 0);

  /* A blocked receiver woken by another process's send. */
  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    sleep_ms(20);
    _exit(mq_send(q, "from the child", 14, 9) == 0 ? 0 : 1);
  }
  CHECK("a receive blocks until the child's message", receive_is(q, 64, "from the child", 9));
  CHECK("the child's send succeeded", child_exit_ok(pid));
  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    sleep_ms(20);
    _exit(mq_send(q, "wake", 4, 0) == 0 ? 0 : 1);
  }
  pf.events = POLLIN | POLLRDNORM;
  pf.revents = 0;
  CHECK("poll blocks until the child's message: POLLIN|POLLRDNORM",
        poll(&pf, 1, 2000) == 1 && pf.revents == (POLLIN | POLLRDNORM));
  CHECK("the child's send succeeded", child_exit_ok(pid));
  drain(q);
  close(nb);
  close(q);
}

static void attributes(void) {
  mqd_t q = mq_open(name_a, O_RDWR), other = mq_open(name_a, O_RDWR);
  mq_send(q, "a", 1, 0);
  mq_send(q, "bb", 2, 0);
  CHECK("mq_getattr: curmsgs 2", attr_is(q, 0, 4, 64, 2));
  struct mq_attr set = {0}, old;
  set.mq_flags = O_NONBLOCK;
  set.mq_maxmsg = 99;
  set.mq_msgsize = 99;
  set.mq_curmsgs = 99;
  memset(&old, 0x55, sizeof old);
  CHECK("mq_setattr(O_NONBLOCK) returns the old attributes", mq_setattr(q, &set, &old) == 0 && old.mq_flags == 0 &&
                                                                 old.mq_maxmsg == 4 && old.mq_msgsize == 64 &&
                                                                 old.mq_curmsgs == 2);
  CHECK("only O_NONBLOCK changed", attr_is(q, O_NONBLOCK, 4, 64, 2));
  CHECK("F_GETFL shows it", fcntl(q, F_GETFL) == (O_RDWR | O_NONBLOCK));
  CHECK("another open of the queue is still blocking", attr_is(other, 0, 4, 64, 2));
  set.mq_flags = O_NONBLOCK | O_APPEND;
  CHECK_ERRNO("mq_setattr with another flag: EINVAL", mq_setattr(q, &set, NULL), EINVAL);
  set.mq_flags = O_NONBLOCK;
  CHECK_ERRNO("mq_setattr flags checked before the descriptor: EINVAL",
              mq_setattr(-1, &(struct mq_attr){.mq_flags = O_APPEND}, NULL), EINVAL);
  CHECK_ERRNO("mq_setattr on a closed descriptor: EBADF", mq_setattr(999, &set, NULL), EBADF);
  CHECK_ERRNO("mq_getattr: bad pointer: EFAULT", syscall(SYS_mq_getsetattr, q, NULL, (void*)8), EFAULT);
  CHECK("mq_getsetattr with neither pointer", syscall(SYS_mq_getsetattr, q, NULL, NULL) == 0);
  CHECK("F_SETFL clears O_NONBLOCK, mq_getattr sees it", fcntl(q, F_SETFL, O_RDWR) == 0 && attr_is(q, 0, 4, 64, 2));
  set.mq_flags = 0;
  CHECK("mq_setattr(0) keeps it blocking",
        mq_setattr(q, &set, &old) == 0 && old.mq_flags == 0 && attr_is(q, 0, 4, 64, 2));
  drain(q);
  close(other);
  close(q);
}

static void descriptor(void) {
  mqd_t q = mq_open(name_a, O_RDWR);
  char want[128], got[128];
  qsize_line(want, sizeof want, 0, 0, 0, 0);
  memset(got, 0, sizeof got);
  CHECK("read() of an empty queue: the 60-byte QSIZE:0 line",
        read(q, got, sizeof got) == 60 && strcmp(got, want) == 0 && strlen(want) == 60);
  CHECK("then end of file", read(q, got, sizeof got) == 0);
  mq_send(q, "hello", 5, 1);
  mq_send(q, "message", 7, 2);
  qsize_line(want, sizeof want, 12, 0, 0, 0);
  memset(got, 0, sizeof got);
  CHECK("lseek 0 and read again: QSIZE counts bytes (12)",
        lseek(q, 0, SEEK_SET) == 0 && read(q, got, sizeof got) == 60 && strcmp(got, want) == 0);
  memset(got, 0, sizeof got);
  CHECK("read in pieces follows the offset", lseek(q, 0, SEEK_SET) == 0 && read(q, got, 6) == 6 &&
                                                 read(q, got + 6, 4) == 4 && strcmp(got, "QSIZE:12  ") == 0);
  CHECK("lseek SEEK_END: 80 (the inode size)", lseek(q, 0, SEEK_END) == 80 && read(q, got, sizeof got) == 0);
  memset(got, 0, sizeof got);
  CHECK("pread at 6", pread(q, got, 10, 6) == 10 && strcmp(got, "12        ") == 0);
  CHECK_ERRNO("write() on the descriptor: EINVAL", write(q, "x", 1), EINVAL);
  mqd_t wo = mq_open(name_a, O_WRONLY);
  CHECK_ERRNO("read() on an O_WRONLY descriptor: EBADF", read(wo, got, sizeof got), EBADF);
  close(wo);
  CHECK("the line after one receive: QSIZE:5", receive_is(q, 64, "message", 2) && line_is(q, 5, 0, 0, 0));

  /* dup and fork. */
  int d = dup(q);
  CHECK("a dup is the same queue", d >= 0 && attr_is(d, 0, 4, 64, 1) && receive_is(d, 64, "hello", 1));
  close(d);
  mq_send(q, "to the child", 12, 3);
  fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    int ok = receive_is(q, 64, "to the child", 3) && mq_send(q, "to the parent", 13, 4) == 0;
    _exit(ok ? 0 : 1);
  }
  CHECK("fork: the child receives on the inherited descriptor and sends", child_exit_ok(child));
  CHECK("the parent receives the child's message", receive_is(q, 64, "to the parent", 4));
  close(q);
}

static mqd_t notify_q;

static int child_register(void) {
  struct sigevent ev = {0};
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGUSR2;
  errno = 0;
  int r = mq_notify(notify_q, &ev);
  if (r == 0) return 0;
  return errno == EBUSY ? 2 : 1;
}

static int child_unregister(void) { return mq_notify(notify_q, NULL) == 0 ? 0 : 1; }

static int child_send(void) { return mq_send(notify_q, "ping", 4, 0) == 0 ? 0 : 1; }

static void notify(void) {
  mqd_t q = open_attr(name_n, O_RDWR | O_EXCL, 4, 64);
  notify_q = q;
  int pid = getpid();
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGUSR1);
  sigprocmask(SIG_BLOCK, &s, NULL);
  siginfo_t si;

  struct sigevent ev = {0};
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGUSR1;
  ev.sigev_value.sival_int = 4242;
  CHECK("mq_notify(SIGEV_SIGNAL, SIGUSR1)", mq_notify(q, &ev) == 0);
  CHECK("the line shows NOTIFY:0 SIGNO:10 NOTIFY_PID:<us>", line_is(q, 0, SIGEV_SIGNAL, SIGUSR1, pid));
  CHECK_ERRNO("registering again, same process: EBUSY", mq_notify(q, &ev), EBUSY);
  CHECK("another process: EBUSY", child_status(child_register) == 2);
  CHECK("another process's mq_notify(NULL) succeeds", child_status(child_unregister) == 0);
  CHECK("but does not remove ours", child_status(child_register) == 2 && line_is(q, 0, SIGEV_SIGNAL, SIGUSR1, pid));
  fflush(stdout);
  pid_t child = fork();
  if (child == 0) _exit(child_send());
  CHECK("a child sends to the empty queue", child_exit_ok(child));
  CHECK("SIGUSR1 arrives: SI_MESGQ, si_value 4242, si_pid the sender, si_uid",
        take_sigusr1(&si) && si.si_signo == SIGUSR1 && si.si_code == SI_MESGQ && si.si_value.sival_int == 4242 &&
            si.si_pid == child && si.si_uid == getuid() && si.si_errno == 0);
  CHECK("one-shot: the registration is gone", line_is(q, 4, 0, 0, 0));
  drain(q);
  mq_send(q, "again", 5, 0);
  CHECK("no signal for the next message", !take_sigusr1(&si));
  ev.sigev_value.sival_int = 7;
  CHECK("register again with a message queued", mq_notify(q, &ev) == 0);
  mq_send(q, "more", 4, 0);
  CHECK("no signal when the queue was not empty", !take_sigusr1(&si));
  CHECK("and the registration stays", line_is(q, 9, SIGEV_SIGNAL, SIGUSR1, pid));
  drain(q);
  mq_send(q, "first", 5, 0);
  CHECK("empty to non-empty: the signal, from us",
        take_sigusr1(&si) && si.si_code == SI_MESGQ && si.si_value.sival_int == 7 && si.si_pid == pid);
  drain(q);

  /* A blocked receiver takes the message; the notification stays. */
  CHECK("register", mq_notify(q, &ev) == 0);
  fflush(stdout);
  child = fork();
  if (child == 0) _exit(receive_is(q, 64, "direct", 6) ? 0 : 1);
  wait_sleeping(child);
  mq_send(q, "direct", 6, 6);
  CHECK("a blocked receiver gets the message", child_exit_ok(child));
  CHECK("no signal, the registration stays", !take_sigusr1(&si) && line_is(q, 0, SIGEV_SIGNAL, SIGUSR1, pid));

  /* Ways a registration ends. */
  CHECK("mq_notify(NULL) removes ours", mq_notify(q, NULL) == 0 && line_is(q, 0, 0, 0, 0));
  CHECK("mq_notify(NULL) with none registered", mq_notify(q, NULL) == 0);
  CHECK("now another process may register (and its exit removes it)", child_status(child_register) == 0);
  CHECK("so we may register again", mq_notify(q, &ev) == 0);
  int d = dup(q);
  close(d);
  CHECK("closing any descriptor of the queue removes the owner's registration", line_is(q, 0, 0, 0, 0));
  mq_send(q, "none", 4, 0);
  CHECK("no signal", !take_sigusr1(&si));
  drain(q);
  CHECK("register again", mq_notify(q, &ev) == 0);
  fflush(stdout);
  child = fork();
  if (child == 0) {
    close(q);
    _exit(0);
  }
  child_exit_ok(child);
  CHECK("a child closing its inherited descriptor does not", line_is(q, 0, SIGEV_SIGNAL, SIGUSR1, pid));
  mq_notify(q, NULL);

  /* SIGEV_NONE, signal 0, bad sigevents. */
  struct sigevent none = {0};
  none.sigev_notify = SIGEV_NONE;
  CHECK("SIGEV_NONE: allowed, the line shows NOTIFY:1 SIGNO:0",
        mq_notify(q, &none) == 0 && line_is(q, 0, SIGEV_NONE, 0, pid));
  CHECK("another process: EBUSY", child_status(child_register) == 2);
  mq_send(q, "n", 1, 0);
  CHECK("a message on the empty queue uses it up (no signal)", line_is(q, 1, 0, 0, 0) && !take_sigusr1(&si));
  drain(q);
  struct sigevent zero = {0};
  zero.sigev_notify = SIGEV_SIGNAL;
  zero.sigev_signo = 0;
  CHECK("SIGEV_SIGNAL with signal 0: allowed", mq_notify(q, &zero) == 0 && line_is(q, 0, SIGEV_SIGNAL, 0, pid));
  mq_send(q, "z", 1, 0);
  CHECK("a message uses it up", line_is(q, 1, 0, 0, 0));
  drain(q);
  struct sigevent bad = ev;
  bad.sigev_notify = 99;
  CHECK_ERRNO("sigev_notify 99: EINVAL", mq_notify(q, &bad), EINVAL);
  CHECK_ERRNO("sigev_notify checked before the descriptor: EINVAL", mq_notify(-1, &bad), EINVAL);
  bad = ev;
  bad.sigev_signo = 65;
  CHECK_ERRNO("signal 65: EINVAL", mq_notify(q, &bad), EINVAL);
  bad.sigev_signo = -1;
  CHECK_ERRNO("signal -1: EINVAL", mq_notify(q, &bad), EINVAL);
  bad.sigev_signo = 64;
  CHECK("signal 64: allowed", mq_notify(q, &bad) == 0 && mq_notify(q, NULL) == 0);
  CHECK_ERRNO("bad sigevent pointer: EFAULT", syscall(SYS_mq_notify, q, (void*)8), EFAULT);
  CHECK_ERRNO("closed descriptor: EBADF", mq_notify(999, &ev), EBADF);
  CHECK("nothing pending", !take_sigusr1(&si));
  sigprocmask(SIG_UNBLOCK, &s, NULL);
  close(q);
  mq_unlink(name_n);
}

static void unlinking(void) {
  mqd_t q = mq_open(name_a, O_RDWR);
  mq_send(q, "kept", 4, 1);
  CHECK("mq_unlink", mq_unlink(name_a) == 0);
  CHECK_ERRNO("again: ENOENT", mq_unlink(name_a), ENOENT);
  CHECK_ERRNO("open by name: ENOENT", mq_open(name_a, O_RDWR), ENOENT);
  CHECK("the open descriptor still works",
        attr_is(q, 0, 4, 64, 1) && receive_is(q, 64, "kept", 1) && mq_send(q, "still", 5, 0) == 0 && curmsgs(q) == 1);
  mqd_t fresh = open_attr(name_a, O_RDWR | O_EXCL, 2, 32);
  CHECK("the name makes a new, empty queue", fresh >= 0 && attr_is(fresh, 0, 2, 32, 0) && attr_is(q, 0, 4, 64, 1));
  close(fresh);
  close(q);
  CHECK_ERRNO("a missing name: ENOENT", mq_unlink(name_c), ENOENT);
  CHECK_ERRNO("raw, with a '/' inside: EACCES", syscall(SYS_mq_unlink, "a/b"), EACCES);
  CHECK_ERRNO("raw, empty: ENOENT", syscall(SYS_mq_unlink, ""), ENOENT);
  CHECK_ERRNO("raw, bad pointer: EFAULT", syscall(SYS_mq_unlink, (char*)8), EFAULT);

  /* close and reopen by name. */
  q = mq_open(name_a, O_WRONLY);
  mq_send(q, "one", 3, 1);
  mq_send(q, "two", 3, 2);
  CHECK("mq_close", mq_close(q) == 0);
  CHECK_ERRNO("mq_close again: EBADF", mq_close(q), EBADF);
  q = mq_open(name_a, O_RDONLY);
  CHECK("reopened: the messages are still queued",
        attr_is(q, 0, 2, 32, 2) && receive_is(q, 32, "two", 2) && receive_is(q, 32, "one", 1));
  close(q);
  CHECK("mq_unlink", mq_unlink(name_a) == 0);
}

static int other_user(void) {
  if (setuid(65534) != 0) return 10;
  int bad = 0;
  errno = 0;
  if (!(mq_open(name_c, O_RDONLY) == -1 && errno == EACCES)) bad |= 1;
  errno = 0;
  if (!(open_attr(name_d, O_RDWR | O_EXCL, 11, 16) == -1 && errno == EINVAL)) bad |= 2;
  errno = 0;
  if (!(open_attr(name_d, O_RDWR | O_EXCL, 10, 8193) == -1 && errno == EINVAL)) bad |= 4;
  errno = 0;
  if (!(syscall(SYS_mq_unlink, name_c + 1) == -1 && errno == EPERM)) bad |= 8;
  errno = 0;
  if (!(mq_unlink(name_c) == -1 && errno == EACCES)) bad |= 16;
  mqd_t q = open_attr(name_d, O_RDWR | O_EXCL, 10, 8192);
  if (q < 0) bad |= 32;
  close(q);
  if (mq_unlink(name_d) != 0) bad |= 64;
  return bad;
}

static int small_rlimit(void) {
  struct rlimit rl = {1000, 1000};
  if (setrlimit(RLIMIT_MSGQUEUE, &rl) != 0) return 10;
  errno = 0;
  if (!(open_attr(name_d, O_RDWR | O_EXCL, 10, 8192) == -1 && errno == EMFILE)) return 1;
  errno = 0;
  return mq_open(name_d, O_RDWR) == -1 && errno == ENOENT ? 0 : 2;
}

static void permissions(void) {
  mqd_t q = open_attr(name_c, O_RDWR | O_EXCL, 2, 16);
  CHECK(
      "another user: EACCES to open a 0600 queue; EINVAL above msg_max and msgsize_max; mq_unlink in the "
      "sticky directory: EPERM (musl's mq_unlink turns it into EACCES); default attributes are allowed",
      child_status(other_user) == 0);
  CHECK("RLIMIT_MSGQUEUE of 1000 bytes: EMFILE", child_status(small_rlimit) == 0);
  close(q);
  mq_unlink(name_c);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (getuid() != 0) {
    printf("mqueue: needs root\n");
    return 0;
  }
  make_names();
  unlink_all();
  open_and_names();
  send_receive();
  blocking();
  attributes();
  descriptor();
  notify();
  unlinking();
  permissions();
  unlink_all();
  return ABI_DONE();
}
