// umk confines itself: once the kernel has booted (host files opened, the NIC's thread and the
// stub launcher started), a seccomp allow-list of the host system calls the running kernel
// needs is loaded on every thread of the process, as gVisor's runsc does for its Sentry. A
// call outside it is a kernel bug or an attacker's: umk reports it and dies of SIGSYS.
//
// The list, and why each entry is there, is in docs/safety.md ("umk confines itself"); keep
// the two in step. Stubs never inherit this filter: the launcher that starts them was forked
// before it (ptrace_platform.cpp), and they keep their own.
#include <execinfo.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <initializer_list>

#include <ostd/format.h>
#include <ostd/host/host.h>

#include "host_internal.h"

namespace ostd::host {

namespace {

// Names of host system calls for the report, resolved before the filter is loaded (the
// handler must not allocate: the forbidden call may have come from inside malloc).
constexpr int kNamedCalls = 512;
std::array<std::array<char, 32>, kNamedCalls> g_names{};

void resolve_names() {
  for (int nr = 0; nr < kNamedCalls; ++nr) {
    char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
    if (name == nullptr) continue;
    std::snprintf(g_names[static_cast<usize>(nr)].data(), g_names[0].size(), "%s", name);
    std::free(name);
  }
}

void on_forbidden_call(int, siginfo_t* info, void* ucontext) {
  const int nr = info->si_syscall;
  const char* name = nr >= 0 && nr < kNamedCalls && g_names[static_cast<usize>(nr)][0] != '\0'
                         ? g_names[static_cast<usize>(nr)].data()
                         : "unknown";
  // SAFETY: an SA_SIGINFO handler (confine()) gets the host's ucontext; only uc_mcontext.gregs
  // is read, which lies where glibc's ucontext_t has it (only the later sigmask differs).
  const auto* uc = static_cast<const ucontext_t*>(ucontext);
  std::array<char, 320> buf{};
  int n = std::snprintf(buf.data(), buf.size(),
                        "\numk: host system call %d (%s) at %p, arguments %#llx %#llx %#llx, is not on umk's "
                        "seccomp allow-list (docs/safety.md, \"umk confines itself\"): stopping\n",
                        nr, name, info->si_call_addr, static_cast<unsigned long long>(uc->uc_mcontext.gregs[REG_RDI]),
                        static_cast<unsigned long long>(uc->uc_mcontext.gregs[REG_RSI]),
                        static_cast<unsigned long long>(uc->uc_mcontext.gregs[REG_RDX]));
  if (n > 0) (void)!::write(2, buf.data(), std::min(static_cast<usize>(n), buf.size() - 1));
  leave_terminal_and_print_backtrace();
  signal(SIGSYS, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGSYS);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  raise(SIGSYS);
  _exit(128 + SIGSYS);
}

// Everything that loads code or opens files on first use is done once before the filter goes
// on, so that the fault handlers and the logger work under it.
void prewarm() {
  static bool done = false;
  if (done) return;
  done = true;
  std::array<void*, 4> frames{};
  (void)backtrace(frames.data(), static_cast<int>(frames.size()));  // loads libgcc_s
  tzset();                                                          // reads /etc/localtime
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  (void)localtime_r(&now, &tm);
  resolve_names();
}

// Argument conditions. libseccomp compares all 64 bits of an argument; int arguments are only
// defined in their low 32 (the caller's upper half is not the kernel's concern), hence masks.
scmp_arg_cmp eq32(unsigned arg, u32 value) { return {arg, SCMP_CMP_MASKED_EQ, 0xffffffffu, value}; }
scmp_arg_cmp eq64(unsigned arg, u64 value) { return {arg, SCMP_CMP_EQ, value, 0}; }
scmp_arg_cmp masked64(unsigned arg, u64 mask, u64 value) { return {arg, SCMP_CMP_MASKED_EQ, mask, value}; }
scmp_arg_cmp clear32(unsigned arg, u32 bits) { return {arg, SCMP_CMP_MASKED_EQ, bits, 0}; }
scmp_arg_cmp set32(unsigned arg, u32 bits) { return {arg, SCMP_CMP_MASKED_EQ, bits, bits}; }

class Filter {
 public:
  Filter() : ctx_(seccomp_init(SCMP_ACT_TRAP)) {}
  ~Filter() {
    if (ctx_ != nullptr) seccomp_release(ctx_);
  }
  Filter(const Filter&) = delete;
  Filter& operator=(const Filter&) = delete;

  bool ok() const { return ctx_ != nullptr && error_.empty(); }
  const std::string& error() const { return error_; }
  scmp_filter_ctx ctx() const { return ctx_; }

  void allow(std::initializer_list<int> calls) {
    for (int nr : calls) add(nr, {});
  }
  void allow_if(int nr, std::initializer_list<scmp_arg_cmp> cmps) { add(nr, cmps); }
  void fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
  }

 private:
  void add(int nr, std::initializer_list<scmp_arg_cmp> cmps) {
    if (ctx_ == nullptr) return;
    int r = seccomp_rule_add_array(ctx_, SCMP_ACT_ALLOW, nr, static_cast<unsigned>(cmps.size()),
                                   cmps.size() == 0 ? nullptr : cmps.begin());
    if (r != 0) fail(format("cannot add host system call {} to the allow-list: {}", nr, -r));
  }

  scmp_filter_ctx ctx_;
  std::string error_;
};

void allow_always(Filter& f) {
  // Memory: the allocator and fiber stacks. Never executable: after boot no code is loaded.
  f.allow_if(SCMP_SYS(mmap), {clear32(2, PROT_EXEC)});
  f.allow_if(SCMP_SYS(mprotect), {clear32(2, PROT_EXEC)});
  f.allow({SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise), SCMP_SYS(brk)});
  // Threads, locks, time, signals: the vCPU thread, the NIC's thread, timer interrupts.
  // clang-format off
  f.allow({SCMP_SYS(futex), SCMP_SYS(sched_yield), SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep),
           SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres), SCMP_SYS(gettimeofday),
           SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getuid), SCMP_SYS(geteuid),
           SCMP_SYS(getgid), SCMP_SYS(getegid), SCMP_SYS(getrandom), SCMP_SYS(membarrier),
           SCMP_SYS(sched_getaffinity), SCMP_SYS(sched_setaffinity), SCMP_SYS(getcpu),
           SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
           SCMP_SYS(rt_sigsuspend), SCMP_SYS(sigaltstack), SCMP_SYS(restart_syscall),
           SCMP_SYS(timer_settime), SCMP_SYS(timer_gettime), SCMP_SYS(timer_delete),
           SCMP_SYS(exit), SCMP_SYS(exit_group)});
  // clang-format on
  // A thread's own start-up (glibc's start_thread): harmless bookkeeping, allowed in case a
  // thread started just before the filter runs its start after it.
  f.allow({SCMP_SYS(set_robust_list), SCMP_SYS(rseq)});
  // Signals to single threads (stubs, our own vCPU thread): tgkill needs a positive thread
  // group and thread, so no kill and no tkill: never a process group or every process.
  f.allow({SCMP_SYS(tgkill)});
  // Stubs: only the processes that are already ours. No PTRACE_TRACEME (0), PTRACE_ATTACH (16)
  // or PTRACE_SEIZE (0x4206): umk cannot take hold of any other host process. The requests it
  // makes, in as few comparisons as the masks allow (one runs for each ptrace call): CONT (7);
  // 8..15 (KILL, SINGLESTEP, GET/SETREGS, GET/SETFPREGS); SYSEMU (31); 0x4200..0x4203
  // (SETOPTIONS, GETEVENTMSG, GET/SETSIGINFO); 0x4204..0x4205 (GET/SETREGSET); 0x420e
  // (GET_SYSCALL_INFO).
  static_assert(PTRACE_CONT == 7 && PTRACE_GETREGS == 12 && PTRACE_SETFPREGS == 15 && PTRACE_SYSEMU == 31 &&
                PTRACE_SETOPTIONS == 0x4200 && PTRACE_GETSIGINFO == 0x4202 && PTRACE_GETREGSET == 0x4204 &&
                PTRACE_SETREGSET == 0x4205 && PTRACE_GET_SYSCALL_INFO == 0x420e && PTRACE_SEIZE == 0x4206 &&
                PTRACE_ATTACH == 16);
  f.allow_if(SCMP_SYS(ptrace), {masked64(0, ~u64{7}, 8)});
  f.allow_if(SCMP_SYS(ptrace), {eq64(0, PTRACE_SYSEMU)});
  f.allow_if(SCMP_SYS(ptrace), {eq64(0, PTRACE_CONT)});
  f.allow_if(SCMP_SYS(ptrace), {masked64(0, ~u64{3}, 0x4200)});
  f.allow_if(SCMP_SYS(ptrace), {masked64(0, ~u64{1}, 0x4204)});
  f.allow_if(SCMP_SYS(ptrace), {eq64(0, PTRACE_GET_SYSCALL_INFO)});
  f.allow({SCMP_SYS(wait4), SCMP_SYS(waitid)});
  // I/O on descriptors opened at boot: the console, the log, disks, the stub launcher's socket,
  // the NIC's eventfd; /proc reads (the stub checks). Opening is read-only (below).
  f.allow({SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(pread64), SCMP_SYS(pwrite64),
           SCMP_SYS(preadv), SCMP_SYS(pwritev), SCMP_SYS(lseek), SCMP_SYS(close), SCMP_SYS(fstat), SCMP_SYS(fcntl),
           SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(poll), SCMP_SYS(ppoll)});
  f.allow_if(SCMP_SYS(newfstatat), {set32(3, AT_EMPTY_PATH)});
  // The console: termios and the window size, nothing else.
  for (unsigned long req : {TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ, FIONREAD, FIONBIO}) {
    f.allow_if(SCMP_SYS(ioctl), {eq32(1, static_cast<u32>(req))});
  }
}

// Opening host files: read-only, creating nothing, unless a host directory is shared.
void allow_open(Filter& f, bool shares) {
  if (shares) {
    f.allow({SCMP_SYS(openat), SCMP_SYS(open)});
    return;
  }
  constexpr u32 kWriting = O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | O_TMPFILE | O_PATH;
  f.allow_if(SCMP_SYS(openat), {{2, SCMP_CMP_MASKED_EQ, kWriting, O_RDONLY}});
}

// The 9P server behind --volume and --root HOSTDIR (p9server.cpp): the file system calls it
// makes on the shared trees, relative to descriptors it opened at boot.
void allow_shares(Filter& f) {
  f.allow({SCMP_SYS(openat2),  SCMP_SYS(newfstatat), SCMP_SYS(statx),      SCMP_SYS(fstatfs),   SCMP_SYS(getdents64),
           SCMP_SYS(mkdirat),  SCMP_SYS(mknodat),    SCMP_SYS(unlinkat),   SCMP_SYS(renameat),  SCMP_SYS(renameat2),
           SCMP_SYS(linkat),   SCMP_SYS(symlinkat),  SCMP_SYS(readlinkat), SCMP_SYS(fchmodat),  SCMP_SYS(fchownat),
           SCMP_SYS(fchmod),   SCMP_SYS(fchown),     SCMP_SYS(utimensat),  SCMP_SYS(ftruncate), SCMP_SYS(fallocate),
           SCMP_SYS(truncate), SCMP_SYS(chmod),  // on /proc/self/fd/N: the file behind a fid
           SCMP_SYS(umask),    SCMP_SYS(prlimit64),  SCMP_SYS(getrlimit),  SCMP_SYS(setrlimit)});
}

// The NIC's thread (nic.cpp, libslirp): IPv4 and IPv6 sockets for the guest's connections and
// the published ports.
void allow_network(Filter& f) {
  f.allow_if(SCMP_SYS(socket), {eq32(0, AF_INET)});
  f.allow_if(SCMP_SYS(socket), {eq32(0, AF_INET6)});
  f.allow({SCMP_SYS(connect), SCMP_SYS(bind), SCMP_SYS(listen), SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(sendto),
           SCMP_SYS(recvfrom), SCMP_SYS(sendmsg), SCMP_SYS(recvmsg), SCMP_SYS(setsockopt), SCMP_SYS(getsockopt),
           SCMP_SYS(getsockname), SCMP_SYS(getpeername), SCMP_SYS(shutdown), SCMP_SYS(select), SCMP_SYS(pselect6)});
}

// ---- Paths: Landlock ----
//
// Seccomp sees no paths, so the files umk may still open are bounded by Landlock (Linux 5.13+)
// where the host has it: read-only /proc and /sys (the stub checks, the host's CPU and clock),
// the files libslirp reads for the NIC (DNS servers), and the disks and shared directories
// given on the command line, nothing else. It applies to the calling thread and to threads and
// processes started after it, so run_kernel calls it first thing, before the NIC's thread.

// The file-system rights Landlock ABI `abi` knows: 1 has the first 13; 2 adds REFER; 3 TRUNCATE.
// LANDLOCK_ACCESS_FS_TRUNCATE (ABI 3, Linux 6.2): Debian 12's headers (6.1) predate it.
constexpr u64 kLandlockTruncate = u64{1} << 14;

u64 landlock_fs_rights(int abi) {
  u64 rights = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;
  if (abi >= 2) rights |= LANDLOCK_ACCESS_FS_REFER;
  if (abi >= 3) rights |= kLandlockTruncate;
  return rights;
}

constexpr u64 kLandlockFileRights =
    LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE | kLandlockTruncate;
constexpr u64 kLandlockRead = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;

// Allows `rights` (within `handled`) beneath `path`, or on it if it is a file. Paths that do not
// exist get no rule (opening them fails later with its own message).
void landlock_allow(int ruleset, const std::string& path, u64 rights, u64 handled) {
  int fd = ::open(path.c_str(), O_PATH | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st {};
  if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) rights &= kLandlockFileRights;
  landlock_path_beneath_attr attr{};
  attr.allowed_access = rights & handled;
  attr.parent_fd = fd;
  if (attr.allowed_access != 0) {
    (void)syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &attr, 0);
  }
  close(fd);
}

}  // namespace

int confine_paths(const Config& config) {
  prewarm();  // it opens libgcc_s and /etc/localtime, which the rules below leave out
  long abi = syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  if (abi < 1) return 0;  // no Landlock on this host: seccomp alone
  const u64 handled = landlock_fs_rights(static_cast<int>(std::min(abi, 3L)));
  landlock_ruleset_attr attr{};
  attr.handled_access_fs = handled;
  int ruleset = static_cast<int>(syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0));
  if (ruleset < 0) return 0;
  landlock_allow(ruleset, "/proc", kLandlockRead, handled);
  landlock_allow(ruleset, "/sys", kLandlockRead, handled);
  if (config.net.user && !config.net.test_nic) {
    for (const char* f : {"/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf"}) {
      landlock_allow(ruleset, f, LANDLOCK_ACCESS_FS_READ_FILE, handled);
    }
  }
  for (const DiskConfig& d : config.disks) {
    u64 rights = LANDLOCK_ACCESS_FS_READ_FILE | (d.read_only ? 0 : LANDLOCK_ACCESS_FS_WRITE_FILE);
    landlock_allow(ruleset, d.path, rights, handled);
  }
  for (const VolumeConfig& v : config.volumes) {
    landlock_allow(ruleset, v.host_path, handled & ~LANDLOCK_ACCESS_FS_EXECUTE, handled);
  }
  int r = -1;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0) {
    r = static_cast<int>(syscall(SYS_landlock_restrict_self, ruleset, 0));
  }
  close(ruleset);
  return r == 0 ? static_cast<int>(abi) : 0;
}

namespace {}  // namespace

std::string confine(const Config& config) {
  prewarm();
  Filter f;
  if (f.ctx() == nullptr) return "seccomp_init failed";
  if (int r = seccomp_attr_set(f.ctx(), SCMP_FLTATR_CTL_TSYNC, 1); r != 0) {
    return format("libseccomp cannot synchronize threads: {}", -r);
  }
  // A binary tree of the system call numbers: umk makes host calls on every guest event.
  (void)seccomp_attr_set(f.ctx(), SCMP_FLTATR_CTL_OPTIMIZE, 2);
  (void)seccomp_attr_set(f.ctx(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP);
  allow_always(f);
  bool shares = !config.volumes.empty();
  allow_open(f, shares);
  if (shares) allow_shares(f);
  if (config.net.user && !config.net.test_nic) allow_network(f);
  if (!f.ok()) return f.error();

  struct sigaction sa {};
  sa.sa_sigaction = on_forbidden_call;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigfillset(&sa.sa_mask);
  if (sigaction(SIGSYS, &sa, nullptr) != 0) return "cannot install the SIGSYS handler";
  if (int r = seccomp_load(f.ctx()); r != 0) {
    return format("cannot load umk's seccomp filter: {}", std::string_view(strerror(-r)));
  }
  set_confined();
  return {};
}

}  // namespace ostd::host
