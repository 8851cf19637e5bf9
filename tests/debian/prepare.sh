#!/usr/bin/env bash
# tests/debian/prepare.sh BUILD-DIR — makes BUILD-DIR/debian: the Debian root (scripts/mkrootfs
# --debian with the packages below, built once and kept while this list and mkrootfs stay the
# same), image.cpio (that root with the cases at /cases, as two concatenated archives) and, when
# run as root, root/ (the same tree unpacked, the native reference's chroot).
# DEBIAN_FULL=1 adds the compilers and tools of the full set (gcc, libc6-dev, binutils)
# and keeps that root apart, in BUILD-DIR/debian-full.
set -euo pipefail
build=$1
src=$(cd "$(dirname "$0")" && pwd)
root_dir=$(cd "$src/../.." && pwd)
deb=$build/debian
packages=bash,coreutils,findutils,grep,sed,gawk,tar,gzip,xz-utils,bzip2,diffutils,make,python3,perl,sqlite3,git,file,procps,vim-tiny,nginx-light,redis-server,redis-tools,curl,wrk,strace,gdb
if [ -n "${DEBIAN_FULL:-}" ]; then
  deb=$build/debian-full
  packages=$packages,gcc,libc6-dev,binutils
fi
mkdir -p "$deb"
stamp="$packages $(sha256sum "$root_dir/scripts/mkrootfs" "$root_dir/scripts/tar2cpio" | cut -c1-16 | tr '\n' ' ')"
if [ ! -f "$deb/rootfs.cpio" ] || [ "$(cat "$deb/stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -f "$deb/stamp"
  "$root_dir/scripts/mkrootfs" --debian --include "$packages" --tar "$deb/rootfs.tar" "$deb/rootfs.cpio"
  rm -rf "$deb/root"
  echo "$stamp" > "$deb/stamp"
fi
if [ "$(id -u)" -eq 0 ] && [ ! -d "$deb/root/usr" ]; then
  rm -rf "$deb/root" && mkdir -p "$deb/root"
  tar -xpf "$deb/rootfs.tar" -C "$deb/root" --numeric-owner
fi
cases=$(mktemp -d)
trap 'rm -rf "$cases"' EXIT
mkdir -p "$cases/cases"
cp "$src"/cases/*.sh "$src/run-all.sh" "$src/bench.sh" "$cases/cases/"
"$root_dir/scripts/mkcpio" "$cases" "$deb/cases.cpio"
cat "$deb/rootfs.cpio" "$deb/cases.cpio" > "$deb/image.cpio.tmp" && mv "$deb/image.cpio.tmp" "$deb/image.cpio"
if [ -d "$deb/root/usr" ]; then rm -rf "$deb/root/cases" && cp -r "$cases/cases" "$deb/root/cases"; fi
echo "debian image ready: $(du -h "$deb/image.cpio" | cut -f1)"
