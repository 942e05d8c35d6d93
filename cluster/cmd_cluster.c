/* cmd_cluster — CLUSTER and its subcommands, ASKING, READONLY, READWRITE,
 * with the replies and errors of redis-server 7.0 (Redis src/cluster.c
 * clusterCommand; output shapes in ../shared/docs/cluster-bus.md §6-§8).
 *
 * Threads: a handler runs on a data core (the connection's, or the barrier
 * holder's for the subcommands flagged CMD_ALLCORES in kv/cmd_table.c,
 * which need the shards: key counts and emptiness checks). The cluster
 * state belongs to the control thread; a handler reaches it by taking the
 * cluster lock (cl_lock), which the control thread holds only while it
 * processes bus events or runs its 100 ms cron, so the wait is short and
 * only CLUSTER commands ever wait. cl_unlock hands nodes.conf to its
 * writer thread (waiting for it, without the lock, only when the change
 * must be synced first: epochs, SAVECONFIG), publishes the new slot map
 * before the reply leaves (a client that sees +OK for SETSLOT is
 * redirected by the new map), and wakes the control thread when a message
 * must go out. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../dataplane/client.h"
#include "../dataplane/config.h"
#include "../dataplane/log.h"
#include "../kv/commands.h"
#include "../kv/slot.h"
#include "../kv/slotkeys.h"
#include "cluster_priv.h"

#define ERR_DISABLED "ERR This instance has cluster support disabled"

static struct cluster *cluster_or_reply(struct cmd_ctx *c)
{
    struct cluster *cl = cl_instance();

    if (!cl)
        resp_add_error(c->out, ERR_DISABLED);
    return cl;
}

/* Redis addReplySubcommandSyntaxError. */
static void reply_subcommand_syntax(struct cmd_ctx *c)
{
    char cmd[32];
    size_t n = c->argv[0].len < sizeof(cmd) - 1 ? c->argv[0].len : sizeof(cmd) - 1;

    for (size_t i = 0; i < n; i++) {
        char ch = c->argv[0].p[i];
        cmd[i] = (char)(ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch);
    }
    cmd[n] = '\0';
    resp_add_errorf(c->out, "ERR unknown subcommand or wrong number of arguments for '%.*s'. "
                    "Try %s HELP.", (int)(c->argv[1].len > 128 ? 128 : c->argv[1].len),
                    c->argv[1].p, cmd);
}

static int arg_ll(const struct slice *s, long long *v)
{
    return str_to_ll(s->p, s->len, v) ? 0 : -1;
}

/* Redis getSlotOrReply: -1 after the error reply. */
static int slot_or_reply(struct cmd_ctx *c, const struct slice *s)
{
    long long v;

    if (arg_ll(s, &v) != 0 || v < 0 || v >= BUS_SLOTS) {
        resp_add_error(c->out, "ERR Invalid or out of range slot");
        return -1;
    }
    return (int)v;
}

static struct cl_node *lookup_arg(struct cluster *cl, const struct slice *s)
{
    return cl_lookup(cl, s->p, s->len);
}

/* The node named by argv[i], or NULL after Redis's "Unknown node" reply. */
static struct cl_node *node_or_reply(struct cmd_ctx *c, struct cluster *cl, int i)
{
    struct cl_node *n = lookup_arg(cl, &c->argv[i]);

    if (!n)
        resp_add_errorf(c->out, "ERR Unknown node %.*s", (int)c->argv[i].len, c->argv[i].p);
    return n;
}

static int arg_is(const struct slice *s, const char *lit)
{
    return slice_eq_nocase(s, lit);
}

/* ---- read-only views ----------------------------------------------------- */

void cmd_cluster_myid(struct cmd_ctx *c)
{
    struct cluster *cl = cluster_or_reply(c);

    if (!cl)
        return;
    cl_lock(cl);
    resp_add_bulk(c->out, cl->myself->name, BUS_NAMELEN);
    cl_unlock(cl);
}

void cmd_cluster_nodes(struct cmd_ctx *c)
{
    struct cluster *cl = cluster_or_reply(c);
    struct sbuf b = { 0 };

    if (!cl)
        return;
    cl_lock(cl);
    cl_nodes_text(cl, 0, &b);
    cl_unlock(cl);
    if (b.oom)
        resp_add_error(c->out, ERR_OOM);
    else
        resp_add_verbatim(c->out, b.p ? b.p : "", b.len, "txt");
    sb_free(&b);
}

static const char *preferred_endpoint(struct cluster *cl, const struct cl_node *n)
{
    if (cl->endpoint_type == CL_ENDPOINT_HOSTNAME)
        return n->hostname[0] ? n->hostname : "?";
    if (cl->endpoint_type == CL_ENDPOINT_UNKNOWN)
        return "";
    return n->ip;
}

/* [endpoint, port, id, {extra networking metadata}] of CLUSTER SLOTS. */
static void slots_node(struct cluster *cl, struct cmd_ctx *c, const struct cl_node *n)
{
    int extra = 0;

    resp_add_array(c->out, 4);
    if (cl->endpoint_type == CL_ENDPOINT_IP)
        resp_add_bulk_str(c->out, n->ip);
    else if (cl->endpoint_type == CL_ENDPOINT_HOSTNAME)
        resp_add_bulk_str(c->out, n->hostname[0] ? n->hostname : "?");
    else
        resp_add_null(c->out);
    resp_add_int(c->out, n->port);
    resp_add_bulk(c->out, n->name, BUS_NAMELEN);
    if (cl->endpoint_type != CL_ENDPOINT_IP)
        extra++;
    if (cl->endpoint_type != CL_ENDPOINT_HOSTNAME && n->hostname[0])
        extra++;
    resp_add_map(c->out, extra);
    if (cl->endpoint_type != CL_ENDPOINT_IP) {
        resp_add_bulk_str(c->out, "ip");
        resp_add_bulk_str(c->out, n->ip);
    }
    if (cl->endpoint_type != CL_ENDPOINT_HOSTNAME && n->hostname[0]) {
        resp_add_bulk_str(c->out, "hostname");
        resp_add_bulk_str(c->out, n->hostname);
    }
}

/* Replicas listed by CLUSTER SLOTS: not failed, and synced at least once. */
static int replica_available(const struct cl_node *n)
{
    return !cl_failed(n) && n->repl_offset != 0;
}

void cmd_cluster_slots(struct cmd_ctx *c)
{
    struct cluster *cl = cluster_or_reply(c);
    size_t handle;
    long long runs = 0;

    if (!cl)
        return;
    cl_lock(cl);
    handle = resp_add_deferred_array(c->out);
    for (unsigned s = 0; s < BUS_SLOTS;) {
        struct cl_node *n = cl->slots[s];
        unsigned e = s;
        int avail = 0;

        if (!n) {
            s++;
            continue;
        }
        while (e + 1 < BUS_SLOTS && cl->slots[e + 1] == n)
            e++;
        for (int i = 0; i < n->numslaves; i++)
            avail += replica_available(n->slaves[i]);
        resp_add_array(c->out, 3 + avail);
        resp_add_int(c->out, s);
        resp_add_int(c->out, e);
        slots_node(cl, c, n);
        for (int i = 0; i < n->numslaves; i++)
            if (replica_available(n->slaves[i]))
                slots_node(cl, c, n->slaves[i]);
        runs++;
        s = e + 1;
    }
    resp_set_deferred_array(c->out, handle, runs);
    cl_unlock(cl);
}

static void shard_node(struct cluster *cl, struct cmd_ctx *c, const struct cl_node *n)
{
    /* slotd masters report master_repl_offset 0: they have no replication. */
    long long offset = (n->flags & BUS_NODE_MYSELF) ? 0 : (long long)n->repl_offset;
    int fields = 6 + (n->port != 0) + (n->hostname[0] != '\0');

    resp_add_map(c->out, fields);
    resp_add_bulk_str(c->out, "id");
    resp_add_bulk(c->out, n->name, BUS_NAMELEN);
    if (n->port) {
        resp_add_bulk_str(c->out, "port");
        resp_add_int(c->out, n->port);
    }
    resp_add_bulk_str(c->out, "ip");
    resp_add_bulk_str(c->out, n->ip);
    resp_add_bulk_str(c->out, "endpoint");
    resp_add_bulk_str(c->out, preferred_endpoint(cl, n));
    if (n->hostname[0]) {
        resp_add_bulk_str(c->out, "hostname");
        resp_add_bulk_str(c->out, n->hostname);
    }
    resp_add_bulk_str(c->out, "role");
    resp_add_bulk_str(c->out, cl_is_slave(n) ? "replica" : "master");
    resp_add_bulk_str(c->out, "replication-offset");
    resp_add_int(c->out, offset);
    resp_add_bulk_str(c->out, "health");
    if (cl_failed(n))
        resp_add_bulk_str(c->out, "fail");
    else if (cl_is_slave(n) && offset == 0)
        resp_add_bulk_str(c->out, "loading");
    else
        resp_add_bulk_str(c->out, "online");
}

void cmd_cluster_shards(struct cmd_ctx *c)
{
    struct cluster *cl = cluster_or_reply(c);
    long long nshards = 0;

    if (!cl)
        return;
    cl_lock(cl);
    for (unsigned i = 0; i < cl->nnodes; i++)
        nshards += cl_is_master(cl->nodes[i]);
    resp_add_array(c->out, nshards);
    for (unsigned i = 0; i < cl->nnodes; i++) {
        const struct cl_node *n = cl->nodes[i];
        size_t handle;
        long long pairs = 0;

        if (!cl_is_master(n))
            continue;
        resp_add_map(c->out, 2);
        resp_add_bulk_str(c->out, "slots");
        handle = resp_add_deferred_array(c->out);
        for (unsigned s = 0; n->numslots && s < BUS_SLOTS;) {
            unsigned e = s;
            if (!bus_slot_test(n->slots, s)) {
                s++;
                continue;
            }
            while (e + 1 < BUS_SLOTS && bus_slot_test(n->slots, e + 1))
                e++;
            resp_add_int(c->out, s);
            resp_add_int(c->out, e);
            pairs += 2;
            s = e + 1;
        }
        resp_set_deferred_array(c->out, handle, pairs);
        resp_add_bulk_str(c->out, "nodes");
        resp_add_array(c->out, 1 + n->numslaves);
        shard_node(cl, c, n);
        for (int j = 0; j < n->numslaves; j++)
            shard_node(cl, c, n->slaves[j]);
    }
    cl_unlock(cl);
}

void cmd_cluster_info(struct cmd_ctx *c)
{
    static const char *const state_name[] = { "ok", "fail" };
    struct cluster *cl = cluster_or_reply(c);
    int assigned = 0, ok = 0, pfail = 0, fail = 0;
    unsigned long long sent = 0, received = 0;
    uint64_t myepoch;
    struct sbuf b = { 0 };

    if (!cl)
        return;
    cl_lock(cl);
    for (unsigned s = 0; s < BUS_SLOTS; s++) {
        const struct cl_node *n = cl->slots[s];
        if (!n)
            continue;
        assigned++;
        if (cl_failed(n))
            fail++;
        else if (cl_timed_out(n))
            pfail++;
        else
            ok++;
    }
    myepoch = (cl_is_slave(cl->myself) && cl->myself->slaveof)
                  ? cl->myself->slaveof->config_epoch : cl->myself->config_epoch;
    sb_printf(&b, "cluster_state:%s\r\ncluster_slots_assigned:%d\r\ncluster_slots_ok:%d\r\n"
              "cluster_slots_pfail:%d\r\ncluster_slots_fail:%d\r\ncluster_known_nodes:%u\r\n"
              "cluster_size:%d\r\ncluster_current_epoch:%llu\r\ncluster_my_epoch:%llu\r\n",
              state_name[cl->state == BUS_STATE_OK ? 0 : 1], assigned, ok, pfail, fail,
              cl->nnodes, cl->size, (unsigned long long)cl->current_epoch,
              (unsigned long long)myepoch);
    for (uint16_t t = 0; t < BUS_TYPE_COUNT; t++) {
        if (!cl->stats_sent[t])
            continue;
        sent += cl->stats_sent[t];
        sb_printf(&b, "cluster_stats_messages_%s_sent:%llu\r\n", bus_type_name(t),
                  (unsigned long long)cl->stats_sent[t]);
    }
    sb_printf(&b, "cluster_stats_messages_sent:%llu\r\n", sent);
    for (uint16_t t = 0; t < BUS_TYPE_COUNT; t++) {
        if (!cl->stats_received[t])
            continue;
        received += cl->stats_received[t];
        sb_printf(&b, "cluster_stats_messages_%s_received:%llu\r\n", bus_type_name(t),
                  (unsigned long long)cl->stats_received[t]);
    }
    sb_printf(&b, "cluster_stats_messages_received:%llu\r\n", received);
    sb_printf(&b, "total_cluster_links_buffer_limit_exceeded:%llu\r\n",
              (unsigned long long)cl->stats_links_limit_exceeded);
    cl_unlock(cl);
    if (b.oom)
        resp_add_error(c->out, ERR_OOM);
    else
        resp_add_verbatim(c->out, b.p, b.len, "txt");
    sb_free(&b);
}

static void link_reply(struct cmd_ctx *c, const struct cl_link *l)
{
    char ev[3];

    bus_link_events(l, ev);
    resp_add_map(c->out, 6);
    resp_add_bulk_str(c->out, "direction");
    resp_add_bulk_str(c->out, l->inbound ? "from" : "to");
    resp_add_bulk_str(c->out, "node");
    resp_add_bulk(c->out, l->node->name, BUS_NAMELEN);
    resp_add_bulk_str(c->out, "create-time");
    resp_add_int(c->out, l->ctime);
    resp_add_bulk_str(c->out, "events");
    resp_add_bulk_str(c->out, ev);
    resp_add_bulk_str(c->out, "send-buffer-allocated");
    resp_add_int(c->out, (long long)l->wcap);
    resp_add_bulk_str(c->out, "send-buffer-used");
    resp_add_int(c->out, (long long)(l->wlen - l->woff));
}

void cmd_cluster_links(struct cmd_ctx *c)
{
    struct cluster *cl = cluster_or_reply(c);
    long long n = 0;

    if (!cl)
        return;
    cl_lock(cl);
    for (unsigned i = 0; i < cl->nnodes; i++)
        n += (cl->nodes[i]->link != NULL) + (cl->nodes[i]->inbound_link != NULL);
    resp_add_array(c->out, n);
    for (unsigned i = 0; i < cl->nnodes; i++) {
        if (cl->nodes[i]->link)
            link_reply(c, cl->nodes[i]->link);
        if (cl->nodes[i]->inbound_link)
            link_reply(c, cl->nodes[i]->inbound_link);
    }
    cl_unlock(cl);
}

void cmd_cluster_keyslot(struct cmd_ctx *c)
{
    if (!cluster_or_reply(c))
        return;
    resp_add_int(c->out, slot_of(c->argv[2].p, c->argv[2].len));
}

void cmd_cluster_countkeysinslot(struct cmd_ctx *c)
{
    long long slot;

    if (!cluster_or_reply(c) || cmd_arg_ll(c, &c->argv[2], &slot) != 0)
        return;
    if (slot < 0 || slot >= BUS_SLOTS) {
        resp_add_error(c->out, "ERR Invalid slot");
        return;
    }
    resp_add_int(c->out, (long long)ks_slot_count(c, (unsigned)slot));
}

static void add_key(const char *key, size_t klen, void *arg)
{
    resp_add_bulk(arg, key, klen);
}

void cmd_cluster_getkeysinslot(struct cmd_ctx *c)
{
    long long slot, maxkeys;
    size_t handle, n;

    if (!cluster_or_reply(c) || cmd_arg_ll(c, &c->argv[2], &slot) != 0 ||
        cmd_arg_ll(c, &c->argv[3], &maxkeys) != 0)
        return;
    if (slot < 0 || slot >= BUS_SLOTS || maxkeys < 0) {
        resp_add_error(c->out, "ERR Invalid slot or number of keys");
        return;
    }
    handle = resp_add_deferred_array(c->out);
    n = ks_slot_keys(c, (unsigned)slot, (size_t)maxkeys, add_key, c->out);
    resp_set_deferred_array(c->out, handle, (long long)n);
}

void cmd_cluster_count_failure_reports(struct cmd_ctx *c)
{
    struct cluster *cl = cluster_or_reply(c);
    struct cl_node *n;

    if (!cl)
        return;
    cl_lock(cl);
    n = node_or_reply(c, cl, 2);
    if (n)
        resp_add_int(c->out, cl_report_count(cl, n));
    cl_unlock(cl);
}

static void replicas_reply(struct cmd_ctx *c)
{
    struct cluster *cl = cluster_or_reply(c);
    struct cl_node *n;

    if (!cl)
        return;
    cl_lock(cl);
    n = node_or_reply(c, cl, 2);
    if (n == NULL) {
        /* replied */
    } else if (cl_is_slave(n)) {
        resp_add_error(c->out, "ERR The specified node is not a master");
    } else {
        resp_add_array(c->out, n->numslaves);
        for (int j = 0; j < n->numslaves; j++) {
            struct sbuf b = { 0 };
            cl_node_line(cl, n->slaves[j], &b);
            resp_add_bulk(c->out, b.p ? b.p : "", b.len);
            sb_free(&b);
        }
    }
    cl_unlock(cl);
}

void cmd_cluster_replicas(struct cmd_ctx *c)
{
    replicas_reply(c);
}

void cmd_cluster_slaves(struct cmd_ctx *c)
{
    replicas_reply(c);
}

/* ---- changes ------------------------------------------------------------- */

void cmd_cluster_meet(struct cmd_ctx *c)
{
    struct cluster *cl = cluster_or_reply(c);
    long long port, cport;
    char ip[BUS_IPLEN + 1];
    int rc;

    if (!cl)
        return;
    if (c->argc > 5) {
        reply_subcommand_syntax(c);
        return;
    }
    if (arg_ll(&c->argv[3], &port) != 0) {
        resp_add_errorf(c->out, "ERR Invalid TCP base port specified: %.*s",
                        (int)c->argv[3].len, c->argv[3].p);
        return;
    }
    if (c->argc == 5) {
        if (arg_ll(&c->argv[4], &cport) != 0) {
            resp_add_errorf(c->out, "ERR Invalid TCP bus port specified: %.*s",
                            (int)c->argv[4].len, c->argv[4].p);
            return;
        }
    } else {
        cport = port + CL_PORT_INCR;
    }
    rc = -EINVAL;
    if (c->argv[2].len < sizeof(ip) && !memchr(c->argv[2].p, '\0', c->argv[2].len)) {
        memcpy(ip, c->argv[2].p, c->argv[2].len);
        ip[c->argv[2].len] = '\0';
        cl_lock(cl);
        rc = cl_start_handshake(cl, ip, port, cport);
        cl_unlock(cl);
    }
    if (rc == -EINVAL)
        resp_add_errorf(c->out, "ERR Invalid node address specified: %.*s:%.*s",
                        (int)c->argv[2].len, c->argv[2].p, (int)c->argv[3].len, c->argv[3].p);
    else
        resp_add_ok(c->out);
}

/* Redis checkSlotAssignmentsOrReply over [start, end]. */
static int check_slots(struct cmd_ctx *c, struct cluster *cl, uint8_t *seen, int del,
                       int start, int end)
{
    for (int s = start; s <= end; s++) {
        if (del && !cl->slots[s]) {
            resp_add_errorf(c->out, "ERR Slot %d is already unassigned", s);
            return -1;
        }
        if (!del && cl->slots[s]) {
            resp_add_errorf(c->out, "ERR Slot %d is already busy", s);
            return -1;
        }
        if (seen[s]++ == 1) {
            resp_add_errorf(c->out, "ERR Slot %d specified multiple times", s);
            return -1;
        }
    }
    return 0;
}

static void apply_slots(struct cluster *cl, const uint8_t *seen, int del)
{
    for (unsigned s = 0; s < BUS_SLOTS; s++) {
        if (!seen[s])
            continue;
        /* Owning the slot now closes its import. */
        cl->importing_from[s] = NULL;
        if (del)
            cl_del_slot(cl, s);
        else
            cl_add_slot(cl, cl->myself, s);
    }
    cl->todo |= CL_TODO_UPDATE_STATE | CL_TODO_SAVE;
}

/* ADDSLOTS/DELSLOTS take slots, ADDSLOTSRANGE/DELSLOTSRANGE pairs. The error
 * order is 7.0's: the single-slot forms parse every argument before checking
 * any slot, the range forms parse and check one pair at a time. */
static void change_slots(struct cmd_ctx *c, int del, int ranged)
{
    struct cluster *cl = cluster_or_reply(c);
    int step = ranged ? 2 : 1;
    uint8_t *seen;

    if (!cl)
        return;
    if (ranged && c->argc % 2 == 1) {
        cmd_reply_arity(c);
        return;
    }
    for (int j = 2; !ranged && j < c->argc; j++)
        if (slot_or_reply(c, &c->argv[j]) < 0)
            return;
    seen = calloc(BUS_SLOTS, 1);
    if (!seen) {
        resp_add_error(c->out, ERR_OOM);
        return;
    }
    cl_lock(cl);
    for (int j = 2; j < c->argc; j += step) {
        int start = slot_or_reply(c, &c->argv[j]), end = start;
        if (start < 0)
            goto out;
        if (ranged) {
            end = slot_or_reply(c, &c->argv[j + 1]);
            if (end < 0)
                goto out;
            if (start > end) {
                resp_add_errorf(c->out, "ERR start slot number %d is greater than end slot "
                                "number %d", start, end);
                goto out;
            }
        }
        if (check_slots(c, cl, seen, del, start, end) != 0)
            goto out;
    }
    apply_slots(cl, seen, del);
    resp_add_ok(c->out);
out:
    cl_unlock(cl);
    free(seen);
}

void cmd_cluster_addslots(struct cmd_ctx *c)
{
    change_slots(c, 0, 0);
}

void cmd_cluster_delslots(struct cmd_ctx *c)
{
    change_slots(c, 1, 0);
}

void cmd_cluster_addslotsrange(struct cmd_ctx *c)
{
    change_slots(c, 0, 1);
}

void cmd_cluster_delslotsrange(struct cmd_ctx *c)
{
    change_slots(c, 1, 1);
}

void cmd_cluster_flushslots(struct cmd_ctx *c)
{
    struct cluster *cl = cluster_or_reply(c);

    if (!cl)
        return;
    if (ks_db0_count(c) != 0) {
        resp_add_error(c->out, "ERR DB must be empty to perform CLUSTER FLUSHSLOTS.");
        return;
    }
    cl_lock(cl);
    cl_del_node_slots(cl, cl->myself);
    cl->todo |= CL_TODO_UPDATE_STATE | CL_TODO_SAVE;
    cl_unlock(cl);
    resp_add_ok(c->out);
}

/* The node argument of SETSLOT <slot> MIGRATING|IMPORTING <id>, lock held:
 * a known master, or NULL after Redis's error reply. */
static struct cl_node *setslot_peer(struct cmd_ctx *c, struct cluster *cl)
{
    struct cl_node *n = lookup_arg(cl, &c->argv[4]);

    if (!n) {
        resp_add_errorf(c->out, "ERR I don't know about node %.*s", (int)c->argv[4].len,
                        c->argv[4].p);
        return NULL;
    }
    if (cl_is_slave(n)) {
        resp_add_error(c->out, "ERR Target node is not a master");
        return NULL;
    }
    return n;
}

/* SETSLOT <slot> NODE <id>, lock held; `keys` were counted before taking
 * it (the count walks a table). 0 after success, -1 after an error reply. */
static int setslot_node(struct cmd_ctx *c, struct cluster *cl, int slot, size_t keys)
{
    struct cl_node *n = node_or_reply(c, cl, 4);

    if (!n)
        return -1;
    if (cl_is_slave(n)) {
        resp_add_error(c->out, "ERR Target node is not a master");
        return -1;
    }
    if (cl->slots[slot] == cl->myself && n != cl->myself && keys != 0) {
        resp_add_errorf(c->out, "ERR Can't assign hashslot %d to a different node while I "
                        "still hold keys for this hash slot.", slot);
        return -1;
    }
    /* An emptied migrating slot given away is no longer migrating. */
    if (keys == 0 && cl->migrating_to[slot])
        cl->migrating_to[slot] = NULL;
    cl_del_slot(cl, (unsigned)slot);
    cl_add_slot(cl, n, (unsigned)slot);
    if (n == cl->myself && cl->importing_from[slot]) {
        /* A manual migration ends with a new epoch for us, without
         * consensus; a collision is resolved by the usual rule. */
        if (cl_bump_epoch(cl) == 0)
            log_msg(LL_NOTICE, "configEpoch updated after importing slot %d", slot);
        cl->importing_from[slot] = NULL;
        cl->todo |= CL_TODO_BROADCAST_PONG;
    }
    return 0;
}

void cmd_cluster_setslot(struct cmd_ctx *c)
{
    struct cluster *cl = cluster_or_reply(c);
    struct cl_node *n;
    size_t keys = 0;
    int slot;

    if (!cl)
        return;
    /* slotd nodes are masters, so "Please use SETSLOT only with masters."
     * never applies and the slot can be checked before the lock. */
    slot = slot_or_reply(c, &c->argv[2]);
    if (slot < 0)
        return;
    if (arg_is(&c->argv[3], "node"))
        keys = ks_slot_count(c, (unsigned)slot);
    cl_lock(cl);
    if (arg_is(&c->argv[3], "migrating") && c->argc == 5) {
        if (cl->slots[slot] != cl->myself) {
            resp_add_errorf(c->out, "ERR I'm not the owner of hash slot %u", (unsigned)slot);
            goto out;
        }
        n = setslot_peer(c, cl);
        if (!n)
            goto out;
        cl->migrating_to[slot] = n;
    } else if (arg_is(&c->argv[3], "importing") && c->argc == 5) {
        if (cl->slots[slot] == cl->myself) {
            resp_add_errorf(c->out, "ERR I'm already the owner of hash slot %u", (unsigned)slot);
            goto out;
        }
        n = setslot_peer(c, cl);
        if (!n)
            goto out;
        cl->importing_from[slot] = n;
    } else if (arg_is(&c->argv[3], "stable") && c->argc == 4) {
        cl->importing_from[slot] = NULL;
        cl->migrating_to[slot] = NULL;
    } else if (arg_is(&c->argv[3], "node") && c->argc == 5) {
        if (setslot_node(c, cl, slot, keys) != 0)
            goto out;
    } else {
        resp_add_error(c->out, "ERR Invalid CLUSTER SETSLOT action or number of arguments. "
                       "Try CLUSTER HELP");
        goto out;
    }
    cl->todo |= CL_TODO_SAVE | CL_TODO_UPDATE_STATE;
    resp_add_ok(c->out);
out:
    cl_unlock(cl);
}

void cmd_cluster_bumpepoch(struct cmd_ctx *c)
{
    struct cluster *cl = cluster_or_reply(c);
    char line[64];
    int rc;

    if (!cl)
        return;
    cl_lock(cl);
    rc = cl_bump_epoch(cl);
    snprintf(line, sizeof(line), "%s %llu", rc == 0 ? "BUMPED" : "STILL",
             (unsigned long long)cl->myself->config_epoch);
    cl_unlock(cl);
    resp_add_simple(c->out, line);
}

void cmd_cluster_saveconfig(struct cmd_ctx *c)
{
    struct cluster *cl = cluster_or_reply(c);
    int rc;

    if (!cl)
        return;
    cl_lock(cl);
    cl->todo |= CL_TODO_SAVE | CL_TODO_FSYNC;
    rc = cl_unlock(cl);          /* returns once the file is synced */
    if (rc == 0)
        resp_add_ok(c->out);
    else
        resp_add_errorf(c->out, "ERR error saving the cluster node config: %s", strerror(-rc));
}

void cmd_cluster_forget(struct cmd_ctx *c)
{
    struct cluster *cl = cluster_or_reply(c);
    struct cl_node *n;

    if (!cl)
        return;
    cl_lock(cl);
    /* 7.0 answers "Unknown node" even for a node it just forgot (7.2 says +OK). */
    n = node_or_reply(c, cl, 2);
    if (n == NULL) {
        /* replied */
    } else if (n == cl->myself) {
        resp_add_error(c->out, "ERR I tried hard but I can't forget myself...");
    } else if (cl_is_slave(cl->myself) && cl->myself->slaveof == n) {
        resp_add_error(c->out, "ERR Can't forget my master!");
    } else {
        cl_blacklist_add(cl, n->name);
        cl_node_delete(cl, n);
        cl->todo |= CL_TODO_UPDATE_STATE | CL_TODO_SAVE;
        resp_add_ok(c->out);
    }
    cl_unlock(cl);
}

void cmd_cluster_set_config_epoch(struct cmd_ctx *c)
{
    struct cluster *cl = cluster_or_reply(c);
    long long epoch;

    if (!cl || cmd_arg_ll(c, &c->argv[2], &epoch) != 0)
        return;
    cl_lock(cl);
    if (epoch < 0) {
        resp_add_errorf(c->out, "ERR Invalid config epoch specified: %lld", epoch);
    } else if (cl->nnodes > 1) {
        resp_add_error(c->out, "ERR The user can assign a config epoch only when the node does "
                       "not know any other node.");
    } else if (cl->myself->config_epoch != 0) {
        resp_add_error(c->out, "ERR Node config epoch is already non-zero");
    } else {
        cl->myself->config_epoch = (uint64_t)epoch;
        log_msg(LL_NOTICE, "configEpoch set to %llu via CLUSTER SET-CONFIG-EPOCH",
                (unsigned long long)epoch);
        if (cl->current_epoch < (uint64_t)epoch)
            cl->current_epoch = (uint64_t)epoch;
        cl->todo |= CL_TODO_UPDATE_STATE | CL_TODO_SAVE;
        resp_add_ok(c->out);
    }
    cl_unlock(cl);
}

void cmd_cluster_reset(struct cmd_ctx *c)
{
    struct cluster *cl = cluster_or_reply(c);
    int hard = 0;

    if (!cl)
        return;
    if (c->argc > 3) {
        reply_subcommand_syntax(c);
        return;
    }
    if (c->argc == 3) {
        if (arg_is(&c->argv[2], "hard")) {
            hard = 1;
        } else if (!arg_is(&c->argv[2], "soft")) {
            resp_add_error(c->out, ERR_SYNTAX);
            return;
        }
    }
    if (ks_db0_count(c) != 0) {
        resp_add_error(c->out, "ERR CLUSTER RESET can't be called with master nodes containing keys");
        return;
    }
    cl_lock(cl);
    cl_reset(cl, hard);
    cl_unlock(cl);
    resp_add_ok(c->out);
}

void cmd_cluster_failover(struct cmd_ctx *c)
{
    if (!cluster_or_reply(c))
        return;
    if (c->argc > 3) {
        reply_subcommand_syntax(c);
        return;
    }
    if (c->argc == 3 && !arg_is(&c->argv[2], "force") && !arg_is(&c->argv[2], "takeover")) {
        resp_add_error(c->out, ERR_SYNTAX);
        return;
    }
    /* slotd nodes are always masters. */
    resp_add_error(c->out, "ERR You should send CLUSTER FAILOVER to a replica");
}

void cmd_cluster_replicate(struct cmd_ctx *c)
{
    struct cluster *cl = cluster_or_reply(c);
    struct cl_node *n;

    if (!cl)
        return;
    cl_lock(cl);
    n = node_or_reply(c, cl, 2);
    if (n == NULL) {
        /* replied */
    } else if (n == cl->myself) {
        resp_add_error(c->out, "ERR Can't replicate myself");
    } else if (cl_is_slave(n)) {
        resp_add_error(c->out, "ERR I can only replicate a master, not a replica.");
    } else if (cl->myself->numslots != 0 || ks_db0_count(c) != 0) {
        resp_add_error(c->out, "ERR To set a master the node must be empty and without "
                       "assigned slots.");
    } else {
        resp_add_error(c->out, "ERR slotd nodes cannot be replicas");
    }
    cl_unlock(cl);
}

/* CLUSTER HELP as 7.0 prints it (addReplyHelp: one status line each). */
static const char *const help_lines[] = {
    "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ADDSLOTS <slot> [<slot> ...]",
    "    Assign slots to current node.",
    "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Assign slots which are between <start-slot> and <end-slot> to current node.",
    "BUMPEPOCH",
    "    Advance the cluster config epoch.",
    "COUNT-FAILURE-REPORTS <node-id>",
    "    Return number of failure reports for <node-id>.",
    "COUNTKEYSINSLOT <slot>",
    "    Return the number of keys in <slot>.",
    "DELSLOTS <slot> [<slot> ...]",
    "    Delete slots information from current node.",
    "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
    "FAILOVER [FORCE|TAKEOVER]",
    "    Promote current replica node to being a master.",
    "FORGET <node-id>",
    "    Remove a node from the cluster.",
    "GETKEYSINSLOT <slot> <count>",
    "    Return key names stored by current node in a slot.",
    "FLUSHSLOTS",
    "    Delete current node own slots information.",
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "MEET <ip> <port> [<bus-port>]",
    "    Connect nodes into a working cluster.",
    "MYID",
    "    Return the node id.",
    "NODES",
    "    Return cluster configuration seen by node. Output format:",
    "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
    "REPLICATE <node-id>",
    "    Configure current node as replica to <node-id>.",
    "RESET [HARD|SOFT]",
    "    Reset current node (default: soft).",
    "SET-CONFIG-EPOCH <epoch>",
    "    Set config epoch of current node.",
    "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
    "    Set slot state.",
    "REPLICAS <node-id>",
    "    Return <node-id> replicas.",
    "SAVECONFIG",
    "    Force saving cluster configuration on disk.",
    "SLOTS",
    "    Return information about slots range mappings. Each range is made of:",
    "    start, end, master and replicas IP addresses, ports and ids",
    "SHARDS",
    "    Return information about slot range mappings and the nodes associated with them.",
    "LINKS",
    "    Return information about all network links between this node and its peers.",
    "    Output format is an array where each array element is a map containing attributes of a link",
    "HELP",
    "    Prints this help.",
};

void cmd_cluster_help(struct cmd_ctx *c)
{
    size_t n = sizeof(help_lines) / sizeof(help_lines[0]);

    if (!cluster_or_reply(c))
        return;
    resp_add_array(c->out, (long long)n);
    for (size_t i = 0; i < n; i++)
        resp_add_simple(c->out, help_lines[i]);
}

/* ---- connection state ---------------------------------------------------- */

/* ASKING, READONLY, READWRITE: a connection flag, in cluster mode only. */
static void set_client_flag(struct cmd_ctx *c, uint32_t flag, int on)
{
    if (!config_live()->cluster_enabled) {
        resp_add_error(c->out, ERR_DISABLED);
        return;
    }
    if (on)
        c->client->flags |= flag;
    else
        c->client->flags &= ~flag;
    resp_add_ok(c->out);
}

void cmd_asking(struct cmd_ctx *c)
{
    /* The dispatcher clears ASKING after every command; this one sets it
     * for the next (client.c). */
    set_client_flag(c, CLIENT_ASKING, 1);
}

void cmd_readonly(struct cmd_ctx *c)
{
    set_client_flag(c, CLIENT_READONLY, 1);
}

void cmd_readwrite(struct cmd_ctx *c)
{
    set_client_flag(c, CLIENT_READONLY, 0);
}
