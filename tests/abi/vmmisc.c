/* Memory-management system calls of the less common kind, by raw number (x86-64), with the errno
 * of every documented failure and of the odd cases:
 * - remap_file_pages (216) on a MAP_SHARED mapping of a 4-page file ('A'..'D') and on a
 *   MAP_SHARED|MAP_ANONYMOUS mapping: one page, several pages, back to linear; the
 *   /proc/self/maps lines of the area afterwards (pages and offsets in pages); writes through a
 *   remapped page; across two adjacent mappings of the file; a read-only mapping; unaligned start
 *   and size (rounded down); flags other than MAP_NONBLOCK (ignored); pgoff past the end of the
 *   file (works, touching it: SIGBUS); EINVAL for prot, size 0 or under a page, a wrapping range
 *   or pgoff, a range past the mapping, a hole, private mappings; EOVERFLOW for a pgoff past any
 *   file size.
 * - process_madvise (440) with pidfds (pidfd_open, 434) of self, of a child, of a zombie: COLD,
 *   PAGEOUT, WILLNEED return the byte count, the data survives; DONTNEED works on self only;
 *   partial counts; EINVAL, EFAULT, EBADF, ENOMEM, ESRCH, and as an unprivileged user EACCES or
 *   EPERM; the order of the checks.
 * - process_mrelease (448): EINVAL (flags, a live process), EBADF, ESRCH (zombie, reaped).
 * - move_pages (279) for pid 0 and a child: status of touched, untouched, zero-page, file and
 *   unmapped pages, in query mode and when moving to node 0; ENODEV for other nodes; EINVAL,
 *   EPERM, EFAULT, ESRCH; a zombie: EINVAL.
 * - set_mempolicy_home_node (450): EINVAL, ENOENT without a policy, 0 for MPOL_BIND and
 *   MPOL_PREFERRED_MANY, EOPNOTSUPP for the other modes; the policy is unchanged afterwards.
 * Run natively (as root, on a machine with one NUMA node) and under the kernel: the outputs must
 * match. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "abi_check.h"

#define NR_remap_file_pages 216
#define NR_mbind 237
#define NR_get_mempolicy 239
#define NR_move_pages 279
#define NR_pidfd_open 434
#define NR_process_madvise 440
#define NR_process_mrelease 448
#define NR_set_mempolicy_home_node 450

#define PG 4096L
#define MADV_WILLNEED_ 3
#define MADV_DONTNEED_ 4
#define MADV_COLD_ 20
#define MADV_PAGEOUT_ 21
#define MPOL_PREFERRED 1
#define MPOL_BIND 2
#define MPOL_INTERLEAVE 3
#define MPOL_LOCAL 4
#define MPOL_PREFERRED_MANY 5
#define MPOL_F_ADDR 2
#define MPOL_MF_MOVE 2
#define MPOL_MF_MOVE_ALL 4

static long rfp(void* start, unsigned long size, unsigned long prot, unsigned long pgoff, unsigned long flags) {
  return syscall(NR_remap_file_pages, start, size, prot, pgoff, flags);
}
static long pidfd_open(pid_t pid) { return syscall(NR_pidfd_open, pid, 0); }
static long pmadvise(int fd, const struct iovec* v, unsigned long n, int advice, unsigned flags) {
  return syscall(NR_process_madvise, fd, v, n, advice, flags);
}
static long mrelease(int fd, unsigned flags) { return syscall(NR_process_mrelease, fd, flags); }
static long move_pages(pid_t pid, unsigned long n, void** pages, const int* nodes, int* status, int flags) {
  return syscall(NR_move_pages, pid, n, pages, nodes, status, flags);
}
static long home_node(void* start, unsigned long len, unsigned long node, unsigned long flags) {
  return syscall(NR_set_mempolicy_home_node, start, len, node, flags);
}
static long mbind(void* start, unsigned long len, int mode, unsigned long* nodes, unsigned long maxnode) {
  return syscall(NR_mbind, start, len, mode, nodes, maxnode, 0);
}
static int policy_at(void* addr, unsigned long* nodes) {
  int mode = -1;
  *nodes = 0;
  if (syscall(NR_get_mempolicy, &mode, nodes, 64, addr, MPOL_F_ADDR) != 0) return -1;
  return mode;
}

/* The first byte of each of n pages at a, as a string. */
static const char* content(const char* a, int n) {
  static char s[16];
  for (int i = 0; i < n; i++) s[i] = a[i * PG];
  s[n] = 0;
  return s;
}

/* The /proc/self/maps lines that cover [a, a + n pages): "pages@offset" each, offsets in pages. */
static const char* layout(const char* a, int n) {
  static char buf[1 << 16];
  static char out[256];
  int fd = open("/proc/self/maps", O_RDONLY);
  long len = 0, r;
  while (len < (long)sizeof buf - 1 && (r = read(fd, buf + len, sizeof buf - 1 - len)) > 0) len += r;
  buf[len] = 0;
  close(fd);
  out[0] = 0;
  unsigned long lo = (unsigned long)a, hi = lo + n * PG;
  for (char* line = buf; *line;) {
    char* nl = strchr(line, '\n');
    unsigned long s, e, off;
    if (sscanf(line, "%lx-%lx %*s %lx", &s, &e, &off) == 3 && s < hi && e > lo)
      snprintf(out + strlen(out), sizeof out - strlen(out), "%s%lu@%lu", out[0] ? " " : "", (e - s) / PG, off / PG);
    if (!nl) break;
    line = nl + 1;
  }
  return out;
}

/* Joins n move_pages status values. */
static const char* statuses(const int* st, int n) {
  static char out[128];
  out[0] = 0;
  for (int i = 0; i < n; i++) snprintf(out + strlen(out), sizeof out - strlen(out), "%s%d", i ? " " : "", st[i]);
  return out;
}

/* Whether statuses `st` read as `want`, where "Z" stands for the status of a page only read
 * (the shared zero page): 0 (its node) on some Linux versions, -EFAULT on others (6.18's
 * do_pages_stat_array: is_zero_folio). */
static int same_statuses(const int* st, int n, const char* want) {
  char got[128], w[128];
  snprintf(got, sizeof got, "%s", statuses(st, n));
  snprintf(w, sizeof w, "%s", want);
  char *gs = NULL, *ws = NULL;
  char* g = strtok_r(got, " ", &gs);
  for (char* t = strtok_r(w, " ", &ws); t; t = strtok_r(NULL, " ", &ws), g = strtok_r(NULL, " ", &gs)) {
    if (!g) return 0;
    if (strcmp(t, "Z") == 0 ? strcmp(g, "0") != 0 && strcmp(g, "-14") != 0 : strcmp(t, g) != 0) return 0;
  }
  return g == NULL;
}

static volatile char* touch_at;
static void touch(void) { (void)*touch_at; }

/* A child that waits to be killed. */
static pid_t idle_child(void) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    for (;;) pause();
  }
  return pid;
}
static void end_child(pid_t pid) {
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
}
/* Kills the child and waits until it is a zombie, without reaping it. */
static void make_zombie(pid_t pid) {
  siginfo_t si;
  kill(pid, SIGKILL);
  waitid(P_PID, pid, &si, WEXITED | WNOWAIT);
}

/* Runs fn in a child as user 65534 (dumpable again, so that a child of its own may be inspected);
 * its checks print their own lines, and its failures count here. */
static int as_nobody(int (*fn)(void)) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    if (setuid(65534) != 0) _exit(90);
    prctl(PR_SET_DUMPABLE, 1);
    abi_failures = 0;
    _exit(fn());
  }
  int st = 0;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st)) return 1;
  return WEXITSTATUS(st);
}

static char dir[] = "/tmp/vmmiscXXXXXX";
static char path[64], subdir[64], mnt[64], mnt2[64], mntdir[64], missing[64];
static pid_t root_parent;
static char* anon; /* 4 private anonymous pages, filled with 'x' */
static char* hole; /* an unmapped page */

static int nobody_madvise(void) {
  struct iovec v = {anon, PG};
  int self = pidfd_open(getpid());
  CHECK("unprivileged: process_madvise(MADV_COLD) of itself", pmadvise(self, &v, 1, MADV_COLD_, 0) == PG);
  CHECK("unprivileged: process_madvise(MADV_DONTNEED) of itself", pmadvise(self, &v, 1, MADV_DONTNEED_, 0) == PG);
  int pfd = pidfd_open(root_parent);
  CHECK_ERRNO("unprivileged: process_madvise of a root process: EACCES", pmadvise(pfd, &v, 1, MADV_COLD_, 0), EACCES);
  CHECK_ERRNO("unprivileged: process_mrelease of a live root process: EINVAL", mrelease(pfd, 0), EINVAL);
  pid_t own = idle_child();
  int ofd = pidfd_open(own);
  CHECK_ERRNO("unprivileged: process_madvise(MADV_COLD) of its own child: EPERM", pmadvise(ofd, &v, 1, MADV_COLD_, 0),
              EPERM);
  CHECK_ERRNO("unprivileged: MADV_DONTNEED of its own child: EINVAL (advice before privilege)",
              pmadvise(ofd, &v, 1, MADV_DONTNEED_, 0), EINVAL);
  end_child(own);
  prctl(PR_SET_DUMPABLE, 0);
  own = idle_child();
  ofd = pidfd_open(own);
  CHECK_ERRNO("unprivileged: process_madvise of its own non-dumpable child: EACCES",
              pmadvise(ofd, &v, 1, MADV_COLD_, 0), EACCES);
  end_child(own);
  return abi_failures;
}

static int nobody_move_pages(void) {
  void* pages[1] = {anon};
  int node0[1] = {0}, st[1] = {99};
  CHECK_ERRNO("unprivileged: move_pages(MPOL_MF_MOVE_ALL): EPERM", move_pages(0, 1, pages, node0, st, MPOL_MF_MOVE_ALL),
              EPERM);
  CHECK_ERRNO("unprivileged: MPOL_MF_MOVE_ALL, no such process: EPERM (privilege first)",
              move_pages(999999, 1, pages, node0, st, MPOL_MF_MOVE_ALL), EPERM);
  CHECK("unprivileged: move_pages(MPOL_MF_MOVE) of itself: status 0",
        move_pages(0, 1, pages, node0, st, MPOL_MF_MOVE) == 0 && st[0] == 0);
  CHECK_ERRNO("unprivileged: query of a root process: EPERM", move_pages(root_parent, 1, pages, NULL, st, 0), EPERM);
  CHECK_ERRNO("unprivileged: move in a root process: EPERM", move_pages(root_parent, 1, pages, node0, st, MPOL_MF_MOVE),
              EPERM);
  pid_t own = idle_child();
  st[0] = 99;
  CHECK("unprivileged: query of its own child: status 0", move_pages(own, 1, pages, NULL, st, 0) == 0 && st[0] == 0);
  end_child(own);
  return abi_failures;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (getuid() != 0) {
    printf("vmmisc: needs root\n");
    return 0;
  }
  root_parent = getpid();
  if (!mkdtemp(dir)) return 1;
  snprintf(path, sizeof path, "%s/file", dir);
  snprintf(subdir, sizeof subdir, "%s/sub", dir);
  snprintf(mnt, sizeof mnt, "%s/mnt", dir);
  snprintf(mnt2, sizeof mnt2, "%s/mnt2", dir);
  snprintf(mntdir, sizeof mntdir, "%s/mnt/dir", dir);
  snprintf(missing, sizeof missing, "%s/missing", dir);
  mkdir(subdir, 0755);
  mkdir(mnt, 0755);
  mkdir(mnt2, 0755);

  /* remap_file_pages on a shared file mapping, placed in a PROT_NONE reservation so that its
   * neighbours are known: [guard][4 file pages][guard][hole]. */
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  char page[PG];
  for (int i = 0; i < 4; i++) {
    memset(page, 'A' + i, PG);
    write(fd, page, PG);
  }
  char* res = mmap(NULL, 7 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char* a = mmap(res + PG, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
  hole = res + 6 * PG;
  munmap(hole, PG);
  CHECK("file mapping: pages A B C D, one maps line",
        strcmp(content(a, 4), "ABCD") == 0 && strcmp(layout(a, 4), "4@0") == 0);
  CHECK("remap_file_pages(addr, 4096, 0, 3, 0)", rfp(a, PG, 0, 3, 0) == 0);
  CHECK("the first page shows file page 3", strcmp(content(a, 4), "DBCD") == 0);
  CHECK("maps: two lines, 1 page at offset 3, 3 pages at offset 1", strcmp(layout(a, 4), "1@3 3@1") == 0);
  a[0] = 'd';
  CHECK("a write through it shows at page 3 and in the file",
        a[3 * PG] == 'd' && pread(fd, page, 1, 3 * PG) == 1 && page[0] == 'd');
  a[0] = 'D';
  CHECK("two pages (2-3) to file pages 0-1",
        rfp(a + 2 * PG, 2 * PG, 0, 0, 0) == 0 && strcmp(content(a, 4), "DBAB") == 0);
  CHECK("maps: three lines, 1@3 1@1 2@0", strcmp(layout(a, 4), "1@3 1@1 2@0") == 0);
  CHECK("the whole area back to pages 0-3: one line again",
        rfp(a, 4 * PG, 0, 0, 0) == 0 && strcmp(content(a, 4), "ABCD") == 0 && strcmp(layout(a, 4), "4@0") == 0);
  CHECK("pages 1-2 to file pages 2-3: 1@0 2@2 1@3", rfp(a + PG, 2 * PG, 0, 2, 0) == 0 &&
                                                        strcmp(content(a, 4), "ACDD") == 0 &&
                                                        strcmp(layout(a, 4), "1@0 2@2 1@3") == 0);
  rfp(a, 4 * PG, 0, 0, 0);
  CHECK("unaligned start: rounded down", rfp(a + 100, PG, 0, 1, 0) == 0 && strcmp(content(a, 4), "BBCD") == 0);
  CHECK("unaligned size: rounded down", rfp(a, PG + 100, 0, 3, 0) == 0 && strcmp(content(a, 4), "DBCD") == 0);
  CHECK("flags MAP_NONBLOCK", rfp(a, PG, 0, 2, MAP_NONBLOCK) == 0 && strcmp(content(a, 4), "CBCD") == 0);
  CHECK("other flags (0xffff) are ignored", rfp(a, PG, 0, 1, 0xffff) == 0 && strcmp(content(a, 4), "BBCD") == 0);
  rfp(a, 4 * PG, 0, 0, 0);
  CHECK_ERRNO("remap_file_pages: prot != 0: EINVAL", rfp(a, PG, PROT_READ, 1, 0), EINVAL);
  CHECK_ERRNO("size 0: EINVAL", rfp(a, 0, 0, 1, 0), EINVAL);
  CHECK_ERRNO("size under a page: EINVAL", rfp(a, 100, 0, 1, 0), EINVAL);
  CHECK_ERRNO("start + size wraps: EINVAL", rfp(a, -PG, 0, 0, 0), EINVAL);
  CHECK_ERRNO("pgoff + pages wraps: EINVAL", rfp(a, 2 * PG, 0, -1L, 0), EINVAL);
  CHECK_ERRNO("pgoff past any file size (1 << 52): EOVERFLOW", rfp(a, PG, 0, 1UL << 52, 0), EOVERFLOW);
  CHECK_ERRNO("a range past the end of the mapping: EINVAL", rfp(a + 3 * PG, 2 * PG, 0, 0, 0), EINVAL);
  CHECK_ERRNO("an unmapped start: EINVAL", rfp(hole, PG, 0, 0, 0), EINVAL);
  CHECK_ERRNO("a private anonymous mapping: EINVAL", rfp(res, PG, 0, 0, 0), EINVAL);
  char* priv = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  CHECK_ERRNO("a MAP_PRIVATE file mapping: EINVAL", rfp(priv, PG, 0, 3, 0), EINVAL);
  munmap(priv, 4 * PG);
  CHECK("unchanged by the failures", strcmp(content(a, 4), "ABCD") == 0 && strcmp(layout(a, 4), "4@0") == 0);
  CHECK("pgoff 10, past the end of the file: works",
        rfp(a + 3 * PG, PG, 0, 10, 0) == 0 && strcmp(layout(a, 4), "3@0 1@10") == 0);
  touch_at = a + 3 * PG;
  CHECK("touching that page: SIGBUS", killed_by(touch) == SIGBUS);
  char* ro = mmap(NULL, 4 * PG, PROT_READ, MAP_SHARED, fd, 0);
  CHECK("a read-only shared mapping: works", rfp(ro, PG, 0, 3, 0) == 0 && strcmp(content(ro, 4), "DBCD") == 0);
  munmap(ro, 4 * PG);
  /* Two mappings of file pages 0-1 side by side: one range across both works. */
  munmap(a, 4 * PG);
  mmap(res + PG, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
  mmap(res + 3 * PG, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
  CHECK("two adjacent mappings of file pages 0-1: 2@0 2@0",
        strcmp(content(a, 4), "ABAB") == 0 && strcmp(layout(a, 4), "2@0 2@0") == 0);
  CHECK("a range across both: works, one line",
        rfp(a, 4 * PG, 0, 0, 0) == 0 && strcmp(content(a, 4), "ABCD") == 0 && strcmp(layout(a, 4), "4@0") == 0);
  munmap(res, 6 * PG);
  close(fd);

  /* remap_file_pages on a shared anonymous mapping (its object is 4 pages). */
  res = mmap(NULL, 6 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char* s = mmap(res + PG, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  for (int i = 0; i < 4; i++) s[i * PG] = 'A' + i;
  CHECK("shared anonymous: remap_file_pages(addr, 4096, 0, 3, 0)",
        rfp(s, PG, 0, 3, 0) == 0 && strcmp(content(s, 4), "DBCD") == 0);
  CHECK("maps: 1@3 3@1", strcmp(layout(s, 4), "1@3 3@1") == 0);
  s[0] = 'd';
  CHECK("a write through it shows at page 3", s[3 * PG] == 'd');
  s[0] = 'D';
  CHECK("pages 2-3 to pages 1-2: 1@3 1@1 2@1", rfp(s + 2 * PG, 2 * PG, 0, 1, 0) == 0 &&
                                                   strcmp(content(s, 4), "DBBC") == 0 &&
                                                   strcmp(layout(s, 4), "1@3 1@1 2@1") == 0);
  CHECK("back to linear: one line",
        rfp(s, 4 * PG, 0, 0, 0) == 0 && strcmp(content(s, 4), "ABCD") == 0 && strcmp(layout(s, 4), "4@0") == 0);
  CHECK("pgoff 10, past the object: works", rfp(s, PG, 0, 10, 0) == 0 && strcmp(layout(s, 4), "1@10 3@1") == 0);
  touch_at = s;
  CHECK("touching that page: SIGBUS", killed_by(touch) == SIGBUS);
  munmap(res, 6 * PG);

  /* process_madvise with a pidfd of this process. */
  res = mmap(NULL, 6 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  anon = mmap(res + PG, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  memset(anon, 'x', 4 * PG);
  fd = open(path, O_RDONLY);
  char* f = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0); /* for move_pages, mapped before the hole is made */
  int self = pidfd_open(getpid());
  int devnull = open("/dev/null", O_RDONLY);
  struct iovec v[2] = {{anon, PG}, {anon + 2 * PG, 2 * PG}};
  CHECK("process_madvise(self, MADV_COLD) of 1 + 2 pages: 12288", pmadvise(self, v, 2, MADV_COLD_, 0) == 3 * PG);
  CHECK("MADV_PAGEOUT: 12288", pmadvise(self, v, 2, MADV_PAGEOUT_, 0) == 3 * PG);
  CHECK("the data survives", anon[0] == 'x' && anon[4 * PG - 1] == 'x');
  CHECK("MADV_WILLNEED: 12288", pmadvise(self, v, 2, MADV_WILLNEED_, 0) == 3 * PG);
  struct iovec odd = {anon, 100};
  CHECK("a 100-byte vector: 100", pmadvise(self, &odd, 1, MADV_COLD_, 0) == 100);
  struct iovec empty = {anon, 0};
  CHECK("a 0-byte vector: 0", pmadvise(self, &empty, 1, MADV_COLD_, 0) == 0);
  CHECK("vlen 0: 0", pmadvise(self, v, 0, MADV_COLD_, 0) == 0);
  CHECK("vlen 0, advice 999: 0", pmadvise(self, v, 0, 999, 0) == 0);
  CHECK("MADV_DONTNEED of itself: works, the page reads 0",
        pmadvise(self, v, 1, MADV_DONTNEED_, 0) == PG && anon[0] == 0);
  memset(anon, 'x', PG);
  CHECK_ERRNO("advice 999: EINVAL", pmadvise(self, v, 1, 999, 0), EINVAL);
  CHECK_ERRNO("flags 1: EINVAL", pmadvise(self, v, 1, MADV_COLD_, 1), EINVAL);
  CHECK_ERRNO("flags 1, bad fd: EINVAL (flags first)", pmadvise(999, v, 1, MADV_COLD_, 1), EINVAL);
  CHECK_ERRNO("vlen 1025: EINVAL", pmadvise(self, v, 1025, MADV_COLD_, 0), EINVAL);
  CHECK_ERRNO("vlen 1024, bad vector pointer: EFAULT", pmadvise(self, (void*)8, 1024, MADV_COLD_, 0), EFAULT);
  CHECK_ERRNO("bad vector pointer: EFAULT", pmadvise(self, (void*)8, 1, MADV_COLD_, 0), EFAULT);
  CHECK_ERRNO("bad vector pointer, bad fd: EFAULT (vector before fd)", pmadvise(999, (void*)8, 1, MADV_COLD_, 0),
              EFAULT);
  CHECK_ERRNO("bad fd: EBADF", pmadvise(999, v, 1, MADV_COLD_, 0), EBADF);
  CHECK_ERRNO("bad fd, vlen 0: EBADF", pmadvise(999, v, 0, MADV_COLD_, 0), EBADF);
  CHECK_ERRNO("not a pidfd: EBADF", pmadvise(devnull, v, 1, MADV_COLD_, 0), EBADF);
  struct iovec unaligned = {anon + 1, PG};
  CHECK_ERRNO("unaligned start: EINVAL", pmadvise(self, &unaligned, 1, MADV_COLD_, 0), EINVAL);
  hole = res + 5 * PG;
  munmap(hole, PG);
  struct iovec h = {hole, PG};
  CHECK_ERRNO("an unmapped range: ENOMEM", pmadvise(self, &h, 1, MADV_COLD_, 0), ENOMEM);
  struct iovec good_bad[2] = {{anon, PG}, {hole, PG}}, bad_good[2] = {{hole, PG}, {anon, PG}};
  CHECK("a mapped then an unmapped range: 4096", pmadvise(self, good_bad, 2, MADV_COLD_, 0) == PG);
  CHECK_ERRNO("an unmapped then a mapped range: ENOMEM", pmadvise(self, bad_good, 2, MADV_COLD_, 0), ENOMEM);

  /* process_madvise and process_mrelease with a child (same addresses, a copy of the memory). */
  pid_t child = idle_child();
  int cfd = pidfd_open(child);
  CHECK("child: MADV_COLD: 12288", pmadvise(cfd, v, 2, MADV_COLD_, 0) == 3 * PG);
  CHECK("child: MADV_PAGEOUT: 12288", pmadvise(cfd, v, 2, MADV_PAGEOUT_, 0) == 3 * PG);
  CHECK("child: MADV_WILLNEED: 12288", pmadvise(cfd, v, 2, MADV_WILLNEED_, 0) == 3 * PG);
  char back[8] = {0};
  struct iovec lv = {back, 4}, rv = {anon + 3 * PG, 4};
  CHECK("child: its data survives",
        syscall(SYS_process_vm_readv, child, &lv, 1, &rv, 1, 0) == 4 && memcmp(back, "xxxx", 4) == 0);
  CHECK_ERRNO("child: MADV_DONTNEED: EINVAL", pmadvise(cfd, v, 1, MADV_DONTNEED_, 0), EINVAL);
  CHECK_ERRNO("child: advice 999: EINVAL", pmadvise(cfd, v, 1, 999, 0), EINVAL);
  CHECK_ERRNO("child: an unmapped range: ENOMEM", pmadvise(cfd, &h, 1, MADV_COLD_, 0), ENOMEM);
  CHECK("child: a mapped then an unmapped range: 4096", pmadvise(cfd, good_bad, 2, MADV_COLD_, 0) == PG);
  CHECK_ERRNO("process_mrelease: flags 1: EINVAL", mrelease(cfd, 1), EINVAL);
  CHECK_ERRNO("process_mrelease: flags 1, bad fd: EINVAL (flags first)", mrelease(999, 1), EINVAL);
  CHECK_ERRNO("process_mrelease of a live child: EINVAL", mrelease(cfd, 0), EINVAL);
  CHECK_ERRNO("process_mrelease of itself: EINVAL", mrelease(self, 0), EINVAL);
  CHECK_ERRNO("process_mrelease: bad fd: EBADF", mrelease(999, 0), EBADF);
  CHECK_ERRNO("process_mrelease: not a pidfd: EBADF", mrelease(devnull, 0), EBADF);
  make_zombie(child);
  CHECK_ERRNO("process_madvise of a zombie: ESRCH", pmadvise(cfd, v, 1, MADV_COLD_, 0), ESRCH);
  CHECK_ERRNO("process_mrelease of a zombie: ESRCH", mrelease(cfd, 0), ESRCH);
  waitpid(child, NULL, 0);
  CHECK_ERRNO("process_madvise after it is reaped: ESRCH", pmadvise(cfd, v, 1, MADV_COLD_, 0), ESRCH);
  CHECK_ERRNO("process_mrelease after it is reaped: ESRCH", mrelease(cfd, 0), ESRCH);
  close(cfd);
  abi_failures += as_nobody(nobody_madvise);

  /* move_pages: page 0 written, page 1 untouched, page 2 only read (the zero page), a hole, a
   * page of a shared file mapping that was read, an address inside page 0. */
  anon[0] = 1;
  madvise(anon + PG, 2 * PG, MADV_DONTNEED);
  (void)*(volatile char*)(anon + 2 * PG);
  (void)*(volatile char*)f;
  void* pages[6] = {anon, anon + PG, anon + 2 * PG, hole, f, anon + 5};
  int st[6], nodes0[6] = {0}, nodes_01[2] = {0, 1}, nodes_64[1] = {64}, nodes_m1[1] = {-1}, nodes_1024[1] = {1024};
  memset(st, 0x55, sizeof st);
  CHECK("move_pages(0) query: written 0, untouched -ENOENT, zero page 0 or -EFAULT, hole -EFAULT, file 0, inside 0",
        move_pages(0, 6, pages, NULL, st, 0) == 0 && same_statuses(st, 6, "0 -2 Z -14 0 0"));
  memset(st, 0x55, sizeof st);
  CHECK("move to node 0 (MPOL_MF_MOVE): the same statuses",
        move_pages(0, 6, pages, nodes0, st, MPOL_MF_MOVE) == 0 && same_statuses(st, 6, "0 -2 Z -14 0 0"));
  memset(st, 0x55, sizeof st);
  CHECK("MPOL_MF_MOVE_ALL: the same",
        move_pages(0, 6, pages, nodes0, st, MPOL_MF_MOVE_ALL) == 0 && same_statuses(st, 6, "0 -2 Z -14 0 0"));
  memset(st, 0x55, sizeof st);
  CHECK("flags 0 with nodes: the same",
        move_pages(0, 6, pages, nodes0, st, 0) == 0 && same_statuses(st, 6, "0 -2 Z -14 0 0"));
  memset(st, 0x55, sizeof st);
  CHECK_ERRNO("nodes {0, 1}: ENODEV", move_pages(0, 2, pages, nodes_01, st, MPOL_MF_MOVE), ENODEV);
  CHECK("the first status was stored (0), the second not", st[0] == 0 && st[1] == 0x55555555);
  CHECK_ERRNO("node 64: ENODEV", move_pages(0, 1, pages, nodes_64, st, MPOL_MF_MOVE), ENODEV);
  CHECK_ERRNO("node -1: ENODEV", move_pages(0, 1, pages, nodes_m1, st, MPOL_MF_MOVE), ENODEV);
  CHECK_ERRNO("node 1024: ENODEV", move_pages(0, 1, pages, nodes_1024, st, MPOL_MF_MOVE), ENODEV);
  CHECK_ERRNO("flags 1: EINVAL", move_pages(0, 1, pages, NULL, st, 1), EINVAL);
  CHECK_ERRNO("flags 8: EINVAL", move_pages(0, 1, pages, NULL, st, 8), EINVAL);
  CHECK_ERRNO("flags 1, no such process: EINVAL (flags first)", move_pages(999999, 1, pages, NULL, st, 1), EINVAL);
  CHECK("count 0: 0", move_pages(0, 0, pages, NULL, st, 0) == 0);
  CHECK("count 0 with bad pointers: 0", move_pages(0, 0, (void*)8, (void*)8, (void*)8, MPOL_MF_MOVE) == 0);
  CHECK_ERRNO("bad pages array: EFAULT", move_pages(0, 1, (void*)8, NULL, st, 0), EFAULT);
  CHECK_ERRNO("bad status array: EFAULT", move_pages(0, 1, pages, NULL, (void*)8, 0), EFAULT);
  CHECK_ERRNO("bad nodes array: EFAULT", move_pages(0, 1, pages, (void*)8, st, MPOL_MF_MOVE), EFAULT);
  CHECK_ERRNO("bad pages array when moving: EFAULT", move_pages(0, 1, (void*)8, nodes0, st, MPOL_MF_MOVE), EFAULT);
  CHECK_ERRNO("no such process: ESRCH", move_pages(999999, 1, pages, NULL, st, 0), ESRCH);
  CHECK_ERRNO("no such process when moving: ESRCH", move_pages(999999, 1, pages, nodes0, st, MPOL_MF_MOVE), ESRCH);
  child = idle_child();
  memset(st, 0x55, sizeof st);
  CHECK("child query: written 0, untouched -ENOENT, zero page 0 or -EFAULT, hole -EFAULT",
        move_pages(child, 4, pages, NULL, st, 0) == 0 && same_statuses(st, 4, "0 -2 Z -14"));
  memset(st, 0x55, sizeof st);
  CHECK("child: move to node 0: the same",
        move_pages(child, 4, pages, nodes0, st, MPOL_MF_MOVE) == 0 && same_statuses(st, 4, "0 -2 Z -14"));
  memset(st, 0x55, sizeof st);
  CHECK("child: MPOL_MF_MOVE_ALL: the same",
        move_pages(child, 4, pages, nodes0, st, MPOL_MF_MOVE_ALL) == 0 && same_statuses(st, 4, "0 -2 Z -14"));
  make_zombie(child);
  CHECK_ERRNO("a zombie: EINVAL", move_pages(child, 1, pages, NULL, st, 0), EINVAL);
  waitpid(child, NULL, 0);
  abi_failures += as_nobody(nobody_move_pages);
  munmap(f, PG);
  close(fd);

  /* set_mempolicy_home_node. */
  char* x = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  unsigned long node_mask = 1, got;
  CHECK_ERRNO("set_mempolicy_home_node on a range without a policy: ENOENT", home_node(x, PG, 0, 0), ENOENT);
  CHECK_ERRNO("len 100 (rounded up), no policy: ENOENT", home_node(x, 100, 0, 0), ENOENT);
  CHECK("len 0: 0", home_node(x, 0, 0, 0) == 0);
  CHECK_ERRNO("unaligned start: EINVAL", home_node(x + 1, PG, 0, 0), EINVAL);
  CHECK_ERRNO("flags 1: EINVAL", home_node(x, PG, 0, 1), EINVAL);
  CHECK_ERRNO("home node 1: EINVAL", home_node(x, PG, 1, 0), EINVAL);
  CHECK_ERRNO("home node 1, len 0: EINVAL (node first)", home_node(x, 0, 1, 0), EINVAL);
  CHECK_ERRNO("home node 1024: EINVAL", home_node(x, PG, 1024, 0), EINVAL);
  CHECK_ERRNO("start + len wraps: EINVAL", home_node(x, -PG, 0, 0), EINVAL);
  CHECK_ERRNO("an unmapped range: ENOENT", home_node(hole, PG, 0, 0), ENOENT);
  CHECK("an unmapped range, len 0: 0", home_node(hole, 0, 0, 0) == 0);
  CHECK("mbind(MPOL_BIND, {0}) of pages 0-1", mbind(x, 2 * PG, MPOL_BIND, &node_mask, 64) == 0);
  CHECK("home node 0 on them: 0", home_node(x, 2 * PG, 0, 0) == 0);
  CHECK("the policy is still MPOL_BIND {0}",
        policy_at(x, &got) == MPOL_BIND && got == 1 && policy_at(x + PG, &got) == MPOL_BIND && got == 1);
  CHECK("on page 0 only: 0", home_node(x, PG, 0, 0) == 0);
  CHECK("MPOL_BIND pages then pages without a policy: 0", home_node(x + PG, 4 * PG, 0, 0) == 0);
  CHECK("mbind(MPOL_PREFERRED, {0}) of pages 2-3", mbind(x + 2 * PG, 2 * PG, MPOL_PREFERRED, &node_mask, 64) == 0);
  CHECK_ERRNO("on MPOL_PREFERRED: EOPNOTSUPP", home_node(x + 2 * PG, PG, 0, 0), EOPNOTSUPP);
  CHECK_ERRNO("MPOL_BIND then MPOL_PREFERRED pages: EOPNOTSUPP", home_node(x, 4 * PG, 0, 0), EOPNOTSUPP);
  CHECK("mbind(MPOL_INTERLEAVE, {0}) of pages 4-5", mbind(x + 4 * PG, 2 * PG, MPOL_INTERLEAVE, &node_mask, 64) == 0);
  CHECK_ERRNO("on MPOL_INTERLEAVE: EOPNOTSUPP", home_node(x + 4 * PG, PG, 0, 0), EOPNOTSUPP);
  CHECK("mbind(MPOL_PREFERRED_MANY, {0}) of page 6", mbind(x + 6 * PG, PG, MPOL_PREFERRED_MANY, &node_mask, 64) == 0);
  CHECK("on MPOL_PREFERRED_MANY: 0", home_node(x + 6 * PG, PG, 0, 0) == 0);
  CHECK("mbind(MPOL_LOCAL) of page 7", mbind(x + 7 * PG, PG, MPOL_LOCAL, NULL, 0) == 0);
  CHECK_ERRNO("on MPOL_LOCAL: EOPNOTSUPP", home_node(x + 7 * PG, PG, 0, 0), EOPNOTSUPP);
  CHECK("the policies are unchanged",
        policy_at(x, &got) == MPOL_BIND && policy_at(x + 2 * PG, &got) == MPOL_PREFERRED &&
            policy_at(x + 4 * PG, &got) == MPOL_INTERLEAVE && policy_at(x + 6 * PG, &got) == MPOL_PREFERRED_MANY &&
            policy_at(x + 7 * PG, &got) == MPOL_LOCAL);
  munmap(x, 8 * PG);

  unlink(path);
  rmdir(subdir);
  rmdir(mnt);
  rmdir(mnt2);
  rmdir(dir);
  return ABI_DONE();
}
