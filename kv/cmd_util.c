/* cmd_util — argument parsing and common replies shared by command handlers,
 * with Redis 7.0's exact acceptance rules and error texts.
 *
 * Stateless; runs on whichever data core executes the command. Number parsing
 * follows Redis util.c: string2ll (integers, strict canonical form) and
 * string2ld (long doubles through strtold, C locale). */
#include "cmd.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Redis util.h MAX_LONG_DOUBLE_CHARS: longer float arguments are rejected. */
#define LD_MAX_CHARS (5 * 1024)

void cmd_reply_arity(struct cmd_ctx *c)
{
    char name[96];

    resp_add_errorf(c->out, "ERR wrong number of arguments for '%s' command",
                    cmd_fullname(c->cmd, name, sizeof(name)));
}

int cmd_arg_ll_msg(struct cmd_ctx *c, const struct slice *s, long long *v, const char *errmsg)
{
    if (str_to_ll(s->p, s->len, v))
        return 0;
    resp_add_error(c->out, errmsg ? errmsg : ERR_NOT_INT);
    return -1;
}

int cmd_arg_ll(struct cmd_ctx *c, const struct slice *s, long long *v)
{
    return cmd_arg_ll_msg(c, s, v, NULL);
}

/* Redis string2ld: strtold over the whole argument; no leading space, no
 * trailing bytes, no NaN; overflow to infinity and underflow to zero are
 * errors, while "inf" spelled out and denormals are accepted. */
static int parse_long_double(const char *p, size_t n, long double *out)
{
    char buf[LD_MAX_CHARS];
    char *end;
    long double x;

    if (n == 0 || n >= sizeof(buf))
        return 0;
    memcpy(buf, p, n);
    buf[n] = '\0';
    if (isspace((unsigned char)buf[0]))
        return 0;
    errno = 0;
    x = strtold(buf, &end);
    if ((size_t)(end - buf) != n)
        return 0;
    if (errno == ERANGE && (isinf(x) || x == 0))
        return 0;
    if (errno == EINVAL || isnan(x))
        return 0;
    *out = x;
    return 1;
}

int cmd_arg_long_double(struct cmd_ctx *c, const struct slice *s, long double *v)
{
    if (parse_long_double(s->p, s->len, v))
        return 0;
    resp_add_error(c->out, ERR_NOT_FLOAT);
    return -1;
}
