# Issue 8, item 7: mkdir + cd 17 levels of 250-byte names (every system call's argument is
# short; the path from the export's root is ~4250 bytes) and write a file at the bottom. A
# local file system allows it. The view must either do the same (and the file must reach the
# export), or refuse a name when it is created (ENAMETOOLONG at mkdir/open): never accept the
# file and drop it later. In eager a dropped output must be named on the job's stderr and the
# run must exit non-zero.
JOB='
python3 -c "
import os, errno
n = \"%0250d\" % 0
depth = 0
try:
    for i in range(17):
        os.mkdir(n + str(i)); os.chdir(n + str(i)); depth = i + 1
    with open(\"deep.txt\", \"w\") as f: f.write(\"bottom\\n\")
    print(\"created at depth\", depth)
    print(open(\"deep.txt\").read().strip())
except OSError as e:
    print(\"refused at depth\", depth, errno.errorcode[e.errno])
"
'

# Not a plain comparison: refusing at creation is allowed. What is checked: if the job was
# told its file was created, the file is in the export, or the run failed and named it.
NO_TREE=1
drop_failed() {  # drop_failed WHAT: the check WHAT is an allowed outcome here
  local f=() x
  for x in "${FAILED[@]}"; do [ "$x" != "$1" ] && f+=("$x"); done
  FAILED=("${f[@]}")
}
check_view() {
  if grep -q '^refused' "$OUT"; then
    # Refused when created: allowed (nothing was claimed, so nothing can be lost).
    drop_failed "exit status"
    drop_failed "printed results"
    echo "note: the view refused the deep path at creation: $(grep '^refused' "$OUT")"
    return
  fi
  local found
  found=$(cd "$EXPORT" && /usr/bin/python3 -c '
import os
n = "%0250d" % 0
fd = os.open(".", os.O_RDONLY)
for i in range(17):
    try: nfd = os.open(n + str(i), os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
    except OSError as e: print("missing level", i); raise SystemExit
    os.close(fd); fd = nfd
try: print(open(os.open("deep.txt", os.O_RDONLY, dir_fd=fd)).read().strip())
except OSError: print("missing deep.txt")')
  [ "$found" = bottom ] && return
  if [ "$RC" != 0 ] && grep -q 'deep.txt' "$ERR" && grep -q 'deep.txt' "$HOSTLOG"; then
    # Not returned, but named on the job's stderr and in the host's log, and the run failed.
    drop_failed "exit status"
    echo "note: the deep output was not returned, but named and the run exited $RC"
    return
  fi
  FAILED+=("deep output silently lost")
  echo "CHECK deep output ($MODE): the job created it; the export has: $found; run exit $RC;" \
    "lines naming deep.txt: job stderr $(grep -c deep.txt "$ERR"), host log $(grep -c deep.txt "$HOSTLOG")" >&2
}
