#!/bin/bash
# Injection: hostile domain names and log content through `pvpanic-watch
# follow` into every sink, each checked with a strict reader of its format.
#
# Names: $(touch X), `touch X`, ;reboot (a fake `reboot` first in PATH
# records a call), quote, apostrophe, backslash, printf conversions,
# control bytes, invalid UTF-8, 4 KB of UTF-8. Log content: a QMP action
# with an escaped newline, and an operator rule whose domain capture spans
# continuation lines that look like a metric line, a JSON alert line and a
# journald field ("a crafted log line must not inject a second line").
#
#   json        every line parses (python3 json.loads), one object per
#               event, domains byte-exact (invalid UTF-8 aside)
#   prometheus  every line passes a strict parser of the text exposition
#               format; the label values decode to exactly the domains
#   journald    every datagram (to a fake socket, PVPANIC_JOURNAL_SOCKET)
#               parses as the native protocol; exactly one PVPANIC_DOMAIN
#               per alert, byte-exact
#   exec        PVPANIC_* environment byte-exact; nothing ran a shell
#   syslog(3)   (root: a private mount namespace with /dev/log captured)
#               one datagram per alert, no raw newline, names escaped
. "$(dirname "$0")/follow_lib.sh"
watchdog 300

mkdir -p "$T/logs" "$T/calls" "$T/fakebin" "$T/journal"
L=$T/logs/libvirtd.log
: > "$L"

# A `reboot` that only records that somebody ran it.
printf '#!/bin/sh\ntouch %s/pwned-reboot\n' "$T" > "$T/fakebin/reboot"
chmod 755 "$T/fakebin/reboot"
export PATH="$T/fakebin:$PATH"

# The exec sink's program: the environment it got, NUL-separated.
cat > "$T/record.sh" <<'SH'
#!/bin/sh
/usr/bin/env -0 > "$1/$$.env"
SH
chmod 755 "$T/record.sh"

# ---- the hostile log ---------------------------------------------------------
python3 "$GEN" --guests 9 --filler 1 --seed 11 > "$T/base.log" || fail "generator"
python3 - "$T" <<'PY' || fail "could not build the hostile log"
import json, sys
T = sys.argv[1]
names = [
    b"$(touch " + T.encode() + b"/pwned1)",
    b";reboot",
    b"`touch " + T.encode() + b"/pwned2`",
    b"q\"uote 'apos' \\back\\slash\\",
    b"%s%n%x%p%c",
    b"ctl\x01\x1b[31mred\x7f",
    b"bad\xff\xfeutf8\xc3",
    "\u6570\u636e\u5e93-".encode() * 585,        # 4095 bytes of UTF-8
    b"--help",
]
data = open(T + "/base.log", "rb").read()
for i, n in enumerate(names):
    g = b"guest-%03d" % i
    data = data.replace(b"name='" + g + b"'", b"name='" + n + b"'").replace(b"name=" + g + b")", b"name=" + n + b")")
# One panic whose QMP action carries an escaped newline and a JSON line.
first = data.index(b'"action": "pause"')
data = data[:first] + b'"action": "x\\n{\\"id\\":1}"' + data[first + len(b'"action": "pause"'):]
# A record whose continuation lines look like other formats' lines.
tail = (b"2026-11-26 10:00:00.000+0000: 7: error : x:1 : INJECT evil\n"
        b'pvpanic_guest_panics_total{domain="forged"} 99\n'
        b'{"id":"0000000000000000","event":"panic","domain":"forged"}\n'
        b"PVPANIC_DOMAIN=forged\n"
        b"2026-11-26 10:00:01.000+0000: 7: debug : x:1 : after\n")
open(T + "/hostile.log", "wb").write(data + tail)
# What the sinks must report: the domains, raw bytes.
want = names + [b"evil\npvpanic_guest_panics_total{domain=\"forged\"} 99\n"
                b'{"id":"0000000000000000","event":"panic","domain":"forged"}\n'
                b"PVPANIC_DOMAIN=forged"]
open(T + "/want.json", "w").write(json.dumps([w.decode("latin-1") for w in want]))
PY
NEVENTS=10

# ---- strict readers -------------------------------------------------------------
cat > "$T/check.py" <<'PY'
import json, os, re, struct, sys

T = sys.argv[1]
want = [w.encode("latin-1") for w in json.load(open(T + "/want.json"))]
errors = []
def err(m):
    errors.append(m)

def same(got, exp):
    """Byte-exact, except that invalid UTF-8 may come back as U+FFFD."""
    if got == exp:
        return True
    return got == exp.decode("utf-8", "replace").encode("utf-8")

def check_json(path):
    lines = open(path, "rb").read().split(b"\n")
    if lines[-1] != b"":
        err("json: no final newline")
    objs = []
    for i, l in enumerate(lines[:-1]):
        try:
            o = json.loads(l)
        except Exception as e:
            err("json line %d does not parse (%s): %r" % (i + 1, e, l[:120]))
            continue
        if not isinstance(o, dict) or not re.fullmatch(r"[0-9a-f]{16}", str(o.get("id"))):
            err("json line %d is not an alert: %r" % (i + 1, l[:120]))
        objs.append(o)
    if len(objs) != len(want) + 0:
        err("json: %d alerts, want %d" % (len(objs), len(want)))
    got = [o.get("domain", "").encode("utf-8", "surrogateescape") for o in objs]
    for w in want:
        if not any(same(g, w) for g in got):
            err("json: domain %r missing or altered" % w[:60])
    if not any(o.get("action") == 'x\n{"id":1}' for o in objs):
        err("json: the action with a newline is missing or altered")

def prom_unescape(s):
    out, i = bytearray(), 0
    while i < len(s):
        c = s[i]
        if c == 0x5c:
            if i + 1 >= len(s) or s[i + 1] not in b'\\"n':
                raise ValueError("bad escape")
            out += {0x5c: b"\\", 0x22: b'"', 0x6e: b"\n"}[s[i + 1]]
            i += 2
        elif c == 0x22 or c == 0x0a:
            raise ValueError("raw quote or newline")
        else:
            out.append(c)
            i += 1
    return bytes(out)

SAMPLE = re.compile(rb'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.e+]+|NaN|[+-]Inf)( -?[0-9]+)?$')
LABEL = re.compile(rb'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"(,|$)')
def check_prom(path):
    text = open(path, "rb").read()
    if not text.endswith(b"\n"):
        err("prom: no final newline")
    domains = []
    typed = set()
    for n, l in enumerate(text.split(b"\n")[:-1], 1):
        if l.startswith(b"# HELP ") or l.startswith(b"# TYPE "):
            parts = l.split(b" ", 3)
            if len(parts) < 4 or not re.fullmatch(rb"[a-zA-Z_:][a-zA-Z0-9_:]*", parts[2]):
                err("prom line %d: bad comment %r" % (n, l[:100]))
            if l.startswith(b"# TYPE "):
                if parts[3] not in (b"counter", b"gauge", b"histogram", b"summary", b"untyped"):
                    err("prom line %d: bad type" % n)
                typed.add(parts[2])
            continue
        if l.startswith(b"#") or not l:
            err("prom line %d: stray %r" % (n, l[:100]))
            continue
        m = SAMPLE.match(l)
        if not m:
            err("prom line %d does not parse: %r" % (n, l[:120]))
            continue
        if m.group(1) not in typed:
            err("prom line %d: sample before its TYPE" % n)
        if m.group(3) is not None:
            body, pos, labels = m.group(3), 0, {}
            while pos < len(body):
                lm = LABEL.match(body, pos)
                if not lm:
                    err("prom line %d: bad labels %r" % (n, body[:100]))
                    break
                try:
                    labels[lm.group(1)] = prom_unescape(lm.group(2))
                except ValueError as e:
                    err("prom line %d: %s" % (n, e))
                pos = lm.end()
            if m.group(1) == b"pvpanic_guest_panics_total":
                domains.append(labels.get(b"domain"))
                if m.group(4) != b"1":
                    err("prom: %r counted %s times" % (labels.get(b"domain", b"")[:40], m.group(4)))
    if len(domains) != len(want):
        err("prom: %d domains, want %d" % (len(domains), len(want)))
    for w in want:
        if not any(d is not None and same(d, w) for d in domains):
            err("prom: domain %r missing or altered" % w[:60])

def journal_fields(dgram):
    fields, i = [], 0
    while i < len(dgram):
        nl = dgram.index(b"\n", i)
        line = dgram[i:nl]
        if b"=" in line:
            name, value = line.split(b"=", 1)
            i = nl + 1
        else:
            name = line
            (size,) = struct.unpack("<Q", dgram[nl + 1:nl + 9])
            value = dgram[nl + 9:nl + 9 + size]
            if dgram[nl + 9 + size:nl + 10 + size] != b"\n":
                raise ValueError("binary field %r not followed by a newline" % name)
            i = nl + 10 + size
        if not re.fullmatch(rb"[A-Z0-9][A-Z0-9_]*", name):
            raise ValueError("bad field name %r" % name[:60])
        fields.append((name, value))
    return fields

def check_journal(d):
    doms = []
    files = sorted(os.listdir(d))
    for f in files:
        try:
            fields = journal_fields(open(os.path.join(d, f), "rb").read())
        except Exception as e:
            err("journal datagram %s: %s" % (f, e))
            continue
        names = [n for n, v in fields]
        for n in set(names):
            if names.count(n) != 1:
                err("journal datagram %s: field %r %d times" % (f, n, names.count(n)))
        fd = dict(fields)
        if fd.get(b"SYSLOG_IDENTIFIER") != b"pvpanic-watch" or b"MESSAGE" not in fd:
            err("journal datagram %s: not an alert" % f)
        if b"PVPANIC_DOMAIN" in fd:
            doms.append(fd[b"PVPANIC_DOMAIN"])
    if len(files) != len(want):
        err("journal: %d datagrams, want %d" % (len(files), len(want)))
    for w in want:
        if not any(same(g, w) for g in doms):
            err("journal: domain %r missing or altered" % w[:60])

def check_exec(d):
    doms = []
    envs = [f for f in os.listdir(d) if f.endswith(".env")]
    for f in envs:
        env = {}
        for kv in open(os.path.join(d, f), "rb").read().split(b"\0"):
            if kv:
                k, v = kv.split(b"=", 1)
                env[k] = v
        doms.append(env.get(b"PVPANIC_DOMAIN"))
        try:
            json.loads(env.get(b"PVPANIC_JSON", b""))
        except Exception:
            err("exec %s: PVPANIC_JSON does not parse" % f)
    if len(envs) != len(want):
        err("exec: %d runs, want %d" % (len(envs), len(want)))
    for w in want:
        if w not in doms:
            err("exec: PVPANIC_DOMAIN %r missing or altered" % w[:60])

def check_syslog(path):
    raw = open(path, "rb").read()
    msgs = raw.split(b"\0MSG-END\0")[:-1]
    if len(msgs) != len(want):
        err("syslog: %d messages, want %d" % (len(msgs), len(want)))
    for m in msgs:
        if b"\n" in m.rstrip(b"\n") or b"\r" in m:
            err("syslog: a message holds a raw line break: %r" % m[:160])
        if not re.match(rb"<[0-9]+>", m):
            err("syslog: not a syslog datagram: %r" % m[:80])
    doms = []
    for m in msgs:
        q = re.search(rb'domain ("(?:[^"\\]|\\.)*")', m)
        if not q:
            err("syslog: no quoted domain in %r" % m[:120])
            continue
        try:
            doms.append(json.loads(q.group(1)).encode("utf-8"))
        except Exception as e:
            err("syslog: the quoted domain does not decode (%s): %r" % (e, q.group(1)[:80]))
    for w in want:
        if not any(same(d, w) for d in doms):
            err("syslog: domain %r missing or altered" % w[:60])

for kind, arg in zip(sys.argv[2::2], sys.argv[3::2]):
    {"json": check_json, "prom": check_prom, "journal": check_journal,
     "exec": check_exec, "syslog": check_syslog}[kind](arg)
for e in errors[:30]:
    print("FAIL:", e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY

# ---- part A: json, prometheus, exec and journald at once -----------------------
cat > "$T/journal.py" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind(sys.argv[1])
n = 0
while True:
    d = s.recv(1 << 20)
    n += 1
    with open(os.path.join(sys.argv[2], "%05d" % n), "wb") as f:
        f.write(d)
PY
python3 "$T/journal.py" "$T/journal.sock" "$T/journal" &
PIDS+=("$!")
i=0; until [ -S "$T/journal.sock" ]; do i=$((i+1)); [ $i -gt 200 ] && fail "fake journald did not start"; sleep 0.05; done

cat > "$T/inject.conf" <<EOF
throttle_count = 1000
[rule multiline]
regex = (?s)INJECT (?<domain>.*)
event = panic
[sink exec]
command = $T/record.sh $T/calls
max_concurrent = 4
[sink prometheus]
path = $T/metrics.prom
[sink syslog]
EOF
chmod 600 "$T/inject.conf"
$VG "$WATCH" follow -n -c "$T/inject.conf" > /dev/null 2>&1 || fail "config rejected"

before=$(grep -c ' ready: ' "$T/follow.err" 2>/dev/null)
PVPANIC_JOURNAL_SOCKET=$T/journal.sock $VG "$WATCH" follow --log stderr -v -c "$T/inject.conf" \
    --state "$T/state" --json "$T/alerts.json" "$L" >> "$T/follow.out" 2>> "$T/follow.err" &
FPID=$!
PIDS+=("$FPID")
wait_ready $((${before:-0} + 1))
cat "$T/hostile.log" >> "$L"
wait_lines "$T/alerts.json" "$NEVENTS" 60
i=0; until [ "$(ls "$T/calls" | wc -l)" -ge "$NEVENTS" ] && [ "$(ls "$T/journal" | wc -l)" -ge "$NEVENTS" ]; do
    i=$((i+1)); [ $i -gt 600 ] && fail "exec/journald: $(ls "$T/calls" | wc -l) and $(ls "$T/journal" | wc -l) alerts"
    sleep 0.05
done
stop_follow "$FPID"
[ ! -e "$T/pwned1" ] && [ ! -e "$T/pwned2" ] && [ ! -e "$T/pwned-reboot" ] || fail "a domain name was executed"
python3 "$T/check.py" "$T" json "$T/alerts.json" prom "$T/metrics.prom" journal "$T/journal" \
    exec "$T/calls" || fail "an injection got through (see above)"
ok "json, prometheus, exec, journald: every hostile name byte-exact, no forged line, nothing executed"

# ---- part B: syslog(3), captured at /dev/log in a private mount namespace -------
if [ "$(id -u)" -ne 0 ] || ! unshare -m -p -f --mount-proc true 2>/dev/null; then
    [ -n "${CI:-}" ] && fail "part B needs root and unshare -m under CI"
    echo "skip: syslog(3) capture needs root and a mount namespace"
    exit 0
fi
cat > "$T/syslog.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind(sys.argv[1])
with open(sys.argv[2], "ab", buffering=0) as out:
    while True:
        d = s.recv(1 << 20)
        if b"pvpanic-watch" in d and b"guest panic" in d:
            out.write(d + b"\0MSG-END\0")
PY
# Inside the namespace: /dev is a fresh tmpfs (with the few devices a
# process needs) where our capture owns /dev/log. Nothing leaks out.
cat > "$T/ns.sh" <<'SH'
set -u
T=$1; shift
mount -t tmpfs -o mode=755 tmpfs /dev || exit 3
for d in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
    IFS=: read -r n ma mi <<< "$d"
    mknod -m 666 "/dev/$n" c "$ma" "$mi"
done
ln -s /proc/self/fd /dev/fd
python3 "$T/syslog.py" /dev/log "$T/syslog.bin" &
cap=$!
i=0; until [ -S /dev/log ]; do i=$((i+1)); [ $i -gt 200 ] && exit 4; sleep 0.05; done
"$@" &
fp=$!
# Stopped through a file (pids differ in here); the outer test may also
# just kill unshare: --kill-child then takes the whole pid namespace down.
until [ -e "$T/ns.stop" ] || ! kill -0 "$fp" 2>/dev/null; do sleep 0.05; done
kill -TERM "$fp" 2>/dev/null
wait "$fp"
rc=$?
kill "$cap"
exit $rc
SH
: > "$T/syslog.bin"
rm -rf "$T/state" "$T/alerts.json" "$T/metrics.prom"
: > "$L"
grep -v '^\[sink exec\]\|^command\|^max_concurrent\|^\[sink prometheus\]\|^path' "$T/inject.conf" > "$T/inject-syslog.conf"
chmod 600 "$T/inject-syslog.conf"
before=$(grep -c ' ready: ' "$T/follow.err" 2>/dev/null)
PVPANIC_JOURNAL_SOCKET=$T/no-journald unshare -m -p -f --kill-child --mount-proc --propagation private \
    bash "$T/ns.sh" "$T" \
    $VG "$WATCH" follow --log stderr -v -c "$T/inject-syslog.conf" --state "$T/state" \
    --json "$T/alerts.json" "$L" >> "$T/follow.out" 2>> "$T/follow.err" &
NSPID=$!
PIDS+=("$NSPID")
i=0; while n=$(grep -c ' ready: ' "$T/follow.err"); [ "$n" -le "${before:-0}" ]; do
    i=$((i+1)); [ $i -gt 1200 ] && fail "follow in the namespace did not get ready"
    kill -0 "$NSPID" 2>/dev/null || fail "the namespace exited early"
    sleep 0.05
done
cat "$T/hostile.log" >> "$L"
wait_lines "$T/alerts.json" "$NEVENTS" 60
i=0; until [ "$(grep -o -a 'MSG-END' "$T/syslog.bin" | wc -l)" -ge "$NEVENTS" ]; do
    i=$((i+1)); [ $i -gt 400 ] && fail "syslog(3): $(grep -o -a 'MSG-END' "$T/syslog.bin" | wc -l) messages captured"
    sleep 0.05
done
touch "$T/ns.stop"
wait "$NSPID"
rc=$?
[ "$rc" -eq 0 ] || fail "follow (syslog run) exited $rc"
python3 "$T/check.py" "$T" syslog "$T/syslog.bin" json "$T/alerts.json" || fail "syslog(3) injection (see above)"
ok "syslog(3): one datagram per alert, no raw line break, names escaped"
