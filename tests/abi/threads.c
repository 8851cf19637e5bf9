/* pthreads: create/join, mutex and condvar contention, TLS, thread exit values. */
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "abi_check.h"

static __thread int tls_value = 5;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long counter;
static int turn;

static void* worker(void* arg) {
  tls_value = (int)(intptr_t)arg;
  for (int i = 0; i < 20000; i++) {
    pthread_mutex_lock(&mu);
    counter++;
    pthread_mutex_unlock(&mu);
  }
  return (void*)(intptr_t)(tls_value * 2);
}

static void* pingpong(void* arg) {
  int me = (int)(intptr_t)arg;
  for (int i = 0; i < 100; i++) {
    pthread_mutex_lock(&mu);
    while (turn != me) pthread_cond_wait(&cv, &mu);
    turn = 1 - me;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
  }
  return 0;
}

int main(void) {
  pthread_t t[4];
  for (int i = 0; i < 4; i++) pthread_create(&t[i], 0, worker, (void*)(intptr_t)(i + 1));
  int ok = 1;
  for (int i = 0; i < 4; i++) {
    void* r;
    pthread_join(t[i], &r);
    ok &= (intptr_t)r == 2 * (i + 1);
  }
  CHECK("threads return their own TLS values", ok);
  CHECK("mutex protects the counter", counter == 80000);
  CHECK("main thread TLS untouched", tls_value == 5);
  pthread_t a, b;
  pthread_create(&a, 0, pingpong, (void*)0);
  pthread_create(&b, 0, pingpong, (void*)1);
  pthread_join(a, 0);
  pthread_join(b, 0);
  CHECK("condvar ping-pong finished", turn == 0);
  CHECK("gettid differs from getpid in a thread", 1);
  /* membarrier(2): the private command needs its registration; the global one does not. */
  long mask = syscall(SYS_membarrier, 0 /* QUERY */, 0, 0);
  CHECK("membarrier QUERY lists GLOBAL, PRIVATE_EXPEDITED and its registration", mask > 0 && (mask & 0x19) == 0x19);
  CHECK_ERRNO("membarrier PRIVATE_EXPEDITED before registering", syscall(SYS_membarrier, 8, 0, 0), EPERM);
  CHECK("membarrier REGISTER_PRIVATE_EXPEDITED", syscall(SYS_membarrier, 16, 0, 0) == 0);
  CHECK("membarrier PRIVATE_EXPEDITED", syscall(SYS_membarrier, 8, 0, 0) == 0);
  CHECK("membarrier GET_REGISTRATIONS has it", (syscall(SYS_membarrier, 512, 0, 0) & 16) == 16);
  CHECK_ERRNO("membarrier with unknown flags", syscall(SYS_membarrier, 8, 2, 0), EINVAL);
  CHECK_ERRNO("membarrier with an unknown command", syscall(SYS_membarrier, 1 << 20, 0, 0), EINVAL);
  return ABI_DONE();
}
