#!/usr/bin/env bash
# The job's file view in one mode (remote-io, lazy-file or eager): a shell job reads its inputs
# with cat, sha256sum and dd, writes outputs with echo >, >>, dd and mv, makes directories,
# changes an input in place, truncates a file, and exits with a code of its own. Afterwards the
# export must hold exactly what the job wrote, byte for byte, stdout and stderr must have
# arrived, and the run must leave nothing behind. Then the exit-status rules: a job killed by a
# signal gives 128+N (and, except in remote-io, returns no outputs), and a command that does
# not exist gives 127.
source "$(dirname "$0")/lib.sh"
MODE=${1:?usage: modes.sh auto|remote-io|lazy-file|eager}

mkdir -p "$EXPORT/in/sub"
echo "contents of a" >"$EXPORT/in/a.txt"
head -c 1048577 /dev/urandom >"$EXPORT/in/bin.dat"  # odd size: not a multiple of any chunk
echo "deep file" >"$EXPORT/in/sub/deep.txt"
echo "will be emptied" >"$EXPORT/trunc.txt"
INPUTS=()
if [ "$MODE" = eager ]; then
  INPUTS=(--input in/a.txt --input in/bin.dat --input in/sub/deep.txt --input trunc.txt)
fi

run_job "$MODE" "${INPUTS[@]}" -- sh -c '
  set -e
  cat in/a.txt
  sha256sum in/bin.dat > sums.txt
  dd if=in/bin.dat of=copy.dat bs=65536 2>/dev/null
  mkdir -p res/nested
  echo "hello from the job" > res/nested/hello.txt
  echo "renamed" > res/tmp.txt
  mv res/tmp.txt res/moved.txt
  ls in | sort > listing.txt
  echo "appended" >> listing.txt
  printf X | dd of=in/sub/deep.txt bs=1 count=1 conv=notrunc 2>/dev/null
  : > trunc.txt
  echo "to stderr" >&2
  exit 7'
expect_rc 7 "$MODE job with exit 7"
expect_grep "contents of a" "$OUT" "stdout streamed"
expect_grep "to stderr" "$ERR" "stderr streamed"
expect_same "$EXPORT/in/bin.dat" "$EXPORT/copy.dat" "dd copy of a 1 MiB + 1 input"
(cd "$EXPORT" && sha256sum in/bin.dat) >"$T/sums.expected"
expect_same "$T/sums.expected" "$EXPORT/sums.txt" "sha256sum computed in the job"
printf 'hello from the job\n' >"$T/hello.expected"
expect_same "$T/hello.expected" "$EXPORT/res/nested/hello.txt" "file in a new directory"
printf 'renamed\n' >"$T/moved.expected"
expect_same "$T/moved.expected" "$EXPORT/res/moved.txt" "renamed file"
expect_absent "$EXPORT/res/tmp.txt" "the rename's old name"
printf 'a.txt\nbin.dat\nsub\nappended\n' >"$T/listing.expected"
expect_same "$T/listing.expected" "$EXPORT/listing.txt" "ls output plus an append"
printf 'Xeep file\n' >"$T/deep.expected"
expect_same "$T/deep.expected" "$EXPORT/in/sub/deep.txt" "input changed in place"
[ -f "$EXPORT/trunc.txt" ] && [ ! -s "$EXPORT/trunc.txt" ] || fail "$MODE: trunc.txt not emptied"
expect_clean "$MODE job"

# Names and open files, as POSIX has them: an unlinked file stays readable through an open
# descriptor, a directory renamed under a process keeps working as its cwd and under its new
# name, a rename over an existing file replaces it, rmdir of a non-empty directory fails.
echo "still here" >"$EXPORT/doomed.txt"
INPUTS=()
[ "$MODE" = eager ] && INPUTS=(--input doomed.txt)
run_job "$MODE" "${INPUTS[@]}" -- sh -c '
  set -e
  exec 3< doomed.txt
  rm doomed.txt
  [ ! -e doomed.txt ]
  cat <&3 > from_unlinked.txt
  mkdir -p olddir/sub
  echo inside > olddir/sub/f
  cd olddir/sub
  mv ../../olddir ../../newdir
  cat f > ../../moved_cwd.txt
  cd ../..
  cat newdir/sub/f >> moved_cwd.txt
  echo first > a1 && echo second > a2 && mv a2 a1
  if rmdir newdir 2>/dev/null; then echo "rmdir of a non-empty dir worked"; exit 1; fi
  exit 0'
expect_rc 0 "$MODE names and open files"
printf 'still here\n' >"$T/unlinked.expected"
expect_same "$T/unlinked.expected" "$EXPORT/from_unlinked.txt" "read through an unlinked file's fd"
printf 'inside\ninside\n' >"$T/moved.expected"
expect_same "$T/moved.expected" "$EXPORT/moved_cwd.txt" "cwd inside a renamed directory"
printf 'second\n' >"$T/a1.expected"
expect_same "$T/a1.expected" "$EXPORT/a1" "rename over an existing file"
expect_absent "$EXPORT/a2" "the renamed file's old name"
expect_absent "$EXPORT/olddir" "the renamed directory's old name"
if [ "$MODE" != eager ]; then
  expect_absent "$EXPORT/doomed.txt" "$MODE: unlinked input"  # eager never removes inputs
fi
expect_clean "$MODE names and open files"

# Killed by a signal: 128 + N, like a shell. lazy-file and eager return nothing of such a job.
run_job "$MODE" -- sh -c 'echo partial > killed.txt; kill -TERM $$; sleep 5'
expect_rc 143 "$MODE job killed by SIGTERM"
if [ "$MODE" = remote-io ]; then
  [ -f "$EXPORT/killed.txt" ] || fail "remote-io: the write before the kill did not reach the export"
else
  expect_absent "$EXPORT/killed.txt" "$MODE: output of a job killed by a signal"
  expect_grep "outputs are not returned" "$ERR" "the agent says why"
fi
expect_clean "$MODE killed job"

# A command that does not exist: 127, and the reason on the job's stderr.
run_job "$MODE" -- no-such-command-ringbox
expect_rc 127 "$MODE missing command"
expect_grep "ringbox-agent: cannot run 'no-such-command-ringbox'" "$ERR" "the agent says why"
expect_clean "$MODE missing command"
echo "PASS: $MODE"
