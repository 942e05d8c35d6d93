/* cmd_info — INFO [section ...], in Redis 7.0's sections, field names, order
 * and "# Section\r\n" layout, so redis-cli, redis_exporter and other parsers
 * read slotd as a 7.0 server (redis_version:7.0.15; slotd_version says what
 * it really is).
 *
 * Runs under the all-cores barrier (CMD_ALLCORES): it sums every core's
 * counters and reads every shard while the other cores are parked, and writes
 * nothing but the reply. Fields for features slotd does not have (AOF, Lua,
 * replication links, pub/sub, defrag) carry the values an idle 7.0 server
 * reports, so every field a parser expects is present. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <jemalloc/jemalloc.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include "../cluster/cluster.h"
#include "../cluster/migrate_out.h"
#include "../kv/commands.h"
#include "../kv/keyspace.h"
#include "client.h"
#include "config.h"
#include "core.h"
#include "dpdk_port.h"
#include "dpdk_transport.h"
#include "exception.h"
#include "mem.h"
#include "tsc.h"

#ifndef SLOTD_VERSION
#define SLOTD_VERSION "0.1.0"
#endif
#define REDIS_VERSION "7.0.15"
#define LRU_CLOCK_MAX ((1 << 24) - 1)   /* Redis server.h: 24-bit LRU clock */
#define AVG_TTL_SAMPLES 20              /* volatile keys sampled per table for avg_ttl */

/* Text being built, in a resp_out used as a plain byte buffer. */
static void addf(struct resp_out *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(struct resp_out *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(small)) {
        resp_add_raw(b, small, (size_t)n);
        return;
    }
    if (resp_out_reserve(b, (size_t)n + 1) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Redis bytesToHuman. */
static const char *human(char *buf, size_t cap, unsigned long long n)
{
    const double k = 1024.0;

    if (n < 1024)
        snprintf(buf, cap, "%lluB", n);
    else if (n < 1024ull * 1024)
        snprintf(buf, cap, "%.2fK", (double)n / k);
    else if (n < 1024ull * 1024 * 1024)
        snprintf(buf, cap, "%.2fM", (double)n / (k * k));
    else if (n < 1024ull * 1024 * 1024 * 1024)
        snprintf(buf, cap, "%.2fG", (double)n / (k * k * k));
    else if (n < 1024ull * 1024 * 1024 * 1024 * 1024)
        snprintf(buf, cap, "%.2fT", (double)n / (k * k * k * k));
    else if (n < 1024ull * 1024 * 1024 * 1024 * 1024 * 1024)
        snprintf(buf, cap, "%.2fP", (double)n / (k * k * k * k * k));
    else
        snprintf(buf, cap, "%lluB", n);
    return buf;
}

struct totals {
    struct core_stats st;           /* summed; errors merged by name */
    uint64_t hits, misses, expired, evicted, dirty, stale_x100;
    uint64_t clients, max_qbuf, max_obuf, client_mem;
    size_t dataset;
};

static void sum_everything(struct runtime *rt, struct totals *t)
{
    memset(t, 0, sizeof(*t));
    for (unsigned k = 0; k < rt->ncores; k++) {
        const struct core *c = rt->cores[k];
        const struct shard *s = rt->shards[k];

        if (c) {
            const struct core_stats *cs = &c->stats;
            t->st.connections_received += cs->connections_received;
            t->st.rejected_connections += cs->rejected_connections;
            t->st.commands_processed += cs->commands_processed;
            t->st.net_input_bytes += cs->net_input_bytes;
            t->st.net_output_bytes += cs->net_output_bytes;
            t->st.total_error_replies += cs->total_error_replies;
            t->st.client_qbuf_limit_disconnections += cs->client_qbuf_limit_disconnections;
            t->st.client_obuf_limit_disconnections += cs->client_obuf_limit_disconnections;
            t->st.xcore_sent += cs->xcore_sent;
            if (cs->xcore_backlog_peak > t->st.xcore_backlog_peak)
                t->st.xcore_backlog_peak = cs->xcore_backlog_peak;
            for (unsigned i = 0; i < cs->nerrors; i++) {
                unsigned j;
                for (j = 0; j < t->st.nerrors; j++)
                    if (strcmp(t->st.errors[j].name, cs->errors[i].name) == 0)
                        break;
                if (j == t->st.nerrors) {
                    if (j == CORE_ERROR_KINDS)
                        continue;
                    t->st.errors[j] = cs->errors[i];
                    t->st.nerrors++;
                } else {
                    t->st.errors[j].count += cs->errors[i].count;
                }
            }
            for (const struct client *cl = c->clients; cl; cl = cl->next) {
                uint64_t pend = cl->out.len - cl->out_sent;
                if (cl->flags & CLIENT_CLOSED)
                    continue;
                t->clients++;
                if (cl->qbuf_peak > t->max_qbuf)
                    t->max_qbuf = cl->qbuf_peak;
                if (pend > t->max_obuf)
                    t->max_obuf = pend;
                t->client_mem += sizeof(*cl) + cl->qcap + cl->out.cap;
            }
        }
        if (s) {
            t->hits += s->keyspace_hits;
            t->misses += s->keyspace_misses;
            t->expired += s->expired_keys;
            t->evicted += s->evicted_keys;
            t->dirty += s->dirty;
            t->stale_x100 += s->expired_stale_perc_x100;
            t->dataset += shard_used_bytes(s);
        }
    }
}

static void sec_server(struct cmd_ctx *c, struct resp_out *b, const struct totals *t)
{
    const struct config *cfg = config_live();
    struct runtime *rt = c->core->rt;
    struct utsname u;
    char exe[1024];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    int64_t now_us, up = (c->now_ms - rt->start_ms) / 1000;
    struct timespec ts;

    (void)t;
    exe[n > 0 ? n : 0] = '\0';
    if (uname(&u) != 0)
        memset(&u, 0, sizeof(u));
    clock_gettime(CLOCK_REALTIME, &ts);
    now_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    addf(b, "# Server\r\n"
            "redis_version:" REDIS_VERSION "\r\n"
            "redis_git_sha1:00000000\r\n"
            "redis_git_dirty:0\r\n"
            "redis_build_id:0\r\n"
            "redis_mode:%s\r\n"
            "os:%s %s %s\r\n"
            "arch_bits:%d\r\n"
            "monotonic_clock:POSIX clock_gettime\r\n"
            "multiplexing_api:epoll\r\n"
            "atomicvar_api:c11-builtin\r\n"
            "gcc_version:%d.%d.%d\r\n"
            "process_id:%ld\r\n"
            "process_supervised:no\r\n"
            "run_id:%s\r\n"
            "tcp_port:%d\r\n"
            "server_time_usec:%lld\r\n"
            "uptime_in_seconds:%lld\r\n"
            "uptime_in_days:%lld\r\n"
            "hz:%d\r\n"
            "configured_hz:%d\r\n"
            "lru_clock:%lld\r\n"
            "executable:%s\r\n"
            "config_file:%s\r\n"
            "io_threads_active:0\r\n"
            "slotd_version:" SLOTD_VERSION "\r\n"
            "slotd_data_cores:%u\r\n",
         cfg->cluster_enabled ? "cluster" : "standalone",
         u.sysname, u.release, u.machine,
         (int)(sizeof(long) * 8),
#ifdef __GNUC__
         __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__,
#else
         0, 0, 0,
#endif
         (long)getpid(), rt->run_id, cfg->port,
         (long long)now_us, (long long)up, (long long)(up / 86400),
         cfg->hz, cfg->hz,
         (long long)((ts.tv_sec) & LRU_CLOCK_MAX),
         exe, cfg->configfile ? cfg->configfile : "",
         rt->ncores);
}

static void sec_clients(struct cmd_ctx *c, struct resp_out *b, const struct totals *t)
{
    (void)c;
    addf(b, "# Clients\r\n"
            "connected_clients:%llu\r\n"
            "cluster_connections:%lu\r\n"
            "maxclients:%u\r\n"
            "client_recent_max_input_buffer:%llu\r\n"
            "client_recent_max_output_buffer:%llu\r\n"
            "blocked_clients:0\r\n"
            "tracking_clients:0\r\n"
            "clients_in_timeout_table:0\r\n",
         (unsigned long long)t->clients, cluster_connections(), config_live()->maxclients,
         (unsigned long long)t->max_qbuf, (unsigned long long)t->max_obuf);
}

/* Resident set size from /proc (Redis zmalloc_get_rss); 0 if unreadable. */
static unsigned long long rss_bytes(void)
{
    unsigned long long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (!f)
        return 0;
    if (fscanf(f, "%llu %llu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return resident * (unsigned long long)sysconf(_SC_PAGESIZE);
}

static double ratio(double a, double b)
{
    return b > 0 ? a / b : 0;
}

static void sec_memory(struct cmd_ctx *c, struct resp_out *b, const struct totals *t)
{
    const struct config *cfg = config_live();
    size_t allocated = 0, active = 0, resident = 0;
    long long used = mem_used() > 0 ? mem_used() : 0;
    long long peak = atomic_load_explicit(&c->core->rt->mem_peak, memory_order_relaxed);
    unsigned long long rss = rss_bytes();
    unsigned long long sysmem = (unsigned long long)sysconf(_SC_PHYS_PAGES) *
                                (unsigned long long)sysconf(_SC_PAGESIZE);
    unsigned long long dataset = t->dataset < (size_t)used ? t->dataset : (size_t)used;
    char h1[32], h2[32], h3[32], h4[32], h5[32];

    if (peak < used) {
        peak = used;
        atomic_store_explicit(&c->core->rt->mem_peak, peak, memory_order_relaxed);
    }
    mem_stats(&allocated, &active, &resident, NULL, NULL);
    addf(b, "# Memory\r\n"
            "used_memory:%lld\r\n"
            "used_memory_human:%s\r\n"
            "used_memory_rss:%llu\r\n"
            "used_memory_rss_human:%s\r\n"
            "used_memory_peak:%lld\r\n"
            "used_memory_peak_human:%s\r\n"
            "used_memory_peak_perc:%.2f%%\r\n"
            "used_memory_overhead:%llu\r\n"
            "used_memory_startup:0\r\n"
            "used_memory_dataset:%llu\r\n"
            "used_memory_dataset_perc:%.2f%%\r\n"
            "allocator_allocated:%zu\r\n"
            "allocator_active:%zu\r\n"
            "allocator_resident:%zu\r\n"
            "total_system_memory:%llu\r\n"
            "total_system_memory_human:%s\r\n"
            "used_memory_lua:0\r\n"
            "used_memory_vm_eval:0\r\n"
            "used_memory_lua_human:0B\r\n"
            "used_memory_scripts_eval:0\r\n"
            "number_of_cached_scripts:0\r\n"
            "number_of_functions:0\r\n"
            "number_of_libraries:0\r\n"
            "used_memory_vm_functions:0\r\n"
            "used_memory_vm_total:0\r\n"
            "used_memory_vm_total_human:0B\r\n"
            "used_memory_functions:0\r\n"
            "used_memory_scripts:0\r\n"
            "used_memory_scripts_human:0B\r\n"
            "maxmemory:%llu\r\n"
            "maxmemory_human:%s\r\n"
            "maxmemory_policy:%s\r\n",
         used, human(h1, sizeof(h1), (unsigned long long)used),
         rss, human(h2, sizeof(h2), rss),
         peak, human(h3, sizeof(h3), (unsigned long long)peak),
         peak ? 100.0 * (double)used / (double)peak : 100.0,
         (unsigned long long)used - dataset, dataset,
         used ? 100.0 * (double)dataset / (double)used : 0.0,
         allocated, active, resident,
         sysmem, human(h4, sizeof(h4), sysmem),
         cfg->maxmemory, human(h5, sizeof(h5), cfg->maxmemory),
         config_maxmemory_policy_name(cfg->maxmemory_policy));
    addf(b, "allocator_frag_ratio:%.2f\r\n"
            "allocator_frag_bytes:%lld\r\n"
            "allocator_rss_ratio:%.2f\r\n"
            "allocator_rss_bytes:%lld\r\n"
            "rss_overhead_ratio:%.2f\r\n"
            "rss_overhead_bytes:%lld\r\n"
            "mem_fragmentation_ratio:%.2f\r\n"
            "mem_fragmentation_bytes:%lld\r\n"
            "mem_not_counted_for_evict:0\r\n"
            "mem_replication_backlog:0\r\n"
            "mem_total_replication_buffers:0\r\n"
            "mem_clients_slaves:0\r\n"
            "mem_clients_normal:%llu\r\n"
            "mem_cluster_links:0\r\n"
            "mem_aof_buffer:0\r\n"
            "mem_allocator:jemalloc-%d.%d.%d\r\n"
            "active_defrag_running:0\r\n"
            "lazyfree_pending_objects:0\r\n"
            "lazyfreed_objects:0\r\n",
         ratio((double)active, (double)allocated), (long long)active - (long long)allocated,
         ratio((double)resident, (double)active), (long long)resident - (long long)active,
         ratio((double)rss, (double)resident), (long long)rss - (long long)resident,
         ratio((double)rss, (double)used), (long long)rss - used,
         (unsigned long long)t->client_mem,
         JEMALLOC_VERSION_MAJOR, JEMALLOC_VERSION_MINOR, JEMALLOC_VERSION_BUGFIX);
}

static void sec_persistence(struct cmd_ctx *c, struct resp_out *b, const struct totals *t)
{
    addf(b, "# Persistence\r\n"
            "loading:0\r\n"
            "async_loading:0\r\n"
            "current_cow_peak:0\r\n"
            "current_cow_size:0\r\n"
            "current_cow_size_age:0\r\n"
            "current_fork_perc:0.00\r\n"
            "current_save_keys_processed:0\r\n"
            "current_save_keys_total:0\r\n"
            "rdb_changes_since_last_save:%llu\r\n"
            "rdb_bgsave_in_progress:0\r\n"
            "rdb_last_save_time:%lld\r\n"
            "rdb_last_bgsave_status:ok\r\n"
            "rdb_last_bgsave_time_sec:-1\r\n"
            "rdb_current_bgsave_time_sec:-1\r\n"
            "rdb_saves:0\r\n"
            "rdb_last_cow_size:0\r\n"
            "rdb_last_load_keys_expired:0\r\n"
            "rdb_last_load_keys_loaded:0\r\n"
            "aof_enabled:0\r\n"
            "aof_rewrite_in_progress:0\r\n"
            "aof_rewrite_scheduled:0\r\n"
            "aof_last_rewrite_time_sec:-1\r\n"
            "aof_current_rewrite_time_sec:-1\r\n"
            "aof_last_bgrewrite_status:ok\r\n"
            "aof_rewrites:0\r\n"
            "aof_rewrites_consecutive_failures:0\r\n"
            "aof_last_write_status:ok\r\n"
            "aof_last_cow_size:0\r\n"
            "module_fork_in_progress:0\r\n"
            "module_fork_last_cow_size:0\r\n",
         (unsigned long long)t->dirty, (long long)(c->core->rt->start_ms / 1000));
}

static void sec_stats(struct cmd_ctx *c, struct resp_out *b, const struct totals *t)
{
    const struct runtime *rt = c->core->rt;
    unsigned ncores = rt->ncores ? rt->ncores : 1;

    addf(b, "# Stats\r\n"
            "total_connections_received:%llu\r\n"
            "total_commands_processed:%llu\r\n"
            "instantaneous_ops_per_sec:%llu\r\n"
            "total_net_input_bytes:%llu\r\n"
            "total_net_output_bytes:%llu\r\n"
            "total_net_repl_input_bytes:0\r\n"
            "total_net_repl_output_bytes:0\r\n"
            "instantaneous_input_kbps:%.2f\r\n"
            "instantaneous_output_kbps:%.2f\r\n"
            "instantaneous_input_repl_kbps:0.00\r\n"
            "instantaneous_output_repl_kbps:0.00\r\n"
            "rejected_connections:%llu\r\n"
            "sync_full:0\r\n"
            "sync_partial_ok:0\r\n"
            "sync_partial_err:0\r\n"
            "expired_keys:%llu\r\n"
            "expired_stale_perc:%.2f\r\n"
            "expired_time_cap_reached_count:0\r\n"
            "expire_cycle_cpu_milliseconds:0\r\n"
            "evicted_keys:%llu\r\n"
            "evicted_clients:0\r\n"
            "total_eviction_exceeded_time:0\r\n"
            "current_eviction_exceeded_time:0\r\n"
            "keyspace_hits:%llu\r\n"
            "keyspace_misses:%llu\r\n",
         (unsigned long long)t->st.connections_received,
         (unsigned long long)t->st.commands_processed,
         (unsigned long long)atomic_load_explicit(&rt->inst_ops_per_sec, memory_order_relaxed),
         (unsigned long long)t->st.net_input_bytes,
         (unsigned long long)t->st.net_output_bytes,
         (double)atomic_load_explicit(&rt->inst_in_bytes_per_sec, memory_order_relaxed) / 1024.0,
         (double)atomic_load_explicit(&rt->inst_out_bytes_per_sec, memory_order_relaxed) / 1024.0,
         (unsigned long long)t->st.rejected_connections,
         (unsigned long long)t->expired,
         (double)t->stale_x100 / 100.0 / ncores,
         (unsigned long long)t->evicted,
         (unsigned long long)t->hits, (unsigned long long)t->misses);
    addf(b, "pubsub_channels:0\r\n"
            "pubsub_patterns:0\r\n"
            "pubsubshard_channels:0\r\n"
            "latest_fork_usec:0\r\n"
            "total_forks:0\r\n"
            "migrate_cached_sockets:%u\r\n"
            "slave_expires_tracked_keys:0\r\n"
            "active_defrag_hits:0\r\n"
            "active_defrag_misses:0\r\n"
            "active_defrag_key_hits:0\r\n"
            "active_defrag_key_misses:0\r\n"
            "total_active_defrag_time:0\r\n"
            "current_active_defrag_time:0\r\n"
            "tracking_total_keys:0\r\n"
            "tracking_total_items:0\r\n"
            "tracking_total_prefixes:0\r\n"
            "unexpected_error_replies:0\r\n"
            "total_error_replies:%llu\r\n"
            "dump_payload_sanitizations:0\r\n"
            "total_reads_processed:0\r\n"
            "total_writes_processed:0\r\n"
            "io_threaded_reads_processed:0\r\n"
            "io_threaded_writes_processed:0\r\n"
            "reply_buffer_shrinks:0\r\n"
            "reply_buffer_expands:0\r\n"
            "client_query_buffer_limit_disconnections:%llu\r\n"
            "client_output_buffer_limit_disconnections:%llu\r\n"
            "slotd_cross_core_requests:%llu\r\n"
            "slotd_cross_core_backlog_peak:%llu\r\n",
         migrate_out_links(),
         (unsigned long long)t->st.total_error_replies,
         (unsigned long long)t->st.client_qbuf_limit_disconnections,
         (unsigned long long)t->st.client_obuf_limit_disconnections,
         (unsigned long long)t->st.xcore_sent,
         (unsigned long long)t->st.xcore_backlog_peak);
}

/* splitmix64: a replication id distinct from run_id, stable for the process. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static void sec_replication(struct cmd_ctx *c, struct resp_out *b, const struct totals *t)
{
    struct runtime *rt = c->core->rt;
    uint64_t s = rt->run_id_seed ^ 0x7265706C6964ull;   /* "replid" */
    char replid[41];

    (void)t;
    for (int i = 0; i < 40; i += 16) {
        s = mix64(s);
        snprintf(replid + i, sizeof(replid) - (size_t)i, "%016llx", (unsigned long long)s);
    }
    replid[40] = '\0';
    addf(b, "# Replication\r\n"
            "role:master\r\n"
            "connected_slaves:0\r\n"
            "master_failover_state:no-failover\r\n"
            "master_replid:%s\r\n"
            "master_replid2:0000000000000000000000000000000000000000\r\n"
            "master_repl_offset:0\r\n"
            "second_repl_offset:-1\r\n"
            "repl_backlog_active:0\r\n"
            "repl_backlog_size:%lld\r\n"
            "repl_backlog_first_byte_offset:0\r\n"
            "repl_backlog_histlen:0\r\n",
         replid, config_live()->repl_backlog_size);
}

static void sec_cpu(struct cmd_ctx *c, struct resp_out *b, const struct totals *t)
{
    struct rusage self, children, thread;

    (void)c;
    (void)t;
    memset(&self, 0, sizeof(self));
    memset(&children, 0, sizeof(children));
    memset(&thread, 0, sizeof(thread));
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    getrusage(RUSAGE_THREAD, &thread);
    addf(b, "# CPU\r\n"
            "used_cpu_sys:%ld.%06ld\r\n"
            "used_cpu_user:%ld.%06ld\r\n"
            "used_cpu_sys_children:%ld.%06ld\r\n"
            "used_cpu_user_children:%ld.%06ld\r\n"
            "used_cpu_sys_main_thread:%ld.%06ld\r\n"
            "used_cpu_user_main_thread:%ld.%06ld\r\n",
         (long)self.ru_stime.tv_sec, (long)self.ru_stime.tv_usec,
         (long)self.ru_utime.tv_sec, (long)self.ru_utime.tv_usec,
         (long)children.ru_stime.tv_sec, (long)children.ru_stime.tv_usec,
         (long)children.ru_utime.tv_sec, (long)children.ru_utime.tv_usec,
         (long)thread.ru_stime.tv_sec, (long)thread.ru_stime.tv_usec,
         (long)thread.ru_utime.tv_sec, (long)thread.ru_utime.tv_usec);
}

static void sec_modules(struct cmd_ctx *c, struct resp_out *b, const struct totals *t)
{
    (void)c;
    (void)t;
    addf(b, "# Modules\r\n");
}

static void sec_commandstats(struct cmd_ctx *c, struct resp_out *b, const struct totals *t)
{
    struct runtime *rt = c->core->rt;
    unsigned nids = cmd_count_ids();

    (void)t;
    addf(b, "# Commandstats\r\n");
    for (unsigned id = 0; id < nids; id++) {
        struct cmd_stats sum = { 0, 0, 0, 0 };
        const struct cmd_spec *spec = cmd_by_id(id);
        char name[96];
        uint64_t usec;

        for (unsigned k = 0; k < rt->ncores; k++) {
            const struct cmd_stats *cs;
            if (!rt->cores[k] || !rt->cores[k]->cmdstats)
                continue;
            cs = &rt->cores[k]->cmdstats[id];
            sum.calls += cs->calls;
            sum.ticks += cs->ticks;
            sum.rejected += cs->rejected;
            sum.failed += cs->failed;
        }
        if (!spec || (!sum.calls && !sum.failed && !sum.rejected))
            continue;
        usec = tsc_total_us(sum.ticks);
        addf(b, "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,failed_calls=%llu\r\n",
             cmd_fullname(spec, name, sizeof(name)),
             (unsigned long long)sum.calls, (unsigned long long)usec,
             sum.calls ? (double)usec / (double)sum.calls : 0.0,
             (unsigned long long)sum.rejected, (unsigned long long)sum.failed);
    }
}

static int by_error_name(const void *a, const void *b)
{
    return strcmp(((const struct error_stat *)a)->name, ((const struct error_stat *)b)->name);
}

static void sec_errorstats(struct cmd_ctx *c, struct resp_out *b, const struct totals *t)
{
    struct error_stat sorted[CORE_ERROR_KINDS];

    (void)c;
    /* Redis keeps them in a radix tree: listed in byte order. */
    memcpy(sorted, t->st.errors, t->st.nerrors * sizeof(sorted[0]));
    qsort(sorted, t->st.nerrors, sizeof(sorted[0]), by_error_name);
    addf(b, "# Errorstats\r\n");
    for (unsigned i = 0; i < t->st.nerrors; i++)
        addf(b, "errorstat_%s:count=%llu\r\n", sorted[i].name,
             (unsigned long long)sorted[i].count);
}

/* slotd keeps no latency histograms: the section is empty, as in Redis with
 * latency-tracking off. */
static void sec_latencystats(struct cmd_ctx *c, struct resp_out *b, const struct totals *t)
{
    (void)c;
    (void)t;
    addf(b, "# Latencystats\r\n");
}

static void sec_cluster(struct cmd_ctx *c, struct resp_out *b, const struct totals *t)
{
    (void)c;
    (void)t;
    addf(b, "# Cluster\r\ncluster_enabled:%d\r\n", config_live()->cluster_enabled ? 1 : 0);
}

/* Average remaining TTL in ms of a sample of volatile keys (Redis estimates it
 * from its expiry cycle's samples; this is the same kind of estimate). */
static long long avg_ttl_sample(struct kvt *t, int64_t now_ms, uint64_t *rng,
                                long long *sum, long long *n)
{
    size_t vol = kvt_volatile_count(t);

    for (int i = 0; vol && i < AVG_TTL_SAMPLES; i++) {
        struct kv_entry *e = kvt_random_volatile(t, rng);
        int64_t when = e ? kv_expire(e) : KV_NO_EXPIRE;
        if (when != KV_NO_EXPIRE && when > now_ms) {
            *sum += when - now_ms;
            (*n)++;
        }
    }
    return *n ? *sum / *n : 0;
}

static void sec_keyspace(struct cmd_ctx *c, struct resp_out *b, const struct totals *t)
{
    struct runtime *rt = c->core->rt;
    int ndbs = config_live()->databases;
    uint64_t rng = (uint64_t)c->now_ms * 0x9E3779B97F4A7C15ull | 1;

    (void)t;
    addf(b, "# Keyspace\r\n");
    for (int db = 0; db < ndbs && db < KS_MAX_DBS; db++) {
        long long keys = 0, vkeys = 0, sum = 0, n = 0, avg = 0;

        for (unsigned k = 0; k < rt->ncores; k++) {
            struct shard *s = rt->shards[k];
            if (!s || (unsigned)db >= s->ndbs || !s->db[db])
                continue;
            keys += (long long)kvt_count(s->db[db]);
            vkeys += (long long)kvt_volatile_count(s->db[db]);
            avg = avg_ttl_sample(s->db[db], c->now_ms, &rng, &sum, &n);
        }
        if (keys || vkeys)
            addf(b, "db%d:keys=%lld,expires=%lld,avg_ttl=%lld\r\n", db, keys, vkeys, avg);
    }
}

/* Cross-core descriptors waiting for core k: its inbound rings and what
 * senders hold back for it. */
static uint64_t ring_depth(const struct runtime *rt, unsigned k)
{
    uint64_t d = 0;

    for (unsigned j = 0; j < rt->ncores; j++) {
        const struct core *c = rt->cores[k];
        if (c && c->in[j])
            d += rte_ring_count(c->in[j]);
    }
    return d;
}

static void add_net_counters(struct net_counters *sum, const struct net_counters *n)
{
    const uint64_t *src = (const uint64_t *)n;
    uint64_t *dst = (uint64_t *)sum;

    /* Every field is a uint64_t (counters, gauges, the drop array). */
    for (size_t i = 0; i < sizeof(*n) / sizeof(uint64_t); i++)
        dst[i] += src[i];
}

/* The stacks' counters as INFO dataplane names them, in its order. */
static const struct {
    const char *name;
    size_t off;
} NET_FIELDS[] = {
#define NF(name, field) { name, offsetof(struct net_counters, field) }
    NF("dp_rx_packets", rx_frames),
    NF("dp_rx_bytes", rx_bytes),
    NF("dp_tx_packets", tx_frames),
    NF("dp_tx_bytes", tx_bytes),
    NF("dp_exception_packets", exception_frames),
    NF("dp_arp_requests_sent", arp_requests_sent),
    NF("dp_arp_replies_sent", arp_replies_sent),
    NF("dp_icmp_echo_replies", icmp_echo_replies),
    NF("dp_tcp_segs_in", tcp_segs_in),
    NF("dp_tcp_segs_out", tcp_segs_out),
    NF("dp_tcp_tso_frames", tcp_tso_frames),
    NF("dp_tcp_retransmits", tcp_retransmits),
    NF("dp_tcp_fast_retransmits", tcp_fast_retransmits),
    NF("dp_tcp_rto_fired", tcp_rto_fired),
    NF("dp_tcp_probes_sent", tcp_probes_sent),
    NF("dp_tcp_rsts_sent", tcp_rsts_sent),
    NF("dp_tcp_challenge_acks", tcp_challenge_acks),
    NF("dp_tcp_refusal_acks_limited", tcp_refusal_acks_limited),
    NF("dp_tcp_early_retransmits", tcp_early_retransmits),
    NF("dp_tcp_tlp_sent", tcp_tlp_sent),
    NF("dp_tcp_limited_transmits", tcp_limited_transmits),
    NF("dp_tcp_sack_recoveries", tcp_sack_recoveries),
    NF("dp_tcp_sack_retransmits", tcp_sack_retransmits),
    NF("dp_tcp_sack_rxt_lost", tcp_sack_rxt_lost),
    NF("dp_tcp_sack_blocks_sent", tcp_sack_blocks_sent),
    NF("dp_tcp_sack_blocks_bad", tcp_sack_blocks_bad),
    NF("dp_tcp_conns_open", tcp_conns_open),
    NF("dp_tcp_conns_total", tcp_conns_total),
    NF("dp_tcp_conns_half_open", tcp_conns_half_open),
    NF("dp_tcp_conns_time_wait", tcp_conns_time_wait),
    NF("dp_tcp_conns_reset", tcp_conns_reset),
    NF("dp_tcp_conns_timedout", tcp_conns_timedout),
    NF("dp_tcp_orphans_reset", tcp_orphans_reset),
    NF("dp_tcp_keepalive_probes", tcp_keepalive_probes),
    NF("dp_tcp_keepalive_timeouts", tcp_keepalive_timeouts),
    NF("dp_tcp_buf_bytes", tcp_buf_bytes),
#undef NF
};

/* slotd's own section, not in Redis: the transport and, on DPDK, the port,
 * the stacks' counters summed over the data cores (drop reasons that ever
 * happened, by name), the exception path, then one line per core. Socket
 * mode has nothing beyond the kernel's own counters: it names the transport. */
static void sec_dataplane(struct cmd_ctx *c, struct resp_out *b, const struct totals *t)
{
    struct runtime *rt = c->core->rt;
    struct dpdk_transport_stats sum, cs[CORE_MAX];
    struct dpdk_transport_load busy = { 0 }, load[CORE_MAX] = { { 0 } };
    const struct net_counters *n = &sum.net;
    uint64_t drops = 0, depth = 0;

    (void)t;
    addf(b, "# Dataplane\r\n");
    if (config_live()->dataplane != DATAPLANE_DPDK || !rt->port) {
        addf(b, "dataplane:socket\r\ndataplane_cores:%u\r\n", rt->ncores);
        return;
    }
    memset(&sum, 0, sizeof(sum));
    memset(cs, 0, sizeof(cs));
    for (unsigned k = 0; k < rt->ncores; k++) {
        const struct core *core = rt->cores[k];
        if (!core || !core->dpdk)
            continue;
        dpdk_transport_stats(core->dpdk, &cs[k]);
        add_net_counters(&sum.net, &cs[k].net);
        sum.test_reordered += cs[k].test_reordered;
        sum.test_duplicated += cs[k].test_duplicated;
        sum.test_dup_nomem += cs[k].test_dup_nomem;
        sum.exc_no_path += cs[k].exc_no_path;
        sum.exc_relayed += cs[k].exc_relayed;
        sum.exc_relay_drops += cs[k].exc_relay_drops;
        sum.input_stalls += cs[k].input_stalls;
        dpdk_transport_load(core->dpdk, &load[k]);
        busy.loop_turns += load[k].loop_turns;
        busy.busy_turns += load[k].busy_turns;
        busy.busy_usec += load[k].busy_usec;
        depth += ring_depth(rt, k);
    }
    for (unsigned i = 0; i < NET_DROP__COUNT; i++)
        drops += n->drop.v[i];
    addf(b, "dataplane:dpdk\r\n"
            "dataplane_cores:%u\r\n"
            "dpdk_port:%s\r\n"
            "dpdk_port_id:%u\r\n"
            "dpdk_mtu:%u\r\n"
            "dpdk_offloads:rx_csum=%u,tx_csum=%u,tso=%u,rss=%u\r\n",
         rt->ncores, rt->port->name, rt->port->port_id, rt->port->mtu,
         rt->port->rx_csum, rt->port->tx_csum, rt->port->tso, rt->port->rss);
    for (size_t i = 0; i < sizeof(NET_FIELDS) / sizeof(NET_FIELDS[0]); i++) {
        uint64_t v;

        memcpy(&v, (const char *)n + NET_FIELDS[i].off, sizeof(v));
        addf(b, "%s:%llu\r\n", NET_FIELDS[i].name, (unsigned long long)v);
    }
    addf(b, "dp_input_stalls:%llu\r\ndp_xcore_ring_depth:%llu\r\n",
         (unsigned long long)sum.input_stalls, (unsigned long long)depth);
    addf(b, "dp_loop_turns:%llu\r\ndp_busy_turns:%llu\r\ndp_busy_usec:%llu\r\n",
         (unsigned long long)busy.loop_turns, (unsigned long long)busy.busy_turns,
         (unsigned long long)busy.busy_usec);
    addf(b, "dp_drops:%llu\r\n", (unsigned long long)drops);
    for (unsigned i = 0; i < NET_DROP__COUNT; i++)
        if (n->drop.v[i])
            addf(b, "dp_drop_%s:%llu\r\n", net_drop_name(i), (unsigned long long)n->drop.v[i]);
    addf(b, "dp_exception_no_path:%llu\r\n"
            "dp_exception_relayed:%llu\r\ndp_exception_relay_drops:%llu\r\n"
            "dp_test_reordered:%llu\r\ndp_test_duplicated:%llu\r\ndp_test_dup_nomem:%llu\r\n",
         (unsigned long long)sum.exc_no_path, (unsigned long long)sum.exc_relayed,
         (unsigned long long)sum.exc_relay_drops, (unsigned long long)sum.test_reordered,
         (unsigned long long)sum.test_duplicated, (unsigned long long)sum.test_dup_nomem);
    {
        struct rte_eth_stats ps;
        if (rte_eth_stats_get(rt->port->port_id, &ps) == 0)
            addf(b, "dpdk_port_ipackets:%llu\r\ndpdk_port_opackets:%llu\r\n"
                    "dpdk_port_imissed:%llu\r\ndpdk_port_ierrors:%llu\r\n"
                    "dpdk_port_oerrors:%llu\r\ndpdk_port_rx_nombuf:%llu\r\n",
                 (unsigned long long)ps.ipackets, (unsigned long long)ps.opackets,
                 (unsigned long long)ps.imissed, (unsigned long long)ps.ierrors,
                 (unsigned long long)ps.oerrors, (unsigned long long)ps.rx_nombuf);
    }
    if (rt->exc) {
        struct exc_counters x;
        exc_counters(rt->exc, &x);
        addf(b, "exc_to_kernel:%llu\r\nexc_from_kernel:%llu\r\n"
                "exc_drop_ring_full:%llu\r\nexc_drop_tap_write:%llu\r\n"
                "exc_drop_port_full:%llu\r\nexc_drop_nomem:%llu\r\n",
             (unsigned long long)x.to_kernel, (unsigned long long)x.from_kernel,
             (unsigned long long)x.drop_ring_full, (unsigned long long)x.drop_tap_write,
             (unsigned long long)x.drop_port_full, (unsigned long long)x.drop_nomem);
    }
    for (unsigned k = 0; k < rt->ncores; k++) {
        const struct net_counters *m = &cs[k].net;
        uint64_t d = 0;
        for (unsigned i = 0; i < NET_DROP__COUNT; i++)
            d += m->drop.v[i];
        addf(b, "core%u:rx_packets=%llu,rx_bytes=%llu,tx_packets=%llu,tx_bytes=%llu,"
                "drops=%llu,retransmits=%llu,conns_open=%llu,conns_total=%llu,ring_depth=%llu,"
                "busy_usec=%llu\r\n",
             k, (unsigned long long)m->rx_frames, (unsigned long long)m->rx_bytes,
             (unsigned long long)m->tx_frames, (unsigned long long)m->tx_bytes,
             (unsigned long long)d, (unsigned long long)m->tcp_retransmits,
             (unsigned long long)m->tcp_conns_open, (unsigned long long)m->tcp_conns_total,
             (unsigned long long)ring_depth(rt, k), (unsigned long long)load[k].busy_usec);
    }
}

typedef void section_fn(struct cmd_ctx *c, struct resp_out *b, const struct totals *t);

/* Redis 7.0's order. `dflt`: part of "INFO" / "INFO default". */
static const struct {
    const char *name, *alias;
    section_fn *fn;
    int dflt;
} SECTIONS[] = {
    { "server", NULL, sec_server, 1 },
    { "clients", NULL, sec_clients, 1 },
    { "memory", NULL, sec_memory, 1 },
    { "persistence", NULL, sec_persistence, 1 },
    { "stats", NULL, sec_stats, 1 },
    { "replication", NULL, sec_replication, 1 },
    { "cpu", NULL, sec_cpu, 1 },
    { "modules", "module_list", sec_modules, 1 },
    { "commandstats", NULL, sec_commandstats, 0 },
    { "errorstats", NULL, sec_errorstats, 1 },
    { "latencystats", NULL, sec_latencystats, 0 },
    { "cluster", NULL, sec_cluster, 1 },
    { "keyspace", NULL, sec_keyspace, 1 },
    /* slotd's own, after Redis's: INFO and INFO default stay as 7.0 prints them */
    { "dataplane", NULL, sec_dataplane, 0 },
};
#define NSECTIONS (sizeof(SECTIONS) / sizeof(SECTIONS[0]))

void cmd_info(struct cmd_ctx *c)
{
    unsigned char want[NSECTIONS] = { 0 };
    struct resp_out text;
    struct totals *t;
    int any = 0;

    if (c->argc == 1) {
        for (size_t i = 0; i < NSECTIONS; i++)
            want[i] = (unsigned char)SECTIONS[i].dflt;
    }
    for (int j = 1; j < c->argc; j++) {
        const struct slice *a = &c->argv[j];
        int all = slice_eq_nocase(a, "all") || slice_eq_nocase(a, "everything");

        for (size_t i = 0; i < NSECTIONS; i++) {
            if (all || (slice_eq_nocase(a, "default") && SECTIONS[i].dflt) ||
                slice_eq_nocase(a, SECTIONS[i].name) ||
                (SECTIONS[i].alias && slice_eq_nocase(a, SECTIONS[i].alias)))
                want[i] = 1;
        }
    }

    t = mem_alloc(sizeof(*t));
    if (!t) {
        resp_add_error(c->out, ERR_OOM);
        return;
    }
    sum_everything(c->core->rt, t);
    resp_out_init(&text, 2);
    for (size_t i = 0; i < NSECTIONS; i++) {
        if (!want[i])
            continue;
        if (any)
            resp_add_raw(&text, "\r\n", 2);
        SECTIONS[i].fn(c, &text, t);
        any = 1;
    }
    if (text.oom)
        resp_add_error(c->out, ERR_OOM);
    else
        resp_add_verbatim(c->out, text.buf ? text.buf : "", text.len, "txt");
    resp_out_free(&text);
    mem_free(t);
}
