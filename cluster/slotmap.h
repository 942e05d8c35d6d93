/* slotmap — which data core owns each of the 16384 hash slots, as an immutable,
 * versioned snapshot. The control-plane thread builds a new map and publishes it
 * with one pointer store; data cores read the current pointer once per loop turn
 * without a lock. An old map is freed only after every data core has passed a
 * quiescent point (end of a loop turn) since the swap. */
#ifndef SLOTD_SLOTMAP_H
#define SLOTD_SLOTMAP_H

#include <stdatomic.h>
#include <stdint.h>
#include "../kv/slot.h"

#define SLOTMAP_NONE 0xffff          /* no node: slot unassigned / not migrating */
#define SLOTMAP_ENDPOINT_LEN 272     /* "host:port": a 255-byte hostname fits */

/* A node as the data path needs it: where to redirect a client. */
struct slotmap_node {
    char endpoint[SLOTMAP_ENDPOINT_LEN];
};

/* Cluster mode (cluster != 0): who serves each slot, and the migration state
 * of our own slots, so a data core can answer MOVED / ASK / TRYAGAIN /
 * CLUSTERDOWN without asking the control plane. Standalone maps leave the
 * node arrays unused. */
struct slotmap {
    uint64_t version;
    unsigned ncores;
    uint16_t core_of[SLOT_COUNT];     /* data core holding the slot's keys */

    uint8_t cluster;                  /* cluster-enabled */
    uint8_t state_ok;                 /* cluster_state:ok */
    uint16_t self;                    /* our index in nodes[] */
    uint16_t node_of[SLOT_COUNT];     /* serving node, or SLOTMAP_NONE */
    uint16_t migrating_to[SLOT_COUNT];   /* our slot being moved out, or NONE */
    uint16_t importing_from[SLOT_COUNT]; /* slot being moved to us, or NONE */
    /* Derived by slotmap_publish: 1 when the state is ok, we serve the slot
     * and it is neither migrating nor importing, so no MOVED / ASK / TRYAGAIN
     * / CLUSTERDOWN can apply to a command on its keys, whatever the command
     * and ASKING: the data path's one-byte answer for the common case. */
    uint8_t direct[SLOT_COUNT];
    unsigned nnodes;
    struct slotmap_node *nodes;       /* nnodes entries, owned by the map */
};

/* Standalone map: slots split into ncores contiguous ranges, so the slots of a
 * core stay together (cheap to hand a range to another core later). NULL on
 * allocation failure. */
struct slotmap *slotmap_new_even(unsigned ncores);
/* Cluster map with nnodes nodes, every slot unassigned and stable, state not
 * ok; the control plane fills it in before publishing. NULL on failure. */
struct slotmap *slotmap_new_cluster(unsigned ncores, unsigned nnodes);
void slotmap_free(struct slotmap *m);

/* Publish `m` as the current map (control plane, or main before threads start),
 * after setting its version and direct[]. Returns the previous map; the caller
 * frees it after a grace period. */
struct slotmap *slotmap_publish(struct slotmap *m);
/* The one process-wide current map: a pointer swapped whole by
 * slotmap_publish, never written otherwise. Visible here only so that
 * slotmap_current, read several times per command, inlines to one load. */
extern _Atomic(struct slotmap *) slotmap_current_map;

/* Current map (acquire load). Never NULL after the first publish. */
static inline const struct slotmap *slotmap_current(void)
{
    return atomic_load_explicit(&slotmap_current_map, memory_order_acquire);
}

static inline unsigned slotmap_core(const struct slotmap *m, unsigned slot)
{
    return m->core_of[slot];
}

#endif
