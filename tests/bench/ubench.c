/* ubench — LMbench-style micro-benchmarks of the system-call interface, as a static program
 * that runs unchanged natively, under umk, in QEMU or under User-Mode Linux.
 *
 * usage: ubench [-s SCALE] [NAME...]
 * Prints one line per benchmark: "name value unit". SCALE (default 1.0) multiplies the
 * iteration counts (the ctest smoke uses 0.01). Without names, runs all of them. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double scale = 1.0;
static const char* self_path = "/proc/self/exe";
static char scratch[256] = "/tmp";

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static long iters(long base) {
  long n = (long)(base * scale);
  return n < 1 ? 1 : n;
}

static void report(const char* name, double value, const char* unit) {
  printf("%s %.4g %s\n", name, value, unit);
  fflush(stdout);
}

static void die(const char* what) {
  perror(what);
  exit(1);
}

/* ---- system calls ---- */

static void bench_null(void) {
  long n = iters(200000);
  double t = now_ns();
  for (long i = 0; i < n; ++i) syscall(SYS_getppid);
  report("null_syscall", (now_ns() - t) / n / 1000, "us");
}

static void bench_rw(const char* name, const char* dev, int write_it, size_t size) {
  static char buf[4096];
  int fd = open(dev, write_it ? O_WRONLY : O_RDONLY);
  if (fd < 0) die(dev);
  long n = iters(100000);
  double t = now_ns();
  for (long i = 0; i < n; ++i) {
    if ((write_it ? write(fd, buf, size) : read(fd, buf, size)) != (ssize_t)size) die(name);
  }
  report(name, (now_ns() - t) / n / 1000, "us");
  close(fd);
}

static void bench_stat(void) {
  struct stat st;
  long n = iters(100000);
  double t = now_ns();
  for (long i = 0; i < n; ++i) {
    if (stat("/bin/busybox", &st) != 0 && stat(self_path, &st) != 0) die("stat");
  }
  report("stat", (now_ns() - t) / n / 1000, "us");
}

static void bench_open_close(void) {
  const char* path = access("/bin/busybox", F_OK) == 0 ? "/bin/busybox" : "/proc/self/exe";
  long n = iters(50000);
  double t = now_ns();
  for (long i = 0; i < n; ++i) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) die("open");
    close(fd);
  }
  report("open_close", (now_ns() - t) / n / 1000, "us");
}

static void bench_create_delete(void) {
  char path[300];
  snprintf(path, sizeof path, "%s/ubench-file", scratch);
  long n = iters(20000);
  double t = now_ns();
  for (long i = 0; i < n; ++i) {
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    if (fd < 0) die("create");
    close(fd);
    if (unlink(path) != 0) die("unlink");
  }
  report("file_create_delete", (now_ns() - t) / n / 1000, "us");
}

static void bench_clock_gettime(void) {
  struct timespec ts;
  long n = iters(1000000);
  double t = now_ns();
  for (long i = 0; i < n; ++i) clock_gettime(CLOCK_MONOTONIC, &ts);
  report("clock_gettime", (now_ns() - t) / n / 1000, "us");
}

/* ---- pipes and processes ---- */

/* A one-byte ping-pong with a child: the parent writes `out` and reads `in`, the child reads
 * `kid_in` and writes `kid_out` (the same descriptor for a socket). */
static void ping_pong(const char* name, int out, int in, int kid_in, int kid_out) {
  long n = iters(20000);
  pid_t kid = fork();
  if (kid == 0) {
    char c;
    for (long i = 0; i < n; ++i) {
      if (read(kid_in, &c, 1) != 1 || write(kid_out, &c, 1) != 1) _exit(1);
    }
    _exit(0);
  }
  char c = 'x';
  double t = now_ns();
  for (long i = 0; i < n; ++i) {
    if (write(out, &c, 1) != 1 || read(in, &c, 1) != 1) die(name);
  }
  report(name, (now_ns() - t) / n / 1000, "us");
  waitpid(kid, 0, 0);
}

/* 64 KiB writes from a child to `wr`, read by the parent from `rd` until end of file. Closes
 * both. */
static void stream_bandwidth(const char* name, int rd, int wr) {
  static char buf[65536];
  long total = iters(1024) * 65536L;
  pid_t kid = fork();
  if (kid == 0) {
    close(rd);
    for (long done = 0; done < total;) {
      ssize_t w = write(wr, buf, sizeof buf);
      if (w <= 0) _exit(1);
      done += w;
    }
    _exit(0);
  }
  close(wr);
  double t = now_ns();
  long got = 0;
  ssize_t r;
  while ((r = read(rd, buf, sizeof buf)) > 0) got += r;
  double secs = (now_ns() - t) / 1e9;
  waitpid(kid, 0, 0);
  close(rd);
  report(name, got / secs / 1e6, "MB/s");
}

static void bench_pipe_latency(void) {
  int a[2], b[2];
  if (pipe(a) || pipe(b)) die("pipe");
  ping_pong("pipe_latency", a[1], b[0], a[0], b[1]);
  close(a[0]), close(a[1]), close(b[0]), close(b[1]);
}

static void bench_pipe_bandwidth(void) {
  int p[2];
  if (pipe(p)) die("pipe");
  stream_bandwidth("pipe_bandwidth", p[0], p[1]);
}

/* ---- AF_UNIX sockets: a stream pair between two processes ---- */

static void bench_unix_latency(void) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) die("socketpair");
  ping_pong("unix_stream_latency", sv[0], sv[0], sv[1], sv[1]);
  close(sv[0]), close(sv[1]);
}

static void bench_unix_bandwidth(void) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) die("socketpair");
  stream_bandwidth("unix_stream_bandwidth", sv[0], sv[1]);
}

/* ---- UDP on loopback: a one-byte datagram ping-pong between two processes ---- */

static void bench_udp_latency(void) {
  int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_INET, SOCK_DGRAM, 0);
  if (a < 0 || b < 0) die("udp socket");
  struct sockaddr_in sa = {0}, sb = {0};
  sa.sin_family = sb.sin_family = AF_INET;
  sa.sin_addr.s_addr = sb.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t l = sizeof sa;
  if (bind(a, (struct sockaddr*)&sa, sizeof sa) || bind(b, (struct sockaddr*)&sb, sizeof sb)) die("udp bind");
  getsockname(a, (struct sockaddr*)&sa, &l);
  getsockname(b, (struct sockaddr*)&sb, &l);
  if (connect(a, (struct sockaddr*)&sb, sizeof sb) || connect(b, (struct sockaddr*)&sa, sizeof sa)) die("udp connect");
  long n = iters(20000);
  pid_t kid = fork();
  if (kid == 0) {
    char c;
    for (long i = 0; i < n; ++i) {
      if (recv(b, &c, 1, 0) != 1 || send(b, &c, 1, 0) != 1) _exit(1);
    }
    _exit(0);
  }
  char c = 'x';
  double t = now_ns();
  for (long i = 0; i < n; ++i) {
    if (send(a, &c, 1, 0) != 1 || recv(a, &c, 1, 0) != 1) die("udp ping-pong");
  }
  report("udp_latency", (now_ns() - t) / n / 1000, "us");
  waitpid(kid, 0, 0);
  close(a), close(b);
}

/* ---- TCP on loopback: round trip, bandwidth, connection setup ---- */

static int tcp_listener(struct sockaddr_in* a) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  memset(a, 0, sizeof *a);
  a->sin_family = AF_INET;
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof *a;
  if (l < 0 || bind(l, (struct sockaddr*)a, sizeof *a) || listen(l, 128) || getsockname(l, (struct sockaddr*)a, &len)) {
    die("tcp listener");
  }
  return l;
}

static void tcp_pair(int* client, int* server) {
  struct sockaddr_in a;
  int l = tcp_listener(&a);
  *client = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(*client, (struct sockaddr*)&a, sizeof a)) die("tcp connect");
  *server = accept(l, 0, 0);
  if (*server < 0) die("tcp accept");
  close(l);
}

static void bench_tcp_latency(void) {
  int c, sv;
  tcp_pair(&c, &sv);
  ping_pong("tcp_latency", c, c, sv, sv);
  close(c), close(sv);
}

static void bench_tcp_bandwidth(void) {
  int c, sv;
  tcp_pair(&c, &sv);
  stream_bandwidth("tcp_bandwidth", c, sv);
}

static void bench_tcp_connect(void) {
  struct sockaddr_in a;
  int l = tcp_listener(&a);
  long n = iters(2000);
  double t = now_ns();
  for (long i = 0; i < n; ++i) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (struct sockaddr*)&a, sizeof a)) die("tcp connect");
    int s = accept(l, 0, 0);
    if (s < 0) die("tcp accept");
    close(c);
    close(s);
  }
  report("tcp_connect_accept_close", (now_ns() - t) / n / 1000, "us");
  close(l);
}

static void bench_fork_exit(void) {
  long n = iters(2000);
  double t = now_ns();
  for (long i = 0; i < n; ++i) {
    pid_t kid = fork();
    if (kid < 0) die("fork");
    if (kid == 0) _exit(0);
    waitpid(kid, 0, 0);
  }
  report("fork_exit", (now_ns() - t) / n / 1000, "us");
}

static void bench_fork_exec(void) {
  long n = iters(1000);
  double t = now_ns();
  for (long i = 0; i < n; ++i) {
    pid_t kid = fork();
    if (kid < 0) die("fork");
    if (kid == 0) {
      execl(self_path, "ubench", "--noop", (char*)0);
      _exit(127);
    }
    int st;
    waitpid(kid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) die("fork+exec child");
  }
  report("fork_exec", (now_ns() - t) / n / 1000, "us");
}

static void bench_sh_c_true(void) {
  if (access("/bin/sh", X_OK) != 0) return;
  long n = iters(500);
  double t = now_ns();
  for (long i = 0; i < n; ++i) {
    pid_t kid = fork();
    if (kid == 0) {
      execl("/bin/sh", "sh", "-c", "true", (char*)0);
      _exit(127);
    }
    int st;
    waitpid(kid, &st, 0);
  }
  report("sh_c_true", (now_ns() - t) / n / 1000, "us");
}

/* ---- memory ---- */

static void bench_page_fault(void) {
  long pages = iters(16384);
  char* p = mmap(0, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) die("mmap");
  double t = now_ns();
  for (long i = 0; i < pages; ++i) p[i * 4096] = 1;
  report("page_fault", (now_ns() - t) / pages / 1000, "us");
  munmap(p, pages * 4096);
}

static void bench_mmap_munmap(void) {
  long n = iters(20000);
  double t = now_ns();
  for (long i = 0; i < n; ++i) {
    void* p = mmap(0, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) die("mmap");
    munmap(p, 1 << 20);
  }
  report("mmap_munmap_1m", (now_ns() - t) / n / 1000, "us");
}

/* ---- signals ---- */

static volatile sig_atomic_t hits;
static void on_usr1(int sig) {
  (void)sig;
  hits++;
}

static void bench_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  long n = iters(100000);
  double t = now_ns();
  for (long i = 0; i < n; ++i) sigaction(SIGUSR1, &sa, 0);
  report("signal_install", (now_ns() - t) / n / 1000, "us");
  n = iters(50000);
  hits = 0;
  pid_t me = getpid();
  t = now_ns();
  for (long i = 0; i < n; ++i) kill(me, SIGUSR1);
  report("signal_delivery", (now_ns() - t) / n / 1000, "us");
  if (hits != n) die("signal count");
}

/* ---- context switches: a token passed around a ring of processes through pipes ---- */

static void bench_ctx(int nproc) {
  int pipes[16][2];
  for (int i = 0; i < nproc; ++i) {
    if (pipe(pipes[i])) die("pipe");
  }
  long rounds = iters(5000);
  pid_t kids[16];
  for (int i = 1; i < nproc; ++i) {
    kids[i] = fork();
    if (kids[i] == 0) {
      char c;
      for (long r = 0; r < rounds; ++r) {
        if (read(pipes[i][0], &c, 1) != 1 || write(pipes[(i + 1) % nproc][1], &c, 1) != 1) _exit(1);
      }
      _exit(0);
    }
  }
  char c = 't';
  double t = now_ns();
  for (long r = 0; r < rounds; ++r) {
    if (write(pipes[1 % nproc][1], &c, 1) != 1 || read(pipes[0][0], &c, 1) != 1) die("ring");
  }
  double per_switch = (now_ns() - t) / (rounds * (double)nproc) / 1000;
  for (int i = 1; i < nproc; ++i) waitpid(kids[i], 0, 0);
  for (int i = 0; i < nproc; ++i) close(pipes[i][0]), close(pipes[i][1]);
  char name[32];
  snprintf(name, sizeof name, "ctx_switch_%d", nproc);
  report(name, per_switch, "us");
}

static void bench_ctx2(void) { bench_ctx(2); }
static void bench_ctx16(void) { bench_ctx(16); }
static void bench_read1(void) { bench_rw("read_1b_dev_zero", "/dev/zero", 0, 1); }
static void bench_read4k(void) { bench_rw("read_4k_dev_zero", "/dev/zero", 0, 4096); }
static void bench_write1(void) { bench_rw("write_1b_dev_null", "/dev/null", 1, 1); }
static void bench_write4k(void) { bench_rw("write_4k_dev_null", "/dev/null", 1, 4096); }

/* ---- timers, signal descriptors and System V IPC: each family's hot call ---- */

static void bench_timerfd(void) {
  int fd = timerfd_create(CLOCK_MONOTONIC, 0);
  if (fd < 0) die("timerfd_create");
  struct itimerspec its = {{0, 0}, {1, 0}}, cur;
  long n = iters(50000);
  double t = now_ns();
  for (long i = 0; i < n; ++i) {
    if (timerfd_settime(fd, 0, &its, 0) != 0 || timerfd_gettime(fd, &cur) != 0) die("timerfd");
  }
  report("timerfd_settime_gettime", (now_ns() - t) / n / 1000, "us");
  close(fd);
}

static void bench_signalfd(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  sigprocmask(SIG_BLOCK, &set, 0);
  int fd = signalfd(-1, &set, 0);
  if (fd < 0) die("signalfd");
  struct signalfd_siginfo si;
  pid_t me = getpid();
  long n = iters(30000);
  double t = now_ns();
  for (long i = 0; i < n; ++i) {
    kill(me, SIGUSR2);
    if (read(fd, &si, sizeof si) != sizeof si) die("signalfd read");
  }
  report("signalfd_kill_read", (now_ns() - t) / n / 1000, "us");
  close(fd);
  sigprocmask(SIG_UNBLOCK, &set, 0);
}

static void bench_sysv(void) {
  int sem = semget(IPC_PRIVATE, 1, 0600);
  if (sem < 0) die("semget");
  struct sembuf v = {0, 1, 0}, p = {0, -1, 0};
  long n = iters(50000);
  double t = now_ns();
  for (long i = 0; i < n; ++i) {
    if (semop(sem, &v, 1) != 0 || semop(sem, &p, 1) != 0) die("semop");
  }
  report("semop", (now_ns() - t) / (2.0 * n) / 1000, "us");
  semctl(sem, 0, IPC_RMID);
  int q = msgget(IPC_PRIVATE, 0600);
  if (q < 0) die("msgget");
  struct {
    long type;
    char text[64];
  } m = {1, {0}};
  n = iters(50000);
  t = now_ns();
  for (long i = 0; i < n; ++i) {
    if (msgsnd(q, &m, sizeof m.text, 0) != 0 || msgrcv(q, &m, sizeof m.text, 0, 0) != sizeof m.text) die("msg");
  }
  report("msgsnd_msgrcv_64b", (now_ns() - t) / n / 1000, "us");
  msgctl(q, IPC_RMID, 0);
  int shm = shmget(IPC_PRIVATE, 4096, 0600);
  if (shm < 0) die("shmget");
  n = iters(20000);
  t = now_ns();
  for (long i = 0; i < n; ++i) {
    char* a = shmat(shm, 0, 0);
    if (a == (void*)-1) die("shmat");
    a[0] = 1;
    if (shmdt(a) != 0) die("shmdt");
  }
  report("shmat_touch_shmdt", (now_ns() - t) / n / 1000, "us");
  shmctl(shm, IPC_RMID, 0);
}

/* inotify: one write to a watched file and the read of its IN_MODIFY event. */
static void bench_inotify(void) {
  char path[300];
  snprintf(path, sizeof path, "%s/ubench-inotify-%d", scratch, (int)getpid());
  int f = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
  int in = inotify_init1(0);
  if (f < 0 || in < 0 || inotify_add_watch(in, path, IN_MODIFY) < 0) die("inotify");
  char ev[64];
  long n = iters(30000);
  double t = now_ns();
  for (long i = 0; i < n; ++i) {
    if (pwrite(f, "x", 1, 0) != 1) die("write");
    if (read(in, ev, sizeof ev) <= 0) die("inotify read");
  }
  report("inotify_write_read_event", (now_ns() - t) / n / 1000, "us");
  close(in);
  close(f);
  unlink(path);
}

/* POSIX message queues: a 64-byte message sent and received. */
/* futex_waitv on four words with a deadline already past: queueing on four keys, the value
 * checks, the timeout and the dequeue, without a sleep. */
static void bench_futex_waitv(void) {
  static uint32_t words[4];
  struct {
    uint64_t val, uaddr;
    uint32_t flags, reserved;
  } v[4];
  for (int i = 0; i < 4; ++i) {
    v[i].val = 0;
    v[i].uaddr = (uint64_t)(uintptr_t)&words[i];
    v[i].flags = 2 | 128; /* FUTEX2_SIZE_U32 | FUTEX2_PRIVATE */
    v[i].reserved = 0;
  }
  struct timespec past = {0, 0};
  long n = iters(100000);
  double t = now_ns();
  for (long i = 0; i < n; ++i) {
    if (syscall(449, v, 4, 0, &past, CLOCK_MONOTONIC) != -1) die("futex_waitv");
  }
  report("futex_waitv_4_words_timeout", (now_ns() - t) / n / 1000, "us");
}

/* openat2 with RESOLVE_BENEATH of a file two directories down, and its close. */
static void bench_openat2(void) {
  char dir[300], path[340];
  snprintf(dir, sizeof dir, "%s/ubench-openat2-%d", scratch, (int)getpid());
  snprintf(path, sizeof path, "%s/a", dir);
  mkdir(dir, 0700);
  mkdir(path, 0700);
  snprintf(path, sizeof path, "%s/a/b", dir);
  mkdir(path, 0700);
  snprintf(path, sizeof path, "%s/a/b/f", dir);
  int f = open(path, O_CREAT | O_WRONLY, 0600);
  int d = open(dir, O_RDONLY | O_DIRECTORY);
  if (f < 0 || d < 0) die("openat2 setup");
  close(f);
  struct {
    uint64_t flags, mode, resolve;
  } how = {O_RDONLY, 0, 0x08 /* RESOLVE_BENEATH */};
  long n = iters(50000);
  double t = now_ns();
  for (long i = 0; i < n; ++i) {
    long r = syscall(437, d, "a/b/f", &how, sizeof how);
    if (r < 0) die("openat2");
    close((int)r);
  }
  report("openat2_beneath_close", (now_ns() - t) / n / 1000, "us");
  close(d);
  unlink(path);
  snprintf(path, sizeof path, "%s/a/b", dir);
  rmdir(path);
  snprintf(path, sizeof path, "%s/a", dir);
  rmdir(path);
  rmdir(dir);
}

/* name_to_handle_at of a file, then open_by_handle_at of the handle and close (as root). */
static void bench_handles(void) {
  char path[300];
  snprintf(path, sizeof path, "%s/ubench-handle-%d", scratch, (int)getpid());
  int f = open(path, O_CREAT | O_WRONLY, 0600);
  int mnt = open(scratch, O_RDONLY | O_DIRECTORY);
  if (f < 0 || mnt < 0) die("handle setup");
  close(f);
  struct {
    uint32_t bytes;
    int32_t type;
    unsigned char h[128];
  } fh;
  int mount_id;
  long n = iters(30000);
  double t = now_ns();
  for (long i = 0; i < n; ++i) {
    fh.bytes = 128;
    if (syscall(303, AT_FDCWD, path, &fh, &mount_id, 0) != 0) die("name_to_handle_at");
    long r = syscall(304, mnt, &fh, O_RDONLY);
    if (r < 0) die("open_by_handle_at");
    close((int)r);
  }
  report("file_handle_encode_open_close", (now_ns() - t) / n / 1000, "us");
  close(mnt);
  unlink(path);
}

static void bench_mqueue(void) {
  char name[64];
  snprintf(name, sizeof name, "/ubench-mq-%d", (int)getpid());
  struct mq_attr attr = {0, 8, 64, 0};
  mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
  if (q == (mqd_t)-1) die("mq_open");
  mq_unlink(name);
  char msg[64] = {0};
  unsigned prio;
  long n = iters(50000);
  double t = now_ns();
  for (long i = 0; i < n; ++i) {
    if (mq_send(q, msg, sizeof msg, 1) != 0 || mq_receive(q, msg, sizeof msg, &prio) != sizeof msg) die("mq");
  }
  report("mq_send_receive_64b", (now_ns() - t) / n / 1000, "us");
  mq_close(q);
}

/* seccomp: getppid under a 4-instruction filter (load nr, compare, two returns), in a child. */
static void bench_seccomp(void) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    struct {
      unsigned short code;
      unsigned char jt, jf;
      unsigned k;
    } prog[] = {
        {0x20, 0, 0, 0},               /* A = seccomp_data.nr */
        {0x15, 0, 1, SYS_getuid},      /* A == getuid ? */
        {0x06, 0, 0, 0x00050000u | 1}, /* ERRNO(EPERM) */
        {0x06, 0, 0, 0x7fff0000u},     /* ALLOW */
    };
    struct {
      unsigned short len;
      void* filter;
    } fprog = {4, prog};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || syscall(SYS_seccomp, 1, 0, &fprog) != 0) die("seccomp");
    long n = iters(200000);
    double t = now_ns();
    for (long i = 0; i < n; ++i) syscall(SYS_getppid);
    report("seccomp_filtered_getppid", (now_ns() - t) / n / 1000, "us");
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
}

/* ptrace: one system call of a traced child seen at entry and exit (PTRACE_SYSCALL, waitpid
 * twice), as strace pays per call. */
static void bench_ptrace(void) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    ptrace(PTRACE_TRACEME, 0, 0, 0);
    raise(SIGSTOP);
    for (;;) syscall(SYS_getppid);
  }
  int st;
  if (waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st)) die("ptrace stop");
  long n = iters(5000);
  double t = now_ns();
  for (long i = 0; i < 2 * n; ++i) {
    if (ptrace(PTRACE_SYSCALL, pid, 0, 0) != 0 || waitpid(pid, &st, 0) != pid) die("ptrace syscall");
  }
  report("ptrace_syscall_roundtrip", (now_ns() - t) / n / 1000, "us");
  kill(pid, SIGKILL);
  waitpid(pid, &st, 0);
}

static const struct {
  const char* name;
  void (*fn)(void);
  // clang-format off
} benches[] = {
    {"null_syscall", bench_null},         {"read_1b_dev_zero", bench_read1},
    {"read_4k_dev_zero", bench_read4k},   {"write_1b_dev_null", bench_write1},
    {"write_4k_dev_null", bench_write4k}, {"stat", bench_stat},
    {"open_close", bench_open_close},     {"file_create_delete", bench_create_delete},
    {"pipe_latency", bench_pipe_latency}, {"pipe_bandwidth", bench_pipe_bandwidth},
    {"unix_stream_latency", bench_unix_latency}, {"unix_stream_bandwidth", bench_unix_bandwidth},
    {"udp_latency", bench_udp_latency},   {"tcp_latency", bench_tcp_latency},
    {"tcp_bandwidth", bench_tcp_bandwidth}, {"tcp_connect_accept_close", bench_tcp_connect},
    {"fork_exit", bench_fork_exit},       {"fork_exec", bench_fork_exec},
    {"sh_c_true", bench_sh_c_true},       {"page_fault", bench_page_fault},
    {"mmap_munmap_1m", bench_mmap_munmap}, {"signal", bench_signals},
    {"ctx_switch_2", bench_ctx2},         {"ctx_switch_16", bench_ctx16},
    {"clock_gettime", bench_clock_gettime}, {"timerfd_settime_gettime", bench_timerfd},
    {"signalfd_kill_read", bench_signalfd}, {"sysv_ipc", bench_sysv},
    {"inotify_write_read_event", bench_inotify}, {"mq_send_receive_64b", bench_mqueue},
    {"seccomp_filtered_getppid", bench_seccomp}, {"ptrace_syscall_roundtrip", bench_ptrace},
    {"futex_waitv_4_words_timeout", bench_futex_waitv}, {"openat2_beneath_close", bench_openat2},
    {"file_handle_encode_open_close", bench_handles},
};
// clang-format on

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "--noop") == 0) return 0;
  int i = 1;
  if (argc > 2 && strcmp(argv[1], "-s") == 0) {
    scale = atof(argv[2]);
    i = 3;
  }
  if (access("/proc/self/exe", F_OK) != 0) self_path = argv[0];
  const char* tmp = getenv("TMPDIR");
  if (tmp != 0) snprintf(scratch, sizeof scratch, "%s", tmp);
  for (size_t b = 0; b < sizeof benches / sizeof benches[0]; ++b) {
    int want = i >= argc;
    for (int k = i; k < argc; ++k) want |= strcmp(argv[k], benches[b].name) == 0;
    if (want) benches[b].fn();
  }
  return 0;
}
