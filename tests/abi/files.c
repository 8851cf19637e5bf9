/* File system calls and their errno edges: ENOENT, EEXIST, ENOTDIR, EISDIR, ENAMETOOLONG,
 * EFAULT on every pointer argument of read/write/stat/open, EBADF, EINVAL. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "abi_check.h"

int main(void) {
  char dir[] = "/tmp/abi-files-XXXXXX";
  CHECK("mkdtemp", mkdtemp(dir) != 0);
  CHECK("chdir", chdir(dir) == 0);

  int fd = open("f", O_CREAT | O_WRONLY | O_EXCL, 0644);
  CHECK("open O_CREAT|O_EXCL", fd >= 0);
  CHECK("write", write(fd, "0123456789", 10) == 10);
  CHECK_ERRNO("read on a write-only fd is EBADF", read(fd, (char[4]){0}, 4), EBADF);
  close(fd);
  CHECK_ERRNO("O_EXCL on an existing file is EEXIST", open("f", O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
  CHECK_ERRNO("missing file is ENOENT", open("nope", O_RDONLY), ENOENT);
  CHECK_ERRNO("file used as a directory is ENOTDIR", open("f/x", O_RDONLY), ENOTDIR);
  CHECK_ERRNO("trailing slash on a file is ENOTDIR", open("f/", O_RDONLY), ENOTDIR);
  CHECK_ERRNO("O_DIRECTORY on a file is ENOTDIR", open("f", O_RDONLY | O_DIRECTORY), ENOTDIR);
  CHECK_ERRNO("writing a directory is EISDIR", open(".", O_WRONLY), EISDIR);
  char longname[300];
  memset(longname, 'n', sizeof longname - 1);
  longname[sizeof longname - 1] = 0;
  CHECK_ERRNO("a 299-byte name is ENAMETOOLONG", open(longname, O_RDONLY), ENAMETOOLONG);
  static char longpath[PATH_MAX + 10];
  memset(longpath, 'a', sizeof longpath - 1);
  CHECK_ERRNO("a path over PATH_MAX is ENAMETOOLONG", open(longpath, O_RDONLY), ENAMETOOLONG);

  fd = open("f", O_RDWR);
  char buf[16] = {0};
  CHECK("read back", read(fd, buf, 4) == 4 && memcmp(buf, "0123", 4) == 0);
  CHECK("lseek SEEK_CUR", lseek(fd, 0, SEEK_CUR) == 4);
  CHECK("lseek SEEK_END", lseek(fd, -2, SEEK_END) == 8);
  CHECK_ERRNO("lseek to a negative offset is EINVAL", lseek(fd, -100, SEEK_SET), EINVAL);
  CHECK_ERRNO("lseek bad whence is EINVAL", lseek(fd, 0, 17), EINVAL);
  CHECK("pread does not move the offset", pread(fd, buf, 3, 1) == 3 && lseek(fd, 0, SEEK_CUR) == 8);
  CHECK_ERRNO("read into a bad pointer is EFAULT", read(fd, (void*)8, 4) + 0 * lseek(fd, 0, SEEK_SET), EFAULT);
  CHECK_ERRNO("write from a bad pointer is EFAULT", write(fd, (void*)8, 4), EFAULT);
  struct stat st;
  CHECK_ERRNO("stat with a bad path pointer is EFAULT", stat((char*)8, &st), EFAULT);
  /* musl's stat() copies through a local buffer, so ask the kernel directly. */
  CHECK_ERRNO("stat with a bad buffer is EFAULT", syscall(SYS_newfstatat, AT_FDCWD, "f", (void*)8, 0), EFAULT);
  CHECK_ERRNO("open with a bad path pointer is EFAULT", open((char*)8, O_RDONLY), EFAULT);
  CHECK("fstat size", fstat(fd, &st) == 0 && st.st_size == 10 && S_ISREG(st.st_mode));
  CHECK("fstat mode", (st.st_mode & 0777) == 0644);
  CHECK_ERRNO("fstat of a closed fd is EBADF", fstat(77, &st), EBADF);
  CHECK("ftruncate", ftruncate(fd, 3) == 0 && fstat(fd, &st) == 0 && st.st_size == 3);
  close(fd);

  CHECK("mkdir", mkdir("d", 0755) == 0);
  CHECK_ERRNO("mkdir existing is EEXIST", mkdir("d", 0755), EEXIST);
  CHECK("symlink", symlink("f", "link") == 0);
  char target[64] = {0};
  CHECK("readlink", readlink("link", target, sizeof target) == 1 && target[0] == 'f');
  CHECK("lstat sees the link", lstat("link", &st) == 0 && S_ISLNK(st.st_mode));
  CHECK("stat follows it", stat("link", &st) == 0 && S_ISREG(st.st_mode));
  CHECK("symlink loop", symlink("loop", "loop") == 0);
  CHECK_ERRNO("a symlink loop is ELOOP", open("loop", O_RDONLY), ELOOP);
  CHECK_ERRNO("O_NOFOLLOW on a symlink is ELOOP", open("link", O_RDONLY | O_NOFOLLOW), ELOOP);
  CHECK("rename", rename("f", "d/g") == 0 && access("d/g", F_OK) == 0);
  CHECK_ERRNO("rmdir of a non-empty directory is ENOTEMPTY", rmdir("d"), ENOTEMPTY);
  CHECK_ERRNO("unlink of a directory is EISDIR", unlink("d"), EISDIR);
  CHECK_ERRNO("rmdir of a file is ENOTDIR", rmdir("d/g"), ENOTDIR);
  CHECK("unlink", unlink("d/g") == 0 && rmdir("d") == 0);

  DIR* dp = opendir(".");
  int entries = 0;
  struct dirent* e;
  while ((e = readdir(dp)) != 0) entries++;
  closedir(dp);
  CHECK("readdir sees . .. link loop", entries == 4);
  unlink("link");
  unlink("loop");
  char cwd[PATH_MAX];
  CHECK("getcwd", getcwd(cwd, sizeof cwd) != 0 && strcmp(cwd, dir) == 0);
  CHECK_ERRNO("getcwd into a tiny buffer is ERANGE", getcwd(cwd, 2) == NULL ? -1 : 0, ERANGE);
  /* flock: owned by the open file description; another description conflicts, dup/fork share. */
  int l1 = open("lockme", O_CREAT | O_RDWR, 0600);
  int l2 = open("lockme", O_RDWR);
  CHECK("flock LOCK_EX", flock(l1, LOCK_EX) == 0);
  CHECK_ERRNO("a second description cannot take it (EWOULDBLOCK)", flock(l2, LOCK_EX | LOCK_NB), EWOULDBLOCK);
  CHECK_ERRNO("not even shared", flock(l2, LOCK_SH | LOCK_NB), EWOULDBLOCK);
  int l3 = dup(l1);
  CHECK("a dup of the owner may lock again", flock(l3, LOCK_EX | LOCK_NB) == 0);
  pid_t lk = fork();
  if (lk == 0) _exit(flock(l1, LOCK_EX | LOCK_NB) == 0 ? 0 : 1);
  int lst = 0;
  waitpid(lk, &lst, 0);
  CHECK("a forked child shares the description's lock", WIFEXITED(lst) && WEXITSTATUS(lst) == 0);
  close(l3);
  CHECK("unlock", flock(l1, LOCK_UN) == 0 && flock(l2, LOCK_SH | LOCK_NB) == 0);
  CHECK("shared locks coexist", flock(l1, LOCK_SH | LOCK_NB) == 0);
  close(l2);
  CHECK("closing the last descriptor releases it", flock(l1, LOCK_EX | LOCK_NB) == 0);
  CHECK_ERRNO("flock with a bad operation is EINVAL", flock(l1, 0), EINVAL);
  /* Record-lock ranges at the edges of the offset range (found by the syscalls fuzzer: the
   * start plus the length overflowed). */
  struct flock rl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = LLONG_MAX - 5, .l_len = 10};
  CHECK_ERRNO("F_SETLK past the largest offset is EOVERFLOW", fcntl(l1, F_SETLK, &rl), EOVERFLOW);
  rl.l_len = 6;
  CHECK("F_SETLK up to the largest offset", fcntl(l1, F_SETLK, &rl) == 0);
  rl.l_whence = SEEK_END;
  rl.l_start = LLONG_MAX;
  rl.l_len = 1;
  CHECK("F_SETLK SEEK_END at the largest offset (empty file)", fcntl(l1, F_SETLK, &rl) == 0);
  lseek(l1, 3, SEEK_SET);
  rl.l_whence = SEEK_CUR;
  CHECK_ERRNO("F_SETLK SEEK_CUR whose start overflows is EOVERFLOW", fcntl(l1, F_SETLK, &rl), EOVERFLOW);
  rl.l_whence = SEEK_SET;
  rl.l_start = 5;
  rl.l_len = -6;
  CHECK_ERRNO("F_SETLK whose negative length reaches below 0 is EINVAL", fcntl(l1, F_SETLK, &rl), EINVAL);
  rl.l_len = LLONG_MIN;
  CHECK_ERRNO("F_SETLK with the most negative length is EINVAL", fcntl(l1, F_SETLK, &rl), EINVAL);
  rl.l_len = -5;
  CHECK("F_SETLK covering the bytes before l_start", fcntl(l1, F_SETLK, &rl) == 0);
  rl.l_type = F_UNLCK;
  rl.l_start = 0;
  rl.l_len = 0;
  CHECK("F_UNLCK of the whole file", fcntl(l1, F_SETLK, &rl) == 0);
  close(l1);
  unlink("lockme");
  chdir("/");
  CHECK("rmdir the scratch directory", rmdir(dir) == 0);
  return ABI_DONE();
}
