#!/bin/bash
# bench_smoke: the benchmark harness (bench/bench.py, bench-follow.py,
# gen-biglog.py) cannot rot unnoticed, without being a benchmark itself
# (that is `make bench`: slow, noisy, not in make check).
#  1. The report of canned results (tests/data/bench/canned.json: every kind
#     of row, a skipped peer, a FAIL, a missed target, an error) is the
#     golden one; REGENERATE_OUTPUT=1 rewrites it.
#  2. Every workload at toy size (4 and 8 MB logs, a few hook calls, 1 s of
#     follow at 5 MB/s) on the real binaries: the harness must exit 0 (every
#     output of ours checked: panic count and names, the <panic> element,
#     every alert exactly once), write both files, print the rows, remove
#     its data. Figures are not checked. Peers are not installed here: a
#     missing one must show as a skipped row.
# Under make check-valgrind only part 1 runs: part 2 times the binaries and
# paces a writer against them, which valgrind's slowdown would make fail
# for reasons of its own; the binaries get valgrind in their own tests
# (audit_*.sh, follow_*.sh, hook_*.sh).
set -u

: "${abs_top_srcdir:?run through make check (abs_top_srcdir unset)}"
: "${abs_top_builddir:?run through make check (abs_top_builddir unset)}"
BENCH="$abs_top_srcdir/bench/bench.py"
DATA="$abs_top_srcdir/tests/data/bench"
T=$(mktemp -d "${TMPDIR:-/tmp}/pvpanic-bench-smoke.XXXXXX")
trap 'rm -rf "$T"' EXIT
failures=0

ok() { echo "ok - $*"; }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

command -v python3 >/dev/null || { [ -n "${CI:-}" ] && { echo "FAIL: python3 missing" >&2; exit 1; }; exit 77; }

# 1. canned results -> golden report
if python3 "$BENCH" --render "$DATA/canned.json" >"$T/canned.md" 2>"$T/render.err"; then
    ok "--render of canned results"
else
    fail "--render failed: $(cat "$T/render.err")"
fi
if [ -n "${REGENERATE_OUTPUT:-}" ]; then
    cp "$T/canned.md" "$DATA/canned.md"
    ok "regenerated $DATA/canned.md"
elif diff -u "$DATA/canned.md" "$T/canned.md" >"$T/diff"; then
    ok "canned report matches tests/data/bench/canned.md"
else
    cat "$T/diff" >&2
    fail "canned report differs from the golden file"
fi

if [ -n "${PVPANIC_VALGRIND:-}" ]; then
    echo "# part 2 (timed toy run) is not run under valgrind, see the header"
    [ "$failures" -eq 0 ] || exit 1
    exit 0
fi

# 2. a toy run of every workload
python3 "$BENCH" --build "$abs_top_builddir" --data "$T/data" --results "$T/results" \
    --sizes-mb 4,9 --audit-repeats 1 --f2b-repeats 1 --hook-rounds 8 --hook-blocks 2 \
    --virtxml-every 8 --follow-rates 5 --follow-seconds 1 --follow-repeats 1 \
    >"$T/out" 2>"$T/err"
rc=$?
if [ "$rc" -eq 0 ]; then ok "toy run exits 0"; else fail "toy run exit $rc: $(tail -n 20 "$T/err")"; fi
for f in latest-custom.md latest-custom.json; do
    if [ -s "$T/results/$f" ]; then ok "wrote $f"; else fail "no $f"; fi
done
if [ ! -e "$T/data" ]; then ok "generated data removed"; else fail "left $(ls "$T/data")"; fi
# the saved figures render to the saved report (the --render path sees what make bench wrote)
if python3 "$BENCH" --render "$T/results/latest-custom.json" | cmp -s - "$T/results/latest-custom.md"; then
    ok "latest-custom.json renders to latest-custom.md"
else
    fail "latest-custom.json does not render to latest-custom.md"
fi
# every row of ours is there and its output check passed
expect_row() { # description, extended regex of a whole table row
    if grep -Eq "^\| $2 \|$" "$T/results/latest-custom.md"; then ok "$1"; else fail "$1: no row /$2/"; fi
}
cell='[^|]*'
expect_row "audit 4 MB: checked against the known panics" \
    "audit 4 MB \| pvpanic-watch audit --json \| $cell \| $cell \| $cell \| $cell \| $cell \| ok: 2/2 panics, names match"
expect_row "audit 8 MB: checked, RSS compared with 4 MB" \
    "audit 8 MB \| pvpanic-watch audit --json \| $cell \| [0-9.]+ \[[0-9.]+-[0-9.]+\] \| $cell \| $cell \| [0-9.]+ MB \([0-9.]+x 4 MB\) \| ok: 4/4 panics, names match"
expect_row "the grep floor row" \
    "audit 8 MB \| grep -c GUEST_PANICKED \(floor\) = baseline \| $cell \| 1.00 \(baseline\) \| $cell \| $cell \| $cell \| counts 24 lines for 4 panics \(no names\)"
for admin in mawk 'grep -E \\\| mawk'; do
    if command -v mawk >/dev/null; then
        expect_row "admin script ($admin) is correct on the same file" \
            "audit 8 MB \| $admin script \(admin\) \| $cell \| $cell \| $cell \| $cell \| $cell \| ok: 4/4 panics, names match"
    else
        expect_row "admin script ($admin) skipped" \
            "audit 8 MB \| $admin script \(admin\) \| $cell \| - \| - \| - \| - \| skipped: $cell"
    fi
done
if command -v fail2ban-regex >/dev/null; then
    expect_row "fail2ban-regex counts the panics" \
        "audit 4 MB \| fail2ban-regex $cell \| $cell \| $cell \| $cell \| $cell \| $cell \| ok: 2/2 panics $cell"
else
    expect_row "fail2ban-regex skipped with a note" \
        "audit 4 MB \| fail2ban-regex $cell \| $cell \| - \| - \| - \| - \| skipped: fail2ban-regex missing $cell"
fi
expect_row "hook floor" "hook, wall time per call \| cat < dom.xml \(floor\) = baseline \| $cell \| 1.00 \(baseline\) \| $cell \| $cell \| - \| ok: copies the input"
expect_row "pvpanic-hook patch adds the device, keeps every other line" \
    "hook, wall time per call \| pvpanic-hook patch dom.xml \| $cell \| $cell \| $cell \| $cell \| - \| ok: adds <panic model=\"isa\">; every other line kept"
for mode in 'prepare begin, no device \(warn\)' 'prepare begin, has device' 'started begin \(drain only\)' 'migrate begin \(filter\)'; do
    expect_row "hook mode: ${mode//\\/}" \
        "hook, wall time per call \| hook: $mode \| $cell \| [0-9.]+ \[$cell\] \| $cell \| $cell \| - \| ok: exit 0, stdout 0 bytes"
done
for peer in xmlstarlet virt-xml; do
    if command -v $peer >/dev/null; then
        expect_row "$peer adds the same element" \
            "hook, wall time per call \| $peer $cell \| $cell \| $cell \| $cell \| $cell \| - \| ok: adds <panic model=\"isa\">; $cell"
    else
        expect_row "$peer skipped with a note" "hook, wall time per call \| $peer $cell \| $cell \| - \| - \| - \| - \| skipped: $cell"
    fi
done
expect_row "follow: every panic alerted once" \
    "follow 5 MB/s \| pvpanic-watch follow vs tail -F \\\| grep \| alert latency p50 \| $cell \| [0-9.]+ ms \[$cell\] \| $cell \| - \| ok: [0-9]+ panics per run, each alerted once"
expect_row "follow: CPU with CPU-s/GB" \
    "follow 5 MB/s \| pvpanic-watch follow vs tail -F \\\| grep \| CPU, % of one core \| $cell \| [0-9.]+% \[$cell\] \| $cell \| [0-9.]+ MB \| [0-9.]+ CPU-s/GB $cell"
if grep -q 'FAIL' "$T/results/latest-custom.md"; then fail "a check failed: $(grep FAIL "$T/results/latest-custom.md")"; else ok "no FAIL in the report"; fi
# within 2x of grep, RSS flat, two hook modes, p99 at 5 MB/s; and faster than
# each admin script when mawk is there (the CPU target is at 10 MB/s only)
want=5
command -v mawk >/dev/null && want=7
n=$(grep -c '^- \(MET   \|MISSED\) ' "$T/results/latest-custom.md")
if [ "$n" -eq "$want" ]; then ok "$want targets assessed"; else fail "$n targets assessed, expected $want"; fi
if grep -q "^Machine: [0-9]* CPUs (.*), [0-9.]* GiB RAM, Linux " "$T/results/latest-custom.md"; then
    ok "stamped with the machine"
else
    fail "no machine stamp"
fi

[ "$failures" -eq 0 ] || { echo "$failures failure(s); bench stderr:" >&2; tail -n 30 "$T/err" >&2; exit 1; }
