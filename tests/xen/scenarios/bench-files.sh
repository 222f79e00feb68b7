#!/bin/sh
# bench-files: the paper's experiment 1 on real Xen (indicative: QEMU TCG). For each of
# remote-io, lazy-file and auto and each file size, one `ringbox-host run --transport xen` whose job
# does BENCH_READS random 4 KiB preads of one file through its view (`ringbox-bench randread`,
# copied into the guest's /tmp first so that only the data file's reads are timed) and prints
# one JSON line. PASS when every job ran and read every byte it asked for; the figures are
# printed as RESULT lines (and the JSON as RINGBOX-BENCH-FILES lines) for docs/benchmarks.md.
# Every run is an ordinary NIC-less job domain (lib/job-run.sh checks its devices).
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. /scenarios/lib/common.sh
# shellcheck source-path=SCRIPTDIR source=lib/job-run.sh
. /scenarios/lib/job-run.sh

BENCH_READS=${BENCH_READS:-2000}
BENCH_SIZES=${BENCH_SIZES:-4K 1M 16M}
bench=/usr/bin/ringbox-bench
[ -x "$bench" ] || fail "no $bench in this dom0 image (build ringbox-bench, then rerun)"

work=$RINGBOX_WORK/bench-files
JOB_EXPORT=$work/export
mkdir -p "$JOB_EXPORT"
chmod 755 "$work" "$JOB_EXPORT"
cp "$bench" "$JOB_EXPORT/ringbox-bench"
chmod 755 "$JOB_EXPORT/ringbox-bench"
for s in $BENCH_SIZES; do
  case $s in
    *K) bytes=$((${s%K} * 1024)) ;;
    *M) bytes=$((${s%M} * 1048576)) ;;
    *) fail "size $s is not NK or NM" ;;
  esac
  head -c "$bytes" /dev/urandom >"$JOB_EXPORT/data-$s" || fail "cannot write data-$s"
done
mark data-made

for mode in remote-io lazy-file auto; do
  for s in $BENCH_SIZES; do
    tag=bench-$mode-$s
    direct=
    [ "$mode" = remote-io ] && direct=direct  # one ring call per read (bench/randread.h)
    job_run_start "$tag" "$mode" --readable . -- sh -c \
      "cp ./ringbox-bench /tmp/rb && /tmp/rb randread data-$s $BENCH_READS 4096 $direct"
    job_watch_domain
    job_run_wait
    [ "$JOB_RC" -eq 0 ] || job_fail "$mode $s: the job ended with status $JOB_RC"
    line=$(tail -n 1 "$JOB_OUT")
    case $line in
      "{\"file\": \"data-$s\""*) ;;
      *) job_fail "$mode $s: the job printed no result line" ;;
    esac
    want=$((BENCH_READS * 4096))
    case $line in
      *"\"bytes_read\": $want"[,}]*) ;;
      *) job_fail "$mode $s: the job did not read all $want bytes: $line" ;;
    esac
    echo "RINGBOX-BENCH-FILES {\"mode\": \"$mode\", \"size\": \"$s\", \"result\": $line}"
    figures=$(echo "$line" | sed 's/.*"open_ms": \([0-9.]*\), "p50_us": \([0-9.]*\), "p99_us": \([0-9.]*\), "mean_us": \([0-9.]*\).*/open \1 ms, p50 \2 us, p99 \3 us, mean \4 us/')
    step "RESULT $mode $s: $figures ($JOB_SECONDS s for the whole run)"
  done
done
step "experiment 1 ran in NIC-less job domains: $BENCH_READS random 4 KiB reads per file, sizes $BENCH_SIZES"
