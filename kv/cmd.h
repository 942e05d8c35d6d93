/* cmd — the command table and the context a command runs in.
 *
 * A command runs on exactly one data core: the core that owns its key's slot, the
 * connection's own core (CMD_CONN: needs client state, touches no key), or the
 * connection's core holding the all-cores barrier (CMD_ALLCORES: needs every
 * shard, e.g. DBSIZE, KEYS, SCAN, FLUSHALL, and multi-key commands whose keys
 * land on several cores). The handler writes its whole reply into c->out and
 * never blocks; a CMD_ASYNC handler (MIGRATE) may instead keep c->req and
 * reply when its work comes back (see core_finish_async). */
#ifndef SLOTD_CMD_H
#define SLOTD_CMD_H

#include <stdint.h>
#include "../dataplane/slice.h"
#include "../dataplane/resp_write.h"
#include "../dataplane/strconv.h"

struct shard;
struct client;
struct core;
struct cmd_spec;
struct xreq;

/* Which shards a command may touch. Normally one (the owner); under the
 * all-cores barrier every shard, chosen per key by its slot. */
struct ks_view {
    struct shard *const *shards;   /* indexed by data core */
    unsigned nshards;
    unsigned self;                 /* shard used when !all */
    int all;
};

struct kvt_hint;

/* core_ctx_init (dataplane/core.h) sets every field: one added here is added
 * there. */
struct cmd_ctx {
    const struct cmd_spec *cmd;
    int argc;
    const struct slice *argv;      /* owned by the caller for the call's duration */
    unsigned db;                   /* selected db (SELECT), 0 in cluster mode */
    struct resp_out *out;          /* reply goes here */
    struct ks_view view;
    struct client *client;         /* the caller; NULL for a request from another core */
    struct core *core;             /* the executing core */
    int64_t now_ms;                /* cached clock for this command (Redis: one per command) */
    int cluster_slot;              /* cluster mode: the keys' slot, re-checked for
                                      migration where the keys live; -1 otherwise */
    uint8_t asking;                /* the client sent ASKING before this command */
    /* A key of argv whose hash is known already, taken while warming the
     * cache for it (client.c for a pipeline's commands, MGET for its keys):
     * the keyspace's lookups of that key need not hash it again. NULL: none. */
    const struct slice *hinted_key;
    const struct kvt_hint *hint;
    /* CMD_ASYNC: the request this command runs for, or NULL when it runs
     * inline (inside EXEC, or under the barrier) and must finish at once.
     * A command that keeps `req` to reply later sets `suspended`. */
    struct xreq *req;
    uint8_t suspended;
};

typedef void cmd_fn(struct cmd_ctx *c);

/* Flags (Redis 7.0 COMMAND flag names in comments). */
enum {
    CMD_WRITE     = 1u << 0,   /* write */
    CMD_READONLY  = 1u << 1,   /* readonly */
    CMD_DENYOOM   = 1u << 2,   /* denyoom: refused with -OOM over maxmemory */
    CMD_ADMIN     = 1u << 3,   /* admin */
    CMD_PUBSUB    = 1u << 4,
    CMD_NOSCRIPT  = 1u << 5,
    CMD_BLOCKING  = 1u << 6,
    CMD_LOADING   = 1u << 7,   /* loading */
    CMD_STALE     = 1u << 8,   /* stale */
    CMD_SKIP_MONITOR = 1u << 9,
    CMD_SKIP_SLOWLOG = 1u << 10,
    CMD_FAST      = 1u << 11,  /* fast */
    CMD_NO_AUTH   = 1u << 12,  /* no_auth: allowed before AUTH */
    CMD_MAY_REPLICATE = 1u << 13,
    CMD_NO_MULTI  = 1u << 14,
    CMD_ALLOW_BUSY = 1u << 15,
    /* slotd routing, not Redis flags */
    CMD_CONN      = 1u << 24,  /* runs on the connection's core with its client */
    CMD_ALLCORES  = 1u << 25,  /* needs every shard: runs under the barrier */
    CMD_SPLITKEYS = 1u << 26,  /* multi-key: keys on several cores -> barrier */
    CMD_ASYNC     = 1u << 27,  /* may reply later (MIGRATE): always runs as a request */
};

struct cmd_spec {
    const char *name;          /* lower case, as COMMAND reports it */
    int arity;                 /* Redis convention: -N means at least N */
    uint32_t flags;
    int first_key, last_key, key_step;   /* legacy key positions (0 = no key) */
    cmd_fn *fn;
    const struct cmd_spec *subcommands;  /* NULL-name terminated, or NULL */
    /* Keys that the legacy triple cannot describe (MIGRATE's KEYS form):
     * returns 0 when this call names no key, else 1 with [*first, *last],
     * step 1. NULL: the triple above. */
    int (*getkeys)(int argc, const struct slice *argv, int *first, int *last);
    unsigned id;               /* index into per-core stats arrays */
};

/* Build the lookup index; main calls it once before threads start. 0 or -ENOMEM. */
int cmd_table_init(void);

/* Key positions of a command for these arguments: its getkeys function, or
 * Redis's legacy (first, last, step) triple with a negative last counted from
 * the end. Returns 0 when the command takes no key. */
static inline int cmd_key_range(const struct cmd_spec *cmd, int argc, const struct slice *argv,
                                int *first, int *last, int *step)
{
    if (cmd->getkeys) {
        *step = 1;
        return cmd->getkeys(argc, argv, first, last);
    }
    if (cmd->first_key <= 0 || cmd->first_key >= argc)
        return 0;
    *first = cmd->first_key;
    *last = cmd->last_key < 0 ? argc + cmd->last_key : cmd->last_key;
    if (*last >= argc)
        *last = argc - 1;
    *step = cmd->key_step > 0 ? cmd->key_step : 1;
    return *last >= *first;
}

/* Look up by name (case-insensitive). For a command with subcommands pass the
 * subcommand too (may be NULL); *parent is set to the container command.
 * Returns NULL if unknown. */
const struct cmd_spec *cmd_lookup(const struct slice *name, const struct slice *sub,
                                  const struct cmd_spec **parent);
/* The last name a client looked up, as sent (case and all): a pipeline
 * repeats its command names, and comparing one word is a third of a lookup. */
struct cmd_memo {
    uint64_t word;                 /* the name's bytes, zero-padded; names of 1..8 */
    size_t len;                    /* 0: empty */
    const struct cmd_spec *spec;   /* one without subcommands */
};

/* cmd_lookup through a memo (zeroed: empty); parent must not be NULL. */
const struct cmd_spec *cmd_lookup_memo(struct cmd_memo *m, const struct slice *name,
                                       const struct slice *sub, const struct cmd_spec **parent);
/* Number of ids handed out (size of per-core stats arrays). */
unsigned cmd_count_ids(void);
/* Iterate the top-level table (COMMAND, COMMAND COUNT). */
const struct cmd_spec *cmd_table(unsigned *n);
/* Spec with a given id (INFO commandstats). */
const struct cmd_spec *cmd_by_id(unsigned id);
/* Full name for stats, e.g. "get" or "client|list". */
const char *cmd_fullname(const struct cmd_spec *s, char *buf, size_t cap);

/* Redis's standard error replies, exactly as 7.0 words them. */
#define ERR_SYNTAX     "ERR syntax error"
#define ERR_NOT_INT    "ERR value is not an integer or out of range"
#define ERR_NOT_FLOAT  "ERR value is not a valid float"
#define ERR_WRONGTYPE  "WRONGTYPE Operation against a key holding the wrong kind of value"
#define ERR_NO_KEY     "ERR no such key"
#define ERR_OOM        "OOM command not allowed when used memory > 'maxmemory'."
#define ERR_OVERFLOW   "ERR increment or decrement would overflow"
#define ERR_DB_INDEX   "ERR DB index is out of range"

/* Reply "-ERR wrong number of arguments for '<name>' command" (subcommands as
 * 'parent|sub'). */
void cmd_reply_arity(struct cmd_ctx *c);

/* Argument helpers as Redis parses them (string2ll / strtold rules). Return 0 on
 * success; on failure write Redis's error reply (ERR_NOT_INT, ...) and return -1. */
int cmd_arg_ll(struct cmd_ctx *c, const struct slice *s, long long *v);
int cmd_arg_ll_msg(struct cmd_ctx *c, const struct slice *s, long long *v, const char *errmsg);
int cmd_arg_long_double(struct cmd_ctx *c, const struct slice *s, long double *v);

#endif
