dd if=/dev/zero of=z bs=4096 count=16 status=none; stat -c %s z
truncate -s 1M z; stat -c %s z; truncate -s 10 z; od -An -c z | head -2
dd if=/dev/urandom of=r bs=1k count=64 status=none; stat -c %s r
split -b 10000 r part-; ls part-* | wc -l; cat part-* | cmp - r && echo same
