/* mmap/munmap/mprotect/mremap/brk/madvise semantics and errors. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "abi_check.h"

static sigjmp_buf jb;
static volatile int last_signal;
static void segv(int s) {
  last_signal = s;
  siglongjmp(jb, 1);
}
static int faults(volatile char* p, int write) {
  if (sigsetjmp(jb, 1) == 0) {
    if (write) {
      *p = 1;
    } else {
      (void)*p;
    }
    return 0;
  }
  return 1;
}

int main(void) {
  signal(SIGSEGV, segv);
  char* p = mmap(0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK("mmap anonymous", p != MAP_FAILED);
  CHECK("fresh memory is zero", p[0] == 0 && p[3 * 4096 - 1] == 0);
  p[4096] = 'x';
  CHECK("mprotect read-only", mprotect(p + 4096, 4096, PROT_READ) == 0);
  CHECK("read still works", p[4096] == 'x' && !faults(p + 4096, 0));
  CHECK("write faults", faults(p + 4096, 1));
  CHECK("PROT_NONE guard faults on read", mprotect(p, 4096, PROT_NONE) == 0 && faults(p, 0));
  CHECK("munmap middle", munmap(p + 4096, 4096) == 0 && faults(p + 4096, 0));
  CHECK("the rest is still there", !faults(p + 8192, 1));
  CHECK_ERRNO("mmap length 0 is EINVAL", (long)mmap(0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), EINVAL);
  CHECK_ERRNO("mmap without SHARED/PRIVATE is EINVAL", (long)mmap(0, 4096, PROT_READ, MAP_ANONYMOUS, -1, 0), EINVAL);
  CHECK_ERRNO("mmap unaligned offset is EINVAL", (long)mmap(0, 4096, PROT_READ, MAP_PRIVATE, 0, 1), EINVAL);
  CHECK_ERRNO("mmap of a bad fd is EBADF", (long)mmap(0, 4096, PROT_READ, MAP_PRIVATE, 77, 0), EBADF);
  CHECK_ERRNO("munmap unaligned is EINVAL", munmap(p + 1, 4096), EINVAL);
  CHECK_ERRNO("mprotect unaligned is EINVAL", syscall(SYS_mprotect, p + 1, 4096, PROT_READ), EINVAL);
  CHECK_ERRNO("mprotect of unmapped memory is ENOMEM", mprotect(p + 4096, 4096, PROT_READ), ENOMEM);

  char* fixed = mmap((void*)0x200000000, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  CHECK("MAP_FIXED lands where asked", fixed == (char*)0x200000000);
  fixed[0] = 1;
  char* again = mmap(fixed, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  CHECK("MAP_FIXED replaces the old mapping with zeroes", again == fixed && fixed[0] == 0);
  CHECK_ERRNO("MAP_FIXED_NOREPLACE on a mapping is EEXIST",
              (long)mmap(fixed, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0), EEXIST);

  char* r = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  r[100] = 42;
  char* r2 = mremap(r, 4096, 16 * 4096, MREMAP_MAYMOVE);
  CHECK("mremap grows and keeps contents", r2 != MAP_FAILED && r2[100] == 42 && r2[16 * 4096 - 1] == 0);
  r2[200] = 7;
  CHECK("madvise DONTNEED zeroes private pages", madvise(r2, 4096, MADV_DONTNEED) == 0 && r2[200] == 0);

  /* musl's brk()/sbrk() refuse to move the break, so use the system call itself. */
  char* b0 = (char*)syscall(SYS_brk, 0);
  char* b1 = (char*)syscall(SYS_brk, b0 + 8192);
  CHECK("brk grows", b1 == b0 + 8192 && !faults(b0 + 8000, 1));
  CHECK("brk shrinks", (char*)syscall(SYS_brk, b0) == b0 && faults(b0 + 4096, 0));
  CHECK("brk below the start is refused", (char*)syscall(SYS_brk, 4096) == b0);
  /* File mappings: MAP_SHARED writes reach the file and other processes, MAP_PRIVATE ones do not. */
  char dir[] = "/tmp/abi-mem-XXXXXX";
  CHECK("mkdtemp", mkdtemp(dir) != 0 && chdir(dir) == 0);
  int fd = open("mapped", O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK("file for mapping", fd >= 0 && ftruncate(fd, 8192) == 0 && pwrite(fd, "file-data", 9, 0) == 9);
  char* sh = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  char* pv = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  CHECK("mmap shared and private of a file", sh != MAP_FAILED && pv != MAP_FAILED);
  CHECK("both see the file contents", memcmp(sh, "file-data", 9) == 0 && memcmp(pv, "file-data", 9) == 0);
  memcpy(sh + 4096, "through-map", 11);
  char buf[16] = {0};
  CHECK("a shared mapping write is read back by read()",
        pread(fd, buf, 11, 4096) == 11 && memcmp(buf, "through-map", 11) == 0);
  CHECK("write() is seen by the shared mapping", pwrite(fd, "WRITE", 5, 100) == 5 && memcmp(sh + 100, "WRITE", 5) == 0);
  memcpy(pv, "PRIVATE", 7);
  CHECK("a private write stays private",
        pread(fd, buf, 7, 0) == 7 && memcmp(buf, "file-da", 7) == 0 && memcmp(sh, "file-da", 7) == 0);
  pid_t kid = fork();
  if (kid == 0) {
    memcpy(sh + 200, "from-child", 10);
    _exit(0);
  }
  int st = 0;
  waitpid(kid, &st, 0);
  CHECK("a child's write through MAP_SHARED reaches the parent", memcmp(sh + 200, "from-child", 10) == 0);
  CHECK("msync", msync(sh, 8192, MS_SYNC) == 0);
  /* Past the last page of the file: SIGBUS (the mapping is 3 pages, the file 2). */
  signal(SIGBUS, segv);
  char* over = mmap(0, 3 * 4096, PROT_READ, MAP_SHARED, fd, 0);
  last_signal = 0;
  CHECK("a mapping past EOF faults with SIGBUS",
        over != MAP_FAILED && faults(over + 2 * 4096, 0) && last_signal == SIGBUS);
  CHECK("inside the file it reads", !faults(over + 4096, 0));
  munmap(over, 3 * 4096);
  /* A private mapping's page that was only read keeps showing the file, even after a write
   * copied its neighbour (Linux copies a page at its own first write). */
  char* pv2 = mmap(0, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  CHECK("a second private mapping", pv2 != MAP_FAILED && ftruncate(fd, 4 * 4096) == 0);
  volatile char sink = pv2[4096] + pv2[2 * 4096] + pv2[3 * 4096];
  (void)sink;
  pv2[0] = 'P';
  CHECK("a write() after a neighbour's copy shows in a page only read",
        pwrite(fd, "LATER", 5, 4096 + 8) == 5 && memcmp(pv2 + 4096 + 8, "LATER", 5) == 0);
  CHECK("and in a page of a hole only read",
        pwrite(fd, "LATER", 5, 3 * 4096) == 5 && memcmp(pv2 + 3 * 4096, "LATER", 5) == 0);
  CHECK("and not in the page written", pv2[0] == 'P');
  munmap(pv2, 4 * 4096);
  CHECK("back to two pages", ftruncate(fd, 8192) == 0);
  munmap(sh, 8192);
  munmap(pv, 8192);
  CHECK("the file keeps the mapped writes", pread(fd, buf, 10, 200) == 10 && memcmp(buf, "from-child", 10) == 0);
  CHECK_ERRNO("mmap of a write-only file is EACCES",
              (long)mmap(0, 4096, PROT_READ, MAP_SHARED, open("mapped", O_WRONLY), 0), EACCES);
  close(fd);
  unlink("mapped");
  chdir("/");
  rmdir(dir);

  /* The kernel's own copies to and from user memory: they fault pages in, break copy-on-write,
   * stop where the mapping forbids (EFAULT when nothing was copied) and never reach past the
   * user half. */
  int zero = open("/dev/zero", O_RDONLY);
  int null = open("/dev/null", O_WRONLY);
  int pf[2];
  CHECK("pipe for the copy checks", pipe(pf) == 0 && zero >= 0 && null >= 0);
  char* q = mmap(0, 5 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK("write() to a pipe", write(pf[1], "kernel-copy", 11) == 11);
  CHECK("read() into untouched pages faults them in",
        read(pf[0], q + 4096 - 5, 11) == 11 && memcmp(q + 4096 - 5, "kernel-copy", 11) == 0);
  memset(q + 2 * 4096, 'x', 4096);
  q[4 * 4096] = 'r';
  CHECK("mprotect for the copy checks",
        mprotect(q + 3 * 4096, 4096, PROT_NONE) == 0 && mprotect(q + 4 * 4096, 4096, PROT_READ) == 0);
  CHECK("a read() running into PROT_NONE stops there", read(zero, q + 3 * 4096 - 8, 16) == 8 &&
                                                           q[3 * 4096 - 9] == 'x' && q[3 * 4096 - 8] == 0 &&
                                                           q[3 * 4096 - 1] == 0);
  CHECK_ERRNO("read() into PROT_NONE", read(zero, q + 3 * 4096, 1), EFAULT);
  CHECK_ERRNO("read() into a read-only page", read(zero, q + 4 * 4096, 1), EFAULT);
  CHECK("which is left alone", q[4 * 4096] == 'r');
  /* (a pipe: /dev/null's write does not read the buffer at all) */
  CHECK_ERRNO("write() from PROT_NONE", write(pf[1], q + 3 * 4096, 1), EFAULT);
  char back[100];
  CHECK("write() from a read-only page",
        write(pf[1], q + 4 * 4096, 100) == 100 && read(pf[0], back, 100) == 100 && back[0] == 'r' && back[99] == 0);
  CHECK_ERRNO("write() from the last user page and beyond", write(pf[1], (void*)0x7ffffffffff0ul, 32), EFAULT);
  CHECK_ERRNO("write() from a non-canonical address", write(pf[1], (void*)0x800000000000ul, 8), EFAULT);
  CHECK_ERRNO("read() into the kernel half", read(zero, (void*)0xffff800000000000ul, 8), EFAULT);
  char* big = mmap(0, 64 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  big[0] = 'b';
  big[64 * 4096 - 1] = 'e';
  CHECK("read() of 256 KiB into partly untouched memory",
        read(zero, big, 64 * 4096) == 64 * 4096 && big[0] == 0 && big[64 * 4096 - 1] == 0);
  q[0] = 'P';
  pid_t cw = fork();
  if (cw == 0) {
    /* The page is shared copy-on-write: the kernel's write must give the child its own. */
    _exit(read(zero, q, 1) == 1 && q[0] == 0 ? 0 : 1);
  }
  st = 0;
  waitpid(cw, &st, 0);
  CHECK("read() into a copy-on-write page in the child", WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK("leaves the parent's copy alone", q[0] == 'P');
  munmap(big, 64 * 4096);
  munmap(q, 5 * 4096);
  {
    /* getrusage: touching 32 MiB of fresh memory (more than the checks above held at their
     * peak) counts page faults and raises the peak RSS. */
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    size_t n = 32u << 20;
    char* m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (size_t i = 0; m != MAP_FAILED && i < n; i += 4096) m[i] = 1;
    getrusage(RUSAGE_SELF, &after);
    CHECK("ru_minflt counts the faults", after.ru_minflt > before.ru_minflt);
    CHECK("ru_maxrss grows by the memory touched", after.ru_maxrss - before.ru_maxrss >= 16000);
    munmap(m, n);
    pid_t pid = fork();
    if (pid == 0) {
      char* c = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      for (size_t i = 0; c != MAP_FAILED && i < n; i += 4096) c[i] = 1;
      _exit(0);
    }
    waitpid(pid, NULL, 0);
    struct rusage children;
    getrusage(RUSAGE_CHILDREN, &children);
    CHECK("RUSAGE_CHILDREN has the reaped child's faults and peak",
          children.ru_minflt > 0 && children.ru_maxrss >= 30000);
  }
  {
    /* mincore and msync over a mapping, a hole and a terabyte reservation (ASan's shadow). */
    size_t n = 1u << 20;
    unsigned char* m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    m[0] = 1;
    unsigned char vec[256];
    CHECK("mincore of a fresh mapping", mincore(m, n, vec) == 0);
    CHECK("mincore: the touched page is resident, a far untouched one is not",
          (vec[0] & 1) == 1 && (vec[200] & 1) == 0);
    CHECK_ERRNO("mincore of an unaligned address", mincore(m + 1, 4096, vec), EINVAL);
    munmap(m + n / 2, 4096);
    CHECK_ERRNO("mincore over a hole", mincore(m, n, vec), ENOMEM);
    CHECK_ERRNO("msync over a hole", msync(m, n, MS_SYNC), ENOMEM);
    CHECK_ERRNO("mincore with a bad vector", mincore(m, 4096, (unsigned char*)8), EFAULT);
    size_t huge = (size_t)16 << 40;
    void* r = mmap(NULL, huge, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK("a 16 TiB MAP_NORESERVE reservation", r != MAP_FAILED);
    CHECK("msync of all of it returns at once", msync(r, huge, MS_ASYNC) == 0);
    /* The vector: the last 16 bytes of a page with nothing mapped after it. */
    unsigned char* g = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(g + 4096, 4096);
    CHECK_ERRNO("mincore of all of it into a vector that ends", mincore(r, huge, g + 4096 - 16), EFAULT);
    munmap(g, 4096);
    CHECK("and it unmaps", munmap(r, huge) == 0);
    CHECK_ERRNO("msync of a range that wraps", msync(m, (size_t)-4096, MS_SYNC), ENOMEM);
    munmap(m, n);
  }
  return ABI_DONE();
}
