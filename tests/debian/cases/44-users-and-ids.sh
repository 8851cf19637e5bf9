id -u; id -g; id -un; whoami
getent passwd root | cut -d: -f1,3,6
getent group root | cut -d: -f1,3
stat -c '%U %G %a' /etc/passwd /tmp
