mkdir -p k && echo x > k/a && chmod 640 k/a && chmod 750 k && touch -d '2020-01-02 03:04:05 UTC' k/a
tar cf k.tar k && rm -rf k && tar xpf k.tar
stat -c '%a %Y' k k/a | sed 's/ [0-9]*$/ T/' | head -1; stat -c '%a %Y' k/a
tar tvf k.tar | awk '{print $1, $6}'
