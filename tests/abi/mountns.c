/* Mount namespaces: unshare(CLONE_NEWNS) and clone(CLONE_NEWNS) give a copy of the mounts (the
 * child's /proc/self/ns/mnt differs, what was mounted before is there); a tmpfs mounted in the copy
 * is seen there (its files, /proc/self/mounts and mountinfo) and not by the parent; unmounting in
 * the copy leaves the parent's mounts alone; setns back to the parent's namespace (by its
 * /proc/PID/ns/mnt, and by a pidfd) leaves the copy behind and puts root and cwd at "/";
 * CLONE_NEWNS with CLONE_FS is EINVAL, without CAP_SYS_ADMIN EPERM (unshare and clone);
 * clone(CLONE_NEWUTS) gives the child its own host name. pivot_root's failures: EPERM without
 * the capability, ENOENT, ENOTDIR, EFAULT, and in a private namespace EBUSY for paths on the
 * root's mount and EINVAL for a new root that is not a mount point or a put_old not under it.
 * Run natively (as root) and under the kernel: the outputs must match. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include "abi_check.h"

static char top[64], dir[96], sub[128], mnt2[96], file_in[160];
static char parent_ns[64];

static long pivot_root_(const char* n, const char* o) { return syscall(SYS_pivot_root, n, o); }

static int exists(const char* p) {
  struct stat st;
  return stat(p, &st) == 0;
}

/* Whether `path` is a mount point in /proc/self/mountinfo (field 5). */
static int mounted_at(const char* path) {
  FILE* f = fopen("/proc/self/mountinfo", "r");
  if (!f) return -1;
  char line[1024];
  int found = 0;
  while (fgets(line, sizeof line, f)) {
    char point[512];
    if (sscanf(line, "%*s %*s %*s %*s %511s", point) == 1 && strcmp(point, path) == 0) found = 1;
  }
  fclose(f);
  return found;
}

static int in_proc_mounts(const char* path) {
  FILE* f = fopen("/proc/self/mounts", "r");
  if (!f) return -1;
  char line[1024];
  int found = 0;
  while (fgets(line, sizeof line, f)) {
    char point[512];
    if (sscanf(line, "%*s %511s", point) == 1 && strcmp(point, path) == 0) found = 1;
  }
  fclose(f);
  return found;
}

static void ns_link(char* out, size_t n) {
  ssize_t r = readlink("/proc/self/ns/mnt", out, n - 1);
  out[r > 0 ? r : 0] = 0;
}

/* In a fresh namespace: mount a tmpfs on dir, make a file, tell the parent, wait for its check,
 * then go back to the parent's namespace by `how` (0: ns file, 1: pidfd). */
static int pipe_to_parent[2], pipe_from_parent[2];
static int back_how;
static int private_ns_child(void) {
  char mine[64];
  int pns = open("/proc/self/ns/mnt", O_RDONLY); /* still the parent's */
  if (pns < 0) return 1;
  if (unshare(CLONE_NEWNS) != 0) return 2;
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return 3;
  ns_link(mine, sizeof mine);
  if (strcmp(mine, parent_ns) == 0) return 4;
  if (mount("none", dir, "tmpfs", 0, "size=1m") != 0) return 5;
  int f = open(file_in, O_CREAT | O_WRONLY, 0644);
  if (f < 0) return 6;
  close(f);
  if (mounted_at(dir) != 1 || in_proc_mounts(dir) != 1) return 7;
  char c = 'm';
  write(pipe_to_parent[1], &c, 1);
  if (read(pipe_from_parent[0], &c, 1) != 1) return 8;
  if (back_how == 0) {
    if (setns(pns, CLONE_NEWNS) != 0) return 9;
  } else {
    int pfd = (int)syscall(SYS_pidfd_open, getppid(), 0);
    if (pfd < 0 || setns(pfd, CLONE_NEWNS) != 0) return 10;
  }
  ns_link(mine, sizeof mine);
  if (strcmp(mine, parent_ns) != 0) return 11;
  if (exists(file_in) || mounted_at(dir) != 0) return 12;
  char cwd[256];
  if (getcwd(cwd, sizeof cwd) == NULL || strcmp(cwd, "/") != 0) return 13;
  return 0;
}

static int run_private(int how) {
  back_how = how;
  if (pipe(pipe_to_parent) != 0 || pipe(pipe_from_parent) != 0) return 100;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) _exit(private_ns_child());
  char c = 0;
  int parent_ok = 0;
  if (read(pipe_to_parent[0], &c, 1) == 1)
    parent_ok = !exists(file_in) && mounted_at(dir) == 0 && in_proc_mounts(dir) == 0;
  write(pipe_from_parent[1], "g", 1);
  int st = 0;
  waitpid(pid, &st, 0);
  close(pipe_to_parent[0]);
  close(pipe_to_parent[1]);
  close(pipe_from_parent[0]);
  close(pipe_from_parent[1]);
  if (!parent_ok) return 101;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 200;
}

/* A child of clone(CLONE_NEWNS): its namespace differs; a mount there stays there. */
static int clone_ns_child(void* arg) {
  (void)arg;
  char mine[64];
  ns_link(mine, sizeof mine);
  if (strcmp(mine, parent_ns) == 0) return 1;
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return 2;
  if (mount("none", dir, "tmpfs", 0, "size=1m") != 0) return 3;
  return mounted_at(dir) == 1 ? 0 : 4;
}

static char stack[65536] __attribute__((aligned(16)));
static long clone_with(int flags, int (*fn)(void*)) {
  fflush(stdout);
  pid_t pid = clone(fn, stack + sizeof stack, flags | SIGCHLD, NULL);
  if (pid < 0) return -errno;
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 200;
}

static int clone_uts_child(void* arg) {
  (void)arg;
  if (sethostname("abi-mountns-child", 17) != 0) return 1;
  struct utsname u;
  uname(&u);
  return strcmp(u.nodename, "abi-mountns-child") == 0 ? 0 : 2;
}

static int nobody(void) {
  if (setgid(65534) != 0 || setuid(65534) != 0) return 90;
  CHECK_ERRNO("unprivileged unshare(CLONE_NEWNS): EPERM", unshare(CLONE_NEWNS), EPERM);
  CHECK("unprivileged clone(CLONE_NEWNS): EPERM", clone_with(CLONE_NEWNS, clone_ns_child) == -EPERM);
  CHECK_ERRNO("unprivileged pivot_root: EPERM", pivot_root_(dir, dir), EPERM);
  CHECK_ERRNO("unprivileged pivot_root of a bad pointer: EPERM (privilege first)", pivot_root_((char*)8, dir), EPERM);
  return abi_failures;
}

/* pivot_root in a private namespace with tmpfs on dir and mnt2. */
static int pivot_child(void) {
  abi_failures = 0;
  if (unshare(CLONE_NEWNS) != 0) return 91;
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return 92;
  if (mount("none", dir, "tmpfs", 0, "size=1m") != 0 || mount("none", mnt2, "tmpfs", 0, "size=1m") != 0) return 93;
  char inner[160];
  snprintf(inner, sizeof inner, "%s/inner", dir);
  if (mkdir(inner, 0755) != 0) return 94;
  CHECK_ERRNO("pivot_root: new_root on the root's mount: EBUSY", pivot_root_(sub, sub), EBUSY);
  CHECK_ERRNO("pivot_root(\"/\", \"/\"): EBUSY", pivot_root_("/", "/"), EBUSY);
  CHECK_ERRNO("pivot_root: new_root not a mount point: EINVAL", pivot_root_(inner, inner), EINVAL);
  CHECK_ERRNO("pivot_root: put_old not under new_root: EINVAL", pivot_root_(dir, mnt2), EINVAL);
  return abi_failures;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (getuid() != 0) {
    printf("mountns: needs root\n");
    return 0;
  }
  snprintf(top, sizeof top, "/abi-mountns-%d", (int)getpid());
  snprintf(dir, sizeof dir, "%s/m", top);
  snprintf(mnt2, sizeof mnt2, "%s/m2", top);
  snprintf(sub, sizeof sub, "%s/s", top);
  snprintf(file_in, sizeof file_in, "%s/only-in-the-copy", dir);
  CHECK("make the directories",
        mkdir(top, 0755) == 0 && mkdir(dir, 0755) == 0 && mkdir(mnt2, 0755) == 0 && mkdir(sub, 0755) == 0);
  ns_link(parent_ns, sizeof parent_ns);
  CHECK("/proc/self/ns/mnt reads mnt:[N]", strncmp(parent_ns, "mnt:[", 5) == 0);

  CHECK("unshare(CLONE_NEWNS): a tmpfs mounted there is seen there only; setns back by the ns file",
        run_private(0) == 0);
  CHECK("the same, back by a pidfd", run_private(1) == 0);
  CHECK("nothing is mounted here afterwards", mounted_at(dir) == 0 && !exists(file_in));
  CHECK("clone(CLONE_NEWNS): the child's mounts are its own", clone_with(CLONE_NEWNS, clone_ns_child) == 0);
  CHECK("and not seen here", mounted_at(dir) == 0);
  CHECK("clone(CLONE_NEWNS|CLONE_FS): EINVAL", clone_with(CLONE_NEWNS | CLONE_FS, clone_ns_child) == -EINVAL);
  struct utsname before, after;
  uname(&before);
  CHECK("clone(CLONE_NEWUTS): the child sets its own host name", clone_with(CLONE_NEWUTS, clone_uts_child) == 0);
  uname(&after);
  CHECK("the parent's host name is unchanged", strcmp(before.nodename, after.nodename) == 0);

  /* A mount of the parent's, seen by a copy made afterwards, survives the copy's unmount. */
  CHECK("mount a tmpfs here", mount("none", dir, "tmpfs", 0, "size=1m") == 0);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) _exit(1);
    if (mounted_at(dir) != 1) _exit(2);
    _exit(umount(dir) == 0 && mounted_at(dir) == 0 ? 0 : 3);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK("a copy sees it and unmounts it in the copy", WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK("it is still mounted here", mounted_at(dir) == 1);
  CHECK("umount here", umount(dir) == 0);

  /* pivot_root's failures. */
  char missing[128], regular[128];
  snprintf(missing, sizeof missing, "%s/missing", top);
  snprintf(regular, sizeof regular, "%s/regular", top);
  close(open(regular, O_CREAT | O_WRONLY, 0644));
  CHECK_ERRNO("pivot_root: new_root missing: ENOENT", pivot_root_(missing, sub), ENOENT);
  CHECK_ERRNO("pivot_root: new_root missing, put_old a bad pointer: ENOENT", pivot_root_(missing, (char*)8), ENOENT);
  CHECK_ERRNO("pivot_root: put_old missing: ENOENT", pivot_root_(sub, missing), ENOENT);
  CHECK_ERRNO("pivot_root: new_root a regular file: ENOTDIR", pivot_root_(regular, sub), ENOTDIR);
  CHECK_ERRNO("pivot_root: put_old a regular file: ENOTDIR", pivot_root_(sub, regular), ENOTDIR);
  CHECK_ERRNO("pivot_root: new_root a bad pointer: EFAULT", pivot_root_((char*)8, sub), EFAULT);
  CHECK_ERRNO("pivot_root: new_root empty: ENOENT", pivot_root_("", sub), ENOENT);
  CHECK("pivot_root in a private namespace: EBUSY and EINVAL as above", child_status(pivot_child) == 0);
  CHECK("unprivileged: EPERM for unshare, clone and pivot_root", child_status(nobody) == 0);

  unlink(regular);
  rmdir(sub);
  rmdir(mnt2);
  rmdir(dir);
  CHECK("remove the directories", rmdir(top) == 0);
  return ABI_DONE();
}
