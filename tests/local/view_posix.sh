#!/usr/bin/env bash
# The job's view against a local directory (issue 8): the same shell script
# (view_posix_cases.sh: modes and umask, chmod, chown, utimensat and directory times, rename
# over non-empty directories and with renameat2 flags, unlink of open files, O_RDONLY|O_TRUNC,
# hard links, FIFOs and Unix sockets, statfs, fallocate, shared mmap and SQLite in WAL mode,
# readers racing an atomic replace, long symlink targets) runs once as uid 65534 in a local
# directory and once as the job in the view (mode remote-io or lazy-file); its output and the
# tree it leaves (types, modes, sizes, link counts, link targets, the times it set) must be the
# same. Then the deep-path rule: a name whose path from the export's root is longer than
# kMaxPathBytes is refused when it is made (ENAMETOOLONG), and nothing already made is lost.
source "$(dirname "$0")/lib.sh"
MODE=${1:?usage: view_posix.sh remote-io|lazy-file}

cp "$(dirname "$0")/view_posix_cases.sh" "$T/cases.sh"
chmod 0644 "$T/cases.sh"

# Types, modes, sizes, link counts and link targets of a tree, plus the times the script set.
listing() {
  (cd "$1" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort | while IFS= read -r p; do
    if [ -L "$p" ]; then
      echo "$p -> $(readlink "$p") links $(stat -c %h "$p")"
    elif [ -d "$p" ]; then
      echo "$p/ $(stat -c %a "$p")"
    else
      extra=
      case "$p" in times/t | times/tcopy | times/tree/m) extra=" mtime $(stat -c %Y "$p")" ;; esac
      echo "$p $(stat -c '%F %a %s links %h' "$p")$extra"
    fi
  done)
}

REF="$T/ref"
mkdir "$REF"
chown 65534:65534 "$REF"
(cd "$REF" && setpriv --reuid 65534 --regid 65534 --clear-groups sh "$T/cases.sh") \
  >"$T/ref.out" 2>"$T/ref.err" || true

run_job "$MODE" -- sh "$T/cases.sh"
[ "$RC" = 0 ] || {
  dump
  fail "$MODE: the case script exited $RC"
}
if ! diff -u "$T/ref.out" "$OUT" >"$T/out.diff"; then
  cat "$T/out.diff" >&2
  dump
  fail "$MODE: the view's output differs from a local directory's (- local, + view)"
fi
listing "$REF" >"$T/ref.tree"
listing "$EXPORT" >"$T/view.tree"
if ! diff -u "$T/ref.tree" "$T/view.tree" >"$T/tree.diff"; then
  cat "$T/tree.diff" >&2
  dump
  fail "$MODE: the tree left in the export differs from the local one (- local, + export)"
fi
expect_clean "$MODE cases"

# Deep paths: 250-byte names, 17 levels (more than 4096 bytes from the export's root), each
# made with a short argument. The first name that would not fit the wire is refused at once
# with ENAMETOOLONG; everything before it, and a file in the deepest directory made, arrive.
rm -rf "${EXPORT:?}"/*
run_job "$MODE" -- sh -c '
  n=$(printf "%0250d" 0)
  depth=0
  while [ $depth -lt 17 ]; do
    if ! mkdir "$n" 2>err; then cat err >&2; break; fi
    cd "$n"; depth=$((depth + 1))
  done
  echo "depth $depth" > deepest.txt
  echo "depth $depth"
  touch "$(printf "%0240d" 1)" 2>/dev/null && echo "a long name that fits was made"
  cd /
  exit 0'
expect_rc 0 "$MODE deep paths"
expect_grep "File name too long" "$ERR" "$MODE: the too-deep mkdir is refused with ENAMETOOLONG"
depth=$(sed -n 's/^depth //p' "$OUT")
[ -n "$depth" ] && [ "$depth" -ge 15 ] && [ "$depth" -lt 17 ] || fail "$MODE: deep mkdir stopped at depth '$depth'"
found=$(find "$EXPORT" -name deepest.txt | wc -l)
[ "$found" = 1 ] || fail "$MODE: the file in the deepest directory did not arrive ($found found)"
expect_grep "^depth $depth\$" "$(find "$EXPORT" -name deepest.txt)" "$MODE: deepest file's contents"
expect_clean "$MODE deep paths"
echo "PASS: view_posix $MODE"
