# Issue 8, item 3: utimensat with explicit times, UTIME_OMIT (touch -m / -a) and UTIME_NOW.
setup() { echo old >input; touch -d @1000000000 input; }
MTIME_PATHS=(t m a input ns)
JOB='
touch -d @981173106 t; stat -c "%Y %X %n" t
echo x > m; touch -d @981173106 m; touch -m -d @1000000001 m; stat -c "%Y %X %n" m
echo y > a; touch -d @981173106 a; touch -a -d @1000000002 a; stat -c "%Y %X %n" a
stat -c "%Y %n" input; touch -d @981173107 input; stat -c "%Y %n" input
python3 -c "
import os, time
open(\"ns\", \"w\").close()
os.utime(\"ns\", ns=(1000000003123456789, 1000000004987654321))
st = os.stat(\"ns\"); print(\"ns\", st.st_atime_ns, st.st_mtime_ns)
fd = os.open(\"ns\", os.O_RDONLY)
os.utime(fd, ns=(1000000005000000001, 1000000006000000002)); os.close(fd)
st = os.stat(\"ns\"); print(\"futimens\", st.st_atime_ns, st.st_mtime_ns)
os.utime(\"t\", None)
print(\"UTIME_NOW recent:\", abs(os.stat(\"t\").st_mtime - time.time()) < 60)
os.utime(\"t\", ns=(981173106000000000, 981173106000000000))
"
'
