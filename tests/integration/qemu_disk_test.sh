#!/usr/bin/env bash
# The virtio block device in QEMU: the guest reads what the host put on a raw image (/dev/vda)
# and its writes land in the image. Usage: qemu_disk_test.sh QEMU_RUN ROOTFS_CPIO
set -euo pipefail
qemu_run=$1
rootfs=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
img=$tmp/disk.img
head -c $((3 << 20)) /dev/urandom > "$img"
printf 'first sector\n' | dd of="$img" conv=notrunc status=none
want_md5=$(dd if="$img" bs=4096 skip=100 count=33 status=none | md5sum | cut -d' ' -f1)
out=$("$qemu_run" --initramfs "$rootfs" --disk "$img" -- /bin/sh -c '
  head -c 13 /dev/vda
  dd if=/dev/vda bs=4096 skip=100 count=33 2>/dev/null | md5sum
  printf "from the guest" | dd of=/dev/vda bs=1 seek=1000000 conv=notrunc 2>/dev/null
  dd if=/dev/vda bs=1 skip=3145720 count=100 2>/dev/null | wc -c
  printf x | dd of=/dev/vda bs=1 seek=3145728 2>/dev/null; echo "write past the end: $?"')
expected="first sector
$want_md5  -
8
write past the end: 1"
if [ "$out" != "$expected" ]; then
  printf 'guest output:\n%s\nexpected:\n%s\n' "$out" "$expected" >&2
  exit 1
fi
got=$(dd if="$img" bs=1 skip=1000000 count=14 status=none)
if [ "$got" != "from the guest" ]; then
  echo "the guest's write is not in the image: '$got'" >&2
  exit 1
fi
echo "virtio-blk: ok"
