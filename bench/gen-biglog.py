#!/usr/bin/env python3
"""gen-biglog: build a large real-shape libvirt debug log for benchmarks.

The real libvirt 9.0 debug log of tests/data/logparse (4.26 MB, two guests
that panic, one monitor pointer reused by both) is repeated N times. Copy k
is shifted by k days (log timestamps and QMP timestamps alike), its pointers
get a fresh prefix (0x7f3a... -> 0x7KKK...) so every copy has its own
monitors (and the in-copy reuse stays), and the guests are renamed
panictest-KKKK / win2016-KKKK. So the result holds exactly 2*N panic events
with known names, written to OUT.expected as "QMP-time domain" lines.

    bench/gen-biglog.py --size-mb 1024 --out /tmp/pvpanic-bench/big.log

Generated files are for /tmp or a build directory: never commit them.
"""
import argparse
import datetime
import gzip
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CORPUS = os.path.join(HERE, '..', 'tests', 'data', 'logparse', 'libvirt-9.0-debug.log.gz')
BASE_DAY = datetime.date(2026, 11, 25)
SECONDS = re.compile(rb'"seconds": (\d+)')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--out', required=True, help='output file')
    ap.add_argument('--size-mb', type=float, help='approximate size in MB (1 MB = 2^20 bytes)')
    ap.add_argument('--copies', type=int, help='number of copies of the corpus')
    ap.add_argument('--corpus', default=DEFAULT_CORPUS, help='gzip-compressed libvirt log')
    args = ap.parse_args()

    corpus = gzip.open(args.corpus).read()
    if args.copies:
        copies = args.copies
    elif args.size_mb:
        copies = max(1, round(args.size_mb * 1048576 / len(corpus)))
    else:
        ap.error('give --size-mb or --copies')
    if copies > 4095:
        ap.error('at most 4095 copies (pointer prefixes)')
    if b'0x7f3a' not in corpus or b'panictest' not in corpus or b'win2016' not in corpus:
        sys.exit('gen-biglog: unexpected corpus (no 0x7f3a pointers / panictest / win2016)')
    events = [(int(m.group(1)), m) for m in re.finditer(
        rb'QEMU_MONITOR_RECV_EVENT: mon=\S+ event=\{"timestamp": \{"seconds": (\d+), '
        rb'"microseconds": (\d+)\}, "event": "GUEST_PANICKED"', corpus)]
    if len(events) != 2:
        sys.exit('gen-biglog: the corpus should hold exactly two panics')

    tmp = args.out + '.tmp'
    with open(tmp, 'wb') as out, open(args.out + '.expected', 'w') as exp:
        for k in range(copies):
            day = (BASE_DAY + datetime.timedelta(days=k)).isoformat().encode()
            shift = k * 86400
            text = corpus.replace(b'2026-11-25', day)
            text = SECONDS.sub(lambda m: b'"seconds": %d' % (int(m.group(1)) + shift), text)
            text = text.replace(b'0x7f3a', b'0x7%03x' % k)
            text = text.replace(b'panictest', b'panictest-%04d' % k)
            text = text.replace(b'win2016', b'win2016-%04d' % k)
            out.write(text)
            for (sec, m), name in zip(events, ('panictest', 'win2016')):
                exp.write('%d.%06d %s-%04d\n' % (sec + shift, int(m.group(2)), name, k))
    os.rename(tmp, args.out)
    size = os.path.getsize(args.out)
    print('%s: %d copies, %.1f MB, %d panics' % (args.out, copies, size / 1048576, 2 * copies))


if __name__ == '__main__':
    main()
