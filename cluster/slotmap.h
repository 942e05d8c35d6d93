/* slotmap — which data core owns each of the 16384 hash slots, as an immutable,
 * versioned snapshot. The control-plane thread builds a new map and publishes it
 * with one pointer store; data cores read the current pointer once per loop turn
 * without a lock. An old map is freed only after every data core has passed a
 * quiescent point (end of a loop turn) since the swap. */
#ifndef SLOTD_SLOTMAP_H
#define SLOTD_SLOTMAP_H

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

/* Publish `m` as the current map (control plane, or main before threads start).
 * Returns the previous map; the caller frees it after a grace period. */
struct slotmap *slotmap_publish(struct slotmap *m);
/* Current map (acquire load). Never NULL after the first publish. */
const struct slotmap *slotmap_current(void);

static inline unsigned slotmap_core(const struct slotmap *m, unsigned slot)
{
    return m->core_of[slot];
}

#endif
