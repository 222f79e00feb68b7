# ringbox's Chirp client (chirp-client-check) against cctools' own chirp_server.
source "$(dirname "$0")/lib.sh"
mkdir -p "$WORK/root"
start_chirp_server "$WORK/root"
"$BIN/chirp-client-check" --url "chirp://127.0.0.1:$CHIRP_SERVER_PORT" --server-dir "$WORK/root" \
  --auth address --large-mib 256 || fail "client vs cctools chirp_server (address auth)"
pass "ChirpClient vs cctools chirp_server"
