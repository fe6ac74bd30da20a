/*
 * fuzz_conf: the one config reader (common/conf.h) through every door that
 * uses it, on arbitrary bytes:
 *   - conf_parse_string() with a checking callback, and the value helpers
 *     (bool, uint, duration, conf_split_words) on every value;
 *   - watch.conf as `pvpanic-watch audit -c` and `follow -c` read it:
 *     watchconf_load_string() with the daemon's door (follow_conf_entry:
 *     state keys, [sink ...] sections, throttling), then the operator rules
 *     it compiled run over a few log lines (PCRE2 match limits);
 *   - hook.conf: hookconf_parse_string(), then domain selection.
 *
 * Beyond "no crash, no leak, no UB" it checks the reader's contract: every
 * entry has a valid key and a line number that never goes back, every
 * problem is reported once as "NAME:LINE: ...", and a parse fails exactly
 * when something was reported ("report once, where it happens").
 *
 * Input: byte 0 = flags (bit 0: the callback rejects entries whose value
 * has an odd length, so rejection paths run), the rest = the config text.
 */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "conf.h"
#include "detect.h"
#include "follow.h"
#include "hookconf.h"
#include "log.h"
#include "sink.h"
#include "watchconf.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CONF_NAME "fuzz.conf"

/* ---- diagnostics ------------------------------------------------------- */

static unsigned int warnings;
static bool bad_diagnostic;

static void
capture(int priority, const char *msg, void *opaque)
{
    (void)opaque;
    if (priority > LOG_WARNING)
        return;
    warnings++;
    /* "fuzz.conf:LINE: message" (a few whole-file messages carry no line) */
    if (strncmp(msg, CONF_NAME ":", sizeof(CONF_NAME)) != 0) {
        fprintf(stderr, "fuzz_conf: diagnostic without its file: %s\n", msg);
        bad_diagnostic = true;
    }
}

static void
expect_consistent(const char *door, int rc)
{
    if (bad_diagnostic)
        abort();
    if ((rc == 0) != (warnings == 0)) {
        fprintf(stderr, "fuzz_conf: %s returned %d after %u warning(s)\n", door, rc, warnings);
        abort();
    }
    if (rc != 0 && rc != -EINVAL)
        abort();
    warnings = 0;
}

/* ---- the core reader --------------------------------------------------- */

struct core_ctx {
    unsigned int last_line;
    bool reject_odd;
    unsigned int rejected;
};

static bool
valid_key(const char *k)
{
    if (!*k)
        return false;
    for (; *k; k++) {
        if (!isalnum((unsigned char)*k) && *k != '_' && *k != '.' && *k != '-')
            return false;
    }
    return true;
}

static void
check_value_helpers(const char *value)
{
    char *err = NULL;
    char **argv = NULL;
    int argc = 0;
    bool b;
    unsigned long u;
    unsigned long long ms;
    size_t vlen = strlen(value);

    if (conf_value_bool(value, &b, &err) < 0) {
        if (!err)
            abort();
        free(err);
        err = NULL;
    }
    if (conf_value_uint(value, 0, 1000, &u, &err) < 0) {
        if (!err)
            abort();
        free(err);
        err = NULL;
    } else if (u > 1000) {
        abort();
    }
    if (conf_value_duration_ms(value, &ms, &err) < 0) {
        if (!err)
            abort();
        free(err);
        err = NULL;
    }
    if (conf_split_words(value, &argv, &argc, &err) < 0) {
        if (!err)
            abort();
        free(err);
        return;
    }
    /* words are pieces of the value: never longer, never NULL before argc */
    if (argc < 1 || argv[argc] != NULL)
        abort();
    for (int i = 0; i < argc; i++) {
        if (!argv[i] || strlen(argv[i]) > vlen)
            abort();
    }
    conf_free_words(argv);
}

static int
core_entry(const struct conf_entry *e, void *opaque, char **errmsg)
{
    struct core_ctx *ctx = opaque;

    if (strcmp(e->file, CONF_NAME) != 0 || e->line == 0 || e->line < ctx->last_line)
        abort();
    ctx->last_line = e->line;
    if (e->label && !e->section)
        abort();
    if (e->section && !valid_key(e->section))
        abort();
    if (!e->key) {
        if (e->value || !e->section || (e->label && !*e->label))
            abort();
        return 0;
    }
    if (!valid_key(e->key) || !e->value)
        abort();
    check_value_helpers(e->value);
    if (ctx->reject_odd && strlen(e->value) % 2 == 1) {
        ctx->rejected++;
        *errmsg = xasprintf("odd value '%s'", e->value);
        return -1;
    }
    return 0;
}

/* ---- watch.conf through the daemon's door ------------------------------- */

static const char sample_log[] =
    "2026-11-25 17:27:29.975+0000: 14181: info : qemuMonitorJSONIOProcessLine:203 : "
    "QEMU_MONITOR_RECV_EVENT: mon=0x7f3a24011010 event={\"timestamp\": {\"seconds\": "
    "1795627649, \"microseconds\": 975000}, \"event\": \"GUEST_PANICKED\", \"data\": "
    "{\"action\": \"pause\"}}\n"
    "2026-11-25 17:27:30.000+0000: 14181: error : qemuMonitorIO:620 : End of file from "
    "qemu monitor mon=0x7f3a24011010 name=web crashed 0x1\n"
    "2026-11-25 17:27:31.000+0000: 14181: debug : x:1 : "
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\n";

static void
count_event(const struct pv_event *ev, void *opaque)
{
    (void)ev;
    ++*(unsigned int *)opaque;
}

static void
run_rules(const struct watchconf *wc)
{
    struct detect_config cfg;
    struct detect *det;
    unsigned int events = 0;
    int src;

    detect_config_init(&cfg);
    watchconf_apply(wc, &cfg);
    det = detect_new(&cfg, count_event, &events);
    src = detect_add_source(det, "libvirtd.log", DETECT_SOURCE_AUTO, NULL);
    detect_feed(det, src, sample_log, sizeof(sample_log) - 1);
    detect_source_eof(det, src);
    detect_finish(det);
    detect_free(det);
}

static void
watch_door(const char *text, size_t len)
{
    struct watchconf *wc = watchconf_new();
    struct sinkset *ss = sinkset_new();
    struct follow_conf fc;
    char *err = NULL;
    int rc;

    follow_conf_init(&fc, ss);
    rc = watchconf_load_string(wc, CONF_NAME, text, len, follow_conf_entry, &fc);
    if (rc == 0 && sinkset_conf_finish(ss, CONF_NAME, &err) < 0) {
        if (!err)
            abort();
        free(err);
    }
    expect_consistent("watchconf_load_string", rc);
    for (size_t i = 0; i < wc->nfiles; i++) {
        if (!wc->files[i][0])
            abort();
    }
    if (wc->hold_ms > 60 * 1000 || wc->match_window_ms > 10 * 60 * 1000)
        abort();
    if (rc == 0)
        run_rules(wc);
    follow_conf_clear(&fc);
    sinkset_free(ss);
    watchconf_free(wc);
}

/* ---- hook.conf ---------------------------------------------------------- */

static void
hook_door(const char *text, size_t len)
{
    static const char *const names[] = { "web-01", "patch", "--help", "a b", "x\"$(id)", "" };
    static const char *const uuids[] = {
        NULL, "c7a5fdbd-cdaf-9455-926a-d65c16db1809", "C7A5FDBDCDAF9455926AD65C16DB1809", "nope",
    };
    struct hook_conf *c = NULL;
    int rc = hookconf_parse_string(CONF_NAME, text, len, &c);

    if (!c)
        abort();
    expect_consistent("hookconf_parse_string", rc);
    for (size_t i = 0; i < c->include_uuid.n; i++) {
        if (strlen(c->include_uuid.v[i]) != 32)
            abort();
    }
    for (size_t i = 0; i < c->exclude_uuid.n; i++) {
        if (strlen(c->exclude_uuid.v[i]) != 32)
            abort();
    }
    for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
        for (size_t u = 0; u < sizeof(uuids) / sizeof(uuids[0]); u++)
            (void)hookconf_selects(c, names[n], uuids[u]);
    }
    hookconf_free(c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool initialised;
    struct core_ctx ctx = { 0 };
    const char *text;
    size_t len;
    int rc;

    if (!initialised) {
        log_init("fuzz_conf", LOG_DEST_NONE, 0);
        log_set_capture(capture, NULL);
        initialised = true;
    }
    if (size < 1 || size - 1 > CONF_MAX_SIZE)
        return 0;
    ctx.reject_odd = data[0] & 1;
    text = (const char *)data + 1;
    len = size - 1;
    warnings = 0;
    bad_diagnostic = false;

    rc = conf_parse_string(CONF_NAME, text, len, core_entry, &ctx);
    expect_consistent("conf_parse_string", rc);
    if (ctx.rejected > 0 && rc == 0)
        abort();

    watch_door(text, len);
    hook_door(text, len);
    return 0;
}
