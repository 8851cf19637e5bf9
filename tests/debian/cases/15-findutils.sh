mkdir -p t/a/b t/c && touch t/a/1.txt t/a/b/2.txt t/c/3.log t/c/4.txt
find t -name '*.txt' | sort
find t -type d | sort
find t -name '*.txt' -print0 | xargs -0 -n1 basename | sort
find t -newer t/a/1.txt -o -name 3.log | sort | head -1 >/dev/null; echo ok
find t -type f -exec echo found {} \; | sort | wc -l
