/* memfd_create and file seals: an unlinked tmpfs file named "/memfd:NAME (deleted)", shared
 * mappings of it, F_GET_SEALS/F_ADD_SEALS with each seal enforced (shrink, grow, write and its
 * refusal while a writable shared mapping exists, seal), files without MFD_ALLOW_SEALING, and the
 * errno of every documented failure. Run natively and under the kernel: the outputs must match. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "abi_check.h"

#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_GET_SEALS 1034
#define F_SEAL_SEAL 1
#define F_SEAL_SHRINK 2
#define F_SEAL_GROW 4
#define F_SEAL_WRITE 8
#endif

static int memfd(const char* name, unsigned flags) { return syscall(SYS_memfd_create, name, flags); }

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int fd = memfd("abi", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  CHECK("memfd_create", fd >= 0);
  CHECK("close-on-exec", (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
  char link[64], target[128] = {0};
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  CHECK("named /memfd:abi (deleted)",
        readlink(link, target, sizeof target - 1) > 0 && strcmp(target, "/memfd:abi (deleted)") == 0);
  struct stat st;
  CHECK("a regular file of mode 0777, empty, with no links", fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
                                                                 (st.st_mode & 07777) == 0777 && st.st_size == 0 &&
                                                                 st.st_nlink == 0);
  CHECK("O_RDWR", (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR);
  CHECK("write and ftruncate", write(fd, "hello memfd", 11) == 11 && ftruncate(fd, 8192) == 0);
  char* m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK("a shared mapping sees the file", m != MAP_FAILED && memcmp(m, "hello memfd", 11) == 0);
  m[0] = 'H';
  char buf[16] = {0};
  CHECK("and the file its writes", pread(fd, buf, 11, 0) == 11 && memcmp(buf, "Hello memfd", 11) == 0);
  CHECK("no seals yet", fcntl(fd, F_GET_SEALS) == 0);

  /* Shrink. */
  CHECK("F_SEAL_SHRINK", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0 && fcntl(fd, F_GET_SEALS) == F_SEAL_SHRINK);
  CHECK_ERRNO("shrinking: EPERM", ftruncate(fd, 100), EPERM);
  CHECK("growing still works", ftruncate(fd, 12288) == 0);
  /* Grow. */
  CHECK("F_SEAL_GROW", fcntl(fd, F_ADD_SEALS, F_SEAL_GROW) == 0);
  CHECK_ERRNO("growing: EPERM", ftruncate(fd, 16384), EPERM);
  CHECK_ERRNO("a write past the end: EPERM", pwrite(fd, "x", 1, 12288), EPERM);
  CHECK("a write inside still works", pwrite(fd, "x", 1, 100) == 1);
  CHECK("the same size is no change", ftruncate(fd, 12288) == 0);
  /* Write: not while a writable shared mapping exists. */
  CHECK_ERRNO("F_SEAL_WRITE with a writable shared mapping: EBUSY", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), EBUSY);
  munmap(m, 8192);
  CHECK("F_SEAL_WRITE once it is gone", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) == 0);
  CHECK_ERRNO("write: EPERM", write(fd, "y", 1), EPERM);
  CHECK_ERRNO("a writable shared mapping: EPERM", (long)mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0),
              EPERM);
  char* ro = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
  CHECK("a read-only shared mapping", ro != MAP_FAILED && ro[0] == 'H');
  char* priv = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  CHECK("a writable private mapping (copy on write)", priv != MAP_FAILED && (priv[0] = 'P') == 'P' && ro[0] == 'H');
  CHECK("reads still work", pread(fd, buf, 5, 0) == 5 && memcmp(buf, "Hello", 5) == 0);
  /* Seal. */
  CHECK("F_SEAL_SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL) == 0);
  CHECK("all four", fcntl(fd, F_GET_SEALS) == (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE));
  CHECK_ERRNO("no more seals: EPERM", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), EPERM);

  /* Without MFD_ALLOW_SEALING. */
  int plain = memfd("plain", 0);
  CHECK("memfd_create without sealing", plain >= 0 && (fcntl(plain, F_GETFD) & FD_CLOEXEC) == 0);
  CHECK("F_SEAL_SEAL from the start", fcntl(plain, F_GET_SEALS) == F_SEAL_SEAL);
  CHECK_ERRNO("F_ADD_SEALS: EPERM", fcntl(plain, F_ADD_SEALS, F_SEAL_WRITE), EPERM);
  int fd2 = memfd("", MFD_ALLOW_SEALING);
  CHECK("an empty name", fd2 >= 0);
  CHECK_ERRNO("unknown seals: EINVAL", fcntl(fd2, F_ADD_SEALS, 0x100), EINVAL);
  int p[2];
  pipe(p);
  CHECK_ERRNO("F_GET_SEALS of a pipe: EINVAL", fcntl(p[0], F_GET_SEALS), EINVAL);

  /* Errors. */
  char longname[300];
  memset(longname, 'n', sizeof longname);
  longname[250] = 0;
  CHECK_ERRNO("a 250-byte name: EINVAL", memfd(longname, 0), EINVAL);
  longname[249] = 0;
  CHECK("a 249-byte name", (fd2 = memfd(longname, 0)) >= 0 && close(fd2) == 0);
  CHECK_ERRNO("unknown flags: EINVAL", memfd("x", 0x100), EINVAL);
  CHECK_ERRNO("a bad name pointer: EFAULT", memfd((const char*)8, 0), EFAULT);
  return ABI_DONE();
}
