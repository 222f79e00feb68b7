# Shared by fio.sh and stress_ng.sh: runs $JOB in a local directory as the job's uid (the
# reference) and as a job in MODE, and compares exit status and printed results; reports each
# differing line as a failed check. Sourced after ../lib.sh; MODE and JOB set.
run_both_and_compare() {
  local what=$1 ref="$T/ref" ref_rc
  mkdir "$ref"
  chown 65534:65534 "$ref"
  set +e
  (cd "$ref" && timeout "${JOB_TIMEOUT:-180}" setpriv --reuid=65534 --regid=65534 --clear-groups \
    env -i PATH=/usr/local/bin:/usr/bin:/bin sh -c "$JOB" >"$T/ref.stdout" 2>"$T/ref.stderr")
  ref_rc=$?
  set -e
  run_job "$MODE" -- sh -c "$JOB"
  local bad=0
  if [ "$ref_rc" != "$RC" ]; then
    echo "CHECK $what exit status ($MODE): local=$ref_rc view=$RC" >&2
    bad=1
  fi
  if ! cmp -s "$T/ref.stdout" "$OUT"; then
    echo "CHECK $what results ($MODE): local and view differ (- local, + view)" >&2
    diff -u "$T/ref.stdout" "$OUT" | tail -n +3 >&2 || true
    bad=1
  fi
  if [ "$bad" = 1 ]; then
    dump
    fail "$what in $MODE differs from the local file system"
  fi
  cat "$OUT"
  echo "same results as the local file system: $what $MODE"
}
