/* Extended attributes: set/get/list/remove and their l- and f- forms, on a file and a directory
 * in a fresh directory under /tmp. Only what Linux's VFS decides is checked (name and size
 * limits, flags, namespaces, user. on symlinks, pipes and proc), so tmpfs under the kernel and
 * whatever file system holds the host's /tmp give the same answers. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "abi_check.h"

#define BAD_PTR ((void*)0x10)

int main(void) {
  char dir[] = "/tmp/xattrXXXXXX";
  if (mkdtemp(dir) == NULL) return 100;
  char file[64], link[64], sub[64];
  snprintf(file, sizeof file, "%s/f", dir);
  snprintf(link, sizeof link, "%s/l", dir);
  snprintf(sub, sizeof sub, "%s/d", dir);
  close(open(file, O_CREAT | O_WRONLY, 0644));
  CHECK("symlink", symlink("f", link) == 0);
  CHECK("mkdir", mkdir(sub, 0755) == 0);

  char buf[256];
  CHECK("set user.a", setxattr(file, "user.a", "hello", 5, 0) == 0);
  CHECK("get user.a: its length with size 0", getxattr(file, "user.a", NULL, 0) == 5);
  memset(buf, 0, sizeof buf);
  CHECK("get user.a", getxattr(file, "user.a", buf, sizeof buf) == 5 && memcmp(buf, "hello", 5) == 0);
  CHECK_ERRNO("get into a buffer too small", getxattr(file, "user.a", buf, 3), ERANGE);
  CHECK_ERRNO("XATTR_CREATE over an existing one", setxattr(file, "user.a", "x", 1, XATTR_CREATE), EEXIST);
  CHECK_ERRNO("XATTR_REPLACE of a missing one", setxattr(file, "user.b", "x", 1, XATTR_REPLACE), ENODATA);
  CHECK("XATTR_REPLACE of an existing one", setxattr(file, "user.a", "bye", 3, XATTR_REPLACE) == 0);
  CHECK("the new value", getxattr(file, "user.a", buf, sizeof buf) == 3 && memcmp(buf, "bye", 3) == 0);
  CHECK("an empty value",
        setxattr(file, "user.empty", "", 0, 0) == 0 && getxattr(file, "user.empty", buf, sizeof buf) == 0);
  CHECK_ERRNO("get a missing one", getxattr(file, "user.missing", buf, sizeof buf), ENODATA);
  CHECK_ERRNO("bad flags", setxattr(file, "user.a", "x", 1, 4), EINVAL);
  CHECK_ERRNO("an empty name", setxattr(file, "", "x", 1, 0), ERANGE);
  char longname[300] = "user.";
  memset(longname + 5, 'n', 260);
  longname[265] = 0;
  CHECK_ERRNO("a name over 255 bytes", setxattr(file, longname, "x", 1, 0), ERANGE);
  CHECK_ERRNO("get with a name over 255 bytes", getxattr(file, longname, buf, sizeof buf), ERANGE);
  CHECK_ERRNO("an unknown namespace", setxattr(file, "nonsense.a", "x", 1, 0), EOPNOTSUPP);
  CHECK_ERRNO("get in an unknown namespace", getxattr(file, "nonsense.a", buf, sizeof buf), EOPNOTSUPP);
  CHECK_ERRNO("a bare namespace", setxattr(file, "user.", "x", 1, 0), EINVAL);
  static char big[65537];
  CHECK_ERRNO("a value over 64 KiB", setxattr(file, "user.big", big, sizeof big, 0), E2BIG);
  CHECK_ERRNO("a bad name pointer", setxattr(file, BAD_PTR, "x", 1, 0), EFAULT);
  CHECK_ERRNO("a bad value pointer", setxattr(file, "user.c", BAD_PTR, 4, 0), EFAULT);
  CHECK_ERRNO("get into a bad pointer", getxattr(file, "user.a", BAD_PTR, 100), EFAULT);
  CHECK_ERRNO("a missing file", getxattr("/tmp/no/such/file", "user.a", buf, sizeof buf), ENOENT);

  /* Listing: both names, in any order, NUL-terminated. */
  ssize_t n = listxattr(file, NULL, 0);
  CHECK("list: the size with size 0", n == (ssize_t)(sizeof "user.a" + sizeof "user.empty"));
  memset(buf, 0, sizeof buf);
  CHECK("list", listxattr(file, buf, sizeof buf) == n);
  int seen_a = 0, seen_empty = 0;
  for (char* p = buf; p < buf + n; p += strlen(p) + 1) {
    seen_a |= strcmp(p, "user.a") == 0;
    seen_empty |= strcmp(p, "user.empty") == 0;
  }
  CHECK("list names both", seen_a && seen_empty);
  CHECK_ERRNO("list into a buffer too small", listxattr(file, buf, 4), ERANGE);
  CHECK("list of a file with none", listxattr(sub, buf, sizeof buf) == 0);

  /* Through the symlink (followed), and on it (user. is for files and directories only). */
  CHECK("get through a symlink", getxattr(link, "user.a", buf, sizeof buf) == 3);
  CHECK_ERRNO("lsetxattr user. on a symlink", lsetxattr(link, "user.a", "x", 1, 0), EPERM);
  CHECK_ERRNO("lgetxattr user. on a symlink", lgetxattr(link, "user.a", buf, sizeof buf), ENODATA);
  CHECK("a directory takes user.",
        setxattr(sub, "user.dir", "1", 1, 0) == 0 && getxattr(sub, "user.dir", buf, sizeof buf) == 1);
  CHECK("trusted. as root",
        setxattr(file, "trusted.t", "t", 1, 0) == 0 && getxattr(file, "trusted.t", buf, sizeof buf) == 1);
  CHECK("removexattr trusted.", removexattr(file, "trusted.t") == 0);

  /* By descriptor. */
  int fd = open(file, O_RDONLY);
  CHECK("fgetxattr", fgetxattr(fd, "user.a", buf, sizeof buf) == 3);
  CHECK("fsetxattr", fsetxattr(fd, "user.f", "ff", 2, 0) == 0 && getxattr(file, "user.f", buf, sizeof buf) == 2);
  CHECK("flistxattr", flistxattr(fd, NULL, 0) == (ssize_t)(sizeof "user.a" + sizeof "user.empty" + sizeof "user.f"));
  CHECK("fremovexattr", fremovexattr(fd, "user.f") == 0);
  CHECK_ERRNO("fremovexattr of a missing one", fremovexattr(fd, "user.f"), ENODATA);
  close(fd);
  CHECK_ERRNO("fgetxattr on a closed descriptor", fgetxattr(fd, "user.a", buf, sizeof buf), EBADF);
  int p[2];
  CHECK("pipe", pipe(p) == 0);
  CHECK_ERRNO("fsetxattr user. on a pipe", fsetxattr(p[0], "user.a", "x", 1, 0), EPERM);
  CHECK_ERRNO("fgetxattr user. on a pipe", fgetxattr(p[0], "user.a", buf, sizeof buf), ENODATA);
  CHECK_ERRNO("fsetxattr trusted. on a pipe", fsetxattr(p[0], "trusted.a", "x", 1, 0), EOPNOTSUPP);
  CHECK_ERRNO("fgetxattr trusted. on a pipe", fgetxattr(p[0], "trusted.a", buf, sizeof buf), EOPNOTSUPP);
  CHECK("flistxattr on a pipe: none", flistxattr(p[0], buf, sizeof buf) == 0);
  CHECK_ERRNO("getxattr on /proc", getxattr("/proc/self/status", "user.a", buf, sizeof buf), EOPNOTSUPP);

  CHECK("removexattr", removexattr(file, "user.a") == 0);
  CHECK_ERRNO("then it is gone", getxattr(file, "user.a", buf, sizeof buf), ENODATA);
  CHECK_ERRNO("removexattr of a missing one", removexattr(file, "user.a"), ENODATA);
  CHECK("lremovexattr through nothing: the file's own", lremovexattr(file, "user.empty") == 0);
  unlink(link);
  unlink(file);
  rmdir(sub);
  rmdir(dir);
  return ABI_DONE();
}
