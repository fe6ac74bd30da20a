/*
 * resolve.h: which domain does a monitor pointer belong to?
 *
 * libvirt logs the panic against "mon=0x7f3a24011010"; the name comes from
 * other lines (reference/libvirt.md 2.8). A mapping is valid from
 * QEMU_MONITOR_NEW to QEMU_MONITOR_CLOSE of that pointer only: pointers are
 * reused by later guests (the shared corpus opens 0x7f3a24011010 for
 * panictest and later for win2016).
 *
 * Evidence, strongest first:
 *   - "Connect/Reconnect monitor to vm=V name='N'" on a thread, then
 *     QEMU_MONITOR_NEW on the same thread (PV_RESOLVED_CONNECT/RECONNECT);
 *   - "Entering/Exited monitor (mon=M vm=V name=N)" and the EOF/error lines
 *     that print mon, vm and name together (PV_RESOLVED_MONITOR);
 *   - the virDomainObj pointer: "mon:M vm:V" binds M to V, "vm=V name=N"
 *     lines name V (PV_RESOLVED_VM);
 *   - info-level fallback: a start-time "Domain id=I name='N' ... is
 *     tainted: high-privileges" (warning) on the thread that then logs
 *     QEMU_MONITOR_NEW, within a few seconds (PV_RESOLVED_TAINT). Only
 *     taints that qemuProcessLaunch() logs qualify; "Creating domain 'N'"
 *     (define) does not: define and start are separate API calls and one
 *     worker thread may define one guest and start another.
 * When two pieces of direct evidence disagree the answer is "unknown": a
 * wrong name is the worst possible output. Heuristic (info-level) names
 * give way to direct ones.
 *
 * Tables are bounded (monitors, vm pointers, threads); closed monitors are
 * dropped at QEMU_MONITOR_CLOSE, the least recently used entry goes first
 * when a table is full. Pure code, no I/O.
 */
#ifndef PVPANIC_RESOLVE_H
#define PVPANIC_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

/* Table bounds (a fuzzer builds with small ones, so eviction is cheap to reach). */
#ifndef RESOLVE_MAX_MONITORS
#define RESOLVE_MAX_MONITORS 4096
#endif
#ifndef RESOLVE_MAX_VMS
#define RESOLVE_MAX_VMS 4096
#endif
#ifndef RESOLVE_MAX_THREADS
#define RESOLVE_MAX_THREADS 1024
#endif
/* "Connect monitor to" precedes QEMU_MONITOR_NEW by milliseconds; allow a slow start. */
#define RESOLVE_CONNECT_WINDOW_MS (120 * 1000)
/* A start-time taint line precedes QEMU_MONITOR_NEW by ~15 ms (observed). */
#define RESOLVE_WEAK_WINDOW_MS (10 * 1000)

struct resolve;

struct resolve *resolve_new(void);
void resolve_free(struct resolve *r);

/*
 * Evidence, fed in log order. @tid is the thread id of the record, @time_ms
 * its time (-1 if unknown). Names are bytes (@name, @len), copied.
 */
void resolve_monitor_new(struct resolve *r, uint64_t tid, uint64_t mon, int64_t time_ms);
void resolve_monitor_close(struct resolve *r, uint64_t mon);
void resolve_connect(struct resolve *r, uint64_t tid, uint64_t vm, const char *name, size_t len,
                     bool reconnect, int64_t time_ms);
/*
 * A taint line the start path logs (the caller checks the reason). Used by
 * the next QEMU_MONITOR_NEW on @tid within RESOLVE_WEAK_WINDOW_MS, unless a
 * different name was tainted on that thread meanwhile (a start that failed
 * before its NEW, then another: neither name is trusted). Errors logged on
 * the thread do not cancel it: libvirt logs non-fatal ones (cgroups) there.
 */
void resolve_start_taint(struct resolve *r, uint64_t tid, const char *name, size_t len,
                         int64_t time_ms);
/*
 * Direct mon + vm (+ name) lines. When the thread @tid has a "Connect monitor
 * to" for this domain waiting and QEMU_MONITOR_NEW was not logged (debug
 * filters without info, a filtered source), the line starts the monitor's
 * new lifetime, as NEW would have.
 */
void resolve_monitor_name(struct resolve *r, uint64_t tid, uint64_t mon, uint64_t vm,
                          const char *name, size_t len);
void resolve_monitor_vm(struct resolve *r, uint64_t tid, uint64_t mon, uint64_t vm);
void resolve_vm_name(struct resolve *r, uint64_t vm, const char *name, size_t len);

struct resolve_result {
    const char *name;           /* borrowed until the next resolve_* call; NULL = unknown */
    size_t name_len;
    enum pv_resolved_by by;
    uint64_t vm;                /* vm pointer bound to the monitor, 0 if none */
    bool conflict;              /* evidence disagreed (name is NULL) */
    uint64_t generation;        /* lifetime of the monitor entry used, 0 if none */
    bool opened;                /* that lifetime began with QEMU_MONITOR_NEW in the log */
};

/*
 * Name for an event seen on monitor @mon (0 if unknown) and/or vm pointer
 * @vm (0 if unknown). Fills *@out; returns true when a name was found.
 */
bool resolve_lookup(struct resolve *r, uint64_t mon, uint64_t vm, struct resolve_result *out);

/* Bumped whenever any name or binding changes (cheap "anything new?" test). */
uint64_t resolve_version(const struct resolve *r);

/* Live monitor entries (for statistics and tests). */
size_t resolve_monitor_count(const struct resolve *r);

/*
 * Serialise the whole state as text lines starting with "resolve-" (names
 * percent-escaped), and restore it. resolve_load() replaces the state;
 * returns 0 or -EINVAL for malformed text (state then empty).
 */
void resolve_save(const struct resolve *r, struct strbuf *out);
int resolve_load(struct resolve *r, const char *text, size_t len);

#endif /* PVPANIC_RESOLVE_H */
