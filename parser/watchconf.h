/*
 * watchconf.h: /etc/pvpanic/watch.conf, in the shared format of conf.h.
 *
 *   file = /var/log/libvirt/libvirtd.log     # repeatable, globs allowed
 *   file = /var/log/libvirt/qemu/NAME.log    # (a glob such as qemu/[*].log works too)
 *   hold = 1s                                # detect_config.hold_ms
 *   match_window = 5s                        # detect_config.match_window_ms
 *
 *   [rule monitor-eof]                       # operator rule (label = name)
 *   regex = End of file from qemu monitor mon=(?<mon>0x[0-9a-f]+)
 *   severity = warning                       # emerg alert crit err warning notice info debug
 *   event = custom                           # panic | crashloaded | custom
 *
 * The reader is table-driven (one row per section and key in watchconf.c);
 * entries it does not know go to an optional "extra" door first (the
 * follow daemon's [sink ...] and state keys), and are errors if nobody
 * takes them. Rules are compiled when their section ends, and a bad
 * pattern is reported as "FILE:LINE: rule 'NAME': regex error at offset
 * N: MESSAGE" with LINE the line of its regex key.
 */
#ifndef PVPANIC_WATCHCONF_H
#define PVPANIC_WATCHCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "classify.h"
#include "conf.h"
#include "detect.h"

#define WATCHCONF_DEFAULT_PATH SYSCONFDIR "/pvpanic/watch.conf"

struct watchconf {
    char **files;               /* file = entries in order (patterns, not expanded) */
    size_t nfiles;
    uint64_t hold_ms;
    uint64_t match_window_ms;
    struct classify_rules *rules;
    size_t nrules;
    /* parser state */
    struct watch_rule_draft *draft;
    unsigned int errors;
};

/*
 * Extra door for sections and keys owned by someone else (e.g.
 * sinkset_conf_entry()). Return 1 if the entry was consumed, 0 if it is not
 * yours, -1 with *@errmsg (xasprintf) to reject it.
 */
typedef int (*watchconf_extra_fn)(const struct conf_entry *e, void *opaque, char **errmsg);

/* Defaults: no files, DETECT_DEFAULT_* windows, no rules. Free with watchconf_free(). */
struct watchconf *watchconf_new(void);
void watchconf_free(struct watchconf *wc);

/*
 * Read a config into @wc (entries add to what is there). Problems are
 * logged once each as "FILE:LINE: message". Returns 0, -EINVAL if anything
 * was wrong, or -errno if the file cannot be read. @extra may be NULL.
 */
int watchconf_load_file(struct watchconf *wc, const char *path, bool secure,
                        watchconf_extra_fn extra, void *opaque);
int watchconf_load_string(struct watchconf *wc, const char *name, const char *text, size_t len,
                          watchconf_extra_fn extra, void *opaque);

/* Copy the detector settings (windows, rules) into @cfg (rules stay owned by @wc). */
void watchconf_apply(const struct watchconf *wc, struct detect_config *cfg);

#endif /* PVPANIC_WATCHCONF_H */
