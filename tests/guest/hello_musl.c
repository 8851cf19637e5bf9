/* An unmodified musl-static C program: libc start-up, TLS, stdio buffering, exit status. */
#include <stdio.h>
#include <string.h>

static __thread int tls_counter = 41;

int main(int argc, char** argv) {
  tls_counter++;
  printf("hello from musl, argc=%d argv[0]=%s tls=%d\n", argc, argv[0], tls_counter);
  for (int i = 1; i < argc; i++) printf("arg %d: %s\n", i, argv[i]);
  if (argc > 1 && strcmp(argv[1], "fault") == 0) *(volatile int*)16 = 1;
  if (argc > 1 && strcmp(argv[1], "exit7") == 0) return 7;
  return 0;
}
