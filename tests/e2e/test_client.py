#!/usr/bin/python3
"""A real client library against the target: python3-redis (Debian's
python3-redis, run with /usr/bin/python3) doing 100,000 SET and GET with
verification, pipelined in batches (no MULTI: transaction=False), plus a few
single round-trip commands through the library's own reply parsing; then
a client that half-closes behind 100 MB of replies it never reads.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

redis = harness.redis_py()

N = int(os.environ.get("CLIENT_N", "100000"))
BATCH = 1000


def value(i):
    # Deterministic, varied lengths and bytes (binary included, 0..200 bytes).
    n = (i * 7919) % 201
    return bytes(((i + j * 31) & 0xFF) for j in range(n))


def check_port_in_use(res, holder):
    """A second server on a port in use refuses to start, as redis-server
    does, instead of quietly taking a share of the connections (slotd's
    per-core listeners use SO_REUSEPORT, which another slotd could join)."""
    second = harness.Server(harness.target_server().kind, threads=2, name="second")
    try:
        out = subprocess.run(second.argv(holder.port), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=30, preexec_fn=harness._die_with_parent).stdout
        code = "exited"
    except subprocess.TimeoutExpired as e:
        out, code = e.output or b"", "still running"
    res.check("a second server on port %s's port refuses to start" % holder.name,
              code == "exited" and b"Address already in use" in out,
              "%s: %s" % (code, out[-300:]))
    c = holder.conn()
    res.check("%s still serves its port" % holder.name, c.call("PING") == b"+PONG\r\n")
    c.close()


def check_half_close(res, srv):
    """A client that pipelines 100 GETs of a 1 MB value and a SET, then
    half-closes and never reads: the SET runs (Redis reads a stream to its
    end) and the client goes, though slotd stops reading a client at 64 MB
    of unsent replies."""
    import socket
    import time
    c = srv.conn()
    c.call("SET", "hc:big", "x" * (1 << 20))
    c.call("DEL", "hc:done")
    k = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    k.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    k.connect(("127.0.0.1", srv.port))
    port = k.getsockname()[1]
    k.sendall(harness.encode_cmd("GET", "hc:big") * 100 + harness.encode_cmd("SET", "hc:done", "1"))
    k.shutdown(socket.SHUT_WR)
    deadline, done, listed = time.time() + 20, b"", True
    while time.time() < deadline and (done != b"$1\r\n1\r\n" or listed):
        time.sleep(0.1)
        done = c.call("GET", "hc:done")
        listed = (":%d " % port).encode() in c.call("CLIENT", "LIST")
    k.close()
    c.call("DEL", "hc:big", "hc:done")
    c.close()
    res.check("half-close behind 100 MB of unread replies: the SET after them runs, the client goes",
              done == b"$1\r\n1\r\n" and not listed, "GET %r, still listed %s" % (done, listed))


def main():
    res = harness.Results("client")
    srv = harness.target_server().start()
    try:
        r = redis.Redis(host="127.0.0.1", port=srv.port, socket_timeout=60)
        res.check("PING", r.ping() is True)
        res.check("FLUSHALL", r.flushall() is True)

        def set_all():
            for base in range(0, N, BATCH):
                p = r.pipeline(transaction=False)
                for i in range(base, min(N, base + BATCH)):
                    p.set("key:%d" % i, value(i))
                replies = p.execute()
                if not all(x is True for x in replies):
                    return "SET batch at %d: %r" % (base, [x for x in replies if x is not True][:3])
            return ""
        err = res.run("SET x%d (exception)" % N, set_all)
        res.check("SET x%d" % N, err == "", str(err))

        res.check("DBSIZE == %d" % N, r.dbsize() == N, "DBSIZE=%r" % r.dbsize())

        def get_all():
            bad = []
            for base in range(0, N, BATCH):
                p = r.pipeline(transaction=False)
                for i in range(base, min(N, base + BATCH)):
                    p.get("key:%d" % i)
                for i, v in zip(range(base, N), p.execute()):
                    if v != value(i):
                        bad.append((i, v[:20] if v else v))
            return bad
        bad = res.run("GET x%d (exception)" % N, get_all)
        res.check("GET x%d verified" % N, bad == [], "mismatches: %r" % (bad or [])[:5])

        def mget_check():
            keys = ["key:%d" % i for i in range(0, 2000, 7)] + ["missing"]
            got = r.mget(keys)
            want = [value(i) for i in range(0, 2000, 7)] + [None]
            return got == want
        res.check("MGET across slots", res.run("MGET (exception)", mget_check) is True)

        res.check("INCR", r.incr("counter") == 1 and r.incrby("counter", 41) == 42)
        res.check("INCRBYFLOAT", r.incrbyfloat("fl", 2.5) == 2.5)
        r.set("ttl", "v", ex=100)
        res.check("TTL", 99 <= r.ttl("ttl") <= 100)
        res.check("EXISTS/DEL", r.exists("key:1", "key:2", "nope") == 2 and r.delete("key:1", "nope") == 1)
        res.check("GETRANGE/SETRANGE", r.setrange("sr", 3, "abc") == 6 and r.getrange("sr", 3, -1) == b"abc")
        res.check("RENAME", r.rename("key:2", "renamed") is True and r.get("renamed") == value(2))
        keys = set(r.scan_iter(match="key:99*", count=500))
        want = set(("key:%d" % i).encode() for i in range(N) if str(i).startswith("99"))
        res.check("SCAN iteration (match key:99*)", keys == want, "%d vs %d keys" % (len(keys), len(want)))
        res.check("client_setname/getname", r.client_setname("e2e") and r.client_getname() == "e2e")
        info = r.info()
        res.check("INFO parses", "redis_version" in info and "used_memory" in info, repr(list(info)[:10]))
        res.check("FLUSHDB", r.flushdb() is True and r.dbsize() == 0)
        r.close()
        check_half_close(res, srv)
        res.check("target alive", srv.alive(), srv.death_note())
        check_port_in_use(res, srv)
        ref = harness.Server("redis", name="redis").start()
        try:
            check_port_in_use(res, ref)
        finally:
            ref.stop()
    finally:
        srv.stop()
    res.check_clean_exit([srv])
    return res.finish()


if __name__ == "__main__":
    sys.exit(harness.guard(main))
