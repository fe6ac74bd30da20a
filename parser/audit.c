#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "audit.h"
#include "classify.h"
#include "cleanup.h"
#include "detect.h"
#include "event.h"
#include "follow.h"
#include "log.h"
#include "sink.h"
#include "strbuf.h"
#include "watchconf.h"
#include "xalloc.h"

/* Big reads: the parser touches each byte about once, the syscalls should not dominate. */
#define AUDIT_READ_SIZE (1024 * 1024)
/*
 * Plain files are mapped, AUDIT_MAP_WINDOW bytes at a time: no copy into a
 * buffer (that copy was a third of audit's time), and the resident set
 * stays bounded by the window whatever the file size.
 */
#define AUDIT_MAP_WINDOW (4 * 1024 * 1024)
/* Enough of a file to see its first timestamped line. */
#define AUDIT_SNIFF_SIZE (64 * 1024)
#define LOGGING_SNIPPET PKGDATADIR "/libvirtd-logging.conf"
#define RECOMMENDED_FILTERS "1:qemu.qemu_process 2:qemu 3:*"

/* ---- reading plain, gzip and stdin ------------------------------------ */

struct reader {
    int fd;
    bool close_fd;
    bool gz;
    bool mapped;                /* regular plain file: mmap windows up to map_size */
    uint64_t map_size;          /* size when opened; what grows later is read() */
    uint64_t map_off;
    void *window;
    size_t window_len;
    bool z_ready;
    bool z_done;                /* a gzip member ended and nothing follows */
    bool raw_eof;
    z_stream zs;
    unsigned char *in;          /* raw bytes already read (pipe peek, gzip input) */
    size_t in_len;
    size_t in_pos;
    const char *error;          /* gzip problem, for the message */
};

static void
reader_close(struct reader *r)
{
    if (r->window)
        munmap(r->window, r->window_len);
    if (r->z_ready)
        inflateEnd(&r->zs);
    if (r->close_fd && r->fd >= 0)
        close(r->fd);
    free(r->in);
    memset(r, 0, sizeof(*r));
    r->fd = -1;
}

/* Fill r->in from the fd (gzip input and the pipe peek). 0, or -errno. */
static int
reader_fill(struct reader *r)
{
    ssize_t n;

    if (r->in_pos < r->in_len)
        return 0;
    r->in_pos = 0;
    r->in_len = 0;
    do {
        n = read(r->fd, r->in, AUDIT_READ_SIZE);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (n == 0)
        r->raw_eof = true;
    r->in_len = (size_t)n;
    return 0;
}

/* Open @path ("-" = stdin) and find out whether it is gzip (by its magic, not its name). */
static int
reader_open(struct reader *r, const char *path)
{
    struct stat st;

    memset(r, 0, sizeof(*r));
    r->in = xmalloc(AUDIT_READ_SIZE);
    if (strcmp(path, "-") == 0) {
        r->fd = STDIN_FILENO;
    } else {
        r->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (r->fd < 0)
            return -errno;
        r->close_fd = true;
        if (fstat(r->fd, &st) == 0 && S_ISDIR(st.st_mode))
            return -EISDIR;
#ifdef POSIX_FADV_SEQUENTIAL
        posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    }
    if (fstat(r->fd, &st) == 0 && S_ISREG(st.st_mode)) {
        unsigned char magic[2];
        ssize_t n = pread(r->fd, magic, 2, 0);

        r->gz = n == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
        r->mapped = !r->gz && st.st_size > 0;
        r->map_size = (uint64_t)st.st_size;
    } else {
        /* a pipe cannot be rewound: peek into the buffer and serve it first */
        while (r->in_len < 2 && !r->raw_eof) {
            ssize_t n;

            do {
                n = read(r->fd, r->in + r->in_len, AUDIT_READ_SIZE - r->in_len);
            } while (n < 0 && errno == EINTR);
            if (n < 0)
                return -errno;
            if (n == 0)
                r->raw_eof = true;
            r->in_len += (size_t)n;
        }
        r->gz = r->in_len >= 2 && r->in[0] == 0x1f && r->in[1] == 0x8b;
    }
    if (r->gz) {
        /* 15 + 16: gzip wrapper only */
        if (inflateInit2(&r->zs, 15 + 16) != Z_OK)
            return -ENOMEM;
        r->z_ready = true;
    }
    return 0;
}

/*
 * The next window of a mapped file in *@out (valid until the next call):
 * its length, or 0 when the mapped part is done (then use reader_read(),
 * which continues at map_size), or -errno.
 */
static ssize_t
reader_map_next(struct reader *r, const char **out)
{
    size_t len;

    if (r->window) {
        munmap(r->window, r->window_len);
        r->window = NULL;
    }
    if (r->map_off >= r->map_size) {
        if (lseek(r->fd, (off_t)r->map_size, SEEK_SET) < 0)
            return -errno;
        r->mapped = false;
        return 0;
    }
    len = r->map_size - r->map_off < AUDIT_MAP_WINDOW ? (size_t)(r->map_size - r->map_off)
                                                      : AUDIT_MAP_WINDOW;
    r->window = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, r->fd, (off_t)r->map_off);
    if (r->window == MAP_FAILED) {
        /* a file system without mmap: read() the rest */
        r->window = NULL;
        if (lseek(r->fd, (off_t)r->map_off, SEEK_SET) < 0)
            return -errno;
        r->mapped = false;
        return 0;
    }
    r->window_len = len;
    r->map_off += len;
#ifdef MADV_SEQUENTIAL
    madvise(r->window, len, MADV_SEQUENTIAL);
#endif
    *out = r->window;
    return (ssize_t)len;
}

/* Up to @cap bytes of log text. Returns the count, 0 at the end, or -errno (-EBADMSG: gzip). */
static ssize_t
reader_read(struct reader *r, char *out, size_t cap)
{
    if (!r->gz) {
        ssize_t n;

        if (r->in_pos < r->in_len) {
            size_t k = r->in_len - r->in_pos;

            if (k > cap)
                k = cap;
            memcpy(out, r->in + r->in_pos, k);
            r->in_pos += k;
            return (ssize_t)k;
        }
        if (r->raw_eof && r->in_len > 0)
            return 0;
        do {
            n = read(r->fd, out, cap);
        } while (n < 0 && errno == EINTR);
        return n < 0 ? -errno : n;
    }
    for (;;) {
        int zrc;
        size_t produced;
        int rc;

        if (r->z_done)
            return 0;
        rc = reader_fill(r);
        if (rc < 0)
            return rc;
        if (r->in_len == 0 && r->raw_eof) {
            r->error = "unexpected end of compressed data (truncated .gz)";
            return -EBADMSG;
        }
        r->zs.next_in = r->in + r->in_pos;
        r->zs.avail_in = (uInt)(r->in_len - r->in_pos);
        r->zs.next_out = (unsigned char *)out;
        r->zs.avail_out = (uInt)cap;
        zrc = inflate(&r->zs, Z_NO_FLUSH);
        r->in_pos = r->in_len - r->zs.avail_in;
        produced = cap - r->zs.avail_out;
        if (zrc == Z_STREAM_END) {
            /* concatenated members (gzip -c a b > c) continue; anything else ends it */
            rc = reader_fill(r);
            if (rc < 0)
                return rc;
            if (r->in_len - r->in_pos >= 2 && r->in[r->in_pos] == 0x1f &&
                r->in[r->in_pos + 1] == 0x8b) {
                inflateReset(&r->zs);
            } else {
                if (r->in_len > r->in_pos)
                    log_warnx("trailing garbage after gzip data ignored");
                r->z_done = true;
            }
        } else if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
            r->error = r->zs.msg ? r->zs.msg : "corrupt gzip data";
            return -EBADMSG;
        }
        if (produced > 0)
            return (ssize_t)produced;
    }
}

/* ---- which files --------------------------------------------------------- */

struct input {
    char *path;                 /* "-" for stdin */
    char *shown;                /* "file" in events */
    char *group;                /* rotation set */
    int64_t rot_key;
    size_t order;               /* first appearance of its group */
    bool domain_log;
    char *domain;
};

struct inputs {
    struct input *v;
    size_t n;
    size_t groups;
};

static bool
all_digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}

int64_t
audit_rotation_key(const char *path, char **out_base)
{
    size_t len = strlen(path);
    size_t end = len;
    int64_t key = INT64_MAX;
    bool gz = false;

    if (end > 3 && strcmp(path + end - 3, ".gz") == 0) {
        end -= 3;
        gz = true;
    }
    /* logrotate "dateext": name-YYYYMMDD: larger date = newer */
    if (end > 9 && path[end - 9] == '-' && all_digits(path + end - 8, 8)) {
        key = strtoll(path + end - 8, NULL, 10);
        end -= 9;
    } else {
        size_t dot = end;

        while (dot > 0 && isdigit((unsigned char)path[dot - 1]))
            dot--;
        if (dot < end && dot > 0 && path[dot - 1] == '.' && end - dot <= 6) {
            /* name.N: larger N = older */
            key = -strtoll(path + dot, NULL, 10);
            end = dot - 1;
        } else if (gz) {
            /* name.gz alone: older than the live file, newer than the numbered ones */
            key = INT64_MAX - 1;
        }
    }
    if (out_base)
        *out_base = xstrndup(path, end);
    return key;
}

char *
audit_domain_from_path(const char *path)
{
    AUTOFREE char *base = NULL;
    const char *slash;
    size_t len;

    audit_rotation_key(path, &base);
    slash = strrchr(base, '/');
    slash = slash ? slash + 1 : base;
    len = strlen(slash);
    if (len > 4 && strcmp(slash + len - 4, ".log") == 0)
        len -= 4;
    return xstrndup(slash, len);
}

static void
add_input(struct inputs *in, const char *path)
{
    struct input *i;
    AUTOFREE char *group = NULL;
    int64_t key = strcmp(path, "-") == 0 ? INT64_MAX : audit_rotation_key(path, &group);
    size_t order = in->groups;

    if (!group)
        group = xstrdup(path);
    for (size_t k = 0; k < in->n; k++) {
        if (strcmp(in->v[k].path, path) == 0 && strcmp(path, "-") != 0)
            return;     /* named twice (a glob and a plain name) */
        if (strcmp(in->v[k].group, group) == 0)
            order = in->v[k].order;
    }
    if (order == in->groups)
        in->groups++;
    in->v = xreallocarray(in->v, in->n + 1, sizeof(*in->v));
    i = &in->v[in->n++];
    memset(i, 0, sizeof(*i));
    i->path = xstrdup(path);
    i->shown = xstrdup(strcmp(path, "-") == 0 ? "(stdin)" : path);
    i->group = steal_pointer(&group);
    i->rot_key = key;
    i->order = order;
}

static void
inputs_free(struct inputs *in)
{
    for (size_t i = 0; i < in->n; i++) {
        free(in->v[i].path);
        free(in->v[i].shown);
        free(in->v[i].group);
        free(in->v[i].domain);
    }
    free(in->v);
    memset(in, 0, sizeof(*in));
}

/* Is @name (in the directory of @live) a rotated copy of @live? */
static bool
is_rotation_of(const char *name, const char *live)
{
    AUTOFREE char *base = NULL;

    audit_rotation_key(name, &base);
    return strcmp(base, live) == 0 && strcmp(name, live) != 0;
}

/* @live plus its rotated copies that exist (libvirtd.log.1, .2.gz, -20261124). */
static size_t
add_with_rotations(struct inputs *in, const char *live)
{
    AUTOFREE char *pattern = xasprintf("%s[.-]*", live);
    glob_t g;
    size_t added = 0;
    struct stat st;

    if (glob(pattern, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            if (is_rotation_of(g.gl_pathv[i], live) && stat(g.gl_pathv[i], &st) == 0 &&
                S_ISREG(st.st_mode)) {
                add_input(in, g.gl_pathv[i]);
                added++;
            }
        }
        globfree(&g);
    }
    if (stat(live, &st) == 0 && S_ISREG(st.st_mode)) {
        add_input(in, live);
        added++;
    }
    return added;
}

/* A pattern from watch.conf or the defaults: glob, plus rotations of each match. */
static size_t
add_pattern(struct inputs *in, const char *pattern)
{
    glob_t g;
    size_t added = 0;

    if (glob(pattern, 0, NULL, &g) != 0)
        return 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        AUTOFREE char *base = NULL;

        /* a rotated copy matched by the pattern itself is added with its live file */
        audit_rotation_key(g.gl_pathv[i], &base);
        if (strcmp(base, g.gl_pathv[i]) == 0)
            added += add_with_rotations(in, g.gl_pathv[i]);
        else
            add_input(in, g.gl_pathv[i]);
    }
    globfree(&g);
    return added;
}

/* `audit /var/log/libvirt`: the daemon logs and the per-domain logs in it. */
static size_t
add_directory(struct inputs *in, const char *dir)
{
    static const char *const patterns[] = { "libvirtd.log", "virtqemud.log", "qemu/*.log" };
    size_t added = 0;

    for (size_t i = 0; i < ARRAY_SIZE(patterns); i++) {
        AUTOFREE char *p = xasprintf("%s/%s", dir, patterns[i]);

        added += add_pattern(in, p);
    }
    return added;
}

/* First timestamped line of the file: per-domain log or daemon log? */
static void
sniff(struct input *i)
{
    struct reader r;
    AUTOFREE char *buf = xmalloc(AUDIT_SNIFF_SIZE);
    size_t len = 0;
    const char *p;
    const char *end;
    bool decided = false;

    if (strcmp(i->path, "-") == 0)
        return;
    if (reader_open(&r, i->path) == 0) {
        while (len < AUDIT_SNIFF_SIZE) {
            ssize_t n = reader_read(&r, buf + len, AUDIT_SNIFF_SIZE - len);

            if (n <= 0)
                break;
            len += (size_t)n;
        }
    }
    reader_close(&r);
    for (p = buf, end = buf + len; p < end && !decided;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        struct logline ll;

        logline_parse(p, (size_t)(eol - p), &ll);
        if (ll.shape == LOGLINE_DAEMON || ll.shape == LOGLINE_DAEMON_HEADER) {
            decided = true;
        } else if (ll.shape == LOGLINE_DOMAIN || ll.shape == LOGLINE_QEMU) {
            i->domain_log = true;
            decided = true;
        }
        p = nl ? nl + 1 : end;
    }
    if (!decided) {
        /* nothing readable yet: trust the libvirt layout */
        const char *slash = strrchr(i->path, '/');

        i->domain_log = slash && slash - i->path >= 4 && strncmp(slash - 4, "qemu", 4) == 0 &&
                        (slash - i->path == 4 || slash[-5] == '/');
    }
    if (i->domain_log)
        i->domain = audit_domain_from_path(i->path);
}

static int
cmp_input(const void *a, const void *b)
{
    const struct input *x = a;
    const struct input *y = b;

    /* daemon logs first: per-domain detail then meets the events it belongs to */
    if (x->domain_log != y->domain_log)
        return x->domain_log ? 1 : -1;
    if (x->order != y->order)
        return x->order < y->order ? -1 : 1;
    if (x->rot_key != y->rot_key)
        return x->rot_key < y->rot_key ? -1 : 1;
    return strcmp(x->path, y->path);
}

/* ---- --since ---------------------------------------------------------- */

int
audit_parse_since(const char *s, int64_t now_ms, int64_t *out_ms)
{
    char *end = NULL;
    long long v;
    int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, n = 0;
    char sep = 0;

    if (!s || !*s)
        return -EINVAL;
    if (s[0] == '@') {
        errno = 0;
        v = strtoll(s + 1, &end, 10);
        if (errno || end == s + 1 || *end || v < 0)
            return -EINVAL;
        *out_ms = (int64_t)v * 1000;
        return 0;
    }
    if (isdigit((unsigned char)s[0]) && !strchr(s, '-')) {
        static const struct { char unit; int64_t ms; } units[] = {
            { 's', 1000 }, { 'm', 60000 }, { 'h', 3600000 }, { 'd', 86400000 }, { 'w', 604800000 },
        };

        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || v < 0 || end[0] == '\0' || end[1] != '\0')
            return -EINVAL;
        for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
            if (end[0] == units[i].unit) {
                if (v > INT64_MAX / units[i].ms)
                    return -EINVAL;
                *out_ms = now_ms - (int64_t)v * units[i].ms;
                return 0;
            }
        }
        return -EINVAL;
    }
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return -EINVAL;
    s += n;
    if (*s == ' ' || *s == 'T') {
        sep = *s++;
        if (sscanf(s, "%2d:%2d%n", &h, &mi, &n) != 2 || n != 5)
            return -EINVAL;
        s += n;
        if (*s == ':') {
            if (sscanf(s + 1, "%2d%n", &sec, &n) != 1 || n != 2)
                return -EINVAL;
            s += 3;
            if (*s == '.') {
                int digits = 0;

                s++;
                while (isdigit((unsigned char)*s)) {
                    if (digits < 3)
                        ms = ms * 10 + (*s - '0');
                    digits++;
                    s++;
                }
                if (digits == 0)
                    return -EINVAL;
                while (digits++ < 3)
                    ms *= 10;
            }
        }
    }
    (void)sep;
    if (*s == 'Z')
        s++;
    if (*s)
        return -EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -EINVAL;
    {
        char ts[96];

        /* one date parser for logs and options: logline_time_ms() */
        snprintf(ts, sizeof(ts), "%04d-%02d-%02d %02d:%02d:%02d.%03d+0000", y, mo, d, h, mi, sec, ms);
        *out_ms = logline_time_ms(ts, strlen(ts));
    }
    return *out_ms < 0 ? -EINVAL : 0;
}

/* ---- output ----------------------------------------------------------- */

struct collected {
    struct pv_event **v;
    size_t *seq;                /* detection order, to keep the sort stable */
    size_t n;
};

static void
collect_event(const struct pv_event *ev, void *opaque)
{
    struct collected *c = opaque;

    c->v = xreallocarray(c->v, c->n + 1, sizeof(*c->v));
    c->seq = xreallocarray(c->seq, c->n + 1, sizeof(*c->seq));
    c->v[c->n] = pv_event_dup(ev);
    c->seq[c->n] = c->n;
    c->n++;
}

/* Events by time, ties in detection order (insertion sort: a report has few events). */
static void
sort_events(struct collected *c)
{
    for (size_t i = 1; i < c->n; i++) {
        struct pv_event *e = c->v[i];
        size_t s = c->seq[i];
        size_t j = i;

        while (j > 0 && (c->v[j - 1]->time_ms > e->time_ms ||
                         (c->v[j - 1]->time_ms == e->time_ms && c->seq[j - 1] > s))) {
            c->v[j] = c->v[j - 1];
            c->seq[j] = c->seq[j - 1];
            j--;
        }
        c->v[j] = e;
        c->seq[j] = s;
    }
}

/* Display columns of a UTF-8 sequence's code point (East Asian wide = 2). */
static int
cp_width(unsigned int cp)
{
    if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
        (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
        (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
        (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1faff) ||
        (cp >= 0x20000 && cp <= 0x3fffd))
        return 2;
    return 1;
}

/*
 * Append @s so a terminal shows it literally: control bytes, C1 controls
 * and invalid UTF-8 become \xNN (a domain name must not move the cursor or
 * recolour the screen). Returns the display width appended.
 */
static size_t
add_terminal_safe(struct strbuf *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t width = 0;

    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq_len(p + i, len - i);
        unsigned int cp = 0;

        if (n == 0 || p[i] < 0x20 || p[i] == 0x7f || p[i] == '\\') {
            if (p[i] == '\\')
                strbuf_add(out, "\\\\", 2);
            else
                strbuf_addf(out, "\\x%02x", p[i]);
            width += p[i] == '\\' ? 2 : 4;
            i++;
            continue;
        }
        if (n == 1) {
            cp = p[i];
        } else {
            cp = p[i] & (0xff >> (n + 1));
            for (size_t k = 1; k < n; k++)
                cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if (cp >= 0x80 && cp < 0xa0) {
            for (size_t k = 0; k < n; k++)
                strbuf_addf(out, "\\x%02x", p[i + k]);
            width += 4 * n;
        } else {
            strbuf_add(out, p + i, n);
            width += (size_t)cp_width(cp);
        }
        i += n;
    }
    return width;
}

struct cell {
    char *text;
    size_t width;
};

static struct cell
make_cell(const char *s, size_t len)
{
    struct strbuf sb = STRBUF_INIT;
    struct cell c;

    c.width = add_terminal_safe(&sb, s, len);
    c.text = strbuf_detach(&sb, NULL);
    return c;
}

static struct cell
domain_cell(const struct pv_event *ev)
{
    if (ev->domain)
        return make_cell(ev->domain, ev->domain_len);
    {
        AUTOFREE char *s = ev->monitor
            ? xasprintf("(unknown, mon 0x%" PRIx64 ")", ev->monitor) : xstrdup("(unknown)");

        return make_cell(s, strlen(s));
    }
}

static void
print_row(FILE *out, struct cell *cells, const size_t *widths, size_t ncols)
{
    for (size_t c = 0; c < ncols; c++) {
        fputs(cells[c].text, out);
        if (c + 1 < ncols) {
            for (size_t k = cells[c].width; k < widths[c] + 2; k++)
                fputc(' ', out);
        }
    }
    fputc('\n', out);
}

#define EVENT_COLS 5

static void
print_table(FILE *out, struct pv_event **ev, size_t n)
{
    static const char *const heads[EVENT_COLS] = { "TIME", "DOMAIN", "EVENT", "ACTION", "DETAILS" };
    struct cell (*cells)[EVENT_COLS] = xcalloc(n + 1, sizeof(*cells));
    size_t widths[EVENT_COLS] = { 0 };

    for (size_t c = 0; c < EVENT_COLS; c++)
        cells[0][c] = make_cell(heads[c], strlen(heads[c]));
    for (size_t i = 0; i < n; i++) {
        char iso[PV_TIME_ISO_LEN];
        struct strbuf det = STRBUF_INIT;
        const char *type = pv_event_type_str(ev[i]->type);

        pv_time_iso(ev[i]->time_ms, iso);
        pv_event_details_line(ev[i], &det);
        cells[i + 1][0] = make_cell(iso, strlen(iso));
        cells[i + 1][1] = domain_cell(ev[i]);
        cells[i + 1][2] = make_cell(type, strlen(type));
        cells[i + 1][3] = ev[i]->action ? make_cell(ev[i]->action, strlen(ev[i]->action))
                                        : make_cell("-", 1);
        cells[i + 1][4] = det.len ? make_cell(det.buf, det.len) : make_cell("-", 1);
        strbuf_release(&det);
    }
    for (size_t i = 0; i <= n; i++) {
        for (size_t c = 0; c < EVENT_COLS; c++) {
            if (cells[i][c].width > widths[c])
                widths[c] = cells[i][c].width;
        }
    }
    for (size_t i = 0; i <= n; i++) {
        print_row(out, cells[i], widths, EVENT_COLS);
        for (size_t c = 0; c < EVENT_COLS; c++)
            free(cells[i][c].text);
    }
    free(cells);
}

struct domain_sum {
    const struct pv_event *first;   /* for the name */
    unsigned int count[PV_EVENT_TYPE_LAST];
    int64_t last_ms;
};

static bool
same_domain(const struct pv_event *a, const struct pv_event *b)
{
    if (!a->domain || !b->domain)
        return !a->domain && !b->domain;
    return a->domain_len == b->domain_len && memcmp(a->domain, b->domain, a->domain_len) == 0;
}

#define SUM_COLS 5

static void
print_summary(FILE *out, struct pv_event **ev, size_t n, size_t nfiles)
{
    static const char *const heads[SUM_COLS] = { "DOMAIN", "PANIC", "CRASHLOADED", "CUSTOM", "LAST" };
    struct domain_sum *sums = xcalloc(n, sizeof(*sums));
    size_t nsum = 0;
    struct cell (*cells)[SUM_COLS] = NULL;
    size_t widths[SUM_COLS] = { 0 };
    unsigned int totals[PV_EVENT_TYPE_LAST] = { 0 };

    for (size_t i = 0; i < n; i++) {
        size_t k;

        for (k = 0; k < nsum && !same_domain(sums[k].first, ev[i]); k++)
            ;
        if (k == nsum)
            sums[nsum++].first = ev[i];
        sums[k].count[ev[i]->type]++;
        sums[k].last_ms = ev[i]->time_ms;
        totals[ev[i]->type]++;
    }
    cells = xcalloc(nsum + 1, sizeof(*cells));
    for (size_t c = 0; c < SUM_COLS; c++)
        cells[0][c] = make_cell(heads[c], strlen(heads[c]));
    for (size_t k = 0; k < nsum; k++) {
        char iso[PV_TIME_ISO_LEN];
        char num[3][16];

        pv_time_iso(sums[k].last_ms, iso);
        for (int t = 0; t < 3; t++)
            snprintf(num[t], sizeof(num[t]), "%u", sums[k].count[t]);
        cells[k + 1][0] = sums[k].first->domain
            ? make_cell(sums[k].first->domain, sums[k].first->domain_len)
            : make_cell("(unknown)", 9);
        cells[k + 1][1] = make_cell(num[PV_EVENT_PANIC], strlen(num[PV_EVENT_PANIC]));
        cells[k + 1][2] = make_cell(num[PV_EVENT_CRASHLOADED], strlen(num[PV_EVENT_CRASHLOADED]));
        cells[k + 1][3] = make_cell(num[PV_EVENT_CUSTOM], strlen(num[PV_EVENT_CUSTOM]));
        cells[k + 1][4] = make_cell(iso, strlen(iso));
    }
    for (size_t i = 0; i <= nsum; i++) {
        for (size_t c = 0; c < SUM_COLS; c++) {
            if (cells[i][c].width > widths[c])
                widths[c] = cells[i][c].width;
        }
    }
    fputc('\n', out);
    for (size_t i = 0; i <= nsum; i++) {
        print_row(out, cells[i], widths, SUM_COLS);
        for (size_t c = 0; c < SUM_COLS; c++)
            free(cells[i][c].text);
    }
    fprintf(out, "\n%zu event%s (%u panic, %u crashloaded, %u custom) for %zu domain%s in %zu file%s\n",
            n, n == 1 ? "" : "s", totals[PV_EVENT_PANIC], totals[PV_EVENT_CRASHLOADED],
            totals[PV_EVENT_CUSTOM], nsum, nsum == 1 ? "" : "s", nfiles, nfiles == 1 ? "" : "s");
    free(cells);
    free(sums);
}

/* ---- the command ------------------------------------------------------ */

static void
audit_usage(FILE *out)
{
    fprintf(out,
            "Usage: pvpanic-watch audit [OPTIONS] [FILE|DIR|-]...\n"
            "\n"
            "Scan libvirt logs once and report guest crash events (GUEST_PANICKED,\n"
            "GUEST_CRASHLOADED) with the domain that crashed.\n"
            "\n"
            "FILE may be a daemon log (libvirtd.log, virtqemud.log), a per-domain log\n"
            "(qemu/NAME.log), gzip-compressed or not, or - for stdin. Rotated copies\n"
            "(libvirtd.log.1, libvirtd.log.2.gz, ...) are read oldest first so names\n"
            "carry across files. A DIR is searched for libvirtd.log*, virtqemud.log*\n"
            "and qemu/*.log*. Without FILE: the 'file =' entries of the config, else\n"
            "/var/log/libvirt.\n"
            "\n"
            "Options:\n"
            "  -j, --json          one JSON object per event and line\n"
            "  -s, --since TIME    only events at or after TIME (UTC): YYYY-MM-DD[ HH:MM[:SS]],\n"
            "                      YYYY-MM-DDTHH:MM:SSZ, @EPOCH, or an age such as 30m, 2h, 7d\n"
            "  -c, --config FILE   watch.conf with [rule] sections (default %s)\n"
            "      --keep-order    read files in the order given, do not sort rotations\n"
            "  -h, --help          this help\n"
            "  -V, --version       version\n"
            "\n"
            "Exit status: 0 no event, 1 events found, 2 error.\n",
            WATCHCONF_DEFAULT_PATH);
}

/* watch.conf keys that belong to `follow` are fine here: the sink door validates them. */
static int
audit_conf_door(const struct conf_entry *e, void *opaque, char **errmsg)
{
    /* The daemon's keys are checked, not rejected: one file serves both. */
    return follow_conf_entry(e, opaque, errmsg);
}

struct audit_opts {
    bool json;
    bool keep_order;
    bool have_since;
    int64_t since_ms;
    const char *config;
};

/*
 * A mapped file that shrinks under us (logrotate copytruncate) raises
 * SIGBUS on the next access. The handler jumps back to audit_read(), which
 * gives up: the fault may have hit the detector half-way through a record.
 */
static sigjmp_buf bus_jump;
static volatile sig_atomic_t bus_armed;

static void
on_sigbus(int sig)
{
    if (bus_armed) {
        bus_armed = 0;
        siglongjmp(bus_jump, 1);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Feed one input to the detector; returns 0, -1 (reported), or -ESTALE (truncated: stop). */
static int
audit_read(struct detect *det, int src, const struct input *in, char *buf)
{
    static struct reader r;         /* static: survives the siglongjmp below */
    int rc = reader_open(&r, in->path);

    if (rc < 0) {
        log_warnx("cannot read '%s': %s", in->shown, strerror(-rc));
        reader_close(&r);
        return -1;
    }
    if (r.mapped) {
        struct sigaction sa, old;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_sigbus;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGBUS, &sa, &old);
        if (sigsetjmp(bus_jump, 1) != 0) {
            sigaction(SIGBUS, &old, NULL);
            log_warnx("'%s' shrank while it was being read (rotated with copytruncate?); "
                      "no report: run the audit again", in->shown);
            reader_close(&r);
            return -ESTALE;
        }
        bus_armed = 1;
        for (;;) {
            const char *win = NULL;
            ssize_t n = reader_map_next(&r, &win);

            if (n == 0)
                break;
            if (n < 0) {
                bus_armed = 0;
                sigaction(SIGBUS, &old, NULL);
                log_warnx("cannot read '%s': %s", in->shown, strerror((int)-n));
                detect_source_eof(det, src);
                reader_close(&r);
                return -1;
            }
            detect_feed(det, src, win, (size_t)n);
        }
        bus_armed = 0;
        sigaction(SIGBUS, &old, NULL);
    }
    for (;;) {
        ssize_t n = reader_read(&r, buf, AUDIT_READ_SIZE);

        if (n == 0)
            break;
        if (n < 0) {
            if (n == -EBADMSG)
                log_warnx("'%s': %s", in->shown, r.error ? r.error : "corrupt gzip data");
            else
                log_warnx("cannot read '%s': %s", in->shown, strerror((int)-n));
            detect_source_eof(det, src);
            reader_close(&r);
            return -1;
        }
        detect_feed(det, src, buf, (size_t)n);
    }
    detect_source_eof(det, src);
    reader_close(&r);
    return 0;
}

int
audit_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "json", no_argument, NULL, 'j' },
        { "since", required_argument, NULL, 's' },
        { "config", required_argument, NULL, 'c' },
        { "keep-order", no_argument, NULL, 'k' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    struct audit_opts o = { 0 };
    struct inputs in = { 0 };
    struct collected ev = { 0 };
    struct watchconf *wc = NULL;
    struct sinkset *ss = NULL;
    struct follow_conf fc = { 0 };
    struct detect_config cfg;
    struct detect *det = NULL;
    AUTOFREE char *buf = NULL;
    bool failed = false;
    size_t shown = 0;
    int c;
    int rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+js:c:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
            o.json = true;
            break;
        case 's': {
            struct timespec now;

            clock_gettime(CLOCK_REALTIME, &now);
            if (audit_parse_since(optarg, (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000,
                                  &o.since_ms) < 0) {
                log_warnx("invalid --since '%s': expected YYYY-MM-DD[ HH:MM[:SS]] (UTC), "
                          "@EPOCH or an age like 2h", optarg);
                return AUDIT_EXIT_ERROR;
            }
            o.have_since = true;
            break;
        }
        case 'c':
            o.config = optarg;
            break;
        case 'k':
            o.keep_order = true;
            break;
        case 'h':
            audit_usage(stdout);
            return AUDIT_EXIT_NONE;
        case 'V':
            printf("pvpanic-watch %s\n", PACKAGE_VERSION);
            return AUDIT_EXIT_NONE;
        default:
            audit_usage(stderr);
            return AUDIT_EXIT_ERROR;
        }
    }

    wc = watchconf_new();
    ss = sinkset_new();
    follow_conf_init(&fc, ss);
    if (o.config || access(WATCHCONF_DEFAULT_PATH, F_OK) == 0) {
        const char *path = o.config ? o.config : WATCHCONF_DEFAULT_PATH;

        /* As root, the same rule as the daemon: a config others can write is refused. */
        rc = watchconf_load_file(wc, path, geteuid() == 0, audit_conf_door, &fc);
        if (rc < 0) {
            if (rc == -EINVAL)
                log_warnx("%s: configuration has errors (see above)", path);
            failed = true;
            goto out;
        }
    }

    if (optind < argc) {
        for (int i = optind; i < argc; i++) {
            struct stat st;

            if (strcmp(argv[i], "-") != 0 && stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
                if (add_directory(&in, argv[i]) == 0) {
                    log_warnx("no libvirt logs (libvirtd.log, virtqemud.log, qemu/*.log) in '%s'",
                              argv[i]);
                    failed = true;
                }
            } else {
                /* unreadable ones are reported when read */
                add_input(&in, argv[i]);
            }
        }
    } else {
        static const char *const defaults[] = {
            "/var/log/libvirt/libvirtd.log", "/var/log/libvirt/virtqemud.log",
            "/var/log/libvirt/qemu/*.log",
        };

        for (size_t i = 0; i < wc->nfiles; i++) {
            if (add_pattern(&in, wc->files[i]) == 0)
                log_warnx("'%s' (file = in the config) matches no file", wc->files[i]);
        }
        if (wc->nfiles == 0) {
            for (size_t i = 0; i < ARRAY_SIZE(defaults); i++)
                add_pattern(&in, defaults[i]);
        }
        if (in.n == 0) {
            log_warnx("no log files found (give FILE arguments, or 'file =' in %s)",
                      o.config ? o.config : WATCHCONF_DEFAULT_PATH);
            failed = true;
            goto out;
        }
    }
    for (size_t i = 0; i < in.n; i++)
        sniff(&in.v[i]);
    if (!o.keep_order && in.n > 1)
        qsort(in.v, in.n, sizeof(*in.v), cmp_input);

    detect_config_init(&cfg);
    watchconf_apply(wc, &cfg);
    det = detect_new(&cfg, collect_event, &ev);
    buf = xmalloc(AUDIT_READ_SIZE);
    for (size_t i = 0; i < in.n; i++) {
        int src = detect_add_source(det, in.v[i].shown,
                                    in.v[i].domain_log ? DETECT_SOURCE_DOMAIN : DETECT_SOURCE_AUTO,
                                    in.v[i].domain);

        rc = src < 0 ? -1 : audit_read(det, src, &in.v[i], buf);
        if (rc == -ESTALE) {
            /*
             * The fault may have interrupted the detector in the middle of
             * a record (an allocation half copied): nothing is safe to use
             * or free any more. Nothing was printed yet; leave now.
             */
            fflush(stderr);
            _exit(AUDIT_EXIT_ERROR);
        }
        if (rc < 0)
            failed = true;
    }
    detect_finish(det);

    /* one warning per rotation set that cannot hold panic events at all */
    for (size_t i = 0; i < in.n; i++) {
        struct detect_source_stats st = { 0 };
        uint64_t records = 0;
        bool lacks = true;
        size_t files = 0;

        if (i > 0 && strcmp(in.v[i].group, in.v[i - 1].group) == 0)
            continue;
        for (size_t k = i; k < in.n && strcmp(in.v[k].group, in.v[i].group) == 0; k++) {
            detect_source_stats(det, (int)k, &st);
            records += st.daemon_records;
            lacks = lacks && (st.daemon_records == 0 || detect_stats_lacks_monitor_lines(&st));
            files++;
        }
        if (lacks && records > 0)
            log_warnx("warning: %s%s: %" PRIu64 " log records but no QEMU_MONITOR_* line: libvirt's "
                      "log_filters are too low to log guest panics here. Set log_filters=\"%s\" and "
                      "a file: log_outputs in libvirtd.conf or virtqemud.conf (see %s)",
                      in.v[i].group, files > 1 ? " (and rotations)" : "", records,
                      RECOMMENDED_FILTERS, LOGGING_SNIPPET);
    }

    sort_events(&ev);
    for (size_t i = 0; i < ev.n; i++) {
        if (o.have_since && ev.v[i]->time_ms >= 0 && ev.v[i]->time_ms < o.since_ms) {
            pv_event_free(ev.v[i]);
            continue;
        }
        ev.v[shown++] = ev.v[i];
    }
    ev.n = shown;
    if (o.json) {
        struct strbuf line = STRBUF_INIT;

        for (size_t i = 0; i < ev.n; i++) {
            strbuf_reset(&line);
            pv_event_to_json(ev.v[i], &line);
            strbuf_addch(&line, '\n');
            fwrite(line.buf, 1, line.len, stdout);
        }
        strbuf_release(&line);
    } else if (ev.n > 0) {
        print_table(stdout, ev.v, ev.n);
        print_summary(stdout, ev.v, ev.n, in.n);
    } else {
        printf("no guest crash events in %zu file%s\n", in.n, in.n == 1 ? "" : "s");
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        log_warn("cannot write the report");
        failed = true;
    }

 out:
    for (size_t i = 0; i < ev.n; i++)
        pv_event_free(ev.v[i]);
    free(ev.v);
    free(ev.seq);
    detect_free(det);
    inputs_free(&in);
    watchconf_free(wc);
    follow_conf_clear(&fc);
    sinkset_free(ss);
    if (failed)
        return AUDIT_EXIT_ERROR;
    return ev.n > 0 ? AUDIT_EXIT_EVENTS : AUDIT_EXIT_NONE;
}
