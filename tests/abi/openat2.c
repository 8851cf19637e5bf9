/* openat2(2) (SYS 437) as Linux checks it, in a scratch directory on the root file system
 * (plus /proc for the magic-link and mount-crossing cases):
 * - success: plain open, O_CREAT with a mode (umask 0, also a set-user-ID bit), O_DIRECTORY,
 *   O_PATH, O_CLOEXEC;
 * - the size argument: below 24 EINVAL (before the pointer is read), 24 < size with a zero tail
 *   works (up to 4096), a non-zero tail E2BIG (before the flags are checked), over 4096 E2BIG,
 *   a NULL how EFAULT; a NULL path EFAULT; a bad dirfd EBADF;
 * - flags: unknown bits EINVAL (bit 40, and bit 4 which open(2) silently drops), a mode without
 *   O_CREAT/O_TMPFILE EINVAL, mode bits above 07777 EINVAL, O_TMPFILE without write access
 *   EINVAL, O_CREAT|O_DIRECTORY EINVAL, O_PATH with flags outside O_PATH's set EINVAL (open(2)
 *   drops them), unknown resolve bits EINVAL, RESOLVE_BENEATH|RESOLVE_IN_ROOT EINVAL,
 *   RESOLVE_CACHED with O_CREAT/O_TRUNC/O_TMPFILE EAGAIN, RESOLVE_CACHED plain (works or EAGAIN);
 * - RESOLVE_BENEATH: inside paths, "..", absolute paths, ".." escaping in the middle, symlinks
 *   (absolute even to inside the tree, escaping, relative inside, a directory symlink), magic
 *   links (EXDEV), AT_FDCWD as the anchor;
 * - RESOLVE_IN_ROOT: "/b", "../../b", absolute and escaping symlinks all stay inside the root,
 *   a symlink to the host path of a file is resolved inside the root (ENOENT), magic links EXDEV;
 * - RESOLVE_NO_SYMLINKS: a symlink last or in the middle ELOOP (also /proc/self), O_NOFOLLOW
 *   without O_PATH ELOOP, O_PATH|O_NOFOLLOW opens the symlink itself;
 * - RESOLVE_NO_MAGICLINKS: /proc/self/fd/N, /proc/self/exe, /proc/self/cwd ELOOP, /proc/self
 *   (an ordinary symlink) and ordinary symlinks work, O_PATH|O_NOFOLLOW on a magic link works;
 * - RESOLVE_NO_XDEV: descending into /proc EXDEV (as the last component too, and by an absolute
 *   path), ".." out of /proc EXDEV, a magic link to another mount EXDEV, paths within one file
 *   system work (the root file system and /proc). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "abi_check.h"

#define SYS_openat2_ 437
struct open_how_ {
  uint64_t flags, mode, resolve;
};
#define RESOLVE_NO_XDEV_ 0x01
#define RESOLVE_NO_MAGICLINKS_ 0x02
#define RESOLVE_NO_SYMLINKS_ 0x04
#define RESOLVE_BENEATH_ 0x08
#define RESOLVE_IN_ROOT_ 0x10
#define RESOLVE_CACHED_ 0x20
#ifndef O_TMPFILE
#define O_TMPFILE (020000000 | O_DIRECTORY)
#endif

static long oa2(int dfd, const char* path, uint64_t flags, uint64_t mode, uint64_t resolve) {
  struct open_how_ how = {flags, mode, resolve};
  return syscall(SYS_openat2_, dfd, path, &how, sizeof how);
}

/* fd is open on a regular file holding exactly `marker`; closes it. */
static int holds(long fd, const char* marker) {
  if (fd < 0) return 0;
  char buf[64] = {0};
  ssize_t n = read((int)fd, buf, sizeof buf - 1);
  close((int)fd);
  return n == (ssize_t)strlen(marker) && memcmp(buf, marker, n) == 0;
}

/* fd is open (then closed); `type` is the S_IFMT it must refer to (0: any). */
static int is_open(long fd, mode_t type) {
  if (fd < 0) return 0;
  struct stat st;
  int ok = fstat((int)fd, &st) == 0 && (type == 0 || (st.st_mode & S_IFMT) == type);
  close((int)fd);
  return ok;
}

static int rm_one(const char* p, const struct stat* st, int flag, struct FTW* ftw) {
  (void)st, (void)ftw;
  return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static int put(const char* path, const char* text) {
  int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
  if (fd < 0) return 0;
  int ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
  close(fd);
  return ok;
}

int main(void) {
  char dir[] = "/tmp/abi-openat2-XXXXXX";
  CHECK("mkdtemp", mkdtemp(dir) != 0);
  CHECK("chdir", chdir(dir) == 0);
  umask(0);
  char path[PATH_MAX];

  /* Layout: top/{a/b, b, abs->DIR/top/b, out->../outside, rel->a/b, relup->a/../b,
   * dirlnk->a, lnk->/b, up->../../../b}, outside. */
  CHECK("set up the tree", mkdir("top", 0755) == 0 && mkdir("top/a", 0755) == 0 && put("top/a/b", "top-a-b") &&
                               put("top/b", "top-b") && put("outside", "outside") &&
                               snprintf(path, sizeof path, "%s/top/b", dir) > 0 && symlink(path, "top/abs") == 0 &&
                               symlink("../outside", "top/out") == 0 && symlink("a/b", "top/rel") == 0 &&
                               symlink("a/../b", "top/relup") == 0 && symlink("a", "top/dirlnk") == 0 &&
                               symlink("/b", "top/lnk") == 0 && symlink("../../../b", "top/up") == 0);
  int top = open("top", O_RDONLY | O_DIRECTORY);
  CHECK("open top", top >= 0);

  /* Success. */
  CHECK("plain open", holds(oa2(top, "b", O_RDONLY, 0, 0), "top-b"));
  long fd = oa2(top, "new", O_CREAT | O_EXCL | O_WRONLY, 0751, 0);
  struct stat st;
  CHECK("O_CREAT with mode 0751 (umask 0)",
        fd >= 0 && fstat((int)fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0751);
  if (fd >= 0) close((int)fd);
  fd = oa2(top, "suid", O_CREAT | O_EXCL | O_WRONLY, 04755, 0);
  CHECK("O_CREAT with mode 04755 keeps the set-user-ID bit",
        fd >= 0 && fstat((int)fd, &st) == 0 && (st.st_mode & 07777) == 04755);
  if (fd >= 0) close((int)fd);
  CHECK_ERRNO("O_CREAT|O_EXCL on an existing file is EEXIST", oa2(top, "new", O_CREAT | O_EXCL | O_WRONLY, 0600, 0),
              EEXIST);
  CHECK("O_DIRECTORY", is_open(oa2(top, "a", O_RDONLY | O_DIRECTORY, 0, 0), S_IFDIR));
  CHECK_ERRNO("O_DIRECTORY on a file is ENOTDIR", oa2(top, "b", O_RDONLY | O_DIRECTORY, 0, 0), ENOTDIR);
  fd = oa2(top, "b", O_PATH, 0, 0);
  CHECK("O_PATH", fd >= 0 && fstat((int)fd, &st) == 0 && S_ISREG(st.st_mode));
  CHECK_ERRNO("read on an O_PATH fd is EBADF", read((int)fd, path, 1), EBADF);
  if (fd >= 0) close((int)fd);
  fd = oa2(top, "b", O_RDONLY | O_CLOEXEC, 0, 0);
  CHECK("O_CLOEXEC sets FD_CLOEXEC", fd >= 0 && fcntl((int)fd, F_GETFD) == FD_CLOEXEC);
  if (fd >= 0) close((int)fd);
  CHECK("AT_FDCWD and a relative path", holds(oa2(AT_FDCWD, "top/a/b", O_RDONLY, 0, 0), "top-a-b"));

  /* The size argument. */
  static char big[8192];
  struct open_how_ how = {O_RDONLY, 0, 0};
  memcpy(big, &how, sizeof how);
  CHECK_ERRNO("size 23 is EINVAL", syscall(SYS_openat2_, top, "b", big, 23), EINVAL);
  CHECK_ERRNO("size 0 is EINVAL", syscall(SYS_openat2_, top, "b", big, 0), EINVAL);
  CHECK_ERRNO("size 23 with a NULL how is EINVAL (size first)", syscall(SYS_openat2_, top, "b", NULL, 23), EINVAL);
  CHECK("size 32 with a zero tail", holds(syscall(SYS_openat2_, top, "b", big, 32), "top-b"));
  CHECK("size 4096 with a zero tail", holds(syscall(SYS_openat2_, top, "b", big, 4096), "top-b"));
  big[31] = 1;
  CHECK_ERRNO("size 32 with a non-zero tail byte is E2BIG", syscall(SYS_openat2_, top, "b", big, 32), E2BIG);
  CHECK("size 24 ignores what follows", holds(syscall(SYS_openat2_, top, "b", big, 24), "top-b"));
  big[31] = 0;
  big[4095] = 1;
  CHECK_ERRNO("size 4096 with its last byte set is E2BIG", syscall(SYS_openat2_, top, "b", big, 4096), E2BIG);
  big[4095] = 0;
  CHECK_ERRNO("size 4097 is E2BIG", syscall(SYS_openat2_, top, "b", big, 4097), E2BIG);
  CHECK_ERRNO("size 4097 with a NULL how is E2BIG (size first)", syscall(SYS_openat2_, top, "b", NULL, 4097), E2BIG);
  CHECK_ERRNO("a NULL how is EFAULT", syscall(SYS_openat2_, top, "b", NULL, 24), EFAULT);
  CHECK_ERRNO("a bad how pointer is EFAULT", syscall(SYS_openat2_, top, "b", (void*)8, 24), EFAULT);
  struct open_how_ bad = {1ULL << 40, 0, 0};
  memcpy(big, &bad, sizeof bad);
  big[40] = 1;
  CHECK_ERRNO("a non-zero tail wins over bad flags (E2BIG)", syscall(SYS_openat2_, top, "b", big, 48), E2BIG);
  memset(big, 0, sizeof big);
  CHECK_ERRNO("a NULL path is EFAULT", oa2(top, NULL, O_RDONLY, 0, 0), EFAULT);
  CHECK_ERRNO("an empty path is ENOENT", oa2(top, "", O_RDONLY, 0, 0), ENOENT);
  CHECK_ERRNO("a closed dirfd is EBADF", oa2(999, "b", O_RDONLY, 0, 0), EBADF);
  CHECK_ERRNO("a file as dirfd is ENOTDIR", oa2(open("top/b", O_RDONLY | O_CLOEXEC), "x", O_RDONLY, 0, 0), ENOTDIR);

  /* Flags. */
  CHECK_ERRNO("flag bit 40 is EINVAL", oa2(top, "b", O_RDONLY | (1ULL << 40), 0, 0), EINVAL);
  CHECK_ERRNO("flag bit 63 is EINVAL", oa2(top, "b", O_RDONLY | (1ULL << 63), 0, 0), EINVAL);
  fd = open("top/b", O_RDONLY | 020);
  CHECK("open(2) silently drops flag bit 4", fd >= 0);
  if (fd >= 0) close((int)fd);
  CHECK_ERRNO("openat2 rejects flag bit 4 (EINVAL)", oa2(top, "b", O_RDONLY | 020, 0, 0), EINVAL);
  CHECK_ERRNO("a mode without O_CREAT is EINVAL", oa2(top, "b", O_RDONLY, 0644, 0), EINVAL);
  CHECK_ERRNO("a mode without O_CREAT on a missing file is EINVAL", oa2(top, "nope", O_RDONLY, 0644, 0), EINVAL);
  CHECK_ERRNO("mode 010000 with O_CREAT is EINVAL", oa2(top, "m1", O_CREAT | O_WRONLY, 010000, 0), EINVAL);
  CHECK_ERRNO("mode bit 40 with O_CREAT is EINVAL", oa2(top, "m1", O_CREAT | O_WRONLY, 0644 | (1ULL << 40), 0), EINVAL);
  CHECK("nothing was created", access("top/m1", F_OK) != 0);
  CHECK_ERRNO("O_TMPFILE without write access is EINVAL", oa2(top, ".", O_TMPFILE | O_RDONLY, 0600, 0), EINVAL);
  CHECK_ERRNO("O_TMPFILE mode bits above 07777 are EINVAL", oa2(top, ".", O_TMPFILE | O_RDWR, 010600, 0), EINVAL);
  CHECK_ERRNO("O_CREAT|O_DIRECTORY is EINVAL", oa2(top, "cd", O_CREAT | O_DIRECTORY | O_RDONLY, 0755, 0), EINVAL);
  fd = open("top/b", O_PATH | O_RDWR | O_APPEND);
  CHECK("open(2) drops O_RDWR|O_APPEND next to O_PATH", fd >= 0);
  if (fd >= 0) close((int)fd);
  CHECK_ERRNO("openat2 O_PATH|O_RDWR is EINVAL", oa2(top, "b", O_PATH | O_RDWR, 0, 0), EINVAL);
  CHECK_ERRNO("openat2 O_PATH|O_APPEND is EINVAL", oa2(top, "b", O_PATH | O_APPEND, 0, 0), EINVAL);
  CHECK("O_PATH|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC are allowed",
        is_open(oa2(top, "a", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0, 0), S_IFDIR));
  CHECK_ERRNO("resolve bit 0x40 is EINVAL", oa2(top, "b", O_RDONLY, 0, 0x40), EINVAL);
  CHECK_ERRNO("resolve bit 63 is EINVAL", oa2(top, "b", O_RDONLY, 0, 1ULL << 63), EINVAL);
  CHECK_ERRNO("RESOLVE_BENEATH|RESOLVE_IN_ROOT is EINVAL",
              oa2(top, "b", O_RDONLY, 0, RESOLVE_BENEATH_ | RESOLVE_IN_ROOT_), EINVAL);
  CHECK_ERRNO("RESOLVE_CACHED with O_CREAT is EAGAIN", oa2(top, "c1", O_CREAT | O_WRONLY, 0644, RESOLVE_CACHED_),
              EAGAIN);
  CHECK_ERRNO("RESOLVE_CACHED with O_CREAT on an existing file is EAGAIN",
              oa2(top, "b", O_CREAT | O_RDONLY, 0644, RESOLVE_CACHED_), EAGAIN);
  CHECK_ERRNO("RESOLVE_CACHED with O_TRUNC is EAGAIN", oa2(top, "b", O_TRUNC | O_WRONLY, 0, RESOLVE_CACHED_), EAGAIN);
  CHECK_ERRNO("RESOLVE_CACHED with O_TMPFILE is EAGAIN", oa2(top, ".", O_TMPFILE | O_RDWR, 0600, RESOLVE_CACHED_),
              EAGAIN);
  CHECK("nothing was created or truncated", access("top/c1", F_OK) != 0 && holds(open("top/b", O_RDONLY), "top-b"));
  fd = oa2(top, "b", O_RDONLY, 0, RESOLVE_CACHED_);
  int cached_ok = fd >= 0 ? holds(fd, "top-b") : errno == EAGAIN;
  CHECK("RESOLVE_CACHED plain opens the file or answers EAGAIN", cached_ok);

  /* RESOLVE_BENEATH. */
  const uint64_t B = RESOLVE_BENEATH_;
  CHECK("BENEATH a/b", holds(oa2(top, "a/b", O_RDONLY, 0, B), "top-a-b"));
  CHECK("BENEATH ./a/./b", holds(oa2(top, "./a/./b", O_RDONLY, 0, B), "top-a-b"));
  CHECK("BENEATH a/../b stays inside", holds(oa2(top, "a/../b", O_RDONLY, 0, B), "top-b"));
  CHECK("BENEATH . is the anchor itself", is_open(oa2(top, ".", O_RDONLY, 0, B), S_IFDIR));
  CHECK_ERRNO("BENEATH .. is EXDEV", oa2(top, "..", O_RDONLY, 0, B), EXDEV);
  CHECK_ERRNO("BENEATH ../outside is EXDEV", oa2(top, "../outside", O_RDONLY, 0, B), EXDEV);
  CHECK_ERRNO("BENEATH ../missing is EXDEV", oa2(top, "../missing", O_RDONLY, 0, B), EXDEV);
  CHECK_ERRNO("BENEATH /etc is EXDEV", oa2(top, "/etc", O_RDONLY, 0, B), EXDEV);
  CHECK_ERRNO("BENEATH an absolute path into the tree is EXDEV", oa2(top, path, O_RDONLY, 0, B), EXDEV);
  CHECK_ERRNO("BENEATH a/../../outside is EXDEV", oa2(top, "a/../../outside", O_RDONLY, 0, B), EXDEV);
  CHECK_ERRNO("BENEATH a symlink to an absolute path inside is EXDEV", oa2(top, "abs", O_RDONLY, 0, B), EXDEV);
  CHECK_ERRNO("BENEATH a symlink out of the tree is EXDEV", oa2(top, "out", O_RDONLY, 0, B), EXDEV);
  CHECK_ERRNO("BENEATH a symlink to /b is EXDEV", oa2(top, "lnk", O_RDONLY, 0, B), EXDEV);
  CHECK("BENEATH a relative symlink inside", holds(oa2(top, "rel", O_RDONLY, 0, B), "top-a-b"));
  CHECK("BENEATH a relative symlink with .. inside", holds(oa2(top, "relup", O_RDONLY, 0, B), "top-b"));
  CHECK("BENEATH through a directory symlink", holds(oa2(top, "dirlnk/b", O_RDONLY, 0, B), "top-a-b"));
  CHECK("BENEATH O_PATH|O_NOFOLLOW on an escaping symlink opens the link",
        is_open(oa2(top, "out", O_PATH | O_NOFOLLOW, 0, B), S_IFLNK));
  CHECK_ERRNO("BENEATH missing file is ENOENT", oa2(top, "a/nope", O_RDONLY, 0, B), ENOENT);
  CHECK("BENEATH O_CREAT inside", is_open(oa2(top, "a/made", O_CREAT | O_WRONLY, 0600, B), S_IFREG));
  CHECK_ERRNO("BENEATH O_CREAT through .. is EXDEV", oa2(top, "../made", O_CREAT | O_WRONLY, 0600, B), EXDEV);
  CHECK("and did not create it", access("made", F_OK) != 0);
  int pfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY);
  char num[16];
  snprintf(num, sizeof num, "%d", top);
  CHECK_ERRNO("BENEATH a magic link (/proc/self/fd anchor) is EXDEV", oa2(pfd, num, O_RDONLY, 0, B), EXDEV);
  CHECK("without BENEATH the magic link opens", is_open(oa2(pfd, num, O_RDONLY, 0, 0), S_IFDIR));
  CHECK("chdir top", chdir("top") == 0);
  CHECK("BENEATH AT_FDCWD a/b", holds(oa2(AT_FDCWD, "a/b", O_RDONLY, 0, B), "top-a-b"));
  CHECK_ERRNO("BENEATH AT_FDCWD ../outside is EXDEV", oa2(AT_FDCWD, "../outside", O_RDONLY, 0, B), EXDEV);
  CHECK_ERRNO("BENEATH AT_FDCWD /etc is EXDEV", oa2(AT_FDCWD, "/etc", O_RDONLY, 0, B), EXDEV);
  CHECK_ERRNO("BENEATH AT_FDCWD escaping symlink is EXDEV", oa2(AT_FDCWD, "out", O_RDONLY, 0, B), EXDEV);
  CHECK("chdir back", chdir("..") == 0);

  /* RESOLVE_IN_ROOT. */
  const uint64_t R = RESOLVE_IN_ROOT_;
  CHECK("IN_ROOT /b is top/b", holds(oa2(top, "/b", O_RDONLY, 0, R), "top-b"));
  CHECK("IN_ROOT /a/b is top/a/b", holds(oa2(top, "/a/b", O_RDONLY, 0, R), "top-a-b"));
  CHECK("IN_ROOT ../../b is top/b", holds(oa2(top, "../../b", O_RDONLY, 0, R), "top-b"));
  CHECK("IN_ROOT a/../../../a/b is top/a/b", holds(oa2(top, "a/../../../a/b", O_RDONLY, 0, R), "top-a-b"));
  CHECK("IN_ROOT .. is the root", is_open(oa2(top, "..", O_RDONLY | O_DIRECTORY, 0, R), S_IFDIR));
  CHECK_ERRNO("IN_ROOT ../outside is ENOENT (no such file inside)", oa2(top, "../outside", O_RDONLY, 0, R), ENOENT);
  CHECK("IN_ROOT symlink to /b opens top/b", holds(oa2(top, "lnk", O_RDONLY, 0, R), "top-b"));
  CHECK("IN_ROOT symlink ../../../b opens top/b", holds(oa2(top, "up", O_RDONLY, 0, R), "top-b"));
  CHECK("IN_ROOT relative symlink inside", holds(oa2(top, "rel", O_RDONLY, 0, R), "top-a-b"));
  CHECK_ERRNO("IN_ROOT symlink to the host path is ENOENT", oa2(top, "abs", O_RDONLY, 0, R), ENOENT);
  CHECK_ERRNO("IN_ROOT symlink ../outside is ENOENT", oa2(top, "out", O_RDONLY, 0, R), ENOENT);
  CHECK("IN_ROOT O_CREAT through a symlinked dir lands inside",
        is_open(oa2(top, "/dirlnk/../made2", O_CREAT | O_WRONLY, 0600, R), S_IFREG) && access("top/made2", F_OK) == 0);
  CHECK_ERRNO("IN_ROOT a magic link is EXDEV", oa2(pfd, num, O_RDONLY, 0, R), EXDEV);

  /* RESOLVE_NO_SYMLINKS. */
  const uint64_t S = RESOLVE_NO_SYMLINKS_;
  CHECK("NO_SYMLINKS on a plain path", holds(oa2(top, "a/b", O_RDONLY, 0, S), "top-a-b"));
  CHECK_ERRNO("NO_SYMLINKS symlink last is ELOOP", oa2(top, "rel", O_RDONLY, 0, S), ELOOP);
  CHECK_ERRNO("NO_SYMLINKS symlink in the middle is ELOOP", oa2(top, "dirlnk/b", O_RDONLY, 0, S), ELOOP);
  CHECK_ERRNO("NO_SYMLINKS /proc/self/status is ELOOP", oa2(AT_FDCWD, "/proc/self/status", O_RDONLY, 0, S), ELOOP);
  CHECK_ERRNO("NO_SYMLINKS O_NOFOLLOW on a symlink is ELOOP", oa2(top, "rel", O_RDONLY | O_NOFOLLOW, 0, S), ELOOP);
  CHECK("NO_SYMLINKS O_PATH|O_NOFOLLOW opens the symlink itself",
        is_open(oa2(top, "rel", O_PATH | O_NOFOLLOW, 0, S), S_IFLNK));
  CHECK_ERRNO("NO_SYMLINKS O_PATH (following) is ELOOP", oa2(top, "rel", O_PATH, 0, S), ELOOP);
  CHECK_ERRNO("NO_SYMLINKS O_CREAT through a dangling symlink is ELOOP", oa2(top, "lnk", O_CREAT | O_WRONLY, 0600, S),
              ELOOP);

  /* RESOLVE_NO_MAGICLINKS. */
  const uint64_t M = RESOLVE_NO_MAGICLINKS_;
  snprintf(path, sizeof path, "/proc/self/fd/%d", top);
  CHECK("/proc/self/fd/N opens without the flag", is_open(oa2(AT_FDCWD, path, O_RDONLY, 0, 0), S_IFDIR));
  CHECK_ERRNO("NO_MAGICLINKS /proc/self/fd/N is ELOOP", oa2(AT_FDCWD, path, O_RDONLY, 0, M), ELOOP);
  CHECK_ERRNO("NO_MAGICLINKS /proc/self/fd/N/b is ELOOP", oa2(AT_FDCWD, strcat(path, "/b"), O_RDONLY, 0, M), ELOOP);
  snprintf(path, sizeof path, "/proc/self/fd/%d", top);
  CHECK("NO_MAGICLINKS O_PATH|O_NOFOLLOW on /proc/self/fd/N opens the link",
        is_open(oa2(AT_FDCWD, path, O_PATH | O_NOFOLLOW, 0, M), S_IFLNK));
  CHECK_ERRNO("NO_MAGICLINKS /proc/self/exe is ELOOP", oa2(AT_FDCWD, "/proc/self/exe", O_RDONLY, 0, M), ELOOP);
  CHECK_ERRNO("NO_MAGICLINKS /proc/self/cwd/top is ELOOP", oa2(AT_FDCWD, "/proc/self/cwd/top", O_RDONLY, 0, M), ELOOP);
  CHECK("NO_MAGICLINKS /proc/self/status (an ordinary symlink) works",
        is_open(oa2(AT_FDCWD, "/proc/self/status", O_RDONLY, 0, M), S_IFREG));
  CHECK("NO_MAGICLINKS an ordinary symlink works", holds(oa2(top, "rel", O_RDONLY, 0, M), "top-a-b"));
  CHECK("NO_MAGICLINKS through a directory symlink works", holds(oa2(top, "dirlnk/b", O_RDONLY, 0, M), "top-a-b"));

  /* RESOLVE_NO_XDEV. */
  const uint64_t X = RESOLVE_NO_XDEV_;
  int root = open("/", O_RDONLY | O_DIRECTORY);
  int proc = open("/proc", O_RDONLY | O_DIRECTORY);
  CHECK_ERRNO("NO_XDEV / then proc/self/status is EXDEV", oa2(root, "proc/self/status", O_RDONLY, 0, X), EXDEV);
  CHECK_ERRNO("NO_XDEV / then proc (last component) is EXDEV", oa2(root, "proc", O_RDONLY, 0, X), EXDEV);
  CHECK_ERRNO("NO_XDEV absolute /proc/self/status is EXDEV", oa2(top, "/proc/self/status", O_RDONLY, 0, X), EXDEV);
  CHECK("without NO_XDEV / then proc/self/status opens",
        is_open(oa2(root, "proc/self/status", O_RDONLY, 0, 0), S_IFREG));
  CHECK("NO_XDEV within the root file system", holds(oa2(top, "a/../rel", O_RDONLY, 0, X), "top-a-b"));
  CHECK("NO_XDEV within /proc (through the self symlink)", is_open(oa2(proc, "self/status", O_RDONLY, 0, X), S_IFREG));
  CHECK("NO_XDEV . on /proc", is_open(oa2(proc, ".", O_RDONLY, 0, X), S_IFDIR));
  CHECK_ERRNO("NO_XDEV .. out of /proc is EXDEV", oa2(proc, "..", O_RDONLY, 0, X), EXDEV);
  CHECK_ERRNO("NO_XDEV ../proc from /proc is EXDEV", oa2(proc, "../proc", O_RDONLY, 0, X), EXDEV);
  snprintf(path, sizeof path, "self/fd/%d", top);
  CHECK_ERRNO("NO_XDEV a magic link from /proc to the root file system is EXDEV", oa2(proc, path, O_RDONLY, 0, X),
              EXDEV);
  CHECK_ERRNO("NO_XDEV|NO_MAGICLINKS on it is ELOOP", oa2(proc, path, O_RDONLY, 0, X | M), ELOOP);
  close(root);
  close(proc);
  close(pfd);
  close(top);

  CHECK("chdir /", chdir("/") == 0);
  CHECK("remove the scratch directory", nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0 && access(dir, F_OK) != 0);
  return ABI_DONE();
}
