sqlite3 t.db 'create table p (name text, age int); insert into p values ("ann", 31), ("bob", 25), ("cy", 40);'
sqlite3 t.db 'select name from p where age > 30 order by name;'
sqlite3 -header -csv t.db 'select count(*) as n, avg(age) as a from p;'
printf '.mode line\nselect max(age) as oldest from p;\n' | sqlite3 t.db
sqlite3 t.db 'pragma integrity_check;'
