/* test_config — directive parsing, units, bounds, CONFIG GET/SET/REWRITE
 * semantics, and the log line format. Expected strings are those of
 * redis-server 7.0.15 (checked on the real server). Files live in a
 * mkdtemp() directory that teardown removes; the working directory (which
 * `dir` changes) is restored after every test. */
#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../dataplane/config.h"
#include "../../dataplane/log.h"

#ifndef SLOTD_VERSION
#define SLOTD_VERSION "0.1.0"
#endif

struct fx {
    struct config *cfg;
    char dir[64];
    char cwd[PATH_MAX];
    char err[CONFIG_ERR_LEN];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_non_null(getcwd(f->cwd, sizeof(f->cwd)));
    strcpy(f->dir, "/tmp/test_config.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->cfg = config_new();
    assert_non_null(f->cfg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    config_free(f->cfg);
    config_set_live(NULL);
    for (int i = 0; i < 2; i++)
        config_on_apply(i ? "bind" : "port", NULL, NULL);
    log_set_level(LL_NOTICE);
    log_close();
    assert_int_equal(chdir(f->cwd), 0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static char *read_file(const char *path)
{
    static char buf[16384];
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

static const char *get(const struct config *cfg, const char *name)
{
    static char buf[1024];
    assert_true(config_get_value(cfg, name, buf, sizeof(buf)) >= 0);
    return buf;
}

/* CONFIG SET of one pair; returns the error line or NULL on success */
static const char *set1(struct fx *f, const char *name, const char *value)
{
    struct slice nv[2] = {{name, strlen(name)}, {value, strlen(value)}};
    return config_set(f->cfg, nv, 1, 0, f->err, sizeof(f->err)) == 0 ? NULL : f->err;
}

static void expect_set_error(struct fx *f, const char *name, const char *value, const char *reason)
{
    char want[512];
    snprintf(want, sizeof(want), "ERR CONFIG SET failed (possibly related to argument '%s') - %s",
             name, reason);
    const char *got = set1(f, name, value);
    assert_non_null(got);
    assert_string_equal(got, want);
}

/* ---- units and bounds (boundaries first) ---- */

static void test_memory_units(void **state)
{
    (void)state;
    unsigned long long v;
    static const struct { const char *s; unsigned long long v; } ok[] = {
        {"0", 0}, {"", 0}, {"kb", 0}, {"1", 1}, {"1b", 1}, {"1B", 1}, {"1k", 1000}, {"1kb", 1024},
        {"1K", 1000}, {"1KB", 1024}, {"1m", 1000000}, {"1mb", 1048576}, {"1g", 1000000000},
        {"1gb", 1073741824}, {"1Gb", 1073741824}, {"01", 1}, {"100mb", 104857600},
        {"18446744073709551615", ULLONG_MAX},
        {"18446744073709551616", ULLONG_MAX},        /* saturates like strtoull */
        {"99999999999999999999999", ULLONG_MAX},
        {"18446744073709551615kb", ULLONG_MAX},      /* Redis wraps here; we saturate */
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(config_parse_memory(ok[i].s, &v), 0);
        assert_true(v == ok[i].v);
    }
    static const char *bad[] = {"-1", "+1", " 1", "1 ", "1.5", "1t", "1kbb", "0x10", "k1", "1 kb"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(config_parse_memory(bad[i], &v), -EINVAL);
}

static void test_bounds(void **state)
{
    struct fx *f = *state;
    /* int: min, max, one past each */
    assert_null(set1(f, "maxmemory-samples", "1"));
    assert_null(set1(f, "maxmemory-samples", "2147483647"));
    assert_int_equal(f->cfg->maxmemory_samples, INT_MAX);
    expect_set_error(f, "maxmemory-samples", "0", "argument must be between 1 and 2147483647 inclusive");
    expect_set_error(f, "maxmemory-samples", "2147483648", "argument must be between 1 and 2147483647 inclusive");
    assert_null(set1(f, "maxmemory-eviction-tenacity", "100"));
    expect_set_error(f, "maxmemory-eviction-tenacity", "101", "argument must be between 0 and 100 inclusive");
    expect_set_error(f, "maxmemory-eviction-tenacity", "-1", "argument must be between 0 and 100 inclusive");
    assert_null(set1(f, "slowlog-log-slower-than", "-1"));
    expect_set_error(f, "slowlog-log-slower-than", "-2",
                     "argument must be between -1 and 9223372036854775807 inclusive");
    /* unsigned: checked as unsigned, so -1 is "too big" */
    assert_null(set1(f, "maxclients", "4294967295"));
    assert_true(f->cfg->maxclients == UINT_MAX);
    expect_set_error(f, "maxclients", "4294967296", "argument must be between 1 and 4294967295 inclusive");
    expect_set_error(f, "maxclients", "-1", "argument must be between 1 and 4294967295 inclusive");
    expect_set_error(f, "maxclients", "0", "argument must be between 1 and 4294967295 inclusive");
    /* memory */
    assert_null(set1(f, "maxmemory", "18446744073709551615"));
    assert_true(f->cfg->maxmemory == ULLONG_MAX);
    assert_string_equal(get(f->cfg, "maxmemory"), "18446744073709551615");
    expect_set_error(f, "maxmemory", "-1", "argument must be a memory value");
    expect_set_error(f, "maxmemory", "1.5gb", "argument must be a memory value");
    assert_null(set1(f, "proto-max-bulk-len", "1mb"));
    expect_set_error(f, "proto-max-bulk-len", "1048575",
                     "argument must be between 1048576 and 9223372036854775807 inclusive");
    expect_set_error(f, "client-query-buffer-limit", "18446744073709551615",
                     "argument must be between 1048576 and 9223372036854775807 inclusive");
    /* percent */
    assert_null(set1(f, "maxmemory-clients", "100%"));
    assert_string_equal(get(f->cfg, "maxmemory-clients"), "100%");
    expect_set_error(f, "maxmemory-clients", "101%", "percentage argument must be less or equal to 100");
    expect_set_error(f, "maxmemory-clients", "-1", "argument must be a memory or percent value");
    /* integers take Redis string2ll rules */
    expect_set_error(f, "replica-announce-port", "+1", "argument couldn't be parsed into an integer");
    expect_set_error(f, "timeout", "01", "argument couldn't be parsed into an integer");
    expect_set_error(f, "timeout", "-0", "argument couldn't be parsed into an integer");
    expect_set_error(f, "timeout", "", "argument couldn't be parsed into an integer");
    expect_set_error(f, "replica-announce-port", "65536", "argument must be between 0 and 65535 inclusive");
    assert_null(set1(f, "replica-announce-port", "65535"));
    /* hz is clamped, not refused */
    assert_null(set1(f, "hz", "1000"));
    assert_int_equal(f->cfg->hz, CONFIG_MAX_HZ);
    assert_null(set1(f, "hz", "0"));
    assert_int_equal(f->cfg->hz, CONFIG_MIN_HZ);
}

static void test_defaults(void **state)
{
    struct fx *f = *state;
    struct config *c = f->cfg;
    assert_int_equal(c->port, 6379);
    assert_true(c->maxmemory == 0);
    assert_int_equal(c->maxmemory_policy, MAXMEMORY_NO_EVICTION);
    assert_null(c->requirepass);
    assert_true(c->threads >= 1 && c->threads <= CONFIG_THREADS_MAX);
    assert_int_equal(c->dataplane, DATAPLANE_SOCKET);
    assert_int_equal(c->databases, 16);
    assert_int_equal(c->loglevel, LL_NOTICE);
    assert_int_equal(c->bind_count, 2);
    assert_string_equal(get(c, "bind"), "* -::*");
    assert_string_equal(get(c, "save"), "3600 1 300 100 60 10000");
    assert_string_equal(get(c, "client-output-buffer-limit"),
                        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60");
    assert_true(c->obuf[OBUF_REPLICA].hard == 268435456ull);
    assert_string_equal(get(c, "proto-max-bulk-len"), "536870912");
    assert_string_equal(get(c, "client-query-buffer-limit"), "1073741824");
    assert_string_equal(get(c, "latency-tracking-info-percentiles"), "50 99 99.9");
    assert_string_equal(get(c, "notify-keyspace-events"), "");
    assert_string_equal(get(c, "list-max-ziplist-size"), "-2");
    assert_string_equal(get(c, "maxmemory-policy"), "noeviction");
    assert_string_equal(config_maxmemory_policy_name(MAXMEMORY_VOLATILE_TTL), "volatile-ttl");
    assert_int_equal(config_get_value(c, "nosuch", NULL, 0), -ENOENT);
    struct slice rp = {"REQUIREPASS", 11}, mm = {"maxmemory", 9};
    assert_true(config_is_sensitive(&rp));
    assert_false(config_is_sensitive(&mm));
}

/* ---- files ---- */

static void test_parse_good_file(void **state)
{
    struct fx *f = *state;
    char path[128], inc[128], text[512];
    snprintf(inc, sizeof(inc), "%s/inc.conf", f->dir);
    snprintf(path, sizeof(path), "%s/a.conf", f->dir);
    write_file(inc, "timeout 5\n");
    snprintf(text, sizeof(text),
             "# comment\n"
             "\n"
             "   port 7000   \r\n"
             "MAXMEMORY 100mb\n"
             "requirepass \"a b\\\"c\\x41\"\n"
             "masterauth 'it\\'s'\n"
             "bind 127.0.0.1 ::1\n"
             "save 900 1\n"
             "save 300 10\n"
             "slave-read-only no\n"
             "maxmemory-policy ALLKEYS-LRU\n"
             "client-output-buffer-limit replica 1mb 2kb 3\n"
             "list-max-ziplist-entries 5\n"
             "include %s\n"
             "notify-keyspace-events KEA\n"
             "dpdk-ip 198.18.0.2/24\n"
             "dataplane dpdk",   /* no final newline */
             inc);
    write_file(path, text);
    assert_int_equal(config_load_file(f->cfg, path, f->err, sizeof(f->err)), 0);
    struct config *c = f->cfg;
    assert_int_equal(c->port, 7000);
    assert_true(c->maxmemory == 100ull << 20);
    assert_string_equal(c->requirepass, "a b\"cA");
    assert_string_equal(c->masterauth, "it's");
    assert_int_equal(c->bind_count, 2);
    assert_string_equal(c->bind[1], "::1");
    assert_string_equal(get(c, "save"), "900 1 300 10");
    assert_int_equal(c->replica_read_only, 0);
    assert_int_equal(c->maxmemory_policy, MAXMEMORY_ALLKEYS_LRU);
    assert_string_equal(get(c, "client-output-buffer-limit"),
                        "normal 0 0 0 slave 1048576 2048 3 pubsub 33554432 8388608 60");
    assert_int_equal(c->timeout, 5);
    assert_string_equal(get(c, "notify-keyspace-events"), "AKE");
    assert_int_equal(c->dataplane, DATAPLANE_DPDK);
    assert_non_null(c->configfile);
    assert_string_equal(c->configfile, path);
}

struct bad_case {
    const char *text;
    int line;
    const char *shown;
    const char *reason;
};

static void expect_load_errors(struct fx *f, const struct bad_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char want[1024];
        struct config *c = config_new();
        assert_non_null(c);
        snprintf(want, sizeof(want),
                 "\n*** FATAL CONFIG FILE ERROR (slotd %s) ***\n"
                 "Reading the configuration file, at line %d\n>>> '%s'\n%s\n",
                 SLOTD_VERSION, cases[i].line, cases[i].shown, cases[i].reason);
        assert_int_equal(config_load_string(c, cases[i].text, f->err, sizeof(f->err)), -EINVAL);
        assert_string_equal(f->err, want);
        config_free(c);
    }
}

#define DPDK_IP_WHY "dpdk-ip must be an IPv4 address with a prefix length, e.g. 198.18.0.2/24"
#define DPDK_GW_WHY "dpdk-gateway must be an IPv4 address, e.g. 198.18.0.1"
#define DPDK_MAC_WHY "dpdk-mac must be six hex bytes separated by colons, e.g. 02:00:00:00:00:01"
#define DPDK_MCAST_WHY "dpdk-mac must be a unicast address (first byte even)"
#define DPDK_HOST_WHY "dpdk-ip must be a host's unicast address, not its subnet's network or " \
                      "broadcast address, 0/8, 127/8 or 224.0.0.0 and above"
#define DPDK_GW_HOST_WHY "dpdk-gateway must be a host's unicast address"

static void test_parse_bad_lines(void **state)
{
    struct fx *f = *state;
    static const struct bad_case cases[] = {
        {"port 1\nbogus-line here\n", 2, "bogus-line here", "Bad directive or wrong number of arguments"},
        {"# c\n\nmaxmemory 100mb foo\n", 3, "maxmemory 100mb foo", "wrong number of arguments"},
        {"MAXMEMORY\n", 1, "MAXMEMORY", "wrong number of arguments"},
        {"port 1\nmaxmemory \"100mb\n", 2, "maxmemory \"100mb", "Unbalanced quotes in configuration line"},
        {"maxmemory \"a\"b\n", 1, "maxmemory \"a\"b", "Unbalanced quotes in configuration line"},
        {"maxmemory 1.5\n", 1, "maxmemory 1.5", "argument must be a memory value"},
        {"port 99999\n", 1, "port 99999", "argument must be between 0 and 65535 inclusive"},
        {"maxmemory-policy lru\n", 1, "maxmemory-policy lru",
         "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, "
         "volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"},
        {"save 100\n", 1, "save 100", "Invalid save parameters"},
        {"appendonly yes\n", 1, "appendonly yes",
         "appendonly yes is not supported: slotd has no AOF persistence"},
        {"rename-command FLUSHALL \"\"\n", 1, "rename-command FLUSHALL \"\"",
         "rename-command is not supported by slotd"},
        {"include\n", 1, "include", "Bad directive or wrong number of arguments"},
        {"slaveof 1.2.3.4 6379\n", 1, "slaveof 1.2.3.4 6379",
         "replicaof is not supported by slotd: use CLUSTER REPLICATE"},
        {"threads 0\n", 1, "threads 0", "argument must be between 1 and 128 inclusive"},
        {"dataplane rdma\n", 1, "dataplane rdma", "argument(s) must be one of the following: socket, dpdk"},
    };
    expect_load_errors(f, cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_parse_missing_file(void **state)
{
    struct fx *f = *state;
    char path[128], text[256], want[512];
    snprintf(path, sizeof(path), "%s/none.conf", f->dir);
    assert_int_equal(config_load_file(f->cfg, path, f->err, sizeof(f->err)), -ENOENT);
    snprintf(want, sizeof(want), "Fatal error, can't open config file '%s': %s\n", path, strerror(ENOENT));
    assert_string_equal(f->err, want);
    /* an error inside an included file names that file */
    char inc[128];
    snprintf(inc, sizeof(inc), "%s/inc.conf", f->dir);
    write_file(inc, "hz 10\nhz x\n");
    snprintf(text, sizeof(text), "port 1\ninclude %s\n", inc);
    assert_int_equal(config_load_string(f->cfg, text, f->err, sizeof(f->err)), -EINVAL);
    snprintf(want, sizeof(want),
             "\n*** FATAL CONFIG FILE ERROR (slotd %s) ***\n"
             "Reading the configuration file %s, at line 2\n>>> 'hz x'\n"
             "argument couldn't be parsed into an integer\n", SLOTD_VERSION, inc);
    assert_string_equal(f->err, want);
    /* a glob include that matches nothing is fine (empty conf.d) */
    snprintf(text, sizeof(text), "include %s/conf.d/*.conf\n", f->dir);
    assert_int_equal(config_load_string(f->cfg, text, f->err, sizeof(f->err)), 0);
}

static void test_command_line(void **state)
{
    struct fx *f = *state;
    char path[128];
    snprintf(path, sizeof(path), "%s/b.conf", f->dir);
    write_file(path, "port 7000\nhz 20\nsave 900 1\n");
    char *argv[] = {"slotd", path, "--port", "7001", "--save", "--maxmemory", "1mb",
                    "--bind", "127.0.0.1", "::1", "--requirepass", "x y", NULL};
    assert_int_equal(config_load_argv(f->cfg, 12, argv, f->err, sizeof(f->err)), 0);
    assert_int_equal(f->cfg->port, 7001);           /* command line wins */
    assert_int_equal(f->cfg->hz, 20);               /* file still applies */
    assert_int_equal(f->cfg->save_count, 0);        /* bare --save means "" */
    assert_true(f->cfg->maxmemory == 1048576);
    assert_int_equal(f->cfg->bind_count, 2);
    assert_string_equal(f->cfg->requirepass, "x y");
    assert_string_equal(f->cfg->configfile, path);

    /* errors in options count lines after the file's, like Redis */
    struct config *c = config_new();
    char *bad[] = {"slotd", path, "--hz", "5", "--maxmemory", "foo", NULL};
    assert_int_equal(config_load_argv(c, 6, bad, f->err, sizeof(f->err)), -EINVAL);
    char want[512];
    snprintf(want, sizeof(want),
             "\n*** FATAL CONFIG FILE ERROR (slotd %s) ***\n"
             "Reading the configuration file, at line 6\n>>> 'maxmemory \"foo\"'\n"
             "argument must be a memory value\n", SLOTD_VERSION);
    assert_string_equal(f->err, want);
    config_free(c);

    c = config_new();
    char *noval[] = {"slotd", "--port", NULL};
    assert_int_equal(config_load_argv(c, 2, noval, f->err, sizeof(f->err)), -EINVAL);
    assert_non_null(strstr(f->err, "at line 2\n>>> 'port'\nwrong number of arguments\n"));
    assert_null(c->configfile);
    config_free(c);
}

/* ---- dataplane dpdk ---- */

/* The parsers main hands the port and the stack their addresses with:
 * what each accepts, what it makes of it, and that a refusal leaves the
 * outputs alone (the contract in config.h). */
static void test_dpdk_address_parsers(void **state)
{
    (void)state;
    static const struct { const char *s; uint32_t ip; unsigned len; } ok[] = {
        {"198.18.0.2/24", 0xc6120002u, 24}, {"10.0.0.1/32", 0x0a000001u, 32},
        {"10.0.0.1/1", 0x0a000001u, 1}, {"255.255.255.254/31", 0xfffffffeu, 31},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint32_t ip = 0;
        unsigned len = 0;
        assert_int_equal(config_parse_ipv4_prefix(ok[i].s, &ip, &len), 0);
        assert_int_equal(ip, ok[i].ip);
        assert_int_equal(len, ok[i].len);
    }
    /* prefix 0 would make every address on-link; lengths take the integer
     * rules of the rest of the config (no sign, no leading zero) */
    static const char *bad_prefix[] = {
        "198.18.0.2", "198.18.0.2/", "198.18.0.2/0", "198.18.0.2/33", "198.18.0.2/-1",
        "198.18.0.2/+24", "198.18.0.2/024", "198.18.0.2/24x", "198.18.0.2/24/1",
        "198.18.0.2/4294967320", "/24", "198.18.0/24", "198.18.0.256/24", "198.018.0.2/24",
        "1.2.3.4.5/24", "198.18.0.2 /24", "::1/64", "", "198.180.100.200.1/24",
    };
    for (size_t i = 0; i < sizeof(bad_prefix) / sizeof(bad_prefix[0]); i++) {
        uint32_t ip = 7;
        unsigned len = 7;
        assert_int_equal(config_parse_ipv4_prefix(bad_prefix[i], &ip, &len), -EINVAL);
        assert_int_equal(ip, 7);
        assert_int_equal(len, 7);
    }
    assert_int_equal(config_parse_ipv4_prefix(NULL, NULL, NULL), -EINVAL);

    uint32_t gw = 7;
    assert_int_equal(config_parse_ipv4("198.18.0.1", &gw), 0);
    assert_int_equal(gw, 0xc6120001u);
    static const char *bad_ip[] = {"198.18.0.1/24", "gw", "198.18.0", "1.2.3.4 ", "01.2.3.4",
                                   "1.2.3.256", ""};
    for (size_t i = 0; i < sizeof(bad_ip) / sizeof(bad_ip[0]); i++) {
        gw = 7;
        assert_int_equal(config_parse_ipv4(bad_ip[i], &gw), -EINVAL);
        assert_int_equal(gw, 7);
    }

    uint8_t mac[6], want[6] = {0x02, 0xab, 0xcd, 0xef, 0x00, 0xff};
    assert_int_equal(config_parse_mac("02:AB:cd:EF:00:ff", mac), 0);
    assert_memory_equal(mac, want, 6);
    static const char *bad_mac[] = {
        "02:00:00:00:00", "02:00:00:00:00:01:02", "02:00:00:00:00:01 ", "02-00-00-00-00-01",
        "2:0:0:0:0:1", "02:00:00:00:00:1", "02:00:00:00:00:0g", "0200.0000.0001", "",
    };
    for (size_t i = 0; i < sizeof(bad_mac) / sizeof(bad_mac[0]); i++) {
        memcpy(mac, want, 6);
        assert_int_equal(config_parse_mac(bad_mac[i], mac), -EINVAL);
        assert_memory_equal(mac, want, 6);
    }
}

static void test_dpdk_directives(void **state)
{
    struct fx *f = *state;
    struct config *c = f->cfg;

    /* defaults: socket data plane, so nothing is required */
    assert_string_equal(get(c, "dpdk-ip"), "");
    assert_string_equal(get(c, "dpdk-gateway"), "");
    assert_string_equal(get(c, "dpdk-mac"), "");
    assert_string_equal(get(c, "dpdk-mtu"), "1500");
    assert_string_equal(get(c, "dpdk-max-conns"), "16384");
    assert_string_equal(get(c, "dpdk-tap"), "slotd0");
    assert_string_equal(get(c, "dpdk-test-reorder-pct"), "0");
    assert_string_equal(get(c, "dpdk-test-duplicate-pct"), "0");

    /* every bound itself is accepted, and read back as given */
    assert_int_equal(config_load_string(c,
        "dataplane dpdk\n"              /* before dpdk-ip: checked at the end */
        "dpdk-ip 198.18.0.2/24\n"
        "dpdk-gateway 198.18.0.1\n"
        "dpdk-mac 02:AB:cd:ef:00:01\n"
        "dpdk-mtu 576\n"
        "dpdk-max-conns 1\n"
        "dpdk-test-reorder-pct 100\n"
        "dpdk-test-duplicate-pct 100\n"
        "dpdk-eal-args \"-l 0-1 --no-huge -m 512\"\n"
        "dpdk-port net_tap0\n"
        "dpdk-tap \"\"\n", f->err, sizeof(f->err)), 0);
    assert_int_equal(c->dataplane, DATAPLANE_DPDK);
    assert_string_equal(c->dpdk_ip, "198.18.0.2/24");
    assert_string_equal(c->dpdk_gateway, "198.18.0.1");
    assert_string_equal(get(c, "dpdk-mac"), "02:AB:cd:ef:00:01");
    assert_int_equal(c->dpdk_mtu, 576);
    assert_int_equal(c->dpdk_max_conns, 1);
    assert_int_equal(c->dpdk_test_reorder_pct, 100);
    assert_int_equal(c->dpdk_test_duplicate_pct, 100);
    assert_string_equal(c->dpdk_eal_args, "-l 0-1 --no-huge -m 512");
    assert_string_equal(c->dpdk_port, "net_tap0");
    assert_string_equal(c->dpdk_tap, "");
    assert_int_equal(config_load_string(c,
        "dpdk-mtu 9000\ndpdk-max-conns 16777216\ndpdk-test-reorder-pct 0\n"
        "dpdk-test-duplicate-pct 0\ndpdk-gateway \"\"\ndpdk-mac \"\"\n", f->err, sizeof(f->err)), 0);
    assert_int_equal(c->dpdk_mtu, 9000);
    assert_int_equal(c->dpdk_max_conns, 1 << 24);
    assert_string_equal(c->dpdk_gateway, "");     /* no default route */
    assert_string_equal(c->dpdk_mac, "");         /* the port's own */

    static const struct bad_case cases[] = {
        {"dpdk-ip 198.18.0.2\n", 1, "dpdk-ip 198.18.0.2", DPDK_IP_WHY},
        {"port 1\ndpdk-ip 198.18.0.2/33\n", 2, "dpdk-ip 198.18.0.2/33", DPDK_IP_WHY},
        {"dpdk-ip 198.18.0.2/0\n", 1, "dpdk-ip 198.18.0.2/0", DPDK_IP_WHY},
        {"dpdk-ip 198.18.0.256/24\n", 1, "dpdk-ip 198.18.0.256/24", DPDK_IP_WHY},
        {"dpdk-ip fe80::1/64\n", 1, "dpdk-ip fe80::1/64", DPDK_IP_WHY},
        {"dpdk-ip \"198.18.0.2 /24\"\n", 1, "dpdk-ip \"198.18.0.2 /24\"", DPDK_IP_WHY},
        {"dpdk-ip 0.1.2.3/8\n", 1, "dpdk-ip 0.1.2.3/8", DPDK_HOST_WHY},
        {"dpdk-ip 127.0.0.2/8\n", 1, "dpdk-ip 127.0.0.2/8", DPDK_HOST_WHY},
        {"dpdk-ip 224.0.0.1/4\n", 1, "dpdk-ip 224.0.0.1/4", DPDK_HOST_WHY},
        {"dpdk-ip 255.255.255.255/32\n", 1, "dpdk-ip 255.255.255.255/32", DPDK_HOST_WHY},
        {"dpdk-ip 198.18.0.0/24\n", 1, "dpdk-ip 198.18.0.0/24", DPDK_HOST_WHY},
        {"dpdk-ip 198.18.0.255/24\n", 1, "dpdk-ip 198.18.0.255/24", DPDK_HOST_WHY},
        {"dpdk-ip 198.18.1.3/30\n", 1, "dpdk-ip 198.18.1.3/30", DPDK_HOST_WHY},
        {"dpdk-gateway 198.18.0.1/24\n", 1, "dpdk-gateway 198.18.0.1/24", DPDK_GW_WHY},
        {"dpdk-gateway 239.1.1.1\n", 1, "dpdk-gateway 239.1.1.1", DPDK_GW_HOST_WHY},
        {"dpdk-gateway 0.0.0.0\n", 1, "dpdk-gateway 0.0.0.0", DPDK_GW_HOST_WHY},
        {"dpdk-gateway router\n", 1, "dpdk-gateway router", DPDK_GW_WHY},
        {"dpdk-mac 02:00:00:00:00\n", 1, "dpdk-mac 02:00:00:00:00", DPDK_MAC_WHY},
        {"dpdk-mac 02-00-00-00-00-01\n", 1, "dpdk-mac 02-00-00-00-00-01", DPDK_MAC_WHY},
        {"dpdk-mac 02:00:00:00:00:0g\n", 1, "dpdk-mac 02:00:00:00:00:0g", DPDK_MAC_WHY},
        {"dpdk-mac 01:00:5e:00:00:01\n", 1, "dpdk-mac 01:00:5e:00:00:01", DPDK_MCAST_WHY},
        {"dpdk-mac ff:ff:ff:ff:ff:ff\n", 1, "dpdk-mac ff:ff:ff:ff:ff:ff", DPDK_MCAST_WHY},
        {"dpdk-mac 00:00:00:00:00:00\n", 1, "dpdk-mac 00:00:00:00:00:00",
         "dpdk-mac must not be 00:00:00:00:00:00"},
        {"dpdk-mtu 575\n", 1, "dpdk-mtu 575", "argument must be between 576 and 9000 inclusive"},
        {"dpdk-mtu 9001\n", 1, "dpdk-mtu 9001", "argument must be between 576 and 9000 inclusive"},
        {"dpdk-mtu 1500b\n", 1, "dpdk-mtu 1500b", "argument couldn't be parsed into an integer"},
        {"dpdk-max-conns 0\n", 1, "dpdk-max-conns 0",
         "argument must be between 1 and 16777216 inclusive"},
        {"dpdk-max-conns 16777217\n", 1, "dpdk-max-conns 16777217",
         "argument must be between 1 and 16777216 inclusive"},
        {"dpdk-test-reorder-pct 101\n", 1, "dpdk-test-reorder-pct 101",
         "argument must be between 0 and 100 inclusive"},
        {"dpdk-test-reorder-pct -1\n", 1, "dpdk-test-reorder-pct -1",
         "argument must be between 0 and 100 inclusive"},
        {"dpdk-test-duplicate-pct 101\n", 1, "dpdk-test-duplicate-pct 101",
         "argument must be between 0 and 100 inclusive"},
        {"dpdk-test-duplicate-pct -1\n", 1, "dpdk-test-duplicate-pct -1",
         "argument must be between 0 and 100 inclusive"},
        {"dpdk-ip 198.18.0.2/24 extra\n", 1, "dpdk-ip 198.18.0.2/24 extra", "wrong number of arguments"},
    };
    expect_load_errors(f, cases, sizeof(cases) / sizeof(cases[0]));
}

/* `dataplane dpdk` is useless without the node's address; the check runs
 * once everything is read (file, then command line), so order does not
 * matter and a later empty dpdk-ip undoes an earlier one. */
/* The gateway is a neighbour: on dpdk-ip's subnet, and not the node. Both
 * ends of a /31 are hosts (RFC 3021), as is a /32's only address. */
static void test_dpdk_gateway_on_subnet(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *text, *why;
    } cases[] = {
        {"dataplane dpdk\ndpdk-ip 198.18.0.2/24\ndpdk-gateway 198.18.1.1\n",
         "dpdk-gateway must be on dpdk-ip's subnet: a next hop is a neighbour"},
        {"dpdk-gateway 10.0.0.1\ndataplane dpdk\ndpdk-ip 198.18.0.2/32\n",
         "dpdk-gateway must be on dpdk-ip's subnet: a next hop is a neighbour"},
        {"dataplane dpdk\ndpdk-ip 198.18.0.2/24\ndpdk-gateway 198.18.0.2\n",
         "dpdk-gateway is the node's own address (dpdk-ip)"},
        {NULL, NULL},
    };
    static const char *good[] = {
        "dataplane dpdk\ndpdk-ip 198.18.1.0/31\ndpdk-gateway 198.18.1.1\n",
        "dataplane dpdk\ndpdk-ip 198.18.1.1/31\ndpdk-gateway 198.18.1.0\n",
        "dataplane dpdk\ndpdk-ip 198.18.1.7/32\n",
        "dataplane dpdk\ndpdk-ip 198.18.0.2/16\ndpdk-gateway 198.18.255.254\n",
        /* socket mode keeps what it does not use unchecked against each other */
        "dpdk-ip 198.18.0.2/24\ndpdk-gateway 10.0.0.1\n",
    };
    char want[512];

    for (size_t i = 0; cases[i].text; i++) {
        struct config *c = config_new();

        assert_non_null(c);
        snprintf(want, sizeof(want), "\n*** FATAL CONFIG FILE ERROR (slotd %s) ***\n%s\n",
                 SLOTD_VERSION, cases[i].why);
        assert_int_equal(config_load_string(c, cases[i].text, f->err, sizeof(f->err)), -EINVAL);
        assert_string_equal(f->err, want);
        config_free(c);
    }
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct config *c = config_new();

        assert_non_null(c);
        assert_int_equal(config_load_string(c, good[i], f->err, sizeof(f->err)), 0);
        config_free(c);
    }
}

static void test_dpdk_needs_ip(void **state)
{
    struct fx *f = *state;
    char want[512];
    struct config *c;

    snprintf(want, sizeof(want),
             "\n*** FATAL CONFIG FILE ERROR (slotd %s) ***\n"
             "dataplane dpdk needs the node's address: dpdk-ip a.b.c.d/len "
             "(e.g. dpdk-ip 198.18.0.2/24)\n", SLOTD_VERSION);
    static const char *missing[] = {
        "dataplane dpdk\n",
        "dataplane dpdk\ndpdk-gateway 198.18.0.1\n",
        "dpdk-ip 198.18.0.2/24\ndataplane dpdk\ndpdk-ip \"\"\n",
    };
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        c = config_new();
        assert_non_null(c);
        assert_int_equal(config_load_string(c, missing[i], f->err, sizeof(f->err)), -EINVAL);
        assert_string_equal(f->err, want);
        config_free(c);
    }

    char path[128];
    snprintf(path, sizeof(path), "%s/d.conf", f->dir);
    write_file(path, "dpdk-mtu 9000\n");
    c = config_new();
    char *argv[] = {"slotd", path, "--dataplane", "dpdk", NULL};
    assert_int_equal(config_load_argv(c, 4, argv, f->err, sizeof(f->err)), -EINVAL);
    assert_string_equal(f->err, want);
    config_free(c);

    /* given on the command line after a file that chose dpdk */
    write_file(path, "dataplane dpdk\n");
    c = config_new();
    char *ok[] = {"slotd", path, "--dpdk-ip", "198.18.0.2/24", NULL};
    assert_int_equal(config_load_argv(c, 4, ok, f->err, sizeof(f->err)), 0);
    assert_int_equal(c->dataplane, DATAPLANE_DPDK);
    assert_string_equal(c->dpdk_ip, "198.18.0.2/24");
    config_free(c);

    /* a bad value on the command line is reported as its line */
    c = config_new();
    char *bad[] = {"slotd", "--dataplane", "dpdk", "--dpdk-ip", "198.18.0.2", NULL};
    assert_int_equal(config_load_argv(c, 5, bad, f->err, sizeof(f->err)), -EINVAL);
    snprintf(want, sizeof(want),
             "\n*** FATAL CONFIG FILE ERROR (slotd %s) ***\n"
             "Reading the configuration file, at line 3\n>>> 'dpdk-ip \"198.18.0.2\"'\n"
             DPDK_IP_WHY "\n", SLOTD_VERSION);
    assert_string_equal(f->err, want);
    config_free(c);

    /* the socket data plane needs none of it */
    c = config_new();
    assert_int_equal(config_load_string(c, "dataplane socket\n", f->err, sizeof(f->err)), 0);
    config_free(c);
}

/* The port, the stack and the TAP are set up once at start: CONFIG SET
 * refuses every DPDK directive before looking at the value, and leaves it. */
static void test_dpdk_immutable(void **state)
{
    struct fx *f = *state;
    static const char *nv[][2] = {
        {"dataplane", "dpdk"}, {"dpdk-eal-args", "-l 0-1"}, {"dpdk-port", "net_tap0"},
        {"dpdk-ip", "198.18.0.3/24"}, {"dpdk-ip", "bogus"}, {"dpdk-gateway", "198.18.0.1"},
        {"dpdk-mac", "02:00:00:00:00:09"}, {"dpdk-mtu", "9000"}, {"dpdk-mtu", "1"},
        {"dpdk-tap", "x"}, {"dpdk-max-conns", "10"}, {"dpdk-test-reorder-pct", "5"},
        {"dpdk-test-duplicate-pct", "5"}, {"DPDK-IP", "198.18.0.3/24"},
    };
    assert_int_equal(config_load_string(f->cfg, "dpdk-ip 198.18.0.2/24\n", f->err,
                                        sizeof(f->err)), 0);
    for (size_t i = 0; i < sizeof(nv) / sizeof(nv[0]); i++)
        expect_set_error(f, nv[i][0], nv[i][1], "can't set immutable config");
    assert_int_equal(f->cfg->dataplane, DATAPLANE_SOCKET);
    assert_string_equal(f->cfg->dpdk_ip, "198.18.0.2/24");
    assert_int_equal(f->cfg->dpdk_mtu, 1500);
    assert_string_equal(get(f->cfg, "dpdk-mac"), "");
    assert_int_equal(f->cfg->dpdk_max_conns, 16384);
    assert_int_equal(f->cfg->dpdk_test_reorder_pct, 0);
}

/* ---- CONFIG GET ---- */

static int find_kv(const struct config_kv *kv, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (kv[i].name.len == strlen(name) && !memcmp(kv[i].name.p, name, kv[i].name.len))
            return i;
    return -1;
}

static int get_n(struct fx *f, const char **pats, int np, struct config_kv **kv)
{
    struct slice s[8];
    for (int i = 0; i < np; i++)
        s[i] = (struct slice){pats[i], strlen(pats[i])};
    return config_get(f->cfg, s, np, kv);
}

static void test_get_patterns(void **state)
{
    struct fx *f = *state;
    struct config_kv *kv;
    int n;

    const char *p1[] = {"maxmem*"};
    n = get_n(f, p1, 1, &kv);
    assert_int_equal(n, 5);   /* maxmemory, -policy, -samples, -eviction-tenacity, -clients */
    assert_true(find_kv(kv, n, "maxmemory-clients") >= 0);
    config_kv_free(kv, n);

    const char *p2[] = {"MAXMEM*", "maxmemory"};      /* case-insensitive, no duplicates */
    n = get_n(f, p2, 2, &kv);
    assert_int_equal(n, 5);
    config_kv_free(kv, n);

    const char *p3[] = {"MAXMEMORY", "maxmemory", "nosuch"};   /* exact: echoed as typed */
    n = get_n(f, p3, 3, &kv);
    assert_int_equal(n, 1);
    assert_int_equal(kv[0].name.len, 9);
    assert_memory_equal(kv[0].name.p, "MAXMEMORY", 9);
    assert_string_equal(kv[0].value, "0");
    config_kv_free(kv, n);

    const char *p4[] = {"*ziplist*"};                 /* aliases match by their own name */
    n = get_n(f, p4, 1, &kv);
    assert_int_equal(n, 5);
    assert_true(find_kv(kv, n, "hash-max-ziplist-entries") >= 0);
    assert_true(find_kv(kv, n, "list-max-ziplist-size") >= 0);
    config_kv_free(kv, n);

    const char *p5[] = {"slave-read-only", "replica-read-only", "[h]?", "h\\z", "[^a-z]*", "nosuch*"};
    n = get_n(f, p5, 6, &kv);
    assert_int_equal(n, 3);   /* alias and name are two entries; hz; nothing else */
    assert_true(find_kv(kv, n, "hz") >= 0);
    config_kv_free(kv, n);

    const char *p6[] = {"*"};
    n = get_n(f, p6, 1, &kv);
    assert_true(n > 170);
    int i = find_kv(kv, n, "client-output-buffer-limit");
    assert_true(i >= 0);
    assert_int_equal(kv[i].vlen, strlen(kv[i].value));
    config_kv_free(kv, n);
}

/* ---- CONFIG SET ---- */

static int hook_calls, hook_fail;

static int port_hook(struct config *cfg, void *arg, const char **err)
{
    (void)cfg;
    (void)arg;
    hook_calls++;
    if (hook_fail) {
        *err = "Unable to listen on this port. Check server logs.";
        return -EADDRINUSE;
    }
    return 0;
}

static void test_set_errors_and_atomicity(void **state)
{
    struct fx *f = *state;
    struct config *c = f->cfg;
    struct slice nv[6];
#define NV(i, s) nv[i] = (struct slice){s, strlen(s)}

    assert_string_equal(set1(f, "foo", "bar"), "ERR Unknown option or number of arguments for CONFIG SET - 'foo'");
    expect_set_error(f, "databases", "3", "can't set immutable config");
    expect_set_error(f, "DATABASES", "3", "can't set immutable config");      /* name as typed */
    expect_set_error(f, "dir", "/tmp", "can't set protected config");
    expect_set_error(f, "port", "7000", "can't set immutable config");        /* no hook yet */
    expect_set_error(f, "appendonly", "maybe", "argument must be 'yes' or 'no'");
    /* value errors name the directive in lower case */
    assert_string_equal(set1(f, "MAXMEMORY", "x"),
                        "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value");
    assert_string_equal(set1(f, "SLAVE-READ-ONLY", "x"),
                        "ERR CONFIG SET failed (possibly related to argument 'slave-read-only') - argument must be 'yes' or 'no'");

    NV(0, "maxmemory"); NV(1, "10"); NV(2, "maxmemory"); NV(3, "20");
    assert_int_equal(config_set(c, nv, 2, 0, f->err, sizeof(f->err)), -EINVAL);
    assert_string_equal(f->err, "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter");

    NV(0, "databases"); NV(1, "10"); NV(2, "foo"); NV(3, "20");    /* first problem wins */
    assert_int_equal(config_set(c, nv, 2, 0, f->err, sizeof(f->err)), -EINVAL);
    assert_string_equal(f->err, "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config");

    /* all or nothing: a bad second value leaves the first untouched */
    NV(0, "maxmemory"); NV(1, "10mb"); NV(2, "save"); NV(3, "1 2 3");
    assert_int_equal(config_set(c, nv, 2, 0, f->err, sizeof(f->err)), -EINVAL);
    assert_string_equal(f->err, "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters");
    assert_true(c->maxmemory == 0);
    assert_string_equal(get(c, "save"), "3600 1 300 100 60 10000");

    NV(0, "maxmemory"); NV(1, "10mb"); NV(2, "save"); NV(3, "60 5"); NV(4, "loglevel"); NV(5, "WARNING");
    assert_int_equal(config_set(c, nv, 3, 0, f->err, sizeof(f->err)), 0);
    assert_true(c->maxmemory == 10ull << 20);
    assert_int_equal(c->save_count, 1);
    assert_int_equal(log_get_level(), LL_WARNING);              /* apply hook ran */

    /* protected configs are allowed when the caller says so */
    NV(0, "dir"); NV(1, f->dir);
    assert_int_equal(config_set(c, nv, 1, 1, f->err, sizeof(f->err)), 0);
    assert_string_equal(get(c, "dir"), f->dir);

    /* hooked directive: settable once a hook exists; a failing hook rolls back */
    assert_int_equal(config_on_apply("port", port_hook, NULL), 0);
    assert_int_equal(config_on_apply("nosuch", port_hook, NULL), -ENOENT);
    hook_calls = hook_fail = 0;
    assert_null(set1(f, "port", "7000"));
    assert_int_equal(hook_calls, 1);
    assert_null(set1(f, "port", "7000"));                    /* unchanged: no apply */
    assert_int_equal(hook_calls, 1);
    hook_fail = 1;
    NV(0, "timeout"); NV(1, "9"); NV(2, "port"); NV(3, "7001");
    assert_int_equal(config_set(c, nv, 2, 0, f->err, sizeof(f->err)), -EINVAL);
    assert_string_equal(f->err, "ERR CONFIG SET failed (possibly related to argument 'port') - "
                                "Unable to listen on this port. Check server logs.");
    assert_int_equal(c->port, 7000);
    assert_int_equal(c->timeout, 0);

    /* values round-trip through GET */
    static const char *rt[][3] = {
        {"requirepass", "p w", "p w"}, {"requirepass", "", ""}, {"notify-keyspace-events", "Kgx$m", "g$xKm"},
        {"notify-keyspace-events", "An", "A"}, {"shutdown-on-sigint", "now nosave force", "nosave now force"},
        {"client-output-buffer-limit", "normal 1mb 2kb 3", "normal 1048576 2048 3 slave 268435456 67108864 60 pubsub 33554432 8388608 60"},
        {"latency-tracking-info-percentiles", "0.5 12.25 100", "0.5 12.25 100"}, {"save", "", ""},
        {"bind", "", ""}, {"oom-score-adj", "relative", "yes"},
        {"lua-time-limit", "100", "100"}, {"busy-reply-threshold", "5000", "5000"},
    };
    hook_fail = 0;
    assert_int_equal(config_on_apply("bind", port_hook, NULL), 0);
    for (size_t i = 0; i < sizeof(rt) / sizeof(rt[0]); i++) {
        assert_null(set1(f, rt[i][0], rt[i][1]));
        assert_string_equal(get(c, rt[i][0]), rt[i][2]);
    }
    assert_null(c->requirepass);
    assert_int_equal(c->bind_count, 0);
    expect_set_error(f, "notify-keyspace-events", "Q", "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
    expect_set_error(f, "shutdown-on-sigint", "save nosave", "shutdown options SAVE and NOSAVE can't be used simultaneously");
    expect_set_error(f, "client-output-buffer-limit", "master 1 2 3",
                     "Invalid client class specified in buffer limit configuration.");
    expect_set_error(f, "activedefrag", "yes",
                     "Active defragmentation cannot be enabled: it requires a Redis server compiled with a "
                     "modified Jemalloc like the one shipped by default with the Redis source distribution");
#undef NV
}

/* ---- CONFIG REWRITE ---- */

static void test_rewrite_round_trip(void **state)
{
    struct fx *f = *state;
    char path[128], inc[128], text[1024];
    snprintf(path, sizeof(path), "%s/rw.conf", f->dir);
    snprintf(inc, sizeof(inc), "%s/inc.conf", f->dir);
    write_file(inc, "timeout 5\n");
    snprintf(text, sizeof(text),
             "# leading comment\n"
             "port 7000\n"
             "  maxmemory 100mb   \n"
             "save 900 1\n"
             "save 300 10\n"
             "include %s\n"
             "slave-read-only yes\n"
             "requirepass secret\n"
             "hz 20\n"
             "\n\n\n"
             "# end\n", inc);
    write_file(path, text);
    assert_int_equal(config_load_file(f->cfg, path, f->err, sizeof(f->err)), 0);

    struct slice nv[12];
    const char *pairs[] = {"maxmemory", "3gb", "save", "60 5", "requirepass", "", "hz", "10",
                           "maxmemory-policy", "allkeys-lru", "masterauth", "p \"w"};
    for (int i = 0; i < 12; i++)
        nv[i] = (struct slice){pairs[i], strlen(pairs[i])};
    assert_int_equal(config_set(f->cfg, nv, 6, 0, f->err, sizeof(f->err)), 0);
    assert_int_equal(config_rewrite(f->cfg, path), 0);

    char want[2048];
    snprintf(want, sizeof(want),
             "# leading comment\n"
             "port 7000\n"
             "maxmemory 3gb\n"
             "save 60 5\n"
             "\n"
             "include %s\n"
             "replica-read-only yes\n"
             "\n"
             "hz 10\n"
             "\n"
             "# end\n"
             "\n"
             "# Generated by CONFIG REWRITE\n", inc);
    const char *got = read_file(path);
    assert_memory_equal(got, want, strlen(want));
    assert_non_null(strstr(got, "\nmaxmemory-policy allkeys-lru\n"));
    assert_non_null(strstr(got, "\nmasterauth \"p \\\"w\"\n"));
    assert_non_null(strstr(got, "\nlatency-tracking-info-percentiles 50 99 99.9\n"));
    assert_null(strstr(got, "requirepass"));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    mode_t um = umask(0);
    umask(um);
    assert_int_equal(st.st_mode & 0777, 0644 & ~um);

    /* the rewritten file loads back to the same values */
    struct config *again = config_new();
    assert_int_equal(config_load_file(again, path, f->err, sizeof(f->err)), 0);
    struct config_kv *a, *b;
    struct slice all = {"*", 1};
    int na = config_get(f->cfg, &all, 1, &a), nb = config_get(again, &all, 1, &b);
    assert_int_equal(na, nb);
    for (int i = 0; i < na; i++) {
        assert_int_equal(a[i].name.len, b[i].name.len);
        assert_string_equal(a[i].value, b[i].value);
    }
    config_kv_free(a, na);
    config_kv_free(b, nb);

    /* With nothing changed, a rewrite only adds the blank line Redis adds
     * (the text after the file's last newline counts as an empty line);
     * from then on it is a fixed point. */
    char first[16384 + 2];
    snprintf(first, sizeof(first), "%s\n", read_file(path));
    assert_int_equal(config_rewrite(again, path), 0);
    assert_string_equal(read_file(path), first);
    assert_int_equal(config_rewrite(again, path), 0);
    assert_string_equal(read_file(path), first);
    config_free(again);

    /* an unwritable target reports errno */
    char bad[160];
    snprintf(bad, sizeof(bad), "%s/nodir/x.conf", f->dir);
    assert_int_equal(config_rewrite(f->cfg, bad), -ENOENT);
}

/* ---- log ---- */

static void test_log_format(void **state)
{
    struct fx *f = *state;
    char line[LOG_MAX_LEN + 64], path[128], want[64];
    regex_t re;
    assert_int_equal(regcomp(&re, "^[0-9]+:M [0-9]{2} [A-Z][a-z]{2} [0-9]{4} "
                                  "[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3} \\* hello\n$", REG_EXTENDED), 0);
    int n = log_format_line(line, (int)sizeof(line), LL_NOTICE, "hello");
    assert_int_equal(n, (int)strlen(line));
    assert_int_equal(regexec(&re, line, 0, NULL, 0), 0);
    regfree(&re);
    snprintf(want, sizeof(want), "%d:C ", (int)getpid());
    log_set_role('C');
    log_format_line(line, (int)sizeof(line), LL_WARNING, "x");
    assert_memory_equal(line, want, strlen(want));
    assert_non_null(strstr(line, " # x\n"));
    log_format_line(line, (int)sizeof(line), LL_DEBUG, "x");
    assert_non_null(strstr(line, " . x\n"));
    log_format_line(line, (int)sizeof(line), LL_VERBOSE, "x");
    assert_non_null(strstr(line, " - x\n"));
    log_set_role('M');

    snprintf(path, sizeof(path), "%s/log.txt", f->dir);
    assert_int_equal(log_open(path), 0);
    log_set_level(LL_NOTICE);
    assert_false(log_enabled(LL_VERBOSE));
    log_msg(LL_VERBOSE, "filtered %d", 1);
    log_msg(LL_NOTICE, "kept %d", 2);
    errno = ENOENT;
    log_errno(LL_WARNING, "open", "cannot open %s", "x");
    assert_int_equal(errno, ENOENT);
    assert_int_equal(log_reopen(), 0);
    log_raw(LL_WARNING, "after reopen");
    log_close();
    const char *text = read_file(path);
    assert_null(strstr(text, "filtered"));
    assert_non_null(strstr(text, " * kept 2\n"));
    assert_non_null(strstr(text, " # cannot open x: open() failed (2: No such file or directory)\n"));
    assert_non_null(strstr(text, " # after reopen\n"));
    assert_int_equal(log_open("/nonexistent-dir/x.log"), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_memory_units, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_good_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_bad_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dpdk_address_parsers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dpdk_directives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dpdk_gateway_on_subnet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dpdk_needs_ip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dpdk_immutable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_patterns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_errors_and_atomicity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rewrite_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_format, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
