# Shared by ext2_test.sh, ext4_test.sh and volume_test.sh (sourced after $tmp exists): the host
# runs the same busybox applets as the guest (bbsh), and `manifest DIR [nolinks]` — a shell
# function kept in $manifest so it can be sent into the guest too — prints what a tree holds,
# one sorted line per name: type, permissions, size, links and checksum (links of files left out
# with "nolinks"). `check_image IMAGE` fails the test unless `e2fsck -fn` finds IMAGE clean.
mkdir "$tmp/bb"
busybox --install -s "$tmp/bb"
bbsh() { PATH=$tmp/bb:$PATH busybox sh -c "$1"; }

manifest='manifest() {
  cd "$1" || return 1
  { find . -type d -exec stat -c "%n d %a %h" {} +
    if [ "$2" = nolinks ]; then find . -type f -exec stat -c "%n f %a %s" {} +
    else find . -type f -exec stat -c "%n f %a %s %h" {} +; fi
    find . -type l -exec stat -c "%N" {} +
    find . -type f -exec md5sum {} + | while read -r sum name; do echo "$name md5 $sum"; done
  } | sort
  cd /
}'

check_image() {  # IMAGE
  if ! e2fsck -fn "$1" > "$tmp/fsck.out" 2>&1; then
    echo "e2fsck -fn finds the image unclean:" >&2
    cat "$tmp/fsck.out" >&2
    exit 1
  fi
}
