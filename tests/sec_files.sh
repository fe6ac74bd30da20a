#!/bin/bash
# Config and state files of a root daemon (issue 6):
#   - a config others can write (world- or group-writable, owned by another
#     user, a FIFO) is refused by every door: follow -n, the follow daemon,
#     audit -c as root, pvpanic-hook check-config and the hook itself
#     (which fails open); a FIFO never hangs anything;
#   - state is created 0600 and its directory 0700, whatever the umask;
#   - nothing planted by another user in a sticky world-writable directory
#     (like /tmp) redirects a root write: a symlink at the state path, at
#     the json alert output, at the Prometheus textfile, a FIFO there, a
#     hard link to a root-owned file, files at the old predictable temp
#     names of the state writer, a symlink or directory of theirs as the
#     state's directory.
# Needs root (files owned by another user, setpriv).
. "$(dirname "$0")/follow_lib.sh"
watchdog 240

if [ "$(id -u)" -ne 0 ]; then
    [ -n "${CI:-}" ] && fail "needs root under CI"
    echo "SKIP: needs root (files of another user)"; exit 77
fi
command -v setpriv >/dev/null || { [ -n "${CI:-}" ] && fail "setpriv missing"; exit 77; }
HOOK="$abs_top_builddir/hooks/pvpanic-hook"
NOBODY=65534
as_nobody() { setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups "$@"; }
umask 022

# run_bounded SECONDS CMD...: rc in $rc, never hangs the test.
run_bounded() {
    local s=$1
    shift
    timeout -k 2 "$s" "$@" > "$T/run.out" 2> "$T/run.err" < /dev/null
    rc=$?
    [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || fail "hung: $*"
}

python3 "$GEN" --guests 2 --filler 1 --seed 3 > "$T/two.log" || fail "generator"

# ---- configs -------------------------------------------------------------
printf 'hold = 1s\n' > "$T/ww.conf"; chmod 666 "$T/ww.conf"
printf 'hold = 1s\n' > "$T/gw.conf"; chmod 620 "$T/gw.conf"
printf 'hold = 1s\n' > "$T/other.conf"; chmod 644 "$T/other.conf"; chown $NOBODY "$T/other.conf"
mkfifo "$T/fifo.conf"
ln -s "$T/ww.conf" "$T/link.conf"
for c in ww gw other fifo link; do
    conf=$T/$c.conf
    run_bounded 10 $VG "$WATCH" follow -n -c "$conf"
    [ "$rc" -eq 2 ] || fail "follow -n accepted the $c config (rc $rc)"
    grep -q "refusing config" "$T/run.err" || fail "follow -n: no clear refusal for $c: $(cat "$T/run.err")"
    run_bounded 10 $VG "$WATCH" follow --log stderr -c "$conf" --state "$T/st-$c" --json "$T/j-$c" "$T/two.log"
    [ "$rc" -eq 2 ] || fail "the follow daemon started with the $c config (rc $rc)"
    [ ! -e "$T/st-$c" ] || fail "a refused config still wrote state"
    run_bounded 10 $VG "$WATCH" audit -c "$conf" "$T/two.log"
    [ "$rc" -eq 2 ] || fail "audit -c as root accepted the $c config (rc $rc)"
    grep -q "refusing config" "$T/run.err" || fail "audit: no clear refusal for $c"
    PVPANIC_HOOK_CONF=$conf run_bounded 10 $VG "$HOOK" check-config
    [ "$rc" -ne 0 ] || fail "pvpanic-hook check-config accepted the $c config"
    grep -q "refusing config" "$T/run.err" || fail "check-config: no clear refusal for $c: $(cat "$T/run.err")"
done
ok "configs others can write (0666, 0620, owned by another user, FIFO, symlink to one): refused by follow -n, follow, audit -c, check-config; no hang"

# The hook as libvirt runs it: refused config, fails open (the file asks
# for refuse, the built-in default does not).
printf 'on_missing = refuse\n' > "$T/refuse.conf"; chmod 666 "$T/refuse.conf"
mkdir "$T/hooks"; ln -s "$HOOK" "$T/hooks/qemu"
cat > "$T/nopanic.xml" <<'XML'
<domain type='kvm'><name>web-01</name><os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os><devices></devices></domain>
XML
hook_run() {  # CONF OP: the hook as libvirt runs it, web-01 without a device on stdin
    timeout -k 2 10 env PVPANIC_HOOK_CONF="$1" $VG "$T/hooks/qemu" web-01 "$2" begin - \
        < "$T/nopanic.xml" > "$T/hook.out" 2> "$T/hook.err"
    rc=$?
    [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || fail "the hook hung"
}
printf 'on_missing = refuse\n' > "$T/refuse-ok.conf"; chmod 644 "$T/refuse-ok.conf"
hook_run "$T/refuse-ok.conf" prepare
[ "$rc" -ne 0 ] || fail "test bug: the same config, private, does not refuse"
hook_run "$T/refuse.conf" prepare
[ "$rc" -eq 0 ] || fail "the hook applied on_missing = refuse from a world-writable config (rc $rc)"
grep -q "refusing config" "$T/hook.err" || fail "hook prepare: the refusal is not logged"
hook_run "$T/fifo.conf" migrate
[ "$rc" -eq 0 ] || fail "hook with a FIFO config: rc $rc"
ok "the hook ignores a world-writable config (fails open, says why)"

# ---- state: modes ------------------------------------------------------------
mkdir "$T/logs"
L=$T/logs/libvirtd.log
: > "$L"
umask 000
follow_bg "$T/alerts.json" "$T/newdir/state" "$L"
umask 022
cat "$T/two.log" >> "$L"
wait_lines "$T/alerts.json" 2 30
stop_follow "$FPID"
[ "$(stat -c %a "$T/newdir/state")" = 600 ] || fail "state mode $(stat -c %a "$T/newdir/state") under umask 000"
[ "$(stat -c %a "$T/newdir")" = 700 ] || fail "state directory mode $(stat -c %a "$T/newdir")"
ok "state 0600 in a new 0700 directory, under umask 000"

# ---- a sticky world-writable directory with things planted by 'nobody' ------
P=$T/pub
chmod 711 "$T"   # nobody may reach pub/, nothing else
mkdir -m 1777 "$P"
echo VICTIM > "$T/victim"; chmod 600 "$T/victim"
victim_ok() { [ "$(cat "$T/victim")" = VICTIM ] && [ "$(stat -c %a "$T/victim")" = 600 ] || fail "$1: the victim file was written"; }

# 1. symlink at the state path
as_nobody ln -s "$T/victim" "$P/state"
follow_bg "$T/alerts1.json" "$P/state" "$L"
grep -q "state file '$P/state' is a symbolic link: ignored" "$T/follow.err" || fail "symlinked state not reported"
echo >> "$L"
python3 "$GEN" --guests 1 --filler 0 --seed 4 --start 1795900000 >> "$L"
wait_lines "$T/alerts1.json" 1 30
stop_follow "$FPID"
victim_ok "symlink at the state path"
[ -f "$P/state" ] && [ ! -L "$P/state" ] || fail "the state is not a regular file of its own"
[ "$(stat -c '%u %a' "$P/state")" = "0 600" ] || fail "state owner/mode $(stat -c '%u %a' "$P/state")"
ok "a symlink planted at the state path is neither read nor written through"

# 2. the old predictable temp names (PATH.tmp.PID.0..16), planted before the
# daemon starts: the bash that plants them execs into the daemon (same pid).
before=$(grep -c ' ready: ' "$T/follow.err")
bash -c 'for i in $(seq 0 16); do setpriv --reuid='$NOBODY' --regid='$NOBODY' --clear-groups ln -s "$1" "$2.tmp.$$.$i"; done
         shift 2; exec "$@"' _ "$T/victim" "$P/state2" $VG "$WATCH" follow --log stderr -v -c "$T/watch.conf" \
    --state "$P/state2" --json "$T/alerts2.json" "$L" >> "$T/follow.out" 2>> "$T/follow.err" &
FPID=$!
PIDS+=("$FPID")
wait_ready $((before + 1))
python3 "$GEN" --guests 1 --filler 0 --seed 5 --start 1796000000 >> "$L"
wait_lines "$T/alerts2.json" 1 30
stop_follow "$FPID"
victim_ok "symlinks at the temp names"
[ -f "$P/state2" ] && [ ! -L "$P/state2" ] || fail "no state written past the planted temp names"
[ "$(find "$P" -maxdepth 1 -name "state2.tmp.$FPID.*" -type l | wc -l)" -eq 17 ] || fail "test bug: planted names gone"
ok "symlinks at every predictable temp name: state still saved, nothing written through them"

# 3. the json alert output: symlink, FIFO, hard link, another user's file
as_nobody ln -s "$T/victim" "$P/a-link.json"
as_nobody mkfifo -m 666 "$P/a-fifo.json"
ln "$T/victim" "$P/a-hard.json"
as_nobody touch "$P/a-other.json"
for j in a-link a-fifo a-hard a-other; do
    run_bounded 15 $VG "$WATCH" follow --log stderr -c "$T/watch.conf" --state "$T/st-$j" --json "$P/$j.json" "$L"
    [ "$rc" -eq 2 ] || fail "follow started with the json output at $j (rc $rc)"
    grep -qE "refusing alert output|cannot open alert output" "$T/run.err" || fail "$j: no clear error: $(cat "$T/run.err")"
done
victim_ok "json output"
[ -p "$P/a-fifo.json" ] && [ "$(stat -c %s "$P/a-other.json")" -eq 0 ] || fail "a planted output was changed"
ok "json output: symlink, FIFO (no hang), hard link to a root file, another user's file: refused"

# 4. the Prometheus textfile: symlink and FIFO planted at the path
as_nobody ln -s "$T/victim" "$P/m-link.prom"
as_nobody mkfifo -m 666 "$P/m-fifo.prom"
for m in m-link m-fifo; do
    printf '[sink prometheus]\npath = %s\n' "$P/$m.prom" > "$T/$m.conf"; chmod 600 "$T/$m.conf"
    before=$(grep -c ' ready: ' "$T/follow.err")
    $VG "$WATCH" follow --log stderr -v -c "$T/$m.conf" --state "$T/st-$m" --json "$T/a-$m.json" "$L" \
        >> "$T/follow.out" 2>> "$T/follow.err" &
    FPID=$!
    PIDS+=("$FPID")
    wait_ready $((before + 1))
    python3 "$GEN" --guests 1 --filler 0 --seed 6 --start $((1796100000 + RANDOM)) >> "$L"
    wait_lines "$T/a-$m.json" 1 30
    i=0
    until [ -f "$P/$m.prom" ] && [ ! -L "$P/$m.prom" ] && [ ! -p "$P/$m.prom" ]; do
        i=$((i + 1)); [ $i -gt 400 ] && fail "$m: no metrics file within 20 s"; sleep 0.05
    done
    grep -q "pvpanic_watch_files_followed" "$P/$m.prom" || fail "$m: metrics incomplete"
    stop_follow "$FPID"
    [ -f "$P/$m.prom" ] && [ ! -L "$P/$m.prom" ] || fail "$m: metrics not a file of their own"
    [ "$(stat -c '%u %a' "$P/$m.prom")" = "0 644" ] || fail "$m: owner/mode $(stat -c '%u %a' "$P/$m.prom")"
done
victim_ok "prometheus textfile"
ok "Prometheus textfile: a symlink or FIFO planted at the path is replaced, never read or written through"

# 5. the state's directory: another user's symlink (to a directory of ours)
# or another user's directory. No state is read or written there.
mkdir "$T/victimdir"
as_nobody ln -s "$T/victimdir" "$P/sdir"
as_nobody mkdir "$P/ndir"
for sd in sdir ndir; do
    follow_bg "$T/alerts-$sd.json" "$P/$sd/state" "$L"
    grep -q "the directory of state file '$P/$sd/state' belongs to another user" "$T/follow.err" ||
        fail "$sd: the foreign state directory was not refused"
    python3 "$GEN" --guests 1 --filler 0 --seed 7 --start $((1796200000 + RANDOM)) >> "$L"
    wait_lines "$T/alerts-$sd.json" 1 30
    stop_follow "$FPID"
    [ -z "$(ls -A "$T/victimdir")" ] && [ -z "$(ls -A "$P/ndir")" ] || fail "$sd: state written there"
done
ok "the state directory as another user's symlink or directory: no state there, alerts still go out"
