/*
 * test_tailstate: the position-state file format. Round trips, every
 * truncation and bit flip of a valid file, hand-made bad lines, and random
 * garbage (raw, and mutated with a recomputed checksum so the line parser
 * itself is exercised).
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

#include "cleanup.h"
#include "strbuf.h"
#include "tailstate.h"
#include "xalloc.h"

static const char blob_bytes[] = "resolver\0state\nchecksum 0000000000000000\n\xff";

static struct tailstate *
sample_state(void)
{
    struct tailstate *st = tailstate_new();
    struct tailstate_file f = {
        .path = (char *)"/var/log/libvirt/libvirtd.log",
        .role = TAILSTATE_ACTIVE,
        .dev = 2049, .ino = 131081, .offset = 5368709120ULL,   /* > 4 GiB */
        .head_len = 64, .head_hash = 0x9ae16a3b2f90404fULL,
        .mark_len = 32, .mark_hash = 0x0c1b7dbe2f5e0a11ULL,
        .btime = { .sec = 1727713000, .nsec = 123456789, .known = true },
        .rotated_ms = 0,
    };
    struct tailstate_file g = {
        .path = (char *)"/tmp/odd dir/x%y\n\x01\xc3\xa9.log",
        .role = TAILSTATE_ROTATED,
        .dev = UINT64_MAX, .ino = 0, .offset = 0,
        .head_len = 0, .head_hash = 0, .mark_len = 0, .mark_hash = UINT64_MAX,
        .btime = { .known = false },
        .rotated_ms = 1727713840250,
    };
    struct tailstate_btime anchor = { .sec = 5, .nsec = 7, .known = true };

    st->saved_at = 1727713849;
    tailstate_add_watch(st, "/var/log/libvirt/libvirtd.log");
    tailstate_add_watch(st, "/var/log/libvirt/qemu/*.log");
    tailstate_add_file(st, &f);
    tailstate_add_file(st, &g);
    tailstate_add_anchor(st, "/var/log/libvirt/qemu/vm 1.log", &anchor);
    st->blob = xmemdup(blob_bytes, sizeof(blob_bytes));
    st->blob_len = sizeof(blob_bytes);
    return st;
}

static void
assert_same_state(const struct tailstate *a, const struct tailstate *b)
{
    assert_int_equal(a->saved_at, b->saved_at);
    assert_int_equal(a->nwatch, b->nwatch);
    for (size_t i = 0; i < a->nwatch; i++)
        assert_string_equal(a->watch[i], b->watch[i]);
    assert_int_equal(a->nfiles, b->nfiles);
    for (size_t i = 0; i < a->nfiles; i++) {
        const struct tailstate_file *x = &a->files[i];
        const struct tailstate_file *y = &b->files[i];

        assert_string_equal(x->path, y->path);
        assert_int_equal(x->role, y->role);
        assert_true(x->dev == y->dev);
        assert_true(x->ino == y->ino);
        assert_true(x->offset == y->offset);
        assert_int_equal(x->head_len, y->head_len);
        assert_true(x->head_hash == y->head_hash);
        assert_int_equal(x->mark_len, y->mark_len);
        assert_true(x->mark_hash == y->mark_hash);
        assert_int_equal(x->btime.known, y->btime.known);
        assert_true(x->btime.sec == y->btime.sec);
        assert_int_equal(x->btime.nsec, y->btime.nsec);
        assert_true(x->rotated_ms == y->rotated_ms);
    }
    assert_int_equal(a->nanchors, b->nanchors);
    for (size_t i = 0; i < a->nanchors; i++) {
        assert_string_equal(a->anchors[i].path, b->anchors[i].path);
        assert_true(a->anchors[i].btime.sec == b->anchors[i].btime.sec);
        assert_int_equal(a->anchors[i].btime.nsec, b->anchors[i].btime.nsec);
    }
    assert_int_equal(a->blob_len, b->blob_len);
    if (a->blob_len)
        assert_memory_equal(a->blob, b->blob, a->blob_len);
}

/* @body + a correct checksum line (for hand-made files). */
static char *
with_checksum(const char *body, size_t len, size_t *out_len)
{
    struct strbuf sb = STRBUF_INIT;

    strbuf_add(&sb, body, len);
    strbuf_addf(&sb, "checksum %016llx\n", (unsigned long long)tailstate_hash(body, len));
    return strbuf_detach(&sb, out_len);
}

static int
parse_body(const char *body, char **err)
{
    size_t len = 0;
    AUTOFREE char *text = with_checksum(body, strlen(body), &len);
    struct tailstate *st = NULL;
    int rc = tailstate_parse(text, len, &st, err);

    tailstate_free(st);
    return rc;
}

static void
test_hash(void **state)
{
    (void)state;
    /* Published FNV-1a 64 test vectors. */
    assert_true(tailstate_hash("", 0) == 0xcbf29ce484222325ULL);
    assert_true(tailstate_hash("a", 1) == 0xaf63dc4c8601ec8cULL);
    assert_true(tailstate_hash("foobar", 6) == 0x85944171f73967e8ULL);
}

static void
test_roundtrip(void **state)
{
    struct tailstate *st = sample_state();
    struct tailstate *back = NULL;
    AUTOFREE char *text = NULL;
    AUTOFREE char *again = NULL;
    char *err = NULL;
    size_t len = 0;
    size_t len2 = 0;

    (void)state;
    text = tailstate_format(st, &len);
    assert_int_equal(tailstate_parse(text, len, &back, &err), 0);
    assert_null(err);
    assert_same_state(st, back);
    assert_true(tailstate_has_watch(back, "/var/log/libvirt/qemu/*.log"));
    assert_false(tailstate_has_watch(back, "/var/log/libvirt/qemu"));
    /* Formatting what was parsed gives the same bytes. */
    again = tailstate_format(back, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(text, again, len);
    /* Escaped path is one token on one line. */
    assert_non_null(strstr(text, "/tmp/odd%20dir/x%25y%0a%01%c3%a9.log\n"));
    tailstate_free(st);
    tailstate_free(back);
}

static void
test_empty_state(void **state)
{
    struct tailstate *st = tailstate_new();
    struct tailstate *back = NULL;
    AUTOFREE char *text = NULL;
    size_t len = 0;

    (void)state;
    text = tailstate_format(st, &len);
    assert_int_equal(tailstate_parse(text, len, &back, NULL), 0);
    assert_int_equal(back->nfiles, 0);
    assert_int_equal(back->nwatch, 0);
    assert_null(back->blob);
    assert_int_equal(back->blob_len, 0);
    tailstate_free(st);
    tailstate_free(back);
}

/* A torn write at any length, and any single flipped byte, is refused. */
static void
test_truncations_and_flips(void **state)
{
    struct tailstate *st = sample_state();
    AUTOFREE char *text = NULL;
    size_t len = 0;

    (void)state;
    text = tailstate_format(st, &len);
    for (size_t cut = 0; cut < len; cut++) {
        struct tailstate *back = NULL;
        char *err = NULL;
        int rc = tailstate_parse(text, cut, &back, &err);

        assert_int_equal(rc, -EINVAL);
        assert_null(back);
        assert_non_null(err);
        free(err);
    }
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            struct tailstate *back = NULL;
            char *err = NULL;

            text[i] ^= (char)(1 << bit);
            assert_true(tailstate_parse(text, len, &back, &err) < 0);
            assert_null(back);
            free(err);
            text[i] ^= (char)(1 << bit);
        }
    }
    tailstate_free(st);
}

static void
test_bad_lines(void **state)
{
    static const struct {
        const char *body;
        int rc;
        const char *msg;
    } cases[] = {
        { "version 2\nblob 0\n\n", -ENOTSUP, "version 2 is not supported" },
        { "version 99999999999999999999\nblob 0\n\n", -EINVAL, "bad version" },
        { "blob 0\n\n", -EINVAL, "expected 'version'" },
        { "version 1\n", -EINVAL, "no 'blob' line" },
        { "# only a comment\n", -EINVAL, "no 'version' line" },
        { "version 1\nversion 1\nblob 0\n\n", -EINVAL, "bad version" },
        { "version 1\nblob 0\n\nblob 0\n\n", -EINVAL, "bad 'blob'" },
        { "version 1\nblob 5\nabc\n", -EINVAL, "blob is truncated" },
        { "version 1\nblob 3\nabcd\n", -EINVAL, "blob is truncated" },
        { "version 1\nblob 99999999999\n\n", -EINVAL, "bad 'blob'" },
        { "version 1\nblob -1\n\n", -EINVAL, "bad 'blob'" },
        { "version 1\nsaved x\nblob 0\n\n", -EINVAL, "bad 'saved'" },
        { "version 1\nwatch\nblob 0\n\n", -EINVAL, "bad 'watch'" },
        { "version 1\nwatch /a%zz\nblob 0\n\n", -EINVAL, "bad 'watch'" },
        { "version 1\nwatch /a%00b\nblob 0\n\n", -EINVAL, "bad 'watch'" },
        { "version 1\nwatch /a%4\nblob 0\n\n", -EINVAL, "bad 'watch'" },
        { "version 1\nfile active 1 2 3 0:0000000000000000 0:0000000000000000 - 0\nblob 0\n\n",
          -EINVAL, "needs 9 fields" },
        { "version 1\nfile moved 1 2 3 0:0000000000000000 0:0000000000000000 - 0 /a\nblob 0\n\n",
          -EINVAL, "unknown file role" },
        { "version 1\nfile active 1 -2 3 0:0000000000000000 0:0000000000000000 - 0 /a\nblob 0\n\n",
          -EINVAL, "bad device" },
        { "version 1\nfile active 1 2 18446744073709551616 0:0000000000000000 0:0000000000000000 - 0 /a\n"
          "blob 0\n\n", -EINVAL, "bad device" },
        { "version 1\nfile active 1 2 9223372036854775808 0:0000000000000000 0:0000000000000000 - 0 /a\n"
          "blob 0\n\n", -EINVAL, "bad device" },
        { "version 1\nfile active 1 2 3 65:0000000000000000 0:0000000000000000 - 0 /a\nblob 0\n\n",
          -EINVAL, "bad fingerprint" },
        { "version 1\nfile active 1 2 3 1:000000000000000 0:0000000000000000 - 0 /a\nblob 0\n\n",
          -EINVAL, "bad fingerprint" },
        { "version 1\nfile active 1 2 3 1:000000000000000g 0:0000000000000000 - 0 /a\nblob 0\n\n",
          -EINVAL, "bad fingerprint" },
        { "version 1\nfile active 1 2 3 0:0000000000000000 4:0000000000000000 - 0 /a\nblob 0\n\n",
          -EINVAL, "marker longer than offset" },
        { "version 1\nfile active 1 2 3 0:0000000000000000 0:0000000000000000 - 0 /a b\nblob 0\n\n",
          -EINVAL, "malformed" },
        { "version 1\nfile active 1 2 3 0:0000000000000000 0:0000000000000000 - 0 /a\tb\nblob 0\n\n",
          -EINVAL, "bad path" },
        { "version 1\nfile active 1 2 3 0:0000000000000000 0:0000000000000000 1. 0 /a\nblob 0\n\n",
          -EINVAL, "bad birth time" },
        { "version 1\nfile active 1 2 3 0:0000000000000000 0:0000000000000000 x.1 0 /a\nblob 0\n\n",
          -EINVAL, "bad birth time" },
        { "version 1\nfile active 1 2 3 0:0000000000000000 0:0000000000000000 1.1234567890 0 /a\n"
          "blob 0\n\n", -EINVAL, "bad birth time" },
        { "version 1\nfile rotated 1 2 3 0:0000000000000000 0:0000000000000000 - 0 /a\nblob 0\n\n",
          -EINVAL, "bad rotation time" },
        { "version 1\nfile active 1 2 3 0:0000000000000000 0:0000000000000000 - 5 /a\nblob 0\n\n",
          -EINVAL, "bad rotation time" },
        { "version 1\nanchor - /a\nblob 0\n\n", -EINVAL, "bad 'anchor'" },
        { "version 1\nanchor 1.0\nblob 0\n\n", -EINVAL, "bad 'anchor'" },
        { "version 1\nthis line has far too many tokens to be any known line at all\n"
          "blob 0\n\n", -EINVAL, "malformed" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *err = NULL;
        int rc = parse_body(cases[i].body, &err);

        if (rc != cases[i].rc || !err || !strstr(err, cases[i].msg))
            fail_msg("case %zu: rc %d err '%s', want %d '%s'", i, rc, err ? err : "(null)",
                     cases[i].rc, cases[i].msg);
        free(err);
    }
}

/* Version-1 readers skip keywords they do not know (additive extensions). */
static void
test_unknown_keyword_skipped(void **state)
{
    static const char body[] =
        "# comment\n\nversion 1\nfuture-thing a b c\n"
        "file rotated 7 8 100 3:0000000000000001 32:0000000000000002 12.5 99 /x/y.log\n"
        "blob 2\nhi\n";
    size_t len = 0;
    AUTOFREE char *text = with_checksum(body, sizeof(body) - 1, &len);
    struct tailstate *st = NULL;

    (void)state;
    assert_int_equal(tailstate_parse(text, len, &st, NULL), 0);
    assert_int_equal(st->nfiles, 1);
    assert_int_equal(st->files[0].role, TAILSTATE_ROTATED);
    assert_true(st->files[0].offset == 100);
    assert_string_equal(st->files[0].path, "/x/y.log");
    assert_true(st->files[0].btime.known && st->files[0].btime.sec == 12);
    assert_int_equal(st->files[0].btime.nsec, 500000000);
    assert_true(st->files[0].rotated_ms == 99);
    assert_int_equal(st->blob_len, 2);
    assert_memory_equal(st->blob, "hi", 2);
    tailstate_free(st);
}

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint64_t
rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Garbage must give an error or a state, never a crash or an overread. */
static void
test_garbage(void **state)
{
    struct tailstate *st = sample_state();
    AUTOFREE char *valid = NULL;
    size_t vlen = 0;
    unsigned int accepted = 0;

    (void)state;
    valid = tailstate_format(st, &vlen);
    tailstate_free(st);
    for (int round = 0; round < 20000; round++) {
        size_t len = rng() % 600;
        /* Exactly @len bytes on the heap so ASan/valgrind see any overread. */
        AUTOFREE char *buf = xmalloc(len ? len : 1);
        AUTOFREE char *text = NULL;
        struct tailstate *out = NULL;
        size_t tlen = 0;
        char *err = NULL;
        int rc;

        if (round % 2 == 0) {
            for (size_t i = 0; i < len; i++)
                buf[i] = (char)(rng() % 4 ? "version 1\nfile blob ac0123456789:%/ \n"[rng() % 38]
                                          : (char)rng());
        } else {
            /* A valid body with a few bytes changed, then a fresh checksum. */
            size_t body = vlen - 26;

            len = body;
            free(buf);
            buf = xmemdup(valid, body);
            for (int k = 0; k < 1 + (int)(rng() % 4); k++)
                buf[rng() % body] = (char)(rng() % 3 ? "0123456789 \n%:x"[rng() % 16] : (char)rng());
        }
        text = with_checksum(buf, len, &tlen);
        rc = tailstate_parse(round % 4 == 0 ? buf : text, round % 4 == 0 ? len : tlen, &out, &err);
        if (rc == 0) {
            accepted++;
            assert_non_null(out);
            assert_null(err);
            for (size_t i = 0; i < out->nfiles; i++) {
                assert_true(out->files[i].mark_len <= TAILSTATE_MARK_MAX);
                assert_true(out->files[i].head_len <= TAILSTATE_HEAD_MAX);
                assert_true(out->files[i].mark_len <= out->files[i].offset);
            }
        } else {
            assert_null(out);
            assert_non_null(err);
        }
        tailstate_free(out);
        free(err);
    }
    /* Some mutations only touch numbers and stay valid: the parser was reached. */
    assert_true(accepted > 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_empty_state),
        cmocka_unit_test(test_truncations_and_flips),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_unknown_keyword_skipped),
        cmocka_unit_test(test_garbage),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
