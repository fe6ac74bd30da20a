#!/bin/bash
# tests/pkg/deb.sh: build the Debian packages from a copy of this tree
# (dpkg-buildpackage -us -uc -b), lint them, install them with
# "apt-get install ./*.deb", check the hook link and the configuration,
# run the service by hand as its unit would (no systemd needed), feed it a
# generated libvirt log and see the alert, reload and stop it, then purge
# and check that nothing of ours is left.
#
# It installs and purges packages system-wide, so it runs only as root and
# only when CI=true or PVPANIC_PKG_TEST=1 (else it exits 77 and says so).
# Packages it needs: dpkg-dev debhelper lintian fakeroot (plus the build
# dependencies in debian/control). Re-running it is safe: it purges what a
# previous run left. Build products stay in a temporary directory that is
# removed at the end (PVPANIC_PKG_KEEP=1 keeps it; PVPANIC_PKG_OUT=DIR
# copies the .deb files there; PVPANIC_PKG_SOURCE=HEAD builds the last
# commit instead of the work tree).
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
PKGS="pvpanic-hook pvpanic-watch"
LINK=/etc/libvirt/hooks/qemu.d/50-pvpanic
HOOK_TARGET=/usr/sbin/pvpanic-hook

say() { printf '=== %s\n' "$*"; }
fail() { printf 'FAIL - %s\n' "$*" >&2; exit 1; }
ok() { printf 'ok - %s\n' "$*"; }

if [ "${CI:-}" != true ] && [ "${PVPANIC_PKG_TEST:-}" != 1 ]; then
    echo "SKIP - tests/pkg/deb.sh installs and purges the pvpanic-hook and pvpanic-watch"
    echo "       packages system-wide; run it with PVPANIC_PKG_TEST=1 (as root) to do that."
    exit 77
fi
need_or_skip() {
    [ "${CI:-}" = true ] && fail "$*"
    echo "SKIP - $*"
    exit 77
}
[ "$(id -u)" -eq 0 ] || need_or_skip "tests/pkg/deb.sh must run as root (it installs packages)"
for tool in dpkg-buildpackage dh lintian fakeroot apt-get python3; do
    command -v "$tool" >/dev/null 2>&1 ||
        need_or_skip "$tool is missing (apt-get install dpkg-dev debhelper lintian fakeroot python3)"
done

W=$(mktemp -d "${TMPDIR:-/tmp}/pvpanic-deb.XXXXXX")
FPID=
cleanup() {
    [ -n "$FPID" ] && kill -9 "$FPID" 2>/dev/null
    if [ "${PVPANIC_PKG_KEEP:-}" = 1 ]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT

installed() { dpkg-query -W -f='${db:Status-Status}\n' "$1" 2>/dev/null | grep -qx installed; }
known() { dpkg-query -W -f='${db:Status-Status}\n' "$1" 2>/dev/null | grep -qvx not-installed; }
purge_ours() {
    local p list=
    for p in $PKGS; do known "$p" && list="$list $p"; done
    [ -z "$list" ] && return 0
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -q $list > "$W/purge.log" 2>&1 ||
        { cat "$W/purge.log"; fail "apt-get purge$list"; }
}

# A hooks/qemu of somebody else must come out of all this byte-identical.
qemu_hook_sum=absent
[ -e /etc/libvirt/hooks/qemu ] && qemu_hook_sum=$(sha256sum < /etc/libvirt/hooks/qemu)

say "clean up what an earlier run left"
purge_ours

say "copy the tree"
version=$(sed -n 's/^AC_INIT(\[[^]]*\], *\[\([^]]*\)\].*/\1/p' "$top/configure.ac")
debversion=$(sed -n '1s/^pvpanic-tools (\([^)]*\)).*/\1/p' "$top/debian/changelog")
[ "$version" = "${debversion%%-*}" ] ||
    fail "debian/changelog says $debversion, configure.ac says $version: add a changelog entry (dch -v $version)"
src="$W/pvpanic-tools-$version"
mkdir -p "$src"
if [ "${PVPANIC_PKG_SOURCE:-}" = HEAD ]; then
    # the last commit, without the work tree's changes
    git -C "$top" archive HEAD | tar -xf - -C "$src"
elif git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
    # tracked and new (not ignored) files as they are in the work tree
    (cd "$top" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        tar --null -T - -cf -) | tar -xf - -C "$src"
else
    (cd "$top" && tar --exclude='./build*' --exclude='./debian/tmp' --exclude='./.git' -cf - .) | tar -xf - -C "$src"
fi

say "dpkg-buildpackage -us -uc -b"
start=$(date +%s)
if ! (cd "$src" && dpkg-buildpackage -us -uc -b) > "$W/build.log" 2>&1; then
    tail -60 "$W/build.log"
    fail "dpkg-buildpackage failed (log: $W/build.log; PVPANIC_PKG_KEEP=1 keeps it)"
fi
build_s=$(( $(date +%s) - start ))
grep -E '^(# TOTAL|# PASS|# SKIP|# FAIL)' "$W/build.log" | sed 's/^/    make check: /' || true
debs=$(ls "$W"/pvpanic-hook_*.deb "$W"/pvpanic-watch_*.deb)
for d in $debs; do
    printf '    %s: %s bytes, Installed-Size %s KiB\n' "${d##*/}" "$(stat -c %s "$d")" \
        "$(dpkg-deb -f "$d" Installed-Size)"
done
ok "packages built in ${build_s}s"

say "lintian"
changes=$(ls "$W"/pvpanic-tools_*.changes)
lintian --fail-on error --display-info "$changes" > "$W/lintian.log" 2>&1 || {
    cat "$W/lintian.log"; fail "lintian reports errors"; }
sed 's/^/    /' "$W/lintian.log"
ok "lintian: $(grep -c '^E:' "$W/lintian.log" || true) errors, $(grep -c '^W:' "$W/lintian.log" || true) warnings"

install_debs() {
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $debs > "$W/install.log" 2>&1 ||
        { cat "$W/install.log"; fail "apt-get install ./*.deb"; }
}
apt_debs=
for d in $debs; do apt_debs="$apt_debs $d"; done
debs=$apt_debs   # absolute paths: apt-get takes them as local packages

say "a file of somebody else at $LINK is left alone"
foreign_made=
if [ ! -e "$LINK" ] && [ ! -L "$LINK" ]; then
    mkdir -p "${LINK%/*}"
    printf 'not ours\n' > "$LINK"     # not executable: libvirt would not run it
    foreign_made=1
    install_debs
    [ ! -L "$LINK" ] && [ "$(cat "$LINK")" = "not ours" ] || fail "the postinst replaced a foreign $LINK"
    grep -q "is not ours; leaving it alone" "$W/install.log" || fail "the postinst did not say it left $LINK alone"
    DEBIAN_FRONTEND=noninteractive apt-get remove -y -q pvpanic-hook > "$W/remove.log" 2>&1 || fail "apt-get remove"
    [ "$(cat "$LINK")" = "not ours" ] || fail "removing the package touched a foreign $LINK"
    rm -f "$LINK"
    ok "foreign $LINK kept through install and remove"
else
    echo "    (skipped: $LINK already exists on this machine)"
fi

say "apt-get install ./*.deb"
install_debs
for p in $PKGS; do installed "$p" || fail "$p is not installed"; done
[ -L "$LINK" ] && [ "$(readlink "$LINK")" = "$HOOK_TARGET" ] || fail "no hook link $LINK -> $HOOK_TARGET"
grep -q "systemctl reload libvirtd" "$W/install.log" || echo "    (no reload note: libvirt already had qemu hooks)"
for c in /etc/pvpanic/hook.conf /etc/pvpanic/watch.conf; do
    dpkg-query -W -f='${Conffiles}\n' $PKGS | grep -q " $c " || fail "$c is not a conffile"
done
[ "$(stat -c %a /etc/pvpanic/watch.conf)" = 640 ] || fail "watch.conf mode $(stat -c %a /etc/pvpanic/watch.conf)"
pvpanic-watch follow -n | grep -qx "configuration OK" || fail "pvpanic-watch follow -n"
pvpanic-hook check-config > "$W/hookconf.out" || fail "pvpanic-hook check-config: $(cat "$W/hookconf.out")"
pvpanic-watch --version | grep -qx "pvpanic-watch $version" || fail "pvpanic-watch --version"
man -w pvpanic.conf >/dev/null 2>&1 || ! command -v man >/dev/null || fail "man pvpanic.conf not found"
[ -f /usr/share/bash-completion/completions/pvpanic-watch ] || fail "no bash completion"
unit=/lib/systemd/system/pvpanic-watch.service
[ -f "$unit" ] || fail "no $unit"
ok "installed: hook link, conffiles, follow -n, man page, completion, unit"

say "the installed link works as libvirt's hook"
printf 'on_missing = refuse\nlog = stderr\n' > "$W/refuse.conf"
chmod 600 "$W/refuse.conf"
rc=0
PVPANIC_HOOK_CONF="$W/refuse.conf" "$LINK" web-01 prepare begin - \
    < "$top/share/samples/domain-nopanic.xml" > "$W/hook.out" 2> "$W/hook.err" || rc=$?
[ "$rc" -ne 0 ] || fail "the hook let a domain without <panic> start under refuse"
grep -q "web-01" "$W/hook.err" || fail "the refusal does not name the domain: $(cat "$W/hook.err")"
ok "hook mode through $LINK refuses an unprotected domain (exit $rc)"

say "the service, started by hand as its unit would start it"
execpre=$(sed -n 's/^ExecStartPre=//p' "$unit")
execstart=$(sed -n 's/^ExecStart=//p' "$unit")
execreload=$(sed -n 's/^ExecReload=//p' "$unit")
[ -n "$execstart" ] && [ -n "$execreload" ] || fail "the unit lacks ExecStart/ExecReload"
# What systemd would create (StateDirectory=, LogsDirectory=).
for d in $(sed -n 's/^StateDirectory=//p' "$unit"); do install -d -m 0700 "/var/lib/$d"; done
for d in $(sed -n 's/^LogsDirectory=//p' "$unit"); do install -d -m 0750 "/var/log/$d"; done
# The packaged config, pointed at a generated log and with a json sink.
mkdir -p "$W/libvirt"
sed -i 's|^file = .*|# &|' /etc/pvpanic/watch.conf
# global keys must come before the first section: put file = on top
{ printf 'file = %s/libvirt/libvirtd.log\n' "$W"; cat /etc/pvpanic/watch.conf
  printf '[sink json]\npath = /var/log/pvpanic/alerts.json\n'; } > "$W/watch.conf.new"
cat "$W/watch.conf.new" > /etc/pvpanic/watch.conf
: > "$W/libvirt/libvirtd.log"
# shellcheck disable=SC2086
$execpre > "$W/pre.out" 2>&1 || fail "ExecStartPre ($execpre): $(cat "$W/pre.out")"
# JOURNAL_STREAM: log to stderr as under systemd.
# shellcheck disable=SC2086
JOURNAL_STREAM=8:1 $execstart 2> "$W/service.err" &
FPID=$!
# Started = it has the log open (it logs "following" only with -v).
has_open() {
    local fd
    for fd in /proc/"$1"/fd/*; do
        [ "$(readlink "$fd" 2>/dev/null)" = "$2" ] && return 0
    done
    return 1
}
for _ in $(seq 100); do has_open "$FPID" "$W/libvirt/libvirtd.log" && break; sleep 0.1; done
has_open "$FPID" "$W/libvirt/libvirtd.log" ||
    fail "the service did not open the log: $(cat "$W/service.err")"
python3 "$top/tests/gen-panics.py" --guests 2 --filler 3 --seed 21 >> "$W/libvirt/libvirtd.log"
for _ in $(seq 100); do
    [ "$(grep -c '"event":"panic"' /var/log/pvpanic/alerts.json 2>/dev/null || true)" -ge 2 ] && break
    sleep 0.1
done
grep -q '"domain":"guest-001"' /var/log/pvpanic/alerts.json 2>/dev/null ||
    fail "no alert for guest-001: $(tail -5 "$W/service.err")"
# Reload as logrotate's postrotate would: move the json away, reload, and
# the daemon writes a new one (and, here, checks the config again).
mv /var/log/pvpanic/alerts.json /var/log/pvpanic/alerts.json.1
reload=${execreload//\$MAINPID/$FPID}
# shellcheck disable=SC2086
$reload || fail "ExecReload ($reload)"
for _ in $(seq 50); do has_open "$FPID" /var/log/pvpanic/alerts.json && break; sleep 0.1; done
has_open "$FPID" /var/log/pvpanic/alerts.json || fail "ExecReload did not reopen the json output"
kill -TERM "$FPID"
rc=0; wait "$FPID" || rc=$?
FPID=
[ "$rc" -eq 0 ] || fail "the service exited $rc on SIGTERM"
[ -s /var/lib/pvpanic-watch/state ] || fail "no state file in /var/lib/pvpanic-watch"
ok "service: 2 alerts in /var/log/pvpanic/alerts.json, reload reopened it, clean stop, state saved"

say "apt-get purge"
purge_ours
for p in $PKGS; do
    if known "$p"; then fail "$p is still known to dpkg after purge"; fi
done
if [ -e "$LINK" ] || [ -L "$LINK" ]; then fail "$LINK is still there"; fi
if [ -d /etc/libvirt/hooks ]; then
    left=$(find /etc/libvirt/hooks -lname "$HOOK_TARGET" 2>/dev/null)
    [ -z "$left" ] || fail "links to $HOOK_TARGET left: $left"
fi
for p in /etc/pvpanic /var/lib/pvpanic-watch /var/log/pvpanic "$HOOK_TARGET" /usr/sbin/pvpanic-watch "$unit"; do
    if [ -e "$p" ]; then fail "$p is still there after purge"; fi
done
now_sum=absent
[ -e /etc/libvirt/hooks/qemu ] && now_sum=$(sha256sum < /etc/libvirt/hooks/qemu)
[ "$now_sum" = "$qemu_hook_sum" ] || fail "/etc/libvirt/hooks/qemu changed"
ok "purged: nothing of ours in /etc/libvirt/hooks, /etc/pvpanic, /var/lib, /var/log"

if [ -n "${PVPANIC_PKG_OUT:-}" ]; then
    mkdir -p "$PVPANIC_PKG_OUT"
    # shellcheck disable=SC2086
    cp $debs "$PVPANIC_PKG_OUT/"
    echo "packages copied to $PVPANIC_PKG_OUT"
fi
echo "deb: all checks passed (build ${build_s}s)"
