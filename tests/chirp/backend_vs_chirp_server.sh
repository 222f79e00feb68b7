# ringbox-host's chirp BACK END against cctools' own chirp_server: the same job runs on the local
# transport twice per mode (remote-io, lazy-file, eager), once with --export DIR (the local
# directory, the reference) and once with --submit chirp://127.0.0.1:PORT (cctools chirp_server
# exporting an identical copy of DIR). Afterwards both trees must be identical: the same names,
# types and sizes, every file byte for byte, and the job's stdout, stderr and exit status too.
#
# chirp_server quirks handled here (docs/submit-side.md): it must run as an ordinary user
# (-i nobody; as root it refuses to start) so its root is world-writable; it keeps a ".__acl"
# file in every directory it creates (hidden from its listings, so the job never sees it; left
# out of the comparison); address auth needs -u 127.0.0.1 and an ACL naming 127.0.0.1.
source "$(dirname "$0")/lib.sh"
[[ $(id -u) == 0 ]] || skip "needs root (the agent mounts FUSE and drops the job to uid 65534)"
[[ -c /dev/fuse ]] || skip "no /dev/fuse"
source "$(dirname "$0")/backend_job.sh"

mkdir -p "$WORK/srv"
start_chirp_server "$WORK/srv"
for mode in remote-io lazy-file eager; do
  ref=$WORK/ref-$mode
  prepare_pair "$mode" "$WORK/srv/$mode"
  t0=$EPOCHREALTIME
  run_backend_job "$mode" "ref-$mode" . --export "$ref"
  t1=$EPOCHREALTIME
  run_backend_job "$mode" "chirp-$mode" . --submit "chirp://127.0.0.1:$CHIRP_SERVER_PORT/$mode"
  t2=$EPOCHREALTIME
  [[ $(cat "$WORK/chirp-$mode.rc") == 3 ]] || tail -20 "$WORK/chirp_server.log"
  compare_runs "$mode" "ref-$mode" "$ref" "chirp-$mode" "$WORK/srv/$mode"
  secs=$(awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "%.1f s local, %.1f s chirp_server", b - a, c - b }')
  pass "$mode: $(wc -l <"$WORK/chirp-$mode.tree") tree lines identical to the local directory's ($secs)"
done
