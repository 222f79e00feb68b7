#!/usr/bin/env bash
# The Debian packages: build them with cpack from this build, unpack ringbox-node into a scratch
# root (dpkg -x), check what an admin gets (binaries, unit, policy, condor_config snippet, docs,
# conffiles, dependencies), then run the real-pool mode test with the installed binaries only.
#
# usage: package.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:?usage: package.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (the pool test it runs)"; exit 77; }
command -v cpack >/dev/null && command -v dpkg-deb >/dev/null || fail "cpack or dpkg-deb missing"

W=$(mktemp -d /var/tmp/ringbox-package.XXXXXX)
trap 'rm -rf "$W"' EXIT
chmod 0755 "$W"
(cd "$build" && cpack -G DEB -B "$W/debs" >"$W/cpack.log" 2>&1) || { cat "$W/cpack.log"; fail "cpack failed"; }
node=$(ls "$W"/debs/ringbox-node_*.deb 2>/dev/null | head -n1)
[ -n "$node" ] || { ls -l "$W/debs"; fail "no ringbox-node package"; }
echo "== built $(cd "$W/debs" && ls *.deb | tr '\n' ' ')"

root=$W/root
dpkg -x "$node" "$root"
chmod 0755 "$root"
for f in usr/bin/ringbox-host usr/bin/ringbox-condor usr/bin/ringbox-agent \
         lib/systemd/system/ringbox-hostd.service etc/ringbox/hostd.conf \
         etc/condor/config.d/50-ringbox.conf usr/share/doc/ringbox-node/condor.md; do
  [ -e "$root/$f" ] || fail "ringbox-node lacks /$f"
done
grep -qx 'USER_JOB_WRAPPER = /usr/bin/ringbox-condor' "$root/etc/condor/config.d/50-ringbox.conf" ||
  fail "the condor_config snippet does not set USER_JOB_WRAPPER to the installed wrapper"
exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$root/lib/systemd/system/ringbox-hostd.service")
[ -x "$root$exec_start" ] || fail "the unit starts $exec_start, which the package does not install"
dpkg-deb -f "$node" Depends | grep -q fuse3 || fail "ringbox-node does not depend on fuse3"
dpkg-deb --ctrl-tarfile "$node" | tar -xO ./conffiles | grep -qx /etc/ringbox/hostd.conf ||
  fail "/etc/ringbox/hostd.conf is not a conffile (an upgrade would overwrite the admin's policy)"
# The installed policy parses (the service refuses to start on a bad one): --help does not read
# it, so start the daemon on a scratch socket and stop it.
sed 's/^transport = xen/transport = local/' "$root/etc/ringbox/hostd.conf" > "$W/hostd.conf"
"$root/usr/bin/ringbox-host" daemon --socket "$W/s.sock" --policy "$W/hostd.conf" >"$W/d.log" 2>&1 &
dpid=$!
for _ in $(seq 1 50); do [ -S "$W/s.sock" ] && break; sleep 0.1; done
kill -TERM $dpid; wait $dpid || true
grep -q "listening on $W/s.sock" "$W/d.log" || { cat "$W/d.log"; fail "the installed policy is refused"; }
if ls "$W"/debs/ringbox-submit_*.deb >/dev/null 2>&1; then
  dpkg -c "$W"/debs/ringbox-submit_*.deb | grep -q ./usr/bin/ringbox-submitd ||
    fail "ringbox-submit lacks ringbox-submitd"
fi

echo "== a job through the real pool with the installed binaries"
RINGBOX_BIN=$root/usr/bin bash "$here/pool_modes.sh"
echo "PASS: ringbox-node installs its files and runs jobs from the installed paths"
