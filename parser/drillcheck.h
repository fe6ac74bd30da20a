/*
 * drillcheck.h: the pure parts of `pvpanic-watch drill` (drill.h): reading
 * libvirt's daemon config, deciding whether its log records panic events,
 * finding where a domain's monitor was opened in a log, recognising the
 * NMI libvirt sends, reading /proc command lines, and the texts that
 * explain a broken link. No I/O here: the drill reads, this decides.
 */
#ifndef PVPANIC_DRILLCHECK_H
#define PVPANIC_DRILLCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

/* ---- libvirtd.conf / virtqemud.conf ------------------------------------- */

/*
 * The keys of a libvirt daemon config the drill needs. libvirt's config
 * syntax (virconf): "key = value", value a quoted string ("..." or '...',
 * no escapes), an integer, or a [list] that may span lines; '#' comments.
 * The first assignment of a key counts, as in virConfGetValue().
 */
struct lvconf {
    char *log_outputs;          /* NULL when not set */
    char *log_filters;
    int log_level;              /* 1 debug .. 4 error; -1 when not set */
    char *unix_sock_dir;
};

void lvconf_parse(const char *text, size_t len, struct lvconf *out);
void lvconf_clear(struct lvconf *c);

enum lvout_dest { LVOUT_FILE, LVOUT_JOURNALD, LVOUT_SYSLOG, LVOUT_STDERR, LVOUT_OTHER };

struct lvoutput {
    int level;                  /* 1..4 */
    enum lvout_dest dest;
    char *path;                 /* LVOUT_FILE only */
};

/* "1:file:/var/log/libvirt/libvirtd.log 3:journald": the count, *@out (free with lvoutputs_free). */
size_t lvlog_parse_outputs(const char *s, struct lvoutput **out);
void lvoutputs_free(struct lvoutput *v, size_t n);

/*
 * Priority (1 debug .. 4 error) a message of log source @source must have to
 * be logged under @filters ("1:qemu.qemu_process 2:qemu 3:*"; NULL = none),
 * as virLogSourceUpdate() decides it: the first filter whose pattern, taken
 * as "*PATTERN*" (glob with * and ?), matches the source name; else
 * @default_level (log_level, 3 when not set).
 */
int lvlog_source_priority(const char *filters, int default_level, const char *source);

/* The log sources of the lines the drill needs. */
#define LVLOG_SOURCE_EVENTS "qemu.qemu_monitor_json"   /* QEMU_MONITOR_RECV_EVENT, info */
#define LVLOG_SOURCE_MONITOR "qemu.qemu_monitor"       /* QEMU_MONITOR_NEW/SEND_MSG, info */
#define LVLOG_SOURCE_NAMES "qemu.qemu_process"         /* "Connect monitor to ... name=", debug */

/* What a daemon config means for panic logging. */
struct log_plan {
    char *file;                 /* file output to read (lowest level), NULL if none */
    bool default_output;        /* log_outputs not set: libvirt's default destination */
    bool records_events;        /* GUEST_PANICKED (info, qemu.qemu_monitor_json) reaches @file */
    bool records_sends;         /* QEMU_MONITOR_SEND_MSG (info, qemu.qemu_monitor) reaches @file */
    bool records_names;         /* "Connect monitor to" (debug, qemu.qemu_process) reaches @file */
    int events_priority;        /* effective filter priority of LVLOG_SOURCE_EVENTS */
};

/*
 * @binary "libvirtd" or "virtqemud"; @journald: libvirt's default output
 * would be journald (its socket exists). Free with log_plan_clear().
 */
void lvlog_plan(const struct lvconf *c, const char *binary, bool journald, struct log_plan *p);
void log_plan_clear(struct log_plan *p);

/* ---- the log -------------------------------------------------------------- */

/*
 * Offset of the start of the last line in @buf that begins the current
 * monitor lifetime of domain @name, or -1: a "Connect monitor to ...
 * '@name'" or "Reconnect monitor to ... '@name'" line (any libvirt version),
 * or a start-time taint "Domain id=N name='@name' uuid=U is tainted:
 * high-privileges|custom-argv|..." (what the resolver uses at info level).
 * Only lines that start inside @buf count (a line cut at the start of @buf
 * is not looked at), unless @buf_is_file_start.
 */
int64_t drill_last_start_marker(const char *buf, size_t len, bool buf_is_file_start,
                                const char *name, size_t name_len);

/*
 * One complete log line (no '\n'): is it libvirt sending inject-nmi to a
 * monitor ("QEMU_MONITOR_SEND_MSG: mon=0x... msg={"execute":"inject-nmi"...")?
 * Then *@mon and *@time_ms (-1 if the timestamp is unreadable).
 */
bool drill_parse_nmi_send(const char *line, size_t len, uint64_t *mon, int64_t *time_ms);

/* ---- virsh answers -------------------------------------------------------- */

/* First line of @s, trimmed (new string): "running (booted)\n\n" -> "running (booted)". */
char *drill_first_line(const char *s);

enum dom_state { DOM_STATE_RUNNING, DOM_STATE_PAUSED, DOM_STATE_SHUTOFF, DOM_STATE_CRASHED,
                 DOM_STATE_OTHER };
/* The state word(s) of "virsh domstate --reason" output ("running (booted)" -> RUNNING). */
enum dom_state drill_dom_state(const char *state);

/* What libvirt does after a panic under <on_crash>@action (NULL = destroy, the default). */
const char *drill_on_crash_effect(const char *action);
/* The "virsh domstate --reason" libvirt shows after that ("crashed (panicked)", ...). */
const char *drill_on_crash_state(const char *action);

/* ---- /proc/PID/cmdline ---------------------------------------------------- */

/* Split a NUL-separated cmdline into a new argv (NULL-terminated; free each and it). */
char **drill_split_cmdline(const char *buf, size_t len, int *argc);
void drill_free_argv(char **argv);

/* `pvpanic-watch follow` as its argv says. Strings borrowed from the argv. */
struct follow_args {
    const char *config;         /* -c/--config, NULL when not given */
    const char *json;           /* --json, NULL when not given */
    const char *const *files;   /* FILE|PATTERN arguments */
    size_t nfiles;
};

/*
 * True when @argv is a running `pvpanic-watch follow` daemon (not -n, not
 * --help); fills @out. Options are read as follow_main() reads them.
 */
bool drill_parse_follow_argv(int argc, char *const *argv, struct follow_args *out);

/*
 * True when @argv is a libvirt daemon that runs the QEMU driver (libvirtd
 * or virtqemud); *@binary is its name (static string) and *@config the
 * -f/--config argument (borrowed) or NULL for the default.
 */
bool drill_parse_daemon_argv(int argc, char *const *argv, const char **binary, const char **config);

/* "qemu:///system?socket=/run/x/libvirt-sock" -> "/run/x/libvirt-sock" (new string) or NULL. */
char *drill_uri_socket(const char *uri);

/* ---- explanations ----------------------------------------------------------- */

struct drill_guest {
    bool windows_likely;        /* hyperv features/panic model, libosinfo microsoft id */
    bool linux_likely;          /* direct kernel boot, libosinfo Linux id */
    bool has_isa;               /* <panic model='isa'> or default model on x86 */
    bool has_hyperv;
    bool has_pci;               /* <panic model='pvpanic'> */
    bool acpi;
};

/*
 * Why no panic event came after the NMI: one "- ..." line per likely cause,
 * the likely guest OS first, each with its fix. @state_after is what virsh
 * domstate said after the wait (may be NULL).
 */
void drill_explain_no_event(const struct drill_guest *g, const char *state_after,
                            struct strbuf *out);

#endif /* PVPANIC_DRILLCHECK_H */
