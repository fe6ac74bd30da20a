/*
 * event.h: one detected guest crash event and its JSON form.
 *
 * The detector (detect.h) fills a struct pv_event; audit prints it as a
 * table row or JSON, and the follow sinks reuse pv_event_to_json() so both
 * modes print byte-identical objects. Pure code: no I/O.
 */
#ifndef PVPANIC_EVENT_H
#define PVPANIC_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

enum pv_event_type {
    PV_EVENT_PANIC,         /* QMP GUEST_PANICKED */
    PV_EVENT_CRASHLOADED,   /* QMP GUEST_CRASHLOADED (guest kdump took over) */
    PV_EVENT_CUSTOM,        /* an operator [rule] without event = panic|crashloaded */
    PV_EVENT_TYPE_LAST
};

/* "panic", "crashloaded", "custom". */
const char *pv_event_type_str(enum pv_event_type type);

enum pv_info_kind {
    PV_INFO_NONE,           /* no panic information (ISA/PCI pvpanic, pseries) */
    PV_INFO_HYPERV,         /* Hyper-V crash MSRs: arg1 = bugcheck code */
    PV_INFO_S390,
    PV_INFO_OTHER,          /* a type this version does not know (e.g. tdx) */
    PV_INFO_KIND_LAST
};

/* QMP GuestPanicInformation, or the same data from a per-domain log line. */
struct pv_panic_info {
    enum pv_info_kind kind;
    uint64_t hv_arg[5];         /* hyper-v arg1..arg5 */
    int64_t s390_core;
    uint64_t s390_psw_mask;
    uint64_t s390_psw_addr;
    char *s390_reason;          /* NULL when absent */
    char *type;                 /* PV_INFO_OTHER: info "type" (NULL if none) */
    char *message;              /* PV_INFO_OTHER: info "message" (NULL if none) */
    char *raw;                  /* PV_INFO_OTHER: the info as logged */
};

/* How the domain name was found (the "resolved_by" JSON key). */
enum pv_resolved_by {
    PV_RESOLVED_NONE,           /* domain unknown */
    PV_RESOLVED_CONNECT,        /* "Connect monitor to vm=V name='N'" before QEMU_MONITOR_NEW */
    PV_RESOLVED_RECONNECT,      /* "Reconnect monitor to def=V name='N'" */
    PV_RESOLVED_MONITOR,        /* "Entering/Exited monitor (mon=M vm=V name=N)" and alike */
    PV_RESOLVED_VM,             /* vm pointer -> name ("vm=V name=N" lines) */
    PV_RESOLVED_TAINT,          /* start-time "Domain id=I name='N' ... is tainted" before NEW */
    PV_RESOLVED_DOMAIN_LOG,     /* per-domain log file name */
    PV_RESOLVED_WORKER,         /* "Ignoring GUEST_PANICKED event from inactive domain N" */
    PV_RESOLVED_RULE,           /* (?<domain>...) group of an operator rule */
    PV_RESOLVED_LAST
};

const char *pv_resolved_by_str(enum pv_resolved_by by);

struct pv_event {
    enum pv_event_type type;
    char id[17];                /* 16 lowercase hex digits, see pv_event_set_id() */
    char *domain;               /* NUL-terminated; NULL when the log cannot name it */
    size_t domain_len;          /* bytes of domain (names may hold any byte) */
    uint64_t monitor;           /* qemuMonitor pointer, 0 = unknown */
    uint64_t vm;                /* virDomainObj pointer, 0 = unknown */
    int64_t time_ms;            /* log record time, ms since the epoch (UTC); -1 unknown */
    bool has_qmp_time;
    uint64_t qmp_sec;           /* QMP "timestamp" */
    uint32_t qmp_usec;
    char *action;               /* QMP data.action ("pause", "poweroff", "run") or NULL */
    struct pv_panic_info info;
    char *file;                 /* source name given to the detector */
    uint64_t line;              /* 1-based line of the record the event is dated by */
    uint64_t offset;            /* byte offset of that record */
    enum pv_resolved_by resolved_by;
    char *rule;                 /* custom rules: rule name, else NULL */
    char *severity;             /* custom rules: severity, else NULL */
    uint64_t content_hash;      /* custom rules: hash of the record text (for the id) */
    unsigned int records;       /* log records that made up this event */
};

void pv_panic_info_clear(struct pv_panic_info *info);
void pv_panic_info_copy(struct pv_panic_info *dst, const struct pv_panic_info *src);
bool pv_panic_info_equal(const struct pv_panic_info *a, const struct pv_panic_info *b);

/* Free everything the event owns and zero it (the struct itself is not freed). */
void pv_event_clear(struct pv_event *ev);
/* Deep copy (free with pv_event_free()). */
struct pv_event *pv_event_dup(const struct pv_event *ev);
void pv_event_free(struct pv_event *ev);

/*
 * Compute ev->id from the event's content only (never from file offsets),
 * so the same event read again (after a restart, from a rotated copy, by
 * audit or by follow) gets the same id:
 *   type + monitor + QMP timestamp     when the QMP timestamp is known;
 *   type + monitor/vm + record time    otherwise;
 *   type + domain + record time        for per-domain-log-only events;
 *   rule + record time + text hash     for custom rules.
 */
void pv_event_set_id(struct pv_event *ev);

/*
 * Append the event as one JSON object (no newline). Keys, in this order:
 * id, event, domain (string|null), time, qmp_time (number|null),
 * action (string|null), monitor ("0x..."|null), details (object|null),
 * file, line, resolved_by, and for custom rules rule, severity.
 * Every string goes through strbuf_add_json_str(), so any bytes give valid
 * JSON.
 */
void pv_event_to_json(const struct pv_event *ev, struct strbuf *out);

/*
 * One human line for the details column ("bugcheck 0x80 NMI_HARDWARE_FAILURE
 * args 0x4f4454,0x0,0x0,0x0" when hyper-v arg1 is a known Windows bugcheck
 * code, "hyper-v crash 0x5a args 0x1,0x2,0x3,0x4" otherwise,
 * "s390 reason=disabled-wait core=0 ..."); appends nothing when there are
 * no details. The JSON details of hyper-v info carry "bugcheck" (arg1) and,
 * for a known code, "bugcheck_name" (bugcheck.h).
 */
void pv_event_details_line(const struct pv_event *ev, struct strbuf *out);

/* "2026-11-25T17:27:29.975Z" (UTC) for @ms since the epoch; "-" if < 0. */
#define PV_TIME_ISO_LEN 64
void pv_time_iso(int64_t ms, char out[PV_TIME_ISO_LEN]);

/* 64-bit FNV-1a, the hash behind the ids. */
uint64_t pv_hash64(uint64_t h, const void *data, size_t len);
#define PV_HASH64_INIT 0xcbf29ce484222325ULL

#endif /* PVPANIC_EVENT_H */
