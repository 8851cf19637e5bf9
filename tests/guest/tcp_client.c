// tcp-client HOST PORT SIZE: connects, sends SIZE pattern bytes, shuts its side down, reads
// what comes back until end of file and checks it is the same bytes (the peer of the TCP stack
// tests echoes). Prints "echo N ok" and exits 0, or says what went wrong and exits 1.
// tcp-client HOST PORT keepalive: connects with keepalive probes after 1 s idle, every 1 s, 2 of
// them, and waits to read for 5 s: "read: Connection timed out" (exit 1) when the probes went
// unanswered, "still connected" (exit 0) when the peer answered them. A failed connect exits
// with 64 + errno.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/time.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static unsigned char out[1 << 20], in[1 << 20];

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  int keepalive = strcmp(argv[3], "keepalive") == 0;
  size_t size = keepalive ? 0 : strtoul(argv[3], NULL, 0);
  if (size > sizeof out) return 2;
  signal(SIGPIPE, SIG_IGN);  // a reset shows as EPIPE / ECONNRESET, reported
  for (size_t i = 0; i < size; ++i) out[i] = (unsigned char)(i * 13 + i / 7);
  // HOST is an IPv4 or (with a colon) an IPv6 address.
  int v6 = strchr(argv[1], ':') != NULL;
  int s = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
  struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = a.sin_port};
  inet_pton(AF_INET, argv[1], &a.sin_addr);
  inet_pton(AF_INET6, argv[1], &a6.sin6_addr);
  int r = v6 ? connect(s, (struct sockaddr*)&a6, sizeof a6) : connect(s, (struct sockaddr*)&a, sizeof a);
  if (r != 0) {
    printf("connect: %s\n", strerror(errno));
    return 64 + errno; /* which error, for the test */
  }
  if (keepalive) {
    int one = 1, cnt = 2;
    struct timeval tv = {5, 0};
    setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    setsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &one, sizeof one);
    setsockopt(s, IPPROTO_TCP, TCP_KEEPINTVL, &one, sizeof one);
    setsockopt(s, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char c;
    if (read(s, &c, 1) < 0 && errno != EAGAIN) {
      printf("read: %s\n", strerror(errno));
      return 1;
    }
    printf("still connected\n");
    return 0;
  }
  for (size_t off = 0; off < size;) {
    ssize_t n = write(s, out + off, size - off);
    if (n <= 0) {
      printf("write: %s\n", strerror(errno));
      return 1;
    }
    off += (size_t)n;
  }
  shutdown(s, SHUT_WR);
  size_t got = 0;
  for (;;) {
    ssize_t n = read(s, in + got, sizeof in - got);
    if (n < 0) {
      printf("read after %zu: %s\n", got, strerror(errno));
      return 1;
    }
    if (n == 0) break;
    got += (size_t)n;
  }
  if (got != size || memcmp(in, out, size) != 0) {
    printf("echo %zu of %zu bytes differs\n", got, size);
    return 1;
  }
  printf("echo %zu ok\n", got);
  return 0;
}
