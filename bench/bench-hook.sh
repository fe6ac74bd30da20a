#!/bin/bash
# bench-hook.sh: wall time of one pvpanic-hook call (patch, and hook mode:
# prepare begin with and without a device, started begin, migrate begin)
# against `cat` of the same domain XML (the process floor), xmlstarlet ed and
# virt-xml adding the same <panic> element, in the same run (DESIGN target:
# hook mode within 2x of cat). It is the hook workload of bench/bench.py
# (make bench), run alone; the table is printed, not saved.
#
#   bench/bench-hook.sh [BUILD_DIR] [ITERATIONS]     (defaults: build, 2000)
#
# Every case runs ITERATIONS times, round-robin with the others so that
# drift hits all alike (virt-xml, ~0.2 s a call, every 10th round); each
# call is timed on its own and the table shows the median / min / max per
# call and the ratio of the median to cat's (median [min-max] over 5
# blocks of the run). Input: share/samples/domain-nopanic.xml (a real
# virsh dumpxml of a q35 guest, ~4 KB) and the same with a device.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
exec python3 "$top/bench/bench.py" --build "$build" --only hook \
    --data "${TMPDIR:-/tmp}" --hook-rounds "${2:-2000}" --command "bench/bench-hook.sh"
