/* slotkeys — a slot's keys from db 0's per-slot index (kvt_slot_*), or, on a
 * table made without it (a standalone shard, as unit tests build), from a
 * full walk of db 0. Runs on the data core executing the command; touches
 * only the shards of its view. The walk never modifies a table, so the SCAN
 * cursor visits each key exactly once (no rehash step runs during it). */
#include "slotkeys.h"

#include <errno.h>
#include <string.h>

#include "../cluster/slotmap.h"
#include "../dataplane/mem.h"
#include "keyspace.h"
#include "kvt.h"
#include "slot.h"

struct slot_walk {
    unsigned slot;
    size_t max, n;
    ks_key_fn *fn;
    void *arg;
};

static struct kvt *slot_table(struct cmd_ctx *c, unsigned slot)
{
    unsigned core = c->view.self;

    if (c->view.all) {
        core = slotmap_core(slotmap_current(), slot);
        if (core >= c->view.nshards)
            core = c->view.self;
    }
    return c->view.shards[core]->db[0];
}

static void visit(struct kv_entry *e, void *arg)
{
    struct slot_walk *w = arg;

    if (w->n >= w->max || slot_of(kv_key(e), kv_klen(e)) != w->slot)
        return;
    if (w->fn)
        w->fn(kv_key(e), kv_klen(e), w->arg);
    w->n++;
}

static size_t walk(struct kvt *t, struct slot_walk *w)
{
    uint64_t cursor = 0;

    if (kvt_count(t) == 0)
        return 0;
    do {
        cursor = kvt_scan(t, cursor, visit, w);
    } while (cursor != 0 && w->n < w->max);
    return w->n;
}

size_t ks_slot_count(struct cmd_ctx *c, unsigned slot)
{
    struct slot_walk w = { .slot = slot, .max = (size_t)-1 };
    struct kvt *t = slot_table(c, slot);

    if (kvt_has_slots(t))
        return kvt_slot_count(t, slot);
    return walk(t, &w);
}

size_t ks_slot_keys(struct cmd_ctx *c, unsigned slot, size_t max, ks_key_fn *fn, void *arg)
{
    struct slot_walk w = { .slot = slot, .max = max, .fn = fn, .arg = arg };
    struct kvt *t = slot_table(c, slot);
    size_t n = 0;

    if (max == 0)
        return 0;
    if (!kvt_has_slots(t))
        return walk(t, &w);
    for (struct kv_entry *e = kvt_slot_first(t, slot); e && n < max; e = kvt_slot_next(e)) {
        if (fn)
            fn(kv_key(e), kv_klen(e), arg);
        n++;
    }
    return n;
}

static int is_lost(const uint8_t *lost, unsigned slot)
{
    return (lost[slot >> 3] >> (slot & 7)) & 1u;
}

/* With the index: unlink each lost slot's list from its head; deleting an
 * entry moves no other entry, so taking the head again is always valid. */
static long purge_indexed(struct kvt *t, const uint8_t *lost)
{
    long deleted = 0;

    for (unsigned j = 0; j < SLOT_COUNT; j++) {
        struct kv_entry *e;

        if (!is_lost(lost, j))
            continue;
        while ((e = kvt_slot_first(t, j)) != NULL) {
            kvt_delete_entry(t, e);
            deleted++;
        }
    }
    return deleted;
}

/* Without it, keys to purge are copied out first: deleting while the SCAN
 * cursor walks could move entries between buckets behind the cursor. */
struct purge_list {
    const uint8_t *lost;
    struct slice *keys;
    size_t n, cap;
    int nomem;
};

static void collect(struct kv_entry *e, void *arg)
{
    struct purge_list *pl = arg;
    unsigned slot = slot_of(kv_key(e), kv_klen(e));
    char *copy;

    if (pl->nomem || !is_lost(pl->lost, slot))
        return;
    if (pl->n == pl->cap) {
        size_t cap = pl->cap ? pl->cap * 2 : 64;
        struct slice *k = mem_realloc(pl->keys, cap * sizeof(*k));
        if (!k) {
            pl->nomem = 1;
            return;
        }
        pl->keys = k;
        pl->cap = cap;
    }
    copy = mem_alloc(kv_klen(e) + 1);
    if (!copy) {
        pl->nomem = 1;
        return;
    }
    memcpy(copy, kv_key(e), kv_klen(e));
    pl->keys[pl->n].p = copy;
    pl->keys[pl->n].len = kv_klen(e);
    pl->n++;
}

long ks_slots_purge(struct cmd_ctx *c, const uint8_t *lost)
{
    struct kvt *t = c->view.shards[c->view.self]->db[0];
    struct purge_list pl = { .lost = lost };
    uint64_t cursor = 0;
    long deleted = 0;

    if (kvt_count(t) == 0)
        return 0;
    if (kvt_has_slots(t))
        return purge_indexed(t, lost);
    do {
        cursor = kvt_scan(t, cursor, collect, &pl);
    } while (cursor != 0 && !pl.nomem);
    for (size_t i = 0; i < pl.n; i++) {
        if (!pl.nomem && kvt_delete(t, pl.keys[i].p, pl.keys[i].len))
            deleted++;
        mem_free((void *)pl.keys[i].p);
    }
    mem_free(pl.keys);
    return pl.nomem ? -ENOMEM : deleted;
}

size_t ks_db0_count(struct cmd_ctx *c)
{
    size_t n = 0;

    if (!c->view.all)
        return kvt_count(c->view.shards[c->view.self]->db[0]);
    for (unsigned i = 0; i < c->view.nshards; i++)
        n += kvt_count(c->view.shards[i]->db[0]);
    return n;
}
