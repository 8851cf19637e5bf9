printf 'caf\xc3\xa9 na\xc3\xafve\n' | iconv -f UTF-8 -t ISO-8859-1 | od -An -tx1
printf 'caf\xe9\n' | iconv -f LATIN1 -t UTF-8
printf 'abc' | iconv -f UTF-8 -t UTF-16LE | od -An -tx1
printf 'x\xff\n' | iconv -f UTF-8 -t ASCII 2>/dev/null; echo "rc=$?"
iconv -l | grep -c -i -E '^ *(ISO-8859-15|UTF-16|EBCDIC-US)//' 
