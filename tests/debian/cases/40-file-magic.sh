printf '#!/bin/sh\necho\n' > s.sh; printf '\x89PNG\r\n\x1a\n' > p.png; echo '{"a":1}' > j.json; gzip -c s.sh > s.gz
file -b s.sh p.png s.gz | sed 's/, last modified.*//'
file -b --mime-type /bin/bash j.json
file -b /usr/bin/perl | cut -d, -f1,2
