# Issue 8, Deliver 1: hard links "within the export and under the policy". With ro/ readable
# only and w/ writable, a second name for ro/f under w/ must not become a write path to ro/f:
# whatever the view does with `ln ro/f w/l` (refuse it, or keep it), ro/f on the export is
# never changed, and nothing the job was told it made is dropped silently.
setup() { mkdir -p ro w; echo "read only" >ro/f; echo x >w/x; }
RUN_OPTS=(--readable ro --writable w)
JOB='
if ln ro/f w/l 2>/dev/null; then echo "ln: made"; echo "appended" >> w/l 2>/dev/null; echo "append rc=$?"; else echo "ln: refused"; fi
cat ro/f
'
NO_TREE=1
NOT_DIFFERENTIAL=1  # a local directory has no policy: the rules above are checked instead
check_view() {
  [ "$(cat "$EXPORT/ro/f")" = "read only" ] ||
    { FAILED+=("ro/f changed through a hard link"); echo "CHECK ($MODE): ro/f on the export is now: $(cat "$EXPORT/ro/f")" >&2; }
  if grep -q "^ln: made" "$OUT" && [ ! -e "$EXPORT/w/l" ] && { [ "$RC" = 0 ] || ! grep -q "w/l" "$ERR"; }; then
    FAILED+=("w/l silently dropped")
    echo "CHECK ($MODE): the job made w/l, the export has none, run exit $RC, stderr naming w/l: $(grep -c w/l "$ERR")" >&2
  fi
  echo "note: $(head -1 "$OUT") (run exit $RC)"
}
