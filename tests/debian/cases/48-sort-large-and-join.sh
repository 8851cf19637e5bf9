seq 1 50000 | awk '{print ($1 * 7919) % 50000, $1}' | sort -n -k1,1 > s
head -2 s; tail -1 s
printf '1 a\n2 b\n3 c\n' > x; printf '1 X\n3 Z\n' > y; join x y
comm -12 <(seq 1 10) <(seq 5 15) | paste -sd,
