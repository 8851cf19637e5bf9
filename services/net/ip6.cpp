// IPv6 (RFC 8200): packets in and out, the extension headers a host walks (hop-by-hop and
// destination options, routing headers with no segments left, atomic fragments), ICMPv6
// (RFC 4443: echo, destination unreachable to the transports, port unreachable for datagrams
// no socket takes) and neighbour discovery, which net/netif.cpp answers. A fragmented datagram
// is dropped and counted (no reassembly yet); nothing is forwarded.
#include <algorithm>

#include "net/inet.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::Result;
using ostd::u16;
using ostd::u32;
using ostd::u8;
using ostd::usize;

namespace {

constexpr usize kIp6Header = 40;
constexpr usize kMaxPayload = 65535;
constexpr usize kMinMtu = 1280;
constexpr u8 kNhHopByHop = 0, kNhRouting = 43, kNhFragment = 44, kNhNone = 59, kNhDestOpts = 60;
constexpr u8 kIcmp6DestUnreach = 1, kIcmp6EchoRequest = 128, kIcmp6EchoReply = 129;
constexpr u8 kIcmp6RouterSolicit = 133, kIcmp6Redirect = 137;
constexpr u8 kIcmp6PortUnreach = 4;

}  // namespace

std::vector<u8> ipv6_packet(const IpAddr& src, const IpAddr& dst, u8 nh, std::span<const u8> payload, u8 hop_limit,
                            u8 tclass) {
  std::vector<u8> p(kIp6Header + payload.size());
  p[0] = static_cast<u8>(0x60 | (tclass >> 4));
  p[1] = static_cast<u8>(tclass << 4);
  put16(p, 4, static_cast<u16>(payload.size()));
  p[6] = nh;
  p[7] = hop_limit;
  std::copy(src.b.begin(), src.b.end(), p.begin() + 8);
  std::copy(dst.b.begin(), dst.b.end(), p.begin() + 24);
  std::copy(payload.begin(), payload.end(), p.begin() + kIp6Header);
  return p;
}

namespace {

// An ICMPv6 message to `dst`, from `src` when that is one of our unicast addresses (else the
// route's choice).
void icmp6_send(const IpAddr& dst, const IpAddr& src_hint, u8 type, u8 code, u32 rest, std::span<const u8> data) {
  IpAddr src = src_hint;
  if (src.is_unspecified() || src.is_multicast() || !is_local_address(src)) {
    auto r = route_source(dst);
    if (r.is_error()) return;
    src = r.value();
  }
  std::vector<u8> m(8 + data.size());
  m[0] = type;
  m[1] = code;
  put32(m, 4, rest);
  std::copy(data.begin(), data.end(), m.begin() + 8);
  put16(m, 2, transport_checksum(src, dst, kIpprotoIcmpv6, m));
  ++net_counters().icmp6_out_msgs;
  (void)ipv6_output(src, dst, kIpprotoIcmpv6, m, 64, 0);
}

// An ICMPv6 error about `invoking` (a whole packet this host received): never for a multicast
// or unspecified source or a multicast destination (RFC 4443 2.4 (e)), quoting as much as a
// minimum-MTU packet holds.
void icmp6_error(std::span<const u8> invoking, u8 type, u8 code) {
  IpAddr src = IpAddr::from(invoking.subspan(8, 16)), dst = IpAddr::from(invoking.subspan(24, 16));
  if (dst.is_multicast() || src.is_multicast() || src.is_unspecified()) return;
  usize n = std::min(invoking.size(), kMinMtu - kIp6Header - 8);
  icmp6_send(src, dst, type, code, 0, invoking.first(n));
}

// icmpv6_err_convert: the errno a destination-unreachable code means to a socket.
int unreach_errno(u8 code) {
  switch (code) {
    case 0: return static_cast<int>(Errno::enetunreach);
    case 1:
    case 5:
    case 6: return static_cast<int>(Errno::eacces);
    case kIcmp6PortUnreach: return static_cast<int>(Errno::econnrefused);
    default: return static_cast<int>(Errno::ehostunreach);
  }
}

void icmp6_input(const IpAddr& src, const IpAddr& dst, u8 hop_limit, std::span<const u8> m, bool loopback) {
  NetCounters& c = net_counters();
  ++c.icmp6_in_msgs;
  if (m.size() < 8 || transport_checksum(src, dst, kIpprotoIcmpv6, m) != 0) {
    ++c.icmp6_in_errors;
    return;
  }
  u8 type = m[0];
  raw_deliver(src, dst, type, m);
  if (type == kIcmp6EchoRequest) {
    icmp6_send(src, dst, kIcmp6EchoReply, 0, get32(m, 4), m.subspan(8));
    return;
  }
  if (type == kIcmp6DestUnreach) {
    // The quoted packet: its IPv6 header and at least 8 bytes of what follows it.
    auto q = m.subspan(8);
    if (q.size() < kIp6Header + 8 || (q[0] >> 4) != 6) return;
    IpAddr osrc = IpAddr::from(q.subspan(8, 16)), odst = IpAddr::from(q.subspan(24, 16));
    if (q[6] == kIpprotoUdp) udp_error(osrc, odst, q.subspan(kIp6Header, 8), unreach_errno(m[1]));
    if (q[6] == kIpprotoTcp) tcp_error(osrc, odst, q.subspan(kIp6Header, 8), unreach_errno(m[1]));
    return;
  }
  if (type >= kIcmp6RouterSolicit && type <= kIcmp6Redirect && !loopback) ndisc_input(src, dst, hop_limit, m);
}

// The options of a hop-by-hop or destination options header: false when one says to discard
// the packet (an unknown option whose type's two high bits are not 00, RFC 8200 4.2).
bool options_allow(std::span<const u8> h) {
  for (usize i = 2; i < h.size();) {
    u8 type = h[i];
    if (type == 0) {  // Pad1
      ++i;
      continue;
    }
    if (i + 1 >= h.size() || i + 2 + h[i + 1] > h.size()) return false;
    bool known = type == 1 || type == 5;  // PadN, Router Alert
    if (!known && (type >> 6) != 0) return false;
    i += 2 + usize{h[i + 1]};
  }
  return true;
}

}  // namespace

void ipv6_input(std::span<const u8> p, bool loopback) {
  NetCounters& c = net_counters();
  ++c.ip6_in_receives;
  if (p.size() < kIp6Header || (p[0] >> 4) != 6 || kIp6Header + get16(p, 4) > p.size()) {
    ++c.ip6_in_hdr_errors;
    return;
  }
  p = p.first(kIp6Header + get16(p, 4));
  IpAddr src = IpAddr::from(p.subspan(8, 16)), dst = IpAddr::from(p.subspan(24, 16));
  // A multicast or IPv4-mapped source, or the loopback address from a wire, is never valid.
  if (src.is_multicast() || src.is_v4() || dst.is_v4() || (!loopback && (src.is_loopback() || dst.is_loopback()))) {
    ++c.ip6_in_hdr_errors;
    return;
  }
  if (dst.is_multicast() ? !is_local_multicast6(dst) : !is_local_address(dst)) return;  // no forwarding
  u8 nh = p[6];
  usize off = kIp6Header;
  for (bool first = true;; first = false) {
    if (nh == kNhHopByHop || nh == kNhDestOpts || nh == kNhRouting) {
      if ((nh == kNhHopByHop && !first) || off + 8 > p.size() || off + (usize{p[off + 1]} + 1) * 8 > p.size()) {
        ++c.ip6_in_hdr_errors;
        return;
      }
      usize len = (usize{p[off + 1]} + 1) * 8;
      auto h = p.subspan(off, len);
      // A routing header with segments left would have us forward the packet.
      if ((nh == kNhRouting && h[3] != 0) || (nh != kNhRouting && !options_allow(h))) {
        ++c.ip6_in_hdr_errors;
        return;
      }
      nh = h[0];
      off += len;
      continue;
    }
    if (nh == kNhFragment) {
      if (off + 8 > p.size()) {
        ++c.ip6_in_hdr_errors;
        return;
      }
      if ((get16(p, off + 2) & 0xfff9) != 0) {  // an offset or more fragments: not reassembled yet
        ++c.reasm_fails;
        return;
      }
      nh = p[off];  // an atomic fragment (RFC 6946): the datagram itself
      off += 8;
      continue;
    }
    break;
  }
  ++c.ip6_in_delivers;
  auto payload = p.subspan(off);
  switch (nh) {
    case kIpprotoTcp:
      if (!dst.is_multicast()) tcp_input(src, dst, payload, loopback);
      break;
    case kIpprotoUdp:
      if (!udp_input(src, dst, payload, loopback)) icmp6_error(p, kIcmp6DestUnreach, kIcmp6PortUnreach);
      break;
    case kIpprotoIcmpv6: icmp6_input(src, dst, p[7], payload, loopback); break;
    case kNhNone:
    default: break;
  }
}

Result<void> ipv6_output(const IpAddr& src, const IpAddr& dst, u8 proto, std::span<const u8> payload, u8 hop_limit,
                         u8 tclass) {
  if (payload.size() > kMaxPayload) return Errno::emsgsize;
  IpAddr to = dst.is_unspecified() ? kIn6Loopback : dst;
  Route r = TRY(route_lookup(to));
  ++net_counters().ip6_out_requests;
  auto packet = ipv6_packet(src, to, proto, payload, hop_limit, tclass);
  if ((r.dev->flags & kIffLoopback) != 0) {
    loopback_enqueue(*r.dev, std::move(packet));
    return {};
  }
  if (packet.size() > r.dev->mtu) return Errno::emsgsize;
  interface_output(r, std::move(packet));
  return {};
}

}  // namespace services
