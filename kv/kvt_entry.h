/* kvt_entry — the layout of a kvt entry and its hot accessors, private to kv/:
 * kvt.c owns the layout (see its header comment); keyspace.c includes this so
 * the expiry test and the LRU/LFU stamp of every lookup are a load or a store
 * instead of a call each (a call to another file is never inlined without LTO:
 * ~14 instructions a GET hit, callgrind). Everyone else uses kvt.h. */
#ifndef SLOTD_KVT_ENTRY_H
#define SLOTD_KVT_ENTRY_H

#include <stdint.h>

#define META_LRU_MASK   0xFFFFFFu

struct kv_entry {
    struct kv_entry *next;
    int64_t expire;
    uint32_t meta;
    uint32_t vidx;
    uint32_t klen;
    uint32_t vlen;
    char data[];
};

static inline int64_t kve_expire(const struct kv_entry *e)
{
    return e->expire;
}

static inline uint32_t kve_lru(const struct kv_entry *e)
{
    return e->meta & META_LRU_MASK;
}

static inline void kve_set_lru(struct kv_entry *e, uint32_t v)
{
    e->meta = (e->meta & ~META_LRU_MASK) | (v & META_LRU_MASK);
}

#endif
