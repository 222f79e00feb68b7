# The POSIX cases of view_posix.sh (issue 8, "What fails today"), run by sh in the current
# directory: once in a local directory (the reference) and once in the job's view. Each case
# prints only what a local file system makes deterministic (no inode numbers, owners or clock
# readings), so the two outputs must be identical. Written for dash; Python is /usr/bin/python3.
PY=/usr/bin/python3
umask 022
c() { echo "== $1"; mkdir "$1" && cd "$1"; }
e() { cd ..; }

c modes
umask 022
touch f; mkdir d; stat -c '%a %F' f d
umask 000; touch g; mkdir h; stat -c '%a' g h
umask 077; touch i; mkdir j; stat -c '%a' i j
umask 022
chmod 640 f; stat -c %a f
chmod 640 f; echo "chmod to the same mode: $?"
chmod +x f; stat -c %a f
chmod 1777 d; stat -c %a d
install -m 750 f k; stat -c %a k
cp -p f l; stat -c %a l
$PY -c 'import shutil; shutil.copy2("f", "m")'; stat -c %a m
printf 'int main(void) { return 3; }\n' > p.c
if cc -o prog p.c 2>/dev/null; then ./prog; echo "compiled program ran: $?"; else echo "no cc"; fi
$PY -c 'import os; fd = os.open("n", os.O_CREAT | os.O_WRONLY, 0o4755); os.write(fd, b"x"); os.close(fd)'
echo "setuid file written: $?"
touch s; chmod 4755 s 2>/dev/null; echo more >> s; echo "write to a setuid file: $?"
stat -c %a s
e

c owners
touch f
chown "$(id -u)" f; echo "chown to self: $?"
chown "$(id -u):$(id -g)" f; echo "chown to own ids: $?"
chown 0 f 2>/dev/null; echo "chown to root: $?"
chgrp 0 f 2>/dev/null; echo "chgrp to root: $?"
e

c times
touch -d @981173106 t; stat -c %Y t
touch -m -d @1000000000 t; stat -c '%Y' t
touch -a -d @1100000000 t; stat -c '%X %Y' t
mkdir d; touch -d @981173106 d; stat -c %Y d
touch d/x; [ "$(stat -c %Y d)" -gt 981173106 ] && echo "directory mtime follows a create"
touch -d @981173106 d; rm d/x; [ "$(stat -c %Y d)" -gt 981173106 ] && echo "... an unlink"
touch -d @981173106 d; mkdir d/sub; [ "$(stat -c %Y d)" -gt 981173106 ] && echo "... a mkdir"
touch -d @981173106 d; touch y; mv y d/y; [ "$(stat -c %Y d)" -gt 981173106 ] && echo "... a rename"
$PY -c '
import os
os.utime("t", ns=(5, 7)); s = os.stat("t"); print(s.st_atime_ns, s.st_mtime_ns)
os.utime("t", ns=(1234567891000000001, 1234567891000000002)); s = os.stat("t"); print(s.st_mtime_ns)
'
mkdir tree; touch -d @1000000000 tree/m; tar cf ../times.tar -C tree m; rm tree/m
tar xf ../times.tar -C tree; stat -c %Y tree/m; rm ../times.tar
cp -p t tcopy; stat -c %Y tcopy
e

c rename
mkdir a b; echo precious > b/f
mv -T a b 2>/dev/null; echo "mv -T over a non-empty directory: $?"
cat b/f
mkdir c; echo one > c/one; mkdir dd; echo two > dd/two
mv -T c dd 2>/dev/null; echo "again with files the host has: $?"
ls c dd
echo x > file; mkdir full; echo y > full/y
mv -T file full 2>/dev/null; echo "file over a non-empty directory: $?"
$PY -c '
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def r2(a, b, flags):
    rc = libc.renameat2(-100, a.encode(), -100, b.encode(), flags)
    return 0 if rc == 0 else os.strerror(ctypes.get_errno())
open("p", "w").write("p\n"); open("q", "w").write("q\n")
print("noreplace onto a file:", r2("p", "q", 1))
print("noreplace onto nothing:", r2("p", "p2", 1), sorted(x for x in os.listdir(".") if x in ("p", "p2")))
print("exchange:", r2("p2", "q", 2), open("p2").read().strip(), open("q").read().strip())
os.mkdir("dir1"); open("dir1/in", "w").write("in\n")
print("exchange file and directory:", r2("q", "dir1", 2), os.path.isdir("q"), open("dir1").read().strip())
print("exchange with nothing:", r2("p2", "none", 2))
'
echo old > f1; echo new > f2; exec 3< f1; mv f2 f1; cat f1; cat <&3; exec 3<&-
e

c unlink
$PY -c '
import os
fd = os.open("x", os.O_CREAT | os.O_RDWR, 0o644); os.write(fd, b"abc")
os.unlink("x"); s = os.fstat(fd); print("after unlink: nlink", s.st_nlink, "size", s.st_size)
os.write(fd, b"def"); os.lseek(fd, 0, 0); print(os.read(fd, 10)); os.close(fd)
open("t", "w").write("content\n")
fd = os.open("t", os.O_RDONLY | os.O_TRUNC); os.close(fd); print("O_RDONLY|O_TRUNC size", os.stat("t").st_size)
'
e

c links
echo one > f; ln f g; echo "ln: $?"; stat -c '%h' f g
echo two >> g; cat f
rm f; stat -c '%h' g; cat g
ln -s g sl; ln sl hsl; echo "link to a symlink: $?"; readlink hsl
mkdir dir; ln dir dirlink 2>/dev/null; echo "link to a directory: $?"
e

c fifo
mkfifo p; stat -c '%F %a' p
(echo through the fifo > p &) ; cat p
ls
mv p q; ls
rm q; ls
mkfifo p2; mkdir d; mv p2 d/; ls d; rmdir d 2>/dev/null; echo "rmdir over a fifo: $?"
rm d/p2; rmdir d
$PY -c '
import os, socket
s = socket.socket(socket.AF_UNIX); s.bind("sock"); s.listen(1)
c = socket.socket(socket.AF_UNIX); c.connect("sock")
a, _ = s.accept(); c.send(b"over a unix socket"); print(a.recv(100).decode())
import stat; print(stat.S_ISSOCK(os.stat("sock").st_mode))
'
rm sock
e

c space
stat -f -c '%b %a %S' . | awk '{ print ($1 > 0 && $2 > 0 && $3 > 0) ? "statfs: sizes known" : "statfs: " $0 }'
$PY -c '
import os, shutil
u = shutil.disk_usage("."); print("disk_usage free > 0:", u.free > 0)
fd = os.open("fa", os.O_CREAT | os.O_RDWR, 0o644); os.posix_fallocate(fd, 0, 1 << 20)
print("posix_fallocate size", os.fstat(fd).st_size); os.close(fd)
'
fallocate -l 65536 fb && stat -c %s fb
e

c mmap
$PY -c '
import mmap, os
fd = os.open("m", os.O_CREAT | os.O_RDWR, 0o644); os.ftruncate(fd, 8192)
m = mmap.mmap(fd, 8192, mmap.MAP_SHARED); m[0:5] = b"hello"; m[4096:4101] = b"world"; m.flush(); m.close()
print(os.pread(fd, 5, 0), os.pread(fd, 5, 4096)); os.close(fd)
fd = os.open("m", os.O_RDONLY); r = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ); print(r[0:5]); r.close(); os.close(fd)
'
sqlite3 db 'PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1), (2); SELECT sum(x) FROM t;' 2>&1
sqlite3 db 'PRAGMA integrity_check;' 2>&1
e

c replace
$PY -c '
import os, threading
open("f", "w").write("0" * 100)
errors = []
def writer():
    for i in range(300):
        with open("f.tmp", "w") as t: t.write(str(i % 10) * 100)
        os.replace("f.tmp", "f")
def reader():
    for i in range(600):
        try:
            with open("f") as r: d = r.read()
            if len(d) != 100: errors.append("short read %d" % len(d))
        except OSError as e: errors.append(e.strerror)
w = threading.Thread(target=writer); r = threading.Thread(target=reader)
w.start(); r.start(); w.join(); r.join()
print("failed opens or reads:", len(errors), sorted(set(errors)))
'
e

c symlinks
long=$(printf '%0256d' 0)
ln -s "$long/x" l; echo "symlink with a 256-byte component: $?"; readlink l | wc -c
e

c tree
mkdir -p empty/inner keep; echo k > keep/file; ln -s keep/file link
chmod 700 keep; chmod 751 empty
e
