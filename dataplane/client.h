/* client — one client connection: its input buffer and RESP parser, the
 * ordered queue of replies still being computed on other cores, its output,
 * and the per-client state Redis exposes (db, RESP version, name, auth).
 *
 * Owned by the data core the connection landed on. Other cores see a client
 * only through a cross-core request's back pointer, which they never follow;
 * the all-cores barrier holder may read (not write) other cores' clients for
 * CLIENT LIST and may flag them for CLIENT KILL. */
#ifndef SLOTD_CLIENT_H
#define SLOTD_CLIENT_H

#include <stdint.h>
#include "../kv/cmd.h"
#include "../kv/kvt.h"
#include "phase.h"
#include "resp_parse.h"
#include "resp_write.h"
#include "transport.h"

struct core;
struct xreq;
struct cmd_spec;
struct multi_state;

#define CMD_ID_NONE 0xffffffffu           /* no command: cmd_by_id finds none */
struct watched_keys;

enum {
    CLIENT_CLOSE_AFTER_REPLY = 1u << 0,  /* QUIT, protocol error: close once flushed */
    CLIENT_CLOSE_ASAP        = 1u << 1,  /* CLIENT KILL, output limit: close now */
    CLIENT_MONITOR           = 1u << 2,
    CLIENT_WAIT_BARRIER      = 1u << 3,  /* a command waits for the all-cores barrier */
    CLIENT_CLOSED            = 1u << 4,  /* connection gone; freed when nothing in flight */
    CLIENT_INPUT_PAUSED      = 1u << 5,
    CLIENT_ASKING            = 1u << 6,  /* cluster: next command may use an importing slot */
    CLIENT_READONLY          = 1u << 7,  /* cluster: READONLY (replica reads) */
};

struct client {
    uint64_t id;
    struct conn *conn;
    struct core *core;
    uint32_t flags;

    /* input: bytes [qpos, qlen) of qbuf are unparsed */
    char *qbuf;
    size_t qlen, qcap, qpos;
    size_t qbuf_peak;
    struct resp_parser parser;
    struct resp_limits limits;
    /* the command running (argc 0 between commands): CLIENT LIST argv-mem */
    int argc;
    const struct slice *argv;
    /* client_rx_peek's key, its bucket asked for: the entry is next */
    const struct kvt *warm_table;
    struct kvt_hint warm_hint;

    /* output: bytes [out_sent, out.len) wait for the transport */
    struct resp_out out;
    size_t out_sent;
    int64_t obuf_soft_since_ms;          /* soft output limit first exceeded at */

    /* replies computed elsewhere, in request order */
    struct xreq *pend_head, *pend_tail;
    unsigned inflight;                   /* requests out on other cores */

    /* Redis-visible state */
    unsigned db;
    uint8_t proto;                       /* 2 or 3 */
    uint8_t authenticated;
    char *name, *lib_name, *lib_ver;     /* mem_alloc'd, NULL when unset */
    int64_t ctime_ms, last_ms;
    unsigned last_cmd_id;                /* cmd id, for CLIENT LIST cmd=, or CMD_ID_NONE */
    struct cmd_memo cmd_memo;            /* the last command name looked up */
    uint64_t commands;
    struct multi_state *multi;           /* open transaction (MULTI), or NULL */
    struct watched_keys *watched;        /* WATCHed keys (multi.c), or NULL */

    struct client *next, *prev;          /* the core's client list */
    struct client *flush_next;           /* core's list of clients with output */
    uint8_t on_flush_list;
};

/* Transport → client. client_open returns NULL when the client must be refused
 * (the transport has then already been asked to close after the error). */
struct client *client_open(struct core *core, struct conn *conn);
/* Room to read into: at least `want` bytes at *buf. Returns capacity or -ENOMEM. */
long client_rx_space(struct client *cl, char **buf, size_t want);
/* n bytes were written into the space from client_rx_space. */
PHASE_ROOT void client_rx_done(struct client *cl, size_t n);
/* Cache warming, for a transport that sees a burst of input before it
 * delivers it (the DPDK one: net.h's on_peek): p[0..n) is input to come. If it starts a
 * command whose key lives in a table too big for the caches, ask for the
 * key's bucket, and with client_rx_peek_late (a little later) for its
 * entry. Returns 0 when no table of this client's is worth warming. */
int client_rx_peek(struct client *cl, const void *p, size_t n);
void client_rx_peek_late(struct client *cl);
void client_writable(struct client *cl);
void client_closed(struct client *cl);

/* Core → client */
void client_flush(struct client *cl);            /* write out pending output */
/* Have the client's core flush it at the end of its turn (which also closes a
 * client flagged CLIENT_CLOSE_ASAP). From another core only under the barrier. */
void client_schedule_flush(struct client *cl);
/* Request `r` of this client came back from its owner core with its reply. */
void client_reply_ready(struct client *cl, struct xreq *r);
void client_resume(struct client *cl);           /* retry parked input (barrier free) */
PHASE_ROOT void client_cron(struct client *cl, int64_t now_ms);  /* timeout, output limits */

/* CLIENT LIST / CLIENT INFO line for one client (no trailing newline). */
void client_format_info(struct client *cl, struct resp_out *o, int64_t now_ms);
/* Free a client whose connection is gone and has nothing in flight. */
void client_free(struct client *cl);

#endif
