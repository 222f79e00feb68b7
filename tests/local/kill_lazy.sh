#!/usr/bin/env bash
# lazy-file's promise: whatever kills the job or the guest, the export never holds a
# half-written output. Four ways to die:
#   1. SIGKILL to the job while it writes (the agent returns nothing of a killed job);
#   2. SIGKILL to the agent (the guest) while the job writes (nothing was pushed yet);
#   3. SIGKILL to the agent in the middle of the write-back, caught while ringbox-host holds
#      an upload's temporary file open (each output is committed atomically, or not at all);
#   4. SIGTERM to ringbox-host (HTCondor's vacate/remove): the job gets SIGTERM, returns
#      nothing, and the run ends 143.
# After each: no output or temporary file in the export, no mount, agent or job left.
source "$(dirname "$0")/lib.sh"

mkdir -p "$EXPORT/in"
head -c $((64 << 20)) /dev/urandom >"$EXPORT/in/pattern"
echo "original" >"$EXPORT/existing.txt"
cp "$EXPORT/existing.txt" "$T/existing.expected"

expect_job_gone() {
  local pid=$1
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.05
  done
  fail "$2: the job (pid $pid) is still running"
}

export_untouched() {
  expect_same "$T/existing.expected" "$EXPORT/existing.txt" "$1: an existing file was replaced"
  for f in out1 out2 out3 out4 out5 out6 partial; do expect_absent "$EXPORT/$f" "$1: output $f"; done
  expect_clean "$1"
}

# start_writer: a lazy-file job that has written partial and existing.txt locally and keeps
# rewriting partial; JOB is its pid once it said so.
start_writer() {
  start_job lazy-file -- sh -c '
    dd if=in/pattern of=partial bs=1M count=16 2>/dev/null
    echo "new contents" > existing.txt
    echo "jobpid $$" >&2
    while :; do dd if=in/pattern of=partial bs=1M count=1 conv=notrunc 2>/dev/null; done'
  wait_for_stderr "^jobpid" 30
  JOB=$(awk '/^jobpid/ {print $2}' "$ERR")
}

# 1. The job is killed while it writes.
start_writer
kill -KILL "$JOB"
wait_job
expect_rc 137 "job killed by SIGKILL"
expect_grep "killed by signal 9" "$ERR" "the agent reports the kill"
expect_job_gone "$JOB" "job killed by SIGKILL"
export_untouched "job killed by SIGKILL"

# 2. The guest (agent) is killed while the job writes.
start_writer
AGENT_PID=$(agent_pid)
kill -KILL "$AGENT_PID"
wait_job
expect_rc 125 "agent killed while the job runs"
expect_grep "without reporting the job's end" "$HOSTLOG" "ringbox-host says what happened"
expect_job_gone "$JOB" "agent killed while the job runs"
export_untouched "agent killed while the job runs"

# 3. The agent is killed in the middle of the write-back. The job writes six 64 MiB outputs
# (enough uploads that a busy machine cannot finish them all between our look and our kill)
# and exits; we watch ringbox-host's descriptors for an upload in progress (an unnamed
# temporary file in the export, or a hidden .ringbox-put name) and kill the agent right then.
start_job lazy-file -- sh -c '
  for f in out1 out2 out3 out4 out5 out6; do cat in/pattern > $f; done
  echo "new contents" > existing.txt
  exit 0'
caught=""
for _ in $(seq 1 4000); do
  if ls -l "/proc/$RUN_PID/fd" 2>/dev/null | grep -q -e "$EXPORT/#[0-9]* (deleted)" -e "\.ringbox-put"; then
    caught=yes
    break
  fi
  kill -0 "$RUN_PID" 2>/dev/null || break
  sleep 0.005
done
[ -n "$caught" ] || {
  wait_job
  dump
  fail "never saw an upload in progress (did the write-back run?)"
}
AGENT_PID=$(agent_pid || true)
[ -n "$AGENT_PID" ] || fail "no agent to kill during the write-back"
kill -KILL "$AGENT_PID"
wait_job
expect_rc 125 "agent killed during the write-back"
# Committed outputs are whole; the rest never appeared.
committed=0
for f in out1 out2 out3 out4 out5 out6; do
  if [ -e "$EXPORT/$f" ]; then
    expect_same "$EXPORT/in/pattern" "$EXPORT/$f" "output $f committed before the kill"
    committed=$((committed + 1))
  fi
done
[ "$committed" -lt 6 ] || fail "all outputs were committed before the kill: the test did not test"
if ! cmp -s "$T/existing.expected" "$EXPORT/existing.txt"; then
  printf 'new contents\n' | cmp -s - "$EXPORT/existing.txt" || fail "existing.txt is half-written"
fi
expect_clean "agent killed during the write-back"
echo "write-back interrupted after $committed of 6 outputs were committed"
rm -f "$EXPORT"/out? && cp "$T/existing.expected" "$EXPORT/existing.txt"

# 4. ringbox-host gets SIGTERM (HTCondor vacating or removing the job).
start_job lazy-file -- sh -c '
  trap "echo got-sigterm >&2; exit 143" TERM
  cat in/pattern > out1
  echo "jobpid $$" >&2
  while :; do sleep 0.1; done'
wait_for_stderr "^jobpid" 30
JOB=$(awk '/^jobpid/ {print $2}' "$ERR")
kill -TERM "$RUN_PID"
wait_job
expect_rc 143 "run stopped by SIGTERM"
expect_grep "got-sigterm" "$ERR" "the job was asked to stop with SIGTERM"
expect_grep "shut the job down" "$ERR" "the agent says outputs are not returned"
expect_job_gone "$JOB" "run stopped by SIGTERM"
export_untouched "run stopped by SIGTERM"
echo "PASS: kill_lazy"
