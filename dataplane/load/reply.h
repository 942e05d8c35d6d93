/* reply — an incremental RESP2 reply splitter for slotd-load: finds where
 * each reply ends in a byte stream cut anywhere by TCP, and says what kind it
 * was, so the caller can check it against the request it answers.
 *
 * Only what GET and SET answer is understood in depth: simple strings
 * (+OK is told apart), errors, integers, bulk strings (nil included).
 * Aggregates and RESP3 types are reported as REPLY_OTHER and end the
 * stream's usefulness (REPLY_BAD: the caller should drop the connection).
 * Owner: one connection; no allocation. */
#ifndef SLOTD_LOAD_REPLY_H
#define SLOTD_LOAD_REPLY_H

#include <stddef.h>
#include <stdint.h>

enum reply_kind {
    REPLY_NONE = 0,     /* need more bytes */
    REPLY_OK,           /* +OK */
    REPLY_STATUS,       /* any other simple string */
    REPLY_ERROR,        /* -... */
    REPLY_INT,          /* :n */
    REPLY_BULK,         /* $n, n >= 0, payload skipped */
    REPLY_NIL,          /* $-1 */
    REPLY_BAD,          /* not a reply we can frame: protocol error */
};

/* The first line of an error reply is kept up to this many bytes. */
#define REPLY_LINE_MAX 64

struct reply_parser {
    uint8_t state;
    uint8_t type;               /* '+', '-', ':', '$' of the reply under way */
    uint16_t linelen;           /* bytes of the first line seen so far */
    int64_t skip;               /* bulk payload and CRLF still to skip */
    int64_t bulk_len;           /* length announced by the last bulk */
    char line[REPLY_LINE_MAX + 1];
};

void reply_init(struct reply_parser *p);

/* Consume bytes from *buf (advancing it and *n) until one reply is complete:
 * return its kind, or REPLY_NONE when the bytes ran out first (the state is
 * kept for the next call). After REPLY_BAD the parser stays bad. */
enum reply_kind reply_next(struct reply_parser *p, const uint8_t **buf, size_t *n);

#endif
