#include <config.h>

#include <stdbool.h>
#include <string.h>

#include "cleanup.h"
#include "hookops.h"
#include "strbuf.h"
#include "xalloc.h"

/* Order as in libvirt's VIR_ENUM_IMPL(virHookQemuOp, ...). */
static const char *const op_names[] = {
    [HOOK_OP_START] = "start",
    [HOOK_OP_STOPPED] = "stopped",
    [HOOK_OP_PREPARE] = "prepare",
    [HOOK_OP_RELEASE] = "release",
    [HOOK_OP_MIGRATE] = "migrate",
    [HOOK_OP_STARTED] = "started",
    [HOOK_OP_RECONNECT] = "reconnect",
    [HOOK_OP_ATTACH] = "attach",
    [HOOK_OP_RESTORE] = "restore",
};
_Static_assert(ARRAY_SIZE(op_names) == HOOK_OP_LAST, "op_names");

static const char *const subop_names[] = {
    [HOOK_SUBOP_NONE] = "-",
    [HOOK_SUBOP_BEGIN] = "begin",
    [HOOK_SUBOP_END] = "end",
};
_Static_assert(ARRAY_SIZE(subop_names) == HOOK_SUBOP_LAST, "subop_names");

static const char *const on_missing_names[] = {
    [ON_MISSING_ENROLL] = "enroll",
    [ON_MISSING_WARN] = "warn",
    [ON_MISSING_REFUSE] = "refuse",
};
_Static_assert(ARRAY_SIZE(on_missing_names) == ON_MISSING_LAST, "on_missing_names");

static const char *const action_names[] = {
    [HOOK_ACTION_NOTHING] = "nothing",
    [HOOK_ACTION_NOTE] = "note",
    [HOOK_ACTION_WARN] = "warn",
    [HOOK_ACTION_REFUSE] = "refuse",
    [HOOK_ACTION_ENROLL] = "enroll",
};

bool
hook_mode_for_argv0(const char *argv0)
{
    const char *base;

    if (!argv0)
        return true;
    base = strrchr(argv0, '/');
    base = base ? base + 1 : argv0;
    return strcmp(base, HOOK_CLI_NAME) != 0;
}

static int
lookup(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; s && i < n; i++) {
        if (strcmp(s, names[i]) == 0)
            return (int)i;
    }
    return -1;
}

static const char *
name_of(const char *const *names, size_t n, int v)
{
    return v >= 0 && (size_t)v < n ? names[v] : "?";
}

const char *
hook_op_to_string(enum hook_op op)
{
    return name_of(op_names, ARRAY_SIZE(op_names), (int)op);
}

int
hook_op_from_string(const char *s)
{
    return lookup(op_names, ARRAY_SIZE(op_names), s);
}

const char *
hook_subop_to_string(enum hook_subop subop)
{
    return name_of(subop_names, ARRAY_SIZE(subop_names), (int)subop);
}

int
hook_subop_from_string(const char *s)
{
    return lookup(subop_names, ARRAY_SIZE(subop_names), s);
}

const char *
on_missing_to_string(enum on_missing p)
{
    return name_of(on_missing_names, ARRAY_SIZE(on_missing_names), (int)p);
}

int
on_missing_from_string(const char *s)
{
    return lookup(on_missing_names, ARRAY_SIZE(on_missing_names), s);
}

const char *
hook_action_to_string(enum hook_action a)
{
    return name_of(action_names, ARRAY_SIZE(action_names), (int)a);
}

int
hook_apply_metadata(const char *value, enum on_missing *policy, bool *selected)
{
    int p;

    if (strcmp(value, "ignore") == 0) {
        *selected = false;
        return 0;
    }
    if ((p = on_missing_from_string(value)) < 0)
        return -1;
    *policy = (enum on_missing)p;
    return 0;
}

enum hook_plan
hook_plan_for(int op, int subop)
{
    if (subop != HOOK_SUBOP_BEGIN)
        return HOOK_PLAN_DRAIN;
    switch (op) {
    case HOOK_OP_PREPARE:
        return HOOK_PLAN_CHECK;
    case HOOK_OP_MIGRATE:
    case HOOK_OP_RESTORE:
        return HOOK_PLAN_FILTER;
    default:
        return HOOK_PLAN_DRAIN;
    }
}

enum hook_action
hook_decide(enum hook_plan plan, enum on_missing policy, bool selected,
            enum hook_verdict verdict)
{
    if (plan == HOOK_PLAN_DRAIN || !selected || verdict == HOOK_VERDICT_USABLE)
        return HOOK_ACTION_NOTHING;
    if (plan == HOOK_PLAN_FILTER)
        return HOOK_ACTION_NOTE;
    switch (policy) {
    case ON_MISSING_REFUSE:
        return HOOK_ACTION_REFUSE;
    case ON_MISSING_ENROLL:
        return verdict == HOOK_VERDICT_MISSING ? HOOK_ACTION_ENROLL : HOOK_ACTION_WARN;
    case ON_MISSING_WARN:
    case ON_MISSING_LAST:
        break;
    }
    return HOOK_ACTION_WARN;
}

static bool
shell_safe(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("._+-:,@%/=", c) != NULL || c >= 0x80;
}

char *
shell_quote(const char *s)
{
    struct strbuf sb = STRBUF_INIT;
    bool bare = *s && *s != '-';
    bool control = false;

    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (!shell_safe(*p))
            bare = false;
        if (*p < 0x20 || *p == 0x7f)
            control = true;
    }
    if (bare)
        return xstrdup(s);
    if (!control) {
        strbuf_addch(&sb, '\'');
        for (const char *p = s; *p; p++) {
            if (*p == '\'')
                strbuf_addstr(&sb, "'\\''");
            else
                strbuf_addch(&sb, *p);
        }
        strbuf_addch(&sb, '\'');
        return strbuf_detach(&sb, NULL);
    }
    strbuf_addstr(&sb, "$'");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            strbuf_addf(&sb, "\\x%02x", *p);
        else if (*p == '\'' || *p == '\\')
            strbuf_addf(&sb, "\\%c", *p);
        else
            strbuf_addch(&sb, (char)*p);
    }
    strbuf_addch(&sb, '\'');
    return strbuf_detach(&sb, NULL);
}

char *
display_name(const char *s)
{
    struct strbuf sb = STRBUF_INIT;
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s);
    size_t i = 0;

    while (i < len) {
        size_t n = utf8_seq_len(p + i, len - i);

        if (n == 0 || (n == 1 && (p[i] < 0x20 || p[i] == 0x7f))) {
            strbuf_addf(&sb, "\\x%02x", p[i]);
            i++;
            continue;
        }
        strbuf_add(&sb, p + i, n);
        i += n;
    }
    return strbuf_detach(&sb, NULL);
}
