#include <config.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "fileutil.h"
#include "log.h"
#include "sink.h"
#include "strbuf.h"
#include "xalloc.h"

extern char **environ;

#define EXEC_QUEUE_MAX 256
#define EXEC_KILL_GRACE_MS 2000
#define THROTTLE_MAX_KEYS 4096
#define PROM_MAX_DOMAINS 10000
#define PROM_HEALTH_INTERVAL_MS 10000
#define SHUTDOWN_WAIT_MS 5000
/* Alerts a json output could not take (disk full) are kept this far and retried. */
#define JSON_BACKLOG_MAX (4u << 20)
#define JSON_RETRY_MS 1000

enum sink_kind {
    SINK_JSON,
    SINK_SYSLOG,
    SINK_EXEC,
    SINK_PROMETHEUS,
    SINK_KIND_LAST
};

static const char *const sink_kind_names[] = {
    [SINK_JSON] = "json",
    [SINK_SYSLOG] = "syslog",
    [SINK_EXEC] = "exec",
    [SINK_PROMETHEUS] = "prometheus",
};
_Static_assert(ARRAY_SIZE(sink_kind_names) == SINK_KIND_LAST, "sink kind table");

struct exec_job {
    char **envp;                /* NULL-terminated, owned */
};

struct sink {
    enum sink_kind kind;
    char *where;                /* "file:line" of its section, for messages */
    /* json and prometheus */
    char *path;
    int fd;
    bool dirty;
    struct strbuf backlog;      /* json lines not written yet (write error), in order */
    size_t backlog_lines;
    size_t backlog_dropped;     /* lines that did not fit in JSON_BACKLOG_MAX */
    bool write_failing;         /* reported once until a write works again */
    /* syslog */
    int facility;
    int priority;
    int journal_fd;             /* datagram socket to journald, -1: syslog(3) */
    struct sockaddr_un journal_addr;
    socklen_t journal_addrlen;
    bool journal_failed;        /* a send failed: reported once */
    /* exec */
    char **argv;
    uint64_t timeout_ms;
    unsigned max_concurrent;
    unsigned running;
    struct exec_job *queue;
    size_t queue_len;
};

struct child {
    pid_t pid;
    struct sink *sink;
    uint64_t started_ms;
    bool term_sent;
};

struct throttle_ent {
    char *key;
    char *domain;               /* NULL when unknown */
    char *monitor;
    char *event;
    uint64_t window_start;
    unsigned sent;
    unsigned suppressed;
};

struct prom_ent {
    char *domain;               /* "" for events the log could not name */
    uint64_t panics;
    uint64_t crashloaded;
};

struct sinkset {
    struct sink **sinks;
    size_t nsinks;
    unsigned throttle_count;
    uint64_t throttle_window_ms;
    struct throttle_ent *throttle;
    size_t nthrottle;
    struct child *children;
    size_t nchildren;
    struct prom_ent *prom;
    size_t nprom;
    uint64_t prom_other;        /* custom rule events */
    double last_event_epoch;
    struct sink_health health;
    bool health_dirty;
    bool prom_dirty;
    uint64_t prom_written_ms;
    struct sink_stats stats;
};

struct sinkset *
sinkset_new(void)
{
    struct sinkset *ss = xcalloc(1, sizeof(*ss));

    ss->throttle_count = 3;
    ss->throttle_window_ms = 10 * 60 * 1000;
    ss->last_event_epoch = -1;
    return ss;
}

static void
free_envp(char **envp)
{
    conf_free_words(envp);
}

static void
sink_free(struct sink *s)
{
    if (!s)
        return;
    if (s->fd > STDERR_FILENO)
        close(s->fd);
    if (s->journal_fd >= 0)
        close(s->journal_fd);
    for (size_t i = 0; i < s->queue_len; i++)
        free_envp(s->queue[i].envp);
    free(s->queue);
    conf_free_words(s->argv);
    strbuf_release(&s->backlog);
    free(s->path);
    free(s->where);
    free(s);
}

void
sinkset_free(struct sinkset *ss)
{
    if (!ss)
        return;
    for (size_t i = 0; i < ss->nsinks; i++)
        sink_free(ss->sinks[i]);
    free(ss->sinks);
    for (size_t i = 0; i < ss->nthrottle; i++) {
        free(ss->throttle[i].key);
        free(ss->throttle[i].domain);
        free(ss->throttle[i].monitor);
        free(ss->throttle[i].event);
    }
    free(ss->throttle);
    free(ss->children);
    for (size_t i = 0; i < ss->nprom; i++)
        free(ss->prom[i].domain);
    free(ss->prom);
    free(ss);
}

static struct sink *
sinkset_push(struct sinkset *ss, enum sink_kind kind, const char *where)
{
    struct sink *s = xcalloc(1, sizeof(*s));

    s->kind = kind;
    s->fd = -1;
    s->journal_fd = -1;
    s->where = xstrdup(where);
    s->facility = LOG_DAEMON;
    s->priority = LOG_ERR;
    s->timeout_ms = 30000;
    s->max_concurrent = 4;
    ss->sinks = xreallocarray(ss->sinks, ss->nsinks + 1, sizeof(*ss->sinks));
    ss->sinks[ss->nsinks++] = s;
    return s;
}

void
sinkset_add_json(struct sinkset *ss, const char *path)
{
    struct sink *s = sinkset_push(ss, SINK_JSON, "command line");

    s->path = xstrdup(path);
}

void
sinkset_set_throttle(struct sinkset *ss, unsigned count, uint64_t window_ms)
{
    ss->throttle_count = count;
    ss->throttle_window_ms = window_ms;
}

unsigned
sinkset_count(const struct sinkset *ss)
{
    return (unsigned)ss->nsinks;
}

/* ---- configuration ---------------------------------------------------- */

static const struct { const char *name; int value; } facilities[] = {
    { "daemon", LOG_DAEMON }, { "user", LOG_USER }, { "auth", LOG_AUTH },
    { "authpriv", LOG_AUTHPRIV }, { "syslog", LOG_SYSLOG },
    { "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
    { "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
    { "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

static const struct { const char *name; int value; } priorities[] = {
    { "emerg", LOG_EMERG }, { "alert", LOG_ALERT }, { "crit", LOG_CRIT },
    { "err", LOG_ERR }, { "error", LOG_ERR }, { "warning", LOG_WARNING },
    { "notice", LOG_NOTICE }, { "info", LOG_INFO }, { "debug", LOG_DEBUG },
};

static int
lookup_level(const char *value, bool facility, int *out, char **errmsg)
{
    if (facility) {
        for (size_t i = 0; i < ARRAY_SIZE(facilities); i++) {
            if (strcasecmp(value, facilities[i].name) == 0) {
                *out = facilities[i].value;
                return 0;
            }
        }
        *errmsg = xasprintf("unknown syslog facility '%s' (daemon, user, local0..local7, ...)", value);
        return -1;
    }
    for (size_t i = 0; i < ARRAY_SIZE(priorities); i++) {
        if (strcasecmp(value, priorities[i].name) == 0) {
            *out = priorities[i].value;
            return 0;
        }
    }
    *errmsg = xasprintf("unknown syslog priority '%s' (crit, err, warning, notice, info, ...)", value);
    return -1;
}

static int
sink_conf_key(struct sink *s, const char *key, const char *value, char **errmsg)
{
    unsigned long u = 0;

    switch (s->kind) {
    case SINK_JSON:
    case SINK_PROMETHEUS:
        if (strcmp(key, "path") == 0) {
            if (!*value || (s->kind == SINK_PROMETHEUS && value[0] != '/') ||
                (s->kind == SINK_JSON && value[0] != '/' && strcmp(value, "-") != 0)) {
                *errmsg = xasprintf("path must be absolute%s", s->kind == SINK_JSON ? " or '-' (stdout)" : "");
                return -1;
            }
            free(s->path);
            s->path = xstrdup(value);
            return 0;
        }
        break;
    case SINK_SYSLOG:
        if (strcmp(key, "facility") == 0)
            return lookup_level(value, true, &s->facility, errmsg);
        if (strcmp(key, "priority") == 0)
            return lookup_level(value, false, &s->priority, errmsg);
        break;
    case SINK_EXEC:
        if (strcmp(key, "command") == 0) {
            char **argv = NULL;

            if (conf_split_words(value, &argv, NULL, errmsg) < 0)
                return -1;
            if (argv[0][0] != '/') {
                *errmsg = xasprintf("command must start with an absolute path, not '%s'", argv[0]);
                conf_free_words(argv);
                return -1;
            }
            conf_free_words(s->argv);
            s->argv = argv;
            return 0;
        }
        if (strcmp(key, "timeout") == 0) {
            unsigned long long ms = 0;

            if (conf_value_duration_ms(value, &ms, errmsg) < 0)
                return -1;
            s->timeout_ms = ms;
            return 0;
        }
        if (strcmp(key, "max_concurrent") == 0) {
            if (conf_value_uint(value, 1, 64, &u, errmsg) < 0)
                return -1;
            s->max_concurrent = (unsigned)u;
            return 0;
        }
        break;
    case SINK_KIND_LAST:
        break;
    }
    *errmsg = xasprintf("unknown key '%s' in [sink %s]", key, sink_kind_names[s->kind]);
    return -1;
}

int
sinkset_conf_entry(struct sinkset *ss, const struct conf_entry *e, char **errmsg)
{
    unsigned long u = 0;

    if (!e->section) {
        if (!e->key)
            return 0;
        if (strcmp(e->key, "throttle_count") == 0) {
            if (conf_value_uint(e->value, 1, 1000000, &u, errmsg) < 0)
                return -1;
            ss->throttle_count = (unsigned)u;
            return 1;
        }
        if (strcmp(e->key, "throttle_window") == 0) {
            unsigned long long ms = 0;

            if (conf_value_duration_ms(e->value, &ms, errmsg) < 0)
                return -1;
            ss->throttle_window_ms = ms;
            return 1;
        }
        return 0;
    }
    if (strcmp(e->section, "sink") != 0)
        return 0;
    if (!e->key) {
        AUTOFREE char *where = xasprintf("%s:%u", e->file, e->line);

        for (int k = 0; k < SINK_KIND_LAST; k++) {
            if (e->label && strcmp(e->label, sink_kind_names[k]) == 0) {
                sinkset_push(ss, (enum sink_kind)k, where);
                return 1;
            }
        }
        *errmsg = xasprintf("unknown sink '%s' (json, syslog, exec, prometheus)",
                            e->label ? e->label : "");
        return -1;
    }
    if (ss->nsinks == 0) {
        *errmsg = xstrdup("sink key outside a valid [sink] section");
        return -1;
    }
    return sink_conf_key(ss->sinks[ss->nsinks - 1], e->key, e->value, errmsg) < 0 ? -1 : 1;
}

int
sinkset_conf_finish(struct sinkset *ss, const char *file, char **errmsg)
{
    (void)file;
    for (size_t i = 0; i < ss->nsinks; i++) {
        struct sink *s = ss->sinks[i];

        if ((s->kind == SINK_JSON || s->kind == SINK_PROMETHEUS) && !s->path) {
            *errmsg = xasprintf("%s: [sink %s] needs 'path'", s->where, sink_kind_names[s->kind]);
            return -1;
        }
        if (s->kind == SINK_EXEC && !s->argv) {
            *errmsg = xasprintf("%s: [sink exec] needs 'command'", s->where);
            return -1;
        }
    }
    return 0;
}

/* ---- json ------------------------------------------------------------- */

/*
 * Open an output file we append to. O_NOFOLLOW refuses a symlink planted at
 * the path; a regular file owned by someone else (e.g. pre-created in a
 * sticky world-writable directory) is refused too, and so is a second name
 * of another file (a hard link to a root-owned file planted where
 * fs.protected_hardlinks is off). O_NONBLOCK: a FIFO planted at the path
 * must not block the daemon in open() (it is refused as not regular).
 */
static int
open_output(const char *path)
{
    AUTOCLOSE int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
                                      O_CLOEXEC | O_NOCTTY, 0640);
    struct stat sb;

    if (fd < 0) {
        log_warn("cannot open alert output '%s'%s", path,
                 errno == ELOOP ? " (it is a symlink; refusing to follow it)" : "");
        return -1;
    }
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
        (sb.st_uid != geteuid() && sb.st_uid != 0)) {
        log_warnx("refusing alert output '%s': not a regular file owned by us or root", path);
        return -1;
    }
    if (sb.st_nlink > 1) {
        log_warnx("refusing alert output '%s': it has %ju hard links (another file's name?)",
                  path, (uintmax_t)sb.st_nlink);
        return -1;
    }
    return steal_fd(&fd);
}

static int
json_open(struct sink *s)
{
    if (strcmp(s->path, "-") == 0) {
        s->fd = STDOUT_FILENO;
        return 0;
    }
    s->fd = open_output(s->path);
    return s->fd < 0 ? -EINVAL : 0;
}

/*
 * Write what the backlog holds. A failed write (disk full, I/O error) is
 * undone to the last whole line, so the file never holds a torn line, and
 * the lines are kept (bounded) for the next try: sinkset_tick() retries
 * every JSON_RETRY_MS. Reported once per outage, and when it is over.
 */
static void
json_flush(struct sinkset *ss, struct sink *s)
{
    struct stat sb;
    int rc;

    if (s->fd < 0 || s->backlog.len == 0)
        return;
    rc = fstat(s->fd, &sb) < 0 ? -errno : 0;
    if (rc == 0)
        rc = write_all(s->fd, s->backlog.buf, s->backlog.len);
    if (rc < 0) {
        ss->stats.write_errors++;
        if (S_ISREG(sb.st_mode) && ftruncate(s->fd, sb.st_size) < 0 && !s->write_failing)
            log_warn("cannot cut a partly written alert off '%s'", s->path);
        if (!s->write_failing)
            log_warnx("cannot write alerts to '%s': %s; keeping them (up to %u MiB) and retrying",
                      s->path, strerror(-rc), JSON_BACKLOG_MAX >> 20);
        s->write_failing = true;
        return;
    }
    if (s->write_failing)
        log_info("alerts written to '%s' again (%zu delayed%s)", s->path, s->backlog_lines,
                 s->backlog_dropped ? ", some lost: see above" : "");
    if (s->backlog_dropped)
        log_warnx("%zu alerts could not be kept for '%s' while it failed", s->backlog_dropped,
                  s->path);
    s->write_failing = false;
    s->backlog_dropped = 0;
    s->backlog_lines = 0;
    strbuf_reset(&s->backlog);
    s->dirty = true;
}

static void
json_emit(struct sinkset *ss, struct sink *s, const struct alert *a)
{
    if (s->fd < 0)
        return;
    /* One write() per line (or per backlog): O_APPEND keeps concurrent lines whole. */
    if (s->backlog.len + strlen(a->json) + 1 > JSON_BACKLOG_MAX) {
        s->backlog_dropped++;
    } else {
        strbuf_addstr(&s->backlog, a->json);
        strbuf_addch(&s->backlog, '\n');
        s->backlog_lines++;
    }
    json_flush(ss, s);
}

bool
sinkset_backlog(const struct sinkset *ss)
{
    for (size_t i = 0; i < ss->nsinks; i++) {
        if (ss->sinks[i]->kind == SINK_JSON && ss->sinks[i]->backlog.len > 0)
            return true;
    }
    return false;
}

int
sink_json_recent_ids(const char *path, size_t max_bytes,
                     void (*fn)(const char *id, void *opaque), void *opaque)
{
    AUTOCLOSE int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    AUTOFREE char *buf = NULL;
    struct stat sb;
    off_t start;
    size_t len = 0;
    char *p;
    int rc;

    if (fd < 0)
        return -errno;
    if (fstat(fd, &sb) < 0)
        return -errno;
    if (!S_ISREG(sb.st_mode))
        return -EINVAL;
    start = sb.st_size > (off_t)max_bytes ? sb.st_size - (off_t)max_bytes : 0;
    if (lseek(fd, start, SEEK_SET) < 0)
        return -errno;
    if ((rc = read_fd_capped(fd, max_bytes, &buf, &len)) < 0)
        return rc;
    p = buf;
    if (start > 0) {
        /* The first line is probably cut: skip it. */
        p = memchr(buf, '\n', len);
        p = p ? p + 1 : buf + len;
    }
    while (p < buf + len) {
        char *nl = memchr(p, '\n', (size_t)(buf + len - p));
        char *end = nl ? nl : buf + len;
        char *id;

        *end = '\0';
        /* Our writer always emits "id":"<hex or word chars>" unescaped. */
        id = strstr(p, "\"id\":\"");
        if (id) {
            char *q;

            id += 6;
            q = strchr(id, '"');
            if (q) {
                *q = '\0';
                fn(id, opaque);
            }
        }
        p = end + 1;
    }
    return 0;
}

void
sinkset_recent_ids(const struct sinkset *ss, size_t max_bytes,
                   void (*fn)(const char *id, void *opaque), void *opaque)
{
    for (size_t i = 0; i < ss->nsinks; i++) {
        const struct sink *s = ss->sinks[i];

        if (s->kind == SINK_JSON && strcmp(s->path, "-") != 0)
            sink_json_recent_ids(s->path, max_bytes, fn, opaque);
    }
}

/* ---- syslog ------------------------------------------------------------ */

/* Fixed per event type, so journalctl MESSAGE_ID=... finds every panic. */
static const struct { const char *event; const char *id; } journal_message_ids[] = {
    { "panic", "a3dbde84b36442c1829713b96f1df3b6" },
    { "crashloaded", "c4c7296246d64ca6b6e23bb0357779e1" },
    { "throttled", "cab04041a843408aaa997265b381f1e9" },
};
#define JOURNAL_MESSAGE_ID_CUSTOM "b2569e7f085a49d28cb4c1ec61f261b8"

const char *
sink_journal_message_id(const char *event)
{
    for (size_t i = 0; event && i < ARRAY_SIZE(journal_message_ids); i++) {
        if (strcmp(event, journal_message_ids[i].event) == 0)
            return journal_message_ids[i].id;
    }
    return JOURNAL_MESSAGE_ID_CUSTOM;
}

void
sink_journal_field(struct strbuf *out, const char *name, const char *value, size_t len)
{
    if (len > SINK_JOURNAL_VALUE_MAX)
        len = SINK_JOURNAL_VALUE_MAX;
    strbuf_addstr(out, name);
    if (!memchr(value, '\n', len) && !memchr(value, '\0', len)) {
        strbuf_addch(out, '=');
        strbuf_add(out, value, len);
    } else {
        unsigned char le[8];

        for (int i = 0; i < 8; i++)
            le[i] = (unsigned char)((uint64_t)len >> (8 * i));
        strbuf_addch(out, '\n');
        strbuf_add(out, le, sizeof(le));
        strbuf_add(out, value, len);
    }
    strbuf_addch(out, '\n');
}

static void
journal_field_opt(struct strbuf *out, const char *name, const char *value)
{
    if (value)
        sink_journal_field(out, name, value, strlen(value));
}

void
sink_journal_format(struct strbuf *out, const struct alert *a, const char *message,
                    int priority, int facility, const char *count, long pid)
{
    char num[32];

    sink_journal_field(out, "MESSAGE", message, strlen(message));
    snprintf(num, sizeof(num), "%d", priority & LOG_PRIMASK);
    journal_field_opt(out, "PRIORITY", num);
    journal_field_opt(out, "SYSLOG_IDENTIFIER", SINK_SYSLOG_IDENT);
    snprintf(num, sizeof(num), "%d", LOG_FAC(facility));
    journal_field_opt(out, "SYSLOG_FACILITY", num);
    snprintf(num, sizeof(num), "%ld", pid);
    journal_field_opt(out, "SYSLOG_PID", num);
    journal_field_opt(out, "MESSAGE_ID", sink_journal_message_id(a->event));
    journal_field_opt(out, "PVPANIC_EVENT", a->event);
    journal_field_opt(out, "PVPANIC_DOMAIN", a->domain);
    journal_field_opt(out, "PVPANIC_TIME", a->time);
    journal_field_opt(out, "PVPANIC_ACTION", a->action);
    journal_field_opt(out, "PVPANIC_MONITOR", a->monitor);
    journal_field_opt(out, "PVPANIC_DETAILS", a->details);
    journal_field_opt(out, "PVPANIC_ID", a->id);
    journal_field_opt(out, "PVPANIC_COUNT", count);
}

/*
 * Use journald's native socket when it is there (a systemd host); on any
 * other host the syslog sink is plain syslog(3).
 */
static void
journal_open(struct sink *s)
{
    const char *path = getenv(SINK_JOURNAL_SOCKET_ENV);
    struct stat sb;

    if (!path || !*path)
        path = SINK_JOURNAL_SOCKET;
    if (strlen(path) >= sizeof(s->journal_addr.sun_path) || stat(path, &sb) < 0 ||
        !S_ISSOCK(sb.st_mode))
        return;
    s->journal_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s->journal_fd < 0) {
        log_warn("syslog sink (%s): cannot create a socket for journald; using syslog(3)", s->where);
        return;
    }
    memset(&s->journal_addr, 0, sizeof(s->journal_addr));
    s->journal_addr.sun_family = AF_UNIX;
    memcpy(s->journal_addr.sun_path, path, strlen(path) + 1);
    s->journal_addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
    log_debug("syslog sink (%s): sending to journald at '%s'", s->where, path);
}

static void
syslog_emit(struct sink *s, const struct alert *a, const char *text, const char *count)
{
    if (s->journal_fd >= 0) {
        struct strbuf dgram = STRBUF_INIT;
        ssize_t n;

        sink_journal_format(&dgram, a, text, s->priority, s->facility, count, (long)getpid());
        n = sendto(s->journal_fd, dgram.buf, dgram.len, MSG_NOSIGNAL | MSG_DONTWAIT,
                   (const struct sockaddr *)&s->journal_addr, s->journal_addrlen);
        strbuf_release(&dgram);
        if (n >= 0) {
            s->journal_failed = false;
            return;
        }
        if (!s->journal_failed)
            log_warn("syslog sink (%s): cannot send to journald at '%s'; using syslog(3) "
                     "until it works again", s->where, s->journal_addr.sun_path);
        s->journal_failed = true;
    }
    syslog(s->priority | s->facility, "%s", text);
}

/*
 * One value of the human line: as is when it is a plain word, JSON-quoted
 * otherwise. Values come from the log (a QMP action, an operator rule's
 * capture) and may hold a newline: it must not start a second syslog line.
 */
static void
add_word(struct strbuf *out, const char *s)
{
    if (!s) {
        strbuf_addch(out, '-');
        return;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '\\') {
            strbuf_add_json_str(out, s, strlen(s));
            return;
        }
    }
    strbuf_addstr(out, *s ? s : "\"\"");
}

static void
describe_alert(struct strbuf *out, const struct alert *a)
{
    strbuf_addstr(out, "guest ");
    add_word(out, a->event);
    strbuf_addstr(out, ": domain ");
    if (a->domain)
        strbuf_add_json_str(out, a->domain, strlen(a->domain));
    else
        strbuf_addstr(out, "unknown (the log does not name it)");
    strbuf_addstr(out, " monitor=");
    add_word(out, a->monitor);
    strbuf_addstr(out, " action=");
    add_word(out, a->action);
    strbuf_addstr(out, " time=");
    add_word(out, a->time);
    if (a->details) {
        strbuf_addstr(out, " details=");
        strbuf_add_json_str(out, a->details, strlen(a->details));
    }
}

/* ---- exec -------------------------------------------------------------- */

static void
envp_add(char ***envp, size_t *n, const char *name, const char *value)
{
    if (!value)
        return;
    *envp = xreallocarray(*envp, *n + 2, sizeof(**envp));
    (*envp)[(*n)++] = xasprintf("%s=%s", name, value);
    (*envp)[*n] = NULL;
}

static char **
exec_build_env(const struct alert *a, const char *count)
{
    char **envp = NULL;
    size_t n = 0;
    const char *path = getenv("PATH");

    envp_add(&envp, &n, "PATH", path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
    envp_add(&envp, &n, "LC_ALL", "C.UTF-8");
    envp_add(&envp, &n, "PVPANIC_EVENT", a->event);
    envp_add(&envp, &n, "PVPANIC_DOMAIN", a->domain);
    envp_add(&envp, &n, "PVPANIC_TIME", a->time);
    envp_add(&envp, &n, "PVPANIC_ACTION", a->action);
    envp_add(&envp, &n, "PVPANIC_MONITOR", a->monitor);
    envp_add(&envp, &n, "PVPANIC_DETAILS", a->details);
    envp_add(&envp, &n, "PVPANIC_ID", a->id);
    envp_add(&envp, &n, "PVPANIC_JSON", a->json);
    envp_add(&envp, &n, "PVPANIC_COUNT", count);
    return envp;
}

static void
exec_spawn(struct sinkset *ss, struct sink *s, char **envp, uint64_t now_ms)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none;
    pid_t pid = -1;
    int rc;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_init(&attr);
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    {
        sigset_t all;

        sigfillset(&all);
        posix_spawnattr_setsigdefault(&attr, &all);
    }
    /* Own process group, so a timeout kills the whole program tree. */
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                             POSIX_SPAWN_SETSIGDEF);
    rc = posix_spawn(&pid, s->argv[0], &fa, &attr, s->argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        ss->stats.exec_failed++;
        log_warnx("exec sink (%s): cannot run '%s': %s", s->where, s->argv[0], strerror(rc));
        return;
    }
    ss->stats.exec_started++;
    s->running++;
    ss->children = xreallocarray(ss->children, ss->nchildren + 1, sizeof(*ss->children));
    ss->children[ss->nchildren++] = (struct child){ .pid = pid, .sink = s, .started_ms = now_ms };
}

static void
exec_submit(struct sinkset *ss, struct sink *s, char **envp, uint64_t now_ms)
{
    if (s->running < s->max_concurrent) {
        exec_spawn(ss, s, envp, now_ms);
        free_envp(envp);
        return;
    }
    if (s->queue_len >= EXEC_QUEUE_MAX) {
        ss->stats.exec_dropped++;
        log_warnx("exec sink (%s): %zu runs already waiting; dropping this alert "
                  "(the json and prometheus sinks still have it)", s->where, s->queue_len);
        free_envp(envp);
        return;
    }
    s->queue = xreallocarray(s->queue, s->queue_len + 1, sizeof(*s->queue));
    s->queue[s->queue_len++].envp = envp;
}

static void
exec_reap(struct sinkset *ss, uint64_t now_ms)
{
    size_t i = 0;

    while (i < ss->nchildren) {
        struct child *c = &ss->children[i];
        int status = 0;
        pid_t r = waitpid(c->pid, &status, WNOHANG);

        if (r == c->pid || (r < 0 && errno == ECHILD)) {
            struct sink *s = c->sink;

            if (r == c->pid && WIFEXITED(status) && WEXITSTATUS(status) != 0) {
                ss->stats.exec_failed++;
                log_warnx("exec sink (%s): '%s' exited with status %d", s->where,
                          s->argv[0], WEXITSTATUS(status));
            } else if (r == c->pid && WIFSIGNALED(status)) {
                ss->stats.exec_failed++;
                log_warnx("exec sink (%s): '%s' killed by signal %d%s", s->where,
                          s->argv[0], WTERMSIG(status), c->term_sent ? " (timeout)" : "");
            }
            s->running--;
            ss->children[i] = ss->children[--ss->nchildren];
            if (s->queue_len > 0) {
                char **envp = s->queue[0].envp;

                memmove(s->queue, s->queue + 1, (s->queue_len - 1) * sizeof(*s->queue));
                s->queue_len--;
                exec_submit(ss, s, envp, now_ms);
            }
            continue;
        }
        if (now_ms >= c->started_ms + c->sink->timeout_ms) {
            if (!c->term_sent) {
                ss->stats.exec_timeouts++;
                log_warnx("exec sink (%s): '%s' (pid %ld) still running after %llu ms; terminating it",
                          c->sink->where, c->sink->argv[0], (long)c->pid,
                          (unsigned long long)c->sink->timeout_ms);
                kill(-c->pid, SIGTERM);
                c->term_sent = true;
            } else if (now_ms >= c->started_ms + c->sink->timeout_ms + EXEC_KILL_GRACE_MS) {
                kill(-c->pid, SIGKILL);
            }
        }
        i++;
    }
}

/* ---- prometheus --------------------------------------------------------- */

static struct prom_ent *
prom_find(struct sinkset *ss, const char *domain, bool create)
{
    const char *d = domain ? domain : "";

    for (size_t i = 0; i < ss->nprom; i++) {
        if (strcmp(ss->prom[i].domain, d) == 0)
            return &ss->prom[i];
    }
    if (!create || ss->nprom >= PROM_MAX_DOMAINS)
        return NULL;
    ss->prom = xreallocarray(ss->prom, ss->nprom + 1, sizeof(*ss->prom));
    ss->prom[ss->nprom] = (struct prom_ent){ .domain = xstrdup(d) };
    return &ss->prom[ss->nprom++];
}

/* Inverse of strbuf_add_prom_label(); @p points after the opening quote. */
static const char *
prom_unescape(const char *p, struct strbuf *out)
{
    while (*p && *p != '"') {
        if (*p == '\\' && p[1]) {
            p++;
            strbuf_addch(out, *p == 'n' ? '\n' : *p);
            p++;
            continue;
        }
        strbuf_addch(out, *p++);
    }
    return *p == '"' ? p + 1 : NULL;
}

/* Counters continue across restarts: read back our own textfile. */
static void
prom_restore(struct sinkset *ss, const char *path)
{
    AUTOCLOSE int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    AUTOFREE char *text = NULL;
    size_t len = 0;
    struct stat sb;
    char *line;
    char *save = NULL;

    /* Only our own earlier output: never through a symlink, never a FIFO or device. */
    if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
        (sb.st_uid != geteuid() && sb.st_uid != 0))
        return;
    if (read_fd_capped(fd, 64u << 20, &text, &len) < 0)
        return;
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        static const char *const names[] = {
            "pvpanic_guest_panics_total{domain=\"",
            "pvpanic_guest_crashloaded_total{domain=\"",
        };

        for (size_t k = 0; k < ARRAY_SIZE(names); k++) {
            size_t nl = strlen(names[k]);
            struct strbuf dom = STRBUF_INIT;
            const char *rest;
            struct prom_ent *pe;
            unsigned long long v;
            char *end = NULL;

            if (strncmp(line, names[k], nl) != 0)
                continue;
            rest = prom_unescape(line + nl, &dom);
            if (rest && *rest == '}') {
                v = strtoull(rest + 1, &end, 10);
                pe = prom_find(ss, strbuf_str(&dom), true);
                if (pe && end != rest + 1) {
                    if (k == 0)
                        pe->panics = v;
                    else
                        pe->crashloaded = v;
                }
            }
            strbuf_release(&dom);
        }
        if (strncmp(line, "pvpanic_watch_last_event_timestamp_seconds ", 43) == 0)
            ss->last_event_epoch = strtod(line + 43, NULL);
    }
}

static void
prom_render(const struct sinkset *ss, struct strbuf *out)
{
    strbuf_addstr(out, "# HELP pvpanic_guest_panics_total Guest panics (QMP GUEST_PANICKED) seen in libvirt logs.\n"
                       "# TYPE pvpanic_guest_panics_total counter\n");
    for (size_t i = 0; i < ss->nprom; i++) {
        strbuf_addstr(out, "pvpanic_guest_panics_total{domain=\"");
        strbuf_add_prom_label(out, ss->prom[i].domain, strlen(ss->prom[i].domain));
        strbuf_addf(out, "\"} %llu\n", (unsigned long long)ss->prom[i].panics);
    }
    strbuf_addstr(out, "# HELP pvpanic_guest_crashloaded_total Guest crashes handled in the guest (QMP GUEST_CRASHLOADED).\n"
                       "# TYPE pvpanic_guest_crashloaded_total counter\n");
    for (size_t i = 0; i < ss->nprom; i++) {
        strbuf_addstr(out, "pvpanic_guest_crashloaded_total{domain=\"");
        strbuf_add_prom_label(out, ss->prom[i].domain, strlen(ss->prom[i].domain));
        strbuf_addf(out, "\"} %llu\n", (unsigned long long)ss->prom[i].crashloaded);
    }
    strbuf_addf(out, "# HELP pvpanic_custom_events_total Matches of operator-defined rules.\n"
                     "# TYPE pvpanic_custom_events_total counter\n"
                     "pvpanic_custom_events_total %llu\n", (unsigned long long)ss->prom_other);
    if (ss->last_event_epoch >= 0) {
        strbuf_addf(out, "# HELP pvpanic_watch_last_event_timestamp_seconds Log time of the last event.\n"
                         "# TYPE pvpanic_watch_last_event_timestamp_seconds gauge\n"
                         "pvpanic_watch_last_event_timestamp_seconds %.3f\n", ss->last_event_epoch);
    }
    strbuf_addf(out,
                "# HELP pvpanic_watch_lines_read_total Log lines read.\n"
                "# TYPE pvpanic_watch_lines_read_total counter\n"
                "pvpanic_watch_lines_read_total %llu\n"
                "# HELP pvpanic_watch_bytes_read_total Log bytes read.\n"
                "# TYPE pvpanic_watch_bytes_read_total counter\n"
                "pvpanic_watch_bytes_read_total %llu\n"
                "# HELP pvpanic_watch_files_followed Log files currently followed.\n"
                "# TYPE pvpanic_watch_files_followed gauge\n"
                "pvpanic_watch_files_followed %llu\n"
                "# HELP pvpanic_watch_parse_errors_total Records the parser could not use.\n"
                "# TYPE pvpanic_watch_parse_errors_total counter\n"
                "pvpanic_watch_parse_errors_total %llu\n"
                "# HELP pvpanic_watch_alerts_suppressed_total Alerts held back by per-domain throttling.\n"
                "# TYPE pvpanic_watch_alerts_suppressed_total counter\n"
                "pvpanic_watch_alerts_suppressed_total %llu\n"
                "# HELP pvpanic_watch_exec_failures_total Alert programs that failed, timed out or were dropped.\n"
                "# TYPE pvpanic_watch_exec_failures_total counter\n"
                "pvpanic_watch_exec_failures_total %llu\n",
                (unsigned long long)ss->health.lines_read,
                (unsigned long long)ss->health.bytes_read,
                (unsigned long long)ss->health.files_followed,
                (unsigned long long)ss->health.parse_errors,
                (unsigned long long)ss->stats.suppressed,
                (unsigned long long)(ss->stats.exec_failed + ss->stats.exec_dropped));
}

static void
prom_write(struct sinkset *ss, struct sink *s)
{
    struct strbuf text = STRBUF_INIT;
    int rc;

    prom_render(ss, &text);
    rc = write_file_atomic(s->path, text.buf, text.len, 0644);
    if (rc < 0) {
        ss->stats.write_errors++;
        log_warnx("cannot write metrics file '%s': %s (will retry)", s->path, strerror(-rc));
    } else {
        s->dirty = false;
    }
    strbuf_release(&text);
}

/* ---- throttling ---------------------------------------------------------- */

static struct throttle_ent *
throttle_find(struct sinkset *ss, const struct alert *a, uint64_t now_ms)
{
    AUTOFREE char *key = NULL;

    if (a->domain)
        key = xasprintf("d:%s", a->domain);
    else
        key = xasprintf("m:%s", a->monitor ? a->monitor : "?");
    for (size_t i = 0; i < ss->nthrottle; i++) {
        if (strcmp(ss->throttle[i].key, key) == 0)
            return &ss->throttle[i];
    }
    if (ss->nthrottle >= THROTTLE_MAX_KEYS) {
        /* Forget the entry whose window started first; it has no pending summary. */
        size_t oldest = 0;

        for (size_t i = 1; i < ss->nthrottle; i++) {
            if (ss->throttle[i].suppressed == 0 &&
                ss->throttle[i].window_start < ss->throttle[oldest].window_start)
                oldest = i;
        }
        free(ss->throttle[oldest].key);
        free(ss->throttle[oldest].domain);
        free(ss->throttle[oldest].monitor);
        free(ss->throttle[oldest].event);
        ss->throttle[oldest] = ss->throttle[--ss->nthrottle];
    }
    ss->throttle = xreallocarray(ss->throttle, ss->nthrottle + 1, sizeof(*ss->throttle));
    ss->throttle[ss->nthrottle] = (struct throttle_ent){
        .key = steal_pointer(&key),
        .domain = a->domain ? xstrdup(a->domain) : NULL,
        .monitor = a->monitor ? xstrdup(a->monitor) : NULL,
        .event = xstrdup(a->event),
        .window_start = now_ms,
    };
    return &ss->throttle[ss->nthrottle++];
}

static void
deliver_alerting(struct sinkset *ss, const struct alert *a, const char *count, uint64_t now_ms)
{
    struct strbuf text = STRBUF_INIT;

    for (size_t i = 0; i < ss->nsinks; i++) {
        struct sink *s = ss->sinks[i];

        if (s->kind == SINK_SYSLOG) {
            if (!text.len) {
                if (count) {
                    strbuf_addf(&text, "guest %s: domain ", a->event);
                    if (a->domain)
                        strbuf_add_json_str(&text, a->domain, strlen(a->domain));
                    else
                        strbuf_addf(&text, "unknown (monitor %s)", a->monitor ? a->monitor : "-");
                    strbuf_addf(&text, ": %s more alerts suppressed by throttling (%s)",
                                count, a->details ? a->details : "");
                } else {
                    describe_alert(&text, a);
                }
            }
            syslog_emit(s, a, text.buf, count);
        } else if (s->kind == SINK_EXEC) {
            exec_submit(ss, s, exec_build_env(a, count), now_ms);
        }
    }
    strbuf_release(&text);
}

static void
throttle_summary(struct sinkset *ss, struct throttle_ent *t, uint64_t now_ms)
{
    AUTOFREE char *count = xasprintf("%u", t->suppressed);
    AUTOFREE char *details = xasprintf("%u more %s events in the last %llu s; alerts were throttled "
                                       "(limit %u per window)", t->suppressed, t->event,
                                       (unsigned long long)(ss->throttle_window_ms / 1000),
                                       ss->throttle_count);
    struct strbuf json = STRBUF_INIT;
    struct alert summary = {
        .event = "throttled",
        .domain = t->domain,
        .monitor = t->monitor,
        .details = details,
        .epoch = -1,
    };

    strbuf_addstr(&json, "{\"event\":\"throttled\",\"of\":");
    strbuf_add_json_strz(&json, t->event);
    strbuf_addstr(&json, ",\"domain\":");
    strbuf_add_json_strz(&json, t->domain);
    strbuf_addstr(&json, ",\"monitor\":");
    strbuf_add_json_strz(&json, t->monitor);
    strbuf_addf(&json, ",\"count\":%u,\"window_seconds\":%llu}", t->suppressed,
                (unsigned long long)(ss->throttle_window_ms / 1000));
    summary.json = json.buf;
    ss->stats.summaries++;
    deliver_alerting(ss, &summary, count, now_ms);
    strbuf_release(&json);
    t->suppressed = 0;
    t->sent = 0;
    t->window_start = now_ms;
}

/* ---- the public flow ------------------------------------------------------- */

int
sinkset_open(struct sinkset *ss)
{
    int rc = 0;

    for (size_t i = 0; i < ss->nsinks; i++) {
        struct sink *s = ss->sinks[i];

        if (s->kind == SINK_JSON && json_open(s) < 0)
            rc = -EINVAL;
        if (s->kind == SINK_SYSLOG) {
            /*
             * A stable identifier for syslog(3) too, whatever the program
             * file is called. The facility is only the default of the
             * daemon's own messages (common/log.c's, LOG_DAEMON): each
             * alert carries its sink's facility.
             */
            openlog(SINK_SYSLOG_IDENT, LOG_PID, LOG_DAEMON);
            if (s->journal_fd < 0)
                journal_open(s);
        }
        if (s->kind == SINK_PROMETHEUS) {
            prom_restore(ss, s->path);
            s->dirty = true;
        }
        if (s->kind == SINK_EXEC && access(s->argv[0], X_OK) < 0) {
            log_warn("exec sink (%s): '%s' is not executable", s->where, s->argv[0]);
            rc = -EINVAL;
        }
    }
    return rc;
}

void
sinkset_reopen(struct sinkset *ss)
{
    for (size_t i = 0; i < ss->nsinks; i++) {
        struct sink *s = ss->sinks[i];

        if (s->kind != SINK_JSON || s->fd == STDOUT_FILENO)
            continue;
        if (s->fd >= 0)
            close(s->fd);
        s->fd = open_output(s->path);
    }
}

void
sinkset_emit(struct sinkset *ss, const struct alert *a, uint64_t now_ms)
{
    struct throttle_ent *t;
    bool is_panic = strcmp(a->event, "panic") == 0;
    bool is_crashloaded = strcmp(a->event, "crashloaded") == 0;

    ss->stats.alerts++;
    for (size_t i = 0; i < ss->nsinks; i++) {
        struct sink *s = ss->sinks[i];

        if (s->kind == SINK_JSON)
            json_emit(ss, s, a);
        else if (s->kind == SINK_PROMETHEUS)
            s->dirty = true;
    }
    if (is_panic || is_crashloaded) {
        struct prom_ent *pe = prom_find(ss, a->domain, true);

        if (pe) {
            if (is_panic)
                pe->panics++;
            else
                pe->crashloaded++;
        }
    } else {
        ss->prom_other++;
    }
    if (a->epoch >= 0)
        ss->last_event_epoch = a->epoch;

    t = throttle_find(ss, a, now_ms);
    if (now_ms >= t->window_start + ss->throttle_window_ms) {
        if (t->suppressed > 0)
            throttle_summary(ss, t, now_ms);
        t->sent = 0;
        t->window_start = now_ms;
    }
    if (t->sent >= ss->throttle_count) {
        t->suppressed++;
        ss->stats.suppressed++;
        return;
    }
    t->sent++;
    deliver_alerting(ss, a, NULL, now_ms);
}

void
sinkset_set_health(struct sinkset *ss, const struct sink_health *h)
{
    if (memcmp(&ss->health, h, sizeof(*h)) != 0) {
        ss->health = *h;
        ss->health_dirty = true;
    }
}

void
sinkset_sync(struct sinkset *ss, uint64_t now_ms)
{
    for (size_t i = 0; i < ss->nsinks; i++) {
        struct sink *s = ss->sinks[i];

        if (s->kind == SINK_JSON)
            json_flush(ss, s);
        if (s->kind == SINK_JSON && s->dirty && s->fd >= 0) {
            if (fdatasync(s->fd) < 0 && errno != EINVAL && errno != EROFS)
                log_warn("cannot sync alert output '%s'", s->path);
            s->dirty = false;
        }
        if (s->kind == SINK_PROMETHEUS) {
            bool health_due = ss->health_dirty &&
                              now_ms >= ss->prom_written_ms + PROM_HEALTH_INTERVAL_MS;

            if (s->dirty || health_due) {
                prom_write(ss, s);
                ss->prom_written_ms = now_ms;
                ss->health_dirty = false;
            }
        }
    }
}

void
sinkset_tick(struct sinkset *ss, uint64_t now_ms)
{
    exec_reap(ss, now_ms);
    for (size_t i = 0; i < ss->nthrottle; i++) {
        struct throttle_ent *t = &ss->throttle[i];

        if (t->suppressed > 0 && now_ms >= t->window_start + ss->throttle_window_ms)
            throttle_summary(ss, t, now_ms);
    }
    sinkset_sync(ss, now_ms);
}

int64_t
sinkset_next_tick_ms(const struct sinkset *ss, uint64_t now_ms)
{
    int64_t next = -1;

#define SOONER(ms) do { int64_t v_ = (int64_t)(ms); if (v_ < 0) v_ = 0; \
                        if (next < 0 || v_ < next) next = v_; } while (0)
    if (ss->nchildren > 0)
        SOONER(100);
    if (sinkset_backlog(ss))
        SOONER(JSON_RETRY_MS);
    for (size_t i = 0; i < ss->nthrottle; i++) {
        const struct throttle_ent *t = &ss->throttle[i];

        if (t->suppressed > 0)
            SOONER((int64_t)(t->window_start + ss->throttle_window_ms) - (int64_t)now_ms);
    }
    if (ss->health_dirty) {
        for (size_t i = 0; i < ss->nsinks; i++) {
            if (ss->sinks[i]->kind == SINK_PROMETHEUS)
                SOONER((int64_t)(ss->prom_written_ms + PROM_HEALTH_INTERVAL_MS) - (int64_t)now_ms);
        }
    }
#undef SOONER
    return next;
}

void
sinkset_shutdown(struct sinkset *ss, uint64_t now_ms)
{
    struct timespec ts = { 0, 50 * 1000 * 1000 };

    for (size_t i = 0; i < ss->nthrottle; i++) {
        if (ss->throttle[i].suppressed > 0)
            throttle_summary(ss, &ss->throttle[i], now_ms);
    }
    /* Let running alert programs finish, within a bound. */
    for (unsigned waited = 0; ss->nchildren > 0 && waited < SHUTDOWN_WAIT_MS; waited += 50) {
        exec_reap(ss, now_ms + waited);
        if (ss->nchildren > 0)
            nanosleep(&ts, NULL);
    }
    for (size_t i = 0; i < ss->nchildren; i++)
        kill(-ss->children[i].pid, SIGKILL);
    exec_reap(ss, now_ms + SHUTDOWN_WAIT_MS);
    ss->health_dirty = true;
    ss->prom_written_ms = 0;
    sinkset_sync(ss, now_ms + PROM_HEALTH_INTERVAL_MS + SHUTDOWN_WAIT_MS);
    for (size_t i = 0; i < ss->nsinks; i++) {
        const struct sink *s = ss->sinks[i];

        if (s->kind == SINK_JSON && s->backlog_lines > 0)
            log_warnx("%zu alerts were never written to '%s' (still failing at exit)",
                      s->backlog_lines, s->path);
    }
}

void
sinkset_get_stats(const struct sinkset *ss, struct sink_stats *out)
{
    *out = ss->stats;
}
