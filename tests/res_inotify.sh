#!/bin/bash
# Resource exhaustion: the inotify watch limit is reached. The daemon runs
# in a user namespace of its own whose max_inotify_watches is 3 (a
# per-namespace limit since Linux 5.11: nothing machine-wide changes), and
# follows 6 logs in 6 directories (12 watches wanted). It must fall back to
# polling, warn once (the limit is a host setting; each other file or
# directory polled is only noted, once, at info level, never again at every
# poll), and alert on every log, watched or polled.
. "$(dirname "$0")/follow_lib.sh"
watchdog 180

if ! unshare -U -r sh -c 'echo 3 > /proc/sys/user/max_inotify_watches' 2>/dev/null; then
    [ -n "${CI:-}" ] && fail "cannot lower max_inotify_watches in a user namespace under CI"
    echo "SKIP: no user namespace with its own inotify limit (Linux >= 5.11, userns enabled)"
    exit 77
fi

files=()
for k in 1 2 3 4 5 6; do
    mkdir -p "$T/logs/host$k"
    : > "$T/logs/host$k/libvirtd.log"
    files+=("$T/logs/host$k/libvirtd.log")
done

before=$(grep -c ' ready: ' "$T/follow.err" 2>/dev/null)
unshare -U -r bash -c 'echo 3 > /proc/sys/user/max_inotify_watches || exit 99; exec "$@"' _ \
    $VG "$WATCH" follow --log stderr -v -c "$T/watch.conf" --state "$T/state" \
    --json "$T/alerts.json" "${files[@]}" >> "$T/follow.out" 2>> "$T/follow.err" &
FPID=$!
PIDS+=("$FPID")
wait_ready $((${before:-0} + 1))
n=$(grep -c "inotify watch limit reached" "$T/follow.err")
[ "$n" -eq 1 ] || fail "the watch limit was warned about $n times (want once)"
grep -q "inotify is not available" "$T/follow.err" && fail "inotify itself failed (test bug)"
polled=$(grep -c "(inotify watch limit): polling it" "$T/follow.err")
[ "$polled" -ge 1 ] || fail "no other file or directory noted as polled (test bug?)"
ok "watch limit reached: warned once, $((polled + 1)) files/directories polled"

# A panic in every log, one log after the other.
for k in 1 2 3 4 5 6; do
    python3 "$GEN" --guests 1 --filler 1 --seed $((20 + k)) --start $((1795600000 + k * 1000)) \
        >> "$T/logs/host$k/libvirtd.log"
done
wait_lines "$T/alerts.json" 6 60
# Several poll intervals more: the warnings must not repeat.
n1=$(grep -c 'inotify watch limit' "$T/follow.err")
sleep 2
n2=$(grep -c 'inotify watch limit' "$T/follow.err")
[ "$n1" -eq "$n2" ] || fail "the limit is reported again at every poll ($n1 -> $n2)"
dups=$(grep 'inotify watch limit' "$T/follow.err" | sort | uniq -d | wc -l)
[ "$dups" -eq 0 ] || fail "the same file or directory was reported twice"
stop_follow "$FPID"
cat "${files[@]}" > "$T/all.log"
ids "$T/alerts.json" > "$T/got.ids"
for k in 1 2 3 4 5 6; do audit_ids "$T/logs/host$k/libvirtd.log"; done | sort > "$T/want.ids"
cmp -s "$T/got.ids" "$T/want.ids" || fail "follow's alerts differ from audit's: $(diff "$T/want.ids" "$T/got.ids" | head -5)"
ok "every log alerted exactly once, watched or polled; nothing said twice"
