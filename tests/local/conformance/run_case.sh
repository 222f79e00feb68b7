#!/usr/bin/env bash
# Differential conformance test: one case (cases/NAME.sh) in one mode. The case's script runs
# twice: (1) in a local directory on this machine's disk file system, as the job's uid (65534)
# with the job's environment (the reference: the local file system, not our expectation), and
# (2) as a ringbox job in the view of MODE (remote-io, lazy-file or eager). Then compared:
#   - the exit status and the printed results (stdout) of the script;
#   - the resulting tree: the reference directory vs the export after the run (manifest.py:
#     names, types, sizes, content hashes, modes, link counts and groups, symlink texts, empty
#     directories, and mtimes for the paths the case names in MTIME_PATHS);
#   - the output of the case's optional post() hook, run (as root) in both result trees.
# Normalised, because it must differ: inode numbers, owners, times the case does not set,
# directory sizes (manifest.py says how). The job's stderr is shown on failure, not compared
# (messages name the program, e.g. ringbox-agent's own lines).
#
# A case file defines:
#   setup()       run as root in the empty directory before the run (same for both sides);
#   JOB           the shell script (sh -c) the job runs in its working directory;
#   MTIME_PATHS   (optional) globs of paths whose mtimes the case sets and compares;
#   post()        (optional) run as root in each result tree; its output is compared;
#   NO_TREE=1     (optional) do not compare the trees (the case prints what it checks);
#   LOCAL_IPC_ONLY=1 (optional) FIFOs and sockets left by the job are not expected on the
#                 export (they live in the guest): dropped from the reference's tree;
#   NOT_DIFFERENTIAL=1 (optional) exit status and printed results are not compared (a rule
#                 with no local counterpart, e.g. the policy); check_view() says what holds;
#   RUN_OPTS      (optional) more `ringbox-host run` options (e.g. --readable/--writable);
#   EAGER_OUTPUTS (optional) --output paths in eager (default: none declared, so every file
#                 the job made or changed comes back). Eager's inputs are every regular file
#                 setup() made.
#   check_view()  (optional) extra checks after the comparison (MODE, RC, OUT, ERR are set).
# Every mismatch is reported as "CHECK <what>: local=<...> view=<...>" and the test fails.
source "$(dirname "$0")/../lib.sh"
MODE=${1:?usage: run_case.sh auto|remote-io|lazy-file|eager CASE}
CASE=${2:?usage: run_case.sh MODE CASE}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
MTIME_PATHS=()
NO_TREE=0
NOT_DIFFERENTIAL=0
RUN_OPTS=()
LOCAL_IPC_ONLY=0
EAGER_OUTPUTS=()
setup() { :; }
post() { :; }
check_view() { :; }
# shellcheck source=/dev/null
source "$HERE/cases/$CASE.sh"
umask 022

JOB_UID=65534
JOB_ENV=(PATH=/usr/local/bin:/usr/bin:/bin)
FAILED=()
check() {  # check WHAT LOCAL VIEW
  if [ "$2" != "$3" ]; then
    FAILED+=("$1")
    {
      echo "CHECK $1 ($MODE): local and view differ"
      echo "  local: $2"
      echo "  view:  $3"
    } >&2
  fi
}
check_files() {  # check_files WHAT LOCALFILE VIEWFILE
  if ! cmp -s "$2" "$3"; then
    FAILED+=("$1")
    echo "CHECK $1 ($MODE): local and view differ (- local, + view)" >&2
    diff -u "$2" "$3" | tail -n +3 | head -60 >&2 || true
  fi
}

# 1. The reference: a local directory, the job's uid and environment.
REF="$T/ref"
mkdir "$REF"
(cd "$REF" && setup)
chown -R "$JOB_UID:$JOB_UID" "$REF"
set +e
(cd "$REF" && timeout "${JOB_TIMEOUT:-180}" setpriv --reuid=$JOB_UID --regid=$JOB_UID \
  --clear-groups env -i "${JOB_ENV[@]}" sh -c "$JOB" >"$T/ref.stdout" 2>"$T/ref.stderr")
REF_RC=$?
set -e

# 2. The same in the view.
(cd "$EXPORT" && setup)
RUN_ARGS=()
INPUT_LIST=()
if [ "$MODE" = eager ]; then
  while IFS= read -r -d '' f; do RUN_ARGS+=(--input "${f#./}"); INPUT_LIST+=("${f#./}"); done \
    < <(cd "$EXPORT" && find . -type f -print0 | sort -z)
  for o in "${EAGER_OUTPUTS[@]}"; do RUN_ARGS+=(--output "$o"); done
fi
run_job "$MODE" "${RUN_ARGS[@]}" "${RUN_OPTS[@]}" -- sh -c "$JOB"

# 3. Compare.
if [ "$NOT_DIFFERENTIAL" != 1 ]; then
  check "exit status" "$REF_RC" "$RC"
  check_files "printed results" "$T/ref.stdout" "$OUT"
fi
if [ "$NO_TREE" != 1 ]; then
  "$PY" "$HERE/manifest.py" "$REF" "${MTIME_PATHS[@]}" >"$T/ref.tree"
  if [ "$LOCAL_IPC_ONLY" = 1 ]; then
    # FIFOs and sockets never leave the guest (docs/modes.md): not expected on the export.
    { grep -v '^[^ ]* [ps] ' "$T/ref.tree" || true; } >"$T/ref.tree.n"
    mv "$T/ref.tree.n" "$T/ref.tree"
  fi
  "$PY" "$HERE/manifest.py" "$EXPORT" "${MTIME_PATHS[@]}" >"$T/view.tree"
  if [ "$MODE" = eager ]; then
    # Eager never deletes on the submit side (docs/modes.md): an input the job removed or
    # renamed away stays in the export. Only those lines are dropped, and said so.
    for a in "${INPUT_LIST[@]}"; do
      if ! grep -q "^$a [a-z?] " "$T/ref.tree" && grep -q "^$a f " "$T/view.tree"; then
        echo "note: eager keeps the input '$a' the job removed (allowed difference)"
        { grep -v "^$a f " "$T/view.tree" || true; } >"$T/view.tree.n"
        mv "$T/view.tree.n" "$T/view.tree"
      fi
    done
  fi
  check_files "resulting tree" "$T/ref.tree" "$T/view.tree"
fi
(cd "$REF" && post) >"$T/ref.post" 2>&1 || true
(cd "$EXPORT" && post) >"$T/view.post" 2>&1 || true
check_files "post-run check" "$T/ref.post" "$T/view.post"
check_view
if [ -n "$(find "$EXPORT" -name '.ringbox-put*' -print -quit)" ]; then
  FAILED+=("temporary upload files left in the export")
fi

if [ ${#FAILED[@]} -gt 0 ]; then
  {
    echo "--- local stdout"; cat "$T/ref.stdout"
    echo "--- local stderr"; cat "$T/ref.stderr"
  } >&2
  dump
  (IFS=';' && echo "FAILED CHECKS ($CASE $MODE): ${FAILED[*]}" >&2)
  fail "$CASE in $MODE: ${#FAILED[@]} check(s) differ from the local file system"
fi
echo "PASS: $CASE $MODE"
