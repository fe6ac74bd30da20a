/*
 * test_watchconf: watch.conf through both doors (file and string), golden
 * dump of what was understood plus every diagnostic (data/watchconf/
 * CASE.conf -> CASE.out, REGENERATE_OUTPUT=1 to rewrite).
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"
#include "strbuf.h"
#include "testutil.h"
#include "watchconf.h"
#include "xalloc.h"

/* Stand-in for the follow daemon's sink door: owns [sink ...] and its key "path". */
static int
fake_sink_door(const struct conf_entry *e, void *opaque, char **errmsg)
{
    unsigned int *taken = opaque;

    if (!e->section || strcmp(e->section, "sink") != 0)
        return 0;
    if (!e->key || strcmp(e->key, "path") == 0) {
        (*taken)++;
        return 1;
    }
    *errmsg = xasprintf("sink: unknown key '%s'", e->key);
    return -1;
}

static void
rule_dump(const struct rule_match *m, void *opaque)
{
    struct strbuf *out = opaque;

    strbuf_addf(out, "  match rule=%s severity=%s event=%s\n", m->rule, m->severity,
                pv_event_type_str(m->event));
}

enum door { DOOR_FILE, DOOR_STRING };

static void
run_case(const char *name, enum door door)
{
    AUTOFREE char *rel = xasprintf("watchconf/%s.conf", name);
    AUTOFREE char *path = testutil_datapath(rel);
    AUTOFREE char *out_rel = xasprintf("watchconf/%s.out", name);
    AUTOFREE char *expected = testutil_datapath(out_rel);
    struct watchconf *wc = watchconf_new();
    struct strbuf out = STRBUF_INIT;
    unsigned int taken = 0;
    struct detect_config cfg;
    int rc;

    testutil_log_capture_begin();
    if (door == DOOR_FILE) {
        rc = watchconf_load_file(wc, path, false, fake_sink_door, &taken);
    } else {
        size_t len = 0;
        AUTOFREE char *text = testutil_read_file(path, &len);
        AUTOFREE char *shown = xasprintf("%s.conf", name);

        rc = watchconf_load_string(wc, shown, text, len, fake_sink_door, &taken);
    }
    strbuf_addf(&out, "rc=%s\n", rc == 0 ? "0" : rc == -EINVAL ? "-EINVAL" : "other");
    for (size_t i = 0; i < wc->nfiles; i++)
        strbuf_addf(&out, "file=%s\n", wc->files[i]);
    strbuf_addf(&out, "hold_ms=%llu match_window_ms=%llu rules=%zu sink_entries=%u\n",
                (unsigned long long)wc->hold_ms, (unsigned long long)wc->match_window_ms,
                wc->nrules, taken);
    detect_config_init(&cfg);
    watchconf_apply(wc, &cfg);
    strbuf_addf(&out, "detect: hold_ms=%llu rules=%s\n", (unsigned long long)cfg.hold_ms,
                cfg.rules ? "yes" : "no");
    /* the compiled rules work: probe them with a few lines */
    if (cfg.rules) {
        static const char *const probes[] = {
            "internal error: End of file from qemu monitor mon=0x7f00",
            "bugcheck win2016 0x3e",
            "GUEST_PVSHUTDOWN",
        };

        for (size_t i = 0; i < ARRAY_SIZE(probes); i++)
            classify_rules_match(cfg.rules, probes[i], strlen(probes[i]), rule_dump, &out);
    }
    strbuf_addstr(&out, "--- diagnostics\n");
    {
        /* the file door reports the full path: show it relative to the data dir */
        const char *log = testutil_log_captured();
        AUTOFREE char *dir = testutil_datapath("watchconf/");
        size_t dl = strlen(dir);

        for (const char *p = log; *p; ) {
            if (strncmp(p, dir, dl) == 0)
                p += dl;
            strbuf_addch(&out, *p++);
        }
    }
    testutil_log_capture_end();
    assert_int_equal(testutil_compare_to_file(out.buf, out.len, expected), 0);
    strbuf_release(&out);
    watchconf_free(wc);
}

#define CASE(name) \
    static void test_##name##_file(void **s) { (void)s; run_case(#name, DOOR_FILE); } \
    static void test_##name##_string(void **s) { (void)s; run_case(#name, DOOR_STRING); }
CASE(good)
CASE(errors)
CASE(extra)
CASE(empty)

static void
test_missing_file(void **state)
{
    struct watchconf *wc = watchconf_new();

    (void)state;
    testutil_log_capture_begin();
    assert_int_equal(watchconf_load_file(wc, "/nonexistent/watch.conf", false, NULL, NULL), -ENOENT);
    assert_non_null(strstr(testutil_log_captured(), "cannot read config '/nonexistent/watch.conf'"));
    testutil_log_capture_end();
    watchconf_free(wc);
}

static void
test_no_extra_door(void **state)
{
    static const char text[] = "[sink json]\npath = x\n";
    struct watchconf *wc = watchconf_new();

    (void)state;
    testutil_log_capture_begin();
    assert_int_equal(watchconf_load_string(wc, "t.conf", text, sizeof(text) - 1, NULL, NULL),
                     -EINVAL);
    /* one message for the section, none for its keys */
    assert_string_equal(testutil_log_captured(), "t.conf:1: unknown section [sink]\n");
    testutil_log_capture_end();
    watchconf_free(wc);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file),
        cmocka_unit_test(test_good_string),
        cmocka_unit_test(test_errors_file),
        cmocka_unit_test(test_errors_string),
        cmocka_unit_test(test_extra_file),
        cmocka_unit_test(test_extra_string),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_empty_string),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_no_extra_door),
    };

    log_init("test_watchconf", LOG_DEST_NONE, 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
