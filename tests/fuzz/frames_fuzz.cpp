// libFuzzer target `frames`: raw Ethernet frames fed to the network stack (services/net) through
// the host backend's test NIC, with the whole kernel in-process under ASan and UBSan. The guest
// (frames_guest.c) holds a TCP listener on port 80, a UDP socket on port 53 (both dual-stack,
// so IPv4 and IPv6 frames meet them) and a connection
// being made to 10.0.2.2:80; the frames arrive once it has sent its first one, so they meet
// those sockets, the ARP and neighbour tables, the reassembly queues and the TCP state machine.
//
// Input: a flags byte, then frames, each a big-endian 16-bit length and that many bytes (at most
// 64 frames). Flag bit 0 fixes the IPv4 header checksum and the TCP, UDP, ICMP and ICMPv6
// checksums of every frame first, so the fuzzer gets past them; without it the checks themselves are fuzzed.
// Every frame must be dropped, answered or delivered: no crash, no hang, the kernel ending
// cleanly with no stub process left.
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <vector>

#include <ostd/host/host.h>
#include <ostd/log.h>

#include "cpio_builder.h"
#include "stubs_gone.h"
#include "kernel_main.h"

namespace {

std::vector<unsigned char> g_guest;

unsigned be16(const unsigned char* p) { return (p[0] << 8) | p[1]; }

unsigned sum16(const unsigned char* p, size_t n, unsigned long sum) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += be16(p + i);
  if (n % 2 != 0) sum += p[n - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<unsigned>(~sum & 0xffff);
}

void put16(unsigned char* p, unsigned v) {
  p[0] = static_cast<unsigned char>(v >> 8);
  p[1] = static_cast<unsigned char>(v);
}

// Recomputes the checksum of an IPv6 frame's TCP, UDP or ICMPv6 message (one that follows the
// fixed header directly).
void fix_checksums6(std::vector<unsigned char>& f) {
  if (f.size() < 14 + 40) return;
  unsigned char* ip = f.data() + 14;
  size_t len = be16(ip + 4);
  if (40 + len > f.size() - 14) return;
  size_t at = 0;
  switch (ip[6]) {
    case 6: at = 16; break;
    case 17: at = 6; break;
    case 58: at = 2; break;
    default: return;
  }
  unsigned char* t = ip + 40;
  if (len < at + 2) return;
  put16(t + at, 0);
  unsigned long s = (len >> 16) + (len & 0xffff) + ip[6];
  for (size_t i = 8; i < 40; i += 2) s += be16(ip + i);
  unsigned c = sum16(t, len, s);
  if (ip[6] == 17 && c == 0) c = 0xffff;
  put16(t + at, c);
}

// Recomputes the checksums an IPv4 frame carries (what a well-behaved sender would put there).
void fix_checksums(std::vector<unsigned char>& f) {
  if (f.size() >= 14 && f[12] == 0x86 && f[13] == 0xdd) {
    fix_checksums6(f);
    return;
  }
  if (f.size() < 14 + 20 || f[12] != 0x08 || f[13] != 0x00) return;
  unsigned char* ip = f.data() + 14;
  size_t room = f.size() - 14;
  size_t ihl = (ip[0] & 15u) * 4;
  if (ihl < 20 || ihl > room) return;
  put16(ip + 10, 0);
  put16(ip + 10, sum16(ip, ihl, 0));
  if ((be16(ip + 6) & 0x3fff) != 0) return;  // a fragment: the checksum covers the whole datagram
  size_t total = be16(ip + 2);
  if (total < ihl || total > room) return;
  unsigned char* t = ip + ihl;
  size_t len = total - ihl;
  size_t at = 0;
  bool pseudo = true;
  switch (ip[9]) {
    case 6: at = 16; break;
    case 17: at = 6; break;
    case 1:
      at = 2;
      pseudo = false;
      break;
    default: return;
  }
  if (len < at + 2) return;
  put16(t + at, 0);
  unsigned long s = 0;
  if (pseudo) s = be16(ip + 12) + be16(ip + 14) + be16(ip + 16) + be16(ip + 18) + ip[9] + len;
  unsigned c = sum16(t, len, s);
  if (ip[9] == 17 && c == 0) c = 0xffff;
  put16(t + at, c);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::ifstream f(FRAMES_GUEST_PATH, std::ios::binary);
  g_guest.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  if (g_guest.empty()) {
    std::fprintf(stderr, "frames fuzz: cannot read the guest %s\n", FRAMES_GUEST_PATH);
    std::abort();
  }
  if (std::getenv("FRAMES_FUZZ_LOG") == nullptr) ostd::log::set_level(ostd::LogLevel::Off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return -1;
  bool fix = (data[0] & 1) != 0;
  size_t at = 1;
  std::vector<std::vector<unsigned char>> frames;
  while (at + 2 <= size && frames.size() < 64) {
    size_t len = be16(data + at);
    at += 2;
    if (len > size - at) len = size - at;
    std::vector<unsigned char> fr(data + at, data + at + len);
    at += len;
    if (fix) fix_checksums(fr);
    frames.push_back(std::move(fr));
  }
  std::vector<unsigned char> cpio;
  fuzz::add_cpio_member(cpio, "g", S_IFREG | 0755, g_guest.data(), g_guest.size());
  fuzz::add_cpio_member(cpio, "TRAILER!!!", 0, nullptr, 0);

  ostd::host::Config cfg;
  cfg.mem_bytes = 128ull << 20;
  cfg.catch_fatal_signals = false;  // libFuzzer and the sanitizers report crashes
  cfg.net.user = false;
  cfg.net.test_nic = true;
  for (auto& fr : frames) ostd::host::test_nic_inject(std::move(fr));
  ostd::BootInfo info;
  info.init_argv = {"/g"};
  info.cmdline = "umk norandmaps";
  info.initramfs = std::span<const ostd::u8>(cpio.data(), cpio.size());
  (void)ostd::host::run_kernel(cfg, std::move(info), [] { return services::kernel_main(); });
  (void)ostd::host::test_nic_take_sent();
  if (!fuzz::stubs_gone(cfg)) {
    std::fprintf(stderr, "frames fuzz: %zu stub processes outlived the kernel\n", ostd::host::stub_pids().size());
    std::abort();
  }
  return 0;
}
