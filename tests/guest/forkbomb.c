/* forkbomb: forks children that sleep until fork fails, then checks the failure is EAGAIN at
 * the kernel's task limit (/proc/sys/kernel/threads-max), kills them all with one kill(-pgid)
 * and reaps them. Prints "forkbomb: N children, EAGAIN at threads-max M" and exits 0, or says
 * what went wrong and exits 1. A non-root user (uid 1000) with RLIMIT_NPROC 5 next: its fourth
 * child fails with EAGAIN while root's limit did not apply. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int fork_until_eagain(int* err) {
  int n = 0;
  for (;;) {
    pid_t c = fork();
    if (c == 0) {
      for (;;) pause();
    }
    if (c < 0) {
      *err = errno;
      return n;
    }
    ++n;
  }
}

static void reap_all(int n) {
  for (int i = 0; i < n; ++i) {
    if (wait(NULL) < 0) {
      perror("forkbomb: wait");
      exit(1);
    }
  }
}

int main(void) {
  FILE* f = fopen("/proc/sys/kernel/threads-max", "r");
  long max = 0;
  if (!f || fscanf(f, "%ld", &max) != 1 || max < 20) {
    printf("forkbomb: no threads-max\n");
    return 1;
  }
  fclose(f);
  setpgid(0, 0);
  int err = 0;
  int n = fork_until_eagain(&err);
  signal(SIGTERM, SIG_IGN); /* the group kill is for the children */
  kill(-getpgid(0), SIGTERM);
  reap_all(n);
  printf("forkbomb: %d children, %s at threads-max %ld\n", n, err == EAGAIN ? "EAGAIN" : "not EAGAIN", max);
  if (err != EAGAIN || n > max || n < max - 50) return 1;

  pid_t user = fork();
  if (user == 0) {
    setpgid(0, 0);
    signal(SIGTERM, SIG_DFL);
    struct rlimit rl = {5, 5};
    if (setrlimit(RLIMIT_NPROC, &rl) != 0 || setuid(1000) != 0) _exit(2);
    int uerr = 0;
    int un = fork_until_eagain(&uerr);
    signal(SIGTERM, SIG_IGN);
    kill(-getpgid(0), SIGTERM);
    reap_all(un);
    _exit(un == 4 && uerr == EAGAIN ? 0 : 3); /* itself and four children: five tasks */
  }
  int st = 0;
  waitpid(user, &st, 0);
  printf("forkbomb: uid 1000 with RLIMIT_NPROC 5: %s\n",
         WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "EAGAIN at 5" : "wrong");
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return 1;

  /* A group kill in the middle of a bomb whose every process keeps forking: no process of the
   * group may survive it (each fork either happened before the kill saw the group, or is undone). */
  pid_t g = fork();
  if (g == 0) {
    setpgid(0, 0);
    for (;;) (void)fork();
  }
  setpgid(g, g);
  usleep(300000);
  kill(-g, SIGKILL);
  /* Killed processes die when they next run: on a loaded host that can take seconds. */
  int survivors = -1;
  for (time_t give_up = time(NULL) + 30; survivors != 0 && time(NULL) < give_up;) {
    while (waitpid(-1, NULL, WNOHANG) > 0) {}
    usleep(20000);
    while (waitpid(-1, NULL, WNOHANG) > 0) {}
    survivors = 0;
    DIR* proc = opendir("/proc");
    if (!proc) {
      perror("forkbomb: /proc");
      return 1;
    }
    for (struct dirent* de; (de = readdir(proc)) != NULL;) {
      int pid = atoi(de->d_name);
      if (pid < 2) continue;
      char path[64];
      snprintf(path, sizeof path, "/proc/%d/stat", pid);
      FILE* sf = fopen(path, "r");
      if (!sf) continue;
      int spid = 0, ppid = 0, pgrp = 0;
      char state = 0;
      if (fscanf(sf, "%d %*s %c %d %d", &spid, &state, &ppid, &pgrp) == 4 && pgrp == g && state != 'Z') ++survivors;
      fclose(sf);
    }
    closedir(proc);
  }
  printf("forkbomb: group kill during a bomb: %d survivors\n", survivors);
  return survivors == 0 ? 0 : 1;
}
