#!/bin/bash
# pkg_prometheus: the shipped alerting rules pass "promtool check rules" and
# their unit tests, and the metrics of a [sink prometheus] reach Prometheus:
# pvpanic-watch follow, fed a generated log, writes its textfile; Debian's
# prometheus-node-exporter (textfile collector, 127.0.0.1, a free port)
# serves it, and pvpanic_guest_panics_total{domain="..."} is read back from
# its /metrics, a domain name with a quote and a backslash included.
set -u
: "${abs_top_srcdir:?run through make check}" "${abs_top_builddir:?run through make check}"
skip() {
    [ "${CI:-}" = true ] && { echo "FAIL - $* (CI)"; exit 1; }
    echo "SKIP - $*"
    exit 77
}
for tool in promtool prometheus-node-exporter python3; do
    command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed (Debian packages prometheus, prometheus-node-exporter)"
done
. "$abs_top_srcdir/tests/testlib.sh"     # for testlib_kill_ours
WATCH="$abs_top_builddir/parser/pvpanic-watch"
VG=${PVPANIC_VALGRIND:-}
T=$(mktemp -d "${TMPDIR:-/tmp}/pvpanic-prom.XXXXXX")
PIDS=()
cleanup() {
    testlib_kill_ours "${PIDS[@]}"
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
die() { echo "FAIL - $*"; exit 1; }

rules="$abs_top_srcdir/share/prometheus/pvpanic.rules.yml"
promtool check rules "$rules" > "$T/check.out" 2>&1 || fail "promtool check rules: $(cat "$T/check.out")"
# promtool resolves rule_files relative to the test file: run it from a copy.
cp "$rules" "$abs_top_srcdir/share/prometheus/pvpanic.rules.test.yml" "$T/"
(cd "$T" && promtool test rules pvpanic.rules.test.yml) > "$T/test.out" 2>&1 ||
    fail "promtool test rules: $(cat "$T/test.out")"

# A log with three panicking guests, one with a hostile name.
evil='we"b\01'
python3 "$abs_top_srcdir/tests/gen-panics.py" --guests 3 --filler 2 --seed 11 |
    python3 -c 'import sys; sys.stdout.buffer.write(sys.stdin.buffer.read().replace(b"guest-002", sys.argv[1].encode()))' "$evil" \
    > "$T/libvirtd.log"
mkdir "$T/textfile"
printf '[sink prometheus]\npath = %s/textfile/pvpanic.prom\n' "$T" > "$T/watch.conf"
chmod 600 "$T/watch.conf"
# shellcheck disable=SC2086
$VG "$WATCH" follow --log stderr -c "$T/watch.conf" --no-state --from-start "$T/libvirtd.log" \
    2> "$T/follow.err" &
FPID=$!
PIDS+=("$FPID")
for _ in $(seq 200); do
    [ "$(grep -c '^pvpanic_guest_panics_total{' "$T/textfile/pvpanic.prom" 2>/dev/null)" = 3 ] && break
    sleep 0.05
done
kill -TERM "$FPID"
wait "$FPID" || fail "follow exited non-zero: $(tail -3 "$T/follow.err")"
[ -f "$T/textfile/pvpanic.prom" ] || die "no textfile written: $(tail -5 "$T/follow.err")"

# node_exporter on a free loopback port (retry if someone takes it first).
port=
for _ in 1 2 3; do
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    prometheus-node-exporter --web.listen-address="127.0.0.1:$port" --collector.disable-defaults \
        --collector.textfile --collector.textfile.directory="$T/textfile" > "$T/ne.log" 2>&1 &
    NPID=$!
    PIDS+=("$NPID")
    up=0
    for _ in $(seq 100); do
        kill -0 "$NPID" 2>/dev/null || break
        if python3 - "$port" > "$T/metrics" 2>/dev/null <<'PY'
import sys, urllib.request
print(urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=2).read().decode())
PY
        then up=1; break; fi
        sleep 0.1
    done
    [ "$up" = 1 ] && break
    kill -9 "$NPID" 2>/dev/null
done
[ "$up" = 1 ] || die "node_exporter did not serve /metrics: $(tail -5 "$T/ne.log")"
kill -TERM "$NPID"

for want in 'pvpanic_guest_panics_total{domain="guest-000"} 1' \
            'pvpanic_guest_panics_total{domain="guest-001"} 1' \
            'pvpanic_guest_panics_total{domain="we\"b\\01"} 1' \
            'node_textfile_scrape_error 0'; do
    grep -qxF -- "$want" "$T/metrics" || fail "/metrics lacks: $want"
done
grep -q '^node_textfile_mtime_seconds{file="[^"]*pvpanic\.prom"}' "$T/metrics" ||
    fail "/metrics has no node_textfile_mtime_seconds for pvpanic.prom"
# Every pvpanic metric the rules use is served.
for m in $(grep -o 'pvpanic_[a-z_]*' "$rules" | sort -u); do
    grep -q "^# TYPE $m " "$T/metrics" || fail "the rules use $m, which node_exporter does not serve"
done

if [ "$fails" -gt 0 ]; then
    grep pvpanic "$T/metrics" | head -20
    echo "FAIL - $fails Prometheus check(s) failed"
    exit 1
fi
echo "ok - promtool accepts the rules; node_exporter on 127.0.0.1:$port serves pvpanic_guest_panics_total for 3 domains"
