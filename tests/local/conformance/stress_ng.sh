#!/usr/bin/env bash
# Issue 8, Deliver 6: stress-ng's file-system stressors, each with --verify where it has one,
# in a local directory (the reference) and in the view of MODE; per stressor: stress-ng's exit
# status (0 passed, 2 failed a check, 3 could not run, ...) and its failure lines. Small op
# counts and timeouts keep the suite short on a 2-core machine.
source "$(dirname "$0")/../lib.sh"
MODE=${1:?usage: stress_ng.sh remote-io|lazy-file|eager}
JOB='
for s in rename link symlink chmod utime dir dentry mmap fallocate fstat lockf readahead seek; do
  ops=50
  case $s in link | symlink | mmap) ops=5 ;; esac
  # A stressor stuck in a system call, or one whose single operation takes longer than its
  # --timeout, is ended by timeout(1) (rc 137).
  timeout -s KILL 25 stress-ng --$s 1 --$s-ops $ops --timeout 5s --verify --temp-path . \
    -q >sng.log 2>&1
  rc=$?
  [ $rc = 137 ] && rc="137 (did not end within 25 s: killed)"
  echo "$s: rc=$rc"
  [ $rc = 0 ] || grep -iE "fail|error|abort|not supported|skipp" sng.log | head -3 |
    sed -E "s/^stress-ng: [a-z]+: +\[[0-9]+\] //; s/^/  $s: /"
done
rm -f sng.log
ls -A
'
JOB_TIMEOUT=380
source "$(dirname "$0")/lib_diff.sh"
run_both_and_compare stress-ng
