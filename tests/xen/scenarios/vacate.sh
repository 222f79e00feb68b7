#!/bin/sh
# vacate: a lazy-file job is vacated mid-way (SIGUSR1 to `ringbox-host run`: the guest stops the
# job, ends its grants and port, acknowledges; the host balloons it down, saves the domain
# through libxl into a zstd restore file and exits 75), its restore file is moved to a fresh
# directory and a second run resumes it from there (libxl restore into a new domain id and a new
# UUID; the agent shares a fresh ring, replays, continues the job). That run is vacated again
# (uncompressed, for the numbers), moved, and a third run finishes the job. Checks: the outputs
# (the export's out/ and the job's stdout) are byte-identical to an uninterrupted run of the same
# job; the job never rebooted (its boot id); each used restore file is gone. Then (5) a run is
# SIGKILLed while it saves: its domain is gone (the reaper) and no restore file a restart would
# trust is left; the half file, renamed as if it were whole, is refused by its header check and the
# job starts cold and finishes. Last (6), HTCondor's way: ringbox's root service
# (`ringbox-host daemon`) and the wrapper (`ringbox-host condor`, as HTCondor's starter runs it)
# started by hand; SIGTERM to the wrapper saves the domain into the restore file the wrapper
# created at the top of its scratch dir, the wrapper exits 75; its relaunch resumes the job,
# whose outputs are again byte-identical to the uninterrupted run; (6c) the wrapper SIGKILLed
# while the service saves (HTCondor's hard kill): no domain is left, the service serves on, and
# the relaunch deletes the .part file and starts the job cold. docs/vacate.md.
#
# Parts: RINGBOX_VACATE_PARTS (a dom0 kernel argument: `run-scenario vacate --dom0-args
# RINGBOX_VACATE_PARTS=wrapper`), a colon list of run (2-4), kill (5), wrapper (6), wkill (6c),
# checkpoint (7,
# `run --checkpoint-every`, exit 85, resume), slow (8: over a stalled submit side, a vacate the
# guest must refuse, one while the job is blocked on a request, one during the lazy-file
# write-back), ckrefuse (9: a RingboxCheckpointMinutes save through the root service that the
# guest refuses, the job going on, the next checkpoint saving); default
# run:kill:wrapper:wkill:slow:ckrefuse.
# Time: 437 s measured with 256 MiB domains on a loaded host (eight job domains booted or
# restored, four saves); the wrapper part took 102 s of it, the SIGKILL part 84 s (its cold start
# was step 5's before). The slow part (8), with 128 MiB domains: 105 s (2026-12-02). The
# ckrefuse part (9 and 9b): 197 s on a quiet host (2026-12-03). The wkill part (6c, 6d): 29 s
# on a quiet host (2026-12-03).
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. /scenarios/lib/common.sh
# shellcheck source-path=SCRIPTDIR source=lib/job-run.sh
. /scenarios/lib/job-run.sh

# 128 MiB: the save file lives in dom0's /run tmpfs next to everything else.
JOB_MEMORY_MIB=${RINGBOX_VACATE_MEMORY_MIB:-128}
steps=${RINGBOX_VACATE_STEPS:-20}
parts=${RINGBOX_VACATE_PARTS:-run:kill:wrapper:wkill:slow:ckrefuse}
# want PART: whether that part of the scenario runs.
want() {
  case ":$parts:" in *":$1:"*) return 0 ;; esac
  return 1
}
base=$RINGBOX_WORK/vacate
mkdir -p "$base/in"
# The job: every step reads an input through the view, appends to an output in the export and
# prints progress; at the end it copies its log. Steady reads and writes, paced so a vacate
# lands mid-way.
i=0
while [ "$i" -lt 8 ]; do
  head -c $((200000 + i * 1000)) /dev/urandom >"$base/in/part$i.bin"
  i=$((i + 1))
done
# shellcheck disable=SC2016 # the job expands its own variables in the guest
JOB='i=0; mkdir -p out; cat /proc/sys/kernel/random/boot_id > out/boot-first;
while [ $i -lt '$steps' ]; do
  f=in/part$((i % 8)).bin
  echo "step $i $(sha256sum < $f | cut -c1-16) $(wc -c < $f)" >> out/log.txt
  echo "progress $i"
  i=$((i + 1)); sleep 0.3
done
cat /proc/sys/kernel/random/boot_id > out/boot-last
cp out/log.txt out/final.txt; echo done'

# run_job TAG EXPORT [RUN_OPTION...]: one run of JOB; JOB_RC is its status.
run_job() {
  tag=$1
  JOB_EXPORT=$2
  shift 2
  job_run_start "$tag" lazy-file --readable in --writable out "$@" -- sh -c "$JOB"
}

# ---------------------------------------------------------------- 1. the reference
for d in ref vac cold; do
  mkdir -p "$base/$d/out"
  cp -a "$base/in" "$base/$d/in"
done
step "1. an uninterrupted run of the job ($steps steps)"
run_job ref "$base/ref"
job_watch_domain
job_run_wait
[ "$JOB_RC" = 0 ] || job_fail "the reference run failed with status $JOB_RC"
ref_out=$JOB_OUT
step "reference run: ${JOB_SECONDS} s"
mark reference-done

# part_run: steps 2-4 (SIGUSR1 to `ringbox-host run`, twice).
part_run() {
# ---------------------------------------------------------------- 2. vacate mid-way
step "2. the same job, vacated with SIGUSR1 after step 6"
first=$base/scratch1
mkdir -p "$first"
run_job vac "$base/vac" --restore-file "$first/ringbox.restore"
job_watch_domain
vac_out=$JOB_OUT
vac_log=$JOB_LOG
n=1800
until grep -q '^progress 6$' "$vac_out" 2>/dev/null; do
  n=$((n - 1))
  [ "$n" -gt 0 ] || job_fail "the job did not reach step 6 within 180 s"
  kill -0 "$JOB_PID" 2>/dev/null || job_fail "ringbox-host run ended before the vacate"
  sleep 0.1
done
t0=$(job_uptime)
kill -USR1 "$JOB_PID"
job_run_wait
[ "$JOB_RC" = 75 ] || job_fail "the vacated run exited with status $JOB_RC, not 75 (vacated)"
[ -f "$first/ringbox.restore" ] || job_fail "no restore file after the vacate"
[ ! -e "$base/vac/out/final.txt" ] || job_fail "the job finished before the vacate took effect"
size=$(stat -c %s "$first/ringbox.restore")
step "RESULT vacate: rc 75 in $JOB_SECONDS s (SIGUSR1 to exit: $(awk -v a="$t0" -v b="$(job_uptime)" 'BEGIN { printf "%.2f", b - a }') s); restore file $size bytes for $JOB_MEMORY_MIB MiB"
grep -E 'ready for the save|vacated:' "$vac_log" | sed 's/^/[vacate] /'
guest_console "$JOB_NAME" | grep -E 'vacate|xen:' | tail -n 8 | sed 's/^/[guest] /'
mark vacated

# resume_start RESTORE_FILE [RUN_OPTION...]: the vacated job's run again, from RESTORE_FILE;
# its stdout is appended to the first run's.
resume_start() {
  rfile=$1
  shift
  JOB_EXPORT=$base/vac
  JOB_NAME=ringbox-job-vac
  JOB_LOG=$RINGBOX_WORK/vac.resume$(basename "$(dirname "$rfile")").log
  pin=${RINGBOX_GUEST_CPUS%%-*}
  JOB_T0=$(job_uptime)
  # shellcheck disable=SC2086 # ${pin:+...} is two words or none
  ringbox-host run --transport xen --mode lazy-file --export "$JOB_EXPORT" --name "$JOB_NAME" \
    --kernel "$RINGBOX_GUEST_KERNEL" --ramdisk "$RINGBOX_GUEST_INITRD" \
    --kernel-args "$RINGBOX_GUEST_KARGS" --memory-mib "$JOB_MEMORY_MIB" \
    ${pin:+--pin-cpu $pin} --stdout "$vac_out" --stderr "$RINGBOX_WORK/vac.stderr" \
    --restore-file "$rfile" --readable in --writable out "$@" \
    -- sh -c "$JOB" >"$JOB_LOG" 2>&1 &
  JOB_PID=$!
}

# resume_latency TAG: once the resumed run says it restored the domain, the time until the job's
# stdout grows again (its next write through the ring): a RESULT line.
resume_latency() {
  lines=$(wc -l <"$vac_out")
  n=3000
  until grep -q 'resumed the job' "$JOB_LOG" 2>/dev/null; do
    n=$((n - 1))
    [ "$n" -gt 0 ] || job_fail "$1: no 'resumed the job' within 300 s"
    kill -0 "$JOB_PID" 2>/dev/null || return 0
    sleep 0.05
  done
  tr=$(job_uptime)
  n=3000
  while [ "$(wc -l <"$vac_out")" -le "$lines" ]; do
    n=$((n - 1))
    [ "$n" -gt 0 ] || job_fail "$1: the resumed job wrote nothing within 150 s"
    sleep 0.05
  done
  step "RESULT $1: restore $(sed -n 's/.*resumed the job.s domain from .* in \([0-9.]*\) s.*/\1/p' "$JOB_LOG") s; from the restore to the job's next write: $(awk -v a="$tr" -v b="$(job_uptime)" 'BEGIN { printf "%.2f", b - a }') s"
}

# wait_progress N: until the vacated job's stdout says it did step N.
wait_progress() {
  n=1800
  until grep -q "^progress $1\$" "$vac_out" 2>/dev/null; do
    n=$((n - 1))
    [ "$n" -gt 0 ] || job_fail "the job did not reach step $1 within 180 s"
    kill -0 "$JOB_PID" 2>/dev/null || job_fail "ringbox-host run ended before step $1"
    sleep 0.1
  done
}

# ---------------------------------------------------------------- 3. resume, vacate again
second=$base/scratch2
mkdir -p "$second"
mv "$first/ringbox.restore" "$second/"
step "3. resuming from $second/ringbox.restore, then vacating again after step 13, uncompressed"
resume_start "$second/ringbox.restore" --restore-compression none
resume_latency "resume 1 (zstd file)"
wait_progress 13
grep -E 'resumed|restored' "$JOB_LOG" | sed 's/^/[resume] /'
grep -q 'resumed the job' "$JOB_LOG" || job_fail "the run did not resume (it started over?)"
[ ! -e "$second/ringbox.restore" ] || job_fail "the used restore file is still there"
t0=$(job_uptime)
kill -USR1 "$JOB_PID"
job_run_wait
[ "$JOB_RC" = 75 ] || job_fail "the second vacate exited with status $JOB_RC, not 75"
size2=$(stat -c %s "$second/ringbox.restore")
step "RESULT vacate 2 (uncompressed): SIGUSR1 to exit $(awk -v a="$t0" -v b="$(job_uptime)" 'BEGIN { printf "%.2f", b - a }') s; restore file $size2 bytes for $JOB_MEMORY_MIB MiB"
grep -E 'vacate|vacated:' "$JOB_LOG" | sed 's/^/[vacate2] /'
mark vacated-twice

third=$base/scratch3
mkdir -p "$third"
mv "$second/ringbox.restore" "$third/"
step "4. resuming from $third/ringbox.restore to the end"
resume_start "$third/ringbox.restore"
resume_latency "resume 2 (uncompressed file)"
job_run_wait
step "RESULT resume 2: rc $JOB_RC in $JOB_SECONDS s"
grep -E 'resumed|restored' "$JOB_LOG" | sed 's/^/[resume2] /'
[ "$JOB_RC" = 0 ] || job_fail "the resumed run exited with status $JOB_RC"
[ ! -e "$third/ringbox.restore" ] || job_fail "the used restore file is still there"
guest_console "$JOB_NAME" | grep -E 'restored|republished|after the vacate|continues' | sed 's/^/[guest] /'
cmp "$base/vac/out/boot-first" "$base/vac/out/boot-last" ||
  job_fail "the job's boot id changed: the domain was rebooted, not restored"
for f in log.txt final.txt; do
  cmp "$base/ref/out/$f" "$base/vac/out/$f" || job_fail "out/$f differs from the uninterrupted run"
done
cmp "$ref_out" "$vac_out" || {
  diff "$ref_out" "$vac_out" | head -n 10
  job_fail "the job's stdout differs from the uninterrupted run"
}
step "outputs byte-identical to the uninterrupted run after two vacates ($(wc -l <"$base/vac/out/log.txt") steps)"
mark resumed

}
# save_under_way FILE MIB PID FAIL: waits until libxl has written more than MIB MiB of the stream
# into FILE (its header comes last, so the file is still half), while PID (the saver's owner)
# lives; FAIL is the function that ends the scenario.
save_under_way() {
  n=600
  until [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -gt $(($2 * 1048576)) ]; do
    n=$((n - 1))
    [ "$n" -gt 0 ] || "$4" "the save did not write $2 MiB into $1 within 60 s"
    kill -0 "$3" 2>/dev/null || "$4" "process $3 ended before it was killed"
    sleep 0.1
  done
}

# ---------------------------------------------------------------- 5. SIGKILL during a save
part_kill() {
  step "5. SIGKILL of ringbox-host run while it saves: no domain, no trusted restore file"
  bad=$base/scratch4
  mkdir -p "$bad" "$base/kill/out"
  cp -a "$base/in" "$base/kill/in"
  run_job kill "$base/kill" --restore-file "$bad/ringbox.restore" --restore-compression none
  job_watch_domain
  killed=$JOB_NAME
  n=1800
  until grep -q '^progress 2$' "$JOB_OUT" 2>/dev/null; do
    n=$((n - 1))
    [ "$n" -gt 0 ] || job_fail "the job did not reach step 2 within 180 s"
    sleep 0.1
  done
  kill -USR1 "$JOB_PID"
  save_under_way "$bad/ringbox.restore.part" 4 "$JOB_PID" job_fail
  kill -KILL "$JOB_PID"
  wait "$JOB_PID" 2>/dev/null
  t0=$(job_uptime)
  n=300
  while xl domid "$killed" >/dev/null 2>&1; do
    n=$((n - 1))
    [ "$n" -gt 0 ] || job_fail "domain $killed is still there 30 s after its saver was SIGKILLed"
    sleep 0.1
  done
  step "RESULT SIGKILL during the save: $(stat -c %s "$bad/ringbox.restore.part") bytes written; domain gone $(awk -v a="$t0" -v b="$(job_uptime)" 'BEGIN { printf "%.1f", b - a }') s after the kill"
  [ ! -e "$bad/ringbox.restore" ] || job_fail "a killed save left a file under the trusted name"
  # The worst case: the half file gets the trusted name anyway (a careless copy).
  mv "$bad/ringbox.restore.part" "$bad/ringbox.restore"
  step "5b. the half file under the trusted name: refused by its header, a clean cold start"
  rm -rf "$base/cold/out"
  mkdir -p "$base/cold/out"
  run_job cold "$base/cold" --restore-file "$bad/ringbox.restore"
  job_watch_domain
  job_run_wait
  grep -E 'cannot resume|restore file' "$JOB_LOG" | head -n 3 | sed 's/^/[cold] /'
  [ "$JOB_RC" = 0 ] || job_fail "the cold start after a killed save failed ($JOB_RC)"
  grep -q 'cannot resume from the restore file' "$JOB_LOG" || job_fail "no message about the half restore file"
  [ -f "$bad/ringbox.restore.rejected" ] || job_fail "the half restore file was not set aside"
  cmp "$base/ref/out/final.txt" "$base/cold/out/final.txt" || job_fail "the cold start's output differs"
  mark killed-save-done
}

# ---------------------------------------------------------------- 6. the HTCondor wrapper
# service_start DIR: ringbox's root service (`ringbox-host daemon`) on DIR/hostd.sock, with a
# policy for this scenario's domains in DIR/hostd.conf, its log in DIR/service.log. Sets
# SERVICE_PID.
service_start() {
  cat >"$1/hostd.conf" <<POLICY
transport = xen
allow_users = root
max_domains = 1
max_memory_mib = $JOB_MEMORY_MIB
default_memory_mib = $JOB_MEMORY_MIB
max_vcpus = 1
image.default = $RINGBOX_GUEST_KERNEL $RINGBOX_GUEST_INITRD
POLICY
  ringbox-host daemon --socket "$1/hostd.sock" --policy "$1/hostd.conf" >"$1/service.log" 2>&1 &
  SERVICE_PID=$!
  n=100
  while [ ! -S "$1/hostd.sock" ]; do
    n=$((n - 1))
    [ "$n" -gt 0 ] || fail "the service did not create its socket: $(tail -n 3 "$1/service.log")"
    sleep 0.1
  done
}

# wrapper_start SCRATCH SERVICE_DIR STDOUT STDERR CMD [ENV...]: `ringbox-host condor sh -c CMD`
# as HTCondor's starter runs it, in SCRATCH with the job ad SERVICE_DIR/job.ad, through the
# service of service_start; the job's stdout and stderr appended to STDOUT and STDERR. Sets WPID.
wrapper_start() {
  w_scratch=$1 w_svc=$2 w_out=$3 w_err=$4 w_cmd=$5
  shift 5
  (cd "$w_scratch" && exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin _CONDOR_SCRATCH_DIR="$w_scratch" \
    _CONDOR_JOB_AD="$w_svc/job.ad" RINGBOX_SOCKET="$w_svc/hostd.sock" "$@" \
    ringbox-host condor sh -c "$w_cmd" >>"$w_out" 2>>"$w_err") &
  WPID=$!
}

# same_as_reference TAG SCRATCH STDOUT FAIL: the job's outputs in SCRATCH/out and its stdout
# are byte-identical to the uninterrupted run's; FAIL is the function that ends the scenario.
same_as_reference() {
  for f in log.txt final.txt; do
    cmp "$base/ref/out/$f" "$2/out/$f" || "$4" "$1: out/$f differs from the uninterrupted run"
  done
  cmp "$ref_out" "$3" || {
    diff "$ref_out" "$3" | head -n 10
    "$4" "$1: the job's stdout differs from the uninterrupted run"
  }
}

# service_stop PID WHAT: stops the service of service_start; no domain may be left after WHAT.
service_stop() {
  kill "$1"
  wait "$1"
  others=$(xl list | awk 'NR > 1 && $1 != "Domain-0" { printf "%s ", $1 }')
  [ -z "$others" ] || fail "after $2, xl list still shows: $others"
}

part_wrapper() {
  step "6. vacate through ringbox's root service: SIGTERM to the wrapper after step 6"
  rb=$base/rb
  ws=$base/wscratch
  mkdir -p "$rb" "$ws/out"
  cp -a "$base/in" "$ws/in"
  printf 'RequestMemory = %s\nRequestCpus = 1\nRingboxMode = "lazy-file"\nJobMaxVacateTime = 240\nWhenToTransferOutput = "ON_EXIT_OR_EVICT"\n' \
    "$JOB_MEMORY_MIB" >"$rb/job.ad"
  service_start "$rb"
  svc=$SERVICE_PID
  wout=$RINGBOX_WORK/wrap.stdout
  rm -f "$wout"
  # wrap_start: the wrapper as HTCondor's starter runs it, in the scratch dir (stdout appended).
  wrap_start() {
    wrapper_start "$ws" "$rb" "$wout" "$RINGBOX_WORK/wrap.stderr" "$JOB"
  }
  wrap_fail() {
    sed 's/^/[service] /' "$rb/service.log" | tail -n 40
    sed 's/^/[wrapper stderr] /' "$RINGBOX_WORK/wrap.stderr" | tail -n 10
    kill "$svc" 2>/dev/null
    fail "$*"
  }
  T0=$(job_uptime)
  wrap_start
  n=1800
  until grep -q '^progress 6$' "$wout" 2>/dev/null; do
    n=$((n - 1))
    [ "$n" -gt 0 ] || wrap_fail "the wrapped job did not reach step 6 within 180 s"
    kill -0 "$WPID" 2>/dev/null || wrap_fail "the wrapper ended before the vacate"
    sleep 0.1
  done
  t0=$(job_uptime)
  kill -TERM "$WPID"
  wait "$WPID"
  rc=$?
  t1=$(job_uptime)
  [ "$rc" = 75 ] || wrap_fail "the vacated wrapper exited with status $rc, not 75 (saved)"
  [ -f "$ws/ringbox.restore" ] || wrap_fail "no ringbox.restore in the scratch dir after the vacate"
  [ ! -e "$ws/ringbox.restore.part" ] || wrap_fail "ringbox.restore.part left after the vacate"
  [ ! -e "$ws/out/final.txt" ] || wrap_fail "the job finished before the vacate took effect"
  step "RESULT wrapper vacate: SIGTERM to exit $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s; restore file $(stat -c %s "$ws/ringbox.restore") bytes for $JOB_MEMORY_MIB MiB"
  grep -E 'vacat|ready for the save' "$rb/service.log" | sed 's/^/[service] /'
  step "6b. the wrapper relaunched with the restore file in place: the job resumes"
  wrap_start
  wait "$WPID"
  rc=$?
  grep -E 'resumed|cannot resume' "$rb/service.log" | sed 's/^/[service] /'
  [ "$rc" = 0 ] || wrap_fail "the relaunched wrapper exited with status $rc"
  grep -q 'resumed the job' "$rb/service.log" || wrap_fail "the relaunch did not resume (it started over?)"
  [ ! -e "$ws/ringbox.restore" ] || wrap_fail "the used restore file is still in the scratch dir"
  cmp "$ws/out/boot-first" "$ws/out/boot-last" || wrap_fail "the job's boot id changed: rebooted, not restored"
  same_as_reference wrapper "$ws" "$wout" wrap_fail
  service_stop "$svc" "the wrapper's jobs"
  step "RESULT wrapper: vacated and resumed, outputs byte-identical, $(awk -v a="$T0" -v b="$(job_uptime)" 'BEGIN { printf "%.1f", b - a }') s in all"
  mark wrapper-done
}

# ---------------------------------------------------------------- 6c. SIGKILL of the wrapper
# HTCondor's hard kill (MachineMaxVacateTime ran out) lands while the root service saves: the
# service sees the wrapper's socket close; its kill waits for the save under way (XenDomain
# holds the domain's lock through libxl_domain_suspend), then the domain is gone and the service
# serves on. The file keeps its .part name, which nothing trusts, and the relaunch deletes it
# and starts the job cold.
part_wkill() {
  step "6c. SIGKILL of the wrapper while the service saves: no domain, the relaunch starts cold"
  rb=$base/rbk
  ws=$base/wkscratch
  mkdir -p "$rb" "$ws/out"
  cp -a "$base/in" "$ws/in"
  printf 'RequestMemory = %s\nRequestCpus = 1\nRingboxMode = "lazy-file"\nJobMaxVacateTime = 240\nWhenToTransferOutput = "ON_EXIT_OR_EVICT"\n' \
    "$JOB_MEMORY_MIB" >"$rb/job.ad"
  service_start "$rb"
  svc=$SERVICE_PID
  wk_fail() {
    sed 's/^/[service] /' "$rb/service.log" | tail -n 40
    sed 's/^/[wrapper stderr] /' "$RINGBOX_WORK/wkill.stderr" | tail -n 10
    kill "$svc" 2>/dev/null
    fail "$*"
  }
  rm -f "$RINGBOX_WORK/wkill.stdout" "$RINGBOX_WORK/wkill2.stdout"
  wrapper_start "$ws" "$rb" "$RINGBOX_WORK/wkill.stdout" "$RINGBOX_WORK/wkill.stderr" "$JOB"
  n=1800
  until grep -q '^progress 2$' "$RINGBOX_WORK/wkill.stdout" 2>/dev/null; do
    n=$((n - 1))
    [ "$n" -gt 0 ] || wk_fail "the wrapped job did not reach step 2 within 180 s"
    kill -0 "$WPID" 2>/dev/null || wk_fail "the wrapper ended before the vacate"
    sleep 0.1
  done
  doms=$(xl list | awk 'NR > 1 && $1 != "Domain-0" { printf "%s ", $1 }')
  [ -n "$doms" ] || wk_fail "no job domain in xl list while the job runs"
  kill -TERM "$WPID"
  save_under_way "$ws/ringbox.restore.part" 2 "$WPID" wk_fail
  kill -KILL "$WPID"
  wait "$WPID" 2>/dev/null
  t0=$(job_uptime)
  n=300
  while [ -n "$(xl list | awk 'NR > 1 && $1 != "Domain-0"')" ]; do
    n=$((n - 1))
    [ "$n" -gt 0 ] || wk_fail "domain(s) $doms still there 30 s after the wrapper was SIGKILLed"
    sleep 0.1
  done
  [ -e "$ws/ringbox.restore.part" ] || wk_fail "no ringbox.restore.part after the wrapper was SIGKILLed"
  step "RESULT wrapper SIGKILLed during the save: $(stat -c %s "$ws/ringbox.restore.part") bytes written; domain gone $(awk -v a="$t0" -v b="$(job_uptime)" 'BEGIN { printf "%.1f", b - a }') s after the kill"
  grep -E 'went away|vacat|save' "$rb/service.log" | sed 's/^/[service] /'
  [ ! -e "$ws/ringbox.restore" ] || wk_fail "a killed save left a file under the trusted name"
  kill -0 "$svc" 2>/dev/null || wk_fail "the service died with the wrapper"
  step "6d. the wrapper relaunched in the same scratch dir: a cold start through the same service"
  wrapper_start "$ws" "$rb" "$RINGBOX_WORK/wkill2.stdout" "$RINGBOX_WORK/wkill.stderr" "$JOB"
  wait "$WPID"
  rc=$?
  [ "$rc" = 0 ] || wk_fail "the relaunched wrapper exited with status $rc"
  ! grep -q 'resumed the job' "$rb/service.log" || wk_fail "the relaunch resumed from a killed save"
  [ ! -e "$ws/ringbox.restore.part" ] || wk_fail "the killed save's ringbox.restore.part outlived the relaunch"
  same_as_reference wkill "$ws" "$RINGBOX_WORK/wkill2.stdout" wk_fail
  service_stop "$svc" "the killed wrapper's jobs"
  mark wkill-done
}

# ---------------------------------------------------------------- 8. slow requests, write-back
# The files on a submit side that stalls (ringbox-submitd in dom0, SIGSTOPped): (a) a stall longer
# than the vacate's budget, which the guest refuses (no save tried, the job goes on), (b) a vacate
# while the job is blocked on a request that outlasts the agent's old fixed 10 s drain, and (c) a
# vacate during the lazy-file write-back, which uploads over Chirp: the upload the old host
# started is unknown to the restored run's host, and the agent sends it again from its first
# byte. Outputs, hard links included, must come out whole, once, and nothing half-written stays.
part_slow() {
  step "8. vacate while the job waits on a stalled submit side, then during its write-back"
  sb=$base/slow
  sroot=$sb/root
  mkdir -p "$sroot/out" "$sb/scratch"
  cp -a "$base/in" "$sroot/in"
  submitd_start "$sb" "$sroot"
  submitd_pid=$SUBMITD_PID
  submit=$SUBMITD_URL
  sout=$RINGBOX_WORK/slow.stdout
  rm -f "$sout"
  # shellcheck disable=SC2016 # the job expands its own variables in the guest
  SLOW_JOB='mkdir -p out; cat /proc/sys/kernel/random/boot_id > out/boot-first;
cat in/part0.bin > /dev/null; echo ready; sleep 6; echo "slow read $(wc -c < in/part1.bin)";
i=0; while [ $i -lt 6 ]; do
  j=0; while [ $j -lt 12 ]; do cat in/part$(((i + j) % 8)).bin; j=$((j + 1)); done > out/big$i.bin
  ln out/big$i.bin out/link$i.bin; i=$((i + 1)); done
cat /proc/sys/kernel/random/boot_id > out/boot-last; echo written; sleep 3; echo bye'
  # slow_run TAG [RUN_OPTION...]: a run of SLOW_JOB (a resume when the restore file is there).
  slow_run() {
    JOB_NAME=ringbox-job-slow
    [ "$1" != refuse ] || JOB_NAME=ringbox-job-refuse
    JOB_LOG=$RINGBOX_WORK/slow.$1.log
    shift
    pin=${RINGBOX_GUEST_CPUS%%-*}
    JOB_T0=$(job_uptime)
    # shellcheck disable=SC2086 # ${pin:+...} is two words or none
    ringbox-host run --transport xen --mode lazy-file --submit "$submit" --name "$JOB_NAME" \
      --kernel "$RINGBOX_GUEST_KERNEL" --ramdisk "$RINGBOX_GUEST_INITRD" \
      --kernel-args "$RINGBOX_GUEST_KARGS" --memory-mib "$JOB_MEMORY_MIB" \
      ${pin:+--pin-cpu $pin} --stdout "$sout" --stderr "$RINGBOX_WORK/slow.stderr" \
      --restore-file "$sb/scratch/ringbox.restore" --readable in --writable out "$@" \
      -- sh -c "$SLOW_JOB" >"$JOB_LOG" 2>&1 &
    JOB_PID=$!
  }
  # slow_wait ERE SECONDS: until the job's stdout has a line matching ERE.
  slow_wait() {
    n=$(($2 * 10))
    until grep -qE -- "$1" "$sout" 2>/dev/null; do
      n=$((n - 1))
      [ "$n" -gt 0 ] || job_fail "the job printed no '$1' within $2 s"
      kill -0 "$JOB_PID" 2>/dev/null || job_fail "ringbox-host run ended before the job printed '$1'"
      sleep 0.1
    done
  }
  slow_fail() {
    kill -CONT "$submitd_pid" 2>/dev/null
    sed 's/^/[submitd] /' "$sb/submitd.log" | tail -n 10
    job_fail "$*"
  }

  # slow_outputs WHAT: the six files and their links as the job wrote them, its boot id
  # unchanged, its stdout once.
  slow_outputs() {
    i=0
    while [ "$i" -lt 6 ]; do
      j=0
      while [ "$j" -lt 12 ]; do
        cat "$base/in/part$(((i + j) % 8)).bin"
        j=$((j + 1))
      done >"$sb/expected$i"
      cmp "$sb/expected$i" "$sroot/out/big$i.bin" || slow_fail "$1: out/big$i.bin differs from what the job wrote"
      [ "$(stat -c %i "$sroot/out/big$i.bin")" = "$(stat -c %i "$sroot/out/link$i.bin")" ] ||
        slow_fail "out/link$i.bin is not a hard link of out/big$i.bin"
      i=$((i + 1))
    done
    cmp "$sroot/out/boot-first" "$sroot/out/boot-last" || slow_fail "the job's boot id changed: rebooted, not restored"
    printf 'ready\nslow read %s\nwritten\nbye\n' "$(wc -c <"$base/in/part1.bin")" >"$sb/stdout.expected"
    cmp "$sb/stdout.expected" "$sout" || {
      diff "$sb/stdout.expected" "$sout" | head -n 10
      slow_fail "$1: the job's stdout lost or repeated lines"
    }
  }

  step "8a. a stall longer than the vacate's budget (6 s): the guest refuses, nothing is saved, the job goes on here"
  slow_run refuse --vacate-ack-timeout-ms 6000
  job_watch_domain
  slow_wait '^ready$' 180
  kill -STOP "$submitd_pid"
  sleep 9 # the job's `sleep 6` ends: it opens in/part1.bin, a fetch through the stalled side
  kill -USR1 "$JOB_PID"
  sleep 8
  kill -CONT "$submitd_pid"
  job_run_wait
  [ "$JOB_RC" = 0 ] || slow_fail "a refused vacate: the run exited with status $JOB_RC, not 0 (the job goes on here)"
  [ ! -e "$sb/scratch/ringbox.restore" ] || slow_fail "a refused vacate left a restore file"
  grep -q 'no save: the job goes on here' "$JOB_LOG" || slow_fail "the run did not say the guest refused the save"
  job_console_line 'refusing vacate' >/dev/null || slow_fail "the guest did not say it refused"
  slow_outputs "after a refused vacate"
  job_no_upload_leftovers "$sroot"
  step "RESULT refused vacate: $(job_console_line 'refusing vacate' | sed 's/.*refusing vacate [0-9a-f]*: //'); the job finished here in $JOB_SECONDS s"
  rm -rf "$sroot/out" "$sout"
  mkdir -p "$sroot/out"

  step "8b. the job blocks on a fetch from the stalled submit side; SIGUSR1; 12 s later the submit side goes on"
  slow_run first
  job_watch_domain
  slow_wait '^ready$' 180
  kill -STOP "$submitd_pid"
  sleep 9 # the job's `sleep 6` ends: it opens in/part1.bin, a fetch through the stalled side
  t0=$(job_uptime)
  kill -USR1 "$JOB_PID"
  sleep 12
  kill -CONT "$submitd_pid"
  job_run_wait
  [ "$JOB_RC" = 75 ] || slow_fail "vacated while blocked on a stalled request: status $JOB_RC, not 75"
  [ -f "$sb/scratch/ringbox.restore" ] || slow_fail "no restore file after the vacate"
  line=$(job_console_line 'FUSE requests ended [0-9]+ ms') || slow_fail "the guest did not report the job's request ending during the vacate"
  ms=$(printf '%s\n' "$line" | sed -n 's/.*ended \([0-9]*\) ms.*/\1/p')
  [ "${ms:-0}" -ge 10000 ] || slow_fail "the job's request ended ${ms:-?} ms after its stop: it was not blocked through the stall"
  step "RESULT vacate during a stalled request: the job's request ended $ms ms after its stop; SIGUSR1 to exit $(awk -v a="$t0" -v b="$(job_uptime)" 'BEGIN { printf "%.2f", b - a }') s, rc 75"

  step "8c. resumed; vacated again while its write-back waits on the stalled submit side"
  slow_run second
  slow_wait '^written$' 300
  kill -STOP "$submitd_pid"
  slow_wait '^bye$' 60
  sleep 3 # the job has ended: its write-back's first uploads wait on the stalled side
  grep -q 'resumed the job' "$JOB_LOG" || slow_fail "8c: the run did not resume (it started over?)"
  kill -USR1 "$JOB_PID"
  sleep 3
  kill -CONT "$submitd_pid"
  job_run_wait
  [ "$JOB_RC" = 75 ] || slow_fail "vacated during the write-back: status $JOB_RC, not 75"
  [ ! -e "$sroot/out/big0.bin" ] ||
    slow_fail "out/big0.bin was returned before the save: the vacate did not land in the write-back"

  step "8d. resumed to the end: the write-back the save cut goes on"
  slow_run third
  job_run_wait
  [ "$JOB_RC" = 0 ] || slow_fail "the run after the write-back vacate exited with status $JOB_RC"
  grep -q 'resumed the job' "$JOB_LOG" || slow_fail "8d: the run did not resume (it started over?)"
  [ ! -e "$sb/scratch/ringbox.restore" ] || slow_fail "the used restore file is still there"
  restarted=$(guest_console "$JOB_NAME" | grep -c 'starts again from its first byte')
  [ "$restarted" -gt 0 ] || slow_fail "no upload was sent again: the save did not cut one"
  slow_outputs "after two vacates"
  job_no_upload_leftovers "$sroot"
  kill "$submitd_pid"
  wait "$submitd_pid" 2>/dev/null
  step "RESULT vacate during the write-back: $restarted upload(s) sent again from the first byte; 6 files and their links byte-identical, stdout once"
  mark slow-done
}

# ---------------------------------------------------------------- 7. --checkpoint-every
# Not in the default parts (about 2 minutes): RINGBOX_VACATE_PARTS=checkpoint.
part_checkpoint() {
  ck_steps=${RINGBOX_VACATE_CK_STEPS:-150}
  ck_min=${RINGBOX_VACATE_CK_MINUTES:-0.75}
  step "7. run --checkpoint-every $ck_min on a $ck_steps-step job: exit 85, the relaunch finishes it"
  ck=$base/ck
  mkdir -p "$ck/out"
  cp -a "$base/in" "$ck/in"
  # What the job's log must say, computed here.
  i=0
  while [ "$i" -lt "$ck_steps" ]; do
    f=$base/in/part$((i % 8)).bin
    echo "step $i $(sha256sum <"$f" | cut -c1-16) $(wc -c <"$f")"
    i=$((i + 1))
  done >"$base/ck.expected"
  ck_job=$(printf '%s' "$JOB" | sed "s/-lt $steps ]/-lt $ck_steps ]/")
  JOB_EXPORT=$ck
  job_run_start ck lazy-file --readable in --writable out --restore-file "$base/ck.restore" \
    --restore-compression none --checkpoint-every "$ck_min" -- sh -c "$ck_job"
  job_watch_domain
  ck_out=$JOB_OUT
  job_run_wait
  grep -E 'checkpoint|vacated:' "$JOB_LOG" | sed 's/^/[checkpoint] /'
  [ "$JOB_RC" = 85 ] || job_fail "the checkpointing run exited with status $JOB_RC, not 85"
  [ -f "$base/ck.restore" ] || job_fail "no restore file after the checkpoint"
  [ ! -e "$ck/out/final.txt" ] || job_fail "the job finished before its checkpoint (make RINGBOX_VACATE_CK_STEPS larger)"
  # lazy-file returns out/ at the job's end: its stdout tells how far it got.
  step "RESULT checkpoint after $(grep -c '^progress' "$ck_out") of $ck_steps steps; restore file $(stat -c %s "$base/ck.restore") bytes"
  pin=${RINGBOX_GUEST_CPUS%%-*}
  JOB_LOG=$RINGBOX_WORK/ck.resume.log
  JOB_T0=$(job_uptime)
  # shellcheck disable=SC2086 # ${pin:+...} is two words or none
  ringbox-host run --transport xen --mode lazy-file --export "$ck" --name ringbox-job-ck \
    --kernel "$RINGBOX_GUEST_KERNEL" --ramdisk "$RINGBOX_GUEST_INITRD" \
    --kernel-args "$RINGBOX_GUEST_KARGS" --memory-mib "$JOB_MEMORY_MIB" \
    ${pin:+--pin-cpu $pin} --stdout "$ck_out" --stderr "$RINGBOX_WORK/ck.stderr" \
    --restore-file "$base/ck.restore" --readable in --writable out \
    -- sh -c "$ck_job" >"$JOB_LOG" 2>&1 &
  JOB_PID=$!
  job_run_wait
  grep -E 'resumed' "$JOB_LOG" | sed 's/^/[checkpoint resume] /'
  [ "$JOB_RC" = 0 ] || job_fail "the run after the checkpoint exited with status $JOB_RC"
  grep -q 'resumed the job' "$JOB_LOG" || job_fail "the run after the checkpoint did not resume"
  cmp "$base/ck.expected" "$ck/out/log.txt" || job_fail "the checkpointed job's log differs"
  cmp "$ck/out/boot-first" "$ck/out/boot-last" || job_fail "the checkpointed job was rebooted"
  [ "$(grep -c '^progress' "$ck_out")" = "$ck_steps" ] || job_fail "the checkpointed job's stdout lost or repeated lines"
  mark checkpoint-done
}

# ---------------------------------------------------------------- 9. a refused checkpoint
# RingboxCheckpointMinutes through the wrapper and the root service, the job's files on the
# submit side (WantIOProxy: ringbox-submitd with a cookie in .chirp.config stands in for the
# starter's IO proxy), which stalls while the first checkpoint comes: the guest cannot stop the
# job's file request within the vacate's budget (half the stop grace: JobMaxVacateTime = 60
# gives it 24 s, and the save up to 57 s, what a 128 MiB zstd save under TCG on a loaded
# host needs), refuses, the service answers op=refused and the wrapper lets the job go on,
# where before the service destroyed it. HTCondor's SIGTERM, sent during that checkpoint, is
# held and then saves the job (exit 75); after the resume the next checkpoint saves (exit 85),
# the relaunch resumes, and the outputs are what the job wrote, once. Then (9b) the same job in a scratch
# dir too small for the restore file: the save fails, the service resumes the domain in place
# (libxl's cancelled suspend), the wrapper goes on, and the job finishes there.
part_ckrefuse() {
  step "9. a checkpoint while the job waits on a stalled submit side: refused, the job goes on, the next one saves"
  cr=$base/ckr
  cs=$cr/scratch
  croot=$cr/root
  mkdir -p "$cs" "$croot/out"
  cp -a "$base/in" "$croot/in"
  submitd_start "$cr" "$croot" --auth cookie --write-chirp-config "$cs/.chirp.config"
  cr_submitd=$SUBMITD_PID
  printf 'RequestMemory = %s\nRequestCpus = 1\nRingboxMode = "lazy-file"\nWantIOProxy = true\nJobMaxVacateTime = 60\nWhenToTransferOutput = "ON_EXIT_OR_EVICT"\nRingboxCheckpointMinutes = 0.5\n' \
    "$JOB_MEMORY_MIB" >"$cr/job.ad"
  service_start "$cr"
  cr_svc=$SERVICE_PID
  cout=$RINGBOX_WORK/ckr.stdout
  cerr=$RINGBOX_WORK/ckr.stderr
  rm -f "$cout" "$cerr"
  cr_steps=50
  # shellcheck disable=SC2016 # the job expands its own variables in the guest
  CR_JOB='mkdir -p out; cat /proc/sys/kernel/random/boot_id > out/boot-first;
cat in/part0.bin > /dev/null; echo ready; sleep 1; echo "slow read $(wc -c < in/part1.bin)";
i=0; while [ $i -lt '$cr_steps' ]; do
  f=in/part$((i % 8)).bin
  echo "step $i $(sha256sum < $f | cut -c1-16) $(wc -c < $f)" >> out/log.txt
  echo "progress $i"; i=$((i + 1)); sleep 1
done
cat /proc/sys/kernel/random/boot_id > out/boot-last; cp out/log.txt out/final.txt; echo done'
  cr_start() {
    wrapper_start "$cs" "$cr" "$cout" "$cerr" "$CR_JOB" _CONDOR_CHIRP_CONFIG="$cs/.chirp.config"
  }
  cr_fail() {
    kill -CONT "$cr_submitd" 2>/dev/null
    umount "$cr/full" 2>/dev/null
    sed 's/^/[service] /' "$cr/service.log" | tail -n 40
    sed 's/^/[wrapper stderr] /' "$cerr" | tail -n 10
    sed 's/^/[submitd] /' "$cr/submitd.log" | tail -n 5
    kill "$cr_svc" "$cr_submitd" 2>/dev/null
    fail "$*"
  }
  # cr_wait FILE ERE SECONDS: until FILE has a line matching ERE, the wrapper still running.
  cr_wait() {
    n=$(($3 * 10))
    until grep -qE -- "$2" "$1" 2>/dev/null; do
      n=$((n - 1))
      [ "$n" -gt 0 ] || cr_fail "no '$2' in $(basename "$1") within $3 s"
      kill -0 "$WPID" 2>/dev/null || cr_fail "the wrapper ended before '$2' appeared in $(basename "$1")"
      sleep 0.1
    done
  }
  cr_start
  cr_wait "$cout" '^ready$' 180
  kill -STOP "$cr_submitd" # the job's next file request waits on the stalled side
  t0=$(job_uptime)
  # The checkpoint comes 30 s after the domain is up. 5 s into the guest's drain HTCondor
  # evicts the job (SIGTERM): the wrapper holds it until the checkpoint is answered, then asks
  # for the eviction's save, which goes through once the submit side does.
  cr_wait "$cr/service.log" "the wrapper's checkpoint: vacating" 90
  sleep 5
  kill -TERM "$WPID"
  cr_wait "$cerr" 'no checkpoint this time' 120
  t1=$(job_uptime)
  grep -q 'no save: the job goes on here' "$cr/service.log" || cr_fail "the service did not say the guest refused"
  kill -CONT "$cr_submitd"
  wait "$WPID"
  rc=$?
  [ "$rc" = 75 ] || cr_fail "the SIGTERM held during the refused checkpoint: status $rc, not 75 (saved)"
  grep -q "the wrapper's vacate (SIGTERM)" "$cr/service.log" || cr_fail "the held SIGTERM did not become a vacate"
  if grep -q 'destroying the guest' "$cr/service.log"; then cr_fail "the service destroyed the guest"; fi
  [ -f "$cs/ringbox.restore" ] || cr_fail "no ringbox.restore after the eviction"
  step "RESULT refused checkpoint: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s after the stall began: $(grep 'no checkpoint this time' "$cerr" | tail -n 1); the SIGTERM held meanwhile then saved the job (exit 75)"
  # Resumed; the next checkpoint comes half a minute later and saves; each relaunch resumes.
  saves=0
  while :; do
    cr_start
    wait "$WPID"
    rc=$?
    [ "$rc" = 85 ] || break
    saves=$((saves + 1))
    [ "$saves" -le 3 ] || cr_fail "more than 3 checkpoints: the job does not get on"
    [ -f "$cs/ringbox.restore" ] || cr_fail "exit 85 without a ringbox.restore in the scratch dir"
    step "checkpoint $saves saved ($(stat -c %s "$cs/ringbox.restore") bytes) after $(grep -c '^progress' "$cout") steps; relaunching"
  done
  [ "$rc" = 0 ] || cr_fail "the checkpointed job ended with status $rc"
  [ "$saves" -ge 1 ] || cr_fail "no checkpoint was saved after the refused one (the job ended first?)"
  [ "$(grep -c 'resumed the job' "$cr/service.log")" = $((saves + 1)) ] || cr_fail "a relaunch did not resume (it started over?)"
  [ ! -e "$cs/ringbox.restore" ] || cr_fail "the used restore file is still in the scratch dir"
  i=0
  while [ "$i" -lt "$cr_steps" ]; do
    f=$base/in/part$((i % 8)).bin
    echo "step $i $(sha256sum <"$f" | cut -c1-16) $(wc -c <"$f")"
    i=$((i + 1))
  done >"$cr/log.expected"
  cmp "$cr/log.expected" "$croot/out/log.txt" || cr_fail "the job's out/log.txt differs from what it wrote"
  cmp "$croot/out/boot-first" "$croot/out/boot-last" || cr_fail "the job's boot id changed: rebooted, not restored"
  {
    echo ready
    echo "slow read $(wc -c <"$base/in/part1.bin")"
    i=0
    while [ "$i" -lt "$cr_steps" ]; do
      echo "progress $i"
      i=$((i + 1))
    done
    echo "done"
  } >"$cr/stdout.expected"
  cmp "$cr/stdout.expected" "$cout" || {
    diff "$cr/stdout.expected" "$cout" | head -n 10
    cr_fail "the job's stdout lost or repeated lines across its checkpoints"
  }
  job_no_upload_leftovers "$croot"
  step "RESULT refused checkpoint: the job went on, was evicted and resumed, $saves checkpoint(s) saved and resumed, outputs byte-identical"

  step "9b. a checkpoint whose save fails (a full scratch dir): the domain is resumed in place and the job goes on"
  full=$cr/full
  mkdir -p "$full"
  mount -t tmpfs -o size=1m tmpfs "$full" || cr_fail "cannot mount a small tmpfs for the full scratch dir"
  cp "$cs/.chirp.config" "$full/.chirp.config"
  rm -rf "$croot/out" "$cout" "$cerr"
  mkdir -p "$croot/out"
  cs=$full
  cr_start
  cr_wait "$cerr" 'no checkpoint this time \(the save failed' 180
  wait "$WPID"
  rc=$?
  [ "$rc" = 0 ] || cr_fail "after a failed checkpoint save the job ended with status $rc, not 0"
  grep -q 'the job goes on here (the guest reconnects in place)' "$cr/service.log" ||
    cr_fail "the service did not resume the domain after the failed save"
  left=
  for f in "$full"/* "$full"/.[!.]*; do
    [ ! -e "$f" ] || [ "${f##*/}" = .chirp.config ] || left="$left${f##*/} "
  done
  [ -z "$left" ] || cr_fail "a failed checkpoint left files in the scratch dir: $left"
  cmp "$cr/log.expected" "$croot/out/log.txt" || cr_fail "9b: the job's out/log.txt differs from what it wrote"
  cmp "$croot/out/boot-first" "$croot/out/boot-last" || cr_fail "9b: the job's boot id changed"
  cmp "$cr/stdout.expected" "$cout" || {
    diff "$cr/stdout.expected" "$cout" | head -n 10
    cr_fail "9b: the job's stdout lost or repeated lines across the failed checkpoint"
  }
  step "RESULT failed checkpoint save: $(grep -c 'no checkpoint this time' "$cerr") checkpoint(s) not taken ($(grep 'no checkpoint this time' "$cerr" | head -n 1 | cut -c1-160)); the job finished in place, outputs byte-identical"
  umount "$full"
  kill "$cr_svc" "$cr_submitd"
  wait "$cr_svc" "$cr_submitd" 2>/dev/null
  others=$(xl list | awk 'NR > 1 && $1 != "Domain-0" { printf "%s ", $1 }')
  [ -z "$others" ] || fail "after the checkpointed jobs, xl list still shows: $others"
  mark ckrefuse-done
}

! want wrapper || part_wrapper
! want wkill || part_wkill
! want kill || part_kill
! want run || part_run
! want slow || part_slow
! want checkpoint || part_checkpoint
! want ckrefuse || part_ckrefuse
exit 0
