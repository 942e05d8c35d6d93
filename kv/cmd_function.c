/* cmd_function — the FUNCTION subcommands a node without scripting still
 * needs so that `redis-cli --cluster add-node` (7.0) accepts it: redis-cli
 * runs FUNCTION DUMP on an existing node, FUNCTION LIST on the new one (it
 * must be empty), then FUNCTION RESTORE of the dump on the new one.
 *
 * slotd has no scripting engine and so never holds a library: DUMP answers
 * the payload 7.0 produces for no libraries (only the RDB version and the
 * CRC), LIST an empty array, STATS no engine activity, FLUSH OK. RESTORE
 * checks the payload as 7.0 does and accepts it when it holds no library;
 * a library gets "ERR slotd has no scripting engine: cannot restore function
 * libraries", so adding slotd to a cluster that uses functions fails loudly
 * rather than silently dropping them. Replies and errors are 7.0's
 * (functions.c), checked against redis-server 7.0.15.
 *
 * No state: runs on the connection's core. */
#include <stdint.h>
#include <string.h>

#include "commands.h"
#include "../cluster/dump.h"
#include "../dataplane/command_meta.h"

#define RDB_OPCODE_FUNCTION2       245   /* rdb.h: a library, 7.0 GA format */
#define RDB_OPCODE_FUNCTION_PRE_GA 246   /* rdb.h: 7.0 release-candidate format */

static int opt_eq(const struct slice *s, const char *lit)
{
    const char *z = memchr(s->p, '\0', s->len);
    struct slice name = { s->p, z ? (size_t)(z - s->p) : s->len };

    return slice_eq_nocase(&name, lit);
}

/* Redis addReplySubcommandSyntaxError: the subcommand as the client typed it. */
static void subcommand_syntax_error(struct cmd_ctx *c)
{
    const struct slice *sub = &c->argv[1];

    resp_add_errorf(c->out, "ERR unknown subcommand or wrong number of arguments for "
                    "'%.*s'. Try FUNCTION HELP.",
                    (int)(sub->len > 128 ? 128 : sub->len), sub->p);
}

void cmd_function_dump(struct cmd_ctx *c)
{
    uint8_t p[DUMP_FOOTER_LEN];
    uint64_t crc;

    /* no library records, then the footer every DUMP payload ends with */
    p[0] = DUMP_RDB_VERSION & 0xff;
    p[1] = DUMP_RDB_VERSION >> 8;
    crc = dump_crc64(0, p, 2);
    for (int k = 0; k < 8; k++)
        p[2 + k] = (uint8_t)(crc >> (8 * k));
    resp_add_bulk(c->out, p, sizeof(p));
}

void cmd_function_restore(struct cmd_ctx *c)
{
    const uint8_t *p = (const uint8_t *)c->argv[2].p;
    size_t n = c->argv[2].len;

    if (c->argc > 4) {
        subcommand_syntax_error(c);
        return;
    }
    if (c->argc == 4 && !opt_eq(&c->argv[3], "append") && !opt_eq(&c->argv[3], "replace") &&
        !opt_eq(&c->argv[3], "flush")) {
        resp_add_error(c->out, "ERR Wrong restore policy given, value should be either "
                       "FLUSH, APPEND or REPLACE.");
        return;
    }
    if (dump_check_footer(p, n) < 0) {
        resp_add_error(c->out, "ERR DUMP payload version or checksum are wrong");
        return;
    }
    /* 7.0 reads records until only the footer is left; the first record
     * decides here, since slotd can load none (7.0.15 loads the release-
     * candidate record too, so both library opcodes get the same answer). */
    if (n > DUMP_FOOTER_LEN) {
        if (p[0] != RDB_OPCODE_FUNCTION2 && p[0] != RDB_OPCODE_FUNCTION_PRE_GA)
            resp_add_error(c->out, "ERR given type is not a function");
        else
            resp_add_error(c->out, "ERR slotd has no scripting engine: cannot restore "
                           "function libraries");
        return;
    }
    resp_add_ok(c->out);
}

void cmd_function_list(struct cmd_ctx *c)
{
    int with_code = 0, library = 0;

    for (int i = 2; i < c->argc; i++) {
        if (!with_code && opt_eq(&c->argv[i], "withcode")) {
            with_code = 1;
            continue;
        }
        if (!library && opt_eq(&c->argv[i], "libraryname")) {
            if (i >= c->argc - 1) {
                resp_add_error(c->out, "ERR library name argument was not given");
                return;
            }
            library = 1;
            i++;
            continue;
        }
        /* Redis formats the argument as a C string */
        {
            const char *z = memchr(c->argv[i].p, '\0', c->argv[i].len);
            size_t len = z ? (size_t)(z - c->argv[i].p) : c->argv[i].len;
            resp_add_errorf(c->out, "ERR Unknown argument %.*s", (int)len, c->argv[i].p);
        }
        return;
    }
    resp_add_array(c->out, 0);
}

void cmd_function_flush(struct cmd_ctx *c)
{
    if (c->argc > 3) {
        subcommand_syntax_error(c);
        return;
    }
    if (c->argc == 3 && !opt_eq(&c->argv[2], "sync") && !opt_eq(&c->argv[2], "async")) {
        resp_add_error(c->out, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
        return;
    }
    resp_add_ok(c->out);
}

void cmd_function_stats(struct cmd_ctx *c)
{
    resp_add_map(c->out, 2);
    resp_add_bulk_str(c->out, "running_script");
    resp_add_null(c->out);
    resp_add_bulk_str(c->out, "engines");
    resp_add_map(c->out, 1);
    resp_add_bulk_str(c->out, "LUA");
    resp_add_map(c->out, 2);
    resp_add_bulk_str(c->out, "libraries_count");
    resp_add_int(c->out, 0);
    resp_add_bulk_str(c->out, "functions_count");
    resp_add_int(c->out, 0);
}

/* FUNCTION HELP as 7.0 words it (generated command_meta.c). */
void cmd_function_help(struct cmd_ctx *c)
{
    const struct command_help *h = command_meta_help("function");

    if (h)
        resp_add_raw(c->out, h->resp, h->len);
    else
        resp_add_error(c->out, "ERR no help available");
}
