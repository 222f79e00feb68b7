#!/usr/bin/env bash
# Issue 8, Deliver 6: fio with --verify (random write then verify, random read verifying what
# was written, mixed random read/write verifying, and the same through mmap) in a local
# directory (the reference) and in the view of MODE. Each fio job's status and its verify
# errors are printed and compared; the data file's final hash on the export is compared with
# the reference's (fio's patterns are seeded, so both are the same bytes).
source "$(dirname "$0")/../lib.sh"
MODE=${1:?usage: fio.sh remote-io|lazy-file|eager}
JOB='
run() {
  name=$1; shift
  fio --name="$name" --filename=fio.dat --size=16m --bs=4k --direct=0 --randrepeat=1 \
    --verify=crc32c --verify_fatal=1 --norandommap "$@" >"fio-$name.log" 2>&1
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
sha256sum fio.dat | cut -c1-16
rm -f fio-*.log
'
source "$(dirname "$0")/lib_diff.sh"
run_both_and_compare fio
