/*
 * test_hookconf: hook.conf through both doors (file and string), compared
 * with a golden dump of the settings and of every FILE:LINE diagnostic;
 * then selection by name glob and UUID, a missing file, an unsafe file.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "hookconf.h"
#include "log.h"
#include "strbuf.h"
#include "testutil.h"
#include "xalloc.h"

static const char *const cases[] = { "empty", "full", "errors", "log-values" };

static void
dump_list(struct strbuf *out, const char *key, const struct strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        strbuf_addf(out, "%s=%s\n", key, l->v[i]);
}

static void
dump_conf(struct strbuf *out, const struct hook_conf *c)
{
    strbuf_addf(out, "on_missing=%s\n", on_missing_to_string(c->on_missing));
    strbuf_addf(out, "model=%s\n", panic_model_to_string(c->model));
    dump_list(out, "include", &c->include);
    dump_list(out, "exclude", &c->exclude);
    dump_list(out, "include_uuid", &c->include_uuid);
    dump_list(out, "exclude_uuid", &c->exclude_uuid);
    strbuf_addf(out, "log=%s\n", hookconf_log_to_string(c->log_dest));
    strbuf_addf(out, "connect=%s\n", c->connect);
    strbuf_addf(out, "verbose=%s\n", c->verbose ? "yes" : "no");
    strbuf_addf(out, "stdin_timeout_ms=%llu\n", c->stdin_timeout_ms);
    strbuf_addf(out, "metadata=%s\n", c->metadata ? "yes" : "no");
}

enum door { DOOR_FILE, DOOR_STRING };

static void
run_case(const char *name, enum door door)
{
    AUTOFREE char *rel = xasprintf("hookconf/%s.conf", name);
    AUTOFREE char *path = testutil_datapath(rel);
    AUTOFREE char *out_rel = xasprintf("hookconf/%s.out", name);
    AUTOFREE char *expected = testutil_datapath(out_rel);
    AUTOPTR(hook_conf) conf = NULL;
    struct strbuf out = STRBUF_INIT;
    const char *log;
    size_t plen = strlen(path);
    int rc;

    testutil_log_capture_begin();
    if (door == DOOR_FILE) {
        /* A private 0644 copy: a checkout may be group-writable, and the
         * secrecy check has its own test below. */
        AUTOFREE char *dir = testutil_mkdtemp();
        AUTOFREE char *copy = xasprintf("%s/%s.conf", dir, name);
        size_t len = 0;
        AUTOFREE char *text = testutil_read_file(path, &len);
        FILE *f = fopen(copy, "w");

        assert_non_null(f);
        assert_int_equal(fwrite(text, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
        chmod(copy, 0644);
        free(path);
        path = xstrdup(copy);
        plen = strlen(path);
        rc = hookconf_load(path, &conf);
        unlink(copy);
        testutil_rmtree(dir);
    } else {
        size_t len = 0;
        AUTOFREE char *text = testutil_read_file(path, &len);

        rc = hookconf_parse_string(path, text, len, &conf);
    }
    assert_non_null(conf);
    assert_true(conf->from_file);
    dump_conf(&out, conf);
    strbuf_addf(&out, "rc=%s\n", rc == 0 ? "0" : rc == -EINVAL ? "-EINVAL" : "other");
    /* Diagnostics name the file by its full path: make them relocatable. */
    for (log = testutil_log_captured(); *log;) {
        size_t len = strcspn(log, "\n");

        strbuf_addstr(&out, "log: ");
        if (len >= plen && strncmp(log, path, plen) == 0) {
            strbuf_addstr(&out, "FILE");
            strbuf_add(&out, log + plen, len - plen);
        } else {
            strbuf_add(&out, log, len);
        }
        strbuf_addch(&out, '\n');
        log += len;
        if (*log)
            log++;
    }
    testutil_log_capture_end();
    assert_int_equal(testutil_compare_to_file(out.buf, out.len, expected), 0);
    strbuf_release(&out);
}

static void
test_file(void **state)
{
    run_case(*state, DOOR_FILE);
}

static void
test_string(void **state)
{
    run_case(*state, DOOR_STRING);
}

static void
test_defaults_and_missing(void **state)
{
    AUTOFREE char *dir = testutil_mkdtemp();
    AUTOFREE char *path = xasprintf("%s/absent.conf", dir);
    AUTOPTR(hook_conf) conf = NULL;

    testutil_log_capture_begin();
    assert_int_equal(hookconf_load(path, &conf), 0);
    assert_string_equal(testutil_log_captured(), "");
    testutil_log_capture_end();
    assert_false(conf->from_file);
    assert_string_equal(conf->path, path);
    assert_int_equal(conf->on_missing, ON_MISSING_ENROLL);
    assert_int_equal(conf->model, PANIC_MODEL_AUTO);
    assert_string_equal(conf->connect, "qemu:///system");
    assert_int_equal(conf->log_dest, LOG_DEST_STDERR | LOG_DEST_SYSLOG);
    assert_int_equal(conf->stdin_timeout_ms, 10000);
    assert_true(conf->metadata);
    assert_true(hookconf_selects(conf, "anything", NULL));
    testutil_rmtree(dir);
}

static void
test_unsafe_file(void **state)
{
    AUTOFREE char *dir = testutil_mkdtemp();
    AUTOFREE char *path = xasprintf("%s/hook.conf", dir);
    AUTOPTR(hook_conf) conf = NULL;
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs("on_missing = refuse\n", f);
    fclose(f);
    chmod(path, 0666);
    testutil_log_capture_begin();
    assert_int_equal(hookconf_load(path, &conf), -EPERM);
    assert_non_null(strstr(testutil_log_captured(), "refusing config"));
    testutil_log_capture_end();
    /* Nothing from an unsafe file is used. */
    assert_int_equal(conf->on_missing, ON_MISSING_ENROLL);
    testutil_rmtree(dir);
}

static void
test_not_regular(void **state)
{
    AUTOFREE char *dir = testutil_mkdtemp();
    AUTOFREE char *fifo = xasprintf("%s/hook.conf", dir);
    AUTOPTR(hook_conf) a = NULL;
    AUTOPTR(hook_conf) b = NULL;

    assert_int_equal(mkfifo(fifo, 0644), 0);
    testutil_log_capture_begin();
    /* Would block in open() if it were opened. */
    assert_int_equal(hookconf_load(fifo, &a), -EPERM);
    assert_int_equal(hookconf_load(dir, &b), -EPERM);
    assert_non_null(strstr(testutil_log_captured(), "not a regular file"));
    testutil_log_capture_end();
    testutil_rmtree(dir);
}

static void
test_env_path(void **state)
{
    setenv(HOOKCONF_ENV, "/tmp/x/hook.conf", 1);
    assert_string_equal(hookconf_path(), "/tmp/x/hook.conf");
    setenv(HOOKCONF_ENV, "", 1);
    assert_string_equal(hookconf_path(), HOOKCONF_DEFAULT_PATH);
    unsetenv(HOOKCONF_ENV);
    assert_string_equal(hookconf_path(), HOOKCONF_DEFAULT_PATH);
}

static struct hook_conf *
conf_from(const char *text)
{
    struct hook_conf *c = NULL;

    assert_int_equal(hookconf_parse_string("t.conf", text, strlen(text), &c), 0);
    return c;
}

static void
test_selection(void **state)
{
    static const char uuid_a[] = "6f1c2b0e-3d4a-4b8e-9a51-2c7d8e9f0a12";
    static const char uuid_b[] = "0B7D1F64-9A3E-4C1B-8D2F-6E5A4C3B2A19";
    AUTOPTR(hook_conf) inc = conf_from("include = web-*\ninclude = 数据*\n"
                                       "include_uuid = 0b7d1f649a3e4c1b8d2f6e5a4c3b2a19\n"
                                       "exclude = web-test-?\n");
    AUTOPTR(hook_conf) exc = conf_from("exclude = *\n");
    AUTOPTR(hook_conf) exc_uuid = conf_from("exclude_uuid = " "6F1C2B0E3D4A4B8E9A512C7D8E9F0A12\n");
    AUTOPTR(hook_conf) none = conf_from("");

    assert_true(hookconf_selects(inc, "web-01", NULL));
    assert_true(hookconf_selects(inc, "数据库", NULL));
    assert_false(hookconf_selects(inc, "db-01", NULL));
    assert_true(hookconf_selects(inc, "db-01", uuid_b));
    assert_false(hookconf_selects(inc, "db-01", uuid_a));
    assert_false(hookconf_selects(inc, "web-test-1", NULL));
    assert_true(hookconf_selects(inc, "web-test-12", NULL));
    /* Globs are not paths and names are data. */
    assert_true(hookconf_selects(inc, "web-a/b", NULL));
    assert_false(hookconf_selects(exc, "--help", NULL));
    assert_false(hookconf_selects(exc, "", NULL));
    assert_false(hookconf_selects(exc_uuid, "x", uuid_a));
    assert_true(hookconf_selects(exc_uuid, "x", uuid_b));
    assert_true(hookconf_selects(exc_uuid, "x", "garbage"));
    assert_true(hookconf_selects(none, "x\"$(id)`x`", NULL));
}

static void
test_uuid_normalize(void **state)
{
    AUTOFREE char *a = uuid_normalize("6F1C2B0E-3D4A-4B8E-9A51-2C7D8E9F0A12");
    AUTOFREE char *b = uuid_normalize("6f1c2b0e3d4a4b8e9a512c7d8e9f0a12");

    assert_string_equal(a, "6f1c2b0e3d4a4b8e9a512c7d8e9f0a12");
    assert_string_equal(b, a);
    assert_null(uuid_normalize("6f1c2b0e3d4a4b8e9a512c7d8e9f0a1"));
    assert_null(uuid_normalize("6f1c2b0e3d4a4b8e9a512c7d8e9f0a123"));
    assert_null(uuid_normalize("6f1c2b0e-3d4a-4b8e-9a51-2c7d8e9f0a1g"));
    assert_null(uuid_normalize(""));
}

int
main(void)
{
    struct CMUnitTest tests[2 * ARRAY_SIZE(cases) + 7];
    size_t n = 0;

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        tests[n] = (struct CMUnitTest)cmocka_unit_test_prestate(test_file, (void *)cases[i]);
        tests[n++].name = xasprintf("%s_file", cases[i]);
        tests[n] = (struct CMUnitTest)cmocka_unit_test_prestate(test_string, (void *)cases[i]);
        tests[n++].name = xasprintf("%s_string", cases[i]);
    }
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_defaults_and_missing);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_unsafe_file);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_not_regular);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_env_path);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_selection);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_uuid_normalize);
    {
        int rc = _cmocka_run_group_tests("hookconf", tests, n, NULL, NULL);

        for (size_t i = 0; i < 2 * ARRAY_SIZE(cases); i++)
            free((char *)tests[i].name);
        return rc;
    }
}
