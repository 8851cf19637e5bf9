// services/net/inet.h — the IP stack's shared pieces: addresses, wire-format helpers, the
// interfaces, routing, the IP-level socket options, and the entry points the transport
// protocols use. IPv4 and IPv6 share the transports: an address is one type for both (an IPv4
// address is held IPv4-mapped), so TCP and UDP keep one table each, and an AF_INET6 socket
// that is not IPV6_V6ONLY serves IPv4 peers as Linux's dual-stack sockets do.
//
// Packets are byte vectors in network order, built and parsed field by field (no overlays), so
// a hostile packet is only ever a short or inconsistent byte string: every parser checks
// lengths before it reads. The stack runs under one lock (net_lock()); a device's received
// packets wait in a backlog that net_process_backlog() drains outside any socket operation, as
// Linux's netif_rx and its softirq.
#pragma once

#include <array>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <ostd/error.h>
#include <ostd/sync.h>
#include <ostd/types.h>

#include "net/socket.h"

namespace services {

inline constexpr ostd::u8 kIpprotoIcmp = 1, kIpprotoTcp = 6, kIpprotoUdp = 17;
inline constexpr ostd::u32 kInaddrAny = 0, kInaddrLoopback = 0x7f000001;
inline constexpr ostd::u16 kEphemeralLow = 32768, kEphemeralHigh = 60999;  // ip_local_port_range

inline constexpr ostd::u8 kIpprotoIcmpv6 = 58;

/// An IP address in network byte order: IPv6's 16 bytes, an IPv4 address IPv4-mapped
/// (::ffff:a.b.c.d, RFC 4291 2.5.5.2).
struct IpAddr {
  std::array<ostd::u8, 16> b{};

  static constexpr IpAddr v4(ostd::u32 a) {
    IpAddr r;
    r.b[10] = r.b[11] = 0xff;
    for (int i = 0; i < 4; ++i) r.b[12 + i] = static_cast<ostd::u8>(a >> (24 - 8 * i));
    return r;
  }
  /// 16 bytes of an IPv6 address (a packet's or a sockaddr_in6's).
  static IpAddr from(std::span<const ostd::u8> s) {
    IpAddr r;
    for (std::size_t i = 0; i < 16 && i < s.size(); ++i) r.b[i] = s[i];
    return r;
  }
  constexpr bool is_v4() const {
    for (int i = 0; i < 10; ++i) {
      if (b[i] != 0) return false;
    }
    return b[10] == 0xff && b[11] == 0xff;
  }
  /// The IPv4 address (host order) of a mapped one.
  constexpr ostd::u32 v4() const {
    return (ostd::u32{b[12]} << 24) | (ostd::u32{b[13]} << 16) | (ostd::u32{b[14]} << 8) | b[15];
  }
  /// :: (in6addr_any).
  constexpr bool is_unspecified() const { return *this == IpAddr{}; }
  /// An address a socket binds to for every address: :: or 0.0.0.0.
  constexpr bool is_wildcard() const { return is_unspecified() || *this == v4(0); }
  constexpr bool is_loopback() const;
  constexpr bool is_multicast() const { return is_v4() ? (v4() >> 28) == 0xe : b[0] == 0xff; }
  constexpr bool is_link_local() const { return !is_v4() && b[0] == 0xfe && (b[1] & 0xc0) == 0x80; }
  constexpr auto operator<=>(const IpAddr&) const = default;
};

inline constexpr IpAddr kIn6Loopback = [] {
  IpAddr a;
  a.b[15] = 1;
  return a;
}();
/// ff02::1, every node on the link.
inline constexpr IpAddr kIn6AllNodes = [] {
  IpAddr a;
  a.b[0] = 0xff;
  a.b[1] = 0x02;
  a.b[15] = 1;
  return a;
}();
constexpr bool IpAddr::is_loopback() const { return is_v4() ? (v4() >> 24) == 127 : *this == kIn6Loopback; }

/// The wildcard address of a socket family: 0.0.0.0 (mapped) for AF_INET, :: for AF_INET6.
IpAddr wildcard_of(int family);
/// The address as text ("10.0.2.15", "fe80::5054:ff:fe12:3456"; RFC 5952 form).
std::string ip_text(const IpAddr& a);

/// An endpoint: an address and a port (host order).
struct InetEndpoint {
  IpAddr addr;
  ostd::u16 port = 0;
  bool operator==(const InetEndpoint&) const = default;
};

/// An endpoint as /proc/net/{tcp,udp} print it: the address's 32-bit words in memory order,
/// then the port ("0100007F:0016" for 127.0.0.1:22 on a little-endian machine); for the tcp6
/// and udp6 files (`v6`) all four words.
std::string proc_net_endpoint(const InetEndpoint& e, bool v6 = false);

/// sockaddr_in <-> endpoint. parse: EINVAL when shorter than sockaddr_in, EAFNOSUPPORT for
/// another family (AF_UNSPEC with INADDR_ANY passes where `unspec_any_ok`, as inet_bind).
ostd::Result<InetEndpoint> parse_sockaddr_in(std::span<const ostd::u8> a, bool unspec_any_ok);
/// The address a socket of `family` reports: sockaddr_in, or sockaddr_in6 (28 bytes; an IPv4
/// peer IPv4-mapped).
std::vector<ostd::u8> sockaddr_bytes(int family, const InetEndpoint& e);
inline std::vector<ostd::u8> sockaddr_in_bytes(const InetEndpoint& e) { return sockaddr_bytes(2, e); }
/// The family field of a raw sockaddr (0 when too short).
int sockaddr_family(std::span<const ostd::u8> a);

/// bind(2)'s address for a TCP or UDP socket of `family`, checked as inet_bind / inet6_bind
/// check it: EINVAL (short, multicast on a stream socket, a mapped address on a V6ONLY socket,
/// a link-local one without an interface), EAFNOSUPPORT, EADDRNOTAVAIL (not this host's).
ostd::Result<InetEndpoint> parse_bind_address(int family, bool v6only, bool stream, std::span<const ostd::u8> a);
/// connect(2)'s (or a datagram's) destination for a socket of `family` bound to `bound`: the
/// unspecified address means this host's loopback; an IPv4 destination (a mapped one, or a
/// sockaddr_in where `datagram` allows it) on a V6ONLY socket is ENETUNREACH; a multicast one
/// on a stream socket ENETUNREACH.
ostd::Result<InetEndpoint> parse_connect_address(int family, bool v6only, bool datagram, const IpAddr& bound,
                                                 std::span<const ostd::u8> a);
/// Whether a socket bound to `bound` (`v6only`: IPV6_V6ONLY) takes a packet sent to `dst`.
bool bound_accepts(const IpAddr& bound, bool v6only, const IpAddr& dst);
/// Whether two sockets' bound addresses share an address (they compete for a port).
bool bound_overlap(const IpAddr& a, bool a_v6only, const IpAddr& b, bool b_v6only);

// Big-endian fields.
void put16(std::vector<ostd::u8>& p, ostd::usize at, ostd::u16 v);
void put32(std::vector<ostd::u8>& p, ostd::usize at, ostd::u32 v);
ostd::u16 get16(std::span<const ostd::u8> p, ostd::usize at);
ostd::u32 get32(std::span<const ostd::u8> p, ostd::usize at);
/// The Internet checksum (RFC 1071) of `data`, continuing from `sum`.
ostd::u32 checksum_add(ostd::u32 sum, std::span<const ostd::u8> data);
ostd::u16 checksum_fold(ostd::u32 sum);
/// The checksum of a TCP, UDP or ICMPv6 message over its pseudo-header (RFC 768, RFC 9293 3.1,
/// RFC 8200 8.1; the IPv6 one when the addresses are not IPv4): the value for the checksum
/// field when that field is zero, and 0 for a message that checks.
ostd::u16 transport_checksum(const IpAddr& src, const IpAddr& dst, ostd::u8 proto, std::span<const ostd::u8> segment);

inline constexpr ostd::u32 kIffUp = 0x1, kIffBroadcast = 0x2, kIffLoopback = 0x8, kIffRunning = 0x40,
                           kIffMulticast = 0x1000, kIffLowerUp = 0x10000;

/// An IPv6 address of an interface, with its prefix length and scope (RT_SCOPE_*: 0 global,
/// 253 link, 254 host).
struct Inet6Address {
  IpAddr addr;
  ostd::u8 prefix = 64;
  ostd::u8 scope = 0;
};

/// A network interface (net/netif.cpp): lo, and eth0 on the backend's NIC. Under net_lock().
struct NetInterface {
  int index = 0;
  std::string name;
  ostd::u32 flags = 0;  // IFF_*
  std::array<ostd::u8, 6> mac{};
  ostd::u32 mtu = 0;
  ostd::u32 addr = 0, gateway = 0;  // IPv4, host order
  ostd::u8 prefix = 0;
  std::vector<Inet6Address> addrs6;  // link-local first on eth0
  IpAddr gateway6;                   // the default router (:: when none)
  ostd::u64 rx_packets = 0, rx_bytes = 0, rx_dropped = 0, tx_packets = 0, tx_bytes = 0, tx_dropped = 0;
  ostd::u32 netmask() const;
};

/// Sets the interfaces up for this boot (lo; eth0 with QEMU's user-network addresses when the
/// backend has a NIC) and starts the net task, which receives frames and runs the timers.
void net_init();
/// Ends the net task (the machine is shutting down).
void net_shutdown();
const std::vector<std::unique_ptr<NetInterface>>& net_interfaces();
NetInterface* interface_by_index(int index);
NetInterface* interface_by_name(std::string_view name);
/// The SIOCGIF* ioctls on a socket of `family` (ifconfig's questions: SIOCGIFCONF, NAME, INDEX,
/// FLAGS, MTU, HWADDR, METRIC, TXQLEN; ADDR, NETMASK, BRDADDR on AF_INET); ENOTTY for others,
/// ENODEV for an unknown interface.
ostd::Result<long> interface_ioctl(Thread& self, int family, ostd::u32 cmd, ostd::u64 arg);
/// Whether `cmd` is one of them.
bool is_interface_ioctl(ostd::u32 cmd);
/// "nameserver 10.0.2.3\n" when eth0 exists (the kernel writes /etc/resolv.conf when absent).
std::string dns_resolv_conf();
/// /proc/net/dev, /proc/net/route, /proc/net/arp, /proc/net/if_inet6.
std::string proc_net_dev();
/// What /sys/class/net shows of each interface (copies, taken under net_lock()).
struct InterfaceSummary {
  int index = 0;
  std::string name;
  ostd::u32 flags = 0;
  std::array<ostd::u8, 6> mac{};
  ostd::u32 mtu = 0;
};
std::vector<InterfaceSummary> interface_summaries();
std::string proc_net_route();
std::string proc_net_arp();
std::string proc_net_if_inet6();

/// Whether `addr` is one of this host's addresses (127/8, ::1, the interfaces' addresses).
bool is_local_address(const IpAddr& addr);
inline bool is_local_address(ostd::u32 addr) { return is_local_address(IpAddr::v4(addr)); }
/// Whether a packet to the IPv6 multicast `group` is for this host (all-nodes, or the
/// solicited-node group of one of its addresses).
bool is_local_multicast6(const IpAddr& group);
/// Where a packet to `dst` goes: the interface, the next hop, the source address to use.
struct Route {
  NetInterface* dev;
  IpAddr next_hop;
  IpAddr src;
};
/// ENETUNREACH without a route.
ostd::Result<Route> route_lookup(const IpAddr& dst);
/// The source address for a packet to `dst`; ENETUNREACH without a route.
ostd::Result<IpAddr> route_source(const IpAddr& dst);
/// The same for a socket bound to `bound` (a wildcard: chosen by the route); EINVAL when a
/// loopback address would leave through a real interface, ENETUNREACH when the bound address
/// and the destination are of different IP versions.
ostd::Result<IpAddr> route_source_from(const IpAddr& bound, const IpAddr& dst);
/// Hands an IP packet (IPv4 or IPv6, by its version) to a non-loopback interface (after ARP or
/// neighbour discovery where needed).
void interface_output(const Route& r, std::vector<ostd::u8> packet);
/// A neighbour-discovery message (RFC 4861: router and neighbour solicitations and
/// advertisements) that eth0 received (net/netif.cpp, with net_lock held).
void ndisc_input(const IpAddr& src, const IpAddr& dst, ostd::u8 hop_limit, std::span<const ostd::u8> icmp);
/// Asks the net task to run the timers by `deadline_ns` (called with net_lock held).
void net_timer_deadline(ostd::u64 deadline_ns);
/// Timers of the stack, run by the net task with net_lock held; each returns its next deadline
/// (0: none): fragment reassembly, TCP retransmission and persist.
ostd::u64 ipv4_timers(ostd::u64 now);
/// A new boot of the kernel in the same process (tests, fuzzers): no packet, fragment or
/// connection of the previous one is left (net_init calls them).
void ipv4_reset();
void tcp_reset();
ostd::u64 tcp_timers(ostd::u64 now);
/// An IPv4 packet a device received (with net_lock held). `loopback`: it comes from this host
/// through lo, whose packets carry no TCP/UDP checksums (as Linux's loopback, which marks them
/// CHECKSUM_UNNECESSARY): nothing on the way can corrupt them.
void ipv4_input(std::span<const ostd::u8> p, bool loopback);
/// An IPv6 packet a device received (net/ip6.cpp, with net_lock held); `loopback` as above.
void ipv6_input(std::span<const ostd::u8> p, bool loopback);
/// Whether a packet to `dst` stays on this host (goes through lo): its TCP or UDP checksum is
/// left out.
inline bool checksum_unneeded(const IpAddr& dst) { return is_local_address(dst); }

/// The stack's lock: every socket table and queue of AF_INET and AF_INET6 is under it.
ostd::Mutex& net_lock();
/// Sends an IPv4 packet with this payload (called with net_lock held; delivery happens later in
/// net_process_backlog). EMSGSIZE past 65535 bytes, ENETUNREACH without a route.
ostd::Result<void> ipv4_output(ostd::u32 src, ostd::u32 dst, ostd::u8 proto, std::span<const ostd::u8> payload,
                               ostd::u8 ttl, ostd::u8 tos);
/// Sends an IPv6 packet (net/ip6.cpp): EMSGSIZE past 65535 bytes of payload or the link's MTU
/// (no fragmentation at the source yet), ENETUNREACH without a route.
ostd::Result<void> ipv6_output(const IpAddr& src, const IpAddr& dst, ostd::u8 proto, std::span<const ostd::u8> payload,
                               ostd::u8 hop_limit, ostd::u8 tclass);
/// An IPv6 packet (its fixed header and `payload`; no extension headers).
std::vector<ostd::u8> ipv6_packet(const IpAddr& src, const IpAddr& dst, ostd::u8 next_header,
                                  std::span<const ostd::u8> payload, ostd::u8 hop_limit, ostd::u8 tclass);
/// Either, by the destination's version (`ttl` and `tos` are the hop limit and traffic class
/// for IPv6).
ostd::Result<void> ip_output(const IpAddr& src, const IpAddr& dst, ostd::u8 proto, std::span<const ostd::u8> payload,
                             ostd::u8 ttl, ostd::u8 tos);
/// Queues a packet on lo (called with net_lock held): net_process_backlog delivers it.
void loopback_enqueue(NetInterface& lo, std::vector<ostd::u8> packet);
/// Delivers what the devices received (takes net_lock itself). Called after every send.
void net_process_backlog();
/// Statistics of dropped input (bad headers, checksums, no socket), for /proc/net/snmp.
struct NetCounters {
  ostd::u64 ip_in_receives = 0, ip_in_hdr_errors = 0, ip_in_delivers = 0, ip_out_requests = 0;
  ostd::u64 udp_in_datagrams = 0, udp_no_ports = 0, udp_in_errors = 0, udp_out_datagrams = 0;
  ostd::u64 icmp_in_msgs = 0, icmp_out_msgs = 0, icmp_in_errors = 0;
  ostd::u64 reasm_reqds = 0, reasm_oks = 0, reasm_fails = 0, frag_oks = 0, frag_creates = 0;
  ostd::u64 tcp_listen_overflows = 0, tcp_listen_drops = 0;
  ostd::u64 ip6_in_receives = 0, ip6_in_hdr_errors = 0, ip6_in_delivers = 0, ip6_out_requests = 0;
  ostd::u64 icmp6_in_msgs = 0, icmp6_in_errors = 0, icmp6_out_msgs = 0;
};
NetCounters& net_counters();

/// The IP-level options of a TCP or UDP socket (SOL_IP, and SOL_IPV6 on AF_INET6 sockets).
struct IpOptions {
  ostd::u8 ttl = 64, tos = 0;
  ostd::u8 mcast_ttl = 1;
  bool mcast_loop = true;
  ostd::i32 hop_limit = -1;   // IPV6_UNICAST_HOPS (-1: the route's, 64)
  ostd::i32 mcast_hops = -1;  // IPV6_MULTICAST_HOPS (-1: 1)
  bool mcast_loop6 = true;
  ostd::u8 tclass = 0;
  bool v6only = false;  // net.ipv6.bindv6only
  ostd::i32 mcast_if6 = 0;
  std::vector<std::pair<IpAddr, ostd::u32>> groups;  // multicast groups joined (group, interface)

  /// The hop limit and traffic class (TTL, TOS) of a packet to `dst`.
  ostd::u8 hops_to(const IpAddr& dst) const;
  ostd::u8 tos_to(const IpAddr& dst) const { return dst.is_v4() ? tos : tclass; }
};
/// setsockopt at SOL_IP (0) or SOL_IPV6 (41) on a TCP or UDP socket of `family` and `type`;
/// `has_port`: the socket has a port (IPV6_V6ONLY can no longer change). ENOPROTOOPT for other
/// levels and names, EPROTO for multicast memberships on a stream socket. Called with net_lock
/// held.
ostd::Result<void> set_ip_option(IpOptions& o, int family, int type, bool has_port, int level, int name,
                                 std::span<const ostd::u8> val);
ostd::Result<std::vector<ostd::u8>> get_ip_option(const IpOptions& o, int family, int level, int name);

// Transport entry points (net/udp.cpp), called with net_lock held.
/// A UDP datagram for this host; false when no socket took it (the caller answers ICMP port
/// unreachable).
bool udp_input(const IpAddr& src, const IpAddr& dst, std::span<const ostd::u8> udp, bool loopback);
/// An ICMP error about a UDP datagram this host sent (the quoted header is the original's).
void udp_error(const IpAddr& orig_src, const IpAddr& orig_dst, std::span<const ostd::u8> quoted_udp, int err);

/// An ICMP or ICMPv6 error about a TCP segment this host sent (the quoted bytes are the start of
/// its TCP header): a connection being opened fails with `err`; an open one keeps it as its
/// soft error, reported if it then times out (tcp_v4_err / tcp_v6_err).
void tcp_error(const IpAddr& orig_src, const IpAddr& orig_dst, std::span<const ostd::u8> quoted_tcp, int err);
/// icmp_err_convert: the errno an ICMP destination-unreachable code means (port unreachable is
/// ECONNREFUSED, host unreachable EHOSTUNREACH, ...).
int icmp_unreach_errno(ostd::u8 code);
/// A TCP segment for this host (net/tcp.cpp; answers a reset when no socket takes it).
void tcp_input(const IpAddr& src, const IpAddr& dst, std::span<const ostd::u8> segment, bool loopback);
/// socket(AF_INET or AF_INET6, SOCK_STREAM, 0 / IPPROTO_TCP).
ostd::Result<std::shared_ptr<Socket>> make_tcp_socket(Thread& self, int family, ostd::u32 flags);
/// /proc/net/tcp's (tcp6's, for `family` AF_INET6) lines after its header.
std::string proc_net_tcp_lines(int family);

/// The receive queue of a datagram socket (UDP, raw ICMP): datagrams with their senders,
/// charged against SO_RCVBUF as Linux charges an skb's truesize (net/addr.cpp). Under net_lock().
class DatagramQueue {
 public:
  /// Queues a datagram; false (dropped, counted) when `rcvbuf` has no room for it.
  bool push(std::vector<ostd::u8> data, const InetEndpoint& from, ostd::usize rcvbuf);
  bool empty() const { return q_.empty(); }
  ostd::usize front_size() const { return q_.empty() ? 0 : q_.front().data.size(); }
  ostd::usize charged() const { return charge_; }
  ostd::u64 drops() const { return drops_; }
  /// recvmsg of the first datagram (nonempty queue): into `out`, MSG_TRUNC when it did not fit
  /// (and its whole length with the MSG_TRUNC flag), kept with MSG_PEEK; the sender as a
  /// socket of `family` names it. EFAULT when `out` faulted (the datagram is consumed anyway).
  ostd::Result<RecvResult> take(ByteSink& out, ostd::u32 flags, int family);

 private:
  struct Datagram {
    std::vector<ostd::u8> data;
    InetEndpoint from;
  };
  std::deque<Datagram> q_;
  ostd::usize charge_ = 0;
  ostd::u64 drops_ = 0;
};

/// What UDP and raw ICMP sockets share, as Linux's inet_dgram_ops and datagram_poll (net/addr.cpp):
/// the receive queue, a pending error (ICMP's, on a connected socket), the shutdown bits, the
/// wait queue, and the calls that need nothing else.
class DatagramSocket : public Socket {
 public:
  using Socket::Socket;
  ostd::WaitQueue* poll_queue() override { return &queue_; }
  /// The first datagram (waiting for one as the flags and SO_RCVTIMEO say), else the pending
  /// error, else end of file after shutdown(SHUT_RD).
  ostd::Result<RecvResult> recvmsg(Thread& self, ByteSink& out, ostd::u32 flags) override;
  /// inet_shutdown: an unconnected socket is ENOTCONN, yet the bits are set (pollers wake).
  ostd::Result<void> shutdown(int how) override;
  int take_error() override;
  ostd::Result<int> bytes_readable() override;
  ostd::u32 poll_events() override;

 protected:
  /// Whether connect(2) gave it a peer (net_lock held).
  virtual bool connected() const = 0;

  DatagramQueue rx_;
  int err_ = 0;
  ostd::u32 shutdown_ = 0;
  ostd::WaitQueue queue_;
};

/// socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) or (AF_INET6, SOCK_RAW, IPPROTO_ICMPV6) (net/raw.cpp):
/// EPERM without CAP_NET_RAW, EPROTONOSUPPORT for another protocol.
ostd::Result<std::shared_ptr<Socket>> make_raw_socket(Thread& self, int family, int protocol, ostd::u32 flags);
/// An ICMP message this host received, for the raw sockets of its family (net_lock held):
/// `bytes` as they read it (IPv4: with the IP header), `type` its ICMP type.
void raw_deliver(const IpAddr& src, const IpAddr& dst, ostd::u8 type, std::span<const ostd::u8> bytes);

/// socket(AF_INET or AF_INET6, SOCK_DGRAM, 0 / IPPROTO_UDP).
ostd::Result<std::shared_ptr<Socket>> make_udp_socket(Thread& self, int family, ostd::u32 flags);
/// /proc/net/udp's (udp6's) lines after its header.
std::string proc_net_udp_lines(int family);

}  // namespace services
