/*
 * log.h: the daemon/CLI logging API (OpenSMTPD log.h shape).
 *
 *   log_warn()   message + ": " + strerror(errno)    LOG_WARNING
 *   log_warnx()  message only                        LOG_WARNING
 *   log_info()   shown at verbosity >= 1 on stderr; always sent to syslog
 *   log_debug()  shown at verbosity >= 2 (stderr and syslog)
 *   fatal(), fatalx()  log at LOG_CRIT and exit(1): main() and daemon loops only
 *
 * Destinations are a bit set: LOG_DEST_STDERR, LOG_DEST_SYSLOG. Every call
 * preserves errno, so "log_warn(...); return -errno;" works.
 */
#ifndef PVPANIC_LOG_H
#define PVPANIC_LOG_H

#include <stdarg.h>

enum log_dest {
    LOG_DEST_NONE = 0,
    LOG_DEST_STDERR = 1 << 0,
    LOG_DEST_SYSLOG = 1 << 1,
};

/* @ident is borrowed and must outlive the logger (use a literal). */
void log_init(const char *ident, int dest, int verbose);
void log_set_dest(int dest);
int log_get_dest(void);
void log_set_verbose(int verbose);
int log_get_verbose(void);
/* syslog facility (LOG_DAEMON by default); takes effect on the next message. */
void log_set_facility(int facility);

/*
 * Test hook: when set, every message that passes the verbosity filter is
 * also handed to @fn with its syslog priority. @fn must not log.
 */
typedef void (*log_capture_fn)(int priority, const char *msg, void *opaque);
void log_set_capture(log_capture_fn fn, void *opaque);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Always shown (an error the user must see), at LOG_ERR. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vlog(int priority, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif /* PVPANIC_LOG_H */
