printf 'abc' > f
md5sum f; sha1sum f; sha256sum f; sha512sum f | cut -c1-32; b2sum f | cut -c1-32
cksum f; sha256sum f > sums; sha256sum -c sums
