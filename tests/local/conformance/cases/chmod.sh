# Issue 8, item 2: chmod of anything the job owns, including to the mode it already has.
setup() { echo "input" >in.txt; chmod 644 in.txt; mkdir -p indir; echo y >indir/y; }
JOB='
echo data > f; mkdir d
chmod 644 f 2>&1; echo "chmod 644 (same) f: rc=$?"
chmod +x f 2>&1; echo "chmod +x f: rc=$?"
chmod 600 f 2>&1; echo "chmod 600 f: rc=$?"
chmod 0 f 2>&1; echo "chmod 0 f: rc=$?"
chmod 640 f 2>&1; echo "chmod 640 f: rc=$?"
chmod 700 d 2>&1; echo "chmod 700 d: rc=$?"
chmod 755 d 2>&1; echo "chmod 755 d: rc=$?"
chmod 600 in.txt 2>&1; echo "chmod 600 in.txt (input): rc=$?"
chmod 750 indir 2>&1; echo "chmod 750 indir: rc=$?"
python3 -c "
import os
fd = os.open(\"f\", os.O_RDONLY); os.fchmod(fd, 0o604); os.close(fd); print(\"fchmod 604: ok\")
"
stat -c "%a %n" f d in.txt indir
'
