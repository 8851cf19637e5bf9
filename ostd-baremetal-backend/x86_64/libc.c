/* C library functions the kernel image needs whose C++ declarations would clash (memchr). */
#include <stddef.h>

void* memchr(const void* s, int c, size_t n) {
  const unsigned char* p = (const unsigned char*)s;
  for (size_t i = 0; i < n; ++i) {
    if (p[i] == (unsigned char)c) return (void*)(p + i);
  }
  return NULL;
}

/* 0: libstdc++'s shared_ptr and friends use atomic reference counts (SMP-ready). */
char __libc_single_threaded = 0;
