head -c 50000000 /dev/zero | sha256sum
seq 1 300000 > big; wc -l < big; sort -rn big | head -1; tac big | tail -1
rm big
