/* ptrace(2), the way strace and gdb use it, with this program as its own small tracer:
 * PTRACE_TRACEME (SIGSTOP stop, a second TRACEME, the legacy SIGTRAP after execve with its
 * siginfo and registers); syscall stops with PTRACE_SYSCALL and TRACESYSGOOD (entry/exit
 * alternation, orig_rax, rax = -ENOSYS at entry, return values at exit, the siginfo and
 * GETEVENTMSG of a syscall stop); changing syscalls (another number, skipping with orig_rax -1
 * with and without a return value set at entry, an argument, the return value at exit with
 * POKEUSER); PEEK/POKE of data, text and the user area (alignment, bounds, debug registers,
 * segment registers, fs_base, EIO/EFAULT), a software breakpoint (int3 written with POKETEXT
 * into read-only text, its SIGTRAP and rip, restoring it); signal-delivery-stops (siginfo,
 * suppressing, injecting another signal, SETSIGINFO); PTRACE_O_TRACEFORK, TRACEVFORK and
 * TRACEVFORKDONE, TRACECLONE with a thread (event stops, GETEVENTMSG, auto-attached children
 * and their first stop, registers at the event stop); TRACEEXEC (and no legacy SIGTRAP) and
 * TRACEEXIT (on exit and on death by a signal); PTRACE_SEIZE (no stop, INTERRUPT, the stop
 * inside a blocking read, DETACH of a running tracee, bad arguments), a group-stop under SEIZE
 * with PTRACE_LISTEN and SIGCONT; PTRACE_ATTACH (the stop inside pause(), /proc status,
 * DETACH, EPERM/ESRCH/EIO), a group-stop under ATTACH (GETSIGINFO EINVAL, SIGCONT), PTRACE_KILL;
 * a tracer that is not the real parent (PTRACE_O_EXITKILL, detaching when the tracer exits);
 * PTRACE_SINGLESTEP over known instructions and a syscall instruction; GETFPREGS/SETFPREGS,
 * GETREGSET (NT_PRSTATUS, NT_PRFPREG, NT_X86_XSTATE) and PTRACE_ARCH_PRCTL;
 * PTRACE_GET_SYSCALL_INFO at signal, entry and exit stops (and its returned sizes). The exact
 * si_code of every kind of stop, the registers at signal, event and interrupt stops (orig_rax,
 * rax -ENOSYS/-ERESTARTSYS/-ERESTARTNOHAND) and DR6 are checked too. Every scenario has its own
 * tracee. Run natively and under the kernel: the outputs must match. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>

#include "abi_check.h"

/* <linux/ptrace.h>, <linux/elf.h>, <linux/audit.h>, <asm/prctl.h> */
#ifndef PTRACE_O_TRACESYSGOOD
#define PTRACE_O_TRACESYSGOOD 0x00000001
#define PTRACE_O_TRACEFORK 0x00000002
#define PTRACE_O_TRACEVFORK 0x00000004
#define PTRACE_O_TRACECLONE 0x00000008
#define PTRACE_O_TRACEEXEC 0x00000010
#define PTRACE_O_TRACEVFORKDONE 0x00000020
#define PTRACE_O_TRACEEXIT 0x00000040
#define PTRACE_O_EXITKILL 0x00100000
#endif
#ifndef PTRACE_EVENT_FORK
#define PTRACE_EVENT_FORK 1
#define PTRACE_EVENT_VFORK 2
#define PTRACE_EVENT_CLONE 3
#define PTRACE_EVENT_EXEC 4
#define PTRACE_EVENT_VFORK_DONE 5
#define PTRACE_EVENT_EXIT 6
#define PTRACE_EVENT_STOP 128
#endif
#ifndef PTRACE_SEIZE
#define PTRACE_SEIZE 0x4206
#define PTRACE_INTERRUPT 0x4207
#define PTRACE_LISTEN 0x4208
#endif
#ifndef PTRACE_GETREGSET
#define PTRACE_GETREGSET 0x4204
#endif
#ifndef PTRACE_GET_SYSCALL_INFO
#define PTRACE_GET_SYSCALL_INFO 0x420e
#endif
#ifndef PTRACE_ARCH_PRCTL
#define PTRACE_ARCH_PRCTL 30
#endif
#define NT_PRSTATUS 1
#define NT_PRFPREG 2
#define NT_X86_XSTATE 0x202
#define AUDIT_ARCH_X86_64 0xc000003eu
#define ARCH_GET_FS 0x1003
#ifndef PR_SET_PTRACER
#define PR_SET_PTRACER 0x59616d61
#endif
#define PTRACER_ANY ((unsigned long)-1)
#ifndef TRAP_BRKPT
#define TRAP_BRKPT 1
#endif
#ifndef TRAP_TRACE
#define TRAP_TRACE 2
#endif
#ifndef SI_KERNEL
#define SI_KERNEL 0x80
#endif
#define ERESTARTSYS 512
#define ERESTARTNOHAND 514

/* struct ptrace_syscall_info */
struct sc_info {
  uint8_t op;
  uint8_t pad[3];
  uint32_t arch;
  uint64_t instruction_pointer;
  uint64_t stack_pointer;
  union {
    struct {
      uint64_t nr;
      uint64_t args[6];
    } entry;
    struct {
      int64_t rval;
      uint8_t is_error;
    } exit;
    struct {
      uint64_t nr;
      uint64_t args[6];
      uint32_t ret_data;
    } seccomp;
  };
};

typedef struct user_regs_struct regs_t;
#define UOFF(field) offsetof(struct user, field)
#define ROFF(field) offsetof(struct user, regs.field)

/* The raw system call: PEEK* store the word at *data and return 0 (musl's ptrace() returns it). */
static long pt(long req, pid_t pid, unsigned long addr, unsigned long data) {
  return syscall(SYS_ptrace, req, pid, addr, data);
}
#define PT(req, pid, addr, data) pt((req), (pid), (unsigned long)(addr), (unsigned long)(data))

static unsigned long peek(long req, pid_t pid, unsigned long addr) {
  unsigned long v = 0xdeadbeefdeadbeefUL;
  PT(req, pid, addr, &v);
  return v;
}

static int getregs(pid_t pid, regs_t* r) {
  memset(r, 0, sizeof *r);
  return (int)PT(PTRACE_GETREGS, pid, 0, r);
}

static int getsiginfo(pid_t pid, siginfo_t* si) {
  memset(si, 0, sizeof *si);
  return (int)PT(PTRACE_GETSIGINFO, pid, 0, si);
}

static unsigned long eventmsg(pid_t pid) {
  unsigned long m = 0xdeadbeef;
  PT(PTRACE_GETEVENTMSG, pid, 0, &m);
  return m;
}

/* Every child, killed if the watchdog fires (a tracee left stopped would otherwise stay). */
static pid_t kids[64];
static int nkids;
static void track(pid_t pid) {
  if (pid > 0 && nkids < 64) kids[nkids++] = pid;
}
static void watchdog(int sig) {
  (void)sig;
  for (int i = 0; i < nkids; i++) kill(kids[i], SIGKILL); /* all > 0 */
  static const char msg[] = "FAIL ptrace: watchdog (a wait never returned)\n";
  write(1, msg, sizeof msg - 1);
  _exit(99);
}

/* kill() of one child, never of a group (pid <= 0 after a failed fork). */
static int kill1(pid_t pid, int sig) { return pid > 0 ? kill(pid, sig) : -1; }

/* waitpid(__WALL) across EINTR; -1 if it fails. WUNTRACED changes nothing for a tracee, but a
 * child that failed to become one and stopped is reported rather than waited for forever. */
static int wait_for(pid_t pid) {
  int st = 0;
  pid_t r;
  do r = waitpid(pid, &st, __WALL | WUNTRACED);
  while (r < 0 && errno == EINTR);
  return r == pid ? st : -1;
}

static int stopped_by(int st, int sig) { return st != -1 && WIFSTOPPED(st) && WSTOPSIG(st) == sig; }
static int event_of(int st) { return st == -1 ? -1 : (st >> 16) & 0xffff; }
static int exited_with(int st, int code) { return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == code; }
static int killed_with(int st, int sig) { return st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == sig; }

/* Kills pid and reaps it (after a failure, so that nothing is left behind). */
static void kill_reap(pid_t pid) {
  if (pid <= 0) return;
  kill1(pid, SIGKILL);
  for (int i = 0; i < 20; i++) {
    int st = wait_for(pid);
    if (st == -1 || WIFEXITED(st) || WIFSIGNALED(st)) return;
  }
}

/* Continues pid (forwarding signals) until it ends; returns the final status. */
static int run_to_exit(pid_t pid, int sig) {
  for (int i = 0; i < 50; i++) {
    if (PT(PTRACE_CONT, pid, 0, sig) != 0 && errno != ESRCH) break;
    int st = wait_for(pid);
    if (st == -1 || WIFEXITED(st) || WIFSIGNALED(st)) return st;
    sig = (WIFSTOPPED(st) && event_of(st) == 0 && WSTOPSIG(st) != SIGTRAP) ? WSTOPSIG(st) : 0;
  }
  kill_reap(pid);
  return -1;
}

/* A child that is traced (TRACEME) and stopped by its raise(SIGSTOP); then runs fn. */
static pid_t spawn_traced(int (*fn)(void)) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0) _exit(90);
    raise(SIGSTOP);
    _exit(fn());
  }
  track(pid);
  int st = wait_for(pid);
  if (!stopped_by(st, SIGSTOP)) {
    kill_reap(pid);
    return -1;
  }
  return pid;
}

/* State letter of /proc/<pid>/stat ('?' if unreadable). */
static char proc_state(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return '?';
  int n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return '?';
  buf[n] = 0;
  char* p = strrchr(buf, ')');
  return p && p[1] == ' ' ? p[2] : '?';
}

/* Waits (at most ~3 s) until pid sleeps in the kernel. */
static int wait_sleeping(pid_t pid) {
  for (int i = 0; i < 3000; i++) {
    if (proc_state(pid) == 'S') return 1;
    sleep_ms(1);
  }
  return 0;
}

/* PTRACE_ATTACH to pid, retried (detaching) until its stop is inside pause(): a kernel's /proc
 * state letter may not tell sleeping from running. Returns the status of the last stop. */
static int attach_in_pause(pid_t pid, long* attach_ret, regs_t* r) {
  int st = -1;
  for (int i = 0; i < 1000; i++) {
    long ret = PT(PTRACE_ATTACH, pid, 0, 0);
    if (i == 0) *attach_ret = ret;
    if (ret != 0) return -1;
    st = wait_for(pid);
    if (!stopped_by(st, SIGSTOP)) return st;
    if (getregs(pid, r) == 0 && r->orig_rax == SYS_pause) return st;
    PT(PTRACE_DETACH, pid, 0, 0);
    sleep_ms(1);
  }
  return st;
}

/* PTRACE_INTERRUPT of a seized pid, retried (continuing) until the stop is inside read(). */
static int interrupt_in_read(pid_t pid, long* interrupt_ret, regs_t* r) {
  int st = -1;
  for (int i = 0; i < 1000; i++) {
    long ret = PT(PTRACE_INTERRUPT, pid, 0, 0);
    if (i == 0) *interrupt_ret = ret;
    if (ret != 0) return -1;
    st = wait_for(pid);
    if (!stopped_by(st, SIGTRAP) || event_of(st) != PTRACE_EVENT_STOP) return st;
    if (getregs(pid, r) == 0 && r->orig_rax == SYS_read) return st;
    PT(PTRACE_CONT, pid, 0, 0);
    sleep_ms(1);
  }
  return st;
}

/* A field of /proc/<pid>/status, as text ("" if missing). */
static void status_field(pid_t pid, const char* name, char* out, size_t outsz) {
  char path[64], buf[4096];
  out[0] = 0;
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return;
  int n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return;
  buf[n] = 0;
  size_t len = strlen(name);
  for (char* line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    if (strncmp(line, name, len) == 0 && line[len] == ':') {
      char* v = line + len + 1;
      while (*v == ' ' || *v == '\t') v++;
      size_t k = strcspn(v, "\n");
      if (k >= outsz) k = outsz - 1;
      memcpy(out, v, k);
      out[k] = 0;
      return;
    }
  }
}

static long tracer_pid_of(pid_t pid) {
  char v[32];
  status_field(pid, "TracerPid", v, sizeof v);
  return v[0] ? atol(v) : -1;
}

/* ---- 1. PTRACE_TRACEME and the legacy SIGTRAP after execve ---- */

static void traceme(void) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    long r1 = syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0);
    raise(SIGSTOP);
    errno = 0;
    long r2 = syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0);
    int bits = (r1 == 0 ? 1 : 0) | (r2 == -1 && errno == EPERM ? 2 : 0);
    char code[16];
    snprintf(code, sizeof code, "%d", 40 + bits);
    char* av[] = {"ptrace", "ptrace-exec", code, NULL};
    execve("/proc/self/exe", av, (char*[]){NULL});
    _exit(99);
  }
  track(pid);
  int st = wait_for(pid);
  CHECK("TRACEME, raise(SIGSTOP): the parent sees a SIGSTOP stop", stopped_by(st, SIGSTOP) && event_of(st) == 0);
  siginfo_t si;
  CHECK("  GETSIGINFO: SIGSTOP, SI_TKILL, si_pid the tracee",
        getsiginfo(pid, &si) == 0 && si.si_signo == SIGSTOP && si.si_code == SI_TKILL && si.si_pid == pid);
  CHECK("PTRACE_CONT", PT(PTRACE_CONT, pid, 0, 0) == 0);
  st = wait_for(pid);
  CHECK("execve without options: a SIGTRAP stop after it", stopped_by(st, SIGTRAP) && event_of(st) == 0);
  CHECK("  GETSIGINFO: SIGTRAP, SI_USER, si_pid the tracee itself",
        getsiginfo(pid, &si) == 0 && si.si_signo == SIGTRAP && si.si_code == SI_USER && si.si_pid == pid);
  regs_t r;
  CHECK("  GETREGS: rip is the new program's entry point", getregs(pid, &r) == 0 && r.rip == getauxval(AT_ENTRY));
  CHECK("  rax 0 (execve's result), orig_rax SYS_execve", r.rax == 0 && r.orig_rax == SYS_execve);
  st = run_to_exit(pid, 0);
  CHECK("the exec'd program runs to its end", WIFEXITED(st) && WEXITSTATUS(st) >= 40 && WEXITSTATUS(st) < 44);
  int bits = WIFEXITED(st) ? WEXITSTATUS(st) - 40 : 0;
  CHECK("PTRACE_TRACEME returned 0", bits & 1);
  CHECK("PTRACE_TRACEME a second time: EPERM", bits & 2);
}

/* ---- 2. Syscall stops ---- */

static int syscalls_body(void) {
  syscall(SYS_getppid);
  syscall(SYS_getuid);
  syscall(SYS_write, -1L, 0L, 0L);
  syscall(SYS_exit_group, 7);
  return 99;
}

static void syscall_stops(void) {
  pid_t pid = spawn_traced(syscalls_body);
  CHECK("syscall stops: the tracee stops with SIGSTOP", pid > 0);
  if (pid < 0) return;
  CHECK_ERRNO("PTRACE_SETOPTIONS with an unknown option: EINVAL", PT(PTRACE_SETOPTIONS, pid, 0, 1UL << 30), EINVAL);
  CHECK("PTRACE_SETOPTIONS TRACESYSGOOD", PT(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACESYSGOOD) == 0);
  long nrs[8], rets[8], exit_nrs[8];
  int n = 0, m = 0, in = 0, started = 0, sysgood = 1, enosys = 1, st = -1;
  int info_ok = -1, msg_entry = -1, msg_exit = -1;
  for (int i = 0; i < 100; i++) {
    if (PT(PTRACE_SYSCALL, pid, 0, 0) != 0) break;
    st = wait_for(pid);
    if (st == -1 || !WIFSTOPPED(st)) break;
    if (WSTOPSIG(st) != (SIGTRAP | 0x80) || event_of(st) != 0) sysgood = 0;
    regs_t r;
    getregs(pid, &r);
    if (!in) {
      if (r.orig_rax == SYS_getppid) started = 1;
      if (started && n < 8) {
        nrs[n++] = r.orig_rax;
        if ((long)r.rax != -ENOSYS) enosys = 0;
        if (n == 1) {
          siginfo_t si;
          info_ok =
              getsiginfo(pid, &si) == 0 && si.si_signo == SIGTRAP && si.si_code == (SIGTRAP | 0x80) && si.si_pid == pid;
          msg_entry = eventmsg(pid);
        }
      }
    } else if (started && m < 8) {
      exit_nrs[m] = r.orig_rax;
      rets[m++] = r.rax;
      if (m == 1) msg_exit = eventmsg(pid);
    }
    in = !in;
  }
  CHECK("every syscall stop is SIGTRAP|0x80, status>>16 0", sysgood);
  CHECK("entry stops from getppid on: getppid, getuid, write, exit_group",
        n == 4 && nrs[0] == SYS_getppid && nrs[1] == SYS_getuid && nrs[2] == SYS_write && nrs[3] == SYS_exit_group);
  CHECK("rax is -ENOSYS at every entry stop", n == 4 && enosys);
  CHECK("three exit stops (none for exit_group), orig_rax kept",
        m == 3 && exit_nrs[0] == SYS_getppid && exit_nrs[1] == SYS_getuid && exit_nrs[2] == SYS_write);
  CHECK("exit stop of getppid: rax is the tracer's pid", m == 3 && rets[0] == getpid());
  CHECK("exit stop of getuid: rax is the uid", m == 3 && rets[1] == (long)getuid());
  CHECK("exit stop of write(-1): rax is -EBADF", m == 3 && rets[2] == -EBADF);
  CHECK("GETSIGINFO at a syscall stop: SIGTRAP, si_code SIGTRAP|0x80, si_pid the tracee", info_ok == 1);
  CHECK("GETEVENTMSG at a syscall-entry stop: 1", msg_entry == 1);
  CHECK("GETEVENTMSG at a syscall-exit stop: 2", msg_exit == 2);
  CHECK("exit_group(7): the tracer's waitpid sees exit 7", exited_with(st, 7));
  if (st == -1 || WIFSTOPPED(st)) kill_reap(pid);
}

/* ---- 3. Changing syscalls ---- */

static int tamper_body(void) {
  long me = syscall(SYS_getpid);
  int bits = 0;
  if (syscall(SYS_getppid) == me) bits |= 1;
  errno = 0;
  long r = syscall(SYS_close, 100);
  if (r == -1 && errno == ENOSYS && fcntl(100, F_GETFD) >= 0) bits |= 2;
  r = syscall(SYS_close, 101);
  if (r == 42 && fcntl(101, F_GETFD) >= 0) bits |= 4;
  r = syscall(SYS_write, 102, "0123456789", 10);
  if (r == 3) bits |= 8;
  r = syscall(SYS_getuid);
  if (r == 12345) bits |= 16;
  syscall(SYS_exit_group, bits);
  return 99;
}

static int tamper_child(void) {
  int fd = open("/dev/null", O_WRONLY);
  dup2(fd, 100);
  dup2(fd, 101);
  dup2(fd, 102);
  close(fd);
  raise(SIGSTOP);
  return tamper_body();
}

static void tampering(void) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0) _exit(90);
    _exit(tamper_child());
  }
  track(pid);
  int st = wait_for(pid);
  CHECK("changing syscalls: the tracee stops with SIGSTOP", stopped_by(st, SIGSTOP));
  PT(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACESYSGOOD);
  int in = 0, what = 0;
  int setregs_ok = 1, changed_nr = 0, skip_exit = 0, skip_ret = 0, poke_ok = 0;
  for (int i = 0; i < 100; i++) {
    if (PT(PTRACE_SYSCALL, pid, 0, 0) != 0) break;
    st = wait_for(pid);
    if (!stopped_by(st, SIGTRAP | 0x80)) break;
    regs_t r;
    getregs(pid, &r);
    if (!in) {
      what = 0;
      if (r.orig_rax == SYS_getppid) {
        r.orig_rax = SYS_getpid;
        what = 1;
      } else if (r.orig_rax == SYS_close && r.rdi == 100) {
        r.orig_rax = -1;
        what = 2;
      } else if (r.orig_rax == SYS_close && r.rdi == 101) {
        r.orig_rax = -1;
        r.rax = 42;
        what = 3;
      } else if (r.orig_rax == SYS_write && r.rdi == 102) {
        r.rdx = 3;
        what = 4;
      } else if (r.orig_rax == SYS_getuid) {
        what = 5;
      }
      if (what >= 1 && what <= 4 && PT(PTRACE_SETREGS, pid, 0, &r) != 0) setregs_ok = 0;
    } else {
      if (what == 1) changed_nr = r.orig_rax == SYS_getpid && (long)r.rax == pid;
      if (what == 2) skip_exit = (long)r.orig_rax == -1 && (long)r.rax == -ENOSYS;
      if (what == 3) skip_ret = (long)r.orig_rax == -1 && r.rax == 42;
      if (what == 5) poke_ok = PT(PTRACE_POKEUSER, pid, ROFF(rax), 12345) == 0;
    }
    in = !in;
  }
  CHECK("PTRACE_SETREGS at entry stops", setregs_ok);
  CHECK("getppid turned into getpid at entry: the exit stop shows SYS_getpid and the tracee's pid", changed_nr);
  CHECK("orig_rax -1 skips the call: it still has an exit stop, orig_rax -1, rax -ENOSYS", skip_exit);
  CHECK("orig_rax -1 and rax 42 at entry: the exit stop shows 42", skip_ret);
  CHECK("POKEUSER rax at the exit stop", poke_ok);
  int bits = WIFEXITED(st) ? WEXITSTATUS(st) : 0;
  CHECK("the tracee ran to exit_group", st != -1 && WIFEXITED(st));
  CHECK("  getppid returned its own pid (the number was changed)", bits & 1);
  CHECK("  skipped close: ENOSYS, and the descriptor is still open", bits & 2);
  CHECK("  skipped close with rax 42 set at entry: returned 42, descriptor still open", bits & 4);
  CHECK("  write's count changed from 10 to 3: returned 3", bits & 8);
  CHECK("  getuid returned the 12345 poked at its exit stop", bits & 16);
  if (st == -1 || WIFSTOPPED(st)) kill_reap(pid);
}

/* ---- 4. PEEK/POKE and a software breakpoint ---- */

static volatile unsigned long g_word = 0x1122334455667788UL;
static volatile int g_ran;

__attribute__((noinline)) static void bp_target(void) {
  __asm__ volatile("" ::: "memory");
  g_ran++;
}

static int peekpoke_body(void) {
  bp_target();
  return (g_word == 0x0123456789abcdefUL ? 1 : 0) | (g_ran == 1 ? 2 : 0);
}

static void peek_poke(void) {
  pid_t pid = spawn_traced(peekpoke_body);
  CHECK("peek/poke: the tracee stops with SIGSTOP", pid > 0);
  if (pid < 0) return;
  unsigned long addr = (unsigned long)&g_word, v = 0;
  CHECK("PEEKDATA (raw syscall: returns 0, the word at *data)",
        PT(PTRACE_PEEKDATA, pid, addr, &v) == 0 && v == 0x1122334455667788UL);
  errno = 0;
  long w = ptrace(PTRACE_PEEKDATA, pid, (void*)addr, 0);
  CHECK("musl's ptrace(PEEKDATA) returns the word", w == 0x1122334455667788L && errno == 0);
  CHECK("PEEKTEXT of the same address", peek(PTRACE_PEEKTEXT, pid, addr) == 0x1122334455667788UL);
  CHECK("PEEKDATA of a misaligned address",
        (peek(PTRACE_PEEKDATA, pid, addr + 1) & 0x00ffffffffffffffUL) == 0x0011223344556677UL);
  CHECK("POKEDATA", PT(PTRACE_POKEDATA, pid, addr, 0x0123456789abcdefUL) == 0);
  CHECK("  PEEKDATA reads it back", peek(PTRACE_PEEKDATA, pid, addr) == 0x0123456789abcdefUL);
  CHECK("  the tracer's own copy is unchanged", g_word == 0x1122334455667788UL);
  CHECK_ERRNO("PEEKDATA of an unmapped address: EIO", PT(PTRACE_PEEKDATA, pid, 8, &v), EIO);
  CHECK_ERRNO("POKEDATA to an unmapped address: EIO", PT(PTRACE_POKEDATA, pid, 8, 1), EIO);
  CHECK_ERRNO("PEEKDATA storing to a bad tracer pointer: EFAULT", PT(PTRACE_PEEKDATA, pid, addr, 8), EFAULT);

  regs_t r;
  CHECK("GETREGS", getregs(pid, &r) == 0);
  CHECK("PEEKUSER rip equals GETREGS rip", peek(PTRACE_PEEKUSER, pid, ROFF(rip)) == r.rip);
  CHECK("PEEKUSER orig_rax: SYS_tkill (raise's call; kept at the signal stop)",
        peek(PTRACE_PEEKUSER, pid, ROFF(orig_rax)) == SYS_tkill && r.orig_rax == SYS_tkill);
  CHECK("rax at the signal stop: 0 (tkill's result)", r.rax == 0);
  CHECK("cs 0x33, ss 0x2b", r.cs == 0x33 && r.ss == 0x2b);
  CHECK("ds, es, fs, gs 0", r.ds == 0 && r.es == 0 && r.fs == 0 && r.gs == 0);
  CHECK("eflags has IF and bit 1", (r.eflags & 0x202) == 0x202);
  unsigned long fsb = 0;
  syscall(SYS_arch_prctl, ARCH_GET_FS, &fsb);
  CHECK("fs_base is the tracer's (inherited across fork)", r.fs_base == fsb && fsb != 0);
  CHECK("PEEKUSER fs_base", peek(PTRACE_PEEKUSER, pid, ROFF(fs_base)) == fsb);
  CHECK("PEEKUSER u_debugreg[7]: 0", PT(PTRACE_PEEKUSER, pid, UOFF(u_debugreg[7]), &v) == 0 && v == 0);
  CHECK("PEEKUSER u_debugreg[6]: 0xffff0ff0 (only DR6's reserved bits)",
        PT(PTRACE_PEEKUSER, pid, UOFF(u_debugreg[6]), &v) == 0 && v == 0xffff0ff0);
  CHECK("PEEKUSER of u_fpvalid (outside regs and debug registers): 0",
        PT(PTRACE_PEEKUSER, pid, UOFF(u_fpvalid), &v) == 0 && v == 0);
  CHECK_ERRNO("PEEKUSER at a misaligned offset: EIO", PT(PTRACE_PEEKUSER, pid, 3, &v), EIO);
  /* the kernel's struct user ends with error_code and fault_address after u_debugreg: 928 bytes */
  CHECK("PEEKUSER at 920 (fault_address, past musl's struct user): 0",
        PT(PTRACE_PEEKUSER, pid, 920, &v) == 0 && v == 0);
  CHECK_ERRNO("PEEKUSER at 928 (the kernel's sizeof(struct user)): EIO", PT(PTRACE_PEEKUSER, pid, 928, &v), EIO);
  CHECK_ERRNO("POKEUSER at a misaligned offset: EIO", PT(PTRACE_POKEUSER, pid, 3, 0), EIO);
  CHECK_ERRNO("POKEUSER cs 0: EIO", PT(PTRACE_POKEUSER, pid, ROFF(cs), 0), EIO);
  CHECK_ERRNO("POKEUSER a non-canonical fs_base: EIO", PT(PTRACE_POKEUSER, pid, ROFF(fs_base), 0x8000000000000000UL),
              EIO);
  CHECK("POKEUSER r15",
        PT(PTRACE_POKEUSER, pid, ROFF(r15), 0x5a5a) == 0 && peek(PTRACE_PEEKUSER, pid, ROFF(r15)) == 0x5a5a);
  PT(PTRACE_POKEUSER, pid, ROFF(r15), r.r15);

  /* int3 at bp_target, in the tracee's read-only text */
  unsigned long fn = (unsigned long)&bp_target;
  unsigned long orig = peek(PTRACE_PEEKTEXT, pid, fn);
  CHECK("PEEKTEXT of a function matches the tracer's text", memcmp(&orig, (void*)fn, 8) == 0);
  CHECK("POKETEXT an int3 into read-only text", PT(PTRACE_POKETEXT, pid, fn, (orig & ~0xffUL) | 0xcc) == 0);
  CHECK("  PEEKTEXT shows it", peek(PTRACE_PEEKTEXT, pid, fn) == ((orig & ~0xffUL) | 0xcc));
  CHECK("  the tracer's own text is unchanged", *(volatile unsigned char*)fn != 0xcc);
  PT(PTRACE_CONT, pid, 0, 0);
  int st = wait_for(pid);
  CHECK("the breakpoint: a SIGTRAP stop", stopped_by(st, SIGTRAP) && event_of(st) == 0);
  siginfo_t si;
  CHECK("  GETSIGINFO: SIGTRAP, si_code SI_KERNEL",
        getsiginfo(pid, &si) == 0 && si.si_signo == SIGTRAP && si.si_code == SI_KERNEL);
  CHECK("  rip is the breakpoint + 1", getregs(pid, &r) == 0 && r.rip == fn + 1);
  CHECK("restore the word (POKETEXT)",
        PT(PTRACE_POKETEXT, pid, fn, orig) == 0 && peek(PTRACE_PEEKTEXT, pid, fn) == orig);
  r.rip = fn;
  CHECK("SETREGS rip back to the breakpoint", PT(PTRACE_SETREGS, pid, 0, &r) == 0);
  st = run_to_exit(pid, 0);
  int bits = WIFEXITED(st) ? WEXITSTATUS(st) : 0;
  CHECK("the tracee exits normally", st != -1 && WIFEXITED(st) && bits < 4);
  CHECK("  it saw the poked global", bits & 1);
  CHECK("  the function ran once", bits & 2);
}

/* ---- 5. Signal-delivery-stops ---- */

static volatile int usr1_ran, usr2_ran, usr2_code, usr2_pid, usr1_code, usr1_value;
static void on_usr1(int sig, siginfo_t* si, void* uc) {
  (void)sig, (void)uc;
  usr1_ran = 1;
  usr1_code = si->si_code;
  usr1_value = si->si_value.sival_int;
}
static void on_usr2(int sig, siginfo_t* si, void* uc) {
  (void)sig, (void)uc;
  usr2_ran = 1;
  usr2_code = si->si_code;
  usr2_pid = si->si_pid;
}

static int signals_body(void) {
  raise(SIGUSR1);
  int bits = (usr1_ran ? 1 : 0) | (usr2_ran ? 2 : 0);
  if (usr2_ran && usr2_code == SI_USER && usr2_pid == getppid()) bits |= 4;
  if (usr1_ran && usr1_code == SI_QUEUE && usr1_value == 77) bits |= 8;
  if (usr1_ran && usr1_code == SI_TKILL) bits |= 16;
  return bits;
}

static pid_t spawn_signals(void) {
  struct sigaction sa = {0};
  sa.sa_flags = SA_SIGINFO;
  sa.sa_sigaction = on_usr1;
  struct sigaction old1, old2;
  sigaction(SIGUSR1, &sa, &old1);
  sa.sa_sigaction = on_usr2;
  sigaction(SIGUSR2, &sa, &old2);
  pid_t pid = spawn_traced(signals_body);
  sigaction(SIGUSR1, &old1, NULL);
  sigaction(SIGUSR2, &old2, NULL);
  if (pid > 0) PT(PTRACE_CONT, pid, 0, 0);
  return pid;
}

static void signal_stops(void) {
  /* suppressed */
  pid_t pid = spawn_signals();
  CHECK("signals: the tracee stops with SIGSTOP", pid > 0);
  if (pid < 0) return;
  int st = wait_for(pid);
  CHECK("raise(SIGUSR1): a SIGUSR1 stop", stopped_by(st, SIGUSR1) && event_of(st) == 0);
  siginfo_t si;
  CHECK("  GETSIGINFO: SIGUSR1, SI_TKILL, si_pid and si_uid the tracee's",
        getsiginfo(pid, &si) == 0 && si.si_signo == SIGUSR1 && si.si_code == SI_TKILL && si.si_pid == pid &&
            si.si_uid == getuid());
  st = run_to_exit(pid, 0);
  CHECK("resumed with 0: the signal is suppressed, no handler ran", exited_with(st, 0));

  /* another signal injected */
  pid = spawn_signals();
  if (pid < 0) return;
  st = wait_for(pid);
  CHECK("again: a SIGUSR1 stop", stopped_by(st, SIGUSR1));
  st = run_to_exit(pid, SIGUSR2);
  CHECK("resumed with SIGUSR2: only the SIGUSR2 handler ran", st != -1 && WIFEXITED(st) && (WEXITSTATUS(st) & 3) == 2);
  CHECK("  its siginfo: SI_USER, si_pid the tracer", st != -1 && WIFEXITED(st) && (WEXITSTATUS(st) & 4));

  /* the same signal */
  pid = spawn_signals();
  if (pid < 0) return;
  st = wait_for(pid);
  CHECK("again: a SIGUSR1 stop", stopped_by(st, SIGUSR1));
  st = run_to_exit(pid, SIGUSR1);
  CHECK("resumed with SIGUSR1: its handler ran, with the original siginfo (SI_TKILL)", exited_with(st, 1 | 16));

  /* changed siginfo */
  pid = spawn_signals();
  if (pid < 0) return;
  st = wait_for(pid);
  CHECK("again: a SIGUSR1 stop", stopped_by(st, SIGUSR1));
  getsiginfo(pid, &si);
  si.si_code = SI_QUEUE;
  si.si_value.sival_int = 77;
  CHECK("PTRACE_SETSIGINFO", PT(PTRACE_SETSIGINFO, pid, 0, &si) == 0);
  siginfo_t back;
  CHECK("  GETSIGINFO reads it back", getsiginfo(pid, &back) == 0 && back.si_code == SI_QUEUE &&
                                          back.si_value.sival_int == 77 && back.si_signo == SIGUSR1);
  st = run_to_exit(pid, SIGUSR1);
  CHECK("  the handler sees the changed siginfo", exited_with(st, 1 | 8));
}

/* ---- 6. Fork, vfork and clone events ---- */

struct role {
  pid_t pid;
  int done;
  char log[160];
};

static void logf_(struct role* r, const char* fmt, int v) {
  size_t n = strlen(r->log);
  snprintf(r->log + n, sizeof r->log - n, n ? " " : "");
  n = strlen(r->log);
  snprintf(r->log + n, sizeof r->log - n, fmt, v);
}

/* Runs the (already stopped and optioned) tracee and the ones auto-attached through it until they
 * end, logging each one's stops; msg[] gets GETEVENTMSG of fork/vfork/clone/vfork-done events,
 * regs_ev the tracee's registers at its first event stop. */
static void trace_family(pid_t first, struct role* roles, int nroles, unsigned long* msg, regs_t* regs_ev, int thread) {
  memset(roles, 0, sizeof(struct role) * nroles);
  roles[0].pid = first;
  int known = 1, nmsg = 0;
  PT(PTRACE_CONT, first, 0, 0);
  for (int i = 0; i < 200; i++) {
    int all = 1;
    for (int k = 0; k < known; k++) all &= roles[k].done;
    if (all && known > 1) break;
    int st = 0;
    pid_t w = waitpid(-1, &st, __WALL);
    if (w < 0) {
      if (errno == EINTR) continue;
      break;
    }
    int k = 0;
    while (k < known && roles[k].pid != w) k++;
    if (k == known) {
      if (known == nroles) {
        kill_reap(w);
        continue;
      }
      roles[known++].pid = w;
    }
    struct role* r = &roles[k];
    if (WIFEXITED(st)) {
      /* a thread reaped after the group's exit_group reports the group's code: no code then */
      if (thread && k > 0) logf_(r, "exit", 0);
      else logf_(r, "exit%d", WEXITSTATUS(st));
      r->done = 1;
      continue;
    }
    if (WIFSIGNALED(st)) {
      logf_(r, "killed%d", WTERMSIG(st));
      r->done = 1;
      continue;
    }
    int sig = 0, ev = event_of(st);
    if (ev) {
      static const char* names[] = {"?", "fork", "vfork", "clone", "exec", "vfork-done", "exit-ev", "seccomp"};
      logf_(r, ev < 8 ? names[ev] : "event%d", ev);
      if (WSTOPSIG(st) != SIGTRAP) logf_(r, "(not-SIGTRAP)", 0);
      if (ev <= PTRACE_EVENT_VFORK_DONE && ev != PTRACE_EVENT_EXEC && nmsg < 4) msg[nmsg++] = eventmsg(w);
      if (k == 0 && ev != PTRACE_EVENT_VFORK_DONE && regs_ev) getregs(w, regs_ev), regs_ev = NULL;
    } else if (WSTOPSIG(st) == SIGSTOP) {
      logf_(r, "SIGSTOP", 0);
    } else if (WSTOPSIG(st) == SIGCHLD) {
      logf_(r, "SIGCHLD", 0);
      sig = SIGCHLD;
    } else {
      logf_(r, "sig%d", WSTOPSIG(st));
      sig = WSTOPSIG(st) == SIGTRAP ? 0 : WSTOPSIG(st);
    }
    if (k > 0 && !strcmp(r->log, "SIGSTOP")) {
      /* the first stop of an auto-attached child */
      siginfo_t si;
      regs_t rg;
      int ok = getsiginfo(w, &si) == 0 && si.si_signo == SIGSTOP && si.si_code == SI_USER && si.si_pid == 0 &&
               getregs(w, &rg) == 0 && rg.rax == 0;
      if (!ok) logf_(r, "(bad-first-stop)", 0);
    }
    PT(PTRACE_CONT, w, 0, sig);
  }
  for (int k = 0; k < known; k++)
    if (!roles[k].done) kill_reap(roles[k].pid);
}

static int fork_body(void) {
  pid_t g = fork();
  if (g == 0) _exit(5);
  int st = 0;
  if (waitpid(g, &st, 0) != g) return 90;
  return WIFEXITED(st) ? 10 + WEXITSTATUS(st) : 91;
}

static int vfork_body(void) {
  pid_t g = vfork();
  if (g == 0) _exit(6);
  int st = 0;
  if (waitpid(g, &st, 0) != g) return 90;
  return WIFEXITED(st) ? 10 + WEXITSTATUS(st) : 91;
}

static void* thread_fn(void* arg) {
  (void)arg;
  syscall(SYS_getpid);
  return NULL;
}

static int clone_body(void) {
  pthread_t t;
  if (pthread_create(&t, NULL, thread_fn, NULL) != 0) return 90;
  pthread_join(t, NULL);
  return 20;
}

static void family(const char* what, int (*body)(void), long options, const char* want0, const char* want1, int nmsg,
                   long want_nr, int thread) {
  char name[160];
  pid_t pid = spawn_traced(body);
  snprintf(name, sizeof name, "%s: the tracee stops with SIGSTOP", what);
  CHECK(name, pid > 0);
  if (pid < 0) return;
  snprintf(name, sizeof name, "%s: PTRACE_SETOPTIONS", what);
  CHECK(name, PT(PTRACE_SETOPTIONS, pid, 0, options) == 0);
  struct role roles[3];
  unsigned long msg[4] = {0, 0, 0, 0};
  regs_t r;
  memset(&r, 0, sizeof r);
  trace_family(pid, roles, 3, msg, &r, thread);
  snprintf(name, sizeof name, "%s: the tracee's stops: %s", what, want0);
  CHECK(name, !strcmp(roles[0].log, want0));
  if (strcmp(roles[0].log, want0)) printf("     (saw: %s)\n", roles[0].log);
  snprintf(name, sizeof name, "%s: the new task's stops: %s (first: SIGSTOP, SI_USER, si_pid 0, rax 0)", what, want1);
  CHECK(name, !strcmp(roles[1].log, want1));
  if (strcmp(roles[1].log, want1)) printf("     (saw: %s)\n", roles[1].log);
  int same = 1;
  for (int i = 0; i < nmsg; i++) same &= msg[i] == (unsigned long)roles[1].pid;
  snprintf(name, sizeof name, "%s: GETEVENTMSG is the new task's id", what);
  CHECK(name, roles[1].pid > 0 && same);
  snprintf(name, sizeof name, "%s: at the event stop orig_rax is the call, rax -ENOSYS", what);
  CHECK(name, (long)r.orig_rax == want_nr && (long)r.rax == -ENOSYS);
}

static void fork_events(void) {
  family("TRACEFORK", fork_body, PTRACE_O_TRACEFORK, "fork SIGCHLD exit15", "SIGSTOP exit5", 1, SYS_fork, 0);
  family("TRACEVFORK|TRACEVFORKDONE", vfork_body, PTRACE_O_TRACEVFORK | PTRACE_O_TRACEVFORKDONE,
         "vfork vfork-done SIGCHLD exit16", "SIGSTOP exit6", 2, SYS_vfork, 0);
  family("TRACECLONE (a thread)", clone_body, PTRACE_O_TRACECLONE, "clone exit20", "SIGSTOP exit", 1, SYS_clone, 1);
}

/* ---- 7. Exec and exit events ---- */

static int exec_body(void) {
  char* av[] = {"ptrace", "ptrace-exec", "3", NULL};
  execve("/proc/self/exe", av, (char*[]){NULL});
  return 99;
}

static int sigterm_body(void) {
  raise(SIGTERM);
  return 99;
}

static void exec_exit_events(void) {
  pid_t pid = spawn_traced(exec_body);
  CHECK("exec/exit events: the tracee stops with SIGSTOP", pid > 0);
  if (pid < 0) return;
  CHECK("PTRACE_SETOPTIONS TRACEEXEC|TRACEEXIT",
        PT(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT) == 0);
  PT(PTRACE_CONT, pid, 0, 0);
  int st = wait_for(pid);
  CHECK("execve: an exec event stop (status>>8 == SIGTRAP | PTRACE_EVENT_EXEC<<8)",
        st != -1 && WIFSTOPPED(st) && (st >> 8) == (SIGTRAP | PTRACE_EVENT_EXEC << 8));
  CHECK("  GETEVENTMSG: the former thread id (the tracee's pid)", eventmsg(pid) == (unsigned long)pid);
  regs_t r;
  CHECK("  rip is the new program's entry point, orig_rax SYS_execve",
        getregs(pid, &r) == 0 && r.rip == getauxval(AT_ENTRY) && r.orig_rax == SYS_execve);
  siginfo_t si;
  CHECK("  GETSIGINFO: SIGTRAP, si_code SIGTRAP | PTRACE_EVENT_EXEC<<8",
        getsiginfo(pid, &si) == 0 && si.si_signo == SIGTRAP && si.si_code == (SIGTRAP | PTRACE_EVENT_EXEC << 8));
  PT(PTRACE_CONT, pid, 0, 0);
  st = wait_for(pid);
  CHECK("no legacy SIGTRAP: the next stop is the exit event (SIGTRAP | PTRACE_EVENT_EXIT<<8)",
        st != -1 && WIFSTOPPED(st) && (st >> 8) == (SIGTRAP | PTRACE_EVENT_EXIT << 8));
  CHECK("  GETEVENTMSG: the coming wait status, 3<<8", eventmsg(pid) == 3 << 8);
  CHECK("  GETREGS works there, orig_rax SYS_exit_group", getregs(pid, &r) == 0 && r.orig_rax == SYS_exit_group);
  PT(PTRACE_CONT, pid, 0, 0);
  st = wait_for(pid);
  CHECK("then the exit: 3", exited_with(st, 3));
  if (st == -1 || WIFSTOPPED(st)) kill_reap(pid);

  pid = spawn_traced(sigterm_body);
  CHECK("exit event on a death by signal: the tracee stops with SIGSTOP", pid > 0);
  if (pid < 0) return;
  PT(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACEEXIT);
  PT(PTRACE_CONT, pid, 0, 0);
  st = wait_for(pid);
  CHECK("raise(SIGTERM): a SIGTERM stop", stopped_by(st, SIGTERM) && event_of(st) == 0);
  PT(PTRACE_CONT, pid, 0, SIGTERM);
  st = wait_for(pid);
  CHECK("resumed with it: an exit event stop",
        st != -1 && WIFSTOPPED(st) && (st >> 8) == (SIGTRAP | PTRACE_EVENT_EXIT << 8));
  CHECK("  GETEVENTMSG: SIGTERM (the coming wait status)", eventmsg(pid) == SIGTERM);
  PT(PTRACE_CONT, pid, 0, 0);
  st = wait_for(pid);
  CHECK("then the death by SIGTERM", killed_with(st, SIGTERM));
  if (st == -1 || WIFSTOPPED(st)) kill_reap(pid);
}

/* ---- 8. PTRACE_SEIZE, INTERRUPT, LISTEN ---- */

/* A child blocked in read() on a pipe; exits with the byte it reads. any_tracer: it first lets
 * any process trace it (Yama's ptrace_scope 1; the result is ignored: without Yama it fails). */
static pid_t spawn_reader(int* wfd, int any_tracer) {
  int p[2];
  if (pipe(p) != 0) return -1;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    if (any_tracer) prctl(PR_SET_PTRACER, PTRACER_ANY, 0, 0, 0);
    close(p[1]);
    unsigned char c = 0;
    int n;
    do n = read(p[0], &c, 1);
    while (n < 0 && errno == EINTR);
    _exit(n == 1 ? c : 99);
  }
  track(pid);
  close(p[0]);
  *wfd = p[1];
  return pid;
}

static void seize(void) {
  int wfd;
  pid_t pid = spawn_reader(&wfd, 0);
  CHECK_ERRNO("PTRACE_SEIZE with addr != 0: EIO", PT(PTRACE_SEIZE, pid, 1, 0), EIO);
  CHECK_ERRNO("PTRACE_SEIZE with an unknown option: EIO", PT(PTRACE_SEIZE, pid, 0, 1UL << 30), EIO);
  CHECK_ERRNO("PTRACE_INTERRUPT of a child not traced: ESRCH", PT(PTRACE_INTERRUPT, pid, 0, 0), ESRCH);
  CHECK("PTRACE_SEIZE", PT(PTRACE_SEIZE, pid, 0, 0) == 0);
  CHECK_ERRNO("PTRACE_SEIZE again: EPERM", PT(PTRACE_SEIZE, pid, 0, 0), EPERM);
  CHECK("the tracee goes on to block in read()", wait_sleeping(pid));
  int st = 0;
  CHECK("no stop on seize (waitpid WNOHANG: 0)", waitpid(pid, &st, WNOHANG | __WALL) == 0);
  CHECK("/proc status TracerPid is the tracer", tracer_pid_of(pid) == getpid());
  regs_t r;
  CHECK_ERRNO("GETREGS while it runs: ESRCH", PT(PTRACE_GETREGS, pid, 0, &r), ESRCH);
  long ret = -1;
  st = interrupt_in_read(pid, &ret, &r);
  CHECK("PTRACE_INTERRUPT", ret == 0);
  CHECK("  a stop with SIGTRAP, status>>16 PTRACE_EVENT_STOP",
        stopped_by(st, SIGTRAP) && event_of(st) == PTRACE_EVENT_STOP);
  siginfo_t si;
  CHECK("  GETSIGINFO: SIGTRAP, si_code SIGTRAP | PTRACE_EVENT_STOP<<8",
        getsiginfo(pid, &si) == 0 && si.si_signo == SIGTRAP && si.si_code == (SIGTRAP | PTRACE_EVENT_STOP << 8));
  CHECK("  inside read(): orig_rax SYS_read, rax -ERESTARTSYS",
        getregs(pid, &r) == 0 && r.orig_rax == SYS_read && (long)r.rax == -ERESTARTSYS);
  char state[64];
  status_field(pid, "State", state, sizeof state);
  CHECK("  /proc status State: t (tracing stop)", !strcmp(state, "t (tracing stop)"));
  CHECK("PTRACE_CONT", PT(PTRACE_CONT, pid, 0, 0) == 0);
  CHECK_ERRNO("PTRACE_DETACH of the running tracee: ESRCH", PT(PTRACE_DETACH, pid, 0, 0), ESRCH);
  CHECK("it blocks in read() again", wait_sleeping(pid));
  PT(PTRACE_INTERRUPT, pid, 0, 0);
  st = wait_for(pid);
  CHECK("PTRACE_INTERRUPT again: the same stop", stopped_by(st, SIGTRAP) && event_of(st) == PTRACE_EVENT_STOP);
  CHECK("PTRACE_DETACH of the stopped tracee", PT(PTRACE_DETACH, pid, 0, 0) == 0);
  CHECK("  TracerPid 0", tracer_pid_of(pid) == 0);
  write(wfd, "\x2a", 1);
  close(wfd);
  st = wait_for(pid);
  CHECK("the detached child reads the byte, restarting read(): exit 42", exited_with(st, 42));
  if (st == -1 || WIFSTOPPED(st)) kill_reap(pid);

  /* group-stop under SEIZE */
  pid = spawn_reader(&wfd, 0);
  CHECK("PTRACE_SEIZE another", PT(PTRACE_SEIZE, pid, 0, 0) == 0);
  wait_sleeping(pid);
  kill1(pid, SIGSTOP);
  st = wait_for(pid);
  CHECK("kill(SIGSTOP): a signal-delivery-stop (SIGSTOP, status>>16 0)", stopped_by(st, SIGSTOP) && event_of(st) == 0);
  CHECK("  GETSIGINFO: SI_USER from the tracer",
        getsiginfo(pid, &si) == 0 && si.si_signo == SIGSTOP && si.si_code == SI_USER && si.si_pid == getpid());
  PT(PTRACE_CONT, pid, 0, SIGSTOP);
  st = wait_for(pid);
  CHECK("resumed with SIGSTOP: a group-stop (SIGSTOP, status>>16 PTRACE_EVENT_STOP)",
        stopped_by(st, SIGSTOP) && event_of(st) == PTRACE_EVENT_STOP);
  CHECK("  GETSIGINFO: SIGSTOP, si_code SIGSTOP | PTRACE_EVENT_STOP<<8",
        getsiginfo(pid, &si) == 0 && si.si_signo == SIGSTOP && si.si_code == (SIGSTOP | PTRACE_EVENT_STOP << 8));
  CHECK("PTRACE_LISTEN", PT(PTRACE_LISTEN, pid, 0, 0) == 0);
  CHECK_ERRNO("  GETREGS while listening: ESRCH", PT(PTRACE_GETREGS, pid, 0, &r), ESRCH);
  CHECK("  no new stop (waitpid WNOHANG: 0)", waitpid(pid, &st, WNOHANG | __WALL) == 0);
  kill1(pid, SIGCONT);
  st = wait_for(pid);
  CHECK("SIGCONT wakes the listener: a PTRACE_EVENT_STOP with SIGTRAP",
        stopped_by(st, SIGTRAP) && event_of(st) == PTRACE_EVENT_STOP);
  PT(PTRACE_CONT, pid, 0, 0);
  st = wait_for(pid);
  CHECK("then the SIGCONT signal-delivery-stop", stopped_by(st, SIGCONT) && event_of(st) == 0);
  PT(PTRACE_CONT, pid, 0, 0);
  CHECK("the tracee blocks in read() again", wait_sleeping(pid));
  write(wfd, "\x2b", 1);
  close(wfd);
  st = wait_for(pid);
  CHECK("and exits with the byte it reads", exited_with(st, 43));
  if (st == -1 || WIFSTOPPED(st)) kill_reap(pid);
}

/* ---- 9. PTRACE_ATTACH ---- */

static pid_t spawn_pauser(void) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    for (;;) pause();
  }
  track(pid);
  return pid;
}

static void attach(void) {
  pid_t pid = spawn_pauser();
  regs_t r;
  CHECK("the child blocks in pause()", wait_sleeping(pid));
  CHECK_ERRNO("GETREGS on a child not traced: ESRCH", PT(PTRACE_GETREGS, pid, 0, &r), ESRCH);
  long ret = -1;
  int st = attach_in_pause(pid, &ret, &r);
  CHECK("PTRACE_ATTACH", ret == 0);
  CHECK("  waitpid: a SIGSTOP stop, status>>16 0", stopped_by(st, SIGSTOP) && event_of(st) == 0);
  siginfo_t si;
  CHECK("  GETSIGINFO: SIGSTOP, SI_KERNEL, si_pid 0 (sent by the kernel)",
        getsiginfo(pid, &si) == 0 && si.si_signo == SIGSTOP && si.si_code == SI_KERNEL && si.si_pid == 0);
  CHECK("  inside pause(): orig_rax SYS_pause, rax -ERESTARTNOHAND",
        getregs(pid, &r) == 0 && r.orig_rax == SYS_pause && (long)r.rax == -ERESTARTNOHAND);
  CHECK("  /proc status TracerPid is the tracer", tracer_pid_of(pid) == getpid());
  char state[64];
  status_field(pid, "State", state, sizeof state);
  CHECK("  /proc status State: t (tracing stop)", !strcmp(state, "t (tracing stop)"));
  CHECK_ERRNO("PTRACE_ATTACH again: EPERM", PT(PTRACE_ATTACH, pid, 0, 0), EPERM);
  CHECK_ERRNO("PTRACE_SEIZE of it: EPERM", PT(PTRACE_SEIZE, pid, 0, 0), EPERM);
  CHECK_ERRNO("PTRACE_ATTACH to itself: EPERM", PT(PTRACE_ATTACH, getpid(), 0, 0), EPERM);
  CHECK_ERRNO("PTRACE_ATTACH to no process: ESRCH", PT(PTRACE_ATTACH, 0x7ffffff0, 0, 0), ESRCH);
  CHECK_ERRNO("an unknown request on the stopped tracee: EIO", PT(0x4321, pid, 0, 0), EIO);
  CHECK_ERRNO("PTRACE_INTERRUPT without SEIZE: EIO", PT(PTRACE_INTERRUPT, pid, 0, 0), EIO);
  CHECK_ERRNO("PTRACE_LISTEN without SEIZE: EIO", PT(PTRACE_LISTEN, pid, 0, 0), EIO);
  CHECK_ERRNO("PTRACE_CONT with an invalid signal: EIO", PT(PTRACE_CONT, pid, 0, 65), EIO);
  CHECK("PTRACE_CONT", PT(PTRACE_CONT, pid, 0, 0) == 0);
  CHECK_ERRNO("GETREGS on the running tracee: ESRCH", PT(PTRACE_GETREGS, pid, 0, &r), ESRCH);
  CHECK_ERRNO("an unknown request on the running tracee: ESRCH", PT(0x4321, pid, 0, 0), ESRCH);
  CHECK("  no stop (waitpid WNOHANG: 0)", waitpid(pid, &st, WNOHANG | __WALL) == 0);
  CHECK("  it sleeps in pause() again", wait_sleeping(pid));
  kill1(pid, SIGSTOP);
  st = wait_for(pid);
  CHECK("kill(SIGSTOP): a SIGSTOP stop", stopped_by(st, SIGSTOP));
  CHECK("PTRACE_DETACH with 0", PT(PTRACE_DETACH, pid, 0, 0) == 0);
  CHECK("  the child goes on sleeping in pause()", wait_sleeping(pid));
  CHECK("  TracerPid 0", tracer_pid_of(pid) == 0);
  CHECK_ERRNO("  GETREGS: ESRCH", PT(PTRACE_GETREGS, pid, 0, &r), ESRCH);
  kill1(pid, SIGTERM);
  st = wait_for(pid);
  CHECK("kill(SIGTERM): the parent sees it die by SIGTERM", killed_with(st, SIGTERM));
  if (st == -1 || WIFSTOPPED(st)) kill_reap(pid);

  /* group-stop under ATTACH, SIGCONT, PTRACE_KILL */
  pid = spawn_pauser();
  wait_sleeping(pid);
  st = attach_in_pause(pid, &ret, &r);
  CHECK("PTRACE_ATTACH another", ret == 0);
  CHECK("  its SIGSTOP stop, inside pause()", stopped_by(st, SIGSTOP) && r.orig_rax == SYS_pause);
  PT(PTRACE_CONT, pid, 0, SIGSTOP);
  st = wait_for(pid);
  CHECK("resumed with SIGSTOP: a group-stop (SIGSTOP, status>>16 0)", stopped_by(st, SIGSTOP) && event_of(st) == 0);
  CHECK_ERRNO("  GETSIGINFO in a group-stop: EINVAL", PT(PTRACE_GETSIGINFO, pid, 0, &si), EINVAL);
  CHECK("  GETREGS works", getregs(pid, &r) == 0 && r.orig_rax == SYS_pause);
  kill1(pid, SIGCONT);
  CHECK("kill(SIGCONT) does not resume it (no stop, waitpid WNOHANG: 0)",
        waitpid(pid, &st, WNOHANG | __WALL) == 0 && getregs(pid, &r) == 0);
  PT(PTRACE_CONT, pid, 0, 0);
  st = wait_for(pid);
  CHECK("PTRACE_CONT: the SIGCONT signal-delivery-stop", stopped_by(st, SIGCONT) && event_of(st) == 0);
  CHECK("PTRACE_KILL of the stopped tracee", PT(PTRACE_KILL, pid, 0, 0) == 0);
  st = wait_for(pid);
  CHECK("  it dies by SIGKILL", killed_with(st, SIGKILL));
  if (st == -1 || WIFSTOPPED(st)) kill_reap(pid);

  /* PTRACE_KILL of a running tracee */
  pid = spawn_pauser();
  wait_sleeping(pid);
  PT(PTRACE_SEIZE, pid, 0, 0);
  CHECK("PTRACE_KILL of a running (seized) tracee: 0", PT(PTRACE_KILL, pid, 0, 0) == 0);
  st = wait_for(pid);
  CHECK("  it dies by SIGKILL", killed_with(st, SIGKILL));
  if (st == -1 || WIFSTOPPED(st)) kill_reap(pid);
}

/* ---- 10. A tracer that is not the real parent ---- */

/* P (this process) forks C, then T which seizes C; returns T's exit code, or -1. */
static int other_tracer(pid_t c, long options, int go_rfd, int stopped_wfd) {
  fflush(stdout);
  pid_t t = fork();
  if (t == 0) {
    int bits = 0;
    if (PT(PTRACE_SEIZE, c, 0, options) == 0) bits |= 1;
    if (PT(PTRACE_INTERRUPT, c, 0, 0) == 0) bits |= 2;
    int st = wait_for(c);
    if (stopped_by(st, SIGTRAP) && event_of(st) == PTRACE_EVENT_STOP) bits |= 4;
    if (stopped_wfd >= 0) {
      char b = 1;
      write(stopped_wfd, &b, 1);
      read(go_rfd, &b, 1);
    }
    _exit(bits);
  }
  track(t);
  return t;
}

static void not_the_parent(void) {
  int ptrace_scope = 0;
  int fd = open("/proc/sys/kernel/yama/ptrace_scope", O_RDONLY);
  if (fd >= 0) {
    char b[8] = {0};
    read(fd, b, sizeof b - 1);
    close(fd);
    ptrace_scope = atoi(b);
  }
  if (ptrace_scope >= 2) return; /* admin-only attach: skipped */

  /* EXITKILL */
  int wfd;
  pid_t c = spawn_reader(&wfd, 1);
  if (c < 0) return;
  wait_sleeping(c);
  pid_t t = other_tracer(c, PTRACE_O_EXITKILL, -1, -1);
  int st = wait_for(t);
  CHECK("a sibling tracer T: PTRACE_SEIZE with EXITKILL, INTERRUPT, its stop", exited_with(st, 7));
  st = wait_for(c);
  CHECK("  T exits: the tracee dies by SIGKILL (seen by its real parent)", killed_with(st, SIGKILL));
  if (st == -1 || WIFSTOPPED(st)) kill_reap(c);
  close(wfd);

  /* without EXITKILL */
  c = spawn_reader(&wfd, 1);
  wait_sleeping(c);
  int go[2], stopped[2];
  pipe(go);
  pipe(stopped);
  t = other_tracer(c, 0, go[0], stopped[1]);
  char b = 0;
  CHECK("another sibling tracer stops the tracee", read(stopped[0], &b, 1) == 1);
  CHECK("  the tracee's TracerPid is T", tracer_pid_of(c) == t);
  CHECK("  the real parent does not see the stop (WUNTRACED|WNOHANG: 0)", waitpid(c, &st, WNOHANG | WUNTRACED) == 0);
  CHECK_ERRNO("  nor can it use ptrace on it: ESRCH", PT(PTRACE_GETREGS, c, 0, 0), ESRCH);
  write(go[1], &b, 1);
  st = wait_for(t);
  CHECK("  T exits", exited_with(st, 7));
  CHECK("  the tracee is detached: TracerPid 0", tracer_pid_of(c) == 0);
  CHECK("  and resumed: it blocks in read() again", wait_sleeping(c));
  write(wfd, "\x09", 1);
  st = wait_for(c);
  CHECK("  and exits with the byte it reads", exited_with(st, 9));
  if (st == -1 || WIFSTOPPED(st)) kill_reap(c);
  close(wfd);
  close(go[0]), close(go[1]), close(stopped[0]), close(stopped[1]);
}

/* ---- 11. Single-stepping ---- */

__asm__(
    ".text\n"
    ".globl step_fn\n"
    ".type step_fn,@function\n"
    "step_fn:\n"
    "  nop\n"           /* +0 */
    "  nop\n"           /* +1 */
    "  mov $1, %eax\n"  /* +2, 5 bytes */
    "  nop\n"           /* +7 */
    "  mov $39, %eax\n" /* +8: SYS_getpid */
    "  syscall\n"       /* +13, 2 bytes */
    "  nop\n"           /* +15 */
    "  ret\n"           /* +16 */
    ".size step_fn, .-step_fn\n");
long step_fn(void);

static int step_body(void) { return step_fn() == syscall(SYS_getpid) ? 1 : 2; }

static void single_step(void) {
  pid_t pid = spawn_traced(step_body);
  CHECK("single-step: the tracee stops with SIGSTOP", pid > 0);
  if (pid < 0) return;
  unsigned long fn = (unsigned long)&step_fn;
  unsigned long orig = peek(PTRACE_PEEKTEXT, pid, fn);
  CHECK("the known instructions are there", orig == 0x9000000001b89090UL);
  PT(PTRACE_POKETEXT, pid, fn, (orig & ~0xffUL) | 0xcc);
  PT(PTRACE_CONT, pid, 0, 0);
  int st = wait_for(pid);
  regs_t r;
  CHECK("a breakpoint at the function's start: SIGTRAP at +1",
        stopped_by(st, SIGTRAP) && getregs(pid, &r) == 0 && r.rip == fn + 1);
  PT(PTRACE_POKETEXT, pid, fn, orig);
  r.rip = fn;
  PT(PTRACE_SETREGS, pid, 0, &r);
  static const int want[] = {1, 2, 7, 8, 13, 15, 16};
  unsigned long dr6 = 0, dr6_bp = peek(PTRACE_PEEKUSER, pid, UOFF(u_debugreg[6]));
  int rips_ok = 1, sigs_ok = 1, codes_ok = 1, tf_hidden = 1, sys_code = -1, mov_ok = 0, sys_ok = 0;
  for (int i = 0; i < 7; i++) {
    if (PT(PTRACE_SINGLESTEP, pid, 0, 0) != 0) {
      rips_ok = 0;
      break;
    }
    st = wait_for(pid);
    if (!stopped_by(st, SIGTRAP) || event_of(st) != 0) sigs_ok = 0;
    getregs(pid, &r);
    if (r.rip != fn + want[i]) rips_ok = 0;
    if (r.eflags & 0x100) tf_hidden = 0;
    siginfo_t si;
    getsiginfo(pid, &si);
    if (want[i] == 15) {
      sys_code = si.si_code;
      sys_ok = r.orig_rax == SYS_getpid && (long)r.rax == pid;
    } else if (si.si_signo != SIGTRAP || si.si_code != TRAP_TRACE) {
      codes_ok = 0;
    }
    if (want[i] == 7) mov_ok = r.rax == 1;
    if (i == 0) dr6 = peek(PTRACE_PEEKUSER, pid, UOFF(u_debugreg[6]));
  }
  CHECK("seven steps: rip +1, +2, +7 (after a 5-byte mov), +8, +13, +15 (after syscall), +16", rips_ok);
  CHECK("  each a SIGTRAP stop, status>>16 0", sigs_ok);
  CHECK("  GETSIGINFO: SIGTRAP, TRAP_TRACE (but over syscall)", codes_ok);
  CHECK("  TF is hidden from GETREGS", tf_hidden);
  CHECK("  after the mov: rax 1", mov_ok);
  CHECK("  after the syscall: orig_rax SYS_getpid, rax the tracee's pid", sys_ok);
  CHECK("  the step over syscall: si_code TRAP_BRKPT", sys_code == TRAP_BRKPT);
  CHECK("  DR6 (PEEKUSER u_debugreg[6]) after the int3: 0xffff0ff0; after a step: 0xffff4ff0 (BS)",
        dr6_bp == 0xffff0ff0 && dr6 == 0xffff4ff0);
  unsigned long ret = peek(PTRACE_PEEKDATA, pid, r.rsp);
  unsigned long sp = r.rsp;
  PT(PTRACE_SINGLESTEP, pid, 0, 0);
  st = wait_for(pid);
  CHECK("stepping ret: rip is the return address, rsp + 8",
        stopped_by(st, SIGTRAP) && getregs(pid, &r) == 0 && r.rip == ret && r.rsp == sp + 8);
  st = run_to_exit(pid, 0);
  CHECK("the tracee completes: step_fn returned getpid()", exited_with(st, 1));
}

/* ---- 12. FP registers and regsets ---- */

static const unsigned char xmm_in[16] __attribute__((aligned(16))) = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                                                      0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
static const unsigned char xmm_new[16] __attribute__((aligned(16))) = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                                                                       0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};
static unsigned char xmm_out[16] __attribute__((aligned(16)));

static int fp_body(void) {
  long pid = syscall(SYS_getpid), ret;
  __asm__ volatile(
      "movdqu (%[in]), %%xmm0\n\t"
      "syscall\n\t"
      "movdqu %%xmm0, (%[out])\n\t"
      : "=a"(ret)
      : "a"((long)SYS_kill), "D"(pid), "S"((long)SIGSTOP), [in] "r"(xmm_in), [out] "r"(xmm_out)
      : "xmm0", "rcx", "r11", "memory");
  if (memcmp(xmm_out, xmm_new, 16) == 0) return 1;
  return memcmp(xmm_out, xmm_in, 16) == 0 ? 2 : 3;
}

static void fp_regs(void) {
  pid_t pid = spawn_traced(fp_body);
  CHECK("FP registers: the tracee stops with SIGSTOP", pid > 0);
  if (pid < 0) return;
  PT(PTRACE_CONT, pid, 0, 0);
  int st = wait_for(pid);
  CHECK("it loads xmm0 and stops itself (kill SIGSTOP)", stopped_by(st, SIGSTOP));
  struct user_fpregs_struct fp;
  memset(&fp, 0, sizeof fp);
  CHECK("PTRACE_GETFPREGS", PT(PTRACE_GETFPREGS, pid, 0, &fp) == 0);
  CHECK("  xmm_space starts with xmm0", memcmp(fp.xmm_space, xmm_in, 16) == 0);
  CHECK("  mxcsr 0x1f80, cwd 0x37f", fp.mxcsr == 0x1f80 && fp.cwd == 0x37f);
  regs_t r;
  getregs(pid, &r);
  struct {
    regs_t regs;
    unsigned long extra[8];
  } big;
  memset(&big, 0xa5, sizeof big);
  struct iovec iov = {&big, sizeof big};
  CHECK("GETREGSET NT_PRSTATUS", PT(PTRACE_GETREGSET, pid, NT_PRSTATUS, &iov) == 0);
  CHECK("  iov_len becomes sizeof(struct user_regs_struct)", iov.iov_len == sizeof(regs_t));
  CHECK("  the same registers as GETREGS",
        memcmp(&big.regs, &r, sizeof r) == 0 && big.extra[0] == 0xa5a5a5a5a5a5a5a5UL);
  unsigned long one = 0;
  iov.iov_base = &one;
  iov.iov_len = 8;
  CHECK("GETREGSET NT_PRSTATUS of 8 bytes: r15 alone",
        PT(PTRACE_GETREGSET, pid, NT_PRSTATUS, &iov) == 0 && iov.iov_len == 8 && one == r.r15);
  iov.iov_len = 7;
  CHECK_ERRNO("GETREGSET NT_PRSTATUS of 7 bytes: EINVAL", PT(PTRACE_GETREGSET, pid, NT_PRSTATUS, &iov), EINVAL);
  iov.iov_base = &big;
  iov.iov_len = sizeof big;
  CHECK_ERRNO("GETREGSET of an unknown note: EINVAL", PT(PTRACE_GETREGSET, pid, 0x7777, &iov), EINVAL);
  static unsigned char xs[16384];
  memset(xs, 0, sizeof xs);
  iov.iov_base = xs;
  iov.iov_len = 512 + 64;
  CHECK("GETREGSET NT_PRFPREG: 512 bytes, with xmm0 at 160",
        PT(PTRACE_GETREGSET, pid, NT_PRFPREG, &iov) == 0 && iov.iov_len == 512 && memcmp(xs + 160, xmm_in, 16) == 0);
  memset(xs, 0, sizeof xs);
  iov.iov_len = sizeof xs;
  long xr = PT(PTRACE_GETREGSET, pid, NT_X86_XSTATE, &iov);
  uint64_t xcr0, xbv;
  memcpy(&xcr0, xs + 464, 8);
  memcpy(&xbv, xs + 512, 8);
  CHECK("GETREGSET NT_X86_XSTATE: at least 576 bytes, xmm0 at 160",
        xr == 0 && iov.iov_len >= 576 && iov.iov_len < sizeof xs && memcmp(xs + 160, xmm_in, 16) == 0);
  CHECK("  XCR0 in sw_reserved (offset 464) has x87 and SSE; XSTATE_BV has SSE", (xcr0 & 3) == 3 && (xbv & 2));
  unsigned long fsb = 1;
  CHECK("PTRACE_ARCH_PRCTL ARCH_GET_FS (addr: the pointer, data: the code)",
        PT(PTRACE_ARCH_PRCTL, pid, &fsb, ARCH_GET_FS) == 0 && fsb == r.fs_base);
  memcpy(fp.xmm_space, xmm_new, 16);
  CHECK("PTRACE_SETFPREGS with another xmm0", PT(PTRACE_SETFPREGS, pid, 0, &fp) == 0);
  memset(&fp, 0, sizeof fp);
  CHECK("  GETFPREGS reads it back", PT(PTRACE_GETFPREGS, pid, 0, &fp) == 0 && memcmp(fp.xmm_space, xmm_new, 16) == 0);
  st = run_to_exit(pid, 0);
  CHECK("  the tracee sees the new xmm0", exited_with(st, 1));
}

/* ---- 13. PTRACE_GET_SYSCALL_INFO ---- */

static int info_body(void) {
  syscall(SYS_getppid, 11, 22, 33, 44, 55, 66);
  syscall(SYS_write, -1L, 0L, 0L);
  return 0;
}

static void syscall_info(void) {
  pid_t pid = spawn_traced(info_body);
  CHECK("syscall info: the tracee stops with SIGSTOP", pid > 0);
  if (pid < 0) return;
  struct sc_info in;
  regs_t r;
  getregs(pid, &r);
  memset(&in, 0xaa, sizeof in);
  long ret = PT(PTRACE_GET_SYSCALL_INFO, pid, sizeof in, &in);
  CHECK("at a signal-delivery-stop: op NONE, returns 24 (up to the union)", ret == 24 && in.op == 0);
  CHECK("  arch AUDIT_ARCH_X86_64, instruction and stack pointers",
        in.arch == AUDIT_ARCH_X86_64 && in.instruction_pointer == r.rip && in.stack_pointer == r.rsp);
  /* without TRACESYSGOOD */
  PT(PTRACE_SYSCALL, pid, 0, 0);
  int st = wait_for(pid);
  CHECK("a syscall-entry stop without TRACESYSGOOD: plain SIGTRAP", stopped_by(st, SIGTRAP));
  memset(&in, 0xaa, sizeof in);
  ret = PT(PTRACE_GET_SYSCALL_INFO, pid, sizeof in, &in);
  CHECK("  GET_SYSCALL_INFO there: op NONE (needs TRACESYSGOOD), returns 24", ret == 24 && in.op == 0);
  PT(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACESYSGOOD);
  PT(PTRACE_SYSCALL, pid, 0, 0);
  st = wait_for(pid); /* its exit stop */
  int in_sys = 0, found = 0;
  for (int i = 0; i < 50 && !found; i++) {
    PT(PTRACE_SYSCALL, pid, 0, 0);
    st = wait_for(pid);
    if (!stopped_by(st, SIGTRAP | 0x80)) break;
    getregs(pid, &r);
    if (!in_sys && r.orig_rax == SYS_getppid) found = 1;
    else in_sys = !in_sys;
  }
  CHECK("the entry stop of getppid(11, 22, 33, 44, 55, 66)", found);
  memset(&in, 0xaa, sizeof in);
  ret = PT(PTRACE_GET_SYSCALL_INFO, pid, sizeof in, &in);
  CHECK("  GET_SYSCALL_INFO: op ENTRY (1), returns 80", ret == 80 && in.op == 1);
  CHECK("  arch, nr, args", in.arch == AUDIT_ARCH_X86_64 && in.entry.nr == SYS_getppid && in.entry.args[0] == 11 &&
                                in.entry.args[1] == 22 && in.entry.args[2] == 33 && in.entry.args[3] == 44 &&
                                in.entry.args[4] == 55 && in.entry.args[5] == 66);
  CHECK("  instruction_pointer is rip (after the syscall instruction), stack_pointer rsp",
        in.instruction_pointer == r.rip && in.stack_pointer == r.rsp);
  unsigned char small[8];
  memset(small, 0xaa, sizeof small);
  ret = PT(PTRACE_GET_SYSCALL_INFO, pid, 1, small);
  CHECK("  with a 1-byte buffer: still returns 80, writes 1 byte", ret == 80 && small[0] == 1 && small[1] == 0xaa);
  CHECK_ERRNO("  to a bad pointer: EFAULT", PT(PTRACE_GET_SYSCALL_INFO, pid, sizeof in, 8), EFAULT);
  PT(PTRACE_SYSCALL, pid, 0, 0);
  st = wait_for(pid);
  memset(&in, 0xaa, sizeof in);
  ret = PT(PTRACE_GET_SYSCALL_INFO, pid, sizeof in, &in);
  CHECK("its exit stop: op EXIT (2), returns 33", stopped_by(st, SIGTRAP | 0x80) && ret == 33 && in.op == 2);
  CHECK("  rval the tracer's pid, is_error 0", in.exit.rval == getpid() && in.exit.is_error == 0);
  PT(PTRACE_SYSCALL, pid, 0, 0);
  st = wait_for(pid);
  memset(&in, 0xaa, sizeof in);
  ret = PT(PTRACE_GET_SYSCALL_INFO, pid, sizeof in, &in);
  CHECK("the entry stop of write(-1, 0, 0)",
        ret == 80 && in.op == 1 && in.entry.nr == SYS_write && in.entry.args[0] == (uint64_t)-1);
  PT(PTRACE_SYSCALL, pid, 0, 0);
  st = wait_for(pid);
  memset(&in, 0xaa, sizeof in);
  ret = PT(PTRACE_GET_SYSCALL_INFO, pid, sizeof in, &in);
  CHECK("its exit stop: rval -EBADF, is_error 1",
        ret == 33 && in.op == 2 && in.exit.rval == -EBADF && in.exit.is_error == 1);
  st = run_to_exit(pid, 0);
  CHECK("the tracee exits", exited_with(st, 0));
}

/* ---- 15. /proc/PID/mem and the task directory, as gdb uses them ---- */

static volatile unsigned long mem_marker = 0x1122334455667788ul;

static int mem_body(void) { return mem_marker == 0x99aabbccddeeff00ul ? 0 : 1; }

static void proc_mem(void) {
  pid_t pid = spawn_traced(mem_body);
  CHECK("/proc/PID/mem: the tracee stops with SIGSTOP", pid > 0);
  if (pid < 0) return;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/mem", pid);
  int fd = open(path, O_RDWR);
  CHECK("open /proc/PID/mem read-write", fd >= 0);
  unsigned long v = 0, nv = 0x99aabbccddeeff00ul;
  CHECK("pread at a variable's address reads its value",
        pread(fd, &v, sizeof v, (off_t)(unsigned long)&mem_marker) == sizeof v && v == 0x1122334455667788ul);
  CHECK("pwrite there changes it (PEEKDATA sees the new value)",
        pwrite(fd, &nv, sizeof nv, (off_t)(unsigned long)&mem_marker) == sizeof nv &&
            peek(PTRACE_PEEKDATA, pid, (unsigned long)&mem_marker) == nv);
  unsigned char text[4] = {0};
  CHECK("pread of read-only text works", pread(fd, text, sizeof text, (off_t)(unsigned long)&mem_body) == sizeof text);
  CHECK_ERRNO("pread where nothing is mapped: EIO", pread(fd, &v, sizeof v, 4096), EIO);
  close(fd);
  snprintf(path, sizeof path, "/proc/%d/task/%d/maps", pid, pid);
  char buf[256];
  int mfd = open(path, O_RDONLY);
  CHECK("/proc/PID/task/TID/maps reads the mappings", mfd >= 0 && read(mfd, buf, sizeof buf) > 0);
  if (mfd >= 0) close(mfd);
  PT(PTRACE_CONT, pid, 0, 0);
  int st = wait_for(pid);
  CHECK("the tracee saw the value written through /proc/PID/mem", WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(int argc, char** argv) {
  if (argc > 2 && !strcmp(argv[1], "ptrace-exec")) return atoi(argv[2]);
  setvbuf(stdout, NULL, _IONBF, 0);
  signal(SIGALRM, watchdog);
  alarm(30);
  traceme();
  syscall_stops();
  tampering();
  peek_poke();
  signal_stops();
  fork_events();
  exec_exit_events();
  seize();
  attach();
  not_the_parent();
  single_step();
  fp_regs();
  syscall_info();
  proc_mem();
  return ABI_DONE();
}
