/*
 * fuzz_tailstate: the tail follower's position-state file parser
 * (parser/tailstate.h) on arbitrary bytes.
 *
 * Input: byte 0 = flags, the rest = the file.
 *   flag 1: replace the last line by a correct "checksum" line first, so
 *           the fuzzer gets past the checksum into the line parser.
 *
 * Beyond "no crash, no leak, no UB": whatever parses must format and parse
 * back to the same text (format(parse(format(s))) == format(s)), every
 * path and pattern must be a non-empty NUL-free string, and the limits of
 * tailstate.h must hold.
 */
#include <config.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "tailstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* @text with its last line replaced by "checksum <FNV-1a of the rest>". */
static void
with_checksum(const char *text, size_t len, struct strbuf *out)
{
    size_t body = len;

    if (body > 0 && text[body - 1] == '\n')
        body--;
    while (body > 0 && text[body - 1] != '\n')
        body--;
    strbuf_add(out, text, body);
    strbuf_addf(out, "checksum %016llx\n",
                (unsigned long long)tailstate_hash(out->buf ? out->buf : "", out->len));
}

static void
check_state(const struct tailstate *st)
{
    if (st->nwatch > TAILSTATE_MAX_WATCH || st->nfiles > TAILSTATE_MAX_FILES ||
        st->nanchors > TAILSTATE_MAX_ANCHORS || st->blob_len > TAILSTATE_MAX_BLOB ||
        (st->blob_len > 0) != (st->blob != NULL))
        abort();
    for (size_t i = 0; i < st->nwatch; i++) {
        if (!st->watch[i][0] || !tailstate_has_watch(st, st->watch[i]))
            abort();
    }
    for (size_t i = 0; i < st->nfiles; i++) {
        const struct tailstate_file *f = &st->files[i];

        if (!f->path[0] || f->head_len > TAILSTATE_HEAD_MAX || f->mark_len > TAILSTATE_MARK_MAX ||
            f->mark_len > f->offset || (f->btime.known && f->btime.nsec >= 1000000000u) ||
            (f->role == TAILSTATE_ACTIVE) != (f->rotated_ms == 0) || f->rotated_ms < 0)
            abort();
    }
    for (size_t i = 0; i < st->nanchors; i++) {
        if (!st->anchors[i].path[0] || !st->anchors[i].btime.known ||
            st->anchors[i].btime.nsec >= 1000000000u)
            abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct strbuf fixed = STRBUF_INIT;
    struct tailstate *st = NULL;
    struct tailstate *again = NULL;
    char *err = NULL;
    const char *text;
    size_t len;
    char *out1;
    char *out2;
    size_t len1 = 0;
    size_t len2 = 0;
    int rc;

    if (size < 1)
        return 0;
    text = (const char *)data + 1;
    len = size - 1;
    if (data[0] & 1) {
        with_checksum(text, len, &fixed);
        text = fixed.buf;
        len = fixed.len;
    }
    rc = tailstate_parse(text, len, &st, &err);
    if (rc < 0) {
        /* a refusal always says why, and leaves nothing behind */
        if (!err || (rc != -EINVAL && rc != -ENOTSUP))
            abort();
        free(err);
        strbuf_release(&fixed);
        return 0;
    }
    if (err)
        abort();
    check_state(st);

    out1 = tailstate_format(st, &len1);
    if (tailstate_parse(out1, len1, &again, &err) != 0) {
        fprintf(stderr, "fuzz_tailstate: formatted state does not parse: %s\n%.*s", err,
                (int)len1, out1);
        abort();
    }
    check_state(again);
    out2 = tailstate_format(again, &len2);
    if (len1 != len2 || memcmp(out1, out2, len1) != 0) {
        fprintf(stderr, "fuzz_tailstate: format/parse/format differs:\n%.*s---\n%.*s", (int)len1,
                out1, (int)len2, out2);
        abort();
    }
    free(out1);
    free(out2);
    tailstate_free(again);
    tailstate_free(st);
    strbuf_release(&fixed);
    return 0;
}
