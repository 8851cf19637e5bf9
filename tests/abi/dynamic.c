/* A dynamically linked program (built twice: against glibc and against musl, each started by its
 * own loader through PT_INTERP). It checks what the kernel hands a dynamic program — the auxv
 * entries the loader relies on, its own program headers, the loader's base — and what the loader
 * then does with the kernel's help: a library it needs (DT_NEEDED, found through $ORIGIN), its
 * thread-local storage, dlopen and dlsym of the same library, and threads. Only facts that are the
 * same natively and under the kernel are printed, so the outputs compare. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include "abi_check.h"

int abi_dyn_add(int a, int b);
int abi_dyn_bump(void);

extern char _start[];

static int find_phdr(struct dl_phdr_info* info, size_t size, void* data) {
  (void)size;
  unsigned long* want = data;
  /* The first object is the program itself. */
  if (want[1] == 0) {
    want[1] = 1;
    want[2] = (unsigned long)info->dlpi_phdr == want[0];
    want[3] = info->dlpi_phnum;
  }
  return 0;
}

static void* in_thread(void* arg) {
  (void)arg;
  /* A fresh thread has its own copy of the library's TLS variable. */
  int first = abi_dyn_bump();
  int second = abi_dyn_bump();
  return (void*)(long)(first == 1 && second == 2);
}

int main(int argc, char** argv) {
  (void)argc;
  puts("dynamic: hello");
  CHECK("AT_BASE: the loader's base is set", getauxval(AT_BASE) != 0);
  CHECK("AT_BASE is page aligned", (getauxval(AT_BASE) & 4095) == 0);
  CHECK("AT_ENTRY is the program's entry, not the loader's", getauxval(AT_ENTRY) == (unsigned long)_start);
  CHECK("AT_PHENT", getauxval(AT_PHENT) == sizeof(Elf64_Phdr));
  CHECK("AT_PAGESZ", getauxval(AT_PAGESZ) == 4096);
  CHECK("AT_RANDOM points at readable bytes", getauxval(AT_RANDOM) != 0);
  CHECK("AT_EXECFN is argv[0]", getauxval(AT_EXECFN) != 0 && strcmp((const char*)getauxval(AT_EXECFN), argv[0]) == 0);
  const char* platform = (const char*)getauxval(AT_PLATFORM);
  CHECK("AT_PLATFORM is x86_64", platform != NULL && strcmp(platform, "x86_64") == 0);
  CHECK("AT_SYSINFO_EHDR: a vDSO", getauxval(AT_SYSINFO_EHDR) != 0);
  unsigned long want[4] = {getauxval(AT_PHDR), 0, 0, 0};
  dl_iterate_phdr(find_phdr, want);
  CHECK("AT_PHDR is the program's headers (dl_iterate_phdr)", want[2] == 1);
  CHECK("AT_PHNUM agrees", want[3] == getauxval(AT_PHNUM));
  /* The loader itself is mapped at AT_BASE with an ELF header there. */
  const unsigned char* base = (const unsigned char*)getauxval(AT_BASE);
  CHECK("an ELF header at AT_BASE", base != NULL && memcmp(base, ELFMAG, SELFMAG) == 0);

  /* The library it was linked with. */
  CHECK("a function of the needed library", abi_dyn_add(2, 40) == 42);
  CHECK("its TLS variable, first use", abi_dyn_bump() == 1);
  CHECK("its TLS variable, second use", abi_dyn_bump() == 2);
  pthread_t t;
  void* ok = NULL;
  CHECK("a thread", pthread_create(&t, NULL, in_thread, NULL) == 0 && pthread_join(t, &ok) == 0);
  CHECK("the thread's own TLS copy", ok == (void*)1);
  CHECK("the main thread's copy unchanged", abi_dyn_bump() == 3);

  /* dlopen of the same library by name gives the same symbols. */
  void* h = dlopen("libabi_dyn.so", RTLD_NOW | RTLD_NOLOAD);
  CHECK("dlopen (already loaded)", h != NULL);
  if (h != NULL) {
    int (*add)(int, int) = (int (*)(int, int))dlsym(h, "abi_dyn_add");
    CHECK("dlsym finds the same function", add == abi_dyn_add && add(1, 2) == 3);
    CHECK("dlsym of a missing symbol", dlsym(h, "abi_dyn_nothing") == NULL);
    dlclose(h);
  }
  CHECK("dlopen of a missing library fails", dlopen("libabi_nothing.so", RTLD_NOW) == NULL);

  /* Memory the loader and malloc use. */
  void* big = malloc(8 << 20);
  CHECK("malloc of 8 MiB (mmap)", big != NULL);
  memset(big, 1, 8 << 20);
  free(big);
  char* p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK("mmap", p != MAP_FAILED);
  CHECK("mprotect of the middle page", mprotect(p + 4096, 4096, PROT_NONE) == 0);
  CHECK("munmap", munmap(p, 3 * 4096) == 0);
  errno = 0;
  CHECK_ERRNO("errno through the library's TLS", close(-1), EBADF);
  return ABI_DONE();
}
