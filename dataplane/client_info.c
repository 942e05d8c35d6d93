/* client_info — the CLIENT LIST / CLIENT INFO line of one client, with Redis
 * 7.0's fields in 7.0's order, then 7.2's lib-name= and lib-ver=.
 *
 * Runs on the client's own core, or on the all-cores barrier holder while the
 * client's core is parked: it only reads the client (and the dirty flags of
 * its WATCH nodes, atomic). Fields slotd has no counterpart for (pub/sub,
 * tracking) print the value an idle Redis client shows, so parsers that split
 * on spaces and '=' see every key. */
#include "client.h"

#include <stdio.h>
#include <string.h>

#include "../kv/cmd.h"
#include "core.h"
#include "multi.h"

#define INFO_LINE_MAX 1024   /* fixed fields; name/lib strings are added apart */

/* Redis's flag letters, in catClientInfoString's order, for the states slotd
 * has: O monitor, x in MULTI, d a watched key changed, c close after reply,
 * A close asap; N when none. */
static void flag_letters(const struct client *cl, char *buf)
{
    char *p = buf;

    if (cl->flags & CLIENT_MONITOR)
        *p++ = 'O';
    if (cl->multi)
        *p++ = 'x';
    if (multi_info_dirty(cl))
        *p++ = 'd';
    if (cl->flags & CLIENT_CLOSE_AFTER_REPLY)
        *p++ = 'c';
    if (cl->flags & CLIENT_CLOSE_ASAP)
        *p++ = 'A';
    if (p == buf)
        *p++ = 'N';
    *p = '\0';
}

/* Argument bytes of the command being run; 0 between commands, as Redis
 * shows an idle client. */
static size_t argv_mem(const struct client *cl)
{
    size_t sum = 0;

    for (int i = 0; i < cl->argc; i++)
        sum += cl->argv[i].len;
    return sum;
}

static void add_str(struct resp_out *o, const char *key, const char *val)
{
    resp_add_raw(o, key, strlen(key));
    if (val)
        resp_add_raw(o, val, strlen(val));
}

void client_format_info(struct client *cl, struct resp_out *o, int64_t now_ms)
{
    char line[INFO_LINE_MAX], flags[8], cmdname[96];
    const struct cmd_spec *last = NULL;
    const struct xreq *r;
    size_t obl = cl->out.len - cl->out_sent, omem = 0, oll = 0, argmem = argv_mem(cl);
    size_t totmem, multimem = multi_info_mem(cl);
    int n;

    for (r = cl->pend_head; r; r = r->next) {
        oll++;
        /* A request still on its owner core is that core's to write (CLIENT
         * INFO takes no barrier): its buffer counts once it is back. */
        if (r->done || !r->remote)
            omem += r->out.cap;
    }
    totmem = sizeof(*cl) + cl->qcap + cl->out.cap + omem + argmem + multimem +
             (size_t)cl->parser.cap * 2 * sizeof(size_t);
    if (cl->commands || argmem)
        last = cmd_by_id(cl->last_cmd_id);
    flag_letters(cl, flags);

    n = snprintf(line, sizeof(line), "id=%llu addr=%s laddr=%s fd=%d",
                 (unsigned long long)cl->id,
                 cl->conn ? cl->conn->peer : "?:0",
                 cl->conn ? cl->conn->local : "?:0",
                 cl->conn ? cl->conn->fd : -1);
    resp_add_raw(o, line, (size_t)n);
    add_str(o, " name=", cl->name);
    n = snprintf(line, sizeof(line),
                 " age=%lld idle=%lld flags=%s db=%u sub=0 psub=0 ssub=0 multi=%d"
                 " qbuf=%zu qbuf-free=%zu argv-mem=%zu multi-mem=%zu rbs=%zu rbp=%zu"
                 " obl=%zu oll=%zu omem=%zu tot-mem=%zu events=%s%s cmd=%s"
                 " user=default redir=-1 resp=%u",
                 (long long)(now_ms / 1000 - cl->ctime_ms / 1000),
                 (long long)(now_ms / 1000 - cl->last_ms / 1000),
                 flags, cl->db, multi_info_count(cl),
                 cl->qlen - cl->qpos, cl->qcap - cl->qlen, argmem, multimem,
                 cl->out.cap, cl->out.len,
                 obl, oll, omem, totmem,
                 cl->conn && !(cl->flags & CLIENT_INPUT_PAUSED) ? "r" : "",
                 cl->conn && obl ? "w" : "",
                 last ? cmd_fullname(last, cmdname, sizeof(cmdname)) : "NULL",
                 (unsigned)cl->proto);
    resp_add_raw(o, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
    add_str(o, " lib-name=", cl->lib_name);
    add_str(o, " lib-ver=", cl->lib_ver);
}
