#!/usr/bin/python3
"""`redis-cli --cluster fix` repairing slots a failed migration left open,
with slotd on either side and real redis-server 7.0 nodes beside it.

One cluster of three masters (redis0, slotd1, redis2) built with
`redis-cli --cluster create`. Each case opens one slot of its own by hand
(SETSLOT MIGRATING on the owner, IMPORTING on the target) and leaves keys the
way a MIGRATE that failed half-way does:

- a key on both nodes with the same value (MIGRATE COPY'd it, one with a
  TTL), others only on the owner: 7.0's fix keeps the slot on its owner (set
  again through MULTI / CLUSTER DELSLOTS / ADDSLOTS / BUMPEPOCH / EXEC) and
  moves the importing node's keys back; that MIGRATE gets BUSYKEY, fix
  compares DEBUG DIGEST-VALUE on both nodes, finds them equal and migrates
  with REPLACE. Once with slotd as the owner, once as the importing node.
- a key on both nodes with different values: fix refuses to overwrite and
  leaves both values; fix --cluster-replace then settles the slot, the
  importing node's value replacing the owner's. Both directions.
- a slot no node owns any more (DELSLOTS everywhere) but importing on slotd,
  which holds its keys: fix makes slotd the owner (MULTI ... EXEC again, the
  DELSLOTS error inside EXEC's array being expected).

After each case `redis-cli --cluster check` must be clean and every node must
agree on the slot's owner. slotd runs on 1, then 2 data cores. With
TARGET=redis every "slotd" is a redis-server, which validates the test.
Servers run on 127.0.0.1 free ports and are stopped by PID (harness.py).
Run with /usr/bin/python3.
"""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RawConn, show  # noqa: E402
from test_cluster import (REDIS_CLI, all_ok, cli,  # noqa: E402
                          create_cluster, start_nodes, stop_nodes, wait_for)


def tag_for_slot(slot):
    """A hash tag whose keys land in `slot`."""
    i = 0
    while True:
        t = "t%d" % i
        if harness.key_slot(t) == slot:
            return t
        i += 1


def myid(node):
    return node.text("CLUSTER", "MYID")


def owner_of(observer, slot):
    """Node id serving `slot` in observer's CLUSTER NODES, or None."""
    for line in observer.text("CLUSTER", "NODES").splitlines():
        f = line.split(" ")
        for r in f[8:]:
            if r.startswith("["):
                continue
            lo, _, hi = r.partition("-")
            if int(lo) <= slot <= int(hi or lo):
                return f[0]
    return None


def open_marks(node):
    """The [slot->-id] / [slot-<-id] marks in node's own CLUSTER NODES line."""
    for line in node.text("CLUSTER", "NODES").splitlines():
        f = line.split(" ")
        if "myself" in f[2]:
            return [r for r in f[8:] if r.startswith("[")]
    return []


def first_slot(node):
    """Lowest slot `node` serves."""
    me = myid(node)
    for line in node.text("CLUSTER", "NODES").splitlines():
        f = line.split(" ")
        if f[0] == me:
            return min(int(r.partition("-")[0]) for r in f[8:] if not r.startswith("["))
    raise RuntimeError("node serves no slot")


def open_slot(src, dst, slot):
    dst.value("CLUSTER", "SETSLOT", str(slot), "IMPORTING", myid(src))
    src.value("CLUSTER", "SETSLOT", str(slot), "MIGRATING", myid(dst))


def asking_set(node, key, val):
    c = RawConn(node.port)
    try:
        c.call("ASKING")
        return c.call("SET", key, val)
    finally:
        c.close()


def settled(res, label, nodes, slot, want_owner):
    """The slot has one owner on every node, nothing open, check is clean."""
    ok = wait_for(lambda: all(owner_of(n, slot) == want_owner for n in nodes), 15)
    res.check("%s: every node sees slot %d on %s" % (label, slot, want_owner[:8]), ok,
              "\n".join("%s: %s" % (n.name, owner_of(n, slot)) for n in nodes))
    res.check("%s: no open slot left" % label, not any(open_marks(n) for n in nodes),
              "\n".join("%s: %r" % (n.name, open_marks(n)) for n in nodes))
    res.check("%s: cluster_state ok" % label, wait_for(lambda: all_ok(nodes), 15))

    def clean():
        rc, out = cli("--cluster", "check", nodes[0].addr(), timeout=30)
        clean.out = out
        return rc == 0 and "[ERR]" not in out and "[WARNING]" not in out
    clean.out = ""
    res.check("%s: --cluster check clean" % label, wait_for(clean, 15, step=0.5), clean.out[-1500:])


def fix(node, *extra):
    """--cluster fix; covering a slot asks on stdin even with --cluster-yes."""
    p = subprocess.run([REDIS_CLI, "--cluster", "fix", node.addr(), "--cluster-yes"] + list(extra),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, input=b"yes\n" * 8,
                       timeout=120)
    return p.returncode, re.sub(r"\x1b\[[0-9;]*m", "", p.stdout.decode("utf-8", "replace"))


def exec_calls(node):
    """(MULTI calls, EXEC calls) since the last CONFIG RESETSTAT."""
    stats = node.text("INFO", "commandstats")
    got = []
    for name in ("multi", "exec"):
        m = re.search(r"cmdstat_%s:calls=(\d+)" % name, stats)
        got.append(int(m.group(1)) if m else 0)
    return tuple(got)


def case_busykey_same(res, nodes, src, dst, label):
    slot = first_slot(src)
    t = tag_for_slot(slot)
    keys = {"{%s}both" % t: b"same value", "{%s}only1" % t: b"1",
            "{%s}only2" % t: b"x" * 300, "{%s}ttl" % t: b"12345"}
    for k, v in keys.items():
        src.value("SET", k, v)
    src.value("EXPIRE", "{%s}ttl" % t, "1000")
    open_slot(src, dst, slot)
    # what a MIGRATE that restored on the target, then failed, leaves
    for k in ("{%s}both" % t, "{%s}ttl" % t):
        r = src.call("MIGRATE", "127.0.0.1", str(dst.port), k, "0", "5000", "COPY")
        res.check("%s: MIGRATE COPY %s" % (label, k), r == b"+OK\r\n", show(r))
    r = src.call("MIGRATE", "127.0.0.1", str(dst.port), "{%s}both" % t, "0", "5000")
    res.check("%s: a plain MIGRATE gets BUSYKEY" % label, b"BUSYKEY" in r, show(r))
    ds = src.value("DEBUG", "DIGEST-VALUE", "{%s}both" % t, "{%s}ttl" % t)
    dd = dst.value("DEBUG", "DIGEST-VALUE", "{%s}both" % t, "{%s}ttl" % t)
    res.check("%s: DEBUG DIGEST-VALUE equal on both nodes" % label,
              ds == dd and len(ds) == 2 and ds[0] != b"0" * 40, "%r %r" % (ds, dd))

    # 7.0's fix sees keys on the importing node: it keeps the slot on its
    # owner (set again through MULTI/EXEC) and moves those keys back, where
    # MIGRATE meets BUSYKEY, digests compare equal and REPLACE follows.
    src.value("CONFIG", "RESETSTAT")
    rc, out = fix(src)
    res.check("%s: --cluster fix succeeds" % label,
              rc == 0 and "[ERR]" not in out and "Checking key values" in out, out[-2500:])
    res.check("%s: owner set again through MULTI/EXEC" % label, exec_calls(src) == (1, 1),
              repr(exec_calls(src)))
    settled(res, label, nodes, slot, myid(src))
    got = {k: src.value("GET", k) for k in keys}
    res.check("%s: every key on the owner with its value" % label, got == keys, repr(got))
    res.check("%s: TTL kept" % label, 0 < src.value("TTL", "{%s}ttl" % t) <= 1000)
    res.check("%s: importing node emptied" % label,
              dst.value("CLUSTER", "COUNTKEYSINSLOT", str(slot)) == 0)


def case_busykey_differ(res, nodes, src, dst, label):
    slot = first_slot(src) + 1
    t = tag_for_slot(slot)
    k = "{%s}k" % t
    src.value("SET", k, "source value")
    open_slot(src, dst, slot)
    r = asking_set(dst, k, "target value")
    res.check("%s: ASKING SET on the importing node" % label, r == b"+OK\r\n", show(r))

    rc, out = fix(src)
    res.check("%s: fix refuses different values" % label,
              rc != 0 and "different values" in out and "--cluster-replace" in out, out[-2500:])
    res.check("%s: both values still there" % label,
              src.value("GET", k) == b"source value" and asking_get(dst, k) == b"target value")
    rc, out = fix(src, "--cluster-replace")
    res.check("%s: fix --cluster-replace succeeds" % label, rc == 0 and "[ERR]" not in out,
              out[-2500:])
    settled(res, label, nodes, slot, myid(src))
    # the importing node's keys go back to the owner, replacing its copy
    res.check("%s: importing node's value replaced the owner's" % label,
              src.value("GET", k) == b"target value", repr(src.value("GET", k)))
    res.check("%s: importing node emptied" % label,
              dst.value("CLUSTER", "COUNTKEYSINSLOT", str(slot)) == 0)


def asking_get(node, key):
    c = RawConn(node.port)
    try:
        c.call("ASKING")
        raw = c.call("GET", key)
    finally:
        c.close()
    return raw.split(b"\r\n")[1] if raw.startswith(b"$") and raw != b"$-1\r\n" else None


def case_no_owner(res, nodes, holder, other, label):
    slot = first_slot(holder) + 2
    t = tag_for_slot(slot)
    k = "{%s}kept" % t
    holder.value("SET", k, "v1")
    holder.value("SET", "{%s}two" % t, "v2")
    # the owner first: its heartbeats would otherwise claim the slot again
    for n in [holder] + [n for n in nodes if n is not holder]:
        n.value("CLUSTER", "DELSLOTS", str(slot))
    res.check("%s: nobody serves the slot" % label,
              wait_for(lambda: all(owner_of(n, slot) is None for n in nodes), 10))
    r = holder.value("CLUSTER", "SETSLOT", str(slot), "IMPORTING", myid(other))
    res.check("%s: slot importing on the holder" % label, r == b"OK", repr(r))
    res.check("%s: holder still has the keys" % label,
              holder.value("CLUSTER", "COUNTKEYSINSLOT", str(slot)) == 2)
    holder.value("CONFIG", "RESETSTAT")

    rc, out = fix(other)
    res.check("%s: --cluster fix succeeds" % label, rc == 0 and "[ERR] Nodes" not in out,
              out[-2500:])
    res.check("%s: owner set through MULTI/EXEC" % label, exec_calls(holder)[1] >= 1,
              repr(exec_calls(holder)))
    settled(res, label, nodes, slot, myid(holder))
    res.check("%s: keys readable" % label,
              holder.value("GET", k) == b"v1" and holder.value("GET", "{%s}two" % t) == b"v2")


def multi_script(nodes, node, other, imp_slot):
    """Replies of `node` to transactions meeting every redirection, with the
    slot numbers and addresses in them masked (each node has its own)."""
    base = first_slot(node)
    own, own2, mig = (tag_for_slot(base + i) for i in (3, 4, 5))
    far, imp = tag_for_slot(first_slot(other) + 5), tag_for_slot(imp_slot)
    node.value("SET", "{%s}a" % mig, "1")
    open_slot(node, other, base + 5)
    open_slot(other, node, imp_slot)
    script = [
        ("MULTI",), ("SET", "{%s}k" % own, "1"), ("SET", "{%s}k" % far, "1"), ("EXEC",),
        ("MULTI",), ("SET", "{%s}k" % own, "1"), ("SET", "{%s}k" % own2, "1"), ("EXEC",),
        ("EXEC",),
        ("MULTI",), ("INCR", "{%s}k" % own), ("GET", "{%s}k" % own), ("EXEC",),
        ("MULTI",), ("GET", "{%s}a" % mig), ("EXEC",),
        ("MULTI",), ("GET", "{%s}b" % mig), ("EXEC",),
        ("MULTI",), ("MGET", "{%s}a" % mig, "{%s}b" % mig), ("EXEC",),
        ("MULTI",), ("GET", "{%s}a" % mig), ("SET", "{%s}b" % mig, "x"), ("EXEC",),
        ("MULTI",), ("SET", "{%s}k" % imp, "1"), ("EXEC",),
        ("ASKING",), ("MULTI",), ("SET", "{%s}k" % imp, "2"), ("GET", "{%s}k" % imp), ("EXEC",),
        ("GET", "{%s}k" % imp),
        ("MULTI",), ("ASKING",), ("SET", "{%s}k" % imp, "3"), ("EXEC",),
        ("ASKING",), ("MULTI",), ("SET", "{%s}k" % imp, "4"), ("DISCARD",),
        ("GET", "{%s}k" % imp),
        ("MULTI",), ("PING",), ("CLUSTER", "KEYSLOT", "x"), ("EXEC",),
        ("MULTI",), ("SET", "{%s}k" % own, "1"), ("DEBUG", "DIGEST-VALUE", "{%s}k" % own),
        ("EXEC",),
    ]
    c = RawConn(node.port)
    try:
        out = [(" ".join(a), re.sub(rb"(MOVED|ASK) \d+ 127\.0\.0\.1:\d+", rb"\1 <slot> <addr>",
                                    c.call(*a))) for a in script]
    finally:
        c.close()
    for n, sl in ((node, base + 5), (other, base + 5), (node, imp_slot), (other, imp_slot)):
        n.value("CLUSTER", "SETSLOT", str(sl), "STABLE")
    return out


def case_multi_redirects(res, nodes, label):
    r0, s1, r2 = nodes
    ref = multi_script(nodes, r0, r2, first_slot(r2) + 6)
    got = multi_script(nodes, s1, r2, first_slot(r2) + 7)
    bad = ["%s: redis %s slotd %s" % (a, show(x), show(y))
           for (a, x), (_, y) in zip(ref, got) if x != y]
    res.check("%s: %d commands answer as redis0 does" % (label, len(ref)), not bad, "\n".join(bad))
    res.check("%s: no open slot left" % label, not any(open_marks(n) for n in nodes))


def run(res, threads):
    tag = "t%d" % threads
    nodes = start_nodes(["redis", "slotd", "redis"], threads=threads)
    try:
        if not create_cluster(res, "create " + tag, nodes):
            return
        r0, s1, r2 = nodes
        res.run("busykey slotd->redis " + tag, case_busykey_same, res, nodes, s1, r0,
                "busykey slotd->redis " + tag)
        res.run("busykey redis->slotd " + tag, case_busykey_same, res, nodes, r2, s1,
                "busykey redis->slotd " + tag)
        res.run("differ slotd->redis " + tag, case_busykey_differ, res, nodes, s1, r2,
                "differ slotd->redis " + tag)
        res.run("differ redis->slotd " + tag, case_busykey_differ, res, nodes, r0, s1,
                "differ redis->slotd " + tag)
        res.run("no owner " + tag, case_no_owner, res, nodes, s1, r0, "no owner " + tag)
        res.run("multi redirects " + tag, case_multi_redirects, res, nodes,
                "MULTI/EXEC redirections " + tag)
        for n in nodes:
            res.check("%s alive" % n.name, n.alive(), n.death_note())
    finally:
        stop_nodes(nodes)
    res.check_clean_exit(nodes, tag)


def main():
    res = harness.Results("cluster-fix")
    for threads in (1, 2):
        run(res, threads)
    return res.finish()


if __name__ == "__main__":
    t0 = time.time()
    rc = harness.guard(main)
    print("(%.0f s)" % (time.time() - t0))
    sys.exit(rc)
