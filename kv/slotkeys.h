/* slotkeys — the keys of one cluster hash slot, for CLUSTER COUNTKEYSINSLOT,
 * GETKEYSINSLOT, SETSLOT NODE and the emptiness checks of FLUSHSLOTS and
 * RESET. Runs on a data core with the shards of its view (under the
 * all-cores barrier: the shard that holds the slot).
 *
 * Cost: in cluster mode db 0 keeps a per-slot key index (kvt_slot_*, made
 * by shard_create_ex): a count is O(1), handing out N keys is O(N), a purge
 * is O(keys deleted + 16384). On a table without the index (a standalone
 * shard: only unit tests call these there) the keys are found by walking the
 * whole db 0 table: O(keys on that core) per call.
 *
 * Order: ks_slot_keys hands keys newest first (Redis's list order too);
 * redis-cli --cluster only migrates what it is given, in any order. */
#ifndef SLOTD_SLOTKEYS_H
#define SLOTD_SLOTKEYS_H

#include <stddef.h>
#include <stdint.h>
#include "cmd.h"

/* Called once per key; `key` is borrowed for the call only. */
typedef void ks_key_fn(const char *key, size_t klen, void *arg);

/* Keys of db 0 in `slot` (logically expired keys not yet deleted count, as
 * in Redis). */
size_t ks_slot_count(struct cmd_ctx *c, unsigned slot);
/* Hand at most `max` keys of `slot` to fn; returns how many it handed. The
 * table is not modified. */
size_t ks_slot_keys(struct cmd_ctx *c, unsigned slot, size_t max, ks_key_fn *fn, void *arg);
/* Delete every key of db 0 in the view's own shard whose slot has its bit
 * set in `lost` (SLOT_COUNT bits, slot j at byte j/8, bit j%8): the keys of
 * slots another node now serves, which Redis deletes too when an UPDATE or
 * a newer claim takes a slot that still holds keys. Returns the number
 * deleted, or -ENOMEM (then nothing was deleted; only the walk without the
 * index allocates). */
long ks_slots_purge(struct cmd_ctx *c, const uint8_t *lost);

/* Keys of db 0 over every shard of the view. */
size_t ks_db0_count(struct cmd_ctx *c);

#endif
