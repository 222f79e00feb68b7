#!/usr/bin/env bash
# Real pool: a broken ringbox setup puts the job back to idle with the reason in the job's
# VacateReason (HTCondor's wrapper-failure path, $_CONDOR_WRAPPER_ERROR_FILE), never a completed
# job with a made-up exit code.
#   a bad attribute       +RingboxMode = "turbo"
#   refused by policy     request_memory above the service's max_memory_mib
#   no Xen                transport xen on a machine that is not a Xen dom0 (where it is not)
#   no service            the service is not running
source "$(dirname "$0")/pool_lib.sh"

start_service
start_pool
say "pool up in $D; service pid $SERVICE_PID"
printf '#!/bin/sh\necho ran > ran.txt\n' > "$D/jobs/job.sh"
chmod 755 "$D/jobs/job.sh"

# expect_idle NAME EXTRA_SUBMIT_LINE MESSAGE
expect_idle() {
  job_sub "$D/jobs/$1" "executable = ../job.sh" "$2"
  expect_requeued "$1" "$(submit "$D/jobs/$1")" "$3"
  [ ! -e "$D/jobs/$1/ran.txt" ] || fail "$1: the job ran"
}

expect_idle bad-attribute '+RingboxMode = "turbo"' 'RingboxMode "turbo" is not a ringbox mode'
expect_idle policy 'request_memory = 100
+RingboxImage = "missing"' "no guest image named 'missing'"
if [ ! -e /proc/xen/privcmd ] && [ ! -e /dev/xen/privcmd ]; then
  # transport xen on a machine that is no Xen dom0: libxl cannot start, the job waits.
  stop_service
  kernel=$(ls /boot/vmlinuz-* 2>/dev/null | head -n1)
  initrd=$(ls /boot/initrd.img-* 2>/dev/null | head -n1)
  if [ -n "$kernel" ] && [ -n "$initrd" ]; then
    start_service xen "image.default = $kernel $initrd"
    expect_idle no-xen '' "this is not a Xen domain"
  else
    say "no-xen: skipped (no /boot kernel and initrd to name as the guest image)"
  fi
fi
stop_service
expect_idle no-service '' "cannot reach ringbox's service"
wait_no_leftovers 5 "after the refused jobs"
echo "PASS: bad attribute, refusal by policy, no Xen and a missing service put the job back to idle"
