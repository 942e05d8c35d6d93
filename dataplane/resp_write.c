/* resp_write — reply encoding, RESP2 and RESP3, into one growable buffer.
 *
 * A resp_out is used by one thread at a time: the connection's core, or the
 * owner core building a reply that it then hands back whole. Every writer
 * emits the bytes redis-server 7.0 emits for the same reply (networking.c
 * addReply* and util.c ld2string), so replies can be compared byte for byte.
 *
 * Invariants: len <= cap. Once oom is set nothing more is appended until
 * resp_out_reset(), so a reply is never sent with a piece missing in the
 * middle; the connection layer sees oom, answers and closes.
 */
#include "resp_write.h"
#include "strconv.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"

/* First allocation: a typical small reply fits without a second one. */
#define RESP_OUT_MIN 256
/* MAX_LONG_DOUBLE_CHARS (redis 7.0 util.h): "%.17Lf" of any finite long double fits. */
#define RESP_LD_CHARS (5 * 1024)
/* Room for the widest header "*-9223372036854775808\r\n". */
#define RESP_DEFERRED_GAP 23
/* Longest "%.17g" of a double: "-1.2345678901234567e-308" is 24 bytes. */
#define RESP_DOUBLE_CHARS 32

void resp_out_init(struct resp_out *o, int proto)
{
    memset(o, 0, sizeof(*o));
    o->proto = proto == 3 ? 3 : 2;
}

void resp_out_free(struct resp_out *o)
{
    mem_free(o->buf);
    o->buf = NULL;
    o->len = o->cap = 0;
    o->oom = 0;
}

void resp_out_reset(struct resp_out *o)
{
    o->len = 0;
    o->oom = 0;
}

int resp_out_reserve(struct resp_out *o, size_t extra)
{
    size_t need, ncap;
    char *nb;

    if (o->oom)
        return -ENOMEM;
    if (extra <= o->cap - o->len)
        return 0;
    if (extra > SIZE_MAX - o->len)
        goto fail;
    need = o->len + extra;
    /* Doubling keeps appends amortised O(1); a single huge bulk gets exactly
     * its size rather than twice the buffer. */
    if (o->cap == 0)
        ncap = RESP_OUT_MIN;
    else
        ncap = o->cap <= SIZE_MAX / 2 ? o->cap * 2 : SIZE_MAX;
    if (ncap < need)
        ncap = need;
    nb = mem_realloc(o->buf, ncap);
    if (nb == NULL)
        goto fail;
    o->buf = nb;
    o->cap = ncap;
    return 0;
fail:
    o->oom = 1;
    return -ENOMEM;
}

/* put() when the buffer must grow or oom is set; out of line so that the
 * writers' common path saves no registers. */
static __attribute__((noinline)) char *put_slow(struct resp_out *o, size_t n)
{
    char *at;

    if (resp_out_reserve(o, n) < 0)
        return NULL;
    at = o->buf + o->len;
    o->len += n;
    return at;
}

/* n bytes appended at the end, to be filled by the caller; NULL once oom.
 * The common case (room left, no oom) is tested here, inline, so a small
 * reply pays two compares rather than a call. */
static inline char *put(struct resp_out *o, size_t n)
{
    char *at;

    if (o->oom || n > o->cap - o->len)
        return put_slow(o, n);
    at = o->buf + o->len;
    o->len += n;
    return at;
}

/* Copies n < 100 bytes with a few fixed-size moves instead of a memcpy
 * call: values and keys are mostly short, and libc's memcpy costs ~14
 * instructions before it moves a byte (callgrind). Two overlapping moves
 * cover every length of a size class; up to 16 bytes is the first test. */
static inline void copy_short(char *dst, const char *src, size_t n)
{
    if (n <= 16) {
        if (n >= 8) {
            memcpy(dst, src, 8);
            memcpy(dst + n - 8, src + n - 8, 8);
        } else if (n >= 4) {
            memcpy(dst, src, 4);
            memcpy(dst + n - 4, src + n - 4, 4);
        } else if (n > 0) {
            dst[0] = src[0];
            dst[n / 2] = src[n / 2];
            dst[n - 1] = src[n - 1];
        }
        return;
    }
    for (size_t i = 0; i + 16 < n; i += 16)
        memcpy(dst + i, src + i, 16);
    memcpy(dst + n - 16, src + n - 16, 16);
}

/* "<prefix><v>\r\n": integers, and the headers of bulks and aggregates. */
static size_t fmt_header(char *dst, char prefix, long long v)
{
    size_t n;

    dst[0] = prefix;
    n = 1 + (size_t)ll_to_str(dst + 1, v);
    dst[n++] = '\r';
    dst[n++] = '\n';
    return n;
}

/* Formats straight into the reply: one reserve of the widest header, no
 * copy through a temporary. */
static void add_header(struct resp_out *o, char prefix, long long v)
{
    size_t n;

    if (put(o, RESP_DEFERRED_GAP) == NULL)
        return;
    o->len -= RESP_DEFERRED_GAP;
    n = fmt_header(o->buf + o->len, prefix, v);
    o->len += n;
}

/* For replies of a constant size: memcpy with a constant length compiles to
 * a move or two, where resp_add_raw pays a call into libc (a null reply went
 * from ~45 instructions to ~21, callgrind). */
static inline void add_lit(struct resp_out *o, const char *s, size_t n)
{
    char *at = put(o, n);

    if (at != NULL)
        memcpy(at, s, n);
}

void resp_add_raw(struct resp_out *o, const void *p, size_t n)
{
    char *at;

    if (n == 0)
        return;
    at = put(o, n);
    if (at != NULL)
        memcpy(at, p, n);
}

void resp_add_ok(struct resp_out *o)
{
    add_lit(o, "+OK\r\n", 5);
}

void resp_add_simple(struct resp_out *o, const char *s)
{
    size_t n = strlen(s);
    char *at = put(o, n + 3);

    if (at == NULL)
        return;
    at[0] = '+';
    memcpy(at + 1, s, n);
    memcpy(at + 1 + n, "\r\n", 2);
}

void resp_add_error(struct resp_out *o, const char *msg)
{
    size_t n = strlen(msg);
    char *at = put(o, n + 3);

    if (at == NULL)
        return;
    at[0] = '-';
    for (size_t i = 0; i < n; i++)
        at[1 + i] = (msg[i] == '\r' || msg[i] == '\n') ? ' ' : msg[i];
    memcpy(at + 1 + n, "\r\n", 2);
}

/* As Redis's addReplyErrorFormat: CR/LF at either end are trimmed, the ones
 * inside become spaces, and a NUL produced by the format ends the text. */
void resp_add_errorf(struct resp_out *o, const char *fmt, ...)
{
    va_list ap, cp;
    int n;
    char *s;
    size_t l, lead = 0;

    va_start(ap, fmt);
    va_copy(cp, ap);
    n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        n = 0;
    /* '-', the text and its NUL, then CRLF: formatted in place, no copy. */
    if (resp_out_reserve(o, (size_t)n + 4) < 0) {
        va_end(ap);
        return;
    }
    s = o->buf + o->len + 1;
    s[0] = '\0';
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    l = strlen(s);
    while (lead < l && (s[lead] == '\r' || s[lead] == '\n'))
        lead++;
    while (l > lead && (s[l - 1] == '\r' || s[l - 1] == '\n'))
        l--;
    memmove(s, s + lead, l - lead);
    l -= lead;
    for (size_t i = 0; i < l; i++)
        if (s[i] == '\r' || s[i] == '\n')
            s[i] = ' ';
    s[-1] = '-';
    memcpy(s + l, "\r\n", 2);
    o->len += 1 + l + 2;
}

void resp_add_int(struct resp_out *o, long long v)
{
    add_header(o, ':', v);
}

/* Bulks shorter than this get their header from a table and the payload
 * copied without a memcpy call: a 16-byte GET reply went from ~177
 * instructions (ll_to_str, two memcpy calls, reserve) to 33 (callgrind). */
#define RESP_SHORT_BULK 100
/* A header is stored as one 8-byte word: room for it beyond the reply is
 * reserved too, and what it writes past the header is overwritten. */
#define RESP_HDR_WORD 8

#define HDR1(d)    { '$', '0' + (d), '\r', '\n' }
#define HDR2(t, d) { '$', '0' + (t), '0' + (d), '\r', '\n' }
#define HDR_ROW(t) HDR2(t, 0), HDR2(t, 1), HDR2(t, 2), HDR2(t, 3), HDR2(t, 4), \
                   HDR2(t, 5), HDR2(t, 6), HDR2(t, 7), HDR2(t, 8), HDR2(t, 9)

/* "$<n>\r\n" for n < 100 */
static const char BULK_HDR[RESP_SHORT_BULK][RESP_HDR_WORD] = {
    HDR1(0), HDR1(1), HDR1(2), HDR1(3), HDR1(4), HDR1(5), HDR1(6), HDR1(7), HDR1(8), HDR1(9),
    HDR_ROW(1), HDR_ROW(2), HDR_ROW(3), HDR_ROW(4), HDR_ROW(5),
    HDR_ROW(6), HDR_ROW(7), HDR_ROW(8), HDR_ROW(9),
};

/* Out of line: the buffer must grow, oom is set, or the bulk is long. */
static __attribute__((noinline)) void add_bulk_slow(struct resp_out *o, const void *p, size_t n)
{
    char hdr[RESP_DEFERRED_GAP];
    size_t h;
    char *at;

    if (n > (size_t)LLONG_MAX || n > SIZE_MAX - sizeof(hdr) - 2) {
        o->oom = 1;
        return;
    }
    h = fmt_header(hdr, '$', (long long)n);
    at = put(o, h + n + 2);
    if (at == NULL)
        return;
    memcpy(at, hdr, h);
    if (n > 0)
        memcpy(at + h, p, n);
    memcpy(at + h + n, "\r\n", 2);
}

void resp_add_bulk(struct resp_out *o, const void *p, size_t n)
{
    size_t h;
    char *at;

    if (n >= RESP_SHORT_BULK || o->oom || o->cap - o->len < n + 5 + RESP_HDR_WORD) {
        add_bulk_slow(o, p, n);
        return;
    }
    at = o->buf + o->len;
    h = n < 10 ? 4 : 5;
    memcpy(at, BULK_HDR[n], RESP_HDR_WORD);
    copy_short(at + h, p, n);
    memcpy(at + h + n, "\r\n", 2);
    o->len += h + n + 2;
}

/* A NULL string is a null reply, as Redis's addReplyBulkCString. */
void resp_add_bulk_str(struct resp_out *o, const char *s)
{
    if (s == NULL)
        resp_add_null(o);
    else
        resp_add_bulk(o, s, strlen(s));
}

void resp_add_bulk_ll(struct resp_out *o, long long v)
{
    char tmp[21];

    resp_add_bulk(o, tmp, (size_t)ll_to_str(tmp, v));
}

/* redis 7.0 addReplyDouble: "%.17g", infinities spelled out, NaN left to libc. */
void resp_add_double(struct resp_out *o, double d)
{
    char tmp[RESP_DOUBLE_CHARS + 3];
    int n;

    if (isinf(d)) {
        if (o->proto == 2)
            resp_add_bulk(o, d > 0 ? "inf" : "-inf", d > 0 ? 3 : 4);
        else
            resp_add_raw(o, d > 0 ? ",inf\r\n" : ",-inf\r\n", d > 0 ? 6 : 7);
        return;
    }
    n = snprintf(tmp + 1, sizeof(tmp) - 1, "%.17g", d);
    if (n < 0 || (size_t)n + 3 > sizeof(tmp))
        n = 0;
    if (o->proto == 2) {
        resp_add_bulk(o, tmp + 1, (size_t)n);
        return;
    }
    tmp[0] = ',';
    memcpy(tmp + 1 + n, "\r\n", 2);
    resp_add_raw(o, tmp, (size_t)n + 3);
}

/* redis 7.0 ld2string in LD_STR_HUMAN mode, as INCRBYFLOAT replies: fixed
 * point with 17 decimals, then trailing zeros and a bare '.' dropped, "-0"
 * written "0"; large values keep every integer digit, never an exponent. */
void resp_add_long_double_bulk(struct resp_out *o, long double v)
{
    char tmp[RESP_LD_CHARS];
    int r;
    size_t l;

    if (isinf(v)) {
        resp_add_bulk(o, v > 0 ? "inf" : "-inf", v > 0 ? 3 : 4);
        return;
    }
    r = snprintf(tmp, sizeof(tmp), "%.17Lf", v);
    /* Redis gives an empty string when it does not fit; no finite value does. */
    l = (r < 0 || (size_t)r + 1 > sizeof(tmp)) ? 0 : (size_t)r;
    if (l > 0 && memchr(tmp, '.', l) != NULL) {
        while (tmp[l - 1] == '0')
            l--;
        if (tmp[l - 1] == '.')
            l--;
    }
    if (l == 2 && tmp[0] == '-' && tmp[1] == '0') {
        tmp[0] = '0';
        l = 1;
    }
    resp_add_bulk(o, tmp, l);
}

void resp_add_null(struct resp_out *o)
{
    if (o->proto == 2)
        add_lit(o, "$-1\r\n", 5);
    else
        add_lit(o, "_\r\n", 3);
}

void resp_add_null_array(struct resp_out *o)
{
    if (o->proto == 2)
        add_lit(o, "*-1\r\n", 5);
    else
        add_lit(o, "_\r\n", 3);
}

void resp_add_array(struct resp_out *o, long long n)
{
    add_header(o, '*', n);
}

void resp_add_map(struct resp_out *o, long long n)
{
    if (o->proto == 3)
        add_header(o, '%', n);
    else if (n > LLONG_MAX / 2 || n < LLONG_MIN / 2)
        o->oom = 1;   /* no reply has that many pairs; refuse rather than overflow */
    else
        add_header(o, '*', n * 2);
}

void resp_add_set(struct resp_out *o, long long n)
{
    add_header(o, o->proto == 3 ? '~' : '*', n);
}

void resp_add_bool(struct resp_out *o, int v)
{
    if (o->proto == 3)
        add_lit(o, v ? "#t\r\n" : "#f\r\n", 4);
    else
        add_lit(o, v ? ":1\r\n" : ":0\r\n", 4);
}

/* redis 7.0 addReplyVerbatim: the format is padded with spaces to 3 bytes. */
void resp_add_verbatim(struct resp_out *o, const char *p, size_t n, const char *fmt3)
{
    char hdr[RESP_DEFERRED_GAP + 4];
    size_t h;
    char *at;

    if (o->proto == 2) {
        resp_add_bulk(o, p, n);
        return;
    }
    if (n > (size_t)LLONG_MAX - 4 || n > SIZE_MAX - sizeof(hdr) - 2) {
        o->oom = 1;
        return;
    }
    h = fmt_header(hdr, '=', (long long)n + 4);
    for (int i = 0; i < 3; i++)
        hdr[h++] = (fmt3 != NULL && *fmt3 != '\0') ? *fmt3++ : ' ';
    hdr[h++] = ':';
    at = put(o, h + n + 2);
    if (at == NULL)
        return;
    memcpy(at, hdr, h);
    if (n > 0)
        memcpy(at + h, p, n);
    memcpy(at + h + n, "\r\n", 2);
}

/* The header's width is unknown until the count is, so a gap as wide as the
 * widest header is left; setting it writes the header and closes the rest of
 * the gap by moving what follows, which costs one memmove of the reply's tail
 * (what Redis avoids with a separate reply node; replies here are one flat
 * buffer the transport sends as is). */
size_t resp_add_deferred_array(struct resp_out *o)
{
    size_t h = o->len;
    char *at = put(o, RESP_DEFERRED_GAP);

    if (at == NULL)
        return SIZE_MAX;
    memset(at, ' ', RESP_DEFERRED_GAP);
    return h;
}

void resp_set_deferred_array(struct resp_out *o, size_t handle, long long n)
{
    char hdr[RESP_DEFERRED_GAP];
    size_t h;

    if (o->oom || handle == SIZE_MAX || handle > o->len ||
        o->len - handle < RESP_DEFERRED_GAP)
        return;
    h = fmt_header(hdr, '*', n);
    memcpy(o->buf + handle, hdr, h);
    memmove(o->buf + handle + h, o->buf + handle + RESP_DEFERRED_GAP,
            o->len - handle - RESP_DEFERRED_GAP);
    o->len -= RESP_DEFERRED_GAP - h;
}
