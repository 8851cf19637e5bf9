/* fs.protected_regular, protected_fifos, protected_symlinks and protected_hardlinks: Linux's
 * guards for shared sticky directories such as /tmp (may_create_in_sticky, may_follow_link,
 * may_linkat in fs/namei.c). Each case's expected outcome is computed from the settings the
 * running kernel shows in /proc/sys/fs, so the output is the same natively (this host's
 * settings) and under umk (Debian's). On our kernel (uname -r says "framekernel") every
 * combination of the four settings is then set and checked too (only failures are printed);
 * natively the settings are only written back unchanged, in the spellings sysctl accepts.
 * Run as root (natively too: it changes uids and owners). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "abi_check.h"

static char dir[256];

static const char* at(const char* name) { return path_in(dir, name); }

struct settings {
  int regular, fifos, symlinks, hardlinks;
};

static const char* const kNames[4] = {"protected_regular", "protected_fifos", "protected_symlinks",
                                      "protected_hardlinks"};

static int read_setting(const char* name) {
  char path[128], buf[32];
  snprintf(path, sizeof path, "/proc/sys/fs/%s", name);
  return read_text(path, buf, sizeof buf) > 0 ? atoi(buf) : -1;
}

static struct settings current(void) {
  struct settings s = {read_setting(kNames[0]), read_setting(kNames[1]), read_setting(kNames[2]),
                       read_setting(kNames[3])};
  return s;
}

/* Writes `text` to the setting; returns write's result (errno set on failure). */
static long write_setting(const char* name, const char* text) {
  char path[128];
  snprintf(path, sizeof path, "/proc/sys/fs/%s", name);
  int fd = open(path, O_WRONLY);
  if (fd < 0) return -1;
  long r = write(fd, text, strlen(text));
  int e = errno;
  close(fd);
  errno = e;
  return r;
}

static void set_all(struct settings s) {
  int v[4] = {s.regular, s.fifos, s.symlinks, s.hardlinks};
  for (int i = 0; i < 4; i++) {
    char text[16];
    snprintf(text, sizeof text, "%d\n", v[i]);
    if (write_setting(kNames[i], text) != (long)strlen(text)) printf("FAIL setting %s to %d\n", kNames[i], v[i]);
  }
}

/* What Linux answers, from the settings. */
static int expect_open_creat(struct settings s, const char* d, const char* obj, uid_t fsuid) {
  struct stat ds, os;
  if (stat(at(d), &ds) != 0 || lstat(at(obj), &os) != 0) return -1;
  if (!(ds.st_mode & S_ISVTX)) return 0;
  if (S_ISREG(os.st_mode) && s.regular == 0) return 0;
  if (S_ISFIFO(os.st_mode) && s.fifos == 0) return 0;
  if (os.st_uid == ds.st_uid || os.st_uid == fsuid) return 0;
  if (ds.st_mode & S_IWOTH) return EACCES;
  if ((ds.st_mode & S_IWGRP) && ((S_ISFIFO(os.st_mode) && s.fifos >= 2) || (S_ISREG(os.st_mode) && s.regular >= 2))) {
    return EACCES;
  }
  return 0;
}

static int expect_follow(struct settings s, const char* d, const char* link, uid_t fsuid) {
  struct stat ds, ls;
  if (stat(at(d), &ds) != 0 || lstat(at(link), &ls) != 0) return -1;
  if (s.symlinks == 0 || ls.st_uid == fsuid) return 0;
  if ((ds.st_mode & (S_ISVTX | S_IWOTH)) != (S_ISVTX | S_IWOTH)) return 0;
  if (ds.st_uid == ls.st_uid) return 0;
  return EACCES;
}

static int failures_seen;

/* One outcome: printed when `verbose`, otherwise only a failure is (with the settings). */
static void report(int verbose, struct settings s, const char* what, int ok) {
  if (verbose) {
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  } else if (!ok) {
    printf("FAIL %s (regular %d fifos %d symlinks %d hardlinks %d)\n", what, s.regular, s.fifos, s.symlinks,
           s.hardlinks);
  }
  if (!ok) failures_seen++;
}

static int outcome(long r) { return r >= 0 ? 0 : errno; }

static const char* const kDirs[] = {"ww", "gw", "plain", "owned"};

/* Every case for the caller's fsuid. */
static void cases(int verbose, uid_t fsuid) {
  struct settings s = current();
  char what[160];
  for (unsigned i = 0; i < sizeof kDirs / sizeof kDirs[0]; i++) {
    const char* d = kDirs[i];
    char obj[64];
    const char* kinds[] = {"reg", "fifo", "mine", "chr"};
    for (unsigned k = 0; k < 4; k++) {
      snprintf(obj, sizeof obj, "%s/%s", d, kinds[k]);
      if (access(at(obj), F_OK) != 0) continue;
      int want = expect_open_creat(s, d, obj, fsuid);
      int fd = open(at(obj), O_RDONLY | O_CREAT | O_NONBLOCK, 0644);
      int got = outcome(fd);
      if (fd >= 0) close(fd);
      snprintf(what, sizeof what, "uid %u: O_CREAT open of an existing %s in %s", fsuid, kinds[k], d);
      report(verbose, s, what, got == want);
      if (k == 3) continue; /* (a host /tmp may be nodev) */
      fd = open(at(obj), O_RDONLY | O_NONBLOCK);
      snprintf(what, sizeof what, "uid %u: plain open of the %s in %s", fsuid, kinds[k], d);
      report(verbose, s, what, fd >= 0);
      if (fd >= 0) close(fd);
    }
    const char* links[] = {"link", "mylink"};
    for (unsigned k = 0; k < 2; k++) {
      snprintf(obj, sizeof obj, "%s/%s", d, links[k]);
      int want = expect_follow(s, d, obj, fsuid);
      int fd = open(at(obj), O_RDONLY);
      int got = outcome(fd);
      if (fd >= 0) close(fd);
      snprintf(what, sizeof what, "uid %u: open through %s in %s", fsuid, links[k], d);
      report(verbose, s, what, got == want);
      struct stat st;
      snprintf(what, sizeof what, "uid %u: stat through %s in %s", fsuid, links[k], d);
      report(verbose, s, what, outcome(stat(at(obj), &st)) == want);
      snprintf(what, sizeof what, "uid %u: lstat of %s in %s", fsuid, links[k], d);
      report(verbose, s, what, lstat(at(obj), &st) == 0);
      char buf[256];
      snprintf(what, sizeof what, "uid %u: readlink of %s in %s", fsuid, links[k], d);
      report(verbose, s, what, readlink(at(obj), buf, sizeof buf) > 0);
    }
    /* A link passed through (not the last component) is not checked. */
    snprintf(obj, sizeof obj, "%s/dirlink/inside", d);
    int fd = open(at(obj), O_RDONLY);
    snprintf(what, sizeof what, "uid %u: open through a directory link in %s", fsuid, d);
    report(verbose, s, what, fd >= 0);
    if (fd >= 0) close(fd);
  }
  /* Hard links to another user's files. */
  const char* sources[] = {"plain/hl_private", "plain/hl_shared"};
  for (unsigned k = 0; k < 2; k++) {
    struct stat st;
    lstat(at(sources[k]), &st);
    int want = 0;
    if (s.hardlinks != 0 && fsuid != 0 && st.st_uid != fsuid) {
      int rw = (st.st_mode & 0006) == 0006; /* the caller is "other" to these files */
      want = rw && !(st.st_mode & S_ISUID) ? 0 : EPERM;
    }
    char name[64];
    snprintf(name, sizeof name, "plain/hl_%u_%u", fsuid, k);
    int got = outcome(link(at(sources[k]), at(name)));
    snprintf(what, sizeof what, "uid %u: hard link to another user's %s", fsuid, sources[k] + 6);
    report(verbose, s, what, got == want);
    unlink(at(name));
  }
}

/* The cases as uid 1000 (group 1000), in a child. */
static void cases_as_user(int verbose) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    gid_t g = 1000;
    if (setgroups(1, &g) != 0 || setresgid(1000, 1000, 1000) != 0 || setresuid(1000, 1000, 1000) != 0) {
      printf("FAIL cannot become uid 1000\n");
      _exit(1);
    }
    failures_seen = 0;
    cases(verbose, 1000);
    fflush(stdout);
    _exit(failures_seen);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  failures_seen += WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

static void make(const char* name, mode_t mode, uid_t uid, gid_t gid) {
  int fd = open(at(name), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  if (fd >= 0) close(fd);
  if (chown(at(name), uid, gid) != 0 || chmod(at(name), mode) != 0) printf("FAIL setting up %s\n", name);
}

int main(void) {
  if (geteuid() != 0) {
    printf("protected: needs root\n");
    return 0;
  }
  strcpy(dir, "/tmp/protected.XXXXXX");
  if (mkdtemp(dir) == NULL) return 1;
  chmod(dir, 0755);
  make("target", 0644, 0, 0);
  mkdir(at("sub"), 0755);
  make("sub/inside", 0644, 0, 0);
  /* ww: /tmp's shape; gw: sticky and writable by group 1000 only; plain: writable by all, not
   * sticky; owned: /tmp's shape but belonging to uid 2000, who owns the files in it. */
  const mode_t modes[] = {01777, 01770, 0777, 01777};
  const uid_t owners[] = {0, 0, 0, 2000};
  for (unsigned i = 0; i < 4; i++) {
    const char* d = kDirs[i];
    mkdir(at(d), 0700);
    if (chown(at(d), owners[i], 1000) != 0 || chmod(at(d), modes[i]) != 0) printf("FAIL setting up %s\n", d);
    char name[64];
    snprintf(name, sizeof name, "%s/reg", d);
    make(name, 0666, 2000, 2000);
    snprintf(name, sizeof name, "%s/mine", d);
    make(name, 0666, 1000, 1000);
    snprintf(name, sizeof name, "%s/fifo", d);
    if (mkfifo(at(name), 0666) != 0 || chown(at(name), 2000, 2000) != 0 || chmod(at(name), 0666) != 0) {
      printf("FAIL setting up %s\n", name);
    }
    if (i == 0) {
      snprintf(name, sizeof name, "%s/chr", d);
      if (mknod(at(name), S_IFCHR | 0666, makedev(1, 3)) != 0 || chown(at(name), 2000, 2000) != 0) {
        printf("FAIL setting up %s\n", name);
      }
    }
    snprintf(name, sizeof name, "%s/link", d);
    if (symlink(at("target"), at(name)) != 0 || lchown(at(name), 2000, 2000) != 0) printf("FAIL setting up %s\n", name);
    snprintf(name, sizeof name, "%s/mylink", d);
    if (symlink(at("target"), at(name)) != 0 || lchown(at(name), 1000, 1000) != 0) printf("FAIL setting up %s\n", name);
    snprintf(name, sizeof name, "%s/dirlink", d);
    if (symlink(at("sub"), at(name)) != 0 || lchown(at(name), 2000, 2000) != 0) printf("FAIL setting up %s\n", name);
  }
  make("plain/hl_private", 0600, 2000, 2000);
  make("plain/hl_shared", 0666, 2000, 2000);

  struct settings was = current();
  CHECK("the four settings are there", was.regular >= 0 && was.fifos >= 0 && was.symlinks >= 0 && was.hardlinks >= 0);
  CHECK("their values are in range", was.regular <= 2 && was.fifos <= 2 && was.symlinks <= 1 && was.hardlinks <= 1);

  cases(1, 0);
  cases_as_user(1);

  /* The files' interface: root writes a value back in the spellings proc_dointvec accepts;
   * out of range or not a number is EINVAL; another user may not open them for writing. */
  char text[32];
  snprintf(text, sizeof text, "%d\n", was.regular);
  CHECK("writing the value back", write_setting("protected_regular", text) == (long)strlen(text));
  snprintf(text, sizeof text, "  %d \n", was.regular);
  CHECK("with blanks around it", write_setting("protected_regular", text) == (long)strlen(text));
  snprintf(text, sizeof text, "0x%x", was.regular);
  CHECK("in hex", write_setting("protected_regular", text) == (long)strlen(text));
  snprintf(text, sizeof text, "0%o", was.regular);
  CHECK("in octal", write_setting("protected_regular", text) == (long)strlen(text));
  CHECK_ERRNO("3 is out of range", write_setting("protected_regular", "3"), EINVAL);
  CHECK_ERRNO("2 is out of range for protected_symlinks", write_setting("protected_symlinks", "2\n"), EINVAL);
  CHECK_ERRNO("-1 is out of range", write_setting("protected_regular", "-1"), EINVAL);
  CHECK_ERRNO("a word is not a number", write_setting("protected_regular", "one"), EINVAL);
  CHECK_ERRNO("a number with a letter after it", write_setting("protected_regular", "1x"), EINVAL);
  CHECK_ERRNO("blanks only", write_setting("protected_regular", " \n"), EINVAL);
  struct settings now = current();
  CHECK("nothing changed", now.regular == was.regular && now.fifos == was.fifos && now.symlinks == was.symlinks &&
                               now.hardlinks == was.hardlinks);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    if (setresuid(1000, 1000, 1000) != 0) _exit(1);
    int fd = open("/proc/sys/fs/protected_regular", O_WRONLY);
    int e = errno;
    int rfd = open("/proc/sys/fs/protected_regular", O_RDONLY);
    _exit(fd < 0 && e == EACCES && rfd >= 0 ? 0 : 1);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK("another user reads them and may not write them", WIFEXITED(st) && WEXITSTATUS(st) == 0);

  struct utsname u;
  if (uname(&u) == 0 && strstr(u.release, "framekernel") != NULL) {
    /* Every combination, silently: a failure prints a FAIL line, which native never has. */
    for (int r = 0; r <= 2; r++) {
      for (int f = 0; f <= 2; f++) {
        for (int sy = 0; sy <= 1; sy++) {
          for (int h = 0; h <= 1; h++) {
            struct settings s = {r, f, sy, h};
            set_all(s);
            cases(0, 0);
            cases_as_user(0);
          }
        }
      }
    }
    set_all(was);
  }
  abi_failures += failures_seen;

  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  fflush(stdout);
  if (system(cmd) != 0) printf("cleanup failed\n");
  return ABI_DONE();
}
