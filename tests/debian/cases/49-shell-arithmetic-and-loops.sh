for ((i = 0, s = 0; i < 1000; i++)); do ((s += i * i)); done; echo $s
n=0; while [ $n -lt 5 ]; do n=$((n + 1)); [ $n -eq 3 ] && continue; printf '%d ' $n; done; echo
case "umk-kernel" in *-kernel) echo matched;; *) echo no;; esac
echo $(( 2 ** 40 )) $(( -7 / 2 )) $(( -7 % 2 )) $(( 0x1f | 0100 ))
