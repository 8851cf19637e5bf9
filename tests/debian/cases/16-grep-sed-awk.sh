printf 'alpha 1\nbeta 2\ngamma 3\ndelta 4\n' > f
grep -n 'a$' f; grep -c a f; grep -E '^(beta|delta)' f; grep -v -i ALPHA f | head -1
sed -n '2,3p' f; sed 's/\([a-z]*\) \([0-9]\)/\2:\1/' f | tail -1; sed -i '1d' f; head -1 f
awk '{ s += $2; n++ } END { printf "%d %.2f\n", s, s/n }' f
awk -F'a' 'NF > 2 { print $0 }' f
gawk 'BEGIN { split("c b a", x); n = asort(x); for (i = 1; i <= n; i++) printf "%s ", x[i]; print "" }'
