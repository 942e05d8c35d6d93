"""Shared end-to-end test helpers: start redis-server / slotd on free loopback
ports, talk raw RESP to them, and tally results.

Standard library only, run with /usr/bin/python3. Every server started here is
stopped by its PID when the test exits (normally, by exception, or on SIGTERM /
SIGINT / SIGHUP), and is also asked by the kernel to die with us
(PR_SET_PDEATHSIG) in case the test itself is killed outright.

Environment:
  TARGET        slotd (default) or redis: what is tested. With TARGET=redis the
                "target" is a second redis-server, which validates the tests.
  SLOTD_BIN     slotd binary (default build/slotd under the repo root).
  SLOTD_THREADS data cores for slotd (default 1; tests may ask for more).
  SLOTD_ARGS    extra arguments for slotd only (shell-quoted).
  REDIS_BIN     redis-server binary (default redis-server from PATH).
  E2E_START_TIMEOUT seconds to wait for a server to answer PING (default 20).
  E2E_LOGDIR    where server logs go (default a fresh temp dir, removed after
                a run that passed, kept and named after one that failed).
"""

import atexit
import ctypes
import os
import random
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TARGET = os.environ.get("TARGET", "slotd")
if TARGET not in ("slotd", "redis"):
    sys.exit("TARGET must be slotd or redis, not %r" % TARGET)
SLOTD_BIN = os.environ.get("SLOTD_BIN", os.path.join(ROOT, "build", "slotd"))
REDIS_BIN = os.environ.get("REDIS_BIN", "redis-server")
START_TIMEOUT = float(os.environ.get("E2E_START_TIMEOUT", "20"))

# Settings every server gets, whatever it is, so that both sides of a
# comparison run with identical configuration.
COMMON_ARGS = ["--bind", "127.0.0.1", "--save", "", "--enable-debug-command", "local"]
REDIS_ONLY_ARGS = ["--appendonly", "no", "--daemonize", "no", "--logfile", ""]

_servers = []
_logdir = None
_logdir_ours = False    # made here (no E2E_LOGDIR): removed at exit after a pass
_verdict = None         # "pass" once a Results passed, "fail" (for good) once one did not


def logdir():
    global _logdir, _logdir_ours
    if _logdir is None:
        _logdir = os.environ.get("E2E_LOGDIR")
        if _logdir:
            os.makedirs(_logdir, exist_ok=True)
        else:
            _logdir = tempfile.mkdtemp(prefix="slotd-e2e-")
            _logdir_ours = True
    return _logdir


def keep_logs():
    """A failure: the servers' logs stay for reading."""
    global _verdict
    _verdict = "fail"


def _port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port():
    """A port P with P and P+10000 (a cluster bus port) free on 127.0.0.1."""
    rnd = random.Random()
    for _ in range(1000):
        p = rnd.randrange(20000, 50000)
        if _port_free(p) and _port_free(p + 10000):
            return p
    raise RuntimeError("no free port found")


def _die_with_parent():
    # PR_SET_PDEATHSIG = 1: the server gets SIGTERM if this test process dies.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except OSError:
        pass


class Server:
    """One redis-server or slotd process on a free loopback port."""

    def __init__(self, kind, threads=None, args=(), name=None):
        assert kind in ("redis", "slotd")
        self.kind = kind
        self.threads = threads
        self.extra = list(args)
        self.name = name or kind
        self.proc = None
        self.stop_hung = False   # SIGTERM did not end it: stop() had to SIGKILL
        self.port = None
        self.log_path = None
        self.pid = None
        self.all_logs = []

    def argv(self, port):
        if self.kind == "redis":
            return [REDIS_BIN, "--port", str(port)] + COMMON_ARGS + REDIS_ONLY_ARGS + self.extra
        threads = self.threads or int(os.environ.get("SLOTD_THREADS", "1"))
        return ([SLOTD_BIN, "--port", str(port), "--threads", str(threads)] + COMMON_ARGS
                + shlex.split(os.environ.get("SLOTD_ARGS", "")) + self.extra)

    def start(self):
        if self.kind == "slotd" and not os.access(SLOTD_BIN, os.X_OK):
            raise RuntimeError("slotd binary %s not found (build it, or use TARGET=redis)" % SLOTD_BIN)
        last = None
        for attempt in range(3):
            port = free_port()
            self.log_path = os.path.join(logdir(), "%s-%d.log" % (self.name, port))
            self.all_logs.append(self.log_path)
            log = open(self.log_path, "wb")
            cwd = tempfile.mkdtemp(prefix="srv-", dir=logdir())
            self.proc = subprocess.Popen(self.argv(port), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=cwd,
                                         preexec_fn=_die_with_parent)
            log.close()
            self.port = port
            self.pid = self.proc.pid
            _servers.append(self)
            try:
                self._wait_ready()
                return self
            except RuntimeError as e:
                last = e
                self.stop()
                if "Address already in use" not in self.log_tail():
                    break
        raise last

    def _wait_ready(self):
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s during start-up:\n%s"
                                   % (self.name, self.proc.returncode, self.log_tail()))
            try:
                c = RawConn(self.port, timeout=1.0)
                try:
                    c.send_cmd(b"PING")
                    r = c.read_reply()
                finally:
                    c.close()
                if r == b"+PONG\r\n":
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("%s did not answer PING on port %d within %ss:\n%s"
                           % (self.name, self.port, START_TIMEOUT, self.log_tail()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL after timeout. Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.stop_hung = True
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
        if self in _servers:
            _servers.remove(self)
        return self.proc.returncode

    def restart(self):
        self.stop()
        return self.start()

    def death_note(self):
        """'' while the process runs; else how it ended and its last log lines."""
        if self.alive():
            return ""
        rc = self.proc.returncode if self.proc else None
        how = ("killed by signal %d" % -rc) if rc is not None and rc < 0 else "exited with status %s" % rc
        return "%s %s; last log lines:\n%s" % (self.name, how, self.log_tail())

    def log_tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return ""

    def sanitizer_report(self):
        """First lines of an ASan/UBSan/LSan report in any log of this server
        (every start so far), or ''."""
        text = ""
        for path in self.all_logs:
            try:
                with open(path, "rb") as f:
                    text += f.read().decode("utf-8", "replace")
            except OSError:
                pass
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                       "WARNING: ThreadSanitizer"):
            i = text.find(marker)
            if i >= 0:
                return text[max(0, i - 200):i + 2000]
        return ""

    def conn(self, timeout=10.0):
        return RawConn(self.port, timeout=timeout)


def target_server(threads=None, args=(), name=None):
    """The server under test: slotd, or a second redis-server with TARGET=redis."""
    kind = "redis" if TARGET == "redis" else "slotd"
    return Server(kind, threads=threads, args=args, name=name or ("target-" + kind))


def stop_all():
    for s in list(_servers):
        try:
            s.stop(timeout=5.0)
        except Exception:
            pass


def _on_signal(signum, frame):
    keep_logs()
    stop_all()
    sys.exit(128 + signum)


def _at_exit():
    stop_all()
    # removed only after a recorded pass: an exit that skipped the count
    # (an exception outside guard, say) keeps them too
    if _logdir_ours and os.path.isdir(_logdir):
        if _verdict == "pass":
            shutil.rmtree(_logdir, ignore_errors=True)
        else:
            print("logs kept in %s" % _logdir, flush=True)


atexit.register(_at_exit)
for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


# ---------------------------------------------------------------------------
# RESP framing (client side): find where one reply ends and decode it.

class Incomplete(Exception):
    pass


class ProtocolError(Exception):
    pass


def _line(buf, pos):
    e = buf.find(b"\r\n", pos)
    if e < 0:
        raise Incomplete()
    return buf[pos:e], e + 2


def parse_reply(buf, pos=0):
    """Parse one RESP2/RESP3 reply at buf[pos:]. Returns (node, end).

    node is (type_char, value): value is bytes for + - $ , ( = ! # and inline
    scalars, int for ':', None for nulls, a list of nodes for * % ~ > (a map's
    list is flattened key, value, ...); '|' (attribute) is
    ('|', (attrs_list, inner_node)). Raises Incomplete if more bytes are needed."""
    if pos >= len(buf):
        raise Incomplete()
    t = buf[pos:pos + 1].decode("latin-1")
    line, p = _line(buf, pos + 1)
    if t in "+-,(#":
        return (t, line), p
    if t == ":":
        try:
            return (t, int(line)), p
        except ValueError:
            raise ProtocolError("bad integer %r" % line)
    if t == "_":
        return ("_", None), p
    if t in "$=!":
        try:
            n = int(line)
        except ValueError:
            raise ProtocolError("bad bulk length %r" % line)
        if n < 0:
            return (t, None), p
        if len(buf) < p + n + 2:
            raise Incomplete()
        return (t, buf[p:p + n]), p + n + 2
    if t in "*~>%|":
        try:
            n = int(line)
        except ValueError:
            raise ProtocolError("bad aggregate length %r" % line)
        if n < 0:
            return (t, None), p
        count = n * 2 if t in "%|" else n
        items = []
        for _ in range(count):
            node, p = parse_reply(buf, p)
            items.append(node)
        if t == "|":
            inner, p = parse_reply(buf, p)
            return ("|", (items, inner)), p
        return (t, items), p
    raise ProtocolError("unknown reply type %r" % t)


def split_replies(buf, n):
    """Split buf into n raw replies. Raises Incomplete / ProtocolError."""
    out = []
    p = 0
    for _ in range(n):
        _, e = parse_reply(buf, p)
        out.append(buf[p:e])
        p = e
    return out, p


def encode_cmd(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


CLOSED = b"<connection closed>"
TIMEOUT = b"<timeout>"


class RawConn:
    """A blocking socket that returns replies as the exact bytes received."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = b""
        self.closed = False

    def local_addr(self):
        h, p = self.sock.getsockname()[:2]
        return "%s:%d" % (h, p)

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError:
            self.closed = True

    def send_cmd(self, *args):
        self.send(encode_cmd(*args))

    def _fill(self, deadline):
        remaining = deadline - time.time()
        if remaining <= 0:
            raise socket.timeout()
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(1 << 20)
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
            return False
        self.buf += data
        return True

    def read_reply(self, timeout=None):
        """One raw reply; CLOSED (+ partial bytes) if the server closed first,
        TIMEOUT if nothing complete arrived in time."""
        deadline = time.time() + (self.timeout if timeout is None else timeout)
        while True:
            try:
                _, e = parse_reply(self.buf, 0)
                out, self.buf = self.buf[:e], self.buf[e:]
                return out
            except Incomplete:
                pass
            if self.closed:
                partial, self.buf = self.buf, b""
                return CLOSED + (b" after " + partial if partial else b"")
            try:
                self._fill(deadline)
            except socket.timeout:
                return TIMEOUT

    def read_replies(self, n, timeout=None):
        return [self.read_reply(timeout) for _ in range(n)]

    def call(self, *args, timeout=None):
        self.send_cmd(*args)
        return self.read_reply(timeout)

    def wait_closed(self, timeout=3.0):
        """'closed' if the server closes the connection within timeout (any
        bytes still unread are reported too), else 'open'."""
        deadline = time.time() + timeout
        while not self.closed:
            try:
                self._fill(deadline)
            except socket.timeout:
                break
            except OSError:
                self.closed = True
        extra, self.buf = self.buf, b""
        state = "closed" if self.closed else "open"
        return state + (" after %r" % extra if extra else "")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        self.closed = True


# ---------------------------------------------------------------------------
# Result tally with the closing line test.sh reads.

class Results:
    def __init__(self, title):
        self.title = title
        self.passed = 0
        self.failed = 0
        self.failures = []

    def ok(self, name, detail=""):
        self.passed += 1
        print("PASS %s%s" % (name, (" - " + detail) if detail else ""), flush=True)

    def fail(self, name, detail=""):
        self.failed += 1
        self.failures.append(name)
        print("FAIL %s%s" % (name, ("\n" + detail) if detail else ""), flush=True)

    def check(self, name, cond, detail=""):
        (self.ok if cond else self.fail)(name, "" if cond else detail)
        return cond

    def run(self, name, fn, *a, **kw):
        """Run one case; an exception is a failure, not an abort."""
        try:
            r = fn(*a, **kw)
        except Exception as e:
            import traceback
            self.fail(name, "".join(traceback.format_exception(type(e), e, e.__traceback__))[-3000:])
            return None
        return r

    def check_clean_exit(self, servers, label=""):
        """Call after the servers stopped (leak reports come at exit): a
        server that SIGTERM did not end (a data core stuck) or an
        ASan/UBSan/LSan report in its log is a failure."""
        pre = label + ": " if label else ""
        for s in servers:
            if s.stop_hung:
                self.fail("%s%s exits on SIGTERM" % (pre, s.name),
                          "still running after the stop timeout, killed; last log lines:\n"
                          + s.log_tail())
            rep = s.sanitizer_report()
            if rep:
                self.fail("%ssanitizer report in %s's log" % (pre, s.name), rep)

    def finish(self):
        global _verdict
        if self.failures:
            print("%s failures: %s" % (self.title, ", ".join(self.failures)))
        print("%d passed, %d failed" % (self.passed, self.failed), flush=True)
        if self.failed or not self.passed:
            keep_logs()
            return 1
        if _verdict is None:
            _verdict = "pass"
        return 0


def key_slot(key):
    """The key's cluster hash slot: CRC16/XMODEM of the key, or of its {tag}
    when the braces hold at least one byte, mod 16384 (Redis Cluster spec)."""
    k = key.encode() if isinstance(key, str) else key
    i = k.find(b"{")
    if i >= 0:
        j = k.find(b"}", i + 1)
        if j > i + 1:
            k = k[i + 1:j]
    crc = 0
    for b in k:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc % 16384


def redis_py():
    """Debian's python3-redis, or the test ends here with a failure that
    says how to get it."""
    try:
        import redis
    except ImportError:
        print("python3-redis is missing: run scripts/setup.sh (apt-get install python3-redis)")
        print("0 passed, 1 failed")
        sys.exit(1)
    return redis


def guard(main):
    """Run a test's main(); an exception that escapes it (a server that will
    not start, say) still ends with the closing count line."""
    try:
        return main()
    except Exception:
        import traceback
        traceback.print_exc()
        keep_logs()
        print("0 passed, 1 failed", flush=True)
        return 1


def show(b, limit=400):
    r = repr(b)
    return r if len(r) <= limit else r[:limit] + "...(%d bytes)" % len(b)
