/*
 * sink.h: where alerts go. A sinkset holds any number of sinks of four kinds
 * (json, syslog, exec, prometheus) configured from [sink KIND] sections of
 * watch.conf or the command line, plus per-domain throttling.
 *
 * Delivery rules:
 *   - json and prometheus see EVERY event (nothing is dropped from the
 *     record or the counters);
 *   - syslog and exec are alerting sinks: per domain at most
 *     throttle_count alerts per throttle_window; the rest are counted and,
 *     when the window closes, reported by one summary alert with the count.
 *
 * The follow loop calls sinkset_tick() whenever sinkset_next_tick_ms() says
 * so (exec timeouts and reaping, throttle summaries, periodic metrics).
 */
#ifndef PVPANIC_SINK_H
#define PVPANIC_SINK_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "strbuf.h"

/* One event as the sinks see it. All strings borrowed for the call only. */
struct alert {
    const char *id;         /* stable content-derived id (dedupe key) */
    const char *event;      /* "panic", "crashloaded" or a custom rule's event */
    const char *domain;     /* NULL when the log could not name the domain */
    const char *monitor;    /* "0x..." or NULL */
    const char *time;       /* ISO 8601 UTC of the log record */
    const char *action;     /* QMP action or NULL */
    const char *details;    /* one human line (bugcheck, s390 reason) or NULL */
    const char *json;       /* the event as one JSON object, no newline */
    double epoch;           /* record time, seconds since the epoch (< 0: unknown) */
};

/* Daemon health, exported by the prometheus sink. */
struct sink_health {
    uint64_t lines_read;
    uint64_t bytes_read;
    uint64_t files_followed;
    uint64_t parse_errors;
};

struct sinkset;

struct sinkset *sinkset_new(void);
void sinkset_free(struct sinkset *ss);

/*
 * Config door: entries of a [sink KIND] section (KIND is the section label:
 * json, syslog, exec, prometheus) and the global keys throttle_count and
 * throttle_window. Returns 1 if the entry was consumed, 0 if it is not a sink
 * entry, -1 with *@errmsg on a bad value.
 */
int sinkset_conf_entry(struct sinkset *ss, const struct conf_entry *e, char **errmsg);
/* Check what the config door could not (e.g. an exec sink without command). */
int sinkset_conf_finish(struct sinkset *ss, const char *file, char **errmsg);

/* Command-line door: --json PATH ("-" = stdout). */
void sinkset_add_json(struct sinkset *ss, const char *path);
void sinkset_set_throttle(struct sinkset *ss, unsigned count, uint64_t window_ms);
unsigned sinkset_count(const struct sinkset *ss);

/*
 * Open files (json outputs are opened O_APPEND|O_NOFOLLOW, refusing a file
 * owned by another user), restore prometheus counters from an existing
 * textfile. Errors are logged here; returns 0 or -errno.
 */
int sinkset_open(struct sinkset *ss);
/* Reopen json outputs (after logrotate moved them away: SIGHUP). */
void sinkset_reopen(struct sinkset *ss);

void sinkset_emit(struct sinkset *ss, const struct alert *a, uint64_t now_ms);
/*
 * Retry json lines a write error held back, fdatasync json outputs and
 * rewrite the metrics file if anything changed.
 */
void sinkset_sync(struct sinkset *ss, uint64_t now_ms);
/*
 * True while a json output holds alerts it could not write (disk full):
 * the caller must not save a position past them (they are not on disk).
 */
bool sinkset_backlog(const struct sinkset *ss);
void sinkset_set_health(struct sinkset *ss, const struct sink_health *h);
/* Timeouts, reaping, throttle summaries. */
void sinkset_tick(struct sinkset *ss, uint64_t now_ms);
/* Milliseconds until sinkset_tick() is next needed, -1 for "no need". */
int64_t sinkset_next_tick_ms(const struct sinkset *ss, uint64_t now_ms);
/* At exit: emit pending summaries, wait (bounded) for exec children, sync. */
void sinkset_shutdown(struct sinkset *ss, uint64_t now_ms);

/*
 * journald. A syslog sink sends each alert straight to journald's native
 * socket when it exists (no libsystemd), with the event as fields:
 * MESSAGE, PRIORITY, SYSLOG_IDENTIFIER=pvpanic-watch, SYSLOG_FACILITY,
 * SYSLOG_PID, MESSAGE_ID (one fixed id per event type, below),
 * PVPANIC_EVENT, PVPANIC_DOMAIN, PVPANIC_TIME, PVPANIC_ACTION,
 * PVPANIC_MONITOR, PVPANIC_DETAILS, PVPANIC_ID, PVPANIC_COUNT (fields
 * whose value is unknown are left out). Otherwise, or when a send fails,
 * the alert goes to syslog(3) under the same identifier.
 */
#define SINK_JOURNAL_SOCKET "/run/systemd/journal/socket"
/* Tests point the sink at their own datagram socket through this variable. */
#define SINK_JOURNAL_SOCKET_ENV "PVPANIC_JOURNAL_SOCKET"
#define SINK_SYSLOG_IDENT "pvpanic-watch"
/* Longest field value sent; longer ones are cut (the json sink has all). */
#define SINK_JOURNAL_VALUE_MAX (16u * 1024)

/* MESSAGE_ID of an event type ("panic", "crashloaded", "throttled", else custom). */
const char *sink_journal_message_id(const char *event);
/*
 * Append one field in the native protocol: "NAME=value\n", or, when the
 * value holds a newline, "NAME\n" + 64-bit little-endian length + value +
 * "\n". Values may hold any byte; @len is cut to SINK_JOURNAL_VALUE_MAX.
 */
void sink_journal_field(struct strbuf *out, const char *name, const char *value, size_t len);
/*
 * The whole datagram for @a: @message is the human line, @count the number
 * of suppressed alerts of a throttle summary (NULL otherwise). Pure.
 */
void sink_journal_format(struct strbuf *out, const struct alert *a, const char *message,
                         int priority, int facility, const char *count, long pid);

struct sink_stats {
    uint64_t alerts;            /* events given to sinkset_emit() */
    uint64_t suppressed;        /* alerts held back by throttling */
    uint64_t summaries;         /* throttle summaries sent */
    uint64_t exec_started;
    uint64_t exec_failed;       /* spawn error, non-zero exit, signal */
    uint64_t exec_timeouts;
    uint64_t exec_dropped;      /* queue full */
    uint64_t write_errors;
};
void sinkset_get_stats(const struct sinkset *ss, struct sink_stats *out);

/*
 * Call @fn for the "id" of each JSON line in the last @max_bytes of @path
 * (our own json sink output), oldest first. Used at start-up so a restart
 * does not alert twice for an event already written. 0 or -errno.
 */
int sink_json_recent_ids(const char *path, size_t max_bytes,
                         void (*fn)(const char *id, void *opaque), void *opaque);
/* sink_json_recent_ids() over every json sink that writes to a file. */
void sinkset_recent_ids(const struct sinkset *ss, size_t max_bytes,
                        void (*fn)(const char *id, void *opaque), void *opaque);

#endif /* PVPANIC_SINK_H */
