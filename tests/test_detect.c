/*
 * test_detect: the event assembler end to end, bytes in, JSON lines out.
 *
 * Golden cases live in tests/data/logparse/: CASE.log (or CASE.log.gz) is one
 * log, CASE/ a directory with daemon logs (*.log) and per-domain logs
 * (qemu/NAME.log); CASE.expected holds the events as JSON lines
 * (REGENERATE_OUTPUT=1 rewrites them). Every case is also fed byte by byte
 * and in random chunks, and cut in two with a state save/restore in the
 * middle: all must give the same events.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "cleanup.h"
#include "detect.h"
#include "strbuf.h"
#include "testutil.h"
#include "xalloc.h"

struct input {
    char *name;             /* as reported in "file" */
    char *domain;           /* per-domain log guest, or NULL */
    enum detect_source_kind kind;
    char *data;
    size_t len;
};

struct inputs {
    struct input v[16];
    size_t n;
};

static void
inputs_free(struct inputs *in)
{
    for (size_t i = 0; i < in->n; i++) {
        free(in->v[i].name);
        free(in->v[i].domain);
        free(in->v[i].data);
    }
    in->n = 0;
}

static char *
read_maybe_gz(const char *path, size_t *len)
{
    gzFile gz = gzopen(path, "rb");
    struct strbuf sb = STRBUF_INIT;
    char buf[65536];
    int n;

    if (!gz)
        fail_msg("cannot open '%s'", path);
    while ((n = gzread(gz, buf, sizeof(buf))) > 0)
        strbuf_add(&sb, buf, (size_t)n);
    assert_true(n == 0);
    gzclose(gz);
    return strbuf_detach(&sb, len);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted *.log names of @dir. */
static size_t
list_logs(const char *dir, char **names, size_t max)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;

    if (!d)
        return 0;
    while ((de = readdir(d)) && n < max) {
        size_t l = strlen(de->d_name);

        if (l > 4 && strcmp(de->d_name + l - 4, ".log") == 0)
            names[n++] = xstrdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), cmp_str);
    return n;
}

static void
add_input(struct inputs *in, const char *path, const char *name, enum detect_source_kind kind,
          const char *domain)
{
    struct input *i = &in->v[in->n++];

    assert_true(in->n <= ARRAY_SIZE(in->v));
    i->name = xstrdup(name);
    i->domain = domain ? xstrdup(domain) : NULL;
    i->kind = kind;
    i->data = read_maybe_gz(path, &i->len);
}

static void
load_case(const char *name, struct inputs *in)
{
    AUTOFREE char *rel = xasprintf("logparse/%s", name);
    AUTOFREE char *base = testutil_datapath(rel);
    struct stat st;

    in->n = 0;
    if (stat(base, &st) == 0 && S_ISDIR(st.st_mode)) {
        char *names[16];
        AUTOFREE char *qdir = xasprintf("%s/qemu", base);
        size_t n = list_logs(base, names, ARRAY_SIZE(names));

        for (size_t i = 0; i < n; i++) {
            AUTOFREE char *p = xasprintf("%s/%s", base, names[i]);

            add_input(in, p, names[i], DETECT_SOURCE_AUTO, NULL);
            free(names[i]);
        }
        n = list_logs(qdir, names, ARRAY_SIZE(names));
        for (size_t i = 0; i < n; i++) {
            AUTOFREE char *p = xasprintf("%s/%s", qdir, names[i]);
            AUTOFREE char *shown = xasprintf("qemu/%s", names[i]);
            AUTOFREE char *dom = xstrndup(names[i], strlen(names[i]) - 4);

            add_input(in, p, shown, DETECT_SOURCE_AUTO, dom);
            free(names[i]);
        }
        return;
    }
    {
        AUTOFREE char *plain = xasprintf("%s.log", base);
        AUTOFREE char *gz = xasprintf("%s.log.gz", base);
        AUTOFREE char *shown = xasprintf("%s.log", name);

        add_input(in, stat(plain, &st) == 0 ? plain : gz, shown, DETECT_SOURCE_AUTO, NULL);
    }
}

static void
collect(const struct pv_event *ev, void *opaque)
{
    struct strbuf *out = opaque;

    pv_event_to_json(ev, out);
    strbuf_addch(out, '\n');
}

static struct detect *
new_detector(struct strbuf *out, const struct inputs *in, int *ids)
{
    struct detect_config cfg;
    struct detect *det;

    detect_config_init(&cfg);
    det = detect_new(&cfg, collect, out);
    for (size_t i = 0; i < in->n; i++)
        ids[i] = detect_add_source(det, in->v[i].name, in->v[i].kind, in->v[i].domain);
    return det;
}

/* chunk 0: random sizes from @seed */
static void
feed(struct detect *det, int id, const char *data, size_t len, size_t chunk, unsigned int seed)
{
    size_t off = 0;

    srand(seed);
    while (off < len) {
        size_t n = chunk ? chunk : (size_t)(rand() % 5000) + 1;

        if (n > len - off)
            n = len - off;
        detect_feed(det, id, data + off, n);
        off += n;
    }
}

static char *
run(const struct inputs *in, size_t chunk, unsigned int seed)
{
    struct strbuf out = STRBUF_INIT;
    int ids[16];
    struct detect *det = new_detector(&out, in, ids);

    for (size_t i = 0; i < in->n; i++) {
        feed(det, ids[i], in->v[i].data, in->v[i].len, chunk ? chunk : 0, seed + (unsigned)i);
        detect_source_eof(det, ids[i]);
    }
    detect_finish(det);
    detect_free(det);
    return strbuf_detach(&out, NULL);
}

/* Feed [0, cut) of the first input, save, restore into a new detector, feed the rest. */
static char *
run_with_restart(const struct inputs *in, size_t cut)
{
    struct strbuf out = STRBUF_INIT;
    struct strbuf state = STRBUF_INIT;
    int ids[16];
    struct detect *det = new_detector(&out, in, ids);
    uint64_t resume;
    uint64_t line = 0;

    detect_feed(det, ids[0], in->v[0].data, cut);
    detect_save_state(det, &state);
    detect_free(det);

    det = new_detector(&out, in, ids);
    assert_int_equal(detect_load_state(det, state.buf, state.len), 0);
    resume = detect_source_resume_offset(det, ids[0], &line);
    assert_true(resume <= cut);
    detect_feed(det, ids[0], in->v[0].data + resume, in->v[0].len - resume);
    detect_source_eof(det, ids[0]);
    for (size_t i = 1; i < in->n; i++) {
        detect_feed(det, ids[i], in->v[i].data, in->v[i].len);
        detect_source_eof(det, ids[i]);
    }
    detect_finish(det);
    detect_free(det);
    strbuf_release(&state);
    return strbuf_detach(&out, NULL);
}

static void
golden_case(const char *name)
{
    struct inputs in;
    AUTOFREE char *rel = xasprintf("logparse/%s.expected", name);
    AUTOFREE char *expected = testutil_datapath(rel);
    AUTOFREE char *whole = NULL;

    load_case(name, &in);
    whole = run(&in, SIZE_MAX, 0);
    assert_int_equal(testutil_compare_to_file(whole, strlen(whole), expected), 0);
    {
        AUTOFREE char *bytes = run(&in, 1, 0);
        AUTOFREE char *rnd1 = run(&in, 0, 11);
        AUTOFREE char *rnd2 = run(&in, 0, 97);

        assert_string_equal(whole, bytes);
        assert_string_equal(whole, rnd1);
        assert_string_equal(whole, rnd2);
    }
    for (unsigned int k = 1; k <= 7; k++) {
        size_t cut = in.v[0].len * k / 8;
        AUTOFREE char *restarted = run_with_restart(&in, cut);

        if (strcmp(whole, restarted) != 0)
            print_error("restart at byte %zu of %s changed the events\n", cut, name);
        assert_string_equal(whole, restarted);
    }
    inputs_free(&in);
}

#define GOLDEN(fn, name) static void fn(void **state) { (void)state; golden_case(name); }
GOLDEN(test_corpus_9_0_debug, "libvirt-9.0-debug")
GOLDEN(test_v1_1_1, "v1.1.1-centos7.0")
GOLDEN(test_v1_2_8, "v1.2.8-centos7.1")
GOLDEN(test_v1_2_17_info, "v1.2.17-centos7.2-info")
GOLDEN(test_v2_0_0_restart_loop, "v2.0.0-centos7.3-restart-loop")
GOLDEN(test_v3_9_hyperv, "v3.9.0-centos7.5-hyperv")
GOLDEN(test_v4_5_s390, "v4.5.0-centos7.6-s390")
GOLDEN(test_v9_0_info_define, "v9.0-info-define-is-not-start")
GOLDEN(test_v11_3_tdx_crashloaded, "v11.3-tdx-reconnect-crashloaded")
GOLDEN(test_pointer_reuse_info, "pointer-reuse-info")
GOLDEN(test_double_panic, "double-panic-pre-qemu6")
GOLDEN(test_odd_names, "odd-names")
GOLDEN(test_unknown_and_conflict, "unknown-and-conflict")
GOLDEN(test_bytes, "bytes-crlf-nul-truncated")
GOLDEN(test_garbage, "garbage")
GOLDEN(test_domain_logs, "domlog")
GOLDEN(test_reuse_within_hold, "reuse-within-hold")

/* ---- the corpus through every log level / source filter ---------------- */

typedef bool (*keep_fn)(const char *line, size_t len);

static bool
has(const char *line, size_t len, const char *lit)
{
    return memmem(line, len, lit, strlen(lit)) != NULL;
}

static bool keep_info(const char *l, size_t n) { return has(l, n, ": info : ") || has(l, n, ": warning : ") || has(l, n, ": error : "); }
static bool keep_debug(const char *l, size_t n) { return has(l, n, ": debug : "); }
static bool keep_qemu_monitor(const char *l, size_t n) { return has(l, n, " : qemuMonitorEmit") || has(l, n, " : qemuMonitorOpen") || has(l, n, " : qemuMonitorClose:"); }
static bool keep_driver(const char *l, size_t n) { return has(l, n, " : qemuProcess") || has(l, n, " : processGuestPanicEvent:"); }
static bool keep_json(const char *l, size_t n) { return has(l, n, " : qemuMonitorJSON"); }
static bool keep_no_recv_event(const char *l, size_t n) { return !has(l, n, "QEMU_MONITOR_RECV_EVENT"); }

/* Records (with their continuation lines) of @log whose first line passes @keep. */
static char *
filter_records(const char *log, size_t len, keep_fn keep, size_t *out_len)
{
    struct strbuf sb = STRBUF_INIT;
    const char *p = log;
    const char *end = log + len;
    bool keeping = false;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl + 1 : end;

        if ((size_t)(eol - p) > 30 && p[4] == '-' && p[10] == ' ' && p[23] == '+')
            keeping = keep(p, (size_t)(eol - p));
        if (keeping)
            strbuf_add(&sb, p, (size_t)(eol - p));
        p = eol;
    }
    return strbuf_detach(&sb, out_len);
}

struct subset_case {
    keep_fn keep;
    const char *names[2];       /* expected domains, NULL = unknown */
    bool qmp;                   /* QMP timestamps available */
};

static void
test_corpus_subsets(void **state)
{
    static const struct subset_case cases[] = {
        { keep_info, { "panictest", "win2016" }, true },
        { keep_debug, { "panictest", "win2016" }, true },
        { keep_qemu_monitor, { NULL, NULL }, false },
        { keep_driver, { "panictest", "win2016" }, false },
        { keep_json, { NULL, NULL }, true },
        { keep_no_recv_event, { "panictest", "win2016" }, true },
    };
    struct inputs full;
    AUTOFREE char *all = NULL;

    (void)state;
    load_case("libvirt-9.0-debug", &full);
    all = run(&full, SIZE_MAX, 0);
    for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
        struct inputs in = { .n = 1 };
        AUTOFREE char *out = NULL;
        const char *p;
        size_t events = 0;

        in.v[0].name = xstrdup("subset.log");
        in.v[0].data = filter_records(full.v[0].data, full.v[0].len, cases[c].keep, &in.v[0].len);
        assert_true(in.v[0].len < full.v[0].len);
        out = run(&in, SIZE_MAX, 0);
        for (p = out; (p = strchr(p, '\n')); p++)
            events++;
        if (events != 2)
            print_error("subset %zu:\n%s", c, out);
        /* one QMP event = one event, whatever the log kept */
        assert_int_equal(events, 2);
        p = out;
        for (int i = 0; i < 2; i++) {
            AUTOFREE char *want = cases[c].names[i]
                ? xasprintf("\"domain\":\"%s\"", cases[c].names[i]) : xstrdup("\"domain\":null");
            const char *eol = strchr(p, '\n');
            AUTOFREE char *line = xstrndup(p, (size_t)(eol - p));

            assert_non_null(strstr(line, want));
            assert_non_null(strstr(line, "\"event\":\"panic\""));
            if (cases[c].qmp) {
                /* same QMP event, same id as in the full log */
                const char *id = strstr(line, "\"id\":\"");
                AUTOFREE char *idkey = xstrndup(id, 24);

                assert_non_null(strstr(all, idkey));
            }
            p = eol + 1;
        }
        inputs_free(&in);
    }
    inputs_free(&full);
}

/* ---- real libvirt runs (tests/data/e2e, written by the e2e harness) ------- */

struct expected_panic {
    char qmp[32];
    char *domain;
};

/* "panic\tQMP\ttrigger\ton_crash\tDOMAIN" rows of EXPECTED, in order. */
static size_t
read_expected(const char *path, struct expected_panic *out, size_t max,
              char ***slugs, char ***names, size_t *ndomains)
{
    size_t len = 0;
    AUTOFREE char *text = testutil_read_file(path, &len);
    size_t n = 0;
    char *save = NULL;

    *ndomains = 0;
    *slugs = NULL;
    *names = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[5];
        size_t nf = 0;
        char *p = line;

        while (nf < 5 && p) {
            f[nf++] = p;
            p = nf < 5 ? strchr(p, '\t') : NULL;
            if (p)
                *p++ = '\0';
        }
        if (nf == 5 && strcmp(f[0], "panic") == 0 && n < max) {
            snprintf(out[n].qmp, sizeof(out[n].qmp), "%s", f[1]);
            out[n++].domain = xstrdup(f[4]);
        } else if (nf >= 4 && strcmp(f[0], "domain") == 0) {
            /* domain  panics  qemu/SLUG.log  NAME (name may hold tabs? no: last column) */
            *slugs = xreallocarray(*slugs, *ndomains + 1, sizeof(char *));
            *names = xreallocarray(*names, *ndomains + 1, sizeof(char *));
            (*slugs)[*ndomains] = xstrdup(f[2]);
            (*names)[*ndomains] = xstrdup(nf == 5 ? f[3] : "");
            if (nf == 5) {
                /* f[3] is the name only when the row had 4 fields after "domain" */
                free((*names)[*ndomains]);
                (*names)[*ndomains] = xasprintf("%s\t%s", f[3], f[4]);
            }
            (*ndomains)++;
        }
    }
    return n;
}

static void
e2e_fixture(const char *dir, bool debug)
{
    AUTOFREE char *exp_path = xasprintf("%s/EXPECTED", dir);
    struct expected_panic exp[64];
    char **slugs = NULL;
    char **names = NULL;
    size_t ndom = 0;
    size_t nexp = read_expected(exp_path, exp, ARRAY_SIZE(exp), &slugs, &names, &ndom);
    struct inputs in = { .n = 0 };
    AUTOFREE char *out = NULL;
    const char *p;
    size_t i = 0;

    /* the daemon log, rotated copies oldest first, then the per-domain logs */
    {
        AUTOFREE char *rot = xasprintf("%s/libvirtd.log.1.gz", dir);
        AUTOFREE char *cur = xasprintf("%s/libvirtd.log.gz", dir);
        struct stat st;

        if (stat(rot, &st) == 0)
            add_input(&in, rot, "libvirtd.log.1", DETECT_SOURCE_AUTO, NULL);
        add_input(&in, cur, "libvirtd.log", DETECT_SOURCE_AUTO, NULL);
    }
    for (size_t d = 0; d < ndom; d++) {
        AUTOFREE char *path = xasprintf("%s/%s", dir, slugs[d]);
        /* "qemu/SLUG.log\tNAME": the file is slugged, the guest name is the real one */
        const char *name = strchr(names[d], '\t') ? strchr(names[d], '\t') + 1 : names[d];
        struct stat st;

        if (stat(path, &st) == 0 && in.n < ARRAY_SIZE(in.v))
            add_input(&in, path, slugs[d], DETECT_SOURCE_AUTO, name);
        free(slugs[d]);
        free(names[d]);
    }
    free(slugs);
    free(names);
    out = run(&in, SIZE_MAX, 0);
    for (p = out; *p; i++) {
        const char *eol = strchr(p, '\n');
        AUTOFREE char *line = xstrndup(p, (size_t)(eol - p));
        AUTOFREE char *qmp = NULL;
        struct strbuf want = STRBUF_INIT;

        if (i >= nexp) {
            print_error("%s: unexpected event %s\n", dir, line);
            fail();
        }
        qmp = xasprintf("\"qmp_time\":%s,", exp[i].qmp);
        if (!strstr(line, qmp))
            print_error("%s: event %zu: want QMP time %s: %s\n", dir, i, exp[i].qmp, line);
        assert_non_null(strstr(line, qmp));
        strbuf_addstr(&want, "\"domain\":");
        strbuf_add_json_str(&want, exp[i].domain, strlen(exp[i].domain));
        strbuf_addch(&want, ',');
        /* never a wrong name; at debug level always the right one */
        if (!strstr(line, want.buf) && (debug || !strstr(line, "\"domain\":null,")))
            print_error("%s: event %zu: want %s: %s\n", dir, i, want.buf, line);
        assert_true(strstr(line, want.buf) || (!debug && strstr(line, "\"domain\":null,")));
        strbuf_release(&want);
        p = eol + 1;
    }
    if (i != nexp)
        print_error("%s: %zu events, EXPECTED has %zu\n%s", dir, i, nexp, out);
    assert_int_equal(i, nexp);
    for (size_t k = 0; k < nexp; k++)
        free(exp[k].domain);
    inputs_free(&in);
}

static void
test_e2e_fixtures(void **state)
{
    AUTOFREE char *top = testutil_datapath("e2e");
    DIR *d = opendir(top);
    struct dirent *de;
    unsigned int seen = 0;

    (void)state;
    if (!d) {
        /* written by another part of the tree; nothing to check without them */
        skip();
    }
    while ((de = readdir(d))) {
        AUTOFREE char *dir = xasprintf("%s/%s", top, de->d_name);
        AUTOFREE char *exp = xasprintf("%s/EXPECTED", dir);
        struct stat st;

        if (de->d_name[0] == '.' || stat(exp, &st) != 0)
            continue;
        e2e_fixture(dir, strncmp(de->d_name, "debug-", 6) == 0);
        seen++;
    }
    closedir(d);
    assert_true(seen > 0);
}

/* ---- a 1 MB line between two panic lines -------------------------------- */

static void
test_huge_line_between_panics(void **state)
{
    struct strbuf log = STRBUF_INIT;
    struct inputs in = { .n = 1 };
    AUTOFREE char *out = NULL;
    const char *second;

    (void)state;
    strbuf_addstr(&log, "2026-11-25 17:00:00.000+0000: 10: debug : qemuProcessWaitForMonitor:2291 : "
                        "Connect monitor to vm=0x5600000f0020 name='big'\n"
                        "2026-11-25 17:00:00.001+0000: 10: info : qemuMonitorOpenInternal:647 : "
                        "QEMU_MONITOR_NEW: mon=0x7f00000f0010 fd=20\n"
                        "2026-11-25 17:00:01.000+0000: 11: info : qemuMonitorJSONIOProcessLine:203 : "
                        "QEMU_MONITOR_RECV_EVENT: mon=0x7f00000f0010 event={\"timestamp\": {\"seconds\": "
                        "1795626001, \"microseconds\": 1}, \"event\": \"GUEST_PANICKED\", \"data\": "
                        "{\"action\": \"pause\"}}\n"
                        "2026-11-25 17:00:01.500+0000: 11: debug : qemuMonitorJSONIOProcessLine:189 : "
                        "Line [{\"return\": \"");
    for (size_t i = 0; i < (1u << 20); i++)
        strbuf_addch(&log, (char)('A' + i % 26));
    strbuf_addstr(&log, "GUEST_PANICKED\"}]\n"
                        "2026-11-25 17:00:02.000+0000: 11: info : qemuMonitorJSONIOProcessLine:203 : "
                        "QEMU_MONITOR_RECV_EVENT: mon=0x7f00000f0010 event={\"timestamp\": {\"seconds\": "
                        "1795626002, \"microseconds\": 2}, \"event\": \"GUEST_PANICKED\", \"data\": "
                        "{\"action\": \"poweroff\"}}\n");
    in.v[0].name = xstrdup("huge.log");
    in.v[0].data = strbuf_detach(&log, &in.v[0].len);
    out = run(&in, 65536, 0);
    assert_non_null(strstr(out, "\"domain\":\"big\",\"time\":\"2026-11-25T17:00:01.000Z\""));
    second = strstr(out, "\"domain\":\"big\",\"time\":\"2026-11-25T17:00:02.000Z\"");
    assert_non_null(second);
    assert_non_null(strstr(second, "\"action\":\"poweroff\""));
    assert_non_null(strstr(second, "\"line\":5,"));
    {
        AUTOFREE char *bytes = run(&in, 4093, 0);

        assert_string_equal(out, bytes);
    }
    inputs_free(&in);
}

/* ---- streaming: when events come out ------------------------------------ */

struct count {
    unsigned int n;
    struct strbuf json;
};

static void
count_cb(const struct pv_event *ev, void *opaque)
{
    struct count *c = opaque;

    c->n++;
    pv_event_to_json(ev, &c->json);
    strbuf_addch(&c->json, '\n');
}

static const char stream_head[] =
    "2026-11-25 17:00:00.000+0000: 10: debug : qemuProcessWaitForMonitor:2291 : "
    "Connect monitor to vm=0x5600000f0020 name='live'\n"
    "2026-11-25 17:00:00.001+0000: 10: info : qemuMonitorOpenInternal:647 : "
    "QEMU_MONITOR_NEW: mon=0x7f00000f0010 fd=20\n";
static const char stream_line[] =
    "2026-11-25 17:00:05.000+0000: 11: debug : qemuMonitorJSONIOProcessLine:189 : Line [{\"timestamp\": "
    "{\"seconds\": 1795626005, \"microseconds\": 7}, \"event\": \"GUEST_PANICKED\", \"data\": "
    "{\"action\": \"pause\"}}]\n";
static const char stream_recv[] =
    "2026-11-25 17:00:05.000+0000: 11: info : qemuMonitorJSONIOProcessLine:203 : "
    "QEMU_MONITOR_RECV_EVENT: mon=0x7f00000f0010 event={\"timestamp\": {\"seconds\": 1795626005, "
    "\"microseconds\": 7}, \"event\": \"GUEST_PANICKED\", \"data\": {\"action\": \"pause\"}}\n";
static const char stream_unnamed[] =
    "2026-11-25 17:00:06.000+0000: 12: info : qemuMonitorJSONIOProcessLine:203 : "
    "QEMU_MONITOR_RECV_EVENT: mon=0x7f00000a0010 event={\"timestamp\": {\"seconds\": 1795626006, "
    "\"microseconds\": 8}, \"event\": \"GUEST_PANICKED\", \"data\": {\"action\": \"pause\"}}\n";

static void
test_streaming_emit_and_hold(void **state)
{
    struct count c = { 0, STRBUF_INIT };
    struct detect *det = detect_new(NULL, count_cb, &c);
    int src = detect_add_source(det, "libvirtd.log", DETECT_SOURCE_DAEMON, NULL);

    (void)state;
    detect_feed(det, src, stream_head, sizeof(stream_head) - 1);
    /* "Line [" has no monitor pointer: held, nothing out yet */
    detect_feed(det, src, stream_line, sizeof(stream_line) - 1);
    assert_int_equal(c.n, 0);
    assert_true(detect_next_deadline(det) > 0);
    /* the RECV_EVENT line names it: out at once, without waiting for another line */
    detect_feed(det, src, stream_recv, sizeof(stream_recv) - 1);
    assert_int_equal(c.n, 1);
    assert_non_null(strstr(c.json.buf, "\"domain\":\"live\""));
    assert_int_equal(detect_next_deadline(det), -1);

    /* an unnamed one is held for hold_ms, then released by the clock */
    detect_feed(det, src, stream_unnamed, sizeof(stream_unnamed) - 1);
    assert_int_equal(c.n, 1);
    assert_int_equal(detect_next_deadline(det), 1795626006000LL + DETECT_DEFAULT_HOLD_MS);
    detect_tick(det, 1795626006000LL + DETECT_DEFAULT_HOLD_MS - 1);
    assert_int_equal(c.n, 1);
    detect_tick(det, 1795626006000LL + DETECT_DEFAULT_HOLD_MS);
    assert_int_equal(c.n, 2);
    assert_non_null(strstr(c.json.buf, "\"domain\":null"));
    detect_finish(det);
    assert_int_equal(c.n, 2);
    detect_free(det);
    strbuf_release(&c.json);
}

static void
test_hold_zero(void **state)
{
    struct count c = { 0, STRBUF_INIT };
    struct detect_config cfg;
    struct detect *det;
    int src;

    (void)state;
    detect_config_init(&cfg);
    cfg.hold_ms = 0;
    det = detect_new(&cfg, count_cb, &c);
    src = detect_add_source(det, "libvirtd.log", DETECT_SOURCE_DAEMON, NULL);
    detect_feed(det, src, stream_unnamed, sizeof(stream_unnamed) - 1);
    assert_int_equal(c.n, 1);
    /* the debug "Line [" + RECV_EVENT pair stays one event even when nothing is held */
    detect_feed(det, src, stream_head, sizeof(stream_head) - 1);
    detect_feed(det, src, stream_line, sizeof(stream_line) - 1);
    detect_feed(det, src, stream_recv, sizeof(stream_recv) - 1);
    detect_finish(det);
    assert_int_equal(c.n, 2);
    detect_free(det);
    strbuf_release(&c.json);
}

/* ---- several sources at once, state and stats --------------------------- */

static void
test_interleaved_sources_and_resume(void **state)
{
    struct count c = { 0, STRBUF_INIT };
    struct detect *det = detect_new(NULL, count_cb, &c);
    int daemon = detect_add_source(det, "libvirtd.log", DETECT_SOURCE_AUTO, NULL);
    int dom = detect_add_source(det, "qemu/live.log", DETECT_SOURCE_AUTO, "live");
    static const char domline[] =
        "2026-11-25 17:00:05.002+0000: panic hyper-v: arg1='0x3e', arg2='0x1', arg3='0x2', "
        "arg4='0x3', arg5='0x4'\n";
    struct detect_source_stats st;
    struct strbuf saved = STRBUF_INIT;
    uint64_t line = 0;

    (void)state;
    /* the per-domain line arrives first: it waits, then gives its detail */
    detect_feed(det, daemon, stream_head, sizeof(stream_head) - 1);
    detect_feed(det, dom, domline, sizeof(domline) - 1);
    assert_int_equal(c.n, 0);
    detect_feed(det, daemon, stream_recv, 60);
    /*
     * half a line: it may still turn out to be a continuation of the
     * QEMU_MONITOR_NEW record, so that record is the first incomplete one
     */
    assert_int_equal(detect_source_resume_offset(det, daemon, &line),
                     strchr(stream_head, '\n') + 1 - stream_head);
    assert_int_equal(line, 2);
    detect_feed(det, daemon, stream_recv + 60, sizeof(stream_recv) - 1 - 60);
    assert_int_equal(c.n, 1);
    assert_non_null(strstr(c.json.buf, "\"bugcheck\":\"0x3e\""));
    detect_finish(det);
    assert_int_equal(c.n, 1);

    detect_source_stats(det, daemon, &st);
    assert_int_equal(st.kind, DETECT_SOURCE_DAEMON);
    assert_int_equal(st.records, 3);
    assert_int_equal(st.monitor_records, 2);
    assert_int_equal(st.events, 1);
    assert_false(detect_stats_lacks_monitor_lines(&st));
    detect_source_stats(det, dom, &st);
    assert_int_equal(st.kind, DETECT_SOURCE_DOMAIN);
    assert_int_equal(st.events, 0);

    /* state text survives a round trip unchanged */
    detect_save_state(det, &saved);
    {
        struct count c2 = { 0, STRBUF_INIT };
        struct detect *det2 = detect_new(NULL, count_cb, &c2);
        struct strbuf again = STRBUF_INIT;

        detect_add_source(det2, "libvirtd.log", DETECT_SOURCE_AUTO, NULL);
        detect_add_source(det2, "qemu/live.log", DETECT_SOURCE_AUTO, "live");
        assert_int_equal(detect_load_state(det2, saved.buf, saved.len), 0);
        detect_save_state(det2, &again);
        assert_string_equal(saved.buf, again.buf);
        /* garbage is refused and leaves an empty detector */
        assert_int_equal(detect_load_state(det2, "detect-state 1\ndetect-group x\n", 30), -EINVAL);
        assert_int_equal(detect_load_state(det2, "resolve-mon 1 2\n", 16), -EINVAL);
        assert_int_equal(detect_load_state(det2, "", 0), -EINVAL);
        strbuf_release(&again);
        detect_free(det2);
        strbuf_release(&c2.json);
    }
    strbuf_release(&saved);
    detect_free(det);
    strbuf_release(&c.json);
}

/*
 * Two sources with one name (follow: the file rotated away from a path and
 * its successor): each gets its own saved position back, in order. They
 * used to all get the last line's, so the active file resumed at the old
 * file's offset and its first record was processed twice (a duplicate alert
 * found by tests/follow_kill9.sh).
 */
static void
test_same_name_sources_restore_in_order(void **state)
{
    struct count c = { 0, STRBUF_INIT };
    struct detect *det = detect_new(NULL, count_cb, &c);
    int active = detect_add_source(det, "libvirtd.log", DETECT_SOURCE_AUTO, NULL);
    int rotated = detect_add_source(det, "libvirtd.log", DETECT_SOURCE_AUTO, NULL);
    struct strbuf saved = STRBUF_INIT;
    uint64_t want_active, want_rotated;

    (void)state;
    detect_feed(det, rotated, stream_head, sizeof(stream_head) - 1);
    detect_feed(det, rotated, stream_recv, sizeof(stream_recv) - 1);
    detect_source_eof(det, rotated);
    detect_feed(det, active, stream_head, sizeof(stream_head) - 1);
    want_active = detect_source_resume_offset(det, active, NULL);
    want_rotated = detect_source_resume_offset(det, rotated, NULL);
    assert_true(want_active != want_rotated);
    detect_save_state(det, &saved);
    {
        struct count c2 = { 0, STRBUF_INIT };
        struct detect *det2 = detect_new(NULL, count_cb, &c2);
        int a2 = detect_add_source(det2, "libvirtd.log", DETECT_SOURCE_AUTO, NULL);
        int r2 = detect_add_source(det2, "libvirtd.log", DETECT_SOURCE_AUTO, NULL);

        assert_int_equal(detect_load_state(det2, saved.buf, saved.len), 0);
        assert_int_equal(detect_source_resume_offset(det2, a2, NULL), want_active);
        assert_int_equal(detect_source_resume_offset(det2, r2, NULL), want_rotated);
        detect_free(det2);
        strbuf_release(&c2.json);
    }
    strbuf_release(&saved);
    detect_free(det);
    strbuf_release(&c.json);
}

static void
test_lacks_monitor_lines(void **state)
{
    static const char quiet[] =
        "2026-11-25 17:00:00.000+0000: 1: info : libvirt version: 9.0.0\n"
        "2026-11-25 17:00:01.000+0000: 2: warning : qemuDomainObjTaintMsg:6603 : Domain id=1 "
        "name='x' uuid=11111111-2222-3333-4444-555555555555 is tainted: high-privileges\n";
    struct count c = { 0, STRBUF_INIT };
    struct detect *det = detect_new(NULL, count_cb, &c);
    int src = detect_add_source(det, "libvirtd.log", DETECT_SOURCE_AUTO, NULL);
    struct detect_source_stats st;

    (void)state;
    detect_feed(det, src, quiet, sizeof(quiet) - 1);
    detect_source_eof(det, src);
    detect_source_stats(det, src, &st);
    assert_true(detect_stats_lacks_monitor_lines(&st));
    detect_free(det);
    strbuf_release(&c.json);
}

/* ---- operator rules ----------------------------------------------------- */

static void
test_custom_rules(void **state)
{
    static const char log[] =
        "2026-11-25 17:00:00.000+0000: 10: debug : qemuProcessWaitForMonitor:2291 : "
        "Connect monitor to vm=0x5600000f0020 name='ruled'\n"
        "2026-11-25 17:00:00.001+0000: 10: info : qemuMonitorOpenInternal:647 : "
        "QEMU_MONITOR_NEW: mon=0x7f00000f0010 fd=20\n"
        "2026-11-25 17:00:09.000+0000: 10: error : qemuMonitorIO:600 : internal error: "
        "End of file from qemu monitor mon=0x7f00000f0010\n";
    struct classify_rules *rules = classify_rules_new();
    struct detect_config cfg;
    struct count c = { 0, STRBUF_INIT };
    struct detect *det;
    char *err = NULL;
    int src;

    (void)state;
    assert_int_equal(classify_rules_add(rules, "monitor-eof",
                                        "End of file from qemu monitor mon=(?<mon>0x[0-9a-f]+)",
                                        PV_EVENT_CUSTOM, "error", &err), 0);
    assert_int_equal(classify_rules_add(rules, "bad", "(unclosed", PV_EVENT_CUSTOM, NULL, &err),
                     -EINVAL);
    assert_string_equal(err, "regex error at offset 9: missing closing parenthesis");
    free(err);
    detect_config_init(&cfg);
    cfg.rules = rules;
    det = detect_new(&cfg, count_cb, &c);
    src = detect_add_source(det, "libvirtd.log", DETECT_SOURCE_AUTO, NULL);
    detect_feed(det, src, log, sizeof(log) - 1);
    /* rules see complete records: the last one completes at end of input */
    assert_int_equal(c.n, 0);
    detect_source_eof(det, src);
    assert_int_equal(c.n, 1);
    assert_non_null(strstr(c.json.buf, "\"event\":\"custom\",\"domain\":\"ruled\""));
    assert_non_null(strstr(c.json.buf, "\"rule\":\"monitor-eof\",\"severity\":\"error\""));
    detect_free(det);
    classify_rules_free(rules);
    strbuf_release(&c.json);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_9_0_debug),
        cmocka_unit_test(test_v1_1_1),
        cmocka_unit_test(test_v1_2_8),
        cmocka_unit_test(test_v1_2_17_info),
        cmocka_unit_test(test_v2_0_0_restart_loop),
        cmocka_unit_test(test_v3_9_hyperv),
        cmocka_unit_test(test_v4_5_s390),
        cmocka_unit_test(test_v9_0_info_define),
        cmocka_unit_test(test_v11_3_tdx_crashloaded),
        cmocka_unit_test(test_pointer_reuse_info),
        cmocka_unit_test(test_double_panic),
        cmocka_unit_test(test_odd_names),
        cmocka_unit_test(test_unknown_and_conflict),
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_domain_logs),
        cmocka_unit_test(test_reuse_within_hold),
        cmocka_unit_test(test_corpus_subsets),
        cmocka_unit_test(test_e2e_fixtures),
        cmocka_unit_test(test_huge_line_between_panics),
        cmocka_unit_test(test_streaming_emit_and_hold),
        cmocka_unit_test(test_hold_zero),
        cmocka_unit_test(test_interleaved_sources_and_resume),
        cmocka_unit_test(test_same_name_sources_restore_in_order),
        cmocka_unit_test(test_lacks_monitor_lines),
        cmocka_unit_test(test_custom_rules),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
