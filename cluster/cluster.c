/* cluster — the cluster state of this node: the node table keyed by 40-hex
 * names, currentEpoch and configEpochs, slot owners and open slots, failure
 * reports, the cluster state, nodes.conf, and the slot map published to the
 * data cores. The rules are Redis 7.0's (../shared/docs/cluster-bus.md §1.6,
 * §5, §6); the bus that feeds them is bus.c.
 *
 * Ownership: one `struct cluster` per process (the_cluster below, set by
 * cluster_init), touched only with its lock held: by the control thread for
 * bus events and the 100 ms cron, by a data core for a CLUSTER command. The
 * data cores' key path never takes the lock: it reads the slot map, which
 * cl_after() rebuilds and publishes whenever it differs from the state.
 * nodes.conf is written by its own thread (cl_saver_*) from a copy of the
 * text made under the lock: under parallel writeback on this machine a
 * save took 1-2 s with fsync and once 19 s without, and while the lock was
 * held across it the bus answered no PING, so peers flagged the node FAIL
 * after node_timeout.
 *
 * Invariants: slots[s] == n exactly when bit s of n->slots is set;
 * nodes[i]->idx == i and `index` maps every name to its node; myself is never
 * deleted; a node's links point back to it. */
#include "cluster.h"
#include "cluster_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../dataplane/config.h"
#include "../dataplane/core.h"
#include "../dataplane/log.h"
#include "control.h"
#include "slotmap.h"

/* Anything that keeps the cluster lock or the control loop longer than this
 * is logged: at node_timeout 15 s (10 s in tests) a few such seconds make
 * the other nodes flag us PFAIL. */
#define CL_STALL_US 1000000

static void release_acks(struct cluster *cl);
static uint64_t saver_queue(struct cluster *cl, int do_fsync);

/* The process's cluster, the one mutable global of this module (cluster.h):
 * written by cluster_init / cluster_shutdown while no data core runs. */
static struct cluster *the_cluster;

/* ---- text buffer --------------------------------------------------------- */

static int sb_reserve(struct sbuf *b, size_t extra)
{
    size_t need = b->len + extra + 1, cap = b->cap ? b->cap : 256;
    char *p;

    if (b->oom)
        return -ENOMEM;
    if (need <= b->cap)
        return 0;
    while (cap < need)
        cap *= 2;
    p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -ENOMEM;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (sb_reserve(b, n) != 0)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || sb_reserve(b, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void sb_free(struct sbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* ---- construction -------------------------------------------------------- */

struct cluster *cl_new(unsigned ncores)
{
    struct cluster *cl = calloc(1, sizeof(*cl));
    uint64_t seed = 0;

    if (!cl)
        return NULL;
    if (pthread_mutex_init(&cl->lock, NULL) != 0) {
        free(cl);
        return NULL;
    }
    if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
        seed = (uint64_t)clock_us() ^ ((uint64_t)getpid() << 32);
    cl->rng = seed | 1;
    cl->ncores = ncores ? ncores : 1;
    cl->lock_fd = -1;
    cl->state = BUS_STATE_FAIL;
    cl->size = 1;                        /* Redis clusterInit, until the first update */
    cl->node_timeout = 15000;
    cl->require_full_coverage = 1;
    cl->allow_replica_migration = 1;
    cl->now = clock_ms();
    return cl;
}

static void node_free(struct cl_node *n)
{
    free(n->reports);
    free(n->slaves);
    free(n);
}

void cl_free(struct cluster *cl)
{
    if (!cl)
        return;
    cl_saver_stop(cl);
    while (cl->links)
        bus_link_free(cl, cl->links);
    bus_reap(cl);
    for (unsigned i = 0; i < cl->nnodes; i++)
        node_free(cl->nodes[i]);
    free(cl->nodes);
    free(cl->index);
    free(cl->blacklist);
    free(cl->config_path);
    if (cl->lock_fd >= 0)
        close(cl->lock_fd);
    pthread_mutex_destroy(&cl->lock);
    free(cl);
}

uint64_t cl_random(struct cluster *cl)
{
    uint64_t x = cl->rng;     /* xorshift64*: gossip sampling needs speed, not secrecy */

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    cl->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

void cl_random_name(struct cluster *cl, char name[BUS_NAMELEN])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t rnd[BUS_NAMELEN / 2];

    /* IDs must not collide across the cluster: take them from the kernel. */
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        for (size_t i = 0; i < sizeof(rnd); i++)
            rnd[i] = (uint8_t)cl_random(cl);
    }
    for (size_t i = 0; i < sizeof(rnd); i++) {
        name[2 * i] = hex[rnd[i] >> 4];
        name[2 * i + 1] = hex[rnd[i] & 15];
    }
}

/* ---- node table ---------------------------------------------------------- */

int cl_valid_name(const char *name, size_t len)
{
    if (len != BUS_NAMELEN)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
            return 0;
    }
    return 1;
}

static uint32_t name_hash(const char *name)
{
    uint32_t h = 2166136261u;   /* FNV-1a over the 40 bytes */

    for (int i = 0; i < BUS_NAMELEN; i++)
        h = (h ^ (uint8_t)name[i]) * 16777619u;
    return h;
}

/* Rebuilt on every add, delete and rename (rare): lookups, one per gossip
 * entry, stay O(1) in clusters of hundreds of nodes. */
static int index_rebuild(struct cluster *cl)
{
    unsigned cap = 16;
    unsigned *idx;

    while (cap < 2 * cl->nnodes + 2)
        cap *= 2;
    idx = calloc(cap, sizeof(*idx));
    if (!idx)
        return -ENOMEM;
    for (unsigned i = 0; i < cl->nnodes; i++) {
        uint32_t h = name_hash(cl->nodes[i]->name);
        while (idx[h & (cap - 1)])
            h++;
        idx[h & (cap - 1)] = i + 1;
        cl->nodes[i]->idx = i;
    }
    free(cl->index);
    cl->index = idx;
    cl->index_cap = cap;
    return 0;
}

struct cl_node *cl_lookup(struct cluster *cl, const char *name, size_t len)
{
    uint32_t h;

    if (!cl_valid_name(name, len) || !cl->index)
        return NULL;
    h = name_hash(name);
    for (unsigned i = 0; i < cl->index_cap; i++) {
        unsigned k = cl->index[(h + i) & (cl->index_cap - 1)];
        if (k == 0)
            return NULL;
        if (memcmp(cl->nodes[k - 1]->name, name, BUS_NAMELEN) == 0)
            return cl->nodes[k - 1];
    }
    return NULL;
}

struct cl_node *cl_node_create(struct cluster *cl, const char *name, uint16_t flags)
{
    struct cl_node *n = calloc(1, sizeof(*n));

    if (!n)
        return NULL;
    if (name)
        memcpy(n->name, name, BUS_NAMELEN);
    else
        cl_random_name(cl, n->name);
    n->flags = flags;
    n->ctime = cl->now;
    if (cl->nnodes == cl->capnodes) {
        unsigned cap = cl->capnodes ? cl->capnodes * 2 : 16;
        struct cl_node **p = realloc(cl->nodes, cap * sizeof(*p));
        if (!p)
            goto fail;
        cl->nodes = p;
        cl->capnodes = cap;
    }
    cl->nodes[cl->nnodes++] = n;
    if (index_rebuild(cl) != 0) {
        cl->nnodes--;
        goto fail;
    }
    atomic_store_explicit(&cl->connections, (unsigned long)(cl->nnodes - 1) * 2,
                          memory_order_relaxed);
    return n;
fail:
    free(n);
    return NULL;
}

int cl_node_add_slave(struct cl_node *master, struct cl_node *slave)
{
    struct cl_node **p;

    for (int i = 0; i < master->numslaves; i++)
        if (master->slaves[i] == slave)
            return -EEXIST;
    p = realloc(master->slaves, (size_t)(master->numslaves + 1) * sizeof(*p));
    if (!p)
        return -ENOMEM;
    master->slaves = p;
    master->slaves[master->numslaves++] = slave;
    master->flags |= BUS_NODE_MIGRATE_TO;
    return 0;
}

void cl_node_remove_slave(struct cl_node *master, struct cl_node *slave)
{
    for (int i = 0; i < master->numslaves; i++) {
        if (master->slaves[i] != slave)
            continue;
        memmove(master->slaves + i, master->slaves + i + 1,
                (size_t)(master->numslaves - i - 1) * sizeof(*master->slaves));
        master->numslaves--;
        if (master->numslaves == 0)
            master->flags &= (uint16_t)~BUS_NODE_MIGRATE_TO;
        return;
    }
}

void cl_node_delete(struct cluster *cl, struct cl_node *n)
{
    unsigned i;

    if (n == cl->myself)
        return;
    for (unsigned s = 0; s < BUS_SLOTS; s++) {
        if (cl->importing_from[s] == n)
            cl->importing_from[s] = NULL;
        if (cl->migrating_to[s] == n)
            cl->migrating_to[s] = NULL;
        if (cl->slots[s] == n)
            cl_del_slot(cl, s);
    }
    for (i = 0; i < cl->nnodes; i++)
        if (cl->nodes[i] != n)
            cl_report_del(cl, cl->nodes[i], n);
    for (int j = 0; j < n->numslaves; j++)
        n->slaves[j]->slaveof = NULL;
    if (cl_is_slave(n) && n->slaveof)
        cl_node_remove_slave(n->slaveof, n);
    /* A replica whose master is gone keeps no dangling pointer. */
    for (i = 0; i < cl->nnodes; i++)
        if (cl->nodes[i]->slaveof == n)
            cl->nodes[i]->slaveof = NULL;
    if (n->link)
        bus_link_free(cl, n->link);
    if (n->inbound_link)
        bus_link_free(cl, n->inbound_link);
    i = n->idx;
    memmove(cl->nodes + i, cl->nodes + i + 1, (cl->nnodes - i - 1) * sizeof(*cl->nodes));
    cl->nnodes--;
    /* A smaller table needs no memory: only an allocation failure of the
     * new index could fail, and then the old one is kept (still correct
     * apart from the positions, fixed below). */
    if (index_rebuild(cl) != 0)
        for (unsigned k = 0; k < cl->nnodes; k++)
            cl->nodes[k]->idx = k;
    atomic_store_explicit(&cl->connections, (unsigned long)(cl->nnodes - 1) * 2,
                          memory_order_relaxed);
    node_free(n);
}

void cl_node_rename(struct cluster *cl, struct cl_node *n, const char *name)
{
    log_msg(LL_DEBUG, "Renaming node %.40s into %.40s", n->name, name);
    memcpy(n->name, name, BUS_NAMELEN);
    index_rebuild(cl);
}

void cl_set_node_master(struct cluster *cl, struct cl_node *n)
{
    if (cl_is_master(n))
        return;
    if (n->slaveof) {
        cl_node_remove_slave(n->slaveof, n);
        if (n != cl->myself)
            n->flags |= BUS_NODE_MIGRATE_TO;
    }
    n->flags &= (uint16_t)~BUS_NODE_SLAVE;
    n->flags |= BUS_NODE_MASTER;
    n->slaveof = NULL;
    cl->todo |= CL_TODO_SAVE | CL_TODO_UPDATE_STATE;
}

/* ---- slots --------------------------------------------------------------- */

static int masters_have_slaves(struct cluster *cl)
{
    for (unsigned i = 0; i < cl->nnodes; i++)
        if (!cl_is_slave(cl->nodes[i]) && cl->nodes[i]->numslaves)
            return 1;
    return 0;
}

int cl_add_slot(struct cluster *cl, struct cl_node *n, unsigned slot)
{
    if (cl->slots[slot])
        return -EBUSY;
    bus_slot_set(n->slots, slot);
    n->numslots++;
    /* A master's first slot makes it a replica-migration target when the
     * cluster has replicas at all (Redis clusterNodeSetSlotBit). */
    if (n->numslots == 1 && masters_have_slaves(cl))
        n->flags |= BUS_NODE_MIGRATE_TO;
    cl->slots[slot] = n;
    return 0;
}

int cl_del_slot(struct cluster *cl, unsigned slot)
{
    struct cl_node *n = cl->slots[slot];

    if (!n)
        return -ENOENT;
    n->slots[slot >> 3] = (uint8_t)(n->slots[slot >> 3] & ~(1u << (slot & 7)));
    n->numslots--;
    cl->slots[slot] = NULL;
    cl->owner_not_claiming[slot >> 3] =
        (uint8_t)(cl->owner_not_claiming[slot >> 3] & ~(1u << (slot & 7)));
    return 0;
}

int cl_del_node_slots(struct cluster *cl, struct cl_node *n)
{
    int deleted = 0;

    for (unsigned s = 0; s < BUS_SLOTS && n->numslots > 0; s++)
        if (cl->slots[s] == n) {
            cl_del_slot(cl, s);
            deleted++;
        }
    return deleted;
}

/* ---- failure reports ----------------------------------------------------- */

int cl_report_add(struct cluster *cl, struct cl_node *failing, struct cl_node *sender)
{
    for (unsigned i = 0; i < failing->nreports; i++)
        if (failing->reports[i].node == sender) {
            failing->reports[i].time = cl->now;
            return 0;
        }
    if (failing->nreports == failing->capreports) {
        unsigned cap = failing->capreports ? failing->capreports * 2 : 4;
        struct cl_report *p = realloc(failing->reports, cap * sizeof(*p));
        if (!p)
            return 0;
        failing->reports = p;
        failing->capreports = cap;
    }
    failing->reports[failing->nreports].node = sender;
    failing->reports[failing->nreports].time = cl->now;
    failing->nreports++;
    return 1;
}

/* Reports older than 2 * node_timeout no longer count: FAIL needs a recent
 * majority, not an accumulation of old opinions. */
static void reports_cleanup(struct cluster *cl, struct cl_node *n)
{
    int64_t maxage = cl->node_timeout * CL_FAIL_REPORT_VALIDITY;
    unsigned j = 0;

    for (unsigned i = 0; i < n->nreports; i++)
        if (cl->now - n->reports[i].time <= maxage)
            n->reports[j++] = n->reports[i];
    n->nreports = j;
}

int cl_report_del(struct cluster *cl, struct cl_node *failing, struct cl_node *sender)
{
    for (unsigned i = 0; i < failing->nreports; i++) {
        if (failing->reports[i].node != sender)
            continue;
        failing->reports[i] = failing->reports[--failing->nreports];
        reports_cleanup(cl, failing);
        return 1;
    }
    return 0;
}

unsigned cl_report_count(struct cluster *cl, struct cl_node *failing)
{
    reports_cleanup(cl, failing);
    return failing->nreports;
}

int cl_mark_failing_if_needed(struct cluster *cl, struct cl_node *n)
{
    unsigned needed = (unsigned)(cl->size / 2) + 1, failures;

    if (!cl_timed_out(n) || cl_failed(n))
        return 0;
    failures = cl_report_count(cl, n);
    if (cl_is_master(cl->myself))
        failures++;
    if (failures < needed)
        return 0;
    log_msg(LL_NOTICE, "Marking node %.40s as failing (quorum reached).", n->name);
    n->flags &= (uint16_t)~BUS_NODE_PFAIL;
    n->flags |= BUS_NODE_FAIL;
    n->fail_time = cl->now;
    bus_send_fail(cl, n->name);
    cl->todo |= CL_TODO_UPDATE_STATE | CL_TODO_SAVE;
    return 1;
}

void cl_clear_failure_if_needed(struct cluster *cl, struct cl_node *n)
{
    if (cl_is_slave(n) || n->numslots == 0) {
        log_msg(LL_NOTICE, "Clear FAIL state for node %.40s:%s is reachable again.",
                n->name, cl_is_slave(n) ? "replica" : "master without slots");
        n->flags &= (uint16_t)~BUS_NODE_FAIL;
        cl->todo |= CL_TODO_UPDATE_STATE | CL_TODO_SAVE;
    }
    /* A master with slots nobody took over after 2 * node_timeout. */
    if (cl_is_master(n) && n->numslots > 0 &&
        cl->now - n->fail_time > cl->node_timeout * CL_FAIL_UNDO_TIME) {
        log_msg(LL_NOTICE, "Clear FAIL state for node %.40s: is reachable again and nobody "
                "is serving its slots after some time.", n->name);
        n->flags &= (uint16_t)~BUS_NODE_FAIL;
        cl->todo |= CL_TODO_UPDATE_STATE | CL_TODO_SAVE;
    }
}

/* ---- epochs -------------------------------------------------------------- */

uint64_t cl_max_epoch(struct cluster *cl)
{
    uint64_t max = cl->current_epoch;

    for (unsigned i = 0; i < cl->nnodes; i++)
        if (cl->nodes[i]->config_epoch > max)
            max = cl->nodes[i]->config_epoch;
    return max;
}

int cl_bump_epoch(struct cluster *cl)
{
    uint64_t max = cl_max_epoch(cl);

    if (cl->myself->config_epoch != 0 && cl->myself->config_epoch == max)
        return -EALREADY;
    cl->current_epoch++;
    cl->myself->config_epoch = cl->current_epoch;
    cl->todo |= CL_TODO_SAVE | CL_TODO_FSYNC;
    log_msg(LL_NOTICE, "New configEpoch set to %llu",
            (unsigned long long)cl->myself->config_epoch);
    return 0;
}

void cl_epoch_collision(struct cluster *cl, struct cl_node *sender)
{
    struct cl_node *me = cl->myself;

    if (sender->config_epoch != me->config_epoch || !cl_is_master(sender) || !cl_is_master(me))
        return;
    /* The greatest ID keeps its epoch, so all masters end up distinct. */
    if (memcmp(sender->name, me->name, BUS_NAMELEN) <= 0)
        return;
    cl->current_epoch++;
    me->config_epoch = cl->current_epoch;
    cl->todo |= CL_TODO_SAVE | CL_TODO_FSYNC;
    log_msg(LL_VERBOSE, "WARNING: configEpoch collision with node %.40s. configEpoch set to %llu",
            sender->name, (unsigned long long)me->config_epoch);
}

/* ---- FORGET blacklist ---------------------------------------------------- */

static void blacklist_cleanup(struct cluster *cl)
{
    unsigned j = 0;

    for (unsigned i = 0; i < cl->nblacklist; i++)
        if (cl->blacklist[i].expire >= cl->now)
            cl->blacklist[j++] = cl->blacklist[i];
    cl->nblacklist = j;
}

void cl_blacklist_add(struct cluster *cl, const char *name)
{
    blacklist_cleanup(cl);
    for (unsigned i = 0; i < cl->nblacklist; i++)
        if (memcmp(cl->blacklist[i].name, name, BUS_NAMELEN) == 0) {
            cl->blacklist[i].expire = cl->now + CL_BLACKLIST_TTL_MS;
            return;
        }
    if (cl->nblacklist == cl->capblacklist) {
        unsigned cap = cl->capblacklist ? cl->capblacklist * 2 : 4;
        struct cl_blacklist *p = realloc(cl->blacklist, cap * sizeof(*p));
        if (!p)
            return;
        cl->blacklist = p;
        cl->capblacklist = cap;
    }
    memcpy(cl->blacklist[cl->nblacklist].name, name, BUS_NAMELEN);
    cl->blacklist[cl->nblacklist].expire = cl->now + CL_BLACKLIST_TTL_MS;
    cl->nblacklist++;
}

int cl_blacklist_has(struct cluster *cl, const char *name)
{
    blacklist_cleanup(cl);
    for (unsigned i = 0; i < cl->nblacklist; i++)
        if (memcmp(cl->blacklist[i].name, name, BUS_NAMELEN) == 0)
            return 1;
    return 0;
}

/* ---- slot ownership from claims ------------------------------------------ */

void cl_update_slots_config(struct cluster *cl, struct cl_node *sender, uint64_t epoch,
                            const uint8_t *slots)
{
    struct cl_node *curmaster = cl_is_master(cl->myself) ? cl->myself : cl->myself->slaveof;
    struct cl_node *newmaster = NULL;
    int sender_slots = 0, migrated_ours = 0, lost_mine = 0;

    if (sender == cl->myself) {
        log_msg(LL_NOTICE, "Discarding UPDATE message about myself.");
        return;
    }
    for (unsigned j = 0; j < BUS_SLOTS; j++) {
        if (bus_slot_test(slots, j)) {
            sender_slots++;
            if (cl->slots[j] == sender) {
                cl->owner_not_claiming[j >> 3] =
                    (uint8_t)(cl->owner_not_claiming[j >> 3] & ~(1u << (j & 7)));
                continue;
            }
            /* An import is closed by the operator only (redis-cli). */
            if (cl->importing_from[j])
                continue;
            if (cl_slot_unclaimed(cl, j) || cl->slots[j]->config_epoch < epoch) {
                if (cl->slots[j] == cl->myself)
                    lost_mine++;
                if (curmaster && cl->slots[j] == curmaster) {
                    newmaster = sender;
                    migrated_ours++;
                }
                cl_del_slot(cl, j);
                cl_add_slot(cl, sender, j);
                cl->todo |= CL_TODO_SAVE | CL_TODO_UPDATE_STATE | CL_TODO_FSYNC;
            }
        } else if (cl->slots[j] == sender) {
            /* Keep the binding (no CLUSTERDOWN for a moment) but let the
             * next claimant take it, and never advertise it in UPDATEs. */
            bus_slot_set(cl->owner_not_claiming, j);
        }
    }
    /* Redis would turn an emptied master into a replica of the new owner;
     * slotd has no replication, so it says so instead. Keys left in slots
     * another node took are deleted by the data cores when they see the
     * new map (core.c), which logs them: an ordinary hand-over leaves none. */
    if (newmaster && curmaster->numslots == 0 &&
        (cl->allow_replica_migration || sender_slots == migrated_ours))
        log_msg(LL_WARNING, "Configuration change detected: my last slots went to %.40s. "
                "slotd cannot become a replica: staying a master without slots.",
                sender->name);
    else if (lost_mine)
        log_msg(LL_VERBOSE, "%d of my slots were reassigned to %.40s.", lost_mine,
                sender->name);
}

/* ---- cluster state --------------------------------------------------------- */

void cl_update_state(struct cluster *cl)
{
    int new_state = BUS_STATE_OK, reachable = 0, needed;

    cl->todo &= ~CL_TODO_UPDATE_STATE;
    if (cl->first_update == 0)
        cl->first_update = cl->now;
    /* A restarted master waits before accepting writes, so the cluster can
     * tell it about a newer configuration first. */
    if (cl_is_master(cl->myself) && cl->state == BUS_STATE_FAIL &&
        cl->now - cl->first_update < CL_WRITABLE_DELAY_MS)
        return;
    if (cl->require_full_coverage) {
        for (unsigned j = 0; j < BUS_SLOTS; j++)
            if (!cl->slots[j] || cl_failed(cl->slots[j])) {
                new_state = BUS_STATE_FAIL;
                break;
            }
    }
    cl->size = 0;
    for (unsigned i = 0; i < cl->nnodes; i++) {
        struct cl_node *n = cl->nodes[i];
        if (cl_is_master(n) && n->numslots) {
            cl->size++;
            if (!(n->flags & (BUS_NODE_FAIL | BUS_NODE_PFAIL)))
                reachable++;
        }
    }
    needed = cl->size / 2 + 1;
    if (reachable < needed) {
        new_state = BUS_STATE_FAIL;
        cl->among_minority = cl->now;
    }
    if (new_state != cl->state) {
        int64_t rejoin = cl->node_timeout;

        if (rejoin > CL_MAX_REJOIN_DELAY_MS)
            rejoin = CL_MAX_REJOIN_DELAY_MS;
        if (rejoin < CL_MIN_REJOIN_DELAY_MS)
            rejoin = CL_MIN_REJOIN_DELAY_MS;
        if (new_state == BUS_STATE_OK && cl_is_master(cl->myself) &&
            cl->now - cl->among_minority < rejoin)
            return;
        log_msg(new_state == BUS_STATE_OK ? LL_NOTICE : LL_WARNING,
                "Cluster state changed: %s", new_state == BUS_STATE_OK ? "ok" : "fail");
        cl->state = new_state;
    }
}

/* ---- MEET ---------------------------------------------------------------- */

int cl_start_handshake(struct cluster *cl, const char *ip, long long port, long long cport)
{
    char norm[BUS_IPLEN];
    unsigned char addr[sizeof(struct in6_addr)];
    struct cl_node *n;

    memset(norm, 0, sizeof(norm));
    if (inet_pton(AF_INET, ip, addr) == 1)
        inet_ntop(AF_INET, addr, norm, sizeof(norm));
    else if (inet_pton(AF_INET6, ip, addr) == 1)
        inet_ntop(AF_INET6, addr, norm, sizeof(norm));
    else
        return -EINVAL;
    if (port <= 0 || port > 65535 || cport <= 0 || cport > 65535)
        return -EINVAL;
    for (unsigned i = 0; i < cl->nnodes; i++) {
        struct cl_node *h = cl->nodes[i];
        if (cl_in_handshake(h) && !strcasecmp(h->ip, norm) && h->port == port &&
            h->cport == cport)
            return -EAGAIN;
    }
    n = cl_node_create(cl, NULL, BUS_NODE_HANDSHAKE | BUS_NODE_MEET);
    if (!n)
        return -ENOMEM;
    memcpy(n->ip, norm, sizeof(n->ip));
    n->port = (int)port;
    n->cport = (int)cport;
    return 0;
}

/* ---- CLUSTER NODES text -------------------------------------------------- */

static const struct { uint16_t flag; const char *name; } flag_names[] = {
    { BUS_NODE_MYSELF, "myself" }, { BUS_NODE_MASTER, "master" },
    { BUS_NODE_SLAVE, "slave" }, { BUS_NODE_PFAIL, "fail?" },
    { BUS_NODE_FAIL, "fail" }, { BUS_NODE_HANDSHAKE, "handshake" },
    { BUS_NODE_NOADDR, "noaddr" }, { BUS_NODE_NOFAILOVER, "nofailover" },
};
#define NFLAG_NAMES (sizeof(flag_names) / sizeof(flag_names[0]))

void cl_node_line(struct cluster *cl, const struct cl_node *n, struct sbuf *b)
{
    uint64_t epoch = n->config_epoch;
    int any = 0, start = -1;

    sb_add(b, n->name, BUS_NAMELEN);
    sb_printf(b, " %s:%d@%d", n->ip, n->port, n->cport);
    if (n->hostname[0])
        sb_printf(b, ",%s", n->hostname);
    sb_add(b, " ", 1);
    for (size_t i = 0; i < NFLAG_NAMES; i++)
        if (n->flags & flag_names[i].flag) {
            if (any)
                sb_add(b, ",", 1);
            sb_add(b, flag_names[i].name, strlen(flag_names[i].name));
            any = 1;
        }
    if (!any)
        sb_add(b, "noflags", 7);
    sb_add(b, " ", 1);
    if (n->slaveof)
        sb_add(b, n->slaveof->name, BUS_NAMELEN);
    else
        sb_add(b, "-", 1);
    if (cl_is_slave(n) && n->slaveof)
        epoch = n->slaveof->config_epoch;
    sb_printf(b, " %lld %lld %llu %s", (long long)n->ping_sent, (long long)n->pong_received,
              (unsigned long long)epoch,
              (n->link || (n->flags & BUS_NODE_MYSELF)) ? "connected" : "disconnected");
    for (int j = 0; n->numslots > 0 && j <= BUS_SLOTS; j++) {
        int bit = j < BUS_SLOTS && bus_slot_test(n->slots, (unsigned)j);
        if (bit && start < 0)
            start = j;
        if (!bit && start >= 0) {
            if (start == j - 1)
                sb_printf(b, " %d", start);
            else
                sb_printf(b, " %d-%d", start, j - 1);
            start = -1;
        }
    }
    if (n->flags & BUS_NODE_MYSELF) {
        for (unsigned j = 0; j < BUS_SLOTS; j++) {
            if (cl->migrating_to[j])
                sb_printf(b, " [%u->-%.40s]", j, cl->migrating_to[j]->name);
            else if (cl->importing_from[j])
                sb_printf(b, " [%u-<-%.40s]", j, cl->importing_from[j]->name);
        }
    }
}

void cl_nodes_text(struct cluster *cl, uint16_t filter, struct sbuf *b)
{
    for (unsigned i = 0; i < cl->nnodes; i++) {
        if (cl->nodes[i]->flags & filter)
            continue;
        cl_node_line(cl, cl->nodes[i], b);
        sb_add(b, "\n", 1);
    }
}

/* ---- nodes.conf ---------------------------------------------------------- */

#define CONF_MAX_ARGS (BUS_SLOTS + 16)   /* a node line holds at most every slot */

/* Split on spaces and tabs, in place. */
static int split_fields(char *line, char **argv, int max)
{
    int argc = 0;
    char *p = line;

    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            *p++ = '\0';
        if (!*p)
            break;
        if (argc == max)
            return -1;
        argv[argc++] = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
            p++;
    }
    return argc;
}

static int parse_slot(const char *s, char **end)
{
    long v;

    errno = 0;
    v = strtol(s, end, 10);
    if (errno || *end == s || v < 0 || v >= BUS_SLOTS)
        return -1;
    return (int)v;
}

static struct cl_node *lookup_or_create(struct cluster *cl, const char *name)
{
    struct cl_node *n = cl_lookup(cl, name, BUS_NAMELEN);

    return n ? n : cl_node_create(cl, name, 0);
}

/* One node line of nodes.conf (Redis 7.0 clusterLoadConfig). 0 or -1. */
static int load_node_line(struct cluster *cl, char **argv, int argc)
{
    struct cl_node *n;
    char *addr = argv[1], *host, *colon, *busp, *s, *end;

    if (argc < 8 || !cl_valid_name(argv[0], strlen(argv[0])))
        return -1;
    n = lookup_or_create(cl, argv[0]);
    if (!n)
        return -1;
    host = strchr(addr, ',');
    if (host) {
        *host++ = '\0';
        snprintf(n->hostname, sizeof(n->hostname), "%s", host);
    } else {
        n->hostname[0] = '\0';
    }
    colon = strrchr(addr, ':');
    if (!colon)
        return -1;
    *colon = '\0';
    if (strlen(addr) >= sizeof(n->ip))
        return -1;
    memcpy(n->ip, addr, strlen(addr) + 1);
    busp = strchr(colon + 1, '@');
    if (busp)
        *busp++ = '\0';
    n->port = atoi(colon + 1);
    n->cport = busp ? atoi(busp) : n->port + CL_PORT_INCR;

    for (s = argv[2]; s; s = end) {
        end = strchr(s, ',');
        if (end)
            *end++ = '\0';
        if (!strcasecmp(s, "myself")) {
            if (cl->myself)
                return -1;
            cl->myself = n;
            n->flags |= BUS_NODE_MYSELF;
        } else if (!strcasecmp(s, "master")) {
            n->flags |= BUS_NODE_MASTER;
        } else if (!strcasecmp(s, "slave")) {
            n->flags |= BUS_NODE_SLAVE;
        } else if (!strcasecmp(s, "fail?")) {
            n->flags |= BUS_NODE_PFAIL;
        } else if (!strcasecmp(s, "fail")) {
            n->flags |= BUS_NODE_FAIL;
            n->fail_time = cl->now;
        } else if (!strcasecmp(s, "handshake")) {
            n->flags |= BUS_NODE_HANDSHAKE;
        } else if (!strcasecmp(s, "noaddr")) {
            n->flags |= BUS_NODE_NOADDR;
        } else if (!strcasecmp(s, "nofailover")) {
            n->flags |= BUS_NODE_NOFAILOVER;
        } else if (strcasecmp(s, "noflags") != 0) {
            log_msg(LL_WARNING, "Unknown flag in redis cluster config file");
            return -1;
        }
    }
    if (argv[3][0] != '-') {
        struct cl_node *master;
        if (!cl_valid_name(argv[3], strlen(argv[3])))
            return -1;
        master = lookup_or_create(cl, argv[3]);
        if (!master)
            return -1;
        n->slaveof = master;
        cl_node_add_slave(master, n);
    }
    if (atoi(argv[4]))
        n->ping_sent = cl->now;
    if (atoi(argv[5]))
        n->pong_received = cl->now;
    n->config_epoch = (cl_is_slave(n) && n->slaveof) ? 0 : strtoull(argv[6], NULL, 10);

    for (int j = 8; j < argc; j++) {
        int start, stop;
        if (argv[j][0] == '[') {
            char *arrow, *id;
            struct cl_node *peer;
            int slot = parse_slot(argv[j] + 1, &arrow);
            if (slot < 0 || (strncmp(arrow, "->-", 3) && strncmp(arrow, "-<-", 3)))
                return -1;
            id = arrow + 3;
            if (strlen(id) != BUS_NAMELEN + 1 || id[BUS_NAMELEN] != ']' ||
                !cl_valid_name(id, BUS_NAMELEN))
                return -1;
            peer = lookup_or_create(cl, id);
            if (!peer)
                return -1;
            if (arrow[1] == '>')
                cl->migrating_to[slot] = peer;
            else
                cl->importing_from[slot] = peer;
            continue;
        }
        start = parse_slot(argv[j], &end);
        if (start < 0)
            return -1;
        stop = start;
        if (*end == '-') {
            stop = parse_slot(end + 1, &end);
            if (stop < 0)
                return -1;
        }
        if (*end)
            return -1;
        while (start <= stop)
            cl_add_slot(cl, n, (unsigned)start++);   /* a slot claimed twice keeps its first owner */
    }
    return 0;
}

int cl_load_config(struct cluster *cl, const char *path)
{
    FILE *fp = fopen(path, "r");
    char **argv = NULL, *line = NULL, *copy = NULL;
    size_t cap = 0;
    struct stat st;
    int rc = -EINVAL;

    if (!fp) {
        if (errno == ENOENT)
            return -ENOENT;
        rc = -errno;
        log_msg(LL_WARNING, "Loading the cluster node config from %s: %s", path, strerror(errno));
        return rc;
    }
    if (fstat(fileno(fp), &st) == 0 && st.st_size == 0) {
        fclose(fp);
        return -ENOENT;
    }
    argv = malloc(CONF_MAX_ARGS * sizeof(*argv));
    if (!argv) {
        fclose(fp);
        return -ENOMEM;
    }
    while (getline(&line, &cap, fp) > 0) {
        int argc;

        if (line[0] == '\n' || line[0] == '\0')
            continue;
        free(copy);
        copy = strdup(line);       /* the original, for the error message */
        argc = split_fields(line, argv, CONF_MAX_ARGS);
        if (argc < 0)
            goto fmterr;
        if (argc == 0)
            continue;
        if (!strcasecmp(argv[0], "vars")) {
            if (argc % 2 == 0)
                goto fmterr;
            for (int j = 1; j + 1 < argc; j += 2) {
                if (!strcasecmp(argv[j], "currentEpoch"))
                    cl->current_epoch = strtoull(argv[j + 1], NULL, 10);
                else if (!strcasecmp(argv[j], "lastVoteEpoch"))
                    cl->last_vote_epoch = strtoull(argv[j + 1], NULL, 10);
                else
                    log_msg(LL_WARNING, "Skipping unknown cluster config variable '%s'", argv[j]);
            }
            continue;
        }
        if (load_node_line(cl, argv, argc) != 0)
            goto fmterr;
    }
    if (!cl->myself) {
        free(copy);
        copy = NULL;
        goto fmterr;
    }
    log_msg(LL_NOTICE, "Node configuration loaded, I'm %.40s", cl->myself->name);
    /* Protection against a hand-edited file. */
    if (cl_max_epoch(cl) > cl->current_epoch)
        cl->current_epoch = cl_max_epoch(cl);
    rc = 0;
    goto out;
fmterr:
    if (copy) {
        size_t n = strlen(copy);
        if (n && copy[n - 1] == '\n')
            copy[n - 1] = '\0';
    }
    log_msg(LL_WARNING, "Unrecoverable error: corrupted cluster config file \"%s\".",
            copy ? copy : "");
    rc = -EINVAL;
out:
    free(copy);
    free(line);
    free(argv);
    fclose(fp);
    return rc;
}

static int fsync_parent_dir(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    int fd, rc = 0;

    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fsync(fd) != 0)
        rc = -errno;
    close(fd);
    return rc;
}

/* nodes.conf's text: the nodes (handshakes left out) and the vars line. */
static int conf_text(struct cluster *cl, struct sbuf *b)
{
    cl_nodes_text(cl, BUS_NODE_HANDSHAKE, b);
    sb_printf(b, "vars currentEpoch %llu lastVoteEpoch %llu\n",
              (unsigned long long)cl->current_epoch, (unsigned long long)cl->last_vote_epoch);
    if (!b->oom)
        return 0;
    sb_free(b);
    return -ENOMEM;
}

/* Write `text` to `path` atomically (see cl_save_config); *lock_fd is the
 * flock()ed descriptor of the current file, replaced by the new one. `tag`
 * makes the temporary name unique within the process. Touches no cluster
 * state: the writer thread runs it without the lock. */
static int conf_write(const char *path, const char *text, size_t len, int do_fsync,
                      int *lock_fd, unsigned long long tag)
{
    /* Time of each step, for the latency line: under heavy writeback any
     * of them can block for seconds (a plain save took 19 s once here). */
    enum { T_START, T_OPEN, T_WRITE, T_FSYNC, T_RENAME, T_CLOSE, T_DIRSYNC, T_N };
    int64_t t[T_N];
    char tmp[4200];
    size_t off = 0;
    int fd, rc = 0;

    t[T_START] = clock_us();
    snprintf(tmp, sizeof(tmp), "%s.tmp-%d-%llu", path, (int)getpid(), tag);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        log_msg(LL_WARNING, "Could not open temp cluster config file: %s", strerror(errno));
        return rc;
    }
    t[T_OPEN] = clock_us();
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = w < 0 ? -errno : -EIO;
            log_msg(LL_WARNING, "Failed after writing (%zu) bytes to tmp cluster config file: %s",
                    off, strerror(-rc));
            goto out;
        }
        off += (size_t)w;
    }
    t[T_WRITE] = clock_us();
    /* The rename makes the new content visible at once. Like Redis 7.0, the
     * file is synced only for changes of epochs and votes (CL_TODO_FSYNC):
     * a sync on every SETSLOT would cost milliseconds per slot moved. */
    if (do_fsync && fsync(fd) != 0) {
        rc = -errno;
        log_msg(LL_WARNING, "Could not sync tmp cluster config file: %s", strerror(errno));
        goto out;
    }
    t[T_FSYNC] = clock_us();
    /* Lock the new inode before it takes the name, so nodes.conf stays
     * locked by this process across the replacement. */
    flock(fd, LOCK_EX | LOCK_NB);
    if (rename(tmp, path) != 0) {
        rc = -errno;
        log_msg(LL_WARNING, "Could not rename tmp cluster config file: %s", strerror(errno));
        goto out;
    }
    t[T_RENAME] = clock_us();
    if (*lock_fd >= 0)
        close(*lock_fd);           /* the last reference: the replaced inode goes */
    *lock_fd = fd;
    fd = -1;
    t[T_CLOSE] = clock_us();
    if (do_fsync && (rc = fsync_parent_dir(path)) != 0)
        log_msg(LL_WARNING, "Could not sync cluster config file dir: %s", strerror(-rc));
    t[T_DIRSYNC] = clock_us();
    if (t[T_DIRSYNC] - t[T_START] > CL_STALL_US)
        log_msg(LL_WARNING, "Latency: saving nodes.conf took %lld ms (open %lld, write %lld, "
                "fsync %lld, rename %lld, closing the old file %lld, directory fsync %lld)",
                (long long)(t[T_DIRSYNC] - t[T_START]) / 1000,
                (long long)(t[T_OPEN] - t[T_START]) / 1000,
                (long long)(t[T_WRITE] - t[T_OPEN]) / 1000,
                (long long)(t[T_FSYNC] - t[T_WRITE]) / 1000,
                (long long)(t[T_RENAME] - t[T_FSYNC]) / 1000,
                (long long)(t[T_CLOSE] - t[T_RENAME]) / 1000,
                (long long)(t[T_DIRSYNC] - t[T_CLOSE]) / 1000);
out:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    return rc;
}

int cl_save_config(struct cluster *cl, int do_fsync)
{
    struct sbuf b = { 0 };
    int rc;

    cl->todo &= ~(CL_TODO_SAVE | CL_TODO_FSYNC);
    if (!cl->config_path)
        return 0;
    rc = conf_text(cl, &b);
    if (rc == 0)
        rc = conf_write(cl->config_path, b.p, b.len, do_fsync, &cl->lock_fd,
                        (unsigned long long)cl->now);
    sb_free(&b);
    return rc;
}

/* ---- nodes.conf writer thread -------------------------------------------- */

/* Generations number the texts handed over (1, 2, ...). The thread takes
 * the newest waiting text, writes it without any cluster lock, and then
 * counts every generation up to it as done: each text is the whole state,
 * so a newer one includes what an older one said. An fsync asked for by a
 * text it replaced is kept for the newer one. */
struct cl_saver {
    pthread_t thread;
    pthread_mutex_t mu;                /* guards everything below */
    pthread_cond_t work, done;
    struct cluster *cl;                /* for save_hook and bus_wake only */
    char *path;
    int lock_fd;                       /* owned by the thread while it runs */
    struct sbuf next;                  /* text waiting; p == NULL: none */
    int next_fsync;
    uint64_t queued, done_gen, ok_gen; /* newest handed over, finished, written */
    int last_rc;
    int wake_control;                  /* votes wait: wake the control loop after saves */
    int stop;
};

static void *saver_main(void *arg)
{
    struct cl_saver *s = arg;

    pthread_mutex_lock(&s->mu);
    for (;;) {
        struct sbuf b;
        uint64_t gen;
        int fs, rc, wake;

        while (!s->next.p && !s->stop)
            pthread_cond_wait(&s->work, &s->mu);
        if (!s->next.p)
            break;                     /* stop, and nothing left to write */
        b = s->next;
        memset(&s->next, 0, sizeof(s->next));
        fs = s->next_fsync;
        s->next_fsync = 0;
        gen = s->queued;
        pthread_mutex_unlock(&s->mu);

        if (s->cl->save_hook)
            s->cl->save_hook(s->cl->save_hook_arg);
        rc = conf_write(s->path, b.p, b.len, fs, &s->lock_fd, (unsigned long long)gen);
        if (rc != 0)
            log_msg(LL_WARNING, "Fatal: can't update cluster config file.");
        sb_free(&b);

        pthread_mutex_lock(&s->mu);
        s->done_gen = gen;
        if (rc == 0)
            s->ok_gen = gen;
        s->last_rc = rc;
        wake = s->wake_control;
        pthread_cond_broadcast(&s->done);
        pthread_mutex_unlock(&s->mu);
        /* cl->bus is set before the thread starts and closed after it
         * stops; bus_wake only writes an eventfd. */
        if (wake && s->cl->bus)
            bus_wake(s->cl);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int cl_saver_start(struct cluster *cl)
{
    struct cl_saver *s;
    int rc;

    if (cl->saver || !cl->config_path)
        return cl->saver ? -EALREADY : -EINVAL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->cl = cl;
    s->path = strdup(cl->config_path);
    if (!s->path) {
        free(s);
        return -ENOMEM;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work, NULL);
    pthread_cond_init(&s->done, NULL);
    s->lock_fd = cl->lock_fd;
    rc = -pthread_create(&s->thread, NULL, saver_main, s);
    if (rc != 0)
        goto fail;
    cl->lock_fd = -1;
    cl->saver = s;
    return 0;
fail:
    pthread_cond_destroy(&s->done);
    pthread_cond_destroy(&s->work);
    pthread_mutex_destroy(&s->mu);
    free(s->path);
    free(s);
    return rc;
}

void cl_saver_stop(struct cluster *cl)
{
    struct cl_saver *s = cl->saver;

    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    cl->lock_fd = s->lock_fd;
    cl->saver = NULL;
    pthread_cond_destroy(&s->done);
    pthread_cond_destroy(&s->work);
    pthread_mutex_destroy(&s->mu);
    free(s->path);
    free(s);
}

/* Hand the current state's text to the writer; its generation, or 0 when
 * the text could not be built (logged). Lock held. */
static uint64_t saver_queue(struct cluster *cl, int do_fsync)
{
    struct cl_saver *s = cl->saver;
    struct sbuf b = { 0 };
    uint64_t gen;

    if (conf_text(cl, &b) != 0) {
        log_msg(LL_WARNING, "Out of memory building the cluster config file");
        return 0;
    }
    pthread_mutex_lock(&s->mu);
    sb_free(&s->next);
    s->next = b;
    s->next_fsync |= do_fsync;
    gen = ++s->queued;
    s->wake_control = cl->nacks != 0;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->mu);
    return gen;
}

int cl_saver_wait(struct cluster *cl, uint64_t gen)
{
    struct cl_saver *s = cl->saver;
    int rc;

    if (!s)
        return 0;
    pthread_mutex_lock(&s->mu);
    while (s->done_gen < gen)
        pthread_cond_wait(&s->done, &s->mu);
    rc = s->ok_gen >= gen ? 0 : s->last_rc;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void cl_saver_done(struct cluster *cl, uint64_t *ok_gen, uint64_t *done_gen)
{
    struct cl_saver *s = cl->saver;

    if (!s) {
        *ok_gen = *done_gen = 0;
        return;
    }
    pthread_mutex_lock(&s->mu);
    *ok_gen = s->ok_gen;
    *done_gen = s->done_gen;
    pthread_mutex_unlock(&s->mu);
}

/* ---- failover votes ------------------------------------------------------ */

void cl_vote_ack(struct cluster *cl, struct cl_node *node)
{
    if (!cl->saver) {
        bus_send_auth_ack(cl, node);
        return;
    }
    /* Full: the oldest vote is for an older epoch, whose election the
     * replica has most likely given up; the newest matters more. */
    if (cl->nacks == CL_PENDING_ACKS) {
        memmove(cl->acks, cl->acks + 1, sizeof(cl->acks[0]) * (CL_PENDING_ACKS - 1));
        cl->nacks--;
    }
    memcpy(cl->acks[cl->nacks].name, node->name, BUS_NAMELEN);
    cl->acks[cl->nacks].gen = 0;
    cl->nacks++;
}

/* Send the votes whose save is on disk; drop those whose save failed
 * (Redis would have exited: a vote it cannot remember is not given). */
static void release_acks(struct cluster *cl)
{
    uint64_t ok, done;
    unsigned j = 0;

    if (!cl->nacks)
        return;
    cl_saver_done(cl, &ok, &done);
    for (unsigned i = 0; i < cl->nacks; i++) {
        uint64_t gen = cl->acks[i].gen;
        struct cl_node *n;

        if (gen == 0 || done < gen) {
            cl->acks[j++] = cl->acks[i];
            continue;
        }
        n = cl_lookup(cl, cl->acks[i].name, BUS_NAMELEN);
        if (ok < gen)
            log_msg(LL_WARNING, "Failover auth to %.40s withdrawn: the vote could not be saved",
                    cl->acks[i].name);
        else if (n && n->link)
            bus_send_auth_ack(cl, n);
    }
    cl->nacks = j;
}

/* ---- slot map ------------------------------------------------------------ */

/* "host:port" as MOVED and ASK print it. A hostname longer than the map's
 * SLOTMAP_ENDPOINT_LEN is cut (ip endpoints always fit). */
static void endpoint_of(struct cluster *cl, const struct cl_node *n, char *buf, size_t cap)
{
    const char *host = n->ip;
    char port[8];
    size_t hl, pl;

    if (cl->endpoint_type == CL_ENDPOINT_HOSTNAME)
        host = n->hostname[0] ? n->hostname : "?";
    else if (cl->endpoint_type == CL_ENDPOINT_UNKNOWN)
        host = "";
    pl = (size_t)snprintf(port, sizeof(port), ":%d", n->port & 0xffff);
    hl = strlen(host);
    if (hl + pl + 1 > cap)
        hl = cap - pl - 1;
    memcpy(buf, host, hl);
    memcpy(buf + hl, port, pl + 1);
}

struct slotmap *cl_build_slotmap(struct cluster *cl)
{
    struct slotmap *m = slotmap_new_cluster(cl->ncores, cl->nnodes);

    if (!m)
        return NULL;
    for (unsigned i = 0; i < cl->nnodes; i++)
        endpoint_of(cl, cl->nodes[i], m->nodes[i].endpoint, sizeof(m->nodes[i].endpoint));
    m->self = (uint16_t)cl->myself->idx;
    m->state_ok = cl->state == BUS_STATE_OK;
    for (unsigned s = 0; s < BUS_SLOTS; s++) {
        if (cl->slots[s])
            m->node_of[s] = (uint16_t)cl->slots[s]->idx;
        if (cl->migrating_to[s])
            m->migrating_to[s] = (uint16_t)cl->migrating_to[s]->idx;
        if (cl->importing_from[s])
            m->importing_from[s] = (uint16_t)cl->importing_from[s]->idx;
    }
    return m;
}

static int slotmap_same(const struct slotmap *a, const struct slotmap *b)
{
    if (a->cluster != b->cluster || a->state_ok != b->state_ok || a->self != b->self ||
        a->nnodes != b->nnodes || a->ncores != b->ncores)
        return 0;
    if (memcmp(a->node_of, b->node_of, sizeof(a->node_of)) ||
        memcmp(a->migrating_to, b->migrating_to, sizeof(a->migrating_to)) ||
        memcmp(a->importing_from, b->importing_from, sizeof(a->importing_from)) ||
        memcmp(a->core_of, b->core_of, sizeof(a->core_of)))
        return 0;
    for (unsigned i = 0; i < a->nnodes; i++)
        if (strcmp(a->nodes[i].endpoint, b->nodes[i].endpoint))
            return 0;
    return 1;
}

/* Build and compare on every locked section instead of tracking each kind
 * of change: about 100 KB of memcmp, a few microseconds, and a change to
 * owners, migrations, endpoints or state can never be missed. */
static void publish_if_changed(struct cluster *cl)
{
    const struct slotmap *cur = slotmap_current();
    struct slotmap *m;

    if (!cl->rt || !cl->myself)
        return;
    m = cl_build_slotmap(cl);
    if (!m) {
        log_msg(LL_WARNING, "Out of memory building the cluster slot map");
        return;
    }
    if (cur && slotmap_same(cur, m)) {
        slotmap_free(m);
        return;
    }
    if (control_publish_slotmap(cl->rt, m) != 0)
        log_msg(LL_WARNING, "Out of memory retiring a slot map (leaked)");
}

/* ---- reset --------------------------------------------------------------- */

void cl_reset(struct cluster *cl, int hard)
{
    memset(cl->migrating_to, 0, sizeof(cl->migrating_to));
    memset(cl->importing_from, 0, sizeof(cl->importing_from));
    for (unsigned j = 0; j < BUS_SLOTS; j++)
        cl_del_slot(cl, j);
    for (unsigned i = cl->nnodes; i-- > 0;)
        if (cl->nodes[i] != cl->myself)
            cl_node_delete(cl, cl->nodes[i]);
    cl->nblacklist = 0;
    if (hard) {
        char name[BUS_NAMELEN];

        cl->current_epoch = 0;
        cl->last_vote_epoch = 0;
        cl->myself->config_epoch = 0;
        log_msg(LL_NOTICE, "configEpoch set to 0 via CLUSTER RESET HARD");
        cl_random_name(cl, name);
        cl_node_rename(cl, cl->myself, name);
        log_msg(LL_NOTICE, "Node hard reset, now I'm %.40s", cl->myself->name);
    }
    cl->todo |= CL_TODO_SAVE | CL_TODO_UPDATE_STATE | CL_TODO_FSYNC;
}

/* ---- locked sections ----------------------------------------------------- */

void cl_after(struct cluster *cl)
{
    int64_t t[5];

    t[0] = clock_us();
    if (cl->todo & CL_TODO_UPDATE_STATE)
        cl_update_state(cl);
    t[1] = clock_us();
    cl->save_rc = 0;
    if (cl->todo & CL_TODO_SAVE) {
        int fs = (cl->todo & CL_TODO_FSYNC) != 0;

        cl->todo &= ~(CL_TODO_SAVE | CL_TODO_FSYNC);
        if (cl->saver) {
            uint64_t gen = saver_queue(cl, fs);
            /* Votes granted in this section wait for this save. */
            for (unsigned i = 0; i < cl->nacks; i++)
                if (cl->acks[i].gen == 0)
                    cl->acks[i].gen = gen;
            if (fs && !cl->on_control)
                cl->wait_gen = gen;
        } else if ((cl->save_rc = cl_save_config(cl, fs)) != 0) {
            log_msg(LL_WARNING, "Fatal: can't update cluster config file.");
        }
    }
    t[2] = clock_us();
    publish_if_changed(cl);
    t[3] = clock_us();
    if (!cl->bus || cl->on_control)
        release_acks(cl);
    if (!cl->bus) {
        bus_flush(cl);             /* frees dead links; no sockets in tests */
    } else if (cl->on_control) {
        if (cl->todo & CL_TODO_BROADCAST_PONG) {
            cl->todo &= ~CL_TODO_BROADCAST_PONG;
            bus_broadcast_pong(cl);
        }
        bus_flush(cl);
    } else {
        int wake = (cl->todo & CL_TODO_BROADCAST_PONG) != 0;
        for (struct cl_link *l = cl->links; l && !wake; l = l->next)
            wake = l->woff < l->wlen;
        bus_reap(cl);
        if (wake)
            bus_wake(cl);        /* the control thread sends it */
    }
    t[4] = clock_us();
    if (cl->locked_us && t[4] - cl->locked_us > CL_STALL_US)
        log_msg(LL_WARNING, "Latency: %s held the cluster lock for %lld ms (own work %lld ms, "
                "cluster state %lld ms, nodes.conf %lld ms, slot map %lld ms, bus %lld ms)",
                cl->phase ? cl->phase : "?", (long long)(t[4] - cl->locked_us) / 1000,
                (long long)(t[0] - cl->locked_us) / 1000, (long long)(t[1] - t[0]) / 1000,
                (long long)(t[2] - t[1]) / 1000, (long long)(t[3] - t[2]) / 1000,
                (long long)(t[4] - t[3]) / 1000);
}

struct cluster *cl_instance(void)
{
    return the_cluster;
}

/* Take the lock for `phase`; a wait above CL_STALL_US is logged (the holder
 * logs its own side when it lets go). */
static void lock_as(struct cluster *cl, const char *phase, int on_control)
{
    int64_t t0 = clock_us(), t1;

    pthread_mutex_lock(&cl->lock);
    t1 = clock_us();
    if (t1 - t0 > CL_STALL_US)
        log_msg(LL_WARNING, "Latency: %s waited %lld ms for the cluster lock", phase,
                (long long)(t1 - t0) / 1000);
    cl->now = clock_ms();
    cl->on_control = on_control;
    cl->phase = phase;
    cl->locked_us = t1;
}

void cl_lock(struct cluster *cl)
{
    lock_as(cl, "a command on a data core", 0);
}

int cl_unlock(struct cluster *cl)
{
    uint64_t wait;
    int rc;

    cl_after(cl);
    wait = cl->wait_gen;
    rc = cl->save_rc;
    cl->wait_gen = 0;
    pthread_mutex_unlock(&cl->lock);
    /* Only the command's own core waits, and only for a change Redis
     * fsyncs before replying (epochs); the bus goes on meanwhile. */
    if (wait)
        rc = cl_saver_wait(cl, wait);
    return rc;
}

static void lock_control(struct cluster *cl, const char *phase)
{
    lock_as(cl, phase, 1);
}

/* ---- configuration --------------------------------------------------------- */

/* The values the cluster keeps a copy of; myself follows announced changes
 * (Redis clusterUpdateMyself*). Caller holds the lock. */
static void copy_config(struct cluster *cl, const struct config *cfg)
{
    struct cl_node *me = cl->myself;

    cl->node_timeout = cfg->cluster_node_timeout;
    cl->require_full_coverage = cfg->cluster_require_full_coverage;
    cl->endpoint_type = cfg->cluster_preferred_endpoint_type;
    cl->sendbuf_limit = cfg->cluster_link_sendbuf_limit;
    cl->allow_replica_migration = cfg->cluster_allow_replica_migration;
    cl->announce_port = cfg->cluster_announce_port;
    cl->announce_bus_port = cfg->cluster_announce_bus_port;
    cl->announce_tls_port = cfg->cluster_announce_tls_port;
    snprintf(cl->announce_hostname, sizeof(cl->announce_hostname), "%s",
             cfg->cluster_announce_hostname ? cfg->cluster_announce_hostname : "");
    if (!me)
        return;
    if (strcmp(cl->announce_ip, cfg->cluster_announce_ip ? cfg->cluster_announce_ip : "")) {
        snprintf(cl->announce_ip, sizeof(cl->announce_ip), "%s",
                 cfg->cluster_announce_ip ? cfg->cluster_announce_ip : "");
        /* Set: use it. Cleared: forget our address, the next MEET tells it. */
        memcpy(me->ip, cl->announce_ip, sizeof(me->ip));
        cl->todo |= CL_TODO_SAVE;
    }
    me->port = cl->announce_port ? cl->announce_port : cl->port;
    me->pport = cl->announce_tls_port;
    me->cport = cl->announce_bus_port ? cl->announce_bus_port : cl->listen_cport;
    if (strcmp(me->hostname, cl->announce_hostname)) {
        memcpy(me->hostname, cl->announce_hostname, sizeof(me->hostname));
        cl->todo |= CL_TODO_SAVE;
    }
    me->flags &= (uint16_t)~BUS_NODE_NOFAILOVER;
    if (cfg->cluster_replica_no_failover)
        me->flags |= BUS_NODE_NOFAILOVER;
}

/* CONFIG SET of a cluster-* directive (runs under the all-cores barrier). */
static int config_changed(struct config *cfg, void *arg, const char **err)
{
    struct cluster *cl = arg;

    (void)err;
    lock_as(cl, "CONFIG SET on a data core", 0);
    copy_config(cl, cfg);
    cl->todo |= CL_TODO_UPDATE_STATE;
    cl_unlock(cl);
    return 0;
}

static const char *const watched_config[] = {
    "cluster-node-timeout", "cluster-require-full-coverage",
    "cluster-preferred-endpoint-type", "cluster-link-sendbuf-limit",
    "cluster-allow-replica-migration", "cluster-announce-ip",
    "cluster-announce-hostname", "cluster-announce-port",
    "cluster-announce-bus-port", "cluster-announce-tls-port",
    "cluster-replica-no-failover",
};

/* Lock nodes.conf so two nodes never share it (Redis clusterLockConfig). */
static int lock_config_file(struct cluster *cl)
{
    int fd = open(cl->config_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

    if (fd < 0) {
        log_msg(LL_WARNING, "Can't open %s in order to acquire a lock: %s",
                cl->config_path, strerror(errno));
        return -errno;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK)
            log_msg(LL_WARNING, "Sorry, the cluster configuration file %s is already used "
                    "by a different Redis Cluster node. Please make sure that different "
                    "nodes use different cluster configuration files.", cl->config_path);
        else
            log_msg(LL_WARNING, "Impossible to lock %s: %s", cl->config_path, strerror(e));
        close(fd);
        return -e;
    }
    cl->lock_fd = fd;
    return 0;
}

/* ---- public face ----------------------------------------------------------- */

int cluster_init(struct runtime *rt)
{
    const struct config *cfg = rt->cfg;
    struct cluster *cl;
    int rc;

    if (!cfg->cluster_enabled)
        return 0;
    if (!cfg->cluster_port && cfg->port > 65535 - CL_PORT_INCR) {
        log_msg(LL_WARNING, "Redis port number too high. Cluster communication port is "
                "10,000 port numbers higher than your Redis port. Your Redis port number "
                "must be 55535 or less.");
        return -EINVAL;
    }
    if (cfg->bind_count == 0) {
        log_msg(LL_WARNING, "No bind address is configured, but it is required for the Cluster bus.");
        return -EINVAL;
    }
    cl = cl_new(rt->ncores);
    if (!cl)
        return -ENOMEM;
    cl->rt = rt;
    cl->on_control = 1;
    cl->port = cfg->port;
    cl->listen_cport = cfg->cluster_port ? cfg->cluster_port : cfg->port + CL_PORT_INCR;
    cl->config_path = strdup(cfg->cluster_config_file ? cfg->cluster_config_file : "nodes.conf");
    rc = cl->config_path ? lock_config_file(cl) : -ENOMEM;
    if (rc != 0)
        goto fail;
    rc = cl_load_config(cl, cl->config_path);
    if (rc == -ENOENT) {
        cl->myself = cl_node_create(cl, NULL, BUS_NODE_MYSELF | BUS_NODE_MASTER);
        if (!cl->myself) {
            rc = -ENOMEM;
            goto fail;
        }
        log_msg(LL_NOTICE, "No cluster configuration found, I'm %.40s", cl->myself->name);
        cl->todo |= CL_TODO_SAVE | CL_TODO_FSYNC;
    } else if (rc != 0) {
        goto fail;
    }
    /* A new node's first nodes.conf has no address yet (":0@0"), as 7.0's. */
    if (cl->todo & CL_TODO_SAVE) {
        rc = cl_save_config(cl, 1);
        if (rc != 0) {
            log_msg(LL_WARNING, "Fatal: can't update cluster config file.");
            goto fail;
        }
    }
    copy_config(cl, cfg);
    rc = bus_open(cl, cfg->bind, cfg->bind_count);
    if (rc != 0)
        goto fail;
    /* From here on nodes.conf is written by its own thread. Without it the
     * node still works, saving in place as before. */
    rc = cl_saver_start(cl);
    if (rc != 0)
        log_msg(LL_WARNING, "Cannot start the nodes.conf writer thread (%s): saving it in place",
                strerror(-rc));
    for (size_t i = 0; i < sizeof(watched_config) / sizeof(watched_config[0]); i++)
        config_on_apply(watched_config[i], config_changed, cl);
    atomic_store_explicit(&cl->connections, (unsigned long)(cl->nnodes - 1) * 2,
                          memory_order_relaxed);
    publish_if_changed(cl);
    the_cluster = cl;
    return 0;
fail:
    bus_close(cl);
    cl_free(cl);
    return rc;
}

int cluster_fd(void)
{
    return the_cluster ? bus_fd(the_cluster) : -1;
}

void cluster_events(struct runtime *rt)
{
    struct cluster *cl = the_cluster;

    (void)rt;
    if (!cl)
        return;
    lock_control(cl, "bus events (control thread)");
    bus_events(cl);
    cl_after(cl);
    pthread_mutex_unlock(&cl->lock);
}

void cluster_tick(struct runtime *rt, int64_t now_ms)
{
    struct cluster *cl = the_cluster;
    int64_t t = clock_us();

    (void)rt;
    if (!cl)
        return;
    lock_control(cl, "cluster cron (control thread)");
    /* Ticks come every 100 ms: a longer gap means the control loop itself
     * was held up (any of its phases, or the scheduler), not only us. */
    if (cl->last_tick_us && t - cl->last_tick_us > CL_STALL_US)
        log_msg(LL_WARNING, "Latency: the control loop ran no cluster cron for %lld ms "
                "(every 100 ms expected)", (long long)(t - cl->last_tick_us) / 1000);
    cl->last_tick_us = t;
    if (now_ms > cl->now)
        cl->now = now_ms;
    bus_cron(cl);
    cl_after(cl);
    pthread_mutex_unlock(&cl->lock);
}

void cluster_shutdown(void)
{
    struct cluster *cl = the_cluster;

    if (!cl)
        return;
    lock_control(cl, "shutdown");
    /* What the writer still holds first, then the final state in place. */
    cl_saver_stop(cl);
    if (cl_save_config(cl, 1) != 0)
        log_msg(LL_WARNING, "Could not save the cluster config at shutdown");
    bus_close(cl);
    pthread_mutex_unlock(&cl->lock);
    the_cluster = NULL;
    cl_free(cl);
}

unsigned long cluster_connections(void)
{
    struct cluster *cl = the_cluster;

    return cl ? atomic_load_explicit(&cl->connections, memory_order_relaxed) : 0;
}
