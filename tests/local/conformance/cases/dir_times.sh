# Issue 8, item 3: a directory's mtime and ctime change when an entry is created, removed or
# renamed in it (POSIX: open/creat, unlink, rename, mkdir, rmdir "shall mark for update the
# last data modification and last file status change timestamps of the parent directory").
JOB='
python3 -c "
import os, time
os.mkdir(\"d\"); os.mkdir(\"e\")
def step(name, fn, *dirs):
    for d in dirs: os.utime(d, ns=(1000000000000000000, 1000000000000000000))
    before = {d: os.stat(d).st_ctime_ns for d in dirs}
    time.sleep(0.05)
    fn()
    for d in dirs:
        st = os.stat(d)
        print(name, d, \"mtime updated:\", st.st_mtime_ns > 1000000000000000000,
              \"ctime updated:\", st.st_ctime_ns > before[d])
step(\"create\", lambda: open(\"d/f\", \"w\").close(), \"d\")
step(\"mkdir\", lambda: os.mkdir(\"d/sub\"), \"d\")
step(\"rename within\", lambda: os.rename(\"d/f\", \"d/g\"), \"d\")
step(\"rename across\", lambda: os.rename(\"d/g\", \"e/g\"), \"d\", \"e\")
step(\"unlink\", lambda: os.unlink(\"e/g\"), \"e\")
step(\"rmdir\", lambda: os.rmdir(\"d/sub\"), \"d\")
step(\"symlink\", lambda: os.symlink(\"x\", \"d/l\"), \"d\")
"
'
NO_TREE=1
