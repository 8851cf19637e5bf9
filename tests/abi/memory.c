/* mmap/munmap/mprotect/mremap/brk/madvise semantics and errors. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "abi_check.h"

static sigjmp_buf jb;
static void segv(int s) {
  (void)s;
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
  return ABI_DONE();
}
