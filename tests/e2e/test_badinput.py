#!/usr/bin/python3
"""Hostile and broken clients against the target; after every case a canary set
of keys must be intact and the server alive.

Cases:
  - every RESP protocol error: the error string and the close must match real
    redis-server byte for byte (both servers get the same bytes);
  - bulk lengths over proto-max-bulk-len (default and lowered);
  - the query buffer limit: with client-query-buffer-limit lowered to 1mb the
    client is dropped (as Redis does); at the default (1gb) it cannot be reached
    with legal input, because one argument is at most proto-max-bulk-len (512mb)
    and a complete argument leaves the query buffer, so we check that a client
    announcing the largest legal argument is kept, and that a 4 MB argument goes
    through;
  - slow-loris: one byte per 100 ms while another client keeps working with low
    latency; the `timeout` config closing an idle client but not a busy one;
  - 10,000 idle connections, then `ERR max number of clients reached` past
    maxclients, and all of them still answering;
  - a client that writes GETs of a big value and never reads: with
    client-output-buffer-limit normal set, the server drops it, stays up, and
    other clients are unaffected.
"""

import os
import resource
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Server, encode_cmd, show  # noqa: E402

IDLE_CONNS = int(os.environ.get("BADINPUT_IDLE_CONNS", "10000"))
CANARY = [("canary:%d" % i, ("value-%d-" % i) * (i % 7 + 1)) for i in range(100)]


def read_all(conn, timeout=2.0):
    """Everything the server sends until it closes (or timeout): (bytes, closed)."""
    data = b""
    deadline = time.time() + timeout
    conn.sock.setblocking(True)
    while time.time() < deadline:
        conn.sock.settimeout(max(0.01, deadline - time.time()))
        try:
            chunk = conn.sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def load_canary(srv):
    c = srv.conn()
    args = []
    for k, v in CANARY:
        args += [k, v]
    r = c.call("MSET", *args)
    c.close()
    assert r == b"+OK\r\n", r


def canary_ok(srv):
    if not srv.alive():
        return "server process is gone:\n" + srv.log_tail()
    try:
        c = srv.conn(timeout=10)
        pong = c.call("PING")
        got = c.call("MGET", *[k for k, _ in CANARY])
        c.close()
    except OSError as e:
        return "cannot talk to server: %s" % e
    want = b"*%d\r\n" % len(CANARY) + b"".join(b"$%d\r\n%s\r\n" % (len(v), v.encode()) for _, v in CANARY)
    if pong != b"+PONG\r\n":
        return "PING answered %s" % show(pong)
    if got != want:
        return "canary keys changed: %s" % show(got)
    return ""


def config_set(srv, *pairs):
    c = srv.conn()
    r = c.call("CONFIG", "SET", *pairs)
    c.close()
    if r != b"+OK\r\n":
        raise AssertionError("CONFIG SET %r: %s" % (pairs, show(r)))


# ---------------------------------------------------------------------------

PROTOCOL_CASES = [
    ("multibulk count not a number", b"*abc\r\n"),
    ("multibulk count 1048577 is legal once authenticated (waits)", b"*1048577\r\n"),
    ("multibulk count over INT_MAX", b"*2147483648\r\n"),
    ("multibulk count with a space", b"* 1\r\n$4\r\nPING\r\n"),
    ("multibulk count, LF only", b"*1\n$4\r\nPING\r\n"),
    ("multibulk count, leading plus", b"*+1\r\n$4\r\nPING\r\n"),
    ("negative multibulk count is ignored", b"*-10\r\n*1\r\n$4\r\nPING\r\n"),
    ("zero multibulk count is ignored", b"*0\r\n*1\r\n$4\r\nPING\r\n"),
    ("expected '$', got a letter", b"*1\r\nx\r\n"),
    ("expected '$', got a digit", b"*2\r\n$3\r\nGET\r\n1\r\n"),
    ("expected '$', got ':'", b"*1\r\n:4\r\nPING\r\n"),
    ("bulk length not a number", b"*1\r\n$abc\r\n"),
    ("bulk length negative", b"*1\r\n$-1\r\n"),
    ("bulk length with a space", b"*1\r\n$ 4\r\nPING\r\n"),
    ("bulk length over proto-max-bulk-len", b"*2\r\n$3\r\nGET\r\n$536870913\r\n"),
    ("bulk length way over, 2^63", b"*2\r\n$3\r\nGET\r\n$9223372036854775808\r\n"),
    ("too big inline request", b"A" * (64 * 1024 + 100)),
    ("too big mbulk count string", b"*" + b"1" * (64 * 1024 + 100)),
    ("too big bulk count string", b"*1\r\n$" + b"1" * (64 * 1024 + 100)),
    ("unbalanced double quotes", b'SET a "b\r\n'),
    ("unbalanced single quotes", b"SET a 'b\r\n"),
    ("closing quote not followed by space", b'SET a "b"c\r\n'),
    ("bulk not followed by CRLF (Redis skips 2 bytes)", b"*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n"),
    ("empty command name", b"*1\r\n$0\r\n\r\n"),
    ("valid commands before the error are answered", b"PING\r\n*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$x\r\nPING\r\n"),
    ("error after a partial pipeline", b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n@\r\n"),
    ("type byte that is not * or inline", b"$4\r\nPING\r\n"),
    ("RESP3-style map from a client", b"%1\r\n$1\r\na\r\n$1\r\nb\r\n"),
    ("binary garbage", bytes(range(1, 256)) + b"\r\n"),
]


def case_protocol_errors(res, ref, tgt):
    for name, data in PROTOCOL_CASES:
        out = [None, None]

        def one(i, s):
            c = s.conn()
            try:
                c.sock.sendall(data)
            except OSError:
                pass
            out[i] = read_all(c, 1.0)
            c.close()
        ths = [threading.Thread(target=one, args=(i, s)) for i, s in enumerate((ref, tgt))]
        for th in ths:
            th.start()
        for th in ths:
            th.join()
        (r, rc), (t, tc) = out
        if os.environ.get("VERBOSE"):
            print("  %s -> %s closed=%s" % (name, show(r, 200), rc))
        ok = r == t and rc == tc
        res.check("protocol: " + name, ok,
                  "  sent %s\n  expected (redis): %s closed=%s\n  got (%s): %s closed=%s"
                  % (show(data, 120), show(r), rc, harness.TARGET, show(t), tc))
        err = canary_ok(tgt)
        if err:
            res.fail("canary after protocol: " + name, err)
            if not tgt.alive():
                return


def case_bulk_limits(res, ref, tgt):
    for s in (ref, tgt):
        config_set(s, "proto-max-bulk-len", "1mb")
    cases = [
        ("bulk of 1mb+1 with proto-max-bulk-len 1mb", b"*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1048577\r\n"),
        ("bulk of exactly 1mb is accepted", b"*3\r\n$3\r\nSET\r\n$2\r\nmb\r\n$1048576\r\n" + b"z" * 1048576 + b"\r\n"),
    ]
    for name, data in cases:
        out = []
        for s in (ref, tgt):
            c = s.conn()
            c.sock.sendall(data)
            out.append(read_all(c, 2.0))
            c.close()
        res.check(name, out[0] == out[1], "expected %s, got %s" % (show(out[0]), show(out[1])))
    for s in (ref, tgt):
        config_set(s, "proto-max-bulk-len", "512mb")
    res.check("canary after bulk limits", not canary_ok(tgt), canary_ok(tgt))


def case_query_buffer(res, ref, tgt):
    # Lowered limit: a 3 MB argument in flight overflows a 1 MB query buffer.
    outcome = []
    for s in (ref, tgt):
        config_set(s, "client-query-buffer-limit", "1mb")
        c = s.conn()
        closed = False
        try:
            c.sock.sendall(b"*3\r\n$3\r\nSET\r\n$2\r\nqb\r\n$3000000\r\n")
            chunk = b"q" * 65536
            for _ in range(2000000 // len(chunk)):
                c.sock.sendall(chunk)
        except OSError:
            closed = True
        data, eof = read_all(c, 3.0)
        outcome.append((data, closed or eof))
        c.close()
        config_set(s, "client-query-buffer-limit", "1gb")
    res.check("client-query-buffer-limit 1mb drops the client", outcome[1][1] and outcome[0] == outcome[1],
              "expected (redis) %r, got %r" % (outcome[0], outcome[1]))
    res.check("canary after query buffer overflow", not canary_ok(tgt), canary_ok(tgt))

    # Default limit (1gb) is beyond any legal single argument (512mb): a client
    # announcing the largest legal argument and sending part of it is kept.
    c = tgt.conn()
    c.sock.sendall(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$536870912\r\n" + b"b" * 1000000)
    data, closed = read_all(c, 1.5)
    res.check("default limit: a 512mb argument in progress is not dropped", not closed and data == b"",
              "closed=%s data=%s" % (closed, show(data)))
    res.check("canary while a 512mb argument is pending", not canary_ok(tgt), canary_ok(tgt))
    c.close()
    big = b"x" * (4 * 1024 * 1024)
    c = tgt.conn(timeout=30)
    r1 = c.call("SET", "four-mb", big)
    r2 = c.call("STRLEN", "four-mb")
    r3 = c.call("DEL", "four-mb")
    c.close()
    res.check("default limit: a 4 MB argument goes through", (r1, r2, r3) == (b"+OK\r\n", b":4194304\r\n", b":1\r\n"),
              "%s %s %s" % (show(r1), show(r2), show(r3)))
    c = tgt.conn()
    r = c.call("CONFIG", "GET", "client-query-buffer-limit")
    c.close()
    res.check("default client-query-buffer-limit is 1gb",
              r == b"*2\r\n$25\r\nclient-query-buffer-limit\r\n$10\r\n1073741824\r\n", show(r))
    res.check("canary after query buffer cases", not canary_ok(tgt), canary_ok(tgt))


def case_slow_loris(res, tgt):
    cmd = encode_cmd("SET", "slowloris", "arrived-one-byte-at-a-time")
    slow = tgt.conn(timeout=30)
    stop = threading.Event()
    lat = []
    errors = []

    def worker():
        c = tgt.conn()
        i = 0
        while not stop.is_set():
            t0 = time.time()
            r1 = c.call("SET", "busy:%d" % (i % 50), str(i))
            r2 = c.call("GET", "busy:%d" % (i % 50))
            lat.append(time.time() - t0)
            if r1 != b"+OK\r\n" or r2 != b"$%d\r\n%d\r\n" % (len(str(i)), i):
                errors.append((r1, r2))
            i += 1
        c.close()

    th = threading.Thread(target=worker)
    th.start()
    for b in cmd:
        slow.sock.sendall(bytes([b]))
        time.sleep(0.1)
    reply = slow.read_reply(5)
    stop.set()
    th.join(10)
    res.check("slow-loris: its command completes", reply == b"+OK\r\n", show(reply))
    c = tgt.conn()
    v = c.call("GET", "slowloris")
    c.close()
    res.check("slow-loris: value stored", v == b"$26\r\narrived-one-byte-at-a-time\r\n", show(v))
    worst = max(lat) if lat else None
    res.check("slow-loris: other client kept working (%d round trips, worst %.1f ms)"
              % (len(lat), (worst or 0) * 1000),
              len(lat) > 20 and not errors and worst is not None and worst < 1.0,
              "round trips=%d errors=%r worst=%r" % (len(lat), errors[:3], worst))
    slow.close()

    # `timeout`: an idle client is closed, a busy one is not.
    config_set(tgt, "timeout", "1")
    idle = tgt.conn()
    busy = tgt.conn()
    loris = tgt.conn()
    part = encode_cmd("SET", "loris2", "x" * 40)
    t0 = time.time()
    idle_closed_at = None
    busy_ok = True
    i = 0
    while time.time() - t0 < 5.0:
        if busy.call("PING") != b"+PONG\r\n":
            busy_ok = False
        if i < len(part) - 1:
            loris.send(part[i:i + 1])       # keeps sending, never finishes
            i += 1
        if idle_closed_at is None:
            idle.sock.settimeout(0.01)
            try:
                if idle.sock.recv(1) == b"":
                    idle_closed_at = time.time() - t0
            except socket.timeout:
                pass
            except OSError:
                idle_closed_at = time.time() - t0
        time.sleep(0.1)
    config_set(tgt, "timeout", "0")
    res.check("timeout 1: idle client closed", idle_closed_at is not None and idle_closed_at >= 0.9,
              "closed after %r s" % idle_closed_at)
    r = busy.call("PING")
    res.check("timeout 1: busy client kept", busy_ok and r == b"+PONG\r\n", "last PING: %s" % show(r))
    loris.send(part[i:])
    r = loris.read_reply(3)
    res.check("timeout 1: client trickling bytes kept", r == b"+OK\r\n",
              "after %d bytes one by one, then the rest: %s" % (i, show(r)))
    for c in (idle, busy, loris):
        c.close()
    res.check("canary after slow clients", not canary_ok(tgt), canary_ok(tgt))


def case_many_idle(res, tgt_factory, ref):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = IDLE_CONNS + 500
    if hard != resource.RLIM_INFINITY and hard < want:
        n = max(100, hard - 500)
        print("note: RLIMIT_NOFILE hard limit %d: using %d idle connections" % (hard, n))
    else:
        n = IDLE_CONNS
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n + 500)) if hard != resource.RLIM_INFINITY
                                                else n + 500, hard))
    # A server of its own, started after raising the limit so that it inherits it.
    srv = tgt_factory()
    conns = []
    try:
        load_canary(srv)
        ctl = srv.conn()
        maxc = n + 2        # n idle + the control connection + one more
        r = ctl.call("CONFIG", "SET", "maxclients", str(maxc))
        res.check("CONFIG SET maxclients %d" % maxc, r == b"+OK\r\n", show(r))
        t0 = time.time()
        failed = 0
        for i in range(n):
            try:
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
                conns.append(s)
            except OSError:
                failed += 1
        res.check("%d idle connections opened (%.1fs)" % (n, time.time() - t0), failed == 0,
                  "%d connects failed" % failed)
        res.check("server alive with %d idle connections" % n, ctl.call("PING") == b"+PONG\r\n")
        last = srv.conn()
        res.check("connection #maxclients is served", last.call("PING") == b"+PONG\r\n")
        over = srv.conn()
        data, closed = read_all(over, 3.0)
        over.close()
        # Same bytes as redis-server with the same limit reached.
        ref_ctl = ref.conn()
        ref_ctl.call("CONFIG", "SET", "maxclients", "1")
        rover = ref.conn()
        rdata, rclosed = read_all(rover, 3.0)
        rover.close()
        ref_ctl.close()
        ref_fix = ref.conn()
        ref_fix.call("CONFIG", "SET", "maxclients", "10000")
        ref_fix.close()
        res.check("past maxclients: error and close, as redis", (data, closed) == (rdata, rclosed)
                  and data == b"-ERR max number of clients reached\r\n",
                  "expected %s closed=%s, got %s closed=%s" % (show(rdata), rclosed, show(data), closed))
        # Every idle connection still answers.
        ping = encode_cmd("PING")
        bad = 0
        for s in conns:
            try:
                s.sendall(ping)
            except OSError:
                bad += 1
        for s in conns:
            try:
                s.settimeout(10)
                buf = b""
                while len(buf) < 7:
                    chunk = s.recv(7 - len(buf))
                    if not chunk:
                        break
                    buf += chunk
                if buf != b"+PONG\r\n":
                    bad += 1
            except OSError:
                bad += 1
        res.check("all %d idle connections answer PING" % n, bad == 0, "%d did not" % bad)
        for s in conns:
            s.close()
        conns = []
        last.close()
        # Once they are gone, new clients are accepted again.
        ok = False
        deadline = time.time() + 10
        while time.time() < deadline and not ok:
            try:
                c = srv.conn()
                ok = c.call("PING") == b"+PONG\r\n"
                c.close()
            except OSError:
                pass
            if not ok:
                time.sleep(0.2)
        res.check("new clients accepted after the idle ones left", ok)
        ctl.call("CONFIG", "SET", "maxclients", "10000")
        ctl.close()
        res.check("canary after many connections", not canary_ok(srv), canary_ok(srv))
    finally:
        for s in conns:
            s.close()
        srv.stop()
    res.check_clean_exit([srv])


def case_never_reads(res, tgt):
    config_set(tgt, "client-output-buffer-limit", "normal 1mb 512kb 2")
    big = b"B" * 100000
    c = tgt.conn()
    c.call("SET", "bigvalue", big)
    c.close()
    reader = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    reader.connect(("127.0.0.1", tgt.port))
    n = 2000
    expect_total = n * (len(big) + len(b"$100000\r\n\r\n"))
    stop = threading.Event()
    errors = []
    rounds = [0]

    def other():
        o = tgt.conn()
        while not stop.is_set():
            if o.call("INCR", "other-counter") is None or o.call("GET", "canary:1") != \
                    b"$%d\r\n%s\r\n" % (len(CANARY[1][1]), CANARY[1][1].encode()):
                errors.append("bad reply")
            rounds[0] += 1
        o.close()

    th = threading.Thread(target=other)
    th.start()
    try:
        reader.sendall(encode_cmd("GET", "bigvalue") * n)
    except OSError:
        pass
    time.sleep(2.0)
    # Now drain: the server must have dropped us long before sending everything.
    got = 0
    closed = False
    reader.settimeout(5)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            chunk = reader.recv(1 << 20)
        except (ConnectionResetError, BrokenPipeError):
            closed = True
            break
        except socket.timeout:
            break
        if not chunk:
            closed = True
            break
        got += len(chunk)
    stop.set()
    th.join(10)
    reader.close()
    config_set(tgt, "client-output-buffer-limit", "normal 0 0 0")
    res.check("never-reading client dropped by client-output-buffer-limit",
              closed and got < expect_total, "closed=%s received %d of %d bytes" % (closed, got, expect_total))
    res.check("other client unaffected (%d round trips)" % rounds[0], rounds[0] > 10 and not errors,
              "errors=%r" % errors[:3])
    res.check("canary after never-reading client", not canary_ok(tgt), canary_ok(tgt))


def main():
    res = harness.Results("badinput")
    ref = Server("redis", name="ref-redis").start()
    tgt = harness.target_server().start()
    try:
        load_canary(tgt)
        res.check("canary loaded", not canary_ok(tgt), canary_ok(tgt))
        cases = [
            ("protocol errors", case_protocol_errors, (res, ref, tgt)),
            ("bulk limits", case_bulk_limits, (res, ref, tgt)),
            ("query buffer", case_query_buffer, (res, ref, tgt)),
            ("slow clients", case_slow_loris, (res, tgt)),
            ("never-reading client", case_never_reads, (res, tgt)),
        ]
        for name, fn, args in cases:
            res.run(name, fn, *args)
            if not tgt.alive():
                res.fail("target died during '%s' (later cases not run)" % name, tgt.death_note())
                break
        else:
            res.check("target alive at the end", tgt.alive(), tgt.death_note())
        res.run("many idle connections", case_many_idle, res,
                lambda: harness.target_server(name="target-many").start(), ref)
    finally:
        ref.stop()
        tgt.stop()
    res.check_clean_exit([tgt])
    return res.finish()


if __name__ == "__main__":
    sys.exit(harness.guard(main))
