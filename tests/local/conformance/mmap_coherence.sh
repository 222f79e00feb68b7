#!/usr/bin/env bash
# Issue 8, Deliver 3 (remote-io): a MAP_SHARED mapping is coherent with the submit side at open
# and after msync/fsync. The job writes through a shared mapping and msyncs; while it waits, the
# submit side must already hold those bytes (checked here, on the export). Then the submit side
# rewrites the file; the job's next open must see the new bytes, through read() and through a
# new mapping. Not differential: a local file system has no second side; the rule is the
# contract in docs/modes.md.
source "$(dirname "$0")/../lib.sh"
MODE=${1:-remote-io}
FAILED=()
note() { FAILED+=("$1"); echo "CHECK $1 ($MODE)" >&2; }

head -c 8192 /dev/zero >"$EXPORT/shared.dat"
start_job "$MODE" -- /usr/bin/python3 -c '
import mmap, os, time
fd = os.open("shared.dat", os.O_RDWR)
m = mmap.mmap(fd, 8192, mmap.MAP_SHARED)
m[0:12] = b"from the job"
m.flush()                     # msync(MS_SYNC)
os.fsync(fd)
m.close(); os.close(fd)
open("synced", "w").close()
for _ in range(600):          # wait (up to 60 s) for the submit side to answer
    if os.path.exists("answered"): break
    time.sleep(0.1)
with open("shared.dat", "rb") as f: print("read after reopen:", f.read(16))
fd = os.open("shared.dat", os.O_RDONLY)
m = mmap.mmap(fd, 8192, mmap.MAP_SHARED, mmap.PROT_READ)
print("new mapping:", m[0:16]); m.close(); os.close(fd)
'
for _ in $(seq 1 600); do [ -e "$EXPORT/synced" ] && break; sleep 0.1; done
[ -e "$EXPORT/synced" ] || note "the job never reached msync (no 'synced' on the export)"
GOT=$(head -c 12 "$EXPORT/shared.dat")
[ "$GOT" = "from the job" ] ||
  note "after msync+fsync the submit side holds '$GOT', expected 'from the job'"
printf 'from the host!!!' | dd of="$EXPORT/shared.dat" bs=16 count=1 conv=notrunc 2>/dev/null
touch "$EXPORT/answered"
wait_job
[ "$RC" = 0 ] || note "job exit status $RC"
grep -q "read after reopen: b'from the host!!!'" "$OUT" ||
  note "a new open did not see the submit side's write: $(grep reopen "$OUT")"
grep -q "new mapping: b'from the host!!!'" "$OUT" ||
  note "a new mapping did not see the submit side's write: $(grep mapping "$OUT")"
if [ ${#FAILED[@]} -gt 0 ]; then
  dump
  (IFS=';' && echo "FAILED CHECKS (mmap_coherence $MODE): ${FAILED[*]}" >&2)
  fail "mmap_coherence in $MODE: ${#FAILED[@]} check(s) failed"
fi
echo "PASS: mmap_coherence $MODE"
