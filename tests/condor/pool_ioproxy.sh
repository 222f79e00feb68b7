#!/usr/bin/env bash
# Real pool, local transport: a lazy-file job with +WantIOProxy = true reaches its files on the
# submit side through HTCondor's own IO proxy: ringbox-condor reads $_CONDOR_CHIRP_CONFIG as the
# job's user, the service relays every file call to the starter's proxy, the shadow does it in
# the job's initialdir. The job reads an input HTCondor never transferred (it exists only in
# the initialdir) and writes an output file and one in a new subdirectory there (HTCondor's
# output transfer returns neither: no new file is in the scratch dir). Checks: byte-identical
# on the submit side, the job's exit code and stdout, no temporary left, the service said where
# the files were. Then RingboxFiles = "submit" without WantIOProxy is a setup failure: the job
# goes back to idle with the reason.
source "$(dirname "$0")/pool_lib.sh"

start_service
start_pool
say "pool up in $D; service pid $SERVICE_PID"

J=$D/jobs/ioproxy
mkdir -p "$J"
cat > "$J/job.sh" <<'JOB'
#!/bin/sh
set -e
cat only-on-submit.dat > out-submit.dat
mkdir -p results
cat only-on-submit.dat > results/copy.dat
printf '%s|' "$@" > results/args.txt
echo "stdout of the proxied job"
exit 4
JOB
chmod 755 "$J/job.sh"
head -c 5242880 /dev/urandom > "$J/only-on-submit.dat"
job_sub "$J" "universe = vanilla" "executable = job.sh" "arguments = \"one 'two three'\"" \
  "requirements = HasRingbox =?= True" "+WantIOProxy = true" "+RingboxMode = \"lazy-file\""
t0=$(date +%s)
c=$(submit "$J")
say "submitted $c"
wait_gone 300 "$c"
say "done in $(( $(date +%s) - t0 )) s"
status=$(job_attr "$c" JobStatus)
code=$(job_attr "$c" ExitCode)
say "cluster $c JobStatus $status ExitCode $code"
[ "$status" = 4 ] || fail "the job did not complete (JobStatus $status)"
[ "$code" = 4 ] || fail "ExitCode is '$code', the job exits 4"
cmp "$J/only-on-submit.dat" "$J/out-submit.dat" || fail "out-submit.dat differs from the input"
cmp "$J/only-on-submit.dat" "$J/results/copy.dat" || fail "results/copy.dat differs from the input"
[ "$(cat "$J/results/args.txt")" = "one|two three|" ] ||
  fail "the job's arguments arrived as '$(cat "$J/results/args.txt")'"
[ "$(cat "$J/job.out")" = "stdout of the proxied job" ] || fail "stdout is '$(cat "$J/job.out")'"
# Written by the shadow as the job's owner: the files belong to the submitter.
[ "$(stat -c %U "$J/out-submit.dat")" = nobody ] || fail "out-submit.dat is not the submitter's"
extra=$(cd "$J" && ls -A | grep -vxE 'job\.(sub|sh|out|err|log)|only-on-submit\.dat|out-submit\.dat|results' || true)
[ -z "$extra" ] || fail "unexpected files in the initialdir: $extra"
[ "$(cd "$J/results" && ls -A | tr '\n' ' ')" = "args.txt copy.dat " ] ||
  fail "results/ holds $(ls -A "$J/results")"
grep -q "files on the submit side through the HTCondor Chirp proxy 127.0.0.1:" "$D/service.log" ||
  fail "the service did not relay to the starter's proxy"

# RingboxFiles = "submit" without the proxy: a setup failure, the job back to idle.
N=$D/jobs/noproxy
mkdir -p "$N"
cp "$J/job.sh" "$N/job.sh"
job_sub "$N" "executable = job.sh" "+RingboxFiles = \"submit\""
expect_requeued "no proxy" "$(submit "$N")" "want_io_proxy = true"
[ ! -e "$N/out-submit.dat" ] || fail "no proxy: the job ran"
wait_no_leftovers 10 "after the jobs"
echo "PASS: a +WantIOProxy job read and wrote its submit-side files through the starter's proxy"
