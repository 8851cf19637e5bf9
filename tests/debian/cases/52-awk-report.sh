printf 'dept,name,salary\neng,ann,100\neng,bob,80\nops,cy,70\nops,di,90\n' |
awk -F, 'NR > 1 { sum[$1] += $3; cnt[$1]++ } END { for (d in sum) printf "%s %d %.1f\n", d, sum[d], sum[d] / cnt[d] }' | sort
