# Issue 8, item 2: only the caller's umask applies: umask 000 gives 666 files and 777 dirs.
JOB='
umask 000
touch f; mkdir d; echo x > g
python3 -c "import os; os.close(os.open(\"h\", os.O_CREAT|os.O_WRONLY, 0o777))"
stat -c "%a %n" f d g h
umask 077; touch p; mkdir q; stat -c "%a %n" p q
'
