#!/bin/bash
# pvpanic-watch drill, the NMI side: a guest that ignores the NMI (timeout,
# exit 1, the explanation for Linux and Windows guests), virsh inject-nmi
# unsupported (the QMP command through qemu-monitor-command is used
# instead), both failing (exit 2), and a hyper-v guest whose event carries
# the Windows bugcheck.
. "$abs_top_srcdir/tests/drill_lib.sh"
watchdog 90

# the guest ignores the NMI
fake_domain "idle-01"
echo ignore > "$FAKE/mode"
t0=$(date +%s%N)
run_drill --yes --timeout 2 --log "$LOG" idle-01
t1=$(date +%s%N)
[ "$RC" -eq 1 ] || fail "timeout: exit $RC"
grep -q "^RESULT: no panic event of 'idle-01' in .* within 2 s of the NMI. What that means:$" "$T/out" ||
    fail "timeout: result line"
for needle in 'kernel.unknown_nmi_panic=1' 'lsmod | grep pvpanic' 'crash_kexec_post_notifiers' \
    'QEMU PVPanic Device' 'pvpanic.inf' 'NMICrashDump = 1' 'bugcheck 0x80 NMI_HARDWARE_FAILURE' \
    "libvirt still shows the guest as 'running (booted)'" \
    'libvirt did send inject-nmi to the guest'"'"'s QEMU (mon=0x7f75b0004740)'; do
    grep -qF -- "$needle" "$T/out" || fail "timeout: explanation lacks '$needle'"
done
# a guest booted from a kernel image is most likely Linux: its causes first
linux=$(grep -n 'unknown_nmi_panic' "$T/out" | head -1 | cut -d: -f1)
windows=$(grep -n 'QEMU PVPanic Device' "$T/out" | head -1 | cut -d: -f1)
[ "$linux" -lt "$windows" ] || fail "timeout: Linux causes should come first for a kernel-booted guest"
[ $(((t1 - t0) / 1000000)) -lt 15000 ] || fail "timeout: took $(((t1 - t0) / 1000000)) ms for --timeout 2"
[ "$(nmi_calls)" -eq 1 ] || fail "timeout: expected one NMI"
ok "no event: exit 1 after $(((t1 - t0) / 1000000)) ms, with the explanation"
sed 's/^/    | /' "$T/out"

run_drill --yes --json --timeout 1 --log "$LOG" idle-01
[ "$RC" -eq 1 ] || fail "timeout --json: exit $RC"
[ "$(json_get 'j["result"]')" = no-event ] || fail "timeout --json: result"
[ "$(json_get 'j["event"] is None and j["delay_ms"] is None')" = True ] || fail "timeout --json: event/delay"
[ "$(json_get 'any("unknown_nmi_panic" in e for e in j["explanation"])')" = True ] || fail "timeout --json: explanation"
ok "no event --json: result no-event, explanation list"

# a Windows-looking guest: its causes first
fake_domain "win-01" "<panic model='isa'/>" "<acpi/><hyperv mode='custom'><relaxed state='on'/></hyperv>"
sed -i 's|<kernel>.*</kernel>||' "$FAKE/xml"
echo ignore > "$FAKE/mode"
run_drill --yes --timeout 1 --log "$LOG" win-01
[ "$RC" -eq 1 ] || fail "windows timeout: exit $RC"
linux=$(grep -n 'unknown_nmi_panic' "$T/out" | head -1 | cut -d: -f1)
windows=$(grep -n 'QEMU PVPanic Device' "$T/out" | head -1 | cut -d: -f1)
[ "$windows" -lt "$linux" ] || fail "windows timeout: Windows causes should come first"
ok "no event on a Windows guest: the driver and NMICrashDump first"

# virsh inject-nmi unsupported: the QMP command is used
fake_domain "web-02"
echo nmi-unsupported > "$FAKE/mode"
run_drill --yes --timeout 20 --log "$LOG" web-02
[ "$RC" -eq 0 ] || fail "fallback: exit $RC"
grep -qx 'inject-nmi -- 6734dc2b-d2b8-494f-a46e-6b14aa8503ed ' "$FAKE/calls" || fail "fallback: inject-nmi not tried first"
grep -qxF "qemu-monitor-command -- 6734dc2b-d2b8-494f-a46e-6b14aa8503ed \\{\\\"execute\\\":\\\"inject-nmi\\\"\\} " "$FAKE/calls" ||
    fail "fallback: qemu-monitor-command not called as expected"
grep -q '^  event         GUEST_PANICKED at ' "$T/out" || fail "fallback: no event"
fake_domain "web-02"
echo nmi-unsupported > "$FAKE/mode"
run_drill --yes --json --timeout 20 --log "$LOG" web-02
[ "$(json_get 'j["inject_method"]')" = qemu-monitor-command ] || fail "fallback: inject_method"
[ "$(json_get '"Operation not supported" in j["inject_note"]')" = True ] || fail "fallback: inject_note"
[ "$(json_get 'j["event"]["domain"]')" = web-02 ] || fail "fallback: event"
ok "inject-nmi unsupported: QMP inject-nmi through qemu-monitor-command, event found"

# both fail: exit 2, nothing to wait for
fake_domain "web-02"
echo nmi-broken > "$FAKE/mode"
t0=$(date +%s)
run_drill --yes --timeout 30 --log "$LOG" web-02
[ "$RC" -eq 2 ] || fail "no NMI possible: exit $RC"
grep -q '^RESULT: error: no NMI injected: virsh inject-nmi: Operation not supported: .*; virsh qemu-monitor-command inject-nmi: {"id":"libvirt-412","error"' "$T/out" ||
    fail "no NMI possible: result"
[ $(($(date +%s) - t0)) -lt 20 ] || fail "no NMI possible: waited for an event anyway"
ok "no way to inject: exit 2 at once"

# a Windows guest with <panic model='hyperv'/>: the bugcheck is in the event
fake_domain "win-hv" "<panic model='hyperv'/>" "<acpi/><hyperv mode='custom'><relaxed state='on'/></hyperv>" destroy
echo '{"type": "hyper-v", "arg1": 128, "arg2": 5194836, "arg3": 0, "arg4": 0, "arg5": 0}' > "$FAKE/info"
run_drill --yes --timeout 20 --log "$LOG" win-hv
[ "$RC" -eq 0 ] || fail "hyperv: exit $RC"
grep -q '^  event         GUEST_PANICKED at .*, action pause, details bugcheck 0x80 NMI_HARDWARE_FAILURE args 0x4f4454,0x0,0x0,0x0, id ' "$T/out" ||
    fail "hyperv: event details"
grep -q '^  state         shut off (crashed)$' "$T/out" || fail "hyperv: state after destroy"
grep -q "^  info    on_crash      destroy: libvirt powers the guest off; libvirt then shows 'shut off (crashed)'" "$T/out" ||
    fail "hyperv: on_crash line"
fake_domain "win-hv" "<panic model='hyperv'/>" "<acpi/><hyperv mode='custom'><relaxed state='on'/></hyperv>" destroy
echo '{"type": "hyper-v", "arg1": 128, "arg2": 5194836, "arg3": 0, "arg4": 0, "arg5": 0}' > "$FAKE/info"
run_drill --yes --json --timeout 20 --log "$LOG" win-hv
[ "$(json_get 'j["event"]["details"]["bugcheck_name"]')" = NMI_HARDWARE_FAILURE ] || fail "hyperv --json: bugcheck_name"
[ "$(json_get 'j["event_details"]')" = "bugcheck 0x80 NMI_HARDWARE_FAILURE args 0x4f4454,0x0,0x0,0x0" ] ||
    fail "hyperv --json: event_details"
ok "hyper-v guest: bugcheck 0x80 NMI_HARDWARE_FAILURE in the drill's event"
