// services/net/inet.h — the IPv4 stack's shared pieces: addresses, wire-format helpers, the
// interfaces (the loopback one today), and the entry points the transport protocols use.
//
// Packets are byte vectors in network order, built and parsed field by field (no overlays), so
// a hostile packet is only ever a short or inconsistent byte string: every parser checks
// lengths before it reads. The stack runs under one lock (net_lock()); a device's received
// packets wait in a backlog that net_process_backlog() drains outside any socket operation, as
// Linux's netif_rx and its softirq.
#pragma once

#include <array>
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

/// An IPv4 endpoint in host order.
struct InetEndpoint {
  ostd::u32 addr = 0;
  ostd::u16 port = 0;
  bool operator==(const InetEndpoint&) const = default;
};

/// An endpoint as /proc/net/{tcp,udp} print it: the address's bytes in memory order, then the
/// port ("0100007F:0016" for 127.0.0.1:22 on a little-endian machine).
std::string proc_net_endpoint(const InetEndpoint& e);

/// sockaddr_in <-> endpoint. parse: EINVAL when shorter than sockaddr_in, EAFNOSUPPORT for
/// another family (AF_UNSPEC with INADDR_ANY passes where `unspec_any_ok`, as inet_bind).
ostd::Result<InetEndpoint> parse_sockaddr_in(std::span<const ostd::u8> a, bool unspec_any_ok);
std::vector<ostd::u8> sockaddr_in_bytes(const InetEndpoint& e);
/// The family field of a raw sockaddr (0 when too short).
int sockaddr_family(std::span<const ostd::u8> a);

// Big-endian fields.
void put16(std::vector<ostd::u8>& p, ostd::usize at, ostd::u16 v);
void put32(std::vector<ostd::u8>& p, ostd::usize at, ostd::u32 v);
ostd::u16 get16(std::span<const ostd::u8> p, ostd::usize at);
ostd::u32 get32(std::span<const ostd::u8> p, ostd::usize at);
/// The Internet checksum (RFC 1071) of `data`, continuing from `sum`.
ostd::u32 checksum_add(ostd::u32 sum, std::span<const ostd::u8> data);
ostd::u16 checksum_fold(ostd::u32 sum);
/// The checksum of a TCP or UDP segment over its pseudo-header (RFC 768, RFC 9293 3.1): the
/// value for the checksum field when that field is zero, and 0 for a segment that checks.
ostd::u16 transport_checksum(ostd::u32 src, ostd::u32 dst, ostd::u8 proto, std::span<const ostd::u8> segment);

inline constexpr ostd::u32 kIffUp = 0x1, kIffBroadcast = 0x2, kIffLoopback = 0x8, kIffRunning = 0x40,
                           kIffMulticast = 0x1000, kIffLowerUp = 0x10000;

/// A network interface (net/netif.cpp): lo, and eth0 on the backend's NIC. Under net_lock().
struct NetInterface {
  int index = 0;
  std::string name;
  ostd::u32 flags = 0;  // IFF_*
  std::array<ostd::u8, 6> mac{};
  ostd::u32 mtu = 0;
  ostd::u32 addr = 0, gateway = 0;  // host order
  ostd::u8 prefix = 0;
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
/// /proc/net/dev, /proc/net/route, /proc/net/arp.
std::string proc_net_dev();
std::string proc_net_route();
std::string proc_net_arp();

/// Whether `addr` is one of this host's addresses (127/8, the interfaces' addresses).
bool is_local_address(ostd::u32 addr);
/// Where a packet to `dst` goes: the interface, the next hop, the source address to use.
struct Route {
  NetInterface* dev;
  ostd::u32 next_hop;
  ostd::u32 src;
};
/// ENETUNREACH without a route.
ostd::Result<Route> route_lookup(ostd::u32 dst);
/// The source address for a packet to `dst`; ENETUNREACH without a route.
ostd::Result<ostd::u32> route_source(ostd::u32 dst);
/// The same for a socket bound to `bound` (INADDR_ANY: chosen by the route); EINVAL when a
/// loopback address would leave through a real interface.
ostd::Result<ostd::u32> route_source_from(ostd::u32 bound, ostd::u32 dst);
/// Hands an IPv4 packet to a non-loopback interface (ARP first where needed).
void interface_output(const Route& r, std::vector<ostd::u8> packet);
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
/// Whether a packet to `dst` stays on this host (goes through lo): its TCP or UDP checksum is
/// left out.
inline bool checksum_unneeded(ostd::u32 dst) { return is_local_address(dst); }

/// The stack's lock: every socket table and queue of AF_INET is under it.
ostd::Mutex& net_lock();
/// Sends an IPv4 packet with this payload (called with net_lock held; delivery happens later in
/// net_process_backlog). EMSGSIZE past 65535 bytes, ENETUNREACH without a route.
ostd::Result<void> ipv4_output(ostd::u32 src, ostd::u32 dst, ostd::u8 proto, std::span<const ostd::u8> payload,
                               ostd::u8 ttl, ostd::u8 tos);
/// Delivers what the devices received (takes net_lock itself). Called after every send.
void net_process_backlog();
/// Statistics of dropped input (bad headers, checksums, no socket), for /proc/net/snmp.
struct NetCounters {
  ostd::u64 ip_in_receives = 0, ip_in_hdr_errors = 0, ip_in_delivers = 0, ip_out_requests = 0;
  ostd::u64 udp_in_datagrams = 0, udp_no_ports = 0, udp_in_errors = 0, udp_out_datagrams = 0;
  ostd::u64 icmp_in_msgs = 0, icmp_out_msgs = 0, icmp_in_errors = 0;
  ostd::u64 reasm_reqds = 0, reasm_oks = 0, reasm_fails = 0, frag_oks = 0, frag_creates = 0;
  ostd::u64 tcp_listen_overflows = 0, tcp_listen_drops = 0;
};
NetCounters& net_counters();

// Transport entry points (net/udp.cpp), called with net_lock held.
/// A UDP datagram for this host; false when no socket took it (the caller answers ICMP port
/// unreachable).
bool udp_input(ostd::u32 src, ostd::u32 dst, std::span<const ostd::u8> udp, bool loopback);
/// An ICMP error about a UDP datagram this host sent (the quoted header is the original's).
void udp_error(ostd::u32 orig_src, ostd::u32 orig_dst, std::span<const ostd::u8> quoted_udp, int err);

/// A TCP segment for this host (net/tcp.cpp; answers a reset when no socket takes it).
void tcp_input(ostd::u32 src, ostd::u32 dst, std::span<const ostd::u8> segment, bool loopback);
/// socket(AF_INET, SOCK_STREAM, 0 / IPPROTO_TCP).
ostd::Result<std::shared_ptr<Socket>> make_tcp_socket(Thread& self, ostd::u32 flags);
/// /proc/net/tcp's lines after its header.
std::string proc_net_tcp_lines();

/// socket(AF_INET, SOCK_DGRAM, 0 / IPPROTO_UDP).
ostd::Result<std::shared_ptr<Socket>> make_udp_socket(Thread& self, ostd::u32 flags);
/// /proc/net/udp's lines after its header.
std::string proc_net_udp_lines();

}  // namespace services
