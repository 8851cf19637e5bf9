// run_kernel(): boots the framework on the calling thread and runs the first task.
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cctype>
#include <cstdlib>

#include <ostd/host/host.h>

#include <ostd/internal.h>
#include "host_internal.h"
#include "platform_internal.h"

namespace ostd::detail {
BootInfo& mutable_boot_info();
}

namespace ostd::host {

namespace {
constexpr Logger kLog{"boot"};

// Picks one of the CPUs we may run on (spread by pid so parallel umk processes differ) and
// pins the calling thread there; stub processes inherit the affinity when they are cloned.
// With `split` (the seccomp platform, which hands off through shared memory and spins), stubs
// get every other allowed CPU instead, so the kernel and its guests run side by side.
cpu_set_t g_stub_cpus;
bool g_stub_cpus_set = false;

void pin_to_one_cpu(bool split) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
  int n = CPU_COUNT(&allowed);
  if (n <= 1) return;
  int pick = getpid() % n;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    if (pick-- == 0) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpu, &one);
      sched_setaffinity(0, sizeof one, &one);
      if (split) {
        g_stub_cpus = allowed;
        CPU_CLR(cpu, &g_stub_cpus);
        g_stub_cpus_set = true;
      }
      return;
    }
  }
}
}  // namespace

const cpu_set_t* stub_cpus() { return g_stub_cpus_set ? &g_stub_cpus : nullptr; }

int run_kernel(const Config& config, BootInfo info, std::function<int()> entry) {
  init_signals_once(config.catch_fatal_signals);
  // Before any thread or process is started, so that all of them inherit it.
  if (config.confine && !confined()) {
    int abi = confine_paths(config);
    if (abi == 0) kLog.debug("no Landlock on this host: host paths are bounded by seccomp alone");
  }
  // Before pinning: the NIC's thread may run on any CPU.
  if (std::string err = nic_start(config.net); !err.empty()) {
    std::fprintf(stderr, "umk: %s\n", err.c_str());
    return 125;
  }
  if (std::string err = disks_start(config.disks); !err.empty()) {
    nic_stop();
    std::fprintf(stderr, "umk: %s\n", err.c_str());
    return 125;
  }
  if (std::string err = shares_start(config.volumes); !err.empty()) {
    nic_stop();
    disks_stop();
    std::fprintf(stderr, "umk: %s\n", err.c_str());
    return 125;
  }
  static bool pinned = false;
  if (config.pin_cpu && !pinned) {
    pin_to_one_cpu(config.platform == "seccomp" && config.split_cpus);
    pinned = true;
  }
  init_physical_memory(config.mem_bytes);
  set_platform(config.platform == "seccomp");
  start_stub_launcher();
  set_fast_syscalls(config.fast_syscalls);
  set_use_fsgsbase(config.use_fsgsbase);
  info.memory_bytes = config.mem_bytes;
  if (info.platform.empty()) info.platform = "host-" + config.platform;
  detail::mutable_boot_info() = std::move(info);
  TaskInternals::init_cpu();
  if (seccomp_platform() && seccomp_boot().is_error()) panic("cannot set up the seccomp platform");
  start_timer(config.hz);
  // Booted: every host file, thread and the launcher are there. From here on umk runs only
  // the host calls its allow-list names (confine.cpp).
  if (config.confine && !confined()) {
    if (std::string err = confine(config); !err.empty()) panic("cannot confine umk: {}", std::string_view(err));
  }

  struct State {
    int rc = 0;
    bool done = false;
  } state;
  auto init = Task::spawn(
      [&state, &entry] {
        state.rc = entry();
        state.done = true;
      },
      TaskOptions{"init", 0});
  if (init.is_error()) panic("cannot create the init task: {}", init.error());
  init.value().reset();
  // SAFETY: idle_loop hands back &state as given here; state, on this frame, outlives the loop.
  TaskInternals::idle_loop([](void* s) { return static_cast<State*>(s)->done; }, &state);
  arch::cpu_local().irq_disabled.store(true);
  stop_timer();
  nic_stop();
  disks_stop();
  shares_stop();
  // With interrupts off: no task may run (and retire another stub) while the spares go.
  release_spare_stubs();
  console::set_raw_mode(false);
  return state.rc;
}

std::optional<PortForward> parse_publish(const std::string& text) {
  PortForward f;
  f.text = text;
  std::string rest = text;
  if (auto slash = rest.rfind('/'); slash != std::string::npos) {
    std::string proto = rest.substr(slash + 1);
    if (proto != "udp" && proto != "tcp") return std::nullopt;
    f.udp = proto == "udp";
    rest.resize(slash);
  }
  std::vector<std::string> parts;
  for (usize start = 0;;) {
    usize colon = rest.find(':', start);
    parts.push_back(rest.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (parts.size() != 2 && parts.size() != 3) return std::nullopt;
  auto port = [](const std::string& p) -> std::optional<u16> {
    if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    unsigned long v = std::stoul(p);
    if (v == 0 || v > 65535) return std::nullopt;
    return static_cast<u16>(v);
  };
  if (parts.size() == 3) {
    in_addr a{};
    if (inet_pton(AF_INET, parts[0].c_str(), &a) != 1) return std::nullopt;
    f.host_addr = ntohl(a.s_addr);
    parts.erase(parts.begin());
  }
  auto hp = port(parts[0]), gp = port(parts[1]);
  if (!hp || !gp) return std::nullopt;
  f.host_port = *hp;
  f.guest_port = *gp;
  return f;
}

u64 parse_size(const std::string& text) {
  if (text.empty()) return 0;
  u64 v = 0;
  usize i = 0;
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0; ++i) {
    if (!checked_mul<u64>(v, 10, v) || !checked_add<u64>(v, static_cast<u64>(text[i] - '0'), v)) {
      return 0;
    }
  }
  if (i == 0) return 0;
  u64 mult = 1;
  if (i < text.size()) {
    switch (std::toupper(static_cast<unsigned char>(text[i]))) {
      case 'K': mult = 1ull << 10; break;
      case 'M': mult = 1ull << 20; break;
      case 'G': mult = 1ull << 30; break;
      default: return 0;
    }
    ++i;
    if (i < text.size() && (text[i] == 'B' || text[i] == 'b')) ++i;
    if (i != text.size()) return 0;
  }
  return checked_mul<u64>(v, mult, v) ? v : 0;
}

}  // namespace ostd::host

namespace ostd::console {

Result<usize> write(int stream, std::span<const u8> bytes) {
  int fd = stream == 2 ? 2 : 1;
  usize done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno::eio;
    }
    done += static_cast<usize>(n);
  }
  return done;
}

namespace {
struct TerminalState {
  bool saved = false;
  bool raw = false;
  termios original{};
};
TerminalState& terminal() {
  static TerminalState t;
  return t;
}
}  // namespace

bool is_terminal() { return isatty(0) == 1; }

void set_raw_mode(bool on) {
  TerminalState& t = terminal();
  if (!is_terminal() || on == t.raw) return;
  if (on) {
    if (!t.saved) {
      if (tcgetattr(0, &t.original) != 0) return;
      t.saved = true;
    }
    termios raw = t.original;
    cfmakeraw(&raw);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    if (tcsetattr(0, TCSANOW, &raw) == 0) t.raw = true;
  } else if (t.saved) {
    tcsetattr(0, TCSANOW, &t.original);
    t.raw = false;
  }
}

std::optional<WindowSize> window_size() {
  winsize ws{};
  for (int fd : {0, 1}) {
    if (isatty(fd) == 1 && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row != 0) {
      return WindowSize{ws.ws_row, ws.ws_col};
    }
  }
  return std::nullopt;
}

Result<usize> try_read(std::span<u8> dst) {
  pollfd p{0, POLLIN, 0};
  int r = poll(&p, 1, 0);
  if (r < 0) return errno == EINTR ? Errno::eagain : Errno::eio;
  if (r == 0) return Errno::eagain;
  if ((p.revents & POLLNVAL) != 0) return usize{0};  // no stdin at all: end of input
  ssize_t n = ::read(0, dst.data(), dst.size());
  if (n < 0) return (errno == EAGAIN || errno == EINTR) ? Errno::eagain : Errno::eio;
  return static_cast<usize>(n);
}

Result<usize> read(std::span<u8> dst) {
  for (;;) {
    ssize_t n = 0;
    {
      host::HostWait w;
      n = ::read(0, dst.data(), dst.size());
    }
    if (n >= 0) return static_cast<usize>(n);
    if (errno != EINTR) return Errno::eio;
  }
}

}  // namespace ostd::console
