#!/bin/sh
# job-modes: real jobs in NIC-less Xen domains, one `ringbox-host run --transport xen` per
# case, all in one boot of the nested machine (docs/jobs.md, docs/modes.md).
#
# Data set (lib/job-data.sh): four text files, a 4 MiB binary, a MEDIUM and a LARGE random
# file, 1,000 small files, a 4 MiB file no job reads, a private file outside the job's
# --readable rules, and symlinks planted in the export pointing outside it.
#
# 1-3. eager, remote-io, lazy-file: the same job (JOB_MAIN) checksums every input, counts
#      words, copies the binary and writes 20 small outputs, and probes what it must not
#      reach. Checked on the export side against dom0's own computation: out/sums.txt equals
#      dom0's sha256sum of the inputs, out/many.sums each small file's, the word counts; the
#      copied binary is byte-identical (sha256 and cmp), all 20 small outputs are there. The
#      private file gives EACCES (eager: it was not declared, so it does not exist in the
#      guest); "..", and the absolute and relative symlinks pointing outside never yield the
#      outside file. The job saw only "lo" and ran as uid 65534. The transfer log shows what
#      moved: lazy-file fetched exactly the 1,007 files the job read (not the untouched one,
#      not the private one), eager the declared inputs, remote-io nothing whole.
# 3b.  lazy-file again with the files on the "submit side": ringbox-submitd runs in dom0 on
#      127.0.0.1 exporting the same directory, the run gets --submit chirp://127.0.0.1:PORT, so
#      every fetch and write-back goes ringbox-host -> Chirp -> ringbox-submitd. JOB_MAIN without
#      its 1,000 small files (cost); the same checks as 3 otherwise (byte-identical outputs,
#      probes), the 7 inputs fetched, 24 outputs returned.
# 4.   lazy-file, --cache-max-mb below the LARGE file: the job reads it (served remotely; the
#      agent says so), cannot open it for writing (ENOSPC), writes outputs and SIGKILLs
#      itself: status 137, nothing of its writes on the export, no temporary upload file.
# 5.   lazy-file, SIGTERM to ringbox-host run while the job runs (HTCondor vacating): the job
#      gets SIGTERM, status 143, no output on the export.
# After every run: while it ran, its domain had no device but "suspend" in xenstore and dom0
# no backend for it; afterwards the domain is gone, `xl list` shows Domain-0 alone and no
# domain reaper is left.
#
# Guest memory JOB_MEMORY_MIB (384): the guest's /run tmpfs (half of it) holds the lazy-file
# cache and the eager inputs, and must hold LARGE + MEDIUM + 8 MiB of other inputs.
#
# Time: 527 s in all on a quiet 2-core host on 2026-12-01 (eager 73 s, remote-io 117 s,
# lazy-file 105 s, 3b 75 s; ring round trips were ~2.3 ms p50 under TCG that day). Earlier:
# about 100 s on an idle 2-core host, 200-235 s when other QEMUs and compiles share it
# (every ring round trip waits for the host to schedule a virtual CPU), before step 3b: 47 s
# alone (RINGBOX_JOB_LARGE_MIB=32 MEDIUM=8, host load ~5), 293 s when it still ran the whole
# JOB_MAIN (each of the 1,000 small files is ~10 Chirp calls on dom0's one TCG vCPU). Run it by
# hand with `scripts/nested/run-scenario job-modes --timeout 600` on a busy machine; pick steps
# with `--dom0-args RINGBOX_JOB_MODES_STEPS=3:3b` (smaller data: RINGBOX_JOB_LARGE_MIB=32
# RINGBOX_JOB_MEDIUM_MIB=8 in the same --dom0-args).
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. /scenarios/lib/common.sh
# shellcheck source-path=SCRIPTDIR source=lib/job-data.sh
. /scenarios/lib/job-data.sh
# shellcheck source-path=SCRIPTDIR source=lib/job-run.sh
. /scenarios/lib/job-run.sh

JOB_MEMORY_MIB=${RINGBOX_JOB_MEMORY_MIB:-384}
large_mib=${RINGBOX_JOB_LARGE_MIB:-96}
medium_mib=${RINGBOX_JOB_MEDIUM_MIB:-16}
small_cache_mb=$((large_mib * 2 / 3))
base=$RINGBOX_WORK/jobs
JOB_EXPORT=$base/export
expected=$base/expected
mkdir -p "$base" "$expected"

# ---------------------------------------------------------------- data set
step "making the data set: 4 text files, 4 MiB binary, $medium_mib + $large_mib MiB files, 1,000 small files"
job_make_dataset "$JOB_EXPORT" "$base" "$large_mib" "$medium_mib"
job_expected_sums "$JOB_EXPORT" >"$expected/sums.txt" || fail "dom0 cannot checksum the inputs"
job_expected_many "$JOB_EXPORT" >"$expected/many.sums"
(cd "$JOB_EXPORT" && cat in/text/*.txt | tr " " "\n" | sort | uniq -c | sort -k1,1nr -k2 |
  head -n 5) >"$expected/top-words.txt"
(cd "$JOB_EXPORT" && wc -w in/text/alpha.txt) >"$expected/wc.txt"
blob_sum=$(sha256sum <"$JOB_EXPORT/in/bin/blob.bin" | cut -d' ' -f1)
mark dataset-made
step "data set: $(find "$JOB_EXPORT" -type f | wc -l) files, $(du -sm "$JOB_EXPORT" | cut -f1) MiB"

# check_main_outputs MODE DENIED [few]: the export after JOB_MAIN in MODE; DENIED is how the
# private file's refusal reads (cat's message); "few": the job was JOB_FEW (no in/many part).
check_main_outputs() {
  m=$1 denied=$2 few=${3:-}
  [ "$JOB_RC" -eq 0 ] || job_fail "$m: ringbox-host run exited $JOB_RC, the job should have exited 0"
  grep -q '^job done$' "$JOB_OUT" || job_fail "$m: the job did not finish"
  grep -qx 'net: lo ' "$JOB_OUT" || job_fail "$m: the job saw network interfaces besides lo: $(grep '^net:' "$JOB_OUT")"
  grep -qx 'uid: 65534' "$JOB_OUT" || job_fail "$m: the job did not run as uid 65534"
  many=many.sums
  if [ -z "$few" ]; then
    grep -qx 'many: 1000 files' "$JOB_OUT" || job_fail "$m: the job did not see 1,000 small files"
  else
    many=
  fi
  for f in sums.txt $many top-words.txt wc.txt; do
    cmp -s "$expected/$f" "$JOB_EXPORT/out/$f" ||
      job_fail "$m: out/$f differs from dom0's own computation"
  done
  got=$(sha256sum <"$JOB_EXPORT/out/blob.copy" 2>/dev/null | cut -d' ' -f1)
  [ "$got" = "$blob_sum" ] || job_fail "$m: out/blob.copy has sha256 ${got:-none}, the input $blob_sum"
  cmp -s "$JOB_EXPORT/in/bin/blob.bin" "$JOB_EXPORT/out/blob.copy" || job_fail "$m: out/blob.copy differs"
  n=$(find "$JOB_EXPORT/out/small" -type f | wc -l)
  [ "$n" -eq 20 ] || job_fail "$m: $n small outputs on the export, not 20"
  [ "$(cat "$JOB_EXPORT/out/small/o17")" = "output 17" ] || job_fail "$m: out/small/o17 is wrong"
  # Probes: each must fail, none may show a marker.
  for p in private/secret.txt in/links/abs in/links/rel ../outside.txt ../../outside.txt \
    in/../../outside.txt; do
    line=$(grep "^probe $p rc=" "$JOB_OUT") || job_fail "$m: no result for probe $p"
    case $line in
      *"rc=0 "*) job_fail "$m: the job could read $p: $line" ;;
    esac
  done
  ! grep -q MARKER "$JOB_OUT" "$JOB_ERR" || job_fail "$m: the job read a private or outside file"
  grep "^probe private/secret.txt " "$JOB_OUT" | grep -q "$denied" ||
    job_fail "$m: reading private/secret.txt did not fail with '$denied': $(grep '^probe private' "$JOB_OUT")"
  job_no_upload_leftovers "$JOB_EXPORT"
}

# want_step N: whether step N runs. RINGBOX_JOB_MODES_STEPS (a dom0 kernel argument, which
# reaches /init's environment: `run-scenario job-modes --dom0-args RINGBOX_JOB_MODES_STEPS=3:3b`)
# picks steps for a run by hand on a busy machine; all of them by default.
ran_steps=0
want_step() {
  case ":${RINGBOX_JOB_MODES_STEPS:-1:2:3:3b:4:5}:" in
    *":$1:"*)
      ran_steps=$((ran_steps + 1))
      return 0
      ;;
  esac
  return 1
}

# fetched_count: how many files the run's transfer log says were fetched whole.
fetched_count() {
  grep -c '^fetched	' "$JOB_TLOG"
}

# reset_outputs: an empty out/ for the next run.
reset_outputs() {
  rm -rf "$JOB_EXPORT/out" && mkdir "$JOB_EXPORT/out"
}

# ---------------------------------------------------------------- 1. eager
if want_step 1; then
  step "1. eager: the job's 1,007 inputs declared, staged into the guest before it starts"
  set -- --readable in --writable out
  for f in "$JOB_EXPORT"/in/text/*.txt "$JOB_EXPORT"/in/bin/blob.bin "$JOB_EXPORT"/in/big/*.bin \
    "$JOB_EXPORT"/in/many/f*; do
    set -- "$@" --input "${f#"$JOB_EXPORT"/}"
  done
  job_run_start eager eager "$@" -- sh -c "$JOB_MAIN"
  job_watch_domain
  step "eager: domain $JOB_DOMID ($JOB_NAME) running; xenstore device/: ${JOB_DEVICES:-nothing}"
  job_run_wait
  check_main_outputs eager "No such file or directory"
  [ "$(fetched_count)" -eq 1007 ] || job_fail "eager: the transfer log lists $(fetched_count) fetched files, not the 1,007 inputs"
  ! grep -q 'untouched\|private' "$JOB_TLOG" || job_fail "eager: an undeclared file was transferred"
  step "eager: $(grep '^guest /run tmpfs:' "$JOB_OUT"); probes: $(grep '^probe' "$JOB_OUT" | sed 's/^probe //; s/rc=[0-9]* //' | tr '\n' ';')"
  step "RESULT eager: ok in $JOB_SECONDS s; $(grep '^ringbox-host: info: guest' "$JOB_LOG" | sed 's/.*transfers: //')"
  reset_outputs
fi

# ---------------------------------------------------------------- 2. remote-io
if want_step 2; then
  step "2. remote-io: every read and write is a ring call"
  job_run_start remote remote-io --readable in --writable out -- sh -c "$JOB_MAIN"
  job_watch_domain
  step "remote-io: domain $JOB_DOMID ($JOB_NAME) running; xenstore device/: ${JOB_DEVICES:-nothing}"
  job_run_wait
  check_main_outputs remote-io "Permission denied"
  [ "$(fetched_count)" -eq 0 ] || job_fail "remote-io: files were fetched whole ($(fetched_count))"
  grep -q '^opened-read	-	in/big/large.bin$' "$JOB_TLOG" || job_fail "remote-io: the transfer log does not show large.bin read remotely"
  step "remote-io: $(grep '^guest /run tmpfs:' "$JOB_OUT"); probes: $(grep '^probe' "$JOB_OUT" | sed 's/^probe //; s/rc=[0-9]* //' | tr '\n' ';')"
  step "RESULT remote-io: ok in $JOB_SECONDS s; $(grep '^ringbox-host: info: guest' "$JOB_LOG" | sed 's/.*transfers: //')"
  reset_outputs
fi

# ---------------------------------------------------------------- 3. lazy-file
if want_step 3; then
  step "3. lazy-file: each file fetched whole on first open, outputs returned at the end"
  job_run_start lazy lazy-file --readable in --writable out -- sh -c "$JOB_MAIN"
  job_watch_domain
  step "lazy-file: domain $JOB_DOMID ($JOB_NAME) running; xenstore device/: ${JOB_DEVICES:-nothing}"
  job_run_wait
  check_main_outputs lazy-file "Permission denied"
  [ "$(fetched_count)" -eq 1007 ] || job_fail "lazy-file: $(fetched_count) files fetched, the job read 1,007"
  ! grep -q 'untouched\|private' "$JOB_TLOG" || job_fail "lazy-file: a file the job never read was fetched"
  grep -q "^fetched	$((large_mib * 1048576))	in/big/large.bin$" "$JOB_TLOG" ||
    job_fail "lazy-file: large.bin ($large_mib MiB) was not fetched whole into the guest's cache"
  n=$(grep -c '^returned	' "$JOB_TLOG")
  [ "$n" -eq 25 ] || job_fail "lazy-file: $n outputs returned, expected 25"
  step "lazy-file: $(grep '^guest /run tmpfs:' "$JOB_OUT"); probes: $(grep '^probe' "$JOB_OUT" | sed 's/^probe //; s/rc=[0-9]* //' | tr '\n' ';')"
  step "RESULT lazy-file: ok in $JOB_SECONDS s; $(grep '^ringbox-host: info: guest' "$JOB_LOG" | sed 's/.*transfers: //')"
  reset_outputs
fi

# ---------------------------------------------------------------- 3b. lazy-file over Chirp
if want_step 3b; then
  step "3b. lazy-file, files on the submit side: ringbox-host -> Chirp -> ringbox-submitd in dom0"
  submitd_start "$base" "$JOB_EXPORT"
  submitd_pid=$SUBMITD_PID
  JOB_SUBMIT=$SUBMITD_URL
  # JOB_MAIN without its 1,000-file part (each fetch is ~10 Chirp calls inside dom0's one TCG
  # vCPU: the whole JOB_MAIN took 293 s here); the rest, probes included, unchanged.
  JOB_FEW=$(printf '%s\n' "$JOB_MAIN" | sed '/^cd in\/many/,/^cd \.\.\/\.\./d')
  job_run_start lazychirp lazy-file --readable in --writable out -- sh -c "$JOB_FEW"
  job_watch_domain
  job_run_wait
  JOB_SUBMIT=
  grep -q "file service on chirp" "$JOB_LOG" || job_fail "lazy-file over Chirp: the run did not serve the files through Chirp"
  kill -0 "$submitd_pid" 2>/dev/null || job_fail "lazy-file over Chirp: ringbox-submitd died: $(cat "$base/submitd.log")"
  check_main_outputs "lazy-file over Chirp" "Permission denied" few
  [ "$(fetched_count)" -eq 7 ] || job_fail "lazy-file over Chirp: $(fetched_count) files fetched, the job read 7"
  ! grep -q 'untouched\|private' "$JOB_TLOG" || job_fail "lazy-file over Chirp: a file the job never read was fetched"
  n=$(grep -c '^returned	' "$JOB_TLOG")
  [ "$n" -eq 24 ] || job_fail "lazy-file over Chirp: $n outputs returned, expected 24"
  kill "$submitd_pid"
  wait "$submitd_pid" 2>/dev/null
  step "RESULT lazy-file over Chirp: ok in $JOB_SECONDS s, outputs byte-identical; $(grep '^ringbox-host: info: guest' "$JOB_LOG" | sed 's/.*transfers: //')"
  reset_outputs
fi

# ---------------------------------------------------------------- 4. lazy-file, job killed mid-write
if want_step 4; then
  step "4. lazy-file, cache limit $small_cache_mb MiB: the job reads the $large_mib MiB file, writes, SIGKILLs itself"
  large_before=$(grep ' in/big/large.bin$' "$expected/sums.txt")
  job_run_start selfkill lazy-file --cache-max-mb "$small_cache_mb" -- sh -c "$JOB_SELFKILL"
  job_watch_domain
  job_run_wait
  [ "$JOB_RC" -eq 137 ] || job_fail "selfkill: ringbox-host run exited $JOB_RC, expected 137 (SIGKILL)"
  grep -q 'killing myself' "$JOB_ERR" || job_fail "selfkill: the job never got to its kill"
  job_console_line "does not fit the cache; reading it remotely" >/dev/null ||
    job_fail "selfkill: the agent did not say large.bin was read remotely"
  grep -q '^opened-read	-	in/big/large.bin$' "$JOB_TLOG" || job_fail "selfkill: large.bin was not read remotely"
  ! grep -q '^fetched	.*large.bin' "$JOB_TLOG" || job_fail "selfkill: large.bin was fetched past the cache limit"
  grep -q '^append-large rc=[1-9].*No space left on device' "$JOB_OUT" ||
    job_fail "selfkill: opening the too-big file for writing did not fail with ENOSPC: $(grep append-large "$JOB_OUT")"
  for f in out/large.sha out/partial.bin out/partial.txt; do
    [ ! -e "$JOB_EXPORT/$f" ] || job_fail "selfkill: $f reached the export from a killed job"
  done
  [ -z "$(ls -A "$JOB_EXPORT/out")" ] || job_fail "selfkill: out/ is not empty: $(ls -A "$JOB_EXPORT/out")"
  [ "$(cd "$JOB_EXPORT" && sha256sum in/big/large.bin)" = "$large_before" ] || job_fail "selfkill: large.bin changed"
  ! grep -q '^returned' "$JOB_TLOG" || job_fail "selfkill: outputs were returned for a killed job"
  job_no_upload_leftovers "$JOB_EXPORT"
  step "RESULT selfkill: status 137, nothing on the export, large.bin read remotely past the cache limit, ENOSPC for writing it ($JOB_SECONDS s)"
fi

# ---------------------------------------------------------------- 5. SIGTERM to run
if want_step 5; then
  step "5. lazy-file: SIGTERM to ringbox-host run while the job runs"
  job_run_start term lazy-file -- sh -c "$JOB_TERM"
  job_watch_domain
  n=600
  until grep -q '^jobpid' "$JOB_ERR" 2>/dev/null; do
    n=$((n - 1))
    if [ "$n" -le 0 ] || ! kill -0 "$JOB_PID" 2>/dev/null; then job_fail "term: the job never started"; fi
    sleep 0.1
  done
  kill -TERM "$JOB_PID"
  job_run_wait
  [ "$JOB_RC" -eq 143 ] || job_fail "term: ringbox-host run exited $JOB_RC on SIGTERM, expected 143"
  grep -q 'got-sigterm' "$JOB_ERR" || job_fail "term: the job was not asked to stop with SIGTERM"
  [ ! -e "$JOB_EXPORT/out/term.bin" ] || job_fail "term: the stopped job's output reached the export"
  job_no_upload_leftovers "$JOB_EXPORT"
  step "RESULT term: status 143, the job got SIGTERM, nothing on the export ($JOB_SECONDS s)"
fi

step "$ran_steps runs in NIC-less domains: outputs byte-identical, policy and traversal held, no partial output, no domain left"
