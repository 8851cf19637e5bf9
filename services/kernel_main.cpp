#include "kernel_main.h"

#include <ostd/boot.h>
#include <ostd/log.h>
#include <ostd/task.h>
#include <ostd/time.h>

#include "device/block.h"
#include "device/kmsg.h"
#include "fs/p9.h"
#include "fs/protected.h"
#include "fs/vfs.h"
#include "syscall/table.h"
#include "syscall/strace.h"
#include "fs/file.h"
#include "net/inet.h"
#include "process/internal.h"
#include "process/process.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;

namespace {
constexpr ostd::Logger kLog{"init"};

// The values of every `name=VALUE` among the command line's words.
std::vector<std::string_view> boot_words(std::string_view cmdline, std::string_view name) {
  std::vector<std::string_view> out;
  for (std::size_t i = 0; i < cmdline.size();) {
    std::size_t e = cmdline.find(' ', i);
    if (e == std::string_view::npos) e = cmdline.size();
    std::string_view w = cmdline.substr(i, e - i);
    if (w.size() > name.size() && w.substr(0, name.size()) == name && w[name.size()] == '=') {
      out.push_back(w.substr(name.size() + 1));
    }
    i = e + 1;
  }
  return out;
}

// The value of `name=VALUE` among the command line's words ("" when absent).
std::string boot_parameter(std::string_view cmdline, std::string_view name) {
  auto all = boot_words(cmdline, name);
  return all.empty() ? std::string() : std::string(all.front());
}

// Whether the word `flag` stands alone on the command line.
bool boot_flag(std::string_view cmdline, std::string_view flag) {
  for (std::size_t i = 0; i < cmdline.size();) {
    std::size_t e = cmdline.find(' ', i);
    if (e == std::string_view::npos) e = cmdline.size();
    if (cmdline.substr(i, e - i) == flag) return true;
    i = e + 1;
  }
  return false;
}

// root=/dev/vdX: ext2, ext3 or ext4 (as its superblock says) on that disk, read-only with the
// "ro" word or when its features are read-only here (as Linux retries a root mount on EROFS).
ostd::Result<std::shared_ptr<FileSystem>> mount_root_device(std::string_view device, bool read_only) {
  constexpr std::string_view kDev = "/dev/";
  if (device.substr(0, kDev.size()) != kDev) return Errno::einval;
  for (const auto& disk : block_devices()) {
    if (disk->name() != device.substr(kDev.size())) continue;
    std::string type = TRY(ext_type_of(disk));
    auto fs = make_ext2(disk, read_only, type);
    if (fs.is_error() && fs.error() == Errno::erofs && !read_only) {
      kLog.warn("{} is read-only here: mounting it read-only", device);
      return make_ext2(disk, true, type);
    }
    return fs;
  }
  return Errno::enxio;
}
// Every `volume=TAG:DIR[:ro]` word: the share TAG mounted on DIR (made when missing).
ostd::Result<void> mount_volume(std::string_view word) {
  auto colon = word.find(':');
  if (colon == std::string_view::npos) return Errno::einval;
  std::string_view tag = word.substr(0, colon);
  std::string_view dir = word.substr(colon + 1);
  bool ro = false;
  if (dir.size() > 3 && dir.substr(dir.size() - 3) == ":ro") {
    ro = true;
    dir.remove_suffix(3);
  }
  if (dir.empty() || dir[0] != '/') return Errno::einval;
  auto ctx = initial_fs_context();
  auto at = ctx->root();
  for (std::size_t i = 1; i < dir.size();) {
    std::size_t e = dir.find('/', i);
    if (e == std::string_view::npos) e = dir.size();
    std::string_view name = dir.substr(i, e - i);
    i = e + 1;
    if (name.empty()) continue;
    auto next = walk(PathLookup{*ctx, at, nullptr}, name, true);
    if (next.is_error() && next.error() == Errno::enoent) {
      (void)TRY(at->inode()->create(name, abi::kSIfdir | 0755, 0));
      next = walk(PathLookup{*ctx, at, nullptr}, name, true);
    }
    at = TRY(std::move(next));
  }
  auto fs = TRY(make_9p(tag, ro));
  const bool read_only = fs->read_only();
  return mount_fs(*ctx, at, std::move(fs), std::string(tag), mnt::kRelatime | (read_only ? mnt::kReadOnly : 0u));
}

}  // namespace

int kernel_main() {
  (void)uptime_ns();  // marks the boot time
  kernel_log_boot();
  // Make the kernel's lazily built tables now, while one task runs: a function-local static
  // first reached by two tasks at once (one preempted inside its initializer) aborts.
  (void)syscall_table();
  init_strace();
  (void)global_poll_queue();
  pid_table().reset();  // init is pid 1 on every boot
  reset_link_protection();
  const ostd::BootInfo& info = ostd::boot_info();
  if (info.init_argv.empty()) {
    kLog.error("no init program given");
    return 2;
  }
  init_block_devices();  // before devfs lists them
  p9::init_shares();
  std::shared_ptr<FileSystem> disk_root;
  std::string root_device = boot_parameter(info.cmdline, "root");
  if (!root_device.empty()) {
    // root=/dev/vdX (ext2), or root=TAG rootfstype=9p (a share: a host directory).
    auto fs = boot_parameter(info.cmdline, "rootfstype") == "9p"
                  ? make_9p(root_device, boot_flag(info.cmdline, "ro"))
                  : mount_root_device(root_device, boot_flag(info.cmdline, "ro"));
    if (fs.is_error()) {
      kLog.error("cannot mount the root file system {}: {} ({})", root_device, ostd::errno_message(fs.error()),
                 fs.error());
      return 2;
    }
    disk_root = fs.release_value();
  }
  auto root = init_root_fs(info.initramfs, disk_root, root_device);
  if (root.is_error()) {
    kLog.error("cannot {} the root file system: {}", disk_root ? "set up" : "unpack the initramfs into", root.error());
    return 2;
  }
  for (std::string_view v : boot_words(info.cmdline, "volume")) {
    if (auto r = mount_volume(v); r.is_error()) {
      kLog.error("cannot mount the volume {}: {} ({})", v, ostd::errno_message(r.error()), r.error());
      return 2;
    }
  }
  net_init();
  if (std::string conf = dns_resolv_conf(); !conf.empty()) (void)provide_root_file("etc", "resolv.conf", conf);
  auto init = spawn_init(info.init_argv);
  if (init.is_error()) {
    kLog.error("cannot run {}: {} ({}){}", info.init_argv[0], ostd::errno_message(init.error()), init.error(),
               init.error() == Errno::enoexec ? ": not an x86-64 ELF executable or script this kernel can run" : "");
    net_shutdown();
    // As a shell reports: 127 when the program is missing, 126 when it cannot run.
    return init.error() == Errno::enoent || init.error() == Errno::enotdir ? 127 : 126;
  }
  std::shared_ptr<Process> p = init.release_value();
  (void)p->exited.wait_until(
      [&] { return p->state != Process::State::Running && p->state != Process::State::Stopped; });
  int status = shell_status(p->exit_code);
  // Init is gone: the machine shuts down; end every other process.
  for (int round = 0; round < 100; ++round) {
    bool any = false;
    for (auto& q : pid_table().all_processes()) {
      if (q->state == Process::State::Running || q->state == Process::State::Stopped) {
        any = true;
        group_exit(*q, 9);
      }
    }
    if (!any) break;
    ostd::Task::sleep_for_ns(ostd::kNsPerMs);
  }
  for (auto& q : pid_table().all_processes()) {
    if (q->state == Process::State::Running || q->state == Process::State::Stopped) {
      kLog.warn("shutdown: process {} ({}) did not end", q->pid(), q->comm);
    }
  }
  sysv_shutdown();
  mqueue_shutdown();
  shutdown_filesystems();
  net_shutdown();
  return status;
}

}  // namespace services
