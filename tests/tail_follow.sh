#!/bin/bash
# tail_follow.sh: the engine as a real process (tests/tailcat) against files
# changed by other processes: rotation with a writer that keeps its fd,
# SIGTERM flush, restart resume, a partial line across a restart, rotation
# and copytruncate while stopped, a 1 MB line, a corrupt state file, and a
# glob directory where files appear later (tailers.md (b) 1, 11, 19, 22-25, 30).
. "$abs_top_srcdir/tests/tail_lib.sh"
watchdog 120

L=$T/log
S=$T/state
O=$T/out
: >"$L"
mkdir "$T/qemu"
ARGS=(--state "$S" --rotate-wait 2000 --save-interval 100 "$L" --glob "$T/qemu/*.log")

# --- (b) 1: rename rotation by another process; the writer keeps its fd.
tailcat_bg "$O" "${ARGS[@]}"
P=$TPID
wait_for "$O" '^#open 1 start 0 '
exec 3>>"$L"
echo A >&3
wait_for "$O" $'\tA$'
mv "$L" "$L.1"
echo C >"$L"
echo B >&3
wait_for "$O" $'\tB$'
wait_for "$O" $'\tC$'
sleep 0.3
echo B-late >&3
wait_for "$O" $'\tB-late$'
exec 3>&-
# --- (b) 11: a glob file that appears later is read from its start.
printf 'dom1 line1\ndom1 line2\n' >"$T/qemu/dom1.log"
wait_for "$O" $'\tdom1 line2$'
grep -q '^#open [0-9]* new 0 .*/qemu/dom1.log$' "$O" || fail "dom1.log not opened as new from 0"
# A partial line is held at SIGTERM (and committed at its start).
printf 'par' >>"$L"
sleep 0.2
stop_tailcat "$P"
for x in A B C B-late "dom1 line1" "dom1 line2"; do
    [ "$(count_line "$O" "$x")" -eq 1 ] || fail "'$x' delivered $(count_line "$O" "$x") times"
done
[ "$(count_line "$O" par)" -eq 0 ] || fail "partial line delivered before it was complete"
tailcat_fg --parse-state "$S" | grep -q '^ok ' || fail "state not parseable after SIGTERM"

# --- (b) 22/23: restart resumes; the partial line is completed exactly once.
printf 'tial\nD\n' >>"$L"
echo "dom1 line3" >>"$T/qemu/dom1.log"
: >"$O"
tailcat_fg "${ARGS[@]}" --exit-idle 500 >"$O" 2>>"$T/stderr" || fail "restart failed"
[ "$(lines_of "$O" | tr '\n' ' ')" = "partial D dom1 line3 " ] &&
    grep -q '^#open 1 resume 2 ' "$O" || {
    cat "$O"
    fail "restart did not resume exactly after what was done"
}

# --- (b) 24: rotated while stopped (writes before the rotation are not lost).
echo E >>"$L"
mv "$L" "$L.2"
echo F >"$L"
: >"$O"
tailcat_fg "${ARGS[@]}" --exit-idle 500 >"$O" 2>>"$T/stderr" || fail "restart failed"
[ "$(lines_of "$O" | tr '\n' ' ')" = "E F " ] || {
    cat "$O"
    fail "rotation while stopped: expected E then F"
}

# --- (b) 19: copytruncate while stopped: only the new content.
cp "$L" "$L.3"
: >"$L"
echo "G, longer than what was there before" >>"$L"
: >"$O"
tailcat_fg "${ARGS[@]}" --exit-idle 500 >"$O" 2>>"$T/stderr" || fail "restart failed"
[ "$(lines_of "$O" | tr '\n' ' ')" = "G, longer than what was there before " ] &&
    grep -q '^#open [0-9]* truncated 0 ' "$O" || {
    cat "$O"
    fail "copytruncate while stopped"
}

# --- (b) 30: a 1 MB line between two short ones.
: >"$O"
tailcat_bg "$O" "${ARGS[@]}"
P=$TPID
wait_for "$O" '^#open'
{
    echo before
    head -c 1048576 /dev/zero | tr '\0' x
    echo
    echo after
} >>"$L"
wait_for "$O" $'\tafter$'
stop_tailcat "$P"
[ "$(lines_of "$O" | awk '{ printf "%d ", length($0) }')" = "6 1048576 5 " ] || fail "1 MB line"

# --- (b) 25: corrupt state: reported, start at the end, keep following.
echo "not a state file" >"$S"
echo "old history" >>"$L"
: >"$O"
: >"$T/stderr"
tailcat_bg "$O" "${ARGS[@]}"
P=$TPID
wait_for "$O" '^#open'
echo H >>"$L"
wait_for "$O" $'\tH$'
stop_tailcat "$P"
grep -q "state file '$S' is unusable" "$T/stderr" || fail "corrupt state not reported"
[ "$(grep -c unusable "$T/stderr")" -eq 1 ] || fail "corrupt state reported more than once"
[ "$(count_line "$O" "old history")" -eq 0 ] || fail "corrupt state: old lines replayed"
tailcat_fg --parse-state "$S" | grep -q '^ok ' || fail "state not rewritten"
echo "tail_follow: ok"
