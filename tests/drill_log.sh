#!/bin/bash
# pvpanic-watch drill and the daemon log: a hostile domain name (valid JSON,
# nothing executed, terminal-safe text), a log that cannot name the guest
# (the event is matched by the monitor libvirt sent the NMI to), an
# info-level log (named by the start-time taint line), a later
# "custom-monitor" taint that must not be taken for the start, and a big
# log that is not read from its start.
. "$abs_top_srcdir/tests/drill_lib.sh"
watchdog 120

# ---- a hostile name ----------------------------------------------------------
NAME=$'--web 01 "x" $(touch '"$T"$'/pwned) `id` \\ \t\'q\' 数据库'
export NAME
fake_domain "$NAME"
run_drill --yes --json --timeout 20 --log "$LOG" -- "$NAME"
[ "$RC" -eq 0 ] || fail "hostile name: exit $RC"
python3 - "$T/out" <<'PY' || fail "hostile name: JSON does not round-trip the name"
import json, os, sys
j = json.load(open(sys.argv[1]))
name = os.environ["NAME"]
assert j["domain"] == name, (j["domain"], name)
assert j["event"]["domain"] == name
assert j["result"] == "ok" and j["matched_by"] == "domain"
assert "pvpanic-hook" not in (j["checks"][1]["fix"] or "")
PY
[ ! -e "$T/pwned" ] || fail "hostile name: a shell ran the name"
# the fake virsh runs with LC_ALL=C (run_command sets it): quote the same way
quoted=$(LC_ALL=C bash -c 'printf "%q" "$NAME"')
grep -qxF -- "dumpxml -- $quoted " "$FAKE/calls" || fail "hostile name: not passed after -- as one argument"
ok "hostile name: valid JSON with the exact name, nothing executed"

# human output: no raw control bytes; the fix is a copyable shell word
fake_domain "$NAME" ""
run_drill --yes --timeout 5 --log "$LOG" -- "$NAME"
[ "$RC" -eq 1 ] || fail "hostile name, no device: exit $RC"
! grep -q $'\t' "$T/out" || fail "hostile name: a raw tab reached the terminal"
grep -qF "guest '--web 01 \"x\" \$(touch" "$T/out" || fail "hostile name: header"
grep -qF 'pvpanic-hook enable -- '"'"'--web 01 "x" $(touch' "$T/out" || fail "hostile name: fix not quoted for a shell"
ok "hostile name: terminal-safe text, quoted fix"

# ---- a log that cannot name the guest ------------------------------------------
fake_domain "anon-01"
fake_log_start "anon-01" 0
run_drill --yes --json --timeout 20 --log "$LOG" anon-01
[ "$RC" -eq 0 ] || fail "unnamed log: exit $RC"
[ "$(json_get 'j["matched_by"]')" = nmi-monitor ] || fail "unnamed log: matched_by"
[ "$(json_get 'j["event"]["domain"] is None and j["event"]["monitor"] == "0x7f75b0004740"')" = True ] ||
    fail "unnamed log: event"
size=$(json_get 'j["log_read_from"]')
ok "log without names: matched by the NMI's monitor (read from offset $size)"

# ... but an unnamed panic on ANOTHER monitor is not ours
fake_domain "anon-01"
fake_log_start "anon-01" 0
echo 0x7f75b0004740 > "$FAKE/send_mon"   # the NMI goes to the guest's monitor ...
echo 0x7f75b00aaaa0 > "$FAKE/mon"        # ... and a panic comes from another one
run_drill --yes --timeout 3 --log "$LOG" anon-01
[ "$RC" -eq 1 ] || fail "unnamed panic of another monitor: exit $RC"
grep -q '^- 1 panic event(s) of other guests were seen meanwhile' "$T/out" || fail "other guest's panic not mentioned"
ok "an unnamed panic on another monitor is not taken"

# ---- info-level log: the start-time taint names the monitor --------------------
fake_domain "info-01"
{
    echo "2026-11-25 19:16:28.505+0000: 21833: info : libvirt version: 9.0.0, package: 9.0.0-4+deb12u2 (Debian)"
    echo "2026-11-25 19:16:30.561+0000: 21822: warning : qemuDomainObjTaintMsg:6603 : Domain id=1 name='info-01' uuid=6734dc2b-d2b8-494f-a46e-6b14aa8503ed is tainted: high-privileges"
    echo "2026-11-25 19:16:30.576+0000: 21822: info : qemuMonitorOpenInternal:647 : QEMU_MONITOR_NEW: mon=0x7f75b0004740 fd=29"
    # a later API-time taint (an earlier drill's QMP fallback) is not a start
    echo "2026-11-25 19:20:00.000+0000: 21821: warning : qemuDomainObjTaintMsg:6603 : Domain id=1 name='info-01' uuid=6734dc2b-d2b8-494f-a46e-6b14aa8503ed is tainted: custom-monitor"
} > "$LOG"
run_drill --yes --json --timeout 20 --log "$LOG" info-01
[ "$RC" -eq 0 ] || fail "info log: exit $RC"
off=$(grep -b "is tainted: high-privileges" "$LOG" | cut -d: -f1)
[ "$(json_get 'j["log_read_from"]')" = "$off" ] || fail "info log: read from $(json_get 'j["log_read_from"]'), want $off"
[ "$(json_get 'j["matched_by"]')" = domain ] || fail "info log: matched_by"
[ "$(json_get 'j["event"]["resolved_by"]')" = taint ] || fail "info log: resolved_by"
ok "info-level log: read from the start-time taint (offset $off), custom-monitor taint skipped"

# ---- a big log: read backwards to the guest's start, not from byte 0 --------------
fake_domain "big-01"
python3 - "$LOG" <<'PY'
import sys
line = ("2026-11-25 19:00:00.000+0000: 21822: debug : virObjectRef:400 : OBJECT_REF: obj=0x7f75b0004740 "
        + "x" * 100 + "\n").encode()
start = open(sys.argv[1], "rb").read()
with open(sys.argv[1], "wb") as f:
    f.write(line * (24 * 1024 * 1024 // len(line)))     # 24 MB before the guest started
    f.write(start)
    f.write(line * (6 * 1024 * 1024 // len(line)))      # 6 MB after
PY
off=$(grep -b "Connect monitor to vm=0x7f75b042b5f0 name='big-01'" "$LOG" | cut -d: -f1)
run_drill --yes --json --timeout 20 --log "$LOG" big-01
[ "$RC" -eq 0 ] || fail "big log: exit $RC"
[ "$(json_get 'j["log_read_from"]')" = "$off" ] || fail "big log: read from $(json_get 'j["log_read_from"]'), want $off"
mb=$(json_get 'int(j["checks"][3]["summary"].split("in the last ")[1].split(" MB")[0])')
[ "$mb" -le 12 ] || fail "big log: scanned $mb MB backwards, expected about 6"
ok "big log ($(($(stat -c %s "$LOG") >> 20)) MB): scanned $mb MB backwards, replayed from offset $off"
