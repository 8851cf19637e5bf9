LC_ALL=C.UTF-8 bash -c 'x="naïve"; echo ${#x}'
LC_ALL=C bash -c 'x="naïve"; echo ${#x}'
printf '%s\n' b A a B | LC_ALL=C sort | tr -d '\n'; echo
