#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "cleanup.h"
#include "detect.h"
#include "logrec.h"
#include "pmap.h"
#include "qmpjson.h"
#include "resolve.h"
#include "xalloc.h"

#define MAX_SOURCES 4096
#define MAX_GROUPS 256
#define MAX_AWAITING 128
#define MAX_PENDING 128
#define MAX_WORKER_TIDS 256

/*
 * Steps of one QMP event on the monitor's event thread, in the order
 * libvirt logs them (reference/libvirt.md 2.3/2.4). A record joins a group
 * only if its step comes after the group's last one.
 */
enum step {
    STEP_IO_PROCESS,        /* qemuMonitorIOProcess: raw buffer (<= 3.10) */
    STEP_LINE,              /* qemuMonitorJSONIOProcessLine: Line [...] */
    STEP_RECV_EVENT,        /* PROBE QEMU_MONITOR_RECV_EVENT */
    STEP_EMIT_EVENT,        /* qemuMonitorEmitEvent */
    STEP_PROCESS_HANDLE,    /* qemuProcessHandleEvent vm=%p */
    STEP_HANDLE,            /* qemuMonitorJSONIOProcessEvent handle X */
    STEP_JSON_CRASHLOADED,  /* qemuMonitorJSONHandleGuestCrashloaded */
    STEP_EMIT_GUEST,        /* qemuMonitorEmitGuestPanic/Crashloaded */
    STEP_LAST
};

/* Which record dates the event (file, line, time): the canonical info-level one first. */
static const int step_date_prio[STEP_LAST] = {
    [STEP_IO_PROCESS] = 5,
    [STEP_LINE] = 6,
    [STEP_RECV_EVENT] = 7,
    [STEP_EMIT_EVENT] = 4,
    [STEP_PROCESS_HANDLE] = 1,
    [STEP_HANDLE] = 3,
    [STEP_JSON_CRASHLOADED] = 2,
    [STEP_EMIT_GUEST] = 2,
};

struct source {
    char *name;
    char *domain;                   /* guest of a per-domain log, or NULL */
    enum detect_source_kind kind;
    struct logrec_splitter *sp;
    struct detect *det;
    int id;
    struct detect_source_stats st;
    /* after detect_load_state(): HEADs starting at or before this were processed */
    bool have_seen;
    bool loaded;                    /* a detect-source line of this load was given to it */
    uint64_t seen_head_start;
    uint64_t last_head_start;
    bool any_head;
    /* the record being completed is a QEMU_MONITOR_IO_PROCESS one */
    bool io_pending;
    uint64_t io_start;
    uint64_t io_mon;
    uint64_t io_tid;
    int64_t io_time;
    uint64_t io_line;
};

/* Where a record came from. */
struct recref {
    int src;
    uint64_t line;
    uint64_t offset;
    int64_t time_ms;
};

struct group {
    bool used;
    uint64_t seq;
    enum pv_event_type type;
    uint64_t tid;                   /* monitor event thread, 0 = unknown */
    uint64_t mon;
    uint64_t mon_gen;               /* resolver lifetime of mon when it joined (0: none known) */
    uint64_t vm;
    bool has_qmp;
    uint64_t qmp_sec;
    uint32_t qmp_usec;
    bool has_action;
    char action[16];
    struct pv_panic_info info;
    unsigned int steps;             /* bit set of enum step */
    int last_step;                  /* -1: none (worker-only group) */
    int64_t first_time;
    int64_t last_time;
    bool emitted;
    int64_t deadline;               /* held: emit when the clock reaches it; -1 = not held */
    int date_prio;
    struct recref date;
    char *hint;                     /* name from "Ignoring ... inactive domain N" */
    size_t hint_len;
    unsigned int records;
};

/* A panic whose worker record (qemuProcessEventHandler event=1) has not come yet. */
struct awaiting {
    bool used;
    uint64_t group_seq;
    uint64_t vm;
    uint64_t mon;
    int64_t time_ms;
    char id[17];
};

/* A per-domain "panic ..." line not matched to a daemon-log event yet. */
struct pending {
    bool used;
    char *domain;                   /* NULL: unknown (stdin) */
    size_t domain_len;
    struct pv_panic_info info;
    struct recref ref;
    int64_t deadline;
};

/* An emitted event, remembered to suppress per-domain duplicates. */
struct hist {
    bool used;
    enum pv_event_type type;
    char *domain;
    size_t domain_len;
    int64_t time_ms;
    struct pv_panic_info info;
    uint64_t mon;
    char id[17];
};

/* Per worker thread: the event its last qemuProcessEventHandler record belonged to. */
struct worker_tid {
    uint64_t tid;                   /* key */
    uint64_t group_seq;             /* 0: none */
    uint64_t handler_vm;            /* "vm=%p" without event number (<= 1.2.17) */
    int64_t time_ms;
    uint64_t touch;
};

struct detect {
    struct detect_config cfg;
    detect_event_fn fn;
    void *opaque;
    struct classify *cls;
    struct resolve *res;
    struct source **src;
    size_t nsrc;
    struct group groups[MAX_GROUPS];
    struct awaiting await[MAX_AWAITING];
    struct pending pend[MAX_PENDING];
    struct hist *hist;
    size_t hist_next;
    struct pmap workers;
    uint64_t seq;
    uint64_t touch;
    int64_t clock;
    size_t live_groups;
    size_t held;                    /* groups with a deadline + pending lines */
    uint64_t resolve_seen;          /* resolve_version() when held items were last retried */
};

void
detect_config_init(struct detect_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->hold_ms = DETECT_DEFAULT_HOLD_MS;
    cfg->match_window_ms = DETECT_DEFAULT_MATCH_WINDOW_MS;
    cfg->max_keep = LOGREC_DEFAULT_MAX_KEEP;
    cfg->history = DETECT_DEFAULT_HISTORY;
}

static void on_record(enum logrec_what what, const struct logrec *rec, void *opaque);

struct detect *
detect_new(const struct detect_config *cfg, detect_event_fn fn, void *opaque)
{
    struct detect *det = xcalloc(1, sizeof(*det));

    if (cfg)
        det->cfg = *cfg;
    else
        detect_config_init(&det->cfg);
    if (det->cfg.history == 0)
        det->cfg.history = 1;
    det->fn = fn;
    det->opaque = opaque;
    det->cls = classify_new();
    if (!det->cls)
        abort();
    det->res = resolve_new();
    det->hist = xcalloc(det->cfg.history, sizeof(*det->hist));
    pmap_init(&det->workers, sizeof(struct worker_tid));
    det->clock = -1;
    return det;
}

static void
group_clear(struct detect *det, struct group *g)
{
    if (!g->used)
        return;
    if (g->deadline >= 0 && !g->emitted)
        det->held--;
    pv_panic_info_clear(&g->info);
    free(g->hint);
    memset(g, 0, sizeof(*g));
    det->live_groups--;
}

static void
pending_clear(struct detect *det, struct pending *p)
{
    if (!p->used)
        return;
    free(p->domain);
    pv_panic_info_clear(&p->info);
    memset(p, 0, sizeof(*p));
    det->held--;
}

static void
hist_clear(struct hist *h)
{
    free(h->domain);
    pv_panic_info_clear(&h->info);
    memset(h, 0, sizeof(*h));
}

static void
clear_state(struct detect *det)
{
    for (size_t i = 0; i < MAX_GROUPS; i++)
        group_clear(det, &det->groups[i]);
    for (size_t i = 0; i < MAX_PENDING; i++)
        pending_clear(det, &det->pend[i]);
    for (size_t i = 0; i < det->cfg.history; i++)
        hist_clear(&det->hist[i]);
    memset(det->await, 0, sizeof(det->await));
    pmap_release(&det->workers);
    det->hist_next = 0;
    det->held = 0;
    det->live_groups = 0;
    det->clock = -1;
    det->seq = 0;
    det->touch = 0;
}

void
detect_free(struct detect *det)
{
    if (!det)
        return;
    clear_state(det);
    for (size_t i = 0; i < det->nsrc; i++) {
        logrec_free(det->src[i]->sp);
        free(det->src[i]->name);
        free(det->src[i]->domain);
        free(det->src[i]);
    }
    free(det->src);
    free(det->hist);
    classify_free(det->cls);
    resolve_free(det->res);
    free(det);
}

int
detect_add_source(struct detect *det, const char *name, enum detect_source_kind kind,
                  const char *domain)
{
    struct source *s;

    if (det->nsrc >= MAX_SOURCES)
        return -ENOSPC;
    s = xcalloc(1, sizeof(*s));
    s->name = xstrdup(name ? name : "-");
    s->domain = domain ? xstrdup(domain) : NULL;
    s->kind = kind;
    s->det = det;
    s->id = (int)det->nsrc;
    s->st.kind = kind;
    s->sp = logrec_new(det->cfg.max_keep, on_record, s);
    det->src = xreallocarray(det->src, det->nsrc + 1, sizeof(*det->src));
    det->src[det->nsrc++] = s;
    return s->id;
}

static struct source *
get_source(const struct detect *det, int src)
{
    if (src < 0 || (size_t)src >= det->nsrc)
        abort();
    return det->src[src];
}

/* ---- emission -------------------------------------------------------- */

/*
 * A NUL-terminated copy of @len bytes. Names are often views into a record
 * (not NUL-terminated): never read the byte after them.
 */
static char *
bytes_dup(const char *p, size_t len)
{
    char *s = xmalloc(len + 1);

    memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

static bool
in_window(const struct detect *det, int64_t a, int64_t b)
{
    int64_t d = a - b;

    if (a < 0 || b < 0)
        return false;
    return (d < 0 ? -d : d) <= (int64_t)det->cfg.match_window_ms;
}

static bool
same_name(const char *a, size_t alen, const char *b, size_t blen)
{
    return a && b && alen == blen && memcmp(a, b, alen) == 0;
}

static void
hist_add(struct detect *det, const struct pv_event *ev)
{
    struct hist *h = &det->hist[det->hist_next];

    hist_clear(h);
    h->used = true;
    h->type = ev->type;
    if (ev->domain) {
        h->domain = bytes_dup(ev->domain, ev->domain_len);
        h->domain_len = ev->domain_len;
    }
    h->time_ms = ev->time_ms;
    pv_panic_info_copy(&h->info, &ev->info);
    h->mon = ev->monitor;
    memcpy(h->id, ev->id, sizeof(h->id));
    det->hist_next = (det->hist_next + 1) % det->cfg.history;
}

static void
deliver(struct detect *det, struct pv_event *ev, int src)
{
    pv_event_set_id(ev);
    if (src >= 0 && (size_t)src < det->nsrc) {
        free(ev->file);
        ev->file = xstrdup(det->src[src]->name);
        det->src[src]->st.events++;
    }
    if (ev->type != PV_EVENT_CUSTOM)
        hist_add(det, ev);
    det->fn(ev, det->opaque);
}

/*
 * Name for a group right now (hint from a worker line counts unless it
 * contradicts). A group that waits for its name may only take it from the
 * monitor lifetime it happened in: if the pointer was closed and opened
 * again meanwhile (a destroyed guest, the next one reusing the pointer),
 * the monitor says nothing about this event any more.
 */
static bool
group_name(struct detect *det, const struct group *g, struct resolve_result *res)
{
    bool found = (g->mon || g->vm) && resolve_lookup(det->res, g->mon, g->vm, res);

    if (found && g->mon && res->generation != g->mon_gen &&
        !(g->mon_gen == 0 && res->generation != 0 && !res->opened))
        found = g->vm && resolve_lookup(det->res, 0, g->vm, res);
    if (!g->mon && !g->vm)
        memset(res, 0, sizeof(*res));
    if (g->hint) {
        if (found && !same_name(res->name, res->name_len, g->hint, g->hint_len)) {
            res->name = NULL;
            res->conflict = true;
            return false;
        }
        if (!found && !res->conflict) {
            res->name = g->hint;
            res->name_len = g->hint_len;
            res->by = PV_RESOLVED_WORKER;
            return true;
        }
    }
    return found;
}

/* Per-domain lines waiting for this event: take their detail (or the name, if unambiguous). */
static void
absorb_pending(struct detect *det, struct pv_event *ev)
{
    struct pending *match = NULL;
    int64_t best = INT64_MAX;
    size_t same_detail = 0;

    for (size_t i = 0; i < MAX_PENDING; i++) {
        struct pending *p = &det->pend[i];
        int64_t d;

        if (!p->used || !in_window(det, p->ref.time_ms, ev->time_ms))
            continue;
        d = p->ref.time_ms - ev->time_ms;
        d = d < 0 ? -d : d;
        if (ev->domain) {
            if (same_name(p->domain, p->domain_len, ev->domain, ev->domain_len) && d < best) {
                best = d;
                match = p;
            }
        } else if (ev->info.kind != PV_INFO_NONE && pv_panic_info_equal(&p->info, &ev->info)) {
            same_detail++;
            match = p;
        }
    }
    if (!match)
        return;
    if (!ev->domain) {
        /* unnamed event + the per-domain line with the very same crash data: one guest */
        if (same_detail != 1 || !match->domain)
            return;
        ev->domain = bytes_dup(match->domain, match->domain_len);
        ev->domain_len = match->domain_len;
        ev->resolved_by = PV_RESOLVED_DOMAIN_LOG;
    }
    if (ev->info.kind == PV_INFO_NONE) {
        pv_panic_info_clear(&ev->info);
        pv_panic_info_copy(&ev->info, &match->info);
    }
    ev->records++;
    pending_clear(det, match);
}

static void
await_add(struct detect *det, const struct group *g, const char *id)
{
    struct awaiting *slot = NULL;

    for (size_t i = 0; i < MAX_AWAITING; i++) {
        struct awaiting *a = &det->await[i];

        if (a->used && (a->group_seq == g->seq || (id && strcmp(a->id, id) == 0))) {
            /* already waiting (same group, or the same event replayed) */
            a->vm = a->vm ? a->vm : g->vm;
            if (id)
                memcpy(a->id, id, sizeof(a->id));
            return;
        }
        if (!a->used && !slot)
            slot = a;
    }
    if (!slot) {
        /* full: the oldest waiting panic gives up its worker record */
        slot = &det->await[0];
        for (size_t i = 1; i < MAX_AWAITING; i++) {
            if (det->await[i].group_seq < slot->group_seq)
                slot = &det->await[i];
        }
    }
    memset(slot, 0, sizeof(*slot));
    slot->used = true;
    slot->group_seq = g->seq;
    slot->vm = g->vm;
    slot->mon = g->mon;
    slot->time_ms = g->first_time;
    if (id)
        memcpy(slot->id, id, sizeof(slot->id));
}

static void
emit_group(struct detect *det, struct group *g)
{
    struct pv_event ev;
    struct resolve_result res;
    bool named = group_name(det, g, &res);

    memset(&ev, 0, sizeof(ev));
    ev.type = g->type;
    if (named) {
        ev.domain = bytes_dup(res.name, res.name_len);
        ev.domain_len = res.name_len;
        ev.resolved_by = res.by;
    }
    ev.monitor = g->mon;
    ev.vm = g->vm ? g->vm : res.vm;
    ev.time_ms = g->date.time_ms;
    ev.has_qmp_time = g->has_qmp;
    ev.qmp_sec = g->qmp_sec;
    ev.qmp_usec = g->qmp_usec;
    ev.action = g->has_action ? xstrdup(g->action) : NULL;
    pv_panic_info_copy(&ev.info, &g->info);
    ev.line = g->date.line;
    ev.offset = g->date.offset;
    ev.records = g->records;
    absorb_pending(det, &ev);
    if (g->deadline >= 0)
        det->held--;
    g->deadline = -1;
    g->emitted = true;
    deliver(det, &ev, g->date.src);
    if (g->type == PV_EVENT_PANIC && !(g->steps & (1u << STEP_LAST)))
        await_add(det, g, ev.id);
    pv_event_clear(&ev);
}

/*
 * Emit now if the group can be named (or, with hold_ms 0, if it has a
 * pointer at all), else hold it (once) for hold_ms. A group without any
 * pointer (a lone "Line [...]") is only ever released by its deadline, so
 * the outcome depends on the records and the clock, not on how often this
 * is called.
 */
static void
try_emit(struct detect *det, struct group *g)
{
    struct resolve_result res;
    bool pointer = g->mon || g->vm || g->hint;

    if (g->emitted)
        return;
    if (group_name(det, g, &res) || res.conflict || (det->cfg.hold_ms == 0 && pointer)) {
        emit_group(det, g);
        return;
    }
    if (g->deadline < 0) {
        int64_t base = g->first_time >= 0 ? g->first_time : det->clock;

        g->deadline = base < 0 ? 0 : base + (int64_t)det->cfg.hold_ms;
        det->held++;
    }
}

/* A per-domain line with no daemon-log event: an event of its own. */
static void
emit_pending(struct detect *det, struct pending *p)
{
    struct pv_event ev;

    /* an event of this guest (or with this very crash data) was reported meanwhile */
    for (size_t i = 0; i < det->cfg.history; i++) {
        const struct hist *h = &det->hist[i];

        if (!h->used || h->type != PV_EVENT_PANIC || !in_window(det, h->time_ms, p->ref.time_ms))
            continue;
        if ((p->domain && same_name(h->domain, h->domain_len, p->domain, p->domain_len)) ||
            (p->info.kind != PV_INFO_NONE && pv_panic_info_equal(&h->info, &p->info))) {
            pending_clear(det, p);
            return;
        }
    }
    memset(&ev, 0, sizeof(ev));
    ev.type = PV_EVENT_PANIC;
    if (p->domain) {
        ev.domain = bytes_dup(p->domain, p->domain_len);
        ev.domain_len = p->domain_len;
        ev.resolved_by = PV_RESOLVED_DOMAIN_LOG;
    }
    ev.time_ms = p->ref.time_ms;
    pv_panic_info_copy(&ev.info, &p->info);
    ev.line = p->ref.line;
    ev.offset = p->ref.offset;
    ev.records = 1;
    deliver(det, &ev, p->ref.src);
    pv_event_clear(&ev);
    pending_clear(det, p);
}

static int64_t
group_expiry(const struct detect *det, const struct group *g)
{
    int64_t t = g->last_time >= 0 ? g->last_time : g->first_time;

    return t < 0 ? -1 : t + (int64_t)det->cfg.match_window_ms;
}

/* Release what is due at the current clock and forget old emitted groups. */
static void
expire(struct detect *det)
{
    for (size_t i = 0; i < MAX_GROUPS; i++) {
        struct group *g = &det->groups[i];

        if (!g->used)
            continue;
        if (!g->emitted && g->deadline >= 0 && g->deadline <= det->clock)
            emit_group(det, g);
        if (g->emitted) {
            int64_t x = group_expiry(det, g);

            if (x < 0 || x < det->clock)
                group_clear(det, g);
        }
    }
    for (size_t i = 0; i < MAX_PENDING; i++) {
        struct pending *p = &det->pend[i];

        if (p->used && p->deadline <= det->clock)
            emit_pending(det, p);
    }
}

static void
advance_clock(struct detect *det, int64_t t)
{
    if (t <= det->clock)
        return;
    det->clock = t;
    if (det->live_groups || det->held)
        expire(det);
}

/* Held groups get another chance when the resolver learnt something. */
static void
retry_held(struct detect *det)
{
    uint64_t v = resolve_version(det->res);

    if (v == det->resolve_seen)
        return;
    det->resolve_seen = v;
    for (size_t i = 0; i < MAX_GROUPS; i++) {
        struct group *g = &det->groups[i];

        if (g->used && !g->emitted && g->deadline >= 0)
            try_emit(det, g);
    }
}

/* ---- grouping -------------------------------------------------------- */

static struct group *
group_new(struct detect *det, enum pv_event_type type, int64_t time_ms)
{
    struct group *g = NULL;

    for (size_t i = 0; i < MAX_GROUPS; i++) {
        if (!det->groups[i].used) {
            g = &det->groups[i];
            break;
        }
    }
    if (!g) {
        /* table full (an event storm): the oldest group is settled now */
        g = &det->groups[0];
        for (size_t i = 1; i < MAX_GROUPS; i++) {
            if (det->groups[i].seq < g->seq)
                g = &det->groups[i];
        }
        if (!g->emitted)
            emit_group(det, g);
        group_clear(det, g);
    }
    memset(g, 0, sizeof(*g));
    g->used = true;
    g->seq = ++det->seq;
    g->type = type;
    g->last_step = -1;
    g->first_time = time_ms;
    g->last_time = time_ms;
    g->deadline = -1;
    g->date_prio = -1;
    det->live_groups++;
    return g;
}

static void
group_date(struct group *g, int prio, const struct recref *ref)
{
    if (prio > g->date_prio) {
        g->date_prio = prio;
        g->date = *ref;
    }
}

struct monrec {
    enum step step;
    enum pv_event_type type;
    uint64_t tid;
    uint64_t mon;
    uint64_t vm;
    bool has_qmp;
    uint64_t sec;
    uint32_t usec;
    const struct qmp_event *qmp;    /* NULL unless the record carried the JSON */
};

static bool
group_accepts(const struct detect *det, const struct group *g, const struct monrec *r,
              int64_t time_ms)
{
    if (g->last_step < 0 || (int)r->step <= g->last_step || g->tid != r->tid)
        return false;
    if (r->step != STEP_PROCESS_HANDLE && g->type != r->type)
        return false;
    if (r->mon && g->mon && r->mon != g->mon)
        return false;
    if (r->vm && g->vm && r->vm != g->vm)
        return false;
    if (r->has_qmp && g->has_qmp && (r->sec != g->qmp_sec || r->usec != g->qmp_usec))
        return false;
    /* the records of one QMP event are logged within microseconds */
    if (time_ms >= 0 && g->last_time >= 0 && !in_window(det, time_ms, g->last_time))
        return false;
    return true;
}

/* A record of the monitor-thread part of an event. */
static void
monitor_record(struct detect *det, const struct monrec *r, const struct recref *ref)
{
    struct group *best = NULL;

    for (size_t i = 0; i < MAX_GROUPS; i++) {
        struct group *g = &det->groups[i];

        if (!g->used || !group_accepts(det, g, r, ref->time_ms))
            continue;
        /* prefer the group with the same QMP timestamp, then the most advanced one */
        if (!best ||
            (r->has_qmp && g->has_qmp && !(best->has_qmp)) ||
            (g->last_step > best->last_step) ||
            (g->last_step == best->last_step && g->seq > best->seq))
            best = g;
    }
    if (!best) {
        /* qemuProcessHandleEvent alone says nothing about which event it is */
        if (r->step == STEP_PROCESS_HANDLE)
            return;
        best = group_new(det, r->type, ref->time_ms);
        best->tid = r->tid;
        /* from now on a worker record for this panic is part of it, held or not */
        if (r->type == PV_EVENT_PANIC)
            await_add(det, best, NULL);
    }
    best->steps |= 1u << r->step;
    best->last_step = (int)r->step;
    best->records++;
    if (ref->time_ms >= 0)
        best->last_time = ref->time_ms;
    if (r->mon && !best->mon) {
        struct resolve_result res;

        best->mon = r->mon;
        resolve_lookup(det->res, r->mon, 0, &res);
        best->mon_gen = res.generation;
    }
    if (r->vm && !best->vm)
        best->vm = r->vm;
    if (r->has_qmp && !best->has_qmp) {
        best->has_qmp = true;
        best->qmp_sec = r->sec;
        best->qmp_usec = r->usec;
    }
    if (r->qmp) {
        if (r->qmp->has_action && !best->has_action) {
            best->has_action = true;
            memcpy(best->action, r->qmp->action, sizeof(best->action));
        }
        if (r->qmp->info.kind != PV_INFO_NONE && best->info.kind == PV_INFO_NONE)
            pv_panic_info_copy(&best->info, &r->qmp->info);
    }
    group_date(best, step_date_prio[r->step], ref);
    if (best->emitted) {
        /* a vm pointer learnt after the event went out still helps the worker match */
        for (size_t i = 0; i < MAX_AWAITING; i++) {
            if (det->await[i].used && det->await[i].group_seq == best->seq && !det->await[i].vm)
                det->await[i].vm = best->vm;
        }
        return;
    }
    /* without a pointer the group cannot be named yet: wait for the next step */
    if (!best->mon && !best->vm) {
        if (best->deadline < 0) {
            best->deadline = (best->first_time >= 0 ? best->first_time : 0) +
                             (int64_t)det->cfg.hold_ms;
            det->held++;
        }
        return;
    }
    try_emit(det, best);
}

static struct worker_tid *
worker_get(struct detect *det, uint64_t tid)
{
    struct worker_tid *w;
    bool created;

    if (!tid)
        return NULL;
    if (!pmap_get(&det->workers, tid) && det->workers.count >= MAX_WORKER_TIDS) {
        uint64_t oldest = 0;
        uint64_t touch = UINT64_MAX;

        for (size_t i = 0; i < det->workers.cap; i++) {
            struct worker_tid *x = pmap_slot(&det->workers, i);

            if (x && x->touch < touch) {
                touch = x->touch;
                oldest = x->tid;
            }
        }
        pmap_del(&det->workers, oldest);
    }
    w = pmap_put(&det->workers, tid, &created);
    w->touch = ++det->touch;
    return w;
}

static struct group *
group_by_seq(struct detect *det, uint64_t seq)
{
    for (size_t i = 0; i < MAX_GROUPS; i++) {
        if (det->groups[i].used && det->groups[i].seq == seq)
            return &det->groups[i];
    }
    return NULL;
}

/*
 * The worker thread took a panic for vm @vm. Match it to the oldest panic
 * still waiting for its worker (the "qemu-event" pool has one thread, so
 * jobs run in order): first by vm pointer, else the oldest whose vm is not
 * known. Returns the group (NULL if retired) and whether one matched.
 */
static bool
worker_attach(struct detect *det, uint64_t vm, uint64_t *out_seq)
{
    struct awaiting *pick = NULL;

    for (size_t pass = 0; pass < 2 && !pick; pass++) {
        for (size_t i = 0; i < MAX_AWAITING; i++) {
            struct awaiting *a = &det->await[i];
            uint64_t avm;

            if (!a->used)
                continue;
            avm = a->vm;
            if (!avm && a->mon) {
                struct resolve_result res;

                resolve_lookup(det->res, a->mon, 0, &res);
                avm = res.vm;
            }
            if ((pass == 0 && vm && avm == vm) || (pass == 1 && (!avm || !vm))) {
                if (!pick || a->group_seq < pick->group_seq)
                    pick = a;
            }
        }
    }
    if (!pick)
        return false;
    *out_seq = pick->group_seq;
    memset(pick, 0, sizeof(*pick));
    return true;
}

static void
worker_record(struct detect *det, uint64_t tid, uint64_t vm, const char *hint, size_t hint_len,
              bool new_job, const struct recref *ref)
{
    struct worker_tid *w = worker_get(det, tid);
    struct group *g = NULL;
    uint64_t seq = 0;

    if (!new_job && w && w->group_seq) {
        /* processGuestPanicEvent after its qemuProcessEventHandler line */
        g = group_by_seq(det, w->group_seq);
        if (!g) {
            if (w)
                w->group_seq = 0;
            return;         /* that event is settled and gone */
        }
    } else if (worker_attach(det, vm, &seq)) {
        g = group_by_seq(det, seq);
        if (w)
            w->group_seq = seq;
        if (!g)
            return;         /* the event went out long ago: nothing more to do */
    } else {
        /* a panic seen only by the worker (qemu_driver logging alone) */
        g = group_new(det, PV_EVENT_PANIC, ref->time_ms);
        g->vm = vm;
        g->steps |= 1u << STEP_LAST;    /* marks "has its worker record" */
        if (w)
            w->group_seq = g->seq;
    }
    g->records++;
    if (vm && !g->vm)
        g->vm = vm;
    if (ref->time_ms >= 0)
        g->last_time = ref->time_ms;
    g->steps |= 1u << STEP_LAST;
    group_date(g, 0, ref);
    if (hint && !g->hint) {
        g->hint = bytes_dup(hint, hint_len);
        g->hint_len = hint_len;
    }
    if (!g->emitted && (g->mon || g->vm || g->hint))
        try_emit(det, g);
    else if (!g->emitted && g->deadline < 0) {
        g->deadline = (g->first_time >= 0 ? g->first_time : 0) + (int64_t)det->cfg.hold_ms;
        det->held++;
    }
}

/* A per-domain panic line (or the daemon's debug copy of it). */
static void
domain_panic(struct detect *det, const char *domain, size_t domain_len, const char *text,
             size_t text_len, const struct recref *ref)
{
    struct pv_panic_info info;
    struct pending *slot = NULL;

    classify_panic_text(text, text_len, &info);
    /* 1. an event of this guest still being assembled takes the detail */
    for (size_t i = 0; i < MAX_GROUPS; i++) {
        struct group *g = &det->groups[i];
        struct resolve_result res;

        if (!g->used || g->emitted || g->type != PV_EVENT_PANIC ||
            !in_window(det, g->first_time, ref->time_ms))
            continue;
        if (domain && group_name(det, g, &res) && same_name(res.name, res.name_len, domain, domain_len)) {
            if (g->info.kind == PV_INFO_NONE)
                pv_panic_info_copy(&g->info, &info);
            g->records++;
            pv_panic_info_clear(&info);
            return;
        }
    }
    /* 2. already reported: a duplicate */
    for (size_t i = 0; i < det->cfg.history; i++) {
        const struct hist *h = &det->hist[i];

        if (!h->used || h->type != PV_EVENT_PANIC || !in_window(det, h->time_ms, ref->time_ms))
            continue;
        if ((domain && same_name(h->domain, h->domain_len, domain, domain_len)) ||
            (info.kind != PV_INFO_NONE && pv_panic_info_equal(&h->info, &info))) {
            pv_panic_info_clear(&info);
            return;
        }
    }
    /* 3. or the same line seen twice (daemon "Append log message" + the file) */
    for (size_t i = 0; i < MAX_PENDING; i++) {
        struct pending *p = &det->pend[i];

        if (p->used && in_window(det, p->ref.time_ms, ref->time_ms) &&
            ((domain && same_name(p->domain, p->domain_len, domain, domain_len)) ||
             (!domain && pv_panic_info_equal(&p->info, &info)))) {
            pv_panic_info_clear(&info);
            return;
        }
        if (!p->used && !slot)
            slot = p;
    }
    /* 4. wait for the daemon-log event */
    if (!slot) {
        slot = &det->pend[0];
        for (size_t i = 1; i < MAX_PENDING; i++) {
            if (det->pend[i].deadline < slot->deadline)
                slot = &det->pend[i];
        }
        emit_pending(det, slot);
    }
    memset(slot, 0, sizeof(*slot));
    slot->used = true;
    if (domain) {
        slot->domain = bytes_dup(domain, domain_len);
        slot->domain_len = domain_len;
    }
    slot->info = info;
    slot->ref = *ref;
    slot->deadline = (ref->time_ms >= 0 ? ref->time_ms : 0) + (int64_t)det->cfg.hold_ms;
    det->held++;
    if (det->cfg.hold_ms == 0)
        emit_pending(det, slot);
}

/* ---- per record ------------------------------------------------------ */

static void
qmp_record(struct detect *det, enum step step, uint64_t tid, uint64_t mon, const char *json,
           size_t json_len, const struct recref *ref)
{
    struct qmp_event qe;
    struct monrec r;

    if (qmpjson_parse_event(json, json_len, &qe) != 1)
        return;
    memset(&r, 0, sizeof(r));
    r.step = step;
    r.type = qe.type;
    r.tid = tid;
    r.mon = mon;
    r.has_qmp = qe.has_time;
    r.sec = qe.sec;
    r.usec = qe.usec;
    r.qmp = &qe;
    monitor_record(det, &r, ref);
    pv_panic_info_clear(&qe.info);
}

/* QEMU_MONITOR_IO_PROCESS: buf= holds one or more QMP lines joined by "\r\n". */
static void
io_process_record(struct detect *det, struct source *s, const char *text, size_t len)
{
    const char *end = text + len;
    const char *p = memmem(text, len, " buf=", 5);
    struct recref ref = { s->id, s->io_line, s->io_start, s->io_time };

    if (!p)
        return;
    p += 5;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;

        if (p < eol && *p == '{' && memmem(p, (size_t)(eol - p), "GUEST_", 6))
            qmp_record(det, STEP_IO_PROCESS, s->io_tid, s->io_mon, p, (size_t)(eol - p), &ref);
        p = nl ? nl + 1 : end;
    }
}

/*
 * Taints only qemuDomainObjCheckTaint() logs, from qemuProcessLaunch() on
 * the thread that then opens the monitor. Others (custom-monitor,
 * custom-ga-command, disk-probing and shell-scripts on hotplug, ...) come
 * from API calls on worker threads that may start another guest next
 * (observed: tests/data/e2e/info-names).
 */
static bool
start_taint(const char *reason, size_t len)
{
    static const char *const start_only[] = {
        "high-privileges", "custom-argv", "host-cpu", "custom-dtb", "deprecated-config",
        "custom-hypervisor-feature",
    };

    for (size_t i = 0; i < ARRAY_SIZE(start_only); i++) {
        size_t n = strlen(start_only[i]);

        /* several reasons are printed back to back; the first one decides */
        if (len >= n && memcmp(reason, start_only[i], n) == 0 && (len == n || reason[n] == ' '))
            return true;
    }
    return false;
}

static void
handle_form(struct detect *det, struct source *s, const struct logline *ll,
            const struct pvclass *c, const struct recref *ref, const struct logrec *rec)
{
    struct monrec r;

    memset(&r, 0, sizeof(r));
    r.tid = ll->tid;
    r.type = c->type;
    r.mon = c->mon;
    r.vm = c->vm;
    switch (c->form) {
    case PVF_MON_NEW:
        resolve_monitor_new(det->res, ll->tid, c->mon, ref->time_ms);
        break;
    case PVF_MON_CLOSE:
        resolve_monitor_close(det->res, c->mon);
        break;
    case PVF_CONNECT:
    case PVF_RECONNECT:
        resolve_connect(det->res, ll->tid, c->vm, c->name, c->name_len,
                        c->form == PVF_RECONNECT, ref->time_ms);
        break;
    case PVF_MONITOR_NAME:
        resolve_monitor_name(det->res, ll->tid, c->mon, c->vm, c->name, c->name_len);
        break;
    case PVF_CHECK_MONITOR:
        resolve_monitor_vm(det->res, ll->tid, c->mon, c->vm);
        break;
    case PVF_VM_NAME:
        resolve_vm_name(det->res, c->vm, c->name, c->name_len);
        break;
    case PVF_TAINTED:
        if (start_taint(c->taint_reason, c->taint_reason_len))
            resolve_start_taint(det->res, ll->tid, c->name, c->name_len, ref->time_ms);
        break;
    case PVF_QMP_LINE:
        qmp_record(det, STEP_LINE, ll->tid, 0, c->json, c->json_len, ref);
        break;
    case PVF_RECV_EVENT:
        qmp_record(det, STEP_RECV_EVENT, ll->tid, c->mon, c->json, c->json_len, ref);
        break;
    case PVF_IO_PROCESS:
        s->io_pending = true;
        s->io_start = rec->start;
        s->io_mon = c->mon;
        s->io_tid = ll->tid;
        s->io_time = ref->time_ms;
        s->io_line = rec->line;
        break;
    case PVF_EMIT_EVENT:
        r.step = STEP_EMIT_EVENT;
        monitor_record(det, &r, ref);
        break;
    case PVF_PROCESS_HANDLE_EVENT:
        r.step = STEP_PROCESS_HANDLE;
        monitor_record(det, &r, ref);
        break;
    case PVF_HANDLE_EVENT:
        r.step = STEP_HANDLE;
        monitor_record(det, &r, ref);
        break;
    case PVF_JSON_CRASHLOADED:
        r.step = STEP_JSON_CRASHLOADED;
        monitor_record(det, &r, ref);
        break;
    case PVF_EMIT_GUEST:
        r.step = STEP_EMIT_GUEST;
        monitor_record(det, &r, ref);
        break;
    case PVF_EVENT_HANDLER: {
        struct worker_tid *w = worker_get(det, ll->tid);

        if (c->event_num == 1) {
            /* QEMU_PROCESS_EVENT_GUESTPANIC is 1 in every libvirt version */
            if (w)
                w->handler_vm = 0;
            worker_record(det, ll->tid, c->vm, NULL, 0, true, ref);
        } else if (w) {
            /* another job; <= 1.2.17 logs no number: decided by the next line */
            w->group_seq = 0;
            w->handler_vm = c->event_num < 0 ? c->vm : 0;
            w->time_ms = ref->time_ms;
        }
        break;
    }
    case PVF_PANIC_WORKER:
    case PVF_PANIC_IGNORED: {
        struct worker_tid *w = worker_get(det, ll->tid);
        const char *hint = c->form == PVF_PANIC_IGNORED ? c->name : NULL;

        if (w && w->handler_vm) {
            uint64_t vm = w->handler_vm;

            w->handler_vm = 0;
            worker_record(det, ll->tid, vm, hint, c->name_len, true, ref);
        } else if (w && w->group_seq) {
            worker_record(det, ll->tid, 0, hint, c->name_len, false, ref);
        } else {
            worker_record(det, ll->tid, 0, hint, c->name_len, true, ref);
        }
        break;
    }
    case PVF_APPEND_LOG_PANIC: {
        struct recref pref = *ref;

        pref.time_ms = logline_time_ms(c->panic_ts, c->panic_ts_len);
        if (pref.time_ms < 0)
            pref.time_ms = ref->time_ms;
        domain_panic(det, c->name, c->name_len, c->panic_text, c->panic_text_len, &pref);
        break;
    }
    case PVF_DOMLOG_PANIC: {
        bool named = s->kind == DETECT_SOURCE_DOMAIN && s->domain;

        domain_panic(det, named ? s->domain : NULL, named ? strlen(s->domain) : 0,
                     c->panic_text, c->panic_text_len, ref);
        break;
    }
    case PVF_NONE:
    case PVF_MONITOR_OTHER:
    case PVF_LAST:
        break;
    }
}

static void
on_head(struct source *s, const struct logrec *rec)
{
    struct detect *det = s->det;
    struct logline ll;
    struct pvclass c;
    struct recref ref;
    enum pvform form;

    if (s->have_seen && rec->start <= s->seen_head_start)
        return;         /* processed before the state was saved */
    s->io_pending = false;
    s->last_head_start = rec->start;
    s->any_head = true;
    s->st.records++;
    if (rec->truncated)
        s->st.truncated_records++;
    logline_parse_ts(rec->text, rec->len, rec->ts, &ll);
    switch (ll.shape) {
    case LOGLINE_DAEMON:
    case LOGLINE_DAEMON_HEADER:
        s->st.daemon_records++;
        if (s->kind == DETECT_SOURCE_AUTO)
            s->kind = s->st.kind = DETECT_SOURCE_DAEMON;
        break;
    case LOGLINE_DOMAIN:
    case LOGLINE_QEMU:
        s->st.domain_records++;
        if (s->kind == DETECT_SOURCE_AUTO)
            s->kind = s->st.kind = DETECT_SOURCE_DOMAIN;
        break;
    case LOGLINE_NONE:
        break;
    }
    form = classify_line(det->cls, &ll, &c);
    if (form == PVF_MONITOR_OTHER || form == PVF_MON_NEW || form == PVF_MON_CLOSE ||
        form == PVF_RECV_EVENT || form == PVF_IO_PROCESS)
        s->st.monitor_records++;
    if (form == PVF_NONE || form == PVF_MONITOR_OTHER) {
        /* the common case: only the clock matters, and only while something is pending */
        if (det->live_groups || det->held)
            advance_clock(det, logline_time_ms(ll.ts, ll.ts_len));
        return;
    }
    ref.src = s->id;
    ref.line = rec->line;
    ref.offset = rec->start;
    ref.time_ms = logline_time_ms(ll.ts, ll.ts_len);
    advance_clock(det, ref.time_ms);
    handle_form(det, s, &ll, &c, &ref, rec);
    if (det->held)
        retry_held(det);
}

struct rule_ctx {
    struct detect *det;
    struct source *s;
    const struct logrec *rec;
    int64_t time_ms;
    uint64_t hash;
};

static void
rule_matched(const struct rule_match *m, void *opaque)
{
    struct rule_ctx *ctx = opaque;
    struct detect *det = ctx->det;
    struct pv_event ev;
    struct resolve_result res;

    memset(&ev, 0, sizeof(ev));
    ev.type = m->event;
    ev.rule = xstrdup(m->rule);
    ev.severity = xstrdup(m->severity);
    ev.monitor = m->mon;
    ev.vm = m->vm;
    ev.time_ms = ctx->time_ms;
    ev.line = ctx->rec->line;
    ev.offset = ctx->rec->start;
    ev.content_hash = ctx->hash;
    ev.records = 1;
    if (m->action)
        ev.action = xstrndup(m->action, m->action_len);
    if (m->domain) {
        ev.domain = bytes_dup(m->domain, m->domain_len);
        ev.domain_len = m->domain_len;
        ev.resolved_by = PV_RESOLVED_RULE;
    } else if ((m->mon || m->vm) && resolve_lookup(det->res, m->mon, m->vm, &res)) {
        ev.domain = bytes_dup(res.name, res.name_len);
        ev.domain_len = res.name_len;
        ev.resolved_by = res.by;
    } else if (ctx->s->kind == DETECT_SOURCE_DOMAIN && ctx->s->domain) {
        ev.domain = xstrdup(ctx->s->domain);
        ev.domain_len = strlen(ev.domain);
        ev.resolved_by = PV_RESOLVED_DOMAIN_LOG;
    }
    deliver(det, &ev, ctx->s->id);
    pv_event_clear(&ev);
}

static void
on_complete(struct source *s, const struct logrec *rec)
{
    struct detect *det = s->det;

    s->st.lines = rec->line + rec->nlines - 1;
    if (s->io_pending && rec->start == s->io_start) {
        s->io_pending = false;
        io_process_record(det, s, rec->text, rec->len);
        if (det->held)
            retry_held(det);
    }
    if (classify_rules_count(det->cfg.rules) > 0) {
        struct logline ll;
        struct rule_ctx ctx = { det, s, rec, -1, 0 };

        logline_parse(rec->text, rec->len, &ll);
        ctx.time_ms = logline_time_ms(ll.ts, ll.ts_len);
        ctx.hash = pv_hash64(PV_HASH64_INIT, rec->text, rec->len);
        classify_rules_match(det->cfg.rules, rec->text, rec->len, rule_matched, &ctx);
    }
}

static void
on_record(enum logrec_what what, const struct logrec *rec, void *opaque)
{
    struct source *s = opaque;

    if (what == LOGREC_HEAD)
        on_head(s, rec);
    else
        on_complete(s, rec);
}

/* ---- public entry points --------------------------------------------- */

void
detect_feed(struct detect *det, int src, const void *data, size_t len)
{
    struct source *s = get_source(det, src);

    s->st.bytes += len;
    logrec_feed(s->sp, data, len);
}

void
detect_source_eof(struct detect *det, int src)
{
    logrec_finish(get_source(det, src)->sp);
}

void
detect_source_set_position(struct detect *det, int src, uint64_t offset, uint64_t line)
{
    struct source *s = get_source(det, src);

    logrec_set_position(s->sp, offset, line);
    s->io_pending = false;
    s->have_seen = false;
}

uint64_t
detect_source_resume_offset(const struct detect *det, int src, uint64_t *out_line)
{
    const struct source *s = get_source(det, src);

    if (out_line)
        *out_line = logrec_pending_line(s->sp);
    return logrec_pending_offset(s->sp);
}

void
detect_tick(struct detect *det, int64_t now_ms)
{
    advance_clock(det, now_ms);
}

int64_t
detect_next_deadline(const struct detect *det)
{
    int64_t next = -1;

    for (size_t i = 0; i < MAX_GROUPS; i++) {
        const struct group *g = &det->groups[i];

        if (g->used && !g->emitted && g->deadline >= 0 && (next < 0 || g->deadline < next))
            next = g->deadline;
    }
    for (size_t i = 0; i < MAX_PENDING; i++) {
        const struct pending *p = &det->pend[i];

        if (p->used && (next < 0 || p->deadline < next))
            next = p->deadline;
    }
    return next;
}

void
detect_finish(struct detect *det)
{
    /* in creation order, so events come out as they happened */
    for (;;) {
        struct group *first = NULL;

        for (size_t i = 0; i < MAX_GROUPS; i++) {
            struct group *g = &det->groups[i];

            if (g->used && !g->emitted && (!first || g->seq < first->seq))
                first = g;
        }
        if (!first)
            break;
        emit_group(det, first);
    }
    for (;;) {
        struct pending *first = NULL;

        for (size_t i = 0; i < MAX_PENDING; i++) {
            struct pending *p = &det->pend[i];

            if (p->used && (!first || p->ref.time_ms < first->ref.time_ms))
                first = p;
        }
        if (!first)
            break;
        emit_pending(det, first);
    }
}

void
detect_source_stats(const struct detect *det, int src, struct detect_source_stats *out)
{
    const struct source *s = get_source(det, src);

    *out = s->st;
    out->kind = s->kind;
}

bool
detect_stats_lacks_monitor_lines(const struct detect_source_stats *st)
{
    return st->kind != DETECT_SOURCE_DOMAIN && st->daemon_records > 0 && st->monitor_records == 0;
}

/* ---- state ----------------------------------------------------------- */

static void
put_str(struct strbuf *out, const char *s, size_t len)
{
    strbuf_addch(out, ' ');
    if (!s)
        strbuf_addch(out, '-');
    else
        strbuf_add_pct(out, s, len);
}

static void
put_strz(struct strbuf *out, const char *s)
{
    put_str(out, s, s ? strlen(s) : 0);
}

static void
put_info(struct strbuf *out, const struct pv_panic_info *in)
{
    strbuf_addf(out, " %d", (int)in->kind);
    for (int i = 0; i < 5; i++)
        strbuf_addf(out, " %" PRIx64, in->hv_arg[i]);
    strbuf_addf(out, " %" PRId64 " %" PRIx64 " %" PRIx64, in->s390_core, in->s390_psw_mask,
                in->s390_psw_addr);
    put_strz(out, in->s390_reason);
    put_strz(out, in->type);
    put_strz(out, in->message);
    put_strz(out, in->raw);
}

static void
put_src(const struct detect *det, struct strbuf *out, int src)
{
    if (src >= 0 && (size_t)src < det->nsrc)
        put_strz(out, det->src[src]->name);
    else
        put_strz(out, NULL);
}

void
detect_save_state(const struct detect *det, struct strbuf *out)
{
    strbuf_addstr(out, "detect-state 1\n");
    strbuf_addf(out, "detect-clock %" PRId64 " %" PRIu64 " %" PRIu64 "\n", det->clock, det->seq,
                det->touch);
    for (size_t i = 0; i < det->nsrc; i++) {
        const struct source *s = det->src[i];

        strbuf_addstr(out, "detect-source");
        put_strz(out, s->name);
        strbuf_addf(out, " %" PRIu64 " %" PRIu64 " %" PRIu64 " %d %d %" PRIu64 " %" PRIx64
                    " %" PRIu64 " %" PRId64 " %" PRIu64 "\n",
                    logrec_pending_offset(s->sp), logrec_pending_line(s->sp),
                    s->any_head ? s->last_head_start : 0, s->any_head, s->io_pending,
                    s->io_start, s->io_mon, s->io_tid, s->io_time, s->io_line);
    }
    for (size_t i = 0; i < MAX_GROUPS; i++) {
        const struct group *g = &det->groups[i];

        if (!g->used)
            continue;
        strbuf_addf(out, "detect-group %" PRIu64 " %d %" PRIu64 " %" PRIx64 " %" PRIu64 " %" PRIx64
                    " %d %" PRIu64 " %u %d",
                    g->seq, (int)g->type, g->tid, g->mon, g->mon_gen, g->vm, g->has_qmp,
                    g->qmp_sec, g->qmp_usec, g->has_action);
        put_strz(out, g->has_action ? g->action : NULL);
        strbuf_addf(out, " %u %d %" PRId64 " %" PRId64 " %d %" PRId64 " %d",
                    g->steps, g->last_step, g->first_time, g->last_time, g->emitted,
                    g->deadline, g->date_prio);
        put_src(det, out, g->date.src);
        strbuf_addf(out, " %" PRIu64 " %" PRIu64 " %" PRId64, g->date.line, g->date.offset,
                    g->date.time_ms);
        put_str(out, g->hint, g->hint_len);
        strbuf_addf(out, " %u", g->records);
        put_info(out, &g->info);
        strbuf_addch(out, '\n');
    }
    for (size_t i = 0; i < MAX_AWAITING; i++) {
        const struct awaiting *a = &det->await[i];

        if (!a->used)
            continue;
        strbuf_addf(out, "detect-await %" PRIu64 " %" PRIx64 " %" PRIx64 " %" PRId64,
                    a->group_seq, a->vm, a->mon, a->time_ms);
        put_strz(out, a->id[0] ? a->id : NULL);
        strbuf_addch(out, '\n');
    }
    for (size_t i = 0; i < MAX_PENDING; i++) {
        const struct pending *p = &det->pend[i];

        if (!p->used)
            continue;
        strbuf_addstr(out, "detect-pending");
        put_str(out, p->domain, p->domain_len);
        put_src(det, out, p->ref.src);
        strbuf_addf(out, " %" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64,
                    p->ref.line, p->ref.offset, p->ref.time_ms, p->deadline);
        put_info(out, &p->info);
        strbuf_addch(out, '\n');
    }
    /* oldest first, so loading refills the ring in the same order */
    for (size_t k = 0; k < det->cfg.history; k++) {
        const struct hist *h = &det->hist[(det->hist_next + k) % det->cfg.history];

        if (!h->used)
            continue;
        strbuf_addf(out, "detect-hist %d", (int)h->type);
        put_str(out, h->domain, h->domain_len);
        strbuf_addf(out, " %" PRId64 " %" PRIx64, h->time_ms, h->mon);
        put_strz(out, h->id);
        put_info(out, &h->info);
        strbuf_addch(out, '\n');
    }
    for (size_t i = 0; i < det->workers.cap; i++) {
        const struct worker_tid *w = pmap_slot(&det->workers, i);

        if (w)
            strbuf_addf(out, "detect-worker %" PRIu64 " %" PRIu64 " %" PRIx64 " %" PRId64
                        " %" PRIu64 "\n", w->tid, w->group_seq, w->handler_vm, w->time_ms,
                        w->touch);
    }
    resolve_save(det->res, out);
}

/* Reads the blank-separated fields of one state line. */
struct fields {
    char *f[48];
    size_t n;
    size_t i;
    bool bad;
};

static const char *
next_field(struct fields *fs)
{
    if (fs->i >= fs->n) {
        fs->bad = true;
        return "";
    }
    return fs->f[fs->i++];
}

static uint64_t
get_u64(struct fields *fs, int base)
{
    const char *s = next_field(fs);
    char *end = NULL;
    uint64_t v;

    if (!*s || *s == '-') {
        fs->bad = true;
        return 0;
    }
    errno = 0;
    v = strtoull(s, &end, base);
    if (errno != 0 || *end != '\0')
        fs->bad = true;
    return v;
}

static int64_t
get_i64(struct fields *fs)
{
    const char *s = next_field(fs);
    char *end = NULL;
    int64_t v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (!*s || errno != 0 || *end != '\0')
        fs->bad = true;
    return v;
}

static int
get_int(struct fields *fs, int min, int max)
{
    int64_t v = get_i64(fs);

    if (v < min || v > max) {
        fs->bad = true;
        return min;
    }
    return (int)v;
}

/* NULL for "-", else a decoded string (caller frees); *@len its length. */
static char *
get_str(struct fields *fs, size_t *len)
{
    const char *s = next_field(fs);
    char *v;
    size_t n = 0;

    if (len)
        *len = 0;
    if (strcmp(s, "-") == 0 || fs->bad)
        return NULL;
    v = pct_unescape(s, strlen(s), &n);
    if (!v)
        fs->bad = true;
    if (len)
        *len = n;
    return v;
}

static int
get_src(struct detect *det, struct fields *fs)
{
    AUTOFREE char *name = get_str(fs, NULL);

    if (!name)
        return -1;
    for (size_t i = 0; i < det->nsrc; i++) {
        if (strcmp(det->src[i]->name, name) == 0)
            return (int)i;
    }
    return -1;
}

static void
get_info(struct fields *fs, struct pv_panic_info *in)
{
    memset(in, 0, sizeof(*in));
    in->kind = (enum pv_info_kind)get_int(fs, 0, PV_INFO_KIND_LAST - 1);
    for (int i = 0; i < 5; i++)
        in->hv_arg[i] = get_u64(fs, 16);
    in->s390_core = get_i64(fs);
    in->s390_psw_mask = get_u64(fs, 16);
    in->s390_psw_addr = get_u64(fs, 16);
    in->s390_reason = get_str(fs, NULL);
    in->type = get_str(fs, NULL);
    in->message = get_str(fs, NULL);
    in->raw = get_str(fs, NULL);
}

static bool
load_source(struct detect *det, struct fields *fs)
{
    AUTOFREE char *name = get_str(fs, NULL);
    uint64_t off = get_u64(fs, 10);
    uint64_t line = get_u64(fs, 10);
    uint64_t head = get_u64(fs, 10);
    int any = get_int(fs, 0, 1);
    int io = get_int(fs, 0, 1);
    uint64_t io_start = get_u64(fs, 10);
    uint64_t io_mon = get_u64(fs, 16);
    uint64_t io_tid = get_u64(fs, 10);
    int64_t io_time = get_i64(fs);
    uint64_t io_line = get_u64(fs, 10);

    if (fs->bad || !name)
        return false;
    /*
     * Several sources may share a name (one per file that was at a path:
     * the rotated one being drained and its successor). Lines are saved in
     * the order the sources were added: the k-th line of a name belongs to
     * the k-th source of that name, never to all of them.
     */
    for (size_t i = 0; i < det->nsrc; i++) {
        struct source *s = det->src[i];

        if (s->loaded || strcmp(s->name, name) != 0)
            continue;
        s->loaded = true;
        logrec_set_position(s->sp, off, line);
        s->have_seen = any != 0;
        s->any_head = any != 0;
        s->seen_head_start = head;
        s->last_head_start = head;
        s->io_pending = io != 0;
        s->io_start = io_start;
        s->io_mon = io_mon;
        s->io_tid = io_tid;
        s->io_time = io_time;
        s->io_line = io_line;
        break;
    }
    return true;
}

static bool
load_group(struct detect *det, struct fields *fs)
{
    struct group *g = NULL;
    AUTOFREE char *action = NULL;

    for (size_t i = 0; i < MAX_GROUPS && !g; i++) {
        if (!det->groups[i].used)
            g = &det->groups[i];
    }
    if (!g)
        return true;
    memset(g, 0, sizeof(*g));
    g->seq = get_u64(fs, 10);
    g->type = (enum pv_event_type)get_int(fs, 0, PV_EVENT_CRASHLOADED);
    g->tid = get_u64(fs, 10);
    g->mon = get_u64(fs, 16);
    g->mon_gen = get_u64(fs, 10);
    g->vm = get_u64(fs, 16);
    g->has_qmp = get_int(fs, 0, 1);
    g->qmp_sec = get_u64(fs, 10);
    g->qmp_usec = (uint32_t)get_int(fs, 0, 999999);
    g->has_action = get_int(fs, 0, 1);
    action = get_str(fs, NULL);
    if (action)
        snprintf(g->action, sizeof(g->action), "%s", action);
    g->steps = (unsigned int)get_int(fs, 0, (1 << (STEP_LAST + 1)) - 1);
    g->last_step = get_int(fs, -1, STEP_LAST - 1);
    g->first_time = get_i64(fs);
    g->last_time = get_i64(fs);
    g->emitted = get_int(fs, 0, 1);
    g->deadline = get_i64(fs);
    g->date_prio = get_int(fs, -1, 100);
    g->date.src = get_src(det, fs);
    g->date.line = get_u64(fs, 10);
    g->date.offset = get_u64(fs, 10);
    g->date.time_ms = get_i64(fs);
    g->hint = get_str(fs, &g->hint_len);
    g->records = (unsigned int)get_int(fs, 0, 1 << 30);
    get_info(fs, &g->info);
    g->used = true;
    det->live_groups++;
    if (!g->emitted && g->deadline >= 0)
        det->held++;
    if (g->seq > det->seq)
        det->seq = g->seq;
    return !fs->bad;
}

static bool
load_await(struct detect *det, struct fields *fs)
{
    struct awaiting *a = NULL;
    AUTOFREE char *id = NULL;

    for (size_t i = 0; i < MAX_AWAITING && !a; i++) {
        if (!det->await[i].used)
            a = &det->await[i];
    }
    if (!a)
        return true;
    a->group_seq = get_u64(fs, 10);
    a->vm = get_u64(fs, 16);
    a->mon = get_u64(fs, 16);
    a->time_ms = get_i64(fs);
    id = get_str(fs, NULL);
    if (id)
        snprintf(a->id, sizeof(a->id), "%s", id);
    a->used = !fs->bad;
    return !fs->bad;
}

static bool
load_pending(struct detect *det, struct fields *fs)
{
    struct pending *p = NULL;

    for (size_t i = 0; i < MAX_PENDING && !p; i++) {
        if (!det->pend[i].used)
            p = &det->pend[i];
    }
    if (!p)
        return true;
    p->domain = get_str(fs, &p->domain_len);
    p->ref.src = get_src(det, fs);
    p->ref.line = get_u64(fs, 10);
    p->ref.offset = get_u64(fs, 10);
    p->ref.time_ms = get_i64(fs);
    p->deadline = get_i64(fs);
    get_info(fs, &p->info);
    p->used = true;
    det->held++;
    return !fs->bad;
}

static bool
load_hist(struct detect *det, struct fields *fs)
{
    struct hist *h = &det->hist[det->hist_next];
    AUTOFREE char *id = NULL;

    hist_clear(h);
    h->type = (enum pv_event_type)get_int(fs, 0, PV_EVENT_TYPE_LAST - 1);
    h->domain = get_str(fs, &h->domain_len);
    h->time_ms = get_i64(fs);
    h->mon = get_u64(fs, 16);
    id = get_str(fs, NULL);
    if (id)
        snprintf(h->id, sizeof(h->id), "%s", id);
    get_info(fs, &h->info);
    h->used = true;
    det->hist_next = (det->hist_next + 1) % det->cfg.history;
    return !fs->bad;
}

static bool
load_worker(struct detect *det, struct fields *fs)
{
    uint64_t tid = get_u64(fs, 10);
    uint64_t seq = get_u64(fs, 10);
    uint64_t vm = get_u64(fs, 16);
    int64_t t = get_i64(fs);
    uint64_t touch = get_u64(fs, 10);
    uint64_t clock_touch = det->touch;
    struct worker_tid *w;

    if (fs->bad || tid == 0)
        return false;
    w = worker_get(det, tid);
    /* Loading is not a use: the saved counter stands (a restart must not move it). */
    det->touch = clock_touch;
    w->group_seq = seq;
    w->handler_vm = vm;
    w->time_ms = t;
    w->touch = touch;
    return true;
}

static bool
load_detect_line(struct detect *det, char *line, bool *seen_header)
{
    struct fields fs;
    const char *kind;
    char *save = NULL;

    memset(&fs, 0, sizeof(fs));
    for (char *tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        if (fs.n == ARRAY_SIZE(fs.f))
            return false;
        fs.f[fs.n++] = tok;
    }
    if (fs.n == 0)
        return true;
    kind = next_field(&fs);
    if (strcmp(kind, "detect-state") == 0) {
        *seen_header = get_int(&fs, 1, 1) == 1 && !fs.bad;
        return *seen_header;
    }
    if (strcmp(kind, "detect-clock") == 0) {
        det->clock = get_i64(&fs);
        det->seq = get_u64(&fs, 10);
        det->touch = get_u64(&fs, 10);
        return !fs.bad;
    }
    if (strcmp(kind, "detect-source") == 0)
        return load_source(det, &fs);
    if (strcmp(kind, "detect-group") == 0)
        return load_group(det, &fs);
    if (strcmp(kind, "detect-await") == 0)
        return load_await(det, &fs);
    if (strcmp(kind, "detect-pending") == 0)
        return load_pending(det, &fs);
    if (strcmp(kind, "detect-hist") == 0)
        return load_hist(det, &fs);
    if (strcmp(kind, "detect-worker") == 0)
        return load_worker(det, &fs);
    /* resolve-* lines are read by resolve_load(); anything else is an error */
    return strncmp(kind, "resolve-", 8) == 0;
}

int
detect_load_state(struct detect *det, const char *text, size_t len)
{
    const char *p = text;
    const char *end = text + len;
    bool header = false;
    int rc;

    clear_state(det);
    for (size_t i = 0; i < det->nsrc; i++)
        det->src[i]->loaded = false;
    rc = resolve_load(det->res, text, len);
    while (rc == 0 && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        AUTOFREE char *line = NULL;

        if (n > 0 && memchr(p, '\0', n) != NULL)
            rc = -EINVAL;
        else if (n > 0) {
            line = xstrndup(p, n);
            if (!load_detect_line(det, line, &header))
                rc = -EINVAL;
        }
        p = nl ? nl + 1 : end;
    }
    if (rc == 0 && !header)
        rc = -EINVAL;
    if (rc < 0) {
        clear_state(det);
        resolve_load(det->res, "", 0);
        /* Refused: every source as new too, whatever lines came before the bad one. */
        for (size_t i = 0; i < det->nsrc; i++) {
            struct source *s = det->src[i];

            logrec_set_position(s->sp, 0, 1);
            s->have_seen = false;
            s->any_head = false;
            s->seen_head_start = 0;
            s->last_head_start = 0;
            s->io_pending = false;
            s->io_start = 0;
            s->io_mon = 0;
            s->io_tid = 0;
            s->io_time = 0;
            s->io_line = 0;
        }
    }
    det->resolve_seen = resolve_version(det->res);
    return rc;
}
