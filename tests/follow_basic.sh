#!/bin/bash
# follow: a log that appears later, written in random chunks; the events
# follow reports are exactly the ones audit finds in the same bytes; SIGTERM
# saves a 0600 state and exits 0; -n checks the config.
. "$(dirname "$0")/follow_lib.sh"
watchdog 120

python3 "$GEN" --guests 20 --seed 3 > "$T/full.log" || fail "generator"

# -n: configuration check
$VG "$WATCH" follow -n -c "$T/watch.conf" > "$T/n.out" 2>&1 || fail "-n on an empty config"
grep -qx 'configuration OK' "$T/n.out" || fail "-n did not say 'configuration OK'"
printf 'bogus_key = 1\n[sink json]\n' > "$T/bad.conf"; chmod 600 "$T/bad.conf"
$VG "$WATCH" follow -n -c "$T/bad.conf" > "$T/n.out" 2>&1
[ $? -eq 2 ] || fail "-n on a bad config must exit 2"
grep -q "bad.conf:1:" "$T/n.out" || fail "-n must report file:line ($(cat "$T/n.out"))"
grep -q "needs 'path'" "$T/n.out" || fail "-n must report the json sink without path"
printf 'state = /var/lib/x/state\nstart_at = start\nthrottle_count = 2\n[sink json]\npath = -\n' > "$T/both.conf"
chmod 600 "$T/both.conf"
$VG "$WATCH" follow -n -c "$T/both.conf" >/dev/null 2>&1 || fail "follow -n rejected the daemon keys"
$VG "$WATCH" audit -c "$T/both.conf" "$T/full.log" >/dev/null 2>"$T/audit.err"
[ $? -eq 1 ] || fail "audit -c must accept the daemon keys of the same file: $(cat "$T/audit.err")"
ok "config check"

# The log directory does not exist yet when the daemon starts.
follow_bg "$T/alerts.json" "$T/state/follow.state" "$T/logs/libvirtd.log"
mkdir "$T/logs"
trickle "$T/full.log" "$T/logs/libvirtd.log"
wait_lines "$T/alerts.json" 20 60
sleep 0.3
same_ids "$T/alerts.json" "$T/full.log"
ok "20 panics from a file that appeared later, same ids as audit"

for n in $(seq 0 19); do
    grep -q "\"domain\":\"guest-$(printf %03d "$n")\"" "$T/alerts.json" || fail "guest-$n not named"
done
ok "every guest named (monitor pointers reused across guests)"

stop_follow "$FPID"
[ "$(stat -c %a "$T/state/follow.state")" = 600 ] || fail "state file mode is not 0600"
ok "SIGTERM: exit 0, state 0600"

# Restart: nothing is alerted twice; new events are.
follow_bg "$T/alerts.json" "$T/state/follow.state" "$T/logs/libvirtd.log"
python3 "$GEN" --guests 3 --seed 4 --start 1795700000 > "$T/more.log"
cat "$T/more.log" >> "$T/logs/libvirtd.log"
wait_lines "$T/alerts.json" 23 30
sleep 0.5
stop_follow "$FPID"
cat "$T/full.log" "$T/more.log" > "$T/all.log"
same_ids "$T/alerts.json" "$T/all.log"
ok "restart resumes: 3 new events, none repeated"
