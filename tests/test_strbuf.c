/*
 * test_strbuf: the growable string and its escapers. JSON output must be
 * valid for any bytes a domain name or log line can hold.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "strbuf.h"

static void
test_grow_and_format(void **state)
{
    struct strbuf sb = STRBUF_INIT;
    char *p;
    size_t len = 0;

    (void)state;
    assert_string_equal(strbuf_str(&sb), "");
    for (int i = 0; i < 1000; i++)
        strbuf_addf(&sb, "%d,", i);
    assert_int_equal(sb.len, strlen(sb.buf));
    assert_memory_equal(sb.buf, "0,1,2,", 6);
    assert_memory_equal(sb.buf + sb.len - 4, "999,", 4);
    strbuf_reset(&sb);
    assert_int_equal(sb.len, 0);
    strbuf_addf(&sb, "%s", "x");
    p = strbuf_detach(&sb, &len);
    assert_string_equal(p, "x");
    assert_int_equal(len, 1);
    assert_null(sb.buf);
    free(p);
}

static void
check_json(const char *in, size_t len, const char *expected)
{
    struct strbuf sb = STRBUF_INIT;

    strbuf_add_json_str(&sb, in, len);
    assert_string_equal(sb.buf, expected);
    strbuf_release(&sb);
}

static void
test_json_escapes(void **state)
{
    (void)state;
    check_json("plain", 5, "\"plain\"");
    check_json("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
    check_json("n\nr\rt\t", 6, "\"n\\nr\\rt\\t\"");
    check_json("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\"");
    check_json("a\0b", 3, "\"a\\u0000b\"");
    check_json("x\"$(id)`x`", 10, "\"x\\\"$(id)`x`\"");
    /* valid UTF-8 passes through */
    check_json("\xe6\x95\xb0\xe6\x8d\xae\xe5\xba\x93-\xf0\x9f\x92\xa5", 14,
               "\"\xe6\x95\xb0\xe6\x8d\xae\xe5\xba\x93-\xf0\x9f\x92\xa5\"");
    /* invalid UTF-8: lone continuation, truncated sequence, overlong, surrogate */
    check_json("\x80", 1, "\"\\ufffd\"");
    check_json("\xe6\x95", 2, "\"\\ufffd\\ufffd\"");
    check_json("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");
    check_json("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");
    check_json("\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
}

static void
test_json_null(void **state)
{
    struct strbuf sb = STRBUF_INIT;

    (void)state;
    strbuf_add_json_strz(&sb, NULL);
    strbuf_addch(&sb, ',');
    strbuf_add_json_strz(&sb, "x");
    assert_string_equal(sb.buf, "null,\"x\"");
    strbuf_release(&sb);
}

static void
test_prom_label(void **state)
{
    struct strbuf sb = STRBUF_INIT;

    (void)state;
    strbuf_add_prom_label(&sb, "a\"b\\c\nd\xff", 8);
    assert_string_equal(sb.buf, "a\\\"b\\\\c\\nd\xef\xbf\xbd");
    strbuf_release(&sb);
}

static void
test_pct_escape(void **state)
{
    static const char raw[] = "a b%c\n\xff\"'()";
    struct strbuf sb = STRBUF_INIT;
    size_t len = 0;
    AUTOFREE char *back = NULL;
    AUTOFREE char *empty = NULL;

    (void)state;
    strbuf_add_pct(&sb, raw, sizeof(raw) - 1);
    assert_string_equal(sb.buf, "a%20b%25c%0a%ff\"'()");
    back = pct_unescape(sb.buf, sb.len, &len);
    assert_int_equal(len, sizeof(raw) - 1);
    assert_memory_equal(back, raw, len);
    strbuf_reset(&sb);
    strbuf_add_pct(&sb, "", 0);
    empty = pct_unescape(sb.buf, sb.len, &len);
    assert_int_equal(len, 0);
    assert_null(pct_unescape("%4", 2, &len));
    assert_null(pct_unescape("%zz", 3, &len));
    assert_null(pct_unescape("a b", 3, &len));
    assert_null(pct_unescape("ab%", 3, &len));
    assert_int_equal(hex_digit_value('F'), 15);
    assert_int_equal(hex_digit_value('g'), -1);
    strbuf_release(&sb);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grow_and_format),
        cmocka_unit_test(test_json_escapes),
        cmocka_unit_test(test_json_null),
        cmocka_unit_test(test_prom_label),
        cmocka_unit_test(test_pct_escape),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
