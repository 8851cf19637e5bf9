/* A mount's own flags (run as root, natively too, in a private mount namespace):
 * - mount(2) with MS_NOSUID|MS_NODEV|MS_NOEXEC, MS_RDONLY, MS_NOATIME, MS_STRICTATIME,
 *   MS_NOSYMFOLLOW: what /proc/self/mounts and /proc/self/mountinfo (per-mount and super options)
 *   show, and statfs's f_flags (ST_VALID and the ST_* bits);
 * - noexec: execve, access(X_OK) are EACCES, mmap(PROT_EXEC) of a file EPERM, mprotect adding
 *   PROT_EXEC EACCES; the same file on another mount runs;
 * - nosuid: a set-user-ID/set-group-ID copy of this program runs with the caller's ids and
 *   AT_SECURE 0 there, with the file's ids and AT_SECURE 1 on a plain mount;
 * - nodev: a device node made there does not open (EACCES), and opens after a remount with dev;
 * - MS_RDONLY on a new tmpfs: writes are EROFS, MS_REMOUNT without it makes it writable again;
 * - nosymfollow: following a symlink on it is ELOOP, readlink and lstat work;
 * - MS_REMOUNT|MS_BIND sets the flags of one mount only; a bind takes its source mount's flags;
 *   a remount keeps the access-time flags unless it names one; MS_MGC_VAL in the top half;
 * - a MAP_SHARED mapping of a file opened read-only cannot be mprotect'ed writable (EACCES);
 * - the root mount: MS_REMOUNT|MS_BIND|MS_RDONLY of / makes it read-only (EROFS, ST_RDONLY)
 *   but not the mounts on it, and MS_REMOUNT|MS_BIND writable again (this namespace's root
 *   mount only, so natively too); on our kernel also a remount of the root file system
 *   itself, which natively would reach the host's. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "abi_check.h"
#include "mount_scratch.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif
#ifndef ST_NOSYMFOLLOW
#define ST_NOSYMFOLLOW 0x2000
#endif

static char path[256];

static const char* at(const char* base, const char* rel) {
  snprintf(path, sizeof path, "%s/%s", base, rel);
  return path;
}

/* Keeps the words of `in` that are about mounts (drops what one kernel's tmpfs shows and
 * another's not, as inode64). */
static void mount_words(const char* in, char* out, size_t len) {
  static const char* const words[] = {"rw",       "ro",          "nosuid", "nodev",   "noexec", "noatime", "nodiratime",
                                      "relatime", "nosymfollow", "sync",   "dirsync", "mand",   NULL};
  char buf[512];
  snprintf(buf, sizeof buf, "%s", in);
  out[0] = 0;
  for (char *save = NULL, *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
    for (int i = 0; words[i]; i++) {
      if (strcmp(w, words[i]) == 0) {
        size_t n = strlen(out);
        snprintf(out + n, len - n, "%s%s", n ? "," : "", w);
      }
    }
  }
}

/* Prints the options of `where` as /proc/self/mounts and /proc/self/mountinfo show them, and
 * statfs's f_flags. */
static void show(const char* label, const char* where) {
  char line[1024], opts[512], words[512];
  FILE* f = fopen("/proc/self/mounts", "r");
  int seen = 0;
  while (f && fgets(line, sizeof line, f)) {
    char m[256];
    if (sscanf(line, "%*s %255s %*s %511s", m, opts) == 2 && strcmp(m, where) == 0) {
      mount_words(opts, words, sizeof words);
      seen++;
    }
  }
  if (f) fclose(f);
  printf("%s: mounts %s%s\n", label, seen ? words : "(none)", seen > 1 ? " (twice)" : "");
  f = fopen("/proc/self/mountinfo", "r");
  while (f && fgets(line, sizeof line, f)) {
    char m[256], mopts[256], super[256];
    const char* dash = strstr(line, " - ");
    if (!dash || sscanf(line, "%*d %*d %*d:%*d %*s %255s %255s", m, mopts) != 2 || strcmp(m, where) != 0) continue;
    if (sscanf(dash, " - %*s %*s %255s", super) != 1) continue;
    char w1[256], w2[256];
    mount_words(mopts, w1, sizeof w1);
    mount_words(super, w2, sizeof w2);
    printf("%s: mountinfo %s - %s\n", label, w1, w2);
  }
  if (f) fclose(f);
  struct statfs s;
  if (statfs(where, &s) == 0) printf("%s: statfs f_flags %#lx\n", label, (unsigned long)s.f_flags);
}

static int copy_self(const char* to, mode_t mode) {
  int in = open("/proc/self/exe", O_RDONLY);
  int out = open(to, O_CREAT | O_WRONLY | O_TRUNC, 0755);
  if (in < 0 || out < 0) return -1;
  char buf[65536];
  ssize_t n;
  while ((n = read(in, buf, sizeof buf)) > 0)
    if (write(out, buf, (size_t)n) != n) return -1;
  close(in);
  close(out);
  return chmod(to, mode);
}

/* Runs `prog ids` and returns what it printed ("EUID EGID SECURE"), or the errno of execve. */
static const char* run_ids(const char* prog, char* out, size_t len) {
  int p[2];
  if (pipe(p) != 0) return "pipe";
  pid_t pid = fork();
  if (pid == 0) {
    dup2(p[1], 1);
    close(p[0]);
    execl(prog, prog, "ids", (char*)NULL);
    printf("execve %s\n", strerror(errno));
    fflush(stdout);
    _exit(127);
  }
  close(p[1]);
  ssize_t n = read(p[0], out, len - 1);
  out[n > 0 ? n : 0] = 0;
  if (n > 0 && out[n - 1] == '\n') out[n - 1] = 0;
  close(p[0]);
  waitpid(pid, NULL, 0);
  return out;
}

static void noexec_checks(void) {
  char prog[128], ids[64];
  snprintf(prog, sizeof prog, "%s/prog", a);
  CHECK("a program on the noexec mount", copy_self(prog, 0755) == 0);
  printf("noexec: exec gives \"%s\"\n", run_ids(prog, ids, sizeof ids));
  CHECK_ERRNO("access X_OK is EACCES", access(prog, X_OK), EACCES);
  CHECK("access R_OK is fine", access(prog, R_OK) == 0);
  int fd = open(prog, O_RDONLY);
  CHECK("it opens for reading", fd >= 0);
  void* m = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
  CHECK("mmap PROT_EXEC is EPERM", m == MAP_FAILED && errno == EPERM);
  m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
  CHECK("mmap PROT_READ works", m != MAP_FAILED);
  CHECK_ERRNO("mprotect adding PROT_EXEC is EACCES", mprotect(m, 4096, PROT_READ | PROT_EXEC), EACCES);
  CHECK("mprotect PROT_READ|PROT_WRITE of the private mapping works", mprotect(m, 4096, PROT_READ | PROT_WRITE) == 0);
  munmap(m, 4096);
  close(fd);
  /* The same flags through a bind, and a bind remounted without them runs it. */
  CHECK("bind the noexec mount", mount(a, b, NULL, MS_BIND, NULL) == 0);
  show("bind of noexec", b);
  printf("noexec bind: exec gives \"%s\"\n", run_ids(at(b, "prog"), ids, sizeof ids));
  CHECK("MS_REMOUNT|MS_BIND without flags", mount(NULL, b, NULL, MS_REMOUNT | MS_BIND, NULL) == 0);
  show("bind remounted", b);
  printf("plain bind: exec gives \"%s\"\n", run_ids(at(b, "prog"), ids, sizeof ids));
  CHECK("access X_OK through it", access(at(b, "prog"), X_OK) == 0);
  printf("noexec source again: exec gives \"%s\"\n", run_ids(prog, ids, sizeof ids));
  CHECK("umount the bind", umount(b) == 0);
  unlink(prog);
}

static void nosuid_checks(void) {
  char prog[128], ids[64];
  CHECK("mount a nosuid tmpfs", mount("none", b, "tmpfs", MS_NOSUID, NULL) == 0);
  show("nosuid", b);
  snprintf(prog, sizeof prog, "%s/suid", b);
  CHECK("a set-user-ID copy", copy_self(prog, 0755) == 0 && chown(prog, 1000, 1000) == 0 && chmod(prog, 06755) == 0);
  printf("nosuid: ids \"%s\"\n", run_ids(prog, ids, sizeof ids));
  CHECK("MS_REMOUNT without MS_NOSUID", mount(NULL, b, NULL, MS_REMOUNT, NULL) == 0);
  show("suid", b);
  printf("suid: ids \"%s\"\n", run_ids(prog, ids, sizeof ids));
  CHECK("MS_REMOUNT|MS_BIND|MS_NOSUID", mount(NULL, b, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID, NULL) == 0);
  printf("nosuid again: ids \"%s\"\n", run_ids(prog, ids, sizeof ids));
  unlink(prog);
  CHECK("umount", umount(b) == 0);
}

static void nodev_checks(void) {
  CHECK("mount a nodev tmpfs", mount("none", b, "tmpfs", MS_NODEV, NULL) == 0);
  CHECK("mknod a null device on it", mknod(at(b, "null"), S_IFCHR | 0666, makedev(1, 3)) == 0);
  CHECK_ERRNO("it does not open", open(at(b, "null"), O_RDONLY), EACCES);
  CHECK_ERRNO("not for writing either", open(at(b, "null"), O_WRONLY), EACCES);
  int fd = open(at(b, "null"), O_PATH);
  CHECK("O_PATH opens it", fd >= 0);
  if (fd >= 0) close(fd);
  CHECK("a FIFO opens there", mkfifo(at(b, "fifo"), 0644) == 0 && (fd = open(at(b, "fifo"), O_RDWR)) >= 0);
  if (fd >= 0) close(fd);
  CHECK("MS_REMOUNT without MS_NODEV", mount(NULL, b, NULL, MS_REMOUNT, NULL) == 0);
  fd = open(at(b, "null"), O_RDWR);
  CHECK("now it opens", fd >= 0);
  if (fd >= 0) close(fd);
  CHECK("umount", umount(b) == 0);
}

static void read_only_checks(void) {
  CHECK("mount a read-only tmpfs", mount("none", b, "tmpfs", MS_RDONLY, NULL) == 0);
  show("ro", b);
  CHECK_ERRNO("creating a file is EROFS", open(at(b, "x"), O_CREAT | O_WRONLY, 0644), EROFS);
  CHECK_ERRNO("mkdir is EROFS", mkdir(at(b, "d"), 0755), EROFS);
  CHECK("MS_REMOUNT read-write", mount(NULL, b, NULL, MS_REMOUNT, NULL) == 0);
  show("remounted rw", b);
  int fd = open(at(b, "x"), O_CREAT | O_WRONLY, 0644);
  CHECK("now a file can be made", fd >= 0);
  if (fd >= 0) close(fd);
  CHECK("MS_REMOUNT|MS_RDONLY", mount(NULL, b, NULL, MS_REMOUNT | MS_RDONLY, NULL) == 0);
  show("remounted ro", b);
  CHECK_ERRNO("unlink is EROFS", unlink(at(b, "x")), EROFS);
  CHECK("umount", umount(b) == 0);
}

static void atime_checks(void) {
  CHECK("mount a noatime,nodiratime tmpfs", mount("none", b, "tmpfs", MS_NOATIME | MS_NODIRATIME, NULL) == 0);
  show("noatime", b);
  CHECK("MS_REMOUNT|MS_NOEXEC keeps them", mount(NULL, b, NULL, MS_REMOUNT | MS_NOEXEC, NULL) == 0);
  show("noatime kept", b);
  CHECK("MS_REMOUNT|MS_STRICTATIME drops them", mount(NULL, b, NULL, MS_REMOUNT | MS_STRICTATIME, NULL) == 0);
  show("strictatime", b);
  CHECK("MS_REMOUNT|MS_RELATIME", mount(NULL, b, NULL, MS_REMOUNT | MS_RELATIME, NULL) == 0);
  show("relatime", b);
  CHECK("umount", umount(b) == 0);
  CHECK("mount with MS_STRICTATIME", mount("none", b, "tmpfs", MS_STRICTATIME, NULL) == 0);
  show("strictatime mount", b);
  CHECK("umount", umount(b) == 0);
  CHECK("mount with MS_MGC_VAL and MS_NODEV", mount("none", b, "tmpfs", 0xc0ed0000 | MS_NODEV, NULL) == 0);
  show("magic", b);
  CHECK("umount", umount(b) == 0);
}

static void nosymfollow_checks(void) {
  CHECK("mount a nosymfollow tmpfs", mount("none", b, "tmpfs", MS_NOSYMFOLLOW, NULL) == 0);
  show("nosymfollow", b);
  int fd = open(at(b, "file"), O_CREAT | O_WRONLY, 0644);
  if (fd >= 0) close(fd);
  CHECK("a symlink on it", symlink("file", at(b, "link")) == 0);
  CHECK_ERRNO("following it is ELOOP", open(at(b, "link"), O_RDONLY), ELOOP);
  struct stat st;
  CHECK_ERRNO("stat through it is ELOOP", stat(at(b, "link"), &st), ELOOP);
  CHECK("lstat works", lstat(at(b, "link"), &st) == 0 && S_ISLNK(st.st_mode));
  char buf[64] = {0};
  CHECK("readlink works", readlink(at(b, "link"), buf, sizeof buf - 1) == 4 && strcmp(buf, "file") == 0);
  char from[128];
  snprintf(from, sizeof from, "%s/file", b);
  CHECK("a symlink elsewhere into it is followed",
        symlink(from, at(c, "in")) == 0 && (fd = open(at(c, "in"), O_RDONLY)) >= 0);
  if (fd >= 0) close(fd);
  unlink(at(c, "in"));
  CHECK("umount", umount(b) == 0);
}

static void shared_read_only_mapping(void) {
  char f[128];
  snprintf(f, sizeof f, "%s/data", c);
  int fd = open(f, O_CREAT | O_RDWR | O_TRUNC, 0644);
  CHECK("a data file", fd >= 0 && ftruncate(fd, 4096) == 0);
  close(fd);
  fd = open(f, O_RDONLY);
  void* m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
  CHECK("MAP_SHARED of a read-only descriptor", m != MAP_FAILED);
  CHECK_ERRNO("mprotect PROT_WRITE of it is EACCES", mprotect(m, 4096, PROT_READ | PROT_WRITE), EACCES);
  CHECK("mprotect PROT_EXEC of it works (a plain mount)", mprotect(m, 4096, PROT_READ | PROT_EXEC) == 0);
  munmap(m, 4096);
  m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
  CHECK("MAP_PRIVATE of it may become writable", m != MAP_FAILED && mprotect(m, 4096, PROT_READ | PROT_WRITE) == 0);
  munmap(m, 4096);
  close(fd);
  unlink(f);
}

/* Whether `f` can be created (and is removed again), else the errno. */
static int creatable(const char* f) {
  int fd = open(f, O_CREAT | O_WRONLY, 0644);
  if (fd < 0) return errno;
  close(fd);
  unlink(f);
  return 0;
}

static int root_read_only(void) {
  struct statfs sf;
  return statfs("/", &sf) == 0 && (sf.f_flags & ST_RDONLY) != 0;
}

static void root_checks(void) {
  char f[128];
  snprintf(f, sizeof f, "%s/on-root", top); /* /tmp is on the root mount here and natively */
  CHECK("a tmpfs on b", mount("none", b, "tmpfs", 0, NULL) == 0);
  CHECK("MS_REMOUNT|MS_BIND|MS_RDONLY of /", mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) == 0);
  CHECK("statfs(/) says ST_RDONLY", root_read_only());
  CHECK("creating a file on it is EROFS", creatable(f) == EROFS);
  CHECK_ERRNO("mkdir on it is EROFS", mkdir(at(top, "d"), 0755), EROFS);
  CHECK("the tmpfs on it stays writable", creatable(at(b, "x")) == 0);
  CHECK("MS_REMOUNT|MS_BIND of / without it", mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND, NULL) == 0);
  CHECK("statfs(/) no longer says ST_RDONLY", !root_read_only());
  CHECK("a file can be made again", creatable(f) == 0);
  CHECK("umount b", umount(b) == 0);
  struct utsname u;
  if (uname(&u) != 0 || strstr(u.release, "framekernel") == NULL) return;
    /* The root file system itself (mount -o remount,ro /), silently: a failure prints a FAIL
   * line, which native never has. */
#define QUIET(name, cond) \
  do { \
    if (!(cond)) { \
      printf("FAIL %s (%s)\n", name, strerror(errno)); \
      abi_failures++; \
    } \
  } while (0)
  QUIET("MS_REMOUNT|MS_RDONLY of /", mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL) == 0);
  QUIET("statfs(/) says ST_RDONLY", root_read_only());
  QUIET("creating a file is EROFS", creatable(f) == EROFS);
  QUIET("MS_REMOUNT of / read-write", mount(NULL, "/", NULL, MS_REMOUNT, NULL) == 0);
  QUIET("a file can be made", creatable(f) == 0);
  errno = 0;
  QUIET("MS_REMOUNT of a directory that is no mount's root is EINVAL",
        mount(NULL, top, NULL, MS_REMOUNT, NULL) == -1 && errno == EINVAL);
#undef QUIET
}

int main(int argc, char** argv) {
  setvbuf(stdout, 0, _IOLBF, 0);
  if (argc > 1 && strcmp(argv[1], "ids") == 0) {
    printf("%d %d %lu\n", (int)geteuid(), (int)getegid(), getauxval(AT_SECURE));
    return 0;
  }
  if (geteuid() != 0) {
    printf("mountflags: needs root\n");
    return 0;
  }
  mount_scratch("mountflags");
  CHECK("mount a plain tmpfs", mount("none", c, "tmpfs", 0, NULL) == 0);
  show("plain", c);
  CHECK("mount a nosuid,nodev,noexec tmpfs", mount("none", a, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0);
  show("noexec", a);
  noexec_checks();
  nosuid_checks();
  nodev_checks();
  read_only_checks();
  atime_checks();
  nosymfollow_checks();
  shared_read_only_mapping();
  root_checks();
  CHECK("umount all", umount(a) == 0 && umount(c) == 0);
  rmdir(a);
  rmdir(b);
  rmdir(c);
  rmdir(top);
  printf("mountflags: done\n");
  return ABI_DONE();
}
