#!/usr/bin/env bash
# Real pool, local transport: one job per mode (remote-io, lazy-file, eager) through
# USER_JOB_WRAPPER = ringbox-condor and ringbox's service. Each reads a 3 MiB input that
# HTCondor transferred, writes it back as a new top-level file and a file of its arguments,
# writes stdout and stderr, and exits 3. Checks: the outputs reach the submitter byte-identical,
# stdout/stderr are the job's, ExitCode = 3 (the job's status, not the wrapper's), and no agent,
# job process or mount is left. A fourth job kills itself with SIGUSR1: HTCondor must report
# ExitBySignal with signal 10, as for an unwrapped job.
source "$(dirname "$0")/pool_lib.sh"

start_service
start_pool
say "pool up in $D; service pid $SERVICE_PID"

cat > "$D/jobs/job.sh" <<'JOB'
#!/bin/sh
set -e
cat in.dat > out.dat
printf '%s|' "$@" > args.txt
echo "stdout of the job"
echo "stderr of the job" >&2
exit 3
JOB
cat > "$D/jobs/sig.sh" <<'JOB'
#!/bin/sh
echo "about to die"
kill -USR1 $$
sleep 5
JOB
chmod 755 "$D/jobs/job.sh" "$D/jobs/sig.sh"
head -c 3145728 /dev/urandom > "$D/jobs/in.dat"

clusters=()
for mode in remote-io lazy-file eager; do
  mkdir -p "$D/jobs/$mode"
  cat > "$D/jobs/$mode/job.sub" <<SUB
universe = vanilla
executable = ../job.sh
arguments = "alpha 'beta gamma'"
transfer_input_files = ../in.dat
should_transfer_files = YES
when_to_transfer_output = ON_EXIT
output = job.out
error = job.err
log = job.log
request_memory = 64
request_cpus = 1
requirements = HasRingbox =?= True
+RingboxMode = "$mode"
queue
SUB
  clusters+=("$(submit "$D/jobs/$mode")")
done
mkdir -p "$D/jobs/signal"
cat > "$D/jobs/signal/job.sub" <<SUB
executable = ../sig.sh
should_transfer_files = YES
output = job.out
error = job.err
log = job.log
request_memory = 64
+RingboxMode = "remote-io"
queue
SUB
sig_cluster=$(submit "$D/jobs/signal")
say "submitted ${clusters[*]} and $sig_cluster"
wait_gone 300 "${clusters[@]}" "$sig_cluster"

i=0
for mode in remote-io lazy-file eager; do
  c=${clusters[$i]}; i=$((i + 1))
  dir=$D/jobs/$mode
  status=$(job_attr "$c" JobStatus)
  code=$(job_attr "$c" ExitCode)
  say "$mode: cluster $c JobStatus $status ExitCode $code"
  [ "$status" = 4 ] || fail "$mode: job $c did not complete (JobStatus $status)"
  [ "$code" = 3 ] || fail "$mode: ExitCode is '$code', the job exits 3"
  [ -f "$dir/out.dat" ] || fail "$mode: out.dat did not reach the submitter"
  cmp "$D/jobs/in.dat" "$dir/out.dat" || fail "$mode: out.dat differs from in.dat"
  [ "$(cat "$dir/args.txt")" = "alpha|beta gamma|" ] ||
    fail "$mode: the job's arguments arrived as '$(cat "$dir/args.txt")'"
  [ "$(cat "$dir/job.out")" = "stdout of the job" ] ||
    fail "$mode: stdout is '$(cat "$dir/job.out")'"
  grep -qx "stderr of the job" "$dir/job.err" || fail "$mode: stderr is '$(cat "$dir/job.err")'"
  # Only the job's own new files came back: nothing of ringbox's in the output set.
  extra=$(cd "$dir" && ls -A | grep -vxE 'job\.(sub|out|err|log)|out\.dat|args\.txt' || true)
  [ -z "$extra" ] || fail "$mode: unexpected files returned: $extra"
done

by_signal=$(job_attr "$sig_cluster" ExitBySignal)
signal=$(job_attr "$sig_cluster" ExitSignal)
say "signal job: ExitBySignal $by_signal ExitSignal $signal"
[ "$by_signal" = true ] && [ "$signal" = 10 ] ||
  fail "the job killed by SIGUSR1 was reported as ExitBySignal=$by_signal ExitSignal=$signal"
grep -qx "about to die" "$D/jobs/signal/job.out" || fail "the signal job's stdout is missing"

wait_no_leftovers 10 "after every job ended"
grep -q "isolates nothing" "$D/service.log" || fail "the service log does not say local isolates nothing"
echo "PASS: remote-io, lazy-file and eager through the real pool; exit status and signal reported"
