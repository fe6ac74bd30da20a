#!/usr/bin/env python3
"""bench: pvpanic-tools against what an admin would use instead, in one run.

    make bench                      (full: about 15 minutes on 2 cores)
    make bench BENCH_QUICK=1        (smoke: about 2 minutes)
    bench/bench.py --build BUILD_DIR [--quick] [--install-peers] [--only audit,hook,follow]
                   [--data DIR] [--results DIR] [--keep-data]
    bench/bench.py --render RESULTS.json       (the table again, from saved figures)

Workloads, each against a baseline measured in the same run, interleaved with
it (the machines are shared and noisy, so absolute times drift; ratios of
neighbouring runs drift much less):

  audit   pvpanic-watch audit --json on a large real-shape debug log
          (gen-biglog.py) vs grep -c GUEST_PANICKED (the floor), the mawk
          admin script (alone and behind grep -E) and fail2ban-regex.
  hook    pvpanic-hook patch and hook mode vs cat (the process floor),
          xmlstarlet ed and virt-xml adding the same <panic> element.
  follow  pvpanic-watch follow alert latency and CPU vs tail -F | grep
          --line-buffered at 1, 10 and 50 MB/s (bench-follow.py).

Every output is checked in the same run (panic count and names against the
generator's .expected, the <panic model='isa'/> element in the XML, every
panic alerted exactly once). The table goes to stdout and, with the raw
figures, to RESULTS/latest.md and latest.json (latest-quick.* for the quick
profile, latest-custom.* when a setting was changed). Exit status: 0 done, 1 one of
OUR outputs was wrong (the table is still written), 2 cannot run.
"""
import argparse
import datetime
import importlib.util
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
SCHEMA = 1

# Full and quick profiles; every value can be overridden on the command line.
PROFILES = {
    'full': dict(sizes_mb='100,1024', audit_repeats=5, f2b_repeats=3, hook_rounds=1000,
                 hook_blocks=5, virtxml_every=10, follow_rates='1,10,50', follow_seconds=20,
                 follow_repeats=4),
    'quick': dict(sizes_mb='20,100', audit_repeats=3, f2b_repeats=1, hook_rounds=200,
                  hook_blocks=4, virtxml_every=20, follow_rates='1,10,50', follow_seconds=10,
                  follow_repeats=1),
}

# The admin script: remember mon -> name from "Entering monitor (mon=M vm=V
# name=N)", print QMP time and name for each GUEST_PANICKED event line. Its
# output has the format of gen-biglog.py's .expected, so it is checked byte
# for byte.
MAWK_PROG = r'''
/Entering monitor \(mon=/ {
    m = $0; sub(/.*\(mon=/, "", m); p = substr(m, 1, index(m, " ") - 1)
    n = $0; sub(/.* name=/, "", n); sub(/\)$/, "", n); name[p] = n; next
}
/QEMU_MONITOR_RECV_EVENT/ && /GUEST_PANICKED/ {
    m = $0; sub(/.*mon=/, "", m); p = substr(m, 1, index(m, " ") - 1)
    t = $0; sub(/.*"seconds": /, "", t); s = substr(t, 1, index(t, ",") - 1)
    sub(/.*"microseconds": /, "", t); u = substr(t, 1, index(t, "}") - 1)
    printf "%s.%06d %s\n", s, u, name[p]
}'''
GREP_E = r'Entering monitor \(mon=|GUEST_PANICKED'
F2B_REGEX = 'QEMU_MONITOR_RECV_EVENT: mon=<F-ID>0x[0-9a-f]+</F-ID> event=.*GUEST_PANICKED'
VIRT_XML = ['virt-xml', '--connect', 'test:///default', '--add-device', '--panic', 'model=isa']

# Peers: command, Debian package. fail2ban is handled apart (see peer_fail2ban).
APT_PEERS = [('/usr/bin/time', 'time'), ('mawk', 'mawk'), ('xmlstarlet', 'xmlstarlet'),
             ('virt-xml', 'virtinst')]
GNU_TIME = '/usr/bin/time'


def say(msg):
    print('bench: %s' % msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- statistics

def med(values):
    return statistics.median(values) if values else None


def summary(values):
    """{'med', 'min', 'max', 'n'} of @values (None for an empty list)."""
    if not values:
        return None
    return {'med': statistics.median(values), 'min': min(values), 'max': max(values),
            'n': len(values)}


def ratios(tool, base):
    """Per-repeat ratios tool/base of two lists measured side by side."""
    return [t / b for t, b in zip(tool, base) if b]


# ---------------------------------------------------------------- running

def run_pipeline(argvs, stdin_path=None, env=None, stderr_path=None, rss_dir=None):
    """Run argvs[0] | argvs[1] | ... with stdin from @stdin_path, the last
    stdout read here through a pipe (as `| cat` would: GNU grep cheats when
    its stdout is /dev/null). Returns (wall seconds from the first spawn to
    the last exit, peak RSS in KB of the largest process or None, output
    bytes, exit codes).

    Peak RSS needs @rss_dir: each process then runs under /usr/bin/time -f
    %M (one more fork+exec per process, so the timed runs go without it).
    Not ru_maxrss of our own wait4: posix_spawn shares our memory until the
    exec, and Linux carries that high-water mark (this Python's) over into
    the child's ru_maxrss."""
    env = os.environ if env is None else env
    rss_files = []
    if rss_dir:
        wrapped = []
        for i, argv in enumerate(argvs):
            rss_files.append(os.path.join(rss_dir, 'rss.%d' % i))
            wrapped.append([GNU_TIME, '-f', '%M', '-o', rss_files[-1]] + argv)
        argvs = wrapped
    err = os.open(stderr_path or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC,
                  0o644)
    src = os.open(stdin_path or os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    pids = []
    chunks = []
    try:
        t0 = time.perf_counter()
        for argv in argvs:
            r, w = os.pipe()             # O_CLOEXEC: only the dup2'ed ends are inherited
            try:
                pids.append(os.posix_spawnp(argv[0], argv, env, file_actions=[
                    (os.POSIX_SPAWN_DUP2, src, 0), (os.POSIX_SPAWN_DUP2, w, 1),
                    (os.POSIX_SPAWN_DUP2, err, 2)]))
            finally:
                os.close(w)
                os.close(src)
                src = r
        while True:
            b = os.read(src, 1 << 20)
            if not b:
                break
            chunks.append(b)
        codes = []
        for pid in pids:
            _, status = os.waitpid(pid, 0)
            codes.append(os.waitstatus_to_exitcode(status))
        wall = time.perf_counter() - t0
    finally:
        os.close(src)
        os.close(err)
    rss = None
    for path in rss_files:
        with open(path) as f:            # "Command exited with non-zero status 1\n1234\n"
            kb = int(f.read().split()[-1])
        rss = kb if rss is None else max(rss, kb)
    return wall, rss, b''.join(chunks), codes


def can_run(argv0):
    return shutil.which(argv0) is not None


class LoadSampler(threading.Thread):
    """The 1-minute load average every 5 s: how shared the machine was."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples = [os.getloadavg()[0]]
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(5):
            self.samples.append(os.getloadavg()[0])


# ---------------------------------------------------------------- machine

def machine_stamp():
    cpu = 'unknown CPU'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    ram_gib = None
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemTotal:'):
                    ram_gib = round(int(line.split()[1]) / 1048576, 1)
    except OSError:
        pass
    osname = platform.system()
    try:
        with open('/etc/os-release') as f:
            for line in f:
                if line.startswith('PRETTY_NAME='):
                    osname = line.split('=', 1)[1].strip().strip('"')
    except OSError:
        pass
    return {'nproc': len(os.sched_getaffinity(0)), 'cpu': cpu, 'ram_gib': ram_gib,
            'kernel': platform.release(), 'os': osname}


def git_stamp():
    try:
        head = subprocess.run(['git', '-C', TOP, 'rev-parse', '--short=12', 'HEAD'],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(['git', '-C', TOP, 'status', '--porcelain', '--untracked-files=no'],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return 'unknown (not a git checkout)'
    return head + (' + uncommitted changes' if dirty else '')


# ---------------------------------------------------------------- peers

def privilege():
    """argv prefix to run apt-get as root, or None when we cannot."""
    if os.geteuid() == 0:
        return []
    if can_run('sudo') and subprocess.run(['sudo', '-n', 'true'], capture_output=True).returncode == 0:
        return ['sudo', '-n']
    return None


def apt(prefix, args, logpath):
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    with open(logpath, 'a') as log:
        return subprocess.run(prefix + ['apt-get'] + args, stdout=log, stderr=log, env=env,
                              stdin=subprocess.DEVNULL).returncode == 0


def apt_install(prefix, pkgs, logpath):
    args = ['install', '-y', '--no-install-recommends'] + pkgs
    # A fresh machine (or a container) may have no or stale package lists.
    return apt(prefix, args, logpath) or (apt(prefix, ['update'], logpath) and
                                          apt(prefix, args, logpath))


def peer_fail2ban(install, prefix, data, logpath):
    """fail2ban-regex as an argv prefix plus env, or None, and a note.

    Installing the fail2ban PACKAGE starts a banning daemon with an sshd jail
    on the benchmark machine, so when it is not installed we fetch the .deb
    with apt-get download and unpack it under the data directory instead
    (it depends on python3 only)."""
    if can_run('fail2ban-regex'):
        return ['fail2ban-regex'], None, 'installed'
    if not install:
        return None, None, 'missing (Debian package fail2ban; make bench fetches it)'
    if not can_run('apt-get') or not can_run('dpkg-deb'):
        return None, None, 'missing (no apt-get/dpkg-deb to fetch package fail2ban)'
    d = os.path.join(data, 'peers')
    os.makedirs(d, exist_ok=True)

    def download():
        with open(logpath, 'a') as log:
            return subprocess.run(['apt-get', 'download', 'fail2ban'], cwd=d, stdout=log,
                                  stderr=log, stdin=subprocess.DEVNULL).returncode == 0
    if not download() and not (prefix is not None and apt(prefix, ['update'], logpath) and download()):
        return None, None, 'missing (apt-get download fail2ban failed, see %s)' % logpath
    deb = [f for f in os.listdir(d) if f.startswith('fail2ban_') and f.endswith('.deb')]
    root = os.path.join(d, 'fail2ban')
    if not deb or subprocess.run(['dpkg-deb', '-x', os.path.join(d, deb[0]), root]).returncode:
        return None, None, 'missing (could not unpack %s)' % (deb[0] if deb else 'the .deb')
    env = dict(os.environ, PYTHONPATH=os.path.join(root, 'usr/lib/python3/dist-packages'))
    return (['/usr/bin/python3', os.path.join(root, 'usr/bin/fail2ban-regex')], env,
            'unpacked from %s (not installed: the package starts a daemon)' % deb[0])


def find_peers(install, data):
    """Make sure the peer tools are there (apt-get when allowed); returns
    {name: {'argv', 'env', 'status'}} with argv None for a missing one."""
    logpath = os.path.join(data, 'apt.log')
    prefix = privilege() if install else None
    missing = [(c, p) for c, p in APT_PEERS if not can_run(c)]
    if missing and install:
        pkgs = [p for _, p in missing]
        if prefix is None:
            say('not root and no password-less sudo: cannot install %s' % ' '.join(pkgs))
        else:
            say('installing peers: apt-get install %s' % ' '.join(pkgs))
            if not apt_install(prefix, pkgs, logpath):
                say('apt-get install failed, see %s' % logpath)
    peers = {}
    for cmd, pkg in APT_PEERS:
        if can_run(cmd):
            how = 'installed by this run' if (cmd, pkg) in missing else 'installed'
            peers[cmd] = {'argv': [cmd], 'env': None, 'status': how}
        else:
            why = ('run make bench as root or with sudo to install it' if install and prefix is None
                   else 'make bench installs it' if not install else 'apt-get failed')
            peers[cmd] = {'argv': None, 'env': None,
                          'status': 'missing (Debian package %s; %s)' % (pkg, why)}
    argv, env, status = peer_fail2ban(install, prefix, data, logpath)
    peers['fail2ban-regex'] = {'argv': argv, 'env': env, 'status': status}
    for name, p in sorted(peers.items()):
        say('peer %-15s %s' % (name, p['status']))
    return peers


# ---------------------------------------------------------------- audit

def gen_log(data, mb):
    path = os.path.join(data, 'log-%gmb.log' % mb)
    if not (os.path.exists(path) and os.path.exists(path + '.expected')):
        subprocess.run([sys.executable, os.path.join(HERE, 'gen-biglog.py'), '--size-mb', str(mb),
                        '--out', path], check=True, stdout=sys.stderr)
    return path


def warm(path):
    with open(path, 'rb') as f:
        while f.read(1 << 24):
            pass


def check_audit(out, expected):
    """audit --json output against the .expected 'QMP-time domain' lines."""
    got = []
    for line in out.decode('utf-8', 'replace').splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            return False, 'not JSON: %.60s' % line
        q = re.search(r'"qmp_time":([0-9.]+)', line)
        got.append('%s %s' % (q.group(1) if q else '?', ev.get('domain')))
    want = expected.splitlines()
    ok = got == want
    return ok, '%d/%d panics, names %s' % (sum(1 for g in got if g in set(want)), len(want),
                                          'match' if ok else 'DIFFER')


def check_admin(out, expected):
    ok = out.decode('utf-8', 'replace') == expected
    n = len(expected.splitlines())
    return ok, ('%d/%d panics, names match' % (n, n) if ok else
                'WRONG: %d lines, expected %d' % (len(out.splitlines()), n))


def check_grep(out, expected):
    n = len(expected.splitlines())
    try:
        lines = int(out.strip())
    except ValueError:
        return False, 'no count'
    return None, 'counts %d lines for %d panics (no names)' % (lines, n)


def check_f2b(out, expected):
    n = len(expected.splitlines())
    m = re.search(rb'Failregex: (\d+) total', out)
    if not m:
        return False, 'no "Failregex:" summary'
    hits = int(m.group(1))
    return hits == n, '%d/%d panics%s (monitor pointers, no names)' % (
        hits, n, '' if hits == n else ' WRONG')


def audit_workload(cfg, build, data, peers, results):
    watch = os.path.join(build, 'parser', 'pvpanic-watch')
    conf = os.path.join(data, 'watch.conf')
    open(conf, 'w').close()
    os.chmod(conf, 0o600)
    sizes = sorted(float(s) for s in cfg.sizes_mb.split(','))
    rss_dir = data if peers['/usr/bin/time']['argv'] else None
    mawk = peers['mawk']['argv']
    tools = [
        ('grep', 'grep -c GUEST_PANICKED (floor)', lambda f: [['grep', '-c', 'GUEST_PANICKED', f]],
         check_grep, True),
        ('audit', 'pvpanic-watch audit --json', lambda f: [[watch, 'audit', '--json', '-c', conf, f]],
         check_audit, True),
        ('mawk', 'mawk script (admin)', lambda f: [mawk + [MAWK_PROG, f]], check_admin, bool(mawk)),
        ('grep|mawk', 'grep -E | mawk script (admin)',
         lambda f: [['grep', '-E', GREP_E, f], mawk + [MAWK_PROG]], check_admin, bool(mawk)),
    ]
    per_size = {}
    wrong = []
    for mb in sizes:
        log = gen_log(data, mb)
        size = os.path.getsize(log)
        with open(log + '.expected') as f:
            expected = f.read()
        warm(log)
        times = {t[0]: [] for t in tools}
        rss = {t[0]: 0 for t in tools}
        checks = {}
        for rep in range(cfg.audit_repeats + 1):       # repeat 0 warms up, untimed
            k = rep % len(tools)
            for name, _, argvs, check, usable in tools[k:] + tools[:k]:
                if not usable:
                    continue
                # the untimed warm-up run measures peak RSS under /usr/bin/time
                wall, kb, out, codes = run_pipeline(argvs(log), rss_dir=None if rep else rss_dir)
                # audit exits 1 when it found events, grep 1 when it found none
                ok, note = check(out, expected)
                if any(c not in (0, 1) for c in codes):
                    ok, note = False, 'exit status %s' % codes
                if ok is False or name not in checks:
                    checks[name] = (ok, note)
                if rep:
                    times[name].append(wall)
                elif kb is not None:
                    rss[name] = kb
        per_size[mb] = (size, times, rss, checks)
        say('audit %g MB: %s' % (mb, ', '.join('%s %.3f s' % (n, med(t)) for n, t in times.items() if t)))
    # rows, largest size last; RSS growth relative to the smallest size
    small = sizes[0]
    for mb in sizes:
        size, times, rss, checks = per_size[mb]
        base = times['grep']
        for name, label, _, _, usable in tools:
            row = {'section': 'audit', 'workload': 'audit %s' % size_label(size), 'tool': label,
                   'figure': 'time (as MB/s)', 'unit': 'MB/s', 'baseline': name == 'grep'}
            if not usable:
                row.update(skipped='skipped: %s' % peers['mawk']['status'])
                results['rows'].append(row)
                continue
            row['ratio'] = summary(ratios(times[name], base)) if name != 'grep' else None
            row['abs'] = summary([size / 1048576 / t for t in times[name]])
            row['base_abs'] = med([size / 1048576 / t for t in base])
            row['rss_kb'] = rss[name]
            if mb != small and per_size[small][2].get(name):
                row['rss_growth'] = rss[name] / per_size[small][2][name]
                row['rss_growth_of'] = size_label(per_size[small][0])
            row['ok'], row['check'] = checks[name]
            if name in ('audit', 'grep') and row['ok'] is False:
                wrong.append('%s on %s: %s' % (label, row['workload'], row['check']))
            results['rows'].append(row)
        results['raw']['audit_%g' % mb] = {'bytes': size, 'seconds': times, 'rss_kb': rss}
        if mb == small:
            f2b_row(cfg, data, peers, size, gen_log(data, small), results)
    # targets: audit vs grep and vs the admin scripts on the largest file
    size, times, rss, _ = per_size[sizes[-1]]
    r = summary(ratios(times['audit'], times['grep']))
    target(results, 'audit within 2x of grep -c (%s)' % size_label(size), '<= 2.00x grep time',
           '%.2fx [%.2f-%.2f]' % (r['med'], r['min'], r['max']), r['med'] <= 2.0)
    for admin in ('mawk', 'grep|mawk'):
        if times[admin]:
            r = summary(ratios(times['audit'], times[admin]))
            target(results, 'audit faster than the %s admin script (%s)' % (admin, size_label(size)),
                   '< 1.00x its time', '%.2fx [%.2f-%.2f]' % (r['med'], r['min'], r['max']),
                   r['med'] < 1.0)
    if len(sizes) > 1 and rss['audit'] and per_size[small][2]['audit']:
        g = rss['audit'] / per_size[small][2]['audit']
        target(results, 'audit RSS flat: %s vs %s' % (size_label(size), size_label(per_size[small][0])),
               '<= 1.25x while the file grows %.0fx' % (size / per_size[small][0]),
               '%.2fx (%.1f -> %.1f MB)' % (g, per_size[small][2]['audit'] / 1024, rss['audit'] / 1024),
               g <= 1.25)
    return wrong


def f2b_row(cfg, data, peers, size, log, results):
    """fail2ban-regex parses every line in Python (about 10 MB/s): it runs on
    the smallest file only, against grep on that same file, pairwise."""
    p = peers['fail2ban-regex']
    row = {'section': 'audit', 'workload': 'audit %s' % size_label(size),
           'tool': 'fail2ban-regex (failregex for the event line)', 'figure': 'time (as MB/s)',
           'unit': 'MB/s', 'baseline': False}
    if not p['argv']:
        row['skipped'] = 'skipped: fail2ban-regex %s' % p['status']
        results['rows'].append(row)
        return
    with open(log + '.expected') as f:
        expected = f.read()
    base, times, rss, check = [], [], 0, None
    for _ in range(cfg.f2b_repeats):
        wall, _, _, _ = run_pipeline([['grep', '-c', 'GUEST_PANICKED', log]])
        base.append(wall)
        wall, kb, out, codes = run_pipeline([p['argv'] + [log, F2B_REGEX]], env=p['env'],
                                            rss_dir=data if peers['/usr/bin/time']['argv'] else None)
        times.append(wall)
        rss = max(rss, kb or 0)
        ok, note = check_f2b(out, expected)
        if codes != [0]:
            ok, note = False, 'exit status %s' % codes
        if check is None or ok is False:
            check = (ok, note)
    row.update(ratio=summary(ratios(times, base)), abs=summary([size / 1048576 / t for t in times]),
               base_abs=med([size / 1048576 / t for t in base]), rss_kb=rss, ok=check[0],
               check=check[1] + ('; only on this file: %.0f s per pass' % med(times)))
    results['rows'].append(row)
    results['raw']['fail2ban'] = {'bytes': size, 'seconds': times, 'grep_seconds': base}
    say('fail2ban-regex on %s: %.1f s (grep %.3f s)' % (size_label(size), med(times), med(base)))


def size_label(nbytes):
    mb = nbytes / 1048576
    return '%.2f GB' % (mb / 1024) if mb >= 1000 else '%.0f MB' % mb


# ---------------------------------------------------------------- hook

def panic_isa(xml_bytes):
    """True when the XML is a domain with exactly one <panic model='isa'>."""
    try:
        root = ET.fromstring(xml_bytes)
    except ET.ParseError:
        return False
    panics = root.findall('./devices/panic')
    return root.tag == 'domain' and len(panics) == 1 and panics[0].get('model') == 'isa'


def lines_changed(before, after):
    """How many lines of @before are not found verbatim in @after."""
    have = set(after.splitlines())
    return sum(1 for line in before.splitlines() if line not in have)


def hook_workload(cfg, build, data, peers, results):
    hook = os.path.join(build, 'hooks', 'pvpanic-hook')
    d = os.path.join(data, 'hook')
    os.makedirs(d, exist_ok=True)
    qemu = os.path.join(d, 'qemu')          # any name but pvpanic-hook = hook mode
    if not os.path.lexists(qemu):
        os.symlink(hook, qemu)
    nopanic = os.path.join(d, 'domain-nopanic.xml')
    shutil.copyfile(os.path.join(TOP, 'share', 'samples', 'domain-nopanic.xml'), nopanic)
    panic = os.path.join(d, 'domain-panic.xml')
    _, _, out, codes = run_pipeline([[hook, 'patch', nopanic]])
    if codes != [0] or not panic_isa(out):
        raise RuntimeError('pvpanic-hook patch did not add a panic device (exit %s)' % codes)
    with open(panic, 'wb') as f:
        f.write(out)
    conf = os.path.join(d, 'hook.conf')
    with open(conf, 'w') as f:
        f.write('on_missing = warn\nlog = none\n')
    os.chmod(conf, 0o644)
    env = dict(os.environ, PVPANIC_HOOK_CONF=conf)
    with open(nopanic, 'rb') as f:
        src = f.read()

    def check_copy(out, rc):
        return (rc == 0 and out == src), 'copies the input' if out == src else 'WRONG output'

    def check_patch(out, rc):
        if rc != 0 or not panic_isa(out):
            return False, 'no <panic model="isa"> (exit %d)' % rc
        n = lines_changed(src, out)
        return True, ('adds <panic model="isa">; every other line kept' if n == 0 else
                      'adds <panic model="isa">; rewrites %d of %d other lines' % (n, len(src.splitlines())))

    def check_hook(out, rc):
        return rc == 0, 'exit 0, stdout %d bytes' % len(out) if rc == 0 else 'exit %d' % rc

    xs = peers['xmlstarlet']['argv']
    vx = peers['virt-xml']['argv']
    cases = [
        # key, label, argv, stdin, check, usable
        ('cat', 'cat < dom.xml (floor)', ['cat'], nopanic, check_copy, True),
        ('patch', 'pvpanic-hook patch dom.xml', [hook, 'patch', nopanic], None, check_patch, True),
        ('hook-missing', 'hook: prepare begin, no device (warn)',
         [qemu, 'web-01', 'prepare', 'begin', '-'], nopanic, check_hook, True),
        ('hook-has', 'hook: prepare begin, has device',
         [qemu, 'web-01', 'prepare', 'begin', '-'], panic, check_hook, True),
        ('hook-started', 'hook: started begin (drain only)',
         [qemu, 'web-01', 'started', 'begin', '-'], panic, check_hook, True),
        ('hook-migrate', 'hook: migrate begin (filter)',
         [qemu, 'web-01', 'migrate', 'begin', '-'], panic, check_hook, True),
        ('xmlstarlet', 'xmlstarlet ed -s devices -t elem -n panic ...',
         (xs or ['xmlstarlet']) + ['ed', '-s', '/domain/devices', '-t', 'elem', '-n', 'panic',
                                   '-i', '/domain/devices/panic', '-t', 'attr', '-n', 'model',
                                   '-v', 'isa', nopanic], None, check_patch, bool(xs)),
        ('virt-xml', 'virt-xml --add-device --panic model=isa < dom.xml', VIRT_XML, nopanic,
         check_patch, bool(vx)),
    ]
    checks = {}
    for key, _, argv, stdin, check, usable in cases:
        if not usable:
            continue
        errpath = os.path.join(d, key + '.err')
        for _ in range(2 if key == 'virt-xml' else 10):          # warm up, and check
            _, _, out, codes = run_pipeline([argv], stdin, env, errpath)
        checks[key] = check(out, codes[0])
        if checks[key][0] is False:
            with open(errpath, errors='replace') as f:
                say('%s: %s; stderr: %s' % (key, checks[key][1], f.read().strip()[:300]))
    calls = {c[0]: [[] for _ in range(cfg.hook_blocks)] for c in cases}
    failed = {c[0]: 0 for c in cases}
    active = [c for c in cases if c[5]]
    for i in range(cfg.hook_rounds):
        block = i * cfg.hook_blocks // cfg.hook_rounds
        k = i % len(active)
        for key, _, argv, stdin, _, _ in active[k:] + active[:k]:
            if key == 'virt-xml' and i % cfg.virtxml_every:
                continue
            wall, _, _, codes = run_pipeline([argv], stdin, env)
            calls[key][block].append(wall * 1000)
            failed[key] += codes != [0]
    cat_block = [med(b) for b in calls['cat']]
    wrong = []
    by_key = {}
    for key, label, _, _, _, usable in cases:
        row = {'section': 'hook', 'workload': 'hook, wall time per call', 'tool': label,
               'figure': 'wall time per call', 'unit': 'ms', 'baseline': key == 'cat'}
        if not usable:
            row['skipped'] = 'skipped: %s %s' % (key, peers[key]['status'])
            results['rows'].append(row)
            continue
        every = [t for b in calls[key] for t in b]
        row['ratio'] = None if key == 'cat' else summary(
            ratios([med(b) for b in calls[key] if b], [c for c, b in zip(cat_block, calls[key]) if b]))
        row['abs'] = summary(every)
        row['base_abs'] = med([t for b in calls['cat'] for t in b])
        row['calls'] = len(every)
        ok, note = checks[key]
        if failed[key]:
            ok, note = False, '%d of %d timed calls failed' % (failed[key], len(every))
        row['ok'], row['check'] = ok, note
        if key not in ('xmlstarlet', 'virt-xml') and ok is False:
            wrong.append('%s: %s' % (label, note))
        results['rows'].append(row)
        by_key[key] = row
    results['raw']['hook_block_medians_ms'] = {k: [med(b) for b in v if b] for k, v in calls.items()}
    for key in ('hook-missing', 'hook-has'):
        r = by_key[key]
        target(results, '%s within 2x of cat' % r['tool'], '<= 2.00x cat',
               '%.2fx [%.2f-%.2f]' % (r['ratio']['med'], r['ratio']['min'], r['ratio']['max']),
               r['ratio']['med'] <= 2.0)
    say('hook: ' + ', '.join('%s %.2f ms' % (k, med([t for b in v for t in b]))
                             for k, v in calls.items() if any(v)))
    return wrong


# ---------------------------------------------------------------- follow

def load_bench_follow():
    sys.dont_write_bytecode = True      # no __pycache__ in the source tree
    spec = importlib.util.spec_from_file_location('bench_follow', os.path.join(HERE, 'bench-follow.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def follow_workload(cfg, build, data, results):
    bf = load_bench_follow()
    watch = os.path.join(build, 'parser', 'pvpanic-watch')
    rates = [float(r) for r in cfg.follow_rates.split(',')]
    need = max(rates) * cfg.follow_seconds
    logs = sorted((os.path.getsize(os.path.join(data, f)), os.path.join(data, f))
                  for f in os.listdir(data) if f.endswith('.log'))
    stream = next((p for s, p in logs if s >= need * 1048576), None) or gen_log(data, need + 8)

    def progress(r):
        lat = r['lat_ms']
        say('follow %2d: %-9s %4g MB/s  %d/%d alerted  p50 %.2f ms  p99 %.2f ms  CPU %.1f%%'
            % (r['repeat'], r['tool'], r['rate_mbs'], r['alerted'], r['panics_written'],
               bf.pct(lat, 50), bf.pct(lat, 99), r['cpu_pct']))
    work = os.path.join(data, 'follow')
    os.makedirs(work, exist_ok=True)
    try:
        runs = bf.measure(watch, stream, rates, cfg.follow_seconds, cfg.follow_repeats, work, progress)
    except RuntimeError as e:
        return ['follow: %s' % e]
    results['raw']['follow'] = runs
    for rate in rates:
        fol = [r for r in runs if r['rate_mbs'] == rate and r['tool'] == 'follow']
        tg = [r for r in runs if r['rate_mbs'] == rate and r['tool'] == 'tail|grep']
        n = fol[0]['panics_written']
        wl = 'follow %g MB/s' % rate
        tool = 'pvpanic-watch follow vs tail -F | grep'
        tg_ok = all(r['alerted'] == r['panics_written'] for r in tg)
        figures = [
            ('alert latency p50', 'lat_p50_ms', 'ms', '%d panics per run, %s' % (
                n, 'each alerted once' if all(bf.exactly_once(r) for r in fol) else 'WRONG')),
            ('alert latency p99', 'lat_p99_ms', 'ms', 'p99 of %d samples per run%s%s' % (
                n, ' (so about its max)' if n < 100 else '',
                '' if tg_ok else '; tail|grep MISSED some')),
            ('CPU, % of one core', 'cpu_pct', '%', '%.2f CPU-s/GB (tail|grep %.2f)' % (
                med([r['cpu_s_per_gb'] for r in fol]), med([r['cpu_s_per_gb'] for r in tg]))),
        ]
        for figure, key, unit, note in figures:
            row = {'section': 'follow', 'workload': wl, 'tool': tool, 'figure': figure, 'unit': unit,
                   'baseline': False,
                   'ratio': summary(ratios([r[key] for r in fol], [r[key] for r in tg])),
                   'abs': summary([r[key] for r in fol]), 'base_abs': med([r[key] for r in tg]),
                   'rss_kb': max(r['peak_rss_kb'] for r in fol) if key == 'cpu_pct' else None,
                   'ok': True if key == 'lat_p50_ms' else None, 'check': note}
            results['rows'].append(row)
        worst = max(r['lat_p99_ms'] for r in fol)
        target(results, 'follow p99 alert latency at %g MB/s' % rate, '< 10 ms',
               '%.2f ms median, worst run %.2f ms' % (med([r['lat_p99_ms'] for r in fol]), worst),
               worst < 10.0)
        if rate == 10:
            c = summary([r['cpu_pct'] for r in fol])
            target(results, 'follow CPU at 10 MB/s', '< 5% of one core',
                   '%.2f%% [%.2f-%.2f]' % (c['med'], c['min'], c['max']), c['med'] < 5.0)
    return []


def target(results, what, goal, measured, met):
    results['targets'].append({'what': what, 'target': goal, 'measured': measured, 'met': bool(met)})


# ---------------------------------------------------------------- rendering

def fmt_num(v, unit):
    if v is None:
        return '-'
    if unit == 'MB/s':
        return '%.0f' % v
    if unit == '%':
        return '%.2f' % v if v < 10 else '%.1f' % v
    return '%.3f' % v if v < 1 else '%.2f' % v if v < 100 else '%.0f' % v


def fmt_range(s, unit, suffix=''):
    if not s:
        return '-'
    return '%s%s [%s-%s]' % (fmt_num(s['med'], unit), suffix, fmt_num(s['min'], unit),
                             fmt_num(s['max'], unit))


def fmt_ratio(s):
    return '%.2f [%.2f-%.2f]' % (s['med'], s['min'], s['max']) if s else '-'


def md_cell(text):
    return str(text).replace('|', '\\|')


def render(res):
    """The markdown report of results @res (pure: the same input gives the
    same text; tests/bench_smoke.sh compares it with a golden file)."""
    st = res['stamp']
    m = st['machine']
    load = st['load']
    out = ['# pvpanic-tools benchmarks', '']
    out.append('%s, commit %s, `%s` (%s profile, %s).' % (
        st['date'], st['git'], st['command'], st['profile'], fmt_duration(st['duration_s'])))
    out.append('Machine: %d CPUs (%s), %.1f GiB RAM, Linux %s, %s.' % (
        m['nproc'], m['cpu'], m['ram_gib'] or 0, m['kernel'], m['os']))
    out.append('Load average (1 min, sampled every 5 s) during the run: start %.2f, median %.2f, '
               'max %.2f, end %.2f%s.' % (
                   load['start'], load['median'], load['max'], load['end'],
                   ': the machine was shared with other work, absolute figures are noisy, '
                   'ratios less so' if load['max'] > 0.5 * m['nproc'] else ''))
    out.append('')
    out.append('x baseline = program / baseline for the figure named (time for the audit '
               'rows too, which show it as MB/s), both measured in this run and interleaved; '
               'median [min-max] over the repeats (audit: %d runs per tool, fail2ban %d; hook: '
               'per-call medians of %d blocks; follow: %d runs of %g s per rate). Below 1 = '
               'faster / less than the baseline.' % (
                   st['settings']['audit_repeats'], st['settings']['f2b_repeats'],
                   st['settings']['hook_blocks'], st['settings']['follow_repeats'],
                   st['settings']['follow_seconds']))
    out.append('')
    out.append('| Workload | Program (same input) | Figure | x baseline: median [min-max] | '
               'Program: median [min-max] | Baseline: median | Peak RSS | Check |')
    out.append('|---|---|---|---|---|---|---|---|')
    for r in res['rows']:
        if r.get('skipped'):
            out.append('| %s | %s | %s | - | - | - | - | %s |' % (
                md_cell(r['workload']), md_cell(r['tool']), md_cell(r['figure']), md_cell(r['skipped'])))
            continue
        unit = r['unit']
        suffix = {'MB/s': ' MB/s', 'ms': ' ms', '%': '%'}.get(unit, '')
        rss = '-'
        if r.get('rss_kb'):
            rss = '%.1f MB' % (r['rss_kb'] / 1024)
            if r.get('rss_growth'):
                rss += ' (%.2fx %s)' % (r['rss_growth'], r['rss_growth_of'])
        check = r.get('check', '')
        if r.get('ok') is False:
            check = 'FAIL: ' + check
        elif r.get('ok') is True:
            check = 'ok: ' + check
        out.append('| %s | %s | %s | %s | %s | %s | %s | %s |' % (
            md_cell(r['workload']), md_cell(r['tool'] + (' = baseline' if r['baseline'] else '')),
            md_cell(r['figure']),
            '1.00 (baseline)' if r['baseline'] else fmt_ratio(r.get('ratio')),
            md_cell(fmt_range(r.get('abs'), unit, suffix)),
            fmt_num(r.get('base_abs'), unit) + suffix if r.get('base_abs') is not None else '-',
            rss, md_cell(check)))
    out.append('')
    out.append('Targets (DESIGN.md):')
    out.append('')
    for t in res['targets']:
        out.append('- %s %s: %s (target %s)' % ('MET   ' if t['met'] else 'MISSED', t['what'],
                                                t['measured'], t['target']))
    if res.get('errors'):
        out.append('')
        out.append('Errors in OUR outputs (the figures above are not for a correct run):')
        out.append('')
        for e in res['errors']:
            out.append('- %s' % e)
    out.append('')
    out.append('Peers: %s.' % '; '.join('%s %s' % (k, v) for k, v in sorted(res['peers'].items())))
    out.append('')
    out.append('How: every program writes to a pipe read by the harness (GNU grep stops at the '
               'first match when its stdout is /dev/null); wall time from spawn to exit; peak RSS '
               'from /usr/bin/time -f %M on an extra untimed run, the largest process of a '
               'pipeline; page cache warm. The log is bench/gen-biglog.py: the real libvirt 9.0 '
               'debug log repeated with shifted times, fresh monitor pointers and renamed guests, '
               'its panics and names known in advance. fail2ban-regex runs on the smallest file '
               'only (about 10 MB/s), against grep on that file. follow: a writer appends the log '
               'at the rate in 10 ms ticks; latency = alert read from the json sink pipe minus the '
               'return of the write that completed the event line; CPU from /proc/PID/schedstat of '
               'the follower (tail and grep both for the baseline).')
    return '\n'.join(out) + '\n'


def fmt_duration(s):
    return '%d min %02d s' % (s // 60, s % 60) if s >= 60 else '%.0f s' % s


def write_atomic(path, text):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
    os.rename(tmp, path)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--build', help='build directory (parser/pvpanic-watch, hooks/pvpanic-hook)')
    ap.add_argument('--data', help='generated data go to a new directory in DATA (default '
                    'BUILD/bench-data), removed at the end')
    ap.add_argument('--results', help='write latest.md and latest.json there (make bench: '
                    'bench/results of the source tree); latest-quick.* or latest-custom.* '
                    'unless the full profile ran')
    ap.add_argument('--quick', action='store_true', help='the ~3 minute smoke profile')
    ap.add_argument('--only', default='audit,hook,follow')
    ap.add_argument('--install-peers', action='store_true',
                    help='apt-get missing peers (root or password-less sudo only)')
    ap.add_argument('--keep-data', action='store_true')
    ap.add_argument('--command', default=None, help='how this run was started (for the stamp)')
    ap.add_argument('--render', metavar='JSON', help='print the table of saved results and exit')
    for k, v in PROFILES['full'].items():
        ap.add_argument('--' + k.replace('_', '-'), type=type(v), default=None)
    a = ap.parse_args()

    if a.render:
        with open(a.render) as f:
            sys.stdout.write(render(json.load(f)))
        return 0
    if not a.build:
        ap.error('--build is required')
    profile = 'quick' if a.quick else 'full'
    cfg = argparse.Namespace(**PROFILES[profile])
    for k in PROFILES['full']:
        if getattr(a, k) is not None:
            setattr(cfg, k, getattr(a, k))
            profile = 'custom'
    build = os.path.abspath(a.build)
    for prog in ('parser/pvpanic-watch', 'hooks/pvpanic-hook'):
        if not os.access(os.path.join(build, prog), os.X_OK):
            say('no %s: build first' % os.path.join(build, prog))
            return 2
    parent = os.path.abspath(a.data or os.path.join(build, 'bench-data'))
    os.makedirs(parent, exist_ok=True)
    data = tempfile.mkdtemp(prefix='run.', dir=parent)   # only ever remove what we made
    only = set(a.only.split(','))

    t0 = time.monotonic()
    # stamped at the start: the binaries are what the tree held then, and
    # others may commit while this runs
    started = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
    commit = git_stamp()
    sampler = LoadSampler()
    sampler.start()
    results = {'schema': SCHEMA, 'rows': [], 'targets': [], 'raw': {}, 'errors': []}
    say('%s profile; data in %s; load average %.2f on %d CPUs' % (
        profile, data, os.getloadavg()[0], len(os.sched_getaffinity(0))))
    try:
        peers = find_peers(a.install_peers, data)
        durations = {}
        for name, fn in (('audit', lambda: audit_workload(cfg, build, data, peers, results)),
                         ('hook', lambda: hook_workload(cfg, build, data, peers, results)),
                         ('follow', lambda: follow_workload(cfg, build, data, results))):
            if name not in only:
                continue
            say('%s: start (load average %.2f)' % (name, os.getloadavg()[0]))
            w0 = time.monotonic()
            try:
                results['errors'] += fn()
            except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
                say('%s: %s' % (name, e))
                results['errors'].append('%s: %s' % (name, e))
            durations[name] = round(time.monotonic() - w0, 1)
            say('%s: %.0f s' % (name, durations[name]))
    finally:
        if a.keep_data:
            say('kept %s' % data)
        else:
            shutil.rmtree(data, ignore_errors=True)
            try:
                os.rmdir(parent)
            except OSError:
                pass
    sampler.stop.set()
    samples = sampler.samples + [os.getloadavg()[0]]
    results['peers'] = {k: v['status'] for k, v in peers.items()}
    results['stamp'] = {
        'date': started, 'git': commit, 'machine': machine_stamp(),
        'command': a.command or ' '.join(['bench/bench.py'] + sys.argv[1:]),
        'profile': profile, 'settings': vars(cfg), 'duration_s': round(time.monotonic() - t0),
        'workload_s': durations,
        'load': {'start': samples[0], 'end': samples[-1], 'median': med(samples),
                 'max': max(samples)},
    }
    text = render(results)
    sys.stdout.write('\n' + text)
    if a.results and only < {'audit', 'hook', 'follow'}:
        say('partial run (--only %s): not written to %s' % (a.only, a.results))
    elif a.results:
        # only the full profile replaces the committed table (README quotes it)
        stem = os.path.join(os.path.abspath(a.results),
                            'latest' if profile == 'full' else 'latest-' + profile)
        os.makedirs(a.results, exist_ok=True)
        write_atomic(stem + '.json', json.dumps(results, indent=1) + '\n')
        write_atomic(stem + '.md', text)
        say('wrote %s.md and %s.json' % (stem, os.path.basename(stem)))
    return 1 if results['errors'] else 0


if __name__ == '__main__':
    sys.exit(main())
