#!/bin/bash
# The Debian benchmark rows (scripts/bench-debian runs this natively in a chroot, under umk and in
# QEMU): each row prints "NAME MICROSECONDS-PER-RUN us", the median of its runs. Work happens in a
# fresh directory under /tmp; setup (a 1000-file git repository, a 20 MB tree packed with xz)
# is not timed.
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

# ---- rows ----
row bash_c_true : bash -c true
row python3_c_pass : python3 -c pass
command -v gcc > /dev/null && row gcc_c_hello : gcc -c hello.c -o hello.o
row git_status_1000 : git -C repo status --porcelain
row tar_xJf_20MB 'rm -rf tree' tar xJf tree.tar.xz
row sqlite3_insert_10k 'rm -f t.db' sqlite3 t.db '.read insert.sql'
cd / && rm -rf "$work"
