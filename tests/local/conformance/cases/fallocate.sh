# Deliver 1: fallocate(2): allocate (size grows), keep-size, punch hole (zeros, size kept).
setup() { head -c 16384 /dev/zero | tr '\0' 'z' >in.dat; }
JOB='
fallocate -l 1048576 f 2>&1; echo "fallocate -l 1M: rc=$?"; stat -c "%s %n" f
echo data > g; fallocate -n -l 65536 g 2>&1; echo "fallocate -n: rc=$?"; stat -c "%s %n" g
fallocate -p -o 4096 -l 4096 in.dat 2>&1; echo "punch hole: rc=$?"; stat -c "%s %n" in.dat
od -An -c -j 4094 -N 4 in.dat; od -An -c -j 8190 -N 4 in.dat
python3 -c "
import os
fd = os.open(\"p\", os.O_CREAT | os.O_RDWR, 0o644)
try: os.posix_fallocate(fd, 0, 100000); print(\"posix_fallocate: ok\", os.fstat(fd).st_size)
except OSError as e: print(\"posix_fallocate:\", os.strerror(e.errno))
"
'
