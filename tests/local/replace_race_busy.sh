#!/usr/bin/env bash
# Readers racing an atomic replace on a busy machine (issue "The job's view behaves like a
# local file system"): `ringbox-posix-probe --replace-race` has six readers, at nice 19 next to
# a spinning thread per CPU, open and read a name that another thread replaces 1,000 times with
# rename(2). A local file system never fails those opens. remote-io answered ESTALE when a
# reader had resolved the name to the file just replaced and lost the kernel's one retry too
# (CI saw 8 such errors in posix_probe.remote-io; this test failed 3 of 3 runs with 3 or 4);
# now such an open shares the host handle of the old file or opens what the name holds
# (guest/fs/view_io.cc, View::open). The job's results must be the local directory's.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
MODE=${1:?usage: replace_race_busy.sh auto|remote-io|lazy-file|eager}
PROBE="$RINGBOX_BIN/ringbox-posix-probe"
[ -x "$PROBE" ] || fail "no ringbox-posix-probe in $RINGBOX_BIN"

install -m 0755 "$PROBE" "$EXPORT/probe"
INPUTS=()
[ "$MODE" = eager ] && INPUTS=(--input probe)
run_job "$MODE" "${INPUTS[@]}" -- ./probe --replace-race p
expect_rc 0 "$MODE: the probe"
expect_grep '^probe: done$' "$OUT" "$MODE: the probe did not finish"

REF="$T/ref"
mkdir "$REF"
chmod 0777 "$REF"
"$PROBE" --replace-race --as 65534:65534 "$REF/p" >"$T/ref.out" ||
  fail "the probe failed in a local directory"
if ! diff -u "$T/ref.out" "$OUT" >"$T/results.diff"; then
  cat "$T/results.diff" >&2
  sort "$ERR" | uniq -c | sort -rn | head -n 5 >&2
  fail "$MODE: readers racing an atomic replace fail in the view, never in a local directory (- local, + view)"
fi
expect_clean "$MODE replace race"
echo "PASS: $MODE: readers racing 1,000 atomic replaces: $(grep '^replace' "$OUT" | tr '\n' ' ')"
