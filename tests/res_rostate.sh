#!/bin/bash
# Resource exhaustion: the state directory is read-only (a read-only bind
# mount in a private mount namespace: nothing leaks out). The daemon reads
# the state that is there, says once that it cannot write it, keeps
# following and alerting, and writes it again as soon as the directory is
# writable. Also: a state directory that cannot be created at all.
. "$(dirname "$0")/testlib.sh"
testlib_in_mount_ns "$@"
. "$(dirname "$0")/follow_lib.sh"
watchdog 180
TAILCAT="$abs_top_builddir/tests/tailcat"

S=$T/statedir
mkdir "$S" "$T/logs"
trap 'rc=$?; umount -l "$S" 2>/dev/null; umount -l "$T/ro" 2>/dev/null; (exit $rc); testlib_cleanup' EXIT
L=$T/logs/libvirtd.log
: > "$L"
python3 "$GEN" --guests 9 --filler 1 --seed 41 > "$T/all.log" || fail "generator"
split_records "$T/all.log" 3 "$T/part"

# A state from a normal run.
follow_bg "$T/alerts.json" "$S/state" "$L"
cat "$T/part.0" >> "$L"
wait_lines "$T/alerts.json" 3 30
stop_follow "$FPID"
cp "$S/state" "$T/state.before"

# Read-only from now on.
mount --bind "$S" "$S" && mount -o remount,bind,ro "$S" || fail "cannot make a read-only bind mount"
touch "$S/probe" 2>/dev/null && fail "test bug: the directory is still writable"
follow_bg "$T/alerts.json" "$S/state" "$L"
grep -q "state file '$S/state' not used\|is unusable" "$T/follow.err" && fail "the read-only state was not read"
cat "$T/part.1" >> "$L"
wait_lines "$T/alerts.json" 6 30
wait_grep "$T/follow.err" "cannot write state file '$S/state': Read-only file system" 20
sleep 2.5
n=$(grep -c "cannot write state file" "$T/follow.err")
[ "$n" -eq 1 ] || fail "the read-only state directory was reported $n times (want once)"
kill -0 "$FPID" 2>/dev/null || fail "the daemon died"
cmp -s "$S/state" "$T/state.before" || fail "test bug: the read-only state changed"
ok "read-only state directory: the state is read, the write error said once, alerts go on"

# Writable again: saved at the next chance, and a restart resumes from it.
mount -o remount,bind,rw "$S" || fail "cannot remount read-write"
cat "$T/part.2" >> "$L"
wait_lines "$T/alerts.json" 9 30
wait_grep "$T/follow.err" "state file '$S/state' written again" 20
stop_follow "$FPID"
cmp -s "$S/state" "$T/state.before" && fail "the state was not written again"
$VG "$TAILCAT" --parse-state "$S/state" > /dev/null || fail "the state does not parse"
follow_bg "$T/alerts.json" "$S/state" "$L"
sleep 1
stop_follow "$FPID"
same_ids "$T/alerts.json" "$T/all.log"
ok "writable again: state written, a restart repeats nothing"

# A state directory that cannot even be created (its parent is read-only).
mkdir "$T/ro"
mount --bind "$T/ro" "$T/ro" && mount -o remount,bind,ro "$T/ro" || fail "cannot make a read-only bind mount"
follow_bg "$T/alerts2.json" "$T/ro/sub/state" "$L"
wait_grep "$T/follow.err" "cannot create the directory of state file '$T/ro/sub/state'" 10
python3 "$GEN" --guests 1 --filler 0 --seed 42 --start 1796500000 >> "$L"
wait_lines "$T/alerts2.json" 1 30
stop_follow "$FPID"
ok "a state directory that cannot be created: said, and alerts still go out"
