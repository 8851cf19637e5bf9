// Runs each case of shell_cases.txt with busybox sh under umk (or, with FK_RUNNER=qemu, on the
// bare-metal kernel in QEMU through scripts/qemu-run) and natively on the host, and compares
// stdout and the exit status.
//
// Both runs get the same minimal environment (HOME, PATH, TERM, LC_ALL), umask 022, stdin from
// /dev/null and an empty scratch directory. The native run finds nothing but busybox applets:
// its PATH is a directory holding one symlink per applet (`busybox --list`), made once per test
// program, so a case never picks up a host tool such as GNU coreutils.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

extern char** environ;

namespace {

struct Case {
  std::string name;
  std::string script;
};

// gtest prints parameters of failed tests: the case name, not the struct's bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::vector<Case> load_cases() {
  std::vector<Case> out;
  std::ifstream f(SHELL_CASES);
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("### ", 0) == 0) {
      out.push_back({line.substr(4), ""});
    } else if (!out.empty() && !(line.rfind("#", 0) == 0 && out.back().script.empty())) {
      out.back().script += line + "\n";
    }
  }
  return out;
}

// The environment both shells start with, apart from PATH.
const std::vector<std::string> kBaseEnv = {"HOME=/", "TERM=dumb", "LC_ALL=C"};
const char* const kGuestPath = "PATH=/sbin:/usr/sbin:/bin:/usr/bin";
constexpr int kTimeoutSeconds = 25;  // per run; ctest's limit for the whole test is 60 s

struct Outcome {
  int status = -1;
  std::string out;
  std::string err;
  bool timed_out = false;
};

// One line per thread of every process in process group `pgid` and of their descendants (umk
// and its stub processes): state, kernel wait channel and current system call, read from /proc.
// Printed with a timeout, so a hang says where everyone was waiting.
std::string describe_process_group(pid_t pgid) {
  auto read_line = [](const std::filesystem::path& f) {
    std::ifstream in(f);
    std::string line;
    std::getline(in, line);
    return line;
  };
  // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split at the
  // last ')'.
  auto split_stat = [](const std::string& stat, std::string& comm, std::string& rest) {
    size_t open = stat.find('(');
    size_t close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open) return false;
    comm = stat.substr(open + 1, close - open - 1);
    rest = stat.substr(close + 1);
    return true;
  };
  struct Proc {
    std::filesystem::path dir;
    long pid, ppid, pgrp;
  };
  std::vector<Proc> procs;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::string comm;
    std::string rest;
    if (!split_stat(read_line(entry.path() / "stat"), comm, rest)) continue;
    std::istringstream fields(rest);
    std::string state;
    Proc p{entry.path(), std::atol(entry.path().filename().c_str()), 0, 0};
    if (fields >> state >> p.ppid >> p.pgrp) procs.push_back(p);
  }
  std::vector<long> chosen;
  for (const Proc& p : procs) {
    if (p.pgrp == pgid) chosen.push_back(p.pid);
  }
  for (size_t i = 0; i < chosen.size(); ++i) {  // and their descendants
    for (const Proc& p : procs) {
      if (p.ppid == chosen[i] && p.pgrp != pgid) chosen.push_back(p.pid);
    }
  }
  std::ostringstream out;
  for (const Proc& p : procs) {
    if (std::find(chosen.begin(), chosen.end(), p.pid) == chosen.end()) continue;
    for (const auto& task : std::filesystem::directory_iterator(p.dir / "task", ec)) {
      std::string comm;
      std::string rest;
      if (!split_stat(read_line(task.path() / "stat"), comm, rest)) continue;
      std::string syscall = read_line(task.path() / "syscall");
      out << "  pid " << p.pid << " tid " << task.path().filename().string() << " (" << comm << ")" << rest.substr(0, 2)
          << " wchan " << read_line(task.path() / "wchan") << " syscall " << syscall << "\n";
      // A futex wait (202): whose memory the lock word is in (a library's data says which
      // host lock).
      std::istringstream args(syscall);
      long nr = -1;
      std::string word;
      if (args >> nr >> word && nr == 202) {
        unsigned long addr = std::strtoul(word.c_str(), nullptr, 16);
        std::ifstream maps(p.dir / "maps");
        for (std::string m; std::getline(maps, m);) {
          unsigned long lo = 0;
          unsigned long hi = 0;
          if (std::sscanf(m.c_str(), "%lx-%lx", &lo, &hi) == 2 && addr >= lo && addr < hi) {
            out << "    futex word in: " << m << "\n";
          }
        }
      }
    }
  }
  return out.str();
}

// Runs `path` with `argv` and `env` in `cwd` (if not empty) as the leader of a new process group,
// with default signal dispositions, no blocked signals, umask 022, stdin from /dev/null and no
// other inherited descriptors; collects stdout and stderr. After `timeout_s` seconds the whole
// process group is killed.
Outcome run(const std::string& path, const std::vector<std::string>& argv, const std::vector<std::string>& env,
            const std::string& cwd, int timeout_s = kTimeoutSeconds) {
  Outcome o;
  int out[2];
  int err[2];
  if (pipe2(out, O_CLOEXEC) != 0) return o;
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    return o;
  }
  // Everything the child needs is built before fork: after it only async-signal-safe calls.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    umask(022);
    int null = open("/dev/null", O_RDONLY);
    if (null < 0 || dup2(null, 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0) _exit(96);
    if (close_range(3, ~0U, 0) != 0) {
      for (int fd = 3; fd < 4096; ++fd) close(fd);
    }
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(98);
    execve(path.c_str(), args.data(), envp.data());
    _exit(99);
  }
  if (pid > 0) setpgid(pid, pid);  // as the child does: no window where kill(-pid) misses
  close(out[1]);
  close(err[1]);
  if (pid < 0) {
    close(out[0]);
    close(err[0]);
    return o;
  }

  const time_t deadline = time(nullptr) + timeout_s;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&o.out, &o.err};
  int open_fds = 2;
  while (open_fds > 0) {
    const time_t left = deadline - time(nullptr);
    if (left <= 0) {
      o.timed_out = true;
      o.err += "\n[harness] threads of the process group at the timeout:\n" + describe_process_group(pid);
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      break;
    }
    int n = poll(fds, 2, static_cast<int>(left) * 1000);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[65536];
      ssize_t r = read(fds[i].fd, buf, sizeof buf);
      if (r > 0) {
        sinks[i]->append(buf, static_cast<size_t>(r));
      } else if (r == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (const pollfd& p : fds) {
    if (p.fd >= 0) close(p.fd);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  o.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return o;
}

std::vector<std::string> host_environ() {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  return env;
}

// The last `max` bytes of `s`, for failure messages.
std::string tail_of(const std::string& s, size_t max = 4000) {
  return s.size() <= max ? s : "..." + s.substr(s.size() - max);
}

class ShellCase : public ::testing::TestWithParam<Case> {
 protected:
  // One symlink per busybox applet, pointing at BUSYBOX.
  static void SetUpTestSuite() {
    setup_error_ = new std::string;
    char tmpl[] = "/tmp/umk-applets-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      *setup_error_ = "mkdtemp failed";
      return;
    }
    applet_dir_ = new std::string(tmpl);
    Outcome list = run(BUSYBOX, {"busybox", "--list"}, kBaseEnv, "");
    std::istringstream names(list.out);
    std::string name;
    int count = 0;
    while (names >> name) {
      if (symlink(BUSYBOX, (*applet_dir_ + "/" + name).c_str()) != 0) {
        *setup_error_ = "symlink " + name + " failed";
        return;
      }
      ++count;
    }
    if (list.status != 0 || count < 100) {
      *setup_error_ =
          "`" BUSYBOX " --list` gave " + std::to_string(count) + " applets, status " + std::to_string(list.status);
    } else if (access((*applet_dir_ + "/sh").c_str(), X_OK) != 0) {
      *setup_error_ = "busybox has no sh applet";
    }
  }

  static void TearDownTestSuite() {
    if (applet_dir_ != nullptr) {
      std::error_code ec;
      std::filesystem::remove_all(*applet_dir_, ec);
    }
    delete applet_dir_;
    delete setup_error_;
    applet_dir_ = nullptr;
    setup_error_ = nullptr;
  }

  static std::string* applet_dir_;
  static std::string* setup_error_;
};

std::string* ShellCase::applet_dir_ = nullptr;
std::string* ShellCase::setup_error_ = nullptr;

TEST_P(ShellCase, MatchesNativeBusybox) {
  const Case& c = GetParam();
  ASSERT_TRUE(setup_error_ != nullptr && setup_error_->empty()) << (setup_error_ ? *setup_error_ : "no setup");

  char tmpl[] = "/tmp/umk-native-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  std::vector<std::string> env = kBaseEnv;
  env.push_back("PATH=" + *applet_dir_);
  Outcome native = run(*applet_dir_ + "/sh", {"sh", "-c", c.script}, env, dir);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  ASSERT_FALSE(native.timed_out) << "native run timed out; script:\n" << c.script;

  // Under umk: the same environment through `env -i` (PATH is the root file system's), umask and
  // stdin as natively, and an empty /tmp/case. The case's script follows on its own line, so it
  // is parsed exactly as natively (aliases, for one, apply from the next line on).
  // FK_RUNNER=qemu: the same suite on the bare-metal kernel (scripts/qemu-run, same interface).
  const char* runner = std::getenv("FK_RUNNER");
  const bool qemu = runner != nullptr && std::string(runner) == "qemu";
  std::vector<std::string> argv = {UMK_PATH, "run"};
  if (qemu) argv = {QEMU_RUN};
  for (const char* a : {"--initramfs", ROOTFS_CPIO, "--", "/usr/bin/env", "-i"}) argv.push_back(a);
  argv.insert(argv.end(), kBaseEnv.begin(), kBaseEnv.end());
  argv.push_back(kGuestPath);
  argv.push_back("sh");
  argv.push_back("-c");
  argv.push_back("umask 022; exec </dev/null; mkdir -p /tmp/case && cd /tmp/case || exit 97; unset OLDPWD\n" +
                 c.script);
  Outcome mine = run(argv[0], argv, host_environ(), "");
  ASSERT_FALSE(mine.timed_out) << argv[0] << " timed out; script:\n"
                               << c.script << "stdout:\n"
                               << tail_of(mine.out) << "stderr:\n"
                               << tail_of(mine.err);

  EXPECT_EQ(mine.out, native.out) << "script:\n"
                                  << c.script << "umk stderr:\n"
                                  << tail_of(mine.err) << "native stderr:\n"
                                  << tail_of(native.err);
  EXPECT_EQ(mine.status, native.status) << "script:\n"
                                        << c.script << "umk stderr:\n"
                                        << tail_of(mine.err) << "native stderr:\n"
                                        << tail_of(native.err);
}

INSTANTIATE_TEST_SUITE_P(Busybox, ShellCase, ::testing::ValuesIn(load_cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
