#!/usr/bin/env bash
# The Debian packages: build them with cpack from this build, unpack ringbox-node into a scratch
# root (dpkg -x), check what an admin gets (binaries, unit, policy, condor_config snippet, docs,
# conffiles, dependencies); unpack ringbox-submit into another and run its ringbox-submitd as
# its unit does (the shipped /etc/default file, the unit's ExecStart), talked to with cctools'
# chirp; then run the real-pool mode test with the installed execute-node binaries only.
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
echo "== ringbox-submit: installed into its own scratch root, run as its unit runs it"
submit=$(ls "$W"/debs/ringbox-submit_*.deb 2>/dev/null | head -n1)
[ -n "$submit" ] || fail "no ringbox-submit package (this tree builds ringbox-submitd)"
command -v chirp >/dev/null ||
  fail "cctools' chirp is missing (scripts/setup installs coop-computing-tools)"
sroot=$W/submit-root
dpkg -x "$submit" "$sroot"
for f in usr/bin/ringbox-submitd lib/systemd/system/ringbox-submitd.service \
         etc/default/ringbox-submitd; do
  [ -e "$sroot/$f" ] || fail "ringbox-submit lacks /$f"
done
dpkg-deb --ctrl-tarfile "$submit" | tar -xO ./conffiles | grep -qx /etc/default/ringbox-submitd ||
  fail "/etc/default/ringbox-submitd is not a conffile"
unit=$sroot/lib/systemd/system/ringbox-submitd.service
grep -qx 'EnvironmentFile=-/etc/default/ringbox-submitd' "$unit" ||
  fail "the unit does not read /etc/default/ringbox-submitd"
sexec=$(sed -n 's/^ExecStart=\([^ ]*\) \$RINGBOX_SUBMITD_ARGS$/\1/p' "$unit")
[ -n "$sexec" ] || fail "the unit's ExecStart is not 'BINARY \$RINGBOX_SUBMITD_ARGS'"
[ -x "$sroot$sexec" ] || fail "the unit starts $sexec, which the package does not install"
# The shipped defaults file, with the admin's line set as its example says: what the unit runs.
mkdir -m 0755 "$W/export" "$W/client"
sed 's|^RINGBOX_SUBMITD_ARGS=.*|RINGBOX_SUBMITD_ARGS="--root '"$W"'/export --port 0 --port-file '"$W"'/submitd.port --write-chirp-config '"$W"'/client/.chirp.config"|' \
  "$sroot/etc/default/ringbox-submitd" > "$W/submitd.default"
env -i PATH=/usr/bin:/bin sh -c '. "$1"; exec "$2" $RINGBOX_SUBMITD_ARGS' sh "$W/submitd.default" \
  "$sroot$sexec" >"$W/submitd.log" 2>&1 &
spid=$!
for _ in $(seq 1 50); do [ -s "$W/submitd.port" ] && break; sleep 0.1; done
[ -s "$W/submitd.port" ] || { kill $spid 2>/dev/null; cat "$W/submitd.log"; fail "the installed ringbox-submitd did not start"; }
sport=$(cat "$W/submitd.port")
head -c 3000000 /dev/urandom > "$W/client/up.bin"
printf 'from the export\n' > "$W/export/there.txt"
schirp() { (cd "$W/client" && chirp -t 30 "$@"); }
sfail() { kill $spid 2>/dev/null; cat "$W/submitd.log"; fail "$@"; }
schirp -a address "127.0.0.1:$sport" put up.bin up.bin >/dev/null || sfail "chirp put to the installed ringbox-submitd"
cmp "$W/client/up.bin" "$W/export/up.bin" || sfail "put: the export's copy differs"
schirp -a address "127.0.0.1:$sport" get up.bin back.bin >/dev/null || sfail "chirp get"
cmp "$W/client/up.bin" "$W/client/back.bin" || sfail "get: the copy differs"
[ "$(schirp -a address "127.0.0.1:$sport" cat there.txt)" = "from the export" ] || sfail "chirp cat"
# "chirp CONDOR": the cookie from the .chirp.config the installed server wrote.
[ "$(schirp CONDOR cat there.txt)" = "from the export" ] || sfail "chirp CONDOR cat (cookie auth)"
schirp CONDOR ls -l / | grep -q " 3000000 .* up.bin$" || sfail "chirp CONDOR ls -l"
kill -TERM $spid
wait $spid || true
echo "== ringbox-submitd from ringbox-submit served cctools' chirp (address and cookie auth)"

echo "== a job through the real pool with the installed binaries"
RINGBOX_BIN=$root/usr/bin bash "$here/pool_modes.sh"
echo "PASS: ringbox-node installs its files and runs jobs from the installed paths"
