#!/usr/bin/python3
"""slotd on its DPDK data path, end to end, driven from a network namespace.

slotd runs with `--dataplane dpdk` on a net_tap port (EAL --no-huge, so no
hugepages are needed, except in the hugepage phase, and --no-pci). The kernel side of that TAP is moved into a namespace
made by this test (198.18.0.1/24; the node is 198.18.0.2/24), so every client
packet crosses slotd's own TCP/IP stack. From the namespace:

  - start-up checks first: without --no-huge and no free hugepages, with a
    dpdk-port EAL does not have, with more data cores than the port has
    queue pairs (a net_pcap port has one): exit 1 promptly, the message says
    what to do, no interface and no EAL socket left;
  - ping; redis-cli for every command family, replies compared line by line
    with a kernel-socket slotd on 127.0.0.1 (or redis-server: DPDK_REF=redis):
    strings, keys, expiry, databases, CONFIG, CLIENT, HELLO, MULTI/EXEC/
    DISCARD, TIME, SLOWLOG, FUNCTION, MEMORY, CLIENT KILL's and AUTH's
    errors; SCAN, INFO and CLIENT checked by content; what needs several
    connections (WATCH with a write from another one, MONITOR's lines,
    SLOWLOG GET/LEN/RESET, AUTH with requirepass, TIME, CLIENT KILL by ID and
    ADDR closing the victim) by a worker checked against Redis's answers and
    its transcript compared with the same worker's against the reference;
    DEBUG from a remote client compared with a redis-server in the namespace;
  - redis-benchmark -c 50 -P 16 -t set,get;
  - python3-redis writing and reading back 100,000 keys, verified;
  - values of 1 KB, 1 MB and 64 MB intact (SHA-256 of what comes back);
  - 10,000 concurrent connections, each answering PING;
  - the same verification (100k keys; 1 KB, 1 MB, 64 MB values; 1,000
    connections at once) with 2% random loss both ways (nftables in the
    namespace), then with slotd restarted with its own reordering and
    duplication knobs (5% each): every key present and correct, every client
    operation under a timeout;
  - protected-mode (slotd runs with `protected-mode no`, its clients being
    remote): switched on by CONFIG SET, a new client gets Redis's -DENIED
    line and is closed, and is counted in rejected_connections;
  - tcp-keepalive on the user-space stack: set to 1 s at runtime, an idle
    connection is probed and kept while the namespace's kernel answers, then
    reset and freed once nftables drops its answers;
  - a client that pipelines 100 MB of replies and a SET, half-closes and
    never reads: the SET still runs (as in Redis) and the client goes;
  - MIGRATE both ways with a redis-server in the namespace: slotd's outbound
    link (a control-plane kernel socket) leaves through the exception TAP,
    redis-server's RESTOREs arrive on the data path;
  - the cluster bus port (port + 10000) reached through the exception TAP;
  - INFO dataplane counters moved (rx/tx packets, retransmits under loss);
  - hugepage mode: the test adds DPDK_HUGEPAGES (256) 2 MB pages to
    /proc/sys/vm/nr_hugepages, mounts a hugetlbfs on a directory of its own
    and runs EAL with --huge-dir there and -m 256 (no --no-huge): PING,
    SET/GET, a 1 MB value, 500 keys, INFO dataplane, exit 0 on SIGTERM; the
    mount, the directory and the pages it added are given back on every exit
    path (also a signal). If the kernel cannot supply the pages, the phase is
    skipped with a message;
  - two data cores (--threads 2, EAL main lcore + 2 workers, shared with
    --lcores on a 2-CPU box; net_tap with two queue pairs): 200 clients
    connected at once each writing and reading back 20 keys, MGET of all of
    them, MSET/MGET of 4,000 keys owned by both cores (the barrier path),
    redis-benchmark, redis-cli MSET/MGET/DEL, no RST sent but in answer to a
    retransmission of ours (a segment reaching the core that does not own its
    connection would get one), exit 0. slotd
    configures net_tap without RSS (dpdk_port.c; its flow/eBPF support also
    needs the multiq qdisc, missing on this kernel): the kernel's TAP queue
    choice (flow hash, then the queue that last sent on the flow) spreads the
    connections. Both cores' rx packets and connections > 0 is reported as a
    PASS when seen and as a NOTE, not a failure, when all traffic landed on
    one queue;
  - port options: dpdk-mac (the namespace's neighbour entry), dpdk-mtu 1280
    (a 1 MB value intact, both sides' MSS and every IP packet from the node
    within it) and dpdk-gateway (MIGRATE to a second subnet through it), with
    slotd in a namespace of its own, where the gateway's default route goes on
    the exception TAP (metric 4096: a default route of the host's own, added
    there, keeps precedence);
  - memif: slotd on a net_memif server port, slotd-load (beside SLOTD_BIN) on
    the client side, in a namespace of their own as scripts/bench-dpdk.sh
    runs them: -P 8 and -P 1 SET/GET, no error, slotd alive and exiting 0.

Everything is torn down on every exit path (finally, SIGTERM/SIGINT/SIGHUP):
slotd stopped by PID, the namespace deleted, and the test checks that no
interface, namespace or root-namespace route of its own is left. Only
127.0.0.0/8 and 198.18.0.0/15 are used. The node's exception TAP stays in
the root namespace with 198.18.0.2/24 and its connected route while slotd
runs; no gateway is given, so no default route is added.

The port's interface is moved into the namespace only after slotd has
started the port: net_tap attaches its queues by interface name at port
set-up, in slotd's own namespace.

Usage: /usr/bin/python3 tests/e2e/test_dpdk.py [--quick] [--loss-only] [--modes-only] [--selftest]
  --quick      smaller sizes (10k keys, 1k connections, 100k benchmark
               requests, no 64 MB value); also DPDK_QUICK=1
  --loss-only  start, ping, the keys once without loss (timed, to compare),
               then only the 2%-loss phase (timed, with the stack's and the
               clients' kernel's recovery counters); also DPDK_LOSS_ONLY=1
  --modes-only only the start-up checks and the hugepage, two-data-core,
               port-options and memif phases (about 10 s); also
               DPDK_MODES_ONLY=1
  --selftest   run the same client phases against redis-server in a second
               namespace over a veth pair (no DPDK): validates this test;
               also what TARGET=redis runs

Needs root and /dev/net/tun, and ip, nft, ping, redis-cli, redis-benchmark;
without one of them it says which and fails ("0 passed, 1 failed", exit 1).

Environment: SLOTD_BIN (default build/slotd), DPDK_REF=slotd|redis,
DPDK_BENCH_N, DPDK_KEYS, DPDK_CONNS (override sizes), DPDK_TAP_QLEN (queue
length of the port's kernel side, default 20000; 0 keeps the kernel's 1000), DPDK_EAL_EXTRA (more
EAL arguments), DPDK_SLOTD_ARGS (more slotd arguments, shell-quoted),
DPDK_CLUSTER_BIND (bind for the cluster phase, default
"127.0.0.1 198.18.0.2"), DPDK_HUGEPAGES (pages added for the hugepage
phase), DPDK_MANY_CLIENTS (two-core phase), DPDK_BURST_CONNS (connections
under loss and reordering, default 1000), E2E_START_TIMEOUT, E2E_LOGDIR.
"""

import hashlib
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

PY = "/usr/bin/python3"
# The node is .2 and the namespace .1 of a /24 from 198.18.0.0/15:
# 198.18.0.0/24 unless the root namespace already routes it (another run's
# exception TAP), then a free one (pick_subnet), or DPDK_NET=a.b.c.
NET = "198.18.0"
NODE_IP = NET + ".2"
PEER_IP = NET + ".1"
PREFIX_LEN = 24
LOSS_PCT = 2
REORDER_PCT = 5
DUP_PCT = 5


# ---------------------------------------------------------------------------
# Workers: run inside the namespace (`ip netns exec NS python3 THIS --worker
# ...`), print one JSON line with the outcome as their last line.

def _val(seed, i):
    h = hashlib.blake2b(b"%s:%d" % (seed.encode(), i), digest_size=16).hexdigest().encode()
    n = 1 + (i * 7919) % 300
    return (h * (n // len(h) + 1))[:n]


def worker_keys(a):
    import redis
    r = redis.Redis(host=a.host, port=a.port, socket_timeout=a.timeout, socket_connect_timeout=10)
    t0 = time.time()
    bad_set = 0
    batch = 1000
    for start in range(0, a.n, batch):
        p = r.pipeline(transaction=False)
        for i in range(start, min(a.n, start + batch)):
            p.set("k:%s:%d" % (a.seed, i), _val(a.seed, i))
        bad_set += sum(1 for x in p.execute() if x is not True)
    t_write = time.time() - t0
    missing = wrong = 0
    examples = []
    for start in range(0, a.n, batch):
        p = r.pipeline(transaction=False)
        idx = range(start, min(a.n, start + batch))
        for i in idx:
            p.get("k:%s:%d" % (a.seed, i))
        for i, got in zip(idx, p.execute()):
            want = _val(a.seed, i)
            if got is None:
                missing += 1
            elif got != want:
                wrong += 1
            else:
                continue
            if len(examples) < 3:
                examples.append("k:%s:%d: got %r want %r" % (a.seed, i, got[:40] if got else got, want[:40]))
    # MGET across a spread of keys, one request.
    sample = list(range(0, a.n, max(1, a.n // 500)))
    got = r.mget(["k:%s:%d" % (a.seed, i) for i in sample])
    mget_bad = sum(1 for i, g in zip(sample, got) if g != _val(a.seed, i))
    t_all = time.time() - t0
    ok = bad_set == 0 and missing == 0 and wrong == 0 and mget_bad == 0
    return {"ok": ok, "n": a.n, "set_not_ok": bad_set, "missing": missing, "wrong": wrong,
            "mget_bad": mget_bad, "examples": examples,
            "detail": "%d keys: %d SET not OK, %d missing, %d wrong, %d MGET mismatches; write %.1fs, total %.1fs"
                      % (a.n, bad_set, missing, wrong, mget_bad, t_write, t_all)}


def worker_values(a):
    import redis
    r = redis.Redis(host=a.host, port=a.port, socket_timeout=a.timeout, socket_connect_timeout=10)
    out = []
    ok = True
    for size in [int(s) for s in a.sizes.split(",")]:
        data = os.urandom(size)
        want = hashlib.sha256(data).hexdigest()
        key = "v:%s:%d" % (a.seed, size)
        t0 = time.time()
        rs = r.set(key, data)
        got = r.get(key)
        n = r.strlen(key)
        tail = r.getrange(key, -16, -1)
        dt = time.time() - t0
        gh = hashlib.sha256(got).hexdigest() if got is not None else None
        good = rs is True and gh == want and n == size and tail == data[-16:]
        r.delete(key)
        ok = ok and good
        out.append("%d bytes: %s (SET %r, STRLEN %r, %.2fs)%s"
                   % (size, "intact" if good else "CORRUPT", rs, n, dt,
                      "" if good else " got len %s sha %s want %s" % (len(got) if got else None, gh, want)))
    return {"ok": ok, "detail": "; ".join(out)}


def worker_conns(a):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.n + 200
    if hard != resource.RLIM_INFINITY and hard < want:
        return {"ok": False, "detail": "RLIMIT_NOFILE hard limit %d < %d" % (hard, want)}
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    socks = []
    t0 = time.time()
    failed = []
    try:
        if a.wave:
            for start in range(0, a.n, a.wave):
                _open_wave(a.host, a.port, min(a.wave, a.n - start), 20, socks, failed)
        else:
            for i in range(a.n):
                try:
                    s = socket.create_connection((a.host, a.port), timeout=10)
                    socks.append(s)
                except OSError as e:
                    failed.append(str(e))
        t_open = time.time() - t0
        ping = b"*1\r\n$4\r\nPING\r\n"
        bad = 0
        unanswered = []
        for s in socks:
            try:
                s.sendall(ping)
            except OSError as e:
                bad += 1
                unanswered.append((s, "send: %s" % e))
        # Every socket gets the same overall deadline, not a.timeout each.
        deadline = time.time() + a.timeout
        for s in socks:
            buf = b""
            try:
                while len(buf) < 7:
                    s.settimeout(max(0.001, deadline - time.time()))
                    chunk = s.recv(7 - len(buf))
                    if not chunk:
                        break
                    buf += chunk
                if buf != b"+PONG\r\n":
                    bad += 1
                    unanswered.append((s, "got %r" % buf))
            except OSError as e:
                bad += 1
                unanswered.append((s, "got %r then %s" % (buf, e)))
        t_ping = time.time() - t0 - t_open
        # connected_clients as the server counts them, while all are open.
        import redis
        r = redis.Redis(host=a.host, port=a.port, socket_timeout=a.timeout, socket_connect_timeout=10)
        during = r.info("clients").get("connected_clients")
        stuck = []
        if unanswered:
            listing = r.execute_command("CLIENT", "LIST")
            listing = listing.decode() if isinstance(listing, bytes) else listing
            for s, what in unanswered[:5]:
                try:
                    lp = s.getsockname()[1]
                except OSError:
                    lp = None
                line = [ln for ln in listing.splitlines() if lp and (":%d " % lp) in ln]
                stuck.append("local port %s: %s; server: %s; kernel: %s"
                             % (lp, what, line[0] if line else "<not in CLIENT LIST>", _ss(lp)))
    finally:
        for s in socks:
            s.close()
    # Every close must reach the server: the count drops back.
    after = None
    deadline = time.time() + 20
    while time.time() < deadline:
        after = r.info("clients").get("connected_clients")
        if after is not None and after <= 2:
            break
        time.sleep(0.2)
    ok = not failed and bad == 0 and during is not None and during >= a.n and after is not None and after <= 2
    return {"ok": ok, "detail": "%d opened in %.1fs (%d failed%s), %d PING not answered within %ss (%.1fs), "
                                "connected_clients %s while open, %s after close%s"
                                % (len(socks), t_open, len(failed), (": " + failed[0]) if failed else "",
                                   bad, a.timeout, t_ping, during, after,
                                   "".join("\n  " + x for x in stuck))}


def _open_wave(host, port, n, timeout, socks, failed):
    """n connects at once (non-blocking): under loss, a lost SYN costs its
    connection the kernel's 1 s SYN timeout, and one after the other those
    seconds would add up. Connected sockets go to socks (blocking again),
    errors to failed."""
    import errno
    import select
    pending = {}
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        rc = s.connect_ex((host, port))
        if rc not in (0, errno.EINPROGRESS):
            failed.append("connect: %s" % os.strerror(rc))
            s.close()
            continue
        pending[s.fileno()] = s
    poller = select.poll()
    for fd in pending:
        poller.register(fd, select.POLLOUT)
    deadline = time.time() + timeout
    while pending and time.time() < deadline:
        for fd, _ in poller.poll(max(1, int((deadline - time.time()) * 1000))):
            s = pending.pop(fd, None)
            if s is None:
                continue
            poller.unregister(fd)
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                failed.append("connect: %s" % os.strerror(err))
                s.close()
            else:
                s.setblocking(True)
                socks.append(s)
    for s in pending.values():
        failed.append("connect: not done within %ss" % timeout)
        s.close()


def _ss(lport):
    """The kernel's view of one client socket (ss -tin), for a report."""
    if not lport:
        return ""
    try:
        out = subprocess.run(["ss", "-tinH", "sport = :%d" % lport], capture_output=True, text=True,
                             timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return " ".join(out.split())[:600]


def worker_connect(a):
    t0 = time.time()
    try:
        s = socket.create_connection((a.host, a.port), timeout=a.timeout)
    except OSError as e:
        return {"ok": False, "detail": "connect %s:%d: %s" % (a.host, a.port, e)}
    local = s.getsockname()
    s.close()
    return {"ok": True, "detail": "connected from %s:%d in %.3fs" % (local[0], local[1], time.time() - t0)}


def _resp_read(s, buf=b""):
    """One reply from blocking socket s: (reply bytes, rest); simple, error,
    integer and bulk replies only; b"" if the server closed first."""
    while True:
        e = buf.find(b"\r\n")
        if e >= 0:
            if buf[:1] != b"$" or buf[:e] == b"$-1":
                return buf[:e + 2], buf[e + 2:]
            end = e + 2 + int(buf[1:e]) + 2
            if len(buf) >= end:
                return buf[:end], buf[end:]
        chunk = s.recv(65536)
        if not chunk:
            return b"", b""
        buf += chunk


def worker_protected(a):
    """protected-mode switched on at runtime over a connection already open:
    a new connection from here (never loopback) gets only the DENIED line and
    is closed, and is counted in rejected_connections; switched off again, a
    new connection answers PING."""
    ping = b"*1\r\n$4\r\nPING\r\n"

    def call(s, *args):
        s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in args))
        return _resp_read(s)[0]

    def rejected(s):
        m = re.search(rb"rejected_connections:(\d+)", call(s, b"INFO", b"stats"))
        return int(m.group(1)) if m else None

    keep = socket.create_connection((a.host, a.port), timeout=a.timeout)
    try:
        r0 = rejected(keep)
        on = call(keep, b"CONFIG", b"SET", b"protected-mode", b"yes")
        denied, closed = b"", False
        try:
            s = socket.create_connection((a.host, a.port), timeout=a.timeout)
            s.sendall(ping)
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    closed = True
                    break
                denied += chunk
            s.close()
        except ConnectionResetError:
            closed = True
        except OSError as e:
            denied += ("<%s>" % e).encode()
        r1 = rejected(keep)
    finally:
        off = call(keep, b"CONFIG", b"SET", b"protected-mode", b"no")
        keep.close()
    s = socket.create_connection((a.host, a.port), timeout=a.timeout)
    s.sendall(ping)
    pong = _resp_read(s)[0]
    s.close()
    good = (denied.startswith(b"-DENIED Redis is running in protected mode because protected mode is enabled")
            and denied.endswith(b"\r\n") and denied.count(b"\r\n") == 1)
    ok = on == b"+OK\r\n" and off == b"+OK\r\n" and good and closed and pong == b"+PONG\r\n" \
        and r0 is not None and r1 == r0 + 1
    return {"ok": ok, "detail": "CONFIG SET yes %r, new connection got %d bytes (sha256 %s)%s, %s; "
                                "rejected_connections %s -> %s; CONFIG SET no %r, then PING %r"
                                % (on, len(denied), hashlib.sha256(denied).hexdigest()[:16],
                                   "" if good else " " + repr(denied[:200]),
                                   "closed" if closed else "left open", r0, r1, off, pong)}


def worker_keepalive(a):
    """tcp-keepalive 1 at runtime (idle 1 s, probes 1 s apart, 3 of them):
    an idle connection opened then is probed, the kernel here answers, and
    it still serves after several idle seconds. Then an nftables rule here
    drops everything this connection sends: slotd's probes go unanswered
    and it resets and frees the connection (counted, gone from CLIENT
    LIST). tcp-keepalive goes back to 300, the table is deleted."""
    def call(s, *args):
        s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in args))
        return _resp_read(s)[0]

    def counter(s, name):
        m = re.search(rb"%s:(\d+)" % name.encode(), call(s, b"INFO", b"dataplane"))
        return int(m.group(1)) if m else -1

    table = "slotd_ka_%d" % os.getpid()
    keep = socket.create_connection((a.host, a.port), timeout=a.timeout)
    idle = None
    try:
        on = call(keep, b"CONFIG", b"SET", b"tcp-keepalive", b"1")
        p0, t0 = counter(keep, "dp_tcp_keepalive_probes"), counter(keep, "dp_tcp_keepalive_timeouts")
        idle = socket.create_connection((a.host, a.port), timeout=a.timeout)
        port = idle.getsockname()[1]
        first = call(idle, b"PING")
        time.sleep(3.5)
        second = call(idle, b"PING")
        p1 = counter(keep, "dp_tcp_keepalive_probes")
        listed = (":%d " % port).encode() in call(keep, b"CLIENT", b"LIST")
        for rule in (["add", "table", "inet", table],
                     ["add", "chain", "inet", table, "out", "{ type filter hook output priority 0 ; }"],
                     ["add", "rule", "inet", table, "out", "tcp", "sport", str(port), "drop"]):
            subprocess.run(["nft"] + rule, check=True, capture_output=True)
        deadline = time.time() + 20
        t1 = t0
        while time.time() < deadline and t1 <= t0:
            time.sleep(0.5)
            t1 = counter(keep, "dp_tcp_keepalive_timeouts")
        gone = (":%d " % port).encode() not in call(keep, b"CLIENT", b"LIST")
    finally:
        subprocess.run(["nft", "delete", "table", "inet", table], capture_output=True)
        off = call(keep, b"CONFIG", b"SET", b"tcp-keepalive", b"300")
        keep.close()
        if idle is not None:
            idle.close()
    ok = (on == off == b"+OK\r\n" and first == second == b"+PONG\r\n" and p1 >= p0 + 2 and listed
          and t1 == t0 + 1 and gone)
    return {"ok": ok, "detail": "CONFIG SET %r/%r; PING %r, after 3.5 s idle %r; probes %d -> %d; "
                                "listed %s; answers dropped: keep-alive timeouts %d -> %d, gone from "
                                "CLIENT LIST %s" % (on, off, first, second, p0, p1, listed, t0, t1, gone)}


def worker_halfclose(a):
    """A client that pipelines 100 GETs of a 1 MB value and a SET, then
    half-closes and never reads: slotd pauses its input at 64 MB of unsent
    replies, and once the FIN is in, runs the rest anyway (as Redis, which
    reads to the end of the stream and runs every command before the close)
    and lets the client go (gone from CLIENT LIST)."""
    def call(s, *args):
        s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in args))
        return _resp_read(s)[0]

    key, flag = b"halfclose:big", b"halfclose:done"
    keep = socket.create_connection((a.host, a.port), timeout=a.timeout)
    try:
        call(keep, b"SET", key, b"x" * (1 << 20))
        call(keep, b"DEL", flag)
        k = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        k.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        k.settimeout(a.timeout)
        k.connect((a.host, a.port))
        port = k.getsockname()[1]
        k.sendall(b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(key), key) * 100 +
                  b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\n1\r\n" % (len(flag), flag))
        k.shutdown(socket.SHUT_WR)
        deadline, done, listed = time.time() + 20, b"", True
        while time.time() < deadline and (done != b"$1\r\n1\r\n" or listed):
            time.sleep(0.2)
            done = call(keep, b"GET", flag)
            listed = (":%d " % port).encode() in call(keep, b"CLIENT", b"LIST")
        k.close()
        call(keep, b"DEL", key, flag)
    finally:
        keep.close()
    return {"ok": done == b"$1\r\n1\r\n" and not listed,
            "detail": "the SET behind 100 MB of unread replies: GET %r; client still listed: %s"
                      % (done, listed)}


def core_of_key(key, ncores):
    """The data core owning key's slot with slotd's even split (slotmap.c)."""
    import harness  # workers run before the controlling side imports it
    return harness.key_slot(key) * ncores // 16384


def worker_many(a):
    """a.n clients connected at once (all open before any command), each
    writing and reading back its own a.per keys; then, over one connection,
    MSET/MGET of a.n * a.per keys owned by both data cores (the barrier path)
    and an MGET of everything the clients wrote."""
    import threading
    import redis
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < a.n + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, a.n + 1000), hard))
    start = threading.Barrier(a.n)
    errs = []
    bad = [0]
    lock = threading.Lock()

    def one(i):
        try:
            r = redis.Redis(host=a.host, port=a.port, socket_timeout=a.timeout, socket_connect_timeout=10)
            r.ping()
            start.wait(timeout=a.timeout)
            wrong = 0
            for j in range(a.per):
                if r.set("mc:%s:%d:%d" % (a.seed, i, j), _val(a.seed, i * a.per + j)) is not True:
                    wrong += 1
            for j in range(a.per):
                if r.get("mc:%s:%d:%d" % (a.seed, i, j)) != _val(a.seed, i * a.per + j):
                    wrong += 1
            r.close()
            with lock:
                bad[0] += wrong
        except Exception as e:
            with lock:
                errs.append("client %d: %s: %s" % (i, type(e).__name__, e))
            try:
                start.abort()
            except Exception:
                pass

    t0 = time.time()
    ts = [threading.Thread(target=one, args=(i,)) for i in range(a.n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    t_clients = time.time() - t0
    r = redis.Redis(host=a.host, port=a.port, socket_timeout=a.timeout, socket_connect_timeout=10)
    keys = ["mc:%s:%d:%d" % (a.seed, i, j) for i in range(a.n) for j in range(a.per)]
    want = [_val(a.seed, x) for x in range(len(keys))]
    got = r.mget(keys)
    mget_bad = sum(1 for g, w in zip(got, want) if g != w)
    # MSET then MGET of keys owned by both cores, in chunks, each one command.
    xkeys = ["x:%s:%d" % (a.seed, i) for i in range(a.n * a.per)]
    owners = [core_of_key(k, 2) for k in xkeys]
    xbad = 0
    for c0 in range(0, len(xkeys), 500):
        chunk = xkeys[c0:c0 + 500]
        mapping = dict((k, b"x" + _val(a.seed, c0 + n)) for n, k in enumerate(chunk))
        if r.mset(mapping) is not True:
            xbad += len(chunk)
        back = r.mget(chunk)
        xbad += sum(1 for k, g in zip(chunk, back) if g != mapping[k])
    ndel = r.delete(*keys) + r.delete(*xkeys)
    dbsize = r.dbsize()
    ok = not errs and bad[0] == 0 and mget_bad == 0 and xbad == 0 and ndel == 2 * len(keys) and dbsize == 0
    return {"ok": ok, "detail": "%d concurrent clients x %d keys SET/GET (%.1fs): %d errors%s, %d wrong; "
                                "MGET of all %d: %d wrong; MSET/MGET of %d keys (%d on core 0, %d on core 1) "
                                "in chunks of 500: %d wrong; DEL %d of %d, DBSIZE %s after"
                                % (a.n, a.per, t_clients, len(errs), (" (" + errs[0] + ")") if errs else "",
                                   bad[0], len(keys), mget_bad, len(xkeys), owners.count(0), owners.count(1),
                                   xbad, ndel, 2 * len(keys), dbsize)}


def worker_mtu(a):
    """One connection: SET and GET of a.n random bytes, compared; then the
    kernel's view of its segment sizes (struct tcp_info: tcpi_snd_mss and
    tcpi_rcv_mss, the u32s at offsets 16 and 20)."""
    import struct
    import harness
    c = harness.RawConn(a.port, host=a.host, timeout=a.timeout)
    data = os.urandom(a.n)
    t0 = time.time()
    r1 = c.call("SET", "mtu:v", data)
    r2 = c.call("GET", "mtu:v")
    took = time.time() - t0
    snd, rcv = struct.unpack_from("II", c.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104), 16)
    r3 = c.call("DEL", "mtu:v")
    c.close()
    ok = r1 == b"+OK\r\n" and r2 == b"$%d\r\n" % len(data) + data + b"\r\n" and r3 == b":1\r\n"
    return {"ok": ok, "snd_mss": snd, "rcv_mss": rcv,
            "detail": "%d bytes SET %r, GET %s (%.2fs), DEL %r; tcp_info snd_mss %d rcv_mss %d"
                      % (a.n, r1, "intact" if r2[-len(data) - 2:-2] == data else "CORRUPT %r" % r2[:60],
                         took, r3, snd, rcv)}


# Commands that need several connections at once (MULTI/EXEC with WATCH,
# MONITOR, SLOWLOG, AUTH with requirepass, TIME, CLIENT KILL). Each part
# keeps a transcript in which what differs between servers for no fault of
# theirs (client ids, addresses, times) is replaced by a name, so that it can
# be compared with the reference's, and checks on its own what Redis answers.

REQUIREPASS = "dpdk-test-pw"


def _sds_repr(b):
    """Redis's sdscatrepr: how MONITOR quotes an argument."""
    out = ['"']
    for ch in b:
        c = chr(ch)
        if c in '\\"':
            out.append("\\" + c)
        elif c in "\n\r\t\a\b":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t", "\a": "\\a", "\b": "\\b"}[c])
        elif 32 <= ch < 127:
            out.append(c)
        else:
            out.append("\\x%02x" % ch)
    out.append('"')
    return "".join(out)


class _Part:
    """One part's connections, transcript and problems."""

    def __init__(self, a):
        self.a = a
        self.lines = []
        self.problems = []
        self.conns = []
        self.names = []         # (text as sent/received, name in the transcript)

    def conn(self, name):
        import harness
        c = harness.RawConn(self.a.port, host=self.a.host, timeout=self.a.timeout)
        c.name = name
        self.conns.append(c)
        self.names.append((c.local_addr(), "<addr %s>" % name))
        return c

    def norm(self, data):
        s = data.decode("latin-1") if isinstance(data, bytes) else str(data)
        for real, name in self.names:
            s = s.replace(real, name)
        return s

    def call(self, c, *args, want=None, shown=None):
        """Send one command on c; it and its reply (raw bytes) go to the
        transcript (the command as `shown` if given: an id in it); `want` is
        what Redis answers."""
        r = c.call(*args)
        self.lines.append("%s> %s -> %s" % (c.name, shown or self.norm(" ".join(
            x.decode("latin-1") if isinstance(x, bytes) else str(x) for x in args)),
            self.norm(r).replace("\r\n", " ").strip()))
        if want is not None and r != want:
            self.problems.append("%s> %s: got %r, Redis answers %r"
                                 % (c.name, " ".join(str(x) for x in args), r, want))
        return r

    def note(self, text):
        self.lines.append(self.norm(text))

    def expect(self, cond, what):
        if not cond:
            self.problems.append(what)
        return cond

    def closed(self, c, timeout=5.0):
        """Whether the server closed c within timeout (noted and checked)."""
        state = c.wait_closed(timeout)
        self.note("%s: %s" % (c.name, state))
        return state == "closed"

    def close(self):
        for c in self.conns:
            c.close()


OK = b"+OK\r\n"
QUEUED = b"+QUEUED\r\n"
NIL_ARRAY = b"*-1\r\n"


def _bulk(s):
    s = s.encode() if isinstance(s, str) else s
    return b"$%d\r\n%s\r\n" % (len(s), s)


def _adm_watch(p, seed):
    """A watched key written by another connection makes EXEC return a nil
    array (Redis: even when the value written is the same, or a DEL); an
    untouched watch, or one UNWATCHed, lets EXEC run."""
    a, b = p.conn("A"), p.conn("B")
    k, k2, k3, other = ("w:%s:%s" % (seed, x) for x in ("k", "k2", "k3", "other"))
    p.call(a, "DEL", k, k2, k3, other)
    p.call(a, "SET", k3, "same", want=OK)
    p.call(a, "WATCH", k, want=OK)
    p.call(b, "SET", k, "theirs", want=OK)
    p.call(a, "MULTI", want=OK)
    p.call(a, "SET", k, "mine", want=QUEUED)
    p.call(a, "EXEC", want=NIL_ARRAY)
    p.call(a, "GET", k, want=_bulk("theirs"))
    p.call(a, "WATCH", k2, want=OK)
    p.call(b, "SET", other, "x", want=OK)
    p.call(a, "MULTI", want=OK)
    p.call(a, "INCR", k2, want=QUEUED)
    p.call(a, "EXEC", want=b"*1\r\n:1\r\n")
    p.call(a, "WATCH", k3, want=OK)
    p.call(b, "SET", k3, "same", want=OK)
    p.call(a, "MULTI", want=OK)
    p.call(a, "GET", k3, want=QUEUED)
    p.call(a, "EXEC", want=NIL_ARRAY)
    p.call(a, "WATCH", k, want=OK)
    p.call(a, "UNWATCH", want=OK)
    p.call(b, "SET", k, "again", want=OK)
    p.call(a, "MULTI", want=OK)
    p.call(a, "GET", k, want=QUEUED)
    p.call(a, "EXEC", want=b"*1\r\n" + _bulk("again"))
    p.call(a, "WATCH", k, want=OK)
    p.call(b, "DEL", k, want=b":1\r\n")
    p.call(a, "MULTI", want=OK)
    p.call(a, "SET", k, "late", want=QUEUED)
    p.call(a, "EXEC", want=NIL_ARRAY)
    p.call(a, "EXISTS", k, want=b":0\r\n")
    p.call(a, "DEL", k, k2, k3, other, want=b":3\r\n")


def _adm_monitor(p, seed):
    """MONITOR on one connection shows what another sends, one line each in
    Redis's format: +<unix time>.<usec> [<db> <client addr>] "arg" ...
    (arguments quoted as sdscatrepr does; administrative commands such as
    CONFIG are not shown)."""
    m, s = p.conn("M"), p.conn("S")
    k, kb, k2 = ("mon:%s:%s" % (seed, x) for x in ("k", "bin", "k2"))
    binval = b'a b"c\n\x01\xff\\'
    p.call(m, "MONITOR", want=OK)
    # (db shown, command): 7.0 feeds a command to MONITOR once it has run,
    # so SELECT (and RESET) show the database chosen; a transaction shows as
    # MULTI, then its commands and EXEC when EXEC runs them, not as queued
    sent = [(0, ["SET", k, "v"]), (0, ["GET", k]), (0, ["SET", kb, binval]), (2, ["SELECT", "2"]),
            (2, ["SET", k2, "42"]), (2, ["DEL", k2]), (0, ["SELECT", "0"]), (2, ["SELECT", "2"]),
            (0, ["RESET"]),
            (None, ["CONFIG", "GET", "maxmemory"]), (0, ["MULTI"]), (None, ["INCR", k2]),
            (None, ["EXEC"]), (0, ["DEL", k, kb, k2])]
    t0 = time.time()
    for _, args in sent:
        s.call(*args)
    want = [(db, args) for db, args in sent if db is not None]
    want[-1:-1] = [(0, ["INCR", k2]), (0, ["EXEC"])]
    addr = s.local_addr()
    for db, args in want:
        r = m.read_reply(timeout=p.a.timeout)
        line = r.decode("latin-1")
        mm = re.match(r"^\+(\d+)\.(\d{6}) \[(\d+) (\S+)\] (.*)\r\n$", line, re.S)
        expect = " ".join(_sds_repr(x.encode() if isinstance(x, str) else x) for x in args)
        if not p.expect(mm is not None, "MONITOR line %r is not in Redis's format" % line):
            p.note("M: %r" % line)
            break
        p.note("M: +<time> [%s %s] %s" % (mm.group(3), p.norm(mm.group(4)), mm.group(5)))
        p.expect(int(mm.group(3)) == db and mm.group(4) == addr and mm.group(5) == expect,
                 "MONITOR line %r, want [%d %s] %s" % (line, db, addr, expect))
        p.expect(abs(int(mm.group(1)) - t0) < 30, "MONITOR time %s, now %.0f" % (mm.group(1), t0))
    extra = m.read_reply(timeout=0.3)
    import harness
    p.expect(extra == harness.TIMEOUT, "MONITOR: more than the %d commands shown: %r" % (len(want), extra))


def _adm_slowlog(p, seed):
    """slowlog-log-slower-than 0 logs every command: SLOWLOG LEN/GET/RESET,
    each entry [id, unix time, microseconds, [args], client addr, name]."""
    import harness
    c = p.conn("L")
    k = "sl:%s:k" % seed
    try:
        p.call(c, "CONFIG", "SET", "slowlog-log-slower-than", "0", want=OK)
        p.call(c, "SLOWLOG", "RESET", want=OK)
        p.call(c, "CLIENT", "SETNAME", "sltest", want=OK)
        p.call(c, "SET", k, "v", want=OK)
        p.call(c, "GET", k, want=_bulk("v"))
        # RESET itself is logged once it has run, then each command after it
        p.call(c, "SLOWLOG", "LEN", want=b":4\r\n")
        t0 = time.time()
        r = c.call("SLOWLOG", "GET")
        node, _ = harness.parse_reply(r)
        entries = node[1] if node[0] == "*" and node[1] is not None else []
        p.expect(len(entries) == 5, "SLOWLOG GET: %d entries, want 5: %r" % (len(entries), r[:300]))
        ids = []
        got = []
        for e in entries:
            f = e[1] if e[0] == "*" else []
            if not p.expect(len(f) == 6 and f[0][0] == ":" and f[1][0] == ":" and f[2][0] == ":"
                            and f[3][0] == "*" and f[4][0] == "$" and f[5][0] == "$",
                            "SLOWLOG entry is not [id, time, usec, args, addr, name]: %r" % (e,)):
                continue
            ids.append(f[0][1])
            args = [x[1].decode("latin-1") for x in f[3][1]]
            p.expect(abs(f[1][1] - t0) < 30 and 0 <= f[2][1] < 10 ** 7,
                     "SLOWLOG entry time %s / duration %s us" % (f[1][1], f[2][1]))
            p.expect(f[4][1].decode() == c.local_addr(), "SLOWLOG entry addr %r, the client is %s"
                     % (f[4][1], c.local_addr()))
            name = f[5][1].decode()
            p.note("SLOWLOG entry: id%+d <time> <usec> %s %s %r"
                   % (f[0][1] - ids[0], args, p.norm(f[4][1]), name))
            got.append((args, name))
        # an entry has the client's name as it was when the command ended
        p.expect(got == [(["SLOWLOG", "LEN"], "sltest"), (["GET", k], "sltest"), (["SET", k, "v"], "sltest"),
                         (["CLIENT", "SETNAME", "sltest"], "sltest"), (["SLOWLOG", "RESET"], "")],
                 "SLOWLOG GET, newest first: %r" % got)
        p.expect(ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids),
                 "SLOWLOG ids not strictly decreasing: %r" % ids)
        r = c.call("SLOWLOG", "GET", "1")
        node, _ = harness.parse_reply(r)
        one = node[1] if node[0] == "*" and node[1] else []
        p.expect(len(one) == 1 and [x[1] for x in one[0][1][3][1]] == [b"SLOWLOG", b"GET"],
                 "SLOWLOG GET 1: %r" % r[:200])
        p.note("SLOWLOG GET 1: %d entry" % len(one))
        p.call(c, "SLOWLOG", "RESET", want=OK)
        p.call(c, "SLOWLOG", "LEN", want=b":1\r\n")
    finally:
        p.call(c, "CONFIG", "SET", "slowlog-log-slower-than", "10000", want=OK)
        p.call(c, "SLOWLOG", "RESET", want=OK)


def _adm_auth(p, seed):
    """requirepass set at runtime: a new connection gets -NOAUTH until AUTH
    (a wrong password: -WRONGPASS); the connection that set it stays in;
    requirepass "" lets everyone in again."""
    a = p.conn("A")
    noauth = b"-NOAUTH Authentication required.\r\n"
    wrongpass = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    try:
        p.call(a, "CONFIG", "SET", "requirepass", REQUIREPASS, want=OK)
        n = p.conn("N")
        p.call(n, "GET", "auth:%s" % seed, want=noauth)
        p.call(n, "PING", want=noauth)
        p.call(n, "AUTH", "wrong", want=wrongpass)
        p.call(n, "AUTH", REQUIREPASS, want=OK)
        p.call(n, "GET", "auth:%s" % seed, want=b"$-1\r\n")
        n2 = p.conn("N2")
        p.call(n2, "AUTH", "default", REQUIREPASS, want=OK)
        p.call(n2, "PING", want=b"+PONG\r\n")
        n3 = p.conn("N3")
        p.call(n3, "HELLO", "2", "AUTH", "default", "wrong", want=wrongpass)
        p.call(n3, "PING", want=noauth)
        p.call(a, "PING", want=b"+PONG\r\n")
    finally:
        r = p.call(a, "CONFIG", "SET", "requirepass", "", want=OK)
        if r != OK:         # A lost: a new connection with the password undoes it
            import harness
            c = harness.RawConn(p.a.port, host=p.a.host, timeout=p.a.timeout)
            c.call("AUTH", REQUIREPASS)
            c.call("CONFIG", "SET", "requirepass", "")
            c.close()
    n4 = p.conn("N4")
    p.call(n4, "PING", want=b"+PONG\r\n")
    p.call(n4, "AUTH", "x", want=b"-ERR AUTH <password> called without any password configured for the "
                                   b"default user. Are you sure your configuration is correct?\r\n")


def _adm_time(p, seed):
    """TIME: [unix seconds, microseconds] as bulk strings, the server's clock."""
    c = p.conn("T")
    t0 = time.time()
    vals = []
    for _ in range(2):
        r = c.call("TIME")
        mm = re.match(rb"^\*2\r\n\$\d+\r\n(\d+)\r\n\$\d+\r\n(\d+)\r\n$", r)
        p.note("T> TIME -> %s" % ("*2 $<seconds> $<microseconds>" if mm else p.norm(r)))
        if p.expect(mm is not None, "TIME reply %r is not two integer bulk strings" % r):
            vals.append((int(mm.group(1)), int(mm.group(2))))
    if len(vals) == 2:
        p.expect(abs(vals[0][0] - t0) < 5, "TIME says %d, this host %.0f" % (vals[0][0], t0))
        p.expect(all(0 <= us < 10 ** 6 for _, us in vals) and vals[1] >= vals[0],
                 "TIME microseconds / order: %r" % vals)


def _adm_kill(p, seed):
    """CLIENT KILL by ID, by ADDR and the old form: the victim's connection is
    closed by the server; SKIPME (yes by default) spares the caller."""
    a, b, c, d = p.conn("A"), p.conn("B"), p.conn("C"), p.conn("D")
    r = b.call("CLIENT", "ID")
    mm = re.match(rb"^:(\d+)\r\n$", r)
    p.note("B> CLIENT ID -> %s" % (":<id B>" if mm else p.norm(r)))
    if not p.expect(mm is not None, "CLIENT ID: %r" % r):
        return
    idb = mm.group(1).decode()
    p.call(a, "CLIENT", "KILL", "ID", idb, want=b":1\r\n", shown="CLIENT KILL ID <id B>")
    p.expect(p.closed(b), "B not closed after CLIENT KILL ID")
    p.call(a, "CLIENT", "KILL", "ID", idb, want=b":0\r\n", shown="CLIENT KILL ID <id B>")
    p.call(a, "CLIENT", "KILL", "ADDR", c.local_addr(), want=b":1\r\n")
    p.expect(p.closed(c), "C not closed after CLIENT KILL ADDR")
    p.call(a, "CLIENT", "KILL", d.local_addr(), want=OK)
    p.expect(p.closed(d), "D not closed after CLIENT KILL <addr>")
    p.call(a, "CLIENT", "KILL", d.local_addr(), want=b"-ERR No such client\r\n")
    p.call(a, "CLIENT", "KILL", "ADDR", a.local_addr(), want=b":0\r\n")
    listing = a.call("CLIENT", "LIST")
    gone = [x.name for x in (b, c, d) if ("addr=%s " % x.local_addr()).encode() in listing]
    p.note("A> CLIENT LIST: B, C, D %s" % ("listed: %s" % gone if gone else "gone"))
    p.expect(not gone and ("addr=%s " % a.local_addr()).encode() in listing,
             "CLIENT LIST after the kills still has %s (or not A): %r" % (gone, listing[:400]))
    p.call(a, "CLIENT", "KILL", "ADDR", a.local_addr(), "SKIPME", "no", want=b":1\r\n")
    p.expect(p.closed(a), "A not closed after killing itself (SKIPME no)")
    e = p.conn("E")
    p.call(e, "PING", want=b"+PONG\r\n")


ADMIN_PARTS = (("MULTI/EXEC with WATCH", _adm_watch), ("MONITOR", _adm_monitor), ("SLOWLOG", _adm_slowlog),
               ("AUTH with requirepass", _adm_auth), ("TIME", _adm_time), ("CLIENT KILL", _adm_kill))


def worker_admin(a):
    out = {}
    for name, fn in ADMIN_PARTS:
        p = _Part(a)
        try:
            fn(p, a.seed)
        except Exception as e:
            p.problems.append("%s: %s" % (type(e).__name__, e))
        finally:
            p.close()
        out[name] = {"transcript": p.lines, "problems": p.problems}
    bad = [n for n, v in out.items() if v["problems"]]
    return {"ok": not bad, "parts": out, "detail": "problems in: %s" % ", ".join(bad) if bad else "all as Redis"}


def worker_main(argv):
    import argparse
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=["keys", "values", "conns", "connect", "protected", "many", "admin", "mtu",
                                    "keepalive", "halfclose"])
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--n", type=int, default=0)
    p.add_argument("--sizes", default="")
    p.add_argument("--per", type=int, default=20)
    p.add_argument("--wave", type=int, default=0)     # conns: connects at once (0: one by one)
    p.add_argument("--seed", default="s")
    p.add_argument("--timeout", type=float, default=30)
    a = p.parse_args(argv)
    fn = {"keys": worker_keys, "values": worker_values, "conns": worker_conns, "connect": worker_connect,
          "protected": worker_protected, "many": worker_many, "admin": worker_admin,
          "mtu": worker_mtu, "keepalive": worker_keepalive, "halfclose": worker_halfclose}[a.kind]
    try:
        out = fn(a)
    except Exception as e:
        import traceback
        out = {"ok": False, "detail": "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc()[-2000:])}
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--worker":
    sys.exit(worker_main(sys.argv[2:]))


# ---------------------------------------------------------------------------
# The controlling side (root namespace).

import harness  # noqa: E402
import netns  # noqa: E402
from netns import CmdError, Netns  # noqa: E402

ARGS = sys.argv[1:]
QUICK = "--quick" in ARGS or os.environ.get("DPDK_QUICK") == "1"
# Only start, ping and the 2%-loss phase (for work on loss recovery).
LOSS_ONLY = "--loss-only" in ARGS or os.environ.get("DPDK_LOSS_ONLY") == "1"
# TARGET=redis (test.sh validating the harnesses): there is no redis-server
# on a DPDK port, so the same client phases run against redis-server over a
# veth pair instead.
SELFTEST = "--selftest" in ARGS or harness.TARGET == "redis"
START_TIMEOUT = float(os.environ.get("E2E_START_TIMEOUT", "30"))
N_KEYS = int(os.environ.get("DPDK_KEYS", 10000 if QUICK else 100000))
N_CONNS = int(os.environ.get("DPDK_CONNS", 1000 if QUICK else 10000))
BENCH_N = int(os.environ.get("DPDK_BENCH_N", 100000 if QUICK else 1000000))
VALUE_SIZES = [1024, 1 << 20] + ([] if QUICK else [64 << 20])
# Under loss and reordering: a burst of this many concurrent connections,
# all connecting at once (one by one, each SYN lost would cost its 1 s in
# turn; slotd holds 1024 half-open connections a core, net/eth.c).
BURST_CONNS = int(os.environ.get("DPDK_BURST_CONNS", min(1000, N_CONNS)))
BURST_WAVE = min(BURST_CONNS, 1000)
MAXCLIENTS = max(10100, N_CONNS + 100)
REF_KIND = os.environ.get("DPDK_REF", "slotd")
# Only the hugepage and two-core phases (start, checks, stop).
MODES_ONLY = "--modes-only" in ARGS or os.environ.get("DPDK_MODES_ONLY") == "1"
# Hugepage phase: 2 MB pages added to nr_hugepages for the run, and EAL's -m
# (MB) out of them; EAL takes -m at start-up, so it must fit in what was given.
HUGE_PAGES_ADD = int(os.environ.get("DPDK_HUGEPAGES", "256"))
HUGE_EAL_MB = 256
# Two-core phase: concurrent clients, keys each, benchmark requests.
MANY_CLIENTS = int(os.environ.get("DPDK_MANY_CLIENTS", "200"))
MANY_PER = 20
MQ_BENCH_N = 50000
# The kernel side of the net_tap port queues what the namespace sends to
# slotd: it stands for the NIC's RX ring. At the kernel's default (1000
# frames) the burst of 10,000 PINGs overflows it, and the clients' RTO
# retransmissions then come back as synchronized bursts whose tail is dropped
# again, round after round: the connections case would measure that queue,
# not the stack (loss is tested on its own, with nftables). 0: leave it.
TAP_QLEN = int(os.environ.get("DPDK_TAP_QLEN", max(20000, 2 * N_CONNS)))


class Target:
    """Where the clients go: host/port as seen from namespace `ns`."""

    def __init__(self, ns, host, port):
        self.ns = ns
        self.host = host
        self.port = port

    def worker(self, kind, timeout, client_timeout=None, **kw):
        """Run a worker in the namespace; its JSON outcome, or a failure with
        what went wrong (timeout: the worker is killed, "hung").
        client_timeout: the worker's own --timeout (its clients' operations)."""
        argv = [PY, os.path.abspath(__file__), "--worker", kind, "--host", self.host, "--port", str(self.port)]
        if client_timeout is not None:
            argv += ["--timeout", str(client_timeout)]
        for k, v in kw.items():
            argv += ["--" + k, str(v)]
        try:
            cp = self.ns.run(argv, timeout=timeout, check=False)
        except CmdError as e:
            return {"ok": False, "detail": "worker %s hung: %s" % (kind, e)}
        lines = [ln for ln in cp.stdout.splitlines() if ln.startswith("{")]
        if not lines:
            return {"ok": False, "detail": "worker %s exit %d, no result\nstdout: %s\nstderr: %s"
                                          % (kind, cp.returncode, cp.stdout[-1500:], cp.stderr[-1500:])}
        return json.loads(lines[-1])

    def cli(self, *args, timeout=30, input=None):
        argv = ["redis-cli", "-h", self.host, "-p", str(self.port)] + list(args)
        return self.ns.run(argv, timeout=timeout, check=False, input=input)


def _die_with_parent():
    harness._die_with_parent()


# ---------------------------------------------------------------------------
# slotd on a net_tap port.

_nodes = []     # started and not yet stopped: the teardown stops them


class DpdkNode:
    """slotd on a net_tap port whose kernel side is moved into namespace ns.
    slotd itself runs in the root namespace, or in namespace home (its
    exception TAP, and what dpdk-gateway adds to it, are then made there);
    peer_mac: the MAC address ns gives the port's kernel side."""

    def __init__(self, ns, port, extra=(), tag="dpdk", workers=1, huge_dir=None, home=None, peer_mac=None):
        pid = os.getpid()
        self.ns = ns
        self.home = home
        self.peer_mac = peer_mac
        self.port = port
        self.extra = list(extra)
        self.tag = tag
        self.workers = workers              # EAL worker lcores = data cores = queue pairs
        self.huge_dir = huge_dir            # hugetlbfs mount: EAL memory from hugepages
        self.port_if = "sdt%d" % pid        # net_tap's kernel side, moved into ns
        self.exc_if = "sde%d" % pid         # slotd's exception TAP, root namespace
        self.prefix = EAL_PREFIX + str(pid)
        self.proc = None
        self.pid = None
        self.log_path = None
        self.dir = None

    def eal_args(self):
        # The main lcore and one worker per data core on the CPUs we may use;
        # with fewer CPUs than lcores, --lcores shares them round-robin (the
        # main lcore, the control plane, sleeps in poll()). Without huge_dir:
        # --no-huge, EAL memory from ordinary pages; with it, from that
        # hugetlbfs mount only, -m small enough for what the test reserved.
        # --no-pci: EAL would otherwise probe the machine's own NICs.
        cpus = sorted(os.sched_getaffinity(0))
        n = 1 + self.workers
        if len(cpus) >= n:
            lcores = "-l " + ",".join(str(c) for c in cpus[:n])
        else:
            lcores = "--lcores " + ",".join("%d@%d" % (i, cpus[i % len(cpus)]) for i in range(n))
        mem = ("--no-huge -m 1024" if self.huge_dir is None
               else "--huge-dir %s -m %d" % (self.huge_dir, HUGE_EAL_MB))
        return ("%s --no-pci --file-prefix %s %s --vdev=net_tap0,iface=%s %s"
                % (mem, self.prefix, lcores, self.port_if, os.environ.get("DPDK_EAL_EXTRA", ""))).strip()

    def argv(self):
        # protected-mode no: every client comes from the namespace, never from
        # loopback, and there is no password (as for redis-server: Redis's docs).
        return ([harness.SLOTD_BIN, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--enable-debug-command", "local", "--protected-mode", "no", "--maxclients", str(MAXCLIENTS),
                 "--dataplane", "dpdk", "--dpdk-eal-args", self.eal_args(),
                 "--dpdk-ip", "%s/%d" % (NODE_IP, PREFIX_LEN), "--dpdk-tap", self.exc_if,
                 "--dpdk-port", "net_tap0"]
                + shlex.split(os.environ.get("DPDK_SLOTD_ARGS", "")) + self.extra)

    def start(self):
        if not os.access(harness.SLOTD_BIN, os.X_OK):
            raise RuntimeError("slotd binary %s not found" % harness.SLOTD_BIN)
        self.dir = tempfile.mkdtemp(prefix="dpdk-", dir=harness.logdir())
        self.log_path = os.path.join(self.dir, "slotd-%s.log" % self.tag)
        log = open(self.log_path, "wb")
        argv = self.argv()
        with open(os.path.join(self.dir, "argv"), "w") as f:
            f.write(" ".join(shlex.quote(a) for a in argv) + "\n")
        # ip netns exec execs slotd: the PID is slotd's
        self.proc = subprocess.Popen(self.home.argv(argv) if self.home else argv, stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=self.dir, preexec_fn=_die_with_parent)
        log.close()
        self.pid = self.proc.pid
        _nodes.append(self)
        t0 = time.time()
        deadline = t0 + START_TIMEOUT
        home = self.home.name if self.home else None
        # Move the port's interface only once slotd has started the port: the
        # net_tap PMD attaches its queue descriptors by interface name in
        # slotd's namespace at port set-up, and would create a second,
        # unrelated TAP of that name if the first were already gone.
        while not (netns.link_exists(self.port_if, ns=home) and "Ready to accept connections" in self.log_text()):
            if self.proc.poll() is not None:
                raise RuntimeError("slotd (%s) exited with %s during start-up:\n%s"
                                   % (self.tag, self.proc.returncode, self.log_tail()))
            if time.time() > deadline:
                raise RuntimeError("slotd (%s) not ready (interface %s, 'Ready to accept connections') "
                                   "within %ss:\n%s" % (self.tag, self.port_if, START_TIMEOUT, self.log_tail()))
            time.sleep(0.05)
        self.ns.adopt(self.port_if, "%s/%d" % (PEER_IP, PREFIX_LEN), txqueuelen=TAP_QLEN, src=home,
                      mac=self.peer_mac)
        # Ready when the data path answers PING on the client port.
        last = ""
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("slotd (%s) exited with %s during start-up:\n%s"
                                   % (self.tag, self.proc.returncode, self.log_tail()))
            try:
                cp = self.ns.run(["redis-cli", "-h", NODE_IP, "-p", str(self.port), "PING"],
                                 timeout=5, check=False)
                last = (cp.stdout + cp.stderr).strip()
                if last == "PONG":
                    self.ready_secs = time.time() - t0
                    return self
            except CmdError as e:
                last = str(e)
            time.sleep(0.2)
        raise RuntimeError("slotd (%s) did not answer PING at %s:%d from the namespace within %ss "
                           "(last: %s):\n%s" % (self.tag, NODE_IP, self.port, START_TIMEOUT, last,
                                                self.log_tail()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=15.0):
        """SIGTERM, SIGKILL after timeout; then wait for both TAPs to go.
        Returns (exit status, what is left)."""
        if self.proc is None:
            return None, []
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
        rc = self.proc.returncode
        if self in _nodes:
            _nodes.remove(self)
        left = []
        if not netns.wait_link_gone(self.port_if, 10, ns=self.ns.name if self.ns.exists() else None):
            left.append(self.port_if)
        if not netns.wait_link_gone(self.exc_if, 10,
                                    ns=self.home.name if self.home and self.home.exists() else None):
            left.append(self.exc_if)
        return rc, left

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""

    def log_tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:])
        except (OSError, TypeError):
            return ""

    def sanitizer_report(self):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            i = text.find(marker)
            if i >= 0:
                return text[max(0, i - 200):i + 2000]
        return ""


EAL_PREFIX = "slotdtest"     # EAL --file-prefix: this + our PID


def telemetry(prefix, cmd):
    """One DPDK telemetry command to slotd's EAL (the v2 socket in its runtime
    directory): the JSON answer's value for cmd, or None."""
    for base in ("/var/run/dpdk", "/run/dpdk"):
        path = os.path.join(base, prefix, "dpdk_telemetry.v2")
        if not os.path.exists(path):
            continue
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.settimeout(10)
            s.connect(path)
            hello = json.loads(s.recv(16384).decode())
            s.send(cmd.encode())
            reply = json.loads(s.recv(hello.get("max_output_len", 16384)).decode())
        return reply.get(cmd.split(",")[0])    # the answer is keyed without parameters
    return None


def runtime_dir_cleanup(prefix):
    """EAL's runtime directory for our --file-prefix (named after our PID)."""
    for base in ("/var/run/dpdk", "/run/dpdk"):
        d = os.path.join(base, prefix)
        if os.path.isdir(d):
            subprocess.run(["rm", "-rf", "--one-file-system", d], check=False)


def runtime_dir(prefix):
    """EAL's runtime directory for --file-prefix prefix, or None."""
    for base in ("/var/run/dpdk", "/run/dpdk"):
        d = os.path.join(base, prefix)
        if os.path.isdir(d):
            return d
    return None


def reap_runtime_dirs(pid=None):
    """Runtime directories of our prefix (EAL_PREFIX, a PID, a letter for
    a second process of the run) whose PID is gone, or those of pid."""
    gone = []
    for base in ("/var/run/dpdk", "/run/dpdk"):
        try:
            names = os.listdir(base)
        except OSError:
            continue
        for name in names:
            m = re.match(re.escape(EAL_PREFIX) + r"(\d+)[a-z]?$", name)
            if not m or not os.path.isdir(os.path.join(base, name)):
                continue
            owner = int(m.group(1))
            if (owner == pid) if pid is not None else (owner != os.getpid() and not netns._pid_alive(owner)):
                runtime_dir_cleanup(name)
                gone.append(name)
    return gone


# ---------------------------------------------------------------------------
# INFO dataplane

def parse_info(text):
    """INFO text to a flat dict; compound values (a=1,b=2) become key.a."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        k, v = line.split(":", 1)
        if "=" in v:
            for part in v.split(","):
                if "=" in part:
                    a, b = part.split("=", 1)
                    out["%s.%s" % (k, a)] = b
        else:
            out[k] = v
    return out


def counter_sum(info, pattern):
    """Sum of the integer fields whose name matches pattern (regex); None if none does."""
    total = None
    for k, v in info.items():
        if re.search(pattern, k):
            try:
                total = (total or 0) + int(v)
            except ValueError:
                pass
    return total


def core_counter(info, name, fallback):
    """Sum of coreN:name=... over the data cores; the loose pattern fallback
    if INFO dataplane has no per-core line."""
    v = counter_sum(info, r"^core\d+\.%s$" % name)
    return v if v is not None else counter_sum(info, fallback)


def dataplane_info(tgt):
    cp = tgt.cli("INFO", "dataplane", timeout=15)
    return cp.stdout, parse_info(cp.stdout)


# ---------------------------------------------------------------------------
# Command families, compared with a reference server line by line.

FAMILY_SCRIPT = r"""
PING
ECHO "hello world"
SET fam:s1 hello
GET fam:s1
APPEND fam:s1 world
STRLEN fam:s1
GETRANGE fam:s1 2 6
SETRANGE fam:s1 20 xyz
GET fam:s1
SET fam:n 10
INCR fam:n
INCRBY fam:n 5
DECR fam:n
DECRBY fam:n 3
INCRBYFLOAT fam:n 1.5
GET fam:n
INCR fam:s1
SETNX fam:s1 other
SET fam:s2 v NX
SET fam:s2 w XX GET
GETSET fam:s2 z
GETDEL fam:s2
GET fam:s2
SET fam:bin "a\x00b\r\nc"
GET fam:bin
STRLEN fam:bin
MSET fam:m1 a fam:m2 b fam:m3 c
MGET fam:m1 fam:m2 fam:nope fam:m3
MSETNX fam:m1 x fam:m4 y
MSETNX fam:m5 x fam:m6 y
EXISTS fam:m1 fam:m2 fam:nope fam:m1
TYPE fam:m1
TYPE fam:nope
RENAME fam:m3 fam:m3b
RENAMENX fam:m3b fam:m1
RENAME fam:nope fam:x
TOUCH fam:m1 fam:nope
DEL fam:m1 fam:m2 fam:nope
UNLINK fam:m3b
KEYS fam:m5
KEYS nomatch*
SET fam:e v EX 100
TTL fam:e
PERSIST fam:e
TTL fam:e
EXPIRE fam:e 200
TTL fam:e
EXPIRE fam:e 300 NX
EXPIRE fam:e 300 GT
TTL fam:e
PEXPIRE fam:e 400000
TTL fam:e
EXPIREAT fam:e 4102444800
EXPIRETIME fam:e
PEXPIRETIME fam:e
TTL fam:nope
PTTL fam:nope
GETEX fam:e PERSIST
TTL fam:e
SET fam:past v
EXPIREAT fam:past 1
GET fam:past
EXPIRE fam:e notanumber
SETEX fam:sx 100 v
PSETEX fam:px 100000 v
TTL fam:sx
TTL fam:px
PEXPIREAT fam:px 4102444800000
EXPIRETIME fam:px
SETEX fam:sx -1 v
OBJECT ENCODING fam:s1
SET fam:int 12345
OBJECT ENCODING fam:int
DUMP fam:int
RESTORE fam:int2 0 "\x00\xc1\x39\x30\x0a\x00\xa4\x5d\x2b\xad\x7c\xa6\x51\x1d"
GET fam:int2
RESTORE fam:int2 0 "garbage"
SELECT 3
SET fam:db3 three
DBSIZE
GET fam:db3
EXISTS fam:s1
SELECT 0
GET fam:db3
MOVE fam:int 3
MOVE fam:int 3
SELECT 3
GET fam:int
DBSIZE
SELECT 0
SWAPDB 0 3
DBSIZE
SWAPDB 0 3
DBSIZE
SELECT 3
FLUSHDB
DBSIZE
RANDOMKEY
SET fam:r v
RANDOMKEY
DEL fam:r
SELECT 0
SELECT 99
SELECT notanumber
CONFIG GET timeout
CONFIG SET timeout 0
CONFIG GET maxmemory-policy
CONFIG SET maxmemory-policy allkeys-lru
CONFIG GET maxmemory-policy
CONFIG SET maxmemory-policy noeviction
CONFIG GET nosuchparam
CONFIG SET nosuchparam 1
CONFIG GET proto-max-bulk-len
CLIENT SETNAME famclient
CLIENT GETNAME
CLIENT SETNAME "bad name"
CLIENT GETNAME
CLIENT NOSUCHSUB
NOSUCHCOMMAND a b
GET
SET onlykey
GET fam:s1 extra
INCR fam:s1
INCRBY fam:n notanumber
SETRANGE fam:s1 -1 x
GETRANGE fam:nope 0 -1
ECHO
COMMAND INFO get
HELLO 3
GET fam:s1
MGET fam:s1 fam:nope
HELLO 2
RESET
DBSIZE
DEL fam:s1 fam:n fam:bin fam:m4 fam:m5 fam:m6 fam:e fam:past fam:sx fam:px fam:int fam:int2
DBSIZE
"""


# Transactions and the server commands that answer the same on any server
# (their multi-connection behaviour is in the admin worker): MULTI/EXEC/
# DISCARD, WATCH's errors, TIME, SLOWLOG, FUNCTION as a server without
# libraries, MEMORY (USAGE of a missing key: the size of a present one is a
# deliberate difference, README), CLIENT KILL's and AUTH's errors.
SERVER_SCRIPT = r"""
MULTI
SET tx:a 1
INCR tx:a
GET tx:a
EXEC
EXEC
DISCARD
MULTI
MULTI
SET tx:b 2
DISCARD
GET tx:b
MULTI
SET tx:c 1
NOSUCHCMD
EXEC
GET tx:c
MULTI
INCR tx:a
SET tx:a notanumber
INCR tx:a
GET tx:a
EXEC
MULTI
WATCH tx:a
EXEC
WATCH tx:a
MULTI
INCR tx:n
EXEC
UNWATCH
TIME extra
SLOWLOG
SLOWLOG NOSUCH
SLOWLOG GET -2
SLOWLOG GET notanumber
SLOWLOG HELP
FUNCTION LIST
FUNCTION STATS
FUNCTION FLUSH
FUNCTION FLUSH ASYNC
FUNCTION DUMP
FUNCTION RESTORE garbage
FUNCTION HELP
FUNCTION NOSUCH
MEMORY USAGE tx:nope
MEMORY HELP
MEMORY NOSUCH
CLIENT KILL ID 999999
CLIENT KILL ADDR 198.18.99.99:1
CLIENT KILL 198.18.99.99:1
CLIENT KILL ID notanumber
CLIENT KILL NOSUCHFILTER x
AUTH
AUTH nopass
AUTH default x
DEL tx:a tx:b tx:c tx:n
DBSIZE
"""

# DEBUG where it is allowed (a node with enable-debug-command yes, the
# reference on loopback); DEBUG DIGEST is left out: it covers the whole
# dataset, and the reference keeps none of the node's keys.
DEBUG_SCRIPT = r"""
SET dbg:k hello
SET dbg:n 12345
DEBUG SLEEP 0
DEBUG SLEEP 0.1
DEBUG DIGEST-VALUE dbg:k dbg:n dbg:nope
DEBUG ERROR "custom failure"
DEBUG LOG "from test_dpdk"
DEBUG NOSUCH
DEBUG
DEL dbg:k dbg:n
"""

# DEBUG from a client that is not on loopback (every client of the DPDK
# port): refused under enable-debug-command local, arity errors first.
REMOTE_DEBUG_SCRIPT = r"""
DEBUG SLEEP 0
DEBUG DIGEST-VALUE dbg:k
DEBUG HELP
DEBUG
"""


def family_lines(script=FAMILY_SCRIPT):
    return [ln for ln in script.strip().splitlines() if ln.strip()]


def _client_ids(text):
    """HELLO's client id depends on how many connections came before."""
    return re.sub(r"(^|\n)id(\n| )\d+(?=\n|$)", r"\1id\2<id>", text)


def compare_script(res, tgt, ref_cli, label, script, ref_name=None):
    """The script through redis-cli (one connection) against tgt and the
    reference (ref_cli(input) -> its redis-cli's CompletedProcess): the same
    output, line by line."""
    lines = family_lines(script)
    text = "\n".join(lines) + "\n"
    want = ref_cli(text)
    got = tgt.cli(timeout=60, input=text)
    wl = _client_ids(want.stdout).splitlines()
    gl = _client_ids(got.stdout).splitlines()
    ref_name = ref_name or REF_KIND
    if wl == gl and wl:
        res.ok("redis-cli %s (%d commands) same as %s" % (label, len(lines), ref_name))
        return True
    diffs = []
    for i in range(max(len(wl), len(gl))):
        a = wl[i] if i < len(wl) else "<missing>"
        b = gl[i] if i < len(gl) else "<missing>"
        if a != b:
            diffs.append("  output line %d: want %r got %r" % (i + 1, a, b))
    res.fail("redis-cli %s same as %s" % (label, ref_name),
             "%d differing lines (script: %d commands)\n%s\nstderr: %s / reference's: %s"
             % (len(diffs), len(lines), "\n".join(diffs[:25]), got.stderr[-500:], want.stderr[-300:]))
    return False


def case_families(res, tgt, ref_cli):
    """ref_cli(input) -> stdout of redis-cli against the reference."""
    compare_script(res, tgt, ref_cli, "command families", FAMILY_SCRIPT)
    compare_script(res, tgt, ref_cli, "transactions and server commands", SERVER_SCRIPT)
    # MEMORY USAGE of a present key is slotd's own cost (README): at least
    # the value's bytes, and not more than a page over them.
    val = "m" * 1000
    tgt.cli("SET", "mem:k", val)
    used = [tgt.cli("MEMORY", "USAGE", "mem:k", *x).stdout.strip() for x in ([], ["SAMPLES", "0"])]
    res.check("MEMORY USAGE of a 1000-byte value: %s" % used,
              all(u.isdigit() and len(val) <= int(u) <= len(val) + 4096 for u in used) and used[0] == used[1],
              repr(used))
    tgt.cli("DEL", "mem:k")

    # SCAN: every key exactly once, with MATCH and COUNT.
    n = 500
    args = []
    for i in range(n):
        args += ["scan:%d" % i, str(i)]
    r = tgt.cli("MSET", *args)
    want = sorted("scan:%d" % i for i in range(n))
    cp = tgt.cli("--scan", "--pattern", "scan:*")
    keys = cp.stdout.split()
    res.check("redis-cli --scan --pattern scan:* returns each of %d keys" % n,
              r.stdout.strip() == "OK" and sorted(set(keys)) == want,
              "MSET %r; %d keys back, %d distinct; stderr %s"
              % (r.stdout.strip(), len(keys), len(set(keys)), cp.stderr[-300:]))
    cursor, keys, calls = "0", [], 0
    while calls < 1000:
        cp = tgt.cli("SCAN", cursor, "MATCH", "scan:*", "COUNT", "37")
        parts = cp.stdout.split()
        calls += 1
        if not parts:
            break
        cursor, keys = parts[0], keys + parts[1:]
        if cursor == "0":
            break
    res.check("SCAN cursor MATCH scan:* COUNT 37: every key, %d calls" % calls,
              cursor == "0" and sorted(set(keys)) == want,
              "cursor %r after %d calls, %d keys, %d distinct" % (cursor, calls, len(keys), len(set(keys))))
    cp = tgt.cli("SCAN", "0", "MATCH", "nomatch*", "COUNT", "1000")
    res.check("SCAN with no match", cp.stdout.split()[1:] == [] and cp.stdout.split()[:1] in (["0"], []),
              repr(cp.stdout))
    cp = tgt.cli("DEL", *["scan:%d" % i for i in range(n)])
    res.check("DEL of %d keys" % n, cp.stdout.strip() == str(n), repr(cp.stdout))

    # INFO: sections present, keyspace agrees with DBSIZE.
    tgt.cli("SET", "info:k", "v")
    info = tgt.cli("INFO").stdout
    dbsize = tgt.cli("DBSIZE").stdout.strip()
    kv = parse_info(info)
    res.check("INFO has server, clients, memory, keyspace sections",
              all(s in info for s in ("# Server", "# Clients", "# Memory", "# Keyspace"))
              and "redis_version" in kv,
              info[:800])
    res.check("INFO keyspace db0 keys = DBSIZE (%s)" % dbsize, kv.get("db0.keys") == dbsize,
              "db0.keys=%r DBSIZE=%r" % (kv.get("db0.keys"), dbsize))
    tgt.cli("DEL", "info:k")
    dp, _ = dataplane_info(tgt)
    res.check("INFO dataplane section present", "# Dataplane" in dp or "dataplane" in dp.lower(), dp[:800])

    # CLIENT: the namespace's address and the node's, as the peer sees them.
    cp = tgt.cli("CLIENT", "INFO")
    ci = cp.stdout
    res.check("CLIENT INFO shows addr=%s:* laddr=%s:%d" % (PEER_IP, NODE_IP, tgt.port),
              ("addr=%s:" % PEER_IP) in ci and ("laddr=%s:%d" % (NODE_IP, tgt.port)) in ci, ci)
    cp = tgt.cli("CLIENT", "LIST")
    res.check("CLIENT LIST shows this client", ("addr=%s:" % PEER_IP) in cp.stdout and "cmd=client" in cp.stdout,
              cp.stdout)
    cp = tgt.cli("CLIENT", "ID")
    res.check("CLIENT ID is an integer", cp.stdout.strip().isdigit(), repr(cp.stdout))
    # Pipelined MSET/MGET over one connection (redis-cli --pipe).
    pipe = "".join(harness.encode_cmd("SET", "pipe:%d" % i, "v%d" % i).decode() for i in range(2000))
    cp = tgt.cli("--pipe", input=pipe, timeout=60)
    res.check("redis-cli --pipe, 2000 SETs", "errors: 0, replies: 2000" in cp.stdout,
              cp.stdout[-500:] + cp.stderr[-500:])
    cp = tgt.cli("MGET", *["pipe:%d" % i for i in range(0, 2000, 7)])
    res.check("MGET after --pipe", cp.stdout.split() == ["v%d" % i for i in range(0, 2000, 7)],
              cp.stdout[:300])
    tgt.cli("FLUSHALL")


# ---------------------------------------------------------------------------
# Load and verification phases (shared by the DPDK run and --selftest).

def case_ping(res, tgt, count=5, big=1400):
    """ping, then pings of big bytes of payload, not to be fragmented."""
    cp = tgt.ns.run(["ping", "-c", str(count), "-i", "0.2", "-W", "2", tgt.host], timeout=30, check=False)
    m = re.search(r"(\d+) received", cp.stdout)
    res.check("ping %s from the namespace (%d sent)" % (tgt.host, count),
              cp.returncode == 0 and m and int(m.group(1)) == count, cp.stdout[-600:] + cp.stderr[-300:])
    cp = tgt.ns.run(["ping", "-c", "3", "-i", "0.2", "-s", str(big), "-M", "do", "-W", "2", tgt.host],
                    timeout=30, check=False)
    res.check("ping with %d-byte payload (%d-byte packets, DF)" % (big, big + 28), cp.returncode == 0,
              cp.stdout[-400:] + cp.stderr[-300:])


def case_protected(res, tgt):
    """The node runs with protected-mode no (its clients are remote); turned
    on at runtime, a new client from the namespace is refused as by Redis."""
    r = tgt.worker("protected", timeout=60)
    res.check("protected-mode yes at runtime: a client from %s gets -DENIED, is closed and counted"
              % PEER_IP, r.get("ok"), r.get("detail", ""))


def case_keepalive(res, tgt):
    """tcp-keepalive on the user-space stack, as on kernel sockets."""
    r = tgt.worker("keepalive", timeout=90)
    res.check("tcp-keepalive: an idle connection is probed and kept while the peer answers, "
              "reset and freed once it stops", r.get("ok"), r.get("detail", ""))


def case_halfclose(res, tgt):
    """A paused client's peer half-closes and never reads."""
    r = tgt.worker("halfclose", timeout=90)
    res.check("half-close behind 64 MB of unread replies: the rest of the pipeline runs, the client goes",
              r.get("ok"), r.get("detail", ""))


def case_benchmark(res, tgt, n=None):
    n = n or BENCH_N
    argv = ["redis-benchmark", "-h", tgt.host, "-p", str(tgt.port), "-c", "50", "-P", "16",
            "-n", str(n), "-t", "set,get", "-q"]
    t0 = time.time()
    try:
        cp = tgt.ns.run(argv, timeout=240, check=False)
    except CmdError as e:
        res.fail("redis-benchmark -c 50 -P 16 -n %d" % n, "hung: %s" % e)
        return
    out = cp.stdout.replace("\r", "\n")
    rates = dict((m.group(1), float(m.group(2)))
                 for m in re.finditer(r"^(SET|GET): ([\d.]+) requests per second", out, re.M))
    res.check("redis-benchmark -c 50 -P 16 -n %d -t set,get (%.0fs): %s"
              % (n, time.time() - t0, ", ".join("%s %.0f/s" % kv for kv in sorted(rates.items()))),
              cp.returncode == 0 and set(rates) == {"SET", "GET"} and all(v > 0 for v in rates.values()),
              "exit %d\n%s\n%s" % (cp.returncode, out[-1500:], cp.stderr[-500:]))
    print("bench: %s" % " ".join(ln for ln in out.splitlines() if "requests per second" in ln), flush=True)


def case_keys(res, tgt, label, seed, timeout=240):
    r = tgt.worker("keys", timeout=timeout, n=N_KEYS, seed=seed)
    res.check("%s: python3-redis %d keys written and read back" % (label, N_KEYS), r.get("ok"),
              r.get("detail", "") + ("\n" + "\n".join(r.get("examples", [])) if r.get("examples") else ""))
    if r.get("ok"):
        print("  " + r["detail"], flush=True)
    return r.get("ok")


def case_values(res, tgt, label, sizes, timeout=240):
    r = tgt.worker("values", timeout=timeout, sizes=",".join(str(s) for s in sizes), seed=label.replace(" ", "_"))
    res.check("%s: values of %s bytes intact" % (label, "/".join(str(s) for s in sizes)), r.get("ok"),
              r.get("detail", ""))
    if r.get("ok"):
        print("  " + r["detail"], flush=True)


def case_conns(res, tgt, label="", n=None, timeout=300, ping_timeout=30, wave=0):
    """n connections open at once, a PING on each; the worker is killed
    after timeout seconds, and every PING must be answered within
    ping_timeout of the last one sent. wave: connects made that many at a
    time (0: one after the other)."""
    n = n or N_CONNS
    r = tgt.worker("conns", timeout=timeout, client_timeout=ping_timeout, n=n, wave=wave)
    res.check("%s%d concurrent connections, PING on each" % (label + ": " if label else "", n),
              r.get("ok"), r.get("detail", ""))
    if r.get("ok"):
        print("  " + r["detail"], flush=True)


class _RootNs:
    """Target's namespace interface for the root namespace (the reference)."""
    name = "root namespace"

    @staticmethod
    def run(argv, **kw):
        return netns.run(argv, **kw)


def case_admin(res, tgt, ref):
    """The admin worker's parts (MULTI/EXEC with WATCH, MONITOR, SLOWLOG,
    AUTH with requirepass, TIME, CLIENT KILL) over the DPDK port, each
    checked against what Redis answers and its transcript compared with the
    same worker's against the reference on loopback."""
    got = tgt.worker("admin", timeout=120, seed="adm")
    want = Target(_RootNs, "127.0.0.1", ref.port).worker("admin", timeout=120, seed="adm")
    for name, _ in ADMIN_PARTS:
        mine = (got.get("parts") or {}).get(name)
        theirs = (want.get("parts") or {}).get(name)
        if mine is None:
            res.fail("%s over the DPDK port" % name, got.get("detail", ""))
            continue
        res.check("%s over the DPDK port: as Redis answers" % name, not mine["problems"],
                  "\n".join(mine["problems"]) + "\ntranscript:\n  " + "\n  ".join(mine["transcript"]))
        if theirs is None:
            res.fail("%s: the reference's transcript" % name, want.get("detail", ""))
            continue
        diffs = ["  line %d: %s has %r, the DPDK port %r" % (i + 1, REF_KIND, a, b)
                 for i, (a, b) in enumerate(zip(theirs["transcript"], mine["transcript"])) if a != b]
        if len(theirs["transcript"]) != len(mine["transcript"]):
            diffs.append("  %d lines against %d" % (len(theirs["transcript"]), len(mine["transcript"])))
        res.check("%s over the DPDK port: same transcript as %s on loopback (%d lines)"
                  % (name, REF_KIND, len(mine["transcript"])), not diffs,
                  "\n".join(diffs[:20]) + ("\nreference's own problems: %s" % theirs["problems"]
                                            if theirs["problems"] else ""))
    # Whatever happened above, the node must be open again.
    cp = tgt.cli("PING")
    res.check("after the admin parts: PING without AUTH answers PONG (requirepass back to \"\")",
              cp.stdout.strip() == "PONG", cp.stdout + cp.stderr)


class NsRedis:
    """A redis-server in namespace ns on host:port (a with block): started,
    answering PING, stopped at the end."""

    def __init__(self, ns, host, port):
        self.ns, self.host, self.port = ns, host, port
        self.srv = None

    def __enter__(self):
        logp = os.path.join(harness.logdir(), "ns-redis-%s-%d.log" % (self.host, self.port))
        log = open(logp, "wb")
        self.srv = subprocess.Popen(self.ns.argv(["redis-server", "--bind", self.host, "--port", str(self.port),
                                                  "--save", "", "--appendonly", "no", "--protected-mode", "no",
                                                  "--enable-debug-command", "local"]),
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=harness.logdir(), preexec_fn=_die_with_parent)
        log.close()
        red = Target(self.ns, self.host, self.port)
        deadline = time.time() + 10
        while red.cli("PING", timeout=5).stdout.strip() != "PONG":
            if time.time() > deadline or self.srv.poll() is not None:
                self.__exit__()
                raise RuntimeError("redis-server in %s on %s:%d did not answer PING"
                                   % (self.ns.name, self.host, self.port))
            time.sleep(0.1)
        return red

    def __exit__(self, *exc):
        self.srv.terminate()
        try:
            self.srv.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.srv.kill()
            self.srv.wait()


def case_migrate(res, ns, tgt):
    """MIGRATE both ways between slotd and a redis-server inside the namespace:
    slotd's outbound link is a kernel socket of its control plane, so it
    leaves through the exception TAP; redis-server's RESTOREs arrive on the
    data path. Then the same redis-server is the reference for DEBUG from a
    remote client."""
    port = 6390
    with NsRedis(ns, PEER_IP, port) as red:
        big = "v" * 100000
        tgt.cli("SET", "mig:out", big)
        out = tgt.cli("MIGRATE", PEER_IP, str(port), "mig:out", "0", "5000").stdout.strip()
        res.check("MIGRATE slotd -> redis-server in the namespace (control plane via the exception TAP)",
                  out == "OK" and red.cli("STRLEN", "mig:out").stdout.strip() == str(len(big))
                  and tgt.cli("EXISTS", "mig:out").stdout.strip() == "0", out)
        red.cli("SET", "mig:in", big)
        back = red.cli("MIGRATE", NODE_IP, str(tgt.port), "mig:in", "0", "5000").stdout.strip()
        res.check("MIGRATE redis-server in the namespace -> slotd (RESTORE on the data path)",
                  back == "OK" and tgt.cli("STRLEN", "mig:in").stdout.strip() == str(len(big))
                  and red.cli("EXISTS", "mig:in").stdout.strip() == "0", back)
        info = tgt.cli("INFO", "stats").stdout
        res.check("INFO migrate_cached_sockets:1 after the MIGRATE", "migrate_cached_sockets:1" in info,
                  [ln for ln in info.splitlines() if ln.startswith("migrate_cached")])
        # A client of the DPDK port is never local: with enable-debug-command
        # local, DEBUG is refused as this redis-server refuses its own remote
        # client (both reached from the namespace at their 198.18 address).
        compare_script(res, tgt, lambda text: red.cli(input=text), "DEBUG from a remote client "
                       "(enable-debug-command local)", REMOTE_DEBUG_SCRIPT, ref_name="redis-server in the namespace")


def stop_check(res, node, label, taps_too=True):
    """SIGTERM the node and check a clean exit: status 0, no sanitizer
    report (leaks are reported at exit) and, with taps_too, both TAPs gone.
    Returns the TAPs left behind."""
    rc, left = node.stop()
    san = node.sanitizer_report()
    gone = not left or not taps_too
    res.check("%s: slotd exits 0 on SIGTERM%s" % (label, ", both TAPs gone" if taps_too else ""),
              rc == 0 and gone and not san,
              "exit status %s, left %s\n%s" % (rc, left, san or node.log_tail()))
    return left


def alive_check(res, node, label):
    if node is None:
        return True
    ok = node.alive()
    res.check("%s: slotd alive" % label, ok, "" if ok else "exit %s:\n%s" % (node.proc.returncode, node.log_tail()))
    san = node.sanitizer_report()
    if san:
        res.fail("%s: sanitizer report in slotd's log" % label, san)
    return ok


# ---------------------------------------------------------------------------

def preflight():
    """(skip_reason, missing_tools)."""
    if os.geteuid() != 0:
        return "not root: network namespaces and TAP devices need root", []
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun: this kernel or container has no TUN/TAP", []
    missing = [t for t in ("ip", "nft", "ping", "redis-cli", "redis-benchmark")
               if not any(os.access(os.path.join(d, t), os.X_OK)
                          for d in os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").split(":") + ["/usr/sbin", "/sbin"])]
    return None, missing


_stopping = []


def _on_signal(signum, frame):
    if _stopping:
        return              # already unwinding: let the teardown finish
    _stopping.append(signum)
    raise SystemExit(128 + signum)


KERNEL_TCP_COUNTERS = ("TcpRetransSegs", "TcpExtTCPTimeouts", "TcpExtTCPLossProbes",
                       "TcpExtTCPSackRecovery", "TcpExtTCPRenoRecovery", "TcpExtTCPSpuriousRTOs")


def kernel_tcp_counters(ns):
    """The namespace kernel's TCP loss-recovery counters (nstat, absolute,
    history untouched): how the clients' side recovered."""
    cp = ns.run(["nstat", "-asz"] + list(KERNEL_TCP_COUNTERS), check=False)
    out = {}
    for line in cp.stdout.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0] in KERNEL_TCP_COUNTERS and f[1].isdigit():
            out[f[0]] = int(f[1])
    return out


def verify_again(res, tgt, label, seed):
    """The clean phase's verification once more, under whatever the caller
    injects: the keys, the values (64 MB but in --quick) and a burst of
    BURST_CONNS concurrent connections, each with a bounded time. Returns
    the seconds each took."""
    t = [time.time()]
    case_keys(res, tgt, label, seed, timeout=420)
    t.append(time.time())
    case_values(res, tgt, label, VALUE_SIZES, timeout=300)
    t.append(time.time())
    case_conns(res, tgt, label, n=BURST_CONNS, timeout=180, ping_timeout=60, wave=BURST_WAVE)
    t.append(time.time())
    return [b - a for a, b in zip(t, t[1:])]


def keys_under_loss(res, ns, tgt, label):
    """verify_again under LOSS_PCT random loss both ways, inside the
    namespace only (the rules always removed); prints the phase's time and
    what the clients' kernel did to recover, checks nftables dropped both
    ways."""
    kern0 = kernel_tcp_counters(ns)
    ns.loss_on(LOSS_PCT)
    t0 = time.time()
    try:
        took = verify_again(res, tgt, "%s%d%% loss" % (label, LOSS_PCT), "b")
        dropped = ns.loss_counters()
    finally:
        ns.loss_off()
    kern1 = kernel_tcp_counters(ns)
    print("  %s%d%% loss phase %.1fs: keys %.1fs, values %.1fs, %d connections %.1fs"
          % (label, LOSS_PCT, time.time() - t0, took[0], took[1], BURST_CONNS, took[2]), flush=True)
    print("  the clients' kernel in the loss phase: "
          + ", ".join("%s +%d" % (k, kern1[k] - kern0.get(k, 0)) for k in sorted(kern1)), flush=True)
    res.check("%snftables dropped packets both ways (in %d, out %d)" % ((label,) + dropped),
              dropped[0] > 0 and dropped[1] > 0)


def run_loss_phase(res, ns, tgt, node, dp_before):
    """keys_under_loss against slotd, with what the stack's recovery counters
    did in it."""
    rt0 = core_counter(dp_before, "retransmits", r"retrans")
    keys_under_loss(res, ns, tgt, "")
    dptext, dp2 = dataplane_info(tgt)
    rt1 = core_counter(dp2, "retransmits", r"retrans")
    deltas = []
    for name in ("retransmits", "fast_retransmits", "early_retransmits", "rto_fired", "tlp_sent",
                 "limited_transmits", "sack_recoveries", "sack_retransmits", "sack_rxt_lost",
                 "sack_blocks_sent"):
        a = counter_sum(dp_before, r"^(dp_)?tcp_%s$" % name)
        b = counter_sum(dp2, r"^(dp_)?tcp_%s$" % name)
        if a is not None and b is not None:
            deltas.append("%s +%d" % (name, b - a))
    print("  stack recovery in the loss phase: " + (", ".join(deltas) or "no counters"), flush=True)
    res.check("INFO dataplane retransmits grew under loss (%s -> %s)" % (rt0, rt1),
              rt0 is not None and rt1 is not None and rt1 > rt0, dptext)
    print("INFO dataplane after the loss phase:\n" + dptext, flush=True)
    alive_check(res, node, "after loss")



# ---------------------------------------------------------------------------
# Start-up checks: slotd must refuse to start, say what to do, and leave
# nothing behind.

STARTUP_TIMEOUT = 15         # "promptly": EAL start-up takes about 0.2 s here
# An empty capture (pcap global header only): net_pcap reads it as the RX
# side of a port that has exactly one queue pair, which net_tap (16 queues,
# fixed at build time, no devarg) and net_ring (16) cannot be made to have.
EMPTY_PCAP = bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000")


def free_hugepages():
    """Free hugepages of every size, as slotd's own check counts them."""
    total = 0
    base = "/sys/kernel/mm/hugepages"
    for d in os.listdir(base) if os.path.isdir(base) else []:
        try:
            total += _read_int(os.path.join(base, d, "free_hugepages"))
        except (OSError, ValueError):
            pass
    return total


def startup_refused(res, ns, label, suffix, eal, extra, keywords, excuse=None):
    """Start slotd in ns with EAL arguments eal (the --file-prefix added)
    and expect: exit status 1 within STARTUP_TIMEOUT, every keyword in its
    output, none of its interfaces left in ns, EAL cleaned up (no socket
    left in its runtime directory, which the test then removes; a killed
    EAL leaves mp_socket and dpdk_telemetry.v2 there). excuse(): a reason
    (or None) why a start that got further is no fault of slotd's; the
    check is then skipped with it."""
    pid = os.getpid()
    prefix = EAL_PREFIX + str(pid) + suffix
    port_if, exc_if = "sdy%d" % pid, "sdx%d" % pid
    argv = [harness.SLOTD_BIN, "--port", str(harness.free_port()), "--bind", "127.0.0.1", "--save", "",
            "--protected-mode", "no", "--dataplane", "dpdk",
            "--dpdk-eal-args", "%s --no-pci --file-prefix %s" % (eal.replace("IFACE", port_if), prefix),
            "--dpdk-ip", "%s/%d" % (NODE_IP, PREFIX_LEN), "--dpdk-tap", exc_if] + extra
    t0 = time.time()
    try:
        cp = ns.run(argv, timeout=STARTUP_TIMEOUT, check=False)
        rc, out = cp.returncode, cp.stdout + cp.stderr
    except CmdError as e:
        rc, out = None, str(e)
    took = time.time() - t0
    msg = [ln for ln in out.splitlines() if "# DPDK:" in ln]
    missing = [k for k in keywords if k not in out]
    why = excuse() if excuse and (rc != 1 or missing) else None
    if why:
        print("SKIP start-up check, %s: %s" % (label, why), flush=True)
    else:
        res.check("start-up check, %s: slotd exits 1 in %.1fs, saying %s"
                  % (label, took, " / ".join(repr(k) for k in keywords)),
                  rc == 1 and not missing,
                  "exit status %s (None: still running after %ds, killed); missing %s\n%s"
                  % (rc, STARTUP_TIMEOUT, missing, out[-2500:]))
    if msg:
        print("  " + msg[-1].split("DPDK: ", 1)[-1], flush=True)
    left = [n for n in (port_if, exc_if) if netns.link_exists(n, ns=ns.name)]
    d = runtime_dir(prefix)
    sockets = sorted(f for f in (os.listdir(d) if d else [])
                     if not os.path.isfile(os.path.join(d, f)) or f.endswith("socket"))
    runtime_dir_cleanup(prefix)
    res.check("start-up check, %s: nothing left (interfaces, EAL sockets; runtime directory %s)"
              % (label, "removed" if d else "never made"),
              not left and not sockets and runtime_dir(prefix) is None,
              "interfaces %s, in %s: %s, directory now %s" % (left, d, sockets, runtime_dir(prefix)))


def run_startup_checks(res, ns):
    """slotd --dataplane dpdk refusing to start: (a) no hugepages without
    --no-huge, (b) a dpdk-port EAL does not have, (c) more data cores than
    the port has queue pairs. Run in the namespace, so that whatever slotd
    might create is there."""
    # (a) slotd checks before it starts EAL: nothing may be made at all.
    free = free_hugepages()
    if free:
        print("SKIP start-up check without hugepages: this host has %d free hugepages (not changed "
              "by the test)" % free, flush=True)
    else:
        startup_refused(res, ns, "no --no-huge, no free hugepages", "a",
                        "-m 64 -l 0,1 --vdev=net_pcap0,rx_pcap=%s,tx_pcap=%s" % pcap_files(),
                        [], ["no free hugepages", "nr_hugepages", "mount -t hugetlbfs", "--no-huge"],
                        excuse=lambda: ("%d hugepages became free while it ran (another run's?)"
                                        % free_hugepages()) if free_hugepages() else None)
    # (b) net_tap makes its interface in EAL start-up; gone again with EAL.
    startup_refused(res, ns, "dpdk-port net_tap9 that EAL does not have", "b",
                    "--no-huge -m 256 -l 0,1 --vdev=net_tap0,iface=IFACE", ["--dpdk-port", "net_tap9"],
                    ["port 'net_tap9' not found", "EAL sees: net_tap0 (port 0)"])
    # (c) two worker lcores (data cores) on a port with one queue pair.
    cpus = sorted(os.sched_getaffinity(0))
    lcores = ",".join("%d@%d" % (i, cpus[i % len(cpus)]) for i in range(3))
    startup_refused(res, ns, "2 data cores, a port with 1 queue pair", "c",
                    "--no-huge -m 256 --lcores %s --vdev=net_pcap0,rx_pcap=%s,tx_pcap=%s"
                    % ((lcores,) + pcap_files()), [],
                    ["port net_pcap0 has 1 RX and 1 TX queues", "one pair per data core (2)",
                     "give EAL at most 1 worker lcore"])


def pcap_files():
    """(rx, tx) capture files for a net_pcap port with one queue pair."""
    rx = os.path.join(harness.logdir(), "empty.pcap")
    if not os.path.exists(rx):
        with open(rx, "wb") as f:
            f.write(EMPTY_PCAP)
    return rx, os.path.join(harness.logdir(), "out.pcap")


# ---------------------------------------------------------------------------
# Hugepage mode and two data cores.

HUGE_NR = "/proc/sys/vm/nr_hugepages"
HUGE_FREE = "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"
_huge = []      # reservations not yet released: the teardown releases them


def _read_int(path):
    with open(path) as f:
        return int(f.read().split()[0])


def _write_int(path, v):
    with open(path, "w") as f:
        f.write("%d\n" % v)


class Hugepages:
    """2 MB pages added to nr_hugepages for this run and a hugetlbfs mount on
    a directory of our own. release() undoes both whatever happened; it takes
    back only the pages it added (another user's change in between stays)."""

    def __init__(self):
        self.before = None
        self.added = 0
        self.dir = None
        self.mounted = False

    def reserve(self, n):
        """None, or why the pages cannot be had (the phase is then skipped)."""
        if not os.path.exists(HUGE_FREE):
            return "this kernel has no 2 MB hugepages (%s missing)" % HUGE_FREE
        _huge.append(self)
        self.before = _read_int(HUGE_NR)
        self.added = None           # not known yet: release() goes back to `before`
        try:
            _write_int(HUGE_NR, self.before + n)
        except OSError as e:
            self.added = 0
            return "cannot write %s: %s" % (HUGE_NR, e)
        self.added = max(0, _read_int(HUGE_NR) - self.before)
        free = _read_int(HUGE_FREE)
        need = HUGE_EAL_MB // 2 + 16
        if free < need:
            return ("the kernel gave %d of %d more 2 MB pages (%d free, EAL -m %d needs %d): memory too "
                    "fragmented or limited" % (self.added, n, free, HUGE_EAL_MB, need))
        self.dir = tempfile.mkdtemp(prefix="slotd-huge-%d-" % os.getpid())
        cp = subprocess.run(["mount", "-t", "hugetlbfs", "-o", "pagesize=2M", "nodev", self.dir],
                            capture_output=True, text=True)
        if cp.returncode != 0:
            return "mount -t hugetlbfs on %s: %s" % (self.dir, cp.stderr.strip())
        self.mounted = True
        return None

    def release(self):
        """What could not be undone (empty: all of it)."""
        left = []
        if self.mounted:
            for argv in (["umount", self.dir], ["umount", "-l", self.dir]):
                if subprocess.run(argv, capture_output=True).returncode == 0:
                    self.mounted = False
                    break
                time.sleep(0.5)
            if self.mounted:
                left.append("hugetlbfs still mounted on %s" % self.dir)
        if self.dir and not self.mounted:
            try:
                os.rmdir(self.dir)
                self.dir = None
            except OSError as e:
                left.append("directory %s: %s" % (self.dir, e))
        if self.before is not None:
            try:
                want = self.before if self.added is None else max(0, _read_int(HUGE_NR) - self.added)
                _write_int(HUGE_NR, want)
                if _read_int(HUGE_NR) != want:
                    left.append("nr_hugepages is %d, not %d" % (_read_int(HUGE_NR), want))
                self.before = None
            except OSError as e:
                left.append("nr_hugepages not restored: %s" % e)
        if self in _huge and not left:
            _huge.remove(self)
        return left


def run_hugepages(res, ns, port):
    """slotd with EAL memory from hugepages the test reserved and mounted."""
    hp = Hugepages()
    node = None
    try:
        why = hp.reserve(HUGE_PAGES_ADD)
        if why:
            print("SKIP hugepage phase: %s" % why, flush=True)
            return
        free0 = _read_int(HUGE_FREE)
        print("hugepages: nr_hugepages %d -> %d, hugetlbfs on %s"
              % (hp.before, hp.before + hp.added, hp.dir), flush=True)
        node = DpdkNode(ns, port, tag="huge", huge_dir=hp.dir).start()
        used = free0 - _read_int(HUGE_FREE)
        res.check("hugepages: slotd up on %s, EAL holds %d 2 MB pages (-m %d), PONG from %s (%.1fs)"
                  % (hp.dir, used, HUGE_EAL_MB, NODE_IP, node.ready_secs),
                  used >= HUGE_EAL_MB // 2 and "--no-huge" not in node.eal_args(),
                  "free pages %d before start, %d now; EAL args %s\n%s"
                  % (free0, _read_int(HUGE_FREE), node.eal_args(), node.log_tail(20)))
        tgt = Target(ns, NODE_IP, port)
        got = [tgt.cli(*c).stdout.strip() for c in (["PING"], ["SET", "huge:k", "v1"], ["GET", "huge:k"])]
        res.check("hugepages: PING, SET, GET", got == ["PONG", "OK", "v1"], repr(got))
        case_values(res, tgt, "hugepages", [1 << 20], timeout=120)
        r = tgt.worker("keys", timeout=120, n=500, seed="huge")
        res.check("hugepages: python3-redis 500 keys written and read back, MGET", r.get("ok"),
                  r.get("detail", ""))
        dptext, dp = dataplane_info(tgt)
        rx = core_counter(dp, "rx_packets", r"rx_packets")
        tx = core_counter(dp, "tx_packets", r"tx_packets")
        res.check("hugepages: INFO dataplane rx/tx packets > 0 (rx %s, tx %s)" % (rx, tx),
                  rx and tx, dptext)
        alive_check(res, node, "hugepages")
        stop_check(res, node, "hugepages")
        node = None
    finally:
        if node is not None:
            node.stop()
        before = hp.before
        left = hp.release()
        if before is not None:
            res.check("hugepages: hugetlbfs unmounted, directory removed, nr_hugepages back to %d (now %d)"
                      % (before, _read_int(HUGE_NR)), not left, "\n".join(left))


def run_two_cores(res, ns, port):
    """Two data cores, one net_tap queue pair each; clients from the
    namespace spread over both by the kernel's TAP queue choice."""
    node = DpdkNode(ns, port, extra=["--threads", "2"], tag="2cores", workers=2)
    try:
        node.start()
        log = node.log_text()
        up = re.search(r"DPDK: port \S+ \(([^)]*)\) up: (\d+) queue pairs?[^\n]*", log)
        res.check("two cores: slotd --threads 2 up, EAL %s, port with 2 queue pairs (%.1fs)"
                  % (node.eal_args().split(" --vdev")[0], node.ready_secs),
                  up is not None and up.group(2) == "2" and "is ignored with dataplane dpdk" not in log,
                  "\n".join(ln for ln in log.splitlines() if "DPDK" in ln or "threads" in ln))
        if up:
            print("  " + up.group(0).split("DPDK: ", 1)[-1], flush=True)
        tgt = Target(ns, NODE_IP, port)
        case_ping(res, tgt, count=3)
        r = tgt.worker("many", timeout=180, n=MANY_CLIENTS, per=MANY_PER, seed="mc")
        res.check("two cores: %d concurrent clients, each key verified; MSET/MGET across both cores"
                  % MANY_CLIENTS, r.get("ok"), r.get("detail", ""))
        if r.get("ok"):
            print("  " + r["detail"], flush=True)
        case_benchmark(res, tgt, n=MQ_BENCH_N)
        # Keys owned by each core, one command each way, from one connection.
        keys = ["xc:%d" % i for i in range(400)]
        owners = [core_of_key(k, 2) for k in keys]
        args = []
        for k in keys:
            args += [k, "v" + k]
        ms = tgt.cli("MSET", *args).stdout.strip()
        mg = tgt.cli("MGET", *keys).stdout.split()
        dl = tgt.cli("DEL", *keys).stdout.strip()
        res.check("two cores: redis-cli MSET/MGET/DEL of 400 keys (%d on core 0, %d on core 1)"
                  % (owners.count(0), owners.count(1)),
                  ms == "OK" and mg == ["v" + k for k in keys] and dl == "400" and 0 < owners.count(0) < 400,
                  "MSET %r, MGET %d values (%d right), DEL %r"
                  % (ms, len(mg), sum(1 for a, k in zip(mg, keys) if a == "v" + k), dl))
        dptext, dp = dataplane_info(tgt)
        per = [(counter_sum(dp, r"^core%d\.rx_packets$" % k), counter_sum(dp, r"^core%d\.conns_total$" % k))
               for k in (0, 1)]
        res.check("two cores: INFO dataplane has a line per core", all(x[0] is not None for x in per), dptext)
        # A segment reaching the core that does not own its connection would
        # find no connection there and be answered with RST. So may, rightly
        # (RFC 9293 3.10.7.1), the client's answer to a segment we sent twice
        # (a loss probe of our FIN, sent while the ACK was on its way) once
        # that ACK closed the connection: one at most per retransmission.
        rst = counter_sum(dp, r"^dp_tcp_rsts_sent$")
        rxt = counter_sum(dp, r"^dp_tcp_retransmits$") or 0
        res.check("two cores: no RST but answers to our own retransmissions (%s RST, %s retransmitted): "
                  "no segment reached a core not owning its connection" % (rst, rxt),
                  rst is not None and rst <= rxt, dptext)
        spread = "core0 rx %s packets / %s connections, core1 rx %s packets / %s connections" \
                 % (per[0][0], per[0][1], per[1][0], per[1][1])
        if all(x[0] and x[1] for x in per):
            res.ok("two cores: the kernel's TAP queue choice spread the clients over both cores (%s)" % spread)
        else:
            print("NOTE two cores: all client traffic landed on one queue (%s); the cross-core commands "
                  "above still ran under the barrier" % spread, flush=True)
        print("INFO dataplane with two cores:\n" + dptext, flush=True)
        alive_check(res, node, "two cores")
        stop_check(res, node, "two cores")
    finally:
        node.stop()


# The port options node: dpdk-mac, dpdk-mtu and dpdk-gateway at once.
OPT_MAC = "02:5d:00:00:00:02"   # locally administered (bit 1 of the first byte), unicast
OPT_PEER_MAC = "02:5d:00:00:00:01"  # the namespace's side (net_tap would give it the node's)
OPT_MTU = 1280                  # net_tap takes 46..1504 (its frames are 1522 bytes at most)
GW_NET = "198.19.254"           # a second subnet, on the namespace's loopback, off the node's
HOSTGW_NET = "198.19.253"       # the "host's" own default route in slotd's namespace


def run_port_options(res, ns, port, ref_cli):
    """slotd with dpdk-mac, dpdk-mtu and dpdk-gateway, in a namespace of its
    own: dpdk-gateway makes a default route through the exception TAP (of
    the least preference, metric 4096, so a host's own keeps its traffic;
    checked here), which this test keeps out of the root namespace. From the client namespace: the node's neighbour
    entry carries dpdk-mac; both directions of a 1 MB SET/GET stay within
    dpdk-mtu (the MSS each side uses, every IP packet the node sends);
    MIGRATE to a redis-server on a second subnet, off the node's, goes out
    through the gateway, whose route yields to a default route the host
    has. Also DEBUG where enable-debug-command yes allows
    it, against the reference."""
    home = Netns("-s").create()
    node = DpdkNode(ns, port, tag="options", home=home, peer_mac=OPT_PEER_MAC,
                    extra=["--dpdk-mac", OPT_MAC, "--dpdk-mtu", str(OPT_MTU), "--dpdk-gateway", PEER_IP,
                           "--enable-debug-command", "yes"])
    try:
        node.start()
        tgt = Target(ns, NODE_IP, port)
        log = node.log_text()
        up = re.search(r"DPDK: port \S+ \([^)]*\) up: [^\n]*", log)
        res.check("options: slotd up with dpdk-mac %s, dpdk-mtu %d, dpdk-gateway %s (%.1fs)"
                  % (OPT_MAC, OPT_MTU, PEER_IP, node.ready_secs),
                  up is not None and ("MTU %d, MAC %s" % (OPT_MTU, OPT_MAC)) in up.group(0),
                  "\n".join(ln for ln in log.splitlines() if "DPDK" in ln or "xception" in ln))
        exc = home.run(["ip", "-o", "link", "show", node.exc_if], check=False).stdout
        res.check("options: the exception TAP carries the MAC and MTU", ("mtu %d " % OPT_MTU) in exc
                  and ("link/ether %s " % OPT_MAC) in exc, exc)
        cfg = tgt.cli("CONFIG", "GET", "dpdk-*").stdout.split()
        cfg = dict(zip(cfg[0::2], cfg[1::2]))
        _, dp = dataplane_info(tgt)
        res.check("options: CONFIG GET dpdk-mac/-mtu/-gateway and INFO dataplane dpdk_mtu",
                  cfg.get("dpdk-mac") == OPT_MAC and cfg.get("dpdk-mtu") == str(OPT_MTU)
                  and cfg.get("dpdk-gateway") == PEER_IP and dp.get("dpdk_mtu") == str(OPT_MTU),
                  "%s; dpdk_mtu %s" % (cfg, dp.get("dpdk_mtu")))

        # dpdk-mac: what the node's ARP replies carry.
        ns.run(["ip", "neigh", "flush", "dev", node.port_if], check=False)
        case_ping(res, tgt, count=2, big=OPT_MTU - 28)
        # One byte over the MTU (the namespace's side has 1500): not answered,
        # counted as such.
        cp = ns.run(["ping", "-c", "2", "-i", "0.2", "-s", str(OPT_MTU - 27), "-M", "do", "-W", "1",
                     NODE_IP], timeout=30, check=False)
        _, dpm = dataplane_info(tgt)
        res.check("options: a %d-byte ping (over dpdk-mtu) is not answered, drop ip_too_big %s"
                  % (OPT_MTU + 1, dpm.get("dp_drop_ip_too_big")),
                  cp.returncode != 0 and int(dpm.get("dp_drop_ip_too_big", 0)) >= 2,
                  cp.stdout[-400:] + cp.stderr[-300:])
        neigh = ns.run(["ip", "neigh", "show", NODE_IP, "dev", node.port_if], check=False).stdout
        own = ns.run(["ip", "-o", "link", "show", node.port_if], check=False).stdout
        res.check("options: the namespace's neighbour entry for %s is %s (its own side %s)"
                  % (NODE_IP, OPT_MAC, OPT_PEER_MAC),
                  ("lladdr %s " % OPT_MAC) in neigh + " " and ("link/ether %s " % OPT_PEER_MAC) in own,
                  "neighbour: %r; link: %r" % (neigh, own))

        # dpdk-mtu: the namespace's side keeps 1500; every packet from the node
        # is counted by size while 1 MB goes each way.
        big = OPT_MTU - 80
        ns.run(["nft", "-f", "-"], input="table ip slotdmtu {\n chain in { type filter hook input priority 0; "
               "policy accept;\n  ip saddr %s ip length > %d counter\n  ip saddr %s ip length > %d counter\n"
               " }\n}\n" % (NODE_IP, OPT_MTU, NODE_IP, big))
        try:
            r = tgt.worker("mtu", timeout=60, n=1 << 20)
            out = ns.run(["nft", "list", "table", "ip", "slotdmtu"], check=False).stdout
        finally:
            ns.run(["nft", "delete", "table", "ip", "slotdmtu"], check=False)
        counts = [int(x) for x in re.findall(r"counter packets (\d+)", out)]
        res.check("options: a 1 MB value round-trips intact at dpdk-mtu %d" % OPT_MTU, r.get("ok"),
                  r.get("detail", ""))
        mss = OPT_MTU - 40
        res.check("options: the connection's MSS fits dpdk-mtu: the client sends <= %d (%s), receives <= %d (%s)"
                  % (mss, r.get("snd_mss"), mss, r.get("rcv_mss")),
                  r.get("snd_mss") and r.get("rcv_mss") and 1000 < r["snd_mss"] <= mss
                  and 1000 < r["rcv_mss"] <= mss, r.get("detail", ""))
        res.check("options: no IP packet from the node over %d bytes (%s), and some over %d (%s)"
                  % (OPT_MTU, counts[0] if counts else None, big, counts[1] if len(counts) > 1 else None),
                  len(counts) == 2 and counts[0] == 0 and counts[1] > 0, out)

        # dpdk-gateway: the default route it adds, and a connection through it.
        route = home.run(["ip", "route", "get", GW_NET + ".1"], check=False).stdout
        res.check("options: in slotd's namespace %s.1 is routed via %s on the exception TAP"
                  % (GW_NET, PEER_IP), ("via %s dev %s " % (PEER_IP, node.exc_if)) in route, route)
        ns.run(["ip", "addr", "add", netns.check_addr(GW_NET + ".1/32"), "dev", "lo"])
        with NsRedis(ns, GW_NET + ".1", 6391) as red:
            val = "g" * 10000
            tgt.cli("SET", "gw:k", val)
            out = tgt.cli("MIGRATE", GW_NET + ".1", "6391", "gw:k", "0", "5000")
            res.check("options: MIGRATE to redis-server at %s.1 (off the node's subnet, via dpdk-gateway)"
                      % GW_NET, out.stdout.strip() == "OK" and red.cli("STRLEN", "gw:k").stdout.strip()
                      == str(len(val)), out.stdout + out.stderr)

        # A default route of the host's own (here: through one end of a veth
        # pair, at the usual metric 100; this kernel has no dummy links) keeps
        # precedence over the TAP's: route lookups only, nothing is sent.
        home.run(["ip", "link", "add", "slotdhost0", "type", "veth", "peer", "name", "slotdhost1"])
        home.run(["ip", "link", "set", "slotdhost1", "up"])
        home.run(["ip", "addr", "add", netns.check_addr(HOSTGW_NET + ".1/24"), "dev", "slotdhost0"])
        home.run(["ip", "link", "set", "slotdhost0", "up"])
        home.run(["ip", "route", "add", "default", "via", netns.check_addr(HOSTGW_NET + ".2"),
                  "dev", "slotdhost0", "metric", "100"])
        routes = home.run(["ip", "route", "show", "default"], check=False).stdout
        route = home.run(["ip", "route", "get", GW_NET + ".1"], check=False).stdout
        res.check("options: the TAP's default route is the least preferred (metric 4096): "
                  "a host default route of metric 100 keeps the traffic",
                  ("via %s dev %s metric 4096" % (PEER_IP, node.exc_if)) in routes
                  and ("dev slotdhost0 " in route), routes + route)

        # DEBUG, allowed to remote clients by enable-debug-command yes.
        compare_script(res, tgt, ref_cli, "DEBUG with enable-debug-command yes", DEBUG_SCRIPT)
        alive_check(res, node, "options")
        stop_check(res, node, "options")
    finally:
        node.stop()
        ns.run(["ip", "addr", "del", GW_NET + ".1/32", "dev", "lo"], check=False)
        home.delete()


class MemifNode(DpdkNode):
    """slotd on the server side of a net_memif port, in namespace ns (where
    its exception TAP is made), set up as scripts/bench-dpdk.sh does: both
    lcores on one CPU, --no-huge -m 512, a --file-prefix of its own, the
    memif socket at a path."""

    def __init__(self, ns, port, sock, cpu):
        DpdkNode.__init__(self, ns, port, tag="memif")
        self.sock = sock
        self.cpu = cpu
        self.prefix = EAL_PREFIX + str(os.getpid()) + "m"

    def eal_args(self):
        return ("--lcores 0@%d,1@%d --no-huge -m 512 --file-prefix %s --no-pci --log-level=lib.eal:error "
                "--vdev=net_memif0,role=server,socket=%s,socket-abstract=no"
                % (self.cpu, self.cpu, self.prefix, self.sock))

    def argv(self):
        return [harness.SLOTD_BIN, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--protected-mode", "no", "--dataplane", "dpdk", "--dpdk-eal-args", self.eal_args(),
                "--dpdk-ip", "%s/%d" % (NODE_IP, PREFIX_LEN), "--dpdk-tap", self.exc_if]

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="memif-", dir=harness.logdir())
        self.log_path = os.path.join(self.dir, "slotd-memif.log")
        log = open(self.log_path, "wb")
        # ip netns exec execs slotd: the PID is slotd's
        self.proc = subprocess.Popen(self.ns.argv(self.argv()), stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.dir, preexec_fn=_die_with_parent)
        log.close()
        self.pid = self.proc.pid
        _nodes.append(self)
        t0 = time.time()
        while not (os.path.exists(self.sock) and "Ready to accept connections" in self.log_text()):
            if self.proc.poll() is not None:
                raise RuntimeError("slotd (memif) exited with %s during start-up:\n%s"
                                   % (self.proc.returncode, self.log_tail()))
            if time.time() > t0 + START_TIMEOUT:
                raise RuntimeError("slotd (memif): no socket %s and 'Ready to accept connections' within "
                                   "%ss:\n%s" % (self.sock, START_TIMEOUT, self.log_tail()))
            time.sleep(0.05)
        self.ready_secs = time.time() - t0
        return self


MEMIF_LOAD_RUNS = ((20, 8, 200000), (20, 1, 50000))   # (-c, -P, -n), each -t set,get


def run_memif(res):
    """slotd on a net_memif server port, slotd-load (the stack's active
    open, dataplane/load/worker.c) on the client side, both in a namespace
    of their own, as scripts/bench-dpdk.sh runs them: a short pipelined and
    an unpipelined SET then GET; every reply checked by slotd-load (errors
    0, each test all its requests), slotd alive after each and exiting 0."""
    load_bin = os.path.join(os.path.dirname(os.path.abspath(harness.SLOTD_BIN)), "slotd-load")
    if not os.access(load_bin, os.X_OK):
        res.fail("memif: slotd-load beside slotd", "%s is missing: it is built with slotd "
                 "(ninja -C %s)" % (load_bin, os.path.dirname(load_bin)))
        return
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu, client_cpu = cpus[-1], cpus[0]     # one each, as bench-dpdk.sh (the same with one CPU)
    mns = Netns("-m").create()
    node = None
    try:
        port = 6379
        node = MemifNode(mns, port, os.path.join(harness.logdir(), "memif-%d.sock" % os.getpid()),
                         server_cpu).start()
        res.ok("memif: slotd up on net_memif0 (server), socket %s (%.1fs)" % (node.sock, node.ready_secs))
        tel = os.path.join(runtime_dir(node.prefix) or "/var/run/dpdk/" + node.prefix, "dpdk_telemetry.v2")
        eal = ("--lcores 0@%d,1@%d --no-huge -m 256 --file-prefix %sl --no-telemetry --no-pci "
               "--log-level=lib.eal:error --vdev=net_memif0,role=client,socket=%s,socket-abstract=no"
               % (client_cpu, client_cpu, EAL_PREFIX + str(os.getpid()), node.sock))
        for i, (c, p, n) in enumerate(MEMIF_LOAD_RUNS):
            argv = [load_bin, "--eal", eal, "--ip", "%s.3/%d" % (NET, PREFIX_LEN), "--server", NODE_IP,
                    "--port", str(port), "-c", str(c), "-P", str(p), "-n", str(n), "-t", "set,get",
                    "-d", "16", "-r", "10000", "--csv", "-q", "--server-pid", str(node.pid)]
            if i == 0:
                argv += ["--server-telemetry", tel]
            what = "memif: slotd-load -c %d -P %d -n %d -t set,get" % (c, p, n)
            t0 = time.time()
            try:
                cp = mns.run(argv, timeout=60, check=False)
            except CmdError as e:
                res.fail(what, "hung: %s" % e)
                break
            # the CSV: a header, then one line per test
            rows = {}
            lines = cp.stdout.splitlines()
            hi = next((k for k, ln in enumerate(lines) if ln.startswith("test,rps,")), None)
            for ln in lines[hi + 1:] if hi is not None else []:
                f = ln.split(",")
                if len(f) == len(lines[hi].split(",")):
                    rows[f[0]] = dict(zip(lines[hi].split(","), f))
            good = (cp.returncode == 0 and set(rows) == {"SET", "GET"}
                    and all(int(r["requests"]) == n and int(r["errors"]) == 0 and float(r["rps"]) > 0
                            for r in rows.values())
                    and (i != 0 or all(float(r["server_busy_s"]) > 0 for r in rows.values())))
            res.check("%s (%.1fs): %s" % (what, time.time() - t0, ", ".join(
                      "%s %.0f/s, %s errors%s" % (k, float(r["rps"]), r["errors"],
                                                  ", server busy %ss" % r["server_busy_s"] if i == 0 else "")
                      for k, r in sorted(rows.items()))),
                      good, "exit %d\nstdout: %s\nstderr: %s\nslotd:\n%s"
                      % (cp.returncode, cp.stdout[-1500:], cp.stderr[-1500:], node.log_tail(15)))
            if not alive_check(res, node, "memif, after slotd-load -P %d" % p):
                return
        # (net_memif zeroes its port counters, /ethdev/stats, when the peer
        # leaves; slotd's own per-core counters stay)
        cores = telemetry(node.prefix, "/slotd/cores")
        res.check("memif: DPDK telemetry /slotd/cores: the data core was busy (%s)" % cores,
                  cores is not None and len(cores.get("busy_usec", [])) == 1 and cores["busy_usec"][0] > 0
                  and cores["busy_turns"][0] > 0, str(cores))
        stop_check(res, node, "memif", taps_too=False)
        res.check("memif: slotd removed its memif socket on exit", not os.path.exists(node.sock), node.sock)
        node = None
    finally:
        if node is not None:
            node.stop()
        mns.delete()


def run_dpdk(res, ns):
    port = harness.free_port()
    ref = harness.Server("redis" if REF_KIND == "redis" else "slotd", name="ref-" + REF_KIND).start()

    def ref_cli(script):
        return netns.run(["redis-cli", "-h", "127.0.0.1", "-p", str(ref.port)], input=script,
                         timeout=60, check=False)

    node = None
    try:
        res.run("start-up checks", run_startup_checks, res, ns)
        if MODES_ONLY:
            res.run("hugepages", run_hugepages, res, ns, port)
            res.run("two cores", run_two_cores, res, ns, port)
            res.run("port options", run_port_options, res, ns, port, ref_cli)
            res.run("memif", run_memif, res)
            return
        node = DpdkNode(ns, port, tag="plain").start()
        res.ok("slotd --dataplane dpdk on net_tap up, PONG from %s (%.1fs)" % (NODE_IP, node.ready_secs))
        before_root = netns.routes()
        tgt = Target(ns, NODE_IP, port)

        case_ping(res, tgt)
        case_protected(res, tgt)
        _, dp0 = dataplane_info(tgt)
        if LOSS_ONLY:
            t0 = time.time()
            case_keys(res, tgt, "no loss", "a")
            print("  no-loss keys: %.1fs (for comparison)" % (time.time() - t0), flush=True)
            _, dp0 = dataplane_info(tgt)
            run_loss_phase(res, ns, tgt, node, dp0)
            return
        res.run("command families", case_families, res, tgt, ref_cli)
        res.run("admin commands", case_admin, res, tgt, ref)
        res.run("keep-alive", case_keepalive, res, tgt)
        res.run("half-close", case_halfclose, res, tgt)
        if not alive_check(res, node, "after command families"):
            return
        case_benchmark(res, tgt)
        case_keys(res, tgt, "no loss", "a")
        case_values(res, tgt, "no loss", VALUE_SIZES)
        if not alive_check(res, node, "after keys and values"):
            return
        # net_tap offers TSO: the values above left in frames the port cut,
        # none of which it refused (a refused TSO frame counts as tx_full).
        dptext, dpv = dataplane_info(tgt)
        res.check("TSO on net_tap: large replies left as TSO frames (%s), none refused "
                  "(drop tx_full %s)" % (dpv.get("dp_tcp_tso_frames"), dpv.get("dp_drop_tx_full")),
                  dpv.get("dpdk_offloads.tso") == "1" and int(dpv.get("dp_tcp_tso_frames", 0)) > 0
                  and int(dpv.get("dp_drop_tx_full", 0)) == 0, dptext)
        case_conns(res, tgt)
        if not alive_check(res, node, "after %d connections" % N_CONNS):
            return
        res.run("migrate", case_migrate, res, ns, tgt)
        dptext, dp1 = dataplane_info(tgt)
        rx = core_counter(dp1, "rx_packets", r"rx_packets|rx_pkts")
        tx = core_counter(dp1, "tx_packets", r"tx_packets|tx_pkts")
        res.check("INFO dataplane rx/tx packets > 0 (rx %s, tx %s)" % (rx, tx),
                  rx is not None and tx is not None and rx > 0 and tx > 0, dptext)
        icmp = counter_sum(dp1, r"icmp_echo")
        arp = counter_sum(dp1, r"arp_repl")
        res.check("INFO dataplane ICMP echo replies (%s) and ARP replies (%s) > 0" % (icmp, arp),
                  icmp and arp, dptext)
        rxb, txb = (counter_sum(dp1, r"^core0\.%s$" % k) for k in ("rx_bytes", "tx_bytes"))
        copen, depth = (counter_sum(dp1, r"^core0\.%s$" % k) for k in ("conns_open", "ring_depth"))
        res.check("INFO dataplane per core: bytes (rx %s, tx %s) at least 54 a packet, the INFO "
                  "connection itself open (%s), ring depth %s" % (rxb, txb, copen, depth),
                  rxb is not None and txb is not None and rx and tx and rxb >= 54 * rx
                  and txb >= 54 * tx and copen is not None and copen >= 1 and depth == 0, dptext)
        ctot = core_counter(dp1, "conns_total", r"conn\w*_total|connections_total|total_conn")
        res.check("INFO dataplane connections total >= %d (%s)" % (N_CONNS, ctot),
                  ctot is not None and ctot >= N_CONNS, dptext)
        turns, busy, busy_us = (counter_sum(dp1, r"^dp_%s$" % k) for k in ("loop_turns", "busy_turns", "busy_usec"))
        res.check("INFO dataplane: 0 < busy turns (%s) <= loop turns (%s), busy time %s us"
                  % (busy, turns, busy_us),
                  turns and busy and busy_us and 0 < busy <= turns and busy_us < 3600 * 10 ** 6, dptext)
        cores = telemetry(node.prefix, "/slotd/cores")
        tel_busy = sum((cores or {}).get("busy_usec", [])) if cores else None
        res.check("DPDK telemetry /slotd/cores: busy time per core (%s), about INFO's (%s us)"
                  % (cores, busy_us),
                  cores is not None and len(cores.get("busy_usec", [])) == 1 and busy_us is not None
                  and busy_us <= tel_busy <= busy_us + 5 * 10 ** 6, str(cores))
        eth = telemetry(node.prefix, "/ethdev/stats,0")
        res.check("DPDK telemetry /ethdev/stats: the port's packet counters (in %s, out %s)"
                  % ((eth or {}).get("ipackets"), (eth or {}).get("opackets")),
                  eth is not None and eth.get("ipackets", 0) > 0 and eth.get("opackets", 0) > 0,
                  str(eth))
        print("INFO dataplane after the load phases:\n" + dptext, flush=True)
        changed = netns.foreign_changes(before_root, netns.routes())
        res.check("root namespace: no routes/addresses outside 127/8 and 198.18/15 added", not changed,
                  "\n".join(changed))

        run_loss_phase(res, ns, tgt, node, dp1)
        left = stop_check(res, node, "plain", taps_too=False)
        node = None
        res.check("both TAPs gone after slotd exit", not left, "left: %s" % left)

        # slotd's own reordering and duplication.
        node = DpdkNode(ns, port, extra=["--dpdk-test-reorder-pct", str(REORDER_PCT),
                                         "--dpdk-test-duplicate-pct", str(DUP_PCT)], tag="reorder").start()
        case_ping(res, tgt, count=3)
        t0 = time.time()
        took = verify_again(res, tgt, "reorder %d%% + duplicate %d%%" % (REORDER_PCT, DUP_PCT), "c")
        print("  reorder/duplicate phase %.1fs: keys %.1fs, values %.1fs, %d connections %.1fs"
              % ((time.time() - t0,) + tuple(took[:2]) + (BURST_CONNS, took[2])), flush=True)
        dptext, dpr = dataplane_info(tgt)
        reo = counter_sum(dpr, r"test_reorder")
        dup = counter_sum(dpr, r"test_dup\w*(?<!nomem)$")
        res.check("INFO dataplane: the test knobs reordered (%s) and duplicated (%s) frames" % (reo, dup),
                  reo and dup, dptext)
        # Segments held back arrive after later ones: the receiver's side of
        # SACK (RFC 2018) reports them. (The loss phase cannot show this: a
        # packet nftables drops in the clients' output hook is a local send
        # failure to their TCP, which sends it again, never a gap on the wire.)
        sackb = counter_sum(dpr, r"^dp_tcp_sack_blocks_sent$")
        res.check("INFO dataplane: SACK blocks sent for reordered segments (%s)" % sackb,
                  sackb, dptext)
        print("INFO dataplane with reordering and duplication:\n" + dptext, flush=True)
        alive_check(res, node, "after reorder/duplicate")
        stop_check(res, node, "reorder", taps_too=False)
        node = None

        # Cluster bus through the exception path.
        cdir = tempfile.mkdtemp(prefix="cluster-", dir=harness.logdir())
        node = DpdkNode(ns, port, extra=["--cluster-enabled", "yes", "--cluster-config-file",
                                         os.path.join(cdir, "nodes.conf"), "--bind"]
                        + os.environ.get("DPDK_CLUSTER_BIND", "127.0.0.1 %s" % NODE_IP).split(),
                        tag="cluster").start()
        bus = Target(ns, NODE_IP, port + 10000)
        r = bus.worker("connect", timeout=30, n=0)
        res.check("cluster bus %s:%d reachable from the namespace (exception TAP)" % (NODE_IP, port + 10000),
                  r.get("ok"), r.get("detail", "") + "\nslotd log:\n" + node.log_tail(15))
        cp = tgt.cli("CLUSTER", "INFO")
        res.check("CLUSTER INFO over the data port shows cluster_state", "cluster_state:" in cp.stdout,
                  cp.stdout + cp.stderr)
        cp = tgt.cli("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
        ok = cp.stdout.strip() == "OK"
        deadline = time.time() + 15
        state = ""
        while ok and time.time() < deadline:
            state = tgt.cli("CLUSTER", "INFO").stdout
            if "cluster_state:ok" in state:
                break
            time.sleep(0.3)
        res.check("single-node cluster reaches cluster_state:ok", ok and "cluster_state:ok" in state,
                  cp.stdout + state[:300])
        cp = tgt.cli("-c", "SET", "{x}k", "v")
        cp2 = tgt.cli("-c", "GET", "{x}k")
        res.check("cluster mode: SET/GET over the data port", cp.stdout.strip() == "OK" and cp2.stdout.strip() == "v",
                  cp.stdout + cp.stderr + cp2.stdout)
        dptext, dp3 = dataplane_info(tgt)
        exc = counter_sum(dp3, r"^exc_(to|from)_kernel$")
        res.check("INFO dataplane exception path counters moved (%s)" % exc, exc is not None and exc > 0, dptext)
        alive_check(res, node, "cluster")
        stop_check(res, node, "cluster", taps_too=False)
        node = None

        res.run("hugepages", run_hugepages, res, ns, port)
        res.run("two cores", run_two_cores, res, ns, port)
        res.run("port options", run_port_options, res, ns, port, ref_cli)
        res.run("memif", run_memif, res)
    finally:
        if node is not None:
            node.stop()
        ref.stop()
        reap_runtime_dirs(os.getpid())


def run_selftest(res, ns):
    """The client phases against redis-server in namespace B over a veth pair,
    clients in namespace A (= ns), loss injected in A."""
    nb = Netns("-b").create()
    va, vb = "sdva%d" % os.getpid(), "sdvb%d" % os.getpid()
    ns.run(["ip", "link", "add", va, "type", "veth", "peer", "name", vb, "netns", nb.name])
    ns.run(["ip", "addr", "add", netns.check_addr("198.18.1.1/24"), "dev", va])
    ns.run(["ip", "link", "set", va, "up"])
    nb.run(["ip", "addr", "add", netns.check_addr("198.18.1.2/24"), "dev", vb])
    nb.run(["ip", "link", "set", vb, "up"])
    port = 6379
    logp = os.path.join(harness.logdir(), "selftest-redis.log")
    log = open(logp, "wb")
    srv = subprocess.Popen(nb.argv(["redis-server", "--bind", "198.18.1.2", "--port", str(port), "--save", "",
                                    "--appendonly", "no", "--protected-mode", "no",
                                    "--maxclients", str(MAXCLIENTS)]),
                           stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                           cwd=harness.logdir(), preexec_fn=_die_with_parent)
    log.close()
    try:
        tgt = Target(ns, "198.18.1.2", port)
        deadline = time.time() + 10
        while tgt.cli("PING", timeout=5).stdout.strip() != "PONG":
            if time.time() > deadline or srv.poll() is not None:
                with open(logp, "rb") as f:
                    tail = f.read()[-1500:].decode("utf-8", "replace")
                raise RuntimeError("redis-server in %s did not answer PING; last: %r\n%s"
                                   % (nb.name, tgt.cli("PING", timeout=5), tail))
            time.sleep(0.1)
        case_ping(res, tgt)
        if not LOSS_ONLY:
            case_protected(res, tgt)
            case_benchmark(res, tgt)
            case_keys(res, tgt, "selftest no loss", "a")
            case_values(res, tgt, "selftest no loss", VALUE_SIZES)
            case_conns(res, tgt)
        keys_under_loss(res, ns, tgt, "selftest ")
        cp = ns.run(["ping", "-c", "1", "-W", "1", "198.18.1.2"], check=False)
        res.check("selftest: loss rules removed", cp.returncode == 0 and ns.loss_counters() == (0, 0), cp.stdout)
    finally:
        if srv.poll() is None:
            srv.terminate()
            try:
                srv.wait(10)
            except subprocess.TimeoutExpired:
                srv.kill()
                srv.wait()
        nb.delete()


def pick_subnet():
    global NET, NODE_IP, PEER_IP
    want = os.environ.get("DPDK_NET")
    used = "\n".join(netns.routes())
    cands = [want] if want else (["198.18.0"] + ["198.%d.%d" % (18 + (i // 256), i % 256)
                                                 for i in range(os.getpid() % 400 + 50, 512)]
                                 + ["198.19.%d" % i for i in range(1, 256)])
    for c in cands:
        netns.check_addr(c + ".0/24")
        if not re.search(r"\b%s\.\d+" % re.escape(c), used):
            NET, NODE_IP, PEER_IP = c, c + ".2", c + ".1"
            return c
    raise RuntimeError("no free /24 in 198.18.0.0/15 (root namespace routes them all?)")


def main():
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    skip, missing = preflight()
    res = harness.Results("dpdk")
    if skip:
        # CI runs as root on a kernel with TUN/TAP: a run that cannot test
        # anything is a failure, not a silent "0 passed, 0 failed" that
        # test.sh would count as nothing at all.
        res.fail("prerequisites", "test_dpdk cannot run: %s" % skip)
        return res.finish()
    if missing:
        res.fail("tools present", "missing: %s (scripts/setup.sh installs nftables, iputils-ping, "
                                  "iproute2, redis-tools)" % ", ".join(missing))
        return res.finish()
    print("logs in %s" % harness.logdir())
    print("sizes: %d keys, %d connections, benchmark -n %d, values %s%s"
          % (N_KEYS, N_CONNS, BENCH_N, VALUE_SIZES, " (quick)" if QUICK else ""), flush=True)
    stale = netns.reap_stale() + reap_runtime_dirs()
    if stale:
        print("note: deleted what killed runs left: %s" % " ".join(stale))
    pid = os.getpid()
    before = netns.routes()
    if not SELFTEST:
        net = pick_subnet()
        if net != "198.18.0":
            print("note: 198.18.0.0/24 is routed in the root namespace already (another run?): using %s.0/24" % net)
    t0 = time.time()
    ns = None
    try:
        ns = Netns().create()
        if SELFTEST:
            res.run("selftest", run_selftest, res, ns)
        else:
            res.run("dpdk", run_dpdk, res, ns)
    finally:
        # Teardown, whatever happened above (also on a signal): slotd first,
        # while its port's interface is still in the namespace.
        for node in list(_nodes):
            node.stop()
        harness.stop_all()
        huge_left = []
        for hp in list(_huge):
            huge_left += hp.release()
        ns_names = [n.name for n in list(netns._namespaces)]
        left_ns = netns.cleanup()
        reap_runtime_dirs(pid)
        links = netns.run(["ip", "-o", "link", "show"], check=False).stdout
        ours = ["sd%s%d" % (x, pid) for x in ("t", "e", "va", "vb", "x", "y")]
        left_links = [n for n in ours if re.search(r"\b%s\b" % n, links)]
        left_ns += [n for n in ns_names if n in netns.namespaces()]
        # Only what is ours: our interfaces, our /24, or anything outside the
        # allowed ranges (other runs may come and go in 198.18/15 meanwhile).
        changed = [ln for ln in sorted(netns.routes() ^ before)
                   if any(re.search(r"\b%s\b" % n, ln) for n in ours)
                   or (not SELFTEST and re.search(r"\b%s\.\d+" % re.escape(NET), ln))]
        changed += netns.foreign_changes(before, netns.routes())
        res.check("teardown: namespaces %s deleted" % ", ".join(ns_names) if ns_names else "teardown: namespaces",
                  not left_ns, "left: %s" % left_ns)
        res.check("teardown: no interface of ours left", not left_links, "left: %s" % left_links)
        res.check("teardown: root namespace routes and addresses as before", not changed, "\n".join(changed))
        if huge_left:
            res.fail("teardown: hugepages released", "\n".join(huge_left))
        print("total %.0fs" % (time.time() - t0), flush=True)
    return res.finish()


if __name__ == "__main__":
    sys.exit(harness.guard(main))
