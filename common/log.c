#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "log.h"

static const char *log_ident = "pvpanic";
static int log_dest = LOG_DEST_STDERR;
static int log_verbose;
static int log_facility = LOG_DAEMON;
static int log_syslog_open;
static log_capture_fn log_capture;
static void *log_capture_opaque;

void
log_init(const char *ident, int dest, int verbose)
{
    log_ident = ident;
    log_verbose = verbose;
    log_set_dest(dest);
}

void
log_set_dest(int dest)
{
    log_dest = dest;
    if ((dest & LOG_DEST_SYSLOG) && !log_syslog_open) {
        openlog(log_ident, LOG_PID, log_facility);
        log_syslog_open = 1;
    }
}

int
log_get_dest(void)
{
    return log_dest;
}

void
log_set_verbose(int verbose)
{
    log_verbose = verbose;
}

int
log_get_verbose(void)
{
    return log_verbose;
}

void
log_set_facility(int facility)
{
    log_facility = facility;
    if (log_syslog_open) {
        closelog();
        openlog(log_ident, LOG_PID, log_facility);
    }
}

void
log_set_capture(log_capture_fn fn, void *opaque)
{
    log_capture = fn;
    log_capture_opaque = opaque;
}

static int
log_wanted_on_stderr(int priority)
{
    if (priority <= LOG_WARNING)
        return 1;
    if (priority == LOG_INFO || priority == LOG_NOTICE)
        return log_verbose >= 1;
    return log_verbose >= 2;
}

static void
log_str(int priority, const char *msg)
{
    int saved_errno = errno;

    if (priority == LOG_DEBUG && log_verbose < 2)
        return;
    if (log_capture)
        log_capture(priority, msg, log_capture_opaque);
    if ((log_dest & LOG_DEST_STDERR) && log_wanted_on_stderr(priority))
        fprintf(stderr, "%s: %s\n", log_ident, msg);
    if (log_dest & LOG_DEST_SYSLOG)
        syslog(priority, "%s", msg);
    errno = saved_errno;
}

void
vlog(int priority, const char *fmt, va_list ap)
{
    int saved_errno = errno;
    char msg[8192];

    if (priority == LOG_DEBUG && log_verbose < 2)
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    log_str(priority, msg);
    errno = saved_errno;
}

static void __attribute__((format(printf, 3, 0)))
vlog_errno(int priority, int err, const char *fmt, va_list ap)
{
    char msg[8192];
    size_t len;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    len = strlen(msg);
    snprintf(msg + len, sizeof(msg) - len, ": %s", strerror(err));
    log_str(priority, msg);
    errno = err;
}

void
log_warn(const char *fmt, ...)
{
    int err = errno;
    va_list ap;

    va_start(ap, fmt);
    vlog_errno(LOG_WARNING, err, fmt, ap);
    va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(LOG_WARNING, fmt, ap);
    va_end(ap);
}

void
log_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(LOG_ERR, fmt, ap);
    va_end(ap);
}

void
log_info(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(LOG_INFO, fmt, ap);
    va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(LOG_DEBUG, fmt, ap);
    va_end(ap);
}

void
fatal(const char *fmt, ...)
{
    int err = errno;
    va_list ap;

    va_start(ap, fmt);
    vlog_errno(LOG_CRIT, err, fmt, ap);
    va_end(ap);
    exit(1);
}

void
fatalx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(LOG_CRIT, fmt, ap);
    va_end(ap);
    exit(1);
}
