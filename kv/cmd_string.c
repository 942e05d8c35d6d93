/* cmd_string — the string commands (Redis t_string.c semantics, 7.0 replies).
 *
 * Runs on the data core that owns the key, or under the all-cores barrier for
 * MGET/MSET/MSETNX: every key goes through ks_* (or ks_table) on its own, so a
 * multi-key command never assumes two keys share a table.
 *
 * Encodings follow Redis so OBJECT ENCODING agrees: SET-like stores pick
 * int/embstr/raw from the bytes (ks_set_string); APPEND and SETRANGE leave the
 * value raw (Redis unshares it into a raw sds); INCR family stores int;
 * INCRBYFLOAT stores embstr/raw by length even when the text is an integer.
 *
 * Entries may move on every kvt call documented "may move": a pointer is
 * never used after such a call except the one it returned. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "keyspace.h"
#include "../dataplane/config.h"

/* Redis object.c OBJ_ENCODING_EMBSTR_SIZE_LIMIT */
#define EMBSTR_MAX 44
/* Redis util.h MAX_LONG_DOUBLE_CHARS: room for any %.17Lf of a finite value */
#define LD_CHARS (5 * 1024)

/* SET/GETEX option bits (Redis t_string.c OBJ_* names) */
enum {
    OPT_NX = 1 << 0,
    OPT_XX = 1 << 1,
    OPT_GET = 1 << 2,
    OPT_KEEPTTL = 1 << 3,
    OPT_PERSIST = 1 << 4,
    OPT_EX = 1 << 5,
    OPT_PX = 1 << 6,
    OPT_EXAT = 1 << 7,
    OPT_PXAT = 1 << 8,
};
#define OPT_ANY_EXPIRE (OPT_EX | OPT_PX | OPT_EXAT | OPT_PXAT)

enum { PARSE_FOR_SET, PARSE_FOR_GETEX };

/* Option names compare as Redis compares them, as C strings (strcasecmp):
 * an argument ends at its first NUL, so "NX\0junk" is NX. */
static int opt_eq(const struct slice *s, const char *lit)
{
    const char *z = memchr(s->p, '\0', s->len);
    struct slice name = { s->p, z ? (size_t)(z - s->p) : s->len };

    return slice_eq_nocase(&name, lit);
}

static uint64_t max_string_len(void)
{
    return (uint64_t)config_live()->proto_max_bulk_len;
}

/* WRONGTYPE check, written now so other value types slot in later. */
static int not_string(struct cmd_ctx *c, struct kv_entry *e)
{
    if (kv_type(e) == KV_TYPE_STRING)
        return 0;
    resp_add_error(c->out, ERR_WRONGTYPE);
    return 1;
}

static void reply_value(struct cmd_ctx *c, struct kv_entry *e)
{
    resp_add_bulk(c->out, kv_val(e), kv_vlen(e));
}

/* Redis checkStringLength: a string may not grow past proto-max-bulk-len. */
static int too_long(struct cmd_ctx *c, uint64_t have, uint64_t add)
{
    uint64_t total = have + add;

    if (total < have || total > max_string_len()) {
        resp_add_error(c->out, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return 1;
    }
    return 0;
}

static void reply_expire_error(struct cmd_ctx *c)
{
    resp_add_errorf(c->out, "ERR invalid expire time in '%s' command", c->cmd->name);
}

/* Redis parseExtendedStringArgumentsOrReply: options from argv[3] (SET) or
 * argv[2] (GETEX). Each option is refused (syntax error) when it clashes with
 * one already seen; repeating EX/PX/... itself is allowed, the last wins. */
static int parse_options(struct cmd_ctx *c, int first, int kind, unsigned *flags,
                         int *expire_at)
{
    *flags = 0;
    *expire_at = 0;
    for (int j = first; j < c->argc; j++) {
        const struct slice *o = &c->argv[j];
        int has_next = j + 1 < c->argc;
        unsigned f = *flags;

        if (kind == PARSE_FOR_SET && opt_eq(o, "nx") && !(f & OPT_XX)) {
            *flags |= OPT_NX;
        } else if (kind == PARSE_FOR_SET && opt_eq(o, "xx") && !(f & OPT_NX)) {
            *flags |= OPT_XX;
        } else if (kind == PARSE_FOR_SET && opt_eq(o, "get")) {
            *flags |= OPT_GET;
        } else if (kind == PARSE_FOR_SET && opt_eq(o, "keepttl") &&
                   !(f & (OPT_PERSIST | OPT_ANY_EXPIRE))) {
            *flags |= OPT_KEEPTTL;
        } else if (kind == PARSE_FOR_GETEX && opt_eq(o, "persist") &&
                   !(f & (OPT_KEEPTTL | OPT_ANY_EXPIRE))) {
            *flags |= OPT_PERSIST;
        } else if (has_next && opt_eq(o, "ex") &&
                   !(f & (OPT_KEEPTTL | OPT_PERSIST | OPT_PX | OPT_EXAT | OPT_PXAT))) {
            *flags |= OPT_EX;
            *expire_at = ++j;
        } else if (has_next && opt_eq(o, "px") &&
                   !(f & (OPT_KEEPTTL | OPT_PERSIST | OPT_EX | OPT_EXAT | OPT_PXAT))) {
            *flags |= OPT_PX;
            *expire_at = ++j;
        } else if (has_next && opt_eq(o, "exat") &&
                   !(f & (OPT_KEEPTTL | OPT_PERSIST | OPT_EX | OPT_PX | OPT_PXAT))) {
            *flags |= OPT_EXAT;
            *expire_at = ++j;
        } else if (has_next && opt_eq(o, "pxat") &&
                   !(f & (OPT_KEEPTTL | OPT_PERSIST | OPT_EX | OPT_PX | OPT_EXAT))) {
            *flags |= OPT_PXAT;
            *expire_at = ++j;
        } else {
            resp_add_error(c->out, ERR_SYNTAX);
            return -1;
        }
    }
    return 0;
}

/* Redis getExpireMillisecondsOrReply: the absolute unix ms for EX/PX/EXAT/PXAT.
 * Zero and negatives are refused, and so is any value that overflows once
 * scaled to ms or offset by now. */
static int expire_arg(struct cmd_ctx *c, const struct slice *arg, unsigned flags, int64_t *when)
{
    int seconds = (flags & (OPT_EX | OPT_EXAT)) != 0;
    int relative = (flags & (OPT_EX | OPT_PX)) != 0;
    long long v;

    if (cmd_arg_ll(c, arg, &v) < 0)
        return -1;
    if (v <= 0 || (seconds && v > LLONG_MAX / 1000))
        goto bad;
    if (seconds)
        v *= 1000;
    if (relative) {
        if (v > LLONG_MAX - c->now_ms)
            goto bad;
        v += c->now_ms;
    }
    *when = v;
    return 0;
bad:
    reply_expire_error(c);
    return -1;
}

/* Reply the current value as GET does; -1 (error replied) on a wrong type. */
static int reply_get(struct cmd_ctx *c, const struct slice *key)
{
    struct kv_entry *e = ks_lookup_read(c, key);

    if (!e) {
        resp_add_null(c->out);
        return 0;
    }
    if (not_string(c, e))
        return -1;
    reply_value(c, e);
    return 0;
}

/* Redis setGenericCommand. `ok`/`abort` choose the replies SETNX uses
 * (:1 / :0) instead of +OK / null. */
static void set_generic(struct cmd_ctx *c, unsigned flags, const struct slice *key,
                        const struct slice *val, const struct slice *expire,
                        int int_replies)
{
    int64_t when = 0;
    struct kv_entry *e;

    if (expire && expire_arg(c, expire, flags, &when) < 0)
        return;
    if ((flags & OPT_GET) && reply_get(c, key) < 0)
        return;
    if (flags & (OPT_NX | OPT_XX)) {
        int found = ks_lookup_write(c, key) != NULL;

        if (((flags & OPT_NX) && found) || ((flags & OPT_XX) && !found)) {
            if (!(flags & OPT_GET)) {
                if (int_replies)
                    resp_add_int(c->out, 0);
                else
                    resp_add_null(c->out);
            }
            return;
        }
    }
    e = ks_set_string(c, key, val->p, val->len, (flags & OPT_KEEPTTL) != 0);
    if (!e)
        goto oom;
    ks_dirty(c, 1);
    if (expire && ks_set_expire(c, key, e, when) < 0) {
        /* a key without the TTL asked for would outlive its welcome */
        ks_delete(c, key);
        goto oom;
    }
    if (flags & OPT_GET)
        return;
    if (int_replies)
        resp_add_int(c->out, 1);
    else
        resp_add_ok(c->out);
    return;
oom:
    if (!(flags & OPT_GET))
        resp_add_error(c->out, ERR_OOM);
}

void cmd_get(struct cmd_ctx *c)
{
    reply_get(c, &c->argv[1]);
}

void cmd_set(struct cmd_ctx *c)
{
    unsigned flags;
    int ex;

    if (parse_options(c, 3, PARSE_FOR_SET, &flags, &ex) < 0)
        return;
    set_generic(c, flags, &c->argv[1], &c->argv[2], ex ? &c->argv[ex] : NULL, 0);
}

void cmd_setnx(struct cmd_ctx *c)
{
    set_generic(c, OPT_NX, &c->argv[1], &c->argv[2], NULL, 1);
}

void cmd_setex(struct cmd_ctx *c)
{
    set_generic(c, OPT_EX, &c->argv[1], &c->argv[3], &c->argv[2], 0);
}

void cmd_psetex(struct cmd_ctx *c)
{
    set_generic(c, OPT_PX, &c->argv[1], &c->argv[3], &c->argv[2], 0);
}

void cmd_getset(struct cmd_ctx *c)
{
    if (reply_get(c, &c->argv[1]) < 0)
        return;
    /* The old value is already answered; a failed store keeps it, and the
     * client sees the value it would have replaced. */
    if (ks_set_string(c, &c->argv[1], c->argv[2].p, c->argv[2].len, 0))
        ks_dirty(c, 1);
}

void cmd_getdel(struct cmd_ctx *c)
{
    struct kv_entry *e = ks_lookup_read(c, &c->argv[1]);

    if (!e) {
        resp_add_null(c->out);
        return;
    }
    if (not_string(c, e))
        return;
    reply_value(c, e);
    kvt_delete_entry(ks_table(c, &c->argv[1]), e);
    ks_dirty(c, 1);
}

void cmd_getex(struct cmd_ctx *c)
{
    const struct slice *key = &c->argv[1];
    unsigned flags;
    int ex;
    int64_t when = 0;
    struct kv_entry *e;

    if (parse_options(c, 2, PARSE_FOR_GETEX, &flags, &ex) < 0)
        return;
    e = ks_lookup_read(c, key);
    if (!e) {
        resp_add_null(c->out);
        return;
    }
    if (not_string(c, e))
        return;
    if (ex && expire_arg(c, &c->argv[ex], flags, &when) < 0)
        return;
    reply_value(c, e);
    if (ex) {
        /* a past EXAT/PXAT deletes: ks_set_expire does so at when <= now */
        if (ks_set_expire(c, key, e, when) >= 0)
            ks_dirty(c, 1);
    } else if ((flags & OPT_PERSIST) && kv_expire(e) != KV_NO_EXPIRE) {
        (void)kvt_set_expire(ks_table(c, key), e, KV_NO_EXPIRE);
        ks_dirty(c, 1);
    }
}

/* Keys ahead of the one looked up: the bucket of key j+2 and the entry of
 * key j+1 are on their way while key j is read (client.c does the same
 * across a pipeline's commands). */
#define MGET_AHEAD 2
#define MGET_RING 4

void cmd_mget(struct cmd_ctx *c)
{
    const struct kvt *t[MGET_RING] = { NULL };
    struct kvt_hint h[MGET_RING];

    resp_add_array(c->out, c->argc - 1);
    for (int j = 1; j < c->argc && j <= MGET_AHEAD; j++)
        t[j & (MGET_RING - 1)] = ks_prefetch(c, &c->argv[j], &h[j & (MGET_RING - 1)]);
    for (int j = 1; j < c->argc; j++) {
        int ahead = j + MGET_AHEAD, next = (j + 1) & (MGET_RING - 1);
        struct kv_entry *e;

        if (ahead < c->argc)
            t[ahead & (MGET_RING - 1)] = ks_prefetch(c, &c->argv[ahead],
                                                     &h[ahead & (MGET_RING - 1)]);
        if (j + 1 < c->argc && t[next])
            kvt_prefetch_entry(t[next], &h[next]);
        if (t[j & (MGET_RING - 1)]) {
            c->hinted_key = &c->argv[j];
            c->hint = &h[j & (MGET_RING - 1)];
        }
        e = ks_lookup_read(c, &c->argv[j]);

        /* MGET answers null for a key of another type, never WRONGTYPE */
        if (!e || kv_type(e) != KV_TYPE_STRING)
            resp_add_null(c->out);
        else
            reply_value(c, e);
    }
    c->hinted_key = NULL;
}

static int mset_all(struct cmd_ctx *c)
{
    for (int j = 1; j < c->argc; j += 2) {
        if (!ks_set_string(c, &c->argv[j], c->argv[j + 1].p, c->argv[j + 1].len, 0)) {
            resp_add_error(c->out, ERR_OOM);
            return -1;
        }
    }
    ks_dirty(c, (unsigned)((c->argc - 1) / 2));
    return 0;
}

void cmd_mset(struct cmd_ctx *c)
{
    if (c->argc % 2 == 0) {
        cmd_reply_arity(c);
        return;
    }
    if (mset_all(c) == 0)
        resp_add_ok(c->out);
}

void cmd_msetnx(struct cmd_ctx *c)
{
    if (c->argc % 2 == 0) {
        cmd_reply_arity(c);
        return;
    }
    for (int j = 1; j < c->argc; j += 2) {
        if (ks_lookup_write(c, &c->argv[j])) {
            resp_add_int(c->out, 0);
            return;
        }
    }
    if (mset_all(c) == 0)
        resp_add_int(c->out, 1);
}

void cmd_append(struct cmd_ctx *c)
{
    const struct slice *key = &c->argv[1], *add = &c->argv[2];
    struct kv_entry *e = ks_lookup_write(c, key);
    size_t old;

    if (!e) {
        /* a new key is stored like SET would store it (int/embstr/raw) */
        if (!ks_set_string(c, key, add->p, add->len, 0)) {
            resp_add_error(c->out, ERR_OOM);
            return;
        }
        ks_dirty(c, 1);
        resp_add_int(c->out, (long long)add->len);
        return;
    }
    if (not_string(c, e))
        return;
    old = kv_vlen(e);
    if (too_long(c, old, add->len))
        return;
    e = kvt_resize_value(ks_table(c, key), e, old + add->len);
    if (!e) {
        resp_add_error(c->out, ERR_OOM);
        return;
    }
    if (add->len)
        memcpy(kv_val(e) + old, add->p, add->len);
    kv_set_enc(e, KV_ENC_RAW);
    ks_dirty(c, 1);
    resp_add_int(c->out, (long long)kv_vlen(e));
}

void cmd_strlen(struct cmd_ctx *c)
{
    struct kv_entry *e = ks_lookup_read(c, &c->argv[1]);

    if (!e) {
        resp_add_int(c->out, 0);
        return;
    }
    if (not_string(c, e))
        return;
    resp_add_int(c->out, (long long)kv_vlen(e));
}

/* Redis incrDecrCommand: the stored value must be a canonical long long. */
static void incr_by(struct cmd_ctx *c, long long incr)
{
    const struct slice *key = &c->argv[1];
    struct kv_entry *e = ks_lookup_write(c, key);
    long long v = 0;
    char buf[24];
    int n;

    if (e) {
        if (not_string(c, e))
            return;
        if (!str_to_ll(kv_val(e), kv_vlen(e), &v)) {
            resp_add_error(c->out, ERR_NOT_INT);
            return;
        }
    }
    if ((incr < 0 && v < 0 && incr < LLONG_MIN - v) ||
        (incr > 0 && v > 0 && incr > LLONG_MAX - v)) {
        resp_add_error(c->out, ERR_OVERFLOW);
        return;
    }
    v += incr;
    n = ll_to_str(buf, v);
    if (e)
        e = kvt_set_value(ks_table(c, key), e, buf, (size_t)n, KV_ENC_INT);  /* keeps TTL */
    else
        e = ks_set_string(c, key, buf, (size_t)n, 0);
    if (!e) {
        resp_add_error(c->out, ERR_OOM);
        return;
    }
    ks_dirty(c, 1);
    resp_add_int(c->out, v);
}

void cmd_incr(struct cmd_ctx *c)
{
    incr_by(c, 1);
}

void cmd_decr(struct cmd_ctx *c)
{
    incr_by(c, -1);
}

void cmd_incrby(struct cmd_ctx *c)
{
    long long incr;

    if (cmd_arg_ll(c, &c->argv[2], &incr) < 0)
        return;
    incr_by(c, incr);
}

void cmd_decrby(struct cmd_ctx *c)
{
    long long decr;

    if (cmd_arg_ll(c, &c->argv[2], &decr) < 0)
        return;
    if (decr == LLONG_MIN) {
        resp_add_error(c->out, "ERR decrement would overflow");
        return;
    }
    incr_by(c, -decr);
}

/* Redis ld2string in human-friendly mode (what INCRBYFLOAT stores): %.17Lf,
 * trailing zeros and a bare '.' dropped, "-0" written "0". Finite input only. */
static size_t format_long_double(char *buf, size_t cap, long double v)
{
    int r = snprintf(buf, cap, "%.17Lf", v);
    size_t l;

    if (r < 0 || (size_t)r + 1 > cap)
        return 0;
    l = (size_t)r;
    if (memchr(buf, '.', l)) {
        while (buf[l - 1] == '0')
            l--;
        if (buf[l - 1] == '.')
            l--;
    }
    if (l == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        l = 1;
    }
    return l;
}

void cmd_incrbyfloat(struct cmd_ctx *c)
{
    const struct slice *key = &c->argv[1];
    struct kv_entry *e = ks_lookup_write(c, key);
    long double v = 0, incr;
    char buf[LD_CHARS];
    size_t n;

    if (e) {
        struct slice cur = { kv_val(e), kv_vlen(e) };

        if (not_string(c, e))
            return;
        if (cmd_arg_long_double(c, &cur, &v) < 0)
            return;
    }
    if (cmd_arg_long_double(c, &c->argv[2], &incr) < 0)
        return;
    v += incr;
    if (isnan(v) || isinf(v)) {
        resp_add_error(c->out, "ERR increment would produce NaN or Infinity");
        return;
    }
    n = format_long_double(buf, sizeof(buf), v);
    /* Redis makes the new value with createStringObject: embstr or raw by
     * length, never int, even for "3". */
    if (e) {
        e = kvt_set_value(ks_table(c, key), e, buf, n, n <= EMBSTR_MAX ? KV_ENC_EMBSTR : KV_ENC_RAW);
    } else {
        e = ks_set_string(c, key, buf, n, 0);
        if (e)
            kv_set_enc(e, n <= EMBSTR_MAX ? KV_ENC_EMBSTR : KV_ENC_RAW);
    }
    if (!e) {
        resp_add_error(c->out, ERR_OOM);
        return;
    }
    ks_dirty(c, 1);
    resp_add_bulk(c->out, buf, n);
}

void cmd_getrange(struct cmd_ctx *c)
{
    long long start, end, len;
    struct kv_entry *e;
    const char *p;

    if (cmd_arg_ll(c, &c->argv[2], &start) < 0 || cmd_arg_ll(c, &c->argv[3], &end) < 0)
        return;
    e = ks_lookup_read(c, &c->argv[1]);
    if (!e) {
        resp_add_bulk(c->out, "", 0);
        return;
    }
    if (not_string(c, e))
        return;
    p = kv_val(e);
    len = (long long)kv_vlen(e);
    /* Redis getrangeCommand, step by step: both negative and reversed is
     * empty at once; negatives count from the end, then clamp to the string. */
    if (start < 0 && end < 0 && start > end) {
        resp_add_bulk(c->out, "", 0);
        return;
    }
    if (start < 0)
        start += len;
    if (end < 0)
        end += len;
    if (start < 0)
        start = 0;
    if (end < 0)
        end = 0;
    if (end >= len)
        end = len - 1;
    if (len == 0 || start > end) {
        resp_add_bulk(c->out, "", 0);
        return;
    }
    resp_add_bulk(c->out, p + start, (size_t)(end - start + 1));
}

void cmd_setrange(struct cmd_ctx *c)
{
    const struct slice *key = &c->argv[1], *val = &c->argv[3];
    struct kvt *t = ks_table(c, key);
    long long offset;
    struct kv_entry *e;
    size_t need;
    int created = 0;

    if (cmd_arg_ll(c, &c->argv[2], &offset) < 0)
        return;
    if (offset < 0) {
        resp_add_error(c->out, "ERR offset is out of range");
        return;
    }
    e = ks_lookup_write(c, key);
    if (!e) {
        if (val->len == 0) {
            resp_add_int(c->out, 0);
            return;
        }
        if (too_long(c, (uint64_t)offset, val->len))
            return;
        e = ks_set_string(c, key, "", 0, 0);
        if (!e)
            goto oom;
        created = 1;
    } else {
        if (not_string(c, e))
            return;
        if (val->len == 0) {
            resp_add_int(c->out, (long long)kv_vlen(e));
            return;
        }
        if (too_long(c, (uint64_t)offset, val->len))
            return;
    }
    need = (size_t)offset + val->len;
    if (need > kv_vlen(e)) {
        struct kv_entry *grown = kvt_resize_value(t, e, need);

        if (!grown) {
            if (created)
                kvt_delete_entry(t, e);
            goto oom;
        }
        e = grown;
    }
    memcpy(kv_val(e) + offset, val->p, val->len);
    kv_set_enc(e, KV_ENC_RAW);
    kvt_value_written(t, e);
    ks_dirty(c, 1);
    resp_add_int(c->out, (long long)kv_vlen(e));
    return;
oom:
    resp_add_error(c->out, ERR_OOM);
}
