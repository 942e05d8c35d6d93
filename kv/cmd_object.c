/* cmd_object — OBJECT ENCODING/FREQ/IDLETIME/REFCOUNT/HELP and MEMORY
 * USAGE/HELP, answering as Redis 7.0 does.
 *
 * Runs on the core owning the key's slot (HELP on any core); touches only
 * that shard through the keyspace API. The dispatcher has checked arity, so
 * argv[2] is the key wherever one is named.
 *
 * Two answers are emulations, decided from the value rather than from an
 * object we do not have:
 *  - REFCOUNT: Redis shares one object for each integer 0..9999 (refcount
 *    INT_MAX) unless maxmemory is set with an LRU/LFU policy; every other
 *    value has refcount 1.
 *  - MEMORY USAGE: Redis sums its own object sizes (48 for a small string);
 *    we answer the bytes the key really costs here: its entry's size class,
 *    its share of the bucket array, and its TTL index slot when it has one. */
#include "commands.h"

#include <limits.h>

#include "evict.h"
#include "keyspace.h"
#include "lfu.h"

#define OBJ_SHARED_INTEGERS 10000   /* Redis server.h: shared integers 0..9999 */
#define OBJ_SHARED_REFCOUNT INT_MAX /* Redis server.h: refcount of a shared object */

/* Redis object.c objectCommand error texts (7.0). */
#define ERR_NO_LFU "ERR An LFU maxmemory policy is not selected, access frequency not tracked. " \
    "Please note that when switching between policies at runtime LRU and LFU data will take " \
    "some time to adjust."
#define ERR_IS_LFU "ERR An LFU maxmemory policy is selected, idle time not tracked. " \
    "Please note that when switching between policies at runtime LRU and LFU data will take " \
    "some time to adjust."

static const char *const object_help[] = {
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
};

static const char *const memory_help[] = {
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
};

static void reply_help(struct cmd_ctx *c, const char *const *lines, size_t n)
{
    resp_add_array(c->out, (long long)n);
    for (size_t i = 0; i < n; i++)
        resp_add_simple(c->out, lines[i]);
}

/* OBJECT's lookup: lazy expiry and hit/miss stats, no access-clock update
 * (Redis LOOKUP_NOTOUCH); a missing key answers null before any policy
 * check, as in 7.0. */
static struct kv_entry *object_lookup(struct cmd_ctx *c)
{
    struct kv_entry *e;

    if (c->argc != 3) {
        cmd_reply_arity(c);
        return NULL;
    }
    e = ks_lookup_notouch(c, &c->argv[2]);
    if (!e)
        resp_add_null(c->out);
    return e;
}

void cmd_object_encoding(struct cmd_ctx *c)
{
    struct kv_entry *e = object_lookup(c);

    if (!e)
        return;
    switch (kv_enc(e)) {
    case KV_ENC_INT:
        resp_add_bulk_str(c->out, "int");
        break;
    case KV_ENC_EMBSTR:
        resp_add_bulk_str(c->out, "embstr");
        break;
    default:
        resp_add_bulk_str(c->out, "raw");
        break;
    }
}

void cmd_object_refcount(struct cmd_ctx *c)
{
    struct kv_entry *e = object_lookup(c);
    enum maxmemory_policy pol;
    long long v = -1;

    if (!e)
        return;
    pol = evict_cfg_policy();
    /* An int-encoded value is canonical decimal, so the digits decide. */
    if (kv_enc(e) == KV_ENC_INT && kv_vlen(e) <= 4 && str_to_ll(kv_val(e), kv_vlen(e), &v) &&
        v >= 0 && v < OBJ_SHARED_INTEGERS &&
        (evict_cfg_maxmemory() == 0 || !(evict_policy_lru(pol) || evict_policy_lfu(pol)))) {
        resp_add_int(c->out, OBJ_SHARED_REFCOUNT);
        return;
    }
    resp_add_int(c->out, 1);
}

void cmd_object_idletime(struct cmd_ctx *c)
{
    struct kv_entry *e = object_lookup(c);

    if (!e)
        return;
    if (evict_policy_lfu(evict_cfg_policy())) {
        resp_add_error(c->out, ERR_IS_LFU);
        return;
    }
    resp_add_int(c->out, (long long)(lru_idle_ms(kv_lru(e), c->now_ms) / 1000));
}

void cmd_object_freq(struct cmd_ctx *c)
{
    struct kv_entry *e = object_lookup(c);

    if (!e)
        return;
    if (!evict_policy_lfu(evict_cfg_policy())) {
        resp_add_error(c->out, ERR_NO_LFU);
        return;
    }
    resp_add_int(c->out, (long long)lfu_decayed(kv_lru(e), c->now_ms, evict_cfg_lfu_decay_time()));
}

void cmd_object_help(struct cmd_ctx *c)
{
    reply_help(c, object_help, sizeof(object_help) / sizeof(object_help[0]));
}

void cmd_memory_usage(struct cmd_ctx *c)
{
    struct kvt *t;
    struct kv_entry *e;
    size_t bytes, n;

    if (c->argc < 3) {
        cmd_reply_arity(c);
        return;
    }
    /* Options are checked before the key, as 7.0 does: a bad option is an
     * error even for a missing key. SAMPLES only matters for nested types. */
    for (int j = 3; j < c->argc; j += 2) {
        long long samples;

        if (!slice_eq_nocase(&c->argv[j], "samples") || j + 1 >= c->argc) {
            resp_add_error(c->out, ERR_SYNTAX);
            return;
        }
        if (cmd_arg_ll(c, &c->argv[j + 1], &samples) < 0)
            return;
        if (samples < 0) {
            resp_add_error(c->out, ERR_SYNTAX);
            return;
        }
    }
    /* Redis reads the dict directly here: no lazy expiry, no stats, no touch. */
    t = ks_table(c, &c->argv[2]);
    e = kvt_find(t, c->argv[2].p, c->argv[2].len);
    if (!e) {
        resp_add_null(c->out);
        return;
    }
    n = kvt_count(t);
    bytes = kv_mem(e);
    bytes += (kvt_buckets(t) * sizeof(void *) + n - 1) / n;
    if (kv_expire(e) != KV_NO_EXPIRE)
        bytes += sizeof(void *);
    resp_add_int(c->out, (long long)bytes);
}

void cmd_memory_help(struct cmd_ctx *c)
{
    reply_help(c, memory_help, sizeof(memory_help) / sizeof(memory_help[0]));
}
