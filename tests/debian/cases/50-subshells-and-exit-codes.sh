(exit 42); echo $?
sh -c 'exit 3'; echo $?
bash -c 'kill -9 $$'; echo $?
bash -c 'echo $0 $1 $#' prog arg1 arg2
true && echo and || echo or; false || echo or-branch
