/* fsbench DIR [TARBALL]: file-system rows, run inside DIR (on the file system measured).
 *   seq_write    MB/s  256 MiB in 1 MiB writes, then fsync
 *   seq_read     MB/s  the same file read back in 1 MiB reads (from the page cache)
 *   rand_read    us    4 KiB preads at random offsets of that file
 *   create_fsync_delete  us per file: create, write 1 KiB, fsync, close, then unlink
 *   tar_xf       ms    `tar xf TARBALL` into DIR (when a tarball is given), then sync
 * One line per row: "name value unit". The file and directories it makes are removed. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char* what) {
  perror(what);
  exit(1);
}

static char buf[1 << 20];

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: fsbench DIR [TARBALL]\n");
    return 2;
  }
  if (chdir(argv[1]) != 0) die("chdir");
  const long total = 256L << 20;
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (char)(i * 131 + (i >> 12));

  int fd = open("fsbench.big", O_CREAT | O_TRUNC | O_RDWR, 0644);
  if (fd < 0) die("open");
  double t0 = now();
  for (long done = 0; done < total; done += sizeof buf) {
    if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf) die("write");
  }
  if (fsync(fd) != 0) die("fsync");
  double t1 = now();
  printf("seq_write %.1f MB/s\n", total / 1e6 / (t1 - t0));

  if (lseek(fd, 0, SEEK_SET) != 0) die("lseek");
  t0 = now();
  for (long done = 0; done < total; done += sizeof buf) {
    if (read(fd, buf, sizeof buf) != (ssize_t)sizeof buf) die("read");
  }
  t1 = now();
  printf("seq_read %.1f MB/s\n", total / 1e6 / (t1 - t0));

  const int reads = 20000;
  unsigned seed = 12345;
  t0 = now();
  for (int i = 0; i < reads; i++) {
    seed = seed * 1103515245u + 12345u;
    off_t off = (off_t)(seed % (unsigned)(total / 4096)) * 4096;
    if (pread(fd, buf, 4096, off) != 4096) die("pread");
  }
  t1 = now();
  printf("rand_read %.3f us\n", (t1 - t0) * 1e6 / reads);
  close(fd);
  unlink("fsbench.big");

  const int files = 2000;
  if (mkdir("fsbench.d", 0755) != 0) die("mkdir");
  char name[64];
  t0 = now();
  for (int i = 0; i < files; i++) {
    snprintf(name, sizeof name, "fsbench.d/f%d", i);
    int f = open(name, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (f < 0) die("create");
    if (write(f, buf, 1024) != 1024) die("write small");
    if (fsync(f) != 0) die("fsync small");
    close(f);
  }
  for (int i = 0; i < files; i++) {
    snprintf(name, sizeof name, "fsbench.d/f%d", i);
    if (unlink(name) != 0) die("unlink");
  }
  t1 = now();
  rmdir("fsbench.d");
  printf("create_fsync_delete %.1f us\n", (t1 - t0) * 1e6 / files);

  if (argc > 2) {
    if (mkdir("fsbench.tar", 0755) != 0) die("mkdir tar");
    t0 = now();
    pid_t pid = fork();
    if (pid == 0) {
      execlp("tar", "tar", "xf", argv[2], "-C", "fsbench.tar", (char*)0);
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    sync();
    t1 = now();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "tar failed: %#x\n", status);
      return 1;
    }
    printf("tar_xf %.1f ms\n", (t1 - t0) * 1e3);
    pid = fork();
    if (pid == 0) {
      execlp("rm", "rm", "-rf", "fsbench.tar", (char*)0);
      _exit(127);
    }
    waitpid(pid, &status, 0);
  }
  return 0;
}
