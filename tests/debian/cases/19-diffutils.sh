printf 'a\nb\nc\nd\n' > x; printf 'a\nB\nc\nd\ne\n' > y
diff -u x y | tail -n +3; echo "rc=$?"
cmp x y; echo "cmp rc=$?"
diff3 x y x | head -3 || true
diff -q x x && echo identical
