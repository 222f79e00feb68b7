#!/bin/sh
# ringbox guest /init: PID 1 of a ringbox domU (busybox ash, from the
# initramfs that kernel-image/build-guest-image packs).
#
# It mounts the pseudo file systems, prints evidence that the domain has no
# network device, loads fuse, runs ringbox-agent with the arguments that dom0
# put on the kernel command line, reports the agent's exit status and powers
# the domain off. It configures no network: the image has no NIC driver
# (xen-netfront is a module that is not included) and nothing here touches
# an interface, not even lo.
#
# Kernel command line (set by dom0 through the domain's "extra"):
#   ringbox.args=<base64>
#       The agent's arguments. Encoding: each argument followed by one LF
#       (0x0a), the whole byte string base64-encoded (RFC 4648 section 4:
#       A-Z a-z 0-9 + /, "=" padding, no line breaks). Arguments may hold
#       spaces, commas, quotes and any byte except LF and NUL. The value has
#       no spaces, so the kernel keeps it in one word. Example: the two
#       arguments "--version" and "a b" are "--version\na b\n", that is
#       ringbox.args=LS12ZXJzaW9uCmEgYgo=
#       Absent: the agent runs with no arguments. Malformed: the agent is
#       not run and the status is 2.
#       A PV guest's whole command line is limited to 1024 bytes
#       (MAX_GUEST_CMDLINE), so keep the arguments short: bulk data goes over
#       the ring, not here.
#   ringbox.poweroff_delay=<seconds>
#       Wait this long after the last line before powering off (default 1;
#       digits and a dot), so that xenconsoled can drain the console ring.
#       0 suits a domain whose shutdown dom0 preserves until it has read the
#       console (the harness does that).
#
# Console lines for the harness all start with "RINGBOX-GUEST: ":
#   init: kernel=<release> uptime=<s>
#   net-ifaces: <names in /sys/class/net>            (only "lo" is expected)
#   xen-devices: bus=<xenbus devices> dev=</dev/xen entries>
#   agent argv: [arg] [arg] ...                      (then the agent's own output)
#   agent missing: ...                               (no /usr/bin/ringbox-agent)
#   agent exit=<status>
#   poweroff uptime=<s>
#
# The Xen modules (xen-evtchn, xen-gntalloc, xen-gntdev) are left to the
# agent, which loads them itself from /lib/modules/ringbox/<name>.ko.
#
# The functions can be sourced by tests on the host: main only runs as PID 1.

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

AGENT=${AGENT:-/usr/bin/ringbox-agent} # tests that source this file set it
MODULE_DIR=/lib/modules/ringbox

mount_filesystems() {
  mount -t proc -o nosuid,nodev,noexec proc /proc || say "mount /proc failed"
  mount -t sysfs -o nosuid,nodev,noexec sysfs /sys || say "mount /sys failed"
  mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev || say "mount /dev failed"
  mkdir -p /dev/pts /dev/shm
  mount -t devpts -o nosuid,noexec,mode=0620,ptmxmode=0666 devpts /dev/pts ||
    say "mount /dev/pts failed"
  mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /dev/shm || say "mount /dev/shm failed"
  mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /tmp || say "mount /tmp failed"
  mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /run || say "mount /run failed"
}

# decode_agent_args BASE64 OUT: write the decoded arguments (LF-terminated) to
# OUT. Status 1, with a message, when BASE64 is not canonical base64.
# busybox base64 skips characters it does not know, so check the alphabet and
# the length first.
decode_agent_args() {
  case $1 in
    *[!A-Za-z0-9+/=]*)
      say "ringbox.args is not base64 (bad character)"
      return 1
      ;;
  esac
  if [ $((${#1} % 4)) -ne 0 ]; then
    say "ringbox.args is not base64 (length ${#1} is not a multiple of 4)"
    return 1
  fi
  body=${1%=}
  case ${body%=} in
    *=*)
      say "ringbox.args is not base64 ('=' before the end)"
      return 1
      ;;
  esac
  printf '%s' "$1" | base64 -d >"$2" || {
    say "ringbox.args: base64 decoding failed"
    return 1
  }
}

# run_agent ARGFILE: run the agent with the arguments in ARGFILE (one per
# line), with a clean environment, stdin from /dev/null. Prints the argv.
# Status: the agent's, 127 when the agent is not in the image.
run_agent() {
  argfile=$1
  set --
  while IFS= read -r arg || [ -n "$arg" ]; do
    set -- "$@" "$arg"
  done <"$argfile"
  argv=
  for arg in "$@"; do argv="$argv [$arg]"; done
  say "agent argv:${argv:- (none)}"
  if [ ! -x "$AGENT" ]; then
    say "agent missing: $AGENT is not in this image; build ringbox-agent, then rebuild the image with kernel-image/build-guest-image --agent <path>"
    return 127
  fi
  # The lazy-file cache holds each cached file by an open descriptor: a job that reads a few
  # thousand files needs more than the default 1024 (soft) / 4096 (hard).
  # shellcheck disable=SC3045 # busybox ash has ulimit -n
  ulimit -n 65536 || say "cannot raise the open file limit; lazy-file jobs reading many files may fail"
  env -i PATH="$PATH" HOME=/root TMPDIR=/tmp "$AGENT" "$@" </dev/null
}

# power_off DELAY: the last line, DELAY seconds for the console, power off.
power_off() {
  say "poweroff uptime=$(uptime_s)"
  # xenconsoled drains the console ring only while the domain exists: a domain
  # that is destroyed at once loses its last lines, so give it time (0 is
  # right when dom0 keeps the shut-down domain until it has read the console).
  sleep "$1"
  poweroff -f
  echo o >/proc/sysrq-trigger
  # PID 1 must never exit (the kernel would panic).
  while :; do sleep 60; done
}

main() {
  # Fixed here: the kernel passes unknown "name=value" words of its command
  # line to PID 1 as environment, and those must not pick the program.
  AGENT=/usr/bin/ringbox-agent
  mount_filesystems
  say "init: kernel=$(uname -r) uptime=$(uptime_s)"
  say "net-ifaces: $(list_or_none /sys/class/net)"
  say "xen-devices: bus=$(list_or_none /sys/bus/xen/devices) dev=$(list_or_none /dev/xen)"

  # The job's file view is a FUSE mount; /dev/fuse appears once this is in.
  insmod "$MODULE_DIR/fuse.ko" 2>/dev/null || [ -e /dev/fuse ] || say "insmod fuse failed"
  # fusectl lets the agent abort a view whose unmount hangs (guest/fs/mount.h).
  [ ! -d /sys/fs/fuse/connections ] ||
    mount -t fusectl fusectl /sys/fs/fuse/connections 2>/dev/null || say "mount fusectl failed"

  mkdir -p /run/ringbox
  args_file=/run/ringbox/agent.args
  : >"$args_file"
  rc=0
  if encoded=$(cmdline_value ringbox.args /proc/cmdline); then
    decode_agent_args "$encoded" "$args_file" || rc=2
  fi
  if [ "$rc" -eq 0 ]; then
    run_agent "$args_file"
    rc=$?
  fi
  say "agent exit=$rc"
  delay=$(cmdline_value ringbox.poweroff_delay /proc/cmdline) || delay=1
  case $delay in
    "" | *[!0-9.]* | *.*.*) delay=1 ;;
  esac
  power_off "$delay"
}

if [ "$$" -eq 1 ]; then
  main
fi
