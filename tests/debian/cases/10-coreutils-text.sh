seq 1 100 | paste -sd+ | bc 2>/dev/null || seq 1 100 | awk '{s+=$1} END {print s}'
printf 'a,b,c\n1,2,3\n' | cut -d, -f2,3
echo "Hello World" | tr '[:lower:]' '[:upper:]' | rev
seq 10 | head -n 3; seq 10 | tail -n 2; printf 'x\ny\n' | nl
printf 'one two\nthree\n' | wc
