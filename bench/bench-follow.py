#!/usr/bin/env python3
"""bench-follow: alert latency and CPU of `pvpanic-watch follow`, against
`tail -F FILE | grep --line-buffered GUEST_PANICKED` on the same stream.

A writer appends a real-shape libvirt debug log (bench/gen-biglog.py: the
real corpus repeated with fresh pointers and times, two panics per 4.3 MB)
at a fixed rate (1, 10, 50 MB/s). For every panic it notes when the write
that completed its QEMU_MONITOR_RECV_EVENT line returned; the follower's
output is read from a pipe and each alert is timed on arrival. Latency =
arrival - write. CPU = the follower's CPU time over the run (every process
of its process group: tail AND grep; from /proc/PID/schedstat, in ns, with
/proc/PID/stat ticks as the fallback), as % of one core and as CPU seconds
per GB followed. Every panic must be alerted exactly once by follow
(checked), so the figures are for a correct run. Each rate is run REPEATS
times, follow and tail|grep alternating, so the two see the same machine.

    bench/bench-follow.py --watch build/parser/pvpanic-watch [--rates 1,10,50]
                          [--seconds 20] [--repeats 1] [--stream LOG] [--json OUT.json]

bench/bench.py (make bench) imports this file and calls measure().
"""
import argparse
import json
import mmap
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RECV = re.compile(rb'QEMU_MONITOR_RECV_EVENT: mon=\S+ event=\{"timestamp": \{"seconds": (\d+), '
                  rb'"microseconds": (\d+)\}, "event": "GUEST_PANICKED"[^\n]*\n')
CLK_TCK = os.sysconf('SC_CLK_TCK')
TOOLS = ('follow', 'tail|grep')
READY_TIMEOUT_S = 60          # valgrind or a loaded machine: seconds, not ms


def group_pids(pgid):
    """Every live process of process group @pgid."""
    pids = []
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % pid) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            pids.append(pid)
    return pids


def cpu_seconds(pgid):
    """CPU time of every process in process group @pgid (tail AND grep).
    schedstat counts nanoseconds; stat's utime+stime only 10 ms ticks, which
    is most of the figure at 1 MB/s."""
    total = 0.0
    for pid in group_pids(pgid):
        try:
            with open('/proc/%s/schedstat' % pid) as f:
                total += int(f.read().split()[0]) / 1e9
            continue
        except (OSError, ValueError, IndexError):
            pass
        try:
            with open('/proc/%s/stat' % pid) as f:
                fields = f.read().rsplit(')', 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
        except OSError:
            continue
    return total


def peak_rss_kb(pgid):
    """Largest VmHWM (peak RSS) among the processes of @pgid."""
    peak = 0
    for pid in group_pids(pgid):
        try:
            with open('/proc/%s/status' % pid) as f:
                for line in f:
                    if line.startswith('VmHWM:'):
                        peak = max(peak, int(line.split()[1]))
        except (OSError, ValueError):
            continue
    return peak


def reader(pipe, arrivals, key_of):
    """Timestamp every line of @pipe on arrival; key it by its panic."""
    for line in iter(pipe.readline, b''):
        t = time.monotonic()
        k = key_of(line)
        if k is not None:
            arrivals.append((k, t))


def drain_stderr(pipe, ready):
    """Keep follow's stderr flowing; set @ready at its 'ready:' line."""
    for line in iter(pipe.readline, b''):
        if b' ready: ' in line:
            ready.set()


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


def run(cmd, data, marks, rate_mbs, seconds, workdir, key_of, shell=False, wait_ready=False):
    """Stream @data into workdir/libvirtd.log at @rate_mbs while @cmd follows it."""
    log = os.path.join(workdir, 'libvirtd.log')
    open(log, 'wb').close()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE if wait_ready else subprocess.DEVNULL,
                            shell=shell, start_new_session=True)
    arrivals = []
    th = threading.Thread(target=reader, args=(proc.stdout, arrivals, key_of), daemon=True)
    th.start()
    if wait_ready:
        ready = threading.Event()
        threading.Thread(target=drain_stderr, args=(proc.stderr, ready), daemon=True).start()
        if not ready.wait(READY_TIMEOUT_S):
            os.killpg(proc.pid, 9)
            proc.wait()
            raise RuntimeError('%s did not log "ready:" within %d s' % (cmd[0], READY_TIMEOUT_S))
    time.sleep(1.0)                      # tail has no ready signal: let it open the file
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
    rss = peak_rss_kb(proc.pid)
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
        'peak_rss_kb': rss,
    }


def pct(values, p):
    if not values:
        return float('nan')
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def summarize(r):
    """Replace the latency samples of result @r by p50/p99/max."""
    lat = r.pop('lat_ms')
    r.update({'lat_p50_ms': pct(lat, 50), 'lat_p99_ms': pct(lat, 99),
              'lat_max_ms': max(lat) if lat else None, 'samples': len(lat)})
    return r


def exactly_once(r):
    """follow must alert every panic written, and each once."""
    return r['alerted'] == r['panics_written'] and r['alert_lines'] == r['panics_written']


def measure(watch, stream, rates, seconds, repeats, workdir, progress=None):
    """Every rate, @repeats times, follow then tail|grep, on the bytes of
    @stream (a gen-biglog.py log). Returns the results (latency samples
    summarized) in run order; raises RuntimeError if follow missed or
    repeated an alert."""
    with open(stream, 'rb') as f:
        data = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
    marks = [(m.end(), round(int(m.group(1)) + int(m.group(2)) / 1e6, 6))
             for m in RECV.finditer(data)]
    results = []
    for rep in range(repeats):
        for rate in rates:
            for tool in TOOLS:
                d = os.path.join(workdir, 'run')
                shutil.rmtree(d, ignore_errors=True)
                os.makedirs(d)
                log = os.path.join(d, 'libvirtd.log')
                if tool == 'follow':
                    conf = os.path.join(d, 'watch.conf')
                    open(conf, 'w').close()
                    os.chmod(conf, 0o600)
                    cmd = [watch, 'follow', '-v', '--log', 'stderr', '-c', conf, '--no-state',
                           '--json', '-', log]
                    r = run(cmd, data, marks, rate, seconds, d, key_follow, wait_ready=True)
                else:
                    cmd = 'exec tail -F -n +1 %s | grep --line-buffered GUEST_PANICKED' % log
                    r = run(cmd, data, marks, rate, seconds, d, key_grep, shell=True)
                r['tool'] = tool
                r['repeat'] = rep
                if progress:
                    progress(r)
                once = exactly_once(r)
                results.append(summarize(r))
                if tool == 'follow' and not once:
                    raise RuntimeError('follow alerted %d of %d panics in %d lines (must be exactly once)'
                                       % (r['alerted'], r['panics_written'], r['alert_lines']))
    data.close()
    return results


def print_result(r):
    lat = r['lat_ms']
    print('%-9s %5.0f MB/s  panics %3d alerted %3d  latency p50 %7.2f ms  p99 %7.2f ms  '
          'max %7.2f ms  CPU %5.1f%%  %6.2f CPU-s/GB'
          % (r['tool'], r['rate_mbs'], r['panics_written'], r['alerted'], pct(lat, 50),
             pct(lat, 99), max(lat) if lat else float('nan'), r['cpu_pct'], r['cpu_s_per_gb']),
          flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--watch', required=True)
    ap.add_argument('--rates', default='1,10,50')
    ap.add_argument('--seconds', type=float, default=20)
    ap.add_argument('--repeats', type=int, default=1)
    ap.add_argument('--stream', help='log to stream (default: generate one)')
    ap.add_argument('--json', help='write results here')
    ap.add_argument('--workdir', default=None)
    a = ap.parse_args()

    work = a.workdir or tempfile.mkdtemp(prefix='pvpanic-bench-follow.')
    rates = [float(r) for r in a.rates.split(',')]
    stream = a.stream
    if not stream:
        stream = os.path.join(work, 'stream.log')
        subprocess.check_call([sys.executable, os.path.join(HERE, 'gen-biglog.py'),
                               '--size-mb', str(max(rates) * a.seconds + 8), '--out', stream],
                              stdout=subprocess.DEVNULL)
    try:
        results = measure(a.watch, stream, rates, a.seconds, a.repeats, work, progress=print_result)
    except RuntimeError as e:
        print('bench-follow: %s' % e, file=sys.stderr)
        sys.exit(1)
    finally:
        if not a.workdir:
            shutil.rmtree(work, ignore_errors=True)
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(results, f, indent=1)


if __name__ == '__main__':
    main()
