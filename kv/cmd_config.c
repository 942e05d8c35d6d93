/* cmd_config — CONFIG GET / SET / RESETSTAT / REWRITE / HELP.
 *
 * argv[0] is "CONFIG", argv[1] the subcommand; arity and unknown subcommands
 * are the dispatcher's job (Redis 7.0 arities: get -3, set -4, resetstat 2,
 * rewrite 2, help 2). SET and REWRITE must run under the all-cores barrier:
 * they change or read struct config fields that data cores read without
 * locks. Replies are Redis 7.0's, byte for byte (CONFIG GET is a map, so
 * RESP3 gets '%'). Deliberate difference: for a glob pattern the pairs come
 * in slotd's table order, where Redis's come in its dict's arbitrary order. */
#include <errno.h>
#include <string.h>

#include "cmd.h"
#include "../dataplane/config.h"
#include "../dataplane/core.h"
#include "../dataplane/log.h"


void cmd_config_get(struct cmd_ctx *c)
{
    struct config_kv *kv;
    if (c->argc < 3) {
        cmd_reply_arity(c);
        return;
    }
    int n = config_get(config_live(), c->argv + 2, c->argc - 2, &kv);
    if (n < 0) {
        resp_add_error(c->out, "ERR out of memory");
        return;
    }
    resp_add_map(c->out, n);
    for (int i = 0; i < n; i++) {
        resp_add_bulk(c->out, kv[i].name.p, kv[i].name.len);
        resp_add_bulk(c->out, kv[i].value, kv[i].vlen);
    }
    config_kv_free(kv, n);
}

void cmd_config_set(struct cmd_ctx *c)
{
    char err[CONFIG_ERR_LEN];
    if (c->argc < 4) {
        cmd_reply_arity(c);
        return;
    }
    if (c->argc & 1) {   /* name/value pairs after "CONFIG SET" */
        resp_add_error(c->out, ERR_SYNTAX);
        return;
    }
    struct config *cfg = config_live();
    /* enable-protected-configs local would need the peer address, which the
     * command context does not carry yet: it counts as "no" for now. */
    int allow_protected = cfg->enable_protected_configs == PROTECTED_YES;
    if (config_set(cfg, c->argv + 2, (c->argc - 2) / 2, allow_protected, err, sizeof(err)) < 0)
        resp_add_error(c->out, err);
    else
        resp_add_ok(c->out);
}

void cmd_config_resetstat(struct cmd_ctx *c)
{
    server_reset_stats(c);
    resp_add_ok(c->out);
}

void cmd_config_rewrite(struct cmd_ctx *c)
{
    const struct config *cfg = config_live();
    if (cfg->configfile == NULL) {
        resp_add_error(c->out, "ERR The server is running without a config file");
        return;
    }
    int rc = config_rewrite(cfg, cfg->configfile);
    if (rc < 0) {
        log_msg(LL_WARNING, "CONFIG REWRITE failed: %s", strerror(-rc));
        resp_add_errorf(c->out, "ERR Rewriting config file: %s", strerror(-rc));
        return;
    }
    log_raw(LL_WARNING, "CONFIG REWRITE executed with success.");
    resp_add_ok(c->out);
}

void cmd_config_help(struct cmd_ctx *c)
{
    /* Redis 7.0 configHelpCommand + addReplyHelp framing */
    static const char *const help[] = {
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
    };
    resp_add_array(c->out, (long long)(sizeof(help) / sizeof(help[0])));
    for (size_t i = 0; i < sizeof(help) / sizeof(help[0]); i++)
        resp_add_simple(c->out, help[i]);
}
