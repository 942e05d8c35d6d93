#!/usr/bin/python3
"""callgrind-phases.py — instructions per request per phase of a server's
request path, from a callgrind profile.

    callgrind-phases.py --preset dpdk --requests N --thread core_turn \
        --idle-per core_turn --idle idle.out-01 --idle idle.out-02 busy.out-*
    callgrind-phases.py --preset redis --requests N --idle idle.out busy.out
    callgrind-phases.py --map phases.txt --requests N callgrind.out
    callgrind-phases.py --tree net_input_burst --depth 4 cg.out-04

A phase is a set of roots. A root is a function (by name, shell glob allowed:
`resp_parse*`), a function of an object (`ob:librte_net_memif*`), or a call
edge (`dpdk_transport_poll>ob:librte_net_memif*`: what the poll calls inside
the memif PMD, which has no symbols, counts as rx). Map files hold one phase
a line, `phase: root root ...`; the first phase that names a root wins.

Method: every instruction counts once, in the phase of the innermost root on
the call stack when it ran; code under no root goes to `other`. Inclusive
costs are not added up (a root nested in another, e.g. the command a packet's
arrival runs, would be counted twice) and not subtracted either (one
function's inclusive cost spans every caller). Instead each function's
exclusive cost (its own instructions) is given to phases by its context:
  - a root's context is its phase;
  - any other function's context is the mix of its callers' contexts,
    weighted by the inclusive cost of each call edge (callgrind records the
    cost of every caller → callee edge); an edge that is a root gives its
    phase instead of the caller's context;
  - a function nobody calls (thread entry) is `other`.
Contexts are solved by iteration (call graphs have cycles). A phase's cost is
then the sum of exclusive cost × the phase's share of the context, so the
phases add up to the profile's total exactly, and a root's phase is its
inclusive cost minus the inclusive cost of the roots nested in it.

The weighting is exact for a function whose callers all sit in one phase,
and an estimate (gprof's assumption: a callee's cost splits like the cost of
its callers' calls to it) for a helper shared by several phases: memcpy, the
allocator, the clock. The report gives the exclusive cost of such helpers
("shared"), a bound on what was estimated; profiling with `valgrind
--separate-callers=2` makes each helper distinct per caller chain (names
`fn'caller'caller2`, handled here) and shrinks it to a few instructions per
request for slotd.

Idle cost. Instructions that run whether or not requests come are not the
requests' cost; --idle names a profile of the same server without load:
  - --idle-per whole: subtract it phase by phase as it is (bench.sh: whole
    runs with the same start-up, preload and shutdown);
  - --idle-per FN (core_turn): subtract the idle profile's cost per call of
    FN, phase by phase, times FN's calls in the measured profile. A polling
    core turns empty between packets (far more often under valgrind, which
    slows the server and not the client). Turns x the cost of an empty
    turn removes the empty turns and the same fixed part of every busy
    turn (reported as `idle`); what stays is what the requests added.
    Time-driven work (timers) is not per turn, so a small residue of it may
    stay in `timers` or `other`, of either sign.
Per request: phase cost (after subtraction) / --requests.
"""
import argparse
import collections
import fnmatch
import os
import re
import sys

# slotd's phases past the transport, the same on both transports.
SLOTD_APP = [
    ("parse", ["resp_parse*"]),
    ("dispatch", ["client_rx_done", "process_input", "dispatch", "exec_here", "core_exec",
                  "cmd_lookup"]),
    ("table", ["cmd_get", "cmd_set", "ks_*", "kvt_*", "kv_*"]),
    ("reply", ["resp_add_*", "resp_out_*"]),
]
SLOTD_TIMERS = ("timers", ["net_timers", "cron", "shard_rehash_step", "shard_active_expire",
                           "client_cron", "track_served_slots"])

# Phase maps of the profiles bench.sh and bench-dpdk.sh take. Order matters:
# the first phase that lists a root owns it.
PRESETS = {
    # slotd, dataplane dpdk: the data core thread (core_turn). The memif PMD
    # has no symbols: its rx is whatever the poll calls in librte_net_*.
    "dpdk": [
        ("rx", ["dpdk_transport_poll>ob:librte_net_*"]),
        ("stack", ["net_input_burst", "up_data", "up_accept", "up_closed", "up_writable",
                   "net_tcp_send", "net_tcp_close", "net_tcp_pause_input"]),
    ] + SLOTD_APP + [
        ("tx", ["client_flush", "net_flush", "net_tx_flush", "hook_tx"]),
        SLOTD_TIMERS,
    ],
    # slotd, dataplane socket: the kernel's TCP/IP is not in a callgrind
    # profile; rx and tx are the system call wrappers, stack the epoll loop.
    "socket": [
        ("rx", ["read", "__libc_read", "client_rx_space"]),
        ("stack", ["sock_poll"]),
    ] + SLOTD_APP + [
        ("tx", ["client_flush", "write", "__libc_write", "writev"]),
        SLOTD_TIMERS,
    ],
    # redis-server 7.0: read and query buffer, argv building, command
    # lookup and call, the dict, the reply buffer, the write.
    "redis": [
        ("rx", ["readQueryFromClient", "read", "__libc_read"]),
        ("stack", ["epoll_wait"]),
        ("parse", ["processInputBuffer", "processMultibulkBuffer", "processInlineBuffer"]),
        ("dispatch", ["processCommand", "call", "lookupCommand*", "commandProcessed",
                      "resetClient"]),
        ("table", ["getCommand", "getGenericCommand", "lookupKey*", "dictFind", "dbFind*",
                   "expireIfNeeded"]),
        ("reply", ["addReply*", "_addReply*", "prepareClientToWrite"]),
        ("tx", ["handleClientsWithPendingWrites*", "writeToClient", "_writeToClient", "write",
                "__libc_write", "writev"]),
        ("timers", ["serverCron", "clientsCron", "databasesCron", "activeExpireCycle"]),
    ],
}

CALLS_RE = re.compile(r"^calls=(\d+)")
NAME_RE = re.compile(r"^(ob|fl|fi|fe|fn|cob|cfi|cfl|cfn)=(?:\((\d+)\))?\s*(.*)$")


class Profile:
    """Functions keyed by (object, name); self cost; caller → callee edges."""

    def __init__(self):
        self.self = collections.Counter()
        self.edges = collections.Counter()       # (caller, callee) → inclusive Ir
        self.calls = collections.Counter()       # (caller, callee) → call count
        self.total = 0

    def load(self, path):
        names = {k: {} for k in ("ob", "fl", "fn")}
        ob = fn = cob = cfn = None
        call_pending = None
        total = None
        with open(path, errors="replace") as f:
            for line in f:
                line = line.rstrip("\n")
                if not line or line[0] == "#":
                    continue
                c0 = line[0]
                if c0.isdigit() or c0 in "+-*":
                    parts = line.split()
                    cost = int(parts[1]) if len(parts) > 1 else 0
                    if call_pending is not None:
                        key = ((ob, fn), call_pending[0])
                        self.edges[key] += cost
                        self.calls[key] += call_pending[1]
                        call_pending = None
                        cob = None       # cob= names the next callee only
                    else:
                        self.self[(ob, fn)] += cost
                    continue
                m = CALLS_RE.match(line)
                if m:
                    call_pending = ((cob if cob is not None else ob, cfn), int(m.group(1)))
                    continue
                m = NAME_RE.match(line)
                if m:
                    kind, ident, name = m.groups()
                    table = {"ob": "ob", "cob": "ob", "fl": "fl", "fi": "fl", "fe": "fl",
                             "cfi": "fl", "cfl": "fl", "fn": "fn", "cfn": "fn"}[kind]
                    if ident is not None:
                        if name:
                            names[table][ident] = name
                        name = names[table].get(ident, "?%s#%s" % (table, ident))
                    if kind == "ob":
                        ob, cob = name, None
                    elif kind == "fn":
                        fn, cob = name, None
                    elif kind == "cob":
                        cob = name
                    elif kind == "cfn":
                        cfn = name
                    continue
                if line.startswith(("summary:", "totals:")):
                    total = int(line.split()[1])
        self.total += total if total is not None else 0

    def functions(self):
        fs = set(self.self)
        for g, f in self.edges:
            fs.add(g)
            fs.add(f)
        return fs


# gcc's names for the clones it makes of a function (constant propagation,
# scalar replacement, link-time privatisation, split cold parts): the clone is
# still the function a root names.
CLONE_RE = re.compile(r"(\.(constprop|isra|lto_priv|part|cold|clone)(\.\d+)?)+$")


def base_name(fn):
    """Function name without callgrind's recursion ('2) and caller ('caller)
    suffixes, and without gcc's clone suffixes (.constprop.0, .lto_priv.0)."""
    return CLONE_RE.sub("", fn.split("'", 1)[0])


class Root:
    def __init__(self, text):
        self.text = text
        self.caller = None
        if ">" in text:
            self.caller, text = text.split(">", 1)
        self.ob = text.startswith("ob:")
        self.pat = text[3:] if self.ob else text

    def match_fn(self, key):
        ob, fn = key
        if self.ob:
            return fnmatch.fnmatchcase(os.path.basename(ob or ""), self.pat)
        return fnmatch.fnmatchcase(base_name(fn), self.pat)

    def match_edge(self, caller, callee):
        return fnmatch.fnmatchcase(base_name(caller[1]), self.caller) and self.match_fn(callee)


def attribute(prof, phases):
    """Exclusive cost of every function split over phases by context."""
    fn_root = {}
    edge_roots = []
    funcs = prof.functions()
    for phase, roots in phases:
        for r in map(Root, roots):
            if r.caller:
                edge_roots.append((r, phase))
                continue
            for f in funcs:
                if f not in fn_root and r.match_fn(f):
                    fn_root[f] = phase
    edge_phase = {}
    for (g, f) in prof.edges:
        for r, phase in edge_roots:
            if r.match_edge(g, f):
                edge_phase[(g, f)] = phase
                break
    callers = collections.defaultdict(list)
    for (g, f), w in prof.edges.items():
        if g != f:
            callers[f].append((g, w))
    ctx = {}
    for f in funcs:
        ctx[f] = {fn_root[f]: 1.0} if f in fn_root else {"other": 1.0}
    for _ in range(200):
        changed = 0.0
        for f in funcs:
            if f in fn_root or not callers[f]:
                continue
            mix = collections.defaultdict(float)
            wsum = 0.0
            for g, w in callers[f]:
                w = max(w, 1)
                src = {edge_phase[(g, f)]: 1.0} if (g, f) in edge_phase else ctx[g]
                for p, x in src.items():
                    mix[p] += w * x
                wsum += w
            new = {p: x / wsum for p, x in mix.items()}
            old = ctx[f]
            changed += sum(abs(new.get(p, 0) - old.get(p, 0)) for p in set(new) | set(old))
            ctx[f] = new
        if changed < 1e-9:
            break
    cost = collections.defaultdict(float)
    shared = 0.0
    for f, s in prof.self.items():
        c = ctx.get(f, {"other": 1.0})
        for p, x in c.items():
            cost[p] += s * x
        if max(c.values()) < 0.999:
            shared += s
    return cost, shared, ctx


def pick_files(paths, thread_fn):
    """The profiles (one per thread) that hold thread_fn, or all."""
    if not thread_fn:
        return paths
    out = []
    clones = CLONE_RE.pattern.rstrip("$")
    pat = re.compile(r"^c?fn=(\(\d+\))? ?%s(%s)?('[^\n]*)?$" % (re.escape(thread_fn), clones), re.M)
    for p in paths:
        with open(p, errors="replace") as f:
            if pat.search(f.read()):
                out.append(p)
    return out


def load(paths, thread_fn, what):
    files = pick_files(paths, thread_fn)
    if not files:
        sys.exit("callgrind-phases: no %s profile holds %s" % (what, thread_fn))
    prof = Profile()
    for p in files:
        prof.load(p)
    return prof, files


def turns(prof, fn):
    """How often fn was called: the loop turns of a polling core."""
    return sum(n for (g, f), n in prof.calls.items() if base_name(f[1]) == fn and base_name(g[1]) != fn)


def print_tree(prof, root, depth, min_share):
    children = collections.defaultdict(list)
    for (g, f), w in prof.edges.items():
        children[g].append((w, f, prof.calls[(g, f)]))
    incl = collections.Counter()
    for (g, f), w in prof.edges.items():
        incl[f] += w
    starts = [f for f in prof.functions() if base_name(f[1]) == root or f[1] == root]
    for s in starts:
        top = incl[s] or prof.self[s]
        print("%12d  %s  [%s]  self %d" % (top, s[1], os.path.basename(s[0] or ""), prof.self[s]))

        def walk(g, d, seen):
            for w, f, n in sorted(children[g], reverse=True):
                if top and w < min_share * top:
                    continue
                print("%12d  %s%s  [%s] calls %d self %d" % (w, "  " * d, f[1],
                      os.path.basename(f[0] or ""), n, prof.self[f]))
                if d < depth and f not in seen:
                    walk(f, d + 1, seen | {f})
        walk(s, 1, {s})


def read_map(path):
    phases = []
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                name, roots = line.split(":", 1)
                phases.append((name.strip(), roots.split()))
    return phases


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("profiles", nargs="+", help="callgrind.out files (per thread: see --thread)")
    ap.add_argument("--preset", choices=sorted(PRESETS))
    ap.add_argument("--map", help="phase map file: 'phase: root root ...' per line")
    ap.add_argument("--requests", type=float, default=1.0, help="divide by this many requests")
    ap.add_argument("--thread", help="use only the per-thread profiles that contain this function")
    ap.add_argument("--idle", action="append", default=[],
                    help="profile of the same server with no load (repeat per thread file)")
    ap.add_argument("--idle-per", default="whole", metavar="FN|whole",
                    help="whole: subtract the idle profile as it is (same start-up and "
                         "shutdown, bench.sh); FN: subtract the idle cost per call of FN "
                         "(core_turn: a polling core's empty turns) times FN's calls in "
                         "the profile")
    ap.add_argument("--tree", help="print the call tree under this function instead")
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--min-share", type=float, default=0.01)
    ap.add_argument("--top", type=int, default=0, help="text: the top N functions of each phase")
    ap.add_argument("--format", choices=("text", "kv"), default="text",
                    help="kv: 'name value' lines, per request, for scripts")
    args = ap.parse_args()

    prof, files = load(args.profiles, args.thread, "")
    if args.tree:
        print_tree(prof, args.tree, args.depth, args.min_share)
        return
    if args.map:
        phases = read_map(args.map)
    elif args.preset:
        phases = PRESETS[args.preset]
    else:
        sys.exit("callgrind-phases: --preset or --map")
    order = [p for p, _ in phases] + ["other"]
    cost, shared, ctx = attribute(prof, phases)
    total = sum(cost.values())
    sub = collections.defaultdict(float)
    per_turn = 0.0
    note = "no idle subtraction"
    if args.idle:
        iprof, _ = load(args.idle, args.thread, "idle")
        icost, _, _ = attribute(iprof, phases)
        if args.idle_per == "whole":
            scale = 1.0
            note = "idle profile subtracted"
        else:
            tb, ti = turns(prof, args.idle_per), turns(iprof, args.idle_per)
            if ti == 0:
                sys.exit("callgrind-phases: %s never ran in the idle profile" % args.idle_per)
            scale = tb / ti
            per_turn = sum(icost.values()) / ti
            note = ("idle cost per %s call (%.0f Ir) x %d calls subtracted, %.3f calls per request"
                    % (args.idle_per, sum(icost.values()) / ti, tb, tb / args.requests))
        for p, x in icost.items():
            sub[p] = x * scale
    n = args.requests
    work = {p: cost.get(p, 0.0) - sub.get(p, 0.0) for p in order}
    idle = sum(sub.values())
    nturns = turns(prof, args.idle_per) if args.idle and args.idle_per != "whole" else 0
    if args.format == "kv":
        for p in order:
            print("%s %.1f" % (p, work[p] / n))
        print("work %.1f" % (sum(work.values()) / n))
        print("idle %.1f" % (idle / n))
        print("total %.1f" % (total / n))
        print("shared %.1f" % (shared / n))
        print("turns %.3f" % (nturns / n))
        print("idle_turn %.1f" % per_turn)
        return
    print("profile: %s: %d Ir, %g requests; %s" % (", ".join(files), total, n, note))
    print("%-10s %10s %7s" % ("phase", "Ir/req", "share"))
    w = sum(work.values())
    for p in order:
        print("%-10s %10.1f %6.1f%%" % (p, work[p] / n, 100.0 * work[p] / (w or 1)))
        if args.top:
            # gross, before the idle subtraction
            tops = sorted(((prof.self[f] * ctx.get(f, {}).get(p, 0.0), f) for f in prof.self),
                          reverse=True)[:args.top]
            for c, f in tops:
                if c > 0:
                    print("%12s %10.1f  %s" % ("", c / n, f[1]))
    print("%-10s %10.1f" % ("work", w / n))
    if args.idle:
        print("%-10s %10.1f  (subtracted)" % ("idle", idle / n))
    print("%-10s %10.1f" % ("total", total / n))
    print("shared helpers split by caller weight: %.1f Ir per request (%.1f%% of the total)"
          % (shared / n, 100.0 * shared / (total or 1)))


if __name__ == "__main__":
    main()
