/* System calls of several small families: epoll_pwait2, mlock/mlock2/mlockall, NUMA policies
 * (set_mempolicy, get_mempolicy, mbind, migrate_pages on one node), host and domain names in a
 * new UTS namespace (unshare, sethostname, setdomainname, uname, /proc/sys/kernel), reboot's
 * refusals, kcmp, process_vm_readv/writev and restart_syscall; with the errno of every
 * documented failure. Run natively (as root, on a machine with one NUMA node) and under the
 * kernel: the outputs must match. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>

#include "abi_check.h"

#define MPOL_DEFAULT 0
#define MPOL_PREFERRED 1
#define MPOL_BIND 2
#define MPOL_INTERLEAVE 3
#define MPOL_LOCAL 4
#define MPOL_F_NODE 1
#define MPOL_F_ADDR 2
#define MPOL_F_MEMS_ALLOWED 4
#define MPOL_F_STATIC_NODES (1 << 15)
#define MPOL_F_RELATIVE_NODES (1 << 14)
#define KCMP_FILE 0
#define KCMP_VM 1
#define KCMP_FILES 2

static long set_mempolicy(int mode, unsigned long* nodes, unsigned long maxnode) {
  return syscall(SYS_set_mempolicy, mode, nodes, maxnode);
}
static long get_mempolicy(int* mode, unsigned long* nodes, unsigned long maxnode, void* addr, unsigned flags) {
  return syscall(SYS_get_mempolicy, mode, nodes, maxnode, addr, flags);
}
static long kcmp(pid_t a, pid_t b, int type, unsigned long x, unsigned long y) {
  return syscall(SYS_kcmp, a, b, type, x, y);
}

static char before[65];

/* In a new UTS namespace: names change there only. Never sets a name without it. */
static int uts_child(void) {
  if (unshare(CLONE_NEWUTS) != 0) return 1;
  if (sethostname("abi-uts-host", 12) != 0) return 2;
  if (setdomainname("abi.example", 11) != 0) return 3;
  struct utsname u;
  uname(&u);
  if (strcmp(u.nodename, "abi-uts-host") != 0 || strcmp(u.domainname, "abi.example") != 0) return 4;
  char buf[80] = {0};
  int fd = open("/proc/sys/kernel/hostname", O_RDONLY);
  if (fd < 0 || read(fd, buf, sizeof buf - 1) <= 0 || strcmp(buf, "abi-uts-host\n") != 0) return 5;
  close(fd);
  /* A forked child shares the namespace. */
  pid_t pid = fork();
  if (pid == 0) {
    struct utsname v;
    uname(&v);
    _exit(strcmp(v.nodename, "abi-uts-host") == 0 ? 0 : 1);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return 6;
  errno = 0;
  if (sethostname("x", 65) != -1 || errno != EINVAL) return 7;
  errno = 0;
  if (sethostname((char*)8, 4) != -1 || errno != EFAULT) return 8;
  return 0;
}

static int unprivileged(void) {
  if (setuid(65534) != 0) return 1;
  errno = 0;
  if (sethostname("x", 1) != -1 || errno != EPERM) return 2;
  errno = 0;
  if (unshare(CLONE_NEWUTS) != -1 || errno != EPERM) return 3;
  errno = 0;
  if (syscall(SYS_reboot, 0xfee1dead, 672274793, 0x4321FEDC, 0) != -1 || errno != EPERM) return 4;
  /* kcmp and process_vm_readv of a root process: EPERM. */
  errno = 0;
  if (kcmp(getpid(), 1, KCMP_VM, 0, 0) != -1 || errno != EPERM) return 5;
  return 0;
}

static int unshare_files(void) {
  int fd = open("/proc/self/stat", O_RDONLY);
  pid_t pid = getpid();
  /* CLONE_FILES shared with a thread-like child would be needed to see a difference: here the
   * table is not shared, and unshare(CLONE_FILES|CLONE_FS|CLONE_SYSVSEM) keeps the descriptors. */
  if (unshare(CLONE_FILES | CLONE_FS | CLONE_SYSVSEM) != 0) return 1;
  if (fcntl(fd, F_GETFD) < 0) return 2;
  if (kcmp(pid, pid, KCMP_FILES, 0, 0) != 0) return 3;
  return 0;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (getuid() != 0) {
    printf("sysmisc: needs root\n");
    return 0;
  }
  /* epoll_pwait2. */
  int ep = epoll_create1(0);
  int p[2];
  pipe(p);
  struct epoll_event e = {EPOLLIN, {.u64 = 4}}, got;
  epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &e);
  struct timespec ts = {0, 20000000};
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  CHECK("epoll_pwait2: times out after 20 ms", syscall(SYS_epoll_pwait2, ep, &got, 1, &ts, NULL, 8) == 0);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  CHECK("not before", (t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec) >= 20000000);
  write(p[1], "x", 1);
  CHECK("epoll_pwait2 with no timeout: ready",
        syscall(SYS_epoll_pwait2, ep, &got, 1, NULL, NULL, 8) == 1 && got.data.u64 == 4);
  ts.tv_nsec = 1000000000;
  CHECK_ERRNO("epoll_pwait2: tv_nsec 1e9: EINVAL", syscall(SYS_epoll_pwait2, ep, &got, 1, &ts, NULL, 8), EINVAL);
  CHECK_ERRNO("epoll_pwait2: bad timeout pointer: EFAULT", syscall(SYS_epoll_pwait2, ep, &got, 1, (void*)8, NULL, 8),
              EFAULT);
  close(ep);

  /* Memory protection keys on a CPU without PKU, sysfs(2), ustat, fanotify_mark. */
  char* pk = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK("pkey_mprotect with key -1 is mprotect", syscall(SYS_pkey_mprotect, pk, 4096, PROT_READ, -1) == 0);
  CHECK_ERRNO("pkey_mprotect with key 1: EINVAL", syscall(SYS_pkey_mprotect, pk, 4096, PROT_READ, 1), EINVAL);
  CHECK_ERRNO("pkey_free of a key never allocated: EINVAL", syscall(SYS_pkey_free, 1), EINVAL);
  munmap(pk, 4096);
  long nfs = syscall(SYS_sysfs, 3);
  char fsname[64] = {0};
  CHECK("sysfs(3) counts file system types", nfs > 0);
  CHECK("sysfs(2, 0) names the first", syscall(SYS_sysfs, 2, 0, fsname) == 0 && fsname[0] != 0);
  CHECK("sysfs(1, that name) gives index 0", syscall(SYS_sysfs, 1, fsname) == 0);
  CHECK_ERRNO("sysfs(2) past the last: EINVAL", syscall(SYS_sysfs, 2, nfs, fsname), EINVAL);
  CHECK_ERRNO("sysfs(1) of an unknown type: EINVAL", syscall(SYS_sysfs, 1, "no-such-fs"), EINVAL);
  CHECK_ERRNO("sysfs(4): EINVAL", syscall(SYS_sysfs, 4), EINVAL);
  CHECK_ERRNO("ustat of no mounted device: EINVAL", syscall(SYS_ustat, 0xfffff, fsname), EINVAL);
  struct stat rootst;
  struct {
    int tfree;
    unsigned long tinode;
    char fname[6], fpack[6];
  } us;
  CHECK("ustat of the root file system's device",
        stat("/", &rootst) == 0 && syscall(SYS_ustat, (unsigned)rootst.st_dev, &us) == 0);
  CHECK_ERRNO("fanotify_mark without an operation: EINVAL", syscall(SYS_fanotify_mark, 0, 0, 1, AT_FDCWD, "/"), EINVAL);
  CHECK_ERRNO("fanotify_mark on a closed descriptor: EBADF", syscall(SYS_fanotify_mark, 999, 1, 1, AT_FDCWD, "/"),
              EBADF);
  CHECK_ERRNO("fanotify_mark on a pipe: EINVAL", syscall(SYS_fanotify_mark, p[0], 1, 1, AT_FDCWD, "/"), EINVAL);

  /* mlock family. */
  char* m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK("mlock of a mapping (unaligned start)", mlock(m + 10, 5000) == 0);
  CHECK("munlock", munlock(m, 3 * 4096) == 0);
  CHECK("mlock2(MLOCK_ONFAULT)", syscall(SYS_mlock2, m, 4096, 1) == 0);
  CHECK_ERRNO("mlock2: bad flags: EINVAL", syscall(SYS_mlock2, m, 4096, 2), EINVAL);
  munmap(m + 4096, 4096);
  CHECK_ERRNO("mlock over a hole: ENOMEM", mlock(m, 3 * 4096), ENOMEM);
  CHECK("mlock of nothing", mlock(m, 0) == 0);
  CHECK_ERRNO("mlockall(0): EINVAL", mlockall(0), EINVAL);
  CHECK_ERRNO("mlockall(MCL_ONFAULT) alone: EINVAL", mlockall(4), EINVAL);
  CHECK("mlockall(MCL_CURRENT) and munlockall", mlockall(MCL_CURRENT) == 0 && munlockall() == 0);

  /* NUMA policies on one node. */
  int mode = -1;
  unsigned long nodes = 99;
  CHECK("get_mempolicy: MPOL_DEFAULT, no nodes",
        get_mempolicy(&mode, &nodes, 64, NULL, 0) == 0 && mode == MPOL_DEFAULT && nodes == 0);
  nodes = 1;
  CHECK("set_mempolicy(MPOL_BIND, {0})", set_mempolicy(MPOL_BIND, &nodes, 64) == 0);
  nodes = 0;
  CHECK("reads back", get_mempolicy(&mode, &nodes, 64, NULL, 0) == 0 && mode == MPOL_BIND && nodes == 1);
  CHECK("MPOL_F_MEMS_ALLOWED: node 0", get_mempolicy(&mode, &nodes, 64, NULL, MPOL_F_MEMS_ALLOWED) == 0 && nodes == 1);
  nodes = 1;
  set_mempolicy(MPOL_INTERLEAVE, &nodes, 64);
  CHECK("MPOL_F_NODE of an interleaving policy: node 0",
        get_mempolicy(&mode, NULL, 0, NULL, MPOL_F_NODE) == 0 && mode == 0);
  CHECK("MPOL_PREFERRED with no nodes is MPOL_LOCAL", set_mempolicy(MPOL_PREFERRED, NULL, 0) == 0 &&
                                                          get_mempolicy(&mode, NULL, 0, NULL, 0) == 0 &&
                                                          mode == MPOL_LOCAL);
  CHECK_ERRNO("MPOL_F_NODE otherwise: EINVAL", get_mempolicy(&mode, NULL, 0, NULL, MPOL_F_NODE), EINVAL);
  nodes = 2;
  CHECK_ERRNO("MPOL_BIND to node 1 only: EINVAL", set_mempolicy(MPOL_BIND, &nodes, 64), EINVAL);
  CHECK_ERRNO("MPOL_BIND with no nodes: EINVAL", set_mempolicy(MPOL_BIND, NULL, 0), EINVAL);
  nodes = 1;
  CHECK_ERRNO("MPOL_DEFAULT with nodes: EINVAL", set_mempolicy(MPOL_DEFAULT, &nodes, 64), EINVAL);
  CHECK_ERRNO("MPOL_LOCAL with nodes: EINVAL", set_mempolicy(MPOL_LOCAL, &nodes, 64), EINVAL);
  CHECK_ERRNO("mode 77: EINVAL", set_mempolicy(77, NULL, 0), EINVAL);
  CHECK_ERRNO("static and relative nodes: EINVAL",
              set_mempolicy(MPOL_BIND | MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES, &nodes, 64), EINVAL);
  CHECK_ERRNO("a bad node mask: EFAULT", set_mempolicy(MPOL_BIND, (unsigned long*)8, 64), EFAULT);
  CHECK("back to MPOL_DEFAULT", set_mempolicy(MPOL_DEFAULT, NULL, 0) == 0);
  CHECK_ERRNO("get_mempolicy: bad flags: EINVAL", get_mempolicy(&mode, NULL, 0, NULL, 8), EINVAL);
  char* area = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK("mbind(MPOL_BIND, {0}) of a range", syscall(SYS_mbind, area + 4096, 2 * 4096, MPOL_BIND, &nodes, 64, 0) == 0);
  CHECK("MPOL_F_ADDR inside it: MPOL_BIND",
        get_mempolicy(&mode, &nodes, 64, area + 4096, MPOL_F_ADDR) == 0 && mode == MPOL_BIND && nodes == 1);
  CHECK("MPOL_F_ADDR outside it: MPOL_DEFAULT",
        get_mempolicy(&mode, NULL, 0, area, MPOL_F_ADDR) == 0 && mode == MPOL_DEFAULT);
  area[3 * 4096] = 1;
  CHECK("MPOL_F_NODE|MPOL_F_ADDR: node 0",
        get_mempolicy(&mode, NULL, 0, area + 3 * 4096, MPOL_F_NODE | MPOL_F_ADDR) == 0 && mode == 0);
  CHECK_ERRNO("mbind: unaligned: EINVAL", syscall(SYS_mbind, area + 1, 4096, MPOL_BIND, &nodes, 64, 0), EINVAL);
  CHECK_ERRNO("mbind: bad flags: EINVAL", syscall(SYS_mbind, area, 4096, MPOL_BIND, &nodes, 64, 8), EINVAL);
  munmap(area + 2 * 4096, 4096);
  CHECK_ERRNO("mbind over a hole: EFAULT", syscall(SYS_mbind, area, 4 * 4096, MPOL_BIND, &nodes, 64, 0), EFAULT);
  CHECK_ERRNO("get_mempolicy(MPOL_F_ADDR) of a hole: EFAULT",
              get_mempolicy(&mode, NULL, 0, area + 2 * 4096, MPOL_F_ADDR), EFAULT);
  unsigned long from = 1, to = 1;
  CHECK("migrate_pages: nothing left behind", syscall(SYS_migrate_pages, 0, 64, &from, &to) == 0);
  CHECK_ERRNO("migrate_pages: no such process: ESRCH", syscall(SYS_migrate_pages, 999999, 64, &from, &to), ESRCH);

  /* UTS namespace and names. */
  struct utsname u;
  uname(&u);
  strcpy(before, u.nodename);
  CHECK("unshare(CLONE_NEWUTS), sethostname, setdomainname in a child", child_status(uts_child) == 0);
  uname(&u);
  CHECK("the parent's names are unchanged", strcmp(u.nodename, before) == 0);
  CHECK("unprivileged: EPERM for sethostname, unshare, reboot, kcmp", child_status(unprivileged) == 0);
  CHECK("unshare(CLONE_FILES|CLONE_FS|CLONE_SYSVSEM)", child_status(unshare_files) == 0);
  CHECK_ERRNO("unshare: unknown flags: EINVAL", unshare(0x100000), EINVAL);

  /* reboot's refusals (never a real command here: natively it would act). */
  CHECK_ERRNO("reboot: bad magic: EINVAL", syscall(SYS_reboot, 1, 2, 0, 0), EINVAL);
  CHECK_ERRNO("reboot: good magic, unknown command: EINVAL", syscall(SYS_reboot, 0xfee1dead, 672274793, 0x11, 0),
              EINVAL);

  /* kcmp. */
  pid_t me = getpid();
  int fd2 = dup(p[0]);
  CHECK("kcmp: a descriptor and its dup are one file", kcmp(me, me, KCMP_FILE, p[0], fd2) == 0);
  long k = kcmp(me, me, KCMP_FILE, p[0], p[1]);
  CHECK("two pipe ends are not", k == 1 || k == 2);
  CHECK("and the order is consistent", kcmp(me, me, KCMP_FILE, p[1], p[0]) == 3 - k);
  fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  k = kcmp(me, child, KCMP_VM, 0, 0);
  CHECK("a forked child has another address space", k == 1 || k == 2);
  CHECK("the same descriptor table? no", kcmp(me, child, KCMP_FILES, 0, 0) != 0);
  CHECK("but the same open files", kcmp(me, child, KCMP_FILE, p[0], p[0]) == 0);
  CHECK_ERRNO("kcmp: bad type: EINVAL", kcmp(me, me, 99, 0, 0), EINVAL);
  CHECK_ERRNO("kcmp: closed descriptor: EBADF", kcmp(me, me, KCMP_FILE, 999, 0), EBADF);
  CHECK_ERRNO("kcmp: no such process: ESRCH", kcmp(me, 999999, KCMP_VM, 0, 0), ESRCH);

  /* process_vm_readv/writev with the child (a copy of this memory). */
  static char shared_text[32] = "remote memory!";
  char local[32] = {0};
  struct iovec lv[2] = {{local, 6}, {local + 6, 8}}, rv = {shared_text, 14};
  CHECK("process_vm_readv from the child into two vectors",
        syscall(SYS_process_vm_readv, child, lv, 2, &rv, 1, 0) == 14 && strcmp(local, "remote memory!") == 0);
  struct iovec wv = {"CHANGED", 7}, rw = {shared_text, 7};
  CHECK("process_vm_writev into the child", syscall(SYS_process_vm_writev, child, &wv, 1, &rw, 1, 0) == 7);
  memset(local, 0, sizeof local);
  CHECK("reads back changed, ours unchanged", syscall(SYS_process_vm_readv, child, lv, 2, &rv, 1, 0) == 14 &&
                                                  strncmp(local, "CHANGED", 7) == 0 &&
                                                  strcmp(shared_text, "remote memory!") == 0);
  struct iovec bad[2] = {{shared_text, 4}, {(void*)8, 4}};
  CHECK("a remote fault after some bytes: a short count", syscall(SYS_process_vm_readv, child, lv, 1, bad, 2, 0) == 4);
  struct iovec only_bad = {(void*)8, 4};
  CHECK_ERRNO("a remote fault first: EFAULT", syscall(SYS_process_vm_readv, child, lv, 1, &only_bad, 1, 0), EFAULT);
  CHECK_ERRNO("flags: EINVAL", syscall(SYS_process_vm_readv, child, lv, 1, &rv, 1, 1), EINVAL);
  CHECK_ERRNO("no such process: ESRCH", syscall(SYS_process_vm_readv, 999999, lv, 1, &rv, 1, 0), ESRCH);
  CHECK_ERRNO("bad local vector array: EFAULT", syscall(SYS_process_vm_readv, child, (void*)8, 1, &rv, 1, 0), EFAULT);
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);

  /* restart_syscall with nothing to restart. */
  CHECK_ERRNO("restart_syscall: EINTR", syscall(SYS_restart_syscall), EINTR);
  return ABI_DONE();
}
