#!/usr/bin/env bash
# Host directories in the guest (--volume, --root HOSTDIR) over 9P2000.L:
#  1. a host tree reads back in the guest as the host sees it; fsio's file-system semantics on
#     the share print what they print natively; a write workload (files, deep directories, a
#     big file, sparse files, renames, deletes, symbolic and hard links, chmod, truncate) leaves
#     on the host the same tree it makes natively;
#  2. coherence both ways while the guest runs: a file the guest writes is on the host at once,
#     and a file the host changes is read afresh at the guest's next open;
#  3. confinement: absolute and ".." symbolic links, ".." from the share's root, and a
#     directory the host swaps for a symbolic link while the guest walks through it never
#     reach the host's files outside the share;
#  4. a read-only share refuses every change (EROFS) and the host files stay as they were;
#  5. booting with a host directory as the root (--root HOSTDIR), /tmp a tmpfs on it.
# Usage: volume_test.sh RUNNER UMK|QEMU_RUN CPIO [FSIO] (RUNNER: umk, ptrace or qemu).
set -euo pipefail
runner=$1
kernel=$2
rootfs=$(realpath "$3")
fsio=${4:-}
export LC_ALL=C
tmp=$(mktemp -d)
cleanup() {
  [ -n "${watcher:-}" ] && kill "$watcher" 2>/dev/null
  [ -n "${racer:-}" ] && kill "$racer" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/tree_lib.sh"

big_mb=40
fsio_env=""
if [ "$runner" = qemu ]; then
  big_mb=8
  # QEMU 7.2's 9P server refuses to make FIFOs and device nodes (it may not open them to set
  # their mode) and truncates by name: fsio leaves those out on both sides.
  fsio_env="FSIO_QEMU_9P=1"
fi

run_guest() {  # SCRIPT [umk/qemu-run options...]
  local script=$1
  shift
  case $runner in
    umk) "$kernel" run --mem 1G --initramfs "$rootfs" "$@" -- /bin/sh -c "$script" ;;
    ptrace) "$kernel" run --mem 1G --platform ptrace --initramfs "$rootfs" "$@" -- /bin/sh -c "$script" ;;
    qemu) "$kernel" --mem 1G --initramfs "$rootfs" "$@" -- /bin/sh -c "$script" ;;
  esac
}

workload='work() {
  d=$1
  mkdir -p $d/w/deep/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17/18/19/20 $d/w/many $d/w/moved
  i=0
  while [ $i -lt 1000 ]; do echo "file $i" > $d/w/many/f$i; i=$((i + 1)); done
  yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c $((BIG_MB * 1048576)) > $d/w/big
  seq 1 100000 > $d/w/seq
  echo "at the bottom" > $d/w/deep/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17/18/19/20/leaf
  echo tail | dd of=$d/w/sparse bs=4096 seek=2000 conv=notrunc 2>/dev/null
  i=0
  while [ $i -lt 1000 ]; do rm $d/w/many/f$i; i=$((i + 3)); done
  i=1
  while [ $i -lt 1000 ]; do mv $d/w/many/f$i $d/w/moved/m$i; i=$((i + 30)); done
  mv $d/w/deep/1/2/3/4/5/6/7/8/9/10 $d/w/moved/ten
  ln -s ../seq $d/w/moved/short-link
  ln $d/w/seq $d/w/seq-hardlink
  chmod 600 $d/w/seq
  chmod 750 $d/w/moved
  cp $d/w/seq $d/w/seq-cut
  truncate -s 1000 $d/w/seq-cut
  truncate -s 5000 $d/w/seq-cut
  rm -r $d/w/deep/1/2/3/4/5/6/7/8/9
  mv $d/w/big $d/w/big-renamed
  rm $d/w/moved/m31
}'

share=$tmp/share
mkdir -p "$share/pre/a/b/c" "$share/pre/empty" "$tmp/outside"
echo small > "$share/pre/small"
seq 1 30000 > "$share/pre/medium"
head -c 300000 /dev/urandom > "$share/pre/random"
echo deep > "$share/pre/a/b/c/file"
ln -s small "$share/pre/link"
ln "$share/pre/medium" "$share/pre/medium-link"
chmod 751 "$share/pre/a"
echo "HOST SECRET" > "$tmp/secret"
echo "HOST SECRET" > "$tmp/outside/file"
ln -s "$tmp/secret" "$share/abs-link"
ln -s ../secret "$share/up-link"
ln -s .. "$share/dotdot-link"
mkdir "$share/race"
echo inside > "$share/race/file"
echo "before" > "$share/changing"
ro=$tmp/ro
mkdir -p "$ro/dir"
echo "read only" > "$ro/file"
ro_before=$(cd "$ro" && find . -exec stat -c '%n %a %s %Y' {} + | sort)

# The host's side of the coherence checks, while the guest runs: it answers the guest's
# "ping" with what it found there, then changes a file the guest has read. It waits as long as
# the guest may run (the test's timeout ends both): a loaded machine may take more than a
# minute to reach the ping in QEMU. The guest's file is made on the host at its open and its
# bytes arrive at its close (as with Linux's v9fs): the host waits for them, not for the name.
(
  for _ in $(seq 1 12000); do
    if [ -s "$share/ping" ]; then
      echo "host saw: $(cat "$share/ping")" > "$share/pong.tmp"
      echo "after, and longer" > "$share/changing"
      mv "$share/pong.tmp" "$share/pong"
      break
    fi
    sleep 0.05
  done
) &
watcher=$!
# The racer: swaps race/ for a symbolic link to a host directory outside the share and back.
(
  for _ in $(seq 1 400); do
    mv "$share/race" "$share/race.d" 2>/dev/null && ln -s "$tmp/outside" "$share/race" 2>/dev/null
    rm -f "$share/race" 2>/dev/null && mv "$share/race.d" "$share/race" 2>/dev/null
    [ -f "$share/stop-racing" ] && break
  done
) &
racer=$!

echo "== host directories ($runner)"
out=$(run_guest "$manifest
$workload
BIG_MB=$big_mb
manifest /mnt/share/pre
echo ===
if [ -x /abi/fsio ]; then mkdir /mnt/share/fsio && $fsio_env /abi/fsio /mnt/share/fsio; echo \"fsio status \$?\"; fi
echo ===
work /mnt/share
manifest /mnt/share/w
echo ===
cat /mnt/share/changing
echo written by the guest > /mnt/share/ping
i=0
while [ ! -f /mnt/share/pong ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i + 1)); done
cat /mnt/share/pong /mnt/share/changing
echo ===
for f in /mnt/share/abs-link /mnt/share/up-link /mnt/share/dotdot-link/secret /mnt/share/../secret; do
  cat \$f 2>/dev/null
done
ls /mnt/share/.. | grep -c secret
i=0
while [ \$i -lt 300 ]; do cat /mnt/share/race/file 2>/dev/null; i=\$((i + 1)); done | sort -u
touch /mnt/share/stop-racing
echo ===
cat /mnt/ro/file
for what in 'echo x > /mnt/ro/file' 'echo x > /mnt/ro/new' 'rm /mnt/ro/file' 'mkdir /mnt/ro/d' 'rmdir /mnt/ro/dir' \
            'chmod 600 /mnt/ro/file' 'touch /mnt/ro/file' 'ln -s x /mnt/ro/l' 'mv /mnt/ro/file /mnt/ro/f2'; do
  sh -c \"\$what\" 2>&1 | grep -c 'Read-only file system'
done
grep -c ' /mnt/ro 9p ro' /proc/mounts
grep -c ' /mnt/share 9p rw' /proc/mounts
echo done" --volume "$share:/mnt/share" --volume "$ro:/mnt/ro:ro") || { echo "guest failed ($?): $out" >&2; exit 1; }
touch "$share/stop-racing"
wait "$racer" 2>/dev/null || true
section() { printf '%s\n' "$out" | awk -v n="$1" '/^===$/ { s++; next } s == n'; }

host_pre=$(bbsh "$manifest; manifest '$share/pre'")
if [ "$(section 0)" != "$host_pre" ]; then
  echo "the guest reads the host tree differently:" >&2
  diff <(printf '%s\n' "$host_pre") <(section 0) | head -20 >&2
  exit 1
fi
if [ -n "$fsio" ]; then
  mkdir -p "$tmp/fsio-native"
  native_fsio=$(env $fsio_env "$fsio" "$tmp/fsio-native"; echo "fsio status $?")
  if [ "$(section 1)" != "$native_fsio" ]; then
    echo "fsio on the share differs from fsio natively:" >&2
    diff <(printf '%s\n' "$native_fsio") <(section 1) | head -30 >&2
    exit 1
  fi
fi
native=$tmp/native
mkdir -p "$native"
host_w=$(bbsh "$manifest; manifest '$share/w'")
native_w=$(bbsh "$manifest
$workload
BIG_MB=$big_mb
work '$native' >/dev/null
manifest '$native/w'")
if [ "$host_w" != "$native_w" ]; then
  echo "the guest's workload left a different tree on the host than natively:" >&2
  diff <(printf '%s\n' "$native_w") <(printf '%s\n' "$host_w") | head -20 >&2
  exit 1
fi
guest_w=$(section 2)
if [ "$guest_w" != "$native_w" ]; then
  echo "the guest sees a different tree than the host:" >&2
  diff <(printf '%s\n' "$native_w") <(printf '%s\n' "$guest_w") | head -20 >&2
  exit 1
fi
expected="before
host saw: written by the guest
after, and longer"
if [ "$(section 3)" != "$expected" ]; then
  printf 'coherence: got\n%s\nexpected\n%s\n' "$(section 3)" "$expected" >&2
  exit 1
fi
if [ "$(section 4)" != $'0\ninside' ] && [ "$(section 4)" != "0" ]; then
  printf 'confinement: the guest read\n%s\n' "$(section 4)" >&2
  exit 1
fi
expected="read only
1
1
1
1
1
1
1
1
1
1
1
done"
if [ "$(section 5)" != "$expected" ]; then
  printf 'read-only share: got\n%s\nexpected\n%s\n' "$(section 5)" "$expected" >&2
  exit 1
fi
ro_after=$(cd "$ro" && find . -exec stat -c '%n %a %s %Y' {} + | sort)
[ "$ro_before" = "$ro_after" ] || { echo "the read-only share changed on the host" >&2; exit 1; }

# 5: the busybox tree from the archive as a host directory, booted as the root.
echo "== a host directory as the root ($runner)"
mkdir "$tmp/root"
(cd "$tmp/root" && cpio -id --quiet < "$rootfs")
script='read -r src dir type rest < /proc/mounts; echo "$src $dir $type"
ls /proc/self/fd > /dev/null && echo proc ok
grep -c "^tmpfs /tmp tmpfs" /proc/mounts
echo scratch > /tmp/scratch
echo written on the root > /root-note
echo done'
case $runner in
  umk) out=$("$kernel" run --root "$tmp/root" -- /bin/sh -c "$script") ;;
  ptrace) out=$("$kernel" run --platform ptrace --root "$tmp/root" -- /bin/sh -c "$script") ;;
  qemu) out=$("$kernel" --root "$tmp/root" -- /bin/sh -c "$script") ;;
esac
expected="root / 9p
proc ok
1
done"
if [ "$out" != "$expected" ]; then
  printf 'booting from a host directory: got\n%s\nexpected\n%s\n' "$out" "$expected" >&2
  exit 1
fi
[ "$(cat "$tmp/root/root-note")" = "written on the root" ] || { echo "the guest's file is not on the host" >&2; exit 1; }
[ ! -e "$tmp/root/tmp/scratch" ] || { echo "/tmp of the guest reached the host" >&2; exit 1; }
echo "volume ($runner): ok"
