/* strconv — integers to and from decimal text with Redis's exact rules
 * (util.c string2ll / ll2string). Pure functions, safe on any thread; the
 * RESP parser, the config parser and the commands all use these so that a
 * number means the same thing everywhere. */
#include "strconv.h"

#include <limits.h>
#include <stdint.h>

int str_to_ll(const char *p, size_t n, long long *v)
{
    uint64_t acc = 0, limit;
    size_t i = 0;
    int neg = 0;

    if (n == 0)
        return 0;
    /* "0" is the only number allowed to start with '0' ("-0", "00" are not) */
    if (n == 1 && p[0] == '0') {
        if (v)
            *v = 0;
        return 1;
    }
    if (p[0] == '-') {
        neg = 1;
        i = 1;
        if (n == 1)
            return 0;
    }
    if (p[i] < '1' || p[i] > '9')
        return 0;
    limit = neg ? (uint64_t)LLONG_MAX + 1 : (uint64_t)LLONG_MAX;
    for (; i < n; i++) {
        unsigned d;

        if (p[i] < '0' || p[i] > '9')
            return 0;
        d = (unsigned)(p[i] - '0');
        if (acc > (limit - d) / 10)
            return 0;
        acc = acc * 10 + d;
    }
    if (v) {
        if (!neg)
            *v = (long long)acc;
        else if (acc == (uint64_t)LLONG_MAX + 1)
            *v = LLONG_MIN;
        else
            *v = -(long long)acc;
    }
    return 1;
}

int ll_to_str(char *buf, long long v)
{
    char tmp[24];
    /* magnitude in unsigned: -LLONG_MIN does not fit a long long */
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    int n = 0, len = 0;

    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        buf[len++] = '-';
    while (n)
        buf[len++] = tmp[--n];
    buf[len] = '\0';
    return len;
}
