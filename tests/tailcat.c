/*
 * tailcat: follow files with the tail engine (parser/tail.h) and print every
 * complete line, so shell tests can drive the engine as a real process
 * (kill -9, restarts, rotation by other processes) and benchmarks can time it.
 *
 *   tailcat [options] PATH...        (and/or --glob PATTERN)
 *
 * Output, one per line:
 *   ID<TAB>OFFSET<TAB>LINE           a complete line of source ID at OFFSET
 *   #start PID                       at start-up
 *   #open ID REASON OFFSET PATH      a source was opened
 *   #close ID REASON                 a source ended (its partial line, if
 *                                    any, was printed just before)
 *   #cut ID OFFSET LENGTH            the line before was cut at --max-line
 *   #saved                           the state was saved (--mark-saves)
 *
 * Semantics (the follow daemon's, in miniature): lines are written out
 * first, then the committed offsets are saved. A kill between the two
 * repeats the lines written since the last save; nothing is ever lost.
 * With --rollback-output FILE the output file's size is saved in the state
 * blob and the file is cut back to it on restart: exactly-once output.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "fileutil.h"
#include "log.h"
#include "strbuf.h"
#include "tail.h"
#include "tailstate.h"
#include "xalloc.h"

struct src {
    uint64_t id;
    struct strbuf partial;      /* bytes of the incomplete line (<= max_line) */
    off_t line_start;
    size_t line_len;            /* full length, also past max_line */
    bool in_line;
};

struct cat {
    struct tail *t;
    struct src *srcs;
    size_t nsrcs;
    struct strbuf out;
    int out_fd;
    bool notices;
    bool count_only;
    size_t max_line;
    uint64_t lines;
    uint64_t bytes;
    uint64_t last_activity;
    int write_error;
};

static volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
    stop_signal = sig;
}

static uint64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void
flush_out(struct cat *c)
{
    int rc;

    if (c->out.len == 0)
        return;
    rc = write_all(c->out_fd, c->out.buf, c->out.len);
    if (rc < 0 && !c->write_error) {
        errno = -rc;
        log_warn("write output");
        c->write_error = rc;
    }
    strbuf_reset(&c->out);
}

static struct src *
find_src(struct cat *c, uint64_t id)
{
    for (size_t i = 0; i < c->nsrcs; i++) {
        if (c->srcs[i].id == id)
            return &c->srcs[i];
    }
    return NULL;
}

static void
emit_line(struct cat *c, struct src *s, const char *tail, size_t tail_len)
{
    size_t room = c->max_line - s->partial.len;
    size_t take = tail_len < room ? tail_len : room;

    s->line_len += tail_len;
    c->lines++;
    c->bytes += s->line_len + 1;
    if (!c->count_only) {
        strbuf_addf(&c->out, "%" PRIu64 "\t%lld\t", s->id, (long long)s->line_start);
        strbuf_add(&c->out, s->partial.buf ? s->partial.buf : "", s->partial.len);
        strbuf_add(&c->out, tail, take);
        strbuf_addch(&c->out, '\n');
        if (s->line_len > c->max_line)
            strbuf_addf(&c->out, "#cut %" PRIu64 " %lld %zu\n", s->id,
                        (long long)s->line_start, s->line_len);
        if (c->out.len > (1u << 20))
            flush_out(c);
    }
    strbuf_reset(&s->partial);
    s->line_len = 0;
    s->in_line = false;
}

static void
on_opened(void *opaque, const struct tail_source *src)
{
    struct cat *c = opaque;
    struct src *s;

    c->srcs = xreallocarray(c->srcs, c->nsrcs + 1, sizeof(*c->srcs));
    s = &c->srcs[c->nsrcs++];
    memset(s, 0, sizeof(*s));
    s->id = src->id;
    if (c->notices)
        strbuf_addf(&c->out, "#open %" PRIu64 " %s %lld %s\n", src->id,
                    tail_open_reason_str(src->reason), (long long)src->offset, src->path);
}

static void
on_data(void *opaque, uint64_t id, off_t offset, const char *buf, size_t len)
{
    struct cat *c = opaque;
    struct src *s = find_src(c, id);
    size_t pos = 0;

    if (!s)
        abort();        /* the engine broke its contract */
    c->last_activity = now_ms();
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t seg = nl ? (size_t)(nl - (buf + pos)) : len - pos;

        if (!s->in_line) {
            s->in_line = true;
            s->line_start = offset + (off_t)pos;
        }
        if (nl) {
            emit_line(c, s, buf + pos, seg);
            pos += seg + 1;
        } else {
            size_t room = c->max_line - s->partial.len;

            strbuf_add(&s->partial, buf + pos, seg < room ? seg : room);
            s->line_len += seg;
            pos = len;
        }
    }
    /* Everything before the incomplete line is done (printed, to be flushed
     * before the state is saved). */
    tail_commit(c->t, id, s->in_line ? s->line_start : offset + (off_t)len);
}

static void
on_closed(void *opaque, uint64_t id, enum tail_close_reason reason)
{
    struct cat *c = opaque;
    struct src *s = find_src(c, id);

    if (!s)
        abort();
    /* The file will not grow any more: its unterminated last line is final. */
    if (s->in_line)
        emit_line(c, s, "", 0);
    if (c->notices)
        strbuf_addf(&c->out, "#close %" PRIu64 " %s\n", id, tail_close_reason_str(reason));
    strbuf_release(&s->partial);
    *s = c->srcs[--c->nsrcs];
}

static int
parse_state_file(const char *path)
{
    AUTOFREE char *text = NULL;
    AUTOFREE char *err = NULL;
    struct tailstate *st = NULL;
    size_t len = 0;
    int rc = read_file_capped(path, TAILSTATE_MAX_SIZE, &text, &len);

    if (rc == 0)
        rc = tailstate_parse(text, len, &st, &err);
    if (rc < 0) {
        printf("corrupt: %s\n", err ? err : strerror(-rc));
        return 1;
    }
    printf("ok files=%zu watch=%zu blob=%zu\n", st->nfiles, st->nwatch, st->blob_len);
    for (size_t i = 0; i < st->nfiles; i++)
        printf("file %s %llu %s\n", st->files[i].role == TAILSTATE_ACTIVE ? "active" : "rotated",
               (unsigned long long)st->files[i].offset, st->files[i].path);
    tailstate_free(st);
    return 0;
}

static unsigned long
num_arg(const char *opt, const char *s, unsigned long max)
{
    char *end = NULL;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || !end || *end || end == s || v > max)
        fatalx("bad value for %s: '%s'", opt, s);
    return v;
}

static void
usage(void)
{
    fprintf(stderr,
            "usage: tailcat [--state FILE] [--from-start] [--poll] [--poll-interval MS]\n"
            "               [--rotate-wait MS] [--reconcile MS] [--chunk BYTES]\n"
            "               [--max-line BYTES] [--save-interval MS] [--mark-saves]\n"
            "               [--rollback-output FILE] [--blob-size BYTES] [--exit-idle MS]\n"
            "               [--count] [--no-notices] [--stats] [-v] [--glob PATTERN]... PATH...\n"
            "       tailcat --parse-state FILE\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "state", required_argument, NULL, 's' },
        { "from-start", no_argument, NULL, 'f' },
        { "poll", no_argument, NULL, 'p' },
        { "poll-interval", required_argument, NULL, 'P' },
        { "rotate-wait", required_argument, NULL, 'r' },
        { "reconcile", required_argument, NULL, 'R' },
        { "chunk", required_argument, NULL, 'c' },
        { "max-line", required_argument, NULL, 'm' },
        { "save-interval", required_argument, NULL, 'S' },
        { "mark-saves", no_argument, NULL, 'M' },
        { "rollback-output", required_argument, NULL, 'o' },
        { "blob-size", required_argument, NULL, 'b' },
        { "exit-idle", required_argument, NULL, 'x' },
        { "count", no_argument, NULL, 'C' },
        { "no-notices", no_argument, NULL, 'N' },
        { "stats", no_argument, NULL, 'T' },
        { "glob", required_argument, NULL, 'g' },
        { "parse-state", required_argument, NULL, 'Z' },
        { NULL, 0, NULL, 0 },
    };
    struct tail_callbacks cb = { on_opened, on_data, on_closed };
    struct tail_opts opts;
    struct cat c = { .out = STRBUF_INIT, .out_fd = 1, .notices = true, .max_line = 4u << 20 };
    const char *state_path = NULL;
    const char *rollback = NULL;
    AUTOFREE char *blob = NULL;
    size_t blob_size = 0;
    size_t loaded_len = 0;
    unsigned long save_interval = 0;
    unsigned long exit_idle = 0;
    bool mark_saves = false;
    bool stats = false;
    uint64_t last_save = 0;
    int verbose = 0;
    int opt;
    int rc;
    char **globs = xcalloc((size_t)argc + 1, sizeof(char *));
    size_t nglobs = 0;
    sigset_t block;
    sigset_t orig;
    struct sigaction sa = { .sa_handler = on_signal };

    log_init("tailcat", LOG_DEST_STDERR, 0);
    tail_opts_init(&opts);
    while ((opt = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
        switch (opt) {
        case 's': state_path = optarg; break;
        case 'f': opts.start_at_head = true; break;
        case 'p': opts.force_poll = true; break;
        case 'P': opts.poll_interval_ms = (unsigned)num_arg("--poll-interval", optarg, 3600000); break;
        case 'r': opts.rotate_wait_ms = (unsigned)num_arg("--rotate-wait", optarg, 3600000); break;
        case 'R': opts.reconcile_ms = (unsigned)num_arg("--reconcile", optarg, 3600000); break;
        case 'c':
            opts.read_chunk = num_arg("--chunk", optarg, 64u << 20);
            if (opts.read_budget < opts.read_chunk)
                opts.read_budget = opts.read_chunk;
            break;
        case 'm': c.max_line = num_arg("--max-line", optarg, 1u << 30); break;
        case 'S': save_interval = num_arg("--save-interval", optarg, 3600000); break;
        case 'M': mark_saves = true; break;
        case 'o': rollback = optarg; break;
        case 'b': blob_size = num_arg("--blob-size", optarg, TAILSTATE_MAX_BLOB - 32); break;
        case 'x': exit_idle = num_arg("--exit-idle", optarg, 86400000); break;
        case 'C': c.count_only = true; c.notices = false; break;
        case 'N': c.notices = false; break;
        case 'T': stats = true; break;
        case 'g': globs[nglobs++] = optarg; break;
        case 'Z':
            free(globs);
            return parse_state_file(optarg);
        case 'v': log_set_verbose(++verbose); break;
        default: usage();
        }
    }
    if (optind >= argc && nglobs == 0)
        usage();
    if (c.max_line == 0)
        c.max_line = 1;
    if (rollback && mark_saves)
        fatalx("--mark-saves would be cut off by --rollback-output");

    rc = tail_new(&opts, &c.t);
    if (rc < 0) {
        errno = -rc;
        fatal("cannot start the follower");
    }
    for (int i = optind; i < argc; i++) {
        rc = tail_add_path(c.t, argv[i]);
        if (rc < 0)
            fatalx("cannot follow '%s': %s", argv[i], strerror(-rc));
    }
    for (size_t i = 0; i < nglobs; i++) {
        rc = tail_add_glob(c.t, globs[i]);
        if (rc < 0)
            fatalx("cannot follow '%s': %s", globs[i], strerror(-rc));
    }
    free(globs);

    if (state_path) {
        rc = tail_state_load(c.t, state_path, &blob, &loaded_len);
        if (rollback) {
            /* Cut the output back to what the saved offsets account for. */
            unsigned long long keep = 0;

            if (rc == 0 && loaded_len > 0) {
                AUTOFREE char *num = xstrndup(blob, loaded_len);

                keep = strtoull(num, NULL, 10);
            }
            c.out_fd = open(rollback, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
            if (c.out_fd < 0 || ftruncate(c.out_fd, (off_t)keep) < 0 ||
                lseek(c.out_fd, 0, SEEK_END) < 0)
                fatal("cannot use '%s'", rollback);
        }
        free(steal_pointer(&blob));
    } else if (rollback) {
        fatalx("--rollback-output needs --state");
    }

    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &orig);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (c.notices)
        strbuf_addf(&c.out, "#start %ld\n", (long)getpid());
    c.last_activity = now_ms();
    for (;;) {
        struct pollfd pfd = { .fd = tail_get_fd(c.t), .events = POLLIN };
        struct timespec ts;
        int timeout;

        tail_process(c.t, &cb, &c);
        flush_out(&c);
        if (state_path && (tail_state_dirty(c.t) || last_save == 0) &&
            now_ms() - last_save >= save_interval) {
            AUTOFREE char *sblob = NULL;
            size_t slen = 0;

            if (rollback) {
                off_t size = lseek(c.out_fd, 0, SEEK_END);

                sblob = xasprintf("%lld", (long long)size);
                slen = strlen(sblob);
            } else if (blob_size > 0) {
                sblob = xmalloc(blob_size);
                memset(sblob, 'x', blob_size);
                slen = blob_size;
            }
            if (tail_state_save(c.t, state_path, sblob, slen) == 0 && mark_saves) {
                strbuf_addstr(&c.out, "#saved\n");
                flush_out(&c);
            }
            last_save = now_ms();
        }
        if (stop_signal)
            break;
        timeout = tail_next_timeout_ms(c.t);
        if (exit_idle) {
            uint64_t idle = now_ms() - c.last_activity;

            if (idle >= exit_idle)
                break;
            if (timeout < 0 || (uint64_t)timeout > exit_idle - idle)
                timeout = (int)(exit_idle - idle);
        }
        ts.tv_sec = timeout / 1000;
        ts.tv_nsec = (long)(timeout % 1000) * 1000000L;
        if (ppoll(&pfd, 1, &ts, &orig) < 0 && errno != EINTR)
            fatal("poll");
    }
    flush_out(&c);
    if (state_path) {
        AUTOFREE char *sblob = NULL;

        if (rollback)
            sblob = xasprintf("%lld", (long long)lseek(c.out_fd, 0, SEEK_END));
        tail_state_save(c.t, state_path, sblob, sblob ? strlen(sblob) : 0);
    }
    if (c.count_only)
        printf("lines %" PRIu64 " bytes %" PRIu64 "\n", c.lines, c.bytes);
    if (stats) {
        struct tail_stats st;

        tail_get_stats(c.t, &st);
        fprintf(stderr,
                "files_open %" PRIu64 " rotated_open %" PRIu64 " names %" PRIu64
                " opened %" PRIu64 " bytes %" PRIu64 " reads %" PRIu64 " rotations %" PRIu64
                " truncations %" PRIu64 " polled %" PRIu64 " overflows %" PRIu64
                " nul_skipped %" PRIu64 " errors %" PRIu64 "\n",
                st.files_open, st.files_rotated_open, st.names, st.sources_opened,
                st.bytes_read, st.reads, st.rotations, st.truncations, st.polled_files,
                st.queue_overflows, st.nul_bytes_skipped, st.errors);
    }
    for (size_t i = 0; i < c.nsrcs; i++)
        strbuf_release(&c.srcs[i].partial);
    free(c.srcs);
    strbuf_release(&c.out);
    tail_free(c.t);
    if (c.out_fd > 2)
        close(c.out_fd);
    return c.write_error ? 1 : 0;
}
