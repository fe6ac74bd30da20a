#!/bin/bash
# Crash consistency: a writer appends a log with known panic events and
# rotates it, while pvpanic-watch follow is killed with SIGKILL at random
# moments and restarted (FOLLOW_KILLS times, default 200). At the end every
# event was alerted exactly once: the ids in the json sink equal the ids a
# one-shot audit finds in the same bytes, with no duplicate.
. "$(dirname "$0")/follow_lib.sh"
KILLS=${FOLLOW_KILLS:-200}
[ -n "$VG" ] && KILLS=${FOLLOW_KILLS_VALGRIND:-20}
watchdog 600

python3 "$GEN" --guests 120 --filler 40 --seed 21 > "$T/full.log" || fail "generator"
split_records "$T/full.log" 60 "$T/part"
mkdir "$T/logs"
L="$T/logs/libvirtd.log"
: > "$L"

# The daemon was running before the writer: it has a state (at offset 0).
# (Without one, a start begins at the end of the file; under valgrind the
# first runs could all be killed before saving anything.)
follow_bg "$T/alerts.json" "$T/follow.state" "$L"
stop_follow "$FPID"
[ -f "$T/follow.state" ] || fail "no state file after the first clean run"

# The writer: appends the parts in random chunks, renaming the log every 10
# parts the way logrotate's dateext does (libvirtd.log-N).
(
    for k in $(seq 0 59); do
        trickle "$T/part.$k" "$L"
        if [ $((k % 10)) -eq 9 ]; then
            mv "$L" "$L-$k"
            : > "$L"
        fi
        sleep 0.0$((RANDOM % 10))
    done
    touch "$T/writer.done"
) &
WPID=$!
PIDS+=("$WPID")

kills=0
while [ "$kills" -lt "$KILLS" ]; do
    follow_bg_nowait "$T/alerts.json" "$T/follow.state" "$L"
    sleep "0.0$((RANDOM % 10))$((RANDOM % 10))"
    kill -9 "$FPID" 2>/dev/null
    wait "$FPID" 2>/dev/null
    kills=$((kills + 1))
    if [ -f "$T/writer.done" ] && [ "$kills" -ge "$KILLS" ]; then break; fi
done
wait "$WPID"
# A last clean run drains whatever is left.
follow_bg "$T/alerts.json" "$T/follow.state" "$L"
wait_lines "$T/alerts.json" 120 120
sleep 1
stop_follow "$FPID"
ok "$kills kill -9 during writes and rotations"

cat $(ls -1 "$T"/logs/libvirtd.log-* | sort -V) "$L" > "$T/all.log"
cmp -s "$T/all.log" "$T/full.log" || fail "test bug: the rotated files do not add up to the input"
same_ids "$T/alerts.json" "$T/full.log"
[ "$(ids "$T/alerts.json" | uniq -d | wc -l)" -eq 0 ] || fail "duplicate alerts"
ok "120 events, each alerted exactly once"
