#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmpjson.h"
#include "strbuf.h"
#include "xalloc.h"

#define QMPJSON_MAX_DEPTH 32
#define QMPJSON_MAX_STR 4096

struct jp {
    const char *p;
    const char *end;
    bool error;
};

struct jstr {
    const char *raw;        /* between the quotes, escapes not decoded */
    size_t len;
    bool escaped;
};

static void
skip_ws(struct jp *jp)
{
    while (jp->p < jp->end &&
           (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r'))
        jp->p++;
}

static bool
expect(struct jp *jp, char c)
{
    skip_ws(jp);
    if (jp->p < jp->end && *jp->p == c) {
        jp->p++;
        return true;
    }
    jp->error = true;
    return false;
}

static bool
parse_string(struct jp *jp, struct jstr *s)
{
    skip_ws(jp);
    if (jp->p >= jp->end || *jp->p != '"') {
        jp->error = true;
        return false;
    }
    jp->p++;
    s->raw = jp->p;
    s->escaped = false;
    while (jp->p < jp->end && *jp->p != '"') {
        if (*jp->p == '\\') {
            s->escaped = true;
            jp->p++;
            if (jp->p >= jp->end)
                break;
        }
        jp->p++;
    }
    if (jp->p >= jp->end) {
        jp->error = true;
        return false;
    }
    s->len = (size_t)(jp->p - s->raw);
    jp->p++;
    return true;
}

static bool
jstr_is(const struct jstr *s, const char *lit)
{
    size_t n = strlen(lit);

    return !s->escaped && s->len == n && memcmp(s->raw, lit, n) == 0;
}

static void
add_utf8(struct strbuf *sb, unsigned int cp)
{
    if (cp < 0x80) {
        strbuf_addch(sb, (char)cp);
    } else if (cp < 0x800) {
        strbuf_addch(sb, (char)(0xc0 | (cp >> 6)));
        strbuf_addch(sb, (char)(0x80 | (cp & 0x3f)));
    } else {
        /* surrogates are not paired up here; they become U+FFFD */
        if (cp >= 0xd800 && cp <= 0xdfff)
            cp = 0xfffd;
        strbuf_addch(sb, (char)(0xe0 | (cp >> 12)));
        strbuf_addch(sb, (char)(0x80 | ((cp >> 6) & 0x3f)));
        strbuf_addch(sb, (char)(0x80 | (cp & 0x3f)));
    }
}

/* Decoded copy of a JSON string (at most QMPJSON_MAX_STR bytes); caller frees. */
static char *
jstr_dup(const struct jstr *s)
{
    struct strbuf sb = STRBUF_INIT;
    size_t i = 0;

    while (i < s->len && sb.len < QMPJSON_MAX_STR) {
        char c = s->raw[i++];

        if (c != '\\' || i >= s->len) {
            strbuf_addch(&sb, c);
            continue;
        }
        c = s->raw[i++];
        switch (c) {
        case 'b': strbuf_addch(&sb, '\b'); break;
        case 'f': strbuf_addch(&sb, '\f'); break;
        case 'n': strbuf_addch(&sb, '\n'); break;
        case 'r': strbuf_addch(&sb, '\r'); break;
        case 't': strbuf_addch(&sb, '\t'); break;
        case 'u': {
            unsigned int cp = 0;
            int k;

            for (k = 0; k < 4 && i < s->len; k++, i++) {
                int v = hex_digit_value(s->raw[i]);

                if (v < 0)
                    break;
                cp = cp * 16 + (unsigned int)v;
            }
            add_utf8(&sb, k == 4 ? cp : 0xfffd);
            break;
        }
        default:
            strbuf_addch(&sb, c);
            break;
        }
    }
    return strbuf_detach(&sb, NULL);
}

static void skip_value(struct jp *jp, int depth);

/* Characters of numbers and of true/false/null. */
static bool
is_scalar_char(char c)
{
    return c != '\0' && strchr("-+.0123456789eEtruefalsn", c) != NULL;
}

static void
skip_container(struct jp *jp, int depth, char close)
{
    bool first = true;

    jp->p++;
    for (;;) {
        skip_ws(jp);
        if (jp->p >= jp->end) {
            jp->error = true;
            return;
        }
        if (*jp->p == close) {
            jp->p++;
            return;
        }
        if (!first && !expect(jp, ','))
            return;
        first = false;
        if (close == '}') {
            struct jstr key;

            if (!parse_string(jp, &key) || !expect(jp, ':'))
                return;
        }
        skip_value(jp, depth + 1);
        if (jp->error)
            return;
    }
}

static void
skip_value(struct jp *jp, int depth)
{
    struct jstr s;

    skip_ws(jp);
    if (jp->p >= jp->end || depth > QMPJSON_MAX_DEPTH) {
        jp->error = true;
        return;
    }
    switch (*jp->p) {
    case '{':
        skip_container(jp, depth, '}');
        return;
    case '[':
        skip_container(jp, depth, ']');
        return;
    case '"':
        parse_string(jp, &s);
        return;
    default:
        /* number, true, false, null: a run of these characters */
        if (!is_scalar_char(*jp->p)) {
            jp->error = true;
            return;
        }
        while (jp->p < jp->end && is_scalar_char(*jp->p))
            jp->p++;
        return;
    }
}

/* An unsigned integer; anything else (fraction, sign, overflow) is "not a number". */
static bool
parse_u64(struct jp *jp, uint64_t *out)
{
    const char *start;
    uint64_t v = 0;

    skip_ws(jp);
    start = jp->p;
    while (jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9') {
        unsigned int d = (unsigned int)(*jp->p - '0');

        if (v > (UINT64_MAX - d) / 10) {
            skip_value(jp, 0);
            return false;
        }
        v = v * 10 + d;
        jp->p++;
    }
    if (jp->p == start || (jp->p < jp->end && (*jp->p == '.' || *jp->p == 'e' || *jp->p == 'E'))) {
        jp->p = start;
        skip_value(jp, 0);
        return false;
    }
    *out = v;
    return true;
}

static bool
parse_i64(struct jp *jp, int64_t *out)
{
    bool neg = false;
    uint64_t v;

    skip_ws(jp);
    if (jp->p < jp->end && *jp->p == '-') {
        neg = true;
        jp->p++;
    }
    if (!parse_u64(jp, &v) || v > (uint64_t)INT64_MAX)
        return false;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

/*
 * Walk the members of an object, calling @member with the parser positioned
 * at each value; @member must consume the value (or skip it).
 */
typedef void (*member_fn)(struct jp *jp, const struct jstr *key, void *opaque, int depth);

static void
parse_object(struct jp *jp, int depth, member_fn member, void *opaque)
{
    bool first = true;

    if (depth > QMPJSON_MAX_DEPTH || !expect(jp, '{'))
        return;
    for (;;) {
        struct jstr key;

        skip_ws(jp);
        if (jp->p >= jp->end) {
            jp->error = true;
            return;
        }
        if (*jp->p == '}') {
            jp->p++;
            return;
        }
        if (!first && !expect(jp, ','))
            return;
        first = false;
        if (!parse_string(jp, &key) || !expect(jp, ':'))
            return;
        member(jp, &key, opaque, depth);
        if (jp->error)
            return;
    }
}

struct top_state {
    struct qmp_event *ev;
    bool is_guest_event;
    /* info.type and the numeric fields are collected, then interpreted */
    char *info_type;
    char *info_message;
    char *info_reason;
    bool hv_seen[5];
    uint64_t hv[5];
    bool core_seen, mask_seen, addr_seen;
    int64_t core;
    uint64_t mask, addr;
    const char *info_raw;
    size_t info_raw_len;
};

static void
timestamp_member(struct jp *jp, const struct jstr *key, void *opaque, int depth)
{
    struct qmp_event *ev = opaque;
    uint64_t v;

    (void)depth;
    if (jstr_is(key, "seconds")) {
        if (parse_u64(jp, &v)) {
            ev->sec = v;
            ev->has_time = true;
        }
    } else if (jstr_is(key, "microseconds")) {
        if (parse_u64(jp, &v) && v < 1000000)
            ev->usec = (uint32_t)v;
    } else {
        skip_value(jp, depth + 1);
    }
}

static void
string_member(struct jp *jp, char **dst)
{
    struct jstr s;

    skip_ws(jp);
    if (jp->p < jp->end && *jp->p == '"') {
        if (parse_string(jp, &s)) {
            free(*dst);
            *dst = jstr_dup(&s);
        }
    } else {
        skip_value(jp, 0);
    }
}

static void
info_member(struct jp *jp, const struct jstr *key, void *opaque, int depth)
{
    static const char *const args[5] = { "arg1", "arg2", "arg3", "arg4", "arg5" };
    struct top_state *st = opaque;

    for (int i = 0; i < 5; i++) {
        if (jstr_is(key, args[i])) {
            st->hv_seen[i] = parse_u64(jp, &st->hv[i]);
            return;
        }
    }
    if (jstr_is(key, "type")) {
        string_member(jp, &st->info_type);
    } else if (jstr_is(key, "message")) {
        string_member(jp, &st->info_message);
    } else if (jstr_is(key, "reason")) {
        string_member(jp, &st->info_reason);
    } else if (jstr_is(key, "core")) {
        st->core_seen = parse_i64(jp, &st->core);
    } else if (jstr_is(key, "psw-mask")) {
        st->mask_seen = parse_u64(jp, &st->mask);
    } else if (jstr_is(key, "psw-addr")) {
        st->addr_seen = parse_u64(jp, &st->addr);
    } else {
        skip_value(jp, depth + 1);
    }
}

static void
data_member(struct jp *jp, const struct jstr *key, void *opaque, int depth)
{
    struct top_state *st = opaque;

    if (jstr_is(key, "action")) {
        struct jstr s;

        skip_ws(jp);
        if (jp->p < jp->end && *jp->p == '"' && parse_string(jp, &s)) {
            char *a = jstr_dup(&s);

            snprintf(st->ev->action, sizeof(st->ev->action), "%s", a);
            st->ev->has_action = true;
            free(a);
        } else {
            skip_value(jp, depth + 1);
        }
    } else if (jstr_is(key, "info")) {
        const char *start;

        skip_ws(jp);
        start = jp->p;
        if (jp->p < jp->end && *jp->p == '{') {
            parse_object(jp, depth + 1, info_member, st);
            st->info_raw = start;
            st->info_raw_len = (size_t)(jp->p - start);
        } else {
            skip_value(jp, depth + 1);
        }
    } else {
        skip_value(jp, depth + 1);
    }
}

static void
top_member(struct jp *jp, const struct jstr *key, void *opaque, int depth)
{
    struct top_state *st = opaque;

    if (jstr_is(key, "event")) {
        struct jstr s;

        if (!parse_string(jp, &s))
            return;
        if (jstr_is(&s, "GUEST_PANICKED")) {
            st->is_guest_event = true;
            st->ev->type = PV_EVENT_PANIC;
        } else if (jstr_is(&s, "GUEST_CRASHLOADED")) {
            st->is_guest_event = true;
            st->ev->type = PV_EVENT_CRASHLOADED;
        }
    } else if (jstr_is(key, "timestamp")) {
        skip_ws(jp);
        if (jp->p < jp->end && *jp->p == '{')
            parse_object(jp, depth + 1, timestamp_member, st->ev);
        else
            skip_value(jp, depth + 1);
    } else if (jstr_is(key, "data")) {
        skip_ws(jp);
        if (jp->p < jp->end && *jp->p == '{')
            parse_object(jp, depth + 1, data_member, st);
        else
            skip_value(jp, depth + 1);
    } else {
        skip_value(jp, depth + 1);
    }
}

static void
fill_info(struct top_state *st)
{
    struct pv_panic_info *info = &st->ev->info;
    bool all_hv = true;

    if (!st->info_raw)
        return;
    for (int i = 0; i < 5; i++)
        all_hv = all_hv && st->hv_seen[i];
    if (st->info_type && strcmp(st->info_type, "hyper-v") == 0 && all_hv) {
        info->kind = PV_INFO_HYPERV;
        memcpy(info->hv_arg, st->hv, sizeof(info->hv_arg));
        return;
    }
    if (st->info_type && strcmp(st->info_type, "s390") == 0 && st->core_seen &&
        st->mask_seen && st->addr_seen) {
        info->kind = PV_INFO_S390;
        info->s390_core = st->core;
        info->s390_psw_mask = st->mask;
        info->s390_psw_addr = st->addr;
        info->s390_reason = st->info_reason;
        st->info_reason = NULL;
        return;
    }
    /* unknown type (tdx, ...) or malformed known type: keep it raw */
    info->kind = PV_INFO_OTHER;
    info->type = st->info_type;
    st->info_type = NULL;
    info->message = st->info_message;
    st->info_message = NULL;
    info->raw = xstrndup(st->info_raw,
                         st->info_raw_len < QMPJSON_MAX_STR ? st->info_raw_len : QMPJSON_MAX_STR);
}

int
qmpjson_parse_event(const char *json, size_t len, struct qmp_event *out)
{
    struct jp jp = { .p = json, .end = json + len, .error = false };
    struct top_state st;

    memset(out, 0, sizeof(*out));
    memset(&st, 0, sizeof(st));
    st.ev = out;
    parse_object(&jp, 0, top_member, &st);
    if (!jp.error && st.is_guest_event)
        fill_info(&st);
    free(st.info_type);
    free(st.info_message);
    free(st.info_reason);
    if (jp.error) {
        pv_panic_info_clear(&out->info);
        memset(out, 0, sizeof(*out));
        return -EINVAL;
    }
    if (!st.is_guest_event) {
        pv_panic_info_clear(&out->info);
        memset(out, 0, sizeof(*out));
        return 0;
    }
    return 1;
}
