// UDP over IPv4 and IPv6 (RFC 768, RFC 1122 4.1, RFC 8200 8.1): sockets, ports, the
// demultiplexer, and errors from ICMP and ICMPv6. Linux's udp.c, udp_ipv6.c and af_inet.c are
// the reference for the socket rules (EDESTADDRREQ, port sharing, autobind on connect and
// send, connected-socket errors, dual-stack AF_INET6 sockets).
#include <algorithm>
#include <deque>
#include <iterator>
#include <map>
#include <optional>
#include <string>

#include <ostd/format.h>

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

constexpr usize kUdpHeader = 8;
constexpr usize kMaxPayload4 = 65535 - 20 - kUdpHeader;
constexpr usize kMaxPayload6 = 65535 - kUdpHeader;

class UdpSocket;

struct UdpTable {
  std::multimap<u16, std::weak_ptr<UdpSocket>> ports;
  u16 next_ephemeral = kEphemeralLow;
};

UdpTable& udp_table() {
  static UdpTable t;
  return t;
}

class UdpSocket final : public DatagramSocket {
 public:
  UdpSocket(int family, u32 flags, const Credentials& owner)
      : DatagramSocket(family, kSockDgram, kIpprotoUdp, owner), uid_(owner.euid) {
    set_status_flags(kORdWr | (flags & kONonblock));
    local_.addr = wildcard_of(family);
  }
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;
  UdpSocket(UdpSocket&&) = delete;
  UdpSocket& operator=(UdpSocket&&) = delete;
  ~UdpSocket() override {
    auto g = net_lock().lock();
    unhash();
  }

  // ---- what the stack calls (net_lock held) ----

  /// How well this socket matches a datagram to `dst` from `src` (-1: not at all).
  int score(const IpAddr& src_addr, u16 src_port, const IpAddr& dst_addr) const {
    if (!bound_accepts(local_.addr, ip_.v6only, dst_addr)) return -1;
    int s = !local_.addr.is_wildcard() ? 2 : 1;
    if (remote_) {
      if (remote_->addr != src_addr || remote_->port != src_port) return -1;
      s += 4;
    }
    return s;
  }

  void deliver(std::vector<u8> data, const InetEndpoint& from) {
    if (!rx_.push(std::move(data), from, options().rcvbuf)) {
      ++net_counters().udp_in_errors;
      return;
    }
    file_state_changed(queue_);
  }

  void report_error(const IpAddr& dst_addr, u16 dst_port, int err) {
    // Only a connected socket hears of it (without IP_RECVERR), as __udp4_lib_err.
    if (!remote_ || remote_->addr != dst_addr || remote_->port != dst_port) return;
    err_ = err;
    file_state_changed(queue_);
  }

  std::string proc_line(usize slot) const {
    InetEndpoint r = remote_.value_or(InetEndpoint{});
    std::string sl = ostd::format("{}", slot);
    if (sl.size() < 5) sl.insert(0, 5 - sl.size(), ' ');
    bool v6 = family() == kAfInet6;
    if (!remote_) r.addr = wildcard_of(family());
    return sl + ": " + proc_net_endpoint(local_, v6) + " " + proc_net_endpoint(r, v6) + " " + (remote_ ? "01" : "07") +
           " 00000000:" + hex_field(rx_.charged(), 8) + " 00:00000000 00000000 " + ostd::format("{}", uid_) + " 0 " +
           ostd::format("{}", ino()) + " 2 0 " + ostd::format("{}", rx_.drops()) + "\n";
  }

  // ---- Socket ----

  Result<void> bind(Thread& self, std::span<const u8> addr) override {
    auto g = net_lock().lock();
    InetEndpoint e = TRY(parse_bind_address(family(), ip_.v6only, false, addr));
    if (e.port != 0 && e.port < 1024 && !self.process().creds.capable(cap::kNetBindService)) return Errno::eacces;
    if (local_.port != 0) return Errno::einval;
    local_.addr = e.addr;
    addr_locked_ = !e.addr.is_wildcard();
    if (auto r = hash(e.port); r.is_error()) {
      local_.addr = wildcard_of(family());
      addr_locked_ = false;
      return r.error();
    }
    port_locked_ = e.port != 0;
    return {};
  }

  Result<void> connect(Thread& self, std::span<const u8> addr) override {
    if (addr.size() < 2) return Errno::einval;
    auto g = net_lock().lock();
    if (sockaddr_family(addr) == kAfUnspec) {
      remote_.reset();
      if (!addr_locked_) local_.addr = wildcard_of(family());
      if (!port_locked_) unhash();
      return {};
    }
    // ip6_datagram_connect: an AF_INET address on a V6ONLY socket is EAFNOSUPPORT.
    if (family() == kAfInet6 && sockaddr_family(addr) == kAfInet && ip_.v6only) return Errno::eafnosupport;
    InetEndpoint e = TRY(parse_connect_address(family(), ip_.v6only, true, local_.addr, addr));
    if (local_.port == 0) TRY(hash(0));
    IpAddr src = TRY(route_source_from(local_.addr, e.addr));
    // A dual-stack socket's wildcard address stays a wildcard for the version it does not use.
    local_.addr = src;
    remote_ = e;
    file_state_changed(queue_);
    return {};
  }

  Result<void> listen(Thread&, int) override { return Errno::eopnotsupp; }
  Result<std::shared_ptr<Socket>> accept(Thread&, u32) override { return Errno::eopnotsupp; }

  Result<usize> sendmsg(Thread& self, SendRequest& req) override {
    if ((req.flags & kMsgOob) != 0) return Errno::eopnotsupp;
    usize len = req.data.remain();
    {
      // inet_send_prepare: a port first, whatever happens to the datagram.
      auto g = net_lock().lock();
      if (local_.port == 0) TRY(hash(0));
    }
    if (len > 0xffff) return Errno::emsgsize;
    InetEndpoint dst;
    std::optional<std::vector<u8>> to_addr = req.addr;
    if (to_addr && family() == kAfInet6) {
      // udpv6_sendmsg: AF_UNSPEC means no address; a family but AF_INET or AF_INET6 is EINVAL.
      if (to_addr->size() < 2) return Errno::einval;
      int f = sockaddr_family(*to_addr);
      if (f == kAfUnspec) to_addr.reset();
      else if (f != kAfInet && f != kAfInet6) return Errno::einval;
    }
    if (to_addr) {
      auto g = net_lock().lock();
      dst = TRY(parse_connect_address(family(), ip_.v6only, true, local_.addr, *to_addr));
      if (dst.port == 0) return Errno::einval;
    } else {
      auto g = net_lock().lock();
      if (!remote_) return Errno::edestaddrreq;
      dst = *remote_;
    }
    if (len > (dst.addr.is_v4() ? kMaxPayload4 : kMaxPayload6)) return Errno::emsgsize;
    std::vector<u8> udp(kUdpHeader + len);
    if (len > 0) {
      auto body = std::span<u8>(udp).subspan(kUdpHeader);
      Result<usize> got = req.data.read(body);
      if (got.is_error() || got.value() != len) return Errno::efault;
    }
    {
      auto g = net_lock().lock();
      if ((shutdown_ & kSendShutdown) != 0) return Errno::epipe;
      if (local_.port == 0) TRY(hash(0));
      const IpAddr& to = dst.addr;
      IpAddr src = TRY(route_source_from(local_.addr, to));
      put16(udp, 0, local_.port);
      put16(udp, 2, dst.port);
      put16(udp, 4, static_cast<u16>(udp.size()));
      if (!checksum_unneeded(to)) {
        u16 c = transport_checksum(src, to, kIpprotoUdp, udp);
        put16(udp, 6, c == 0 ? 0xffff : c);
      }
      TRY(ip_output(src, to, kIpprotoUdp, udp, ip_.hops_to(to), ip_.tos_to(to)));
      ++net_counters().udp_out_datagrams;
    }
    net_process_backlog();
    return len;
  }

  Result<std::vector<u8>> local_address() override {
    auto g = net_lock().lock();
    return sockaddr_bytes(family(), local_);
  }

  Result<std::vector<u8>> peer_address() override {
    auto g = net_lock().lock();
    if (!remote_) return Errno::enotconn;
    return sockaddr_bytes(family(), *remote_);
  }

  Result<void> set_option(Thread&, int level, int name, std::span<const u8> val) override {
    auto g = net_lock().lock();
    return set_ip_option(ip_, family(), kSockDgram, local_.port != 0, level, name, val);
  }

  Result<std::vector<u8>> get_option(Thread&, int level, int name) override {
    auto g = net_lock().lock();
    return get_ip_option(ip_, family(), level, name);
  }

 private:
  bool connected() const override { return remote_.has_value(); }

  // Whether another socket holds `port` in a way this one may not share.
  bool conflicts(u16 port) const {
    auto [lo, hi] = udp_table().ports.equal_range(port);
    for (auto it = lo; it != hi; ++it) {
      auto o = it->second.lock();
      if (!o || o.get() == this) continue;
      if (!bound_overlap(o->local_.addr, o->ip_.v6only, local_.addr, ip_.v6only)) continue;
      if (o->reuseaddr_ && const_options().reuseaddr) continue;
      if (o->reuseport_ && const_options().reuseport && o->uid_ == uid_) continue;
      return true;
    }
    return false;
  }

  // Takes `port` (0: an ephemeral one): EADDRINUSE, or EAGAIN when every ephemeral port is taken.
  Result<void> hash(u16 port) {
    reuseaddr_ = const_options().reuseaddr;
    reuseport_ = const_options().reuseport;
    UdpTable& t = udp_table();
    if (port == 0) {
      for (u32 tries = 0; tries <= kEphemeralHigh - kEphemeralLow; ++tries) {
        u16 p = t.next_ephemeral;
        t.next_ephemeral = p == kEphemeralHigh ? kEphemeralLow : static_cast<u16>(p + 1);
        if (t.ports.count(p) == 0) {
          port = p;
          break;
        }
      }
      if (port == 0) return Errno::eagain;
    } else if (conflicts(port)) {
      return Errno::eaddrinuse;
    }
    local_.port = port;
    t.ports.emplace(port, self_);
    return {};
  }

  void unhash() {
    if (local_.port == 0) return;
    // This socket's entry, and any of a socket already gone (its lock() is null while it dies).
    auto [lo, hi] = udp_table().ports.equal_range(local_.port);
    for (auto it = lo; it != hi;) {
      auto o = it->second.lock();
      it = (!o || o.get() == this) ? udp_table().ports.erase(it) : std::next(it);
    }
    local_.port = 0;
  }

  const SocketOptions& const_options() const { return options(); }

 public:
  std::weak_ptr<UdpSocket> self_;  // set by make_udp_socket: the port table's entry

 private:
  InetEndpoint local_;
  std::optional<InetEndpoint> remote_;
  bool addr_locked_ = false, port_locked_ = false;
  bool reuseaddr_ = false, reuseport_ = false;
  // IP-level options; the multicast groups joined are kept (no group traffic is delivered yet).
  IpOptions ip_;
  u32 uid_;
};

}  // namespace

bool udp_input(const IpAddr& src, const IpAddr& dst, std::span<const u8> udp, bool loopback) {
  NetCounters& c = net_counters();
  if (udp.size() < kUdpHeader) {
    ++c.udp_in_errors;
    return true;
  }
  usize len = get16(udp, 4);
  if (len < kUdpHeader || len > udp.size()) {
    ++c.udp_in_errors;
    return true;
  }
  udp = udp.first(len);
  // Over IPv6 the checksum is mandatory (RFC 8200 8.1): a zero one is dropped.
  if ((get16(udp, 6) != 0 || !src.is_v4()) && !loopback) {
    if (get16(udp, 6) == 0 || transport_checksum(src, dst, kIpprotoUdp, udp) != 0) {
      ++c.udp_in_errors;
      return true;
    }
  }
  u16 sport = get16(udp, 0), dport = get16(udp, 2);
  std::shared_ptr<UdpSocket> best;
  int best_score = -1;
  auto [lo, hi] = udp_table().ports.equal_range(dport);
  for (auto it = lo; it != hi; ++it) {
    auto s = it->second.lock();
    if (!s) continue;
    int sc = s->score(src, sport, dst);
    if (sc > best_score) {
      best_score = sc;
      best = std::move(s);
    }
  }
  if (!best) {
    ++c.udp_no_ports;
    return false;
  }
  ++c.udp_in_datagrams;
  auto body = udp.subspan(kUdpHeader);
  best->deliver(std::vector<u8>(body.begin(), body.end()), InetEndpoint{src, sport});
  return true;
}

void udp_error(const IpAddr& orig_src, const IpAddr& orig_dst, std::span<const u8> quoted_udp, int err) {
  if (quoted_udp.size() < 4) return;
  u16 sport = get16(quoted_udp, 0), dport = get16(quoted_udp, 2);
  auto [lo, hi] = udp_table().ports.equal_range(sport);
  for (auto it = lo; it != hi; ++it) {
    if (auto s = it->second.lock()) {
      if (s->score(orig_dst, dport, orig_src) >= 0) s->report_error(orig_dst, dport, err);
    }
  }
}

Result<std::shared_ptr<Socket>> make_udp_socket(Thread& self, int family, u32 flags) {
  auto s = std::make_shared<UdpSocket>(family, flags, self.process().creds);
  s->self_ = s;
  return std::shared_ptr<Socket>(s);
}

std::string proc_net_udp_lines(int family) {
  auto g = net_lock().lock();
  std::string s;
  usize slot = 0;
  for (const auto& [port, weak] : udp_table().ports) {
    auto sock = weak.lock();
    if (sock && sock->family() == family) s += sock->proc_line(slot++);
  }
  return s;
}

}  // namespace services
