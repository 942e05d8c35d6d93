/* cmd_table — every command slotd knows, as Redis 7.0's COMMAND reports it
 * (name, arity, flags, legacy first/last/step key positions; measured with
 * `COMMAND INFO` on redis-server 7.0.15), plus slotd's routing flags.
 *
 * Read-only data, shared by every thread without locks. cmd_table_init()
 * builds nothing: it only re-checks the invariants below, so a table edited
 * out of order stops the process at start-up instead of hiding commands.
 * Invariants (checked by tests/unit/test_cmd_util.c):
 *  - the top-level table is sorted by name (strcmp), as COMMAND lists it;
 *    lookup goes through a hash index, subcommand lists are short and
 *    searched linearly;
 *  - ids are dense, 0 .. cmd_count_ids()-1, each used once; they are handed
 *    out at compile time by __COUNTER__ (gcc and clang), so adding a command
 *    anywhere keeps them dense.
 *
 * Only subcommands that have a handler are listed: an unlisted one (CLIENT
 * PAUSE, MEMORY DOCTOR, ...) then gets Redis's "unknown subcommand" error
 * rather than a stub. One addition to 7.0: CLIENT SETINFO (see below). */
#include "cmd.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"

#define W      CMD_WRITE
#define RO     CMD_READONLY
#define OOM    CMD_DENYOOM
#define ADM    CMD_ADMIN
#define NOSC   CMD_NOSCRIPT
#define LOAD   CMD_LOADING
#define STALE  CMD_STALE
#define FAST   CMD_FAST
#define NOAUTH CMD_NO_AUTH
#define NOMULT CMD_NO_MULTI
#define BUSY   CMD_ALLOW_BUSY
#define CONN   CMD_CONN
#define ALL    CMD_ALLCORES
#define SPLIT  CMD_SPLITKEYS

/* Dense ids straight from the preprocessor: every CMD() takes the next one. */
enum { ID_BASE = __COUNTER__ + 1 };
#define NEXT_ID ((unsigned)(__COUNTER__ - ID_BASE))

#define CMD(nm, ar, fl, fk, lk, st, f) \
    { .name = nm, .arity = ar, .flags = (fl), .first_key = fk, .last_key = lk, \
      .key_step = st, .fn = f, .subcommands = NULL, .id = NEXT_ID }
#define CONTAINER(nm, ar, fl, f, subs) \
    { .name = nm, .arity = ar, .flags = (fl), .first_key = 0, .last_key = 0, \
      .key_step = 0, .fn = f, .subcommands = subs, .id = NEXT_ID }
#define END { .name = NULL }

static const struct cmd_spec client_subs[] = {
    CMD("id",      2, NOSC | LOAD | STALE | CONN, 0, 0, 0, cmd_client_id),
    CMD("info",    2, NOSC | LOAD | STALE | CONN, 0, 0, 0, cmd_client_info),
    CMD("setname", 3, NOSC | LOAD | STALE | CONN, 0, 0, 0, cmd_client_setname),
    CMD("getname", 2, NOSC | LOAD | STALE | CONN, 0, 0, 0, cmd_client_getname),
    /* Redis 7.2 (arity and flags as 7.2 reports them): clients such as
     * redis-py send it on connect, so slotd accepts it */
    CMD("setinfo", 4, NOSC | LOAD | STALE | CONN, 0, 0, 0, cmd_client_setinfo),
    CMD("list",   -2, ADM | NOSC | LOAD | STALE | ALL, 0, 0, 0, cmd_client_list),
    CMD("kill",   -3, ADM | NOSC | LOAD | STALE | ALL, 0, 0, 0, cmd_client_kill),
    CMD("help",    2, LOAD | STALE | CONN, 0, 0, 0, cmd_client_help),
    END,
};

/* CLUSTER: arity and flags of 7.0's COMMAND INFO. Subcommands that count
 * keys or need an empty db run under the barrier (they read the shards);
 * the others run on the connection's core and reach the cluster state
 * through its lock (cluster/cmd_cluster.c). */
static const struct cmd_spec cluster_subs[] = {
    CMD("addslots",       -3, ADM | STALE | CONN, 0, 0, 0, cmd_cluster_addslots),
    CMD("addslotsrange",  -4, ADM | STALE | CONN, 0, 0, 0, cmd_cluster_addslotsrange),
    CMD("bumpepoch",       2, ADM | STALE | CONN, 0, 0, 0, cmd_cluster_bumpepoch),
    CMD("count-failure-reports", 3, ADM | STALE | CONN, 0, 0, 0, cmd_cluster_count_failure_reports),
    CMD("countkeysinslot", 3, STALE | ALL, 0, 0, 0, cmd_cluster_countkeysinslot),
    CMD("delslots",       -3, ADM | STALE | CONN, 0, 0, 0, cmd_cluster_delslots),
    CMD("delslotsrange",  -4, ADM | STALE | CONN, 0, 0, 0, cmd_cluster_delslotsrange),
    CMD("failover",       -2, ADM | STALE | CONN, 0, 0, 0, cmd_cluster_failover),
    CMD("flushslots",      2, ADM | STALE | ALL, 0, 0, 0, cmd_cluster_flushslots),
    CMD("forget",          3, ADM | STALE | CONN, 0, 0, 0, cmd_cluster_forget),
    CMD("getkeysinslot",   4, STALE | ALL, 0, 0, 0, cmd_cluster_getkeysinslot),
    CMD("help",            2, LOAD | STALE | CONN, 0, 0, 0, cmd_cluster_help),
    CMD("info",            2, STALE | CONN, 0, 0, 0, cmd_cluster_info),
    CMD("keyslot",         3, STALE | CONN, 0, 0, 0, cmd_cluster_keyslot),
    CMD("links",           2, STALE | CONN, 0, 0, 0, cmd_cluster_links),
    CMD("meet",           -4, ADM | STALE | CONN, 0, 0, 0, cmd_cluster_meet),
    CMD("myid",            2, STALE | CONN, 0, 0, 0, cmd_cluster_myid),
    CMD("nodes",           2, STALE | CONN, 0, 0, 0, cmd_cluster_nodes),
    CMD("replicas",        3, ADM | STALE | CONN, 0, 0, 0, cmd_cluster_replicas),
    CMD("replicate",       3, ADM | STALE | ALL, 0, 0, 0, cmd_cluster_replicate),
    CMD("reset",          -2, ADM | NOSC | STALE | ALL, 0, 0, 0, cmd_cluster_reset),
    CMD("saveconfig",      2, ADM | STALE | CONN, 0, 0, 0, cmd_cluster_saveconfig),
    CMD("set-config-epoch", 3, ADM | STALE | CONN, 0, 0, 0, cmd_cluster_set_config_epoch),
    CMD("setslot",        -4, ADM | STALE | ALL, 0, 0, 0, cmd_cluster_setslot),
    CMD("shards",          2, STALE | CONN, 0, 0, 0, cmd_cluster_shards),
    CMD("slaves",          3, ADM | STALE | CONN, 0, 0, 0, cmd_cluster_slaves),
    CMD("slots",           2, STALE | CONN, 0, 0, 0, cmd_cluster_slots),
    END,
};

static const struct cmd_spec command_subs[] = {
    CMD("count",   2, LOAD | STALE | CONN, 0, 0, 0, cmd_command_count),
    CMD("info",   -2, LOAD | STALE | CONN, 0, 0, 0, cmd_command_info),
    CMD("docs",   -2, LOAD | STALE | CONN, 0, 0, 0, cmd_command_docs),
    CMD("getkeys", -4, LOAD | STALE | CONN, 0, 0, 0, cmd_command_getkeys),
    CMD("list",   -2, LOAD | STALE | CONN, 0, 0, 0, cmd_command_list),
    CMD("help",    2, LOAD | STALE | CONN, 0, 0, 0, cmd_command_help),
    END,
};

static const struct cmd_spec config_subs[] = {
    CMD("get",      -3, ADM | NOSC | LOAD | STALE | CONN, 0, 0, 0, cmd_config_get),
    CMD("set",      -4, ADM | NOSC | LOAD | STALE | ALL, 0, 0, 0, cmd_config_set),
    CMD("resetstat", 2, ADM | NOSC | LOAD | STALE | ALL, 0, 0, 0, cmd_config_resetstat),
    CMD("rewrite",   2, ADM | NOSC | LOAD | STALE | CONN, 0, 0, 0, cmd_config_rewrite),
    CMD("help",      2, LOAD | STALE | CONN, 0, 0, 0, cmd_config_help),
    END,
};

/* FUNCTION: what `redis-cli --cluster add-node` calls (kv/cmd_function.c). */
static const struct cmd_spec function_subs[] = {
    CMD("dump",    2, NOSC | CONN, 0, 0, 0, cmd_function_dump),
    CMD("flush",  -2, W | NOSC | CONN, 0, 0, 0, cmd_function_flush),
    CMD("help",    2, LOAD | STALE | CONN, 0, 0, 0, cmd_function_help),
    CMD("list",   -2, NOSC | CONN, 0, 0, 0, cmd_function_list),
    CMD("restore", -3, W | OOM | NOSC | CONN, 0, 0, 0, cmd_function_restore),
    CMD("stats",   2, NOSC | BUSY | CONN, 0, 0, 0, cmd_function_stats),
    END,
};

static const struct cmd_spec memory_subs[] = {
    CMD("usage", -3, RO, 2, 2, 1, cmd_memory_usage),
    CMD("help",   2, LOAD | STALE | CONN, 0, 0, 0, cmd_memory_help),
    END,
};

static const struct cmd_spec object_subs[] = {
    CMD("encoding", 3, RO, 2, 2, 1, cmd_object_encoding),
    CMD("freq",     3, RO, 2, 2, 1, cmd_object_freq),
    CMD("idletime", 3, RO, 2, 2, 1, cmd_object_idletime),
    CMD("refcount", 3, RO, 2, 2, 1, cmd_object_refcount),
    CMD("help",     2, LOAD | STALE | CONN, 0, 0, 0, cmd_object_help),
    END,
};

static const struct cmd_spec slowlog_subs[] = {
    CMD("get",  -2, ADM | LOAD | STALE | ALL, 0, 0, 0, cmd_slowlog_get),
    CMD("len",   2, ADM | LOAD | STALE | ALL, 0, 0, 0, cmd_slowlog_len),
    CMD("reset", 2, ADM | LOAD | STALE | ALL, 0, 0, 0, cmd_slowlog_reset),
    CMD("help",  2, LOAD | STALE | CONN, 0, 0, 0, cmd_slowlog_help),
    END,
};

/* Sorted by name. */
static const struct cmd_spec top[] = {
    CMD("append",      3, W | OOM | FAST, 1, 1, 1, cmd_append),
    CMD("asking",      1, FAST | CONN, 0, 0, 0, cmd_asking),
    CMD("auth",       -2, NOSC | LOAD | STALE | FAST | NOAUTH | BUSY | CONN, 0, 0, 0, cmd_auth),
    CONTAINER("client", -2, 0, NULL, client_subs),
    CONTAINER("cluster", -2, 0, NULL, cluster_subs),
    CONTAINER("command", -1, LOAD | STALE | CONN, cmd_command, command_subs),
    CONTAINER("config", -2, 0, NULL, config_subs),
    CMD("dbsize",      1, RO | FAST | ALL, 0, 0, 0, cmd_dbsize),
    /* under the barrier: DIGEST and DIGEST-VALUE read every shard */
    CMD("debug",      -2, ADM | NOSC | LOAD | STALE | ALL, 0, 0, 0, cmd_debug),
    CMD("decr",        2, W | OOM | FAST, 1, 1, 1, cmd_decr),
    CMD("decrby",      3, W | OOM | FAST, 1, 1, 1, cmd_decrby),
    CMD("del",        -2, W | SPLIT, 1, -1, 1, cmd_del),
    CMD("discard",     1, NOSC | LOAD | STALE | FAST | BUSY | CONN, 0, 0, 0, cmd_discard),
    CMD("dump",        2, RO, 1, 1, 1, cmd_dump),
    CMD("echo",        2, LOAD | STALE | FAST | CONN, 0, 0, 0, cmd_echo),
    /* the queued commands run under the barrier, one after another */
    CMD("exec",        1, NOSC | LOAD | STALE | CMD_SKIP_SLOWLOG | ALL, 0, 0, 0, cmd_exec),
    CMD("exists",     -2, RO | FAST | SPLIT, 1, -1, 1, cmd_exists),
    CMD("expire",     -3, W | FAST, 1, 1, 1, cmd_expire),
    CMD("expireat",   -3, W | FAST, 1, 1, 1, cmd_expireat),
    CMD("expiretime",  2, RO | FAST, 1, 1, 1, cmd_expiretime),
    CMD("flushall",   -1, W | ALL, 0, 0, 0, cmd_flushall),
    CMD("flushdb",    -1, W | ALL, 0, 0, 0, cmd_flushdb),
    CONTAINER("function", -2, 0, NULL, function_subs),
    CMD("get",         2, RO | FAST, 1, 1, 1, cmd_get),
    CMD("getdel",      2, W | FAST, 1, 1, 1, cmd_getdel),
    CMD("getex",      -2, W | FAST, 1, 1, 1, cmd_getex),
    CMD("getrange",    4, RO, 1, 1, 1, cmd_getrange),
    CMD("getset",      3, W | OOM | FAST, 1, 1, 1, cmd_getset),
    CMD("hello",      -1, NOSC | LOAD | STALE | FAST | NOAUTH | BUSY | CONN, 0, 0, 0, cmd_hello),
    CMD("incr",        2, W | OOM | FAST, 1, 1, 1, cmd_incr),
    CMD("incrby",      3, W | OOM | FAST, 1, 1, 1, cmd_incrby),
    CMD("incrbyfloat", 3, W | OOM | FAST, 1, 1, 1, cmd_incrbyfloat),
    CMD("info",       -1, LOAD | STALE | ALL, 0, 0, 0, cmd_info),
    CMD("keys",        2, RO | ALL, 0, 0, 0, cmd_keys),
    CONTAINER("memory", -2, 0, NULL, memory_subs),
    CMD("mget",       -2, RO | FAST | SPLIT, 1, -1, 1, cmd_mget),
    /* key positions move with KEYS (7.0: movablekeys) */
    { .name = "migrate", .arity = -6, .flags = W | SPLIT | CMD_ASYNC, .first_key = 3, .last_key = 3,
      .key_step = 1, .fn = cmd_migrate, .getkeys = migrate_key_range, .id = NEXT_ID },
    CMD("monitor",     1, ADM | NOSC | LOAD | STALE | CONN, 0, 0, 0, cmd_monitor),
    CMD("move",        3, W | FAST, 1, 1, 1, cmd_move),
    CMD("mset",       -3, W | OOM | SPLIT, 1, -1, 2, cmd_mset),
    CMD("msetnx",     -3, W | OOM | SPLIT, 1, -1, 2, cmd_msetnx),
    CMD("multi",       1, NOSC | LOAD | STALE | FAST | BUSY | CONN, 0, 0, 0, cmd_multi),
    CONTAINER("object", -2, 0, NULL, object_subs),
    CMD("persist",     2, W | FAST, 1, 1, 1, cmd_persist),
    CMD("pexpire",    -3, W | FAST, 1, 1, 1, cmd_pexpire),
    CMD("pexpireat",  -3, W | FAST, 1, 1, 1, cmd_pexpireat),
    CMD("pexpiretime", 2, RO | FAST, 1, 1, 1, cmd_pexpiretime),
    CMD("ping",       -1, FAST | CONN, 0, 0, 0, cmd_ping),
    CMD("psetex",      4, W | OOM, 1, 1, 1, cmd_psetex),
    CMD("pttl",        2, RO | FAST, 1, 1, 1, cmd_pttl),
    CMD("quit",       -1, NOSC | LOAD | STALE | FAST | NOAUTH | BUSY | CONN, 0, 0, 0, cmd_quit),
    CMD("randomkey",   1, RO | ALL, 0, 0, 0, cmd_randomkey),
    CMD("readonly",    1, LOAD | STALE | FAST | CONN, 0, 0, 0, cmd_readonly),
    CMD("readwrite",   1, LOAD | STALE | FAST | CONN, 0, 0, 0, cmd_readwrite),
    CMD("rename",      3, W | SPLIT, 1, 2, 1, cmd_rename),
    CMD("renamenx",    3, W | FAST | SPLIT, 1, 2, 1, cmd_renamenx),
    CMD("reset",       1, NOSC | LOAD | STALE | FAST | NOAUTH | BUSY | CONN, 0, 0, 0, cmd_reset),
    CMD("restore",    -4, W | OOM, 1, 1, 1, cmd_restore),
    CMD("restore-asking", -4, W | OOM, 1, 1, 1, cmd_restore_asking),
    CMD("scan",       -2, RO | ALL, 0, 0, 0, cmd_scan),
    CMD("select",      2, LOAD | STALE | FAST | CONN, 0, 0, 0, cmd_select),
    CMD("set",        -3, W | OOM, 1, 1, 1, cmd_set),
    CMD("setex",       4, W | OOM, 1, 1, 1, cmd_setex),
    CMD("setnx",       3, W | OOM | FAST, 1, 1, 1, cmd_setnx),
    CMD("setrange",    4, W | OOM, 1, 1, 1, cmd_setrange),
    CMD("shutdown",   -1, ADM | NOSC | LOAD | STALE | NOMULT | BUSY | CONN, 0, 0, 0, cmd_shutdown),
    CONTAINER("slowlog", -2, 0, NULL, slowlog_subs),
    CMD("strlen",      2, RO | FAST, 1, 1, 1, cmd_strlen),
    CMD("swapdb",      3, W | FAST | ALL, 0, 0, 0, cmd_swapdb),
    CMD("time",        1, LOAD | STALE | FAST | CONN, 0, 0, 0, cmd_time),
    CMD("touch",      -2, RO | FAST | SPLIT, 1, -1, 1, cmd_touch),
    CMD("ttl",         2, RO | FAST, 1, 1, 1, cmd_ttl),
    CMD("type",        2, RO | FAST, 1, 1, 1, cmd_type),
    CMD("unlink",     -2, W | FAST | SPLIT, 1, -1, 1, cmd_unlink),
    CMD("unwatch",     1, NOSC | LOAD | STALE | FAST | BUSY | CONN, 0, 0, 0, cmd_unwatch),
    /* under the barrier: it records the client in each key's shard */
    CMD("watch",      -2, NOSC | LOAD | STALE | FAST | BUSY | ALL, 1, -1, 1, cmd_watch),
};

enum { ID_COUNT = __COUNTER__ - ID_BASE };
#define NTOP (sizeof(top) / sizeof(top[0]))

/* Case-insensitive order of `s` against a lower-case table name, consistent
 * with strcmp over the lower-case forms. */
static int name_cmp(const struct slice *s, const char *name)
{
    size_t i;

    for (i = 0; i < s->len && name[i]; i++) {
        unsigned char a = (unsigned char)s->p[i], b = (unsigned char)name[i];

        if (a >= 'A' && a <= 'Z')
            a = (unsigned char)(a - 'A' + 'a');
        if (a != b)
            return a < b ? -1 : 1;
    }
    if (i < s->len)
        return 1;
    return name[i] ? -1 : 0;
}

static const struct cmd_spec *find_sub(const struct cmd_spec *subs, const struct slice *name)
{
    for (; subs->name; subs++)
        if (name_cmp(name, subs->name) == 0)
            return subs;
    return NULL;
}

/* Top-level command: the spec itself, *parent NULL. Container with sub == NULL:
 * the container (its arity then decides, as Redis's lookup does for argc 1).
 * Container with a known sub: the subcommand, *parent the container. Container
 * with an unknown sub: NULL with *parent the container, so the caller answers
 * "unknown subcommand" instead of "unknown command". Unknown name: NULL, *parent
 * NULL. */
/* Top-level names hash into an open-addressed index built once by
 * cmd_table_init. A name of up to 16 bytes is folded to lower case as two
 * zero-padded 64-bit words (SWAR, no per-byte loop), hashed by one multiply
 * and compared word for word: cmd_lookup costs 64 instructions for GET,
 * against 129 for the byte loop with FNV-1a and strncmp it replaced
 * (callgrind, pipelined GET). Longer names compare their tail byte by byte. */
#define INDEX_BITS 9
#define INDEX_SIZE (1u << INDEX_BITS)  /* over 3x the top-level commands */
/* Multipliers cmd_table_init tries, keeping the one whose longest probe
 * sequence is shortest: with linear probing a fixed multiplier can leave
 * some names several slots from home. */
#define HASH_TRIES 256
#define NAME_MAX_LEN 32       /* longer names are unknown without hashing */
#define NAME_WORDS_LEN 16     /* bytes held in the two words */

struct name_key {
    uint64_t w0, w1;          /* first 16 bytes, lower case, zero-padded */
    size_t len;
};

struct index_slot {
    struct name_key key;
    const struct cmd_spec *spec;
};

static struct index_slot name_index[INDEX_SIZE];
static uint64_t name_mult = 0xff51afd7ed558ccdull;   /* chosen by cmd_table_init */

static inline uint64_t load_le(const char *p, size_t n)
{
    uint64_t v = 0;

    memcpy(&v, p, n);
    return v;
}

/* Bytes p[0..n), n <= 8, as a little-endian word padded with zeros. Two
 * overlapping loads instead of a loop: overlapping bytes are equal, so OR
 * joins them. */
static inline uint64_t load_upto8(const char *p, size_t n)
{
    if (n >= 8)
        return load_le(p, 8);
    if (n >= 4)
        return load_le(p, 4) | load_le(p + n - 4, 4) << (8 * (n - 4));
    if (n == 0)
        return 0;
    return (uint64_t)(unsigned char)p[0] |
           (uint64_t)(unsigned char)p[n / 2] << (8 * (n / 2)) |
           (uint64_t)(unsigned char)p[n - 1] << (8 * (n - 1));
}

/* ASCII 'A'..'Z' to lower case in all eight bytes at once; other bytes,
 * including those >= 0x80, unchanged. No byte's sum carries into the next. */
static inline uint64_t fold_lower(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t low7 = x & ~high;
    uint64_t ge_a = low7 + (0x80 - 'A') * ones;
    uint64_t gt_z = low7 + (0x80 - 'Z' - 1) * ones;

    return x | ((ge_a & ~gt_z & ~x & high) >> 2);
}

static inline void name_key_of(const char *p, size_t n, struct name_key *k)
{
    size_t head = n < 8 ? n : 8;
    size_t tail = n > NAME_WORDS_LEN ? 8 : n - head;

    k->w0 = fold_lower(load_upto8(p, head));
    /* p + 8 only when the name reaches it: no pointer past a short literal */
    k->w1 = tail ? fold_lower(load_upto8(p + 8, tail)) : 0;
    k->len = n;
}

static inline unsigned name_hash(const struct name_key *k, uint64_t mult)
{
    uint64_t h = (k->w0 ^ (k->w1 * 0x9e3779b97f4a7c15ull) ^ k->len) * mult;

    return (unsigned)(h >> (64 - INDEX_BITS));
}

/* Bytes past the first 16, case-insensitively against the table's name. */
static int tail_equal(const char *p, const char *name, size_t n)
{
    for (size_t i = NAME_WORDS_LEN; i < n; i++) {
        unsigned char c = (unsigned char)p[i];

        if ((c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c) != (unsigned char)name[i])
            return 0;
    }
    return 1;
}

/* Names of 9 to 32 bytes, kept out of the common path's registers. */
static __attribute__((noinline)) const struct cmd_spec *find_top_long(const struct slice *name)
{
    struct name_key k;

    name_key_of(name->p, name->len, &k);
    for (unsigned i = name_hash(&k, name_mult), n = 0; n < INDEX_SIZE; i = (i + 1) & (INDEX_SIZE - 1), n++) {
        const struct index_slot *e = &name_index[i];

        if (!e->spec)
            return NULL;
        if (e->key.w0 == k.w0 && e->key.w1 == k.w1 && e->key.len == k.len &&
            (k.len <= NAME_WORDS_LEN || tail_equal(name->p, e->spec->name, k.len)))
            return e->spec;
    }
    return NULL;
}

/* Most names (GET, SET, HGETALL ...) fit one word: one load pair, one fold,
 * one multiply, usually one compare. */
static inline const struct cmd_spec *find_top(const struct slice *name)
{
    struct name_key k = { 0, 0, name->len };

    if (name->len - 1 >= 8)
        return name->len == 0 || name->len > NAME_MAX_LEN ? NULL : find_top_long(name);
    k.w0 = fold_lower(load_upto8(name->p, name->len));
    for (unsigned i = name_hash(&k, name_mult); ; i = (i + 1) & (INDEX_SIZE - 1)) {
        const struct index_slot *e = &name_index[i];

        /* the index is never full: an empty slot ends every probe */
        if (e->key.w0 == k.w0 && e->key.len == k.len && e->key.w1 == 0)
            return e->spec;
        if (!e->spec)
            return NULL;
    }
}

const struct cmd_spec *cmd_lookup(const struct slice *name, const struct slice *sub,
                                  const struct cmd_spec **parent)
{
    const struct cmd_spec *found = find_top(name);

    if (parent)
        *parent = NULL;
    if (!found || !found->subcommands || !sub)
        return found;
    if (parent)
        *parent = found;
    return find_sub(found->subcommands, sub);
}

const struct cmd_spec *cmd_lookup_memo(struct cmd_memo *m, const struct slice *name,
                                       const struct slice *sub, const struct cmd_spec **parent)
{
    const struct cmd_spec *found;
    uint64_t w;

    if (name->len - 1 >= 8)
        return cmd_lookup(name, sub, parent);
    w = load_upto8(name->p, name->len);
    if (w == m->word && name->len == m->len) {
        *parent = NULL;
        return m->spec;
    }
    found = cmd_lookup(name, sub, parent);
    /* A container's answer depends on the subcommand too: not memoized. */
    if (found && !found->subcommands && !*parent) {
        m->word = w;
        m->len = name->len;
        m->spec = found;
    }
    return found;
}

/* Fill the index with multiplier `mult`; returns the longest distance of a
 * name from its home slot. */
static unsigned build_index(uint64_t mult)
{
    unsigned worst = 0;

    memset(name_index, 0, sizeof(name_index));
    for (size_t i = 0; i < NTOP; i++) {
        struct name_key k;
        unsigned h, d = 0;

        name_key_of(top[i].name, strlen(top[i].name), &k);
        h = name_hash(&k, mult);
        while (name_index[(h + d) & (INDEX_SIZE - 1)].spec)
            d++;
        name_index[(h + d) & (INDEX_SIZE - 1)] = (struct index_slot){ k, &top[i] };
        if (d > worst)
            worst = d;
    }
    return worst;
}

/* splitmix64: a reproducible series of well-mixed odd multipliers. */
static uint64_t next_mult(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (z ^ (z >> 31)) | 1;
}

int cmd_table_init(void)
{
    unsigned seen = 0, best = UINT32_MAX;
    uint64_t state = 0, best_mult = 0;

    /* find_top's probes end at an empty slot */
    if (NTOP >= INDEX_SIZE)
        return -EINVAL;
    for (size_t i = 0; i < NTOP; i++) {
        if (i > 0 && strcmp(top[i - 1].name, top[i].name) >= 0)
            return -EINVAL;
        if (strlen(top[i].name) > NAME_MAX_LEN)
            return -EINVAL;
        seen++;
        if (top[i].subcommands)
            for (const struct cmd_spec *s = top[i].subcommands; s->name; s++)
                seen++;
    }
    /* every id below ID_COUNT belongs to exactly one spec */
    if (seen != ID_COUNT)
        return -EINVAL;
    for (unsigned id = 0; id < ID_COUNT; id++)
        if (!cmd_by_id(id))
            return -EINVAL;
    for (int t = 0; t < HASH_TRIES && best > 0; t++) {
        uint64_t mult = next_mult(&state);
        unsigned worst = build_index(mult);

        if (worst < best) {
            best = worst;
            best_mult = mult;
        }
    }
    name_mult = best_mult;
    build_index(name_mult);
    return 0;
}

unsigned cmd_count_ids(void)
{
    return ID_COUNT;
}

const struct cmd_spec *cmd_table(unsigned *n)
{
    *n = (unsigned)NTOP;
    return top;
}

const struct cmd_spec *cmd_by_id(unsigned id)
{
    for (size_t i = 0; i < NTOP; i++) {
        if (top[i].id == id)
            return &top[i];
        if (top[i].subcommands)
            for (const struct cmd_spec *s = top[i].subcommands; s->name; s++)
                if (s->id == id)
                    return s;
    }
    return NULL;
}

static const struct cmd_spec *parent_of(const struct cmd_spec *sub)
{
    for (size_t i = 0; i < NTOP; i++)
        if (top[i].subcommands)
            for (const struct cmd_spec *s = top[i].subcommands; s->name; s++)
                if (s == sub)
                    return &top[i];
    return NULL;
}

const char *cmd_fullname(const struct cmd_spec *s, char *buf, size_t cap)
{
    const struct cmd_spec *p = parent_of(s);

    if (cap == 0)
        return buf;
    if (p)
        snprintf(buf, cap, "%s|%s", p->name, s->name);
    else
        snprintf(buf, cap, "%s", s->name);
    return buf;
}
