#!/usr/bin/python3
"""slotd as a Redis Cluster member beside real redis-server 7.0 nodes.

Clusters of three masters are built with `redis-cli --cluster create` from
(redis, redis, slotd), (redis, slotd, slotd) and (slotd, slotd, slotd):
creation must finish without hanging, `redis-cli --cluster check` must be
clean, and CLUSTER NODES, SHARDS, SLOTS and INFO must agree on every node,
real and slotd (SLOTS byte for byte). python3-redis RedisCluster then writes
and reads keys through every node, and slotd's CLUSTER replies, errors
included, are compared with a real node's of the same cluster.

Failure detection: kill -9 of a real master makes slotd flag it PFAIL then
FAIL together with the real nodes, and clear it when it comes back; kill -9
of slotd makes the real nodes flag it FAIL; slotd restarted from its
nodes.conf rejoins with its ID, epochs and slots. A cluster joined by plain
CLUSTER MEET (every configEpoch 0) settles on distinct epochs through 7.0's
collision rule, and hostnames announced by either kind show on both.

With TARGET=redis every "slotd" node is a redis-server, which validates the
test itself. Every server runs on 127.0.0.1 in its own temp dir and is
stopped by PID (harness.py). Run with /usr/bin/python3.
"""

import os
import re
import shlex
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RawConn, parse_reply, show  # noqa: E402

try:
    import redis
    from redis.cluster import ClusterNode, RedisCluster
except ImportError:
    redis = None

NODE_TIMEOUT = 2000     # ms: failure detection within seconds
REDIS_CLI = os.environ.get("REDIS_CLI", "redis-cli")
TARGET_KIND = "redis" if harness.TARGET == "redis" else "slotd"


class Node(harness.Server):
    """A cluster node that keeps its port and directory across restarts, so
    a restart finds its nodes.conf."""

    def __init__(self, kind, name, threads=None, hostname=None):
        args = ["--cluster-enabled", "yes", "--cluster-node-timeout", str(NODE_TIMEOUT),
                "--cluster-config-file", "nodes.conf"]
        if hostname:
            args += ["--cluster-announce-hostname", hostname]
        super().__init__(kind, threads=threads, args=args, name=name)
        self.dir = None
        self.real = kind == "redis"

    def start(self):
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix="node-", dir=harness.logdir())
        if self.port is None:
            self.port = harness.free_port()
        self.log_path = os.path.join(harness.logdir(), "%s-%d.log" % (self.name, self.port))
        self.all_logs.append(self.log_path)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv(self.port), stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.dir,
                                     preexec_fn=harness._die_with_parent)
        log.close()
        self.pid = self.proc.pid
        harness._servers.append(self)
        self._wait_ready()
        return self

    def kill9(self):
        os.kill(self.pid, 9)
        self.proc.wait()
        if self in harness._servers:
            harness._servers.remove(self)

    def addr(self):
        return "127.0.0.1:%d" % self.port

    def call(self, *args, proto=2, timeout=10.0):
        """Raw reply bytes of one command."""
        c = RawConn(self.port, timeout=timeout)
        try:
            if proto == 3:
                c.call("HELLO", "3")
            return c.call(*args)
        finally:
            c.close()

    def value(self, *args, proto=2):
        raw = self.call(*args, proto=proto)
        node, _ = parse_reply(raw)
        return to_py(node)

    def text(self, *args):
        v = self.value(*args)
        return v.decode() if isinstance(v, bytes) else str(v)


def to_py(node):
    t, v = node
    if t in "*~>":
        return None if v is None else [to_py(x) for x in v]
    if t == "%":
        return [to_py(x) for x in v]      # flat key, value list as in RESP2
    if t == "=":
        return v[4:]                      # verbatim: drop "txt:"
    return v


def pairs(flat):
    return {flat[i].decode(): flat[i + 1] for i in range(0, len(flat), 2)}


def wait_for(cond, timeout, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if cond():
                return True
        except (OSError, ValueError):
            pass
        time.sleep(step)
    return False


def cli(*args, timeout=60):
    p = subprocess.run([REDIS_CLI] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, timeout=timeout)
    return p.returncode, re.sub(r"\x1b\[[0-9;]*m", "", p.stdout.decode("utf-8", "replace"))


def nodes_view(node):
    """CLUSTER NODES as {id: (addr, flags without myself, master, epoch, slots)}."""
    out = {}
    for line in node.text("CLUSTER", "NODES").splitlines():
        f = line.split(" ")
        flags = ",".join(x for x in f[2].split(",") if x != "myself")
        slots = tuple(x for x in f[8:] if not x.startswith("["))
        out[f[0]] = (f[1], flags, f[3], f[6], slots)
    return out


def shards_view(node):
    """CLUSTER SHARDS as a sorted list of (slots, ((field, value) ...) per node).
    Replication offsets move with replication traffic and are learned by
    each node at its own pace: only their presence is compared."""
    out = []
    for shard in node.value("CLUSTER", "SHARDS"):
        s = pairs(shard)
        nodes = tuple(tuple(sorted((k, v if k != "replication-offset" else isinstance(v, int))
                                   for k, v in pairs(n).items())) for n in s["nodes"])
        out.append((tuple(s["slots"]), nodes))
    return sorted(out)


def info(node):
    return dict(line.split(":", 1) for line in node.text("CLUSTER", "INFO").split("\r\n") if ":" in line)


def flags_of(observer, target_id):
    for line in observer.text("CLUSTER", "NODES").splitlines():
        f = line.split(" ")
        if f[0] == target_id:
            return f[2].split(",")
    return []


def start_nodes(kinds, threads=None, hostnames=None):
    nodes = []
    for i, k in enumerate(kinds):
        kind = "redis" if k == "redis" else TARGET_KIND
        host = hostnames[i] if hostnames else None
        n = Node(kind, "%s%d" % (k, i), threads=threads if kind == "slotd" else None,
                 hostname=host)
        n.real = k == "redis"       # the test's role, also with TARGET=redis
        nodes.append(n.start())
    return nodes


def stop_nodes(nodes):
    for n in nodes:
        if n.alive():
            n.stop()


def all_ok(nodes):
    return all(info(n).get("cluster_state") == "ok" for n in nodes)


def create_cluster(res, label, nodes):
    t0 = time.time()
    try:
        rc, out = cli("--cluster", "create", *[n.addr() for n in nodes], "--cluster-yes", timeout=60)
    except subprocess.TimeoutExpired:
        res.fail("%s: --cluster create" % label, "timed out after 60 s (hung)")
        return False
    ok = rc == 0 and "[OK] All 16384 slots covered." in out
    res.check("%s: --cluster create (%.1fs)" % (label, time.time() - t0), ok, out[-2000:])
    if not ok:
        return False
    return res.check("%s: cluster_state:ok everywhere" % label, wait_for(lambda: all_ok(nodes), 15),
                     "\n".join("%s %s" % (n.name, info(n).get("cluster_state")) for n in nodes))


def check_clean(res, label, nodes):
    for n in nodes:
        rc, out = cli("--cluster", "check", n.addr(), timeout=30)
        clean = rc == 0 and "[ERR]" not in out and "[WARNING]" not in out and \
            "[OK] All nodes agree about slots configuration." in out
        res.check("%s: --cluster check via %s" % (label, n.name), clean, out[-1500:])


def check_agreement(res, label, nodes, masters=None):
    # Gossip may need a moment to settle pong times; the compared fields
    # leave them out, so agreement is expected at once.
    def same_nodes():
        views = [nodes_view(n) for n in nodes]
        return all(v == views[0] for v in views) and len(views[0]) == len(nodes)
    ok = wait_for(same_nodes, 10)
    res.check("%s: CLUSTER NODES agree on every node" % label, ok,
              "\n".join("%s: %r" % (n.name, nodes_view(n)) for n in nodes))
    for n in nodes:
        mine = [l for l in n.text("CLUSTER", "NODES").splitlines() if "myself" in l.split(" ")[2]]
        res.check("%s: %s myself line is CLUSTER MYID" % (label, n.name),
                  len(mine) == 1 and mine[0].startswith(n.text("CLUSTER", "MYID")), repr(mine))
    shards = [shards_view(n) for n in nodes]
    res.check("%s: CLUSTER SHARDS agree on every node" % label, all(s == shards[0] for s in shards),
              "\n".join("%s: %r" % (n.name, s) for n, s in zip(nodes, shards)))
    for proto in (2, 3):
        raws = [n.call("CLUSTER", "SLOTS", proto=proto) for n in nodes]
        # RESP3's HELLO reply is not part of it: call() reads SLOTS' own reply
        res.check("%s: CLUSTER SLOTS byte-identical on every node (RESP%d)" % (label, proto),
                  all(r == raws[0] for r in raws), "\n".join(show(r) for r in raws))
    infos = [info(n) for n in nodes]
    keys = [list(i.keys())[:9] for i in infos]
    same = all(k == keys[0] for k in keys) and all(
        i["cluster_current_epoch"] == infos[0]["cluster_current_epoch"] and
        i["cluster_slots_assigned"] == "16384" and i["cluster_known_nodes"] == str(len(nodes)) and
        i["cluster_size"] == str(masters or len(nodes)) for i in infos)
    res.check("%s: CLUSTER INFO fields and epochs agree" % label, same, repr(infos))
    # a replica reports its master's epoch: distinct among masters
    epochs = sorted(i["cluster_my_epoch"] for n, i in zip(nodes, infos)
                    if "master" in flags_of(n, n.text("CLUSTER", "MYID")))
    res.check("%s: distinct config epochs" % label, len(set(epochs)) == len(epochs), repr(epochs))


def check_client(res, label, nodes):
    if redis is None:
        res.fail("%s: python3-redis missing" % label)
        return
    for entry in nodes:
        rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", entry.port)], socket_timeout=10)
        try:
            keys = ["%s:%s:%d" % (label, entry.name, i) for i in range(1000)]
            for k in keys:
                rc.set(k, k[::-1])
            bad = [k for k in keys if rc.get(k) != k[::-1].encode()]
            res.check("%s: RedisCluster via %s writes and reads 1000 keys" % (label, entry.name),
                      not bad, "wrong: %r" % bad[:5])
        finally:
            rc.close()
    total = sum(int(n.value("DBSIZE")) for n in nodes)
    res.check("%s: keys spread over every node (DBSIZE sum)" % label, total == 1000 * len(nodes),
              "sum=%d" % total)
    per = [int(n.value("DBSIZE")) for n in nodes]
    res.check("%s: every node holds keys" % label, all(p > 0 for p in per), repr(per))
    # COUNTKEYSINSLOT / GETKEYSINSLOT on each node for a slot it owns
    for n in nodes:
        k = "%s:%s:0" % (label, n.name)
        owner = None
        for m in nodes:
            slot = int(m.value("CLUSTER", "KEYSLOT", k))
            if int(m.value("CLUSTER", "COUNTKEYSINSLOT", str(slot))) > 0:
                owner = m
        if owner is None:
            continue
        slot = int(owner.value("CLUSTER", "KEYSLOT", k))
        cnt = int(owner.value("CLUSTER", "COUNTKEYSINSLOT", str(slot)))
        got = owner.value("CLUSTER", "GETKEYSINSLOT", str(slot), "1000")
        res.check("%s: GETKEYSINSLOT on %s matches COUNTKEYSINSLOT" % (label, owner.name),
                  len(got) == cnt and k.encode() in got and
                  all(int(owner.value("CLUSTER", "KEYSLOT", g.decode())) == slot for g in got),
                  "count=%d got=%r" % (cnt, got[:5]))


def check_moved(res, label, nodes):
    """The MOVED a slotd node answers equals the one a real node answers."""
    real = [n for n in nodes if n.real]
    mine = [n for n in nodes if not n.real]
    if not real or not mine:
        return
    for i in range(200):
        k = "moved-probe-%d" % i
        a, b = real[0].call("GET", k), mine[0].call("GET", k)
        if a.startswith(b"-MOVED") and b.startswith(b"-MOVED"):
            res.check("%s: MOVED from slotd equals redis-server's" % label, a == b,
                      "%s vs %s" % (show(a), show(b)))
            return
    res.fail("%s: no key found that both nodes redirect" % label)


def compare_replies(res, label, real, mine):
    """CLUSTER replies, errors included, of slotd and of a real node of the
    same cluster, for commands whose answer does not depend on the node."""
    unknown = "f" * 40
    cmds = [
        ("CLUSTER", "HELP"), ("CLUSTER",), ("CLUSTER", "BOGUS"), ("CLUSTER", "MYID", "x"),
        ("CLUSTER", "KEYSLOT", "foo"), ("CLUSTER", "KEYSLOT", "{user1000}.following"),
        ("CLUSTER", "KEYSLOT", ""), ("CLUSTER", "KEYSLOT"),
        ("CLUSTER", "ADDSLOTS", "0"), ("CLUSTER", "ADDSLOTS", "abc"), ("CLUSTER", "ADDSLOTS", "16384"),
        ("CLUSTER", "ADDSLOTS", "-1"), ("CLUSTER", "ADDSLOTS"),
        ("CLUSTER", "ADDSLOTSRANGE", "5", "1"), ("CLUSTER", "ADDSLOTSRANGE", "1"),
        ("CLUSTER", "ADDSLOTSRANGE", "1", "2", "3"), ("CLUSTER", "ADDSLOTSRANGE", "0", "16384"),
        ("CLUSTER", "DELSLOTS", "16384"), ("CLUSTER", "DELSLOTSRANGE", "9", "8"),
        ("CLUSTER", "FORGET", unknown), ("CLUSTER", "FORGET", "nosuch"),
        ("CLUSTER", "COUNT-FAILURE-REPORTS", "nosuch"),
        ("CLUSTER", "COUNTKEYSINSLOT", "abc"), ("CLUSTER", "COUNTKEYSINSLOT", "16384"),
        ("CLUSTER", "COUNTKEYSINSLOT", "-1"),
        ("CLUSTER", "GETKEYSINSLOT", "0", "-1"), ("CLUSTER", "GETKEYSINSLOT", "x", "1"),
        ("CLUSTER", "GETKEYSINSLOT", "16384", "1"), ("CLUSTER", "GETKEYSINSLOT", "0", "y"),
        ("CLUSTER", "MEET", "1.2.3.4", "abc"), ("CLUSTER", "MEET", "1.2.3.4", "7000", "abc"),
        ("CLUSTER", "MEET", "notanip", "7000"), ("CLUSTER", "MEET", "1.2.3.4", "0"),
        ("CLUSTER", "MEET", "1.2.3.4", "70000"), ("CLUSTER", "MEET", "1.2.3.4", "7000", "17000", "9"),
        ("CLUSTER", "MEET", "1.2.3.4"),
        ("CLUSTER", "SET-CONFIG-EPOCH", "5"), ("CLUSTER", "SET-CONFIG-EPOCH", "-1"),
        ("CLUSTER", "SET-CONFIG-EPOCH", "x"),
        ("CLUSTER", "RESET", "bogus"), ("CLUSTER", "RESET", "a", "b"), ("CLUSTER", "RESET"),
        ("CLUSTER", "SETSLOT", "0", "BOGUS"), ("CLUSTER", "SETSLOT", "99999", "NODE", unknown),
        ("CLUSTER", "SETSLOT", "0", "NODE", "nosuch"), ("CLUSTER", "SETSLOT", "0", "STABLE", "x"),
        ("CLUSTER", "SETSLOT", "0", "IMPORTING"), ("CLUSTER", "SETSLOT", "0"),
        ("CLUSTER", "REPLICAS", "nosuch"), ("CLUSTER", "SLAVES", unknown),
        ("CLUSTER", "REPLICAS", real.text("CLUSTER", "MYID")),
        ("CLUSTER", "REPLICAS", mine.text("CLUSTER", "MYID")),
        ("CLUSTER", "FAILOVER"), ("CLUSTER", "FAILOVER", "bogus"), ("CLUSTER", "FAILOVER", "a", "b"),
        ("CLUSTER", "REPLICATE", "nosuch"),
        ("CLUSTER", "COUNT-FAILURE-REPORTS", real.text("CLUSTER", "MYID")),
        ("READONLY",), ("READWRITE",), ("ASKING",), ("READONLY", "x"),
        ("CLUSTER", "FLUSHSLOTS"),
    ]
    for cmd in cmds:
        for proto in (2, 3):
            a, b = real.call(*cmd, proto=proto), mine.call(*cmd, proto=proto)
            res.check("%s: %s (RESP%d) as redis-server" % (label, " ".join(cmd)[:60], proto),
                      a == b, "redis: %s\nslotd: %s" % (show(a), show(b)))
    # Node-relative forms: each node about its own slots and ID.
    for n in (real, mine):
        me = n.text("CLUSTER", "MYID")
        own = next(int(l.split(" ")[8].split("-")[0]) for l in n.text("CLUSTER", "NODES").splitlines()
                   if "myself" in l)
        replies = {
            "forget-myself": n.call("CLUSTER", "FORGET", me),
            "migrating-unknown": n.call("CLUSTER", "SETSLOT", str(own), "MIGRATING", unknown),
            "importing-own": n.call("CLUSTER", "SETSLOT", str(own), "IMPORTING", me),
            "slaves-myself": n.call("CLUSTER", "SLAVES", me),
        }
        n.replies = replies
    for key in real.replies:
        a = real.replies[key].replace(real.text("CLUSTER", "MYID").encode(), b"<ME>")
        b = mine.replies[key].replace(mine.text("CLUSTER", "MYID").encode(), b"<ME>")
        a = re.sub(rb"slot \d+", b"slot N", a)
        b = re.sub(rb"slot \d+", b"slot N", b)
        res.check("%s: node-relative %s as redis-server" % (label, key), a == b,
                  "redis: %s\nslotd: %s" % (show(a), show(b)))
    # CLUSTER LINKS: one link each way per other node, 6 fields each.
    links = mine.value("CLUSTER", "LINKS")
    shape = all(list(pairs(l).keys()) == ["direction", "node", "create-time", "events",
                                          "send-buffer-allocated", "send-buffer-used"] for l in links)
    res.check("%s: CLUSTER LINKS shape" % label, shape and len(links) >= 1, repr(links)[:500])
    raw = mine.call("CLUSTER", "INFO", proto=3)
    res.check("%s: CLUSTER INFO is a verbatim txt string in RESP3" % label,
              raw.startswith(b"=") and b"\r\ntxt:cluster_state:" in raw, show(raw))
    raw = mine.call("CLUSTER", "NODES", proto=3)
    res.check("%s: CLUSTER NODES is a verbatim txt string in RESP3" % label,
              raw.startswith(b"=") and b"\r\ntxt:" in raw, show(raw))
    bump = mine.call("CLUSTER", "BUMPEPOCH")
    res.check("%s: CLUSTER BUMPEPOCH reply" % label, re.match(rb"^\+(BUMPED|STILL) \d+\r\n$", bump) is not None,
              show(bump))


def scenario_create(res, kinds, label, threads=None, failures=False, hostnames=None):
    nodes = start_nodes(kinds, threads=threads, hostnames=hostnames)
    try:
        if not create_cluster(res, label, nodes):
            return
        check_clean(res, label, nodes)
        check_agreement(res, label, nodes)
        if hostnames:
            for n in nodes:
                nv = n.text("CLUSTER", "NODES")
                res.check("%s: hostnames visible on %s" % (label, n.name),
                          all(("," + h) in nv for h in hostnames if h), nv)
        check_client(res, label, nodes)
        check_moved(res, label, nodes)
        real = [n for n in nodes if n.real]
        mine = [n for n in nodes if not n.real]
        if real and mine:
            compare_replies(res, label, real[0], mine[0])
        if failures:
            scenario_failures(res, label, nodes)
    finally:
        stop_nodes(nodes)
        res.check_clean_exit(nodes, label)


def scenario_failures(res, label, nodes):
    real = [n for n in nodes if n.real]
    mine = [n for n in nodes if not n.real]
    victim, observer_real, observer_mine = real[0], real[1], mine[0]
    vid = victim.text("CLUSTER", "MYID")

    # kill -9 of a real master: PFAIL, then FAIL, on slotd and on the real node
    victim.kill9()
    t0 = time.time()
    saw_pfail = wait_for(lambda: any(f in ("fail?", "fail") for f in flags_of(observer_mine, vid)), 10, 0.05)
    res.check("%s: slotd flags a killed real master fail? (%.1fs)" % (label, time.time() - t0), saw_pfail,
              repr(flags_of(observer_mine, vid)))
    ok = wait_for(lambda: "fail" in flags_of(observer_mine, vid) and "fail" in flags_of(observer_real, vid), 15)
    res.check("%s: slotd and redis-server agree: killed master FAIL" % label, ok,
              "slotd %r redis %r" % (flags_of(observer_mine, vid), flags_of(observer_real, vid)))
    res.check("%s: cluster_state:fail on both" % label,
              wait_for(lambda: info(observer_mine)["cluster_state"] == "fail" and
                       info(observer_real)["cluster_state"] == "fail", 5))
    # it comes back (same port and nodes.conf): FAIL cleared everywhere
    victim.start()
    ok = wait_for(lambda: all_ok(nodes) and "fail" not in flags_of(observer_mine, vid), 20)
    res.check("%s: restarted real master cleared on slotd, cluster ok" % label, ok,
              repr(flags_of(observer_mine, vid)))

    # kill -9 of slotd: the real nodes flag it FAIL
    before = {n.name: nodes_view(n) for n in nodes}
    mid = observer_mine.text("CLUSTER", "MYID")
    my_info = info(observer_mine)
    with open(os.path.join(observer_mine.dir, "nodes.conf")) as f:
        conf = f.read()
    res.check("%s: slotd nodes.conf in 7.0's format" % label,
              conf.endswith("\n") and re.search(r"\nvars currentEpoch \d+ lastVoteEpoch \d+\n$", conf) and
              re.search(r"^%s \S+ myself,master - \d+ \d+ \d+ connected" % mid, conf, re.M), conf)
    observer_mine.kill9()
    ok = wait_for(lambda: all("fail" in flags_of(n, mid) for n in real), 15)
    res.check("%s: real nodes flag killed slotd FAIL" % label, ok,
              repr([flags_of(n, mid) for n in real]))
    # restart from nodes.conf: same ID, epochs, slots; FAIL cleared; check clean
    observer_mine.start()
    res.check("%s: restarted slotd keeps its ID" % label, observer_mine.text("CLUSTER", "MYID") == mid)
    after = info(observer_mine)
    res.check("%s: restarted slotd keeps its epochs" % label,
              after["cluster_my_epoch"] == my_info["cluster_my_epoch"] and
              int(after["cluster_current_epoch"]) >= int(my_info["cluster_current_epoch"]),
              "%r -> %r" % (my_info, after))
    res.check("%s: restarted slotd keeps its slots" % label,
              nodes_view(observer_mine)[mid][4] == before[observer_mine.name][mid][4])
    ok = wait_for(lambda: all_ok(nodes) and all("fail" not in flags_of(n, mid) for n in real), 20)
    res.check("%s: slotd rejoined, cluster ok everywhere" % label, ok,
              repr([flags_of(n, mid) for n in real]))
    check_clean(res, label + " after restarts", nodes)
    check_agreement(res, label + " after restarts", nodes)


def scenario_meet_collision(res):
    """Plain MEET and ADDSLOTSRANGE, every configEpoch 0: 7.0's collision
    rule gives each master its own epoch, the greatest ID keeping 0."""
    label = "meet+collision"
    nodes = start_nodes(["redis", "slotd", "slotd", "redis"])
    try:
        for n in nodes[1:]:
            nodes[0].call("CLUSTER", "MEET", "127.0.0.1", str(n.port))
        ranges = [(0, 4095), (4096, 8191), (8192, 12287), (12288, 16383)]
        for n, (a, b) in zip(nodes, ranges):
            n.call("CLUSTER", "ADDSLOTSRANGE", str(a), str(b))
        ok = wait_for(lambda: all_ok(nodes) and all(len(nodes_view(n)) == 4 for n in nodes), 20)
        res.check("%s: 4 nodes joined through MEET, state ok" % label, ok,
                  "\n".join(n.text("CLUSTER", "NODES") for n in nodes))

        def distinct():
            ep = {n.text("CLUSTER", "MYID"): int(info(n)["cluster_my_epoch"]) for n in nodes}
            return len(set(ep.values())) == 4 and ep[max(ep)] == 0
        res.check("%s: epochs distinct, greatest ID keeps 0" % label, wait_for(distinct, 20),
                  repr({n.name: info(n)["cluster_my_epoch"] for n in nodes}))
        check_agreement(res, label, nodes)
        check_clean(res, label, nodes)
        # FORGET on every node, then MEET again: the node comes back
        gone = nodes[2].text("CLUSTER", "MYID")
        for n in nodes:
            if n is not nodes[2]:
                r = n.call("CLUSTER", "FORGET", gone)
                res.check("%s: FORGET on %s" % (label, n.name), r == b"+OK\r\n", show(r))
        res.check("%s: forgotten node gone from every view" % label,
                  all(gone not in nodes_view(n) for n in nodes if n is not nodes[2]))
        again = [n.call("CLUSTER", "FORGET", gone) for n in (nodes[0], nodes[1])]
        res.check("%s: FORGET again answers as redis-server" % label, again[0] == again[1] and
                  again[0] == b"-ERR Unknown node %s\r\n" % gone.encode(), repr(again))
        # and it stays forgotten while gossip still mentions it (blacklist)
        time.sleep(2)
        res.check("%s: forgotten node not re-added by gossip" % label,
                  all(gone not in nodes_view(n) for n in nodes if n is not nodes[2]))
    finally:
        stop_nodes(nodes)


def scenario_failover_vote(res):
    """A real replica takes over its killed real master. It needs the votes
    of 2 of the 3 masters: the surviving real one and slotd, so the failover
    succeeding shows slotd voting as 7.0 does."""
    label = "failover vote"
    nodes = start_nodes(["redis", "redis", "slotd", "redis"])
    m0, m1, mine, rep = nodes
    try:
        if not create_cluster(res, label, nodes[:3]):
            return
        m0id = m0.text("CLUSTER", "MYID")
        rc, out = cli("--cluster", "add-node", rep.addr(), m0.addr(), "--cluster-slave",
                      "--cluster-master-id", m0id, timeout=60)
        res.check("%s: add-node --cluster-slave" % label, rc == 0, out[-1500:])
        rid = rep.text("CLUSTER", "MYID")

        # Every node lists the replica in SLOTS once it has heard of a
        # non-zero replication offset from it (a ping or two later).
        def synced():
            v = nodes_view(mine)
            return rid in v and v[rid][1] == "slave" and v[rid][2] == m0id and \
                all(b"\r\n:%d\r\n" % rep.port in n.call("CLUSTER", "SLOTS") for n in nodes)
        res.check("%s: slotd lists the replica (NODES and SLOTS)" % label, wait_for(synced, 20),
                  mine.text("CLUSTER", "NODES"))
        res.check("%s: cluster_state:ok on the 4 nodes" % label, wait_for(lambda: all_ok(nodes), 15),
                  repr([info(n).get("cluster_state") for n in nodes]))
        check_agreement(res, label + " with replica", nodes, masters=3)
        slots = nodes_view(mine)[m0id][4]
        m0.kill9()

        def promoted():
            v = nodes_view(mine)
            return v[rid][1] == "master" and v[rid][4] == slots and all_ok([mine, m1, rep])
        res.check("%s: the replica won the election; slotd sees it master with the slots" % label,
                  wait_for(promoted, 30), mine.text("CLUSTER", "NODES"))
        with open(mine.log_path, "rb") as f:
            log = f.read().decode("utf-8", "replace")
        res.check("%s: slotd granted its vote" % label, "Failover auth granted to %s" % rid in log,
                  log[-1500:])
        check_clean(res, label + " after failover", [mine, m1, rep])
    finally:
        stop_nodes(nodes)
        res.check_clean_exit(nodes, label)


def scenario_standalone(res):
    """Cluster commands with cluster-enabled no: the same error as 7.0."""
    a = harness.Server("redis", name="standalone-redis").start()
    b = harness.target_server(name="standalone-target").start()
    try:
        for cmd in [("CLUSTER", "INFO"), ("CLUSTER", "HELP"), ("CLUSTER", "KEYSLOT", "x"),
                    ("ASKING",), ("READONLY",), ("READWRITE",), ("CLUSTER", "NOSUCH")]:
            ra, rb = a.conn().call(*cmd), b.conn().call(*cmd)
            res.check("standalone: %s as redis-server" % " ".join(cmd), ra == rb,
                      "redis: %s\nslotd: %s" % (show(ra), show(rb)))
    finally:
        a.stop()
        b.stop()


def main():
    res = harness.Results("cluster")
    res.run("standalone", scenario_standalone, res)
    res.run("redis+redis+slotd", scenario_create, res, ["redis", "redis", "slotd"], "redis+redis+slotd",
            failures=True, hostnames=["real0.example", None, "slotd2.example"])
    res.run("redis+slotd+slotd", scenario_create, res, ["redis", "slotd", "slotd"], "redis+slotd+slotd",
            threads=2)
    res.run("slotd x3", scenario_create, res, ["slotd", "slotd", "slotd"], "slotd x3")
    res.run("meet+collision", scenario_meet_collision, res)
    res.run("failover vote", scenario_failover_vote, res)
    return res.finish()


if __name__ == "__main__":
    sys.exit(harness.guard(main))
