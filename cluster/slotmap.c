/* slotmap — publication of the slot→core snapshot. The only writer is the
 * control-plane thread (or main before the data cores start); readers are data
 * cores, which load the pointer with acquire ordering so the map's contents are
 * visible before they use it. */
#include "slotmap.h"

#include <stdatomic.h>
#include <stdlib.h>

/* The one process-wide current map (slotmap.h): a pointer swapped whole,
 * never mutated in place, so readers need no lock. */
_Atomic(struct slotmap *) slotmap_current_map;

struct slotmap *slotmap_new_even(unsigned ncores)
{
    struct slotmap *m;

    if (ncores == 0)
        return NULL;
    m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->ncores = ncores;
    for (unsigned s = 0; s < SLOT_COUNT; s++)
        m->core_of[s] = (uint16_t)((uint64_t)s * ncores / SLOT_COUNT);
    return m;
}

struct slotmap *slotmap_new_cluster(unsigned ncores, unsigned nnodes)
{
    struct slotmap *m = slotmap_new_even(ncores);

    if (!m)
        return NULL;
    m->cluster = 1;
    m->nnodes = nnodes;
    m->nodes = calloc(nnodes ? nnodes : 1, sizeof(*m->nodes));
    if (!m->nodes) {
        free(m);
        return NULL;
    }
    m->self = 0;
    for (unsigned s = 0; s < SLOT_COUNT; s++) {
        m->node_of[s] = SLOTMAP_NONE;
        m->migrating_to[s] = SLOTMAP_NONE;
        m->importing_from[s] = SLOTMAP_NONE;
    }
    return m;
}

void slotmap_free(struct slotmap *m)
{
    if (!m)
        return;
    free(m->nodes);
    free(m);
}

struct slotmap *slotmap_publish(struct slotmap *m)
{
    struct slotmap *old = atomic_load_explicit(&slotmap_current_map, memory_order_relaxed);

    if (m) {
        m->version = old ? old->version + 1 : 1;
        for (unsigned s = 0; s < SLOT_COUNT; s++)
            m->direct[s] = m->cluster && m->state_ok && m->node_of[s] == m->self &&
                           m->migrating_to[s] == SLOTMAP_NONE &&
                           m->importing_from[s] == SLOTMAP_NONE;
    }
    atomic_store_explicit(&slotmap_current_map, m, memory_order_release);
    return old;
}
