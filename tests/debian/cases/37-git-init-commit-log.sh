export GIT_AUTHOR_NAME=umk GIT_AUTHOR_EMAIL=umk@example.org GIT_COMMITTER_NAME=umk GIT_COMMITTER_EMAIL=umk@example.org
export GIT_AUTHOR_DATE='2024-01-01T00:00:00Z' GIT_COMMITTER_DATE='2024-01-01T00:00:00Z'
git init -q -b main r && cd r
echo one > f && git add f && git commit -qm first
echo two >> f && git commit -qam second
git log --format='%H %s'
git rev-list --count HEAD; git cat-file -p HEAD^{tree}
