#!/bin/sh
# ringbox bench-only vif hotplug script, installed in the harness dom0 as
# /usr/lib/ringbox-bench/vif-hotplug and named by the bench domain's vif
# (script=...) in tests/xen/scenarios/bench-vif.sh. Nothing else uses it:
# ringbox's own domains have no vif (ringbox-host refuses one), and the
# product dom0 /init never loads xen-netback.
#
# Contract (Xen 4.17 libxl runs it itself, run_hotplug_scripts=1):
#   $1            online (the backend reached InitWait) or offline (the
#                 device is going away); $2 is "type_if=vif"
#   XENBUS_PATH   the backend directory relative to dom0's xenstore home,
#                 backend/vif/<domid>/<devid>
#   vif           the backend interface netback created, vif<domid>.<devid>
# netback keeps the frontend waiting until "hotplug-status" under
# XENBUS_PATH reads "connected", and libxl reads "hotplug-error" when the
# script fails. This script only brings the interface up: addressing is the
# scenario's business (point-to-point, no bridge; see bench-vif.sh).

PATH=/usr/sbin:/usr/bin:/sbin:/bin

fail() {
  echo "vif-hotplug: $*" >&2
  [ -z "${XENBUS_PATH:-}" ] || {
    xenstore-write "$XENBUS_PATH/hotplug-error" "$*"
    xenstore-write "$XENBUS_PATH/hotplug-status" error
  }
  exit 1
}

case ${XENBUS_PATH:-} in
  backend/vif/[0-9]*/[0-9]*) ;;
  *) fail "XENBUS_PATH='${XENBUS_PATH:-}' is not backend/vif/<domid>/<devid>; run by libxl only" ;;
esac
case ${vif:-} in
  vif[0-9]*.[0-9]*) ;;
  *) fail "vif='${vif:-}' is not a netback interface name (vif<domid>.<devid>)" ;;
esac

case ${1:-} in
  online)
    ip link set "$vif" up || fail "ip link set $vif up failed"
    xenstore-write "$XENBUS_PATH/hotplug-status" connected ||
      fail "cannot write $XENBUS_PATH/hotplug-status"
    ;;
  offline)
    # netback usually removed the interface already.
    ip link set "$vif" down 2>/dev/null
    xenstore-rm "$XENBUS_PATH/hotplug-status" 2>/dev/null
    ;;
  add | remove) ;; # the emulated (tap) half of a vif; a PV guest has none
  *) fail "unknown action '${1:-}' (expected online or offline)" ;;
esac
exit 0
