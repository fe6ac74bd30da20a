/*
 * enroll.h: adding the panic device to persistent definitions through
 * virsh, and the detached helper the hook starts to do it.
 *
 * virsh is run through run_command() (common/runcmd.h): no shell, LC_ALL=C,
 * stdin on /dev/null, a time bound after which its whole process group is
 * killed. Domain names are always passed after "--".
 */
#ifndef PVPANIC_ENROLL_H
#define PVPANIC_ENROLL_H

#include <stdbool.h>
#include <sys/types.h>

#include "domxml.h"
#include "runcmd.h"       /* run_command(), struct cmd_result */

#define ENROLL_VIRSH_TIMEOUT_S 60u

enum enable_status {
    ENABLE_ADDED,       /* panic device added (and <on_crash> set if asked) */
    ENABLE_UPDATED,     /* device was there; only <on_crash> changed */
    ENABLE_PRESENT,     /* nothing to do */
    ENABLE_SKIPPED,
    ENABLE_FAILED,
};

struct enable_request {
    const char *name;       /* domain name, or NULL when only the UUID is known */
    const char *uuid;       /* must match when given */
    const char *connect;    /* virsh -c URI, NULL for virsh's default */
    enum panic_model model;
    int iobase;             /* -1: default */
    const char *on_crash;   /* NULL: leave */
    unsigned int timeout_s; /* per virsh call */
    bool dry_run;           /* patch but do not define */
};

/*
 * The define-time path for one domain: resolve it (by UUID when known, so
 * a name that looks like an ID or UUID cannot select another domain),
 * require a persistent definition, dumpxml --inactive --security-info,
 * patch, define, and read it back to confirm. Returns the status; *@detail
 * (caller frees; NULL for PRESENT) says what changed ("<panic model='isa'>")
 * or why it was skipped/failed, and
 * *@shown_name (caller frees) is the domain's name for the report.
 */
enum enable_status enable_domain(const struct enable_request *req, char **detail,
                                 char **shown_name);

/*
 * UUIDs of all domains (virsh list --all --uuid). Returns the count (>= 0)
 * and a NULL-terminated array in *@out (free each and the array), or
 * -errno with *@errmsg.
 */
int enable_list_all(const char *connect, unsigned int timeout_s, char ***out, char **errmsg);

/*
 * Start @argv[] as a fully detached process and return at once: fork,
 * setsid, fork again (the middle process is reaped here, so no zombie is
 * left and the grandchild cannot regain a terminal), close every inherited
 * descriptor, /dev/null on 0-2, cwd /, default signal dispositions, then
 * exec @path. libvirtd waits for the hook's stdout/stderr to reach EOF;
 * nothing of ours keeps them open. Returns 0 or -errno.
 */
int enroll_spawn(const char *path, char *const argv[]);

/* The running program, for re-executing ourselves as the helper (caller frees). */
char *self_exe_path(void);

#endif /* PVPANIC_ENROLL_H */
