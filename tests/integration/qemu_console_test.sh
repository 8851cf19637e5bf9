#!/usr/bin/env bash
# The virtio console in QEMU: what the guest writes to /dev/hvc0 reaches the host's chardev,
# and a reader blocked on it ends on a signal. Usage: qemu_console_test.sh QEMU_RUN ROOTFS_CPIO
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$("$1" --initramfs "$2" --virtio-console "$tmp/hvc0.out" -- /bin/sh -c '
  for i in 1 2 3; do echo "line $i via hvc0"; done > /dev/hvc0
  cat /dev/hvc0 & sleep 0.2; kill $!; wait $!; echo "reader: $?"')
if [ "$out" != "reader: 143" ]; then
  echo "guest output: '$out' (expected 'reader: 143')" >&2
  exit 1
fi
expected=$(printf 'line 1 via hvc0\nline 2 via hvc0\nline 3 via hvc0')
if [ "$(cat "$tmp/hvc0.out")" != "$expected" ]; then
  echo "virtio console output: '$(cat "$tmp/hvc0.out")'" >&2
  exit 1
fi
echo "virtio console: ok"
