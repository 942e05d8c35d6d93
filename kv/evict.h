/* evict — maxmemory enforcement before write commands, with Redis 7.0's
 * policies: sampled LRU / LFU / TTL candidates kept in a per-shard pool of the
 * 16 best across calls, or random picks, or no eviction at all.
 *
 * Runs on the data core that executes the command, against the shard(s) its
 * view allows: its own shard normally, every shard under the all-cores barrier.
 *
 * The live settings this module and the keyspace read are behind the small
 * accessors at the end of this header, so they are read in one place. */
#ifndef SLOTD_EVICT_H
#define SLOTD_EVICT_H

#include <stdint.h>
#include "cmd.h"
#include "../dataplane/config.h"

struct shard;
struct evict_pool;

/* Classes of enum maxmemory_policy (dataplane/config.h), as Redis's
 * MAXMEMORY_FLAG_LRU / _LFU / _ALLKEYS bits classify the policies. */
static inline int evict_policy_lfu(enum maxmemory_policy p)
{
    return p == MAXMEMORY_ALLKEYS_LFU || p == MAXMEMORY_VOLATILE_LFU;
}

static inline int evict_policy_lru(enum maxmemory_policy p)
{
    return p == MAXMEMORY_ALLKEYS_LRU || p == MAXMEMORY_VOLATILE_LRU;
}

static inline int evict_policy_allkeys(enum maxmemory_policy p)
{
    return p == MAXMEMORY_ALLKEYS_LRU || p == MAXMEMORY_ALLKEYS_LFU || p == MAXMEMORY_ALLKEYS_RANDOM;
}

/* Make room before a write that may grow memory (Redis performEvictions):
 * while mem_used() exceeds maxmemory, evict keys by the policy from the shards
 * of c->view. Work per call is bounded by a time limit derived from
 * maxmemory-eviction-tenacity (capped, see evict.c), checked every 16 keys.
 *
 * Returns 0 when under the limit (or maxmemory is 0), or when the bound was hit
 * after freeing something (the write proceeds, as Redis's EVICT_RUNNING; the
 * next write continues the work). -ENOMEM when the policy is noeviction or
 * nothing evictable is left: the caller answers ERR_OOM. */
int evict_before_write(struct cmd_ctx *c);

/* The candidate pool a shard keeps across calls (shard_create/destroy call
 * these). NULL on allocation failure. */
struct evict_pool *evict_pool_create(void);
void evict_pool_destroy(struct evict_pool *p);
/* Bytes the pool holds (it counts in the shard's memory). */
size_t evict_pool_bytes(const struct evict_pool *p);

/* Live settings (dataplane/config.h), read where they are used, so a CONFIG
 * SET takes effect on the next command. */
static inline enum maxmemory_policy evict_cfg_policy(void)
{
    return config_live()->maxmemory_policy;
}
static inline uint64_t evict_cfg_maxmemory(void) { return config_live()->maxmemory; }
static inline unsigned evict_cfg_samples(void) { return (unsigned)config_live()->maxmemory_samples; }
static inline unsigned evict_cfg_tenacity(void)
{
    return (unsigned)config_live()->maxmemory_eviction_tenacity;
}
static inline unsigned evict_cfg_lfu_log_factor(void) { return (unsigned)config_live()->lfu_log_factor; }
static inline unsigned evict_cfg_lfu_decay_time(void) { return (unsigned)config_live()->lfu_decay_time; }
static inline unsigned evict_cfg_expire_effort(void)
{
    return (unsigned)config_live()->active_expire_effort;
}

#endif
