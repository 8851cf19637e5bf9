// UDP over IPv4 (RFC 768, RFC 1122 4.1): sockets, ports, the demultiplexer, and errors from ICMP.
// Linux's udp.c and af_inet.c are the reference for the socket rules (EDESTADDRREQ, port
// sharing, autobind on connect and send, connected-socket errors).
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
constexpr usize kMaxPayload = 65535 - 20 - kUdpHeader;
constexpr usize kDatagramOverhead = 768;  // an skb's truesize beyond its bytes
constexpr int kSolIp = 0;
constexpr int kIpTos = 1, kIpTtl = 2, kIpMulticastTtl = 33, kIpMulticastLoop = 34, kIpAddMembership = 35,
              kIpDropMembership = 36;
constexpr usize kMaxMemberships = 20;  // net.ipv4.igmp_max_memberships

class UdpSocket;

struct Datagram {
  std::vector<u8> data;
  InetEndpoint from;
};

struct UdpTable {
  std::multimap<u16, std::weak_ptr<UdpSocket>> ports;
  u16 next_ephemeral = kEphemeralLow;
};

UdpTable& udp_table() {
  static UdpTable t;
  return t;
}

class UdpSocket final : public Socket {
 public:
  UdpSocket(u32 flags, const Credentials& owner) : Socket(kAfInet, kSockDgram, kIpprotoUdp, owner), uid_(owner.euid) {
    set_status_flags(kORdWr | (flags & kONonblock));
  }
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;
  UdpSocket(UdpSocket&&) = delete;
  UdpSocket& operator=(UdpSocket&&) = delete;
  ~UdpSocket() override {
    auto g = net_lock().lock();
    unhash();
  }

  ostd::WaitQueue* poll_queue() override { return &queue_; }

  // ---- what the stack calls (net_lock held) ----

  /// How well this socket matches a datagram to `dst` from `src` (-1: not at all).
  int score(u32 src_addr, u16 src_port, u32 dst_addr) const {
    if (local_.addr != kInaddrAny && local_.addr != dst_addr) return -1;
    int s = local_.addr != kInaddrAny ? 2 : 1;
    if (remote_) {
      if (remote_->addr != src_addr || remote_->port != src_port) return -1;
      s += 4;
    }
    return s;
  }

  void deliver(Datagram d) {
    usize charge = d.data.size() + kDatagramOverhead;
    if (rx_charge_ + charge > options().rcvbuf) {
      ++drops_;
      ++net_counters().udp_in_errors;
      return;
    }
    rx_charge_ += charge;
    rx_.push_back(std::move(d));
    file_state_changed(queue_);
  }

  void report_error(u32 dst_addr, u16 dst_port, int err) {
    // Only a connected socket hears of it (without IP_RECVERR), as __udp4_lib_err.
    if (!remote_ || remote_->addr != dst_addr || remote_->port != dst_port) return;
    err_ = err;
    file_state_changed(queue_);
  }

  std::string proc_line(usize slot) const {
    InetEndpoint r = remote_.value_or(InetEndpoint{});
    std::string sl = ostd::format("{}", slot);
    if (sl.size() < 5) sl.insert(0, 5 - sl.size(), ' ');
    return sl + ": " + proc_net_endpoint(local_) + " " + proc_net_endpoint(r) + " " + (remote_ ? "01" : "07") +
           " 00000000:" + hex_field(rx_charge_, 8) +
           " 00:00000000 00000000 " + ostd::format("{}", uid_) + " 0 " + ostd::format("{}", ino()) + " 2 0 " +
           ostd::format("{}", drops_) + "\n";
  }

  // ---- Socket ----

  Result<void> bind(Thread& self, std::span<const u8> addr) override {
    InetEndpoint e = TRY(parse_sockaddr_in(addr, true));
    if (e.addr != kInaddrAny && !is_local_address(e.addr)) return Errno::eaddrnotavail;
    if (e.port != 0 && e.port < 1024 && !self.process().creds.capable(cap::kNetBindService)) return Errno::eacces;
    auto g = net_lock().lock();
    if (local_.port != 0) return Errno::einval;
    local_.addr = e.addr;
    addr_locked_ = e.addr != kInaddrAny;
    TRY(hash(e.port));
    port_locked_ = e.port != 0;
    return {};
  }

  Result<void> connect(Thread& self, std::span<const u8> addr) override {
    if (addr.size() < 2) return Errno::einval;
    auto g = net_lock().lock();
    if (sockaddr_family(addr) == kAfUnspec) {
      remote_.reset();
      if (!addr_locked_) local_.addr = kInaddrAny;
      if (!port_locked_) unhash();
      return {};
    }
    InetEndpoint e = TRY(parse_sockaddr_in(addr, false));
    if (local_.port == 0) TRY(hash(0));
    u32 dst = e.addr == kInaddrAny ? kInaddrLoopback : e.addr;
    local_.addr = TRY(route_source_from(local_.addr, dst));
    remote_ = InetEndpoint{dst, e.port};
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
    if (req.addr) {
      if (req.addr->size() < 16) return Errno::einval;
      int family = sockaddr_family(*req.addr);
      if (family != kAfInet && family != kAfUnspec) return Errno::eafnosupport;
      dst = InetEndpoint{get32(*req.addr, 4), get16(*req.addr, 2)};
      if (dst.port == 0) return Errno::einval;
    } else {
      auto g = net_lock().lock();
      if (!remote_) return Errno::edestaddrreq;
      dst = *remote_;
    }
    if (len > kMaxPayload) return Errno::emsgsize;
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
      u32 to = dst.addr == kInaddrAny ? kInaddrLoopback : dst.addr;
      u32 src = TRY(route_source_from(local_.addr, to));
      put16(udp, 0, local_.port);
      put16(udp, 2, dst.port);
      put16(udp, 4, static_cast<u16>(udp.size()));
      if (!checksum_unneeded(to)) {
        u16 c = transport_checksum(src, to, kIpprotoUdp, udp);
        put16(udp, 6, c == 0 ? 0xffff : c);
      }
      TRY(ipv4_output(src, to, kIpprotoUdp, udp, ttl_, tos_));
      ++net_counters().udp_out_datagrams;
    }
    net_process_backlog();
    return len;
  }

  Result<RecvResult> recvmsg(Thread& self, ByteSink& out, u32 flags) override {
    bool nonblock = dont_wait(flags);
    bool peek = (flags & kMsgPeek) != 0;
    auto deadline = this->deadline(true);
    for (;;) {
      {
        auto g = net_lock().lock();
        if (!rx_.empty()) {
          Datagram& d = rx_.front();
          RecvResult res;
          usize n = std::min(out.avail(), d.data.size());
          if (n < d.data.size()) res.msg_flags |= kMsgTrunc;
          Result<usize> w = n > 0 ? out.write(std::span<const u8>(d.data).first(n)) : Result<usize>(usize{0});
          bool fault = w.is_error() || w.value() != n;
          res.addr = sockaddr_in_bytes(d.from);
          res.len = (flags & kMsgTrunc) != 0 ? d.data.size() : n;
          if (!peek) {
            rx_charge_ -= std::min(rx_charge_, d.data.size() + kDatagramOverhead);
            rx_.pop_front();
          }
          if (fault) return Errno::efault;
          return res;
        }
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

  Result<std::vector<u8>> local_address() override {
    auto g = net_lock().lock();
    return sockaddr_in_bytes(local_);
  }

  Result<std::vector<u8>> peer_address() override {
    auto g = net_lock().lock();
    if (!remote_) return Errno::enotconn;
    return sockaddr_in_bytes(*remote_);
  }

  // inet_shutdown: an unconnected socket is ENOTCONN, yet the bits are set (pollers wake).
  Result<void> shutdown(int how) override {
    if (how < 0 || how > 2) return Errno::einval;
    auto g = net_lock().lock();
    shutdown_ |= static_cast<u32>(how) + 1;
    file_state_changed(queue_);
    if (!remote_) return Errno::enotconn;
    return {};
  }

  Result<void> set_option(Thread&, int level, int name, std::span<const u8> val) override {
    if (level != kSolIp) return Errno::enoprotoopt;
    if (name == kIpAddMembership || name == kIpDropMembership) return membership(name == kIpAddMembership, val);
    // IP options also take a single byte (do_ip_setsockopt).
    i32 v = val.size() == 1 ? val[0] : TRY(read_int_option(val));
    switch (name) {
      case kIpTtl:
        if (v == -1) v = 64;
        if (v < 1 || v > 255) return Errno::einval;
        ttl_ = static_cast<u8>(v);
        return {};
      case kIpTos: tos_ = static_cast<u8>(v & 0xfc); return {};
      case kIpMulticastTtl:
        if (v == -1) v = 1;
        if (v < 0 || v > 255) return Errno::einval;
        mcast_ttl_ = static_cast<u8>(v);
        return {};
      case kIpMulticastLoop: mcast_loop_ = v != 0; return {};
      default: return Errno::enoprotoopt;
    }
  }

  Result<std::vector<u8>> get_option(Thread&, int level, int name) override {
    if (level != kSolIp) return Errno::enoprotoopt;
    switch (name) {
      case kIpTtl: return int_option(ttl_);
      case kIpTos: return int_option(tos_);
      case kIpMulticastTtl: return int_option(mcast_ttl_);
      case kIpMulticastLoop: return int_option(mcast_loop_ ? 1 : 0);
      default: return Errno::enoprotoopt;
    }
  }

  // IP_ADD_MEMBERSHIP / IP_DROP_MEMBERSHIP with a struct ip_mreq (or ip_mreqn): the group must
  // be multicast (EINVAL); joining twice is EADDRINUSE, dropping a group not joined
  // EADDRNOTAVAIL, more than igmp_max_memberships ENOBUFS.
  Result<void> membership(bool join, std::span<const u8> val) {
    if (val.size() < 8) return Errno::einval;
    u32 group = get32(val, 0), iface = get32(val, 4);
    if ((group >> 28) != 0xe) return Errno::einval;
    if (iface != kInaddrAny && !is_local_address(iface)) return Errno::enodev;
    auto g = net_lock().lock();
    auto it = std::find(groups_.begin(), groups_.end(), std::pair<u32, u32>{group, iface});
    if (!join) {
      if (it == groups_.end()) return Errno::eaddrnotavail;
      groups_.erase(it);
      return {};
    }
    if (it != groups_.end()) return Errno::eaddrinuse;
    if (groups_.size() >= kMaxMemberships) return Errno::enobufs;
    groups_.emplace_back(group, iface);
    return {};
  }

  int take_error() override {
    auto g = net_lock().lock();
    int e = err_;
    err_ = 0;
    return e;
  }

  Result<int> bytes_readable() override {
    auto g = net_lock().lock();
    return rx_.empty() ? 0 : static_cast<int>(rx_.front().data.size());
  }

  u32 poll_events() override {
    auto g = net_lock().lock();
    u32 ev = kPollOut;
    if (err_ != 0) ev |= kPollErr;
    if (!rx_.empty()) ev |= kPollIn;
    if ((shutdown_ & kRcvShutdown) != 0) ev |= kPollIn | kPollRdhup;
    if (shutdown_ == kShutdownMask) ev |= kPollHup;
    return ev;
  }

 private:
  // Whether another socket holds `port` in a way this one may not share.
  bool conflicts(u16 port) const {
    auto [lo, hi] = udp_table().ports.equal_range(port);
    for (auto it = lo; it != hi; ++it) {
      auto o = it->second.lock();
      if (!o || o.get() == this) continue;
      if (o->local_.addr != kInaddrAny && local_.addr != kInaddrAny && o->local_.addr != local_.addr) continue;
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
  std::deque<Datagram> rx_;
  usize rx_charge_ = 0;
  ostd::u64 drops_ = 0;
  int err_ = 0;
  u32 shutdown_ = 0;
  u8 ttl_ = 64, tos_ = 0;
  // Multicast: groups joined (accepted and kept; no group traffic is delivered yet).
  u8 mcast_ttl_ = 1;
  bool mcast_loop_ = true;
  std::vector<std::pair<u32, u32>> groups_;  // (group, interface address)
  u32 uid_;
  ostd::WaitQueue queue_;
};

}  // namespace

bool udp_input(u32 src, u32 dst, std::span<const u8> udp, bool loopback) {
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
  if (get16(udp, 6) != 0 && !loopback) {
    if (transport_checksum(src, dst, kIpprotoUdp, udp) != 0) {
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
  best->deliver(Datagram{std::vector<u8>(body.begin(), body.end()), InetEndpoint{src, sport}});
  return true;
}

void udp_error(u32 orig_src, u32 orig_dst, std::span<const u8> quoted_udp, int err) {
  if (quoted_udp.size() < 4) return;
  u16 sport = get16(quoted_udp, 0), dport = get16(quoted_udp, 2);
  auto [lo, hi] = udp_table().ports.equal_range(sport);
  for (auto it = lo; it != hi; ++it) {
    if (auto s = it->second.lock()) {
      if (s->score(orig_dst, dport, orig_src) >= 0) s->report_error(orig_dst, dport, err);
    }
  }
}

Result<std::shared_ptr<Socket>> make_udp_socket(Thread& self, u32 flags) {
  auto s = std::make_shared<UdpSocket>(flags, self.process().creds);
  s->self_ = s;
  return std::shared_ptr<Socket>(s);
}

std::string proc_net_udp_lines() {
  auto g = net_lock().lock();
  std::string s;
  usize slot = 0;
  for (const auto& [port, weak] : udp_table().ports) {
    if (auto sock = weak.lock()) s += sock->proc_line(slot++);
  }
  return s;
}

}  // namespace services
