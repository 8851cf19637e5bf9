// Runs each case of shell_cases.txt with busybox sh under umk and natively on the host, and
// compares stdout and the exit status.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

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

struct Outcome {
  int status = -1;
  std::string out;
};

Outcome run(const std::vector<std::string>& argv, const std::string& cwd) {
  int p[2];
  if (pipe(p) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(p[1], 1);
    close(p[0]);
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(98);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(argv[0].c_str(), args.data());
    _exit(99);
  }
  close(p[1]);
  Outcome o;
  char buf[4096];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof buf)) > 0) o.out.append(buf, static_cast<size_t>(n));
  close(p[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  o.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return o;
}

class ShellCase : public ::testing::TestWithParam<Case> {};

TEST_P(ShellCase, MatchesNativeBusybox) {
  const Case& c = GetParam();
  char tmpl[] = "/tmp/umk-native-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  Outcome native = run({BUSYBOX, "sh", "-c", c.script}, dir);
  std::system(("rm -rf " + dir).c_str());
  std::string script = "mkdir -p /tmp/case && cd /tmp/case && {\n" + c.script + "}";
  Outcome mine = run({UMK_PATH, "run", "--initramfs", ROOTFS_CPIO, "--", "/bin/sh", "-c", script}, "");
  EXPECT_EQ(mine.out, native.out) << "script:\n" << c.script;
  EXPECT_EQ(mine.status, native.status) << "script:\n" << c.script;
}

INSTANTIATE_TEST_SUITE_P(Busybox, ShellCase, ::testing::ValuesIn(load_cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
