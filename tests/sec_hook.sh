#!/bin/bash
# Hook hardening at the process level, the parts tests/hook_mode.sh does
# not cover (it has the hostile stdin list: 50 MB, deep nesting, XXE,
# billion laughs, invalid UTF-8, NUL, a stdin that never closes):
#   - SIGPIPE: libvirtd's end of the hook's stdout/stderr pipes is gone.
#     The hook must still give its answer by exit status (a fail-open
#     policy allows the guest, refuse refuses), never die of SIGPIPE,
#     whose exit status libvirt would read as "refuse" for every policy;
#   - pipes as libvirtd gives them: with enroll, the hook's stdout and
#     stderr reach end-of-file as soon as the hook exits, although its
#     detached helper is still busy (its slow virsh), and nothing the
#     hook started is left as a zombie or holding the pipes, seen from a
#     child subreaper that inherits every orphan.
. "$(dirname "$0")/hook_testlib.sh"
command -v python3 >/dev/null || { [ -n "${CI:-}" ] && exit 1; exit 77; }

cat > "$T/nopanic.xml" <<'XML'
<domain type='kvm'><name>web-01</name><uuid>c7a5fdbd-cdaf-9455-926a-d65c16db1809</uuid><os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os><devices></devices></domain>
XML
add_fake_domain c7a5fdbd-cdaf-9455-926a-d65c16db1809 web-01 "$T/nopanic.xml" yes
for p in warn enroll refuse; do write_conf "$T/$p.conf" "on_missing = $p" "log = stderr"; done

# run_broken_pipes CONF OP: the hook with stdout and stderr both pipes whose
# reader is gone; rc = its exit status (128+N if a signal N killed it).
run_broken_pipes() {
    rc=$(python3 - "$1" "$T/qemu" "$2" "$T/nopanic.xml" $PVPANIC_VALGRIND <<'PY'
import os, subprocess, sys
conf, hook, op, xml = sys.argv[1:5]
vg = sys.argv[5:]
r, w = os.pipe()
os.close(r)                       # nobody will ever read
env = dict(os.environ, PVPANIC_HOOK_CONF=conf)
with open(xml, "rb") as i:
    p = subprocess.run(vg + [hook, "web-01", op, "begin", "-"], stdin=i, stdout=w, stderr=w,
                       env=env, timeout=60, restore_signals=True)
os.close(w)
print(p.returncode if p.returncode >= 0 else 128 - p.returncode)
PY
)
}
# valgrind reports to the same (broken) stderr: judge the hook alone there
if [ -z "$PVPANIC_VALGRIND" ]; then
    run_broken_pipes "$T/warn.conf" prepare
    check_eq "SIGPIPE on stderr, warn: allowed (not killed by SIGPIPE)" 0 "$rc"
    run_broken_pipes "$T/enroll.conf" prepare
    check_eq "SIGPIPE on stderr, enroll: allowed" 0 "$rc"
    run_broken_pipes "$T/refuse.conf" prepare
    check_eq "SIGPIPE on stderr, refuse: refused by status 1" 1 "$rc"
    run_broken_pipes "$T/refuse.conf" migrate
    check_eq "SIGPIPE, migrate begin: allowed, nothing printed" 0 "$rc"
    check "enroll under SIGPIPE: the helper still ran" wait_calls 1
fi

# Pipes as libvirtd gives them, a slow helper, a subreaper that sees orphans.
: > "$T/store/calls.log"
python3 - "$T/enroll.conf" "$T/qemu" "$T/nopanic.xml" "$T/store/calls.log" $PVPANIC_VALGRIND \
    > "$T/reaper.out" 2>&1 <<'PY'
import ctypes, os, select, subprocess, sys, time
conf, hook, xml, calls = sys.argv[1:5]
vg = sys.argv[5:]
libc = ctypes.CDLL(None, use_errno=True)
PR_SET_CHILD_SUBREAPER = 36
assert libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
env = dict(os.environ, PVPANIC_HOOK_CONF=conf, FAKE_VIRSH_SLEEP="3")
with open(xml, "rb") as i:
    p = subprocess.Popen(vg + [hook, "web-01", "prepare", "begin", "-"], stdin=i,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    t0 = time.monotonic()
    p.wait(timeout=60)
exited = time.monotonic()
# libvirtd reads both pipes to EOF: that must not wait for the helper.
for f in (p.stdout, p.stderr):
    r, _, _ = select.select([f], [], [], 2.0)
    if not r:
        print("FAIL: a hook pipe is still open 2 s after the hook exited (held by a helper)")
        sys.exit(1)
    f.read()
eof = time.monotonic() - exited
print("hook exit status %d after %.0f ms; pipes at EOF %.0f ms later" % (p.returncode, (exited - t0) * 1000, eof * 1000))
if p.returncode != 0:
    print("FAIL: enroll must allow the start")
    sys.exit(1)
# No zombie among what the hook left (orphans come to us), until the helper is done.
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    kids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                st = open("/proc/%s/stat" % d).read()
            except OSError:
                continue
            fields = st[st.rindex(")") + 2:].split()
            if int(fields[1]) == os.getpid():
                kids.append((int(d), fields[0]))
    # a zombie is only legitimate between its exit and our reaping: reap, then look again
    zombies = [k for k, s in kids if s == "Z"]
    for k in zombies:
        os.waitpid(k, 0)
    if not kids:
        break
    time.sleep(0.1)
else:
    print("FAIL: the helper did not finish within 30 s")
    sys.exit(1)
n = sum(1 for _ in open(calls))
print("helper done: %d virsh call(s)" % n)
sys.exit(0 if n >= 2 else 1)
PY
rc=$?
sed 's/^/   | /' "$T/reaper.out"
check_eq "libvirtd's pipes at EOF when the hook exits; the helper is detached and finishes its work" 0 "$rc"

finish
