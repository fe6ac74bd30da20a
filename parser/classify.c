#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcre2.h>

/*
 * Code that PCRE2's JIT generates makes valgrind report "conditional jump
 * depends on uninitialised value" in anonymous memory ("???" frames), a
 * known false positive that no narrow suppression can match. Under valgrind
 * the interpreter is used instead; RUNNING_ON_VALGRIND costs nothing
 * natively.
 */
#if defined(__has_include)
# if __has_include(<valgrind/valgrind.h>)
#  include <valgrind/valgrind.h>
#  define PV_UNDER_VALGRIND() (RUNNING_ON_VALGRIND != 0)
# endif
#endif
#ifndef PV_UNDER_VALGRIND
# define PV_UNDER_VALGRIND() false
#endif

#include "classify.h"
#include "cleanup.h"
#include "xalloc.h"

/*
 * Limits for every match: the built-in patterns are simple, operator rules
 * may not be; a pathological rule must not stall the daemon.
 */
#define CLASSIFY_MATCH_LIMIT 200000
#define CLASSIFY_DEPTH_LIMIT 2000
#define CLASSIFY_JIT_STACK_MAX (512 * 1024)
/* A QMP crash event is small; longer lines are replies and are not searched. */
#define QMP_EVENT_MAX_LEN (16 * 1024)

static const char *const form_names[] = {
    [PVF_NONE] = "none",
    [PVF_MONITOR_OTHER] = "monitor-other",
    [PVF_MON_NEW] = "monitor-new",
    [PVF_MON_CLOSE] = "monitor-close",
    [PVF_CONNECT] = "connect",
    [PVF_RECONNECT] = "reconnect",
    [PVF_MONITOR_NAME] = "monitor-name",
    [PVF_CHECK_MONITOR] = "check-monitor",
    [PVF_VM_NAME] = "vm-name",
    [PVF_TAINTED] = "tainted",
    [PVF_QMP_LINE] = "qmp-line",
    [PVF_RECV_EVENT] = "recv-event",
    [PVF_IO_PROCESS] = "io-process",
    [PVF_EMIT_EVENT] = "emit-event",
    [PVF_PROCESS_HANDLE_EVENT] = "process-handle-event",
    [PVF_HANDLE_EVENT] = "handle-event",
    [PVF_JSON_CRASHLOADED] = "json-crashloaded",
    [PVF_EMIT_GUEST] = "emit-guest",
    [PVF_EVENT_HANDLER] = "event-handler",
    [PVF_PANIC_WORKER] = "panic-worker",
    [PVF_PANIC_IGNORED] = "panic-ignored",
    [PVF_APPEND_LOG_PANIC] = "append-log-panic",
    [PVF_DOMLOG_PANIC] = "domlog-panic",
};
_Static_assert(ARRAY_SIZE(form_names) == PVF_LAST, "form names");

const char *
pvform_str(enum pvform form)
{
    return (unsigned)form < PVF_LAST ? form_names[form] : "?";
}

/* ---- header ---------------------------------------------------------- */

static inline bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* [A-Za-z0-9_]: a table, because it runs over every function name of a debug log */
static const unsigned char ident_chars[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['_'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

static inline bool
is_ident(char c)
{
    return ident_chars[(unsigned char)c] != 0;
}

static bool
has_prefix(const char *p, size_t len, const char *lit, size_t lit_len)
{
    return len >= lit_len && memcmp(p, lit, lit_len) == 0;
}
#define HAS_PREFIX(p, len, lit) has_prefix((p), (len), (lit), sizeof(lit) - 1)

static bool
span_is(const char *p, size_t len, const char *lit, size_t lit_len)
{
    return len == lit_len && memcmp(p, lit, lit_len) == 0;
}
#define SPAN_IS(p, len, lit) span_is((p), (len), (lit), sizeof(lit) - 1)

void
logline_parse(const char *text, size_t len, struct logline *out)
{
    logline_parse_ts(text, len, logrec_timestamp_kind(text, len), out);
}

void
logline_parse_ts(const char *text, size_t len, enum logrec_ts ts, struct logline *out)
{
    const char *end = text + len;
    const char *p;
    const char *q;

    out->shape = LOGLINE_NONE;
    out->ts = NULL;
    out->ts_len = 0;
    out->tid = 0;
    out->level = LOGLINE_LEVEL_NONE;
    out->func = NULL;
    out->func_len = 0;
    out->msg = text;
    out->msg_len = len;
    if (ts == LOGREC_TS_ISO) {
        q = memchr(text, 'Z', len);
        if (!q || end - q < 2)
            return;     /* the caller's timestamp kind was wrong: no shape */
        out->shape = LOGLINE_QEMU;
        out->ts = text;
        out->ts_len = (size_t)(q - text);
        out->msg = q + 2;
        out->msg_len = (size_t)(end - out->msg);
        return;
    }
    if (ts != LOGREC_TS_LIBVIRT || len < 29)
        return;
    out->ts = text;
    out->ts_len = 28;
    p = text + 29;
    if (p < end && *p == ' ')
        p++;
    /* the per-domain log has the message right after the timestamp */
    out->shape = LOGLINE_DOMAIN;
    out->msg = p;
    out->msg_len = (size_t)(end - p);

    /* daemon log: TID ": " LEVEL " : " */
    q = p;
    while (q < end && is_digit(*q) && q - p < 20)
        q++;
    if (q == p || end - q < 2 || q[0] != ':' || q[1] != ' ')
        return;
    {
        uint64_t tid = 0;

        for (const char *d = p; d < q; d++)
            tid = tid * 10 + (uint64_t)(*d - '0');
        p = q + 2;
        switch (p < end ? *p : 0) {
        case 'd':
            if (!HAS_PREFIX(p, (size_t)(end - p), "debug : "))
                return;
            out->level = LOGLINE_LEVEL_DEBUG;
            p += 8;
            break;
        case 'i':
            if (!HAS_PREFIX(p, (size_t)(end - p), "info : "))
                return;
            out->level = LOGLINE_LEVEL_INFO;
            p += 7;
            break;
        case 'w':
            if (!HAS_PREFIX(p, (size_t)(end - p), "warning : "))
                return;
            out->level = LOGLINE_LEVEL_WARNING;
            p += 10;
            break;
        case 'e':
            if (!HAS_PREFIX(p, (size_t)(end - p), "error : "))
                return;
            out->level = LOGLINE_LEVEL_ERROR;
            p += 8;
            break;
        default:
            return;
        }
        out->tid = tid;
    }
    out->shape = LOGLINE_DAEMON_HEADER;
    out->msg = p;
    out->msg_len = (size_t)(end - p);
    /* FUNC ":" LINE " : " */
    q = p;
    while (q < end && is_ident(*q))
        q++;
    if (q == p || q >= end || *q != ':')
        return;
    {
        const char *d = q + 1;

        while (d < end && is_digit(*d))
            d++;
        if (d == q + 1 || end - d < 3 || d[0] != ' ' || d[1] != ':' || d[2] != ' ')
            return;
        out->shape = LOGLINE_DAEMON;
        out->func = p;
        out->func_len = (size_t)(q - p);
        out->msg = d + 3;
        out->msg_len = (size_t)(end - out->msg);
    }
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int
num(const char *p, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++)
        v = v * 10 + (p[i] - '0');
    return v;
}

int64_t
logline_time_ms(const char *ts, size_t len)
{
    enum logrec_ts kind;
    int64_t days;
    int64_t ms;
    int mon, day, hh, mm, ss;

    if (!ts)
        return -1;
    kind = logrec_timestamp_kind(ts, len < LOGREC_TS_PROBE ? len : LOGREC_TS_PROBE);
    /* logrec_timestamp_kind() wants the byte after the timestamp; accept the bare form */
    if (kind == LOGREC_TS_NONE && len >= 28 && ts[10] == ' ') {
        char tmp[30];

        memcpy(tmp, ts, 28);
        tmp[28] = ':';
        tmp[29] = ' ';
        kind = logrec_timestamp_kind(tmp, sizeof(tmp));
    }
    if (kind == LOGREC_TS_NONE && len >= 20 && ts[10] == 'T') {
        kind = LOGREC_TS_ISO;
        for (size_t i = 0; i < 19; i++) {
            if (i == 4 || i == 7 || i == 10 || i == 13 || i == 16)
                continue;
            if (!is_digit(ts[i]))
                return -1;
        }
    }
    if (kind == LOGREC_TS_NONE)
        return -1;
    mon = num(ts + 5, 2);
    day = num(ts + 8, 2);
    hh = num(ts + 11, 2);
    mm = num(ts + 14, 2);
    ss = num(ts + 17, 2);
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60)
        return -1;
    days = days_from_civil(num(ts, 4), (unsigned)mon, (unsigned)day);
    ms = ((days * 24 + hh) * 60 + mm) * 60 + ss;
    ms *= 1000;
    if (kind == LOGREC_TS_LIBVIRT) {
        int off = num(ts + 24, 2) * 60 + num(ts + 26, 2);

        ms += num(ts + 20, 3);
        /* "+0100" means local = UTC + 1h */
        ms -= (int64_t)(ts[23] == '-' ? -off : off) * 60000;
    } else if (len > 20 && ts[19] == '.') {
        int frac = 0;
        int digits = 0;

        for (size_t i = 20; i < len && is_digit(ts[i]) && digits < 3; i++, digits++)
            frac = frac * 10 + (ts[i] - '0');
        while (digits++ < 3)
            frac *= 10;
        ms += frac;
    }
    return ms;
}

uint64_t
classify_parse_ptr(const char *p, size_t len)
{
    uint64_t v = 0;

    if (len < 3 || p[0] != '0' || (p[1] != 'x' && p[1] != 'X') || len > 18)
        return 0;
    for (size_t i = 2; i < len; i++) {
        char c = p[i];
        unsigned d;

        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return 0;
        v = (v << 4) | d;
    }
    return v;
}

/* ---- PCRE2 ----------------------------------------------------------- */

struct regex {
    pcre2_code *code;
    pcre2_match_data *md;
};

enum builtin_re {
    RE_MON_NEW,
    RE_MON_CLOSE,
    RE_RECV_EVENT,
    RE_IO_PROCESS,
    RE_EMIT_EVENT,
    RE_MON_ONLY,
    RE_CHECK_MONITOR,
    RE_VM_ONLY,
    RE_EVENT_HANDLER,
    RE_VM_NAME_INIT_KILL,
    RE_QEMU_RUNNING,
    RE_SHUTTING_DOWN,
    RE_PROCESS_START,
    RE_JOB_STARTING,
    RE_JOB_ASYNC,
    RE_JOB_STOPPING,
    RE_CONNECT,
    RE_RECONNECT,
    RE_ENTER_EXIT,
    RE_EOF_CALLBACK,
    RE_ERROR_ON_MONITOR,
    RE_TAINTED,
    RE_HANDLE,
    RE_JSON_CRASHLOADED,
    RE_IGNORED,
    RE_APPEND_LOG,
    RE_DOMLOG_PANIC,
    RE_LAST
};

#define PTR "(0x[0-9a-fA-F]{1,16})"
#define TS_LIBVIRT "(\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3}[+-]\\d{4})"

/*
 * Every pattern is anchored at both ends; a name is the greedy (.*) between
 * fixed text, so a name holding spaces, quotes or ')' is taken whole and a
 * line that does not end as libvirt writes it does not match at all.
 */
static const char *const builtin_patterns[] = {
    [RE_MON_NEW] = "^QEMU_MONITOR_NEW: mon=" PTR "(?: .*)?$",
    [RE_MON_CLOSE] = "^QEMU_MONITOR_CLOSE: mon=" PTR "(?: .*)?$",
    [RE_RECV_EVENT] = "^QEMU_MONITOR_RECV_EVENT: mon=" PTR " event=(\\{.*\\})$",
    [RE_IO_PROCESS] = "^QEMU_MONITOR_IO_PROCESS: mon=" PTR " buf=",
    [RE_EMIT_EVENT] = "^mon=" PTR " event=(GUEST_PANICKED|GUEST_CRASHLOADED)$",
    [RE_MON_ONLY] = "^mon=" PTR "$",
    [RE_CHECK_MONITOR] = "^mon:" PTR " vm:" PTR " ",
    [RE_VM_ONLY] = "^vm=" PTR "$",
    [RE_EVENT_HANDLER] = "^vm=" PTR "(?:, event=(\\d{1,9}))?$",
    [RE_VM_NAME_INIT_KILL] = "^vm=" PTR " name=(.*) (?:id=-?\\d+ migration=\\d+|pid=-?\\d+ flags=0x[0-9a-fA-F]+)$",
    [RE_QEMU_RUNNING] = "^QEMU vm=" PTR " name=(.*) running with pid=\\d+$",
    [RE_SHUTTING_DOWN] = "^Shutting down vm=" PTR " name=(.*) id=-?\\d+ pid=-?\\d+(?:[, ].*)?$",
    [RE_PROCESS_START] = "^conn=\\S+ driver=\\S+ vm=" PTR " name=(.*) id=-?\\d+ asyncJob=.*$",
    [RE_JOB_STARTING] = "^Starting job: .*\\(vm=" PTR " name=(.*), current job=[^,]*\\)$",
    [RE_JOB_ASYNC] = "^(?:Started|Stopping) async job: [a-z-]+ \\(vm=" PTR " name=(.*)\\)$",
    [RE_JOB_STOPPING] = "^Stopping job: [a-z-]+ \\(async=[a-z-]+ vm=" PTR " name=(.*)\\)$",
    [RE_CONNECT] = "^Connect monitor to (?:vm=)?" PTR " (?:name=)?'(.*)'$",
    [RE_RECONNECT] = "^Reconnect monitor to (?:def=)?" PTR " (?:name=)?'(.*)'(?: retry=\\d+)?$",
    [RE_ENTER_EXIT] = "^(?:Entering|Exited) monitor \\(mon=" PTR " vm=" PTR " name=(.*)\\)$",
    [RE_EOF_CALLBACK] = "^Triggering EOF callback mon=" PTR " vm=" PTR " name=(.*)$",
    [RE_ERROR_ON_MONITOR] = "^Error on monitor .* mon=" PTR " vm=" PTR " name=(.*)$",
    [RE_TAINTED] = "^Domain id=(-?\\d+) name='(.*)' uuid=([0-9a-fA-F-]{36}) is tainted: (.*)$",
    [RE_HANDLE] = "^handle (GUEST_PANICKED|GUEST_CRASHLOADED) handler=",
    [RE_JSON_CRASHLOADED] = "^qemuMonitorJSONHandleGuestCrashloaded event, mon " PTR ", data ",
    [RE_IGNORED] = "^Ignoring GUEST_PANICKED event from inactive domain (.+)$",
    [RE_APPEND_LOG] = "^Append log message \\(vm='(.*)' message='" TS_LIBVIRT ": panic (.*)$",
    [RE_DOMLOG_PANIC] = "^panic ([A-Za-z0-9_-]+: .*)$",
};
_Static_assert(ARRAY_SIZE(builtin_patterns) == RE_LAST, "builtin patterns");

struct classify {
    struct regex re[RE_LAST];       /* code shared (see below), match data own */
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit_stack;
    uint64_t regex_errors;
};

/*
 * The compiled built-in patterns are immutable, so every classifier of the
 * process shares one copy, compiled (and JIT-compiled) when the first
 * classifier is created and freed with the last. Creating a detector is
 * then cheap (the tests and the fuzzer create thousands). Not thread-safe:
 * pvpanic-watch is single-threaded.
 */
static struct {
    pcre2_code *code[RE_LAST];
    unsigned int users;
} shared_patterns;

static pcre2_match_context *
new_match_context(pcre2_jit_stack **out_stack)
{
    pcre2_match_context *mctx = pcre2_match_context_create(NULL);

    if (!mctx)
        abort();
    pcre2_set_match_limit(mctx, CLASSIFY_MATCH_LIMIT);
    pcre2_set_depth_limit(mctx, CLASSIFY_DEPTH_LIMIT);
    *out_stack = pcre2_jit_stack_create(32 * 1024, CLASSIFY_JIT_STACK_MAX, NULL);
    if (*out_stack)
        pcre2_jit_stack_assign(mctx, NULL, *out_stack);
    return mctx;
}

/* 0 or -EINVAL with a "regex error at offset N: ..." message. */
static int
regex_compile(struct regex *re, const char *pattern, uint32_t options, char **errmsg)
{
    int errcode = 0;
    PCRE2_SIZE erroff = 0;

    re->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, options,
                             &errcode, &erroff, NULL);
    if (!re->code) {
        PCRE2_UCHAR msg[256];

        pcre2_get_error_message(errcode, msg, sizeof(msg));
        if (errmsg)
            *errmsg = xasprintf("regex error at offset %zu: %s", (size_t)erroff, (char *)msg);
        return -EINVAL;
    }
    /* JIT is an optimisation: without it (unsupported arch, valgrind) the interpreter runs. */
    if (!PV_UNDER_VALGRIND())
        pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);
    re->md = pcre2_match_data_create_from_pattern(re->code, NULL);
    if (!re->md)
        abort();
    return 0;
}

static void
regex_free(struct regex *re)
{
    pcre2_match_data_free(re->md);
    pcre2_code_free(re->code);
    re->md = NULL;
    re->code = NULL;
}

static void
shared_patterns_release(void)
{
    if (shared_patterns.users == 0 || --shared_patterns.users > 0)
        return;
    for (int i = 0; i < RE_LAST; i++) {
        pcre2_code_free(shared_patterns.code[i]);
        shared_patterns.code[i] = NULL;
    }
}

static int
shared_patterns_get(void)
{
    if (shared_patterns.users++ > 0)
        return 0;
    for (int i = 0; i < RE_LAST; i++) {
        struct regex re;

        if (regex_compile(&re, builtin_patterns[i], PCRE2_DOLLAR_ENDONLY, NULL) < 0) {
            shared_patterns_release();
            return -EINVAL;
        }
        pcre2_match_data_free(re.md);
        shared_patterns.code[i] = re.code;
    }
    return 0;
}

struct classify *
classify_new(void)
{
    struct classify *cls;

    if (shared_patterns_get() < 0)
        return NULL;
    cls = xcalloc(1, sizeof(*cls));
    cls->mctx = new_match_context(&cls->jit_stack);
    for (int i = 0; i < RE_LAST; i++) {
        cls->re[i].code = shared_patterns.code[i];
        cls->re[i].md = pcre2_match_data_create_from_pattern(cls->re[i].code, NULL);
        if (!cls->re[i].md)
            abort();
    }
    return cls;
}

void
classify_free(struct classify *cls)
{
    if (!cls)
        return;
    for (int i = 0; i < RE_LAST; i++) {
        pcre2_match_data_free(cls->re[i].md);
        cls->re[i].code = NULL;     /* shared */
    }
    pcre2_match_context_free(cls->mctx);
    pcre2_jit_stack_free(cls->jit_stack);
    free(cls);
    shared_patterns_release();
}

uint64_t
classify_regex_errors(const struct classify *cls)
{
    return cls->regex_errors;
}

/* Match built-in pattern @id on the message; true on a match. */
static bool
match(struct classify *cls, enum builtin_re id, const char *s, size_t len)
{
    int rc = pcre2_match(cls->re[id].code, (PCRE2_SPTR)s, len, 0, 0, cls->re[id].md, cls->mctx);

    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH)
        cls->regex_errors++;
    return rc > 0;
}

/* Group @n of the last match of @id (empty view when it did not take part). */
static void
group(struct classify *cls, enum builtin_re id, const char *s, uint32_t n,
      const char **out, size_t *out_len)
{
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(cls->re[id].md);

    if (n >= pcre2_get_ovector_count(cls->re[id].md) || ov[2 * n] == PCRE2_UNSET) {
        *out = NULL;
        *out_len = 0;
        return;
    }
    *out = s + ov[2 * n];
    *out_len = ov[2 * n + 1] - ov[2 * n];
}

static uint64_t
group_ptr(struct classify *cls, enum builtin_re id, const char *s, uint32_t n)
{
    const char *p;
    size_t len;

    group(cls, id, s, n, &p, &len);
    return p ? classify_parse_ptr(p, len) : 0;
}

static enum pv_event_type
event_type_of(const char *p, size_t len)
{
    return SPAN_IS(p, len, "GUEST_CRASHLOADED") ? PV_EVENT_CRASHLOADED : PV_EVENT_PANIC;
}

static bool
func_is(const struct logline *ll, const char *lit, size_t lit_len)
{
    return span_is(ll->func, ll->func_len, lit, lit_len);
}
#define FUNC_IS(ll, lit) func_is((ll), (lit), sizeof(lit) - 1)

static bool
contains(const char *p, size_t len, const char *lit, size_t lit_len)
{
    return memmem(p, len, lit, lit_len) != NULL;
}
#define CONTAINS(p, len, lit) contains((p), (len), (lit), sizeof(lit) - 1)

/* mon + vm + name forms; @mon_group/@vm_group 0 when absent. */
static enum pvform
take_name(struct classify *cls, enum builtin_re id, const char *s, enum pvform form,
          uint32_t mon_group, uint32_t vm_group, uint32_t name_group, struct pvclass *out)
{
    if (mon_group)
        out->mon = group_ptr(cls, id, s, mon_group);
    if (vm_group)
        out->vm = group_ptr(cls, id, s, vm_group);
    group(cls, id, s, name_group, &out->name, &out->name_len);
    out->form = form;
    return form;
}

static enum pvform
classify_monitor_probe(struct classify *cls, const char *m, size_t n, struct pvclass *out)
{
    const char *j;
    size_t jl;

    out->form = PVF_MONITOR_OTHER;
    if (HAS_PREFIX(m, n, "QEMU_MONITOR_NEW: ")) {
        if (match(cls, RE_MON_NEW, m, n)) {
            out->mon = group_ptr(cls, RE_MON_NEW, m, 1);
            out->form = PVF_MON_NEW;
        }
    } else if (HAS_PREFIX(m, n, "QEMU_MONITOR_CLOSE: ")) {
        if (match(cls, RE_MON_CLOSE, m, n)) {
            out->mon = group_ptr(cls, RE_MON_CLOSE, m, 1);
            out->form = PVF_MON_CLOSE;
        }
    } else if (HAS_PREFIX(m, n, "QEMU_MONITOR_RECV_EVENT: ")) {
        if (n <= QMP_EVENT_MAX_LEN && CONTAINS(m, n, "GUEST_") && match(cls, RE_RECV_EVENT, m, n)) {
            out->mon = group_ptr(cls, RE_RECV_EVENT, m, 1);
            group(cls, RE_RECV_EVENT, m, 2, &j, &jl);
            out->json = j;
            out->json_len = jl;
            out->form = PVF_RECV_EVENT;
        }
    } else if (HAS_PREFIX(m, n, "QEMU_MONITOR_IO_PROCESS: ")) {
        /* the events may sit in continuation lines: the detector reads the record */
        if (match(cls, RE_IO_PROCESS, m, n)) {
            out->mon = group_ptr(cls, RE_IO_PROCESS, m, 1);
            out->form = PVF_IO_PROCESS;
        }
    }
    return out->form;
}

static enum pvform
classify_daemon(struct classify *cls, const struct logline *ll, struct pvclass *out)
{
    const char *m = ll->msg;
    size_t n = ll->msg_len;
    const char *p;
    size_t pl;

    if (n < 4)
        return PVF_NONE;
    switch (m[0]) {
    case 'Q':
        if (HAS_PREFIX(m, n, "QEMU_MONITOR_"))
            return classify_monitor_probe(cls, m, n, out);
        if (HAS_PREFIX(m, n, "QEMU vm=") && match(cls, RE_QEMU_RUNNING, m, n))
            return take_name(cls, RE_QEMU_RUNNING, m, PVF_VM_NAME, 0, 1, 2, out);
        return PVF_NONE;
    case 'L':
        /* the guest agent logs "Line [...]" too (qemuAgentIOProcessLine): guest text */
        if (HAS_PREFIX(m, n, "Line [") && n <= QMP_EVENT_MAX_LEN &&
            FUNC_IS(ll, "qemuMonitorJSONIOProcessLine") && m[n - 1] == ']' &&
            CONTAINS(m, n, "GUEST_")) {
            out->json = m + 6;
            out->json_len = n - 7;
            out->form = PVF_QMP_LINE;
        }
        return out->form;
    case 'm':
        if (HAS_PREFIX(m, n, "mon:")) {
            if (match(cls, RE_CHECK_MONITOR, m, n)) {
                out->mon = group_ptr(cls, RE_CHECK_MONITOR, m, 1);
                out->vm = group_ptr(cls, RE_CHECK_MONITOR, m, 2);
                out->form = PVF_CHECK_MONITOR;
            }
        } else if (HAS_PREFIX(m, n, "mon=")) {
            if (FUNC_IS(ll, "qemuMonitorEmitEvent")) {
                if (match(cls, RE_EMIT_EVENT, m, n)) {
                    out->mon = group_ptr(cls, RE_EMIT_EVENT, m, 1);
                    group(cls, RE_EMIT_EVENT, m, 2, &p, &pl);
                    out->type = event_type_of(p, pl);
                    out->form = PVF_EMIT_EVENT;
                }
            } else if (FUNC_IS(ll, "qemuMonitorEmitGuestPanic") ||
                       FUNC_IS(ll, "qemuMonitorEmitGuestCrashloaded")) {
                if (match(cls, RE_MON_ONLY, m, n)) {
                    out->mon = group_ptr(cls, RE_MON_ONLY, m, 1);
                    out->type = ll->func_len == sizeof("qemuMonitorEmitGuestPanic") - 1
                        ? PV_EVENT_PANIC : PV_EVENT_CRASHLOADED;
                    out->form = PVF_EMIT_GUEST;
                }
            }
        }
        return out->form;
    case 'v':
        if (!HAS_PREFIX(m, n, "vm="))
            return PVF_NONE;
        if (FUNC_IS(ll, "qemuProcessHandleEvent")) {
            if (match(cls, RE_VM_ONLY, m, n)) {
                out->vm = group_ptr(cls, RE_VM_ONLY, m, 1);
                out->form = PVF_PROCESS_HANDLE_EVENT;
            }
        } else if (FUNC_IS(ll, "qemuProcessEventHandler")) {
            if (match(cls, RE_EVENT_HANDLER, m, n)) {
                out->vm = group_ptr(cls, RE_EVENT_HANDLER, m, 1);
                group(cls, RE_EVENT_HANDLER, m, 2, &p, &pl);
                out->event_num = p ? 0 : -1;
                /* a view, not a C string: \d{1,9} per the pattern */
                for (size_t i = 0; p && i < pl; i++)
                    out->event_num = out->event_num * 10 + (p[i] - '0');
                out->form = PVF_EVENT_HANDLER;
            }
        } else if (CONTAINS(m, n, " name=") && match(cls, RE_VM_NAME_INIT_KILL, m, n)) {
            return take_name(cls, RE_VM_NAME_INIT_KILL, m, PVF_VM_NAME, 0, 1, 2, out);
        }
        return out->form;
    case 'S':
        if (HAS_PREFIX(m, n, "Shutting down vm=") && match(cls, RE_SHUTTING_DOWN, m, n))
            return take_name(cls, RE_SHUTTING_DOWN, m, PVF_VM_NAME, 0, 1, 2, out);
        if (HAS_PREFIX(m, n, "Starting job: ") && match(cls, RE_JOB_STARTING, m, n))
            return take_name(cls, RE_JOB_STARTING, m, PVF_VM_NAME, 0, 1, 2, out);
        if (HAS_PREFIX(m, n, "Started async job: ") && match(cls, RE_JOB_ASYNC, m, n))
            return take_name(cls, RE_JOB_ASYNC, m, PVF_VM_NAME, 0, 1, 2, out);
        if (HAS_PREFIX(m, n, "Stopping async job: ") && match(cls, RE_JOB_ASYNC, m, n))
            return take_name(cls, RE_JOB_ASYNC, m, PVF_VM_NAME, 0, 1, 2, out);
        if (HAS_PREFIX(m, n, "Stopping job: ") && match(cls, RE_JOB_STOPPING, m, n))
            return take_name(cls, RE_JOB_STOPPING, m, PVF_VM_NAME, 0, 1, 2, out);
        return PVF_NONE;
    case 'c':
        if (HAS_PREFIX(m, n, "conn=") && FUNC_IS(ll, "qemuProcessStart") &&
            match(cls, RE_PROCESS_START, m, n))
            return take_name(cls, RE_PROCESS_START, m, PVF_VM_NAME, 0, 1, 2, out);
        return PVF_NONE;
    case 'C':
        if (HAS_PREFIX(m, n, "Connect monitor to ") && match(cls, RE_CONNECT, m, n))
            return take_name(cls, RE_CONNECT, m, PVF_CONNECT, 0, 1, 2, out);
        return PVF_NONE;
    case 'R':
        if (HAS_PREFIX(m, n, "Reconnect monitor to ") && match(cls, RE_RECONNECT, m, n))
            return take_name(cls, RE_RECONNECT, m, PVF_RECONNECT, 0, 1, 2, out);
        return PVF_NONE;
    case 'E':
        if ((HAS_PREFIX(m, n, "Entering monitor (") || HAS_PREFIX(m, n, "Exited monitor (")) &&
            match(cls, RE_ENTER_EXIT, m, n))
            return take_name(cls, RE_ENTER_EXIT, m, PVF_MONITOR_NAME, 1, 2, 3, out);
        if (HAS_PREFIX(m, n, "Error on monitor ") && match(cls, RE_ERROR_ON_MONITOR, m, n))
            return take_name(cls, RE_ERROR_ON_MONITOR, m, PVF_MONITOR_NAME, 1, 2, 3, out);
        return PVF_NONE;
    case 'T':
        if (HAS_PREFIX(m, n, "Triggering EOF callback ") && match(cls, RE_EOF_CALLBACK, m, n))
            return take_name(cls, RE_EOF_CALLBACK, m, PVF_MONITOR_NAME, 1, 2, 3, out);
        return PVF_NONE;
    case 'D':
        if (HAS_PREFIX(m, n, "Domain id=") && match(cls, RE_TAINTED, m, n)) {
            group(cls, RE_TAINTED, m, 4, &out->taint_reason, &out->taint_reason_len);
            return take_name(cls, RE_TAINTED, m, PVF_TAINTED, 0, 0, 2, out);
        }
        return PVF_NONE;
    case 'h':
        if (HAS_PREFIX(m, n, "handle GUEST_") && match(cls, RE_HANDLE, m, n)) {
            group(cls, RE_HANDLE, m, 1, &p, &pl);
            out->type = event_type_of(p, pl);
            out->form = PVF_HANDLE_EVENT;
        }
        return out->form;
    case 'q':
        if (HAS_PREFIX(m, n, "qemuMonitorJSONHandleGuestCrashloaded event") &&
            match(cls, RE_JSON_CRASHLOADED, m, n)) {
            out->mon = group_ptr(cls, RE_JSON_CRASHLOADED, m, 1);
            out->type = PV_EVENT_CRASHLOADED;
            out->form = PVF_JSON_CRASHLOADED;
        }
        return out->form;
    case 'P':
        if (FUNC_IS(ll, "processGuestPanicEvent") && HAS_PREFIX(m, n, "Preserving lock state")) {
            out->type = PV_EVENT_PANIC;
            out->form = PVF_PANIC_WORKER;
        }
        return out->form;
    case 'I':
        if (FUNC_IS(ll, "processGuestPanicEvent") && match(cls, RE_IGNORED, m, n)) {
            out->type = PV_EVENT_PANIC;
            return take_name(cls, RE_IGNORED, m, PVF_PANIC_IGNORED, 0, 0, 1, out);
        }
        return PVF_NONE;
    case 'A':
        if (HAS_PREFIX(m, n, "Append log message (vm='") && CONTAINS(m, n, ": panic ") &&
            match(cls, RE_APPEND_LOG, m, n)) {
            group(cls, RE_APPEND_LOG, m, 2, &out->panic_ts, &out->panic_ts_len);
            group(cls, RE_APPEND_LOG, m, 3, &out->panic_text, &out->panic_text_len);
            out->type = PV_EVENT_PANIC;
            return take_name(cls, RE_APPEND_LOG, m, PVF_APPEND_LOG_PANIC, 0, 0, 1, out);
        }
        return PVF_NONE;
    default:
        return PVF_NONE;
    }
}

enum pvform
classify_line(struct classify *cls, const struct logline *ll, struct pvclass *out)
{
    out->form = PVF_NONE;
    out->type = PV_EVENT_PANIC;
    out->mon = 0;
    out->vm = 0;
    out->name = NULL;
    out->name_len = 0;
    out->json = NULL;
    out->json_len = 0;
    out->event_num = -1;
    out->panic_ts = NULL;
    out->panic_ts_len = 0;
    out->panic_text = NULL;
    out->panic_text_len = 0;
    out->taint_reason = NULL;
    out->taint_reason_len = 0;

    switch (ll->shape) {
    case LOGLINE_DAEMON:
        return classify_daemon(cls, ll, out);
    case LOGLINE_DOMAIN:
        if (HAS_PREFIX(ll->msg, ll->msg_len, "panic ") && match(cls, RE_DOMLOG_PANIC, ll->msg, ll->msg_len)) {
            group(cls, RE_DOMLOG_PANIC, ll->msg, 1, &out->panic_text, &out->panic_text_len);
            out->panic_ts = ll->ts;
            out->panic_ts_len = ll->ts_len;
            out->type = PV_EVENT_PANIC;
            out->form = PVF_DOMLOG_PANIC;
        }
        return out->form;
    case LOGLINE_NONE:
    case LOGLINE_DAEMON_HEADER:
    case LOGLINE_QEMU:
        break;
    }
    return PVF_NONE;
}

/* Value of key='...' (or key="...") in @text, as a view; false if absent. */
static bool
quoted_field(const char *text, size_t len, const char *key, const char **out, size_t *out_len)
{
    size_t kl = strlen(key);
    const char *end = text + len;
    const char *p = text;

    while ((p = memmem(p, (size_t)(end - p), key, kl))) {
        const char *v = p + kl;

        if ((p == text || p[-1] == ' ' || p[-1] == ',') && v + 1 < end && v[0] == '=' &&
            (v[1] == '\'' || v[1] == '"')) {
            char q = v[1];
            const char *close;

            v += 2;
            close = memchr(v, q, (size_t)(end - v));
            if (!close)
                return false;
            *out = v;
            *out_len = (size_t)(close - v);
            return true;
        }
        p += kl;
    }
    return false;
}

static bool
field_u64(const char *text, size_t len, const char *key, bool hex_only, uint64_t *out)
{
    const char *v;
    size_t vl;
    char buf[32];
    char *end = NULL;

    if (!quoted_field(text, len, key, &v, &vl) || vl == 0 || vl >= sizeof(buf))
        return false;
    memcpy(buf, v, vl);
    buf[vl] = '\0';
    if (hex_only && (vl < 3 || buf[0] != '0' || (buf[1] != 'x' && buf[1] != 'X')))
        return false;
    if (buf[0] == '-')
        return false;
    errno = 0;
    *out = strtoull(buf, &end, 0);
    return errno == 0 && end && *end == '\0';
}

void
classify_panic_text(const char *text, size_t len, struct pv_panic_info *info)
{
    static const char *const args[5] = { "arg1", "arg2", "arg3", "arg4", "arg5" };
    const char *colon = memchr(text, ':', len);

    memset(info, 0, sizeof(*info));
    if (HAS_PREFIX(text, len, "hyper-v: ")) {
        int ok = 0;

        for (int i = 0; i < 5; i++)
            ok += field_u64(text, len, args[i], true, &info->hv_arg[i]);
        if (ok == 5) {
            info->kind = PV_INFO_HYPERV;
            return;
        }
    } else if (HAS_PREFIX(text, len, "s390: ")) {
        uint64_t core = 0;
        const char *r;
        size_t rl;

        if (field_u64(text, len, "core", false, &core) && core <= INT64_MAX &&
            field_u64(text, len, "psw-mask", true, &info->s390_psw_mask) &&
            field_u64(text, len, "psw-addr", true, &info->s390_psw_addr) &&
            quoted_field(text, len, "reason", &r, &rl)) {
            info->kind = PV_INFO_S390;
            info->s390_core = (int64_t)core;
            info->s390_reason = xstrndup(r, rl);
            return;
        }
    }
    memset(info, 0, sizeof(*info));
    info->kind = PV_INFO_OTHER;
    info->type = colon ? xstrndup(text, (size_t)(colon - text)) : NULL;
    info->raw = xstrndup(text, len < 4096 ? len : 4096);
}

/* ---- operator rules -------------------------------------------------- */

struct rule {
    char *name;
    char *severity;
    enum pv_event_type event;
    struct regex re;
    uint32_t g_domain, g_mon, g_vm, g_action;   /* named group numbers, 0 = none */
};

struct classify_rules {
    struct rule *v;
    size_t n;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit_stack;
};

struct classify_rules *
classify_rules_new(void)
{
    struct classify_rules *rules = xcalloc(1, sizeof(*rules));

    rules->mctx = new_match_context(&rules->jit_stack);
    return rules;
}

void
classify_rules_free(struct classify_rules *rules)
{
    if (!rules)
        return;
    for (size_t i = 0; i < rules->n; i++) {
        free(rules->v[i].name);
        free(rules->v[i].severity);
        regex_free(&rules->v[i].re);
    }
    free(rules->v);
    pcre2_match_context_free(rules->mctx);
    pcre2_jit_stack_free(rules->jit_stack);
    free(rules);
}

size_t
classify_rules_count(const struct classify_rules *rules)
{
    return rules ? rules->n : 0;
}

static uint32_t
named_group(pcre2_code *code, const char *name)
{
    int n = pcre2_substring_number_from_name(code, (PCRE2_SPTR)name);

    return n > 0 ? (uint32_t)n : 0;
}

int
classify_rules_add(struct classify_rules *rules, const char *name, const char *pattern,
                   enum pv_event_type event, const char *severity, char **errmsg)
{
    struct rule r;
    /* Logs hold invalid UTF-8; match it as UTF-8 where PCRE2 can do so safely. */
#ifdef PCRE2_MATCH_INVALID_UTF
    uint32_t options = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
#else
    uint32_t options = 0;
#endif

    memset(&r, 0, sizeof(r));
    if (regex_compile(&r.re, pattern, options, errmsg) < 0)
        return -EINVAL;
    r.name = xstrdup(name);
    r.severity = xstrdup(severity ? severity : "warning");
    r.event = event;
    r.g_domain = named_group(r.re.code, "domain");
    r.g_mon = named_group(r.re.code, "mon");
    r.g_vm = named_group(r.re.code, "vm");
    r.g_action = named_group(r.re.code, "action");
    rules->v = xreallocarray(rules->v, rules->n + 1, sizeof(*rules->v));
    rules->v[rules->n++] = r;
    return 0;
}

static void
rule_group(const struct rule *r, const char *s, uint32_t n, const char **out, size_t *out_len)
{
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->re.md);

    *out = NULL;
    *out_len = 0;
    if (n == 0 || n >= pcre2_get_ovector_count(r->re.md) || ov[2 * n] == PCRE2_UNSET)
        return;
    *out = s + ov[2 * n];
    *out_len = ov[2 * n + 1] - ov[2 * n];
}

unsigned int
classify_rules_match(struct classify_rules *rules, const char *text, size_t len,
                     rule_match_fn fn, void *opaque)
{
    unsigned int matches = 0;

    if (!rules)
        return 0;
    for (size_t i = 0; i < rules->n; i++) {
        struct rule *r = &rules->v[i];
        struct rule_match m;
        const char *p;
        size_t pl;
        int rc = pcre2_match(r->re.code, (PCRE2_SPTR)text, len, 0, 0, r->re.md, rules->mctx);

        if (rc <= 0)
            continue;
        memset(&m, 0, sizeof(m));
        m.rule = r->name;
        m.severity = r->severity;
        m.event = r->event;
        rule_group(r, text, r->g_domain, &m.domain, &m.domain_len);
        rule_group(r, text, r->g_mon, &p, &pl);
        m.mon = p ? classify_parse_ptr(p, pl) : 0;
        rule_group(r, text, r->g_vm, &p, &pl);
        m.vm = p ? classify_parse_ptr(p, pl) : 0;
        rule_group(r, text, r->g_action, &m.action, &m.action_len);
        matches++;
        fn(&m, opaque);
    }
    return matches;
}
