#include <config.h>

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "conf.h"
#include "hookconf.h"
#include "log.h"
#include "xalloc.h"

/* Keys that may appear once; the line of the first occurrence is kept. */
enum scalar_key {
    KEY_ON_MISSING,
    KEY_MODEL,
    KEY_LOG,
    KEY_CONNECT,
    KEY_VERBOSE,
    KEY_STDIN_TIMEOUT,
    KEY_METADATA,
    KEY_LAST
};

static const char *const scalar_keys[] = {
    [KEY_ON_MISSING] = "on_missing",
    [KEY_MODEL] = "model",
    [KEY_LOG] = "log",
    [KEY_CONNECT] = "connect",
    [KEY_VERBOSE] = "verbose",
    [KEY_STDIN_TIMEOUT] = "stdin_timeout",
    [KEY_METADATA] = "metadata",
};
_Static_assert(ARRAY_SIZE(scalar_keys) == KEY_LAST, "scalar_keys");

struct load_state {
    struct hook_conf *conf;
    unsigned int seen_line[KEY_LAST];
};

const char *
hookconf_path(void)
{
    const char *env = getenv(HOOKCONF_ENV);

    return env && *env ? env : HOOKCONF_DEFAULT_PATH;
}

struct hook_conf *
hookconf_new(void)
{
    struct hook_conf *c = xcalloc(1, sizeof(*c));

    c->path = xstrdup(hookconf_path());
    c->on_missing = ON_MISSING_ENROLL;
    c->model = PANIC_MODEL_AUTO;
    c->log_dest = LOG_DEST_STDERR | LOG_DEST_SYSLOG;
    c->connect = xstrdup(HOOKCONF_DEFAULT_CONNECT);
    c->stdin_timeout_ms = HOOKCONF_DEFAULT_STDIN_TIMEOUT_MS;
    c->metadata = true;
    return c;
}

static void
strlist_add(struct strlist *l, const char *s)
{
    l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
    l->v[l->n++] = xstrdup(s);
}

static void
strlist_free(struct strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

void
hookconf_free(struct hook_conf *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->connect);
    strlist_free(&c->include);
    strlist_free(&c->exclude);
    strlist_free(&c->include_uuid);
    strlist_free(&c->exclude_uuid);
    free(c);
}

char *
uuid_normalize(const char *s)
{
    char out[33];
    size_t n = 0;

    for (const char *p = s; *p; p++) {
        char c = *p;

        if (c == '-')
            continue;
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) || n == 32)
            return NULL;
        out[n++] = c;
    }
    if (n != 32)
        return NULL;
    out[n] = '\0';
    return xstrdup(out);
}

const char *
hookconf_log_to_string(int dest)
{
    switch (dest & (LOG_DEST_STDERR | LOG_DEST_SYSLOG)) {
    case LOG_DEST_STDERR:
        return "stderr";
    case LOG_DEST_SYSLOG:
        return "syslog";
    case LOG_DEST_STDERR | LOG_DEST_SYSLOG:
        return "both";
    default:
        return "none";
    }
}

static int
parse_log_dest(const char *v)
{
    if (strcmp(v, "syslog") == 0)
        return LOG_DEST_SYSLOG;
    if (strcmp(v, "stderr") == 0)
        return LOG_DEST_STDERR;
    if (strcmp(v, "both") == 0)
        return LOG_DEST_STDERR | LOG_DEST_SYSLOG;
    if (strcmp(v, "none") == 0)
        return LOG_DEST_NONE;
    return -1;
}

static bool
has_control_chars(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return true;
    }
    return false;
}

static int
set_scalar(struct hook_conf *c, enum scalar_key key, const char *v, char **errmsg)
{
    int i;

    switch (key) {
    case KEY_ON_MISSING:
        if ((i = on_missing_from_string(v)) < 0) {
            *errmsg = xasprintf("invalid on_missing '%s' (use enroll, warn or refuse)", v);
            return -1;
        }
        c->on_missing = (enum on_missing)i;
        return 0;
    case KEY_MODEL:
        i = panic_model_from_string(v);
        if (i < 0 || i == PANIC_MODEL_DEFAULT) {
            *errmsg = xasprintf("invalid model '%s' (use auto, isa, pvpanic, hyperv, "
                                "pseries or s390)", v);
            return -1;
        }
        c->model = (enum panic_model)i;
        return 0;
    case KEY_LOG:
        if ((i = parse_log_dest(v)) < 0) {
            *errmsg = xasprintf("invalid log '%s' (use syslog, stderr, both or none)", v);
            return -1;
        }
        c->log_dest = i;
        return 0;
    case KEY_CONNECT:
        if (!*v || has_control_chars(v)) {
            *errmsg = xstrdup("connect needs a libvirt URI such as qemu:///system");
            return -1;
        }
        free(c->connect);
        c->connect = xstrdup(v);
        return 0;
    case KEY_VERBOSE:
        return conf_value_bool(v, &c->verbose, errmsg);
    case KEY_METADATA:
        return conf_value_bool(v, &c->metadata, errmsg);
    case KEY_STDIN_TIMEOUT: {
        unsigned long long ms;

        if (conf_value_duration_ms(v, &ms, errmsg) < 0)
            return -1;
        if (ms == 0 || ms > 3600000ULL) {
            *errmsg = xasprintf("stdin_timeout '%s' out of range (1ms to 1h)", v);
            return -1;
        }
        c->stdin_timeout_ms = ms;
        return 0;
    }
    case KEY_LAST:
        break;
    }
    return -1;
}

static int
on_entry(const struct conf_entry *e, void *opaque, char **errmsg)
{
    struct load_state *st = opaque;
    struct hook_conf *c = st->conf;

    if (!e->key) {
        *errmsg = xasprintf("sections are not used in hook.conf ([%s])", e->section);
        return -1;
    }
    for (int k = 0; k < KEY_LAST; k++) {
        if (strcmp(e->key, scalar_keys[k]) != 0)
            continue;
        if (st->seen_line[k]) {
            *errmsg = xasprintf("'%s' is already set on line %u", e->key, st->seen_line[k]);
            return -1;
        }
        st->seen_line[k] = e->line;
        return set_scalar(c, (enum scalar_key)k, e->value, errmsg);
    }
    if (strcmp(e->key, "include") == 0 || strcmp(e->key, "exclude") == 0) {
        if (!*e->value) {
            *errmsg = xasprintf("%s needs a domain name pattern", e->key);
            return -1;
        }
        strlist_add(e->key[0] == 'i' ? &c->include : &c->exclude, e->value);
        return 0;
    }
    if (strcmp(e->key, "include_uuid") == 0 || strcmp(e->key, "exclude_uuid") == 0) {
        AUTOFREE char *norm = uuid_normalize(e->value);

        if (!norm) {
            *errmsg = xasprintf("invalid UUID '%s'", e->value);
            return -1;
        }
        strlist_add(e->key[0] == 'i' ? &c->include_uuid : &c->exclude_uuid, norm);
        return 0;
    }
    *errmsg = xasprintf("unknown key '%s'", e->key);
    return -1;
}

int
hookconf_parse_string(const char *name, const char *text, size_t len, struct hook_conf **out)
{
    struct load_state st = { hookconf_new(), { 0 } };
    int rc;

    free(st.conf->path);
    st.conf->path = xstrdup(name);
    st.conf->from_file = true;
    rc = conf_parse_string(name, text, len, on_entry, &st);
    *out = st.conf;
    return rc;
}

int
hookconf_load(const char *path, struct hook_conf **out)
{
    struct load_state st = { hookconf_new(), { 0 } };
    struct stat sb;
    int rc;

    free(st.conf->path);
    st.conf->path = xstrdup(path);
    *out = st.conf;
    if (stat(path, &sb) < 0) {
        if (errno == ENOENT)
            return 0;
    } else if (!S_ISREG(sb.st_mode)) {
        /* Opening a FIFO would block the hook: refuse before open(). */
        st.conf->from_file = true;
        log_warnx("%s: refusing config: not a regular file", path);
        return -EPERM;
    }
    st.conf->from_file = true;
    /* The hook runs as root: refuse a file others could have written. */
    rc = conf_parse_file(path, true, on_entry, &st);
    return rc;
}

static bool
any_glob(const struct strlist *l, const char *name)
{
    for (size_t i = 0; name && i < l->n; i++) {
        if (fnmatch(l->v[i], name, 0) == 0)
            return true;
    }
    return false;
}

static bool
any_uuid(const struct strlist *l, const char *uuid)
{
    AUTOFREE char *norm = uuid ? uuid_normalize(uuid) : NULL;

    for (size_t i = 0; norm && i < l->n; i++) {
        if (strcmp(l->v[i], norm) == 0)
            return true;
    }
    return false;
}

bool
hookconf_selects(const struct hook_conf *c, const char *name, const char *uuid)
{
    if (c->include.n || c->include_uuid.n) {
        if (!any_glob(&c->include, name) && !any_uuid(&c->include_uuid, uuid))
            return false;
    }
    return !any_glob(&c->exclude, name) && !any_uuid(&c->exclude_uuid, uuid);
}
