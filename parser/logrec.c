#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "logrec.h"
#include "xalloc.h"

/*
 * How the splitter works: lines are found with memchr; a line that lies
 * inside the chunk being fed is looked at in place. A record that is still
 * open when the chunk ends, or whose lines need a CR removed in the middle,
 * is copied into rec.buf (at most max_keep bytes). A line that spans
 * chunks is assembled in line.buf (also at most max_keep bytes). Every
 * decision depends only on complete lines, which is what makes the output
 * independent of the chunking.
 */

struct partial_line {
    bool active;
    char *buf;              /* max_keep bytes */
    size_t kept;
    uint64_t full;          /* bytes of the line seen so far */
    uint64_t start;         /* stream offset of its first byte */
    char last;              /* last byte seen (to drop a CR before LF) */
};

struct open_record {
    bool active;
    enum logrec_ts ts;
    uint64_t start;
    uint64_t end;
    uint64_t line;
    unsigned int nlines;
    uint64_t full_len;      /* joined text length, CRs before LF removed */
    /*
     * Either a view into the chunk being fed (view != NULL: the raw bytes
     * [view, view + full_len) are exactly the joined text) or the first
     * max_keep bytes copied into buf.
     */
    const char *view;
    char *buf;
    size_t kept;
    bool last_had_cr;       /* the last line ended in CR LF (view mode only) */
};

struct logrec_splitter {
    size_t max_keep;
    logrec_fn fn;
    void *opaque;
    uint64_t offset;        /* stream offset of the next byte fed */
    uint64_t lines_done;    /* complete lines so far (the next line is +1) */
    struct partial_line line;
    struct open_record rec;
};

struct logrec_splitter *
logrec_new(size_t max_keep, logrec_fn fn, void *opaque)
{
    struct logrec_splitter *sp = xcalloc(1, sizeof(*sp));

    if (max_keep == 0)
        max_keep = LOGREC_DEFAULT_MAX_KEEP;
    if (max_keep < LOGREC_MIN_KEEP)
        max_keep = LOGREC_MIN_KEEP;
    sp->max_keep = max_keep;
    sp->fn = fn;
    sp->opaque = opaque;
    sp->line.buf = xmalloc(max_keep);
    sp->rec.buf = xmalloc(max_keep);
    return sp;
}

void
logrec_free(struct logrec_splitter *sp)
{
    if (!sp)
        return;
    free(sp->line.buf);
    free(sp->rec.buf);
    free(sp);
}

static inline bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool
all_digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(p[i]))
            return false;
    }
    return true;
}

enum logrec_ts
logrec_timestamp_kind(const char *p, size_t len)
{
    /* Shared prefix "YYYY-MM-DD?HH:MM:SS" (19 bytes). */
    if (len < 20 || p[4] != '-' || p[7] != '-' || p[13] != ':' || p[16] != ':')
        return LOGREC_TS_NONE;
    if (!all_digits(p, 4) || !all_digits(p + 5, 2) || !all_digits(p + 8, 2) ||
        !all_digits(p + 11, 2) || !all_digits(p + 14, 2) || !all_digits(p + 17, 2))
        return LOGREC_TS_NONE;
    if (p[10] == ' ') {
        /* libvirt virTimeStringThenRaw(): ".mmm+0000" then ": " */
        if (len < 29 || p[19] != '.' || !all_digits(p + 20, 3) ||
            (p[23] != '+' && p[23] != '-') || !all_digits(p + 24, 4) || p[28] != ':')
            return LOGREC_TS_NONE;
        return LOGREC_TS_LIBVIRT;
    }
    if (p[10] == 'T') {
        /* QEMU error_report() with -msg timestamp=on: "...SS.uuuuuuZ " */
        size_t i = 19;

        if (p[i] == '.') {
            i++;
            while (i < len && i < 30 && is_digit(p[i]))
                i++;
        }
        if (i + 1 < len && p[i] == 'Z' && p[i + 1] == ' ')
            return LOGREC_TS_ISO;
        return LOGREC_TS_NONE;
    }
    return LOGREC_TS_NONE;
}

static void
deliver(struct logrec_splitter *sp, enum logrec_what what, const struct logrec *rec)
{
    sp->fn(what, rec, sp->opaque);
}

static void
record_complete(struct logrec_splitter *sp)
{
    struct open_record *r = &sp->rec;
    struct logrec out;

    if (!r->active)
        return;
    out.text = r->view ? r->view : r->buf;
    out.len = r->view ? (size_t)(r->full_len < sp->max_keep ? r->full_len : sp->max_keep) : r->kept;
    out.full_len = r->full_len;
    out.truncated = r->full_len > out.len;
    out.ts = r->ts;
    out.start = r->start;
    out.end = r->end;
    out.line = r->line;
    out.nlines = r->nlines;
    r->active = false;
    r->view = NULL;
    deliver(sp, LOGREC_RECORD, &out);
}

/* Copy a view-mode record into rec.buf (at the end of a chunk, or before a CR fix-up). */
static void
record_materialize(struct logrec_splitter *sp)
{
    struct open_record *r = &sp->rec;
    size_t n;

    if (!r->view)
        return;
    n = r->full_len < sp->max_keep ? (size_t)r->full_len : sp->max_keep;
    memcpy(r->buf, r->view, n);
    r->kept = n;
    r->view = NULL;
}

static void
record_append_bytes(struct logrec_splitter *sp, const char *p, size_t n)
{
    struct open_record *r = &sp->rec;
    size_t room = sp->max_keep - r->kept;

    if (n > room)
        n = room;
    memcpy(r->buf + r->kept, p, n);
    r->kept += n;
}

/*
 * One complete line: @p/@kept are the bytes we have of it (all of it when
 * @kept == @full), @full its length without the '\n' and without a CR that
 * preceded the '\n', @cr whether such a CR was dropped, @in_chunk whether
 * @p points into the chunk being fed (and holds the whole line).
 */
static void
line_complete(struct logrec_splitter *sp, const char *p, size_t kept, uint64_t full,
              bool cr, bool has_nl, uint64_t start, bool in_chunk)
{
    struct open_record *r = &sp->rec;
    enum logrec_ts ts = logrec_timestamp_kind(p, kept);
    uint64_t end = start + full + (cr ? 1 : 0) + (has_nl ? 1 : 0);
    uint64_t lineno = sp->lines_done + 1;

    if (ts != LOGREC_TS_NONE || !r->active) {
        struct logrec head;

        record_complete(sp);
        r->active = true;
        r->ts = ts;
        r->start = start;
        r->end = end;
        r->line = lineno;
        r->nlines = 1;
        r->full_len = full;
        r->last_had_cr = cr;
        if (in_chunk) {
            r->view = p;
            r->kept = 0;
        } else {
            r->view = NULL;
            r->kept = 0;
            record_append_bytes(sp, p, kept);
        }
        head.text = p;
        head.len = kept < sp->max_keep ? kept : sp->max_keep;
        head.full_len = full;
        head.truncated = full > head.len;
        head.ts = ts;
        head.start = start;
        head.end = end;
        head.line = lineno;
        head.nlines = 1;
        deliver(sp, LOGREC_HEAD, &head);
        return;
    }

    /* A continuation line: join it to the open record with '\n'. */
    if (r->view && in_chunk && !r->last_had_cr && p == r->view + r->full_len + 1) {
        r->full_len += 1 + full;
    } else {
        record_materialize(sp);
        record_append_bytes(sp, "\n", 1);
        record_append_bytes(sp, p, kept);
        r->full_len += 1 + full;
    }
    r->last_had_cr = cr;
    r->end = end;
    r->nlines++;
}

static void
partial_append(struct logrec_splitter *sp, const char *p, size_t n)
{
    struct partial_line *l = &sp->line;
    size_t room = sp->max_keep - l->kept;

    if (n == 0)
        return;
    memcpy(l->buf + l->kept, p, n < room ? n : room);
    l->kept += n < room ? n : room;
    l->full += n;
    l->last = p[n - 1];
}

/* Complete the line held in line.buf. */
static void
partial_complete(struct logrec_splitter *sp, bool has_nl)
{
    struct partial_line *l = &sp->line;
    bool cr = has_nl && l->full > 0 && l->last == '\r';
    uint64_t full = l->full - (cr ? 1 : 0);
    size_t kept = l->kept;

    if (kept > full)
        kept = (size_t)full;
    line_complete(sp, l->buf, kept, full, cr, has_nl, l->start, false);
    l->active = false;
    l->kept = 0;
    l->full = 0;
    if (has_nl)
        sp->lines_done++;
}

void
logrec_feed(struct logrec_splitter *sp, const void *data, size_t len)
{
    const char *p = data;
    const char *end = p + len;

    if (len == 0)
        return;
    if (sp->line.active) {
        const char *nl = memchr(p, '\n', len);
        size_t n = (size_t)((nl ? nl : end) - p);

        partial_append(sp, p, n);
        sp->offset += n;
        if (!nl)
            return;
        sp->offset++;
        p = nl + 1;
        partial_complete(sp, true);
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n;
        bool cr;

        if (!nl) {
            struct partial_line *l = &sp->line;

            l->active = true;
            l->start = sp->offset;
            l->kept = 0;
            l->full = 0;
            partial_append(sp, p, (size_t)(end - p));
            sp->offset += (uint64_t)(end - p);
            break;
        }
        n = (size_t)(nl - p);
        cr = n > 0 && p[n - 1] == '\r';
        line_complete(sp, p, n - (cr ? 1 : 0), n - (cr ? 1 : 0), cr, true, sp->offset, true);
        sp->lines_done++;
        sp->offset += n + 1;
        p = nl + 1;
    }
    /* Views into this chunk die with it. */
    record_materialize(sp);
}

void
logrec_finish(struct logrec_splitter *sp)
{
    if (sp->line.active) {
        partial_complete(sp, false);
        /* An unterminated last line still counts as a line. */
        sp->lines_done++;
    }
    record_materialize(sp);
    record_complete(sp);
}

uint64_t
logrec_pending_offset(const struct logrec_splitter *sp)
{
    if (sp->rec.active)
        return sp->rec.start;
    if (sp->line.active)
        return sp->line.start;
    return sp->offset;
}

uint64_t
logrec_pending_line(const struct logrec_splitter *sp)
{
    if (sp->rec.active)
        return sp->rec.line;
    return sp->lines_done + 1;
}

uint64_t
logrec_offset(const struct logrec_splitter *sp)
{
    return sp->offset;
}

void
logrec_set_position(struct logrec_splitter *sp, uint64_t offset, uint64_t line)
{
    sp->offset = offset;
    sp->lines_done = line > 0 ? line - 1 : 0;
    sp->line.active = false;
    sp->line.kept = 0;
    sp->line.full = 0;
    sp->rec.active = false;
    sp->rec.view = NULL;
    sp->rec.kept = 0;
}
