/*
 * test_tail: the file-following engine against real files, real inotify and
 * real renames (tailers.md (b) scenarios; numbers in the test names). Each
 * case runs in its own temp directory, drives tail_process() synchronously
 * and has a hard alarm() timeout. inotify_add_watch/inotify_init1/fstatfs
 * are wrapped (-Wl,--wrap) to inject the watch limit and remote file systems.
 *
 * Most cases set reconcile_ms to a minute, so a line is only seen in time if
 * the inotify path noticed it; the safety net cannot hide a missed event.
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
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "fileutil.h"
#include "strbuf.h"
#include "tail-priv.h"
#include "tail.h"
#include "tailstate.h"
#include "testutil.h"
#include "xalloc.h"

#define CASE_TIMEOUT_S 30
#define WAIT_MS 3000

/* ---- syscall fault injection (-Wl,--wrap) ---- */

int __real_inotify_add_watch(int fd, const char *path, uint32_t mask);
int __wrap_inotify_add_watch(int fd, const char *path, uint32_t mask);
int __real_inotify_init1(int flags);
int __wrap_inotify_init1(int flags);
int __real_fstatfs(int fd, struct statfs *buf);
int __wrap_fstatfs(int fd, struct statfs *buf);

static int fail_add_watch_errno;
static bool fail_add_watch_files_only;
static int fail_init_errno;
static long fake_fs_type;
static unsigned int fstatfs_calls;

int
__wrap_inotify_add_watch(int fd, const char *path, uint32_t mask)
{
    if (fail_add_watch_errno && (!fail_add_watch_files_only || !(mask & IN_ONLYDIR))) {
        errno = fail_add_watch_errno;
        return -1;
    }
    return __real_inotify_add_watch(fd, path, mask);
}

int
__wrap_inotify_init1(int flags)
{
    if (fail_init_errno) {
        errno = fail_init_errno;
        return -1;
    }
    return __real_inotify_init1(flags);
}

int
__wrap_fstatfs(int fd, struct statfs *buf)
{
    int rc = __real_fstatfs(fd, buf);

    fstatfs_calls++;
    if (rc == 0 && fake_fs_type)
        buf->f_type = fake_fs_type;
    return rc;
}

/* ---- a recording consumer (a line splitter, as the follow layer has) ---- */

struct rsrc {
    uint64_t id;
    enum tail_open_reason reason;
    char *path;
    off_t start;
    off_t next;             /* lowest offset the next data may have */
    struct strbuf partial;
    off_t line_start;
    bool in_line;
    bool polled;
    bool closed;
    enum tail_close_reason why;
    size_t nlines;
};

struct rec {
    struct tail *t;
    struct rsrc *src;
    size_t nsrc;
    struct strbuf lines;    /* every complete line + "\n", in delivery order */
    size_t nlines;
    bool no_commit;
    uint64_t bytes;
};

static struct rsrc *
rsrc_find(struct rec *r, uint64_t id)
{
    for (size_t i = 0; i < r->nsrc; i++) {
        if (r->src[i].id == id)
            return &r->src[i];
    }
    fail_msg("unknown source %llu", (unsigned long long)id);
    return NULL;
}

static void
rec_line(struct rec *r, struct rsrc *s, const char *buf, size_t len)
{
    strbuf_add(&r->lines, s->partial.buf ? s->partial.buf : "", s->partial.len);
    strbuf_add(&r->lines, buf, len);
    strbuf_addch(&r->lines, '\n');
    strbuf_reset(&s->partial);
    s->in_line = false;
    s->nlines++;
    r->nlines++;
}

static void
rec_opened(void *opaque, const struct tail_source *src)
{
    struct rec *r = opaque;
    struct rsrc *s;

    for (size_t i = 0; i < r->nsrc; i++)
        assert_true(r->src[i].id != src->id);      /* ids are never reused */
    r->src = xreallocarray(r->src, r->nsrc + 1, sizeof(*r->src));
    s = &r->src[r->nsrc++];
    memset(s, 0, sizeof(*s));
    s->id = src->id;
    s->reason = src->reason;
    s->path = xstrdup(src->path);
    s->start = s->next = src->offset;
    s->polled = src->polled;
}

static void
rec_data(void *opaque, uint64_t id, off_t offset, const char *buf, size_t len)
{
    struct rec *r = opaque;
    struct rsrc *s = rsrc_find(r, id);
    size_t pos = 0;

    assert_false(s->closed);
    assert_true(len > 0);
    assert_true(offset >= s->next);     /* forward only; gaps = skipped NULs */
    s->next = offset + (off_t)len;
    r->bytes += len;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t seg = nl ? (size_t)(nl - buf - pos) : len - pos;

        if (!s->in_line) {
            s->in_line = true;
            s->line_start = offset + (off_t)pos;
        }
        if (nl) {
            rec_line(r, s, buf + pos, seg);
            pos += seg + 1;
        } else {
            strbuf_add(&s->partial, buf + pos, seg);
            pos = len;
        }
    }
    if (!r->no_commit)
        assert_int_equal(tail_commit(r->t, id, s->in_line ? s->line_start : s->next), 0);
}

static void
rec_closed(void *opaque, uint64_t id, enum tail_close_reason why)
{
    struct rec *r = opaque;
    struct rsrc *s = rsrc_find(r, id);

    assert_false(s->closed);
    if (s->in_line)
        rec_line(r, s, "", 0);
    s->closed = true;
    s->why = why;
}

static const struct tail_callbacks rec_cb = { rec_opened, rec_data, rec_closed };

static void
rec_free(struct rec *r)
{
    for (size_t i = 0; i < r->nsrc; i++) {
        free(r->src[i].path);
        strbuf_release(&r->src[i].partial);
    }
    free(r->src);
    strbuf_release(&r->lines);
    tail_free(r->t);
    memset(r, 0, sizeof(*r));
}

/* ---- fixture ---- */

struct fx {
    char *dir;
    struct tail_opts opts;
    struct rec r;
};

static struct fx *fx;

static int
setup(void **state)
{
    fx = xcalloc(1, sizeof(*fx));
    fx->dir = testutil_mkdtemp();
    tail_opts_init(&fx->opts);
    fx->opts.reconcile_ms = 60000;      /* only inotify may find things in time */
    fx->opts.rotate_wait_ms = 300;
    fx->opts.poll_interval_ms = 50;
    fail_add_watch_errno = 0;
    fail_add_watch_files_only = false;
    fail_init_errno = 0;
    fake_fs_type = 0;
    testutil_log_capture_begin();
    alarm(CASE_TIMEOUT_S);      /* a hang kills the test program: FAIL */
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    alarm(0);
    testutil_log_capture_end();
    rec_free(&fx->r);
    testutil_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
    fx = NULL;
    return 0;
}

static char *
P(const char *name)
{
    return xasprintf("%s/%s", fx->dir, name);
}

static void
start(void)
{
    assert_int_equal(tail_new(&fx->opts, &fx->r.t), 0);
}

static uint64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void
step(int max_wait_ms)
{
    struct pollfd pfd = { .fd = tail_get_fd(fx->r.t), .events = POLLIN };
    int timeout = tail_next_timeout_ms(fx->r.t);

    assert_int_equal(tail_process(fx->r.t, &rec_cb, &fx->r), 0);
    timeout = tail_next_timeout_ms(fx->r.t);
    if (timeout > max_wait_ms)
        timeout = max_wait_ms;
    poll(&pfd, 1, timeout);
}

/* Process until @line (a whole line) was delivered, or fail. */
static void
wait_line(const char *line)
{
    AUTOFREE char *needle = xasprintf("\n%s\n", line);
    uint64_t end = mono_ms() + WAIT_MS;

    for (;;) {
        struct strbuf with_nl = STRBUF_INIT;
        bool found;

        strbuf_addch(&with_nl, '\n');
        strbuf_add(&with_nl, fx->r.lines.buf ? fx->r.lines.buf : "", fx->r.lines.len);
        found = strstr(with_nl.buf, needle) != NULL;
        strbuf_release(&with_nl);
        if (found)
            return;
        if (mono_ms() > end)
            fail_msg("line '%s' not delivered; got:\n%s", line, strbuf_str(&fx->r.lines));
        step(50);
    }
}

/* Process for @ms whatever happens. */
static void
settle(int ms)
{
    uint64_t end = mono_ms() + (uint64_t)ms;

    while (mono_ms() < end)
        step((int)(end - mono_ms()) + 1);
    assert_int_equal(tail_process(fx->r.t, &rec_cb, &fx->r), 0);
}

static void
put(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
put(const char *name, const char *fmt, ...)
{
    AUTOFREE char *path = P(name);
    AUTOFREE char *text = NULL;
    va_list ap;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

    assert_true(fd >= 0);
    va_start(ap, fmt);
    text = xvasprintf(fmt, ap);
    va_end(ap);
    assert_int_equal(write_all(fd, text, strlen(text)), 0);
    close(fd);
}

static void
touch(const char *name)
{
    AUTOFREE char *path = P(name);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

    assert_true(fd >= 0);
    close(fd);
}

/*
 * Wait until a file created now gets a later birth time than @name. File
 * timestamps are coarse (one kernel tick): the engine cannot order files
 * born in the same tick, and a real rotation does not follow the creation
 * of the file within one, so tests that count on the order wait here.
 */
static void
next_btime_tick(const char *name)
{
    AUTOFREE char *path = P(name);
    AUTOFREE char *probe = P(".tick-probe");
    struct statx ref;
    struct statx now;

    assert_int_equal(statx(AT_FDCWD, path, 0, STATX_BTIME, &ref), 0);
    if (!(ref.stx_mask & STATX_BTIME))
        return;
    for (int i = 0; i < 1000; i++) {
        int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(statx(AT_FDCWD, probe, 0, STATX_BTIME, &now), 0);
        assert_int_equal(unlink(probe), 0);
        if (now.stx_btime.tv_sec > ref.stx_btime.tv_sec ||
            (now.stx_btime.tv_sec == ref.stx_btime.tv_sec &&
             now.stx_btime.tv_nsec > ref.stx_btime.tv_nsec))
            return;
        usleep(1000);
    }
    fail_msg("the birth time of new files does not advance past '%s'", name);
}

static void
mv(const char *from, const char *to)
{
    AUTOFREE char *a = P(from);
    AUTOFREE char *b = P(to);

    assert_int_equal(rename(a, b), 0);
}

static int
open_append(const char *name)
{
    AUTOFREE char *path = P(name);
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);

    assert_true(fd >= 0);
    return fd;
}

static void
fd_put(int fd, const char *s)
{
    assert_int_equal(write_all(fd, s, strlen(s)), 0);
}

static void
follow(const char *name)
{
    AUTOFREE char *path = P(name);

    assert_int_equal(tail_add_path(fx->r.t, path), 0);
}

static size_t
count_lines(const char *line)
{
    AUTOFREE char *needle = xasprintf("\n%s\n", line);
    struct strbuf sb = STRBUF_INIT;
    size_t n = 0;

    strbuf_addch(&sb, '\n');
    strbuf_add(&sb, fx->r.lines.buf ? fx->r.lines.buf : "", fx->r.lines.len);
    for (const char *p = sb.buf; (p = strstr(p, needle)); p++)
        n++;
    strbuf_release(&sb);
    return n;
}

static const struct rsrc *
last_src(void)
{
    assert_true(fx->r.nsrc > 0);
    return &fx->r.src[fx->r.nsrc - 1];
}

static size_t
count_in_log(const char *needle)
{
    size_t n = 0;

    for (const char *p = testutil_log_captured(); (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static unsigned int
count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    unsigned int n = 0;

    assert_non_null(d);
    while ((de = readdir(d)))
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

static unsigned int
count_kernel_watches(void)
{
    AUTOFREE char *path = xasprintf("/proc/self/fdinfo/%d", tail_priv_inotify_fd(fx->r.t));
    AUTOFREE char *text = NULL;
    unsigned int n = 0;

    if (read_file_capped(path, 1 << 20, &text, NULL) < 0)
        return 0;
    for (const char *p = text; (p = strstr(p, "inotify wd:")); p++)
        n++;
    return n;
}

static char *
state_path(void)
{
    return P("state");
}

static void
save_state(void)
{
    AUTOFREE char *sp = state_path();

    assert_int_equal(tail_state_save(fx->r.t, sp, "blob!", 5), 0);
}

/* Save, drop the engine (as a crash after the save would), start a new one. */
static void
restart(void)
{
    save_state();
    rec_free(&fx->r);
    start();
}

static int
load_state(void)
{
    AUTOFREE char *sp = state_path();
    AUTOFREE char *blob = NULL;
    size_t len = 0;
    int rc = tail_state_load(fx->r.t, sp, &blob, &len);

    if (rc == 0) {
        assert_int_equal(len, 5);
        assert_memory_equal(blob, "blob!", 5);
    } else {
        assert_null(blob);
        assert_int_equal(len, 0);
    }
    return rc;
}

static struct tailstate *
read_state(void)
{
    AUTOFREE char *sp = state_path();
    AUTOFREE char *text = NULL;
    struct tailstate *st = NULL;
    size_t len = 0;

    assert_int_equal(read_file_capped(sp, TAILSTATE_MAX_SIZE, &text, &len), 0);
    assert_int_equal(tailstate_parse(text, len, &st, NULL), 0);
    return st;
}

static const struct rsrc *
src_with_reason(enum tail_open_reason reason)
{
    for (size_t i = 0; i < fx->r.nsrc; i++) {
        if (fx->r.src[i].reason == reason)
            return &fx->r.src[i];
    }
    fail_msg("no source opened as '%s'", tail_open_reason_str(reason));
    return NULL;
}

/* @a is delivered before @b. */
static void
assert_order(const char *a, const char *b)
{
    AUTOFREE char *na = xasprintf("%s\n", a);
    AUTOFREE char *nb = xasprintf("%s\n", b);
    const char *pa = strstr(strbuf_str(&fx->r.lines), na);
    const char *pb = strstr(strbuf_str(&fx->r.lines), nb);

    assert_non_null(pa);
    assert_non_null(pb);
    assert_true(pa < pb);
}

/* ---- the cases ---- */

static void
test_follow_basic(void **state)
{
    (void)state;
    put("log", "old1\nold2\n");
    start();
    follow("log");
    settle(30);
    assert_int_equal(fx->r.nsrc, 1);
    assert_int_equal(last_src()->reason, TAIL_OPEN_START);
    assert_int_equal(last_src()->start, 10);    /* the end: old lines are history */
    put("log", "new1\n");
    wait_line("new1");
    /* A partial line is held until it is complete. */
    put("log", "par");
    settle(100);
    assert_int_equal(fx->r.nlines, 1);
    put("log", "tial\n");
    wait_line("partial");
    assert_int_equal(fx->r.nlines, 2);
    assert_int_equal(count_lines("old1"), 0);
}

static void
test_start_positions(void **state)
{
    (void)state;
    put("a", "a1\na2\n");
    put("b", "b1\nincompl");
    put("c", "no newline at all");
    fx->opts.start_at_head = true;
    start();
    follow("a");
    wait_line("a2");
    assert_int_equal(count_lines("a1"), 1);
    rec_free(&fx->r);

    /* From the end: at the start of the last, incomplete, line. */
    fx->opts.start_at_head = false;
    start();
    follow("b");
    follow("c");
    settle(30);
    assert_int_equal(fx->r.src[0].start, 3);
    assert_int_equal(fx->r.src[1].start, 0);
    put("b", "ete\n");
    wait_line("incomplete");
    put("c", "\n");
    wait_line("no newline at all");
    assert_int_equal(count_lines("b1"), 0);
}

static void
test_pollable_fd(void **state)
{
    struct pollfd pfd;

    (void)state;
    touch("log");
    start();
    follow("log");
    assert_int_equal(tail_process(fx->r.t, &rec_cb, &fx->r), 0);
    assert_int_equal(tail_process(fx->r.t, &rec_cb, &fx->r), 0);
    put("log", "x\n");
    pfd.fd = tail_get_fd(fx->r.t);
    pfd.events = POLLIN;
    assert_int_equal(poll(&pfd, 1, 2000), 1);
    assert_int_equal(tail_process(fx->r.t, &rec_cb, &fx->r), 0);
    assert_int_equal(count_lines("x"), 1);
}

/* (b) 1 and 5: rename rotation, late writes to the old fd within the grace period. */
static void
test_rename_rotation_late_writes(void **state)
{
    int old;

    (void)state;
    fx->opts.rotate_wait_ms = 400;
    touch("log");
    start();
    follow("log");
    settle(20);
    put("log", "A\n");
    wait_line("A");
    old = open_append("log");
    mv("log", "log.1");
    put("log", "C\n");
    fd_put(old, "B\n");
    wait_line("C");
    wait_line("B");
    fd_put(old, "B2\n");
    wait_line("B2");
    settle(700);
    assert_true(fx->r.src[0].closed);
    assert_int_equal(fx->r.src[0].why, TAIL_CLOSE_DRAINED);
    fd_put(old, "B3\n");        /* after the grace period: not read */
    settle(100);
    close(old);
    assert_int_equal(count_lines("B3"), 0);
    assert_int_equal(fx->r.nlines, 4);
    assert_int_equal(fx->r.src[0].nlines, 3);   /* A, B, B2 from the old file */
    assert_int_equal(fx->r.src[1].reason, TAIL_OPEN_ROTATED);
    assert_int_equal(fx->r.src[1].start, 0);
    assert_int_equal(count_in_log("rotated or replaced"), 1);
}

/* (b) 2: two rotations in a row, late writes to each old fd. */
static void
test_double_rotation(void **state)
{
    int fd1;
    int fd2;

    (void)state;
    fx->opts.rotate_wait_ms = 2000;
    touch("log");
    start();
    follow("log");
    settle(20);
    put("log", "1\n");
    wait_line("1");
    fd1 = open_append("log");
    mv("log", "log.1");
    put("log", "2\n");
    wait_line("2");
    fd2 = open_append("log");
    mv("log.1", "log.2");
    mv("log", "log.1");
    put("log", "3\n");
    fd_put(fd1, "late1\n");
    fd_put(fd2, "late2\n");
    wait_line("3");
    wait_line("late1");
    wait_line("late2");
    settle(50);
    close(fd1);
    close(fd2);
    assert_int_equal(fx->r.nlines, 5);
    assert_int_equal(fx->r.nsrc, 3);
}

/* Two rotations before the engine looks: the middle file never was at the name. */
static void
test_double_rotation_unseen(void **state)
{
    (void)state;
    touch("log");
    start();
    follow("log");
    settle(20);
    put("log", "1\n");
    wait_line("1");
    mv("log", "log.1");
    put("log", "2\n");
    mv("log.1", "log.2");
    mv("log", "log.1");
    put("log", "3\n");
    wait_line("3");
    wait_line("2");
    assert_order("1", "2");
    assert_order("2", "3");
    assert_int_equal(fx->r.nlines, 3);
    assert_int_equal(count_in_log("rotated away before it was read"), 1);
}

/* (b) 6: coreutils inotify-rotate.sh, 50 times. */
static void
test_rotate_loop(void **state)
{
    (void)state;
    fx->opts.rotate_wait_ms = 0;
    touch("k");
    start();
    follow("k");
    settle(20);
    for (int i = 0; i < 50; i++) {
        AUTOFREE char *ok = xasprintf("ok%d", i);
        AUTOFREE char *x = P("x");
        AUTOFREE char *k = P("k");

        put("k", "tailed%d\n", i);
        touch("x");
        assert_int_equal(rename(x, k), 0);
        put("k", "%s\n", ok);
        wait_line(ok);
    }
    for (int i = 0; i < 50; i++) {
        AUTOFREE char *ok = xasprintf("ok%d", i);

        assert_int_equal(count_lines(ok), 1);
    }
}

/* (b) 7: 1000 rotations leak neither fds nor inotify watches. */
static void
test_1000_rotations(void **state)
{
    unsigned int fds;
    unsigned int watches;
    struct tail_stats st;

    (void)state;
    fx->opts.rotate_wait_ms = 0;
    touch("log");
    start();
    follow("log");
    settle(20);
    fds = count_fds();
    watches = count_kernel_watches();
    assert_int_equal(watches, 2);       /* the directory and the file */
    assert_int_equal(tail_priv_watch_count(fx->r.t), 2);
    for (int i = 0; i < 1000; i++) {
        put("log", "line %d\n", i);
        mv("log", "log.1");
        touch("log");
        assert_int_equal(tail_process(fx->r.t, &rec_cb, &fx->r), 0);
    }
    settle(50);
    assert_int_equal(fx->r.nlines, 1000);
    for (int i = 0; i < 1000; i += 37) {
        AUTOFREE char *line = xasprintf("line %d", i);

        assert_int_equal(count_lines(line), 1);
    }
    assert_int_equal(count_fds(), fds);
    assert_int_equal(count_kernel_watches(), watches);
    assert_int_equal(tail_priv_watch_count(fx->r.t), 2);
    tail_get_stats(fx->r.t, &st);
    assert_int_equal(st.rotations, 1000);
    assert_int_equal(st.files_open, 1);
}

/* Rotated files kept open are bounded by max_rotated. */
static void
test_rotated_fd_bound(void **state)
{
    unsigned int fds;

    (void)state;
    fx->opts.rotate_wait_ms = 60000;
    fx->opts.max_rotated = 4;
    touch("log");
    start();
    follow("log");
    settle(20);
    fds = count_fds();
    for (int i = 0; i < 40; i++) {
        AUTOFREE char *name = xasprintf("log.%d", i);

        put("log", "r%d\n", i);
        mv("log", name);
        touch("log");
        assert_int_equal(tail_process(fx->r.t, &rec_cb, &fx->r), 0);
        assert_true(count_fds() <= fds + 4);
    }
    assert_int_equal(fx->r.nlines, 40);
    assert_int_equal(count_in_log("rotated files open"), 1);
}

/* (b) 8: rename(new, watched), also after the watched name was unlinked. */
static void
test_rename_over(void **state)
{
    AUTOFREE char *log = P("log");

    (void)state;
    put("log", "a\n");
    start();
    follow("log");
    settle(20);
    put("new", "b\n");
    mv("new", "log");
    wait_line("b");
    assert_int_equal(last_src()->start, 0);
    assert_int_equal(unlink(log), 0);
    settle(50);
    put("new2", "c\n");
    mv("new2", "log");
    wait_line("c");
    assert_int_equal(last_src()->reason, TAIL_OPEN_RECREATED);
    assert_int_equal(count_lines("a"), 0);
    assert_int_equal(fx->r.nlines, 2);
}

/* (b) 9: delete and recreate. */
static void
test_delete_recreate(void **state)
{
    AUTOFREE char *log = P("log");

    (void)state;
    fx->opts.rotate_wait_ms = 0;
    put("log", "one\n");
    start();
    follow("log");
    settle(20);
    put("log", "two\n");
    wait_line("two");
    assert_int_equal(unlink(log), 0);
    settle(50);
    assert_true(fx->r.src[0].closed);
    put("log", "three\n");
    wait_line("three");
    assert_int_equal(last_src()->reason, TAIL_OPEN_RECREATED);
    assert_int_equal(last_src()->start, 0);
    assert_int_equal(count_in_log("was deleted"), 1);
}

/* (b) 10: the log directory removed and recreated (twice), and renamed away. */
static void
test_dir_recreate(void **state)
{
    AUTOFREE char *d = P("d");
    AUTOFREE char *log = P("d/log");
    AUTOFREE char *old = P("d.old");

    (void)state;
    assert_int_equal(mkdir(d, 0755), 0);
    put("d/log", "x\n");
    start();
    follow("d/log");
    settle(20);
    put("d/log", "a\n");
    wait_line("a");
    for (int round = 0; round < 2; round++) {
        AUTOFREE char *line = xasprintf("r%d", round);

        assert_int_equal(unlink(log), 0);
        assert_int_equal(rmdir(d), 0);
        settle(100);
        assert_int_equal(mkdir(d, 0755), 0);
        settle(30);
        put("d/log", "%s\n", line);
        wait_line(line);
    }
    assert_int_equal(rename(d, old), 0);
    assert_int_equal(mkdir(d, 0755), 0);
    put("d/log", "moved\n");
    wait_line("moved");
    settle(400);
    assert_int_equal(fx->r.nlines, 4);
    assert_int_equal(tail_priv_watch_count(fx->r.t), 2);
    assert_int_equal(count_kernel_watches(), 2);
}

/* (b) 11: the file and two levels of directories do not exist at start. */
static void
test_absent_at_start(void **state)
{
    AUTOFREE char *a = P("a");
    AUTOFREE char *b = P("a/b");

    (void)state;
    start();
    follow("a/b/log");
    settle(30);
    assert_int_equal(fx->r.nsrc, 0);
    assert_int_equal(mkdir(a, 0755), 0);
    settle(30);
    assert_int_equal(mkdir(b, 0755), 0);
    settle(30);
    put("a/b/log", "first\n");
    wait_line("first");
    assert_int_equal(last_src()->reason, TAIL_OPEN_NEW);
    assert_int_equal(last_src()->start, 0);
    /* The ancestor watches were replaced by the parent's. */
    assert_int_equal(tail_priv_watch_count(fx->r.t), 2);
}

/* (b) 12: a sibling file does not disturb. */
static void
test_sibling(void **state)
{
    (void)state;
    touch("log");
    start();
    follow("log");
    settle(20);
    put("log.bak", "junk\n");
    put(".log.swp", "junk2\n");
    settle(100);
    assert_int_equal(fx->r.nsrc, 1);
    put("log", "ok\n");
    wait_line("ok");
    assert_int_equal(fx->r.nlines, 1);
    assert_int_equal(fx->r.nsrc, 1);
}

/* (b) 13: symlink retargeted with ln -s t2 tmp && mv -T tmp current.log. */
static void
test_symlink_retarget(void **state)
{
    AUTOFREE char *cur = P("current.log");
    AUTOFREE char *tmp = P("tmp");

    (void)state;
    fx->opts.rotate_wait_ms = 1000;
    put("t1", "t1-old\n");
    assert_int_equal(symlink("t1", cur), 0);
    start();
    follow("current.log");
    settle(20);
    put("t1", "t1-a\n");
    wait_line("t1-a");
    put("t2", "t2-a\n");
    assert_int_equal(symlink("t2", tmp), 0);
    assert_int_equal(rename(tmp, cur), 0);
    wait_line("t2-a");
    put("t1", "t1-late\n");
    wait_line("t1-late");
    put("t2", "t2-b\n");
    wait_line("t2-b");
    assert_int_equal(count_lines("t1-old"), 0);
    assert_int_equal(fx->r.nlines, 4);
}

/* (b) 14: dangling symlink; the target appears (same dir: inotify; other dir: reconcile). */
static void
test_dangling_symlink(void **state)
{
    AUTOFREE char *cur = P("current.log");
    AUTOFREE char *other = P("other.log");
    AUTOFREE char *sub = P("sub");

    (void)state;
    assert_int_equal(symlink("t3", cur), 0);
    assert_int_equal(symlink("sub/t4", other), 0);
    fx->opts.reconcile_ms = 100;
    start();
    follow("current.log");
    follow("other.log");
    settle(50);
    assert_int_equal(fx->r.nsrc, 0);
    put("t3", "hello\n");
    wait_line("hello");
    assert_int_equal(last_src()->reason, TAIL_OPEN_NEW);
    assert_int_equal(mkdir(sub, 0755), 0);
    put("sub/t4", "there\n");
    wait_line("there");
}

/* (b) 15: mv a b with both followed: b continues a's stream, nothing re-read. */
static void
test_mv_a_b(void **state)
{
    (void)state;
    touch("a");
    touch("b");
    start();
    follow("a");
    follow("b");
    settle(20);
    put("a", "a1\n");
    put("b", "b1\n");
    wait_line("a1");
    wait_line("b1");
    mv("a", "b");
    put("b", "after\n");
    wait_line("after");
    settle(400);
    assert_int_equal(fx->r.nsrc, 2);
    assert_int_equal(fx->r.nlines, 3);
    assert_int_equal(count_in_log("was renamed to"), 1);
    put("a", "a-new\n");
    wait_line("a-new");
}

/* (b) 16: truncate -s 0 then append: 300 lines, saved offset == file size. */
static void
test_truncate(void **state)
{
    AUTOFREE char *log = P("log");
    struct tailstate *st;

    (void)state;
    touch("log");
    start();
    follow("log");
    settle(20);
    for (int i = 0; i < 200; i++)
        put("log", "line-%03d\n", i);
    wait_line("line-199");
    assert_int_equal(truncate(log, 0), 0);
    for (int i = 0; i < 100; i++)
        put("log", "after-%02d\n", i);
    wait_line("after-99");
    settle(30);
    assert_int_equal(fx->r.nlines, 300);
    assert_int_equal(src_with_reason(TAIL_OPEN_TRUNCATED)->start, 0);
    save_state();
    st = read_state();
    assert_int_equal(st->nfiles, 1);
    assert_true(st->files[0].offset == 900);
    tailstate_free(st);
}

/* (b) 17: copytruncate with a writer without O_APPEND: no NUL bytes in lines. */
static void
test_copytruncate_nul(void **state)
{
    AUTOFREE char *log = P("log");
    struct tail_stats st;
    int w;

    (void)state;
    touch("log");
    start();
    follow("log");
    settle(20);
    w = open(log, O_WRONLY | O_CLOEXEC);
    assert_true(w >= 0);
    for (int i = 0; i < 50; i++) {
        char line[32];

        snprintf(line, sizeof(line), "w%02d\n", i);
        fd_put(w, line);
    }
    wait_line("w49");
    assert_int_equal(truncate(log, 0), 0);      /* the copy part is irrelevant here */
    fd_put(w, "after\n");                       /* lands at offset 200: a NUL hole */
    wait_line("after");
    close(w);
    assert_null(memchr(fx->r.lines.buf, '\0', fx->r.lines.len));
    tail_get_stats(fx->r.t, &st);
    assert_true(st.nul_bytes_skipped == 200);
    assert_int_equal(fx->r.nlines, 51);
}

/* (b) 18: truncated and rewritten past the old offset before we look. */
static void
test_truncate_regrow(void **state)
{
    AUTOFREE char *log = P("log");
    struct strbuf big = STRBUF_INIT;

    (void)state;
    touch("log");
    start();
    follow("log");
    settle(20);
    for (int i = 0; i < 10; i++)
        put("log", "aaaa%d\n", i);
    wait_line("aaaa9");
    for (int i = 0; i < 20; i++)
        strbuf_addf(&big, "bbbbbbbb%02d\n", i);
    assert_int_equal(write_file_atomic(log, big.buf, big.len, 0644), 0);
    strbuf_release(&big);
    wait_line("bbbbbbbb19");
    assert_int_equal(count_lines("bbbbbbbb00"), 1);
    assert_int_equal(fx->r.nlines, 30);

    /* Same size, different content, same inode: found by the fingerprints. */
    rec_free(&fx->r);
    touch("same");
    start();
    follow("same");
    settle(20);
    put("same", "1111\n2222\n");
    wait_line("2222");
    {
        AUTOFREE char *same = P("same");
        int fd = open(same, O_WRONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, "3333\n4444\n5555\n", 15, 0), 15);
        close(fd);
    }
    wait_line("5555");
    assert_int_equal(count_lines("3333"), 1);
    assert_int_equal(last_src()->reason, TAIL_OPEN_TRUNCATED);
}

/* (b) 22: restart resumes at the saved offset. */
static void
test_restart_resume(void **state)
{
    (void)state;
    put("log", "line1\n");
    fx->opts.start_at_head = true;
    start();
    follow("log");
    wait_line("line1");
    restart();
    put("log", "line2\n");
    assert_int_equal(load_state(), 0);
    follow("log");
    wait_line("line2");
    settle(30);
    assert_int_equal(count_lines("line1"), 0);
    assert_int_equal(last_src()->reason, TAIL_OPEN_RESUME);
    assert_int_equal(last_src()->start, 6);
    /* Loading after the start is refused. */
    {
        AUTOFREE char *sp = state_path();
        char *blob = NULL;
        size_t len = 0;

        assert_int_equal(tail_state_load(fx->r.t, sp, &blob, &len), -EBUSY);
    }
}

/* (b) 23: a partial line at stop is completed once after the restart. */
static void
test_partial_across_restart(void **state)
{
    (void)state;
    put("log", "a\npar");
    fx->opts.start_at_head = true;
    start();
    follow("log");
    wait_line("a");
    settle(30);
    restart();
    put("log", "tial\n");
    assert_int_equal(load_state(), 0);
    follow("log");
    wait_line("partial");
    settle(30);
    assert_int_equal(fx->r.nlines, 1);
    assert_int_equal(last_src()->start, 2);
}

/* (b) 24: rotated once, then twice, while stopped. */
static void
test_rotated_while_down(void **state)
{
    (void)state;
    put("log", "1\n");
    fx->opts.start_at_head = true;
    start();
    follow("log");
    wait_line("1");
    restart();
    put("log", "2\n");          /* unread when it was rotated */
    mv("log", "log.1");
    put("log", "3\n");
    assert_int_equal(load_state(), 0);
    follow("log");
    wait_line("2");
    wait_line("3");
    assert_order("2", "3");
    assert_int_equal(fx->r.nlines, 2);
    assert_int_equal(fx->r.src[0].reason, TAIL_OPEN_RESUME);
    assert_int_equal(fx->r.src[1].reason, TAIL_OPEN_ROTATED);

    /* Twice: the saved file is two rotations away and one file was never seen. */
    next_btime_tick("log");
    restart();
    put("log", "4\n");
    mv("log", "log.1");
    put("log", "5\n");
    mv("log.1", "log.2");
    mv("log", "log.1");
    put("log", "6\n");
    assert_int_equal(load_state(), 0);
    follow("log");
    wait_line("4");
    wait_line("5");
    wait_line("6");
    assert_order("4", "5");
    assert_order("5", "6");
    settle(30);
    assert_int_equal(fx->r.nlines, 3);
}

/* Rotated away, nothing at the name yet, then stopped: the anchor in the
 * state finds a file that was born and rotated away while we were down. */
static void
test_anchor_across_restart(void **state)
{
    struct tailstate *st;

    (void)state;
    put("log", "1\n");
    fx->opts.start_at_head = true;
    start();
    follow("log");
    wait_line("1");
    mv("log", "log.1");
    settle(50);
    restart();
    st = read_state();
    assert_int_equal(st->nanchors, 1);
    assert_true(st->anchors[0].btime.known);
    tailstate_free(st);
    put("log", "2\n");
    mv("log", "log.2");
    put("log", "3\n");
    assert_int_equal(load_state(), 0);
    follow("log");
    wait_line("2");
    wait_line("3");
    assert_order("2", "3");
    settle(30);
    assert_int_equal(fx->r.nlines, 2);
}

/* The saved file was deleted while stopped: its birth time, saved, still
 * finds the file that came after it. */
static void
test_deleted_while_down(void **state)
{
    AUTOFREE char *log = P("log");

    (void)state;
    put("log", "1\n");
    fx->opts.start_at_head = true;
    start();
    follow("log");
    wait_line("1");
    next_btime_tick("log");
    restart();
    assert_int_equal(unlink(log), 0);
    put("log", "2\n");
    mv("log", "log.1");
    put("log", "3\n");
    assert_int_equal(load_state(), 0);
    follow("log");
    wait_line("2");
    wait_line("3");
    assert_order("2", "3");
    assert_int_equal(count_in_log("is gone"), 1);
}

/* The grace period of a rotated file runs from the rotation, across restarts. */
static void
test_rotated_grace_across_restart(void **state)
{
    struct tailstate *st;

    (void)state;
    fx->opts.rotate_wait_ms = 300;
    touch("log");
    start();
    follow("log");
    settle(20);
    put("log", "a\n");
    wait_line("a");
    mv("log", "log.1");
    put("log", "b\n");
    wait_line("b");
    restart();
    st = read_state();
    assert_int_equal(st->nfiles, 2);
    assert_true(st->files[0].rotated_ms > 0 || st->files[1].rotated_ms > 0);
    tailstate_free(st);
    usleep(400 * 1000);         /* the grace period ends while stopped */
    assert_int_equal(load_state(), 0);
    follow("log");
    settle(30);
    /* Reopened to read what was left, then closed at once. */
    assert_int_equal(fx->r.nsrc, 2);
    assert_int_equal(fx->r.src[1].reason, TAIL_OPEN_RESUME);
    assert_non_null(strstr(fx->r.src[1].path, "/log.1"));
    assert_true(fx->r.src[1].closed);
    assert_false(fx->r.src[0].closed);
    save_state();
    st = read_state();
    assert_int_equal(st->nfiles, 1);
    tailstate_free(st);
}

/* (b) 19: copytruncate while stopped: only the new content. */
static void
test_copytruncate_while_down(void **state)
{
    AUTOFREE char *log = P("log");

    (void)state;
    put("log", "old\n");
    fx->opts.start_at_head = true;
    start();
    follow("log");
    wait_line("old");
    restart();
    assert_int_equal(truncate(log, 0), 0);
    put("log", "new content, longer than before\n");
    assert_int_equal(load_state(), 0);
    follow("log");
    wait_line("new content, longer than before");
    assert_int_equal(last_src()->reason, TAIL_OPEN_TRUNCATED);

    /* Shorter than the saved offset. */
    restart();
    assert_int_equal(truncate(log, 0), 0);
    put("log", "s\n");
    assert_int_equal(load_state(), 0);
    follow("log");
    wait_line("s");
    assert_int_equal(last_src()->reason, TAIL_OPEN_TRUNCATED);
    assert_int_equal(count_lines("old"), 0);
}

/* (b) 9 across a restart: deleted and recreated, possibly with the same inode. */
static void
test_recreated_while_down(void **state)
{
    AUTOFREE char *log = P("log");
    struct stat a;
    struct stat b;

    (void)state;
    put("log", "x1\n");
    fx->opts.start_at_head = true;
    start();
    follow("log");
    wait_line("x1");
    assert_int_equal(stat(log, &a), 0);
    restart();
    assert_int_equal(unlink(log), 0);
    put("log", "y-different\n");
    assert_int_equal(stat(log, &b), 0);
    assert_int_equal(load_state(), 0);
    follow("log");
    wait_line("y-different");
    /* Same inode number reused: only the fingerprint tells them apart. */
    assert_int_equal(last_src()->reason,
                     a.st_ino == b.st_ino ? TAIL_OPEN_TRUNCATED : TAIL_OPEN_ROTATED);
    assert_int_equal(last_src()->start, 0);
    print_message("    (inode %s)\n", a.st_ino == b.st_ino ? "reused" : "not reused");
}

/* (b) 25: missing, corrupt, future, symlinked, unsafe state files. */
static void
test_bad_state_files(void **state)
{
    AUTOFREE char *sp = state_path();
    AUTOFREE char *real = P("real-state");
    static const char future[] = "version 2\nblob 0\n\n";
    struct strbuf sb = STRBUF_INIT;

    (void)state;
    put("log", "history\n");
    start();
    assert_int_equal(load_state(), -ENOENT);
    assert_int_equal(count_in_log("no state file"), 1);
    follow("log");
    settle(30);
    assert_int_equal(last_src()->reason, TAIL_OPEN_START);
    assert_int_equal(last_src()->start, 8);
    rec_free(&fx->r);

    assert_int_equal(write_file_atomic(sp, "garbage", 7, 0600), 0);
    start();
    assert_int_equal(load_state(), -EINVAL);
    assert_int_equal(count_in_log("is unusable"), 1);
    rec_free(&fx->r);

    /* Configurable: from the start instead. */
    fx->opts.start_at_head = true;
    start();
    assert_int_equal(load_state(), -EINVAL);
    follow("log");
    wait_line("history");
    rec_free(&fx->r);
    fx->opts.start_at_head = false;

    strbuf_add(&sb, future, sizeof(future) - 1);
    strbuf_addf(&sb, "checksum %016llx\n",
                (unsigned long long)tailstate_hash(future, sizeof(future) - 1));
    assert_int_equal(write_file_atomic(sp, sb.buf, sb.len, 0600), 0);
    strbuf_release(&sb);
    start();
    assert_int_equal(load_state(), -ENOTSUP);
    rec_free(&fx->r);

    assert_int_equal(unlink(sp), 0);
    assert_int_equal(write_file_atomic(real, "x", 1, 0600), 0);
    assert_int_equal(symlink(real, sp), 0);
    start();
    assert_int_equal(load_state(), -ELOOP);
    rec_free(&fx->r);

    assert_int_equal(unlink(sp), 0);
    assert_int_equal(write_file_atomic(sp, "x", 1, 0666), 0);
    start();
    assert_int_equal(load_state(), -EPERM);
    /* Saving replaces it with a private file. */
    follow("log");
    settle(20);
    save_state();
    {
        struct stat sbuf;

        assert_int_equal(lstat(sp, &sbuf), 0);
        assert_int_equal(sbuf.st_mode & 07777, 0600);
    }
}

/* New files while stopped (glob, known path) are read from 0; a new path in the config starts at its end. */
static void
test_new_while_down(void **state)
{
    AUTOFREE char *g = P("g");
    AUTOFREE char *glob = P("g/*.log");
    AUTOFREE char *late = P("late");

    (void)state;
    assert_int_equal(mkdir(g, 0755), 0);
    put("g/a.log", "a0\n");
    start();
    assert_int_equal(tail_add_glob(fx->r.t, glob), 0);
    follow("late");
    settle(30);
    restart();
    put("g/a.log", "a1\n");
    put("g/b.log", "b1\n");
    put("late", "late1\n");
    put("extra", "extra-history\n");
    assert_int_equal(load_state(), 0);
    assert_int_equal(tail_add_glob(fx->r.t, glob), 0);
    assert_int_equal(tail_add_path(fx->r.t, late), 0);
    follow("extra");
    wait_line("a1");
    wait_line("b1");
    wait_line("late1");
    settle(30);
    assert_int_equal(count_lines("a0"), 0);
    assert_int_equal(count_lines("extra-history"), 0);
    put("extra", "extra-new\n");
    wait_line("extra-new");
}

/* The saved (offset, marker) pair never describes content we did not read. */
static void
test_state_marker_after_truncate(void **state)
{
    AUTOFREE char *x = P("x");
    struct tailstate *st;
    uint64_t id;
    int fd;

    (void)state;
    touch("x");
    start();
    fx->r.no_commit = true;
    follow("x");
    settle(20);
    id = fx->r.src[0].id;
    put("x", "one\n");
    wait_line("one");
    assert_int_equal(tail_commit(fx->r.t, id, 4), 0);
    save_state();
    put("x", "two\n");
    wait_line("two");
    /* Committed short of what was read: the marker must come from the file. */
    assert_int_equal(tail_commit(fx->r.t, id, 6), 0);
    /* Truncated and regrown in place without the engine looking, then saved. */
    fd = open(x, O_WRONLY | O_TRUNC | O_CLOEXEC);
    assert_true(fd >= 0);
    fd_put(fd, "completely different and longer\n");
    close(fd);
    save_state();
    st = read_state();
    assert_true(st->files[0].offset == 4);      /* the last verified pair */
    assert_true(st->files[0].mark_hash == tailstate_hash("one\n", 4));
    tailstate_free(st);
    rec_free(&fx->r);
    start();
    assert_int_equal(load_state(), 0);
    follow("x");
    wait_line("completely different and longer");
    assert_int_equal(last_src()->reason, TAIL_OPEN_TRUNCATED);
}

/* (b) 30 and commit semantics: a 1 MiB line, committed at its start while partial. */
static void
test_long_line(void **state)
{
    const size_t big = 1u << 20;
    AUTOFREE char *line = xmalloc(big + 1);
    struct tailstate *st;
    const char *p;

    (void)state;
    fx->opts.read_chunk = 4096;
    fx->opts.read_budget = 16384;
    touch("log");
    start();
    follow("log");
    settle(20);
    memset(line, 'x', big);
    line[big] = '\0';
    put("log", "before\n%s", line);
    wait_line("before");
    settle(100);
    save_state();
    st = read_state();
    assert_true(st->files[0].offset == 7);      /* start of the incomplete line */
    tailstate_free(st);
    put("log", "\nafter\n");
    wait_line("after");
    assert_int_equal(fx->r.nlines, 3);
    p = strbuf_str(&fx->r.lines);
    assert_int_equal(strncmp(p, "before\n", 7), 0);
    assert_int_equal(strspn(p + 7, "x"), big);
    assert_string_equal(p + 7 + big, "\nafter\n");
}

static void
test_commit_api(void **state)
{
    struct tailstate *st;
    uint64_t id;

    (void)state;
    put("log", "abc\n");
    fx->opts.start_at_head = true;
    start();
    fx->r.no_commit = true;
    follow("log");
    wait_line("abc");
    id = fx->r.src[0].id;
    assert_int_equal(tail_commit(fx->r.t, id, 5), -EINVAL);    /* beyond what was read */
    assert_int_equal(tail_commit(fx->r.t, id, 2), 0);
    assert_int_equal(tail_commit(fx->r.t, id, 1), -EINVAL);    /* backwards */
    assert_int_equal(tail_commit(fx->r.t, id + 100, 0), -ENOENT);
    assert_true(tail_state_dirty(fx->r.t));
    save_state();
    assert_false(tail_state_dirty(fx->r.t));
    st = read_state();
    assert_true(st->files[0].offset == 2);
    assert_int_equal(st->files[0].mark_len, 2);
    assert_true(st->files[0].mark_hash == tailstate_hash("ab", 2));
    assert_int_equal(st->files[0].head_len, 4);
    assert_true(st->files[0].head_hash == tailstate_hash("abc\n", 4));
    tailstate_free(st);
    /* Uncommitted bytes come again after a restart. */
    rec_free(&fx->r);
    start();
    assert_int_equal(load_state(), 0);
    follow("log");
    wait_line("c");
}

/* (b) 36: watch limit reached: polling, said once per file. */
static void
test_watch_limit(void **state)
{
    (void)state;
    fail_add_watch_errno = ENOSPC;
    fail_add_watch_files_only = true;
    touch("log");
    start();
    follow("log");
    settle(20);
    assert_true(last_src()->polled);
    assert_int_equal(count_in_log("inotify watch limit reached"), 1);
    put("log", "p1\n");
    wait_line("p1");
    mv("log", "log.1");
    put("log", "p2\n");
    wait_line("p2");
    put("log", "p3\n");
    wait_line("p3");
    assert_int_equal(count_in_log("inotify watch limit reached"), 1);

    /* The limit is gone: back to inotify at the next reconcile. */
    fail_add_watch_errno = 0;
    rec_free(&fx->r);
    fx->opts.reconcile_ms = 50;
    fail_add_watch_errno = ENOSPC;
    start();
    follow("log");
    settle(20);
    fail_add_watch_errno = 0;
    settle(120);
    assert_int_equal(tail_priv_watch_count(fx->r.t), 2);
    {
        struct tail_stats st;

        tail_get_stats(fx->r.t, &st);
        assert_int_equal(st.polled_files, 0);
    }
    assert_int_equal(count_in_log("watched with inotify again"), 1);
}

/* Directories cannot be watched either, or inotify is missing entirely. */
static void
test_no_inotify(void **state)
{
    AUTOFREE char *log = P("log");

    (void)state;
    fail_add_watch_errno = ENOSPC;
    touch("log");
    start();
    follow("log");
    settle(20);
    assert_int_equal(count_in_log("cannot watch directory"), 1);
    mv("log", "log.1");
    put("log", "d1\n");
    wait_line("d1");
    assert_int_equal(count_in_log("cannot watch directory"), 1);
    rec_free(&fx->r);

    fail_add_watch_errno = 0;
    fail_init_errno = EMFILE;
    start();
    assert_int_equal(tail_priv_inotify_fd(fx->r.t), -1);
    follow("log");
    settle(20);
    put("log", "i1\n");
    wait_line("i1");
    assert_int_equal(unlink(log), 0);
    put("log", "i2\n");
    wait_line("i2");
    assert_int_equal(count_in_log("inotify is not available"), 1);
}

/* (b) 37: a remote file system (fstatfs f_type faked as NFS) is polled. */
static void
test_remote_fs(void **state)
{
    (void)state;
    fake_fs_type = 0x6969;
    fstatfs_calls = 0;
    touch("log");
    start();
    follow("log");
    settle(20);
    if (fstatfs_calls == 0)
        skip();     /* the wrap did not apply (e.g. fstatfs64 on 32-bit) */
    assert_true(last_src()->polled);
    assert_int_equal(count_in_log("remote file system"), 1);
    put("log", "nfs1\n");
    wait_line("nfs1");
    settle(100);
    assert_int_equal(count_in_log("remote file system"), 1);
}

/* (b) 39: the path becomes a directory, then a FIFO: diagnosed once, no hang. */
static void
test_not_regular(void **state)
{
    AUTOFREE char *log = P("log");

    (void)state;
    fx->opts.reconcile_ms = 50;
    touch("log");
    start();
    follow("log");
    settle(20);
    put("log", "r1\n");
    wait_line("r1");
    assert_int_equal(unlink(log), 0);
    assert_int_equal(mkdir(log, 0755), 0);
    settle(150);
    assert_int_equal(count_in_log("is a directory"), 1);
    assert_int_equal(rmdir(log), 0);
    settle(150);
    assert_int_equal(mkfifo(log, 0644), 0);
    settle(150);
    assert_int_equal(count_in_log("is a FIFO"), 1);
    assert_int_equal(unlink(log), 0);
    put("log", "r2\n");
    wait_line("r2");
    assert_int_equal(last_src()->start, 0);
    assert_int_equal(fx->r.nlines, 2);
}

/* (b) 40: offsets beyond 4 GiB on a sparse file; a 5 GiB hole is skipped. */
static void
test_big_offsets(void **state)
{
    AUTOFREE char *log = P("log");
    const off_t five = (off_t)5 << 30;
    struct tail_stats st;
    int fd;

    (void)state;
    fd = open(log, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    if (ftruncate(fd, five) < 0) {
        close(fd);
        skip();
    }
    close(fd);
    put("log", "tail1\n");
    start();
    follow("log");
    settle(20);
    assert_true(last_src()->start == five + 6);
    put("log", "tail2\n");
    wait_line("tail2");
    assert_true(last_src()->next == five + 12);
    restart();
    put("log", "tail3\n");
    assert_int_equal(load_state(), 0);
    follow("log");
    wait_line("tail3");
    assert_int_equal(last_src()->reason, TAIL_OPEN_RESUME);
    assert_true(last_src()->start == five + 12);
    rec_free(&fx->r);

    /* From the start: the hole is NULs at a line start, jumped over. */
    fx->opts.start_at_head = true;
    start();
    follow("log");
    wait_line("tail1");
    wait_line("tail3");
    tail_get_stats(fx->r.t, &st);
    assert_true(st.nul_bytes_skipped == (uint64_t)five);
    assert_true(st.bytes_read < (64u << 20));
}

/* (b) 34: events lost; IN_Q_OVERFLOW makes the engine look at everything. */
static void
test_queue_overflow(void **state)
{
    struct inotify_event ev = { .wd = -1, .mask = IN_Q_OVERFLOW };
    char buf[4096];
    struct tail_stats st;

    (void)state;
    touch("log");
    start();
    follow("log");
    settle(20);
    mv("log", "log.1");
    put("log", "x\n");
    /* Steal the events, as an overflowing queue would lose them. */
    while (read(tail_priv_inotify_fd(fx->r.t), buf, sizeof(buf)) > 0)
        ;
    settle(100);
    assert_int_equal(fx->r.nsrc, 1);
    tail_priv_dispatch(fx->r.t, &ev, sizeof(ev));
    wait_line("x");
    tail_get_stats(fx->r.t, &st);
    assert_int_equal(st.queue_overflows, 1);
    assert_int_equal(count_in_log("queue overflowed"), 1);
}

/* Globs: later files from 0, non-matching and dot files ignored, gone files forgotten. */
static void
test_glob(void **state)
{
    AUTOFREE char *g = P("g");
    AUTOFREE char *h = P("h");
    AUTOFREE char *gpat = P("g/*.log");
    AUTOFREE char *hpat = P("h/*.log");
    AUTOFREE char *bad = P("*/x.log");
    AUTOFREE char *b = P("g/b.log");
    struct tail_stats st;

    (void)state;
    assert_int_equal(mkdir(g, 0755), 0);
    put("g/a.log", "a-old\n");
    put("g/.hidden.log", "hidden\n");
    put("g/x.txt", "txt\n");
    start();
    assert_int_equal(tail_add_glob(fx->r.t, gpat), 0);
    assert_int_equal(tail_add_glob(fx->r.t, gpat), -EEXIST);
    assert_int_equal(tail_add_glob(fx->r.t, bad), -EINVAL);
    assert_int_equal(tail_add_glob(fx->r.t, hpat), 0);
    settle(30);
    assert_int_equal(fx->r.nsrc, 1);
    put("g/b.log", "b1\n");
    wait_line("b1");
    assert_int_equal(last_src()->reason, TAIL_OPEN_NEW);
    put("g/x.txt", "no\n");
    put("g/.other.log", "no\n");
    put("g/a.log", "a1\n");
    wait_line("a1");
    assert_int_equal(count_lines("no"), 0);
    assert_int_equal(unlink(b), 0);
    settle(450);
    tail_get_stats(fx->r.t, &st);
    assert_int_equal(st.names, 1);
    assert_int_equal(st.files_open, 1);
    assert_int_equal(mkdir(h, 0755), 0);
    put("h/c.log", "c1\n");
    wait_line("c1");
    assert_int_equal(count_lines("a-old"), 0);
    assert_int_equal(count_lines("hidden"), 0);
}

/* (b) 3: three files of one glob rotated within one loop iteration, late writes to each. */
static void
test_glob_rapid_rotation(void **state)
{
    AUTOFREE char *g = P("g");
    AUTOFREE char *pat = P("g/*.log");
    const char *names[] = { "a", "b", "c" };
    int old[3];

    (void)state;
    fx->opts.rotate_wait_ms = 2000;
    assert_int_equal(mkdir(g, 0755), 0);
    for (int i = 0; i < 3; i++) {
        AUTOFREE char *f = xasprintf("g/%s.log", names[i]);

        touch(f);
    }
    start();
    assert_int_equal(tail_add_glob(fx->r.t, pat), 0);
    settle(20);
    for (int i = 0; i < 3; i++) {
        AUTOFREE char *f = xasprintf("g/%s.log", names[i]);

        put(f, "%s-1\n", names[i]);
        old[i] = open_append(f);
    }
    /* No tail_process() between any of these. */
    for (int i = 0; i < 3; i++) {
        AUTOFREE char *f = xasprintf("g/%s.log", names[i]);
        AUTOFREE char *r = xasprintf("g/%s.log.1", names[i]);
        AUTOFREE char *late = xasprintf("%s-2\n", names[i]);

        mv(f, r);
        put(f, "%s-3\n", names[i]);
        fd_put(old[i], late);
    }
    for (int i = 0; i < 3; i++) {
        for (int k = 1; k <= 3; k++) {
            AUTOFREE char *line = xasprintf("%s-%d", names[i], k);

            wait_line(line);
        }
        close(old[i]);
    }
    settle(30);
    assert_int_equal(fx->r.nlines, 9);
    assert_int_equal(fx->r.nsrc, 6);
}

/* A path added after the start begins at its end, like at startup. */
static void
test_add_after_start(void **state)
{
    AUTOFREE char *x = P("x");

    (void)state;
    put("x", "history\n");
    start();
    settle(20);
    assert_int_equal(tail_add_path(fx->r.t, x), 0);
    settle(20);
    assert_int_equal(last_src()->reason, TAIL_OPEN_START);
    put("x", "fresh\n");
    wait_line("fresh");
    assert_int_equal(count_lines("history"), 0);
}

static void
test_add_path_errors(void **state)
{
    AUTOFREE char *log = P("log");
    AUTOFREE char *slash = P("dir/");
    char cwd[4096];

    (void)state;
    start();
    assert_int_equal(tail_add_path(fx->r.t, ""), -EINVAL);
    assert_int_equal(tail_add_path(fx->r.t, slash), -EINVAL);
    assert_int_equal(tail_add_path(fx->r.t, log), 0);
    assert_int_equal(tail_add_path(fx->r.t, log), -EEXIST);
    /* Relative paths are made absolute at once. */
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(fx->dir), 0);
    assert_int_equal(tail_add_path(fx->r.t, "rel.log"), 0);
    assert_int_equal(tail_add_path(fx->r.t, "log"), -EEXIST);
    assert_int_equal(chdir(cwd), 0);
    settle(20);
    put("rel.log", "rel\n");
    wait_line("rel");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_follow_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_positions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pollable_fd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rename_rotation_late_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_double_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_double_rotation_unseen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_1000_rotations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotated_fd_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rename_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_recreate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_recreate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absent_at_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sibling, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_retarget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dangling_symlink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mv_a_b, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copytruncate_nul, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate_regrow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_across_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotated_while_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_anchor_across_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_while_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotated_grace_across_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copytruncate_while_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recreated_while_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_state_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_while_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_marker_after_truncate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_api, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_inotify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remote_fs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_regular, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_offsets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_glob, setup, teardown),
        cmocka_unit_test_setup_teardown(test_glob_rapid_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_after_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_path_errors, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
