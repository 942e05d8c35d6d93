/* reply — incremental RESP2 reply framing (see reply.h).
 *
 * States: TYPE (first byte of a reply), LINE (rest of the first line, up to
 * CR), LF (the LF after that CR), SKIP (bulk payload + CRLF), BAD. The first
 * line is kept (truncated to REPLY_LINE_MAX) because its meaning — OK, a bulk
 * length, an error text — is only known once it is complete; a bulk payload
 * is never copied. Owner: one connection. */
#include <string.h>

#include "reply.h"

enum { ST_TYPE, ST_LINE, ST_LF, ST_SKIP, ST_BAD };

/* Redis' own bulk limit (proto-max-bulk-len maximum) is far below this; it
 * only keeps the arithmetic away from overflow. */
#define REPLY_MAX_BULK (1ll << 40)

void reply_init(struct reply_parser *p)
{
    memset(p, 0, sizeof(*p));
}

static int parse_len(const char *s, size_t n, int64_t *out)
{
    int neg = 0;
    int64_t v = 0;
    size_t i = 0;

    if (n > 0 && s[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == n)
        return -1;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || v > REPLY_MAX_BULK)
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

/* The first line is complete: classify, or arm the bulk skip. */
static enum reply_kind line_done(struct reply_parser *p)
{
    size_t len = p->linelen > REPLY_LINE_MAX ? REPLY_LINE_MAX : p->linelen;
    int64_t v;

    p->line[len] = '\0';
    p->state = ST_TYPE;
    switch (p->type) {
    case '+':
        return len == 2 && p->linelen == 2 && memcmp(p->line, "OK", 2) == 0 ? REPLY_OK
                                                                              : REPLY_STATUS;
    case '-':
        return REPLY_ERROR;
    case ':':
        if (p->linelen != len || parse_len(p->line, len, &v) != 0)
            break;
        return REPLY_INT;
    case '$':
        if (p->linelen != len || parse_len(p->line, len, &v) != 0 || v < -1)
            break;
        p->bulk_len = v;
        if (v == -1)
            return REPLY_NIL;
        p->skip = v + 2;
        p->state = ST_SKIP;
        return REPLY_NONE;
    }
    p->state = ST_BAD;
    return REPLY_BAD;
}

/* What a GET/SET load gets back, whole in the buffer, in one step: +OK, or
 * a bulk (nil included) whose length line is short. Returns the bytes it
 * took (0: anything else, or a reply the buffer cuts, for the state
 * machine), leaving what the caller reads (type, bulk_len) as the state
 * machine would; the length is read by the same parse_len. */
static size_t fast_reply(struct reply_parser *p, const uint8_t *b, size_t n,
                         enum reply_kind *k)
{
    const uint8_t *cr;
    size_t head;
    int64_t v;

    if (n >= 5 && memcmp(b, "+OK\r\n", 5) == 0) {
        p->type = '+';
        p->linelen = 2;
        memcpy(p->line, "OK", 3);
        *k = REPLY_OK;
        return 5;
    }
    if (n < 4 || b[0] != '$' || (cr = memchr(b + 1, '\r', n - 1 < 21 ? n - 1 : 21)) == NULL)
        return 0;
    head = (size_t)(cr - b) + 2;
    if (head > n || b[head - 1] != '\n' ||
        parse_len((const char *)b + 1, head - 3, &v) != 0 || v < -1)
        return 0;
    if (v >= 0 && n - head < (uint64_t)v + 2)
        return 0;
    p->type = '$';
    p->bulk_len = v;
    if (v == -1) {
        *k = REPLY_NIL;
        return head;
    }
    *k = REPLY_BULK;
    return head + (size_t)v + 2;
}

enum reply_kind reply_next(struct reply_parser *p, const uint8_t **buf, size_t *n)
{
    const uint8_t *b = *buf, *end = b + *n;
    enum reply_kind k = REPLY_NONE;

    if (p->state == ST_TYPE) {
        size_t used = fast_reply(p, b, *n, &k);

        if (used > 0) {
            *buf = b + used;
            *n -= used;
            return k;
        }
    }
    while (b < end && k == REPLY_NONE && p->state != ST_BAD) {
        switch (p->state) {
        case ST_TYPE:
            p->type = *b++;
            p->linelen = 0;
            if (p->type == '+' || p->type == '-' || p->type == ':' || p->type == '$')
                p->state = ST_LINE;
            else
                p->state = ST_BAD;
            break;
        case ST_LINE: {
            const uint8_t *cr = memchr(b, '\r', (size_t)(end - b));
            size_t take = (size_t)((cr ? cr : end) - b);
            size_t room = p->linelen < REPLY_LINE_MAX ? REPLY_LINE_MAX - p->linelen : 0;

            memcpy(p->line + p->linelen, b, take < room ? take : room);
            p->linelen = (uint16_t)(p->linelen + take > UINT16_MAX ? UINT16_MAX
                                                                  : p->linelen + take);
            b += take;
            if (cr) {
                b++;
                p->state = ST_LF;
            }
            break;
        }
        case ST_LF:
            if (*b++ != '\n') {
                p->state = ST_BAD;
                break;
            }
            k = line_done(p);
            break;
        case ST_SKIP: {
            size_t take = (size_t)(end - b);

            if ((int64_t)take > p->skip)
                take = (size_t)p->skip;
            b += take;
            p->skip -= (int64_t)take;
            if (p->skip == 0) {
                /* the payload's CRLF was skipped with it: checking it would
                 * need the last two bytes, which may be in an earlier call */
                p->state = ST_TYPE;
                k = REPLY_BULK;
            }
            break;
        }
        }
    }
    if (p->state == ST_BAD)
        k = REPLY_BAD;
    *n -= (size_t)(b - *buf);
    *buf = b;
    return k;
}
