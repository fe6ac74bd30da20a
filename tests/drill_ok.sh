#!/bin/bash
# pvpanic-watch drill, chain OK: with a fake virsh and a fake daemon log the
# drill injects one NMI (by UUID, after "--"), finds the GUEST_PANICKED of
# THIS domain (not the older one of another guest), reports the delay and
# the state after, and sees the alert in the json output of a real
# `pvpanic-watch follow` that reads the same log.
. "$abs_top_srcdir/tests/drill_lib.sh"
watchdog 120

fake_domain "web-01"

# 1. no watcher: the drill follows the log itself and says so
run_drill --yes --timeout 20 --log "$LOG" web-01
[ "$RC" -eq 0 ] || fail "exit $RC on a working chain"
grep -q '^  ok      domain        running (booted)' "$T/out" || fail "domain check line"
grep -q "^  ok      panic device  <panic model='isa'> fits x86_64, ACPI on" "$T/out" || fail "panic device check line"
grep -q "^  info    on_crash      preserve: the guest stays paused" "$T/out" || fail "on_crash line"
grep -q "^  WARN    watcher " "$T/out" || fail "no watcher must be a warning"
grep -Eq '^  delay         [0-9]+ ms from the NMI to the event' "$T/out" || fail "no delay in ms"
grep -q '^  event         GUEST_PANICKED at .*, action pause, details -, id [0-9a-f]\{16\}$' "$T/out" ||
    fail "event line"
grep -q '^  state         crashed (panicked)$' "$T/out" || fail "state after"
grep -q '^  alert         unknown: no pvpanic-watch follow reads this log' "$T/out" || fail "alert line"
grep -q "^RESULT: the chain works: the crash of 'web-01' reached the daemon log [0-9]* ms after the NMI" "$T/out" ||
    fail "result line"
[ "$(nmi_calls)" -eq 1 ] || fail "expected one NMI call"
grep -qx 'inject-nmi -- 6734dc2b-d2b8-494f-a46e-6b14aa8503ed ' "$FAKE/calls" || fail "NMI not by UUID after --"
delay=$(sed -n 's/^  delay         \([0-9]*\) ms.*/\1/p' "$T/out")
# the fake writes the event 0.3 s after the NMI
[ "$delay" -ge 250 ] && [ "$delay" -lt 5000 ] || fail "delay $delay ms, expected about 300"
ok "chain OK, no watcher: exit 0, delay ${delay} ms"
sed 's/^/    | /' "$T/out"

# 2. JSON, same chain
fake_domain "web-01"
run_drill --yes --json --timeout 20 --log "$LOG" web-01
[ "$RC" -eq 0 ] || fail "--json: exit $RC"
[ "$(json_get 'j["result"]')" = ok ] || fail "result"
[ "$(json_get 'j["event"]["domain"]')" = web-01 ] || fail "event domain"
[ "$(json_get 'j["matched_by"]')" = domain ] || fail "matched_by"
[ "$(json_get 'j["inject_method"]')" = inject-nmi ] || fail "inject_method"
[ "$(json_get 'j["nmi_monitor"]')" = 0x7f75b0004740 ] || fail "nmi_monitor"
[ "$(json_get 'j["delay_ms"] >= 250')" = True ] || fail "delay_ms"
[ "$(json_get '[c["status"] for c in j["checks"]]')" = "['ok', 'ok', 'info', 'ok', 'warn']" ] || fail "check statuses"
# history was replayed from the line that opened the monitor, not from the file start
off=$(grep -b "Connect monitor to vm=0x7f75b042b5f0 name='web-01'" "$LOG" | cut -d: -f1)
[ "$(json_get 'j["log_read_from"]')" = "$off" ] || fail "log_read_from $(json_get 'j["log_read_from"]') != $off"
ok "--json: valid, event and delay present, replay from offset $off"

# 3. a real watcher on the log: the drill finds it and sees its alert (the
#    watcher runs without $VG: the drill recognises "pvpanic-watch follow" in
#    /proc/PID/cmdline, which under valgrind starts with valgrind)
fake_domain "web-01"
: > "$T/watch.conf"
chmod 600 "$T/watch.conf"
"$WATCH" follow --log stderr -v -c "$T/watch.conf" --no-state --json "$T/alerts.json" "$LOG" \
    >"$T/follow.out" 2>"$T/follow.err" &
PIDS+=($!)
for _ in $(seq 600); do grep -q ' ready: ' "$T/follow.err" && break; sleep 0.05; done
grep -q ' ready: ' "$T/follow.err" || fail "follow did not get ready"
run_drill --yes --timeout 20 --log "$LOG" web-01
[ "$RC" -eq 0 ] || fail "with watcher: exit $RC"
grep -q "^  ok      watcher       pvpanic-watch follow (pid ${PIDS[0]}) reads " "$T/out" || fail "watcher not found"
id=$(sed -n 's/.*, id \([0-9a-f]\{16\}\).*/\1/p' "$T/out")
grep -q "^  alert         yes: event $id is in the json output of pvpanic-watch follow (pid ${PIDS[0]})" "$T/out" ||
    fail "alert not confirmed"
grep -q "\"id\":\"$id\"" "$T/alerts.json" || fail "the watcher's json has no event $id"
grep -q 'and the watcher alerted\.$' "$T/out" || fail "result line does not mention the alert"
ok "watcher pid ${PIDS[0]} alerted event $id"

# 4. a watcher that reads another log: a warning, not a failure (--dry-run)
kill -9 "${PIDS[0]}"
wait "${PIDS[0]}" 2>/dev/null
: > "$T/other.log"
"$WATCH" follow --log stderr -v -c "$T/watch.conf" --no-state --json "$T/alerts2.json" "$T/other.log" \
    >"$T/follow2.out" 2>"$T/follow2.err" &
PIDS+=($!)
for _ in $(seq 600); do grep -q ' ready: ' "$T/follow2.err" && break; sleep 0.05; done
fake_domain "web-01"
run_drill --yes --dry-run --log "$LOG" web-01
[ "$RC" -eq 0 ] || fail "dry run: exit $RC"
grep -q "^  WARN    watcher       [0-9]* pvpanic-watch follow process(es), none reads " "$T/out" ||
    fail "a watcher on another log must be reported"
grep -q '^RESULT: every link is OK (dry run: no NMI injected)' "$T/out" || fail "dry-run result"
[ "$(nmi_calls)" -eq 0 ] || fail "--dry-run injected an NMI"
ok "--dry-run: links checked, nothing injected, watcher on another log reported"
