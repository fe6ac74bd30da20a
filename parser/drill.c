#include <config.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "detect.h"
#include "domxml.h"
#include "drill.h"
#include "drillcheck.h"
#include "event.h"
#include "fileutil.h"
#include "follow.h"
#include "log.h"
#include "runcmd.h"
#include "sink.h"
#include "strbuf.h"
#include "watchconf.h"
#include "xalloc.h"

/* One virsh call (dumpxml, domstate, inject-nmi) may take this long. */
#define DRILL_VIRSH_TIMEOUT_MS 30000u
/* Log read backwards at most this far for the domain's start (bounded time on huge logs). */
#define DRILL_MAX_BACK ((uint64_t)1 << 30)
/* Read size when scanning and following. */
#define DRILL_CHUNK ((size_t)4 << 20)
/* History fed to the detector from the domain's start; the rest up to the NMI is skipped. */
#define DRILL_MAX_HISTORY ((uint64_t)64 << 20)
/* Poll period while waiting for the event. */
#define DRILL_POLL_MS 20
/* After the event: how long to wait for libvirt's state and for the watcher's alert. */
#define DRILL_AFTER_MS 5000
/* The json sink output of a watcher searched for the event id (its tail). */
#define DRILL_ALERT_SCAN_BYTES ((size_t)4 << 20)
/* Lines longer than this are not looked at for the NMI (SEND_MSG lines are short). */
#define DRILL_SEND_LINE_MAX ((size_t)64 << 10)
#define DRILL_SNIPPET PKGDATADIR "/libvirtd-logging.conf"
#define DRILL_RECOMMENDED_FILTERS "1:qemu.qemu_process 2:qemu 3:*"

enum check_status { CHECK_OK, CHECK_INFO, CHECK_WARN, CHECK_BROKEN, CHECK_SKIPPED };

static const char *const check_status_names[] = {
    [CHECK_OK] = "ok", [CHECK_INFO] = "info", [CHECK_WARN] = "warn",
    [CHECK_BROKEN] = "broken", [CHECK_SKIPPED] = "skipped",
};

enum { CK_DOMAIN, CK_PANIC, CK_ON_CRASH, CK_LOG, CK_WATCHER, CK_COUNT };

struct check {
    const char *key;            /* JSON name */
    const char *title;          /* human column */
    enum check_status status;
    char *summary;
    char *fix;
};

struct drill_opts {
    const char *connect;
    unsigned int timeout_s;
    bool yes;
    bool json;
    bool dry_run;
    const char *log;
    const char *domain;
};

/* A `pvpanic-watch follow` process that reads the drill's log. */
struct watcher {
    long pid;
    struct sinkset *ss;         /* its json sinks that write to files (for the alert check) */
    unsigned int json_files;
};

struct drill {
    struct drill_opts o;
    struct check ck[CK_COUNT];
    /* the domain */
    char *name;                 /* from its XML */
    size_t name_len;
    char *uuid;
    const char *target;         /* what virsh is given: the UUID when known */
    char *state_before;
    char *state_after;
    char *on_crash;
    struct drill_guest guest;
    /* the log */
    char *log_path;
    char *log_source;           /* where the path came from */
    char *daemon_conf;
    struct log_plan plan;
    bool plan_known;
    int64_t marker;             /* start of the domain's monitor lifetime in the log, -1 unknown */
    bool content_scanned;
    bool content_monitor_lines;
    uint64_t scanned_bytes;
    /* watchers */
    unsigned int followers;     /* pvpanic-watch follow processes seen */
    struct watcher w;           /* the first one on our log (w.pid 0: none) */
    /* the NMI */
    bool injected;
    const char *inject_method;
    char *inject_note;
    int64_t nmi_ms;             /* wall clock just before the injecting virsh ran */
    int64_t nmi_done_ms;
    /* the wait */
    struct detect *det;
    int src;
    uint64_t read_from;
    uint64_t lines_from;        /* byte offset of what the event's "line" counts from */
    uint64_t armed_from;        /* events from records at/after this offset count */
    bool send_seen;
    bool send_ambiguous;
    uint64_t send_mon;
    int64_t send_ms;
    struct strbuf partial;      /* the incomplete last line, for the NMI scan */
    bool partial_overflow;
    struct pv_event *ev;
    bool ev_by_monitor;         /* matched by the monitor the NMI went to, not by name */
    int64_t ev_seen_ms;
    unsigned int other_events;
    /* results */
    bool have_delay;
    int64_t delay_ms;
    const char *delay_from;
    const char *alerted;        /* "yes", "no", "unknown" */
    char *alert_note;
    const char *result;
    char *error;
    struct strbuf explanation;
    int exit;
};

static int64_t
wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(unsigned int ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ---- text helpers ------------------------------------------------------- */

/* Bytes a terminal shows literally: control bytes and invalid UTF-8 as \xNN. */
static void
add_safe(struct strbuf *sb, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;

    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq_len(p + i, len - i);

        if (n == 0 || p[i] < 0x20 || p[i] == 0x7f || (n == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0)) {
            strbuf_addf(sb, "\\x%02x", p[i]);
            i++;
            continue;
        }
        strbuf_add(sb, p + i, n);
        i += n;
    }
}

/*
 * @s as one shell word for a command the operator may copy: 'single quoted'
 * when needed ("--" is added by the callers before names that start with '-').
 */
static void
add_shell_word(struct strbuf *sb, const char *s)
{
    bool plain = *s != '\0';

    for (const char *p = s; *p && plain; p++)
        plain = isalnum((unsigned char)*p) || strchr("-_.:/@%+=,", *p);
    if (plain) {
        strbuf_addstr(sb, s);
        return;
    }
    strbuf_addch(sb, '\'');
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            strbuf_addstr(sb, "'\\''");
        else
            add_safe(sb, p, 1);
    }
    strbuf_addch(sb, '\'');
}

/* "virsh [-c URI] CMD [--] NAME" as the operator would type it. */
static char *
virsh_cmdline(const struct drill *d, const char *cmd)
{
    struct strbuf sb = STRBUF_INIT;

    strbuf_addstr(&sb, "virsh ");
    if (d->o.connect) {
        strbuf_addstr(&sb, "-c ");
        add_shell_word(&sb, d->o.connect);
        strbuf_addch(&sb, ' ');
    }
    strbuf_addf(&sb, "%s ", cmd);
    if (d->name[0] == '-')
        strbuf_addstr(&sb, "-- ");
    add_shell_word(&sb, d->name);
    return strbuf_detach(&sb, NULL);
}

static void
check_set(struct check *c, enum check_status st, char *summary, char *fix)
{
    free(c->summary);
    free(c->fix);
    c->status = st;
    c->summary = summary;
    c->fix = fix;
}

/* ---- virsh ---------------------------------------------------------------- */

/* virsh [-c URI] ARGS... (NULL-terminated). 0 if it ran, -errno if it could not start. */
static int __attribute__((sentinel))
virsh(const struct drill *d, struct cmd_result *res, ...)
{
    va_list ap;
    int rc;

    va_start(ap, res);
    rc = run_virshv(d->o.connect, DRILL_VIRSH_TIMEOUT_MS, res, ap);
    va_end(ap);
    return rc;
}

/* virsh's "error: ..." lines joined into one printable line (new string). */
static char *
virsh_error(int rc, const struct cmd_result *res)
{
    struct strbuf sb = STRBUF_INIT;
    const char *p;

    if (rc < 0)
        return xasprintf("cannot run virsh: %s", strerror(-rc));
    if (res->timed_out)
        return xasprintf("virsh did not answer within %u s", DRILL_VIRSH_TIMEOUT_MS / 1000);
    for (p = res->err ? res->err : ""; *p;) {
        size_t len = strcspn(p, "\n");
        const char *line = p;

        p += len + (p[len] == '\n');
        if (strncmp(line, "error: ", 7) == 0) {
            line += 7;
            len -= 7;
        }
        if (len == 0)
            continue;
        if (sb.len)
            strbuf_addstr(&sb, "; ");
        add_safe(&sb, line, len);
    }
    if (sb.len == 0)
        strbuf_addf(&sb, "exit status %d", res->status);
    return strbuf_detach(&sb, NULL);
}

static bool
virsh_ok(int rc, const struct cmd_result *res)
{
    return rc == 0 && !res->timed_out && res->status == 0;
}

/* libvirt's "no such domain" (VIR_ERR_NO_DOMAIN), as virsh prints it in LC_ALL=C. */
static bool
no_such_domain(const struct cmd_result *res)
{
    return res->err && (strstr(res->err, "failed to get domain") ||
                        strstr(res->err, "Domain not found") ||
                        strstr(res->err, "no domain with matching"));
}

static char *
domstate(const struct drill *d)
{
    struct cmd_result res;
    int rc = virsh(d, &res, "domstate", "--reason", "--", d->target, NULL);
    char *state = virsh_ok(rc, &res) ? drill_first_line(res.out) : NULL;

    cmd_result_release(&res);
    return state;
}

/* ---- (a)-(c): the domain, its panic device, on_crash ------------------------ */

static void
describe_models(const struct domxml *x, struct strbuf *sb)
{
    for (int m = PANIC_MODEL_DEFAULT; m < PANIC_MODEL_LAST; m++) {
        if (!domxml_has_panic_model(x, (enum panic_model)m))
            continue;
        if (sb->len)
            strbuf_addstr(sb, ", ");
        if (m == PANIC_MODEL_DEFAULT)
            strbuf_addstr(sb, "<panic> (no model)");
        else
            strbuf_addf(sb, "<panic model='%s'>", panic_model_to_string((enum panic_model)m));
    }
    if (sb->len == 0 && domxml_panic_count(x) > 0)
        strbuf_addstr(sb, "<panic> of a model this version does not know");
}

/* Does the persistent definition have a usable device the running guest lacks? */
static bool
inactive_has_panic(const struct drill *d)
{
    struct cmd_result res;
    AUTOPTR(domxml) x = NULL;
    AUTOFREE char *err = NULL;
    int rc = virsh(d, &res, "dumpxml", "--inactive", "--", d->target, NULL);
    bool has = false;

    if (virsh_ok(rc, &res) && domxml_parse(res.out, res.out_len, &x, &err) == 0)
        has = domxml_has_usable_panic(x);
    cmd_result_release(&res);
    return has;
}

static const char *const linux_osinfo[] = {
    "fedoraproject.org", "debian.org", "ubuntu.com", "redhat.com/rhel", "centos.org",
    "opensuse.org", "suse.com", "archlinux.org", "alpinelinux.org", "almalinux.org",
    "rockylinux.org", "oracle.com/ol", "gentoo.org", "linux",
};

static void
guess_guest(struct drill *d, const struct domxml *x)
{
    const char *text = domxml_text(x, NULL);
    const char *osinfo = strstr(text, "libosinfo.org/xmlns/libvirt/domain");

    d->guest.windows_likely = domxml_has_feature(x, "hyperv") ||
                              domxml_has_panic_model(x, PANIC_MODEL_HYPERV) ||
                              (osinfo && strstr(text, "microsoft.com/win"));
    /* direct kernel boot is a Linux habit; so are these libosinfo ids */
    d->guest.linux_likely = strstr(text, "<kernel>") != NULL;
    for (size_t i = 0; osinfo && i < ARRAY_SIZE(linux_osinfo); i++)
        d->guest.linux_likely = d->guest.linux_likely || strstr(osinfo, linux_osinfo[i]);
}

static void
check_panic_device(struct drill *d, const struct domxml *x, bool running)
{
    struct check *c = &d->ck[CK_PANIC];
    struct strbuf models = STRBUF_INIT;
    enum panic_model automodel = PANIC_MODEL_LAST;
    AUTOFREE char *why = NULL;
    AUTOFREE char *enable = NULL;
    bool isa_like;
    bool other_usable = false;
    const char *arch = domxml_arch(x) ? domxml_arch(x) : "unknown arch";

    describe_models(x, &models);
    d->guest.acpi = domxml_has_feature(x, "acpi");
    if (domxml_auto_model(x, &automodel, &why) < 0)
        automodel = PANIC_MODEL_LAST;
    /* a <panic> without model is ISA where ISA is the default (x86) */
    isa_like = domxml_has_panic_model(x, PANIC_MODEL_ISA) ||
               (domxml_has_panic_model(x, PANIC_MODEL_DEFAULT) && automodel == PANIC_MODEL_ISA);
    d->guest.has_isa = isa_like;
    d->guest.has_hyperv = domxml_has_panic_model(x, PANIC_MODEL_HYPERV);
    d->guest.has_pci = domxml_has_panic_model(x, PANIC_MODEL_PVPANIC);
    for (int m = PANIC_MODEL_DEFAULT; m < PANIC_MODEL_LAST; m++) {
        if (m == PANIC_MODEL_ISA || (m == PANIC_MODEL_DEFAULT && automodel == PANIC_MODEL_ISA))
            continue;
        if (domxml_has_panic_model(x, (enum panic_model)m) &&
            domxml_model_fits(x, (enum panic_model)m, NULL))
            other_usable = true;
    }
    {
        struct strbuf sb = STRBUF_INIT;

        strbuf_addstr(&sb, "pvpanic-hook enable ");
        if (d->o.connect) {
            strbuf_addstr(&sb, "--connect ");
            add_shell_word(&sb, d->o.connect);
            strbuf_addch(&sb, ' ');
        }
        if (d->name[0] == '-')
            strbuf_addstr(&sb, "-- ");
        add_shell_word(&sb, d->name);
        enable = strbuf_detach(&sb, NULL);
    }

    if (domxml_panic_count(x) == 0) {
        bool persistent = running && inactive_has_panic(d);

        check_set(c, CHECK_BROKEN,
                  xasprintf("no <panic> device in the %s definition", running ? "live" : "domain"),
                  persistent
                      ? xstrdup("the persistent definition has one but the running guest was not "
                                "cold-booted since: shut it down and start it again (a reboot "
                                "keeps the old device set)")
                      : xasprintf("add one: %s, then cold-boot the guest (shut it down and start "
                                  "it; a reboot keeps the old device set)", enable));
    } else if (!domxml_has_usable_panic(x)) {
        AUTOFREE char *fit = NULL;

        for (int m = PANIC_MODEL_DEFAULT; m < PANIC_MODEL_LAST && !fit; m++) {
            if (domxml_has_panic_model(x, (enum panic_model)m))
                domxml_model_fits(x, (enum panic_model)m, &fit);
        }
        check_set(c, CHECK_BROKEN,
                  xasprintf("%s does not fit this guest (%s)", models.buf,
                            fit ? fit : arch),
                  xasprintf("%s adds a model that fits, then cold-boot the guest", enable));
    } else if (isa_like && !d->guest.acpi && !other_usable) {
        check_set(c, CHECK_BROKEN,
                  xasprintf("%s but no <features><acpi/>: libvirt passes -no-acpi and the guest "
                            "cannot see the ISA device (its only description is ACPI QEMU0001)",
                            models.buf),
                  xstrdup("add <acpi/> under <features> (virsh edit), then cold-boot the guest"));
    } else if (isa_like && !d->guest.acpi) {
        check_set(c, CHECK_WARN,
                  xasprintf("%s; without <features><acpi/> the ISA device is invisible, the "
                            "other model must carry the crash", models.buf),
                  xstrdup("add <acpi/> under <features> (virsh edit), then cold-boot the guest"));
    } else {
        check_set(c, CHECK_OK,
                  xasprintf("%s fits %s%s", models.buf, arch,
                            isa_like ? ", ACPI on" : ""), NULL);
    }
    strbuf_release(&models);
}

static void
check_on_crash(struct drill *d, const struct domxml *x)
{
    const char *action = domxml_on_crash(x);
    const char *state = drill_on_crash_state(action);

    free(d->on_crash);
    d->on_crash = xstrdup(action ? action : "destroy");
    check_set(&d->ck[CK_ON_CRASH], state ? CHECK_INFO : CHECK_WARN,
              xasprintf("%s%s: %s%s%s%s", d->on_crash, action ? "" : " (the default)",
                        drill_on_crash_effect(action), state ? "; libvirt then shows '" : "",
                        state ? state : "", state ? "'" : ""),
              state ? NULL : xstrdup("set <on_crash> to destroy, restart, preserve, "
                                     "coredump-destroy or coredump-restart"));
}

/* Returns false when libvirt cannot be asked at all (d->error set). */
static bool
check_domain(struct drill *d)
{
    struct check *c = &d->ck[CK_DOMAIN];
    struct cmd_result res;
    AUTOPTR(domxml) x = NULL;
    AUTOFREE char *err = NULL;
    int rc;
    enum dom_state st;

    rc = virsh(d, &res, "dumpxml", "--", d->o.domain, NULL);
    if (!virsh_ok(rc, &res)) {
        AUTOFREE char *msg = virsh_error(rc, &res);
        bool missing = rc == 0 && !res.timed_out && no_such_domain(&res);

        cmd_result_release(&res);
        if (!missing) {
            d->error = xasprintf("cannot ask libvirt about the domain: %s", msg);
            return false;
        }
        check_set(c, CHECK_BROKEN, xasprintf("no such domain: %s", msg),
                  xstrdup("check the name (virsh list --all) and --connect"));
        for (int i = CK_PANIC; i <= CK_ON_CRASH; i++)
            check_set(&d->ck[i], CHECK_SKIPPED, xstrdup("no domain"), NULL);
        return true;
    }
    if (domxml_parse(res.out, res.out_len, &x, &err) < 0) {
        d->error = xasprintf("virsh dumpxml gave XML this tool cannot read: %s", err);
        cmd_result_release(&res);
        return false;
    }
    cmd_result_release(&res);
    d->name = xstrdup(domxml_name(x) ? domxml_name(x) : d->o.domain);
    d->name_len = strlen(d->name);
    d->uuid = domxml_uuid(x) ? xstrdup(domxml_uuid(x)) : NULL;
    /* by UUID from now on: a name that looks like an ID or UUID cannot select another guest */
    d->target = d->uuid ? d->uuid : d->name;

    d->state_before = domstate(d);
    st = drill_dom_state(d->state_before);
    if (!d->state_before) {
        check_set(c, CHECK_BROKEN, xstrdup("virsh domstate failed"), NULL);
    } else if (st == DOM_STATE_RUNNING) {
        check_set(c, CHECK_OK, xstrdup(d->state_before), NULL);
    } else {
        const char *how = st == DOM_STATE_PAUSED ? "resume" : "start";
        AUTOFREE char *cmd = NULL;

        cmd = virsh_cmdline(d, st == DOM_STATE_CRASHED ? "destroy" : how);
        check_set(c, CHECK_BROKEN,
                  xasprintf("%s: an NMI needs a running guest", d->state_before),
                  st == DOM_STATE_CRASHED
                      ? xasprintf("%s, then start it again", cmd)
                      : xasprintf("%s it: %s", how, cmd));
    }
    guess_guest(d, x);
    check_panic_device(d, x, st == DOM_STATE_RUNNING);
    check_on_crash(d, x);
    return true;
}

/* ---- (d): the daemon log ----------------------------------------------------- */

static char *
read_small_file(const char *path, size_t cap)
{
    char *buf = NULL;
    size_t len = 0;

    if (read_file_capped(path, cap, &buf, &len) < 0)
        return NULL;
    return buf;
}

struct daemon_found {
    const char *binary;
    char *conf;                 /* absolute path of its config */
    bool socket_match;
};

/*
 * The config of the libvirt daemon the drill talks to: from the running
 * libvirtd/virtqemud processes (-f CONFIG, else /etc/libvirt/NAME.conf),
 * preferring the one whose unix_sock_dir holds the socket of --connect.
 */
static bool
find_daemon(const struct drill *d, struct daemon_found *out)
{
    AUTOFREE char *sock = drill_uri_socket(d->o.connect);
    DIR *proc = opendir("/proc");
    struct dirent *de;
    bool found = false;

    memset(out, 0, sizeof(*out));
    if (!proc)
        return false;
    while ((de = readdir(proc))) {
        AUTOFREE char *path = NULL;
        AUTOFREE char *cmdline = NULL;
        AUTOFREE char *cwd = NULL;
        AUTOFREE char *conf = NULL;
        AUTOFREE char *text = NULL;
        char **argv;
        int argc = 0;
        size_t len = 0;
        const char *binary;
        const char *cfg;
        bool match = false;

        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        path = xasprintf("/proc/%s/cmdline", de->d_name);
        if (read_file_capped(path, 65536, &cmdline, &len) < 0 || len == 0)
            continue;
        argv = drill_split_cmdline(cmdline, len, &argc);
        if (!drill_parse_daemon_argv(argc, argv, &binary, &cfg)) {
            drill_free_argv(argv);
            continue;
        }
        if (cfg && cfg[0] != '/') {
            char buf[PATH_MAX];
            AUTOFREE char *link = xasprintf("/proc/%s/cwd", de->d_name);
            ssize_t n = readlink(link, buf, sizeof(buf) - 1);

            if (n > 0) {
                buf[n] = '\0';
                conf = xasprintf("%s/%s", buf, cfg);
            }
        } else {
            conf = cfg ? xstrdup(cfg) : xasprintf(SYSCONFDIR "/libvirt/%s.conf", binary);
        }
        drill_free_argv(argv);
        if (!conf)
            continue;
        if (sock && (text = read_small_file(conf, 1 << 20))) {
            struct lvconf lc;
            AUTOFREE char *dir = NULL;
            const char *slash = strrchr(sock, '/');

            lvconf_parse(text, strlen(text), &lc);
            dir = slash ? xstrndup(sock, (size_t)(slash - sock)) : xstrdup(".");
            match = lc.unix_sock_dir ? strcmp(lc.unix_sock_dir, dir) == 0
                                     : strncmp(sock, "/run/libvirt/", 13) == 0 ||
                                           strncmp(sock, "/var/run/libvirt/", 17) == 0;
            lvconf_clear(&lc);
        }
        if (!found || (match && !out->socket_match)) {
            free(out->conf);
            out->binary = binary;
            out->conf = steal_pointer(&conf);
            out->socket_match = match;
            found = true;
        }
        (void)cwd;
    }
    closedir(proc);
    return found;
}

/*
 * Scan the log backwards from @size for the domain's start marker (bounded
 * by DRILL_MAX_BACK) and note whether monitor lines are there at all.
 */
static void
scan_log_backwards(struct drill *d, int fd, uint64_t size)
{
    AUTOFREE char *buf = xmalloc(DRILL_CHUNK);
    uint64_t end = size;

    d->marker = -1;
    d->content_scanned = size > 0;
    while (end > 0 && size - end < DRILL_MAX_BACK) {
        uint64_t start = end > DRILL_CHUNK ? end - DRILL_CHUNK : 0;
        size_t len = (size_t)(end - start);
        ssize_t n = pread(fd, buf, len, (off_t)start);
        const char *nl;
        int64_t m;

        if (n != (ssize_t)len)
            break;
        d->scanned_bytes += len;
        if (!d->content_monitor_lines && memmem(buf, len, "QEMU_MONITOR_", 13))
            d->content_monitor_lines = true;
        m = drill_last_start_marker(buf, len, start == 0, d->name, d->name_len);
        if (m >= 0) {
            d->marker = (int64_t)start + m;
            return;
        }
        if (start == 0)
            return;
        /* the line cut at the window start is read whole with the next window */
        nl = memchr(buf, '\n', len);
        end = nl ? start + (uint64_t)(nl - buf) + 1 : start;
    }
}

static bool
same_file(const char *a, const char *b)
{
    struct stat sa, sb;

    if (strcmp(a, b) == 0)
        return true;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static const char *
default_log_for(const char *binary)
{
    return strcmp(binary, "virtqemud") == 0 ? "/var/log/libvirt/virtqemud.log"
                                             : "/var/log/libvirt/libvirtd.log";
}

static void
check_log(struct drill *d)
{
    struct check *c = &d->ck[CK_LOG];
    struct daemon_found df;
    struct strbuf sb = STRBUF_INIT;
    AUTOCLOSE int fd = -1;
    struct stat st;
    bool journald = access("/run/systemd/journal/socket", W_OK) == 0;
    const char *binary = "libvirtd";
    enum { NO, YES, UNKNOWN } conf_says = UNKNOWN;
    AUTOFREE char *fix = NULL;

    if (find_daemon(d, &df)) {
        AUTOFREE char *text = read_small_file(df.conf, 1 << 20);

        binary = df.binary;
        d->daemon_conf = steal_pointer(&df.conf);
        if (text) {
            struct lvconf lc;

            lvconf_parse(text, strlen(text), &lc);
            lvlog_plan(&lc, binary, journald, &d->plan);
            d->plan_known = true;
            lvconf_clear(&lc);
        }
    }
    if (d->o.log) {
        d->log_path = xstrdup(d->o.log);
        d->log_source = xstrdup("--log");
    } else if (d->plan_known && d->plan.file) {
        d->log_path = xstrdup(d->plan.file);
        d->log_source = xasprintf("log_outputs of %s", d->daemon_conf);
    } else if (!d->plan_known) {
        static const char *const guesses[] = { "/var/log/libvirt/virtqemud.log",
                                               "/var/log/libvirt/libvirtd.log" };

        d->log_path = xstrdup(default_log_for(binary));
        for (size_t i = 0; i < ARRAY_SIZE(guesses) && access(d->log_path, R_OK) != 0; i++) {
            free(d->log_path);
            d->log_path = xstrdup(guesses[i]);
        }
        d->log_source = xstrdup(d->daemon_conf ? "default (daemon config unreadable)"
                                               : "default (no running libvirtd/virtqemud found)");
    }
    /* the config speaks for the file it writes, not for one given with --log */
    if (d->plan_known && (!d->o.log || (d->plan.file && same_file(d->plan.file, d->log_path))))
        conf_says = d->plan.records_events ? YES : NO;

    if (!d->log_path) {
        check_set(c, CHECK_BROKEN,
                  xasprintf("%s logs to %s only: no file to read panic events from",
                            d->daemon_conf, d->plan.default_output ? "journald (the default)"
                                                                   : "journald/syslog/stderr"),
                  xasprintf("add a file output: log_outputs=\"1:file:%s\" and "
                            "log_filters=\"%s\" in %s, restart the daemon (see %s)",
                            default_log_for(binary), DRILL_RECOMMENDED_FILTERS, d->daemon_conf,
                            DRILL_SNIPPET));
        return;
    }
    fd = open(d->log_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        int err = fd < 0 ? errno : EINVAL;

        check_set(c, CHECK_BROKEN,
                  xasprintf("cannot read %s (%s; from %s)", d->log_path,
                            fd < 0 ? strerror(err) : "not a regular file", d->log_source),
                  xasprintf("make libvirt log to a file: log_outputs=\"1:file:%s\" and "
                            "log_filters=\"%s\" in %s, or give --log FILE",
                            d->log_path, DRILL_RECOMMENDED_FILTERS,
                            d->daemon_conf ? d->daemon_conf : "libvirtd.conf/virtqemud.conf"));
        return;
    }
    if (d->name)
        scan_log_backwards(d, fd, (uint64_t)st.st_size);

    add_safe(&sb, d->log_path, strlen(d->log_path));
    if (conf_says != UNKNOWN)
        strbuf_addf(&sb, " (config %s: %s)", d->daemon_conf,
                    !d->plan.records_events ? "log_filters/log_outputs too low for panic events"
                    : d->plan.records_names ? "records panic events and domain names"
                                            : "records panic events, not the 'Connect monitor' "
                                              "lines that name domains");
    else
        strbuf_addf(&sb, " (%s)", d->log_source);
    if (d->content_scanned)
        strbuf_addf(&sb, "; %s in the last %" PRIu64 " MB read",
                    d->content_monitor_lines ? "QEMU_MONITOR_ lines present"
                                             : "not one QEMU_MONITOR_ line",
                    (d->scanned_bytes + (1 << 20) - 1) >> 20);
    else
        strbuf_addstr(&sb, "; the log is empty");

    fix = xasprintf("set log_filters=\"%s\" (and a file: log_outputs) in %s, restart the daemon "
                    "(see %s)", DRILL_RECOMMENDED_FILTERS,
                    d->daemon_conf ? d->daemon_conf : "libvirtd.conf or virtqemud.conf",
                    DRILL_SNIPPET);
    if (conf_says == NO && !d->content_monitor_lines) {
        check_set(c, CHECK_BROKEN, strbuf_detach(&sb, NULL), steal_pointer(&fix));
    } else if (conf_says == UNKNOWN && d->content_scanned && !d->content_monitor_lines) {
        check_set(c, CHECK_BROKEN, strbuf_detach(&sb, NULL), steal_pointer(&fix));
    } else if (conf_says == NO) {
        strbuf_addstr(&sb, "; the config says otherwise (filters changed at run time with virt-admin?)");
        check_set(c, CHECK_WARN, strbuf_detach(&sb, NULL), steal_pointer(&fix));
    } else if (d->content_scanned && !d->content_monitor_lines) {
        strbuf_addstr(&sb, " (daemon not restarted since log_filters changed?)");
        check_set(c, CHECK_WARN, strbuf_detach(&sb, NULL), steal_pointer(&fix));
    } else if (!d->content_scanned && conf_says == UNKNOWN) {
        check_set(c, CHECK_WARN, strbuf_detach(&sb, NULL), steal_pointer(&fix));
    } else {
        check_set(c, CHECK_OK, strbuf_detach(&sb, NULL), NULL);
    }
}

/* ---- (e): is a watcher following the log? -------------------------------------- */

static const char *const follow_default_files[] = {
    "/var/log/libvirt/libvirtd.log", "/var/log/libvirt/virtqemud.log",
    "/var/log/libvirt/qemu/*.log",
};

static char *
absolute(const char *cwd, const char *path)
{
    if (path[0] == '/' || !cwd)
        return xstrdup(path);
    return xasprintf("%s/%s", cwd, path);
}

static bool
pattern_covers(const char *pattern, const char *path, const char *real)
{
    char buf[PATH_MAX];

    if (fnmatch(pattern, path, FNM_PATHNAME) == 0 || (real && fnmatch(pattern, real, FNM_PATHNAME) == 0))
        return true;
    return real && realpath(pattern, buf) && strcmp(buf, real) == 0;
}

struct follower_conf {
    struct follow_conf fc;
    unsigned int json_files;    /* [sink json] sections with a path other than "-" */
};

/* follow_conf_entry(), counting the json sinks that write files on the way. */
static int
follower_conf_entry(const struct conf_entry *e, void *opaque, char **errmsg)
{
    struct follower_conf *c = opaque;

    if (e->key && e->section && strcmp(e->section, "sink") == 0 && e->label &&
        strcmp(e->label, "json") == 0 && strcmp(e->key, "path") == 0 && strcmp(e->value, "-") != 0)
        c->json_files++;
    return follow_conf_entry(e, &c->fc, errmsg);
}

/* Does the follower with @fa (its cwd @cwd) read @log? Then @w gets its json sinks. */
static bool
follower_reads(const struct follow_args *fa, const char *cwd, const char *log, const char *real,
               struct watcher *w)
{
    struct watchconf *wc = watchconf_new();
    struct sinkset *ss = sinkset_new();
    struct follower_conf c = { .json_files = 0 };
    AUTOFREE char *config = fa->config ? absolute(cwd, fa->config) : xstrdup(WATCHCONF_DEFAULT_PATH);
    bool covers = false;

    follow_conf_init(&c.fc, ss);
    if (access(config, R_OK) == 0) {
        /* someone else's config: its problems are reported by its daemon, not here */
        int dest = log_get_dest();

        log_set_dest(0);
        watchconf_load_file(wc, config, false, follower_conf_entry, &c);
        log_set_dest(dest);
    }
    if (fa->json && strcmp(fa->json, "-") != 0) {
        AUTOFREE char *json = absolute(cwd, fa->json);

        sinkset_add_json(ss, json);
        c.json_files++;
    }
    if (fa->nfiles > 0) {
        for (size_t i = 0; i < fa->nfiles && !covers; i++) {
            AUTOFREE char *p = absolute(cwd, fa->files[i]);

            covers = pattern_covers(p, log, real);
        }
    } else if (wc->nfiles > 0) {
        for (size_t i = 0; i < wc->nfiles && !covers; i++) {
            AUTOFREE char *p = absolute(cwd, wc->files[i]);

            covers = pattern_covers(p, log, real);
        }
    } else {
        for (size_t i = 0; i < ARRAY_SIZE(follow_default_files) && !covers; i++)
            covers = pattern_covers(follow_default_files[i], log, real);
    }
    if (covers) {
        w->ss = steal_pointer(&ss);
        w->json_files = c.json_files;
    }
    follow_conf_clear(&c.fc);
    watchconf_free(wc);
    sinkset_free(ss);
    return covers;
}

static void
check_watcher(struct drill *d)
{
    struct check *c = &d->ck[CK_WATCHER];
    DIR *proc;
    struct dirent *de;
    char real[PATH_MAX];
    bool have_real;
    AUTOFREE char *shown = NULL;

    if (!d->log_path) {
        check_set(c, CHECK_SKIPPED, xstrdup("no daemon log"), NULL);
        return;
    }
    have_real = realpath(d->log_path, real) != NULL;
    {
        struct strbuf sb = STRBUF_INIT;

        add_safe(&sb, d->log_path, strlen(d->log_path));
        shown = strbuf_detach(&sb, NULL);
    }
    proc = opendir("/proc");
    while (proc && (de = readdir(proc))) {
        AUTOFREE char *path = NULL;
        AUTOFREE char *cmdline = NULL;
        char **argv;
        int argc = 0;
        size_t len = 0;
        struct follow_args fa;
        char cwd[PATH_MAX];
        ssize_t n;

        if (!isdigit((unsigned char)de->d_name[0]) || atol(de->d_name) == (long)getpid())
            continue;
        path = xasprintf("/proc/%s/cmdline", de->d_name);
        if (read_file_capped(path, 65536, &cmdline, &len) < 0 || len == 0)
            continue;
        argv = drill_split_cmdline(cmdline, len, &argc);
        if (drill_parse_follow_argv(argc, argv, &fa)) {
            AUTOFREE char *link = xasprintf("/proc/%s/cwd", de->d_name);

            d->followers++;
            n = readlink(link, cwd, sizeof(cwd) - 1);
            if (n > 0)
                cwd[n] = '\0';
            if (!d->w.pid && follower_reads(&fa, n > 0 ? cwd : NULL, d->log_path,
                                            have_real ? real : NULL, &d->w))
                d->w.pid = atol(de->d_name);
        }
        drill_free_argv(argv);
    }
    if (proc)
        closedir(proc);

    if (d->w.pid) {
        check_set(c, CHECK_OK,
                  xasprintf("pvpanic-watch follow (pid %ld) reads %s%s", d->w.pid, shown,
                            d->w.json_files ? "" : "; it has no json sink file, so whether it "
                                                   "alerts cannot be seen from here"),
                  NULL);
    } else {
        check_set(c, CHECK_WARN,
                  d->followers
                      ? xasprintf("%u pvpanic-watch follow process(es), none reads %s: a crash "
                                  "would not alert; the drill follows the log itself",
                                  d->followers, shown)
                      : xasprintf("no pvpanic-watch follow is running: a crash would not alert; "
                                  "the drill follows %s itself", shown),
                  xasprintf("start the daemon (systemctl enable --now pvpanic-watch) with this log "
                            "in 'file =' of %s (the default covers /var/log/libvirt)",
                            WATCHCONF_DEFAULT_PATH));
    }
}

/* ---- the NMI and the wait ---------------------------------------------------- */

static void
on_event(const struct pv_event *ev, void *opaque)
{
    struct drill *d = opaque;
    bool ours;
    bool by_monitor;

    if (ev->offset < d->armed_from || (ev->type != PV_EVENT_PANIC && ev->type != PV_EVENT_CRASHLOADED))
        return;
    ours = ev->domain && ev->domain_len == d->name_len && memcmp(ev->domain, d->name, d->name_len) == 0;
    /* an event the log cannot name, on the monitor libvirt sent our NMI to */
    by_monitor = !ev->domain && d->send_seen && !d->send_ambiguous && ev->monitor == d->send_mon;
    if (!ours && !by_monitor) {
        d->other_events++;
        return;
    }
    if (d->ev)
        return;
    d->ev = pv_event_dup(ev);
    d->ev_by_monitor = by_monitor;
    d->ev_seen_ms = wall_ms();
}

static void
scan_line_for_send(struct drill *d, const char *line, size_t len)
{
    uint64_t mon;
    int64_t t;

    if (!drill_parse_nmi_send(line, len, &mon, &t))
        return;
    if (d->send_seen && mon != d->send_mon) {
        d->send_ambiguous = true;   /* someone else injected an NMI meanwhile */
        return;
    }
    if (!d->send_seen) {
        d->send_seen = true;
        d->send_mon = mon;
        d->send_ms = t;
    }
}

/* The new bytes: whole lines to the NMI scan, everything to the detector. */
static void
feed_new(struct drill *d, const char *buf, size_t len)
{
    const char *p = buf;
    const char *end = buf + len;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);

        if (!d->partial_overflow) {
            if (d->partial.len + n > DRILL_SEND_LINE_MAX) {
                d->partial_overflow = true;
                strbuf_reset(&d->partial);
            } else {
                strbuf_add(&d->partial, p, n);
            }
        }
        if (!nl)
            break;
        if (!d->partial_overflow)
            scan_line_for_send(d, d->partial.buf ? d->partial.buf : "", d->partial.len);
        strbuf_reset(&d->partial);
        d->partial_overflow = false;
        p = nl + 1;
    }
    detect_feed(d->det, d->src, buf, len);
}

/* Feed [from, to) of @fd to the detector (history: no NMI scan). */
static int
feed_range(struct drill *d, int fd, uint64_t from, uint64_t to, char *buf)
{
    while (from < to) {
        size_t want = to - from < DRILL_CHUNK ? (size_t)(to - from) : DRILL_CHUNK;
        ssize_t n = pread(fd, buf, want, (off_t)from);

        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        detect_feed(d->det, d->src, buf, (size_t)n);
        from += (uint64_t)n;
    }
    return 0;
}

static bool
inject_nmi(struct drill *d)
{
    struct cmd_result res;
    AUTOFREE char *first = NULL;
    int rc;

    d->nmi_ms = wall_ms();
    rc = virsh(d, &res, "inject-nmi", "--", d->target, NULL);
    d->nmi_done_ms = wall_ms();
    if (virsh_ok(rc, &res)) {
        cmd_result_release(&res);
        d->inject_method = "inject-nmi";
        return true;
    }
    first = virsh_error(rc, &res);
    cmd_result_release(&res);
    if (rc < 0) {
        d->error = xasprintf("no NMI injected: %s", first);
        return false;
    }
    /* QMP inject-nmi through virsh (libvirt taints the domain "custom-monitor") */
    d->nmi_ms = wall_ms();
    rc = virsh(d, &res, "qemu-monitor-command", "--", d->target, "{\"execute\":\"inject-nmi\"}", NULL);
    d->nmi_done_ms = wall_ms();
    if (virsh_ok(rc, &res) && !(res.out && strstr(res.out, "\"error\""))) {
        cmd_result_release(&res);
        d->inject_method = "qemu-monitor-command";
        d->inject_note = xasprintf("virsh inject-nmi failed (%s); sent QMP inject-nmi with "
                                   "virsh qemu-monitor-command instead", first);
        return true;
    }
    {
        AUTOFREE char *second = rc == 0 && res.out && strstr(res.out, "\"error\"")
                                    ? drill_first_line(res.out) : virsh_error(rc, &res);

        d->error = xasprintf("no NMI injected: virsh inject-nmi: %s; virsh qemu-monitor-command "
                             "inject-nmi: %s", first, second);
    }
    cmd_result_release(&res);
    return false;
}

static void
release_held(struct drill *d, int64_t last_feed)
{
    int64_t deadline;

    while ((deadline = detect_next_deadline(d->det)) >= 0 &&
           mono_ms() >= last_feed + DETECT_DEFAULT_HOLD_MS)
        detect_tick(d->det, deadline);
}

/* Follow the log from where the NMI began until our event or the timeout. */
static void
wait_for_event(struct drill *d, int fd, uint64_t off)
{
    AUTOFREE char *buf = xmalloc(DRILL_CHUNK);
    int64_t deadline = mono_ms() + (int64_t)d->o.timeout_s * 1000;
    int64_t last_feed = mono_ms();
    int64_t next_stat = 0;
    struct stat st0;

    if (fstat(fd, &st0) < 0)
        memset(&st0, 0, sizeof(st0));
    while (!d->ev && mono_ms() < deadline) {
        ssize_t n = pread(fd, buf, DRILL_CHUNK, (off_t)off);

        if (n > 0) {
            feed_new(d, buf, (size_t)n);
            off += (uint64_t)n;
            last_feed = mono_ms();
            continue;
        }
        release_held(d, last_feed);
        if (d->ev)
            break;
        if (mono_ms() >= next_stat) {
            struct stat st;

            next_stat = mono_ms() + 200;
            if (fstat(fd, &st) == 0 && (uint64_t)st.st_size < off) {
                /* copytruncate: the file starts over */
                off = 0;
                detect_source_set_position(d->det, d->src, 0, 1);
                d->armed_from = 0;
                d->lines_from = 0;
                continue;
            }
            if (stat(d->log_path, &st) == 0 && (st.st_ino != st0.st_ino || st.st_dev != st0.st_dev)) {
                /* rotated: the old file is drained above; go on with the new one */
                int nfd = open(d->log_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

                if (nfd >= 0 && dup2(nfd, fd) >= 0) {
                    off = 0;
                    st0 = st;
                    detect_source_set_position(d->det, d->src, 0, 1);
                    d->armed_from = 0;
                    d->lines_from = 0;
                }
                if (nfd >= 0)
                    close(nfd);
                continue;
            }
        }
        sleep_ms(DRILL_POLL_MS);
    }
    if (!d->ev) {
        /* whatever is still held may be ours */
        detect_finish(d->det);
    }
}

static void
alert_id_cb(const char *id, void *opaque)
{
    struct drill *d = opaque;

    if (d->ev && strcmp(id, d->ev->id) == 0)
        d->alerted = "yes";
}

static void
after_event(struct drill *d)
{
    const char *expect = drill_on_crash_state(d->on_crash);
    int64_t until = mono_ms() + DRILL_AFTER_MS;
    int64_t event_ms;

    /* the delay: QMP time of the event (µs, QEMU's clock) from libvirt sending the NMI */
    event_ms = d->ev->has_qmp_time
                   ? (int64_t)d->ev->qmp_sec * 1000 + d->ev->qmp_usec / 1000
                   : d->ev->time_ms;
    if (d->send_seen && !d->send_ambiguous && d->send_ms >= 0) {
        d->delay_ms = event_ms - d->send_ms;
        d->delay_from = "libvirt sent inject-nmi to QEMU (QEMU_MONITOR_SEND_MSG)";
    } else {
        d->delay_ms = event_ms - d->nmi_ms;
        d->delay_from = "virsh started injecting the NMI";
    }
    d->have_delay = event_ms >= 0;
    /* libvirt applies <on_crash> in its worker thread just after the event */
    do {
        free(d->state_after);
        d->state_after = domstate(d);
        if (d->state_after && expect && strcmp(d->state_after, expect) == 0)
            break;
        sleep_ms(100);
    } while (mono_ms() < until);

    if (!d->w.pid) {
        d->alerted = "unknown";
        d->alert_note = xstrdup("no pvpanic-watch follow reads this log");
        return;
    }
    if (!d->w.json_files) {
        d->alerted = "unknown";
        d->alert_note = xasprintf("pvpanic-watch follow (pid %ld) has no json sink file; look in "
                                  "its syslog/exec/prometheus outputs for event %s",
                                  d->w.pid, d->ev->id);
        return;
    }
    d->alerted = "no";
    until = mono_ms() + DRILL_AFTER_MS;
    do {
        sinkset_recent_ids(d->w.ss, DRILL_ALERT_SCAN_BYTES, alert_id_cb, d);
        if (strcmp(d->alerted, "yes") == 0)
            break;
        sleep_ms(100);
    } while (mono_ms() < until);
    d->alert_note = strcmp(d->alerted, "yes") == 0
        ? xasprintf("event %s is in the json output of pvpanic-watch follow (pid %ld)",
                    d->ev->id, d->w.pid)
        : xasprintf("event %s is not in the json output of pvpanic-watch follow (pid %ld) after "
                    "%d s: check its log (journalctl -u pvpanic-watch)", d->ev->id, d->w.pid,
                    DRILL_AFTER_MS / 1000);
}

/* Everything from the confirmation on. Returns the exit status. */
static int
run_nmi(struct drill *d)
{
    struct detect_config cfg;
    AUTOCLOSE int fd = open(d->log_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    AUTOFREE char *buf = NULL;
    struct stat st;
    uint64_t size;

    if (fd < 0 || fstat(fd, &st) < 0) {
        d->error = xasprintf("cannot read %s: %s", d->log_path, strerror(errno));
        return DRILL_EXIT_ERROR;
    }
    size = (uint64_t)st.st_size;
    detect_config_init(&cfg);
    d->det = detect_new(&cfg, on_event, d);
    d->src = detect_add_source(d->det, d->log_path, DETECT_SOURCE_DAEMON, NULL);
    /* names: replay from the start of the domain's monitor lifetime */
    d->read_from = d->marker >= 0 && (uint64_t)d->marker <= size ? (uint64_t)d->marker : size;
    d->armed_from = size;
    d->lines_from = d->read_from;
    detect_source_set_position(d->det, d->src, d->read_from, 1);
    if (d->read_from < size) {
        uint64_t upto = size - d->read_from > DRILL_MAX_HISTORY ? d->read_from + DRILL_MAX_HISTORY : size;
        int rc;

        buf = xmalloc(DRILL_CHUNK);
        if ((rc = feed_range(d, fd, d->read_from, upto, buf)) < 0) {
            d->error = xasprintf("cannot read %s: %s", d->log_path, strerror(-rc));
            return DRILL_EXIT_ERROR;
        }
        if (upto < size) {
            /* the monitor is named by now; the middle of a huge log is not needed */
            detect_source_set_position(d->det, d->src, size, 1);
            d->lines_from = size;
        }
    }

    if (!inject_nmi(d))
        return DRILL_EXIT_ERROR;
    d->injected = true;
    wait_for_event(d, fd, size);
    if (!d->ev) {
        free(d->state_after);
        d->state_after = domstate(d);
        drill_explain_no_event(&d->guest, d->state_after, &d->explanation);
        if (d->send_seen && !d->send_ambiguous)
            strbuf_addf(&d->explanation, "- libvirt did send inject-nmi to the guest's QEMU "
                        "(mon=0x%" PRIx64 "): the NMI reached the virtual machine.\n", d->send_mon);
        if (d->other_events)
            strbuf_addf(&d->explanation, "- %u panic event(s) of other guests were seen meanwhile: "
                        "the log does record panics.\n", d->other_events);
        d->result = "no-event";
        return DRILL_EXIT_BROKEN;
    }
    after_event(d);
    if (strcmp(d->alerted, "no") == 0) {
        d->result = "no-alert";
        return DRILL_EXIT_BROKEN;
    }
    d->result = "ok";
    return DRILL_EXIT_OK;
}

/* ---- output ------------------------------------------------------------------- */

static void
print_check(const struct check *c)
{
    static const char *const tags[] = {
        [CHECK_OK] = "ok", [CHECK_INFO] = "info", [CHECK_WARN] = "WARN",
        [CHECK_BROKEN] = "BROKEN", [CHECK_SKIPPED] = "skip",
    };

    printf("  %-7s %-13s %s\n", tags[c->status], c->title, c->summary ? c->summary : "");
    if (c->fix)
        printf("  %-7s %-13s fix: %s\n", "", "", c->fix);
}

static void
print_header(const struct drill *d)
{
    struct strbuf sb = STRBUF_INIT;

    add_safe(&sb, d->name ? d->name : d->o.domain, strlen(d->name ? d->name : d->o.domain));
    printf("pvpanic-watch drill: guest '%s'%s%s%s\n", sb.buf, d->uuid ? " (uuid " : "",
           d->uuid ? d->uuid : "", d->uuid ? ")" : "");
    if (d->o.connect) {
        strbuf_reset(&sb);
        add_safe(&sb, d->o.connect, strlen(d->o.connect));
        printf("  connection %s\n", sb.buf);
    }
    strbuf_release(&sb);
    fflush(stdout);
}

static void
print_event(const struct drill *d)
{
    char iso[PV_TIME_ISO_LEN];
    struct strbuf det = STRBUF_INIT;

    pv_time_iso(d->ev->time_ms, iso);
    pv_event_details_line(d->ev, &det);
    printf("  event         %s at %s, action %s, details %s, id %s%s\n",
           d->ev->type == PV_EVENT_PANIC ? "GUEST_PANICKED" : "GUEST_CRASHLOADED", iso,
           d->ev->action ? d->ev->action : "-", det.len ? det.buf : "-", d->ev->id,
           d->ev_by_monitor ? " (the log does not name the guest: matched by the monitor "
                              "libvirt sent the NMI to)" : "");
    if (d->have_delay)
        printf("  delay         %" PRId64 " ms from the NMI to the event (from: %s; the drill saw "
               "it %" PRId64 " ms after the NMI)\n", d->delay_ms, d->delay_from,
               d->ev_seen_ms - d->nmi_ms);
    printf("  state         %s\n", d->state_after ? d->state_after : "unknown (virsh domstate failed)");
    printf("  alert         %s: %s\n", d->alerted, d->alert_note ? d->alert_note : "");
    if (d->ev->type == PV_EVENT_CRASHLOADED)
        printf("  note          GUEST_CRASHLOADED: the guest's kdump took over; libvirt does not "
               "apply <on_crash>\n");
    strbuf_release(&det);
}

static void
json_check(struct strbuf *out, const struct check *c)
{
    strbuf_addstr(out, "{\"name\":");
    strbuf_add_json_strz(out, c->key);
    strbuf_addstr(out, ",\"status\":");
    strbuf_add_json_strz(out, check_status_names[c->status]);
    strbuf_addstr(out, ",\"summary\":");
    strbuf_add_json_strz(out, c->summary);
    strbuf_addstr(out, ",\"fix\":");
    strbuf_add_json_strz(out, c->fix);
    strbuf_addch(out, '}');
}

static void
json_ms(struct strbuf *out, const char *key, bool have, int64_t ms)
{
    strbuf_addf(out, ",\"%s\":", key);
    if (have)
        strbuf_addf(out, "%" PRId64, ms);
    else
        strbuf_addstr(out, "null");
}

static void
json_time(struct strbuf *out, const char *key, bool have, int64_t ms)
{
    char iso[PV_TIME_ISO_LEN];

    strbuf_addf(out, ",\"%s\":", key);
    if (!have || ms < 0) {
        strbuf_addstr(out, "null");
        return;
    }
    pv_time_iso(ms, iso);
    strbuf_add_json_strz(out, iso);
}

static void
print_json(const struct drill *d)
{
    struct strbuf out = STRBUF_INIT;

    strbuf_addstr(&out, "{\"domain\":");
    if (d->name)
        strbuf_add_json_str(&out, d->name, d->name_len);
    else
        strbuf_add_json_strz(&out, d->o.domain);
    strbuf_addstr(&out, ",\"uuid\":");
    strbuf_add_json_strz(&out, d->uuid);
    strbuf_addstr(&out, ",\"connect\":");
    strbuf_add_json_strz(&out, d->o.connect);
    strbuf_addstr(&out, ",\"result\":");
    strbuf_add_json_strz(&out, d->result);
    strbuf_addf(&out, ",\"exit\":%d,\"error\":", d->exit);
    strbuf_add_json_strz(&out, d->error);
    strbuf_addstr(&out, ",\"checks\":[");
    for (int i = 0; i < CK_COUNT; i++) {
        if (i)
            strbuf_addch(&out, ',');
        json_check(&out, &d->ck[i]);
    }
    strbuf_addstr(&out, "],\"state_before\":");
    strbuf_add_json_strz(&out, d->state_before);
    strbuf_addstr(&out, ",\"on_crash\":");
    strbuf_add_json_strz(&out, d->on_crash);
    strbuf_addstr(&out, ",\"log\":");
    strbuf_add_json_strz(&out, d->log_path);
    strbuf_addstr(&out, ",\"daemon_config\":");
    strbuf_add_json_strz(&out, d->daemon_conf);
    json_ms(&out, "log_read_from", d->det != NULL, (int64_t)d->read_from);
    json_ms(&out, "log_lines_from", d->det != NULL, (int64_t)d->lines_from);
    strbuf_addstr(&out, ",\"watcher_pid\":");
    if (d->w.pid)
        strbuf_addf(&out, "%ld", d->w.pid);
    else
        strbuf_addstr(&out, "null");
    strbuf_addf(&out, ",\"injected\":%s,\"inject_method\":", d->injected ? "true" : "false");
    strbuf_add_json_strz(&out, d->inject_method);
    strbuf_addstr(&out, ",\"inject_note\":");
    strbuf_add_json_strz(&out, d->inject_note);
    json_time(&out, "nmi_time", d->injected, d->nmi_ms);
    strbuf_addstr(&out, ",\"nmi_monitor\":");
    if (d->send_seen && !d->send_ambiguous)
        strbuf_addf(&out, "\"0x%" PRIx64 "\"", d->send_mon);
    else
        strbuf_addstr(&out, "null");
    strbuf_addstr(&out, ",\"event\":");
    if (d->ev) {
        struct strbuf det = STRBUF_INIT;

        pv_event_to_json(d->ev, &out);
        pv_event_details_line(d->ev, &det);
        strbuf_addstr(&out, ",\"event_details\":");
        strbuf_add_json_strz(&out, det.len ? det.buf : NULL);
        strbuf_release(&det);
    } else {
        strbuf_addstr(&out, "null,\"event_details\":null");
    }
    strbuf_addf(&out, ",\"matched_by\":%s", !d->ev ? "null" : d->ev_by_monitor ? "\"nmi-monitor\""
                                                                                : "\"domain\"");
    json_ms(&out, "delay_ms", d->ev && d->have_delay, d->delay_ms);
    strbuf_addstr(&out, ",\"delay_from\":");
    strbuf_add_json_strz(&out, d->ev && d->have_delay ? d->delay_from : NULL);
    json_ms(&out, "seen_after_ms", d->ev != NULL, d->ev_seen_ms - d->nmi_ms);
    strbuf_addstr(&out, ",\"state_after\":");
    strbuf_add_json_strz(&out, d->state_after);
    strbuf_addstr(&out, ",\"alerted\":");
    strbuf_add_json_strz(&out, d->alerted);
    strbuf_addstr(&out, ",\"alert_note\":");
    strbuf_add_json_strz(&out, d->alert_note);
    strbuf_addstr(&out, ",\"explanation\":");
    if (d->explanation.len) {
        strbuf_addch(&out, '[');
        for (const char *p = d->explanation.buf; *p;) {
            size_t len = strcspn(p, "\n");

            if (p != d->explanation.buf)
                strbuf_addch(&out, ',');
            strbuf_add_json_str(&out, p + 2 * (strncmp(p, "- ", 2) == 0),
                                len - 2 * (strncmp(p, "- ", 2) == 0));
            p += len + (p[len] == '\n');
        }
        strbuf_addch(&out, ']');
    } else {
        strbuf_addstr(&out, "null");
    }
    strbuf_addstr(&out, "}\n");
    fwrite(out.buf, 1, out.len, stdout);
    strbuf_release(&out);
}

/* ---- the command ---------------------------------------------------------------- */

static void
drill_usage(FILE *out)
{
    fprintf(out,
            "Usage: pvpanic-watch drill [OPTIONS] [--] DOMAIN\n"
            "\n"
            "Fire drill: crash DOMAIN on purpose (an NMI) and prove that the crash reaches\n"
            "libvirt's log and the pvpanic-watch alert. First checks each link (domain\n"
            "running, a <panic> device that fits it, <on_crash>, a daemon log that records\n"
            "panic events, a pvpanic-watch follow on that log) and injects nothing when one\n"
            "is broken. DESTRUCTIVE: asks for confirmation on a terminal.\n"
            "\n"
            "  -c, --connect URI   libvirt connection (virsh -c)\n"
            "  -t, --timeout S     wait up to S seconds for the panic event (default %u)\n"
            "  -y, --yes           do not ask (needed without a terminal)\n"
            "  -n, --dry-run       check the links only, inject nothing\n"
            "  -j, --json          one JSON object with every check, the event and the delay\n"
            "  -l, --log FILE      the daemon log (default: from the running daemon's config)\n"
            "  -h, --help          this help\n"
            "\n"
            "Exit status: 0 the chain works end to end (the panic event came; with\n"
            "--dry-run: every link is OK), 1 a link is broken, no event in time or no\n"
            "alert, 2 usage error, not confirmed, libvirt unreachable, NMI not injected.\n",
            DRILL_DEFAULT_TIMEOUT_S);
}

static int
parse_options(int argc, char **argv, struct drill_opts *o)
{
    static const struct option longopts[] = {
        { "connect", required_argument, NULL, 'c' },
        { "timeout", required_argument, NULL, 't' },
        { "yes", no_argument, NULL, 'y' },
        { "dry-run", no_argument, NULL, 'n' },
        { "json", no_argument, NULL, 'j' },
        { "log", required_argument, NULL, 'l' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;

    *o = (struct drill_opts){ .timeout_s = DRILL_DEFAULT_TIMEOUT_S };
    optind = 1;
    while ((c = getopt_long(argc, argv, "+c:t:ynjl:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->connect = optarg;
            break;
        case 't': {
            char *end = NULL;
            unsigned long v;

            errno = 0;
            v = strtoul(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-' || v < 1 || v > 3600) {
                log_warnx("--timeout must be 1..3600 seconds, not '%s'", optarg);
                return -1;
            }
            o->timeout_s = (unsigned int)v;
            break;
        }
        case 'y':
            o->yes = true;
            break;
        case 'n':
            o->dry_run = true;
            break;
        case 'j':
            o->json = true;
            break;
        case 'l':
            o->log = optarg;
            break;
        case 'h':
            drill_usage(stdout);
            exit(DRILL_EXIT_OK);
        default:
            fprintf(stderr, "Try 'pvpanic-watch drill --help'.\n");
            return -1;
        }
    }
    if (optind != argc - 1 || argv[optind][0] == '\0') {
        log_warnx("give exactly one DOMAIN (name or UUID); see --help");
        return -1;
    }
    o->domain = argv[optind];
    return 0;
}

/* On a terminal: the operator types "yes". */
static bool
confirm(const struct drill *d)
{
    char line[64];
    struct strbuf sb = STRBUF_INIT;

    add_safe(&sb, d->name, d->name_len);
    fprintf(stderr, "\nThis crashes guest '%s' now (NMI); afterwards libvirt applies "
            "<on_crash>%s</on_crash>. Type yes to go on: ", sb.buf, d->on_crash);
    strbuf_release(&sb);
    fflush(stderr);
    if (!fgets(line, sizeof(line), stdin))
        return false;
    line[strcspn(line, "\r\n")] = '\0';
    return strcmp(line, "yes") == 0;
}

static void
drill_free(struct drill *d)
{
    for (int i = 0; i < CK_COUNT; i++) {
        free(d->ck[i].summary);
        free(d->ck[i].fix);
    }
    free(d->name);
    free(d->uuid);
    free(d->state_before);
    free(d->state_after);
    free(d->on_crash);
    free(d->log_path);
    free(d->log_source);
    free(d->daemon_conf);
    log_plan_clear(&d->plan);
    sinkset_free(d->w.ss);
    free(d->inject_note);
    detect_free(d->det);
    strbuf_release(&d->partial);
    pv_event_free(d->ev);
    free(d->alert_note);
    free(d->error);
    strbuf_release(&d->explanation);
}

/* The end: report and the exit status. */
static int
finish(struct drill *d, int rc)
{
    d->exit = rc;
    if (!d->result)
        d->result = rc == DRILL_EXIT_ERROR ? "error" : rc == DRILL_EXIT_BROKEN ? "broken" : "ok";
    if (d->o.json) {
        print_json(d);
    } else {
        struct strbuf sb = STRBUF_INIT;

        add_safe(&sb, d->name ? d->name : d->o.domain, strlen(d->name ? d->name : d->o.domain));
        if (d->ev)
            print_event(d);
        if (d->error)
            printf("\nRESULT: error: %s\n", d->error);
        else if (strcmp(d->result, "ok") == 0 && d->injected)
            printf("\nRESULT: the chain works: the crash of '%s' reached the daemon log %" PRId64
                   " ms after the NMI%s.\n", sb.buf, d->delay_ms,
                   d->alerted && strcmp(d->alerted, "yes") == 0 ? " and the watcher alerted" : "");
        else if (strcmp(d->result, "ok") == 0)
            printf("\nRESULT: every link is OK (dry run: no NMI injected).\n");
        else if (strcmp(d->result, "broken") == 0)
            printf("\nRESULT: broken link(s) above; %s.\n",
                   d->injected ? "see above" : "no NMI was injected");
        else if (strcmp(d->result, "no-event") == 0)
            printf("\nRESULT: no panic event of '%s' in %s within %u s of the NMI. What that "
                   "means:\n%s", sb.buf, d->log_path, d->o.timeout_s, d->explanation.buf);
        else if (strcmp(d->result, "no-alert") == 0)
            printf("\nRESULT: the crash reached the daemon log but the watcher did not alert.\n");
        else if (strcmp(d->result, "refused") == 0 || strcmp(d->result, "not-confirmed") == 0)
            printf("\nRESULT: nothing injected (%s).\n", d->result);
        strbuf_release(&sb);
    }
    fflush(stdout);
    drill_free(d);
    return rc;
}

int
drill_main(int argc, char **argv)
{
    struct drill d;
    bool broken = false;

    memset(&d, 0, sizeof(d));
    d.marker = -1;
    d.ck[CK_DOMAIN] = (struct check){ "domain", "domain", CHECK_SKIPPED, NULL, NULL };
    d.ck[CK_PANIC] = (struct check){ "panic_device", "panic device", CHECK_SKIPPED, NULL, NULL };
    d.ck[CK_ON_CRASH] = (struct check){ "on_crash", "on_crash", CHECK_SKIPPED, NULL, NULL };
    d.ck[CK_LOG] = (struct check){ "daemon_log", "daemon log", CHECK_SKIPPED, NULL, NULL };
    d.ck[CK_WATCHER] = (struct check){ "watcher", "watcher", CHECK_SKIPPED, NULL, NULL };
    if (parse_options(argc, argv, &d.o) < 0)
        return DRILL_EXIT_ERROR;
    signal(SIGPIPE, SIG_IGN);

    /* destructive: a person confirms, or the caller said --yes */
    if (!d.o.yes && !d.o.dry_run && !isatty(STDIN_FILENO)) {
        log_warnx("refusing to crash '%s' without confirmation: stdin is not a terminal; "
                  "pass --yes (or --dry-run to check only)", d.o.domain);
        d.result = "refused";
        d.error = xstrdup("not confirmed: stdin is not a terminal and --yes was not given");
        return d.o.json ? finish(&d, DRILL_EXIT_ERROR) : (drill_free(&d), DRILL_EXIT_ERROR);
    }

    if (!check_domain(&d))
        return finish(&d, DRILL_EXIT_ERROR);
    if (!d.o.json)
        print_header(&d);
    check_log(&d);
    check_watcher(&d);
    for (int i = 0; i < CK_COUNT; i++) {
        if (!d.o.json)
            print_check(&d.ck[i]);
        broken = broken || d.ck[i].status == CHECK_BROKEN;
    }
    fflush(stdout);
    if (broken)
        return finish(&d, DRILL_EXIT_BROKEN);
    if (d.o.dry_run)
        return finish(&d, DRILL_EXIT_OK);
    if (!d.o.yes && !confirm(&d)) {
        d.result = "not-confirmed";
        return finish(&d, DRILL_EXIT_ERROR);
    }
    if (!d.o.json) {
        struct strbuf sb = STRBUF_INIT;

        add_safe(&sb, d.log_path, strlen(d.log_path));
        printf("\ninjecting an NMI, then waiting up to %u s for the panic event in %s ...\n",
               d.o.timeout_s, sb.buf);
        strbuf_release(&sb);
        fflush(stdout);
    }
    return finish(&d, run_nmi(&d));
}
