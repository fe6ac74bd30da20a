#!/bin/bash
# Resource exhaustion: a low open file limit (ulimit -n 64, soft and hard)
# with 120 followed files. The daemon must say so once, clearly, keep
# following what it could open (the daemon log first), and keep enough
# descriptors for its state file, its alert outputs and exec children:
# alerts arrive, the state is saved, SIGTERM exits 0.
. "$(dirname "$0")/follow_lib.sh"
watchdog 180

mkdir -p "$T/logs/qemu" "$T/calls"
L=$T/logs/libvirtd.log
: > "$L"
for i in $(seq 1 120); do : > "$T/logs/qemu/vm$i.log"; done
cat > "$T/record.sh" <<'SH'
#!/bin/sh
echo "$PVPANIC_DOMAIN" > "$1/$$.call"
SH
chmod 755 "$T/record.sh"
printf '[sink exec]\ncommand = %s %s\n' "$T/record.sh" "$T/calls" > "$T/fd.conf"
chmod 600 "$T/fd.conf"

before=$(grep -c ' ready: ' "$T/follow.err" 2>/dev/null)
(
    ulimit -n 64 || exit 99
    exec $VG "$WATCH" follow --log stderr -v -c "$T/fd.conf" --state "$T/state" \
        --json "$T/alerts.json" "$L" "$T/logs/qemu/*.log"
) >> "$T/follow.out" 2>> "$T/follow.err" &
FPID=$!
PIDS+=("$FPID")
wait_ready $((${before:-0} + 1))
n=$(grep -c 'the open file limit is reached' "$T/follow.err")
[ "$n" -eq 1 ] || fail "the fd limit was reported $n times (want once)"
# (valgrind keeps a few descriptors of the limit for itself: 52 under it)
lim=$(sed -n 's/.*ulimit -n \([0-9]*\)).*/\1/p' "$T/follow.err" | tail -n 1)
[ -n "$lim" ] && [ "$lim" -le 64 ] && [ "$lim" -ge 40 ] || fail "the message does not name the limit"
open=$(sed -n 's/.* ready: \([0-9]*\) file(s) open.*/\1/p' "$T/follow.err" | tail -n 1)
[ "$open" -ge 1 ] && [ "$open" -lt 120 ] || fail "$open files open: the limit did not bite (test bug)"
grep -q "following '$L'" "$T/follow.err" || fail "the daemon log is not among the files followed"
ok "fd limit: said once ($open of 121 files open), the daemon log followed"

python3 "$GEN" --guests 5 --filler 2 --seed 8 > "$T/five.log"
cat "$T/five.log" >> "$L"
wait_lines "$T/alerts.json" 5 60
i=0; until [ "$(ls "$T/calls" | wc -l)" -ge 5 ]; do
    i=$((i+1)); [ $i -gt 400 ] && fail "exec sink: $(ls "$T/calls" | wc -l) of 5 runs"
    sleep 0.05
done
sleep 1.5
stop_follow "$FPID"
grep -q "cannot write state file" "$T/follow.err" && fail "no descriptor left for the state file"
[ -s "$T/state" ] || fail "no state saved"
same_ids "$T/alerts.json" "$T/five.log"
ok "under the limit: 5 alerts (json and exec), state saved, clean exit"

# The next start resumes from that state: nothing alerted twice.
follow_bg "$T/alerts.json" "$T/state" "$L"
python3 "$GEN" --guests 1 --filler 0 --seed 9 --start 1796000000 >> "$L"
wait_lines "$T/alerts.json" 6 30
sleep 0.5
stop_follow "$FPID"
[ "$(ids "$T/alerts.json" | uniq -d | wc -l)" -eq 0 ] || fail "duplicate alerts after the restart"
ok "restart from the state saved under the limit: no duplicate"
