// udp-client HOST PORT SIZE: sends one datagram of SIZE pattern bytes to HOST:PORT and waits
// (2 s, three tries) for the answer, which the net tests' host server makes the same bytes
// reversed. Prints "reply N ok" or what went wrong. SIZE past the MTU exercises fragmentation
// both ways (our fragments out, the router's in).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: udp-client HOST PORT SIZE\n");
    return 2;
  }
  size_t size = strtoul(argv[3], NULL, 0);
  static unsigned char out[65536], in[65536];
  if (size > sizeof out) return 2;
  for (size_t i = 0; i < size; ++i) out[i] = (unsigned char)(i * 7 + i / 251);
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
  if (s < 0 || inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) {
    perror("socket");
    return 1;
  }
  struct timeval tv = {.tv_sec = 2};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (sendto(s, out, size, 0, (struct sockaddr*)&a, sizeof a) != (ssize_t)size) {
      perror("sendto");
      return 1;
    }
    ssize_t n = recv(s, in, sizeof in, 0);
    if (n < 0) continue;
    int ok = (size_t)n == size;
    for (size_t i = 0; ok && i < size; ++i) ok = in[i] == out[size - 1 - i];
    printf("reply %zd %s\n", n, ok ? "ok" : "corrupt");
    return ok ? 0 : 1;
  }
  printf("no reply\n");
  return 1;
}
