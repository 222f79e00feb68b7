#!/bin/sh
# host-restart: ringbox-host dies mid-stream and a new one re-attaches to the
# running guest. The guest's agent (--transport xen) runs a long checked ping
# loop and then a long checked bulk transfer. dom0 kills ringbox-host with
# SIGKILL once during the pings and once during the bulk transfer, each time
# starting a new one, which finds the guest's ring in xenstore, maps it again
# and attaches as the next backend generation; the agent resets its ring and
# replays the requests that had no answer. Checks: every ping echo and every
# bulk checksum still matched (the agent's success lines, exit 0), the guest
# saw both restarts (generation 1 -> 2 -> 3), the last host exited 0.
. /scenarios/lib/common.sh

name=ringbox-restart
pings=${RINGBOX_RESTART_PINGS:-20000}
bulk=${RINGBOX_RESTART_BULK:-536870912}
# Both ends busy-poll up to 2 ms before sleeping on the event channel: a TCG
# vCPU that halts costs a host scheduling delay to wake, which on a loaded
# build machine turns a 0.2 ms round trip into tens of ms.
spin=${RINGBOX_RESTART_SPIN_US:-2000}
cfg=$RINGBOX_WORK/$name.cfg
write_guest_config "$cfg" "$name" 256 --transport xen --ping "$pings" --report-every 1000 \
  --bulk "$bulk" --spin-us "$spin" --reconnect-timeout-ms 60000

# wait_console NAME ERE SECONDS: like wait_guest_line, but looks once a second
# with a single grep: dom0 has one vCPU, and a busier poll would slow the
# very ring traffic this scenario measures.
wait_console() {
  n=$3
  while [ "$n" -gt 0 ]; do
    grep -qE -- "$2" "$CONSOLE_LOG_DIR/guest-$1.log" 2>/dev/null && return 0
    sleep 1
    n=$((n - 1))
  done
  return 1
}

# start_host N: ringbox-host number N in the background; its pid in $host.
start_host() {
  ringbox-host serve --bench --transport xen --domid "$id" --accept-timeout-ms 60000 --spin-us "$spin" \
    >"$RINGBOX_WORK/host$1.log" 2>&1 &
  host=$!
  step "ringbox-host #$1 started (pid $host)"
}

# kill_host N: SIGKILL ringbox-host number N, which must still be running.
kill_host() {
  kill -0 "$host" 2>/dev/null || fail "ringbox-host #$1 exited before it could be killed: $(cat "$RINGBOX_WORK/host$1.log" | tr '\n' ' ')"
  kill -KILL "$host"
  wait "$host"
  step "ringbox-host #$1 killed (status $?)"
  sed "s/^/[host$1] /" "$RINGBOX_WORK/host$1.log"
}

step "creating $name: agent --transport xen --ping $pings --bulk $bulk"
xl create -q "$cfg" || fail "xl create $cfg failed (see the xl messages above)"
id=$(domid "$name") || fail "domain $name vanished right after xl create"
start_host 1

# Mid-ping: the agent reports progress every 2000 round trips.
wait_console "$name" '^ringbox-agent: ping progress 2000/' 120 ||
  fail "the agent never reached 2000 pings under host #1; last lines: $(guest_console "$name" | tail -n 3 | tr '\n' ' ')"
kill_host 1
mark host1-killed
sleep 1
start_host 2

# Mid-bulk: the pings are done, the bulk transfer has started.
wait_console "$name" "^ringbox-agent: $pings pings ok" 120 ||
  fail "the agent did not finish its pings after the restart; last lines: $(guest_console "$name" | tail -n 3 | tr '\n' ' ')"
sleep 1
guest_line "$name" '^ringbox-agent: bulk ok' >/dev/null &&
  fail "the bulk transfer ended before host #2 could be killed; raise RINGBOX_RESTART_BULK"
kill_host 2
mark host2-killed
start_host 3

wait "$host"
host_rc=$?
mark host3-exited
sed 's/^/[host3] /' "$RINGBOX_WORK/host3.log"
wait_domain_gone "$name" 60 ||
  fail "guest $name did not power off; last console line: $(guest_console "$name" | tail -n 1)"

guest_line "$name" 'backend restarted: generation 1 -> 2' >/dev/null ||
  fail "the guest never saw the first restart (no 'backend restarted: generation 1 -> 2')"
guest_line "$name" 'backend restarted: generation 2 -> 3' >/dev/null ||
  fail "the guest never saw the second restart (no 'backend restarted: generation 2 -> 3')"
ping_line=$(guest_line "$name" "^ringbox-agent: $pings pings ok") || fail "no ping success line"
bulk_line=$(guest_line "$name" "^ringbox-agent: bulk ok: $bulk bytes") ||
  fail "the bulk transfer did not complete with good checksums; last lines: $(guest_console "$name" | grep ringbox-agent | tail -n 3 | tr '\n' ' ')"
exit_line=$(guest_line "$name" '^RINGBOX-GUEST: agent exit=') || fail "the guest never reported the agent's exit"
[ "$exit_line" = "RINGBOX-GUEST: agent exit=0" ] || fail "the agent failed: '$exit_line'"
[ "$host_rc" -eq 0 ] || fail "ringbox-host #3 exited with status $host_rc"
# What each restart found in flight. A tight call loop always has a request
# outstanding, so at least one restart must have replayed one; otherwise this
# run did not test what it claims to.
resets=$(guest_console "$name" | grep 'ring reset for a new backend')
printf '%s\n' "$resets" | while IFS= read -r line; do step "guest: ${line#ringbox-agent: info: }"; done
printf '%s\n' "$resets" | grep -qE ' [1-9][0-9]* unanswered requests replayed' ||
  fail "no restart found a request in flight (nothing replayed): the kills did not land mid-call"
step "RESULT across two host restarts: ${ping_line#ringbox-agent: }; bulk ${bulk_line#ringbox-agent: bulk ok: }"
