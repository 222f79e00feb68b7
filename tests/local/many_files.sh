#!/usr/bin/env bash
# 1,000 small input files read and 1,000 small outputs written by one job (remote-io,
# lazy-file or eager): every input reaches the job (a checksum over all of them, and the
# count), every output reaches the export with the right contents.
source "$(dirname "$0")/lib.sh"
MODE=${1:?usage: many_files.sh auto|remote-io|lazy-file|eager}
N=1000

mkdir -p "$EXPORT/in" "$EXPORT/outs"
INPUTS=()
for i in $(seq -w 1 $N); do
  echo "input file number $i" >"$EXPORT/in/f$i"
  [ "$MODE" = eager ] && INPUTS+=(--input "in/f$i")
done
(cd "$EXPORT" && cat in/* | sha256sum) >"$T/sum.expected"

start=$(date +%s.%N)
run_job "$MODE" "${INPUTS[@]}" -- sh -c '
  set -e
  cat in/* | sha256sum > sum.txt
  ls in | wc -l > count.txt
  mkdir -p outs
  i=1
  while [ $i -le '"$N"' ]; do echo "output $i" > outs/o$i; i=$((i + 1)); done'
end=$(date +%s.%N)
expect_rc 0 "$MODE job with $N files"
expect_same "$T/sum.expected" "$EXPORT/sum.txt" "checksum over $N inputs"
[ "$(tr -d ' ' <"$EXPORT/count.txt")" = "$N" ] || fail "$MODE: the job saw $(cat "$EXPORT/count.txt") inputs"
n=$(ls "$EXPORT/outs" | wc -l)
[ "$n" = "$N" ] || fail "$MODE: $n of $N outputs arrived"
for i in $(seq 1 $N); do
  [ "$(cat "$EXPORT/outs/o$i")" = "output $i" ] || fail "$MODE: outs/o$i is wrong"
done
expect_clean "$MODE job with $N files"
echo "PASS: $MODE $N files in $(echo "$end - $start" | bc) s"
