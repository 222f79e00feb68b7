# Issue 8, item 3: tar x restores member times and modes (utimensat, fchmod), including a
# directory's time, set after its members are written.
setup() {
  mkdir -p src/dir; echo one >src/dir/one; echo two >src/two; chmod 750 src/dir; chmod 600 src/two
  touch -d @981173106 src/dir/one; touch -d @981173107 src/two; touch -d @981173108 src/dir
  tar -C src -cf members.tar dir two; rm -rf src
}
MTIME_PATHS=(x/dir x/dir/one x/two)
JOB='
mkdir x && tar -C x -xf members.tar 2>&1; echo "tar x: rc=$?"
stat -c "%a %Y %n" x/dir x/dir/one x/two
'
