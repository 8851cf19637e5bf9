python3 -c '
import sqlite3
db = sqlite3.connect("t.db")
db.execute("create table t (k integer primary key, v text)")
db.executemany("insert into t (v) values (?)", [(str(i),) for i in range(1000)])
db.commit()
print(db.execute("select count(*), sum(k), max(v) from t").fetchone())
db.close()
print(sqlite3.connect("t.db").execute("select v from t where k = 500").fetchone()[0])'
