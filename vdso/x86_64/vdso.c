/* The vDSO: code the kernel maps into every process (AT_SYSINFO_EHDR) so that reading the
 * clocks needs no system call. Runs in user mode with the process's privileges; it reads the
 * clock page (ostd/user_clock.h), which the kernel maps read-only just below this image, and
 * makes the real system call for anything it cannot answer itself. Linux's vDSO symbols and
 * version (LINUX_2.6), so musl and glibc find it. Like Linux's, a bad pointer faults here
 * (SIGSEGV) instead of returning EFAULT, also when the clock page sends a reading to the kernel
 * (hosts whose clock is not the TSC): the system call writes into this function's own frame,
 * and the copy out to the caller's pointer faults as Linux's user-mode store does. */
#include <ostd/user_clock.h>

#define NSEC_PER_SEC 1000000000ull

struct timespec_k {
  long tv_sec, tv_nsec;
};
struct timeval_k {
  long tv_sec, tv_usec;
};
struct timezone_k {
  int tz_minuteswest, tz_dsttime;
};

/* The clock page: the linker script puts this symbol one page below the image. */
extern const volatile struct ostd_user_clock fk_vdso_clock __attribute__((visibility("hidden")));

static inline long syscall2(long n, long a, long b) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b) : "rcx", "r11", "memory");
  return r;
}

static inline long syscall1(long n, long a) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a) : "rcx", "r11", "memory");
  return r;
}

/* Monotonic (realtime = 0) or real time in ns; 0 when the page says to ask the kernel. */
static int read_clock(int realtime, unsigned long long* out) {
  for (;;) {
    unsigned seq = fk_vdso_clock.seq;
    __asm__ volatile("" ::: "memory");
    if (seq & 1) {
      __asm__ volatile("pause");
      continue;
    }
    if (fk_vdso_clock.mode != OSTD_USER_CLOCK_TSC) return 0;
    unsigned long long tsc = ostd_rdtsc_ordered();
    unsigned long long base = fk_vdso_clock.tsc_base;
    unsigned long long ns = fk_vdso_clock.ns_base;
    unsigned long long mult = fk_vdso_clock.mult;
    long long off = fk_vdso_clock.realtime_offset_ns;
    __asm__ volatile("" ::: "memory");
    if (fk_vdso_clock.seq != seq) continue;
    ns = ostd_user_clock_ns(tsc, base, ns, mult);
    if (realtime) ns += (unsigned long long)off;
    *out = ns;
    return 1;
  }
}

/* Which clock a clock id reads (the kernel's clock_gettime does the same); -1: ask the kernel. */
static int clock_kind(int clk) {
  switch (clk) {
    case 0: /* CLOCK_REALTIME */
    case 5: /* CLOCK_REALTIME_COARSE */ return 1;
    case 1: /* CLOCK_MONOTONIC */
    case 4: /* CLOCK_MONOTONIC_RAW */
    case 6: /* CLOCK_MONOTONIC_COARSE */
    case 7: /* CLOCK_BOOTTIME */ return 0;
    default: return -1;
  }
}

int __vdso_clock_gettime(int clk, struct timespec_k* ts) {
  int kind = clock_kind(clk);
  unsigned long long ns;
  if (kind < 0) return (int)syscall2(228, clk, (long)ts);
  if (!read_clock(kind, &ns)) {
    struct timespec_k k;
    int r = (int)syscall2(228, clk, (long)&k);
    if (r == 0) *ts = k;
    return r;
  }
  ts->tv_sec = (long)(ns / NSEC_PER_SEC);
  ts->tv_nsec = (long)(ns % NSEC_PER_SEC);
  return 0;
}

int __vdso_gettimeofday(struct timeval_k* tv, void* tz) {
  unsigned long long ns;
  if (tz != 0 || !read_clock(1, &ns)) {
    struct timeval_k k;
    struct timezone_k z;
    int r = (int)syscall2(96, tv != 0 ? (long)&k : 0, tz != 0 ? (long)&z : 0);
    if (r != 0) return r;
    if (tv != 0) *tv = k;
    if (tz != 0) *(struct timezone_k*)tz = z;
    return 0;
  }
  if (tv != 0) {
    tv->tv_sec = (long)(ns / NSEC_PER_SEC);
    tv->tv_usec = (long)(ns % NSEC_PER_SEC / 1000);
  }
  return 0;
}

long __vdso_time(long* t) {
  unsigned long long ns;
  long s;
  if (read_clock(1, &ns)) {
    s = (long)(ns / NSEC_PER_SEC);
  } else {
    s = syscall1(201, 0);
    if (s < 0) return s;
  }
  if (t != 0) *t = s;
  return s;
}

int clock_gettime(int, struct timespec_k*) __attribute__((weak, alias("__vdso_clock_gettime")));
int gettimeofday(struct timeval_k*, void*) __attribute__((weak, alias("__vdso_gettimeofday")));
long time(long*) __attribute__((weak, alias("__vdso_time")));
