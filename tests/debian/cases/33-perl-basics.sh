perl -e 'my %h = (b => 2, a => 1); print join(",", map { "$_=$h{$_}" } sort keys %h), "\n"'
perl -ne 'print if /^root/' /etc/passwd | cut -d: -f1
echo "Hello, World" | perl -pe 's/(\w+)/\u\L$1/g; tr/o/0/'
perl -MList::Util=sum,max -e 'print sum(1..100), " ", max(3, 9, 2), "\n"'
perl -e 'printf "%.3f %s\n", atan2(1, 1) * 4, scalar reverse "kernel"'
