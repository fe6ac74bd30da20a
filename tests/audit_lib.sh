# Shared helpers of the audit_*.sh tests (sourced).
set -u
W="$abs_top_builddir/parser/pvpanic-watch"
PVPANIC_VALGRIND=${PVPANIC_VALGRIND:-}
DATA="$abs_top_srcdir/tests/data/logparse"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/pvpanic-audit.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
failures=0

# watch ARGS...: run pvpanic-watch (under valgrind for make check-valgrind);
# stdout in $TMP/out, stderr in $TMP/err, status in $rc
watch() {
    rc=0
    $PVPANIC_VALGRIND "$W" "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
}

fail() {
    echo "FAIL - $*"
    echo "  stdout: $(head -c 2000 "$TMP/out")"
    echo "  stderr: $(head -c 2000 "$TMP/err")"
    failures=$((failures + 1))
}

ok() { echo "ok - $*"; }

# expect_rc N DESCRIPTION
expect_rc() {
    if [ "$rc" -eq "$1" ]; then ok "$2 (exit $rc)"; else fail "$2: exit $rc, want $1"; fi
}

# expect_out PATTERN DESCRIPTION / expect_err PATTERN DESCRIPTION (grep -F)
expect_out() { if grep -qF -- "$1" "$TMP/out"; then ok "$2"; else fail "$2: stdout lacks '$1'"; fi; }
expect_err() { if grep -qF -- "$1" "$TMP/err"; then ok "$2"; else fail "$2: stderr lacks '$1'"; fi; }
expect_no_err() { if [ ! -s "$TMP/err" ]; then ok "$1"; else fail "$1: unexpected stderr"; fi; }

# the QMP times and domains of a --json run, one "qmp domain" per line
json_summary() {
    python3 -c '
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    e = json.loads(line)
    print(e["qmp_time"], e["domain"])
' "$TMP/out"
}

need_python() {
    if ! command -v python3 >/dev/null 2>&1; then
        [ "${CI:-}" = true ] && { echo "FAIL - python3 missing (CI)"; exit 1; }
        echo "SKIP - python3 is needed to check the JSON"
        exit 77
    fi
}

finish() {
    if [ "$failures" -ne 0 ]; then
        echo "$failures check(s) failed"
        exit 1
    fi
    exit 0
}
