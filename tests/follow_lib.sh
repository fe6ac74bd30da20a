# Shared helpers for tests/follow_*.sh (sourced): a private temp dir, a
# watchdog, pvpanic-watch follow in the background (killed by pid at exit),
# and id extraction so follow's output can be compared with audit's.
set -u

: "${abs_top_srcdir:?run through make check (abs_top_srcdir unset)}"
: "${abs_top_builddir:?run through make check (abs_top_builddir unset)}"
WATCH="$abs_top_builddir/parser/pvpanic-watch"
GEN="$abs_top_srcdir/tests/gen-panics.py"
. "$abs_top_srcdir/tests/testlib.sh"
testlib_init follow FOLLOW_TEST_KEEP
VG_LOGS=("$T/follow.err")

command -v python3 >/dev/null || { [ -n "${CI:-}" ] && { echo "FAIL: python3 missing" >&2; exit 1; }; exit 77; }

fail() {
    echo "FAIL: $*" >&2
    [ -f "$T/follow.err" ] && { echo "--- follow stderr (last 30 lines):" >&2; tail -n 30 "$T/follow.err" >&2; }
    exit 1
}

ok() { echo "ok - $*"; }

# An empty, safe config (root refuses group/world-writable configs).
: > "$T/watch.conf"
chmod 600 "$T/watch.conf"

# follow_bg_nowait JSON STATE [ARGS/FILES...]: start the daemon; pid in $FPID.
follow_bg_nowait() {
    local json=$1 state=$2
    shift 2
    # shellcheck disable=SC2086
    $VG "$WATCH" follow --log stderr -v -c "$T/watch.conf" --state "$state" --json "$json" "$@" \
        >>"$T/follow.out" 2>>"$T/follow.err" &
    FPID=$!
    PIDS+=("$FPID")
}

# wait_ready [N]: until "ready:" was logged N times in total (default: once
# more than before the last follow_bg). Under valgrind start-up takes seconds,
# and a file written before the daemon opened it would start "at its end".
wait_ready() {
    local want=$1 i=0 n
    while n=$(grep -c ' ready: ' "$T/follow.err" 2>/dev/null); [ "${n:-0}" -lt "$want" ]; do
        i=$((i + 1))
        [ "$i" -gt 1200 ] && fail "follow did not log 'ready:' within 60 s"
        kill -0 "$FPID" 2>/dev/null || fail "follow exited during start-up"
        sleep 0.05
    done
}

# follow_bg JSON STATE [ARGS/FILES...]: start the daemon and wait until it is ready.
follow_bg() {
    local before
    before=$(grep -c ' ready: ' "$T/follow.err" 2>/dev/null)
    follow_bg_nowait "$@"
    wait_ready $((${before:-0} + 1))
}

# stop_follow PID: SIGTERM must give exit status 0.
stop_follow() {
    kill -TERM "$1" 2>/dev/null || fail "follow $1 already gone"
    wait "$1"
    local rc=$?
    [ "$rc" -eq 0 ] || fail "follow exited $rc after SIGTERM"
}

# wait_lines FILE N [SECONDS]: until FILE has at least N lines.
wait_lines() {
    local file=$1 n=$2 limit=${3:-20} i=0
    while [ "$(wc -l < "$file" 2>/dev/null || echo 0)" -lt "$n" ]; do
        i=$((i + 1))
        [ "$i" -gt $((limit * 20)) ] && fail "$file has $(wc -l < "$file" 2>/dev/null || echo 0) lines, wanted $n within ${limit}s"
        sleep 0.05
    done
}

# wait_grep FILE FIXED-STRING [SECONDS]
wait_grep() {
    local file=$1 s=$2 limit=${3:-20} i=0
    while ! grep -qF -- "$s" "$file" 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -gt $((limit * 20)) ] && fail "'$s' did not appear in $file within ${limit}s"
        sleep 0.05
    done
}

# ids JSONFILE: the event ids, sorted (duplicates kept: callers check them).
ids() {
    grep -o '"id":"[0-9a-f]*"' "$1" | cut -d'"' -f4 | sort
}

# audit_ids FILE...: what a one-shot audit of the same bytes reports.
audit_ids() {
    $VG "$WATCH" audit --json "$@" > "$T/audit.json" 2>"$T/audit.err"
    local rc=$?
    [ "$rc" -le 1 ] || { cat "$T/audit.err" >&2; fail "audit exited $rc"; }
    ids "$T/audit.json"
}

# same_ids JSON FILE...: follow's ids == audit's ids over FILE..., no duplicates.
same_ids() {
    local json=$1
    shift
    ids "$json" > "$T/follow.ids"
    audit_ids "$@" > "$T/audit.ids"
    [ -s "$T/audit.ids" ] || fail "audit found no event in $*"
    if ! cmp -s "$T/follow.ids" "$T/audit.ids"; then
        echo "follow: $(wc -l < "$T/follow.ids") ids, $(sort -u "$T/follow.ids" | wc -l) distinct; audit: $(wc -l < "$T/audit.ids")" >&2
        diff "$T/audit.ids" "$T/follow.ids" | head -20 >&2
        fail "follow and audit disagree"
    fi
}

# split_records FILE N PREFIX: cut FILE into N pieces at record boundaries
# (a piece never ends inside a multi-line record): PREFIX.0 ... PREFIX.N-1
split_records() {
    python3 - "$1" "$2" "$3" <<'PY'
import re, sys
data = open(sys.argv[1], "rb").read()
n = int(sys.argv[2])
starts = [m.start() for m in re.finditer(rb"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+0000: ", data)]
cuts = [0] + [starts[len(starts) * k // n] for k in range(1, n)] + [len(data)]
for k in range(n):
    open("%s.%d" % (sys.argv[3], k), "wb").write(data[cuts[k]:cuts[k + 1]])
PY
}

# trickle FILE DEST: append FILE to DEST in small random chunks.
trickle() {
    python3 - "$1" "$2" <<'PY'
import random, sys, time
data = open(sys.argv[1], "rb").read()
r = random.Random(7)
with open(sys.argv[2], "ab", buffering=0) as out:
    i = 0
    while i < len(data):
        n = r.choice([1, 7, 64, 500, 4096, 30000])
        out.write(data[i:i + n])
        i += n
        if r.random() < 0.05:
            time.sleep(0.005)
PY
}
