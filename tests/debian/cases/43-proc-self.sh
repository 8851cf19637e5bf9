tr '\0' ' ' < /proc/self/cmdline; echo
readlink /proc/self/exe
grep -c '^Name:' /proc/self/status
awk '/\[stack\]/ {n++} END {print n}' /proc/self/maps
test -r /proc/self/auxv && echo auxv
grep -q /usr/bin/cat /proc/self/maps && echo cat-mapped; cat /proc/self/maps | grep -c 'libc.so.6'
