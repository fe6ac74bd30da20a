#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "pmap.h"
#include "resolve.h"
#include "xalloc.h"

/* One monitor lifetime (QEMU_MONITOR_NEW .. QEMU_MONITOR_CLOSE). */
struct mon_entry {
    uint64_t mon;               /* key */
    uint64_t generation;
    uint64_t vm;                /* bound virDomainObj, 0 = unknown */
    bool vm_conflict;           /* two different vm pointers were seen */
    bool conflict;              /* two different names: the answer is "unknown" */
    bool opened;                /* began with QEMU_MONITOR_NEW (not seen mid-life) */
    enum pv_resolved_by by;
    char *name;
    size_t name_len;
    uint64_t touch;
};

struct vm_entry {
    uint64_t vm;                /* key */
    char *name;
    size_t name_len;
    uint64_t touch;
};

/* Name evidence waiting for the next QEMU_MONITOR_NEW on a thread. */
struct tid_entry {
    uint64_t tid;               /* key */
    /* Connect/Reconnect monitor to ... */
    char *strong;
    size_t strong_len;
    uint64_t strong_vm;
    int64_t strong_time;
    bool strong_reconnect;
    /* start-time taint line */
    char *weak;
    size_t weak_len;
    enum pv_resolved_by weak_by;
    int64_t weak_time;
    bool weak_conflict;
    uint64_t touch;
};

struct resolve {
    struct pmap mons;
    struct pmap vms;
    struct pmap tids;
    uint64_t generation;
    uint64_t touch;
    uint64_t version;
};

struct resolve *
resolve_new(void)
{
    struct resolve *r = xcalloc(1, sizeof(*r));

    pmap_init(&r->mons, sizeof(struct mon_entry));
    pmap_init(&r->vms, sizeof(struct vm_entry));
    pmap_init(&r->tids, sizeof(struct tid_entry));
    return r;
}

static void
tid_clear(struct tid_entry *t)
{
    free(t->strong);
    free(t->weak);
    t->strong = NULL;
    t->weak = NULL;
    t->strong_len = 0;
    t->weak_len = 0;
    t->weak_conflict = false;
}

static void
clear_all(struct resolve *r)
{
    for (size_t i = 0; i < r->mons.cap; i++) {
        struct mon_entry *e = pmap_slot(&r->mons, i);

        if (e)
            free(e->name);
    }
    for (size_t i = 0; i < r->vms.cap; i++) {
        struct vm_entry *e = pmap_slot(&r->vms, i);

        if (e)
            free(e->name);
    }
    for (size_t i = 0; i < r->tids.cap; i++) {
        struct tid_entry *e = pmap_slot(&r->tids, i);

        if (e)
            tid_clear(e);
    }
    pmap_release(&r->mons);
    pmap_release(&r->vms);
    pmap_release(&r->tids);
}

void
resolve_free(struct resolve *r)
{
    if (!r)
        return;
    clear_all(r);
    free(r);
}

uint64_t
resolve_version(const struct resolve *r)
{
    return r->version;
}

size_t
resolve_monitor_count(const struct resolve *r)
{
    return r->mons.count;
}

static bool
name_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

static char *
name_dup(const char *name, size_t len)
{
    char *s = xmalloc(len + 1);

    memcpy(s, name, len);
    s[len] = '\0';
    return s;
}

/* Free a slot in a full table: the least recently touched entry goes. */
static void
evict_lru(struct pmap *m, size_t touch_off, size_t name_off, size_t extra_off)
{
    uint64_t best_key = 0;
    uint64_t best_touch = UINT64_MAX;

    for (size_t i = 0; i < m->cap; i++) {
        unsigned char *e = pmap_slot(m, i);
        uint64_t touch;

        if (!e)
            continue;
        memcpy(&touch, e + touch_off, sizeof(touch));
        if (touch < best_touch) {
            best_touch = touch;
            memcpy(&best_key, e, sizeof(best_key));
        }
    }
    if (best_key) {
        unsigned char *e = pmap_get(m, best_key);
        char *s;

        memcpy(&s, e + name_off, sizeof(s));
        free(s);
        if (extra_off) {
            memcpy(&s, e + extra_off, sizeof(s));
            free(s);
        }
        pmap_del(m, best_key);
    }
}

static struct mon_entry *
mon_put(struct resolve *r, uint64_t mon, bool *created)
{
    if (!pmap_get(&r->mons, mon) && r->mons.count >= RESOLVE_MAX_MONITORS)
        evict_lru(&r->mons, offsetof(struct mon_entry, touch), offsetof(struct mon_entry, name), 0);
    return pmap_put(&r->mons, mon, created);
}

static struct tid_entry *
tid_put(struct resolve *r, uint64_t tid)
{
    bool created;
    struct tid_entry *t;

    if (!pmap_get(&r->tids, tid) && r->tids.count >= RESOLVE_MAX_THREADS)
        evict_lru(&r->tids, offsetof(struct tid_entry, touch), offsetof(struct tid_entry, strong),
                  offsetof(struct tid_entry, weak));
    t = pmap_put(&r->tids, tid, &created);
    t->touch = ++r->touch;
    return t;
}

void
resolve_vm_name(struct resolve *r, uint64_t vm, const char *name, size_t len)
{
    struct vm_entry *e;
    bool created;

    if (!vm || !name)
        return;
    if (!pmap_get(&r->vms, vm) && r->vms.count >= RESOLVE_MAX_VMS)
        evict_lru(&r->vms, offsetof(struct vm_entry, touch), offsetof(struct vm_entry, name), 0);
    e = pmap_put(&r->vms, vm, &created);
    e->touch = ++r->touch;
    /* A vm pointer names one domain object; the newest line wins (objects get reused). */
    if (!created && name_eq(e->name, e->name_len, name, len))
        return;
    free(e->name);
    e->name = name_dup(name, len);
    e->name_len = len;
    r->version++;
}

static void
bind_vm(struct resolve *r, struct mon_entry *e, uint64_t vm)
{
    if (!vm || e->vm_conflict)
        return;
    if (e->vm == 0) {
        e->vm = vm;
        r->version++;
    } else if (e->vm != vm) {
        e->vm_conflict = true;
        r->version++;
    }
}

void
resolve_monitor_new(struct resolve *r, uint64_t tid, uint64_t mon, int64_t time_ms)
{
    struct tid_entry *t = tid ? pmap_get(&r->tids, tid) : NULL;
    struct mon_entry *e;
    bool created;

    if (!mon)
        return;
    e = mon_put(r, mon, &created);
    /* a NEW without the CLOSE of the previous user: a new lifetime anyway */
    free(e->name);
    memset(e, 0, sizeof(*e));
    e->mon = mon;
    e->generation = ++r->generation;
    e->opened = true;
    e->touch = ++r->touch;
    r->version++;
    if (!t)
        return;
    if (t->strong && (time_ms < 0 || t->strong_time < 0 ||
                      time_ms - t->strong_time <= RESOLVE_CONNECT_WINDOW_MS)) {
        e->name = steal_pointer(&t->strong);
        e->name_len = t->strong_len;
        e->by = t->strong_reconnect ? PV_RESOLVED_RECONNECT : PV_RESOLVED_CONNECT;
        bind_vm(r, e, t->strong_vm);
    } else if (t->weak && !t->weak_conflict &&
               (time_ms < 0 || t->weak_time < 0 || time_ms - t->weak_time <= RESOLVE_WEAK_WINDOW_MS)) {
        e->name = steal_pointer(&t->weak);
        e->name_len = t->weak_len;
        e->by = t->weak_by;
    }
    /* evidence is used by one NEW only */
    tid_clear(t);
}

void
resolve_monitor_close(struct resolve *r, uint64_t mon)
{
    struct mon_entry *e = pmap_get(&r->mons, mon);

    if (!e)
        return;
    free(e->name);
    pmap_del(&r->mons, mon);
    r->version++;
}

void
resolve_connect(struct resolve *r, uint64_t tid, uint64_t vm, const char *name, size_t len,
                bool reconnect, int64_t time_ms)
{
    struct tid_entry *t;

    resolve_vm_name(r, vm, name, len);
    if (!tid)
        return;
    t = tid_put(r, tid);
    free(t->strong);
    t->strong = name_dup(name, len);
    t->strong_len = len;
    t->strong_vm = vm;
    t->strong_time = time_ms;
    t->strong_reconnect = reconnect;
}

void
resolve_start_taint(struct resolve *r, uint64_t tid, const char *name, size_t len,
                    int64_t time_ms)
{
    enum pv_resolved_by how = PV_RESOLVED_TAINT;

    struct tid_entry *t;

    if (!tid)
        return;
    t = tid_put(r, tid);
    if (t->weak && !(time_ms >= 0 && t->weak_time >= 0 &&
                     time_ms - t->weak_time > RESOLVE_WEAK_WINDOW_MS)) {
        /* two different names on one thread before the NEW: trust neither */
        if (!name_eq(t->weak, t->weak_len, name, len))
            t->weak_conflict = true;
        t->weak_time = time_ms;
        return;
    }
    free(t->weak);
    t->weak = name_dup(name, len);
    t->weak_len = len;
    t->weak_by = how;
    t->weak_time = time_ms;
    t->weak_conflict = false;
}

/*
 * QEMU_MONITOR_NEW was not logged but this thread just said "Connect
 * monitor to vm=@vm": this mon line is the first of the new lifetime.
 */
static void
implicit_new(struct resolve *r, uint64_t tid, uint64_t mon, uint64_t vm, const char *name,
             size_t len)
{
    struct tid_entry *t = tid ? pmap_get(&r->tids, tid) : NULL;

    if (!t || !t->strong || !vm || t->strong_vm != vm)
        return;
    if (name && !name_eq(t->strong, t->strong_len, name, len))
        return;
    resolve_monitor_new(r, tid, mon, -1);
}

void
resolve_monitor_name(struct resolve *r, uint64_t tid, uint64_t mon, uint64_t vm,
                     const char *name, size_t len)
{
    struct mon_entry *e;
    bool created;

    if (!mon || !name)
        return;
    implicit_new(r, tid, mon, vm, name, len);
    resolve_vm_name(r, vm, name, len);
    e = mon_put(r, mon, &created);
    e->touch = ++r->touch;
    if (created) {
        /* the log began inside this monitor's lifetime (rotation, late start) */
        e->generation = ++r->generation;
    }
    bind_vm(r, e, vm);
    if (e->conflict)
        return;
    if (!e->name) {
        e->name = name_dup(name, len);
        e->name_len = len;
        e->by = PV_RESOLVED_MONITOR;
        r->version++;
    } else if (name_eq(e->name, e->name_len, name, len)) {
        if (e->by == PV_RESOLVED_TAINT) {
            e->by = PV_RESOLVED_MONITOR;
            r->version++;
        }
    } else if (e->by == PV_RESOLVED_TAINT) {
        /* a direct mon+name line beats an info-level guess */
        free(e->name);
        e->name = name_dup(name, len);
        e->name_len = len;
        e->by = PV_RESOLVED_MONITOR;
        r->version++;
    } else {
        e->conflict = true;
        r->version++;
    }
}

void
resolve_monitor_vm(struct resolve *r, uint64_t tid, uint64_t mon, uint64_t vm)
{
    struct mon_entry *e;
    bool created;

    if (!mon || !vm)
        return;
    implicit_new(r, tid, mon, vm, NULL, 0);
    e = mon_put(r, mon, &created);
    e->touch = ++r->touch;
    if (created)
        e->generation = ++r->generation;
    bind_vm(r, e, vm);
}

bool
resolve_lookup(struct resolve *r, uint64_t mon, uint64_t vm, struct resolve_result *out)
{
    struct mon_entry *e = mon ? pmap_get(&r->mons, mon) : NULL;
    struct vm_entry *v = NULL;
    uint64_t use_vm = vm;

    memset(out, 0, sizeof(*out));
    if (e) {
        out->generation = e->generation;
        out->opened = e->opened;
        if (e->conflict) {
            out->conflict = true;
            return false;
        }
        if (!e->vm_conflict && e->vm) {
            if (vm && vm != e->vm) {
                /* the event's own vm pointer disagrees with the monitor's */
                out->conflict = true;
                return false;
            }
            use_vm = e->vm;
        }
    }
    out->vm = use_vm;
    if (use_vm)
        v = pmap_get(&r->vms, use_vm);
    if (e && e->name) {
        if (v && v->name && !name_eq(e->name, e->name_len, v->name, v->name_len)) {
            out->conflict = true;
            return false;
        }
        out->name = e->name;
        out->name_len = e->name_len;
        out->by = e->by;
        return true;
    }
    if (v && v->name) {
        out->name = v->name;
        out->name_len = v->name_len;
        out->by = PV_RESOLVED_VM;
        return true;
    }
    return false;
}

/* ---- state text ------------------------------------------------------ */

void
resolve_save(const struct resolve *r, struct strbuf *out)
{
    strbuf_addf(out, "resolve-counters %" PRIu64 " %" PRIu64 "\n", r->generation, r->touch);
    for (size_t i = 0; i < r->mons.cap; i++) {
        const struct mon_entry *e = pmap_slot(&r->mons, i);

        if (!e)
            continue;
        strbuf_addf(out, "resolve-mon %" PRIx64 " %" PRIu64 " %" PRIx64 " %d %d %d %d %" PRIu64 " ",
                    e->mon, e->generation, e->vm, e->vm_conflict, e->conflict, e->opened,
                    (int)e->by, e->touch);
        if (e->name)
            strbuf_add_pct(out, e->name, e->name_len);
        else
            strbuf_addch(out, '-');
        strbuf_addch(out, '\n');
    }
    for (size_t i = 0; i < r->vms.cap; i++) {
        const struct vm_entry *e = pmap_slot(&r->vms, i);

        if (!e)
            continue;
        strbuf_addf(out, "resolve-vm %" PRIx64 " %" PRIu64 " ", e->vm, e->touch);
        strbuf_add_pct(out, e->name, e->name_len);
        strbuf_addch(out, '\n');
    }
    for (size_t i = 0; i < r->tids.cap; i++) {
        const struct tid_entry *t = pmap_slot(&r->tids, i);

        if (!t || (!t->strong && !t->weak))
            continue;
        strbuf_addf(out, "resolve-tid %" PRIu64 " %" PRIu64 " %" PRIx64 " %" PRId64 " %d ",
                    t->tid, t->touch, t->strong_vm, t->strong_time, t->strong_reconnect);
        if (t->strong)
            strbuf_add_pct(out, t->strong, t->strong_len);
        else
            strbuf_addch(out, '-');
        strbuf_addf(out, " %d %" PRId64 " %d ", (int)t->weak_by, t->weak_time, t->weak_conflict);
        if (t->weak)
            strbuf_add_pct(out, t->weak, t->weak_len);
        else
            strbuf_addch(out, '-');
        strbuf_addch(out, '\n');
    }
}

/* Split @line at blanks into at most @max fields; returns the count. */
static size_t
split_fields(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *save = NULL;

    for (char *tok = strtok_r(line, " ", &save); tok && n < max; tok = strtok_r(NULL, " ", &save))
        fields[n++] = tok;
    return n;
}

/* "-" is an absent name; otherwise percent-decoded. Returns false if malformed. */
static bool
field_name(const char *f, char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (strcmp(f, "-") == 0)
        return true;
    *out = pct_unescape(f, strlen(f), out_len);
    return *out != NULL;
}

static bool
parse_u64f(const char *s, int base, uint64_t *out)
{
    char *end = NULL;

    if (!*s || *s == '-')
        return false;
    errno = 0;
    *out = strtoull(s, &end, base);
    return errno == 0 && *end == '\0';
}

static bool
parse_i64f(const char *s, int64_t *out)
{
    char *end = NULL;

    if (!*s)
        return false;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return errno == 0 && *end == '\0';
}

static bool
parse_by(const char *s, enum pv_resolved_by *out)
{
    int64_t v;

    if (!parse_i64f(s, &v) || v < 0 || v >= PV_RESOLVED_LAST)
        return false;
    *out = (enum pv_resolved_by)v;
    return true;
}

static bool
load_line(struct resolve *r, char *line)
{
    char *f[12];
    size_t n = split_fields(line, f, ARRAY_SIZE(f));
    bool created;

    if (n == 0)
        return true;
    if (n == 3 && strcmp(f[0], "resolve-counters") == 0)
        return parse_u64f(f[1], 10, &r->generation) && parse_u64f(f[2], 10, &r->touch);
    if (n == 10 && strcmp(f[0], "resolve-mon") == 0) {
        uint64_t mon, gen, vm, touch;
        int64_t vmc, conf, opened;
        enum pv_resolved_by by;
        char *name;
        size_t len;
        struct mon_entry *e;

        if (!parse_u64f(f[1], 16, &mon) || mon == 0 || !parse_u64f(f[2], 10, &gen) ||
            !parse_u64f(f[3], 16, &vm) || !parse_i64f(f[4], &vmc) || !parse_i64f(f[5], &conf) ||
            !parse_i64f(f[6], &opened) || !parse_by(f[7], &by) || !parse_u64f(f[8], 10, &touch) ||
            !field_name(f[9], &name, &len))
            return false;
        /* A name always comes with how it was found, and only from monitor evidence. */
        if ((name != NULL) != (by != PV_RESOLVED_NONE) ||
            (by != PV_RESOLVED_NONE && by != PV_RESOLVED_CONNECT && by != PV_RESOLVED_RECONNECT &&
             by != PV_RESOLVED_MONITOR && by != PV_RESOLVED_TAINT)) {
            free(name);
            return false;
        }
        if (r->mons.count >= RESOLVE_MAX_MONITORS && !pmap_get(&r->mons, mon)) {
            free(name);
            return true;
        }
        e = pmap_put(&r->mons, mon, &created);
        free(e->name);
        e->generation = gen;
        e->vm = vm;
        e->vm_conflict = vmc != 0;
        e->conflict = conf != 0;
        e->opened = opened != 0;
        e->by = by;
        e->touch = touch;
        e->name = name;
        e->name_len = len;
        return true;
    }
    if (n == 4 && strcmp(f[0], "resolve-vm") == 0) {
        uint64_t vm, touch;
        char *name;
        size_t len;
        struct vm_entry *e;

        if (!parse_u64f(f[1], 16, &vm) || vm == 0 || !parse_u64f(f[2], 10, &touch) ||
            !field_name(f[3], &name, &len) || !name)
            return false;
        if (r->vms.count >= RESOLVE_MAX_VMS && !pmap_get(&r->vms, vm)) {
            free(name);
            return true;
        }
        e = pmap_put(&r->vms, vm, &created);
        free(e->name);
        e->name = name;
        e->name_len = len;
        e->touch = touch;
        return true;
    }
    if (n == 11 && strcmp(f[0], "resolve-tid") == 0) {
        uint64_t tid, touch, vm;
        int64_t st, recon, wt, wc;
        enum pv_resolved_by wby;
        char *strong, *weak;
        size_t slen, wlen;
        struct tid_entry *t;

        if (!parse_u64f(f[1], 10, &tid) || tid == 0 || !parse_u64f(f[2], 10, &touch) ||
            !parse_u64f(f[3], 16, &vm) || !parse_i64f(f[4], &st) || !parse_i64f(f[5], &recon) ||
            !parse_by(f[7], &wby) || !parse_i64f(f[8], &wt) || !parse_i64f(f[9], &wc))
            return false;
        if (!field_name(f[6], &strong, &slen))
            return false;
        if (!field_name(f[10], &weak, &wlen)) {
            free(strong);
            return false;
        }
        if (r->tids.count >= RESOLVE_MAX_THREADS && !pmap_get(&r->tids, tid)) {
            free(strong);
            free(weak);
            return true;
        }
        t = pmap_put(&r->tids, tid, &created);
        tid_clear(t);
        t->touch = touch;
        t->strong = strong;
        t->strong_len = slen;
        t->strong_vm = vm;
        t->strong_time = st;
        t->strong_reconnect = recon != 0;
        t->weak = weak;
        t->weak_len = wlen;
        t->weak_by = wby;
        t->weak_time = wt;
        t->weak_conflict = wc != 0;
        return true;
    }
    /* lines of other modules sharing the state text are not ours */
    return strncmp(f[0], "resolve-", 8) != 0;
}

int
resolve_load(struct resolve *r, const char *text, size_t len)
{
    const char *p = text;
    const char *end = text + len;

    clear_all(r);
    r->generation = 0;
    r->touch = 0;
    r->version++;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        AUTOFREE char *line = NULL;

        if (n == 0 || memchr(p, '\0', n) != NULL) {
            p = nl ? nl + 1 : end;
            continue;
        }
        line = xstrndup(p, n);
        p = nl ? nl + 1 : end;
        if (!load_line(r, line)) {
            clear_all(r);
            return -EINVAL;
        }
    }
    return 0;
}
