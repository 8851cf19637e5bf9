coproc UP { tr a-z A-Z; }
echo "to coproc" >&"${UP[1]}"; exec {UP[1]}>&-
read -r line <&"${UP[0]}"; echo "$line"; wait
printf -v padded '%-6s|' ab; echo "$padded"
