/* fuzz_resp — libFuzzer target for resp_parse and resp_write.
 *
 * Build: clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -Idataplane
 *        tests/fuzz/fuzz_resp.c dataplane/resp_parse.c dataplane/resp_write.c
 *        tests/unit/mem_shim_test.c -lm
 *
 * Input: byte 0 picks limits and options, byte 1 seeds the chunk sizes, the
 * rest is what a client sends. The stream is parsed twice the way the
 * connection layer does it (keep unconsumed bytes, drop consumed ones): once
 * as a single read, once in pseudo-random chunks landing in a freshly moved
 * buffer each time, optionally with an allocation failure injected and
 * retried; the chunked run may start with a parser already warmed by a
 * 16-argument command, so the one-pass path sees even the first command.
 * A third run, whole, is forced onto the exact path (exact_only). All runs
 * must yield the same commands and the same error, and wherever
 * resp_parse_plain takes a command (between commands) resp_parse must
 * return the same one. Every
 * command is then answered with each writer in RESP2 and RESP3, and the
 * output must parse back as well-formed replies. The shim's byte counter
 * must return to zero after each input. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../dataplane/mem.h"
#include "../../dataplane/resp_parse.h"
#include "../../dataplane/resp_write.h"

/* Failure injection from tests/unit/mem_shim_test.c. Weak: when the test
 * links the real dataplane/mem.c instead, it is NULL and the out-of-memory
 * cases are skipped. */
void mem_shim_fail_after(long n) __attribute__((weak));
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

struct bytes {
    char *s;
    size_t len, cap;
};

static void b_add(struct bytes *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->s = realloc(b->s, b->cap);
        CHECK(b->s != NULL);
    }
    if (n)
        memcpy(b->s + b->len, p, n);
    b->len += n;
}

static void b_num(struct bytes *b, char tag, unsigned long long v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "%c%llu;", tag, v);

    b_add(b, tmp, (size_t)n);
}

/* ---- reply validator ----------------------------------------------------- */

/* Offset just past the CRLF-terminated line starting at i, or 0 if the line
 * is malformed (a bare CR or LF inside, or no end). */
static size_t line_end(const char *s, size_t n, size_t i)
{
    for (size_t k = i; k < n; k++) {
        if (s[k] == '\r')
            return (k + 1 < n && s[k + 1] == '\n') ? k + 2 : 0;
        if (s[k] == '\n')
            return 0;
    }
    return 0;
}

static int is_int_text(const char *s, size_t n)
{
    size_t i = 0;

    if (n > 0 && s[0] == '-')
        i = 1;
    if (i == n || n > 20)
        return 0;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* Validates one reply at s[*at], advancing *at. */
static int valid_reply(const char *s, size_t n, size_t *at, int proto, int depth)
{
    size_t i = *at, e;
    long long cnt;
    char t;

    if (i >= n || depth > 8)
        return 0;
    t = s[i];
    e = line_end(s, n, i + 1);
    if (e == 0)
        return 0;
    switch (t) {
    case '+':
    case '-':
        *at = e;
        return 1;
    case ':':
        *at = e;
        return is_int_text(s + i + 1, e - i - 3);
    case '$':
    case '=':
        if (t == '=' && proto != 3)
            return 0;
        if (!is_int_text(s + i + 1, e - i - 3))
            return 0;
        cnt = strtoll(s + i + 1, NULL, 10);
        if (cnt == -1 && t == '$' && proto == 2) {
            *at = e;
            return 1;
        }
        if (cnt < 0 || (unsigned long long)cnt > n - e || n - e - (size_t)cnt < 2)
            return 0;
        if (t == '=' && (cnt < 4 || s[e + 3] != ':'))
            return 0;
        if (s[e + cnt] != '\r' || s[e + cnt + 1] != '\n')
            return 0;
        *at = e + (size_t)cnt + 2;
        return 1;
    case '*':
    case '%':
    case '~':
        if (t != '*' && proto != 3)
            return 0;
        if (!is_int_text(s + i + 1, e - i - 3))
            return 0;
        cnt = strtoll(s + i + 1, NULL, 10);
        *at = e;
        if (cnt == -1 && t == '*' && proto == 2)
            return 1;
        if (cnt < 0)
            return 0;
        if (t == '%')
            cnt *= 2;
        for (long long k = 0; k < cnt; k++)
            if (!valid_reply(s, n, at, proto, depth + 1))
                return 0;
        return 1;
    case '_':
        *at = e;
        return proto == 3 && e == i + 3;
    case '#':
        *at = e;
        return proto == 3 && e == i + 4 && (s[i + 1] == 't' || s[i + 1] == 'f');
    case ',':
        *at = e;
        return proto == 3 && e > i + 3;
    default:
        return 0;
    }
}

static void check_replies(const struct resp_out *o)
{
    size_t at = 0;

    while (at < o->len)
        CHECK(valid_reply(o->buf, o->len, &at, o->proto, 0));
    CHECK(at == o->len);
}

/* ---- writers ------------------------------------------------------------- */

static void answer(const struct resp_parser *p, int proto)
{
    struct resp_out o;
    size_t outer;
    char tmp[128];

    resp_out_init(&o, proto);
    outer = resp_add_deferred_array(&o);
    for (int i = 0; i < p->argc; i++) {
        const struct slice *a = &p->argv[i];
        size_t n = a->len < sizeof(tmp) - 1 ? a->len : sizeof(tmp) - 1;
        size_t inner = resp_add_deferred_array(&o);
        unsigned char sel = a->len ? (unsigned char)a->p[0] : 0;

        memcpy(tmp, a->p, n);
        tmp[n] = '\0';
        resp_add_bulk(&o, a->p, a->len);
        resp_add_error(&o, tmp);
        resp_add_errorf(&o, "ERR arg %d '%s'", i, tmp);
        resp_add_double(&o, strtod(tmp, NULL));
        resp_add_long_double_bulk(&o, strtold(tmp, NULL));
        resp_add_int(&o, (long long)a->len * (sel & 1 ? -1 : 1));
        resp_add_bulk_ll(&o, strtoll(tmp, NULL, 10));
        resp_add_verbatim(&o, a->p, a->len, sel & 2 ? tmp : "txt");
        resp_add_bool(&o, sel & 4);
        resp_add_bulk_str(&o, sel & 8 ? NULL : tmp);
        /* Status text must hold no CR/LF: only send it when it does not. */
        if (memchr(tmp, '\r', n) == NULL && memchr(tmp, '\n', n) == NULL)
            resp_add_simple(&o, tmp);
        else
            resp_add_ok(&o);
        resp_add_map(&o, 1);
        resp_add_null(&o);
        resp_add_null_array(&o);
        resp_add_set(&o, 2);
        resp_add_raw(&o, ":1\r\n", 4);
        resp_add_array(&o, 0);
        resp_set_deferred_array(&o, inner, 13);   /* the 13 replies above, nested ones counted once */
    }
    resp_set_deferred_array(&o, outer, p->argc);
    CHECK(!o.oom);
    check_replies(&o);
    resp_out_free(&o);
}

/* ---- parser runs --------------------------------------------------------- */

/* One pass over the stream: chunk sizes come from `seed` (0 = one read).
 * With `fail_at` >= 0 that allocation fails once; the out-of-memory answer
 * is retried, as the connection layer would after freeing memory. */
enum path_mode { PATH_COLD, PATH_EXACT, PATH_WARM };

#define WARM_ARGS 16

static void warm_up(struct resp_parser *p)
{
    char in[8 + WARM_ARGS * 7];
    size_t n = (size_t)snprintf(in, sizeof(in), "*%d\r\n", WARM_ARGS), used = 0;

    for (int i = 0; i < WARM_ARGS; i++) {
        memcpy(in + n, "$1\r\nx\r\n", 7);
        n += 7;
    }
    CHECK(resp_parse(p, NULL, in, n, &used) == RESP_COMMAND && used == n);
}

static void run(const char *in, size_t n, const struct resp_limits *lim, unsigned seed,
                long fail_at, int write_replies, enum path_mode mode, struct bytes *ev)
{
    struct resp_parser p;
    char *buf = NULL;
    size_t have = 0, fed = 0;
    unsigned x = seed * 2654435761u + 1;
    int dead = 0;

    resp_parser_init(&p);
    if (mode == PATH_EXACT)
        p.exact_only = 1;
    else if (mode == PATH_WARM)
        warm_up(&p);
    if (fail_at >= 0 && mem_shim_fail_after != NULL)
        mem_shim_fail_after(fail_at);
    while (fed < n && !dead) {
        size_t chunk = n - fed;
        char *nb;

        if (seed) {
            x = x * 1103515245u + 12345u;
            chunk = 1 + (x >> 16) % (seed & 1 ? 4 : 64);
            if (chunk > n - fed)
                chunk = n - fed;
        }
        nb = malloc(have + chunk + 1);
        CHECK(nb != NULL);
        if (have)
            memcpy(nb, buf, have);
        free(buf);
        buf = nb;
        memcpy(buf + have, in + fed, chunk);
        have += chunk;
        fed += chunk;
        for (;;) {
            size_t used = 0, plain_used = 0;
            struct slice plain[8];
            int plain_argc = 0;
            enum resp_result r;

            /* client.c tries resp_parse_plain first between commands: what
             * it takes, resp_parse must parse the same way */
            if (resp_parser_between(&p))
                plain_used = resp_parse_plain(lim, buf, have, plain, 8, &plain_argc);
            r = resp_parse(&p, lim, buf, have, &used);
            if (r == RESP_ERROR && p.error == NULL && mem_shim_fail_after != NULL) {
                mem_shim_fail_after(-1);
                r = resp_parse(&p, lim, buf, have, &used);
            }
            if (plain_used > 0) {
                const char *arg1 = NULL;
                size_t arg1_len = resp_peek_arg1(buf, have, &arg1);

                CHECK(r == RESP_COMMAND && used == plain_used && p.argc == plain_argc);
                for (int i = 0; i < plain_argc; i++)
                    CHECK(plain[i].p == p.argv[i].p && plain[i].len == p.argv[i].len);
                /* the warming preview names the same key, or none if empty */
                if (plain_argc >= 2 && plain[1].len > 0)
                    CHECK(arg1_len == plain[1].len && arg1 == plain[1].p);
                else
                    CHECK(arg1_len == 0);
            } else if (have > 0) {
                const char *arg1 = NULL;
                size_t arg1_len = resp_peek_arg1(buf, have, &arg1);

                /* any input: what it names lies inside it */
                CHECK(arg1_len == 0 || (arg1 >= buf && arg1 + arg1_len <= buf + have));
            }
            if (r == RESP_INCOMPLETE) {
                CHECK(resp_parse_want(&p, have) <= (size_t)lim->proto_max_bulk_len + 2);
                break;
            }
            if (r == RESP_ERROR) {
                CHECK(p.error != NULL);
                b_add(ev, "X", 1);
                b_add(ev, p.error, strlen(p.error) + 1);
                dead = 1;
                break;
            }
            CHECK(used > 0 && used <= have);
            if (r == RESP_EMPTY) {
                b_add(ev, "E", 1);
            } else {
                CHECK(r == RESP_COMMAND && p.argc > 0);
                b_num(ev, 'C', (unsigned long long)p.argc);
                for (int i = 0; i < p.argc; i++) {
                    const struct slice *a = &p.argv[i];

                    /* Multibulk arguments and unquoted inline ones are
                     * slices of the input; any argument lies inside it or
                     * in the parser's scratch, which ASan watches. */
                    if (buf[0] == '*')
                        CHECK(a->p >= buf && a->p + a->len <= buf + used);
                    b_num(ev, 'L', a->len);
                    b_add(ev, a->p, a->len);
                }
                if (write_replies) {
                    answer(&p, 2);
                    answer(&p, 3);
                }
            }
            memmove(buf, buf + used, have - used);
            have -= used;
        }
    }
    if (mem_shim_fail_after != NULL)
        mem_shim_fail_after(-1);
    if (!dead)
        b_num(ev, 'R', have);
    resp_parser_free(&p);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct resp_limits lim;
    struct bytes a = {0}, b = {0}, c = {0};
    const char *in;
    size_t n;
    unsigned seed;
    long fail_at;

    if (size < 2)
        return 0;
    lim.auth_required = data[0] & 1;
    /* A tiny bulk limit reaches "invalid bulk length" with short inputs. */
    lim.proto_max_bulk_len = data[0] & 2 ? 64 : 512ull * 1024 * 1024;
    fail_at = data[0] & 4 ? (long)(data[0] >> 4) : -1;
    seed = data[1] | 1u << 8;
    if (data[0] & 8)
        seed &= ~1u;
    in = (const char *)data + 2;
    n = size - 2;

    run(in, n, &lim, 0, -1, 1, PATH_COLD, &a);
    /* Chunking changes what reaches the 64 KiB line limit, as in Redis; below
     * it both runs must agree exactly. */
    run(in, n, &lim, seed, fail_at, 0, data[0] & 16 ? PATH_WARM : PATH_COLD, &b);
    if (n <= 65536)
        CHECK(a.len == b.len && memcmp(a.s, b.s, a.len) == 0);
    /* The one-pass path must be invisible: same bytes, same events. */
    run(in, n, &lim, 0, -1, 0, PATH_EXACT, &c);
    CHECK(a.len == c.len && memcmp(a.s, c.s, a.len) == 0);
    free(a.s);
    free(b.s);
    free(c.s);
    CHECK(mem_used() == 0);
    return 0;
}
