#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bugcheck.h"
#include "cleanup.h"
#include "event.h"
#include "xalloc.h"

static const char *const event_type_names[] = {
    [PV_EVENT_PANIC] = "panic",
    [PV_EVENT_CRASHLOADED] = "crashloaded",
    [PV_EVENT_CUSTOM] = "custom",
};
_Static_assert(ARRAY_SIZE(event_type_names) == PV_EVENT_TYPE_LAST, "event type names");

static const char *const resolved_by_names[] = {
    [PV_RESOLVED_NONE] = "none",
    [PV_RESOLVED_CONNECT] = "connect",
    [PV_RESOLVED_RECONNECT] = "reconnect",
    [PV_RESOLVED_MONITOR] = "monitor",
    [PV_RESOLVED_VM] = "vm",
    [PV_RESOLVED_TAINT] = "taint",
    [PV_RESOLVED_DOMAIN_LOG] = "domain-log",
    [PV_RESOLVED_WORKER] = "worker",
    [PV_RESOLVED_RULE] = "rule",
};
_Static_assert(ARRAY_SIZE(resolved_by_names) == PV_RESOLVED_LAST, "resolved_by names");

const char *
pv_event_type_str(enum pv_event_type type)
{
    return (unsigned)type < PV_EVENT_TYPE_LAST ? event_type_names[type] : "unknown";
}

const char *
pv_resolved_by_str(enum pv_resolved_by by)
{
    return (unsigned)by < PV_RESOLVED_LAST ? resolved_by_names[by] : "none";
}

uint64_t
pv_hash64(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static char *
dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

void
pv_panic_info_clear(struct pv_panic_info *info)
{
    free(info->s390_reason);
    free(info->type);
    free(info->message);
    free(info->raw);
    memset(info, 0, sizeof(*info));
}

void
pv_panic_info_copy(struct pv_panic_info *dst, const struct pv_panic_info *src)
{
    *dst = *src;
    dst->s390_reason = dup_or_null(src->s390_reason);
    dst->type = dup_or_null(src->type);
    dst->message = dup_or_null(src->message);
    dst->raw = dup_or_null(src->raw);
}

static bool
str_equal(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

bool
pv_panic_info_equal(const struct pv_panic_info *a, const struct pv_panic_info *b)
{
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case PV_INFO_HYPERV:
        return memcmp(a->hv_arg, b->hv_arg, sizeof(a->hv_arg)) == 0;
    case PV_INFO_S390:
        return a->s390_core == b->s390_core && a->s390_psw_mask == b->s390_psw_mask &&
               a->s390_psw_addr == b->s390_psw_addr && str_equal(a->s390_reason, b->s390_reason);
    case PV_INFO_OTHER:
        return str_equal(a->type, b->type);
    case PV_INFO_NONE:
    case PV_INFO_KIND_LAST:
        break;
    }
    return true;
}

void
pv_event_clear(struct pv_event *ev)
{
    free(ev->domain);
    free(ev->action);
    free(ev->file);
    free(ev->rule);
    free(ev->severity);
    pv_panic_info_clear(&ev->info);
    memset(ev, 0, sizeof(*ev));
}

struct pv_event *
pv_event_dup(const struct pv_event *ev)
{
    struct pv_event *copy = xmalloc(sizeof(*copy));

    *copy = *ev;
    copy->domain = ev->domain ? xmemdup(ev->domain, ev->domain_len + 1) : NULL;
    copy->action = dup_or_null(ev->action);
    copy->file = dup_or_null(ev->file);
    copy->rule = dup_or_null(ev->rule);
    copy->severity = dup_or_null(ev->severity);
    pv_panic_info_copy(&copy->info, &ev->info);
    return copy;
}

void
pv_event_free(struct pv_event *ev)
{
    if (!ev)
        return;
    pv_event_clear(ev);
    free(ev);
}

void
pv_event_set_id(struct pv_event *ev)
{
    struct strbuf key = STRBUF_INIT;
    uint64_t h;

    strbuf_addstr(&key, pv_event_type_str(ev->type));
    if (ev->type == PV_EVENT_CUSTOM || ev->rule) {
        strbuf_addf(&key, "|rule|%s|%" PRId64 "|%016" PRIx64, ev->rule ? ev->rule : "",
                    ev->time_ms, ev->content_hash);
    } else if (ev->has_qmp_time) {
        /* one QMP event of one QEMU process: the same whatever else the log level kept */
        strbuf_addf(&key, "|mon|%" PRIx64 "|qmp|%" PRIu64 ".%06u", ev->monitor, ev->qmp_sec,
                    ev->qmp_usec);
    } else if (ev->monitor || ev->vm) {
        strbuf_addf(&key, "|mon|%" PRIx64 "|%" PRIx64 "|t|%" PRId64, ev->monitor, ev->vm,
                    ev->time_ms);
    } else {
        strbuf_addf(&key, "|dom|%" PRId64 "|", ev->time_ms);
        if (ev->domain)
            strbuf_add(&key, ev->domain, ev->domain_len);
    }
    h = pv_hash64(PV_HASH64_INIT, key.buf, key.len);
    snprintf(ev->id, sizeof(ev->id), "%016" PRIx64, h);
    strbuf_release(&key);
}

void
pv_time_iso(int64_t ms, char out[PV_TIME_ISO_LEN])
{
    struct tm tm;
    time_t sec;

    if (ms < 0) {
        snprintf(out, PV_TIME_ISO_LEN, "-");
        return;
    }
    sec = (time_t)(ms / 1000);
    if (!gmtime_r(&sec, &tm)) {
        snprintf(out, PV_TIME_ISO_LEN, "-");
        return;
    }
    snprintf(out, PV_TIME_ISO_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
             tm.tm_sec, (int)(ms % 1000));
}

static void
json_key(struct strbuf *out, const char *key)
{
    strbuf_addch(out, ',');
    strbuf_add_json_str(out, key, strlen(key));
    strbuf_addch(out, ':');
}

static void
json_hex(struct strbuf *out, const char *key, uint64_t v)
{
    json_key(out, key);
    strbuf_addf(out, "\"0x%" PRIx64 "\"", v);
}

static void
details_json(const struct pv_panic_info *info, struct strbuf *out)
{
    static const char *const arg_keys[5] = { "arg1", "arg2", "arg3", "arg4", "arg5" };

    switch (info->kind) {
    case PV_INFO_HYPERV:
        strbuf_addstr(out, "{\"type\":\"hyper-v\"");
        /* Windows puts the STOP code in arg1 (QAPI GuestPanicInformationHyperV). */
        json_hex(out, "bugcheck", info->hv_arg[0]);
        /* A Linux hv-crash guest puts an error code there: name known codes only. */
        if (bugcheck_name(info->hv_arg[0])) {
            json_key(out, "bugcheck_name");
            strbuf_add_json_strz(out, bugcheck_name(info->hv_arg[0]));
        }
        for (int i = 0; i < 5; i++)
            json_hex(out, arg_keys[i], info->hv_arg[i]);
        strbuf_addch(out, '}');
        return;
    case PV_INFO_S390:
        strbuf_addstr(out, "{\"type\":\"s390\"");
        json_key(out, "core");
        strbuf_addf(out, "%" PRId64, info->s390_core);
        /* libvirt prints these as 0x%016llx; so do we */
        json_key(out, "psw-mask");
        strbuf_addf(out, "\"0x%016" PRIx64 "\"", info->s390_psw_mask);
        json_key(out, "psw-addr");
        strbuf_addf(out, "\"0x%016" PRIx64 "\"", info->s390_psw_addr);
        json_key(out, "reason");
        strbuf_add_json_strz(out, info->s390_reason);
        strbuf_addch(out, '}');
        return;
    case PV_INFO_OTHER:
        strbuf_addstr(out, "{\"type\":");
        strbuf_add_json_strz(out, info->type);
        json_key(out, "message");
        strbuf_add_json_strz(out, info->message);
        json_key(out, "raw");
        strbuf_add_json_strz(out, info->raw);
        strbuf_addch(out, '}');
        return;
    case PV_INFO_NONE:
    case PV_INFO_KIND_LAST:
        break;
    }
    strbuf_addstr(out, "null");
}

void
pv_event_to_json(const struct pv_event *ev, struct strbuf *out)
{
    char iso[PV_TIME_ISO_LEN];

    strbuf_addstr(out, "{\"id\":");
    strbuf_add_json_str(out, ev->id, strlen(ev->id));
    json_key(out, "event");
    strbuf_add_json_strz(out, pv_event_type_str(ev->type));
    json_key(out, "domain");
    if (ev->domain)
        strbuf_add_json_str(out, ev->domain, ev->domain_len);
    else
        strbuf_addstr(out, "null");
    json_key(out, "time");
    if (ev->time_ms >= 0) {
        pv_time_iso(ev->time_ms, iso);
        strbuf_add_json_str(out, iso, strlen(iso));
    } else {
        strbuf_addstr(out, "null");
    }
    json_key(out, "qmp_time");
    if (ev->has_qmp_time)
        strbuf_addf(out, "%" PRIu64 ".%06u", ev->qmp_sec, ev->qmp_usec);
    else
        strbuf_addstr(out, "null");
    json_key(out, "action");
    strbuf_add_json_strz(out, ev->action);
    json_key(out, "monitor");
    if (ev->monitor)
        strbuf_addf(out, "\"0x%" PRIx64 "\"", ev->monitor);
    else
        strbuf_addstr(out, "null");
    json_key(out, "details");
    details_json(&ev->info, out);
    json_key(out, "file");
    strbuf_add_json_strz(out, ev->file ? ev->file : "");
    json_key(out, "line");
    strbuf_addf(out, "%" PRIu64, ev->line);
    json_key(out, "resolved_by");
    strbuf_add_json_strz(out, pv_resolved_by_str(ev->resolved_by));
    if (ev->rule) {
        json_key(out, "rule");
        strbuf_add_json_strz(out, ev->rule);
        json_key(out, "severity");
        strbuf_add_json_strz(out, ev->severity);
    }
    strbuf_addch(out, '}');
}

void
pv_event_details_line(const struct pv_event *ev, struct strbuf *out)
{
    const struct pv_panic_info *info = &ev->info;
    size_t start = out->len;

    switch (info->kind) {
    case PV_INFO_HYPERV: {
        const char *name = bugcheck_name(info->hv_arg[0]);

        /*
         * "bugcheck 0x80 NMI_HARDWARE_FAILURE args ..." only for a code
         * Windows uses; anything else may be a Linux hv-crash error code.
         */
        if (name)
            strbuf_addf(out, "bugcheck 0x%" PRIx64 " %s args ", info->hv_arg[0], name);
        else
            strbuf_addf(out, "hyper-v crash 0x%" PRIx64 " args ", info->hv_arg[0]);
        strbuf_addf(out, "0x%" PRIx64 ",0x%" PRIx64 ",0x%" PRIx64 ",0x%" PRIx64,
                    info->hv_arg[1], info->hv_arg[2], info->hv_arg[3], info->hv_arg[4]);
        break;
    }
    case PV_INFO_S390:
        strbuf_addf(out, "s390 reason=%s core=%" PRId64 " psw=0x%016" PRIx64 ":0x%016" PRIx64,
                    info->s390_reason ? info->s390_reason : "?", info->s390_core,
                    info->s390_psw_mask, info->s390_psw_addr);
        break;
    case PV_INFO_OTHER:
        strbuf_addstr(out, info->type ? info->type : "unknown");
        if (info->message) {
            strbuf_addch(out, ' ');
            strbuf_addstr(out, info->message);
        }
        break;
    case PV_INFO_NONE:
    case PV_INFO_KIND_LAST:
        break;
    }
    if (ev->rule) {
        if (out->len > start)
            strbuf_addch(out, ' ');
        strbuf_addf(out, "rule=%s severity=%s", ev->rule, ev->severity ? ev->severity : "-");
    }
}
