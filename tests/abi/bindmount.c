/* Bind mounts and MS_MOVE, in a private mount namespace (run as root, natively too):
 * - mount --bind of a directory of a tmpfs: the same files both ways (a file made through the
 *   bind is in the source), the same st_dev and st_ino, /proc/self/mountinfo shows the bind's
 *   root as the directory inside the file system; what is mounted beneath the source shows
 *   through (recursive bind); umount of the bind leaves the source; umount of the bind while a
 *   file of the source is open works;
 * - a file bound onto a file reads the source's data; a directory onto a file and a file onto a
 *   directory are ENOTDIR; a missing source ENOENT; a NULL or empty source EINVAL;
 * - MS_MOVE: a tmpfs moved to another directory keeps its files there, the old place is empty,
 *   /proc/self/mounts names the new place; moving what is not a mount is EINVAL, moving a mount
 *   beneath itself ELOOP;
 * - tmpfs's options: size= and nr_inodes= in statfs and /proc/self/mounts, a write past size= is
 *   short then ENOSPC, a file past nr_inodes= ENOSPC (the root counts), mode= the root's mode
 *   (1777 without), an unknown option or a bad number EINVAL; /dev/shm is a tmpfs;
 * - a read-only bind mount (see read_only_bind). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "abi_check.h"
#include "mount_scratch.h"

static char path[256];

static const char* at(const char* base, const char* rel) {
  snprintf(path, sizeof path, "%s/%s", base, rel);
  return path;
}

static int put(const char* p, const char* s) {
  int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
  if (fd < 0) return -1;
  int ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
  close(fd);
  return ok ? 0 : -1;
}

static int is(const char* p, const char* s) {
  char buf[64] = {0};
  int fd = open(p, O_RDONLY);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  return n == (ssize_t)strlen(s) && memcmp(buf, s, (size_t)n) == 0;
}

/* The mountinfo line whose mount point is `where`: its ROOT field in `root`. */
static int mountinfo_root(const char* where, char* root, size_t len) {
  FILE* f = fopen("/proc/self/mountinfo", "r");
  if (!f) return -1;
  char line[1024];
  int found = -1;
  while (fgets(line, sizeof line, f)) {
    char r[512], m[512];
    if (sscanf(line, "%*d %*d %*d:%*d %511s %511s", r, m) == 2 && strcmp(m, where) == 0) {
      snprintf(root, len, "%s", r);
      found = 0;
    }
  }
  fclose(f);
  return found;
}

static int in_mounts(const char* where) {
  FILE* f = fopen("/proc/self/mounts", "r");
  if (!f) return 0;
  char line[1024], m[512];
  int n = 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "%*s %511s", m) == 1 && strcmp(m, where) == 0) n++;
  fclose(f);
  return n;
}

/* The leading rw/ro word of the options of the /proc/self/mounts line for `where`. */
static int mounted_ro(const char* where) {
  FILE* f = fopen("/proc/self/mounts", "r");
  if (!f) return -1;
  char line[1024], m[512], opts[512];
  int ro = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "%*s %511s %*s %511s", m, opts) == 2 && strcmp(m, where) == 0) ro = strncmp(opts, "ro", 2) == 0;
  fclose(f);
  return ro;
}

/* A bind mount made read-only on its own (MS_REMOUNT|MS_BIND|MS_RDONLY): every change through
 * it is EROFS, even through a directory opened before; the source stays writable and what it
 * gets shows through the bind; renames and links between the two are EXDEV; remounting it
 * read-write again allows writes; a bind of it is read-only too. */
static void read_only_bind(void) {
  CHECK("bind a directory again", mount(at(a, "sub"), b, NULL, MS_BIND, NULL) == 0);
  int dirfd = open(b, O_RDONLY | O_DIRECTORY);
  CHECK_ERRNO("MS_REMOUNT|MS_BIND of what is no mount is EINVAL",
              mount(NULL, at(a, "sub"), NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), EINVAL);
  CHECK("MS_REMOUNT|MS_BIND|MS_RDONLY", mount(NULL, b, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) == 0);
  CHECK("mounts says ro for the bind, rw for the source", mounted_ro(b) == 1 && mounted_ro(a) == 0);
  CHECK("its files read", is(at(b, "one"), "one"));
  CHECK_ERRNO("open for writing is EROFS", open(at(b, "one"), O_WRONLY), EROFS);
  CHECK_ERRNO("O_TRUNC is EROFS", open(at(b, "one"), O_RDONLY | O_TRUNC), EROFS);
  CHECK_ERRNO("creating a file is EROFS", open(at(b, "new"), O_CREAT | O_WRONLY, 0644), EROFS);
  CHECK_ERRNO("mkdir is EROFS", mkdir(at(b, "d2"), 0755), EROFS);
  CHECK_ERRNO("mkdirat through a directory opened before is EROFS", mkdirat(dirfd, "d3", 0755), EROFS);
  CHECK_ERRNO("mknod of a FIFO is EROFS", mknod(at(b, "fifo"), S_IFIFO | 0644, 0), EROFS);
  CHECK_ERRNO("symlink is EROFS", symlink("x", at(b, "l")), EROFS);
  CHECK_ERRNO("unlink is EROFS", unlink(at(b, "one")), EROFS);
  CHECK_ERRNO("rmdir is EROFS", rmdir(at(b, "inner")), EROFS);
  char other[128];
  snprintf(other, sizeof other, "%s/sub/two", a);
  CHECK_ERRNO("rename inside it is EROFS", rename(at(b, "one"), at(b, "uno")), EROFS);
  CHECK_ERRNO("chmod is EROFS", chmod(at(b, "one"), 0600), EROFS);
  CHECK_ERRNO("chown is EROFS", chown(at(b, "one"), 0, 0), EROFS);
  CHECK_ERRNO("utimensat is EROFS", utimensat(AT_FDCWD, at(b, "one"), NULL, 0), EROFS);
  CHECK_ERRNO("truncate is EROFS", truncate(at(b, "one"), 1), EROFS);
  CHECK_ERRNO("access W_OK is EROFS", access(at(b, "one"), W_OK), EROFS);
  CHECK("access R_OK is fine", access(at(b, "one"), R_OK) == 0);
  CHECK_ERRNO("rename from the source into it is EXDEV", rename(other, at(b, "two-moved")), EXDEV);
  CHECK_ERRNO("link from the source into it is EROFS (before EXDEV)", link(other, at(b, "two-link")), EROFS);
  CHECK("the source stays writable, and shows through", put(at(a, "sub/three"), "3") == 0 && is(at(b, "three"), "3"));
  CHECK("a bind of it is read-only too", mount(b, c, NULL, MS_BIND, NULL) == 0 && mounted_ro(c) == 1 &&
                                             open(at(c, "x"), O_CREAT | O_WRONLY, 0644) < 0 && errno == EROFS &&
                                             umount(c) == 0);
  CHECK("remount it read-write", mount(NULL, b, NULL, MS_REMOUNT | MS_BIND, NULL) == 0 && mounted_ro(b) == 0);
  CHECK("writes go through it again", put(at(b, "four"), "4") == 0 && is(at(a, "sub/four"), "4") &&
                                          mkdirat(dirfd, "d4", 0755) == 0 && rmdir(at(b, "d4")) == 0);
  if (dirfd >= 0) close(dirfd);
  unlink(at(a, "sub/three"));
  unlink(at(a, "sub/four"));
  CHECK("umount it", umount(b) == 0);
}

int main(void) {
  setvbuf(stdout, 0, _IOLBF, 0);
  if (geteuid() != 0) {
    printf("bindmount: needs root\n");
    return 0;
  }
  mount_scratch("bindmount");
  CHECK("mount a tmpfs", mount("none", a, "tmpfs", 0, NULL) == 0);
  mkdir(at(a, "sub"), 0755);
  mkdir(at(a, "sub/inner"), 0755);
  CHECK("a file in it", put(at(a, "sub/one"), "one") == 0 && put(at(a, "file"), "data") == 0);
  CHECK("a tmpfs beneath the source",
        mount("none", at(a, "sub/inner"), "tmpfs", 0, NULL) == 0 && put(at(a, "sub/inner/deep"), "deep") == 0);

  char src[128];
  snprintf(src, sizeof src, "%s/sub", a);
  CHECK("bind a directory", mount(src, b, NULL, MS_BIND | MS_REC, NULL) == 0);
  CHECK("its files show", is(at(b, "one"), "one"));
  CHECK("a file made through the bind is in the source", put(at(b, "two"), "two") == 0 && is(at(a, "sub/two"), "two"));
  struct stat s1, s2;
  CHECK("the same inode", stat(at(a, "sub/one"), &s1) == 0 && stat(at(b, "one"), &s2) == 0 && s1.st_dev == s2.st_dev &&
                              s1.st_ino == s2.st_ino);
  CHECK("what is mounted beneath shows through", is(at(b, "inner/deep"), "deep"));
  char root[512] = "";
  CHECK("mountinfo: the bind's root is /sub", mountinfo_root(b, root, sizeof root) == 0 && strcmp(root, "/sub") == 0);
  printf("bind root: %s\n", root);
  CHECK("mounts lists the bind", in_mounts(b) >= 1);
  int fd = open(at(a, "file"), O_RDONLY);
  CHECK("umount the bind while a file of the source is open", umount2(at(b, "inner"), 0) == 0 && umount(b) == 0);
  if (fd >= 0) close(fd);
  CHECK("the source keeps its files", is(at(a, "sub/two"), "two") && !is(at(b, "one"), "one"));
  umount(at(a, "sub/inner"));

  char cfile[128];
  snprintf(cfile, sizeof cfile, "%s/cfile", top);
  CHECK("a file to bind onto", put(cfile, "mine") == 0);
  CHECK("bind a file onto a file", mount(at(a, "file"), cfile, NULL, MS_BIND, NULL) == 0);
  CHECK("it reads the source", is(cfile, "data"));
  CHECK("umount it", umount(cfile) == 0 && is(cfile, "mine"));
  CHECK_ERRNO("a directory onto a file is ENOTDIR", mount(a, cfile, NULL, MS_BIND, NULL), ENOTDIR);
  CHECK_ERRNO("a file onto a directory is ENOTDIR", mount(cfile, b, NULL, MS_BIND, NULL), ENOTDIR);
  CHECK_ERRNO("a missing source is ENOENT", mount(at(top, "nothing"), b, NULL, MS_BIND, NULL), ENOENT);
  CHECK_ERRNO("a NULL source is EINVAL", mount(NULL, b, NULL, MS_BIND, NULL), EINVAL);
  CHECK_ERRNO("an empty source is EINVAL", mount("", b, NULL, MS_BIND, NULL), EINVAL);

  CHECK("mount a tmpfs on c", mount("none", c, "tmpfs", 0, NULL) == 0 && put(at(c, "moved"), "m") == 0);
  CHECK("MS_MOVE it to b", mount(c, b, NULL, MS_MOVE, NULL) == 0);
  CHECK("its files are at the new place", is(at(b, "moved"), "m"));
  CHECK("the old place is empty", access(at(c, "moved"), F_OK) != 0);
  CHECK("mounts names the new place, not the old", in_mounts(b) == 1 && in_mounts(c) == 0);
  CHECK_ERRNO("moving what is not a mount is EINVAL", mount(c, a, NULL, MS_MOVE, NULL), EINVAL);
  mkdir(at(b, "d"), 0755);
  CHECK_ERRNO("moving a mount beneath itself is ELOOP", mount(b, at(b, "d"), NULL, MS_MOVE, NULL), ELOOP);
  CHECK("umount the moved tmpfs", umount(b) == 0);

  CHECK("tmpfs with size=64k,nr_inodes=4,mode=700", mount("none", b, "tmpfs", 0, "size=64k,nr_inodes=4,mode=700") == 0);
  struct statfs sf;
  CHECK("statfs: 16 blocks of 4096, 4 inodes, 3 free", statfs(b, &sf) == 0 && sf.f_blocks == 16 && sf.f_bsize == 4096 &&
                                                           sf.f_bfree == 16 && sf.f_files == 4 && sf.f_ffree == 3);
  CHECK("the root's mode is 0700", stat(b, &s1) == 0 && (s1.st_mode & 07777) == 0700);
  {
    FILE* f = fopen("/proc/self/mounts", "r");
    char line[1024];
    int seen = 0;
    while (f && fgets(line, sizeof line, f))
      if (strstr(line, b) && strstr(line, "size=64k,nr_inodes=4,mode=700")) seen = 1;
    if (f) fclose(f);
    CHECK("mounts shows the options", seen);
  }
  static char big[80 * 1024];
  fd = open(at(b, "big"), O_CREAT | O_WRONLY, 0644);
  CHECK("a write past size= is short", fd >= 0 && write(fd, big, sizeof big) == 65536);
  CHECK_ERRNO("and the next is ENOSPC", write(fd, big, 10), ENOSPC);
  if (fd >= 0) close(fd);
  CHECK("two more files fit", put(at(b, "x"), "") == 0 && put(at(b, "y"), "") == 0);
  CHECK_ERRNO("a fifth inode is ENOSPC", open(at(b, "z"), O_CREAT | O_WRONLY, 0644), ENOSPC);
  CHECK("unlinking frees blocks",
        unlink(at(b, "big")) == 0 && statfs(b, &sf) == 0 && sf.f_bfree == 16 && sf.f_ffree == 1);
  CHECK("umount it", umount(b) == 0);
  CHECK("without mode= the root is 1777", mount("none", b, "tmpfs", 0, NULL) == 0 && stat(b, &s1) == 0 &&
                                              (s1.st_mode & 07777) == 01777 && umount(b) == 0);
  CHECK_ERRNO("an unknown option is EINVAL", mount("none", b, "tmpfs", 0, "bogus=1"), EINVAL);
  CHECK_ERRNO("a bad size is EINVAL", mount("none", b, "tmpfs", 0, "size=12q"), EINVAL);
  CHECK("/dev/shm is a tmpfs", statfs("/dev/shm", &sf) == 0 && sf.f_type == 0x01021994);
  read_only_bind();
  CHECK("umount the first", umount(a) == 0);
  unlink(cfile);
  rmdir(a);
  rmdir(b);
  rmdir(c);
  rmdir(top);
  return ABI_DONE();
}
