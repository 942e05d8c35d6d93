/* resp_parse — client request parser: RESP multibulk arrays and inline lines.
 *
 * client_rx_done → resp_parse → command dispatch. A parser belongs to one
 * connection and is only touched by that connection's data core.
 *
 * The accepted language, the limits and the points where an error is raised
 * follow redis-server 7.0 byte for byte, quirks included, because clients and
 * test suites observe them:
 *  - a header line ends at its first '\r'; the byte after that '\r' is skipped
 *    without a check, and so are the two bytes after a bulk's payload;
 *  - Redis looks for line ends with strchr() on a NUL-terminated buffer, so a
 *    NUL before the line end hides it: the request waits until the 64 KiB
 *    limit turns it into an error. Our search stops at a NUL the same way.
 *
 * Invariants while a command is incomplete: offsets count from the command's
 * first byte, which the caller keeps at buf[0]; pos <= scan; bytes in
 * [pos, scan) hold no line end and no NUL, so each byte is searched at most
 * once and a bulk's payload is never searched at all.
 */
#include "resp_parse.h"
#include "strconv.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "mem.h"

/* PROTO_INLINE_MAX_SIZE (redis 7.0 server.h): bytes allowed before a line end shows up. */
#define RESP_INLINE_MAX 65536
/* Unauthenticated caps, redis 7.0 networking.c processMultibulkBuffer (fix for CVE-2021-32675). */
#define RESP_UNAUTH_MBULK_MAX 10
#define RESP_UNAUTH_BULK_MAX 16384
/* Default proto-max-bulk-len (redis 7.0 config.c), used when no limits are given. */
#define RESP_DEFAULT_MAX_BULK (512ull * 1024 * 1024)
/* First argv allocation, as Redis's min(count, 1024): a claimed count of
 * 2^31-1 costs nothing until its elements arrive. Arrays grown past it are
 * dropped before the next command, so one huge command does not pin memory. */
#define RESP_ARGV_INIT 1024
/* Inline scratch kept between commands; larger ones are released. */
#define RESP_SCRATCH_KEEP 4096

enum { KIND_NONE = 0, KIND_MBULK = 1, KIND_INLINE = 2 };

static const char ERR_MBULK_LEN[]    = "Protocol error: invalid multibulk length";
static const char ERR_BULK_LEN[]     = "Protocol error: invalid bulk length";
static const char ERR_MBULK_BIG[]    = "Protocol error: too big mbulk count string";
static const char ERR_BULK_BIG[]     = "Protocol error: too big bulk count string";
static const char ERR_INLINE_BIG[]   = "Protocol error: too big inline request";
static const char ERR_QUOTES[]       = "Protocol error: unbalanced quotes in request";
static const char ERR_UNAUTH_MBULK[] = "Protocol error: unauthenticated multibulk length";
static const char ERR_UNAUTH_BULK[]  = "Protocol error: unauthenticated bulk length";

void resp_parser_init(struct resp_parser *p)
{
    memset(p, 0, sizeof(*p));
    p->bulk_len = -1;
}

void resp_parser_free(struct resp_parser *p)
{
    mem_free(p->argv);
    mem_free(p->offs);
    mem_free(p->scratch);
    resp_parser_init(p);
}

static void reset_command(struct resp_parser *p)
{
    p->kind = KIND_NONE;
    p->mbulk_left = 0;
    p->bulk_len = -1;
    p->pos = 0;
    p->scan = 0;
}

static enum resp_result fail(struct resp_parser *p, const char *msg)
{
    p->error = msg;
    p->argc = 0;
    reset_command(p);
    return RESP_ERROR;
}

/* Fast path for the common header line: digits right after the '*' or '$' at
 * `at`, then '\r' and one more byte. Returns 1 with the value and the offset of
 * the '\r'; 0 for anything else (sign, leading zero, NUL, more than 18 digits,
 * line not complete yet), which the exact path then handles with Redis's
 * rules. Saves two memchr calls and a second pass per line on the exact
 * path (whole commands with plain headers take parse_fast instead). */
static inline int fast_header(const char *buf, size_t len, size_t at, long long *out, size_t *cr)
{
    /* 18 digits always fit a long long; the exact path takes longer ones. */
    size_t i = at + 1, last_digit = at + 18, end = len;
    long long v = 0;

    if (i >= end || buf[i] < '1' || buf[i] > '9')
        return 0;
    for (; i < end; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c >= '0' && c <= '9') {
            if (i > last_digit)
                return 0;
            v = v * 10 + (c - '0');
            continue;
        }
        if (c == '\r' && i + 1 < len) {
            *out = v;
            *cr = i;
            return 1;
        }
        return 0;
    }
    return 0;
}

/* Offset of the first `eol` at or after p->scan, found the way strchr finds it
 * in Redis's NUL-terminated buffer; 0 when there is none yet or a NUL comes
 * first. p->scan is left on the match, on the NUL or at len, so the next call
 * resumes there instead of searching the same bytes again. */
static int find_eol(struct resp_parser *p, const char *buf, size_t len,
                    char eol, size_t *at)
{
    size_t from = p->scan;
    const char *e, *z;
    size_t end;

    if (from >= len || buf[from] == '\0')
        return 0;
    e = memchr(buf + from, eol, len - from);
    end = e ? (size_t)(e - buf) : len;
    z = memchr(buf + from, '\0', end - from);
    if (z) {
        p->scan = (size_t)(z - buf);
        return 0;
    }
    p->scan = end;
    *at = end;
    return e != NULL;
}

/* Keeps p->fast_cap in step with what it depends on: one load and compare
 * on the fast path instead of three. */
static void update_fast_cap(struct resp_parser *p)
{
    int big = p->cap > RESP_ARGV_INIT || p->scratch_cap > RESP_SCRATCH_KEEP;

    p->fast_cap = p->exact_only || big ? 0 : p->cap;
}

/* Make room for at least `need` arguments, growing towards `upto` (the
 * count announced by the client) by doubling: argv memory follows the data
 * that actually arrived, never the count alone. 0 or -ENOMEM. */
static int argv_reserve(struct resp_parser *p, long long need, long long upto)
{
    long long ncap;
    struct slice *a;
    size_t *o;

    if (need <= p->cap)
        return 0;
    ncap = p->cap ? (long long)p->cap * 2 : RESP_ARGV_INIT;
    if (ncap > upto)
        ncap = upto;
    if (ncap < need)
        ncap = need;
    if (ncap > INT_MAX || (unsigned long long)ncap > SIZE_MAX / sizeof(*a))
        return -ENOMEM;
    a = mem_realloc(p->argv, (size_t)ncap * sizeof(*a));
    if (a == NULL)
        return -ENOMEM;
    p->argv = a;
    o = mem_realloc(p->offs, (size_t)ncap * sizeof(*o));
    if (o == NULL)
        return -ENOMEM;
    p->offs = o;
    p->cap = (int)ncap;
    update_fast_cap(p);
    return 0;
}

/* Called when a new command starts: forget the last one's arguments and give
 * back memory that an unusually large command made us take. */
static void start_command(struct resp_parser *p, char first)
{
    p->argc = 0;
    p->error = NULL;
    if (p->cap > RESP_ARGV_INIT) {
        mem_free(p->argv);
        mem_free(p->offs);
        p->argv = NULL;
        p->offs = NULL;
        p->cap = 0;
    }
    if (p->scratch_cap > RESP_SCRATCH_KEEP) {
        mem_free(p->scratch);
        p->scratch = NULL;
        p->scratch_cap = 0;
    }
    update_fast_cap(p);
    /* Redis picks the request type from the first byte alone. */
    p->kind = first == '*' ? KIND_MBULK : KIND_INLINE;
    p->pos = 0;
    p->scan = 0;
}

static enum resp_result parse_mbulk(struct resp_parser *p, const struct resp_limits *lim,
                                    const char *buf, size_t len, size_t *consumed)
{
    size_t cr;
    long long ll;

    if (p->mbulk_left == 0) {
        if (!fast_header(buf, len, 0, &ll, &cr)) {
            if (!find_eol(p, buf, len, '\r', &cr)) {
                if (len - p->pos > RESP_INLINE_MAX)
                    return fail(p, ERR_MBULK_BIG);
                return RESP_INCOMPLETE;
            }
            /* Redis wants one byte after the '\r' and does not look at it. */
            if (cr + 2 > len)
                return RESP_INCOMPLETE;
            if (!str_to_ll(buf + 1, cr - 1, &ll))
                return fail(p, ERR_MBULK_LEN);
        }
        /* INT_MAX: redis 7.0 networking.c processMultibulkBuffer. */
        if (ll > INT_MAX)
            return fail(p, ERR_MBULK_LEN);
        if (ll > RESP_UNAUTH_MBULK_MAX && lim->auth_required)
            return fail(p, ERR_UNAUTH_MBULK);
        p->pos = p->scan = cr + 2;
        if (ll <= 0) {
            *consumed = p->pos;
            reset_command(p);
            return RESP_EMPTY;
        }
        p->mbulk_left = ll;
        p->bulk_len = -1;
    }

    while (p->mbulk_left > 0) {
        if (p->bulk_len < 0) {
            if (p->pos < len && buf[p->pos] == '$' && fast_header(buf, len, p->pos, &ll, &cr))
                goto have_bulk_len;
            if (!find_eol(p, buf, len, '\r', &cr)) {
                if (len - p->pos > RESP_INLINE_MAX)
                    return fail(p, ERR_BULK_BIG);
                return RESP_INCOMPLETE;
            }
            if (cr + 2 > len)
                return RESP_INCOMPLETE;
            if (buf[p->pos] != '$') {
                char got = buf[p->pos];

                /* Redis formats the byte with %c and then maps CR/LF to spaces. */
                if (got == '\r' || got == '\n')
                    got = ' ';
                memcpy(p->errbuf, "Protocol error: expected '$', got '", 35);
                p->errbuf[35] = got;
                p->errbuf[36] = '\'';
                p->errbuf[37] = '\0';
                return fail(p, p->errbuf);
            }
            if (!str_to_ll(buf + p->pos + 1, cr - p->pos - 1, &ll))
                return fail(p, ERR_BULK_LEN);
have_bulk_len:
            if (ll < 0 || (unsigned long long)ll > lim->proto_max_bulk_len)
                return fail(p, ERR_BULK_LEN);
            if (ll > RESP_UNAUTH_BULK_MAX && lim->auth_required)
                return fail(p, ERR_UNAUTH_BULK);
            p->pos = cr + 2;
            p->bulk_len = ll;
        }
        /* The payload and the two bytes after it, which Redis skips unread. */
        if ((unsigned long long)(len - p->pos) < (unsigned long long)p->bulk_len + 2)
            return RESP_INCOMPLETE;
        if (argv_reserve(p, (long long)p->argc + 1, (long long)p->argc + p->mbulk_left) < 0) {
            p->error = NULL;
            return RESP_ERROR;
        }
        p->offs[p->argc] = p->pos;
        p->argv[p->argc].len = (size_t)p->bulk_len;
        p->argc++;
        p->pos += (size_t)p->bulk_len + 2;
        p->scan = p->pos;
        p->bulk_len = -1;
        p->mbulk_left--;
    }

    for (int i = 0; i < p->argc; i++)
        p->argv[i].p = buf + p->offs[i];
    *consumed = p->pos;
    reset_command(p);
    return RESP_COMMAND;
}

/* One header line of the fast path at q: `tag`, digits as str_to_ll takes a
 * non-negative value ("0" alone, else no leading zero), '\r' and one more
 * byte, unread as in Redis. Returns the offset past that byte with the value
 * in *out, or NULL for anything else. Far from the buffer's end no byte
 * needs a bound check: 21 bytes hold the tag, 18 digits (which cannot
 * overflow), the '\r' and the byte after it; the 1- and 2-digit lengths of
 * GET and SET are tested first, without a loop. Near the end a success
 * needs '\r' and a byte after the digits, so at most 17 digits fit. */
static inline __attribute__((always_inline)) const char *
fast_line(const char *q, const char *end, char tag, uint64_t *out)
{
    const char *dend;
    uint64_t v;
    unsigned d;

    if (end - q >= 21) {
        if (q[0] != tag)
            return NULL;
        v = (unsigned char)q[1] - (unsigned)'0';
        if (v > 9)
            return NULL;
        if (q[2] == '\r') {
            *out = v;
            return q + 4;
        }
        d = (unsigned char)q[2] - (unsigned)'0';
        if (v == 0 || d > 9)
            return NULL;
        v = v * 10 + d;
        if (q[3] == '\r') {
            *out = v;
            return q + 5;
        }
        q += 3;
        dend = q + 16;
    } else {
        if (end - q < 4 || q[0] != tag)
            return NULL;
        v = (unsigned char)q[1] - (unsigned)'0';
        if (v > 9)
            return NULL;
        q += 2;
        dend = end;
        /* A leading '0' must be the whole number: a digit after it fails
         * the '\r' test below and the exact path reports the error. */
        if (v == 0)
            dend = q;
    }
    while (q < dend && (d = (unsigned char)*q - (unsigned)'0') <= 9) {
        v = v * 10 + d;
        q++;
    }
    if (end - q < 2 || *q != '\r')
        return NULL;
    *out = v;
    return q + 2;
}

/* The common case in one straight pass: a multibulk whose every header is
 * plain digits, whose bytes are all in the buffer and within every limit,
 * and whose argc fits `cap`. argv gets pointers directly, no offsets, no
 * state. Returns the bytes used, or 0 for anything else having written
 * nothing but argv's contents and *argc: the exact path then gives the same
 * answer it always did, including every error, so the two agree on all
 * inputs (fuzz_resp.c and test_resp_parse.c check this). A pipelined GET
 * with a 16-byte key costs 118 instructions in resp_parse against 279 on
 * the exact path (callgrind). */
static inline size_t parse_plain(const struct resp_limits *lim, const char *buf, size_t len,
                                 struct slice *argv, int cap, int *argc_out)
{
    const char *q, *end = buf + len;
    uint64_t argc, n, max_bulk = lim->proto_max_bulk_len;
    struct slice *a = argv, *a_end;

    q = fast_line(buf, end, '*', &argc);
    /* argc 0 wraps and is left to the exact path, like more arguments than
     * argv holds. */
    if (q == NULL || argc - 1 >= (uint64_t)cap)
        return 0;
    if (lim->auth_required) {
        if (argc > RESP_UNAUTH_MBULK_MAX)
            return 0;
        if (max_bulk > RESP_UNAUTH_BULK_MAX)
            max_bulk = RESP_UNAUTH_BULK_MAX;
    }
    /* Written before the loop so that argc_out and argc need no register
     * in it (the loop then fits the call-clobbered ones: no saves). */
    *argc_out = (int)argc;
    a_end = a + argc;
    do {
        q = fast_line(q, end, '$', &n);
        if (q == NULL || n > max_bulk || (uint64_t)(end - q) < n + 2)
            return 0;
        a->p = q;
        a->len = (size_t)n;
        q += n + 2;
    } while (++a < a_end);
    return (size_t)(q - buf);
}

size_t resp_parse_plain(const struct resp_limits *lim, const char *buf, size_t len,
                        struct slice *argv, int cap, int *argc)
{
    return parse_plain(lim, buf, len, argv, cap, argc);
}

size_t resp_peek_arg1(const char *buf, size_t len, const char **arg1)
{
    const char *q, *end = buf + len;
    uint64_t argc, n;

    q = fast_line(buf, end, '*', &argc);
    if (q == NULL || argc < 2 || (q = fast_line(q, end, '$', &n)) == NULL ||
        (uint64_t)(end - q) < n + 2)
        return 0;
    q = fast_line(q + n + 2, end, '$', &n);
    if (q == NULL || n == 0 || (uint64_t)(end - q) < n)
        return 0;
    *arg1 = q;
    return (size_t)n;
}

/* resp_parse's one-pass path, into the parser's own argv: fast_cap is 0
 * while start_command has memory to give back, which sends the command to
 * the exact path. On a fall back start_command sets argc and error again
 * before anything reads them. */
static inline int parse_fast(struct resp_parser *p, const struct resp_limits *lim,
                             const char *buf, size_t len, size_t *consumed)
{
    size_t n = parse_plain(lim, buf, len, p->argv, p->fast_cap, &p->argc);

    if (n == 0)
        return 0;
    p->error = NULL;
    *consumed = n;
    return 1;
}

/* isspace() in the C locale, which Redis's sdssplitargs uses to skip blanks. */
static int is_blank(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* The bytes that end an unquoted token in sdssplitargs; '\v' and '\f' are
 * blanks between tokens but ordinary bytes inside one. */
static int ends_token(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static int hex_val(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Split one inline line (without its line end) into arguments with the
 * quoting rules of sdssplitargs (redis 7.0 sds.c). A token without quotes is
 * a slice of the line; one with quotes is decoded into the scratch buffer,
 * which is sized to the whole line first: decoding never lengthens text, so
 * the scratch never moves while slices point into it.
 * Returns 0, 1 for unbalanced quotes, or -ENOMEM. */
static int split_inline(struct resp_parser *p, const char *line, size_t n)
{
    size_t i = 0, used = 0;

    /* Reads past the end see the terminating NUL of Redis's C string. */
#define AT(k) ((k) < n ? (unsigned char)line[k] : 0u)
    for (;;) {
        size_t start;
        int quote = 0, direct = 1;
        size_t out = used;

        while (i < n && is_blank((unsigned char)line[i]))
            i++;
        if (i == n)
            break;
        if (argv_reserve(p, (long long)p->argc + 1, (long long)n / 2 + 1) < 0)
            return -ENOMEM;
        start = i;
        for (;;) {
            unsigned char c = AT(i);

            if (quote == 0) {
                if (i == n || ends_token(c)) {
                    if (direct) {
                        p->argv[p->argc].p = line + start;
                        p->argv[p->argc].len = i - start;
                    }
                    if (i < n)
                        i++;
                    break;
                }
                if (c == '"' || c == '\'') {
                    if (direct) {
                        if (p->scratch_cap < n) {
                            char *s = mem_realloc(p->scratch, n);

                            if (s == NULL)
                                return -ENOMEM;
                            p->scratch = s;
                            p->scratch_cap = n;
                            update_fast_cap(p);
                        }
                        memcpy(p->scratch + used, line + start, i - start);
                        used += i - start;
                        direct = 0;
                    }
                    quote = c;
                } else if (!direct) {
                    p->scratch[used++] = (char)c;
                }
                i++;
                continue;
            }
            if (i == n)
                return 1;
            if (quote == '"' && c == '\\' && AT(i + 1) == 'x' &&
                hex_val(AT(i + 2)) >= 0 && hex_val(AT(i + 3)) >= 0) {
                p->scratch[used++] = (char)(hex_val(AT(i + 2)) * 16 + hex_val(AT(i + 3)));
                i += 4;
            } else if (quote == '"' && c == '\\' && AT(i + 1) != 0) {
                unsigned char e = AT(i + 1);

                switch (e) {
                case 'n': e = '\n'; break;
                case 'r': e = '\r'; break;
                case 't': e = '\t'; break;
                case 'b': e = '\b'; break;
                case 'a': e = '\a'; break;
                default: break;
                }
                p->scratch[used++] = (char)e;
                i += 2;
            } else if (quote == '\'' && c == '\\' && AT(i + 1) == '\'') {
                p->scratch[used++] = '\'';
                i += 2;
            } else if (c == quote) {
                /* A closing quote must be followed by a blank or the end. */
                if (AT(i + 1) != 0 && !is_blank(AT(i + 1)))
                    return 1;
                i++;
                break;
            } else {
                p->scratch[used++] = (char)c;
                i++;
            }
        }
        if (!direct) {
            p->argv[p->argc].p = p->scratch + out;
            p->argv[p->argc].len = used - out;
        }
        p->argc++;
    }
#undef AT
    return 0;
}

static enum resp_result parse_inline(struct resp_parser *p, const char *buf, size_t len,
                                     size_t *consumed)
{
    size_t nl, end;
    int rc;

    if (!find_eol(p, buf, len, '\n', &nl)) {
        if (len > RESP_INLINE_MAX)
            return fail(p, ERR_INLINE_BIG);
        return RESP_INCOMPLETE;
    }
    end = nl;
    if (end > 0 && buf[end - 1] == '\r')
        end--;
    p->argc = 0;
    rc = split_inline(p, buf, end);
    if (rc < 0) {
        /* Nothing was consumed: rescanning this one line on retry is fine. */
        p->argc = 0;
        p->error = NULL;
        return RESP_ERROR;
    }
    if (rc > 0)
        return fail(p, ERR_QUOTES);
    *consumed = nl + 1;
    reset_command(p);
    return p->argc > 0 ? RESP_COMMAND : RESP_EMPTY;
}

/* Kept out of line so that resp_parse, for the fast path, needs no
 * callee-saved registers: the exact path's prologue cost ~20 instructions a
 * command (callgrind). */
static __attribute__((noinline)) enum resp_result
parse_exact(struct resp_parser *p, const struct resp_limits *lim,
            const char *buf, size_t len, size_t *consumed)
{
    if (len == 0)
        return RESP_INCOMPLETE;
    if (p->kind == KIND_NONE)
        start_command(p, buf[0]);
    if (p->kind == KIND_MBULK)
        return parse_mbulk(p, lim, buf, len, consumed);
    return parse_inline(p, buf, len, consumed);
}

enum resp_result resp_parse(struct resp_parser *p, const struct resp_limits *lim,
                            const char *buf, size_t len, size_t *consumed)
{
    static const struct resp_limits defaults = { RESP_DEFAULT_MAX_BULK, 0 };

    if (lim == NULL)
        lim = &defaults;
    if (p->kind == KIND_NONE && parse_fast(p, lim, buf, len, consumed))
        return RESP_COMMAND;
    return parse_exact(p, lim, buf, len, consumed);
}

int resp_parser_between(const struct resp_parser *p)
{
    return p->kind == KIND_NONE && !p->exact_only;
}

size_t resp_parse_want(const struct resp_parser *p, size_t have)
{
    unsigned long long need;

    if (p->kind != KIND_MBULK || p->bulk_len < 0)
        return 0;
    need = (unsigned long long)p->pos + (unsigned long long)p->bulk_len + 2;
    if (need <= have)
        return 0;
    need -= have;
    return need > SIZE_MAX ? SIZE_MAX : (size_t)need;
}
