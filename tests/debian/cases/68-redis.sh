# redis-server (Debian's, with its jemalloc and background threads) on loopback: redis-cli over
# TCP for strings, counters, lists, hashes, expiry and a pipeline; redis-benchmark's SET and GET
# (2000 requests each, 4 clients; its figures vary, so only that it finished is printed), then
# a shutdown.
redis-server --port 16379 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$PWD/redis.pid" --logfile "$PWD/redis.log" --dir "$PWD" || { echo "redis failed"; exit 1; }
cli() { redis-cli -p 16379 "$@"; }
for i in $(seq 50); do [ "$(cli ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done
cli ping
cli set greeting "hello redis"
cli get greeting
cli incr counter; cli incrby counter 41
cli rpush list a b c; cli lrange list 0 -1
cli hset h field1 v1 field2 v2; cli hgetall h
cli set temp x EX 100 > /dev/null; cli ttl temp
printf 'SET p1 1\r\nINCR p1\r\nGET p1\r\n' | cli --pipe 2>&1 | tail -1
cli dbsize
redis-benchmark -p 16379 -q -n 2000 -c 4 -t set,get > bench.out 2>&1
echo "benchmark rc=$? rows=$(grep -c 'requests per second' bench.out)"
cli shutdown nosave 2>&1
for i in $(seq 50); do [ -e redis.pid ] || break; sleep 0.1; done
[ -e redis.pid ] && echo "redis still running"
exit 0
