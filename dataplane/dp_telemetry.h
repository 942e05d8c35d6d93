/* dp_telemetry — slotd's data cores in DPDK telemetry, beside EAL's own
 * commands (/ethdev/stats, ...), on the socket EAL opens in its runtime
 * directory (/var/run/dpdk/<file-prefix>/dpdk_telemetry.v2; read it with
 * DPDK's dpdk-telemetry.py or any SOCK_SEQPACKET client).
 *
 *   /slotd/cores   {"loop_turns": [N, ...], "busy_turns": [N, ...],
 *                   "busy_usec": [N, ...]}, one element per data core
 *
 * A polling data core always shows 100% CPU; busy_usec, the time of the loop
 * turns that found work, is what it spent serving. Requests over busy
 * seconds is the core's capacity when the load does not saturate it (a load
 * generator sharing the machine, as in scripts/bench-dpdk.sh).
 *
 * Threads: registered by main once the cores exist; answered on EAL's
 * telemetry thread, which reads the counters with relaxed atomic loads
 * (their one writer is the owning core) and never touches anything else of
 * a core. dp_telemetry_stop() must run before the cores are destroyed. */
#ifndef SLOTD_DP_TELEMETRY_H
#define SLOTD_DP_TELEMETRY_H

struct runtime;

/* Register the commands for rt's cores. 0, or -errno from EAL (logged by the
 * caller; the node runs without them). Call once, after the cores exist. */
int dp_telemetry_start(struct runtime *rt);

/* Answer "no cores" from now on; returns after any answer in progress. */
void dp_telemetry_stop(void);

#endif
