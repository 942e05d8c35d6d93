/* slowlog — each data core's ring of commands slower than
 * slowlog-log-slower-than, with Redis 7.0's entry rules.
 *
 * Owned by its core: only that core appends (slowlog_record from core_exec).
 * SLOWLOG GET/LEN/RESET run under the all-cores barrier and may read or free
 * every ring while the owners are parked. Invariants: core->slowlog is a
 * circular array of slowlog_cap entries, the newest at slowlog_head - 1, and
 * slowlog_len <= slowlog_cap <= slowlog-max-len (the capacity grows on demand
 * so a huge max-len costs nothing until it fills). Ids are handed out by one
 * atomic counter, so within one ring they increase from oldest to newest. */
#include "slowlog.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "client.h"
#include "config.h"
#include "core.h"
#include "mem.h"
#include "redact.h"

#define SLOWLOG_MAX_ARGC 32        /* Redis slowlog.h SLOWLOG_ENTRY_MAX_ARGC */
#define SLOWLOG_MAX_STRING 128     /* Redis slowlog.h SLOWLOG_ENTRY_MAX_STRING */
#define SLOWLOG_MIN_CAP 16         /* first allocation: 16 entries, ~2.5 KiB */
#define MORE_BYTES_MAX 48          /* room for "... (<20 digits> more bytes)" */

static void entry_free(struct slowlog_entry *e)
{
    mem_free(e->argv);
    e->argv = NULL;
}

/* Re-lay the ring oldest-first into `cap` slots, dropping the oldest entries
 * that do not fit. 0 or -ENOMEM (ring unchanged). */
static int ring_resize(struct core *core, unsigned cap)
{
    struct slowlog_entry *n = NULL;
    unsigned len = core->slowlog_len, drop = len > cap ? len - cap : 0;
    unsigned oldest = (core->slowlog_head + core->slowlog_cap - len) %
                      (core->slowlog_cap ? core->slowlog_cap : 1);

    if (cap) {
        n = mem_calloc((size_t)cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
    }
    for (unsigned i = 0; i < len; i++) {
        struct slowlog_entry *e = &core->slowlog[(oldest + i) % core->slowlog_cap];
        if (i < drop)
            entry_free(e);
        else
            n[i - drop] = *e;
    }
    mem_free(core->slowlog);
    core->slowlog = n;
    core->slowlog_cap = cap;
    core->slowlog_len = len - drop;
    core->slowlog_head = cap ? core->slowlog_len % cap : 0;
    return 0;
}

/* Argument i as Redis stores it: redacted secrets, the last kept slot replaced
 * by a count of the missing arguments, long strings cut at 128 bytes. Writes
 * into buf (>= 64 bytes) when the text is synthetic; returns the slice. */
static struct slice stored_arg(const struct slice *argv, int argc, int keep, int i,
                               int redact, char *buf, size_t cap, size_t *extra)
{
    struct slice s = argv[i];

    *extra = 0;
    if (keep != argc && i == keep - 1) {
        s.len = (size_t)snprintf(buf, cap, "... (%d more arguments)", argc - keep + 1);
        s.p = buf;
    } else if (redact) {
        s.p = REDACTED;
        s.len = sizeof(REDACTED) - 1;
    } else if (s.len > SLOWLOG_MAX_STRING) {
        *extra = s.len - SLOWLOG_MAX_STRING;
        s.len = SLOWLOG_MAX_STRING;
    }
    return s;
}

void slowlog_record(struct core *core, struct client *client,
                    const struct slice *argv, int argc, int64_t duration_us)
{
    const struct config *cfg = config_live();
    long long max_len = cfg->slowlog_max_len;
    int keep = argc > SLOWLOG_MAX_ARGC ? SLOWLOG_MAX_ARGC : argc;
    struct slowlog_entry *e;
    struct slice *sv;
    char num[64], *p;
    size_t bytes;
    uint64_t id;

    /* Redis numbers the entry before trimming the log to max-len, so an id is
     * used up even when max-len is 0. */
    id = atomic_fetch_add_explicit(&core->rt->slowlog_next_id, 1, memory_order_relaxed);
    if (max_len <= 0) {
        if (core->slowlog_len)
            ring_resize(core, 0);
        return;
    }
    if ((unsigned long long)max_len > UINT32_MAX / 2)
        max_len = UINT32_MAX / 2;
    if (core->slowlog_cap > (unsigned)max_len ||
        (core->slowlog_len == core->slowlog_cap && core->slowlog_cap < (unsigned)max_len)) {
        unsigned cap = core->slowlog_cap > (unsigned)max_len ? (unsigned)max_len
                     : core->slowlog_cap * 2 < SLOWLOG_MIN_CAP ? SLOWLOG_MIN_CAP
                     : core->slowlog_cap * 2;
        if (cap > (unsigned)max_len)
            cap = (unsigned)max_len;
        if (ring_resize(core, cap) != 0 && core->slowlog_cap == 0)
            return;
    }

    bytes = (size_t)keep * sizeof(struct slice);
    for (int i = 0; i < keep; i++) {
        size_t extra;
        struct slice s = stored_arg(argv, argc, keep, i, redact_arg(argv, argc, i),
                                    num, sizeof(num), &extra);
        bytes += s.len + (extra ? MORE_BYTES_MAX : 0);
    }
    sv = mem_alloc(bytes ? bytes : 1);
    if (!sv)
        return;
    p = (char *)(sv + keep);
    for (int i = 0; i < keep; i++) {
        size_t extra;
        struct slice s = stored_arg(argv, argc, keep, i, redact_arg(argv, argc, i),
                                    num, sizeof(num), &extra);
        memcpy(p, s.p, s.len);
        sv[i].p = p;
        sv[i].len = s.len;
        if (extra)
            sv[i].len += (size_t)snprintf(p + s.len, MORE_BYTES_MAX, "... (%zu more bytes)", extra);
        p += sv[i].len;
    }

    /* Full ring: the slot at head holds the oldest entry, which goes. */
    e = &core->slowlog[core->slowlog_head];
    if (core->slowlog_len == core->slowlog_cap)
        entry_free(e);
    else
        core->slowlog_len++;
    core->slowlog_head = (core->slowlog_head + 1) % core->slowlog_cap;

    e->id = id;
    e->time_s = clock_ms() / 1000;   /* Redis stamps the entry after the call */
    e->duration_us = duration_us;
    e->argc = keep;
    e->argv = sv;
    snprintf(e->peer, sizeof(e->peer), "%s", client && client->conn ? client->conn->peer : "");
    snprintf(e->name, sizeof(e->name), "%s", client && client->name ? client->name : "");
}

void slowlog_free(struct core *core)
{
    for (unsigned i = 0; i < core->slowlog_cap; i++)
        entry_free(&core->slowlog[i]);
    mem_free(core->slowlog);
    core->slowlog = NULL;
    core->slowlog_cap = core->slowlog_len = core->slowlog_head = 0;
}
