/*
 * classify.h: which line form is this record?
 *
 * Two steps, so the common record costs next to nothing:
 *   1. logline_parse(): split the first line into timestamp, TID, level,
 *      function and message (fixed shape, a few byte compares);
 *   2. classify_line(): dispatch on the first byte of the message and a
 *      literal prefix (and the function name for generic messages such as
 *      "mon=%p"); only the few candidate records go through PCRE2 (compiled
 *      once, JIT when available, match and depth limits) to pull out
 *      pointers and names.
 * Names are logged raw (spaces, quotes, "$()", UTF-8), so every pattern
 * anchors on the fixed text around the name, never on blanks.
 *
 * Operator rules ([rule NAME] in watch.conf) are PCRE2 patterns run on the
 * whole text of every record; a rule that does not compile is reported as
 * "FILE:LINE: rule 'NAME': regex error at offset N: MESSAGE".
 *
 * Pure code: no I/O, no logging.
 */
#ifndef PVPANIC_CLASSIFY_H
#define PVPANIC_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "logrec.h"

enum logline_shape {
    LOGLINE_NONE,           /* no timestamp (orphan continuation lines) */
    LOGLINE_DAEMON,         /* TS: TID: LEVEL : FUNC:LINE : MSG */
    LOGLINE_DAEMON_HEADER,  /* TS: TID: LEVEL : MSG (version/hostname lines) */
    LOGLINE_DOMAIN,         /* TS: MSG (per-domain log written by libvirt) */
    LOGLINE_QEMU,           /* ISO-TS MSG (QEMU's own -msg timestamp=on lines) */
};

enum logline_level {
    LOGLINE_LEVEL_NONE,
    LOGLINE_LEVEL_DEBUG,
    LOGLINE_LEVEL_INFO,
    LOGLINE_LEVEL_WARNING,
    LOGLINE_LEVEL_ERROR,
};

/* Views into the text given to logline_parse(). */
struct logline {
    enum logline_shape shape;
    const char *ts;             /* the timestamp as written */
    size_t ts_len;
    uint64_t tid;
    enum logline_level level;
    const char *func;
    size_t func_len;
    const char *msg;
    size_t msg_len;
};

/* Split one line (no '\n'); never fails, unknown text gives LOGLINE_NONE/DOMAIN. */
void logline_parse(const char *text, size_t len, struct logline *out);
/* The same when the caller already knows the timestamp kind (struct logrec.ts). */
void logline_parse_ts(const char *text, size_t len, enum logrec_ts ts, struct logline *out);

/*
 * Milliseconds since the epoch (UTC) of a timestamp as written at the start
 * of a record (libvirt "YYYY-MM-DD HH:MM:SS.mmm+0000" with its offset
 * applied, or QEMU "YYYY-MM-DDTHH:MM:SS.ffffffZ"); -1 when @ts is neither.
 */
int64_t logline_time_ms(const char *ts, size_t len);

/* The line forms the resolver and detector act on. */
enum pvform {
    PVF_NONE,
    PVF_MONITOR_OTHER,      /* any other QEMU_MONITOR_* probe (proves monitor logging) */
    PVF_MON_NEW,            /* QEMU_MONITOR_NEW: mon */
    PVF_MON_CLOSE,          /* QEMU_MONITOR_CLOSE: mon */
    PVF_CONNECT,            /* Connect monitor to vm=V name='N': vm, name */
    PVF_RECONNECT,          /* Reconnect monitor to def=V name='N': vm, name */
    PVF_MONITOR_NAME,       /* Entering/Exited monitor (mon vm name), EOF/error lines */
    PVF_CHECK_MONITOR,      /* mon:%p vm:%p ... (QEMU_CHECK_MONITOR) */
    PVF_VM_NAME,            /* vm=%p name=%s forms (process start/stop/kill, jobs) */
    PVF_TAINTED,            /* warning: Domain id=I name='N' uuid=U is tainted: R */
    /*
     * Not a form: info "Creating domain 'N'" is logged by define, which may
     * run on a worker thread that starts ANOTHER domain next (observed in
     * tests/data/e2e/info-names), so it never names a monitor.
     */
    PVF_QMP_LINE,           /* debug: Line [{...}] (json, no mon) */
    PVF_RECV_EVENT,         /* QEMU_MONITOR_RECV_EVENT: mon event={...} (json) */
    PVF_IO_PROCESS,         /* QEMU_MONITOR_IO_PROCESS: mon buf=... (whole record needed) */
    PVF_EMIT_EVENT,         /* qemuMonitorEmitEvent: mon event=GUEST_* */
    PVF_PROCESS_HANDLE_EVENT, /* qemuProcessHandleEvent: vm=%p (any event) */
    PVF_HANDLE_EVENT,       /* qemuMonitorJSONIOProcessEvent: handle GUEST_* handler= */
    PVF_JSON_CRASHLOADED,   /* qemuMonitorJSONHandleGuestCrashloaded event, mon %p */
    PVF_EMIT_GUEST,         /* qemuMonitorEmitGuestPanic/Crashloaded: mon */
    PVF_EVENT_HANDLER,      /* qemuProcessEventHandler: vm=%p[, event=N] */
    PVF_PANIC_WORKER,       /* processGuestPanicEvent: Preserving lock state */
    PVF_PANIC_IGNORED,      /* processGuestPanicEvent: Ignoring ... inactive domain N */
    PVF_APPEND_LOG_PANIC,   /* Append log message (vm='N' message='TS: panic ...) */
    PVF_DOMLOG_PANIC,       /* per-domain log: TS: panic hyper-v: ... / s390: ... */
    PVF_LAST
};

const char *pvform_str(enum pvform form);

struct pvclass {
    enum pvform form;
    enum pv_event_type type;    /* event forms: PANIC or CRASHLOADED */
    uint64_t mon;               /* 0 = not in the line */
    uint64_t vm;
    const char *name;           /* borrowed from the text; NULL = none */
    size_t name_len;
    const char *json;           /* QMP JSON (PVF_QMP_LINE, PVF_RECV_EVENT) */
    size_t json_len;
    long event_num;             /* PVF_EVENT_HANDLER: event=N, -1 if not logged */
    const char *panic_ts;       /* PVF_APPEND_LOG_PANIC: the embedded timestamp */
    size_t panic_ts_len;
    const char *panic_text;     /* panic detail ("hyper-v: arg1=...") */
    size_t panic_text_len;
    const char *taint_reason;   /* PVF_TAINTED */
    size_t taint_reason_len;
};

struct classify;

/* Compile the built-in patterns. Returns NULL only if PCRE2 is broken (never in practice). */
struct classify *classify_new(void);
void classify_free(struct classify *cls);

/* Classify a parsed first line. Returns out->form (PVF_NONE for most records). */
enum pvform classify_line(struct classify *cls, const struct logline *ll, struct pvclass *out);

/*
 * Parse the per-domain-log panic text "hyper-v: arg1='0x..', ..." or
 * "s390: core='0' psw-mask='0x..' psw-addr='0x..' reason='..'" into @info
 * (PV_INFO_OTHER with the raw text for anything else). Caller clears @info.
 */
void classify_panic_text(const char *text, size_t len, struct pv_panic_info *info);

/* "0x7f3a24011010" (at most 16 hex digits) -> value; 0 if not a pointer. */
uint64_t classify_parse_ptr(const char *p, size_t len);

/* Statistics of regex failures (match/depth limit): kept for diagnostics. */
uint64_t classify_regex_errors(const struct classify *cls);

/* ---- operator rules -------------------------------------------------- */

struct classify_rules;

struct classify_rules *classify_rules_new(void);
void classify_rules_free(struct classify_rules *rules);

/*
 * Add rule @name with PCRE2 @pattern. Named groups (?<domain>...),
 * (?<mon>0x...), (?<vm>0x...) and (?<action>...) feed the event.
 * @event: PANIC, CRASHLOADED or CUSTOM. @severity is copied. Returns 0, or
 * -EINVAL with *@errmsg = "regex error at offset N: MESSAGE" (caller frees).
 */
int classify_rules_add(struct classify_rules *rules, const char *name, const char *pattern,
                       enum pv_event_type event, const char *severity, char **errmsg);
size_t classify_rules_count(const struct classify_rules *rules);

struct rule_match {
    const char *rule;           /* borrowed from the rule set */
    const char *severity;
    enum pv_event_type event;
    const char *domain;         /* views into the matched text, NULL if absent */
    size_t domain_len;
    uint64_t mon;
    uint64_t vm;
    const char *action;
    size_t action_len;
};

/* Call @fn for every rule that matches @text. Returns the number of matches. */
typedef void (*rule_match_fn)(const struct rule_match *m, void *opaque);
unsigned int classify_rules_match(struct classify_rules *rules, const char *text, size_t len,
                                  rule_match_fn fn, void *opaque);

#endif /* PVPANIC_CLASSIFY_H */
