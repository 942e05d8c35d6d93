/* slotkeys — a slot's keys found by a full walk of db 0 (see slotkeys.h for
 * the cost). Runs on the data core executing the command; touches only the
 * shards of its view and never modifies a table, so the SCAN cursor visits
 * each key exactly once (no rehash step runs during the walk). */
#include "slotkeys.h"

#include "../cluster/slotmap.h"
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

static size_t walk(struct cmd_ctx *c, struct slot_walk *w)
{
    struct kvt *t = slot_table(c, w->slot);
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

    return walk(c, &w);
}

size_t ks_slot_keys(struct cmd_ctx *c, unsigned slot, size_t max, ks_key_fn *fn, void *arg)
{
    struct slot_walk w = { .slot = slot, .max = max, .fn = fn, .arg = arg };

    if (max == 0)
        return 0;
    return walk(c, &w);
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
