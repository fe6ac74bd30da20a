/*
 * audit.h: `pvpanic-watch audit`, the one-shot scan of libvirt logs.
 *
 * I/O lives here (files, gzip, stdin, output); all parsing is done by the
 * pure library (detect.h). The helpers below are exposed for the unit
 * tests and for `follow`, which reads the same files.
 */
#ifndef PVPANIC_AUDIT_H
#define PVPANIC_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit statuses of `audit`. */
#define AUDIT_EXIT_NONE 0       /* no event */
#define AUDIT_EXIT_EVENTS 1     /* at least one event */
#define AUDIT_EXIT_ERROR 2      /* bad option, unreadable file, bad config */

/* argv[0] is "audit". Returns one of the AUDIT_EXIT_* values. */
int audit_main(int argc, char **argv);

/*
 * Parse a --since value: "YYYY-MM-DD[( |T)HH:MM[:SS[.mmm]]][Z]" (UTC),
 * "@EPOCH" (seconds) or an age "N[s|m|h|d|w]" counted back from @now_ms.
 * Returns 0 with *@out_ms set, or -EINVAL.
 */
int audit_parse_since(const char *s, int64_t now_ms, int64_t *out_ms);

/*
 * Rotation of a log file name: the base name shared by the set (the path
 * without ".N", ".N.gz", ".gz", "-YYYYMMDD[.gz]") in *@out_base (caller
 * frees) and a sort key: larger = newer, the live file (no suffix) is
 * INT64_MAX. "libvirtd.log.2.gz" -> "libvirtd.log", -2.
 */
int64_t audit_rotation_key(const char *path, char **out_base);

/* Guest name of a per-domain log path: basename without rotation and ".log" (caller frees). */
char *audit_domain_from_path(const char *path);

#endif /* PVPANIC_AUDIT_H */
