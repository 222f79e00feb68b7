# Faults: ringbox-submitd killed (SIGKILL) and restarted on the same port again and again while
# chirp-fault-client writes; the client completes and every write landed exactly once. Then the
# peer gone for good (stopped) and frozen (SIGSTOP): a call fails with EIO within its bound.
source "$(dirname "$0")/lib.sh"
mkdir -p "$WORK/root"
start_submitd "$WORK/root"
PORT=$SUBMITD_PORT
"$BIN/chirp-fault-client" --mode restart --url "chirp://127.0.0.1:$PORT" \
  --server-dir "$WORK/root" --peer-gone-ms 20000 >"$WORK/client.out" 2>&1 &
CLIENT=$!
PIDS+=("$CLIENT")
kills=0
while kill -0 "$CLIENT" 2>/dev/null; do
  sleep 0.$((RANDOM % 15 + 5))
  kill -KILL "$SUBMITD_PID" 2>/dev/null || true
  wait "$SUBMITD_PID" 2>/dev/null || true
  kills=$((kills + 1))
  sleep 0.0$((RANDOM % 9 + 1))
  "$BIN/ringbox-submitd" --root "$WORK/root" --port "$PORT" >>"$WORK/submitd.log" 2>&1 &
  SUBMITD_PID=$!
  PIDS+=("$SUBMITD_PID")
  [[ $kills -lt 200 ]] || break
done
wait "$CLIENT" && rc=0 || rc=$?
cat "$WORK/client.out"
[[ $rc == 0 ]] || fail "the client did not complete across $kills server kills"
retries=$(awk '/^retries/{print $2}' "$WORK/client.out")
[[ ${retries:-0} -gt 0 ]] || fail "no call was retried: the kills missed every call in flight"
pass "client completed across $kills server kills ($retries retried calls), every write once"

# Gone for good: EIO within the bound.
kill -KILL "$SUBMITD_PID"; wait "$SUBMITD_PID" 2>/dev/null || true
"$BIN/chirp-fault-client" --mode gone --url "chirp://127.0.0.1:$PORT" --peer-gone-ms 2000 \
  --reply-ms 1000 || fail "server gone: no EIO within the bound"
pass "server gone: EIO, no hang"

# Frozen: the kernel still accepts connections, nobody answers.
start_submitd "$WORK/root"
kill -STOP "$SUBMITD_PID"
"$BIN/chirp-fault-client" --mode gone --url "chirp://127.0.0.1:$SUBMITD_PORT" \
  --peer-gone-ms 2000 --reply-ms 1000 || { kill -CONT "$SUBMITD_PID"; fail "server frozen: no EIO within the bound"; }
kill -CONT "$SUBMITD_PID"
pass "server frozen: EIO, no hang"
