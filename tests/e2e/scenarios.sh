# shellcheck shell=bash
# tests/e2e/scenarios.sh: the scenarios of the end-to-end suite (issue 5).
# Each scenario_NAME runs in its own subshell with errexit, on the shared
# private libvirtd started by run.sh; it cleans up its own domains. Exit
# status: 0 pass, 77 skip (not built / cannot run here), anything else fail.

# Order of a full run. Baseline first (they need none of our binaries), the
# product scenarios after, audit last (it reads the logs of the whole run).
E2E_ALL_SCENARIOS="
 baseline_nmi
 baseline_sysrq_destroy
 baseline_restart
 baseline_nmi_ignored
 baseline_no_acpi
 baseline_no_panic_device
"

binary_status() {
    if [ -x "$1" ]; then echo "built"; else echo "not built"; fi
}

# sweep_leftover_domains: domains of an earlier run that was killed hard
sweep_leftover_domains() {
    local uuid n=0
    while IFS= read -r uuid; do
        [ -n "$uuid" ] || continue
        if v dumpxml -- "$uuid" 2>/dev/null | grep -qF "<description>$E2E_MARK<"; then
            v destroy -- "$uuid" >/dev/null 2>&1
            v undefine --managed-save -- "$uuid" >/dev/null 2>&1
            n=$((n + 1))
        fi
    done < <(v list --all --uuid)
    [ "$n" -eq 0 ] || log "removed $n leftover test domains of an earlier run"
}

# The global follower: started once if pvpanic-watch follow exists; product
# scenarios check its alerts. Defined with the follow scenarios below.
start_global_follower() { :; }

# ---------------------------------------------------------------- helpers

# boot_until_ready NAME: start and wait for the guest's READY line;
# records boot time
boot_until_ready() {
    local name=$1 ms
    start_domain "$name"
    ms=$(wait_console "$name" '^PVE2E READY' 90) || fail "'$name' did not boot"
    grep -aq 'PVE2E pvpanic bound: isa' "$(console_of "$name")" ||
        fail "'$name': pvpanic did not bind in the guest: $(grep -a 'PVE2E pvpanic' "$(console_of "$name")")"
    BOOT_MS=$((START_MS + ms))
    record_time "boot_to_ready[$name]" "$(ms_to_s "$BOOT_MS")"
}

# assert_one_more_panic_in_log BEFORE: the daemon log gained exactly one
# GUEST_PANICKED QMP event (one QEMU_MONITOR_RECV_EVENT record, present at
# info and debug level; BEFORE is recv_panic_count from before)
assert_one_more_panic_in_log() {
    local panics
    panics=$(recv_panic_count)
    [ "$panics" -eq $(($1 + 1)) ] ||
        fail "daemon log has $panics GUEST_PANICKED RECV_EVENT records, expected $(($1 + 1))"
}

# recv_panic_count: QEMU_MONITOR_RECV_EVENT records of GUEST_PANICKED
recv_panic_count() {
    local f n=0 c
    for f in "$(cat "$E2E_WORK/state/daemon-log")"{.1,}; do
        [ -f "$f" ] || continue
        c=$(grep -aF 'QEMU_MONITOR_RECV_EVENT: mon=' "$f" | grep -caF '"event": "GUEST_PANICKED"')
        n=$((n + c))
    done
    echo "$n"
}

# assert_still_running NAME SECONDS: the true-negative check
assert_still_running() {
    local st
    sleep "$2"
    st=$(domstate "$1")
    [ "$st" = "running (booted)" ] || fail "'$1' is '$st', expected 'running (booted)'"
}

# ---------------------------------------------------------------- baseline

# NMI path (the Windows recipe) into a guest with an ISA pvpanic device,
# ACPI and on_crash=preserve: crashed (panicked), one GUEST_PANICKED.
scenario_baseline_nmi() {
    local name=${E2E_NAME_PREFIX}nmi before ms
    define_domain "$name" nmi
    boot_until_ready "$name"
    before=$(recv_panic_count)
    local t0
    t0=$(now_ms)
    inject_nmi "$name"
    ms=$(wait_domstate "$name" '^crashed \(panicked\)$' 30) || fail "no crash after NMI"
    record_time "nmi_to_crashed[$name]" "$(ms_to_s $(($(now_ms) - t0)))"
    record_time "boot_to_panic[$name]" "$(ms_to_s $((BOOT_MS + $(now_ms) - t0)))"
    wait_panics "$name" 1 5 || fail "virsh qemu-monitor-event did not report the panic"
    assert_one_more_panic_in_log "$before"
    remove_domain "$name"
}

# Immediate panic (sysrq c) with on_crash=destroy: shut off (crashed) and the
# per-domain log says so.
scenario_baseline_sysrq_destroy() {
    local name=${E2E_NAME_PREFIX}sysrq-destroy before t0 ms
    DOM_ONCRASH=destroy define_domain "$name" panic
    before=$(recv_panic_count)
    t0=$(now_ms)
    start_domain "$name"
    ms=$(wait_domstate "$name" '^shut off \(crashed\)$' 90) || fail "no crash"
    record_time "start_to_shutoff_crashed[$name]" "$(ms_to_s $(($(now_ms) - t0)))"
    wait_panics "$name" 1 5 || fail "virsh qemu-monitor-event did not report the panic"
    assert_one_more_panic_in_log "$before"
    grep -aq 'shutting down, reason=crashed' "/var/log/libvirt/qemu/$name.log" ||
        fail "per-domain log lacks 'shutting down, reason=crashed'"
    remove_domain "$name"
}

# on_crash=restart with a guest that panics at every boot: repeated panics
# inside one QEMU process (fake reboot), state running (crashed).
scenario_baseline_restart() {
    local name=${E2E_NAME_PREFIX}restart t0 pid1 pid2
    DOM_ONCRASH=restart define_domain "$name" panic
    t0=$(now_ms)
    start_domain "$name"
    pid1=$(cat "/run/libvirt/qemu/$name.pid")
    wait_panics "$name" 3 120 || fail "fewer than 3 panics in the restart loop"
    record_time "three_panics_in_restart_loop[$name]" "$(ms_to_s $(($(now_ms) - t0)))"
    pid2=$(cat "/run/libvirt/qemu/$name.pid")
    [ "$pid1" = "$pid2" ] || fail "QEMU was restarted ($pid1 -> $pid2), expected a fake reboot"
    [[ $(domstate "$name") =~ ^(running \(crashed\)|crashed \(panicked\))$ ]] ||
        fail "state is '$(domstate "$name")'"
    remove_domain "$name"
}

# The third guest mode: unknown_nmi_panic=0, an NMI is logged and ignored.
scenario_baseline_nmi_ignored() {
    local name=${E2E_NAME_PREFIX}nmi-ignored before
    define_domain "$name" idle
    boot_until_ready "$name"
    before=$(recv_panic_count)
    inject_nmi "$name"
    wait_console "$name" 'NMI received for unknown reason' 20 >/dev/null ||
        fail "the guest did not see the NMI"
    assert_still_running "$name" 2
    [ "$(recv_panic_count)" -eq "$before" ] || fail "a GUEST_PANICKED appeared"
    [ "$(panics_seen "$name")" -eq 0 ] || fail "virsh reported a panic"
    remove_domain "$name"
}

# true negatives: the guest panics, the host never learns it
negative_case() {
    local name=$1 before
    before=$(recv_panic_count)
    start_domain "$name"
    wait_console "$name" 'Kernel panic - not syncing' 90 >/dev/null ||
        fail "the guest did not panic"
    grep -aq 'PVE2E pvpanic bound: no' "$(console_of "$name")" ||
        fail "expected pvpanic not to bind: $(grep -a 'PVE2E pvpanic' "$(console_of "$name")")"
    assert_still_running "$name" 2
    [ "$(recv_panic_count)" -eq "$before" ] || fail "a GUEST_PANICKED appeared in the daemon log"
    [ "$(panics_seen "$name")" -eq 0 ] || fail "virsh reported a panic"
    remove_domain "$name"
}

# No <features><acpi/>: libvirt passes -no-acpi and the ISA device is
# invisible to Linux; the domain stays running.
scenario_baseline_no_acpi() {
    local name=${E2E_NAME_PREFIX}no-acpi
    DOM_ACPI=no define_domain "$name" panic
    negative_case "$name"
}

# No <panic> device at all: the very problem pvpanic-hook exists to fix.
scenario_baseline_no_panic_device() {
    local name=${E2E_NAME_PREFIX}no-panic-device
    DOM_PANIC=none define_domain "$name" panic
    negative_case "$name"
}
