python3 -c 'import json; print(json.dumps([{"n": i, "sq": i * i} for i in range(1, 6)]))' |
  perl -MJSON::PP -e 'my $a = decode_json(join "", <STDIN>); print "$_->{n} $_->{sq}\n" for @$a' |
  awk '{ s += $2 } END { print s }' | sed 's/^/sum of squares: /'
