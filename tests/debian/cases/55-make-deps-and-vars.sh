cat > Makefile <<'M'
SRC := $(wildcard *.in)
OUT := $(SRC:.in=.out)
all: $(OUT) ; @echo done: $(sort $(OUT))
%.out: %.in ; @tr a-z A-Z < $< > $@
show: ; @echo $(words $(SRC)) $(patsubst %.in,[%],$(SRC))
M
echo aa > x.in; echo bb > y.in
make -s; make -s show; cat x.out y.out; make -s -q all; echo "up-to-date rc=$?"
