#!/bin/sh
# run-scenario: --overlay condor --mem 1536 --dom0-mem 896 --timeout 1170
# condor-pool: a real HTCondor 25.14 pool inside the harness's dom0 (../shared/htcondor's
# personal-condor, brought in by the HTCondor overlay, which only this scenario loads),
# USER_JOB_WRAPPER = ringbox-condor and ringbox's root service (`ringbox-host daemon`) on the
# xen transport: vanilla jobs run in NIC-less PV domains (docs/condor.md).
#
# 1. A vanilla job in lazy-file mode reads a 2 MiB input HTCondor transferred, writes a copy as
#    a new top-level file, records the network interfaces and uid it sees, writes stdout and
#    exits 3. While it runs, its domain has no device but "suspend" in xenstore and dom0 no
#    backend for it. Checked at the submitter: the copy byte-identical, ExitCode 3, stdout the
#    job's, the guest saw only "lo" and ran as uid 65534; afterwards `xl list` shows Domain-0
#    alone.
# 2. A job that sleeps: once its domain exists, condor_rm; the job leaves the queue, and within
#    30 s no domain is left and the service has no job child.
#
# Status (2026-12-01): NOT YET PASSING. Measured on a loaded 2-core host: dom0 reaches /init
# 44 s after QEMU starts (the overlay adds 22 MiB to the initramfs), personal-condor unpacks
# the release and has a slot 85 s after the scenario starts (pool-up at dom0 uptime 130 s),
# condor_submit returns 20 s later; but the negotiator then rejected job 1 for 8 minutes
# ("0 matched, 1 rejected"), so no domain was created. The same initramfs plus overlay in a
# chroot on the host (no network but lo) matches and runs the wrapper: the cause is specific
# to the nested dom0 and not yet known; the failure dump now includes condor_q
# -better-analyze and StarterLog.testing to find it.
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. /scenarios/lib/common.sh

HTC=/opt/htcondor
[ -x "$HTC/personal-condor" ] ||
  fail "no HTCondor in this dom0: run with --overlay condor (this scenario's run-scenario line)"
PATH=/opt/condor-tools/bin:$PATH
export PATH
PC="bash $HTC/personal-condor"

# The pool talks over loopback and looks up its host name.
ip link set lo up || fail "cannot bring up lo"
hostname dom0
printf '127.0.0.1 localhost dom0\n' >/etc/hosts
printf 'passwd: files\ngroup: files\nhosts: files\n' >/etc/nsswitch.conf

D=/var/tmp/pool
mkdir -p "$D/rb" "$D/rbtmp"
chmod 0755 /var/tmp "$D" "$D/rb" "$D/rbtmp"
SOCK=$D/rb/hostd.sock
cat >"$D/hostd.conf" <<POLICY
# ringbox service policy of the condor-pool scenario
transport = xen
allow_users = nobody
max_domains = 2
max_memory_mib = 512
max_vcpus = 1
image.default = $RINGBOX_GUEST_KERNEL $RINGBOX_GUEST_INITRD
POLICY
TMPDIR=$D/rbtmp ringbox-host daemon --socket "$SOCK" --policy "$D/hostd.conf" \
  >"$D/service.log" 2>&1 &
SERVICE_PID=$!
n=50
while [ ! -S "$SOCK" ]; do
  n=$((n - 1))
  [ "$n" -gt 0 ] || fail "the service did not create $SOCK: $(tail -n 3 "$D/service.log")"
  sleep 0.1
done

dump() {
  echo "---- service log"
  tail -n 30 "$D/service.log"
  echo "---- pool.log"
  tail -n 5 "$D/pool.log"
  echo "---- condor_q -better-analyze"
  $PC user "$D" condor_q -better-analyze 2>&1 | tail -n 25
  for l in MasterLog CollectorLog StartLog StarterLog StarterLog.testing SchedLog ShadowLog; do
    echo "---- $l"
    tail -n 15 "$D/log/$l" 2>/dev/null
  done
}
pool_fail() {
  dump
  fail "$@"
}

cat >"$D/extra.conf" <<CONF
USER_JOB_WRAPPER = /usr/bin/ringbox-condor
STARTER_JOB_ENVIRONMENT = "RINGBOX_SOCKET=$SOCK"
STARTD_ATTRS = \$(STARTD_ATTRS) HasRingbox
HasRingbox = True
# One probe less at start-up under TCG (the startd's starter -classad looks for Java).
JAVA =
CONF
mark pool-start
# personal-condor unpacks the release, starts condor_master and waits (90 s) for the slot;
# under TCG each step is slow, so say where it is every 20 s.
$PC start "$D" "$D/extra.conf" >"$D/pool.log" 2>&1 &
pc=$!
t=0
while kill -0 "$pc" 2>/dev/null; do
  sleep 5
  t=$((t + 5))
  if [ $((t % 20)) = 0 ]; then
    rel=unpacking
    [ -x "$D/release/sbin/condor_master" ] && rel=unpacked
    crng=no
    timeout 1 head -c 1 /dev/random >/dev/null 2>&1 && crng=yes
    step "pool start ${t}s: release $rel, crng $crng, load $(cut -d' ' -f1-3 /proc/loadavg), logs: $(ls "$D/log" 2>/dev/null | tr '\n' ' ')"
    step "  MasterLog: $(tail -n 1 "$D/log/MasterLog" 2>/dev/null | cut -c1-150)"
    step "  StartLog: $(tail -n 1 "$D/log/StartLog" 2>/dev/null | cut -c1-150)"
  fi
  if [ "$t" -ge 600 ]; then
    kill "$pc"
    pool_fail "no slot within 600 s: $(tail -n 2 "$D/pool.log")"
  fi
done
wait "$pc" || pool_fail "the pool did not start: $(tail -n 2 "$D/pool.log")"
mark pool-up
step "pool up in $D (slot: $($PC user "$D" condor_status -af Name Memory Cpus HasRingbox 2>/dev/null | head -n1))"

as_user() { $PC user "$D" "$@"; }
# submit DIR: submits DIR/job.sub from DIR; prints the cluster id
submit() {
  chown -R nobody "$D/jobs"
  as_user sh -c 'cd "$1" && condor_submit -terse job.sub' sh "$1" | cut -d. -f1 | head -n1
}
job_attr() {
  v=$(as_user condor_q "$1" -af "$2" 2>/dev/null | head -n1)
  [ -n "$v" ] || v=$(as_user condor_history "$1" -limit 1 -af "$2" 2>/dev/null | head -n1)
  echo "$v"
}
wait_gone() {  # timeout_s cluster
  t=$1
  while [ -n "$(as_user condor_q "$2" -af ClusterId 2>/dev/null)" ]; do
    t=$((t - 2))
    [ "$t" -gt 0 ] || pool_fail "job $2 still in the queue: $(as_user condor_q "$2" -af:j JobStatus HoldReason VacateReason)"
    sleep 2
  done
}
# domain_of N: the domid the service created for its Nth job (1-based), once it did.
domain_of() {
  grep "created domain [0-9]* (" "$D/service.log" | sed -n "${1}s/.*created domain \([0-9]*\) .*/\1/p"
}
# wait_domain N TIMEOUT_S: sets DOMID (not a $(...) subshell: pool_fail must end the scenario).
wait_domain() {
  t=$2
  DOMID=
  while [ -z "$DOMID" ]; do
    DOMID=$(domain_of "$1")
    [ -n "$DOMID" ] && break
    t=$((t - 2))
    [ "$t" -gt 0 ] || pool_fail "the service created no domain for job $1 within $2 s"
    sleep 2
  done
}
check_devices() {  # domid
  devs=$(xenstore-list "/local/domain/$1/device" 2>/dev/null | tr '\n' ' ')
  case " ${devs% } " in
    "  " | " suspend ") ;;
    *) pool_fail "domain $1 has devices in xenstore: $devs" ;;
  esac
  for kind in vif vif2 vbd vbd3 qdisk 9pfs vscsi; do
    ! xenstore-exists "/local/domain/0/backend/$kind/$1" ||
      pool_fail "dom0 has a $kind backend for domain $1"
  done
}
only_dom0() {
  xl list | awk 'NR > 1 && $1 != "Domain-0" { printf "%s(%s) ", $1, $2 }'
}

# ---------------------------------------------------------------- 1. a vanilla job
J=$D/jobs/modes
mkdir -p "$J"
cat >"$J/job.sh" <<'JOB'
#!/bin/sh
set -e
cat in.dat > out.dat
ls /sys/class/net | tr '\n' ' ' > nics.txt
id -u > uid.txt
echo "stdout of the job"
exit 3
JOB
chmod 755 "$J/job.sh"
head -c 2097152 /dev/urandom >"$J/in.dat"
cat >"$J/job.sub" <<SUB
universe = vanilla
executable = job.sh
transfer_input_files = in.dat
should_transfer_files = YES
when_to_transfer_output = ON_EXIT
output = job.out
error = job.err
log = job.log
request_memory = 160
request_cpus = 1
requirements = HasRingbox =?= True
+RingboxMode = "lazy-file"
queue
SUB
mark job1-submit
c1=$(submit "$J")
[ -n "$c1" ] || pool_fail "condor_submit failed"
step "submitted job $c1"
wait_domain 1 300
dom=$DOMID
check_devices "$dom"
step "job $c1 runs in domain $dom, which has no device"
wait_gone 400 "$c1"
mark job1-done
status=$(job_attr "$c1" JobStatus)
code=$(job_attr "$c1" ExitCode)
step "job $c1: JobStatus $status ExitCode $code"
[ "$status" = 4 ] || pool_fail "job $c1 did not complete (JobStatus $status)"
[ "$code" = 3 ] || pool_fail "ExitCode is '$code', the job exits 3"
cmp "$J/in.dat" "$J/out.dat" || pool_fail "out.dat differs from in.dat"
[ "$(cat "$J/nics.txt")" = "lo " ] || pool_fail "the job saw network interfaces: $(cat "$J/nics.txt")"
[ "$(cat "$J/uid.txt")" = 65534 ] || pool_fail "the job ran as uid $(cat "$J/uid.txt")"
[ "$(cat "$J/job.out")" = "stdout of the job" ] || pool_fail "stdout is '$(cat "$J/job.out")'"
n=30
while [ -n "$(only_dom0)" ]; do
  n=$((n - 1))
  [ "$n" -gt 0 ] || pool_fail "after job $c1, xl list still shows: $(only_dom0)"
  sleep 1
done

# ---------------------------------------------------------------- 2. condor_rm
R=$D/jobs/remove
mkdir -p "$R"
printf '#!/bin/sh\necho started\nsleep 600\n' >"$R/job.sh"
chmod 755 "$R/job.sh"
cat >"$R/job.sub" <<SUB
executable = job.sh
should_transfer_files = YES
output = job.out
error = job.err
log = job.log
request_memory = 160
+RingboxMode = "remote-io"
queue
SUB
c2=$(submit "$R")
step "submitted job $c2 (to be removed)"
wait_domain 2 300
dom=$DOMID
n=120
while ! grep -rqsx "started" "$D/execute"; do
  n=$((n - 1))
  [ "$n" -gt 0 ] || pool_fail "job $c2 did not start in domain $dom within 120 s"
  sleep 1
done
mark job2-rm
as_user condor_rm "$c2" >/dev/null || pool_fail "condor_rm $c2 failed"
wait_gone 120 "$c2"
n=30
while [ -n "$(only_dom0)" ] || pgrep -P "$SERVICE_PID" >/dev/null; do
  n=$((n - 1))
  [ "$n" -gt 0 ] || pool_fail "after condor_rm, left: domains $(only_dom0) service children $(pgrep -P "$SERVICE_PID" | tr '\n' ' ')"
  sleep 1
done
mark job2-gone
[ "$(job_attr "$c2" JobStatus)" = 3 ] || pool_fail "job $c2 is not Removed"

$PC stop "$D" >/dev/null 2>&1
kill -TERM "$SERVICE_PID"
wait "$SERVICE_PID"
step "two vanilla jobs through the real pool in NIC-less domains; condor_rm left no domain"
exit 0
