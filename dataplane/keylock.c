/* keylock — see keylock.h. The array stays sorted by hash so a lookup is a
 * binary search to the first equal hash, then a scan over the (almost always
 * single) entries sharing it. */
#include "keylock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "mem.h"

static uint64_t key_hash(unsigned db, const char *key, size_t len)
{
    return XXH3_64bits_withSeed(key, len, db);
}

static int by_hash(const void *a, const void *b)
{
    uint64_t x = ((const struct keylock *)a)->hash, y = ((const struct keylock *)b)->hash;

    return (x > y) - (x < y);
}

/* Index of the first entry whose hash is >= h. */
static unsigned lower_bound(const struct keylock_set *s, uint64_t h)
{
    unsigned lo = 0, hi = s->n;

    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (s->v[mid].hash < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int keylock_add(struct keylock_set *s, unsigned db, const char *const *keys,
                const size_t *lens, unsigned n, const void *owner)
{
    if (n > s->cap - s->n) {
        unsigned cap = s->cap ? s->cap : 16;
        struct keylock *v;

        while (cap - s->n < n)
            cap *= 2;
        v = mem_realloc(s->v, (size_t)cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    for (unsigned i = 0; i < n; i++)
        s->v[s->n + i] = (struct keylock){ .hash = key_hash(db, keys[i], lens[i]),
                                           .key = keys[i], .len = lens[i],
                                           .db = db, .owner = owner };
    s->n += n;
    qsort(s->v, s->n, sizeof(*s->v), by_hash);
    return 0;
}

unsigned keylock_release(struct keylock_set *s, const void *owner)
{
    unsigned kept = 0, n = s->n;

    /* Filtering in place keeps the order, so the array stays sorted. */
    for (unsigned i = 0; i < n; i++)
        if (s->v[i].owner != owner)
            s->v[kept++] = s->v[i];
    s->n = kept;
    return n - kept;
}

int keylock_held(const struct keylock_set *s, unsigned db, const char *key, size_t len)
{
    uint64_t h;

    if (s->n == 0)
        return 0;
    h = key_hash(db, key, len);
    for (unsigned i = lower_bound(s, h); i < s->n && s->v[i].hash == h; i++)
        if (s->v[i].db == db && s->v[i].len == len && memcmp(s->v[i].key, key, len) == 0)
            return 1;
    return 0;
}

void keylock_free(struct keylock_set *s)
{
    mem_free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}
