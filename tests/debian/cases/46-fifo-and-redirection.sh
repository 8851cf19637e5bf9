mkfifo p
( echo through-fifo > p ) & cat p; wait
exec 3>out; echo to-fd3 >&3; exec 3>&-; cat out
{ echo err >&2; echo out; } 2>&1 >/dev/null | tr a-z A-Z
echo append >> out; wc -l < out
