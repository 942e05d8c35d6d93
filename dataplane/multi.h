/* multi — MULTI / EXEC / DISCARD / WATCH / UNWATCH: a client's queued
 * transaction, the keys it watches, and its atomic run.
 *
 * Queueing happens in the client's dispatch (client.c): while cl->multi is
 * set, every command but the ones multi_runs_now() names is checked as Redis
 * 7.0 checks it at queue time (unknown, arity, NOAUTH, no-multi, cluster
 * redirection, OOM: each such error flags the transaction for EXECABORT),
 * then copied here and answered +QUEUED. EXEC runs under the all-cores
 * barrier, so the queued commands see every shard (view.all) and nothing else
 * runs between them.
 *
 * Owned by the client's core; the state lives and dies with the client. */
#ifndef SLOTD_MULTI_H
#define SLOTD_MULTI_H

#include "../kv/cmd.h"

struct client;
struct core;
struct slotmap;
struct multi_state;
struct xreq;

/* Commands that run at once inside MULTI instead of being queued (Redis 7.0
 * processCommand: EXEC DISCARD MULTI WATCH QUIT RESET). */
int multi_runs_now(const struct cmd_spec *cmd);
/* Commands that Redis 7.0 still accepts inside MULTI when memory is over
 * maxmemory (EXEC DISCARD QUIT RESET); every other one gets -OOM there. */
int multi_oom_exempt(const struct cmd_spec *cmd);

/* Append a command (arguments copied) to the transaction of `cl`, which must
 * be in MULTI. 0, or -ENOMEM (nothing queued). */
int multi_queue(struct client *cl, const struct cmd_spec *cmd, int argc,
                const struct slice *argv);
/* A command was refused while queueing: EXEC will answer EXECABORT. No-op
 * outside MULTI. */
void multi_flag_dirty(struct client *cl);
/* Leave MULTI, dropping what was queued, and stop watching every key (Redis
 * discardTransaction: DISCARD, RESET, an EXEC refused, the client freed).
 * Runs on the client's core; WATCH nodes of other cores' shards are handed
 * back to them by XREQ_UNWATCH. */
void multi_discard(struct client *cl);

/* Core → multi: an XREQ_UNWATCH request arrived; release its nodes from this
 * core's shard and free it. */
void multi_unwatch_deliver(struct core *self, struct xreq *r);

/* CLIENT LIST / INFO as 7.0 prints them: queued commands (multi=, -1 outside
 * MULTI), their argument bytes plus a pointer per argument (multi-mem=),
 * and whether a watched key changed (flag d). Own core, or barrier holder. */
int multi_info_count(const struct client *cl);
size_t multi_info_mem(const struct client *cl);
int multi_info_dirty(const struct client *cl);

/* Cluster mode, queue time: the part of Redis 7.0's getNodeByQuery that needs
 * the keys (ASK / TRYAGAIN on a migrating or importing slot) for one command
 * whose slot-map checks passed. `c` is a context whose view reaches the
 * keys' shard. NULL when the command may be queued, else the error line (in
 * `buf` or static). */
const char *multi_keys_redirect(struct cmd_ctx *c, const struct slotmap *map, int asking,
                                const struct cmd_spec *cmd, int argc,
                                const struct slice *argv, char *buf, size_t cap);

#endif
