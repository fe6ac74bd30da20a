#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "detect.h"
#include "event.h"
#include "fileutil.h"
#include "follow.h"
#include "log.h"
#include "sink.h"
#include "strbuf.h"
#include "tail.h"
#include "watchconf.h"
#include "xalloc.h"

#define FOLLOW_DEFAULT_STATE LOCALSTATEDIR "/lib/pvpanic-watch/state"
#define FOLLOW_STATE_INTERVAL_MS 1000
#define FOLLOW_ALERTED_MAX 4096
#define FOLLOW_RECENT_IDS_BYTES (4u << 20)
#define FOLLOW_FILTER_WARN_RECORDS 2000
#define FOLLOW_BLOB_MAGIC "pvpanic-follow 1\n"

static const char *const default_files[] = {
    "/var/log/libvirt/libvirtd.log",
    "/var/log/libvirt/virtqemud.log",
    "/var/log/libvirt/qemu/*.log",
};

/* One byte stream of the tail engine and the detector source it feeds. */
struct fsrc {
    uint64_t tid;
    int dsrc;
    size_t path_idx;        /* index in follow.paths */
    dev_t dev;
    ino_t ino;
};

/*
 * Detector sources are per path (their name is the path): one per file
 * that is at the path or was rotated away from it and is being drained.
 * Idle ones are reused by the next file there. After a restart the state
 * holds as many sources per path as there were; each is given back to the
 * file that resumes at exactly its saved position.
 */
struct dpath {
    char *path;
    int *idle;
    size_t nidle;
    int *restored;          /* positions from the state, not claimed by a file yet */
    size_t nrestored;
    size_t ndsrc;           /* detector sources created for this path */
};

/* Committed position and line number of a file, for the state blob. */
struct filepos {
    uint64_t dev;
    uint64_t ino;
    uint64_t offset;
    uint64_t line;
    bool live;
};

struct follow_opts {
    const char *config;
    bool config_given;
    const char *state;
    bool no_state;
    const char *json;
    bool check_only;
    bool from_start;
    bool force_poll;
    int log_dest;
    int verbose;
    char **files;
    size_t nfiles;
};

struct follow {
    struct follow_opts opts;
    struct watchconf *wc;
    struct sinkset *ss;
    struct detect *det;
    struct tail *tail;
    char *state_path;
    bool start_at_head;
    uint64_t state_interval_ms;

    struct fsrc *srcs;
    size_t nsrcs;
    struct dpath *paths;
    size_t npaths;
    int *dsrc_warned;           /* per detector source: filter warning given */
    size_t ndsrc;
    struct filepos *pos;
    size_t npos;

    char (*alerted)[17];        /* ring of recently alerted ids */
    size_t nalerted;
    size_t alerted_next;

    bool emitted;               /* an event reached the sinks since the last save */
    uint64_t last_feed_ms;      /* monotonic time bytes were last fed to the detector */
    uint64_t hold_ms;
    uint64_t last_save_ms;
    uint64_t duplicates;
};

static uint64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- alerted ids -------------------------------------------------------- */

static bool
alerted_has(const struct follow *f, const char *id)
{
    for (size_t i = 0; i < f->nalerted; i++) {
        if (strcmp(f->alerted[i], id) == 0)
            return true;
    }
    return false;
}

static void
alerted_add(struct follow *f, const char *id)
{
    if (strlen(id) != 16 || alerted_has(f, id))
        return;
    memcpy(f->alerted[f->alerted_next], id, 17);
    f->alerted_next = (f->alerted_next + 1) % FOLLOW_ALERTED_MAX;
    if (f->nalerted < FOLLOW_ALERTED_MAX)
        f->nalerted++;
}

static void
alerted_add_cb(const char *id, void *opaque)
{
    alerted_add(opaque, id);
}

/* ---- events ----------------------------------------------------------- */

static void
on_event(const struct pv_event *ev, void *opaque)
{
    struct follow *f = opaque;
    struct strbuf json = STRBUF_INIT;
    struct strbuf details = STRBUF_INIT;
    struct strbuf mon = STRBUF_INIT;
    char iso[PV_TIME_ISO_LEN];
    struct alert a;

    if (alerted_has(f, ev->id)) {
        /* Seen again after a restart: it was alerted before the crash. */
        f->duplicates++;
        log_debug("event %s already alerted; not alerting again", ev->id);
        return;
    }
    pv_event_to_json(ev, &json);
    pv_event_details_line(ev, &details);
    if (ev->monitor)
        strbuf_addf(&mon, "0x%" PRIx64, ev->monitor);
    pv_time_iso(ev->time_ms, iso);
    a = (struct alert){
        .id = ev->id,
        .event = ev->type == PV_EVENT_CUSTOM && ev->rule ? ev->rule : pv_event_type_str(ev->type),
        .domain = ev->domain,
        .monitor = ev->monitor ? mon.buf : NULL,
        .time = iso,
        .action = ev->action,
        .details = details.len ? details.buf : NULL,
        .json = json.buf,
        .epoch = ev->time_ms >= 0 ? (double)ev->time_ms / 1000.0 : -1,
    };
    sinkset_emit(f->ss, &a, mono_ms());
    alerted_add(f, ev->id);
    f->emitted = true;
    strbuf_release(&json);
    strbuf_release(&details);
    strbuf_release(&mon);
}

/* ---- sources ---------------------------------------------------------- */

static struct dpath *
dpath_get(struct follow *f, const char *path)
{
    for (size_t i = 0; i < f->npaths; i++) {
        if (strcmp(f->paths[i].path, path) == 0)
            return &f->paths[i];
    }
    f->paths = xreallocarray(f->paths, f->npaths + 1, sizeof(*f->paths));
    f->paths[f->npaths] = (struct dpath){ .path = xstrdup(path) };
    return &f->paths[f->npaths++];
}

/*
 * libvirt names per-domain logs /var/log/libvirt/qemu/NAME.log with the raw
 * name: the file name is the domain.
 */
static char *
domain_of_path(const char *path)
{
    AUTOFREE char *copy = xstrdup(path);
    AUTOFREE char *copy2 = xstrdup(path);
    const char *base = basename(copy);
    const char *dir = basename(dirname(copy2));
    size_t len = strlen(base);

    if (strcmp(dir, "qemu") != 0 || len <= 4 || strcmp(base + len - 4, ".log") != 0)
        return NULL;
    return xstrndup(base, len - 4);
}

static int
dsrc_new(struct follow *f, const char *path)
{
    AUTOFREE char *domain = domain_of_path(path);
    int id = detect_add_source(f->det, path, domain ? DETECT_SOURCE_DOMAIN : DETECT_SOURCE_AUTO,
                               domain);

    if ((size_t)id >= f->ndsrc) {
        f->dsrc_warned = xreallocarray(f->dsrc_warned, (size_t)id + 1, sizeof(*f->dsrc_warned));
        for (size_t i = f->ndsrc; i <= (size_t)id; i++)
            f->dsrc_warned[i] = 0;
        f->ndsrc = (size_t)id + 1;
    }
    return id;
}

static void
dpath_add_idle(struct dpath *dp, int dsrc)
{
    dp->idle = xreallocarray(dp->idle, dp->nidle + 1, sizeof(*dp->idle));
    dp->idle[dp->nidle++] = dsrc;
}

/*
 * Restored sources no file resumed at: their files are gone (or the state
 * was refused). They are plain idle sources now.
 */
static void
release_restored(struct follow *f)
{
    for (size_t i = 0; i < f->npaths; i++) {
        struct dpath *dp = &f->paths[i];

        while (dp->nrestored > 0)
            dpath_add_idle(dp, dp->restored[--dp->nrestored]);
    }
}

static struct filepos *
filepos_find(struct follow *f, uint64_t dev, uint64_t ino)
{
    for (size_t i = 0; i < f->npos; i++) {
        if (f->pos[i].dev == dev && f->pos[i].ino == ino)
            return &f->pos[i];
    }
    return NULL;
}

static struct filepos *
filepos_get(struct follow *f, uint64_t dev, uint64_t ino)
{
    struct filepos *p = filepos_find(f, dev, ino);

    if (p)
        return p;
    f->pos = xreallocarray(f->pos, f->npos + 1, sizeof(*f->pos));
    f->pos[f->npos] = (struct filepos){ .dev = dev, .ino = ino, .line = 1 };
    return &f->pos[f->npos++];
}

/*
 * Line number at @offset of the file (so follow reports the same "line" as
 * audit). Counted only when the state does not know it: once per file.
 */
static uint64_t
line_at_offset(const char *path, dev_t dev, ino_t ino, off_t offset)
{
    AUTOCLOSE int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    char buf[1 << 16];
    struct stat sb;
    uint64_t lines = 1;
    off_t done = 0;

    if (offset <= 0)
        return 1;
    if (fd < 0 || fstat(fd, &sb) < 0 || sb.st_dev != dev || sb.st_ino != ino)
        return 0;
    while (done < offset) {
        size_t want = (size_t)(offset - done) < sizeof(buf) ? (size_t)(offset - done) : sizeof(buf);
        ssize_t n = pread(fd, buf, want, done);

        if (n <= 0)
            return 0;
        for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + n - p))); p++)
            lines++;
        done += n;
    }
    return lines;
}

static struct fsrc *
fsrc_find(struct follow *f, uint64_t tid)
{
    for (size_t i = 0; i < f->nsrcs; i++) {
        if (f->srcs[i].tid == tid)
            return &f->srcs[i];
    }
    return NULL;
}

static void
on_opened(void *opaque, const struct tail_source *src)
{
    struct follow *f = opaque;
    struct dpath *dp = dpath_get(f, src->path);
    struct filepos *fp = filepos_find(f, (uint64_t)src->dev, (uint64_t)src->ino);
    uint64_t line = 0;
    int dsrc;

    dsrc = -1;
    for (size_t k = 0; src->reason == TAIL_OPEN_RESUME && k < dp->nrestored; k++) {
        if (detect_source_resume_offset(f->det, dp->restored[k], NULL) == (uint64_t)src->offset) {
            /* The detector saved exactly this position: keep what it knows. */
            dsrc = dp->restored[k];
            dp->restored[k] = dp->restored[--dp->nrestored];
            break;
        }
    }
    if (dsrc < 0) {
        if (dp->nidle > 0) {
            dsrc = dp->idle[--dp->nidle];
        } else {
            dsrc = dsrc_new(f, src->path);
            dp->ndsrc++;
        }
        if (fp && fp->offset == (uint64_t)src->offset)
            line = fp->line;
        else
            line = line_at_offset(src->path, src->dev, src->ino, src->offset);
        detect_source_set_position(f->det, dsrc, (uint64_t)src->offset, line ? line : 1);
    }
    fp = filepos_get(f, (uint64_t)src->dev, (uint64_t)src->ino);
    fp->live = true;
    fp->offset = (uint64_t)src->offset;
    fp->line = detect_source_resume_offset(f->det, dsrc, &line) == fp->offset ? line : fp->line;

    f->srcs = xreallocarray(f->srcs, f->nsrcs + 1, sizeof(*f->srcs));
    f->srcs[f->nsrcs++] = (struct fsrc){
        .tid = src->id, .dsrc = dsrc, .path_idx = (size_t)(dp - f->paths),
        .dev = src->dev, .ino = src->ino,
    };
    log_info("following '%s' from offset %lld (%s%s)", src->path, (long long)src->offset,
             tail_open_reason_str(src->reason), src->polled ? ", polled" : "");
}

static void
on_data(void *opaque, uint64_t id, off_t offset, const char *buf, size_t len)
{
    struct follow *f = opaque;
    struct fsrc *s = fsrc_find(f, id);
    struct filepos *fp;
    uint64_t resume;
    uint64_t line = 0;

    (void)offset;
    if (!s)
        return;
    detect_feed(f->det, s->dsrc, buf, len);
    f->last_feed_ms = mono_ms();
    resume = detect_source_resume_offset(f->det, s->dsrc, &line);
    if (tail_commit(f->tail, id, (off_t)resume) == 0) {
        fp = filepos_get(f, (uint64_t)s->dev, (uint64_t)s->ino);
        fp->offset = resume;
        fp->line = line;
    }
}

static void
on_closed(void *opaque, uint64_t id, enum tail_close_reason reason)
{
    struct follow *f = opaque;
    struct fsrc *s = fsrc_find(f, id);
    struct dpath *dp;
    struct filepos *fp;

    if (!s)
        return;
    /* A drained file's unterminated last line will never be completed. */
    detect_source_eof(f->det, s->dsrc);
    dp = &f->paths[s->path_idx];
    dpath_add_idle(dp, s->dsrc);
    fp = filepos_find(f, (uint64_t)s->dev, (uint64_t)s->ino);
    if (fp)
        fp->live = false;
    log_info("done with a file of '%s' (%s)", dp->path, tail_close_reason_str(reason));
    *s = f->srcs[--f->nsrcs];
}

/* ---- state blob: our part, then the detector's -------------------------- */

static void
blob_build(const struct follow *f, struct strbuf *out)
{
    strbuf_addstr(out, FOLLOW_BLOB_MAGIC);
    for (size_t i = 0; i < f->npaths; i++) {
        strbuf_addstr(out, "path ");
        strbuf_add_pct(out, f->paths[i].path, strlen(f->paths[i].path));
        strbuf_addf(out, " %zu\n", f->paths[i].ndsrc);
    }
    for (size_t i = 0; i < f->npos; i++) {
        if (f->pos[i].live)
            strbuf_addf(out, "pos %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
                        f->pos[i].dev, f->pos[i].ino, f->pos[i].offset, f->pos[i].line);
    }
    for (size_t i = 0; i < f->nalerted; i++) {
        /* oldest first, so a reload keeps the ring order */
        size_t k = (f->alerted_next + FOLLOW_ALERTED_MAX - f->nalerted + i) % FOLLOW_ALERTED_MAX;

        strbuf_addf(out, "alerted %s\n", f->alerted[k]);
    }
    strbuf_addstr(out, "end\n");
    detect_save_state(f->det, out);
}

/* A decimal uint64 and nothing else (sscanf would take blanks and a sign). */
static bool
parse_dec_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;

    if (len == 0 || len > 20)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* "pos DEV INO OFFSET LINE" after the keyword. */
static bool
parse_pos_line(const char *s, size_t len, struct follow_blob_pos *out)
{
    uint64_t *fields[] = { &out->dev, &out->ino, &out->offset, &out->line };
    size_t i = 0;

    for (size_t k = 0; k < ARRAY_SIZE(fields); k++) {
        size_t start = i;

        while (i < len && s[i] != ' ')
            i++;
        if (!parse_dec_u64(s + start, i - start, fields[k]))
            return false;
        if (k + 1 < ARRAY_SIZE(fields)) {
            if (i >= len)
                return false;
            i++;
        }
    }
    return i == len;
}

int
follow_blob_parse(const char *blob, size_t len, struct follow_blob *out)
{
    const char *p = blob;
    const char *end = blob + len;
    size_t magic = strlen(FOLLOW_BLOB_MAGIC);

    memset(out, 0, sizeof(*out));
    if (len < magic || memcmp(blob, FOLLOW_BLOB_MAGIC, magic) != 0)
        return -EINVAL;
    p += magic;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line = p;
        size_t n;

        if (!nl)
            goto bad;
        n = (size_t)(nl - p);
        p = nl + 1;
        if (n == 3 && memcmp(line, "end", 3) == 0)
            break;
        if (n > 5 && memcmp(line, "path ", 5) == 0) {
            const char *blank = memchr(line + 5, ' ', n - 5);
            size_t tok = blank ? (size_t)(blank - (line + 5)) : n - 5;
            uint64_t count = 1;
            size_t plen = 0;
            char *path;

            /* "path PATH [SOURCES]": without a count, one source (older states) */
            if (blank && (!parse_dec_u64(blank + 1, (size_t)(line + n - blank - 1), &count) ||
                          count == 0 || count > FOLLOW_MAX_SOURCES_PER_PATH))
                goto bad;
            path = pct_unescape(line + 5, tok, &plen);
            if (!path || plen == 0 || strlen(path) != plen) {
                free(path);
                goto bad;
            }
            out->paths = xreallocarray(out->paths, out->npaths + 1, sizeof(*out->paths));
            out->path_sources = xreallocarray(out->path_sources, out->npaths + 1,
                                              sizeof(*out->path_sources));
            out->path_sources[out->npaths] = (size_t)count;
            out->paths[out->npaths++] = path;
        } else if (n > 4 && memcmp(line, "pos ", 4) == 0) {
            struct follow_blob_pos fp;

            if (!parse_pos_line(line + 4, n - 4, &fp))
                goto bad;
            out->pos = xreallocarray(out->pos, out->npos + 1, sizeof(*out->pos));
            out->pos[out->npos++] = fp;
        } else if (n >= 8 && memcmp(line, "alerted ", 8) == 0) {
            out->alerted = xreallocarray(out->alerted, out->nalerted + 1, sizeof(*out->alerted));
            out->alerted[out->nalerted++] = xstrndup(line + 8, n - 8);
        } else {
            goto bad;
        }
    }
    out->detector_offset = (size_t)(p - blob);
    return 0;

 bad:
    follow_blob_clear(out);
    return -EINVAL;
}

void
follow_blob_clear(struct follow_blob *b)
{
    for (size_t i = 0; i < b->npaths; i++)
        free(b->paths[i]);
    for (size_t i = 0; i < b->nalerted; i++)
        free(b->alerted[i]);
    free(b->paths);
    free(b->path_sources);
    free(b->pos);
    free(b->alerted);
    memset(b, 0, sizeof(*b));
}

/*
 * Restore from the blob of a previous run. Anything unexpected makes the
 * whole blob unusable (reported once): positions still come from the tail
 * state, only names and dedupe memory are lost.
 */
static void
blob_restore(struct follow *f, const char *blob, size_t len)
{
    struct follow_blob b;

    if (follow_blob_parse(blob, len, &b) < 0) {
        log_warnx("state '%s': unreadable follow data; starting without remembered names",
                  f->state_path);
        return;
    }
    for (size_t i = 0; i < b.npaths; i++) {
        struct dpath *dp = dpath_get(f, b.paths[i]);

        if (dp->ndsrc > 0)
            continue;
        /* As many sources as were saved, in the same order (detect_load_state()). */
        dp->restored = xreallocarray(dp->restored, b.path_sources[i], sizeof(*dp->restored));
        for (size_t k = 0; k < b.path_sources[i]; k++)
            dp->restored[dp->nrestored++] = dsrc_new(f, b.paths[i]);
        dp->ndsrc = b.path_sources[i];
    }
    for (size_t i = 0; i < b.npos; i++) {
        *filepos_get(f, b.pos[i].dev, b.pos[i].ino) = (struct filepos){
            .dev = b.pos[i].dev, .ino = b.pos[i].ino,
            .offset = b.pos[i].offset, .line = b.pos[i].line, .live = true,
        };
    }
    for (size_t i = 0; i < b.nalerted; i++)
        alerted_add(f, b.alerted[i]);
    if (detect_load_state(f->det, blob + b.detector_offset, len - b.detector_offset) < 0) {
        log_warnx("state '%s': the detector part is unusable; domain names of guests "
                  "started before this restart may be unknown until they restart", f->state_path);
        release_restored(f);
    }
    follow_blob_clear(&b);
}

static void
save_state(struct follow *f)
{
    struct strbuf blob = STRBUF_INIT;

    if (!f->state_path)
        return;
    f->last_save_ms = mono_ms();
    /*
     * An alert a json output could not take yet (disk full) is not on disk:
     * the position stays before it until it is, so a restart re-reads it.
     */
    if (sinkset_backlog(f->ss))
        return;
    blob_build(f, &blob);
    if (tail_state_save(f->tail, f->state_path, blob.buf, blob.len) == 0)
        f->emitted = false;
    strbuf_release(&blob);
}

/* ---- health ----------------------------------------------------------- */

static void
update_health(struct follow *f)
{
    struct sink_health h = { 0 };
    struct tail_stats ts;

    tail_get_stats(f->tail, &ts);
    h.files_followed = ts.files_open;
    h.bytes_read = ts.bytes_read;
    h.parse_errors = ts.errors;
    for (size_t i = 0; i < f->ndsrc; i++) {
        struct detect_source_stats st;

        detect_source_stats(f->det, (int)i, &st);
        h.lines_read += st.lines;
        h.parse_errors += st.truncated_records;
        if (!f->dsrc_warned[i] && st.daemon_records >= FOLLOW_FILTER_WARN_RECORDS &&
            detect_stats_lacks_monitor_lines(&st)) {
            f->dsrc_warned[i] = 1;
            for (size_t k = 0; k < f->nsrcs; k++) {
                if (f->srcs[k].dsrc != (int)i)
                    continue;
                log_warnx("'%s': %" PRIu64 " libvirt records but no QEMU_MONITOR_* line: "
                          "libvirt's log_filters are too low to record guest panics; set "
                          "log_filters=\"2:qemu 3:*\" or see %s/libvirtd-logging.conf",
                          f->paths[f->srcs[k].path_idx].path, st.daemon_records, PKGDATADIR);
                break;
            }
        }
    }
    sinkset_set_health(f->ss, &h);
}

/* ---- configuration ---------------------------------------------------- */

void
follow_conf_init(struct follow_conf *fc, struct sinkset *ss)
{
    *fc = (struct follow_conf){ .ss = ss, .start_at_head = -1,
                                .state_interval_ms = FOLLOW_STATE_INTERVAL_MS };
}

void
follow_conf_clear(struct follow_conf *fc)
{
    free(fc->state);
    fc->state = NULL;
}

int
follow_conf_entry(const struct conf_entry *e, void *opaque, char **errmsg)
{
    struct follow_conf *fc = opaque;
    int rc = sinkset_conf_entry(fc->ss, e, errmsg);

    if (rc != 0 || e->section || !e->key)
        return rc;
    if (strcmp(e->key, "state") == 0) {
        if (e->value[0] != '/') {
            *errmsg = xasprintf("state must be an absolute path, not '%s'", e->value);
            return -1;
        }
        free(fc->state);
        fc->state = xstrdup(e->value);
        return 1;
    }
    if (strcmp(e->key, "start_at") == 0) {
        if (strcmp(e->value, "end") == 0 || strcmp(e->value, "start") == 0) {
            fc->start_at_head = strcmp(e->value, "start") == 0;
            return 1;
        }
        *errmsg = xasprintf("start_at must be 'end' or 'start', not '%s'", e->value);
        return -1;
    }
    if (strcmp(e->key, "state_interval") == 0) {
        unsigned long long ms = 0;

        if (conf_value_duration_ms(e->value, &ms, errmsg) < 0)
            return -1;
        if (ms < 100 || ms > 3600000) {
            *errmsg = xasprintf("state_interval must be between 100ms and 1h");
            return -1;
        }
        fc->state_interval_ms = ms;
        return 1;
    }
    return 0;
}

/*
 * Read the config (if any) into fresh objects. Returns 0 or a negative
 * errno; every problem was reported where it was found.
 */
static int
load_config(const struct follow_opts *o, struct watchconf **out_wc, struct sinkset **out_ss,
            struct follow_conf *fc)
{
    struct watchconf *wc = watchconf_new();
    struct sinkset *ss = sinkset_new();
    char *err = NULL;
    int rc = 0;

    follow_conf_init(fc, ss);
    if (o->config_given || access(o->config, F_OK) == 0) {
        rc = watchconf_load_file(wc, o->config, geteuid() == 0, follow_conf_entry, fc);
        /* Report what the whole file lacks too, not only its bad lines. */
        if ((rc == 0 || rc == -EINVAL) && sinkset_conf_finish(ss, o->config, &err) < 0) {
            log_warnx("%s", err);
            free(err);
            rc = -EINVAL;
        }
    } else {
        log_info("no config at '%s': using built-in defaults", o->config);
    }
    if (o->json)
        sinkset_add_json(ss, o->json);
    if (rc < 0) {
        watchconf_free(wc);
        sinkset_free(ss);
        follow_conf_clear(fc);
        return rc;
    }
    *out_wc = wc;
    *out_ss = ss;
    return 0;
}

static bool
has_wildcard(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

static int
add_files(struct follow *f)
{
    char *const *files = f->opts.files;
    size_t n = f->opts.nfiles;
    int rc;

    if (n == 0 && f->wc->nfiles > 0) {
        files = f->wc->files;
        n = f->wc->nfiles;
    }
    if (n == 0) {
        files = (char *const *)default_files;
        n = ARRAY_SIZE(default_files);
    }
    for (size_t i = 0; i < n; i++) {
        if (has_wildcard(files[i]))
            rc = tail_add_glob(f->tail, files[i]);
        else
            rc = tail_add_path(f->tail, files[i]);
        if (rc == -EEXIST)
            continue;
        if (rc < 0) {
            log_warnx("cannot follow '%s': %s", files[i],
                      rc == -EINVAL ? "wildcards are only allowed in the file name" : strerror(-rc));
            return rc;
        }
        log_debug("watching '%s'", files[i]);
    }
    return 0;
}

/* ---- reload (SIGHUP) ---------------------------------------------------- */

static void
reload(struct follow *f)
{
    struct watchconf *wc = NULL;
    struct sinkset *ss = NULL;
    struct follow_conf fc;

    log_info("SIGHUP: reloading '%s'", f->opts.config);
    if (load_config(&f->opts, &wc, &ss, &fc) < 0) {
        log_warnx("reload failed; keeping the running configuration");
        return;
    }
    if (sinkset_open(ss) < 0) {
        log_warnx("reload failed: cannot open the new alert sinks; keeping the old ones");
        sinkset_free(ss);
        watchconf_free(wc);
        free(fc.state);
        return;
    }
    sinkset_shutdown(f->ss, mono_ms());
    sinkset_free(f->ss);
    f->ss = ss;
    /*
     * Rules and detector windows are compiled into the running detector and
     * its partially read records; they change at the next start.
     */
    if (wc->nrules != f->wc->nrules || wc->hold_ms != f->wc->hold_ms ||
        wc->match_window_ms != f->wc->match_window_ms)
        log_warnx("rule and window changes take effect at the next restart");
    watchconf_free(f->wc);
    f->wc = wc;
    add_files(f);
    if (fc.state && (!f->state_path || strcmp(fc.state, f->state_path) != 0) && !f->opts.state)
        log_warnx("a new state path takes effect at the next restart");
    free(fc.state);
    log_info("configuration reloaded: %u sink(s)", sinkset_count(f->ss));
}

/* ---- options ------------------------------------------------------------- */

static void
follow_usage(FILE *out)
{
    fprintf(out,
            "Usage: pvpanic-watch follow [OPTION]... [FILE|PATTERN]...\n"
            "Follow libvirt logs and alert when a guest panics.\n"
            "\n"
            "Files default to 'file =' entries of the config, else\n"
            "  /var/log/libvirt/libvirtd.log /var/log/libvirt/virtqemud.log\n"
            "  /var/log/libvirt/qemu/*.log\n"
            "(files and directories that do not exist yet are picked up when they appear).\n"
            "\n"
            "  -c, --config PATH   config file (default %s)\n"
            "  -n, --check         check the config, print 'configuration OK', exit\n"
            "      --state PATH    position/state file (default %s)\n"
            "      --no-state      keep no state (every start begins at the end)\n"
            "      --json PATH     also write every event as JSON lines to PATH ('-' = stdout)\n"
            "      --from-start    without usable state, read existing files from the start\n"
            "      --poll          never use inotify (poll every file)\n"
            "      --log DEST      stderr, syslog or both (default: stderr on a terminal,\n"
            "                      syslog otherwise, e.g. under systemd)\n"
            "  -v, --verbose       more messages (twice: debug)\n"
            "  -h, --help          this help\n"
            "  -V, --version       version\n"
            "\n"
            "Signals: SIGHUP reloads the config and reopens json outputs; SIGTERM/SIGINT\n"
            "save the state and exit 0.\n"
            "Exit status: 0 stopped by a signal or -n OK, 1 runtime failure, 2 usage or\n"
            "config error.\n",
            WATCHCONF_DEFAULT_PATH, FOLLOW_DEFAULT_STATE);
}

static int
parse_options(int argc, char **argv, struct follow_opts *o)
{
    enum { OPT_STATE = 256, OPT_NO_STATE, OPT_JSON, OPT_FROM_START, OPT_POLL, OPT_LOG };
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check", no_argument, NULL, 'n' },
        { "state", required_argument, NULL, OPT_STATE },
        { "no-state", no_argument, NULL, OPT_NO_STATE },
        { "json", required_argument, NULL, OPT_JSON },
        { "from-start", no_argument, NULL, OPT_FROM_START },
        { "poll", no_argument, NULL, OPT_POLL },
        { "log", required_argument, NULL, OPT_LOG },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    int c;

    *o = (struct follow_opts){ .config = WATCHCONF_DEFAULT_PATH, .log_dest = -1 };
    optind = 1;
    while ((c = getopt_long(argc, argv, "+c:nvhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->config = optarg;
            o->config_given = true;
            break;
        case 'n':
            o->check_only = true;
            break;
        case OPT_STATE:
            o->state = optarg;
            break;
        case OPT_NO_STATE:
            o->no_state = true;
            break;
        case OPT_JSON:
            o->json = optarg;
            break;
        case OPT_FROM_START:
            o->from_start = true;
            break;
        case OPT_POLL:
            o->force_poll = true;
            break;
        case OPT_LOG:
            if (strcmp(optarg, "stderr") == 0)
                o->log_dest = LOG_DEST_STDERR;
            else if (strcmp(optarg, "syslog") == 0)
                o->log_dest = LOG_DEST_SYSLOG;
            else if (strcmp(optarg, "both") == 0)
                o->log_dest = LOG_DEST_STDERR | LOG_DEST_SYSLOG;
            else {
                log_error("--log must be stderr, syslog or both, not '%s'", optarg);
                return -1;
            }
            break;
        case 'v':
            o->verbose++;
            break;
        case 'h':
            follow_usage(stdout);
            exit(0);
        case 'V':
            printf("pvpanic-watch %s\n", PACKAGE_VERSION);
            exit(0);
        default:
            fprintf(stderr, "Try 'pvpanic-watch follow --help'.\n");
            return -1;
        }
    }
    if (o->state && o->state[0] != '/') {
        log_error("--state needs an absolute path");
        return -1;
    }
    o->files = argv + optind;
    o->nfiles = (size_t)(argc - optind);
    return 0;
}

/* ---- the loop ---------------------------------------------------------- */

/*
 * The directory of the state file: created 0700 if missing. It must not be
 * somebody else's: a symlink another user planted (in /tmp, say) or a
 * directory another user owns could move our root-owned writes wherever
 * they like (what fs.protected_symlinks prevents where it is on).
 * -EPERM then, with *@owner the uid that owns it.
 */
static int
make_state_dir(const char *path, uid_t *owner)
{
    AUTOFREE char *copy = xstrdup(path);
    const char *dir = dirname(copy);
    struct stat sb;

    if (lstat(dir, &sb) < 0) {
        if (errno != ENOENT)
            return -errno;
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
            return -errno;
        if (lstat(dir, &sb) < 0)
            return -errno;
    }
    *owner = sb.st_uid;
    if (S_ISLNK(sb.st_mode) && sb.st_uid != 0 && sb.st_uid != geteuid())
        return -EPERM;
    if (stat(dir, &sb) < 0)
        return -errno;
    if (!S_ISDIR(sb.st_mode))
        return -ENOTDIR;
    *owner = sb.st_uid;
    if (sb.st_uid != 0 && sb.st_uid != geteuid())
        return -EPERM;
    return 0;
}

static int
open_signals(void)
{
    sigset_t mask;
    int fd;

    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
        return -errno;
    fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

static int
min_timeout(int a, int64_t b)
{
    if (b < 0)
        return a;
    if (b > 60000)
        b = 60000;
    if (a < 0 || b < a)
        return (int)b;
    return a;
}

/*
 * The detector holds an unnamed event, or a per-domain panic line waiting
 * for its daemon-log twin, for hold_ms of *log* time; records advance that
 * clock. When the logs go quiet nothing advances it, so release what is
 * held once hold_ms of real time passed without new bytes. Never by the
 * wall clock: while catching up on a backlog the log time is far behind it
 * and a group split across two reads would be released half-assembled.
 */
static void
release_held(struct follow *f)
{
    int64_t deadline;

    while ((deadline = detect_next_deadline(f->det)) >= 0 &&
           mono_ms() >= f->last_feed_ms + f->hold_ms)
        detect_tick(f->det, deadline);
}

static int
run_loop(struct follow *f, int sigfd)
{
    static const struct tail_callbacks cb = {
        .opened = on_opened,
        .data = on_data,
        .closed = on_closed,
    };
    bool stop = false;
    bool ready = false;

    while (!stop) {
        struct pollfd pfd[2] = {
            { .fd = tail_get_fd(f->tail), .events = POLLIN },
            { .fd = sigfd, .events = POLLIN },
        };
        int timeout = tail_next_timeout_ms(f->tail);
        int rc;

        timeout = min_timeout(timeout, sinkset_next_tick_ms(f->ss, mono_ms()));
        if (detect_next_deadline(f->det) >= 0)
            timeout = min_timeout(timeout, (int64_t)(f->last_feed_ms + f->hold_ms) - (int64_t)mono_ms());
        if (f->state_path && tail_state_dirty(f->tail))
            timeout = min_timeout(timeout, (int64_t)(f->last_save_ms + f->state_interval_ms) -
                                               (int64_t)mono_ms());
        if (timeout < 0)
            timeout = 60000;
        if (poll(pfd, 2, timeout) < 0 && errno != EINTR) {
            log_warn("poll");
            return 1;
        }
        if (pfd[1].revents & POLLIN) {
            struct signalfd_siginfo si;

            while (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
                    log_info("signal %u: saving state and exiting", si.ssi_signo);
                    stop = true;
                } else if (si.ssi_signo == SIGHUP) {
                    reload(f);
                    sinkset_reopen(f->ss);
                }
            }
        }
        rc = tail_process(f->tail, &cb, f);
        if (rc < 0) {
            log_warnx("the file follower failed: %s", strerror(-rc));
            return 1;
        }
        if (!ready) {
            struct tail_stats ts;

            /* Every file that exists is open: writes from now on are seen. */
            tail_get_stats(f->tail, &ts);
            log_info("ready: %llu file(s) open, %llu name(s) watched",
                     (unsigned long long)ts.files_open, (unsigned long long)ts.names);
            /* Every file that resumes has done so. */
            release_restored(f);
            ready = true;
        }
        release_held(f);
        sinkset_tick(f->ss, mono_ms());
        update_health(f);
        if (f->emitted) {
            /* The alert is on disk before the state moves past its record. */
            sinkset_sync(f->ss, mono_ms());
            save_state(f);
        } else if (f->state_path && tail_state_dirty(f->tail) &&
                   mono_ms() >= f->last_save_ms + f->state_interval_ms) {
            save_state(f);
        }
    }
    return 0;
}

static void
follow_free(struct follow *f)
{
    tail_free(f->tail);
    detect_free(f->det);
    sinkset_free(f->ss);
    watchconf_free(f->wc);
    for (size_t i = 0; i < f->npaths; i++) {
        free(f->paths[i].path);
        free(f->paths[i].idle);
        free(f->paths[i].restored);
    }
    free(f->paths);
    free(f->srcs);
    free(f->pos);
    free(f->dsrc_warned);
    free(f->alerted);
    free(f->state_path);
}

int
follow_main(int argc, char **argv)
{
    struct follow f = { 0 };
    struct follow_conf fc;
    struct tail_opts topts;
    struct detect_config dcfg;
    AUTOCLOSE int sigfd = -1;
    AUTOFREE char *blob = NULL;
    size_t blob_len = 0;
    int rc;

    if (parse_options(argc, argv, &f.opts) < 0)
        return 2;
    /*
     * A terminal (or -n) gets stderr. Anything else, systemd's journal
     * included, gets syslog: the journal then keeps each message's priority
     * and the info ones (reloads, rotations) that stderr would only show with -v.
     */
    if (f.opts.log_dest < 0)
        f.opts.log_dest = (isatty(STDERR_FILENO) || f.opts.check_only)
                              ? LOG_DEST_STDERR : LOG_DEST_SYSLOG;
    log_init("pvpanic-watch", f.opts.log_dest, f.opts.verbose);

    if (load_config(&f.opts, &f.wc, &f.ss, &fc) < 0)
        return 2;
    if (f.opts.check_only) {
        printf("configuration OK\n");
        free(fc.state);
        follow_free(&f);
        return 0;
    }
    f.start_at_head = f.opts.from_start || fc.start_at_head == 1;
    f.state_interval_ms = fc.state_interval_ms;
    if (!f.opts.no_state)
        f.state_path = xstrdup(f.opts.state ? f.opts.state : fc.state ? fc.state : FOLLOW_DEFAULT_STATE);
    free(fc.state);
    f.alerted = xcalloc(FOLLOW_ALERTED_MAX, sizeof(*f.alerted));

    signal(SIGPIPE, SIG_IGN);
    sigfd = open_signals();
    if (sigfd < 0) {
        log_error("cannot set up signal handling: %s", strerror(-sigfd));
        follow_free(&f);
        return 1;
    }
    if (sinkset_open(f.ss) < 0) {
        follow_free(&f);
        return 2;
    }
    if (sinkset_count(f.ss) == 0)
        log_warnx("no alert sink configured: events are only counted (use --json or [sink ...])");

    detect_config_init(&dcfg);
    watchconf_apply(f.wc, &dcfg);
    f.hold_ms = dcfg.hold_ms;
    f.det = detect_new(&dcfg, on_event, &f);

    tail_opts_init(&topts);
    topts.start_at_head = f.start_at_head;
    topts.force_poll = f.opts.force_poll;
    if ((rc = tail_new(&topts, &f.tail)) < 0) {
        log_error("cannot start the file follower: %s", strerror(-rc));
        follow_free(&f);
        return 1;
    }
    if (add_files(&f) < 0) {
        follow_free(&f);
        return 2;
    }
    if (f.state_path) {
        uid_t owner = 0;

        rc = make_state_dir(f.state_path, &owner);
        if (rc == -EPERM) {
            log_error("the directory of state file '%s' belongs to another user (uid %lu) or is "
                      "their symlink: not reading or writing state there; running without state",
                      f.state_path, (unsigned long)owner);
            free(f.state_path);
            f.state_path = NULL;
        } else if (rc < 0) {
            log_warnx("cannot create the directory of state file '%s': %s", f.state_path,
                      strerror(-rc));
        }
    }
    if (f.state_path) {
        rc = tail_state_load(f.tail, f.state_path, &blob, &blob_len);
        if (rc == 0 && blob)
            blob_restore(&f, blob, blob_len);
        else if (rc == -ENOENT)
            log_info("no state file '%s' yet: starting at the %s of existing files",
                     f.state_path, f.start_at_head ? "start" : "end");
        else if (rc < 0)
            log_warnx("state file '%s' not used (%s): starting at the %s of existing files",
                      f.state_path, strerror(-rc), f.start_at_head ? "start" : "end");
    }
    /* Events already written by our json sinks are not alerted again. */
    sinkset_recent_ids(f.ss, FOLLOW_RECENT_IDS_BYTES, alerted_add_cb, &f);

    /* What the state file held counts as just read: give its rest time to arrive. */
    f.last_feed_ms = mono_ms();
    log_info("following with %u sink(s); state %s", sinkset_count(f.ss),
             f.state_path ? f.state_path : "off");
    rc = run_loop(&f, sigfd);

    /* Held events stay in the saved state; they are released after the restart. */
    sinkset_shutdown(f.ss, mono_ms());
    save_state(&f);
    follow_free(&f);
    return rc;
}
