/* resp_parse — incremental parser for client requests: RESP multibulk arrays and
 * inline commands, with Redis 7.0's limits and error strings.
 *
 * The parser is resumable: feed it the connection's whole unconsumed input each
 * time more bytes arrive and it continues where it stopped, so a 512 MB bulk that
 * trickles in is scanned once, not once per read. It records offsets, not
 * pointers, so the caller may move or grow its buffer between calls. Owned by the
 * connection's data core. */
#ifndef SLOTD_RESP_PARSE_H
#define SLOTD_RESP_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include "phase.h"
#include "slice.h"

/* Limits a parser enforces; copied from the live config when a connection opens
 * and again on CONFIG SET. */
struct resp_limits {
    uint64_t proto_max_bulk_len;   /* proto-max-bulk-len, Redis default 512mb */
    int      auth_required;        /* unauthenticated: Redis caps multibulk at 10, bulk at 16384 */
};

enum resp_result {
    RESP_INCOMPLETE = 0,   /* need more bytes */
    RESP_COMMAND    = 1,   /* one command parsed: argc/argv valid, *consumed set */
    RESP_EMPTY      = 2,   /* an empty inline line or "*0"/"*-1": nothing to run, *consumed set */
    RESP_ERROR      = -1,  /* protocol error: error text set; reply it, then close */
};

struct resp_parser {
    /* public results (valid after RESP_COMMAND until the next call) */
    int argc;
    struct slice *argv;        /* point into the buffer passed to resp_parse(), except
                                  inline arguments written with quotes, which point
                                  into the parser's scratch (valid just as long) */
    const char *error;         /* e.g. "Protocol error: invalid bulk length" (no "-ERR ") */
    /* private state */
    int kind;                  /* 0 unknown, 1 multibulk, 2 inline */
    long long mbulk_left;      /* elements still to read, 0 before the count line */
    long long bulk_len;        /* length of the bulk being read, -1 if none */
    size_t pos;                /* offset of the next header line or bulk in the command */
    size_t scan;               /* where the search for the next line end resumes */
    size_t *offs;              /* argv offsets while the buffer may move (lengths in argv) */
    int cap;                   /* entries in argv and offs */
    char *scratch;             /* unescaped inline arguments */
    size_t scratch_cap;
    char errbuf[48];           /* "Protocol error: expected '$', got 'X'" */
    int fast_cap;              /* argv entries the one-pass path may fill: cap, or 0
                                  while start_command has memory to give back */
    int exact_only;            /* tests only, set right after resp_parser_init: 1 skips
                                  the one-pass path, so both paths can be compared */
};

void resp_parser_init(struct resp_parser *p);
void resp_parser_free(struct resp_parser *p);

/* Parse at most one command from buf[0..len). On RESP_COMMAND or RESP_EMPTY,
 * *consumed is the number of bytes the command used; the caller drops them
 * before the next call. On RESP_INCOMPLETE the caller keeps every byte and calls
 * again with the same start and more data. Returns RESP_ERROR with error text
 * NULL (out of memory) only when argv cannot grow; the state is then kept, and
 * a later call with the same bytes retries. */
PHASE_ROOT enum resp_result resp_parse(struct resp_parser *p, const struct resp_limits *lim,
                                       const char *buf, size_t len, size_t *consumed);

/* Bytes the parser still needs before the current bulk is complete (0 if not
 * inside a bulk); lets the caller size a read buffer for large values. */
size_t resp_parse_want(const struct resp_parser *p, size_t have);

/* The parser's one-pass path on its own, for a caller that parses ahead
 * (client.c, several commands of a pipeline at once): a complete multibulk
 * command at buf whose headers are plain digits, within `lim`, with at most
 * `cap` arguments, into the caller's argv (pointing into buf). Returns the
 * command's bytes with *argc set, or 0 for anything else, which resp_parse
 * must judge (between commands it gives the same result for the same bytes,
 * errors included). */
PHASE_ROOT size_t resp_parse_plain(const struct resp_limits *lim, const char *buf, size_t len,
                                   struct slice *argv, int cap, int *argc);

/* A preview for cache warming only (client_rx_peek): the second argument
 * (most commands' key) of a plain multibulk command at buf, with its length,
 * or 0 when there is none in buf. Nothing past it is read and nothing is
 * checked against any limit: never act on it but to prefetch. */
size_t resp_peek_arg1(const char *buf, size_t len, const char **arg1);

/* 1 when the parser holds nothing of a command: the next byte starts one,
 * so a caller may parse the following commands itself with
 * resp_parse_plain. */
int resp_parser_between(const struct resp_parser *p);

#endif
