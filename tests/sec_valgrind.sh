#!/bin/bash
# The valgrind plumbing of make check-valgrind must be able to fail: run
# tests/vg_canary (one memcheck error on purpose) the way the tests run our
# programs. In the foreground the error must turn into valgrind's exit
# status 99 (--error-exitcode); as a daemon killed with -9 (no exit status)
# the shared test helpers must find the report in its stderr and fail.
# Without $PVPANIC_VALGRIND (plain make check) there is nothing to check.
. "$(dirname "$0")/follow_lib.sh"
watchdog 120
CANARY="$abs_top_builddir/tests/vg_canary"
if [ -z "$VG" ]; then
    "$CANARY" > /dev/null || fail "the canary itself failed"
    echo "not under valgrind: nothing to prove (make check-valgrind runs this)"
    exit 0
fi

$VG "$CANARY" > /dev/null 2> "$T/fg.err"
rc=$?
[ "$rc" -eq 99 ] || fail "a memcheck error gave exit status $rc, not 99 (--error-exitcode): $(head -5 "$T/fg.err")"
ok "foreground: a memcheck error fails with status 99"

# The daemon case, as the follow tests run it (stderr into follow.err).
$VG "$CANARY" --hang > "$T/canary.out" 2>> "$T/follow.err" &
CPID=$!
PIDS+=("$CPID")
wait_grep "$T/canary.out" "42" 60
kill -9 "$CPID"
wait "$CPID" 2>/dev/null
vg_errors 2> "$T/vg.out" && fail "vg_errors did not see the report of a killed daemon"
grep -q "valgrind found errors" "$T/vg.out" || fail "vg_errors said nothing"
# It must not fail the real test run: clear the evidence of the canary.
: > "$T/follow.err"
ok "killed daemon: its memcheck report is found and fails the test"
