# shellcheck shell=sh
# Helpers shared by the /init of every ringbox image (the product guest,
# the bench guest, the nested harness's dom0), busybox ash. Each image has it
# at /lib/ringbox/init-lib.sh; an /init sets INIT_TAG (its console prefix)
# and sources it.

# say TEXT...: one console line, "<INIT_TAG>: TEXT".
say() {
  echo "$INIT_TAG: $*"
}

uptime_s() {
  read -r up _ </proc/uptime
  echo "$up"
}

# list_or_none DIR: the entries of DIR on one line, or "none".
list_or_none() {
  set -f
  # shellcheck disable=SC2046 # split into words on purpose
  set -- $(ls "$1" 2>/dev/null)
  set +f
  if [ $# -eq 0 ]; then echo none; else echo "$*"; fi
}

# cmdline_value KEY [FILE]: the value of KEY=... on the kernel command line
# (FILE, default /proc/cmdline); status 1 when KEY is absent.
cmdline_value() {
  set -f
  # shellcheck disable=SC2013 # the command line is one line of words
  for word in $(cat "${2:-/proc/cmdline}"); do
    case $word in
      "$1="*)
        set +f
        echo "${word#*=}"
        return 0
        ;;
    esac
  done
  set +f
  return 1
}
