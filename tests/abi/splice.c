/* Data moved between descriptors and the newer file calls: splice (pipe to file, file to pipe,
 * pipe to pipe, offsets), tee, vmsplice both ways, copy_file_range, preadv2/pwritev2 with their
 * flags, fallocate (tmpfs's modes), readahead, sync_file_range, utime/futimesat/utimes, and the
 * old getdents; with the errno of every documented failure. Run natively (in a tmpfs directory)
 * and under the kernel: the outputs must match. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <utime.h>

#include "abi_check.h"

#ifndef RWF_HIPRI
#define RWF_HIPRI 1
#define RWF_DSYNC 2
#define RWF_SYNC 4
#define RWF_NOWAIT 8
#define RWF_APPEND 16
#endif
/* Not in every C library: the system calls themselves (x86-64 takes the offset whole). */
static ssize_t preadv2(int fd, const struct iovec* v, int n, off_t off, int flags) {
  return syscall(SYS_preadv2, fd, v, n, off, 0, flags);
}
static ssize_t pwritev2(int fd, const struct iovec* v, int n, off_t off, int flags) {
  return syscall(SYS_pwritev2, fd, v, n, off, 0, flags);
}

#ifndef FALLOC_FL_COLLAPSE_RANGE
#define FALLOC_FL_COLLAPSE_RANGE 8
#endif

static char dir[64];

static void path(char* out, const char* name) { snprintf(out, 128, "%s/%s", dir, name); }

static int make_file(const char* name, const char* content) {
  char p[128];
  path(p, name);
  int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (content) write(fd, content, strlen(content));
  lseek(fd, 0, SEEK_SET);
  return fd;
}

static off_t size_of(int fd) {
  struct stat st;
  fstat(fd, &st);
  return st.st_size;
}

static void splices(void) {
  int p[2], q[2];
  pipe(p);
  pipe(q);
  int f = make_file("a", "0123456789abcdef");
  /* file -> pipe at the file position. */
  CHECK("splice file -> pipe: 10 bytes", splice(f, NULL, p[1], NULL, 10, 0) == 10);
  CHECK("the file position moved by 10", lseek(f, 0, SEEK_CUR) == 10);
  char buf[64] = {0};
  CHECK("the pipe holds them", read(p[0], buf, sizeof buf) == 10 && memcmp(buf, "0123456789", 10) == 0);
  /* file -> pipe at an offset: the position stays, the offset moves. */
  loff_t off = 12;
  CHECK("splice with an input offset", splice(f, &off, p[1], NULL, 100, 0) == 4 && off == 16);
  CHECK("the position did not move", lseek(f, 0, SEEK_CUR) == 10);
  /* pipe -> pipe. */
  CHECK("splice pipe -> pipe", splice(p[0], NULL, q[1], NULL, 100, 0) == 4);
  memset(buf, 0, sizeof buf);
  CHECK("moved, not copied", read(q[0], buf, sizeof buf) == 4 && memcmp(buf, "cdef", 4) == 0);
  /* pipe -> file at an offset. */
  write(p[1], "XYZ", 3);
  off = 2;
  int g = make_file("b", "..........");
  CHECK("splice pipe -> file at offset 2", splice(p[0], NULL, g, &off, 3, 0) == 3 && off == 5);
  memset(buf, 0, sizeof buf);
  pread(g, buf, sizeof buf, 0);
  CHECK("the file has them there", strcmp(buf, "..XYZ.....") == 0);
  /* pipe -> file at the position. */
  write(p[1], "pq", 2);
  lseek(g, 8, SEEK_SET);
  CHECK("splice pipe -> file at the position", splice(p[0], NULL, g, NULL, 64, 0) == 2 && lseek(g, 0, SEEK_CUR) == 10);
  /* Nothing to read. */
  CHECK_ERRNO("empty pipe with SPLICE_F_NONBLOCK: EAGAIN", splice(p[0], NULL, g, NULL, 10, SPLICE_F_NONBLOCK), EAGAIN);
  close(q[1]);
  CHECK("a pipe without writers: 0", splice(q[0], NULL, g, NULL, 10, 0) == 0);
  close(q[0]);
  /* Errors. */
  CHECK("length 0: 0", splice(f, NULL, p[1], NULL, 0, 0) == 0);
  CHECK_ERRNO("no pipe on either side: EINVAL", splice(f, NULL, g, NULL, 10, 0), EINVAL);
  CHECK_ERRNO("offset on the pipe side: ESPIPE", splice(p[0], &off, g, NULL, 10, 0), ESPIPE);
  CHECK_ERRNO("unknown flags: EINVAL", splice(f, NULL, p[1], NULL, 10, 0x100), EINVAL);
  CHECK_ERRNO("closed descriptor: EBADF", splice(99, NULL, p[1], NULL, 10, 0), EBADF);
  CHECK_ERRNO("the write end as input: EBADF", splice(p[1], NULL, g, NULL, 10, 0), EBADF);
  CHECK_ERRNO("a pipe into itself: EINVAL", splice(p[0], NULL, p[1], NULL, 10, 0), EINVAL);
  off = -1;
  CHECK_ERRNO("negative offset: EINVAL", splice(f, &off, p[1], NULL, 10, 0), EINVAL);
  CHECK_ERRNO("bad offset pointer: EFAULT", splice(f, (loff_t*)8, p[1], NULL, 10, 0), EFAULT);
  int app = make_file("app", NULL);
  fcntl(app, F_SETFL, O_APPEND);
  write(p[1], "x", 1);
  CHECK_ERRNO("to an O_APPEND file: EINVAL", splice(p[0], NULL, app, NULL, 1, 0), EINVAL);
  char c;
  read(p[0], &c, 1);
  /* A pipe without readers. */
  pipe(q);
  close(q[0]);
  signal(SIGPIPE, SIG_IGN);
  lseek(f, 0, SEEK_SET);
  CHECK_ERRNO("into a pipe without readers: EPIPE", splice(f, NULL, q[1], NULL, 4, 0), EPIPE);
  close(q[1]);

  /* tee: copies, the source keeps its bytes. */
  pipe(q);
  write(p[1], "teedata", 7);
  CHECK("tee", tee(p[0], q[1], 100, 0) == 7);
  memset(buf, 0, sizeof buf);
  CHECK("the copy", read(q[0], buf, sizeof buf) == 7 && strcmp(buf, "teedata") == 0);
  memset(buf, 0, sizeof buf);
  CHECK("the source still has them", read(p[0], buf, sizeof buf) == 7 && strcmp(buf, "teedata") == 0);
  CHECK_ERRNO("tee of an empty pipe with SPLICE_F_NONBLOCK: EAGAIN", tee(p[0], q[1], 10, SPLICE_F_NONBLOCK), EAGAIN);
  CHECK_ERRNO("tee from a file: EINVAL", tee(f, q[1], 10, 0), EINVAL);
  CHECK_ERRNO("tee of a pipe to itself: EINVAL", tee(p[0], p[1], 10, 0), EINVAL);

  /* vmsplice both ways. */
  struct iovec iov[2] = {{"vm", 2}, {"splice", 6}};
  CHECK("vmsplice into a pipe from two vectors", vmsplice(p[1], iov, 2, 0) == 8);
  char x[3] = {0}, y[6] = {0};
  struct iovec out[2] = {{x, 3}, {y, 5}};
  CHECK("vmsplice out of a pipe into two vectors",
        vmsplice(p[0], out, 2, 0) == 8 && memcmp(x, "vms", 3) == 0 && memcmp(y, "plice", 5) == 0);
  CHECK_ERRNO("vmsplice out of an empty pipe, nonblocking: EAGAIN", vmsplice(p[0], out, 2, SPLICE_F_NONBLOCK), EAGAIN);
  CHECK_ERRNO("vmsplice on a file: EBADF", vmsplice(f, iov, 2, 0), EBADF);
  CHECK_ERRNO("vmsplice: bad flags: EINVAL", vmsplice(p[1], iov, 2, 0x100), EINVAL);
  CHECK("vmsplice of no vectors: 0", vmsplice(p[1], iov, 0, 0) == 0);
  close(p[0]);
  close(p[1]);
  close(q[0]);
  close(q[1]);
  close(f);
  close(g);
  close(app);
}

static void copy_ranges(void) {
  int a = make_file("ca", "hello, copy_file_range");
  int b = make_file("cb", NULL);
  CHECK("copy_file_range at the positions", copy_file_range(a, NULL, b, NULL, 5, 0) == 5);
  CHECK("both positions moved", lseek(a, 0, SEEK_CUR) == 5 && lseek(b, 0, SEEK_CUR) == 5);
  loff_t oi = 7, oo = 100;
  CHECK("with offsets: stops at the end of the input",
        copy_file_range(a, &oi, b, &oo, 1000, 0) == 15 && oi == 22 && oo == 115);
  CHECK("the output grew", size_of(b) == 115);
  char buf[32] = {0};
  pread(b, buf, 15, 100);
  CHECK("with the bytes", strcmp(buf, "copy_file_range") == 0);
  oi = 100;
  CHECK("from past the end: 0", copy_file_range(a, &oi, b, NULL, 10, 0) == 0);
  oi = 0;
  oo = 3;
  CHECK_ERRNO("overlapping ranges of one file: EINVAL", copy_file_range(a, &oi, a, &oo, 10, 0), EINVAL);
  oo = 30;
  CHECK("non-overlapping ranges of one file", copy_file_range(a, &oi, a, &oo, 5, 0) == 5);
  CHECK_ERRNO("flags: EINVAL", copy_file_range(a, NULL, b, NULL, 5, 1), EINVAL);
  int p[2];
  pipe(p);
  CHECK_ERRNO("from a pipe: EINVAL", copy_file_range(p[0], NULL, b, NULL, 5, 0), EINVAL);
  int d = open(dir, O_RDONLY | O_DIRECTORY);
  CHECK_ERRNO("from a directory: EISDIR", copy_file_range(d, NULL, b, NULL, 5, 0), EISDIR);
  char bp[128];
  path(bp, "cb");
  int ro = open(bp, O_RDONLY);
  CHECK_ERRNO("to a read-only descriptor: EBADF", copy_file_range(a, NULL, ro, NULL, 5, 0), EBADF);
  CHECK_ERRNO("closed descriptor: EBADF", copy_file_range(99, NULL, b, NULL, 5, 0), EBADF);
  oi = -1;
  CHECK_ERRNO("negative offset (wraps): EOVERFLOW", copy_file_range(a, &oi, b, NULL, 5, 0), EOVERFLOW);
  close(p[0]);
  close(p[1]);
  close(d);
  close(ro);
  close(a);
  close(b);
}

static void rw2(void) {
  int f = make_file("rw2", "abcdefgh");
  char x[4] = {0};
  struct iovec v = {x, 3};
  CHECK("preadv2 at offset 2", preadv2(f, &v, 1, 2, 0) == 3 && memcmp(x, "cde", 3) == 0);
  CHECK("the position did not move", lseek(f, 0, SEEK_CUR) == 0);
  CHECK("preadv2 at -1: the position",
        preadv2(f, &v, 1, -1, 0) == 3 && memcmp(x, "abc", 3) == 0 && lseek(f, 0, SEEK_CUR) == 3);
  CHECK("RWF_HIPRI|RWF_DSYNC|RWF_SYNC accepted", preadv2(f, &v, 1, 0, RWF_HIPRI | RWF_DSYNC | RWF_SYNC) == 3);
  struct iovec w = {"XY", 2};
  CHECK("pwritev2 at offset 1", pwritev2(f, &w, 1, 1, 0) == 2);
  CHECK("pwritev2 with RWF_APPEND writes at the end", pwritev2(f, &w, 1, 0, RWF_APPEND) == 2 && size_of(f) == 10);
  char all[16] = {0};
  pread(f, all, sizeof all, 0);
  CHECK("the file", strcmp(all, "aXYdefghXY") == 0);
  CHECK_ERRNO("offset -2: EINVAL", preadv2(f, &v, 1, -2, 0), EINVAL);
  CHECK_ERRNO("unknown flag: EOPNOTSUPP", preadv2(f, &v, 1, 0, 0x10000), EOPNOTSUPP);
  int p[2];
  pipe(p);
  CHECK_ERRNO("RWF_NOWAIT on an empty pipe: EAGAIN", preadv2(p[0], &v, 1, -1, RWF_NOWAIT), EAGAIN);
  CHECK_ERRNO("an offset on a pipe: ESPIPE", preadv2(p[0], &v, 1, 0, 0), ESPIPE);
  CHECK_ERRNO("pwritev2 on a read end: EBADF", pwritev2(p[0], &w, 1, -1, 0), EBADF);
  close(p[0]);
  close(p[1]);
  close(f);
}

static void fallocates(void) {
  int f = make_file("fa", "0123456789");
  CHECK("fallocate extends the size", fallocate(f, 0, 5, 20) == 0 && size_of(f) == 25);
  char buf[32];
  memset(buf, 1, sizeof buf);
  CHECK("with zeros", pread(f, buf, 32, 0) == 25 && buf[10] == 0 && buf[24] == 0 && buf[9] == '9');
  CHECK("FALLOC_FL_KEEP_SIZE keeps it", fallocate(f, FALLOC_FL_KEEP_SIZE, 0, 100) == 0 && size_of(f) == 25);
  CHECK("inside the file: no change", fallocate(f, 0, 0, 5) == 0 && size_of(f) == 25);
  CHECK("PUNCH_HOLE|KEEP_SIZE", fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 2, 3) == 0);
  pread(f, buf, 10, 0);
  CHECK("the hole reads zeros", memcmp(buf,
                                       "01\0\0\0"
                                       "56789",
                                       10) == 0 &&
                                    size_of(f) == 25);
  CHECK_ERRNO("PUNCH_HOLE without KEEP_SIZE: EOPNOTSUPP", fallocate(f, FALLOC_FL_PUNCH_HOLE, 0, 1), EOPNOTSUPP);
  CHECK_ERRNO("COLLAPSE_RANGE on tmpfs: EOPNOTSUPP", fallocate(f, FALLOC_FL_COLLAPSE_RANGE, 0, 4096), EOPNOTSUPP);
  CHECK_ERRNO("unknown mode: EOPNOTSUPP", fallocate(f, 0x1000, 0, 1), EOPNOTSUPP);
  CHECK_ERRNO("length 0: EINVAL", fallocate(f, 0, 0, 0), EINVAL);
  CHECK_ERRNO("negative offset: EINVAL", fallocate(f, 0, -1, 1), EINVAL);
  CHECK_ERRNO("past the largest size: EFBIG", fallocate(f, 0, INT64_MAX - 10, 100), EFBIG);
  int p[2];
  pipe(p);
  CHECK_ERRNO("on a pipe: ESPIPE", fallocate(p[1], 0, 0, 1), ESPIPE);
  char fp[128];
  path(fp, "fa");
  int ro = open(fp, O_RDONLY);
  CHECK_ERRNO("read-only descriptor: EBADF", fallocate(ro, 0, 0, 1), EBADF);
  CHECK("readahead", readahead(ro, 0, 4096) == 0);
  CHECK_ERRNO("readahead of a pipe: EINVAL", readahead(p[0], 0, 10), EINVAL);
  CHECK_ERRNO("readahead of a write-only end: EBADF", readahead(p[1], 0, 10), EBADF);
  CHECK("sync_file_range", sync_file_range(f, 0, 10, SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) == 0);
  CHECK_ERRNO("sync_file_range: bad flags: EINVAL", sync_file_range(f, 0, 10, 8), EINVAL);
  CHECK_ERRNO("sync_file_range: negative offset: EINVAL", sync_file_range(f, -1, 10, 0), EINVAL);
  CHECK_ERRNO("sync_file_range of a pipe: ESPIPE", sync_file_range(p[0], 0, 10, 0), ESPIPE);
  close(p[0]);
  close(p[1]);
  close(ro);
  close(f);
}

static void times_and_dirents(void) {
  char fp[128];
  path(fp, "t");
  close(make_file("t", "x"));
  struct utimbuf ub = {1000000, 2000000};
  CHECK("utime", utime(fp, &ub) == 0);
  struct stat st;
  stat(fp, &st);
  CHECK("atime and mtime set", st.st_atime == 1000000 && st.st_mtime == 2000000);
  struct timeval tv[2] = {{3000, 500000}, {4000, 250000}};
  int d = open(dir, O_RDONLY | O_DIRECTORY);
  CHECK("futimesat relative to a directory", syscall(SYS_futimesat, d, "t", tv) == 0);
  stat(fp, &st);
  CHECK("with microseconds", st.st_atime == 3000 && st.st_atim.tv_nsec == 500000000 && st.st_mtime == 4000 &&
                                 st.st_mtim.tv_nsec == 250000000);
  tv[1].tv_usec = 1000000;
  CHECK_ERRNO("futimesat: tv_usec 1e6: EINVAL", syscall(SYS_futimesat, d, "t", tv), EINVAL);
  CHECK_ERRNO("utimes: tv_usec 1e6 before the lookup: EINVAL", utimes("/no/such/file", tv), EINVAL);
  CHECK_ERRNO("utime: no such file: ENOENT", utime("/no/such/file", &ub), ENOENT);
  CHECK("utime with no times: now", utime(fp, NULL) == 0 && stat(fp, &st) == 0 && st.st_mtime > 1000000000);

  /* The old getdents: the names, each record's type in its last byte. */
  close(make_file("zz", NULL));
  mkdir(strcat(strcpy(fp, dir), "/sub"), 0755);
  char buf[4096];
  long n = syscall(SYS_getdents, d, buf, sizeof buf);
  int found_t = 0, found_sub = 0, dots = 0, bad = 0;
  for (long p = 0; p < n;) {
    unsigned short reclen = *(unsigned short*)(buf + p + 16);
    const char* name = buf + p + 18;
    char type = buf[p + reclen - 1];
    if (strcmp(name, "t") == 0) found_t = type == DT_REG;
    if (strcmp(name, "sub") == 0) found_sub = type == DT_DIR;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) dots++;
    if (reclen % 8 != 0 || reclen < 20) bad = 1;
    p += reclen;
  }
  CHECK("getdents: a regular file with DT_REG", found_t);
  CHECK("a directory with DT_DIR, and . and ..", found_sub && dots == 2);
  CHECK("records 8-byte aligned", !bad && n > 0);
  CHECK("at the end: 0", syscall(SYS_getdents, d, buf, sizeof buf) == 0);
  lseek(d, 0, SEEK_SET);
  CHECK_ERRNO("a buffer too small for one record: EINVAL", syscall(SYS_getdents, d, buf, 10), EINVAL);
  int f = open(strcat(strcpy(fp, dir), "/t"), O_RDONLY);
  CHECK_ERRNO("of a file: ENOTDIR", syscall(SYS_getdents, f, buf, sizeof buf), ENOTDIR);
  CHECK_ERRNO("closed descriptor: EBADF", syscall(SYS_getdents, 99, buf, sizeof buf), EBADF);
  close(f);
  close(d);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  /* A tmpfs directory natively (/dev/shm), the root file system (ramfs) under the kernel. */
  strcpy(dir, access("/dev/shm", W_OK) == 0 ? "/dev/shm/abi_splice_XXXXXX" : "/tmp/abi_splice_XXXXXX");
  if (access("/tmp", W_OK) != 0 && access("/dev/shm", W_OK) != 0) mkdir("/tmp", 01777);
  if (mkdtemp(dir) == NULL) {
    printf("FAIL mkdtemp\n");
    return 1;
  }
  splices();
  copy_ranges();
  rw2();
  fallocates();
  times_and_dirents();
  char cmd[128];
  snprintf(cmd, sizeof cmd, "%s", dir);
  /* Leave nothing behind. */
  const char* names[] = {"a", "b", "app", "ca", "cb", "rw2", "fa", "t", "zz"};
  for (unsigned i = 0; i < sizeof names / sizeof names[0]; ++i) {
    char p[128];
    path(p, names[i]);
    unlink(p);
  }
  char sub[128];
  path(sub, "sub");
  rmdir(sub);
  rmdir(cmd);
  return ABI_DONE();
}
