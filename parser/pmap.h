/*
 * pmap.h: a small open-addressing hash table keyed by a non-zero uint64_t
 * (a pointer or thread id from the log). Entries are fixed-size structs
 * whose FIRST member is the uint64_t key; key 0 marks a free slot.
 *
 * Pointers returned by pmap_get()/pmap_put() stay valid until the next
 * pmap_put() or pmap_del() on the same table (the table may grow or shift
 * entries). The owner bounds the size (it evicts before inserting).
 */
#ifndef PVPANIC_PMAP_H
#define PVPANIC_PMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pmap {
    size_t elem;            /* entry size in bytes */
    size_t cap;             /* slots, a power of two (0 before the first put) */
    size_t count;
    unsigned char *slots;
};

void pmap_init(struct pmap *m, size_t elem);
/* Frees the slots only; entries owning memory must be released first. */
void pmap_release(struct pmap *m);
void *pmap_get(const struct pmap *m, uint64_t key);
/* The entry for @key, created zero-filled (key set) if absent; *@created tells which. */
void *pmap_put(struct pmap *m, uint64_t key, bool *created);
void pmap_del(struct pmap *m, uint64_t key);
/* Slot @i (0..cap-1) or NULL if free: for iteration. */
void *pmap_slot(const struct pmap *m, size_t i);

#endif /* PVPANIC_PMAP_H */
