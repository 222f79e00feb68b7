#!/bin/sh
# domain-lifecycle: ringbox-host creates, serves and destroys its own guest
# domain through libxl (no xl create anywhere here), and leaves no orphan when
# it is killed. See docs/domain-lifecycle.md.
#
# 1. served:   ringbox-host boot --serve creates a PV domain with no vif and no
#              disk, pinned to the guest pCPU; the agent in it (--transport xen
#              --ping N) attaches and pings; the guest powers off; boot destroys
#              the domain and exits 0. Checks: boot's exit status, the agent's
#              ping line and exit 0, no vif/vbd in xenstore, the guest saw only
#              lo, and afterwards `xl list` shows only Domain-0.
# 2. orphan:   ringbox-host boot (the owner, not serving) is SIGKILLed while its
#              guest runs (the agent waits minutes for a backend). Its reaper
#              must destroy the domain within ORPHAN_LIMIT_S seconds and say so.
#              Before the kill, the waiting owner must be idle (CPU ticks).
# 3. sigterm:  ringbox-host boot gets SIGTERM while its guest runs: it destroys
#              the domain itself and exits 128+15 (the reaper has nothing to do).
# 4. mid-create: boot is SIGKILLed as soon as its domain shows up in xenstore,
#              while libxl is still building it (the dying owner does not know
#              the domain id yet). The reaper must find it by UUID and destroy it.
# Every part ends with only Domain-0 in `xl list` and no reaper process left.
# shellcheck disable=SC2009 # the harness's busybox has ps but no pgrep
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. /scenarios/lib/common.sh

pings=${RINGBOX_LIFECYCLE_PINGS:-200}
orphan_limit_s=${RINGBOX_LIFECYCLE_ORPHAN_LIMIT_S:-5}
pin=${RINGBOX_GUEST_CPUS%%-*}   # the first guest pCPU ("1" on the 2-CPU machine)

# start_boot NAME LOG [BOOT_OPTION...] --agent-args AGENT_ARG...: ringbox-host
# boot of a guest named NAME in the background, its output in LOG, its pid in
# $boot. The domain id goes to $RINGBOX_WORK/NAME.domid.
start_boot() {
  bname=$1 blog=$2
  shift 2
  [ -z "$pin" ] || set -- --pin-cpu "$pin" "$@"
  ringbox-host boot --kernel "$RINGBOX_GUEST_KERNEL" --ramdisk "$RINGBOX_GUEST_INITRD" \
    --memory-mib 256 --vcpus 1 --name "$bname" --kernel-args "$RINGBOX_GUEST_KARGS" \
    --domid-file "$RINGBOX_WORK/$bname.domid" "$@" >"$blog" 2>&1 &
  boot=$!
}

# wait_domid_file NAME SECONDS: the domain id boot wrote, into $id.
wait_domid_file() {
  n=$(($2 * 10))
  while [ "$n" -gt 0 ]; do
    if [ -s "$RINGBOX_WORK/$1.domid" ]; then
      id=$(cat "$RINGBOX_WORK/$1.domid")
      return 0
    fi
    kill -0 "$boot" 2>/dev/null || return 1
    sleep 0.1
    n=$((n - 1))
  done
  return 1
}

# only_dom0 WHEN: fail unless `xl list` shows Domain-0 alone.
only_dom0() {
  others=$(xl list | awk 'NR > 1 && $1 != "Domain-0" { printf "%s(%s) ", $1, $2 }')
  [ -z "$others" ] || fail "$1: xl list still shows: $others"
  step "$1: xl list shows only Domain-0"
}

# no_reaper WHEN: fail if a domain reaper process is still around.
no_reaper() {
  n=30
  while ps | grep -v grep | grep -q 'ringbox-host domain-reaper'; do
    n=$((n - 1))
    [ "$n" -gt 0 ] || fail "$1: a ringbox-host domain-reaper is still running: $(ps | grep -v grep | grep 'domain-reaper')"
    sleep 0.1
  done
}

# check_no_devices ID: xenstore shows no network or block device for domain ID.
check_no_devices() {
  devices=$(xenstore-list "/local/domain/$1/device" 2>/dev/null | tr '\n' ' ')
  step "domain $1: xenstore device/ holds: ${devices:-nothing}"
  case " $devices " in
    *" vif "* | *" vbd "*) fail "domain $1 has a network or disk device in xenstore: $devices" ;;
  esac
  for kind in vif vbd qdisk; do
    ! xenstore-exists "/local/domain/0/backend/$kind/$1" ||
      fail "dom0 has a $kind backend for domain $1"
  done
}

only_dom0 "before"

# ---------------------------------------------------------------- 1. served
name=ringbox-life
log1=$RINGBOX_WORK/boot-served.log
step "part 1: ringbox-host boot --serve $name (pin ${pin:-none}); agent: --transport xen --ping $pings"
start_boot "$name" "$log1" --serve --accept-timeout-s 90 --poweroff-timeout-s 30 \
  --agent-args --transport xen --ping "$pings"
wait_domid_file "$name" 60 || {
  sed 's/^/[boot1] /' "$log1"
  fail "ringbox-host boot never reported a domain id: $(tail -n 2 "$log1" | tr '\n' ' ')"
}
mark served-domain-created
step "domain $id created by ringbox-host (pid $boot)"
listed=$(xl list | awk -v n="$name" '$1 == n { print $2 }')
[ "$listed" = "$id" ] || fail "xl list does not show $name as domain $id (got '${listed:-nothing}')"
check_no_devices "$id"
if [ -n "$pin" ]; then
  affinity=$(xl vcpu-list "$name" 2>/dev/null | awk -v n="$name" '$1 == n { print $7 }')
  [ "$affinity" = "$pin" ] || fail "vCPU hard affinity of $name is '${affinity:-?}', wanted pCPU $pin"
  step "domain $id: vCPU 0 hard affinity is pCPU $affinity"
fi
wait "$boot"
boot_rc=$?
mark served-boot-exited
sed 's/^/[boot1] /' "$log1"
[ "$boot_rc" -eq 0 ] || fail "ringbox-host boot --serve exited with status $boot_rc: $(grep -E 'error' "$log1" | tail -n 2 | tr '\n' ' ')"
xl domid "$name" >/dev/null 2>&1 && fail "domain $name still exists after ringbox-host boot exited"
ifaces=$(guest_line "$name" '^RINGBOX-GUEST: net-ifaces:') || fail "the guest printed no net-ifaces line"
[ "$ifaces" = "RINGBOX-GUEST: net-ifaces: lo" ] || fail "the guest has network interfaces besides lo: '$ifaces'"
ping_line=$(guest_line "$name" "^ringbox-agent: $pings pings ok") ||
  fail "the agent did not report $pings good pings; last lines: $(guest_console "$name" | grep ringbox-agent | tail -n 3 | tr '\n' ' ')"
exit_line=$(guest_line "$name" '^RINGBOX-GUEST: agent exit=') || fail "the guest never reported the agent's exit"
[ "$exit_line" = "RINGBOX-GUEST: agent exit=0" ] || fail "the agent failed: '$exit_line'"
grep -q "created domain $id ($name" "$log1" || fail "boot's log does not say it created domain $id"
grep -q "boot of domain $id ($name) complete: its agent was served, then it powered off" "$log1" ||
  fail "boot's log does not say the agent was served and domain $id powered off"
step "RESULT served: ${ping_line#ringbox-agent: }"
only_dom0 "after part 1"
no_reaper "after part 1"

# ---------------------------------------------------------------- 2. orphan
name=ringbox-orphan
log2=$RINGBOX_WORK/boot-orphan.log
step "part 2: ringbox-host boot $name, then SIGKILL it while the guest runs"
start_boot "$name" "$log2" --agent-args --transport xen --connect-timeout-ms 600000
wait_domid_file "$name" 60 || {
  sed 's/^/[boot2] /' "$log2"
  fail "ringbox-host boot never reported a domain id: $(tail -n 2 "$log2" | tr '\n' ' ')"
}
# Killed once the agent runs and waits for a backend: the guest is busy, not ending.
wait_guest_line "$name" '^RINGBOX-GUEST: agent argv:' 60 ||
  fail "the guest of $name never started its agent; last console line: $(guest_console "$name" | tail -n 1)"
# The owner only waits now (libxl death events, the reaper blocked on its socket): it must
# idle, not poll. CPU ticks (1/100 s) of ringbox-host over about two seconds:
ticks() { awk '{ print $14 + $15 }' "/proc/$boot/stat"; }
c0=$(ticks)
sleep 2
c1=$(ticks)
step "ringbox-host boot used $((c1 - c0)) CPU ticks (1/100 s) in 2 s of waiting"
[ $((c1 - c0)) -le 20 ] || fail "ringbox-host boot burns CPU while it waits: $((c1 - c0)) ticks in 2 s"
xl domid "$name" >/dev/null 2>&1 || fail "domain $name ended by itself before the kill"
kill -KILL "$boot"
wait "$boot"
step "ringbox-host boot (pid $boot, owner of domain $id) killed with SIGKILL (status $?)"
read -r t0 _ </proc/uptime
wait_domain_gone "$name" "$orphan_limit_s" || {
  sed 's/^/[boot2] /' "$log2"
  fail "domain $name (id $id) still exists $orphan_limit_s s after its owner was SIGKILLed: orphaned"
}
read -r t1 _ </proc/uptime
mark orphan-gone
# The domain vanishes while libxl_domain_destroy runs; the reaper logs and exits after it.
no_reaper "after part 2"
sed 's/^/[boot2] /' "$log2"
guest_line "$name" '^RINGBOX-GUEST: agent exit=' >/dev/null &&
  fail "the guest's agent exited by itself: the domain ended on its own, not by the reaper"
grep -q "went away without releasing domain $name (id $id) .*: destroyed domain $id" "$log2" ||
  fail "the reaper did not report destroying domain $id (see the [boot2] lines)"
step "RESULT orphan: domain $id destroyed by the reaper $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s after its owner's SIGKILL"
only_dom0 "after part 2"

# ---------------------------------------------------------------- 3. sigterm
name=ringbox-term
logt=$RINGBOX_WORK/boot-term.log
step "part 3: ringbox-host boot $name, then SIGTERM it while the guest runs"
start_boot "$name" "$logt" --agent-args --transport xen --connect-timeout-ms 600000
wait_domid_file "$name" 60 || {
  sed 's/^/[boot-term] /' "$logt"
  fail "ringbox-host boot never reported a domain id: $(tail -n 2 "$logt" | tr '\n' ' ')"
}
wait_guest_line "$name" '^RINGBOX-GUEST: agent argv:' 60 ||
  fail "the guest of $name never started its agent; last console line: $(guest_console "$name" | tail -n 1)"
kill -TERM "$boot"
wait "$boot"
term_rc=$?
sed 's/^/[boot-term] /' "$logt"
[ "$term_rc" -eq 143 ] || fail "ringbox-host boot exited with status $term_rc on SIGTERM, wanted 143"
xl domid "$name" >/dev/null 2>&1 && fail "domain $name (id $id) survived its owner's orderly SIGTERM exit"
grep -q "destroyed domain $id ($name)" "$logt" || fail "boot did not destroy domain $id itself on SIGTERM"
grep -q "went away without releasing" "$logt" && fail "the reaper had to act after an orderly SIGTERM exit"
step "RESULT sigterm: boot destroyed domain $id itself and exited 143"
only_dom0 "after part 3"
no_reaper "after part 3"

# ---------------------------------------------------------------- 4. mid-create
name=ringbox-midcreate
log3=$RINGBOX_WORK/boot-midcreate.log
step "part 4: SIGKILL ringbox-host boot $name while libxl builds the domain"
start_boot "$name" "$log3" --agent-args --transport xen --connect-timeout-ms 600000
# libxl names the domain in xenstore first and then spends about a second
# under TCG loading the 60+ MiB kernel: kill the owner as soon as the name
# shows, while libxl is still building (the owner does not know the id yet).
n=200
while ! xl domid "$name" >/dev/null 2>&1; do
  n=$((n - 1))
  if [ "$n" -le 0 ] || ! kill -0 "$boot" 2>/dev/null; then
    sed 's/^/[boot3] /' "$log3"
    fail "domain $name never appeared while ringbox-host boot ran"
  fi
  sleep 0.05
done
kill -KILL "$boot"
wait "$boot"
step "ringbox-host boot (pid $boot) killed with SIGKILL (status $?) once domain $name appeared"
wait_domain_gone "$name" "$orphan_limit_s" || {
  sed 's/^/[boot3] /' "$log3"
  fail "domain $name still exists $orphan_limit_s s after its owner was SIGKILLed during creation"
}
no_reaper "after part 4"
sed 's/^/[boot3] /' "$log3"
reaped=$(grep "went away without releasing domain $name .*: destroyed domain" "$log3") ||
  fail "the reaper did not report destroying $name (see the [boot3] lines)"
# The reaper names the id only if the owner lived to announce it.
case $reaped in
  *"domain $name uuid"*) when="before it learnt the domain id (mid-create)" ;;
  *) when="after it learnt the domain id (creation had finished)" ;;
esac
step "RESULT mid-create: the reaper destroyed $name, whose owner was killed $when"
only_dom0 "after part 4"
step "libxl-created guests: no NIC, no disk, destroyed after use, none orphaned"
