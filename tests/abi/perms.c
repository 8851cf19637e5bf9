/* Credentials and permissions as Linux checks them: a child that drops from root to uid 1000
 * meets EACCES and EPERM on files, directories, a sticky directory and a set-group-ID directory;
 * set-user-ID exec; the set*id rules; capabilities after uid changes; root's overrides.
 * Run as root (natively too: it needs to change uids). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "abi_check.h"

static char dir[256];

static const char* at(const char* name) { return path_in(dir, name); }

static void make_file(const char* name, mode_t mode, uid_t uid, gid_t gid, const char* text) {
  int fd = open(at(name), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  if (fd >= 0) {
    if (write(fd, text, strlen(text)) < 0) perror("write");
    close(fd);
  }
  chown(at(name), uid, gid);
  chmod(at(name), mode);
}

static int copy_file(const char* from, const char* to) {
  int in = open(from, O_RDONLY), out = open(to, O_CREAT | O_WRONLY | O_TRUNC, 0700);
  if (in < 0 || out < 0) return -1;
  char buf[65536];
  ssize_t n;
  while ((n = read(in, buf, sizeof buf)) > 0) {
    if (write(out, buf, (size_t)n) != n) return -1;
  }
  close(in);
  close(out);
  return 0;
}

/* linux/capability.h (musl's headers do not have it). */
struct cap_header {
  uint32_t version;
  int pid;
};
struct cap_data {
  uint32_t effective, permitted, inheritable;
};

static void get_caps(uint64_t* eff, uint64_t* perm) {
  struct cap_header h = {0x20080522 /* _LINUX_CAPABILITY_VERSION_3 */, 0};
  struct cap_data d[2];
  memset(d, 0, sizeof d);
  syscall(SYS_capget, &h, d);
  *eff = d[0].effective | (uint64_t)d[1].effective << 32;
  *perm = d[0].permitted | (uint64_t)d[1].permitted << 32;
}

static char suid_copy[512];

static void as_user(void) {
  gid_t g = 1000;
  CHECK("setgroups({1000})", setgroups(1, &g) == 0);
  CHECK("setresgid(1000, 1000, 1000)", setresgid(1000, 1000, 1000) == 0);
  CHECK("setresuid(1000, 1000, 1000)", setresuid(1000, 1000, 1000) == 0);
  uid_t r, e, s;
  getresuid(&r, &e, &s);
  CHECK("all three uids are 1000", r == 1000 && e == 1000 && s == 1000);
  uint64_t eff, perm;
  get_caps(&eff, &perm);
  CHECK("no capabilities left after leaving uid 0", eff == 0 && perm == 0);
  CHECK_ERRNO("setuid(0) is refused", setuid(0), EPERM);
  CHECK_ERRNO("setresuid(-1, 0, -1) is refused", setresuid(-1, 0, -1), EPERM);
  CHECK_ERRNO("setgroups is refused", setgroups(1, &g), EPERM);
  CHECK_ERRNO("setgid(0) is refused", setgid(0), EPERM);
  CHECK("setreuid(-1, 1000) to an id it has", setreuid(-1, 1000) == 0);

  /* files */
  CHECK_ERRNO("open a 0600 root file for reading", open(at("root_only"), O_RDONLY), EACCES);
  int fd = open(at("world_read"), O_RDONLY);
  CHECK("open a 0644 root file for reading", fd >= 0);
  close(fd);
  CHECK_ERRNO("open a 0644 root file for writing", open(at("world_read"), O_WRONLY), EACCES);
  CHECK_ERRNO("O_TRUNC needs write permission", open(at("world_read"), O_RDONLY | O_TRUNC), EACCES);
  fd = open(at("group_rw"), O_RDWR);
  CHECK("open a 0660 file of group 1000 for writing", fd >= 0);
  close(fd);
  CHECK_ERRNO("truncate a file it cannot write", truncate(at("world_read"), 0), EACCES);
  CHECK("access(R_OK) of a readable file", access(at("world_read"), R_OK) == 0);
  CHECK_ERRNO("access(R_OK) of a 0600 root file", access(at("root_only"), R_OK), EACCES);
  CHECK_ERRNO("access(W_OK) of a 0644 root file", access(at("world_read"), W_OK), EACCES);
  CHECK_ERRNO("chmod of another user's file", chmod(at("world_read"), 0666), EPERM);
  CHECK_ERRNO("utimensat(now) of a file it cannot write", utimensat(AT_FDCWD, at("world_read"), NULL, 0), EACCES);
  CHECK("utimensat(now) of a file it may write", utimensat(AT_FDCWD, at("group_rw"), NULL, 0) == 0);
  struct timespec ts[2] = {{1, 0}, {1, 0}};
  CHECK_ERRNO("utimensat(given times) of another user's file", utimensat(AT_FDCWD, at("group_rw"), ts, 0), EPERM);
  CHECK_ERRNO("execute a 0700 root script", execl(at("root_script"), "root_script", (char*)NULL), EACCES);

  /* directories */
  struct stat st;
  CHECK_ERRNO("stat below a 0700 root directory", stat(at("private/inside"), &st), EACCES);
  CHECK_ERRNO("open a 0700 root directory", open(at("private"), O_RDONLY | O_DIRECTORY), EACCES);
  CHECK("stat the 0700 directory itself", stat(at("private"), &st) == 0);
  CHECK_ERRNO("create in a 0555 directory", open(at("nowrite/new"), O_CREAT | O_WRONLY, 0644), EACCES);
  CHECK_ERRNO("mkdir in a 0555 directory", mkdir(at("nowrite/d"), 0755), EACCES);
  CHECK_ERRNO("unlink from a 0555 directory", unlink(at("nowrite/file")), EACCES);
  CHECK_ERRNO("rename into a 0555 directory", rename(at("sticky/mine_later"), at("nowrite/x")), ENOENT);
  CHECK_ERRNO("unlink another user's file in a sticky directory", unlink(at("sticky/theirs")), EPERM);
  CHECK_ERRNO("rename another user's file in a sticky directory", rename(at("sticky/theirs"), at("sticky/moved")),
              EPERM);
  fd = open(at("sticky/mine"), O_CREAT | O_WRONLY, 0644);
  CHECK("create in a sticky 1777 directory", fd >= 0);
  close(fd);
  CHECK_ERRNO("rename own file into a 0555 directory", rename(at("sticky/mine"), at("nowrite/x")), EACCES);
  CHECK("stat shows the new file owned by uid 1000, gid 1000",
        stat(at("sticky/mine"), &st) == 0 && st.st_uid == 1000 && st.st_gid == 1000);
  CHECK_ERRNO("chown own file to root", chown(at("sticky/mine"), 0, -1), EPERM);
  CHECK_ERRNO("chgrp own file to a group it is not in", chown(at("sticky/mine"), -1, 0), EPERM);
  CHECK("chgrp own file to its own group", chown(at("sticky/mine"), -1, 1000) == 0);
  CHECK("chmod own file", chmod(at("sticky/mine"), 0600) == 0);
  CHECK("unlink own file in a sticky directory", unlink(at("sticky/mine")) == 0);
  fd = open(at("sgid/f"), O_CREAT | O_WRONLY, 0644);
  close(fd);
  CHECK("a file made in a set-group-ID directory takes its group",
        stat(at("sgid/f"), &st) == 0 && st.st_gid == 1234 && st.st_uid == 1000);
  CHECK("a directory made there takes the group and the set-group-ID bit",
        mkdir(at("sgid/d"), 0755) == 0 && stat(at("sgid/d"), &st) == 0 && st.st_gid == 1234 &&
            (st.st_mode & S_ISGID) != 0);
  CHECK("chmod g+s on a file of a group it is not in drops the bit",
        chmod(at("sgid/f"), 02755) == 0 && stat(at("sgid/f"), &st) == 0 && (st.st_mode & 07777) == 0755);

  /* privileged operations */
  CHECK_ERRNO("mount needs CAP_SYS_ADMIN", mount("none", dir, "tmpfs", 0, NULL), EPERM);
  CHECK_ERRNO("chroot needs CAP_SYS_CHROOT", chroot(dir), EPERM);
  CHECK_ERRNO("mknod of a device needs CAP_MKNOD", mknod(at("sticky/dev"), S_IFCHR | 0600, makedev(1, 3)), EPERM);
  CHECK_ERRNO("kill(1, 0): init belongs to root", kill(1, 0), EPERM);
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_max += 1;
  CHECK_ERRNO("raising a hard limit needs CAP_SYS_RESOURCE", setrlimit(RLIMIT_NOFILE, &rl), EPERM);

  /* /proc/self/status */
  char buf[4096] = {0};
  fd = open("/proc/self/status", O_RDONLY);
  ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
  if (fd >= 0) close(fd);
  CHECK("/proc/self/status has Uid 1000 and no effective capabilities",
        n > 0 && strstr(buf, "Uid:\t1000\t1000\t1000\t1000\n") != NULL &&
            strstr(buf, "CapEff:\t0000000000000000\n") != NULL && strstr(buf, "Groups:\t1000") != NULL);

  /* a set-user-ID root program */
  fflush(stdout);
  int fds[2];
  if (pipe(fds) != 0) return;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    execl(suid_copy, suid_copy, "report-ids", (char*)NULL);
    _exit(127);
  }
  close(fds[1]);
  memset(buf, 0, sizeof buf);
  n = read(fds[0], buf, sizeof buf - 1);
  close(fds[0]);
  waitpid(pid, NULL, 0);
  int suid_ok = strcmp(buf, "uid=1000 euid=0 suid=0 secure=1\n") == 0;
  CHECK("a set-user-ID root program runs with euid 0, uid 1000 and AT_SECURE", suid_ok);
  if (!suid_ok) printf("  it said: %s\n", buf);
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "report-ids") == 0) {
    uid_t r, e, s;
    getresuid(&r, &e, &s);
    printf("uid=%u euid=%u suid=%u secure=%lu\n", r, e, s, getauxval(AT_SECURE));
    return 0;
  }
  if (geteuid() != 0) {
    printf("perms: needs root\n");
    return 0;
  }
  strcpy(dir, "/tmp/perms.XXXXXX");
  if (mkdtemp(dir) == NULL) return 1;
  chmod(dir, 0755);
  make_file("root_only", 0600, 0, 0, "secret\n");
  make_file("world_read", 0644, 0, 0, "public\n");
  make_file("group_rw", 0660, 0, 1000, "shared\n");
  make_file("root_script", 0700, 0, 0, "#!/bin/sh\nexit 0\n");
  mkdir(at("private"), 0700);
  make_file("private/inside", 0644, 0, 0, "x");
  mkdir(at("nowrite"), 0755);
  make_file("nowrite/file", 0644, 0, 0, "x");
  chmod(at("nowrite"), 0555);
  mkdir(at("sticky"), 0777);
  chmod(at("sticky"), 01777);
  make_file("sticky/theirs", 0666, 1001, 1001, "x");
  mkdir(at("sgid"), 0777);
  chown(at("sgid"), 0, 1234);
  chmod(at("sgid"), 02777);
  char self[512];
  snprintf(self, sizeof self, "%s", argv[0]);
  snprintf(suid_copy, sizeof suid_copy, "%s/suid", dir);
  CHECK("copy of the program made set-user-ID root",
        copy_file(argv[0], suid_copy) == 0 && chown(suid_copy, 0, 0) == 0 && chmod(suid_copy, 04755) == 0);

  /* root's side */
  make_file("none", 0000, 0, 0, "x");
  int fd = open(at("none"), O_RDWR);
  CHECK("root opens a mode 0000 file (CAP_DAC_OVERRIDE)", fd >= 0);
  close(fd);
  CHECK_ERRNO("root cannot execute a file without any x bit", execl(at("world_read"), "x", (char*)NULL), EACCES);
  make_file("setid", 06755, 0, 0, "x");
  struct stat st;
  CHECK("chown clears set-user-ID and set-group-ID",
        chown(at("setid"), 1000, 1000) == 0 && stat(at("setid"), &st) == 0 && (st.st_mode & 07777) == 0755);
  uint64_t eff, perm;
  get_caps(&eff, &perm);
  /* (a container's root may lack some, e.g. CAP_SYS_RESOURCE: only the ones used here) */
  const uint64_t used = 1u << 0 | 1u << 1 | 1u << 2 | 1u << 3 | 1u << 4 | 1u << 5 | 1u << 6 | 1u << 7;
  CHECK("root has its capabilities effective, the DAC and set*id ones among them", eff == perm && (eff & used) == used);

  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    as_user();
    fflush(stdout);
    _exit(ABI_DONE());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK("the uid 1000 child ran to the end", WIFEXITED(status));
  abi_failures += WIFEXITED(status) ? WEXITSTATUS(status) : 1;

  /* keep-caps: permitted survives leaving uid 0, effective does not */
  pid = fork();
  if (pid == 0) {
    prctl(PR_SET_KEEPCAPS, 1);
    setresuid(1000, 1000, 1000);
    uint64_t e2, p2;
    get_caps(&e2, &p2);
    printf("%s PR_SET_KEEPCAPS keeps the permitted set, not the effective one\n", e2 == 0 && p2 != 0 ? "ok  " : "FAIL");
    fflush(stdout);
    _exit(e2 == 0 && p2 != 0 ? 0 : 1);
  }
  waitpid(pid, &status, 0);
  abi_failures += WIFEXITED(status) ? WEXITSTATUS(status) : 1;

  /* clean up */
  char cmd[600];
  snprintf(cmd, sizeof cmd, "chmod 755 %s/nowrite; rm -rf %s", dir, dir);
  fflush(stdout);
  if (system(cmd) != 0) printf("cleanup failed\n");
  return ABI_DONE();
}
