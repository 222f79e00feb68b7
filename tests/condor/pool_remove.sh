#!/usr/bin/env bash
# Real pool, local transport: stopping a running ringbox job from HTCondor leaves nothing.
#   condor_rm            the wrapper gets SIGTERM, asks the service to stop the job, exits;
#                        the job leaves the queue as removed; no agent, job process or mount left
#   condor_vacate_job    the same signal path; the job goes back to idle (not completed)
#   SIGKILL the wrapper  the service sees the socket hang up and kills the guest at once
source "$(dirname "$0")/pool_lib.sh"

start_service
start_pool
say "pool up in $D; service pid $SERVICE_PID"

cat > "$D/jobs/long.sh" <<'JOB'
#!/bin/sh
echo started > started.txt
exec sleep 600
JOB
chmod 755 "$D/jobs/long.sh"

# submit_long NAME -> cluster; waits until the job runs inside ringbox (its agent serves it)
submit_long() {
  job_sub "$D/jobs/$1" "executable = ../long.sh" "+RingboxMode = \"remote-io\"" \
    "job_max_vacate_time = 30"
  local c
  c=$(submit "$D/jobs/$1")
  for _ in $(seq 1 120); do
    # remote-io: the job's write reaches the scratch dir at once
    ls "$D"/execute/dir_*/scratch/started.txt >/dev/null 2>&1 && pgrep -u nobody -f "sleep 600" >/dev/null &&
      {
        # The checks below are not vacuous: while the job runs, its agent, its service child
        # and its view's mount are there to be seen.
        local left
        left=$(ringbox_leftovers)
        [ "$(echo $left | wc -w)" -ge 3 ] || fail "$1: running, but only '$left' seen of agent, child, mount"
        echo "$c"
        return 0
      }
    sleep 1
  done
  fail "$1: the job never started inside ringbox"
}

say "condor_rm"
c=$(submit_long rm)
t0=$(date +%s)
as_user condor_rm "$c" >/dev/null
wait_no_leftovers 30 "condor_rm"
say "guest gone $(( $(date +%s) - t0 )) s after condor_rm"
wait_gone 60 "$c"
[ "$(job_attr "$c" JobStatus)" = 3 ] || fail "condor_rm: JobStatus $(job_attr "$c" JobStatus), not removed (3)"
grep -q "asks to stop the job" "$D/service.log" || fail "condor_rm did not reach the service as a stop"

say "condor_vacate_job"
c=$(submit_long vacate)
as_user condor_vacate_job "$c" >/dev/null
wait_no_leftovers 30 "condor_vacate_job"
# Back to idle (or already matched again): never completed.
for _ in $(seq 1 20); do
  s=$(job_attr "$c" JobStatus)
  [ "$s" = 1 ] || [ "$s" = 2 ] && [ "$(job_attr "$c" NumJobStarts)" -ge 1 ] && break
  sleep 1
done
[ "$s" = 1 ] || [ "$s" = 2 ] || fail "condor_vacate_job: JobStatus $s (expected idle or running again)"
as_user condor_rm "$c" >/dev/null
wait_gone 60 "$c"
wait_no_leftovers 30 "after removing the vacated job"

say "SIGKILL the wrapper"
c=$(submit_long killed)
wpid=$(pgrep -u nobody -f "^$WRAPPER_BIN" | head -n1)
[ -n "$wpid" ] || fail "no wrapper process found"
kill -KILL "$wpid"
wait_no_leftovers 15 "after the wrapper was killed by SIGKILL"
grep -q "the wrapper went away" "$D/service.log" || fail "the service did not notice the wrapper's death"
as_user condor_rm "$c" >/dev/null 2>&1 || true
wait_gone 60 "$c"
echo "PASS: condor_rm, condor_vacate_job and a killed wrapper leave no job process or mount"
