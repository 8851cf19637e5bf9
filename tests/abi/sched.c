/* Scheduling parameters and I/O priorities: sched_{get,set}scheduler/param/attr, the priority
 * ranges, sched_rr_get_interval, SCHED_RESET_ON_FORK and inheritance by fork, getcpu,
 * ioprio_{get,set}, get_robust_list, and the errno of every documented failure. Run natively (as
 * root) and under the kernel: the outputs must match. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>

#include "abi_check.h"

#ifndef SCHED_RESET_ON_FORK
#define SCHED_RESET_ON_FORK 0x40000000
#endif
#define SCHED_DEADLINE 6

struct sched_attr {
  uint32_t size, policy;
  uint64_t flags;
  int32_t nice;
  uint32_t priority;
  uint64_t runtime, deadline, period;
  uint32_t util_min, util_max;
};

static int sched_setattr(pid_t pid, struct sched_attr* a, unsigned flags) {
  return syscall(SYS_sched_setattr, pid, a, flags);
}
static int sched_getattr(pid_t pid, struct sched_attr* a, unsigned size, unsigned flags) {
  return syscall(SYS_sched_getattr, pid, a, size, flags);
}
static int setsched(pid_t pid, int policy, int prio) {
  struct sched_param p = {prio};
  return syscall(SYS_sched_setscheduler, pid, policy, &p);
}
static int getsched(pid_t pid) { return syscall(SYS_sched_getscheduler, pid); }
static int getprio(pid_t pid) {
  struct sched_param p = {-1};
  return syscall(SYS_sched_getparam, pid, &p) == 0 ? p.sched_priority : -1;
}

static int child_policy(void) { return getsched(0) * 10 + (getprio(0) == 5 ? 1 : 0); }
static int child_ioprio(void) { return syscall(SYS_ioprio_get, 1, 0) == ((2 << 13) | 3) ? 0 : 1; }
static int child_pgrp_best(void) {
  setpgid(0, 0);
  syscall(SYS_ioprio_set, 1, 0, 0);
  return syscall(SYS_ioprio_get, 2, 0) == ((2 << 13) | 4) ? 0 : 1;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (getuid() != 0) {
    printf("sched: needs root\n");
    return 0;
  }
  CHECK("priority range of SCHED_FIFO: 1..99",
        sched_get_priority_min(SCHED_FIFO) == 1 && sched_get_priority_max(SCHED_FIFO) == 99);
  CHECK("of SCHED_RR: 1..99", sched_get_priority_min(SCHED_RR) == 1 && sched_get_priority_max(SCHED_RR) == 99);
  CHECK("of SCHED_OTHER, BATCH, IDLE, DEADLINE: 0..0",
        sched_get_priority_max(SCHED_OTHER) == 0 && sched_get_priority_min(SCHED_BATCH) == 0 &&
            sched_get_priority_max(SCHED_IDLE) == 0 && sched_get_priority_max(SCHED_DEADLINE) == 0);
  CHECK_ERRNO("of policy 99: EINVAL", sched_get_priority_max(99), EINVAL);
  CHECK_ERRNO("min of policy -1: EINVAL", sched_get_priority_min(-1), EINVAL);

  CHECK("starts as SCHED_OTHER, priority 0", getsched(0) == SCHED_OTHER && getprio(0) == 0);
  CHECK("sched_setscheduler(SCHED_FIFO, 10)", setsched(0, SCHED_FIFO, 10) == 0);
  CHECK("reads back", getsched(getpid()) == SCHED_FIFO && getprio(0) == 10);
  struct timespec ts = {9, 9};
  CHECK("FIFO has no time slice", sched_rr_get_interval(0, &ts) == 0 && ts.tv_sec == 0 && ts.tv_nsec == 0);
  CHECK("sched_setscheduler(SCHED_RR, 5)", setsched(0, SCHED_RR, 5) == 0);
  CHECK("RR's time slice is 100 ms", sched_rr_get_interval(0, &ts) == 0 && ts.tv_sec == 0 && ts.tv_nsec == 100000000);
  CHECK("fork inherits SCHED_RR 5", child_status(child_policy) == SCHED_RR * 10 + 1);
  CHECK("sched_setparam changes the priority",
        syscall(SYS_sched_setparam, 0, &(struct sched_param){50}) == 0 && getsched(0) == SCHED_RR && getprio(0) == 50);
  CHECK("SCHED_RR | SCHED_RESET_ON_FORK",
        setsched(0, SCHED_RR | SCHED_RESET_ON_FORK, 5) == 0 && getsched(0) == (SCHED_RR | SCHED_RESET_ON_FORK));
  CHECK("the child starts as SCHED_OTHER, priority 0", child_status(child_policy) == SCHED_OTHER * 10);
  CHECK("back to SCHED_OTHER", setsched(0, SCHED_OTHER, 0) == 0 && getsched(0) == SCHED_OTHER && getprio(0) == 0);
  CHECK("SCHED_BATCH", setsched(0, SCHED_BATCH, 0) == 0 && getsched(0) == SCHED_BATCH);
  setsched(0, SCHED_OTHER, 0);

  CHECK_ERRNO("SCHED_FIFO with priority 0: EINVAL", setsched(0, SCHED_FIFO, 0), EINVAL);
  CHECK_ERRNO("SCHED_FIFO with priority 100: EINVAL", setsched(0, SCHED_FIFO, 100), EINVAL);
  CHECK_ERRNO("SCHED_OTHER with priority 1: EINVAL", setsched(0, SCHED_OTHER, 1), EINVAL);
  CHECK_ERRNO("policy 99: EINVAL", setsched(0, 99, 0), EINVAL);
  CHECK_ERRNO("SCHED_DEADLINE through sched_setscheduler: EINVAL", setsched(0, SCHED_DEADLINE, 0), EINVAL);
  CHECK_ERRNO("pid -1: EINVAL", setsched(-1, SCHED_OTHER, 0), EINVAL);
  CHECK_ERRNO("no parameters: EINVAL", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, NULL), EINVAL);
  CHECK_ERRNO("bad parameter pointer: EFAULT", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, (void*)8), EFAULT);
  CHECK_ERRNO("no such process: ESRCH", setsched(999999, SCHED_OTHER, 0), ESRCH);
  CHECK_ERRNO("sched_getscheduler(-1): EINVAL", getsched(-1), EINVAL);
  CHECK_ERRNO("sched_getscheduler of no process: ESRCH", getsched(999999), ESRCH);
  CHECK_ERRNO("sched_getparam into a bad pointer: EFAULT", syscall(SYS_sched_getparam, 0, (void*)8), EFAULT);
  CHECK_ERRNO("sched_rr_get_interval(-1): EINVAL", sched_rr_get_interval(-1, &ts), EINVAL);
  CHECK_ERRNO("sched_rr_get_interval into a bad pointer: EFAULT", syscall(SYS_sched_rr_get_interval, 0, (void*)8),
              EFAULT);

  /* sched_setattr / sched_getattr. */
  struct sched_attr a = {0};
  a.size = sizeof a;
  a.policy = SCHED_OTHER;
  a.nice = 5;
  CHECK("sched_setattr: SCHED_OTHER, nice 5", sched_setattr(0, &a, 0) == 0);
  CHECK("the nice value is getpriority's", getpriority(PRIO_PROCESS, 0) == 5);
  struct sched_attr g;
  memset(&g, 0xff, sizeof g);
  CHECK("sched_getattr", sched_getattr(0, &g, sizeof g, 0) == 0);
  CHECK("size 56, SCHED_OTHER, nice 5, priority 0",
        g.size == 56 && g.policy == SCHED_OTHER && g.nice == 5 && g.priority == 0 && g.flags == 0);
  memset(&g, 0xff, sizeof g);
  CHECK("sched_getattr with the first version's size (48)",
        sched_getattr(0, &g, 48, 0) == 0 && g.size == 48 && g.util_min == 0xffffffffu);
  a.nice = 0;
  CHECK("back to nice 0", sched_setattr(0, &a, 0) == 0 && getpriority(PRIO_PROCESS, 0) == 0);
  a.policy = SCHED_FIFO;
  a.priority = 20;
  CHECK("sched_setattr: SCHED_FIFO 20", sched_setattr(0, &a, 0) == 0 && getsched(0) == SCHED_FIFO && getprio(0) == 20);
  CHECK("getattr: priority 20", sched_getattr(0, &g, sizeof g, 0) == 0 && g.policy == SCHED_FIFO && g.priority == 20);
  a.policy = SCHED_OTHER;
  a.priority = 0;
  sched_setattr(0, &a, 0);
  CHECK_ERRNO("sched_setattr: flags argument: EINVAL", sched_setattr(0, &a, 1), EINVAL);
  a.flags = 0x100;
  CHECK_ERRNO("sched_setattr: unknown sched_flags: EINVAL", sched_setattr(0, &a, 0), EINVAL);
  a.flags = 0;
  a.size = 8;
  CHECK_ERRNO("sched_setattr: size 8: E2BIG", sched_setattr(0, &a, 0), E2BIG);
  CHECK("and the size the kernel knows is written back", a.size == 56);
  char big[128];
  memset(big, 0, sizeof big);
  memcpy(big, &a, sizeof a);
  ((struct sched_attr*)big)->size = sizeof big;
  CHECK("a bigger structure with a zero tail is accepted", sched_setattr(0, (struct sched_attr*)big, 0) == 0);
  big[100] = 1;
  CHECK_ERRNO("with a non-zero tail: E2BIG", sched_setattr(0, (struct sched_attr*)big, 0), E2BIG);
  a.size = sizeof a;
  a.policy = SCHED_DEADLINE;
  a.runtime = 20000000;
  a.deadline = 10000000;
  a.period = 30000000;
  CHECK_ERRNO("SCHED_DEADLINE with runtime > deadline: EINVAL", sched_setattr(0, &a, 0), EINVAL);
  a.policy = SCHED_OTHER;
  CHECK_ERRNO("sched_getattr: size 40: EINVAL", sched_getattr(0, &g, 40, 0), EINVAL);
  CHECK_ERRNO("sched_getattr: flags: EINVAL", sched_getattr(0, &g, sizeof g, 1), EINVAL);
  CHECK_ERRNO("sched_getattr: no process: ESRCH", sched_getattr(999999, &g, sizeof g, 0), ESRCH);
  CHECK_ERRNO("sched_getattr: bad pointer: EFAULT", sched_getattr(0, (void*)8, sizeof g, 0), EFAULT);

  /* getcpu. */
  unsigned cpu = 999, node = 999;
  CHECK("getcpu", syscall(SYS_getcpu, &cpu, &node, NULL) == 0);
  CHECK("a CPU this process may run on, node 0", cpu < (unsigned)sysconf(_SC_NPROCESSORS_CONF) && node == 0);
  CHECK("getcpu with NULL pointers", syscall(SYS_getcpu, NULL, NULL, NULL) == 0);
  CHECK_ERRNO("getcpu into a bad pointer: EFAULT", syscall(SYS_getcpu, (void*)8, NULL, NULL), EFAULT);

  /* I/O priorities. */
  CHECK("ioprio_get: none set", syscall(SYS_ioprio_get, 1, 0) == 0);
  CHECK("ioprio_set: best effort, level 3", syscall(SYS_ioprio_set, 1, 0, (2 << 13) | 3) == 0);
  CHECK("reads back", syscall(SYS_ioprio_get, 1, getpid()) == ((2 << 13) | 3));
  CHECK("fork inherits it", child_status(child_ioprio) == 0);
  CHECK("a process group's best: none counts as best effort 4", child_status(child_pgrp_best) == 0);
  CHECK("real-time class as root",
        syscall(SYS_ioprio_set, 1, 0, (1 << 13) | 0) == 0 && syscall(SYS_ioprio_get, 1, 0) == (1 << 13));
  CHECK("idle class", syscall(SYS_ioprio_set, 1, 0, (3 << 13)) == 0);
  CHECK_ERRNO("class 4: EINVAL", syscall(SYS_ioprio_set, 1, 0, 4 << 13), EINVAL);
  CHECK_ERRNO("class none with a level: EINVAL", syscall(SYS_ioprio_set, 1, 0, 1), EINVAL);
  CHECK_ERRNO("which 9: EINVAL", syscall(SYS_ioprio_get, 9, 0), EINVAL);
  CHECK_ERRNO("no such process: ESRCH", syscall(SYS_ioprio_get, 1, 999999), ESRCH);
  syscall(SYS_ioprio_set, 1, 0, 0);

  /* get_robust_list. */
  uint64_t head[3] = {0, 0, 0};
  void* got = NULL;
  size_t len = 0;
  syscall(SYS_set_robust_list, head, 24);
  CHECK("get_robust_list: what set_robust_list set",
        syscall(SYS_get_robust_list, 0, &got, &len) == 0 && got == head && len == 24);
  CHECK_ERRNO("set_robust_list: size 23: EINVAL", syscall(SYS_set_robust_list, head, 23), EINVAL);
  CHECK_ERRNO("get_robust_list: no such thread: ESRCH", syscall(SYS_get_robust_list, 999999, &got, &len), ESRCH);
  CHECK_ERRNO("get_robust_list: bad pointer: EFAULT", syscall(SYS_get_robust_list, 0, (void*)8, &len), EFAULT);
  return ABI_DONE();
}
