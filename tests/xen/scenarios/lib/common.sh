# shellcheck shell=sh
# Helpers for nested-Xen scenarios. A scenario is /scenarios/<name>.sh in the
# harness dom0 (busybox sh); it sources this file:
#   . /scenarios/lib/common.sh
# and then creates its guests, checks what it wants and exits 0 (PASS) or
# calls fail (FAIL). The environment comes from dom0's /init; see
# kernel-image/dom0-init.sh and docs/nested-harness.md.

: "${RINGBOX_SCENARIO:?run scenarios through dom0 /init (scripts/nested/run-scenario)}"

CONSOLE_LOG_DIR=/var/log/xen/console

# step MESSAGE: a progress line (shown by run-scenario --quiet too).
step() {
  echo "RINGBOX-STEP $RINGBOX_SCENARIO: $*"
}

# mark NAME: a timing line, seconds of dom0 uptime.
mark() {
  read -r up _ </proc/uptime
  step "mark $1 uptime=$up"
}

# fail REASON: end the scenario with FAIL REASON (one line).
fail() {
  reason=$(printf '%s' "$*" | tr '\n\r' '  ')
  printf '%s\n' "$reason" >"$RINGBOX_FAIL_REASON"
  step "FAILED: $reason"
  exit 1
}

# encode_agent_args ARG...: the value of ringbox.args= for these arguments:
# each argument followed by a LF, base64 without line breaks (the contract is
# in kernel-image/guest-init.sh).
# Status 1 when an argument holds a newline (not representable).
encode_agent_args() {
  for a in "$@"; do
    case $a in
      *"
"*) return 1 ;;
    esac
  done
  for a in "$@"; do
    printf '%s\n' "$a"
  done | base64 -w 0
}

# write_guest_config FILE NAME MEMORY_MIB [AGENT_ARG...]: an xl config for a
# ringbox PV guest with no network and no disk, on the guest pCPUs. Without
# agent arguments the agent runs with none. A guest that powers off, reboots
# or crashes is kept (shut down, not destroyed) until wait_domain_gone or
# dom0's /init destroys it: xenconsoled drains the console ring only while the
# domain exists, and under a loaded host the guest's last lines (or a panic)
# can still be in the ring when it stops.
write_guest_config() {
  file=$1 name=$2 memory=$3
  shift 3
  # The domain is kept after it stops (below), so the guest need not wait for
  # xenconsoled before powering off.
  extra="$RINGBOX_GUEST_KARGS ringbox.poweroff_delay=0"
  if [ $# -gt 0 ]; then
    args=$(encode_agent_args "$@") || fail "an agent argument holds a newline, which ringbox.args cannot carry"
    extra="$extra ringbox.args=$args"
  fi
  # Xen copies at most 1024 bytes of a PV guest's command line.
  [ ${#extra} -lt 1024 ] || fail "guest command line is ${#extra} bytes, the PV limit is 1023"
  {
    echo "name = \"$name\""
    echo 'type = "pv"'
    echo "kernel = \"$RINGBOX_GUEST_KERNEL\""
    echo "ramdisk = \"$RINGBOX_GUEST_INITRD\""
    echo "extra = \"$extra\""
    echo "memory = $memory"
    echo "maxmem = $memory"
    echo 'vcpus = 1'
    [ -z "$RINGBOX_GUEST_CPUS" ] || echo "cpus = \"$RINGBOX_GUEST_CPUS\""
    echo 'vif = []'
    echo 'disk = []'
    echo 'on_poweroff = "preserve"'
    echo 'on_reboot = "preserve"'
    echo 'on_crash = "preserve"'
  } >"$file"
}

# domid NAME: the domain id of NAME; status 1 when there is no such domain.
domid() {
  xl domid "$1" 2>/dev/null
}

# guest_console NAME: the guest's console so far, without "\r".
guest_console() {
  tr -d '\r' <"$CONSOLE_LOG_DIR/guest-$1.log" 2>/dev/null
}

# guest_line NAME ERE: the last console line of NAME matching ERE; status 1 if none.
guest_line() {
  guest_console "$1" | grep -E -- "$2" | tail -n 1 | grep .
}

# wait_guest_line NAME ERE SECONDS: wait until NAME printed a line matching ERE.
wait_guest_line() {
  n=$(($3 * 5))
  while [ "$n" -gt 0 ]; do
    guest_console "$1" | grep -qE -- "$2" && return 0
    sleep 0.2
    n=$((n - 1))
  done
  return 1
}

# wait_domain_gone NAME SECONDS: wait until domain NAME no longer exists or
# has stopped (shut down or crashed, kept by write_guest_config's actions). A
# stopped domain is destroyed here, once its console holds the guest's
# "RINGBOX-GUEST: poweroff" line or after at most 5 s more, so its console log
# is complete when this returns. Status 1 if NAME still runs after SECONDS.
wait_domain_gone() {
  n=$(($2 * 5))
  while :; do
    state=$(xl list "$1" 2>/dev/null | awk 'NR == 2 { print $5 }')
    [ -n "$state" ] || return 0
    case $state in
      *s* | *c*) break ;;
    esac
    [ "$n" -gt 0 ] || return 1
    sleep 0.2
    n=$((n - 1))
  done
  n=25
  while [ "$n" -gt 0 ] && ! guest_console "$1" | grep -q '^RINGBOX-GUEST: poweroff'; do
    sleep 0.2
    n=$((n - 1))
  done
  xl destroy "$1" 2>/dev/null
  ! xl domid "$1" >/dev/null 2>&1
}
