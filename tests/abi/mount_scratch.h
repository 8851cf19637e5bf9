/* A private mount namespace to mount in, and scratch directories for the mount tests (run as
 * root, natively too): / is made private (nothing propagates to the host's namespace), and
 * /tmp/NAME.PID holds a, b and c. Include after <sched.h>, <sys/mount.h>, <sys/stat.h> with
 * _GNU_SOURCE, and after abi_check.h. */
#pragma once
#include <stdio.h>
#include <unistd.h>

static char top[64], a[96], b[96], c[96];

static void mount_scratch(const char* name) {
  CHECK("unshare(CLONE_NEWNS)", unshare(CLONE_NEWNS) == 0);
  CHECK("make / private", mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
  snprintf(top, sizeof top, "/tmp/%s.%d", name, (int)getpid());
  snprintf(a, sizeof a, "%s/a", top);
  snprintf(b, sizeof b, "%s/b", top);
  snprintf(c, sizeof c, "%s/c", top);
  mkdir(top, 0755);
  mkdir(a, 0755);
  mkdir(b, 0755);
  mkdir(c, 0755);
}
