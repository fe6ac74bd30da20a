/*
 * test_enroll: running virsh (bounded, no shell), the enable path against a
 * fake virsh (tests/data/hook/fake-virsh) first in PATH, and the detached
 * helper the hook starts: the hook's stdout/stderr reach EOF while the
 * helper still works, the helper holds none of the hook's descriptors,
 * patches and defines, and no zombie is left behind.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "domxml.h"
#include "enroll.h"
#include "hookconf.h"
#include "strbuf.h"
#include "testutil.h"
#include "xalloc.h"

#define UUID_PLAIN "6f1c2b0e-3d4a-4b8e-9a51-2c7d8e9f0a12"
#define UUID_PANIC "0b7d1f64-9a3e-4c1b-8d2f-6e5a4c3b2a19"
#define UUID_TRANSIENT "c2a5e3f1-7b4d-4e6a-9f8c-1d2e3f4a5b6c"
#define UUID_RISCV "7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b"
#define UUID_SEVEN "5e0f8a2b-6c1d-4f3e-a7b9-8c0d1e2f3a4b"
#define UUID_ODD "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"

struct fixture {
    char *dir;
    char *store;
    char *old_path;
};

static long long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

static char *
read_text(const char *path)
{
    size_t len = 0;

    return testutil_read_file(path, &len);
}

static char *
domain_xml(const char *name_xml, const char *uuid, const char *arch, const char *devices)
{
    return xasprintf("<domain type='kvm'>\n  <name>%s</name>\n  <uuid>%s</uuid>\n"
                     "  <os>\n    <type arch='%s' machine='virt'>hvm</type>\n  </os>\n"
                     "  <devices>\n    <emulator>/usr/bin/qemu</emulator>\n%s  </devices>\n"
                     "</domain>\n", name_xml, uuid, arch, devices);
}

static void
add_domain(struct fixture *fx, const char *uuid, const char *name, const char *name_xml,
           const char *arch, const char *devices, const char *persistent, const char *id)
{
    AUTOFREE char *d = xasprintf("%s/dom/%s", fx->store, uuid);
    AUTOFREE char *p = NULL;
    AUTOFREE char *xml = domain_xml(name_xml, uuid, arch, devices);

    assert_int_equal(mkdir(d, 0700), 0);
    p = xasprintf("%s/name", d);
    write_file(p, name);
    free(p);
    p = xasprintf("%s/xml", d);
    write_file(p, xml);
    free(p);
    p = xasprintf("%s/persistent", d);
    write_file(p, persistent);
    if (id) {
        free(p);
        p = xasprintf("%s/id", d);
        write_file(p, id);
    }
}

static int
setup(void **state)
{
    struct fixture *fx = xcalloc(1, sizeof(*fx));
    AUTOFREE char *bin = NULL;
    AUTOFREE char *virsh = NULL;
    AUTOFREE char *script = NULL;
    AUTOFREE char *wrapper = NULL;
    AUTOFREE char *dom = NULL;
    AUTOFREE char *path = NULL;
    const char *old = getenv("PATH");

    fx->dir = testutil_mkdtemp();
    fx->store = xasprintf("%s/store", fx->dir);
    bin = xasprintf("%s/bin", fx->dir);
    dom = xasprintf("%s/dom", fx->store);
    assert_int_equal(mkdir(fx->store, 0700), 0);
    assert_int_equal(mkdir(dom, 0700), 0);
    assert_int_equal(mkdir(bin, 0700), 0);
    script = testutil_datapath("hook/fake-virsh");
    virsh = xasprintf("%s/virsh", bin);
    wrapper = xasprintf("#!/bin/sh\nexec bash '%s' \"$@\"\n", script);
    write_file(virsh, wrapper);
    chmod(virsh, 0755);
    fx->old_path = xstrdup(old ? old : "/usr/bin:/bin");
    path = xasprintf("%s:%s", bin, fx->old_path);
    setenv("PATH", path, 1);
    setenv("FAKE_VIRSH_DIR", fx->store, 1);
    setenv("TMPDIR", fx->dir, 1);
    unsetenv("FAKE_VIRSH_SLEEP");
    unsetenv("FAKE_VIRSH_SLEEP_CMD");
    unsetenv("FAKE_VIRSH_FAIL_DEFINE");
    unsetenv("FAKE_VIRSH_DROP_PANIC");

    add_domain(fx, UUID_PLAIN, "web-01", "web-01", "x86_64", "", "yes", NULL);
    add_domain(fx, UUID_PANIC, "db-02", "db-02", "x86_64",
               "    <panic model='hyperv'/>\n", "yes", NULL);
    add_domain(fx, UUID_TRANSIENT, "scratch", "scratch", "x86_64", "", "no", "3");
    add_domain(fx, UUID_RISCV, "riscv-sandbox", "riscv-sandbox", "riscv64", "", "yes", NULL);
    /* a domain named "7" while another one runs with id 7 */
    add_domain(fx, UUID_SEVEN, "7", "7", "x86_64", "", "yes", NULL);
    add_domain(fx, UUID_ODD, "x\"$(id)`x` --help", "x&quot;$(id)`x` --help", "aarch64", "",
               "yes", "7");
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;

    setenv("PATH", fx->old_path, 1);
    unsetenv("TMPDIR");
    testutil_rmtree(fx->dir);
    free(fx->dir);
    free(fx->store);
    free(fx->old_path);
    free(fx);
    return 0;
}

static char *
calls(struct fixture *fx)
{
    AUTOFREE char *p = xasprintf("%s/calls.log", fx->store);

    if (access(p, F_OK) != 0)
        return xstrdup("");
    return read_text(p);
}

static char *
stored_xml(struct fixture *fx, const char *uuid)
{
    AUTOFREE char *p = xasprintf("%s/dom/%s/xml", fx->store, uuid);

    return read_text(p);
}

static enum enable_status
enable(const char *name, const char *uuid, bool dry_run, unsigned int timeout_s, char **detail,
       char **shown)
{
    struct enable_request req = {
        .name = name, .uuid = uuid, .connect = "test:///fake", .model = PANIC_MODEL_AUTO,
        .iobase = -1, .timeout_s = timeout_s, .dry_run = dry_run,
    };

    return enable_domain(&req, detail, shown);
}

/* ---- run_command -------------------------------------------------------- */

/* Exists and is not a zombie. */
static bool
process_alive(pid_t pid)
{
    char path[64];
    char buf[512];
    char *rp;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (!(f = fopen(path, "r")))
        return false;
    if (!fgets(buf, sizeof(buf), f)) {
        fclose(f);
        return false;
    }
    fclose(f);
    rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

static void
test_run_command(void **state)
{
    const char *argv[] = { "sh", "-c", "echo out; echo err >&2; echo \"$LC_ALL\"; exit 3", NULL };
    struct cmd_result res;

    assert_int_equal(run_command((char *const *)argv, 5000, &res), 0);
    assert_int_equal(res.status, 3);
    assert_false(res.timed_out);
    assert_string_equal(res.out, "out\nC\n");
    assert_string_equal(res.err, "err\n");
    cmd_result_release(&res);
}

static void
test_run_command_missing(void **state)
{
    const char *argv[] = { "no-such-program-pvpanic", NULL };
    struct cmd_result res;

    assert_int_equal(run_command((char *const *)argv, 5000, &res), 0);
    assert_int_equal(res.status, 127);
    assert_non_null(strstr(res.err, "cannot run 'no-such-program-pvpanic'"));
    cmd_result_release(&res);
}

static void
test_run_command_timeout_kills_group(void **state)
{
    struct fixture *fx = *state;
    AUTOFREE char *pidfile = xasprintf("%s/bg.pid", fx->dir);
    AUTOFREE char *script = xasprintf("sleep 30 & echo $! > '%s'; sleep 30", pidfile);
    const char *argv[] = { "sh", "-c", script, NULL };
    struct cmd_result res;
    long long t0 = now_ms();
    AUTOFREE char *bgpid = NULL;

    assert_int_equal(run_command((char *const *)argv, 300, &res), 0);
    assert_true(res.timed_out);
    assert_int_equal(res.status, 128 + SIGKILL);
    assert_true(now_ms() - t0 < 5000);
    cmd_result_release(&res);
    /* The background child was in the same process group: killed too
     * (gone, or a zombie waiting for init to reap it). */
    bgpid = read_text(pidfile);
    for (int i = 0; i < 200 && process_alive(atoi(bgpid)); i++)
        usleep(10000);
    assert_false(process_alive(atoi(bgpid)));
}

/* ---- enable_domain ------------------------------------------------------ */

static void
test_enable_adds(void **state)
{
    struct fixture *fx = *state;
    AUTOFREE char *detail = NULL;
    AUTOFREE char *shown = NULL;
    AUTOFREE char *log = NULL;
    AUTOFREE char *xml = NULL;
    AUTOFREE char *defined_path = xasprintf("%s/defined.xml", fx->store);
    AUTOFREE char *defined = NULL;
    DIR *d;
    struct dirent *de;

    assert_int_equal(enable("web-01", NULL, false, 10, &detail, &shown), ENABLE_ADDED);
    assert_string_equal(shown, "web-01");
    assert_string_equal(detail, "<panic model='isa'>");
    xml = stored_xml(fx, UUID_PLAIN);
    assert_non_null(strstr(xml, "    <panic model='isa'>\n      <address type='isa' "
                                "iobase='0x505'/>\n    </panic>\n  </devices>"));
    defined = read_text(defined_path);
    assert_string_equal(defined, xml);
    log = calls(fx);
    /* resolved once by name, then only by UUID; secrets kept; no shell */
    assert_non_null(strstr(log, "-c test:///fake domuuid -- web-01\n"));
    assert_non_null(strstr(log, "dominfo -- " UUID_PLAIN "\n"));
    assert_non_null(strstr(log, "dumpxml --inactive --security-info -- " UUID_PLAIN "\n"));
    assert_non_null(strstr(log, "define --file "));
    /* the temporary file is gone */
    d = opendir(fx->dir);
    assert_non_null(d);
    while ((de = readdir(d)))
        assert_null(strstr(de->d_name, "pvpanic-hook."));
    closedir(d);

    /* and a second run finds it present and defines nothing */
    free(detail);
    free(shown);
    detail = shown = NULL;
    assert_int_equal(enable("web-01", NULL, false, 10, &detail, &shown), ENABLE_PRESENT);
    free(log);
    log = calls(fx);
    assert_non_null(strstr(log, "define --file"));
    assert_null(strstr(strstr(log, "define --file") + 1, "define --file"));
}

static void
test_enable_present_and_skips(void **state)
{
    AUTOFREE char *d1 = NULL;
    AUTOFREE char *d2 = NULL;
    AUTOFREE char *d3 = NULL;
    AUTOFREE char *s1 = NULL;
    AUTOFREE char *s2 = NULL;
    AUTOFREE char *s3 = NULL;
    AUTOFREE char *log = NULL;
    struct fixture *fx = *state;

    assert_int_equal(enable("db-02", NULL, false, 10, &d1, &s1), ENABLE_PRESENT);
    assert_null(d1);
    assert_int_equal(enable("scratch", NULL, false, 10, &d2, &s2), ENABLE_SKIPPED);
    assert_non_null(strstr(d2, "transient"));
    assert_int_equal(enable("riscv-sandbox", NULL, false, 10, &d3, &s3), ENABLE_SKIPPED);
    assert_non_null(strstr(d3, "riscv64"));
    log = calls(fx);
    assert_null(strstr(log, "define"));
    /* a transient domain is never even dumped */
    assert_null(strstr(log, "dumpxml --inactive --security-info -- " UUID_TRANSIENT));
}

static void
test_enable_refuses_wrong_domain(void **state)
{
    AUTOFREE char *d1 = NULL;
    AUTOFREE char *d2 = NULL;
    AUTOFREE char *d3 = NULL;
    AUTOFREE char *s1 = NULL;
    AUTOFREE char *s2 = NULL;
    AUTOFREE char *s3 = NULL;
    struct fixture *fx = *state;
    AUTOFREE char *log = NULL;

    /* virsh resolves "7" as the running domain with id 7 */
    assert_int_equal(enable("7", NULL, false, 10, &d1, &s1), ENABLE_FAILED);
    assert_non_null(strstr(d1, "another domain"));
    /* the hook's UUID does not match the name's domain */
    assert_int_equal(enable("web-01", UUID_PANIC, false, 10, &d2, &s2), ENABLE_FAILED);
    assert_non_null(strstr(d2, "another domain"));
    /* no such domain */
    assert_int_equal(enable("nope", NULL, false, 10, &d3, &s3), ENABLE_FAILED);
    assert_string_equal(d3, "virsh domuuid: failed to get domain 'nope'");
    log = calls(fx);
    assert_null(strstr(log, "define"));
}

static void
test_enable_odd_name(void **state)
{
    struct fixture *fx = *state;
    AUTOFREE char *detail = NULL;
    AUTOFREE char *shown = NULL;
    AUTOFREE char *log = NULL;

    /* Known by UUID (as from the hook): the name never reaches virsh. */
    assert_int_equal(enable("x\"$(id)`x` --help", UUID_ODD, false, 10, &detail, &shown),
                     ENABLE_ADDED);
    assert_string_equal(shown, "x\"$(id)`x` --help");
    assert_string_equal(detail, "<panic model='pvpanic'>");
    log = calls(fx);
    assert_null(strstr(log, "id)"));
}

static void
test_enable_failures(void **state)
{
    struct fixture *fx = *state;
    AUTOFREE char *d1 = NULL;
    AUTOFREE char *d2 = NULL;
    AUTOFREE char *d3 = NULL;
    AUTOFREE char *s1 = NULL;
    AUTOFREE char *s2 = NULL;
    AUTOFREE char *s3 = NULL;
    AUTOFREE char *xml = NULL;
    long long t0;

    setenv("FAKE_VIRSH_FAIL_DEFINE", "1", 1);
    assert_int_equal(enable("web-01", NULL, false, 10, &d1, &s1), ENABLE_FAILED);
    assert_non_null(strstr(d1, "virsh define: Failed to define domain from "));
    assert_non_null(strstr(d1, "; unsupported configuration: the QEMU binary does not "
                               "support the ISA panic device"));
    unsetenv("FAKE_VIRSH_FAIL_DEFINE");
    xml = stored_xml(fx, UUID_PLAIN);
    assert_null(strstr(xml, "<panic"));

    setenv("FAKE_VIRSH_DROP_PANIC", "1", 1);
    assert_int_equal(enable("web-01", NULL, false, 10, &d2, &s2), ENABLE_FAILED);
    assert_non_null(strstr(d2, "accepted the new definition but it has no <panic model='isa'>"));
    unsetenv("FAKE_VIRSH_DROP_PANIC");

    setenv("FAKE_VIRSH_SLEEP", "20", 1);
    setenv("FAKE_VIRSH_SLEEP_CMD", "dumpxml", 1);
    t0 = now_ms();
    assert_int_equal(enable("web-01", NULL, false, 1, &d3, &s3), ENABLE_FAILED);
    assert_string_equal(d3, "virsh dumpxml did not finish within 1 s (killed)");
    assert_true(now_ms() - t0 < 8000);
    unsetenv("FAKE_VIRSH_SLEEP");
    unsetenv("FAKE_VIRSH_SLEEP_CMD");
}

static void
test_enable_dry_run_and_list(void **state)
{
    struct fixture *fx = *state;
    AUTOFREE char *detail = NULL;
    AUTOFREE char *shown = NULL;
    AUTOFREE char *xml = NULL;
    AUTOFREE char *err = NULL;
    char **uuids = NULL;
    int n;

    assert_int_equal(enable("web-01", NULL, true, 10, &detail, &shown), ENABLE_ADDED);
    assert_string_equal(detail, "<panic model='isa'>");
    xml = stored_xml(fx, UUID_PLAIN);
    assert_null(strstr(xml, "<panic"));

    n = enable_list_all("test:///fake", 10, &uuids, &err);
    assert_int_equal(n, 6);
    for (int i = 0; i < n; i++) {
        AUTOFREE char *norm = uuid_normalize(uuids[i]);

        assert_non_null(norm);
        free(uuids[i]);
    }
    assert_null(uuids[n]);
    free(uuids);
}

/* ---- the detached helper, started by the real hook --------------------- */

static ino_t
fd_inode(int fd)
{
    struct stat sb;

    assert_int_equal(fstat(fd, &sb), 0);
    return sb.st_ino;
}

/* Our children as pids, with their state letter. */
static size_t
list_children(pid_t *pids, char *states, size_t max)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    size_t n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) && n < max) {
        char path[300];
        char buf[512];
        FILE *f;
        char *rp;
        char st;
        int ppid;

        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
        if (!(f = fopen(path, "r")))
            continue;
        if (!fgets(buf, sizeof(buf), f)) {
            fclose(f);
            continue;
        }
        fclose(f);
        rp = strrchr(buf, ')');
        if (!rp || sscanf(rp + 2, "%c %d", &st, &ppid) != 2)
            continue;
        if (ppid == getpid()) {
            pids[n] = atoi(de->d_name);
            states[n] = st;
            n++;
        }
    }
    closedir(d);
    return n;
}

static void
test_hook_detaches_helper(void **state)
{
    struct fixture *fx = *state;
    const char *top = getenv("abs_top_builddir");
    AUTOFREE char *hook = xasprintf("%s/hooks/pvpanic-hook", top ? top : "..");
    AUTOFREE char *conf = xasprintf("%s/hook.conf", fx->dir);
    AUTOFREE char *confline = xasprintf("connect = test:///fake\nlog = stderr\n");
    AUTOFREE char *xml = stored_xml(fx, UUID_PLAIN);
    AUTOFREE char *xmlpath = xasprintf("%s/in.xml", fx->dir);
    AUTOFREE char *log = NULL;
    AUTOFREE char *after = NULL;
    int outp[2];
    int errp[2];
    int status = 0;
    pid_t hook_pid;
    pid_t kids[64];
    char states[64];
    size_t nkids;
    pid_t helper = -1;
    long long t0;
    long long eof_ms;
    ino_t out_ino;
    ino_t err_ino;
    AUTOFREE char *out_link = NULL;
    AUTOFREE char *err_link = NULL;
    struct strbuf err = STRBUF_INIT;
    char buf[4096];

    if (access(hook, X_OK) != 0)
        skip();
    /* Orphans (the helper) are re-parented to us, so we can watch and reap. */
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    write_file(conf, confline);
    chmod(conf, 0644);
    write_file(xmlpath, xml);
    setenv("PVPANIC_HOOK_CONF", conf, 1);
    setenv("FAKE_VIRSH_SLEEP", "2", 1);
    setenv("FAKE_VIRSH_SLEEP_CMD", "dominfo", 1);
    assert_int_equal(pipe(outp), 0);
    assert_int_equal(pipe(errp), 0);
    out_ino = fd_inode(outp[0]);
    err_ino = fd_inode(errp[0]);

    t0 = now_ms();
    hook_pid = fork();
    assert_true(hook_pid >= 0);
    if (hook_pid == 0) {
        int in = open(xmlpath, O_RDONLY);

        dup2(in, 0);
        dup2(outp[1], 1);
        dup2(errp[1], 2);
        close(outp[0]);
        close(errp[0]);
        /* argv[0] "qemu": hook mode, as libvirt runs /etc/libvirt/hooks/qemu */
        execl(hook, "qemu", "web-01", "prepare", "begin", "-", (char *)NULL);
        _exit(127);
    }
    close(outp[1]);
    close(errp[1]);

    /* Both pipes must reach EOF long before the helper's 2 s virsh calls end. */
    for (int open_fds = 2; open_fds > 0;) {
        struct pollfd pfd[2] = { { outp[0], POLLIN, 0 }, { errp[0], POLLIN, 0 } };
        int n = poll(pfd, 2, 10000);

        assert_true(n > 0);
        for (int i = 0; i < 2; i++) {
            ssize_t r;

            if (pfd[i].fd < 0 || !pfd[i].revents)
                continue;
            r = read(pfd[i].fd, buf, sizeof(buf));
            if (r > 0 && i == 1)
                strbuf_add(&err, buf, (size_t)r);
            assert_true(i == 1 || r <= 0);  /* nothing on stdout */
            if (r <= 0) {
                close(i ? errp[0] : outp[0]);
                if (i)
                    errp[0] = -1;
                else
                    outp[0] = -1;
                open_fds--;
            }
        }
    }
    eof_ms = now_ms() - t0;
    assert_int_equal(waitpid(hook_pid, &status, 0), hook_pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (eof_ms >= 1500)
        fail_msg("hook pipes reached EOF after %lld ms: the helper holds them", eof_ms);
    assert_non_null(strstr(strbuf_str(&err), "in the background"));

    /* Now: exactly one child of ours, the helper, alive (no zombie). */
    nkids = list_children(kids, states, 64);
    for (size_t i = 0; i < nkids; i++) {
        if (states[i] == 'Z')
            fail_msg("zombie child %d left behind", kids[i]);
        if (helper < 0)
            helper = kids[i];
    }
    assert_true(helper > 0);
    assert_true(getsid(helper) != getsid(0));
    /* The helper holds none of our pipes, and 0-2 are /dev/null. */
    out_link = xasprintf("pipe:[%lu]", (unsigned long)out_ino);
    err_link = xasprintf("pipe:[%lu]", (unsigned long)err_ino);
    {
        char link[PATH_MAX];
        AUTOFREE char *fddir = xasprintf("/proc/%d/fd", helper);
        DIR *d = opendir(fddir);
        struct dirent *de;

        assert_non_null(d);
        while ((de = readdir(d))) {
            AUTOFREE char *p = NULL;
            ssize_t n;
            int fd = atoi(de->d_name);

            if (de->d_name[0] == '.')
                continue;
            p = xasprintf("%s/%s", fddir, de->d_name);
            n = readlink(p, link, sizeof(link) - 1);
            if (n < 0)
                continue;
            link[n] = '\0';
            if (fd <= 2)
                assert_string_equal(link, "/dev/null");
            assert_string_not_equal(link, out_link);
            assert_string_not_equal(link, err_link);
            assert_null(strstr(link, "in.xml"));
        }
        closedir(d);
    }

    /* Reap the helper (bounded), then check what it did. */
    for (int i = 0; i < 300; i++) {
        pid_t r = waitpid(-1, &status, WNOHANG);

        if (r < 0 && errno == ECHILD)
            break;
        if (r == 0)
            usleep(50000);
    }
    assert_int_equal(waitpid(-1, &status, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
    log = calls(fx);
    assert_non_null(strstr(log, "-c test:///fake dominfo -- " UUID_PLAIN "\n"));
    assert_non_null(strstr(log, "define --file "));
    after = stored_xml(fx, UUID_PLAIN);
    assert_non_null(strstr(after, "<panic model='isa'>"));
    unsetenv("FAKE_VIRSH_SLEEP");
    unsetenv("FAKE_VIRSH_SLEEP_CMD");
    unsetenv("PVPANIC_HOOK_CONF");
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    strbuf_release(&err);
}

static void
test_spawn_reports_exec(void **state)
{
    /* The middle process is reaped before enroll_spawn returns. */
    const char *argv[] = { "true", NULL };
    pid_t kids[64];
    char states[64];

    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    assert_int_equal(enroll_spawn("/bin/true", (char *const *)argv), 0);
    for (int i = 0; i < 200; i++) {
        size_t n = list_children(kids, states, 64);
        int status;

        if (n == 0)
            break;
        waitpid(-1, &status, WNOHANG);
        usleep(10000);
    }
    assert_int_equal(list_children(kids, states, 64), 0);
    prctl(PR_SET_CHILD_SUBREAPER, 0);
}

static void
test_self_exe(void **state)
{
    AUTOFREE char *self = self_exe_path();

    assert_non_null(strstr(self, "test_enroll"));
}

int
main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_run_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_command_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_command_timeout_kills_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enable_adds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enable_present_and_skips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enable_refuses_wrong_domain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enable_odd_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enable_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enable_dry_run_and_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_detaches_helper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spawn_reports_exec, setup, teardown),
        cmocka_unit_test(test_self_exe),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
