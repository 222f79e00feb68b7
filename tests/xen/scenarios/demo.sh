#!/bin/sh
# demo: the main job for a person, as a test. One real job in a NIC-less Xen domain in
# lazy-file mode (`ringbox-host run --transport xen`), told in plain words.
#
# The export holds a small library (lib/job-demo.sh): 8 generated books, a catalog naming 3 of
# them, and 24 MiB of "scans" nobody needs. The job reads the catalog, checksums and counts the
# words of the 3 books, finds their most frequent words and writes results/report.txt.
#
# Checks (each one is also a line of the story, RINGBOX-DEMO: ...): while the job runs the
# domain has nothing but "suspend" under device/ in xenstore and dom0 no backend for it; the
# guest kernel and the job saw only "lo"; the job exits 0; the transfer log shows that exactly
# the catalog and its 3 books were fetched (no other book, nothing of the archive); the report
# on the export is byte-identical to the same report computed by dom0 directly on the export;
# afterwards the domain is gone. The report, the transfer log and the job's stdout are printed
# base64-encoded between RINGBOX-DEMO-FILE lines, for scripts/demo to copy out of the nested
# machine (or written to $RINGBOX_DEMO_OUT when that is set: scripts/demo on a real dom0).
#
# RINGBOX_SCENARIO_LIB (default /scenarios/lib) lets scripts/demo run this on a real dom0.
lib=${RINGBOX_SCENARIO_LIB:-/scenarios/lib}
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/job-run.sh
. "$lib/job-run.sh"
# shellcheck source-path=SCRIPTDIR source=lib/job-demo.sh
. "$lib/job-demo.sh"

say() {
  echo "RINGBOX-DEMO: $*"
}

# verdict_fail REASON: the story's last line, then FAIL.
verdict_fail() {
  say ""
  say "Verdict: FAIL: $*"
  job_fail "$*"
}

# emit_file NAME FILE: FILE for scripts/demo, as RINGBOX-DEMO-FILE lines (base64, 76 columns)
# between a BEGIN line with its size and sha256 and an END line; or a copy in
# $RINGBOX_DEMO_OUT.
emit_file() {
  [ -f "$2" ] || return 0
  if [ -n "${RINGBOX_DEMO_OUT:-}" ]; then
    cp "$2" "$RINGBOX_DEMO_OUT/$1"
    return
  fi
  echo "RINGBOX-DEMO-FILE-BEGIN $1 $(wc -c <"$2" | tr -d ' ') $(sha256sum <"$2" | cut -c1-64)"
  base64 -w 76 "$2" | sed "s/^/RINGBOX-DEMO-FILE $1 /"
  echo "RINGBOX-DEMO-FILE-END $1"
}

# human BYTES: "658 B", "108.3 KiB", "24.0 MiB".
human() {
  awk -v n="$1" 'BEGIN {
    if (n < 1024) printf "%d B", n
    else if (n < 1048576) printf "%.1f KiB", n / 1024
    else printf "%.1f MiB", n / 1048576 }'
}

work=$RINGBOX_WORK/demo
JOB_EXPORT=$work/export
mkdir -p "$work"

step "making the library: 8 books, a catalog naming 3, $((3 * DEMO_ARCHIVE_MIB)) MiB of archive"
demo_make_library "$JOB_EXPORT" || fail "cannot make the demo's data set in $JOB_EXPORT"
(cd "$JOB_EXPORT" && sh -c "$DEMO_REPORT") >"$work/expected-report.txt" ||
  fail "dom0 could not compute the expected report"
export_files=$(find "$JOB_EXPORT" -type f | wc -l | tr -d ' ')
export_bytes=$(find "$JOB_EXPORT" -type f -exec stat -c %s {} + | awk '{ n += $1 } END { print n + 0 }')
mark library-made

step "running the job: ringbox-host run --transport xen --mode lazy-file"
job_run_start demo lazy-file --readable library --writable results -- sh -c "$DEMO_JOB"
job_watch_domain
step "domain $JOB_DOMID ($JOB_NAME) is running the job; xenstore device/: ${JOB_DEVICES:-nothing}"
job_run_wait
mark job-done
step "ringbox-host run exited $JOB_RC after $JOB_SECONDS s"

report=$JOB_EXPORT/results/report.txt
emit_file report.txt "$report"
emit_file transfers.txt "$JOB_TLOG"
emit_file job-stdout.txt "$JOB_OUT"
emit_file job-stderr.txt "$JOB_ERR"
emit_file ringbox-host.log "$JOB_LOG"

# ---------------------------------------------------------------- the story
say "What ran"
say "  A job that reads library/catalog.txt, then checksums and word-counts the books it names"
say "  and lists their most frequent words, writing results/report.txt. Started by:"
say "    ringbox-host run --transport xen --mode lazy-file --readable library --writable results \\"
say "        --export $JOB_EXPORT -- sh -c <the job>"
say "  The export (the submit side) holds $export_files files, $(human "$export_bytes"): 8 books,"
say "  the catalog, and library/archive/ with $((3 * DEMO_ARCHIVE_MIB)) MiB of scans the job does not need."
say ""
created=$(grep -m 1 "created domain $JOB_DOMID (" "$JOB_LOG" | sed 's/.*): //')
say "1. The sandbox: Xen domain $JOB_DOMID ($JOB_NAME), created by ringbox-host through libxl:"
say "     ${created:-?}"
case " $JOB_DEVICES " in
  "  ") say "   xenstore /local/domain/$JOB_DOMID/device/ was empty: no network card (vif), no disk (vbd)" ;;
  *) say "   xenstore /local/domain/$JOB_DOMID/device/ held only: $JOB_DEVICES (the save/restore channel);" \
    "no vif (network card), no vbd (disk)" ;;
esac
if ifaces=$(job_console_line '^RINGBOX-GUEST: net-ifaces:'); then
  ifaces=${ifaces#RINGBOX-GUEST: net-ifaces: }
  [ "$ifaces" = lo ] || verdict_fail "the guest kernel had network interfaces besides lo: $ifaces"
  say "   The guest kernel's network interfaces (/sys/class/net at boot): $ifaces"
fi
job_ifaces=$(sed -n 's/^job: .*network interfaces: //p' "$JOB_OUT")
[ "$job_ifaces" = "lo " ] || verdict_fail "the job saw network interfaces besides lo: '$job_ifaces'"
say "   The job's own view of /sys/class/net: $job_ifaces (loopback only: nowhere to send a packet)"
say ""
say "2. The job's output (its stdout, streamed back over the ring while it ran):"
sed 's/^/RINGBOX-DEMO:    | /' "$JOB_OUT"
say ""
case $JOB_RC in
  0) say "3. Exit status: 0, the job's own (ringbox-host run exits with it); $JOB_SECONDS s in all, domain boot included" ;;
  *) verdict_fail "ringbox-host run exited $JOB_RC; the job's stderr: $(tail -n 3 "$JOB_ERR" | tr '\n' ' ')" ;;
esac
say ""
say "4. Fetched into the guest, lazily: a file is copied in whole the first time the job opens it."
awk -F '\t' '$1 == "fetched" { printf "RINGBOX-DEMO:      %10d bytes  %s\n", $2, $3 }' "$JOB_TLOG"
fetched_n=$(grep -c '^fetched	' "$JOB_TLOG")
fetched_bytes=$(awk -F '\t' '$1 == "fetched" { n += $2 } END { print n + 0 }' "$JOB_TLOG")
say "   $fetched_n of $export_files files, $(human "$fetched_bytes") of $(human "$export_bytes"). Never fetched: the other 5 books"
say "   and library/archive/: the job never opened them, so they never left the submit side."
grep '^fetched	' "$JOB_TLOG" | cut -f3 | sort >"$work/fetched.txt"
{
  echo library/catalog.txt
  for b in $DEMO_CATALOG; do echo "library/books/$b.txt"; done
} | sort >"$work/should-fetch.txt"
cmp -s "$work/fetched.txt" "$work/should-fetch.txt" ||
  verdict_fail "fetched $(tr '\n' ' ' <"$work/fetched.txt"), expected exactly the catalog and its books"
say ""
[ -f "$report" ] || verdict_fail "results/report.txt did not reach the export"
say "5. Output: results/report.txt ($(human "$(wc -c <"$report" | tr -d ' ')")) reached the export when the job ended"
say "   (written back atomically: a job that is killed leaves nothing half-written)."
cmp -s "$work/expected-report.txt" "$report" ||
  verdict_fail "results/report.txt differs from the report dom0 computed directly on the export"
say "   It is byte-identical to the same report computed directly on the export by dom0."
say ""
if [ "${JOB_ONLY_DOM0:-1}" = 1 ]; then
  say "6. Afterwards: ringbox-host destroyed domain $JOB_DOMID when the job ended; xl list shows only Domain-0."
else
  say "6. Afterwards: ringbox-host destroyed domain $JOB_DOMID when the job ended; xl list no longer shows it."
fi
say ""
say "Verdict: PASS"
