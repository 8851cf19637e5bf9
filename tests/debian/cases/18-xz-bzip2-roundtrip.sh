seq 1 20000 > n
xz -k n && bzip2 -k n && ls n*
xz -dc n.xz | sha256sum; bzip2 -dc n.bz2 | sha256sum; sha256sum < n
tar cJf n.tar.xz n && tar tJf n.tar.xz
tar cjf n.tar.bz2 n && tar xjf n.tar.bz2 -O | tail -1
xz -t n.xz && bzip2 -t n.bz2 && echo tested
