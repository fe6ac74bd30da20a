#!/bin/bash
# Resource exhaustion: memory stays bounded under a stream of 10 MB lines
# (a QMP reply or garbage without a newline for 10 MB, a dozen times).
# follow reads them as they are written, audit reads them from a file and
# from a pipe; the panics before, between and after them are all found,
# and the peak RSS (VmHWM / ru_maxrss) of each stays under 64 MB.
# Under valgrind the stream is shorter and RSS is not judged (valgrind's
# own memory would be measured).
. "$(dirname "$0")/follow_lib.sh"
watchdog 300
LIMIT_KB=$((64 * 1024))
LINES=12
[ -n "$VG" ] && LINES=2

mkdir "$T/logs"
L=$T/logs/libvirtd.log
: > "$L"
python3 "$GEN" --guests $((LINES + 1)) --filler 1 --seed 51 > "$T/panics.log" || fail "generator"
split_records "$T/panics.log" $((LINES + 1)) "$T/p"

# big LOG: a panic, then a 10 MB line, LINES times, then the last panic.
python3 - "$T" "$LINES" <<'PY' || fail "could not write the stream"
import sys
T, n = sys.argv[1], int(sys.argv[2])
chunk = b"x" * (1 << 20)
with open(T + "/big.log", "wb") as out:
    for k in range(n):
        out.write(open("%s/p.%d" % (T, k), "rb").read())
        out.write(b"2026-11-25 11:00:00.000+0000: 1: debug : qemuMonitorJSONIOProcessLine:189 : Line [")
        for _ in range(10):
            out.write(chunk)
        out.write(b"]\n")
    out.write(open("%s/p.%d" % (T, n), "rb").read())
PY
size_mb=$(( $(stat -c %s "$T/big.log") >> 20 ))

# ---- follow ---------------------------------------------------------------------
follow_bg "$T/alerts.json" "$T/state" "$L"
python3 - "$T/big.log" "$L" <<'PY'
import sys
src, dst = sys.argv[1], sys.argv[2]
with open(src, "rb") as i, open(dst, "ab", buffering=0) as o:
    while True:
        b = i.read(1 << 20)
        if not b:
            break
        o.write(b)
PY
wait_lines "$T/alerts.json" $((LINES + 1)) 120
hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$FPID/status")
stop_follow "$FPID"
same_ids "$T/alerts.json" "$T/panics.log"
if [ -z "$VG" ]; then
    [ -n "$hwm" ] && [ "$hwm" -lt "$LIMIT_KB" ] || fail "follow peak RSS ${hwm:-?} kB over ${size_mb} MB of 10 MB lines (limit $LIMIT_KB kB)"
    ok "follow: $((LINES + 1)) panics around $LINES lines of 10 MB found; peak RSS $((hwm / 1024)) MB < 64 MB"
else
    ok "follow: $((LINES + 1)) panics around $LINES lines of 10 MB found (RSS not judged under valgrind)"
fi

# ---- audit, from the file and from a pipe ------------------------------------------
for how in file pipe; do
    python3 - "$how" "$T/big.log" "$T/audit-$how.json" "$WATCH" $VG <<'PY' > "$T/rss-$how" || fail "audit ($how) failed"
import resource, subprocess, sys
how, big, out, cmd = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
cmd = cmd[1:] + [cmd[0]] if len(cmd) > 1 else cmd     # $VG first, then the program
with open(out, "wb") as o:
    if how == "file":
        rc = subprocess.call(cmd + ["audit", "--json", big], stdout=o)
    else:
        with open(big, "rb") as i:
            rc = subprocess.call(cmd + ["audit", "--json", "-"], stdin=i, stdout=o)
if rc not in (0, 1):
    sys.exit(1)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
    ids "$T/audit-$how.json" > "$T/audit-$how.ids"
    ids "$T/alerts.json" > "$T/follow.ids"
    cmp -s "$T/audit-$how.ids" "$T/follow.ids" || fail "audit ($how) found other events than follow"
    rss=$(cat "$T/rss-$how")
    if [ -z "$VG" ]; then
        [ "$rss" -lt "$LIMIT_KB" ] || fail "audit ($how) peak RSS $rss kB (limit $LIMIT_KB kB)"
        ok "audit from a $how: every panic found; peak RSS $((rss / 1024)) MB < 64 MB"
    else
        ok "audit from a $how: every panic found"
    fi
done
