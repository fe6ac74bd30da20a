/*
 * tail.c: the file-following engine (see tail.h for the contract).
 *
 * Objects
 *   tname  a path we follow (given, or found by a glob); has at most one
 *          active tfile: the file currently at that path.
 *   tfile  one open source: fd, identity, read/commit positions, content
 *          fingerprints. A rotated tfile has no tname any more; it is read
 *          until rotate_wait has passed, then closed.
 *   tglob  a directory + fnmatch pattern producing tnames.
 *   tdir   an inotify watch on a directory (the parent of a name, or its
 *          nearest existing ancestor while the parent is missing).
 *
 * Rules (tailers.md section 0): identity is (st_dev, st_ino) checked by
 * content; inotify only says "look again": every wake-up fstat()s, compares
 * and reads; a reconcile stat()s every name; IN_Q_OVERFLOW reconciles all.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "fileutil.h"
#include "log.h"
#include "tail-priv.h"
#include "tail.h"
#include "tailstate.h"
#include "xalloc.h"

#define HEAD_MAX TAILSTATE_HEAD_MAX
#define MARK_MAX TAILSTATE_MARK_MAX
/* How far back from EOF to look for the start of the last line. */
#define START_SCAN (64u * 1024)
/* inotify reads per tail_process(); the fd stays readable if more wait. */
#define INOTIFY_READS_PER_CALL 64
/* Files found rotated-away-unread at one rotation (see recover_missed). */
#define MAX_MISSED 16

DEFINE_AUTOPTR(DIR, closedir)

/*
 * File watch: data, metadata (nlink drops on unlink), and the file itself
 * moving or going away. Directory watch: names appearing, disappearing and
 * changing, and the directory itself going away (then its parent is watched).
 */
#define FILE_MASK (IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF)
#define DIR_MASK (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB | \
                  IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

/* Once-only diagnostics, remembered per name until the condition clears. */
enum {
    WARN_NOTREG = 1 << 0,
    WARN_OPEN = 1 << 1,
    WARN_WATCH = 1 << 2,
    WARN_REMOTE = 1 << 3,
    WARN_SAMEFILE = 1 << 4,
    WARN_EVICT = 1 << 5,
    WARN_GLOBDIR = 1 << 6,
};

struct tname;
struct tglob;

struct tfile {
    struct tfile *next;
    struct tname *name;          /* NULL once rotated away */
    char *path;                  /* the name it was opened under */
    uint64_t id;
    int fd;
    int wd;                      /* -1: no inotify watch */
    dev_t dev;
    ino_t ino;
    struct statx_timestamp btime;
    bool has_btime;
    off_t start;
    off_t read_pos;              /* next byte to read */
    off_t commit_pos;            /* consumer: everything before is done */
    off_t mark_pos;              /* offset that mark_len/mark_hash describe */
    uint32_t mark_len;
    uint64_t mark_hash;
    unsigned char head[HEAD_MAX];
    uint32_t head_len;
    unsigned char last[MARK_MAX];    /* the bytes just before read_pos */
    uint32_t last_len;
    bool at_line_start;          /* for NUL-run skipping */
    bool rotated;
    uint64_t rotated_at;
    bool polled;
    unsigned int warned;         /* once-only diagnostics about this file */
    bool dirty;                  /* check and read on this pass */
    bool pending;                /* read budget used up: more to read */
};

struct tname {
    struct tname *next;
    char *path;
    char *dir;
    const char *base;            /* inside path */
    struct tglob *glob;          /* NULL: added with tail_add_path */
    struct tfile *file;
    enum tail_open_reason next_reason;
    unsigned int warned;
    bool seen;                   /* glob scan mark */
    /* identity of the file that was rotated away, to find files missed in between */
    struct statx_timestamp prev_btime;
    bool has_prev_btime;
};

struct tglob {
    struct tglob *next;
    char *pattern;
    char *dir;
    char *base_pat;
    bool scanned;
    unsigned int warned;
};

struct tdir {
    struct tdir *next;
    char *path;
    int wd;
    dev_t dev;
    ino_t ino;
    bool wanted;
    bool polled;                 /* could not be watched */
};

struct tail {
    struct tail_opts opts;
    bool fd_limit_warned;       /* the open file limit was reported */
    bool watch_limit_warned;    /* the inotify watch limit was reported */
    int ifd;
    int epfd;
    int tfd;
    struct tname *names;
    struct tglob *globs;
    struct tdir *dirs;
    struct tfile *files;
    char **watch_list;           /* paths and patterns in add order (for the state) */
    size_t nwatch;
    uint64_t next_id;
    char *buf;
    bool started;
    bool need_reconcile;
    uint64_t next_reconcile;
    uint64_t next_poll;
    uint64_t armed_at;           /* deadline the timerfd is set to */
    struct tailstate *restore;
    bool *restore_used;
    bool state_dirty;
    bool save_failing;
    unsigned int warned;         /* once-only diagnostics without a name */
    struct tail_stats st;
    const struct tail_callbacks *cb;
    void *opaque;
};

static const char *const open_reason_str[] = {
    "start", "resume", "new", "rotated", "recreated", "truncated",
};
_Static_assert(ARRAY_SIZE(open_reason_str) == TAIL_OPEN_LAST, "open reasons");

static const char *const close_reason_str[] = {
    "drained", "truncated", "evicted", "error",
};
_Static_assert(ARRAY_SIZE(close_reason_str) == TAIL_CLOSE_LAST, "close reasons");

const char *
tail_open_reason_str(enum tail_open_reason r)
{
    return (unsigned)r < TAIL_OPEN_LAST ? open_reason_str[r] : "?";
}

const char *
tail_close_reason_str(enum tail_close_reason r)
{
    return (unsigned)r < TAIL_CLOSE_LAST ? close_reason_str[r] : "?";
}

/* ---- small helpers ---- */

static uint64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Read up to @len bytes at @off; short only at EOF. Returns bytes or -errno. */
static ssize_t
pread_full(int fd, void *buf, size_t len, off_t off)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = pread(fd, (char *)buf + got, len - got, off + (off_t)got);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

static const char *
file_kind(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISCHR(mode) || S_ISBLK(mode))
        return "a device";
    if (S_ISLNK(mode))
        return "a symbolic link";
    return "not a regular file";
}

static bool
btime_less(const struct statx_timestamp *a, const struct statx_timestamp *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static uint64_t
wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct tailstate_btime
btime_to_state(const struct statx_timestamp *b, bool known)
{
    struct tailstate_btime out = { 0 };

    if (known) {
        out.sec = b->tv_sec;
        out.nsec = b->tv_nsec;
        out.known = true;
    }
    return out;
}

static struct statx_timestamp
btime_from_state(const struct tailstate_btime *b)
{
    struct statx_timestamp out = { 0 };

    out.tv_sec = b->sec;
    out.tv_nsec = b->nsec;
    return out;
}

static bool
fd_btime(int fd, struct statx_timestamp *out)
{
    struct statx stx;

    if (statx(fd, "", AT_EMPTY_PATH, STATX_BTIME, &stx) < 0 || !(stx.stx_mask & STATX_BTIME))
        return false;
    *out = stx.stx_btime;
    return true;
}

/*
 * Open @path only if it is a regular file. stat() first so that a FIFO or a
 * device at the path is never opened (opening has side effects; O_NONBLOCK
 * covers the race). Returns an fd, or -errno with *@sb valid for -EFTYPE-like
 * cases: -EINVAL means "exists but is not a regular file".
 */
/*
 * Log files may not take the last file descriptors: the state file, the
 * alert outputs, exec children and directory scans need some. Past this,
 * opening one more log file fails as EMFILE would.
 */
#define TAIL_FD_RESERVE 32

static bool
fd_in_reserve(int fd)
{
    struct rlimit rl;

    return getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
           (rlim_t)fd + TAIL_FD_RESERVE >= rl.rlim_cur;
}

static int
open_regular_at(int dirfd, const char *path, struct stat *sb)
{
    int fd;

    if (fstatat(dirfd, path, sb, 0) < 0)
        return -errno;
    if (!S_ISREG(sb->st_mode))
        return -EINVAL;
    fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    if (fd_in_reserve(fd)) {
        close(fd);
        return -EMFILE;
    }
    if (fstat(fd, sb) < 0 || !S_ISREG(sb->st_mode)) {
        int err = S_ISREG(sb->st_mode) ? errno : EINVAL;

        close(fd);
        return -err;
    }
    return fd;
}

/*
 * The inotify watch limit is a host setting: warn once, with what to do;
 * every other file or directory it keeps out is polled too and only noted.
 */
static void
watch_limit_report(struct tail *t, const char *what, const char *path)
{
    if (!t->watch_limit_warned)
        log_warnx("cannot watch %s'%s': inotify watch limit reached "
                  "(fs.inotify.max_user_watches): polling it every %u ms, and any other file "
                  "or directory the limit keeps out", what, path, t->opts.poll_interval_ms);
    else
        log_info("cannot watch %s'%s' either (inotify watch limit): polling it", what, path);
    t->watch_limit_warned = true;
}

/* Remote file systems where inotify misses other hosts' writes (GNU tail's list). */
static bool
is_remote_fs(int fd, unsigned long *type)
{
    struct statfs sfs;
    unsigned long t;

    if (fstatfs(fd, &sfs) < 0)
        return false;
    t = (unsigned long)sfs.f_type & 0xffffffffUL;
    *type = t;
    switch (t) {
    case 0x6969:        /* NFS */
    case 0x517b:        /* SMB */
    case 0xff534d42:    /* CIFS */
    case 0xfe534d42:    /* SMB2 */
    case 0x65735546:    /* FUSE */
    case 0x00c36400:    /* Ceph */
    case 0x01021997:    /* 9P / v9fs */
    case 0x5346414f:    /* AFS */
    case 0x6b414653:    /* kAFS */
    case 0x73757245:    /* Coda */
    case 0x01161970:    /* GFS2 */
    case 0x7461636f:    /* OCFS2 */
    case 0x0bd00bd0:    /* Lustre */
    case 0x47504653:    /* GPFS */
    case 0xaad7aaea:    /* PanFS */
    case 0x564c:        /* NCP */
        return true;
    default:
        return false;
    }
}

static char *
absolute_path(const char *path)
{
    char cwd[PATH_MAX];

    if (path[0] == '/')
        return xstrdup(path);
    if (!getcwd(cwd, sizeof(cwd)))
        return NULL;
    return xasprintf("%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd, path);
}

/* Split "/a/b/c" into "/a/b" and a pointer to "c". */
static char *
dir_of(const char *path, const char **base)
{
    const char *slash = strrchr(path, '/');

    *base = slash + 1;
    if (slash == path)
        return xstrdup("/");
    return xstrndup(path, (size_t)(slash - path));
}

/* ---- lookup ---- */

static struct tfile *
find_file_by_id(const struct tail *t, uint64_t id)
{
    for (struct tfile *f = t->files; f; f = f->next) {
        if (f->id == id)
            return f;
    }
    return NULL;
}

static struct tfile *
find_file_by_ident(const struct tail *t, dev_t dev, ino_t ino)
{
    for (struct tfile *f = t->files; f; f = f->next) {
        if (f->dev == dev && f->ino == ino)
            return f;
    }
    return NULL;
}

static struct tname *
find_name(const struct tail *t, const char *path)
{
    for (struct tname *n = t->names; n; n = n->next) {
        if (strcmp(n->path, path) == 0)
            return n;
    }
    return NULL;
}

static bool
any_polling(const struct tail *t)
{
    if (t->ifd < 0)
        return true;
    for (const struct tdir *d = t->dirs; d; d = d->next) {
        if (d->polled)
            return true;
    }
    for (const struct tfile *f = t->files; f; f = f->next) {
        if (f->polled)
            return true;
    }
    return false;
}

/* ---- callbacks ---- */

static void
emit_opened(struct tail *t, const struct tfile *f, enum tail_open_reason reason)
{
    struct tail_source src = {
        .id = f->id, .path = f->path, .dev = f->dev, .ino = f->ino,
        .offset = f->start, .reason = reason, .polled = f->polled,
    };

    if (t->cb && t->cb->opened)
        t->cb->opened(t->opaque, &src);
}

static void
emit_closed(struct tail *t, const struct tfile *f, enum tail_close_reason why)
{
    if (t->cb && t->cb->closed)
        t->cb->closed(t->opaque, f->id, why);
}

/* ---- watches ---- */

static bool
wd_shared(const struct tail *t, int wd, const void *except)
{
    for (const struct tdir *d = t->dirs; d; d = d->next) {
        if (d->wd == wd && (const void *)d != except)
            return true;
    }
    for (const struct tfile *f = t->files; f; f = f->next) {
        if (f->wd == wd && (const void *)f != except)
            return true;
    }
    return false;
}

static void
rm_watch(struct tail *t, int *wd, const void *owner)
{
    if (*wd >= 0 && t->ifd >= 0 && !wd_shared(t, *wd, owner))
        inotify_rm_watch(t->ifd, *wd);
    *wd = -1;
}

/*
 * Watch the open file itself. The path handed to inotify is the fd's
 * /proc/self/fd link, so the watch is on the inode we hold even if the name
 * was replaced in between (fluent-bit tail_fs_inotify.c documents that race).
 */
static void
file_watch_once(struct tail *t, struct tfile *f)
{
    unsigned int *warned = &f->warned;
    unsigned long fstype = 0;
    char proc[64];
    int wd;

    if (f->wd >= 0)
        return;
    if (is_remote_fs(f->fd, &fstype)) {
        if (!(*warned & WARN_REMOTE))
            log_warnx("'%s' is on a remote file system (type 0x%lx): polling it every %u ms",
                      f->path, fstype, t->opts.poll_interval_ms);
        *warned |= WARN_REMOTE;
        f->polled = true;
        return;
    }
    *warned &= ~(unsigned)WARN_REMOTE;
    if (t->ifd < 0) {
        f->polled = true;
        return;
    }
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", f->fd);
    wd = inotify_add_watch(t->ifd, proc, FILE_MASK);
    if (wd < 0 && errno == ENOENT)  /* no /proc: the name, with its race */
        wd = inotify_add_watch(t->ifd, f->path, FILE_MASK);
    if (wd < 0) {
        if (!(*warned & WARN_WATCH)) {
            if (errno == ENOSPC || errno == ENOMEM)
                watch_limit_report(t, "", f->path);
            else
                log_warn("cannot watch '%s' with inotify (polling it every %u ms)",
                         f->path, t->opts.poll_interval_ms);
        }
        *warned |= WARN_WATCH;
        f->polled = true;
        return;
    }
    if (f->polled && (*warned & WARN_WATCH))
        log_info("'%s' is watched with inotify again", f->path);
    *warned &= ~(unsigned)WARN_WATCH;
    f->wd = wd;
    f->polled = false;
}

/*
 * Diagnostics are said once per file and reason: a new file at the same
 * name inherits what was said about its name, a rotated file keeps its own.
 */
static void
file_watch(struct tail *t, struct tfile *f)
{
    const unsigned int mask = WARN_WATCH | WARN_REMOTE;

    if (f->name)
        f->warned = (f->warned & ~mask) | (f->name->warned & mask);
    file_watch_once(t, f);
    if (f->name)
        f->name->warned = (f->name->warned & ~mask) | (f->warned & mask);
}

static struct tdir *
find_dir(const struct tail *t, const char *path)
{
    for (struct tdir *d = t->dirs; d; d = d->next) {
        if (strcmp(d->path, path) == 0)
            return d;
    }
    return NULL;
}

/* @dir, or its nearest ancestor that exists as a directory. */
static char *
nearest_existing_dir(const char *dir)
{
    char *p = xstrdup(dir);
    struct stat sb;

    for (;;) {
        char *slash;

        if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            return p;
        slash = strrchr(p, '/');
        if (!slash || slash == p) {
            strcpy(p, "/");
            return p;
        }
        *slash = '\0';
    }
}

static void
want_dir(struct tail *t, const char *dir)
{
    AUTOFREE char *path = nearest_existing_dir(dir);
    struct tdir *d = find_dir(t, path);
    struct stat sb;
    int wd;

    if (stat(path, &sb) < 0)
        return;
    if (d) {
        d->wanted = true;
        if (d->wd >= 0 && d->dev == sb.st_dev && d->ino == sb.st_ino)
            return;
        /* Replaced or moved away under the same name: watch the new one. */
        rm_watch(t, &d->wd, d);
    } else {
        d = xcalloc(1, sizeof(*d));
        d->path = steal_pointer(&path);
        d->wd = -1;
        d->next = t->dirs;
        t->dirs = d;
    }
    d->wanted = true;
    d->dev = sb.st_dev;
    d->ino = sb.st_ino;
    wd = inotify_add_watch(t->ifd, d->path, DIR_MASK);
    if (wd < 0 && (errno == ENOENT || errno == ENOTDIR)) {
        /* Removed since the stat(): look again on the next pass. */
        t->need_reconcile = true;
        return;
    }
    if (wd < 0) {
        if (!d->polled) {
            if (errno == ENOSPC || errno == ENOMEM)
                watch_limit_report(t, "directory ", d->path);
            else
                log_warn("cannot watch directory '%s' (checking it every %u ms)",
                         d->path, t->opts.poll_interval_ms);
        }
        d->polled = true;
        return;
    }
    if (d->polled)
        log_info("directory '%s' is watched with inotify again", d->path);
    d->polled = false;
    d->wd = wd;
}

/*
 * Keep exactly the directory watches the names need. Called before names
 * are (re)opened, so anything created after this point raises an event and
 * anything created before it is found by the open that follows.
 */
static void
sync_dir_watches(struct tail *t)
{
    struct tdir **pp;

    if (t->ifd < 0)
        return;
    for (struct tdir *d = t->dirs; d; d = d->next)
        d->wanted = false;
    for (struct tname *n = t->names; n; n = n->next) {
        if (!n->glob)
            want_dir(t, n->dir);
    }
    for (struct tglob *g = t->globs; g; g = g->next)
        want_dir(t, g->dir);
    pp = &t->dirs;
    while (*pp) {
        struct tdir *d = *pp;

        if (d->wanted) {
            pp = &d->next;
            continue;
        }
        *pp = d->next;
        rm_watch(t, &d->wd, d);
        free(d->path);
        free(d);
    }
}

/* ---- sources ---- */

static void
append_last(struct tfile *f, const void *data, size_t n)
{
    if (n >= MARK_MAX) {
        memcpy(f->last, (const char *)data + n - MARK_MAX, MARK_MAX);
        f->last_len = MARK_MAX;
        return;
    }
    if (f->last_len + n > MARK_MAX) {
        uint32_t keep = MARK_MAX - (uint32_t)n;

        memmove(f->last, f->last + f->last_len - keep, keep);
        f->last_len = keep;
    }
    memcpy(f->last + f->last_len, data, n);
    f->last_len += (uint32_t)n;
}

/* Position a source at @pos: the marker and "last bytes" come from the file. */
static int
position_at(struct tfile *f, off_t pos)
{
    uint32_t len = pos < (off_t)MARK_MAX ? (uint32_t)pos : MARK_MAX;
    ssize_t n = 0;

    f->start = f->read_pos = f->commit_pos = f->mark_pos = pos;
    f->last_len = 0;
    if (len > 0) {
        n = pread_full(f->fd, f->last, len, pos - len);
        if (n < 0)
            return (int)n;
    }
    /* A short read means the file shrank under us: the next check sees
     * size < read_pos and restarts it from 0. */
    if ((uint32_t)n != len)
        n = 0;
    f->last_len = (uint32_t)n;
    f->mark_len = (uint32_t)n;
    f->mark_hash = tailstate_hash(f->last, (size_t)n);
    f->at_line_start = pos == 0 || (n > 0 && f->last[n - 1] == '\n');
    return 0;
}

static void
fill_head(struct tfile *f)
{
    ssize_t n = pread_full(f->fd, f->head, HEAD_MAX, 0);

    f->head_len = n > 0 ? (uint32_t)n : 0;
}

static void
files_append(struct tail *t, struct tfile *f)
{
    struct tfile **pp = &t->files;

    while (*pp)
        pp = &(*pp)->next;
    *pp = f;
}

/*
 * Start a source on @fd (taken over) at @pos. @n is its name, or NULL for a
 * rotated file (found at restore or missed in between). Returns the source,
 * or NULL when the file could not be read (logged).
 */
static struct tfile *
source_open(struct tail *t, struct tname *n, const char *path, int fd,
            const struct stat *sb, off_t pos, enum tail_open_reason reason)
{
    struct tfile *f = xcalloc(1, sizeof(*f));
    int rc;

    f->fd = fd;
    f->wd = -1;
    f->name = n;
    f->path = xstrdup(path);
    f->dev = sb->st_dev;
    f->ino = sb->st_ino;
    f->has_btime = fd_btime(fd, &f->btime);
    fill_head(f);
    rc = position_at(f, pos);
    if (rc < 0) {
        errno = -rc;
        log_warn("cannot read '%s'", path);
        t->st.errors++;
        close(f->fd);
        free(f->path);
        free(f);
        return NULL;
    }
    f->id = ++t->next_id;
    if (n) {
        n->file = f;
    } else {
        f->rotated = true;
        f->rotated_at = now_ms();
    }
    file_watch(t, f);
    f->dirty = true;
    files_append(t, f);
    t->st.sources_opened++;
    t->state_dirty = true;
    log_debug("following '%s' (%s) from offset %lld", path, tail_open_reason_str(reason),
              (long long)pos);
    emit_opened(t, f, reason);
    return f;
}

static void
source_close(struct tail *t, struct tfile *f, enum tail_close_reason why)
{
    struct tfile **pp = &t->files;

    emit_closed(t, f, why);
    while (*pp && *pp != f)
        pp = &(*pp)->next;
    if (*pp)
        *pp = f->next;
    rm_watch(t, &f->wd, f);
    close(f->fd);
    if (f->name)
        f->name->file = NULL;
    log_debug("closed '%s' (%s)", f->path, tail_close_reason_str(why));
    free(f->path);
    free(f);
    t->state_dirty = true;
}

/* Same file, but its content before our offset is gone: a new stream from 0. */
static void
source_restart(struct tail *t, struct tfile *f)
{
    emit_closed(t, f, TAIL_CLOSE_TRUNCATED);
    f->id = ++t->next_id;
    fill_head(f);
    position_at(f, 0);
    f->pending = false;
    t->st.truncations++;
    t->state_dirty = true;
    log_info("'%s' was truncated or rewritten: reading it from the start", f->path);
    emit_opened(t, f, TAIL_OPEN_TRUNCATED);
}

/*
 * Is the file still the content we were reading? 1 yes, 0 no (truncated,
 * or rewritten: head or the bytes before our offset differ), -errno.
 * Also grows the head fingerprint while the file is shorter than HEAD_MAX.
 */
static int
verify_content(struct tfile *f, off_t size)
{
    unsigned char buf[HEAD_MAX];
    uint32_t want = f->head_len;
    ssize_t n;

    if (size < f->read_pos || size < (off_t)f->head_len)
        return 0;
    if (want < HEAD_MAX && size > (off_t)want)
        want = size < (off_t)HEAD_MAX ? (uint32_t)size : HEAD_MAX;
    if (want > 0) {
        n = pread_full(f->fd, buf, want, 0);
        if (n < 0)
            return (int)n;
        if ((uint32_t)n < f->head_len || memcmp(buf, f->head, f->head_len) != 0)
            return 0;
        memcpy(f->head, buf, (size_t)n);
        f->head_len = (uint32_t)n;
    }
    if (f->last_len > 0) {
        n = pread_full(f->fd, buf, f->last_len, f->read_pos - f->last_len);
        if (n < 0)
            return (int)n;
        if ((uint32_t)n != f->last_len || memcmp(buf, f->last, f->last_len) != 0)
            return 0;
    }
    return 1;
}

/*
 * Hand @n bytes read at read_pos to the consumer. Unless keep_nul, a run of
 * NUL bytes at a line start is skipped: copytruncate with a writer that
 * lacks O_APPEND leaves a sparse NUL prefix (fluent-bit#3117).
 */
static void
deliver(struct tail *t, struct tfile *f, const char *buf, size_t n)
{
    off_t base = f->read_pos;
    size_t i = 0;

    while (i < n) {
        const char *nul;
        size_t end;

        if (!t->opts.keep_nul && f->at_line_start && buf[i] == '\0') {
            size_t j = i;

            while (j < n && buf[j] == '\0')
                j++;
            t->st.nul_bytes_skipped += j - i;
            i = j;
            continue;
        }
        nul = t->opts.keep_nul ? NULL : memchr(buf + i, '\0', n - i);
        if (!nul) {
            end = n;
        } else {
            size_t k = (size_t)(nul - buf);

            end = k > i && buf[k - 1] == '\n' ? k : k + 1;
        }
        /* The consumer may commit up to the end of what it was just given. */
        f->read_pos = base + (off_t)end;
        if (t->cb && t->cb->data)
            t->cb->data(t->opaque, f->id, base + (off_t)i, buf + i, end - i);
        f->at_line_start = buf[end - 1] == '\n';
        i = end;
    }
    append_last(f, buf, n);
    f->read_pos = base + (off_t)n;
}

/* Jump over a hole while skipping NULs (a 5 GiB sparse prefix reads as zeros). */
static void
skip_hole(struct tail *t, struct tfile *f)
{
    static const unsigned char zeros[MARK_MAX];
    off_t data = lseek(f->fd, f->read_pos, SEEK_DATA);

    if (data > f->read_pos) {
        t->st.nul_bytes_skipped += (uint64_t)(data - f->read_pos);
        append_last(f, zeros, MARK_MAX);
        f->read_pos = data;
    }
}

/*
 * Check @f and read what is new, at most @budget bytes.
 * Returns 0, or -1 when the source was closed (read error).
 */
static int
source_service(struct tail *t, struct tfile *f, size_t budget)
{
    struct stat sb;
    size_t done = 0;
    int rc;

    f->dirty = false;
    f->pending = false;
    if (fstat(f->fd, &sb) < 0) {
        rc = -errno;
        goto fail;
    }
    rc = verify_content(f, sb.st_size);
    if (rc < 0)
        goto fail;
    if (rc == 0)
        source_restart(t, f);
    while (done < budget) {
        size_t want = t->opts.read_chunk < budget - done ? t->opts.read_chunk : budget - done;
        ssize_t n = pread(f->fd, t->buf, want, f->read_pos);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            goto fail;
        }
        t->st.reads++;
        if (n == 0)
            break;
        t->st.bytes_read += (uint64_t)n;
        deliver(t, f, t->buf, (size_t)n);
        done += (size_t)n;
        if ((size_t)n < want)
            break;
        if (!t->opts.keep_nul && f->at_line_start && t->buf[n - 1] == '\0')
            skip_hole(t, f);
    }
    if (done >= budget)
        f->pending = true;
    return 0;

 fail:
    errno = -rc;
    log_warn("cannot read '%s'", f->path);
    t->st.errors++;
    if (f->name)
        f->name->next_reason = TAIL_OPEN_RECREATED;
    source_close(t, f, TAIL_CLOSE_ERROR);
    return -1;
}

/* Read @f to its current end, however long that takes. */
static int
source_drain(struct tail *t, struct tfile *f)
{
    do {
        if (source_service(t, f, t->opts.read_budget) < 0)
            return -1;
    } while (f->pending);
    return 0;
}

/* ---- names ---- */

static struct tname *
name_new(struct tail *t, const char *abspath, struct tglob *g)
{
    struct tname *n = xcalloc(1, sizeof(*n));
    struct tname **pp = &t->names;

    n->path = xstrdup(abspath);
    n->dir = dir_of(n->path, &n->base);
    n->glob = g;
    n->next_reason = TAIL_OPEN_START;
    while (*pp)
        pp = &(*pp)->next;
    *pp = n;
    return n;
}

static void
name_free(struct tname *n)
{
    free(n->path);
    free(n->dir);
    free(n);
}

/* "P.1", "P-20240101": what rotation tools make of a name P. */
static bool
is_rotation_suffix(const char *s)
{
    if (s[0] != '.' && s[0] != '-')
        return false;
    if (!s[1])
        return false;
    for (s++; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
    }
    return true;
}

struct missed {
    char *name;
    struct statx_timestamp btime;
};

static int
missed_cmp(const void *a, const void *b)
{
    const struct missed *x = a;
    const struct missed *y = b;

    if (btime_less(&x->btime, &y->btime))
        return -1;
    return btime_less(&y->btime, &x->btime) ? 1 : 0;
}

/*
 * After a rotation of @n, files born after the rotated-away one and not
 * after @upper (the new file, or now) were rotated away before we saw them
 * (two rotations between two looks, or while we were down): read them from
 * 0 as rotated sources, oldest first. Only rotation-shaped sibling names
 * ("P.N", "P-N") are considered, and only with a birth time (statx btime).
 */
static void
recover_missed(struct tail *t, struct tname *n, const struct statx_timestamp *upper)
{
    AUTOPTR(DIR) d = NULL;
    struct missed found[MAX_MISSED];
    size_t nfound = 0;
    size_t baselen = strlen(n->base);
    struct dirent *de;

    if (!n->has_prev_btime)
        return;
    n->has_prev_btime = false;
    d = opendir(n->dir);
    if (!d)
        return;
    while ((de = readdir(d)) && nfound < MAX_MISSED) {
        struct stat sb;
        struct statx stx;

        if (strncmp(de->d_name, n->base, baselen) != 0 ||
            !is_rotation_suffix(de->d_name + baselen))
            continue;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode))
            continue;
        if (find_file_by_ident(t, sb.st_dev, sb.st_ino))
            continue;
        if (statx(dirfd(d), de->d_name, AT_SYMLINK_NOFOLLOW, STATX_BTIME, &stx) < 0 ||
            !(stx.stx_mask & STATX_BTIME))
            continue;
        /* Timestamps are coarse (one tick, e.g. 4 ms): a file born in the
         * same tick as the new one may be newer; one born in the old file's
         * tick may be older (already read), so that bound stays strict. */
        if (!btime_less(&n->prev_btime, &stx.stx_btime) ||
            (upper && btime_less(upper, &stx.stx_btime)))
            continue;
        found[nfound].name = xstrdup(de->d_name);
        found[nfound].btime = stx.stx_btime;
        nfound++;
    }
    qsort(found, nfound, sizeof(found[0]), missed_cmp);
    for (size_t i = 0; i < nfound; i++) {
        AUTOFREE char *path = xasprintf("%s/%s", strcmp(n->dir, "/") == 0 ? "" : n->dir,
                                        found[i].name);
        struct stat sb;
        int fd = open_regular_at(dirfd(d), found[i].name, &sb);
        struct tfile *f;

        free(found[i].name);
        if (fd < 0)
            continue;
        log_info("'%s' was rotated away before it was read: reading it from the start", path);
        t->st.rotations++;
        f = source_open(t, NULL, path, fd, &sb, 0, TAIL_OPEN_ROTATED);
        if (f)
            source_drain(t, f);
    }
}

/*
 * The file at @n's path is no longer the one we follow: keep reading the
 * old one as a rotated source and drain what it has now, so its bytes come
 * before the new file's.
 */
static void
name_detach(struct tail *t, struct tname *n)
{
    struct tfile *f = n->file;
    struct stat sb;
    bool deleted;

    n->file = NULL;
    f->name = NULL;
    f->rotated = true;
    f->rotated_at = now_ms();
    deleted = fstat(f->fd, &sb) == 0 && sb.st_nlink == 0;
    n->next_reason = deleted ? TAIL_OPEN_RECREATED : TAIL_OPEN_ROTATED;
    n->prev_btime = f->btime;
    n->has_prev_btime = f->has_btime;
    t->st.rotations++;
    t->state_dirty = true;
    log_info("'%s' was %s: reading the old file to its end", n->path,
             deleted ? "deleted" : "rotated or replaced");
    source_drain(t, f);
}

/*
 * Open the file at @n's path if it is a regular file we do not follow yet.
 * @reason START places the source at the start of the file's last line (or
 * at 0 with start_at_head); every other reason at 0.
 */
static void
name_try_open(struct tail *t, struct tname *n, enum tail_open_reason reason)
{
    struct stat sb;
    AUTOCLOSE int fd = open_regular_at(AT_FDCWD, n->path, &sb);
    struct tfile *other;
    struct statx_timestamp btime;
    off_t pos = 0;

    /* If nothing is there now, whatever appears later is new (read from 0),
     * or keeps the reason the old file went away for. */
    n->next_reason = reason == TAIL_OPEN_START ? TAIL_OPEN_NEW : reason;
    if (fd < 0) {
        if (fd == -ENOENT || fd == -ENOTDIR) {
            n->warned &= ~(unsigned)(WARN_NOTREG | WARN_OPEN);
            return;
        }
        if (fd == -EINVAL) {
            if (!(n->warned & WARN_NOTREG))
                log_warnx("'%s' is %s: not following it until a regular file replaces it",
                          n->path, file_kind(sb.st_mode));
            n->warned |= WARN_NOTREG;
        } else if (fd == -EMFILE || fd == -ENFILE) {
            /* One line for all the files the limit keeps out, not one each. */
            if (!t->fd_limit_warned) {
                struct rlimit rl = { 0 };

                getrlimit(RLIMIT_NOFILE, &rl);
                log_warnx("cannot open '%s' and maybe more files: the open file limit is "
                          "reached (%s, ulimit -n %llu); following the files already open "
                          "and retrying the others; raise the limit (LimitNOFILE=)",
                          n->path, fd == -ENFILE ? "system-wide" : "per process",
                          (unsigned long long)rl.rlim_cur);
                t->fd_limit_warned = true;
            }
            n->warned |= WARN_OPEN;
        } else {
            if (!(n->warned & WARN_OPEN)) {
                errno = -fd;
                log_warn("cannot open '%s' (will retry)", n->path);
            }
            n->warned |= WARN_OPEN;
        }
        return;
    }
    if (n->warned & (WARN_NOTREG | WARN_OPEN))
        log_info("'%s' is a readable regular file now: following it", n->path);
    n->warned &= ~(unsigned)(WARN_NOTREG | WARN_OPEN);

    other = find_file_by_ident(t, sb.st_dev, sb.st_ino);
    if (other && other->rotated) {
        /* A file we are draining was renamed to this name: keep its stream. */
        log_info("'%s' was renamed to '%s': still following it", other->path, n->path);
        other->rotated = false;
        other->name = n;
        free(other->path);
        other->path = xstrdup(n->path);
        n->file = other;
        n->has_prev_btime = false;
        t->state_dirty = true;
        return;
    }
    if (other) {
        if (!(n->warned & WARN_SAMEFILE))
            log_warnx("'%s' is the same file as '%s': following it once", n->path, other->path);
        n->warned |= WARN_SAMEFILE;
        return;
    }
    n->warned &= ~(unsigned)WARN_SAMEFILE;

    if (n->has_prev_btime)
        recover_missed(t, n, fd_btime(fd, &btime) ? &btime : NULL);
    if (reason == TAIL_OPEN_START && !t->opts.start_at_head) {
        /* Start where the last (possibly incomplete) line begins. */
        off_t from = sb.st_size > (off_t)START_SCAN ? sb.st_size - (off_t)START_SCAN : 0;
        size_t want = (size_t)(sb.st_size - from);
        ssize_t got = want > 0 ? pread_full(fd, t->buf, want, from) : 0;
        const char *nl = got > 0 ? memrchr(t->buf, '\n', (size_t)got) : NULL;

        if (nl)
            pos = from + (nl - t->buf) + 1;
        else
            pos = from > 0 ? sb.st_size : 0;
    }
    source_open(t, n, n->path, steal_fd(&fd), &sb, pos, reason);
    n->next_reason = TAIL_OPEN_NEW;
}

/* ---- globs ---- */

static void
scan_globs(struct tail *t)
{
    for (struct tname *n = t->names; n; n = n->next)
        n->seen = false;
    for (struct tglob *g = t->globs; g; g = g->next) {
        AUTOPTR(DIR) d = opendir(g->dir);
        struct dirent *de;
        bool first = !g->scanned;

        g->scanned = true;
        if (!d) {
            if (errno != ENOENT && errno != ENOTDIR && !(g->warned & WARN_GLOBDIR))
                log_warn("cannot list '%s' for '%s' (will retry)", g->dir, g->pattern);
            if (errno != ENOENT && errno != ENOTDIR)
                g->warned |= WARN_GLOBDIR;
            continue;
        }
        g->warned &= ~(unsigned)WARN_GLOBDIR;
        while ((de = readdir(d))) {
            AUTOFREE char *path = NULL;
            struct tname *n;

            if (de->d_type == DT_DIR || fnmatch(g->base_pat, de->d_name, FNM_PERIOD) != 0)
                continue;
            path = xasprintf("%s/%s", strcmp(g->dir, "/") == 0 ? "" : g->dir, de->d_name);
            n = find_name(t, path);
            if (!n) {
                n = name_new(t, path, g);
                n->next_reason = first ? TAIL_OPEN_START : TAIL_OPEN_NEW;
            }
            n->seen = true;
        }
    }
}

/* A glob match that is gone and no longer followed is forgotten. */
static void
prune_glob_names(struct tail *t)
{
    struct tname **pp = &t->names;

    while (*pp) {
        struct tname *n = *pp;

        if (n->glob && !n->seen && !n->file) {
            *pp = n->next;
            name_free(n);
        } else {
            pp = &n->next;
        }
    }
}

/* ---- reconcile ---- */

static void
reconcile(struct tail *t)
{
    t->need_reconcile = false;
    sync_dir_watches(t);
    scan_globs(t);
    /* Pass 1: let go of files no longer at their name (all before pass 2, so
     * "mv a b" with both followed hands the stream over instead of re-reading). */
    for (struct tname *n = t->names; n; n = n->next) {
        struct stat sb;

        if (!n->file)
            continue;
        if (stat(n->path, &sb) == 0 && S_ISREG(sb.st_mode) &&
            sb.st_dev == n->file->dev && sb.st_ino == n->file->ino)
            continue;
        name_detach(t, n);
    }
    /* Pass 2: pick up what is at each free name now. */
    for (struct tname *n = t->names; n; n = n->next) {
        if (!n->file)
            name_try_open(t, n, n->next_reason);
    }
    prune_glob_names(t);
    for (struct tfile *f = t->files; f; f = f->next) {
        f->dirty = true;
        if (f->polled || f->wd < 0)
            file_watch(t, f);
    }
}

/* ---- state restore ---- */

static bool
fingerprint_matches(int fd, off_t size, const struct tailstate_file *e)
{
    unsigned char buf[HEAD_MAX];

    if (e->offset > (uint64_t)size || (off_t)e->head_len > size)
        return false;
    if (pread_full(fd, buf, e->head_len, 0) != (ssize_t)e->head_len ||
        tailstate_hash(buf, e->head_len) != e->head_hash)
        return false;
    if (pread_full(fd, buf, e->mark_len, (off_t)e->offset - (off_t)e->mark_len) !=
            (ssize_t)e->mark_len ||
        tailstate_hash(buf, e->mark_len) != e->mark_hash)
        return false;
    return true;
}

/* Look for the saved file by identity at its path and among its siblings. */
static int
open_saved_file(const struct tailstate_file *e, struct stat *sb, char **out_path)
{
    const char *base;
    AUTOFREE char *dir = dir_of(e->path, &base);
    AUTOPTR(DIR) d = opendir(dir);
    struct dirent *de;

    if (!d)
        return -ENOENT;
    while ((de = readdir(d))) {
        int fd;

        if (fstatat(dirfd(d), de->d_name, sb, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISREG(sb->st_mode) || sb->st_dev != (dev_t)e->dev || sb->st_ino != (ino_t)e->ino)
            continue;
        fd = open_regular_at(dirfd(d), de->d_name, sb);
        if (fd < 0)
            return fd;
        if (sb->st_dev != (dev_t)e->dev || sb->st_ino != (ino_t)e->ino ||
            !fingerprint_matches(fd, sb->st_size, e)) {
            close(fd);
            return -ESTALE;
        }
        *out_path = xasprintf("%s/%s", strcmp(dir, "/") == 0 ? "" : dir, de->d_name);
        return fd;
    }
    return -ENOENT;
}

/* Resume a saved file that is no longer at its name: drain it as rotated. */
static struct tfile *
restore_rotated(struct tail *t, const struct tailstate_file *e)
{
    AUTOFREE char *where = NULL;
    struct tfile *f;
    struct stat sb;
    int fd;

    if (find_file_by_ident(t, (dev_t)e->dev, (ino_t)e->ino))
        return NULL;
    fd = open_saved_file(e, &sb, &where);
    if (fd < 0) {
        /* An active file may have had writes we never saw; a rotated one
         * was being drained and most likely had none. */
        if (e->role == TAILSTATE_ACTIVE)
            log_warnx("'%s' was rotated or deleted while stopped and is gone: "
                      "anything written to it after offset %llu was not read",
                      e->path, (unsigned long long)e->offset);
        else
            log_info("rotated file '%s' is gone since the last run", e->path);
        return NULL;
    }
    log_info("'%s' was rotated while stopped: finishing '%s' from offset %llu first",
             e->path, where, (unsigned long long)e->offset);
    t->st.rotations++;
    f = source_open(t, NULL, where, fd, &sb, (off_t)e->offset, TAIL_OPEN_RESUME);
    if (f && e->role == TAILSTATE_ROTATED) {
        /* The grace period runs from the rotation, not from our restart
         * (or frequent restarts would keep rotated files open forever). */
        uint64_t now = now_ms();
        uint64_t wall = wall_ms();
        uint64_t age = wall > (uint64_t)e->rotated_ms ? wall - (uint64_t)e->rotated_ms : 0;

        if (age > t->opts.rotate_wait_ms)
            age = t->opts.rotate_wait_ms;
        f->rotated_at = now > age ? now - age : 0;
    }
    /* Now, so its bytes come before those of files found after it. */
    if (f && source_drain(t, f) < 0)
        return NULL;
    return f;
}

static const struct tailstate_file *
restore_entry(struct tail *t, const char *path)
{
    for (size_t i = 0; i < t->restore->nfiles; i++) {
        const struct tailstate_file *e = &t->restore->files[i];

        if (!t->restore_used[i] && e->role == TAILSTATE_ACTIVE && strcmp(e->path, path) == 0) {
            t->restore_used[i] = true;
            return e;
        }
    }
    return NULL;
}

static const struct tailstate_anchor *
restore_anchor(const struct tail *t, const char *path)
{
    for (size_t i = 0; i < t->restore->nanchors; i++) {
        if (strcmp(t->restore->anchors[i].path, path) == 0)
            return &t->restore->anchors[i];
    }
    return NULL;
}

/* First open of a name, with the saved state when there is one. */
static void
name_open_initial(struct tail *t, struct tname *n)
{
    const struct tailstate_file *e;
    struct stat sb;
    struct tfile *old;
    int fd;

    if (!t->restore) {
        name_try_open(t, n, n->next_reason);
        return;
    }
    e = restore_entry(t, n->path);
    if (!e) {
        const struct tailstate_anchor *a = restore_anchor(t, n->path);

        if (a) {
            /* Rotated away before the save and nothing followed it then:
             * files born since were never read. */
            n->prev_btime = btime_from_state(&a->btime);
            n->has_prev_btime = true;
            name_try_open(t, n, TAIL_OPEN_ROTATED);
            return;
        }
        /* Not followed at save time: new since then if its path/pattern was. */
        const char *pat = n->glob ? n->glob->pattern : n->path;

        name_try_open(t, n, tailstate_has_watch(t->restore, pat) ? TAIL_OPEN_NEW
                                                                  : TAIL_OPEN_START);
        return;
    }
    fd = open_regular_at(AT_FDCWD, n->path, &sb);
    if (fd >= 0 && sb.st_dev == (dev_t)e->dev && sb.st_ino == (ino_t)e->ino) {
        if (fingerprint_matches(fd, sb.st_size, e)) {
            source_open(t, n, n->path, fd, &sb, (off_t)e->offset, TAIL_OPEN_RESUME);
            n->next_reason = TAIL_OPEN_NEW;
            return;
        }
        log_info("'%s' was truncated or rewritten while stopped: reading it from the start",
                 n->path);
        t->st.truncations++;
        source_open(t, n, n->path, fd, &sb, 0, TAIL_OPEN_TRUNCATED);
        n->next_reason = TAIL_OPEN_NEW;
        return;
    }
    if (fd >= 0)
        close(fd);
    old = restore_rotated(t, e);
    /* The saved birth time works even when the old file is gone. */
    if (e->btime.known) {
        n->prev_btime = btime_from_state(&e->btime);
        n->has_prev_btime = true;
    } else if (old && old->has_btime) {
        n->prev_btime = old->btime;
        n->has_prev_btime = true;
    }
    name_try_open(t, n, TAIL_OPEN_ROTATED);
}

static void
tail_start(struct tail *t)
{
    t->started = true;
    sync_dir_watches(t);
    scan_globs(t);
    for (struct tname *n = t->names; n; n = n->next)
        name_open_initial(t, n);
    prune_glob_names(t);
    if (t->restore) {
        /* Files that were draining, or whose name is gone now. */
        for (size_t i = 0; i < t->restore->nfiles; i++) {
            if (!t->restore_used[i])
                restore_rotated(t, &t->restore->files[i]);
        }
        tailstate_free(steal_pointer(&t->restore));
        free(steal_pointer(&t->restore_used));
    }
}

/* ---- the loop step ---- */

static void
handle_event(struct tail *t, int wd, uint32_t mask)
{
    bool known = false;

    if (mask & IN_Q_OVERFLOW) {
        /* Events were lost: nothing we believe about any file is certain. */
        log_warnx("inotify event queue overflowed: re-checking every file");
        t->st.queue_overflows++;
        t->need_reconcile = true;
        return;
    }
    for (struct tdir *d = t->dirs; d; d = d->next) {
        if (d->wd != wd)
            continue;
        known = true;
        t->need_reconcile = true;
        if (mask & IN_IGNORED)
            d->wd = -1;     /* the kernel dropped it (directory gone) */
    }
    for (struct tfile *f = t->files; f && !known; f = f->next) {
        if (f->wd != wd)
            continue;
        f->dirty = true;
        if (mask & (IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF | IN_IGNORED))
            t->need_reconcile = true;
        if (mask & IN_IGNORED)
            f->wd = -1;
        break;
    }
}

static void
dispatch_events(struct tail *t, const char *buf, size_t len)
{
    size_t off = 0;

    while (len - off >= sizeof(struct inotify_event)) {
        struct inotify_event ev;

        /* memcpy: the buffer may not be aligned for the struct. */
        memcpy(&ev, buf + off, sizeof(ev));
        if (ev.len > len - off - sizeof(ev))
            break;
        handle_event(t, ev.wd, ev.mask);
        off += sizeof(ev) + ev.len;
    }
}

static int
read_inotify(struct tail *t)
{
    char buf[16384];

    if (t->ifd < 0)
        return 0;
    for (int i = 0; i < INOTIFY_READS_PER_CALL; i++) {
        ssize_t n = read(t->ifd, buf, sizeof(buf));

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 0;
            log_warn("cannot read inotify events");
            t->need_reconcile = true;
            return -errno;
        }
        if (n == 0)
            return 0;
        dispatch_events(t, buf, (size_t)n);
    }
    return 0;
}

static uint64_t
next_deadline(const struct tail *t)
{
    uint64_t now = now_ms();
    uint64_t d;

    if (!t->started || t->need_reconcile)
        return now;
    d = t->next_reconcile;
    if (any_polling(t) && t->next_poll < d)
        d = t->next_poll;
    for (const struct tfile *f = t->files; f; f = f->next) {
        if (f->pending || f->dirty)
            return now;
        if (f->rotated && f->rotated_at + t->opts.rotate_wait_ms < d)
            d = f->rotated_at + t->opts.rotate_wait_ms;
    }
    return d;
}

static void
arm_timer(struct tail *t)
{
    uint64_t d = next_deadline(t);
    struct itimerspec its = { 0 };

    /* Still armed for the same future moment: spare the syscall (the hot
     * path under a busy writer wakes up hundreds of times a second). */
    if (d == t->armed_at && d > now_ms())
        return;
    t->armed_at = d;

    its.it_value.tv_sec = (time_t)(d / 1000);
    its.it_value.tv_nsec = (long)(d % 1000) * 1000000L;
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
        its.it_value.tv_nsec = 1;       /* all zero would disarm */
    timerfd_settime(t->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void
expire_rotated(struct tail *t)
{
    uint64_t now = now_ms();
    unsigned int nrot = 0;
    struct tfile *f;
    struct tfile *next;

    for (f = t->files; f; f = next) {
        next = f->next;
        if (!f->rotated)
            continue;
        if (now < f->rotated_at + t->opts.rotate_wait_ms) {
            nrot++;
            continue;
        }
        if (source_drain(t, f) == 0)
            source_close(t, f, TAIL_CLOSE_DRAINED);
    }
    /* Bound the fds: close the oldest rotated files (after reading them out). */
    for (f = t->files; f && nrot > t->opts.max_rotated; f = next) {
        next = f->next;
        if (!f->rotated)
            continue;
        if (!(t->warned & WARN_EVICT))
            log_warnx("more than %u rotated files open: closing '%s' early "
                      "(late writes to it will not be read)", t->opts.max_rotated, f->path);
        t->warned |= WARN_EVICT;
        nrot--;
        if (source_drain(t, f) == 0)
            source_close(t, f, TAIL_CLOSE_EVICTED);
    }
}

int
tail_process(struct tail *t, const struct tail_callbacks *cb, void *opaque)
{
    uint64_t now = now_ms();
    uint64_t ticks;
    struct tfile *f;
    struct tfile *next;
    int rc = 0;

    t->cb = cb;
    t->opaque = opaque;
    if (read(t->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
        log_debug("timerfd read: %s", strerror(errno));
    if (!t->started) {
        tail_start(t);
        t->next_reconcile = now + t->opts.reconcile_ms;
        t->next_poll = now + t->opts.poll_interval_ms;
    } else {
        bool poll_due = any_polling(t) && now >= t->next_poll;

        rc = read_inotify(t);
        if (t->need_reconcile || poll_due || now >= t->next_reconcile) {
            reconcile(t);
            t->next_reconcile = now + t->opts.reconcile_ms;
            t->next_poll = now + t->opts.poll_interval_ms;
        }
    }
    /* Rotated files first: their bytes are older than the new files'. */
    for (int pass = 0; pass < 2; pass++) {
        for (f = t->files; f; f = next) {
            next = f->next;
            if (f->rotated == (pass == 0) && (f->dirty || f->pending))
                source_service(t, f, t->opts.read_budget);
        }
    }
    expire_rotated(t);
    arm_timer(t);
    t->cb = NULL;
    t->opaque = NULL;
    return rc;
}

int
tail_next_timeout_ms(const struct tail *t)
{
    uint64_t d = next_deadline(t);
    uint64_t now = now_ms();

    if (d <= now)
        return 0;
    return d - now > INT_MAX ? INT_MAX : (int)(d - now);
}

int
tail_get_fd(const struct tail *t)
{
    return t->epfd;
}

int
tail_commit(struct tail *t, uint64_t id, off_t offset)
{
    struct tfile *f = find_file_by_id(t, id);

    if (!f)
        return -ENOENT;
    if (offset < f->commit_pos || offset > f->read_pos)
        return -EINVAL;
    if (offset != f->commit_pos) {
        f->commit_pos = offset;
        t->state_dirty = true;
    }
    return 0;
}

/* ---- setup ---- */

void
tail_opts_init(struct tail_opts *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->read_chunk = 256 * 1024;
    opts->read_budget = 1024 * 1024;
    opts->poll_interval_ms = 500;
    opts->reconcile_ms = 1000;
    opts->rotate_wait_ms = 5000;
    opts->max_rotated = 64;
}

int
tail_new(const struct tail_opts *opts, struct tail **out)
{
    struct tail *t;
    struct epoll_event ev = { .events = EPOLLIN };

    if (opts->read_chunk < 4096 || opts->read_chunk > (64u << 20) ||
        opts->read_budget < opts->read_chunk || opts->poll_interval_ms < 10 ||
        opts->reconcile_ms < 10 || opts->max_rotated < 1 ||
        opts->rotate_wait_ms > 24u * 3600 * 1000)
        return -EINVAL;
    t = xcalloc(1, sizeof(*t));
    t->opts = *opts;
    t->ifd = t->epfd = t->tfd = -1;
    t->epfd = epoll_create1(EPOLL_CLOEXEC);
    t->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (t->epfd < 0 || t->tfd < 0 || epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->tfd, &ev) < 0) {
        int rc = -errno;

        tail_free(t);
        return rc;
    }
    if (!opts->force_poll) {
        t->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (t->ifd < 0)
            log_warn("inotify is not available: polling every %u ms", opts->poll_interval_ms);
        else if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->ifd, &ev) < 0) {
            int rc = -errno;

            tail_free(t);
            return rc;
        }
    }
    t->buf = xmalloc(opts->read_chunk > START_SCAN ? opts->read_chunk : START_SCAN);
    arm_timer(t);
    *out = t;
    return 0;
}

void
tail_free(struct tail *t)
{
    if (!t)
        return;
    while (t->files) {
        struct tfile *f = t->files;

        t->files = f->next;
        close(f->fd);
        free(f->path);
        free(f);
    }
    while (t->names) {
        struct tname *n = t->names;

        t->names = n->next;
        name_free(n);
    }
    while (t->globs) {
        struct tglob *g = t->globs;

        t->globs = g->next;
        free(g->pattern);
        free(g->dir);
        free(g->base_pat);
        free(g);
    }
    while (t->dirs) {
        struct tdir *d = t->dirs;

        t->dirs = d->next;
        free(d->path);
        free(d);
    }
    for (size_t i = 0; i < t->nwatch; i++)
        free(t->watch_list[i]);
    free(t->watch_list);
    tailstate_free(t->restore);
    free(t->restore_used);
    /* Closing the inotify fd drops every watch (inotify(7)). */
    if (t->ifd >= 0)
        close(t->ifd);
    if (t->tfd >= 0)
        close(t->tfd);
    if (t->epfd >= 0)
        close(t->epfd);
    free(t->buf);
    free(t);
}

static bool
watch_listed(const struct tail *t, const char *s)
{
    for (size_t i = 0; i < t->nwatch; i++) {
        if (strcmp(t->watch_list[i], s) == 0)
            return true;
    }
    return false;
}

static void
watch_list_add(struct tail *t, const char *s)
{
    t->watch_list = xreallocarray(t->watch_list, t->nwatch + 1, sizeof(*t->watch_list));
    t->watch_list[t->nwatch++] = xstrdup(s);
}

static char *
checked_abs_path(const char *path)
{
    size_t len = path ? strlen(path) : 0;

    if (len == 0 || len >= PATH_MAX || path[len - 1] == '/')
        return NULL;
    return absolute_path(path);
}

int
tail_add_path(struct tail *t, const char *path)
{
    AUTOFREE char *abs = checked_abs_path(path);

    if (!abs || strlen(abs) >= PATH_MAX)
        return -EINVAL;
    if (watch_listed(t, abs) || find_name(t, abs))
        return -EEXIST;
    watch_list_add(t, abs);
    name_new(t, abs, NULL);
    t->need_reconcile = true;
    return 0;
}

int
tail_add_glob(struct tail *t, const char *pattern)
{
    AUTOFREE char *abs = checked_abs_path(pattern);
    struct tglob *g;
    struct tglob **pp;
    const char *base;

    if (!abs || strlen(abs) >= PATH_MAX)
        return -EINVAL;
    if (watch_listed(t, abs))
        return -EEXIST;
    g = xcalloc(1, sizeof(*g));
    g->dir = dir_of(abs, &base);
    if (strpbrk(g->dir, "*?[") || !*base) {
        free(g->dir);
        free(g);
        return -EINVAL;
    }
    g->base_pat = xstrdup(base);
    g->pattern = xstrdup(abs);
    for (pp = &t->globs; *pp; pp = &(*pp)->next)
        ;
    *pp = g;
    watch_list_add(t, abs);
    t->need_reconcile = true;
    return 0;
}

/* ---- state ---- */

/*
 * Bring the saved marker up to the committed offset. The marker is read
 * from the file, and only trusted if the file still holds what we read
 * (size and the bytes before read_pos): if it was truncated in between, the
 * previous (offset, marker) pair is kept, which makes a restart re-read the
 * new content from 0 instead of resuming inside it.
 */
static void
refresh_mark(struct tfile *f)
{
    unsigned char buf[MARK_MAX];
    uint32_t len;
    ssize_t n;
    struct stat sb;

    if (f->mark_pos == f->commit_pos)
        return;
    len = f->commit_pos < (off_t)MARK_MAX ? (uint32_t)f->commit_pos : MARK_MAX;
    if (f->commit_pos == f->read_pos && f->last_len >= len) {
        f->mark_hash = tailstate_hash(f->last + f->last_len - len, len);
        f->mark_len = len;
        f->mark_pos = f->commit_pos;
        return;
    }
    n = pread_full(f->fd, buf, len, f->commit_pos - len);
    if (n != (ssize_t)len || fstat(f->fd, &sb) < 0 || verify_content(f, sb.st_size) != 1)
        return;
    f->mark_hash = tailstate_hash(buf, len);
    f->mark_len = len;
    f->mark_pos = f->commit_pos;
}

int
tail_state_save(struct tail *t, const char *path, const void *blob, size_t blob_len)
{
    struct tailstate *st = tailstate_new();
    AUTOFREE char *text = NULL;
    size_t len = 0;
    int rc;

    uint64_t now = now_ms();
    uint64_t wall = wall_ms();

    st->saved_at = (int64_t)time(NULL);
    for (size_t i = 0; i < t->nwatch; i++)
        tailstate_add_watch(st, t->watch_list[i]);
    for (struct tfile *f = t->files; f; f = f->next) {
        struct tailstate_file e = {
            .path = f->path,
            .role = f->rotated ? TAILSTATE_ROTATED : TAILSTATE_ACTIVE,
            .dev = (uint64_t)f->dev,
            .ino = (uint64_t)f->ino,
            .btime = btime_to_state(&f->btime, f->has_btime),
        };

        if (f->rotated) {
            uint64_t age = now > f->rotated_at ? now - f->rotated_at : 0;

            e.rotated_ms = (int64_t)(wall > age ? wall - age : 1);
        }

        refresh_mark(f);
        e.offset = (uint64_t)f->mark_pos;
        e.head_len = f->head_len;
        e.head_hash = tailstate_hash(f->head, f->head_len);
        e.mark_len = f->mark_len;
        e.mark_hash = f->mark_hash;
        tailstate_add_file(st, &e);
    }
    for (struct tname *n = t->names; n; n = n->next) {
        if (!n->file && n->has_prev_btime) {
            struct tailstate_btime b = btime_to_state(&n->prev_btime, true);

            tailstate_add_anchor(st, n->path, &b);
        }
    }
    /* Borrow the caller's blob for formatting only. */
    st->blob = (char *)blob;
    st->blob_len = blob ? blob_len : 0;
    text = tailstate_format(st, &len);
    st->blob = NULL;
    tailstate_free(st);
    rc = write_file_atomic(path, text, len, 0600);
    if (rc < 0) {
        if (!t->save_failing)
            log_warnx("cannot write state file '%s': %s", path, strerror(-rc));
        t->save_failing = true;
        t->st.errors++;
        return rc;
    }
    if (t->save_failing)
        log_info("state file '%s' written again", path);
    t->save_failing = false;
    t->state_dirty = false;
    return 0;
}

/*
 * A save killed between creating its temp file and the rename leaves
 * "PATH.tmp.PID.*" behind (write_file_atomic's name). Remove those of
 * processes that no longer exist, so crashes do not pile them up.
 */
static void
remove_stale_temps(const char *path)
{
    const char *base = path;
    AUTOFREE char *dir = strchr(path, '/') ? dir_of(path, &base) : xstrdup(".");
    AUTOFREE char *prefix = xasprintf("%s.tmp.", base);
    size_t plen = strlen(prefix);
    AUTOPTR(DIR) d = opendir(dir);
    struct dirent *de;
    unsigned int removed = 0;

    if (!d)
        return;
    while ((de = readdir(d))) {
        char *end = NULL;
        long pid;

        if (strncmp(de->d_name, prefix, plen) != 0)
            continue;
        errno = 0;
        pid = strtol(de->d_name + plen, &end, 10);
        if (errno || end == de->d_name + plen || *end != '.' || pid <= 0 ||
            pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        if (unlinkat(dirfd(d), de->d_name, 0) == 0)
            removed++;
    }
    if (removed > 0)
        log_info("removed %u temp file(s) of interrupted state saves next to '%s'", removed, path);
}

int
tail_state_load(struct tail *t, const char *path, char **out_blob, size_t *out_len)
{
    const char *fallback = t->opts.start_at_head ? "start" : "end";
    AUTOCLOSE int fd = -1;
    AUTOFREE char *text = NULL;
    AUTOFREE char *err = NULL;
    struct tailstate *st = NULL;
    size_t len = 0;
    int rc;

    *out_blob = NULL;
    *out_len = 0;
    if (t->started)
        return -EBUSY;
    remove_stale_temps(path);
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        rc = -errno;
        if (rc == -ENOENT)
            log_info("no state file '%s': starting at the %s of each file", path, fallback);
        else if (rc == -ELOOP)
            log_warnx("state file '%s' is a symbolic link: ignored, starting at the %s "
                      "of each file", path, fallback);
        else
            log_warn("cannot open state file '%s' (starting at the %s of each file)",
                     path, fallback);
        return rc;
    }
    rc = check_file_secrecy(fd);
    if (rc < 0) {
        log_warnx("state file '%s' is not a regular file private to us: ignored, "
                  "starting at the %s of each file", path, fallback);
        return rc;
    }
    rc = read_fd_capped(fd, TAILSTATE_MAX_SIZE, &text, &len);
    if (rc == 0)
        rc = tailstate_parse(text, len, &st, &err);
    if (rc < 0) {
        log_warnx("state file '%s' is unusable (%s): starting at the %s of each file",
                  path, err ? err : strerror(-rc), fallback);
        return rc == -EFBIG ? -EINVAL : rc;
    }
    tailstate_free(t->restore);
    free(t->restore_used);
    t->restore = st;
    t->restore_used = xcalloc(st->nfiles + 1, sizeof(bool));
    *out_blob = steal_pointer(&st->blob);
    *out_len = st->blob_len;
    st->blob_len = 0;
    return 0;
}

bool
tail_state_dirty(const struct tail *t)
{
    return t->state_dirty;
}

void
tail_get_stats(const struct tail *t, struct tail_stats *out)
{
    *out = t->st;
    out->files_open = out->files_rotated_open = out->names = out->polled_files = 0;
    for (const struct tfile *f = t->files; f; f = f->next) {
        out->files_open++;
        out->files_rotated_open += f->rotated;
        out->polled_files += f->polled;
    }
    for (const struct tname *n = t->names; n; n = n->next)
        out->names++;
}

/* ---- test internals ---- */

int
tail_priv_inotify_fd(const struct tail *t)
{
    return t->ifd;
}

unsigned int
tail_priv_watch_count(const struct tail *t)
{
    unsigned int n = 0;

    for (const struct tdir *d = t->dirs; d; d = d->next)
        n += d->wd >= 0;
    for (const struct tfile *f = t->files; f; f = f->next)
        n += f->wd >= 0;
    return n;
}

void
tail_priv_dispatch(struct tail *t, const void *buf, size_t len)
{
    dispatch_events(t, buf, len);
}
