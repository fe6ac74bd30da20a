/*
 * hookconf.h: /etc/pvpanic/hook.conf, read with the common conf.h format.
 *
 *   on_missing    = enroll | warn | refuse      (default enroll)
 *   model         = auto | isa | pvpanic | hyperv | pseries | s390 (auto)
 *   include       = NAME-GLOB     repeatable; when any include or
 *   include_uuid  = UUID          include_uuid is given, only matching
 *   exclude       = NAME-GLOB     domains are handled; excludes win
 *   exclude_uuid  = UUID
 *   log           = syslog | stderr | both | none   (default both)
 *   connect       = URI           used by enroll (default qemu:///system)
 *   verbose       = yes | no
 *   stdin_timeout = DURATION      bound on reading the hook's stdin (10s)
 *   metadata      = yes | no      honour a domain's own <metadata> policy (yes)
 *
 * A missing file means all defaults. Problems are reported through
 * log_warnx() as "FILE:LINE: message", one per problem.
 */
#ifndef PVPANIC_HOOKCONF_H
#define PVPANIC_HOOKCONF_H

#include <stdbool.h>
#include <stddef.h>

#include "cleanup.h"
#include "domxml.h"
#include "hookops.h"

#define HOOKCONF_ENV "PVPANIC_HOOK_CONF"
#define HOOKCONF_DEFAULT_PATH SYSCONFDIR "/pvpanic/hook.conf"
#define HOOKCONF_DEFAULT_CONNECT "qemu:///system"
#define HOOKCONF_DEFAULT_STDIN_TIMEOUT_MS 10000ULL

struct strlist {
    char **v;
    size_t n;
};

struct hook_conf {
    char *path;                 /* the file read, or the default path if absent */
    bool from_file;             /* false: the file does not exist, defaults apply */
    enum on_missing on_missing;
    enum panic_model model;
    struct strlist include;
    struct strlist exclude;
    struct strlist include_uuid;    /* normalized: 32 lower-case hex digits */
    struct strlist exclude_uuid;
    int log_dest;               /* LOG_DEST_* bits */
    char *connect;
    bool verbose;
    unsigned long long stdin_timeout_ms;
    bool metadata;              /* honour per-domain <metadata> policy */
};

/* The path in use: $PVPANIC_HOOK_CONF if set and non-empty, else the default. */
const char *hookconf_path(void);

/* A configuration with every default (never fails). */
struct hook_conf *hookconf_new(void);

/*
 * Read @path into a new config. A missing file is not an error (defaults,
 * from_file = false). Returns 0, or -EINVAL (some line was wrong) / -errno
 * (unreadable, -EPERM: writable by others); *@out is always set, with
 * defaults for whatever could not be read, so callers can fail open.
 */
int hookconf_load(const char *path, struct hook_conf **out);

/* The same from memory; @name is used in diagnostics. */
int hookconf_parse_string(const char *name, const char *text, size_t len,
                          struct hook_conf **out);

void hookconf_free(struct hook_conf *c);

/* For AUTOPTR(hook_conf) only. */
typedef struct hook_conf hook_conf;
DEFINE_AUTOPTR(hook_conf, hookconf_free)

/*
 * Whether the hook handles this domain. @uuid may be NULL (unknown); it is
 * compared case-insensitively and with or without dashes.
 */
bool hookconf_selects(const struct hook_conf *c, const char *name, const char *uuid);

/* "syslog", "stderr", "both", "none". */
const char *hookconf_log_to_string(int dest);

/* 32 lower-case hex digits from a UUID with or without dashes; NULL if invalid. */
char *uuid_normalize(const char *s);

#endif /* PVPANIC_HOOKCONF_H */
