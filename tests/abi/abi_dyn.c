/* libabi_dyn.so: the shared library tests/abi/dynamic.c needs (DT_NEEDED, found through
 * $ORIGIN/lib) and dlopens. No libc of its own, so the glibc and the musl build share it; its
 * thread-local counter makes the loader set up TLS for a library (__tls_get_addr). */
static __thread int counter;

int abi_dyn_add(int a, int b) { return a + b; }

int abi_dyn_bump(void) { return ++counter; }
