mkdir -p d/e/f && touch d/a d/e/b && echo data > d/e/f/c
cp -r d d2 && mv d2/a d2/a2 && ln -s e/f/c d2/link && ln d2/e/f/c d2/hard
ls -R d2 | sort
stat -c '%h %s %F' d2/hard d2/link d2/e
readlink d2/link; cat d2/link; rm -r d d2; ls
