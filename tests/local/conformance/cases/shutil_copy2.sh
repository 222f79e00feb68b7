# Issue 8, items 2 and 3: Python's shutil.copy2 copies the data, the mode and the times
# (os.utime with ns, os.chmod) and shutil.copytree with it.
setup() { echo "data" >src; chmod 604 src; touch -d @981173106 src; mkdir -p t/s; echo x >t/s/x; chmod 700 t/s; touch -d @1000000000 t/s/x; }
MTIME_PATHS=(dst dst2/s/x)
JOB='
python3 -c "
import shutil, os
shutil.copy2(\"src\", \"dst\")
st = os.stat(\"dst\"); print(\"dst\", oct(st.st_mode & 0o7777), st.st_mtime_ns)
shutil.copytree(\"t\", \"dst2\")
st = os.stat(\"dst2/s/x\"); print(\"dst2/s/x\", oct(st.st_mode & 0o7777), st.st_mtime_ns)
print(\"dst2/s\", oct(os.stat(\"dst2/s\").st_mode & 0o7777))
" 2>&1 | sed "s/^\(.*Error\).*/\1/"
'
