#!/bin/bash
# Crash consistency: pvpanic-watch follow is killed with SIGKILL at random
# moments and restarted while a writer appends a log with known panic
# events and rotates it:
#   1. by renaming it (logrotate's default, dateext names libvirtd.log-N),
#      FOLLOW_KILLS times (default 200);
#   2. by copytruncate (copy, then truncate in place), FOLLOW_CT_KILLS
#      times (default 100); the copies are followed too (libvirtd.log*),
#      so everything is read at least once and the ids must make it once;
#   3. inside a state save, on purpose: strace delays the daemon's rename()
#      of its state file, and the daemon is killed while the temp file is
#      there (5 times). The state must stay the last good one, the next
#      start must remove the temp file, and nothing is lost or repeated.
# After each phase every event was alerted exactly once: the ids in the
# json sink equal the ids a one-shot audit finds in the same bytes, with no
# duplicate.
. "$(dirname "$0")/follow_lib.sh"
KILLS=${FOLLOW_KILLS:-200}
CT_KILLS=${FOLLOW_CT_KILLS:-100}
if [ -n "$VG" ]; then
    KILLS=${FOLLOW_KILLS_VALGRIND:-20}
    CT_KILLS=10
fi
watchdog 900
TAILCAT="$abs_top_builddir/tests/tailcat"

python3 "$GEN" --guests 120 --filler 40 --seed 21 > "$T/full.log" || fail "generator"
split_records "$T/full.log" 60 "$T/part"

# missing_report DIR: which events never got an alert, by the file that holds
# them, and what the daemon said about rotations (for diagnosis).
missing_report() {
    local d=$1 f
    ids "$d/alerts.json" | sort -u > "$T/got.ids"
    for f in $(ls -1 "$d"/logs/libvirtd.log-* | sort -V) "$d/logs/libvirtd.log"; do
        echo "${f##*/}: $(stat -c '%s bytes, inode %i, born %w' "$f")" >&2
        audit_ids "$f" | sort -u | comm -23 - "$T/got.ids" | sed 's/^/    missing /' >&2
    done
    echo "--- what the daemon said about files:" >&2
    grep -vE 'following with|ready:|configuration' "$T/follow.err" | tail -60 >&2
}

# kill_phase DIR MODE KILLS: the writer rotates by MODE (rename or
# copytruncate) while the daemon is killed KILLS times; then a clean run.
kill_phase() {
    local d=$1 mode=$2 nkills=$3 kills=0 wpid i
    local L=$d/logs/libvirtd.log watch
    mkdir -p "$d/logs"
    : > "$L"
    watch=$L
    [ "$mode" = copytruncate ] && watch="$d/logs/libvirtd.log*"
    # The daemon was running before the writer: it has a state (at offset 0).
    # (Without one, a start begins at the end of the file; under valgrind the
    # first runs could all be killed before saving anything.)
    follow_bg "$d/alerts.json" "$d/state" "$watch"
    stop_follow "$FPID"
    [ -f "$d/state" ] || fail "$mode: no state file after the first clean run"

    # The writer: appends the parts in random chunks and rotates every 10 parts.
    (
        for k in $(seq 0 59); do
            trickle "$T/part.$k" "$L"
            if [ $((k % 10)) -eq 9 ]; then
                if [ "$mode" = rename ]; then
                    mv "$L" "$L-$k"
                    : > "$L"
                else
                    # the copy appears under its final name at once
                    cp "$L" "$d/copy.tmp" && mv "$d/copy.tmp" "$L-$k"
                    truncate -s 0 "$L"
                fi
            fi
            sleep 0.0$((RANDOM % 10))
        done
        touch "$d/writer.done"
    ) &
    wpid=$!
    PIDS+=("$wpid")

    while [ "$kills" -lt "$nkills" ] || [ ! -f "$d/writer.done" ]; do
        follow_bg_nowait "$d/alerts.json" "$d/state" "$watch"
        sleep "0.0$((RANDOM % 10))$((RANDOM % 10))"
        kill -9 "$FPID" 2>/dev/null
        wait "$FPID" 2>/dev/null
        kills=$((kills + 1))
    done
    wait "$wpid"
    cat $(ls -1 "$d"/logs/libvirtd.log-* | sort -V) "$L" > "$d/all.log"
    cmp -s "$d/all.log" "$T/full.log" || fail "test bug: the rotated files do not add up to the input"
    # A last clean run drains whatever is left.
    follow_bg "$d/alerts.json" "$d/state" "$watch"
    i=0
    while [ "$(wc -l < "$d/alerts.json")" -lt 120 ] && [ "$i" -lt 2400 ]; do
        i=$((i + 1)); sleep 0.05
    done
    if [ "$(wc -l < "$d/alerts.json")" -lt 120 ]; then
        missing_report "$d"
        fail "$mode: $(wc -l < "$d/alerts.json") alerts, wanted 120 within 120 s"
    fi
    sleep 1
    stop_follow "$FPID"
    ok "$mode: $kills kill -9 during writes and rotations"
    same_ids "$d/alerts.json" "$T/full.log"
    ok "$mode: 120 events, each alerted exactly once"
}

kill_phase "$T/rename" rename "$KILLS"
kill_phase "$T/copytruncate" copytruncate "$CT_KILLS"

# ---- 3. kills inside a state save -------------------------------------------------
if ! command -v strace >/dev/null; then
    [ -n "${CI:-}" ] && fail "strace is needed under CI"
    echo "skip: no strace, no deterministic kill inside a state save"
    exit 0
fi
d=$T/save
L=$d/logs/libvirtd.log
mkdir -p "$d/logs"
: > "$L"
python3 "$GEN" --guests 5 --filler 2 --seed 61 --start 1796600000 > "$d/five.log"
split_records "$d/five.log" 5 "$d/p"
follow_bg "$d/alerts.json" "$d/state" "$L"
stop_follow "$FPID"
for r in 0 1 2 3 4; do
    follow_bg "$d/alerts.json" "$d/state" "$L"
    # every rename of this process now waits 2 s in the kernel's doorway
    strace -qq -p "$FPID" -o /dev/null -e trace=rename,renameat,renameat2 \
        -e inject=rename,renameat,renameat2:delay_enter=2000000 2>/dev/null &
    SPID=$!
    PIDS+=("$SPID")
    i=0; until [ "$(sed -n 's/^TracerPid:[[:space:]]*//p' "/proc/$FPID/status")" != 0 ]; do
        i=$((i+1)); [ $i -gt 200 ] && fail "strace did not attach"; sleep 0.05
    done
    cat "$d/p.$r" >> "$L"
    i=0; until compgen -G "$d/state.tmp.*" > /dev/null; do
        i=$((i+1)); [ $i -gt 600 ] && fail "round $r: no state save started"; sleep 0.02
    done
    # the save is written and waits for its rename: the state is still the last good one
    cp "$d/state" "$d/state.before"
    compgen -G "$d/state.tmp.*" > /dev/null || fail "round $r: the save finished too soon (test bug)"
    kill -9 "$FPID"
    wait "$FPID" 2>/dev/null
    wait "$SPID" 2>/dev/null
    compgen -G "$d/state.tmp.*" > /dev/null || fail "round $r: test bug: the kill missed the save"
    cmp -s "$d/state" "$d/state.before" || fail "round $r: the state changed although its save was killed"
    $VG "$TAILCAT" --parse-state "$d/state" > /dev/null || fail "round $r: the state does not parse"
done
follow_bg "$d/alerts.json" "$d/state" "$L"
sleep 1
stop_follow "$FPID"
! compgen -G "$d/state.tmp.*" > /dev/null || fail "the temp files of killed saves were not removed"
same_ids "$d/alerts.json" "$d/five.log"
ok "5 kills inside a state save: the last good state stays, temp files cleaned, each event once"
