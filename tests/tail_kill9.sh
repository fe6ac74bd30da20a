#!/bin/bash
# tail_kill9.sh: kill -9 at random moments while a writer appends numbered
# lines and rotates the log (rename) every K lines; the follower is
# restarted each time and must end up with every line.
#
# Guarantee checked (commit-after-output): no line is ever lost; a line is
# repeated only if its earlier copy came after the last "#saved" mark of a
# run that was killed (written out, offset not yet saved). Lines of one run
# are never repeated within that run. With --rollback-output (the output
# size saved in the state blob, cut back on restart) the output has every
# line exactly once and in order.
. "$abs_top_srcdir/tests/tail_lib.sh"
watchdog 150

# Under valgrind a start takes about a second: kill later, fewer times.
PAUSE=0.0
if [ -n "$VG" ]; then
    KILLS=12 LINES=1200 PAUSE=1.
else
    KILLS=${TAIL_KILL9_KILLS:-120} LINES=${TAIL_KILL9_LINES:-6000}
fi
K=97                # lines per rotation (odd on purpose)

# writer: appends "line NNNNNN", renames the log to log.<n> every K lines.
writer() {
    local log=$1 i
    for ((i = 1; i <= LINES; i++)); do
        printf 'line %06d\n' "$i" >>"$log"
        if ((i % K == 0)); then
            mv "$log" "$log.$i"
        fi
        if ((i % 20 == 0)); then
            sleep 0.01
        fi
    done
}

# kill_loop LOG STATE OUT EXTRA-ARGS...: restart/kill until the writer is done
# and at least $KILLS kills happened, then one clean run to the end.
kill_loop() {
    local log=$1 state=$2 out=$3 wpid kills=0
    shift 3
    : >"$log"
    # A first clean run saves a state before anything happens.
    tailcat_fg --state "$state" --from-start --exit-idle 100 "$@" "$log" >>"$out" 2>>"$T/stderr"
    writer "$log" &
    wpid=$!
    PIDS+=("$wpid")
    while kill -0 "$wpid" 2>/dev/null || [ "$kills" -lt "$KILLS" ]; do
        tailcat_bg "$out" --state "$state" --from-start --rotate-wait 1000 "$@" "$log"
        sleep "${PAUSE}$((RANDOM % 60 + 10))"
        kill -9 "$TPID" 2>/dev/null
        wait "$TPID" 2>/dev/null
        kills=$((kills + 1))
        tailcat_fg --parse-state "$state" >/dev/null || fail "state unparseable after kill $kills"
    done
    wait "$wpid"
    tailcat_fg --state "$state" --from-start --exit-idle 1500 "$@" "$log" >>"$out" 2>>"$T/stderr" ||
        fail "final run failed"
    echo "$kills"
}

# --- mode 1: output to stdout, "#saved" after each state save.
KILLS_DONE=$(kill_loop "$T/a.log" "$T/a.state" "$T/a.out" --mark-saves)
awk -v n="$LINES" '
    function err(msg) { if (++bad <= 20) print msg }
    /^#start/ { run++; next }
    /^#saved/ { saved[run] = NR; next }
    /^#/ { next }
    {
        split($0, f, "\t")
        if (f[3] !~ /^line [0-9][0-9][0-9][0-9][0-9][0-9]$/) { err("corrupt output line " NR ": " $0); next }
        num = substr(f[3], 6) + 0
        if ((num, run) in seen_in_run) err("line " num " twice in run " run)
        seen_in_run[num, run] = 1
        cnt[num]++
        if (cnt[num] > 1) {
            # The previous copy must be uncommitted: after the last #saved of its run.
            if (last_nr[num] < saved[last_run[num]])
                err("line " num " repeated although committed (run " last_run[num] \
                    ", output line " last_nr[num] ")")
            dups++
        }
        last_nr[num] = NR; last_run[num] = run
    }
    END {
        for (i = 1; i <= n; i++) if (!(i in cnt)) { err("line " i " lost"); lost++ }
        printf "tail_kill9: %d runs, %d lines, %d repeated (uncommitted at a kill), %d lost\n",
               run, n, dups + 0, lost + 0
        exit bad > 0
    }' "$T/a.out" || fail "guarantee broken (see above; output in $T/a.out)"

# --- mode 2: --rollback-output: exactly once, in order.
KILLS_DONE=$(kill_loop "$T/b.log" "$T/b.state" "$T/b.out" --rollback-output "$T/b.lines")
lines_of "$T/b.lines" >"$T/b.got"
seq -f 'line %06g' 1 "$LINES" >"$T/b.want"
cmp -s "$T/b.got" "$T/b.want" || {
    diff "$T/b.want" "$T/b.got" | head -20
    fail "rollback mode: output is not every line exactly once, in order"
}
echo "tail_kill9: rollback mode: $LINES lines exactly once in order after $KILLS_DONE kills"
grep -v -e 'was rotated' -e 'rotated away' -e 'no state file' -e 'rotated file' "$T/stderr" | head -5
# Killed saves leave temp files; the next start removes them.
left=$(find "$T" -name '*.state.tmp.*' | wc -l)
[ "$left" -le 1 ] || fail "$left stale state temp files left behind"
