/* migrate_out — MIGRATE's outbound connections, on the control-plane thread.
 *
 * A data core that runs MIGRATE serializes the keys (RESTORE or
 * RESTORE-ASKING commands, RESP-encoded), locks them, and submits a job
 * here; it keeps serving its other clients. The control plane sends the job
 * over a cached non-blocking link to the target, prefixed with AUTH and,
 * when the link last selected another database, SELECT; it reads one reply
 * line per command and hands the job back to its core with the outcome of
 * each key. The core then deletes the keys the target acknowledged (unless
 * COPY), unlocks them and writes MIGRATE's reply.
 *
 * Redis 7.0 (cluster.c migrateCommand) semantics kept: a link per
 * "host:port" as given, at most 64, a random one closed to make room; a link
 * idle for 10 s is closed; every step (connect, each write, each reply line)
 * must progress within the job's timeout; a job whose link failed before any
 * reply, other than by timeout, is retried once on a new link; after an
 * error reply the link's selected database is forgotten.
 *
 * Threads: migrate_out_submit and migrate_out_done are called by data cores
 * (each core only for its own jobs); everything else by the control plane.
 * A job is owned by the data core until submitted, then by the control
 * plane until migrate_out_done returns it. */
#ifndef SLOTD_MIGRATE_OUT_H
#define SLOTD_MIGRATE_OUT_H

#include <stddef.h>
#include <stdint.h>

#define MIGRATE_OUT_LINKS_MAX  64      /* cluster.c MIGRATE_SOCKET_CACHE_ITEMS */
#define MIGRATE_OUT_IDLE_MS    10000   /* cluster.c MIGRATE_SOCKET_CACHE_TTL */
#define MIGRATE_OUT_LINE_MAX   1024    /* cluster.c reads each reply into 1024 bytes */

enum migrate_io_error {
    MIGRATE_IO_NONE = 0,
    MIGRATE_IO_CONNECT,     /* "IOERR error or timeout connecting to the client" */
    MIGRATE_IO_WRITE,       /* "IOERR error or timeout writing to target instance" */
    MIGRATE_IO_READ,        /* "IOERR error or timeout reading to target instance" */
    MIGRATE_IO_NOMEM,       /* the control plane ran out of memory for the job */
};

struct migrate_job {
    /* Set by the data core before submitting. */
    unsigned core;              /* data core that gets the job back */
    void *owner_ctx;            /* the core's own (its pending request); never read here */
    char host[256];             /* as MIGRATE named it, NUL-terminated */
    char port[16];
    int64_t db;
    int64_t timeout_ms;         /* > 0 */
    const uint8_t *auth;        /* RESP AUTH command, or NULL; owned by the core */
    size_t auth_len;
    const uint8_t *cmds;        /* nkeys RESP RESTORE(-ASKING) commands; owned by the core */
    size_t cmds_len;
    unsigned nkeys;

    /* Set by the control plane before handing the job back. */
    enum migrate_io_error io_error;
    uint8_t *acked;             /* nkeys bytes, allocated by the core: 1 when the
                                   key's reply was not an error and neither were
                                   AUTH's and SELECT's; 0 otherwise */
    char error[MIGRATE_OUT_LINE_MAX];   /* first error reply, without '-', or "" */

    struct migrate_job *next;   /* the control plane's queues */
};

/* Control plane, before the data cores start: queues for ncores cores.
 * `wake(core, arg)` is called after a job was handed back to `core`.
 * 0 or -errno. */
int migrate_out_init(unsigned ncores, void (*wake)(unsigned core, void *arg), void *arg);
/* A descriptor for the control loop's poll (readable when there is work). */
int migrate_out_fd(void);
/* Control plane: run submissions and link I/O, then time-outs and the idle
 * sweep. Cheap when nothing is pending. */
void migrate_out_run(int64_t now_ms);
/* Control plane: milliseconds until migrate_out_run must run again for a
 * timeout or the idle sweep (-1: nothing pending). */
int64_t migrate_out_next_wait(int64_t now_ms);
/* Control plane, at shutdown after the cores stopped: close every link and
 * hand every job still in flight back with MIGRATE_IO_READ. */
void migrate_out_shutdown(void);

/* Data core: queue a job. 0, or -ENOBUFS when the queue is full (the caller
 * answers with an error and keeps its keys). */
int migrate_out_submit(struct migrate_job *j);
/* Data core `core`: a finished job, or NULL. */
struct migrate_job *migrate_out_done(unsigned core);
/* Data core `core`: 1 if a finished job waits (a cheap check before sleeping). */
int migrate_out_pending(unsigned core);

/* Links currently open (INFO migrate_cached_sockets, tests). Any thread. */
unsigned migrate_out_links(void);

#endif
