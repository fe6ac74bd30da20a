#!/bin/bash
# follow through log rotation the way logrotate and libvirtd do it: rename
# with late writes to the old file, a double rotation, copytruncate, delete
# and recreate. Every event is alerted exactly once and matches audit over
# the same bytes (rotated files read oldest first).
. "$(dirname "$0")/follow_lib.sh"
watchdog 180

python3 "$GEN" --guests 36 --seed 11 > "$T/full.log" || fail "generator"
split_records "$T/full.log" 6 "$T/part"
mkdir "$T/logs"
L="$T/logs/libvirtd.log"
: > "$L"
follow_bg "$T/alerts.json" "$T/follow.state" "$L"

# 1. rename rotation; the writer keeps its fd and writes part 1 to the old
#    file after the rename, then reopens.
exec 3>>"$L"
cat "$T/part.0" >&3
mv "$L" "$L.1"
cat "$T/part.1" >&3
exec 3>&-
cat "$T/part.2" >> "$L"
wait_lines "$T/alerts.json" 18 30
ok "rename rotation with late writes to the old file"

# 2. double rotation: .1 -> .2, current -> .1, new current
mv "$L.1" "$L.2"
mv "$L" "$L.1"
cat "$T/part.3" >> "$L"
wait_lines "$T/alerts.json" 24 30
ok "double rotation"

# 3. copytruncate: copy, truncate in place, keep appending
cp "$L" "$L.copy"
: > "$L"
cat "$T/part.4" >> "$L"
wait_lines "$T/alerts.json" 30 30
ok "copytruncate"

# 4. delete and recreate
rm "$L"
sleep 0.2
cat "$T/part.5" >> "$L"
wait_lines "$T/alerts.json" 36 30
sleep 0.5
stop_follow "$FPID"
same_ids "$T/alerts.json" "$T/full.log"
ok "delete + recreate; all 36 events exactly once, same ids as audit"

# fds and watches did not pile up: the daemon is gone, so check a fresh run
# over many rotations instead (tail-level leak tests cover 1000 rotations).
follow_bg "$T/alerts2.json" "$T/follow2.state" "$L"
for i in $(seq 1 200); do
    mv "$L" "$L.r"
    echo "2026-11-25 10:00:00.000+0000: 1: info : x:1 : rotation $i" >> "$L"
done
sleep 0.5
n_fd=$(ls "/proc/$FPID/fd" | wc -l)
# rotated files are kept open (at most 64) for late writes during rotate_wait
[ "$n_fd" -lt 90 ] || fail "follow holds $n_fd fds right after 200 rotations"
sleep 6
n_fd2=$(ls "/proc/$FPID/fd" | wc -l)
[ "$n_fd2" -lt 20 ] || fail "follow still holds $n_fd2 fds 6 s after 200 rotations"
stop_follow "$FPID"
ok "200 rotations: $n_fd fds open at once, $n_fd2 after rotate_wait"
