#!/bin/bash
# bench-audit: `pvpanic-watch audit --json` against `grep -c GUEST_PANICKED`
# (the floor), the mawk admin script (alone and behind grep -E) and
# fail2ban-regex on the same large real-shape debug log, in the same run,
# warm cache, outputs checked against the generator's known panics and names.
# It is the audit workload of bench/bench.py (make bench), run alone; the
# table is printed, not saved.
#
#   bench/bench-audit.sh [BUILD_DIR]        (default: ./build)
#
# Environment: BENCH_DIR (generated logs go to a new directory in it, removed
# at the end; default /tmp/pvpanic-bench), BENCH_SIZES_MB (default
# "100 1024"), BENCH_RUNS (default 5). Peers that are missing are skipped
# with a note (make bench installs them).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
sizes=${BENCH_SIZES_MB:-100 1024}
exec python3 "$top/bench/bench.py" --build "$build" --only audit \
    --data "${BENCH_DIR:-/tmp/pvpanic-bench}" --sizes-mb "${sizes// /,}" \
    --audit-repeats "${BENCH_RUNS:-5}" --command "bench/bench-audit.sh"
