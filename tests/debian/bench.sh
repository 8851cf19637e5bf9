#!/bin/bash
# The Debian benchmark rows (scripts/bench-debian runs this natively in a chroot, under umk and in
# QEMU): each row prints "NAME MICROSECONDS-PER-RUN us", the median of its runs. Work happens in a
# fresh directory under /tmp; setup (a 1000-file git repository, a 20 MB tree packed with xz,
# nginx and redis-server on loopback) is not timed. The server rows print microseconds per
# request (1e6 / the rate wrk or redis-benchmark reports, 4 connections).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C
runs=${1:-5}
work=$(mktemp -d /tmp/bench.XXXXXX)
cd "$work" || exit 1

now_us() { local t=$EPOCHREALTIME; echo $(( ${t%.*} * 1000000 + 10#${t#*.} )); }
# row NAME SETUP-EACH-RUN COMMAND...: the median time of `runs` runs of COMMAND.
row() {
  local name=$1 setup=$2 i t0 t1
  shift 2
  local times=()
  for ((i = 0; i < runs; i++)); do
    eval "$setup"
    t0=$(now_us)
    "$@" > /dev/null 2>&1 || { echo "$name failed" >&2; return; }
    t1=$(now_us)
    times+=($((t1 - t0)))
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p" | sed "s/^/$name /; s/\$/ us/"
}

# ---- setup ----
export GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@example.org GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@example.org
mkdir repo && (cd repo && git init -q && for i in $(seq 1 1000); do echo "file $i" > "f$i"; done &&
  git add . && git commit -qm init && git status --porcelain > /dev/null)
mkdir tree && for i in $(seq 1 40); do seq $((i * 100000)) $((i * 100000 + 60000)) > "tree/part$i"; done
tar cJf tree.tar.xz tree && rm -rf tree
printf '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n' > hello.c
{ echo 'begin;'; echo 'create table t (i integer, s text);';
  for i in $(seq 1 10000); do echo "insert into t values ($i, 'row $i');"; done; echo 'commit;'; } > insert.sql

# rate_row NAME COMMAND...: the median over `runs` runs of 1e6 / the rate COMMAND prints (one
# number per run: requests or operations per second), i.e. microseconds per request.
rate_row() {
  local name=$1 i r
  shift
  local times=()
  for ((i = 0; i < runs; i++)); do
    r=$("$@" 2> /dev/null) || { echo "$name failed" >&2; return; }
    [ -n "$r" ] || { echo "$name failed" >&2; return; }
    times+=("$(awk -v r="$r" 'BEGIN { printf "%.1f", 1000000 / r }')")
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p" | sed "s/^/$name /; s/\$/ us/"
}

# Servers on loopback (brought up where a booted Linux has it down: User-Mode Linux, QEMU).
python3 - <<'P' 2> /dev/null
import fcntl, socket, struct
s = socket.socket()
flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, struct.pack("16sH", b"lo", 0)))[1]  # SIOCGIFFLAGS
if not flags & 1:
    fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 1))  # SIOCSIFFLAGS: up
P
mkdir www && head -c 612 /dev/zero | tr '\0' 'n' > www/index.html && chmod -R a+rX www && chmod 755 .
cat > nginx.conf <<C
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 64; }
http { access_log off; sendfile on; keepalive_requests 1000000;
  client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work;
  server { listen 127.0.0.1:18080; root $work/www; } }
C
nginx -c "$work/nginx.conf" -e "$work/error.log" 2> /dev/null
redis-server --port 16379 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$work/redis.pid" --logfile "$work/redis.log" --dir "$work" > /dev/null
for i in $(seq 50); do [ -s nginx.pid ] && [ "$(redis-cli -p 16379 ping 2> /dev/null)" = PONG ] && break; sleep 0.1; done
wrk_rate() { wrk -t1 -c4 -d1s http://127.0.0.1:18080/index.html | awk '/^Requests\/sec:/ {print $2}'; }
redis_rate() {
  redis-benchmark -p 16379 -q -n 20000 -c 4 -t "$1" | tr '\r' '\n' | awk '/requests per second/ {print $2; exit}'
}

# ---- rows ----
row bash_c_true : bash -c true
row python3_c_pass : python3 -c pass
command -v gcc > /dev/null && row gcc_c_hello : gcc -c hello.c -o hello.o
row git_status_1000 : git -C repo status --porcelain
row tar_xJf_20MB 'rm -rf tree' tar xJf tree.tar.xz
row sqlite3_insert_10k 'rm -f t.db' sqlite3 t.db '.read insert.sql'
rate_row nginx_wrk_4conn_per_request wrk_rate
rate_row redis_set_4conn_per_op redis_rate set
rate_row redis_get_4conn_per_op redis_rate get
kill -QUIT "$(cat nginx.pid)" 2> /dev/null
redis-cli -p 16379 shutdown nosave > /dev/null 2>&1
sleep 0.2
cd / && rm -rf "$work"
