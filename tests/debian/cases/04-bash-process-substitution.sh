diff <(printf 'a\nb\nc\n') <(printf 'a\nB\nc\n'); echo "diff rc=$?"
while read -r l; do echo "line: $l"; done < <(seq 3)
paste <(seq 3) <(seq 4 6)
