here=$PWD
mkdir -p a/b && ln -s a/b lb && ln -s ../.. a/b/up && cd lb && pwd | sed "s|^$here|.|" && pwd -P | sed "s|^$here|.|" && cd ..
readlink -f lb/up | sed "s|^$here|.|"; ls -l lb | cut -c1; test -L lb && echo is-link
ln -s loop1 loop2; ln -s loop2 loop1; cat loop1 2>/dev/null; echo "rc=$?"
