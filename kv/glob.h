/* glob — Redis's glob-style matcher (stringmatchlen) for KEYS, SCAN MATCH and
 * CONFIG GET: `*`, `?`, `[abc]`, `[^a]`, `[a-z]`, and `\x` to quote x.
 *
 * Pure function, no state: safe on any thread. */
#ifndef SLOTD_GLOB_H
#define SLOTD_GLOB_H

#include <stddef.h>

/* Redis util.c stops recursing past this many nested stars and calls it no
 * match (protection against abusive patterns); 7.0.15 measured: a pattern of
 * 1001 "a*" groups still matches, 1100 does not. */
#define GLOB_MAX_NESTING 1000

/* 1 if `str` matches `pat`, else 0. Both are byte ranges (not NUL-terminated,
 * may hold NUL bytes). `nocase` folds ASCII letters, as Redis's nocase flag.
 * Cost is bounded by O(plen * slen): after a star fails to place the rest of
 * the pattern anywhere, earlier stars give up too (Redis 7.0 does the same). */
int glob_match(const char *pat, size_t plen, const char *str, size_t slen, int nocase);

#endif
