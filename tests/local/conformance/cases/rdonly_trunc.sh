# Issue 8, item 8: open(O_RDONLY|O_TRUNC) on Linux truncates a regular file the caller may
# write (POSIX leaves it unspecified; Linux does it, and programs rely on Linux).
setup() { echo "input data" >in.txt; }
JOB='
echo "job data" > new.txt
python3 -c "
import os
for name in (\"in.txt\", \"new.txt\"):
    try:
        fd = os.open(name, os.O_RDONLY | os.O_TRUNC); os.close(fd); print(name, \"open ok\")
    except OSError as e:
        print(name, \"open:\", os.strerror(e.errno))
    print(name, \"size:\", os.stat(name).st_size)
"
'
