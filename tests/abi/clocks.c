/* The clocks and the vDSO: AT_SYSINFO_EHDR, the [vdso]/[vvar] mappings, the vDSO's symbols
 * and versions as libcs look them up, user-mode clock readings interleaved with the system
 * call's (they must agree and never go backwards), the fallbacks (CPU-time clocks, bad clock
 * ids), faults on bad pointers, and [vvar] that cannot be made writable. (Whether [vdso] may be
 * made writable differs between Linux versions: 6.18 refuses any mprotect of it.) Run natively
 * and under the kernel: the outputs must match. */
#define _GNU_SOURCE
#include <elf.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "abi_check.h"

static uint64_t ns_of(const struct timespec* t) { return (uint64_t)t->tv_sec * 1000000000ull + t->tv_nsec; }

/* Finds a dynamic symbol of the vDSO by name and version, the way musl and glibc do. */
static void* vdso_sym(const char* name, const char* version) {
  unsigned long base = getauxval(AT_SYSINFO_EHDR);
  if (base == 0) return NULL;
  Elf64_Ehdr* eh = (Elf64_Ehdr*)base;
  Elf64_Phdr* ph = (Elf64_Phdr*)(base + eh->e_phoff);
  unsigned long load = 0;
  Elf64_Dyn* dyn = NULL;
  for (int i = 0; i < eh->e_phnum; ++i) {
    if (ph[i].p_type == PT_LOAD) load = base + ph[i].p_offset - ph[i].p_vaddr;
    if (ph[i].p_type == PT_DYNAMIC) dyn = (Elf64_Dyn*)(base + ph[i].p_offset);
  }
  if (dyn == NULL) return NULL;
  Elf64_Sym* syms = NULL;
  const char* strs = NULL;
  uint32_t* hash = NULL;
  Elf64_Half* versym = NULL;
  Elf64_Verdef* verdef = NULL;
  for (; dyn->d_tag != DT_NULL; ++dyn) {
    void* p = (void*)(load + dyn->d_un.d_ptr);
    if (dyn->d_tag == DT_SYMTAB) syms = p;
    if (dyn->d_tag == DT_STRTAB) strs = p;
    if (dyn->d_tag == DT_HASH) hash = p;
    if (dyn->d_tag == DT_VERSYM) versym = p;
    if (dyn->d_tag == DT_VERDEF) verdef = p;
  }
  if (syms == NULL || strs == NULL || hash == NULL || versym == NULL || verdef == NULL) return NULL;
  for (uint32_t i = 0; i < hash[1]; ++i) {
    if (syms[i].st_shndx == SHN_UNDEF || strcmp(strs + syms[i].st_name, name) != 0) continue;
    for (Elf64_Verdef* d = verdef;; d = (Elf64_Verdef*)((char*)d + d->vd_next)) {
      if ((d->vd_flags & VER_FLG_BASE) == 0 && d->vd_ndx == (versym[i] & 0x7fff)) {
        Elf64_Verdaux* aux = (Elf64_Verdaux*)((char*)d + d->vd_aux);
        if (strcmp(strs + aux->vda_name, version) == 0) return (void*)(load + syms[i].st_value);
      }
      if (d->vd_next == 0) break;
    }
  }
  return NULL;
}

/* The start of the mapping whose /proc/self/maps line ends with `name` (0: none). */
static unsigned long mapping(const char* name, unsigned long* end) {
  FILE* f = fopen("/proc/self/maps", "r");
  char line[512];
  unsigned long found = 0;
  while (f != NULL && fgets(line, sizeof line, f) != NULL) {
    char* nl = strchr(line, '\n');
    if (nl) *nl = 0;
    size_t n = strlen(line), k = strlen(name);
    if (n >= k && strcmp(line + n - k, name) == 0) {
      found = strtoul(line, NULL, 16);
      *end = strtoul(strchr(line, '-') + 1, NULL, 16);
      break;
    }
  }
  if (f) fclose(f);
  return found;
}

typedef int (*cgt_fn)(clockid_t, struct timespec*);

static void bad_timespec(void) { clock_gettime(CLOCK_MONOTONIC, (struct timespec*)8); }
static void bad_timeval(void) { gettimeofday((struct timeval*)8, NULL); }

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  unsigned long ehdr = getauxval(AT_SYSINFO_EHDR);
  CHECK("AT_SYSINFO_EHDR is given", ehdr != 0);
  CHECK("it points at an ELF image", ehdr != 0 && memcmp((void*)ehdr, ELFMAG, SELFMAG) == 0);
  unsigned long vdso_end = 0, vvar_end = 0;
  unsigned long vdso = mapping("[vdso]", &vdso_end);
  unsigned long vvar = mapping("[vvar]", &vvar_end);
  CHECK("/proc/self/maps shows [vdso] at AT_SYSINFO_EHDR", vdso == ehdr);
  CHECK("and [vvar]", vvar != 0);

  cgt_fn cgt = (cgt_fn)vdso_sym("__vdso_clock_gettime", "LINUX_2.6");
  int (*gtod)(struct timeval*, void*) = (int (*)(struct timeval*, void*))vdso_sym("__vdso_gettimeofday", "LINUX_2.6");
  time_t (*tm)(time_t*) = (time_t(*)(time_t*))vdso_sym("__vdso_time", "LINUX_2.6");
  CHECK("__vdso_clock_gettime@LINUX_2.6", cgt != NULL);
  CHECK("__vdso_gettimeofday@LINUX_2.6", gtod != NULL);
  CHECK("__vdso_time@LINUX_2.6", tm != NULL);
  CHECK("no such symbol", vdso_sym("__vdso_nothing", "LINUX_2.6") == NULL);
  CHECK("no such version", vdso_sym("__vdso_clock_gettime", "LINUX_9.9") == NULL);
  if (cgt == NULL || gtod == NULL || tm == NULL) return ABI_DONE();

  /* User-mode and kernel readings, interleaved, never go backwards. */
  const clockid_t clocks[] = {CLOCK_MONOTONIC,     CLOCK_REALTIME,         CLOCK_BOOTTIME,
                              CLOCK_MONOTONIC_RAW, CLOCK_MONOTONIC_COARSE, CLOCK_REALTIME_COARSE};
  const char* names[] = {"MONOTONIC", "REALTIME", "BOOTTIME", "MONOTONIC_RAW", "MONOTONIC_COARSE", "REALTIME_COARSE"};
  for (unsigned c = 0; c < sizeof clocks / sizeof clocks[0]; ++c) {
    int ordered = 1, ok = 1;
    uint64_t last = 0;
    for (int i = 0; i < 20000; ++i) {
      struct timespec a, b;
      ok &= cgt(clocks[c], &a) == 0;
      ok &= syscall(SYS_clock_gettime, clocks[c], &b) == 0;
      if (ns_of(&a) < last || ns_of(&b) < ns_of(&a)) ordered = 0;
      last = ns_of(&b);
      ok &= a.tv_nsec >= 0 && a.tv_nsec < 1000000000;
    }
    char msg[96];
    snprintf(msg, sizeof msg, "%s: vDSO and system call readings interleave in order", names[c]);
    CHECK(msg, ok && ordered);
  }
  struct timespec mono_v, mono_s, real_v, real_s;
  cgt(CLOCK_MONOTONIC, &mono_v);
  syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &mono_s);
  CHECK("monotonic: vDSO within 1 s of the system call", ns_of(&mono_s) - ns_of(&mono_v) < 1000000000);
  cgt(CLOCK_REALTIME, &real_v);
  syscall(SYS_clock_gettime, CLOCK_REALTIME, &real_s);
  CHECK("realtime: vDSO within 1 s of the system call", ns_of(&real_s) - ns_of(&real_v) < 1000000000);
  struct timeval tv = {0, 0};
  CHECK("gettimeofday (vDSO)", gtod(&tv, NULL) == 0 && tv.tv_usec >= 0 && tv.tv_usec < 1000000);
  CHECK("agrees with CLOCK_REALTIME",
        (uint64_t)tv.tv_sec * 1000000000ull + tv.tv_usec * 1000ull >= ns_of(&real_v) && tv.tv_sec - real_s.tv_sec < 2);
  time_t t1 = 0, t0 = tm(&t1);
  /* time() reads the coarse clock (the last tick's), which just past a second boundary can
   * still say the second before the precise reading's. */
  CHECK("time (vDSO)", t0 == t1 && t0 + 1 >= real_s.tv_sec && t0 - real_s.tv_sec < 2);
  CHECK("gettimeofday with a NULL timeval", gtod(NULL, NULL) == 0);

  /* What the vDSO cannot answer itself goes to the kernel. */
  struct timespec cpu = {0, 0};
  for (volatile int i = 0; i < 3000000; ++i) {}
  CHECK("CPU-time clock through the vDSO", cgt(CLOCK_PROCESS_CPUTIME_ID, &cpu) == 0 && ns_of(&cpu) > 0);
  CHECK("bad clock id: -EINVAL", cgt(12345, &cpu) == -EINVAL);
  CHECK_ERRNO("bad clock id through libc", clock_gettime(12345, &cpu), EINVAL);
  CHECK("a bad timespec pointer faults (SIGSEGV)", killed_by(bad_timespec) == SIGSEGV);
  CHECK("a bad timeval pointer faults (SIGSEGV)", killed_by(bad_timeval) == SIGSEGV);

  /* [vvar] is read-only for good. */
  CHECK_ERRNO("mprotect([vvar], PROT_WRITE)", mprotect((void*)vvar, 4096, PROT_READ | PROT_WRITE), EACCES);
  struct timespec after;
  CHECK("the vDSO still works after that", cgt(CLOCK_MONOTONIC, &after) == 0 && ns_of(&after) >= ns_of(&mono_s));
  return ABI_DONE();
}
