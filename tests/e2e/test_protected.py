#!/usr/bin/python3
"""protected-mode, end to end, from a real non-loopback address.

A network namespace made here and a veth pair: 198.18.7.1/30 on the root side,
198.18.7.2/30 in the namespace. slotd and redis-server 7.0 run in the root
namespace, each bound to 127.0.0.1 and 198.18.7.1. Every case sends the same
bytes to both from the same kind of source and compares what comes back byte
for byte, and whether the server closed the connection:

  - protected-mode yes (the default), no password: a client from the namespace
    gets the -DENIED line and is closed (having sent PING, or nothing); so do
    clients of this host that connect from 198.18.7.1 or from 127.0.0.2 (7.0
    takes only 127.0.0.1 and ::1 as loopback); 127.0.0.1 gets PONG. The refusal
    counts in rejected_connections, not in total_connections_received, and
    leaves no client behind (connected_clients);
  - CONFIG SET requirepass at runtime: the client from the namespace is kept and
    PING says NOAUTH, AUTH then PING works;
  - CONFIG SET protected-mode no, then yes again, at runtime: PONG, then DENIED;
  - started with --protected-mode no: PONG from the namespace;
  - cluster-enabled yes: the client port refuses as above, the cluster bus port
    (port + 10000) accepts the namespace's connection silently (protected-mode
    is about clients only).

Needs root (namespaces, veth): otherwise it says so and fails (exit 1,
"0 passed, 1 failed"), as test_dpdk.py does. The namespace and the veth pair are deleted on every exit
path. With TARGET=redis both sides are redis-server (checks this test).

Usage: /usr/bin/python3 tests/e2e/test_protected.py
"""

import json
import os
import re
import shutil
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

PY = "/usr/bin/python3"
ROOT_IP = "198.18.7.1"
NS_IP = "198.18.7.2"
PREFIX = 30
PING = b"*1\r\n$4\r\nPING\r\n"


def encode(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def probe(host, port, data, src=None, timeout=3.0, idle=0.5):
    """Connect (from src if given), send data, read until the server closes,
    or until `idle` seconds pass without bytes once some came (`timeout`
    overall). Returns {"data": hex, "closed": bool, "err": str}."""
    got, closed, err = b"", False, ""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if src:
            s.bind((src, 0))
        s.settimeout(timeout)
        s.connect((host, port))
        if data:
            try:
                s.sendall(data)
            except OSError as e:
                err = "send: %s" % e
        deadline = time.time() + timeout
        while time.time() < deadline:
            s.settimeout(max(0.01, min(idle if got else timeout, deadline - time.time())))
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            got += chunk
    except OSError as e:
        err = "%s: %s" % (type(e).__name__, e)
    finally:
        s.close()
    return {"data": got.hex(), "closed": closed, "err": err}


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--probe":
    _a = sys.argv[2:]
    print(json.dumps(probe(_a[0], int(_a[1]), bytes.fromhex(_a[2]), _a[3] if len(_a) > 3 else None)),
          flush=True)
    sys.exit(0)


# ---------------------------------------------------------------------------
# The controlling side (root namespace).

import harness  # noqa: E402
import netns  # noqa: E402
from harness import show  # noqa: E402
from netns import Netns  # noqa: E402


class Veth:
    """The veth pair: root side ROOT_IP, namespace side NS_IP."""

    def __init__(self, ns):
        self.ns = ns
        self.root_if = "sdpa%d" % os.getpid()
        self.ns_if = "sdpb%d" % os.getpid()
        self.made = False

    def create(self):
        netns.run(["ip", "link", "add", self.root_if, "type", "veth", "peer", "name", self.ns_if,
                   "netns", self.ns.name])
        self.made = True
        netns.run(["ip", "addr", "add", netns.check_addr("%s/%d" % (ROOT_IP, PREFIX)), "dev", self.root_if])
        netns.run(["ip", "link", "set", self.root_if, "up"])
        self.ns.run(["ip", "addr", "add", netns.check_addr("%s/%d" % (NS_IP, PREFIX)), "dev", self.ns_if])
        self.ns.run(["ip", "link", "set", self.ns_if, "up"])
        # The root side's address must be usable (no DAD with IPv4, but the
        # link needs a moment to come up).
        deadline = time.time() + 10
        while time.time() < deadline:
            r = self.ns.run(["ping", "-c", "1", "-W", "1", ROOT_IP], check=False, timeout=5)
            if r.returncode == 0:
                return self
            time.sleep(0.1)
        raise RuntimeError("%s not reachable from namespace %s" % (ROOT_IP, self.ns.name))

    def delete(self):
        if self.made:
            netns.run(["ip", "link", "del", self.root_if], check=False)
            self.made = False


def address_in_use():
    out = netns.run(["ip", "-4", "-o", "addr", "show"], check=False).stdout
    return re.search(r"\b198\.18\.7\.[0-3]/", out) is not None


class Pair:
    """slotd (or a second redis-server with TARGET=redis) and redis-server,
    started with the same arguments, bound to loopback and ROOT_IP."""

    def __init__(self, args=(), tag=""):
        args = ["--bind", "127.0.0.1", ROOT_IP] + list(args)
        self.ref = harness.Server("redis", args=args, name="ref-redis" + tag)
        self.tgt = harness.target_server(args=args, name=None if not tag else "target" + tag)
        self.servers = [self.ref, self.tgt]

    def start(self):
        for s in self.servers:
            s.start()
        return self

    def stop(self):
        for s in self.servers:
            s.stop()

    def admin(self, srv):
        return srv.conn(timeout=10)


def ns_probe(ns, port, data, timeout=3.0):
    cp = ns.run([PY, os.path.abspath(__file__), "--probe", ROOT_IP, str(port), data.hex()],
                timeout=timeout + 20, check=False)
    lines = [ln for ln in cp.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"data": "", "closed": False, "err": "probe exit %d: %s" % (cp.returncode, cp.stderr[-500:])}
    return json.loads(lines[-1])


def local_probe(host, port, data, src=None):
    return probe(host, port, data, src=src)


def describe(r):
    b = bytes.fromhex(r["data"])
    return "%d bytes %s, %s%s" % (len(b), show(b, 160), "closed" if r["closed"] else "left open",
                                  (", " + r["err"]) if r["err"] else "")


def compare(res, name, pair, fn, want=None):
    """Run fn(server) against redis-server and the target; both outcomes
    (bytes, closed) must be equal, and redis-server's must satisfy want."""
    ref = fn(pair.ref)
    tgt = fn(pair.tgt)
    same = ref["data"] == tgt["data"] and ref["closed"] == tgt["closed"]
    good = want(bytes.fromhex(ref["data"]), ref["closed"]) if want else True
    res.check(name, same and good,
              "redis-server: %s\n%s: %s%s" % (describe(ref), pair.tgt.name, describe(tgt),
                                               "" if good else "\n(redis-server's reply is not what this case expects)"))
    return ref, tgt


def is_denied(b, closed):
    return (closed and b.startswith(b"-DENIED Redis is running in protected mode because protected mode is enabled")
            and b.endswith(b"\r\n") and b.count(b"\r\n") == 1)


def is_pong(b, closed):
    return b == b"+PONG\r\n" and not closed


def info_fields(conn, section):
    r = conn.call("INFO", section)
    text = r.decode("utf-8", "replace")
    return dict(m.groups() for m in re.finditer(r"^(\w+):(\S*)\r?$", text, re.M))


def config_set(conn, *pairs):
    r = conn.call("CONFIG", "SET", *pairs)
    if r != b"+OK\r\n":
        raise RuntimeError("CONFIG SET %s: %s" % (" ".join(pairs), show(r)))


def case_default(res, ns, pair):
    """protected-mode yes and no password."""
    admins = {s: pair.admin(s) for s in pair.servers}
    try:
        before = {s: (info_fields(admins[s], "stats"), info_fields(admins[s], "clients")) for s in pair.servers}
        compare(res, "no password: PING from %s gets -DENIED and the close" % NS_IP, pair,
                lambda s: ns_probe(ns, s.port, PING), is_denied)
        compare(res, "no password: a silent client from %s gets -DENIED and the close" % NS_IP, pair,
                lambda s: ns_probe(ns, s.port, b""), is_denied)
        compare(res, "no password: a pipeline from %s gets only -DENIED" % NS_IP, pair,
                lambda s: ns_probe(ns, s.port, PING + encode("SET", "k", "v") + encode("GET", "k")), is_denied)
        compare(res, "no password: this host from %s (not loopback) gets -DENIED" % ROOT_IP, pair,
                lambda s: local_probe(ROOT_IP, s.port, PING, src=ROOT_IP), is_denied)
        compare(res, "no password: 127.0.0.2 gets -DENIED (7.0's loopback is 127.0.0.1 and ::1)", pair,
                lambda s: local_probe("127.0.0.1", s.port, PING, src="127.0.0.2"), is_denied)
        compare(res, "no password: 127.0.0.1 gets PONG", pair,
                lambda s: local_probe("127.0.0.1", s.port, PING), is_pong)
        compare(res, "no password: from 127.0.0.1 to the %s listener gets PONG (the peer decides)" % ROOT_IP,
                pair, lambda s: local_probe(ROOT_IP, s.port, PING, src="127.0.0.1"), is_pong)
        for s in pair.servers:
            st, cl = info_fields(admins[s], "stats"), info_fields(admins[s], "clients")
            st0, cl0 = before[s]
            rej = int(st.get("rejected_connections", -1)) - int(st0.get("rejected_connections", 0))
            rec = int(st.get("total_connections_received", -1)) - int(st0.get("total_connections_received", 0))
            res.check("%s: rejected_connections +5, total_connections_received +2 (the loopback clients), "
                      "connected_clients back to %s" % (s.name, cl0.get("connected_clients")),
                      rej == 5 and rec == 2 and cl.get("connected_clients") == cl0.get("connected_clients"),
                      "rejected +%d, received +%d, connected_clients %s -> %s"
                      % (rej, rec, cl0.get("connected_clients"), cl.get("connected_clients")))
            res.check("%s still answers after the refusals" % s.name, s.alive() and admins[s].call("PING") == b"+PONG\r\n",
                      s.death_note())
    finally:
        for c in admins.values():
            c.close()


def case_runtime(res, ns, pair):
    """CONFIG SET requirepass and protected-mode while running."""
    admins = {s: pair.admin(s) for s in pair.servers}
    try:
        for s in pair.servers:
            config_set(admins[s], "requirepass", "pw")
            if admins[s].call("AUTH", "pw") != b"+OK\r\n":
                raise RuntimeError("%s: AUTH after CONFIG SET requirepass failed" % s.name)
        compare(res, "requirepass set at runtime: PING from %s gets NOAUTH, the client stays" % NS_IP, pair,
                lambda s: ns_probe(ns, s.port, PING),
                lambda b, c: b == b"-NOAUTH Authentication required.\r\n" and not c)
        compare(res, "requirepass: AUTH then PING from %s" % NS_IP, pair,
                lambda s: ns_probe(ns, s.port, encode("AUTH", "pw") + PING),
                lambda b, c: b == b"+OK\r\n+PONG\r\n" and not c)
        compare(res, "requirepass: a wrong password from %s" % NS_IP, pair,
                lambda s: ns_probe(ns, s.port, encode("AUTH", "nope") + PING),
                lambda b, c: b.startswith(b"-WRONGPASS") and b"-NOAUTH" in b and not c)
        for s in pair.servers:
            config_set(admins[s], "requirepass", "")
        compare(res, "requirepass cleared again: -DENIED from %s" % NS_IP, pair,
                lambda s: ns_probe(ns, s.port, PING), is_denied)

        for s in pair.servers:
            config_set(admins[s], "protected-mode", "no")
        compare(res, "CONFIG SET protected-mode no: PONG from %s" % NS_IP, pair,
                lambda s: ns_probe(ns, s.port, PING), is_pong)
        for s in pair.servers:
            config_set(admins[s], "protected-mode", "yes")
        compare(res, "CONFIG SET protected-mode yes again: -DENIED from %s" % NS_IP, pair,
                lambda s: ns_probe(ns, s.port, PING), is_denied)
        compare(res, "protected-mode yes: 127.0.0.1 still gets PONG", pair,
                lambda s: local_probe("127.0.0.1", s.port, PING), is_pong)
        for s in pair.servers:
            r = admins[s].call("CONFIG", "GET", "protected-mode")
            res.check("%s: CONFIG GET protected-mode says yes" % s.name,
                      r == b"*2\r\n$14\r\nprotected-mode\r\n$3\r\nyes\r\n", show(r))
    finally:
        for c in admins.values():
            c.close()


def case_started_off(res, ns):
    pair = Pair(["--protected-mode", "no"], tag="-off").start()
    try:
        compare(res, "started with --protected-mode no: PONG from %s" % NS_IP, pair,
                lambda s: ns_probe(ns, s.port, PING), is_pong)
        compare(res, "started with --protected-mode no: SET/GET from %s" % NS_IP, pair,
                lambda s: ns_probe(ns, s.port, encode("SET", "k", "v") + encode("GET", "k")),
                lambda b, c: b == b"+OK\r\n$1\r\nv\r\n" and not c)
    finally:
        pair.stop()


def case_cluster(res, ns):
    pair = Pair(["--cluster-enabled", "yes"], tag="-cluster").start()
    try:
        compare(res, "cluster-enabled: the client port refuses %s with -DENIED" % NS_IP, pair,
                lambda s: ns_probe(ns, s.port, PING), is_denied)
        compare(res, "cluster-enabled: the bus port (port + 10000) accepts %s silently" % NS_IP, pair,
                lambda s: ns_probe(ns, s.port + 10000, b"", timeout=1.5),
                lambda b, c: b == b"" and not c)
    finally:
        pair.stop()


def main():
    # A run that cannot test fails with the reason: a silent "0 passed"
    # would count as nothing in scripts/test.sh, and CI runs as root.
    if os.geteuid() != 0:
        print("FAIL test_protected: needs root (it makes a network namespace and a veth pair)")
        print("0 passed, 1 failed")
        return 1
    missing = [t for t in ("ip", "ping") if shutil.which(t) is None]
    if missing:
        print("FAIL test_protected: missing %s" % ", ".join(missing))
        print("0 passed, 1 failed")
        return 1
    res = harness.Results("protected")
    netns.reap_stale()
    # Another run may hold 198.18.7.0/30 right now: wait for it.
    deadline = time.time() + 120
    while address_in_use():
        if time.time() > deadline:
            res.fail("198.18.7.0/30 free in the root namespace", "still in use after 120s")
            return res.finish()
        time.sleep(1)
    ns = None
    veth = None
    pair = None
    try:
        ns = Netns("-prot").create()
        veth = Veth(ns).create()
        pair = Pair().start()
        res.run("protected-mode yes without a password", case_default, res, ns, pair)
        res.run("CONFIG SET at runtime", case_runtime, res, ns, pair)
        for s in pair.servers:
            res.check("%s alive after the runtime cases" % s.name, s.alive(), s.death_note())
            rep = s.sanitizer_report() if s.kind == "slotd" else ""
            res.check("%s: no sanitizer report" % s.name, not rep, rep)
        pair.stop()
        pair = None
        res.run("--protected-mode no at start", case_started_off, res, ns)
        res.run("cluster bus", case_cluster, res, ns)
    finally:
        if pair is not None:
            pair.stop()
        if veth is not None:
            veth.delete()
        left = netns.cleanup()
        if ns is not None:
            res.check("namespace and veth pair removed",
                      not left and not netns.link_exists("sdpa%d" % os.getpid()) and not address_in_use(),
                      "left: %s" % left)
    return res.finish()


if __name__ == "__main__":
    sys.exit(harness.guard(main))
