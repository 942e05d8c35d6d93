/* cluster_priv — the cluster module's internals, shared by cluster.c (state,
 * epochs, slots, nodes.conf, slot map), bus.c (links and messages) and
 * cmd_cluster.c (CLUSTER commands). Nothing outside cluster/ includes it;
 * cluster.h is the module's public face.
 *
 * Threads: the state lives on the control-plane thread. Every access, from
 * the control thread (bus events, cron) or from a data core running a CLUSTER
 * command, happens with `lock` held; data cores never take it on the key
 * path (they read the published slot map). Socket I/O happens only on the
 * control thread: a command that queues a message wakes it (bus_wake) and it
 * writes the bytes out. File I/O happens only on the nodes.conf writer
 * thread (cl_saver_*), never with `lock` held: a disk stalled for seconds
 * under writeback must not stop the bus from answering PINGs.
 *
 * Time: `now` is the cached wall clock in ms (Redis mstime()), refreshed by
 * every entry point before it touches the state, so the rules below compare
 * times without reading the clock again. Tests set it directly. */
#ifndef SLOTD_CLUSTER_PRIV_H
#define SLOTD_CLUSTER_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "bus_msg.h"

struct runtime;
struct slotmap;

/* Redis 7.0 src/cluster.h and src/cluster.c constants (cluster-bus.md §1.6). */
#define CL_PORT_INCR               10000  /* CLUSTER_PORT_INCR */
#define CL_FAIL_REPORT_VALIDITY    2      /* CLUSTER_FAIL_REPORT_VALIDITY_MULT */
#define CL_FAIL_UNDO_TIME          2      /* CLUSTER_FAIL_UNDO_TIME_MULT */
#define CL_BLACKLIST_TTL_MS        60000  /* CLUSTER_BLACKLIST_TTL, 60 s */
#define CL_WRITABLE_DELAY_MS       2000   /* CLUSTER_WRITABLE_DELAY */
#define CL_MIN_REJOIN_DELAY_MS     500    /* CLUSTER_MIN_REJOIN_DELAY */
#define CL_MAX_REJOIN_DELAY_MS     5000   /* CLUSTER_MAX_REJOIN_DELAY */
#define CL_MIN_HANDSHAKE_MS        1000   /* clusterCron handshake_timeout floor */
#define CL_HOSTNAME_MAX            256    /* cluster-announce-hostname < 256 chars */
#define CL_ENDPOINT_IP             0      /* cluster-preferred-endpoint-type */
#define CL_ENDPOINT_HOSTNAME       1
#define CL_ENDPOINT_UNKNOWN        2

/* Work to do at the end of the current locked section (Redis
 * clusterDoBeforeSleep flags). The slot map needs no flag: cl_after
 * rebuilds and compares it every time. */
enum {
    CL_TODO_SAVE           = 1 << 0,
    CL_TODO_FSYNC          = 1 << 1,
    CL_TODO_UPDATE_STATE   = 1 << 2,
    CL_TODO_BROADCAST_PONG = 1 << 3,   /* done by the control thread: it sends */
};

struct cl_node;
struct cl_link;
struct bus;
struct cl_saver;

#define CL_PENDING_ACKS 4              /* votes waiting for their nodes.conf save */

struct cl_report {                     /* a master says `node` is PFAIL/FAIL */
    struct cl_node *node;              /* the reporter */
    int64_t time;
};

struct cl_node {
    char name[BUS_NAMELEN];
    uint16_t flags;                    /* BUS_NODE_* */
    uint64_t config_epoch;
    uint8_t slots[BUS_SLOT_BYTES];     /* bit set = served by this node */
    int numslots;
    struct cl_node *slaveof;           /* master of a replica, or NULL */
    struct cl_node **slaves;
    int numslaves;
    int64_t ctime;                     /* creation: handshake lifetime */
    int64_t ping_sent;                 /* outstanding ping, 0 if none */
    int64_t pong_received;
    int64_t data_received;             /* any message: liveness */
    int64_t fail_time;
    int64_t voted_time;                /* last vote for a replica of this master */
    uint64_t repl_offset;
    char ip[BUS_IPLEN];                /* NUL-terminated, "" until learned */
    char hostname[CL_HOSTNAME_MAX];    /* "" when none announced */
    int port, pport, cport;
    struct cl_link *link;              /* outbound: we opened it */
    struct cl_link *inbound_link;      /* the peer's link to us, once bound */
    struct cl_report *reports;
    unsigned nreports, capreports;
    uint64_t gossip_mark;              /* last ping that carried it (no duplicates) */
    unsigned idx;                      /* position in cluster.nodes[] */
};

struct cl_blacklist {                  /* CLUSTER FORGET: not re-added until expire */
    char name[BUS_NAMELEN];
    int64_t expire;
};

struct cluster {
    pthread_mutex_t lock;
    int64_t now;
    int on_control;                    /* the lock holder is the control thread */

    /* Latency watch (Redis's latency monitor, fixed threshold CL_STALL_US):
     * what the lock holder is doing and since when (monotonic µs), and the
     * last cron run, so a blocked or starved control loop is named in the
     * log. Written by the lock holder. */
    const char *phase;
    int64_t locked_us;
    int64_t last_tick_us;

    /* Configuration copied at start and by CONFIG SET hooks (under the
     * lock), so the control thread never reads strings CONFIG SET frees. */
    long long node_timeout;
    int require_full_coverage;
    int endpoint_type;                 /* CL_ENDPOINT_* */
    unsigned long long sendbuf_limit;
    int allow_replica_migration;
    char announce_ip[BUS_IPLEN];       /* "" when not set */
    char announce_hostname[CL_HOSTNAME_MAX];
    int announce_port, announce_bus_port, announce_tls_port;
    int port, listen_cport;            /* our client port, bus listening port */

    char *config_path;
    int lock_fd;                       /* flock()ed nodes.conf, -1 if none */

    struct runtime *rt;                /* NULL in unit tests */
    unsigned ncores;                   /* for the slot maps we publish */

    struct cl_node *myself;
    struct cl_node **nodes;            /* every known node, myself included */
    unsigned nnodes, capnodes;
    unsigned *index;                   /* open addressing over nodes[], by name */
    unsigned index_cap;                /* power of two, > 2 * nnodes */

    uint64_t current_epoch, last_vote_epoch;
    int state;                         /* BUS_STATE_OK / BUS_STATE_FAIL */
    int size;                          /* masters serving >= 1 slot */
    int64_t first_update;              /* first cl_update_state call */
    int64_t among_minority;            /* last time we saw no quorum */

    struct cl_node *slots[BUS_SLOTS];
    struct cl_node *migrating_to[BUS_SLOTS];
    struct cl_node *importing_from[BUS_SLOTS];
    uint8_t owner_not_claiming[BUS_SLOT_BYTES];

    struct cl_blacklist *blacklist;
    unsigned nblacklist, capblacklist;

    uint64_t stats_sent[BUS_TYPE_COUNT], stats_received[BUS_TYPE_COUNT];
    unsigned stats_pfail_nodes;
    uint64_t stats_links_limit_exceeded;

    int todo;                          /* CL_TODO_* */

    /* nodes.conf writer thread; NULL: cl_after saves in place (unit tests,
     * and start-up before cluster_init starts it). */
    struct cl_saver *saver;
    uint64_t wait_gen;                 /* cl_unlock waits for this save (0: none) */
    int save_rc;                       /* result of this section's in-place save */
    /* Failover votes granted but not yet sent: lastVoteEpoch must be on
     * disk before the replica counts our vote (Redis saves with fsync
     * before its event loop writes the ACK). gen 0: the next save. */
    struct { char name[BUS_NAMELEN]; uint64_t gen; } acks[CL_PENDING_ACKS];
    unsigned nacks;
    /* Tests only: called by the writer thread before each file write. */
    void (*save_hook)(void *arg);
    void *save_hook_arg;
    uint64_t iteration;                /* cron calls */
    uint64_t pings_sent;               /* numbers gossip rounds */
    uint64_t rng;                      /* xorshift64* state */

    struct bus *bus;                   /* NULL in unit tests */
    struct cl_link *links;             /* every open link */
    struct cl_link *dead_links;        /* closed, freed at the end of the section */
    _Atomic unsigned long connections; /* INFO cluster_connections */
};

/* Growable text buffer (CLUSTER NODES, nodes.conf). On allocation failure it
 * stops growing and sets oom; callers check oom once at the end. */
struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
};
void sb_add(struct sbuf *b, const char *s, size_t n);
void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_free(struct sbuf *b);

/* ---- cluster.c: state -------------------------------------------------- */

/* A fresh state without myself or sockets: cl_set_myself or cl_load_config
 * give it a node. NULL on ENOMEM. */
struct cluster *cl_new(unsigned ncores);
void cl_free(struct cluster *cl);
uint64_t cl_random(struct cluster *cl);
void cl_random_name(struct cluster *cl, char name[BUS_NAMELEN]);

/* 1 if name[0..len) is a valid node ID: exactly 40 chars of a-z, 0-9. */
int cl_valid_name(const char *name, size_t len);
/* NULL for an invalid or unknown name. */
struct cl_node *cl_lookup(struct cluster *cl, const char *name, size_t len);
/* Create (random name when name is NULL) and add to the table. NULL on ENOMEM. */
struct cl_node *cl_node_create(struct cluster *cl, const char *name, uint16_t flags);
/* Remove everywhere (slots, migrations, reports, replicas, links) and free. */
void cl_node_delete(struct cluster *cl, struct cl_node *n);
void cl_node_rename(struct cluster *cl, struct cl_node *n, const char *name);
int cl_node_add_slave(struct cl_node *master, struct cl_node *slave);
void cl_node_remove_slave(struct cl_node *master, struct cl_node *slave);
void cl_set_node_master(struct cluster *cl, struct cl_node *n);

static inline int cl_is_master(const struct cl_node *n) { return (n->flags & BUS_NODE_MASTER) != 0; }
static inline int cl_is_slave(const struct cl_node *n) { return (n->flags & BUS_NODE_SLAVE) != 0; }
static inline int cl_in_handshake(const struct cl_node *n) { return (n->flags & BUS_NODE_HANDSHAKE) != 0; }
static inline int cl_failed(const struct cl_node *n) { return (n->flags & BUS_NODE_FAIL) != 0; }
static inline int cl_timed_out(const struct cl_node *n) { return (n->flags & BUS_NODE_PFAIL) != 0; }

/* Slots. add: -EBUSY if the slot already has an owner. del: -ENOENT if not. */
int cl_add_slot(struct cluster *cl, struct cl_node *n, unsigned slot);
int cl_del_slot(struct cluster *cl, unsigned slot);
int cl_del_node_slots(struct cluster *cl, struct cl_node *n);
static inline int cl_slot_unclaimed(const struct cluster *cl, unsigned slot)
{
    return cl->slots[slot] == NULL || bus_slot_test(cl->owner_not_claiming, slot);
}

/* Failure reports (gossip from masters), valid 2 * node_timeout. */
int cl_report_add(struct cluster *cl, struct cl_node *failing, struct cl_node *sender);
int cl_report_del(struct cluster *cl, struct cl_node *failing, struct cl_node *sender);
unsigned cl_report_count(struct cluster *cl, struct cl_node *failing);
/* PFAIL -> FAIL on a majority of masters (FAIL is broadcast); 1 if flagged. */
int cl_mark_failing_if_needed(struct cluster *cl, struct cl_node *n);
void cl_clear_failure_if_needed(struct cluster *cl, struct cl_node *n);

/* Epochs (cluster-bus.md §5). */
uint64_t cl_max_epoch(struct cluster *cl);
int cl_bump_epoch(struct cluster *cl);      /* 0 bumped, -EALREADY greatest already */
void cl_epoch_collision(struct cluster *cl, struct cl_node *sender);

void cl_blacklist_add(struct cluster *cl, const char *name);
int cl_blacklist_has(struct cluster *cl, const char *name);

/* Rebind slots claimed by `sender` under `epoch` (PING/PONG/MEET of a master,
 * or UPDATE), Redis clusterUpdateSlotsConfigWith. */
void cl_update_slots_config(struct cluster *cl, struct cl_node *sender, uint64_t epoch,
                            const uint8_t *slots);
void cl_update_state(struct cluster *cl);

/* CLUSTER MEET: 0 (handshake node added), -EAGAIN (one in progress for that
 * address), -EINVAL (bad address or port). */
int cl_start_handshake(struct cluster *cl, const char *ip, long long port, long long cport);

/* CLUSTER NODES line of one node, without the newline; all nodes. filter:
 * flags whose nodes are left out (HANDSHAKE for nodes.conf). */
void cl_node_line(struct cluster *cl, const struct cl_node *n, struct sbuf *b);
void cl_nodes_text(struct cluster *cl, uint16_t filter, struct sbuf *b);

/* nodes.conf: 0, -ENOENT (missing or empty: a new node), -EINVAL (corrupt,
 * logged with the line), or -errno. */
int cl_load_config(struct cluster *cl, const char *path);
/* Write atomically: temporary file, rename; with do_fsync the file is
 * synced before the rename and the directory after it. Takes over the
 * flock. 0 or -errno. In place, on the calling thread: only for start-up,
 * shutdown and tests (cl_after hands the text to the writer thread). */
int cl_save_config(struct cluster *cl, int do_fsync);

/* The nodes.conf writer thread. start: after the first save, with
 * config_path set; from then on cl_after queues the file's text (only the
 * newest text waiting is kept: each is the whole state) and the thread owns
 * the flock()ed descriptor. 0 or -errno (then saves stay in place). stop:
 * writes what is queued, joins, hands the descriptor back; safe to call
 * when not started. */
int cl_saver_start(struct cluster *cl);
void cl_saver_stop(struct cluster *cl);
/* Block, without the lock, until save generation `gen` (or a newer one) is
 * written; its result, 0 or -errno. */
int cl_saver_wait(struct cluster *cl, uint64_t gen);
/* Newest generation written successfully, and newest finished at all. */
void cl_saver_done(struct cluster *cl, uint64_t *ok_gen, uint64_t *done_gen);

/* The slot map for the data cores built from the state. NULL on ENOMEM. */
struct slotmap *cl_build_slotmap(struct cluster *cl);

/* CLUSTER RESET. */
void cl_reset(struct cluster *cl, int hard);

/* End of a locked section: update state, save nodes.conf, publish the slot
 * map, send broadcasts (control thread) or wake the control thread. */
void cl_after(struct cluster *cl);

/* The process's cluster (NULL when cluster-enabled is no), for commands. */
struct cluster *cl_instance(void);
void cl_lock(struct cluster *cl);       /* takes the lock and refreshes now */
/* cl_after, then releases; a data core whose section needs an fsync
 * (epochs, CL_TODO_FSYNC) then waits for it without the lock, so its reply
 * follows the save as in Redis. 0, or the save's -errno. */
int cl_unlock(struct cluster *cl);

/* A failover vote for `node`: sent once the save recording lastVoteEpoch is
 * on disk (at once when saves are in place: cl_after saves before it
 * flushes). */
void cl_vote_ack(struct cluster *cl, struct cl_node *node);

/* ---- bus.c: links and messages ----------------------------------------- */

struct cl_link {
    int kind;                          /* bus.c's epoll tag; first member */
    int fd;
    int inbound;
    int connecting;                    /* non-blocking connect in flight */
    int dead;                          /* closed; freed when the batch ends */
    int64_t ctime;
    struct cl_node *node;              /* NULL: inbound, sender not yet known */
    uint8_t *rbuf;
    size_t rlen, rcap;
    uint8_t *wbuf;
    size_t woff, wlen, wcap;           /* bytes [woff, wlen) wait for the socket */
    uint32_t events;                   /* epoll mask registered */
    struct cl_link *next, *prev;       /* every live link */
};

/* Listen on every bind address at the bus port, set up epoll and the wake
 * eventfd. 0 or -errno (logged). */
int bus_open(struct cluster *cl, char *const *binds, int nbinds);
void bus_close(struct cluster *cl);
int bus_fd(const struct cluster *cl);
/* Handle ready sockets (never waits). */
void bus_events(struct cluster *cl);
/* clusterCron: reconnects, pings, PFAIL detection; every 100 ms. */
void bus_cron(struct cluster *cl);
/* Write queued bytes, free dead links (control thread). */
void bus_flush(struct cluster *cl);
/* Free the links closed during this locked section (any thread). */
void bus_reap(struct cluster *cl);
/* Ask the control thread to flush (from a data core). */
void bus_wake(struct cluster *cl);
/* A link over an open socket (fd -1 in tests: bytes are only queued);
 * node NULL makes an inbound link. NULL on ENOMEM. */
struct cl_link *bus_link_new(struct cluster *cl, int fd, struct cl_node *node);
/* Close now, free later (never frees under the caller's feet). */
void bus_link_free(struct cluster *cl, struct cl_link *link);

void bus_send_ping(struct cluster *cl, struct cl_link *link, uint16_t type);
void bus_send_auth_ack(struct cluster *cl, struct cl_node *node);
void bus_broadcast_pong(struct cluster *cl);
void bus_send_fail(struct cluster *cl, const char *name);
void bus_send_update(struct cluster *cl, struct cl_link *link, const struct cl_node *n);

/* Process one whole message received on `link` (tests feed it directly).
 * Returns 0, or -ECONNRESET when the link was freed by it. */
int bus_process(struct cluster *cl, struct cl_link *link, const uint8_t *buf, size_t len);

/* Link description for CLUSTER LINKS: "r", "rw", "w" or "". */
void bus_link_events(const struct cl_link *link, char out[3]);

#endif
