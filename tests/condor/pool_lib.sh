# Helpers for the real-pool tests: a one-machine HTCondor pool (../shared/htcondor's
# personal-condor, HTCondor 25.14) whose USER_JOB_WRAPPER is ringbox's wrapper, and ringbox's
# root service (`ringbox-host daemon`) on the local transport, which runs each job as an
# ordinary process on this machine and ISOLATES NOTHING: these tests check the HTCondor
# plumbing (ads, descriptors, outputs, exit status, signals, removal, setup failures), not the
# sandbox. Sourced by the scenario scripts; RINGBOX_BIN names the build's bin directory
# (or, for the package test, the installed binaries).
#
# Everything lives under $D (in /var/tmp: the pool's daemons run as nobody, which must reach
# it); the pool and the service are stopped and $D removed on exit, whatever happened.
set -euo pipefail

: "${RINGBOX_BIN:?set RINGBOX_BIN to the bin directory of the build}"
HOST_BIN=${RINGBOX_HOST:-$RINGBOX_BIN/ringbox-host}
AGENT_BIN=${RINGBOX_AGENT:-$RINGBOX_BIN/ringbox-agent}
WRAPPER_BIN=${RINGBOX_WRAPPER:-$RINGBOX_BIN/ringbox-condor}
TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_ROOT=$(cd "$TESTS_DIR/../.." && pwd)

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
say() { echo "== $*"; }

# ../shared/htcondor beside the checkout (a git worktree sits one level deeper), or
# $RINGBOX_HTCONDOR.
find_personal_condor() {
  local d
  for d in "${RINGBOX_HTCONDOR:-}" "$SRC_ROOT/../shared/htcondor" "$SRC_ROOT/../../shared/htcondor"; do
    [ -n "$d" ] && [ -x "$d/personal-condor" ] && { echo "$d/personal-condor"; return 0; }
  done
  return 1
}

[ "$(id -u)" = 0 ] || skip "needs root (the pool's master and ringbox's service run as root)"
if ! PC=$(find_personal_condor); then
  if command -v condor_master >/dev/null; then
    fail "an installed HTCondor was found but no ../shared/htcondor/personal-condor; these " \
         "tests start their pool with that script (set RINGBOX_HTCONDOR to its folder)"
  fi
  skip "no HTCondor: neither ../shared/htcondor beside the checkout nor an installed HTCondor"
fi
[ -c /dev/fuse ] || skip "no /dev/fuse (the local transport's agent mounts the job's view)"
for b in "$HOST_BIN" "$AGENT_BIN" "$WRAPPER_BIN"; do [ -x "$b" ] || fail "missing $b"; done

D=$(mktemp -d /var/tmp/ringbox-condor.XXXXXX)
chmod 0755 "$D"
mkdir -p "$D/rb" "$D/rbtmp"
chmod 0755 "$D/rb" "$D/rbtmp"
SOCK=$D/rb/hostd.sock
SERVICE_PID=
export CONDOR_CONFIG=$D/condor_config

cleanup() {
  local rc=$?
  set +e
  "$PC" stop "$D" >/dev/null 2>&1
  stop_service
  # A mount left under the agent's directories would make rm cross into the job's view.
  awk -v d="$D/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m"; done
  if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
    echo "---- service log"; tail -n 40 "$D/service.log" 2>/dev/null
    echo "---- StarterLog"; tail -n 30 "$D"/log/StarterLog* 2>/dev/null
  fi
  rm -rf "$D"
  exit $rc
}
trap cleanup EXIT

# The service's policy: the local transport unless $1 names another, jobs of `nobody` (the
# pool's job user) only; $2: more policy lines.
write_policy() {
  cat > "$D/hostd.conf" <<POLICY
# ringbox service policy for the pool tests
transport = ${1:-local}
allow_users = nobody
max_domains = 4
max_domains_per_user = 4
max_memory_mib = 4096
max_vcpus = 4
agent = $AGENT_BIN
${2:-}
POLICY
}

start_service() {  # [transport] [policy lines]
  write_policy "$@"
  rm -f "$SOCK"
  TMPDIR=$D/rbtmp "$HOST_BIN" daemon --socket "$SOCK" --policy "$D/hostd.conf" \
    >>"$D/service.log" 2>&1 &
  SERVICE_PID=$!
  for _ in $(seq 1 50); do [ -S "$SOCK" ] && return 0; sleep 0.1; done
  fail "the service did not create $SOCK"
}

stop_service() {
  [ -n "$SERVICE_PID" ] || return 0
  kill -TERM "$SERVICE_PID" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$SERVICE_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SERVICE_PID" 2>/dev/null || true
  wait "$SERVICE_PID" 2>/dev/null || true
  SERVICE_PID=
}

start_pool() {
  cat > "$D/extra.conf" <<CONF
USER_JOB_WRAPPER = $WRAPPER_BIN
STARTER_JOB_ENVIRONMENT = "RINGBOX_SOCKET=$SOCK"
STARTD_ATTRS = \$(STARTD_ATTRS) HasRingbox
HasRingbox = True
CONF
  "$PC" start "$D" "$D/extra.conf" >/dev/null || fail "the pool did not start"
  mkdir -p "$D/jobs"
  chown nobody: "$D/jobs"
}

as_user() { "$PC" user "$D" "$@"; }

# job_sub DIR LINE...: writes DIR/job.sub: what every pool test's job shares (file transfer,
# job.out, job.err and job.log in DIR, 64 MiB), then the given lines (executable, arguments,
# ringbox attributes; a later line overrides an earlier one), then queue.
job_sub() {
  local dir=$1
  shift
  mkdir -p "$dir"
  printf '%s\n' "should_transfer_files = YES" "when_to_transfer_output = ON_EXIT" \
    "output = job.out" "error = job.err" "log = job.log" "request_memory = 64" "$@" "queue" \
    > "$dir/job.sub"
}

# submit DIR -> submits DIR/job.sub from DIR (its initialdir); prints the cluster id
submit() {
  chown -R nobody: "$D/jobs"
  as_user sh -c 'cd "$1" && condor_submit -terse job.sub' sh "$1" | cut -d. -f1 | head -n1
}

# The job's attribute, from the queue or, once it left, the history.
job_attr() {  # cluster attr
  local v
  v=$(as_user condor_q "$1" -af "$2" 2>/dev/null | head -n1)
  [ -n "$v" ] || v=$(as_user condor_history "$1" -limit 1 -af "$2" 2>/dev/null | head -n1)
  echo "$v"
}

# Waits until every listed cluster left the queue.
wait_gone() {  # timeout_s cluster...
  local t=$1; shift
  for _ in $(seq 1 "$t"); do
    [ -z "$(as_user condor_q "$@" -af ClusterId 2>/dev/null)" ] && return 0
    sleep 1
  done
  as_user condor_q "$@" -af:j JobStatus HoldReason VacateReason >&2 || true
  fail "jobs $* still in the queue after ${t}s"
}

# Waits until an expression over the job's attributes holds (condor_q -constraint).
wait_for() {  # timeout_s cluster constraint
  for _ in $(seq 1 "$1"); do
    [ -n "$(as_user condor_q "$2" -constraint "$3" -af ClusterId 2>/dev/null)" ] && return 0
    sleep 1
  done
  as_user condor_q "$2" -af:j JobStatus NumJobStarts VacateReason >&2 || true
  fail "job $2: '$3' did not hold within $1 s"
}

# Processes that belong to a ringbox job: agents and the job's processes (they run as nobody
# from the view under $D/rbtmp), and the service's job children.
ringbox_leftovers() {
  pgrep -f "$AGENT_BIN" | tr '\n' ' ' || true
  [ -n "$SERVICE_PID" ] && pgrep -P "$SERVICE_PID" | tr '\n' ' ' || true
  awk -v d="$D/rbtmp/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | tr '\n' ' '
}

# Waits until no ringbox job process or mount is left.
wait_no_leftovers() {  # timeout_s what
  local left
  for _ in $(seq 1 $(($1 * 10))); do
    left=$(ringbox_leftovers)
    [ -z "${left// /}" ] && return 0
    sleep 0.1
  done
  ps -o pid,user,args -p "$(echo $left | tr ' ' ',')" 2>/dev/null || true
  fail "$2: still running or mounted after $1 s: $left"
}

# The job went back to idle after a setup failure with MESSAGE in its VacateReason (never a
# completed job); removes it and checks it left the queue as Removed.
expect_requeued() {  # name cluster message
  local reason
  wait_for 120 "$2" "JobStatus == 1 && NumJobStarts >= 1 && VacateReason =!= undefined"
  reason=$(job_attr "$2" VacateReason)
  say "$1: idle, VacateReason: $reason"
  [[ "$reason" == *"$3"* ]] || fail "$1: VacateReason does not say '$3': $reason"
  as_user condor_rm "$2" >/dev/null
  wait_gone 60 "$2"
  [ "$(job_attr "$2" JobStatus)" = 3 ] || fail "$1: the job completed instead of staying queued"
}
