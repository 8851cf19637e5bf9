sleep 3 & p=$!
ps -o comm= -p $p
pgrep -x sleep >/dev/null && echo found
kill $p; wait $p 2>/dev/null; echo "rc=$?"
ps -o pid= -p $$ >/dev/null && echo self-visible
free -k | head -1 | awk '{print $1, $2, $3}'
