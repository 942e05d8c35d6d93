/* slotmap — which data core owns each of the 16384 hash slots, as an immutable,
 * versioned snapshot. The control-plane thread builds a new map and publishes it
 * with one pointer store; data cores read the current pointer once per loop turn
 * without a lock. An old map is freed only after every data core has passed a
 * quiescent point (end of a loop turn) since the swap. */
#ifndef SLOTD_SLOTMAP_H
#define SLOTD_SLOTMAP_H

#include <stdint.h>
#include "../kv/slot.h"

struct slotmap {
    uint64_t version;
    unsigned ncores;
    uint16_t core_of[SLOT_COUNT];
};

/* Standalone map: slots split into ncores contiguous ranges, so the slots of a
 * core stay together (cheap to hand a range to another core later). NULL on
 * allocation failure. */
struct slotmap *slotmap_new_even(unsigned ncores);
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
