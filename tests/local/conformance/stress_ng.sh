#!/usr/bin/env bash
# Issue 8, Deliver 6: stress-ng's file-system stressors, each with --verify where it has one,
# in a local directory (the reference) and in the view of MODE; per stressor: stress-ng's exit
# status (0 passed, 2 failed a check, 3 could not run, ...) and its failure lines. Small op
# counts and timeouts keep the suite short on a 2-core machine.
source "$(dirname "$0")/../lib.sh"
MODE=${1:?usage: stress_ng.sh auto|remote-io|lazy-file|eager}
JOB='
for s in rename link symlink chmod utime dir dentry mmap fallocate fstat lockf readahead seek; do
  # One bogo-op of link/symlink makes and checks thousands of links: ~2 s locally, ~15-20 s in
  # remote-io (a round trip per link), and stress-ng checks its --timeout only between ops.
  ops=50 bound=25
  case $s in link | symlink) ops=1 bound=60 ;; mmap) ops=5 ;; esac
  # A stressor stuck in a system call, or one much slower than here, is ended by timeout(1).
  timeout -s KILL $bound stress-ng --$s 1 --$s-ops $ops --timeout 5s --verify --temp-path . \
    -q >sng.log 2>&1
  rc=$?
  [ $rc = 137 ] && rc="137 (did not end within $bound s: killed)"
  echo "$s: rc=$rc"
  [ "$rc" = 0 ] || grep -iE "fail|error|abort|not supported|skipp" sng.log | head -3 |
    sed -E "s/^stress-ng: [a-z]+: +\[[0-9]+\] //; s/^/  $s: /"
done
rm -f sng.log
ls -A
'
JOB_TIMEOUT=380
source "$(dirname "$0")/lib_diff.sh"
run_both_and_compare stress-ng
