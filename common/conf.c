#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cleanup.h"
#include "conf.h"
#include "fileutil.h"
#include "log.h"
#include "strbuf.h"
#include "xalloc.h"

struct conf_state {
    const char *file;
    unsigned int line;
    char *section;
    char *label;
    unsigned int errors;
    conf_entry_fn fn;
    void *opaque;
};

static void __attribute__((format(printf, 2, 3)))
conf_error(struct conf_state *st, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_warnx("%s:%u: %s", st->file, st->line, msg);
    st->errors++;
}

static void
conf_deliver(struct conf_state *st, const char *key, const char *value)
{
    struct conf_entry e = {
        .file = st->file,
        .line = st->line,
        .section = st->section,
        .label = st->label,
        .key = key,
        .value = value,
    };
    char *errmsg = NULL;

    if (st->fn(&e, st->opaque, &errmsg) < 0) {
        conf_error(st, "%s", errmsg ? errmsg : "invalid entry");
        free(errmsg);
    }
}

static const char *
skip_blanks(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static const char *
trim_end(const char *start, const char *end)
{
    while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    return end;
}

static bool
is_key_char(unsigned char c)
{
    return isalnum(c) || c == '_' || c == '.' || c == '-';
}

/*
 * Decode a double-quoted string starting at @p (on the quote). Returns the
 * position after the closing quote, or NULL on error (message in *@err).
 */
static const char *
parse_quoted(const char *p, const char *end, struct strbuf *out, const char **err)
{
    p++;
    while (p < end && *p != '"') {
        if (*p == '\\') {
            if (++p >= end)
                break;
            switch (*p) {
            case 'n': strbuf_addch(out, '\n'); break;
            case 't': strbuf_addch(out, '\t'); break;
            case '\\': strbuf_addch(out, '\\'); break;
            case '"': strbuf_addch(out, '"'); break;
            default:
                *err = "unknown escape in quoted value";
                return NULL;
            }
            p++;
            continue;
        }
        strbuf_addch(out, *p++);
    }
    if (p >= end) {
        *err = "unterminated quoted value";
        return NULL;
    }
    return p + 1;
}

static void
conf_section(struct conf_state *st, const char *p, const char *end)
{
    const char *name;
    const char *name_end;
    AUTOFREE char *label = NULL;

    end = trim_end(p, end);
    if (end <= p + 1 || end[-1] != ']') {
        conf_error(st, "section header must end with ']'");
        return;
    }
    p = skip_blanks(p + 1, end - 1);
    end = trim_end(p, end - 1);
    name = p;
    while (p < end && is_key_char((unsigned char)*p))
        p++;
    name_end = p;
    if (name_end == name) {
        conf_error(st, "empty or invalid section name");
        return;
    }
    p = skip_blanks(p, end);
    if (p < end) {
        if (p == name_end) {
            conf_error(st, "invalid character in section name");
            return;
        }
        if (*p == '"') {
            struct strbuf sb = STRBUF_INIT;
            const char *err = NULL;
            const char *q = parse_quoted(p, end, &sb, &err);

            if (!q || skip_blanks(q, end) != end) {
                conf_error(st, "%s", q ? "text after quoted section label" : err);
                strbuf_release(&sb);
                return;
            }
            label = strbuf_detach(&sb, NULL);
        } else {
            label = xstrndup(p, (size_t)(end - p));
        }
        if (!*label) {
            conf_error(st, "empty section label");
            return;
        }
    }
    free(st->section);
    free(st->label);
    st->section = xstrndup(name, (size_t)(name_end - name));
    st->label = steal_pointer(&label);
    conf_deliver(st, NULL, NULL);
}

static void
conf_parse_line(struct conf_state *st, const char *p, const char *end)
{
    const char *key;
    const char *key_end;
    AUTOFREE char *keyz = NULL;
    AUTOFREE char *value = NULL;

    p = skip_blanks(p, end);
    end = trim_end(p, end);
    if (p == end || *p == '#' || *p == ';')
        return;
    if (memchr(p, '\0', (size_t)(end - p))) {
        conf_error(st, "NUL byte in line");
        return;
    }
    if (*p == '[') {
        conf_section(st, p, end);
        return;
    }
    key = p;
    while (p < end && is_key_char((unsigned char)*p))
        p++;
    key_end = p;
    p = skip_blanks(p, end);
    if (key_end == key || p >= end || *p != '=') {
        conf_error(st, "expected 'key = value'");
        return;
    }
    p = skip_blanks(p + 1, end);
    if (p < end && *p == '"') {
        struct strbuf sb = STRBUF_INIT;
        const char *err = NULL;
        const char *q = parse_quoted(p, end, &sb, &err);

        if (!q) {
            conf_error(st, "%s", err);
            strbuf_release(&sb);
            return;
        }
        q = skip_blanks(q, end);
        if (q != end && *q != '#') {
            conf_error(st, "text after quoted value");
            strbuf_release(&sb);
            return;
        }
        value = strbuf_detach(&sb, NULL);
    } else {
        value = xstrndup(p, (size_t)(end - p));
    }
    keyz = xstrndup(key, (size_t)(key_end - key));
    conf_deliver(st, keyz, value);
}

int
conf_parse_string(const char *name, const char *text, size_t len,
                  conf_entry_fn fn, void *opaque)
{
    struct conf_state st = { .file = name, .fn = fn, .opaque = opaque };
    const char *p = text;
    const char *end = text + len;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;

        st.line++;
        conf_parse_line(&st, p, eol);
        p = nl ? nl + 1 : end;
    }
    free(st.section);
    free(st.label);
    return st.errors ? -EINVAL : 0;
}

int
conf_parse_file(const char *path, bool secure, conf_entry_fn fn, void *opaque)
{
    /* secure: a FIFO planted at the path must not block the daemon (refused below) */
    AUTOCLOSE int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | (secure ? O_NONBLOCK : 0));
    AUTOFREE char *text = NULL;
    size_t len = 0;
    int rc;

    if (fd < 0) {
        rc = -errno;
        log_warn("cannot read config '%s'", path);
        return rc;
    }
    if (secure && (rc = check_file_secrecy(fd)) < 0) {
        log_warnx("%s: refusing config: must be a regular file owned by root "
                  "(or the running user) and not writable by group or others", path);
        return rc;
    }
    rc = read_fd_capped(fd, CONF_MAX_SIZE, &text, &len);
    if (rc < 0) {
        if (rc == -EFBIG)
            log_warnx("%s: config larger than %d bytes", path, CONF_MAX_SIZE);
        else
            log_warnx("cannot read config '%s': %s", path, strerror(-rc));
        return rc;
    }
    return conf_parse_string(path, text, len, fn, opaque);
}

int
conf_value_bool(const char *value, bool *out, char **errmsg)
{
    static const char *yes[] = { "yes", "true", "on", "1" };
    static const char *no[] = { "no", "false", "off", "0" };

    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        if (strcasecmp(value, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(value, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    *errmsg = xasprintf("'%s' is not a boolean (yes/no)", value);
    return -1;
}

int
conf_value_uint(const char *value, unsigned long min, unsigned long max,
                unsigned long *out, char **errmsg)
{
    char *end = NULL;
    unsigned long v;

    errno = 0;
    if (!isdigit((unsigned char)value[0]))
        goto bad;
    v = strtoul(value, &end, 10);
    if (errno != 0 || *end != '\0')
        goto bad;
    if (v < min || v > max) {
        *errmsg = xasprintf("%lu is out of range [%lu, %lu]", v, min, max);
        return -1;
    }
    *out = v;
    return 0;

 bad:
    *errmsg = xasprintf("'%s' is not a number", value);
    return -1;
}

int
conf_value_duration_ms(const char *value, unsigned long long *out, char **errmsg)
{
    static const struct { const char *suffix; unsigned long long ms; } units[] = {
        { "ms", 1 }, { "s", 1000 }, { "", 1000 }, { "m", 60000 },
        { "h", 3600000 }, { "d", 86400000 },
    };
    char *end = NULL;
    unsigned long long v;

    errno = 0;
    if (!isdigit((unsigned char)value[0]))
        goto bad;
    v = strtoull(value, &end, 10);
    if (errno != 0)
        goto bad;
    for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
        if (strcmp(end, units[i].suffix) == 0) {
            if (v > ~0ULL / units[i].ms)
                goto bad;
            *out = v * units[i].ms;
            return 0;
        }
    }
 bad:
    *errmsg = xasprintf("'%s' is not a duration (e.g. 500ms, 10s, 5m, 1h)", value);
    return -1;
}

int
conf_split_words(const char *s, char ***out_argv, int *out_argc, char **errmsg)
{
    char **argv = NULL;
    int argc = 0;
    struct strbuf word = STRBUF_INIT;
    const char *p = s;

    for (;;) {
        bool in_word = false;

        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        strbuf_reset(&word);
        while (*p && *p != ' ' && *p != '\t') {
            in_word = true;
            if (*p == '\\') {
                if (!p[1])
                    goto unterminated;
                strbuf_addch(&word, p[1]);
                p += 2;
            } else if (*p == '\'') {
                const char *q = strchr(p + 1, '\'');

                if (!q)
                    goto unterminated;
                strbuf_add(&word, p + 1, (size_t)(q - p - 1));
                p = q + 1;
            } else if (*p == '"') {
                p++;
                while (*p && *p != '"') {
                    if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
                        p++;
                    strbuf_addch(&word, *p++);
                }
                if (!*p)
                    goto unterminated;
                p++;
            } else {
                strbuf_addch(&word, *p++);
            }
        }
        if (in_word) {
            argv = xreallocarray(argv, (size_t)argc + 2, sizeof(*argv));
            argv[argc++] = xstrdup(strbuf_str(&word));
            argv[argc] = NULL;
        }
    }
    strbuf_release(&word);
    if (argc == 0) {
        *errmsg = xstrdup("empty command");
        return -1;
    }
    *out_argv = argv;
    if (out_argc)
        *out_argc = argc;
    return 0;

 unterminated:
    strbuf_release(&word);
    conf_free_words(argv);
    *errmsg = xstrdup("unterminated quote or trailing backslash");
    return -1;
}

void
conf_free_words(char **argv)
{
    if (!argv)
        return;
    for (char **p = argv; *p; p++)
        free(*p);
    free(argv);
}
