// The TCP/IP stack at the packet level: the kernel runs in this process with the host backend's
// test NIC, a guest (tests/guest/tcp_client.c) connects to 10.0.2.2:80 (or [fec0::2]:80),
// sends a block, shuts its side down and checks that the same bytes come back; this test plays
// the peer on a thread of its own — ARP or neighbour discovery, a small TCP that echoes — and
// misbehaves on purpose: it loses, reorders,
// duplicates segments, closes its window, resets. The guest's verdict (its exit status) and
// what the peer saw on the wire must both be right. Waits are for events, with generous
// deadlines: nothing sleeps a fixed time to let something happen.
#include <sys/stat.h>

#include <cerrno>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <mutex>
#include <thread>
#include <vector>

#include "kernel_main.h"

#include "../fuzz/cpio_builder.h"
#include "../unit/ostd/harness.h"

namespace {

using Clock = std::chrono::steady_clock;
using Bytes = std::vector<unsigned char>;

const Bytes kGuestMac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
const Bytes kPeerMac = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
constexpr uint32_t kGuestIp = 0x0a00020f, kPeerIp = 0x0a000202;
// fec0::5054:ff:fe12:3456 (the guest's address from its MAC) and fec0::2.
const Bytes kGuestIp6 = {0xfe, 0xc0, 0, 0, 0, 0, 0, 0, 0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56};
const Bytes kPeerIp6 = {0xfe, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
constexpr uint8_t kFin = 1, kSyn = 2, kRst = 4, kPsh = 8, kAck = 16;

unsigned be16(const unsigned char* p) { return (p[0] << 8) | p[1]; }
uint32_t be32(const unsigned char* p) { return (uint32_t{be16(p)} << 16) | be16(p + 2); }
void put16(Bytes& b, size_t at, unsigned v) {
  b[at] = static_cast<unsigned char>(v >> 8);
  b[at + 1] = static_cast<unsigned char>(v);
}
void put32(Bytes& b, size_t at, uint32_t v) {
  put16(b, at, v >> 16);
  put16(b, at + 2, v & 0xffff);
}
unsigned checksum(const unsigned char* p, size_t n, unsigned long sum) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += be16(p + i);
  if (n % 2 != 0) sum += p[n - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<unsigned>(~sum & 0xffff);
}

// The IPv6 pseudo-header's sum (RFC 8200 8.1).
unsigned long pseudo6(const Bytes& src, const Bytes& dst, size_t len, uint8_t proto) {
  unsigned long sum = 0;
  for (size_t i = 0; i < 16; i += 2) sum += be16(src.data() + i) + be16(dst.data() + i);
  return sum + (len >> 16) + (len & 0xffff) + proto;
}

// An IPv6 packet from `src` to `dst` (hop limit 255: neighbour discovery accepts no other).
Bytes ipv6(const Bytes& src, const Bytes& dst, uint8_t proto, const Bytes& payload) {
  Bytes ip(40);
  ip[0] = 0x60;
  put16(ip, 4, static_cast<unsigned>(payload.size()));
  ip[6] = proto;
  ip[7] = 255;
  std::copy(src.begin(), src.end(), ip.begin() + 8);
  std::copy(dst.begin(), dst.end(), ip.begin() + 24);
  ip.insert(ip.end(), payload.begin(), payload.end());
  return ip;
}

// An IPv4 packet (TTL 64, its header checksummed).
Bytes ipv4(uint32_t src, uint32_t dst, uint8_t proto, const Bytes& payload) {
  Bytes ip(20);
  ip[0] = 0x45;
  put16(ip, 2, static_cast<unsigned>(20 + payload.size()));
  ip[8] = 64;
  ip[9] = proto;
  put32(ip, 12, src);
  put32(ip, 16, dst);
  put16(ip, 10, checksum(ip.data(), 20, 0));
  ip.insert(ip.end(), payload.begin(), payload.end());
  return ip;
}

Bytes ethernet(unsigned type, const Bytes& payload) {
  Bytes f(kGuestMac);
  f.insert(f.end(), kPeerMac.begin(), kPeerMac.end());
  f.push_back(static_cast<unsigned char>(type >> 8));
  f.push_back(static_cast<unsigned char>(type));
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}

// A TCP segment from the peer (10.0.2.2:80) to the guest, in its frame.
Bytes segment(bool v6, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t window, const Bytes& data,
              bool mss_option = false) {
  size_t hl = mss_option ? 24 : 20;
  Bytes t(hl + data.size());
  put16(t, 0, 80);
  put16(t, 2, dport);
  put32(t, 4, seq);
  put32(t, 8, ack);
  t[12] = static_cast<unsigned char>((hl / 4) << 4);
  t[13] = flags;
  put16(t, 14, window);
  if (mss_option) {
    t[20] = 2;
    t[21] = 4;
    put16(t, 22, 1460);
  }
  std::copy(data.begin(), data.end(), t.begin() + static_cast<long>(hl));
  if (v6) {
    put16(t, 16, checksum(t.data(), t.size(), pseudo6(kPeerIp6, kGuestIp6, t.size(), 6)));
    return ethernet(0x86dd, ipv6(kPeerIp6, kGuestIp6, 6, t));
  }
  unsigned long pseudo = (kPeerIp >> 16) + (kPeerIp & 0xffff) + (kGuestIp >> 16) + (kGuestIp & 0xffff) + 6 + t.size();
  put16(t, 16, checksum(t.data(), t.size(), pseudo));
  return ethernet(0x0800, ipv4(kPeerIp, kGuestIp, 6, t));
}

// How the peer misbehaves.
struct Faults {
  bool lose_first_data = false;   // the guest's first data segment is not taken (nor acked)
  bool reorder_echo = false;      // the echo's first two segments go out swapped
  bool duplicate_echo = false;    // every echo segment goes out twice
  bool zero_window = false;       // the SYN-ACK offers no window; it opens on a probe
  bool reset_after_data = false;  // a reset once the guest's data is in
  bool v6 = false;                // the connection is over IPv6 (neighbour discovery, not ARP)
  bool answer_keepalive = false;  // keepalive probes are answered (else ignored, as a dead peer)
  bool hold_acks = false;         // the first flights of data are acknowledged 0.5 s late, at once
  bool unreachable = false;       // a SYN is answered with ICMP (ICMPv6) host unreachable
};

// 10.0.2.2 (fec0::2): answers ARP (neighbour solicitations), accepts one connection on port 80, takes its data in order, echoes it
// after the guest's FIN in 1000-byte segments (go-back-N every 100 ms until acknowledged), then
// its own FIN.
class Peer {
 public:
  Peer(Faults f, size_t expected) : f_(f), expected_(expected), thread_([this] { loop(); }) {}
  ~Peer() {
    stop_ = true;
    thread_.join();
  }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  // What it saw.
  std::mutex lock;
  std::vector<std::pair<uint32_t, double>> data_arrivals;  // sequence number (relative), seconds
  double lost_at = -1, resent_at = -1, all_in_at = -1;
  bool data_while_closed = false, probe_seen = false, guest_reset = false, solicited = false;
  int echo_resends = 0;  // rounds of go-back-N the echo needed
  int keepalive_probes = 0;
  std::vector<double> probe_times;
  std::vector<int> flights;  // hold_acks: data segments that came before each held ACK
  int unreachables_sent = 0;
  size_t received = 0;

 private:
  double now() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

  void send(uint8_t flags, const Bytes& data, uint32_t seq) {
    ostd::host::test_nic_inject(segment(f_.v6, gport_, seq, rcv_nxt_, flags, window_, data));
  }

  void on_tcp(const unsigned char* t, size_t len) {
    if (len < 20 || be16(t + 2) != 80) return;
    size_t hl = (t[12] >> 4) * 4u;
    if (hl < 20 || hl > len) return;
    uint8_t flags = t[13];
    uint32_t seq = be32(t + 4), ack = be32(t + 8);
    Bytes data(t + hl, t + len);
    std::lock_guard g(lock);
    if ((flags & kRst) != 0) {
      guest_reset = true;
      return;
    }
    if ((flags & kSyn) != 0 && f_.unreachable) {
      icmp_unreachable(t, len);
      return;
    }
    if ((flags & kSyn) != 0) {
      gport_ = static_cast<uint16_t>(be16(t));
      irs_ = seq;
      rcv_nxt_ = seq + 1;
      window_ = f_.zero_window ? 0 : 65535;
      snd_una_ = snd_nxt_ = kIss + 1;
      ostd::host::test_nic_inject(segment(f_.v6, gport_, kIss, rcv_nxt_, kSyn | kAck, window_, {}, true));
      return;
    }
    if ((flags & kAck) != 0 && static_cast<int32_t>(ack - snd_una_) > 0) snd_una_ = ack;
    if (data.empty() && (flags & kFin) == 0 && seq == rcv_nxt_ - 1 && window_ != 0) {
      // A keepalive probe: an ACK one byte behind.
      ++keepalive_probes;
      probe_times.push_back(now());
      if (f_.answer_keepalive) send(kAck, {}, snd_nxt_);
      return;
    }
    if (window_ == 0) {
      if (!data.empty()) data_while_closed = true;
      if (data.empty() && seq == rcv_nxt_ - 1) {
        probe_seen = true;
        window_ = 65535;  // the probe is answered with an open window
        send(kAck, {}, snd_nxt_);
      }
      return;
    }
    if (!data.empty()) {
      data_arrivals.emplace_back(seq - irs_ - 1, now());
      if (f_.lose_first_data && lost_at < 0) {
        lost_at = now();
        return;
      }
      if (seq == irs_ + 1 && lost_at >= 0 && resent_at < 0) resent_at = now();
      if (f_.hold_acks && flights.size() < 3 && seq == rcv_nxt_) {
        // Taken, acknowledged later: what arrives meanwhile is one flight of the sender.
        if (hold_until_ == 0) hold_until_ = now() + 0.5;
        ++held_;
        in_.insert(in_.end(), data.begin(), data.end());
        rcv_nxt_ += static_cast<uint32_t>(data.size());
        received = in_.size();
        return;
      }
      if (seq == rcv_nxt_) {
        in_.insert(in_.end(), data.begin(), data.end());
        rcv_nxt_ += static_cast<uint32_t>(data.size());
        received = in_.size();
        if (lost_at >= 0 && all_in_at < 0 && seq + data.size() - irs_ - 1 >= expected_) all_in_at = now();
        if (f_.reset_after_data && received >= kResetAfter) {
          send(kRst | kAck, {}, snd_nxt_);
          return;
        }
      }
      send(kAck, {}, snd_nxt_);
    }
    if ((flags & kFin) != 0 && seq + data.size() == rcv_nxt_ && !echoing_) {
      ++rcv_nxt_;
      echoing_ = true;
      echo_ = in_;
      snd_una_ = snd_nxt_ = kIss + 1;
      send_echo(true);
    }
  }

  // ICMP destination unreachable, host (ICMPv6: address) unreachable, quoting the guest's SYN
  // after the IP header this peer rebuilds (what a router on the way would send).
  void icmp_unreachable(const unsigned char* t, size_t len) {
    ++unreachables_sent;
    Bytes seg(t, t + std::min<size_t>(len, 28));
    if (f_.v6) {
      Bytes quoted = ipv6(kGuestIp6, kPeerIp6, 6, seg);
      quoted[7] = 64;
      Bytes m(8);
      m[0] = 1;  // destination unreachable
      m[1] = 3;  // address unreachable
      m.insert(m.end(), quoted.begin(), quoted.end());
      put16(m, 2, checksum(m.data(), m.size(), pseudo6(kPeerIp6, kGuestIp6, m.size(), 58)));
      Bytes ip = ipv6(kPeerIp6, kGuestIp6, 58, m);
      ip[7] = 64;
      ostd::host::test_nic_inject(ethernet(0x86dd, ip));
      return;
    }
    Bytes quoted = ipv4(kGuestIp, kPeerIp, 6, seg);
    Bytes m(8);
    m[0] = 3;  // destination unreachable
    m[1] = 1;  // host unreachable
    m.insert(m.end(), quoted.begin(), quoted.end());
    put16(m, 2, checksum(m.data(), m.size(), 0));
    ostd::host::test_nic_inject(ethernet(0x0800, ipv4(kPeerIp, kGuestIp, 1, m)));
  }

  // The echo from snd_una on, then FIN.
  void send_echo(bool first) {
    uint32_t from = snd_una_ - (kIss + 1);
    std::vector<std::pair<uint32_t, Bytes>> segs;
    for (uint32_t off = from; off < echo_.size(); off += 1000) {
      size_t n = std::min<size_t>(1000, echo_.size() - off);
      segs.emplace_back(off, Bytes(echo_.begin() + off, echo_.begin() + static_cast<long>(off + n)));
    }
    if (first && f_.reorder_echo && segs.size() >= 2) std::swap(segs[0], segs[1]);
    for (const auto& [off, d] : segs) {
      for (int copies = first && f_.duplicate_echo ? 2 : 1; copies > 0; --copies) {
        send(kAck | kPsh, d, kIss + 1 + off);
      }
    }
    send(kFin | kAck, {}, kIss + 1 + static_cast<uint32_t>(echo_.size()));
    snd_nxt_ = kIss + 2 + static_cast<uint32_t>(echo_.size());
    last_send_ = now();
  }

  void loop() {
    while (!stop_) {
      for (const auto& f : ostd::host::test_nic_take_sent()) {
        if (f.size() < 14) continue;
        unsigned type = be16(f.data() + 12);
        const unsigned char* p = f.data() + 14;
        size_t len = f.size() - 14;
        if (type == 0x0806 && len >= 28 && be16(p + 6) == 1 && be32(p + 24) == kPeerIp) {
          Bytes a = {0, 1, 8, 0, 6, 4, 0, 2};
          a.insert(a.end(), kPeerMac.begin(), kPeerMac.end());
          a.insert(a.end(), p + 24, p + 28);
          a.insert(a.end(), p + 8, p + 18);  // the asker's MAC and address
          ostd::host::test_nic_inject(ethernet(0x0806, a));
        } else if (type == 0x0800 && len >= 20 && p[9] == 6) {
          size_t ihl = (p[0] & 15u) * 4;
          size_t total = std::min<size_t>(be16(p + 2), len);
          if (ihl >= 20 && total >= ihl) on_tcp(p + ihl, total - ihl);
        } else if (type == 0x86dd && len >= 40) {
          size_t total = std::min<size_t>(40 + be16(p + 4), len);
          if (p[6] == 6) on_tcp(p + 40, total - 40);
          if (p[6] == 58 && total >= 64 && p[40] == 135 && std::equal(kPeerIp6.begin(), kPeerIp6.end(), p + 48)) {
            // A neighbour solicitation for fec0::2: the advertisement (solicited, override)
            // with our MAC, to the asker.
            Bytes asker(p + 8, p + 24);
            Bytes na(32);
            na[0] = 136;
            na[4] = 0x60;
            std::copy(kPeerIp6.begin(), kPeerIp6.end(), na.begin() + 8);
            na[24] = 2;
            na[25] = 1;
            std::copy(kPeerMac.begin(), kPeerMac.end(), na.begin() + 26);
            put16(na, 2, checksum(na.data(), na.size(), pseudo6(kPeerIp6, asker, na.size(), 58)));
            {
              std::lock_guard g(lock);
              solicited = true;
            }
            ostd::host::test_nic_inject(ethernet(0x86dd, ipv6(kPeerIp6, asker, 58, na)));
          }
        }
      }
      {
        std::lock_guard g(lock);
        if (hold_until_ != 0 && now() > hold_until_) {
          flights.push_back(held_);
          held_ = 0;
          hold_until_ = 0;
          send(kAck, {}, snd_nxt_);
        }
        if (echoing_ && snd_una_ != snd_nxt_ && now() - last_send_ > 0.1) {
          ++echo_resends;
          send_echo(false);
        }
      }
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  }

  static constexpr uint32_t kIss = 0x10000;
  static constexpr size_t kResetAfter = 4000;
  Faults f_;
  size_t expected_;
  Clock::time_point start_ = Clock::now();
  std::atomic<bool> stop_{false};
  uint16_t gport_ = 0;
  uint16_t window_ = 65535;
  uint32_t irs_ = 0, rcv_nxt_ = 0, snd_una_ = 0, snd_nxt_ = 0;
  bool echoing_ = false;
  double last_send_ = 0;
  double hold_until_ = 0;
  int held_ = 0;
  Bytes in_, echo_;
  std::thread thread_;
};

// Boots the kernel with the test NIC and runs the guest client against the peer; its status.
int run_client(size_t bytes, bool v6 = false, bool keepalive = false) {
  std::ifstream f(std::string(GUESTS_ROOT) + "/tcp-client", std::ios::binary);
  Bytes guest((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_FALSE(guest.empty());
  Bytes cpio;
  fuzz::add_cpio_member(cpio, "tcp-client", S_IFREG | 0755, guest.data(), guest.size());
  fuzz::add_cpio_member(cpio, "TRAILER!!!", 0, nullptr, 0);
  ostd::host::Config cfg;
  cfg.mem_bytes = test::mem_bytes();
  if (const char* p = std::getenv("UMK_PLATFORM"); p != nullptr && *p != '\0') cfg.platform = p;
  cfg.net.user = false;
  cfg.net.test_nic = true;
  ostd::BootInfo info;
  info.init_argv = {"/tcp-client", v6 ? "fec0::2" : "10.0.2.2", "80", keepalive ? "keepalive" : std::to_string(bytes)};
  info.initramfs = std::span<const ostd::u8>(cpio.data(), cpio.size());
  return ostd::host::run_kernel(cfg, std::move(info), [] { return services::kernel_main(); });
}

TEST(TcpStack, EchoesThroughAWellBehavedPeer) {
  Peer peer({}, 100000);
  EXPECT_EQ(run_client(100000), 0);
  std::lock_guard g(peer.lock);
  EXPECT_EQ(peer.received, 100000u);
  for (const auto& [seq, t] : peer.data_arrivals) EXPECT_LT(seq, 100000u);  // no segment past the data
}

TEST(TcpStack, RetransmitsALostSegmentOnTheTimer) {
  Peer peer({.lose_first_data = true}, 3000);
  EXPECT_EQ(run_client(3000), 0);
  std::lock_guard g(peer.lock);
  ASSERT_GE(peer.lost_at, 0);
  ASSERT_GE(peer.resent_at, 0) << "the lost segment never came again";
  // RFC 6298: no sooner than the minimum RTO (200 ms; the initial 1 s here, no sample yet).
  EXPECT_GE(peer.resent_at - peer.lost_at, 0.19);
  EXPECT_LT(peer.resent_at - peer.lost_at, 30.0);
  EXPECT_EQ(peer.received, 3000u);
  // The segments after the lost one, which this peer dropped too, follow on the partial ACKs
  // at once: one timeout in all, not one (doubling) per segment (1 + 2 + 4 s).
  ASSERT_GE(peer.all_in_at, 0);
  EXPECT_LT(peer.all_in_at - peer.resent_at, 6.0);
}

TEST(TcpStack, KeepsReorderedSegmentsUntilTheHoleFills) {
  Peer peer({.reorder_echo = true}, 5000);
  EXPECT_EQ(run_client(5000), 0);  // the guest checks every byte of the echo
  std::lock_guard g(peer.lock);
  EXPECT_EQ(peer.echo_resends, 0) << "the segment past the hole was dropped, not kept";
}

TEST(TcpStack, DeliversDuplicatedSegmentsOnce) {
  Peer peer({.duplicate_echo = true}, 5000);
  EXPECT_EQ(run_client(5000), 0);
}

TEST(TcpStack, WaitsForAClosedWindowAndProbesIt) {
  Peer peer({.zero_window = true}, 2000);
  EXPECT_EQ(run_client(2000), 0);
  std::lock_guard g(peer.lock);
  EXPECT_TRUE(peer.probe_seen) << "no zero-window probe";
  EXPECT_FALSE(peer.data_while_closed) << "data sent into a closed window";
  EXPECT_EQ(peer.received, 2000u);
}

TEST(TcpStack, AResetEndsTheConnection) {
  Peer peer({.reset_after_data = true}, 50000);
  EXPECT_EQ(run_client(50000), 1);  // the guest's write or read fails (ECONNRESET / EPIPE)
}

TEST(TcpStack, EchoesOverIpv6AfterNeighbourDiscovery) {
  Peer peer({.v6 = true}, 100000);
  EXPECT_EQ(run_client(100000, true), 0);
  std::lock_guard g(peer.lock);
  EXPECT_TRUE(peer.solicited) << "the guest never asked for fec0::2's link address";
  EXPECT_EQ(peer.received, 100000u);
}

TEST(TcpStack, RecoversALossOverIpv6AndKeepsReorderedSegments) {
  // Four segments (the MSS is 1440 over IPv6): the three after the lost one bring three
  // duplicate ACKs, so the loss is repaired by fast retransmit or the timer, whichever comes.
  Peer peer({.lose_first_data = true, .reorder_echo = true, .v6 = true}, 5000);
  EXPECT_EQ(run_client(5000, true), 0);
  std::lock_guard g(peer.lock);
  ASSERT_GE(peer.resent_at, 0) << "the lost segment never came again";
  EXPECT_EQ(peer.received, 5000u);
  EXPECT_EQ(peer.echo_resends, 0) << "the segment past the hole was dropped, not kept";
}

TEST(TcpStack, KeepaliveEndsAConnectionWhosePeerIsGone) {
  // Idle 1 s, then a probe a second for 2 probes, then ETIMEDOUT: the guest's read fails.
  Peer peer({}, 0);
  EXPECT_EQ(run_client(0, false, true), 1);
  std::lock_guard g(peer.lock);
  EXPECT_EQ(peer.keepalive_probes, 2);
  EXPECT_TRUE(peer.guest_reset) << "no reset when the connection was given up";
  ASSERT_EQ(peer.probe_times.size(), 2u);
  EXPECT_GE(peer.probe_times[1] - peer.probe_times[0], 0.9);  // TCP_KEEPINTVL apart
}

TEST(TcpStack, KeepaliveProbesThatAreAnsweredKeepTheConnection) {
  Peer peer({.answer_keepalive = true}, 0);
  EXPECT_EQ(run_client(0, false, true), 0);  // 5 s idle: still connected
  std::lock_guard g(peer.lock);
  EXPECT_GE(peer.keepalive_probes, 3);  // one a second after the first second idle
  EXPECT_FALSE(peer.guest_reset);
}

TEST(TcpStack, SlowStartBeginsWithTenSegments) {
  // 100 KB through a 64 KiB window and a 1460-byte MSS: without congestion control the first
  // flight would be 44 segments. RFC 6928: ten; slow start then grows by what an ACK covers.
  Peer peer({.hold_acks = true}, 100000);
  EXPECT_EQ(run_client(100000), 0);
  std::lock_guard g(peer.lock);
  ASSERT_GE(peer.flights.size(), 2u);
  EXPECT_GE(peer.flights[0], 1);
  EXPECT_LE(peer.flights[0], 10) << "the first flight is over the initial window";
  EXPECT_LE(peer.flights[1], 20) << "slow start grew the window past what the ACK covered";
  EXPECT_EQ(peer.received, 100000u);
}

TEST(TcpStack, IcmpHostUnreachableFailsTheConnectAtOnce) {
  // Not after the SYN retries (two minutes): the first error ends the connect, EHOSTUNREACH.
  Peer peer({.unreachable = true}, 10);
  EXPECT_EQ(run_client(10), 64 + EHOSTUNREACH);
  std::lock_guard g(peer.lock);
  EXPECT_EQ(peer.unreachables_sent, 1);
}

TEST(TcpStack, Icmpv6AddressUnreachableFailsTheConnectAtOnce) {
  Peer peer({.v6 = true, .unreachable = true}, 10);
  EXPECT_EQ(run_client(10, true), 64 + EHOSTUNREACH);
  std::lock_guard g(peer.lock);
  EXPECT_EQ(peer.unreachables_sent, 1);
}

}  // namespace
