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
 hook_enroll
 hook_enroll_names
 hook_enroll_transient
 hook_refuse
 hook_metadata_policy
 hook_save_restore
 hook_managedsave
 hook_enable_all
 hook_daemon_restart
 follow_alert
 follow_restart_throttle
 follow_concurrent
 follow_names
 follow_destroy_only
 follow_daemon_restart
 follow_kill9_resume
 drill_ok
 drill_no_panic_device
 drill_nmi_ignored
 audit_run
"

binary_status() {
    if [ -x "$1" ]; then echo "built"; else echo "not built"; fi
}

# sweep_leftover_domains: domains of an earlier run that was killed hard
sweep_leftover_domains() {
    local uuid n=0
    while IFS= read -r uuid; do
        [ -n "$uuid" ] || continue
        if v dumpxml -- "$uuid" 2>/dev/null | grep -cF "<description>$E2E_MARK<" >/dev/null; then
            v destroy -- "$uuid" >/dev/null 2>&1
            v undefine --managed-save -- "$uuid" >/dev/null 2>&1
            n=$((n + 1))
        fi
    done < <(v list --all --uuid)
    [ "$n" -eq 0 ] || log "removed $n leftover test domains of an earlier run"
}


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
    for f in "$(cat "$E2E_WORK/state/daemon-log")"{.9,.8,.7,.6,.5,.4,.3,.2,.1,}; do
        [ -f "$f" ] || continue
        c=$(grep -aF 'QEMU_MONITOR_RECV_EVENT: mon=' "$f" | grep -caF '"event": "GUEST_PANICKED"' || true)
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

# ---------------------------------------------------------------- product: hook

# need_hook_binary / need_hook_install: the product pieces a scenario uses.
# A missing piece is a skip "not built" (a failure when CI=true).
need_hook_binary() {
    [ -x "$HOOK_BIN" ] || skip "not built: hooks/pvpanic-hook"
}

need_hook_install() {
    need_hook_binary
    [ "${E2E_HOOK_INSTALL:-make}" = copy ] && return 0
    make -s -n -C "$E2E_BUILDDIR" install-hook DESTDIR=/nonexistent >/dev/null 2>&1 ||
        skip "not built: no 'make install-hook' target in $E2E_BUILDDIR"
}

# hook_conf_path: where the built hook reads its configuration
hook_conf_path() {
    env -u PVPANIC_HOOK_CONF "$HOOK_BIN" check-config 2>/dev/null |
        sed -n '1s/^# \(.*\): [^:]*$/\1/p'
}

# install_hook POLICY: install the hook the way `make install-hook` does
# (staged with DESTDIR, then the staged qemu.d entry copied into the real
# /etc/libvirt/hooks/qemu.d, which is restored at exit), write its config
# (on_missing = POLICY, connect = our private daemon) and make libvirtd
# re-scan its hooks (SIGHUP, as `systemctl reload libvirtd` does).
# E2E_HOOK_INSTALL=copy (development only) copies the binary instead.
install_hook() {
    local policy=$1 stage=$E2E_WORK/stage entry target conf
    rm -rf "$stage"
    mkdir -p "$stage"
    if [ "${E2E_HOOK_INSTALL:-make}" = copy ]; then
        log "E2E_HOOK_INSTALL=copy: copying the binary, not running make install-hook"
        mkdir -p "$stage/etc/libvirt/hooks/qemu.d"
        cp "$HOOK_BIN" "$stage/etc/libvirt/hooks/qemu.d/50-pvpanic"
    elif ! make -s -C "$E2E_BUILDDIR" install-hook DESTDIR="$stage" \
        >"$E2E_WORK/install-hook.log" 2>&1; then
        sed 's/^/    | /' "$E2E_WORK/install-hook.log" >&2
        fail "make install-hook DESTDIR=$stage failed"
    fi
    entry=$(find "$stage" -path '*/hooks/qemu.d/*' \( -type f -o -type l \) | sort | head -n 1)
    [ -n "$entry" ] || fail "make install-hook put nothing into hooks/qemu.d: $(cd "$stage" && find . ! -type d)"
    [ ! -e "$stage/etc/libvirt/hooks/qemu" ] || [ -e /etc/libvirt/hooks/qemu ] ||
        log "NOTE: install-hook also staged hooks/qemu (not copied: qemu.d is enough)"
    target=$entry
    if [ -L "$entry" ]; then
        # a link into $(sbindir) points outside the stage: follow it inside
        target=$(readlink "$entry")
        case $target in
        /*) target=$stage$target ;;
        *) target=$(dirname "$entry")/$target ;;
        esac
    fi
    [ -x "$target" ] || fail "staged hook $entry is not executable"
    host_backup /etc/libvirt/hooks
    mkdir -p /etc/libvirt/hooks/qemu.d
    HOOK_INSTALLED=/etc/libvirt/hooks/qemu.d/$(basename "$entry")
    install -m 0755 "$target" "$HOOK_INSTALLED"
    conf=$(hook_conf_path)
    [ -n "$conf" ] || fail "cannot tell the hook's config path from 'pvpanic-hook check-config'"
    host_backup "$(dirname "$conf")"
    mkdir -p "$(dirname "$conf")"
    cat >"$conf" <<EOC
# written by tests/e2e for one scenario (restored at exit)
on_missing = $policy
connect = "$E2E_URI"
log = both
EOC
    "$HOOK_BIN" check-config "$conf" >/dev/null || fail "the hook rejects its config $conf"
    # the scenario runs in a subshell: take the hook away when it ends
    trap 'uninstall_hook' EXIT
    sighup_daemon
    log "hook installed as $HOOK_INSTALLED (on_missing = $policy, config $conf)"
}

uninstall_hook() {
    [ -n "${HOOK_INSTALLED:-}" ] || return 0
    rm -f "$HOOK_INSTALLED"
    HOOK_INSTALLED=
    pid_alive "$(daemon_pid)" && kill -HUP "$(daemon_pid)"
    return 0
}

# wait_for TIMEOUT_S CMD...: poll CMD every 0.2 s; prints elapsed ms
wait_for() {
    local tmo=$1 t0
    shift
    t0=$(now_ms)
    while (($(now_ms) - t0 < tmo * 1000)); do
        if "$@" >/dev/null 2>&1; then
            echo $(($(now_ms) - t0))
            return 0
        fi
        sleep 0.2
    done
    return 1
}

has_panic_inactive() { v dumpxml --inactive -- "$1" | grep -c '<panic' >/dev/null; }
has_panic_live() { v dumpxml -- "$1" | grep -c '<panic' >/dev/null; }

# crash_and_check NAME: NMI, crashed (panicked), one more GUEST_PANICKED;
# and exactly one alert when the watcher follows the log
crash_and_check() {
    local name=$1 before t0 n0 a0
    before=$(recv_panic_count)
    n0=$(panics_seen "$name")
    a0=$(alerts_for "$name")
    t0=$(now_ms)
    inject_nmi "$name"
    wait_domstate "$name" '^crashed \(panicked\)$' 30 >/dev/null || fail "'$name' did not crash"
    CRASHED_MS=$(now_ms)
    record_time "nmi_to_crashed[$name]" "$(ms_to_s $((CRASHED_MS - t0)))"
    wait_panics "$name" $((n0 + 1)) 10 || fail "virsh did not report the panic of '$name'"
    assert_one_more_panic_in_log "$before"
    expect_alerts "$name" $((a0 + 1))
}

# Enroll (the default policy): a domain without <panic> starts at once;
# the detached helper adds the device to the persistent definition; the
# next cold boot has it, and an NMI crash is then reported.
scenario_hook_enroll() {
    local name=${E2E_NAME_PREFIX}enroll ms
    need_hook_install
    install_hook enroll
    DOM_PANIC=none define_domain "$name" nmi
    ! has_panic_inactive "$name" || fail "precondition: '$name' already has <panic>"
    start_domain "$name"
    [ "$START_MS" -lt 5000 ] || fail "virsh start took ${START_MS} ms: the hook held the start"
    record_time "start_with_enroll_hook[$name]" "$(ms_to_s "$START_MS")"
    ms=$(wait_for 30 has_panic_inactive "$name") ||
        fail "the persistent definition of '$name' has no <panic> 30 s after start"
    record_time "start_to_enrolled[$name]" "$(ms_to_s "$ms")"
    ! has_panic_live "$name" || fail "the running definition changed (it must not)"
    wait_console "$name" '^PVE2E READY' 90 >/dev/null || fail "'$name' did not boot"
    destroy_domain "$name"
    log "cold boot of '$name'"
    boot_until_ready "$name"
    has_panic_live "$name" || fail "cold boot: the running XML has no <panic>"
    crash_and_check "$name"
    remove_domain "$name"
}

# Enroll must treat every domain name as data (DESIGN: patch, --help, a b,
# 数据库, x"$(id)).
scenario_hook_enroll_names() {
    local name names=('patch' '--help' 'a b' '数据库' 'x"$(id)' "web 01 \"x\" \$(id)")
    need_hook_install
    install_hook enroll
    for name in "${names[@]}"; do
        DOM_PANIC=none define_domain "$name" idle
        start_domain "$name"
    done
    for name in "${names[@]}"; do
        wait_for 30 has_panic_inactive "$name" >/dev/null ||
            fail "'$name' was not enrolled within 30 s"
        remove_domain "$name"
    done
    log "enrolled all of: ${names[*]}"
}

# Refuse: a domain without <panic> cannot start, the user sees the hook's
# message, nothing else changes; a domain with the device starts.
scenario_hook_refuse() {
    local name=${E2E_NAME_PREFIX}refuse ok=${E2E_NAME_PREFIX}refuse-ok out before after
    need_hook_install
    install_hook refuse
    DOM_PANIC=none define_domain "$name" idle
    before=$(v dumpxml --inactive -- "$name")
    if out=$(v start -- "$name" 2>&1); then
        fail "virsh start of '$name' succeeded under on_missing = refuse"
    fi
    log "virsh start said: $out"
    grep -q 'Hook script execution failed' <<<"$out" || fail "not refused by the hook: $out"
    grep -qF -- "$name" <<<"$out" || fail "the hook's message does not name the domain: $out"
    grep -qi 'panic' <<<"$out" || fail "the hook's message does not say why: $out"
    [[ $(domstate "$name") =~ ^shut\ off ]] || fail "'$name' is '$(domstate "$name")'"
    after=$(v dumpxml --inactive -- "$name")
    [ "$before" = "$after" ] || fail "the persistent definition changed under refuse"
    sleep 2
    after=$(v dumpxml --inactive -- "$name")
    [ "$before" = "$after" ] || fail "the persistent definition changed under refuse (later)"
    DOM_PANIC=isa define_domain "$ok" idle
    start_domain "$ok"
    [ "$(domstate "$ok")" = "running (booted)" ] || fail "'$ok' with a panic device did not start"
    remove_domain "$ok"
    remove_domain "$name"
}

# save + restore: the hook runs at "restore begin" and must leave the XML
# alone (adding a device there fails libvirt's ABI check); the guest then
# still works and its panic is still reported.
scenario_hook_save_restore() {
    local name=${E2E_NAME_PREFIX}save img
    need_hook_install
    install_hook enroll
    img=$E2E_WORK/state/$(slug "$name").save
    define_domain "$name" nmi
    boot_until_ready "$name"
    v save -- "$name" "$img" >/dev/null || fail "virsh save failed"
    [ "$(domstate "$name")" = "shut off (saved)" ] || fail "after save: '$(domstate "$name")'"
    v restore "$img" >/dev/null || fail "virsh restore failed (hook at restore begin?)"
    [ "$(domstate "$name")" = "running (restored)" ] || fail "after restore: '$(domstate "$name")'"
    crash_and_check "$name"
    remove_domain "$name"
    rm -f "$img"
    save_restore_unenrolled
}

# A guest without the device, which enroll changes while it runs, then saved
# and restored: the restore must still work (the device comes at the next
# cold boot, not at restore).
save_restore_unenrolled() {
    local name=${E2E_NAME_PREFIX}save-nopanic img
    img=$E2E_WORK/state/$(slug "$name").save
    DOM_PANIC=none define_domain "$name" nmi
    start_domain "$name"
    wait_console "$name" '^PVE2E READY' 90 >/dev/null || fail "'$name' did not boot"
    wait_for 30 has_panic_inactive "$name" >/dev/null || fail "'$name' not enrolled"
    v save -- "$name" "$img" >/dev/null || fail "virsh save of '$name' failed"
    v restore "$img" >/dev/null || fail "virsh restore of enrolled '$name' failed"
    [ "$(domstate "$name")" = "running (restored)" ] || fail "after restore: '$(domstate "$name")'"
    ! has_panic_live "$name" || fail "restore added <panic> to the running guest"
    remove_domain "$name"
    rm -f "$img"
}

# managedsave + start (restore from the managed image) with the hook
# installed, for a guest with the device and for one that enroll changed
# after it started.
scenario_hook_managedsave() {
    local name=${E2E_NAME_PREFIX}msave name2=${E2E_NAME_PREFIX}msave-nopanic
    need_hook_install
    install_hook enroll
    define_domain "$name" nmi
    boot_until_ready "$name"
    v managedsave -- "$name" >/dev/null || fail "virsh managedsave failed"
    [ "$(domstate "$name")" = "shut off (saved)" ] || fail "after managedsave: '$(domstate "$name")'"
    start_domain "$name"
    [ "$(domstate "$name")" = "running (restored)" ] || fail "after start: '$(domstate "$name")'"
    crash_and_check "$name"
    remove_domain "$name"

    DOM_PANIC=none define_domain "$name2" nmi
    start_domain "$name2"
    wait_console "$name2" '^PVE2E READY' 90 >/dev/null || fail "'$name2' did not boot"
    wait_for 30 has_panic_inactive "$name2" >/dev/null || fail "'$name2' not enrolled"
    v managedsave -- "$name2" >/dev/null || fail "virsh managedsave of '$name2' failed"
    start_domain "$name2"
    [ "$(domstate "$name2")" = "running (restored)" ] || fail "after start: '$(domstate "$name2")'"
    remove_domain "$name2"
}

# create_transient NAME MODE: virsh create (no persistent definition)
create_transient() {
    local xml
    xml=$E2E_WORK/guest/$(slug "$1").xml
    domain_xml "$1" "$2" >"$xml"
    register_domain "$1"
    v create "$xml" >/dev/null || fail "virsh create '$1' failed"
}

# pvpanic-hook enable --all: added for domains without the device, present
# for one that has it, skipped for a transient domain; the definitions
# then have the device.
scenario_hook_enable_all() {
    local p=${E2E_NAME_PREFIX}enable- out rc=0 n
    need_hook_binary
    DOM_PANIC=none define_domain "${p}a" idle
    DOM_PANIC=none define_domain "${p}b b" idle
    DOM_PANIC=isa define_domain "${p}c" idle
    DOM_PANIC=none create_transient "${p}transient" idle
    out=$(${PVPANIC_VALGRIND:-} "$HOOK_BIN" enable --connect "$E2E_URI" --all 2>&1) || rc=$?
    printf '%s\n' "$out" | sed 's/^/    | /' >&2
    for n in "${p}a" "${p}b b"; do
        grep -F -- "$n" <<<"$out" | grep -cw added >/dev/null || fail "'$n' not reported as added"
        has_panic_inactive "$n" || fail "'$n' has no <panic> after enable"
    done
    grep -F -- "${p}c" <<<"$out" | grep -cw present >/dev/null || fail "'${p}c' not reported as present"
    grep -F -- "${p}transient" <<<"$out" | grep -cw skipped >/dev/null ||
        fail "transient '${p}transient' not reported as skipped"
    v dominfo -- "${p}transient" | grep -c '^Persistent: *no' >/dev/null ||
        fail "enable made the transient domain persistent"
    [ "$rc" -eq 5 ] || fail "exit status $rc, expected 5 (none failed, some skipped)"
    # idempotent: a second run changes nothing
    rc=0
    out=$(${PVPANIC_VALGRIND:-} "$HOOK_BIN" enable --connect "$E2E_URI" --all 2>&1) || rc=$?
    ! grep -qw added <<<"$out" || fail "second enable --all added again: $out"
    for n in "${p}a" "${p}b b" "${p}c" "${p}transient"; do remove_domain "$n"; done
}

# ---------------------------------------------------------------- product: watch

watch_has() {
    [ -x "$WATCH_BIN" ] && "$WATCH_BIN" "$1" --help >/dev/null 2>&1
}

need_watch() {
    [ -x "$WATCH_BIN" ] || skip "not built: parser/pvpanic-watch"
    watch_has "$1" || skip "not built: 'pvpanic-watch $1' (--help fails)"
}

# Throttling of the alerting sinks as the follow scenarios configure it: at
# most E2E_THROTTLE_COUNT exec alerts per domain per window, then one summary
WATCH_THROTTLE_COUNT=1
WATCH_THROTTLE_WINDOW_S=40

# write_watch_conf DIR: watch.conf with an exec sink that records every
# alert (event, count, domain; tab-separated) and a prometheus textfile
write_watch_conf() {
    local dir=$1
    mkdir -p "$dir"
    cat >"$dir/record-alert.sh" <<'EOS'
#!/bin/sh
# exec sink of the e2e suite: one line per alert
printf '%s\t%s\t%s\n' "${PVPANIC_EVENT:-}" "${PVPANIC_COUNT:-}" "${PVPANIC_DOMAIN-(unset)}" \
    >>"$(dirname "$0")/exec-alerts.tsv"
EOS
    chmod 755 "$dir/record-alert.sh"
    cat >"$dir/watch.conf" <<EOC
# written by tests/e2e
throttle_count = $WATCH_THROTTLE_COUNT
throttle_window = ${WATCH_THROTTLE_WINDOW_S}s

[sink exec]
command = $dir/record-alert.sh
timeout = 10s

[sink prometheus]
path = $dir/pvpanic.prom
EOC
}

# start_follower TAG LOGFILE: pvpanic-watch follow in the background on the
# daemon log and the per-domain logs, with a json sink in
# $E2E_WORK/watch/TAG/alerts.json and its state file next to it
start_follower() {
    local tag=$1 logfile=$2 dir=$E2E_WORK/watch/$1 pid
    write_watch_conf "$dir"
    setsid "$WATCH_BIN" follow -c "$dir/watch.conf" --json "$dir/alerts.json" \
        --state "$dir/follow.state" --from-start --log stderr -v \
        "$logfile" '/var/log/libvirt/qemu/*.log' \
        </dev/null >>"$dir/follow.out" 2>&1 9>&- &
    pid=$!
    echo "$pid" >"$E2E_WORK/state/follower-$tag.pid"
    bg_register "$pid" "pvpanic-watch follow ($tag)"
    # it logs "ready: N file(s) open" once every file is open
    follower_ready() { grep -q 'ready: ' "$dir/follow.out" || ! pid_alive "$pid"; }
    wait_for 15 follower_ready >/dev/null || log "pvpanic-watch follow ($tag) printed no 'ready:' in 15 s"
    pid_alive "$pid" || { sed 's/^/    | /' "$dir/follow.out" >&2; fail "pvpanic-watch follow exited at once"; }
    log "pvpanic-watch follow ($tag) pid $pid on $logfile"
}

# start_arrival_clock TAG: a tiny poller (every 2 ms) that stamps each new
# line of TAG's json sink with the time it appeared, so that the latency
# "log record written -> alert emitted" can be measured from outside.
start_arrival_clock() {
    local dir=$E2E_WORK/watch/$1
    setsid python3 - "$dir/alerts.json" "$dir/arrivals.tsv" <<'EOP' 9>&- &
import json, os, sys, time
src, dst = sys.argv[1:3]
pos, buf = 0, b""
with open(dst, "a", buffering=1) as out:
    while True:
        try:
            size = os.stat(src).st_size
        except OSError:
            size = 0
        if size > pos:
            now = time.time()
            with open(src, "rb") as f:
                f.seek(pos)
                chunk = f.read(size - pos)
            pos += len(chunk)
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                try:
                    a = json.loads(line)
                except ValueError:
                    continue
                out.write("%.4f\t%s\n" % (now, json.dumps(a, ensure_ascii=False)))
        time.sleep(0.002)
EOP
    bg_register $! "arrival clock ($1)"
}

# alert_latency NAME [TAG]: for the last alert of NAME, "A B" with
# A = ms from the log record's time to the alert appearing, B = ms from the
# QMP event time (QEMU's clock, same host) to the alert appearing
alert_latency() {
    [ -f "$E2E_WORK/watch/${2:-global}/arrivals.tsv" ] || return 0
    python3 - "$E2E_WORK/watch/${2:-global}/arrivals.tsv" "$1" <<'EOP'
import calendar, json, sys, time
last = None
with open(sys.argv[1], encoding="utf-8", errors="surrogateescape") as f:
    for line in f:
        t, js = line.rstrip("\n").split("\t", 1)
        a = json.loads(js)
        if a.get("event") == "panic" and a.get("domain") == sys.argv[2]:
            last = (float(t), a)
if last:
    t, a = last
    rec = a.get("time", "")            # 2026-11-25T19:37:05.509Z
    base, _, ms = rec.rstrip("Z").partition(".")
    rec_epoch = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + float("0." + (ms or "0"))
    print("%.1f %.1f" % ((t - rec_epoch) * 1000, (t - float(a.get("qmp_time") or t)) * 1000))
EOP
}

# The global follower runs for the whole run when `follow` exists: every
# crash_and_check then also checks its alert.
start_global_follower() {
    if ! watch_has follow; then
        log "pvpanic-watch follow: not built; alerts are not checked"
        return 0
    fi
    start_follower global "$E2E_LOG"
    start_arrival_clock global
}

follower_running() {
    pid_alive "$(cat "$E2E_WORK/state/follower-${1:-global}.pid" 2>/dev/null)"
}

# alerts_for NAME [TAG]: panic events for NAME in the json sink output
alerts_for() {
    local f=$E2E_WORK/watch/${2:-global}/alerts.json
    [ -f "$f" ] || { echo 0; return; }
    python3 - "$f" "$1" <<'EOP'
import json, sys
n = 0
with open(sys.argv[1], encoding="utf-8", errors="surrogateescape") as f:
    for line in f:
        try:
            a = json.loads(line)
        except ValueError:
            continue
        if a.get("event") == "panic" and a.get("domain") == sys.argv[2]:
            n += 1
print(n)
EOP
}

# wait_alerts NAME WANT [TAG]: within 5 s of the crash (CRASHED_MS) the
# json sink holds WANT panic alerts for NAME; records the delay
wait_alerts() {
    local name=$1 want=$2 tag=${3:-global} n t_seen
    while :; do
        n=$(alerts_for "$name" "$tag")
        [ "$n" -ge "$want" ] && break
        (($(now_ms) - CRASHED_MS > 5000)) &&
            fail "pvpanic-watch: $n panic alerts for '$name' 5 s after the crash, expected $want"
        sleep 0.05
    done
    t_seen=$(now_ms)
    record_time "crashed_to_alert[$name]" "$(ms_to_s $((t_seen > CRASHED_MS ? t_seen - CRASHED_MS : 0)))"
    # and, stamped by the arrival clock, from the log record / the QMP event
    local lat
    sleep 0.05
    lat=$(alert_latency "$name" "$tag")
    if [ -n "$lat" ]; then
        record_time "log_record_to_alert_ms[$name]" "${lat% *}"
        record_time "qmp_event_to_alert_ms[$name]" "${lat#* }"
    fi
}


# expect_alerts NAME WANT [TAG]: wait_alerts, and still exactly WANT a
# second later. Without a running follower there is nothing to check.
expect_alerts() {
    local n
    follower_running "${3:-global}" || return 0
    wait_alerts "$@"
    sleep 1
    n=$(alerts_for "$1" "${3:-global}")
    [ "$n" -eq "$2" ] || fail "pvpanic-watch: $n panic alerts for '$1', expected exactly $2"
}

# One NMI crash, one alert naming the domain within 5 s, with its monitor.
scenario_follow_alert() {
    local name=${E2E_NAME_PREFIX}follow
    need_watch follow
    follower_running || fail "the global follower is not running"
    define_domain "$name" nmi
    boot_until_ready "$name"
    crash_and_check "$name"
    remove_domain "$name"
}

# on_crash=restart: the json sink gets every panic (count exact), the exec
# sink WATCH_THROTTLE_COUNT alert(s) per window plus a summary, when the
# window closes, whose count makes up the rest; the Prometheus counter is
# exact. Three panics come within ~20 s, well inside one 40 s window.
scenario_follow_restart_throttle() {
    local name=${E2E_NAME_PREFIX}follow-restart dir=$E2E_WORK/watch/global n json execn summ prom t0
    need_watch follow
    follower_running || fail "the global follower is not running"
    DOM_ONCRASH=restart define_domain "$name" panic
    t0=$(now_ms)
    start_domain "$name"
    wait_panics "$name" 3 120 || fail "fewer than 3 panics in the restart loop"
    destroy_domain "$name"
    n=$(panics_seen "$name")
    log "'$name' panicked $n times in $(ms_to_s $(($(now_ms) - t0))) s; waiting for the throttle summary"
    exec_summary() {
        awk -F '\t' -v d="$name" '$1 == "throttled" && $3 == d' "$dir/exec-alerts.tsv" 2>/dev/null | grep -q .
    }
    wait_for $((WATCH_THROTTLE_WINDOW_S + 20)) exec_summary >/dev/null ||
        fail "no throttle summary for '$name' in the exec sink"
    json=$(alerts_for "$name")
    [ "$json" -eq "$n" ] || fail "json sink: $json panic events for '$name', libvirt reported $n"
    execn=$(awk -F '\t' -v d="$name" '$1 == "panic" && $3 == d' "$dir/exec-alerts.tsv" | wc -l)
    summ=$(awk -F '\t' -v d="$name" '$1 == "throttled" && $3 == d { s += $2 } END { print s + 0 }' \
        "$dir/exec-alerts.tsv")
    log "exec sink: $execn alert(s) + throttle summary counting $summ, for $n panics"
    [ "$execn" -ge 1 ] || fail "exec sink: no alert for '$name'"
    [ "$execn" -lt "$n" ] || fail "exec sink: $execn alerts for $n panics: not throttled"
    [ $((execn + summ)) -eq "$n" ] || fail "exec sink: $execn alerts + $summ summarised != $n panics"
    prom=$(grep -F "pvpanic_guest_panics_total{domain=\"$name\"}" "$dir/pvpanic.prom" | awk '{ print $NF }')
    [ "${prom:-0}" -eq "$n" ] || fail "prometheus counter for '$name' is '${prom:-}', expected $n"
    remove_domain "$name"
}

# Two guests get their NMIs at the same moment: one alert each, named right.
scenario_follow_concurrent() {
    local a=${E2E_NAME_PREFIX}twin-a b=${E2E_NAME_PREFIX}twin-b pa pb
    need_watch follow
    follower_running || fail "the global follower is not running"
    define_domain "$a" nmi
    define_domain "$b" nmi
    start_domain "$a"
    start_domain "$b"
    wait_console "$a" '^PVE2E READY' 90 >/dev/null || fail "'$a' did not boot"
    wait_console "$b" '^PVE2E READY' 90 >/dev/null || fail "'$b' did not boot"
    inject_nmi "$a" & pa=$!
    inject_nmi "$b" & pb=$!
    wait "$pa" && wait "$pb" || fail "inject-nmi failed"
    wait_domstate "$a" '^crashed \(panicked\)$' 30 >/dev/null || fail "'$a' did not crash"
    wait_domstate "$b" '^crashed \(panicked\)$' 30 >/dev/null || fail "'$b' did not crash"
    CRASHED_MS=$(now_ms)
    wait_alerts "$a" 1
    wait_alerts "$b" 1
    sleep 1
    [ "$(alerts_for "$a")" -eq 1 ] && [ "$(alerts_for "$b")" -eq 1 ] ||
        fail "pvpanic-watch: $(alerts_for "$a") and $(alerts_for "$b") alerts, expected 1 each"
    remove_domain "$a"
    remove_domain "$b"
}

# Names with spaces, quotes, $() and UTF-8 come out exactly.
scenario_follow_names() {
    local name names=('web 01 "x" $(id)' '数据库-主')
    need_watch follow
    follower_running || fail "the global follower is not running"
    for name in "${names[@]}"; do
        define_domain "$name" nmi
        boot_until_ready "$name"
        crash_and_check "$name"
        remove_domain "$name"
    done
}

# A guest that is only destroyed (its NMI ignored): no alert.
scenario_follow_destroy_only() {
    local name=${E2E_NAME_PREFIX}destroy-only
    need_watch follow
    follower_running || fail "the global follower is not running"
    define_domain "$name" idle
    boot_until_ready "$name"
    inject_nmi "$name"
    wait_console "$name" 'NMI received for unknown reason' 20 >/dev/null || fail "NMI not seen"
    destroy_domain "$name"
    sleep 3
    [ "$(alerts_for "$name")" -eq 0 ] || fail "an alert for '$name', which never panicked"
    [ "$(panics_seen "$name")" -eq 0 ] || fail "libvirt reported a panic for '$name'"
    remove_domain "$name"
}

# libvirtd restarted (its log rotated to .1 first, as logrotate does) while
# a guest runs and pvpanic-watch follows: the next panic still alerts.
scenario_follow_daemon_restart() {
    local name=${E2E_NAME_PREFIX}follow-reconnect
    need_watch follow
    follower_running || fail "the global follower is not running"
    define_domain "$name" nmi
    boot_until_ready "$name"
    restart_daemon rotate
    [ "$(domstate "$name")" = "running (booted)" ] || fail "lost '$name' over the restart"
    follower_running || fail "pvpanic-watch follow died over the daemon restart"
    crash_and_check "$name"
    remove_domain "$name"
}

# audit over the logs of the whole run (daemon log, its rotations and the
# per-domain logs): exactly the panics libvirt reported through its API,
# same domain and same QMP timestamp, and when follow ran, the same as its
# json sink.
scenario_audit_run() {
    local logs=() f rc=0 name=${E2E_NAME_PREFIX}audit
    need_watch audit
    if ! grep -q '^event GUEST_PANICKED' "$E2E_WORK/state/qmp-events" 2>/dev/null; then
        # run alone: make one panic to audit
        DOM_ONCRASH=destroy define_domain "$name" panic
        start_domain "$name"
        wait_domstate "$name" '^shut off \(crashed\)$' 90 >/dev/null || fail "no crash"
        wait_panics "$name" 1 10 || fail "panic not reported"
        remove_domain "$name"
    fi
    for f in "$E2E_LOG".{9,8,7,6,5,4,3,2,1} "$E2E_LOG"; do [ -f "$f" ] && logs+=("$f"); done
    while IFS= read -r name; do
        f="/var/log/libvirt/qemu/$name.log"
        [ -f "$f" ] && logs+=("$f")
    done <"$E2E_WORK/domains"
    log "audit over ${#logs[@]} files"
    ${PVPANIC_VALGRIND:-} "$WATCH_BIN" audit --json "${logs[@]}" >"$E2E_WORK/watch-audit.json" \
        2>"$E2E_WORK/watch-audit.err" || rc=$?
    [ "$rc" -eq 1 ] || { cat "$E2E_WORK/watch-audit.err" >&2; fail "audit exit status $rc, expected 1 (events found)"; }
    python3 - "$E2E_WORK/watch-audit.json" "$E2E_WORK/state/qmp-events" \
        "$E2E_WORK/watch/global/alerts.json" <<'EOP' || fail "audit does not match what libvirt reported"
import collections, json, os, re, sys
audit_path, truth_path, follow_path = sys.argv[1:4]

def events_in(path):
    """(domain, QMP time) of every panic event in a json sink/audit file"""
    out = collections.Counter()
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            try:
                a = json.loads(line)
            except ValueError:
                continue
            if a.get("event") != "panic":
                continue
            t = a.get("qmp_time")
            out[(a.get("domain") or "(unknown %s)" % a.get("monitor"),
                 "%.6f" % t if isinstance(t, (int, float)) else "?")] += 1
    return out

truth = collections.Counter()
with open(truth_path, encoding="utf-8", errors="surrogateescape") as f:
    for line in f:
        m = re.match(r"^event GUEST_PANICKED at ([0-9]+\.[0-9]{6}) for domain '(.*)': \{", line)
        if m:
            truth[(m.group(2), m.group(1))] += 1
sources = {"audit": events_in(audit_path)}
if os.path.exists(follow_path):
    sources["follow"] = events_in(follow_path)
ok = sum(truth.values()) > 0
print("panic events (domain, QMP time): libvirt / " + " / ".join(sources))
keys = set(truth)
for c in sources.values():
    keys |= set(c)
for k in sorted(keys):
    counts = [truth[k]]
    for name, c in sources.items():
        # a sink without qmp_time is compared on the domain alone
        if any(t == "?" for _, t in c):
            counts.append(sum(v for (d, _), v in c.items() if d == k[0]) if k in truth else 0)
        else:
            counts.append(c[k])
    bad = any(n != counts[0] for n in counts[1:])
    ok = ok and not bad
    print("  %r %s: %s%s" % (k[0], k[1], " / ".join(map(str, counts)), "   <-- MISMATCH" if bad else ""))
print("total: libvirt %d, %s" % (sum(truth.values()),
      ", ".join("%s %d" % (n, sum(c.values())) for n, c in sources.items())))
sys.exit(0 if ok else 1)
EOP
}

# ---------------------------------------------------------------- product: drill (issue 9)

# run_drill NAME TIMEOUT_S: pvpanic-watch drill on our daemon; sets
# DRILL_RC and DRILL_OUT (also printed, for the closing note)
run_drill() {
    local name=$1 tmo=$2
    DRILL_RC=0
    DRILL_OUT=$(timeout $((tmo + 60)) "$WATCH_BIN" drill --connect "$E2E_URI" --timeout "$tmo" \
        --yes -- "$name" 2>&1) || DRILL_RC=$?
    log "pvpanic-watch drill '$name' exit $DRILL_RC:"
    printf '%s\n' "$DRILL_OUT" | sed 's/^/    | /' >&2
}

# The chain works: the NMI-waiting guest panics, the drill says so, with
# the delay, and exits 0.
scenario_drill_ok() {
    local name=${E2E_NAME_PREFIX}drill-ok
    need_watch drill
    define_domain "$name" nmi
    boot_until_ready "$name"
    run_drill "$name" 30
    [ "$DRILL_RC" -eq 0 ] || fail "drill exit $DRILL_RC on a working chain"
    [ "$(domstate "$name")" = "crashed (panicked)" ] || fail "state '$(domstate "$name")' after drill"
    [ "$(panics_seen "$name")" -eq 1 ] || fail "libvirt reported $(panics_seen "$name") panics"
    grep -Eq '[0-9]+(\.[0-9]+)? ?(ms|s)\b' <<<"$DRILL_OUT" || fail "drill does not report the delay"
    remove_domain "$name"
}

# No <panic> device: the drill reports that link broken and injects nothing.
scenario_drill_no_panic_device() {
    local name=${E2E_NAME_PREFIX}drill-nodev
    need_watch drill
    DOM_PANIC=none define_domain "$name" nmi
    start_domain "$name"
    wait_console "$name" '^PVE2E READY' 90 >/dev/null || fail "'$name' did not boot"
    run_drill "$name" 20
    [ "$DRILL_RC" -ne 0 ] || fail "drill exit 0 without a panic device"
    grep -qi 'panic' <<<"$DRILL_OUT" || fail "drill does not name the missing <panic> device"
    sleep 1
    [ "$(domstate "$name")" = "running (booted)" ] || fail "state '$(domstate "$name")': something was injected"
    ! grep -aq 'NMI received' "$(console_of "$name")" || fail "the guest got an NMI; the drill must stop before"
    remove_domain "$name"
}

# The guest ignores NMIs (unknown_nmi_panic=0): the drill times out and
# explains what that means for a Linux guest.
scenario_drill_nmi_ignored() {
    local name=${E2E_NAME_PREFIX}drill-ignored t0
    need_watch drill
    define_domain "$name" idle
    boot_until_ready "$name"
    t0=$(now_ms)
    run_drill "$name" 10
    record_time "drill_timeout[$name]" "$(ms_to_s $(($(now_ms) - t0)))"
    [ "$DRILL_RC" -ne 0 ] || fail "drill exit 0 although the guest never panicked"
    grep -qi 'unknown_nmi_panic' <<<"$DRILL_OUT" || fail "no hint about kernel.unknown_nmi_panic"
    [ "$(domstate "$name")" = "running (booted)" ] || fail "state '$(domstate "$name")'"
    remove_domain "$name"
}

# A transient domain (virsh create) without the device under enroll: it
# starts, and is never made persistent.
scenario_hook_enroll_transient() {
    local name=${E2E_NAME_PREFIX}transient
    need_hook_install
    install_hook enroll
    DOM_PANIC=none create_transient "$name" idle
    [ "$(domstate "$name")" = "running (booted)" ] || fail "'$name' is '$(domstate "$name")'"
    sleep 3
    v dominfo -- "$name" | grep -c '^Persistent: *no' >/dev/null ||
        fail "enroll made the transient domain '$name' persistent"
    destroy_domain "$name"
}

# libvirtd restarts while guests run: the hook is called with "reconnect
# begin" and must let them be (a failing reconnect hook makes libvirt kill
# the QEMU process). Even a guest without the device, started before the
# policy became refuse, must survive.
scenario_hook_daemon_restart() {
    local name=${E2E_NAME_PREFIX}hook-reconnect pid conf
    need_hook_install
    install_hook enroll
    DOM_PANIC=none define_domain "$name" idle
    start_domain "$name"
    wait_console "$name" '^PVE2E READY' 90 >/dev/null || fail "'$name' did not boot"
    pid=$(cat "/run/libvirt/qemu/$name.pid")
    conf=$(hook_conf_path)
    sed -i 's/^on_missing = .*/on_missing = refuse/' "$conf"
    restart_daemon
    [ "$(domstate "$name")" = "running (booted)" ] ||
        fail "'$name' is '$(domstate "$name")' after the daemon restart (reconnect hook?)"
    [ "$(cat "/run/libvirt/qemu/$name.pid")" = "$pid" ] || fail "QEMU of '$name' was restarted"
    pid_alive "$pid" || fail "QEMU of '$name' is gone"
    remove_domain "$name"
}

# Per-domain policy in <metadata> (urn:pvpanic-tools:hook:1): under a global
# refuse, a domain that opts out starts; with metadata = no in hook.conf the
# opt-out is ignored and the start is refused.
scenario_hook_metadata_policy() {
    local name=${E2E_NAME_PREFIX}optout conf
    need_hook_install
    install_hook refuse
    DOM_PANIC=none define_domain "$name" idle
    v metadata --domain "$name" --uri urn:pvpanic-tools:hook:1 --key pvpanic \
        --set '<hook on_missing="ignore"/>' --config >/dev/null || fail "virsh metadata failed"
    start_domain "$name"
    [ "$(domstate "$name")" = "running (booted)" ] || fail "opted-out '$name' did not start"
    destroy_domain "$name"
    conf=$(hook_conf_path)
    echo 'metadata = no' >>"$conf"
    ! v start -- "$name" >/dev/null 2>&1 || fail "metadata = no: the opt-out still let '$name' start"
    remove_domain "$name"
}

# pvpanic-watch follow killed with SIGKILL; a guest panics while it is
# down; started again on the same state file it alerts that panic once and
# repeats none of the earlier ones.
scenario_follow_kill9_resume() {
    local a=${E2E_NAME_PREFIX}k9-before b=${E2E_NAME_PREFIX}k9-while-down pid
    need_watch follow
    start_follower k9 "$E2E_LOG"
    define_domain "$a" nmi
    define_domain "$b" nmi
    boot_until_ready "$a"
    start_domain "$b"
    crash_and_check "$a"
    wait_alerts "$a" 1 k9
    pid=$(cat "$E2E_WORK/state/follower-k9.pid")
    kill -KILL "$pid"
    stop_bg "$pid"
    log "pvpanic-watch follow (k9) killed with SIGKILL"
    wait_console "$b" '^PVE2E READY' 90 >/dev/null || fail "'$b' did not boot"
    crash_and_check "$b"
    start_follower k9 "$E2E_LOG"
    CRASHED_MS=$(now_ms)
    wait_alerts "$b" 1 k9
    sleep 2
    [ "$(alerts_for "$a" k9)" -eq 1 ] || fail "the restarted follower repeated the alert for '$a'"
    [ "$(alerts_for "$b" k9)" -eq 1 ] || fail "$(alerts_for "$b" k9) alerts for '$b', expected 1"
    stop_bg "$(cat "$E2E_WORK/state/follower-k9.pid")"
    remove_domain "$a"
    remove_domain "$b"
}
