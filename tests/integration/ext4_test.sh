#!/usr/bin/env bash
# ext4 images, read-only, checked against the tree they were made from:
#  1. mke2fs -t ext4 -d (Debian's defaults: extents, 64bit, flex_bg, metadata_csum, huge_file,
#     dir_nlink, extra_isize, a journal) of a host tree with a fragmented file whose extent tree
#     is one or two levels deep, a preallocated (unwritten) extent over garbage, holes, a big
#     file, fast and slow symlinks, hard links and a large directory; the guest reads back the
#     same tree, mount -t ext2 and -t ext3 refuse the image (EINVAL), a read-write mount is
#     EROFS (busybox's mount then mounts it read-only, silently), as is one without a type,
#     /proc/mounts says ext4, and the image is not changed by a byte;
#  2. booting with an ext4 image as the root file system (--root /dev/vda mounts it read-only).
# Each with 1 KiB and 4 KiB blocks.
# Usage: ext4_test.sh RUNNER UMK|QEMU_RUN CPIO (RUNNER: umk, ptrace or qemu).
set -euo pipefail
runner=$1
kernel=$2
rootfs=$(realpath "$3")
export LC_ALL=C
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
PATH=$PATH:/usr/sbin:/sbin
. "$(dirname "$0")/tree_lib.sh"

run_guest() {  # IMAGE SCRIPT [--root]
  local img=$1 script=$2
  local boot=(--initramfs "$rootfs")
  [ "${3:-}" = --root ] && boot=(--root /dev/vda)
  case $runner in
    umk) "$kernel" run --mem 512M "${boot[@]}" --disk "$img" -- /bin/sh -c "$script" ;;
    ptrace) "$kernel" run --mem 512M --platform ptrace "${boot[@]}" --disk "$img" -- /bin/sh -c "$script" ;;
    qemu) "$kernel" --mem 512M "${boot[@]}" --disk "$img" -- /bin/sh -c "$script" ;;
  esac
}

for bs in 1024 4096; do
  echo "== ext4 with $bs-byte blocks ($runner)"
  img=$tmp/disk-$bs.img
  src=$tmp/src-$bs
  rm -rf "$src"
  mkdir -p "$src/pre/a/b/c/d/e" "$src/pre/empty" "$src/pre/many"
  echo small > "$src/pre/small"
  seq 1 300000 > "$src/pre/medium"
  head -c 20000000 /dev/urandom > "$src/pre/big"
  echo deep > "$src/pre/a/b/c/d/e/file"
  ln -s small "$src/pre/link"
  ln -s /a/very/long/target/name/that/does/not/fit/in/the/inode/itself/0123456789/0123456789/0123456789 \
    "$src/pre/long-link"
  ln "$src/pre/medium" "$src/pre/medium-link"
  chmod 751 "$src/pre/a"
  truncate -s 30000000 "$src/pre/holes"
  echo "in the middle" | dd of="$src/pre/holes" bs=1 seek=12345678 conv=notrunc status=none
  i=0
  while [ $i -lt 600 ]; do echo "$i" > "$src/pre/many/n$i"; i=$((i + 1)); done
  # 600 data blocks with a hole after each: 600 extents, more than the inode's four and (1 KiB
  # blocks) than one block of them holds — index levels. mke2fs -d leaves zero blocks out.
  python3 -c "
import sys
bs = $bs
with open(sys.argv[1], 'wb') as f:
    for i in range(600):
        f.seek(2 * i * bs)
        f.write(bytes([i % 251 + 1]) * bs)
" "$src/pre/fragmented"
  truncate -s $((64 * bs)) "$src/pre/prealloc"
  rm -f "$img"
  mke2fs -q -F -t ext4 -b "$bs" -d "$src" "$img" 200M
  # Unwritten extents over blocks holding garbage: they must read as zeros.
  debugfs -w -R "fallocate /pre/prealloc 0 63" "$img" > /dev/null 2>&1
  extents=$(debugfs -R "ex /pre/prealloc" "$img" 2>/dev/null)
  grep -q Uninit <<< "$extents" || { echo "debugfs made no unwritten extent: $extents" >&2; exit 1; }
  phys=$(debugfs -R "bmap /pre/prealloc 0" "$img" 2>/dev/null | awk '{ print $1 }')
  head -c $((64 * bs)) /dev/urandom | dd of="$img" bs="$bs" seek="$phys" conv=notrunc status=none
  depth=$(debugfs -R "ex /pre/fragmented" "$img" 2>/dev/null | awk 'NR == 2 { split($2, d, "/"); print d[1] + 0 }')
  want_depth=1
  [ "$bs" = 1024 ] && want_depth=2
  if [ "$depth" != "$want_depth" ]; then
    echo "the fragmented file's extent tree is $depth levels deep, not $want_depth" >&2
    exit 1
  fi
  check_image "$img"
  before=$(md5sum < "$img")
  free_blocks=$(dumpe2fs -h "$img" 2>/dev/null | sed -n 's/^Free blocks: *//p')

  out=$(run_guest "$img" "$manifest
mount -t ext2 /dev/vda /mnt 2>/dev/null && echo mounted as ext2
mount -t ext3 /dev/vda /mnt 2>/dev/null && echo mounted as ext3
mount -t ext4 /dev/vda /mnt 2>&1 || exit 10
grep '^/dev/vda ' /proc/mounts | cut -d' ' -f1-4
touch /mnt/new 2>/dev/null || echo read-only
stat -f -c '%S %f' /mnt
echo ===
manifest /mnt/pre
echo ===
umount /mnt || exit 11
mount /dev/vda /mnt 2>/dev/null || exit 12
grep '^/dev/vda ' /proc/mounts | cut -d' ' -f1-4
umount /mnt && echo unmounted") || { echo "guest failed ($?): $out" >&2; exit 1; }
  head_part=$(printf '%s\n' "$out" | awk '/^===$/ { s++; next } s == 0')
  guest_pre=$(printf '%s\n' "$out" | awk '/^===$/ { s++; next } s == 1')
  tail_part=$(printf '%s\n' "$out" | awk '/^===$/ { s++; next } s == 2')
  expected_head="/dev/vda /mnt ext4 ro,relatime
read-only
$bs $free_blocks"
  if [ "$head_part" != "$expected_head" ]; then
    printf 'mounting ext4: got\n%s\nexpected\n%s\n' "$head_part" "$expected_head" >&2
    exit 1
  fi
  expected_tail="/dev/vda /mnt ext4 ro,relatime
unmounted"
  if [ "$tail_part" != "$expected_tail" ]; then
    printf 'mounting ext4 without a type: got\n%s\nexpected\n%s\n' "$tail_part" "$expected_tail" >&2
    exit 1
  fi
  host_pre=$(bbsh "$manifest; manifest '$src/pre'")
  if [ "$guest_pre" != "$host_pre" ]; then
    echo "the guest reads the mke2fs tree differently:" >&2
    diff <(printf '%s\n' "$host_pre") <(printf '%s\n' "$guest_pre") | head -20 >&2
    exit 1
  fi
  [ "$(md5sum < "$img")" = "$before" ] || { echo "a read-only mount changed the image" >&2; exit 1; }
done

# 2: the busybox tree from the archive as an ext4 image, booted without an initramfs.
echo "== ext4 as the root file system ($runner)"
mkdir "$tmp/rootsrc"
(cd "$tmp/rootsrc" && cpio -id --quiet < "$rootfs")
img=$tmp/root.img
mke2fs -q -F -t ext4 -b 4096 -d "$tmp/rootsrc" "$img" 128M
before=$(md5sum < "$img")
out=$(run_guest "$img" 'read -r src dir type opts rest < /proc/mounts; echo "$src $dir $type ${opts%%,*}"
echo x > /root/note 2>/dev/null || echo read-only
busybox | head -1 | cut -c1-7' --root)
expected="/dev/vda / ext4 ro
read-only
BusyBox"
if [ "$out" != "$expected" ]; then
  printf 'booting from an ext4 disk: got\n%s\nexpected\n%s\n' "$out" "$expected" >&2
  exit 1
fi
[ "$(md5sum < "$img")" = "$before" ] || { echo "booting read-only changed the image" >&2; exit 1; }
echo "ext4 ($runner): ok"
