/* glob — Redis stringmatchlen semantics over byte ranges.
 *
 * Stateless; any thread. The matcher walks pattern and string together; a star
 * tries the rest of the pattern at each later position of the string (one
 * recursion level per star). Two guards keep hostile patterns cheap:
 *  - `dead`: once the tail after a star cannot match at any position, no
 *    earlier star can help by swallowing more, so every level unwinds at once;
 *  - nesting deeper than GLOB_MAX_NESTING answers "no match", as Redis does,
 *    so the C stack stays bounded (about 100 bytes a level).
 *
 * Quirks kept on purpose because Redis has them (clients see them):
 *  - matching stops when the string runs out; only trailing stars may remain,
 *    so "*" does not match the empty string (KEYS and SCAN special-case "*");
 *  - in a class, a range compares signed chars and "[z-a]" equals "[a-z]";
 *    a '-' with fewer than two bytes after it is literal; "\x" inside a
 *    class compares case-sensitively even with nocase;
 *  - an unterminated class ends with the pattern. */
#include "glob.h"

struct glob_run {
    int nocase;
    int dead;      /* the rest after some star matched nowhere: give up */
};

static inline int fold(int nocase, int ch)
{
    if (nocase && ch >= 'A' && ch <= 'Z')
        return ch - 'A' + 'a';
    return ch;
}

/* One bracket class at p (just past '['). Sets *used to the pattern bytes it
 * consumed, up to but not including the closing ']' (or the last byte when
 * unterminated), mirroring how the outer loop then steps one more byte. */
static int class_match(const struct glob_run *g, const char *p, size_t n, char ch,
                       size_t *used)
{
    size_t i = 0;
    int neg = 0, hit = 0;

    if (n == 0) {
        /* a lone '[' ending the pattern matches nothing */
        *used = 0;
        return 0;
    }
    if (p[0] == '^') {
        neg = 1;
        i = 1;
    }
    for (;;) {
        if (n - i >= 2 && p[i] == '\\') {
            i++;
            if (p[i] == ch)
                hit = 1;
        } else if (i == n) {
            /* unterminated: the outer step lands exactly on the end */
            i--;
            break;
        } else if (p[i] == ']') {
            break;
        } else if (n - i >= 3 && p[i + 1] == '-') {
            int lo = (signed char)p[i], hi = (signed char)p[i + 2], c = (signed char)ch;

            if (lo > hi) {
                int t = lo;
                lo = hi;
                hi = t;
            }
            lo = fold(g->nocase, lo);
            hi = fold(g->nocase, hi);
            c = fold(g->nocase, c);
            if (c >= lo && c <= hi)
                hit = 1;
            i += 2;
        } else if (fold(g->nocase, (unsigned char)p[i]) == fold(g->nocase, (unsigned char)ch)) {
            hit = 1;
        }
        i++;
    }
    *used = i;
    return neg ? !hit : hit;
}

static int match_at(struct glob_run *g, const char *p, size_t pn, const char *s, size_t sn,
                    int nesting)
{
    if (nesting > GLOB_MAX_NESTING)
        return 0;
    while (pn > 0 && sn > 0) {
        size_t used;

        switch (p[0]) {
        case '*':
            while (pn > 1 && p[1] == '*') {
                p++;
                pn--;
            }
            if (pn == 1)
                return 1;
            for (; sn > 0; s++, sn--) {
                if (match_at(g, p + 1, pn - 1, s, sn, nesting + 1))
                    return 1;
                if (g->dead)
                    return 0;
            }
            g->dead = 1;
            return 0;
        case '?':
            s++;
            sn--;
            break;
        case '[':
            if (!class_match(g, p + 1, pn - 1, s[0], &used))
                return 0;
            p += used + 1;
            pn -= used + 1;
            s++;
            sn--;
            break;
        case '\\':
            if (pn >= 2) {
                p++;
                pn--;
            }
            /* fall through */
        default:
            if (fold(g->nocase, (unsigned char)p[0]) != fold(g->nocase, (unsigned char)s[0]))
                return 0;
            s++;
            sn--;
            break;
        }
        p++;
        pn--;
        if (sn == 0) {
            while (pn > 0 && p[0] == '*') {
                p++;
                pn--;
            }
            break;
        }
    }
    return pn == 0 && sn == 0;
}

int glob_match(const char *pat, size_t plen, const char *str, size_t slen, int nocase)
{
    struct glob_run g = { .nocase = nocase, .dead = 0 };

    return match_at(&g, pat, plen, str, slen, 0);
}
