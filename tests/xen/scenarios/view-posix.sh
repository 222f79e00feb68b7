#!/bin/sh
# view-posix: the job's view against a local directory in real NIC-less Xen domains (issue "The
# job's view behaves like a local file system"). ringbox-posix-probe
# (tests/conformance/posix_probe.cc, static) runs as the job from the export in each mode
# (auto, remote-io, lazy-file, eager), and again in dom0 in a local directory on the same file system
# as uid 65534, as the job runs. The printed results and the tree left behind (on the export
# after the write-back) must be the same; tests/local/posix_probe.sh runs the same comparison on
# the local transport and names the two differences allowed (docs/modes.md).
#
# Then the same in auto with the export served by the confined file service (--confine-user),
# and the confined service's probe holding Xen's devices.
#
# Time: about 100-190 s (five job domains, one boot).
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

# Confined (`run --confine-user`, host/confine): the same probe in auto, the export served by a
# process that attached to the domain itself and then confined itself (its own namespaces with
# only the export, uid 65534, no capabilities, a seccomp filter, no xenstore connection). Same
# results and tree as the local directory, the transfer log is the service's, no process left.
step "confined: auto with --confine-user 65534:65534"
JOB_EXPORT=$base/export-confined
mkdir -p "$JOB_EXPORT"
cp "$PROBE" "$JOB_EXPORT/probe"
chmod 0755 "$JOB_EXPORT/probe"
chown -R 65534:65534 "$JOB_EXPORT"
job_run_start posix-confined auto --confine-user 65534:65534 -- ./probe p
job_watch_domain
job_run_wait
[ "$JOB_RC" -eq 0 ] || job_fail "confined: ringbox-host run exited $JOB_RC"
grep -q "from a confined process as uid 65534" "$JOB_LOG" || job_fail "confined: the run did not confine its file service"
grep -q "ringbox-host file-service: info: xen: attached to domain" "$JOB_LOG" ||
  job_fail "confined: the confined service did not attach to the domain itself"
grep -q "^# ringbox-host run --transport xen --mode auto" "$JOB_TLOG" &&
  grep -q "	probe$" "$JOB_TLOG" ||
  job_fail "confined: the transfer log is not the confined service's record of the run"
normalise "$JOB_OUT" >"$base/confined.norm"
if ! diff -u "$base/ref.norm" "$base/confined.norm" >"$base/confined.diff"; then
  sed "s/^/[confined results] /" "$base/confined.diff"
  job_fail "confined: results differ from dom0's local directory (- local, + view)"
fi
manifest "$JOB_EXPORT/p" >"$base/confined.tree"
if ! diff -u "$base/ref.tree" "$base/confined.tree" >"$base/confined.tdiff"; then
  sed "s/^/[confined tree] /" "$base/confined.tdiff"
  job_fail "confined: the tree on the export differs from dom0's local directory"
fi
pgrep -f confined-file-service >/dev/null && fail "confined: a confined-file-service process was left behind"
step "RESULT confined: the view behaved as the local directory ($JOB_SECONDS s)"

# What a compromised confined service can do while it holds what a xen service holds (the
# event-channel and grant devices): the probe confines itself the same way and must be refused
# any bind or grant mapping of another domain, the network, and every file outside the export.
step "confined: the probe, holding /dev/xen/evtchn and /dev/xen/gntdev"
ringbox-host confined-file-service --export "$JOB_EXPORT" --uid 65534 --gid 65534 --read . \
  --probe --probe-xen --probe-path "$base/ref.out" --probe-control /export/probe >"$base/probe.out" 2>&1
prc=$?
sed "s/^/[probe] /" "$base/probe.out"
[ "$prc" -eq 0 ] || fail "confined: the probe exited $prc: something a confined service must not do was allowed"
# Refused by the filter (EPERM), not by Xen: the kernel would take a grant map request as is.
for what in "BIND_INTERDOMAIN, domain 1): refused (Operation not permitted)" \
  "BIND_UNBOUND_PORT, domain 1): refused (Operation not permitted)" \
  "MAP_GRANT_REF, domain 1): refused (Operation not permitted)" \
  "socket(AF_INET): refused (Operation not permitted)" "open /dev/xen/privcmd: refused" \
  "every attempt was refused"; do
  grep -qF "$what" "$base/probe.out" || fail "confined: the probe did not report '$what'"
done
step "RESULT confined probe: $(grep -c ': refused' "$base/probe.out") attempts refused, the export readable"
