#!/bin/sh
# ringbox *bench* guest /init: PID 1 of the benchmark-only domU image that
# `kernel-image/build-guest-image --bench-nic` packs (busybox ash).
#
# This image exists to measure the ring against TCP through a vif in the same
# nested boot (tests/xen/scenarios/bench-vif.sh, docs/benchmarks.md). It is
# NOT the product guest: it has no ringbox-agent (so it can never run a job),
# and it has the one thing the product image must not have, the xen-netfront
# driver. dom0 keeps it under /boot/ringbox-bench/, apart from the product
# image in /boot/ringbox/.
#
# What it does: mount the pseudo file systems; print the interfaces (lo only
# until netfront is loaded); when the kernel command line has
# ringbox.bench_net, load xen-netfront, wait for eth0 and its carrier and give
# it that address; run ringbox-bench with the arguments from ringbox.args,
# every stdout line prefixed (below); report the exit status; power off.
#
# Kernel command line:
#   ringbox.args=<base64>        ringbox-bench's arguments, encoded exactly as
#                                for the product guest (kernel-image/guest-init.sh)
#   ringbox.bench_net=A.B.C.D/N  address of eth0 (the vif); absent: no NIC is
#                                brought up (the ring path alone still works)
#   ringbox.poweroff_delay=S     as in the product guest (default 1)
#
# Console lines (all start with "RINGBOX-GUEST: "):
#   init: kernel=<release> uptime=<s> image=bench
#   net-ifaces: <names>                   before netfront: "lo"
#   bench-net: eth0 <addr> carrier=1 ...  or  bench-net: FAILED <why>
#   bench argv: [arg] ...
#   bench: <a line ringbox-bench wrote to stdout>   (JSON with --json)
#   bench exit=<status>
#   poweroff uptime=<s>

PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

# shellcheck disable=SC2034 # used by say (init-lib.sh)
INIT_TAG=RINGBOX-GUEST
# Fixed as PID 1 (the kernel turns unknown "name=value" words of its command
# line into PID 1's environment); tests that source this file may point
# RINGBOX_INIT_LIB at the repository's copy.
if [ "$$" -eq 1 ]; then INIT_LIB=/lib/ringbox/init-lib.sh; else INIT_LIB=${RINGBOX_INIT_LIB:-/lib/ringbox/init-lib.sh}; fi
# shellcheck source-path=SCRIPTDIR source=init-lib.sh
. "$INIT_LIB"

BENCH=/usr/bin/ringbox-bench
BENCH_MODULE_DIR=/lib/modules/ringbox-bench

# wait_for SECONDS TEST...: poll TEST every 0.1 s; status 1 after SECONDS.
wait_for() {
  n=$(($1 * 10))
  shift
  while ! "$@"; do
    [ "$n" -gt 0 ] || return 1
    sleep 0.1
    n=$((n - 1))
  done
}

carrier_up() {
  [ "$(cat /sys/class/net/eth0/carrier 2>/dev/null)" = 1 ]
}

# bring_up_nic ADDR/PREFIX: load netfront, wait for eth0, address it, wait
# for the carrier (netback connects once dom0's hotplug script has run).
bring_up_nic() {
  case $1 in
    *[!0-9./]* | */*/* | [!0-9]* | */) bad=1 ;;
    */*) bad=0 ;;
    *) bad=1 ;;
  esac
  [ "$bad" -eq 0 ] || { say "bench-net: FAILED ringbox.bench_net='$1' is not A.B.C.D/N"; return 1; }
  insmod "$BENCH_MODULE_DIR/xen-netfront.ko" ||
    { say "bench-net: FAILED insmod $BENCH_MODULE_DIR/xen-netfront.ko"; return 1; }
  wait_for 20 test -e /sys/class/net/eth0 ||
    { say "bench-net: FAILED no eth0 20 s after loading xen-netfront (does the domain have a vif?)"; return 1; }
  ip link set lo up
  ip addr add "$1" dev eth0 || { say "bench-net: FAILED ip addr add $1 dev eth0"; return 1; }
  ip link set eth0 up || { say "bench-net: FAILED ip link set eth0 up"; return 1; }
  wait_for 20 carrier_up ||
    { say "bench-net: FAILED eth0 has no carrier after 20 s (did dom0's vif hotplug script report connected?)"; return 1; }
  say "bench-net: eth0 $1 carrier=1 mtu=$(cat /sys/class/net/eth0/mtu) uptime=$(uptime_s)"
}

# run_bench ARGFILE: ringbox-bench with the arguments in ARGFILE (one per
# line), each stdout line prefixed; status: ringbox-bench's.
run_bench() {
  argfile=$1
  set --
  while IFS= read -r arg || [ -n "$arg" ]; do
    set -- "$@" "$arg"
  done <"$argfile"
  argv=
  for arg in "$@"; do argv="$argv [$arg]"; done
  say "bench argv:${argv:- (none)}"
  [ -x "$BENCH" ] || { say "bench missing: $BENCH is not in this image"; return 127; }
  status_file=/run/ringbox/bench.status
  { env -i PATH="$PATH" HOME=/root TMPDIR=/tmp "$BENCH" "$@" </dev/null; echo $? >"$status_file"; } |
    while IFS= read -r line; do say "bench: $line"; done
  read -r rc <"$status_file" || rc=1
  return "$rc"
}

main() {
  mount -t proc -o nosuid,nodev,noexec proc /proc
  mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
  mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev
  mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /tmp
  mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /run
  mkdir -p /run/ringbox
  say "init: kernel=$(uname -r) uptime=$(uptime_s) image=bench"
  say "net-ifaces: $(list_or_none /sys/class/net)"
  say "xen-devices: bus=$(list_or_none /sys/bus/xen/devices) dev=$(list_or_none /dev/xen)"

  rc=0
  if net=$(cmdline_value ringbox.bench_net); then
    bring_up_nic "$net" || rc=3
  fi
  args_file=/run/ringbox/bench.args
  : >"$args_file"
  if [ "$rc" -eq 0 ] && encoded=$(cmdline_value ringbox.args); then
    case $encoded in
      *[!A-Za-z0-9+/=]*) say "ringbox.args is not base64"; rc=2 ;;
      *) printf '%s' "$encoded" | base64 -d >"$args_file" || { say "ringbox.args: base64 decoding failed"; rc=2; } ;;
    esac
  fi
  if [ "$rc" -eq 0 ]; then
    run_bench "$args_file"
    rc=$?
  fi
  say "bench exit=$rc"
  delay=$(cmdline_value ringbox.poweroff_delay) || delay=1
  case $delay in
    "" | *[!0-9.]* | *.*.*) delay=1 ;;
  esac
  say "poweroff uptime=$(uptime_s)"
  sleep "$delay"
  poweroff -f
  echo o >/proc/sysrq-trigger
  while :; do sleep 60; done
}

if [ "$$" -eq 1 ]; then
  main
fi
