seq 1 20 | xargs -n 5 echo | wc -l
seq 1 8 | xargs -P 2 -I{} sh -c 'echo item-{}' | sort -t- -k2 -n | tail -2
printf 'a b\nc d\n' | xargs -L1 printf '<%s>\n' | tr -d '\n'; echo
