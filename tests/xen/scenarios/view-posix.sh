#!/bin/sh
# view-posix: the job's view against a local directory in real NIC-less Xen domains (issue "The
# job's view behaves like a local file system"). ringbox-posix-probe
# (tests/conformance/posix_probe.cc, static) runs as the job from the export in each mode
# (auto, remote-io, lazy-file, eager), and again in dom0 in a local directory on the same file system
# as uid 65534, as the job runs. The printed results and the tree left behind (on the export
# after the write-back) must be the same; tests/local/posix_probe.sh runs the same comparison on
# the local transport and names the two differences allowed (docs/modes.md).
#
# Time: about 80-150 s (four job domains, one boot).
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. /scenarios/lib/common.sh
# shellcheck source-path=SCRIPTDIR source=lib/job-run.sh
. /scenarios/lib/job-run.sh

PROBE=/usr/bin/ringbox-posix-probe
[ -x "$PROBE" ] || fail "no $PROBE in the dom0 image (kernel-image/build-dom0-image installs it)"
JOB_MEMORY_MIB=${RINGBOX_JOB_MEMORY_MIB:-256}
base=$RINGBOX_WORK/posix
mkdir -p "$base/ref"
chmod 0777 "$base/ref"
"$PROBE" --as 65534:65534 "$base/ref/p" >"$base/ref.out" || fail "the probe failed in dom0's local directory"

normalise() { sed 's/^deep\.17x250: refused-at-create ENAMETOOLONG$/deep.17x250: ok/' "$1"; }
manifest() { "$PROBE" --manifest "$1" | grep -v '^o '; }
normalise "$base/ref.out" >"$base/ref.norm"
manifest "$base/ref/p" >"$base/ref.tree"

for mode in auto remote-io lazy-file eager; do
  step "$mode: the probe as the job, from the export"
  JOB_EXPORT=$base/export-$mode
  mkdir -p "$JOB_EXPORT"
  cp "$PROBE" "$JOB_EXPORT/probe"
  chmod 0755 "$JOB_EXPORT/probe"
  inputs=
  [ "$mode" = eager ] && inputs="--input probe"
  # shellcheck disable=SC2086 # $inputs is two words or none
  job_run_start "posix-$mode" "$mode" $inputs -- ./probe p
  job_watch_domain
  job_run_wait
  [ "$JOB_RC" -eq 0 ] || job_fail "$mode: ringbox-host run exited $JOB_RC"
  grep -q '^probe: done$' "$JOB_OUT" || job_fail "$mode: the probe did not finish"
  normalise "$JOB_OUT" >"$base/$mode.norm"
  if ! diff -u "$base/ref.norm" "$base/$mode.norm" >"$base/$mode.diff"; then
    sed "s/^/[$mode results] /" "$base/$mode.diff"
    job_fail "$mode: results differ from dom0's local directory (- local, + view): $(grep -c '^[-+][^-+]' "$base/$mode.diff") lines"
  fi
  manifest "$JOB_EXPORT/p" >"$base/$mode.tree"
  if ! diff -u "$base/ref.tree" "$base/$mode.tree" >"$base/$mode.tdiff"; then
    sed "s/^/[$mode tree] /" "$base/$mode.tdiff"
    job_fail "$mode: the tree on the export differs from dom0's local directory (- local, + export)"
  fi
  job_no_upload_leftovers "$JOB_EXPORT"
  step "RESULT $mode: $(grep -c . "$JOB_OUT") results and $(grep -c . "$base/$mode.tree") tree entries as in a local directory ($JOB_SECONDS s)"
done
step "the view behaved as a local directory in auto, remote-io, lazy-file and eager, in NIC-less domains"
