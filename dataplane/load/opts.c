/* opts — slotd-load's command line. Defaults follow redis-benchmark where
 * it has the same knob (-c 50, -P 1, -d 3, -n 100000, -t set,get), so a run
 * reads like the redis-benchmark run it is compared with. Main thread only. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "load.h"

static const char usage[] =
"usage: slotd-load --eal \"<EAL args>\" --ip A.B.C.D/LEN --server A.B.C.D [options]\n"
"  --eal ARGS       EAL arguments (lcores, vdev, --no-huge ...); each worker lcore\n"
"                   is a data core with its own port queue and connections\n"
"  --dev NAME       port to use (default: the only one)\n"
"  --ip A/LEN       our address and prefix     --gateway A   next hop off-subnet\n"
"  --server A       server address             --port N      server port (6379)\n"
"  --mtu N          IP MTU (1500)\n"
"  -c N             connections over all data cores (50)\n"
"  -P N             pipeline: requests per batch on a connection (1)\n"
"  -n N             requests per test over all cores (100000)\n"
"  --seconds S      run each test S seconds instead of -n requests\n"
"  -t LIST          tests in order, from set,get,mix (set,get)\n"
"  --ratio S:G      the mix test's SET:GET weights (1:10)\n"
"  -d N             SET value size in bytes (3)\n"
"  -r N             keys key:000000000000 .. N-1, random (0: one fixed key)\n"
"  --stall S        fail when no reply came for S seconds (10)\n"
"  --server-pid N   report process N's CPU time (utime+stime) during each test\n"
"  --server-telemetry PATH\n"
"                   report the busy time of slotd's data cores during each test,\n"
"                   from slotd's DPDK telemetry socket (/slotd/cores)\n"
"  --csv            one CSV line per test instead of the text report\n"
"  -q               quiet: only the results\n";

enum { OPT_EAL = 256, OPT_DEV, OPT_IP, OPT_GW, OPT_SERVER, OPT_PORT, OPT_MTU,
       OPT_SECONDS, OPT_RATIO, OPT_STALL, OPT_CSV, OPT_PID, OPT_TELEMETRY };

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi)
        return -EINVAL;
    *out = v;
    return 0;
}

static int parse_ip(const char *s, uint32_t *ip, uint32_t *mask)
{
    char buf[32];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    struct in_addr a;
    uint64_t len = 32;

    if (n >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, &a) != 1)
        return -EINVAL;
    if (slash && (mask == NULL || parse_u64(slash + 1, 1, 32, &len) != 0))
        return -EINVAL;
    *ip = ntohl(a.s_addr);
    if (mask)
        *mask = len == 32 ? 0xffffffffu : ~(0xffffffffu >> len);
    return 0;
}

static int add_test(struct load_opts *o, const char *name, unsigned set_w, unsigned get_w)
{
    struct load_test *t;

    if (o->ntests == LOAD_MAX_TESTS)
        return -EINVAL;
    t = &o->tests[o->ntests++];
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->set_w = set_w;
    t->get_w = get_w;
    return 0;
}

static int parse_tests(struct load_opts *o, const char *list, unsigned rs, unsigned rg)
{
    char buf[128], *save = NULL, *tok;
    char mix[24];

    if (strlen(list) >= sizeof(buf))
        return -EINVAL;
    strcpy(buf, list);
    o->ntests = 0;
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int rc;

        if (strcasecmp(tok, "set") == 0)
            rc = add_test(o, "SET", 1, 0);
        else if (strcasecmp(tok, "get") == 0)
            rc = add_test(o, "GET", 0, 1);
        else if (strcasecmp(tok, "mix") == 0) {
            snprintf(mix, sizeof(mix), "SET:GET %u:%u", rs, rg);
            rc = add_test(o, mix, rs, rg);
        } else
            rc = -EINVAL;
        if (rc != 0)
            return rc;
    }
    return o->ntests ? 0 : -EINVAL;
}

int load_opts_parse(struct load_opts *o, int argc, char **argv)
{
    static const struct option longs[] = {
        { "eal", required_argument, NULL, OPT_EAL },
        { "dev", required_argument, NULL, OPT_DEV },
        { "ip", required_argument, NULL, OPT_IP },
        { "gateway", required_argument, NULL, OPT_GW },
        { "server", required_argument, NULL, OPT_SERVER },
        { "port", required_argument, NULL, OPT_PORT },
        { "mtu", required_argument, NULL, OPT_MTU },
        { "seconds", required_argument, NULL, OPT_SECONDS },
        { "ratio", required_argument, NULL, OPT_RATIO },
        { "stall", required_argument, NULL, OPT_STALL },
        { "csv", no_argument, NULL, OPT_CSV },
        { "server-pid", required_argument, NULL, OPT_PID },
        { "server-telemetry", required_argument, NULL, OPT_TELEMETRY },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *tests = "set,get";
    unsigned rs = 1, rg = 10;
    uint64_t v = 0;
    int ch;

    memset(o, 0, sizeof(*o));
    o->server_port = 6379;
    o->mtu = 1500;
    o->conns = 50;
    o->pipeline = 1;
    o->dsize = 3;
    o->requests = 100000;
    o->stall_s = 10;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:P:n:t:d:r:qh", longs, NULL)) != -1) {
        int rc = 0;
        char *end;

        switch (ch) {
        case OPT_EAL: o->eal_args = optarg; break;
        case OPT_DEV: o->port_name = optarg; break;
        case OPT_IP: rc = parse_ip(optarg, &o->ip, &o->mask); break;
        case OPT_GW: rc = parse_ip(optarg, &o->gateway, NULL); break;
        case OPT_SERVER: rc = parse_ip(optarg, &o->server, NULL); break;
        case OPT_PORT:
            rc = parse_u64(optarg, 1, 65535, &v);
            o->server_port = (uint16_t)v;
            break;
        case OPT_MTU:
            rc = parse_u64(optarg, 576, 9000, &v);
            o->mtu = (uint16_t)v;
            break;
        case 'c': rc = parse_u64(optarg, 1, 1000000, &v); o->conns = (unsigned)v; break;
        case 'P': rc = parse_u64(optarg, 1, 4096, &v); o->pipeline = (unsigned)v; break;
        case 'n': rc = parse_u64(optarg, 1, UINT64_MAX / 2, &o->requests); break;
        case 'd': rc = parse_u64(optarg, 0, 512u << 20, &v); o->dsize = (unsigned)v; break;
        case 'r': rc = parse_u64(optarg, 0, 1000000000000ull, &o->keyrange); break;
        case 't': tests = optarg; break;
        case OPT_SECONDS:
        case OPT_STALL: {
            double d = strtod(optarg, &end);

            if (end == optarg || *end || !(d > 0) || d > 86400)
                rc = -EINVAL;
            else if (ch == OPT_SECONDS)
                o->seconds = d;
            else
                o->stall_s = d;
            break;
        }
        case OPT_RATIO:
            if (sscanf(optarg, "%u:%u", &rs, &rg) != 2 || rs + rg == 0 || rs > 1000000 ||
                rg > 1000000)
                rc = -EINVAL;
            break;
        case OPT_CSV: o->csv = 1; break;
        case OPT_TELEMETRY: o->server_telemetry = optarg; break;
        case OPT_PID:
            rc = parse_u64(optarg, 1, 1u << 30, &v);
            o->server_pid = (int)v;
            break;
        case 'q': o->quiet = 1; break;
        case 'h': fputs(usage, stdout); return 1;
        default: fputs(usage, stderr); return -EINVAL;
        }
        if (rc != 0) {
            if (ch >= OPT_EAL)
                fprintf(stderr, "slotd-load: bad value for --%s: %s\n", longs[ch - OPT_EAL].name,
                        optarg);
            else
                fprintf(stderr, "slotd-load: bad value for -%c: %s\n", ch, optarg);
            return -EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "slotd-load: unexpected argument %s\n%s", argv[optind], usage);
        return -EINVAL;
    }
    if (o->eal_args == NULL || o->ip == 0 || o->server == 0) {
        fprintf(stderr, "slotd-load: --eal, --ip and --server are required\n%s", usage);
        return -EINVAL;
    }
    if (parse_tests(o, tests, rs, rg) != 0) {
        fprintf(stderr, "slotd-load: bad test list '%s' (set,get,mix, at most %d)\n", tests,
                LOAD_MAX_TESTS);
        return -EINVAL;
    }
    return 0;
}
