/* User code owns the direction flag (DF) and the alignment-check flag (AC): the kernel must not
 * run with the values a program left in them when an interrupt or a fault takes it in. With DF
 * set, a kernel that zeroes a freshly faulted page with `rep stos` (or copies with `rep movs`)
 * runs backwards, below the page: the page keeps its old bytes and another is overwritten.
 * The program dirties and frees pages, then touches fresh ones (demand faults) and spins
 * through timer interrupts with DF and AC set, and checks that every fresh page reads as zeros
 * and the system still answers. */
#include <stdint.h>
#include <sys/mman.h>

#include "abi_check.h"

enum { kPages = 256, kPage = 4096 };

/* Sets DF and AC, reads the first byte of each of `n` pages at `p` (each a demand fault),
 * spins `spins` rounds (timer interrupts arrive), then clears both. Returns the OR of the
 * bytes read. Nothing in between depends on DF (no string instructions) or makes an unaligned
 * access (AC would check it where the kernel enables alignment checks). */
static unsigned touch_with_flags_set(volatile const unsigned char* p, long n, long spins) {
  unsigned acc = 0;
  __asm__ volatile(
      "pushfq\n"
      "orq $0x40000, (%%rsp)\n" /* AC */
      "popfq\n"
      "std\n"
      "1: test %[n], %[n]\n"
      "jz 2f\n"
      "movzbl (%[p]), %%eax\n"
      "or %%eax, %[acc]\n"
      "add $4096, %[p]\n"
      "dec %[n]\n"
      "jmp 1b\n"
      "2: test %[spins], %[spins]\n"
      "jz 3f\n"
      "pause\n"
      "dec %[spins]\n"
      "jmp 2b\n"
      "3: cld\n"
      "pushfq\n"
      "andq $~0x40000, (%%rsp)\n"
      "popfq\n"
      : [acc] "+r"(acc), [p] "+r"(p), [n] "+r"(n), [spins] "+r"(spins)
      :
      : "rax", "cc", "memory");
  return acc;
}

static int all_zero(const unsigned char* p, long len) {
  for (long i = 0; i < len; ++i)
    if (p[i] != 0) return 0;
  return 1;
}

int main(void) {
  /* Pages full of 0xaa, freed: the next allocations are likely to reuse their frames. */
  for (int round = 0; round < 4; ++round) {
    unsigned char* d = mmap(NULL, kPages * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (d == MAP_FAILED) return 1;
    memset(d, 0xaa, kPages * kPage);
    munmap(d, kPages * kPage);
  }
  int fresh_ok = 1;
  unsigned acc = 0;
  for (int round = 0; round < 4; ++round) {
    unsigned char* f = mmap(NULL, kPages * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (f == MAP_FAILED) return 1;
    acc |= touch_with_flags_set(f, kPages, 5000000);
    if (!all_zero(f, kPages * kPage)) fresh_ok = 0;
    munmap(f, kPages * kPage);
  }
  CHECK("pages faulted in with DF and AC set read as zeros", fresh_ok && acc == 0);
  unsigned long flags;
  __asm__ volatile("pushfq\npopq %0" : "=r"(flags));
  CHECK("DF and AC are clear again", (flags & 0x40400) == 0);
  /* The kernel still works: a pipe round trip and a child. */
  int fds[2];
  char buf[8] = {0};
  CHECK("pipe after the faults", pipe(fds) == 0 && write(fds[1], "flags", 6) == 6 &&
                                     read(fds[0], buf, sizeof buf) == 6 && strcmp(buf, "flags") == 0);
  pid_t pid = fork();
  if (pid == 0) _exit(7);
  int st = 0;
  CHECK("fork and wait after the faults",
        pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 7);
  return ABI_DONE();
}
