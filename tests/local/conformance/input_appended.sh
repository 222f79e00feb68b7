#!/usr/bin/env bash
# Issue 8, Deliver 5 (lazy-file, eager): a submit-side writer appends to a big input while the
# job's copy of it is fetched. The job must get a consistent copy (what was there when the
# fetch began, as cp would: a prefix of the final file, at least as long as the file was when
# the job started; fstat and read() agree), never EIO; --transfer-log records only fetches
# that completed (one fetch of big.dat, of the size the file had when that fetch began; in auto
# the file may also stay remote, and then is never logged as fetched).
source "$(dirname "$0")/../lib.sh"
MODE=${1:?usage: input_appended.sh auto|lazy-file|eager}
FAILED=()
note() { FAILED+=("$1"); echo "CHECK $1 ($MODE)" >&2; }

head -c $((1 << 20)) /dev/urandom >"$T/chunk"
for _ in $(seq 1 192); do cat "$T/chunk"; done >"$EXPORT/big.dat"  # 192 MiB
INITIAL=$(stat -c %s "$EXPORT/big.dat")
INPUTS=()
[ "$MODE" = eager ] && INPUTS=(--input big.dat)

# The writer: appends 1 MiB pieces until told to stop (at most 256 MiB more).
(for _ in $(seq 1 256); do [ -e "$T/stop" ] && break; cat "$T/chunk" >>"$EXPORT/big.dat"; done) &
WRITER=$!
# One open: the bytes read, their hash, and the size fstat gave for that descriptor.
start_job "$MODE" "${INPUTS[@]}" --transfer-log "$T/transfers.log" -- /usr/bin/python3 -c '
import hashlib, os
fd = os.open("big.dat", os.O_RDONLY)
size = os.fstat(fd).st_size
h, n = hashlib.sha256(), 0
while True:
    b = os.read(fd, 1 << 20)
    if not b: break
    h.update(b); n += len(b)
print(n, h.hexdigest(), size)'
wait_job
touch "$T/stop"
wait "$WRITER" || true

[ "$RC" = 0 ] || note "job exit status: view=$RC local=0 (reading an input being appended to)"
read -r N SUM FSTAT_SIZE <"$OUT" || true
if [ -z "${N:-}" ]; then
  note "the job printed no size and hash"
else
  [ "$N" -ge "$INITIAL" ] || note "copy shorter than the file at the start: view=$N local>=$INITIAL"
  [ "$N" = "$FSTAT_SIZE" ] ||
    note "fstat says $FSTAT_SIZE bytes, read() returned $N bytes on the same descriptor"
  PREFIX=$(head -c "$N" "$EXPORT/big.dat" | sha256sum | cut -d' ' -f1)
  [ "$PREFIX" = "$SUM" ] || note "copy is not a prefix of the file (the first $N bytes differ): torn copy"
  REMOTE_ONLY=0
  OUTCOME=fetched
  # auto reads big.dat remotely first and fetches it in the background once the reads have cost
  # half a fetch. Which outcome a run gets is the machine's speed; each is checked:
  #   fetched: the copy is logged once, as for lazy-file;
  #   cancelled or never begun: the job finished reading first;
  #   never switched: on a fast link the whole read cost less than half a fetch;
  #   no room: the file outgrew the cache.
  # In the last three big.dat was only read remotely, and nothing may claim it was fetched.
  if [ "$MODE" = auto ] && ! grep -qP '^fetched\t.*\tbig.dat' "$T/transfers.log"; then
    # A background fetch that failed for another reason (EIO, a protocol error, the file
    # changing under it) also leaves the file remote: that is a failure, not an outcome. No
    # room is one: at the switch (the size at open), or at the fetch (the file grew since).
    NO_ROOM="its [0-9]+ bytes do not fit the cache's room|.*does not fit the lazy-file cache"
    if grep -qF "auto: 'big.dat' stays remote: " "$HOSTLOG" &&
      ! grep -qE "auto: 'big.dat' stays remote: ($NO_ROOM)" "$HOSTLOG"; then
      note "the background fetch of big.dat failed: $(grep -F "auto: 'big.dat' stays remote: " "$HOSTLOG" | head -n 1)"
    elif grep -qE "auto: (the background fetch of 'big.dat' was cancelled|1 background fetch\(es\) not begun): the job is done|auto: 'big.dat' stays remote: ($NO_ROOM)" "$HOSTLOG"; then
      REMOTE_ONLY=1
      OUTCOME="remote: $(grep -oE "auto: (the background fetch of 'big.dat' was cancelled|1 background fetch\(es\) not begun|'big.dat' stays remote)" "$HOSTLOG" | head -n 1)"
    elif grep -qF 'files fetched after remote reads 0' "$HOSTLOG" &&
      ! grep -qF "big.dat" <(grep -F 'auto: ' "$HOSTLOG" | grep -v 'files fetched at open'); then
      REMOTE_ONLY=1
      OUTCOME="remote: the reads never cost half a fetch"
    else
      note "big.dat has no 'fetched' line, and the agent's log names no reason it stayed remote"
    fi
    grep -qP '^opened-read\t-\tbig.dat$' "$T/transfers.log" ||
      note "transfer log: big.dat was read remotely but has no opened-read line"
    grep -qF 'files fetched after remote reads 0' "$HOSTLOG" ||
      note "the agent counts a fetch after remote reads, but the transfer log has none"
  fi
  if [ "$MODE" != remote-io ] && ((!REMOTE_ONLY)); then
    LINE=$(grep -P '^fetched\t[0-9]+\tbig.dat' "$T/transfers.log" || true)
    [ "$(grep -cP '^fetched\t.*\tbig.dat' "$T/transfers.log")" = 1 ] ||
      note "transfer log: expected one 'fetched' line for big.dat, got: $(grep big.dat "$T/transfers.log" | tr '\t\n' '  ')"
    case "$LINE" in
      *"fetches)"*) note "transfer log counts more than one fetch of big.dat: $LINE" ;;
    esac
    # The fetch's size is the file's size when the fetch began: at least what the job read
    # (lazy-file may show the size its lookup saw, a little earlier), at most the final size.
    LOGGED=$(echo "$LINE" | cut -f2)
    FINAL=$(stat -c %s "$EXPORT/big.dat")
    [ -n "$LOGGED" ] && [ "$LOGGED" -ge "$N" ] && [ "$LOGGED" -le "$FINAL" ] ||
      note "transfer log's fetched bytes '$LOGGED' not between the job's copy ($N) and the final size ($FINAL)"
  fi
fi
if [ ${#FAILED[@]} -gt 0 ]; then
  dump
  cat "$T/transfers.log" >&2 2>/dev/null || true
  (IFS=';' && echo "FAILED CHECKS (input_appended $MODE): ${FAILED[*]}" >&2)
  fail "input_appended in $MODE: ${#FAILED[@]} check(s) failed"
fi
echo "PASS: input_appended $MODE (copy of $N bytes, file was $INITIAL at start${OUTCOME:+; $OUTCOME})"
