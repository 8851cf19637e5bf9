/* A deterministic storm of random system calls with hostile arguments, run in child processes.
 * The kernel must survive it: every call returns (a value or -errno) or the child dies of a
 * signal; umk itself must not crash or hang. Usage: syscall_storm [SEED] [CALLS_PER_CHILD].
 * Run under umk only (ctest abi.syscall_storm): natively it would poke at the host as root. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static uint64_t state;
static uint64_t rnd(void) {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

/* System calls that are safe to call with random arguments in a child: nothing that can kill
 * other processes, exit, block forever, fork, exec or change the parent's files. */
// clang-format off
static const int calls[] = {
    SYS_read, SYS_write, SYS_open, SYS_close, SYS_stat, SYS_fstat, SYS_lstat, SYS_poll, SYS_lseek,
    SYS_mmap, SYS_mprotect, SYS_munmap, SYS_brk, SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_ioctl,
    SYS_pread64, SYS_pwrite64, SYS_readv, SYS_writev, SYS_access, SYS_pipe, SYS_select,
    SYS_sched_yield, SYS_mremap, SYS_msync, SYS_madvise, SYS_dup, SYS_dup2, SYS_nanosleep,
    SYS_getpid, SYS_fcntl, SYS_flock, SYS_fsync, SYS_truncate, SYS_ftruncate, SYS_getdents64,
    SYS_getcwd, SYS_rename, SYS_mkdir, SYS_rmdir, SYS_creat, SYS_link, SYS_unlink,
    SYS_symlink, SYS_readlink, SYS_chmod, SYS_umask, SYS_gettimeofday, SYS_getrlimit,
    SYS_getrusage, SYS_sysinfo, SYS_times, SYS_uname, SYS_getppid, SYS_sigaltstack, SYS_statfs,
    SYS_fstatfs, SYS_prctl, SYS_arch_prctl, SYS_gettid, SYS_time, SYS_futex, SYS_set_tid_address,
    SYS_clock_gettime, SYS_clock_getres, SYS_epoll_create1, SYS_epoll_ctl, SYS_epoll_wait,
    SYS_openat, SYS_mkdirat, SYS_newfstatat, SYS_unlinkat, SYS_renameat, SYS_linkat,
    SYS_symlinkat, SYS_readlinkat, SYS_fchmodat, SYS_faccessat, SYS_pselect6, SYS_ppoll,
    SYS_utimensat, SYS_eventfd2, SYS_dup3, SYS_pipe2, SYS_preadv, SYS_pwritev,
    SYS_getrandom, SYS_statx, SYS_close_range, SYS_sendfile, SYS_getitimer, SYS_rt_sigpending,
    SYS_sched_getaffinity, SYS_set_robust_list, SYS_getgroups, SYS_sync, SYS_mknodat,
    SYS_renameat2, SYS_waitid, SYS_wait4,
};
// clang-format on

static char* good; /* a mapped, writable page */
static char* ro;   /* a read-only page */
static char* edge; /* the last 8 bytes of a page followed by an unmapped one */

static uint64_t arg(void) {
  /* Only the scratch directory and harmless files, should anyone run this natively. */
  static const char* paths[] = {".",         "x", "d",      "d/e", "/tmp/s",         "/tmp/s/x", "/proc/self/fd/100",
                                "/dev/null", "l", "d/../y", "",    "/proc/self/maps"};
  switch (rnd() % 14) {
    case 0: return 0;
    case 1: return rnd() % 8;
    case 2: return (uint64_t)-1;
    case 3: return rnd();
    case 4: return (uint64_t)good + rnd() % 4000;
    case 5: return (uint64_t)ro;
    case 6: return (uint64_t)edge;
    case 7: return 8;                     /* unmapped low address */
    case 8: return 0xffff800000000000ull; /* kernel half */
    case 9: return (uint64_t)paths[rnd() % (sizeof paths / sizeof paths[0])];
    case 10: return 1ull << (rnd() % 64);
    case 11: return rnd() % 4096;
    case 12: return 0x7fffffffull;
    default: return rnd() % 100000;
  }
}

static void storm(int n) {
  good = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ro = mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char* two = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(two + 4096, 4096);
  edge = two + 4096 - 8;
  alarm(5); /* a call that blocks for good ends the child, not the test */
  for (int i = 0; i < n; ++i) {
    int nr = calls[rnd() % (sizeof calls / sizeof calls[0])];
    uint64_t a[6];
    for (int k = 0; k < 6; ++k) a[k] = arg();
    if (nr == SYS_munmap || nr == SYS_mprotect || nr == SYS_mremap || nr == SYS_madvise) {
      /* Keep our own probe pages. */
      if (a[0] <= (uint64_t)good + 4096 && a[0] + (a[1] & 0xffffffff) >= (uint64_t)good) continue;
      if (a[0] <= (uint64_t)ro + 4096 && a[0] + (a[1] & 0xffffffff) >= (uint64_t)ro) continue;
    }
    if (nr == SYS_nanosleep || nr == SYS_poll || nr == SYS_select || nr == SYS_pselect6 || nr == SYS_ppoll ||
        nr == SYS_epoll_wait || nr == SYS_futex || nr == SYS_read || nr == SYS_readv || nr == SYS_wait4 ||
        nr == SYS_waitid || nr == SYS_flock) {
      /* Calls that may sleep: no timeouts that are long, no reads of the terminal. */
      if (nr == SYS_read || nr == SYS_readv) a[0] = 100 + rnd() % 4; /* our own files only */
      if (nr == SYS_read || nr == SYS_readv) fcntl(100, F_SETFL, O_NONBLOCK);
      if (nr == SYS_poll) a[2] = rnd() % 3;
      if (nr == SYS_epoll_wait) a[3] = rnd() % 3;
      if (nr == SYS_futex) a[1] = (a[1] & ~0x7full) | (rnd() % 2 ? 1 : 0); /* WAKE or short WAIT */
      if (nr == SYS_futex) a[3] = 0;
      if (nr == SYS_futex && (a[1] & 1) == 0) continue;
      if (nr == SYS_nanosleep || nr == SYS_select || nr == SYS_pselect6 || nr == SYS_ppoll) continue;
      if (nr == SYS_wait4 || nr == SYS_waitid) a[2] |= 1; /* WNOHANG */
      if (nr == SYS_flock) a[1] |= 4;                     /* LOCK_NB */
    }
    if (nr == SYS_rt_sigaction && (a[0] == SIGALRM || a[0] == SIGKILL)) continue;
    if (nr == SYS_write || nr == SYS_writev || nr == SYS_pwrite64 || nr == SYS_pwritev || nr == SYS_sendfile) {
      if (a[0] < 3) a[0] = 101; /* never block on a full pipe of someone else */
      fcntl(101, F_SETFL, O_NONBLOCK);
    }
    if (nr == SYS_rt_sigprocmask) a[1] = 0;                        /* do not block SIGALRM */
    if (nr == SYS_arch_prctl && (a[0] & 0xfff) == 0x002) continue; /* ARCH_SET_FS: libc needs it */
    if (nr == SYS_set_tid_address || nr == SYS_set_robust_list) continue;
    syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  }
}

int main(int argc, char** argv) {
  uint64_t seed = argc > 1 ? strtoull(argv[1], 0, 0) : 12345;
  int per_child = argc > 2 ? atoi(argv[2]) : 3000;
  int children = 8;
  mkdir("/tmp/s", 0755);
  chdir("/tmp/s");
  int ended = 0;
  for (int c = 0; c < children; ++c) {
    state = seed * 2654435761u + c + 1;
    pid_t pid = fork();
    if (pid == 0) {
      /* Some files of our own to read and write. */
      int fds[2];
      pipe2(fds, O_NONBLOCK);
      dup2(fds[0], 100);
      dup2(fds[1], 101);
      int f = open("/tmp/s/file", O_RDWR | O_CREAT, 0600);
      dup2(f, 102);
      dup2(open("/dev/zero", O_RDONLY), 103);
      for (int fd = 0; fd < 3; ++fd) close(fd);
      storm(per_child);
      _exit(0);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) == pid) ended++;
  }
  printf("storm: %d of %d children ended\n", ended, children);
  return ended == children ? 0 : 1;
}
