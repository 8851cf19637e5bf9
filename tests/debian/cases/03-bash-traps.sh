trap 'echo exiting with $?' EXIT
trap 'echo got USR1' USR1
kill -USR1 $$
( trap 'echo sub-term; exit 3' TERM; kill -TERM $BASHPID; sleep 5 ); echo "subshell rc=$?"
false
