/* The initial process image as Linux builds it: the auxiliary vector (its keys, their order and
 * values), /proc/self/{auxv,cmdline,environ}, and the address-space layout — stack, heap, mmap
 * area, vDSO, PIE base and dynamic loader placed at random on each exec unless
 * personality(ADDR_NO_RANDOMIZE) (setarch -R) or randomize_va_space=0 turn it off.
 *
 * Built twice: static (musl, ET_EXEC) and as a glibc PIE started by ld.so. With argument
 * "report" it prints its addresses for the parent to compare. */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/wait.h>

#include "abi_check.h"

extern char** environ;
extern const ElfW(Ehdr) __ehdr_start;

struct addrs {
  uintptr_t stack, heap, mmap, vdso, text, loader;
};

static uintptr_t loader_base;
static int find_loader(struct dl_phdr_info* info, size_t size, void* data) {
  (void)size;
  (void)data;
  if (info->dlpi_name != NULL && strstr(info->dlpi_name, "ld-") != NULL) loader_base = info->dlpi_addr;
  return 0;
}

static struct addrs my_addrs(void) {
  struct addrs a;
  int local = 0;
  a.stack = (uintptr_t)&local;
  a.heap = (uintptr_t)sbrk(0);
  void* m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  a.mmap = (uintptr_t)m;
  a.vdso = getauxval(AT_SYSINFO_EHDR);
  a.text = (uintptr_t)&__ehdr_start;
  loader_base = 0;
  dl_iterate_phdr(find_loader, NULL);
  a.loader = loader_base;
  return a;
}

/* Runs this program with "report" (after personality(persona) when persona is not -1) and reads
 * the addresses it prints. */
static int child_addrs(const char* self, int persona, struct addrs* out) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], 1);
    if (persona != -1) personality(persona);
    execl(self, self, "report", (char*)NULL);
    _exit(127);
  }
  close(fds[1]);
  char buf[512] = {0};
  size_t n = 0;
  ssize_t r;
  while ((r = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)r;
  close(fds[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  unsigned long v[6];
  if (sscanf(buf, "%lx %lx %lx %lx %lx %lx", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) return -1;
  *out = (struct addrs){v[0], v[1], v[2], v[3], v[4], v[5]};
  return 0;
}

static const char* key_name(unsigned long k) {
  switch (k) {
    case AT_SYSINFO_EHDR: return "SYSINFO_EHDR";
    case 51: return "MINSIGSTKSZ";
    case AT_HWCAP: return "HWCAP";
    case AT_PAGESZ: return "PAGESZ";
    case AT_CLKTCK: return "CLKTCK";
    case AT_PHDR: return "PHDR";
    case AT_PHENT: return "PHENT";
    case AT_PHNUM: return "PHNUM";
    case AT_BASE: return "BASE";
    case AT_FLAGS: return "FLAGS";
    case AT_ENTRY: return "ENTRY";
    case AT_UID: return "UID";
    case AT_EUID: return "EUID";
    case AT_GID: return "GID";
    case AT_EGID: return "EGID";
    case AT_SECURE: return "SECURE";
    case AT_RANDOM: return "RANDOM";
    case AT_HWCAP2: return "HWCAP2";
    case AT_EXECFN: return "EXECFN";
    case AT_PLATFORM: return "PLATFORM";
  }
  return NULL; /* newer keys (AT_RSEQ_*, AT_HWCAP3...) are not compared */
}

static size_t read_file(const char* path, char* buf, size_t cap) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return 0;
  size_t n = 0;
  ssize_t r;
  while (n < cap && (r = read(fd, buf + n, cap - n)) > 0) n += (size_t)r;
  close(fd);
  return n;
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "report") == 0) {
    struct addrs a = my_addrs();
    printf("%lx %lx %lx %lx %lx %lx\n", (unsigned long)a.stack, (unsigned long)a.heap, (unsigned long)a.mmap,
           (unsigned long)a.vdso, (unsigned long)a.text, (unsigned long)a.loader);
    return 0;
  }
  int dynamic = getauxval(AT_BASE) != 0;

  /* ---- the auxiliary vector on the stack: after envp's NULL ---- */
  char** e = environ;
  while (*e != NULL) e++;
  unsigned long* auxv = (unsigned long*)(e + 1);
  char order[512] = "";
  size_t words = 0;
  for (unsigned long* p = auxv; p[0] != AT_NULL; p += 2) {
    const char* n = key_name(p[0]);
    if (n != NULL) {
      strcat(order, " ");
      strcat(order, n);
    }
    words += 2;
  }
  words += 2;
  printf("auxv order:%s\n", order);
  CHECK("AT_PAGESZ is 4096", getauxval(AT_PAGESZ) == 4096);
  CHECK("AT_CLKTCK is 100", getauxval(AT_CLKTCK) == 100);
  CHECK("AT_PHENT is sizeof(Elf64_Phdr)", getauxval(AT_PHENT) == sizeof(ElfW(Phdr)));
  CHECK("AT_PHNUM is the program's e_phnum", getauxval(AT_PHNUM) == __ehdr_start.e_phnum);
  CHECK("AT_PHDR points at the program headers", getauxval(AT_PHDR) == (uintptr_t)&__ehdr_start + __ehdr_start.e_phoff);
  CHECK("AT_ENTRY is the program's entry",
        getauxval(AT_ENTRY) == __ehdr_start.e_entry + (__ehdr_start.e_type == ET_DYN ? (uintptr_t)&__ehdr_start : 0));
  CHECK("AT_UID/EUID/GID/EGID are the credentials", getauxval(AT_UID) == getuid() && getauxval(AT_EUID) == geteuid() &&
                                                        getauxval(AT_GID) == getgid() &&
                                                        getauxval(AT_EGID) == getegid());
  CHECK("AT_SECURE is 0", getauxval(AT_SECURE) == 0);
  CHECK("AT_FLAGS is 0", getauxval(AT_FLAGS) == 0);
  const char* platform = (const char*)getauxval(AT_PLATFORM);
  CHECK("AT_PLATFORM is x86_64", platform != NULL && strcmp(platform, "x86_64") == 0);
  const char* execfn = (const char*)getauxval(AT_EXECFN);
  CHECK("AT_EXECFN is the path execve was given", execfn != NULL && strcmp(execfn, argv[0]) == 0);
  const unsigned char* rnd = (const unsigned char*)getauxval(AT_RANDOM);
  int nonzero = 0;
  for (int i = 0; rnd != NULL && i < 16; i++) nonzero |= rnd[i];
  CHECK("AT_RANDOM points at 16 random bytes", rnd != NULL && nonzero);
  const ElfW(Ehdr)* vdso = (const ElfW(Ehdr)*)getauxval(AT_SYSINFO_EHDR);
  CHECK("AT_SYSINFO_EHDR is an ELF image", vdso != NULL && memcmp(vdso->e_ident, ELFMAG, SELFMAG) == 0);
  unsigned a, b, c, d;
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
  /* glibc's getauxval(AT_HWCAP) answers its own word: read the kernel's from the vector. Linux
   * passes CPUID.1:EDX less what it disabled (MTRR in some virtual machines). */
  unsigned long hwcap = 0;
  for (unsigned long* p = auxv; p[0] != AT_NULL; p += 2) {
    if (p[0] == AT_HWCAP) hwcap = p[1];
  }
  const unsigned long basics = 1ul << 0 | 1ul << 4 | 1ul << 8 | 1ul << 15 | 1ul << 24 | 1ul << 25 | 1ul << 26;
  CHECK("AT_HWCAP is CPUID.1:EDX's features", (hwcap & ~(unsigned long)d) == 0 && (hwcap & basics) == basics);
  CHECK("AT_HWCAP2 has no bits beyond RING3MWAIT and FSGSBASE", (getauxval(AT_HWCAP2) & ~3ul) == 0);
  CHECK("AT_MINSIGSTKSZ is at least 1024", getauxval(51) >= 1024);
  dl_iterate_phdr(find_loader, NULL);
  CHECK("AT_BASE is where the dynamic loader is (0 without one)",
        dynamic ? getauxval(AT_BASE) == loader_base && loader_base != 0 : getauxval(AT_BASE) == 0);

  /* ---- /proc/self ---- */
  static char buf[65536];
  size_t n = read_file("/proc/self/auxv", buf, sizeof buf);
  CHECK("/proc/self/auxv is the auxiliary vector", n == words * sizeof(long) && memcmp(buf, auxv, n) == 0);
  n = read_file("/proc/self/cmdline", buf, sizeof buf);
  size_t want = 0;
  int same = 1;
  for (int i = 0; i < argc; i++) {
    size_t l = strlen(argv[i]) + 1;
    same = same && want + l <= n && memcmp(buf + want, argv[i], l) == 0;
    want += l;
  }
  CHECK("/proc/self/cmdline is argv", same && n == want);
  /* The strings lie where the kernel put them: argv's, then environ's, contiguous. */
  CHECK("argv strings are contiguous and end where the environment's begin",
        argc < 1 || environ[0] == NULL || argv[argc - 1] + strlen(argv[argc - 1]) + 1 == environ[0]);
  n = read_file("/proc/self/environ", buf, sizeof buf);
  want = 0;
  same = 1;
  for (char** p = environ; *p != NULL; p++) {
    size_t l = strlen(*p) + 1;
    same = same && want + l <= n && memcmp(buf + want, *p, l) == 0;
    want += l;
  }
  CHECK("/proc/self/environ is the environment", same && n == want);
  /* setproctitle: once the NUL after the arguments is gone, cmdline reads on to the next NUL. */
  if (environ[0] != NULL && argc == 1) {
    char* end = argv[0] + strlen(argv[0]);
    char* env0 = environ[0];
    char saved = *end;
    *end = ' ';
    n = read_file("/proc/self/cmdline", buf, sizeof buf);
    *end = saved;
    CHECK("/proc/self/cmdline follows an overwritten argument area into the environment",
          n == strlen(argv[0]) + 1 + strlen(env0) + 1 && strncmp(buf + strlen(argv[0]) + 1, env0, strlen(env0)) == 0);
  }

  /* ---- randomization ---- */
  n = read_file("/proc/sys/kernel/randomize_va_space", buf, sizeof buf - 1);
  buf[n] = 0;
  int randomized = atoi(buf) != 0;
  printf("randomize_va_space: %s", buf);
  struct addrs r1, r2, f1, f2;
  CHECK("two children report their addresses",
        child_addrs(argv[0], -1, &r1) == 0 && child_addrs(argv[0], -1, &r2) == 0);
  CHECK("two children with ADDR_NO_RANDOMIZE report theirs",
        child_addrs(argv[0], ADDR_NO_RANDOMIZE, &f1) == 0 && child_addrs(argv[0], ADDR_NO_RANDOMIZE, &f2) == 0);
  printf("stack placed at random: %s\n", r1.stack != r2.stack ? "yes" : "no");
  printf("heap placed at random: %s\n", r1.heap != r2.heap ? "yes" : "no");
  printf("mmap area placed at random: %s\n", r1.mmap != r2.mmap ? "yes" : "no");
  printf("vdso placed at random: %s\n", r1.vdso != r2.vdso ? "yes" : "no");
  printf("program placed at random: %s\n", r1.text != r2.text ? "yes" : "no");
  printf("loader placed at random: %s\n", r1.loader != r2.loader ? "yes" : "no");
  CHECK("ADDR_NO_RANDOMIZE: the same layout twice", f1.stack == f2.stack && f1.heap == f2.heap && f1.mmap == f2.mmap &&
                                                        f1.vdso == f2.vdso && f1.text == f2.text &&
                                                        f1.loader == f2.loader);
  CHECK("a PIE without randomization lies at 0x555555554000",
        __ehdr_start.e_type != ET_DYN || f1.text == 0x555555554000ul);
  CHECK("layouts with randomization differ from each other", !randomized || r1.stack != r2.stack);
  int persona = personality(0xffffffff);
  CHECK("personality(0xffffffff) asks without changing", personality(0xffffffff) == persona);
  CHECK("personality returns the old persona",
        personality(ADDR_NO_RANDOMIZE) == persona && personality(persona) == ADDR_NO_RANDOMIZE);
  return ABI_DONE();
}
