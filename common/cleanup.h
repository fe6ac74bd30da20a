/*
 * cleanup.h: scope-bound cleanup for locals (GCC/clang cleanup attribute).
 *
 * Modelled on libvirt's g_autofree/g_autoptr use: a local that owns a
 * resource is declared with one of these markers and released when it goes
 * out of scope, so every error path is a plain "return".
 *
 *   AUTOFREE char *s = NULL;            free(s)
 *   AUTOCLOSE int fd = -1;              close(fd) if fd >= 0
 *   AUTOFCLOSE FILE *f = NULL;          fclose(f) if f
 *   AUTOPTR(xmlDoc) doc = NULL;         needs DEFINE_AUTOPTR(xmlDoc, xmlFreeDoc)
 *
 * Hand ownership out with steal_pointer(&p) / steal_fd(&fd).
 */
#ifndef PVPANIC_CLEANUP_H
#define PVPANIC_CLEANUP_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void
cleanup_free(void *p)
{
    free(*(void **)p);
}

static inline void
cleanup_close(int *fd)
{
    if (*fd >= 0)
        close(*fd);
}

static inline void
cleanup_fclose(FILE **f)
{
    if (*f)
        fclose(*f);
}

#define AUTOFREE   __attribute__((cleanup(cleanup_free)))
#define AUTOCLOSE  __attribute__((cleanup(cleanup_close)))
#define AUTOFCLOSE __attribute__((cleanup(cleanup_fclose)))

/* One line per foreign type: DEFINE_AUTOPTR(xmlDoc, xmlFreeDoc). */
#define DEFINE_AUTOPTR(type, freefn) \
    static inline void autoptr_cleanup_##type(type **p) \
    { \
        if (*p) \
            freefn(*p); \
    }

#define AUTOPTR(type) __attribute__((cleanup(autoptr_cleanup_##type))) type *

static inline void *
steal_pointer_impl(void **pp)
{
    void *p = *pp;

    *pp = NULL;
    return p;
}
#define steal_pointer(pp) steal_pointer_impl((void **)(pp))

static inline int
steal_fd(int *fd)
{
    int r = *fd;

    *fd = -1;
    return r;
}

#ifndef ARRAY_SIZE
# define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

#endif /* PVPANIC_CLEANUP_H */
