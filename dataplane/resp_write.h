/* resp_write — builds replies in RESP2 or RESP3 into a growable buffer.
 *
 * One resp_out belongs to one thread at a time; a reply built on an owner core
 * is handed back to the connection's core whole. Every writer picks the RESP2 or
 * RESP3 form from o->proto, so command code never branches on the protocol.
 * Allocation failures set o->oom and drop further output; the connection layer
 * then answers and closes. */
#ifndef SLOTD_RESP_WRITE_H
#define SLOTD_RESP_WRITE_H

#include <stddef.h>
#include <stdint.h>

struct resp_out {
    char *buf;
    size_t len, cap;
    uint8_t proto;     /* 2 or 3 */
    uint8_t oom;
};

void resp_out_init(struct resp_out *o, int proto);
void resp_out_free(struct resp_out *o);
void resp_out_reset(struct resp_out *o);          /* len = 0, oom = 0, keeps the memory */
int  resp_out_reserve(struct resp_out *o, size_t extra);  /* 0 or -ENOMEM */
void resp_add_raw(struct resp_out *o, const void *p, size_t n);  /* already-encoded bytes */

void resp_add_ok(struct resp_out *o);                         /* +OK */
void resp_add_simple(struct resp_out *o, const char *s);      /* +s */
/* Error: `msg` is the whole line without the leading '-', e.g. "ERR syntax error";
 * CR/LF in it are replaced by spaces as Redis does. */
void resp_add_error(struct resp_out *o, const char *msg);
void resp_add_errorf(struct resp_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void resp_add_int(struct resp_out *o, long long v);           /* :v */
void resp_add_bulk(struct resp_out *o, const void *p, size_t n);
void resp_add_bulk_str(struct resp_out *o, const char *s);
void resp_add_bulk_ll(struct resp_out *o, long long v);       /* integer as bulk */
/* Double as Redis writes it: RESP2 bulk "%.17g" style, RESP3 ",..." */
void resp_add_double(struct resp_out *o, double d);
/* Long double as INCRBYFLOAT formats it (humanfriendly, bulk in both protocols) */
void resp_add_long_double_bulk(struct resp_out *o, long double v);
void resp_add_null(struct resp_out *o);        /* RESP2 $-1, RESP3 _ */
void resp_add_null_array(struct resp_out *o);  /* RESP2 *-1, RESP3 _ */
void resp_add_array(struct resp_out *o, long long n);   /* *n */
void resp_add_map(struct resp_out *o, long long n);     /* RESP3 %n, RESP2 *2n */
void resp_add_set(struct resp_out *o, long long n);     /* RESP3 ~n, RESP2 *n */
void resp_add_bool(struct resp_out *o, int v);          /* RESP3 #t/#f, RESP2 :1/:0 */
/* Verbatim string: RESP3 "=len\r\ntxt:..." with a 3-char format, RESP2 bulk */
void resp_add_verbatim(struct resp_out *o, const char *p, size_t n, const char *fmt3);

/* Deferred length for replies whose count is known only at the end (SCAN, KEYS):
 * reserve returns a handle, set writes the header in place. Setting moves every
 * byte written after the handle (the reserved gap fits the widest count), so
 * nested deferred arrays are set innermost first, the reverse of their creation. */
size_t resp_add_deferred_array(struct resp_out *o);
void   resp_set_deferred_array(struct resp_out *o, size_t handle, long long n);

#endif
