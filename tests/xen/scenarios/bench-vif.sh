#!/bin/sh
# bench-vif: the ring against TCP through a vif, side by side in one boot
# (docs/benchmarks.md, "Ring vs vif in nested Xen"). Benchmark only: the vif,
# xen-netback and the bench guest image exist for this scenario alone.
#
# dom0 loads xen-netback (kept out of /init's module list), creates one domain
# from the bench-only guest image (/boot/ringbox-bench: ringbox-bench and
# xen-netfront, no agent) with exactly one vif whose hotplug script is ours
# (/usr/lib/ringbox-bench/vif-hotplug: link up, hotplug-status connected),
# paused; gives the vif a point-to-point /30 (no bridge); starts
#   ringbox-host serve --transport xen --domid ID
#   ringbox-host serve --transport tcp --listen DOM0_IP:PORT
# and unpauses the guest, which brings up eth0 and runs
#   ringbox-bench client --target xen-ring=xen: --target tcp-vif=tcp:DOM0_IP:PORT --json
# (the ring first, then TCP, back to back). The guest prints the JSON as
# "RINGBOX-GUEST: bench: " lines; this scenario re-prints it as
# "RINGBOX-BENCH-JSON: " lines (scripts/bench-nested collects them) and prints
# RESULT lines: RTT per payload size for each path, bulk MB/s, and the ratios.
#
# PASS: both paths produced figures, the vif existed for the bench domain
# only and was gone after it. The ratio is reported, never judged: TCG
# timings are indicative only. Knobs (dom0 kernel arguments, run-scenario
# --dom0-args, or scripts/bench-nested's options): RINGBOX_BENCH_ITERATIONS,
# RINGBOX_BENCH_WARMUP, RINGBOX_BENCH_BULK_MIB, RINGBOX_BENCH_SPIN_US (both
# ring ends busy-poll this long before sleeping; 50, the product default).
. /scenarios/lib/common.sh

name=ringbox-bench-vif
iterations=${RINGBOX_BENCH_ITERATIONS:-5000}
warmup=${RINGBOX_BENCH_WARMUP:-500}
bulk_mib=${RINGBOX_BENCH_BULK_MIB:-64}
spin_us=${RINGBOX_BENCH_SPIN_US:-50}
bench_dir=/boot/ringbox-bench
bench_initrd=$bench_dir/initrd.cpio.lz4
[ -f "$bench_initrd" ] || bench_initrd=$bench_dir/initrd.cpio
hotplug=/usr/lib/ringbox-bench/vif-hotplug
# A private /30 used nowhere else in the harness (QEMU gives the machine no NIC).
dom0_ip=10.213.0.1
guest_ip=10.213.0.2
prefix=30
port=7411
cfg=$RINGBOX_WORK/$name.cfg
json=$RINGBOX_WORK/bench.json

for n in "$iterations" "$warmup" "$bulk_mib" "$spin_us"; do
  case $n in "" | *[!0-9]*) fail "RINGBOX_BENCH_* must be whole numbers, got '$n'" ;; esac
done
if [ "$iterations" -eq 0 ] || [ "$bulk_mib" -eq 0 ]; then
  fail "RINGBOX_BENCH_ITERATIONS and RINGBOX_BENCH_BULK_MIB must be at least 1"
fi
[ -f "$bench_initrd" ] ||
  fail "no bench guest image in $bench_dir; build it with kernel-image/build-guest-image --bench-nic (run-scenario does)"
[ -x "$hotplug" ] || fail "no vif hotplug script $hotplug in this dom0 image"
command -v ringbox-host >/dev/null || fail "no ringbox-host in this dom0 image"

# The NIC driver must be in the bench image only.
grep -q 'xen-netfront' /boot/ringbox/manifest.txt &&
  fail "the product guest image lists xen-netfront: $(grep netfront /boot/ringbox/manifest.txt)"
grep -q '^image bench-only' "$bench_dir/manifest.txt" ||
  fail "$bench_dir/manifest.txt does not describe a bench-only image"

# No vif anywhere before the bench domain exists.
[ -z "$(xenstore-list /local/domain/0/backend/vif 2>/dev/null)" ] ||
  fail "dom0 has vif backends before the bench domain exists: $(xenstore-list /local/domain/0/backend/vif | tr '\n' ' ')"
while read -r m; do
  insmod "/lib/modules/ringbox-bench/$m.ko" || fail "insmod /lib/modules/ringbox-bench/$m.ko failed"
done </etc/ringbox-bench/modules
step "loaded $(tr '\n' ' ' </etc/ringbox-bench/modules)(bench only; /init never loads it)"

args=$(encode_agent_args client --target xen-ring=xen: --target "tcp-vif=tcp:$dom0_ip:$port" \
  --json --iterations "$iterations" --warmup "$warmup" --bulk-mib "$bulk_mib" --spin-us "$spin_us") ||
  fail "cannot encode the bench arguments"
extra="$RINGBOX_GUEST_KARGS ringbox.poweroff_delay=0 ringbox.bench_net=$guest_ip/$prefix ringbox.args=$args"
[ ${#extra} -lt 1024 ] || fail "guest command line is ${#extra} bytes, the PV limit is 1023"
{
  echo "name = \"$name\""
  echo 'type = "pv"'
  echo "kernel = \"$RINGBOX_GUEST_KERNEL\""
  echo "ramdisk = \"$bench_initrd\""
  echo "extra = \"$extra\""
  echo 'memory = 256'
  echo 'maxmem = 256'
  echo 'vcpus = 1'
  [ -z "$RINGBOX_GUEST_CPUS" ] || echo "cpus = \"$RINGBOX_GUEST_CPUS\""
  # The one vif of the harness: bench only, our hotplug script, no bridge.
  echo "vif = [ 'script=$hotplug,ip=$guest_ip' ]"
  echo 'disk = []'
  echo 'on_poweroff = "preserve"'
  echo 'on_reboot = "preserve"'
  echo 'on_crash = "preserve"'
} >"$cfg"

step "bench: $iterations round trips per size after $warmup, $bulk_mib MiB per bulk direction, ring spin $spin_us us both ends"
step "creating $name paused: bench image, one vif (script=$hotplug), disk=[]"
xl create -p -q "$cfg" || fail "xl create -p $cfg failed (see the xl/libxl messages above)"
mark xl-create-done
id=$(domid "$name") || fail "domain $name vanished right after xl create"
vif=vif$id.0

status=$(xenstore-read "/local/domain/0/backend/vif/$id/0/hotplug-status" 2>/dev/null)
[ "$status" = connected ] || fail "the vif hotplug script did not report connected (hotplug-status='$status')"
[ -d "/sys/class/net/$vif" ] || fail "netback created no $vif in dom0 (have: $(echo /sys/class/net/*))"
# The vif exists for the bench domain only: one backend, one interface.
backends=$(xenstore-list /local/domain/0/backend/vif 2>/dev/null | tr '\n' ' ')
[ "$backends" = "$id " ] || fail "vif backends for domains '$backends', expected only the bench domain $id"
vifs=
for f in /sys/class/net/vif*; do
  [ -e "$f" ] && vifs="$vifs${f##*/} "
done
[ "$vifs" = "$vif " ] || fail "dom0 has vif interfaces '$vifs', expected only $vif"
ip addr add "$dom0_ip/$prefix" dev "$vif" || fail "ip addr add $dom0_ip/$prefix dev $vif failed"
step "vif: $vif in dom0 $dom0_ip/$prefix <-> eth0 in domain $id $guest_ip/$prefix, point to point, no bridge"

ringbox-host serve --bench --transport xen --domid "$id" --spin-us "$spin_us" --accept-timeout-ms 120000 \
  >"$RINGBOX_WORK/host-xen.log" 2>&1 &
xen_host=$!
# The TCP host waits for the guest's second part: the ring's 11,000 round trips and 64 MiB come
# first, and on a loaded host they took 260 s (2026-12-03), past the 240 s this waited then.
# The watch below ends both hosts 10 s after the guest's exit, so a long wait costs nothing.
ringbox-host serve --bench --transport tcp --listen "$dom0_ip:$port" --accept-timeout-ms 540000 \
  >"$RINGBOX_WORK/host-tcp.log" 2>&1 &
tcp_host=$!
n=50
until netstat -ltn 2>/dev/null | grep -q " $dom0_ip:$port "; do
  [ "$n" -gt 0 ] || fail "ringbox-host serve --transport tcp is not listening on $dom0_ip:$port: $(cat "$RINGBOX_WORK/host-tcp.log")"
  sleep 0.2
  n=$((n - 1))
done
step "ringbox-host serving xen (pid $xen_host) and tcp $dom0_ip:$port (pid $tcp_host); unpausing"
xl unpause "$id" || fail "xl unpause $id failed"
mark unpaused
# A guest that ends early (ringbox-bench failed) would leave the hosts waiting
# for their accept timeouts: once the guest reported its exit, give them 10 s
# more. One grep every 2 s, so the watch barely touches dom0's vCPU.
(
  log=$CONSOLE_LOG_DIR/guest-$name.log
  until grep -q 'RINGBOX-GUEST: bench exit=' "$log" 2>/dev/null; do sleep 2; done
  sleep 10
  kill "$xen_host" "$tcp_host" 2>/dev/null
) &
watch=$!

# Waiting for the hosts (not polling xl) keeps dom0's vCPU free while the
# figures are measured: the ring first, then TCP.
wait "$xen_host"
xen_rc=$?
mark ring-done
wait "$tcp_host"
tcp_rc=$?
mark tcp-done
kill "$watch" 2>/dev/null
sed 's/^/[host-xen] /' "$RINGBOX_WORK/host-xen.log"
sed 's/^/[host-tcp] /' "$RINGBOX_WORK/host-tcp.log"
wait_domain_gone "$name" 120 ||
  fail "the bench guest did not power off within 120 s of the hosts' exit; last line: $(guest_console "$name" | tail -n 1)"
mark guest-gone
! xenstore-exists "/local/domain/0/backend/vif/$id" ||
  fail "the vif backend of domain $id outlived the domain"
[ ! -d "/sys/class/net/$vif" ] || fail "$vif still exists in dom0 after the domain is gone"

net_line=$(guest_line "$name" '^RINGBOX-GUEST: bench-net:') || fail "the bench guest printed no bench-net line"
case $net_line in
  *FAILED*) fail "bench guest: ${net_line#RINGBOX-GUEST: }" ;;
esac
exit_line=$(guest_line "$name" '^RINGBOX-GUEST: bench exit=') || fail "the bench guest never reported ringbox-bench's exit"
[ "$exit_line" = "RINGBOX-GUEST: bench exit=0" ] ||
  fail "ringbox-bench failed: '$exit_line'; its last lines: $(guest_console "$name" | grep -E 'ringbox-bench' | tail -n 3)"
[ "$xen_rc" -eq 0 ] || fail "ringbox-host (xen) exited with status $xen_rc: $(tail -n 2 "$RINGBOX_WORK/host-xen.log")"
[ "$tcp_rc" -eq 0 ] || fail "ringbox-host (tcp) exited with status $tcp_rc: $(tail -n 2 "$RINGBOX_WORK/host-tcp.log")"

guest_console "$name" | sed -n 's/^RINGBOX-GUEST: bench: //p' >"$json"
[ -s "$json" ] || fail "ringbox-bench printed no JSON"
while IFS= read -r line; do
  echo "RINGBOX-BENCH-JSON: $line"
done <"$json"

# RESULT lines from the JSON (its layout: guest/bench/report.cc, one path per line).
results=$RINGBOX_WORK/results
awk '
  function val(obj, key) {
    if (!match(obj, "\"" key "\": \"?[-0-9.a-z]+")) return ""
    v = substr(obj, RSTART + length(key) + 4, RLENGTH - length(key) - 4)
    gsub(/"/, "", v)
    return v
  }
  /"path": / {
    match($0, /"path": "[^"]*"/)
    path = substr($0, RSTART + 9, RLENGTH - 10)
    paths[++np] = path
    s = $0
    while (match(s, /\{"bytes": [^}]*\}/)) {
      o = substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH)
      b = val(o, "bytes")
      if (!(b in seen)) { seen[b] = 1; sizes[++ns] = b }
      p50[path, b] = val(o, "p50_us"); p99[path, b] = val(o, "p99_us")
      printf "RESULT rtt %s %s B: p50 %s us, p99 %s us, mean %s us, %s samples\n", \
        path, b, p50[path, b], p99[path, b], val(o, "mean_us"), val(o, "samples")
    }
    s = $0
    while (match(s, /\{"direction": [^}]*\}/)) {
      o = substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH)
      d = val(o, "direction")
      if (!(d in dseen)) { dseen[d] = 1; dirs[++nd] = d }
      mbs[path, d] = val(o, "mb_per_s")
      printf "RESULT bulk %s %s: %s MB/s (%s bytes in %s-byte messages)\n", \
        path, d, mbs[path, d], val(o, "total_bytes"), val(o, "message_bytes")
    }
  }
  END {
    if (np != 2) { print "BAD expected 2 paths, got " np; exit }
    a = paths[1]; t = paths[2]
    for (i = 1; i <= ns; i++) {
      b = sizes[i]
      if (p50[a, b] + 0 <= 0 || p50[t, b] + 0 <= 0) { print "BAD no RTT for " b " B on both paths"; exit }
      printf "RESULT ratio %s/%s p50 RTT %s B: %.2f (target >= 4)\n", t, a, b, p50[t, b] / p50[a, b]
    }
    for (i = 1; i <= nd; i++) {
      d = dirs[i]
      if (mbs[a, d] + 0 <= 0 || mbs[t, d] + 0 <= 0) { print "BAD no bulk figure for " d " on both paths"; exit }
      printf "RESULT ratio %s/%s bulk %s: %.2f\n", a, t, d, mbs[a, d] / mbs[t, d]
    }
    if (ns < 1 || nd < 1) print "BAD no RTT or no bulk figures"
  }' "$json" >"$results"
bad=$(grep '^BAD ' "$results" | head -n 1)
[ -z "$bad" ] || fail "the bench JSON lacks figures: ${bad#BAD }"
while IFS= read -r line; do
  step "$line"
done <"$results"
step "both paths measured in one boot; the ratio is indicative only (TCG)"
