/* futex_waitv(2) (x86-64 syscall 449), against futex(2) wakes and requeues:
 * - success: a thread waiting (no timeout) on 3 FUTEX2_PRIVATE words is woken by FUTEX_WAKE_PRIVATE
 *   on the 2nd (the wake returns 1, the call returns index 1) and is not reached by a shared
 *   FUTEX_WAKE; with a future absolute deadline on CLOCK_MONOTONIC / CLOCK_REALTIME it is woken
 *   before it (index 0 / 2); a forked child waiting on shared (no FUTEX2_PRIVATE) entries in
 *   MAP_SHARED memory is woken by the parent's shared FUTEX_WAKE (index 2), not by a private one;
 *   a FUTEX2_PRIVATE and a shared entry on the same word are different futexes;
 * - EAGAIN: a mismatched value in the first, middle or last entry, also with a past deadline;
 *   val above 0xffffffff (EINVAL); val 0xffffffff matching;
 * - timeouts: absolute deadlines in the past on both clocks, 50 ms ahead on both clocks
 *   (ETIMEDOUT, not before the deadline), tv_nsec 999999999 accepted;
 * - EINVAL: flags != 0, nr 0, nr 129 (128 accepted), waiters NULL, entry size U8/U16/U64, no size,
 *   unknown entry flag bits (FUTEX2_NUMA and FUTEX2_MPOL are accepted), __reserved != 0, a bad
 *   entry after good ones, a misaligned uaddr,
 *   clock ids other than CLOCK_MONOTONIC/CLOCK_REALTIME with a timeout (ignored without one),
 *   tv_nsec >= 1e9 or < 0, tv_sec < 0; the upper 32 bits of nr, flags and clockid are ignored;
 * - EFAULT: waiters at an unmapped/low address, an array running into a PROT_NONE page, uaddr
 *   unmapped / low / PROT_NONE / kernel half (private and shared), a shared entry on a read-only
 *   anonymous page (a private one is fine), timeout unmapped;
 * - check order: syscall flags/nr/waiters, then clockid, then the timeout's contents, then every
 *   entry is copied and validated in order, then every entry's key (alignment, shared EFAULT),
 *   then the values in order (private EFAULT vs EAGAIN);
 * - SIGALRM to a waiting thread: EINTR without SA_RESTART (with and without a timeout); with
 *   SA_RESTART the call restarts (a later wake returns the index; a timed wait ends ETIMEDOUT);
 * - FUTEX_CMP_REQUEUE / FUTEX_REQUEUE move one entry to another word, a wake there returns its
 *   index; two callers on one word, FUTEX_WAKE n=1 wakes exactly one; one word twice in a
 *   vector: a wake of 1 returns index 0, a wake of all counts 2 and returns the last index; one
 *   FUTEX_WAKE_OP waking entries 2 and 0 returns 2 and the call returns index 2. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include "abi_check.h"

#define SYS_FUTEX_WAITV 449
#define FUTEX_WAKE 1
#define FUTEX_REQUEUE 3
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_WAKE_OP 5
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_WAKE_PRIVATE (FUTEX_WAKE | FUTEX_PRIVATE_FLAG)
#define FUTEX2_SIZE_U8 0
#define FUTEX2_SIZE_U16 1
#define FUTEX2_SIZE_U32 2
#define FUTEX2_SIZE_U64 3
#define FUTEX2_NUMA 4
#define FUTEX2_MPOL 8
#define FUTEX2_PRIVATE 128
#define FUTEX_WAITV_MAX 128
#define U32P (FUTEX2_SIZE_U32 | FUTEX2_PRIVATE)
#define MONO CLOCK_MONOTONIC
#define REAL CLOCK_REALTIME

struct futex_waitv {
  uint64_t val;
  uint64_t uaddr;
  uint32_t flags;
  uint32_t __reserved;
};

static long waitv(const void* v, long nr, long flags, const void* ts, long clk) {
  return syscall(SYS_FUTEX_WAITV, v, nr, flags, ts, clk);
}

static long futex(void* addr, int op, uint32_t val, long val2, void* addr2, uint32_t val3) {
  return syscall(SYS_futex, addr, op, val, val2, addr2, val3);
}

static struct futex_waitv ent(const void* addr, uint64_t val, uint32_t flags) {
  struct futex_waitv e = {val, (uint64_t)(uintptr_t)addr, flags, 0};
  return e;
}

static struct timespec abs_in(int clk, long ms) {
  struct timespec t;
  clock_gettime(clk, &t);
  t.tv_nsec += ms * 1000000;
  t.tv_sec += t.tv_nsec / 1000000000;
  t.tv_nsec %= 1000000000;
  return t;
}

static int reached(int clk, const struct timespec* dl) {
  struct timespec n;
  clock_gettime(clk, &n);
  return n.tv_sec > dl->tv_sec || (n.tv_sec == dl->tv_sec && n.tv_nsec >= dl->tv_nsec);
}

static pid_t tid_self(void) { return (pid_t)syscall(SYS_gettid); }

/* The state letter in /proc/.../stat, 0 if unreadable. */
static char proc_state(const char* path) {
  char buf[512];
  int fd = open(path, O_RDONLY);
  if (fd < 0) return 0;
  long n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  char* p = strrchr(buf, ')');
  return p && p[1] == ' ' ? p[2] : 0;
}

/* Waits until the task is seen sleeping (S) 3 times in a row 1 ms apart (or 50 ms without /proc). */
static void wait_asleep_path(const char* path) {
  int seen = 0;
  for (int i = 0; i < 3000 && seen < 3; ++i) {
    char s = proc_state(path);
    if (s == 0) {
      usleep(50000);
      return;
    }
    seen = s == 'S' ? seen + 1 : 0;
    usleep(1000);
  }
}
static void wait_thread_asleep(pid_t tid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
  wait_asleep_path(path);
}
static void wait_process_asleep(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  wait_asleep_path(path);
}

/* Repeats a wake of n until it wakes somebody (nobody may sleep there yet); gives up after ~3 s. */
static long wake_until(void* addr, int op, uint32_t n) {
  for (int i = 0; i < 3000; ++i) {
    long r = futex(addr, op, n, 0, NULL, 0);
    if (r != 0) return r;
    usleep(1000);
  }
  return 0;
}

/* A thread running one futex_waitv call. */
struct job {
  struct futex_waitv v[4];
  long nr;
  struct timespec ts;
  int use_ts, clk;
  pthread_t th;
  _Atomic pid_t tid;
  _Atomic int done;
  long ret;
  int err;
};

static void* job_run(void* p) {
  struct job* j = p;
  j->tid = tid_self();
  long r = waitv(j->v, j->nr, 0, j->use_ts ? &j->ts : NULL, j->clk);
  j->err = errno;
  j->ret = r;
  atomic_store(&j->done, 1);
  return NULL;
}

/* Starts the job and waits until it sleeps. */
static void job_start(struct job* j) {
  j->tid = 0;
  j->done = 0;
  pthread_create(&j->th, NULL, job_run, j);
  while (j->tid == 0) usleep(100);
  wait_thread_asleep(j->tid);
}

/* Joins; the index returned, or -errno. */
static long job_end(struct job* j) {
  pthread_join(j->th, NULL);
  return j->ret >= 0 ? j->ret : -j->err;
}

/* Signals: a helper thread interrupts the main thread's wait. */
static _Atomic int alarms;
static void on_alarm(int sig) {
  (void)sig;
  alarms++;
}
static void set_handler(int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, NULL);
}

struct sigjob {
  pthread_t target;
  pid_t target_tid;
  void* word; /* woken after the signal when wake is set */
  int wake;
  _Atomic int go; /* the target is about to wait */
  _Atomic int returned;
  long woke;
};

static void* signaller(void* p) {
  struct sigjob* s = p;
  while (!s->go) usleep(100);
  /* Signal once the target sleeps; repeat every 100 ms unless asked to wake it afterwards. */
  for (int i = 0; i < 30 && !s->returned; ++i) {
    wait_thread_asleep(s->target_tid);
    int before = alarms;
    pthread_kill(s->target, SIGALRM);
    for (int k = 0; k < 100 && alarms == before; ++k) usleep(1000);
    if (s->wake) break;
    for (int k = 0; k < 100 && !s->returned; ++k) usleep(1000);
  }
  if (s->wake) {
    wait_thread_asleep(s->target_tid);
    s->woke = wake_until(s->word, FUTEX_WAKE_PRIVATE, 1);
  } else if (!s->returned) {
    futex(s->word, FUTEX_WAKE_PRIVATE, INT_MAX, 0, NULL, 0); /* do not hang */
  }
  return NULL;
}

/* Waits on {a, b} (index 1 is b) with the signaller running; returns the index or -errno. */
static long wait_signalled(int sa_flags, int wake, const struct timespec* ts) {
  static uint32_t a, b;
  struct futex_waitv v[2] = {ent(&a, 0, U32P), ent(&b, 0, U32P)};
  struct sigjob s;
  memset(&s, 0, sizeof s);
  s.target = pthread_self();
  s.target_tid = tid_self();
  s.word = &b;
  s.wake = wake;
  alarms = 0;
  set_handler(sa_flags);
  pthread_t th;
  pthread_create(&th, NULL, signaller, &s);
  s.go = 1;
  long r = waitv(v, 2, 0, ts, MONO);
  long res = r >= 0 ? r : -errno;
  s.returned = 1;
  pthread_join(th, NULL);
  if (wake && s.woke != 1) res = -1000;
  signal(SIGALRM, SIG_IGN);
  return res;
}

static struct futex_waitv big[FUTEX_WAITV_MAX + 1];
static uint32_t bigw[FUTEX_WAITV_MAX + 1];

int main(void) {
  struct timespec past = {0, 0}; /* long gone on both clocks */
  static uint32_t w3[3] = {10, 11, 12};
  struct futex_waitv e[3];
#define SET3() (e[0] = ent(&w3[0], 10, U32P), e[1] = ent(&w3[1], 11, U32P), e[2] = ent(&w3[2], 12, U32P))

  /* EAGAIN and values. */
  SET3();
  e[0].val = 9;
  CHECK_ERRNO("first value mismatched", waitv(e, 3, 0, NULL, 0), EAGAIN);
  SET3();
  e[1].val = 9;
  CHECK_ERRNO("middle value mismatched", waitv(e, 3, 0, NULL, 0), EAGAIN);
  SET3();
  e[2].val = 9;
  CHECK_ERRNO("last value mismatched", waitv(e, 3, 0, NULL, 0), EAGAIN);
  CHECK_ERRNO("a mismatch wins over a past deadline", waitv(e, 3, 0, &past, MONO), EAGAIN);
  SET3();
  e[1].val = (1ULL << 32) | 11;
  CHECK_ERRNO("val above 0xffffffff (low half matches)", waitv(e, 3, 0, &past, MONO), EINVAL);
  e[1].val = (1ULL << 32) | 9;
  CHECK_ERRNO("val above 0xffffffff (low half differs)", waitv(e, 3, 0, NULL, 0), EINVAL);
  static uint32_t all_ones = 0xffffffffu;
  e[1] = ent(&all_ones, 0xffffffffu, U32P);
  CHECK_ERRNO("val 0xffffffff matches", waitv(e, 3, 0, &past, MONO), ETIMEDOUT);

  /* Timeouts. */
  SET3();
  CHECK_ERRNO("CLOCK_MONOTONIC deadline in the past", waitv(e, 3, 0, &past, MONO), ETIMEDOUT);
  CHECK_ERRNO("CLOCK_REALTIME deadline in the past", waitv(e, 3, 0, &past, REAL), ETIMEDOUT);
  struct timespec almost = {0, 999999999};
  CHECK_ERRNO("tv_nsec 999999999 accepted", waitv(e, 3, 0, &almost, MONO), ETIMEDOUT);
  struct timespec dl = abs_in(MONO, 50);
  CHECK_ERRNO("CLOCK_MONOTONIC deadline 50 ms ahead", waitv(e, 3, 0, &dl, MONO), ETIMEDOUT);
  CHECK("... returned at or after the deadline", reached(MONO, &dl));
  dl = abs_in(REAL, 50);
  CHECK_ERRNO("CLOCK_REALTIME deadline 50 ms ahead", waitv(e, 3, 0, &dl, REAL), ETIMEDOUT);
  CHECK("... returned at or after the deadline", reached(REAL, &dl));

  /* EINVAL: the syscall's own arguments. */
  SET3();
  CHECK_ERRNO("flags 1", waitv(e, 3, 1, &past, MONO), EINVAL);
  CHECK_ERRNO("flags FUTEX2_PRIVATE", waitv(e, 3, FUTEX2_PRIVATE, &past, MONO), EINVAL);
  CHECK_ERRNO("flags 0x80000000", waitv(e, 3, 0x80000000L, &past, MONO), EINVAL);
  CHECK_ERRNO("nr 0", waitv(e, 0, 0, &past, MONO), EINVAL);
  for (int i = 0; i <= FUTEX_WAITV_MAX; ++i) big[i] = ent(&bigw[i], 0, U32P);
  CHECK_ERRNO("nr 129", waitv(big, FUTEX_WAITV_MAX + 1, 0, &past, MONO), EINVAL);
  CHECK_ERRNO("nr 128 accepted", waitv(big, FUTEX_WAITV_MAX, 0, &past, MONO), ETIMEDOUT);
  big[FUTEX_WAITV_MAX - 1].val = 1;
  CHECK_ERRNO("nr 128, the last mismatched", waitv(big, FUTEX_WAITV_MAX, 0, NULL, 0), EAGAIN);
  CHECK_ERRNO("nr 0xffffffff", waitv(big, 0xffffffffL, 0, &past, MONO), EINVAL);
  CHECK_ERRNO("waiters NULL", waitv(NULL, 1, 0, &past, MONO), EINVAL);
  SET3();
  e[0].val = 9;
  CHECK_ERRNO("nr: upper 32 bits ignored", waitv(e, (1L << 32) | 1, 0, NULL, 0), EAGAIN);
  CHECK_ERRNO("flags: upper 32 bits ignored", waitv(e, 1, 1L << 32, NULL, 0), EAGAIN);
  SET3();
  CHECK_ERRNO("clockid: upper 32 bits ignored", waitv(e, 3, 0, &past, (1L << 32) | MONO), ETIMEDOUT);

  /* EINVAL: entries. */
  static const struct {
    const char* name;
    uint32_t flags;
  } bad_flags[] = {
      {"entry flags 0 (no size)", 0},
      {"entry flags FUTEX2_PRIVATE only (size U8)", FUTEX2_PRIVATE},
      {"entry size U8", FUTEX2_SIZE_U8 | FUTEX2_PRIVATE},
      {"entry size U16", FUTEX2_SIZE_U16 | FUTEX2_PRIVATE},
      {"entry size U64", FUTEX2_SIZE_U64 | FUTEX2_PRIVATE},
      {"entry size U64, shared", FUTEX2_SIZE_U64},
      {"entry flag bit 0x10", U32P | 0x10},
      {"entry flag bit 0x20", U32P | 0x20},
      {"entry flag bit 0x40", U32P | 0x40},
      {"entry flag bit 0x100", U32P | 0x100},
      {"entry flag bit 0x80000000", U32P | 0x80000000u},
  };
  for (unsigned i = 0; i < sizeof bad_flags / sizeof bad_flags[0]; ++i) {
    SET3();
    e[0].flags = bad_flags[i].flags;
    CHECK_ERRNO(bad_flags[i].name, waitv(e, 3, 0, &past, MONO), EINVAL);
  }
  static uint32_t numa[2] = {10, 0xffffffffu}; /* the value, then the node: any */
  SET3();
  e[0] = ent(numa, 10, U32P | FUTEX2_NUMA);
  CHECK_ERRNO("FUTEX2_NUMA accepted (node word 0xffffffff)", waitv(e, 3, 0, &past, MONO), ETIMEDOUT);
  SET3();
  e[0].flags = U32P | FUTEX2_MPOL;
  CHECK_ERRNO("FUTEX2_MPOL accepted", waitv(e, 3, 0, &past, MONO), ETIMEDOUT);
  SET3();
  e[1].__reserved = 1;
  CHECK_ERRNO("__reserved 1", waitv(e, 3, 0, &past, MONO), EINVAL);
  e[1].__reserved = 0x80000000u;
  CHECK_ERRNO("__reserved 0x80000000", waitv(e, 3, 0, &past, MONO), EINVAL);
  SET3();
  e[2].flags = FUTEX2_SIZE_U16 | FUTEX2_PRIVATE;
  CHECK_ERRNO("a bad last entry after good ones", waitv(e, 3, 0, &past, MONO), EINVAL);
  SET3();
  CHECK_ERRNO("shared entries on private memory accepted",
              (e[0].flags = e[1].flags = e[2].flags = FUTEX2_SIZE_U32, waitv(e, 3, 0, &past, MONO)), ETIMEDOUT);
  SET3();
  e[1].uaddr += 1;
  CHECK_ERRNO("uaddr misaligned by 1", waitv(e, 3, 0, &past, MONO), EINVAL);
  e[1].uaddr += 1;
  CHECK_ERRNO("uaddr misaligned by 2", waitv(e, 3, 0, &past, MONO), EINVAL);
  e[1].flags = FUTEX2_SIZE_U32;
  CHECK_ERRNO("shared uaddr misaligned by 2", waitv(e, 3, 0, &past, MONO), EINVAL);

  /* EINVAL: clock ids and timeouts. */
  static const struct {
    const char* name;
    long clk;
  } bad_clk[] = {
      {"clockid CLOCK_BOOTTIME", CLOCK_BOOTTIME},
      {"clockid CLOCK_PROCESS_CPUTIME_ID", CLOCK_PROCESS_CPUTIME_ID},
      {"clockid CLOCK_THREAD_CPUTIME_ID", CLOCK_THREAD_CPUTIME_ID},
      {"clockid CLOCK_MONOTONIC_RAW", CLOCK_MONOTONIC_RAW},
      {"clockid CLOCK_REALTIME_COARSE", CLOCK_REALTIME_COARSE},
      {"clockid CLOCK_TAI", CLOCK_TAI},
      {"clockid -1", -1},
  };
  for (unsigned i = 0; i < sizeof bad_clk / sizeof bad_clk[0]; ++i) {
    SET3();
    CHECK_ERRNO(bad_clk[i].name, waitv(e, 3, 0, &past, bad_clk[i].clk), EINVAL);
  }
  SET3();
  e[2].val = 9;
  CHECK_ERRNO("clockid CLOCK_BOOTTIME ignored without a timeout", waitv(e, 3, 0, NULL, CLOCK_BOOTTIME), EAGAIN);
  CHECK_ERRNO("clockid -1 ignored without a timeout", waitv(e, 3, 0, NULL, -1), EAGAIN);
  SET3();
  struct timespec bad_ts = {0, 1000000000};
  CHECK_ERRNO("tv_nsec 1000000000", waitv(e, 3, 0, &bad_ts, MONO), EINVAL);
  bad_ts.tv_nsec = -1;
  CHECK_ERRNO("tv_nsec -1", waitv(e, 3, 0, &bad_ts, REAL), EINVAL);
  bad_ts.tv_sec = -1;
  bad_ts.tv_nsec = 0;
  CHECK_ERRNO("tv_sec -1", waitv(e, 3, 0, &bad_ts, MONO), EINVAL);

  /* EFAULT. A PROT_NONE page, then a hole (the middle page of three, unmapped). */
  char* pages = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char* none = pages + 4096;
  mprotect(none, 4096, PROT_NONE);
  char* three = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char* hole = three + 4096;
  munmap(hole, 4096);
  void* low = (void*)16;
  void* kern = (void*)0xffff888000000000UL;
  CHECK_ERRNO("waiters at address 16", waitv(low, 1, 0, &past, MONO), EFAULT);
  CHECK_ERRNO("waiters unmapped", waitv(hole, 1, 0, &past, MONO), EFAULT);
  CHECK_ERRNO("waiters in the kernel half", waitv(kern, 1, 0, &past, MONO), EFAULT);
  struct futex_waitv* edge = (struct futex_waitv*)none - 1; /* the last entry of the good page */
  *edge = ent(&w3[0], 9, U32P);
  CHECK_ERRNO("entry 0 mismatched, entry 1 on a PROT_NONE page", waitv(edge, 2, 0, NULL, 0), EFAULT);
  edge->flags = FUTEX2_SIZE_U16;
  CHECK_ERRNO("entry 0 bad flags, entry 1 on a PROT_NONE page", waitv(edge, 2, 0, NULL, 0), EINVAL);
  SET3();
  e[1].uaddr = 16;
  CHECK_ERRNO("private uaddr 16", waitv(e, 3, 0, &past, MONO), EFAULT);
  e[1].uaddr = (uintptr_t)hole;
  CHECK_ERRNO("private uaddr unmapped", waitv(e, 3, 0, &past, MONO), EFAULT);
  e[1].uaddr = (uintptr_t)none;
  CHECK_ERRNO("private uaddr PROT_NONE", waitv(e, 3, 0, &past, MONO), EFAULT);
  e[1].uaddr = (uintptr_t)kern;
  CHECK_ERRNO("private uaddr in the kernel half", waitv(e, 3, 0, &past, MONO), EFAULT);
  e[1].uaddr = 1UL << 63;
  CHECK_ERRNO("private uaddr 1<<63", waitv(e, 3, 0, &past, MONO), EFAULT);
  e[1].flags = FUTEX2_SIZE_U32;
  e[1].uaddr = 16;
  CHECK_ERRNO("shared uaddr 16", waitv(e, 3, 0, &past, MONO), EFAULT);
  e[1].uaddr = (uintptr_t)hole;
  CHECK_ERRNO("shared uaddr unmapped", waitv(e, 3, 0, &past, MONO), EFAULT);
  e[1].uaddr = (uintptr_t)none;
  CHECK_ERRNO("shared uaddr PROT_NONE", waitv(e, 3, 0, &past, MONO), EFAULT);
  e[1].uaddr = (uintptr_t)kern;
  CHECK_ERRNO("shared uaddr in the kernel half", waitv(e, 3, 0, &past, MONO), EFAULT);
  uint32_t* ro = (uint32_t*)pages;
  *ro = 11; /* a real anonymous page, then read-only */
  mprotect(pages, 4096, PROT_READ);
  SET3();
  e[1].uaddr = (uintptr_t)ro;
  CHECK_ERRNO("private uaddr on a read-only page", waitv(e, 3, 0, &past, MONO), ETIMEDOUT);
  e[1].flags = FUTEX2_SIZE_U32;
  CHECK_ERRNO("shared uaddr on a read-only anonymous page", waitv(e, 3, 0, &past, MONO), EFAULT);
  SET3();
  CHECK_ERRNO("timeout at address 16", waitv(e, 3, 0, low, MONO), EFAULT);
  CHECK_ERRNO("timeout unmapped", waitv(e, 3, 0, hole, REAL), EFAULT);

  /* Check order. */
  CHECK_ERRNO("order: flags != 0 before a bad waiters pointer", waitv(low, 1, 1, &past, MONO), EINVAL);
  CHECK_ERRNO("order: nr 0 before a bad waiters pointer", waitv(low, 0, 0, &past, MONO), EINVAL);
  CHECK_ERRNO("order: nr 129 before a bad waiters pointer", waitv(low, 129, 0, &past, MONO), EINVAL);
  CHECK_ERRNO("order: flags != 0 before a bad timeout pointer", waitv(e, 3, 1, low, MONO), EINVAL);
  CHECK_ERRNO("order: a bad clockid before a bad timeout pointer", waitv(e, 3, 0, low, CLOCK_BOOTTIME), EINVAL);
  bad_ts.tv_sec = 0;
  bad_ts.tv_nsec = -1;
  CHECK_ERRNO("order: a bad tv_nsec before a bad waiters pointer", waitv(low, 1, 0, &bad_ts, MONO), EINVAL);
  CHECK_ERRNO("order: a bad timeout pointer before a bad waiters pointer (EFAULT)", waitv(low, 1, 0, low, MONO),
              EFAULT);
  SET3();
  e[2].flags = 0;
  CHECK_ERRNO("order: a bad timeout pointer before bad entry flags", waitv(e, 3, 0, low, MONO), EFAULT);
  CHECK_ERRNO("order: a bad clockid before bad entry flags", waitv(e, 3, 0, &past, CLOCK_BOOTTIME), EINVAL);
  bad_ts.tv_nsec = 1000000000;
  e[2].flags = U32P;
  e[2].__reserved = 1;
  CHECK_ERRNO("order: a bad tv_nsec before a bad __reserved", waitv(e, 3, 0, &bad_ts, MONO), EINVAL);
  SET3();
  e[0].val = 9;
  e[2].flags = FUTEX2_SIZE_U64;
  CHECK_ERRNO("order: entry 2 bad flags before entry 0 mismatched", waitv(e, 3, 0, NULL, 0), EINVAL);
  SET3();
  e[0].val = 9;
  e[2].uaddr += 2;
  CHECK_ERRNO("order: entry 2 misaligned before entry 0 mismatched", waitv(e, 3, 0, NULL, 0), EINVAL);
  SET3();
  e[0].uaddr = 16;
  e[2].flags = FUTEX2_SIZE_U16;
  CHECK_ERRNO("order: entry 2 bad flags before entry 0 private uaddr 16", waitv(e, 3, 0, NULL, 0), EINVAL);
  SET3();
  e[0].uaddr = 16;
  e[2].uaddr += 1;
  CHECK_ERRNO("order: entry 2 misaligned before entry 0 private uaddr 16", waitv(e, 3, 0, NULL, 0), EINVAL);
  SET3();
  e[0].val = 9;
  e[2].uaddr = 16;
  CHECK_ERRNO("order: entry 0 mismatched before entry 2 private uaddr 16", waitv(e, 3, 0, NULL, 0), EAGAIN);
  SET3();
  e[0].uaddr = 16;
  e[2].val = 9;
  CHECK_ERRNO("order: entry 0 private uaddr 16 before entry 2 mismatched", waitv(e, 3, 0, NULL, 0), EFAULT);
  SET3();
  e[0].val = 9;
  e[2].uaddr = 16;
  e[2].flags = FUTEX2_SIZE_U32;
  CHECK_ERRNO("order: entry 2 shared uaddr 16 before entry 0 mismatched", waitv(e, 3, 0, NULL, 0), EFAULT);

  /* Success: threads, private entries, no timeout. */
  static uint32_t a, b, c, d;
  struct job j;
  memset(&j, 0, sizeof j);
  j.v[0] = ent(&a, 0, U32P);
  j.v[1] = ent(&b, 0, U32P);
  j.v[2] = ent(&c, 0, U32P);
  j.nr = 3;
  job_start(&j);
  CHECK("a shared FUTEX_WAKE does not reach a FUTEX2_PRIVATE entry", futex(&b, FUTEX_WAKE, 1, 0, NULL, 0) == 0);
  CHECK("FUTEX_WAKE_PRIVATE on the 2nd of 3 returns 1", wake_until(&b, FUTEX_WAKE_PRIVATE, 1) == 1);
  CHECK("futex_waitv returns index 1", job_end(&j) == 1);

  /* A future deadline, woken before it. */
  j.use_ts = 1;
  j.clk = MONO;
  j.ts = abs_in(MONO, 10000);
  job_start(&j);
  CHECK("CLOCK_MONOTONIC deadline 10 s ahead: a wake on the 1st returns 1", wake_until(&a, FUTEX_WAKE_PRIVATE, 1) == 1);
  CHECK("... futex_waitv returns index 0", job_end(&j) == 0);
  j.clk = REAL;
  j.ts = abs_in(REAL, 10000);
  job_start(&j);
  CHECK("CLOCK_REALTIME deadline 10 s ahead: a wake on the 3rd returns 1", wake_until(&c, FUTEX_WAKE_PRIVATE, 1) == 1);
  CHECK("... futex_waitv returns index 2", job_end(&j) == 2);
  j.use_ts = 0;

  /* A FUTEX2_PRIVATE and a shared entry on the same word. */
  j.v[0] = ent(&a, 0, U32P);
  j.v[1] = ent(&a, 0, FUTEX2_SIZE_U32);
  j.nr = 2;
  job_start(&j);
  CHECK("same word private + shared: a shared wake returns 1", wake_until(&a, FUTEX_WAKE, INT_MAX) == 1);
  CHECK("... futex_waitv returns the shared entry's index 1", job_end(&j) == 1);
  job_start(&j);
  CHECK("same word private + shared: a private wake returns 1", wake_until(&a, FUTEX_WAKE_PRIVATE, INT_MAX) == 1);
  CHECK("... futex_waitv returns the private entry's index 0", job_end(&j) == 0);

  /* The same word twice. */
  j.v[0] = ent(&a, 0, U32P);
  j.v[1] = ent(&b, 0, U32P);
  j.v[2] = ent(&a, 0, U32P);
  j.nr = 3;
  job_start(&j);
  CHECK("word listed twice: a wake of 1 returns 1", wake_until(&a, FUTEX_WAKE_PRIVATE, 1) == 1);
  CHECK("... futex_waitv returns index 0", job_end(&j) == 0);
  job_start(&j);
  CHECK("word listed twice: a wake of all returns 2", wake_until(&a, FUTEX_WAKE_PRIVATE, INT_MAX) == 2);
  CHECK("... futex_waitv returns index 2", job_end(&j) == 2);
  /* Two words woken by one FUTEX_WAKE_OP (b first, then a): the highest index is returned. */
  j.v[0] = ent(&a, 0, U32P);
  j.v[1] = ent(&c, 0, U32P);
  j.v[2] = ent(&b, 0, U32P);
  job_start(&j);
  /* op: set *a = 0 (it is 0), and wake on a too when the old value == 0. */
  CHECK("FUTEX_WAKE_OP on entries 2 and 0 returns 2", futex(&b, FUTEX_WAKE_OP | FUTEX_PRIVATE_FLAG, 1, 1, &a, 0) == 2);
  CHECK("... futex_waitv returns index 2", job_end(&j) == 2);
  j.v[0] = ent(&a, 0, U32P);
  j.v[1] = ent(&b, 0, U32P);
  j.v[2] = ent(&a, 0, U32P);
  j.v[2].val = 1; /* a is 0 */
  CHECK_ERRNO("word listed twice with different values", waitv(j.v, 3, 0, NULL, 0), EAGAIN);

  /* Two callers on one word: a wake of 1 wakes exactly one. */
  struct job j2;
  memset(&j2, 0, sizeof j2);
  j.v[0] = ent(&a, 0, U32P);
  j.v[1] = ent(&d, 0, U32P);
  j.nr = 2;
  j2.v[0] = ent(&c, 0, U32P);
  j2.v[1] = ent(&b, 0, U32P);
  j2.v[2] = ent(&d, 0, U32P);
  j2.nr = 3;
  job_start(&j);
  job_start(&j2);
  CHECK("two callers on one word: a wake of 1 returns 1", futex(&d, FUTEX_WAKE_PRIVATE, 1, 0, NULL, 0) == 1);
  usleep(50000);
  CHECK("... exactly one returned", j.done + j2.done == 1);
  CHECK("... a second wake of 1 returns 1", wake_until(&d, FUTEX_WAKE_PRIVATE, 1) == 1);
  CHECK("... both return their index of the word", job_end(&j) == 1 && job_end(&j2) == 2);

  /* Requeue. */
  j.v[0] = ent(&a, 0, U32P);
  j.v[1] = ent(&b, 0, U32P);
  j.v[2] = ent(&c, 0, U32P);
  j.nr = 3;
  job_start(&j);
  CHECK_ERRNO("FUTEX_CMP_REQUEUE with a changed value", futex(&b, FUTEX_CMP_REQUEUE | FUTEX_PRIVATE_FLAG, 0, 1, &d, 5),
              EAGAIN);
  long moved = 0;
  for (int i = 0; i < 3000 && moved == 0; ++i) {
    moved = futex(&b, FUTEX_CMP_REQUEUE | FUTEX_PRIVATE_FLAG, 0, 1, &d, 0);
    if (moved == 0) usleep(1000);
  }
  CHECK("FUTEX_CMP_REQUEUE wake 0, move 1: returns 1", moved == 1);
  CHECK("... nobody left on the old word", futex(&b, FUTEX_WAKE_PRIVATE, INT_MAX, 0, NULL, 0) == 0);
  CHECK("... a wake on the new word returns 1", futex(&d, FUTEX_WAKE_PRIVATE, INT_MAX, 0, NULL, 0) == 1);
  CHECK("... futex_waitv returns the moved entry's index 1", job_end(&j) == 1);
  job_start(&j);
  moved = 0;
  for (int i = 0; i < 3000 && moved == 0; ++i) {
    moved = futex(&c, FUTEX_REQUEUE | FUTEX_PRIVATE_FLAG, 0, 1, &d, 0);
    if (moved == 0) usleep(1000);
  }
  CHECK("FUTEX_REQUEUE wake 0, move 1: returns 1", moved == 1);
  CHECK("... a wake on the new word returns 1", futex(&d, FUTEX_WAKE_PRIVATE, INT_MAX, 0, NULL, 0) == 1);
  CHECK("... futex_waitv returns the moved entry's index 2", job_end(&j) == 2);

  /* Processes: shared entries in MAP_SHARED memory. */
  _Atomic uint32_t* sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  memset((void*)sh, 0, 64);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    struct futex_waitv v[3] = {ent((void*)&sh[0], 0, FUTEX2_SIZE_U32), ent((void*)&sh[1], 0, FUTEX2_SIZE_U32),
                               ent((void*)&sh[2], 0, FUTEX2_SIZE_U32)};
    sh[8] = 1;
    long r = waitv(v, 3, 0, NULL, 0);
    _exit(r >= 0 ? (int)r : 100 + errno);
  }
  while (sh[8] == 0) usleep(100);
  wait_process_asleep(pid);
  CHECK("another process: a private wake does not reach shared entries",
        futex((void*)&sh[2], FUTEX_WAKE_PRIVATE, 1, 0, NULL, 0) == 0);
  CHECK("another process: a shared wake on the 3rd returns 1", wake_until((void*)&sh[2], FUTEX_WAKE, 1) == 1);
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK("... the child's futex_waitv returned index 2", WIFEXITED(st) && WEXITSTATUS(st) == 2);

  /* Signals. */
  CHECK("SIGALRM without SA_RESTART, no timeout: EINTR", wait_signalled(0, 0, NULL) == -EINTR && alarms >= 1);
  struct timespec far = abs_in(MONO, 10000);
  CHECK("SIGALRM without SA_RESTART, 10 s deadline: EINTR", wait_signalled(0, 0, &far) == -EINTR && alarms >= 1);
  CHECK("SIGALRM with SA_RESTART, no timeout: restarts, a later wake returns index 1",
        wait_signalled(SA_RESTART, 1, NULL) == 1 && alarms == 1);
  dl = abs_in(MONO, 100);
  CHECK("SIGALRM with SA_RESTART, 100 ms deadline: ETIMEDOUT at the deadline",
        wait_signalled(SA_RESTART, 0, &dl) == -ETIMEDOUT && reached(MONO, &dl) && alarms >= 1);
  return ABI_DONE();
}
