{ echo 'begin;'; echo 'create table n (i int);'; for i in $(seq 1 500); do echo "insert into n values ($i);"; done; echo 'commit;'; } | sqlite3 n.db
sqlite3 n.db 'select count(*), sum(i) from n;'
sqlite3 n.db 'begin; delete from n; rollback; select count(*) from n;'
