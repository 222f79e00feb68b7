#!/usr/bin/env bash
# The confined file service (`run --confine-user`, host/confine; issue 12, item 4):
#  1. a compromised handler can open nothing outside the export, cannot reach the network, Xen's
#     devices or root's powers: `ringbox-host confined-file-service --probe` confines itself
#     exactly as the serving process does, then tries, and must be refused every time while it
#     still reads the export (the control);
#  2. the service acts as the user it was given: a file of root's that the user may not read is
#     refused to the confined job, and served to the same job unconfined;
#  3. bad users (root, group root, unknown) and tcp are refused at parse time (status 2); the
#     transfer log is the service's record;
#  4. a service killed mid-job ends the run with a failure that names it, never a hang.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
[ "$TRANSPORT" = local ] || skip "the confined service is for --transport local"
unshare --mount --pid --net --fork true 2>/dev/null || skip "this machine cannot unshare namespaces"

echo "in the export" >"$EXPORT/inside.txt"
echo "outside the export" >"$T/secret.txt"
chown -R nobody: "$EXPORT"

# 1. The probe.
set +e
"$HOST" confined-file-service --export "$EXPORT" --uid "$(id -u nobody)" --gid "$(id -g nobody)" \
  --read . --probe --probe-path "$T/secret.txt" --probe-path "$EXPORT/inside.txt" \
  --probe-control /export/inside.txt >"$T/probe.out" 2>"$T/probe.err"
PRC=$?
set -e
cat "$T/probe.out"
[ "$PRC" = 0 ] || {
  cat "$T/probe.err" >&2
  fail "the probe exited $PRC: a confined handler could do something it must not"
}
for line in "open $T/secret.txt: refused" "open $EXPORT/inside.txt: refused" \
  "socket(AF_INET): refused" "open /dev/xen/privcmd: refused" "setuid(0): refused" \
  "clone(CLONE_NEWUSER): refused" "unshare(CLONE_NEWUSER): refused" \
  "control: open /export/inside.txt: allowed" "every attempt was refused"; do
  grep -qF "$line" "$T/probe.out" || fail "the probe did not report '$line'"
done

# 2. The service's uid is the user's: root's private file is refused to the confined job.
echo "root only" >"$EXPORT/private.txt"
chmod 0600 "$EXPORT/private.txt"
run_job remote-io --confine-user nobody -- sh -c 'cat inside.txt; cat private.txt || echo REFUSED'
expect_rc 0 "confined job"
expect_grep '^in the export$' "$OUT" "the confined job reads the export"
expect_grep '^REFUSED$' "$OUT" "root's 0600 file must be refused to a service running as nobody"
expect_grep "from a confined process as uid $(id -u nobody)" "$HOSTLOG" "the confined service"
run_job remote-io -- sh -c 'cat private.txt || echo REFUSED'
expect_rc 0 "unconfined job"
expect_grep '^root only$' "$OUT" "unconfined, the service runs as root and serves the file"

# 3. What the confined service does not support is refused before anything starts.
for args in "--confine-user root" "--confine-user no-such-user-ringbox" "--confine-user 0:65534" \
  "--confine-user 65534:0" "--confine-user 65534:x"; do
  # shellcheck disable=SC2086
  run_job remote-io $args -- true
  expect_rc 2 "run $args"
done
set +e
TMPDIR="$RUNTMP" "$HOST" run --transport tcp --export "$EXPORT" --confine-user nobody -- true \
  2>"$T/tcp.err"
TRC=$?
set -e
[ "$TRC" = 2 ] || fail "--transport tcp --confine-user exited $TRC, expected 2"
grep -q "transport local" "$T/tcp.err" || fail "the refusal does not say what works"

# The transfer log is the confined service's record, written into the file run opened.
run_job remote-io --confine-user "$(id -u nobody):$(id -g nobody)" --transfer-log "$T/tl" -- \
  cat inside.txt
expect_rc 0 "confined job with --transfer-log"
expect_grep "^# ringbox-host run --transport local --mode remote-io --export" "$T/tl" "its header"
expect_grep "^opened-read	-	inside.txt$" "$T/tl" "the file the job opened remotely"
expect_grep "file-service: info: transfers: " "$HOSTLOG" "the service's summary line"

# 4. The service killed while the job runs: the run fails, says so, and does not hang.
chown -R nobody: "$EXPORT"
start_job remote-io --confine-user nobody -- sh -c 'echo started >&2; while cat inside.txt >/dev/null; do sleep 0.1; done; sleep 600'
wait_for_stderr started 60
SVC=$(pgrep -P "$RUN_PID" -f "confined-file-service" | head -n 1)
[ -n "$SVC" ] || fail "no confined-file-service process while the job runs"
kill -KILL "$SVC"
for _ in $(seq 1 600); do kill -0 "$RUN_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$RUN_PID" 2>/dev/null && fail "ringbox-host run still runs 60 s after its service died"
wait_job
[ "$RC" != 0 ] || {
  dump
  fail "a run whose file service was killed exited 0"
}
expect_grep "confined file service" "$HOSTLOG" "the run names the service that died"
# The kill hit the process that waits for the sandbox: pid 1 inside must have died with it.
for _ in $(seq 1 50); do pgrep -f "confined-file-service --export $EXPORT" >/dev/null || break; sleep 0.1; done
if pgrep -f "confined-file-service --export $EXPORT" >/dev/null; then
  fail "the sandbox's pid 1 outlived the process that waits for it"
fi
echo "PASS: confine"
