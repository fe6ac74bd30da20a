#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "pmap.h"
#include "xalloc.h"

static inline uint64_t
slot_key(const struct pmap *m, size_t i)
{
    uint64_t k;

    memcpy(&k, m->slots + i * m->elem, sizeof(k));
    return k;
}

static inline size_t
home(const struct pmap *m, uint64_t key)
{
    /* Fibonacci hashing: pointers share low and high bits, mix them. */
    return (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 17) & (m->cap - 1);
}

void
pmap_init(struct pmap *m, size_t elem)
{
    memset(m, 0, sizeof(*m));
    m->elem = elem;
}

void
pmap_release(struct pmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = 0;
    m->count = 0;
}

void *
pmap_slot(const struct pmap *m, size_t i)
{
    if (i >= m->cap || slot_key(m, i) == 0)
        return NULL;
    return m->slots + i * m->elem;
}

void *
pmap_get(const struct pmap *m, uint64_t key)
{
    size_t i;

    if (m->cap == 0 || key == 0)
        return NULL;
    for (i = home(m, key);; i = (i + 1) & (m->cap - 1)) {
        uint64_t k = slot_key(m, i);

        if (k == key)
            return m->slots + i * m->elem;
        if (k == 0)
            return NULL;
    }
}

static void
grow(struct pmap *m)
{
    struct pmap bigger;

    bigger = *m;
    bigger.cap = m->cap ? m->cap * 2 : 16;
    bigger.count = 0;
    bigger.slots = xcalloc(bigger.cap, m->elem);
    for (size_t i = 0; i < m->cap; i++) {
        uint64_t k = slot_key(m, i);
        bool created;

        if (k != 0)
            memcpy(pmap_put(&bigger, k, &created), m->slots + i * m->elem, m->elem);
    }
    free(m->slots);
    *m = bigger;
}

void *
pmap_put(struct pmap *m, uint64_t key, bool *created)
{
    size_t i;

    *created = false;
    if (key == 0)
        abort();
    if ((m->count + 1) * 2 > m->cap)
        grow(m);
    for (i = home(m, key);; i = (i + 1) & (m->cap - 1)) {
        uint64_t k = slot_key(m, i);
        unsigned char *slot = m->slots + i * m->elem;

        if (k == key)
            return slot;
        if (k == 0) {
            memset(slot, 0, m->elem);
            memcpy(slot, &key, sizeof(key));
            m->count++;
            *created = true;
            return slot;
        }
    }
}

void
pmap_del(struct pmap *m, uint64_t key)
{
    size_t i;
    size_t j;

    if (m->cap == 0 || key == 0)
        return;
    for (i = home(m, key);; i = (i + 1) & (m->cap - 1)) {
        uint64_t k = slot_key(m, i);

        if (k == 0)
            return;
        if (k == key)
            break;
    }
    /* backward-shift deletion keeps probe chains intact without tombstones */
    for (j = (i + 1) & (m->cap - 1);; j = (j + 1) & (m->cap - 1)) {
        uint64_t k = slot_key(m, j);
        size_t h;

        if (k == 0)
            break;
        h = home(m, k);
        /* move k into the hole at i if its home is not in (i, j] cyclically */
        if ((j > i && (h <= i || h > j)) || (j < i && (h <= i && h > j))) {
            memcpy(m->slots + i * m->elem, m->slots + j * m->elem, m->elem);
            i = j;
        }
    }
    memset(m->slots + i * m->elem, 0, m->elem);
    m->count--;
}
