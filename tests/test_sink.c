/*
 * test_sink: alert sinks with real files and real child processes.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "conf.h"
#include "fileutil.h"
#include "log.h"
#include "sink.h"
#include "strbuf.h"
#include "testutil.h"
#include "xalloc.h"

static uint64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
conf_cb(const struct conf_entry *e, void *opaque, char **errmsg)
{
    int rc = sinkset_conf_entry(opaque, e, errmsg);

    if (rc == 0 && e->key) {
        *errmsg = xasprintf("not a sink key '%s'", e->key);
        return -1;
    }
    return rc < 0 ? -1 : 0;
}

static struct sinkset *
sinks_from(const char *text)
{
    struct sinkset *ss = sinkset_new();
    char *err = NULL;

    assert_int_equal(conf_parse_string("test.conf", text, strlen(text), conf_cb, ss), 0);
    assert_int_equal(sinkset_conf_finish(ss, "test.conf", &err), 0);
    assert_int_equal(sinkset_open(ss), 0);
    return ss;
}

static struct alert
make_alert(const char *domain, const char *id, struct strbuf *json)
{
    strbuf_reset(json);
    strbuf_addstr(json, "{\"event\":\"panic\",\"domain\":");
    strbuf_add_json_strz(json, domain);
    strbuf_addf(json, ",\"id\":\"%s\"}", id);
    return (struct alert){
        .id = id, .event = "panic", .domain = domain, .monitor = "0x7f3a24011010",
        .time = "2026-11-25T17:27:29.975Z", .action = "pause", .details = NULL,
        .json = json->buf, .epoch = 1795627649.975,
    };
}

static size_t
count_lines(const char *path)
{
    size_t len = 0;
    AUTOFREE char *text = testutil_read_file(path, &len);
    size_t n = 0;

    for (size_t i = 0; i < len; i++)
        n += text[i] == '\n';
    return n;
}

static void
collect_id(const char *id, void *opaque)
{
    struct strbuf *sb = opaque;

    strbuf_addstr(sb, id);
    strbuf_addch(sb, ',');
}

static void
test_json_sink(void **state)
{
    AUTOFREE char *dir = testutil_mkdtemp();
    AUTOFREE char *path = xasprintf("%s/alerts.json", dir);
    AUTOFREE char *conf = xasprintf("[sink json]\npath = %s\n", path);
    struct sinkset *ss = sinks_from(conf);
    struct strbuf json = STRBUF_INIT;
    struct strbuf ids = STRBUF_INIT;
    struct alert a;

    (void)state;
    a = make_alert("web 01", "id1", &json);
    sinkset_emit(ss, &a, now_ms());
    a = make_alert("x\"$(id)\n", "id2", &json);
    sinkset_emit(ss, &a, now_ms());
    sinkset_sync(ss, now_ms());
    assert_int_equal(count_lines(path), 2);
    assert_int_equal(sink_json_recent_ids(path, 1 << 20, collect_id, &ids), 0);
    assert_string_equal(strbuf_str(&ids), "id1,id2,");
    /* Reading only the tail skips the cut first line. */
    strbuf_reset(&ids);
    assert_int_equal(sink_json_recent_ids(path, 80, collect_id, &ids), 0);
    assert_string_equal(strbuf_str(&ids), "id2,");
    sinkset_free(ss);
    strbuf_release(&json);
    strbuf_release(&ids);
    testutil_rmtree(dir);
}

static void
test_json_refuses_symlink(void **state)
{
    AUTOFREE char *dir = testutil_mkdtemp();
    AUTOFREE char *path = xasprintf("%s/alerts.json", dir);
    AUTOFREE char *victim = xasprintf("%s/victim", dir);
    AUTOFREE char *conf = xasprintf("[sink json]\npath = %s\n", path);
    struct sinkset *ss = sinkset_new();
    struct stat sb;

    (void)state;
    assert_int_equal(symlink(victim, path), 0);
    assert_int_equal(conf_parse_string("t", conf, strlen(conf), conf_cb, ss), 0);
    testutil_log_capture_begin();
    assert_true(sinkset_open(ss) < 0);
    assert_non_null(strstr(testutil_log_captured(), "refusing to follow it"));
    testutil_log_capture_end();
    assert_int_equal(stat(victim, &sb), -1);
    sinkset_free(ss);
    testutil_rmtree(dir);
}

static void
test_conf_errors(void **state)
{
    static const char *const bad[] = {
        "[sink carrier-pigeon]\n",
        "[sink json]\npath = relative/path\n",
        "[sink exec]\ncommand = curl -d x\n",
        "[sink exec]\ncommand = /bin/true 'open\n",
        "[sink exec]\ncommand = /bin/true\nmax_concurrent = 0\n",
        "[sink syslog]\nfacility = kernel-ish\n",
        "[sink syslog]\npriority = loud\n",
        "[sink prometheus]\nbogus = 1\n",
        "throttle_count = 0\n",
        "throttle_window = soon\n",
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct sinkset *ss = sinkset_new();

        testutil_log_capture_begin();
        assert_int_equal(conf_parse_string("t.conf", bad[i], strlen(bad[i]), conf_cb, ss), -EINVAL);
        assert_non_null(strstr(testutil_log_captured(), "t.conf:"));
        testutil_log_capture_end();
        sinkset_free(ss);
    }
    {
        struct sinkset *ss = sinkset_new();
        char *err = NULL;
        const char *text = "[sink exec]\ntimeout = 5s\n";

        assert_int_equal(conf_parse_string("t.conf", text, strlen(text), conf_cb, ss), 0);
        assert_int_equal(sinkset_conf_finish(ss, "t.conf", &err), -1);
        assert_string_equal(err, "t.conf:1: [sink exec] needs 'command'");
        free(err);
        sinkset_free(ss);
    }
}

/* Wait (really) until @ss has no child running, calling tick. */
static void
drain_children(struct sinkset *ss, unsigned max_ms)
{
    struct timespec ts = { 0, 10 * 1000 * 1000 };
    uint64_t deadline = now_ms() + max_ms;

    while (now_ms() < deadline) {
        sinkset_tick(ss, now_ms());
        if (sinkset_next_tick_ms(ss, now_ms()) < 0 || sinkset_next_tick_ms(ss, now_ms()) > 1000)
            return;
        nanosleep(&ts, NULL);
    }
    fail_msg("children still running after %u ms", max_ms);
}

static char *
write_script(const char *dir, const char *name, const char *body)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    assert_int_equal(chmod(path, 0755), 0);
    return path;
}

static size_t
count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;

    assert_non_null(d);
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);

        if (l > strlen(suffix) && strcmp(de->d_name + l - strlen(suffix), suffix) == 0)
            n++;
    }
    closedir(d);
    return n;
}

static void
test_exec_env_no_shell(void **state)
{
    AUTOFREE char *dir = testutil_mkdtemp();
    AUTOFREE char *script = write_script(dir, "hook.sh", "exec /usr/bin/env -0 > \"$1/$$.env\"");
    AUTOFREE char *conf = xasprintf("[sink exec]\ncommand = %s %s\n", script, dir);
    AUTOFREE char *pwned = xasprintf("%s/pwned", dir);
    AUTOFREE char *evil = xasprintf("$(touch %s);reboot `touch %s` \"q' \\\n%s", pwned, pwned,
                                    "\xe6\x95\xb0\xe6\x8d\xae\xe5\xba\x93");
    struct sinkset *ss = sinks_from(conf);
    struct strbuf json = STRBUF_INIT;
    struct alert a = make_alert(evil, "evil1", &json);
    DIR *d;
    struct dirent *de;
    AUTOFREE char *envtext = NULL;
    size_t len = 0;
    AUTOFREE char *want = xasprintf("PVPANIC_DOMAIN=%s", evil);
    bool found_domain = false;
    bool found_event = false;

    (void)state;
    sinkset_emit(ss, &a, now_ms());
    drain_children(ss, 10000);
    assert_int_equal(count_files(dir, ".env"), 1);
    d = opendir(dir);
    while ((de = readdir(d))) {
        if (strstr(de->d_name, ".env")) {
            AUTOFREE char *p = xasprintf("%s/%s", dir, de->d_name);

            envtext = testutil_read_file(p, &len);
        }
    }
    closedir(d);
    for (size_t off = 0; off < len; off += strlen(envtext + off) + 1) {
        found_domain |= strcmp(envtext + off, want) == 0;
        found_event |= strcmp(envtext + off, "PVPANIC_EVENT=panic") == 0;
        /* the daemon's own environment is not passed on */
        assert_null(strstr(envtext + off, "abs_top_srcdir="));
    }
    assert_true(found_domain);
    assert_true(found_event);
    assert_int_equal(access(pwned, F_OK), -1);
    sinkset_free(ss);
    strbuf_release(&json);
    testutil_rmtree(dir);
}

static void
test_exec_timeout_and_failure(void **state)
{
    AUTOFREE char *dir = testutil_mkdtemp();
    AUTOFREE char *hang = write_script(dir, "hang.sh", "exec sleep 30");
    AUTOFREE char *fails = write_script(dir, "fails.sh", "exit 3");
    AUTOFREE char *conf = xasprintf("[sink exec]\ncommand = %s\ntimeout = 300ms\n"
                                    "[sink exec]\ncommand = %s\n", hang, fails);
    struct sinkset *ss = sinks_from(conf);
    struct strbuf json = STRBUF_INIT;
    struct alert a = make_alert("d", "x", &json);
    struct sink_stats st;
    uint64_t t0 = now_ms();

    (void)state;
    testutil_log_capture_begin();
    sinkset_emit(ss, &a, now_ms());
    drain_children(ss, 8000);
    assert_true(now_ms() - t0 < 5000);
    sinkset_get_stats(ss, &st);
    assert_int_equal(st.exec_started, 2);
    assert_int_equal(st.exec_timeouts, 1);
    assert_int_equal(st.exec_failed, 2);
    assert_non_null(strstr(testutil_log_captured(), "exited with status 3"));
    assert_non_null(strstr(testutil_log_captured(), "terminating it"));
    testutil_log_capture_end();
    sinkset_free(ss);
    strbuf_release(&json);
    testutil_rmtree(dir);
}

static void
test_exec_concurrency_bound(void **state)
{
    AUTOFREE char *dir = testutil_mkdtemp();
    AUTOFREE char *script = write_script(dir, "slow.sh",
        "n=$(ls \"$1\" | grep -c running); touch \"$1/$$.running\"; "
        "echo $n > \"$1/$$.seen\"; sleep 0.2; rm \"$1/$$.running\"; touch \"$1/$$.done\"");
    AUTOFREE char *conf = xasprintf("throttle_count = 100\n[sink exec]\ncommand = %s %s\nmax_concurrent = 2\n",
                                    script, dir);
    struct sinkset *ss = sinks_from(conf);
    struct strbuf json = STRBUF_INIT;
    struct sink_stats st;

    (void)state;
    for (int i = 0; i < 6; i++) {
        AUTOFREE char *id = xasprintf("e%d", i);
        struct alert a = make_alert("dom", id, &json);

        sinkset_emit(ss, &a, now_ms());
    }
    drain_children(ss, 15000);
    sinkset_get_stats(ss, &st);
    assert_int_equal(st.exec_started, 6);
    assert_int_equal(count_files(dir, ".done"), 6);
    /* No run ever saw two others running. */
    {
        DIR *d = opendir(dir);
        struct dirent *de;

        while ((de = readdir(d))) {
            if (strstr(de->d_name, ".seen")) {
                AUTOFREE char *p = xasprintf("%s/%s", dir, de->d_name);
                size_t len = 0;
                AUTOFREE char *t = testutil_read_file(p, &len);

                assert_true(atoi(t) <= 1);
            }
        }
        closedir(d);
    }
    sinkset_free(ss);
    strbuf_release(&json);
    testutil_rmtree(dir);
}

static void
test_throttle_storm(void **state)
{
    AUTOFREE char *dir = testutil_mkdtemp();
    AUTOFREE char *script = write_script(dir, "count.sh",
        "echo \"$PVPANIC_EVENT $PVPANIC_COUNT $PVPANIC_DOMAIN\" >> \"$1/calls\"");
    AUTOFREE char *json_path = xasprintf("%s/all.json", dir);
    AUTOFREE char *prom_path = xasprintf("%s/pvpanic.prom", dir);
    AUTOFREE char *calls = xasprintf("%s/calls", dir);
    AUTOFREE char *conf = xasprintf(
        "throttle_count = 3\nthrottle_window = 10m\n"
        "[sink exec]\ncommand = %s %s\nmax_concurrent = 1\n"
        "[sink json]\npath = %s\n[sink prometheus]\npath = %s\n",
        script, dir, json_path, prom_path);
    struct sinkset *ss = sinks_from(conf);
    struct strbuf json = STRBUF_INIT;
    struct sink_stats st;
    uint64_t t = now_ms();
    size_t len = 0;
    AUTOFREE char *text = NULL;
    AUTOFREE char *prom = NULL;

    (void)state;
    for (int i = 0; i < 1000; i++) {
        AUTOFREE char *id = xasprintf("storm%d", i);
        struct alert a = make_alert("restart-loop", id, &json);

        sinkset_emit(ss, &a, t + (uint64_t)i);
    }
    {
        struct alert other = make_alert("calm", "calm1", &json);

        sinkset_emit(ss, &other, t + 1000);
    }
    sinkset_get_stats(ss, &st);
    assert_int_equal(st.alerts, 1001);
    assert_int_equal(st.suppressed, 997);
    drain_children(ss, 30000);
    assert_int_equal(count_lines(calls), 4);
    /* The window closes: one summary with the exact count. */
    sinkset_tick(ss, t + 10 * 60 * 1000 + 1);
    sinkset_get_stats(ss, &st);
    assert_int_equal(st.summaries, 1);
    drain_children(ss, 30000);
    text = testutil_read_file(calls, &len);
    assert_int_equal(count_lines(calls), 5);
    assert_non_null(strstr(text, "throttled 997 restart-loop\n"));
    assert_non_null(strstr(text, "panic  calm\n"));
    /* json and counters have every event. */
    assert_int_equal(count_lines(json_path), 1001);
    prom = testutil_read_file(prom_path, &len);
    assert_non_null(strstr(prom, "pvpanic_guest_panics_total{domain=\"restart-loop\"} 1000\n"));
    assert_non_null(strstr(prom, "pvpanic_guest_panics_total{domain=\"calm\"} 1\n"));
    assert_non_null(strstr(prom, "pvpanic_watch_alerts_suppressed_total 997\n"));
    sinkset_free(ss);
    strbuf_release(&json);
    testutil_rmtree(dir);
}

static void
test_prometheus_escaping_and_restore(void **state)
{
    AUTOFREE char *dir = testutil_mkdtemp();
    AUTOFREE char *prom_path = xasprintf("%s/pvpanic.prom", dir);
    AUTOFREE char *conf = xasprintf("[sink prometheus]\npath = %s\n", prom_path);
    const char *evil = "we\"ird\\name\nx";
    struct strbuf json = STRBUF_INIT;
    struct sink_health h = { .lines_read = 42, .bytes_read = 4200, .files_followed = 3, .parse_errors = 1 };
    size_t len = 0;

    (void)state;
    for (int round = 1; round <= 2; round++) {
        struct sinkset *ss = sinks_from(conf);
        struct alert a = make_alert(evil, "p", &json);
        struct alert u = make_alert(NULL, "u", &json);
        AUTOFREE char *prom = NULL;
        AUTOFREE char *want = xasprintf("pvpanic_guest_panics_total{domain=\"we\\\"ird\\\\name\\nx\"} %d\n", round);
        AUTOFREE char *want_unknown = xasprintf("pvpanic_guest_panics_total{domain=\"\"} %d\n", round);
        struct stat sb;

        sinkset_emit(ss, &a, 5);
        a.json = json.buf;
        sinkset_emit(ss, &u, 6);
        sinkset_set_health(ss, &h);
        sinkset_shutdown(ss, 7);
        prom = testutil_read_file(prom_path, &len);
        assert_non_null(strstr(prom, want));
        assert_non_null(strstr(prom, want_unknown));
        assert_non_null(strstr(prom, "pvpanic_watch_lines_read_total 42\n"));
        assert_non_null(strstr(prom, "pvpanic_watch_files_followed 3\n"));
        assert_non_null(strstr(prom, "pvpanic_watch_parse_errors_total 1\n"));
        assert_non_null(strstr(prom, "pvpanic_watch_last_event_timestamp_seconds 1795627649.975\n"));
        assert_int_equal(stat(prom_path, &sb), 0);
        assert_int_equal(sb.st_mode & 0777, 0644);
        sinkset_free(ss);
    }
    strbuf_release(&json);
    testutil_rmtree(dir);
}

/* ---- journald ---------------------------------------------------------- */

/*
 * Decode a native-protocol datagram (the inverse of sink_journal_field) into
 * "NAME=value" strings, failing the test on any framing error.
 */
struct jfields {
    char *name[32];
    char *value[32];
    size_t vlen[32];
    size_t n;
};

static void
jfields_parse(const char *buf, size_t len, struct jfields *f)
{
    const char *p = buf;
    const char *end = buf + len;

    memset(f, 0, sizeof(*f));
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eq = memchr(p, '=', (size_t)(end - p));

        assert_non_null(nl);
        assert_true(f->n < 32);
        if (eq && eq < nl) {
            f->name[f->n] = xstrndup(p, (size_t)(eq - p));
            f->vlen[f->n] = (size_t)(nl - eq - 1);
            f->value[f->n] = xstrndup(eq + 1, f->vlen[f->n]);
            p = nl + 1;
        } else {
            uint64_t vlen = 0;

            f->name[f->n] = xstrndup(p, (size_t)(nl - p));
            p = nl + 1;
            assert_true(end - p >= 8);
            for (int i = 7; i >= 0; i--)
                vlen = (vlen << 8) | (unsigned char)p[i];
            p += 8;
            assert_true((uint64_t)(end - p) >= vlen + 1);
            f->value[f->n] = xmalloc(vlen + 1);
            memcpy(f->value[f->n], p, vlen);
            f->value[f->n][vlen] = '\0';
            f->vlen[f->n] = vlen;
            p += vlen;
            assert_int_equal(*p, '\n');
            p++;
        }
        /* Field names: upper case, digits, underscore, not starting with _ */
        assert_true(f->name[f->n][0] >= 'A' && f->name[f->n][0] <= 'Z');
        assert_int_equal(strspn(f->name[f->n], "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"),
                         strlen(f->name[f->n]));
        f->n++;
    }
}

static const char *
jfield(const struct jfields *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->name[i], name) == 0)
            return f->value[i];
    }
    return NULL;
}

static void
jfields_free(struct jfields *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->name[i]);
        free(f->value[i]);
    }
    f->n = 0;
}

static void
test_journal_field_encoding(void **state)
{
    struct strbuf out = STRBUF_INIT;
    static const char binary[] = "PVPANIC_DOMAIN\n\x07\0\0\0\0\0\0\0web\n\"$x\n";
    AUTOFREE char *big = xmalloc(SINK_JOURNAL_VALUE_MAX + 100);

    (void)state;
    sink_journal_field(&out, "PVPANIC_DOMAIN", "web-01", 6);
    assert_int_equal(out.len, strlen("PVPANIC_DOMAIN=web-01\n"));
    assert_memory_equal(out.buf, "PVPANIC_DOMAIN=web-01\n", out.len);

    /* A newline forces the length-prefixed form; '=' inside is plain data. */
    strbuf_reset(&out);
    sink_journal_field(&out, "PVPANIC_DOMAIN", "web\n\"$x", 7);
    assert_int_equal(out.len, sizeof(binary) - 1);
    assert_memory_equal(out.buf, binary, out.len);
    strbuf_reset(&out);
    sink_journal_field(&out, "X", "a=b", 3);
    assert_memory_equal(out.buf, "X=a=b\n", out.len);

    /* A NUL byte too; an empty value stays a field. */
    strbuf_reset(&out);
    sink_journal_field(&out, "X", "a\0b", 3);
    assert_int_equal(out.len, 2 + 8 + 3 + 1);
    assert_memory_equal(out.buf, "X\n\x03\0\0\0\0\0\0\0a\0b\n", out.len);
    strbuf_reset(&out);
    sink_journal_field(&out, "X", "", 0);
    assert_memory_equal(out.buf, "X=\n", out.len);

    /* Huge values are cut to the bound. */
    memset(big, 'A', SINK_JOURNAL_VALUE_MAX + 100);
    big[10] = '\n';
    strbuf_reset(&out);
    sink_journal_field(&out, "BIG", big, SINK_JOURNAL_VALUE_MAX + 100);
    assert_int_equal(out.len, 4 + 8 + SINK_JOURNAL_VALUE_MAX + 1);
    strbuf_release(&out);
}

static void
test_journal_format(void **state)
{
    struct strbuf out = STRBUF_INIT;
    struct strbuf json = STRBUF_INIT;
    struct jfields f;
    struct alert a = make_alert("web\n01 \"$(id)\"", "0123456789abcdef", &json);

    (void)state;
    a.details = "bugcheck 0x000000d1";
    sink_journal_format(&out, &a, "guest panic: domain \"web\\n01\"", LOG_CRIT, LOG_LOCAL3, NULL, 4242);
    jfields_parse(out.buf, out.len, &f);
    assert_string_equal(jfield(&f, "MESSAGE"), "guest panic: domain \"web\\n01\"");
    assert_string_equal(jfield(&f, "PRIORITY"), "2");
    assert_string_equal(jfield(&f, "SYSLOG_FACILITY"), "19");
    assert_string_equal(jfield(&f, "SYSLOG_IDENTIFIER"), "pvpanic-watch");
    assert_string_equal(jfield(&f, "SYSLOG_PID"), "4242");
    assert_string_equal(jfield(&f, "MESSAGE_ID"), sink_journal_message_id("panic"));
    assert_string_equal(jfield(&f, "PVPANIC_EVENT"), "panic");
    assert_string_equal(jfield(&f, "PVPANIC_DOMAIN"), "web\n01 \"$(id)\"");
    assert_string_equal(jfield(&f, "PVPANIC_TIME"), "2026-11-25T17:27:29.975Z");
    assert_string_equal(jfield(&f, "PVPANIC_ACTION"), "pause");
    assert_string_equal(jfield(&f, "PVPANIC_MONITOR"), "0x7f3a24011010");
    assert_string_equal(jfield(&f, "PVPANIC_DETAILS"), "bugcheck 0x000000d1");
    assert_string_equal(jfield(&f, "PVPANIC_ID"), "0123456789abcdef");
    assert_null(jfield(&f, "PVPANIC_COUNT"));
    jfields_free(&f);

    /* Unknown values are left out, not sent empty. */
    strbuf_reset(&out);
    a.domain = NULL;
    a.action = NULL;
    a.details = NULL;
    sink_journal_format(&out, &a, "m", LOG_ERR, LOG_DAEMON, "7", 1);
    jfields_parse(out.buf, out.len, &f);
    assert_null(jfield(&f, "PVPANIC_DOMAIN"));
    assert_null(jfield(&f, "PVPANIC_ACTION"));
    assert_null(jfield(&f, "PVPANIC_DETAILS"));
    assert_string_equal(jfield(&f, "PVPANIC_COUNT"), "7");
    assert_string_equal(jfield(&f, "SYSLOG_FACILITY"), "3");
    jfields_free(&f);

    /* One id per event type, each a 128-bit hex id; custom events share one. */
    assert_string_not_equal(sink_journal_message_id("panic"), sink_journal_message_id("crashloaded"));
    assert_string_not_equal(sink_journal_message_id("panic"), sink_journal_message_id("throttled"));
    assert_string_not_equal(sink_journal_message_id("panic"), sink_journal_message_id("my-rule"));
    assert_string_equal(sink_journal_message_id("my-rule"), sink_journal_message_id("other-rule"));
    assert_int_equal(strlen(sink_journal_message_id("crashloaded")), 32);
    assert_int_equal(strspn(sink_journal_message_id("crashloaded"), "0123456789abcdef"), 32);
    strbuf_release(&out);
    strbuf_release(&json);
}

/* Receive one datagram within @ms, or return 0 bytes. */
static size_t
recv_dgram(int fd, char *buf, size_t size, int ms)
{
    for (int waited = 0; waited <= ms; waited += 10) {
        ssize_t n = recv(fd, buf, size, MSG_DONTWAIT);

        if (n >= 0)
            return (size_t)n;
        usleep(10000);
    }
    return 0;
}

static void
test_journal_socket(void **state)
{
    AUTOFREE char *dir = testutil_mkdtemp();
    AUTOFREE char *sock = xasprintf("%s/journal.sock", dir);
    AUTOFREE char *conf = xstrdup("throttle_count = 1\nthrottle_window = 10m\n"
                                  "[sink syslog]\nfacility = local3\npriority = crit\n");
    AUTOCLOSE int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    struct strbuf json = STRBUF_INIT;
    static char buf[65536];
    struct jfields f;
    struct sinkset *ss;
    struct alert a;
    size_t n;

    (void)state;
    assert_true(fd >= 0);
    assert_true(strlen(sock) < sizeof(sun.sun_path));
    strcpy(sun.sun_path, sock);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    setenv(SINK_JOURNAL_SOCKET_ENV, sock, 1);
    ss = sinks_from(conf);

    a = make_alert("db-01\nsecond line", "1111111111111111", &json);
    sinkset_emit(ss, &a, 1000);
    n = recv_dgram(fd, buf, sizeof(buf), 2000);
    assert_true(n > 0);
    jfields_parse(buf, n, &f);
    assert_string_equal(jfield(&f, "PVPANIC_DOMAIN"), "db-01\nsecond line");
    assert_string_equal(jfield(&f, "PRIORITY"), "2");
    assert_string_equal(jfield(&f, "SYSLOG_FACILITY"), "19");
    assert_string_equal(jfield(&f, "SYSLOG_IDENTIFIER"), "pvpanic-watch");
    assert_non_null(strstr(jfield(&f, "MESSAGE"), "guest panic: domain \"db-01\\nsecond line\""));
    jfields_free(&f);

    /* Throttled: nothing now, then one summary with the count. */
    sinkset_emit(ss, &a, 1001);
    sinkset_emit(ss, &a, 1002);
    assert_int_equal(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
    sinkset_tick(ss, 1000 + 10 * 60 * 1000 + 1);
    n = recv_dgram(fd, buf, sizeof(buf), 2000);
    assert_true(n > 0);
    jfields_parse(buf, n, &f);
    assert_string_equal(jfield(&f, "PVPANIC_EVENT"), "throttled");
    assert_string_equal(jfield(&f, "PVPANIC_COUNT"), "2");
    assert_string_equal(jfield(&f, "MESSAGE_ID"), sink_journal_message_id("throttled"));
    jfields_free(&f);

    /* journald gone: syslog(3) takes over, and that is said once. */
    close(fd);
    fd = -1;
    unlink(sock);
    testutil_log_capture_begin();
    a = make_alert("web-02", "2222222222222222", &json);
    sinkset_emit(ss, &a, 2000000);
    a = make_alert("web-03", "3333333333333333", &json);
    sinkset_emit(ss, &a, 2000001);
    {
        const char *log = testutil_log_captured();
        const char *first = strstr(log, "cannot send to journald");

        assert_non_null(first);
        assert_null(strstr(first + 1, "cannot send to journald"));
    }
    testutil_log_capture_end();
    sinkset_free(ss);
    unsetenv(SINK_JOURNAL_SOCKET_ENV);

    /* No socket at the path: plain syslog(3), no journald socket opened. */
    testutil_log_capture_begin();
    setenv(SINK_JOURNAL_SOCKET_ENV, sock, 1);
    ss = sinks_from(conf);
    a = make_alert("web-04", "4444444444444444", &json);
    sinkset_emit(ss, &a, 1000);
    assert_null(strstr(testutil_log_captured(), "journald"));
    testutil_log_capture_end();
    sinkset_free(ss);
    unsetenv(SINK_JOURNAL_SOCKET_ENV);
    strbuf_release(&json);
    testutil_rmtree(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_sink),
        cmocka_unit_test(test_json_refuses_symlink),
        cmocka_unit_test(test_conf_errors),
        cmocka_unit_test(test_exec_env_no_shell),
        cmocka_unit_test(test_exec_timeout_and_failure),
        cmocka_unit_test(test_exec_concurrency_bound),
        cmocka_unit_test(test_throttle_storm),
        cmocka_unit_test(test_prometheus_escaping_and_restore),
        cmocka_unit_test(test_journal_field_encoding),
        cmocka_unit_test(test_journal_format),
        cmocka_unit_test(test_journal_socket),
    };

    log_init("test_sink", LOG_DEST_NONE, 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
