# Issue 8, item 5: MAP_SHARED mappings, read-only and read-write, of inputs and of new files;
# writes through the mapping reach the file (msync) and the export.
setup() { head -c 65536 /dev/zero | tr '\0' 'a' >in.dat; }
JOB='
python3 -c "
import mmap, os, hashlib
def tryit(name, fn):
    try: print(name, fn())
    except OSError as e: print(name, \"error:\", os.strerror(e.errno))
def ro():
    with open(\"in.dat\", \"rb\") as f:
        m = mmap.mmap(f.fileno(), 0, mmap.MAP_SHARED, mmap.PROT_READ)
        h = hashlib.sha256(m[:]).hexdigest()[:16]; m.close(); return h
tryit(\"read-only shared map of an input:\", ro)
def rw_input():
    with open(\"in.dat\", \"r+b\") as f:
        m = mmap.mmap(f.fileno(), 0, mmap.MAP_SHARED)
        m[100:105] = b\"HELLO\"; m.flush(); m.close()
    return open(\"in.dat\", \"rb\").read()[98:107]
tryit(\"read-write shared map of an input:\", rw_input)
def rw_new():
    fd = os.open(\"new.dat\", os.O_CREAT | os.O_RDWR, 0o644)
    os.ftruncate(fd, 8192)
    m = mmap.mmap(fd, 8192, mmap.MAP_SHARED)
    for i in range(0, 8192, 512): m[i:i+4] = b\"%04d\" % i
    m.flush(); m.close(); os.close(fd)
    return hashlib.sha256(open(\"new.dat\", \"rb\").read()).hexdigest()[:16]
tryit(\"read-write shared map of a new file:\", rw_new)
def coherent():
    fd = os.open(\"new.dat\", os.O_RDWR)
    m = mmap.mmap(fd, 8192, mmap.MAP_SHARED)
    os.pwrite(fd, b\"WXYZ\", 0)
    seen = m[0:4]; m[4:8] = b\"abcd\"; m.flush()
    back = os.pread(fd, 4, 4); m.close(); os.close(fd); return (seen, back)
tryit(\"write() seen in the map, map write seen by read():\", coherent)
"
'
