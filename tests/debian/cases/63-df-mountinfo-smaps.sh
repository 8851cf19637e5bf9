df --output=target / /proc | tail -n +2
awk '$5 == "/proc" { print $9 }' /proc/self/mountinfo
findmnt -n -o FSTYPE /proc
grep -c '^Rss:' /proc/self/smaps_rollup
awk '/^Rss:/ { n++ } END { print (n > 5) ? "per-area" : "few" }' /proc/self/smaps
awk '/^VmRSS:/ { print ($2 > 100) ? "rss" : "tiny" }' /proc/self/status
