# Helpers for the Chirp interop tests. Each test gets a fresh directory, servers it starts are
# stopped by pid on exit.
set -euo pipefail
BIN=${RINGBOX_BIN:?RINGBOX_BIN must point at the bin directory of the build}
WORK=$(mktemp -d /tmp/ringbox-chirp.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }
pass() { echo "ok   $*"; }

# wait_file FILE: until FILE exists and is not empty (5 s).
wait_file() {
  for _ in $(seq 100); do [[ -s $1 ]] && return 0; sleep 0.05; done
  fail "timed out waiting for $1"
}

# start_submitd DIR [ARGS...]: sets SUBMITD_PID and SUBMITD_PORT.
start_submitd() {
  local root=$1; shift
  rm -f "$WORK/submitd.port"
  "$BIN/ringbox-submitd" --root "$root" --port 0 --port-file "$WORK/submitd.port" "$@" \
    >>"$WORK/submitd.log" 2>&1 &
  SUBMITD_PID=$!
  PIDS+=("$SUBMITD_PID")
  wait_file "$WORK/submitd.port"
  SUBMITD_PORT=$(cat "$WORK/submitd.port")
}

# start_chirp_server DIR: cctools chirp_server as nobody, address auth for 127.0.0.1.
start_chirp_server() {
  command -v chirp_server >/dev/null || skip "cctools chirp_server not installed (scripts/setup installs coop-computing-tools)"
  local root=$1
  chmod 777 "$root"
  printf 'address:127.0.0.1 rwlda\naddress:localhost rwlda\nhostname:localhost rwlda\nunix:root rwlda\nunix:nobody rwlda\n' >"$WORK/acl"
  chmod 644 "$WORK/acl"
  rm -f "$WORK/chirp_server.port"
  chirp_server -r "$root" -p 0 -Z "$WORK/chirp_server.port" -A "$WORK/acl" -u 127.0.0.1 \
    -i nobody -y "$WORK" -I 127.0.0.1 -o "$WORK/chirp_server.log" &
  CHIRP_SERVER_PID=$!
  PIDS+=("$CHIRP_SERVER_PID")
  wait_file "$WORK/chirp_server.port"
  CHIRP_SERVER_PORT=$(cat "$WORK/chirp_server.port")
}
