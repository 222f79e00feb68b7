#!/bin/sh
# ring-connect: the Xen transport end to end, on a guest with no network device.
# dom0 creates a PV guest (vif=[], disk=[]) whose agent loads the Xen modules,
# grants its ring to dom0 and offers an event channel (ringbox-agent
# --transport xen); ringbox-host serve --transport xen attaches to it through
# xenstore. The agent does PINGS echo round trips (every echo compared) and
# moves BULK bytes each way (kBulkRead / kBulkWrite, FNV-1a checked on both
# sides and against the expected pattern), prints its figures and exits.
# Checks: the agent's success lines and exit 0, the host's exit 0 once the
# agent closed the ring (and its xenstore directory removed), no vif/vbd for
# the guest in xenstore, the guest saw only lo.
# The round-trip time and the throughput are printed as RINGBOX-STEP lines
# (TCG figures: indicative only).
. /scenarios/lib/common.sh

name=ringbox-ring
pings=${RINGBOX_RING_PINGS:-2000}
bulk=${RINGBOX_RING_BULK:-16777216}
cfg=$RINGBOX_WORK/$name.cfg
host_log=$RINGBOX_WORK/host.log
write_guest_config "$cfg" "$name" 256 --transport xen --ping "$pings" --bulk "$bulk"

step "creating $name: vif=[], disk=[]; agent: --transport xen --ping $pings --bulk $bulk"
xl create -q "$cfg" || fail "xl create $cfg failed (see the xl messages above)"
mark xl-create-done
id=$(domid "$name") || fail "domain $name vanished right after xl create"

ringbox-host serve --bench --transport xen --domid "$id" --accept-timeout-ms 90000 >"$host_log" 2>&1 &
host=$!
step "ringbox-host serve --transport xen --domid $id started (pid $host)"

devices=$(xenstore-list "/local/domain/$id/device" 2>/dev/null | tr '\n' ' ')
step "domain $id: xenstore device/ holds: ${devices:-nothing}"
case " $devices " in
  *" vif "* | *" vbd "*) fail "domain $id has a network or disk device in xenstore: $devices" ;;
esac
! xenstore-exists "/local/domain/0/backend/vif/$id" || fail "dom0 has a vif backend for domain $id"

# The host serves until the agent closes the ring. Waiting for it (not polling xl) keeps
# dom0's one vCPU free for ringbox-host while the figures are measured.
wait "$host"
host_rc=$?
mark host-exited
sed 's/^/[host] /' "$host_log"
step "ringbox-host exited with status $host_rc"
wait_domain_gone "$name" 60 ||
  fail "guest $name did not power off within 60 s of the host's exit; last console line: $(guest_console "$name" | tail -n 1)"
mark guest-gone

ifaces=$(guest_line "$name" '^RINGBOX-GUEST: net-ifaces:') || fail "the guest printed no net-ifaces line"
[ "$ifaces" = "RINGBOX-GUEST: net-ifaces: lo" ] || fail "the guest has network interfaces besides lo: '$ifaces'"
guest_line "$name" 'agent missing' >/dev/null && fail "no ringbox-agent in the guest image"
ping_line=$(guest_line "$name" "^ringbox-agent: $pings pings ok") ||
  fail "the agent did not report $pings good pings; last lines: $(guest_console "$name" | grep -E 'ringbox-agent' | tail -n 3)"
bulk_line=$(guest_line "$name" "^ringbox-agent: bulk ok: $bulk bytes") ||
  fail "the agent did not report a good bulk transfer; last lines: $(guest_console "$name" | grep -E 'ringbox-agent' | tail -n 3)"
exit_line=$(guest_line "$name" '^RINGBOX-GUEST: agent exit=') || fail "the guest never reported the agent's exit"
[ "$exit_line" = "RINGBOX-GUEST: agent exit=0" ] || fail "the agent failed: '$exit_line'"
[ "$host_rc" -eq 0 ] || fail "ringbox-host exited with status $host_rc: $(tail -n 2 "$host_log" | tr '\n' ' ')"
! xenstore-exists "/local/domain/0/backend/ringbox/$id" ||
  fail "ringbox-host left its xenstore directory /local/domain/0/backend/ringbox/$id behind"

step "RESULT rtt: ${ping_line#ringbox-agent: }"
step "RESULT bulk: ${bulk_line#ringbox-agent: bulk ok: }"
step "agent and host talked over grant pages + event channel; no NIC (lo only), no vif/vbd"
