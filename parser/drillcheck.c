#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "cleanup.h"
#include "drillcheck.h"
#include "xalloc.h"

/* ---- libvirt daemon config ---------------------------------------------- */

static const char *
skip_blanks(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
        p++;
    return p;
}

static const char *
line_end(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));

    return nl ? nl : end;
}

/*
 * A quoted string at @p: its text in *@val (new string) and the position
 * after it, or NULL if it is not closed. virconf knows "...", '...' and
 * """...""" (may span lines); it has no escapes.
 */
static const char *
read_string(const char *p, const char *end, char **val)
{
    const char *start;
    const char *close;

    if (end - p >= 3 && memcmp(p, "\"\"\"", 3) == 0) {
        start = p + 3;
        for (close = start; close + 3 <= end && memcmp(close, "\"\"\"", 3) != 0; close++)
            ;
        if (close + 3 > end)
            return NULL;
        *val = xstrndup(start, (size_t)(close - start));
        return close + 3;
    }
    start = p + 1;
    for (close = start; close < end && *close != *p && *close != '\n'; close++)
        ;
    if (close >= end || *close != *p)
        return NULL;
    *val = xstrndup(start, (size_t)(close - start));
    return close + 1;
}

/* Past a [list] (strings inside may hold ']' and newlines). */
static const char *
skip_list(const char *p, const char *end)
{
    int depth = 0;

    while (p < end) {
        if (*p == '"' || *p == '\'') {
            char *ignored = NULL;
            const char *after = read_string(p, end, &ignored);

            free(ignored);
            if (!after)
                return end;
            p = after;
            continue;
        }
        if (*p == '#') {
            p = line_end(p, end);
            continue;
        }
        if (*p == '[')
            depth++;
        else if (*p == ']' && --depth == 0)
            return p + 1;
        p++;
    }
    return end;
}

static void
set_string(char **slot, char *val)
{
    if (*slot)
        free(val);      /* the first assignment counts */
    else
        *slot = val;
}

void
lvconf_parse(const char *text, size_t len, struct lvconf *out)
{
    const char *p = text;
    const char *end = text + len;

    memset(out, 0, sizeof(*out));
    out->log_level = -1;
    while (p < end) {
        const char *key;
        size_t klen;
        char *val = NULL;

        p = skip_blanks(p, end);
        if (p < end && (*p == '\n' || *p == '#')) {
            p = line_end(p, end);
            p += p < end;
            continue;
        }
        key = p;
        while (p < end && (isalnum((unsigned char)*p) || *p == '_'))
            p++;
        klen = (size_t)(p - key);
        p = skip_blanks(p, end);
        if (klen == 0 || p >= end || *p != '=') {
            p = line_end(p, end);
            continue;
        }
        p = skip_blanks(p + 1, end);
        if (p < end && (*p == '"' || *p == '\'')) {
            const char *after = read_string(p, end, &val);

            if (!after) {
                p = line_end(p, end);
                continue;
            }
            p = after;
        } else if (p < end && *p == '[') {
            p = skip_list(p, end);
        } else if (p < end && (isdigit((unsigned char)*p) || *p == '-')) {
            const char *num = p;

            while (p < end && (isdigit((unsigned char)*p) || *p == '-'))
                p++;
            if (klen == 9 && memcmp(key, "log_level", 9) == 0 && out->log_level < 0) {
                AUTOFREE char *s = xstrndup(num, (size_t)(p - num));
                long v = strtol(s, NULL, 10);

                if (v >= 1 && v <= 4)
                    out->log_level = (int)v;
            }
        }
        if (val) {
            if (klen == 11 && memcmp(key, "log_outputs", 11) == 0)
                set_string(&out->log_outputs, val);
            else if (klen == 11 && memcmp(key, "log_filters", 11) == 0)
                set_string(&out->log_filters, val);
            else if (klen == 13 && memcmp(key, "unix_sock_dir", 13) == 0)
                set_string(&out->unix_sock_dir, val);
            else
                free(val);
        }
        /* the rest of the line (a comment) */
        p = line_end(p, end);
    }
}

void
lvconf_clear(struct lvconf *c)
{
    free(c->log_outputs);
    free(c->log_filters);
    free(c->unix_sock_dir);
    memset(c, 0, sizeof(*c));
    c->log_level = -1;
}

/* Next blank-separated word of @s at *@pos: its start and length, false at the end. */
static bool
next_word(const char *s, size_t *pos, const char **w, size_t *wlen)
{
    size_t i = *pos;

    while (s[i] && isspace((unsigned char)s[i]))
        i++;
    if (!s[i])
        return false;
    *w = s + i;
    while (s[i] && !isspace((unsigned char)s[i]))
        i++;
    *wlen = (size_t)(s + i - *w);
    *pos = i;
    return true;
}

size_t
lvlog_parse_outputs(const char *s, struct lvoutput **out)
{
    struct lvoutput *v = NULL;
    size_t n = 0;
    size_t pos = 0;
    const char *w;
    size_t wlen;

    while (s && next_word(s, &pos, &w, &wlen)) {
        struct lvoutput o = { 0 };
        const char *dest;
        size_t dlen;
        const char *colon;

        if (wlen < 3 || w[0] < '1' || w[0] > '4' || w[1] != ':')
            continue;
        o.level = w[0] - '0';
        dest = w + 2;
        colon = memchr(dest, ':', wlen - 2);
        dlen = colon ? (size_t)(colon - dest) : wlen - 2;
        if (dlen == 4 && memcmp(dest, "file", 4) == 0 && colon && colon + 1 < w + wlen) {
            o.dest = LVOUT_FILE;
            o.path = xstrndup(colon + 1, (size_t)(w + wlen - colon - 1));
        } else if (dlen == 8 && memcmp(dest, "journald", 8) == 0) {
            o.dest = LVOUT_JOURNALD;
        } else if (dlen == 6 && memcmp(dest, "syslog", 6) == 0) {
            o.dest = LVOUT_SYSLOG;
        } else if (dlen == 6 && memcmp(dest, "stderr", 6) == 0) {
            o.dest = LVOUT_STDERR;
        } else {
            o.dest = LVOUT_OTHER;
        }
        v = xreallocarray(v, n + 1, sizeof(*v));
        v[n++] = o;
    }
    *out = v;
    return n;
}

void
lvoutputs_free(struct lvoutput *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].path);
    free(v);
}

/* g_pattern_match_simple(): '*' any run, '?' one character, nothing else special. */
static bool
glob_match(const char *pat, size_t plen, const char *s)
{
    size_t p = 0;
    size_t star = SIZE_MAX;
    const char *mark = NULL;

    while (*s) {
        if (p < plen && (pat[p] == '?' || pat[p] == *s)) {
            p++;
            s++;
        } else if (p < plen && pat[p] == '*') {
            star = p++;
            mark = s;
        } else if (star != SIZE_MAX) {
            p = star + 1;
            s = ++mark;
        } else {
            return false;
        }
    }
    while (p < plen && pat[p] == '*')
        p++;
    return p == plen;
}

int
lvlog_source_priority(const char *filters, int default_level, const char *source)
{
    size_t pos = 0;
    const char *w;
    size_t wlen;

    while (filters && next_word(filters, &pos, &w, &wlen)) {
        AUTOFREE char *pattern = NULL;
        const char *match;
        size_t mlen;

        if (wlen < 3 || w[0] < '1' || w[0] > '4' || w[1] != ':')
            continue;
        match = w + 2;
        mlen = wlen - 2;
        /* "1:+name" (stack traces, before libvirt 1.2) */
        if (*match == '+') {
            match++;
            mlen--;
        }
        pattern = xasprintf("*%.*s*", (int)mlen, match);
        if (glob_match(pattern, strlen(pattern), source))
            return w[0] - '0';
    }
    return default_level;
}

void
lvlog_plan(const struct lvconf *c, const char *binary, bool journald, struct log_plan *p)
{
    int level = c->log_level > 0 ? c->log_level : 3;
    struct lvoutput *outs = NULL;
    size_t n = 0;
    int file_level = 0;

    memset(p, 0, sizeof(*p));
    if (c->log_outputs) {
        n = lvlog_parse_outputs(c->log_outputs, &outs);
    } else {
        /* virLogSetDefaultOutput() for a daemon */
        p->default_output = true;
        if (!journald) {
            AUTOFREE char *def = xasprintf("%d:file:/var/log/libvirt/%s.log", level, binary);

            n = lvlog_parse_outputs(def, &outs);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (outs[i].dest == LVOUT_FILE && (!p->file || outs[i].level < file_level)) {
            free(p->file);
            p->file = xstrdup(outs[i].path);
            file_level = outs[i].level;
        }
    }
    lvoutputs_free(outs, n);
    p->events_priority = lvlog_source_priority(c->log_filters, level, LVLOG_SOURCE_EVENTS);
    if (p->file) {
        /* a message reaches a file when it passes its source's filter and the output's level */
        p->records_events = p->events_priority <= 2 && file_level <= 2;
        p->records_sends = lvlog_source_priority(c->log_filters, level, LVLOG_SOURCE_MONITOR) <= 2 &&
                           file_level <= 2;
        p->records_names = lvlog_source_priority(c->log_filters, level, LVLOG_SOURCE_NAMES) <= 1 &&
                           file_level <= 1;
    }
}

void
log_plan_clear(struct log_plan *p)
{
    free(p->file);
    memset(p, 0, sizeof(*p));
}

/* ---- the log -------------------------------------------------------------- */

static bool
span_has(const char *p, size_t len, const char *lit)
{
    return memmem(p, len, lit, strlen(lit)) != NULL;
}

/* Taints libvirt logs while starting the guest, before QEMU_MONITOR_NEW (detect.c start_taint). */
static bool
start_taint_reason(const char *p, size_t len)
{
    static const char *const reasons[] = {
        "high-privileges", "custom-argv", "host-cpu", "custom-dtb", "deprecated-config",
        "custom-hypervisor-feature",
    };

    for (size_t i = 0; i < ARRAY_SIZE(reasons); i++) {
        size_t n = strlen(reasons[i]);

        if (len >= n && memcmp(p, reasons[i], n) == 0 && (len == n || p[n] == ' '))
            return true;
    }
    return false;
}

int64_t
drill_last_start_marker(const char *buf, size_t len, bool buf_is_file_start,
                        const char *name, size_t name_len)
{
    AUTOFREE char *needle = xmalloc(name_len + 2);
    const char *p = buf;
    const char *end = buf + len;
    int64_t last = -1;

    needle[0] = '\'';
    memcpy(needle + 1, name, name_len);
    needle[name_len + 1] = '\'';
    while (p < end) {
        const char *hit = memmem(p, (size_t)(end - p), needle, name_len + 2);
        const char *ls;
        const char *le;

        if (!hit)
            break;
        p = hit + 1;
        ls = hit;
        while (ls > buf && ls[-1] != '\n')
            ls--;
        if (ls == buf && !buf_is_file_start)
            continue;   /* the line began before this buffer */
        le = line_end(hit, end);
        if (span_has(ls, (size_t)(hit - ls), "onnect monitor to ")) {
            /* "Connect monitor to vm=%p name='%s'", "Reconnect monitor to def=%p name='%s'",
             * and before 5.x "Connect monitor to %p '%s'" */
            last = ls - buf;
        } else if (hit - ls >= 5 && memcmp(hit - 5, "name=", 5) == 0 &&
                   span_has(ls, (size_t)(hit - ls), "Domain id=")) {
            static const char tainted[] = " is tainted: ";
            const char *after = hit + name_len + 2;
            const char *t = memmem(after, (size_t)(le - after), tainted, sizeof(tainted) - 1);

            if ((size_t)(le - after) > 6 && memcmp(after, " uuid=", 6) == 0 && t &&
                start_taint_reason(t + sizeof(tainted) - 1,
                                   (size_t)(le - t - (ptrdiff_t)(sizeof(tainted) - 1))))
                last = ls - buf;
        }
    }
    return last;
}

bool
drill_parse_nmi_send(const char *line, size_t len, uint64_t *mon, int64_t *time_ms)
{
    static const char prefix[] = "QEMU_MONITOR_SEND_MSG: mon=0x";
    struct logline ll;
    const char *p;
    const char *msg_end;
    uint64_t v = 0;
    int digits = 0;

    logline_parse(line, len, &ll);
    if (!ll.msg || ll.msg_len < sizeof(prefix) - 1 ||
        memcmp(ll.msg, prefix, sizeof(prefix) - 1) != 0)
        return false;
    msg_end = ll.msg + ll.msg_len;
    for (p = ll.msg + sizeof(prefix) - 1; p < msg_end && isxdigit((unsigned char)*p) && digits < 16;
         p++, digits++)
        v = v * 16 + (uint64_t)hex_digit_value((unsigned char)*p);
    if (digits == 0 || p >= msg_end || *p != ' ')
        return false;
    /* msg={"execute":"inject-nmi","id":"libvirt-413"} */
    if (!span_has(p, (size_t)(msg_end - p), "\"inject-nmi\""))
        return false;
    *mon = v;
    *time_ms = ll.ts ? logline_time_ms(ll.ts, ll.ts_len) : -1;
    return true;
}

/* ---- virsh answers -------------------------------------------------------- */

char *
drill_first_line(const char *s)
{
    const char *p = s ? s : "";
    size_t len;

    p += strspn(p, " \t\r\n");
    len = strcspn(p, "\r\n");
    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    return xstrndup(p, len);
}

enum dom_state
drill_dom_state(const char *state)
{
    static const struct { const char *word; enum dom_state st; } words[] = {
        { "running", DOM_STATE_RUNNING },
        { "idle", DOM_STATE_RUNNING },      /* VIR_DOMAIN_BLOCKED */
        { "paused", DOM_STATE_PAUSED },
        { "shut off", DOM_STATE_SHUTOFF },
        { "crashed", DOM_STATE_CRASHED },
    };

    for (size_t i = 0; state && i < ARRAY_SIZE(words); i++) {
        size_t n = strlen(words[i].word);

        if (strncmp(state, words[i].word, n) == 0 && (state[n] == '\0' || state[n] == ' '))
            return words[i].st;
    }
    return DOM_STATE_OTHER;
}

static const struct {
    const char *action;
    const char *effect;
    const char *state;
} on_crash_actions[] = {
    { "destroy", "libvirt powers the guest off", "shut off (crashed)" },
    { "restart", "libvirt resets the guest (same QEMU process) and it boots again",
      "running (crashed)" },
    { "preserve", "the guest stays paused for debugging (destroy or reset it when done)",
      "crashed (panicked)" },
    { "coredump-destroy", "libvirt dumps the guest's memory to auto_dump_path (qemu.conf, "
                          "default /var/lib/libvirt/qemu/dump), then powers it off",
      "shut off (crashed)" },
    { "coredump-restart", "libvirt dumps the guest's memory to auto_dump_path (qemu.conf, "
                          "default /var/lib/libvirt/qemu/dump), then resets it",
      "running (crashed)" },
};

const char *
drill_on_crash_effect(const char *action)
{
    if (!action)
        action = "destroy";
    for (size_t i = 0; i < ARRAY_SIZE(on_crash_actions); i++) {
        if (strcmp(action, on_crash_actions[i].action) == 0)
            return on_crash_actions[i].effect;
    }
    return "an action the QEMU driver does not know";
}

const char *
drill_on_crash_state(const char *action)
{
    if (!action)
        action = "destroy";
    for (size_t i = 0; i < ARRAY_SIZE(on_crash_actions); i++) {
        if (strcmp(action, on_crash_actions[i].action) == 0)
            return on_crash_actions[i].state;
    }
    return NULL;
}

/* ---- /proc/PID/cmdline ---------------------------------------------------- */

char **
drill_split_cmdline(const char *buf, size_t len, int *argc)
{
    char **argv = NULL;
    int n = 0;
    size_t i = 0;

    while (i < len && n < 4096) {
        size_t k = strnlen(buf + i, len - i);

        argv = xreallocarray(argv, (size_t)n + 2, sizeof(*argv));
        argv[n++] = xstrndup(buf + i, k);
        i += k + 1;
    }
    if (!argv)
        argv = xcalloc(1, sizeof(*argv));
    argv[n] = NULL;
    *argc = n;
    return argv;
}

void
drill_free_argv(char **argv)
{
    for (size_t i = 0; argv && argv[i]; i++)
        free(argv[i]);
    free(argv);
}

static const char *
base_name(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash ? slash + 1 : path;
}

/*
 * Long option @name at argv[*i] ("--name VALUE" or "--name=VALUE"): true with
 * *@val (NULL when the value is missing), advancing *@i past a separate value.
 */
static bool
long_opt(int argc, char *const *argv, int *i, const char *name, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);

    if (strncmp(a, name, n) != 0)
        return false;
    if (a[n] == '=') {
        *val = a + n + 1;
        return true;
    }
    if (a[n] != '\0')
        return false;
    *val = *i + 1 < argc ? argv[++*i] : NULL;
    return true;
}

bool
drill_parse_follow_argv(int argc, char *const *argv, struct follow_args *out)
{
    int i;

    memset(out, 0, sizeof(*out));
    if (argc < 2 || strcmp(base_name(argv[0]), "pvpanic-watch") != 0 ||
        strcmp(argv[1], "follow") != 0)
        return false;
    /* getopt_long("+c:nvh"): options until the first operand */
    for (i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;

        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == '\0')
            break;
        if (a[1] == '-') {
            if (long_opt(argc, argv, &i, "--config", &val))
                out->config = val;
            else if (long_opt(argc, argv, &i, "--json", &val))
                out->json = val;
            else if (long_opt(argc, argv, &i, "--state", &val) ||
                     long_opt(argc, argv, &i, "--log", &val))
                continue;
            else if (strcmp(a, "--check") == 0 || strcmp(a, "--help") == 0 ||
                     strcmp(a, "--version") == 0)
                return false;
            continue;
        }
        for (const char *c = a + 1; *c; c++) {
            if (*c == 'n' || *c == 'h' || *c == 'V')
                return false;
            if (*c == 'c') {
                out->config = c[1] ? c + 1 : (i + 1 < argc ? argv[++i] : NULL);
                break;
            }
        }
    }
    out->files = (const char *const *)(argv + i);
    out->nfiles = i < argc ? (size_t)(argc - i) : 0;
    return true;
}

bool
drill_parse_daemon_argv(int argc, char *const *argv, const char **binary, const char **config)
{
    static const char *const daemons[] = { "libvirtd", "virtqemud" };

    *binary = NULL;
    *config = NULL;
    if (argc < 1)
        return false;
    for (size_t k = 0; k < ARRAY_SIZE(daemons); k++) {
        if (strcmp(base_name(argv[0]), daemons[k]) == 0)
            *binary = daemons[k];
    }
    if (!*binary)
        return false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;

        if (strcmp(a, "-f") == 0 || strcmp(a, "-p") == 0 || strcmp(a, "-t") == 0) {
            val = i + 1 < argc ? argv[++i] : NULL;
            if (a[1] == 'f')
                *config = val;
        } else if (strncmp(a, "-f", 2) == 0) {
            *config = a + 2;
        } else if (long_opt(argc, argv, &i, "--config", &val)) {
            *config = val;
        } else if (long_opt(argc, argv, &i, "--pid-file", &val) ||
                   long_opt(argc, argv, &i, "--timeout", &val)) {
            continue;
        }
    }
    return true;
}

char *
drill_uri_socket(const char *uri)
{
    const char *q = uri ? strchr(uri, '?') : NULL;

    while (q && *q) {
        const char *param = q + 1;
        size_t plen = strcspn(param, "&");

        if (plen > 7 && strncmp(param, "socket=", 7) == 0) {
            struct strbuf sb = STRBUF_INIT;

            for (size_t i = 7; i < plen; i++) {
                if (param[i] == '%' && i + 2 < plen && hex_digit_value((unsigned char)param[i + 1]) >= 0 &&
                    hex_digit_value((unsigned char)param[i + 2]) >= 0) {
                    strbuf_addch(&sb, (char)(hex_digit_value((unsigned char)param[i + 1]) * 16 +
                                             hex_digit_value((unsigned char)param[i + 2])));
                    i += 2;
                } else {
                    strbuf_addch(&sb, param[i]);
                }
            }
            return strbuf_detach(&sb, NULL);
        }
        q = param[plen] ? param + plen : NULL;
    }
    return NULL;
}

/* ---- explanations ----------------------------------------------------------- */

static void
explain_linux(const struct drill_guest *g, struct strbuf *out)
{
    strbuf_addstr(out,
                  "- Linux guest: the kernel ignores the NMI unless kernel.unknown_nmi_panic=1 "
                  "(or kernel.panic_on_unrecovered_nmi=1); it only prints \"Uhhuh. NMI received "
                  "for unknown reason\". Fix: sysctl -w kernel.unknown_nmi_panic=1, and keep it in "
                  "/etc/sysctl.d/.\n");
    strbuf_addf(out,
                "- Linux guest: the pvpanic driver is not loaded, so the panic is not reported "
                "to the host. Check: lsmod | grep pvpanic. Fix: modprobe %s and list it in "
                "/etc/modules-load.d/ (kernel config CONFIG_PVPANIC with %s).\n",
                g->has_pci && !g->has_isa ? "pvpanic_pci" : "pvpanic_mmio (pvpanic before Linux 5.13)",
                g->has_pci && !g->has_isa ? "CONFIG_PVPANIC_PCI" : "CONFIG_PVPANIC_MMIO");
    strbuf_addstr(out,
                  "- Linux guest: kdump is loaded without crash_kexec_post_notifiers: the kernel "
                  "starts the crash kernel before the pvpanic notifier runs, so no event is sent "
                  "(with crash_kexec_post_notifiers the event is GUEST_CRASHLOADED). Fix: add "
                  "crash_kexec_post_notifiers to the kernel command line, or echo Y > "
                  "/sys/module/kernel/parameters/crash_kexec_post_notifiers.\n");
}

static void
explain_windows(const struct drill_guest *g, struct strbuf *out)
{
    if (g->has_isa || g->has_pci)
        strbuf_addf(out,
                    "- Windows guest: the pvpanic driver is missing: Device Manager must show "
                    "\"QEMU PVPanic Device\" under System devices. Fix: install it from the "
                    "virtio-win ISO (%s, in virtio-win since the 0.1.103-era builds) or with "
                    "virtio-win-guest-tools.\n",
                    g->has_pci && !g->has_isa ? "pvpanic\\<os>\\amd64\\pvpanic-pci.inf"
                                              : "pvpanic\\<os>\\amd64\\pvpanic.inf");
    strbuf_addstr(out,
                  "- Windows 7 / Server 2008 R2 and older crash on an NMI only with "
                  "HKLM\\SYSTEM\\CurrentControlSet\\Control\\CrashControl\\NMICrashDump = 1 "
                  "(REG_DWORD, then reboot); Windows 8 / Server 2012 and later always stop with "
                  "bugcheck 0x80 NMI_HARDWARE_FAILURE.\n");
    if (g->has_hyperv)
        strbuf_addstr(out,
                      "- <panic model='hyperv'> reports a crash only from a guest that writes the "
                      "Hyper-V crash registers (Windows does, no driver needed).\n");
}

void
drill_explain_no_event(const struct drill_guest *g, const char *state_after, struct strbuf *out)
{
    enum dom_state st = drill_dom_state(state_after);

    if (!g->acpi && g->has_isa)
        strbuf_addstr(out,
                      "- ACPI is off (<features><acpi/> missing): the guest cannot see the ISA "
                      "pvpanic device. Fix: add <acpi/> to <features> (virsh edit), then cold-boot "
                      "the guest.\n");
    if (g->windows_likely && !g->linux_likely) {
        explain_windows(g, out);
        explain_linux(g, out);
    } else {
        explain_linux(g, out);
        explain_windows(g, out);
    }
    if (st == DOM_STATE_CRASHED || st == DOM_STATE_SHUTOFF ||
        (state_after && strstr(state_after, "(crashed)")))
        strbuf_addf(out,
                    "- libvirt shows the guest as '%s', yet the log has no panic event: the "
                    "daemon log does not record it (log_filters or log_outputs changed, or "
                    "libvirt logs to another file).\n", state_after);
    else if (state_after)
        strbuf_addf(out, "- libvirt still shows the guest as '%s'.\n", state_after);
}
