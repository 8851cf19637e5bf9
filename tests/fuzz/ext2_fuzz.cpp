// libFuzzer target `ext2`: the input is a disk image; the kernel boots in-process (ASan, UBSan)
// with it as /dev/vda and a guest (ext2_guest.c) that mounts it, walks and reads everything,
// changes the tree and unmounts. Every malformed image must end in a clean errno (EINVAL at
// mount, EIO or EUCLEAN later): no crash, no hang, no stub left behind.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <ostd/host/host.h>
#include <ostd/log.h>

#include "cpio_builder.h"
#include "kernel_main.h"
#include "stubs_gone.h"

namespace {

std::vector<unsigned char> g_guest;
std::string g_image;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::ifstream f(EXT2_GUEST_PATH, std::ios::binary);
  g_guest.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  if (g_guest.empty()) {
    std::fprintf(stderr, "ext2 fuzz: cannot read the guest %s\n", EXT2_GUEST_PATH);
    std::abort();
  }
  const char* dir = std::getenv("TMPDIR");
  g_image = std::string(dir != nullptr ? dir : "/tmp") + "/ext2-fuzz-" + std::to_string(getpid()) + ".img";
  if (std::getenv("EXT2_FUZZ_LOG") == nullptr) ostd::log::set_level(ostd::LogLevel::Off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2048 || size > (4u << 20)) return -1;
  int fd = open(g_image.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0 || write(fd, data, size) != static_cast<ssize_t>(size)) std::abort();
  close(fd);

  std::vector<unsigned char> cpio;
  fuzz::add_cpio_member(cpio, "g", S_IFREG | 0755, g_guest.data(), g_guest.size());
  fuzz::add_cpio_member(cpio, "TRAILER!!!", 0, nullptr, 0);
  ostd::host::Config cfg;
  cfg.mem_bytes = 128ull << 20;
  cfg.catch_fatal_signals = false;  // libFuzzer and the sanitizers report crashes
  cfg.net.user = false;
  cfg.disks.push_back(ostd::host::DiskConfig{g_image, false});
  ostd::BootInfo info;
  info.init_argv = {"/g"};
  info.cmdline = "umk norandmaps";
  info.initramfs = std::span<const ostd::u8>(cpio.data(), cpio.size());
  (void)ostd::host::run_kernel(cfg, std::move(info), [] { return services::kernel_main(); });
  unlink(g_image.c_str());
  if (!fuzz::stubs_gone(cfg)) {
    std::fprintf(stderr, "ext2 fuzz: %zu stub processes outlived the kernel\n", ostd::host::stub_pids().size());
    std::abort();
  }
  return 0;
}
