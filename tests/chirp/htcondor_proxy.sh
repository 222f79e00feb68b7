# The real thing: a one-machine HTCondor 25.14 pool (../shared/htcondor/personal-condor) runs a
# job with +WantIOProxy = true; the job runs chirp-client-check with the cookie from
# $_CONDOR_CHIRP_CONFIG, so every call goes job -> starter IO proxy -> shadow -> the submit
# directory, and is checked there against the submit-side files (byte-identical), quirks
# included: 32-bit numbers, 256 MiB per call (a 300 MiB file each way), empty files (getfile
# answers -5), the single reply to a zero-length putfile, byte-counted getdir.
#
# Then ringbox-host's chirp BACK END through the same live proxy: once the check is done the job
# writes where its .chirp.config is and waits; meanwhile the test runs `ringbox-host run
# --transport local --chirp-config THAT_FILE` in every mode (remote-io, lazy-file, eager), each
# job working in a directory of the job's Iwd on the submit side, and compares the result byte
# for byte with the same job against a local directory (backend_job.sh). ringbox-host runs
# beside the HTCondor job, as root, not inside it: a vanilla job runs as nobody, which can
# neither mount FUSE with allow_other nor start the agent (../shared/htcondor/README); the
# HTCondor wrapper's root service is what runs jobs for real pools (docs/condor.md).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/backend_job.sh"
[[ $(id -u) == 0 ]] || skip "needs root to start a personal HTCondor pool"
PC=""
for d in "${RINGBOX_HTCONDOR_DIR:-}" "$RINGBOX_SOURCE_DIR/../shared/htcondor" \
         "$RINGBOX_SOURCE_DIR/../../shared/htcondor"; do
  [[ -n $d && -x $d/personal-condor ]] && { PC=$d/personal-condor; break; }
done
if [[ -z $PC ]]; then
  if command -v condor_master >/dev/null; then
    skip "an installed HTCondor was found but this test drives the release in ../shared/htcondor; set RINGBOX_HTCONDOR_DIR"
  fi
  skip "no HTCondor: neither ../shared/htcondor/personal-condor nor an installed HTCondor"
fi
POOL=$(mktemp -d /var/tmp/ringbox-condor.XXXXXX)
chmod 755 "$POOL"
stop_pool() { "$PC" stop "$POOL" >/dev/null 2>&1 || true; rm -rf "$POOL"; cleanup; }
trap stop_pool EXIT
"$PC" start "$POOL" >"$WORK/pool.log" 2>&1 || { cat "$WORK/pool.log"; fail "personal HTCondor did not start"; }
JOBS=$POOL/jobs
mkdir -p "$JOBS"
chown nobody: "$JOBS"
install -m 755 "$BIN/chirp-client-check" "$JOBS/chirp-client-check"
cat >"$JOBS/job.sh" <<'JOB'
#!/bin/sh
# Runs on the execute side; IWD is the submit directory (same machine here, so the checker can
# compare what arrived through the proxy with the files themselves).
echo "chirp config: $_CONDOR_CHIRP_CONFIG"
./chirp-client-check --chirp-config "$_CONDOR_CHIRP_CONFIG" --server-dir "$1" \
  --subdir condor-check --large-mib 300
rc=$?
# Keep the proxy up while the test drives ringbox-host's back end through it (at most 400 s).
echo "$_CONDOR_CHIRP_CONFIG" >"$1/proxy-config.tmp" && mv "$1/proxy-config.tmp" "$1/proxy-config"
n=0
while [ ! -e "$1/release" ] && [ $n -lt 4000 ]; do sleep 0.1; n=$((n + 1)); done
exit $rc
JOB
chmod 755 "$JOBS/job.sh"
cat >"$JOBS/job.sub" <<SUB
universe = vanilla
executable = job.sh
arguments = $JOBS
transfer_input_files = chirp-client-check
should_transfer_files = YES
when_to_transfer_output = ON_EXIT
+WantIOProxy = true
output = job.out
error = job.err
log = job.log
queue
SUB
chown -R nobody: "$JOBS"
"$PC" user "$POOL" condor_submit job.sub >"$WORK/submit.log" 2>&1 || { cat "$WORK/submit.log"; fail "condor_submit"; }
# ringbox-host's back end through the live proxy, once the job is waiting.
for _ in $(seq 4000); do [[ -s $JOBS/proxy-config ]] && break; sleep 0.1; done
[[ -s $JOBS/proxy-config ]] || { cat "$JOBS/job.out" "$JOBS/job.err" 2>/dev/null; fail "the job never reached its wait"; }
proxy_config=$(cat "$JOBS/proxy-config")
for mode in remote-io lazy-file eager; do
  ref=$WORK/ref-$mode
  prepare_pair "$mode" "$JOBS/be-$mode"
  t0=$EPOCHREALTIME
  run_backend_job "$mode" "ref-$mode" . --export "$ref"
  run_backend_job "$mode" "condor-$mode" "be-$mode" --chirp-config "$proxy_config"
  compare_runs "$mode" "ref-$mode" "$ref" "condor-$mode" "$JOBS/be-$mode"
  pass "ringbox-host --chirp-config through the starter proxy, $mode: identical to the local directory ($(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s)"
done
touch "$JOBS/release"
"$PC" user "$POOL" condor_wait -wait 400 job.log >/dev/null 2>&1 || {
  cat "$JOBS/job.out" "$JOBS/job.err" 2>/dev/null; fail "the job did not finish within 400 s"; }
cat "$JOBS/job.out"
grep -q "_CONDOR_CHIRP_CONFIG\|chirp config: /" "$JOBS/job.out" || fail "the job got no \$_CONDOR_CHIRP_CONFIG"
grep -q "^PASSED: 0 failure" "$JOBS/job.out" || { cat "$JOBS/job.err"; fail "checks through the HTCondor proxy failed"; }
grep -q "return value 0" "$JOBS/job.log" || fail "the job did not exit 0"
# The submit side holds what the job wrote through the proxy.
[[ -f $JOBS/condor-check/rw.bin && $(stat -c %s "$JOBS/condor-check/rw.bin") == 50000 ]] ||
  fail "rw.bin not on the submit side"
[[ -f $JOBS/condor-check/empty && ! -s $JOBS/condor-check/empty ]] || fail "empty file not on the submit side"
pass "ChirpClient through the real HTCondor starter proxy and shadow"
