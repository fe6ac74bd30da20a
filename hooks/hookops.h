/*
 * hookops.h: the libvirt qemu hook protocol and our policy, as pure
 * functions (no I/O): argv words -> operation, operation -> what to read,
 * (operation, policy, selection, inspection) -> what to do.
 *
 * libvirt calls HOOK DOMAIN OP SUBOP EXTRA with the domain XML on stdin
 * (docs/hooks.rst; src/util/virhook.c virHookQemuOp / virHookSubop).
 */
#ifndef PVPANIC_HOOKOPS_H
#define PVPANIC_HOOKOPS_H

#include <stdbool.h>

enum hook_op {
    HOOK_OP_START,
    HOOK_OP_STOPPED,
    HOOK_OP_PREPARE,
    HOOK_OP_RELEASE,
    HOOK_OP_MIGRATE,
    HOOK_OP_STARTED,
    HOOK_OP_RECONNECT,
    HOOK_OP_ATTACH,
    HOOK_OP_RESTORE,
    HOOK_OP_LAST
};

enum hook_subop {
    HOOK_SUBOP_NONE,    /* "-" */
    HOOK_SUBOP_BEGIN,
    HOOK_SUBOP_END,
    HOOK_SUBOP_LAST
};

/*
 * How the binary tells the two modes apart, from argv[0] alone: CLI mode
 * only when the program's file name is exactly "pvpanic-hook"; under any
 * other name (libvirt runs it as .../hooks/qemu or .../qemu.d/50-pvpanic)
 * it is the hook, and its arguments are never read as options or commands.
 * NULL (argc == 0) counts as hook mode, which then fails open.
 */
#define HOOK_CLI_NAME "pvpanic-hook"
bool hook_mode_for_argv0(const char *argv0);

/* String <-> enum; the parsers return -1 for a word libvirt may add later. */
const char *hook_op_to_string(enum hook_op op);
int hook_op_from_string(const char *s);
const char *hook_subop_to_string(enum hook_subop subop);
int hook_subop_from_string(const char *s);

enum on_missing {
    ON_MISSING_ENROLL,
    ON_MISSING_WARN,
    ON_MISSING_REFUSE,
    ON_MISSING_LAST
};

const char *on_missing_to_string(enum on_missing p);
int on_missing_from_string(const char *s);

/* What an operation needs from us. @op/@subop may be -1 (unknown word). */
enum hook_plan {
    HOOK_PLAN_DRAIN,    /* consume stdin, exit 0 */
    HOOK_PLAN_CHECK,    /* prepare begin: inspect and apply on_missing */
    HOOK_PLAN_FILTER,   /* migrate/restore begin: stdout is the new XML; print nothing */
};

enum hook_plan hook_plan_for(int op, int subop);

/* What the XML told us. */
enum hook_verdict {
    HOOK_VERDICT_USABLE,        /* has a usable <panic> */
    HOOK_VERDICT_MISSING,       /* none, and one can be added */
    HOOK_VERDICT_NO_MODEL,      /* none, and no model fits this arch */
    HOOK_VERDICT_UNVERIFIABLE,  /* stdin empty, garbage, too large, too slow */
};

enum hook_action {
    HOOK_ACTION_NOTHING,    /* exit 0 quietly */
    HOOK_ACTION_NOTE,       /* log that the device is missing (info), exit 0 */
    HOOK_ACTION_WARN,       /* log a warning, exit 0 */
    HOOK_ACTION_REFUSE,     /* one line on stderr, exit 1: libvirt aborts the start */
    HOOK_ACTION_ENROLL,     /* start the detached helper, log, exit 0 */
};

const char *hook_action_to_string(enum hook_action a);

/*
 * Apply a domain's own <metadata> policy (domxml_metadata_on_missing):
 * "ignore" deselects it, "enroll"/"warn"/"refuse" replace *@policy.
 * Returns 0, or -1 for any other value (nothing changed).
 */
int hook_apply_metadata(const char *value, enum on_missing *policy, bool *selected);

/*
 * The policy. Only prepare begin may refuse or enroll; migrate/restore
 * begin only note (refusing would strand a guest mid-migration, and
 * libvirt's ABI check forbids adding the device there). A domain the hook
 * cannot verify is allowed (fail open) unless on_missing is refuse.
 */
enum hook_action hook_decide(enum hook_plan plan, enum on_missing policy, bool selected,
                             enum hook_verdict verdict);

/*
 * @s as one shell word that a POSIX shell reads back unchanged: bare when
 * it only has safe characters and does not start with '-', else in single
 * quotes ($'...' with escapes when it holds control characters). Caller frees.
 */
char *shell_quote(const char *s);

/*
 * @s made safe for a one-line log message: control bytes and invalid
 * UTF-8 become \xNN. Caller frees.
 */
char *display_name(const char *s);

#endif /* PVPANIC_HOOKOPS_H */
