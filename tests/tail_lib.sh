# Shared helpers for the tests/tail_*.sh process-level tests (sourced, not run).
# Every test gets a private temp dir, a hard watchdog and cleanup of the
# tailcat processes it started (by pid, never by name).

set -u

: "${abs_top_builddir:?run through make check (abs_top_builddir unset)}"
TAILCAT="$abs_top_builddir/tests/tailcat"
VG="${PVPANIC_VALGRIND:-}"
T=$(mktemp -d "${TMPDIR:-/tmp}/pvpanic-tail.XXXXXX")
PIDS=()

cleanup() {
    local p rc=$?
    for p in "${PIDS[@]}"; do
        kill -9 "$p" 2>/dev/null
    done
    [ -n "${WATCHDOG:-}" ] && kill "$WATCHDOG" 2>/dev/null
    wait 2>/dev/null
    vg_errors || rc=1
    if [ -n "${TAIL_TEST_KEEP:-}" ]; then
        echo "kept $T" >&2
    else
        rm -rf "$T"
    fi
    exit "$rc"
}

# Under valgrind a tailcat killed with -9 cannot report through its exit
# status: whatever memcheck found is in its stderr, and fails the test here.
vg_errors() {
    [ -n "$VG" ] || return 0
    if grep -qE '^==[0-9]+== (Invalid |Conditional jump|Use of uninitialised|Syscall param|Mismatched |Source and destination|Process terminating|Jump to the invalid|[0-9,]+ (\(.*\) )?bytes in [0-9,]+ blocks are definitely lost)' "$T/stderr" 2>/dev/null; then
        echo "FAIL: valgrind found errors in tailcat:" >&2
        grep -E -A12 '^==[0-9]+== (Invalid |Conditional jump|Use of uninitialised|Syscall param|Mismatched |Source and destination|Process terminating|Jump to the invalid|[0-9,]+ (\(.*\) )?bytes in [0-9,]+ blocks are definitely lost)' "$T/stderr" | head -n 60 >&2
        return 1
    fi
}
trap cleanup EXIT

# A test that hangs is killed (and fails) after $1 seconds. The timer's
# sleep is killed with it (an orphaned sleep would hold the test's output).
watchdog() {
    local self=$$
    (
        sleep "$1" </dev/null >/dev/null 2>&1 &
        sp=$!
        trap 'kill "$sp" 2>/dev/null; exit 0' TERM
        wait "$sp"
        echo "FAIL: watchdog: test took longer than $1 s" >&2
        kill -9 "$self"
    ) &
    WATCHDOG=$!
}

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# Start tailcat in the background, output appended to $1; pid in $TPID.
tailcat_bg() {
    local out=$1
    shift
    # shellcheck disable=SC2086
    $VG "$TAILCAT" "$@" >>"$out" 2>>"$T/stderr" &
    TPID=$!
    PIDS+=("$TPID")
}

# Run tailcat in the foreground with a hard timeout.
tailcat_fg() {
    # shellcheck disable=SC2086
    timeout 60 $VG "$TAILCAT" "$@"
}

# wait_for FILE EXTENDED-REGEX [SECONDS]: until a line of FILE matches.
wait_for() {
    local file=$1 re=$2 limit=${3:-10} i=0
    while ! grep -Eq -- "$re" "$file" 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -gt $((limit * 50)) ] && fail "'$re' did not appear in $file within ${limit}s"
        sleep 0.02
    done
}

# The text of the delivered lines (third tab-separated field), notices dropped.
lines_of() {
    grep -v '^#' "$1" | cut -f3-
}

# count_line FILE TEXT: how many delivered lines equal TEXT.
count_line() {
    lines_of "$1" | grep -Fxc -- "$2"
}

# stop_tailcat PID: SIGTERM, expect exit 0 (state flushed).
stop_tailcat() {
    kill -TERM "$1" || fail "tailcat $1 is gone"
    wait "$1"
    local rc=$?
    [ "$rc" -eq 0 ] || fail "tailcat exited $rc on SIGTERM"
}
