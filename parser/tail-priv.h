/*
 * tail-priv.h: internals of tail.c that only the tests use.
 */
#ifndef PVPANIC_TAIL_PRIV_H
#define PVPANIC_TAIL_PRIV_H

#include <stddef.h>

#include "tail.h"

/* The inotify fd (-1 when polling only), to count watches in /proc/self/fdinfo. */
int tail_priv_inotify_fd(const struct tail *t);

/* Watches the engine believes it holds (files + directories). */
unsigned int tail_priv_watch_count(const struct tail *t);

/*
 * Feed a raw inotify event buffer (as read(2) would return it) to the event
 * dispatcher, e.g. a synthetic IN_Q_OVERFLOW. Takes effect on the next
 * tail_process().
 */
void tail_priv_dispatch(struct tail *t, const void *buf, size_t len);

#endif /* PVPANIC_TAIL_PRIV_H */
