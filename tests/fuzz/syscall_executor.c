/* The guest half of the `syscalls` fuzz target (tests/fuzz/syscalls_fuzz.cpp): a static musl
 * program, run as init under the in-process kernel, that decodes /prog (the fuzz input) into a
 * sequence of system calls from typed descriptions, syzkaller-style:
 *   - fd arguments reuse earlier results (a table of 16 descriptors) or bad values;
 *   - pointers point into a mapped buffer, NULL, an unmapped hole, a read-only page, the last
 *     bytes of the buffer (partially mapped), a kernel address, a non-canonical address or the
 *     stub's region above the guest range;
 *   - lengths are 0, small, a page, huge, negative or random;
 *   - flags mix valid bits with random ones;
 *   - paths come from a dictionary with `..`, symlinks (one a loop), long names, /proc and /dev.
 * Blocking calls are cut short by an interval timer (EINTR; SIGALRM is unblocked again after
 * every call and its handler cannot be changed). The program never prints.
 * Input: a stream of bytes; each call takes an opcode byte and as many bytes as its arguments
 * need (missing bytes read as 0). At most 64 calls per input. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sched.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
#ifndef SYS_process_mrelease
#define SYS_process_mrelease 448
#endif
#ifndef SYS_set_mempolicy_home_node
#define SYS_set_mempolicy_home_node 450
#endif

#define BUF_ADDR 0x20000000UL
#define BUF_SIZE (64 * 1024)
#define RO_ADDR (BUF_ADDR + BUF_SIZE)
#define HOLE_ADDR (RO_ADDR + 4096) /* never mapped */

static unsigned char prog[8192];
static size_t prog_len, pos;
static long fds[16];
static int nfds;

static unsigned u8(void) { return pos < prog_len ? prog[pos++] : 0; }
static uint32_t u32(void) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= (uint32_t)u8() << (8 * i);
  return v;
}
static uint64_t u64(void) { return u32() | ((uint64_t)u32() << 32); }

static void keep_fd(long r) {
  if (r >= 0) fds[nfds++ % 16] = r;
}

static long fd(void) {
  unsigned b = u8();
  if (b < 0xf0) return nfds == 0 ? (long)(b % 4) : fds[b % (nfds < 16 ? nfds : 16)];
  switch (b & 7) {
    case 0: return -1;
    case 1: return 0;
    case 2: return 1;
    case 3: return 1023;
    case 4: return 0x7fffffff;
    case 5: return AT_FDCWD;
    default: return (long)(int32_t)u32();
  }
}

static uint64_t ptr(void) {
  unsigned b = u8();
  switch (b % 9) {
    // clang-format off
    case 0: case 1: case 2: return BUF_ADDR + (u8() * 64u) % BUF_SIZE;
    case 3: return 0;
    case 4: return HOLE_ADDR + u8();
    case 5: return RO_ADDR + u8();
    case 6: return BUF_ADDR + BUF_SIZE - 1 - (u8() % 16); /* the last bytes: partially mapped */
    case 7: return (b & 16) ? 0xffff888000000000ULL : 0x8000000000000000ULL;
    // clang-format on
    default: return (b & 16) ? 0x7ff800000000ULL : 0x7ff840001000ULL; /* the stub's pages */
  }
}

static uint64_t len(void) {
  switch (u8() % 9) {
    case 0: return 0;
    case 1: return 1;
    case 2: return 16;
    case 3: return 4096;
    case 4: return 65536;
    case 5: return 0x7fffffff;
    case 6: return (uint64_t)-1;
    case 7: return (uint64_t)-4096;
    default: return u32();
  }
}

static uint64_t flags(uint64_t valid) {
  uint64_t f = u32() & valid;
  if (u8() == 0xff) f |= u32();
  return f;
}

// clang-format off
static const char* const paths[] = {
    "/tmp/a", "/tmp/b", "/tmp/d", "/tmp/d/../a", "/tmp/d/e", "/tmp/l", "/tmp/loop",
    "/tmp/fifo", "/proc/self/fd/0", "/proc/self/maps", "/proc/self/status", "/proc/1/cmdline",
    "/dev/null", "/dev/zero", "/dev/tty", "", "/", ".", "..", "/tmp/a/", "rel", "/nonexist/x",
    "/tmp/////a", "/proc/self/fd/3", "/prog", "/x", "/tmp/e",
};
// clang-format on
static char longpath[6000];

static uint64_t path(void) {
  unsigned b = u8();
  if (b == 0xfe) return (uint64_t)longpath;                           /* > PATH_MAX */
  if (b == 0xfd) return (uint64_t)(longpath + sizeof longpath - 300); /* a 255+ byte name */
  if (b == 0xfc) return ptr();
  return (uint64_t)paths[b % (sizeof paths / sizeof paths[0])];
}

static void on_signal(int sig) { (void)sig; }

static long sc(long n, uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, uint64_t f) {
  return syscall(n, a, b, c, d, e, f);
}

static void one_call(void);

static int in_child, forks;

static void run_child(void) {
  /* A forked child: a few more calls (no more forks), then exit with a fuzzed status. */
  in_child = 1;
  for (int i = 0; i < 4; ++i) one_call();
  _exit(u8());
}

/* Writes `len` bytes to `file` (mode 0755) and, in a child (a few per input), execs it. */
static void exec_written(const char* file, const unsigned char* bytes, size_t len) {
  int f = (int)sc(SYS_openat, AT_FDCWD, (uint64_t)file, O_CREAT | O_TRUNC | O_WRONLY, 0755, 0, 0);
  if (f >= 0) {
    sc(SYS_write, f, (uint64_t)bytes, len, 0, 0, 0);
    close(f);
  }
  if (in_child || forks++ >= 8) return;
  if (fork() == 0) {
    char* const argv[] = {(char*)file, 0};
    static char* const envp[] = {0};
    sc(SYS_execve, (uint64_t)file, (uint64_t)argv, (uint64_t)envp, 0, 0, 0);
    _exit(127);
  }
}

/* The last inotify instance and message queue opened (the families' calls mostly use them). */
static long ino_fd = -1, mq_fd = -1;

/* Calls that make inotify events in /tmp/w (the directory op 50 watches) and /tmp/d: create,
 * write, read, close, chmod, rename (within and across directories: cookies), link, unlink
 * (a file kept open: DELETE_SELF waits for the last close), truncate, mkdir/rmdir, and the
 * watched directory itself moved away and back or removed and made again. */
static void inotify_events(void) {
  static const char* const names[] = {"/tmp/w/f", "/tmp/w/g", "/tmp/w/h", "/tmp/d/m"};
  for (unsigned n = 1 + u8() % 4; n > 0; --n) {
    uint64_t a = (uint64_t)names[u8() % 4], b = (uint64_t)names[u8() % 4];
    long f;
    switch (u8() % 10) {
      case 0:
        f = sc(SYS_openat, AT_FDCWD, a, O_CREAT | O_RDWR | ((u8() & 3) ? 0 : O_TRUNC), 0644, 0, 0);
        if (f >= 0) {
          sc(SYS_write, f, BUF_ADDR, u8() % 64, 0, 0, 0);
          if (u8() & 3) sc(SYS_close, f, 0, 0, 0, 0, 0);
          else keep_fd(f);
        }
        break;
      case 1:
        if (u8() & 1) {
          f = sc(SYS_openat, AT_FDCWD, a, O_RDONLY, 0, 0, 0);
          if (f >= 0) sc(SYS_read, f, BUF_ADDR + 12288, 16, 0, 0, 0);
        } else {
          f = sc(SYS_openat, AT_FDCWD, (uint64_t) "/tmp/w", O_RDONLY | O_DIRECTORY, 0, 0, 0);
          if (f >= 0) sc(SYS_getdents64, f, BUF_ADDR + 12288, 4096, 0, 0, 0);
        }
        if (f >= 0) sc(SYS_close, f, 0, 0, 0, 0, 0);
        break;
      case 2:
        if (u8() & 1) sc(SYS_fchmodat, AT_FDCWD, a, 0600 | (u8() & 077), 0, 0, 0);
        else sc(SYS_utimensat, AT_FDCWD, a, 0, 0, 0, 0);
        break;
      case 3: sc(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, (u8() & 7) ? 0 : u8() % 4, 0); break;
      case 4: sc(SYS_unlinkat, AT_FDCWD, a, 0, 0, 0, 0); break;
      case 5: sc(SYS_linkat, AT_FDCWD, a, AT_FDCWD, b, 0, 0); break;
      case 6: sc(SYS_truncate, a, u8(), 0, 0, 0, 0); break;
      case 7:
        if (u8() & 1) sc(SYS_mkdirat, AT_FDCWD, (uint64_t) "/tmp/w/s", 0777, 0, 0, 0);
        else sc(SYS_unlinkat, AT_FDCWD, (uint64_t) "/tmp/w/s", AT_REMOVEDIR, 0, 0, 0);
        break;
      case 8:
        if (u8() & 1) {
          sc(SYS_renameat2, AT_FDCWD, (uint64_t) "/tmp/w", AT_FDCWD, (uint64_t) "/tmp/w2", 0, 0);
          sc(SYS_renameat2, AT_FDCWD, (uint64_t) "/tmp/w2", AT_FDCWD, (uint64_t) "/tmp/w", 0, 0);
        } else {
          sc(SYS_unlinkat, AT_FDCWD, (uint64_t) "/tmp/w", AT_REMOVEDIR, 0, 0, 0);
          sc(SYS_mkdirat, AT_FDCWD, (uint64_t) "/tmp/w", 0777, 0, 0, 0);
        }
        break;
      default: sc(SYS_symlinkat, (uint64_t) "/tmp/a", AT_FDCWD, a, 0, 0, 0); break;
    }
  }
}

/* Message queue names: mostly one of four. Queues live in one kernel-wide namespace, so the
 * executor only ever creates these and the 255-byte one (main removes all five first); the
 * rest are bad: a slash, empty, "." and "..", too long, unreadable. Never a pointer into the
 * buffer: its bytes would name new queues. */
static char mq_long[2][300]; /* 255 bytes (the longest name) and 299 */
static const char* const mq_names[] = {"fq0", "fq1", "fq2", "fq3"};

static uint64_t mq_name(void) {
  unsigned b = u8();
  if (b < 192) return (uint64_t)mq_names[b % 4];
  switch (b % 8) {
    case 0: return (uint64_t)((b & 8) ? "/fq0" : "fq0/");
    case 1: return (uint64_t) "fq/x";
    case 2: return (uint64_t) "";
    case 3: return (uint64_t)((b & 8) ? "." : "..");
    case 4: return (uint64_t)mq_long[0];
    case 5: return (uint64_t)mq_long[1];
    case 6: return (b & 8) ? HOLE_ADDR + u8() : RO_ADDR; /* unmapped; zeros (an empty name) */
    default: return (b & 8) ? 0 : 0xffff888000000000ULL;
  }
}

/* An absolute CLOCK_REALTIME timeout for mq_timedsend/receive: mostly in the past (a full or
 * empty queue fails at once), up to 2 ms ahead, none (the alarm ends the wait; children have
 * no alarm, they get the past), invalid fields, or unreadable. */
static uint64_t mq_timeout(void) {
  struct timespec* ts = (struct timespec*)(BUF_ADDR + 5248);
  switch (u8() % 8) {
    case 4:
      clock_gettime(CLOCK_REALTIME, ts);
      ts->tv_nsec += u8() * 8000L;
      if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec += 1;
        ts->tv_nsec -= 1000000000L;
      }
      return (uint64_t)ts;
    case 5:
      if (!in_child) return 0;
      ts->tv_sec = 0;
      ts->tv_nsec = 0;
      return (uint64_t)ts;
    case 6:
      ts->tv_sec = (u8() & 1) ? -1 : 0;
      ts->tv_nsec = (u8() & 1) ? 1000000000L : -1;
      return (uint64_t)ts;
    case 7: return ptr();
    default:
      ts->tv_sec = u8() % 2;
      ts->tv_nsec = (long)(u32() % 1000000000u);
      return (uint64_t)ts;
  }
}

/* Classic BPF for seccomp (struct sock_filter / sock_fprog of <linux/filter.h>). */
struct sock_filter {
  uint16_t code;
  uint8_t jt, jf;
  uint32_t k;
};
struct sock_fprog {
  unsigned short len;
  struct sock_filter* filter;
};
#define SECCOMP_RET_ALLOW 0x7fff0000u

/* A filter's action: any of the eight with a small or any data part, rarely any value. */
static uint32_t seccomp_action(void) {
  static const uint32_t acts[] = {
      SECCOMP_RET_ALLOW,   0x00050000 /* ERRNO */, 0x00030000 /* TRAP */,  0x80000000 /* KILL_PROCESS */,
      0 /* KILL_THREAD */, 0x7ffc0000 /* LOG */,   0x7ff00000 /* TRACE */, 0x7fc00000 /* USER_NOTIF */};
  unsigned b = u8();
  if (b == 0xff) return u32();
  return acts[b % 8] | ((b & 0x80) ? (u32() & 0xffff) : u8() % 8);
}

/* Writes a seccomp program at `p` (at most 17 instructions) and returns its length: mostly a
 * valid one (the architecture checked or not; the call number compared, then maybe an
 * argument; a fuzzed action for a match, ALLOW mostly otherwise), or instructions from the
 * opcodes seccomp takes (and some it refuses) with fuzzed operands, or any bytes. */
static unsigned bpf_program(struct sock_filter* p) {
  static const uint16_t codes[] = {
      0x20, 0x80, 0x81, 0x00, 0x01, 0x60, 0x61, 0x02, 0x03,             /* loads, stores */
      0x04, 0x0c, 0x14, 0x1c, 0x24, 0x2c, 0x34, 0x3c, 0x44, 0x4c, 0x54, /* ALU */
      0x5c, 0x64, 0x6c, 0x74, 0x7c, 0x84, 0xa4, 0xac, 0x07, 0x87,       /* ALU, tax, txa */
      0x05, 0x15, 0x1d, 0x25, 0x2d, 0x35, 0x3d, 0x45, 0x4d,             /* jumps */
      0x06, 0x16,                                                       /* returns */
      0x28, 0x30, 0x40, 0x94, 0xb1,                                     /* refused by seccomp */
  };
  static const uint32_t nrs[] = {SYS_getppid, SYS_getpid, SYS_uname,      SYS_gettid,
                                 SYS_write,   SYS_openat, SYS_exit_group, SYS_prctl};
  unsigned n = 0;
  switch (u8() % 4) {
    case 0:
    case 1: {
      uint32_t nr = (u8() & 7) ? nrs[u8() % 8] : (u8() & 1) ? u8() : u32();
      if (u8() & 1) {
        p[n++] = (struct sock_filter){0x20, 0, 0, 4};          /* ld [arch] */
        p[n++] = (struct sock_filter){0x15, 1, 0, 0xc000003e}; /* jeq AUDIT_ARCH_X86_64 */
        p[n++] = (struct sock_filter){0x06, 0, 0, 0x80000000}; /* ret KILL_PROCESS */
      }
      p[n++] = (struct sock_filter){0x20, 0, 0, 0}; /* ld [nr] */
      if (u8() & 1) {
        p[n++] = (struct sock_filter){0x15, 0, 1, nr}; /* jeq nr */
      } else {
        p[n++] = (struct sock_filter){0x15, 0, 3, nr}; /* jeq nr, then args[i] */
        p[n++] = (struct sock_filter){0x20, 0, 0, 16 + 8 * (u8() % 6)};
        p[n++] = (struct sock_filter){(u8() & 1) ? 0x45 : 0x25, 0, 1, u8()}; /* jset / jgt */
      }
      p[n++] = (struct sock_filter){0x06, 0, 0, seccomp_action()};
      p[n++] = (struct sock_filter){0x06, 0, 0, (u8() & 7) ? SECCOMP_RET_ALLOW : seccomp_action()};
      break;
    }
    case 2: {
      for (unsigned i = 1 + u8() % 16; i > 0; --i) {
        uint16_t code = (u8() & 15) ? codes[u8() % (sizeof codes / sizeof codes[0])] : (uint16_t)u32();
        uint32_t k;
        switch (code) {
          case 0x20:
            k = (u8() & 7) ? (u8() % 16) * 4 : u32();
            break; /* seccomp_data: 64 bytes */
          // clang-format off
          case 0x60: case 0x61: case 0x02: case 0x03: k = u8() % 17; break; /* 16 words */
          case 0x06: k = seccomp_action(); break;
          case 0x05: k = (u8() & 7) ? u8() % 4 : u32(); break;
          // clang-format on
          default: k = (u8() & 1) ? u8() % 40 : u32(); break;
        }
        uint8_t jt = (uint8_t)((u8() & 7) ? u8() % 4 : u8());
        uint8_t jf = (uint8_t)((u8() & 7) ? u8() % 4 : u8());
        p[n++] = (struct sock_filter){code, jt, jf, k};
      }
      if (u8() & 3) p[n++] = (struct sock_filter){0x06, 0, 0, (u8() & 3) ? SECCOMP_RET_ALLOW : seccomp_action()};
      break;
    }
    default:
      for (unsigned i = u8() % 8; i > 0; --i) {
        uint32_t c = u32();
        p[n++] = (struct sock_filter){(uint16_t)c, (uint8_t)(c >> 16), (uint8_t)(c >> 24), u32()};
      }
      break;
  }
  return n;
}

static void one_call(void) {
  unsigned op = u8();
  long r;
  switch (op % 59) {
    case 0: keep_fd(sc(SYS_openat, fd(), path(), flags(0x3ffff | O_TMPFILE), 0777 & u32(), 0, 0)); break;
    case 1: sc(SYS_close, fd(), 0, 0, 0, 0, 0); break;
    case 2: sc(SYS_read, fd(), ptr(), len(), 0, 0, 0); break;
    case 3: sc(SYS_write, fd(), ptr(), len(), 0, 0, 0); break;
    case 4: sc((u8() & 1) ? SYS_pread64 : SYS_pwrite64, fd(), ptr(), len(), u64(), 0, 0); break;
    case 5: sc(SYS_lseek, fd(), u64(), u8() % 6, 0, 0, 0); break;
    case 6: keep_fd(sc(SYS_dup3, fd(), fd() % 64, flags(O_CLOEXEC), 0, 0, 0)); break;
    case 7: keep_fd(sc(SYS_dup, fd(), 0, 0, 0, 0, 0)); break;
    case 8: {
      int* p = (int*)(BUF_ADDR + 128);
      uint64_t where = (u8() & 7) == 0 ? ptr() : (uint64_t)p;
      if (sc(SYS_pipe2, where, flags(O_CLOEXEC | O_NONBLOCK | O_DIRECT), 0, 0, 0, 0) == 0 && where == (uint64_t)p) {
        keep_fd(p[0]);
        keep_fd(p[1]);
      }
      break;
    }
    case 9: sc(SYS_mkdirat, fd(), path(), u32() & 0777, 0, 0, 0); break;
    case 10: sc(SYS_unlinkat, fd(), path(), flags(AT_REMOVEDIR), 0, 0, 0); break;
    case 11: sc(SYS_renameat2, fd(), path(), fd(), path(), flags(7), 0); break;
    case 12: sc(SYS_symlinkat, path(), fd(), path(), 0, 0, 0); break;
    case 13: sc(SYS_linkat, fd(), path(), fd(), path(), flags(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH), 0); break;
    case 14: sc(SYS_readlinkat, fd(), path(), ptr(), len(), 0, 0); break;
    case 15:
      sc(SYS_newfstatat, fd(), path(), ptr(), flags(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT), 0, 0);
      break;
    case 16: sc(SYS_getdents64, fd(), ptr(), len(), 0, 0, 0); break;
    case 17:
      sc((u8() & 1) ? SYS_ftruncate : SYS_truncate, (u8() & 1) ? (uint64_t)fd() : path(), u64() % (1 << 24), 0, 0, 0,
         0);
      break;
    case 18: {
      // clang-format off
      static const int cmds[] = {F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_GETLK, F_SETLK,
                                 F_SETLKW, F_DUPFD_CLOEXEC, F_GETPIPE_SZ, F_SETPIPE_SZ, 12345,
                                 1033 /* F_ADD_SEALS */, 1034 /* F_GET_SEALS */};
      // clang-format on
      unsigned c = u8() % (sizeof cmds / sizeof cmds[0]);
      uint64_t arg = (cmds[c] == F_GETLK || cmds[c] == F_SETLK || cmds[c] == F_SETLKW) ? ptr() : u64();
      keep_fd(sc(SYS_fcntl, fd(), cmds[c], arg, 0, 0, 0));
      break;
    }
    case 19: sc(SYS_flock, fd(), flags(LOCK_SH | LOCK_EX | LOCK_UN | LOCK_NB), 0, 0, 0, 0); break;
    case 20: {
      uint64_t addr = (u8() & 1) ? 0 : 0x30000000UL + (u8() << 12);
      sc(SYS_mmap, addr, len() % (1 << 22), flags(7),
         flags(MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_GROWSDOWN | MAP_NORESERVE | MAP_POPULATE |
               MAP_FIXED_NOREPLACE),
         (u8() & 1) ? (uint64_t)-1 : (uint64_t)fd(), (u64() % 16) << 12);
      break;
    }
    case 21: {
      uint64_t a = 0x30000000UL + (u8() << 12);
      switch (u8() % 5) {
        case 0: sc(SYS_munmap, a, len(), 0, 0, 0, 0); break;
        case 1: sc(SYS_mprotect, a, len(), flags(7), 0, 0, 0); break;
        case 2: sc(SYS_mremap, a, len() % (1 << 22), len() % (1 << 22), flags(3), 0x38000000UL, 0); break;
        case 3: sc(SYS_madvise, a, len(), u8() % 24, 0, 0, 0); break;
        default: sc(SYS_msync, a, len(), flags(7), 0, 0, 0); break;
      }
      break;
    }
    case 22: sc(SYS_brk, (u8() & 1) ? 0 : sc(SYS_brk, 0, 0, 0, 0, 0, 0) + (int32_t)u32(), 0, 0, 0, 0, 0); break;
    case 23: {
      int sig = u8() % 66;
      if (sig == SIGALRM) break; /* keep the timeout working */
      sc(SYS_rt_sigaction, sig, ptr(), ptr(), (u8() & 7) ? 8 : len(), 0, 0);
      break;
    }
    case 24: sc(SYS_rt_sigprocmask, u8() % 4, ptr(), ptr(), (u8() & 7) ? 8 : len(), 0, 0); break;
    case 25: {
      int sig = u8() % 66;
      if (sig == SIGKILL || sig == SIGSTOP) sig = SIGUSR1;
      sc(SYS_kill, (u8() & 1) ? getpid() : 0, sig, 0, 0, 0, 0);
      break;
    }
    case 26: {
      struct timespec* ts = (struct timespec*)(BUF_ADDR + 256);
      ts->tv_sec = 0;
      ts->tv_nsec = 1000;
      uint64_t t = (u8() & 3) ? (uint64_t)ts : ptr();
      sc(SYS_futex, ptr(), u8() % 14 | (u8() & 0x80), u32(), t, ptr(), u32());
      break;
    }
    case 27: {
      struct pollfd* p = (struct pollfd*)(BUF_ADDR + 512);
      unsigned n = u8() % 8;
      for (unsigned i = 0; i < n; ++i) {
        p[i].fd = (int)fd();
        p[i].events = (short)u32();
      }
      sc(SYS_poll, (u8() & 7) ? (uint64_t)p : ptr(), (u8() & 7) ? n : len(), 0, 0, 0, 0);
      break;
    }
    case 28: {
      struct timeval* tv = (struct timeval*)(BUF_ADDR + 1024);
      tv->tv_sec = 0;
      tv->tv_usec = 0;
      sc(SYS_select, u8() % 1100, ptr(), ptr(), ptr(), (u8() & 3) ? (uint64_t)tv : ptr(), 0);
      break;
    }
    case 29: keep_fd(sc(SYS_epoll_create1, flags(EPOLL_CLOEXEC), 0, 0, 0, 0, 0)); break;
    case 30: {
      struct epoll_event* e = (struct epoll_event*)(BUF_ADDR + 2048);
      e->events = u32();
      e->data.u64 = u64();
      sc(SYS_epoll_ctl, fd(), u8() % 5, fd(), (u8() & 7) ? (uint64_t)e : ptr(), 0, 0);
      break;
    }
    case 31: sc(SYS_epoll_wait, fd(), ptr(), (int)(u8() % 70) - 2, 0, 0, 0); break;
    case 32: keep_fd(sc(SYS_eventfd2, u32(), flags(EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE), 0, 0, 0, 0)); break;
    case 33: {
      if (in_child || forks++ >= 8) break; /* no fork bombs: a few children per input */
      r = fork();
      if (r == 0) run_child();
      break;
    }
    case 34:
      sc(SYS_wait4, (u8() & 1) ? -1 : (long)(int32_t)u32(), ptr(),
         flags(WNOHANG | WUNTRACED | WCONTINUED | __WALL | __WCLONE) | WNOHANG, ptr(), 0, 0);
      break;
    case 35: {
      /* exec of a (mostly) malformed image, in a child: the next bytes are the file. */
      unsigned n = u8() * 8;
      if (n > prog_len - pos) n = (unsigned)(prog_len - pos);
      exec_written("/tmp/e", prog + pos, n);
      pos += n;
      break;
    }
    case 36: sc((u8() & 1) ? SYS_chdir : SYS_getcwd, (u8() & 1) ? path() : ptr(), len(), 0, 0, 0, 0); break;
    case 37: {
      static const unsigned long reqs[] = {TCGETS,    TCSETS,    TIOCGWINSZ, TIOCSWINSZ, FIONREAD,   FIONBIO,
                                           TIOCGPGRP, TIOCSPGRP, TIOCSCTTY,  FIOCLEX,    0x5401 + 77};
      sc(SYS_ioctl, fd(), reqs[u8() % (sizeof reqs / sizeof reqs[0])], ptr(), 0, 0, 0);
      break;
    }
    case 38: sc(SYS_getrandom, ptr(), len() % 100000, flags(7), 0, 0, 0); break;
    case 39: {
      /* exec of a dynamic program, in a child: a small ELF whose PT_INTERP names /tmp/e (the
       * file op 35 writes from input bytes), a missing file, a directory, this program (static)
       * or /dev/null, with a few of its bytes changed. */
      static const char* const interps[] = {"/tmp/e", "/nonexistent/ld.so", "/tmp", "/prog", "/dev/null"};
      unsigned char img[512];
      memset(img, 0, sizeof img);
      const char* interp = interps[u8() % 5];
      uint64_t base = 0x400000, isz = strlen(interp) + 1;
      img[0] = 0x7f;
      img[1] = 'E';
      img[2] = 'L';
      img[3] = 'F';
      img[4] = 2;
      img[5] = 1;
      img[6] = 1;
      uint16_t h16[] = {2 /* ET_EXEC */, 62 /* x86-64 */};
      memcpy(img + 16, h16, sizeof h16);
      uint32_t version = 1;
      memcpy(img + 20, &version, 4);
      uint64_t entry = base + 256, phoff = 64;
      memcpy(img + 24, &entry, 8);
      memcpy(img + 32, &phoff, 8);
      uint16_t h16b[] = {64, 56, 2}; /* ehsize, phentsize, phnum */
      memcpy(img + 52, h16b, sizeof h16b);
      /* PT_INTERP: the path at offset 200; PT_LOAD: the whole file, read and execute. */
      uint32_t t_interp[2] = {3, 4};
      uint64_t p_interp[6] = {200, base + 200, base + 200, isz, isz, 1};
      uint32_t t_load[2] = {1, 5};
      uint64_t p_load[6] = {0, base, base, sizeof img, sizeof img, 4096};
      memcpy(img + 64, t_interp, 8);
      memcpy(img + 72, p_interp, 48);
      memcpy(img + 120, t_load, 8);
      memcpy(img + 128, p_load, 48);
      memcpy(img + 200, interp, isz);
      img[256] = 0x0f;
      img[257] = 0x0b; /* ud2 */
      for (unsigned k = u8() % 4; k > 0; --k) img[u8() % sizeof img] = (unsigned char)u8();
      exec_written("/tmp/d", img, sizeof img);
      break;
    }
    case 41: {
      /* AF_UNIX sockets and pairs of every type (and some bad families/types/flags). */
      static const int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_RAW, 0, 11};
      int type = types[u8() % 6] | (int)flags(SOCK_NONBLOCK | SOCK_CLOEXEC);
      unsigned fam = u8() % 8;
      int family = fam < 4 ? AF_UNIX : fam < 6 ? AF_INET : fam == 6 ? AF_INET6 : (int)(u8() % 50);
      if (u8() & 1) {
        long s = sc(SYS_socket, family, type, (u8() & 7) ? 0 : u8(), 0, 0, 0);
        keep_fd(s);
        if (family == 16 /* AF_NETLINK */ && s >= 0) {
          /* rtnetlink requests: a few messages of likely types and flags, fuzzed bodies and
           * lengths, then the replies read back. */
          static const unsigned short types[] = {18, 22, 26, 16, 20, 24, 1, 2, 3, 0x7e, 0x80};
          static const unsigned short fl[] = {0x301, 0x1, 0x5, 0x305};
          unsigned char msg[512];
          size_t at = 0;
          for (int i = 1 + u8() % 3; i > 0 && at + 16 <= sizeof msg; --i) {
            size_t body = u8() % 64;
            if (at + 16 + body > sizeof msg) body = sizeof msg - at - 16;
            uint32_t mlen = (u8() & 7) ? (uint32_t)(16 + body) : u32();
            unsigned short t = (u8() & 7) ? types[u8() % 11] : (unsigned short)u32();
            unsigned short f = (u8() & 7) ? fl[u8() % 4] : (unsigned short)u32();
            uint32_t seq = u8();
            memcpy(msg + at, &mlen, 4);
            memcpy(msg + at + 4, &t, 2);
            memcpy(msg + at + 6, &f, 2);
            memcpy(msg + at + 8, &seq, 4);
            memset(msg + at + 12, 0, 4);
            for (size_t k = 0; k < body; ++k) msg[at + 16 + k] = (unsigned char)u8();
            at += (16 + body + 3) & ~(size_t)3;
          }
          sc(SYS_sendto, s, (uint64_t)msg, at > sizeof msg ? sizeof msg : at, MSG_DONTWAIT, 0, 0);
          for (int i = 0; i < 4; ++i) sc(SYS_recvfrom, s, BUF_ADDR, (u8() & 1) ? 16 : 4096, MSG_DONTWAIT, 0, 0);
        }
      } else {
        int sv[2] = {-1, -1};
        uint64_t where = (u8() & 7) ? (uint64_t)sv : ptr();
        if (sc(SYS_socketpair, family, type, 0, where, 0, 0) == 0 && where == (uint64_t)sv) {
          keep_fd(sv[0]);
          keep_fd(sv[1]);
        }
      }
      break;
    }
    case 42: {
      /* bind / connect / sendto addresses: paths (some existing files), abstract names, automatic
       * binding, bad families and lengths. */
      static const char* const names[] = {"/tmp/s1", "/tmp/s2", "/tmp/a", "/tmp/d", "/tmp/fifo", "/nonexist/s"};
      struct sockaddr_un a;
      memset(&a, 0, sizeof a);
      a.sun_family = (u8() & 15) ? AF_UNIX : (sa_family_t)u8();
      unsigned k = u8();
      uint64_t alen;
      if (k % 4 == 0) {
        alen = 2; /* autobind */
      } else if (k % 4 == 1) {
        a.sun_path[1] = (char)('a' + u8() % 3);
        alen = 2 + 1 + 1 + u8() % 3;
      } else {
        strcpy(a.sun_path, names[u8() % 6]);
        alen = (k & 0x80) ? len() : sizeof a;
      }
      uint64_t addr = (u8() & 15) ? (uint64_t)&a : ptr();
      struct sockaddr_in in;
      struct sockaddr_in6 in6;
      if ((k & 0x40) && (u8() & 3) == 0) {
        /* IPv6: loopback, any, IPv4-mapped loopback, link-local (with and without a scope),
         * multicast, an outside one; the same few ports. */
        static const char* const ips6[] = {"::1", "::", "::ffff:127.0.0.1", "fe80::1", "ff02::1", "2001:db8::1"};
        memset(&in6, 0, sizeof in6);
        in6.sin6_family = (u8() & 15) ? AF_INET6 : (sa_family_t)u8();
        in6.sin6_port = (uint16_t)__builtin_bswap16((uint16_t)(40000 + u8() % 4));
        if (u8() == 0) in6.sin6_port = 0;
        inet_pton(AF_INET6, ips6[u8() % 6], &in6.sin6_addr);
        in6.sin6_scope_id = u8() % 3;
        addr = (u8() & 15) ? (uint64_t)&in6 : ptr();
        alen = (k & 0x20) ? len() % 40 : ((u8() & 3) ? sizeof in6 : 24);
      } else if (k & 0x40) {
        /* IPv4: loopback addresses, any, an outside one; fuzzed ports (few, so they meet). */
        static const uint32_t ips[] = {0x7f000001, 0, 0x7f000002, 0xcb007101, 0xffffffff};
        memset(&in, 0, sizeof in);
        in.sin_family = (u8() & 15) ? AF_INET : (sa_family_t)u8();
        in.sin_port = (uint16_t)__builtin_bswap16((uint16_t)(40000 + u8() % 4));
        if (u8() == 0) in.sin_port = 0;
        in.sin_addr.s_addr = __builtin_bswap32(ips[u8() % 5]);
        addr = (u8() & 15) ? (uint64_t)&in : ptr();
        alen = (k & 0x20) ? len() % 40 : sizeof in;
      }
      switch (u8() % 3) {
        case 0: sc(SYS_bind, fd(), addr, alen, 0, 0, 0); break;
        case 1: sc(SYS_connect, fd(), addr, alen, 0, 0, 0); break;
        default:
          sc(SYS_sendto, fd(), ptr(), len() % 300000, flags(MSG_DONTWAIT | MSG_NOSIGNAL | MSG_OOB | MSG_EOR), addr,
             alen);
          break;
      }
      break;
    }
    case 43: {
      socklen_t l = (socklen_t)(u8() % 120);
      uint64_t lp = (u8() & 7) ? (uint64_t)&l : ptr();
      switch (u8() % 5) {
        case 0: sc(SYS_listen, fd(), (int32_t)u32() % 8, 0, 0, 0, 0); break;
        case 1:
          keep_fd(sc(SYS_accept4, fd(), ptr(), lp, flags(SOCK_NONBLOCK | SOCK_CLOEXEC) | SOCK_NONBLOCK, 0, 0));
          break;
        case 2: sc((u8() & 1) ? SYS_getsockname : SYS_getpeername, fd(), ptr(), lp, 0, 0, 0); break;
        case 3: sc(SYS_shutdown, fd(), u8() % 4, 0, 0, 0, 0); break;
        default:
          sc(SYS_recvfrom, fd(), ptr(), len() % 300000,
             flags(MSG_PEEK | MSG_TRUNC | MSG_WAITALL | MSG_OOB) | MSG_DONTWAIT, ptr(), lp);
          break;
      }
      break;
    }
    case 44: {
      /* sendmsg with SCM_RIGHTS (often the socket itself: cycles for the collector) and
       * SCM_CREDENTIALS, or a mangled control buffer. */
      char ctl[CMSG_SPACE(sizeof(int) * 4) + CMSG_SPACE(sizeof(struct ucred))];
      memset(ctl, 0, sizeof ctl);
      struct iovec iov = {(void*)ptr(), len() % 70000};
      struct msghdr m;
      memset(&m, 0, sizeof m);
      m.msg_iov = &iov;
      m.msg_iovlen = (u8() & 7) ? 1 : u8();
      m.msg_control = ctl;
      long s = fd();
      struct cmsghdr* c = (struct cmsghdr*)ctl;
      int n = 1 + u8() % 4;
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * n);
      for (int i = 0; i < n; ++i) {
        int f = (u8() & 1) ? (int)s : (int)fd();
        memcpy(CMSG_DATA(c) + i * sizeof(int), &f, sizeof f);
      }
      size_t used = CMSG_SPACE(sizeof(int) * n);
      if (u8() & 1) {
        struct cmsghdr* d = (struct cmsghdr*)(ctl + used);
        d->cmsg_level = SOL_SOCKET;
        d->cmsg_type = SCM_CREDENTIALS;
        d->cmsg_len = CMSG_LEN(sizeof(struct ucred));
        struct ucred u = {getpid(), (u8() & 1) ? getuid() : u32(), getgid()};
        memcpy(CMSG_DATA(d), &u, sizeof u);
        used += CMSG_SPACE(sizeof(struct ucred));
      }
      m.msg_controllen = (u8() & 7) ? used : len();
      if (u8() == 0xff) ctl[u8() % sizeof ctl] = (char)u8();
      sc(SYS_sendmsg, s, (u8() & 15) ? (uint64_t)&m : ptr(), flags(MSG_DONTWAIT | MSG_NOSIGNAL) | MSG_DONTWAIT, 0, 0,
         0);
      break;
    }
    case 45: {
      /* recvmsg / recvmmsg with control buffers of any size (descriptors land in our table). */
      char ctl[128];
      char data[256];
      struct iovec iov = {(u8() & 3) ? data : (void*)ptr(), u8()};
      struct mmsghdr mm[2];
      memset(mm, 0, sizeof mm);
      for (int i = 0; i < 2; ++i) {
        mm[i].msg_hdr.msg_iov = &iov;
        mm[i].msg_hdr.msg_iovlen = 1;
        mm[i].msg_hdr.msg_control = (u8() & 7) ? ctl : (void*)ptr();
        mm[i].msg_hdr.msg_controllen = u8() % 140;
        mm[i].msg_hdr.msg_name = data;
        mm[i].msg_hdr.msg_namelen = u8();
      }
      long s = fd();
      uint64_t fl = flags(MSG_PEEK | MSG_TRUNC | MSG_CMSG_CLOEXEC | MSG_WAITFORONE) | MSG_DONTWAIT;
      if (u8() & 1) {
        sc(SYS_recvmsg, s, (uint64_t)&mm[0].msg_hdr, fl, 0, 0, 0);
      } else {
        sc(SYS_recvmmsg, s, (uint64_t)mm, u8() % 3, fl, 0, 0);
      }
      /* Received descriptors become fuzzing targets too. */
      for (struct cmsghdr* c = CMSG_FIRSTHDR(&mm[0].msg_hdr); c && mm[0].msg_hdr.msg_control == ctl;
           c = CMSG_NXTHDR(&mm[0].msg_hdr, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
          int f;
          memcpy(&f, CMSG_DATA(c), sizeof f);
          keep_fd(f);
        }
      }
      break;
    }
    case 46: {
      /* Socket options: every SOL_SOCKET name up to 70; IP, TCP, UDP, IPv6 and other levels;
       * odd lengths. */
      static const int levels[] = {SOL_IP, IPPROTO_TCP, IPPROTO_UDP, SOL_IPV6, 270 /* SOL_NETLINK */};
      unsigned lv = u8();
      int level = (lv & 7) ? SOL_SOCKET : (lv & 8) ? levels[u8() % 5] : (int)(u8() % 300);
      int name = (int)(u8() % 70);
      char val[32];
      memset(val, 0, sizeof val);
      for (int i = 0; i < 16; ++i) val[i] = (char)u8();
      socklen_t l = (socklen_t)(u8() % 40);
      if (u8() & 1) {
        sc(SYS_setsockopt, fd(), level, name, (u8() & 7) ? (uint64_t)val : ptr(), (u8() & 7) ? l : u32(), 0);
      } else {
        sc(SYS_getsockopt, fd(), level, name, (u8() & 7) ? (uint64_t)val : ptr(), (u8() & 7) ? (uint64_t)&l : ptr(), 0);
      }
      break;
    }
    case 47: {
      /* Timers and signal descriptors: POSIX timers on every clock (signals the executor
       * handles or ignores), timerfd, signalfd, queued signals to itself. */
      static const int sigs[] = {SIGUSR1, SIGALRM, SIGCHLD, SIGURG, SIGWINCH}; /* handled or ignored */
      struct itimerspec* its = (struct itimerspec*)(BUF_ADDR + 3072);
      its->it_value.tv_sec = 0;
      its->it_value.tv_nsec = (long)(u32() % 3000000);
      its->it_interval.tv_sec = 0;
      its->it_interval.tv_nsec = (u8() & 1) ? (long)(u32() % 2000000) : 0;
      if (u8() == 0xff) its->it_value.tv_nsec = (long)u64();
      switch (u8() % 9) {
        case 0: {
          int* ev = (int*)(BUF_ADDR + 3200);
          memset(ev, 0, 64);
          ev[2] = sigs[u8() % 5];                            /* sigev_signo */
          ev[3] = (u8() & 3) ? (int)(u8() % 5) : (int)u32(); /* sigev_notify */
          ev[4] = (u8() & 1) ? getpid() : (int)u32();        /* sigev_notify_thread_id */
          sc(SYS_timer_create, (u8() & 7) ? u8() % 12 : u32(), (u8() & 7) ? (uint64_t)ev : ptr(),
             (u8() & 7) ? BUF_ADDR + 3300 : ptr(), 0, 0, 0);
          break;
        }
        case 1: sc(SYS_timer_settime, u8() % 4, flags(1), (u8() & 7) ? (uint64_t)its : ptr(), ptr(), 0, 0); break;
        case 2: sc((u8() & 1) ? SYS_timer_gettime : SYS_timer_getoverrun, u8() % 4, ptr(), 0, 0, 0, 0); break;
        case 3: sc(SYS_timer_delete, u8() % 4, 0, 0, 0, 0, 0); break;
        case 4: keep_fd(sc(SYS_timerfd_create, u8() % 12, flags(O_CLOEXEC | O_NONBLOCK), 0, 0, 0, 0)); break;
        case 5:
          sc((u8() & 1) ? SYS_timerfd_settime : SYS_timerfd_gettime, fd(), flags(3), (u8() & 7) ? (uint64_t)its : ptr(),
             ptr(), 0, 0);
          break;
        case 6: {
          uint64_t* mask = (uint64_t*)(BUF_ADDR + 3400);
          *mask = u64();
          keep_fd(sc(SYS_signalfd4, (u8() & 1) ? -1 : fd(), (u8() & 7) ? (uint64_t)mask : ptr(), (u8() & 7) ? 8 : len(),
                     flags(O_CLOEXEC | O_NONBLOCK), 0, 0));
          break;
        }
        case 7: {
          siginfo_t* si = (siginfo_t*)(BUF_ADDR + 3500);
          memset(si, 0, sizeof *si);
          si->si_code = (u8() & 1) ? SI_QUEUE : (int)u32();
          int sig = (u8() & 7) ? sigs[u8() % 5] : 0;
          if (u8() & 1) {
            sc(SYS_rt_sigqueueinfo, (u8() & 3) ? getpid() : (long)(int32_t)u32(), sig,
               (u8() & 7) ? (uint64_t)si : ptr(), 0, 0, 0);
          } else {
            sc(SYS_rt_tgsigqueueinfo, getpid(), (u8() & 3) ? sc(SYS_gettid, 0, 0, 0, 0, 0, 0) : (long)(int32_t)u32(),
               sig, (uint64_t)si, 0, 0);
          }
          break;
        }
        default: {
          struct timespec* ts = (struct timespec*)(BUF_ADDR + 3600);
          ts->tv_sec = 0;
          ts->tv_nsec = (long)(u32() % 2000000);
          sc(SYS_epoll_pwait2, fd(), ptr(), (int)(u8() % 8) - 1, (u8() & 3) ? (uint64_t)ts : ptr(), 0, 8);
          break;
        }
      }
      break;
    }
    case 48: {
      /* Moving data and the newer process calls: splice/tee/vmsplice/copy_file_range,
       * preadv2/pwritev2, fallocate, pidfds, clone3 (as fork), scheduling, NUMA policies,
       * names, kcmp and process_vm_readv. */
      uint64_t* off = (uint64_t*)(BUF_ADDR + 3800);
      off[0] = (u8() & 1) ? u8() : u64();
      struct iovec* iov = (struct iovec*)(BUF_ADDR + 3840);
      iov[0].iov_base = (void*)ptr();
      iov[0].iov_len = len() % 70000;
      iov[1].iov_base = (void*)(BUF_ADDR + 100);
      iov[1].iov_len = u8();
      switch (u8() % 12) {
        case 0:
          sc(SYS_splice, fd(), (u8() & 3) ? 0 : (uint64_t)off, fd(), (u8() & 3) ? 0 : (uint64_t)off, len() % 200000,
             flags(15) | 2);
          break;
        case 1: sc(SYS_tee, fd(), fd(), len() % 200000, flags(15) | 2, 0, 0); break;
        case 2: sc(SYS_vmsplice, fd(), (u8() & 7) ? (uint64_t)iov : ptr(), u8() % 3, flags(15) | 2, 0, 0); break;
        case 3:
          sc(SYS_copy_file_range, fd(), (u8() & 1) ? 0 : (uint64_t)off, fd(), (u8() & 1) ? 0 : (uint64_t)off,
             len() % 300000, (u8() & 7) ? 0 : u32());
          break;
        case 4:
          sc((u8() & 1) ? SYS_preadv2 : SYS_pwritev2, fd(), (uint64_t)iov, u8() % 3, (u8() & 1) ? (uint64_t)-1 : u8(),
             0, flags(0x3f));
          break;
        case 5: sc(SYS_fallocate, fd(), flags(0x7f), u64() % (1 << 22), len() % (1 << 22), 0, 0); break;
        case 6: {
          long p = sc(SYS_pidfd_open, (u8() & 3) ? getpid() : (long)(int32_t)u32(), flags(O_NONBLOCK), 0, 0, 0, 0);
          keep_fd(p);
          if (p >= 0 && (u8() & 1)) keep_fd(sc(SYS_pidfd_getfd, p, fd(), 0, 0, 0, 0));
          if (p >= 0 && (u8() & 1)) sc(SYS_pidfd_send_signal, p, (u8() & 1) ? 0 : SIGUSR1, 0, 0, 0, 0);
          break;
        }
        case 7: {
          if (in_child || forks++ >= 8) break;
          uint64_t* ca = (uint64_t*)(BUF_ADDR + 3900);
          memset(ca, 0, 88);
          ca[0] = flags(0x1000 | 0x100000000ULL); /* CLONE_PIDFD, CLONE_CLEAR_SIGHAND */
          ca[1] = BUF_ADDR + 3990;                /* pidfd */
          ca[4] = (u8() & 3) ? SIGCHLD : u8();    /* exit_signal */
          r = sc(SYS_clone3, (uint64_t)ca, (u8() & 7) ? 88 : len(), 0, 0, 0, 0);
          if (r == 0) run_child();
          if (r > 0 && (ca[0] & 0x1000)) keep_fd(*(int*)(BUF_ADDR + 3990));
          break;
        }
        case 8: {
          uint32_t* attr = (uint32_t*)(BUF_ADDR + 4000);
          for (int i = 0; i < 14; ++i) attr[i] = (u8() & 3) ? 0 : u32();
          attr[0] = (u8() & 3) ? 56 : u32();
          attr[1] = u8() % 8;
          switch (u8() % 4) {
            case 0: sc(SYS_sched_setattr, 0, (uint64_t)attr, 0, 0, 0, 0); break;
            case 1:
              sc(SYS_sched_getattr, 0, (u8() & 7) ? (uint64_t)attr : ptr(), (u8() & 3) ? 56 : len(), 0, 0, 0);
              break;
            case 2: sc(SYS_sched_setscheduler, 0, u8() % 8, (uint64_t)attr + 12, 0, 0, 0); break;
            default: sc(SYS_ioprio_set, 1, 0, u32() & 0xffff, 0, 0, 0); break;
          }
          sc(SYS_sched_setscheduler, 0, SCHED_OTHER, (uint64_t) & (int){0}, 0, 0, 0);
          break;
        }
        case 9: {
          uint64_t* nodes = (uint64_t*)(BUF_ADDR + 4100);
          nodes[0] = u64() & 7;
          if (u8() & 1) {
            sc(SYS_set_mempolicy, u32() % 8 | (uint32_t)flags(7 << 13), (uint64_t)nodes, len() % 130, 0, 0, 0);
          } else {
            sc(SYS_mbind, BUF_ADDR + (u8() % 16) * 4096, len() % 70000, u8() % 8, (uint64_t)nodes, len() % 130,
               flags(7));
          }
          sc(SYS_get_mempolicy, BUF_ADDR + 4200, ptr(), len() % 130, ptr(), flags(7), 0);
          break;
        }
        case 10: sc(SYS_kcmp, getpid(), (u8() & 3) ? getpid() : (long)(int32_t)u32(), u8() % 9, fd(), fd(), 0); break;
        default: {
          struct iovec* remote = (struct iovec*)(BUF_ADDR + 4300);
          remote[0].iov_base = (void*)ptr();
          remote[0].iov_len = len() % 70000;
          sc((u8() & 1) ? SYS_process_vm_readv : SYS_process_vm_writev, getpid(), (uint64_t)iov, u8() % 3,
             (uint64_t)remote, u8() % 2, (u8() & 7) ? 0 : u32());
          if (u8() == 0xff) sc(SYS_unshare, flags(0x04000000 | 0x400 | 0x200), 0, 0, 0, 0, 0);
          if (u8() == 0xff) sc(SYS_sethostname, ptr(), u8() % 70, 0, 0, 0, 0);
          if (u8() >= 0xf0)
            keep_fd(sc(SYS_memfd_create, (u8() & 3) ? (uint64_t) "memfd" : ptr(), flags(7), 0, 0, 0, 0));
          break;
        }
      }
      break;
    }
    case 49: {
      /* System V IPC: a few keys and private objects, every command, blocking calls with
       * IPC_NOWAIT mostly (the 5 ms alarm ends the others), shared memory attached anywhere. */
      static const int keys[] = {0, 0x1234, 0x5678, -1};
      int key = keys[u8() % 4];
      int flg = (int)flags(01000 | 02000 | 0777);
      long id = (u8() & 3) ? (long)(u8() % 4) : (long)(int32_t)u32();
      unsigned short* arr = (unsigned short*)(BUF_ADDR + 4400);
      for (int i = 0; i < 8; ++i) arr[i] = (unsigned short)u8();
      switch (u8() % 12) {
        case 0: sc(SYS_semget, key, (u8() & 7) ? u8() % 8 : u32(), flg | 0600, 0, 0, 0); break;
        case 1: {
          short* ops = (short*)(BUF_ADDR + 4500);
          int n = u8() % 4;
          for (int i = 0; i < 3 * n; i += 3) {
            ops[i] = (short)(u8() % 9);
            ops[i + 1] = (short)((int)(u8() % 7) - 3);
            ops[i + 2] = (short)((u8() & 3) ? 04000 | ((u8() & 1) ? 0x1000 : 0) : (int)flags(0x1800));
          }
          sc((u8() & 1) ? SYS_semop : SYS_semtimedop, id, (u8() & 7) ? BUF_ADDR + 4500 : ptr(), (u8() & 7) ? n : len(),
             BUF_ADDR + 3600, 0, 0);
          break;
        }
        case 2:
          sc(SYS_semctl, id, u8() % 9, u8() % 22 | ((u8() & 1) ? 0x100 : 0), (u8() & 3) ? BUF_ADDR + 4400 : u8(), 0, 0);
          break;
        case 3: sc(SYS_msgget, key, flg | 0600, 0, 0, 0, 0); break;
        case 4: {
          long* m = (long*)(BUF_ADDR + 4600);
          m[0] = (u8() & 7) ? (long)(u8() % 4) : (long)u64();
          sc(SYS_msgsnd, id, (u8() & 7) ? (uint64_t)m : ptr(), len() % 9000, flags(04000) | 04000, 0, 0);
          break;
        }
        case 5:
          sc(SYS_msgrcv, id, (u8() & 7) ? BUF_ADDR + 4600 : ptr(), len() % 9000, (long)(int8_t)u8(),
             flags(04000 | 010000 | 020000 | 040000) | 04000, 0);
          break;
        case 6:
          sc(SYS_msgctl, id, u8() % 14 | ((u8() & 1) ? 0x100 : 0), (u8() & 3) ? BUF_ADDR + 4700 : ptr(), 0, 0, 0);
          break;
        case 7: sc(SYS_shmget, key, (u8() & 7) ? (u8() + 1) * 512 : len(), flg | 0600, 0, 0, 0); break;
        case 8: {
          uint64_t at = (u8() & 3) ? 0 : ((u8() & 1) ? 0x7e0000000000ULL + u8() : ptr());
          sc(SYS_shmat, id, at, flags(010000 | 020000 | 040000 | 0100000), 0, 0, 0);
          break;
        }
        case 9: sc(SYS_shmdt, (u8() & 1) ? 0x7e0000000000ULL : ptr(), 0, 0, 0, 0, 0); break;
        case 10:
          sc(SYS_shmctl, id, u8() % 16 | ((u8() & 1) ? 0x100 : 0), (u8() & 3) ? BUF_ADDR + 4700 : ptr(), 0, 0, 0);
          break;
        default: {
          int p = open((u8() & 1) ? "/proc/sysvipc/shm" : "/proc/sysvipc/sem", O_RDONLY);
          if (p >= 0) {
            sc(SYS_read, p, BUF_ADDR + 8192, 4096, 0, 0, 0);
            close(p);
          }
          break;
        }
      }
      break;
    }
    case 50: {
      /* inotify: instances (inotify_init, inotify_init1 mostly nonblocking), watches on files,
       * directories, a symlink (followed or not), a loop, a FIFO, missing paths and bad
       * pointers with event masks and IN_ONESHOT/MASK_ADD/MASK_CREATE/ONLYDIR/DONT_FOLLOW/
       * EXCL_UNLINK, watches removed, events read back with short or bad buffers, FIONREAD;
       * the calls that make events (inotify_events), alone or after a fresh watch on /tmp/w. */
      static const char* const wpaths[] = {
          "/tmp/w",      "/tmp/w/f", "/tmp/w/g",          "/tmp/w/s",  "/tmp",   "/",
          "/tmp/a",      "/tmp/l",   "/tmp/loop",         "/tmp/fifo", "/tmp/d", "/tmp/w/missing",
          "/nonexist/x", "",         "/proc/self/status", "/dev/null"};
      const uint64_t wflags = IN_ONESHOT | IN_MASK_ADD | IN_MASK_CREATE | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK;
      long ifd = (ino_fd >= 0 && (u8() & 3)) ? ino_fd : fd();
      switch (u8() % 8) {
        case 0: {
          uint64_t fl = flags(IN_NONBLOCK | IN_CLOEXEC) | ((u8() & 7) ? IN_NONBLOCK : 0);
          r = (u8() & 7) ? sc(SYS_inotify_init1, fl, 0, 0, 0, 0, 0) : sc(SYS_inotify_init, 0, 0, 0, 0, 0, 0);
          keep_fd(r);
          if (r >= 0) ino_fd = r;
          break;
        }
        case 1: {
          unsigned k = u8() % 20;
          uint64_t p = k < 16 ? (uint64_t)wpaths[k] : k < 18 ? path() : ptr();
          uint64_t m = (u8() & 3) ? flags(IN_ALL_EVENTS) : IN_ALL_EVENTS;
          if (u8() & 1) m |= flags(wflags) & flags(wflags); /* each flag one time in four */
          sc(SYS_inotify_add_watch, ifd, p, m, 0, 0, 0);
          break;
        }
        case 2: sc(SYS_inotify_rm_watch, ifd, (u8() & 7) ? u8() % 8 : (long)(int32_t)u32(), 0, 0, 0, 0); break;
        case 3: {
          /* Buffers shorter than an event (16 bytes and the name), exact, bad. */
          static const uint64_t sizes[] = {0, 1, 15, 16, 17, 32, 48, 272, 4096};
          uint64_t n = (u8() & 7) ? sizes[u8() % 9] : len();
          sc(SYS_read, ifd, (u8() & 7) ? BUF_ADDR + 8192 : ptr(), n, 0, 0, 0);
          break;
        }
        case 4: {
          static const unsigned long reqs[] = {FIONREAD, 0x40044900 /* INOTIFY_IOC_SETNEXTWD */, FIONBIO, FIOCLEX,
                                               TCGETS};
          unsigned long req = (u8() & 3) ? FIONREAD : reqs[u8() % 5];
          int* v = (int*)(BUF_ADDR + 5000);
          *v = (int)(u8() % 2);
          uint64_t arg = req == 0x40044900 ? u8() % 16 : (u8() & 7) ? (uint64_t)v : ptr();
          sc(SYS_ioctl, ifd, req, arg, 0, 0, 0);
          break;
        }
        // clang-format off
        case 5: case 6: inotify_events(); break;
        // clang-format on
        default: {
          if (ino_fd < 0 || (u8() & 3) == 0) {
            r = sc(SYS_inotify_init1, IN_NONBLOCK | flags(IN_CLOEXEC), 0, 0, 0, 0, 0);
            keep_fd(r);
            if (r >= 0) ino_fd = r;
          }
          sc(SYS_inotify_add_watch, ino_fd, (uint64_t) "/tmp/w", IN_ALL_EVENTS | ((u8() & 3) ? 0 : flags(wflags)), 0, 0,
             0);
          if (u8() & 1)
            sc(SYS_inotify_add_watch, ino_fd, (uint64_t) "/tmp/w/f", IN_ALL_EVENTS | flags(IN_ONESHOT | IN_EXCL_UNLINK),
               0, 0, 0);
          inotify_events();
          sc(SYS_read, ino_fd, BUF_ADDR + 8192, (u8() & 3) ? 4096 : u8(), 0, 0, 0);
          if ((u8() & 7) == 0) {
            sc(SYS_close, ino_fd, 0, 0, 0, 0, 0); /* the watches go with it */
            ino_fd = -1;
          }
          break;
        }
      }
      break;
    }
    case 51: {
      /* POSIX message queues (raw calls; mq_name keeps the namespace to five names): mq_open
       * with every access mode, O_CREAT/O_EXCL/O_NONBLOCK and attributes mostly small, absent,
       * out of range or unreadable; sends and receives with any priority (past MQ_PRIO_MAX
       * too) and length, timeouts from mq_timeout (queues mostly nonblocking); mq_notify by a
       * signal the executor handles or ignores, none, SIGEV_THREAD, bad kinds, or off, then a
       * message that fires it; mq_getsetattr, mq_unlink; the queue read (its status line) and
       * polled; the mqueue file system mounted on /tmp/mq, a queue opened, listed, removed. */
      static const int sigs[] = {SIGUSR1, SIGALRM, SIGCHLD, SIGURG, SIGWINCH}; /* handled or ignored */
      static const struct timespec past = {0, 0};
      long q = (mq_fd >= 0 && (u8() & 3)) ? mq_fd : fd();
      struct mq_attr* at = (struct mq_attr*)(BUF_ADDR + 5120);
      unsigned char* msg = (unsigned char*)(BUF_ADDR + 5632);
      switch (u8() % 10) {
        case 0:
        case 1: {
          static const long maxmsgs[] = {0, -1, 11, 65536, 65537, 1L << 40};
          static const long msgsizes[] = {0, -1, 8192, 8193, 1 << 20, (16 << 20) + 1};
          memset(at, 0, sizeof *at);
          at->mq_flags = (u8() & 7) ? 0 : (long)u64(); /* ignored by mq_open */
          at->mq_maxmsg = (u8() & 7) ? 1 + u8() % 10 : maxmsgs[u8() % 6];
          at->mq_msgsize = (u8() & 7) ? 1 + u8() % 128 : msgsizes[u8() % 6];
          uint64_t name = mq_name();
          uint64_t of = ((u8() & 3) ? O_RDWR : u8() % 4) | ((u8() & 7) ? O_NONBLOCK : 0) | ((u8() & 3) ? O_CREAT : 0) |
                        ((u8() & 7) ? 0 : O_EXCL) | flags(O_CLOEXEC);
          uint64_t mode = (u8() & 7) ? 0600 : u32() & 0777;
          unsigned a = u8() % 8;
          r = sc(SYS_mq_open, name, of, mode, a < 5 ? (uint64_t)at : a < 7 ? 0 : ptr(), 0, 0);
          keep_fd(r);
          if (r >= 0) mq_fd = r;
          break;
        }
        case 2:
        case 3: {
          static const uint32_t prios[] = {0, 31, 32767, 32768, 0xffffffff};
          unsigned n = u8() % 64;
          for (unsigned i = 0; i < n && i < 8; ++i) msg[i] = (unsigned char)u8();
          uint64_t buf = (u8() & 7) ? (uint64_t)msg : ptr();
          uint64_t mlen = (u8() & 7) ? n : len();
          uint32_t prio = (u8() & 3) ? u8() % 32 : prios[u8() % 5];
          sc(SYS_mq_timedsend, q, buf, mlen, prio, mq_timeout(), 0);
          break;
        }
        case 4:
        case 5: {
          static const uint64_t lens[] = {0, 1, 64, 128, 129, 8192, 65536};
          uint64_t buf = (u8() & 7) ? BUF_ADDR + 12288 : ptr();
          uint64_t n = (u8() & 7) ? lens[u8() % 7] : len();
          unsigned pp = u8() % 8;
          uint64_t prio = pp < 5 ? BUF_ADDR + 5376 : pp < 7 ? 0 : ptr();
          sc(SYS_mq_timedreceive, q, buf, n, prio, mq_timeout(), 0);
          break;
        }
        case 6: {
          /* struct sigevent: value, signo, notify (0 SIGEV_SIGNAL, 1 NONE, 2 THREAD: signo is
           * a netlink socket, value a 32-byte cookie), 4 (SIGEV_THREAD_ID) is refused. */
          static const int notifies[] = {0, 0, 0, 1, 1, 2, 4, 3};
          static const int badsigs[] = {0, 65, 128, -1};
          int* ev = (int*)(BUF_ADDR + 5440);
          memset(ev, 0, 64);
          unsigned k = u8() % 9;
          ev[3] = k < 8 ? notifies[k] : (int)u32();
          ev[2] = (u8() & 7) ? sigs[u8() % 5] : badsigs[u8() % 4];
          uint64_t value = u8();
          if (ev[3] == 2) {
            ev[2] = (int)fd();
            value = BUF_ADDR + 5504;
          }
          memcpy(ev, &value, 8);
          unsigned w = u8() % 8;
          sc(SYS_mq_notify, q, w < 5 ? (uint64_t)ev : w < 7 ? 0 : ptr(), 0, 0, 0, 0);
          if (u8() & 1) sc(SYS_mq_timedsend, q, (uint64_t)msg, 1, 0, (uint64_t)&past, 0);
          break;
        }
        case 7: {
          struct mq_attr* old = (struct mq_attr*)(BUF_ADDR + 5184);
          memset(at, 0, sizeof *at);
          at->mq_flags = (u8() & 7) ? ((u8() & 3) ? O_NONBLOCK : 0) : (long)u64();
          if (u8() & 1) at->mq_maxmsg = u8(); /* ignored */
          unsigned a = u8() % 8, b = u8() % 8;
          sc(SYS_mq_getsetattr, q,
             a < 4   ? (uint64_t)at
             : a < 7 ? 0
                     : ptr(),
             b < 5   ? (uint64_t)old
             : b < 7 ? 0
                     : ptr(),
             0, 0, 0);
          break;
        }
        case 8: sc(SYS_mq_unlink, mq_name(), 0, 0, 0, 0, 0); break;
        default: {
          static int mounts;
          static const char* const files[] = {"/tmp/mq/fq0", "/tmp/mq/fq1", "/tmp/mq/fq2", "/tmp/mq/fq3"};
          uint64_t file = (uint64_t)files[u8() % 4];
          switch (u8() % 6) {
            case 0: sc(SYS_read, q, (u8() & 7) ? BUF_ADDR + 12288 : ptr(), (u8() & 3) ? 128 : len(), 0, 0, 0); break;
            case 1: {
              struct pollfd* p = (struct pollfd*)(BUF_ADDR + 512);
              p->fd = (int)q;
              p->events = POLLIN | POLLOUT;
              sc(SYS_poll, (uint64_t)p, 1, 0, 0, 0, 0);
              break;
            }
            case 2:
              if (mounts++ >= 2) break;
              sc(SYS_mkdirat, AT_FDCWD, (uint64_t) "/tmp/mq", 0777, 0, 0, 0);
              sc(SYS_mount, (uint64_t) "mqueue", (uint64_t) "/tmp/mq", (uint64_t) "mqueue", (u8() & 3) ? 0 : u8() & 0xf,
                 0, 0);
              break;
            case 3: {
              /* Only the fixed names: open(O_CREAT) here makes a queue too. */
              long f =
                  sc(SYS_openat, AT_FDCWD, file, (u8() & 1) ? O_RDONLY : O_RDWR | O_CREAT | O_NONBLOCK, 0600, 0, 0);
              if (f >= 0) sc(SYS_read, f, BUF_ADDR + 12288, 128, 0, 0, 0);
              keep_fd(f);
              if (f >= 0) mq_fd = f;
              break;
            }
            case 4: {
              /* The directory: listed, then closed (a descriptor kept could create any name). */
              long d = sc(SYS_openat, AT_FDCWD, (uint64_t) "/tmp/mq", O_RDONLY | O_DIRECTORY, 0, 0, 0);
              if (d >= 0) {
                sc(SYS_getdents64, d, BUF_ADDR + 12288, (u8() & 3) ? 4096 : u8(), 0, 0, 0);
                sc(SYS_close, d, 0, 0, 0, 0, 0);
              }
              break;
            }
            default:
              if (u8() & 1) sc(SYS_unlinkat, AT_FDCWD, file, 0, 0, 0, 0);
              else sc(SYS_newfstatat, AT_FDCWD, file, BUF_ADDR + 12288, 0, 0, 0);
              break;
          }
          break;
        }
      }
      break;
    }
    case 52: {
      /* seccomp, only in a forked child that exits right after (the executor is never
       * filtered): PR_SET_NO_NEW_PRIVS mostly, then filters from bpf_program (up to 8 of them,
       * sometimes one of up to 4097 instructions: the per-chain limit), by seccomp() with
       * fuzzed flags or prctl(PR_SET_SECCOMP), strict mode, or any seccomp operation; then a
       * few harmless calls the filters may refuse. A filter can refuse even exit_group: the
       * parent waits up to 50 ms, then kills the child. Children and calls past the fork
       * budget only ask: actions available, notification sizes, PR_GET_SECCOMP and
       * PR_GET_NO_NEW_PRIVS. */
      uint32_t* act = (uint32_t*)(BUF_ADDR + 6000);
      if (in_child || forks >= 8 || (u8() & 7) == 0) {
        *act = seccomp_action();
        switch (u8() % 4) {
          case 0:
            sc(SYS_seccomp, 2 /* GET_ACTION_AVAIL */, (u8() & 7) ? 0 : u32(), (u8() & 7) ? (uint64_t)act : ptr(), 0, 0,
               0);
            break;
          case 1:
            sc(SYS_seccomp, 3 /* GET_NOTIF_SIZES */, (u8() & 7) ? 0 : u32(), (u8() & 7) ? BUF_ADDR + 6016 : ptr(), 0, 0,
               0);
            break;
          case 2: sc(SYS_prctl, PR_GET_SECCOMP, 0, 0, 0, 0, 0); break;
          default: sc(SYS_prctl, PR_GET_NO_NEW_PRIVS, (u8() & 7) ? 0 : u8(), 0, 0, 0, 0); break;
        }
        break;
      }
      forks++;
      /* Everything decoded before the fork: the parent goes on after the same bytes. */
      struct sock_fprog* fp = (struct sock_fprog*)(BUF_ADDR + 6032);
      struct sock_filter* pa = (struct sock_filter*)(BUF_ADDR + 6144);
      struct sock_filter* pb = (struct sock_filter*)(BUF_ADDR + 6656);
      fp[0].len = (unsigned short)bpf_program(pa);
      fp[0].filter = pa;
      fp[1].len = (unsigned short)bpf_program(pb);
      fp[1].filter = pb;
      if ((u8() & 15) == 0) {
        /* A long program: loads of the call number, then ALLOW. */
        struct sock_filter* big = (struct sock_filter*)(BUF_ADDR + 16384);
        unsigned n = (u8() & 1) ? 4096 : 512 + u8() * 14;
        if (u8() == 0) n = 4097;
        for (unsigned i = 0; i + 1 < n; ++i) big[i] = (struct sock_filter){0x20, 0, 0, 0};
        big[n - 1] = (struct sock_filter){0x06, 0, 0, SECCOMP_RET_ALLOW};
        fp[1].len = (unsigned short)n;
        fp[1].filter = big;
      }
      uint64_t progs[2] = {(uint64_t)&fp[0], (uint64_t)&fp[1]};
      if ((u8() & 15) == 0) {
        unsigned w = u8() & 1;
        fp[w].len = (u8() & 1) ? 0 : (unsigned short)u32();
      }
      if ((u8() & 15) == 0) {
        unsigned w = u8() & 1;
        fp[w].filter = (struct sock_filter*)ptr();
      }
      if ((u8() & 15) == 0) {
        unsigned w = u8() & 1;
        progs[w] = ptr();
      }
      unsigned installs = 1 + ((u8() & 3) ? 0 : u8() % 8);
      uint64_t nnp = (u8() & 7) ? ((u8() & 15) ? 1 : u8()) : 0;
      unsigned how = u8() % 8;
      uint64_t sflags = (u8() & 1) ? 0 : flags(1 | 2 | 4 | 16) | ((u8() & 7) ? 0 : flags(8 | 32));
      uint64_t op = (u8() & 7) ? u8() % 4 : u32(), oarg = (u8() & 3) ? 0 : ptr();
      uint64_t pmode = (u8() & 7) ? 2 : u8() % 4;
      unsigned calls[3], ncalls = 1 + u8() % 3;
      for (unsigned i = 0; i < ncalls; ++i) calls[i] = u8();
      *act = seccomp_action();
      r = fork();
      if (r == 0) {
        if (nnp) sc(SYS_prctl, PR_SET_NO_NEW_PRIVS, nnp, 0, 0, 0, 0);
        for (unsigned i = 0; i < installs; ++i) {
          switch (how) {
            case 5: sc(SYS_seccomp, op, sflags, op == 0 ? oarg : progs[i & 1], 0, 0, 0); break;
            case 6: sc(SYS_prctl, PR_SET_SECCOMP, 1 /* strict */, 0, 0, 0, 0); break;
            case 7: sc(SYS_prctl, PR_SET_SECCOMP, pmode, progs[i & 1], 0, 0, 0); break;
            default: sc(SYS_seccomp, 1 /* SET_MODE_FILTER */, sflags, progs[i & 1], 0, 0, 0); break;
          }
        }
        for (unsigned i = 0; i < ncalls; ++i) {
          switch (calls[i] % 8) {
            case 0: sc(SYS_getppid, 0, 0, 0, 0, 0, 0); break;
            case 1: sc(SYS_getpid, 0, 0, 0, 0, 0, 0); break;
            case 2: sc(SYS_uname, BUF_ADDR + 12288, 0, 0, 0, 0, 0); break;
            case 3: sc(SYS_gettid, 0, 0, 0, 0, 0, 0); break;
            case 4: sc(SYS_write, 1, BUF_ADDR, 8, 0, 0, 0); break;
            case 5: sc(SYS_prctl, PR_GET_SECCOMP, 0, 0, 0, 0, 0); break;
            case 6: sc(SYS_seccomp, 2 /* GET_ACTION_AVAIL */, 0, (uint64_t)act, 0, 0, 0); break;
            default: {
              long f = sc(SYS_openat, AT_FDCWD, (uint64_t) "/tmp/a", O_RDONLY, 0, 0, 0);
              if (f >= 0) sc(SYS_close, f, 0, 0, 0, 0, 0);
              break;
            }
          }
        }
        _exit(0);
      }
      if (r > 0) {
        struct timespec t0, now, nap = {0, 100000};
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < 2000; ++i) {
          if (sc(SYS_wait4, r, 0, WNOHANG, 0, 0, 0) != 0) break; /* reaped, or gone (ECHILD) */
          clock_gettime(CLOCK_MONOTONIC, &now);
          if (i == 1999 || (now.tv_sec - t0.tv_sec) * 1000000000L + (now.tv_nsec - t0.tv_nsec) > 50000000L) {
            kill(r, SIGKILL);
            while (sc(SYS_wait4, r, 0, 0, 0, 0, 0) < 0 && errno == EINTR) {}
            break;
          }
          nanosleep(&nap, 0);
        }
      }
      break;
    }
    case 53: {
      /* futex_waitv (vectors of up to 4 words in the buffer, every flag, values that match or
       * not, absolute timeouts mostly in the past on any clock) and FUTEX_WAKE_OP with random
       * encoded operations on buffer words. */
      uint64_t* v = (uint64_t*)(BUF_ADDR + 7200); /* 4 x {val, uaddr, flags|reserved} */
      uint32_t* words = (uint32_t*)(BUF_ADDR + 7328);
      struct timespec* ts = (struct timespec*)(BUF_ADDR + 7360);
      if (u8() & 1) {
        unsigned n = u8() % 5;
        for (unsigned i = 0; i < 4; ++i) {
          v[3 * i] = (u8() & 7) ? words[i & 1] : u64();
          v[3 * i + 1] = (u8() & 7) ? (uint64_t)&words[u8() % 4] : ptr();
          v[3 * i + 2] = (u8() & 7) ? (2 | ((u8() & 1) ? 128 : 0)) : u32() | ((uint64_t)((u8() & 7) ? 0 : u32()) << 32);
        }
        ts->tv_sec = (u8() & 3) ? 0 : (long)u32();
        ts->tv_nsec = (u8() & 7) ? 0 : (long)u32();
        uint64_t t = (u8() & 3) ? (uint64_t)ts : (u8() & 1) ? 0 : ptr();
        sc(SYS_futex_waitv, (u8() & 7) ? (uint64_t)v : ptr(), (u8() & 7) ? n : u32(), (u8() & 7) ? 0 : u32(), t,
           u8() % 12, 0);
      } else {
        sc(SYS_futex, (u8() & 7) ? (uint64_t)&words[u8() % 4] : ptr(), 5 /* FUTEX_WAKE_OP */ | ((u8() & 1) ? 128 : 0),
           u8() % 4, u8() % 4, (u8() & 7) ? (uint64_t)&words[u8() % 4] : ptr(), u32());
      }
      break;
    }
    case 54: {
      /* The kernel log: syslog with every action but the console levels that would flood the
       * fuzzer's own log (levels 7 and 8), any buffer and length; /dev/kmsg written (with and
       * without priorities and newlines), read, sought and polled. */
      unsigned type = u8() % 13;
      if (type == 6 || type == 7) type = 9; /* CONSOLE_OFF/ON: kept as they are */
      uint64_t n = (type == 8) ? ((u8() & 1) ? 1 + u8() % 6 : u32()) : len();
      if (type == 8 && (n == 7 || n == 8)) n = 5;
      if (u8() & 1) {
        sc(SYS_syslog, type == 12 ? u32() : type, (u8() & 7) ? BUF_ADDR + 8192 : ptr(), n, 0, 0, 0);
      } else {
        static const char* const recs[] = {"<5>fuzz\n", "fuzz", "<190>x\ny\n", "<7", "", "\\\x01\n"};
        long k = sc(SYS_openat, AT_FDCWD, (uint64_t) "/dev/kmsg", (u8() % 3) | O_NONBLOCK | flags(O_CLOEXEC), 0, 0, 0);
        if (k < 0) break;
        const char* rec = recs[u8() % 6];
        sc(SYS_write, k, (u8() & 7) ? (uint64_t)rec : ptr(), (u8() & 7) ? strlen(rec) : len(), 0, 0, 0);
        sc(SYS_lseek, k, (u8() & 7) ? 0 : u64(), u8() % 5, 0, 0, 0);
        sc(SYS_read, k, (u8() & 7) ? BUF_ADDR + 8192 : ptr(), (u8() & 3) ? 2048 : len(), 0, 0, 0);
        if (u8() & 1) keep_fd(k);
        else close((int)k);
      }
      break;
    }
    case 55: {
      /* Namespaces and names: /proc/self/ns files opened and joined with setns (any type, a
       * pidfd too); openat2 with every resolve flag, any size and tail; name_to_handle_at and
       * open_by_handle_at with handles made or mutated. */
      static const char* const ns[] = {"/proc/self/ns/uts",  "/proc/self/ns/mnt", "/proc/self/ns/ipc",
                                       "/proc/self/ns/user", "/proc/self/ns/pid", "/proc/self/ns/net"};
      static const uint64_t types[] = {0, 0x04000000, 0x20000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x80};
      uint64_t* how = (uint64_t*)(BUF_ADDR + 7400); /* flags, mode, resolve, tail */
      unsigned char* fh = (unsigned char*)(BUF_ADDR + 7440);
      switch (u8() % 4) {
        case 0: {
          long f = (u8() & 3) ? sc(SYS_openat, AT_FDCWD, (uint64_t)ns[u8() % 6], O_RDONLY, 0, 0, 0) : fd();
          sc(SYS_setns, f, (u8() & 7) ? types[u8() % 8] : u32(), 0, 0, 0, 0);
          keep_fd(f);
          break;
        }
        case 1:
          how[0] = (u8() & 3)
                       ? (u8() % 3) | flags(O_CREAT | O_EXCL | O_TRUNC | O_DIRECTORY | O_NOFOLLOW | O_PATH | O_CLOEXEC)
                       : u64();
          how[1] = (u8() & 3) ? 0 : (u8() & 1) ? 0644 : u64();
          how[2] = (u8() & 3) ? u8() & 0x3f : u64();
          how[3] = (u8() & 7) ? 0 : u64();
          keep_fd(sc(SYS_openat2, fd(), path(), (u8() & 7) ? (uint64_t)how : ptr(), (u8() & 3) ? 24 : len(), 0, 0));
          break;
        case 2:
          *(uint32_t*)fh = (u8() & 3) ? 128 : u32();
          sc(SYS_name_to_handle_at, fd(), path(), (u8() & 7) ? (uint64_t)fh : ptr(),
             (u8() & 7) ? BUF_ADDR + 7600 : ptr(), flags(0x400 | 0x1000 | 0x200 | 0x1 | 0x2), 0);
          break;
        default:
          if (u8() & 1) fh[8 + u8() % 12] ^= (unsigned char)u8();
          if ((u8() & 7) == 0) *(uint32_t*)fh = u32();
          if ((u8() & 7) == 0) *(int32_t*)(fh + 4) = (int32_t)u32();
          keep_fd(sc(SYS_open_by_handle_at, fd(), (u8() & 7) ? (uint64_t)fh : ptr(),
                     flags(O_PATH | O_DIRECTORY | 3 | O_CLOEXEC), 0, 0, 0));
          break;
      }
      break;
    }
    case 56: {
      /* Memory of oneself or another: remap_file_pages on shared mappings of a file (and any
       * address), process_madvise and process_mrelease through a pidfd of self, move_pages and
       * set_mempolicy_home_node on the buffer and the holes around it. */
      static uint64_t shared_map;
      if (!shared_map) {
        long f = sc(SYS_openat, AT_FDCWD, (uint64_t) "/tmp/rfp", O_CREAT | O_RDWR, 0600, 0, 0);
        if (f >= 0) {
          sc(SYS_ftruncate, f, 4 * 4096, 0, 0, 0, 0);
          long m = sc(SYS_mmap, 0, 4 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
          if (m > 0) shared_map = (uint64_t)m;
          close((int)f);
        }
      }
      struct iovec* iov = (struct iovec*)(BUF_ADDR + 7700);
      uint64_t* pages = (uint64_t*)(BUF_ADDR + 7800);
      int* nodes = (int*)(BUF_ADDR + 7900);
      for (unsigned i = 0; i < 4; ++i) {
        iov[i].iov_base = (void*)((u8() & 3) ? BUF_ADDR + 4096 * (u8() % 16) : ptr());
        iov[i].iov_len = (u8() & 3) ? 4096 * (u8() % 3) : len();
        pages[i] = (u8() & 3) ? BUF_ADDR + 4096 * (u8() % 20) : ptr();
        nodes[i] = (u8() & 7) ? 0 : (int)u32();
      }
      switch (u8() % 5) {
        case 0:
          sc(SYS_remap_file_pages, (u8() & 7) && shared_map ? shared_map + 4096 * (u8() % 4) : ptr(),
             (u8() & 3) ? 4096 * (1 + u8() % 4) : len(), (u8() & 7) ? 0 : u8(), (u8() & 3) ? u8() % 8 : u64(),
             (u8() & 3) ? 0 : u32(), 0);
          break;
        case 1: {
          long p = sc(SYS_pidfd_open, getpid(), 0, 0, 0, 0, 0);
          sc(SYS_process_madvise, (u8() & 7) ? p : fd(), (u8() & 7) ? (uint64_t)iov : ptr(),
             (u8() & 7) ? u8() % 5 : u32(), (u8() & 3) ? 20 + u8() % 2 : u8() % 30, (u8() & 7) ? 0 : u32(), 0);
          if (u8() & 1) sc(SYS_process_mrelease, (u8() & 7) ? p : fd(), (u8() & 7) ? 0 : u32(), 0, 0, 0, 0);
          if (p >= 0) close((int)p);
          break;
        }
        case 2:
          sc(SYS_move_pages, (u8() & 7) ? 0 : u32(), (u8() & 7) ? u8() % 5 : u32(),
             (u8() & 7) ? (uint64_t)pages : ptr(),
             (u8() & 1)   ? 0
             : (u8() & 7) ? (uint64_t)nodes
                          : ptr(),
             (u8() & 7) ? BUF_ADDR + 7950 : ptr(), (u8() & 3) ? 2 : u32());
          break;
        case 3:
          sc(SYS_set_mempolicy_home_node, (u8() & 3) ? BUF_ADDR + 4096 * (u8() % 20) : u64(), len(),
             (u8() & 3) ? 0 : u64(), (u8() & 7) ? 0 : u64(), 0, 0);
          break;
        default:
          sc(SYS_mbind, BUF_ADDR + 4096 * (u8() % 16), 4096 * (1 + u8() % 4), u8() % 6, (uint64_t)nodes, 2 + u8() % 64,
             0);
          break;
      }
      break;
    }
    case 57: {
      /* A mount's own flags: a tmpfs at /tmp/mf mounted, remounted (alone or as a bind) and
       * bound with flags from the MS_* set, and what they govern tried through it: a file
       * mapped executable, access X_OK, a device node opened, a symlink followed, statfs,
       * /proc/self/mountinfo read; then maybe unmounted. */
      static int mf_mounts;
      // clang-format off
      static const uint64_t ms[] = {0, 1 /* RDONLY */, 2 /* NOSUID */, 4 /* NODEV */, 8 /* NOEXEC */,
                                    256 /* NOSYMFOLLOW */, 1024 /* NOATIME */, 2048 /* NODIRATIME */,
                                    1 << 21 /* RELATIME */, 1 << 24 /* STRICTATIME */, 0xc0ed0000 /* MGC_VAL */};
      // clang-format on
      uint64_t f = ms[u8() % 11] | ms[u8() % 11] | ((u8() & 7) ? 0 : u64());
      switch (u8() % 8) {
        case 0:
          if (mf_mounts++ >= 4) break;
          sc(SYS_mkdirat, AT_FDCWD, (uint64_t) "/tmp/mf", 0777, 0, 0, 0);
          sc(SYS_mount, (uint64_t) "none", (uint64_t) "/tmp/mf", (uint64_t) "tmpfs", f, 0, 0);
          break;
        case 1: sc(SYS_mount, 0, (uint64_t) "/tmp/mf", 0, 32 /* REMOUNT */ | f, 0, 0); break;
        case 2: sc(SYS_mount, 0, (uint64_t) "/tmp/mf", 0, 32 | 4096 /* REMOUNT|BIND */ | f, 0, 0); break;
        case 3:
          if (mf_mounts++ >= 4) break;
          sc(SYS_mkdirat, AT_FDCWD, (uint64_t) "/tmp/mf2", 0777, 0, 0, 0);
          sc(SYS_mount, (uint64_t) "/tmp/mf", (uint64_t) "/tmp/mf2", 0, 4096 /* BIND */ | f, 0, 0);
          break;
        case 4: {
          long fd1 = sc(SYS_openat, AT_FDCWD, (uint64_t) "/tmp/mf/x", O_CREAT | O_RDWR, 0755, 0, 0);
          if (fd1 >= 0) {
            sc(SYS_ftruncate, fd1, 4096, 0, 0, 0, 0);
            long m = sc(SYS_mmap, 0, 4096, PROT_READ | ((u8() & 1) ? PROT_EXEC : 0),
                        (u8() & 1) ? MAP_SHARED : MAP_PRIVATE, fd1, 0);
            if (m >= 0) {
              sc(SYS_mprotect, m, 4096, u8() & 7, 0, 0, 0);
              sc(SYS_munmap, m, 4096, 0, 0, 0, 0);
            }
            sc(SYS_close, fd1, 0, 0, 0, 0, 0);
          }
          sc(SYS_faccessat, AT_FDCWD, (uint64_t) "/tmp/mf/x", u8() & 7, 0, 0, 0);
          break;
        }
        case 5: {
          sc(SYS_mknodat, AT_FDCWD, (uint64_t) "/tmp/mf/null", S_IFCHR | 0666, (1 << 8) | 3, 0, 0);
          long fd1 = sc(SYS_openat, AT_FDCWD, (uint64_t) "/tmp/mf/null", (u8() & 1) ? O_PATH : O_RDWR, 0, 0, 0);
          if (fd1 >= 0) sc(SYS_close, fd1, 0, 0, 0, 0, 0);
          sc(SYS_symlinkat, (uint64_t) "x", AT_FDCWD, (uint64_t) "/tmp/mf/l", 0, 0, 0);
          fd1 = sc(SYS_openat, AT_FDCWD, (uint64_t) "/tmp/mf/l", O_RDONLY, 0, 0, 0);
          if (fd1 >= 0) sc(SYS_close, fd1, 0, 0, 0, 0, 0);
          break;
        }
        case 6: {
          sc(SYS_statfs, (u8() & 1) ? (uint64_t) "/tmp/mf" : (uint64_t) "/tmp/mf2", BUF_ADDR + 8192, 0, 0, 0, 0);
          long fd1 = sc(SYS_openat, AT_FDCWD, (uint64_t) "/proc/self/mountinfo", O_RDONLY, 0, 0, 0);
          if (fd1 >= 0) {
            sc(SYS_read, fd1, BUF_ADDR + 8192, 2048, 0, 0, 0);
            sc(SYS_close, fd1, 0, 0, 0, 0, 0);
          }
          break;
        }
        default:
          sc(SYS_umount2, (u8() & 1) ? (uint64_t) "/tmp/mf" : (uint64_t) "/tmp/mf2", (u8() & 3) ? 0 : 2 /* DETACH */, 0,
             0, 0, 0);
          break;
      }
      break;
    }
    case 58: {
      /* The fs.protected_* settings: written with numbers, hostile text and offsets (pwrite),
       * read back; and what they guard tried in a sticky directory /tmp/pd whose mode and files'
       * owners change: O_CREAT opens of files and FIFOs, links followed, hard links made. */
      static const char* const knobs[] = {"/proc/sys/fs/protected_regular", "/proc/sys/fs/protected_fifos",
                                          "/proc/sys/fs/protected_symlinks", "/proc/sys/fs/protected_hardlinks"};
      // clang-format off
      static const char* const texts[] = {"0", "1", "2", "3", "-1", " 1\n", "0x2", "02", "1x", "", "99999999999999999999999",
                                          "-2147483648", "\n\n"};
      // clang-format on
      static const char* const names[] = {"/tmp/pd/f", "/tmp/pd/p", "/tmp/pd/l", "/tmp/pd/h"};
      switch (u8() % 6) {
        case 0: {
          long fd1 = sc(SYS_openat, AT_FDCWD, (uint64_t)knobs[u8() % 4], (u8() & 1) ? O_RDWR : O_WRONLY, 0, 0, 0);
          if (fd1 < 0) break;
          const char* t = texts[u8() % 13];
          if (u8() & 1) {
            sc(SYS_write, fd1, (uint64_t)t, strlen(t), 0, 0, 0);
          } else {
            sc(SYS_pwrite64, fd1, ptr(), u8() % 64, u8() % 4, 0, 0);
          }
          sc(SYS_pread64, fd1, BUF_ADDR + 8192, u8() % 8, u8() % 4, 0, 0);
          sc(SYS_close, fd1, 0, 0, 0, 0, 0);
          break;
        }
        case 1:
          sc(SYS_mkdirat, AT_FDCWD, (uint64_t) "/tmp/pd", 0777, 0, 0, 0);
          sc(SYS_fchmodat, AT_FDCWD, (uint64_t) "/tmp/pd", (u8() & 1 ? 01000 : 0) | (u8() & 0777), 0, 0, 0);
          sc(SYS_fchownat, AT_FDCWD, (uint64_t) "/tmp/pd", u8() % 3 * 1000, u8() % 3 * 1000, 0, 0);
          break;
        case 2:
          sc(SYS_openat, AT_FDCWD, (uint64_t)names[0], O_CREAT | O_RDWR, 0666, 0, 0);
          sc(SYS_mknodat, AT_FDCWD, (uint64_t)names[1], S_IFIFO | 0666, 0, 0, 0);
          sc(SYS_symlinkat, (uint64_t)names[0], AT_FDCWD, (uint64_t)names[2], 0, 0, 0);
          sc(SYS_fchownat, AT_FDCWD, (uint64_t)names[u8() % 3], u8() % 3 * 1000, u8() % 3 * 1000,
             (u8() & 1) ? AT_SYMLINK_NOFOLLOW : 0, 0);
          break;
        case 3: {
          long fd1 = sc(SYS_openat, AT_FDCWD, (uint64_t)names[u8() % 3], O_CREAT | O_NONBLOCK | (u8() & 3), 0666, 0, 0);
          if (fd1 >= 0) sc(SYS_close, fd1, 0, 0, 0, 0, 0);
          break;
        }
        case 4:
          sc(SYS_setfsuid, u8() % 3 * 1000, 0, 0, 0, 0, 0);
          sc(SYS_linkat, AT_FDCWD, (uint64_t)names[u8() % 3], AT_FDCWD, (uint64_t)names[3], (u8() & 1) ? 0x400 : 0, 0);
          sc(SYS_unlinkat, AT_FDCWD, (uint64_t)names[3], 0, 0, 0, 0);
          sc(SYS_setfsuid, 0, 0, 0, 0, 0, 0);
          break;
        default: sc(SYS_unlinkat, AT_FDCWD, (uint64_t)names[u8() % 4], 0, 0, 0, 0); break;
      }
      break;
    }
    default: {
      /* Any system call number with hostile arguments, except those that end or replace this
       * program or change its TLS (the rest of the input would be lost), or that filter its
       * calls (seccomp, prctl(PR_SET_SECCOMP): op 52 does that in a child), arm a signal that
       * could kill it (timer_create, mq_notify) or name queues from the buffer's bytes
       * (mq_open: see mq_name), or set the console level (syslog: op 54 does that). */
      unsigned n = (u8() | (u8() << 8)) % 460;
      if (n == SYS_exit || n == SYS_exit_group || n == SYS_execve || n == SYS_execveat || n == SYS_arch_prctl ||
          n == SYS_rt_sigreturn || n == SYS_vfork || n == SYS_clone || n == SYS_clone3 || n == SYS_pause ||
          n == SYS_rt_sigsuspend || n == SYS_setitimer || n == SYS_alarm || n == SYS_munmap || n == SYS_mremap ||
          n == SYS_set_tid_address || n == SYS_kill || n == SYS_tkill || n == SYS_tgkill || n == SYS_rt_sigaction ||
          n == SYS_rt_sigprocmask || n == SYS_sigaltstack || n == SYS_reboot || n == SYS_rt_sigqueueinfo ||
          n == SYS_rt_tgsigqueueinfo || n == SYS_pidfd_send_signal || n == SYS_timer_create || n == SYS_mq_notify ||
          n == SYS_mq_open || n == SYS_seccomp || n == SYS_syslog)
        break;
      uint64_t a[6];
      for (int i = 0; i < 6; ++i) {
        switch (u8() % 4) {
          case 0: a[i] = ptr(); break;
          case 1: a[i] = (uint64_t)fd(); break;
          case 2: a[i] = len(); break;
          default: a[i] = u64(); break;
        }
      }
      if (n == SYS_prctl && (int)a[0] == PR_SET_SECCOMP) break;
      sc(n, a[0], a[1], a[2], a[3], a[4], a[5]);
      break;
    }
  }
}

int main(void) {
  int pf = open("/prog", O_RDONLY);
  if (pf < 0) return 1;
  ssize_t n = read(pf, prog, sizeof prog);
  close(pf);
  if (n <= 0) return 0;
  prog_len = (size_t)n;
  /* Quiet and self-contained: /dev/null as stdio, a buffer, a read-only page, a hole. */
  int nul = open("/dev/null", O_RDWR);
  if (nul >= 0) {
    dup2(nul, 0);
    dup2(nul, 1);
    dup2(nul, 2);
    if (nul > 2) close(nul);
  }
  mmap((void*)BUF_ADDR, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  mmap((void*)RO_ADDR, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  memset(longpath, 'x', sizeof longpath - 1);
  for (size_t i = 0; i < sizeof longpath - 1; i += 200) longpath[i] = '/';
  memset(mq_long[0], 'q', 255);
  memset(mq_long[1], 'q', 299);
  /* Message queues outlive the program: start from none of those op 51 can create. */
  for (int i = 0; i < 4; ++i) sc(SYS_mq_unlink, (uint64_t)mq_names[i], 0, 0, 0, 0, 0);
  sc(SYS_mq_unlink, (uint64_t)mq_long[0], 0, 0, 0, 0, 0);
  mkdir("/tmp", 0777);
  mkdir("/tmp/d", 0777);
  mkdir("/tmp/w", 0777); /* watched by op 50 */
  close(open("/tmp/a", O_CREAT | O_RDWR, 0644));
  symlink("/tmp/a", "/tmp/l");
  symlink("/tmp/loop", "/tmp/loop");
  mknod("/tmp/fifo", S_IFIFO | 0666, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGALRM, &sa, 0);
  sigaction(SIGUSR1, &sa, 0);
  sigaction(SIGCHLD, &sa, 0);
  struct itimerval it = {{0, 5000}, {0, 5000}}; /* blocking calls see EINTR within 5 ms */
  setitimer(ITIMER_REAL, &it, 0);
  sigset_t alrm;
  sigemptyset(&alrm);
  sigaddset(&alrm, SIGALRM);
  for (int i = 0; i < 64 && pos < prog_len; ++i) {
    one_call();
    sigprocmask(SIG_UNBLOCK, &alrm, 0); /* a fuzzed mask must not disarm the timeout */
  }
  /* Reap what is left so the run ends cleanly. */
  while (waitpid(-1, 0, WNOHANG) > 0) {}
  return 0;
}
