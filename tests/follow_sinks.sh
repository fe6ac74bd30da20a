#!/bin/bash
# follow with every sink from a config: an alert storm (1000 panics of one
# guest at once) gives throttle_count exec runs and one summary with the
# exact count, while json and the Prometheus counter have all 1000; a
# domain name full of shell metacharacters reaches the exec program intact
# and runs nothing; a 1 MB line between two panics loses neither; SIGHUP
# reloads the config.
. "$(dirname "$0")/follow_lib.sh"
watchdog 180

mkdir "$T/logs" "$T/calls"
L="$T/logs/libvirtd.log"
cat > "$T/count.sh" <<'SH'
#!/bin/sh
printf '%s|%s|%s\n' "$PVPANIC_EVENT" "${PVPANIC_COUNT:-}" "$PVPANIC_DOMAIN" >> "$1/calls.txt"
/usr/bin/env -0 > "$1/$$.env"
SH
chmod 755 "$T/count.sh"
cat > "$T/sinks.conf" <<EOF2
throttle_count = 3
throttle_window = 3s
[sink exec]
command = $T/count.sh $T/calls
timeout = 10s
max_concurrent = 2
[sink prometheus]
path = $T/pvpanic.prom
[sink syslog]
facility = local3
EOF2
chmod 600 "$T/sinks.conf"
$VG "$WATCH" follow -n -c "$T/sinks.conf" >/dev/null 2>&1 || fail "sinks config rejected"

# shellcheck disable=SC2086
$VG "$WATCH" follow --log stderr -v -c "$T/sinks.conf" --state "$T/state" --json "$T/alerts.json" "$L" \
    >>"$T/follow.out" 2>>"$T/follow.err" &
FPID=$!
PIDS+=("$FPID")
wait_ready 1

python3 "$GEN" --guests 1 --panics-per-guest 1000 --filler 0 --seed 5 > "$T/storm.log"
cat "$T/storm.log" >> "$L"
wait_lines "$T/alerts.json" 1000 60
wait_grep "$T/pvpanic.prom" 'pvpanic_guest_panics_total{domain="guest-000"} 1000' 20
wait_grep "$T/calls/calls.txt" "throttled|997|guest-000" 30
sleep 0.5
[ "$(grep -c '^panic|' "$T/calls/calls.txt")" -eq 3 ] || fail "expected 3 exec alerts: $(cat "$T/calls/calls.txt")"
[ "$(grep -c '^throttled|' "$T/calls/calls.txt")" -eq 1 ] || fail "expected 1 summary"
grep -q '^pvpanic_watch_alerts_suppressed_total 997$' "$T/pvpanic.prom" || fail "suppressed counter"
ok "storm: 1000 in json and counter, 3 alerts + 1 summary of 997"

# A shell-hostile domain name, then a 1 MB line, then another panic.
evil='x"$(touch '"$T"'/pwned);reboot `touch '"$T"'/pwned2` \ '"'"'q'"'"' 数据库'
python3 "$GEN" --guests 2 --filler 1 --seed 6 --start 1795800000 > "$T/two.log"
split_records "$T/two.log" 2 "$T/two"
python3 - "$T/two.0" "$evil" <<'PY'
import sys
p, evil = sys.argv[1], sys.argv[2]
data = open(p, "rb").read().replace(b"guest-000", evil.encode())
open(p, "wb").write(data)
PY
cat "$T/two.0" >> "$L"
head -c 1048576 /dev/zero | tr '\0' 'A' | sed 's/^/2026-11-25 11:00:00.000+0000: 1: debug : x:1 : /' >> "$L"
echo >> "$L"
sed 's/guest-001/after-the-big-line/' "$T/two.1" >> "$L"
wait_lines "$T/alerts.json" 1002 30
wait_grep "$T/alerts.json" '"domain":"after-the-big-line"' 10
sleep 0.5
[ ! -e "$T/pwned" ] && [ ! -e "$T/pwned2" ] || fail "a domain name was executed"
found=0
for f in "$T"/calls/*.env; do
    if tr '\0' '\n' < "$f" | grep -qxF "PVPANIC_DOMAIN=$evil"; then found=1; fi
done
[ "$found" -eq 1 ] || fail "the exec program did not get the exact domain name"
ok "hostile domain name passed intact, nothing executed; 1 MB line lost nothing"

# SIGHUP: a new config (no exec sink) is picked up and the json reopened.
mv "$T/alerts.json" "$T/alerts.json.old"
printf '[sink prometheus]\npath = %s\n' "$T/pvpanic2.prom" > "$T/sinks.conf"
kill -HUP "$FPID"
wait_grep "$T/follow.err" "configuration reloaded" 10
python3 "$GEN" --guests 1 --filler 0 --seed 9 --start 1795900000 | sed 's/guest-000/after-hup/' >> "$L"
wait_grep "$T/alerts.json" '"domain":"after-hup"' 20
wait_grep "$T/pvpanic2.prom" 'pvpanic_guest_panics_total{domain="after-hup"} 1' 20
stop_follow "$FPID"
ok "SIGHUP reloads sinks and reopens the json output"
