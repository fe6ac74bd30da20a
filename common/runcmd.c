/*
 * runcmd.c: run a program without a shell, with a time bound, and collect
 * its output. Moved here from hooks/enroll.c so pvpanic-hook (enable,
 * enroll) and pvpanic-watch (drill) run virsh the same way.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "runcmd.h"
#include "strbuf.h"

#define CMD_ERR_CAP ((size_t)64 * 1024)

static long long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
runcmd_reset_signals(void)
{
    sigset_t all;

    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    }
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
}

static void
child_exec(char *const argv[], int out_fd, int err_fd)
{
    int devnull = open("/dev/null", O_RDONLY);

    setpgid(0, 0);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
        _exit(127);
    runcmd_reset_signals();
    /* virsh's messages are translated; we parse them. */
    setenv("LC_ALL", "C", 1);
    execvp(argv[0], argv);
    if (errno == ENOENT && strcmp(argv[0], "virsh") == 0)
        execv(VIRSH_PATH, argv);
    dprintf(2, "cannot run '%s': %s\n", argv[0], strerror(errno));
    _exit(127);
}

void
cmd_result_release(struct cmd_result *res)
{
    free(res->out);
    free(res->err);
    res->out = res->err = NULL;
}

static void
collect(int *fd, struct strbuf *sb, size_t cap)
{
    char buf[65536];
    ssize_t n = read(*fd, buf, sizeof(buf));

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        close(*fd);
        *fd = -1;
        return;
    }
    if (sb->len < cap)
        strbuf_add(sb, buf, (size_t)n < cap - sb->len ? (size_t)n : cap - sb->len);
}

int
run_command(char *const argv[], unsigned int timeout_ms, struct cmd_result *res)
{
    int outp[2] = { -1, -1 };
    int errp[2] = { -1, -1 };
    struct strbuf out = STRBUF_INIT;
    struct strbuf err = STRBUF_INIT;
    long long deadline = now_ms() + timeout_ms;
    int wstatus = 0;
    pid_t pid;

    memset(res, 0, sizeof(*res));
    res->status = -1;
    if (pipe2(outp, O_CLOEXEC) < 0)
        return -errno;
    if (pipe2(errp, O_CLOEXEC) < 0) {
        int rc = -errno;

        close(outp[0]);
        close(outp[1]);
        return rc;
    }
    pid = fork();
    if (pid < 0) {
        int rc = -errno;

        close(outp[0]);
        close(outp[1]);
        close(errp[0]);
        close(errp[1]);
        return rc;
    }
    if (pid == 0)
        child_exec(argv, outp[1], errp[1]);
    /* Also here, so the kill below cannot race the child's own setpgid. */
    setpgid(pid, pid);
    close(outp[1]);
    close(errp[1]);

    while (outp[0] >= 0 || errp[0] >= 0) {
        struct pollfd pfd[2] = { { outp[0], POLLIN, 0 }, { errp[0], POLLIN, 0 } };
        long long left = deadline - now_ms();
        int n;

        if (left <= 0) {
            res->timed_out = true;
            kill(-pid, SIGKILL);
            break;
        }
        n = poll(pfd, 2, left > INT_MAX ? INT_MAX : (int)left);
        if (n < 0 && errno != EINTR)
            break;
        if (n <= 0)
            continue;
        if (pfd[0].revents)
            collect(&outp[0], &out, RUNCMD_OUT_CAP);
        if (pfd[1].revents)
            collect(&errp[0], &err, CMD_ERR_CAP);
    }
    if (outp[0] >= 0)
        close(outp[0]);
    if (errp[0] >= 0)
        close(errp[0]);
    if (!res->timed_out) {
        /* Output closed early but the process lingers: bound that too. */
        while (waitpid(pid, &wstatus, WNOHANG) == 0) {
            if (now_ms() >= deadline) {
                res->timed_out = true;
                kill(-pid, SIGKILL);
                break;
            }
            usleep(10000);
        }
    }
    if (res->timed_out) {
        while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
            ;
    }
    if (WIFEXITED(wstatus))
        res->status = WEXITSTATUS(wstatus);
    else if (WIFSIGNALED(wstatus))
        res->status = 128 + WTERMSIG(wstatus);
    res->out = strbuf_detach(&out, &res->out_len);
    res->err = strbuf_detach(&err, NULL);
    return 0;
}

int
run_virshv(const char *connect, unsigned int timeout_ms, struct cmd_result *res, va_list ap)
{
    const char *argv[16];
    size_t n = 0;
    const char *a;

    argv[n++] = "virsh";
    if (connect) {
        argv[n++] = "-c";
        argv[n++] = connect;
    }
    while ((a = va_arg(ap, const char *)) && n < ARRAY_SIZE(argv) - 1)
        argv[n++] = a;
    argv[n] = NULL;
    return run_command((char *const *)argv, timeout_ms, res);
}
