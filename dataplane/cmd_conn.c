/* cmd_conn — connection and server commands: PING ECHO QUIT SELECT RESET AUTH
 * HELLO, CLIENT *, TIME, SHUTDOWN, DEBUG, SLOWLOG *, MONITOR. Replies are
 * byte-identical to redis-server 7.0 (CLIENT SETINFO follows 7.2).
 *
 * Every handler runs on the calling connection's core (CMD_CONN) and may change
 * that client (c->client). CLIENT LIST / KILL, SLOWLOG and DEBUG run under the
 * all-cores barrier: they read every core's clients, slowlog ring or (DEBUG
 * DIGEST) shard while the other cores are parked, and write to another core
 * only to flag a client CLIENT_CLOSE_ASAP or to empty a slowlog ring. INFO is
 * in cmd_info.c and the COMMAND family in cmd_command.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../kv/commands.h"
#include "../kv/digest.h"
#include "client.h"
#include "command_meta.h"
#include "config.h"
#include "core.h"
#include "log.h"
#include "mem.h"
#include "multi.h"
#include "slowlog.h"

#define REDIS_VERSION "7.0.15"          /* the version slotd answers as */
#define SLOWLOG_DEFAULT_GET 10          /* Redis slowlogCommand default count */

/* "<CONTAINER> HELP" exactly as 7.0 words it (generated command_meta.c). */
static void reply_help(struct cmd_ctx *c, const char *container)
{
    const struct command_help *h = command_meta_help(container);

    if (h)
        resp_add_raw(c->out, h->resp, h->len);
    else
        resp_add_error(c->out, "ERR no help available");
}

/* Redis's addReplySubcommandSyntaxError: the subcommand as typed. */
static void reply_subcommand_syntax(struct cmd_ctx *c, const char *container)
{
    int n = c->argv[1].len > 128 ? 128 : (int)c->argv[1].len;

    resp_add_errorf(c->out,
                    "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try %s HELP.",
                    n, c->argv[1].p, container);
}

/* A copy of a slice as a C string (mem_alloc'd), NULL on ENOMEM. */
static char *slice_dup(const struct slice *s)
{
    char *p = mem_alloc(s->len + 1);

    if (p) {
        memcpy(p, s->p, s->len);
        p[s->len] = '\0';
    }
    return p;
}

/* Redis validateClientAttr: printable ASCII without space ('!'..'~'). */
static int attr_valid(const struct slice *s)
{
    for (size_t i = 0; i < s->len; i++)
        if ((unsigned char)s->p[i] < '!' || (unsigned char)s->p[i] > '~')
            return 0;
    return 1;
}

/* Replace *dst with a copy of s (NULL when s is empty). -ENOMEM leaves *dst. */
static int set_attr(char **dst, const struct slice *s)
{
    char *v = NULL;

    if (s->len) {
        v = slice_dup(s);
        if (!v)
            return -ENOMEM;
    }
    mem_free(*dst);
    *dst = v;
    return 0;
}

/* Redis clientSetNameOrReply. 0, or -1 with the error reply written. */
static int set_name_or_reply(struct cmd_ctx *c, const struct slice *name)
{
    if (!attr_valid(name)) {
        resp_add_error(c->out, "ERR Client names cannot contain spaces, newlines or special characters.");
        return -1;
    }
    if (set_attr(&c->client->name, name) != 0) {
        resp_add_error(c->out, ERR_OOM);
        return -1;
    }
    return 0;
}

/* Compare without an early exit, so the time taken does not tell how many
 * leading bytes of a guess were right (Redis time_independent_strcmp). */
static int secret_eq(const char *secret, const struct slice *guess)
{
    size_t n = strlen(secret);
    unsigned char diff = (unsigned char)(n != guess->len);

    for (size_t i = 0; i < guess->len; i++)
        diff |= (unsigned char)(guess->p[i] ^ (i < n ? secret[i] : 0));
    return diff == 0;
}

/* slotd has one user, "default", with requirepass as its only password (or
 * nopass when requirepass is unset), as Redis without ACL rules. */
static int check_user(const struct slice *user, const struct slice *pass)
{
    const char *rp = config_live()->requirepass;

    if (user->len != 7 || memcmp(user->p, "default", 7) != 0)   /* names are case-sensitive */
        return 0;
    return rp == NULL || secret_eq(rp, pass);
}

void cmd_ping(struct cmd_ctx *c)
{
    if (c->argc > 2)
        cmd_reply_arity(c);
    else if (c->argc == 1)
        resp_add_simple(c->out, "PONG");
    else
        resp_add_bulk(c->out, c->argv[1].p, c->argv[1].len);
}

void cmd_echo(struct cmd_ctx *c)
{
    resp_add_bulk(c->out, c->argv[1].p, c->argv[1].len);
}

void cmd_quit(struct cmd_ctx *c)
{
    resp_add_ok(c->out);
    c->client->flags |= CLIENT_CLOSE_AFTER_REPLY;
}

void cmd_select(struct cmd_ctx *c)
{
    const struct config *cfg = config_live();
    long long id;

    if (!str_to_ll(c->argv[1].p, c->argv[1].len, &id)) {
        resp_add_error(c->out, ERR_NOT_INT);
        return;
    }
    if (id < INT32_MIN || id > INT32_MAX) {   /* Redis getIntFromObjectOrReply */
        resp_add_error(c->out, "ERR value is out of range, value must between -2147483648 and 2147483647");
        return;
    }
    if (cfg->cluster_enabled && id != 0) {
        resp_add_error(c->out, "ERR SELECT is not allowed in cluster mode");
        return;
    }
    if (id < 0 || id >= cfg->databases) {
        resp_add_error(c->out, ERR_DB_INDEX);
        return;
    }
    c->client->db = (unsigned)id;
    c->db = (unsigned)id;
    resp_add_ok(c->out);
}

static void set_proto(struct cmd_ctx *c, int proto)
{
    c->client->proto = (uint8_t)proto;
    c->client->out.proto = (uint8_t)proto;
    c->out->proto = (uint8_t)proto;   /* this reply may sit in a queued buffer */
}

static void leave_monitor(struct client *cl)
{
    if (cl->flags & CLIENT_MONITOR) {
        cl->flags &= ~(uint32_t)CLIENT_MONITOR;
        atomic_fetch_sub_explicit(&cl->core->rt->monitors, 1, memory_order_relaxed);
    }
}

void cmd_reset(struct cmd_ctx *c)
{
    struct client *cl = c->client;

    leave_monitor(cl);
    /* 7.0 clearClientConnectionState: the transaction and every WATCH */
    multi_discard(cl);
    cl->db = 0;
    c->db = 0;
    set_proto(c, 2);
    mem_free(cl->name);
    cl->name = NULL;
    cl->authenticated = config_live()->requirepass == NULL;
    cl->flags &= ~(uint32_t)(CLIENT_ASKING | CLIENT_READONLY);
    resp_add_simple(c->out, "RESET");
}

void cmd_auth(struct cmd_ctx *c)
{
    static const struct slice def = { "default", 7 };
    const struct slice *user = &def, *pass = &c->argv[1];

    if (c->argc > 3) {
        resp_add_error(c->out, ERR_SYNTAX);
        return;
    }
    if (c->argc == 2) {
        if (config_live()->requirepass == NULL) {
            resp_add_error(c->out, "ERR AUTH <password> called without any password "
                           "configured for the default user. Are you sure your "
                           "configuration is correct?");
            return;
        }
    } else {
        user = &c->argv[1];
        pass = &c->argv[2];
    }
    if (!check_user(user, pass)) {
        resp_add_error(c->out, "WRONGPASS invalid username-password pair or user is disabled.");
        return;
    }
    c->client->authenticated = 1;
    resp_add_ok(c->out);
}

void cmd_hello(struct cmd_ctx *c)
{
    const struct config *cfg = config_live();
    struct client *cl = c->client;
    long long ver = 0;
    int j = 1;

    if (c->argc >= 2) {
        if (!str_to_ll(c->argv[1].p, c->argv[1].len, &ver)) {
            resp_add_error(c->out, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (ver < 2 || ver > 3) {
            resp_add_error(c->out, "NOPROTO unsupported protocol version");
            return;
        }
        j = 2;
    }
    /* Options take effect one by one, as in Redis: a SETNAME before a bad
     * option stays applied. */
    for (; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        const struct slice *opt = &c->argv[j];

        if (slice_eq_nocase(opt, "auth") && more >= 2) {
            if (!check_user(&c->argv[j + 1], &c->argv[j + 2])) {
                resp_add_error(c->out, "WRONGPASS invalid username-password pair or user is disabled.");
                return;
            }
            cl->authenticated = 1;
            j += 2;
        } else if (slice_eq_nocase(opt, "setname") && more) {
            if (set_name_or_reply(c, &c->argv[j + 1]) != 0)
                return;
            j++;
        } else {
            resp_add_errorf(c->out, "ERR Syntax error in HELLO option '%.*s'",
                            (int)opt->len, opt->p);
            return;
        }
    }
    if (!cl->authenticated) {
        resp_add_error(c->out, "NOAUTH HELLO must be called with the client already "
                       "authenticated, otherwise the HELLO AUTH <user> <pass> option can "
                       "be used to authenticate the client and select the RESP protocol "
                       "version at the same time");
        return;
    }
    if (ver)
        set_proto(c, (int)ver);
    resp_add_map(c->out, 7);
    resp_add_bulk_str(c->out, "server");
    resp_add_bulk_str(c->out, "redis");
    resp_add_bulk_str(c->out, "version");
    resp_add_bulk_str(c->out, REDIS_VERSION);
    resp_add_bulk_str(c->out, "proto");
    resp_add_int(c->out, cl->proto);
    resp_add_bulk_str(c->out, "id");
    resp_add_int(c->out, (long long)cl->id);
    resp_add_bulk_str(c->out, "mode");
    resp_add_bulk_str(c->out, cfg->cluster_enabled ? "cluster" : "standalone");
    resp_add_bulk_str(c->out, "role");
    resp_add_bulk_str(c->out, "master");
    resp_add_bulk_str(c->out, "modules");
    resp_add_array(c->out, 0);
}

/* --- CLIENT ------------------------------------------------------------- */

void cmd_client_id(struct cmd_ctx *c)
{
    resp_add_int(c->out, (long long)c->client->id);
}

void cmd_client_setname(struct cmd_ctx *c)
{
    if (set_name_or_reply(c, &c->argv[2]) == 0)
        resp_add_ok(c->out);
}

void cmd_client_getname(struct cmd_ctx *c)
{
    if (c->client->name)
        resp_add_bulk_str(c->out, c->client->name);
    else
        resp_add_null(c->out);
}

/* Redis 7.2 clientSetinfoCommand. */
void cmd_client_setinfo(struct cmd_ctx *c)
{
    const struct slice *attr = &c->argv[2], *val = &c->argv[3];
    char **dst;

    if (slice_eq_nocase(attr, "lib-name")) {
        dst = &c->client->lib_name;
    } else if (slice_eq_nocase(attr, "lib-ver")) {
        dst = &c->client->lib_ver;
    } else {
        resp_add_errorf(c->out, "ERR Unrecognized option '%.*s'", (int)attr->len, attr->p);
        return;
    }
    if (!attr_valid(val)) {
        resp_add_errorf(c->out, "ERR %.*s cannot contain spaces, newlines or special characters.",
                        (int)attr->len, attr->p);
        return;
    }
    if (set_attr(dst, val) != 0) {
        resp_add_error(c->out, ERR_OOM);
        return;
    }
    resp_add_ok(c->out);
}

void cmd_client_info(struct cmd_ctx *c)
{
    struct resp_out line;

    resp_out_init(&line, 2);
    client_format_info(c->client, &line, c->now_ms);
    resp_add_raw(&line, "\n", 1);
    if (line.oom)
        resp_add_error(c->out, ERR_OOM);
    else
        resp_add_verbatim(c->out, line.buf, line.len, "txt");
    resp_out_free(&line);
}

/* Client classes of CLIENT LIST/KILL TYPE. Every slotd client is "normal"
 * (MONITOR clients too, as Redis reports them). */
enum { CTYPE_ANY = -1, CTYPE_NORMAL, CTYPE_REPLICA, CTYPE_PUBSUB, CTYPE_MASTER };

static int client_type_by_name(const struct slice *s)
{
    if (slice_eq_nocase(s, "normal"))
        return CTYPE_NORMAL;
    if (slice_eq_nocase(s, "slave") || slice_eq_nocase(s, "replica"))
        return CTYPE_REPLICA;
    if (slice_eq_nocase(s, "pubsub"))
        return CTYPE_PUBSUB;
    if (slice_eq_nocase(s, "master"))
        return CTYPE_MASTER;
    return -2;
}

static int live(const struct client *cl)
{
    return !(cl->flags & CLIENT_CLOSED);
}

static int by_id(const void *a, const void *b)
{
    const struct client *x = *(struct client *const *)a, *y = *(struct client *const *)b;

    return x->id < y->id ? -1 : x->id > y->id;
}

/* Every live client of every core, oldest first (Redis lists in connection
 * order). Under the barrier. Returns the count, or -ENOMEM. */
static long all_clients(struct cmd_ctx *c, struct client ***out)
{
    struct runtime *rt = c->core->rt;
    struct client **v, *cl;
    size_t n = 0, i = 0;

    for (unsigned k = 0; k < rt->ncores; k++)
        n += rt->cores[k] ? rt->cores[k]->nclients : 0;
    v = mem_alloc((n ? n : 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    for (unsigned k = 0; k < rt->ncores; k++)
        for (cl = rt->cores[k] ? rt->cores[k]->clients : NULL; cl && i < n; cl = cl->next)
            if (live(cl))
                v[i++] = cl;
    qsort(v, i, sizeof(*v), by_id);
    *out = v;
    return (long)i;
}

void cmd_client_list(struct cmd_ctx *c)
{
    struct client **v = NULL;
    struct resp_out text;
    long long *ids = NULL;
    int nids = 0, type = CTYPE_ANY;
    long n;

    if (c->argc == 4 && slice_eq_nocase(&c->argv[2], "type")) {
        type = client_type_by_name(&c->argv[3]);
        if (type == -2) {
            resp_add_errorf(c->out, "ERR Unknown client type '%.*s'",
                            (int)c->argv[3].len, c->argv[3].p);
            return;
        }
    } else if (c->argc > 3 && slice_eq_nocase(&c->argv[2], "id")) {
        nids = c->argc - 3;
        ids = mem_alloc((size_t)nids * sizeof(*ids));
        if (!ids) {
            resp_add_error(c->out, ERR_OOM);
            return;
        }
        for (int j = 0; j < nids; j++) {
            if (!str_to_ll(c->argv[3 + j].p, c->argv[3 + j].len, &ids[j])) {
                resp_add_error(c->out, "ERR Invalid client ID");
                mem_free(ids);
                return;
            }
        }
    } else if (c->argc != 2) {
        resp_add_error(c->out, ERR_SYNTAX);
        return;
    }

    n = all_clients(c, &v);
    if (n < 0) {
        mem_free(ids);
        resp_add_error(c->out, ERR_OOM);
        return;
    }
    resp_out_init(&text, 2);
    if (ids) {
        /* Redis answers in the order the ids were given, repeats included. */
        for (int j = 0; j < nids; j++) {
            for (long i = 0; i < n; i++) {
                if ((long long)v[i]->id == ids[j]) {
                    client_format_info(v[i], &text, c->now_ms);
                    resp_add_raw(&text, "\n", 1);
                    break;
                }
            }
        }
    } else if (type == CTYPE_ANY || type == CTYPE_NORMAL) {
        for (long i = 0; i < n; i++) {
            client_format_info(v[i], &text, c->now_ms);
            resp_add_raw(&text, "\n", 1);
        }
    }
    if (text.oom)
        resp_add_error(c->out, ERR_OOM);
    else
        resp_add_verbatim(c->out, text.buf ? text.buf : "", text.len, "txt");
    resp_out_free(&text);
    mem_free(v);
    mem_free(ids);
}

/* Close another client: one on this core closes now; one on a parked core
 * is put on its core's flush list, which closes it right after the barrier. */
static void kill_client(struct cmd_ctx *c, struct client *victim)
{
    victim->flags |= CLIENT_CLOSE_ASAP;
    if (victim->core == c->core)
        client_flush(victim);
    else
        client_schedule_flush(victim);
}

void cmd_client_kill(struct cmd_ctx *c)
{
    const struct slice *addr = NULL, *laddr = NULL;
    struct client **v = NULL, *self = c->client;
    long long id = 0;
    int type = CTYPE_ANY, skipme = 1, killed = 0, close_self = 0;
    long n;

    if (c->argc == 3) {
        addr = &c->argv[2];
        skipme = 0;   /* the old form may kill the caller */
    } else {
        for (int i = 2; i < c->argc; i += 2) {
            const struct slice *opt = &c->argv[i], *val;

            if (i + 1 >= c->argc) {
                resp_add_error(c->out, ERR_SYNTAX);
                return;
            }
            val = &c->argv[i + 1];
            if (slice_eq_nocase(opt, "id")) {
                if (!str_to_ll(val->p, val->len, &id) || id < 1) {
                    resp_add_error(c->out, "ERR client-id should be greater than 0");
                    return;
                }
            } else if (slice_eq_nocase(opt, "type")) {
                type = client_type_by_name(val);
                if (type == -2) {
                    resp_add_errorf(c->out, "ERR Unknown client type '%.*s'",
                                    (int)val->len, val->p);
                    return;
                }
            } else if (slice_eq_nocase(opt, "addr")) {
                addr = val;
            } else if (slice_eq_nocase(opt, "laddr")) {
                laddr = val;
            } else if (slice_eq_nocase(opt, "user")) {
                if (val->len != 7 || memcmp(val->p, "default", 7) != 0) {
                    resp_add_errorf(c->out, "ERR No such user '%.*s'", (int)val->len, val->p);
                    return;
                }
            } else if (slice_eq_nocase(opt, "skipme")) {
                if (slice_eq_nocase(val, "yes")) {
                    skipme = 1;
                } else if (slice_eq_nocase(val, "no")) {
                    skipme = 0;
                } else {
                    resp_add_error(c->out, ERR_SYNTAX);
                    return;
                }
            } else {
                resp_add_error(c->out, ERR_SYNTAX);
                return;
            }
        }
    }

    n = all_clients(c, &v);
    if (n < 0) {
        resp_add_error(c->out, ERR_OOM);
        return;
    }
    for (long i = 0; i < n; i++) {
        struct client *cl = v[i];
        const char *peer = cl->conn ? cl->conn->peer : "?:0";
        const char *local = cl->conn ? cl->conn->local : "?:0";

        if (addr && (strlen(peer) != addr->len || memcmp(peer, addr->p, addr->len) != 0))
            continue;
        if (laddr && (strlen(local) != laddr->len || memcmp(local, laddr->p, laddr->len) != 0))
            continue;
        if (type != CTYPE_ANY && type != CTYPE_NORMAL)
            continue;
        if (id != 0 && cl->id != (uint64_t)id)
            continue;
        if (cl == self && skipme)
            continue;
        if (cl == self)
            close_self = 1;
        else
            kill_client(c, cl);
        killed++;
    }
    mem_free(v);

    if (c->argc == 3) {
        if (killed == 0)
            resp_add_error(c->out, "ERR No such client");
        else
            resp_add_ok(c->out);
    } else {
        resp_add_int(c->out, killed);
    }
    /* Only after the reply is queued: the caller still gets it. */
    if (close_self)
        self->flags |= CLIENT_CLOSE_AFTER_REPLY;
}

void cmd_client_help(struct cmd_ctx *c)
{
    reply_help(c, "client");
}

/* --- TIME, SHUTDOWN, DEBUG, MONITOR ---------------------------------------- */

void cmd_time(struct cmd_ctx *c)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    resp_add_array(c->out, 2);
    resp_add_bulk_ll(c->out, (long long)ts.tv_sec);
    resp_add_bulk_ll(c->out, (long long)(ts.tv_nsec / 1000));
}

void cmd_shutdown(struct cmd_ctx *c)
{
    struct runtime *rt = c->core->rt;
    int save = 0, nosave = 0, abort_ = 0;

    for (int j = 1; j < c->argc; j++) {
        const struct slice *a = &c->argv[j];

        if (slice_eq_nocase(a, "nosave"))
            nosave = 1;
        else if (slice_eq_nocase(a, "save"))
            save = 1;
        else if (slice_eq_nocase(a, "now") || slice_eq_nocase(a, "force"))
            continue;
        else if (slice_eq_nocase(a, "abort"))
            abort_ = 1;
        else {
            resp_add_error(c->out, ERR_SYNTAX);
            return;
        }
    }
    if ((abort_ && c->argc != 2) || (save && nosave)) {
        resp_add_error(c->out, ERR_SYNTAX);
        return;
    }
    if (abort_) {
        /* slotd shuts down at once, so there is never one to abort. */
        resp_add_error(c->out, "ERR No shutdown in progress.");
        return;
    }
    /* Redis exits without replying; the connection closes with the process.
     * slotd keeps no RDB, so SAVE has nothing to write. */
    c->client->flags |= CLIENT_CLOSE_AFTER_REPLY;   /* run nothing pipelined after it */
    atomic_store_explicit(&rt->shutdown, 1, memory_order_release);
    for (unsigned i = 0; i < rt->ncores; i++)
        if (rt->cores[i] && rt->cores[i] != c->core)
            core_wake(rt->cores[i]);
}

/* Whether this client may run DEBUG (enable-debug-command: no / yes / local). */
static int debug_allowed(const struct client *cl)
{
    int mode = config_live()->enable_debug_command;
    const char *peer;

    if (mode == PROTECTED_YES)
        return 1;
    if (mode != PROTECTED_LOCAL || !cl->conn)
        return 0;
    peer = cl->conn->peer;
    return strncmp(peer, "127.", 4) == 0 || strncmp(peer, "[::1]:", 6) == 0 ||
           strncmp(peer, "::1:", 4) == 0;
}

void cmd_debug(struct cmd_ctx *c)
{
    const struct slice *sub = &c->argv[1];

    if (!debug_allowed(c->client)) {
        resp_add_error(c->out, "ERR DEBUG command not allowed. If the enable-debug-command "
                       "option is set to \"local\", you can run it from a local connection, "
                       "otherwise you need to set this option in the configuration file, "
                       "and then restart the server.");
        return;
    }
    if (c->argc == 2 && slice_eq_nocase(sub, "help")) {
        reply_help(c, "debug");
    } else if (c->argc == 3 && slice_eq_nocase(sub, "sleep")) {
        /* Redis: strtod of the argument (garbage reads as 0), then sleep the
         * whole server; here too, as DEBUG holds the all-cores barrier. */
        char buf[64];
        size_t n = c->argv[2].len < sizeof(buf) - 1 ? c->argv[2].len : sizeof(buf) - 1;
        double secs;

        memcpy(buf, c->argv[2].p, n);
        buf[n] = '\0';
        secs = strtod(buf, NULL);
        if (secs > 0) {
            struct timespec ts = { (time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9) };
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
                ;
        }
        resp_add_ok(c->out);
    } else if (c->argc == 3 && slice_eq_nocase(sub, "error")) {
        resp_add_errorf(c->out, "%.*s", (int)c->argv[2].len, c->argv[2].p);
    } else if (c->argc == 2 && slice_eq_nocase(sub, "digest")) {
        digest_reply_dataset(c);
    } else if (slice_eq_nocase(sub, "digest-value")) {
        digest_reply_values(c, 2);
    } else if (c->argc == 3 && slice_eq_nocase(sub, "log")) {
        log_msg(LL_WARNING, "DEBUG LOG: %.*s", (int)c->argv[2].len, c->argv[2].p);
        resp_add_ok(c->out);
    } else {
        reply_subcommand_syntax(c, "DEBUG");
    }
}

void cmd_monitor(struct cmd_ctx *c)
{
    struct client *cl = c->client;

    /* Redis ignores a second MONITOR without a reply. */
    if (cl->flags & CLIENT_MONITOR)
        return;
    cl->flags |= CLIENT_MONITOR;
    atomic_fetch_add_explicit(&c->core->rt->monitors, 1, memory_order_relaxed);
    resp_add_ok(c->out);
}

/* --- SLOWLOG -------------------------------------------------------------- */

static long long slowlog_total(struct runtime *rt)
{
    long long n = 0, max = config_live()->slowlog_max_len;

    for (unsigned k = 0; k < rt->ncores; k++)
        n += rt->cores[k] ? rt->cores[k]->slowlog_len : 0;
    /* Each core keeps up to max-len entries; together they stand for one log
     * of max-len entries, as Redis has. */
    return n < max ? n : (max > 0 ? max : 0);
}

static const struct slowlog_entry *ring_at(const struct core *k, unsigned age)
{
    /* age 0 = newest */
    unsigned idx = (k->slowlog_head + k->slowlog_cap - 1 - age) % k->slowlog_cap;

    return &k->slowlog[idx];
}

void cmd_slowlog_get(struct cmd_ctx *c)
{
    struct runtime *rt = c->core->rt;
    unsigned taken[CORE_MAX] = { 0 };
    long long count = SLOWLOG_DEFAULT_GET, total;

    if (c->argc > 3) {
        reply_subcommand_syntax(c, "SLOWLOG");
        return;
    }
    if (c->argc == 3 &&
        (!str_to_ll(c->argv[2].p, c->argv[2].len, &count) || count < -1)) {
        resp_add_error(c->out, "ERR count should be greater than or equal to -1");
        return;
    }
    total = slowlog_total(rt);
    if (count == -1 || count > total)
        count = total;
    resp_add_array(c->out, count);
    /* Merge the rings newest first: ids come from one counter, so the next
     * entry overall is the highest id among each ring's next-newest. */
    for (long long i = 0; i < count; i++) {
        const struct slowlog_entry *best = NULL;
        unsigned from = 0;

        for (unsigned k = 0; k < rt->ncores; k++) {
            const struct core *core = rt->cores[k];
            const struct slowlog_entry *e;
            if (!core || taken[k] >= core->slowlog_len)
                continue;
            e = ring_at(core, taken[k]);
            if (!best || e->id > best->id) {
                best = e;
                from = k;
            }
        }
        taken[from]++;
        resp_add_array(c->out, 6);
        resp_add_int(c->out, (long long)best->id);
        resp_add_int(c->out, best->time_s);
        resp_add_int(c->out, best->duration_us);
        resp_add_array(c->out, best->argc);
        for (int j = 0; j < best->argc; j++)
            resp_add_bulk(c->out, best->argv[j].p, best->argv[j].len);
        resp_add_bulk_str(c->out, best->peer);
        resp_add_bulk_str(c->out, best->name);
    }
}

void cmd_slowlog_len(struct cmd_ctx *c)
{
    resp_add_int(c->out, slowlog_total(c->core->rt));
}

void cmd_slowlog_reset(struct cmd_ctx *c)
{
    struct runtime *rt = c->core->rt;

    for (unsigned k = 0; k < rt->ncores; k++)
        if (rt->cores[k])
            slowlog_free(rt->cores[k]);
    resp_add_ok(c->out);
}

void cmd_slowlog_help(struct cmd_ctx *c)
{
    reply_help(c, "slowlog");
}
