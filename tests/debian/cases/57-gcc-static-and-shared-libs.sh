command -v gcc >/dev/null || { echo "SKIP: no gcc"; exit 0; }
printf 'int add(int a, int b) { return a + b; }\n' > add.c
printf 'int add(int, int);\n#include <stdio.h>\nint main(void) { printf("%%d\\n", add(40, 2)); }\n' > m.c
gcc -c add.c && ar rcs libadd.a add.o && gcc -o ms m.c libadd.a && ./ms
gcc -fPIC -shared -o libadd.so add.c && gcc -o md m.c -L. -ladd -Wl,-rpath,'$ORIGIN' && ./md
