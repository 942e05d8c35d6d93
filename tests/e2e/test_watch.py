#!/usr/bin/python3
"""WATCH through a real client library: python3-redis's optimistic-locking
helper r.transaction(fn, *keys) (WATCH, read, MULTI, write, EXEC, retried on a
null EXEC) from 4 threads at once against slotd with 2 data cores, so the
watched keys, the writers and the watchers sit on different cores. Nothing
may be lost: a counter incremented 4 x N times ends at 4 x N, and transfers
between two keys on different cores keep their sum. A deterministic case
first: a write by another connection makes EXEC fail (WatchError).

In cluster mode (a cluster of redis-server, slotd, slotd made by
test_cluster.py's helpers) WATCH is routed like any keyed command: slotd's
MOVED and CROSSSLOT equal a real node's, and a watch of a key the node
serves aborts EXEC as in standalone mode.

Usage: test_watch.py [--threads N] (data cores, default 2); WATCH_N sets the
transactions per thread (default 300).
"""

import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

redis = harness.redis_py()

N = int(os.environ.get("WATCH_N", "300"))
WORKERS = 4
# Two keys whose slots (CRC16 % 16384: 15785 and 3530) fall in different
# halves of the slot space, so on 2 data cores they live on different cores
# (slotd gives each core a contiguous range); "counter" (6680) is with acct:b.
KEY_A, KEY_B = "acct:a", "acct:b"


def threads_arg():
    if "--threads" in sys.argv:
        return int(sys.argv[sys.argv.index("--threads") + 1])
    return 2


def cluster_case(res):
    import test_cluster as tc

    label = "cluster"
    nodes = tc.start_nodes(["redis", "slotd", "slotd"], threads=threads_arg())
    try:
        if not tc.create_cluster(res, label, nodes):
            return
        real, mine = nodes[0], nodes[1]
        for i in range(200):
            k = "watch-probe-%d" % i
            a, b = real.call("WATCH", k), mine.call("WATCH", k)
            if a.startswith(b"-MOVED") and b.startswith(b"-MOVED"):
                res.check("%s: WATCH answers MOVED as redis-server" % label, a == b,
                          "%s vs %s" % (harness.show(a), harness.show(b)))
                break
        else:
            res.fail("%s: no key found that both nodes redirect" % label)
        a, b = real.call("WATCH", "a", "b"), mine.call("WATCH", "a", "b")
        res.check("%s: WATCH of two slots is CROSSSLOT as redis-server" % label,
                  a == b and a.startswith(b"-CROSSSLOT"),
                  "%s vs %s" % (harness.show(a), harness.show(b)))
        for n in (real, mine):
            own = next(("own-%d" % i for i in range(2000)
                        if n.call("WATCH", "own-%d" % i) == b"+OK\r\n"), None)
            if own is None:
                res.fail("%s: no key served by %s" % (label, n.name))
                continue
            w, o = n.conn(), n.conn()
            try:
                got = [w.call("WATCH", own), o.call("SET", own, "x"), w.call("MULTI"),
                       w.call("GET", own), w.call("EXEC"),
                       w.call("WATCH", own), w.call("MULTI"), w.call("GET", own), w.call("EXEC")]
            finally:
                w.close()
                o.close()
            want = [b"+OK\r\n", b"+OK\r\n", b"+OK\r\n", b"+QUEUED\r\n", b"*-1\r\n",
                    b"+OK\r\n", b"+OK\r\n", b"+QUEUED\r\n", b"*1\r\n$1\r\nx\r\n"]
            res.check("%s: WATCH / EXEC on %s" % (label, n.name), got == want, repr(got))
    finally:
        tc.stop_nodes(nodes)
        res.check_clean_exit(nodes, label)


def main():
    res = harness.Results("watch")
    srv = harness.target_server(threads=threads_arg()).start()
    try:
        r = redis.Redis(host="127.0.0.1", port=srv.port, socket_timeout=60)
        res.check("FLUSHALL", r.flushall() is True)

        # A write by another connection between WATCH and EXEC aborts EXEC.
        def aborted():
            other = redis.Redis(host="127.0.0.1", port=srv.port, socket_timeout=10)
            with r.pipeline() as p:
                p.watch(KEY_A)
                other.set(KEY_A, "changed")
                p.multi()
                p.set(KEY_A, "mine")
                try:
                    p.execute()
                except redis.WatchError:
                    return r.get(KEY_A) == b"changed"
                finally:
                    other.close()
            return False
        res.check("EXEC fails after another client's write",
                  res.run("WatchError (exception)", aborted) is True)
        r.delete(KEY_A, KEY_B)
        r.set(KEY_A, 1000000)
        r.set(KEY_B, 0)

        errors = []
        retries = [0] * WORKERS

        def worker(idx):
            c = redis.Redis(host="127.0.0.1", port=srv.port, socket_timeout=60)
            attempts = [0]

            def incr(pipe):
                attempts[0] += 1
                v = int(pipe.get("counter") or 0)
                pipe.multi()
                pipe.set("counter", v + 1)

            def transfer(pipe):
                attempts[0] += 1
                a = int(pipe.get(KEY_A))
                b = int(pipe.get(KEY_B))
                pipe.multi()
                pipe.set(KEY_A, a - 1)
                pipe.set(KEY_B, b + 1)

            try:
                for _ in range(N):
                    c.transaction(incr, "counter")
                    c.transaction(transfer, KEY_A, KEY_B)
            except Exception as e:      # noqa: BLE001 - reported below
                errors.append("worker %d: %r" % (idx, e))
            finally:
                retries[idx] = attempts[0] - 2 * N
                c.close()

        ts = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        res.check("workers ran without errors", not errors, "\n".join(errors))
        total = WORKERS * N
        counter = int(r.get("counter") or 0)
        res.check("counter == %d (no lost update)" % total, counter == total,
                  "counter=%d, retries=%r" % (counter, retries))
        a, b = int(r.get(KEY_A)), int(r.get(KEY_B))
        res.check("transfers across cores keep the sum", a + b == 1000000 and b == total,
                  "a=%d b=%d" % (a, b))
        print("retries per worker (EXEC answered null): %r" % retries, flush=True)

        # Watches let go every way there is, over keys of both cores (the
        # connections land on either core): UNWATCH, DISCARD, RESET, an
        # aborted EXEC, a closed connection. Then a watch of the same keys
        # still works both ways.
        def churn():
            keys = ["churn:%d" % i for i in range(24)]
            for round_ in range(5):
                conns = [redis.Redis(host="127.0.0.1", port=srv.port, socket_timeout=10)
                         for _ in range(10)]
                for i, c in enumerate(conns):
                    c.execute_command("WATCH", *keys[i % 4:])
                    how = i % 5
                    if how == 0:
                        c.execute_command("UNWATCH")
                    elif how == 1:
                        c.execute_command("MULTI")
                        c.execute_command("DISCARD")
                    elif how == 2:
                        c.execute_command("RESET")
                    elif how == 3:
                        r.set(keys[-1], round_)
                        c.execute_command("MULTI")
                        if c.execute_command("EXEC") is not None:
                            return "EXEC ran after a watched key changed"
                for c in conns:
                    c.close()
            with r.pipeline() as p:
                p.watch(*keys)
                p.multi()
                p.set(keys[0], "ok")
                if p.execute() != [True]:
                    return "EXEC of an untouched watch failed"
            return ""
        err = res.run("WATCH churn (exception)", churn)
        res.check("WATCH released by UNWATCH, DISCARD, RESET, EXEC, close", err == "", str(err))
        r.close()
        res.check("target alive", srv.alive(), srv.death_note())
    finally:
        srv.stop()
    res.check_clean_exit([srv])
    res.run("cluster (exception)", cluster_case, res)
    return res.finish()


if __name__ == "__main__":
    sys.exit(harness.guard(main))
