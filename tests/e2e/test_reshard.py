#!/usr/bin/python3
"""Slot migration under load in a cluster that mixes slotd and redis-server 7.0.

Three masters (real, slotd, real) are built with `redis-cli --cluster create`.
python3-redis RedisCluster loads a key into every one of the 16384 slots and
more (100,000 keys; strings of every RDB encoding: short, int-encoded,
LZF-compressible, binary, some with a TTL), then a writer thread keeps
overwriting random keys with increasing versions while redis-cli moves slots:

  reshard real0 -> slotd, slotd -> real0, slotd -> real2 (--cluster-slots),
  rebalance to equal weights, rebalance with slotd weighted to take about
  as many slots again,
  add-node of a fresh slotd, reshard to it from all, reshard it empty,
  del-node.

The writer follows redis-cli's progress output, so half of its writes go to
the slot being moved at that moment (existing keys, before and after they
moved, and new keys): the ASK / ASKING / MIGRATING paths are hit thousands
of times per step, and it reads each such key back at once.

Each step must exit cleanly, move the slots it was asked to, and leave
`redis-cli --cluster check` clean through every node (no open slot, 16384
covered, nodes agree). After the moves the writer stops and every key is read
back through RedisCluster: each holds its last acknowledged value (or the
value of a later write that failed in doubt), keeps its TTL, and lives on
exactly one node, the owner of its slot (DBSIZE sum, SCAN of every node,
COUNTKEYSINSLOT of every slot on every node). A step that fails prints the
redis-cli output, every node's CLUSTER NODES and log tail, then runs
`--cluster fix`, which must leave the cluster clean without losing a key.

Options: --quick (20000 keys, 300 slots, threads=1 only), --kinds
real,slotd,real (real = redis-server; "real,real,real" validates the test
itself, as does TARGET=redis), --threads 1,2 (slotd data cores, one run each;
runs after the first are smaller unless --all-full), --keys N, --slots N,
--no-rebalance, --no-add-node. Environment as in harness.py (SLOTD_BIN ...).
Every server runs on 127.0.0.1 and is stopped by PID. Run with /usr/bin/python3.
"""

import argparse
import logging
import os
import random
import re
import select
import signal
import subprocess
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_cluster as tc  # noqa: E402

# No failure is injected here, and a real node blocks its whole server for the
# length of each MIGRATE it runs: on a loaded 2-CPU machine the 2 s timeout
# test_cluster.py uses for fast failure detection can flag a busy real master
# as failing mid-reshard. Redis's default is 15 s; 10 s keeps that margin.
tc.NODE_TIMEOUT = 10000

try:
    import redis
    from redis.cluster import ClusterNode, RedisCluster
    from redis.crc import key_slot
except ImportError:
    redis = None

NSLOTS = 16384                  # Redis Cluster hash slots (src/cluster.h CLUSTER_SLOTS)
TTL = 3600                      # seconds, for the keys that carry an expiry
STEP_TIMEOUT = 240              # one redis-cli step; a hang is a failure, not a stall

# redis-py logs every MOVED/ASK it follows as an exception at ERROR level.
logging.getLogger("redis").addHandler(logging.NullHandler())
logging.getLogger("redis").propagate = False


# ---------------------------------------------------------------------------
# The data set and its history.

class ReadError(str):
    """A read that raised, in place of its reply."""


class History:
    """Every key written and the versions it may hold. Key i's value at
    version v names both (value()); acked[i] is the last acknowledged version
    (None: the key was never acknowledged to exist), doubt[i] the versions of
    later writes that raised and may or may not have landed. Only the writer
    thread changes it, and it is read after the writer stopped."""

    def __init__(self, n):
        self.tags = [None] * NSLOTS
        missing, j = NSLOTS, 0
        while missing:
            t = "t%d" % j
            s = key_slot(t.encode())
            if self.tags[s] is None:
                self.tags[s] = t
                missing -= 1
            j += 1
        # the first 16384 keys put one key in every slot (through its tag),
        # the rest are plain names spread by CRC16
        self.keys = ["{%s}:%d" % (self.tags[s], s) for s in range(NSLOTS)]
        self.keys += ["key:%d" % i for i in range(NSLOTS, n)]
        self.by_slot = [[] for _ in range(NSLOTS)]
        for i, k in enumerate(self.keys):
            self.by_slot[key_slot(k.encode())].append(i)
        self.acked = [0] * n
        self.version = [0] * n
        self.doubt = {}
        self.created = 0
        self._pads = {}

    def new_key(self, slot):
        """A key that does not exist yet, in slot."""
        i = len(self.keys)
        self.keys.append("{%s}:new%d" % (self.tags[slot], i))
        self.by_slot[slot].append(i)
        self.acked.append(None)
        self.version.append(0)
        self.created += 1
        return i

    def value(self, i, v):
        """Key i at version v; i picks the encoding a dump will use."""
        if v is None:
            return None
        k = self.keys[i].encode()
        m = i % 50
        if m == 5:
            return b"%d" % (i * 10 ** 7 + v)                 # int-encoded string
        if m == 3:
            return b"%s=%d|" % (k, v) + b"x" * 4000          # LZF-compressed
        if m == 4:                                           # binary, incompressible
            if i not in self._pads:
                self._pads[i] = random.Random(i).randbytes(1000)
            return b"%s=%d|" % (k, v) + self._pads[i]
        return b"%s=%d" % (k, v)

    def acceptable_versions(self, i):
        return {self.acked[i]} | self.doubt.get(i, set())

    def acceptable(self, i):
        return [self.value(i, v) for v in self.acceptable_versions(i)]


def has_ttl(i):
    return i % 20 == 7


def cluster_client(port):
    return RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", port)], socket_timeout=20,
                        cluster_error_retry_attempts=10)


def load(port, hist):
    rc = cluster_client(port)
    try:
        for base in range(0, len(hist.keys), 2000):
            pipe = rc.pipeline()
            for i in range(base, min(base + 2000, len(hist.keys))):
                pipe.set(hist.keys[i], hist.value(i, 0), ex=TTL if has_ttl(i) else None)
            pipe.execute()
    finally:
        rc.close()


class Writer(threading.Thread):
    """One SET at a time with increasing versions, recorded in the history.
    Odd turns overwrite a random key. Even turns, while redis-cli is moving
    slot hot_slot (run_step follows its output), write a key of that slot and
    read it back, or create a new key there: these land while the slot is
    MIGRATING/IMPORTING, on keys already moved (ASK, ASKING) or not, and on
    keys absent from both sides. Every 50th random turn also reads a random
    key. A read must return a value the key may hold: a lost write shows up
    during the step that lost it."""

    MAX_NEW = 5000

    def __init__(self, port, hist, seed):
        super().__init__(daemon=True)
        self.port = port
        self.hist = hist
        self.rnd = random.Random(seed)
        self.hot_slot = None
        self.writes = 0
        self.hot_writes = 0
        self.reads = 0
        self.client_retries = 0
        self.errors = []
        self.bad_reads = []
        self.step = "start"
        self.stop_ev = threading.Event()
        self.crash = None

    def run(self):
        try:
            rc = cluster_client(self.port)
        except Exception as e:
            self.crash = repr(e)
            return
        h = self.hist
        turn = 0
        try:
            while not self.stop_ev.is_set():
                turn += 1
                slot = self.hot_slot
                if turn % 2 == 0 and slot is not None:
                    if self.rnd.random() < 0.25 and h.created < self.MAX_NEW or not h.by_slot[slot]:
                        i = h.new_key(slot)
                    else:
                        i = self.rnd.choice(h.by_slot[slot])
                    if self.write(rc, i):
                        self.hot_writes += 1
                        self.check_read(rc, i)
                    continue
                i = self.rnd.randrange(len(h.keys))
                if turn % 100 == 99:
                    self.check_read(rc, i)
                self.write(rc, i)
        except Exception:
            self.crash = traceback.format_exc()
        finally:
            rc.close()

    def call(self, rc, fn, *args, **kw):
        """fn(*args), through python3-redis 4.3.4's ASK bug: an ASK to a node
        its cache lacks (one with no slot yet: CLUSTER SLOTS leaves it out)
        raises AttributeError before the command is sent, so a retry once
        the topology is reloaded is safe."""
        for attempt in range(100):
            try:
                return fn(*args, **kw)
            except AttributeError as e:
                if "server_type" not in str(e) or attempt == 99:
                    raise
                self.client_retries += 1
                time.sleep(0.02)
                rc.nodes_manager.initialize()

    def write(self, rc, i):
        h = self.hist
        v = h.version[i] + 1
        h.version[i] = v
        try:
            self.call(rc, rc.set, h.keys[i], h.value(i, v), ex=TTL if has_ttl(i) else None)
        except Exception as e:
            h.doubt.setdefault(i, set()).add(v)
            self.errors.append("%s: SET %s: %r" % (self.step, h.keys[i], e))
            time.sleep(0.05)
            return False
        h.acked[i] = v
        h.doubt.pop(i, None)
        self.writes += 1
        return True

    def check_read(self, rc, i):
        h = self.hist
        try:
            got = self.call(rc, rc.get, h.keys[i])
        except Exception as e:
            self.errors.append("%s: GET %s: %r" % (self.step, h.keys[i], e))
            return
        self.reads += 1
        if got not in h.acceptable(i):
            self.bad_reads.append("%s: GET %s (slot %d) = %s, want version %s" %
                                  (self.step, h.keys[i], key_slot(h.keys[i].encode()),
                                   harness.show(got, 80), sorted(map(str, h.acceptable_versions(i)))))

    def finish(self):
        self.stop_ev.set()
        self.join(30)


# ---------------------------------------------------------------------------
# Cluster views.

def myid(n):
    return n.text("CLUSTER", "MYID")


def expand(ranges):
    out = []
    for r in ranges:
        a, _, b = r.partition("-")
        out.extend(range(int(a), int(b or a) + 1))
    return out


def slot_counts(observer):
    """{node id: number of slots} as observer's CLUSTER NODES has it."""
    return {nid: len(expand(v[4])) for nid, v in tc.nodes_view(observer).items() if "master" in v[1]}


def owners(observer):
    """[owner node id] indexed by slot."""
    own = [None] * NSLOTS
    for nid, v in tc.nodes_view(observer).items():
        for s in expand(v[4]):
            own[s] = nid
    return own


def trim(out, limit=4000):
    """redis-cli output without the list of planned slot moves (one line per
    slot), keeping its tail."""
    lines = out.splitlines()
    plan = [l for l in lines if re.match(r"^\s+Moving slot \d+ from [0-9a-f]{40}$", l)]
    keep = [l for l in lines if not re.match(r"^\s+Moving slot \d+ from [0-9a-f]{40}$", l)]
    text = "\n".join(keep)
    if len(text) > limit:
        text = "..." + text[-limit:]
    return ("(%d planned-move lines left out)\n" % len(plan) if plan else "") + text


def describe(ctx):
    """What a failed step leaves behind: every node's view and log tail."""
    lines = []
    for n in ctx.live():
        try:
            lines.append("--- %s (%s) CLUSTER NODES:\n%s" % (n.name, n.addr(), n.text("CLUSTER", "NODES")))
        except Exception as e:
            lines.append("--- %s: CLUSTER NODES failed: %r" % (n.name, e))
        lines.append("--- %s log (%s):\n%s" % (n.name, n.log_path, n.log_tail(12 if n.real else 40)))
    return "\n".join(lines)


class Ctx:
    def __init__(self, res, label, nodes, args):
        self.res = res
        self.label = label
        self.nodes = nodes          # the cluster's current members
        self.extra = []             # nodes started later (add-node), stopped at the end
        self.hist = None
        self.args = args
        self.writer = None
        self.broken = False         # a step failed: later moves are skipped

    def live(self):
        return [n for n in self.nodes + self.extra if n.alive()]

    def name(self, what):
        return "%s: %s" % (self.label, what)

    def by_addr(self, addr):
        return next((n for n in self.nodes if n.addr() == addr), None)


def check_clean(ctx, what, nodes=None):
    """`redis-cli --cluster check` through every node: exit 0, no [ERR] or
    [WARNING], all slots covered, nodes agree. Gossip gets a few seconds."""
    nodes = nodes or ctx.nodes
    bad = []

    def clean():
        bad.clear()
        for n in nodes:
            rc, out = tc.cli("--cluster", "check", n.addr(), timeout=60)
            if rc != 0 or "[ERR]" in out or "[WARNING]" in out or \
                    "[OK] All nodes agree about slots configuration." not in out or \
                    "[OK] All 16384 slots covered." not in out:
                bad.append("via %s (exit %d):\n%s" % (n.name, rc, trim(out, 2500)))
        return not bad
    ok = tc.wait_for(clean, 10, 0.5)
    return ctx.res.check(ctx.name("%s: --cluster check clean via every node" % what), ok,
                         "\n".join(bad[:1]) + "\n" + describe(ctx))


# redis-cli's progress (src/redis-cli.c, clusterManagerMoveSlot and
# clusterManagerCommandRebalance): reshard flushes "Moving slot S from A to
# B: " before it opens slot S; rebalance prints "Moving N slots from A to B"
# then one '#' after each slot, taking A's slots in ascending order.
PROGRESS = re.compile(r"Moving slot (\d+) from \S+ to \S+: |Moving (\d+) slots from (\S+) to \S+\n|#+")


def cli_following(ctx, argv, timeout):
    """Run redis-cli, pointing the writer at the slot it is moving. Returns
    (exit status or -1 on timeout, output)."""
    p = subprocess.Popen([tc.REDIS_CLI] + argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL)
    w = ctx.writer
    buf, pos, seq, done = "", 0, [], 0
    deadline = time.time() + timeout
    try:
        fd = p.stdout.fileno()
        while True:
            r, _, _ = select.select([fd], [], [], max(0.0, deadline - time.time()))
            if not r:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
                return -1, buf + "\n<redis-cli timed out after %d s: killed>" % timeout
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += re.sub(r"\x1b\[[0-9;]*m", "", chunk.decode("utf-8", "replace"))
            for m in PROGRESS.finditer(buf, pos):
                pos = m.end()
                if m.group(1):
                    slot = int(m.group(1))
                elif m.group(2):
                    src = ctx.by_addr(m.group(3))
                    seq = expand(tc.nodes_view(src)[myid(src)][4])[:int(m.group(2))] if src else []
                    done = 0
                    slot = seq[0] if seq else None
                else:
                    done += len(m.group(0))
                    slot = seq[done] if done < len(seq) else None
                if w:
                    w.hot_slot = slot
        return p.wait(), buf
    finally:
        if w:
            w.hot_slot = None
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
        p.stdout.close()


def run_step(ctx, what, argv, expect=None):
    """One redis-cli --cluster step while the writer writes. expect(before,
    after) checks the slot counts it should have produced. On failure the
    cluster is shown, repaired with --cluster fix, and later moves skipped."""
    if ctx.broken:
        ctx.res.fail(ctx.name("%s: skipped after an earlier failure" % what))
        return False
    w = ctx.writer
    if w:
        w.step = what
    before = slot_counts(ctx.nodes[0])
    w0, h0 = (w.writes, w.hot_writes) if w else (0, 0)
    t0 = time.time()
    rc, out = cli_following(ctx, argv, STEP_TIMEOUT)
    dt = time.time() - t0
    ok = rc == 0 and "[ERR]" not in out
    ctx.res.check(ctx.name("%s (%.1fs, %d writes meanwhile, %d into the slot being moved)"
                           % (what, dt, (w.writes - w0) if w else 0, (w.hot_writes - h0) if w else 0)), ok,
                  "$ redis-cli %s\nexit %d\n%s\n%s" % (" ".join(argv), rc, trim(out), describe(ctx)))
    if not ok:
        ctx.broken = True
        repair(ctx, what)
        return False
    if w:
        ctx.res.check(ctx.name("%s: writer kept writing" % what), w.writes > w0 and w.crash is None,
                      "writes %d -> %d, crash %s" % (w0, w.writes, w.crash))
    if expect:
        after = slot_counts(ctx.nodes[0])
        good, why = expect(before, after)
        ctx.res.check(ctx.name("%s: slots moved as asked" % what), good,
                      "%s\nbefore %r\nafter  %r" % (why, before, after))
    return check_clean(ctx, "after " + what)


def repair(ctx, what):
    try:
        rc, out = tc.cli("--cluster", "fix", ctx.nodes[0].addr(), "--cluster-yes", timeout=STEP_TIMEOUT)
    except subprocess.TimeoutExpired:
        rc, out = -1, "redis-cli --cluster fix timed out"
    ctx.res.check(ctx.name("after failed %s: --cluster fix exits 0" % what), rc == 0, trim(out))
    check_clean(ctx, "after --cluster fix")


def moved(src, dst, n):
    def expect(before, after):
        ok = after.get(src, 0) == before.get(src, 0) - n and after.get(dst, 0) == before.get(dst, 0) + n
        return ok, "%d slots from %s to %s" % (n, src[:8], dst[:8])
    return expect


def near(target):
    """Slot counts within a rebalance's threshold (2% of the ideal, as
    redis-cli's default --cluster-threshold) of target {id: slots}."""
    def expect(before, after):
        bad = {nid: (after.get(nid, 0), t) for nid, t in target.items()
               if abs(after.get(nid, 0) - t) > max(2, t * 0.02)}
        return not bad, "off target (got, want): %r" % bad
    return expect


# ---------------------------------------------------------------------------
# Verification after the writer stopped.

def verify(ctx, what):
    res, h, w = ctx.res, ctx.hist, ctx.writer
    nodes = ctx.nodes
    label = "%s: %s" % (ctx.label, what)
    res.check("%s: writer saw no errors" % label, not w.errors,
              "%d errors, first: %s" % (len(w.errors), "\n".join(w.errors[:10])))
    res.check("%s: writer's reads during the moves all current (%d reads)" % (label, w.reads),
              not w.bad_reads, "%d bad, first:\n%s" % (len(w.bad_reads), "\n".join(w.bad_reads[:10])))
    res.check("%s: writer thread did not crash" % label, w.crash is None, str(w.crash))

    # every key through RedisCluster: its last acknowledged (or in-doubt) value
    rc = cluster_client(nodes[0].port)
    wrong, ttl_bad, exists = [], [], []
    try:
        for base in range(0, len(h.keys), 2000):
            idx = range(base, min(base + 2000, len(h.keys)))
            pipe = rc.pipeline()
            for i in idx:
                pipe.get(h.keys[i])
                pipe.pttl(h.keys[i])
            try:
                out = pipe.execute()
            except Exception:
                out = []        # one by one, so a key that fails is named
                for i in idx:
                    for f in (rc.get, rc.pttl):
                        try:
                            out.append(f(h.keys[i]))
                        except Exception as e:
                            out.append(ReadError(repr(e)))
            for j, i in enumerate(idx):
                got, pttl = out[2 * j], out[2 * j + 1]
                if got is not None:
                    exists.append(i)
                if got not in h.acceptable(i):
                    wrong.append("%s (slot %d) = %s, want version %s" %
                                 (h.keys[i], key_slot(h.keys[i].encode()), harness.show(got, 80),
                                  sorted(map(str, h.acceptable_versions(i)))))
                elif got is not None and (isinstance(pttl, ReadError) or
                                          has_ttl(i) and not (0 < pttl <= TTL * 1000) or
                                          not has_ttl(i) and pttl != -1):
                    ttl_bad.append("%s pttl %r" % (h.keys[i], pttl))
    finally:
        rc.close()
    lost = sum(1 for x in wrong if " = None," in x)
    res.check("%s: all %d keys hold their last written value (%d created during moves, %d in doubt)"
              % (label, len(h.keys), h.created, len(h.doubt)), not wrong,
              "%d wrong (%d missing), first:\n%s" % (len(wrong), lost, "\n".join(wrong[:10])))
    res.check("%s: TTLs kept (with EX: 0 < pttl <= %ds, others -1)" % (label, TTL), not ttl_bad,
              "%d wrong, first: %s" % (len(ttl_bad), ", ".join(ttl_bad[:10])))

    # no key on two nodes, none on a node that does not own its slot
    sizes = {n.name: int(n.value("DBSIZE")) for n in nodes}
    res.check("%s: DBSIZE sum == keys written" % label, sum(sizes.values()) == len(exists),
              "sum %d, want %d: %r" % (sum(sizes.values()), len(exists), sizes))
    own = owners(nodes[0])
    ids = {myid(n): n for n in nodes}
    want_per_slot = [0] * NSLOTS
    for i in exists:
        want_per_slot[key_slot(h.keys[i].encode())] += 1
    seen, misplaced, dups = {}, [], []
    for n in nodes:
        r = redis.Redis(host="127.0.0.1", port=n.port, socket_timeout=120)
        nid = myid(n)
        try:
            for k in r.scan_iter(count=1000):
                s = key_slot(k)
                if own[s] != nid:
                    misplaced.append("%r (slot %d) on %s, owner %s" %
                                     (k, s, n.name, ids[own[s]].name if own[s] in ids else own[s]))
                if k in seen:
                    dups.append("%r on %s and %s" % (k, seen[k], n.name))
                seen[k] = n.name
            pipe = r.pipeline(transaction=False)
            for s in range(NSLOTS):
                pipe.execute_command("CLUSTER", "COUNTKEYSINSLOT", s)
            counts = pipe.execute()
        except Exception as e:
            res.fail("%s: SCAN and COUNTKEYSINSLOT on %s" % (label, n.name), repr(e))
            continue
        finally:
            r.close()
        bad = ["slot %d: %d here, want %d, owner %s" % (s, c, want_per_slot[s] if own[s] == nid else 0,
                                                         ids[own[s]].name if own[s] in ids else own[s])
               for s, c in enumerate(counts)
               if (own[s] == nid and c != want_per_slot[s]) or (own[s] != nid and c != 0)]
        res.check("%s: COUNTKEYSINSLOT of every slot on %s (owned: all its keys, others: 0)"
                  % (label, n.name), not bad, "%d slots wrong, first: %s" % (len(bad), "; ".join(bad[:10])))
    res.check("%s: SCAN of every node: each key once, on its slot's owner (%d keys)" % (label, len(seen)),
              not misplaced and not dups and len(seen) == len(exists),
              "misplaced %d: %s\nduplicated %d: %s\nseen %d of %d" %
              (len(misplaced), "; ".join(misplaced[:5]), len(dups), "; ".join(dups[:5]),
               len(seen), len(exists)))


# ---------------------------------------------------------------------------
# The scenario.

def start_writer(ctx, seed):
    ctx.writer = Writer(ctx.nodes[0].port, ctx.hist, seed)
    ctx.writer.start()


def stop_writer(ctx):
    ctx.writer.finish()
    w = ctx.writer
    ctx.res.check(ctx.name("writer stopped (%d writes, %d into slots being moved, %d keys created, "
                           "%d client retries)" % (w.writes, w.hot_writes, ctx.hist.created, w.client_retries)),
                  not ctx.writer.is_alive())


def scenario(res, kinds, threads, args):
    label = "%s threads=%d keys=%d" % ("+".join(kinds), threads, args.keys)
    roles = ["redis" if k == "real" else "slotd" for k in kinds]
    nodes = tc.start_nodes(roles, threads=threads)
    ctx = Ctx(res, label, nodes, args)
    try:
        if not tc.create_cluster(res, label, nodes):
            return
        check_clean(ctx, "after create")
        ids = [myid(n) for n in nodes]
        # the node under test: the first slotd (with an all-real --kinds, the
        # middle node plays its part)
        mi = next((i for i, k in enumerate(kinds) if k == "slotd"), 1)
        ri = [i for i in range(len(nodes)) if i != mi]
        mine, r0, r1 = ids[mi], ids[ri[0]], ids[ri[1]]
        names = {ids[i]: nodes[i].name for i in range(len(nodes))}

        t0 = time.time()
        ctx.hist = History(args.keys)
        load(nodes[0].port, ctx.hist)
        res.check(ctx.name("RedisCluster loaded %d keys over all 16384 slots (%.1fs)"
                           % (len(ctx.hist.keys), time.time() - t0)),
                  sum(int(n.value("DBSIZE")) for n in nodes) == len(ctx.hist.keys))

        start_writer(ctx, 1)
        n = args.slots
        entry = {i: nodes[i].addr() for i in range(len(nodes))}
        run_step(ctx, "reshard %d slots %s -> %s" % (n, names[r0], names[mine]),
                 ["--cluster", "reshard", entry[ri[1]], "--cluster-from", r0, "--cluster-to", mine,
                  "--cluster-slots", str(n), "--cluster-yes"], moved(r0, mine, n))
        run_step(ctx, "reshard %d slots %s -> %s" % (n, names[mine], names[r0]),
                 ["--cluster", "reshard", entry[mi], "--cluster-from", mine, "--cluster-to", r0,
                  "--cluster-slots", str(n), "--cluster-yes"], moved(mine, r0, n))
        run_step(ctx, "reshard %d slots %s -> %s (pipeline 50)" % (n, names[mine], names[r1]),
                 ["--cluster", "reshard", entry[ri[0]], "--cluster-from", mine, "--cluster-to", r1,
                  "--cluster-slots", str(n), "--cluster-yes", "--cluster-pipeline", "50"],
                 moved(mine, r1, n))
        if not args.no_rebalance:
            # After the reshards the node under test is n slots short: equal
            # weights move them back. Then a weight that makes it take about
            # n more (target t = 16384 w / (2 + w)).
            third = NSLOTS / 3
            run_step(ctx, "rebalance, equal weights",
                     ["--cluster", "rebalance", entry[mi]],
                     near({mine: third, r0: third, r1: third}))
            t = third + 0.8 * n
            wt = 2 * t / (NSLOTS - t)
            run_step(ctx, "rebalance, %s weight %.2f" % (names[mine], wt),
                     ["--cluster", "rebalance", entry[ri[0]], "--cluster-weight", "%s=%.3f" % (mine, wt)],
                     near({mine: t, r0: (NSLOTS - t) / 2, r1: (NSLOTS - t) / 2}))
        stop_writer(ctx)
        verify(ctx, "after reshard/rebalance")
        if not args.no_add_node:
            scenario_add_node(ctx, kinds, threads, names)
    finally:
        if ctx.writer and ctx.writer.is_alive():
            ctx.writer.finish()
        all_nodes = nodes + ctx.extra
        tc.stop_nodes(all_nodes)
        res.check_clean_exit(all_nodes, label)


def scenario_add_node(ctx, kinds, threads, names):
    """add-node of a fresh slotd through a real node (redis-cli copies the
    functions with FUNCTION DUMP / RESTORE), a reshard to it from every
    master, a reshard of all its slots to the real node, del-node; the
    writer writes throughout."""
    res, nodes = ctx.res, ctx.nodes
    if ctx.broken:
        res.fail(ctx.name("add-node: skipped after an earlier failure"))
        return
    real = next((n for n in nodes if n.real), nodes[0])
    kind = "slotd" if "slotd" in kinds else "redis"
    fresh = tc.start_nodes([kind], threads=threads)[0]
    fresh.name = "new-" + kind
    ctx.extra.append(fresh)
    fid = myid(fresh)
    names[fid] = fresh.name
    start_writer(ctx, 2)
    ctx.writer.step = "add-node"
    rc, out = tc.cli("--cluster", "add-node", fresh.addr(), real.addr(), timeout=STEP_TIMEOUT)
    if not res.check(ctx.name("add-node %s via %s (functions copied)" % (fresh.name, real.name)),
                     rc == 0 and "[OK] New node added correctly." in out and
                     ">>> Send FUNCTION RESTORE to" in out,
                     "exit %d\n%s\n%s" % (rc, trim(out), describe(ctx))):
        ctx.broken = True
        stop_writer(ctx)
        return
    members = nodes + [fresh]
    joined = tc.wait_for(lambda: all(tc.info(n)["cluster_known_nodes"] == "4" for n in members) and
                         tc.all_ok(members), 20)
    res.check(ctx.name("%s known to every node, cluster ok" % fresh.name), joined,
              "\n".join("%s: %r" % (n.name, tc.info(n)) for n in members))
    ctx.nodes = members
    check_clean(ctx, "after add-node")
    n = ctx.args.slots
    run_step(ctx, "reshard %d slots from all -> %s" % (n, fresh.name),
             ["--cluster", "reshard", real.addr(), "--cluster-from", "all", "--cluster-to", fid,
              "--cluster-slots", str(n), "--cluster-yes"],
             # redis-cli splits n over the sources rounding each share
             lambda b, a: (abs(a.get(fid, 0) - n) <= len(nodes), "%s should own about %d" % (fresh.name, n)))
    # Emptied by a reshard to one node rather than a weight-0 rebalance: a
    # 7.0 master that loses its last slot turns into a replica of the node
    # that took it, and rebalance then fails sending that node SETSLOT for
    # slots moved between other masters ("Please use SETSLOT only with
    # masters"), a redis-cli 7.0 limitation whatever the node kinds.
    own = slot_counts(nodes[0]).get(fid, 0)
    run_step(ctx, "reshard all %d slots %s -> %s" % (own, fresh.name, real.name),
             ["--cluster", "reshard", fresh.addr(), "--cluster-from", fid, "--cluster-to", myid(real),
              "--cluster-slots", str(own), "--cluster-yes"],
             lambda b, a: (a.get(fid, 0) == 0, "%s should own none" % fresh.name))
    stop_writer(ctx)
    if ctx.broken:
        verify(ctx, "after add-node phase (failed)")
        return
    ctx.nodes = nodes
    rc, out = tc.cli("--cluster", "del-node", real.addr(), fid, timeout=60)
    res.check(ctx.name("del-node %s" % fresh.name), rc == 0 and "[ERR]" not in out,
              "exit %d\n%s\n%s" % (rc, trim(out), describe(ctx)))
    gone = tc.wait_for(lambda: all(fid not in tc.nodes_view(m) for m in nodes), 10)
    res.check(ctx.name("%s forgotten by every node" % fresh.name), gone,
              "\n".join(m.text("CLUSTER", "NODES") for m in nodes))
    check_clean(ctx, "after del-node")
    res.check(ctx.name("%s left with no keys" % fresh.name),
              fresh.alive() and int(fresh.value("DBSIZE")) == 0, fresh.death_note())
    verify(ctx, "after add-node/del-node")
    tc.check_agreement(res, ctx.label + " at the end", nodes)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="20000 keys, 300 slots per reshard, one variant")
    ap.add_argument("--kinds", default="real,slotd,real",
                    help="three comma-separated node kinds: real (redis-server) or slotd")
    ap.add_argument("--threads", default=None, help="slotd data cores, comma-separated: one run each "
                    "(default 1,2; --quick: 1)")
    ap.add_argument("--keys", type=int, default=None, help="keys to write (>= 16384; default 100000)")
    ap.add_argument("--slots", type=int, default=None, help="slots per reshard (default 2000)")
    ap.add_argument("--no-rebalance", action="store_true")
    ap.add_argument("--no-add-node", action="store_true")
    ap.add_argument("--all-full", action="store_true",
                    help="every --threads variant at full size (default: the second and later "
                    "ones with at most 20000 keys, 500 slots, no add-node)")
    args = ap.parse_args()
    kinds = args.kinds.split(",")
    if len(kinds) != 3 or any(k not in ("real", "slotd") for k in kinds):
        ap.error("--kinds: three of real, slotd")
    args.keys = max(NSLOTS, args.keys or (20000 if args.quick else 100000))
    args.slots = args.slots or (300 if args.quick else 2000)
    threads = [int(t) for t in (args.threads or ("1" if args.quick else "1,2")).split(",")]

    res = harness.Results("reshard")
    if redis is None:
        res.fail("python3-redis missing (run with /usr/bin/python3)")
        return res.finish()
    t0 = time.time()
    for k, t in enumerate(threads):
        a = args
        if k > 0 and not args.all_full:
            # later variants smaller, to stay within the time budget of a
            # 2-core box: the first one carries the full load
            a = argparse.Namespace(**vars(args))
            a.keys, a.slots, a.no_add_node = min(args.keys, 20000), min(args.slots, 500), True
        res.run("%s threads=%d" % (args.kinds, t), scenario, res, kinds, t, a)
    print("total %.0fs" % (time.time() - t0))
    return res.finish()


if __name__ == "__main__":
    sys.exit(harness.guard(main))
