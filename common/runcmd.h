/*
 * runcmd.h: run a program (virsh) safely and collect what it prints.
 *
 * No shell: argv[0] is looked up in PATH (execvp; for "virsh", VIRSH_PATH
 * from configure is the fallback). The child gets LC_ALL=C so its messages
 * can be parsed, stdin on /dev/null, default signal dispositions, and its
 * own process group, which is killed as a whole when the time bound passes.
 * Arguments are data: callers put "--" before domain names.
 */
#ifndef PVPANIC_RUNCMD_H
#define PVPANIC_RUNCMD_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* stdout kept: the largest domain XML libvirt produces (DOMXML_MAX_SIZE) + 1. */
#define RUNCMD_OUT_CAP (((size_t)16 << 20) + 1)

struct cmd_result {
    int status;         /* exit status, 128+signal, or -1 if it could not run */
    bool timed_out;
    char *out;          /* stdout, NUL-terminated (capped) */
    size_t out_len;
    char *err;          /* stderr, NUL-terminated (capped) */
};

/*
 * Run @argv (argv[0] looked up in PATH) and collect its output, for at most
 * @timeout_ms. Returns 0 if it ran (see @res->status), -errno if it could not
 * be started. Free @res with cmd_result_release().
 */
int run_command(char *const argv[], unsigned int timeout_ms, struct cmd_result *res);
void cmd_result_release(struct cmd_result *res);

/*
 * run_command() of "virsh [-c @connect] ARGS...", the ARGS from @ap up to a
 * NULL (argv is capped at 16 entries: more are dropped). @connect NULL:
 * virsh's default URI.
 */
int run_virshv(const char *connect, unsigned int timeout_ms, struct cmd_result *res, va_list ap);

/* Every signal back to its default and unblocked, as a freshly exec'd program expects. */
void runcmd_reset_signals(void);

#endif /* PVPANIC_RUNCMD_H */
