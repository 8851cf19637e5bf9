// Network interfaces and what sits between IP and a wire: the loopback interface, the Ethernet
// interface on the backend's NIC (ostd/dev/nic.h), routing, ARP (RFC 826), IPv6 neighbour
// discovery (RFC 4861: address resolution, router advertisements) and the net task — the
// kernel's softirq — that takes frames off the NIC and runs the stack's timers.
//
// eth0 is configured as QEMU's user network configures a guest: 10.0.2.15/24, the gateway at
// 10.0.2.2, the DNS proxy at 10.0.2.3; for IPv6 the link-local address and the address
// stateless autoconfiguration (RFC 4862) gives in QEMU's prefix fec0::/64 (both from the MAC's
// EUI-64), the router at fe80::2. Router advertisements add their prefixes' addresses and set
// the default router. Packets for one of our own addresses go through lo, as Linux routes them
// (the local table).
#include <algorithm>
#include <atomic>
#include <deque>
#include <map>

#include <ostd/dev/nic.h>
#include <ostd/format.h>
#include <ostd/log.h>
#include <ostd/task.h>
#include <ostd/time.h>

#include "device/virtio.h"
#include "fs/vfs.h"
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

constexpr ostd::Logger kLog{"net"};
constexpr u16 kEtherTypeIpv4 = 0x0800, kEtherTypeArp = 0x0806, kEtherTypeIpv6 = 0x86dd;
constexpr u8 kNdRouterAdvert = 134, kNdNeighbourSolicit = 135, kNdNeighbourAdvert = 136;
constexpr u8 kNdOptSourceLl = 1, kNdOptTargetLl = 2, kNdOptPrefix = 3;
constexpr u8 kNaSolicited = 0x40, kNaOverride = 0x20;
constexpr u8 kScopeGlobal = 0, kScopeSite = 200, kScopeLink = 253, kScopeHost = 254;
constexpr usize kEthHeader = 14, kArpPacket = 28, kMinFrame = 60;
constexpr u32 kEthAddr = 0x0a00020f, kEthPrefix = 24, kGateway = 0x0a000202, kDns = 0x0a000203;
constexpr u64 kArpRetryNs = ostd::kNsPerSec;
constexpr u32 kSiocgifname = 0x8910, kSiocgifconf = 0x8912, kSiocgifflags = 0x8913, kSiocgifaddr = 0x8915,
              kSiocgifbrdaddr = 0x8919, kSiocgifnetmask = 0x891b, kSiocgifmetric = 0x891d, kSiocgifmtu = 0x8921,
              kSiocgifhwaddr = 0x8927, kSiocgifindex = 0x8933, kSiocgiftxqlen = 0x8942;
constexpr u64 kArpReachableNs = 60 * ostd::kNsPerSec;
constexpr u64 kTimerPollNs = 200 * ostd::kNsPerMs;
constexpr u64 kPollNs = ostd::kNsPerMs;  // a device without a receive interrupt
constexpr int kArpTries = 3;             // mcast_solicit
constexpr usize kArpQueue = 64;          // packets held per unresolved neighbour
constexpr std::array<u8, 6> kBroadcastMac = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

struct Neighbour {
  std::array<u8, 6> mac{};
  bool resolved = false;
  u64 expires = 0;  // resolved: when to ask again; unresolved: the next retry
  int tries = 0;
  std::deque<std::vector<u8>> pending;  // packets waiting for the answer
};

// The device under eth0: the backend's NIC (the host's libslirp) or the virtio-net driver
// (bare metal). Whole Ethernet frames both ways.
struct Link {
  std::function<Result<void>(std::span<const u8>)> transmit;
  std::function<Result<usize>(std::span<u8>)> receive;
  bool polled = false;  // no receive interrupt: the net task looks every kPollNs
};

struct NetState {
  std::vector<std::unique_ptr<NetInterface>> interfaces;
  Link link;
  std::map<IpAddr, Neighbour> neighbours;  // ARP's and neighbour discovery's
  NetInterface* eth = nullptr;
  bool announced = false;  // eth0's IPv6 addresses were advertised (announce_addresses)
  // The net task: woken by the NIC's interrupt and by earlier timer deadlines.
  ostd::WaitQueue wake;
  std::atomic<bool> rx_pending{false};
  std::atomic<bool> kicked{false};
  u64 sleeping_until = 0;  // the deadline the task sleeps to (0: it is awake)
  u64 generation = 0;      // boots; a task of an earlier one ends
  bool running = false;    // this boot's task has not ended
  ostd::WaitQueue ended;
};

NetState& state() {
  static NetState s;
  return s;
}

std::array<u8, 6> mac_at(std::span<const u8> p, usize at) {
  std::array<u8, 6> m{};
  std::copy_n(p.begin() + static_cast<long>(at), 6, m.begin());
  return m;
}

void put_mac(std::vector<u8>& f, usize at, const std::array<u8, 6>& m) {
  std::copy(m.begin(), m.end(), f.begin() + static_cast<long>(at));
}

void eth_transmit(NetInterface& dev, const std::array<u8, 6>& dst, u16 type, std::span<const u8> payload) {
  std::vector<u8> f(std::max(kMinFrame, kEthHeader + payload.size()));
  put_mac(f, 0, dst);
  put_mac(f, 6, dev.mac);
  put16(f, 12, type);
  std::copy(payload.begin(), payload.end(), f.begin() + kEthHeader);
  if (!state().link.transmit || state().link.transmit(f).is_error()) {
    ++dev.tx_dropped;
    return;
  }
  ++dev.tx_packets;
  dev.tx_bytes += f.size();
}

void arp_send(NetInterface& dev, u16 oper, const std::array<u8, 6>& tha, u32 tpa, const std::array<u8, 6>& dst) {
  std::vector<u8> a(kArpPacket);
  put16(a, 0, 1);  // Ethernet
  put16(a, 2, kEtherTypeIpv4);
  a[4] = 6;
  a[5] = 4;
  put16(a, 6, oper);
  put_mac(a, 8, dev.mac);
  put32(a, 14, dev.addr);
  put_mac(a, 18, tha);
  put32(a, 24, tpa);
  eth_transmit(dev, dst, kEtherTypeArp, a);
}

u16 ether_type_of(const IpAddr& a) { return a.is_v4() ? kEtherTypeIpv4 : kEtherTypeIpv6; }

// RFC 826's rule, which neighbour discovery shares: a known neighbour's link address is
// updated; an unknown one is learnt when the message was for us (`create`). What waited for
// the answer goes.
void learn_neighbour(NetInterface& dev, const IpAddr& ip, const std::array<u8, 6>& mac, bool create) {
  NetState& st = state();
  auto it = st.neighbours.find(ip);
  if (it == st.neighbours.end()) {
    if (!create) return;
    it = st.neighbours.emplace(ip, Neighbour{}).first;
  }
  Neighbour& n = it->second;
  n.mac = mac;
  n.resolved = true;
  n.tries = 0;
  n.expires = ostd::monotonic_ns() + kArpReachableNs;
  auto pending = std::move(n.pending);
  n.pending.clear();
  for (const auto& p : pending) eth_transmit(dev, mac, ether_type_of(ip), p);
}

// The Ethernet address of an IPv6 multicast group (RFC 2464 7): 33:33 and its last 32 bits.
std::array<u8, 6> multicast_mac(const IpAddr& group) {
  return {0x33, 0x33, group.b[12], group.b[13], group.b[14], group.b[15]};
}

// The solicited-node multicast group of `a` (RFC 4291 2.7.1): ff02::1:ffXX:XXXX.
IpAddr solicited_node(const IpAddr& a) {
  IpAddr g;
  g.b[0] = 0xff;
  g.b[1] = 0x02;
  g.b[11] = 0x01;
  g.b[12] = 0xff;
  g.b[13] = a.b[13];
  g.b[14] = a.b[14];
  g.b[15] = a.b[15];
  return g;
}

// An ICMPv6 neighbour-discovery message from `src` to `dst` (hop limit 255, as RFC 4861
// requires of every one), straight onto the wire at `mac`.
void ndisc_send(NetInterface& dev, const IpAddr& src, const IpAddr& dst, const std::array<u8, 6>& mac,
                std::vector<u8> m) {
  put16(m, 2, transport_checksum(src, dst, kIpprotoIcmpv6, m));
  ++net_counters().icmp6_out_msgs;
  eth_transmit(dev, mac, kEtherTypeIpv6, ipv6_packet(src, dst, kIpprotoIcmpv6, m, 255, 0));
}

// A neighbour advertisement of our `target` (its link address in the option) from it to
// `dst` at `mac`; `flags` are the R, S and O bits.
void ndisc_advertise(NetInterface& dev, const IpAddr& target, u8 flags, const IpAddr& dst,
                     const std::array<u8, 6>& mac) {
  std::vector<u8> na(32);
  na[0] = kNdNeighbourAdvert;
  na[4] = flags;
  std::copy(target.b.begin(), target.b.end(), na.begin() + 8);
  na[24] = kNdOptTargetLl;
  na[25] = 1;
  put_mac(na, 26, dev.mac);
  ndisc_send(dev, target, dst, mac, std::move(na));
}

// A neighbour solicitation for `target`: to its solicited-node group, or to `unicast_mac`
// when a known but stale neighbour is checked.
void ndisc_solicit(NetInterface& dev, const IpAddr& target, const std::array<u8, 6>* unicast_mac) {
  if (dev.addrs6.empty()) return;
  std::vector<u8> m(32);
  m[0] = kNdNeighbourSolicit;
  std::copy(target.b.begin(), target.b.end(), m.begin() + 8);
  m[24] = kNdOptSourceLl;
  m[25] = 1;
  put_mac(m, 26, dev.mac);
  IpAddr dst = unicast_mac != nullptr ? target : solicited_node(target);
  ndisc_send(dev, dev.addrs6.front().addr, dst, unicast_mac != nullptr ? *unicast_mac : multicast_mac(dst),
             std::move(m));
}

// The link address a neighbour-discovery message carries in an option of `kind` (source or
// target link-layer address), from offset `at` on; nullopt when absent or malformed.
std::optional<std::array<u8, 6>> nd_link_option(std::span<const u8> m, usize at, u8 kind, bool* malformed) {
  std::optional<std::array<u8, 6>> found;
  for (usize i = at; i < m.size();) {
    if (i + 2 > m.size() || m[i + 1] == 0 || i + usize{m[i + 1]} * 8 > m.size()) {
      *malformed = true;  // RFC 4861 7.1.1: an option of length zero invalidates the message
      return std::nullopt;
    }
    if (m[i] == kind && m[i + 1] == 1) found = mac_at(m, i + 2);
    i += usize{m[i + 1]} * 8;
  }
  return found;
}

bool has_address6(const NetInterface& dev, const IpAddr& a) {
  return std::any_of(dev.addrs6.begin(), dev.addrs6.end(), [&](const Inet6Address& x) { return x.addr == a; });
}

// The interface identifier of a MAC (modified EUI-64, RFC 4291 appendix A) after `prefix`.
IpAddr eui64_address(std::span<const u8> prefix, const std::array<u8, 6>& mac) {
  IpAddr a;
  std::copy_n(prefix.begin(), 8, a.b.begin());
  a.b[8] = static_cast<u8>(mac[0] ^ 0x02);
  a.b[9] = mac[1];
  a.b[10] = mac[2];
  a.b[11] = 0xff;
  a.b[12] = 0xfe;
  a.b[13] = mac[3];
  a.b[14] = mac[4];
  a.b[15] = mac[5];
  return a;
}

// Unsolicited neighbour advertisements of eth0's addresses to all nodes (RFC 4861 7.2.6), before
// the first IPv6 packet leaves: the router learns where they are before it has anything to send
// them (QEMU's user network would otherwise drop the first reply to each address while it asks).
void announce_addresses(NetInterface& dev) {
  for (const auto& a : dev.addrs6) ndisc_advertise(dev, a.addr, kNaOverride, kIn6AllNodes, multicast_mac(kIn6AllNodes));
}

// A router advertisement: the router as the default one while its lifetime lasts, and an
// address in each autonomous /64 prefix it announces (stateless autoconfiguration).
void router_advert(NetInterface& dev, const IpAddr& src, std::span<const u8> m) {
  if (m.size() < 16 || !src.is_link_local()) return;
  bool malformed = false;
  auto sll = nd_link_option(m, 16, kNdOptSourceLl, &malformed);
  if (malformed) return;
  if (sll) learn_neighbour(dev, src, *sll, true);
  u16 lifetime = get16(m, 6);
  if (lifetime != 0) {
    dev.gateway6 = src;
  } else if (dev.gateway6 == src) {
    dev.gateway6 = IpAddr{};
  }
  for (usize i = 16; i + 32 <= m.size() && m[i + 1] != 0; i += usize{m[i + 1]} * 8) {
    if (m[i] != kNdOptPrefix || m[i + 1] != 4) continue;
    u8 len = m[i + 2], flags = m[i + 3];
    IpAddr prefix = IpAddr::from(m.subspan(i + 16, 16));
    if ((flags & 0x40) == 0 || len != 64 || prefix.is_link_local() || prefix.is_multicast() || get32(m, i + 4) == 0) {
      continue;
    }
    IpAddr a = eui64_address(prefix.b, dev.mac);
    if (!has_address6(dev, a) && dev.addrs6.size() < 8) {
      dev.addrs6.push_back(Inet6Address{a, 64, prefix.b[0] == 0xfe ? kScopeSite : kScopeGlobal});
    }
  }
}

void arp_input(NetInterface& dev, std::span<const u8> a) {
  if (a.size() < kArpPacket || get16(a, 0) != 1 || get16(a, 2) != kEtherTypeIpv4 || a[4] != 6 || a[5] != 4) {
    ++dev.rx_dropped;
    return;
  }
  u16 oper = get16(a, 6);
  auto sha = mac_at(a, 8);
  u32 spa = get32(a, 14), tpa = get32(a, 24);
  if (spa == 0 || sha == kBroadcastMac || (sha[0] & 1) != 0) return;
  learn_neighbour(dev, IpAddr::v4(spa), sha, tpa == dev.addr);
  if (oper == 1 && tpa == dev.addr) arp_send(dev, 2, sha, spa, sha);
}

// Asks for `ip`'s link address: ARP, or a neighbour solicitation (to `known` when checking a
// stale entry).
void resolve(NetInterface& dev, const IpAddr& ip, const std::array<u8, 6>* known) {
  if (ip.is_v4()) {
    arp_send(dev, 1, known != nullptr ? *known : std::array<u8, 6>{}, ip.v4(),
             known != nullptr ? *known : kBroadcastMac);
  } else {
    ndisc_solicit(dev, ip, known);
  }
}

// An IP packet to `next_hop` on the Ethernet interface: at once when the neighbour is known
// (or the destination is a broadcast or multicast one), else after ARP or neighbour
// discovery finds it.
void neighbour_output(NetInterface& dev, const IpAddr& next_hop, std::vector<u8> packet) {
  u16 type = ether_type_of(next_hop);
  if (!next_hop.is_v4() && !state().announced) {
    state().announced = true;
    announce_addresses(dev);
  }
  if (next_hop.is_v4()) {
    u32 bcast = dev.addr | ~dev.netmask();
    if (next_hop.v4() == 0xffffffff || next_hop.v4() == bcast) {
      eth_transmit(dev, kBroadcastMac, type, packet);
      return;
    }
  } else if (next_hop.is_multicast()) {
    eth_transmit(dev, multicast_mac(next_hop), type, packet);
    return;
  }
  NetState& st = state();
  u64 now = ostd::monotonic_ns();
  Neighbour& n = st.neighbours[next_hop];
  if (n.resolved && now < n.expires) {
    eth_transmit(dev, n.mac, type, packet);
    return;
  }
  if (n.resolved) {  // stale: used while it is asked again (Linux's STALE/PROBE)
    eth_transmit(dev, n.mac, type, packet);
    n.resolved = false;
    n.tries = 1;
    n.expires = now + kArpRetryNs;
    std::array<u8, 6> mac = n.mac;
    resolve(dev, next_hop, &mac);
    return;
  }
  if (n.pending.size() >= kArpQueue) {
    n.pending.pop_front();
    ++dev.tx_dropped;
  }
  n.pending.push_back(std::move(packet));
  if (n.tries == 0) {
    n.tries = 1;
    n.expires = now + kArpRetryNs;
    resolve(dev, next_hop, nullptr);
    net_timer_deadline(n.expires);
  }
}

// ARP retries and expiry; returns the next deadline (0: none).
u64 arp_timers(u64 now) {
  NetState& st = state();
  u64 next = 0;
  for (auto it = st.neighbours.begin(); it != st.neighbours.end();) {
    Neighbour& n = it->second;
    if (!n.resolved && n.tries > 0 && n.expires <= now) {
      if (n.tries >= kArpTries) {
        if (st.eth != nullptr) st.eth->tx_dropped += n.pending.size();
        it = st.neighbours.erase(it);  // unreachable: what waited is dropped
        continue;
      }
      ++n.tries;
      n.expires = now + kArpRetryNs;
      if (st.eth != nullptr) resolve(*st.eth, it->first, nullptr);
    }
    if (!n.resolved && n.tries > 0) next = next == 0 ? n.expires : std::min(next, n.expires);
    ++it;
  }
  return next;
}

void eth_input(NetInterface& dev, std::span<const u8> f) {
  if (f.size() < kEthHeader) {
    ++dev.rx_dropped;
    return;
  }
  auto dst = mac_at(f, 0);
  // Ours, broadcast, or IPv6 multicast (which groups are ours IPv6 tells).
  if (dst != dev.mac && dst != kBroadcastMac && !(dst[0] == 0x33 && dst[1] == 0x33)) {
    ++dev.rx_dropped;  // another station's, or multicast we did not join
    return;
  }
  ++dev.rx_packets;
  dev.rx_bytes += f.size();
  u16 type = get16(f, 12);
  auto payload = f.subspan(kEthHeader);
  if (type == kEtherTypeIpv4) {
    ipv4_input(payload, false);
  } else if (type == kEtherTypeIpv6) {
    ipv6_input(payload, false);
  } else if (type == kEtherTypeArp) {
    arp_input(dev, payload);
  } else {
    ++dev.rx_dropped;
  }
}

// The NIC's receive interrupt: the net task takes the frames.
void frames_arrived() {
  state().rx_pending.store(true);
  state().wake.wake_all();
}

void net_task(u64 generation) {
  NetState& st = state();
  std::vector<u8> frame(ostd::kPageSize);
  for (;;) {
    if (st.generation != generation) {  // net_shutdown(), or a later boot's task took over
      auto g = net_lock().lock();
      if (st.generation == generation + 1) {
        st.running = false;
        st.ended.wake_all();
      }
      return;
    }
    // A peer that keeps sending must not keep the task from seeing net_shutdown().
    while (st.eth != nullptr && st.generation == generation) {
      auto r = st.link.receive(frame);
      if (r.is_error()) break;
      auto g = net_lock().lock();
      eth_input(*st.eth, std::span<const u8>(frame).first(r.value()));
    }
    // The timers are looked at every kTimerPollNs at least, so arming one (every segment
    // sent) never has to wake this task: no deadline is sooner than the smallest RTO.
    u64 next = 0;
    {
      auto g = net_lock().lock();
      u64 now = ostd::monotonic_ns();
      next = now + kTimerPollNs;
      for (u64 d : {arp_timers(now), ipv4_timers(now), tcp_timers(now)}) {
        if (d != 0) next = std::min(next, d);
      }
      st.sleeping_until = next;
      st.kicked.store(false, std::memory_order_relaxed);
    }
    net_process_backlog();
    u64 now = ostd::monotonic_ns();
    std::optional<u64> timeout = next > now ? next - now : 1;
    if (st.link.polled) timeout = std::min<u64>(*timeout, kPollNs);
    (void)st.wake.wait_until(
        [&st, generation] {
          return st.rx_pending.exchange(false) || st.kicked.load(std::memory_order_relaxed) ||
                 st.generation != generation;
        },
        timeout);
    auto g = net_lock().lock();
    st.sleeping_until = 0;
  }
}

}  // namespace

u32 NetInterface::netmask() const { return prefix == 0 ? 0 : ~u32{0} << (32 - prefix); }

void net_timer_deadline(u64 deadline_ns) {
  NetState& st = state();
  if (st.sleeping_until != 0 && deadline_ns < st.sleeping_until) {
    st.sleeping_until = deadline_ns;
    st.kicked.store(true, std::memory_order_relaxed);
    st.wake.wake_all();
  }
}

const std::vector<std::unique_ptr<NetInterface>>& net_interfaces() { return state().interfaces; }

NetInterface* interface_by_index(int index) {
  for (auto& i : state().interfaces) {
    if (i->index == index) return i.get();
  }
  return nullptr;
}

NetInterface* interface_by_name(std::string_view name) {
  for (auto& i : state().interfaces) {
    if (i->name == name) return i.get();
  }
  return nullptr;
}

bool is_local_address(const IpAddr& a) {
  if (a.is_loopback()) return true;
  for (auto& i : state().interfaces) {
    if ((i->flags & kIffUp) == 0) continue;
    if (a.is_v4() ? i->addr == a.v4() : has_address6(*i, a)) return true;
  }
  return false;
}

bool is_local_multicast6(const IpAddr& g) {
  // ff01::1 and ff02::1: every node.
  IpAddr node_local = kIn6AllNodes;
  node_local.b[1] = 0x01;
  if (g == kIn6AllNodes || g == node_local) return true;
  NetInterface* eth = state().eth;
  if (eth == nullptr) return false;
  return std::any_of(eth->addrs6.begin(), eth->addrs6.end(),
                     [&](const Inet6Address& x) { return solicited_node(x.addr) == g; });
}

namespace {

Result<Route> route_lookup4(u32 dst) {
  NetState& st = state();
  NetInterface* lo = st.interfaces.front().get();
  if (dst == kInaddrAny) dst = kInaddrLoopback;
  if ((dst >> 24) == 127) return Route{lo, IpAddr::v4(dst), IpAddr::v4(kInaddrLoopback)};
  if (is_local_address(dst)) return Route{lo, IpAddr::v4(dst), IpAddr::v4(dst)};
  NetInterface* eth = st.eth;
  if (eth == nullptr || (eth->flags & kIffUp) == 0) return Errno::enetunreach;
  if (dst == 0xffffffff || (dst & eth->netmask()) == (eth->addr & eth->netmask())) {
    return Route{eth, IpAddr::v4(dst), IpAddr::v4(eth->addr)};
  }
  return Route{eth, IpAddr::v4(kGateway), IpAddr::v4(eth->addr)};
}

bool same_prefix(const IpAddr& a, const IpAddr& b, usize len) {
  for (usize i = 0; i < len; ++i) {
    if (((a.b[i / 8] ^ b.b[i / 8]) & (0x80 >> (i % 8))) != 0) return false;
  }
  return true;
}

// IPv6: lo for our own addresses; on eth0 link-local and multicast destinations directly,
// from the link-local address (link-scope) or a global one; a destination in one of eth0's
// prefixes on the link; anything else through the default router.
Result<Route> route_lookup6(const IpAddr& dst) {
  NetState& st = state();
  NetInterface* lo = st.interfaces.front().get();
  if (dst.is_unspecified() || dst == kIn6Loopback) return Route{lo, kIn6Loopback, kIn6Loopback};
  if (!dst.is_multicast() && is_local_address(dst)) return Route{lo, dst, dst};
  NetInterface* eth = st.eth;
  if (eth == nullptr || (eth->flags & kIffUp) == 0 || eth->addrs6.empty()) return Errno::enetunreach;
  const IpAddr& link_local = eth->addrs6.front().addr;
  IpAddr global = link_local;
  for (const auto& a : eth->addrs6) {
    if (a.scope != kScopeLink) {
      global = a.addr;
      break;
    }
  }
  if (dst.is_multicast()) {
    if ((dst.b[1] & 0xf) == 1) return Errno::enetunreach;  // interface-local: not through eth0
    return Route{eth, dst, (dst.b[1] & 0xf) == 2 ? link_local : global};
  }
  if (dst.is_link_local()) return Route{eth, dst, link_local};
  for (const auto& a : eth->addrs6) {
    if (a.scope != kScopeLink && same_prefix(a.addr, dst, a.prefix)) return Route{eth, dst, a.addr};
  }
  if (eth->gateway6.is_unspecified()) return Errno::enetunreach;
  return Route{eth, eth->gateway6, global};
}

}  // namespace

Result<Route> route_lookup(const IpAddr& dst) {
  if (state().interfaces.empty()) return Errno::enetunreach;
  return dst.is_v4() ? route_lookup4(dst.v4()) : route_lookup6(dst);
}

Result<IpAddr> route_source(const IpAddr& dst) { return TRY(route_lookup(dst)).src; }

Result<IpAddr> route_source_from(const IpAddr& bound, const IpAddr& dst) {
  // A socket bound to one version's address does not send the other's.
  if (!bound.is_unspecified() && bound.is_v4() != dst.is_v4()) return Errno::enetunreach;
  // A loopback source cannot leave through a real interface (__mkroute_output's EINVAL; said
  // before the route is looked up, so a kernel without eth0 answers as one with it).
  IpAddr to = dst == IpAddr::v4(0) ? IpAddr::v4(kInaddrLoopback) : dst;
  if (bound.is_loopback() && !to.is_unspecified() && !is_local_address(to)) return Errno::einval;
  Route r = TRY(route_lookup(to));
  return bound.is_wildcard() ? r.src : bound;
}

void interface_output(const Route& r, std::vector<u8> packet) {
  if (r.dev == state().eth) neighbour_output(*r.dev, r.next_hop, std::move(packet));
}

void ndisc_input(const IpAddr& src, const IpAddr& dst, u8 hop_limit, std::span<const u8> m) {
  NetState& st = state();
  NetInterface* dev = st.eth;
  // RFC 4861 6.1 and 7.1: from the link itself (hop limit 255), code 0.
  if (dev == nullptr || hop_limit != 255 || m[1] != 0) return;
  bool malformed = false;
  if (m[0] == kNdRouterAdvert) {
    router_advert(*dev, src, m);
    return;
  }
  if (m.size() < 24) return;
  IpAddr target = IpAddr::from(m.subspan(8, 16));
  if (target.is_multicast()) return;
  if (m[0] == kNdNeighbourSolicit) {
    auto sll = nd_link_option(m, 24, kNdOptSourceLl, &malformed);
    if (malformed || !has_address6(*dev, target)) return;
    if (src.is_unspecified() && sll) return;  // duplicate address detection carries no address
    if (src.is_unspecified()) {               // answering another node's duplicate address detection
      ndisc_advertise(*dev, target, kNaOverride, kIn6AllNodes, multicast_mac(kIn6AllNodes));
      return;
    }
    if (sll) learn_neighbour(*dev, src, *sll, true);
    auto it = st.neighbours.find(src);
    if (it == st.neighbours.end() || !it->second.resolved) return;  // no way to answer yet
    ndisc_advertise(*dev, target, kNaSolicited | kNaOverride, src, it->second.mac);
    return;
  }
  if (m[0] == kNdNeighbourAdvert) {
    auto tll = nd_link_option(m, 24, kNdOptTargetLl, &malformed);
    if (malformed || (dst.is_multicast() && (m[4] & kNaSolicited) != 0)) return;  // a solicited one is unicast
    if (tll) learn_neighbour(*dev, target, *tll, false);
  }
}

void net_init() {
  NetState& st = state();
  {
    auto g = net_lock().lock();
    st.interfaces.clear();
    st.neighbours.clear();
    st.announced = false;
    ipv4_reset();
    tcp_reset();
    st.eth = nullptr;
    auto lo = std::make_unique<NetInterface>();
    lo->index = 1;
    lo->name = "lo";
    lo->flags = kIffUp | kIffLoopback | kIffRunning | kIffLowerUp;
    lo->mtu = 65536;
    lo->addr = kInaddrLoopback;
    lo->prefix = 8;
    lo->addrs6.push_back(Inet6Address{kIn6Loopback, 128, kScopeHost});
    st.interfaces.push_back(std::move(lo));
    st.link = Link{};
    std::optional<ostd::nic::Info> info = ostd::nic::info();
    if (info) {
      st.link.transmit = [](std::span<const u8> f) { return ostd::nic::transmit(f); };
      st.link.receive = [](std::span<u8> f) { return ostd::nic::receive(f); };
      if (auto r = ostd::nic::on_receive(frames_arrived); r.is_error()) {
        kLog.warn("eth0: no receive interrupt: {}", r.error());
      }
    } else if (auto v = virtio::net_device()) {
      info = ostd::nic::Info{v->mac(), virtio::NetDevice::kMtu};
      st.link.transmit = [v](std::span<const u8> f) { return v->transmit(f); };
      st.link.receive = [v](std::span<u8> f) { return v->receive(f); };
      st.link.polled = !v->interrupt_driven();
      v->on_receive(frames_arrived);
    }
    if (info) {
      auto eth = std::make_unique<NetInterface>();
      eth->index = 2;
      eth->name = "eth0";
      eth->flags = kIffUp | kIffBroadcast | kIffRunning | kIffMulticast | kIffLowerUp;
      eth->mac = info->mac;
      eth->mtu = info->mtu;
      eth->addr = kEthAddr;
      eth->prefix = kEthPrefix;
      eth->gateway = kGateway;
      std::array<u8, 8> link_prefix{0xfe, 0x80}, site_prefix{0xfe, 0xc0};
      eth->addrs6.push_back(Inet6Address{eui64_address(link_prefix, eth->mac), 64, kScopeLink});
      eth->addrs6.push_back(Inet6Address{eui64_address(site_prefix, eth->mac), 64, kScopeSite});
      IpAddr router;
      router.b[0] = 0xfe;
      router.b[1] = 0x80;
      router.b[15] = 2;
      eth->gateway6 = router;
      st.eth = eth.get();
      st.interfaces.push_back(std::move(eth));
    }
    ++st.generation;
    st.sleeping_until = 0;
  }
  u64 gen = st.generation;
  auto t = ostd::Task::spawn([gen] { net_task(gen); }, ostd::TaskOptions{"net", 0});
  if (t.is_error()) {
    kLog.warn("cannot start the net task: {}", t.error());
    return;
  }
  st.running = true;
}

void net_shutdown() {
  NetState& st = state();
  {
    auto g = net_lock().lock();
    if (!st.running) return;
    ++st.generation;
    st.kicked.store(true);
  }
  st.wake.wake_all();
  // The task sees the new generation at its next look (it never waits long: kTimerPollNs at
  // most). It must be gone before the kernel run ends: it waits on this file's static queues,
  // and a run that returned with it still queued would leave them to the process's exit.
  // A loaded host may hold this CPU for seconds, hence the generous bound.
  if (!st.ended.wait_until([&st] { return !st.running; }, 60 * ostd::kNsPerSec)) {
    ostd::panic("net_shutdown: the net task did not end within 60 s");
  }
}

// SIOCGIF* (Linux's dev_ioctl and devinet_ioctl): what ifconfig and friends ask about the
// interfaces, on any socket (the address requests on AF_INET ones).
Result<long> interface_ioctl(Thread& self, int family, u32 cmd, u64 arg) {
  constexpr usize kIfreq = 40, kIfnamsiz = 16;
  if (cmd == kSiocgifconf) {
    // struct ifconf { int ifc_len; char* ifc_buf; }: one ifreq (name, sockaddr_in) per interface
    // with an IPv4 address, as many as fit; a null buffer asks for the length.
    std::array<u8, 16> ifc{};
    TRY(self.vm().read_bytes(arg, ifc));
    i32 len = static_cast<i32>(ifc[0] | (ifc[1] << 8) | (ifc[2] << 16) | (u32{ifc[3]} << 24));
    u64 buf = 0;
    for (usize i = 0; i < 8; ++i) buf |= u64{ifc[8 + i]} << (8 * i);
    std::vector<u8> out;
    {
      auto g = net_lock().lock();
      for (const auto& i : net_interfaces()) {
        std::vector<u8> r(kIfreq);
        std::copy(i->name.begin(), i->name.end(), r.begin());
        auto sa = sockaddr_in_bytes({IpAddr::v4(i->addr), 0});
        std::copy(sa.begin(), sa.end(), r.begin() + kIfnamsiz);
        out.insert(out.end(), r.begin(), r.end());
      }
    }
    i32 used = static_cast<i32>(out.size());
    if (buf != 0) {
      if (len < 0) return Errno::einval;
      used = static_cast<i32>(std::min<usize>(out.size(), static_cast<usize>(len) / kIfreq * kIfreq));
      TRY(self.vm().write_bytes(buf, std::span<const u8>(out).first(static_cast<usize>(used))));
    }
    TRY(ostd::UserPtr<i32>(arg).write(self.vm(), used));
    return 0;
  }
  std::array<u8, kIfreq> req{};
  TRY(self.vm().read_bytes(arg, req));
  req[kIfnamsiz - 1] = 0;
  usize n = 0;
  while (n < kIfnamsiz && req[n] != 0) ++n;
  std::string name(req.begin(), req.begin() + static_cast<long>(n));
  auto g = net_lock().lock();
  NetInterface* dev = nullptr;
  if (cmd == kSiocgifname) {
    i32 index = static_cast<i32>(req[16] | (req[17] << 8) | (req[18] << 16) | (u32{req[19]} << 24));
    dev = interface_by_index(index);
    if (dev == nullptr) return Errno::enodev;
    std::fill(req.begin(), req.begin() + kIfnamsiz, 0);
    std::copy(dev->name.begin(), dev->name.end(), req.begin());
  } else {
    dev = interface_by_name(name);
    if (dev == nullptr) return Errno::enodev;
    auto put_u32 = [&](u32 v) {
      for (usize i = 0; i < 4; ++i) req[16 + i] = static_cast<u8>(v >> (8 * i));
    };
    auto put_addr = [&](u32 a) {
      std::fill(req.begin() + kIfnamsiz, req.end(), 0);
      auto sa = sockaddr_in_bytes({IpAddr::v4(a), 0});
      std::copy(sa.begin(), sa.end(), req.begin() + kIfnamsiz);
    };
    bool inet = family == kAfInet;
    switch (cmd) {
      case kSiocgifflags: put_u32(dev->flags & 0xffff); break;
      case kSiocgifindex: put_u32(static_cast<u32>(dev->index)); break;
      case kSiocgifmtu: put_u32(dev->mtu); break;
      case kSiocgifmetric: put_u32(0); break;
      case kSiocgiftxqlen: put_u32(1000); break;
      case kSiocgifhwaddr:
        std::fill(req.begin() + kIfnamsiz, req.end(), 0);
        req[16] = (dev->flags & kIffLoopback) != 0 ? 4 : 1;  // ARPHRD_LOOPBACK (772 = 0x304), ARPHRD_ETHER
        req[17] = (dev->flags & kIffLoopback) != 0 ? 3 : 0;
        std::copy(dev->mac.begin(), dev->mac.end(), req.begin() + 18);
        break;
      case kSiocgifaddr:
        if (!inet) return Errno::enotty;
        put_addr(dev->addr);
        break;
      case kSiocgifnetmask:
        if (!inet) return Errno::enotty;
        put_addr(dev->netmask());
        break;
      case kSiocgifbrdaddr:
        if (!inet) return Errno::enotty;
        put_addr((dev->flags & kIffBroadcast) != 0 ? (dev->addr | ~dev->netmask()) : 0);
        break;
      default: return Errno::enotty;
    }
  }
  TRY(self.vm().write_bytes(arg, std::span<const u8>(req)));
  return 0;
}

bool is_interface_ioctl(u32 cmd) {
  switch (cmd) {
    // clang-format off
    case kSiocgifname: case kSiocgifconf: case kSiocgifflags: case kSiocgifaddr: case kSiocgifbrdaddr:
    case kSiocgifnetmask: case kSiocgifmetric: case kSiocgifmtu: case kSiocgifhwaddr: case kSiocgifindex:
    case kSiocgiftxqlen: return true;
    // clang-format on
    default: return false;
  }
}

std::string dns_resolv_conf() {
  if (state().eth == nullptr) return {};
  return ostd::format("nameserver {}.{}.{}.{}\n", kDns >> 24, (kDns >> 16) & 0xff, (kDns >> 8) & 0xff, kDns & 0xff);
}

std::vector<InterfaceSummary> interface_summaries() {
  auto g = net_lock().lock();
  std::vector<InterfaceSummary> out;
  for (auto& i : state().interfaces) out.push_back(InterfaceSummary{i->index, i->name, i->flags, i->mac, i->mtu});
  return out;
}

std::string proc_net_dev() {
  auto g = net_lock().lock();
  std::string s =
      "Inter-|   Receive                                                |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier "
      "compressed\n";
  for (auto& i : state().interfaces) {
    std::string name = i->name + ":";
    if (name.size() < 6) name.insert(0, 6 - name.size(), ' ');
    auto col = [](u64 v, usize w) {
      std::string t = ostd::format("{}", v);
      if (t.size() < w) t.insert(0, w - t.size(), ' ');
      return t;
    };
    s += name + col(i->rx_bytes, 8) + col(i->rx_packets, 8) + col(0, 5) + col(i->rx_dropped, 5) + col(0, 5) +
         col(0, 6) + col(0, 11) + col(0, 10) + " " + col(i->tx_bytes, 8) + col(i->tx_packets, 8) + col(0, 5) +
         col(i->tx_dropped, 5) + col(0, 5) + col(0, 6) + col(0, 8) + col(0, 11) + "\n";
  }
  return s;
}

std::string proc_net_route() {
  auto g = net_lock().lock();
  std::string s = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";
  NetInterface* eth = state().eth;
  if (eth == nullptr) return s;
  auto le = [](u32 a) { return hex_field((a >> 24) | ((a >> 8) & 0xff00) | ((a << 8) & 0xff0000) | (a << 24), 8); };
  s += eth->name + "\t" + le(0) + "\t" + le(eth->gateway) + "\t0003\t0\t0\t0\t" + le(0) + "\t0\t0\t0\n";
  s += eth->name + "\t" + le(eth->addr & eth->netmask()) + "\t" + le(0) + "\t0001\t0\t0\t0\t" + le(eth->netmask()) +
       "\t0\t0\t0\n";
  return s;
}

std::string proc_net_arp() {
  auto g = net_lock().lock();
  std::string s = "IP address       HW type     Flags       HW address            Mask     Device\n";
  for (const auto& [ip, n] : state().neighbours) {
    if (!n.resolved) continue;
    if (!ip.is_v4()) continue;
    std::string a = ip_text(ip);
    a.resize(17, ' ');
    std::string mac;
    for (usize k = 0; k < 6; ++k) mac += (k ? ":" : "") + hex_field(n.mac[k], 2, false);
    s += a + "0x1         0x2         " + mac + "     *        eth0\n";
  }
  return s;
}

std::string proc_net_if_inet6() {
  auto g = net_lock().lock();
  std::string s;
  for (const auto& i : state().interfaces) {
    for (const auto& a : i->addrs6) {
      std::string hex;
      for (u8 x : a.addr.b) hex += hex_field(x, 2, false);
      u32 scope = a.scope == kScopeHost ? 0x10 : a.scope == kScopeLink ? 0x20 : a.scope == kScopeSite ? 0x40 : 0;
      std::string name = i->name;
      if (name.size() < 8) name.insert(0, 8 - name.size(), ' ');
      s += hex + " " + hex_field(static_cast<u32>(i->index), 2, false) + " " + hex_field(a.prefix, 2, false) + " " +
           hex_field(scope, 2, false) + " 80 " + name + "\n";
    }
  }
  return s;
}

}  // namespace services
