mkdir -p src/sub && seq 1 5000 > src/numbers && echo hi > src/sub/hi && ln -s numbers src/link
tar czf a.tgz src && rm -rf src && tar xzf a.tgz
sha256sum src/numbers src/sub/hi; readlink src/link
tar tzf a.tgz | sort
gzip -9 -c src/numbers | gzip -dc | sha256sum
