/* monitor — formats and fans out MONITOR lines.
 *
 * Line (Redis 7.0 replicationFeedMonitors): +<sec>.<usec> [<db> <addr>] "arg" ...
 * with each argument quoted like sdscatrepr. Runs on the connection's core;
 * a line for another core travels as an xreq of kind XREQ_MONITOR whose `out`
 * holds the bytes, and is freed by the receiving core (monitor_deliver). */
#include "monitor.h"

#include <stdio.h>
#include <string.h>

#include "client.h"
#include "core.h"
#include "mem.h"
#include "redact.h"

static void add_repr(struct resp_out *o, const struct slice *s)
{
    char buf[8];

    resp_add_raw(o, "\"", 1);
    for (size_t i = 0; i < s->len; i++) {
        unsigned char ch = (unsigned char)s->p[i];
        switch (ch) {
        case '\\': resp_add_raw(o, "\\\\", 2); break;
        case '"':  resp_add_raw(o, "\\\"", 2); break;
        case '\n': resp_add_raw(o, "\\n", 2); break;
        case '\r': resp_add_raw(o, "\\r", 2); break;
        case '\t': resp_add_raw(o, "\\t", 2); break;
        case '\a': resp_add_raw(o, "\\a", 2); break;
        case '\b': resp_add_raw(o, "\\b", 2); break;
        default:
            if (ch >= 0x20 && ch < 0x7f) {
                resp_add_raw(o, &s->p[i], 1);
            } else {
                snprintf(buf, sizeof(buf), "\\x%02x", ch);
                resp_add_raw(o, buf, 4);
            }
        }
    }
    resp_add_raw(o, "\"", 1);
}

static void append_to_monitors(struct core *core, const struct resp_out *line,
                               const struct client *from)
{
    for (struct client *m = core->clients; m; m = m->next) {
        if (!(m->flags & CLIENT_MONITOR) || m == from || (m->flags & CLIENT_CLOSED))
            continue;
        resp_add_raw(&m->out, line->buf, line->len);
        if (!m->on_flush_list) {
            m->on_flush_list = 1;
            m->flush_next = core->flush_list;
            core->flush_list = m;
        }
    }
}

void monitor_feed_line(struct client *cl, int argc, const struct slice *argv)
{
    struct core *core = cl->core;
    struct runtime *rt = core->rt;
    struct resp_out line;
    struct timespec ts;
    char head[128];
    int n;

    if (atomic_load_explicit(&rt->monitors, memory_order_relaxed) == 0)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    resp_out_init(&line, 2);
    n = snprintf(head, sizeof(head), "+%lld.%06ld [%u %s]", (long long)ts.tv_sec,
                 ts.tv_nsec / 1000, cl->db, cl->conn ? cl->conn->peer : "?");
    resp_add_raw(&line, head, (size_t)n);
    for (int i = 0; i < argc; i++) {
        static const struct slice hidden = { REDACTED, sizeof(REDACTED) - 1 };
        resp_add_raw(&line, " ", 1);
        add_repr(&line, redact_arg(argv, argc, i) ? &hidden : &argv[i]);
    }
    resp_add_raw(&line, "\r\n", 2);
    if (line.oom) {
        resp_out_free(&line);
        return;
    }
    append_to_monitors(core, &line, cl);
    for (unsigned i = 0; i < rt->ncores; i++) {
        struct xreq *r;
        if (i == core->id)
            continue;
        r = mem_calloc(sizeof(*r));
        if (!r)
            break;
        r->kind = XREQ_MONITOR;
        r->origin = core->id;
        r->owner = i;
        r->done = 1;
        resp_out_init(&r->out, 2);
        resp_add_raw(&r->out, line.buf, line.len);
        core_send(core, r);
    }
    resp_out_free(&line);
}

void monitor_deliver(struct core *self, struct xreq *r)
{
    append_to_monitors(self, &r->out, NULL);
    resp_out_free(&r->out);
    mem_free(r);
}
