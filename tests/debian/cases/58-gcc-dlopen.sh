command -v gcc >/dev/null || { echo "SKIP: no gcc"; exit 0; }
printf 'const char *hello(void) { return "from plugin"; }\n' > p.c
cat > l.c <<'C'
#include <dlfcn.h>
#include <stdio.h>
int main(void) {
  void *h = dlopen("./p.so", RTLD_NOW);
  if (!h) { puts(dlerror()); return 1; }
  const char *(*f)(void) = (const char *(*)(void))dlsym(h, "hello");
  puts(f()); dlclose(h); return 0;
}
C
gcc -fPIC -shared -o p.so p.c && gcc -o l l.c -ldl && ./l
