#!/bin/bash
# pvpanic-watch drill without --log: the log comes from the config of the
# running libvirt daemon (a process named libvirtd with -f CONFIG, found in
# /proc; the one whose unix_sock_dir holds the --connect socket wins), and
# its log_outputs/log_filters decide whether panic events are recorded.
. "$abs_top_srcdir/tests/drill_lib.sh"
watchdog 90

mkdir -p "$T/run" "$T/other"
URI="qemu:///system?socket=$T/run/libvirt-sock"

# fake_daemon DIR CONF-ARG: a process that looks like "libvirtd -f CONF-ARG" (cwd DIR)
fake_daemon() {
    # tail -f CONF runs until killed and keeps its argv as given
    (cd "$1" && exec -a libvirtd tail -f "$2" >/dev/null 2>&1 </dev/null) &
    PIDS+=($!)
    for _ in $(seq 100); do
        tr '\0' ' ' < "/proc/$!/cmdline" 2>/dev/null | grep -q "^libvirtd " && return 0
        sleep 0.05
    done
    fail "fake daemon did not start"
}

write_conf() {
    local conf=$1 sockdir=$2 outputs=$3 filters=$4
    cat > "$conf" <<EOF
# written by drill_daemon.sh
unix_sock_dir = "$sockdir"
auth_unix_rw = "none"
log_outputs = "$outputs"
log_filters = "$filters"   # a comment
listen_addr = [ "a]b", '#',
   "c" ]
EOF
}

# another daemon first, on another socket, logging elsewhere
write_conf "$T/other/libvirtd.conf" "$T/other" "1:file:$T/other/libvirtd.log" "1:*"
fake_daemon "$T/other" "$T/other/libvirtd.conf"
# ours, started with a RELATIVE -f (resolved through /proc/PID/cwd)
write_conf "$T/run/libvirtd.conf" "$T/run" "3:journald 1:file:$LOG" "1:qemu.qemu_process 2:qemu 3:*"
fake_daemon "$T/run" "libvirtd.conf"

fake_domain "web-03"
run_drill --yes --dry-run --connect "$URI" web-03
[ "$RC" -eq 0 ] || fail "discovered log: exit $RC"
grep -qF "  ok      daemon log    $LOG (config $T/run/libvirtd.conf: records panic events and domain names); QEMU_MONITOR_ lines present" "$T/out" ||
    fail "discovered log: line"
run_drill --yes --json --connect "$URI" --timeout 20 web-03
[ "$RC" -eq 0 ] || fail "discovered log, NMI: exit $RC"
[ "$(json_get 'j["daemon_config"]')" = "$T/run/libvirtd.conf" ] || fail "daemon_config"
[ "$(json_get 'j["log"]')" = "$LOG" ] || fail "log"
[ "$(json_get 'j["event"]["domain"]')" = web-03 ] || fail "event"
ok "log found from the daemon's config (relative -f, socket match), event found"

# filters too low for panic events, and nothing in the log: broken
write_conf "$T/run/libvirtd.conf" "$T/run" "1:file:$LOG" "1:qemu.qemu_process 3:*"
fake_domain "web-03"
grep -v QEMU_MONITOR_ "$LOG" > "$LOG.tmp" && mv "$LOG.tmp" "$LOG"
run_drill --yes --connect "$URI" --timeout 5 web-03
[ "$RC" -eq 1 ] || fail "low filters: exit $RC"
grep -qF "  BROKEN  daemon log    $LOG (config $T/run/libvirtd.conf: log_filters/log_outputs too low for panic events); not one QEMU_MONITOR_ line" "$T/out" ||
    fail "low filters: line"
grep -qF "fix: set log_filters=\"1:qemu.qemu_process 2:qemu 3:*\" (and a file: log_outputs) in $T/run/libvirtd.conf, restart the daemon" "$T/out" ||
    fail "low filters: fix"
[ "$(nmi_calls)" -eq 0 ] || fail "low filters: an NMI was sent"
ok "log_filters too low: broken before injecting, fix names the config"

# ... but monitor lines in the log (filters changed at run time): a warning only
fake_domain "web-03"
run_drill --yes --dry-run --connect "$URI" web-03
[ "$RC" -eq 0 ] || fail "runtime filters: exit $RC"
grep -q "^  WARN    daemon log    .*the config says otherwise (filters changed at run time with virt-admin?)" "$T/out" ||
    fail "runtime filters: line"
ok "config says no, log says yes: warning"

# journald only: no file to read
write_conf "$T/run/libvirtd.conf" "$T/run" "2:journald" "2:qemu 3:*"
run_drill --yes --connect "$URI" --timeout 5 web-03
[ "$RC" -eq 1 ] || fail "journald only: exit $RC"
grep -qF "  BROKEN  daemon log    $T/run/libvirtd.conf logs to journald/syslog/stderr only: no file to read panic events from" "$T/out" ||
    fail "journald only: line"
grep -qF 'fix: add a file output: log_outputs="1:file:/var/log/libvirt/libvirtd.log"' "$T/out" || fail "journald only: fix"
ok "journald-only outputs: broken, fix adds a file output"

# --log wins over the config
run_drill --yes --dry-run --connect "$URI" --log "$LOG" web-03
[ "$RC" -eq 0 ] || fail "--log: exit $RC"
grep -qF "  ok      daemon log    $LOG (--log); QEMU_MONITOR_ lines present" "$T/out" || fail "--log line"
ok "--log overrides the configured outputs (the config does not speak for it)"
