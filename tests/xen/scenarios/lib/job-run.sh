# shellcheck shell=sh
# Running jobs with `ringbox-host run --transport xen` from a nested-Xen scenario, and the
# checks every such run shares: the domain has no device but the save/restore channel while it
# runs, and once the run is over the domain is gone and no reaper is left. Sourced after
# lib/common.sh by job-modes.sh and demo.sh (busybox sh in the harness dom0).
#
#   job_run_start TAG MODE [RUN_OPTION...] -- CMD...   start a run in the background
#   job_watch_domain                                   wait for its domain, check its devices
#   job_run_wait                                       wait for the run, check it left nothing
#
# Variables set for the current run: JOB_NAME (the domain's name, ringbox-job-TAG), JOB_PID,
# JOB_OUT / JOB_ERR (the job's stdout and stderr), JOB_LOG (ringbox-host's own log),
# JOB_TLOG (its --transfer-log), JOB_DOMID, JOB_DEVICES, JOB_RC, JOB_SECONDS.
# Settings: JOB_EXPORT (the export), JOB_SUBMIT (when set, a chirp://HOST:PORT[/DIR] URL: the
# run reaches its files through Chirp with --submit instead of --export), JOB_MEMORY_MIB (guest memory, default 256),
# JOB_ONLY_DOM0 (1: after a run `xl list` must show Domain-0 alone, as in the harness; 0 on a
# real dom0 that runs other domains: only the run's own domain must be gone).
# shellcheck disable=SC2009 # the harness's busybox has ps but no pgrep
# shellcheck disable=SC2034 # the JOB_* results are read by the scenario that sources this

# job_uptime: seconds of dom0 uptime.
job_uptime() {
  read -r up _ </proc/uptime
  echo "$up"
}

job_run_start() {
  tag=$1 mode=$2
  shift 2
  JOB_NAME=ringbox-job-$tag
  JOB_OUT=$RINGBOX_WORK/$tag.stdout
  JOB_ERR=$RINGBOX_WORK/$tag.stderr
  JOB_LOG=$RINGBOX_WORK/$tag.host.log
  JOB_TLOG=$RINGBOX_WORK/$tag.transfers
  JOB_DOMID=
  JOB_DEVICES=
  rm -f "$JOB_OUT" "$JOB_ERR" "$JOB_LOG" "$JOB_TLOG"
  pin=${RINGBOX_GUEST_CPUS%%-*}
  JOB_T0=$(job_uptime)
  files="--export $JOB_EXPORT"
  [ -z "${JOB_SUBMIT:-}" ] || files="--submit $JOB_SUBMIT"
  # shellcheck disable=SC2086 # ${pin:+...} is two words or none, $files two words
  ringbox-host run --transport xen --mode "$mode" $files --name "$JOB_NAME" \
    --kernel "$RINGBOX_GUEST_KERNEL" --ramdisk "$RINGBOX_GUEST_INITRD" \
    --kernel-args "$RINGBOX_GUEST_KARGS" --memory-mib "${JOB_MEMORY_MIB:-256}" \
    ${pin:+--pin-cpu $pin} --stdout "$JOB_OUT" --stderr "$JOB_ERR" --transfer-log "$JOB_TLOG" \
    "$@" >"$JOB_LOG" 2>&1 &
  JOB_PID=$!
}

# job_dump: everything about the current run, for a failure's context.
job_dump() {
  sed "s/^/[$JOB_NAME host] /" "$JOB_LOG" 2>/dev/null
  sed "s/^/[$JOB_NAME stdout] /" "$JOB_OUT" 2>/dev/null | tail -n 20
  sed "s/^/[$JOB_NAME stderr] /" "$JOB_ERR" 2>/dev/null | tail -n 20
}

# job_fail REASON: dump the run, then fail.
job_fail() {
  job_dump
  fail "$*"
}

# job_watch_domain: wait until ringbox-host says it created the domain, then check xenstore:
# the domain's device directory may hold nothing but "suspend", and dom0 has no network or
# disk backend for it. Reads the run's own log, so no xl process competes with the run for
# dom0's one vCPU.
job_watch_domain() {
  n=600
  while :; do
    line=$(grep -m 1 "created domain [0-9]* ($JOB_NAME," "$JOB_LOG" 2>/dev/null) && break
    kill -0 "$JOB_PID" 2>/dev/null ||
      job_fail "ringbox-host run ended before it created $JOB_NAME: $(grep 'error' "$JOB_LOG" | tail -n 1)"
    n=$((n - 1))
    [ "$n" -gt 0 ] || job_fail "ringbox-host run did not create $JOB_NAME within 60 s"
    sleep 0.1
  done
  JOB_DOMID=${line#*created domain }
  JOB_DOMID=${JOB_DOMID%% *}
  JOB_DEVICES=$(xenstore-list "/local/domain/$JOB_DOMID/device" 2>/dev/null | tr '\n' ' ')
  JOB_DEVICES=${JOB_DEVICES% }
  case " $JOB_DEVICES " in
    "  " | " suspend ") ;;
    *) job_fail "domain $JOB_DOMID ($JOB_NAME) has devices in xenstore: $JOB_DEVICES" ;;
  esac
  for kind in vif vif2 vbd vbd3 qdisk 9pfs vscsi; do
    ! xenstore-exists "/local/domain/0/backend/$kind/$JOB_DOMID" ||
      job_fail "dom0 has a $kind backend for domain $JOB_DOMID ($JOB_NAME)"
  done
}

# job_run_wait: wait for the run (JOB_RC, JOB_SECONDS), then check that it left nothing: the
# domain is gone at once (ringbox-host destroys it before it exits), `xl list` shows only
# Domain-0, and no domain reaper is left (it stands down when the owner destroyed the domain).
job_run_wait() {
  wait "$JOB_PID"
  JOB_RC=$?
  JOB_SECONDS=$(awk -v a="$JOB_T0" -v b="$(job_uptime)" 'BEGIN { printf "%.1f", b - a }')
  ! xl domid "$JOB_NAME" >/dev/null 2>&1 ||
    job_fail "domain $JOB_NAME still exists after ringbox-host run exited (status $JOB_RC)"
  if [ "${JOB_ONLY_DOM0:-1}" = 1 ]; then
    others=$(xl list | awk 'NR > 1 && $1 != "Domain-0" { printf "%s(%s) ", $1, $2 }')
    [ -z "$others" ] || job_fail "after $JOB_NAME, xl list still shows: $others"
  fi
  n=30
  while ps | grep -v grep | grep -q 'ringbox-host domain-reaper'; do
    n=$((n - 1))
    [ "$n" -gt 0 ] || job_fail "a ringbox-host domain-reaper is still running after $JOB_NAME"
    sleep 0.1
  done
}

# job_console_line ERE: the last line of the current run's guest console matching ERE.
job_console_line() {
  guest_line "$JOB_NAME" "$1"
}

# job_no_upload_leftovers DIR: no temporary upload file (.ringbox-put*) anywhere in DIR.
job_no_upload_leftovers() {
  left=$(find "$1" -name '.ringbox-put*' | head -n 3 | tr '\n' ' ')
  [ -z "$left" ] || job_fail "temporary upload files left in the export: $left"
}

# submitd_start DIR ROOT [SUBMITD_OPTION...]: ringbox-submitd in dom0 serving ROOT on a free
# loopback port (address auth unless the options say otherwise), its log in DIR/submitd.log.
# Sets SUBMITD_PID and SUBMITD_URL (chirp://127.0.0.1:PORT).
submitd_start() {
  sd_dir=$1 sd_root=$2
  shift 2
  command -v ringbox-submitd >/dev/null || fail "no ringbox-submitd in the dom0 image (kernel-image/build-dom0-image installs it)"
  ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up || fail "cannot bring dom0's loopback up"
  rm -f "$sd_dir/submitd.port"
  [ $# -gt 0 ] || set -- --auth address
  ringbox-submitd --root "$sd_root" --port 0 --port-file "$sd_dir/submitd.port" "$@" \
    >"$sd_dir/submitd.log" 2>&1 &
  SUBMITD_PID=$!
  n=100
  until [ -s "$sd_dir/submitd.port" ]; do
    n=$((n - 1))
    if [ "$n" -le 0 ] || ! kill -0 "$SUBMITD_PID" 2>/dev/null; then
      fail "ringbox-submitd did not start: $(cat "$sd_dir/submitd.log")"
    fi
    sleep 0.1
  done
  SUBMITD_URL=chirp://127.0.0.1:$(cat "$sd_dir/submitd.port")
}
