set -m
sleep 0.2 & p1=$!
sleep 0.1 & p2=$!
wait $p2; echo "p2 rc=$?"
wait $p1; echo "p1 rc=$?"
(exit 7) & wait $!; echo "rc=$?"
sleep 10 & kill %1; wait %1; echo "killed rc=$?"
