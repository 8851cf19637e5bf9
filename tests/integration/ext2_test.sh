#!/usr/bin/env bash
# ext2 on a disk, both ways round, checked by e2fsprogs on the host:
#  1. an image made by mke2fs -d from a host tree reads back in the guest as that tree;
#  2. a write workload in the guest (thousands of files, deep directories, a big file, sparse
#     files, renames, deletes, links, chmod, truncate) leaves the image clean for `e2fsck -fn`
#     and holding, as `debugfs rdump` extracts it, the same tree the same workload makes when
#     host busybox runs it natively;
#  3. a file the host writes into the image with debugfs reads back in the guest; statfs; a
#     remount read-only and back;
#  4. (umk only) power cut: umk killed in the middle of a workload, after an fsync'ed file:
#     `e2fsck -fy` repairs at most what an unclean shutdown leaves, and the fsync'ed data is
#     intact;
#  5. booting with the disk as the root file system (--root /dev/vda) and no initramfs, and a
#     loop mount of an image file on it (mount -o loop, autoclear at umount).
# Each with 1 KiB and 4 KiB blocks. With FSIO (tests/abi/fsio.c built natively, /abi/fsio in
# the archive), the file-system semantics test also runs on the mounted ext2 and must print
# what it prints natively in a host directory.
# Usage: ext2_test.sh RUNNER UMK|QEMU_RUN CPIO [FSIO] (RUNNER: umk, ptrace or qemu).
set -euo pipefail
runner=$1
kernel=$2
rootfs=$(realpath "$3")
fsio=${4:-}
export LC_ALL=C
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
PATH=$PATH:/usr/sbin:/sbin
. "$(dirname "$0")/tree_lib.sh"

# The big file: 100 MB under umk, 24 MB in QEMU (TCG copies slowly).
big_mb=100
[ "$runner" = qemu ] && big_mb=24

run_guest() {  # IMAGE SCRIPT
  local img=$1 script=$2
  case $runner in
    umk) "$kernel" run --mem 1G --initramfs "$rootfs" --disk "$img" -- /bin/sh -c "$script" ;;
    ptrace) "$kernel" run --mem 1G --platform ptrace --initramfs "$rootfs" --disk "$img" -- /bin/sh -c "$script" ;;
    qemu) "$kernel" --mem 1G --initramfs "$rootfs" --disk "$img" -- /bin/sh -c "$script" ;;
  esac
}

workload='work() {
  d=$1
  mkdir -p $d/w/deep/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17/18/19/20 $d/w/many $d/w/moved
  i=0
  while [ $i -lt 3000 ]; do echo "file $i" > $d/w/many/f$i; i=$((i + 1)); done
  yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c $((BIG_MB * 1048576)) > $d/w/big
  seq 1 200000 > $d/w/seq
  echo "at the bottom" > $d/w/deep/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17/18/19/20/leaf
  echo tail | dd of=$d/w/sparse bs=4096 seek=20000 conv=notrunc 2>/dev/null
  echo start > $d/w/sparse2
  echo end | dd of=$d/w/sparse2 bs=1 seek=70000000 conv=notrunc 2>/dev/null
  i=0
  while [ $i -lt 3000 ]; do rm $d/w/many/f$i; i=$((i + 3)); done
  i=1
  while [ $i -lt 3000 ]; do mv $d/w/many/f$i $d/w/moved/m$i; i=$((i + 30)); done
  mv $d/w/deep/1/2/3/4/5/6/7/8/9/10 $d/w/moved/ten
  ln -s ../seq $d/w/moved/short-link
  ln -s /a/very/long/target/name/that/does/not/fit/in/the/inode/itself/0123456789/0123456789/0123456789 $d/w/long-link
  ln $d/w/seq $d/w/seq-hardlink
  chmod 600 $d/w/seq
  chmod 750 $d/w/moved
  cp $d/w/seq $d/w/seq-cut
  truncate -s 1000 $d/w/seq-cut
  truncate -s 5000 $d/w/seq-cut
  rm -r $d/w/deep/1/2/3/4/5/6/7/8/9/10 2>/dev/null || true
  rmdir $d/w/deep/1/2/3/4/5/6/7/8/9
  mv $d/w/big $d/w/big-renamed
  rm $d/w/moved/m31
  sync
}'

for bs in 1024 4096; do
  echo "== ext2 with $bs-byte blocks ($runner)"
  img=$tmp/disk-$bs.img
  src=$tmp/src-$bs
  rm -rf "$src"
  mkdir -p "$src/pre/a/b/c/d/e" "$src/pre/empty"
  echo small > "$src/pre/small"
  seq 1 300000 > "$src/pre/medium"
  head -c 3000000 /dev/urandom > "$src/pre/random"
  echo deep > "$src/pre/a/b/c/d/e/file"
  ln -s small "$src/pre/link"
  ln "$src/pre/medium" "$src/pre/medium-link"
  chmod 751 "$src/pre/a"
  truncate -s 30000000 "$src/pre/holes"
  echo "in the middle" | dd of="$src/pre/holes" bs=1 seek=12345678 conv=notrunc status=none
  i=0
  while [ $i -lt 600 ]; do echo "$i" > "$src/pre/a/n$i"; i=$((i + 1)); done
  rm -f "$img"
  mke2fs -q -F -t ext2 -b "$bs" -d "$src" "$img" 400M

  # 1 and 2: the tree as the guest reads it, then the workload, then the tree again.
  out=$(run_guest "$img" "$manifest
$workload
BIG_MB=$big_mb
mount -t ext2 /dev/vda /mnt || exit 10
manifest /mnt/pre
echo ===
if [ -x /abi/fsio ]; then /abi/fsio /mnt; echo \"fsio status \$?\"; fi
echo ===
work /mnt
echo ===
manifest /mnt/w
umount /mnt || exit 11
echo unmounted") || { echo "guest failed ($?): $out" >&2; exit 1; }
  guest_pre=$(printf '%s\n' "$out" | awk '/^===$/ { s++; next } s == 0')
  guest_fsio=$(printf '%s\n' "$out" | awk '/^===$/ { s++; next } s == 1')
  guest_w=$(printf '%s\n' "$out" | awk '/^===$/ { s++; next } s == 3 && $0 != "unmounted"')
  if [ -n "$fsio" ]; then
    mkdir -p "$tmp/fsio-native"
    native_fsio=$("$fsio" "$tmp/fsio-native"; echo "fsio status $?")
    if [ "$guest_fsio" != "$native_fsio" ]; then
      echo "fsio on ext2 differs from fsio natively:" >&2
      diff <(printf '%s\n' "$native_fsio") <(printf '%s\n' "$guest_fsio") | head -30 >&2
      exit 1
    fi
  fi
  host_pre=$(bbsh "$manifest; manifest '$src/pre'")
  if [ "$guest_pre" != "$host_pre" ]; then
    echo "the guest reads the mke2fs tree differently:" >&2
    diff <(printf '%s\n' "$host_pre") <(printf '%s\n' "$guest_pre") | head -20 >&2
    exit 1
  fi
  [ "${out##*$'\n'}" = unmounted ] || { echo "no clean unmount: $out" | tail -5 >&2; exit 1; }
  check_image "$img"
  native=$tmp/native-$bs
  mkdir -p "$native"
  host_w=$(bbsh "$manifest
$workload
BIG_MB=$big_mb
work '$native' >/dev/null
manifest '$native/w'")
  if [ "$guest_w" != "$host_w" ]; then
    echo "the workload's tree differs from the native one:" >&2
    diff <(printf '%s\n' "$host_w") <(printf '%s\n' "$guest_w") | head -20 >&2
    exit 1
  fi
  # What is on the disk, as e2fsprogs reads it.
  rm -rf "$tmp/dump"
  mkdir "$tmp/dump"
  debugfs -R "rdump /w $tmp/dump" "$img" > /dev/null 2>&1
  disk_w=$(bbsh "$manifest; manifest '$tmp/dump/w' nolinks")
  native_w=$(bbsh "$manifest; manifest '$native/w' nolinks")
  if [ "$disk_w" != "$native_w" ]; then
    echo "debugfs finds a different tree on the disk:" >&2
    diff <(printf '%s\n' "$native_w") <(printf '%s\n' "$disk_w") | head -20 >&2
    exit 1
  fi
  blocks=$(debugfs -R "stat /w/sparse2" "$img" 2>/dev/null | sed -n 's/.*Blockcount: \([0-9]*\).*/\1/p')
  if [ -z "$blocks" ] || [ "$blocks" -gt 200 ]; then
    echo "a sparse 70 MB file takes $blocks sectors (holes not kept)" >&2
    exit 1
  fi

  # 3: a file the host puts in; the guest also checks statfs against the disk's figures.
  head -c 1234567 /dev/urandom > "$tmp/hostfile"
  debugfs -w -R "write $tmp/hostfile /from-host" "$img" > /dev/null 2>&1
  want=$(md5sum < "$tmp/hostfile" | cut -c1-32)
  free_blocks=$(dumpe2fs -h "$img" 2>/dev/null | sed -n 's/^Free blocks: *//p')
  out=$(run_guest "$img" "mount -t ext2 /dev/vda /mnt || exit 10
md5sum < /mnt/from-host | cut -c1-32
stat -f -c '%S %f' /mnt
mount -o remount,ro /mnt && { echo x > /mnt/y || echo read-only now; } 2>/dev/null
grep -c '^/dev/vda /mnt ext2 ro' /proc/mounts
mount -o remount,rw /mnt && rm /mnt/from-host && echo writable again
grep -c '^/dev/vda /mnt ext2 rw,relatime ' /proc/mounts
umount /mnt
mount -o ro -t ext2 /dev/vda /mnt && mount -o remount,rw /mnt && grep -c '^/dev/vda /mnt ext2 rw,relatime ' /proc/mounts
umount /mnt") || { echo "guest failed: $out" >&2; exit 1; }
  expected="$want
$bs $free_blocks
read-only now
1
writable again
1
1"
  if [ "$out" != "$expected" ]; then
    printf 'host-written file or statfs: got\n%s\nexpected\n%s\n' "$out" "$expected" >&2
    exit 1
  fi
  check_image "$img"

  # 4: power cut (umk only: the host kills it).
  if [ "$runner" = umk ]; then
    mke2fs -q -F -t ext2 -b "$bs" "$img" 64M
    : > "$tmp/cut.out"
    "$kernel" run --initramfs "$rootfs" --disk "$img" -- /bin/sh -c '
      mount -t ext2 /dev/vda /mnt || exit 10
      seq 1 100000 > /mnt/durable
      sync -d /mnt/durable
      mkdir /mnt/d
      sync /mnt/d
      echo synced
      i=0
      while :; do echo $i > /mnt/d/f$((i % 500)); rm -f /mnt/d/f$(((i + 250) % 500)); i=$((i + 1)); done' \
      > "$tmp/cut.out" 2>&1 &
    pid=$!
    for _ in $(seq 1 200); do
      grep -q synced "$tmp/cut.out" && break
      sleep 0.05
    done
    sleep 1
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    grep -q synced "$tmp/cut.out" || { echo "power cut: the workload did not start: $(cat "$tmp/cut.out")" >&2; exit 1; }
    rc=0
    e2fsck -fy "$img" > "$tmp/fsck.out" 2>&1 || rc=$?
    if [ "$rc" -gt 1 ]; then
      echo "power cut: e2fsck -fy exits $rc:" >&2
      cat "$tmp/fsck.out" >&2
      exit 1
    fi
    check_image "$img"
    got=$(debugfs -R "cat /durable" "$img" 2>/dev/null | md5sum | cut -c1-32)
    if [ "$got" != "$(seq 1 100000 | md5sum | cut -c1-32)" ]; then
      echo "power cut: the fsync'ed file is not intact" >&2
      exit 1
    fi
  fi
done

# 5: the root file system on the disk (--root /dev/vda): the busybox tree from the archive as an
# ext2 image, booted without an initramfs; a file the guest writes reaches the image.
echo "== ext2 as the root file system ($runner)"
rm -rf "$tmp/rootsrc"
mkdir "$tmp/rootsrc"
(cd "$tmp/rootsrc" && cpio -id --quiet < "$rootfs")
# A small image inside the root image, for a loop mount in the guest (ext2 on a loop device
# on a file of ext2 on the disk).
mkdir "$tmp/inner"
echo "inside the loop image" > "$tmp/inner/hello"
mke2fs -q -F -t ext2 -b 1024 -d "$tmp/inner" "$tmp/rootsrc/inner.img" 4M
img=$tmp/root.img
mke2fs -q -F -t ext2 -b 4096 -d "$tmp/rootsrc" "$img" 128M
script='read -r src dir type rest < /proc/mounts; echo "$src $dir $type"; ls /proc/self/fd > /dev/null && echo proc ok
cat /sys/block/vda/size /sys/block/vda/ro /sys/class/net/lo/mtu
echo written on the root > /root/note
mount -o loop /inner.img /mnt && cat /mnt/hello && echo "from the guest" > /mnt/new && grep -c "^/dev/loop0 /mnt ext2" /proc/mounts
umount /mnt && losetup /dev/loop0 2>&1 | grep -c "No such device or address"
sync; echo done'
case $runner in
  umk) out=$("$kernel" run --disk "$img" --root /dev/vda -- /bin/sh -c "$script") ;;
  ptrace) out=$("$kernel" run --platform ptrace --disk "$img" --root /dev/vda -- /bin/sh -c "$script") ;;
  qemu) out=$("$kernel" --disk "$img" --root /dev/vda -- /bin/sh -c "$script") ;;
esac
expected="/dev/vda / ext2
proc ok
262144
0
65536
inside the loop image
1
1
done"
if [ "$out" != "$expected" ]; then
  printf 'booting from the disk: got\n%s\nexpected\n%s\n' "$out" "$expected" >&2
  exit 1
fi
check_image "$img"
got=$(debugfs -R "cat /root/note" "$img" 2>/dev/null)
[ "$got" = "written on the root" ] || { echo "the root disk lacks the guest's file: '$got'" >&2; exit 1; }
debugfs -R "dump /inner.img $tmp/inner-out.img" "$img" > /dev/null 2>&1
check_image "$tmp/inner-out.img"
got=$(debugfs -R "cat /new" "$tmp/inner-out.img" 2>/dev/null)
[ "$got" = "from the guest" ] || { echo "the loop image lacks the guest's file: '$got'" >&2; exit 1; }
echo "ext2 ($runner): ok"
