/*
 * tailstate.c: format and parse the follower's position-state file.
 * Pure code: no I/O, no logging (see tailstate.h for the format).
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "strbuf.h"
#include "tailstate.h"
#include "xalloc.h"

#define CHECKSUM_KEY "checksum "

uint64_t
tailstate_hash(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

struct tailstate *
tailstate_new(void)
{
    return xcalloc(1, sizeof(struct tailstate));
}

void
tailstate_free(struct tailstate *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->nwatch; i++)
        free(st->watch[i]);
    free(st->watch);
    for (size_t i = 0; i < st->nfiles; i++)
        free(st->files[i].path);
    free(st->files);
    for (size_t i = 0; i < st->nanchors; i++)
        free(st->anchors[i].path);
    free(st->anchors);
    free(st->blob);
    free(st);
}

void
tailstate_add_watch(struct tailstate *st, const char *pattern)
{
    st->watch = xreallocarray(st->watch, st->nwatch + 1, sizeof(*st->watch));
    st->watch[st->nwatch++] = xstrdup(pattern);
}

void
tailstate_add_file(struct tailstate *st, const struct tailstate_file *f)
{
    struct tailstate_file *copy;

    st->files = xreallocarray(st->files, st->nfiles + 1, sizeof(*st->files));
    copy = &st->files[st->nfiles++];
    *copy = *f;
    copy->path = xstrdup(f->path);
}

void
tailstate_add_anchor(struct tailstate *st, const char *path, const struct tailstate_btime *btime)
{
    struct tailstate_anchor *a;

    st->anchors = xreallocarray(st->anchors, st->nanchors + 1, sizeof(*st->anchors));
    a = &st->anchors[st->nanchors++];
    a->path = xstrdup(path);
    a->btime = *btime;
}

bool
tailstate_has_watch(const struct tailstate *st, const char *pattern)
{
    for (size_t i = 0; i < st->nwatch; i++) {
        if (strcmp(st->watch[i], pattern) == 0)
            return true;
    }
    return false;
}

/* Percent-escape so a path is one blank-free token on one line. */
static void
add_escaped(struct strbuf *sb, const char *s)
{
    strbuf_add_pct(sb, s, strlen(s));
}

static void
add_btime(struct strbuf *sb, const struct tailstate_btime *b)
{
    if (b->known)
        strbuf_addf(sb, "%lld.%09u", (long long)b->sec, b->nsec);
    else
        strbuf_addch(sb, '-');
}

char *
tailstate_format(const struct tailstate *st, size_t *out_len)
{
    struct strbuf sb = STRBUF_INIT;
    uint64_t sum;

    strbuf_addstr(&sb, "# pvpanic tail state: written atomically by the follower, do not edit\n");
    strbuf_addf(&sb, "version %d\n", TAILSTATE_VERSION);
    strbuf_addf(&sb, "saved %lld\n", (long long)st->saved_at);
    for (size_t i = 0; i < st->nwatch; i++) {
        strbuf_addstr(&sb, "watch ");
        add_escaped(&sb, st->watch[i]);
        strbuf_addch(&sb, '\n');
    }
    for (size_t i = 0; i < st->nfiles; i++) {
        const struct tailstate_file *f = &st->files[i];

        strbuf_addf(&sb, "file %s %llu %llu %llu %u:%016llx %u:%016llx ",
                    f->role == TAILSTATE_ROTATED ? "rotated" : "active",
                    (unsigned long long)f->dev, (unsigned long long)f->ino,
                    (unsigned long long)f->offset,
                    f->head_len, (unsigned long long)f->head_hash,
                    f->mark_len, (unsigned long long)f->mark_hash);
        add_btime(&sb, &f->btime);
        strbuf_addf(&sb, " %lld ", (long long)f->rotated_ms);
        add_escaped(&sb, f->path);
        strbuf_addch(&sb, '\n');
    }
    for (size_t i = 0; i < st->nanchors; i++) {
        strbuf_addstr(&sb, "anchor ");
        add_btime(&sb, &st->anchors[i].btime);
        strbuf_addch(&sb, ' ');
        add_escaped(&sb, st->anchors[i].path);
        strbuf_addch(&sb, '\n');
    }
    strbuf_addf(&sb, "blob %zu\n", st->blob_len);
    if (st->blob_len > 0)
        strbuf_add(&sb, st->blob, st->blob_len);
    strbuf_addch(&sb, '\n');
    sum = tailstate_hash(sb.buf, sb.len);
    strbuf_addf(&sb, CHECKSUM_KEY "%016llx\n", (unsigned long long)sum);
    return strbuf_detach(&sb, out_len);
}

/* ---- parsing ---- */

struct cursor {
    const char *p;
    const char *end;
    unsigned int line;
};

static int __attribute__((format(printf, 3, 4)))
parse_error(char **errmsg, int rc, const char *fmt, ...)
{
    va_list ap;

    if (errmsg) {
        va_start(ap, fmt);
        *errmsg = xvasprintf(fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Strict decimal: digits only, no sign, no overflow. */
static bool
parse_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;

    if (n == 0 || n > 20)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* Exactly 16 hex digits. */
static bool
parse_hex64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;

    if (n != 16)
        return false;
    for (size_t i = 0; i < n; i++) {
        int d = hex_digit_value(s[i]);

        if (d < 0)
            return false;
        v = (v << 4) | (uint64_t)d;
    }
    *out = v;
    return true;
}

/* "LEN:HASH" with LEN <= @max. */
static bool
parse_fingerprint(const char *s, size_t n, uint32_t max, uint32_t *len, uint64_t *hash)
{
    const char *colon = memchr(s, ':', n);
    uint64_t l;

    if (!colon || !parse_u64(s, (size_t)(colon - s), &l) || l > max)
        return false;
    if (!parse_hex64(colon + 1, n - (size_t)(colon + 1 - s), hash))
        return false;
    *len = (uint32_t)l;
    return true;
}

/* "-" or "SEC.NSEC" (1 to 9 fraction digits, as written: exactly 9). */
static bool
parse_btime(const char *s, size_t n, struct tailstate_btime *out)
{
    const char *dot = memchr(s, '.', n);
    uint64_t sec;
    uint64_t nsec;

    if (n == 1 && s[0] == '-') {
        memset(out, 0, sizeof(*out));
        return true;
    }
    if (!dot || !parse_u64(s, (size_t)(dot - s), &sec) || sec > (uint64_t)INT64_MAX)
        return false;
    n -= (size_t)(dot + 1 - s);
    if (n == 0 || n > 9 || !parse_u64(dot + 1, n, &nsec))
        return false;
    for (; n < 9; n++)
        nsec *= 10;
    out->sec = (int64_t)sec;
    out->nsec = (uint32_t)nsec;
    out->known = true;
    return true;
}

/* Undo add_escaped(); refuses empty, NUL, bad escapes and raw blanks. */
static char *
unescape(const char *s, size_t n)
{
    size_t len = 0;
    char *out = n > 0 ? pct_unescape(s, n, &len) : NULL;

    if (out && (len == 0 || memchr(out, '\0', len))) {
        free(out);
        return NULL;
    }
    return out;
}

/* Split one line into at most @max blank-separated tokens. */
static size_t
split_tokens(const char *s, size_t n, const char **tok, size_t *toklen, size_t max)
{
    size_t count = 0;
    size_t i = 0;

    while (i < n && count < max) {
        size_t start;

        while (i < n && s[i] == ' ')
            i++;
        if (i >= n)
            break;
        start = i;
        while (i < n && s[i] != ' ')
            i++;
        tok[count] = s + start;
        toklen[count] = i - start;
        count++;
    }
    while (i < n && s[i] == ' ')
        i++;
    return i < n ? max + 1 : count;
}

static bool
token_is(const char *tok, size_t len, const char *word)
{
    return len == strlen(word) && memcmp(tok, word, len) == 0;
}

static int
parse_file_line(struct tailstate *st, const char **tok, const size_t *toklen,
                size_t ntok, unsigned int line, char **errmsg)
{
    struct tailstate_file f = { 0 };
    AUTOFREE char *path = NULL;

    uint64_t rotated;

    if (ntok != 10)
        return parse_error(errmsg, -EINVAL, "line %u: 'file' needs 9 fields", line);
    if (token_is(tok[1], toklen[1], "active"))
        f.role = TAILSTATE_ACTIVE;
    else if (token_is(tok[1], toklen[1], "rotated"))
        f.role = TAILSTATE_ROTATED;
    else
        return parse_error(errmsg, -EINVAL, "line %u: unknown file role", line);
    if (!parse_u64(tok[2], toklen[2], &f.dev) || !parse_u64(tok[3], toklen[3], &f.ino) ||
        !parse_u64(tok[4], toklen[4], &f.offset) || f.offset > (uint64_t)INT64_MAX)
        return parse_error(errmsg, -EINVAL, "line %u: bad device, inode or offset", line);
    if (!parse_fingerprint(tok[5], toklen[5], TAILSTATE_HEAD_MAX, &f.head_len, &f.head_hash) ||
        !parse_fingerprint(tok[6], toklen[6], TAILSTATE_MARK_MAX, &f.mark_len, &f.mark_hash))
        return parse_error(errmsg, -EINVAL, "line %u: bad fingerprint", line);
    if (f.mark_len > f.offset)
        return parse_error(errmsg, -EINVAL, "line %u: marker longer than offset", line);
    if (!parse_btime(tok[7], toklen[7], &f.btime))
        return parse_error(errmsg, -EINVAL, "line %u: bad birth time", line);
    if (!parse_u64(tok[8], toklen[8], &rotated) || rotated > (uint64_t)INT64_MAX ||
        (rotated == 0) != (f.role == TAILSTATE_ACTIVE))
        return parse_error(errmsg, -EINVAL, "line %u: bad rotation time", line);
    f.rotated_ms = (int64_t)rotated;
    path = unescape(tok[9], toklen[9]);
    if (!path)
        return parse_error(errmsg, -EINVAL, "line %u: bad path", line);
    if (st->nfiles >= TAILSTATE_MAX_FILES)
        return parse_error(errmsg, -EINVAL, "line %u: too many files", line);
    f.path = path;
    tailstate_add_file(st, &f);
    return 0;
}

int
tailstate_parse(const char *text, size_t len, struct tailstate **out, char **errmsg)
{
    struct tailstate *st = NULL;
    const char *body_end;
    const char *p;
    uint64_t want;
    uint64_t version = 0;
    bool have_blob = false;
    unsigned int line = 0;
    int rc = 0;

    if (errmsg)
        *errmsg = NULL;
    if (len == 0)
        return parse_error(errmsg, -EINVAL, "empty file");
    if (len > TAILSTATE_MAX_SIZE)
        return parse_error(errmsg, -EINVAL, "file too large");
    if (text[len - 1] != '\n')
        return parse_error(errmsg, -EINVAL, "truncated (no final newline)");
    /* The checksum line is the last line; the blob may contain anything. */
    body_end = text + len - 1;
    while (body_end > text && body_end[-1] != '\n')
        body_end--;
    if ((size_t)(text + len - body_end) != sizeof(CHECKSUM_KEY) - 1 + 16 + 1 ||
        memcmp(body_end, CHECKSUM_KEY, sizeof(CHECKSUM_KEY) - 1) != 0 ||
        !parse_hex64(body_end + sizeof(CHECKSUM_KEY) - 1, 16, &want))
        return parse_error(errmsg, -EINVAL, "truncated (no checksum line)");
    if (tailstate_hash(text, (size_t)(body_end - text)) != want)
        return parse_error(errmsg, -EINVAL, "checksum mismatch");

    st = tailstate_new();
    p = text;
    while (p < body_end && rc == 0) {
        const char *nl = memchr(p, '\n', (size_t)(body_end - p));
        const char *tok[11];
        size_t toklen[11];
        size_t n;
        size_t ntok;

        line++;
        if (!nl) {
            rc = parse_error(errmsg, -EINVAL, "line %u: unterminated", line);
            break;
        }
        n = (size_t)(nl - p);
        if (n == 0 || p[0] == '#') {
            p = nl + 1;
            continue;
        }
        ntok = split_tokens(p, n, tok, toklen, 10);
        if (ntok == 0 || ntok > 10) {
            rc = parse_error(errmsg, -EINVAL, "line %u: malformed", line);
            break;
        }
        if (version == 0 && !token_is(tok[0], toklen[0], "version")) {
            rc = parse_error(errmsg, -EINVAL, "line %u: expected 'version'", line);
            break;
        }
        if (token_is(tok[0], toklen[0], "version")) {
            if (version != 0 || ntok != 2 || !parse_u64(tok[1], toklen[1], &version) ||
                version == 0) {
                rc = parse_error(errmsg, -EINVAL, "line %u: bad version line", line);
                break;
            }
            if (version != TAILSTATE_VERSION) {
                rc = parse_error(errmsg, -ENOTSUP,
                                 "line %u: version %llu is not supported (this reader knows %d)",
                                 line, (unsigned long long)version, TAILSTATE_VERSION);
                break;
            }
        } else if (token_is(tok[0], toklen[0], "saved")) {
            uint64_t t;

            if (ntok != 2 || !parse_u64(tok[1], toklen[1], &t) || t > (uint64_t)INT64_MAX) {
                rc = parse_error(errmsg, -EINVAL, "line %u: bad 'saved' line", line);
                break;
            }
            st->saved_at = (int64_t)t;
        } else if (token_is(tok[0], toklen[0], "watch")) {
            char *pat = ntok == 2 ? unescape(tok[1], toklen[1]) : NULL;

            if (!pat || st->nwatch >= TAILSTATE_MAX_WATCH) {
                free(pat);
                rc = parse_error(errmsg, -EINVAL, "line %u: bad 'watch' line", line);
                break;
            }
            st->watch = xreallocarray(st->watch, st->nwatch + 1, sizeof(*st->watch));
            st->watch[st->nwatch++] = pat;
        } else if (token_is(tok[0], toklen[0], "file")) {
            rc = parse_file_line(st, tok, toklen, ntok, line, errmsg);
        } else if (token_is(tok[0], toklen[0], "anchor")) {
            struct tailstate_btime bt;
            AUTOFREE char *path = ntok == 3 ? unescape(tok[2], toklen[2]) : NULL;

            if (!path || !parse_btime(tok[1], toklen[1], &bt) || !bt.known ||
                st->nanchors >= TAILSTATE_MAX_ANCHORS) {
                rc = parse_error(errmsg, -EINVAL, "line %u: bad 'anchor' line", line);
                break;
            }
            tailstate_add_anchor(st, path, &bt);
        } else if (token_is(tok[0], toklen[0], "blob")) {
            uint64_t blen;
            const char *data = nl + 1;

            if (have_blob || ntok != 2 || !parse_u64(tok[1], toklen[1], &blen) ||
                blen > TAILSTATE_MAX_BLOB) {
                rc = parse_error(errmsg, -EINVAL, "line %u: bad 'blob' line", line);
                break;
            }
            /* Raw bytes, then one newline, all inside the checksummed body. */
            if ((uint64_t)(body_end - data) < blen + 1 || data[blen] != '\n') {
                rc = parse_error(errmsg, -EINVAL, "line %u: blob is truncated", line);
                break;
            }
            have_blob = true;
            if (blen > 0) {
                st->blob = xmemdup(data, (size_t)blen);
                st->blob_len = (size_t)blen;
            }
            nl = data + blen;
        }
        /* Any other keyword: an additive extension of this version, skipped. */
        p = nl + 1;
    }
    if (rc == 0 && version == 0)
        rc = parse_error(errmsg, -EINVAL, "no 'version' line");
    if (rc == 0 && !have_blob)
        rc = parse_error(errmsg, -EINVAL, "no 'blob' line");
    if (rc < 0) {
        tailstate_free(st);
        return rc;
    }
    *out = st;
    return 0;
}
