perl -MFile::Temp=tempdir -MFile::Path=make_path -e '
my $d = tempdir(CLEANUP => 1); make_path("$d/a/b");
open my $f, ">", "$d/a/b/x" or die; print $f "line$_\n" for 1..3; close $f;
open $f, "<", "$d/a/b/x" or die; my @l = <$f>; print scalar(@l), " $l[2]";'
perl -MDigest::MD5=md5_hex -e 'print md5_hex("umk"), "\n"'
perl -MPOSIX=floor -e 'print floor(-2.5), "\n"'
