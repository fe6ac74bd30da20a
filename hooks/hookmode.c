#include <config.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "domxml.h"
#include "enroll.h"
#include "hookconf.h"
#include "hookmode.h"
#include "hookops.h"
#include "log.h"
#include "strbuf.h"
#include "xalloc.h"

static long long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
hook_read_input(int fd, size_t cap, size_t drain_cap, unsigned long long timeout_ms,
                char **out, size_t *out_len)
{
    long long deadline = now_ms() + (long long)timeout_ms;
    struct strbuf sb = STRBUF_INIT;
    bool too_big = false;
    size_t total = 0;
    char buf[65536];

    for (;;) {
        struct pollfd pfd = { fd, POLLIN, 0 };
        long long left = deadline - now_ms();
        ssize_t n;
        int ready;

        if (left <= 0) {
            strbuf_release(&sb);
            return -ETIMEDOUT;
        }
        ready = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (ready < 0 && errno != EINTR) {
            int rc = -errno;

            strbuf_release(&sb);
            return rc;
        }
        if (ready <= 0)
            continue;
        n = read(fd, buf, sizeof(buf));
        if (n < 0) {
            int rc = -errno;

            if (errno == EINTR || errno == EAGAIN)
                continue;
            strbuf_release(&sb);
            return rc;
        }
        if (n == 0)
            break;
        total += (size_t)n;
        if (out && !too_big) {
            if (total > cap) {
                too_big = true;
                strbuf_release(&sb);
            } else {
                strbuf_add(&sb, buf, (size_t)n);
            }
        }
        if (total > drain_cap) {
            strbuf_release(&sb);
            return -EFBIG;
        }
    }
    if (too_big)
        return -EFBIG;
    if (out)
        *out = strbuf_detach(&sb, out_len);
    return 0;
}

/* What the hook learned about the domain from stdin. */
struct inspection {
    enum hook_verdict verdict;
    enum panic_model model;     /* what enroll would add (MISSING) */
    char *reason;               /* NO_MODEL / UNVERIFIABLE: why */
    char *uuid;                 /* NULL if unknown */
    char *meta_on_missing;      /* the domain's own <metadata> policy, or NULL */
};

static void
inspect_input(const struct hook_conf *conf, struct inspection *in)
{
    AUTOFREE char *xml = NULL;
    AUTOPTR(domxml) d = NULL;
    AUTOFREE char *errmsg = NULL;
    size_t len = 0;
    int rc;

    in->verdict = HOOK_VERDICT_UNVERIFIABLE;
    rc = hook_read_input(STDIN_FILENO, DOMXML_MAX_SIZE, HOOK_DRAIN_CAP,
                         conf->stdin_timeout_ms, &xml, &len);
    if (rc == -EFBIG) {
        in->reason = xasprintf("the domain XML on stdin is larger than %u MiB",
                               DOMXML_MAX_SIZE >> 20);
        return;
    }
    if (rc == -ETIMEDOUT) {
        in->reason = xasprintf("stdin did not reach end-of-file within %llu ms",
                               conf->stdin_timeout_ms);
        return;
    }
    if (rc < 0) {
        in->reason = xasprintf("cannot read stdin: %s", strerror(-rc));
        return;
    }
    if (domxml_parse(xml, len, &d, &errmsg) < 0) {
        in->reason = xasprintf("unusable domain XML on stdin: %s", errmsg);
        return;
    }
    if (domxml_uuid(d))
        in->uuid = xstrdup(domxml_uuid(d));
    if (domxml_metadata_on_missing(d))
        in->meta_on_missing = xstrdup(domxml_metadata_on_missing(d));
    if (domxml_has_usable_panic(d)) {
        in->verdict = HOOK_VERDICT_USABLE;
        return;
    }
    if (conf->model == PANIC_MODEL_AUTO) {
        rc = domxml_auto_model(d, &in->model, &in->reason);
        in->verdict = rc < 0 ? HOOK_VERDICT_NO_MODEL : HOOK_VERDICT_MISSING;
        return;
    }
    in->model = conf->model;
    in->verdict = domxml_model_fits(d, conf->model, &in->reason) ? HOOK_VERDICT_MISSING
                                                                 : HOOK_VERDICT_NO_MODEL;
}

/* "pvpanic-hook enable NAME", with "--" when the name looks like an option. */
static char *
enable_hint(const char *name)
{
    AUTOFREE char *q = shell_quote(name);

    return xasprintf("pvpanic-hook enable %s%s", name[0] == '-' ? "-- " : "", q);
}

/* The refusal is for the user of "virsh start": always on stderr, one line. */
static void __attribute__((format(printf, 1, 2)))
refuse(const char *fmt, ...)
{
    int dest = log_get_dest();
    va_list ap;

    log_set_dest(dest | LOG_DEST_STDERR);
    va_start(ap, fmt);
    vlog(LOG_ERR, fmt, ap);
    va_end(ap);
    log_set_dest(dest);
}

static int
start_enroll(const struct hook_conf *conf, const char *name, const struct inspection *in)
{
    AUTOFREE char *self = self_exe_path();
    const char *argv[16];
    size_t n = 0;

    argv[n++] = HOOK_CLI_NAME;
    argv[n++] = "enable";
    argv[n++] = "--from-hook";
    argv[n++] = "--connect";
    argv[n++] = conf->connect;
    argv[n++] = "--model";
    argv[n++] = panic_model_to_string(conf->model);
    if (in->uuid) {
        argv[n++] = "--uuid";
        argv[n++] = in->uuid;
    }
    argv[n++] = "--";
    argv[n++] = name;
    argv[n] = NULL;
    return enroll_spawn(self, (char *const *)argv);
}

/* @source: where the policy came from, e.g. "/etc/pvpanic/hook.conf". */
static int
act(enum hook_action action, const struct hook_conf *conf, const char *source,
    const char *name, int op, const struct inspection *in)
{
    AUTOFREE char *dn = display_name(name);
    AUTOFREE char *hint = enable_hint(name);
    const char *cpath = source;
    const char *opname = op >= 0 ? hook_op_to_string((enum hook_op)op) : "?";
    int rc;

    switch (action) {
    case HOOK_ACTION_NOTHING:
        return HOOK_EXIT_ALLOW;
    case HOOK_ACTION_NOTE:
        if (in->verdict == HOOK_VERDICT_UNVERIFIABLE)
            log_info("cannot check domain '%s' during %s: %s", dn, opname, in->reason);
        else
            log_info("domain '%s' has no <panic> device; not adding one during %s "
                     "(libvirt's ABI check forbids device changes there)", dn, opname);
        return HOOK_EXIT_ALLOW;
    case HOOK_ACTION_WARN:
        if (in->verdict == HOOK_VERDICT_UNVERIFIABLE)
            log_warnx("cannot check domain '%s' for a <panic> device: %s; allowing it "
                      "(fail open)", dn, in->reason);
        else if (in->verdict == HOOK_VERDICT_NO_MODEL)
            log_warnx("domain '%s' has no <panic> device and none can be added: %s",
                      dn, in->reason);
        else
            log_warnx("domain '%s' has no <panic> device: a guest crash will go unnoticed "
                      "(on_missing=warn in %s; to add it: %s)", dn, cpath, hint);
        return HOOK_EXIT_ALLOW;
    case HOOK_ACTION_REFUSE:
        if (in->verdict == HOOK_VERDICT_UNVERIFIABLE)
            refuse("cannot check domain '%s' for a <panic> device (%s); refusing to start "
                   "(on_missing=refuse in %s)", dn, in->reason, cpath);
        else if (in->verdict == HOOK_VERDICT_NO_MODEL)
            refuse("domain '%s' has no <panic> device and none can be added (%s); refusing "
                   "to start (on_missing=refuse in %s; exclude the domain there to allow it)",
                   dn, in->reason, cpath);
        else
            refuse("domain '%s' has no <panic> device; refusing to start (on_missing=refuse "
                   "in %s; run: %s)", dn, cpath, hint);
        return HOOK_EXIT_REFUSE;
    case HOOK_ACTION_ENROLL:
        if ((rc = start_enroll(conf, name, in)) < 0) {
            log_warnx("domain '%s' has no <panic> device, and the enroll helper could not "
                      "be started: %s (to add it: %s)", dn, strerror(-rc), hint);
            return HOOK_EXIT_ALLOW;
        }
        log_warnx("domain '%s' has no <panic> device; this boot runs without one. Adding "
                  "<panic model='%s'> to its persistent definition in the background "
                  "(effective from its next cold boot)", dn, panic_model_to_string(in->model));
        return HOOK_EXIT_ALLOW;
    }
    return HOOK_EXIT_ALLOW;
}

/*
 * Last line of defence for "never hang": whatever blocks (a stalled syslog
 * socket, a stuck file system), the hook exits 0 - fail open - a little
 * after the stdin bound. Only async-signal-safe calls here.
 */
static void
watchdog_fired(int sig)
{
    static const char msg[] = HOOK_CLI_NAME ": watchdog: the hook took too long; "
                              "allowing the operation (fail open)\n";
    ssize_t n = write(STDERR_FILENO, msg, sizeof(msg) - 1);

    (void)n;
    _exit(HOOK_EXIT_ALLOW);
}

#define HOOK_WATCHDOG_SLACK_S 10

int
hook_main(int nargs, char **args)
{
    AUTOPTR(hook_conf) conf = NULL;
    struct inspection in = { HOOK_VERDICT_UNVERIFIABLE, PANIC_MODEL_AUTO, NULL, NULL, NULL };
    AUTOFREE char *source = NULL;
    enum on_missing policy;
    enum hook_plan plan;
    enum hook_action action;
    int conf_rc;
    int op;
    int subop;
    int status;
    bool selected;

    /* libvirt may close our stdin early or not read what we write. */
    signal(SIGPIPE, SIG_IGN);
    log_init(HOOK_CLI_NAME, LOG_DEST_STDERR | LOG_DEST_SYSLOG, 0);
    signal(SIGALRM, watchdog_fired);
    alarm((unsigned int)(HOOKCONF_DEFAULT_STDIN_TIMEOUT_MS / 1000) + HOOK_WATCHDOG_SLACK_S);
    conf_rc = hookconf_load(hookconf_path(), &conf);
    log_set_dest(conf->log_dest);
    log_set_verbose(conf->verbose ? 2 : 0);
    /* (pending alarms are not inherited by fork(), so the helper is free) */
    alarm((unsigned int)(conf->stdin_timeout_ms / 1000) + HOOK_WATCHDOG_SLACK_S);

    if (nargs != 4) {
        log_warnx("expected DOMAIN OP SUBOP EXTRA from libvirt, got %d argument%s; "
                  "allowing the operation", nargs, nargs == 1 ? "" : "s");
        hook_read_input(STDIN_FILENO, 0, HOOK_DRAIN_CAP, conf->stdin_timeout_ms, NULL, NULL);
        return HOOK_EXIT_ALLOW;
    }
    op = hook_op_from_string(args[1]);
    subop = hook_subop_from_string(args[2]);
    plan = hook_plan_for(op, subop);
    if (log_get_verbose() >= 2) {
        AUTOFREE char *dn = display_name(args[0]);
        AUTOFREE char *o = display_name(args[1]);
        AUTOFREE char *s = display_name(args[2]);
        AUTOFREE char *e = display_name(args[3]);

        log_debug("called for domain '%s' op '%s' subop '%s' extra '%s'", dn, o, s, e);
    }
    if (conf_rc < 0) {
        AUTOFREE char *cpath = display_name(conf->path);

        log_warnx("%s: unusable configuration (see above); the policy is unknown, so the "
                  "operation is allowed (fail open)", cpath);
        plan = HOOK_PLAN_DRAIN;
    }
    if (plan == HOOK_PLAN_DRAIN) {
        hook_read_input(STDIN_FILENO, 0, HOOK_DRAIN_CAP, conf->stdin_timeout_ms, NULL, NULL);
        return HOOK_EXIT_ALLOW;
    }

    inspect_input(conf, &in);
    selected = hookconf_selects(conf, args[0], in.uuid);
    policy = conf->on_missing;
    source = display_name(conf->path);
    if (selected && conf->metadata && in.meta_on_missing) {
        AUTOFREE char *dn = display_name(args[0]);
        AUTOFREE char *value = display_name(in.meta_on_missing);

        if (hook_apply_metadata(in.meta_on_missing, &policy, &selected) < 0) {
            log_warnx("domain '%s': ignoring on_missing='%s' in its <metadata> (use enroll, "
                      "warn, refuse or ignore)", dn, value);
        } else {
            log_debug("domain '%s': on_missing='%s' from its <metadata>", dn, value);
            free(source);
            source = xstrdup("its <metadata>");
        }
    }
    action = hook_decide(plan, policy, selected, in.verdict);
    log_debug("selected=%s verdict=%d action=%s", selected ? "yes" : "no", (int)in.verdict,
              hook_action_to_string(action));
    status = act(action, conf, source, args[0], op, &in);
    free(in.reason);
    free(in.uuid);
    free(in.meta_on_missing);
    return status;
}
