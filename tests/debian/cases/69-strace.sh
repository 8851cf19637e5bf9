#!/bin/bash
# strace -f follows a shell and the programs it starts: the calls it saw, the exit status, and
# the child's signal, with pids and addresses taken out (they differ from run to run).
strace -f -qq -o trace.log -e trace=execve,write,exit_group,kill -e signal=none \
  sh -c 'echo hello; ls /nonexistent 2>/dev/null; printf "%s\n" done; exit 3'
echo "exit $?"
sed -E -e 's/^[0-9]+ +//' -e 's/0x[0-9a-f]+/ADDR/g' -e 's|/\* [0-9]+ vars \*/|VARS|' trace.log | sort
# A summary (-c) counts calls: only which calls appear, not the times.
strace -c -o summary.log -e trace=write,openat cat /etc/hostname > /dev/null
awk 'NR > 2 && $NF ~ /^(write|openat)$/ { print $NF, ($4 > 0) ? "called" : "none" }' summary.log | sort
