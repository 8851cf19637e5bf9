command -v gcc >/dev/null || { echo "SKIP: no gcc"; exit 0; }
cat > t.c <<'C'
#include <pthread.h>
#include <stdio.h>
static long total; static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static void *w(void *a) { for (int i = 0; i < 100000; i++) { pthread_mutex_lock(&m); total++; pthread_mutex_unlock(&m); } return a; }
int main(void) { pthread_t t[4]; for (int i = 0; i < 4; i++) pthread_create(&t[i], 0, w, 0); for (int i = 0; i < 4; i++) pthread_join(t[i], 0); printf("%ld\n", total); }
C
printf 't: t.c\n\tgcc -O2 -pthread -o $@ $<\n' > Makefile && make -s -j2 && ./t
