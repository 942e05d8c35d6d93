/* slowlog — per-core rings of commands slower than slowlog-log-slower-than.
 * Each core appends only to its own ring; SLOWLOG GET (under the all-cores
 * barrier) merges them by id, which one atomic counter hands out in order. */
#ifndef SLOTD_SLOWLOG_H
#define SLOTD_SLOWLOG_H

#include <stdint.h>
#include "config.h"
#include "slice.h"

struct core;
struct client;

/* Record the command (the threshold already passed). The arguments are
 * copied (at most 32, each at most 128 bytes, as Redis keeps them). `client`
 * may be NULL for a command sent by another core. */
void slowlog_record(struct core *core, struct client *client,
                    const struct slice *argv, int argc, int64_t duration_us);

/* Record the command if it ran longer than slowlog-log-slower-than. Every
 * command pays this test, so the common "not slow" answer is inline. */
static inline void slowlog_push(struct core *core, struct client *client,
                                const struct slice *argv, int argc, int64_t duration_us)
{
    long long threshold = config_live()->slowlog_log_slower_than;

    if (threshold >= 0 && duration_us >= threshold)
        slowlog_record(core, client, argv, argc, duration_us);
}
/* Free the core's ring (at core teardown and SLOWLOG RESET). */
void slowlog_free(struct core *core);

#endif
