#!/usr/bin/env bash
# Real pool, local transport: one job per mode (remote-io, lazy-file, eager) through
# USER_JOB_WRAPPER = ringbox-condor and ringbox's service, and one that names ringbox-condor as
# its executable (the wrapper steps aside for itself). Each reads a 3 MiB input that
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

# NAME MODE: job.sh in mode MODE; NAME "as-executable": the wrapper named as the job's
# executable (arguments = the real job) on a node whose USER_JOB_WRAPPER is that wrapper too.
write_sub() {
  local -a exe_lines
  if [ "$1" = as-executable ]; then
    exe_lines=("executable = $WRAPPER_BIN" "transfer_executable = false"
      "arguments = \"./job.sh alpha 'beta gamma'\"" "transfer_input_files = ../in.dat, ../job.sh")
  else
    exe_lines=("executable = ../job.sh" "arguments = \"alpha 'beta gamma'\""
      "transfer_input_files = ../in.dat")
  fi
  job_sub "$D/jobs/$1" "universe = vanilla" "${exe_lines[@]}" "request_cpus = 1" \
    "requirements = HasRingbox =?= True" "+RingboxMode = \"$2\""
}

names=(remote-io lazy-file eager as-executable)
modes=(remote-io lazy-file eager lazy-file)
clusters=()
for i in "${!names[@]}"; do
  write_sub "${names[$i]}" "${modes[$i]}"
  clusters+=("$(submit "$D/jobs/${names[$i]}")")
done
job_sub "$D/jobs/signal" "executable = ../sig.sh" "+RingboxMode = \"remote-io\""
sig_cluster=$(submit "$D/jobs/signal")
say "submitted ${clusters[*]} and $sig_cluster"
wait_gone 300 "${clusters[@]}" "$sig_cluster"

for i in "${!names[@]}"; do
  mode=${names[$i]}
  c=${clusters[$i]}
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
echo "PASS: remote-io, lazy-file, eager and the wrapper as executable through the real pool; exit status and signal reported"
