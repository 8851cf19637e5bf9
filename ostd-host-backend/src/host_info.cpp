// What the host backend finds out about the machine it runs on and what it chooses there, with
// the price of the host primitives its hand-offs are made of: `umk info` prints it, and
// scripts/bench prints it beside every table, so a figure always comes with its machine class.
//
// The measurements run in forked children (a seccomp filter cannot be taken back, and the
// caller's CPU affinity stays as it was), each a median of five runs.
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <ostd/host/host.h>

#include "host_internal.h"
#include "platform_internal.h"

namespace ostd::host {

namespace {

u64 now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<u64>(ts.tv_sec) * 1000000000ull + static_cast<u64>(ts.tv_nsec);
}

// Runs `fn` (which returns ns per operation) in a forked child; 0 when the child failed.
template <typename Fn>
double in_child(Fn fn) {
  int fds[2];
  if (pipe(fds) != 0) return 0;
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    double ns = fn();
    (void)!write(fds[1], &ns, sizeof ns);
    _exit(0);
  }
  close(fds[1]);
  double ns = 0;
  if (pid < 0 || read(fds[0], &ns, sizeof ns) != sizeof ns) ns = 0;
  close(fds[0]);
  if (pid > 0) waitpid(pid, nullptr, 0);
  return ns;
}

// The median of five runs of `fn`, each in a child of its own.
template <typename Fn>
double median_of_5(Fn fn) {
  std::array<double, 5> v{};
  for (double& x : v) x = in_child(fn);
  std::sort(v.begin(), v.end());
  return v[2];
}

double getppid_ns(u64 iters) {
  u64 t0 = now_ns();
  for (u64 i = 0; i < iters; ++i) syscall(SYS_getppid);
  return static_cast<double>(now_ns() - t0) / static_cast<double>(iters);
}

// SAFETY: installed with SA_SIGINFO, so uc is the kernel's ucontext_t for this signal.
void on_sigsys(int, siginfo_t*, void* uc) { static_cast<ucontext_t*>(uc)->uc_mcontext.gregs[REG_RAX] = 1; }
void on_sigusr1(int) {}

// getppid trapped by a SECCOMP_RET_TRAP filter into a SIGSYS handler that returns through
// rt_sigreturn: the floor of the seccomp platform's trapped system call.
double sigsys_ns(u64 iters) {
  struct sigaction sa {};
  sa.sa_sigaction = on_sigsys;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSYS, &sa, nullptr);
  sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof f / sizeof f[0]), f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
    return 0;
  }
  return getppid_ns(iters);
}

// A signal sent to the thread itself and handled (tgkill, delivery, handler, rt_sigreturn).
double signal_ns(u64 iters) {
  struct sigaction sa {};
  sa.sa_handler = on_sigusr1;
  sigaction(SIGUSR1, &sa, nullptr);
  pid_t pid = getpid();
  pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  u64 t0 = now_ns();
  for (u64 i = 0; i < iters; ++i) syscall(SYS_tgkill, pid, tid, SIGUSR1);
  return static_cast<double>(now_ns() - t0) / static_cast<double>(iters);
}

// Two threads pass a token back and forth `iters` times, on CPUs a and b (the same CPU or two),
// sleeping on futexes (spin = false) or spinning on the shared word. ns per round trip.
double ping_pong(u64 iters, int cpu_a, int cpu_b, bool spin) {
  std::atomic<u32> word{0};
  auto wait_for = [&](u32 want) {
    for (;;) {
      u32 v = word.load(std::memory_order_acquire);
      if (v == want) return;
      if (spin) {
        __builtin_ia32_pause();
      } else {
        syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, v, nullptr, nullptr, 0);
      }
    }
  };
  auto post = [&](u32 v) {
    word.store(v, std::memory_order_release);
    if (!spin) syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  };
  std::thread peer([&] {
    (void)pin_this_thread(cpu_b);
    for (u64 i = 0; i < iters; ++i) {
      wait_for(static_cast<u32>(2 * i + 1));
      post(static_cast<u32>(2 * i + 2));
    }
  });
  (void)pin_this_thread(cpu_a);
  u64 t0 = now_ns();
  for (u64 i = 0; i < iters; ++i) {
    post(static_cast<u32>(2 * i + 1));
    wait_for(static_cast<u32>(2 * i + 2));
  }
  double ns = static_cast<double>(now_ns() - t0) / static_cast<double>(iters);
  peer.join();
  return ns;
}

std::string fmt(const char* format, double v) {
  std::array<char, 64> buf{};
  std::snprintf(buf.data(), buf.size(), format, v);
  return buf.data();
}

}  // namespace

std::vector<int> allowed_cpus() {
  std::vector<int> out;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return out;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) out.push_back(c);
  }
  return out;
}

bool pin_this_thread(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof set, &set) == 0;
}

std::string current_clocksource() {
  FILE* f = std::fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
  if (f == nullptr) return {};
  std::array<char, 64> buf{};
  std::string s = std::fgets(buf.data(), buf.size(), f) != nullptr ? buf.data() : "";
  std::fclose(f);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string cpuinfo_field(std::string_view key) {
  FILE* f = std::fopen("/proc/cpuinfo", "r");
  if (f == nullptr) return {};
  std::array<char, 8192> line{};
  std::string value;
  while (std::fgets(line.data(), line.size(), f) != nullptr) {
    std::string_view l(line.data());
    if (!l.starts_with(key)) continue;
    usize colon = l.find(':');
    if (colon == std::string_view::npos || l.find_first_not_of(" \t", key.size()) != colon) continue;
    value = l.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of("\n ") + 1);
    break;
  }
  std::fclose(f);
  return value;
}

double host_sigsys_round_trip_ns(u64 iters) {
  return in_child([&] { return sigsys_ns(iters); });
}

std::string host_report(const Config& config, bool measure) {
  std::string out;
  auto line = [&](const std::string& key, const std::string& value) {
    out += key;
    out += ": ";
    out += value;
    out += '\n';
  };
  std::vector<int> cpus = allowed_cpus();
  const bool seccomp = config.platform == "seccomp";
  const bool split = seccomp && config.split_cpus && cpus.size() > 1;
  const bool has_fsgsbase = host_has_fsgsbase();
  const bool uses_fsgsbase = has_fsgsbase && config.use_fsgsbase;
  std::string model = cpuinfo_field("model name");
  line("cpu", (model.empty() ? "unknown" : model) + " (" + std::to_string(cpus.size()) + " CPUs allowed)");
  std::array<char, 32> hw{};
  std::snprintf(hw.data(), hw.size(), "%#lx", getauxval(AT_HWCAP2));
  line("AT_HWCAP2", std::string(hw.data()) + (has_fsgsbase ? " (FSGSBASE)" : " (no FSGSBASE)"));
  std::string source = current_clocksource();
  line("host clocksource",
       (source.empty() ? "unknown" : source) +
           (tsc_is_the_clock() ? " (the kernel's clock is the TSC; the vDSO reads it in user mode)"
                               : " (the kernel reads the host's clock; the vDSO makes a system call)"));
  line("platform", config.platform);
  if (seccomp) {
    line("cpus", split ? "split (the kernel on one CPU, guest threads on the others; both sides spin)"
                       : "shared (guest threads on the kernel's CPU; no spinning)");
    std::string fast;
    if (!config.fast_syscalls) {
      fast = "off (--syscall-patching off): every guest system call is a host trap (SIGSYS)";
    } else {
      fast = "on: hot syscall sites are rewritten into jumps to the stub's fast entry (no host trap)";
    }
    line("fast entry", fast);
    line("FS/GS bases", uses_fsgsbase ? "rdfsbase/wrfsbase in the stub"
                                      : std::string("arch_prctl in the stub, only when they change (") +
                                            (has_fsgsbase ? "--fsgsbase off" : "the CPU has no FSGSBASE") + ")");
  } else {
    line("cpus", "one (the kernel and its stubs pinned together: ptrace hand-offs are synchronous)");
    line("fast entry", "off (ptrace platform: every guest system call is a ptrace stop)");
  }
  if (!measure) return out;
  const u64 iters = 20000;
  line("native getppid", fmt("%.0f ns", median_of_5([&] { return getppid_ns(iters); })));
  line("host SIGSYS round trip (seccomp trap, handler, rt_sigreturn)",
       fmt("%.0f ns", median_of_5([&] { return sigsys_ns(iters); })));
  line("host signal round trip (tgkill to itself, handler, rt_sigreturn)",
       fmt("%.0f ns", median_of_5([&] { return signal_ns(iters); })));
  if (cpus.size() > 1) {
    const int a = cpus[0], b = cpus[1];
    auto pp = [&](int x, int y, bool spin, u64 n) { return median_of_5([&] { return ping_pong(n, x, y, spin); }); };
    line("futex ping-pong, same CPU (per round trip)", fmt("%.0f ns", pp(a, a, false, 5000)));
    line("futex ping-pong, two CPUs (per round trip)", fmt("%.0f ns", pp(a, b, false, 2000)));
    line("spinning ping-pong, two CPUs (per round trip)", fmt("%.0f ns", pp(a, b, true, 20000)));
  }
  return out;
}

}  // namespace ostd::host

namespace ostd::arch {

CpuDescription describe_cpu() {
  using host::cpuinfo_field;
  CpuDescription d;
  auto number = [](const std::string& s) { return static_cast<u32>(std::strtoul(s.c_str(), nullptr, 10)); };
  d.vendor = cpuinfo_field("vendor_id");
  d.family = number(cpuinfo_field("cpu family"));
  d.model = number(cpuinfo_field("model"));
  d.stepping = number(cpuinfo_field("stepping"));
  d.model_name = cpuinfo_field("model name");
  d.mhz = number(cpuinfo_field("cpu MHz"));
  d.cache_kb = number(cpuinfo_field("cache size"));
  d.clflush_bytes = number(cpuinfo_field("clflush size"));
  if (d.clflush_bytes == 0) d.clflush_bytes = 64;
  std::string sizes = cpuinfo_field("address sizes");  // "46 bits physical, 48 bits virtual"
  if (std::sscanf(sizes.c_str(), "%u bits physical, %u bits virtual", &d.phys_bits, &d.virt_bits) != 2) {
    d.phys_bits = 46;
    d.virt_bits = 48;
  }
  // The flags as the host shows them, less what a guest here cannot use.
  std::string flags = cpuinfo_field("flags");
  if (!host::guests_may_use_fsgsbase()) {
    std::string padded = " " + flags + " ";
    if (usize at = padded.find(" fsgsbase "); at != std::string::npos) padded.erase(at, 9);
    flags = padded.substr(1, padded.size() - 2);
  }
  d.flags = flags;
  // The host kernel's AT_HWCAP (CPUID.1:EDX less what it disabled), from /proc/self/auxv: glibc's
  // getauxval(AT_HWCAP) answers a word of its own on x86-64.
  u32 a = 0, b = 0, c = 0, e = 0;
  // SAFETY: cpuid reads no memory; all four registers it writes are outputs, EAX/ECX inputs.
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(e) : "a"(1u), "c"(0u));
  d.hwcap = e;
  if (FILE* f = std::fopen("/proc/self/auxv", "rb")) {
    std::array<unsigned long, 2> kv{};
    while (std::fread(kv.data(), sizeof kv, 1, f) == 1 && kv[0] != AT_NULL) {
      if (kv[0] == AT_HWCAP) d.hwcap = kv[1];
    }
    std::fclose(f);
  }
  d.hwcap2 = host::guests_may_use_fsgsbase() ? 2 : 0;  // HWCAP2_FSGSBASE
  if (d.vendor.empty()) d.vendor = "unknown";
  return d;
}

void fill_entropy(std::span<u8> out) {
  usize done = 0;
  while (done < out.size()) {
    ssize_t n = getrandom(out.data() + done, out.size() - done, 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      halt_on_panic("getrandom failed: the host gives no entropy");
    }
    done += static_cast<usize>(n);
  }
}

}  // namespace ostd::arch
