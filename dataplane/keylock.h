/* keylock — the keys of one data core that an asynchronous MIGRATE has
 * serialized and sent, and may delete once the target acknowledges them.
 * While a key is locked, commands that would change it wait (the core defers
 * them), so the value the target receives is the value MIGRATE deletes.
 *
 * Owned by its data core; the all-cores barrier holder may read other cores'
 * sets while they are parked. The key bytes belong to the caller and must
 * outlive the lock. Lookups are a binary search over 64-bit key hashes: a
 * set holds one MIGRATE batch or a few, and is empty almost always. */
#ifndef SLOTD_KEYLOCK_H
#define SLOTD_KEYLOCK_H

#include <stddef.h>
#include <stdint.h>

struct keylock {
    uint64_t hash;               /* of db and key bytes: the sort key */
    const char *key;
    size_t len;
    unsigned db;
    const void *owner;           /* what released the lock: the MIGRATE job */
};

struct keylock_set {
    struct keylock *v;           /* sorted by hash */
    unsigned n, cap;
};

/* Lock n keys (of database db) for `owner`. All or nothing: 0, or -ENOMEM
 * with the set unchanged. A key may be locked by several owners. */
int keylock_add(struct keylock_set *s, unsigned db, const char *const *keys,
                const size_t *lens, unsigned n, const void *owner);
/* Unlock every key `owner` locked. Returns how many were unlocked. */
unsigned keylock_release(struct keylock_set *s, const void *owner);
/* 1 if the key is locked (by anyone). */
int keylock_held(const struct keylock_set *s, unsigned db, const char *key, size_t len);
void keylock_free(struct keylock_set *s);

static inline unsigned keylock_count(const struct keylock_set *s)
{
    return s->n;
}

#endif
