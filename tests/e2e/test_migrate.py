#!/usr/bin/python3
"""MIGRATE between slotd and redis-server 7.0, in both directions.

Every case runs slotd -> redis and redis -> slotd: one key and the KEYS form,
COPY, REPLACE, TTLs carried over, another database, 1 MB values (random and
compressible) arriving intact, a key already on the target (the target's
BUSYKEY passed through, the source key kept), NOKEY. Then AUTH and AUTH2
against a target with requirepass (and an ACL user on redis), a target that
accepts connections but never reads (the MIGRATE times out, the key stays on
the source, the node still answers), a refused port, a cached link killed by
the target (MIGRATE retries once on a fresh one), one cached connection
reused across several MIGRATEs, errors identical to 7.0's for the same bad
commands, and a cluster-mode slotd sending RESTORE-ASKING. All of it with
slotd on 1 and on 2 data cores (KEYS spanning both cores run under the
barrier). Once, on 1 core: the cached link is closed after 10 s idle.
slotd only (Redis blocks its whole server instead): while a MIGRATE waits on
a slow target, other keys are served at once, a read of a migrating key sees
its value, and a write to one waits for the MIGRATE and then applies; a
client's own commands behind its MIGRATE, or behind its write that waits,
take effect in its order (single-key, other keys of the core, the barrier).

With TARGET=redis every "slotd" is a redis-server, which validates the test.
Servers run on 127.0.0.1 free ports and are stopped by PID (harness.py), also
when a case fails. Run with /usr/bin/python3.
"""

import hashlib
import os
import random
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Server, parse_reply, show  # noqa: E402

BIG = 1 << 20
TIMEOUT_MS = 5000


def call(server, *args, conn=None):
    c = conn or server.conn(timeout=30)
    try:
        return c.call(*args, timeout=30)
    finally:
        if conn is None:
            c.close()


def value(raw):
    node, _ = parse_reply(raw, 0)
    return node[1]


def migrate(src, dst, *args, timeout=TIMEOUT_MS):
    """MIGRATE from src to dst: args are key, db, then options."""
    key, db = args[0], args[1]
    return call(src, "MIGRATE", "127.0.0.1", str(dst.port), key, str(db), str(timeout), *args[2:])


def other_clients(server, conn):
    """Lines of CLIENT LIST other than `conn`'s own connection."""
    me = value(conn.call("CLIENT", "ID"))
    lines = value(conn.call("CLIENT", "LIST")).decode().strip().split("\n")
    return [ln for ln in lines if ln and not ln.startswith("id=%d " % me)]


class Case:
    """One direction: keys go from `src` to `dst`; names say which is which."""

    def __init__(self, res, src, dst, label, prefix):
        self.res, self.src, self.dst, self.label, self.p = res, src, dst, label, prefix

    def check(self, what, cond, detail=""):
        return self.res.check("%s: %s" % (self.label, what), cond, detail)

    def k(self, name):
        return "%s:%s" % (self.p, name)

    def single(self):
        k = self.k("one")
        call(self.src, "SET", k, "hello", "EX", "1000")
        r = migrate(self.src, self.dst, k, 0)
        ttl = value(call(self.dst, "TTL", k))
        self.check("single key", r == b"+OK\r\n" and call(self.src, "EXISTS", k) == b":0\r\n"
                   and call(self.dst, "GET", k) == b"$5\r\nhello\r\n" and 990 <= ttl <= 1000,
                   "reply %s, ttl %s" % (show(r), ttl))
        k2 = self.k("int")
        call(self.src, "SET", k2, "-12345")
        r = migrate(self.src, self.dst, k2, 0)
        self.check("integer value, no TTL", r == b"+OK\r\n" and call(self.dst, "GET", k2) == b"$6\r\n-12345\r\n"
                   and call(self.dst, "TTL", k2) == b":-1\r\n", show(r))

    def nokey(self):
        r = migrate(self.src, self.dst, self.k("absent"), 0)
        r2 = migrate(self.src, self.dst, "", 0, "KEYS", self.k("absent1"), self.k("absent2"))
        self.check("NOKEY", r == b"+NOKEY\r\n" and r2 == b"+NOKEY\r\n", show(r) + " " + show(r2))

    def keys_form(self):
        keys = [self.k("m%d" % i) for i in range(12)]
        for i, k in enumerate(keys):
            call(self.src, "SET", k, "v%d" % i)
        r = migrate(self.src, self.dst, "", 0, "KEYS", *(keys + [self.k("missing")]))
        got = [call(self.dst, "GET", k) for k in keys]
        left = value(call(self.src, "EXISTS", *keys))
        self.check("KEYS form (12 keys + 1 missing)",
                   r == b"+OK\r\n" and left == 0 and
                   got == [b"$%d\r\nv%d\r\n" % (len("v%d" % i), i) for i in range(12)],
                   "reply %s, %d left on source" % (show(r), left))

    def copy_replace(self):
        k = self.k("cr")
        call(self.src, "SET", k, "first")
        r = migrate(self.src, self.dst, k, 0, "COPY")
        self.check("COPY keeps the source key", r == b"+OK\r\n" and call(self.src, "GET", k) == b"$5\r\nfirst\r\n"
                   and call(self.dst, "GET", k) == b"$5\r\nfirst\r\n", show(r))
        call(self.src, "SET", k, "second")
        r = migrate(self.src, self.dst, k, 0)
        want = b"-ERR Target instance replied with error: BUSYKEY Target key name already exists.\r\n"
        self.check("BUSYKEY passed through, source key kept",
                   r == want and call(self.src, "GET", k) == b"$6\r\nsecond\r\n"
                   and call(self.dst, "GET", k) == b"$5\r\nfirst\r\n", show(r))
        r = migrate(self.src, self.dst, k, 0, "REPLACE")
        self.check("REPLACE", r == b"+OK\r\n" and call(self.src, "EXISTS", k) == b":0\r\n"
                   and call(self.dst, "GET", k) == b"$6\r\nsecond\r\n", show(r))
        # KEYS form with one key busy: the others move, the busy one stays
        ks = [self.k("kb%d" % i) for i in range(3)]
        for kk in ks:
            call(self.src, "SET", kk, "src")
        call(self.dst, "SET", ks[1], "dst")
        r = migrate(self.src, self.dst, "", 0, "COPY", "REPLACE", "KEYS", *ks)
        self.check("COPY REPLACE over a busy key", r == b"+OK\r\n" and
                   [call(self.dst, "GET", kk) for kk in ks] == [b"$3\r\nsrc\r\n"] * 3 and
                   value(call(self.src, "EXISTS", *ks)) == 3, show(r))
        call(self.dst, "DEL", ks[0], ks[2])
        call(self.dst, "SET", ks[1], "dst")
        r = migrate(self.src, self.dst, "", 0, "KEYS", *ks)
        self.check("KEYS form, one key busy", r == want and value(call(self.src, "EXISTS", *ks)) == 1
                   and call(self.src, "EXISTS", ks[1]) == b":1\r\n"
                   and call(self.dst, "GET", ks[1]) == b"$3\r\ndst\r\n", show(r))

    def other_db(self):
        k = self.k("db3")
        call(self.src, "SET", k, "in3")
        r = migrate(self.src, self.dst, k, 3)
        c = self.dst.conn()
        c.call("SELECT", "3")
        got = c.call("GET", k)
        c.close()
        self.check("destination db 3", r == b"+OK\r\n" and got == b"$3\r\nin3\r\n"
                   and call(self.dst, "EXISTS", k) == b":0\r\n", show(r) + " " + show(got))
        k2 = self.k("db0again")
        call(self.src, "SET", k2, "in0")
        r = migrate(self.src, self.dst, k2, 0)
        self.check("back to db 0 on the same link", r == b"+OK\r\n" and call(self.dst, "GET", k2) == b"$3\r\nin0\r\n",
                   show(r))

    def large(self):
        rnd = random.Random(42)
        vals = {self.k("bigrand"): bytes(rnd.randrange(256) for _ in range(BIG)),
                self.k("bigzero"): b"z" * BIG,
                self.k("bigtext"): (b"the quick brown fox %d " * 60000)[:BIG]}
        for k, v in vals.items():
            call(self.src, "SET", k, v)
        r = migrate(self.src, self.dst, "", 0, "KEYS", *vals)
        ok = r == b"+OK\r\n"
        for k, v in vals.items():
            got = value(call(self.dst, "GET", k))
            ok = ok and got is not None and hashlib.sha1(got).digest() == hashlib.sha1(v).digest()
        self.check("1 MB values intact", ok and value(call(self.src, "EXISTS", *vals)) == 0, show(r))
        k = self.k("bigone")
        call(self.src, "SET", k, vals[self.k("bigrand")])
        r = migrate(self.src, self.dst, k, 0, "COPY")
        d = call(self.src, "DUMP", k)
        self.check("1 MB single key, DUMP equal on both", r == b"+OK\r\n" and d == call(self.dst, "DUMP", k),
                   show(r))

    def reuse(self):
        # Kill every other client of the target: the source's cached link is
        # now dead, and the next MIGRATE must retry once on a fresh one.
        c = self.dst.conn()
        c.call("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        time.sleep(0.1)
        before = other_clients(self.dst, c)
        keys = [self.k("{reuse}%d" % i) for i in range(6)]
        replies = []
        for k in keys:
            call(self.src, "SET", k, "r")
            replies.append(migrate(self.src, self.dst, k, 0))
        after = other_clients(self.dst, c)
        c.close()
        info = value(call(self.src, "INFO", "stats"))
        self.check("INFO migrate_cached_sockets counts the link",
                   b"migrate_cached_sockets:1\r\n" in info,
                   [l for l in info.split(b"\r\n") if l.startswith(b"migrate_cached")])
        self.check("stale cached link: retried on a new one", replies[0] == b"+OK\r\n", show(replies[0]))
        self.check("one connection reused by 6 MIGRATEs",
                   replies == [b"+OK\r\n"] * 6 and len(before) == 0 and len(after) == 1,
                   "replies %s, before %r, after %r" % (replies, before, after))

    def idle_close(self):
        # 7.0 closes a cached link after 10 s without use (clusterCron)
        c = self.dst.conn()
        c.call("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        k = self.k("idle")
        call(self.src, "SET", k, "v")
        r = migrate(self.src, self.dst, k, 0)
        n0 = len(other_clients(self.dst, c))
        deadline = time.time() + 15
        while time.time() < deadline and other_clients(self.dst, c):
            time.sleep(0.5)
        n1 = len(other_clients(self.dst, c))
        c.close()
        self.check("idle link closed after 10 s", r == b"+OK\r\n" and n0 == 1 and n1 == 0,
                   "reply %s, links %d then %d" % (show(r), n0, n1))

    def run_all(self):
        for fn in (self.single, self.nokey, self.keys_form, self.copy_replace, self.other_db,
                   self.large, self.reuse):
            self.res.run("%s: %s" % (self.label, fn.__name__), fn)


def blackhole():
    """A listening socket that never accepts nor reads."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    return s


def timeouts(res, src, label):
    hole = blackhole()
    port = hole.getsockname()[1]
    try:
        for size, what in ((5, "small"), (8 * BIG, "8 MB")):
            k = "to:%s" % what
            call(src, "SET", k, b"x" * size)
            t0 = time.time()
            r = call(src, "MIGRATE", "127.0.0.1", str(port), k, "0", "300")
            dt = time.time() - t0
            res.check("%s: target never reads (%s value): IOERR, key kept" % (label, what),
                      r.startswith(b"-IOERR error or timeout ") and dt < 5 and
                      value(call(src, "STRLEN", k)) == size and call(src, "PING") == b"+PONG\r\n",
                      "reply %s after %.2fs" % (show(r), dt))
    finally:
        hole.close()
    # refused: nothing listens there any more
    k = "to:refused"
    call(src, "SET", k, "v")
    r = call(src, "MIGRATE", "127.0.0.1", str(port), k, "0", "300")
    res.check("%s: refused port" % label,
              r == b"-IOERR error or timeout writing to target instance\r\n"
              and call(src, "EXISTS", k) == b":1\r\n", show(r))


class SlowTarget:
    """A target that answers every RESTORE with +OK, but only `delay` seconds
    after the request arrived, so a MIGRATE stays in flight meanwhile."""

    def __init__(self, delay):
        self.delay = delay
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.stop = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self.session, args=(c,), daemon=True).start()

    def session(self, c):
        buf = b""
        c.settimeout(0.2)
        while not self.stop:
            try:
                data = c.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            buf += data
            n, buf = self.complete_commands(buf)
            if n:
                time.sleep(self.delay)
                c.sendall(b"+OK\r\n" * n)
        c.close()

    @staticmethod
    def complete_commands(buf):
        """How many whole RESP commands `buf` starts with, and the rest."""
        n, pos = 0, 0
        while True:
            end = buf.find(b"\r\n", pos)
            if end < 0 or buf[pos:pos + 1] != b"*":
                return n, buf[pos:]
            argc, p = int(buf[pos + 1:end]), end + 2
            for _ in range(argc):
                e = buf.find(b"\r\n", p)
                if e < 0:
                    return n, buf[pos:]
                p = e + 2 + int(buf[p + 1:e]) + 2
                if p > len(buf):
                    return n, buf[pos:]
            n, pos = n + 1, p

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()


def nonblocking(res, src, label):
    """slotd only: a MIGRATE in flight holds its keys but not its core. Other
    keys answer at once, a read of a migrating key sees its value, a write to
    it waits for the MIGRATE and then applies (after the delete, as if it had
    been sent after MIGRATE returned)."""
    target = SlowTarget(1.0)
    try:
        keys = ["{nb}:%d" % i for i in range(8)]   # one core: keys on several would take the barrier
        for k in keys:
            call(src, "SET", k, "old")
        mover = src.conn(timeout=30)
        mover.send_cmd("MIGRATE", "127.0.0.1", str(target.port), "", "0", "5000", "KEYS", *keys)
        time.sleep(0.2)
        c = src.conn(timeout=30)
        t0 = time.time()
        other = c.call("SET", "nb:other", "x")
        get = c.call("GET", keys[0])
        dt_free = time.time() - t0
        writer = src.conn(timeout=30)
        writer.send_cmd("SET", keys[1], "new")
        t1 = time.time()
        r = mover.read_reply(timeout=30)
        w = writer.read_reply(timeout=30)
        dt_write = time.time() - t1
        res.check("%s: other keys served while MIGRATE waits on its target" % label,
                  other == b"+OK\r\n" and get == b"$3\r\nold\r\n" and dt_free < 0.5,
                  "SET %s, GET %s after %.2fs" % (show(other), show(get), dt_free))
        left = [k for k in keys if call(src, "EXISTS", k) != b":0\r\n"]
        res.check("%s: write to a migrating key waited, then applied" % label,
                  r == b"+OK\r\n" and w == b"+OK\r\n" and dt_write > 0.4 and
                  left == [keys[1]] and call(src, "GET", keys[1]) == b"$3\r\nnew\r\n",
                  "MIGRATE %s, SET %s after %.2fs, keys left %r" % (show(r), show(w), dt_write, left))
        for conn in (mover, c, writer):
            conn.close()
    finally:
        target.close()


def client_order(res, src, label):
    """slotd only: a client's commands take effect in its order, as on
    Redis's one thread, though MIGRATE no longer blocks the node. Pipelined
    behind its own MIGRATE: a GET of the moved key finds it gone, a SET of a
    free key waits (others still read the old value meanwhile), and an MGET
    spanning both cores (the barrier) finds the key gone too. And a
    client's write to a free key waits behind its write to a key another
    client's MIGRATE holds."""
    target = SlowTarget(1.0)
    try:
        moved, free, other = "{co}:moved", "{co}:free", "co:elsewhere"
        held, after = "{co}:held", "{co}:after"
        for k in (moved, free, held, after):
            call(src, "SET", k, "old")
        call(src, "SET", other, "there")
        enc = harness.encode_cmd
        c = src.conn(timeout=30)
        c.send(enc("MIGRATE", "127.0.0.1", str(target.port), moved, "0", "5000") +
               enc("GET", moved) + enc("SET", free, "new") + enc("MGET", moved, other))
        time.sleep(0.3)
        seen_free = call(src, "GET", free)
        replies = c.read_replies(4, timeout=30)
        res.check("%s: commands pipelined behind the client's own MIGRATE see it done" % label,
                  replies == [b"+OK\r\n", b"$-1\r\n", b"+OK\r\n",
                              b"*2\r\n$-1\r\n$5\r\nthere\r\n"] and
                  seen_free == b"$3\r\nold\r\n" and call(src, "GET", free) == b"$3\r\nnew\r\n",
                  "replies %s; %s read by another client meanwhile: %s" %
                  ([show(r) for r in replies], free, show(seen_free)))
        mover = src.conn(timeout=30)
        mover.send_cmd("MIGRATE", "127.0.0.1", str(target.port), held, "0", "5000")
        time.sleep(0.2)
        w = src.conn(timeout=30)
        w.send(enc("SET", held, "new") + enc("SET", after, "new"))
        time.sleep(0.3)
        seen_after = call(src, "GET", after)
        r = mover.read_reply(timeout=30)
        wr = w.read_replies(2, timeout=30)
        res.check("%s: a write behind the client's own waiting write waits too" % label,
                  r == b"+OK\r\n" and wr == [b"+OK\r\n", b"+OK\r\n"] and
                  seen_after == b"$3\r\nold\r\n" and
                  call(src, "GET", after) == b"$3\r\nnew\r\n" and
                  call(src, "GET", held) == b"$3\r\nnew\r\n",
                  "MIGRATE %s, writes %s, %s read meanwhile: %s" %
                  (show(r), [show(x) for x in wr], after, show(seen_after)))
        for conn in (c, mover, w):
            conn.close()
    finally:
        target.close()


def auth_cases(res, src, dst, label, user, upass):
    """dst requires the password 'pw'; `user`/`upass` is an extra account for
    AUTH2 (the default user on slotd)."""
    for k in ("au:a", "au:b", "au:c", "au:d"):
        call(src, "SET", k, "v")
    r = migrate(src, dst, "au:a", 0)
    res.check("%s: no AUTH -> NOAUTH passed through" % label,
              r == b"-ERR Target instance replied with error: NOAUTH Authentication required.\r\n"
              and call(src, "EXISTS", "au:a") == b":1\r\n", show(r))
    r = migrate(src, dst, "au:a", 0, "AUTH", "wrong")
    res.check("%s: AUTH wrong password" % label,
              r == b"-ERR Target instance replied with error: WRONGPASS invalid username-password "
                   b"pair or user is disabled.\r\n" and call(src, "EXISTS", "au:a") == b":1\r\n", show(r))
    r = migrate(src, dst, "au:a", 0, "AUTH", "pw")
    r2 = migrate(src, dst, "", 0, "AUTH2", user, upass, "KEYS", "au:b", "au:c")
    r3 = migrate(src, dst, "au:d", 0, "COPY", "AUTH", "pw", "REPLACE")
    c = dst.conn()
    c.call("AUTH", "pw")
    got = [c.call("GET", k) for k in ("au:a", "au:b", "au:c", "au:d")]
    c.close()
    res.check("%s: AUTH and AUTH2" % label,
              (r, r2, r3) == (b"+OK\r\n",) * 3 and got == [b"$1\r\nv\r\n"] * 4,
              "%s %s %s %s" % (show(r), show(r2), show(r3), got))


def same_errors(res, slotd, redis_ref, label):
    """The same bad MIGRATE commands answer exactly as on redis-server."""
    for s in (slotd, redis_ref):
        call(s, "SET", "err:k", "v")
    cases = [
        ("127.0.0.1", "1", "err:k", "0", "100", "FOO"),
        ("127.0.0.1", "1", "err:k", "0", "100", "KEYS", "a"),
        ("127.0.0.1", "1", "err:k", "0", "100", "keys"),
        ("127.0.0.1", "1", "err:k", "x", "100"),
        ("127.0.0.1", "1", "err:k", "0", "x"),
        ("127.0.0.1", "1", "err:k", "0", "100", "AUTH"),
        ("127.0.0.1", "1", "err:k", "0", "100", "AUTH2", "u"),
        ("127.0.0.1", "1", "err:k", "0", "100", "COPY", "AUTH", "p", "AUTH"),
        ("127.0.0.1", "1", "", "0", "100"),
        ("127.0.0.1", "1", "", "0", "100", "KEYS"),
        ("127.0.0.1", "1", "err:none", "0", "100"),
        ("127.0.0.1", "1", "err:k", "0", "100"),
        ("127.0.0.1", "abc", "err:k", "0", "-5"),
        ("127.0.0.1", "1", "err:k", "0"),
    ]
    bad = []
    for args in cases:
        a = call(slotd, "MIGRATE", *args)
        b = call(redis_ref, "MIGRATE", *args)
        if a != b:
            bad.append("MIGRATE %s: slotd %s redis %s" % (" ".join(args), show(a), show(b)))
    res.check("%s: %d bad MIGRATEs answer as 7.0" % (label, len(cases)), not bad, "\n".join(bad))


def wait_cluster_ok(server, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if b"cluster_state:ok" in call(server, "CLUSTER", "INFO"):
            return True
        time.sleep(0.1)
    return False


def cluster_source(res, threads, redis_dst):
    node = harness.target_server(threads=threads, name="cluster-src-t%d" % threads,
                                 args=["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"])
    node.start()
    try:
        call(node, "CLUSTER", "ADDSLOTSRANGE", "0", "16383")
        if not res.check("cluster source t%d: cluster ok" % threads, wait_cluster_ok(node)):
            return
        call(redis_dst, "CONFIG", "RESETSTAT")
        call(node, "SET", "{cl}a", "1")
        call(node, "SET", "{cl}b", "2")
        r = migrate(node, redis_dst, "", 0, "KEYS", "{cl}a", "{cl}b")
        stats = value(call(redis_dst, "INFO", "commandstats")).decode()
        res.check("cluster source t%d: RESTORE-ASKING on the wire" % threads,
                  r == b"+OK\r\n" and "cmdstat_restore-asking:calls=2" in stats
                  and call(redis_dst, "MGET", "{cl}a", "{cl}b") == b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n",
                  show(r) + " " + stats)
        r = migrate(node, redis_dst, "", 0, "KEYS", "{cl}a", "other")
        res.check("cluster source t%d: keys of two slots -> CROSSSLOT" % threads,
                  r.startswith(b"-CROSSSLOT"), show(r))
    finally:
        node.stop()


def run_for(res, threads):
    tag = "t%d" % threads
    slotd = harness.target_server(threads=threads, name="slotd-" + tag)
    redis = Server("redis", name="redis-" + tag)
    slotd_pw = harness.target_server(threads=threads, name="slotd-pw-" + tag)
    redis_pw = Server("redis", name="redis-pw-" + tag)
    try:
        for s in (slotd, redis, slotd_pw, redis_pw):
            s.start()
        # after start-up: the harness waits for a PING that must not need AUTH
        for s in (slotd_pw, redis_pw):
            call(s, "CONFIG", "SET", "requirepass", "pw")
        Case(res, slotd, redis, "slotd->redis " + tag, "s2r").run_all()
        Case(res, redis, slotd, "redis->slotd " + tag, "r2s").run_all()
        if threads == 1:
            case = Case(res, slotd, redis, "slotd->redis " + tag, "s2r")
            res.run("idle close " + tag, case.idle_close)
        c = redis_pw.conn()
        c.call("AUTH", "pw")
        c.call("ACL", "SETUSER", "mover", "on", ">movepw", "~*", "+@all")
        c.close()
        res.run("auth slotd->redis " + tag, auth_cases, res, slotd, redis_pw,
                "slotd->redis " + tag, "mover", "movepw")
        res.run("auth redis->slotd " + tag, auth_cases, res, redis, slotd_pw,
                "redis->slotd " + tag, "default", "pw")
        res.run("timeouts slotd " + tag, timeouts, res, slotd, "slotd " + tag)
        if harness.TARGET == "slotd":
            res.run("nonblocking " + tag, nonblocking, res, slotd, "slotd " + tag)
            res.run("client order " + tag, client_order, res, slotd, "slotd " + tag)
        res.run("errors " + tag, same_errors, res, slotd, redis, "slotd " + tag)
        res.run("cluster source " + tag, cluster_source, res, threads, redis)
        for s in (slotd, slotd_pw):
            res.check("%s alive" % s.name, s.alive(), s.death_note())
    finally:
        for s in (slotd, redis, slotd_pw, redis_pw):
            s.stop()
    res.check_clean_exit([slotd, slotd_pw])


def main():
    res = harness.Results("migrate")
    for threads in (1, 2):
        run_for(res, threads)
    return res.finish()


if __name__ == "__main__":
    sys.exit(harness.guard(main))
