// libFuzzer target `p9`: replies of a 9P server, mutated. The kernel boots in-process (ASan,
// UBSan) with a small host directory shared over 9P2000.L, and a guest (ext2_guest.c with
// "9p vol0") that mounts it, walks and reads everything, changes the tree and unmounts. Every
// reply passes through a filter the input drives: each 4-byte record (reply number, offset,
// byte) XORs that byte of that reply, or with byte 0 cuts the reply short there. Every bad
// reply must end in a clean errno (EIO mostly): no crash, no hang, no stub left behind.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <ostd/host/host.h>
#include <ostd/log.h>

#include "cpio_builder.h"
#include "fs/p9.h"
#include "kernel_main.h"
#include "stubs_gone.h"

namespace {

std::vector<unsigned char> g_guest;
std::string g_dir;

struct Edit {
  uint8_t reply;
  uint16_t offset;
  uint8_t value;
};
std::vector<Edit> g_edits;

// The share's replies, edited as the input says.
class Mutating final : public services::p9::Transport {
 public:
  explicit Mutating(std::shared_ptr<services::p9::Transport> inner) : inner_(std::move(inner)) {}
  std::string tag() const override { return inner_->tag(); }
  bool read_only() const override { return inner_->read_only(); }
  ostd::u32 max_message() const override { return inner_->max_message(); }
  ostd::Result<void> rpc(std::span<const ostd::u8> request, std::vector<ostd::u8>& reply) override {
    auto r = inner_->rpc(request, reply);
    if (r.is_error()) return r;
    for (const Edit& e : g_edits) {
      if (e.reply != (count_ & 0xff) || reply.empty()) continue;
      const size_t at = e.offset % reply.size();
      if (e.value == 0) {
        reply.resize(at);
        break;
      }
      reply[at] ^= e.value;
    }
    ++count_;
    return r;
  }

 private:
  std::shared_ptr<services::p9::Transport> inner_;
  unsigned count_ = 0;
};

void make_tree() {
  std::filesystem::remove_all(g_dir);
  std::filesystem::create_directories(g_dir + "/a/b");
  std::ofstream(g_dir + "/small") << "small\n";
  std::ofstream big(g_dir + "/a/big");
  for (int i = 0; i < 20000; ++i) big << i << '\n';
  std::ofstream(g_dir + "/a/b/deep") << "deep\n";
  std::filesystem::create_symlink("a/big", g_dir + "/link");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::ifstream f(P9_GUEST_PATH, std::ios::binary);
  g_guest.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  if (g_guest.empty()) {
    std::fprintf(stderr, "p9 fuzz: cannot read the guest %s\n", P9_GUEST_PATH);
    std::abort();
  }
  const char* dir = std::getenv("TMPDIR");
  g_dir = std::string(dir != nullptr ? dir : "/tmp") + "/p9-fuzz-" + std::to_string(getpid());
  if (std::getenv("P9_FUZZ_LOG") == nullptr) ostd::log::set_level(ostd::LogLevel::Off);
  services::p9::set_share_filter([](std::shared_ptr<services::p9::Transport> t) {
    return std::shared_ptr<services::p9::Transport>(std::make_shared<Mutating>(std::move(t)));
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return -1;
  g_edits.clear();
  for (size_t i = 0; i + 4 <= size; i += 4) {
    g_edits.push_back(Edit{data[i], static_cast<uint16_t>(data[i + 1] | (data[i + 2] << 8)), data[i + 3]});
  }
  make_tree();
  std::vector<unsigned char> cpio;
  fuzz::add_cpio_member(cpio, "g", S_IFREG | 0755, g_guest.data(), g_guest.size());
  fuzz::add_cpio_member(cpio, "TRAILER!!!", 0, nullptr, 0);
  ostd::host::Config cfg;
  cfg.mem_bytes = 128ull << 20;
  cfg.catch_fatal_signals = false;  // libFuzzer and the sanitizers report crashes
  cfg.net.user = false;
  ostd::host::VolumeConfig v;
  v.host_path = g_dir;
  v.tag = "vol0";
  cfg.volumes.push_back(v);
  ostd::BootInfo info;
  info.init_argv = {"/g", "9p", "vol0"};
  info.cmdline = "umk norandmaps";
  info.initramfs = std::span<const ostd::u8>(cpio.data(), cpio.size());
  (void)ostd::host::run_kernel(cfg, std::move(info), [] { return services::kernel_main(); });
  std::filesystem::remove_all(g_dir);
  if (!fuzz::stubs_gone(cfg)) {
    std::fprintf(stderr, "p9 fuzz: %zu stub processes outlived the kernel\n", ostd::host::stub_pids().size());
    std::abort();
  }
  return 0;
}
