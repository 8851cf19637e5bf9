/* IPv6 sockets over loopback ::1: AF_INET6 TCP and UDP, options (V6ONLY, hop limits, traffic
 * class), bind errors, the addresses getsockname/getpeername/recvfrom report, dual stack
 * (IPv4-mapped addresses both ways, port sharing between the families, V6ONLY refusing IPv4),
 * ICMPv6 port unreachable on a connected UDP socket, and /proc/net/{if_inet6,tcp6,udp6}.
 * Output is compared line by line with a native run. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "abi_check.h"

static struct sockaddr_in6 sin6_of(const char* ip, unsigned short port) {
  struct sockaddr_in6 a;
  memset(&a, 0, sizeof(a));
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &a.sin6_addr);
  return a;
}

static struct sockaddr_in sin_of(const char* ip, unsigned short port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

#define SA(a) ((struct sockaddr*)&(a))

/* A socket whose receives, sends and connects give up after two seconds. */
static int sock(int family, int type, int only) {
  int s = socket(family, type, 0);
  struct timeval tv = {2, 0};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (only >= 0) setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &only, sizeof(only));
  return s;
}

/* The local port of a socket of either family. */
static unsigned short port_of(int s) {
  struct sockaddr_in6 a;
  socklen_t l = sizeof(a);
  if (getsockname(s, SA(a), &l) != 0) return 0;
  return a.sin6_family == AF_INET ? ntohs(((struct sockaddr_in*)&a)->sin_port) : ntohs(a.sin6_port);
}

/* A socket bound to ip, port 0 (ephemeral); listening if TCP. */
static int bound6(int type, const char* ip, int only) {
  int s = sock(AF_INET6, type, only);
  struct sockaddr_in6 a = sin6_of(ip, 0);
  if (bind(s, SA(a), sizeof(a)) != 0 || (type == SOCK_STREAM && listen(s, 8) != 0)) return -1;
  return s;
}

static int bound4(int type, const char* ip) {
  int s = sock(AF_INET, type, -1);
  struct sockaddr_in a = sin_of(ip, 0);
  if (bind(s, SA(a), sizeof(a)) != 0 || (type == SOCK_STREAM && listen(s, 8) != 0)) return -1;
  return s;
}

static int accept_within(int l) {
  struct pollfd p = {l, POLLIN, 0};
  return poll(&p, 1, 2000) == 1 ? accept(l, NULL, NULL) : -1;
}

/* getsockname (peer 0) or getpeername (peer 1) is a 28-byte AF_INET6 ip, no flow, no scope. */
static int name6(int s, int peer, const char* ip, unsigned short* port) {
  struct sockaddr_in6 a, want = sin6_of(ip, 0);
  memset(&a, 0xAA, sizeof(a));
  socklen_t l = sizeof(a);
  if ((peer ? getpeername(s, SA(a), &l) : getsockname(s, SA(a), &l)) != 0) return 0;
  if (port) *port = ntohs(a.sin6_port);
  return l == sizeof(a) && a.sin6_family == AF_INET6 && a.sin6_flowinfo == 0 && a.sin6_scope_id == 0 &&
         memcmp(&a.sin6_addr, &want.sin6_addr, 16) == 0;
}

static int name4(int s, int peer, const char* ip, unsigned short* port) {
  struct sockaddr_in a;
  socklen_t l = sizeof(a);
  if ((peer ? getpeername(s, SA(a), &l) : getsockname(s, SA(a), &l)) != 0) return 0;
  if (port) *port = ntohs(a.sin_port);
  return l == sizeof(a) && a.sin_family == AF_INET && a.sin_addr.s_addr == inet_addr(ip);
}

static int intopt(int s, int level, int name) {
  int v = -99;
  socklen_t l = sizeof(v);
  return getsockopt(s, level, name, &v, &l) == 0 && l == sizeof(v) ? v : -99;
}

static int setint(int s, int level, int name, int v) { return setsockopt(s, level, name, &v, sizeof(v)); }

static void options(void) {
  int t = socket(AF_INET6, SOCK_STREAM, 0), u = socket(AF_INET6, SOCK_DGRAM, 0);
  CHECK("socket AF_INET6 stream", t >= 0);
  CHECK("socket AF_INET6 dgram", u >= 0);
  CHECK("stream SO_DOMAIN is AF_INET6", intopt(t, SOL_SOCKET, SO_DOMAIN) == AF_INET6);
  CHECK("dgram SO_DOMAIN is AF_INET6", intopt(u, SOL_SOCKET, SO_DOMAIN) == AF_INET6);
  CHECK("dgram SO_PROTOCOL is udp", intopt(u, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_UDP);
  CHECK("IPV6_V6ONLY default 0", intopt(t, IPPROTO_IPV6, IPV6_V6ONLY) == 0);
  CHECK("IPV6_V6ONLY set 1", setint(t, IPPROTO_IPV6, IPV6_V6ONLY, 1) == 0 && intopt(t, IPPROTO_IPV6, IPV6_V6ONLY) == 1);
  CHECK("IPV6_V6ONLY set 0", setint(t, IPPROTO_IPV6, IPV6_V6ONLY, 0) == 0 && intopt(t, IPPROTO_IPV6, IPV6_V6ONLY) == 0);
  CHECK("IPV6_UNICAST_HOPS default 64", intopt(u, IPPROTO_IPV6, IPV6_UNICAST_HOPS) == 64);
  CHECK("IPV6_UNICAST_HOPS 255",
        setint(u, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 255) == 0 && intopt(u, IPPROTO_IPV6, IPV6_UNICAST_HOPS) == 255);
  CHECK("IPV6_UNICAST_HOPS -1 restores 64",
        setint(u, IPPROTO_IPV6, IPV6_UNICAST_HOPS, -1) == 0 && intopt(u, IPPROTO_IPV6, IPV6_UNICAST_HOPS) == 64);
  CHECK_ERRNO("IPV6_UNICAST_HOPS 256", setint(u, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 256), EINVAL);
  CHECK_ERRNO("IPV6_UNICAST_HOPS -2", setint(u, IPPROTO_IPV6, IPV6_UNICAST_HOPS, -2), EINVAL);
  CHECK("IPV6_MULTICAST_HOPS default 1", intopt(u, IPPROTO_IPV6, IPV6_MULTICAST_HOPS) == 1);
  CHECK("IPV6_MULTICAST_LOOP default 1", intopt(u, IPPROTO_IPV6, IPV6_MULTICAST_LOOP) == 1);
  CHECK("IPV6_TCLASS default 0", intopt(t, IPPROTO_IPV6, IPV6_TCLASS) == 0);
  int v4 = socket(AF_INET, SOCK_STREAM, 0);
  CHECK_ERRNO("IPV6_V6ONLY on an AF_INET socket", setint(v4, IPPROTO_IPV6, IPV6_V6ONLY, 1), ENOPROTOOPT);
  close(v4);
  struct sockaddr_in6 a;
  memset(&a, 0xAA, sizeof(a));
  socklen_t l = sizeof(a);
  CHECK("unbound getsockname is [::]:0", getsockname(u, SA(a), &l) == 0 && l == sizeof(a) &&
                                             a.sin6_family == AF_INET6 && a.sin6_port == 0 &&
                                             IN6_IS_ADDR_UNSPECIFIED(&a.sin6_addr));
  a = sin6_of("::1", 0);
  CHECK("bind ::1", bind(u, SA(a), sizeof(a)) == 0);
  CHECK_ERRNO("IPV6_V6ONLY after bind", setint(u, IPPROTO_IPV6, IPV6_V6ONLY, 1), EINVAL);
  close(t);
  close(u);
}

static void bind_errors(void) {
  int s = socket(AF_INET6, SOCK_STREAM, 0);
  struct sockaddr_in6 a = sin6_of("::1", 0);
  CHECK_ERRNO("bind addrlen 20", bind(s, SA(a), 20), EINVAL);
  struct sockaddr_in a4 = sin_of("127.0.0.1", 0);
  CHECK_ERRNO("bind sockaddr_in (16 bytes) to AF_INET6", bind(s, SA(a4), sizeof(a4)), EINVAL);
  struct sockaddr_in6 big;
  memset(&big, 0, sizeof(big));
  memcpy(&big, &a4, sizeof(a4));
  CHECK_ERRNO("bind AF_INET family to AF_INET6", bind(s, SA(big), sizeof(big)), EAFNOSUPPORT);
  a = sin6_of("2001:db8::1", 0);
  CHECK_ERRNO("bind 2001:db8::1", bind(s, SA(a), sizeof(a)), EADDRNOTAVAIL);
  a = sin6_of("fe80::1", 0);
  CHECK_ERRNO("bind fe80::1 without scope id", bind(s, SA(a), sizeof(a)), EINVAL);
  a = sin6_of("ff0e::1", 0);
  CHECK_ERRNO("bind TCP to multicast ff0e::1", bind(s, SA(a), sizeof(a)), EINVAL);
  int u = socket(AF_INET6, SOCK_DGRAM, 0);
  CHECK("bind UDP to multicast ff0e::1", bind(u, SA(a), sizeof(a)) == 0);
  close(u);
  a = sin6_of("::ffff:127.0.0.1", 0);
  setint(s, IPPROTO_IPV6, IPV6_V6ONLY, 1);
  CHECK_ERRNO("bind ::ffff:127.0.0.1 V6ONLY", bind(s, SA(a), sizeof(a)), EINVAL);
  setint(s, IPPROTO_IPV6, IPV6_V6ONLY, 0);
  a = sin6_of("::1", 0);
  CHECK("bind 24-byte sockaddr_in6", bind(s, SA(a), 24) == 0 && port_of(s) != 0);
  CHECK_ERRNO("bind a bound socket", bind(s, SA(a), sizeof(a)), EINVAL);
  close(s);
  s = socket(AF_INET6, SOCK_STREAM, 0);
  a = sin6_of("::ffff:127.0.0.1", 0);
  CHECK("bind ::ffff:127.0.0.1 dual stack", bind(s, SA(a), sizeof(a)) == 0 && name6(s, 0, "::ffff:127.0.0.1", NULL));
  close(s);
}

static void tcp_loopback(void) {
  char buf[16];
  int l = bound6(SOCK_STREAM, "::1", -1);
  unsigned short lp = 0, p1 = 0, p2 = 0, p3 = 0, p4 = 0;
  CHECK("listen on ::1", l >= 0 && name6(l, 0, "::1", &lp) && lp != 0);
  int c = sock(AF_INET6, SOCK_STREAM, -1);
  struct sockaddr_in6 to = sin6_of("::1", lp);
  CHECK("connect ::1", connect(c, SA(to), sizeof(to)) == 0);
  int a = accept_within(l);
  CHECK("accept ::1", a >= 0);
  CHECK("client getsockname ::1", name6(c, 0, "::1", &p1) && p1 != 0);
  CHECK("client getpeername ::1 at the listener's port", name6(c, 1, "::1", &p2) && p2 == lp);
  CHECK("accepted getsockname ::1 at the listener's port", name6(a, 0, "::1", &p3) && p3 == lp);
  CHECK("accepted getpeername is the client's port", name6(a, 1, "::1", &p4) && p4 == p1);
  struct sockaddr_in6 n;
  socklen_t nl = sizeof(struct sockaddr_in);
  CHECK("getpeername truncates, reports 28", getpeername(c, SA(n), &nl) == 0 && nl == 28 && n.sin6_family == AF_INET6);
  CHECK("send client to server",
        send(c, "hello", 5, 0) == 5 && recv(a, buf, sizeof(buf), 0) == 5 && memcmp(buf, "hello", 5) == 0);
  CHECK("send server to client",
        send(a, "hello", 5, 0) == 5 && recv(c, buf, sizeof(buf), 0) == 5 && memcmp(buf, "hello", 5) == 0);
  CHECK("shutdown SHUT_WR", shutdown(c, SHUT_WR) == 0);
  CHECK("peer reads end of file", recv(a, buf, sizeof(buf), 0) == 0);
  CHECK("half-closed client still receives", send(a, "back", 4, 0) == 4 && recv(c, buf, sizeof(buf), 0) == 4);
  close(a);
  close(c);
  // [::] as a destination means this host: it reaches the listener on ::1.
  c = sock(AF_INET6, SOCK_STREAM, -1);
  to = sin6_of("::", lp);
  CHECK("connect [::] reaches ::1", connect(c, SA(to), sizeof(to)) == 0 && name6(c, 1, "::1", &p2) && p2 == lp);
  a = accept_within(l);
  CHECK("accept from [::] connect", a >= 0 && name6(a, 1, "::1", NULL));
  close(a);
  close(c);
  // A bound port nobody listens on: refused.
  int b = sock(AF_INET6, SOCK_STREAM, -1);
  to = sin6_of("::1", 0);
  bind(b, SA(to), sizeof(to));
  to.sin6_port = htons(port_of(b));
  c = sock(AF_INET6, SOCK_STREAM, -1);
  CHECK_ERRNO("connect ::1 closed port", connect(c, SA(to), sizeof(to)), ECONNREFUSED);
  close(c);
  close(b);
  close(l);
}

static void dual_stack(void) {
  char buf[16];
  unsigned short lp = 0, p = 0, cp = 0;
  int l = bound6(SOCK_STREAM, "::", 0);
  CHECK("listen on [::] dual stack", l >= 0 && name6(l, 0, "::", &lp) && lp != 0);
  int c = sock(AF_INET, SOCK_STREAM, -1);
  struct sockaddr_in to4 = sin_of("127.0.0.1", lp);
  CHECK("AF_INET connect to [::] listener", connect(c, SA(to4), sizeof(to4)) == 0);
  int a = accept_within(l);
  CHECK("accept IPv4 on AF_INET6 listener", a >= 0);
  struct sockaddr_in6 n;
  socklen_t nl = sizeof(n);
  CHECK("accepted peer is v4-mapped",
        getpeername(a, SA(n), &nl) == 0 && nl == 28 && n.sin6_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&n.sin6_addr));
  CHECK("accepted peer ::ffff:127.0.0.1 at the client's port",
        name6(a, 1, "::ffff:127.0.0.1", &p) && name4(c, 0, "127.0.0.1", &cp) && p == cp);
  CHECK("accepted name ::ffff:127.0.0.1 at the listener's port", name6(a, 0, "::ffff:127.0.0.1", &p) && p == lp);
  CHECK("v4-mapped data", send(c, "hi4", 3, 0) == 3 && recv(a, buf, sizeof(buf), 0) == 3 && send(a, "hi6", 3, 0) == 3 &&
                              recv(c, buf, sizeof(buf), 0) == 3 && memcmp(buf, "hi6", 3) == 0);
  close(a);
  close(c);
  close(l);
  // An AF_INET6 client reaching an AF_INET listener through ::ffff:127.0.0.1.
  l = bound4(SOCK_STREAM, "127.0.0.1");
  lp = port_of(l);
  c = sock(AF_INET6, SOCK_STREAM, -1);
  struct sockaddr_in6 to = sin6_of("::ffff:127.0.0.1", lp);
  CHECK("AF_INET6 connect ::ffff:127.0.0.1", connect(c, SA(to), sizeof(to)) == 0);
  a = accept_within(l);
  CHECK("AF_INET listener accepts it", a >= 0);
  CHECK("mapped client getsockname ::ffff:127.0.0.1", name6(c, 0, "::ffff:127.0.0.1", &cp));
  CHECK("mapped client getpeername ::ffff:127.0.0.1", name6(c, 1, "::ffff:127.0.0.1", &p) && p == lp);
  CHECK("AF_INET accepted peer is 127.0.0.1", name4(a, 1, "127.0.0.1", &p) && p == cp);
  CHECK("mapped client data", send(c, "x", 1, 0) == 1 && recv(a, buf, sizeof(buf), 0) == 1);
  close(a);
  close(c);
  close(l);
}

static void port_sharing(void) {
  unsigned short p;
  int s6 = bound6(SOCK_STREAM, "::", 0), s4 = sock(AF_INET, SOCK_STREAM, -1);
  struct sockaddr_in a4 = sin_of("0.0.0.0", p = port_of(s6));
  CHECK_ERRNO("0.0.0.0 after [::] dual stack", bind(s4, SA(a4), sizeof(a4)), EADDRINUSE);
  a4 = sin_of("127.0.0.1", p);
  CHECK_ERRNO("127.0.0.1 after [::] dual stack", bind(s4, SA(a4), sizeof(a4)), EADDRINUSE);
  close(s6);
  close(s4);
  s4 = sock(AF_INET, SOCK_STREAM, -1);
  a4 = sin_of("0.0.0.0", 0);
  bind(s4, SA(a4), sizeof(a4));
  s6 = sock(AF_INET6, SOCK_STREAM, 0);
  struct sockaddr_in6 a6 = sin6_of("::", port_of(s4));
  CHECK_ERRNO("[::] dual stack after 0.0.0.0", bind(s6, SA(a6), sizeof(a6)), EADDRINUSE);
  CHECK("[::] V6ONLY after 0.0.0.0",
        setint(s6, IPPROTO_IPV6, IPV6_V6ONLY, 1) == 0 && bind(s6, SA(a6), sizeof(a6)) == 0);
  close(s6);
  close(s4);
  // A V6ONLY listener on [::]:P, and an AF_INET socket holding 0.0.0.0:P without listening.
  int l = bound6(SOCK_STREAM, "::", 1);
  p = port_of(l);
  s4 = sock(AF_INET, SOCK_STREAM, -1);
  a4 = sin_of("0.0.0.0", p);
  CHECK("0.0.0.0 after [::] V6ONLY", bind(s4, SA(a4), sizeof(a4)) == 0);
  int c = sock(AF_INET, SOCK_STREAM, -1);
  a4 = sin_of("127.0.0.1", p);
  CHECK_ERRNO("V6ONLY listener refuses IPv4", connect(c, SA(a4), sizeof(a4)), ECONNREFUSED);
  close(c);
  c = sock(AF_INET6, SOCK_STREAM, 0);
  a6 = sin6_of("::ffff:127.0.0.1", p);
  CHECK_ERRNO("V6ONLY listener refuses v4-mapped", connect(c, SA(a6), sizeof(a6)), ECONNREFUSED);
  close(c);
  c = sock(AF_INET6, SOCK_STREAM, -1);
  a6 = sin6_of("::1", p);
  int a;
  CHECK("V6ONLY listener accepts ::1",
        connect(c, SA(a6), sizeof(a6)) == 0 && (a = accept_within(l)) >= 0 && close(a) == 0);
  close(c);
  close(s4);
  close(l);
  l = bound4(SOCK_STREAM, "127.0.0.1");
  c = sock(AF_INET6, SOCK_STREAM, 1);
  a6 = sin6_of("::ffff:127.0.0.1", port_of(l));
  CHECK_ERRNO("V6ONLY connect ::ffff:127.0.0.1", connect(c, SA(a6), sizeof(a6)), ENETUNREACH);
  close(c);
  close(l);
  c = sock(AF_INET6, SOCK_STREAM, -1);
  a6 = sin6_of("ff02::1", 47001);
  CHECK_ERRNO("TCP connect ff02::1", connect(c, SA(a6), sizeof(a6)), ENETUNREACH);
  close(c);
}

static void udp(void) {
  char buf[16];
  int r = bound6(SOCK_DGRAM, "::1", -1), s = bound6(SOCK_DGRAM, "::1", -1);
  unsigned short p = 0;
  struct sockaddr_in6 to = sin6_of("::1", port_of(r)), from;
  CHECK("udp sendto ::1", sendto(s, "hello", 5, 0, SA(to), sizeof(to)) == 5);
  memset(&from, 0xAA, sizeof(from));
  socklen_t fl = sizeof(from);
  CHECK("udp recvfrom ::1", recvfrom(r, buf, sizeof(buf), 0, SA(from), &fl) == 5 && memcmp(buf, "hello", 5) == 0);
  CHECK("udp sender address", fl == 28 && from.sin6_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&from.sin6_addr) &&
                                  ntohs(from.sin6_port) == port_of(s) && from.sin6_flowinfo == 0 &&
                                  from.sin6_scope_id == 0);
  // An AF_INET6 socket sending to IPv4, with a sockaddr_in and with a v4-mapped address.
  int r4 = bound4(SOCK_DGRAM, "127.0.0.1"), m = sock(AF_INET6, SOCK_DGRAM, -1);
  struct sockaddr_in to4 = sin_of("127.0.0.1", port_of(r4)), f4;
  CHECK("udp6 sendto sockaddr_in", sendto(m, "v4", 2, 0, SA(to4), sizeof(to4)) == 2);
  fl = sizeof(f4);
  CHECK("AF_INET receiver sees 127.0.0.1",
        recvfrom(r4, buf, sizeof(buf), 0, SA(f4), &fl) == 2 && fl == sizeof(f4) && f4.sin_family == AF_INET &&
            f4.sin_addr.s_addr == inet_addr("127.0.0.1") && ntohs(f4.sin_port) == port_of(m));
  struct sockaddr_in6 mapped = sin6_of("::ffff:127.0.0.1", port_of(r4));
  CHECK("udp6 sendto ::ffff:127.0.0.1",
        sendto(m, "map", 3, 0, SA(mapped), sizeof(mapped)) == 3 && recv(r4, buf, sizeof(buf), 0) == 3);
  // An AF_INET sender seen by a dual-stack [::] receiver.
  int any = bound6(SOCK_DGRAM, "::", 0);
  to4 = sin_of("127.0.0.1", port_of(any));
  fl = sizeof(from);
  CHECK("[::] receiver sees ::ffff:127.0.0.1",
        sendto(r4, "q", 1, 0, SA(to4), sizeof(to4)) == 1 && recvfrom(any, buf, sizeof(buf), 0, SA(from), &fl) == 1 &&
            fl == 28 && IN6_IS_ADDR_V4MAPPED(&from.sin6_addr) && ntohs(from.sin6_port) == port_of(r4));
  close(any);
  int o = sock(AF_INET6, SOCK_DGRAM, 1);
  to4 = sin_of("127.0.0.1", port_of(r4));
  CHECK_ERRNO("V6ONLY sendto sockaddr_in", sendto(o, "x", 1, 0, SA(to4), sizeof(to4)), ENETUNREACH);
  CHECK_ERRNO("V6ONLY sendto ::ffff:127.0.0.1", sendto(o, "x", 1, 0, SA(mapped), sizeof(mapped)), ENETUNREACH);
  close(o);
  close(m);
  close(r4);
  // Connected UDP: getpeername, then ICMPv6 port unreachable from a closed port.
  int c = sock(AF_INET6, SOCK_DGRAM, -1);
  CHECK("udp connect ::1", connect(c, SA(to), sizeof(to)) == 0 && name6(c, 1, "::1", &p) && p == port_of(r) &&
                               name6(c, 0, "::1", &p) && p != 0);
  close(c);
  int gone = bound6(SOCK_DGRAM, "::1", -1);
  struct sockaddr_in6 gone_addr = sin6_of("::1", port_of(gone));
  close(gone);
  int e = sock(AF_INET6, SOCK_DGRAM, -1);
  connect(e, SA(gone_addr), sizeof(gone_addr));
  CHECK("udp send to a closed port", send(e, "?", 1, 0) == 1);
  struct pollfd pf = {e, POLLIN, 0};
  CHECK("udp POLLERR after port unreachable", poll(&pf, 1, 2000) == 1 && (pf.revents & POLLERR));
  CHECK_ERRNO("udp recv ECONNREFUSED", recv(e, buf, sizeof(buf), MSG_DONTWAIT), ECONNREFUSED);
  struct sockaddr unspec = {AF_UNSPEC};
  CHECK("udp connect AF_UNSPEC", connect(e, &unspec, sizeof(unspec)) == 0);
  CHECK_ERRNO("udp send after disconnect", send(e, "x", 1, 0), EDESTADDRREQ);
  close(e);
  close(r);
  close(s);
}

static char procbuf[1 << 20];

static int proc_has(const char* path, const char* needle) {
  int fd = open(path, O_RDONLY);
  size_t n = 0;
  ssize_t k;
  if (fd < 0) return 0;
  while (n < sizeof(procbuf) - 1 && (k = read(fd, procbuf + n, sizeof(procbuf) - 1 - n)) > 0) n += k;
  close(fd);
  procbuf[n] = 0;
  return strstr(procbuf, needle) != NULL;
}

static void proc_net(void) {
  char want[128];
  CHECK("/proc/net/if_inet6 lo",
        proc_has("/proc/net/if_inet6", "00000000000000000000000000000001 01 80 10 80       lo\n"));
  int l = bound6(SOCK_STREAM, "::1", -1);
  snprintf(want, sizeof(want), "00000000000000000000000001000000:%04X 00000000000000000000000000000000:0000 0A ",
           port_of(l));
  CHECK("/proc/net/tcp6 listener on ::1", proc_has("/proc/net/tcp6", want));
  int u = bound6(SOCK_DGRAM, "::1", -1);
  snprintf(want, sizeof(want), "00000000000000000000000001000000:%04X 00000000000000000000000000000000:0000 07 ",
           port_of(u));
  CHECK("/proc/net/udp6 bound on ::1", proc_has("/proc/net/udp6", want));
  close(u);
  close(l);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  signal(SIGPIPE, SIG_IGN);
  options();
  bind_errors();
  tcp_loopback();
  dual_stack();
  port_sharing();
  udp();
  proc_net();
  return ABI_DONE();
}
