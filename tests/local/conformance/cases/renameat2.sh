# Issue 8, Deliver 1: renameat2 RENAME_NOREPLACE and RENAME_EXCHANGE (glibc's renameat2).
setup() { echo "input A" >inA; echo "input B" >inB; }
JOB='
echo a > a; echo b > b; mkdir d; echo in-d > d/f
python3 -c "
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
AT = -100
def r2(a, b, flags, what):
    rc = libc.renameat2(AT, a.encode(), AT, b.encode(), flags)
    print(what, \"ok\" if rc == 0 else os.strerror(ctypes.get_errno()))
r2(\"a\", \"b\", 1, \"NOREPLACE a -> b (exists):\")
r2(\"a\", \"c\", 1, \"NOREPLACE a -> c (new):\")
r2(\"c\", \"b\", 2, \"EXCHANGE c <-> b:\")
r2(\"b\", \"d\", 2, \"EXCHANGE b <-> d (file and dir):\")
r2(\"inA\", \"inB\", 2, \"EXCHANGE inA <-> inB (inputs):\")
r2(\"x\", \"b\", 2, \"EXCHANGE x (missing) <-> b:\")
"
for f in b c d d/f inA inB; do [ -f "$f" ] && echo "$f: $(cat "$f")"; [ -d "$f" ] && echo "$f/ is a dir"; done
'
