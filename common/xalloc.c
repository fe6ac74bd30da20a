#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static void __attribute__((noreturn))
xalloc_die(size_t n)
{
    /* No logging module here on purpose: it may itself allocate. */
    fprintf(stderr, "out of memory (allocating %zu bytes)\n", n);
    abort();
}

void *
xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (!p)
        xalloc_die(size);
    return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

    if (!p)
        xalloc_die(nmemb * size);
    return p;
}

void *
xreallocarray(void *ptr, size_t nmemb, size_t size)
{
    void *p;
    size_t total;

    if (size && nmemb > SIZE_MAX / size)
        xalloc_die(SIZE_MAX);
    total = nmemb * size;
    p = realloc(ptr, total != 0 ? total : 1);
    if (!p)
        xalloc_die(total);
    return p;
}

char *
xstrdup(const char *s)
{
    return xmemdup(s, strlen(s) + 1);
}

char *
xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = xmalloc(len + 1);

    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void *
xmemdup(const void *src, size_t n)
{
    void *p = xmalloc(n);

    if (n)
        memcpy(p, src, n);
    return p;
}

char *
xvasprintf(const char *fmt, va_list ap)
{
    char *p = NULL;

    if (vasprintf(&p, fmt, ap) < 0)
        xalloc_die(strlen(fmt));
    return p;
}

char *
xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *p;

    va_start(ap, fmt);
    p = xvasprintf(fmt, ap);
    va_end(ap);
    return p;
}
