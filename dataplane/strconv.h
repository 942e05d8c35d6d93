/* strconv — decimal integers as Redis reads and writes them. */
#ifndef SLOTD_STRCONV_H
#define SLOTD_STRCONV_H

#include <stddef.h>

/* 1 if p[0..n) is a long long in Redis's canonical form (string2ll: optional
 * '-', no '+', no blanks, no leading zero except "0" itself, in range), with
 * the value in *v (v may be NULL); else 0. */
int str_to_ll(const char *p, size_t n, long long *v);

/* Decimal text of v into buf (at least 21 bytes), NUL-terminated; returns
 * the length. */
int ll_to_str(char *buf, long long v);

#endif
