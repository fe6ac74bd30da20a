#!/bin/bash
# bench-audit: `pvpanic-watch audit` against `grep -c GUEST_PANICKED` and the
# obvious admin script (a mawk one-liner mapping "Entering monitor" lines to
# names) on the same large real-shape debug log, in the same run, warm cache.
#
#   bench/bench-audit.sh [BUILD_DIR]        (default: ./build)
#
# Environment: BENCH_DIR (generated logs, default /tmp/pvpanic-bench),
# BENCH_SIZES_MB (default "100 1024"), BENCH_RUNS (default 5).
# Needs /usr/bin/time (Debian package "time"), mawk, python3.
#
# Every tool writes to a pipe, never to /dev/null: GNU grep stops at the
# first match when its output is /dev/null. Reported: median wall time,
# throughput, peak RSS (from /usr/bin/time, of the measured program only),
# and whether each tool found the known panics and names.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
W="$build/parser/pvpanic-watch"
BENCH_DIR=${BENCH_DIR:-/tmp/pvpanic-bench}
BENCH_SIZES_MB=${BENCH_SIZES_MB:-100 1024}
BENCH_RUNS=${BENCH_RUNS:-5}

for tool in /usr/bin/time mawk grep python3; do
    command -v "$tool" >/dev/null || { echo "bench-audit: $tool is missing" >&2; exit 2; }
done
[ -x "$W" ] || { echo "bench-audit: build pvpanic-watch first ($W)" >&2; exit 2; }
mkdir -p "$BENCH_DIR"

# The admin script: remember mon -> name from "Entering monitor (mon=M vm=V
# name=N)", print time and name for each GUEST_PANICKED event line.
MAWK_PROG='
/Entering monitor \(mon=/ {
    m = $0; sub(/.*\(mon=/, "", m); p = substr(m, 1, index(m, " ") - 1)
    n = $0; sub(/.* name=/, "", n); sub(/\)$/, "", n); name[p] = n; next
}
/QEMU_MONITOR_RECV_EVENT/ && /GUEST_PANICKED/ {
    m = $0; sub(/.*mon=/, "", m); p = substr(m, 1, index(m, " ") - 1)
    t = $0; sub(/.*"seconds": /, "", t); s = substr(t, 1, index(t, ",") - 1)
    sub(/.*"microseconds": /, "", t); u = substr(t, 1, index(t, "}") - 1)
    printf "%s.%06d %s\n", s, u, name[p]
}'

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# run NAME OUTFILE CMD...: time CMD (stdout piped to OUTFILE through cat)
run() {
    local name=$1 outfile=$2
    shift 2
    # audit exits 1 when it finds events; correctness is checked on the output
    { /usr/bin/time -f '%e %M' -o "$BENCH_DIR/time.$name" "$@" | cat >"$outfile"; } || true
    tail -n 1 "$BENCH_DIR/time.$name"
}

printf '%-8s %-34s %9s %9s %10s %7s  %s\n' SIZE TOOL "MEDIAN_S" "MB/S" "MAX_RSS_KB" "X_GREP" CORRECT
for mb in $BENCH_SIZES_MB; do
    log="$BENCH_DIR/log-${mb}mb.log"
    [ -f "$log" ] && [ -f "$log.expected" ] ||
        python3 "$top/bench/gen-biglog.py" --size-mb "$mb" --out "$log" >&2
    bytes=$(stat -c %s "$log")
    npanics=$(wc -l <"$log.expected")
    cat "$log" >/dev/null    # warm the page cache
    declare -A times=() rss=()
    for tool in grep audit mawk; do times[$tool]=""; rss[$tool]=0; done
    for ((i = 0; i < BENCH_RUNS; i++)); do
        # interleave the tools so each sees the same machine state
        read -r t m < <(run grep "$BENCH_DIR/out.grep" grep -c GUEST_PANICKED "$log")
        times[grep]+="$t "; ((m > rss[grep])) && rss[grep]=$m
        read -r t m < <(run audit "$BENCH_DIR/out.audit" "$W" audit --json "$log")
        times[audit]+="$t "; ((m > rss[audit])) && rss[audit]=$m
        read -r t m < <(run mawk "$BENCH_DIR/out.mawk" mawk "$MAWK_PROG" "$log")
        times[mawk]+="$t "; ((m > rss[mawk])) && rss[mawk]=$m
    done
    # correctness: the known QMP times and names
    python3 -c '
import json, re, sys
for line in sys.stdin:
    q = re.search(r"\"qmp_time\":([0-9.]+)", line).group(1)
    print(q, json.loads(line)["domain"])' <"$BENCH_DIR/out.audit" >"$BENCH_DIR/got.audit"
    ok_audit=no; cmp -s "$BENCH_DIR/got.audit" "$log.expected" && ok_audit=yes
    ok_mawk=no; cmp -s "$BENCH_DIR/out.mawk" "$log.expected" && ok_mawk=yes
    # grep counts lines, not events: 6 lines mention GUEST_PANICKED per panic in this log
    ok_grep="count $(cat "$BENCH_DIR/out.grep") lines"
    gmed=$(tr ' ' '\n' <<<"${times[grep]}" | grep . | median)
    for tool in grep audit mawk; do
        med=$(tr ' ' '\n' <<<"${times[$tool]}" | grep . | median)
        case $tool in
            grep) label="grep -c GUEST_PANICKED | cat"; ok=$ok_grep ;;
            audit) label="pvpanic-watch audit --json | cat"; ok="$ok_audit ($npanics panics, names)" ;;
            mawk) label="mawk one-liner | cat"; ok="$ok_mawk" ;;
        esac
        awk -v s="$mb" -v l="$label" -v m="$med" -v b="$bytes" -v r="${rss[$tool]}" -v g="$gmed" -v ok="$ok" \
            'BEGIN { printf "%-8s %-34s %9.3f %9.0f %10d %7.2f  %s\n", s "MB", l, m, b / 1048576 / m, r, m / g, ok }'
    done
done
echo "runs per tool: $BENCH_RUNS (median); host: $(nproc) CPUs, $(uname -r)"
