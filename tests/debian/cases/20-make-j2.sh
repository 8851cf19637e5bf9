mkdir p && cd p
cat > Makefile <<'M'
all: out.txt
parts = a.part b.part c.part d.part
%.part: ; @echo $* > $@
out.txt: $(parts) ; @cat $^ > $@; echo built $@
clean: ; rm -f *.part out.txt
.PHONY: all clean
M
make -j2 -s; cat out.txt; make -s; echo "again rc=$?"; make -s clean; ls
