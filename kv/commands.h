/* commands — every command handler, for the command table (kv/cmd_table.c).
 * Grouped by the file that implements them. */
#ifndef SLOTD_COMMANDS_H
#define SLOTD_COMMANDS_H

#include "cmd.h"

/* kv/cmd_string.c */
cmd_fn cmd_get, cmd_set, cmd_setnx, cmd_setex, cmd_psetex, cmd_getset, cmd_getdel,
       cmd_getex, cmd_mget, cmd_mset, cmd_msetnx, cmd_append, cmd_strlen, cmd_incr,
       cmd_decr, cmd_incrby, cmd_decrby, cmd_incrbyfloat, cmd_getrange, cmd_setrange;

/* kv/cmd_keys.c */
cmd_fn cmd_del, cmd_unlink, cmd_exists, cmd_type, cmd_expire, cmd_pexpire,
       cmd_expireat, cmd_pexpireat, cmd_ttl, cmd_pttl, cmd_expiretime,
       cmd_pexpiretime, cmd_persist, cmd_rename, cmd_renamenx, cmd_keys, cmd_scan,
       cmd_randomkey, cmd_touch, cmd_move, cmd_dbsize, cmd_flushdb, cmd_flushall,
       cmd_swapdb;

/* kv/cmd_object.c */
cmd_fn cmd_object_encoding, cmd_object_freq, cmd_object_idletime,
       cmd_object_refcount, cmd_object_help, cmd_memory_usage, cmd_memory_help;

/* kv/cmd_migrate.c */
cmd_fn cmd_dump, cmd_restore, cmd_restore_asking, cmd_migrate;
/* MIGRATE's key positions for routing (7.0 migrateGetKeys, with the AUTH and
 * AUTH2 arguments skipped as the command parses them): argv[3], or every
 * argument after the KEYS option when argv[3] is empty. Returns 0 when the
 * command names no key, else 1 with [*first, *last] (step 1). */
int migrate_key_range(int argc, const struct slice *argv, int *first, int *last);
struct core;
struct migrate_job;
/* A job the control plane finished, on the core that submitted it: delete
 * the keys the target acknowledged (unless COPY), unlock them, reply. */
void migrate_finish(struct core *self, struct migrate_job *j);
/* Free a job whose request is gone (shutdown). */
void migrate_discard(struct migrate_job *j);
struct client;
/* Whether a MIGRATE of `client` is still out on this core (its keys
 * locked): the pointer is compared only. */
int migrate_holds_client(const struct core *self, const struct client *client);

/* kv/cmd_function.c */
cmd_fn cmd_function_dump, cmd_function_restore, cmd_function_list,
       cmd_function_flush, cmd_function_stats, cmd_function_help;

/* kv/cmd_config.c */
cmd_fn cmd_config_get, cmd_config_set, cmd_config_resetstat, cmd_config_rewrite,
       cmd_config_help;

/* dataplane/cmd_conn.c: connection and server commands that need client state
 * or the process */
cmd_fn cmd_ping, cmd_echo, cmd_hello, cmd_auth, cmd_quit, cmd_select, cmd_reset,
       cmd_client_id, cmd_client_setname, cmd_client_getname, cmd_client_setinfo,
       cmd_client_list, cmd_client_info, cmd_client_kill, cmd_client_help,
       cmd_info, cmd_time, cmd_shutdown, cmd_slowlog_get, cmd_slowlog_len,
       cmd_slowlog_reset, cmd_slowlog_help, cmd_monitor, cmd_debug,
       cmd_command, cmd_command_count, cmd_command_info, cmd_command_docs,
       cmd_command_getkeys, cmd_command_list, cmd_command_help;

/* dataplane/multi.c: transactions */
cmd_fn cmd_multi, cmd_exec, cmd_discard, cmd_watch, cmd_unwatch;

/* cluster/cmd_cluster.c: CLUSTER subcommands and the cluster connection
 * commands */
cmd_fn cmd_cluster_addslots, cmd_cluster_addslotsrange, cmd_cluster_bumpepoch,
       cmd_cluster_count_failure_reports, cmd_cluster_countkeysinslot,
       cmd_cluster_delslots, cmd_cluster_delslotsrange, cmd_cluster_failover,
       cmd_cluster_flushslots, cmd_cluster_forget, cmd_cluster_getkeysinslot,
       cmd_cluster_help, cmd_cluster_info, cmd_cluster_keyslot, cmd_cluster_links,
       cmd_cluster_meet, cmd_cluster_myid, cmd_cluster_nodes, cmd_cluster_replicas,
       cmd_cluster_replicate, cmd_cluster_reset, cmd_cluster_saveconfig,
       cmd_cluster_set_config_epoch, cmd_cluster_setslot, cmd_cluster_shards,
       cmd_cluster_slaves, cmd_cluster_slots, cmd_asking, cmd_readonly, cmd_readwrite;

#endif
