// tcp-client HOST PORT SIZE: connects, sends SIZE pattern bytes, shuts its side down, reads
// what comes back until end of file and checks it is the same bytes (the peer of the TCP stack
// tests echoes). Prints "echo N ok" and exits 0, or says what went wrong and exits 1.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static unsigned char out[1 << 20], in[1 << 20];

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  size_t size = strtoul(argv[3], NULL, 0);
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
    return 1;
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
