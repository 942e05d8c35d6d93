/* slice — a borrowed byte range. Never owns its memory; the owner is named
 * wherever a slice crosses an API. */
#ifndef SLOTD_SLICE_H
#define SLOTD_SLICE_H

#include <stddef.h>
#include <string.h>
#include <strings.h>

struct slice {
    const char *p;
    size_t len;
};

static inline int slice_eq_nocase(const struct slice *s, const char *lit)
{
    size_t n = strlen(lit);
    return s->len == n && strncasecmp(s->p, lit, n) == 0;
}

#endif
