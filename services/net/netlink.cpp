// AF_NETLINK, NETLINK_ROUTE (rtnetlink): enough for `ip addr`, `ip link`, `ip route`, glibc's
// getaddrinfo(AI_ADDRCONFIG) and if_nameindex, musl's getifaddrs — the RTM_GETLINK, RTM_GETADDR
// and RTM_GETROUTE requests (dumps, and a single link by index or name), with Linux's framing:
// a dump is answered by NLM_F_MULTI messages packed into datagrams and an NLMSG_DONE, an error
// (or an ack asked for with NLM_F_ACK) by NLMSG_ERROR. Changes (RTM_NEW*, RTM_DEL*) are EPERM
// without CAP_NET_ADMIN and EOPNOTSUPP with it: the interfaces are configured by the kernel.
// Messages are parsed field by field after length checks; replies are built the same way.
#include <algorithm>
#include <deque>
#include <map>

#include "net/inet.h"
#include "process/process.h"

#include <ostd/enforce.h>

namespace services {

using ostd::Errno;
using ostd::i32;
using ostd::Result;
using ostd::u16;
using ostd::u32;
using ostd::u64;
using ostd::u8;
using ostd::usize;

namespace {

constexpr int kNetlinkRoute = 0, kMaxLinks = 32;
constexpr usize kNlHeader = 16, kSockaddrNl = 12, kDatagramMax = 4096;
constexpr u16 kNlmsgError = 2, kNlmsgDone = 3, kNlmsgMinType = 0x10;
constexpr u16 kNlmFRequest = 0x1, kNlmFMulti = 0x2, kNlmFAck = 0x4, kNlmFDump = 0x300, kNlmFCapped = 0x100;
constexpr u16 kRtmNewlink = 16, kRtmGetlink = 18, kRtmNewaddr = 20, kRtmGetaddr = 22, kRtmNewroute = 24,
              kRtmGetroute = 26, kRtmMax = 0x7f;
constexpr u16 kIflaAddress = 1, kIflaBroadcast = 2, kIflaIfname = 3, kIflaMtu = 4, kIflaQdisc = 6, kIflaTxqlen = 13,
              kIflaOperstate = 16, kIflaLinkmode = 17;
constexpr u16 kIfaAddress = 1, kIfaLocal = 2, kIfaLabel = 3, kIfaBroadcast = 4, kIfaCacheinfo = 6, kIfaFlags = 8;
constexpr u16 kRtaDst = 1, kRtaOif = 4, kRtaGateway = 5, kRtaPriority = 6, kRtaPrefsrc = 7, kRtaTable = 15;
constexpr u16 kArphrdEther = 1, kArphrdLoopback = 772;
constexpr int kSolNetlink = 270;
constexpr u8 kRtTableMain = 254, kRtprotKernel = 2, kRtprotBoot = 3, kRtScopeUniverse = 0, kRtScopeLink = 253,
             kRtScopeHost = 254, kRtnUnicast = 1, kIfaFPermanent = 0x80;

void put16le(std::vector<u8>& m, usize at, u16 v) {
  m.at(at) = static_cast<u8>(v);
  m.at(at + 1) = static_cast<u8>(v >> 8);
}
void put32le(std::vector<u8>& m, usize at, u32 v) {
  put16le(m, at, static_cast<u16>(v));
  put16le(m, at + 2, static_cast<u16>(v >> 16));
}
u16 get16le(std::span<const u8> m, usize at) { return static_cast<u16>(m[at] | (m[at + 1] << 8)); }
u32 get32le(std::span<const u8> m, usize at) { return get16le(m, at) | (u32{get16le(m, at + 2)} << 16); }
usize align4(usize n) { return (n + 3) & ~usize{3}; }

// One message under construction: the header, the family's fixed part, then attributes.
class Message {
 public:
  Message(u16 type, u16 flags, u32 seq, u32 pid, usize fixed) : m_(kNlHeader + fixed) {
    put16le(m_, 4, type);
    put16le(m_, 6, flags);
    put32le(m_, 8, seq);
    put32le(m_, 12, pid);
  }
  std::vector<u8>& bytes() { return m_; }
  void attr(u16 type, std::span<const u8> data) {
    usize at = m_.size();
    m_.resize(at + align4(4 + data.size()));
    put16le(m_, at, static_cast<u16>(4 + data.size()));
    put16le(m_, at + 2, type);
    std::copy(data.begin(), data.end(), m_.begin() + static_cast<long>(at + 4));
  }
  void attr_u32(u16 type, u32 v) {
    std::vector<u8> b(4);
    put32le(b, 0, v);
    attr(type, b);
  }
  void attr_u8(u16 type, u8 v) { attr(type, ostd::bytes_of(v)); }
  void attr_ipv4(u16 type, u32 a) {
    std::vector<u8> b(4);
    put32(b, 0, a);  // network order
    attr(type, b);
  }
  void attr_string(u16 type, std::string_view s) {
    std::vector<u8> b(s.begin(), s.end());
    b.push_back(0);
    attr(type, b);
  }
  std::vector<u8> finish() {
    put32le(m_, 0, static_cast<u32>(m_.size()));
    return std::move(m_);
  }

 private:
  std::vector<u8> m_;
};

std::vector<u8> link_message(const NetInterface& i, u16 flags, u32 seq, u32 pid) {
  Message m(kRtmNewlink, flags, seq, pid, 16);
  bool lo = (i.flags & kIffLoopback) != 0;
  auto& b = m.bytes();
  put16le(b, kNlHeader + 2, lo ? kArphrdLoopback : kArphrdEther);
  put32le(b, kNlHeader + 4, static_cast<u32>(i.index));
  put32le(b, kNlHeader + 8, i.flags);
  m.attr_string(kIflaIfname, i.name);
  m.attr_u32(kIflaTxqlen, 1000);
  m.attr_u8(kIflaOperstate, lo ? 0 : 6);  // IF_OPER_UNKNOWN for lo (as Linux), IF_OPER_UP
  m.attr_u8(kIflaLinkmode, 0);
  m.attr_u32(kIflaMtu, i.mtu);
  m.attr_string(kIflaQdisc, lo ? "noqueue" : "pfifo_fast");
  m.attr(kIflaAddress, i.mac);
  std::array<u8, 6> bcast{};
  if (!lo) bcast.fill(0xff);
  m.attr(kIflaBroadcast, bcast);
  return m.finish();
}

std::vector<u8> addr_message(const NetInterface& i, u16 flags, u32 seq, u32 pid) {
  Message m(kRtmNewaddr, flags, seq, pid, 8);
  bool lo = (i.flags & kIffLoopback) != 0;
  auto& b = m.bytes();
  b[kNlHeader] = static_cast<u8>(kAfInet);
  b[kNlHeader + 1] = i.prefix;
  b[kNlHeader + 2] = kIfaFPermanent;
  b[kNlHeader + 3] = lo ? kRtScopeHost : kRtScopeUniverse;
  put32le(b, kNlHeader + 4, static_cast<u32>(i.index));
  m.attr_ipv4(kIfaAddress, i.addr);
  m.attr_ipv4(kIfaLocal, i.addr);
  if ((i.flags & kIffBroadcast) != 0) m.attr_ipv4(kIfaBroadcast, i.addr | ~i.netmask());
  m.attr_string(kIfaLabel, i.name);
  return m.finish();
}

// An IPv6 address (inet6_fill_ifaddr): no label, a cache-info attribute with infinite
// lifetimes, the flags also as IFA_FLAGS.
std::vector<u8> addr6_message(const NetInterface& i, const Inet6Address& a, u16 flags, u32 seq, u32 pid) {
  Message m(kRtmNewaddr, flags, seq, pid, 8);
  auto& b = m.bytes();
  b[kNlHeader] = static_cast<u8>(kAfInet6);
  b[kNlHeader + 1] = a.prefix;
  b[kNlHeader + 2] = kIfaFPermanent;
  b[kNlHeader + 3] = a.scope;
  put32le(b, kNlHeader + 4, static_cast<u32>(i.index));
  m.attr(kIfaAddress, a.addr.b);
  std::array<u8, 16> cache{};
  std::fill(cache.begin(), cache.begin() + 8, 0xff);  // ifa_prefered, ifa_valid: forever
  m.attr(kIfaCacheinfo, cache);
  m.attr_u32(kIfaFlags, kIfaFPermanent);
  return m.finish();
}

// An IPv6 route of the main table: eth0's on-link prefixes and the default router.
std::vector<u8> route6_message(const NetInterface& i, u8 dst_len, const IpAddr& dst, const IpAddr& gateway, u16 flags,
                               u32 seq, u32 pid) {
  Message m(kRtmNewroute, flags, seq, pid, 12);
  auto& b = m.bytes();
  b[kNlHeader] = static_cast<u8>(kAfInet6);
  b[kNlHeader + 1] = dst_len;
  b[kNlHeader + 4] = kRtTableMain;
  b[kNlHeader + 5] = gateway.is_unspecified() ? kRtprotKernel : kRtprotBoot;
  b[kNlHeader + 6] = kRtScopeUniverse;
  b[kNlHeader + 7] = kRtnUnicast;
  m.attr_u32(kRtaTable, kRtTableMain);
  if (dst_len != 0) m.attr(kRtaDst, dst.b);
  if (!gateway.is_unspecified()) m.attr(kRtaGateway, gateway.b);
  m.attr_u32(kRtaPriority, gateway.is_unspecified() ? 256 : 1024);
  m.attr_u32(kRtaOif, static_cast<u32>(i.index));
  return m.finish();
}

std::vector<u8> route_message(const NetInterface& i, u8 dst_len, u32 dst, u32 gateway, u16 flags, u32 seq, u32 pid) {
  Message m(kRtmNewroute, flags, seq, pid, 12);
  auto& b = m.bytes();
  b[kNlHeader] = static_cast<u8>(kAfInet);
  b[kNlHeader + 1] = dst_len;
  b[kNlHeader + 4] = kRtTableMain;
  b[kNlHeader + 5] = gateway != 0 ? kRtprotBoot : kRtprotKernel;
  b[kNlHeader + 6] = gateway != 0 ? kRtScopeUniverse : kRtScopeLink;
  b[kNlHeader + 7] = kRtnUnicast;
  m.attr_u32(kRtaTable, kRtTableMain);
  if (dst_len != 0) m.attr_ipv4(kRtaDst, dst);
  if (gateway != 0) {
    m.attr_ipv4(kRtaGateway, gateway);
  } else {
    m.attr_ipv4(kRtaPrefsrc, i.addr);
  }
  m.attr_u32(kRtaOif, static_cast<u32>(i.index));
  return m.finish();
}

std::vector<u8> done_message(u32 seq, u32 pid) {
  Message m(kNlmsgDone, kNlmFMulti, seq, pid, 4);
  return m.finish();
}

// NLMSG_ERROR: the error (-errno; 0: an ack) and the request's header, or the whole request for an
// error (Linux without NETLINK_CAP_ACK).
std::vector<u8> error_message(int err, std::span<const u8> request, u32 pid, bool cap_ack) {
  bool whole = err != 0 && !cap_ack;
  std::span<const u8> quoted = whole ? request : request.first(kNlHeader);
  Message m(kNlmsgError, whole ? 0 : kNlmFCapped, get32le(request, 8), pid, 4 + quoted.size());
  auto& b = m.bytes();
  put32le(b, kNlHeader, static_cast<u32>(err));  // negative: -errno
  std::copy(quoted.begin(), quoted.end(), b.begin() + static_cast<long>(kNlHeader + 4));
  return m.finish();
}

struct NetlinkTable {
  std::map<u32, const void*> ports;  // bound port ids
  u32 rover = static_cast<u32>(-4096);
};

NetlinkTable& table() {
  static NetlinkTable t;
  return t;
}

class NetlinkSocket final : public Socket {
 public:
  NetlinkSocket(int type, int protocol, u32 flags, const Credentials& owner, u32 tgid, bool admin)
      : Socket(kAfNetlink, type, protocol, owner), tgid_(tgid), admin_(admin) {
    set_status_flags(kORdWr | (flags & kONonblock));
  }
  NetlinkSocket(const NetlinkSocket&) = delete;
  NetlinkSocket& operator=(const NetlinkSocket&) = delete;
  NetlinkSocket(NetlinkSocket&&) = delete;
  NetlinkSocket& operator=(NetlinkSocket&&) = delete;
  ~NetlinkSocket() override {
    auto g = net_lock().lock();
    if (port_ != 0) table().ports.erase(port_);
  }

  ostd::WaitQueue* poll_queue() override { return &queue_; }

  Result<void> bind(Thread&, std::span<const u8> addr) override {
    if (addr.size() < kSockaddrNl || sockaddr_family(addr) != kAfNetlink) return Errno::einval;
    u32 pid = get32le(addr, 4);
    auto g = net_lock().lock();
    groups_ = get32le(addr, 8);
    if (port_ != 0) return pid == 0 || pid == port_ ? Result<void>() : Result<void>(Errno::einval);
    if (pid == 0) return autobind();
    if (table().ports.contains(pid)) return Errno::eaddrinuse;
    port_ = pid;
    table().ports[pid] = this;
    return {};
  }

  Result<void> connect(Thread&, std::span<const u8> addr) override {
    if (addr.size() >= 2 && sockaddr_family(addr) == kAfUnspec) {
      dst_pid_ = dst_groups_ = 0;
      return {};
    }
    if (addr.size() < kSockaddrNl || sockaddr_family(addr) != kAfNetlink) return Errno::einval;
    auto g = net_lock().lock();
    dst_pid_ = get32le(addr, 4);
    dst_groups_ = get32le(addr, 8);
    if (port_ == 0) TRY(autobind());
    return {};
  }

  Result<void> listen(Thread&, int) override { return Errno::eopnotsupp; }
  Result<std::shared_ptr<Socket>> accept(Thread&, u32) override { return Errno::eopnotsupp; }
  Result<void> shutdown(int) override { return Errno::eopnotsupp; }

  Result<usize> sendmsg(Thread&, SendRequest& req) override {
    u32 dst = dst_pid_;
    if (req.addr) {
      std::span<const u8> a = *req.addr;
      if (a.size() < kSockaddrNl || sockaddr_family(a) != kAfNetlink) return Errno::einval;
      dst = get32le(a, 4);
    }
    if (dst != 0) return Errno::econnrefused;  // only the kernel listens here
    usize len = req.data.remain();
    if (len > options().sndbuf) return Errno::emsgsize;
    std::vector<u8> msg(len);
    if (len > 0) {
      auto r = req.data.read(msg);
      if (r.is_error() || r.value() != len) return Errno::efault;
    }
    auto g = net_lock().lock();
    if (port_ == 0) TRY(autobind());
    // Each request in turn (netlink_rcv_skb); a malformed length ends the batch.
    std::span<const u8> rest = msg;
    while (rest.size() >= kNlHeader) {
      u32 mlen = get32le(rest, 0);
      if (mlen < kNlHeader || mlen > rest.size()) break;
      handle(rest.first(mlen));
      rest = rest.subspan(std::min<usize>(align4(mlen), rest.size()));
    }
    file_state_changed(queue_);
    return len;
  }

  Result<RecvResult> recvmsg(Thread& self, ByteSink& out, u32 flags) override {
    bool nonblock = dont_wait(flags);
    auto deadline = this->deadline(true);
    for (;;) {
      {
        auto g = net_lock().lock();
        if (!rx_.empty()) {
          const std::vector<u8>& d = rx_.front();
          RecvResult res;
          usize n = std::min(out.avail(), d.size());
          if (n < d.size()) res.msg_flags |= kMsgTrunc;
          Result<usize> w = n > 0 ? out.write(std::span<const u8>(d).first(n)) : Result<usize>(usize{0});
          bool fault = w.is_error() || w.value() != n;
          std::vector<u8> from(kSockaddrNl);
          from[0] = static_cast<u8>(kAfNetlink);
          res.addr = from;
          res.len = (flags & kMsgTrunc) != 0 ? d.size() : n;
          if ((flags & kMsgPeek) == 0) rx_.pop_front();
          if (fault) return Errno::efault;
          return res;
        }
      }
      if (nonblock) return Errno::eagain;
      TRY(wait(self, queue_, deadline, [&] { return !rx_.empty(); }));
    }
  }

  Result<std::vector<u8>> local_address() override {
    auto g = net_lock().lock();
    return sockaddr_nl(port_, groups_);
  }
  Result<std::vector<u8>> peer_address() override {
    auto g = net_lock().lock();
    return sockaddr_nl(dst_pid_, dst_groups_);
  }

  Result<void> set_option(Thread&, int level, int name, std::span<const u8> val) override {
    if (level != kSolNetlink) return Errno::enoprotoopt;
    if (val.size() < 4) return Errno::einval;
    i32 v = TRY(read_int_option(val));
    if (name < 1 || name > 12) return Errno::enoprotoopt;
    auto g = net_lock().lock();
    options_[name] = v;
    return {};
  }

  Result<std::vector<u8>> get_option(Thread&, int level, int name) override {
    if (level != kSolNetlink) return Errno::enoprotoopt;
    if (name < 1 || name > 12) return Errno::enoprotoopt;
    auto g = net_lock().lock();
    auto it = options_.find(name);
    return int_option(it == options_.end() ? 0 : (it->second != 0 ? 1 : 0));
  }

  Result<int> bytes_readable() override {
    auto g = net_lock().lock();
    return rx_.empty() ? 0 : static_cast<int>(rx_.front().size());
  }

  u32 poll_events() override {
    auto g = net_lock().lock();
    return kPollOut | (rx_.empty() ? 0 : kPollIn);
  }

 private:
  static std::vector<u8> sockaddr_nl(u32 pid, u32 groups) {
    std::vector<u8> a(kSockaddrNl);
    a[0] = static_cast<u8>(kAfNetlink);
    put32le(a, 4, pid);
    put32le(a, 8, groups);
    return a;
  }

  // The process's id for its first socket, then -4096, -4097... (netlink_autobind).
  Result<void> autobind() {
    NetlinkTable& t = table();
    u32 pid = tgid_;
    for (u32 tries = 0; t.ports.contains(pid); ++tries) {
      if (tries > 65536) return Errno::eaddrinuse;
      pid = t.rover--;
      if (t.rover == static_cast<u32>(-4096) - 0x7fffu) t.rover = static_cast<u32>(-4096);
    }
    port_ = pid;
    t.ports[pid] = this;
    return {};
  }

  bool option(int name) const {
    auto it = options_.find(name);
    return it != options_.end() && it->second != 0;
  }

  void queue_reply(std::vector<u8> m) { rx_.push_back(std::move(m)); }

  // Multi-part messages packed into datagrams of at most kDatagramMax bytes, then DONE.
  void queue_dump(std::vector<std::vector<u8>> parts, u32 seq) {
    std::vector<u8> d;
    for (auto& p : parts) {
      if (!d.empty() && d.size() + p.size() > kDatagramMax) {
        queue_reply(std::move(d));
        d.clear();
      }
      d.insert(d.end(), p.begin(), p.end());
    }
    auto done = done_message(seq, port_);
    if (!d.empty() && d.size() + done.size() > kDatagramMax) {
      queue_reply(std::move(d));
      d.clear();
    }
    d.insert(d.end(), done.begin(), done.end());
    queue_reply(std::move(d));
  }

  void handle(std::span<const u8> req) {
    u16 type = get16le(req, 4), flags = get16le(req, 6);
    u32 seq = get32le(req, 8);
    int err = 0;
    bool known_get = type == kRtmGetlink || type == kRtmGetaddr || type == kRtmGetroute;
    if ((flags & kNlmFRequest) == 0 || type < kNlmsgMinType) {
      // Not a request, or a control message (NLMSG_NOOP...): acknowledged when asked, no more.
    } else if ((flags & kNlmFDump) == kNlmFDump && known_get) {
      int family = req.size() > kNlHeader ? req[kNlHeader] : 0;
      std::vector<std::vector<u8>> parts;
      bool inet = family == kAfUnspec || family == kAfInet, inet6 = family == kAfUnspec || family == kAfInet6;
      for (const auto& i : net_interfaces()) {
        if (type == kRtmGetlink) parts.push_back(link_message(*i, kNlmFMulti, seq, port_));
        if (type == kRtmGetaddr && inet) parts.push_back(addr_message(*i, kNlmFMulti, seq, port_));
        if (type == kRtmGetroute && inet && (i->flags & kIffLoopback) == 0) {
          if (i->gateway != 0) parts.push_back(route_message(*i, 0, 0, i->gateway, kNlmFMulti, seq, port_));
          parts.push_back(route_message(*i, i->prefix, i->addr & i->netmask(), 0, kNlmFMulti, seq, port_));
        }
      }
      // IPv6 after IPv4, as Linux dumps one family after the other.
      for (const auto& i : net_interfaces()) {
        if (type == kRtmGetaddr && inet6) {
          for (const auto& a : i->addrs6) parts.push_back(addr6_message(*i, a, kNlmFMulti, seq, port_));
        }
        if (type == kRtmGetroute && inet6 && (i->flags & kIffLoopback) == 0) {
          for (const auto& a : i->addrs6) {
            IpAddr prefix = a.addr;
            for (usize k = a.prefix / 8; k < 16; ++k) prefix.b[k] = 0;
            parts.push_back(route6_message(*i, a.prefix, prefix, IpAddr{}, kNlmFMulti, seq, port_));
          }
          if (!i->gateway6.is_unspecified()) {
            parts.push_back(route6_message(*i, 0, IpAddr{}, i->gateway6, kNlmFMulti, seq, port_));
          }
        }
      }
      queue_dump(std::move(parts), seq);
      return;
    } else if (type == kRtmGetlink) {
      // One link, by index or by IFLA_IFNAME.
      NetInterface* dev = nullptr;
      if (req.size() >= kNlHeader + 16) {
        i32 index = static_cast<i32>(get32le(req, kNlHeader + 4));
        if (index > 0) dev = interface_by_index(index);
        for (usize at = kNlHeader + 16; index <= 0 && at + 4 <= req.size();) {
          u16 alen = get16le(req, at), atype = get16le(req, at + 2);
          if (alen < 4 || at + alen > req.size()) break;
          if ((atype & 0x3fff) == kIflaIfname) {
            std::string name(req.begin() + static_cast<long>(at + 4), req.begin() + static_cast<long>(at + alen));
            name = name.substr(0, name.find('\0'));
            dev = interface_by_name(name);
          }
          at += align4(alen);
        }
      }
      if (dev == nullptr) {
        err = -static_cast<int>(Errno::enodev);
      } else {
        queue_reply(link_message(*dev, 0, seq, port_));
      }
    } else {
      // Past RTM_MAX, a GET that is not supported (addresses and routes only as dumps), or a
      // change, which needs CAP_NET_ADMIN (rtnetlink_rcv_msg: every kind but GET) and is not
      // supported either (the interfaces are the kernel's).
      bool get = type > kRtmMax || (type & 3) == 2;
      err = -static_cast<int>(get || admin_ ? Errno::eopnotsupp : Errno::eperm);
    }
    if (err != 0 || (flags & kNlmFAck) != 0) queue_reply(error_message(err, req, port_, option(10)));
  }

  u32 tgid_;
  bool admin_;
  u32 port_ = 0, groups_ = 0;
  u32 dst_pid_ = 0, dst_groups_ = 0;
  std::map<int, i32> options_;  // SOL_NETLINK options, kept for getsockopt
  std::deque<std::vector<u8>> rx_;
  ostd::WaitQueue queue_;
};

}  // namespace

Result<std::shared_ptr<Socket>> make_netlink_socket(Thread& self, int type, int protocol, u32 flags) {
  if (type != kSockRaw && type != kSockDgram) return Errno::esocktnosupport;
  if (protocol < 0 || protocol >= kMaxLinks || protocol != kNetlinkRoute) return Errno::eprotonosupport;
  const Credentials& c = self.process().creds;
  return std::shared_ptr<Socket>(std::make_shared<NetlinkSocket>(
      type, protocol, flags, c, static_cast<u32>(self.process().pid()), c.capable(cap::kNetAdmin)));
}

}  // namespace services
