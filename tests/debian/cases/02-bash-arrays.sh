a=(zero one two three)
echo "${#a[@]} ${a[2]} ${a[@]:1:2}"
declare -A m=([x]=1 [y]=2)
for k in $(printf '%s\n' "${!m[@]}" | sort); do echo "$k=${m[$k]}"; done
a+=(four); unset 'a[0]'; echo "${a[*]}"
