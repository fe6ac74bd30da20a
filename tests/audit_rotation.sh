#!/bin/bash
# audit_rotation: a rotated set is read oldest first whatever the argument
# order (with a .gz in the middle), so a name logged in an old file names a
# panic in the newest; dateext names; directories; file = patterns in the
# config pick up rotations; per-domain logs are read after daemon logs.
. "$abs_top_srcdir/tests/audit_lib.sh"
need_python

D="$TMP/log"
mkdir -p "$D/qemu"
# oldest: the monitor is opened and named
cat >"$D/libvirtd.log.2" <<'LOG'
2026-11-24 10:00:00.000+0000: 10: debug : qemuProcessWaitForMonitor:2291 : Connect monitor to vm=0x5600000a0020 name='rotated guest'
2026-11-24 10:00:00.001+0000: 10: info : qemuMonitorOpenInternal:647 : QEMU_MONITOR_NEW: mon=0x7f00000a0010 fd=20
LOG
gzip -n "$D/libvirtd.log.2"
# middle: nothing about it
cat >"$D/libvirtd.log.1" <<'LOG'
2026-11-24 23:00:00.000+0000: 11: info : qemuMonitorSend:861 : QEMU_MONITOR_SEND_MSG: mon=0x7f00000a0010 msg={"execute":"query-status","id":"libvirt-9"}
 fd=-1
LOG
# newest: the panic (Hyper-V crash MSRs: QMP carries the parameters, the per-domain log repeats them)
cat >"$D/libvirtd.log" <<'LOG'
2026-11-25 08:00:00.000+0000: 12: info : qemuMonitorJSONIOProcessLine:203 : QEMU_MONITOR_RECV_EVENT: mon=0x7f00000a0010 event={"timestamp": {"seconds": 1795680000, "microseconds": 1}, "event": "GUEST_PANICKED", "data": {"action": "pause", "info": {"type": "hyper-v", "arg1": 209, "arg2": 1, "arg3": 2, "arg4": 0, "arg5": 18446735277616529408}}}
LOG
cat >"$D/qemu/rotated guest.log" <<'LOG'
2026-11-25 08:00:00.002+0000: panic hyper-v: arg1='0xd1', arg2='0x1', arg3='0x2', arg4='0x0', arg5='0xfffff80000000000'
LOG

# given newest first, per-domain log first: still oldest first, daemon first
watch audit --json "$D/qemu/rotated guest.log" "$D/libvirtd.log" "$D/libvirtd.log.1" "$D/libvirtd.log.2.gz"
expect_rc 1 "rotated set"
if [ "$(json_summary)" = "1795680000.000001 rotated guest" ]; then ok "name from the oldest (.gz) file, one event"; else fail "rotated set: $(json_summary)"; fi
expect_out '"bugcheck":"0xd1"' "hyper-v detail in the event"
expect_out '"arg5":"0xfffff80000000000"' "QMP decimal args printed as hex like libvirt"
expect_out '"file":"'"$D"'/libvirtd.log","line":1' "event dated by the newest file's record"

# --keep-order reads them as given: the name is not known yet
watch audit --json --keep-order "$D/libvirtd.log" "$D/libvirtd.log.1" "$D/libvirtd.log.2.gz"
expect_rc 1 "--keep-order"
if [ "$(json_summary)" = "1795680000.000001 None" ]; then ok "--keep-order: newest first cannot name it"; else fail "--keep-order: $(json_summary)"; fi

# a directory argument finds the set and the per-domain logs
watch audit --json "$D"
expect_rc 1 "directory argument"
if [ "$(json_summary)" = "1795680000.000001 rotated guest" ]; then ok "directory: same answer"; else fail "directory: $(json_summary)"; fi

# file = in the config names only the live file; rotations come along
printf 'file = %s/libvirtd.log\n' "$D" >"$TMP/watch.conf"
watch audit --json -c "$TMP/watch.conf"
expect_rc 1 "config file = pattern"
if [ "$(json_summary)" = "1795680000.000001 rotated guest" ]; then ok "config: rotations read too"; else fail "config: $(json_summary)"; fi
printf 'file = %s/nothing-*.log\n' "$TMP" >"$TMP/none.conf"
watch audit -c "$TMP/none.conf"
expect_rc 2 "config patterns matching nothing"
expect_err "matches no file" "unmatched pattern is reported"

# logrotate dateext names sort by date
E="$TMP/dateext"
mkdir -p "$E"
gzip -dc "$D/libvirtd.log.2.gz" >"$E/libvirtd.log-20261124"
gzip -n "$E/libvirtd.log-20261124"
cp "$D/libvirtd.log.1" "$E/libvirtd.log-20261125"
cp "$D/libvirtd.log" "$E/libvirtd.log"
watch audit --json "$E/libvirtd.log" "$E/libvirtd.log-20261125" "$E/libvirtd.log-20261124.gz"
if [ "$(json_summary)" = "1795680000.000001 rotated guest" ]; then ok "dateext: oldest date first"; else fail "dateext: $(json_summary)"; fi

finish
