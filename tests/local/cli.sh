#!/usr/bin/env bash
# The run command's contract at its edges: the local transport's warning, refusals with a
# clear message and status 2 (mode auto, no command, a path outside the export), xen not yet
# wired (125), a working directory inside the export, environment variables, and --root.
source "$(dirname "$0")/lib.sh"

mkdir -p "$EXPORT/work/dir"
echo "in work" >"$EXPORT/work/dir/here.txt"

run_job remote-io --cwd work/dir --env GREETING=hi -- sh -c 'cat here.txt; echo "$GREETING"; id -u'
expect_rc 0 "job in a subdirectory"
expect_grep "in work" "$OUT" "cwd inside the view"
expect_grep "^hi$" "$OUT" "--env reaches the job"
expect_grep "^65534$" "$OUT" "the job runs as uid 65534 by default"
expect_grep "isolates nothing" "$HOSTLOG" "the local transport warns"

run_job remote-io --root -- id -u
expect_rc 0 "job as root"
expect_grep "^0$" "$OUT" "--root runs the job as uid 0"

run_job auto -- true
expect_rc 2 "mode auto"
expect_grep "not implemented yet" "$HOSTLOG" "mode auto is refused, not pretended"

run_job remote-io
expect_rc 2 "no command"
expect_grep "no command to run" "$HOSTLOG" "a missing command is named"

run_job remote-io --output ../escape -- true
expect_rc 2 "output outside the export"
expect_grep "not a path inside the export" "$HOSTLOG" "a path outside the export is refused"

set +e
TMPDIR="$RUNTMP" "$HOST" run --transport xen --mode remote-io --export "$EXPORT" \
  --stdout "$OUT" --stderr "$ERR" -- true 2>"$HOSTLOG"
RC=$?
set -e
expect_rc 125 "transport xen"
expect_grep "not yet wired" "$HOSTLOG" "xen says it is not wired yet"
expect_clean "cli"
echo "PASS: cli"
