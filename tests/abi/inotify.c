/* inotify: inotify_init/inotify_init1 (IN_NONBLOCK, IN_CLOEXEC), inotify_add_watch (same inode
 * gives the same wd, IN_MASK_ADD, IN_MASK_CREATE, IN_ONLYDIR, IN_DONT_FOLLOW, IN_EXCL_UNLINK,
 * IN_ONESHOT), inotify_rm_watch and IN_IGNORED, and the exact events, in order, that file
 * operations produce: on a watched directory (create, open, read, write, close, chmod, chown,
 * truncate, utimensat, mkdir, rmdir, unlink, rename in and across directories with their
 * cookies, link, symlink, getdents of the directory itself) and on a watched file or directory
 * (MODIFY, ATTRIB, DELETE_SELF, MOVE_SELF, IGNORED, also when it is still open), and their order
 * when a directory and its child are both watched. The records' layout (name padded to 16 bytes),
 * merging of an event identical to the queue's last one, short read buffers (and the event lost
 * to a read into a bad buffer), EAGAIN, a blocking read woken by another process, poll, FIONREAD,
 * an inherited queue across fork, and the errno of every documented failure. Run natively and
 * under the kernel: the outputs must match. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "abi_check.h"

/* The instance under test: nonblocking, so drain() stops at an empty queue. */
static int ifd = -1;

/* Names of this instance's watches, for the event strings. */
static struct {
  int wd;
  const char* name;
} labels[16];
static int nlabels;

/* The events of the last drain(). */
struct event {
  int wd;
  uint32_t mask, cookie, len;
  char name[256];
};
static struct event evs[256];
static int nev;
static int layout_ok = 1, cookies_ok = 1;

static void fresh(void) {
  if (ifd >= 0) close(ifd);
  ifd = inotify_init1(IN_NONBLOCK);
  nlabels = 0;
}

/* Watches path with mask; events on it print as "label/EVENT" (just "EVENT" for label ""). */
static int watch(const char* path, uint32_t mask, const char* label) {
  int wd = inotify_add_watch(ifd, path, mask);
  if (wd >= 0 && nlabels < 16) {
    labels[nlabels].wd = wd;
    labels[nlabels].name = label;
    nlabels++;
  }
  return wd;
}

static const char* label_of(int wd) {
  for (int i = nlabels - 1; i >= 0; i--)
    if (labels[i].wd == wd) return labels[i].name;
  return "?";
}

static const struct {
  uint32_t bit;
  const char* name;
  // clang-format off
} bits[] = {
    {IN_ACCESS, "ACCESS"},       {IN_MODIFY, "MODIFY"},         {IN_ATTRIB, "ATTRIB"},
    {IN_CLOSE_WRITE, "CLOSE_WRITE"}, {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"}, {IN_OPEN, "OPEN"},
    {IN_MOVED_FROM, "MOVED_FROM"}, {IN_MOVED_TO, "MOVED_TO"},     {IN_CREATE, "CREATE"},
    {IN_DELETE, "DELETE"},       {IN_DELETE_SELF, "DELETE_SELF"}, {IN_MOVE_SELF, "MOVE_SELF"},
    {IN_UNMOUNT, "UNMOUNT"},     {IN_Q_OVERFLOW, "Q_OVERFLOW"}, {IN_IGNORED, "IGNORED"},
    {IN_ISDIR, "ISDIR"},
};
// clang-format on

/* Checks one record's layout: the name NUL-padded to a multiple of 16 bytes, exactly as Linux
 * pads it (roundup(strlen + 1, 16)); a cookie only on moves. */
static void check_record(const struct inotify_event* e) {
  if (e->len % 16 != 0) layout_ok = 0;
  if (e->len > 0) {
    size_t l = strnlen(e->name, e->len);
    if (l == e->len || e->len != ((l + 1 + 15) & ~(size_t)15)) layout_ok = 0;
    for (size_t i = l; i < e->len; i++)
      if (e->name[i] != 0) layout_ok = 0;
  }
  int move = (e->mask & (IN_MOVED_FROM | IN_MOVED_TO)) != 0;
  if (move ? e->cookie == 0 : e->cookie != 0) cookies_ok = 0;
}

/* Reads every queued event of ifd; returns them as "label/MASK|BITS:name ..." */
static const char* drain(void) {
  static char out[8192];
  char buf[4096] __attribute__((aligned(16)));
  size_t o = 0;
  out[0] = 0;
  nev = 0;
  for (;;) {
    ssize_t n = read(ifd, buf, sizeof buf);
    if (n < 0) {
      if (errno != EAGAIN) o += snprintf(out + o, sizeof out - o, "%sREAD-%s", o ? " " : "", strerror(errno));
      break;
    }
    if (n == 0) {
      o += snprintf(out + o, sizeof out - o, "%sREAD-0", o ? " " : "");
      break;
    }
    for (char* p = buf; p < buf + n;) {
      struct inotify_event* e = (struct inotify_event*)p;
      check_record(e);
      if (nev < 256) {
        evs[nev].wd = e->wd;
        evs[nev].mask = e->mask;
        evs[nev].cookie = e->cookie;
        evs[nev].len = e->len;
        snprintf(evs[nev].name, sizeof evs[nev].name, "%s", e->len ? e->name : "");
        nev++;
      }
      if (o) o += snprintf(out + o, sizeof out - o, " ");
      const char* l = label_of(e->wd);
      if (*l) o += snprintf(out + o, sizeof out - o, "%s/", l);
      uint32_t m = e->mask;
      int first = 1;
      for (size_t i = 0; i < sizeof bits / sizeof bits[0]; i++)
        if (m & bits[i].bit) {
          o += snprintf(out + o, sizeof out - o, "%s%s", first ? "" : "|", bits[i].name);
          m &= ~bits[i].bit;
          first = 0;
        }
      if (m) o += snprintf(out + o, sizeof out - o, "%s0x%x", first ? "" : "|", m);
      if (e->len) o += snprintf(out + o, sizeof out - o, ":%s", e->name);
      p += sizeof *e + e->len;
    }
  }
  return out;
}

/* The queued events must be exactly `want`. */
static void expect(const char* what, const char* want) {
  const char* got = drain();
  int ok = strcmp(got, want) == 0;
  CHECK(what, ok);
  if (!ok) printf("      got:  [%s]\n      want: [%s]\n", got, want);
}

/* The cookie of the first event with this bit in the last drain (0 if none). */
static uint32_t cookie_of(uint32_t bit) {
  for (int i = 0; i < nev; i++)
    if (evs[i].mask & bit) return evs[i].cookie;
  return 0;
}

static int make_file(const char* path, const char* text) {
  int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
  if (fd < 0) return -1;
  int ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
  close(fd);
  return ok ? 0 : -1;
}

static int cloexec(int fd) { return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }
static int nonblock(int fd) { return (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0; }

static void init_flags(void) {
  int a = syscall(SYS_inotify_init);
  CHECK("inotify_init", a >= 0);
  CHECK("inotify_init: blocking, no close-on-exec, read-only",
        !cloexec(a) && !nonblock(a) && (fcntl(a, F_GETFL) & O_ACCMODE) == O_RDONLY);
  int b = inotify_init1(0);
  CHECK("inotify_init1(0): blocking, no close-on-exec", b >= 0 && !cloexec(b) && !nonblock(b));
  int c = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  CHECK("inotify_init1(IN_NONBLOCK|IN_CLOEXEC): both set", c >= 0 && cloexec(c) && nonblock(c));
  int d = inotify_init1(IN_CLOEXEC);
  CHECK("inotify_init1(IN_CLOEXEC): close-on-exec only", d >= 0 && cloexec(d) && !nonblock(d));
  int e = inotify_init1(IN_NONBLOCK);
  CHECK("inotify_init1(IN_NONBLOCK): nonblocking only", e >= 0 && !cloexec(e) && nonblock(e));
  CHECK_ERRNO("inotify_init1(1): EINVAL", inotify_init1(1), EINVAL);
  CHECK_ERRNO("inotify_init1(O_RDWR): EINVAL", inotify_init1(O_RDWR), EINVAL);
  CHECK_ERRNO("inotify_init1(O_APPEND): EINVAL", inotify_init1(O_APPEND), EINVAL);
  CHECK_ERRNO("inotify_init1(IN_CLOEXEC|O_APPEND): EINVAL", inotify_init1(IN_CLOEXEC | O_APPEND), EINVAL);
  char buf[64];
  CHECK_ERRNO("nonblocking read, nothing queued: EAGAIN", read(c, buf, sizeof buf), EAGAIN);
  CHECK_ERRNO("write to an inotify fd: EBADF", write(c, "x", 1), EBADF);
  CHECK("F_SETFL O_NONBLOCK", fcntl(b, F_SETFL, O_NONBLOCK) == 0 && nonblock(b));
  CHECK_ERRNO("then a read: EAGAIN", read(b, buf, sizeof buf), EAGAIN);
  int n = -1;
  CHECK("FIONREAD of an empty queue: 0", ioctl(c, FIONREAD, &n) == 0 && n == 0);
  struct pollfd p = {c, POLLIN | POLLOUT, 0};
  CHECK("poll of an empty queue: nothing", poll(&p, 1, 0) == 0 && p.revents == 0);
  close(a);
  close(b);
  close(c);
  close(d);
  close(e);
}

static void add_watch_errors(void) {
  fresh();
  mkdir("e", 0755);
  make_file("e/f", "x");
  int pfd[2];
  if (pipe(pfd) != 0) pfd[0] = pfd[1] = -1;
  CHECK_ERRNO("add_watch: fd -1: EBADF", inotify_add_watch(-1, "e", IN_ALL_EVENTS), EBADF);
  CHECK_ERRNO("add_watch: closed fd: EBADF", inotify_add_watch(999, "e", IN_ALL_EVENTS), EBADF);
  CHECK_ERRNO("add_watch: a pipe: EINVAL", inotify_add_watch(pfd[0], "e", IN_ALL_EVENTS), EINVAL);
  CHECK_ERRNO("add_watch: missing path: ENOENT", inotify_add_watch(ifd, "e/missing", IN_ALL_EVENTS), ENOENT);
  CHECK_ERRNO("add_watch: empty path: ENOENT", inotify_add_watch(ifd, "", IN_ALL_EVENTS), ENOENT);
  CHECK_ERRNO("add_watch: file as a directory: ENOTDIR", inotify_add_watch(ifd, "e/f/x", IN_ALL_EVENTS), ENOTDIR);
  CHECK_ERRNO("add_watch: bad path pointer: EFAULT", inotify_add_watch(ifd, (const char*)8, IN_ALL_EVENTS), EFAULT);
  CHECK_ERRNO("add_watch: mask 0: EINVAL", inotify_add_watch(ifd, "e", 0), EINVAL);
  CHECK_ERRNO("add_watch: mask 0 is checked before the fd: EINVAL", inotify_add_watch(-1, "e", 0), EINVAL);
  CHECK_ERRNO("add_watch: IN_MASK_ADD|IN_MASK_CREATE: EINVAL",
              inotify_add_watch(ifd, "e", IN_MODIFY | IN_MASK_ADD | IN_MASK_CREATE), EINVAL);
  CHECK_ERRNO("add_watch: IN_MASK_ADD|IN_MASK_CREATE, checked after the fd: EBADF",
              inotify_add_watch(-1, "e", IN_MODIFY | IN_MASK_ADD | IN_MASK_CREATE), EBADF);
  CHECK_ERRNO("add_watch: an unknown mask bit: EINVAL", inotify_add_watch(ifd, "e", IN_MODIFY | 0x00010000), EINVAL);
  CHECK_ERRNO("add_watch: an unknown mask bit, checked before the fd: EINVAL",
              inotify_add_watch(-1, "e", IN_MODIFY | 0x08000000), EINVAL);
  CHECK_ERRNO("add_watch: IN_MASK_ADD|IN_MASK_CREATE, checked before the path: EINVAL",
              inotify_add_watch(ifd, "e/missing", IN_MODIFY | IN_MASK_ADD | IN_MASK_CREATE), EINVAL);
  CHECK_ERRNO("add_watch: a pipe and a missing path: EINVAL", inotify_add_watch(pfd[0], "e/missing", IN_MODIFY),
              EINVAL);
  CHECK_ERRNO("add_watch: mask 0 and a bad path pointer: EINVAL", inotify_add_watch(ifd, (const char*)8, 0), EINVAL);
  CHECK_ERRNO("add_watch: IN_ONLYDIR on a file: ENOTDIR", inotify_add_watch(ifd, "e/f", IN_MODIFY | IN_ONLYDIR),
              ENOTDIR);
  CHECK("add_watch: IN_ONLYDIR on a directory", watch("e", IN_MODIFY | IN_ONLYDIR, "e") > 0);
  CHECK_ERRNO("add_watch: IN_MASK_CREATE on a watched inode: EEXIST",
              inotify_add_watch(ifd, "e", IN_MODIFY | IN_MASK_CREATE), EEXIST);
  CHECK("add_watch: IN_MASK_CREATE on an unwatched inode",
        inotify_add_watch(ifd, "e/f", IN_MODIFY | IN_MASK_CREATE) > 0);
  make_file("e/g", "g");
  int fw = watch("e/g", IN_DONT_FOLLOW, "g");
  CHECK("add_watch: a mask of flags only (IN_DONT_FOLLOW) is accepted", fw > 0);
  int fd = open("e/g", O_RDWR);
  write(fd, "x", 1);
  fchmod(fd, 0600);
  close(fd);
  expect("it reports no events (the directory's MODIFY only)", "e/MODIFY:g");
  CHECK("rm_watch of it", inotify_rm_watch(ifd, fw) == 0);
  expect("then IGNORED", "g/IGNORED");
  fw = watch("e/g", IN_ONESHOT, "g");
  CHECK("add_watch: IN_ONESHOT alone is accepted", fw > 0);
  unlink("e/g");
  expect("its file unlinked: IGNORED", "g/IGNORED");
  CHECK_ERRNO("rm_watch: wd 0: EINVAL", inotify_rm_watch(ifd, 0), EINVAL);
  CHECK_ERRNO("rm_watch: wd 12345: EINVAL", inotify_rm_watch(ifd, 12345), EINVAL);
  CHECK_ERRNO("rm_watch: wd -1: EINVAL", inotify_rm_watch(ifd, -1), EINVAL);
  CHECK_ERRNO("rm_watch: a pipe: EINVAL", inotify_rm_watch(pfd[0], 1), EINVAL);
  CHECK_ERRNO("rm_watch: fd -1: EBADF", inotify_rm_watch(-1, 1), EBADF);
  CHECK_ERRNO("rm_watch: closed fd: EBADF", inotify_rm_watch(999, 1), EBADF);
  expect("no events from any of that", "");
  close(pfd[0]);
  close(pfd[1]);
}

static void same_inode(void) {
  fresh();
  mkdir("s", 0755);
  make_file("s/f", "x");
  symlink("f", "s/ln");
  int w1 = watch("s/f", IN_MODIFY, "");
  CHECK("add_watch on a file: wd > 0", w1 > 0);
  CHECK("the same path again: the same wd", inotify_add_watch(ifd, "s/f", IN_MODIFY) == w1);
  CHECK("through a symlink: the same wd", inotify_add_watch(ifd, "s/ln", IN_MODIFY) == w1);
  CHECK("through another path: the same wd", inotify_add_watch(ifd, "./s/../s/f", IN_MODIFY) == w1);
  int w2 = watch("s", IN_CREATE, "s");
  CHECK("another inode: another wd", w2 > 0 && w2 != w1);
  int w3 = watch("s/ln", IN_ATTRIB | IN_DONT_FOLLOW, "ln");
  CHECK("IN_DONT_FOLLOW on a symlink: the link's own wd", w3 > 0 && w3 != w1 && w3 != w2);
  CHECK("chmod through the link", chmod("s/ln", 0600) == 0);
  expect("the link's own watch sees no ATTRIB of the target: nothing", "");
  struct timespec ts[2] = {{1, 0}, {2, 0}};
  CHECK("utimensat(AT_SYMLINK_NOFOLLOW) of the link", utimensat(AT_FDCWD, "s/ln", ts, AT_SYMLINK_NOFOLLOW) == 0);
  expect("the link's watch: ATTRIB", "ln/ATTRIB");
  inotify_rm_watch(ifd, w3);
  drain();

  int fd = open("s/f", O_WRONLY);
  CHECK("write", write(fd, "a", 1) == 1);
  expect("IN_MODIFY watch: MODIFY", "MODIFY");
  CHECK("chmod", fchmod(fd, 0640) == 0);
  expect("not in the mask: nothing", "");
  CHECK("IN_MASK_ADD IN_ATTRIB: the same wd", inotify_add_watch(ifd, "s/f", IN_ATTRIB | IN_MASK_ADD) == w1);
  fchmod(fd, 0644);
  write(fd, "b", 1);
  expect("now ATTRIB and still MODIFY", "ATTRIB MODIFY");
  CHECK("a new mask without IN_MASK_ADD: the same wd", inotify_add_watch(ifd, "s/f", IN_ATTRIB) == w1);
  write(fd, "c", 1);
  fchmod(fd, 0600);
  expect("replaced: only ATTRIB", "ATTRIB");
  CHECK("IN_MASK_ADD of a mask already there: the same wd",
        inotify_add_watch(ifd, "s/f", IN_ATTRIB | IN_MASK_ADD) == w1);
  write(fd, "d", 1);
  expect("still nothing for a write", "");
  close(fd);
}

static void directory_events(void) {
  fresh();
  mkdir("d", 0755);
  int wd = watch("d", IN_ALL_EVENTS, "");
  CHECK("watch a directory, IN_ALL_EVENTS", wd > 0);
  expect("nothing yet", "");

  int fd = open("d/a", O_CREAT | O_WRONLY, 0644);
  expect("open(O_CREAT) of a new file: CREATE, OPEN", "CREATE:a OPEN:a");
  CHECK("write 5", write(fd, "hello", 5) == 5);
  expect("write: MODIFY", "MODIFY:a");
  CHECK("write 0 bytes", write(fd, "", 0) == 0);
  expect("a write of 0 bytes: nothing", "");
  write(fd, "1", 1);
  write(fd, "2", 1);
  expect("two writes unread: one MODIFY (merged)", "MODIFY:a");
  CHECK("pwrite", pwrite(fd, "x", 1, 0) == 1);
  expect("pwrite: MODIFY", "MODIFY:a");
  close(fd);
  expect("close: CLOSE_WRITE", "CLOSE_WRITE:a");

  fd = open("d/a", O_RDONLY);
  char buf[16];
  CHECK("read", read(fd, buf, sizeof buf) == 7);
  CHECK("read at the end: 0", read(fd, buf, sizeof buf) == 0);
  close(fd);
  expect("open, read, read at eof, close: OPEN, ACCESS, CLOSE_NOWRITE", "OPEN:a ACCESS:a CLOSE_NOWRITE:a");
  fd = open("d/a", O_RDWR);
  close(fd);
  expect("open(O_RDWR), close: OPEN, CLOSE_WRITE", "OPEN:a CLOSE_WRITE:a");
  fd = open("d/a", O_WRONLY | O_TRUNC);
  close(fd);
  expect("open(O_TRUNC) of an existing file: OPEN, MODIFY, CLOSE_WRITE", "OPEN:a MODIFY:a CLOSE_WRITE:a");
  fd = open("d/a", O_CREAT | O_WRONLY, 0644);
  close(fd);
  expect("open(O_CREAT) of an existing file: OPEN, CLOSE_WRITE", "OPEN:a CLOSE_WRITE:a");
  CHECK_ERRNO("open(O_CREAT|O_EXCL) of an existing file: EEXIST", open("d/a", O_CREAT | O_EXCL | O_WRONLY, 0644),
              EEXIST);
  expect("a failed open: nothing", "");

  CHECK("chmod", chmod("d/a", 0600) == 0);
  expect("chmod: ATTRIB", "ATTRIB:a");
  CHECK("chown to the same owner", chown("d/a", getuid(), getgid()) == 0);
  expect("chown: ATTRIB", "ATTRIB:a");
  CHECK("truncate", truncate("d/a", 3) == 0);
  expect("truncate: MODIFY", "MODIFY:a");
  fd = open("d/a", O_WRONLY);
  drain();
  CHECK("ftruncate", ftruncate(fd, 1) == 0);
  expect("ftruncate: MODIFY", "MODIFY:a");
  close(fd);
  drain();
  struct timespec both[2] = {{1, 0}, {2, 0}};
  CHECK("utimensat (both times)", utimensat(AT_FDCWD, "d/a", both, 0) == 0);
  expect("utimensat: ATTRIB", "ATTRIB:a");
  struct timespec atime[2] = {{3, 0}, {0, UTIME_OMIT}};
  CHECK("utimensat (atime only)", utimensat(AT_FDCWD, "d/a", atime, 0) == 0);
  expect("utimensat of the atime only: ACCESS", "ACCESS:a");
  struct timespec mtime[2] = {{0, UTIME_OMIT}, {4, 0}};
  CHECK("utimensat (mtime only)", utimensat(AT_FDCWD, "d/a", mtime, 0) == 0);
  expect("utimensat of the mtime only: MODIFY", "MODIFY:a");
  CHECK("utimensat(NULL)", utimensat(AT_FDCWD, "d/a", NULL, 0) == 0);
  expect("utimensat(NULL): ATTRIB", "ATTRIB:a");
  struct stat st;
  CHECK("stat, access", stat("d/a", &st) == 0 && access("d/a", R_OK) == 0);
  expect("stat and access: nothing", "");

  CHECK("mkdir", mkdir("d/sub", 0755) == 0);
  expect("mkdir: CREATE|ISDIR", "CREATE|ISDIR:sub");
  CHECK("a file inside the subdirectory", make_file("d/sub/x", "x") == 0);
  expect("events in a subdirectory: nothing", "");
  unlink("d/sub/x");
  CHECK("rmdir", rmdir("d/sub") == 0);
  expect("rmdir: DELETE|ISDIR", "DELETE|ISDIR:sub");

  CHECK("symlink", symlink("a", "d/sym") == 0);
  expect("symlink: CREATE", "CREATE:sym");
  CHECK("link", link("d/a", "d/hard") == 0);
  expect("link: CREATE", "CREATE:hard");
  CHECK("mknod of a fifo", mkfifo("d/fifo", 0644) == 0);
  expect("mkfifo: CREATE", "CREATE:fifo");
  CHECK("unlink", unlink("d/hard") == 0);
  expect("unlink: DELETE", "DELETE:hard");
  unlink("d/sym");
  unlink("d/fifo");
  expect("two unlinks: DELETE, DELETE", "DELETE:sym DELETE:fifo");

  CHECK("rename within the directory", rename("d/a", "d/b") == 0);
  expect("rename: MOVED_FROM, MOVED_TO", "MOVED_FROM:a MOVED_TO:b");
  uint32_t c1 = cookie_of(IN_MOVED_FROM);
  CHECK("the pair has one nonzero cookie", c1 != 0 && c1 == cookie_of(IN_MOVED_TO));
  rename("d/b", "d/a");
  drain();
  uint32_t c2 = cookie_of(IN_MOVED_FROM);
  CHECK("the next rename: another cookie", c2 != 0 && c2 == cookie_of(IN_MOVED_TO) && c2 != c1);
  make_file("d/victim", "v");
  drain();
  CHECK("rename over an existing file", rename("d/a", "d/victim") == 0);
  expect("rename over a file: MOVED_FROM, MOVED_TO (no DELETE)", "MOVED_FROM:a MOVED_TO:victim");
  mkdir("d/dir", 0755);
  drain();
  rename("d/dir", "d/dir2");
  expect("rename of a directory: MOVED_FROM|ISDIR, MOVED_TO|ISDIR", "MOVED_FROM|ISDIR:dir MOVED_TO|ISDIR:dir2");
  rmdir("d/dir2");
  drain();

  /* Out of and into the watched directory, from an unwatched one. */
  make_file("outside", "o");
  CHECK("rename into the directory", rename("outside", "d/in") == 0);
  expect("from an unwatched directory: MOVED_TO alone", "MOVED_TO:in");
  CHECK("its cookie is nonzero", cookie_of(IN_MOVED_TO) != 0);
  CHECK("rename out of the directory", rename("d/in", "outside") == 0);
  expect("to an unwatched directory: MOVED_FROM alone", "MOVED_FROM:in");
  unlink("outside");

  /* The directory itself. */
  int dfd = open("d", O_RDONLY | O_DIRECTORY);
  expect("open of the directory: OPEN|ISDIR, no name", "OPEN|ISDIR");
  CHECK("the record has len 0", nev == 1 && evs[0].len == 0);
  char dbuf[4096];
  CHECK("getdents64", syscall(SYS_getdents64, dfd, dbuf, sizeof dbuf) > 0);
  expect("getdents64: ACCESS|ISDIR", "ACCESS|ISDIR");
  CHECK("getdents64 at the end: 0", syscall(SYS_getdents64, dfd, dbuf, sizeof dbuf) == 0);
  expect("getdents64 at the end: ACCESS|ISDIR too", "ACCESS|ISDIR");
  close(dfd);
  expect("close: CLOSE_NOWRITE|ISDIR", "CLOSE_NOWRITE|ISDIR");
  DIR* dir = opendir("d");
  int entries = 0;
  while (dir && readdir(dir)) entries++;
  if (dir) closedir(dir);
  CHECK("opendir, readdir to the end, closedir", entries == 3);
  expect("OPEN|ISDIR, ACCESS|ISDIR (merged), CLOSE_NOWRITE|ISDIR", "OPEN|ISDIR ACCESS|ISDIR CLOSE_NOWRITE|ISDIR");
  CHECK("chmod of the directory", chmod("d", 0700) == 0);
  expect("chmod of the directory: ATTRIB|ISDIR", "ATTRIB|ISDIR");

  CHECK("every record: name NUL-padded to 16 bytes", layout_ok);
  CHECK("every record: a cookie on moves only", cookies_ok);

  fd = open("d/victim", O_RDONLY);
  drain();
  CHECK("inotify_rm_watch", inotify_rm_watch(ifd, wd) == 0);
  expect("rm_watch: IGNORED", "IGNORED");
  CHECK("IGNORED has the removed wd", nev == 1 && evs[0].wd == wd && evs[0].len == 0 && evs[0].cookie == 0);
  close(fd);
  unlink("d/victim");
  expect("after rm_watch: nothing", "");
  CHECK_ERRNO("rm_watch again: EINVAL", inotify_rm_watch(ifd, wd), EINVAL);
}

static void two_directories(void) {
  fresh();
  mkdir("m1", 0755);
  mkdir("m2", 0755);
  make_file("m1/f", "f");
  int w1 = watch("m1", IN_ALL_EVENTS, "m1");
  int w2 = watch("m2", IN_ALL_EVENTS, "m2");
  CHECK("watch two directories", w1 > 0 && w2 > 0 && w1 != w2);
  CHECK("rename from one to the other", rename("m1/f", "m2/g") == 0);
  expect("m1/MOVED_FROM, m2/MOVED_TO", "m1/MOVED_FROM:f m2/MOVED_TO:g");
  uint32_t c = cookie_of(IN_MOVED_FROM);
  CHECK("one nonzero cookie for the pair", c != 0 && c == cookie_of(IN_MOVED_TO));
  CHECK("the events have the two wds", nev == 2 && evs[0].wd == w1 && evs[1].wd == w2);
  int fw = watch("m2/g", IN_ALL_EVENTS, "g");
  CHECK("watch the file too", fw > 0);
  rename("m2/g", "m1/h");
  expect("a watched file moved: MOVED_FROM, MOVED_TO, then MOVE_SELF", "m2/MOVED_FROM:g m1/MOVED_TO:h g/MOVE_SELF");
  int fd = open("m1/h", O_WRONLY);
  write(fd, "x", 1);
  close(fd);
  expect("the directory's event first, then the file's",
         "m1/OPEN:h g/OPEN m1/MODIFY:h g/MODIFY m1/CLOSE_WRITE:h g/CLOSE_WRITE");
  fd = open("m1/h", O_WRONLY);
  drain();
  write(fd, "x", 1);
  write(fd, "y", 1);
  expect("two writes, two watches: no merging (only with the queue's last event)",
         "m1/MODIFY:h g/MODIFY m1/MODIFY:h g/MODIFY");
  close(fd);
  drain();
  CHECK("link of the watched file", link("m1/h", "m2/h2") == 0);
  expect("link: the file's ATTRIB, then CREATE", "g/ATTRIB m2/CREATE:h2");
  CHECK("unlink of one of its links", unlink("m2/h2") == 0);
  expect("unlink, links left: ATTRIB, DELETE", "g/ATTRIB m2/DELETE:h2");
  CHECK("unlink of the last link", unlink("m1/h") == 0);
  expect("ATTRIB, DELETE_SELF, IGNORED, then the directory's DELETE", "g/ATTRIB g/DELETE_SELF g/IGNORED m1/DELETE:h");
  make_file("m1/f", "f");
  mkdir("m2/sub", 0755);
  int sw = watch("m2/sub", IN_ALL_EVENTS, "sub");
  drain();
  CHECK("rename of a watched directory", rename("m2/sub", "m1/sub") == 0);
  expect("MOVED_FROM|ISDIR, MOVED_TO|ISDIR, MOVE_SELF", "m2/MOVED_FROM|ISDIR:sub m1/MOVED_TO|ISDIR:sub sub/MOVE_SELF");
  CHECK("rmdir of a watched directory", rmdir("m1/sub") == 0);
  expect("DELETE_SELF, IGNORED, then the parent's DELETE|ISDIR", "sub/DELETE_SELF sub/IGNORED m1/DELETE|ISDIR:sub");
  CHECK_ERRNO("rm_watch of a deleted inode's wd: EINVAL", inotify_rm_watch(ifd, sw), EINVAL);
  CHECK("rename over a file", rename("m1/f", "m2/dst") == 0 && make_file("m1/f", "f2") == 0);
  CHECK("watch the target", watch("m2/dst", IN_ALL_EVENTS, "dst") > 0);
  drain();
  CHECK("rename over a watched file", rename("m1/f", "m2/dst") == 0);
  expect("MOVED_FROM, MOVED_TO, then the replaced file's ATTRIB, DELETE_SELF, IGNORED",
         "m1/MOVED_FROM:f m2/MOVED_TO:dst dst/ATTRIB dst/DELETE_SELF dst/IGNORED");
  CHECK("close with watches", close(ifd) == 0);
  ifd = -1;
  CHECK("the directories can be removed", unlink("m2/dst") == 0 && rmdir("m1") == 0 && rmdir("m2") == 0);
}

static void file_watch(void) {
  fresh();
  mkdir("w", 0755);
  make_file("w/f", "f");
  int wd = watch("w/f", IN_ALL_EVENTS, "");
  CHECK("watch a file, IN_ALL_EVENTS", wd > 0);
  int fd = open("w/f", O_WRONLY);
  write(fd, "abc", 3);
  close(fd);
  expect("open, write, close: OPEN, MODIFY, CLOSE_WRITE (no names)", "OPEN MODIFY CLOSE_WRITE");
  CHECK("MODIFY has len 0", nev == 3 && evs[1].len == 0 && evs[1].mask == IN_MODIFY && evs[1].wd == wd);
  chmod("w/f", 0600);
  expect("chmod: ATTRIB", "ATTRIB");
  CHECK("rename of the watched file", rename("w/f", "w/g") == 0);
  expect("MOVE_SELF", "MOVE_SELF");
  CHECK("unlink of the watched file", unlink("w/g") == 0);
  expect("ATTRIB, DELETE_SELF, IGNORED", "ATTRIB DELETE_SELF IGNORED");
  CHECK_ERRNO("its wd is gone: rm_watch EINVAL", inotify_rm_watch(ifd, wd), EINVAL);

  /* Unlinked while open: DELETE_SELF waits for the last close. */
  make_file("w/o", "o");
  wd = watch("w/o", IN_ALL_EVENTS, "");
  fd = open("w/o", O_RDWR);
  drain();
  CHECK("unlink of an open watched file", unlink("w/o") == 0);
  expect("ATTRIB only", "ATTRIB");
  CHECK("write to it", write(fd, "z", 1) == 1);
  expect("still watched: MODIFY", "MODIFY");
  close(fd);
  expect("the last close: CLOSE_WRITE, DELETE_SELF, IGNORED", "CLOSE_WRITE DELETE_SELF IGNORED");

  /* A watched directory removed. */
  mkdir("w/sub", 0755);
  wd = watch("w/sub", IN_ALL_EVENTS, "");
  CHECK("rmdir of a watched directory", rmdir("w/sub") == 0);
  expect("DELETE_SELF, IGNORED", "DELETE_SELF IGNORED");
  mkdir("w/sub", 0755);
  wd = watch("w/sub", IN_DELETE_SELF, "");
  rmdir("w/sub");
  expect("IGNORED even when only DELETE_SELF is asked for", "DELETE_SELF IGNORED");
  mkdir("w/sub", 0755);
  wd = watch("w/sub", IN_MODIFY, "");
  rmdir("w/sub");
  expect("IGNORED alone when DELETE_SELF is not asked for", "IGNORED");
  mkdir("w/sub", 0755);
  wd = watch("w/sub", IN_ALL_EVENTS, "");
  rename("w/sub", "w/sub2");
  expect("rename of a watched directory: MOVE_SELF", "MOVE_SELF");
  make_file("w/sub2/x", "x");
  expect("its new children still: CREATE, OPEN, MODIFY, CLOSE_WRITE", "CREATE:x OPEN:x MODIFY:x CLOSE_WRITE:x");
  unlink("w/sub2/x");
  rmdir("w/sub2");
  expect("DELETE, DELETE_SELF, IGNORED", "DELETE:x DELETE_SELF IGNORED");

  /* The merging of identical events. */
  make_file("w/m", "m");
  wd = watch("w/m", IN_ALL_EVENTS, "");
  fd = open("w/m", O_WRONLY);
  drain();
  write(fd, "1", 1);
  write(fd, "2", 1);
  write(fd, "3", 1);
  expect("three writes: one MODIFY", "MODIFY");
  write(fd, "1", 1);
  fchmod(fd, 0600);
  write(fd, "2", 1);
  expect("write, chmod, write: MODIFY, ATTRIB, MODIFY", "MODIFY ATTRIB MODIFY");
  write(fd, "1", 1);
  char buf[64];
  read(ifd, buf, sizeof buf);
  write(fd, "2", 1);
  expect("a write after the MODIFY was read: a new MODIFY", "MODIFY");
  close(fd);
  drain();
  inotify_rm_watch(ifd, wd);
  drain();
  unlink("w/m");
  rmdir("w");
  expect("after rm_watch: nothing", "");
}

static void oneshot_and_excl_unlink(void) {
  fresh();
  mkdir("o", 0755);
  make_file("o/f", "f");
  int wd = watch("o/f", IN_MODIFY | IN_ATTRIB | IN_ONESHOT, "");
  CHECK("IN_ONESHOT watch", wd > 0);
  int fd = open("o/f", O_WRONLY);
  write(fd, "a", 1);
  expect("one event, then IGNORED", "MODIFY IGNORED");
  fchmod(fd, 0600);
  write(fd, "b", 1);
  expect("then nothing", "");
  CHECK_ERRNO("its wd is gone: rm_watch EINVAL", inotify_rm_watch(ifd, wd), EINVAL);
  int wd2 = watch("o/f", IN_MODIFY, "");
  CHECK("a new watch on it: a new wd", wd2 > 0 && wd2 != wd);
  inotify_rm_watch(ifd, wd2);
  expect("rm_watch of the new watch: IGNORED", "IGNORED");
  wd = watch("o", IN_CREATE | IN_DELETE | IN_ONESHOT, "");
  make_file("o/g", "g");
  unlink("o/g");
  expect("a directory IN_ONESHOT watch: CREATE, IGNORED", "CREATE:g IGNORED");

  /* IN_EXCL_UNLINK: no events from children once unlinked. */
  drain();
  wd = watch("o", IN_MODIFY | IN_EXCL_UNLINK, "");
  write(fd, "c", 1);
  expect("before the unlink: MODIFY", "MODIFY:f");
  unlink("o/f");
  write(fd, "d", 1);
  expect("after the unlink: nothing", "");
  make_file("o/f", "f");
  inotify_rm_watch(ifd, wd);
  drain();
  close(fd);
  fd = open("o/f", O_WRONLY);
  wd = watch("o", IN_MODIFY, "");
  unlink("o/f");
  write(fd, "d", 1);
  expect("without IN_EXCL_UNLINK: MODIFY of the unlinked child", "MODIFY:f");
  close(fd);
  rmdir("o");
  drain();
}

static int ifd_child(void) {
  /* The queue is the parent's: read its event, then queue one. */
  char buf[256];
  ssize_t n = read(ifd, buf, sizeof buf);
  if (n != 32) return 1;
  if (strcmp(((struct inotify_event*)buf)->name, "p") != 0) return 2;
  make_file("r/c", "c");
  return 0;
}

static const char* late_name;

static int blocker_child(void) {
  sleep_ms(20);
  char path[64];
  snprintf(path, sizeof path, "r/%s", late_name);
  return make_file(path, "l") == 0 ? 0 : 1;
}

static void reading(void) {
  fresh();
  mkdir("r", 0755);
  int wd = watch("r", IN_CREATE, "");
  CHECK("watch IN_CREATE", wd > 0);
  struct pollfd p = {ifd, POLLIN, 0};
  CHECK("poll, nothing queued: 0", poll(&p, 1, 0) == 0);
  int n = -1;
  CHECK("FIONREAD: 0", ioctl(ifd, FIONREAD, &n) == 0 && n == 0);
  make_file("r/abc", "x");
  p.revents = 0;
  CHECK("poll, an event queued: POLLIN", poll(&p, 1, 0) == 1 && p.revents == POLLIN);
  CHECK("FIONREAD: 32 (16 + name padded to 16)", ioctl(ifd, FIONREAD, &n) == 0 && n == 32);
  make_file("r/0123456789abcdef", "x");
  CHECK("FIONREAD of two: 32 + 48", ioctl(ifd, FIONREAD, &n) == 0 && n == 80);
  char buf[512] __attribute__((aligned(16)));
  CHECK_ERRNO("read into 16 bytes: EINVAL", read(ifd, buf, sizeof(struct inotify_event)), EINVAL);
  CHECK_ERRNO("read into 31 bytes: EINVAL", read(ifd, buf, 31), EINVAL);
  CHECK_ERRNO("read into 0 bytes: EINVAL", read(ifd, buf, 0), EINVAL);
  CHECK("FIONREAD still 80", ioctl(ifd, FIONREAD, &n) == 0 && n == 80);
  struct inotify_event* e = (struct inotify_event*)buf;
  CHECK("read into 79 bytes: the first event only, 32 bytes", read(ifd, buf, 79) == 32 && e->wd == wd &&
                                                                  e->mask == IN_CREATE && e->cookie == 0 &&
                                                                  e->len == 16 && strcmp(e->name, "abc") == 0);
  CHECK("FIONREAD: 48", ioctl(ifd, FIONREAD, &n) == 0 && n == 48);
  CHECK("the second: 48 bytes, len 32",
        read(ifd, buf, sizeof buf) == 48 && e->len == 32 && strcmp(e->name, "0123456789abcdef") == 0);
  make_file("r/lost", "x");
  make_file("r/kept", "x");
  CHECK_ERRNO("read into a bad pointer: EFAULT", read(ifd, (void*)8, 64), EFAULT);
  CHECK("the event is lost: FIONREAD 32", ioctl(ifd, FIONREAD, &n) == 0 && n == 32);
  expect("the next one is still there", "CREATE:kept");
  CHECK_ERRNO("then: EAGAIN", read(ifd, buf, sizeof buf), EAGAIN);
  p.revents = 0;
  CHECK("poll after reading it all: 0", poll(&p, 1, 0) == 0);
  make_file("r/a", "x");
  make_file("r/b", "x");
  make_file("r/c2", "x");
  CHECK("one read returns all three: 96 bytes", read(ifd, buf, sizeof buf) == 96);

  /* fork: the child reads from the same queue. */
  make_file("r/p", "x");
  CHECK("a child reads the parent's event and queues one", child_status(ifd_child) == 0);
  expect("the parent sees only the child's", "CREATE:c");

  /* A blocking read, woken by another process's create. */
  int b = inotify_init1(IN_CLOEXEC);
  int bwd = inotify_add_watch(b, "r", IN_CREATE);
  late_name = "late";
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) _exit(blocker_child());
  ssize_t got = read(b, buf, sizeof buf);
  CHECK("a blocking read returns the other process's CREATE",
        got == 32 && e->wd == bwd && e->mask == IN_CREATE && strcmp(e->name, "late") == 0);
  int st = -1;
  waitpid(pid, &st, 0);
  CHECK("the child succeeded", WIFEXITED(st) && WEXITSTATUS(st) == 0);
  struct pollfd bp = {b, POLLIN, 0};
  late_name = "late2";
  fflush(stdout);
  pid = fork();
  if (pid == 0) _exit(blocker_child());
  CHECK("poll blocks until an event: POLLIN", poll(&bp, 1, 5000) == 1 && bp.revents == POLLIN);
  waitpid(pid, &st, 0);
  CHECK("and it is the CREATE", read(b, buf, sizeof buf) == 32 && strcmp(e->name, "late2") == 0);
  close(b);

  drain();
  const char* names[] = {"abc", "0123456789abcdef", "a", "b", "c2", "p", "c", "late", "late2", "lost", "kept"};
  char path[64];
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    snprintf(path, sizeof path, "r/%s", names[i]);
    unlink(path);
  }
  rmdir("r");
  drain();
  CHECK("every record: name NUL-padded to 16 bytes", layout_ok);
}

static int rm_tree(const char* path, const struct stat* st, int type, struct FTW* f) {
  (void)st, (void)type, (void)f;
  return remove(path);
}

/* An instance watching another through /proc/self/fd: the watch holds the other's open file,
 * which goes with the watch when the first instance is closed (the fuzzer's find). */
static void watch_on_instance(void) {
  int a = inotify_init1(IN_NONBLOCK), b = inotify_init1(IN_NONBLOCK);
  char p[64];
  snprintf(p, sizeof p, "/proc/self/fd/%d", a);
  int wd = inotify_add_watch(b, p, IN_ALL_EVENTS);
  CHECK("a watch on another instance (/proc/self/fd/N)", wd > 0);
  CHECK("closing the watched instance first", close(a) == 0);
  CHECK("then the watching one", close(b) == 0);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char base[] = "/tmp/inotify-abi-XXXXXX";
  if (mkdtemp(base) == NULL || chdir(base) != 0) {
    printf("FAIL mkdtemp\n");
    return 1;
  }
  init_flags();
  add_watch_errors();
  same_inode();
  directory_events();
  two_directories();
  file_watch();
  oneshot_and_excl_unlink();
  reading();
  watch_on_instance();
  if (ifd >= 0) close(ifd);
  chdir("/");
  nftw(base, rm_tree, 16, FTW_DEPTH | FTW_PHYS);
  CHECK("the work directory is removed", access(base, F_OK) != 0);
  return ABI_DONE();
}
