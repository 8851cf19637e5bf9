#!/usr/bin/env bash
# tests/debian/run.sh BUILD-DIR HOW — the Debian userland tests: run-all.sh's cases in the
# Debian root that prepare.sh made (BUILD-DIR/debian), natively in a chroot (with tmpfs on /tmp
# as the kernel's root is, and /proc of a fresh pid namespace), then under HOW: "umk" (the
# seccomp platform), "ptrace", or "qemu"; compare.py compares them case by case. A case name as
# a third argument runs that case alone. Exit 77 (skipped) without root: the native chroot
# needs it.
set -uo pipefail
build=$1 how=$2 only=${3:-}
src=$(cd "$(dirname "$0")" && pwd)
root_dir=$(cd "$src/../.." && pwd)
deb=$build/debian
[ -z "${DEBIAN_FULL:-}" ] || deb=$build/debian-full  # the full set (prepare.sh)
if [ "$(id -u)" -ne 0 ]; then echo "skipped: the native reference runs in a chroot, which needs root"; exit 77; fi
[ -f "$deb/image.cpio" ] && [ -d "$deb/root/cases" ] || { echo "no Debian image: run tests/debian/prepare.sh"; exit 1; }
out=$(mktemp -d "${TMPDIR:-/tmp}/debian-$how.XXXXXX")
trap 'rm -rf "$out"' EXIT
# A network namespace of its own (only lo, up): the servers of the cases take fixed ports, and
# another runner's native reference may be running at the same time.
unshare --mount --pid --net --fork --mount-proc="$deb/root/proc" sh -c '
  ip link set lo up && mount -t tmpfs -o mode=1777 tmpfs "$1/tmp" &&
  exec chroot "$1" /usr/bin/env -i /bin/bash /cases/run-all.sh "$2"' \
  sh "$deb/root" "$only" > "$out/native.txt" 2>&1
case "$how" in
  umk) "$build/umk/umk" run --mem 2G --log-file "$out/umk.log" --initramfs "$deb/image.cpio" -- \
         /bin/bash /cases/run-all.sh $only > "$out/guest.txt" 2>&1 ;;
  ptrace) "$build/umk/umk" run --platform ptrace --mem 2G --log-file "$out/umk.log" --initramfs "$deb/image.cpio" -- \
         /bin/bash /cases/run-all.sh $only > "$out/guest.txt" 2>&1 ;;
  qemu) "$root_dir/scripts/qemu-run" --mem 2G --initramfs "$deb/image.cpio" -- \
         /bin/bash /cases/run-all.sh $only > "$out/guest.txt" 2> "$out/umk.log" ;;
  *) echo "unknown runner $how"; exit 2 ;;
esac
echo "kernel run exit status $?"
python3 "$src/compare.py" "$out/native.txt" "$out/guest.txt"
rc=$?
[ $rc -eq 0 ] || { echo "--- kernel log (last lines)"; tail -20 "$out/umk.log"; }
exit $rc
