#!/usr/bin/python3
"""perf-phases.py — time per request per phase of slotd's request path, from
`perf script` output of a `perf record --call-graph dwarf -e cpu-clock`
profile: the cycles callgrind's instruction counts do not show (misses,
stalls, the PMD's copies).

    perf script -i perf.data -F comm,ip,sym,dso | \\
        perf-phases.py --thread slotd-core0 --requests N --hz F --ghz G

The phases are scripts/callgrind-phases.py's dpdk preset, by the same rule:
a sample counts in the phase of the innermost root on its call stack (DWARF
unwinding gives inlined frames too, so a root inlined into another still
counts as itself), else `other`. An edge root `A>ob:B` (the PMD's rx under
the poll) holds for a frame in object B when A is among the next frames up
(the PMD has no symbols; rte_eth_rx_burst sits between, inlined).

Each cpu-clock sample is 1/hz seconds of the thread's CPU time, so a phase's
time per request is its samples / hz / requests; cycles are that time at the
CPU clock (--ghz). A polling core turns empty between bursts and before and
after the load: with --idle (a profile of the same core without load, over
--idle-seconds) and --busy (the seconds the core spent in turns that found
work during the window, from its own counter), each phase loses the idle
profile's rate times the window's idle seconds (its samples / hz - busy),
as callgrind-phases.py subtracts its idle window.
"""
import argparse
import collections
import importlib.util
import os
import re
import sys

# Inlined frames callgrind never sees: ethdev's burst wrappers, the rx and
# tx of whichever port.
EXTRA = {"dpdk": [("rx", ["rte_eth_rx_burst"]), ("tx", ["rte_eth_tx_burst"])]}


def load_phases_module():
    """scripts/callgrind-phases.py, for its maps and its root matching."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "callgrind-phases.py")
    spec = importlib.util.spec_from_file_location("callgrind_phases", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def frames_of(text):
    """Yield (comm, [(dso, sym)] leaf first) per sample of perf script's
    default layout with -F comm,ip,sym,dso: the (object, function) keys
    callgrind-phases.py's roots match."""
    comm, frames = None, []
    for line in text:
        if not line.strip():
            if comm is not None:
                yield comm, frames
            comm, frames = None, []
            continue
        if not line[0].isspace():
            comm, frames = line.split()[0], []
            continue
        m = re.match(r"\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$", line)
        if m:
            frames.append((m.group(2), m.group(1)))
    if comm is not None:
        yield comm, frames


def phase_of(frames, roots, lookahead=3):
    """The phase of the innermost root on the stack. An edge root's caller
    may be a few frames up: inlined wrappers (rte_eth_rx_burst) sit between
    the poll and the PMD."""
    for i, key in enumerate(frames):
        for phase, root in roots:
            if root.caller is None:
                if root.match_fn(key):
                    return phase
            elif any(root.match_edge(up, key) for up in frames[i + 1:i + 1 + lookahead]):
                return phase
    return "other"


def count_phases(src, thread, roots):
    count = collections.Counter()
    for comm, frames in frames_of(src):
        if comm == thread and frames:
            count[phase_of(frames, roots)] += 1
    return count


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="dpdk")
    ap.add_argument("--thread", default="slotd-core0", help="comm of the data core's thread")
    ap.add_argument("--requests", type=int, required=True)
    ap.add_argument("--hz", type=float, required=True, help="perf record -F")
    ap.add_argument("--ghz", type=float, required=True, help="TSC rate, for cycles")
    ap.add_argument("--idle", help="perf script output of the core without load")
    ap.add_argument("--idle-seconds", type=float, help="the idle profile's duration")
    ap.add_argument("--busy", type=float, help="busy seconds of the core in the window")
    ap.add_argument("--format", choices=("table", "kv"), default="table")
    ap.add_argument("input", nargs="?", help="perf script output (default: stdin)")
    a = ap.parse_args()
    mod = load_phases_module()
    preset = mod.PRESETS[a.preset]
    roots = [(p, mod.Root(r)) for p, names in EXTRA.get(a.preset, []) + preset for r in names]
    order = [p for p, _ in preset] + ["other"]
    src = open(a.input) if a.input else sys.stdin
    count = count_phases(src, a.thread, roots)
    total = sum(count.values())
    if total == 0:
        sys.exit("perf-phases.py: no sample of thread %s" % a.thread)
    idle_s = 0.0
    if a.idle:
        if a.idle_seconds is None or a.busy is None:
            sys.exit("perf-phases.py: --idle needs --idle-seconds and --busy")
        idle = count_phases(open(a.idle), a.thread, roots)
        idle_s = max(0.0, total / a.hz - a.busy)
        for p in order:
            count[p] = max(0.0, count[p] - idle[p] / a.idle_seconds * idle_s)
        total = sum(count[p] for p in order)
    per = lambda n: n / a.hz / a.requests * 1e9          # ns per request
    if a.format == "kv":
        for p in order:
            print("%s %.2f" % (p, per(count[p]) * a.ghz))
        print("total %.2f" % (per(total) * a.ghz))
        print("samples %d" % total)
        print("idle_s %.3f" % idle_s)
        return
    print("| phase | share | ns per request | cycles per request |")
    print("|---|---:|---:|---:|")
    for p in order:
        print("| %s | %.1f%% | %.1f | %.0f |" % (p, 100.0 * count[p] / total, per(count[p]),
                                              per(count[p]) * a.ghz))
    print("| **all** | 100%% | %.1f | %.0f |" % (per(total), per(total) * a.ghz))
    print("(%d samples after %.3f s of empty turns were taken out)" % (total, idle_s))


if __name__ == "__main__":
    main()
