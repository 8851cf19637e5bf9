// Raw ICMP and ICMPv6 sockets (SOCK_RAW with IPPROTO_ICMP or IPPROTO_ICMPV6, CAP_NET_RAW): what
// ping and ping6 use. A send is an ICMP message the kernel puts an IP header on (IP_HDRINCL is
// not supported); for ICMPv6 the kernel computes the checksum (RFC 3542 3.1). Every ICMP message
// this host receives is copied to each raw socket of its family whose address, peer and filter
// (ICMP_FILTER, ICMP6_FILTER) let it through — IPv4 ones with the IP header, as Linux's raw_rcv,
// ICMPv6 ones without — and the kernel still answers echo requests itself. Other raw protocols
// are EPROTONOSUPPORT.
#include <algorithm>
#include <deque>
#include <optional>

#include "net/inet.h"
#include "process/process.h"

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

constexpr int kSolRaw = 255, kSolIcmpv6 = 58, kSolIpv6 = 41;
constexpr int kIcmpFilter = 1, kIcmp6Filter = 1, kIpv6Checksum = 7, kIpHdrincl = 3;

class RawSocket;

std::vector<std::weak_ptr<RawSocket>>& raw_sockets() {
  static std::vector<std::weak_ptr<RawSocket>> v;
  return v;
}

class RawSocket final : public DatagramSocket {
 public:
  RawSocket(int family, int protocol, u32 flags, const Credentials& owner)
      : DatagramSocket(family, kSockRaw, protocol, owner) {
    set_status_flags(kORdWr | (flags & kONonblock));
    local_ = wildcard_of(family);
  }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;
  RawSocket(RawSocket&&) = delete;
  RawSocket& operator=(RawSocket&&) = delete;
  ~RawSocket() override = default;

  /// A received ICMP message (net_lock held): `bytes` as the socket reads it, `type` the ICMP
  /// type its filter looks at.
  void deliver(const IpAddr& src, const IpAddr& dst, u8 type, std::span<const u8> bytes) {
    if (!bound_accepts(local_, false, dst) || (remote_ && *remote_ != src)) return;
    bool blocked = family() == kAfInet ? type < 32 && (filter4_ & (1u << type)) != 0
                                       : (filter6_[type >> 5] & (1u << (type & 31))) != 0;
    if (blocked) return;
    if (rx_.push(std::vector<u8>(bytes.begin(), bytes.end()), InetEndpoint{src, 0}, options().rcvbuf)) {
      file_state_changed(queue_);
    }
  }

  Result<void> bind(Thread&, std::span<const u8> addr) override {
    auto g = net_lock().lock();
    InetEndpoint e = TRY(parse_bind_address(family(), false, false, addr));
    local_ = e.addr;
    return {};
  }

  Result<void> connect(Thread&, std::span<const u8> addr) override {
    if (addr.size() < 2) return Errno::einval;
    auto g = net_lock().lock();
    if (sockaddr_family(addr) == kAfUnspec) {
      remote_.reset();
      return {};
    }
    remote_ = TRY(parse_connect_address(family(), ip_.v6only, true, local_, addr)).addr;
    return {};
  }

  Result<void> listen(Thread&, int) override { return Errno::eopnotsupp; }
  Result<std::shared_ptr<Socket>> accept(Thread&, u32) override { return Errno::eopnotsupp; }

  Result<usize> sendmsg(Thread&, SendRequest& req) override {
    if ((req.flags & kMsgOob) != 0) return Errno::eopnotsupp;
    usize len = req.data.remain();
    if (len > 65535 - 40) return Errno::emsgsize;
    std::vector<u8> m(len);
    if (len > 0) {
      Result<usize> got = req.data.read(m);
      if (got.is_error() || got.value() != len) return Errno::efault;
    }
    {
      auto g = net_lock().lock();
      IpAddr dst;
      if (req.addr) {
        dst = TRY(parse_connect_address(family(), ip_.v6only, true, local_, *req.addr)).addr;
      } else if (remote_) {
        dst = *remote_;
      } else {
        return Errno::edestaddrreq;
      }
      if (family() == kAfInet6 && dst.is_v4()) return Errno::enetunreach;  // ICMPv6 is IPv6's
      IpAddr src = TRY(route_source_from(local_, dst));
      u8 proto = static_cast<u8>(protocol());
      if (family() == kAfInet6 && checksum_at_ >= 0 && static_cast<usize>(checksum_at_) + 2 <= m.size()) {
        put16(m, static_cast<usize>(checksum_at_), 0);
        put16(m, static_cast<usize>(checksum_at_), transport_checksum(src, dst, proto, m));
      }
      TRY(ip_output(src, dst, proto, m, ip_.hops_to(dst), ip_.tos_to(dst)));
    }
    net_process_backlog();
    return len;
  }

  Result<std::vector<u8>> local_address() override {
    auto g = net_lock().lock();
    return sockaddr_bytes(family(), InetEndpoint{local_, 0});
  }

  Result<std::vector<u8>> peer_address() override {
    auto g = net_lock().lock();
    if (!remote_) return Errno::enotconn;
    return sockaddr_bytes(family(), InetEndpoint{*remote_, 0});
  }

  Result<void> set_option(Thread&, int level, int name, std::span<const u8> val) override {
    auto g = net_lock().lock();
    if (family() == kAfInet && level == kSolRaw && name == kIcmpFilter) {
      if (val.size() < 4) return Errno::einval;
      filter4_ = u32{val[0]} | (u32{val[1]} << 8) | (u32{val[2]} << 16) | (u32{val[3]} << 24);
      return {};
    }
    if (family() == kAfInet6 && level == kSolIcmpv6 && name == kIcmp6Filter) {
      // struct icmp6_filter: eight words, a set bit blocks its type; shorter is taken as given.
      filter6_.fill(0);
      for (usize i = 0; i < std::min<usize>(val.size(), 32); ++i) {
        filter6_[i / 4] |= u32{val[i]} << (8 * (i % 4));
      }
      return {};
    }
    if (family() == kAfInet6 && name == kIpv6Checksum && (level == kSolRaw || level == kSolIpv6)) {
      // RFC 3542: not at the IPPROTO_IPV6 level on an ICMPv6 socket, whose checksum the kernel
      // always computes; at SOL_RAW an even offset (the ICMPv6 field is at 2).
      if (level == kSolIpv6) return Errno::einval;
      i32 v = TRY(read_int_option(val));
      if (v > 0 && (v & 1) != 0) return Errno::einval;
      checksum_at_ = v < 0 ? 2 : v;
      return {};
    }
    if (level == 0 && name == kIpHdrincl) return Errno::enoprotoopt;  // not supported (yet)
    return set_ip_option(ip_, family(), kSockRaw, false, level, name, val);
  }

  Result<std::vector<u8>> get_option(Thread&, int level, int name) override {
    auto g = net_lock().lock();
    if (family() == kAfInet && level == kSolRaw && name == kIcmpFilter) return int_option(static_cast<i32>(filter4_));
    if (family() == kAfInet6 && level == kSolIcmpv6 && name == kIcmp6Filter) {
      std::vector<u8> v(32);
      for (usize i = 0; i < 32; ++i) v[i] = static_cast<u8>(filter6_[i / 4] >> (8 * (i % 4)));
      return v;
    }
    if (family() == kAfInet6 && level == kSolRaw && name == kIpv6Checksum) return int_option(checksum_at_);
    return get_ip_option(ip_, family(), level, name);
  }

 private:
  bool connected() const override { return remote_.has_value(); }

  IpAddr local_;
  std::optional<IpAddr> remote_;
  IpOptions ip_;
  u32 filter4_ = 0;
  std::array<u32, 8> filter6_{};
  i32 checksum_at_ = 2;
};

}  // namespace

void raw_deliver(const IpAddr& src, const IpAddr& dst, u8 type, std::span<const u8> bytes) {
  auto& v = raw_sockets();
  int family = src.is_v4() ? kAfInet : kAfInet6;
  for (auto it = v.begin(); it != v.end();) {
    auto s = it->lock();
    if (!s) {
      it = v.erase(it);
      continue;
    }
    if (s->family() == family) s->deliver(src, dst, type, bytes);
    ++it;
  }
}

Result<std::shared_ptr<Socket>> make_raw_socket(Thread& self, int family, int protocol, u32 flags) {
  bool icmp = (family == kAfInet && protocol == kIpprotoIcmp) || (family == kAfInet6 && protocol == kIpprotoIcmpv6);
  if (!icmp) return Errno::eprotonosupport;
  if (!self.process().creds.capable(cap::kNetRaw)) return Errno::eperm;
  auto s = std::make_shared<RawSocket>(family, protocol, flags, self.process().creds);
  auto g = net_lock().lock();
  raw_sockets().push_back(s);
  return std::shared_ptr<Socket>(s);
}

}  // namespace services
