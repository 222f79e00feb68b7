#!/usr/bin/env bash
# No output is lost silently (issue 8, Deliver 4), eager: every output that cannot be returned
# is named on the job's stderr and in the host's log, the others still come back, and `run`
# exits 125 (docs/jobs.md) whatever the job's own status was.
source "$(dirname "$0")/lib.sh"

named() {  # named WHAT NAME: NAME on the job's stderr and in the host's log
  expect_grep "output not returned: $2" "$ERR" "$1: the job's stderr names $2"
  expect_grep "the guest could not return an output: $2" "$HOSTLOG" "$1: the host's log names $2"
}

# 1. Everything the job made: an absolute symlink cannot be returned (kSymlink refuses it).
run_job eager -- sh -c 'echo fine > ok.txt; ln -s /etc/passwd abs; exit 3'
expect_rc 125 "eager: an output that cannot be returned"
named "absolute symlink" "abs"
expect_grep "ended with status 3" "$HOSTLOG" "the host's log gives the job's own status"
printf 'fine\n' >"$T/ok.expected"
expect_same "$T/ok.expected" "$EXPORT/ok.txt" "the other output still came back"
expect_absent "$EXPORT/abs" "the refused symlink"
expect_clean "eager lost symlink"

# 2. Declared outputs: one missing, one there.
rm -f "$EXPORT/ok.txt"
run_job eager --output missing.txt --output ok.txt -- sh -c 'echo fine > ok.txt'
expect_rc 125 "eager: a declared output the job did not leave"
named "missing declared output" "missing.txt"
expect_same "$T/ok.expected" "$EXPORT/ok.txt" "the declared output that exists came back"
expect_clean "eager missing output"

# 3. An output the policy refuses (only out/ is writable).
mkdir -p "$EXPORT/out"
run_job eager --writable out --output out/a --output other/b -- sh -c \
  'mkdir -p out other; echo a > out/a; echo b > other/b'
expect_rc 125 "eager: an output outside --writable"
named "refused by the policy" "other/b"
printf 'a\n' >"$T/a.expected"
expect_same "$T/a.expected" "$EXPORT/out/a" "the allowed output came back"
expect_absent "$EXPORT/other/b" "the refused output"
expect_clean "eager refused output"

# 4. All returned: exit status is the job's own, nothing named.
run_job eager -- sh -c 'echo x > fine.txt; exit 4'
expect_rc 4 "eager: every output returned"
expect_no_grep "output not returned" "$ERR" "nothing named when nothing was lost"
echo "PASS: lost outputs (eager)"
