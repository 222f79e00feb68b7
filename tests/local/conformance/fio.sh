#!/usr/bin/env bash
# Issue 8, Deliver 6: fio with --verify (random write then verify, random read verifying what
# was written, mixed random read/write verifying, and the same through mmap) in a local
# directory (the reference) and in the view of MODE. Each fio job's status and its verify
# errors are printed and compared. Afterwards fio reads back and verifies the data file that
# reached the export (and the reference's): what the job wrote must be what the submit side has
# (the bytes themselves differ between runs: fio's verify headers hold times).
source "$(dirname "$0")/../lib.sh"
MODE=${1:?usage: fio.sh auto|remote-io|lazy-file|eager}
JOB='
run() {
  name=$1; shift
  fio --name="$name" --filename=fio.dat --size=16m --bs=4k --direct=0 --randrepeat=1 \
    --verify=crc32c --verify_fatal=1 "$@" >"fio-$name.log" 2>&1
  rc=$?
  errs=$(grep -ciE "verify|bad|error=" "fio-$name.log" | head -1)
  echo "$name: rc=$rc verify/error lines=$([ $rc = 0 ] && echo - || echo "$errs")"
  [ $rc = 0 ] || grep -iE "verify|bad|error|fio:" "fio-$name.log" | head -3 | sed "s/^/  $name: /"
}
run randwrite --rw=randwrite
run randread --rw=randread
run randrw --rw=randrw --rwmixread=50
run mmap-randwrite --rw=randwrite --ioengine=mmap
run mmap-randread --rw=randread --ioengine=mmap
rm -f fio-*.log
'
source "$(dirname "$0")/lib_diff.sh"
run_both_and_compare fio
verify_result() {
  fio --name=result --filename="$1/fio.dat" --size=16m --bs=4k --rw=read --verify=crc32c \
    --verify_fatal=1 --verify_only >"$T/verify.log" 2>&1 && echo ok || echo "failed: $(grep -m1 -iE 'bad|error=' "$T/verify.log")"
}
LOCAL_V=$(verify_result "$T/ref")
VIEW_V=$(verify_result "$EXPORT")
if [ "$LOCAL_V" != "$VIEW_V" ]; then
  echo "CHECK fio verify of the file on the export ($MODE): local=$LOCAL_V view=$VIEW_V" >&2
  fail "fio's data on the export differs from what the job wrote"
fi
echo "PASS: fio data on the export verified ($VIEW_V)"
