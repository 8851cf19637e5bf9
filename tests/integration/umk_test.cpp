// Runs the umk executable as a user would and checks what comes out.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Outcome {
  int status = -1;  // exit status, or 128+signal
  std::string out;
  std::string err;
};

std::string slurp(int fd) {
  std::string s;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
  return s;
}

// Runs argv with stdout/stderr captured (stderr through a temp file to avoid pipe deadlock).
Outcome run(const std::vector<std::string>& argv, const std::string& argv0 = "") {
  int out[2];
  EXPECT_EQ(pipe(out), 0);
  FILE* errf = tmpfile();
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(fileno(errf), 2);
    close(out[0]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    if (!argv0.empty()) args[0] = const_cast<char*>(argv0.c_str());
    args.push_back(nullptr);
    execv(argv[0].c_str(), args.data());
    _exit(99);
  }
  close(out[1]);
  Outcome o;
  o.out = slurp(out[0]);
  close(out[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  o.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  rewind(errf);
  o.err = slurp(fileno(errf));
  fclose(errf);
  return o;
}

const std::string kUmk = UMK_PATH;
// Built with a sanitizer (so is umk then): slower, and unconfined (umk/main.cpp).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif
const std::string kCpio = GUESTS_CPIO;
const std::string kRoot = GUESTS_ROOT;

Outcome umk(std::vector<std::string> program) {
  std::vector<std::string> argv = {kUmk, "run", "--initramfs", kCpio, "--"};
  argv.insert(argv.end(), program.begin(), program.end());
  return run(argv);
}

}  // namespace

TEST(Umk, RunsAGuestThatPrintsThroughASystemCall) {
  Outcome o = umk({"/hello"});
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "hello from a guest\n");
}

TEST(Umk, MuslStaticBinaryMatchesNativeRun) {
  Outcome mine = umk({"/hello-musl", "one", "two words"});
  Outcome native = run({kRoot + "/hello-musl", "one", "two words"}, "/hello-musl");
  EXPECT_EQ(mine.status, native.status);
  EXPECT_EQ(mine.out, native.out);
  EXPECT_NE(mine.out.find("tls=42"), std::string::npos);
}

TEST(Umk, InitIgnoresSignalsItHasNoHandlerFor) {
  // pid 1 gets only the signals it handles (Linux's SIGNAL_UNKILLABLE; a container's init
  // behaves the same); any other process dies of them.
  Outcome o = run({kUmk, "run", "--initramfs", ROOTFS_CPIO, "--", "/bin/sh", "-c",
                   "kill -TERM $$; kill -TTIN $$; kill -KILL $$; echo alive; "
                   "sh -c 'kill -TERM $$; echo not-reached'; echo child=$?"});
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "alive\nchild=143\n");
}

TEST(Umk, ExitStatusAndSymlinkedProgram) {
  Outcome mine = umk({"/link-to-musl", "exit7"});
  Outcome native = run({kRoot + "/hello-musl", "exit7"}, "/link-to-musl");
  EXPECT_EQ(mine.status, 7);
  EXPECT_EQ(mine.status, native.status);
  EXPECT_EQ(mine.out, native.out);
}

TEST(Umk, FaultingProgramDiesWithSigsegvStatus) {
  Outcome o = umk({"/hello-musl", "fault"});
  EXPECT_EQ(o.status, 128 + SIGSEGV) << o.err;
  Outcome native = run({kRoot + "/hello-musl", "fault"}, "/hello-musl");
  EXPECT_EQ(native.status, 128 + SIGSEGV);
}

TEST(Umk, MalformedElfIsNoexecNotACrash) {
  Outcome o = umk({"/bad-elf"});
  EXPECT_EQ(o.status, 126);
  EXPECT_NE(o.err.find("Exec format error (ENOEXEC)"), std::string::npos) << o.err;
}

TEST(Umk, MissingProgramIs127) {
  Outcome o = umk({"/no/such/program"});
  EXPECT_EQ(o.status, 127);
  EXPECT_NE(o.err.find("No such file or directory (ENOENT)"), std::string::npos) << o.err;
}

// --log-file: the kernel's messages go to the file, not to the stderr the guest shares.
TEST(Umk, LogFileTakesTheKernelsMessages) {
  char path[] = "/tmp/umk-logXXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  Outcome o = run({kUmk, "run", "--log-file", path, "--initramfs", kCpio, "--", "/no/such/program"});
  EXPECT_EQ(o.status, 127);
  EXPECT_EQ(o.err.find("cannot run"), std::string::npos) << o.err;
  std::ifstream f(path);
  std::string log((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_NE(log.find("cannot run /no/such/program: No such file or directory (ENOENT)"), std::string::npos) << log;
  unlink(path);
  Outcome bad = run({kUmk, "run", "--log-file", "/no/such/dir/log", "--initramfs", kCpio, "--", "/hello-musl"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("cannot write the log file"), std::string::npos) << bad.err;
}

TEST(Umk, HelpAndUsageErrors) {
  Outcome h = run({kUmk, "--help"});
  EXPECT_EQ(h.status, 0);
  EXPECT_NE(h.out.find("umk run"), std::string::npos);
  EXPECT_NE(h.out.find("--initramfs"), std::string::npos);
  EXPECT_EQ(run({kUmk, "run", "--bogus", "--", "/hello"}).status, 2);
  EXPECT_EQ(run({kUmk, "run", "--mem", "12Q", "--", "/hello"}).status, 2);
  EXPECT_EQ(run({kUmk, "run", "--initramfs", kCpio}).status, 2);
  EXPECT_EQ(run({kUmk}).status, 2);
}

// A bad --initramfs is a clear error and status 2, promptly: not an abort (a directory), not an
// endless read (/dev/zero) or a blocked open (a FIFO), not an archive the guest cannot hold.
TEST(Umk, InitramfsMustBeARegularFileThatFitsInMemory) {
  const std::string dir = ::testing::TempDir() + "umk_initramfs_" + std::to_string(getpid());
  ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
  const std::string fifo = dir + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string big = dir + "/big.cpio";
  {
    std::ofstream f(big);
    f.seekp((40 << 20) - 1);
    f.put('\0');
  }
  for (const std::string& bad : {dir, fifo, std::string("/dev/zero")}) {
    Outcome o = run({kUmk, "run", "--initramfs", bad, "--", "/hello"});
    EXPECT_EQ(o.status, 2) << bad;
    EXPECT_NE(o.err.find("not a regular file"), std::string::npos) << bad << ": " << o.err;
  }
  Outcome o = run({kUmk, "run", "--mem", "32M", "--initramfs", big, "--", "/hello"});
  EXPECT_EQ(o.status, 2);
  EXPECT_NE(o.err.find("larger (40 MiB) than the guest's memory (--mem 32M)"), std::string::npos) << o.err;
  Outcome missing = run({kUmk, "run", "--initramfs", dir + "/none", "--", "/hello"});
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("No such file or directory"), std::string::npos) << missing.err;
  unlink(big.c_str());
  unlink(fifo.c_str());
  rmdir(dir.c_str());
}

// A fork bomb ends in EAGAIN at the kernel's task limit, which follows --mem as Linux's
// threads-max follows RAM (a task per 32 pages: 512 with 64M), so the host processes behind the
// guest's stay bounded; one group kill ends them all and umk exits promptly. A non-root user's
// RLIMIT_NPROC holds too (guest tests/guest/forkbomb.c).
TEST(Umk, ForkBombEndsInEagainAtThreadsMax) {
  auto start = std::chrono::steady_clock::now();
  Outcome o = run({kUmk, "run", "--mem", "64M", "--initramfs", kCpio, "--", "/forkbomb"});
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(o.status, 0) << o.out << o.err;
  EXPECT_NE(o.out.find("EAGAIN at threads-max 5"), std::string::npos) << o.out;  // 5xx
  EXPECT_NE(o.out.find("uid 1000 with RLIMIT_NPROC 5: EAGAIN at 5"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("group kill during a bomb: 0 survivors"), std::string::npos) << o.out;
  EXPECT_LT(secs, kSanitized ? 150.0 : 50.0);  // ~5 s here, ~20 s under ASan, on a quiet host
}

namespace {
std::vector<int> children_of(pid_t pid) {
  std::vector<int> kids;
  std::ifstream f("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  int k;
  while (f >> k) kids.push_back(k);
  return kids;
}
bool alive(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  if (!f) return false;
  std::string line;
  std::getline(f, line);
  auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}
// Starts `umk run --initramfs GUESTS [extra...] -- /loop` (a guest that never ends) with its
// output to /dev/null; the caller kills it.
pid_t start_umk_loop(std::vector<std::string> extra = {}) {
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    std::vector<std::string> argv = {kUmk, "run", "--initramfs", kCpio};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.insert(argv.end(), {"--", "/loop"});
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(kUmk.c_str(), args.data());
    _exit(99);
  }
  return pid;
}
}  // namespace

TEST(Umk, KillingUmkLeavesNoStubProcess) {
  pid_t pid = start_umk_loop();
  std::vector<int> stubs;
  for (int i = 0; i < 200 && stubs.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    stubs = children_of(pid);
  }
  ASSERT_FALSE(stubs.empty()) << "umk never started a stub";
  for (int s : stubs) EXPECT_TRUE(alive(s));
  kill(pid, SIGKILL);
  int st = 0;
  waitpid(pid, &st, 0);
  for (int i = 0; i < 200; ++i) {
    bool any = false;
    for (int s : stubs) any |= alive(s);
    if (!any) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (int s : stubs) EXPECT_FALSE(alive(s)) << "stub " << s << " outlived umk";
}

namespace {
std::string status_field(const std::string& status_path, const std::string& field) {
  std::ifstream f(status_path);
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      auto v = line.find_first_not_of(" \t", field.size() + 1);
      return v == std::string::npos ? "" : line.substr(v);
    }
  }
  return "?";
}
std::string comm_of(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/comm");
  std::string c;
  std::getline(f, c);
  return c;
}
// umk's threads, once it has booted (the launcher and a stub are its children).
std::vector<int> tasks_of(pid_t pid) {
  std::vector<int> tids;
  for (int i = 0; i < 1000 && children_of(pid).size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    tids.push_back(std::stoi(e.path().filename().string()));
  }
  return tids;
}

// Runs /loop under umk with `extra` options and returns, once booted, the Seccomp mode of each
// of umk's threads and, per child, its name and how many filters its first thread has.
struct Confinement {
  std::vector<std::string> umk_threads;
  std::vector<std::pair<std::string, std::string>> children;
};
Confinement confinement_of_umk(std::vector<std::string> extra) {
  pid_t pid = start_umk_loop(std::move(extra));
  Confinement c;
  for (int tid : tasks_of(pid)) {
    c.umk_threads.push_back(
        status_field("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/status", "Seccomp"));
  }
  for (int k : children_of(pid)) {
    c.children.emplace_back(comm_of(k), status_field("/proc/" + std::to_string(k) + "/status", "Seccomp_filters"));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return c;
}
}  // namespace

// Once booted, every umk thread runs under umk's own filter (mode 2); the launcher that starts
// the stubs has only the stubs' filter, and a stub's first thread that and at most its own (the
// ptrace platform's vsyscall trap): a guest's system calls are never judged by umk's filter.
// --confine off leaves umk as it was.
TEST(Umk, ConfinesItselfOnceBootedButNotItsStubs) {
  if (kSanitized) GTEST_SKIP() << "sanitizer builds of umk run unconfined (their runtimes' own host calls)";
  Confinement on = confinement_of_umk({});
  ASSERT_GE(on.umk_threads.size(), 1u);
  for (const std::string& mode : on.umk_threads) EXPECT_EQ(mode, "2");
  ASSERT_GE(on.children.size(), 2u);
  bool launcher = false;
  for (const auto& [comm, filters] : on.children) {
    if (comm == "umk-launcher") {
      launcher = true;
      EXPECT_EQ(filters, "1");  // the stubs' host calls (ptrace_platform.cpp)
    } else {
      // The launcher's, and on the ptrace platform the vsyscall trap.
      EXPECT_TRUE(filters == "1" || filters == "2") << comm << " has " << filters << " filters";
    }
  }
  EXPECT_TRUE(launcher);
  Confinement off = confinement_of_umk({"--confine", "off"});
  ASSERT_GE(off.umk_threads.size(), 1u);
  for (const std::string& mode : off.umk_threads) EXPECT_EQ(mode, "0");
}

// An attacker who controlled umk could drive the processes it traces or started. The stub
// launcher (and every stub, which inherits its filter) runs under a filter of the stub's own
// host calls: made to call socket() through ptrace, as umk could, it gets SIGSYS instead.
TEST(Umk, StubLauncherRefusesHostCallsOutsideTheStubsList) {
  pid_t pid = start_umk_loop();
  struct KillAtExit {  // a failed ASSERT must not leave umk and its spinning guest behind
    pid_t pid;
    ~KillAtExit() {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  } kill_at_exit{pid};
  // The launcher names itself, loads its filter and waits in read() for requests. Stubs are
  // clones of it (CLONE_PARENT: umk's children too) and carry its name until their exec, but
  // they are umk's tracees; the launcher is nobody's.
  auto is_waiting_launcher = [](int k) {
    const std::string proc = "/proc/" + std::to_string(k);
    std::ifstream in(proc + "/syscall");
    std::string nr;
    in >> nr;
    return comm_of(k) == "umk-launcher" && status_field(proc + "/status", "TracerPid") == "0" &&
           status_field(proc + "/status", "Seccomp") == "2" && nr == "0";
  };
  pid_t launcher = 0;
  for (int i = 0; i < 1000 && launcher == 0; ++i) {
    for (int k : children_of(pid)) {
      if (is_waiting_launcher(k)) launcher = k;
    }
    if (launcher == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_NE(launcher, 0) << "no stub launcher under its filter, waiting for requests";
  ASSERT_EQ(ptrace(PTRACE_SEIZE, launcher, nullptr, nullptr), 0) << strerror(errno);
  ASSERT_EQ(ptrace(PTRACE_INTERRUPT, launcher, nullptr, nullptr), 0);
  int st = 0;
  ASSERT_EQ(waitpid(launcher, &st, __WALL), launcher);
  ASSERT_TRUE(WIFSTOPPED(st));
  user_regs_struct r{};
  ASSERT_EQ(ptrace(PTRACE_GETREGS, launcher, nullptr, &r), 0);
  // Stopped in its read(): the `syscall` instruction is just behind rip.
  errno = 0;
  long text = ptrace(PTRACE_PEEKTEXT, launcher, reinterpret_cast<void*>(r.rip - 2), nullptr);
  ASSERT_EQ(errno, 0);
  ASSERT_EQ(text & 0xffff, 0x050f) << "not stopped at a system call";
  r.orig_rax = static_cast<unsigned long long>(-1);  // no restart of the read
  r.rip -= 2;
  r.rax = SYS_socket;
  r.rdi = AF_INET;
  r.rsi = SOCK_STREAM;
  r.rdx = 0;
  ASSERT_EQ(ptrace(PTRACE_SETREGS, launcher, nullptr, &r), 0);
  ASSERT_EQ(ptrace(PTRACE_CONT, launcher, nullptr, nullptr), 0);
  ASSERT_EQ(waitpid(launcher, &st, __WALL), launcher);
  EXPECT_TRUE(WIFSTOPPED(st) && WSTOPSIG(st) == SIGSYS)
      << "socket() ran in the launcher (status " << std::hex << st << ")";
  ptrace(PTRACE_DETACH, launcher, nullptr, nullptr);
}
