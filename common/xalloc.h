/*
 * xalloc.h: allocation that aborts on out-of-memory (OpenSMTPD xmalloc).
 *
 * No function in this project has an ENOMEM path: an allocation failure
 * prints one line and aborts. Every returned pointer is owned by the caller
 * and released with free().
 */
#ifndef PVPANIC_XALLOC_H
#define PVPANIC_XALLOC_H

#include <stdarg.h>
#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

#endif /* PVPANIC_XALLOC_H */
