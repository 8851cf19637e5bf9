/* Namespace files and setns(2): the "TYPE:[INODE]" form of the /proc/self/ns/{uts,mnt,ipc,net,
 * pid,user,cgroup} links (the number is the st_ino of the followed link; never printed); one
 * inode for a forked child and for the link followed by stat or opened and fstat-ed; a child's
 * uts link changing after unshare(CLONE_NEWUTS), the others not; an open ns file (fstat type and
 * mode, read, lseek); setns by a ns file (nstype CLONE_NEWUTS and 0) and by a pidfd (Linux 5.8+)
 * back into the parent's uts namespace after unshare and sethostname, and into another process's;
 * setns into the own mount namespace after chroot (real root and cwd "/" again), refused while a
 * CLONE_FS child or a thread shares the fs; setns into the own ipc, net, cgroup and pid
 * namespaces; the errno of every failure: bad and O_PATH fds, a regular file, a mismatched or
 * unknown nstype, a pidfd with nstype 0 or unknown bits, a pidfd of a reaped process, the own user
 * namespace, non-root (uid 65534). Only the uts namespace is ever created. Run natively (as root)
 * and under the kernel: the outputs must match. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include "abi_check.h"

#define NR_SETNS 308
#define NR_PIDFD_OPEN 434

static const char* const types[] = {"uts", "mnt", "ipc", "net", "pid", "user", "cgroup"};
#define NTYPES 7

static long setns_(int fd, int nstype) { return syscall(NR_SETNS, fd, nstype); }
static int pidfd_open_(pid_t pid) { return (int)syscall(NR_PIDFD_OPEN, pid, 0); }

/* The link's target is "type:[digits]"; *ino gets the number. */
static int link_form(const char* path, const char* type, unsigned long long* ino) {
  char buf[128];
  ssize_t n = readlink(path, buf, sizeof buf - 1);
  if (n <= 0) return 0;
  buf[n] = 0;
  size_t tl = strlen(type);
  if (strncmp(buf, type, tl) != 0 || buf[tl] != ':' || buf[tl + 1] != '[') return 0;
  char* p = buf + tl + 2;
  if (*p < '0' || *p > '9') return 0;
  unsigned long long v = 0;
  while (*p >= '0' && *p <= '9') v = v * 10 + (unsigned)(*p++ - '0');
  if (p[0] != ']' || p[1] != 0) return 0;
  if (ino) *ino = v;
  return 1;
}

/* Do /proc/<a>/ns/<type> and /proc/<b>/ns/<type> name one inode (stat of the followed link)? */
static int same_ns(pid_t a, pid_t b, const char* type) {
  char pa[64], pb[64];
  struct stat sa, sb;
  snprintf(pa, sizeof pa, "/proc/%d/ns/%s", (int)a, type);
  snprintf(pb, sizeof pb, "/proc/%d/ns/%s", (int)b, type);
  if (stat(pa, &sa) != 0 || stat(pb, &sb) != 0) return -1;
  return sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

static char parent_host[65];
static pid_t parent_pid, a_pid;
static int parent_uts_fd = -1;
static char marker[128], chroot_dir[128];

static int nodename_is(const char* want) {
  struct utsname u;
  return uname(&u) == 0 && strcmp(u.nodename, want) == 0;
}

/* A child in its own uts namespace with another hostname. */
static int own_uts(const char* name) {
  if (unshare(CLONE_NEWUTS) != 0) return 0;
  if (sethostname(name, strlen(name)) != 0) return 0;
  return nodename_is(name) && same_ns(getpid(), parent_pid, "uts") == 0;
}

/* setns(fd opened before fork, CLONE_NEWUTS) back into the parent's namespace. */
static int back_typed(void) {
  if (!own_uts("abi-nsfs-c")) return 1;
  if (setns_(parent_uts_fd, CLONE_NEWUTS) != 0) return 2;
  if (!nodename_is(parent_host)) return 3;
  if (same_ns(getpid(), parent_pid, "uts") != 1) return 4;
  return 0;
}

/* setns(open("/proc/<parent>/ns/uts"), 0). */
static int back_any(void) {
  if (!own_uts("abi-nsfs-c")) return 1;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/ns/uts", (int)getppid());
  int fd = open(path, O_RDONLY);
  if (fd < 0) return 2;
  if (setns_(fd, 0) != 0) return 3;
  if (!nodename_is(parent_host)) return 4;
  if (same_ns(getpid(), parent_pid, "uts") != 1) return 5;
  return 0;
}

/* setns(pidfd of the parent, CLONE_NEWUTS). */
static int back_pidfd(void) {
  if (!own_uts("abi-nsfs-c")) return 1;
  int pfd = pidfd_open_(getppid());
  if (pfd < 0) return 2;
  if (setns_(pfd, CLONE_NEWUTS) != 0) return 3;
  if (!nodename_is(parent_host)) return 4;
  if (same_ns(getpid(), parent_pid, "uts") != 1) return 5;
  return 0;
}

/* setns(pidfd of child A, CLONE_NEWUTS): A's namespace and hostname; the others unchanged. */
static int join_a_pidfd(void) {
  int pfd = pidfd_open_(a_pid);
  if (pfd < 0) return 1;
  if (setns_(pfd, CLONE_NEWUTS) != 0) return 2;
  if (!nodename_is("abi-nsfs-a")) return 3;
  if (same_ns(getpid(), a_pid, "uts") != 1) return 4;
  if (same_ns(getpid(), parent_pid, "uts") != 0) return 5;
  return 0;
}

/* setns(open("/proc/A/ns/uts"), CLONE_NEWUTS). */
static int join_a_file(void) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/ns/uts", (int)a_pid);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return 1;
  if (setns_(fd, CLONE_NEWUTS) != 0) return 2;
  if (!nodename_is("abi-nsfs-a")) return 3;
  return 0;
}

/* Non-root: the own uts namespace (EPERM), the parent by pidfd (EPERM), the own user namespace
 * (EINVAL: that check comes before the capability check), a bad fd (EBADF). */
static int unprivileged(void) {
  int uts = open("/proc/self/ns/uts", O_RDONLY);
  int user = open("/proc/self/ns/user", O_RDONLY);
  int pfd = pidfd_open_(getppid());
  if (uts < 0 || user < 0 || pfd < 0) return 1;
  if (setuid(65534) != 0) return 2;
  errno = 0;
  if (setns_(uts, CLONE_NEWUTS) != -1 || errno != EPERM) return 3;
  errno = 0;
  if (setns_(uts, 0) != -1 || errno != EPERM) return 4;
  errno = 0;
  if (setns_(pfd, CLONE_NEWUTS) != -1 || errno != EPERM) return 5;
  errno = 0;
  if (setns_(user, CLONE_NEWUSER) != -1 || errno != EINVAL) return 6;
  errno = 0;
  if (setns_(999, CLONE_NEWUTS) != -1 || errno != EBADF) return 7;
  return 0;
}

/* chroot into a directory, cwd a subdirectory of it; then setns into the own mount namespace:
 * root and cwd are that namespace's root again. */
static int mnt_after_chroot(void) {
  int mnt = open("/proc/self/ns/mnt", O_RDONLY);
  if (mnt < 0) return 1;
  if (chdir(chroot_dir) != 0 || chroot(".") != 0 || chdir("/d") != 0) return 2;
  char cwd[256];
  if (getcwd(cwd, sizeof cwd) == NULL || strcmp(cwd, "/d") != 0) return 3;
  if (access(marker, F_OK) == 0) return 4; /* not visible inside */
  if (setns_(mnt, CLONE_NEWNS) != 0) return 5;
  if (access(marker, F_OK) != 0) return 6;
  if (getcwd(cwd, sizeof cwd) == NULL || strcmp(cwd, "/") != 0) return 7;
  if (access(marker + 1, F_OK) != 0) return 8; /* relative to the new cwd */
  return 0;
}

/* While a CLONE_FS child shares the fs: EINVAL; 0 once it has gone. */
static int mnt_clone_fs(void) {
  int mnt = open("/proc/self/ns/mnt", O_RDONLY);
  int p[2];
  if (mnt < 0 || pipe(p) != 0) return 1;
  long pid = syscall(SYS_clone, CLONE_FS | SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) return 2;
  if (pid == 0) {
    char c;
    close(p[1]);
    read(p[0], &c, 1);
    _exit(0);
  }
  close(p[0]);
  errno = 0;
  long r = setns_(mnt, CLONE_NEWNS);
  int e = errno;
  close(p[1]);
  waitpid(pid, NULL, 0);
  if (r != -1 || e != EINVAL) return 3;
  /* The joined thread may still hold the fs for a moment: Linux wakes pthread_join (the
   * clear-tid futex, in exit_mm) before the thread lets go of its fs (exit_fs). */
  for (int i = 0; i < 100; ++i) {
    if (setns_(mnt, CLONE_NEWNS) == 0) return 0;
    sleep_ms(10);
  }
  return 4;
}

static void* waiter(void* arg) {
  char c;
  read(*(int*)arg, &c, 1);
  return NULL;
}

/* While a thread runs: EINVAL (threads share the fs); 0 after it has been joined. */
static int mnt_thread(void) {
  int mnt = open("/proc/self/ns/mnt", O_RDONLY);
  int p[2];
  if (mnt < 0 || pipe(p) != 0) return 1;
  pthread_t t;
  if (pthread_create(&t, NULL, waiter, &p[0]) != 0) return 2;
  errno = 0;
  long r = setns_(mnt, CLONE_NEWNS);
  int e = errno;
  write(p[1], "x", 1);
  pthread_join(t, NULL);
  if (r != -1 || e != EINVAL) return 3;
  /* The joined thread may still hold the fs for a moment: Linux wakes pthread_join (the
   * clear-tid futex, in exit_mm) before the thread lets go of its fs (exit_fs). */
  for (int i = 0; i < 100; ++i) {
    if (setns_(mnt, CLONE_NEWNS) == 0) return 0;
    sleep_ms(10);
  }
  return 4;
}

/* setns(open(/proc/self/ns/<type>), nstype) in a child: 0, or the errno. */
static const char* own_type;
static int own_nstype;
static int own_setns(void) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/ns/%s", own_type);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return 200;
  errno = 0;
  return setns_(fd, own_nstype) == 0 ? 0 : errno;
}
static int setns_own(const char* type, int nstype) {
  own_type = type;
  own_nstype = nstype;
  return child_status(own_setns);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (getuid() != 0) {
    printf("nsfs: needs root\n");
    return 0;
  }
  parent_pid = getpid();
  struct utsname u;
  uname(&u);
  strcpy(parent_host, u.nodename);

  /* The links. */
  int all_inos = 1;
  for (int i = 0; i < NTYPES; i++) {
    char path[64], name[96];
    unsigned long long ino = 0;
    struct stat st;
    snprintf(path, sizeof path, "/proc/self/ns/%s", types[i]);
    snprintf(name, sizeof name, "readlink /proc/self/ns/%s: \"%s:[digits]\"", types[i], types[i]);
    CHECK(name, link_form(path, types[i], &ino));
    if (stat(path, &st) != 0 || st.st_ino != ino) all_inos = 0;
  }
  CHECK("each link's number is the st_ino of the followed link", all_inos);
  CHECK_ERRNO("readlink /proc/self/ns/nosuch: ENOENT", readlink("/proc/self/ns/nosuch", (char[8]){0}, 8), ENOENT);

  /* An open ns file. */
  int uts = open("/proc/self/ns/uts", O_RDONLY);
  struct stat ls, fs;
  CHECK("open /proc/self/ns/uts", uts >= 0);
  CHECK("stat of the link and fstat of the open fd: one inode", stat("/proc/self/ns/uts", &ls) == 0 &&
                                                                    fstat(uts, &fs) == 0 && ls.st_ino == fs.st_ino &&
                                                                    ls.st_dev == fs.st_dev);
  CHECK("fstat of a ns fd: S_IFREG", S_ISREG(fs.st_mode));
  CHECK("mode 0444", (fs.st_mode & 07777) == 0444);
  CHECK("size 0, one link", fs.st_size == 0 && fs.st_nlink == 1);
  struct stat lst;
  CHECK("lstat of the link: a symlink", lstat("/proc/self/ns/uts", &lst) == 0 && S_ISLNK(lst.st_mode));
  char rb[16];
  CHECK_ERRNO("read of a ns fd: EINVAL", read(uts, rb, sizeof rb), EINVAL);
  CHECK_ERRNO("lseek of a ns fd: ESPIPE", lseek(uts, 0, SEEK_SET), ESPIPE);
  int uts2 = open("/proc/self/ns/uts", O_RDONLY);
  struct stat fs2;
  CHECK("a second open: the same inode", uts2 >= 0 && fstat(uts2, &fs2) == 0 && fs2.st_ino == fs.st_ino);
  close(uts2);

  /* A forked child: the same namespaces; after unshare(CLONE_NEWUTS) only uts differs. */
  int go[2], ready[2];
  pipe(go);
  pipe(ready);
  fflush(stdout);
  a_pid = fork();
  if (a_pid == 0) {
    char c;
    close(go[1]);
    close(ready[0]);
    if (read(go[0], &c, 1) != 1) _exit(1);
    c = own_uts("abi-nsfs-a") ? 'y' : 'n';
    write(ready[1], &c, 1);
    read(go[0], &c, 1); /* until the parent closes */
    _exit(0);
  }
  close(go[0]);
  close(ready[1]);
  char cpath[64];
  snprintf(cpath, sizeof cpath, "/proc/%d/ns/uts", (int)a_pid);
  int cfd = open(cpath, O_RDONLY);
  struct stat cs, cfs;
  CHECK("a forked child's uts link: the same inode (stat and fstat)",
        cfd >= 0 && stat(cpath, &cs) == 0 && fstat(cfd, &cfs) == 0 && cs.st_ino == fs.st_ino &&
            cs.st_dev == fs.st_dev && cfs.st_ino == fs.st_ino && cfs.st_dev == fs.st_dev);
  int all_same = 1;
  for (int i = 0; i < NTYPES; i++) all_same &= same_ns(a_pid, parent_pid, types[i]) == 1;
  CHECK("all seven of its namespaces are the parent's", all_same);
  char c = 0;
  write(go[1], "g", 1);
  CHECK("the child: unshare(CLONE_NEWUTS) and sethostname", read(ready[0], &c, 1) == 1 && c == 'y');
  CHECK("now its uts link differs", same_ns(a_pid, parent_pid, "uts") == 0);
  int others = 1;
  for (int i = 1; i < NTYPES; i++) others &= same_ns(a_pid, parent_pid, types[i]) == 1;
  CHECK("the other six stay equal", others);
  CHECK("an fd opened before the unshare still names the old namespace",
        fstat(cfd, &cfs) == 0 && cfs.st_ino == fs.st_ino);
  close(cfd);
  CHECK("the parent's hostname is unchanged", nodename_is(parent_host));

  /* setns back into the parent's namespace, and into A's. */
  parent_uts_fd = uts;
  CHECK("setns(parent's uts fd, CLONE_NEWUTS) after unshare: the parent's hostname again",
        child_status(back_typed) == 0);
  CHECK("setns(open(/proc/PPID/ns/uts), 0): the same", child_status(back_any) == 0);
  CHECK("setns(pidfd of the parent, CLONE_NEWUTS): the same", child_status(back_pidfd) == 0);
  CHECK("setns(pidfd of another process, CLONE_NEWUTS): its namespace and hostname", child_status(join_a_pidfd) == 0);
  CHECK("setns(open(/proc/PID/ns/uts), CLONE_NEWUTS): its hostname", child_status(join_a_file) == 0);
  int apfd = pidfd_open_(a_pid);
  CHECK_ERRNO("setns(pidfd, 0): EINVAL", setns_(apfd, 0), EINVAL);
  CHECK_ERRNO("setns(pidfd, CLONE_NEWUTS|an unknown bit): EINVAL", setns_(apfd, CLONE_NEWUTS | 1), EINVAL);
  CHECK_ERRNO("setns(pidfd, CLONE_VM): EINVAL", setns_(apfd, CLONE_VM), EINVAL);
  CHECK("the parent's hostname is still unchanged", nodename_is(parent_host));
  close(go[1]);
  waitpid(a_pid, NULL, 0);
  CHECK_ERRNO("setns(pidfd of a reaped process, CLONE_NEWUTS): ESRCH", setns_(apfd, CLONE_NEWUTS), ESRCH);
  close(apfd);

  /* Errors. */
  CHECK_ERRNO("setns(999, CLONE_NEWUTS): EBADF", setns_(999, CLONE_NEWUTS), EBADF);
  CHECK_ERRNO("setns(-1, 0): EBADF", setns_(-1, 0), EBADF);
  snprintf(chroot_dir, sizeof chroot_dir, "/tmp/abi-nsfs-%d", (int)parent_pid);
  snprintf(marker, sizeof marker, "/tmp/abi-nsfs-%d.marker", (int)parent_pid);
  char subdir[160];
  snprintf(subdir, sizeof subdir, "%s/d", chroot_dir);
  mkdir(chroot_dir, 0755);
  mkdir(subdir, 0755);
  int reg = open(marker, O_RDWR | O_CREAT | O_TRUNC, 0644);
  CHECK_ERRNO("setns(a regular file, 0): EINVAL", setns_(reg, 0), EINVAL);
  CHECK_ERRNO("setns(a regular file, CLONE_NEWUTS): EINVAL", setns_(reg, CLONE_NEWUTS), EINVAL);
  close(reg);
  int selfdir = open("/proc/self/ns", O_RDONLY | O_DIRECTORY);
  CHECK_ERRNO("setns(the /proc/self/ns directory, 0): EINVAL", setns_(selfdir, 0), EINVAL);
  close(selfdir);
  int opath = open("/proc/self/ns/uts", O_PATH);
  CHECK_ERRNO("setns(an O_PATH fd of a ns file, 0): EBADF", setns_(opath, 0), EBADF);
  close(opath);
  CHECK_ERRNO("setns(uts fd, CLONE_NEWIPC): EINVAL", setns_(uts, CLONE_NEWIPC), EINVAL);
  CHECK_ERRNO("setns(uts fd, CLONE_NEWUTS|CLONE_NEWIPC): EINVAL", setns_(uts, CLONE_NEWUTS | CLONE_NEWIPC), EINVAL);
  CHECK_ERRNO("setns(uts fd, an unknown bit): EINVAL", setns_(uts, 1), EINVAL);
  int user = open("/proc/self/ns/user", O_RDONLY);
  CHECK_ERRNO("setns(own user namespace, CLONE_NEWUSER): EINVAL", setns_(user, CLONE_NEWUSER), EINVAL);
  CHECK_ERRNO("setns(own user namespace, 0): EINVAL", setns_(user, 0), EINVAL);
  close(user);
  CHECK("non-root: EPERM for uts (ns fd and pidfd), EINVAL for the own user ns, EBADF",
        child_status(unprivileged) == 0);

  /* The own mount namespace. */
  CHECK("setns(own mnt ns, CLONE_NEWNS) after chroot and chdir: 0, the real root, cwd \"/\"",
        child_status(mnt_after_chroot) == 0);
  CHECK("with a CLONE_FS child sharing the fs: EINVAL; 0 after it exits", child_status(mnt_clone_fs) == 0);
  CHECK("with a thread: EINVAL; 0 after it is joined", child_status(mnt_thread) == 0);
  rmdir(subdir);
  rmdir(chroot_dir);
  unlink(marker);

  /* The own namespaces of other types. */
  CHECK("setns(own uts ns, CLONE_NEWUTS): 0", setns_own("uts", CLONE_NEWUTS) == 0);
  CHECK("setns(own ipc ns, CLONE_NEWIPC): 0", setns_own("ipc", CLONE_NEWIPC) == 0);
  CHECK("setns(own net ns, CLONE_NEWNET): 0", setns_own("net", CLONE_NEWNET) == 0);
  CHECK("setns(own cgroup ns, CLONE_NEWCGROUP): 0", setns_own("cgroup", CLONE_NEWCGROUP) == 0);
  CHECK("setns(own pid ns, CLONE_NEWPID): 0", setns_own("pid", CLONE_NEWPID) == 0);
  CHECK("setns(own mnt ns, 0): 0", setns_own("mnt", 0) == 0);
  close(uts);
  CHECK("the parent's hostname at the end", nodename_is(parent_host));
  return ABI_DONE();
}
