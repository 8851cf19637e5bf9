#!/bin/bash
# gdb in batch mode: a breakpoint on write in a dynamically linked program, the backtrace's
# innermost frame, the registers and memory of the call, a single step, continue to the end;
# then a caught signal. Addresses and pids are taken out.
norm() {
  sed -E -e 's/0x[0-9a-f]+/ADDR/g' -e 's/process [0-9]+/process N/' -e 's/LWP [0-9]+/LWP N/' \
    -e '/^\[Thread debugging/d' -e '/^Using host libthread_db/d' -e '/libthread_db/d'
}
gdb -batch -nx -ex 'set breakpoint pending on' -ex 'break write' -ex run -ex 'bt 1' \
  -ex 'print $rdi' -ex 'x/s $rsi' -ex 'print $rdx' -ex continue --args /bin/echo hi 2>&1 | norm
gdb -batch -nx -ex 'catch signal SIGUSR1' -ex run -ex 'print $_siginfo.si_signo' -ex continue \
  --args /bin/bash -c 'kill -USR1 $$; echo after' 2>&1 | norm
