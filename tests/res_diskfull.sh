#!/bin/bash
# Resource exhaustion: the disk is full. A tiny tmpfs, mounted by the test
# in a private mount namespace (unshare -m: nothing leaks out), is filled
# to the last byte while pvpanic-watch follow keeps its state or its json
# alerts there.
#   A. state on the full disk: one clear error, the daemon keeps running
#      and alerting, the state file on disk stays the last good one (never
#      torn, no temp files left), and it is written again once there is room.
#   B. json alerts on the full disk: one clear error, no torn line ever in
#      the file, the alerts are kept and written when there is room again;
#      the saved position never passes an alert that is not on disk, so a
#      kill -9 during the outage loses nothing: every event once in the end.
. "$(dirname "$0")/testlib.sh"
testlib_in_mount_ns "$@"
. "$(dirname "$0")/follow_lib.sh"
watchdog 240
TAILCAT="$abs_top_builddir/tests/tailcat"

F=$T/full
mkdir "$F" "$T/logs"
mount -t tmpfs -o size=256k,mode=700 pvpanic-test-full "$F" || fail "cannot mount a tmpfs"
trap 'rc=$?; umount -l "$F" 2>/dev/null; (exit $rc); testlib_cleanup' EXIT
L=$T/logs/libvirtd.log
: > "$L"
python3 "$GEN" --guests 12 --filler 1 --seed 31 > "$T/all.log" || fail "generator"
split_records "$T/all.log" 4 "$T/part"

fill() { dd if=/dev/zero of="$F/filler" bs=4k 2>/dev/null; : ; }
state_ok() {  # FILE: parses as a state file
    $VG "$TAILCAT" --parse-state "$1" > /dev/null 2>&1 || fail "state '$1' does not parse: $2"
}
no_temps() {
    [ -z "$(find "$F" -name '*.tmp.*' -print -quit)" ] || fail "temp files left: $(ls "$F")"
}

# ---- A: the state on the full disk ------------------------------------------
follow_bg "$T/alerts-a.json" "$F/state" "$L"
cat "$T/part.0" >> "$L"
wait_lines "$T/alerts-a.json" 3 30
sleep 1.5                       # a periodic save after the alerts
state_ok "$F/state" "before the disk filled"
fill
cp "$F/state" "$T/state.good"   # no save can succeed from here on
cat "$T/part.1" >> "$L"
wait_lines "$T/alerts-a.json" 6 30
wait_grep "$T/follow.err" "cannot write state file '$F/state'" 20
sleep 2.5                       # several save attempts
n=$(grep -c "cannot write state file" "$T/follow.err")
[ "$n" -eq 1 ] || fail "the state write error was reported $n times (want once)"
kill -0 "$FPID" 2>/dev/null || fail "the daemon died on a full disk"
cmp -s "$F/state" "$T/state.good" || fail "the state file changed while the disk was full"
state_ok "$F/state" "while the disk was full"
no_temps
ok "A: state on a full disk: said once, alerts go on, the last good state intact, no temp file"

rm -f "$F/filler"
cat "$T/part.2" >> "$L"
wait_lines "$T/alerts-a.json" 9 30
wait_grep "$T/follow.err" "state file '$F/state' written again" 20
stop_follow "$FPID"
state_ok "$F/state" "after the disk had room again"
cmp -s "$F/state" "$T/state.good" && fail "the state was not saved again"
# Restart from it: the rest, nothing twice.
follow_bg "$T/alerts-a.json" "$F/state" "$L"
cat "$T/part.3" >> "$L"
wait_lines "$T/alerts-a.json" 12 30
sleep 0.5
stop_follow "$FPID"
same_ids "$T/alerts-a.json" "$T/all.log"
ok "A: written again when there is room; a restart from it alerts each event once"

# ---- B: the json alerts on the full disk --------------------------------------
# 16 events a part: more than the slack of the file's last page (4 KiB),
# so a write does hit the full disk.
python3 "$GEN" --guests 64 --filler 0 --seed 32 --start 1796000000 > "$T/b.log" || fail "generator"
split_records "$T/b.log" 4 "$T/b"
rm -f "$F"/* 2>/dev/null
: > "$L"
follow_bg "$F/alerts-b.json" "$T/state-b" "$L"
cat "$T/b.0" >> "$L"
wait_lines "$F/alerts-b.json" 16 30
fill
cat "$T/b.1" >> "$L"
wait_grep "$T/follow.err" "cannot write alerts to '$F/alerts-b.json'" 30
sleep 2.5                       # several retries
n=$(grep -c "cannot write alerts to" "$T/follow.err")
[ "$n" -eq 1 ] || fail "the json write error was reported $n times (want once)"
python3 -c '
import json, sys
data = open(sys.argv[1], "rb").read()
assert data.endswith(b"\n"), "torn last line"
for l in data.split(b"\n")[:-1]:
    json.loads(l)
' "$F/alerts-b.json" || fail "a torn or invalid line in the json output on a full disk"
kill -0 "$FPID" 2>/dev/null || fail "the daemon died on a full disk"
ok "B: json on a full disk: said once, no torn line, the daemon runs"

# Killed during the outage: what was not written must come back after a restart.
kill -9 "$FPID"
wait "$FPID" 2>/dev/null
rm -f "$F/filler"
follow_bg "$F/alerts-b.json" "$T/state-b" "$L"
cat "$T/b.2" >> "$L"
wait_lines "$F/alerts-b.json" 48 30
# And a retry within one run: full again, then room again.
fill
cat "$T/b.3" >> "$L"
i=0; until [ "$(grep -c "cannot write alerts to" "$T/follow.err")" -ge 2 ]; do
    i=$((i+1)); [ $i -gt 600 ] && fail "the second outage was not reported"; sleep 0.05
done
sleep 1.5
rm -f "$F/filler"
wait_lines "$F/alerts-b.json" 64 30
wait_grep "$T/follow.err" "alerts written to '$F/alerts-b.json' again" 20
sleep 0.5
stop_follow "$FPID"
same_ids "$F/alerts-b.json" "$T/b.log"
ok "B: kept alerts written when there is room; kill -9 during the outage lost nothing; each once"
