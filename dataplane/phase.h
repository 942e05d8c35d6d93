/* phase — marks a function where a phase of the request path begins (rx,
 * stack, parse, dispatch, table, reply, tx, timers: the roots listed in
 * scripts/callgrind-phases.py).
 *
 * With link-time optimisation such a function could be inlined into its
 * caller, and its phase would vanish into the caller's in a profile. Kept a
 * call it costs a few instructions per request, and the benchmarks' cost
 * breakdown by phase keeps its boundaries. Nothing else is kept from
 * inlining, so a small helper inlined into a command counts in the
 * command's phase (a constant reply such as +OK counts as table). */
#ifndef SLOTD_PHASE_H
#define SLOTD_PHASE_H

#define PHASE_ROOT __attribute__((noinline))

#endif
