# ringbox's Chirp client (chirp-client-check) against ringbox-submitd: address auth, unix
# auth, and cookie auth with a .chirp.config (which also exercises the HTCondor-proxy code
# paths of the client: backslash escaping, relative paths, the zero-length putfile rule).
source "$(dirname "$0")/lib.sh"
mkdir -p "$WORK/root"
start_submitd "$WORK/root" --write-chirp-config "$WORK/chirp.config"
"$BIN/chirp-client-check" --url "chirp://127.0.0.1:$SUBMITD_PORT" --server-dir "$WORK/root" \
  --auth address --large-mib 300 || fail "client vs submitd (address auth)"
"$BIN/chirp-client-check" --url "chirp://127.0.0.1:$SUBMITD_PORT" --server-dir "$WORK/root" \
  --auth unix --subdir unix-check || fail "client vs submitd (unix auth)"
"$BIN/chirp-client-check" --chirp-config "$WORK/chirp.config" --server-dir "$WORK/root" \
  --subdir "cookie check" || fail "client vs submitd (cookie auth, a path with a space)"
mkdir -p "$WORK/root/sub"
"$BIN/chirp-client-check" --url "chirp://127.0.0.1:$SUBMITD_PORT/sub" --server-dir "$WORK/root" \
  --auth address || fail "client vs submitd (URL with a directory)"
pass "ChirpClient vs ringbox-submitd"
