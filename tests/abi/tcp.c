/* TCP over IPv4 loopback: sockets before a connection, bind/listen/accept/connect (blocking
 * and not), refused ports, data both ways with peeking, flow control over a megabyte, orderly
 * close (EOF, RDHUP), shutdown, reset on close with unread data, options, 500 connections.
 * Output is compared line by line with a native run. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include "abi_check.h"

static short revents(int fd, short events) {
  struct pollfd p = {fd, events, 0};
  return poll(&p, 1, 0) == 1 ? p.revents : 0;
}

static short wait_revents(int fd, short events) {
  struct pollfd p = {fd, events, 0};
  return poll(&p, 1, 2000) == 1 ? p.revents : 0;
}

static int listener(struct sockaddr_in* a, int backlog) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  memset(a, 0, sizeof(*a));
  a->sin_family = AF_INET;
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(*a);
  if (bind(l, (struct sockaddr*)a, sizeof(*a)) != 0 || listen(l, backlog) != 0 ||
      getsockname(l, (struct sockaddr*)a, &len) != 0) {
    return -1;
  }
  return l;
}

/* Edge-triggered epoll on a connection (how nginx sends): once EPOLLOUT was reported, filling
 * the send buffer to EAGAIN and having the peer drain it must report EPOLLOUT again, though the
 * socket was writable at the last report too; new data reports EPOLLIN again, a partial read
 * does not. */
/* sendfile without an offset from a file to a nonblocking socket that takes part of it: the
 * file's position moves by what was sent, not by what was read. */
static void sendfile_position(void) {
  struct sockaddr_in a;
  int l = listener(&a, 4);
  int small = 65536;
  setsockopt(l, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  setsockopt(c, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
  connect(c, (struct sockaddr*)&a, sizeof(a));
  int s = accept(l, NULL, NULL);
  wait_revents(c, POLLOUT);
  char path[] = "/tmp/abi-sendfile-XXXXXX";
  int f = mkstemp(path);
  unlink(path);
  static char block[1 << 20];
  for (size_t i = 0; i < sizeof(block); i++) block[i] = (char)(i * 7 + i / 4096);
  write(f, block, sizeof(block));
  lseek(f, 0, SEEK_SET);
  ssize_t n = sendfile(c, f, NULL, sizeof(block));
  CHECK("sendfile to a full socket sends part", n > 0 && n < (ssize_t)sizeof(block));
  CHECK("sendfile moves the position by what it sent", lseek(f, 0, SEEK_CUR) == n);
  static char got[1 << 20];
  long have = 0;
  for (ssize_t r; have < n && (r = recv(s, got + have, sizeof(got) - have, 0)) > 0;) have += r;
  CHECK("the peer gets those bytes", have == n && memcmp(got, block, (size_t)n) == 0);
  close(f);
  close(c);
  close(s);
  close(l);
}

static void epoll_edges(void) {
  struct sockaddr_in a;
  int l = listener(&a, 4);
  int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  connect(c, (struct sockaddr*)&a, sizeof(a));
  int s = accept(l, NULL, NULL);
  wait_revents(c, POLLOUT);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.u32 = 1}, out[2];
  epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
  CHECK("ET: writable at once", epoll_wait(ep, out, 2, 1000) == 1 && out[0].events == EPOLLOUT);
  CHECK("ET: reported once", epoll_wait(ep, out, 2, 0) == 0);
  static char chunk[65536];
  long sent = 0;
  for (ssize_t n; (n = send(c, chunk, sizeof(chunk), 0)) > 0;) sent += n;
  CHECK("ET: send fills to EAGAIN", errno == EAGAIN && sent > 0);
  /* No epoll_wait while it is full: the edge must come from the room itself. */
  long got = 0;
  for (ssize_t n; got < sent && (n = recv(s, chunk, sizeof(chunk), 0)) > 0;) got += n;
  CHECK("ET: the peer drains it", got == sent);
  CHECK("ET: room reports EPOLLOUT again", epoll_wait(ep, out, 2, 2000) == 1 && (out[0].events & EPOLLOUT));
  send(s, "abc", 3, 0);
  CHECK("ET: data reports EPOLLIN", epoll_wait(ep, out, 2, 2000) == 1 && (out[0].events & EPOLLIN));
  recv(c, chunk, 1, 0);
  CHECK("ET: a partial read is no new event", epoll_wait(ep, out, 2, 100) == 0);
  send(s, "d", 1, 0);
  CHECK("ET: more data reports EPOLLIN again", epoll_wait(ep, out, 2, 2000) == 1 && (out[0].events & EPOLLIN));
  close(ep);
  close(c);
  close(s);
  close(l);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  signal(SIGPIPE, SIG_IGN);
  char buf[256];
  int v = 0;
  socklen_t len = sizeof(v);
  CHECK_ERRNO("stream with udp protocol", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  CHECK("socket", s >= 0);
  CHECK("SO_PROTOCOL", getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &v, &len) == 0 && v == IPPROTO_TCP);
  CHECK("fresh socket polls OUT|HUP", revents(s, POLLIN | POLLOUT) == (POLLOUT | POLLHUP));
  CHECK_ERRNO("send unconnected", send(s, "x", 1, MSG_NOSIGNAL), EPIPE);
  CHECK_ERRNO("recv unconnected", recv(s, buf, 1, 0), ENOTCONN);
  CHECK_ERRNO("shutdown unconnected", shutdown(s, SHUT_WR), ENOTCONN);
  struct sockaddr_in a;
  socklen_t la = sizeof(a);
  CHECK_ERRNO("getpeername unconnected", getpeername(s, (struct sockaddr*)&a, &la), ENOTCONN);
  CHECK("TCP_MAXSEG unconnected", getsockopt(s, IPPROTO_TCP, TCP_MAXSEG, &v, &len) == 0 && v == 536);
  v = 1;
  CHECK("TCP_NODELAY", setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)) == 0 &&
                           getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &len) == 0 && v == 1);
  CHECK("TCP_KEEPIDLE default", getsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &v, &len) == 0 && v == 7200);
  v = 0;
  CHECK_ERRNO("TCP_KEEPIDLE 0", setsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v)), EINVAL);
  close(s);

  struct sockaddr_in la_addr;
  int l = listener(&la_addr, 8);
  CHECK("listen", l >= 0 && la_addr.sin_port != 0);
  CHECK("SO_ACCEPTCONN", getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v == 1);
  CHECK("listener idle poll", revents(l, POLLIN | POLLOUT) == 0);
  CHECK_ERRNO("connect on a listener", connect(l, (struct sockaddr*)&la_addr, sizeof(la_addr)), EISCONN);
  fcntl(l, F_SETFL, O_NONBLOCK);
  CHECK_ERRNO("accept nonblocking, none", accept(l, NULL, NULL), EAGAIN);
  fcntl(l, F_SETFL, 0);
  int t = socket(AF_INET, SOCK_STREAM, 0);
  CHECK_ERRNO("port in use", bind(t, (struct sockaddr*)&la_addr, sizeof(la_addr)), EADDRINUSE);
  v = 1;
  setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &v, sizeof(v));
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &v, sizeof(v));
  CHECK_ERRNO("port of a listener, SO_REUSEADDR", bind(t, (struct sockaddr*)&la_addr, sizeof(la_addr)), EADDRINUSE);
  close(t);

  // A refused port.
  struct sockaddr_in closed = la_addr;
  int tmp = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in ta = la_addr;
  ta.sin_port = 0;
  bind(tmp, (struct sockaddr*)&ta, sizeof(ta));
  la = sizeof(closed);
  getsockname(tmp, (struct sockaddr*)&closed, &la);
  close(tmp);
  int r = socket(AF_INET, SOCK_STREAM, 0);
  CHECK_ERRNO("connect refused", connect(r, (struct sockaddr*)&closed, sizeof(closed)), ECONNREFUSED);
  CHECK_ERRNO("and again", connect(r, (struct sockaddr*)&closed, sizeof(closed)), ECONNREFUSED);
  close(r);

  // A blocking connection and its names.
  int c = socket(AF_INET, SOCK_STREAM, 0);
  CHECK("connect", connect(c, (struct sockaddr*)&la_addr, sizeof(la_addr)) == 0);
  CHECK_ERRNO("connect again", connect(c, (struct sockaddr*)&la_addr, sizeof(la_addr)), EISCONN);
  CHECK("listener readable", wait_revents(l, POLLIN) == POLLIN);
  struct sockaddr_in ca, pa, peer;
  la = sizeof(ca);
  getsockname(c, (struct sockaddr*)&ca, &la);
  CHECK("client name", ca.sin_addr.s_addr == htonl(INADDR_LOOPBACK) && ca.sin_port != 0);
  la = sizeof(pa);
  CHECK("client peer", getpeername(c, (struct sockaddr*)&pa, &la) == 0 && pa.sin_port == la_addr.sin_port);
  la = sizeof(peer);
  int acc = accept(l, (struct sockaddr*)&peer, &la);
  CHECK("accept", acc >= 0 && la == sizeof(peer) && peer.sin_port == ca.sin_port);
  la = sizeof(pa);
  CHECK("accepted name is the listener's",
        getsockname(acc, (struct sockaddr*)&pa, &la) == 0 && pa.sin_port == la_addr.sin_port);
  CHECK("TCP_MAXSEG connected", getsockopt(c, IPPROTO_TCP, TCP_MAXSEG, &v, &len) == 0 && v > 536);
  CHECK("write", write(c, "hello", 5) == 5);
  CHECK("readable", wait_revents(acc, POLLIN) == POLLIN);
  int n = 0;
  CHECK("FIONREAD", ioctl(acc, FIONREAD, &n) == 0 && n == 5);
  CHECK("peek", recv(acc, buf, 3, MSG_PEEK) == 3 && memcmp(buf, "hel", 3) == 0);
  CHECK("read", read(acc, buf, sizeof(buf)) == 5 && memcmp(buf, "hello", 5) == 0);
  CHECK_ERRNO("nothing more", recv(acc, buf, 1, MSG_DONTWAIT), EAGAIN);
  CHECK("other way", write(acc, "world!", 6) == 6 && read(c, buf, sizeof(buf)) == 6);
  // A megabyte from a child, read with MSG_WAITALL: the window holds the writer back.
  pid_t pid = fork();
  if (pid == 0) {
    static char big[1 << 20];
    for (size_t i = 0; i < sizeof(big); i++) big[i] = (char)(i * 7);
    size_t done = 0;
    while (done < sizeof(big)) {
      ssize_t w = write(acc, big + done, sizeof(big) - done);
      if (w <= 0) _exit(1);
      done += (size_t)w;
    }
    _exit(0);
  }
  static char got[1 << 20];
  ssize_t total = recv(c, got, sizeof(got), MSG_WAITALL);
  int same = total == (ssize_t)sizeof(got);
  for (size_t i = 0; same && i < sizeof(got); i++) same = got[i] == (char)(i * 7);
  CHECK("a megabyte arrives intact", same);
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK("writer done", WIFEXITED(st) && WEXITSTATUS(st) == 0);
  // Orderly close: the server's FIN after its last bytes.
  CHECK("last words", write(acc, "bye", 3) == 3);
  close(acc);
  CHECK("EOF pending: IN|RDHUP", (wait_revents(c, POLLIN | POLLRDHUP) & (POLLIN | POLLRDHUP)) == (POLLIN | POLLRDHUP));
  CHECK("data before EOF", read(c, buf, sizeof(buf)) == 3);
  CHECK("EOF", read(c, buf, sizeof(buf)) == 0);
  CHECK("a send to the closed peer goes out", send(c, "x", 1, MSG_NOSIGNAL) == 1);
  wait_revents(c, POLLERR);
  CHECK_ERRNO("its reset answers EPIPE", send(c, "x", 1, MSG_NOSIGNAL), EPIPE);
  close(c);

  // Nonblocking connect.
  int nb = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  CHECK_ERRNO("nonblocking connect", connect(nb, (struct sockaddr*)&la_addr, sizeof(la_addr)), EINPROGRESS);
  CHECK("becomes writable", (wait_revents(nb, POLLOUT) & POLLOUT) != 0);
  CHECK("SO_ERROR 0", getsockopt(nb, SOL_SOCKET, SO_ERROR, &v, &len) == 0 && v == 0);
  CHECK("connect completes", connect(nb, (struct sockaddr*)&la_addr, sizeof(la_addr)) == 0);
  CHECK_ERRNO("then connected", connect(nb, (struct sockaddr*)&la_addr, sizeof(la_addr)), EISCONN);
  acc = accept(l, NULL, NULL);
  // shutdown(SHUT_WR): the peer reads EOF and can still answer.
  CHECK("shutdown SHUT_WR", shutdown(nb, SHUT_WR) == 0);
  CHECK("peer EOF", read(acc, buf, sizeof(buf)) == 0);
  CHECK("peer answers", write(acc, "still", 5) == 5 && wait_revents(nb, POLLIN) && read(nb, buf, sizeof(buf)) == 5);
  CHECK_ERRNO("send after SHUT_WR", send(nb, "x", 1, MSG_NOSIGNAL), EPIPE);
  close(acc);
  close(nb);
  // Close with unread data: a reset.
  c = socket(AF_INET, SOCK_STREAM, 0);
  connect(c, (struct sockaddr*)&la_addr, sizeof(la_addr));
  acc = accept(l, NULL, NULL);
  write(c, "unread", 6);
  wait_revents(acc, POLLIN);
  close(acc);
  CHECK("reset: ERR|HUP", (wait_revents(c, POLLIN) & (POLLERR | POLLHUP)) == (POLLERR | POLLHUP));
  CHECK_ERRNO("ECONNRESET", read(c, buf, sizeof(buf)), ECONNRESET);
  CHECK("then EOF", read(c, buf, sizeof(buf)) == 0);
  close(c);
  close(l);

  // A full accept queue (backlog 1 holds two): the next SYN is dropped and the connect stays in
  // progress; once one is accepted, the retransmitted SYN gets in (about a second later).
  l = listener(&la_addr, 1);
  int q[3];
  for (int i = 0; i < 3; i++) {
    q[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(q[i], (struct sockaddr*)&la_addr, sizeof(la_addr));
  }
  CHECK("backlog 1 takes two connections",
        wait_revents(q[0], POLLOUT) == POLLOUT && wait_revents(q[1], POLLOUT) == POLLOUT);
  struct pollfd p3 = {q[2], POLLOUT, 0};
  CHECK("the third waits", poll(&p3, 1, 300) == 0);
  int a0 = accept(l, NULL, NULL);
  p3.revents = 0;
  CHECK("it gets in once one is accepted", a0 >= 0 && poll(&p3, 1, 10000) == 1 && (p3.revents & POLLOUT));
  v = -1;
  len = sizeof(v);
  CHECK("without error", getsockopt(q[2], SOL_SOCKET, SO_ERROR, &v, &len) == 0 && v == 0);
  for (int i = 0; i < 3; i++) close(q[i]);
  close(a0);
  close(l);

  // 500 connections at once.
  enum { N = 500 };
  static int cl[N], sr[N];
  l = listener(&la_addr, N + 10);
  int ok = l >= 0;
  for (int i = 0; i < N && ok; i++) {
    cl[i] = socket(AF_INET, SOCK_STREAM, 0);
    ok = cl[i] >= 0 && connect(cl[i], (struct sockaddr*)&la_addr, sizeof(la_addr)) == 0;
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
  epoll_edges();
  sendfile_position();
  return ABI_DONE();
}
