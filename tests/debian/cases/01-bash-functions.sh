fact() { if [ "$1" -le 1 ]; then echo 1; else echo $(( $1 * $(fact $(( $1 - 1 ))) )); fi; }
fact 10
greet() { local who=${1:-world}; printf 'hello, %s\n' "$who"; }
greet; greet umk
