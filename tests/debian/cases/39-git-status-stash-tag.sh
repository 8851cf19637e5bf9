export GIT_AUTHOR_NAME=umk GIT_AUTHOR_EMAIL=umk@example.org GIT_COMMITTER_NAME=umk GIT_COMMITTER_EMAIL=umk@example.org
export GIT_AUTHOR_DATE='2024-01-01T00:00:00Z' GIT_COMMITTER_DATE='2024-01-01T00:00:00Z'
git init -q -b main r && cd r
for i in $(seq 1 50); do echo $i > f$i; done; git add . && git commit -qm many
echo changed > f7; rm f9; echo new > g
git status --porcelain
git stash -q -u && git status --porcelain | wc -l && git stash pop -q && git status --porcelain | wc -l
git tag v1 && git describe --tags; git gc -q && git count-objects -v | grep -c pack
