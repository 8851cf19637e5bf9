/* The guest of the `frames` fuzz target: opens what hostile frames can reach (a TCP listener
 * on port 80, a UDP socket on port 53, both dual-stack, a TCP connection being made to 10.0.2.2:80, whose ARP
 * request is the first frame the NIC sends and lets the test NIC deliver the fuzzer's frames),
 * then takes whatever arrives for a few milliseconds: accepts and reads connections, reads and
 * answers datagrams. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

int main(void) {
  /* Dual-stack sockets: IPv4 frames reach them IPv4-mapped, IPv6 ones directly. */
  struct sockaddr_in6 any = {.sin6_family = AF_INET6, .sin6_port = htons(80)};
  int l = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
  bind(l, (struct sockaddr*)&any, sizeof any);
  listen(l, 8);
  int u = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  any.sin6_port = htons(53);
  bind(u, (struct sockaddr*)&any, sizeof any);
  struct sockaddr_in host = {.sin_family = AF_INET, .sin_port = htons(80)};
  inet_pton(AF_INET, "10.0.2.2", &host.sin_addr);
  int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  connect(c, (struct sockaddr*)&host, sizeof host);
  struct pollfd p[12] = {{l, POLLIN, 0}, {u, POLLIN, 0}, {c, POLLIN | POLLOUT, 0}};
  int n = 3;
  char buf[2048];
  for (long end = now_ms() + 20; now_ms() < end;) {
    if (poll(p, n, 5) <= 0) continue;
    for (int i = 0; i < n; ++i) {
      if (p[i].revents == 0) continue;
      if (p[i].fd == l) {
        int a = accept4(l, NULL, NULL, SOCK_NONBLOCK);
        if (a >= 0 && n < 12) p[n++] = (struct pollfd){a, POLLIN, 0};
        else if (a >= 0) close(a);
      } else if (p[i].fd == u) {
        struct sockaddr_in6 from;
        socklen_t len = sizeof from;
        ssize_t r = recvfrom(u, buf, sizeof buf, 0, (struct sockaddr*)&from, &len);
        if (r > 0) sendto(u, buf, (size_t)r, 0, (struct sockaddr*)&from, len);
      } else {
        ssize_t r = read(p[i].fd, buf, sizeof buf);
        if (r > 0) (void)write(p[i].fd, buf, (size_t)r);
        if (r == 0 || (p[i].revents & (POLLERR | POLLHUP))) p[i].events = 0;
      }
    }
  }
  return 0;
}
