IFS=: read -r user pw uid rest < <(grep '^root:' /etc/passwd); echo "$user $uid"
printf 'a b\tc\n' | { read -r x y; echo "[$x] [$y]"; }
mapfile -t lines < <(printf 'l1\nl2\nl3\n'); echo "${#lines[@]} ${lines[1]}"
