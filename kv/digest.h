/* digest — DEBUG DIGEST and DEBUG DIGEST-VALUE, with the fingerprints
 * redis-server 7.0 computes, so a node and a real Redis can compare values
 * (redis-cli --cluster fix does after a MIGRATE answered BUSYKEY). */
#ifndef SLOTD_DIGEST_H
#define SLOTD_DIGEST_H

#include "cmd.h"

/* DEBUG DIGEST-VALUE key...: an array of 40-hex status lines, one per key,
 * forty zeros for a missing key. Logically expired keys still count (Redis
 * reads the table directly). Needs a view that reaches every key's shard:
 * the caller runs it under the all-cores barrier. */
void digest_reply_values(struct cmd_ctx *c, int first_key);
/* DEBUG DIGEST: one status line for every key of every db (forty zeros when
 * the dataset is empty). Under the all-cores barrier. */
void digest_reply_dataset(struct cmd_ctx *c);

#endif
