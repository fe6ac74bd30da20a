# Shared helpers for tests/drill_*.sh (sourced): a private temp dir, a
# FAKE virsh first on PATH, a fake daemon log in the real libvirt 9.0 format
# (tests/data/e2e shapes), and runners for `pvpanic-watch drill`.
#
# The fake virsh answers dumpxml, domstate --reason, inject-nmi and
# qemu-monitor-command for ONE domain (by name or UUID), logs every call to
# $FAKE/calls, and on an NMI appends what libvirt writes to the daemon log:
# QEMU_MONITOR_SEND_MSG inject-nmi at once, and (mode "panic") after
# $FAKE/delay seconds the GUEST_PANICKED group of the domain's monitor, then
# sets the state per <on_crash> ($FAKE/info, when not empty, is the QMP
# "info" object of the event). Modes ($FAKE/mode): panic, ignore (the
# guest ignores the NMI), nmi-unsupported (virsh inject-nmi fails; the QMP
# command works and panics), nmi-broken (both fail).
set -u

: "${abs_top_srcdir:?run through make check (abs_top_srcdir unset)}"
: "${abs_top_builddir:?run through make check (abs_top_builddir unset)}"
WATCH="$abs_top_builddir/parser/pvpanic-watch"
. "$abs_top_srcdir/tests/testlib.sh"
testlib_init drill DRILL_TEST_KEEP
FAKE="$T/fake"
LOG="$T/libvirtd.log"
mkdir -p "$T/bin" "$FAKE"

command -v python3 >/dev/null || { [ -n "${CI:-}" ] && { echo "FAIL: python3 missing" >&2; exit 1; }; exit 77; }

fail() {
    echo "FAIL: $*" >&2
    [ -f "$T/out" ] && { echo "--- drill stdout:" >&2; cat "$T/out" >&2; }
    [ -f "$T/err" ] && { echo "--- drill stderr:" >&2; cat "$T/err" >&2; }
    [ -f "$FAKE/calls" ] && { echo "--- virsh calls:" >&2; cat "$FAKE/calls" >&2; }
    exit 1
}

ok() { echo "ok - $*"; }

# ---- the fake virsh -----------------------------------------------------------
cat > "$T/bin/virsh" <<'EOF'
#!/bin/bash
# fake virsh for the drill tests (see tests/drill_lib.sh)
F=${DRILL_FAKE:?}
printf '%q ' "$@" >> "$F/calls"; echo >> "$F/calls"
[ "${1:-}" = "-c" ] && shift 2
cmd=${1:-}; shift
inactive=0 reason=0
while [ $# -gt 0 ]; do
    case $1 in
        --inactive) inactive=1; shift ;;
        --reason) reason=1; shift ;;
        --) shift; break ;;
        -*) echo "error: command '$cmd' doesn't support option $1" >&2; exit 1 ;;
        *) break ;;
    esac
done
dom=${1:-}
name=$(cat "$F/name") uuid=$(cat "$F/uuid")
if [ "$dom" != "$name" ] && [ "$dom" != "$uuid" ]; then
    echo "error: failed to get domain '$dom'" >&2
    exit 1
fi
ts() { date -u +'%Y-%m-%d %H:%M:%S.%3N+0000'; }
mon=$(cat "$F/mon") mode=$(cat "$F/mode") log=$(cat "$F/log")
# the monitor libvirt sends the NMI to ($F/send_mon: a test may make it differ)
smon=$mon
[ -s "$F/send_mon" ] && smon=$(cat "$F/send_mon")
send_nmi() {
    printf '%s: 21821: info : qemuMonitorSend:861 : QEMU_MONITOR_SEND_MSG: mon=%s msg={"execute":"inject-nmi","id":"libvirt-411"}\n fd=-1\n' "$(ts)" "$smon" >> "$log"
    printf '%s: 21947: info : qemuMonitorJSONIOProcessLine:208 : QEMU_MONITOR_RECV_REPLY: mon=%s reply={"return": {}, "id": "libvirt-411"}\n' "$(ts)" "$smon" >> "$log"
}
panic_later() {
    (
        sleep "$(cat "$F/delay")"
        s=$(date +%s) us=$(date +%6N) t=$(ts)
        info=""
        [ -s "$F/info" ] && info=", \"info\": $(cat "$F/info")"
        ev="{\"timestamp\": {\"seconds\": $s, \"microseconds\": $((10#$us))}, \"event\": \"GUEST_PANICKED\", \"data\": {\"action\": \"pause\"$info}}"
        {
            printf '%s: 21947: info : qemuMonitorJSONIOProcessLine:203 : QEMU_MONITOR_RECV_EVENT: mon=%s event=%s\n' "$t" "$mon" "$ev"
            printf '%s: 21947: info : qemuMonitorJSONIOProcessLine:203 : QEMU_MONITOR_RECV_EVENT: mon=%s event={"timestamp": {"seconds": %s, "microseconds": %d}, "event": "STOP"}\n' "$t" "$mon" "$s" "$((10#$us + 1))"
        } >> "$log"
        cat "$F/state-after" > "$F/state"
    ) </dev/null >/dev/null 2>&1 &
}
case $cmd in
    dumpxml)
        if [ "$inactive" = 1 ] && [ -f "$F/xml.inactive" ]; then cat "$F/xml.inactive"; else cat "$F/xml"; fi ;;
    domstate)
        [ "$reason" = 1 ] || { echo "error: test wants --reason" >&2; exit 1; }
        cat "$F/state"; echo ;;
    inject-nmi)
        case $mode in
            nmi-unsupported|nmi-broken)
                echo "error: Operation not supported: inject-nmi is not supported by this QEMU binary" >&2; exit 1 ;;
        esac
        send_nmi
        [ "$mode" = panic ] && panic_later
        echo ;;
    qemu-monitor-command)
        [ "${2:-}" = '{"execute":"inject-nmi"}' ] || { echo "error: unexpected QMP '${2:-}'" >&2; exit 1; }
        if [ "$mode" = nmi-broken ]; then
            echo '{"id":"libvirt-412","error":{"class":"GenericError","desc":"no NMI for you"}}'
            exit 0
        fi
        printf "%s: 21821: warning : qemuDomainObjTaintMsg:6603 : Domain id=1 name='%s' uuid=%s is tainted: custom-monitor\n" "$(ts)" "$name" "$uuid" >> "$log"
        send_nmi
        [ "$mode" = panic ] || [ "$mode" = nmi-unsupported ] && panic_later
        echo '{"return":{},"id":"libvirt-412"}' ;;
    *)
        echo "error: fake virsh: unknown command '$cmd'" >&2; exit 1 ;;
esac
EOF
chmod +x "$T/bin/virsh"
export PATH="$T/bin:$PATH" DRILL_FAKE="$FAKE"

# xml_escape TEXT
xml_escape() {
    python3 -c 'import sys, html; sys.stdout.write(html.escape(sys.argv[1], quote=True))' "$1"
}

# fake_domain NAME [PANIC_XML] [FEATURES_XML] [ON_CRASH]: the domain the fake
# virsh knows, running, with a monitor opened in a fresh daemon log.
# PANIC_XML default <panic model='isa'/>, FEATURES_XML default <acpi/><apic/>.
fake_domain() {
    local name=$1 panic=${2-"<panic model='isa'><address type='isa' iobase='0x505'/></panic>"}
    local features=${3-"<acpi/><apic/>"} on_crash=${4-preserve}
    printf '%s' "$name" > "$FAKE/name"
    echo "6734dc2b-d2b8-494f-a46e-6b14aa8503ed" > "$FAKE/uuid"
    echo "0x7f75b0004740" > "$FAKE/mon"
    echo panic > "$FAKE/mode"
    echo 0.3 > "$FAKE/delay"
    echo "$LOG" > "$FAKE/log"
    : > "$FAKE/info"
    : > "$FAKE/send_mon"
    echo "running (booted)" > "$FAKE/state"
    case $on_crash in
        destroy) echo "shut off (crashed)" ;;
        restart) echo "running (crashed)" ;;
        *) echo "crashed (panicked)" ;;
    esac > "$FAKE/state-after"
    cat > "$FAKE/xml" <<XML
<domain type='qemu' id='1'>
  <name>$(xml_escape "$name")</name>
  <uuid>6734dc2b-d2b8-494f-a46e-6b14aa8503ed</uuid>
  <memory unit='KiB'>262144</memory>
  <os>
    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>
    <kernel>/var/lib/pve2e/vmlinuz</kernel>
  </os>
  <features>$features</features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>$on_crash</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    $panic
  </devices>
</domain>
XML
    : > "$FAKE/calls"
    fake_log_start "$name"
}

# fake_log_start NAME [CONNECT=1]: a daemon log where another guest started and
# panicked, then NAME started (its monitor is $FAKE/mon), in libvirt 9.0 format.
fake_log_start() {
    local name=$1 connect=${2:-1}
    {
        echo "2026-11-25 19:16:28.505+0000: 21833: info : libvirt version: 9.0.0, package: 9.0.0-4+deb12u2 (Debian)"
        echo "2026-11-25 19:16:28.505+0000: 21833: info : hostname: vm"
        echo "2026-11-25 19:16:29.576+0000: 21822: debug : qemuProcessWaitForMonitor:2291 : Connect monitor to vm=0x7f75b042b000 name='other'"
        echo "2026-11-25 19:16:29.576+0000: 21822: info : qemuMonitorOpenInternal:647 : QEMU_MONITOR_NEW: mon=0x7f75b0004010 fd=28"
        echo '2026-11-25 19:16:30.093+0000: 21940: info : qemuMonitorJSONIOProcessLine:203 : QEMU_MONITOR_RECV_EVENT: mon=0x7f75b0004010 event={"timestamp": {"seconds": 1795634190, "microseconds": 93539}, "event": "GUEST_PANICKED", "data": {"action": "pause"}}'
        if [ "$connect" = 1 ]; then
            echo "2026-11-25 19:16:30.576+0000: 21822: debug : qemuProcessWaitForMonitor:2291 : Connect monitor to vm=0x7f75b042b5f0 name='$name'"
        fi
        echo "2026-11-25 19:16:30.576+0000: 21822: info : qemuMonitorOpenInternal:647 : QEMU_MONITOR_NEW: mon=$(cat "$FAKE/mon") fd=29"
        echo "2026-11-25 19:16:30.577+0000: 21822: info : qemuMonitorSend:861 : QEMU_MONITOR_SEND_MSG: mon=$(cat "$FAKE/mon") msg={\"execute\":\"qmp_capabilities\",\"id\":\"libvirt-1\"}"
        echo " fd=-1"
    } > "$LOG"
}

# run_drill ARGS...: pvpanic-watch drill with stdin not a terminal; sets RC,
# stdout in $T/out, stderr in $T/err.
run_drill() {
    RC=0
    # shellcheck disable=SC2086
    $VG "$WATCH" drill "$@" </dev/null >"$T/out" 2>"$T/err" || RC=$?
}

nmi_calls() {
    grep -c -e '^inject-nmi ' -e '^qemu-monitor-command ' -e ' inject-nmi ' -e ' qemu-monitor-command ' \
        "$FAKE/calls" || true
}

# json_get EXPR: evaluate a Python expression on the drill's JSON (as j)
json_get() {
    python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/out" "$1" ||
        fail "--json output is not valid JSON"
}
