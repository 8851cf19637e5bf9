/* futex(2): private and shared keys (threads, forked processes, one file mapped at two
 * addresses), wake counts, bitsets, requeue, timeouts and errors, and what libc builds on them
 * (a barrier hammered by four threads, process-shared semaphores). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include "abi_check.h"

/* <linux/futex.h> (musl's headers do not include the kernel's). */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAKE_BITSET 10
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_WAIT_PRIVATE (FUTEX_WAIT | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_PRIVATE (FUTEX_WAKE | FUTEX_PRIVATE_FLAG)
#define FUTEX_CMP_REQUEUE_PRIVATE (FUTEX_CMP_REQUEUE | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAIT_BITSET_PRIVATE (FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_BITSET_PRIVATE (FUTEX_WAKE_BITSET | FUTEX_PRIVATE_FLAG)

static long futex(void* addr, int op, uint32_t val, const struct timespec* ts, void* addr2, uint32_t val3) {
  return syscall(SYS_futex, addr, op, val, ts, addr2, val3);
}

/* Wakes until `want` waiters were woken (they may not all sleep yet); gives up after ~5 s. */
static long wake_until(void* addr, int op, long want, uint32_t bitset) {
  long total = 0;
  for (int i = 0; i < 5000 && total < want; ++i) {
    long n = (op & ~FUTEX_PRIVATE_FLAG) == FUTEX_WAKE_BITSET
                 ? futex(addr, op, (uint32_t)(want - total), NULL, NULL, bitset)
                 : futex(addr, op, (uint32_t)(want - total), NULL, NULL, 0);
    if (n > 0) total += n;
    if (total < want) usleep(1000);
  }
  return total;
}

static _Atomic uint32_t word_a, word_b;
static _Atomic int started;

static void* wait_a(void* arg) {
  uint32_t bitset = (uint32_t)(uintptr_t)arg;
  atomic_fetch_add(&started, 1);
  long r = bitset ? futex(&word_a, FUTEX_WAIT_BITSET_PRIVATE, 0, NULL, NULL, bitset)
                  : futex(&word_a, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
  return (void*)(intptr_t)r;
}

static pthread_barrier_t barrier;
static _Atomic long rounds_done;
static void* barrier_loop(void* arg) {
  (void)arg;
  for (int i = 0; i < 1000; ++i) {
    pthread_barrier_wait(&barrier);
    atomic_fetch_add(&rounds_done, 1);
  }
  return NULL;
}

int main(void) {
  /* Errors. */
  struct timespec ten_ms = {0, 10 * 1000 * 1000};
  uint32_t w = 5;
  CHECK_ERRNO("FUTEX_WAIT on a changed value", futex(&w, FUTEX_WAIT_PRIVATE, 4, NULL, NULL, 0), EAGAIN);
  CHECK_ERRNO("FUTEX_WAIT times out", futex(&w, FUTEX_WAIT_PRIVATE, 5, &ten_ms, NULL, 0), ETIMEDOUT);
  CHECK_ERRNO("a misaligned word", futex((char*)&w + 1, FUTEX_WAIT_PRIVATE, 5, &ten_ms, NULL, 0), EINVAL);
  CHECK_ERRNO("a bad address", futex((void*)16, FUTEX_WAIT_PRIVATE, 0, &ten_ms, NULL, 0), EFAULT);
  CHECK_ERRNO("a zero bitset", futex(&w, FUTEX_WAIT_BITSET_PRIVATE, 5, NULL, NULL, 0), EINVAL);
  struct timespec bad = {0, 1000000000};
  CHECK_ERRNO("a bad timeout", futex(&w, FUTEX_WAIT_PRIVATE, 5, &bad, NULL, 0), EINVAL);
  CHECK("FUTEX_WAKE with nobody waiting", futex(&w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) == 0);

  /* Threads: wake counts. */
  pthread_t t[4];
  for (int i = 0; i < 3; ++i) pthread_create(&t[i], NULL, wait_a, NULL);
  CHECK("wake 1 of 3", wake_until(&word_a, FUTEX_WAKE_PRIVATE, 1, 0) == 1);
  CHECK("wake the other 2", wake_until(&word_a, FUTEX_WAKE_PRIVATE, 2, 0) == 2);
  int ok = 1;
  for (int i = 0; i < 3; ++i) {
    void* r;
    pthread_join(t[i], &r);
    ok &= r == 0;
  }
  CHECK("each waiter returned 0", ok);

  /* Bitsets: a wake for other bits leaves the waiter alone. */
  started = 0;
  pthread_create(&t[0], NULL, wait_a, (void*)(uintptr_t)1);
  while (started < 1) usleep(100);
  usleep(20000);
  CHECK("FUTEX_WAKE_BITSET for other bits wakes nobody",
        futex(&word_a, FUTEX_WAKE_BITSET_PRIVATE, 1, NULL, NULL, 2) == 0);
  CHECK("FUTEX_WAKE_BITSET for its bit", wake_until(&word_a, FUTEX_WAKE_BITSET_PRIVATE, 1, 3) == 1);
  pthread_join(t[0], NULL);

  /* Requeue: 3 waiters on a; wake 1, move 2 to b; a wake on b finds them. */
  started = 0;
  for (int i = 0; i < 3; ++i) pthread_create(&t[i], NULL, wait_a, NULL);
  while (started < 3) usleep(100);
  usleep(50000);
  CHECK_ERRNO("FUTEX_CMP_REQUEUE with a changed value",
              futex(&word_a, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void*)2, &word_b, 7), EAGAIN);
  CHECK("FUTEX_CMP_REQUEUE: 1 woken + 2 moved",
        futex(&word_a, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void*)2, &word_b, 0) == 3);
  CHECK("nobody left on a", futex(&word_a, FUTEX_WAKE_PRIVATE, 10, NULL, NULL, 0) == 0);
  CHECK("both found on b", wake_until(&word_b, FUTEX_WAKE_PRIVATE, 2, 0) == 2);
  for (int i = 0; i < 3; ++i) pthread_join(t[i], NULL);

  /* A barrier, 4 threads x 1000 rounds. */
  pthread_barrier_init(&barrier, NULL, 4);
  for (int i = 0; i < 4; ++i) pthread_create(&t[i], NULL, barrier_loop, NULL);
  for (int i = 0; i < 4; ++i) pthread_join(t[i], NULL);
  CHECK("pthread_barrier_wait: 4 threads x 1000 rounds", rounds_done == 4000);

  /* Shared anonymous memory across fork: a shared wake reaches the child; a private one does not. */
  _Atomic uint32_t* sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  sh[0] = 0;
  sh[1] = 0;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    sh[1] = 1;
    long r = futex((void*)&sh[0], FUTEX_WAIT, 0, NULL, NULL, 0);
    _exit(r == 0 ? 0 : 1);
  }
  while (sh[1] == 0) usleep(100);
  usleep(50000);
  CHECK("a private wake does not reach another process",
        futex((void*)&sh[0], FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) == 0);
  CHECK("a shared wake reaches the child", wake_until((void*)&sh[0], FUTEX_WAKE, 1, 0) == 1);
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK("the child's wait returned 0", WIFEXITED(st) && WEXITSTATUS(st) == 0);

  /* One file mapped at two addresses: the same futex. */
  char path[] = "/tmp/futexXXXXXX";
  int fd = mkstemp(path);
  CHECK("ftruncate", ftruncate(fd, 8192) == 0);
  _Atomic uint32_t* m1 = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  _Atomic uint32_t* m2 = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4096);
  CHECK("two mappings", m1 != MAP_FAILED && m2 != MAP_FAILED && (void*)m2 != (void*)(m1 + 1024));
  m1[1024 + 3] = 0;
  pid = fork();
  if (pid == 0) {
    long r = futex((void*)&m1[1024 + 3], FUTEX_WAIT, 0, NULL, NULL, 0);
    _exit(r == 0 ? 0 : 1);
  }
  CHECK("a wake through the other mapping", wake_until((void*)&m2[3], FUTEX_WAKE, 1, 0) == 1);
  waitpid(pid, &st, 0);
  CHECK("its waiter returned 0", WIFEXITED(st) && WEXITSTATUS(st) == 0);
  unlink(path);

  /* Process-shared semaphores. */
  sem_t* sem = mmap(NULL, sizeof(sem_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK("sem_init(pshared)", sem_init(sem, 1, 0) == 0);
  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    int bad = 0;
    for (int i = 0; i < 200; ++i) bad |= sem_wait(sem) != 0;
    _exit(bad);
  }
  for (int i = 0; i < 200; ++i) {
    sem_post(sem);
    if (i % 50 == 0) usleep(1000);
  }
  waitpid(pid, &st, 0);
  CHECK("200 posts reach a waiting child", WIFEXITED(st) && WEXITSTATUS(st) == 0);
  return ABI_DONE();
}
