// umk: the hosted kernel. Boots the services on the host backend and runs a Linux program.
#include <cstdio>
#include <cstdlib>

#include <spdlog/spdlog.h>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include <ostd/host/host.h>
#include <ostd/log.h>

#include "kernel_main.h"

namespace {

const char kUsage[] =
    "usage: umk run [options] -- PROGRAM [ARGS...]\n"
    "       umk info [options] [--no-measure]\n"
    "       umk --help\n"
    "\n"
    "Boots the framekernel's services inside this process and runs PROGRAM (a static x86-64\n"
    "Linux executable found in the initramfs, or on the --root disk) as pid 1, with umk's\n"
    "stdin/stdout/stderr.\n"
    "umk exits with PROGRAM's exit status (128+N when it was killed by signal N).\n"
    "umk info prints what the host backend detects on this machine and chooses with the\n"
    "given options, and measures the host primitives it is built on (--no-measure: skip).\n"
    "\n"
    "options:\n"
    "  --initramfs FILE   newc cpio archive unpacked as the root file system\n"
    "  --mem SIZE         physical memory, e.g. 512M or 2G (default 512M)\n"
    "  --platform NAME    how user code is trapped: seccomp (default) or ptrace; the\n"
    "                     UMK_PLATFORM environment variable sets the default\n"
    "  --cpus MODE        seccomp platform: split (default; guests on the other CPUs, both\n"
    "                     sides spin) or shared (guests share the kernel's CPU)\n"
    "  --syscall-patching on|off\n"
    "                     seccomp platform: rewrite the guest's syscall sites into jumps to\n"
    "                     the stub's fast entry, which enters the kernel without a host trap\n"
    "                     (default on; UMK_SYSCALL_PATCHING sets the default)\n"
    "  --fsgsbase on|off  seccomp platform: use the CPU's FSGSBASE instructions where it has\n"
    "                     them (default on); off behaves as on a CPU without them (for tests;\n"
    "                     UMK_FSGSBASE sets the default)\n"
    "  --aslr on|off      place stacks, heaps, mappings and PIE bases at random (default\n"
    "                     on, as Linux); off makes every run's layout the same, so a\n"
    "                     failure can be replayed (UMK_ASLR sets the default)\n"
    "  --confine on|off   once booted, run under umk's own seccomp allow-list of host\n"
    "                     system calls (default on; a call outside it stops umk with a\n"
    "                     message: docs/safety.md). off is for debugging umk itself\n"
    "  --hz N             timer interrupt rate (default 250)\n"
    "  --net user|none    the guest's network: user (default) puts an eth0 on QEMU's user\n"
    "                     network (libslirp: 10.0.2.15/24, the host at 10.0.2.2, DNS at\n"
    "                     10.0.2.3, no privileges needed); none leaves only loopback\n"
    "  -p, --publish [HOSTADDR:]HOSTPORT:GUESTPORT[/udp]\n"
    "                     forward a host port (on 127.0.0.1 unless HOSTADDR is given) to\n"
    "                     a guest port, like docker -p and QEMU's hostfwd (repeatable)\n"
    "  --disk FILE[:ro]   give the guest a disk backed by the host file FILE (/dev/vda,\n"
    "                     then /dev/vdb... in order; repeatable); :ro makes it read-only.\n"
    "                     The guest mounts it (mount -t ext2 /dev/vda /mnt); its writes\n"
    "                     reach FILE\n"
    "  --volume HOSTDIR:GUESTDIR[:ro]\n"
    "                     share the host directory HOSTDIR with the guest at GUESTDIR\n"
    "                     (made when missing; repeatable), over 9P2000.L: the guest's\n"
    "                     changes reach HOSTDIR at once, and the host's are seen at the\n"
    "                     guest's next open or stat; :ro makes it read-only\n"
    "  --root DEVICE|HOSTDIR[:ro]\n"
    "                     boot with the ext2 file system on DEVICE (/dev/vda: the first\n"
    "                     --disk), or the host directory HOSTDIR, as / instead of an\n"
    "                     initramfs; /dev, /proc and /sys are mounted on it (and a tmpfs\n"
    "                     on /tmp of a host directory)\n"
    "  --log-file FILE    write the kernel's log to FILE instead of stderr (which is the\n"
    "                     guest's too); UMK_LOG_FILE sets the default\n"
    "  --log LEVEL        kernel log level on stderr: trace, debug, info, warn (default),\n"
    "                     error, off\n"
    "  --strace           print every system call with decoded arguments and its result\n"
    "                     on stderr, like strace\n"
    "  -h, --help         this text\n";

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "umk: %s\n\n%s", msg.c_str(), kUsage);
  return 2;
}

// The archive, whole, in one read (a Debian root is hundreds of MB). A regular file only (a
// directory, a FIFO or /dev/zero would fail late or read forever) and no larger than the guest's
// memory, into which it is unpacked. Returns what went wrong, or "".
std::string read_initramfs(const std::string& path, unsigned long long mem_bytes, std::vector<unsigned char>& out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);  // a FIFO must not block the open
  if (fd < 0) return std::strerror(errno);
  struct stat st {};
  std::string err;
  if (fstat(fd, &st) != 0) {
    err = std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    err = "not a regular file (a newc cpio archive is expected)";
  } else if (static_cast<unsigned long long>(st.st_size) > mem_bytes) {
    err = "larger (" + std::to_string(st.st_size >> 20) + " MiB) than the guest's memory (--mem " +
          std::to_string(mem_bytes >> 20) + "M), into which it is unpacked";
  } else {
    out.resize(static_cast<std::size_t>(st.st_size));
    std::size_t done = 0;
    while (done < out.size()) {
      ssize_t n = read(fd, out.data() + done, out.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        err = n < 0 ? std::strerror(errno) : "the file shrank while it was read";
        break;
      }
      done += static_cast<std::size_t>(n);
    }
  }
  close(fd);
  return err;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usage_error("missing command");
  if (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (args[0] != "run" && args[0] != "info") return usage_error("unknown command '" + args[0] + "'");
  const bool info_command = args[0] == "info";
  bool measure = true;

  ostd::host::Config cfg;
  if (const char* p = std::getenv("UMK_SYSCALL_PATCHING"); p != nullptr && *p != '\0') {
    std::string v = p;
    if (v != "on" && v != "off") return usage_error("UMK_SYSCALL_PATCHING must be on or off");
    cfg.fast_syscalls = v == "on";
  }
  if (const char* p = std::getenv("UMK_FSGSBASE"); p != nullptr && *p != '\0') {
    std::string v = p;
    if (v != "on" && v != "off") return usage_error("UMK_FSGSBASE must be on or off");
    cfg.use_fsgsbase = v == "on";
  }
  bool aslr = true;
  // Sanitizer runtimes make host calls of their own (reports, symbolizers): not confined.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  bool confine = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
  bool confine = false;
#else
  bool confine = true;
#endif
#else
  bool confine = true;
#endif
  if (const char* p = std::getenv("UMK_ASLR"); p != nullptr && *p != '\0') {
    std::string v = p;
    if (v != "on" && v != "off") return usage_error("UMK_ASLR must be on or off");
    aslr = v == "on";
  }
  if (const char* p = std::getenv("UMK_PLATFORM"); p != nullptr && *p != '\0') {
    std::string plat = p;
    if (plat != "ptrace" && plat != "seccomp") return usage_error("UMK_PLATFORM must be ptrace or seccomp");
    cfg.platform = plat;
  }
  std::string initramfs_path;
  std::string root_device;
  std::optional<ostd::host::VolumeConfig> root_dir;
  std::vector<ostd::host::VolumeConfig> volumes;
  ostd::BootInfo info;
  bool strace = false;
  std::string log_file;
  if (const char* p = std::getenv("UMK_LOG_FILE"); p != nullptr) log_file = p;
  size_t i = 1;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const char* name) -> const std::string* {
      if (i + 1 >= args.size()) return nullptr;
      (void)name;
      return &args[++i];
    };
    if (a == "--") {
      ++i;
      break;
    } else if (info_command && a == "--no-measure") {
      measure = false;
    } else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--initramfs") {
      const std::string* v = value("--initramfs");
      if (v == nullptr) return usage_error("--initramfs needs a file");
      initramfs_path = *v;
    } else if (a == "--mem") {
      const std::string* v = value("--mem");
      if (v == nullptr) return usage_error("--mem needs a size");
      cfg.mem_bytes = ostd::host::parse_size(*v);
      if (cfg.mem_bytes < (16ull << 20)) return usage_error("bad --mem size '" + *v + "' (min 16M)");
    } else if (a == "--platform") {
      const std::string* v = value("--platform");
      if (v == nullptr || (*v != "ptrace" && *v != "seccomp")) {
        return usage_error("--platform must be ptrace or seccomp");
      }
      cfg.platform = *v;
    } else if (a == "--cpus") {
      const std::string* v = value("--cpus");
      if (v == nullptr || (*v != "split" && *v != "shared")) {
        return usage_error("--cpus must be split or shared");
      }
      cfg.split_cpus = *v == "split";
    } else if (a == "--syscall-patching") {
      const std::string* v = value("--syscall-patching");
      if (v == nullptr || (*v != "on" && *v != "off")) {
        return usage_error("--syscall-patching must be on or off");
      }
      cfg.fast_syscalls = *v == "on";
    } else if (a == "--fsgsbase") {
      const std::string* v = value("--fsgsbase");
      if (v == nullptr || (*v != "on" && *v != "off")) return usage_error("--fsgsbase must be on or off");
      cfg.use_fsgsbase = *v == "on";
    } else if (a == "--aslr") {
      const std::string* v = value("--aslr");
      if (v == nullptr || (*v != "on" && *v != "off")) return usage_error("--aslr must be on or off");
      aslr = *v == "on";
    } else if (a == "--confine") {
      const std::string* v = value("--confine");
      if (v == nullptr || (*v != "on" && *v != "off")) return usage_error("--confine must be on or off");
      confine = *v == "on";
    } else if (a == "--hz") {
      const std::string* v = value("--hz");
      int hz = v == nullptr ? 0 : std::atoi(v->c_str());
      if (hz < 10 || hz > 10000) return usage_error("--hz must be between 10 and 10000");
      cfg.hz = static_cast<ostd::u32>(hz);
    } else if (a == "--log-file") {
      const std::string* v = value("--log-file");
      if (v == nullptr || v->empty()) return usage_error("--log-file needs a file");
      log_file = *v;
    } else if (a == "--log") {
      const std::string* v = value("--log");
      auto lvl = v == nullptr ? ostd::Result<ostd::LogLevel>(ostd::Errno::einval) : ostd::log::parse_level(*v);
      if (lvl.is_error()) return usage_error("--log needs trace|debug|info|warn|error|off");
      ostd::log::set_level(lvl.value());
    } else if (a == "--net") {
      const std::string* v = value("--net");
      if (v == nullptr || (*v != "user" && *v != "none")) return usage_error("--net must be user or none");
      cfg.net.user = *v == "user";
    } else if (a == "--publish" || a == "-p") {
      const std::string* v = value("--publish");
      auto f = v == nullptr ? std::nullopt : ostd::host::parse_publish(*v);
      if (!f) return usage_error("--publish needs [HOSTADDR:]HOSTPORT:GUESTPORT[/udp]");
      cfg.net.publish.push_back(*f);
    } else if (a == "--disk") {
      const std::string* v = value("--disk");
      auto d = v == nullptr ? std::nullopt : ostd::host::parse_disk(*v);
      if (!d) return usage_error("--disk needs FILE or FILE:ro");
      cfg.disks.push_back(*d);
    } else if (a == "--volume" || a == "-v") {
      const std::string* v = value("--volume");
      auto vol = v == nullptr ? std::nullopt : ostd::host::parse_volume(*v);
      if (!vol) return usage_error("--volume needs HOSTDIR:GUESTDIR or HOSTDIR:GUESTDIR:ro");
      vol->tag = "vol" + std::to_string(volumes.size());
      volumes.push_back(*vol);
    } else if (a == "--root") {
      const std::string* v = value("--root");
      if (v == nullptr || v->empty()) return usage_error("--root needs a disk such as /dev/vda or a host directory");
      if (v->rfind("/dev/vd", 0) == 0) {
        root_device = *v;
      } else {
        // A host directory: served as the share "root".
        ostd::host::VolumeConfig r;
        r.host_path = *v;
        r.read_only = v->size() > 3 && v->compare(v->size() - 3, 3, ":ro") == 0;
        if (r.read_only) r.host_path.resize(v->size() - 3);
        r.guest_path = "/";
        r.tag = "root";
        root_dir = r;
      }
    } else if (a == "--strace") {
      strace = true;
    } else {
      return usage_error("unknown option '" + a + "'");
    }
  }
  if (!cfg.net.user && !cfg.net.publish.empty()) return usage_error("--publish needs --net user");
  if (!log_file.empty() && !ostd::host::set_log_file(log_file)) {
    return usage_error("cannot write the log file '" + log_file + "'");
  }
  if (info_command) {
    std::fputs(ostd::host::host_report(cfg, measure).c_str(), stdout);
    return 0;
  }
  if (i >= args.size()) return usage_error("missing PROGRAM after --");
  info.init_argv.assign(args.begin() + static_cast<long>(i), args.end());
  // The kernel command line: words the services understand ("strace").
  info.cmdline = "umk";
  if (strace) info.cmdline += " strace";
  if (!aslr) info.cmdline += " norandmaps";
  if (!root_device.empty()) info.cmdline += " root=" + root_device;
  if (root_dir) {
    if (!root_device.empty()) return usage_error("--root given twice");
    cfg.volumes.push_back(*root_dir);
    info.cmdline += " root=root rootfstype=9p";
    if (root_dir->read_only) info.cmdline += " ro";
  }
  for (const auto& v : volumes) {
    cfg.volumes.push_back(v);
    info.cmdline += " volume=" + v.tag + ":" + v.guest_path + (v.read_only ? ":ro" : "");
  }

  std::vector<unsigned char> initramfs;
  if (!initramfs_path.empty()) {
    std::string err = read_initramfs(initramfs_path, cfg.mem_bytes, initramfs);
    if (!err.empty()) {
      std::fprintf(stderr, "umk: --initramfs %s: %s\n", initramfs_path.c_str(), err.c_str());
      return 2;
    }
  }
  info.initramfs = std::span<const ostd::u8>(initramfs.data(), initramfs.size());
  cfg.confine = confine;
  int rc = ostd::host::run_kernel(cfg, std::move(info), [] { return services::kernel_main(); });
  // The machine powers off: kernel objects (processes, queues with sleeping tasks) are not torn
  // down one by one, as no kernel does at power-off. Flush what was written and leave.
  std::fflush(nullptr);
  spdlog::shutdown();
  std::_Exit(rc);
}
