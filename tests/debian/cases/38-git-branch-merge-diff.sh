export GIT_AUTHOR_NAME=umk GIT_AUTHOR_EMAIL=umk@example.org GIT_COMMITTER_NAME=umk GIT_COMMITTER_EMAIL=umk@example.org
export GIT_AUTHOR_DATE='2024-01-01T00:00:00Z' GIT_COMMITTER_DATE='2024-01-01T00:00:00Z'
git init -q -b main r && cd r
printf 'a\nb\nc\n' > f && git add f && git commit -qm base
git checkout -qb feature && sed -i 's/a/A/' f && git commit -qam feature
git checkout -q main && echo d >> f && git commit -qam main-change
git merge -q --no-edit feature && cat f
git diff HEAD~1 --stat | tail -1
git branch --list | sort; git log --oneline --graph | wc -l
