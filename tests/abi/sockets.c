/* AF_UNIX sockets: socket/socketpair, names (path, abstract, automatic), listen/accept/connect,
 * stream/datagram/seqpacket data rules, shutdown and close, readiness, options, SCM_RIGHTS and
 * SCM_CREDENTIALS, many connections at once. Output is compared line by line with a native run. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>

#include "abi_check.h"

#ifndef SIOCOUTQ
#define SIOCOUTQ TIOCOUTQ
#endif

static char dir[64];

static socklen_t path_addr(struct sockaddr_un* a, const char* name) {
  memset(a, 0, sizeof(*a));
  a->sun_family = AF_UNIX;
  snprintf(a->sun_path, sizeof(a->sun_path), "%s/%s", dir, name);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(a->sun_path) + 1);
}

static socklen_t abstract_addr(struct sockaddr_un* a, const char* name) {
  memset(a, 0, sizeof(*a));
  a->sun_family = AF_UNIX;
  int n = snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "abi-sockets-%d-%s", (int)getpid(), name);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

static short revents(int fd, short events) {
  struct pollfd p = {fd, events, 0};
  return poll(&p, 1, 0) == 1 ? p.revents : 0;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void creation(void) {
  CHECK_ERRNO("socket bad family", socket(-1, SOCK_STREAM, 0), EAFNOSUPPORT);
  CHECK_ERRNO("socket family AF_MAX", socket(46, SOCK_STREAM, 0), EAFNOSUPPORT);
  CHECK_ERRNO("socket type 0", socket(AF_UNIX, 0, 0), ESOCKTNOSUPPORT);
  CHECK_ERRNO("socket type 11", socket(AF_UNIX, 11, 0), EINVAL);
  CHECK_ERRNO("socket bad flag", socket(AF_UNIX, SOCK_STREAM | 0x100, 0), EINVAL);
  CHECK_ERRNO("socket bad protocol", socket(AF_UNIX, SOCK_STREAM, 7), EPROTONOSUPPORT);
  CHECK_ERRNO("socket rdm", socket(AF_UNIX, SOCK_RDM, 0), ESOCKTNOSUPPORT);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, PF_UNIX);
  CHECK("socket stream", s >= 0);
  CHECK("SOCK_NONBLOCK is O_NONBLOCK", (fcntl(s, F_GETFL) & O_NONBLOCK) != 0);
  CHECK("SOCK_CLOEXEC", fcntl(s, F_GETFD) == FD_CLOEXEC);
  CHECK("O_RDWR", (fcntl(s, F_GETFL) & O_ACCMODE) == O_RDWR);
  struct stat st;
  CHECK("fstat is a socket", fstat(s, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0777);
  char link[64], want[64];
  snprintf(want, sizeof(want), "/proc/self/fd/%d", s);
  ssize_t n = readlink(want, link, sizeof(link) - 1);
  link[n > 0 ? n : 0] = 0;
  snprintf(want, sizeof(want), "socket:[%lu]", (unsigned long)st.st_ino);
  CHECK("/proc/self/fd link", strcmp(link, want) == 0);
  int raw = socket(AF_UNIX, SOCK_RAW, 0);
  int type = 0;
  socklen_t len = sizeof(type);
  CHECK("SOCK_RAW is a datagram socket",
        raw >= 0 && getsockopt(raw, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_DGRAM);
  close(raw);
  CHECK_ERRNO("read unconnected stream", read(s, link, 1), EINVAL);
  CHECK_ERRNO("write unconnected stream", write(s, "x", 1), ENOTCONN);
  CHECK("unconnected stream polls HUP|OUT", revents(s, POLLIN | POLLOUT) == (POLLOUT | POLLHUP));
  close(s);
  int sv[2];
  CHECK_ERRNO("socketpair inet", socketpair(AF_INET, SOCK_STREAM, 0, sv), EOPNOTSUPP);
  CHECK_ERRNO("socketpair bad pointer", socketpair(AF_UNIX, SOCK_STREAM, 0, (int*)8), EFAULT);
  CHECK_ERRNO("not a socket", listen(0 + open("/", O_RDONLY), 1), ENOTSOCK);
  CHECK_ERRNO("bad fd", listen(999, 1), EBADF);
}

static void options(void) {
  int sv[2];
  CHECK("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  int v = 0;
  socklen_t len = sizeof(v);
  CHECK("SO_TYPE", getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &len) == 0 && v == SOCK_STREAM && len == 4);
  CHECK("SO_DOMAIN", getsockopt(sv[0], SOL_SOCKET, SO_DOMAIN, &v, &len) == 0 && v == AF_UNIX);
  CHECK("SO_PROTOCOL", getsockopt(sv[0], SOL_SOCKET, SO_PROTOCOL, &v, &len) == 0 && v == 0);
  CHECK("SO_ACCEPTCONN", getsockopt(sv[0], SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v == 0);
  CHECK("SO_ERROR", getsockopt(sv[0], SOL_SOCKET, SO_ERROR, &v, &len) == 0 && v == 0);
  CHECK("SO_SNDBUF default", getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, &len) == 0 && v > 0);
  v = 10000;
  CHECK("set SO_SNDBUF", setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)) == 0);
  CHECK("SO_SNDBUF doubled", getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, &len) == 0 && v == 20000);
  v = 1;
  CHECK("set SO_RCVBUF small", setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)) == 0);
  CHECK("SO_RCVBUF minimum", getsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &v, &len) == 0 && v == 2304);
  v = 1;
  CHECK("set SO_REUSEADDR", setsockopt(sv[0], SOL_SOCKET, SO_REUSEADDR, &v, sizeof(v)) == 0);
  CHECK("SO_REUSEADDR", getsockopt(sv[0], SOL_SOCKET, SO_REUSEADDR, &v, &len) == 0 && v == 1);
  v = 7;
  CHECK("set SO_KEEPALIVE", setsockopt(sv[0], SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v)) == 0);
  CHECK("SO_KEEPALIVE is a boolean", getsockopt(sv[0], SOL_SOCKET, SO_KEEPALIVE, &v, &len) == 0 && v == 1);
  CHECK_ERRNO("setsockopt short", setsockopt(sv[0], SOL_SOCKET, SO_KEEPALIVE, &v, 2), EINVAL);
  CHECK_ERRNO("setsockopt SO_TYPE", setsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, sizeof(v)), ENOPROTOOPT);
  CHECK_ERRNO("getsockopt unknown", getsockopt(sv[0], SOL_SOCKET, 9999, &v, &len), ENOPROTOOPT);
  CHECK_ERRNO("getsockopt TCP level", getsockopt(sv[0], 6, 1, &v, &len), EOPNOTSUPP);
  len = (socklen_t)-1;
  CHECK_ERRNO("getsockopt negative len", getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &len), EINVAL);
  len = 2;
  v = 0;
  CHECK("getsockopt truncates", getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &len) == 0 && len == 2 && v == SOCK_STREAM);
  CHECK_ERRNO("getsockopt bad len pointer", getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, (socklen_t*)8), EFAULT);
  struct linger lg = {1, 5}, lg2 = {0, 0};
  len = sizeof(lg2);
  CHECK("SO_LINGER", setsockopt(sv[0], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0 &&
                         getsockopt(sv[0], SOL_SOCKET, SO_LINGER, &lg2, &len) == 0 && lg2.l_onoff == 1 &&
                         lg2.l_linger == 5);
  struct ucred uc;
  len = sizeof(uc);
  CHECK("SO_PEERCRED of a pair", getsockopt(sv[1], SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0 && len == sizeof(uc) &&
                                     uc.pid == getpid() && uc.uid == geteuid() && uc.gid == getegid());
  struct timeval tv = {0, 1000000};
  CHECK_ERRNO("SO_RCVTIMEO usec out of range", setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), EDOM);
  CHECK_ERRNO("SO_RCVTIMEO short", setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, 8), EINVAL);
  tv.tv_usec = 100000;
  CHECK("set SO_RCVTIMEO", setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
  struct timeval got = {9, 9};
  len = sizeof(got);
  CHECK("SO_RCVTIMEO",
        getsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &got, &len) == 0 && got.tv_sec == 0 && got.tv_usec == 100000);
  char c;
  double t0 = now_ms();
  CHECK_ERRNO("recv times out", recv(sv[0], &c, 1, 0), EAGAIN);
  CHECK("after about the timeout", now_ms() - t0 >= 90);
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  len = sizeof(uc);
  CHECK("SO_PEERCRED unconnected", getsockopt(s, SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0 && uc.pid == 0 &&
                                       uc.uid == (uid_t)-1 && uc.gid == (gid_t)-1);
  close(s);
  close(sv[0]);
  close(sv[1]);
}

static void stream_data(void) {
  int sv[2];
  char buf[64];
  CHECK("socketpair stream", socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  CHECK("new pair: writable only", revents(sv[0], POLLIN | POLLOUT) == POLLOUT);
  CHECK("write", write(sv[0], "hello", 5) == 5 && write(sv[0], " world", 6) == 6);
  CHECK("peer readable", revents(sv[1], POLLIN | POLLOUT) == (POLLIN | POLLOUT));
  int n = 0;
  CHECK("FIONREAD", ioctl(sv[1], FIONREAD, &n) == 0 && n == 11);
  CHECK("SIOCOUTQ while unread", ioctl(sv[0], SIOCOUTQ, &n) == 0 && n > 0);
  CHECK("MSG_PEEK", recv(sv[1], buf, 3, MSG_PEEK) == 3 && memcmp(buf, "hel", 3) == 0);
  CHECK("peek across writes", recv(sv[1], buf, sizeof(buf), MSG_PEEK) == 11);
  CHECK("read joins writes", read(sv[1], buf, sizeof(buf)) == 11 && memcmp(buf, "hello world", 11) == 0);
  CHECK("SIOCOUTQ after read", ioctl(sv[0], SIOCOUTQ, &n) == 0 && n == 0);
  CHECK_ERRNO("MSG_DONTWAIT empty", recv(sv[1], buf, 1, MSG_DONTWAIT), EAGAIN);
  CHECK_ERRNO("sendto with address", sendto(sv[0], "x", 1, 0, (struct sockaddr*)buf, 4), EISCONN);
  CHECK_ERRNO("recv bad buffer", (write(sv[0], "abc", 3), recv(sv[1], (void*)8, 3, 0)), EFAULT);
  CHECK("data stays after EFAULT", read(sv[1], buf, 3) == 3 && memcmp(buf, "abc", 3) == 0);
  CHECK_ERRNO("send bad buffer", send(sv[0], (void*)8, 3, 0), EFAULT);
  CHECK("zero-length send", send(sv[0], buf, 0, 0) == 0);
  struct iovec iov[3] = {{"ab", 2}, {"cd", 2}, {"ef", 2}};
  CHECK("writev", writev(sv[0], iov, 3) == 6);
  char x[2], y[4];
  struct iovec riov[2] = {{x, 2}, {y, 4}};
  CHECK("readv", readv(sv[1], riov, 2) == 6 && memcmp(x, "ab", 2) == 0 && memcmp(y, "cdef", 4) == 0);
  // MSG_WAITALL from a child that writes in pieces.
  pid_t pid = fork();
  if (pid == 0) {
    for (int i = 0; i < 4; i++) {
      usleep(2000);
      write(sv[0], "0123", 4);
    }
    _exit(0);
  }
  CHECK("MSG_WAITALL", recv(sv[1], buf, 16, MSG_WAITALL) == 16 && memcmp(buf + 12, "0123", 4) == 0);
  waitpid(pid, NULL, 0);
  // Shutdown: the writer's SHUT_WR is the reader's end of file.
  CHECK_ERRNO("shutdown bad how", shutdown(sv[0], 3), EINVAL);
  CHECK("write before shutdown", write(sv[0], "tail", 4) == 4);
  CHECK("shutdown SHUT_WR", shutdown(sv[0], SHUT_WR) == 0);
  CHECK("peer sees RDHUP", revents(sv[1], POLLIN | POLLRDHUP) == (POLLIN | POLLRDHUP));
  CHECK("data before EOF", read(sv[1], buf, sizeof(buf)) == 4);
  CHECK("EOF", read(sv[1], buf, sizeof(buf)) == 0);
  signal(SIGPIPE, SIG_IGN);
  CHECK_ERRNO("write after SHUT_WR", write(sv[0], "x", 1), EPIPE);
  CHECK("other direction still works", write(sv[1], "back", 4) == 4 && read(sv[0], buf, 4) == 4);
  CHECK("shutdown SHUT_RD", shutdown(sv[0], SHUT_RD) == 0);
  CHECK("both shut: HUP", (revents(sv[0], POLLIN) & (POLLHUP | POLLIN)) == (POLLHUP | POLLIN));
  CHECK_ERRNO("peer writes to SHUT_RD end", send(sv[1], "x", 1, MSG_NOSIGNAL), EPIPE);
  close(sv[0]);
  close(sv[1]);
  // Close with unread data: the peer's read is ECONNRESET, then end of file.
  CHECK("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  write(sv[1], "unread", 6);
  close(sv[0]);
  CHECK("peer of closed: HUP", (revents(sv[1], POLLIN | POLLOUT) & (POLLHUP | POLLERR)) == (POLLHUP | POLLERR));
  CHECK_ERRNO("read after reset", read(sv[1], buf, sizeof(buf)), ECONNRESET);
  CHECK("then EOF", read(sv[1], buf, sizeof(buf)) == 0);
  CHECK_ERRNO("write to closed peer", send(sv[1], "x", 1, MSG_NOSIGNAL), EPIPE);
  close(sv[1]);
  // SIGPIPE when not ignored and no MSG_NOSIGNAL.
  signal(SIGPIPE, SIG_DFL);
  CHECK("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  close(sv[0]);
  pid = fork();
  if (pid == 0) {
    write(sv[1], "x", 1);
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK("SIGPIPE on a closed stream", WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE);
  close(sv[1]);
  // A full buffer: nonblocking writes stop with EAGAIN; POLLOUT returns once the reader drains.
  CHECK("socketpair nonblocking", socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
  static char big[8192];
  long total = 0;
  ssize_t w;
  while ((w = write(sv[0], big, sizeof(big))) > 0) total += w;
  CHECK("fills with EAGAIN", w < 0 && errno == EAGAIN && total > 8192);
  CHECK("full: not writable", (revents(sv[0], POLLOUT) & POLLOUT) == 0);
  long drained = 0;
  while ((w = read(sv[1], big, sizeof(big))) > 0) drained += w;
  CHECK("drains all", drained == total);
  CHECK("writable again", revents(sv[0], POLLOUT) == POLLOUT);
  close(sv[0]);
  close(sv[1]);
}

static void datagrams(void) {
  int sv[2];
  char buf[64];
  CHECK("socketpair dgram", socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
  CHECK("send 1", send(sv[0], "first", 5, 0) == 5);
  CHECK("send 2", send(sv[0], "second", 6, 0) == 6);
  int n = 0;
  CHECK("FIONREAD is the next datagram", ioctl(sv[1], FIONREAD, &n) == 0 && n == 5);
  CHECK("boundaries kept", recv(sv[1], buf, sizeof(buf), 0) == 5);
  struct iovec iov = {buf, 3};
  struct msghdr m = {0};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  CHECK("truncated datagram", recvmsg(sv[1], &m, 0) == 3 && (m.msg_flags & MSG_TRUNC) && memcmp(buf, "sec", 3) == 0);
  CHECK_ERRNO("rest is gone", recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
  send(sv[0], "sixsix", 6, 0);
  CHECK("MSG_TRUNC gives the real length", recv(sv[1], buf, 2, MSG_TRUNC) == 6);
  CHECK("empty datagram", send(sv[0], buf, 0, 0) == 0 && recv(sv[1], buf, sizeof(buf), 0) == 0);
  static char huge[300000];
  CHECK_ERRNO("datagram too large", send(sv[0], huge, sizeof(huge), 0), EMSGSIZE);
  // sendmmsg / recvmmsg.
  struct mmsghdr mm[3];
  struct iovec v[3];
  char data[3][8] = {"a", "bb", "ccc"};
  memset(mm, 0, sizeof(mm));
  for (int i = 0; i < 3; i++) {
    v[i].iov_base = data[i];
    v[i].iov_len = strlen(data[i]);
    mm[i].msg_hdr.msg_iov = &v[i];
    mm[i].msg_hdr.msg_iovlen = 1;
  }
  CHECK("sendmmsg", sendmmsg(sv[0], mm, 3, 0) == 3 && mm[2].msg_len == 3);
  char r[3][8];
  struct iovec rv[3];
  memset(mm, 0, sizeof(mm));
  for (int i = 0; i < 3; i++) {
    rv[i].iov_base = r[i];
    rv[i].iov_len = 8;
    mm[i].msg_hdr.msg_iov = &rv[i];
    mm[i].msg_hdr.msg_iovlen = 1;
  }
  CHECK("recvmmsg",
        recvmmsg(sv[1], mm, 3, 0, NULL) == 3 && mm[0].msg_len == 1 && mm[1].msg_len == 2 && mm[2].msg_len == 3);
  CHECK("recvmmsg WAITFORONE", send(sv[0], "z", 1, 0) == 1 && recvmmsg(sv[1], mm, 3, MSG_WAITFORONE, NULL) == 1);
  close(sv[0]);
  CHECK_ERRNO("dgram peer gone: no EOF", recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
  close(sv[1]);

  // Named datagram sockets: addresses of senders, connect, refused peers.
  struct sockaddr_un a, b, from;
  socklen_t la = path_addr(&a, "dg-a"), lb = path_addr(&b, "dg-b");
  int sa = socket(AF_UNIX, SOCK_DGRAM, 0), sb = socket(AF_UNIX, SOCK_DGRAM, 0), su = socket(AF_UNIX, SOCK_DGRAM, 0);
  CHECK("bind a", bind(sa, (struct sockaddr*)&a, la) == 0);
  CHECK("bind b", bind(sb, (struct sockaddr*)&b, lb) == 0);
  CHECK("sendto b", sendto(sa, "hi", 2, 0, (struct sockaddr*)&b, lb) == 2);
  socklen_t lf = sizeof(from);
  CHECK("recvfrom names the sender", recvfrom(sb, buf, sizeof(buf), 0, (struct sockaddr*)&from, &lf) == 2 && lf == la &&
                                         strcmp(from.sun_path, a.sun_path) == 0);
  CHECK("unbound sender", sendto(su, "u", 1, 0, (struct sockaddr*)&b, lb) == 1);
  lf = sizeof(from);
  CHECK("recvfrom of an unbound sender: no name",
        recvfrom(sb, buf, sizeof(buf), 0, (struct sockaddr*)&from, &lf) == 1 && lf == 0);
  CHECK_ERRNO("send unconnected", send(su, "x", 1, 0), ENOTCONN);
  struct sockaddr_un none;
  path_addr(&none, "dg-none");
  CHECK_ERRNO("sendto missing path", sendto(su, "x", 1, 0, (struct sockaddr*)&none, sizeof(none)), ENOENT);
  CHECK("connect a to b", connect(sa, (struct sockaddr*)&b, lb) == 0);
  CHECK("getpeername", (lf = sizeof(from), getpeername(sa, (struct sockaddr*)&from, &lf) == 0 && lf == lb));
  CHECK("send connected", send(sa, "c", 1, 0) == 1 && recv(sb, buf, 1, 0) == 1);
  CHECK("connect b to a", connect(sb, (struct sockaddr*)&a, la) == 0);
  CHECK_ERRNO("third party refused by a connected socket", sendto(su, "x", 1, 0, (struct sockaddr*)&b, lb), EPERM);
  struct sockaddr unspec = {AF_UNSPEC};
  CHECK("disconnect", connect(sb, &unspec, sizeof(unspec)) == 0);
  CHECK_ERRNO("getpeername after disconnect", (lf = sizeof(from), getpeername(sb, (struct sockaddr*)&from, &lf)),
              ENOTCONN);
  close(sb);
  CHECK_ERRNO("send to closed peer", send(sa, "x", 1, 0), ECONNREFUSED);
  CHECK_ERRNO("then unconnected", send(sa, "x", 1, 0), ENOTCONN);
  int ss = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK_ERRNO("stream connect to a datagram socket", connect(ss, (struct sockaddr*)&a, la), EPROTOTYPE);
  close(ss);
  close(sa);
  close(su);
  unlink(a.sun_path);
  unlink(b.sun_path);
}

static void seqpackets(void) {
  int sv[2];
  char buf[64];
  CHECK("socketpair seqpacket", socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
  CHECK("send", send(sv[0], "one", 3, 0) == 3 && send(sv[0], "two!", 4, 0) == 4);
  int n = 0;
  CHECK("FIONREAD counts all", ioctl(sv[1], FIONREAD, &n) == 0 && n == 7);
  CHECK("records", recv(sv[1], buf, sizeof(buf), 0) == 3 && recv(sv[1], buf, 2, 0) == 2);
  CHECK_ERRNO("truncated record is gone", recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
  close(sv[0]);
  CHECK("EOF after close", recv(sv[1], buf, sizeof(buf), 0) == 0);
  CHECK("HUP", (revents(sv[1], POLLIN) & POLLHUP) != 0);
  CHECK_ERRNO("send to closed", send(sv[1], "x", 1, MSG_NOSIGNAL), EPIPE);
  close(sv[1]);
  int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
  CHECK_ERRNO("send unconnected seqpacket", send(s, "x", 1, 0), ENOTCONN);
  CHECK_ERRNO("recv unconnected seqpacket", recv(s, buf, 1, MSG_DONTWAIT), ENOTCONN);
  close(s);
}

static void names_and_connections(void) {
  struct sockaddr_un a, peer;
  char buf[64];
  socklen_t la = path_addr(&a, "srv");
  int srv = socket(AF_UNIX, SOCK_STREAM, 0);
  int cli = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK_ERRNO("connect to a missing path", connect(cli, (struct sockaddr*)&a, la), ENOENT);
  CHECK_ERRNO("listen unbound", listen(srv, 5), EINVAL);
  CHECK_ERRNO("bind short", bind(srv, (struct sockaddr*)&a, 1), EINVAL);
  struct sockaddr_un bad = a;
  bad.sun_family = AF_INET;
  CHECK_ERRNO("bind wrong family", bind(srv, (struct sockaddr*)&bad, la), EINVAL);
  CHECK_ERRNO("bind too long", bind(srv, (struct sockaddr*)&a, sizeof(a) + 1), EINVAL);
  CHECK_ERRNO("bind bad pointer", bind(srv, (struct sockaddr*)8, la), EFAULT);
  CHECK_ERRNO("bind over 128 bytes", bind(srv, (struct sockaddr*)&a, 129), EINVAL);
  umask(022);
  CHECK("bind path", bind(srv, (struct sockaddr*)&a, la) == 0);
  struct stat st;
  CHECK("socket file", stat(a.sun_path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0755);
  CHECK_ERRNO("open socket file", open(a.sun_path, O_RDONLY), ENXIO);
  CHECK_ERRNO("bind again", bind(srv, (struct sockaddr*)&a, la), EADDRINUSE);
  struct sockaddr_un other;
  socklen_t lo = path_addr(&other, "other");
  CHECK_ERRNO("bind a bound socket", bind(srv, (struct sockaddr*)&other, lo), EINVAL);
  int s2 = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK_ERRNO("second socket, same path", bind(s2, (struct sockaddr*)&a, la), EADDRINUSE);
  close(s2);
  socklen_t lp = sizeof(peer);
  CHECK("getsockname",
        getsockname(srv, (struct sockaddr*)&peer, &lp) == 0 && lp == la && strcmp(peer.sun_path, a.sun_path) == 0);
  lp = 4;
  CHECK("getsockname truncates, full length back", getsockname(srv, (struct sockaddr*)&peer, &lp) == 0 && lp == la);
  CHECK_ERRNO("connect before listen", connect(cli, (struct sockaddr*)&a, la), ECONNREFUSED);
  CHECK_ERRNO("accept before listen", accept(srv, NULL, NULL), EINVAL);
  CHECK("listen", listen(srv, 2) == 0);
  int v = 0;
  socklen_t lv = sizeof(v);
  CHECK("SO_ACCEPTCONN", getsockopt(srv, SOL_SOCKET, SO_ACCEPTCONN, &v, &lv) == 0 && v == 1);
  CHECK("listener not writable", revents(srv, POLLIN | POLLOUT) == 0);
  CHECK("connect", connect(cli, (struct sockaddr*)&a, la) == 0);
  CHECK_ERRNO("connect again", connect(cli, (struct sockaddr*)&a, la), EISCONN);
  CHECK("listener readable", revents(srv, POLLIN) == POLLIN);
  CHECK("client writes before accept", write(cli, "early", 5) == 5);
  lp = sizeof(peer);
  /* musl's accept4 falls back to accept on EINVAL: the system call itself. */
  CHECK_ERRNO("accept4 bad flags", syscall(SYS_accept4, srv, NULL, NULL, 0x10), EINVAL);
  int acc = accept4(srv, (struct sockaddr*)&peer, &lp, SOCK_CLOEXEC);
  CHECK("accept4", acc >= 0 && fcntl(acc, F_GETFD) == FD_CLOEXEC);
  CHECK("unbound client's name", lp == offsetof(struct sockaddr_un, sun_path));
  CHECK("accepted reads early data", read(acc, buf, sizeof(buf)) == 5);
  lp = sizeof(peer);
  CHECK("client getpeername",
        getpeername(cli, (struct sockaddr*)&peer, &lp) == 0 && lp == la && strcmp(peer.sun_path, a.sun_path) == 0);
  lp = sizeof(peer);
  CHECK("accepted getsockname is the listener's", getsockname(acc, (struct sockaddr*)&peer, &lp) == 0 && lp == la);
  struct ucred uc;
  socklen_t lu = sizeof(uc);
  CHECK("SO_PEERCRED accepted", getsockopt(acc, SOL_SOCKET, SO_PEERCRED, &uc, &lu) == 0 && uc.pid == getpid());
  CHECK("SO_PEERCRED client", getsockopt(cli, SOL_SOCKET, SO_PEERCRED, &uc, &lu) == 0 && uc.pid == getpid());
  fcntl(srv, F_SETFL, O_NONBLOCK);
  CHECK_ERRNO("accept empty nonblocking", accept(srv, NULL, NULL), EAGAIN);
  CHECK_ERRNO("listen on connected", listen(cli, 1), EINVAL);
  int ds = socket(AF_UNIX, SOCK_DGRAM, 0);
  CHECK_ERRNO("listen on datagram", listen(ds, 1), EOPNOTSUPP);
  CHECK_ERRNO("accept on datagram", accept(ds, NULL, NULL), EOPNOTSUPP);
  CHECK_ERRNO("datagram connect to stream", connect(ds, (struct sockaddr*)&a, la), EPROTOTYPE);
  close(ds);
  // The backlog: listen(2) takes three pending connections; a nonblocking fourth is EAGAIN.
  int pend[4], made = 0;
  for (int i = 0; i < 4; i++) {
    pend[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (connect(pend[i], (struct sockaddr*)&a, la) == 0) made++;
    else if (i == 3) CHECK("backlog full is EAGAIN", errno == EAGAIN);
  }
  CHECK("backlog of 2 holds 3", made == 3);
  for (int i = 0; i < 4; i++) close(pend[i]);
  CHECK("closed clients still queued", (acc = accept(srv, NULL, NULL)) >= 0);
  CHECK("their end is EOF", read(acc, buf, 1) == 0);
  close(acc);
  while ((acc = accept(srv, NULL, NULL)) >= 0) close(acc);
  // A blocked connect from another process, served by accept.
  pid_t pid = fork();
  if (pid == 0) {
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr*)&a, la) != 0) _exit(1);
    write(c, "from child", 10);
    char r[4];
    _exit(read(c, r, 4) == 4 && memcmp(r, "ack!", 4) == 0 ? 0 : 2);
  }
  fcntl(srv, F_SETFL, 0);
  acc = accept(srv, NULL, NULL);
  CHECK("accept from child", acc >= 0 && read(acc, buf, 10) == 10 && memcmp(buf, "from child", 10) == 0);
  lu = sizeof(uc);
  CHECK("SO_PEERCRED is the child", getsockopt(acc, SOL_SOCKET, SO_PEERCRED, &uc, &lu) == 0 && uc.pid == pid);
  write(acc, "ack!", 4);
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK("child done", WIFEXITED(status) && WEXITSTATUS(status) == 0);
  close(acc);
  // Closing the listener: queued connections are reset, new ones refused; unlink frees the name.
  int late = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK("connect late", connect(late, (struct sockaddr*)&a, la) == 0);
  close(srv);
  CHECK_ERRNO("queued connection reset", read(late, buf, 1), ECONNRESET);
  close(late);
  int again = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK_ERRNO("connect after close", connect(again, (struct sockaddr*)&a, la), ECONNREFUSED);
  CHECK("unlink", unlink(a.sun_path) == 0);
  CHECK_ERRNO("connect after unlink", connect(again, (struct sockaddr*)&a, la), ENOENT);
  close(again);
  close(cli);

  // Abstract names and automatic binding.
  struct sockaddr_un ab;
  socklen_t lab = abstract_addr(&ab, "one");
  int x = socket(AF_UNIX, SOCK_STREAM, 0), y = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK("bind abstract", bind(x, (struct sockaddr*)&ab, lab) == 0);
  CHECK_ERRNO("abstract in use", bind(y, (struct sockaddr*)&ab, lab), EADDRINUSE);
  lp = sizeof(peer);
  CHECK("abstract getsockname", getsockname(x, (struct sockaddr*)&peer, &lp) == 0 && lp == lab &&
                                    peer.sun_path[0] == 0 && memcmp(peer.sun_path, ab.sun_path, lab - 2) == 0);
  CHECK("listen abstract", listen(x, 1) == 0);
  CHECK("connect abstract", connect(y, (struct sockaddr*)&ab, lab) == 0);
  acc = accept(x, NULL, NULL);
  CHECK("accept abstract", acc >= 0);
  close(acc);
  close(x);
  close(y);
  y = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK_ERRNO("abstract name freed by close", connect(y, (struct sockaddr*)&ab, lab), ECONNREFUSED);
  struct sockaddr_un au = {AF_UNIX};
  CHECK("autobind", bind(y, (struct sockaddr*)&au, offsetof(struct sockaddr_un, sun_path)) == 0);
  lp = sizeof(peer);
  CHECK("autobind name", getsockname(y, (struct sockaddr*)&peer, &lp) == 0 && lp == 8 && peer.sun_path[0] == 0);
  close(y);
  y = socket(AF_UNIX, SOCK_DGRAM, 0);
  lp = sizeof(peer);
  CHECK("unbound getsockname", getsockname(y, (struct sockaddr*)&peer, &lp) == 0 && lp == 2);
  v = 1;
  setsockopt(y, SOL_SOCKET, SO_PASSCRED, &v, sizeof(v));
  x = socket(AF_UNIX, SOCK_DGRAM, 0);
  lab = abstract_addr(&ab, "two");
  bind(x, (struct sockaddr*)&ab, lab);
  CHECK("SO_PASSCRED sender autobinds", sendto(y, "p", 1, 0, (struct sockaddr*)&ab, lab) == 1 &&
                                            (lp = sizeof(peer), getsockname(y, (struct sockaddr*)&peer, &lp) == 0) &&
                                            lp == 8);
  close(x);
  close(y);
}

static int send_fds(int s, const int* fds, int n, const void* data, size_t len) {
  char ctl[CMSG_SPACE(sizeof(int) * 8)];
  memset(ctl, 0, sizeof(ctl));
  struct iovec iov = {(void*)data, len};
  struct msghdr m = {0};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = ctl;
  m.msg_controllen = CMSG_SPACE(sizeof(int) * n);
  struct cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * n);
  memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
  return (int)sendmsg(s, &m, 0);
}

static int recv_fds(int s, int* fds, int max, size_t ctl_len, int flags, int* msg_flags) {
  char ctl[256];
  char data[16];
  struct iovec iov = {data, sizeof(data)};
  struct msghdr m = {0};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = ctl;
  m.msg_controllen = ctl_len;
  if (recvmsg(s, &m, flags) < 0) return -1;
  *msg_flags = m.msg_flags;
  int n = 0;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      for (int i = 0; i < k && n < max; i++) memcpy(&fds[n++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
  }
  return n;
}

/* Whether /proc/net/unix lists a socket with this inode number (its seventh column). */
static int inode_listed(unsigned long ino) {
  FILE* f = fopen("/proc/net/unix", "r");
  if (!f) return 0;
  char line[512];
  int found = 0;
  fgets(line, sizeof(line), f);
  while (!found && fgets(line, sizeof(line), f)) {
    unsigned long v = 0;
    if (sscanf(line, "%*s %*s %*s %*s %*s %*s %lu", &v) == 1 && v == ino) found = 1;
  }
  fclose(f);
  return found;
}

static void rights_and_credentials(void) {
  int sv[2], p[2];
  char buf[64];
  int got[8], flags = 0;
  CHECK("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  CHECK("pipe", pipe(p) == 0);
  CHECK("send a pipe's write end", send_fds(sv[0], &p[1], 1, "F", 1) == 1);
  close(p[1]);
  int n = recv_fds(sv[1], got, 8, CMSG_SPACE(sizeof(int) * 4), MSG_CMSG_CLOEXEC, &flags);
  CHECK("one descriptor received", n == 1 && !(flags & MSG_CTRUNC));
  CHECK("MSG_CMSG_CLOEXEC", n == 1 && fcntl(got[0], F_GETFD) == FD_CLOEXEC);
  CHECK("it is the pipe",
        n == 1 && write(got[0], "via", 3) == 3 && read(p[0], buf, 3) == 3 && memcmp(buf, "via", 3) == 0);
  if (n == 1) close(got[0]);
  CHECK("pipe EOF: every writer gone", read(p[0], buf, 1) == 0);
  close(p[0]);
  // Too small a control buffer: MSG_CTRUNC and the descriptors are closed.
  pipe(p);
  int two[2] = {p[0], p[1]};
  send_fds(sv[0], two, 2, "G", 1);
  n = recv_fds(sv[1], got, 8, CMSG_LEN(sizeof(int)), 0, &flags);
  CHECK("truncated to one", n == 1 && (flags & MSG_CTRUNC));
  if (n == 1) close(got[0]);
  send_fds(sv[0], two, 2, "H", 1);
  n = recv_fds(sv[1], got, 8, 0, 0, &flags);
  CHECK("no control buffer", n == 0 && (flags & MSG_CTRUNC));
  close(p[0]);
  close(p[1]);
  int bad = 999;
  CHECK_ERRNO("SCM_RIGHTS bad fd", send_fds(sv[0], &bad, 1, "x", 1), EBADF);
  // Sockets sent over themselves, then closed: only the collector can free them.
  int s3[2];
  struct stat st0, st1;
  socketpair(AF_UNIX, SOCK_STREAM, 0, s3);
  fstat(s3[0], &st0);
  fstat(s3[1], &st1);
  CHECK("listed in /proc/net/unix", inode_listed(st0.st_ino) && inode_listed(st1.st_ino));
  CHECK("send sockets over themselves",
        send_fds(s3[0], &s3[0], 1, "c", 1) == 1 && send_fds(s3[1], &s3[1], 1, "d", 1) == 1);
  close(s3[0]);
  close(s3[1]);
  close(socket(AF_UNIX, SOCK_STREAM, 0)); /* a release: Linux runs its collector then */
  int gone = 0;
  for (int i = 0; i < 200 && !gone; i++) {
    gone = !inode_listed(st0.st_ino) && !inode_listed(st1.st_ino);
    if (!gone) usleep(10000);
  }
  CHECK("the collector frees the cycle", gone);
  // Stream reads stop after a message that carried descriptors.
  pipe(p);
  write(sv[0], "ab", 2);
  send_fds(sv[0], &p[0], 1, "cd", 2);
  write(sv[0], "ef", 2);
  CHECK("read stops after descriptors", read(sv[1], buf, sizeof(buf)) == 4);
  CHECK("the rest", read(sv[1], buf, sizeof(buf)) == 2);
  close(p[0]);
  close(p[1]);
  close(sv[0]);
  close(sv[1]);
  // With SO_PASSCRED a stream read never joins two writers' bytes, even with MSG_WAITALL.
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  int one = 1;
  setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
  write(sv[0], "ab", 2);
  pid_t w = fork();
  if (w == 0) _exit(write(sv[0], "cd", 2) == 2 ? 0 : 1);
  waitpid(w, NULL, 0);
  CHECK("MSG_WAITALL stops at another writer", recv(sv[1], buf, 4, MSG_WAITALL) == 2);
  CHECK("then the other writer's bytes", recv(sv[1], buf, 4, MSG_DONTWAIT) == 2 && memcmp(buf, "cd", 2) == 0);
  close(sv[0]);
  close(sv[1]);
  // Datagram with descriptors and credentials.
  socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
  int on = 1;
  CHECK("SO_PASSCRED", setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) == 0);
  send(sv[0], "cred", 4, 0);
  char ctl[256];
  struct iovec iov = {buf, sizeof(buf)};
  struct msghdr m = {0};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = ctl;
  m.msg_controllen = sizeof(ctl);
  CHECK("recvmsg with credentials", recvmsg(sv[1], &m, 0) == 4);
  struct cmsghdr* c = CMSG_FIRSTHDR(&m);
  struct ucred uc = {0};
  if (c && c->cmsg_type == SCM_CREDENTIALS) memcpy(&uc, CMSG_DATA(c), sizeof(uc));
  CHECK("SCM_CREDENTIALS", c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
                               c->cmsg_len == CMSG_LEN(sizeof(struct ucred)) && uc.pid == getpid() &&
                               uc.uid == getuid());
  CHECK("controllen used", m.msg_controllen == CMSG_SPACE(sizeof(struct ucred)));
  // Sending credentials explicitly: our own are accepted; another pid only with CAP_SYS_ADMIN.
  char sctl[CMSG_SPACE(sizeof(struct ucred))];
  memset(sctl, 0, sizeof(sctl));
  struct iovec siov = {"x", 1};
  struct msghdr sm = {0};
  sm.msg_iov = &siov;
  sm.msg_iovlen = 1;
  sm.msg_control = sctl;
  sm.msg_controllen = sizeof(sctl);
  c = CMSG_FIRSTHDR(&sm);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_CREDENTIALS;
  c->cmsg_len = CMSG_LEN(sizeof(struct ucred));
  struct ucred mine = {getpid(), getuid(), getgid()};
  memcpy(CMSG_DATA(c), &mine, sizeof(mine));
  CHECK("send own credentials", sendmsg(sv[0], &sm, 0) == 1);
  recv(sv[1], buf, sizeof(buf), 0);
  mine.pid = 1;
  memcpy(CMSG_DATA(c), &mine, sizeof(mine));
  errno = 0;
  long r = sendmsg(sv[0], &sm, 0);
  CHECK("someone else's pid", geteuid() == 0 ? r == 1 : (r == -1 && errno == EPERM));
  c->cmsg_len = CMSG_LEN(4);
  CHECK_ERRNO("SCM_CREDENTIALS bad length", sendmsg(sv[0], &sm, 0), EINVAL);
  c->cmsg_len = 8;
  CHECK_ERRNO("cmsg_len below the header", sendmsg(sv[0], &sm, 0), EINVAL);
  close(sv[0]);
  close(sv[1]);
}

static void epoll_and_many(void) {
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  int ep = epoll_create1(0);
  struct epoll_event ev = {EPOLLIN | EPOLLRDHUP, {.fd = sv[1]}}, out[4];
  epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &ev);
  CHECK("epoll: nothing yet", epoll_wait(ep, out, 4, 0) == 0);
  shutdown(sv[0], SHUT_WR);
  CHECK("epoll: EPOLLRDHUP",
        epoll_wait(ep, out, 4, 100) == 1 && (out[0].events & (EPOLLIN | EPOLLRDHUP)) == (EPOLLIN | EPOLLRDHUP));
  close(ep);
  close(sv[0]);
  close(sv[1]);
  // 500 connections open at once on one listener.
  enum { N = 500 };
  static int cl[N], sr[N];
  struct sockaddr_un a;
  socklen_t la = path_addr(&a, "many");
  int l = socket(AF_UNIX, SOCK_STREAM, 0);
  bind(l, (struct sockaddr*)&a, la);
  listen(l, N + 10);
  int ok = 1;
  for (int i = 0; i < N && ok; i++) {
    cl[i] = socket(AF_UNIX, SOCK_STREAM, 0);
    ok = cl[i] >= 0 && connect(cl[i], (struct sockaddr*)&a, la) == 0;
  }
  CHECK("500 connects", ok);
  for (int i = 0; i < N && ok; i++) ok = (sr[i] = accept(l, NULL, NULL)) >= 0;
  CHECK("500 accepts", ok);
  for (int i = 0; i < N && ok; i++) {
    unsigned char b = (unsigned char)i;
    ok = write(cl[i], &b, 1) == 1;
  }
  for (int i = 0; i < N && ok; i++) {
    unsigned char b = 0;
    ok = read(sr[i], &b, 1) == 1 && b == (unsigned char)i;
  }
  CHECK("500 exchanges", ok);
  for (int i = 0; i < N; i++) {
    close(cl[i]);
    close(sr[i]);
  }
  close(l);
  unlink(a.sun_path);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  snprintf(dir, sizeof(dir), "/tmp/abi-sockets-%d", (int)getpid());
  mkdir(dir, 0755);
  creation();
  options();
  stream_data();
  datagrams();
  seqpackets();
  names_and_connections();
  rights_and_credentials();
  epoll_and_many();
  rmdir(dir);
  return ABI_DONE();
}
