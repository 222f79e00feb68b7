#!/bin/sh
# smoke: proves the harness, needs no ringbox code.
# dom0 creates a PV guest from the ringbox guest image with no vif and no
# disk, pinned to the guest pCPU, with the agent argument "--help" (print and
# exit). Checks: xenstore shows no network (or block) device for the guest,
# the guest's /init ran, the guest sees only "lo", the guest powered itself
# off, and the agent either exited 0 or is absent from the image (then the
# harness alone was tested, which this scenario says).
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. /scenarios/lib/common.sh

name=ringbox-smoke
cfg=$RINGBOX_WORK/$name.cfg
write_guest_config "$cfg" "$name" 256 --help

step "creating $name: memory 256 MiB, vif=[], disk=[], cpus=${RINGBOX_GUEST_CPUS:-any}"
xl create -q "$cfg" || fail "xl create $cfg failed (see the xl messages above)"
mark xl-create-done
id=$(domid "$name") || fail "domain $name vanished right after xl create"

devices=$(xenstore-list "/local/domain/$id/device" 2>/dev/null | tr '\n' ' ')
step "domain $id: xenstore device/ holds: ${devices:-nothing}"
case " $devices " in
  *" vif "* | *" vbd "*) fail "domain $id has a network or disk device in xenstore: $devices" ;;
esac
if xenstore-exists "/local/domain/0/backend/vif/$id"; then
  fail "dom0 has a vif backend for domain $id"
fi

wait_domain_gone "$name" 60 ||
  fail "guest $name did not power off within 60 s; last console line: $(guest_console "$name" | tail -n 1)"
mark guest-gone

guest_line "$name" '^RINGBOX-GUEST: init:' >/dev/null ||
  fail "the guest /init never ran (no 'RINGBOX-GUEST: init:' on its console)"
ifaces=$(guest_line "$name" '^RINGBOX-GUEST: net-ifaces:') ||
  fail "the guest printed no net-ifaces line"
[ "$ifaces" = "RINGBOX-GUEST: net-ifaces: lo" ] ||
  fail "the guest has network interfaces besides lo: '$ifaces'"
xendev=$(guest_line "$name" '^RINGBOX-GUEST: xen-devices:') ||
  fail "the guest printed no xen-devices line"
case $xendev in
  *vif-* | *vbd-*) fail "the guest sees a xenbus network or disk device: '$xendev'" ;;
esac

exit_line=$(guest_line "$name" '^RINGBOX-GUEST: agent exit=') ||
  fail "the guest never reported the agent's exit status"
if guest_line "$name" '^RINGBOX-GUEST: agent missing' >/dev/null; then
  step "no ringbox-agent in the guest image: only the harness was checked"
elif [ "$exit_line" != "RINGBOX-GUEST: agent exit=0" ]; then
  fail "ringbox-agent --help failed in the guest: '$exit_line'"
else
  step "ringbox-agent --help exited 0 in the guest"
fi
step "guest had no NIC (net-ifaces: lo), no vif/vbd in xenstore, and powered itself off"
