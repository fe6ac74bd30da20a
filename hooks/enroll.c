#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "enroll.h"
#include "fileutil.h"
#include "hookconf.h"
#include "strbuf.h"
#include "xalloc.h"

/* Close every descriptor from 3 up. Only called in a freshly forked child. */
static void
close_from_3(void)
{
    DIR *dir;
    struct dirent *de;

#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0)
        return;
#endif
    dir = opendir("/proc/self/fd");
    if (!dir) {
        for (int fd = 3; fd < 65536; fd++)
            close(fd);
        return;
    }
    while ((de = readdir(dir))) {
        int fd = atoi(de->d_name);

        if (fd >= 3 && fd != dirfd(dir))
            close(fd);
    }
    closedir(dir);
}

/* ---- virsh ------------------------------------------------------------ */

/* virsh [-c URI] ARGS... ; NULL-terminated varargs. */
static int __attribute__((sentinel))
virsh(const struct enable_request *req, struct cmd_result *res, ...)
{
    va_list ap;
    int rc;

    va_start(ap, res);
    rc = run_virshv(req->connect && *req->connect ? req->connect : NULL, req->timeout_s * 1000u,
                    res, ap);
    va_end(ap);
    return rc;
}

/* "virsh CMD: <its error lines joined>" for a failed call. */
static char *
virsh_failure(const char *cmd, int rc, const struct cmd_result *res, unsigned int timeout_s)
{
    struct strbuf sb = STRBUF_INIT;
    bool first = true;
    const char *p;

    if (rc < 0)
        return xasprintf("cannot run virsh: %s", strerror(-rc));
    if (res->timed_out)
        return xasprintf("virsh %s did not finish within %u s (killed)", cmd, timeout_s);
    strbuf_addf(&sb, "virsh %s", cmd);
    for (p = res->err ? res->err : ""; *p; p += *p ? 1 : 0) {
        size_t len = strcspn(p, "\n");
        const char *line = p;

        p += len;
        if (strncmp(line, "error: ", 7) == 0) {
            line += 7;
            len -= 7;
        }
        if (len == 0)
            continue;
        strbuf_addstr(&sb, first ? ": " : "; ");
        first = false;
        for (size_t i = 0; i < len; i++)
            strbuf_addch(&sb, (unsigned char)line[i] < 0x20 ? '?' : line[i]);
    }
    if (first)
        strbuf_addf(&sb, ": exit status %d", res->status);
    return strbuf_detach(&sb, NULL);
}

/* Value of "Key:   value" in virsh's LC_ALL=C key/value output, or NULL. */
static char *
field_value(const char *out, const char *key)
{
    size_t klen = strlen(key);

    for (const char *p = out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
            const char *v = p + klen + 1;
            size_t len;

            v += strspn(v, " \t");
            len = strcspn(v, "\n");
            while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\r'))
                len--;
            return xstrndup(v, len);
        }
    }
    return NULL;
}

static bool
same_uuid(const char *a, const char *b)
{
    AUTOFREE char *na = a ? uuid_normalize(a) : NULL;
    AUTOFREE char *nb = b ? uuid_normalize(b) : NULL;

    return na && nb && strcmp(na, nb) == 0;
}

/* "<panic model='isa'>; on_crash set to preserve" */
static char *
describe_change(const struct domxml_patch_report *rep, const char *on_crash)
{
    struct strbuf sb = STRBUF_INIT;

    if (rep->added_panic)
        strbuf_addf(&sb, "<panic model='%s'>", panic_model_to_string(rep->model));
    if (rep->changed_on_crash)
        strbuf_addf(&sb, "%son_crash set to %s", sb.len ? "; " : "", on_crash);
    return strbuf_detach(&sb, NULL);
}

static int
write_temp_xml(const char *text, size_t len, char **out_path)
{
    const char *tmpdir = getenv("TMPDIR");
    AUTOFREE char *path = xasprintf("%s/pvpanic-hook.XXXXXX",
                                    tmpdir && *tmpdir ? tmpdir : "/tmp");
    AUTOCLOSE int fd = mkostemp(path, O_CLOEXEC);
    int rc;

    if (fd < 0)
        return -errno;
    if ((rc = write_all(fd, text, len)) < 0 || close(steal_fd(&fd)) < 0) {
        rc = rc < 0 ? rc : -errno;
        unlink(path);
        return rc;
    }
    *out_path = steal_pointer(&path);
    return 0;
}

/* dumpxml --inactive --security-info of @uuid, parsed: 0, or -1 with *@detail. */
static int
dump_definition(const struct enable_request *req, const char *uuid, struct domxml **out,
                char **detail)
{
    struct cmd_result res;
    AUTOFREE char *perr = NULL;
    /* --security-info: without it virsh leaves out passwords (e.g. VNC),
     * and defining that XML would silently drop them. */
    int rc = virsh(req, &res, "dumpxml", "--inactive", "--security-info", "--",
                   uuid, (char *)NULL);

    if (rc < 0 || res.timed_out || res.status != 0) {
        *detail = virsh_failure("dumpxml", rc, &res, req->timeout_s);
        cmd_result_release(&res);
        return -1;
    }
    rc = domxml_parse(res.out, res.out_len, out, &perr);
    cmd_result_release(&res);
    if (rc < 0) {
        *detail = xasprintf("cannot use the XML from virsh dumpxml: %s", perr);
        return -1;
    }
    if (!same_uuid(domxml_uuid(*out), uuid)) {
        *detail = xstrdup("virsh dumpxml returned a domain with another UUID");
        domxml_free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

enum enable_status
enable_domain(const struct enable_request *req, char **detail, char **shown_name)
{
    struct cmd_result res;
    AUTOFREE char *uuid = NULL;
    AUTOFREE char *info_name = NULL;
    AUTOFREE char *info_uuid = NULL;
    AUTOFREE char *persistent = NULL;
    AUTOFREE char *why = NULL;
    AUTOFREE char *tmp = NULL;
    AUTOPTR(domxml) d = NULL;
    AUTOPTR(domxml) check = NULL;
    struct domxml_patch_opts opts = { req->model, req->iobase, req->on_crash };
    struct domxml_patch_report rep = { false, PANIC_MODEL_AUTO, false };
    size_t len = 0;
    const char *text;
    int rc;

    *shown_name = xstrdup(req->name ? req->name : req->uuid ? req->uuid : "?");
    if (req->uuid) {
        uuid = xstrdup(req->uuid);
    } else {
        rc = virsh(req, &res, "domuuid", "--", req->name, (char *)NULL);
        if (rc < 0 || res.timed_out || res.status != 0) {
            *detail = virsh_failure("domuuid", rc, &res, req->timeout_s);
            cmd_result_release(&res);
            return ENABLE_FAILED;
        }
        uuid = xstrndup(res.out, strcspn(res.out, " \r\n"));
        cmd_result_release(&res);
    }

    /* From here on the domain is addressed by UUID only. */
    rc = virsh(req, &res, "dominfo", "--", uuid, (char *)NULL);
    if (rc < 0 || res.timed_out || res.status != 0) {
        *detail = virsh_failure("dominfo", rc, &res, req->timeout_s);
        cmd_result_release(&res);
        return ENABLE_FAILED;
    }
    info_name = field_value(res.out, "Name");
    info_uuid = field_value(res.out, "UUID");
    persistent = field_value(res.out, "Persistent");
    cmd_result_release(&res);
    if (info_name) {
        free(*shown_name);
        *shown_name = xstrdup(info_name);
    }
    if (!info_uuid || !same_uuid(info_uuid, uuid)) {
        *detail = xasprintf("virsh dominfo reports UUID '%s', expected '%s'",
                            info_uuid ? info_uuid : "(none)", uuid);
        return ENABLE_FAILED;
    }
    if (req->name && (!info_name || strcmp(info_name, req->name) != 0)) {
        /* virsh tries a word as an ID, then a UUID, then a name. */
        *detail = xasprintf("virsh resolved this name to another domain ('%s'); "
                            "use its UUID", info_name ? info_name : "?");
        return ENABLE_FAILED;
    }
    if (!persistent || strcmp(persistent, "yes") != 0) {
        *detail = xstrdup("transient domain (started with virsh create): it has no "
                          "persistent definition to patch, and is never made persistent");
        return ENABLE_SKIPPED;
    }

    if (dump_definition(req, uuid, &d, detail) < 0)
        return ENABLE_FAILED;
    rc = domxml_patch(d, &opts, &rep, &why);
    if (rc == -ENOTSUP) {
        *detail = steal_pointer(&why);
        return ENABLE_SKIPPED;
    }
    if (rc < 0) {
        *detail = steal_pointer(&why);
        return ENABLE_FAILED;
    }
    if (rc == 0) {
        *detail = NULL;
        return ENABLE_PRESENT;
    }
    if (req->dry_run) {
        *detail = describe_change(&rep, req->on_crash);
        return rep.added_panic ? ENABLE_ADDED : ENABLE_UPDATED;
    }

    text = domxml_text(d, &len);
    if ((rc = write_temp_xml(text, len, &tmp)) < 0) {
        *detail = xasprintf("cannot write a temporary file: %s", strerror(-rc));
        return ENABLE_FAILED;
    }
    rc = virsh(req, &res, "define", "--file", tmp, (char *)NULL);
    unlink(tmp);
    if (rc < 0 || res.timed_out || res.status != 0) {
        *detail = virsh_failure("define", rc, &res, req->timeout_s);
        cmd_result_release(&res);
        return ENABLE_FAILED;
    }
    cmd_result_release(&res);

    /* Read it back: libvirt may normalize, but must keep the device. */
    if (dump_definition(req, uuid, &check, detail) < 0)
        return ENABLE_FAILED;
    if (rep.added_panic && !domxml_has_panic_model(check, rep.model)) {
        *detail = xasprintf("libvirt accepted the new definition but it has no "
                            "<panic model='%s'>", panic_model_to_string(rep.model));
        return ENABLE_FAILED;
    }
    *detail = describe_change(&rep, req->on_crash);
    return rep.added_panic ? ENABLE_ADDED : ENABLE_UPDATED;
}

int
enable_list_all(const char *connect, unsigned int timeout_s, char ***out, char **errmsg)
{
    struct enable_request req = { .connect = connect, .timeout_s = timeout_s };
    struct cmd_result res;
    char **v = NULL;
    size_t n = 0;
    int rc = virsh(&req, &res, "list", "--all", "--uuid", (char *)NULL);

    if (rc < 0 || res.timed_out || res.status != 0) {
        *errmsg = virsh_failure("list", rc, &res, timeout_s);
        cmd_result_release(&res);
        return rc < 0 ? rc : -EIO;
    }
    for (const char *p = res.out; *p;) {
        size_t len = strcspn(p, "\n");
        AUTOFREE char *line = xstrndup(p, len);
        char *word = line + strspn(line, " \t\r");
        AUTOFREE char *norm = NULL;

        word[strcspn(word, " \t\r")] = '\0';
        p += len;
        if (*p)
            p++;
        if (!*word)
            continue;
        if (!(norm = uuid_normalize(word))) {
            *errmsg = xasprintf("virsh list printed something that is not a UUID: '%s'", word);
            for (size_t i = 0; i < n; i++)
                free(v[i]);
            free(v);
            cmd_result_release(&res);
            return -EIO;
        }
        v = xreallocarray(v, n + 2, sizeof(*v));
        v[n++] = xstrdup(word);
        v[n] = NULL;
    }
    cmd_result_release(&res);
    if (!v)
        v = xcalloc(1, sizeof(*v));
    *out = v;
    return (int)n;
}

/* ---- the detached helper ------------------------------------------------ */

char *
self_exe_path(void)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    static const char deleted[] = " (deleted)";

    if (n <= 0)
        return xstrdup("/proc/self/exe");
    buf[n] = '\0';
    /* A package upgrade replaced us: /proc/self/exe still runs this binary. */
    if ((size_t)n > strlen(deleted) && strcmp(buf + n - strlen(deleted), deleted) == 0)
        return xstrdup("/proc/self/exe");
    return xstrdup(buf);
}

int
enroll_spawn(const char *path, char *const argv[])
{
    int wstatus = 0;
    pid_t pid = fork();

    if (pid < 0)
        return -errno;
    if (pid == 0) {
        int fd;
        pid_t grandchild;

        if (setsid() < 0)
            _exit(1);
        grandchild = fork();
        if (grandchild != 0)
            _exit(grandchild < 0 ? 1 : 0);
        fd = open("/dev/null", O_RDWR);
        if (fd < 0)
            _exit(127);
        for (int std = 0; std <= 2; std++) {
            if (fd != std && dup2(fd, std) < 0)
                _exit(127);
        }
        close_from_3();
        if (chdir("/") < 0)
            _exit(127);
        runcmd_reset_signals();
        execv(path, argv);
        if (strcmp(path, "/proc/self/exe") != 0)
            execv("/proc/self/exe", argv);
        syslog(LOG_ERR, "pvpanic-hook: cannot start the enroll helper '%s': %m", path);
        _exit(127);
    }
    while (waitpid(pid, &wstatus, 0) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0)
        return -ECHILD;
    return 0;
}
