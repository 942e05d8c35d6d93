/* config — slotd's configuration: redis.conf syntax, redis-server command
 * line, CONFIG GET / SET / REWRITE semantics of Redis 7.0.
 *
 * One table in config.c describes every directive (name, alias, type, bounds,
 * Redis 7.0 default, whether CONFIG SET may change it). `struct config` holds
 * the values in plain typed fields that the rest of slotd reads directly.
 *
 * Every Redis 7.0 directive except tls-* and the test-only hidden ones is
 * accepted, so a stock redis.conf loads. Those slotd does not act on are
 * stored and reported (CONFIG GET) but have no effect; a few whose non-default
 * value would silently change what a client gets (appendonly yes, aclfile,
 * unixsocket, replicaof, syslog-enabled yes, supervised upstart|systemd,
 * activedefrag yes, rename-command, user, loadmodule) are refused with a
 * reason.
 *
 * Ownership and threads: a config is built by main before any thread starts.
 * config_set() and config_rewrite() run on one thread while every data core is
 * parked (the all-cores barrier), so data cores read fields without locks. */
#ifndef SLOTD_CONFIG_H
#define SLOTD_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include "slice.h"

#define CONFIG_BIND_MAX 16        /* Redis CONFIG_BINDADDR_MAX */
#define CONFIG_THREADS_MAX 128    /* data cores; see MEM_MAX_THREADS */
#define CONFIG_MIN_HZ 1           /* Redis server.h */
#define CONFIG_MAX_HZ 500
#define CONFIG_ERR_LEN 1024       /* room for any error text from this module */

enum maxmemory_policy {
    MAXMEMORY_NO_EVICTION,
    MAXMEMORY_ALLKEYS_LRU,
    MAXMEMORY_VOLATILE_LRU,
    MAXMEMORY_ALLKEYS_LFU,
    MAXMEMORY_VOLATILE_LFU,
    MAXMEMORY_ALLKEYS_RANDOM,
    MAXMEMORY_VOLATILE_RANDOM,
    MAXMEMORY_VOLATILE_TTL,
};

enum dataplane_kind { DATAPLANE_SOCKET, DATAPLANE_DPDK };

/* enable-protected-configs / -debug-command / -module-command */
enum protected_action { PROTECTED_NO, PROTECTED_YES, PROTECTED_LOCAL };

/* client-output-buffer-limit classes (Redis names: normal, slave|replica, pubsub) */
enum { OBUF_NORMAL, OBUF_REPLICA, OBUF_PUBSUB, OBUF_CLASSES };

struct obuf_limit {
    unsigned long long hard, soft;   /* bytes, 0 = no limit */
    long long soft_seconds;
};

struct save_point {
    long long seconds;
    int changes;
};

/* notify-keyspace-events bits (Redis server.h NOTIFY_*) */
enum {
    NOTIFY_KEYSPACE = 1 << 0,  /* K */
    NOTIFY_KEYEVENT = 1 << 1,  /* E */
    NOTIFY_GENERIC  = 1 << 2,  /* g */
    NOTIFY_STRING   = 1 << 3,  /* $ */
    NOTIFY_LIST     = 1 << 4,  /* l */
    NOTIFY_SET      = 1 << 5,  /* s */
    NOTIFY_HASH     = 1 << 6,  /* h */
    NOTIFY_ZSET     = 1 << 7,  /* z */
    NOTIFY_EXPIRED  = 1 << 8,  /* x */
    NOTIFY_EVICTED  = 1 << 9,  /* e */
    NOTIFY_STREAM   = 1 << 10, /* t */
    NOTIFY_KEY_MISS = 1 << 11, /* m */
    NOTIFY_MODULE   = 1 << 12, /* d */
    NOTIFY_NEW      = 1 << 13, /* n */
};

/* shutdown-on-sigint / shutdown-on-sigterm bits (0 = "default") */
enum { SHUTDOWN_SAVE = 1, SHUTDOWN_NOSAVE = 2, SHUTDOWN_NOW = 4, SHUTDOWN_FORCE = 8 };

/* Strings are owned by the config (NULL where Redis keeps NULL for an empty
 * value: requirepass, pidfile, cluster-announce-ip, ...). Booleans are 0/1. */
struct config {
    /* network, connections */
    int port;
    char *bind[CONFIG_BIND_MAX];
    int bind_count;
    int tcp_backlog;
    int tcp_keepalive;            /* seconds */
    int timeout;                  /* client idle seconds, 0 = never */
    int protected_mode;
    unsigned maxclients;
    long long proto_max_bulk_len;
    unsigned long long client_query_buffer_limit;
    struct obuf_limit obuf[OBUF_CLASSES];
    char *requirepass;

    /* slotd: data plane */
    int threads;                  /* data cores, default nproc-1 (>= 1) */
    int dataplane;                /* enum dataplane_kind */
    int io_threads;               /* accepted for redis.conf; slotd uses `threads` */

    /* slotd: dataplane dpdk (all immutable; read by main and the transport) */
    char *dpdk_eal_args;          /* EAL arguments, split on blanks; "" = none */
    char *dpdk_port;              /* EAL device name; "" = the only port */
    char *dpdk_ip;                /* "a.b.c.d/len", required with dataplane dpdk */
    char *dpdk_gateway;           /* "a.b.c.d" or "" = no default route */
    char *dpdk_mac;               /* "xx:xx:xx:xx:xx:xx" or "" = the port's */
    int dpdk_mtu;                 /* IP MTU of the port and the exception TAP */
    char *dpdk_tap;               /* exception TAP name; "" = slotd%d */
    int dpdk_max_conns;           /* TCP connections per data core */
    int dpdk_test_reorder_pct;    /* test knob: % of RX bursts reordered */
    int dpdk_test_duplicate_pct;  /* test knob: % of RX frames duplicated */

    /* memory, eviction */
    unsigned long long maxmemory;
    enum maxmemory_policy maxmemory_policy;
    int maxmemory_samples;
    int maxmemory_eviction_tenacity;
    long long maxmemory_clients;  /* bytes, or -percent of maxmemory */
    int lfu_log_factor;
    int lfu_decay_time;
    int lazyfree_lazy_eviction, lazyfree_lazy_expire, lazyfree_lazy_server_del;
    int lazyfree_lazy_user_del, lazyfree_lazy_user_flush;
    int active_expire_effort;     /* 1..10 */
    int activedefrag;

    /* process, logging */
    int daemonize;
    char *pidfile;
    char *logfile;                /* "" = stdout */
    int loglevel;                 /* enum log_level */
    int databases;
    int hz;                       /* clamped to CONFIG_MIN_HZ..CONFIG_MAX_HZ */
    int dynamic_hz;
    long long slowlog_log_slower_than;   /* microseconds, -1 = off */
    long long slowlog_max_len;
    long long latency_monitor_threshold;
    int latency_tracking;
    double *latency_percentiles;  /* latency-tracking-info-percentiles */
    int latency_percentiles_count;
    long long busy_reply_threshold;      /* ms (alias lua-time-limit) */
    int notify_keyspace_events;   /* NOTIFY_* */
    int enable_protected_configs, enable_debug_command, enable_module_command;
    int shutdown_on_sigint, shutdown_on_sigterm;  /* SHUTDOWN_* */
    int shutdown_timeout;

    /* persistence (RDB only; appendonly must stay "no") */
    struct save_point *save;
    int save_count;
    int appendonly;
    char *dbfilename;

    /* cluster */
    int cluster_enabled;
    char *cluster_config_file;
    long long cluster_node_timeout;      /* ms */
    int cluster_port;                    /* 0 = port + 10000 */
    char *cluster_announce_ip;
    char *cluster_announce_hostname;
    int cluster_announce_port, cluster_announce_bus_port, cluster_announce_tls_port;
    int cluster_require_full_coverage;
    int cluster_allow_reads_when_down;
    int cluster_allow_pubsubshard_when_down;
    int cluster_replica_validity_factor;
    int cluster_migration_barrier;
    int cluster_allow_replica_migration;
    int cluster_replica_no_failover;
    int cluster_preferred_endpoint_type; /* 0 ip, 1 hostname, 2 unknown-endpoint */
    unsigned long long cluster_link_sendbuf_limit;

    /* replication */
    char *masterauth, *masteruser;
    int repl_timeout, repl_ping_replica_period;
    long long repl_backlog_size, repl_backlog_ttl;
    int repl_diskless_sync, repl_diskless_sync_delay, repl_diskless_sync_max_replicas;
    int repl_diskless_load, repl_disable_tcp_nodelay;
    int replica_serve_stale_data, replica_read_only, replica_lazy_flush;
    int replica_ignore_maxmemory, replica_announced, replica_priority;
    int replica_ignore_disk_write_errors;
    char *replica_announce_ip;
    int replica_announce_port;
    int min_replicas_to_write, min_replicas_max_lag;

    /* accepted for redis.conf compatibility; no effect in slotd */
    int rdbcompression, rdbchecksum, rdb_del_sync_files, rdb_save_incremental_fsync;
    int stop_writes_on_bgsave_error;
    int activerehashing, jemalloc_bg_thread, set_proc_title, always_show_logo;
    int crash_log_enabled, crash_memcheck_enabled, disable_thp;
    int io_threads_do_reads;
    int syslog_enabled, syslog_facility, supervised;
    char *syslog_ident;
    char *aclfile, *unixsocket;
    unsigned unixsocketperm;
    unsigned socket_mark_id;
    char *appendfilename, *appenddirname;
    int appendfsync, no_appendfsync_on_rewrite, aof_rewrite_incremental_fsync;
    int aof_load_truncated, aof_use_rdb_preamble, aof_timestamp_enabled, aof_disable_auto_gc;
    int auto_aof_rewrite_percentage;
    long long auto_aof_rewrite_min_size;
    int active_defrag_cycle_min, active_defrag_cycle_max;
    int active_defrag_threshold_lower, active_defrag_threshold_upper;
    unsigned long long active_defrag_ignore_bytes;
    long long active_defrag_max_scan_fields;
    int list_max_listpack_size, list_compress_depth;
    unsigned long long hash_max_listpack_entries, hash_max_listpack_value;
    unsigned long long set_max_intset_entries;
    unsigned long long zset_max_listpack_entries, zset_max_listpack_value;
    unsigned long long hll_sparse_max_bytes, stream_node_max_bytes;
    long long stream_node_max_entries;
    unsigned long long tracking_table_max_keys;
    long long acllog_max_len;
    int acl_pubsub_default, sanitize_dump_payload, propagation_error_behavior;
    int oom_score_adj;
    int oom_score_adj_values[3];
    char *server_cpulist, *bio_cpulist, *aof_rewrite_cpulist, *bgsave_cpulist;
    char *ignore_warnings, *proc_title_template, *bind_source_addr;

    /* absolute path of the file given on the command line (CONFIG REWRITE
     * target), NULL when started without one */
    char *configfile;
};

/* Defaults (Redis 7.0's, plus slotd's threads/dataplane). NULL on ENOMEM. */
struct config *config_new(void);
void config_free(struct config *cfg);

/* Load like redis-server: argv[0] is the program, then an optional config
 * file (or "-" for stdin, allowed first or last), then `--name value ...`
 * options that override the file (`--name` alone takes the next words until
 * the next `--`). `include` directives are followed (globs allowed).
 * On error returns -EINVAL (or -errno for an unreadable file) and writes to
 * err (CONFIG_ERR_LEN bytes is enough) the text main prints to stderr:
 *   "\n*** FATAL CONFIG FILE ERROR (slotd <ver>) ***\n"
 *   "Reading the configuration file, at line N\n>>> '<line>'\n<reason>\n"
 * A `dir` directive chdir()s immediately, as in Redis. */
int config_load_argv(struct config *cfg, int argc, char **argv, char *err, size_t errlen);
/* One file, or a string of redis.conf lines (same errors as above). */
int config_load_file(struct config *cfg, const char *path, char *err, size_t errlen);
int config_load_string(struct config *cfg, const char *text, char *err, size_t errlen);

/* The process-wide live config, set once by main before threads start; the
 * module's one mutable global. Read by every command (limits, thresholds),
 * so the read is inline: a call cost more than the load. */
extern struct config *config_live_cfg;
static inline struct config *config_live(void)
{
    return config_live_cfg;
}
void config_set_live(struct config *cfg);

/* Called after CONFIG SET changed the directive (not when the value stayed
 * the same). Return 0, or -errno with *err set to a static message: the whole
 * CONFIG SET is then rolled back. Runs under the all-cores barrier. */
typedef int config_apply_fn(struct config *cfg, void *arg, const char **err);
/* Attach the owner's apply hook to a directive (before threads start); `arg`
 * is handed back to it. port and bind can be changed at runtime only once a
 * hook is attached (the transport must rebind); until then CONFIG SET treats
 * them as immutable. Returns 0 or -ENOENT (no such directive). */
int config_on_apply(const char *name, config_apply_fn *fn, void *arg);

/* CONFIG SET with n (name, value) pairs in nv[0..2n-1]: all or nothing,
 * Redis 7.0 checks and order. allow_protected: the caller may change
 * protected directives (dir, dbfilename), see enable-protected-configs.
 * Returns 0, or -EINVAL with the complete error reply line in err, e.g.
 * "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value". */
int config_set(struct config *cfg, const struct slice *nv, int n, int allow_protected,
               char *err, size_t errlen);

/* 1 if `name` is a directive whose CONFIG SET value must not be shown in
 * SLOWLOG or MONITOR (requirepass, masterauth, masteruser). */
int config_is_sensitive(const struct slice *name);

/* CONFIG GET: directives whose name or alias matches any of the patterns
 * (kv/glob.h rules, case-insensitive; a pattern without * ? [ is an exact
 * name and is reported as typed). Each name appears once. */
struct config_kv {
    struct slice name;   /* static table name, or the caller's pattern slice */
    char *value;         /* owned, NUL-terminated */
    size_t vlen;
};
/* Returns the number of pairs (*out owned by the caller, free with
 * config_kv_free) or -ENOMEM. */
int config_get(const struct config *cfg, const struct slice *patterns, int npatterns,
               struct config_kv **out);
void config_kv_free(struct config_kv *kv, int n);
/* One directive's value as CONFIG GET shows it. Returns its length (may be
 * >= cap: truncated), or -ENOENT. */
int config_get_value(const struct config *cfg, const char *name, char *buf, size_t cap);

/* CONFIG REWRITE into path (normally cfg->configfile): keeps comments and
 * lines it does not own, replaces directive lines in place, blanks stale
 * duplicates, appends non-default values after "# Generated by CONFIG
 * REWRITE", then replaces the file atomically. Returns 0 or -errno. */
int config_rewrite(const struct config *cfg, const char *path);

/* Redis memtoull(): "1k" = 1000, "1kb" = 1024, k m g / kb mb gb, any case,
 * bare digits = bytes. Returns 0 or -EINVAL. Overflow saturates. */
int config_parse_memory(const char *s, unsigned long long *out);

/* dpdk-ip "a.b.c.d/len" (len 1..32) into host-order address and prefix,
 * dpdk-gateway "a.b.c.d", dpdk-mac "xx:xx:xx:xx:xx:xx" (hex, either case).
 * Return 0 or -EINVAL; the outputs are written only on success. */
int config_parse_ipv4_prefix(const char *s, uint32_t *ip, unsigned *prefix);
int config_parse_ipv4(const char *s, uint32_t *ip);
int config_parse_mac(const char *s, uint8_t mac[6]);
/* The host-order netmask of a prefix length 0..32. */
uint32_t config_ipv4_mask(unsigned prefix);

/* Names for INFO: "noeviction", "allkeys-lru", ... */
const char *config_maxmemory_policy_name(int policy);

/* Start-up helpers for main, in this order, before any thread starts:
 * config_daemonize() forks when cfg->daemonize: returns 1 in the parent (main
 * exits 0), 0 in the child (stdin/stdout/stderr on /dev/null, new session)
 * or when not daemonizing, -errno on failure. config_write_pidfile() writes
 * cfg->pidfile (or /var/run/slotd.pid when daemonized without one); 0 or
 * -errno. config_remove_pidfile() at shutdown. */
int config_daemonize(const struct config *cfg);
int config_write_pidfile(const struct config *cfg);
void config_remove_pidfile(const struct config *cfg);

#endif
