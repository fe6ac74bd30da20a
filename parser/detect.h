/*
 * detect.h: the event assembler. Bytes of one or more logs in, events out.
 *
 *   bytes -> logrec splitter (one per source) -> classify -> resolve
 *         -> assemble: the up to nine records of one QMP event become ONE
 *            event, whichever subset of them the log level kept
 *         -> callback(struct pv_event)
 *
 * Which records make up one event (reference/libvirt.md 2.3), on the
 * monitor's event thread, in this order: QEMU_MONITOR_IO_PROCESS (<= 3.10),
 * "Line [...]", QEMU_MONITOR_RECV_EVENT, qemuMonitorEmitEvent,
 * qemuProcessHandleEvent, "handle GUEST_*", qemuMonitorJSONHandleGuest-
 * Crashloaded, qemuMonitorEmitGuestPanic/Crashloaded; then on the single
 * "qemu-event" worker thread, in submission order: qemuProcessEventHandler
 * "vm=V, event=1" and processGuestPanicEvent. A record joins the group of
 * its thread when its step comes later than the group's last step (and the
 * QMP timestamp and monitor agree); otherwise it starts a new event. Worker
 * records are matched first-in first-out to the panics still waiting for
 * their worker, by vm pointer. Per-domain log lines "panic hyper-v: ..." and
 * "panic s390: ..." (and the daemon's debug "Append log message" copy of
 * them) are detail of the event of that domain within match_window_ms, or an
 * event of their own when no daemon-log event exists.
 *
 * QEMU before 6.0 without -no-shutdown sends GUEST_PANICKED twice per crash
 * (action "pause", then "poweroff"). Those are two QMP events with their own
 * timestamps and are reported as two events. libvirt always passes
 * -no-shutdown, so under libvirt one crash gives one GUEST_PANICKED.
 *
 * Streaming guarantees (what `pvpanic-watch follow` builds on):
 *   - the events are a function of the bytes of each source and of the
 *     ticks: feeding the same bytes in any chunking gives the same events;
 *   - an event is emitted as soon as it can be named: normally at the
 *     QEMU_MONITOR_RECV_EVENT record (the first record of the group with a
 *     monitor pointer). Events the log cannot name yet, and per-domain lines
 *     waiting for a daemon-log event, are held for at most hold_ms of log
 *     time; detect_tick() releases them when no more records come;
 *   - every event has a content-derived id (pv_event_set_id());
 *   - detect_save_state()/detect_load_state() carry everything over a
 *     restart, and detect_source_resume_offset() says where to re-read.
 *
 * Pure code: the caller does all I/O.
 */
#ifndef PVPANIC_DETECT_H
#define PVPANIC_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "classify.h"
#include "event.h"
#include "strbuf.h"

struct detect_config {
    /* Hold an unnamed event (or a lone per-domain panic line) this long, in ms. */
    uint64_t hold_ms;
    /* A per-domain panic line and a daemon-log event within this many ms are one event. */
    uint64_t match_window_ms;
    /* Bytes kept per record (0 = LOGREC_DEFAULT_MAX_KEEP). */
    size_t max_keep;
    /* Emitted events remembered for per-domain duplicate suppression. */
    size_t history;
    /* Operator rules, borrowed (must outlive the detector); NULL = none. */
    struct classify_rules *rules;
};

#define DETECT_DEFAULT_HOLD_MS 1000
#define DETECT_DEFAULT_MATCH_WINDOW_MS 5000
#define DETECT_DEFAULT_HISTORY 4096

/* Defaults above. */
void detect_config_init(struct detect_config *cfg);

/*
 * Called once per event, synchronously from detect_feed(), detect_tick(),
 * detect_source_eof() or detect_finish(). @ev is borrowed for the call
 * (pv_event_dup() to keep it).
 */
typedef void (*detect_event_fn)(const struct pv_event *ev, void *opaque);

struct detect;

struct detect *detect_new(const struct detect_config *cfg, detect_event_fn fn, void *opaque);
void detect_free(struct detect *det);

enum detect_source_kind {
    DETECT_SOURCE_AUTO,     /* decided by the first timestamped record */
    DETECT_SOURCE_DAEMON,   /* libvirtd.log / virqemud.log */
    DETECT_SOURCE_DOMAIN,   /* /var/log/libvirt/qemu/NAME.log */
};

/*
 * Register an input. @name is what events report as "file" (copied).
 * @domain (may be NULL) names the guest of a per-domain log: used only if
 * the source is or turns out to be a per-domain log. Returns the source id.
 */
int detect_add_source(struct detect *det, const char *name, enum detect_source_kind kind,
                      const char *domain);

/* The next bytes of source @src (any chunk size). */
void detect_feed(struct detect *det, int src, const void *data, size_t len);

/*
 * End of input of @src (audit): an unterminated last line counts and the
 * last record completes. Held events are NOT released (see detect_finish()).
 */
void detect_source_eof(struct detect *det, int src);

/*
 * Restart source @src at @offset / @line (1-based), e.g. after the file was
 * truncated (0, 1) or when resuming. Partial records are dropped.
 */
void detect_source_set_position(struct detect *det, int src, uint64_t offset, uint64_t line);

/*
 * Where re-reading @src must start after a restart so that nothing is lost:
 * the start of its first incomplete record. Records before it are in the
 * state (detect_save_state()); the one at the offset is recognised as
 * already seen and not reported twice. *@out_line gets its line number.
 */
uint64_t detect_source_resume_offset(const struct detect *det, int src, uint64_t *out_line);

/*
 * Advance the clock to @now_ms (ms since the epoch, UTC: the same clock as
 * the log timestamps) and release held events whose hold expired. Records
 * advance the clock too, so audit never needs to call this.
 */
void detect_tick(struct detect *det, int64_t now_ms);

/* Clock value at which the next held item expires, or -1 if nothing is held. */
int64_t detect_next_deadline(const struct detect *det);

/* Release everything held (end of audit, shutdown of follow). */
void detect_finish(struct detect *det);

struct detect_source_stats {
    uint64_t bytes;
    uint64_t lines;             /* complete lines */
    uint64_t records;
    uint64_t daemon_records;    /* records with "TID: level : " */
    uint64_t domain_records;    /* per-domain log records */
    uint64_t monitor_records;   /* QEMU_MONITOR_* records (monitor logging is on) */
    uint64_t truncated_records;
    uint64_t events;            /* events dated by a record of this source */
    enum detect_source_kind kind;
};
void detect_source_stats(const struct detect *det, int src, struct detect_source_stats *out);

/*
 * True when @st shows a daemon log that cannot contain panic events: daemon
 * records but not a single QEMU_MONITOR_* one (log_filters too low).
 */
bool detect_stats_lacks_monitor_lines(const struct detect_source_stats *st);

/*
 * Serialise the detector state (resolver tables, events being assembled or
 * held, panics waiting for their worker record, recent events, clock,
 * per-source positions) as text; restore it into a detector created with
 * the same config and sources (matched by name; sources that share a name
 * are matched in the order they were added). Returns 0 or -EINVAL;
 * on error the detector is left empty (as new).
 */
void detect_save_state(const struct detect *det, struct strbuf *out);
int detect_load_state(struct detect *det, const char *text, size_t len);

#endif /* PVPANIC_DETECT_H */
