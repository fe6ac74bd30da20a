# Shared helpers for the tests/tail_*.sh process-level tests (sourced, not run).
# Every test gets a private temp dir, a hard watchdog and cleanup of the
# tailcat processes it started (by pid, never by name).

set -u

: "${abs_top_builddir:?run through make check (abs_top_builddir unset)}"
TAILCAT="$abs_top_builddir/tests/tailcat"
. "$abs_top_srcdir/tests/testlib.sh"
testlib_init tail TAIL_TEST_KEEP
VG_LOGS=("$T/stderr")

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
