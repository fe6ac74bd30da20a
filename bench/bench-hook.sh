#!/bin/bash
# bench-hook.sh: wall time of one pvpanic-hook call in hook mode against
# "cat" of the same domain XML, in the same run (DESIGN target: within 2x
# of cat; under 2 ms for a typical domain).
#
#   bench/bench-hook.sh [BUILD_DIR] [ITERATIONS]     (defaults: build, 2000)
#
# Every case runs ITERATIONS times, round-robin with the others so that
# drift hits all alike; each call is timed on its own (bash $EPOCHREALTIME,
# no fork for the clock) and we print min / median / p90 / max per case
# and the median's ratio to cat's. Input: share/samples/domain-nopanic.xml
# (a real virsh dumpxml of a q35 guest, ~4 KB) and the same with a device.
# With hyperfine installed (Debian: hyperfine) it is run as a second
# opinion for the main case.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
iters=${2:-2000}
bin="$build/hooks/pvpanic-hook"
[ -x "$bin" ] || { echo "no $bin: build first (./quickstart.sh build)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ln -s "$bin" "$tmp/qemu"
cp "$top/share/samples/domain-nopanic.xml" "$tmp/nopanic.xml"
"$bin" patch "$tmp/nopanic.xml" > "$tmp/panic.xml"
printf 'on_missing = warn\nlog = none\n' > "$tmp/hook.conf"
chmod 644 "$tmp/hook.conf"
export PVPANIC_HOOK_CONF="$tmp/hook.conf"

names=(
    "cat"
    "hook prepare begin (has device)"
    "hook prepare begin (missing, warn)"
    "hook started begin (drain only)"
    "hook migrate begin (filter)"
)
run_case() {
    case $1 in
    0) cat < "$tmp/panic.xml" > /dev/null ;;
    1) "$tmp/qemu" web-01 prepare begin - < "$tmp/panic.xml" > /dev/null ;;
    2) "$tmp/qemu" web-01 prepare begin - < "$tmp/nopanic.xml" > /dev/null ;;
    3) "$tmp/qemu" web-01 started begin - < "$tmp/panic.xml" > /dev/null ;;
    4) "$tmp/qemu" web-01 migrate begin - < "$tmp/panic.xml" > /dev/null ;;
    esac
}

echo "pvpanic-hook bench: $iters calls per case, $(nproc) CPU(s), $(uname -r)"
echo "input: $(wc -c < "$tmp/panic.xml") bytes of domain XML"
# warm the page cache and the dynamic loader's files
for c in 0 1 2 3 4; do for _ in 1 2 3 4 5 6 7 8 9 10; do run_case "$c"; done; done

for c in 0 1 2 3 4; do : > "$tmp/t$c"; done
for ((i = 0; i < iters; i++)); do
    for c in 0 1 2 3 4; do
        s=$EPOCHREALTIME
        run_case "$c"
        e=$EPOCHREALTIME
        echo $(( (${e/./} - ${s/./}) )) >> "$tmp/t$c"
    done
done

stats() { # file -> "min median p90 max" in microseconds
    sort -n "$1" | awk '{ v[NR] = $1 } END {
        printf "%d %d %d %d\n", v[1], v[int((NR + 1) / 2)], v[int(NR * 0.9)], v[NR] }'
}
read -r _ cat_med _ _ < <(stats "$tmp/t0")
printf '\n%-36s %8s %8s %8s %8s %8s\n' "case (microseconds per call)" min median p90 max "x cat"
for c in 0 1 2 3 4; do
    read -r mn med p90 mx < <(stats "$tmp/t$c")
    printf '%-36s %8d %8d %8d %8d %8.2f\n' "${names[$c]}" "$mn" "$med" "$p90" "$mx" \
        "$(awk -v a="$med" -v b="$cat_med" 'BEGIN { print a / b }')"
done

if command -v hyperfine > /dev/null; then
    echo
    # (Debian 12's hyperfine has no --input: let its shell redirect; it
    # subtracts the shell's own start-up time)
    hyperfine --warmup 50 --runs "$iters" \
        "cat < $tmp/panic.xml" "$tmp/qemu web-01 prepare begin - < $tmp/panic.xml"
fi
