#!/usr/bin/env python3
"""Write a libvirt 9.0-shaped debug daemon log with known guest panics.

Used by the follow tests: every guest gets a monitor (Connect monitor /
QEMU_MONITOR_NEW / Entering monitor), some filler traffic (multi-line
QEMU_MONITOR_SEND_MSG records), then panics (the full debug group of
records), and its monitor is closed. Monitor pointers are reused by later
guests, as libvirt does. The output is deterministic for a given seed.

usage: gen-panics.py [--guests N] [--panics-per-guest K] [--filler N]
                     [--seed S] [--start EPOCH] [--names-file FILE] > log
"""
import argparse
import random
import sys
import time


def ts(t):
    ms = int(round(t * 1000))
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms // 1000)) + ".%03d+0000" % (ms % 1000)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--guests", type=int, default=10)
    ap.add_argument("--panics-per-guest", type=int, default=1)
    ap.add_argument("--filler", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", type=float, default=1795600000.0)
    ap.add_argument("--names-file", help="write 'NAME' per panic, one per line")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    out = sys.stdout.buffer
    t = a.start
    names = []
    pool = [0x7F3A24011010 + 0x100 * i for i in range(4)]   # reused pointers
    main_tid = 14181
    for g in range(a.guests):
        name = "guest-%03d" % g
        mon = pool[g % len(pool)]
        vm = 0x5625600B8000 + 0x10 * g
        evtid = 15000 + g
        lines = []
        t += 0.2
        lines.append("%s: %d: debug : qemuProcessWaitForMonitor:2291 : Connect monitor to vm=0x%x name='%s'"
                     % (ts(t), main_tid, vm, name))
        lines.append("%s: %d: info : qemuMonitorOpenInternal:647 : QEMU_MONITOR_NEW: mon=0x%x fd=32"
                     % (ts(t), main_tid, mon))
        lines.append("%s: %d: debug : qemuDomainObjEnterMonitorInternal:5787 : Entering monitor (mon=0x%x vm=0x%x name=%s)"
                     % (ts(t), main_tid, mon, vm, name))
        for i in range(a.filler):
            t += 0.001
            lines.append("%s: %d: info : qemuMonitorSend:861 : QEMU_MONITOR_SEND_MSG: mon=0x%x msg={\"execute\":\"query-status\",\"id\":\"libvirt-%d\"}\n fd=-1"
                         % (ts(t), main_tid, mon, i + 1))
            lines.append("%s: %d: debug : virThreadJobSet:94 : Thread %d is now running job filler-%d"
                         % (ts(t), main_tid, main_tid, rnd.randrange(1 << 30)))
        for k in range(a.panics_per_guest):
            t += 0.5 + rnd.random()
            sec = int(t)
            usec = int((t - sec) * 1e6)
            ev = '{"timestamp": {"seconds": %d, "microseconds": %d}, "event": "GUEST_PANICKED", "data": {"action": "pause"}}' % (sec, usec)
            lines.append("%s: %d: debug : qemuMonitorJSONIOProcessLine:189 : Line [%s]" % (ts(t), evtid, ev))
            lines.append("%s: %d: info : qemuMonitorJSONIOProcessLine:203 : QEMU_MONITOR_RECV_EVENT: mon=0x%x event=%s"
                         % (ts(t), evtid, mon, ev))
            lines.append("%s: %d: debug : qemuMonitorJSONIOProcessEvent:152 : mon=0x%x obj=0x7f0040000b90"
                         % (ts(t), evtid, mon))
            lines.append("%s: %d: debug : qemuMonitorEmitEvent:1069 : mon=0x%x event=GUEST_PANICKED"
                         % (ts(t), evtid, mon))
            lines.append("%s: %d: debug : qemuProcessHandleEvent:546 : vm=0x%x" % (ts(t), evtid, vm))
            lines.append("%s: %d: debug : qemuMonitorJSONIOProcessEvent:175 : handle GUEST_PANICKED handler=0x7f004866f280 data=0x7f004002a200"
                         % (ts(t), evtid))
            lines.append("%s: %d: debug : qemuMonitorEmitGuestPanic:1116 : mon=0x%x" % (ts(t), evtid, mon))
            lines.append("%s: 14343: debug : qemuProcessEventHandler:3959 : vm=0x%x, event=1" % (ts(t), vm))
            lines.append("%s: 14343: debug : processGuestPanicEvent:3545 : Preserving lock state '<null>'" % ts(t + 0.002))
            names.append(name)
        t += 0.1
        lines.append("%s: %d: info : qemuMonitorClose:782 : QEMU_MONITOR_CLOSE: mon=0x%x" % (ts(t), main_tid, mon))
        out.write(("\n".join(lines) + "\n").encode())
    if a.names_file:
        with open(a.names_file, "w") as f:
            f.write("".join(n + "\n" for n in names))


if __name__ == "__main__":
    main()
