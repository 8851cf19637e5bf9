/* execveat: a program named by a descriptor (fexecve: AT_EMPTY_PATH with "", also an O_PATH
 * descriptor and a memfd holding a program), by a path relative to a directory descriptor, and
 * the refusals (ENOENT for "" without AT_EMPTY_PATH, EACCES for a pipe or a directory, EBADF,
 * ELOOP for a symbolic link with AT_SYMLINK_NOFOLLOW, EINVAL for an unknown flag). The program
 * started sees the name Linux gives it in AT_EXECFN: /dev/fd/N, or /dev/fd/N/PATH. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "abi_check.h"

/* Runs this program again through execveat(dirfd, path, flags) in a child, which checks that
 * AT_EXECFN is `execfn`: 42 when it ran and did, 43 when it ran and did not, else the errno. */
static int run(int dirfd, const char* path, int flags, const char* execfn) {
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    char* av[] = {"execat", "child", (char*)execfn, NULL};
    char* ev[] = {NULL};
    syscall(SYS_execveat, dirfd, path, av, ev, flags);
    _exit(errno);
  }
  int st = 0;
  waitpid(c, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static const char* fd_name(int fd, const char* rest) {
  static char name[128];
  snprintf(name, sizeof name, "/dev/fd/%d%s%s", fd, rest ? "/" : "", rest ? rest : "");
  return name;
}

int main(int argc, char** argv) {
  if (argc > 2 && strcmp(argv[1], "child") == 0) {
    const char* fn = (const char*)getauxval(AT_EXECFN);
    return fn && strcmp(fn, argv[2]) == 0 ? 42 : 43;
  }
  setvbuf(stdout, 0, _IOLBF, 0);
  int fd = open("/proc/self/exe", O_RDONLY);
  CHECK("open the program", fd >= 0);
  CHECK("AT_EMPTY_PATH runs the descriptor's file", run(fd, "", AT_EMPTY_PATH, fd_name(fd, NULL)) == 42);
  CHECK("\"\" without AT_EMPTY_PATH is ENOENT", run(fd, "", 0, "") == ENOENT);
  CHECK("an unknown flag is ENOENT with \"\"", run(fd, "", 0x4, "") == ENOENT);
  CHECK("and EINVAL with AT_EMPTY_PATH", run(fd, "", AT_EMPTY_PATH | 0x4, "") == EINVAL);
  int opath = open("/proc/self/exe", O_PATH);
  CHECK("an O_PATH descriptor runs", run(opath, "", AT_EMPTY_PATH, fd_name(opath, NULL)) == 42);
  int p[2];
  CHECK("a pipe", pipe(p) == 0);
  CHECK("a pipe is EACCES", run(p[0], "", AT_EMPTY_PATH, "") == EACCES);
  CHECK("the working directory is EACCES", run(AT_FDCWD, "", AT_EMPTY_PATH, "") == EACCES);
  CHECK("a closed descriptor is EBADF", run(99, "", AT_EMPTY_PATH, "") == EBADF);

  char dir[64], link[96];
  snprintf(dir, sizeof dir, "/tmp/execat.%d", (int)getpid());
  snprintf(link, sizeof link, "%s/link", dir);
  CHECK("a directory with a link to the program", mkdir(dir, 0755) == 0 && symlink("/proc/self/exe", link) == 0);
  int d = open(dir, O_RDONLY | O_DIRECTORY);
  CHECK("a path below a directory descriptor runs", run(d, "link", 0, fd_name(d, "link")) == 42);
  CHECK("AT_SYMLINK_NOFOLLOW refuses the link (ELOOP)", run(d, "link", AT_SYMLINK_NOFOLLOW, "") == ELOOP);
  CHECK("a missing name is ENOENT", run(d, "none", 0, "") == ENOENT);
  CHECK("an absolute path ignores the descriptor", run(d, "/proc/self/exe", 0, "/proc/self/exe") == 42);
  unlink(link);
  rmdir(dir);

  int m = memfd_create("prog", MFD_CLOEXEC);
  int self = open("/proc/self/exe", O_RDONLY);
  static char buf[65536];
  ssize_t n;
  while ((n = read(self, buf, sizeof buf)) > 0) {
    if (write(m, buf, n) != n) break;
  }
  CHECK("a memfd holding the program runs (fexecve)", run(m, "", AT_EMPTY_PATH, fd_name(m, NULL)) == 42);
  printf("execat: done\n");
  return ABI_DONE();
}
