#!/usr/bin/python3
"""10,000 mixed pipelined commands (SET GET INCR DEL MGET MSET EXPIRE SELECT
SWAPDB ..., some inline) sent in one write to the target (slotd with --threads 2) and to redis-server; the reply
streams must be byte-identical. Then the same from 4 connections at once, each
on its own keys, to exercise replies that cross data cores under load.

The command mix is generated from a fixed seed, so it is the same every run.
"""

import os
import random
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Server, encode_cmd, show, split_replies  # noqa: E402

N = int(os.environ.get("PIPELINE_N", "10000"))


def gen_commands(rnd, n, prefix, dbs=False):
    keys = ["%s:%d" % (prefix, i) for i in range(400)] + ["%s:{tag}%d" % (prefix, i) for i in range(20)]
    cmds = []
    for _ in range(n):
        k = rnd.choice(keys)
        r = rnd.random()
        if r < 0.22:
            v = rnd.choice([str(rnd.randrange(-1000, 1000)), "v" * rnd.randrange(0, 64),
                            bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 40)))])
            cmds.append(("SET", k, v))
        elif r < 0.42:
            cmds.append(("GET", k))
        elif r < 0.52:
            cmds.append(("INCR", k))
        elif r < 0.56:
            cmds.append(("INCRBY", k, str(rnd.randrange(-50, 50))))
        elif r < 0.62:
            cmds.append(("DEL", k) + tuple(rnd.sample(keys, rnd.randrange(0, 3))))
        elif r < 0.72:
            cmds.append(("MGET",) + tuple(rnd.sample(keys, rnd.randrange(1, 8))))
        elif r < 0.80:
            args = []
            for kk in rnd.sample(keys, rnd.randrange(1, 6)):
                args += [kk, "m%d" % rnd.randrange(1000)]
            cmds.append(("MSET",) + tuple(args))
        elif r < 0.85:
            cmds.append(("EXPIRE", k, str(rnd.randrange(1000, 100000))))
        elif r < 0.88:
            cmds.append(("PERSIST", k))
        elif r < 0.91:
            cmds.append(("APPEND", k, "+a"))
        elif r < 0.93:
            cmds.append(("EXISTS",) + tuple(rnd.sample(keys, 3)))
        elif r < 0.95:
            cmds.append(("STRLEN", k))
        elif r < 0.97:
            cmds.append(("GETSET", k, "gs"))
        elif r < 0.985:
            cmds.append(("SETNX", k, "nx"))
        elif dbs and r < 0.99:
            # slotd parses a pipeline a few commands ahead and hashes their
            # keys early: a SELECT or SWAPDB in between must not leave a
            # command looking in the table it was parsed for
            cmds.append(rnd.choice([("SELECT", "0"), ("SELECT", "1"), ("SWAPDB", "0", "1")]))
        else:
            cmds.append(("GETRANGE", k, "1", "-2"))
    return cmds


def encode_mixed(cmds, rnd):
    """Multibulk, with one GET in ten as an inline command: the parse ahead
    stops at those and resumes after."""
    out = []
    for c in cmds:
        if c[0] == "GET" and rnd.random() < 0.1:
            out.append(("%s %s\r\n" % c).encode())
        else:
            out.append(encode_cmd(*c))
    return b"".join(out)


def run_pipeline(server, payload, n, out, idx):
    """Write the whole payload while a reader collects n replies."""
    c = server.conn(timeout=60)
    got = []

    def reader():
        buf = b""
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                _, end = split_replies(buf, n)
                got.append(buf[:end])
                return
            except harness.Incomplete:
                pass
            try:
                chunk = c.sock.recv(1 << 20)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
        got.append(None if not buf else buf)

    t = threading.Thread(target=reader)
    t.start()
    c.sock.sendall(payload)
    t.join(70)
    c.close()
    out[idx] = got[0] if got else None


def compare_streams(res, name, ref, tgt, n):
    if ref is None:
        res.fail(name, "reference redis-server did not answer all %d commands" % n)
        return
    if tgt == ref:
        res.ok(name, "%d replies, %d bytes identical" % (n, len(ref)))
        return
    if tgt is None:
        res.fail(name, "target did not answer all %d commands" % n)
        return
    r_list, _ = split_replies(ref, n)
    try:
        t_list, _ = split_replies(tgt, n)
    except harness.Incomplete:
        replies, p = [], 0
        try:
            while True:
                _, e = harness.parse_reply(tgt, p)
                replies.append(tgt[p:e])
                p = e
        except harness.Incomplete:
            pass
        got = len(replies)
        bad = [i for i in range(got) if replies[i] != r_list[i]]
        res.fail(name, "the target stopped after %d of %d replies (%d bytes, %d of them wrong) "
                 "and said nothing more for 60 s" % (got, n, len(tgt), len(bad)))
        return
    except Exception as e:
        res.fail(name, "target reply stream unparsable: %s; first bytes %s" % (e, show(tgt[:200])))
        return
    diffs = [i for i in range(n) if r_list[i] != t_list[i]]
    lines = ["%d of %d replies differ; first ones:" % (len(diffs), n)]
    for i in diffs[:5]:
        lines.append("  #%d expected %s got %s" % (i, show(r_list[i]), show(t_list[i])))
    res.fail(name, "\n".join(lines))


def check_command_time(res):
    """A GET takes a fraction of a microsecond, and INFO commandstats still
    adds those fractions up (Redis: usec of cmdstat_get grows with the
    calls). One data core, so every GET runs where it is parsed; 20 ns a GET
    is far below what one costs, and what summing truncated durations gave
    (0)."""
    one = harness.target_server(threads=1, name="one-core").start()
    try:
        n = 20000
        c = one.conn()
        c.send(b"".join(encode_cmd("GET", "t:%d" % (i % 100)) for i in range(n)))
        c.read_replies(n)
        raw = c.call("INFO", "commandstats")
        c.close()
        m = re.search(rb"cmdstat_get:calls=(\d+),usec=(\d+),", raw)
        st = (int(m.group(1)), int(m.group(2))) if m else None
        res.check("cmdstat_get adds up fractions of a microsecond",
                  st is not None and st[0] == n and st[1] >= n * 20 // 1000,
                  "cmdstat_get (calls, usec): %r" % (st,))
    finally:
        one.stop()


def main():
    res = harness.Results("pipeline")
    ref = Server("redis", name="ref-redis").start()
    tgt = harness.target_server(threads=2).start()
    try:
        cmds = gen_commands(random.Random(20240607), N, "k", dbs=True)
        payload = encode_mixed(cmds, random.Random(5))
        out = [None, None]
        for i, s in enumerate((ref, tgt)):
            run_pipeline(s, payload, len(cmds), out, i)
        compare_streams(res, "one write of %d commands" % len(cmds), out[0], out[1], len(cmds))
        if not tgt.alive():
            res.fail("target alive after one big pipeline", tgt.death_note())
            return res.finish()

        # Final state, key by key (sorted, so hash order does not matter).
        def state(s):
            c = s.conn()
            keys = sorted(set(("k:%d" % i) for i in range(400)) | set("k:{tag}%d" % i for i in range(20)))
            vals = []
            for db in ("0", "1"):
                c.send(encode_cmd("SELECT", db) + b"".join(encode_cmd("GET", k) for k in keys))
                vals += c.read_replies(len(keys) + 1)
            c.close()
            return vals
        res.check("final values equal", state(ref) == state(tgt), "GET of every key differs")

        # The same key in two dbs, swapped between commands already parsed
        # (and hashed) ahead: each GET must read the db as it is when it runs
        # (and each MGET, which warms the cache for its own keys too).
        # slotd warms only tables bigger than the caches (1 MiB a core):
        # both dbs get 30,000 keys of 100 bytes first.
        fill = b"".join(encode_cmd("SELECT", db) + b"".join(
            encode_cmd("MSET", *[x for j in range(i, i + 100) for x in ("fill:%d" % j, "f" * 100)])
            for i in range(0, 30000, 100)) for db in ("1", "0"))
        out = [None, None]
        for i, s in enumerate((ref, tgt)):
            run_pipeline(s, fill, 2 * 301, out, i)
        compare_streams(res, "fill two dbs", out[0], out[1], 2 * 301)
        swaps = [("SELECT", "1")] + [("SET", "s%d" % i, "one") for i in range(50)]
        swaps += [("SELECT", "0")] + [("SET", "s%d" % i, "zero") for i in range(50)]
        for i in range(50):
            swaps += [("SWAPDB", "0", "1"), ("GET", "s%d" % i), ("SET", "s%d" % i, "x%d" % i),
                      ("GET", "s%d" % i),
                      ("MGET", "s%d" % i, "s%d" % ((i + 1) % 50), "fill:%d" % i, "nokey", "s%d" % i)]
        swaps += [("SELECT", "1")] + [("GET", "s%d" % i) for i in range(50)]
        payload = b"".join(encode_cmd(*c) for c in swaps)
        out = [None, None]
        for i, s in enumerate((ref, tgt)):
            run_pipeline(s, payload, len(swaps), out, i)
        compare_streams(res, "SWAPDB inside a pipeline (%d commands)" % len(swaps), out[0], out[1],
                        len(swaps))

        # 4 concurrent connections, disjoint key spaces.
        conns = 4
        per = N // conns
        plans = [gen_commands(random.Random(7 + j), per, "c%d" % j) for j in range(conns)]
        payloads = [b"".join(encode_cmd(*c) for c in p) for p in plans]
        for label, s in (("ref", ref), ("tgt", tgt)):
            c = s.conn()
            c.call("FLUSHALL")
            c.close()
        results = {}
        for label, s in (("ref", ref), ("tgt", tgt)):
            outs = [None] * conns
            threads = [threading.Thread(target=run_pipeline, args=(s, payloads[j], per, outs, j))
                       for j in range(conns)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(80)
            results[label] = outs
        for j in range(conns):
            compare_streams(res, "concurrent connection %d (%d commands)" % (j, per),
                            results["ref"][j], results["tgt"][j], per)
        res.check("target alive after pipelines", tgt.alive(), tgt.death_note())
        check_command_time(res)
    finally:
        ref.stop()
        tgt.stop()
    res.check_clean_exit([tgt])
    return res.finish()


if __name__ == "__main__":
    sys.exit(harness.guard(main))
