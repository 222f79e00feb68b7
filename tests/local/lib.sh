# Helpers for the local-transport job tests: each test runs the real `ringbox-host run
# --transport local`, which starts the real `ringbox-agent --job`, which mounts the real FUSE
# view. Sourced by the test scripts; RINGBOX_BIN names the build's bin directory.
# RINGBOX_TRANSPORT=tcp runs the same tests over `--transport tcp` (the agent's requests over
# TCP on the loopback instead of the ring).
#
# Every test gets its own directories: $T (on /tmp, a disk file system) holds the export and
# the job's output files; $RUNTMP (on /dev/shm when there is one, as the guest's tmpfs would
# be) is the TMPDIR of ringbox-host, so the agent's view, cache and staging area are ours to
# check for leftovers and to clean up.
set -euo pipefail

: "${RINGBOX_BIN:?set RINGBOX_BIN to the bin directory of the build}"
HOST="$RINGBOX_BIN/ringbox-host"
TRANSPORT=${RINGBOX_TRANSPORT:-local}
AGENT="$RINGBOX_BIN/ringbox-agent"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
skip() {
  echo "SKIP: $*"
  exit 77
}

[ "$(id -u)" = 0 ] || skip "needs root (the agent mounts FUSE and drops the job to uid 65534)"
[ -c /dev/fuse ] || skip "no /dev/fuse"
[ -x "$HOST" ] && [ -x "$AGENT" ] || fail "no ringbox-host/ringbox-agent in $RINGBOX_BIN"

T=$(mktemp -d /tmp/ringbox-local.XXXXXX)
SHM_BASE=/tmp
[ -d /dev/shm ] && SHM_BASE=/dev/shm
RUNTMP=$(mktemp -d "$SHM_BASE/ringbox-local-run.XXXXXX")
chmod 0755 "$T" "$RUNTMP"
EXPORT="$T/export"
mkdir "$EXPORT"
OUT="$T/job.stdout"
ERR="$T/job.stderr"
HOSTLOG="$T/host.log"

# RINGBOX_FILES=submitd serves $EXPORT through ringbox-submitd (address auth on 127.0.0.1, a
# free port) and runs jobs with --submit chirp://127.0.0.1:PORT; RINGBOX_FILES=chirp-config
# does the same with cookie auth and --chirp-config (a .chirp.config submitd wrote). Otherwise
# jobs run with --export $EXPORT.
FILES=${RINGBOX_FILES:-export}
FILES_ARGS=(--export "$EXPORT")
SUBMITD_PID=
start_files_server() {
  local auth=(--auth address)
  [ "$FILES" = chirp-config ] && auth=(--auth cookie --write-chirp-config "$T/chirp.config")
  "$RINGBOX_BIN/ringbox-submitd" --root "$EXPORT" --port 0 --port-file "$T/submitd.port" \
    "${auth[@]}" >>"$T/submitd.log" 2>&1 &
  SUBMITD_PID=$!
  local i
  for i in $(seq 1 100); do [ -s "$T/submitd.port" ] && break; sleep 0.05; done
  [ -s "$T/submitd.port" ] || fail "ringbox-submitd did not start: $(cat "$T/submitd.log")"
  if [ "$FILES" = chirp-config ]; then
    FILES_ARGS=(--chirp-config "$T/chirp.config")
  else
    FILES_ARGS=(--submit "chirp://127.0.0.1:$(cat "$T/submitd.port")")
  fi
}
# RINGBOX_CONFINE=USER serves the export from the confined file service as USER (`run
# --confine-user`, host/confine): the export is handed to USER before every run.
CONFINE=${RINGBOX_CONFINE:-}
if [ -n "$CONFINE" ]; then
  [ "$FILES" = export ] || fail "RINGBOX_CONFINE works with RINGBOX_FILES=export only"
  FILES_ARGS+=(--confine-user "$CONFINE")
fi
confine_export() {
  if [ -n "$CONFINE" ]; then chown -R "$CONFINE:" "$EXPORT"; fi
}

case "$FILES" in
  export) ;;
  submitd | chirp-config) start_files_server ;;
  *) fail "unknown RINGBOX_FILES=$FILES (export, submitd or chirp-config)" ;;
esac

cleanup() {
  local rc=$?
  set +e
  # A failed test may leave a background run going; stop it (and with it its guest and job).
  if [ -n "${RUN_PID:-}" ] && kill -0 "$RUN_PID" 2>/dev/null; then
    kill -KILL $(pgrep -P "$RUN_PID") "$RUN_PID" 2>/dev/null
    wait "$RUN_PID" 2>/dev/null
  fi
  if [ -n "${SUBMITD_PID:-}" ]; then
    kill "$SUBMITD_PID" 2>/dev/null
    wait "$SUBMITD_PID" 2>/dev/null
  fi
  # A failed test may leave a mount behind; never let it outlive the test.
  grep -o " $RUNTMP[^ ]*" /proc/self/mountinfo 2>/dev/null | while read -r m; do
    umount -l "$m" 2>/dev/null
  done
  rm -rf "$T" "$RUNTMP" 2>/dev/null
  exit $rc
}
trap cleanup EXIT

dump() {
  {
    echo "--- job stdout ($OUT)"
    cat "$OUT" 2>/dev/null || true
    echo "--- job stderr ($ERR)"
    cat "$ERR" 2>/dev/null || true
    echo "--- ringbox-host log"
    cat "$HOSTLOG" 2>/dev/null || true
    if [ -n "$SUBMITD_PID" ]; then
      echo "--- ringbox-submitd log"
      cat "$T/submitd.log" 2>/dev/null || true
    fi
    echo "---"
  } >&2
}

# run_job MODE [run options...] -- COMMAND...: runs one job in the foreground; RC is its status.
run_job() {
  local mode=$1
  shift
  rm -f "$OUT" "$ERR" "$HOSTLOG"  # never read a previous run's output
  confine_export
  set +e
  TMPDIR="$RUNTMP" timeout "${JOB_TIMEOUT:-180}" "$HOST" run --transport "$TRANSPORT" \
    --mode "$mode" "${FILES_ARGS[@]}" --stdout "$OUT" --stderr "$ERR" "$@" 2>"$HOSTLOG"
  RC=$?
  set -e
  # Proof the run took the transport asked for (a usage error prints no warning at all).
  if [ "$RC" -ne 2 ] && ! grep -q -- "--transport $TRANSPORT runs the job" "$HOSTLOG"; then
    fail "the run did not report --transport $TRANSPORT"
  fi
  # And proof the files went through Chirp when asked to.
  if [ "$RC" -ne 2 ] && [ "$FILES" != export ] && ! grep -q "file service on chirp" "$HOSTLOG"; then
    dump
    fail "the run did not serve the files through Chirp"
  fi
  if [ "$RC" -ne 2 ] && [ -n "$CONFINE" ] && ! grep -q "from a confined process" "$HOSTLOG"; then
    dump
    fail "the run did not serve the files from the confined file service"
  fi
}

# start_job MODE ...: the same in the background; RUN_PID is ringbox-host's own pid (no
# timeout(1) in between: tests signal it and read its descriptors; ctest's TIMEOUT bounds it).
start_job() {
  local mode=$1
  shift
  rm -f "$OUT" "$ERR" "$HOSTLOG"
  confine_export
  TMPDIR="$RUNTMP" "$HOST" run --transport "$TRANSPORT" --mode "$mode" \
    "${FILES_ARGS[@]}" --stdout "$OUT" --stderr "$ERR" "$@" 2>"$HOSTLOG" &
  RUN_PID=$!
}
# The agent ringbox-host started (its only child), once it is there.
agent_pid() {
  local i
  for i in $(seq 1 200); do
    pgrep -P "$RUN_PID" -f ringbox-agent && return 0
    sleep 0.05
  done
  return 1
}
# wait_job: waits for the background job; RC is its status.
wait_job() {
  set +e
  wait "$RUN_PID"
  RC=$?
  set -e
}

expect_rc() {
  [ "$RC" = "$1" ] || {
    dump
    fail "$2: ringbox-host run exited $RC, expected $1"
  }
}

# The same bytes on both sides.
expect_same() {
  cmp -s "$1" "$2" || {
    dump
    fail "$3: $1 and $2 differ"
  }
}

expect_grep() {
  grep -q -e "$1" "$2" || {
    dump
    fail "$3: no '$1' in $2"
  }
}

expect_no_grep() {
  if grep -q -e "$1" "$2"; then
    dump
    fail "$3: '$1' found in $2"
  fi
}

expect_absent() {
  [ ! -e "$1" ] && [ ! -L "$1" ] || {
    dump
    fail "$2: $1 exists"
  }
}

# Waits up to $2 seconds for a line matching $1 in the job's (live-streamed) stderr.
wait_for_stderr() {
  local i
  for i in $(seq 1 $(($2 * 20))); do
    grep -q -e "$1" "$ERR" 2>/dev/null && return 0
    sleep 0.05
  done
  dump
  fail "the job's stderr never showed '$1'"
}

# After a run: no mount, no process and no file of it is left, and nothing half-written or
# temporary is in the export.
expect_clean() {
  if grep -q " $RUNTMP" /proc/self/mountinfo; then
    grep " $RUNTMP" /proc/self/mountinfo >&2
    fail "$1: a mount of the run is left behind"
  fi
  if [ -n "$(ls -A "$RUNTMP")" ]; then
    ls -laR "$RUNTMP" >&2
    fail "$1: the run's temporary directory was not cleaned up"
  fi
  if pgrep -f "ringbox-agent --job .*$RUNTMP" >/dev/null; then
    fail "$1: an agent of the run is still alive"
  fi
  if find "$EXPORT" -name '.ringbox-put*' | grep -q .; then
    find "$EXPORT" -name '.ringbox-put*' >&2
    fail "$1: a temporary upload file is left in the export"
  fi
}
