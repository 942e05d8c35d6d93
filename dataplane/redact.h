/* redact — which arguments of a command Redis 7.0 hides as "(redacted)" in
 * SLOWLOG and MONITOR: secrets that must not reach a log. Pure function. */
#ifndef SLOTD_REDACT_H
#define SLOTD_REDACT_H

#include "slice.h"

#define REDACTED "(redacted)"      /* Redis shared.redacted */

/* 1 if argument i (> 0) of argv[0..argc) is hidden: every argument of AUTH;
 * HELLO's AUTH user and password; MIGRATE's AUTH password and AUTH2 user and
 * password; the value of a sensitive directive in CONFIG SET (requirepass,
 * masterauth...). */
int redact_arg(const struct slice *argv, int argc, int i);

#endif
