# Issue 8, item 8: fstat of an open file after unlink reports st_nlink 0; the data stays
# readable and writable through the descriptor.
setup() { echo "input" >in.txt; }
JOB='
python3 -c "
import os
for name in (\"in.txt\", \"new.txt\"):
    fd = os.open(name, os.O_RDWR | os.O_CREAT, 0o644)
    os.write(fd, b\"more\")
    os.unlink(name)
    st = os.fstat(fd)
    print(name, \"nlink after unlink:\", st.st_nlink, \"size:\", st.st_size)
    os.pwrite(fd, b\"X\", 0); print(name, \"read back:\", os.pread(fd, 10, 0))
    os.close(fd)
    print(name, \"exists:\", os.path.exists(name))
"
'
