#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"
#include "watchconf.h"
#include "xalloc.h"

/* A [rule NAME] section being read; compiled when the section ends. */
struct watch_rule_draft {
    char *name;
    char *file;
    unsigned int line;          /* of the section header */
    char *regex;
    unsigned int regex_line;
    char *severity;
    enum pv_event_type event;
};

struct load_ctx {
    struct watchconf *wc;
    watchconf_extra_fn extra;
    void *opaque;
    const struct section_def *section;  /* NULL: global or a foreign section */
    bool foreign;                       /* current section belongs to the extra door */
    bool skip;                          /* current section was rejected: ignore its keys */
};

struct key_def {
    const char *section;        /* NULL = before any section */
    const char *key;
    int (*set)(struct load_ctx *ctx, const struct conf_entry *e, char **errmsg);
};

struct section_def {
    const char *name;
    bool needs_label;
    void (*begin)(struct load_ctx *ctx, const struct conf_entry *e);
    void (*end)(struct load_ctx *ctx);
};

static const char *const severities[] = {
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

static int
set_file(struct load_ctx *ctx, const struct conf_entry *e, char **errmsg)
{
    struct watchconf *wc = ctx->wc;

    if (!*e->value) {
        *errmsg = xstrdup("empty file pattern");
        return -1;
    }
    wc->files = xreallocarray(wc->files, wc->nfiles + 1, sizeof(*wc->files));
    wc->files[wc->nfiles++] = xstrdup(e->value);
    return 0;
}

static int
set_duration(const struct conf_entry *e, uint64_t max_ms, uint64_t *out, char **errmsg)
{
    unsigned long long ms = 0;

    if (conf_value_duration_ms(e->value, &ms, errmsg) < 0)
        return -1;
    if (ms > max_ms) {
        *errmsg = xasprintf("%s must be at most %llu ms", e->key, (unsigned long long)max_ms);
        return -1;
    }
    *out = ms;
    return 0;
}

static int
set_hold(struct load_ctx *ctx, const struct conf_entry *e, char **errmsg)
{
    return set_duration(e, 60 * 1000, &ctx->wc->hold_ms, errmsg);
}

static int
set_match_window(struct load_ctx *ctx, const struct conf_entry *e, char **errmsg)
{
    return set_duration(e, 10 * 60 * 1000, &ctx->wc->match_window_ms, errmsg);
}

static int
set_rule_regex(struct load_ctx *ctx, const struct conf_entry *e, char **errmsg)
{
    struct watch_rule_draft *d = ctx->wc->draft;

    if (d->regex) {
        *errmsg = xasprintf("rule '%s': regex given twice", d->name);
        return -1;
    }
    if (!*e->value) {
        *errmsg = xasprintf("rule '%s': empty regex", d->name);
        return -1;
    }
    d->regex = xstrdup(e->value);
    d->regex_line = e->line;
    return 0;
}

static int
set_rule_severity(struct load_ctx *ctx, const struct conf_entry *e, char **errmsg)
{
    struct watch_rule_draft *d = ctx->wc->draft;
    const char *v = e->value;

    /* the long spellings people type */
    if (strcmp(v, "critical") == 0)
        v = "crit";
    else if (strcmp(v, "error") == 0)
        v = "err";
    else if (strcmp(v, "warn") == 0)
        v = "warning";
    for (size_t i = 0; i < ARRAY_SIZE(severities); i++) {
        if (strcmp(v, severities[i]) == 0) {
            free(d->severity);
            d->severity = xstrdup(v);
            return 0;
        }
    }
    *errmsg = xasprintf("rule '%s': unknown severity '%s' (emerg, alert, crit, err, warning, "
                        "notice, info, debug)", d->name, e->value);
    return -1;
}

static int
set_rule_event(struct load_ctx *ctx, const struct conf_entry *e, char **errmsg)
{
    struct watch_rule_draft *d = ctx->wc->draft;

    if (strcmp(e->value, "panic") == 0)
        d->event = PV_EVENT_PANIC;
    else if (strcmp(e->value, "crashloaded") == 0)
        d->event = PV_EVENT_CRASHLOADED;
    else if (strcmp(e->value, "custom") == 0)
        d->event = PV_EVENT_CUSTOM;
    else {
        *errmsg = xasprintf("rule '%s': event must be panic, crashloaded or custom, not '%s'",
                            d->name, e->value);
        return -1;
    }
    return 0;
}

static void
draft_free(struct watch_rule_draft *d)
{
    if (!d)
        return;
    free(d->name);
    free(d->file);
    free(d->regex);
    free(d->severity);
    free(d);
}

static void
rule_begin(struct load_ctx *ctx, const struct conf_entry *e)
{
    struct watch_rule_draft *d = xcalloc(1, sizeof(*d));

    d->name = xstrdup(e->label);
    d->file = xstrdup(e->file);
    d->line = e->line;
    d->event = PV_EVENT_CUSTOM;
    ctx->wc->draft = d;
}

static void
rule_end(struct load_ctx *ctx)
{
    struct watchconf *wc = ctx->wc;
    struct watch_rule_draft *d = steal_pointer(&wc->draft);
    AUTOFREE char *err = NULL;

    if (!d)
        return;
    if (!d->regex) {
        log_warnx("%s:%u: rule '%s' has no regex", d->file, d->line, d->name);
        wc->errors++;
    } else if (classify_rules_add(wc->rules, d->name, d->regex, d->event,
                                  d->severity ? d->severity : "warning", &err) < 0) {
        log_warnx("%s:%u: rule '%s': %s", d->file, d->regex_line, d->name, err);
        wc->errors++;
    } else {
        wc->nrules++;
    }
    draft_free(d);
}

static const struct section_def sections[] = {
    { "rule", true, rule_begin, rule_end },
};

static const struct key_def keys[] = {
    { NULL, "file", set_file },
    { NULL, "hold", set_hold },
    { NULL, "match_window", set_match_window },
    { "rule", "regex", set_rule_regex },
    { "rule", "severity", set_rule_severity },
    { "rule", "event", set_rule_event },
};

static void
end_section(struct load_ctx *ctx)
{
    if (ctx->section && ctx->section->end)
        ctx->section->end(ctx);
    ctx->section = NULL;
    ctx->foreign = false;
    ctx->skip = false;
}

static int
try_extra(struct load_ctx *ctx, const struct conf_entry *e, char **errmsg)
{
    return ctx->extra ? ctx->extra(e, ctx->opaque, errmsg) : 0;
}

static int
on_entry(const struct conf_entry *e, void *opaque, char **errmsg)
{
    struct load_ctx *ctx = opaque;
    int rc;

    if (!e->key) {
        end_section(ctx);
        for (size_t i = 0; i < ARRAY_SIZE(sections); i++) {
            if (strcmp(e->section, sections[i].name) != 0)
                continue;
            if (sections[i].needs_label && !e->label) {
                *errmsg = xasprintf("[%s] needs a name: [%s NAME]", e->section, e->section);
                ctx->skip = true;
                return -1;
            }
            ctx->section = &sections[i];
            sections[i].begin(ctx, e);
            return 0;
        }
        rc = try_extra(ctx, e, errmsg);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            *errmsg = xasprintf("unknown section [%s]", e->section);
            ctx->skip = true;
            return -1;
        }
        ctx->foreign = true;
        return 0;
    }
    if (ctx->skip)
        return 0;
    if (!ctx->foreign) {
        const char *sec = ctx->section ? ctx->section->name : NULL;

        for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
            if (strcmp(keys[i].key, e->key) != 0)
                continue;
            if ((sec == NULL) != (keys[i].section == NULL) ||
                (sec && strcmp(sec, keys[i].section) != 0))
                continue;
            return keys[i].set(ctx, e, errmsg);
        }
    }
    rc = try_extra(ctx, e, errmsg);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        if (e->section)
            *errmsg = xasprintf("unknown key '%s' in [%s]", e->key, e->section);
        else
            *errmsg = xasprintf("unknown key '%s'", e->key);
        return -1;
    }
    return 0;
}

struct watchconf *
watchconf_new(void)
{
    struct watchconf *wc = xcalloc(1, sizeof(*wc));

    wc->hold_ms = DETECT_DEFAULT_HOLD_MS;
    wc->match_window_ms = DETECT_DEFAULT_MATCH_WINDOW_MS;
    wc->rules = classify_rules_new();
    return wc;
}

void
watchconf_free(struct watchconf *wc)
{
    if (!wc)
        return;
    for (size_t i = 0; i < wc->nfiles; i++)
        free(wc->files[i]);
    free(wc->files);
    classify_rules_free(wc->rules);
    draft_free(wc->draft);
    free(wc);
}

static int
finish_load(struct load_ctx *ctx, int rc)
{
    end_section(ctx);
    if (rc == 0 && ctx->wc->errors)
        rc = -EINVAL;
    ctx->wc->errors = 0;
    return rc;
}

int
watchconf_load_file(struct watchconf *wc, const char *path, bool secure,
                    watchconf_extra_fn extra, void *opaque)
{
    struct load_ctx ctx = { wc, extra, opaque, NULL, false, false };

    return finish_load(&ctx, conf_parse_file(path, secure, on_entry, &ctx));
}

int
watchconf_load_string(struct watchconf *wc, const char *name, const char *text, size_t len,
                      watchconf_extra_fn extra, void *opaque)
{
    struct load_ctx ctx = { wc, extra, opaque, NULL, false, false };

    return finish_load(&ctx, conf_parse_string(name, text, len, on_entry, &ctx));
}

void
watchconf_apply(const struct watchconf *wc, struct detect_config *cfg)
{
    cfg->hold_ms = wc->hold_ms;
    cfg->match_window_ms = wc->match_window_ms;
    cfg->rules = wc->nrules ? wc->rules : NULL;
}
