cat <<X
one $((1+1))
X
cat <<'X'
$HOME stays
X
tr a-z A-Z <<< "here string"
s="The quick brown fox"; echo "${s// /_} ${s^^} ${s:4:5} ${#s}"
