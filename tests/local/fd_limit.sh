#!/usr/bin/env bash
# lazy-file keeps one descriptor per cached file in the agent. Started under a low soft
# open-file limit (256; the hard one as it was, as with systemd's 1024/524288; ringbox-host
# lifts its own soft limit to what its file service needs, 1408, and the agent starts with
# that), the agent raises its own to the hard limit, so a job reading 2,000 files works; the job
# itself gets the limit the agent was started with, not the agent's raised one.
source "$(dirname "$0")/lib.sh"
N=2000
mkdir -p "$EXPORT/in"
for i in $(seq -w 1 $N); do echo "input $i" >"$EXPORT/in/f$i"; done
(cd "$EXPORT" && cat in/* | sha256sum) >"$T/sum.expected"

hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -gt 2100 ] || skip "the hard open-file limit ($hard) leaves the agent no room"
ulimit -Sn 256
run_job lazy-file -- sh -c 'cat in/* | sha256sum > sum.txt; ulimit -n > limit.txt'
expect_rc 0 "lazy-file job reading $N files under ulimit -Sn 256"
expect_same "$T/sum.expected" "$EXPORT/sum.txt" "checksum over $N inputs"
job_limit=$(cat "$EXPORT/limit.txt")
[ "$hard" = unlimited ] || [ "$job_limit" -lt "$hard" ] || fail "the job inherited the agent's raised open-file limit ($job_limit)"
expect_clean "fd limit"
echo "PASS: fd_limit"
