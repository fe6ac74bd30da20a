/*
 * test_conf: the shared config reader, every case through both doors
 * (file and string), compared with a golden dump of entries + diagnostics.
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
#include <unistd.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "conf.h"
#include "log.h"
#include "strbuf.h"
#include "testutil.h"
#include "xalloc.h"

/* Records each entry; rejects key "reject" to exercise callback errors. */
static int
dump_entry(const struct conf_entry *e, void *opaque, char **errmsg)
{
    struct strbuf *out = opaque;

    strbuf_addf(out, "%u [%s", e->line, e->section ? e->section : "-");
    if (e->label)
        strbuf_addf(out, " \"%s\"", e->label);
    strbuf_addch(out, ']');
    if (e->key) {
        strbuf_addf(out, " %s=", e->key);
        strbuf_add_json_strz(out, e->value);
    }
    strbuf_addch(out, '\n');
    if (e->key && strcmp(e->key, "reject") == 0) {
        *errmsg = xasprintf("key 'reject' is rejected (value %s)", e->value);
        return -1;
    }
    return 0;
}

enum door { DOOR_FILE, DOOR_STRING };

static void
run_case(const char *name, enum door door)
{
    AUTOFREE char *rel = xasprintf("conf/%s.conf", name);
    AUTOFREE char *path = testutil_datapath(rel);
    AUTOFREE char *exp_rel = xasprintf("conf/%s.out", name);
    AUTOFREE char *expected = testutil_datapath(exp_rel);
    struct strbuf out = STRBUF_INIT;
    int rc;

    testutil_log_capture_begin();
    if (door == DOOR_FILE) {
        rc = conf_parse_file(path, false, dump_entry, &out);
    } else {
        size_t len = 0;
        AUTOFREE char *text = testutil_read_file(path, &len);

        rc = conf_parse_string(path, text, len, dump_entry, &out);
    }
    strbuf_addf(&out, "rc=%d\n", rc);
    {
        /* Diagnostics name the file by full path; make them relocatable. */
        const char *log = testutil_log_captured();
        size_t plen = strlen(path);

        while (*log) {
            const char *nl = strchr(log, '\n');

            strbuf_addstr(&out, "log: ");
            if (strncmp(log, path, plen) == 0) {
                strbuf_addstr(&out, "FILE");
                log += plen;
            }
            strbuf_add(&out, log, (size_t)(nl - log));
            strbuf_addch(&out, '\n');
            log = nl + 1;
        }
    }
    testutil_log_capture_end();
    assert_int_equal(testutil_compare_to_file(out.buf, out.len, expected), 0);
    strbuf_release(&out);
}

#define CONF_CASE(n) \
    static void test_##n##_file(void **s) { (void)s; run_case(#n, DOOR_FILE); } \
    static void test_##n##_string(void **s) { (void)s; run_case(#n, DOOR_STRING); }

CONF_CASE(basic)
CONF_CASE(sections)
CONF_CASE(quoting)
CONF_CASE(errors)
CONF_CASE(empty)

static void
test_missing_file(void **state)
{
    struct strbuf out = STRBUF_INIT;

    (void)state;
    testutil_log_capture_begin();
    assert_int_equal(conf_parse_file("/nonexistent/pvpanic.conf", false, dump_entry, &out),
                     -ENOENT);
    assert_non_null(strstr(testutil_log_captured(), "cannot read config '/nonexistent/pvpanic.conf'"));
    testutil_log_capture_end();
    assert_int_equal(out.len, 0);
}

static void
test_world_writable_refused(void **state)
{
    AUTOFREE char *dir = testutil_mkdtemp();
    AUTOFREE char *path = xasprintf("%s/w.conf", dir);
    struct strbuf out = STRBUF_INIT;
    FILE *f = fopen(path, "w");

    (void)state;
    assert_non_null(f);
    fputs("key = value\n", f);
    fclose(f);
    assert_int_equal(chmod(path, 0666), 0);
    testutil_log_capture_begin();
    assert_int_equal(conf_parse_file(path, true, dump_entry, &out), -EPERM);
    assert_non_null(strstr(testutil_log_captured(), "refusing config"));
    testutil_log_capture_end();
    assert_int_equal(out.len, 0);
    /* The same file with a sane mode is accepted. */
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(conf_parse_file(path, true, dump_entry, &out), 0);
    assert_non_null(strstr(strbuf_str(&out), "key=\"value\""));
    strbuf_release(&out);
    testutil_rmtree(dir);
}

static void
test_too_big(void **state)
{
    AUTOFREE char *dir = testutil_mkdtemp();
    AUTOFREE char *path = xasprintf("%s/big.conf", dir);
    struct strbuf out = STRBUF_INIT;
    FILE *f = fopen(path, "w");

    (void)state;
    assert_non_null(f);
    for (int i = 0; i < (CONF_MAX_SIZE / 16) + 10; i++)
        fputs("# padding.......\n", f);
    fclose(f);
    testutil_log_capture_begin();
    assert_int_equal(conf_parse_file(path, false, dump_entry, &out), -EFBIG);
    assert_non_null(strstr(testutil_log_captured(), "config larger than"));
    testutil_log_capture_end();
    strbuf_release(&out);
    testutil_rmtree(dir);
}

static void
test_values(void **state)
{
    bool b = false;
    unsigned long u = 0;
    unsigned long long ms = 0;
    char *err = NULL;

    (void)state;
    assert_int_equal(conf_value_bool("Yes", &b, &err), 0);
    assert_true(b);
    assert_int_equal(conf_value_bool("off", &b, &err), 0);
    assert_false(b);
    assert_int_equal(conf_value_bool("maybe", &b, &err), -1);
    assert_string_equal(err, "'maybe' is not a boolean (yes/no)");
    free(err);

    assert_int_equal(conf_value_uint("42", 1, 100, &u, &err), 0);
    assert_int_equal(u, 42);
    assert_int_equal(conf_value_uint("420", 1, 100, &u, &err), -1);
    assert_string_equal(err, "420 is out of range [1, 100]");
    free(err);
    assert_int_equal(conf_value_uint("-1", 0, 100, &u, &err), -1);
    free(err);
    assert_int_equal(conf_value_uint("4x", 0, 100, &u, &err), -1);
    free(err);

    assert_int_equal(conf_value_duration_ms("250ms", &ms, &err), 0);
    assert_int_equal(ms, 250);
    assert_int_equal(conf_value_duration_ms("10", &ms, &err), 0);
    assert_int_equal(ms, 10000);
    assert_int_equal(conf_value_duration_ms("5m", &ms, &err), 0);
    assert_int_equal(ms, 300000);
    assert_int_equal(conf_value_duration_ms("2d", &ms, &err), 0);
    assert_int_equal(ms, 172800000);
    assert_int_equal(conf_value_duration_ms("5 m", &ms, &err), -1);
    free(err);
    assert_int_equal(conf_value_duration_ms("99999999999999999999s", &ms, &err), -1);
    free(err);
}

static void
test_split_words(void **state)
{
    char **argv = NULL;
    int argc = 0;
    char *err = NULL;

    (void)state;
    assert_int_equal(conf_split_words("/usr/bin/curl -s 'a b' \"c \\\"d\\\"\" e\\ f $(id) `x` ~", &argv, &argc, &err), 0);
    assert_int_equal(argc, 8);
    assert_string_equal(argv[0], "/usr/bin/curl");
    assert_string_equal(argv[1], "-s");
    assert_string_equal(argv[2], "a b");
    assert_string_equal(argv[3], "c \"d\"");
    assert_string_equal(argv[4], "e f");
    assert_string_equal(argv[5], "$(id)");
    assert_string_equal(argv[6], "`x`");
    assert_string_equal(argv[7], "~");
    assert_null(argv[8]);
    conf_free_words(argv);

    assert_int_equal(conf_split_words("a 'b", &argv, &argc, &err), -1);
    assert_string_equal(err, "unterminated quote or trailing backslash");
    free(err);
    assert_int_equal(conf_split_words("   ", &argv, &argc, &err), -1);
    assert_string_equal(err, "empty command");
    free(err);
    assert_int_equal(conf_split_words("x ''", &argv, &argc, &err), 0);
    assert_int_equal(argc, 2);
    assert_string_equal(argv[1], "");
    conf_free_words(argv);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_file),
        cmocka_unit_test(test_basic_string),
        cmocka_unit_test(test_sections_file),
        cmocka_unit_test(test_sections_string),
        cmocka_unit_test(test_quoting_file),
        cmocka_unit_test(test_quoting_string),
        cmocka_unit_test(test_errors_file),
        cmocka_unit_test(test_errors_string),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_empty_string),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_world_writable_refused),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_split_words),
    };

    log_init("test_conf", LOG_DEST_NONE, 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
