# Shared plumbing of the process-level shell tests (sourced by
# tests/follow_lib.sh, tests/tail_lib.sh and tests/drill_lib.sh):
#
#   testlib_in_mount_ns "$@"  re-run the test in a private mount namespace
#   testlib_kill_ours PID...  SIGKILL those PIDs that are still our children
#   testlib_init NAME   a private temp dir in $T (kept when ${KEEP_VAR} is set),
#                       $VG (= $PVPANIC_VALGRIND), the PIDS array, cleanup at exit
#   watchdog SECONDS    fail (kill the test) if it runs longer
#   VG_LOGS=(files)     stderr files of our backgrounded programs: a memcheck
#                       error found there at exit fails the test, because a
#                       program killed with -9 cannot report through its status
#   testlib_cleanup_hook  optional function the caller defines, run first
set -u

VG="${PVPANIC_VALGRIND:-}"
PIDS=()
VG_LOGS=()
T=

# testlib_in_mount_ns "$@": re-run the calling test in a private mount
# namespace (its mounts leak nowhere), before it makes its temp dir; skip
# (fail under CI) without root or unshare -m.
testlib_in_mount_ns() {
    [ -n "${PVPANIC_IN_MOUNT_NS:-}" ] && return 0
    if [ "$(id -u)" -ne 0 ] || ! unshare -m --propagation private true 2>/dev/null; then
        [ -n "${CI:-}" ] && { echo "FAIL: needs root and unshare -m under CI" >&2; exit 1; }
        echo "SKIP: needs root and a private mount namespace (unshare -m)"
        exit 77
    fi
    PVPANIC_IN_MOUNT_NS=1 exec unshare -m --propagation private bash "$0" "$@"
}

# testlib_init NAME KEEP_VARIABLE_NAME
testlib_init() {
    T=$(mktemp -d "${TMPDIR:-/tmp}/pvpanic-$1.XXXXXX") || exit 1
    TESTLIB_KEEP_VAR=$2
    trap testlib_cleanup EXIT
}

# The memcheck messages that mean an error or a definite leak.
TESTLIB_VG_RE='^==[0-9]+== (Invalid |Conditional jump|Use of uninitialised|Syscall param|Mismatched |Source and destination|Process terminating|Jump to the invalid|[0-9,]+ (\(.*\) )?bytes in [0-9,]+ blocks are definitely lost)'

# vg_errors: 0 if no file of VG_LOGS shows a memcheck error, else print them.
vg_errors() {
    local f bad=0
    [ -n "$VG" ] || return 0
    for f in "${VG_LOGS[@]}"; do
        if grep -qE "$TESTLIB_VG_RE" "$f" 2>/dev/null; then
            echo "FAIL: valgrind found errors (in $(basename "$f")):" >&2
            grep -E -A12 "$TESTLIB_VG_RE" "$f" | head -n 60 >&2
            bad=1
        fi
    done
    return "$bad"
}

# testlib_kill_ours PID...: SIGKILL each PID that is still a child of this
# shell. A PID that was already waited for may by now belong to any process
# on the machine (kill loops wrap pid_max, 32768 on Debian, within minutes),
# and the tests run as root next to each other under make -j.
testlib_kill_ours() {
    local p stat
    for p in "$@"; do
        stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        stat=${stat##*) }               # after "PID (comm) ": state ppid ...
        stat=${stat#* }
        [ "${stat%% *}" = "$$" ] && kill -9 "$p" 2>/dev/null
    done
    return 0
}

testlib_cleanup() {
    local rc=$?
    if declare -F testlib_cleanup_hook >/dev/null; then
        testlib_cleanup_hook
    fi
    testlib_kill_ours "${PIDS[@]}"
    [ -n "${WATCHDOG:-}" ] && kill "$WATCHDOG" 2>/dev/null
    wait 2>/dev/null
    vg_errors || rc=1
    if [ -n "$T" ]; then
        if [ -n "${!TESTLIB_KEEP_VAR:-}" ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
    fi
    exit "$rc"
}

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
