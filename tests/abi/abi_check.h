/* Tiny helpers for the ABI programs: each CHECK prints one line, so the umk run and the
 * native run can be compared line by line. Exit status = number of failed checks. */
#pragma once
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int abi_failures;

#define CHECK(name, cond) \
  do { \
    int ok_ = (cond); \
    printf("%s %s\n", ok_ ? "ok  " : "FAIL", name); \
    if (!ok_) abi_failures++; \
  } while (0)

/* expr must fail with errno e. */
#define CHECK_ERRNO(name, expr, e) \
  do { \
    errno = 0; \
    long r_ = (long)(expr); \
    int ok_ = r_ == -1 && errno == (e); \
    printf("%s %s (%s)\n", ok_ ? "ok  " : "FAIL", name, strerror(errno)); \
    if (!ok_) abi_failures++; \
  } while (0)

#define ABI_DONE() (fflush(stdout), abi_failures)

/* dir/name, in one of four buffers (a call may take two paths). */
static inline const char* path_in(const char* dir, const char* name) {
  static char bufs[4][512];
  static int next;
  char* b = bufs[next++ % 4];
  snprintf(b, sizeof bufs[0], "%s/%s", dir, name);
  return b;
}

/* The start of the file at `path` (at most len - 1 bytes, NUL-terminated, as a /proc/sys
 * value): the bytes read, or -1 when it does not open or reads nothing. */
static inline ssize_t read_text(const char* path, char* buf, size_t len) {
  memset(buf, 0, len);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, len - 1);
  close(fd);
  return n > 0 ? n : -1;
}

/* Sleeps `ms` milliseconds, across signals. */
static inline void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) != 0) {}
}

/* Runs code() in a child; returns its exit status (100 + the signal that killed it). */
static inline int child_status(int (*code)(void)) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) _exit(code());
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

/* Runs fn in a child; returns the signal that killed it (0 if it exited). */
static inline int killed_by(void (*fn)(void)) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    fn();
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}
