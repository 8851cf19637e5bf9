// IPv4: output through the route's interface (fragmented to its MTU), input checked header by
// header with fragment reassembly (RFC 791, RFC 815; overlapping fragments drop the datagram,
// as RFC 5722 asks of IPv6 and Linux does for IPv4), ICMP echo and destination-unreachable
// (RFC 792), and the loopback backlog that delivers what was sent to this host (RFC 1122's
// host requirements where they apply).
#include <deque>
#include <map>
#include <tuple>

#include <optional>

#include "net/inet.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u16;
using ostd::u32;
using ostd::u64;
using ostd::u8;
using ostd::usize;

namespace {

constexpr usize kIpHeader = 20;
constexpr usize kMaxPacket = 65535;
constexpr usize kBacklogMax = 1000;  // netdev_max_backlog
constexpr u8 kIcmpEchoReply = 0, kIcmpDestUnreach = 3, kIcmpEcho = 8;
constexpr u8 kIcmpPortUnreach = 3;
constexpr u64 kReassemblyNs = 30 * ostd::kNsPerSec;  // ipfrag_time
constexpr usize kReassemblyMemory = 4u << 20;        // ipfrag_high_thresh
constexpr usize kReassemblyQueues = 256;

// A datagram being reassembled: its fragments by offset.
struct Reassembly {
  std::map<usize, std::vector<u8>> pieces;
  std::vector<u8> header;  // the first fragment's IP header
  usize total = 0;         // known once the last fragment came
  usize bytes = 0;
  u64 expires = 0;
};
using FragKey = std::tuple<u32, u32, u16, u8>;  // src, dst, id, protocol

struct Stack {
  ostd::Mutex lock;
  std::deque<std::vector<u8>> backlog;  // packets the loopback device received
  u16 next_id = 1;
  NetCounters counters;
  std::map<FragKey, Reassembly> reassembly;
  usize reassembly_bytes = 0;
};

Stack& stack() {
  static Stack s;
  return s;
}

std::vector<u8> ipv4_packet(u32 src, u32 dst, u8 proto, std::span<const u8> payload, u8 ttl, u8 tos, u16 id, u16 frag) {
  std::vector<u8> p(kIpHeader + payload.size());
  p[0] = 0x45;
  p[1] = tos;
  put16(p, 2, static_cast<u16>(p.size()));
  put16(p, 4, id);
  put16(p, 6, frag);
  p[8] = ttl;
  p[9] = proto;
  put32(p, 12, src);
  put32(p, 16, dst);
  put16(p, 10, checksum_fold(checksum_add(0, std::span<const u8>(p).first(kIpHeader))));
  std::copy(payload.begin(), payload.end(), p.begin() + kIpHeader);
  return p;
}

void icmp_send(u32 dst, u8 type, u8 code, std::span<const u8> rest_of_header, std::span<const u8> data) {
  std::vector<u8> m(8 + data.size());
  m[0] = type;
  m[1] = code;
  for (usize i = 0; i < 4 && i < rest_of_header.size(); ++i) m[4 + i] = rest_of_header[i];
  std::copy(data.begin(), data.end(), m.begin() + 8);
  put16(m, 2, checksum_fold(checksum_add(0, m)));
  auto src = route_source(IpAddr::v4(dst));
  if (src.is_error()) return;
  ++stack().counters.icmp_out_msgs;
  (void)ipv4_output(src.value().v4(), dst, kIpprotoIcmp, m, 64, 0);
}

void icmp_input(u32 src, std::span<const u8> m) {
  NetCounters& c = stack().counters;
  ++c.icmp_in_msgs;
  if (m.size() < 8 || checksum_fold(checksum_add(0, m)) != 0) {
    ++c.icmp_in_errors;
    return;
  }
  u8 type = m[0];
  if (type == kIcmpEcho) {
    icmp_send(src, kIcmpEchoReply, 0, m.subspan(4, 4), m.subspan(8));
    return;
  }
  if (type != kIcmpDestUnreach) return;
  // The quoted datagram: its IP header and at least 8 bytes of its transport header.
  auto q = m.subspan(8);
  if (q.size() < kIpHeader || (q[0] >> 4) != 4) return;
  usize ihl = usize{q[0] & 0xfu} * 4;
  if (ihl < kIpHeader || q.size() < ihl + 8) return;
  int err = icmp_unreach_errno(m[1]);
  IpAddr osrc = IpAddr::v4(get32(q, 12)), odst = IpAddr::v4(get32(q, 16));
  if (q[9] == kIpprotoUdp) udp_error(osrc, odst, q.subspan(ihl, 8), err);
  if (q[9] == kIpprotoTcp) tcp_error(osrc, odst, q.subspan(ihl, 8), err);
}

}  // namespace

int icmp_unreach_errno(u8 code) {
  switch (code) {
    case 0:
    case 6:
    case 9:
    case 11: return static_cast<int>(Errno::enetunreach);
    case 2: return static_cast<int>(Errno::enoprotoopt);
    case kIcmpPortUnreach: return static_cast<int>(Errno::econnrefused);
    case 4: return static_cast<int>(Errno::emsgsize);
    case 5: return static_cast<int>(Errno::eopnotsupp);
    default: return static_cast<int>(Errno::ehostunreach);
  }
}

namespace {

// Adds a fragment; the whole datagram (header and payload) once every piece is there.
std::optional<std::vector<u8>> reassemble(std::span<const u8> p, usize ihl) {
  Stack& st = stack();
  NetCounters& c = st.counters;
  ++c.reasm_reqds;
  u16 frag = get16(p, 6);
  usize offset = usize{frag & 0x1fffu} * 8;
  bool more = (frag & 0x2000) != 0;
  auto data = p.subspan(ihl);
  usize end = offset + data.size();
  FragKey key{get32(p, 12), get32(p, 16), get16(p, 4), p[9]};
  // Every fragment but the last carries a multiple of 8 bytes; none reaches past 64 KiB.
  if ((more && (data.size() % 8 != 0 || data.empty())) || end + kIpHeader > kMaxPacket) {
    ++c.reasm_fails;
    return std::nullopt;
  }
  auto it = st.reassembly.find(key);
  if (it == st.reassembly.end()) {
    if (st.reassembly.size() >= kReassemblyQueues || st.reassembly_bytes + data.size() > kReassemblyMemory) {
      ++c.reasm_fails;
      return std::nullopt;
    }
    it = st.reassembly.emplace(key, Reassembly{}).first;
    it->second.expires = ostd::monotonic_ns() + kReassemblyNs;
    net_timer_deadline(it->second.expires);
  }
  Reassembly& r = it->second;
  auto drop = [&] {
    st.reassembly_bytes -= r.bytes;
    st.reassembly.erase(it);
    ++c.reasm_fails;
    return std::nullopt;
  };
  if (!more) {
    if ((r.total != 0 && r.total != end) ||
        (!r.pieces.empty() && r.pieces.rbegin()->first + r.pieces.rbegin()->second.size() > end)) {
      return drop();
    }
    r.total = end;
  } else if (r.total != 0 && end > r.total) {
    return drop();
  }
  // An exact duplicate is ignored; any other overlap drops the datagram.
  auto next = r.pieces.lower_bound(offset);
  if (next != r.pieces.end() && next->first == offset && next->second.size() == data.size()) return std::nullopt;
  if (next != r.pieces.end() && next->first < end) return drop();
  if (next != r.pieces.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second.size() > offset) return drop();
  }
  if (st.reassembly_bytes + data.size() > kReassemblyMemory) return drop();
  r.pieces.emplace(offset, std::vector<u8>(data.begin(), data.end()));
  r.bytes += data.size();
  st.reassembly_bytes += data.size();
  if (offset == 0) r.header.assign(p.begin(), p.begin() + static_cast<long>(ihl));
  if (r.total == 0 || r.header.empty() || r.bytes != r.total) return std::nullopt;
  std::vector<u8> whole(r.header);
  whole.reserve(r.header.size() + r.total);
  for (const auto& [off, piece] : r.pieces) whole.insert(whole.end(), piece.begin(), piece.end());
  put16(whole, 2, static_cast<u16>(whole.size()));
  put16(whole, 6, 0);
  st.reassembly_bytes -= r.bytes;
  st.reassembly.erase(it);
  ++c.reasm_oks;
  return whole;
}

}  // namespace

void ipv4_input(std::span<const u8> p, bool loopback) {
  NetCounters& c = stack().counters;
  ++c.ip_in_receives;
  if (p.size() < kIpHeader || (p[0] >> 4) != 4) {
    ++c.ip_in_hdr_errors;
    return;
  }
  usize ihl = usize{p[0] & 0xfu} * 4;
  usize total = get16(p, 2);
  if (ihl < kIpHeader || ihl > p.size() || total < ihl || total > p.size() ||
      checksum_fold(checksum_add(0, p.first(ihl))) != 0) {
    ++c.ip_in_hdr_errors;
    return;
  }
  p = p.first(total);
  u32 src = get32(p, 12), dst = get32(p, 16);
  if (!is_local_address(dst) && dst != 0xffffffff) return;  // no forwarding
  std::vector<u8> whole;
  if ((get16(p, 6) & 0x3fff) != 0) {  // MF or an offset: a fragment
    auto r = reassemble(p, ihl);
    if (!r) return;
    whole = std::move(*r);
    p = whole;
  }
  ++c.ip_in_delivers;
  auto payload = p.subspan(ihl);
  switch (p[9]) {
    case kIpprotoIcmp:
      if (!payload.empty()) raw_deliver(IpAddr::v4(src), IpAddr::v4(dst), payload[0], p);
      icmp_input(src, payload);
      break;
    case kIpprotoTcp: tcp_input(IpAddr::v4(src), IpAddr::v4(dst), payload, loopback); break;
    case kIpprotoUdp:
      if (!udp_input(IpAddr::v4(src), IpAddr::v4(dst), payload, loopback)) {
        // No socket: port unreachable, quoting the header and the first 8 bytes.
        icmp_send(src, kIcmpDestUnreach, kIcmpPortUnreach, {}, p.first(std::min(p.size(), ihl + 8)));
      }
      break;
    default: break;
  }
}

void ipv4_reset() {
  Stack& st = stack();
  st.backlog.clear();
  st.reassembly.clear();
  st.reassembly_bytes = 0;
}

u64 ipv4_timers(u64 now) {
  Stack& st = stack();
  u64 next = 0;
  for (auto it = st.reassembly.begin(); it != st.reassembly.end();) {
    if (it->second.expires <= now) {
      st.reassembly_bytes -= it->second.bytes;
      ++st.counters.reasm_fails;
      it = st.reassembly.erase(it);
      continue;
    }
    next = next == 0 ? it->second.expires : std::min(next, it->second.expires);
    ++it;
  }
  return next;
}

int sockaddr_family(std::span<const u8> a) { return a.size() < 2 ? 0 : a[0] | (a[1] << 8); }

void put16(std::vector<u8>& p, usize at, u16 v) {
  p.at(at) = static_cast<u8>(v >> 8);
  p.at(at + 1) = static_cast<u8>(v);
}
void put32(std::vector<u8>& p, usize at, u32 v) {
  put16(p, at, static_cast<u16>(v >> 16));
  put16(p, at + 2, static_cast<u16>(v));
}
u16 get16(std::span<const u8> p, usize at) { return static_cast<u16>((p[at] << 8) | p[at + 1]); }
u32 get32(std::span<const u8> p, usize at) { return (u32{get16(p, at)} << 16) | get16(p, at + 2); }

u32 checksum_add(u32 sum, std::span<const u8> data) {
  u64 s = sum;
  usize i = 0;
  for (; i + 1 < data.size(); i += 2) s += (u32{data[i]} << 8) | data[i + 1];
  if (i < data.size()) s += u32{data[i]} << 8;
  while ((s >> 32) != 0) s = (s & 0xffffffff) + (s >> 32);
  return static_cast<u32>(s);
}

u16 checksum_fold(u32 sum) {
  while ((sum >> 16) != 0) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<u16>(~sum);
}

u16 transport_checksum(const IpAddr& src, const IpAddr& dst, u8 proto, std::span<const u8> segment) {
  std::vector<u8> ph;
  if (src.is_v4() && dst.is_v4()) {
    ph.resize(12);
    put32(ph, 0, src.v4());
    put32(ph, 4, dst.v4());
    ph[9] = proto;
    put16(ph, 10, static_cast<u16>(segment.size()));
  } else {
    ph.resize(40);
    std::copy(src.b.begin(), src.b.end(), ph.begin());
    std::copy(dst.b.begin(), dst.b.end(), ph.begin() + 16);
    put32(ph, 32, static_cast<u32>(segment.size()));
    ph[39] = proto;
  }
  return checksum_fold(checksum_add(checksum_add(0, ph), segment));
}

ostd::Mutex& net_lock() { return stack().lock; }
NetCounters& net_counters() { return stack().counters; }

Result<void> ipv4_output(u32 src, u32 dst, u8 proto, std::span<const u8> payload, u8 ttl, u8 tos) {
  if (payload.size() > kMaxPacket - kIpHeader) return Errno::emsgsize;
  if (dst == kInaddrAny) dst = kInaddrLoopback;
  Route r = TRY(route_lookup(IpAddr::v4(dst)));
  Stack& st = stack();
  ++st.counters.ip_out_requests;
  u16 id = st.next_id++;
  if ((r.dev->flags & kIffLoopback) != 0) {
    loopback_enqueue(*r.dev, ipv4_packet(src, dst, proto, payload, ttl, tos, id, 0x4000));
    return {};
  }
  if (kIpHeader + payload.size() <= r.dev->mtu) {
    interface_output(r, ipv4_packet(src, dst, proto, payload, ttl, tos, id, 0x4000));  // DF: path MTU discovery
    return {};
  }
  // Too big for the link: fragments of a multiple of 8 bytes, the last without MF.
  usize per = (r.dev->mtu - kIpHeader) & ~usize{7};
  ++st.counters.frag_oks;
  for (usize off = 0; off < payload.size(); off += per) {
    usize n = std::min(per, payload.size() - off);
    bool last = off + n == payload.size();
    u16 frag = static_cast<u16>((off / 8) | (last ? 0 : 0x2000));
    interface_output(r, ipv4_packet(src, dst, proto, payload.subspan(off, n), ttl, tos, id, frag));
    ++st.counters.frag_creates;
  }
  return {};
}

void loopback_enqueue(NetInterface& lo, std::vector<u8> packet) {
  Stack& st = stack();
  if (st.backlog.size() >= kBacklogMax) {
    ++lo.tx_dropped;
    return;  // dropped, as a full backlog drops
  }
  ++lo.tx_packets;
  ++lo.rx_packets;
  lo.tx_bytes += packet.size();
  lo.rx_bytes += packet.size();
  st.backlog.push_back(std::move(packet));
}

Result<void> ip_output(const IpAddr& src, const IpAddr& dst, u8 proto, std::span<const u8> payload, u8 ttl, u8 tos) {
  if (dst.is_v4()) {
    if (!src.is_v4()) return Errno::enetunreach;
    return ipv4_output(src.v4(), dst.v4(), proto, payload, ttl, tos);
  }
  return ipv6_output(src, dst, proto, payload, ttl, tos);
}

void net_process_backlog() {
  Stack& st = stack();
  for (;;) {
    std::vector<u8> p;
    auto g = st.lock.lock();
    if (st.backlog.empty()) return;
    p = std::move(st.backlog.front());
    st.backlog.pop_front();
    if (!p.empty() && (p[0] >> 4) == 6) {
      ipv6_input(p, true);
    } else {
      ipv4_input(p, true);
    }
  }
}

}  // namespace services
