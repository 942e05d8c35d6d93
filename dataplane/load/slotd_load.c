/* slotd-load — a DPDK load generator for slotd (and any RESP server) built
 * on slotd's own user-space TCP/IP stack: -c connections spread over the
 * EAL worker lcores, pipelined GET/SET, every reply checked, ops/s and
 * latency percentiles per test.
 *
 *   slotd-load --eal "-l 0,1 --no-huge --vdev=net_memif0,role=client,..." \
 *       --ip 198.18.0.3/24 --server 198.18.0.2 -c 50 -P 16 -n 1000000 -t get -d 16 -r 100000
 *
 * Threads: main (this file) starts EAL and the port, launches one worker per
 * lcore (worker.c), then sleeps between checks of the phase hand-shake in
 * load.h and prints; it never polls a queue. The one mutable global is the
 * SIGINT flag a signal handler must have. Exit status: 0; 1 when a reply
 * was wrong or missing, a connection failed or the run was interrupted; 2
 * when the options, EAL or the port were refused. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <rte_cycles.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include "../dpdk_port.h"
#include "../log.h"
#include "histo.h"
#include "load.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* Sleep until every core published phase p (or gave up: it then publishes
 * the last phase). SIGINT is passed on to the workers here. */
static void wait_phase(struct load_shared *sh, struct load_core *cores, unsigned p)
{
    for (;;) {
        unsigned i;

        if (interrupted)
            atomic_store(&sh->stop, 1);
        for (i = 0; i < sh->ncores; i++)
            if (atomic_load_explicit(&cores[i].done, memory_order_acquire) < p)
                break;
        if (i == sh->ncores)
            return;
        usleep(1000);
    }
}

/* Print the errors of cores not reported yet; 1 if any core has one. */
static int any_error(const struct load_shared *sh, struct load_core *cores)
{
    int bad = 0;

    for (unsigned i = 0; i < sh->ncores; i++)
        if (cores[i].err) {
            if (cores[i].errmsg[0])
                fprintf(stderr, "slotd-load: %s\n", cores[i].errmsg);
            cores[i].errmsg[0] = '\0';
            bad = 1;
        }
    return bad;
}

/* The stack's view of the run: frames, retransmissions, drops by reason. */
static void print_net(const struct load_core *c)
{
    const struct net_counters *n = &c->net;

    fprintf(stderr, "slotd-load: core %u: rx %llu frames, tx %llu frames, %llu retransmits\n",
            c->id, (unsigned long long)n->rx_frames, (unsigned long long)n->tx_frames,
            (unsigned long long)n->tcp_retransmits);
    for (unsigned i = 0; i < NET_DROP__COUNT; i++)
        if (n->drop.v[i])
            fprintf(stderr, "slotd-load: core %u: dropped %llu: %s\n", c->id,
                    (unsigned long long)n->drop.v[i], net_drop_desc(i));
}

/* utime+stime of process pid in seconds, or -1 (field 14 and 15 of
 * /proc/PID/stat, counted after the ')' that ends the command name). */
static double cpu_seconds(int pid)
{
    char path[64], buf[1024], *p;
    unsigned long long ut, st;
    size_t n;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')');
    if (p == NULL || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                            &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Busy time of slotd's data cores in seconds, summed over the cores, from
 * its DPDK telemetry socket (/slotd/cores, dataplane/dp_telemetry.h), or -1.
 * The answer is small JSON of known shape: the numbers of the "busy_usec"
 * array are summed without a JSON parser (blanks allowed where JSON does). */
static double server_busy_seconds(const char *path)
{
    static const char key[] = "\"busy_usec\"";
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    char buf[16384], *p, *end;
    double usec = 0;
    ssize_t n;
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path))
        return -1;
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        recv(fd, buf, sizeof(buf), 0) <= 0 ||                    /* the greeting */
        send(fd, "/slotd/cores", 12, 0) != 12 ||
        (n = recv(fd, buf, sizeof(buf) - 1, 0)) <= 0) {
        close(fd);
        return -1;
    }
    close(fd);
    buf[n] = '\0';
    p = strstr(buf, key);
    if (p == NULL)
        return -1;
    p += strspn(p + sizeof(key) - 1, " \t\r\n:") + sizeof(key) - 1;
    if (*p++ != '[')
        return -1;
    for (;;) {
        p += strspn(p, " \t\r\n");
        if (*p == ']')
            return usec / 1e6;
        usec += (double)strtoull(p, &end, 10);
        if (end == p)
            return -1;
        p = end + strspn(end, " \t\r\n");
        if (*p == ',')
            p++;
    }
}

static double us(const struct load_shared *sh, uint64_t cycles)
{
    return (double)cycles * 1e6 / (double)sh->tsc_hz;
}

/* Merge the cores' results of test t and print them. Returns the errors. */
static uint64_t report(const struct load_shared *sh, struct load_core *cores, unsigned t,
                       struct histo *h, int header, double cpu, double busy)
{
    const struct load_opts *o = sh->o;
    uint64_t ops = 0, errors = 0, t0 = UINT64_MAX, t1 = 0;
    int stalled = 0, interrupted_run = 0;
    double secs, rps;
    static const double pct[] = { 50, 90, 99, 99.9 };

    histo_reset(h);
    for (unsigned i = 0; i < sh->ncores; i++) {
        const struct load_result *r = &cores[i].res[t];

        if (cores[i].nconns == 0)
            continue;
        histo_merge(h, &r->lat);
        ops += r->ops;
        errors += r->errors;
        stalled |= r->stalled;
        interrupted_run |= r->interrupted;
        if (r->t0 < t0)
            t0 = r->t0;
        if (r->t1 > t1)
            t1 = r->t1;
    }
    secs = t1 > t0 ? (double)(t1 - t0) / (double)sh->tsc_hz : 0;
    rps = secs > 0 ? (double)ops / secs : 0;
    if (o->csv) {
        if (header)
            printf("test,rps,requests,errors,avg_us,p50_us,p90_us,p99_us,p999_us,max_us,"
                   "server_cpu_s,server_busy_s\n");
        printf("%s,%.2f,%llu,%llu,%.2f", o->tests[t].name, rps, (unsigned long long)ops,
               (unsigned long long)errors, us(sh, (uint64_t)histo_mean(h)));
        for (unsigned k = 0; k < 4; k++)
            printf(",%.2f", us(sh, histo_percentile(h, pct[k])));
        printf(",%.2f,%.3f,%.3f\n", us(sh, h->max), cpu, busy);
    } else {
        printf("====== %s ======\n", o->tests[t].name);
        printf("  %llu requests completed in %.3f seconds%s%s\n", (unsigned long long)ops, secs,
               stalled ? " (STALLED)" : "", interrupted_run ? " (interrupted)" : "");
        printf("  %u connections on %u data core%s, pipeline %u, %u-byte values, ", o->conns,
               sh->ncores, sh->ncores > 1 ? "s" : "", o->pipeline, o->dsize);
        if (o->keyrange)
            printf("keys 0..%llu\n", (unsigned long long)o->keyrange - 1);
        else
            printf("one key\n");
        printf("  throughput: %.2f requests per second, errors: %llu\n", rps,
               (unsigned long long)errors);
        printf("  latency (us): avg %.2f  p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n",
               us(sh, (uint64_t)histo_mean(h)), us(sh, histo_percentile(h, 50)),
               us(sh, histo_percentile(h, 90)), us(sh, histo_percentile(h, 99)),
               us(sh, histo_percentile(h, 99.9)), us(sh, h->max));
        if (cpu >= 0)
            printf("  server CPU: %.2f s, %.0f requests per CPU-second\n", cpu,
                   cpu > 0 ? (double)ops / cpu : 0.0);
        if (busy >= 0 && secs > 0)
            printf("  server data cores busy: %.3f s (%.0f%% of the test)\n", busy,
                   100.0 * busy / secs);
        printf("\n");
    }
    fflush(stdout);
    return errors + (uint64_t)stalled;
}

int main(int argc, char **argv)
{
    struct load_opts o;
    struct load_shared sh;
    struct dpdk_port port;
    struct dpdk_port_config pc;
    struct load_core *cores = NULL;
    struct histo *h = NULL;
    unsigned lcores[LOAD_MAX_CORES], nl, final;
    uint64_t errors = 0;
    char err[512];
    int rc, status = 2, eal = 0, port_open = 0, launched = 0;

    rc = load_opts_parse(&o, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    /* The port layer logs through dataplane/log.h: keep stdout for results. */
    if (log_open("/dev/stderr") != 0)
        fprintf(stderr, "slotd-load: cannot log to /dev/stderr; port messages go to stdout\n");
    if (o.quiet)
        log_set_level(LL_WARNING);
    rc = dpdk_eal_start(o.eal_args, lcores, LOAD_MAX_CORES, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "slotd-load: %s\n", err);
        goto out;
    }
    eal = 1;
    nl = (unsigned)rc;
    memset(&sh, 0, sizeof(sh));
    sh.o = &o;
    sh.ncores = nl < o.conns ? nl : o.conns;
    sh.tsc_hz = rte_get_tsc_hz();
    if (sh.ncores < nl && !o.quiet)
        fprintf(stderr, "slotd-load: %u lcores but %u connections: %u lcores stay idle\n", nl,
                o.conns, nl - sh.ncores);
    memset(&pc, 0, sizeof(pc));
    pc.name = o.port_name;
    pc.nqueues = sh.ncores;
    pc.mtu = o.mtu;
    rc = dpdk_port_open(&pc, &port, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "slotd-load: %s\n", err);
        goto out;
    }
    port_open = 1;
    sh.port = &port;
    if (sh.ncores > 1 && !port.rss) {
        fprintf(stderr, "slotd-load: port %s has no RSS, so every reply would arrive on "
                "queue 0: give EAL one worker lcore (e.g. --lcores 0@0,1@0)\n", port.name);
        goto out;
    }
    cores = calloc(sh.ncores, sizeof(*cores));
    h = malloc(sizeof(*h));
    if (cores == NULL || h == NULL) {
        fprintf(stderr, "slotd-load: out of memory\n");
        goto out;
    }
    for (unsigned i = 0; i < sh.ncores; i++) {
        cores[i].sh = &sh;
        cores[i].id = i;
        cores[i].nconns = o.conns / sh.ncores + (i < o.conns % sh.ncores);
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (!o.quiet)
        fprintf(stderr, "slotd-load: port %s, %u data core%s, %u connections to %u.%u.%u.%u:%u\n",
                port.name, sh.ncores, sh.ncores > 1 ? "s" : "", o.conns, o.server >> 24,
                (o.server >> 16) & 255, (o.server >> 8) & 255, o.server & 255, o.server_port);
    for (unsigned i = 0; i < sh.ncores; i++) {
        rc = rte_eal_remote_launch(load_worker_main, &cores[i], lcores[i]);
        if (rc != 0) {
            fprintf(stderr, "slotd-load: cannot launch lcore %u: %s\n", lcores[i], strerror(-rc));
            atomic_store(&cores[i].done, o.ntests + 2);
            cores[i].err = rc;
            snprintf(cores[i].errmsg, sizeof(cores[i].errmsg), "lcore %u not launched",
                     lcores[i]);
        }
    }
    launched = 1;
    final = o.ntests + 2;
    wait_phase(&sh, cores, 1);
    if (!any_error(&sh, cores)) {
        for (unsigned t = 0; t < o.ntests; t++) {
            double c0 = o.server_pid ? cpu_seconds(o.server_pid) : -1, c1 = -1;
            double b0 = o.server_telemetry ? server_busy_seconds(o.server_telemetry) : -1, b1 = -1;

            atomic_store_explicit(&sh.go, 2 + t, memory_order_release);
            wait_phase(&sh, cores, 2 + t);
            if (c0 >= 0 && (c1 = cpu_seconds(o.server_pid)) >= 0)
                c1 -= c0;
            if (b0 >= 0 && (b1 = server_busy_seconds(o.server_telemetry)) >= 0)
                b1 -= b0;
            errors += report(&sh, cores, t, h, t == 0, c1, b1);
            if (any_error(&sh, cores) || atomic_load(&sh.stop))
                break;
        }
    }
    status = errors || atomic_load(&sh.stop) ? 1 : 0;
out:
    if (launched) {
        atomic_store_explicit(&sh.go, final, memory_order_release);
        wait_phase(&sh, cores, final);
        rte_eal_mp_wait_lcore();
        if (any_error(&sh, cores) && status == 0)
            status = 1;
        for (unsigned i = 0; i < sh.ncores && !o.quiet; i++)
            print_net(&cores[i]);
    }
    if (port_open)
        dpdk_port_close(&port);
    if (eal)
        dpdk_eal_stop();
    free(cores);
    free(h);
    return status;
}
