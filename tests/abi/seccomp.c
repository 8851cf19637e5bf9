/* seccomp: the seccomp(2) system call and prctl's PR_SET_SECCOMP/PR_GET_SECCOMP/no_new_privs.
 * Covers PR_GET_SECCOMP (0, then 2), no_new_privs (set once, never unset, inherited), EACCES
 * without no_new_privs or CAP_SYS_ADMIN (and which errors come before it), the errno of every
 * malformed call (operation, flags, length, pointers, and classic BPF programs the kernel's
 * checker rejects: jumps out of range, no final RET, opcodes seccomp does not allow, misaligned
 * or out-of-range loads of seccomp_data, scratch memory misuse, constant division by 0 and
 * shifts by 32), SECCOMP_GET_ACTION_AVAIL, the BPF machine itself (every ALU operation with K and
 * X, 32-bit wrap-around, LD/LDX IMM, MEM and LEN, ST/STX, TAX/TXA, every jump, RET A), the
 * seccomp_data a filter sees (nr, arch, instruction_pointer, all six 64-bit args), every action
 * (ALLOW, LOG, ERRNO with its data capped at 4095, TRACE without a tracer, TRAP with its SIGSYS
 * siginfo and ucontext, KILL_THREAD, KILL_PROCESS, an unknown action, a filter ending with 0),
 * stacked filters (the action with the lowest value wins; between equal ones the most recently
 * installed), the total-length limit, inheritance across fork and execve, TSYNC (syncing other
 * threads, and the tid or ESRCH when it cannot), and strict mode (read, write, exit and
 * rt_sigreturn only; anything else is SIGKILL). Every filter goes into a child. Run natively and
 * under the kernel: the outputs must match. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <ucontext.h>

#include "abi_check.h"

/* <linux/filter.h>, <linux/bpf_common.h>, <linux/seccomp.h>, <linux/audit.h>, <linux/prctl.h> */
struct sock_filter {
  uint16_t code;
  uint8_t jt;
  uint8_t jf;
  uint32_t k;
};
struct sock_fprog {
  unsigned short len;
  struct sock_filter* filter;
};
struct seccomp_data {
  int nr;
  uint32_t arch;
  uint64_t instruction_pointer;
  uint64_t args[6];
};

#define BPF_LD 0x00
#define BPF_LDX 0x01
#define BPF_ST 0x02
#define BPF_STX 0x03
#define BPF_ALU 0x04
#define BPF_JMP 0x05
#define BPF_RET 0x06
#define BPF_MISC 0x07
#define BPF_W 0x00
#define BPF_H 0x08
#define BPF_B 0x10
#define BPF_IMM 0x00
#define BPF_ABS 0x20
#define BPF_IND 0x40
#define BPF_MEM 0x60
#define BPF_LEN 0x80
#define BPF_MSH 0xa0
#define BPF_ADD 0x00
#define BPF_SUB 0x10
#define BPF_MUL 0x20
#define BPF_DIV 0x30
#define BPF_OR 0x40
#define BPF_AND 0x50
#define BPF_LSH 0x60
#define BPF_RSH 0x70
#define BPF_NEG 0x80
#define BPF_MOD 0x90
#define BPF_XOR 0xa0
#define BPF_JA 0x00
#define BPF_JEQ 0x10
#define BPF_JGT 0x20
#define BPF_JGE 0x30
#define BPF_JSET 0x40
#define BPF_K 0x00
#define BPF_X 0x08
#define BPF_A 0x10
#define BPF_TAX 0x00
#define BPF_TXA 0x80

#define SECCOMP_SET_MODE_STRICT 0
#define SECCOMP_SET_MODE_FILTER 1
#define SECCOMP_GET_ACTION_AVAIL 2
#define SECCOMP_FILTER_FLAG_TSYNC 1ul
#define SECCOMP_FILTER_FLAG_LOG 2ul
#define SECCOMP_FILTER_FLAG_SPEC_ALLOW 4ul
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH 16ul
#define SECCOMP_RET_KILL_PROCESS 0x80000000u
#define SECCOMP_RET_KILL_THREAD 0x00000000u
#define SECCOMP_RET_TRAP 0x00030000u
#define SECCOMP_RET_ERRNO 0x00050000u
#define SECCOMP_RET_TRACE 0x7ff00000u
#define SECCOMP_RET_LOG 0x7ffc0000u
#define SECCOMP_RET_ALLOW 0x7fff0000u
#define AUDIT_ARCH_X86_64 0xc000003eu
#define PR_SET_DUMPABLE 4
#define PR_GET_SECCOMP 21
#define PR_SET_SECCOMP 22
#define PR_SET_NO_NEW_PRIVS 38
#define PR_GET_NO_NEW_PRIVS 39

#define STMT(c, v) \
  { (uint16_t)(c), 0, 0, (uint32_t)(v) }
#define JUMP(c, v, t, f) \
  { (uint16_t)(c), (t), (f), (uint32_t)(v) }
#define LD_ABS(off) STMT(BPF_LD | BPF_W | BPF_ABS, off)
#define RET(v) STMT(BPF_RET | BPF_K, v)
#define NINSN(a) (sizeof(a) / sizeof((a)[0]))
#define OFF_NR offsetof(struct seccomp_data, nr)
#define OFF_ARCH offsetof(struct seccomp_data, arch)
#define OFF_IP offsetof(struct seccomp_data, instruction_pointer)
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))
#define ARG_HI(i) (ARG_LO(i) + 4)

/* Two raw syscall sites, each with a label just after its `syscall` instruction (the address the
 * kernel reports as instruction_pointer and si_call_addr). They return the raw rax. */
__asm__(
    ".text\n"
    ".globl seccomp_site_a\n"
    "seccomp_site_a:\n"
    "  mov %rdi, %rax\n"
    "  mov %rsi, %rdi\n"
    "  syscall\n"
    ".globl seccomp_site_a_end\n"
    "seccomp_site_a_end:\n"
    "  ret\n"
    ".globl seccomp_site_b\n"
    "seccomp_site_b:\n"
    "  mov %rdi, %rax\n"
    "  mov %rsi, %rdi\n"
    "  syscall\n"
    "  ret\n");
long seccomp_site_a(long nr, long arg0);
long seccomp_site_b(long nr, long arg0);
extern const char seccomp_site_a_end[];

static long pr(int op, unsigned long a2, unsigned long a3) { return syscall(SYS_prctl, op, a2, a3, 0, 0); }
static int get_mode(void) { return (int)pr(PR_GET_SECCOMP, 0, 0); }
static int get_nnp(void) { return (int)pr(PR_GET_NO_NEW_PRIVS, 0, 0); }
static int set_nnp(void) { return (int)pr(PR_SET_NO_NEW_PRIVS, 1, 0); }

static long install(unsigned long flags, struct sock_filter* f, size_t n) {
  struct sock_fprog prog = {(unsigned short)n, f};
  return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

/* Syscall nr -> action; everything else is allowed. */
static long on_nr(unsigned long flags, long nr, uint32_t action) {
  struct sock_filter f[] = {LD_ABS(OFF_NR), JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1), RET(action),
                            RET(SECCOMP_RET_ALLOW)};
  return install(flags, f, NINSN(f));
}

/* Runs body in a child (filters go there, never here); the child's failed checks count here. */
static void (*body_fn)(void);
static int body_main(void) {
  abi_failures = 0;
  body_fn();
  return ABI_DONE();
}
static void in_child(const char* what, void (*body)(void)) {
  body_fn = body;
  int st = child_status(body_main);
  if (st >= 100) printf("FAIL %s: the child was killed by signal %d\n", what, st - 100);
  if (st != 0) abi_failures++;
}

/* ---- without filters ---- */

static void basics(void) {
  CHECK("PR_GET_SECCOMP is 0 without a filter", get_mode() == 0);
  CHECK("PR_GET_NO_NEW_PRIVS is 0 at first", get_nnp() == 0);
  static const struct {
    const char* name;
    uint32_t action;
  } avail[] = {{"KILL_PROCESS", SECCOMP_RET_KILL_PROCESS},
               {"KILL_THREAD", SECCOMP_RET_KILL_THREAD},
               {"TRAP", SECCOMP_RET_TRAP},
               {"ERRNO", SECCOMP_RET_ERRNO},
               {"TRACE", SECCOMP_RET_TRACE},
               {"LOG", SECCOMP_RET_LOG},
               {"ALLOW", SECCOMP_RET_ALLOW}};
  for (size_t i = 0; i < NINSN(avail); i++) {
    char name[80];
    uint32_t a = avail[i].action;
    snprintf(name, sizeof name, "SECCOMP_GET_ACTION_AVAIL %s", avail[i].name);
    CHECK(name, syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &a) == 0);
  }
  uint32_t a = 0x12340000;
  CHECK_ERRNO("GET_ACTION_AVAIL of an unknown action: EOPNOTSUPP",
              syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &a), EOPNOTSUPP);
  a = SECCOMP_RET_ERRNO | 5;
  CHECK_ERRNO("GET_ACTION_AVAIL of ERRNO with data (the whole word must match): EOPNOTSUPP",
              syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &a), EOPNOTSUPP);
  a = SECCOMP_RET_ALLOW;
  CHECK_ERRNO("GET_ACTION_AVAIL with flags: EINVAL", syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 1, &a), EINVAL);
  CHECK_ERRNO("GET_ACTION_AVAIL of NULL: EFAULT", syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, NULL), EFAULT);
  CHECK_ERRNO("an unknown operation (99): EINVAL", syscall(SYS_seccomp, 99, 0, NULL), EINVAL);
}

/* ---- malformed calls (no_new_privs set, nothing installed) ---- */

static struct sock_filter big[4097];

static void errors_body(void) {
  CHECK("PR_SET_NO_NEW_PRIVS", set_nnp() == 0);
  CHECK("PR_GET_NO_NEW_PRIVS is then 1", get_nnp() == 1);
  CHECK_ERRNO("PR_SET_NO_NEW_PRIVS 0 (it cannot be unset): EINVAL", pr(PR_SET_NO_NEW_PRIVS, 0, 0), EINVAL);
  CHECK_ERRNO("PR_SET_NO_NEW_PRIVS with a nonzero arg3: EINVAL", pr(PR_SET_NO_NEW_PRIVS, 1, 1), EINVAL);
  CHECK_ERRNO("PR_GET_NO_NEW_PRIVS with a nonzero arg2: EINVAL", pr(PR_GET_NO_NEW_PRIVS, 1, 0), EINVAL);
  CHECK("no_new_privs is still 1", get_nnp() == 1);

  struct sock_filter allow[] = {RET(SECCOMP_RET_ALLOW)};
  CHECK_ERRNO("an unknown filter flag (1 << 10): EINVAL", install(1ul << 10, allow, 1), EINVAL);
  CHECK_ERRNO("a program of length 0: EINVAL", install(0, allow, 0), EINVAL);
  for (size_t i = 0; i < NINSN(big); i++) big[i] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
  CHECK_ERRNO("a program of 4097 instructions (BPF_MAXINSNS is 4096): EINVAL", install(0, big, 4097), EINVAL);
  CHECK_ERRNO("a NULL sock_fprog: EFAULT", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, NULL), EFAULT);
  struct sock_fprog nofilter = {1, NULL};
  CHECK_ERRNO("a sock_fprog with a NULL filter: EINVAL", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &nofilter),
              EINVAL);
  void* gone = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(gone, 4096);
  struct sock_fprog unmapped = {1, gone};
  CHECK_ERRNO("a sock_fprog with an unmapped filter: EFAULT",
              syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &unmapped), EFAULT);

  static const struct {
    const char* name;
    int n;
    struct sock_filter f[4];
  } bad[] = {
      {"a conditional jump past the end",
       3,
       {LD_ABS(OFF_NR), JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 1, 0), RET(SECCOMP_RET_ALLOW)}},
      {"a false branch past the end",
       3,
       {LD_ABS(OFF_NR), JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 1), RET(SECCOMP_RET_ALLOW)}},
      {"BPF_JA past the end", 2, {STMT(BPF_JMP | BPF_JA, 1), RET(SECCOMP_RET_ALLOW)}},
      {"a last instruction that is not a RET", 2, {RET(SECCOMP_RET_ALLOW), LD_ABS(OFF_NR)}},
      {"an unknown opcode (0xffff)", 2, {STMT(0xffff, 0), RET(SECCOMP_RET_ALLOW)}},
      {"BPF_RET|BPF_X", 1, {STMT(BPF_RET | BPF_X, 0)}},
      {"a byte load (BPF_LD|BPF_B|BPF_ABS)", 2, {STMT(BPF_LD | BPF_B | BPF_ABS, 0), RET(SECCOMP_RET_ALLOW)}},
      {"a half-word load (BPF_LD|BPF_H|BPF_ABS)", 2, {STMT(BPF_LD | BPF_H | BPF_ABS, 0), RET(SECCOMP_RET_ALLOW)}},
      {"an indirect load (BPF_LD|BPF_W|BPF_IND)", 2, {STMT(BPF_LD | BPF_W | BPF_IND, 0), RET(SECCOMP_RET_ALLOW)}},
      {"BPF_LDX|BPF_B|BPF_MSH", 2, {STMT(BPF_LDX | BPF_B | BPF_MSH, 0), RET(SECCOMP_RET_ALLOW)}},
      {"BPF_ALU|BPF_MOD|BPF_K (not in seccomp's list)",
       2,
       {STMT(BPF_ALU | BPF_MOD | BPF_K, 3), RET(SECCOMP_RET_ALLOW)}},
      {"a misaligned load (offset 2)", 2, {LD_ABS(2), RET(SECCOMP_RET_ALLOW)}},
      {"a load at offset 64, past seccomp_data", 2, {LD_ABS(64), RET(SECCOMP_RET_ALLOW)}},
      {"a load at an ancillary offset (0xfffff000)", 2, {LD_ABS(0xfffff000u), RET(SECCOMP_RET_ALLOW)}},
      {"a store to M[16]", 2, {STMT(BPF_ST, 16), RET(SECCOMP_RET_ALLOW)}},
      {"a load of M[0] never stored", 2, {STMT(BPF_LD | BPF_MEM, 0), RET(SECCOMP_RET_ALLOW)}},
      {"a division by the constant 0", 2, {STMT(BPF_ALU | BPF_DIV | BPF_K, 0), RET(SECCOMP_RET_ALLOW)}},
      {"a constant shift by 32", 2, {STMT(BPF_ALU | BPF_LSH | BPF_K, 32), RET(SECCOMP_RET_ALLOW)}},
  };
  for (size_t i = 0; i < NINSN(bad); i++) {
    char name[120];
    struct sock_filter f[4];
    memcpy(f, bad[i].f, sizeof f);
    snprintf(name, sizeof name, "%s: EINVAL", bad[i].name);
    CHECK_ERRNO(name, install(0, f, bad[i].n), EINVAL);
  }
  struct sock_filter last_word[] = {LD_ABS(ARG_HI(5)), RET(SECCOMP_RET_ALLOW)};
  struct sock_fprog prog = {NINSN(last_word), last_word};
  CHECK("none of them was installed: PR_GET_SECCOMP is 0", get_mode() == 0);

  CHECK_ERRNO("SET_MODE_STRICT with flags: EINVAL", syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 1, NULL), EINVAL);
  CHECK_ERRNO("SET_MODE_STRICT with args: EINVAL", syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, &prog), EINVAL);
  CHECK_ERRNO("PR_SET_SECCOMP mode 0: EINVAL", pr(PR_SET_SECCOMP, 0, 0), EINVAL);
  CHECK_ERRNO("PR_SET_SECCOMP mode 3: EINVAL", pr(PR_SET_SECCOMP, 3, (unsigned long)&prog), EINVAL);
  CHECK_ERRNO("PR_SET_SECCOMP mode 2 with NULL: EFAULT", pr(PR_SET_SECCOMP, 2, 0), EFAULT);
  CHECK("still no filter", get_mode() == 0);
  CHECK("a load of the last word (args[5] high, offset 60) is accepted", install(0, last_word, NINSN(last_word)) == 0);
  CHECK("PR_GET_SECCOMP is then 2", get_mode() == 2);
}

/* ---- privileges ---- */

static void unprivileged_body(void) {
  if (geteuid() == 0 && setuid(65534) != 0) CHECK("setuid(65534)", 0);
  CHECK("no_new_privs is unset", get_nnp() == 0);
  struct sock_filter f[] = {RET(SECCOMP_RET_ALLOW)};
  struct sock_fprog prog = {1, f};
  CHECK_ERRNO("without no_new_privs or CAP_SYS_ADMIN, SET_MODE_FILTER: EACCES", install(0, f, 1), EACCES);
  CHECK_ERRNO("and PR_SET_SECCOMP 2: EACCES", pr(PR_SET_SECCOMP, 2, (unsigned long)&prog), EACCES);
  CHECK_ERRNO("the length is checked before: len 0 is EINVAL", install(0, f, 0), EINVAL);
  struct sock_filter badjump[] = {STMT(BPF_JMP | BPF_JA, 5), RET(SECCOMP_RET_ALLOW)};
  CHECK_ERRNO("the program is checked after: a bad one is EACCES", install(0, badjump, NINSN(badjump)), EACCES);
  CHECK("nothing installed", get_mode() == 0);
  CHECK("with no_new_privs set, the same filter goes in", set_nnp() == 0 && install(0, f, 1) == 0);
  CHECK("PR_GET_SECCOMP is 2", get_mode() == 2);
}

/* ---- ERRNO ---- */

static void errno_body(void) {
  set_nnp();
  CHECK("a filter: getppid -> ERRNO(ENOTTY)", on_nr(0, SYS_getppid, SECCOMP_RET_ERRNO | ENOTTY) == 0);
  CHECK_ERRNO("getppid fails with ENOTTY", syscall(SYS_getppid), ENOTTY);
  CHECK("getpid still works", syscall(SYS_getpid) > 0);
  CHECK("PR_GET_SECCOMP is 2", get_mode() == 2);
  CHECK_ERRNO("SET_MODE_STRICT over a filter: EINVAL", syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL), EINVAL);
  CHECK_ERRNO("PR_SET_SECCOMP 1 over a filter: EINVAL", pr(PR_SET_SECCOMP, 1, 0), EINVAL);

  CHECK("ERRNO(4095) on getpgid", on_nr(0, SYS_getpgid, SECCOMP_RET_ERRNO | 4095) == 0);
  CHECK_ERRNO("getpgid fails with errno 4095", syscall(SYS_getpgid, 0), 4095);
  CHECK("ERRNO(4096) on getsid", on_nr(0, SYS_getsid, SECCOMP_RET_ERRNO | 4096) == 0);
  CHECK_ERRNO("getsid fails with errno 4095 (data capped at MAX_ERRNO)", syscall(SYS_getsid, 0), 4095);
  CHECK("ERRNO(0xffff) on getpgrp", on_nr(0, SYS_getpgrp, SECCOMP_RET_ERRNO | 0xffff) == 0);
  CHECK_ERRNO("getpgrp fails with errno 4095", syscall(SYS_getpgrp), 4095);
  CHECK("ERRNO(0) on uname", on_nr(0, SYS_uname, SECCOMP_RET_ERRNO | 0) == 0);
  struct utsname u;
  memset(&u, 'x', sizeof u);
  long r = syscall(SYS_uname, &u);
  CHECK("uname returns 0 without running (the buffer is untouched)", r == 0 && u.sysname[0] == 'x');
}

/* ---- what the filter sees ---- */

static void data_body(void) {
  set_nnp();
  int p[2];
  if (pipe(p) != 0) CHECK("pipe", 0);
  /* dup(p[0]) -> EMLINK, the whole 64-bit args[0] compared */
  struct sock_filter f1[] = {
      LD_ABS(OFF_NR),
      JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_dup, 0, 5),
      LD_ABS(ARG_LO(0)),
      JUMP(BPF_JMP | BPF_JEQ | BPF_K, p[0], 0, 3),
      LD_ABS(ARG_HI(0)),
      JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
      RET(SECCOMP_RET_ERRNO | EMLINK),
      RET(SECCOMP_RET_ALLOW),
  };
  CHECK("a filter on dup's args[0]", install(0, f1, NINSN(f1)) == 0);
  CHECK_ERRNO("dup of that fd: EMLINK", syscall(SYS_dup, p[0]), EMLINK);
  long fd = syscall(SYS_dup, p[1]);
  CHECK("dup of another fd works", fd >= 0);
  if (fd >= 0) close(fd);
  fd = syscall(SYS_dup, (long)p[0] | 1l << 32);
  CHECK("the fd with bit 32 set: the filter sees all 64 bits, dup (an unsigned int) works", fd >= 0);
  if (fd >= 0) close(fd);

  /* getppid with args[5] == 77 -> EDOM; args[1] with bit 63 -> ERANGE (BPF_JSET) */
  struct sock_filter f2[] = {
      LD_ABS(OFF_NR),
      JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 6),
      LD_ABS(ARG_LO(5)),
      JUMP(BPF_JMP | BPF_JEQ | BPF_K, 77, 0, 1),
      RET(SECCOMP_RET_ERRNO | EDOM),
      LD_ABS(ARG_HI(1)),
      JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x80000000u, 0, 1),
      RET(SECCOMP_RET_ERRNO | ERANGE),
      RET(SECCOMP_RET_ALLOW),
  };
  CHECK("a filter on getppid's args[5] and args[1]", install(0, f2, NINSN(f2)) == 0);
  CHECK_ERRNO("getppid with args[5] = 77: EDOM", syscall(SYS_getppid, 0, 0, 0, 0, 0, 77), EDOM);
  CHECK_ERRNO("getppid with bit 63 of args[1]: ERANGE", syscall(SYS_getppid, 0, 1ul << 63, 0, 0, 0, 0), ERANGE);
  CHECK("getppid with other args works", syscall(SYS_getppid, 1, 2, 3, 4, 5, 76) > 0);

  /* the architecture */
  struct sock_filter f3[] = {
      LD_ABS(OFF_ARCH),
      JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 3),
      LD_ABS(OFF_NR),
      JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpgid, 0, 1),
      RET(SECCOMP_RET_ERRNO | EXDEV),
      RET(SECCOMP_RET_ALLOW),
  };
  CHECK("a filter on arch == AUDIT_ARCH_X86_64 and getpgid", install(0, f3, NINSN(f3)) == 0);
  CHECK_ERRNO("getpgid: EXDEV", syscall(SYS_getpgid, 0), EXDEV);

  /* an unknown syscall number reaches the filter too */
  CHECK("a filter on syscall 1000", on_nr(0, 1000, SECCOMP_RET_ERRNO | EL2HLT) == 0);
  CHECK_ERRNO("syscall 1000: EL2HLT instead of ENOSYS", syscall(1000), EL2HLT);
  CHECK_ERRNO("syscall 1001: ENOSYS", syscall(1001), ENOSYS);

  /* instruction_pointer: the address after the syscall instruction, all 64 bits */
  uint64_t ip = (uint64_t)(uintptr_t)seccomp_site_a_end;
  struct sock_filter f4[] = {
      LD_ABS(OFF_NR),
      JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getsid, 0, 5),
      LD_ABS(OFF_IP),
      JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)ip, 0, 3),
      LD_ABS(OFF_IP + 4),
      JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(ip >> 32), 0, 1),
      RET(SECCOMP_RET_ERRNO | ENOEXEC),
      RET(SECCOMP_RET_ALLOW),
  };
  CHECK("a filter on instruction_pointer", install(0, f4, NINSN(f4)) == 0);
  CHECK("getsid from that site: ENOEXEC", seccomp_site_a(SYS_getsid, 0) == -ENOEXEC);
  CHECK("getsid from another site works", seccomp_site_b(SYS_getsid, 0) >= 0);
}

/* ---- the BPF machine: filters stacked, one per operation, each answering getppid(a, x, id)
 * with ERRNO((result) & 0xfff) ---- */

struct op {
  const char* name;
  uint32_t a, x, want;
  int n;
  struct sock_filter body[4];
};

#define IF_ELSE(jmp) \
  JUMP(BPF_JMP | (jmp), 0, 0, 2), STMT(BPF_LD | BPF_IMM, 11), STMT(BPF_JMP | BPF_JA, 1), STMT(BPF_LD | BPF_IMM, 22)
#define IF_ELSE_K(jmp, v) \
  JUMP(BPF_JMP | (jmp) | BPF_K, v, 0, 2), STMT(BPF_LD | BPF_IMM, 11), STMT(BPF_JMP | BPF_JA, 1), \
      STMT(BPF_LD | BPF_IMM, 22)

static const struct op ops[] = {
    {"ADD K", 5, 0, 12, 1, {STMT(BPF_ALU | BPF_ADD | BPF_K, 7)}},
    {"ADD X", 5, 30, 35, 1, {STMT(BPF_ALU | BPF_ADD | BPF_X, 0)}},
    {"SUB K", 20, 0, 17, 1, {STMT(BPF_ALU | BPF_SUB | BPF_K, 3)}},
    {"SUB X wraps around at 32 bits", 1, 2, 0xfff, 1, {STMT(BPF_ALU | BPF_SUB | BPF_X, 0)}},
    {"MUL K", 6, 0, 42, 1, {STMT(BPF_ALU | BPF_MUL | BPF_K, 7)}},
    {"MUL X keeps the low 32 bits", 0x10001, 0x10001, 1, 1, {STMT(BPF_ALU | BPF_MUL | BPF_X, 0)}},
    {"DIV K", 100, 0, 14, 1, {STMT(BPF_ALU | BPF_DIV | BPF_K, 7)}},
    {"DIV X is unsigned", 0xfffffff0u, 0x100000, 0xfff, 1, {STMT(BPF_ALU | BPF_DIV | BPF_X, 0)}},
    {"AND K", 0xff, 0, 0x3c, 1, {STMT(BPF_ALU | BPF_AND | BPF_K, 0x3c)}},
    {"AND X", 0xf0f, 0x0ff, 0x00f, 1, {STMT(BPF_ALU | BPF_AND | BPF_X, 0)}},
    {"OR K", 0x100, 0, 0x123, 1, {STMT(BPF_ALU | BPF_OR | BPF_K, 0x23)}},
    {"OR X", 0x100, 0x23, 0x123, 1, {STMT(BPF_ALU | BPF_OR | BPF_X, 0)}},
    {"XOR K", 0x5a, 0, 0x55, 1, {STMT(BPF_ALU | BPF_XOR | BPF_K, 0x0f)}},
    {"XOR X", 0xff, 0xf0, 0x0f, 1, {STMT(BPF_ALU | BPF_XOR | BPF_X, 0)}},
    {"LSH K", 3, 0, 48, 1, {STMT(BPF_ALU | BPF_LSH | BPF_K, 4)}},
    {"LSH X", 1, 10, 1024, 1, {STMT(BPF_ALU | BPF_LSH | BPF_X, 0)}},
    {"RSH K is logical", 0x80000000u, 0, 0x80, 1, {STMT(BPF_ALU | BPF_RSH | BPF_K, 24)}},
    {"RSH X", 0x3000, 4, 0x300, 1, {STMT(BPF_ALU | BPF_RSH | BPF_X, 0)}},
    {"NEG", 5, 0, 0xffb, 1, {STMT(BPF_ALU | BPF_NEG, 0)}},
    {"LD IMM", 1, 0, 99, 1, {STMT(BPF_LD | BPF_IMM, 99)}},
    {"LDX IMM and TXA", 1, 0, 77, 2, {STMT(BPF_LDX | BPF_IMM, 77), STMT(BPF_MISC | BPF_TXA, 0)}},
    {"TAX and TXA", 1, 123, 123, 1, {STMT(BPF_MISC | BPF_TXA, 0)}},
    {"ST and LD M[3]", 55, 0, 55, 3, {STMT(BPF_ST, 3), STMT(BPF_LD | BPF_IMM, 0), STMT(BPF_LD | BPF_MEM, 3)}},
    {"STX and LDX M[15]",
     1,
     66,
     66,
     4,
     {STMT(BPF_STX, 15), STMT(BPF_LDX | BPF_IMM, 0), STMT(BPF_LDX | BPF_MEM, 15), STMT(BPF_MISC | BPF_TXA, 0)}},
    {"LD LEN is sizeof(seccomp_data)", 1, 0, 64, 1, {STMT(BPF_LD | BPF_W | BPF_LEN, 0)}},
    {"LDX LEN is sizeof(seccomp_data)", 1, 0, 64, 2, {STMT(BPF_LDX | BPF_W | BPF_LEN, 0), STMT(BPF_MISC | BPF_TXA, 0)}},
    {"JA", 1, 0, 22, 3, {STMT(BPF_JMP | BPF_JA, 1), STMT(BPF_LD | BPF_IMM, 11), STMT(BPF_LD | BPF_IMM, 22)}},
    {"JEQ K taken", 7, 0, 11, 4, {IF_ELSE_K(BPF_JEQ, 7)}},
    {"JEQ X not taken", 7, 8, 22, 4, {IF_ELSE(BPF_JEQ | BPF_X)}},
    {"JGT K is unsigned", 0xffffffffu, 0, 11, 4, {IF_ELSE_K(BPF_JGT, 10)}},
    {"JGT K not taken when equal", 10, 0, 22, 4, {IF_ELSE_K(BPF_JGT, 10)}},
    {"JGT X", 11, 10, 11, 4, {IF_ELSE(BPF_JGT | BPF_X)}},
    {"JGE K taken when equal", 10, 0, 11, 4, {IF_ELSE_K(BPF_JGE, 10)}},
    {"JGE X not taken", 9, 10, 22, 4, {IF_ELSE(BPF_JGE | BPF_X)}},
    {"JSET K", 5, 0, 11, 4, {IF_ELSE_K(BPF_JSET, 4)}},
    {"JSET X not taken", 3, 4, 22, 4, {IF_ELSE(BPF_JSET | BPF_X)}},
};

static void bpf_body(void) {
  set_nnp();
  int installed = 0;
  for (size_t i = 0; i < NINSN(ops); i++) {
    struct sock_filter f[16];
    int n = ops[i].n, last = 10 + n;
    struct sock_filter head[] = {
        LD_ABS(OFF_NR),    JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, (uint8_t)(last - 2)),
        LD_ABS(ARG_LO(2)), JUMP(BPF_JMP | BPF_JEQ | BPF_K, i + 1, 0, (uint8_t)(last - 4)),
        LD_ABS(ARG_LO(1)), STMT(BPF_MISC | BPF_TAX, 0),
        LD_ABS(ARG_LO(0)),
    };
    struct sock_filter tail[] = {STMT(BPF_ALU | BPF_AND | BPF_K, 0xfff),
                                 STMT(BPF_ALU | BPF_OR | BPF_K, SECCOMP_RET_ERRNO), STMT(BPF_RET | BPF_A, 0),
                                 RET(SECCOMP_RET_ALLOW)};
    memcpy(f, head, sizeof head);
    memcpy(f + 7, ops[i].body, n * sizeof f[0]);
    memcpy(f + 7 + n, tail, sizeof tail);
    installed += install(0, f, last + 1) == 0;
  }
  CHECK("one filter per operation installed", installed == (int)NINSN(ops));
  for (size_t i = 0; i < NINSN(ops); i++) {
    char name[100];
    snprintf(name, sizeof name, "BPF %s", ops[i].name);
    errno = 0;
    long r = syscall(SYS_getppid, ops[i].a, ops[i].x, i + 1);
    CHECK(name, r == -1 && errno == (int)ops[i].want);
  }
  CHECK("getppid with no operation selected works", syscall(SYS_getppid, 0, 0, 0) > 0);
}

/* ---- other actions, and stacking ---- */

static void actions_body(void) {
  set_nnp();
  CHECK("ALLOW on getppid", on_nr(0, SYS_getppid, SECCOMP_RET_ALLOW) == 0);
  CHECK("getppid works", syscall(SYS_getppid) > 0);
  CHECK("LOG on getpgid", on_nr(0, SYS_getpgid, SECCOMP_RET_LOG) == 0);
  CHECK("getpgid works", syscall(SYS_getpgid, 0) >= 0);
  CHECK("TRACE(5) on getsid", on_nr(0, SYS_getsid, SECCOMP_RET_TRACE | 5) == 0);
  CHECK_ERRNO("without a tracer, getsid fails with ENOSYS", syscall(SYS_getsid, 0), ENOSYS);

  /* stacking: the lowest action value wins, whatever the order */
  CHECK("ERRNO(EPERM) on getppid over its ALLOW", on_nr(0, SYS_getppid, SECCOMP_RET_ERRNO | EPERM) == 0);
  CHECK("ALLOW on getppid again", on_nr(0, SYS_getppid, SECCOMP_RET_ALLOW) == 0);
  CHECK_ERRNO("ERRNO beats ALLOW: EPERM", syscall(SYS_getppid), EPERM);
  CHECK("ERRNO(EBUSY) on getpgid over its LOG", on_nr(0, SYS_getpgid, SECCOMP_RET_ERRNO | EBUSY) == 0);
  CHECK_ERRNO("ERRNO beats LOG: EBUSY", syscall(SYS_getpgid, 0), EBUSY);
  CHECK("ERRNO(E2BIG) on getsid over its TRACE", on_nr(0, SYS_getsid, SECCOMP_RET_ERRNO | E2BIG) == 0);
  CHECK("TRACE on getsid again", on_nr(0, SYS_getsid, SECCOMP_RET_TRACE) == 0);
  CHECK_ERRNO("ERRNO beats TRACE: E2BIG", syscall(SYS_getsid, 0), E2BIG);
  /* equal actions: the most recently installed filter's data */
  CHECK("ERRNO(ENOENT) on getppid, after ERRNO(EPERM)", on_nr(0, SYS_getppid, SECCOMP_RET_ERRNO | ENOENT) == 0);
  CHECK_ERRNO("between two ERRNOs the newest filter wins: ENOENT", syscall(SYS_getppid), ENOENT);
  CHECK("ERRNO(ESRCH) on getppid, newest again", on_nr(0, SYS_getppid, SECCOMP_RET_ERRNO | ESRCH) == 0);
  CHECK_ERRNO("now ESRCH", syscall(SYS_getppid), ESRCH);
}

/* ---- TRAP ---- */

static volatile int trap_count, trap_signo, trap_code, trap_errno, trap_syscall, trap_set;
static volatile unsigned trap_arch;
static volatile uintptr_t trap_addr;
static volatile long trap_rax, trap_rdi, trap_new_rax;

static void on_sigsys(int sig, siginfo_t* si, void* ctx) {
  /* Linux's siginfo: si_signo 0, si_errno 4, si_code 8, then at 16 _sigsys = { void *_call_addr;
   * int _syscall; unsigned int _arch; } */
  const unsigned char* p = (const unsigned char*)si;
  int v;
  unsigned u;
  void* addr;
  memcpy(&v, p, 4), trap_signo = v;
  memcpy(&v, p + 4, 4), trap_errno = v;
  memcpy(&v, p + 8, 4), trap_code = v;
  memcpy(&addr, p + 16, 8), trap_addr = (uintptr_t)addr;
  memcpy(&v, p + 24, 4), trap_syscall = v;
  memcpy(&u, p + 28, 4), trap_arch = u;
  ucontext_t* uc = ctx;
  trap_rax = uc->uc_mcontext.gregs[REG_RAX];
  trap_rdi = uc->uc_mcontext.gregs[REG_RDI];
  if (trap_set) uc->uc_mcontext.gregs[REG_RAX] = trap_new_rax;
  trap_count++;
}

static void catch_sigsys(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sigsys;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSYS, &sa, NULL);
}

static void trap_body(void) {
  set_nnp();
  catch_sigsys();
  CHECK("TRAP(0x1234) on getppid", on_nr(0, SYS_getppid, SECCOMP_RET_TRAP | 0x1234) == 0);
  long r = seccomp_site_a(SYS_getppid, 7);
  CHECK("the SIGSYS handler ran once", trap_count == 1);
  CHECK("si_signo is SIGSYS", trap_signo == SIGSYS);
  CHECK("si_code is SYS_SECCOMP (1)", trap_code == 1);
  CHECK("si_errno is the action's data (0x1234)", trap_errno == 0x1234);
  CHECK("si_syscall is the syscall number", trap_syscall == SYS_getppid);
  CHECK("si_arch is AUDIT_ARCH_X86_64", trap_arch == AUDIT_ARCH_X86_64);
  CHECK("si_call_addr is just after the syscall instruction", trap_addr == (uintptr_t)seccomp_site_a_end);
  CHECK("the handler's ucontext has the arguments (rdi 7)", trap_rdi == 7);
  CHECK("and rax = the syscall number", trap_rax == SYS_getppid);
  CHECK("with rax untouched, the syscall returns its own number", r == SYS_getppid);
  trap_set = 1;
  trap_new_rax = 4242;
  r = seccomp_site_a(SYS_getppid, 7);
  CHECK("the handler sets rax 4242: the syscall returns 4242", r == 4242 && trap_count == 2);
  trap_set = 0;
  CHECK("TRAP(0xffff) on getpgid", on_nr(0, SYS_getpgid, SECCOMP_RET_TRAP | 0xffff) == 0);
  seccomp_site_a(SYS_getpgid, 0);
  CHECK("si_errno is 0xffff (not capped)", trap_count == 3 && trap_errno == 0xffff && trap_syscall == SYS_getpgid);
  /* TRAP beats ERRNO, either way round */
  CHECK("ERRNO then TRAP(5) on getsid",
        on_nr(0, SYS_getsid, SECCOMP_RET_ERRNO | EPERM) == 0 && on_nr(0, SYS_getsid, SECCOMP_RET_TRAP | 5) == 0);
  r = seccomp_site_b(SYS_getsid, 0);
  CHECK("TRAP wins", trap_count == 4 && trap_errno == 5 && r == SYS_getsid);
  CHECK("TRAP(6) then ERRNO on uname",
        on_nr(0, SYS_uname, SECCOMP_RET_TRAP | 6) == 0 && on_nr(0, SYS_uname, SECCOMP_RET_ERRNO | EPERM) == 0);
  r = seccomp_site_b(SYS_uname, 0);
  CHECK("TRAP wins", trap_count == 5 && trap_errno == 6 && r == SYS_uname);
}

/* ---- deaths by SIGSYS ---- */

static void die_kill_process(void) {
  set_nnp();
  on_nr(0, SYS_getppid, SECCOMP_RET_KILL_PROCESS);
  syscall(SYS_getppid);
}
static void die_kill_thread(void) {
  set_nnp();
  on_nr(0, SYS_getppid, SECCOMP_RET_KILL_THREAD);
  syscall(SYS_getppid);
}
static void die_kill_with_handler(void) {
  set_nnp();
  catch_sigsys();
  on_nr(0, SYS_getppid, SECCOMP_RET_KILL_PROCESS);
  syscall(SYS_getppid);
}
static void die_unknown_action(void) {
  set_nnp();
  on_nr(0, SYS_getppid, 0x12340000);
  syscall(SYS_getppid);
}
static void die_div_by_zero_x(void) {
  set_nnp();
  struct sock_filter f[] = {
      LD_ABS(OFF_NR),
      JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 4),
      STMT(BPF_LDX | BPF_IMM, 0),
      STMT(BPF_LD | BPF_IMM, SECCOMP_RET_ALLOW),
      STMT(BPF_ALU | BPF_DIV | BPF_X, 0),
      STMT(BPF_RET | BPF_A, 0),
      RET(SECCOMP_RET_ALLOW),
  };
  install(0, f, NINSN(f));
  syscall(SYS_getppid);
}
static void die_trap_no_handler(void) {
  set_nnp();
  on_nr(0, SYS_getppid, SECCOMP_RET_TRAP);
  syscall(SYS_getppid);
}
static void die_trap_blocked(void) {
  set_nnp();
  catch_sigsys();
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGSYS);
  sigprocmask(SIG_BLOCK, &s, NULL);
  on_nr(0, SYS_getppid, SECCOMP_RET_TRAP);
  syscall(SYS_getppid);
}
static void die_trap_ignored(void) {
  set_nnp();
  signal(SIGSYS, SIG_IGN);
  on_nr(0, SYS_getppid, SECCOMP_RET_TRAP);
  syscall(SYS_getppid);
}
static void die_kill_over_errno(void) {
  set_nnp();
  on_nr(0, SYS_getppid, SECCOMP_RET_KILL_PROCESS);
  on_nr(0, SYS_getppid, SECCOMP_RET_ERRNO | EPERM);
  syscall(SYS_getppid);
}
static void die_kill_thread_over_trap(void) {
  /* KILL_THREAD (0) is below TRAP (0x30000): installed before, it still wins */
  set_nnp();
  catch_sigsys();
  on_nr(0, SYS_getppid, SECCOMP_RET_KILL_THREAD);
  on_nr(0, SYS_getppid, SECCOMP_RET_TRAP);
  syscall(SYS_getppid);
}

static volatile int thread_tid = -1;

static void* die_in_thread(void* arg) {
  thread_tid = (int)syscall(SYS_gettid);
  /* the kernel clears this word and wakes it when the thread is gone (musl's pthread_join would
   * wait for the thread's own exit path, which a killed thread never takes) */
  syscall(SYS_set_tid_address, &thread_tid);
  syscall(SYS_getppid);
  return NULL;
}

static int wait_thread_gone(void) {
  for (int i = 0; i < 40; i++) {
    int v = thread_tid;
    if (v == 0) return 1;
    struct timespec ts = {0, 50 * 1000000};
    syscall(SYS_futex, &thread_tid, 0 /* FUTEX_WAIT */, v, &ts, NULL, 0);
  }
  return thread_tid == 0;
}

static void kill_thread_body(void) {
  set_nnp();
  on_nr(0, SYS_getppid, SECCOMP_RET_KILL_THREAD);
  pthread_t t;
  pthread_create(&t, NULL, die_in_thread, NULL);
  CHECK("KILL_THREAD in a second thread ends just that thread", wait_thread_gone());
  CHECK("the main thread goes on", syscall(SYS_getpid) > 0);
  fflush(stdout);
  syscall(SYS_getppid); /* now the only thread: the process dies */
  CHECK("the main thread survived KILL_THREAD as the last thread", 0);
}

static void die_kill_process_from_thread(void) {
  set_nnp();
  on_nr(0, SYS_getppid, SECCOMP_RET_KILL_PROCESS);
  pthread_t t;
  pthread_create(&t, NULL, die_in_thread, NULL);
  sleep_ms(3000); /* the process dies before */
}

static void deaths(void) {
  CHECK("KILL_PROCESS: killed by SIGSYS", killed_by(die_kill_process) == SIGSYS);
  CHECK("KILL_THREAD, single-threaded: killed by SIGSYS", killed_by(die_kill_thread) == SIGSYS);
  CHECK("KILL_PROCESS with a SIGSYS handler: killed by SIGSYS", killed_by(die_kill_with_handler) == SIGSYS);
  CHECK("an unknown action (0x12340000): killed by SIGSYS", killed_by(die_unknown_action) == SIGSYS);
  CHECK("a filter dividing by a zero X returns 0 (KILL_THREAD): SIGSYS", killed_by(die_div_by_zero_x) == SIGSYS);
  CHECK("TRAP without a handler: killed by SIGSYS", killed_by(die_trap_no_handler) == SIGSYS);
  CHECK("TRAP with SIGSYS blocked (and a handler): killed by SIGSYS", killed_by(die_trap_blocked) == SIGSYS);
  CHECK("TRAP with SIGSYS ignored: killed by SIGSYS", killed_by(die_trap_ignored) == SIGSYS);
  CHECK("KILL_PROCESS beats a newer ERRNO: SIGSYS", killed_by(die_kill_over_errno) == SIGSYS);
  CHECK("KILL_THREAD beats a newer TRAP (the handler never runs): SIGSYS",
        killed_by(die_kill_thread_over_trap) == SIGSYS);
  body_fn = kill_thread_body;
  CHECK("after the thread, KILL_THREAD kills the process: SIGSYS", child_status(body_main) == 100 + SIGSYS);
  CHECK("KILL_PROCESS in a second thread kills the whole process: SIGSYS",
        killed_by(die_kill_process_from_thread) == SIGSYS);
}

/* ---- inheritance ---- */

static int grandchild(void) {
  abi_failures = 0;
  CHECK_ERRNO("the forked child inherits the filter: ECHILD", syscall(SYS_getppid), ECHILD);
  CHECK("and PR_GET_SECCOMP 2", get_mode() == 2);
  CHECK("and no_new_privs", get_nnp() == 1);
  CHECK("it adds a filter of its own on getpgid", on_nr(0, SYS_getpgid, SECCOMP_RET_ERRNO | EPERM) == 0);
  CHECK_ERRNO("getpgid: EPERM", syscall(SYS_getpgid, 0), EPERM);
  return ABI_DONE();
}

static void fork_body(void) {
  set_nnp();
  CHECK("ERRNO(ECHILD) on getppid", on_nr(0, SYS_getppid, SECCOMP_RET_ERRNO | ECHILD) == 0);
  CHECK("the forked child passes", child_status(grandchild) == 0);
  CHECK("its filter does not reach the parent: getpgid works", syscall(SYS_getpgid, 0) >= 0);
}

static void exec_body(void) {
  set_nnp();
  CHECK("ERRNO(EXDEV) on getppid", on_nr(0, SYS_getppid, SECCOMP_RET_ERRNO | EXDEV) == 0);
  fflush(stdout);
  execl("/proc/self/exe", "seccomp", "exec-child", (char*)NULL);
  CHECK("execve /proc/self/exe", 0);
}

static int exec_child_main(void) {
  CHECK_ERRNO("after execve the filter still applies: EXDEV", syscall(SYS_getppid), EXDEV);
  CHECK("after execve PR_GET_SECCOMP is 2", get_mode() == 2);
  CHECK("after execve no_new_privs is 1", get_nnp() == 1);
  CHECK("after execve getpid works", syscall(SYS_getpid) > 0);
  return ABI_DONE();
}

/* ---- PR_SET_SECCOMP 2, flags, TSYNC ---- */

static void prctl_body(void) {
  set_nnp();
  struct sock_filter f[] = {LD_ABS(OFF_NR), JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
                            RET(SECCOMP_RET_ERRNO | ENOLINK), RET(SECCOMP_RET_ALLOW)};
  struct sock_fprog prog = {NINSN(f), f};
  struct sock_filter bad[] = {LD_ABS(2), RET(SECCOMP_RET_ALLOW)};
  struct sock_fprog badprog = {NINSN(bad), bad};
  CHECK_ERRNO("PR_SET_SECCOMP 2 with a bad program: EINVAL", pr(PR_SET_SECCOMP, 2, (unsigned long)&badprog), EINVAL);
  CHECK("PR_SET_SECCOMP 2 installs a filter", pr(PR_SET_SECCOMP, 2, (unsigned long)&prog) == 0);
  CHECK_ERRNO("getppid: ENOLINK", syscall(SYS_getppid), ENOLINK);
  CHECK("PR_GET_SECCOMP is 2", get_mode() == 2);
}

static void flags_body(void) {
  set_nnp();
  CHECK("TSYNC in a single-threaded process: 0",
        on_nr(SECCOMP_FILTER_FLAG_TSYNC, SYS_getppid, SECCOMP_RET_ERRNO | EL3HLT) == 0);
  CHECK_ERRNO("and it applies: EL3HLT", syscall(SYS_getppid), EL3HLT);
  CHECK("FLAG_LOG: 0", on_nr(SECCOMP_FILTER_FLAG_LOG, SYS_getpgid, SECCOMP_RET_ERRNO | EL3RST) == 0);
  CHECK_ERRNO("and it applies: EL3RST", syscall(SYS_getpgid, 0), EL3RST);
  CHECK("FLAG_SPEC_ALLOW: 0", on_nr(SECCOMP_FILTER_FLAG_SPEC_ALLOW, SYS_getsid, SECCOMP_RET_ERRNO | ELNRNG) == 0);
  CHECK_ERRNO("and it applies: ELNRNG", syscall(SYS_getsid, 0), ELNRNG);
  const unsigned long both = SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
  CHECK("TSYNC|TSYNC_ESRCH, single-threaded: 0", on_nr(both, SYS_getpgrp, SECCOMP_RET_ERRNO | EUNATCH) == 0);
  CHECK_ERRNO("and it applies: EUNATCH", syscall(SYS_getpgrp), EUNATCH);
}

static int cmd_pipe[2], res_pipe[2];

static void* worker(void* arg) {
  char c;
  while (read(cmd_pipe[0], &c, 1) == 1 && c != 'q') {
    long r = 0;
    if (c == 'g') r = seccomp_site_b(SYS_getppid, 0);
    if (c == 't') r = syscall(SYS_gettid);
    if (c == 'm') r = get_mode();
    if (c == 'f') r = on_nr(0, SYS_getpgrp, SECCOMP_RET_ERRNO | EPERM);
    if (write(res_pipe[1], &r, sizeof r) != sizeof r) break;
  }
  return NULL;
}

static long ask(char c) {
  long r = -99999;
  if (write(cmd_pipe[1], &c, 1) != 1 || read(res_pipe[0], &r, sizeof r) != sizeof r) return -99999;
  return r;
}

static void tsync_body(void) {
  set_nnp();
  if (pipe(cmd_pipe) != 0 || pipe(res_pipe) != 0) CHECK("pipes", 0);
  pthread_t t;
  pthread_create(&t, NULL, worker, NULL);
  CHECK("without TSYNC: ERRNO(EXDEV) on getppid", on_nr(0, SYS_getppid, SECCOMP_RET_ERRNO | EXDEV) == 0);
  CHECK_ERRNO("this thread: EXDEV", syscall(SYS_getppid), EXDEV);
  CHECK("the other thread is not filtered", ask('g') > 0 && ask('m') == 0);
  CHECK("with TSYNC: ERRNO(ENOLINK) on getppid: 0",
        on_nr(SECCOMP_FILTER_FLAG_TSYNC, SYS_getppid, SECCOMP_RET_ERRNO | ENOLINK) == 0);
  CHECK_ERRNO("this thread: ENOLINK", syscall(SYS_getppid), ENOLINK);
  CHECK("the other thread now has both filters: ENOLINK", ask('g') == -ENOLINK && ask('m') == 2);
  CHECK("the other thread adds a filter of its own", ask('f') == 0);
  long tid = ask('t');
  CHECK("TSYNC when the other thread's filters diverge: its tid",
        on_nr(SECCOMP_FILTER_FLAG_TSYNC, SYS_getppid, SECCOMP_RET_ERRNO | EBADE) == tid);
  const unsigned long both = SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
  CHECK_ERRNO("with TSYNC_ESRCH: ESRCH", on_nr(both, SYS_getppid, SECCOMP_RET_ERRNO | EBADE), ESRCH);
  CHECK_ERRNO("neither was installed: still ENOLINK", syscall(SYS_getppid), ENOLINK);
  CHECK("the other thread: still ENOLINK", ask('g') == -ENOLINK);
  char q = 'q';
  if (write(cmd_pipe[1], &q, 1) == 1) pthread_join(t, NULL);
}

/* ---- the total length of the stacked programs ---- */

static void length_body(void) {
  set_nnp();
  static struct sock_filter f[4096];
  for (int i = 0; i < 4095; i++) f[i] = (struct sock_filter)LD_ABS(OFF_NR);
  f[4095] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
  int ok = 0;
  for (int i = 0; i < 7; i++) ok += install(0, f, 4096) == 0;
  CHECK("7 filters of 4096 instructions", ok == 7);
  CHECK_ERRNO("an 8th: ENOMEM (more than 32768 in all, with 4 more for each installed one)", install(0, f, 4096),
              ENOMEM);
  /* (Linux counts the length of the programs as converted to eBPF, here 4 more than the classic
   * length; the checks stay clear of the exact boundary) */
  f[999] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
  CHECK("one of 1000 instructions still fits", install(0, f, 1000) == 0);
  f[999] = (struct sock_filter)LD_ABS(OFF_NR);
  CHECK_ERRNO("then another of 4096: ENOMEM", install(0, f, 4096), ENOMEM);
  CHECK("syscalls still work", syscall(SYS_getppid) > 0);
}

/* ---- strict mode ---- */

static int strict_failures;
static int strict_pipe[2];

static void strict_check(const char* name, int ok) {
  char buf[200];
  int n = snprintf(buf, sizeof buf, "%s %s\n", ok ? "ok  " : "FAIL", name);
  syscall(SYS_write, 1, buf, n);
  if (!ok) strict_failures++;
}

static int strict_seccomp(void) {
  strict_failures = 0;
  if (geteuid() == 0 && setuid(65534) != 0) strict_failures++;
  long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL);
  strict_check("SECCOMP_SET_MODE_STRICT, unprivileged and without no_new_privs", r == 0);
  char c = 0;
  long n = syscall(SYS_read, strict_pipe[0], &c, 1);
  strict_check("read and write work in strict mode", n == 1 && c == 'x');
  syscall(SYS_exit, 40 + strict_failures);
  return 99;
}

static int strict_prctl(void) {
  strict_failures = 0;
  long r = pr(PR_SET_SECCOMP, 1, 0x1234); /* the third argument is ignored */
  strict_check("PR_SET_SECCOMP 1 (strict), whatever arg3", r == 0);
  syscall(SYS_exit, 50 + strict_failures);
  return 99;
}

static void on_alarm(int sig) {
  char c = 'a';
  syscall(SYS_write, strict_pipe[1], &c, 1);
}

static int strict_signal(void) {
  strict_failures = 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 0}, {0, 10000}};
  setitimer(ITIMER_REAL, &it, NULL);
  syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL);
  char c = 0;
  long n = syscall(SYS_read, strict_pipe[0], &c, 1);
  strict_check("a signal handler runs and returns (rt_sigreturn) in strict mode", n == 1 && c == 'a');
  syscall(SYS_exit, strict_failures);
  return 99;
}

static void strict_then(long nr) {
  syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL);
  syscall(nr, PR_GET_SECCOMP, 0, 0, 0, 0);
  syscall(SYS_exit, 0);
}
static void strict_getpid(void) { strict_then(SYS_getpid); }
static void strict_prctl_get(void) { strict_then(SYS_prctl); }
static void strict_exit_group(void) { strict_then(SYS_exit_group); }
static void strict_writev(void) {
  syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL);
  printf("not printed\n"); /* musl writes with writev */
  syscall(SYS_exit, 0);
}

static void strict_mode(void) {
  if (pipe(strict_pipe) != 0) CHECK("pipe", 0);
  if (write(strict_pipe[1], "x", 1) != 1) CHECK("write", 0);
  CHECK("exit (not exit_group) ends the strict process: status 40", child_status(strict_seccomp) == 40);
  CHECK("status 50", child_status(strict_prctl) == 50);
  CHECK("status 0", child_status(strict_signal) == 0);
  close(strict_pipe[0]);
  close(strict_pipe[1]);
  CHECK("strict mode, then getpid: SIGKILL", killed_by(strict_getpid) == SIGKILL);
  CHECK("strict mode, then PR_GET_SECCOMP: SIGKILL", killed_by(strict_prctl_get) == SIGKILL);
  CHECK("strict mode, then exit_group: SIGKILL", killed_by(strict_exit_group) == SIGKILL);
  CHECK("strict mode, then writev: SIGKILL", killed_by(strict_writev) == SIGKILL);
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1 && strcmp(argv[1], "exec-child") == 0) return exec_child_main();
  /* deaths by SIGSYS below: no core files */
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  pr(PR_SET_DUMPABLE, 0, 0);

  basics();
  in_child("errors", errors_body);
  in_child("privileges", unprivileged_body);
  in_child("ERRNO", errno_body);
  in_child("seccomp_data", data_body);
  in_child("BPF", bpf_body);
  in_child("actions", actions_body);
  in_child("TRAP", trap_body);
  deaths();
  in_child("fork", fork_body);
  in_child("execve", exec_body);
  in_child("PR_SET_SECCOMP", prctl_body);
  in_child("flags", flags_body);
  in_child("TSYNC", tsync_body);
  in_child("length", length_body);
  strict_mode();
  CHECK("this process never had a filter: PR_GET_SECCOMP 0", get_mode() == 0);
  return ABI_DONE();
}
