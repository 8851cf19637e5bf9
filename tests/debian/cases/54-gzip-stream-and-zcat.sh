for i in 1 2 3; do echo part$i | gzip; done > multi.gz
zcat multi.gz
seq 1000 | gzip -1 | gzip -dc | tail -1
echo corrupt | gzip -dc 2>/dev/null; echo "rc=$?"
