#!/usr/bin/env bash
# The run command's contract at its edges: the local transport's warning, refusals with a
# clear message and status 2 (mode node, no command, a path outside the export, options of the
# other transport), --transfer-log, a working directory inside the export, environment
# variables, --root, and --transport xen where Xen is absent: a missing guest kernel is a usage
# error (2), a machine that is not a dom0 a launch failure (125) with the reason (the nested
# scenarios tests/xen/scenarios/job-modes.sh and demo.sh run it for real).
source "$(dirname "$0")/lib.sh"

mkdir -p "$EXPORT/work/dir"
echo "in work" >"$EXPORT/work/dir/here.txt"

run_job remote-io --cwd work/dir --env GREETING=hi -- sh -c 'cat here.txt; echo "$GREETING"; id -u'
expect_rc 0 "job in a subdirectory"
expect_grep "in work" "$OUT" "cwd inside the view"
expect_grep "^hi$" "$OUT" "--env reaches the job"
expect_grep "^65534$" "$OUT" "the job runs as uid 65534 by default"
expect_grep "isolates nothing" "$HOSTLOG" "the local transport warns"

# An agent that dies before it connects ends the run at once with the reason, on both the
# ring and the TCP path (no waiting out --accept-timeout-ms).
for tr in local tcp; do
  SECONDS=0
  RINGBOX_TRANSPORT=$tr TRANSPORT=$tr run_job remote-io --agent /bin/false -- true
  expect_rc 125 "$tr: an agent that exits before connecting"
  expect_grep "exited with status 1" "$HOSTLOG" "$tr: the agent's end is named"
  [ "$SECONDS" -lt 10 ] || fail "$tr: noticing the dead agent took $SECONDS s"
done

run_job remote-io --root -- id -u
expect_rc 0 "job as root"
expect_grep "^0$" "$OUT" "--root runs the job as uid 0"

run_job node -- true
expect_rc 2 "mode node"
expect_grep "not implemented yet" "$HOSTLOG" "mode node is refused, not pretended"

run_job remote-io
expect_rc 2 "no command"
expect_grep "no command to run" "$HOSTLOG" "a missing command is named"

run_job remote-io --output ../escape -- true
expect_rc 2 "output outside the export"
expect_grep "not a path inside the export" "$HOSTLOG" "a path outside the export is refused"

# --transfer-log: a lazy-file job that reads one of two files; the log names exactly what was
# fetched and what came back.
mkdir -p "$EXPORT/data"
echo "read me" >"$EXPORT/data/used.txt"
echo "never read" >"$EXPORT/data/unused.txt"
run_job lazy-file --transfer-log "$T/transfers" -- sh -c 'cat data/used.txt >copy.txt'
expect_rc 0 "job with a transfer log"
printf 'fetched\t8\tdata/used.txt\nreturned\t8\tcopy.txt\n' >"$T/transfers.expected"
grep -v '^#' "$T/transfers" >"$T/transfers.events"
expect_same "$T/transfers.expected" "$T/transfers.events" "the transfer log lists what moved, only that"
expect_grep "transfers: fetched 1 file whole (8 B); returned 1 file (8 B)" "$HOSTLOG" \
  "ringbox-host sums the transfers up"
rm -f "$EXPORT/copy.txt"

# Options of one transport given to the other are refused, not ignored.
run_job remote-io --memory-mib 512 -- true
expect_rc 2 "--memory-mib with the local transport"
expect_grep "is for --transport xen" "$HOSTLOG" "domain options need the xen transport"

# Where the files are: exactly one of --export, --submit and --chirp-config; a Chirp server
# that is not there fails the run before any guest starts, naming it.
run_job remote-io --submit chirp://127.0.0.1:1 -- true
expect_rc 2 "--export with --submit"
expect_grep "give exactly one of --export DIR, --submit" "$HOSTLOG" "export and submit exclusive"
set +e
TMPDIR="$RUNTMP" timeout 60 "$HOST" run --mode remote-io --submit chirp://127.0.0.1:1 \
  --stdout "$OUT" --stderr "$ERR" -- true 2>"$HOSTLOG"
RC=$?
set -e
[ "$RC" != 0 ] && [ "$RC" != 2 ] && [ "$RC" != 124 ] || fail "unreachable Chirp server: status $RC"
expect_grep "reach the job's files at submit chirp://127.0.0.1:1" "$HOSTLOG" "the server is named"
set +e
"$HOST" run --mode remote-io --chirp-config "$T/no-such.chirp.config" -- true 2>"$HOSTLOG"
RC=$?
set -e
expect_rc 2 "--chirp-config naming no file"

# --transport xen. The guest image's default place (/boot/ringbox, the nested dom0's) does not
# exist here: a usage error naming it. With a kernel and ramdisk that exist, this machine is
# not a Xen dom0: the domain cannot be created, status 125 with the reason.
xen_run() {
  set +e
  TMPDIR="$RUNTMP" "$HOST" run --transport xen --mode remote-io --export "$EXPORT" \
    --stdout "$OUT" --stderr "$ERR" "$@" -- true 2>"$HOSTLOG"
  RC=$?
  set -e
}
if [ ! -e /boot/ringbox/vmlinux ]; then
  xen_run
  expect_rc 2 "transport xen without a guest kernel"
  expect_grep "open guest kernel /boot/ringbox/vmlinux (build it with kernel-image/build-guest-image" \
    "$HOSTLOG" "the missing guest kernel is named, with what to do"
fi
head -c 4096 /dev/zero >"$T/vmlinux"
head -c 4096 /dev/zero >"$T/initrd"
xen_run --kernel "$T/vmlinux" --ramdisk "$T/initrd" --agent "$AGENT"
expect_rc 2 "--agent with the xen transport"
expect_grep "with xen the agent is the one in the guest image" "$HOSTLOG" "--agent is local only"
xen_run --kernel "$T/vmlinux" --ramdisk "$T/initrd" --memory-mib 16
expect_rc 2 "transport xen with too little memory"
if ! grep -qs control_d /proc/xen/capabilities; then
  xen_run --kernel "$T/vmlinux" --ramdisk "$T/initrd"
  expect_rc 125 "transport xen on a machine that is not a Xen dom0"
  expect_grep "launch the guest: libxl_ctx_alloc failed .*this is not a Xen domain" "$HOSTLOG" \
    "the failed domain launch says why"
  expect_no_grep "isolates nothing" "$HOSTLOG" "the xen transport does not warn like the local one"
fi
expect_clean "cli"
echo "PASS: cli"
