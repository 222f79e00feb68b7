# Issue 8, item 1 (data loss in lazy-file): `mv -T a b` onto a non-empty directory must fail
# (POSIX rename(2): ENOTEMPTY or EEXIST) and b/f must survive write-back. Also the allowed
# renames: a directory over an empty one, a file over a file, and the refused ones: a
# directory over a file (ENOTDIR), a file over a directory (EISDIR).
JOB='
mkdir a b; echo precious > b/f
mv -T a b 2>&1; echo "mv -T a b: rc=$?"
ls a b
mkdir c e; echo inner > c/g; mv -T c e 2>&1; echo "mv -T c e (empty target): rc=$?"
ls e
echo one > f1; echo two > f2; mv f2 f1; echo "rename file over file: rc=$?"; cat f1
mkdir d1; echo x > x1
python3 -c "
import os
for a, b in ((\"d1\", \"x1\"), (\"x1\", \"d1\"), (\"b\", \"b/sub\")):
    try:
        os.rename(a, b); print(a, b, \"ok\")
    except OSError as e:
        print(a, b, os.strerror(e.errno))
"
'
