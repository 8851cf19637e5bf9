// umk's own seccomp allow-list (ostd::host::confine, docs/safety.md "umk confines itself"):
// each case confines a forked child and makes one host call, allowed or not.
#include <gtest/gtest.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <string>

#include <ostd/host/host.h>

namespace {

struct Outcome {
  int status = 0;
  std::string err;
};

// Forks a child that confines itself as umk would with `config`, then runs `body` (raw host
// calls only) and exits 0. The parent collects its wait status and stderr.
Outcome confined(const ostd::host::Config& config, void (*body)()) {
  std::array<int, 2> p{};
  EXPECT_EQ(pipe(p.data()), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(p[1], 2);
    close(p[0]);
    const rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    std::string err = ostd::host::confine(config);
    if (!err.empty()) {
      (void)!write(2, err.data(), err.size());
      _exit(97);
    }
    body();
    syscall(SYS_exit_group, 0);
  }
  close(p[1]);
  Outcome o;
  std::array<char, 4096> buf{};
  ssize_t n = 0;
  while ((n = read(p[0], buf.data(), buf.size())) > 0) o.err.append(buf.data(), static_cast<size_t>(n));
  close(p[0]);
  EXPECT_EQ(waitpid(pid, &o.status, 0), pid);
  return o;
}

bool killed_by_sigsys(const Outcome& o) { return WIFSIGNALED(o.status) && WTERMSIG(o.status) == SIGSYS; }

ostd::host::Config no_net() {
  ostd::host::Config c;
  c.net.user = false;
  return c;
}

TEST(Confine, ForbiddenCallStopsTheProcessNamingIt) {
  Outcome o = confined(no_net(), [] {
    const char* argv[] = {"/bin/true", nullptr};
    syscall(SYS_execve, "/bin/true", argv, nullptr);
  });
  EXPECT_TRUE(killed_by_sigsys(o)) << std::hex << o.status << " " << o.err;
  EXPECT_NE(o.err.find("host system call 59 (execve)"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("not on umk's seccomp allow-list"), std::string::npos) << o.err;
}

TEST(Confine, WhatTheKernelNeedsStillRuns) {
  Outcome o = confined(no_net(), [] {
    void* m = mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) syscall(SYS_exit_group, 1);
    static_cast<char*>(m)[4096] = 1;
    if (munmap(m, 1 << 20) != 0) syscall(SYS_exit_group, 2);
    timespec ts{};
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) syscall(SYS_exit_group, 3);
    int fd = static_cast<int>(syscall(SYS_openat, AT_FDCWD, "/proc/self/status", O_RDONLY | O_CLOEXEC));
    std::array<char, 64> buf{};
    if (fd < 0 || read(fd, buf.data(), buf.size()) <= 0) syscall(SYS_exit_group, 4);
    close(fd);
    if (syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), 0) != 0) syscall(SYS_exit_group, 5);
  });
  EXPECT_TRUE(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0) << std::hex << o.status << " " << o.err;
}

// The argument conditions: each of these is a call the list has, with arguments it refuses.
TEST(Confine, ExecutableMemoryIsRefused) {
  Outcome o =
      confined(no_net(), [] { mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); });
  EXPECT_TRUE(killed_by_sigsys(o)) << o.err;
  EXPECT_NE(o.err.find("(mmap)"), std::string::npos) << o.err;
}

TEST(Confine, OpeningForWritingIsRefusedWithoutAShare) {
  Outcome o = confined(
      no_net(), [] { syscall(SYS_openat, AT_FDCWD, "/tmp/umk-confine-test", O_WRONLY | O_CREAT | O_CLOEXEC, 0600); });
  EXPECT_TRUE(killed_by_sigsys(o)) << o.err;
  EXPECT_NE(o.err.find("(openat)"), std::string::npos) << o.err;
  EXPECT_NE(access("/tmp/umk-confine-test", F_OK), 0);
}

TEST(Confine, PtraceAttachIsRefused) {
  Outcome o = confined(no_net(), [] { syscall(SYS_ptrace, PTRACE_ATTACH, 1, 0, 0); });
  EXPECT_TRUE(killed_by_sigsys(o)) << o.err;
  EXPECT_NE(o.err.find("(ptrace)"), std::string::npos) << o.err;
  o = confined(no_net(), [] { syscall(SYS_ptrace, PTRACE_SEIZE, 1, 0, 0); });
  EXPECT_TRUE(killed_by_sigsys(o)) << o.err;
  o = confined(no_net(), [] { syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0); });
  EXPECT_TRUE(killed_by_sigsys(o)) << o.err;
  // What umk does make is allowed: on a process that is not its tracee, ESRCH.
  o = confined(no_net(), [] {
    syscall(SYS_exit_group, syscall(SYS_ptrace, PTRACE_GETREGS, 1, 0, 0) == -1 && errno == ESRCH ? 0 : 1);
  });
  EXPECT_TRUE(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0) << std::hex << o.status << o.err;
}

TEST(Confine, SignalsToProcessGroupsAreRefused) {
  Outcome o = confined(no_net(), [] { syscall(SYS_kill, 0, 0); });
  EXPECT_TRUE(killed_by_sigsys(o)) << o.err;
  EXPECT_NE(o.err.find("(kill)"), std::string::npos) << o.err;
}

TEST(Confine, TerminalIoctlsOnlyAndSocketsOnlyWithANetwork) {
  Outcome o = confined(no_net(), [] { syscall(SYS_ioctl, 0, TIOCSTI, "x"); });
  EXPECT_TRUE(killed_by_sigsys(o)) << o.err;
  EXPECT_NE(o.err.find("(ioctl)"), std::string::npos) << o.err;
  o = confined(no_net(), [] { syscall(SYS_socket, AF_INET, SOCK_STREAM, 0); });
  EXPECT_TRUE(killed_by_sigsys(o)) << o.err;
  ostd::host::Config net;
  net.net.user = true;
  o = confined(net, [] {
    long fd = syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) syscall(SYS_exit_group, 1);
    syscall(SYS_socket, AF_NETLINK, SOCK_RAW, 0);  // not the NIC's: refused
  });
  EXPECT_TRUE(killed_by_sigsys(o)) << o.err;
  EXPECT_NE(o.err.find("(socket)"), std::string::npos) << o.err;
}

}  // namespace

namespace {
// Forks a child that bounds its paths as umk would with `config`, runs `body` and exits with
// its result; 77 when the host has no Landlock.
int with_paths_confined(const ostd::host::Config& config, int (*body)()) {
  pid_t pid = fork();
  if (pid == 0) {
    if (ostd::host::confine_paths(config) == 0) _exit(77);
    _exit(body());
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int open_error(const char* path, int flags) {
  int fd = open(path, flags | O_CLOEXEC, 0600);
  if (fd >= 0) {
    close(fd);
    return 0;
  }
  return errno;
}
}  // namespace

// Landlock bounds the paths: /proc and /sys readable, a shared directory fully usable, the rest
// of the host's files closed (EACCES, the process goes on).
TEST(Confine, HostPathsAreBoundedToWhatTheKernelNeeds) {
  int r = with_paths_confined(no_net(), [] {
    if (open_error("/proc/self/status", O_RDONLY) != 0) return 1;
    if (open_error("/sys/devices/system/clocksource/clocksource0/current_clocksource", O_RDONLY) != 0) return 2;
    if (open_error("/etc/passwd", O_RDONLY) != EACCES) return 3;
    if (open_error("/tmp/umk-landlock-test", O_WRONLY | O_CREAT) != EACCES) return 4;
    return 0;
  });
  if (r == 77) GTEST_SKIP() << "no Landlock on this host";
  EXPECT_EQ(r, 0);

  static std::string share = "/tmp/umk-landlock-share-" + std::to_string(getpid());
  ASSERT_EQ(mkdir(share.c_str(), 0700), 0);
  ostd::host::Config config = no_net();
  config.volumes.push_back({share, "/mnt", false, "vol0"});
  r = with_paths_confined(config, [] {
    std::string inside = share + "/file";
    if (open_error(inside.c_str(), O_WRONLY | O_CREAT) != 0) return 1;
    if (unlink(inside.c_str()) != 0) return 2;
    std::string beside = share + "-beside";
    if (open_error(beside.c_str(), O_WRONLY | O_CREAT) != EACCES) return 3;
    return 0;
  });
  EXPECT_EQ(r, 0);
  rmdir(share.c_str());
}
