printf '%s\n' banana apple cherry apple banana apple | sort | uniq -c | sort -rn
seq 1 20 | shuf --random-source=<(yes) | sort -n | tail -3
printf '3 c\n1 a\n2 b\n' | sort -k2 -r
