#!/bin/sh
# vacate: a lazy-file job is vacated mid-way (SIGUSR1 to `ringbox-host run`: the guest stops the
# job, ends its grants and port, acknowledges; the host balloons it down, saves the domain
# through libxl into a zstd restore file and exits 75), its restore file is moved to a fresh
# directory and a second run resumes it from there (libxl restore into a new domain id and a new
# UUID; the agent shares a fresh ring, replays, continues the job). That run is vacated again
# (uncompressed, for the numbers), moved, and a third run finishes the job. Checks: the outputs
# (the export's out/ and the job's stdout) are byte-identical to an uninterrupted run of the same
# job; the job never rebooted (its boot id); each used restore file is gone; a restore file whose
# stream is damaged gives a clear message and a clean cold start that finishes the job.
# docs/vacate.md.
#
# Time: about 4 minutes under TCG on an idle host (four job domains booted or restored, two
# saves); 10 or more on a loaded one.
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. /scenarios/lib/common.sh
# shellcheck source-path=SCRIPTDIR source=lib/job-run.sh
. /scenarios/lib/job-run.sh

# 128 MiB: the save file lives in dom0's /run tmpfs next to everything else.
JOB_MEMORY_MIB=${RINGBOX_VACATE_MEMORY_MIB:-128}
steps=${RINGBOX_VACATE_STEPS:-20}
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

# ---------------------------------------------------------------- 5. a damaged restore file
step "5. a restore file whose stream is damaged: a clear message, a cold start"
bad=$base/scratch4
mkdir -p "$bad"
head -c 4096 /dev/zero >"$bad/ringbox.restore"
printf 'ringbox-restore 1\nmemory-mib %s\nvcpus 1\ncompression none\nstream-bytes 1048576\n' "$JOB_MEMORY_MIB" |
  dd of="$bad/ringbox.restore" conv=notrunc 2>/dev/null
head -c 1048576 /dev/urandom >>"$bad/ringbox.restore"
run_job cold "$base/cold" --restore-file "$bad/ringbox.restore"
job_watch_domain
job_run_wait
grep -E 'cannot resume|restore file' "$JOB_LOG" | head -n 3 | sed 's/^/[cold] /'
[ "$JOB_RC" = 0 ] || job_fail "the cold start after a damaged restore file failed ($JOB_RC)"
grep -q 'cannot resume from' "$JOB_LOG" || job_fail "no message about the damaged restore file"
[ -f "$bad/ringbox.restore.rejected" ] || job_fail "the damaged restore file was not set aside"
cmp "$base/ref/out/final.txt" "$base/cold/out/final.txt" || job_fail "the cold start's output differs"
mark cold-start-done
exit 0
