/* System V semaphores and message queues: get by key and IPC_PRIVATE, IPC_CREAT/IPC_EXCL,
 * permissions, semop's all-or-nothing operations, blocking and waking across processes,
 * IPC_NOWAIT, semtimedop's timeout, SEM_UNDO at exit, GETVAL/GETALL/SETVAL/SETALL/GETPID/GETNCNT,
 * IPC_STAT/IPC_SET/IPC_RMID (waiters see EIDRM), message types (first, by type, MSG_EXCEPT,
 * lowest up to a bound), MSG_NOERROR and E2BIG, MSG_COPY, queue limits, /proc/sysvipc, the
 * limits in /proc/sys/kernel (the same as IPC_INFO's); with the errno of every documented
 * failure. Run natively (as root) and under the kernel: the outputs
 * must match. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include "abi_check.h"

#ifndef MSG_COPY
#define MSG_COPY 040000
#endif

union semun {
  int val;
  struct semid_ds* buf;
  unsigned short* array;
};

struct msgbuf64 {
  long type;
  char text[64];
};

/* Keys of this run: the native runs of the test on several backends share the host's IPC
 * namespace and may run at once. */
static key_t run_key(int n) { return (key_t)(0x5a000000 | ((getpid() & 0xfffff) << 4) | n); }

static int in_proc(const char* file, int id) {
  char buf[8192], want[32];
  snprintf(want, sizeof want, " %d ", id);
  return read_text(file, buf, sizeof buf) > 0 && strstr(buf, want) != NULL;
}

static void semaphores(void) {
  const key_t key = run_key(0x01);
  int old = semget(key, 0, 0);
  if (old >= 0) semctl(old, 0, IPC_RMID);
  CHECK_ERRNO("semget of a missing key: ENOENT", semget(key, 2, 0600), ENOENT);
  int id = semget(key, 3, IPC_CREAT | IPC_EXCL | 0600);
  CHECK("semget(IPC_CREAT|IPC_EXCL)", id >= 0);
  CHECK("the same key finds it", semget(key, 2, 0600) == id);
  CHECK_ERRNO("IPC_EXCL again: EEXIST", semget(key, 3, IPC_CREAT | IPC_EXCL | 0600), EEXIST);
  CHECK_ERRNO("more semaphores than the set has: EINVAL", semget(key, 4, 0600), EINVAL);
  CHECK_ERRNO("IPC_PRIVATE with none: EINVAL", semget(IPC_PRIVATE, 0, 0600), EINVAL);
  CHECK_ERRNO("nsems -1: EINVAL", semget(IPC_PRIVATE, -1, 0600), EINVAL);
  struct semid_ds ds;
  CHECK("IPC_STAT", semctl(id, 0, IPC_STAT, (union semun){.buf = &ds}) == 0 && ds.sem_nsems == 3 &&
                        (ds.sem_perm.mode & 0777) == 0600 && ds.sem_perm.uid == getuid() && ds.sem_perm.__key == key);
  CHECK("starts at 0", semctl(id, 1, GETVAL) == 0);
  CHECK("SETVAL 5", semctl(id, 1, SETVAL, (union semun){.val = 5}) == 0 && semctl(id, 1, GETVAL) == 5);
  CHECK("GETPID is the setter", semctl(id, 1, GETPID) == getpid());
  unsigned short all[3] = {1, 2, 3}, got[3] = {0, 0, 0};
  CHECK("SETALL and GETALL", semctl(id, 0, SETALL, (union semun){.array = all}) == 0 &&
                                 semctl(id, 0, GETALL, (union semun){.array = got}) == 0 && got[0] == 1 &&
                                 got[1] == 2 && got[2] == 3);
  CHECK_ERRNO("SETVAL 32768: ERANGE", semctl(id, 0, SETVAL, (union semun){.val = 32768}), ERANGE);
  CHECK_ERRNO("SETVAL -1: ERANGE", semctl(id, 0, SETVAL, (union semun){.val = -1}), ERANGE);
  CHECK_ERRNO("GETVAL of semaphore 3: EINVAL", semctl(id, 3, GETVAL), EINVAL);

  /* All or nothing. */
  struct sembuf two[2] = {{0, -1, 0}, {1, -5, IPC_NOWAIT}};
  CHECK_ERRNO("one op cannot proceed (IPC_NOWAIT): EAGAIN", semop(id, two, 2), EAGAIN);
  CHECK("and nothing changed", semctl(id, 0, GETVAL) == 1 && semctl(id, 1, GETVAL) == 2);
  two[1].sem_op = -2;
  CHECK("both proceed", semop(id, two, 2) == 0 && semctl(id, 0, GETVAL) == 0 && semctl(id, 1, GETVAL) == 0);
  struct sembuf zero = {0, 0, IPC_NOWAIT};
  CHECK("wait-for-zero on a zero semaphore", semop(id, &zero, 1) == 0);
  struct sembuf up = {2, 1, 0};
  zero.sem_num = 2;
  CHECK("up, then wait-for-zero blocks: EAGAIN",
        semop(id, &up, 1) == 0 && semop(id, &zero, 1) == -1 && errno == EAGAIN);

  /* Blocking: a child's V wakes the parent's P. */
  struct sembuf p_op = {0, -1, 0}, v_op = {0, 1, 0};
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    sleep_ms(30);
    _exit(semop(id, &v_op, 1) == 0 ? 0 : 1);
  }
  CHECK("P blocks until the child's V", semop(id, &p_op, 1) == 0);
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK("and the child's V succeeded", WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK("GETPID is the last to operate: us", semctl(id, 0, GETPID) == getpid());
  struct timespec ts = {0, 30000000};
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  CHECK_ERRNO("semtimedop times out: EAGAIN", semtimedop(id, &p_op, 1, &ts), EAGAIN);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  CHECK("not before 30 ms", (t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec) >= 30000000);
  ts.tv_nsec = 1000000000;
  CHECK_ERRNO("semtimedop: tv_nsec 1e9: EINVAL", semtimedop(id, &p_op, 1, &ts), EINVAL);

  /* GETNCNT while a child waits; SEM_UNDO undone at exit. */
  fflush(stdout);
  pid = fork();
  if (pid == 0) _exit(semop(id, &p_op, 1) == 0 ? 0 : 1);
  int waiting = 0;
  for (int i = 0; i < 500 && !waiting; ++i) {
    waiting = semctl(id, 0, GETNCNT) == 1;
    if (!waiting) sleep_ms(2);
  }
  CHECK("GETNCNT counts the waiting child", waiting);
  semop(id, &v_op, 1);
  waitpid(pid, &st, 0);
  CHECK("the child got it", WIFEXITED(st) && WEXITSTATUS(st) == 0 && semctl(id, 0, GETNCNT) == 0);
  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    struct sembuf undo_up = {1, 4, SEM_UNDO};
    semop(id, &undo_up, 1);
    _exit(semctl(id, 1, GETVAL) == 4 ? 0 : 1);
  }
  waitpid(pid, &st, 0);
  CHECK("SEM_UNDO: the child's +4 undone at its exit",
        WIFEXITED(st) && WEXITSTATUS(st) == 0 && semctl(id, 1, GETVAL) == 0);
  CHECK("/proc/sysvipc/sem lists the set", in_proc("/proc/sysvipc/sem", id));

  /* Errors. */
  struct sembuf bad = {7, 1, 0};
  CHECK_ERRNO("semop on semaphore 7 of 3: EFBIG", semop(id, &bad, 1), EFBIG);
  CHECK_ERRNO("semop with no operations: EINVAL", semop(id, &bad, 0), EINVAL);
  CHECK_ERRNO("semop with 501 operations: E2BIG", semop(id, &bad, 501), E2BIG);
  CHECK_ERRNO("semop: bad pointer: EFAULT", semop(id, (struct sembuf*)8, 1), EFAULT);
  CHECK_ERRNO("semop: no such set: EINVAL", semop(0x7ffffffe, &v_op, 1), EINVAL);
  CHECK_ERRNO("semctl: bad command: EINVAL", semctl(id, 0, 99), EINVAL);

  /* IPC_SET, permissions for another user, IPC_RMID with a waiter. */
  ds.sem_perm.mode = 0640;
  CHECK("IPC_SET the mode", semctl(id, 0, IPC_SET, (union semun){.buf = &ds}) == 0 &&
                                semctl(id, 0, IPC_STAT, (union semun){.buf = &ds}) == 0 &&
                                (ds.sem_perm.mode & 0777) == 0640);
  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    setuid(65534);
    errno = 0;
    int e1 = semop(id, &v_op, 1) == -1 && errno == EACCES;
    errno = 0;
    int e2 = semctl(id, 0, IPC_RMID) == -1 && errno == EPERM;
    errno = 0;
    int e3 = semget(key, 1, 0600) == -1 && errno == EACCES;
    _exit(e1 && e2 && e3 ? 0 : 1);
  }
  waitpid(pid, &st, 0);
  CHECK("another user: EACCES to operate or get, EPERM to remove", WIFEXITED(st) && WEXITSTATUS(st) == 0);
  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    semctl(id, 0, SETVAL, (union semun){.val = 0});
    errno = 0;
    _exit(semop(id, &p_op, 1) == -1 && errno == EIDRM ? 0 : 1);
  }
  waiting = 0;
  for (int i = 0; i < 500 && !waiting; ++i) {
    waiting = semctl(id, 0, GETNCNT) == 1;
    if (!waiting) sleep_ms(2);
  }
  CHECK("IPC_RMID", semctl(id, 0, IPC_RMID) == 0);
  waitpid(pid, &st, 0);
  CHECK("the waiter sees EIDRM", waiting && WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK_ERRNO("removed: EINVAL", semctl(id, 0, GETVAL), EINVAL);
  CHECK("a private set is a new one", (id = semget(IPC_PRIVATE, 1, 0600)) >= 0 && semctl(id, 0, IPC_RMID) == 0);
}

static void messages(void) {
  const key_t key = run_key(0x02);
  int old = msgget(key, 0);
  if (old >= 0) msgctl(old, IPC_RMID, NULL);
  int q = msgget(key, IPC_CREAT | 0600);
  CHECK("msgget(IPC_CREAT)", q >= 0);
  CHECK("the same key finds it", msgget(key, 0) == q);
  struct msgbuf64 m = {0};
  for (int i = 1; i <= 3; ++i) {
    m.type = i;
    snprintf(m.text, sizeof m.text, "message %d", i);
    msgsnd(q, &m, strlen(m.text) + 1, 0);
  }
  m.type = 2;
  strcpy(m.text, "second two");
  msgsnd(q, &m, strlen(m.text) + 1, 0);
  struct msqid_ds ds;
  CHECK("IPC_STAT: 4 messages",
        msgctl(q, IPC_STAT, &ds) == 0 && ds.msg_qnum == 4 && ds.msg_lspid == getpid() && ds.msg_cbytes == 10 * 3 + 11);
  struct msgbuf64 r;
  memset(&r, 0, sizeof r);
  CHECK("MSG_COPY takes a copy by position",
        msgrcv(q, &r, sizeof r.text, 1, IPC_NOWAIT | MSG_COPY) == 10 && r.type == 2);
  CHECK("type 2: the first of type 2", msgrcv(q, &r, sizeof r.text, 2, 0) == 10 && strcmp(r.text, "message 2") == 0);
  CHECK("type 0: the first", msgrcv(q, &r, sizeof r.text, 0, 0) == 10 && r.type == 1);
  CHECK("type 3 with MSG_EXCEPT: the first of another type",
        msgrcv(q, &r, sizeof r.text, 3, MSG_EXCEPT) == 11 && strcmp(r.text, "second two") == 0);
  m.type = 5;
  msgsnd(q, &m, 4, 0);
  m.type = 4;
  msgsnd(q, &m, 4, 0);
  CHECK("type -4: the lowest type up to 4", msgrcv(q, &r, sizeof r.text, -4, 0) == 10 && r.type == 3);
  CHECK_ERRNO("too small a buffer: E2BIG", msgrcv(q, &r, 2, 0, 0), E2BIG);
  CHECK("MSG_NOERROR truncates", msgrcv(q, &r, 2, 0, MSG_NOERROR) == 2 && r.type == 5);
  CHECK_ERRNO("no message of type 9 (IPC_NOWAIT): ENOMSG", msgrcv(q, &r, sizeof r.text, 9, IPC_NOWAIT), ENOMSG);
  CHECK_ERRNO("MSG_COPY without IPC_NOWAIT: EINVAL", msgrcv(q, &r, sizeof r.text, 0, MSG_COPY), EINVAL);

  /* A blocking receive woken by another process's send. */
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    sleep_ms(30);
    struct msgbuf64 c = {7, "from the child"};
    _exit(msgsnd(q, &c, 15, 0) == 0 ? 0 : 1);
  }
  CHECK("msgrcv blocks until the child's message",
        msgrcv(q, &r, sizeof r.text, 7, 0) == 15 && strcmp(r.text, "from the child") == 0);
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK("IPC_STAT: lrpid is us, one message left",
        msgctl(q, IPC_STAT, &ds) == 0 && ds.msg_lrpid == getpid() && ds.msg_qnum == 1);
  msgrcv(q, &r, sizeof r.text, 0, 0);

  /* A full queue. */
  ds.msg_qbytes = 100;
  CHECK("IPC_SET msg_qbytes 100",
        msgctl(q, IPC_SET, &ds) == 0 && msgctl(q, IPC_STAT, &ds) == 0 && ds.msg_qbytes == 100);
  m.type = 1;
  CHECK("60 bytes fit", msgsnd(q, &m, 60, IPC_NOWAIT) == 0);
  CHECK_ERRNO("60 more do not (IPC_NOWAIT): EAGAIN", msgsnd(q, &m, 60, IPC_NOWAIT), EAGAIN);
  CHECK("/proc/sysvipc/msg lists the queue", in_proc("/proc/sysvipc/msg", q));

  /* Errors. */
  m.type = 0;
  CHECK_ERRNO("msgsnd: type 0: EINVAL", msgsnd(q, &m, 4, 0), EINVAL);
  m.type = 1;
  CHECK_ERRNO("msgsnd: 8193 bytes: EINVAL", msgsnd(q, &m, 8193, 0), EINVAL);
  CHECK_ERRNO("msgsnd: bad pointer: EFAULT", msgsnd(q, (void*)8, 4, 0), EFAULT);
  CHECK_ERRNO("msgrcv: negative size: EINVAL", syscall(SYS_msgrcv, q, &r, -1L, 0, 0), EINVAL);
  CHECK_ERRNO("msgctl: bad command: EINVAL", msgctl(q, 99, &ds), EINVAL);
  CHECK_ERRNO("msgget: missing key: ENOENT", msgget(run_key(0x03), 0), ENOENT);

  /* IPC_RMID wakes a blocked sender with EIDRM. */
  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    struct msgbuf64 c = {1, "x"};
    errno = 0;
    _exit(msgsnd(q, &c, 60, 0) == -1 && errno == EIDRM ? 0 : 1);
  }
  sleep_ms(50);
  CHECK("IPC_RMID", msgctl(q, IPC_RMID, NULL) == 0);
  waitpid(pid, &st, 0);
  CHECK("the blocked sender sees EIDRM", WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK_ERRNO("removed: EINVAL", msgctl(q, IPC_STAT, &ds), EINVAL);
}

static void shared_memory(void) {
  const key_t key = run_key(0x04);
  int old = shmget(key, 0, 0);
  if (old >= 0) shmctl(old, IPC_RMID, NULL);
  CHECK_ERRNO("shmget of a missing key: ENOENT", shmget(key, 8192, 0600), ENOENT);
  CHECK_ERRNO("size 0: EINVAL", shmget(IPC_PRIVATE, 0, 0600), EINVAL);
  int id = shmget(key, 10000, IPC_CREAT | IPC_EXCL | 0600);
  CHECK("shmget(IPC_CREAT|IPC_EXCL) of 10000 bytes", id >= 0);
  CHECK_ERRNO("a bigger size for the key: EINVAL", shmget(key, 20000, 0600), EINVAL);
  CHECK("a smaller one finds it", shmget(key, 100, 0600) == id);
  struct shmid_ds ds;
  CHECK("IPC_STAT: size, creator, nothing attached",
        shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_segsz == 10000 && ds.shm_cpid == getpid() && ds.shm_nattch == 0);
  char* p = shmat(id, NULL, 0);
  CHECK("shmat", p != (void*)-1);
  strcpy(p, "shared memory");
  p[9999] = 'z';
  CHECK("one attach", shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 1 && ds.shm_lpid == getpid());
  char* q = shmat(id, NULL, SHM_RDONLY);
  CHECK("a second, read-only attach sees the same memory",
        q != (void*)-1 && q != p && strcmp(q, "shared memory") == 0 && q[9999] == 'z');
  CHECK("two attaches", shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 2);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    /* The child inherits the attaches; its write reaches the parent. */
    struct shmid_ds c;
    int four = shmctl(id, IPC_STAT, &c) == 0 && c.shm_nattch == 4;
    strcpy(p, "from the child");
    _exit(four ? 0 : 1);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK("fork: the child's attaches count, its write is seen",
        WIFEXITED(st) && WEXITSTATUS(st) == 0 && strcmp(q, "from the child") == 0);
  CHECK("shmdt of the read-only attach", shmdt(q) == 0);
  CHECK_ERRNO("shmdt again: EINVAL", shmdt(q), EINVAL);
  CHECK_ERRNO("shmdt of the middle of an attach: EINVAL", shmdt(p + 4096), EINVAL);
  char* at = (char*)0x7e0000000000;
  CHECK("shmat at a given address", shmat(id, at, 0) == at && at[9999] == 'z');
  CHECK_ERRNO("over it again without SHM_REMAP: EINVAL", (long)shmat(id, at, 0), EINVAL);
  CHECK_ERRNO("an unaligned address without SHM_RND: EINVAL", (long)shmat(id, at + 1, 0), EINVAL);
  CHECK("SHM_RND rounds it down", shmat(id, at + 1, SHM_RND | SHM_REMAP) == at);
  shmdt(at);
  /* IPC_RMID while attached: still there until the last detach. */
  CHECK("IPC_RMID while attached", shmctl(id, IPC_RMID, NULL) == 0);
  CHECK("still usable, marked SHM_DEST",
        strcmp(p, "from the child") == 0 && shmctl(id, IPC_STAT, &ds) == 0 && (ds.shm_perm.mode & SHM_DEST) != 0);
  CHECK_ERRNO("its key no longer finds it: ENOENT", shmget(key, 100, 0600), ENOENT);
  CHECK("the last shmdt", shmdt(p) == 0);
  CHECK_ERRNO("then it is gone: EINVAL", shmctl(id, IPC_STAT, &ds), EINVAL);
  /* Permissions, errors. */
  id = shmget(IPC_PRIVATE, 4096, 0640);
  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    setuid(65534);
    errno = 0;
    int e1 = shmat(id, NULL, 0) == (void*)-1 && errno == EACCES;
    errno = 0;
    int e2 = shmctl(id, IPC_RMID, NULL) == -1 && errno == EPERM;
    _exit(e1 && e2 ? 0 : 1);
  }
  waitpid(pid, &st, 0);
  CHECK("another user: EACCES to attach, EPERM to remove", WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK_ERRNO("shmat: no such segment: EINVAL", (long)shmat(0x7ffffffe, NULL, 0), EINVAL);
  CHECK_ERRNO("shmctl: bad command: EINVAL", shmctl(id, 99, &ds), EINVAL);
  CHECK("/proc/sysvipc/shm lists it", in_proc("/proc/sysvipc/shm", id));
  CHECK("IPC_RMID of an unattached segment", shmctl(id, IPC_RMID, NULL) == 0);
  CHECK_ERRNO("gone at once: EINVAL", shmctl(id, IPC_STAT, &ds), EINVAL);
}

/* /proc/sys/kernel/NAME as a number (the first of its fields), or -1. */
static long double sysctl_number(const char* name, int field) {
  char path[96], buf[256];
  snprintf(path, sizeof path, "/proc/sys/kernel/%s", name);
  if (read_text(path, buf, sizeof buf) < 0) return -1;
  char* p = buf;
  for (int i = 0; i < field; i++) {
    strtoull(p, &p, 10);
  }
  return (long double)strtoull(p, NULL, 10);
}

static void limits(void) {
  struct shminfo si;
  CHECK("shmctl IPC_INFO", shmctl(0, IPC_INFO, (struct shmid_ds*)&si) >= 0);
  CHECK("kernel.shmmax is IPC_INFO's", sysctl_number("shmmax", 0) == (long double)si.shmmax);
  CHECK("kernel.shmall is IPC_INFO's", sysctl_number("shmall", 0) == (long double)si.shmall);
  CHECK("kernel.shmmni is IPC_INFO's", sysctl_number("shmmni", 0) == (long double)si.shmmni);
  struct msginfo mi;
  CHECK("msgctl IPC_INFO", msgctl(0, IPC_INFO, (struct msqid_ds*)&mi) >= 0);
  CHECK("kernel.msgmax is IPC_INFO's", sysctl_number("msgmax", 0) == mi.msgmax);
  CHECK("kernel.msgmnb is IPC_INFO's", sysctl_number("msgmnb", 0) == mi.msgmnb);
  CHECK("kernel.msgmni is IPC_INFO's", sysctl_number("msgmni", 0) == mi.msgmni);
  struct seminfo se;
  union semun arg = {.buf = (struct semid_ds*)&se};
  CHECK("semctl IPC_INFO", semctl(0, 0, IPC_INFO, arg) >= 0);
  CHECK("kernel.sem is SEMMSL SEMMNS SEMOPM SEMMNI",
        sysctl_number("sem", 0) == se.semmsl && sysctl_number("sem", 1) == se.semmns &&
            sysctl_number("sem", 2) == se.semopm && sysctl_number("sem", 3) == se.semmni);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (getuid() != 0) {
    printf("sysvipc: needs root\n");
    return 0;
  }
  semaphores();
  messages();
  shared_memory();
  limits();
  return ABI_DONE();
}
