#!/usr/bin/env bash
# ringbox's root service without HTCondor: the wrapper started by hand as an unprivileged user
# (uid 12345, which the guest's job uid 65534 is not), with a job ad of our own. Checks:
#   - the job reaches the scratch dir with the WRAPPER's rights, not root's: a file of another
#     user (mode 0600) is refused to it although the service runs as root, and the files it
#     creates belong to the wrapper's user;
#   - the policy: a user not in allow_users is refused, the wrapper exits 125 and writes the
#     reason to $_CONDOR_WRAPPER_ERROR_FILE;
#   - a job ad the wrapper cannot use (bad attribute) is a setup failure, not a job result;
#   - hostile clients are refused cleanly; max_domains; a SIGKILLed wrapper ends its job;
#   - SIGTERM to the wrapper with a hung service still ends it within JobMaxVacateTime.
# Local transport (isolates nothing; the checks are about the service). Label: condor.
set -euo pipefail
: "${RINGBOX_BIN:?set RINGBOX_BIN to the bin directory of the build}"
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (the service)"; exit 77; }
[ -c /dev/fuse ] || { echo "SKIP: no /dev/fuse"; exit 77; }
U=12345

D=$(mktemp -d /var/tmp/ringbox-svc.XXXXXX)
chmod 0755 "$D"
mkdir -p "$D/rb" "$D/rbtmp" "$D/scratch"
chmod 0755 "$D/rb" "$D/rbtmp"
SERVICE_PID=
cleanup() {
  local rc=$?
  set +e
  [ -n "$SERVICE_PID" ] && { kill -TERM "$SERVICE_PID"; wait "$SERVICE_PID"; }
  awk -v d="$D/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m"; done
  [ $rc -ne 0 ] && { echo "---- service log"; cat "$D/service.log"; }
  rm -rf "$D"
  exit $rc
}
trap cleanup EXIT

start_service() {  # allow_users [more policy lines]
  [ -z "$SERVICE_PID" ] || { kill -TERM "$SERVICE_PID"; wait "$SERVICE_PID" || true; }
  printf 'transport = local\nallow_users = %s\nagent = %s\n%s\n' "$1" "$RINGBOX_BIN/ringbox-agent" \
    "${2:-}" > "$D/hostd.conf"
  rm -f "$D/rb/hostd.sock"
  TMPDIR=$D/rbtmp "$RINGBOX_BIN/ringbox-host" daemon --socket "$D/rb/hostd.sock" \
    --policy "$D/hostd.conf" >>"$D/service.log" 2>&1 &
  SERVICE_PID=$!
  for _ in $(seq 1 50); do [ -S "$D/rb/hostd.sock" ] && return 0; sleep 0.1; done
  fail "no service socket"
}

# wrapper MODE -> runs the job as uid U in $D/scratch; status in $D/rc
wrapper() {
  printf 'RingboxMode = "%s"\nRequestMemory = 64\nRequestCpus = 1\n' "$1" > "$D/job.ad"
  rm -f "$D/scratch/.job_wrapper_failure"
  set +e
  (cd "$D/scratch" && setpriv --reuid=$U --regid=$U --clear-groups env -i PATH=/usr/bin:/bin \
     RINGBOX_SOCKET="$D/rb/hostd.sock" _CONDOR_JOB_AD="$D/job.ad" _CONDOR_SCRATCH_DIR="$D/scratch" \
     _CONDOR_WRAPPER_ERROR_FILE="$D/scratch/.job_wrapper_failure" "$RINGBOX_BIN/ringbox-condor" "$D/scratch/job.sh" \
     >"$D/out" 2>"$D/err")
  echo $? > "$D/rc"
  set -e
}

cat > "$D/scratch/job.sh" <<'JOB'
#!/bin/sh
cat open.txt > got_open.txt
if cat secret > got_secret.txt 2>/dev/null; then echo "LEAK: read secret"; else echo "secret denied"; fi
if echo x >> secret 2>/dev/null; then echo "LEAK: wrote secret"; else echo "secret write denied"; fi
echo made > new.txt
JOB
echo hello > "$D/scratch/open.txt"
echo "top secret" > "$D/scratch/secret"
chown $U:$U "$D/scratch" "$D/scratch/job.sh" "$D/scratch/open.txt"
chmod 0755 "$D/scratch/job.sh"
chmod 0777 "$D/scratch"  # the job (uid 65534 in the guest) may write here; the service as $U too
chown 65534:65534 "$D/scratch/secret"
chmod 0600 "$D/scratch/secret"

start_service '*'
for mode in remote-io lazy-file; do
  rm -f "$D"/scratch/{got_open.txt,got_secret.txt,new.txt}
  wrapper $mode
  [ "$(cat "$D/rc")" = 0 ] || { cat "$D/err"; fail "$mode: wrapper exit $(cat "$D/rc")"; }
  grep -qx "secret denied" "$D/out" || fail "$mode: the job read a file its wrapper's user cannot: $(cat "$D/out")"
  grep -qx "secret write denied" "$D/out" || fail "$mode: the job wrote a file its wrapper's user cannot"
  [ "$(cat "$D/scratch/secret")" = "top secret" ] || fail "$mode: secret changed"
  [ "$(cat "$D/scratch/got_open.txt")" = hello ] || fail "$mode: the job could not read its own input"
  [ "$(stat -c %u "$D/scratch/new.txt")" = $U ] ||
    fail "$mode: new.txt belongs to uid $(stat -c %u "$D/scratch/new.txt"), not the wrapper's $U"
  echo "== $mode: confined to uid $U's rights; new files owned by $U"
done

printf 'RingboxMode = 7\n' > "$D/job.ad"
set +e
(cd "$D/scratch" && setpriv --reuid=$U --regid=$U --clear-groups env -i RINGBOX_SOCKET="$D/rb/hostd.sock" \
   _CONDOR_JOB_AD="$D/job.ad" _CONDOR_WRAPPER_ERROR_FILE="$D/scratch/.job_wrapper_failure" \
   "$RINGBOX_BIN/ringbox-condor" "$D/scratch/job.sh" >/dev/null 2>&1)
rc=$?
set -e
[ $rc = 125 ] || fail "a bad attribute gave exit $rc, not 125"
grep -q "RingboxMode must be a string" "$D/scratch/.job_wrapper_failure" || fail "wrapper error file: $(cat "$D/scratch/.job_wrapper_failure")"
echo "== bad attribute: 125 and the error file"

# Hostile clients: each refused cleanly, and the service still runs jobs afterwards.
setpriv --reuid=$U --regid=$U --clear-groups /usr/bin/python3 "$(dirname "$0")/hostile_client.py" \
  "$D/rb/hostd.sock" "$D/scratch" || fail "a hostile client was not refused cleanly"
kill -0 "$SERVICE_PID" || fail "the service died of a hostile client"
echo "== hostile clients refused; the service lives"

# start_long WHAT: the long job (long.sh, `sleep 120` as uid $U) through the wrapper in the
# background, its pid in $w; waits until the job runs.
start_long() {
  (cd "$D/scratch" && exec setpriv --reuid=$U --regid=$U --clear-groups env -i PATH=/usr/bin:/bin \
     RINGBOX_SOCKET="$D/rb/hostd.sock" _CONDOR_JOB_AD="$D/job.ad" \
     "$RINGBOX_BIN/ringbox-condor" "$D/scratch/long.sh" >/dev/null 2>&1) &
  w=$!
  for _ in $(seq 1 100); do pgrep -u 65534 -f "sleep 120" >/dev/null && break; sleep 0.1; done
  pgrep -u 65534 -f "sleep 120" >/dev/null || fail "$1: the job did not start"
}
# signal_wrapper SIG: sends SIG to the wrapper $w and waits for it: its status in $rc, the time
# it took in $ms.
signal_wrapper() {
  local t0
  t0=$(date +%s%N)
  kill -"$1" "$w"
  set +e
  wait "$w"
  rc=$?
  set -e
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
}
# long_job_ends WHAT: the long job is gone within 10 s.
long_job_ends() {
  for _ in $(seq 1 100); do pgrep -u 65534 -f "sleep 120" >/dev/null || break; sleep 0.1; done
  ! pgrep -u 65534 -f "sleep 120" >/dev/null || fail "the job outlived its wrapper's $1"
}

# max_domains = 1: a second job while one runs is refused; SIGKILL of the first wrapper (no
# HTCondor here) ends its job: the service notices the hang-up.
start_service '*' 'max_domains = 1'
printf '#!/bin/sh\nexec sleep 120\n' > "$D/scratch/long.sh"
chown $U:$U "$D/scratch/long.sh"
chmod 0755 "$D/scratch/long.sh"
printf 'RingboxMode = "remote-io"\n' > "$D/job.ad"
start_long "the first job"
first=$w
wrapper remote-io
[ "$(cat "$D/rc")" = 125 ] || fail "a job beyond max_domains got exit $(cat "$D/rc")"
grep -q "runs 1 ringbox jobs already" "$D/scratch/.job_wrapper_failure" ||
  fail "max_domains refusal: $(cat "$D/scratch/.job_wrapper_failure")"
kill -KILL $first
for _ in $(seq 1 100); do
  pgrep -u 65534 -f "sleep 120" >/dev/null || pgrep -P "$SERVICE_PID" >/dev/null || break
  sleep 0.1
done
! pgrep -u 65534 -f "sleep 120" >/dev/null || fail "the job outlived its SIGKILLed wrapper"
! pgrep -P "$SERVICE_PID" >/dev/null || fail "the service's job process outlived its wrapper"
echo "== max_domains refuses a second job; a SIGKILLed wrapper takes its job with it"

# The vacate budget holds even when the service hangs: JobMaxVacateTime = 3, the service's job
# process stopped (SIGSTOP), SIGTERM to the wrapper: it must die of SIGTERM within the budget;
# once the service runs again it sees the hang-up and ends the job.
start_service '*'
printf 'RingboxMode = "remote-io"\nJobMaxVacateTime = 3\n' > "$D/job.ad"
start_long "the hung-service job"
child=$(pgrep -P "$SERVICE_PID" | head -n1)
[ -n "$child" ] || fail "no service job process for the long job"
kill -STOP "$child"
signal_wrapper TERM
kill -CONT "$child"
[ $rc = 143 ] || fail "the wrapper ended with status $rc, not by SIGTERM (143)"
[ $ms -le 3500 ] || fail "the wrapper took $ms ms to stop; the budget is 3000 ms"
long_job_ends vacate
echo "== SIGTERM with a hung service: the wrapper died of SIGTERM after $ms ms (budget 3000 ms); the job ended"

# SIGQUIT (a hard stop): the wrapper hangs up at once and dies of SIGQUIT; the job ends.
start_long "the SIGQUIT job"
signal_wrapper QUIT
[ $rc = 131 ] || fail "after SIGQUIT the wrapper ended with status $rc, not by SIGQUIT (131)"
long_job_ends SIGQUIT
echo "== SIGQUIT: the wrapper died of SIGQUIT after $ms ms; the job ended"

start_service nobody
wrapper remote-io
[ "$(cat "$D/rc")" = 125 ] || fail "a user outside allow_users got exit $(cat "$D/rc"), not 125"
grep -q "uid $U may not run ringbox jobs" "$D/scratch/.job_wrapper_failure" ||
  fail "the refusal is not in the wrapper error file: $(cat "$D/scratch/.job_wrapper_failure" 2>/dev/null)"
echo "== refused by policy: 125 and the reason in the error file"
echo "PASS: the service confines the job to its wrapper's rights and applies the policy"
