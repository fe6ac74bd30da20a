#!/bin/bash
# follow state across restarts: a guest whose monitor opened before a
# restart (SIGTERM, then kill -9) is still named when it panics after it; a
# partial last line is completed once; a corrupt state file is reported and
# the daemon starts at the end of the file (old events not alerted again).
. "$(dirname "$0")/follow_lib.sh"
watchdog 120

mkdir "$T/logs"
L="$T/logs/libvirtd.log"
python3 "$GEN" --guests 2 --filler 5 --seed 13 > "$T/g.log"
# Cut each guest before its panic: the start (Connect/NEW) goes in first.
python3 - "$T/g.log" "$T/start.log" "$T/panic.log" <<'PY'
import sys
lines = open(sys.argv[1], "rb").read().splitlines(keepends=True)
i = next(k for k, l in enumerate(lines) if b"Line [" in l)
open(sys.argv[2], "wb").write(b"".join(lines[:i]))
open(sys.argv[3], "wb").write(b"".join(lines[i:]))
PY
cat "$T/start.log" > "$L"
follow_bg "$T/alerts.json" "$T/follow.state" --from-start "$L"
sleep 1.5
stop_follow "$FPID"

# The panic line arrives in two writes, with a restart (by kill -9) between.
head -c 100 "$T/panic.log" >> "$L"
follow_bg "$T/alerts.json" "$T/follow.state" "$L"
sleep 1.5
kill -9 "$FPID"; wait "$FPID" 2>/dev/null
tail -c +101 "$T/panic.log" >> "$L"
follow_bg "$T/alerts.json" "$T/follow.state" "$L"
wait_lines "$T/alerts.json" 2 20
sleep 0.5
grep -q '"domain":"guest-000"' "$T/alerts.json" || fail "guest-000 not named after restarts: $(cat "$T/alerts.json")"
[ "$(wc -l < "$T/alerts.json")" -eq 2 ] || fail "expected exactly 2 alerts"
stop_follow "$FPID"
same_ids "$T/alerts.json" "$T/g.log"
ok "names survive SIGTERM and kill -9 restarts; a split line is alerted once"

# Corrupt state: reported, start at the end, nothing old re-alerted.
printf 'garbage\0\377\n' > "$T/follow.state"
chmod 600 "$T/follow.state"
: > "$T/follow.err"
mv "$T/alerts.json" "$T/alerts.before"
follow_bg "$T/alerts.json" "$T/follow.state" "$L"
sleep 1
grep -q "state file .* not used" "$T/follow.err" || fail "corrupt state not reported: $(cat "$T/follow.err")"
[ ! -s "$T/alerts.json" ] || fail "old events alerted again after a corrupt state"
python3 "$GEN" --guests 1 --filler 0 --seed 14 --start 1795700000 | sed 's/guest-000/fresh/' >> "$L"
wait_grep "$T/alerts.json" '"domain":"fresh"' 20
stop_follow "$FPID"
ok "corrupt state reported; started at the end; new event alerted"

# A world-writable config is refused by root.
if [ "$(id -u)" -eq 0 ]; then
    chmod 666 "$T/watch.conf"
    $VG "$WATCH" follow -n -c "$T/watch.conf" > "$T/ww.out" 2>&1
    [ $? -eq 2 ] || fail "world-writable config accepted"
    chmod 600 "$T/watch.conf"
    ok "world-writable config refused"
fi
