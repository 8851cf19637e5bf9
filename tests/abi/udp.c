/* UDP over IPv4 loopback: socket, bind (ports, addresses, sharing), connect and disconnect,
 * sendto/recvfrom with addresses, truncation, peeking, ICMP port unreachable reported to
 * connected sockets, options and readiness. Output is compared line by line with a native run. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "abi_check.h"

static struct sockaddr_in sin_of(const char* ip, unsigned short port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

static unsigned short port_of(int s) {
  struct sockaddr_in a;
  socklen_t l = sizeof(a);
  if (getsockname(s, (struct sockaddr*)&a, &l) != 0) return 0;
  return ntohs(a.sin_port);
}

static short revents(int fd, short events) {
  struct pollfd p = {fd, events, 0};
  return poll(&p, 1, 0) == 1 ? p.revents : 0;
}

/* A socket bound to 127.0.0.1 on an ephemeral port. */
static int bound_socket(void) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = sin_of("127.0.0.1", 0);
  bind(s, (struct sockaddr*)&a, sizeof(a));
  return s;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char buf[256];
  CHECK_ERRNO("udp with tcp protocol", socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP), EPROTONOSUPPORT);
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
  CHECK("socket", s >= 0 && fcntl(s, F_GETFD) == FD_CLOEXEC);
  int v = 0;
  socklen_t len = sizeof(v);
  CHECK("SO_TYPE", getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &len) == 0 && v == SOCK_DGRAM);
  CHECK("SO_PROTOCOL", getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &v, &len) == 0 && v == IPPROTO_UDP);
  CHECK("SO_DOMAIN", getsockopt(s, SOL_SOCKET, SO_DOMAIN, &v, &len) == 0 && v == AF_INET);
  CHECK("IP_TTL default", getsockopt(s, IPPROTO_IP, IP_TTL, &v, &len) == 0 && v == 64);
  v = 0;
  CHECK_ERRNO("IP_TTL 0", setsockopt(s, IPPROTO_IP, IP_TTL, &v, sizeof(v)), EINVAL);
  v = 9;
  CHECK("IP_TTL", setsockopt(s, IPPROTO_IP, IP_TTL, &v, sizeof(v)) == 0 &&
                      getsockopt(s, IPPROTO_IP, IP_TTL, &v, &len) == 0 && v == 9);
  struct sockaddr_in a;
  socklen_t la = sizeof(a);
  CHECK("unbound name",
        getsockname(s, (struct sockaddr*)&a, &la) == 0 && la == sizeof(a) && a.sin_port == 0 && a.sin_addr.s_addr == 0);
  CHECK_ERRNO("getpeername unconnected", (la = sizeof(a), getpeername(s, (struct sockaddr*)&a, &la)), ENOTCONN);
  CHECK_ERRNO("send unconnected", send(s, "x", 1, 0), EDESTADDRREQ);
  CHECK("a send binds a port, even a failing one", port_of(s) != 0);
  close(s);
  s = socket(AF_INET, SOCK_DGRAM, 0);
  a = sin_of("127.0.0.1", 0);
  CHECK_ERRNO("bind short", bind(s, (struct sockaddr*)&a, 8), EINVAL);
  a.sin_family = AF_UNIX;
  CHECK_ERRNO("bind wrong family", bind(s, (struct sockaddr*)&a, sizeof(a)), EAFNOSUPPORT);
  a = sin_of("10.9.8.7", 0);
  CHECK_ERRNO("bind foreign address", bind(s, (struct sockaddr*)&a, sizeof(a)), EADDRNOTAVAIL);
  a = sin_of("127.0.0.1", 0);
  CHECK("bind ephemeral", bind(s, (struct sockaddr*)&a, sizeof(a)) == 0);
  unsigned short port = port_of(s);
  CHECK("ephemeral port in range", port >= 32768 && port <= 60999);
  CHECK_ERRNO("bind again", bind(s, (struct sockaddr*)&a, sizeof(a)), EINVAL);
  int t = socket(AF_INET, SOCK_DGRAM, 0);
  a = sin_of("0.0.0.0", port);
  CHECK_ERRNO("port in use", bind(t, (struct sockaddr*)&a, sizeof(a)), EADDRINUSE);
  a = sin_of("127.0.0.2", port);
  CHECK("another loopback address shares the port", bind(t, (struct sockaddr*)&a, sizeof(a)) == 0);
  close(t);

  // Datagrams between two sockets, with the sender's address.
  int r = bound_socket();
  struct sockaddr_in to = sin_of("127.0.0.1", port_of(r));
  CHECK("sendto", sendto(s, "hello", 5, 0, (struct sockaddr*)&to, sizeof(to)) == 5);
  CHECK("readable", revents(r, POLLIN | POLLOUT) == (POLLIN | POLLOUT));
  int n = 0;
  CHECK("FIONREAD", ioctl(r, FIONREAD, &n) == 0 && n == 5);
  struct sockaddr_in from;
  socklen_t lf = sizeof(from);
  CHECK("recvfrom",
        recvfrom(r, buf, sizeof(buf), 0, (struct sockaddr*)&from, &lf) == 5 && memcmp(buf, "hello", 5) == 0);
  CHECK("sender's address", lf == sizeof(from) && from.sin_family == AF_INET && ntohs(from.sin_port) == port &&
                                from.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
  sendto(s, "abcdef", 6, 0, (struct sockaddr*)&to, sizeof(to));
  CHECK("peek", recv(r, buf, sizeof(buf), MSG_PEEK) == 6);
  struct iovec iov = {buf, 4};
  struct msghdr m = {0};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  CHECK("truncated", recvmsg(r, &m, 0) == 4 && (m.msg_flags & MSG_TRUNC));
  CHECK_ERRNO("rest dropped", recv(r, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
  sendto(s, "xyz", 3, 0, (struct sockaddr*)&to, sizeof(to));
  CHECK("MSG_TRUNC returns the length", recv(r, buf, 1, MSG_TRUNC) == 3);
  CHECK("empty datagram",
        sendto(s, buf, 0, 0, (struct sockaddr*)&to, sizeof(to)) == 0 && recv(r, buf, sizeof(buf), 0) == 0);
  static char big[65508];
  CHECK_ERRNO("too big", sendto(s, big, sizeof(big), 0, (struct sockaddr*)&to, sizeof(to)), EMSGSIZE);
  CHECK("largest",
        sendto(s, big, 65507, 0, (struct sockaddr*)&to, sizeof(to)) == 65507 && recv(r, big, sizeof(big), 0) == 65507);
  struct sockaddr_in zero = sin_of("127.0.0.1", 0);
  CHECK_ERRNO("sendto port 0", sendto(s, "x", 1, 0, (struct sockaddr*)&zero, sizeof(zero)), EINVAL);
  CHECK_ERRNO("sendto short address", sendto(s, "x", 1, 0, (struct sockaddr*)&to, 8), EINVAL);
  struct sockaddr_in far = sin_of("203.0.113.1", 9);
  CHECK_ERRNO("from a loopback address to the outside", sendto(s, "x", 1, 0, (struct sockaddr*)&far, sizeof(far)),
              EINVAL);
  CHECK_ERRNO("bad buffer", sendto(s, (void*)8, 1, 0, (struct sockaddr*)&to, sizeof(to)), EFAULT);
  // Sending to 0.0.0.0 reaches this host.
  struct sockaddr_in any = sin_of("0.0.0.0", port_of(r));
  CHECK("sendto 0.0.0.0",
        sendto(s, "any", 3, 0, (struct sockaddr*)&any, sizeof(any)) == 3 && recv(r, buf, sizeof(buf), 0) == 3);

  // Connected sockets: the default destination, a filter on senders, refused ports.
  int c = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK("connect", connect(c, (struct sockaddr*)&to, sizeof(to)) == 0);
  la = sizeof(a);
  CHECK("connect binds", getsockname(c, (struct sockaddr*)&a, &la) == 0 && a.sin_port != 0 &&
                             a.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
  la = sizeof(a);
  CHECK("getpeername", getpeername(c, (struct sockaddr*)&a, &la) == 0 && a.sin_port == to.sin_port);
  CHECK("send connected", send(c, "conn", 4, 0) == 4 && recv(r, buf, sizeof(buf), 0) == 4);
  struct sockaddr_in c_addr = sin_of("127.0.0.1", port_of(c));
  sendto(s, "stranger", 8, 0, (struct sockaddr*)&c_addr, sizeof(c_addr));
  CHECK_ERRNO("connected socket ignores others", recv(c, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
  sendto(r, "peer", 4, 0, (struct sockaddr*)&c_addr, sizeof(c_addr));
  CHECK("connected socket hears its peer", recv(c, buf, sizeof(buf), 0) == 4);
  // Port unreachable: close the peer, send, and the next receive says ECONNREFUSED.
  int gone = bound_socket();
  struct sockaddr_in gone_addr = sin_of("127.0.0.1", port_of(gone));
  close(gone);
  int e = socket(AF_INET, SOCK_DGRAM, 0);
  connect(e, (struct sockaddr*)&gone_addr, sizeof(gone_addr));
  CHECK("send to a closed port", send(e, "?", 1, 0) == 1);
  CHECK("POLLERR", (revents(e, POLLIN) & POLLERR) != 0);
  CHECK_ERRNO("ECONNREFUSED", recv(e, buf, sizeof(buf), MSG_DONTWAIT), ECONNREFUSED);
  CHECK_ERRNO("reported once", recv(e, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
  send(e, "?", 1, 0);
  len = sizeof(v);
  CHECK("SO_ERROR", getsockopt(e, SOL_SOCKET, SO_ERROR, &v, &len) == 0 && v == ECONNREFUSED);
  CHECK("SO_ERROR clears", getsockopt(e, SOL_SOCKET, SO_ERROR, &v, &len) == 0 && v == 0);
  // An unconnected sender is not told.
  CHECK("unconnected send to a closed port",
        sendto(s, "?", 1, 0, (struct sockaddr*)&gone_addr, sizeof(gone_addr)) == 1);
  CHECK_ERRNO("no error for unconnected", recv(s, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
  // Disconnect: AF_UNSPEC.
  struct sockaddr unspec = {AF_UNSPEC};
  CHECK("disconnect", connect(e, &unspec, sizeof(unspec)) == 0);
  CHECK_ERRNO("then unconnected", send(e, "x", 1, 0), EDESTADDRREQ);
  la = sizeof(a);
  CHECK("disconnect forgets the local address",
        getsockname(e, (struct sockaddr*)&a, &la) == 0 && a.sin_addr.s_addr == 0);
  close(e);
  // Shutdown of an unconnected socket: ENOTCONN, yet reads see end of file.
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK_ERRNO("shutdown unconnected", shutdown(u, SHUT_RD), ENOTCONN);
  CHECK("reads return 0", recv(u, buf, sizeof(buf), 0) == 0);
  close(u);
  CHECK("shutdown connected", shutdown(c, SHUT_WR) == 0);
  CHECK_ERRNO("send after SHUT_WR", send(c, "x", 1, 0), EPIPE);
  close(c);

  // Sharing a port: SO_REUSEADDR on both.
  int p1 = socket(AF_INET, SOCK_DGRAM, 0), p2 = socket(AF_INET, SOCK_DGRAM, 0);
  v = 1;
  setsockopt(p1, SOL_SOCKET, SO_REUSEADDR, &v, sizeof(v));
  setsockopt(p2, SOL_SOCKET, SO_REUSEADDR, &v, sizeof(v));
  a = sin_of("127.0.0.1", 0);
  bind(p1, (struct sockaddr*)&a, sizeof(a));
  a.sin_port = htons(port_of(p1));
  CHECK("SO_REUSEADDR shares the port", bind(p2, (struct sockaddr*)&a, sizeof(a)) == 0);
  close(p1);
  close(p2);
  // A privileged port needs CAP_NET_BIND_SERVICE.
  int pr = socket(AF_INET, SOCK_DGRAM, 0);
  a = sin_of("127.0.0.1", 999);
  errno = 0;
  int br = bind(pr, (struct sockaddr*)&a, sizeof(a));
  CHECK("port 999", geteuid() == 0 ? br == 0 : (br == -1 && errno == EACCES));
  close(pr);
  // Timeouts and nonblocking.
  struct timeval tv = {0, 50000};
  setsockopt(r, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  CHECK_ERRNO("SO_RCVTIMEO", recv(r, buf, sizeof(buf), 0), EAGAIN);
  fcntl(r, F_SETFL, O_NONBLOCK);
  CHECK_ERRNO("O_NONBLOCK", recv(r, buf, sizeof(buf), 0), EAGAIN);
  // A child sends, the parent receives (blocking).
  fcntl(r, F_SETFL, 0);
  tv.tv_usec = 0;
  setsockopt(r, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  pid_t pid = fork();
  if (pid == 0) {
    int k = socket(AF_INET, SOCK_DGRAM, 0);
    usleep(20000);
    sendto(k, "child", 5, 0, (struct sockaddr*)&to, sizeof(to));
    _exit(0);
  }
  CHECK("blocking receive from a child", recv(r, buf, sizeof(buf), 0) == 5 && memcmp(buf, "child", 5) == 0);
  waitpid(pid, NULL, 0);
  // Many datagrams: the receive buffer bounds what waits.
  v = 4096;
  setsockopt(r, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
  int sent = 0, got = 0;
  for (int i = 0; i < 200; i++) sent += sendto(s, buf, 100, 0, (struct sockaddr*)&to, sizeof(to)) == 100;
  while (recv(r, buf, sizeof(buf), MSG_DONTWAIT) == 100) got++;
  CHECK("all sent", sent == 200);
  CHECK("a full receive buffer drops", got > 0 && got < 200);
  close(r);
  close(s);
  /* Multicast options: joining and leaving a group, the multicast TTL and loop. */
  int mc = socket(AF_INET, SOCK_DGRAM, 0);
  struct ip_mreq mr;
  memset(&mr, 0, sizeof(mr));
  inet_pton(AF_INET, "239.1.2.3", &mr.imr_multiaddr);
  mr.imr_interface.s_addr = htonl(INADDR_ANY);
  CHECK("IP_ADD_MEMBERSHIP", setsockopt(mc, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)) == 0);
  CHECK_ERRNO("joining twice", setsockopt(mc, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)), EADDRINUSE);
  CHECK_ERRNO("IP_ADD_MEMBERSHIP short", setsockopt(mc, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, 4), EINVAL);
  struct ip_mreq uni = mr;
  inet_pton(AF_INET, "10.1.2.3", &uni.imr_multiaddr);
  CHECK_ERRNO("a unicast group", setsockopt(mc, IPPROTO_IP, IP_ADD_MEMBERSHIP, &uni, sizeof(uni)), EINVAL);
  CHECK("IP_DROP_MEMBERSHIP", setsockopt(mc, IPPROTO_IP, IP_DROP_MEMBERSHIP, &mr, sizeof(mr)) == 0);
  CHECK_ERRNO("dropping again", setsockopt(mc, IPPROTO_IP, IP_DROP_MEMBERSHIP, &mr, sizeof(mr)), EADDRNOTAVAIL);
  int mv = 0;
  socklen_t ml = sizeof(mv);
  CHECK("IP_MULTICAST_TTL is 1", getsockopt(mc, IPPROTO_IP, IP_MULTICAST_TTL, &mv, &ml) == 0 && mv == 1);
  mv = 5;
  CHECK("IP_MULTICAST_TTL set", setsockopt(mc, IPPROTO_IP, IP_MULTICAST_TTL, &mv, sizeof(mv)) == 0 &&
                                    getsockopt(mc, IPPROTO_IP, IP_MULTICAST_TTL, &mv, &ml) == 0 && mv == 5);
  mv = 256;
  CHECK_ERRNO("IP_MULTICAST_TTL 256", setsockopt(mc, IPPROTO_IP, IP_MULTICAST_TTL, &mv, sizeof(mv)), EINVAL);
  CHECK("IP_MULTICAST_LOOP is on", getsockopt(mc, IPPROTO_IP, IP_MULTICAST_LOOP, &mv, &ml) == 0 && mv == 1);
  close(mc);
  return ABI_DONE();
}
