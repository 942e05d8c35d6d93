/* load — slotd-load's shared definitions: the options, one test's result per
 * data core, and the hand-shake between the main thread and the data cores.
 *
 * Threads: the main thread parses options, starts EAL and the port, launches
 * one worker per data lcore (worker.c) and then only sleeps, watches `done`
 * and reads results a core has published. A worker owns its stack, its
 * connections and its struct load_core's results; it publishes a phase by a
 * release store of `done`, after which the main thread may read the results
 * of that phase. The main thread moves everyone on with a release store of
 * `go`. Phases: 1 connect, 2..ntests+1 the tests in order, then close. */
#ifndef SLOTD_LOAD_H
#define SLOTD_LOAD_H

#include <stdatomic.h>
#include <stdint.h>

#include "../net/net.h"
#include "histo.h"

#define LOAD_MAX_TESTS 8
#define LOAD_MAX_CORES 64

enum load_op { LOAD_SET, LOAD_GET };

/* One test: a request mix. set_w:get_w 1:0 is SET alone, 0:1 GET alone. */
struct load_test {
    char name[24];
    unsigned set_w, get_w;
};

struct load_opts {
    const char *eal_args;
    const char *port_name;          /* NULL: the only port */
    uint32_t ip, mask, gateway;     /* ours, host order */
    uint32_t server;
    uint16_t server_port;
    uint16_t mtu;
    unsigned conns;                 /* over all cores */
    unsigned pipeline;              /* requests per batch on a connection */
    unsigned dsize;                 /* SET value bytes */
    uint64_t keyrange;              /* 0: the one key "key:__rand_int__" */
    uint64_t requests;              /* per test, over all cores */
    double seconds;                 /* > 0: run each test this long instead */
    double stall_s;                 /* no reply this long with requests out: fail */
    struct load_test tests[LOAD_MAX_TESTS];
    unsigned ntests;
    int server_pid;                 /* > 0: read its CPU time around each test */
    const char *server_telemetry;   /* slotd's telemetry socket: busy time per test */
    int csv, quiet;
};

/* What one core measured in one test. */
struct load_result {
    uint64_t ops;                   /* replies received and checked */
    uint64_t errors;                /* replies of the wrong kind, or lost */
    uint64_t t0, t1;                /* TSC: first batch issued, last reply */
    int stalled, interrupted;
    struct histo lat;               /* TSC cycles from issue to reply */
};

struct load_shared {
    const struct load_opts *o;
    const struct dpdk_port *port;
    unsigned ncores;
    uint64_t tsc_hz;
    _Atomic unsigned go;            /* phase the main thread released */
    _Atomic int stop;               /* SIGINT: end the current test early */
};

struct load_core {
    struct load_shared *sh;
    unsigned id;                    /* data core = port queue */
    unsigned nconns;                /* connections this core opens */
    _Atomic unsigned done;          /* last phase this core finished */
    int err;                        /* -errno once the core gave up */
    char errmsg[160];
    struct net_counters net;        /* the stack's counters at the end */
    struct load_result res[LOAD_MAX_TESTS];
};

/* opts.c: parse argv into o (defaults first). Returns 0, 1 after --help
 * (usage printed), or -EINVAL with a message on stderr. */
int load_opts_parse(struct load_opts *o, int argc, char **argv);

/* worker.c: the lcore entry point; arg is a struct load_core. Returns 0 or
 * -errno (also left in core->err). */
int load_worker_main(void *arg);

#endif
