#!/usr/bin/env python3
"""bench-follow: alert latency and CPU of `pvpanic-watch follow`, against
`tail -F FILE | grep --line-buffered GUEST_PANICKED` on the same stream.

A writer appends a real-shape libvirt debug log (bench/gen-biglog.py: the
real corpus repeated with fresh pointers and times, two panics per 4.3 MB)
at a fixed rate (1, 10, 50 MB/s). For every panic it notes when the write
that completed its QEMU_MONITOR_RECV_EVENT line returned; the follower's
output is read from a pipe and each alert is timed on arrival. Latency =
arrival - write. CPU = the follower's utime+stime over the run (from
/proc), as % of one core and as CPU seconds per GB followed. Every panic
must be alerted exactly once by follow (checked), so the figures are for a
correct run.

    bench/bench-follow.py --watch build/parser/pvpanic-watch [--rates 1,10,50]
                          [--seconds 20] [--json OUT.json]
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RECV = re.compile(rb'QEMU_MONITOR_RECV_EVENT: mon=\S+ event=\{"timestamp": \{"seconds": (\d+), '
                  rb'"microseconds": (\d+)\}, "event": "GUEST_PANICKED"[^\n]*\n')
CLK_TCK = os.sysconf('SC_CLK_TCK')


def cpu_seconds(pgid):
    """utime+stime of every process in process group @pgid (tail AND grep)."""
    total = 0
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % pid) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def reader(pipe, arrivals, key_of):
    """Timestamp every line of @pipe on arrival; key it by its panic."""
    for line in iter(pipe.readline, b''):
        t = time.monotonic()
        k = key_of(line)
        if k is not None:
            arrivals.append((k, t))


def key_follow(line):
    try:
        ev = json.loads(line)
    except ValueError:
        return None
    if ev.get('event') != 'panic' or ev.get('qmp_time') is None:
        return None
    return round(ev['qmp_time'], 6)


def key_grep(line):
    m = re.search(rb'"seconds": (\d+), "microseconds": (\d+)\}, "event": "GUEST_PANICKED"', line)
    return round(int(m.group(1)) + int(m.group(2)) / 1e6, 6) if m else None


def run(cmd, data, marks, rate_mbs, seconds, workdir, key_of, shell=False):
    """Stream @data into workdir/libvirtd.log at @rate_mbs while @cmd follows it."""
    log = os.path.join(workdir, 'libvirtd.log')
    open(log, 'wb').close()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            shell=shell, start_new_session=True)
    arrivals = []
    th = threading.Thread(target=reader, args=(proc.stdout, arrivals, key_of), daemon=True)
    th.start()
    time.sleep(1.0)                      # let it start and open the file
    cpu0 = cpu_seconds(proc.pid)
    limit = min(len(data), int(rate_mbs * 1048576 * seconds))
    tick = 0.01
    chunk = max(4096, int(rate_mbs * 1048576 * tick))
    writes = {}
    next_mark = 0
    t0 = time.monotonic()
    with open(log, 'ab', buffering=0) as out:
        off = 0
        while off < limit:
            n = min(chunk, limit - off)
            out.write(data[off:off + n])
            now = time.monotonic()
            off += n
            while next_mark < len(marks) and marks[next_mark][0] <= off:
                writes[marks[next_mark][1]] = now
                next_mark += 1
            target = t0 + (off / 1048576) / rate_mbs
            if target > now:
                time.sleep(target - now)
    elapsed = time.monotonic() - t0
    time.sleep(1.5)                      # drain
    cpu1 = cpu_seconds(proc.pid)
    os.killpg(proc.pid, 15)
    proc.wait()
    th.join(timeout=2)
    first = {}
    for k, t in arrivals:
        first.setdefault(k, t)
    lat = [(first[k] - writes[k]) * 1000 for k in writes if k in first]
    return {
        'rate_mbs': rate_mbs, 'bytes': limit, 'elapsed_s': elapsed,
        'panics_written': len(writes), 'alerted': len([k for k in writes if k in first]),
        'alert_lines': len(arrivals), 'lat_ms': lat,
        'cpu_s': cpu1 - cpu0, 'cpu_pct': 100.0 * (cpu1 - cpu0) / elapsed,
        'cpu_s_per_gb': (cpu1 - cpu0) / (limit / 2**30) if limit else 0,
    }


def pct(values, p):
    if not values:
        return float('nan')
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--watch', required=True)
    ap.add_argument('--rates', default='1,10,50')
    ap.add_argument('--seconds', type=float, default=20)
    ap.add_argument('--json', help='write results here')
    ap.add_argument('--workdir', default=None)
    a = ap.parse_args()

    work = a.workdir or tempfile.mkdtemp(prefix='pvpanic-bench-follow.')
    rates = [float(r) for r in a.rates.split(',')]
    size_mb = max(rates) * a.seconds + 8
    big = os.path.join(work, 'stream.log')
    subprocess.check_call([sys.executable, os.path.join(HERE, 'gen-biglog.py'),
                           '--size-mb', str(size_mb), '--out', big], stdout=subprocess.DEVNULL)
    data = open(big, 'rb').read()
    marks = [(m.end(), round(int(m.group(1)) + int(m.group(2)) / 1e6, 6)) for m in RECV.finditer(data)]
    results = []
    for rate in rates:
        for tool in ('follow', 'tail|grep'):
            d = os.path.join(work, 'run')
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
            log = os.path.join(d, 'libvirtd.log')
            if tool == 'follow':
                conf = os.path.join(d, 'watch.conf')
                open(conf, 'w').close()
                os.chmod(conf, 0o600)
                cmd = [a.watch, 'follow', '--log', 'syslog', '-c', conf, '--no-state',
                       '--json', '-', log]
                r = run(cmd, data, marks, rate, a.seconds, d, key_follow)
            else:
                cmd = 'exec tail -F -n +1 %s | grep --line-buffered GUEST_PANICKED' % log
                r = run(cmd, data, marks, rate, a.seconds, d, key_grep, shell=True)
            r['tool'] = tool
            results.append(r)
            lat = r['lat_ms']
            print('%-9s %5.0f MB/s  panics %3d alerted %3d  latency p50 %7.2f ms  p99 %7.2f ms  '
                  'max %7.2f ms  CPU %5.1f%%  %6.2f CPU-s/GB'
                  % (tool, rate, r['panics_written'], r['alerted'], pct(lat, 50), pct(lat, 99),
                     max(lat) if lat else float('nan'), r['cpu_pct'], r['cpu_s_per_gb']), flush=True)
            if tool == 'follow' and (r['alerted'] != r['panics_written'] or
                                     r['alert_lines'] != r['panics_written']):
                print('bench-follow: follow alerted %d of %d panics in %d lines (must be exactly once)'
                      % (r['alerted'], r['panics_written'], r['alert_lines']), file=sys.stderr)
                sys.exit(1)
    if a.json:
        for r in results:
            lat = r.pop('lat_ms')
            r.update({'lat_p50_ms': pct(lat, 50), 'lat_p99_ms': pct(lat, 99),
                      'lat_max_ms': max(lat) if lat else None, 'samples': len(lat)})
        with open(a.json, 'w') as f:
            json.dump(results, f, indent=1)
    if not a.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
