/*
 * test_logrec: the streaming record splitter. The central property is that
 * the records (text, offsets, line numbers, truncation) do not depend on how
 * the bytes are chunked, so most cases compare a whole-buffer feed with
 * byte-by-byte and random-size feeds.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cleanup.h"
#include "logrec.h"
#include "strbuf.h"
#include "testutil.h"
#include "xalloc.h"

/* Serialise every callback so two runs can be compared byte for byte. */
static void
dump_cb(enum logrec_what what, const struct logrec *rec, void *opaque)
{
    struct strbuf *out = opaque;

    strbuf_addf(out, "%s ts=%d start=%llu end=%llu line=%llu n=%u len=%zu full=%llu%s\n",
                what == LOGREC_HEAD ? "HEAD" : "REC", (int)rec->ts,
                (unsigned long long)rec->start, (unsigned long long)rec->end,
                (unsigned long long)rec->line, rec->nlines, rec->len,
                (unsigned long long)rec->full_len, rec->truncated ? " trunc" : "");
    strbuf_add_json_str(out, rec->text, rec->len);
    strbuf_addch(out, '\n');
}

/* Feed @data in chunks of @chunk bytes (0: random sizes from @seed). */
static char *
split(const char *data, size_t len, size_t chunk, unsigned int seed, size_t max_keep)
{
    struct strbuf out = STRBUF_INIT;
    struct logrec_splitter *sp = logrec_new(max_keep, dump_cb, &out);
    size_t off = 0;

    srand(seed);
    while (off < len) {
        size_t n = chunk ? chunk : (size_t)(rand() % 9000) + 1;

        if (chunk == 0 && rand() % 4 == 0)
            n = (size_t)(rand() % 7) + 1;
        if (n > len - off)
            n = len - off;
        logrec_feed(sp, data + off, n);
        off += n;
    }
    logrec_finish(sp);
    strbuf_addf(&out, "END offset=%llu pending=%llu\n",
                (unsigned long long)logrec_offset(sp),
                (unsigned long long)logrec_pending_offset(sp));
    logrec_free(sp);
    return strbuf_detach(&out, NULL);
}

static void
assert_chunking_invariant(const char *data, size_t len, size_t max_keep)
{
    AUTOFREE char *whole = split(data, len, len ? len : 1, 0, max_keep);
    AUTOFREE char *bytes = split(data, len, 1, 0, max_keep);

    assert_string_equal(whole, bytes);
    for (unsigned int seed = 1; seed <= 5; seed++) {
        AUTOFREE char *rnd = split(data, len, 0, seed, max_keep);

        assert_string_equal(whole, rnd);
    }
}

static char *
read_gz(const char *rel, size_t *out_len)
{
    AUTOFREE char *path = testutil_datapath(rel);
    gzFile gz = gzopen(path, "rb");
    struct strbuf sb = STRBUF_INIT;
    char buf[65536];
    int n;

    assert_non_null(gz);
    while ((n = gzread(gz, buf, sizeof(buf))) > 0)
        strbuf_add(&sb, buf, (size_t)n);
    assert_true(n == 0);
    gzclose(gz);
    return strbuf_detach(&sb, out_len);
}

static void
test_basic_records(void **state)
{
    static const char text[] =
        "2026-11-25 17:25:36.065+0000: 7491: info : libvirt version: 9.0.0\n"
        "2026-11-25 17:25:39.167+0000: 7501: info : qemuMonitorSend:861 : "
        "QEMU_MONITOR_SEND_MSG: mon=0x1 msg={\"execute\":\"qmp_capabilities\"}\n"
        " fd=-1\n"
        "2026-11-25T17:31:32.130083Z qemu-system-x86_64: terminating on signal 15\n";
    AUTOFREE char *out = split(text, sizeof(text) - 1, sizeof(text) - 1, 0, 0);

    (void)state;
    /* record 2 spans two lines; HEAD of record 3 comes after REC of 2 */
    assert_non_null(strstr(out, "HEAD ts=1 start=0 end=66 line=1 n=1"));
    assert_non_null(strstr(out, "REC ts=1 start=66 end=204 line=2 n=2"));
    assert_non_null(strstr(out, "\"2026-11-25 17:25:39.167+0000: 7501: info : qemuMonitorSend:861 : "
                                "QEMU_MONITOR_SEND_MSG: mon=0x1 msg={\\\"execute\\\":"
                                "\\\"qmp_capabilities\\\"}\\n fd=-1\""));
    assert_non_null(strstr(out, "HEAD ts=2 "));
    assert_non_null(strstr(out, "line=4 n=1"));
    assert_true(strstr(out, "REC ts=1 start=66") < strstr(out, "HEAD ts=2"));
    assert_non_null(strstr(out, "END offset=277 pending=277"));
    assert_chunking_invariant(text, sizeof(text) - 1, 0);
}

static void
test_timestamp_kinds(void **state)
{
    (void)state;
    assert_int_equal(logrec_timestamp_kind("2026-11-25 17:25:36.065+0000: x", 32), LOGREC_TS_LIBVIRT);
    assert_int_equal(logrec_timestamp_kind("2026-11-25 17:25:36.065+0000:", 29), LOGREC_TS_LIBVIRT);
    assert_int_equal(logrec_timestamp_kind("2026-11-25 17:25:36.065+0000", 28), LOGREC_TS_NONE);
    assert_int_equal(logrec_timestamp_kind("2026-11-25T17:31:32.130083Z qemu", 32), LOGREC_TS_ISO);
    assert_int_equal(logrec_timestamp_kind("2026-11-25T17:31:32Z qemu", 25), LOGREC_TS_ISO);
    assert_int_equal(logrec_timestamp_kind("2026-11-25T17:31:32.130083Zqemu", 31), LOGREC_TS_NONE);
    assert_int_equal(logrec_timestamp_kind("2026-1x-25 17:25:36.065+0000: x", 32), LOGREC_TS_NONE);
    assert_int_equal(logrec_timestamp_kind(" fd=-1", 6), LOGREC_TS_NONE);
    assert_int_equal(logrec_timestamp_kind("", 0), LOGREC_TS_NONE);
    assert_int_equal(logrec_timestamp_kind("LC_ALL=C \\", 10), LOGREC_TS_NONE);
}

static void
test_corpus_chunking(void **state)
{
    size_t len = 0;
    AUTOFREE char *log = read_gz("logparse/libvirt-9.0-debug.log.gz", &len);
    AUTOFREE char *whole = split(log, len, len, 0, 0);
    size_t records = 0;

    (void)state;
    for (const char *p = whole; (p = strstr(p, "\nREC ")); p++)
        records++;
    /* 16242 lines, 4618 of them continuation lines */
    assert_int_equal(records, 16242 - 4618);
    assert_non_null(strstr(whole, "END offset=4260062 pending=4260062"));
    /* chunk sizes around the 64 KB cap and tiny ones */
    for (size_t chunk = 1; chunk < 70000; chunk = chunk * 7 + 3) {
        AUTOFREE char *other = split(log, len, chunk, 0, 0);

        assert_string_equal(whole, other);
    }
    for (unsigned int seed = 1; seed <= 3; seed++) {
        AUTOFREE char *rnd = split(log, len, 0, seed, 0);

        assert_string_equal(whole, rnd);
    }
    /* and with a cap smaller than the 207 KB QMP reply lines of the corpus */
    {
        AUTOFREE char *a = split(log, len, len, 0, 4096);
        AUTOFREE char *b = split(log, len, 4093, 0, 4096);

        assert_string_equal(a, b);
        assert_non_null(strstr(a, " trunc\n"));
    }
}

static void
test_crlf_nul_utf8(void **state)
{
    static const char text[] =
        "2026-11-25 17:25:36.065+0000: 1: info : a\r\n"
        "2026-11-25 17:25:36.066+0000: 1: debug : f:1 : buf={\"x\": 1}\r\n"
        " len=10\r\n"
        "2026-11-25 17:25:36.067+0000: 1: debug : f:2 : nul\0byte \xff\xfe bad utf8\n"
        "2026-11-25 17:25:36.068+0000: 1: debug : f:3 : lone \r in the middle\n";
    AUTOFREE char *out = split(text, sizeof(text) - 1, sizeof(text) - 1, 0, 0);

    (void)state;
    /* CR before LF removed everywhere, including inside a multi-line record */
    assert_non_null(strstr(out, "\"2026-11-25 17:25:36.065+0000: 1: info : a\""));
    assert_non_null(strstr(out, "buf={\\\"x\\\": 1}\\n len=10\""));
    assert_null(strstr(out, "\\r\\n"));
    /* a CR that is not before a LF stays */
    assert_non_null(strstr(out, "lone \\r in"));
    /* NUL and invalid UTF-8 are kept (JSON-escaped here) */
    assert_non_null(strstr(out, "nul\\u0000byte \\ufffd\\ufffd bad utf8"));
    assert_chunking_invariant(text, sizeof(text) - 1, 0);
}

static void
test_truncated_last_line(void **state)
{
    static const char text[] =
        "2026-11-25 17:25:36.065+0000: 1: info : one\n"
        "2026-11-25 17:25:36.066+0000: 1: info : unterminated";
    AUTOFREE char *out = split(text, sizeof(text) - 1, sizeof(text) - 1, 0, 0);

    (void)state;
    assert_non_null(strstr(out, "HEAD ts=1 start=44 end=96 line=2 n=1 len=52 full=52\n"
                                "\"2026-11-25 17:25:36.066+0000: 1: info : unterminated\""));
    assert_non_null(strstr(out, "REC ts=1 start=44 end=96 line=2"));
    assert_chunking_invariant(text, sizeof(text) - 1, 0);
}

static void
test_orphans_and_empty(void **state)
{
    static const char text[] =
        "tail of a record\n"
        "\n"
        "more\n"
        "2026-11-25 17:25:36.065+0000: 1: info : first\n"
        "\n"
        "\n";
    AUTOFREE char *out = split(text, sizeof(text) - 1, sizeof(text) - 1, 0, 0);
    AUTOFREE char *none = split("", 0, 1, 0, 0);

    (void)state;
    /* leading lines form one record without timestamp */
    assert_non_null(strstr(out, "REC ts=0 start=0 end=23 line=1 n=3 len=22 full=22\n"
                                "\"tail of a record\\n\\nmore\""));
    /* empty lines after a record are its continuation lines */
    assert_non_null(strstr(out, "REC ts=1 start=23 end=71 line=4 n=3"));
    assert_string_equal(none, "END offset=0 pending=0\n");
    assert_chunking_invariant(text, sizeof(text) - 1, 0);
}

/* A huge line between two records: bounded memory, the next record intact. */
static void
huge_line_case(size_t huge)
{
    static const char a[] = "2026-11-25 17:25:36.065+0000: 1: info : before\n";
    static const char b[] = "2026-11-25 17:25:36.067+0000: 1: info : after\n";
    static const char huge_head[] = "2026-11-25 17:25:36.066+0000: 1: debug : f:1 : Line [";
    static const char tail[] = "]\n continuation of the huge one\n";
    struct strbuf in = STRBUF_INIT;
    AUTOFREE char *data = NULL;
    AUTOFREE char *out = NULL;
    AUTOFREE char *expect = NULL;
    size_t len = 0;

    strbuf_addstr(&in, a);
    strbuf_addstr(&in, huge_head);
    for (size_t i = 0; i < huge; i++)
        strbuf_addch(&in, (char)('a' + i % 26));
    strbuf_addstr(&in, tail);
    strbuf_addstr(&in, b);
    data = strbuf_detach(&in, &len);
    out = split(data, len, 1 << 20, 0, 0);
    expect = xasprintf("REC ts=1 start=47 end=%zu line=2 n=2 len=65536 full=%zu trunc\n",
                       len - (sizeof(b) - 1),
                       (sizeof(huge_head) - 1) + huge + (sizeof(tail) - 1) - 1);
    assert_non_null(strstr(out, expect));
    assert_non_null(strstr(out, "line=4 n=1 len=45 full=45\n"
                                "\"2026-11-25 17:25:36.067+0000: 1: info : after\""));
    {
        AUTOFREE char *small = split(data, len, 4096, 0, 0);
        AUTOFREE char *odd = split(data, len, 65537, 0, 0);

        assert_string_equal(out, small);
        assert_string_equal(out, odd);
    }
}

static void
test_huge_lines(void **state)
{
    (void)state;
    huge_line_case(1u << 20);
    huge_line_case(10u << 20);
}

static void
test_small_cap(void **state)
{
    static const char text[] =
        "2026-11-25 17:25:36.065+0000: 1: info : a message that is longer than"
        " one hundred and twenty eight bytes so the cap of the splitter cuts it"
        " somewhere in the middle\n"
        " plus a continuation line\r\n"
        "2026-11-25 17:25:36.066+0000: 1: info : next\n";

    (void)state;
    assert_chunking_invariant(text, sizeof(text) - 1, 1);
    {
        AUTOFREE char *out = split(text, sizeof(text) - 1, 5, 0, 1);

        assert_non_null(strstr(out, "REC ts=1 start=0 end=191 line=1 n=2 len=128 full=189 trunc"));
    }
}

static void
test_pending_and_resume(void **state)
{
    static const char text[] =
        "2026-11-25 17:25:36.065+0000: 1: info : one\n"
        "2026-11-25 17:25:36.066+0000: 1: info : two\n"
        " cont\n"
        "2026-11-25 17:25:36.0";
    struct strbuf out = STRBUF_INIT;
    struct logrec_splitter *sp = logrec_new(0, dump_cb, &out);

    (void)state;
    logrec_feed(sp, text, 44);
    /* "one" is complete as a line but not as a record yet */
    assert_int_equal(logrec_pending_offset(sp), 0);
    assert_int_equal(logrec_pending_line(sp), 1);
    logrec_feed(sp, text + 44, sizeof(text) - 1 - 44);
    /* "two" + continuation is still open: the partial third line may be a timestamp */
    assert_int_equal(logrec_pending_offset(sp), 44);
    assert_int_equal(logrec_pending_line(sp), 2);
    assert_int_equal(logrec_offset(sp), sizeof(text) - 1);

    /* resume at the pending record: same records, same line numbers */
    strbuf_reset(&out);
    logrec_set_position(sp, 44, 2);
    logrec_feed(sp, text + 44, sizeof(text) - 1 - 44);
    logrec_feed(sp, "65+0000: 1: info : three\n", 25);
    logrec_finish(sp);
    assert_non_null(strstr(strbuf_str(&out), "REC ts=1 start=44 end=94 line=2 n=2"));
    assert_non_null(strstr(strbuf_str(&out), "REC ts=1 start=94 end=140 line=4 n=1"));
    assert_int_equal(logrec_pending_offset(sp), 140);
    logrec_free(sp);
    strbuf_release(&out);
}

static void
test_garbage(void **state)
{
    unsigned char junk[20000];

    (void)state;
    srand(42);
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (unsigned char)rand();
    /* sprinkle newlines and timestamps */
    for (size_t i = 0; i + 40 < sizeof(junk); i += 997) {
        junk[i] = '\n';
        if (i % 2)
            memcpy(junk + i + 1, "2026-11-25 17:25:36.065+0000: ", 30);
    }
    assert_chunking_invariant((const char *)junk, sizeof(junk), 0);
    assert_chunking_invariant((const char *)junk, sizeof(junk), 128);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_records),
        cmocka_unit_test(test_timestamp_kinds),
        cmocka_unit_test(test_corpus_chunking),
        cmocka_unit_test(test_crlf_nul_utf8),
        cmocka_unit_test(test_truncated_last_line),
        cmocka_unit_test(test_orphans_and_empty),
        cmocka_unit_test(test_huge_lines),
        cmocka_unit_test(test_small_cap),
        cmocka_unit_test(test_pending_and_resume),
        cmocka_unit_test(test_garbage),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
