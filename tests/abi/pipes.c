/* Pipe semantics: EOF, O_NONBLOCK EAGAIN, atomic writes, pipe2 flags, dup2, EBADF. */
#include <fcntl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "abi_check.h"

int main(void) {
  int p[2];
  int lowest = open("/dev/null", O_RDONLY); /* whatever the runner left open */
  close(lowest);
  CHECK("pipe", pipe(p) == 0);
  CHECK("pipe fds are the lowest free", p[0] == lowest && p[1] > p[0]);
  CHECK("write 5", write(p[1], "hello", 5) == 5);
  char buf[16] = {0};
  CHECK("read 5", read(p[0], buf, sizeof buf) == 5 && memcmp(buf, "hello", 5) == 0);
  close(p[1]);
  CHECK("read after writers closed is EOF", read(p[0], buf, sizeof buf) == 0);
  close(p[0]);

  CHECK("pipe2 O_NONBLOCK|O_CLOEXEC", pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
  CHECK("FD_CLOEXEC set", fcntl(p[0], F_GETFD) == FD_CLOEXEC);
  CHECK("O_NONBLOCK set", (fcntl(p[0], F_GETFL) & O_NONBLOCK) != 0);
  CHECK_ERRNO("empty nonblocking read is EAGAIN", read(p[0], buf, 1), EAGAIN);
  CHECK_ERRNO("pipe2 bad flags is EINVAL", pipe2(p, 0x1), EINVAL);
  CHECK_ERRNO("pipe with a bad pointer is EFAULT", pipe((int*)1), EFAULT);

  /* Fill the pipe: a nonblocking write eventually fails with EAGAIN. */
  static char big[65536];
  ssize_t total = 0, n;
  while ((n = write(p[1], big, 4096)) > 0) total += n;
  CHECK("pipe capacity is 64 KiB", total == 65536);
  CHECK("full pipe write is EAGAIN", n == -1 && errno == EAGAIN);

  /* Writes of at most PIPE_BUF bytes are not interleaved between writers. */
  int q[2];
  pipe(q);
  for (int w = 0; w < 2; w++) {
    if (fork() == 0) {
      char chunk[4096];
      memset(chunk, 'a' + w, sizeof chunk);
      for (int i = 0; i < 8; i++) write(q[1], chunk, sizeof chunk);
      _exit(0);
    }
  }
  close(q[1]);
  int interleaved = 0, chunks = 0;
  char chunk[4096];
  for (;;) {
    ssize_t got = 0;
    while (got < (ssize_t)sizeof chunk) {
      ssize_t r = read(q[0], chunk + got, sizeof chunk - got);
      if (r <= 0) break;
      got += r;
    }
    if (got == 0) break;
    for (int i = 1; i < got; i++) interleaved |= chunk[i] != chunk[0];
    chunks++;
  }
  while (wait(0) > 0) {}
  CHECK("16 atomic chunks, none interleaved", chunks == 16 && !interleaved);

  /* A long stream in uneven writes (some larger than the pipe) and uneven reads arrives intact
   * and in order (umk copies straight into a waiting reader's buffer when it can). */
  int s[2];
  pipe(s);
  enum { kStream = 3 * 1024 * 1024 };
  pid_t sw = fork();
  if (sw == 0) {
    close(s[0]);
    static unsigned char out[100000];
    unsigned seed = 1;
    long sent = 0;
    while (sent < kStream) {
      seed = seed * 1103515245u + 12345u;
      long n = 1 + (long)((seed >> 8) % sizeof out);
      if (n > kStream - sent) n = kStream - sent;
      for (long i = 0; i < n; i++) out[i] = (unsigned char)((sent + i) * 7 + ((sent + i) >> 9));
      for (long done = 0; done < n;) {
        ssize_t w = write(s[1], out + done, n - done);
        if (w <= 0) _exit(1);
        done += w;
      }
      sent += n;
    }
    _exit(0);
  }
  close(s[1]);
  static unsigned char in[70000];
  unsigned rseed = 7;
  long got_total = 0, bad = 0;
  for (;;) {
    rseed = rseed * 1103515245u + 12345u;
    ssize_t r = read(s[0], in, 1 + (rseed >> 8) % sizeof in);
    if (r <= 0) break;
    for (ssize_t i = 0; i < r; i++) {
      long at = got_total + i;
      bad += in[i] != (unsigned char)(at * 7 + (at >> 9));
    }
    got_total += r;
  }
  int sst = 0;
  waitpid(sw, &sst, 0);
  CHECK("3 MiB stream through a pipe, intact",
        got_total == kStream && bad == 0 && WIFEXITED(sst) && WEXITSTATUS(sst) == 0);
  close(s[0]);

  /* A reader blocked on an empty pipe with a bad buffer gets EFAULT, and the bytes stay. */
  int e[2];
  pipe(e);
  pid_t ew = fork();
  if (ew == 0) {
    usleep(50000);
    write(e[1], "abc", 3);
    _exit(0);
  }
  CHECK_ERRNO("blocked read into a bad buffer is EFAULT", read(e[0], (void*)8, 3), EFAULT);
  char eb[4] = {0};
  CHECK("the bytes are still there", read(e[0], eb, 3) == 3 && memcmp(eb, "abc", 3) == 0);
  waitpid(ew, 0, 0);
  close(e[0]);
  close(e[1]);

  CHECK("dup2 onto 10", dup2(1, 10) == 10);
  CHECK("dup2 same fd returns it", dup2(10, 10) == 10);
  CHECK_ERRNO("dup2 from a closed fd is EBADF", dup2(55, 56), EBADF);
  CHECK_ERRNO("close of a closed fd is EBADF", close(55), EBADF);
  CHECK("F_DUPFD picks >= arg", fcntl(1, F_DUPFD, 20) == 20);
  {
    /* writev of at most PIPE_BUF bytes is one atomic write: a reader that wakes for it gets all
     * of it, never the first vector alone (stdio flushes with writev). */
    int v[2];
    CHECK("pipe for writev", pipe(v) == 0);
    pid_t pid = fork();
    if (pid == 0) {
      close(v[1]);
      char b[64] = {0};
      ssize_t n = read(v[0], b, sizeof b); /* sleeps until the writev */
      _exit(n == 11 && memcmp(b, "hello world", 11) == 0 ? 0 : 1);
    }
    close(v[0]);
    usleep(100000);
    struct iovec iov[3] = {{"hello", 5}, {"", 0}, {" world", 6}};
    CHECK("writev of two vectors writes both", writev(v[1], iov, 3) == 11);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK("a sleeping reader gets both vectors in one read", WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(v[1]);
  }
  return ABI_DONE();
}
