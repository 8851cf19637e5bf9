// Socket addresses, IP-level options and datagram receive queues of the TCP, UDP and raw sockets
// of both families:
// sockaddr_in and sockaddr_in6 decoded and checked as Linux's inet_bind/inet6_bind and
// tcp_v6_connect/ip6_datagram_connect check them, the dual-stack rules (which bound address
// takes which packets, which binds compete for a port), and SOL_IP / SOL_IPV6 options.
#include <algorithm>

#include <ostd/format.h>

#include "net/inet.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::i32;
using ostd::Result;
using ostd::u16;
using ostd::u32;
using ostd::u8;
using ostd::usize;

namespace {

constexpr usize kSockaddrIn6Rfc2133 = 24, kSockaddrIn6 = 28;
constexpr int kSolIp = 0, kSolIpv6 = 41;
constexpr int kIpTos = 1, kIpTtl = 2, kIpMulticastTtl = 33, kIpMulticastLoop = 34, kIpAddMembership = 35,
              kIpDropMembership = 36;
constexpr int kIpv6UnicastHops = 16, kIpv6MulticastIf = 17, kIpv6MulticastHops = 18, kIpv6MulticastLoop = 19,
              kIpv6AddMembership = 20, kIpv6DropMembership = 21, kIpv6V6only = 26, kIpv6Tclass = 67;
constexpr usize kMaxMemberships = 20;  // net.ipv4.igmp_max_memberships

u32 scope_id_of(std::span<const u8> a) {
  if (a.size() < kSockaddrIn6) return 0;
  return u32{a[24]} | (u32{a[25]} << 8) | (u32{a[26]} << 16) | (u32{a[27]} << 24);
}

// Joins or leaves a multicast group (IP_ADD_MEMBERSHIP and IPV6_JOIN_GROUP): joining twice is
// EADDRINUSE, leaving a group not joined EADDRNOTAVAIL, more than igmp_max_memberships ENOBUFS.
Result<void> membership(IpOptions& o, bool join, const IpAddr& group, u32 iface) {
  auto it = std::find(o.groups.begin(), o.groups.end(), std::pair<IpAddr, u32>{group, iface});
  if (!join) {
    if (it == o.groups.end()) return Errno::eaddrnotavail;
    o.groups.erase(it);
    return {};
  }
  if (it != o.groups.end()) return Errno::eaddrinuse;
  if (o.groups.size() >= kMaxMemberships) return Errno::enobufs;
  o.groups.emplace_back(group, iface);
  return {};
}

}  // namespace

IpAddr wildcard_of(int family) { return family == kAfInet6 ? IpAddr{} : IpAddr::v4(0); }

std::string ip_text(const IpAddr& a) {
  if (a.is_v4()) {
    u32 v = a.v4();
    return ostd::format("{}.{}.{}.{}", v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff);
  }
  // RFC 5952: lowercase hex groups without leading zeros, the longest run (two or more) of
  // zero groups as "::".
  std::array<u16, 8> g{};
  for (usize i = 0; i < 8; ++i) g[i] = static_cast<u16>((a.b[2 * i] << 8) | a.b[2 * i + 1]);
  usize best = 8, best_len = 0;
  for (usize i = 0; i < 8;) {
    usize j = i;
    while (j < 8 && g[j] == 0) ++j;
    if (j - i > best_len && j - i >= 2) {
      best = i;
      best_len = j - i;
    }
    i = j == i ? i + 1 : j;
  }
  std::string s;
  for (usize i = 0; i < 8; ++i) {
    if (i == best) {
      s += "::";
      i += best_len - 1;
      continue;
    }
    if (!s.empty() && s.back() != ':') s += ':';
    s += hex_field(g[i], 1, false);
  }
  return s;
}

std::string proc_net_endpoint(const InetEndpoint& e, bool v6) {
  std::string s;
  for (usize w = v6 ? 0 : 3; w < 4; ++w) {
    // A 32-bit word of the address as the machine holds it (little-endian): bytes reversed.
    u32 le = u32{e.addr.b[4 * w]} | (u32{e.addr.b[4 * w + 1]} << 8) | (u32{e.addr.b[4 * w + 2]} << 16) |
             (u32{e.addr.b[4 * w + 3]} << 24);
    s += hex_field(le, 8);
  }
  return s + ":" + hex_field(e.port, 4);
}

Result<InetEndpoint> parse_sockaddr_in(std::span<const u8> a, bool unspec_any_ok) {
  if (a.size() < 16) return Errno::einval;
  int family = sockaddr_family(a);
  InetEndpoint e{IpAddr::v4(get32(a, 4)), get16(a, 2)};
  if (family != kAfInet) {
    if (!(unspec_any_ok && family == kAfUnspec && e.addr == IpAddr::v4(0))) return Errno::eafnosupport;
  }
  return e;
}

std::vector<u8> sockaddr_bytes(int family, const InetEndpoint& e) {
  if (family != kAfInet6) {
    std::vector<u8> a(16);
    a[0] = static_cast<u8>(kAfInet);
    put16(a, 2, e.port);
    put32(a, 4, e.addr.v4());
    return a;
  }
  std::vector<u8> a(kSockaddrIn6);
  a[0] = static_cast<u8>(kAfInet6);
  put16(a, 2, e.port);
  std::copy(e.addr.b.begin(), e.addr.b.end(), a.begin() + 8);
  if (e.addr.is_link_local()) {
    for (const auto& i : net_interfaces()) {
      if ((i->flags & kIffLoopback) == 0) a[24] = static_cast<u8>(i->index);  // sin6_scope_id
    }
  }
  return a;
}

Result<InetEndpoint> parse_bind_address(int family, bool v6only, bool stream, std::span<const u8> a) {
  if (family == kAfInet) {
    InetEndpoint e = TRY(parse_sockaddr_in(a, true));
    if (!e.addr.is_wildcard() && !e.addr.is_multicast() && !is_local_address(e.addr)) return Errno::eaddrnotavail;
    return e;
  }
  if (a.size() < kSockaddrIn6Rfc2133) return Errno::einval;
  if (sockaddr_family(a) != kAfInet6) return Errno::eafnosupport;
  InetEndpoint e{IpAddr::from(a.subspan(8, 16)), get16(a, 2)};
  if (e.addr.is_multicast() && stream) return Errno::einval;
  if (e.addr.is_v4()) {
    if (v6only) return Errno::einval;
    if (!e.addr.is_wildcard() && !e.addr.is_multicast() && !is_local_address(e.addr)) return Errno::eaddrnotavail;
    return e;
  }
  if (e.addr.is_unspecified()) return e;
  if ((e.addr.is_link_local() || (e.addr.is_multicast() && (e.addr.b[1] & 0xf) <= 2)) && scope_id_of(a) == 0) {
    return Errno::einval;  // a link-scope address needs its interface
  }
  if (!e.addr.is_multicast() && !is_local_address(e.addr)) return Errno::eaddrnotavail;
  return e;
}

Result<InetEndpoint> parse_connect_address(int family, bool v6only, bool datagram, const IpAddr& bound,
                                           std::span<const u8> a) {
  int f = sockaddr_family(a);
  if (family == kAfInet || (datagram && f == kAfInet)) {
    if (a.size() < 16) return Errno::einval;
    if (f != kAfInet && !(datagram && f == kAfUnspec)) return Errno::eafnosupport;
    if (family == kAfInet6 && v6only) return Errno::enetunreach;
    InetEndpoint e{IpAddr::v4(get32(a, 4)), get16(a, 2)};
    if (e.addr == IpAddr::v4(0)) e.addr = IpAddr::v4(kInaddrLoopback);
    return e;
  }
  if (a.size() < kSockaddrIn6Rfc2133) return Errno::einval;
  if (f != kAfInet6) return Errno::eafnosupport;
  InetEndpoint e{IpAddr::from(a.subspan(8, 16)), get16(a, 2)};
  if (e.addr.is_unspecified()) e.addr = bound.is_v4() ? IpAddr::v4(kInaddrLoopback) : kIn6Loopback;
  if (e.addr.is_v4()) {
    if (v6only) return Errno::enetunreach;
    if (e.addr == IpAddr::v4(0)) e.addr = IpAddr::v4(kInaddrLoopback);
    return e;
  }
  if (e.addr.is_multicast() && !datagram) return Errno::enetunreach;
  if (e.addr.is_link_local() && scope_id_of(a) == 0) return Errno::einval;
  return e;
}

bool bound_accepts(const IpAddr& bound, bool v6only, const IpAddr& dst) {
  if (bound.is_unspecified()) return !(v6only && dst.is_v4());
  if (bound == IpAddr::v4(0)) return dst.is_v4();
  return bound == dst;
}

bool bound_overlap(const IpAddr& a, bool a_v6only, const IpAddr& b, bool b_v6only) {
  if (!a.is_wildcard() && !b.is_wildcard()) return a == b;
  if (!a.is_wildcard()) return bound_accepts(b, b_v6only, a);
  if (!b.is_wildcard()) return bound_accepts(a, a_v6only, b);
  // Two wildcards: they overlap where both take IPv4, or both IPv6.
  bool a4 = !(a.is_unspecified() && a_v6only), b4 = !(b.is_unspecified() && b_v6only);
  return (a4 && b4) || (a.is_unspecified() && b.is_unspecified());
}

u8 IpOptions::hops_to(const IpAddr& dst) const {
  if (dst.is_v4()) return dst.is_multicast() ? mcast_ttl : ttl;
  if (dst.is_multicast()) return static_cast<u8>(mcast_hops < 0 ? 1 : mcast_hops);
  return static_cast<u8>(hop_limit < 0 ? 64 : hop_limit);
}

Result<void> set_ip_option(IpOptions& o, int family, int type, bool has_port, int level, int name,
                           std::span<const u8> val) {
  bool stream = type == kSockStream;
  if (level == kSolIp) {
    if (name == kIpAddMembership || name == kIpDropMembership) {
      // struct ip_mreq (or ip_mreqn): the group must be multicast; the interface one of ours.
      if (val.size() < 8) return Errno::einval;
      if (stream) return Errno::eproto;
      u32 group = get32(val, 0), iface = get32(val, 4);
      if ((group >> 28) != 0xe) return Errno::einval;
      if (iface != kInaddrAny && !is_local_address(iface)) return Errno::enodev;
      return membership(o, name == kIpAddMembership, IpAddr::v4(group), iface);
    }
    // IP options also take a single byte (do_ip_setsockopt).
    i32 v = val.size() == 1 ? val[0] : TRY(read_int_option(val));
    switch (name) {
      case kIpTtl:
        if (v == -1) v = 64;
        if (v < 1 || v > 255) return Errno::einval;
        o.ttl = static_cast<u8>(v);
        return {};
      case kIpTos: o.tos = static_cast<u8>(v & 0xfc); return {};
      case kIpMulticastTtl:
        if (stream) return Errno::eproto;
        if (v == -1) v = 1;
        if (v < 0 || v > 255) return Errno::einval;
        o.mcast_ttl = static_cast<u8>(v);
        return {};
      case kIpMulticastLoop: o.mcast_loop = v != 0; return {};
      default: return Errno::enoprotoopt;
    }
  }
  if (level != kSolIpv6 || family != kAfInet6) return Errno::enoprotoopt;
  if (name == kIpv6AddMembership || name == kIpv6DropMembership) {
    // struct ipv6_mreq: the group and an interface index.
    if (val.size() < 20) return Errno::einval;
    if (stream) return Errno::eproto;
    IpAddr group = IpAddr::from(val.first(16));
    if (!group.is_multicast() || group.is_v4()) return Errno::einval;
    u32 iface = u32{val[16]} | (u32{val[17]} << 8) | (u32{val[18]} << 16) | (u32{val[19]} << 24);
    if (iface != 0 && interface_by_index(static_cast<int>(iface)) == nullptr) return Errno::enodev;
    return membership(o, name == kIpv6AddMembership, group, iface);
  }
  i32 v = TRY(read_int_option(val));
  switch (name) {
    case kIpv6V6only:
      if (has_port) return Errno::einval;
      o.v6only = v != 0;
      return {};
    case kIpv6UnicastHops:
      if (v < -1 || v > 255) return Errno::einval;
      o.hop_limit = v;
      return {};
    case kIpv6MulticastHops:
      if (stream) return Errno::einval;
      if (v < -1 || v > 255) return Errno::einval;
      o.mcast_hops = v;
      return {};
    case kIpv6MulticastLoop:
      if (v != 0 && v != 1) return Errno::einval;
      o.mcast_loop6 = v != 0;
      return {};
    case kIpv6MulticastIf:
      if (stream) return Errno::einval;
      if (v != 0 && interface_by_index(v) == nullptr) return Errno::enodev;
      o.mcast_if6 = v;
      return {};
    case kIpv6Tclass:
      if (v < -1 || v > 255) return Errno::einval;
      o.tclass = static_cast<u8>(v < 0 ? 0 : v);
      return {};
    default: return Errno::enoprotoopt;
  }
}

Result<std::vector<u8>> get_ip_option(const IpOptions& o, int family, int level, int name) {
  if (level == kSolIp) {
    switch (name) {
      case kIpTtl: return int_option(o.ttl);
      case kIpTos: return int_option(o.tos);
      case kIpMulticastTtl: return int_option(o.mcast_ttl);
      case kIpMulticastLoop: return int_option(o.mcast_loop ? 1 : 0);
      default: return Errno::enoprotoopt;
    }
  }
  if (level != kSolIpv6 || family != kAfInet6) return Errno::enoprotoopt;
  switch (name) {
    case kIpv6V6only: return int_option(o.v6only ? 1 : 0);
    case kIpv6UnicastHops: return int_option(o.hop_limit < 0 ? 64 : o.hop_limit);
    case kIpv6MulticastHops: return int_option(o.mcast_hops < 0 ? 1 : o.mcast_hops);
    case kIpv6MulticastLoop: return int_option(o.mcast_loop6 ? 1 : 0);
    case kIpv6MulticastIf: return int_option(o.mcast_if6);
    case kIpv6Tclass: return int_option(o.tclass);
    default: return Errno::enoprotoopt;
  }
}

namespace {
constexpr usize kDatagramOverhead = 768;  // an skb's truesize beyond its bytes
}  // namespace

bool DatagramQueue::push(std::vector<u8> data, const InetEndpoint& from, usize rcvbuf) {
  usize charge = data.size() + kDatagramOverhead;
  if (charge_ + charge > rcvbuf) {
    ++drops_;
    return false;
  }
  charge_ += charge;
  q_.push_back(Datagram{std::move(data), from});
  return true;
}

Result<RecvResult> DatagramQueue::take(ByteSink& out, u32 flags, int family) {
  Datagram& d = q_.front();
  RecvResult res;
  usize n = std::min(out.avail(), d.data.size());
  if (n < d.data.size()) res.msg_flags |= kMsgTrunc;
  Result<usize> w = n > 0 ? out.write(std::span<const u8>(d.data).first(n)) : Result<usize>(usize{0});
  bool fault = w.is_error() || w.value() != n;
  res.addr = sockaddr_bytes(family, d.from);
  res.len = (flags & kMsgTrunc) != 0 ? d.data.size() : n;
  if ((flags & kMsgPeek) == 0) {
    charge_ -= std::min(charge_, d.data.size() + kDatagramOverhead);
    q_.pop_front();
  }
  if (fault) return Errno::efault;
  return res;
}

Result<RecvResult> DatagramSocket::recvmsg(Thread& self, ByteSink& out, u32 flags) {
  bool nonblock = dont_wait(flags);
  auto deadline = this->deadline(true);
  for (;;) {
    {
      auto g = net_lock().lock();
      if (!rx_.empty()) return rx_.take(out, flags, family());
      if (err_ != 0) {
        int e = err_;
        err_ = 0;
        return static_cast<Errno>(e);
      }
      if ((shutdown_ & kRcvShutdown) != 0) return RecvResult{};
    }
    if (nonblock) return Errno::eagain;
    TRY(wait(self, queue_, deadline, [&] { return !rx_.empty() || err_ != 0 || (shutdown_ & kRcvShutdown) != 0; }));
  }
}

Result<void> DatagramSocket::shutdown(int how) {
  if (how < 0 || how > 2) return Errno::einval;
  auto g = net_lock().lock();
  shutdown_ |= static_cast<u32>(how) + 1;
  file_state_changed(queue_);
  if (!connected()) return Errno::enotconn;
  return {};
}

int DatagramSocket::take_error() {
  auto g = net_lock().lock();
  int e = err_;
  err_ = 0;
  return e;
}

Result<int> DatagramSocket::bytes_readable() {
  auto g = net_lock().lock();
  return static_cast<int>(rx_.front_size());
}

u32 DatagramSocket::poll_events() {
  auto g = net_lock().lock();
  u32 ev = kPollOut;
  if (err_ != 0) ev |= kPollErr;
  if (!rx_.empty()) ev |= kPollIn;
  if ((shutdown_ & kRcvShutdown) != 0) ev |= kPollIn | kPollRdhup;
  if (shutdown_ == kShutdownMask) ev |= kPollHup;
  return ev;
}

}  // namespace services
