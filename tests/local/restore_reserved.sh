#!/usr/bin/env bash
# The restore file is not the job's (docs/vacate.md): when `--restore-file` lies in the export
# (the default, ringbox.restore in the current directory, run from the export), the job can
# neither plant one for the next run to hand to libxl's restore, nor its .part or .rejected,
# nor read, list or even see one (a lookup says ENOENT), while every other name in that
# directory is the job's as before (state/r.bin, ringbox.restore2). A xen run refuses a
# --restore-file deeper in the export.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
MODE=${1:?usage: restore_reserved.sh remote-io|lazy-file}
mkdir -p "$EXPORT/state"
# shellcheck disable=SC2016 # expanded by the job's shell
JOB='for f in ringbox.restore ringbox.restore.part ringbox.restore.rejected state/r.bin; do
  if (echo planted > "$f") 2>/dev/null; then echo "wrote $f"; else echo "refused $f"; fi
done
echo mine > ringbox.restore2; echo mine > state/other
ls -A . state | tr "\n" " "; echo'

# From the export: the default --restore-file is reserved, state/r.bin is not.
cd "$EXPORT"
run_job "$MODE" -- sh -c "$JOB"
cd "$T"
cat "$OUT"
if [ "$MODE" = remote-io ]; then
  expect_rc 0 "$MODE: the job"
  for f in ringbox.restore ringbox.restore.part ringbox.restore.rejected; do
    expect_grep "^refused $f\$" "$OUT" "$MODE: the job planted $f"
    expect_absent "$EXPORT/$f" "$MODE: the planted $f"
  done
  expect_grep '^wrote state/r.bin$' "$OUT" "$MODE: state/r.bin is the job's (not the restore file)"
else
  # lazy-file writes into its cache; the host refuses the write-back: the run says so.
  expect_rc 125 "$MODE: a refused output"
  expect_grep "output not returned: ringbox.restore" "$ERR" "$MODE: the refused output is not named"
  for f in ringbox.restore ringbox.restore.part ringbox.restore.rejected; do
    expect_absent "$EXPORT/$f" "$MODE: the planted $f"
  done
fi
expect_same <(echo mine) "$EXPORT/ringbox.restore2" "$MODE: an ordinary name beside it"

# A restore file a vacate left (as a xen run would) is not the job's to read, nor listed.
echo "saved domain" >"$EXPORT/ringbox.restore"
cd "$EXPORT"
run_job "$MODE" -- sh -c 'cat ringbox.restore 2>/dev/null || echo "cannot read"
stat ringbox.restore 2>&1 | sed -n "s/.*ringbox.restore.: //p"; ls'
cd "$T"
cat "$OUT"
expect_rc 0 "$MODE: the second job"
expect_grep '^cannot read$' "$OUT" "$MODE: the job read the restore file"
# Hidden as it is unlisted: to the job's lookup the name is not there (ENOENT, not EACCES).
expect_grep '^No such file or directory$' "$OUT" "$MODE: stat of the restore file does not say ENOENT"
expect_no_grep '^ringbox.restore$' "$OUT" "$MODE: the job listed the restore file"
expect_grep '^ringbox.restore2$' "$OUT" "$MODE: the other file beside it"
expect_same <(echo "saved domain") "$EXPORT/ringbox.restore" "$MODE: the restore file"
# xen: a --restore-file deeper in the export is refused before anything starts (the job could
# put a directory of its own on its path); the policy check comes before any Xen call, so this
# runs on any machine.
if [ "$MODE" = remote-io ]; then
  mkdir -p "$EXPORT/sub"
  set +e
  "$HOST" run --transport xen --mode remote-io --kernel /etc/hostname --ramdisk /etc/hostname \
    --export "$EXPORT" --restore-file "$EXPORT/sub/r.bin" -- true 2>"$T/nested.err"
  rc=$?
  set -e
  [ "$rc" = 2 ] || fail "a --restore-file in a subdirectory of the export: exit $rc, not 2"
  grep -q "lies in sub inside the export" "$T/nested.err" ||
    fail "a --restore-file in a subdirectory: no clear refusal: $(cat "$T/nested.err")"
fi
echo "PASS: $MODE: the restore file's names are not the job's"
