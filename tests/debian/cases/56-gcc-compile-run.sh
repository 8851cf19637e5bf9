command -v gcc >/dev/null || { echo "SKIP: no gcc"; exit 0; }
printf '#include <stdio.h>\nint main(void) { printf("hello %%d\\n", 6 * 7); return 0; }\n' > h.c
gcc -O2 -o h h.c && ./h
