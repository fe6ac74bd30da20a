/*
 * fuzz_resolve: the monitor -> domain resolver (parser/resolve.h) driven
 * directly by a random stream of evidence, with a model that checks what
 * the resolver answers.
 *
 * The input is a program: one op letter, then its argument bytes (blanks
 * and unknown letters are skipped, so seeds can be written by hand):
 *
 *   N tid mon          QEMU_MONITOR_NEW on thread tid
 *   C mon              QEMU_MONITOR_CLOSE
 *   c tid vm name      "Connect monitor to vm= name=" (R: Reconnect)
 *   t tid name         start-time taint line
 *   m tid mon vm name  "Entering monitor (mon= vm= name=)"
 *   v tid mon vm       "mon:M vm:V"
 *   n vm name          a "vm=V name=N" line
 *   L mon vm           lookup, checked against the model
 *   T k                the log clock moves k*k*100 ms; U: next times unknown
 *   S                  save, load into a fresh resolver, compare, go on with it
 *   F kind count       a flood of count pointers/threads outside the pools, once
 *                      per input (fills the tables: eviction, growth; the
 *                      fuzz build shrinks the tables so this stays cheap)
 *   P idx len bytes    set name pool entry idx to len raw bytes
 *   X rest             resolve_load() of the rest of the input (raw text)
 *
 * Each tid/mon/vm/name/idx argument byte picks one of 8 values (byte & 7;
 * value 0 is the 0 pointer/thread). The model keeps, per monitor lifetime
 * (NEW or CLOSE starts a new one), every name that evidence tied to that
 * monitor, to a vm bound to it or to the thread that opened it; per vm
 * pointer every name logged for it. A name the resolver returns must be in
 * those sets: "a resolved name was actually logged for that pointer", and
 * a closed monitor forgets its name. The model is a superset (it never
 * forgets by eviction), so it never rejects a correct answer.
 *
 * Save/load must round-trip: the reloaded tables save to the same lines
 * and answer every lookup the same way.
 */
#include <config.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolve.h"
#include "strbuf.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define POOL 8
#define MAX_FLOODS 1
/* Flood sizes: up to 255 * this, enough to overflow the smallest table. */
#define RESOLVE_FLOOD_SCALE (RESOLVE_MAX_MONITORS / 32 + 1)
#define MAX_NAME_SETS 256

/* A set overflowed: the model is no longer a superset, stop judging. */
static bool model_overflow;

struct input {
    const uint8_t *p;
    const uint8_t *end;
};

static int
next_byte(struct input *in)
{
    return in->p < in->end ? *in->p++ : -1;
}

/* One argument: the next byte & 7 (0 when the input ran out). */
static unsigned int
arg(struct input *in)
{
    int b = next_byte(in);

    return b < 0 ? 0 : (unsigned int)b & (POOL - 1);
}

/* ---- pools -------------------------------------------------------------- */

static uint64_t
mon_of(unsigned int i)
{
    return i ? UINT64_C(0x7f3a24011010) + (i - 1) * 0x100 : 0;
}

static uint64_t
vm_of(unsigned int i)
{
    return i ? UINT64_C(0x5625600b8000) + i * 0x10 : 0;
}

static uint64_t
tid_of(unsigned int i)
{
    return i ? 14180 + i : 0;
}

struct name {
    char *s;
    size_t len;
};

/* A set of names (small: a linear list). */
struct name_set {
    struct name *v;
    size_t n;
};

static bool
set_has(const struct name_set *set, const char *s, size_t len)
{
    for (size_t i = 0; i < set->n; i++) {
        if (set->v[i].len == len && memcmp(set->v[i].s, s, len) == 0)
            return true;
    }
    return false;
}

static void
set_add(struct name_set *set, const char *s, size_t len)
{
    if (set_has(set, s, len))
        return;
    if (set->n >= MAX_NAME_SETS) {
        model_overflow = true;
        return;
    }
    set->v = xreallocarray(set->v, set->n + 1, sizeof(*set->v));
    set->v[set->n].s = xmemdup(s, len);
    set->v[set->n].len = len;
    set->n++;
}

static void
set_add_all(struct name_set *dst, const struct name_set *src)
{
    for (size_t i = 0; i < src->n; i++)
        set_add(dst, src->v[i].s, src->v[i].len);
}

static void
set_clear(struct name_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        free(set->v[i].s);
    free(set->v);
    set->v = NULL;
    set->n = 0;
}

/* ---- the model ---------------------------------------------------------- */

struct model {
    bool valid;                     /* false after X: the tables came from raw text */
    struct name_set mon_names[POOL];    /* this lifetime of the monitor */
    unsigned int mon_vms[POOL];     /* bit i: vm_of(i) was bound in this lifetime */
    struct name_set vm_names[POOL];     /* every name ever logged for the vm */
    struct name_set tid_names[POOL];    /* evidence waiting on the thread */
    unsigned int tid_vms[POOL];
    struct name pool[POOL];
};

static const char *const initial_names[POOL] = {
    "panictest", "win2016", "", "web 01 \"x\" $(id)", "\xe6\x95\xb0\xe6\x8d\xae\xe5\xba\x93",
    "a%b c", "x\ny", "--help",
};

static void
model_init(struct model *m)
{
    memset(m, 0, sizeof(*m));
    m->valid = true;
    for (unsigned int i = 0; i < POOL; i++) {
        m->pool[i].len = strlen(initial_names[i]);
        m->pool[i].s = xmemdup(initial_names[i], m->pool[i].len);
    }
}

static void
model_free(struct model *m)
{
    for (unsigned int i = 0; i < POOL; i++) {
        set_clear(&m->mon_names[i]);
        set_clear(&m->vm_names[i]);
        set_clear(&m->tid_names[i]);
        free(m->pool[i].s);
    }
}

/* A new lifetime of monitor @mon, opened by thread @tid (0: none). */
static void
model_new_lifetime(struct model *m, unsigned int tid, unsigned int mon)
{
    set_clear(&m->mon_names[mon]);
    m->mon_vms[mon] = 0;
    if (tid) {
        set_add_all(&m->mon_names[mon], &m->tid_names[tid]);
        m->mon_vms[mon] |= m->tid_vms[tid];
    }
}

/*
 * Lines that may open the lifetime implicitly (a waiting "Connect" on the
 * thread): the model cannot tell whether they did, so it keeps the old
 * names and adds the thread's (a superset either way).
 */
static void
model_maybe_new(struct model *m, unsigned int tid, unsigned int mon)
{
    if (tid) {
        set_add_all(&m->mon_names[mon], &m->tid_names[tid]);
        m->mon_vms[mon] |= m->tid_vms[tid];
    }
}

static void
fail(const char *what, const struct resolve_result *res, unsigned int mon, unsigned int vm)
{
    fprintf(stderr, "fuzz_resolve: %s (lookup mon=0x%" PRIx64 " vm=0x%" PRIx64 " -> '%.*s' by %d)\n",
            what, mon_of(mon), vm_of(vm), res && res->name ? (int)res->name_len : 0,
            res && res->name ? res->name : "", res ? (int)res->by : -1);
    abort();
}

/* The answer must be a name logged for @mon's lifetime, a vm bound to it, or @vm. */
static void
check_lookup(struct resolve *r, const struct model *m, unsigned int mon, unsigned int vm)
{
    struct resolve_result res;
    bool found = resolve_lookup(r, mon_of(mon), vm_of(vm), &res);

    if (found != (res.name != NULL))
        fail("return value and name disagree", &res, mon, vm);
    if (found && res.conflict)
        fail("a name despite a conflict", &res, mon, vm);
    if (found && res.by == PV_RESOLVED_NONE)
        fail("a name without a source", &res, mon, vm);
    if (!mon && !vm && (found || res.vm || res.generation))
        fail("an answer for no pointer at all", &res, mon, vm);
    if (!m->valid || model_overflow || !found)
        return;
    if (mon && set_has(&m->mon_names[mon], res.name, res.name_len))
        return;
    if (vm && set_has(&m->vm_names[vm], res.name, res.name_len))
        return;
    for (unsigned int i = 1; mon && i < POOL; i++) {
        if ((m->mon_vms[mon] & (1u << i)) && set_has(&m->vm_names[i], res.name, res.name_len))
            return;
    }
    fail("a name that was never logged for this pointer (or is from a closed lifetime)", &res,
         mon, vm);
}

/* ---- save / load ------------------------------------------------------- */

static int
cmp_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The saved text with its lines sorted (table order is not part of the format). */
static char *
saved_sorted(const struct resolve *r)
{
    struct strbuf out = STRBUF_INIT;
    struct strbuf sorted = STRBUF_INIT;
    char **lines = NULL;
    size_t n = 0;
    char *save = NULL;

    resolve_save(r, &out);
    for (char *l = strtok_r(out.buf ? out.buf : (char *)"", "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        lines = xreallocarray(lines, n + 1, sizeof(*lines));
        lines[n++] = l;
    }
    if (n)
        qsort(lines, n, sizeof(*lines), cmp_lines);
    for (size_t i = 0; i < n; i++) {
        strbuf_addstr(&sorted, lines[i]);
        strbuf_addch(&sorted, '\n');
    }
    free(lines);
    strbuf_release(&out);
    return strbuf_detach(&sorted, NULL);
}

static bool
same_result(const struct resolve_result *a, const struct resolve_result *b)
{
    if ((a->name == NULL) != (b->name == NULL))
        return false;
    if (a->name && (a->name_len != b->name_len || memcmp(a->name, b->name, a->name_len) != 0))
        return false;
    return a->by == b->by && a->vm == b->vm && a->conflict == b->conflict &&
           a->generation == b->generation && a->opened == b->opened;
}

/* Save @r, load it into a new resolver, check both agree; returns the new one. */
static struct resolve *
round_trip(struct resolve *r)
{
    struct strbuf text = STRBUF_INIT;
    struct resolve *copy = resolve_new();
    char *before;
    char *after;

    resolve_save(r, &text);
    if (resolve_load(copy, text.buf ? text.buf : "", text.len) != 0) {
        fprintf(stderr, "fuzz_resolve: resolve_load() refused resolve_save() output:\n%s", text.buf);
        abort();
    }
    if (resolve_monitor_count(copy) != resolve_monitor_count(r))
        abort();
    before = saved_sorted(r);
    after = saved_sorted(copy);
    if (strcmp(before, after) != 0) {
        fprintf(stderr, "fuzz_resolve: save/load/save differs:\n%s---\n%s", before, after);
        abort();
    }
    for (unsigned int mon = 0; mon < POOL; mon++) {
        for (unsigned int vm = 0; vm < POOL; vm++) {
            struct resolve_result a, b;

            resolve_lookup(r, mon_of(mon), vm_of(vm), &a);
            resolve_lookup(copy, mon_of(mon), vm_of(vm), &b);
            if (!same_result(&a, &b))
                fail("the reloaded resolver answers differently", &b, mon, vm);
        }
    }
    free(before);
    free(after);
    strbuf_release(&text);
    resolve_free(r);
    return copy;
}

/* ---- the program -------------------------------------------------------- */

static void
flood(struct resolve *r, unsigned int kind, unsigned int count)
{
    char name[32];

    for (unsigned int i = 0; i < count; i++) {
        uint64_t p = UINT64_C(0x100000) + i * 16;
        int len = snprintf(name, sizeof(name), "flood-%u", i);

        switch (kind & 3) {
        case 0:
            resolve_monitor_new(r, 0, p, -1);
            break;
        case 1:
            resolve_monitor_name(r, 0, p, p + 8, name, (size_t)len);
            break;
        case 2:
            resolve_vm_name(r, p, name, (size_t)len);
            break;
        default:
            resolve_start_taint(r, 100000 + i, name, (size_t)len, -1);
            resolve_connect(r, 200000 + i, 0, name, (size_t)len, false, -1);
            break;
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = { data, data + size };
    struct resolve *r = resolve_new();
    struct model m;
    int64_t now = 1795600000000;
    bool time_unknown = false;
    unsigned int floods = 0;
    int op;

    model_init(&m);
    model_overflow = false;
    while ((op = next_byte(&in)) >= 0) {
        int64_t t = time_unknown ? -1 : now;
        unsigned int tid, mon, vm, k;
        const struct name *nm;

        switch (op) {
        case 'N':
            tid = arg(&in);
            mon = arg(&in);
            resolve_monitor_new(r, tid_of(tid), mon_of(mon), t);
            if (mon) {
                model_new_lifetime(&m, tid, mon);
                set_clear(&m.tid_names[tid]);
                m.tid_vms[tid] = 0;
            }
            break;
        case 'C':
            mon = arg(&in);
            resolve_monitor_close(r, mon_of(mon));
            model_new_lifetime(&m, 0, mon);
            break;
        case 'c':
        case 'R':
            tid = arg(&in);
            vm = arg(&in);
            nm = &m.pool[arg(&in)];
            resolve_connect(r, tid_of(tid), vm_of(vm), nm->s, nm->len, op == 'R', t);
            if (vm)
                set_add(&m.vm_names[vm], nm->s, nm->len);
            if (tid) {
                set_add(&m.tid_names[tid], nm->s, nm->len);
                m.tid_vms[tid] |= vm ? 1u << vm : 0;
            }
            break;
        case 't':
            tid = arg(&in);
            nm = &m.pool[arg(&in)];
            resolve_start_taint(r, tid_of(tid), nm->s, nm->len, t);
            if (tid)
                set_add(&m.tid_names[tid], nm->s, nm->len);
            break;
        case 'm':
            tid = arg(&in);
            mon = arg(&in);
            vm = arg(&in);
            nm = &m.pool[arg(&in)];
            resolve_monitor_name(r, tid_of(tid), mon_of(mon), vm_of(vm), nm->s, nm->len);
            if (mon) {
                model_maybe_new(&m, tid, mon);
                set_add(&m.mon_names[mon], nm->s, nm->len);
                m.mon_vms[mon] |= vm ? 1u << vm : 0;
                if (vm)
                    set_add(&m.vm_names[vm], nm->s, nm->len);
            }
            break;
        case 'v':
            tid = arg(&in);
            mon = arg(&in);
            vm = arg(&in);
            resolve_monitor_vm(r, tid_of(tid), mon_of(mon), vm_of(vm));
            if (mon && vm) {
                model_maybe_new(&m, tid, mon);
                m.mon_vms[mon] |= 1u << vm;
            }
            break;
        case 'n':
            vm = arg(&in);
            nm = &m.pool[arg(&in)];
            resolve_vm_name(r, vm_of(vm), nm->s, nm->len);
            if (vm)
                set_add(&m.vm_names[vm], nm->s, nm->len);
            break;
        case 'L':
            mon = arg(&in);
            vm = arg(&in);
            check_lookup(r, &m, mon, vm);
            break;
        case 'T':
            k = (unsigned int)(next_byte(&in) & 0xff);
            now += (int64_t)k * k * 100;
            time_unknown = false;
            break;
        case 'U':
            time_unknown = true;
            break;
        case 'S':
            r = round_trip(r);
            break;
        case 'F':
            k = arg(&in);
            if (floods++ < MAX_FLOODS)
                flood(r, k, (unsigned int)(next_byte(&in) & 0xff) * RESOLVE_FLOOD_SCALE);
            break;
        case 'P': {
            unsigned int idx = arg(&in);
            size_t len = (size_t)(next_byte(&in) & 63);

            if (len > (size_t)(in.end - in.p))
                len = (size_t)(in.end - in.p);
            free(m.pool[idx].s);
            m.pool[idx].s = xmemdup(in.p, len);
            m.pool[idx].len = len;
            in.p += len;
            break;
        }
        case 'X':
            resolve_load(r, (const char *)in.p, (size_t)(in.end - in.p));
            in.p = in.end;
            m.valid = false;
            r = round_trip(r);
            break;
        default:
            continue;
        }
        if (resolve_monitor_count(r) > RESOLVE_MAX_MONITORS)
            abort();
    }
    /* Every pair once more at the end, then a last round trip. */
    for (unsigned int mon = 0; mon < POOL; mon++) {
        for (unsigned int vm = 0; vm < POOL; vm++)
            check_lookup(r, &m, mon, vm);
    }
    r = round_trip(r);
    resolve_free(r);
    model_free(&m);
    return 0;
}
