#!/bin/bash
# pkg_systemd: the installed pvpanic-watch.service passes
# "systemd-analyze verify" (in a DESTDIR root, so no installed binaries are
# needed) with no warning, keeps its exposure score low, lets the daemon
# write where the sample and documented sink paths are, and its
# ExecReload really makes a running follow daemon reload (SIGHUP).
set -u
: "${abs_top_srcdir:?run through make check}" "${abs_top_builddir:?run through make check}"
skip() {
    [ "${CI:-}" = true ] && { echo "FAIL - $* (CI)"; exit 1; }
    echo "SKIP - $*"
    exit 77
}
command -v systemd-analyze >/dev/null 2>&1 || skip "systemd-analyze is not installed"
T=$(mktemp -d "${TMPDIR:-/tmp}/pvpanic-unit.XXXXXX")
FPID=
trap '[ -n "$FPID" ] && kill -9 "$FPID" 2>/dev/null; rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
mk() {
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
        make -s --no-print-directory -C "$abs_top_builddir" "$@"
}

eval "$(mk pkg-print-dirs)"
R="$T/root"
mk install DESTDIR="$R" > "$T/install.log" 2>&1 || { cat "$T/install.log"; echo "FAIL - make install"; exit 1; }
unit="$R$systemdsystemunitdir/pvpanic-watch.service"
[ -f "$unit" ] || { echo "FAIL - no unit at $unit"; exit 1; }

# The root needs systemd's own units (sysinit.target, ...) and /bin/kill.
mkdir -p "$R/usr/lib/systemd/system" "$R/usr/bin"
for d in /lib/systemd/system /usr/lib/systemd/system; do
    [ -d "$d" ] && cp -a "$d/." "$R/usr/lib/systemd/system/" 2>/dev/null
done
cp -a "$unit" "$R/usr/lib/systemd/system/" 2>/dev/null
[ -e "$R/bin" ] || ln -s usr/bin "$R/bin"
cp /bin/kill "$R/usr/bin/kill" 2>/dev/null || fail "no /bin/kill on this host"

if ! systemd-analyze verify --man=no --root="$R" "$unit" > "$T/verify.out" 2>&1; then
    fail "systemd-analyze verify: $(cat "$T/verify.out")"
elif [ -s "$T/verify.out" ]; then
    # verify exits 0 on bad values, but says so
    fail "systemd-analyze verify warns: $(cat "$T/verify.out")"
fi

# Exposure score (0 best, 10 worst), when this systemd can compute it offline.
if systemd-analyze security --offline=yes --root="$R" "$unit" > "$T/sec.out" 2>&1; then
    score=$(sed -n 's/.*Overall exposure level for pvpanic-watch.service: \([0-9.]*\).*/\1/p' "$T/sec.out")
    echo "# systemd-analyze security exposure: ${score:-?}"
    if [ -n "$score" ] && ! awk -v s="$score" 'BEGIN { exit !(s <= 3.0) }'; then
        fail "exposure level $score > 3.0"
    fi
fi

# What the unit says, with the '-' (ignore if missing) prefixes dropped.
value() { sed -n "s/^$1=//p" "$unit" | tr ' ' '\n' | sed 's/^-//' | sed '/^$/d'; }
writable=$( { value ReadWritePaths
              value StateDirectory | sed 's|^|/var/lib/|'
              value LogsDirectory | sed 's|^|/var/log/|'; } )
is_writable() {   # PATH: under one of the writable dirs
    local w
    for w in $writable; do
        case $1 in "$w"/*) return 0 ;; esac
    done
    return 1
}

# ExecStart's state file is in the StateDirectory.
state=$(sed -n 's/^ExecStart=.* --state \([^ ]*\).*/\1/p' "$unit")
[ -n "$state" ] || fail "ExecStart has no --state"
[ "$(dirname "$state")" = "/var/lib/$(value StateDirectory)" ] ||
    fail "--state $state is not in StateDirectory=$(value StateDirectory)"

# Every sink path of the sample config and of pvpanic.conf(5)'s examples.
paths=$( { sed -n 's/^[#; ]*path *= *\(\/[^ ]*\).*/\1/p' "$abs_top_srcdir/share/watch.conf.sample"
           sed -n 's/^path = \(\/.*\)$/\1/p' "$abs_top_srcdir/share/man/pvpanic.conf.5" | sed 's/\\-/-/g'; } | sort -u)
[ -n "$paths" ] || fail "no sink path found in the sample config or pvpanic.conf(5)"
for p in $paths; do
    is_writable "$p" || fail "sink path $p is not writable under the unit (writable: $(echo $writable))"
done
# The default logs are readable (ReadOnlyPaths or at least not hidden).
value ReadOnlyPaths | grep -qx /var/log/libvirt || fail "ReadOnlyPaths lacks /var/log/libvirt"
grep -q '^ProtectSystem=strict' "$unit" || fail "ProtectSystem=strict missing"
grep -q '^NoNewPrivileges=yes' "$unit" || fail "NoNewPrivileges missing"

# systemctl reload = ExecReload with $MAINPID: run exactly that line against
# a running daemon and see it reload.
reload=$(sed -n 's/^ExecReload=//p' "$unit")
[ -n "$reload" ] || fail "no ExecReload"
printf '[sink json]\npath = %s/alerts.json\n' "$T" > "$T/watch.conf"
chmod 600 "$T/watch.conf"
: > "$T/libvirtd.log"
"$abs_top_builddir/parser/pvpanic-watch" follow --log stderr -v -c "$T/watch.conf" \
    --no-state "$T/libvirtd.log" 2> "$T/follow.err" &
FPID=$!
for _ in $(seq 100); do grep -q "following with" "$T/follow.err" && break; sleep 0.05; done
cmdline=${reload//\$MAINPID/$FPID}
# shellcheck disable=SC2086
$cmdline || fail "ExecReload ($cmdline) failed"
for _ in $(seq 100); do grep -q "configuration reloaded" "$T/follow.err" && break; sleep 0.05; done
grep -q "configuration reloaded" "$T/follow.err" || fail "ExecReload did not make the daemon reload: $(tail -3 "$T/follow.err")"
kill -TERM "$FPID"; wait "$FPID" || fail "follow did not exit 0 on SIGTERM"
FPID=

if [ "$fails" -gt 0 ]; then
    echo "FAIL - $fails unit check(s) failed"
    exit 1
fi
echo "ok - pvpanic-watch.service verifies cleanly (exposure ${score:-n/a}); reload = SIGHUP; sink paths writable"
