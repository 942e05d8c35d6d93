/* cmd_command — COMMAND, COMMAND COUNT / LIST / INFO / DOCS / GETKEYS / HELP,
 * covering only the commands in slotd's table (kv/cmd_table.c).
 *
 * The bytes of each COMMAND INFO and COMMAND DOCS entry are redis-server
 * 7.0's own (generated into command_meta.c); a container is answered with
 * just the subcommands slotd implements. A command 7.0 does not describe gets
 * an entry built from its cmd_spec. Stateless: runs on any core, reads only
 * constant tables. Entries are listed in table order (Redis lists in its hash
 * table's order, which differs from run to run). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../kv/commands.h"
#include "../kv/glob.h"
#include "command_meta.h"

#define FULLNAME_MAX 96

static const char *fullname(const struct cmd_spec *s, char *buf)
{
    return cmd_fullname(s, buf, FULLNAME_MAX);
}

/* COMMAND INFO flag names in Redis's order, for entries 7.0 lacks. */
static const struct { uint32_t bit; const char *name; } FLAG_NAMES[] = {
    { CMD_WRITE, "write" }, { CMD_READONLY, "readonly" }, { CMD_DENYOOM, "denyoom" },
    { CMD_ADMIN, "admin" }, { CMD_PUBSUB, "pubsub" }, { CMD_NOSCRIPT, "noscript" },
    { CMD_BLOCKING, "blocking" }, { CMD_LOADING, "loading" }, { CMD_STALE, "stale" },
    { CMD_SKIP_MONITOR, "skip_monitor" }, { CMD_SKIP_SLOWLOG, "skip_slowlog" },
    { CMD_FAST, "fast" }, { CMD_NO_AUTH, "no_auth" },
    { CMD_MAY_REPLICATE, "may_replicate" }, { CMD_NO_MULTI, "no_multi" },
    { CMD_ALLOW_BUSY, "allow_busy" },
};

static void info_head_from_spec(struct resp_out *o, const struct cmd_spec *s, const char *name)
{
    size_t nflags = sizeof(FLAG_NAMES) / sizeof(FLAG_NAMES[0]);
    int n = 0;

    resp_add_bulk_str(o, name);
    resp_add_int(o, s->arity);
    for (size_t i = 0; i < nflags; i++)
        n += (s->flags & FLAG_NAMES[i].bit) != 0;
    resp_add_set(o, n);
    for (size_t i = 0; i < nflags; i++)
        if (s->flags & FLAG_NAMES[i].bit)
            resp_add_simple(o, FLAG_NAMES[i].name);
    resp_add_int(o, s->first_key);
    resp_add_int(o, s->last_key);
    resp_add_int(o, s->key_step);
    resp_add_set(o, 0);   /* ACL categories */
    resp_add_set(o, 0);   /* tips */
    resp_add_set(o, 0);   /* key specs */
}

/* One COMMAND INFO entry: 10 elements, the last the subcommand entries. */
static void add_info_entry(struct resp_out *o, const struct cmd_spec *s)
{
    char name[FULLNAME_MAX];
    const struct command_meta *m = command_meta_find(fullname(s, name));
    long long nsub = 0;

    resp_add_array(o, 10);
    if (m && o->proto == 3)
        resp_add_raw(o, m->info3, m->info3_len);
    else if (m)
        resp_add_raw(o, m->info2, m->info2_len);
    else
        info_head_from_spec(o, s, name);
    for (const struct cmd_spec *sub = s->subcommands; sub && sub->name; sub++)
        nsub++;
    /* Redis 7.0: an empty set when there are none, else an array. */
    if (nsub)
        resp_add_array(o, nsub);
    else
        resp_add_set(o, 0);
    for (const struct cmd_spec *sub = s->subcommands; sub && sub->name; sub++)
        add_info_entry(o, sub);
}

/* One COMMAND DOCS value (the map after the name). */
static void add_docs_value(struct resp_out *o, const struct cmd_spec *s)
{
    char name[FULLNAME_MAX];
    const struct command_meta *m = command_meta_find(fullname(s, name));
    long long nsub = 0;
    unsigned pairs = m ? m->docs_pairs : 0;

    for (const struct cmd_spec *sub = s->subcommands; sub && sub->name; sub++)
        nsub++;
    resp_add_map(o, pairs + (nsub ? 1 : 0));
    if (m && o->proto == 3)
        resp_add_raw(o, m->docs3, m->docs3_len);
    else if (m)
        resp_add_raw(o, m->docs2, m->docs2_len);
    if (!nsub)
        return;
    resp_add_bulk_str(o, "subcommands");
    resp_add_map(o, nsub);
    for (const struct cmd_spec *sub = s->subcommands; sub && sub->name; sub++) {
        resp_add_bulk_str(o, fullname(sub, name));
        add_docs_value(o, sub);
    }
}

/* Redis lookupCommandBySds: "name" or "container|sub", any case. */
static const struct cmd_spec *lookup_full(const struct slice *arg)
{
    const struct cmd_spec *parent = NULL, *s;
    const char *bar = memchr(arg->p, '|', arg->len);
    struct slice name = *arg, sub;

    if (!bar)
        return cmd_lookup(&name, NULL, &parent);
    name.len = (size_t)(bar - arg->p);
    sub.p = bar + 1;
    sub.len = arg->len - name.len - 1;
    if (memchr(sub.p, '|', sub.len))
        return NULL;
    s = cmd_lookup(&name, &sub, &parent);
    return parent ? s : NULL;   /* "get|x" is not a command */
}

void cmd_command(struct cmd_ctx *c)
{
    unsigned n;
    const struct cmd_spec *t = cmd_table(&n);

    resp_add_array(c->out, n);
    for (unsigned i = 0; i < n; i++)
        add_info_entry(c->out, &t[i]);
}

void cmd_command_count(struct cmd_ctx *c)
{
    unsigned n;

    cmd_table(&n);
    resp_add_int(c->out, n);
}

void cmd_command_info(struct cmd_ctx *c)
{
    if (c->argc == 2) {
        cmd_command(c);
        return;
    }
    resp_add_array(c->out, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        const struct cmd_spec *s = lookup_full(&c->argv[i]);
        if (s)
            add_info_entry(c->out, s);
        else
            resp_add_null(c->out);
    }
}

void cmd_command_docs(struct cmd_ctx *c)
{
    char name[FULLNAME_MAX];
    unsigned n;
    const struct cmd_spec *t = cmd_table(&n);
    long long found = 0;

    if (c->argc == 2) {
        resp_add_map(c->out, n);
        for (unsigned i = 0; i < n; i++) {
            resp_add_bulk_str(c->out, t[i].name);
            add_docs_value(c->out, &t[i]);
        }
        return;
    }
    /* Unknown names are left out, so count first. */
    for (int i = 2; i < c->argc; i++)
        found += lookup_full(&c->argv[i]) != NULL;
    resp_add_map(c->out, found);
    for (int i = 2; i < c->argc; i++) {
        const struct cmd_spec *s = lookup_full(&c->argv[i]);
        if (!s)
            continue;
        resp_add_bulk_str(c->out, fullname(s, name));
        add_docs_value(c->out, s);
    }
}

/* Whether `acl` ("@read @string @fast") holds the category `cat` (no '@'). */
static int has_category(const char *acl, const struct slice *cat)
{
    const char *p = acl;

    while (p && *p) {
        const char *end;
        if (*p == '@')
            p++;
        end = strchr(p, ' ');
        if (!end)
            end = p + strlen(p);
        if ((size_t)(end - p) == cat->len && strncasecmp(p, cat->p, cat->len) == 0)
            return 1;
        p = *end ? end + 1 : end;
    }
    return 0;
}

enum { FILTER_NONE, FILTER_MODULE, FILTER_ACLCAT, FILTER_PATTERN };

static int list_match(const struct cmd_spec *s, int kind, const struct slice *arg)
{
    char name[FULLNAME_MAX];
    const struct command_meta *m;

    switch (kind) {
    case FILTER_MODULE:
        return 0;   /* no modules */
    case FILTER_ACLCAT:
        m = command_meta_find(fullname(s, name));
        return m && has_category(m->acl, arg);
    case FILTER_PATTERN:
        fullname(s, name);
        return glob_match(arg->p, arg->len, name, strlen(name), 1);
    default:
        return 1;
    }
}

void cmd_command_list(struct cmd_ctx *c)
{
    char name[FULLNAME_MAX];
    unsigned n;
    const struct cmd_spec *t = cmd_table(&n);
    const struct slice *arg = NULL;
    int kind = FILTER_NONE;
    long long count = 0;
    size_t h;

    if (c->argc == 5 && slice_eq_nocase(&c->argv[2], "filterby")) {
        arg = &c->argv[4];
        if (slice_eq_nocase(&c->argv[3], "module"))
            kind = FILTER_MODULE;
        else if (slice_eq_nocase(&c->argv[3], "aclcat"))
            kind = FILTER_ACLCAT;
        else if (slice_eq_nocase(&c->argv[3], "pattern"))
            kind = FILTER_PATTERN;
    }
    if (c->argc != 2 && kind == FILTER_NONE) {
        resp_add_error(c->out, ERR_SYNTAX);
        return;
    }
    h = resp_add_deferred_array(c->out);
    for (unsigned i = 0; i < n; i++) {
        if (list_match(&t[i], kind, arg)) {
            resp_add_bulk_str(c->out, t[i].name);
            count++;
        }
        for (const struct cmd_spec *sub = t[i].subcommands; sub && sub->name; sub++) {
            if (list_match(sub, kind, arg)) {
                resp_add_bulk_str(c->out, fullname(sub, name));
                count++;
            }
        }
    }
    resp_set_deferred_array(c->out, h, count);
}

void cmd_command_getkeys(struct cmd_ctx *c)
{
    const struct slice *argv = c->argv + 2;
    int argc = c->argc - 2, first, last, step;
    const struct cmd_spec *parent = NULL;
    const struct cmd_spec *s = cmd_lookup(&argv[0], argc > 1 ? &argv[1] : NULL, &parent);
    long long count = 0;

    if (!s) {
        resp_add_error(c->out, "ERR Invalid command specified");
        return;
    }
    if (s->arity >= 0 ? argc != s->arity : argc < -s->arity) {
        resp_add_error(c->out, "ERR Invalid number of arguments specified for command");
        return;
    }
    if (s->first_key <= 0 && !s->getkeys) {
        resp_add_error(c->out, "ERR The command has no key arguments");
        return;
    }
    if (!cmd_key_range(s, argc, argv, &first, &last, &step)) {
        resp_add_error(c->out, "ERR Invalid arguments specified for command");
        return;
    }
    for (int i = first; i <= last; i += step)
        count++;
    resp_add_array(c->out, count);
    for (int i = first; i <= last; i += step)
        resp_add_bulk(c->out, argv[i].p, argv[i].len);
}

void cmd_command_help(struct cmd_ctx *c)
{
    const struct command_help *h = command_meta_help("command");

    if (h)
        resp_add_raw(c->out, h->resp, h->len);
    else
        resp_add_error(c->out, "ERR no help available");
}
