/*
 * drill.h: `pvpanic-watch drill`, the fire drill.
 *
 * Operators do not trust an alert they never saw fire. The drill crashes
 * one guest on purpose and proves, link by link, that the crash reaches the
 * daemon log and the alert:
 *
 *   (a) the domain exists and runs            virsh domstate --reason
 *   (b) its live XML has a usable <panic>     virsh dumpxml + hooks/domxml
 *       (ISA model: <features><acpi/> too)
 *   (c) what <on_crash> will do to it          shown, never a failure
 *   (d) the daemon log records panic events   libvirtd.conf/virtqemud.conf of
 *                                             the running daemon + the log itself
 *   (e) a `pvpanic-watch follow` reads that log   /proc/PID/cmdline
 *
 * Only when no link is broken (and the operator confirmed, or --yes) does it
 * inject an NMI (virsh inject-nmi, else QMP inject-nmi through virsh
 * qemu-monitor-command) and follow the daemon log with the project's own
 * detector until the panic event of THAT domain arrives or --timeout
 * passes. It reports the event, the delay from the NMI to the event, the
 * domain state libvirt shows afterwards, and whether the running watcher
 * wrote the event to its json sink. virsh runs without a shell; domain names
 * are data (after "--").
 *
 * The log is not read from its start: the drill searches it backwards for
 * the line that opened the domain's monitor ("Connect monitor to ...
 * name='DOM'", or a start-time taint line) and feeds the detector from
 * there, so the event can be named however large the log is.
 */
#ifndef PVPANIC_DRILL_H
#define PVPANIC_DRILL_H

#define DRILL_EXIT_OK 0         /* the chain works end to end (or --dry-run: every link OK) */
#define DRILL_EXIT_BROKEN 1     /* a link is broken, no event in time, or no alert */
#define DRILL_EXIT_ERROR 2      /* usage, no confirmation, libvirt unreachable, NMI not injected */

#define DRILL_DEFAULT_TIMEOUT_S 60u

/* argv[0] is "drill". Returns one of the DRILL_EXIT_* values. */
int drill_main(int argc, char **argv);

#endif /* PVPANIC_DRILL_H */
