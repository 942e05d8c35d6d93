/* main — process start-up and shutdown: configuration, logging, the slot map,
 * the data cores, then the control-plane loop on this thread until a shutdown
 * is asked for. The only place that exits. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "../cluster/cluster.h"
#include "../cluster/control.h"
#include "../cluster/migrate_out.h"
#include "../cluster/slotmap.h"
#include "../kv/cmd.h"
#include "../kv/slot.h"
#include "config.h"
#include "core.h"
#include "dp_telemetry.h"
#include "dpdk_port.h"
#include "exception.h"
#include "log.h"
#include "mem.h"
#include "tsc.h"

static void usage(void)
{
    fprintf(stderr,
            "Usage: ./slotd [/path/to/slotd.conf] [options] [-]\n"
            "       ./slotd - (read config from stdin)\n"
            "       ./slotd -v or --version\n"
            "       ./slotd -h or --help\n\n"
            "Examples:\n"
            "       ./slotd (run the server with default config)\n"
            "       ./slotd /etc/redis/6379.conf\n"
            "       ./slotd --port 7777 --threads 2\n"
            "       ./slotd /etc/myredis.conf --loglevel verbose --maxmemory 1gb\n");
}

static void make_run_id(struct runtime *rt)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char rnd[20 + 8];

    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        for (size_t i = 0; i < sizeof(rnd); i++)
            rnd[i] = (unsigned char)(rand() ^ (int)getpid());
    }
    for (int i = 0; i < 20; i++) {
        rt->run_id[2 * i] = hex[rnd[i] >> 4];
        rt->run_id[2 * i + 1] = hex[rnd[i] & 15];
    }
    rt->run_id[40] = '\0';
    memcpy(&rt->run_id_seed, rnd + 20, sizeof(rt->run_id_seed));
}

/* dataplane dpdk: EAL (its worker lcores become the data cores), the port
 * with a queue pair per data core plus one TX queue for the exception path,
 * and the exception TAP. On failure the caller still runs dpdk_stop. */
static int dpdk_start(struct runtime *rt, struct dpdk_port *port)
{
    const struct config *cfg = rt->cfg;
    struct dpdk_port_config pc;
    char err[1024];
    uint8_t mac[6];
    uint32_t ip, gw = 0;
    unsigned prefix;
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    int n, rc;

    /* validated when the config was loaded; checked again for the types */
    if (config_parse_ipv4_prefix(cfg->dpdk_ip, &ip, &prefix) != 0 ||
        (cfg->dpdk_gateway[0] && config_parse_ipv4(cfg->dpdk_gateway, &gw) != 0) ||
        (cfg->dpdk_mac[0] && config_parse_mac(cfg->dpdk_mac, mac) != 0)) {
        log_msg(LL_WARNING, "dataplane dpdk: bad dpdk-ip, dpdk-gateway or dpdk-mac");
        return -EINVAL;
    }
    n = dpdk_eal_start(cfg->dpdk_eal_args, rt->lcore, CORE_MAX, err, sizeof(err));
    if (n < 0) {
        log_msg(LL_WARNING, "%s", err);
        return n;
    }
    /* `threads` at its default (CPUs minus one) was not chosen by anyone */
    if ((unsigned)cfg->threads != (unsigned)n && cfg->threads != (nproc > 1 ? nproc - 1 : 1))
        log_msg(LL_WARNING, "threads %d is ignored with dataplane dpdk: the data cores are the "
                "%d EAL worker lcore%s (set them with -l in dpdk-eal-args)",
                cfg->threads, n, n == 1 ? "" : "s");
    rt->ncores = (unsigned)n;
    memset(&pc, 0, sizeof(pc));
    pc.name = cfg->dpdk_port;
    pc.nqueues = (unsigned)n;
    pc.extra_txq = 1;
    pc.mtu = (uint16_t)cfg->dpdk_mtu;
    pc.mac = cfg->dpdk_mac[0] ? mac : NULL;
    rc = dpdk_port_open(&pc, port, err, sizeof(err));
    if (rc != 0) {
        log_msg(LL_WARNING, "%s", err);
        return rc;
    }
    rt->port = port;
    rt->dp_ip = ip;
    rt->dp_mask = config_ipv4_mask(prefix);
    rt->dp_gateway = gw;
    rt->exc = exc_open(cfg->dpdk_tap, port, (uint16_t)n, ip, prefix, gw, (unsigned)n,
                       err, sizeof(err));
    if (!rt->exc) {
        log_msg(LL_WARNING, "%s", err);
        return -EIO;
    }
    return 0;
}

/* After the data cores stopped; safe after a partial dpdk_start. */
static void dpdk_stop(struct runtime *rt)
{
    if (rt->cfg->dataplane != DATAPLANE_DPDK)
        return;
    exc_close(rt->exc);
    rt->exc = NULL;
    if (rt->port)
        dpdk_port_close(rt->port);
    rt->port = NULL;
    dpdk_eal_stop();
}

/* migrate_out hands a finished MIGRATE back to its data core. */
static void wake_core(unsigned core, void *arg)
{
    struct runtime *rt = arg;

    if (rt->cores[core])
        core_wake(rt->cores[core]);
}

static void stop_cores(struct runtime *rt, unsigned created, unsigned launched)
{
    if (rt->port)
        dp_telemetry_stop();
    atomic_store_explicit(&rt->shutdown, 1, memory_order_release);
    for (unsigned i = 0; i < launched; i++)
        core_wake(rt->cores[i]);
    for (unsigned i = 0; i < launched; i++)
        core_join(rt->cores[i]);
    /* MIGRATE jobs still out come back to their cores, which free them. */
    migrate_out_shutdown();
    for (unsigned i = 0; i < created; i++)
        core_drain_at_exit(rt->cores[i]);
    for (unsigned i = 0; i < created; i++)
        core_destroy(rt->cores[i]);
}

int main(int argc, char **argv)
{
    static struct runtime rt;   /* lives for the whole process */
    static struct dpdk_port port;
    char err[CONFIG_ERR_LEN];
    struct config *cfg;
    struct slotmap *map;
    sigset_t blocked;
    unsigned created = 0, launched = 0;
    int rc;

    if (argc == 2 && (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version"))) {
        printf("slotd v=%s (Redis 7.0.15 compatible) malloc=jemalloc bits=%zu\n",
               SLOTD_VERSION, sizeof(long) * 8);
        return 0;
    }
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage();
        return 0;
    }

    cfg = config_new();
    if (!cfg) {
        fprintf(stderr, "slotd: out of memory\n");
        return 1;
    }
    rc = config_load_argv(cfg, argc, argv, err, sizeof(err));
    if (rc != 0) {
        fputs(err, stderr);
        config_free(cfg);
        return 1;
    }
    config_set_live(cfg);
    log_set_level((enum log_level)cfg->loglevel);
    if (cfg->logfile && cfg->logfile[0] && (rc = log_open(cfg->logfile)) != 0) {
        fprintf(stderr, "Can't open the log file: %s\n", strerror(-rc));
        config_free(cfg);
        return 1;
    }
    rc = config_daemonize(cfg);
    if (rc == 1)
        return 0;
    if (rc < 0 || (cfg->pidfile && config_write_pidfile(cfg) != 0))
        log_msg(LL_WARNING, "Failed to daemonize or to write the pidfile: %s", strerror(rc < 0 ? -rc : errno));

    log_msg(LL_NOTICE, "oO0OoO0OoO0Oo slotd is starting oO0OoO0OoO0Oo");
    log_msg(LL_NOTICE, "slotd version=%s, bits=%zu, pid=%d, just started",
            SLOTD_VERSION, sizeof(long) * 8, (int)getpid());

    /* Signals go to the control plane only (signalfd); data cores never see them. */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGTERM);
    sigaddset(&blocked, SIGINT);
    sigaddset(&blocked, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &blocked, NULL);

    slot_init();
    tsc_init();
    rc = cmd_table_init();
    if (rc == 0 && mem_thread_init(0) != 0)
        log_msg(LL_WARNING, "main thread: no jemalloc arena of its own");
    make_run_id(&rt);
    rt.cfg = cfg;
    rt.ncores = (unsigned)cfg->threads;
    rt.start_ms = clock_ms();
    atomic_store(&rt.next_client_id, 1);
    atomic_store(&rt.slowlog_next_id, 0);
    if (rc == 0 && cfg->dataplane == DATAPLANE_DPDK && dpdk_start(&rt, &port) != 0) {
        dpdk_stop(&rt);
        config_remove_pidfile(cfg);
        config_free(cfg);
        return 1;
    }
    if (rc == 0)
        rc = core_register_config_hooks(&rt);
    map = slotmap_new_even(rt.ncores);
    if (rc != 0 || !map) {
        log_msg(LL_WARNING, "Out of memory during start-up");
        dpdk_stop(&rt);
        config_free(cfg);
        return 1;
    }
    slotmap_publish(map);
    /* Cluster mode: nodes.conf and the bus port, before any core runs (a
     * failure here stops the process, as in redis-server). */
    rc = cluster_init(&rt);
    if (rc != 0) {
        log_msg(LL_WARNING, "Cluster set-up failed: %s", strerror(-rc));
        dpdk_stop(&rt);
        config_free(cfg);
        return 1;
    }

    rc = migrate_out_init(rt.ncores, wake_core, &rt);
    if (rc != 0) {
        log_msg(LL_WARNING, "Out of memory during start-up");
        dpdk_stop(&rt);
        cluster_shutdown();
        config_free(cfg);
        return 1;
    }
    /* Create every core before any runs: each core's rings must exist before
     * another core can send to it. */
    for (; created < rt.ncores; created++)
        if (!core_create(&rt, created))
            goto fail;
    for (; launched < rt.ncores; launched++) {
        rc = core_launch(rt.cores[launched]);
        if (rc != 0) {
            log_msg(LL_WARNING, "Failed to start data core %u: %s", launched, strerror(-rc));
            goto fail;
        }
    }
    if (rt.port) {
        rc = dp_telemetry_start(&rt);
        if (rc != 0)
            log_msg(LL_WARNING, "DPDK telemetry: /slotd/cores not registered: %s", strerror(-rc));
    }
    log_msg(LL_NOTICE, "Server initialized: %u data core%s, %s transport",
            rt.ncores, rt.ncores == 1 ? "" : "s",
            cfg->dataplane == DATAPLANE_DPDK ? "dpdk" : "socket");
    log_msg(LL_NOTICE, "Ready to accept connections tcp");

    rc = control_run(&rt);
    log_msg(LL_WARNING, "User requested shutdown...");
    stop_cores(&rt, created, launched);
    dpdk_stop(&rt);
    config_remove_pidfile(cfg);
    cluster_shutdown();
    log_msg(LL_WARNING, "slotd is now ready to exit, bye bye...");
    control_free_slotmaps();
    slotmap_free(slotmap_publish(NULL));
    config_set_live(NULL);
    config_free(cfg);
    return rc == 0 ? 0 : 1;
fail:
    stop_cores(&rt, created, launched);
    dpdk_stop(&rt);
    cluster_shutdown();
    config_remove_pidfile(cfg);
    config_free(cfg);
    return 1;
}
