#!/bin/sh
# ringbox nested-harness dom0 /init (busybox ash, PID 1 of the PV dom0 that
# kernel-image/build-dom0-image packs).
#
# Brings up a minimal Xen toolstack (modules, xenfs, C xenstored,
# xen-init-dom0, xenconsoled), relays every guest console to this console
# with a "[domU] " prefix, runs one scenario, prints one verdict line and
# ends the machine (a reboot, which QEMU -no-reboot turns into an exit). The scenario creates its domains itself (xl, or
# ringbox-host through libxl); nothing here starts a guest.
#
# dom0 kernel command line (scripts/nested/run-scenario sets it):
#   ringbox.scenario=NAME   run /scenarios/NAME.sh (required)
#   ringbox.timeout=S       give the scenario S seconds (default 120)
#
# Scenario contract (see docs/nested-harness.md): run with sh from
# /run/ringbox/work, with the environment below; exit 0 is PASS, anything
# else is FAIL with the reason written to $RINGBOX_FAIL_REASON (the helpers
# in /scenarios/lib/common.sh do that), else "exit status N".
#   RINGBOX_SCENARIO       the name
#   RINGBOX_GUEST_KERNEL   guest ELF kernel      RINGBOX_GUEST_INITRD  guest initrd
#   RINGBOX_GUEST_KARGS    guest kernel arguments to use (console, speed-ups)
#   RINGBOX_GUEST_CPUS     pCPUs for guests ("1" with 2 pCPUs, dom0 is on 0;
#                          empty with one pCPU: do not pin)
#   RINGBOX_WORK           scratch directory    RINGBOX_FAIL_REASON  see above
#
# Output: "RINGBOX-DOM0: ..." progress lines (mark <step> uptime=<s> for the
# timings), the scenario's own lines, "[domU] ..." guest lines and, last,
#   RINGBOX-SCENARIO NAME: PASS      or      RINGBOX-SCENARIO NAME: FAIL <reason>

PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

# shellcheck disable=SC2034 # used by say (init-lib.sh)
INIT_TAG=RINGBOX-DOM0
# Fixed as PID 1 (the kernel turns unknown "name=value" words of its command
# line into PID 1's environment); tests that source this file may point
# RINGBOX_INIT_LIB at the repository's copy.
if [ "$$" -eq 1 ]; then INIT_LIB=/lib/ringbox/init-lib.sh; else INIT_LIB=${RINGBOX_INIT_LIB:-/lib/ringbox/init-lib.sh}; fi
# shellcheck source-path=SCRIPTDIR source=init-lib.sh
. "$INIT_LIB"

mark() {
  read -r up _ </proc/uptime
  say "mark $1 uptime=$up"
}

mount_filesystems() {
  mount -t proc proc /proc
  mount -t sysfs sysfs /sys
  mount -t devtmpfs devtmpfs /dev
  mkdir -p /dev/pts /dev/shm
  mount -t devpts -o mode=0620,ptmxmode=0666 devpts /dev/pts
  mount -t tmpfs tmpfs /dev/shm
  mount -t tmpfs -o mode=0755 tmpfs /run
  mkdir -p /run/xen /run/xenstored /run/lock /run/ringbox/work
}

# Debian builds the Xen device drivers as modules without device aliases, so
# opening /dev/xen/* loads nothing: load them all, dependencies first.
load_modules() {
  while read -r m; do
    insmod "/lib/modules/ringbox/$m.ko" || say "insmod $m failed"
  done </etc/ringbox/modules
}

# start_toolstack: status 1 and TOOLSTACK_ERROR set when a daemon fails.
start_toolstack() {
  # xenstored finds its ring through /proc/xen/xsd_kva and xsd_port.
  mount -t xenfs xenfs /proc/xen || { TOOLSTACK_ERROR="mount xenfs on /proc/xen failed"; return 1; }
  # The C xenstored keeps its database in memory and needs no config file.
  xenstored --pid-file /run/xenstored.pid ||
    { TOOLSTACK_ERROR="xenstored did not start"; return 1; }
  xen-init-dom0 >/dev/null || { TOOLSTACK_ERROR="xen-init-dom0 failed"; return 1; }
  xenconsoled --pid-file=/run/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console ||
    { TOOLSTACK_ERROR="xenconsoled did not start"; return 1; }
  return 0
}

# With two or more pCPUs dom0 keeps pCPU 0 and guests get the rest, so a
# guest boots (and a ring peer polls) without stealing dom0's CPU.
pin_cpus() {
  nr=$(xl info 2>/dev/null | awk '$1 == "nr_cpus" { print $3 }')
  RINGBOX_GUEST_CPUS=
  if [ "${nr:-1}" -ge 2 ] && xl vcpu-pin Domain-0 0 0; then
    if [ "$nr" -eq 2 ]; then RINGBOX_GUEST_CPUS=1; else RINGBOX_GUEST_CPUS=1-$((nr - 1)); fi
  fi
  say "pcpus=${nr:-?} dom0-cpu=0 guest-cpus=${RINGBOX_GUEST_CPUS:-any}"
}

start_console_relay() {
  mkdir -p /var/log/xen/console
  mkfifo /run/ringbox/relay.wake
  # The ticker sends "tick" every 0.2 s, and "flush" once the flag file
  # exists. A byte written to the fifo ends the wait early. The wait is the
  # builtin read -t, so no process is forked per tick; what was read is
  # ignored (a read cut short by its timeout may hold half a word), only the
  # flag file counts.
  (
    exec 3<>/run/ringbox/relay.wake
    while [ ! -e /run/ringbox/relay.flush ]; do
      echo tick
      # shellcheck disable=SC3045 # busybox ash has read -t
      read -r -t 0.2 _ <&3
    done
    echo flush
  ) | awk -v dir=/var/log/xen/console -f /usr/lib/ringbox/console-relay.awk &
  RELAY_PID=$!
}

# stop_console_relay: print what the guests wrote up to now, then stop.
stop_console_relay() {
  [ -n "${RELAY_PID:-}" ] || return 0
  : >/run/ringbox/relay.flush
  # Opened read-write: opening a fifo write-only blocks while it has no
  # reader, and the ticker may already have seen the flag and left.
  exec 4<>/run/ringbox/relay.wake
  echo >&4
  exec 4>&-
  (
    sleep 10
    say "the console relay did not finish within 10 s; stopping it"
    kill "$RELAY_PID"
  ) &
  watchdog=$!
  wait "$RELAY_PID"
  rc=$?
  kill "$watchdog" 2>/dev/null
  [ "$rc" -eq 0 ] || say "the console relay exited with status $rc"
}

destroy_leftover_domains() {
  for d in $(xl list 2>/dev/null | awk 'NR > 1 && $2 != 0 { print $2 }'); do
    say "destroying domain $d left by the scenario"
    xl destroy "$d" || say "xl destroy $d failed"
  done
}

# run_scenario NAME TIMEOUT: sets RESULT to PASS or "FAIL <reason>".
run_scenario() {
  name=$1 timeout=$2 script=/scenarios/$1.sh
  case $name in
    "" | *[!A-Za-z0-9_-]*)
      RESULT="FAIL bad or missing ringbox.scenario= on the kernel command line: '$name'"
      return
      ;;
  esac
  if [ ! -f "$script" ]; then
    have=
    for f in /scenarios/*.sh; do
      [ -e "$f" ] && have="$have ${f##*/}"
    done
    RESULT="FAIL no $script in this dom0 image (have:${have:- none})"
    return
  fi
  export RINGBOX_SCENARIO="$name" RINGBOX_WORK=/run/ringbox/work \
    RINGBOX_FAIL_REASON=/run/ringbox/fail-reason RINGBOX_GUEST_CPUS
  rm -f "$RINGBOX_FAIL_REASON" /run/ringbox/timed-out
  mark scenario-start
  # Own session, so that a timeout kills the scenario's children (xl,
  # ringbox-host) too.
  (cd "$RINGBOX_WORK" && exec setsid sh "$script") &
  spid=$!
  (
    sleep "$timeout"
    : >/run/ringbox/timed-out
    kill -TERM -"$spid" 2>/dev/null
    sleep 5
    kill -KILL -"$spid" 2>/dev/null
  ) &
  wpid=$!
  wait "$spid"
  rc=$?
  kill "$wpid" 2>/dev/null
  mark scenario-end
  if [ -e /run/ringbox/timed-out ]; then
    RESULT="FAIL timed out after ${timeout} s"
  elif [ "$rc" -eq 0 ]; then
    RESULT=PASS
  elif [ -s "$RINGBOX_FAIL_REASON" ]; then
    RESULT="FAIL $(head -c 300 "$RINGBOX_FAIL_REASON" | tr '\n\r' '  ')"
  else
    RESULT="FAIL exit status $rc"
  fi
}

main() {
  mount_filesystems
  mark init
  # shellcheck source=/dev/null # written by build-dom0-image
  . /etc/ringbox/nested.env
  export RINGBOX_GUEST_KERNEL RINGBOX_GUEST_INITRD RINGBOX_GUEST_KARGS
  PATH=$PATH:$XEN_BIN_DIR
  export PATH
  scenario=$(cmdline_value ringbox.scenario) || scenario=
  timeout=$(cmdline_value ringbox.timeout) || timeout=120
  case $timeout in "" | *[!0-9]*) timeout=120 ;; esac

  load_modules
  if start_toolstack; then
    mark toolstack-up
    pin_cpus
    start_console_relay
    run_scenario "$scenario" "$timeout"
    destroy_leftover_domains
    stop_console_relay
  else
    RESULT="FAIL toolstack: $TOOLSTACK_ERROR"
  fi
  # The verdict on a line of its own: the kernel's console messages stop, and a second lets
  # what the console still holds drain (a resumed guest's last lines and a step were once
  # interleaved on the serial line, and the verdict began mid-line).
  dmesg -n 1 2>/dev/null || true
  sleep 1
  mark end
  printf '\n%s\n' "RINGBOX-SCENARIO ${scenario:-(none)}: $RESULT"
  # Reboot, not power off: QEMU runs with -no-reboot, so a reboot ends it at
  # once, while Xen's ACPI S5 (power off) path first reads the CMOS clock and
  # waits for its next second tick, up to 1 s per run.
  reboot -f
  echo b >/proc/sysrq-trigger
  while :; do sleep 60; done
}

main
