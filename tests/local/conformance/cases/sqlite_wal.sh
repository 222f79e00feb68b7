# Issue 8, item 5: SQLite in WAL mode (shared-memory -shm file mapped MAP_SHARED).
JOB='
python3 -c "
import sqlite3
try:
    db = sqlite3.connect(\"wal.db\")
    print(\"journal_mode:\", db.execute(\"PRAGMA journal_mode=WAL\").fetchone()[0])
    db.execute(\"CREATE TABLE t(i INTEGER PRIMARY KEY, s TEXT)\")
    with db:
        db.executemany(\"INSERT INTO t(s) VALUES (?)\", [(\"row %d\" % i,) for i in range(1000)])
    print(\"rows:\", db.execute(\"SELECT count(*) FROM t\").fetchone()[0])
    db.close()
    db = sqlite3.connect(\"wal.db\")
    print(\"integrity:\", db.execute(\"PRAGMA integrity_check\").fetchone()[0])
    db.close()
except sqlite3.Error as e:
    print(\"sqlite error:\", e)
"
ls
'
# The database file's bytes may legitimately differ (page layout is deterministic, but the
# header's change counters need not be): compared by what SQLite reads from it.
post() {
  /usr/bin/python3 -c '
import sqlite3
db = sqlite3.connect("file:wal.db?mode=ro", uri=True)
print("integrity on the result:", db.execute("PRAGMA integrity_check").fetchone()[0])
print("rows on the result:", db.execute("SELECT count(*) FROM t").fetchone()[0])'
}
NO_TREE=1
