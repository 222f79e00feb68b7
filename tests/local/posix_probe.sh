#!/usr/bin/env bash
# The job's view against a local directory, one POSIX behaviour per line (issue "The job's view
# behaves like a local file system"): ringbox-posix-probe (tests/conformance/posix_probe.cc)
# runs as the job in MODE, from the export, and again in a local directory on the same file
# system as uid 65534, as the job runs. Its printed results must be the same, and so must the
# tree it leaves: on the export after the run (so after lazy-file's and eager's write-back:
# modes, set times, symlinks, empty directories, hard links) and in the local directory.
#
# The only differences allowed, each for a reason given in docs/modes.md:
#  - deep.17x250: a path deeper than 4,096 bytes below the export may be refused when it is
#    created (ENAMETOOLONG), never accepted and lost;
#  - FIFOs and sockets are local IPC objects: they live in the guest and never reach the export.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
MODE=${1:?usage: posix_probe.sh auto|remote-io|lazy-file|eager}
PROBE="$RINGBOX_BIN/ringbox-posix-probe"
[ -x "$PROBE" ] || fail "no ringbox-posix-probe in $RINGBOX_BIN"

install -m 0755 "$PROBE" "$EXPORT/probe"
INPUTS=()
[ "$MODE" = eager ] && INPUTS=(--input probe)
run_job "$MODE" "${INPUTS[@]}" -- ./probe p
expect_rc 0 "$MODE: the probe"
expect_grep '^probe: done$' "$OUT" "$MODE: the probe did not finish"

REF="$T/ref"
mkdir "$REF"
chmod 0777 "$REF"
"$PROBE" --as 65534:65534 "$REF/p" >"$T/ref.out" || fail "the probe failed in a local directory"

normalise() {  # results: a refusal at creation of the deep tree counts as "ok"
  sed -E 's/^deep\.17x250: refused-at-create ENAMETOOLONG$/deep.17x250: ok/' "$1"
}
if ! diff -u <(normalise "$T/ref.out") <(normalise "$OUT") >"$T/results.diff"; then
  cat "$T/results.diff" >&2
  dump
  fail "$MODE: the view's results differ from the local directory's (- local, + view)"
fi

manifest() { "$PROBE" --manifest "$1" | grep -v '^o '; }
if ! diff -u <(manifest "$REF/p") <(manifest "$EXPORT/p") >"$T/tree.diff"; then
  cat "$T/tree.diff" >&2
  dump
  fail "$MODE: the tree on the export differs from the local directory's (- local, + export)"
fi
expect_clean "$MODE posix probe"
echo "PASS: $MODE view behaves as the local directory ($(grep -c . "$OUT") results, $(manifest "$REF/p" | wc -l) tree entries)"
