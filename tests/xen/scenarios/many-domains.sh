#!/bin/sh
# run-scenario: --mem 1536
# many-domains: several `ringbox-host run --transport xen` at once in one dom0, one job domain
# each, every mode, each with its own export (docs/nested-harness.md, "Many domains").
#
# 1. Start: a job prints "ready TAG" first; its domain is then paused (`xl pause`) and the next
#    run starts, so all N domains stand at once however slowly each boots; then all are
#    unpaused together: the go signal is the scenario's, not a clock in the guests. One guest
#    boots at a time: under TCG, 16 guests booting together on the one guest pCPU took more
#    than the host's 60 s to attach their agents (a real CPU boots one in about a second).
# 2. Work: each job reads its own input many times, appends to an output, copies the input and
#    lists what it sees. One run (the first remote-io one) is SIGKILLed mid-way: it exits 137,
#    its reaper must destroy its domain while the other domains keep running.
# 3. Checks: every other job exits 0 with a byte-identical copy and its own lines only; no job
#    saw another export's files; afterwards `xl list` shows Domain-0 alone, xenstore holds no
#    key of any job domain (nor a backend/ringbox entry), no reaper is left, and Xen's free
#    memory is back to what it was before the first domain.
#
# Settings (dom0 kernel arguments through run-scenario --dom0-args): RINGBOX_MANY_MODES (the
# modes, one domain each, a colon list; default remote-io:lazy-file:eager:auto),
# RINGBOX_MANY_MEMORY_MIB (each guest's memory, default 160), RINGBOX_MANY_STEPS (work steps
# per job, default 12). Eight domains: --mem 2048 --dom0-args
# RINGBOX_MANY_MODES=remote-io:lazy-file:eager:auto:remote-io:lazy-file:eager:auto; sixteen:
# --mem 2560 and the four modes four times, RINGBOX_MANY_MEMORY_MIB=112.
# Time (2026-12-02, whole run-scenario): 8 domains 173 s; 16 domains 249 s.
# shellcheck disable=SC2009 # the harness's busybox has ps but no pgrep
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. /scenarios/lib/common.sh

modes=$(echo "${RINGBOX_MANY_MODES:-remote-io lazy-file eager auto}" | tr ':' ' ')
memory=${RINGBOX_MANY_MEMORY_MIB:-160}
steps=${RINGBOX_MANY_STEPS:-12}
pin=${RINGBOX_GUEST_CPUS%%-*}
# The run SIGKILLed mid-way: the first remote-io one (the first run without one).
victim=$(echo "$modes" | tr ' ' '\n' | grep -nx remote-io | head -n 1 | cut -d: -f1)
victim=${victim:-1}
base=$RINGBOX_WORK/many
mkdir -p "$base"

now() {
  read -r up _ </proc/uptime
  echo "${up%.*}"
}
free_mib() {
  xl info | awk '$1 == "free_memory" { print $3 }'
}
# domains: the job domains `xl list` shows, as "name(id) ...".
domains() {
  xl list | awk 'NR > 1 && $1 != "Domain-0" { printf "%s(%s) ", $1, $2 }'
}

# The job: TAG. Reads in.dat STEPS times (every mode's read path), appends a line per step to
# out/log.txt (write path), copies in.dat, lists its working directory.
# shellcheck disable=SC2016 # expanded by the job's shell
JOB='tag=$1 steps=$2
echo "ready $tag"
mkdir -p out
i=0
while [ $i -lt "$steps" ]; do
  echo "$tag $i $(sha256sum < in.dat | cut -c1-16)" >> out/log.txt
  echo "$tag step $i"
  i=$((i + 1))
  sleep 0.2
done
cat in.dat > out/copy.dat
ls -A . | sort | tr "\n" " " > out/seen.txt
echo "$tag done"'

# xenstore_keys FILE: every xenstore path, sorted; fails when the listing is empty or lacks
# dom0's own keys (a failed xenstore-ls must not make the comparison below vacuous).
xenstore_keys() {
  xenstore-ls -f | sed 's/ = .*//' | sort >"$1" || fail "xenstore-ls failed"
  grep -q '^/local/domain/0/' "$1" || fail "xenstore-ls lists no /local/domain/0 key: $(head -c 200 "$1")"
}
baseline_free=$(free_mib)
case $baseline_free in '' | *[!0-9]*) fail "xl info gives no free_memory: '$baseline_free'" ;; esac
xenstore_keys "$base/xenstore.before"
[ -z "$(domains)" ] || fail "domains before the first run: $(domains)"
step "baseline: Xen free memory $baseline_free MiB, $(wc -l <"$base/xenstore.before") xenstore keys"

# pause_ready: pause the domain of each run started so far whose job printed its first line
# (it reached dom0 through the ring: the job runs); fail on a run that ended before that.
paused=0
pause_ready() {
  p=0
  while [ $p -lt "$n" ]; do
    p=$((p + 1))
    [ ! -e "$base/$p.paused" ] || continue
    if grep -q "^ready job$p\$" "$base/$p.stdout" 2>/dev/null; then
      xl pause "ringbox-job-many$p" || fail "xl pause ringbox-job-many$p failed: $(domains)"
      touch "$base/$p.paused"
      paused=$((paused + 1))
      step "job $p ($(eval echo "\$mode_$p")) is running: paused until all are"
    elif ! kill -0 "$(eval echo "\$pid_$p")" 2>/dev/null; then
      fail "run $p ended before its job started: $(tail -n 3 "$base/$p.log")"
    fi
  done
}

# ---------------------------------------------------------------- 1. start, pause, go
n=0
for mode in $modes; do
  n=$((n + 1))
  ex=$base/export$n
  mkdir -p "$ex"
  head -c $((300000 + n * 4099)) /dev/urandom >"$ex/in.dat"
  echo "job $n's own" >"$ex/mine-$n"
  eval "mode_$n=$mode"
  inputs=
  [ "$mode" != eager ] || inputs="--input in.dat"
  # shellcheck disable=SC2086 # ${pin:+...} and $inputs are two words or none
  ringbox-host run --transport xen --mode "$mode" --export "$ex" --name "ringbox-job-many$n" \
    --kernel "$RINGBOX_GUEST_KERNEL" --ramdisk "$RINGBOX_GUEST_INITRD" \
    --kernel-args "$RINGBOX_GUEST_KARGS" --memory-mib "$memory" ${pin:+--pin-cpu $pin} \
    --stdout "$base/$n.stdout" --stderr "$base/$n.stderr" $inputs \
    -- sh -c "$JOB" sh "job$n" "$steps" >"$base/$n.log" 2>&1 &
  eval "pid_$n=$!"
  # One guest boots at a time: the next run starts once this job runs (and is paused).
  end=$(($(now) + 180))
  until [ -e "$base/$n.paused" ]; do
    [ "$(now)" -lt "$end" ] || fail "run $n ($mode): its job did not start within 180 s: $(tail -n 3 "$base/$n.log")"
    sleep 0.2
    pause_ready
  done
done
total=$n
[ "$total" -ge 2 ] || fail "RINGBOX_MANY_MODES names $total mode(s): many domains means at least 2"

running=$(xl list | grep -c '^ringbox-job-many')
[ "$running" = "$total" ] || fail "$total jobs started but xl list shows $running job domains: $(domains)"
mark all-started
step "all $total domains exist at once: $(domains)"
i=0
while [ $i -lt "$total" ]; do
  i=$((i + 1))
  xl unpause "ringbox-job-many$i" || fail "xl unpause ringbox-job-many$i failed"
done
step "go: all $total unpaused"

# ---------------------------------------------------------------- 2. one owner SIGKILLed
vdom=$(xl domid "ringbox-job-many$victim") || fail "the victim's domain is gone before its kill"
vpid=$(eval echo "\$pid_$victim")
end=$(($(now) + 300))
until grep -q "^job$victim step 2\$" "$base/$victim.stdout" 2>/dev/null; do
  [ "$(now)" -lt "$end" ] || fail "job $victim did not reach step 2 within 300 s of the go"
  sleep 0.2
done
! grep -q "^job$victim done\$" "$base/$victim.stdout" || fail "job $victim finished before its owner could be killed mid-way"
kill -KILL "$vpid" || fail "run $victim (pid $vpid) was gone before its SIGKILL"
mark victim-killed
end=$(($(now) + 30))
while xl domid "ringbox-job-many$victim" >/dev/null 2>&1; do
  [ "$(now)" -lt "$end" ] || fail "30 s after SIGKILL of run $victim, its domain $vdom still exists"
  sleep 0.2
done
step "SIGKILL of run $victim: its reaper destroyed domain $vdom"
i=0
others=0
while [ $i -lt "$total" ]; do
  i=$((i + 1))
  [ $i != $victim ] || continue
  if xl domid "ringbox-job-many$i" >/dev/null 2>&1; then
    others=$((others + 1))
  elif ! grep -q "^job$i done\$" "$base/$i.stdout" 2>/dev/null; then
    fail "domain ringbox-job-many$i is gone after run $victim was killed, and its job had not finished"
  fi
done
[ "$others" -ge 1 ] || fail "no other domain was running when run $victim was killed: nothing shows they survive it"
step "the other runs go on: $others domain(s) still running"

# ---------------------------------------------------------------- 3. every other job's result
i=0
while [ $i -lt "$total" ]; do
  i=$((i + 1))
  [ $i != $victim ] || continue
  m=$(eval echo "\$mode_$i")
  wait "$(eval echo "\$pid_$i")"
  rc=$?
  ex=$base/export$i
  [ "$rc" = 0 ] || fail "run $i ($m) exited $rc: $(tail -n 5 "$base/$i.log")"
  cmp -s "$ex/in.dat" "$ex/out/copy.dat" || fail "job $i ($m): out/copy.dat differs from its in.dat"
  sum=$(sha256sum <"$ex/in.dat" | cut -c1-16)
  [ "$(grep -c " $sum\$" "$ex/out/log.txt")" = "$steps" ] && [ "$(wc -l <"$ex/out/log.txt")" = "$steps" ] ||
    fail "job $i ($m): out/log.txt does not hold $steps reads of its own in.dat: $(head -n 2 "$ex/out/log.txt" | tr '\n' ' ')"
  # Its own lines only, on its stdout and in its outputs.
  ! grep -v -e "^job$i " -e "^ready job$i\$" "$base/$i.stdout" | grep -q . ||
    fail "job $i ($m): stdout holds lines of another job: $(grep -v -e "^job$i " -e "^ready job$i\$" "$base/$i.stdout" | head -n 2)"
  [ "$(grep -c "^job$i step " "$base/$i.stdout")" = "$steps" ] && grep -q "^job$i done\$" "$base/$i.stdout" ||
    fail "job $i ($m): stdout does not hold its $steps steps and its end: $(tail -n 2 "$base/$i.stdout" | tr '\n' ' ')"
  ! grep -qv "^job$i " "$ex/out/log.txt" || fail "job $i ($m): out/log.txt holds another job's lines"
  case $m in
    eager) want="in.dat out " ;;
    *) want="in.dat mine-$i out " ;;
  esac
  [ "$(cat "$ex/out/seen.txt")" = "$want" ] ||
    fail "job $i ($m) saw '$(cat "$ex/out/seen.txt")' in its directory, want '$want'"
  step "job $i ($m): exit 0, copy byte-identical, $steps reads of its own input, saw only its own files"
done
# No export got another job's files.
i=0
while [ $i -lt "$total" ]; do
  i=$((i + 1))
  stray=$(find "$base/export$i" -name 'mine-*' ! -name "mine-$i" | head -n 3 | tr '\n' ' ')
  [ -z "$stray" ] || fail "export $i holds other jobs' files: $stray"
done

# ---------------------------------------------------------------- 4. nothing left behind
wait "$vpid"
vrc=$?
[ "$vrc" = 137 ] || fail "run $victim exited $vrc, not 137 (SIGKILL)"
vlines=$(wc -l <"$base/export$victim/out/log.txt" 2>/dev/null || echo 0)
[ "$vlines" -lt "$steps" ] || fail "job $victim did all $steps steps although its owner was killed"
[ -z "$(domains)" ] || fail "after every run, xl list still shows: $(domains)"
end=$(($(now) + 30))
while ps | grep -v grep | grep -q 'ringbox-host domain-reaper'; do
  [ "$(now)" -lt "$end" ] || fail "a domain reaper is still running 30 s after the last run"
  sleep 0.2
done
left=$(xenstore-list /local/domain/0/backend/ringbox 2>/dev/null | tr '\n' ' ')
[ -z "$left" ] || fail "xenstore still holds backend/ringbox entries: $left"
xenstore_keys "$base/xenstore.after"
new=$(grep -vxF -f "$base/xenstore.before" "$base/xenstore.after")
# Keys the first domain creates once for dom0 (e.g. the empty backend/ringbox directory) may
# stay; none may name a job domain.
i=0
ids=
while [ $i -lt "$total" ]; do
  i=$((i + 1))
  id=$(grep -o "created domain [0-9]*" "$base/$i.log" | head -n 1 | cut -d' ' -f3)
  [ -n "$id" ] || fail "run $i's log names no domain id: $(head -n 3 "$base/$i.log")"
  ids="$ids $id"
  stale=$(printf '%s\n' "$new" | grep -E "/$id(/|\$)" | head -n 3 | tr '\n' ' ')
  [ -z "$stale" ] || fail "xenstore keys of job domain $id are left: $stale"
done
vms=$(printf '%s\n' "$new" | grep -c '^/vm/' || true)
[ "$vms" = 0 ] || fail "xenstore has $vms new /vm/ keys after every domain is gone"
# Xen frees a destroyed domain's pages once it has scrubbed them: give it time.
end=$(($(now) + 60))
while :; do
  free=$(free_mib)
  case $free in '' | *[!0-9]*) fail "xl info gives no free_memory: '$free'" ;; esac
  [ "$free" -lt $((baseline_free - 2)) ] || break
  [ "$(now)" -lt "$end" ] || fail "Xen's free memory is $free MiB 60 s after the last run, $baseline_free MiB before"
  sleep 1
done
mark clean
step "nothing left: xl list shows Domain-0 alone, no xenstore key of domains$ids, no reaper, free memory $free MiB (baseline $baseline_free)"
step "$total domains ran at once; one owner SIGKILLed took only its own domain with it"
