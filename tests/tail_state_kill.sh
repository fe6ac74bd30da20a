#!/bin/bash
# tail_state_kill.sh ((b) 26): kill -9 in the middle of state writes. The
# state is saved after every batch with a 1 MiB blob (slow writes, so kills
# land inside them) while a writer keeps the log busy. After every kill the
# state file must parse, and the next start must clean up the temp file an
# interrupted save left behind.
. "$abs_top_srcdir/tests/tail_lib.sh"
watchdog 120

ROUNDS=40 PAUSE=0.0
# Under valgrind a start takes about a second: kill later, fewer times.
[ -n "$VG" ] && ROUNDS=8 PAUSE=1.
L=$T/log
S=$T/state
: >"$L"
tailcat_fg --state "$S" --exit-idle 50 "$L" >/dev/null 2>>"$T/stderr" || fail "first run"

(
    i=0
    while :; do
        i=$((i + 1))
        printf 'busy line %d\n' "$i" >>"$L"
        ((i % 50 == 0)) && sleep 0.005
    done
) &
WRITER=$!
PIDS+=("$WRITER")

torn=0
for ((r = 1; r <= ROUNDS; r++)); do
    tailcat_bg /dev/null --state "$S" --save-interval 0 --blob-size 1048576 "$L"
    sleep "${PAUSE}$((RANDOM % 80 + 10))"
    kill -9 "$TPID"
    wait "$TPID" 2>/dev/null
    if compgen -G "$S.tmp.*" >/dev/null; then
        torn=$((torn + 1))
    fi
    out=$(tailcat_fg --parse-state "$S") || fail "round $r: state unparseable: $out"
    case $out in
    "ok files=1 watch=1 blob=1048576"* | "ok files=1 watch=1 blob=0"*) ;;
    *) fail "round $r: unexpected state: $out" ;;
    esac
done
kill "$WRITER"
wait "$WRITER" 2>/dev/null
# The next start removes the leftovers of interrupted saves.
tailcat_fg --state "$S" --exit-idle 50 "$L" >/dev/null 2>>"$T/stderr" || fail "last run"
left=$(compgen -G "$S.tmp.*" | wc -l)
[ "$left" -eq 0 ] || fail "$left temp files left after a clean start"
echo "tail_state_kill: $ROUNDS kills, $torn during a state write, state always parseable"
# A kill must have hit a write at least once, or this test proved nothing.
[ "$torn" -gt 0 ] || [ -n "$VG" ] || fail "no kill landed inside a state write"
