date -u -d @0 '+%Y-%m-%d %H:%M:%S'
date -u -d '2024-02-29 12:00' +%j
env -i FOO=bar sh -c 'echo $FOO'
basename /a/b/c.txt .txt; dirname /a/b/c.txt; realpath -m /a/./b/../c
expr 6 \* 7; factor 360; numfmt --to=iec 1048576; printf '%05.1f|%x|%o\n' 3.14159 255 8
