#!/bin/bash
# Runs each case of /cases (NN-name.sh) in a fresh directory with a fixed environment, and prints
# "=== NAME rc=N", the case's stdout, "--- stderr" and its stderr. The same root runs it natively
# in a chroot and under the kernel; compare.py compares stdout and status per case.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C TERM=dumb
unset LC_ALL
umask 022
only=${1:-}
for c in /cases/[0-9]*.sh; do
  name=$(basename "$c" .sh)
  [ -n "$only" ] && [ "$name" != "$only" ] && continue
  dir=$(mktemp -d /tmp/case.XXXXXX)
  ( cd "$dir" && exec timeout 120 bash "$c" > "$dir.out" 2> "$dir.err" < /dev/null )
  rc=$?
  echo "=== $name rc=$rc"
  cat "$dir.out"
  echo "--- stderr"
  cat "$dir.err"
  rm -rf "$dir" "$dir.out" "$dir.err"
done
echo "=== end"
