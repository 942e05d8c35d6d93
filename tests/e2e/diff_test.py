#!/usr/bin/python3
"""Differential test: the same command scripts against redis-server 7.0 (the
reference) and the target (slotd, or a second redis-server with TARGET=redis),
replies compared byte for byte.

Usage: diff_test.py [-v] [script.txt ...]   (default: every tests/e2e/diff/*.txt)

Script format (one item per line; '#' starts a comment line):
  COMMAND ARGS...        sent as a RESP array; arguments in redis-cli quoting:
                         "..." understands \\r \\n \\t \\b \\a \\\\ \\" \\xHH, '...' only \\'
  @fresh                 (anywhere) restart both servers before this script
  @resp3 / @resp2        HELLO 3 / HELLO 2 on the current connection (shape compared)
  @conn NAME             switch to connection NAME (opened on first use; 'main' at start)
  @sleep SECONDS         pause
  @closed                both servers must have closed the current connection
                         (the next command on it reconnects)
  @pipeline ... @end     the commands between are sent in one write, then read
Modifiers, before a command (several may be combined):
  @ignore-value          compare only the reply's shape (types, lengths)
  @type-only             compare only the reply's type and its elements' types
                         (SCAN with a cursor that means something else elsewhere)
  @sorted                compare the elements of an array / set (or the pairs of a
                         map) reply sorted
  @scan-all              iterate SCAN from the given cursor to 0 on each server and
                         compare the sorted set of keys returned
  @fields                bulk reply of "k=v k=v" / "k:v" lines: compare the field names
  @has f1,f2,...         bulk reply of fields: compare which of these fields exist
  @mask 'REGEX'          replace matches in every string of the reply before comparing
  @set VAR               remember the reply (per server) as ${VAR} for later lines;
                         alone, it implies @ignore-value
  @target-expect "BYTES" do not compare: the target must reply exactly BYTES
                         (checked only when the target is slotd)
Actions instead of a command:
  @raw "BYTES"           send bytes as they are, read one reply
  @rawn N "BYTES"        send bytes as they are, read N replies (0: none)
  @read                  read one more reply without sending (MONITOR)
Variables: ${VAR} from @set, ${addr:NAME} = the client address of connection NAME
as the server sees it, ${port} = the server's port.

Each script starts from FLUSHALL (sent on the 'main' connection of both
servers, reply compared). A server that died (SHUTDOWN) is restarted for the
next script.
"""

import glob
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import CLOSED, TIMEOUT, Server, parse_reply, show  # noqa: E402

DIFF_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "diff")
REPLY_TIMEOUT = float(os.environ.get("DIFF_REPLY_TIMEOUT", "10"))
VERBOSE = False


class ScriptError(Exception):
    pass


# ---------------------------------------------------------------------------
# Tokenizer: redis-cli (sdssplitargs) style quoting.

_ESC = {"n": b"\n", "r": b"\r", "t": b"\t", "b": b"\b", "a": b"\a"}


def split_args(line):
    out = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            return out
        tok = bytearray()
        if line[i] == '"':
            i += 1
            while True:
                if i >= n:
                    raise ScriptError("unbalanced double quote")
                c = line[i]
                if c == "\\" and i + 1 < n:
                    d = line[i + 1]
                    if d == "x" and i + 3 < n and re.match(r"[0-9a-fA-F]{2}", line[i + 2:i + 4]):
                        tok.append(int(line[i + 2:i + 4], 16))
                        i += 4
                        continue
                    tok += _ESC.get(d, d.encode())
                    i += 2
                    continue
                if c == '"':
                    i += 1
                    break
                tok += c.encode()
                i += 1
        elif line[i] == "'":
            i += 1
            while True:
                if i >= n:
                    raise ScriptError("unbalanced single quote")
                c = line[i]
                if c == "\\" and i + 1 < n and line[i + 1] == "'":
                    tok += b"'"
                    i += 2
                    continue
                if c == "'":
                    i += 1
                    break
                tok += c.encode()
                i += 1
        else:
            while i < n and line[i] not in " \t":
                tok += line[i].encode()
                i += 1
            out.append(bytes(tok))
            continue
        if i < n and line[i] not in " \t":
            raise ScriptError("closing quote must be followed by a space")
        out.append(bytes(tok))


# ---------------------------------------------------------------------------
# Script parsing into steps.

MODIFIERS_NOARG = {"@ignore-value", "@type-only", "@sorted", "@scan-all", "@fields"}
MODIFIERS_ARG = {"@has", "@mask", "@set", "@target-expect"}


class Step:
    def __init__(self, lineno, text, kind, **kw):
        self.lineno = lineno
        self.text = text
        self.kind = kind          # cmd raw read resp conn sleep closed pipeline
        self.mods = {}
        self.__dict__.update(kw)


def parse_command_line(lineno, text):
    toks = split_args(text)
    mods = {}
    while toks and toks[0].decode("latin-1") in MODIFIERS_NOARG | MODIFIERS_ARG:
        m = toks.pop(0).decode("latin-1")
        if m in MODIFIERS_ARG:
            if not toks:
                raise ScriptError("%s needs an argument" % m)
            mods[m] = toks.pop(0)
        else:
            mods[m] = True
    if not toks:
        raise ScriptError("modifiers without a command")
    head = toks[0].decode("latin-1")
    if head == "@raw":
        if len(toks) != 2:
            raise ScriptError("@raw takes one quoted argument")
        st = Step(lineno, text, "raw", data=toks[1], nreplies=1)
    elif head == "@rawn":
        if len(toks) != 3:
            raise ScriptError("@rawn takes a count and one quoted argument")
        st = Step(lineno, text, "raw", data=toks[2], nreplies=int(toks[1]))
    elif head == "@read":
        st = Step(lineno, text, "read")
    elif head.startswith("@"):
        raise ScriptError("unknown directive %s" % head)
    else:
        st = Step(lineno, text, "cmd", args=toks)
    st.mods = mods
    return st


def parse_script(path):
    steps = []
    fresh = False
    pipeline = None
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for lineno, raw in enumerate(lines, 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        try:
            word = text.split()[0]
            rest = text[len(word):].strip()
            if word == "@fresh":
                fresh = True
            elif word == "@pipeline":
                if pipeline is not None:
                    raise ScriptError("nested @pipeline")
                pipeline = Step(lineno, text, "pipeline", items=[])
            elif word == "@end":
                if pipeline is None:
                    raise ScriptError("@end without @pipeline")
                steps.append(pipeline)
                pipeline = None
            elif pipeline is not None:
                st = parse_command_line(lineno, text)
                if st.kind != "cmd":
                    raise ScriptError("only commands inside @pipeline")
                pipeline.items.append(st)
            elif word in ("@resp3", "@resp2"):
                steps.append(Step(lineno, text, "resp", proto=word[-1]))
            elif word == "@conn":
                steps.append(Step(lineno, text, "conn", name=rest))
            elif word == "@sleep":
                steps.append(Step(lineno, text, "sleep", seconds=float(rest)))
            elif word == "@closed":
                steps.append(Step(lineno, text, "closed"))
            else:
                steps.append(parse_command_line(lineno, text))
        except (ScriptError, ValueError) as e:
            raise ScriptError("%s:%d: %s" % (os.path.basename(path), lineno, e))
    if pipeline is not None:
        raise ScriptError("%s: @pipeline without @end" % os.path.basename(path))
    return fresh, steps


# ---------------------------------------------------------------------------
# Reply normalisation for the modifiers.

def _shape(node):
    t, v = node
    if t == "|":
        return "|" + _shape(v[1])
    if v is None:
        return t + "null"
    if isinstance(v, list):
        return "%s%d[%s]" % (t, len(v), ",".join(_shape(x) for x in v))
    return t


def _strings(node, fn):
    t, v = node
    if t == "|":
        return (t, ([_strings(x, fn) for x in v[0]], _strings(v[1], fn)))
    if isinstance(v, list):
        return (t, [_strings(x, fn) for x in v])
    if isinstance(v, bytes):
        return (t, fn(v))
    if isinstance(v, int):
        return (t, fn(str(v).encode()))
    return node


def _text_of(node):
    t, v = node
    if t in "$+=" and isinstance(v, bytes):
        return v[4:] if t == "=" else v
    return None


def _field_names(text):
    """Field names of INFO ("k:v" lines) or CLIENT LIST ("k=v k=v" lines)."""
    lines = []
    for ln in text.decode("latin-1").split("\n"):
        ln = ln.strip("\r")
        if not ln or ln.startswith("#"):
            continue
        if "=" in ln.split(" ")[0]:
            lines.append(tuple(tok.split("=", 1)[0] for tok in ln.split(" ") if tok))
        elif ":" in ln:
            lines.append((ln.split(":", 1)[0],))
    return lines


def normalise(raw, mods):
    """What is compared for one reply under the given modifiers."""
    if raw.startswith(CLOSED) or raw == TIMEOUT or not mods:
        return raw
    if set(mods) == {"@set"}:
        mods = {"@ignore-value": True}
    try:
        node, _ = parse_reply(raw, 0)
    except Exception:
        return raw
    if node[0] == "-":
        return raw
    if "@mask" in mods:
        rx = re.compile(mods["@mask"])
        node = _strings(node, lambda b: rx.sub(b"<*>", b))
    if "@ignore-value" in mods:
        return ("shape", _shape(node))
    if "@type-only" in mods:
        t, v = node
        if isinstance(v, list):
            return ("type", t, [x[0] for x in v])
        return ("type", t, v is None)
    if "@sorted" in mods:
        if node[0] in "*~" and node[1] is not None:
            return ("sorted", node[0], sorted(repr(x) for x in node[1]))
        if node[0] == "%" and node[1] is not None:
            pairs = [repr((node[1][i], node[1][i + 1])) for i in range(0, len(node[1]), 2)]
            return ("sorted", node[0], sorted(pairs))
        return ("sorted", repr(node))
    if "@fields" in mods:
        text = _text_of(node)
        if text is None:
            return ("fields", _shape(node))
        if b"\n" in text and b"=" in text.split(b"\n")[0]:
            return ("fields", node[0], sorted(set(_field_names(text))))
        return ("fields", node[0], _field_names(text))
    if "@has" in mods:
        text = _text_of(node)
        if text is None:
            return ("has", _shape(node))
        present = set(f for line in _field_names(text) for f in line)
        want = mods["@has"].decode().split(",")
        return ("has", node[0], [(w, w in present) for w in want])
    return ("node", repr(node))


# ---------------------------------------------------------------------------
# One side (reference or target) of the comparison.

class Side:
    def __init__(self, server, label):
        self.server = server
        self.label = label
        self.conns = {}
        self.vars = {}

    def conn(self, name):
        c = self.conns.get(name)
        if c is None or c.closed:
            if c is not None:
                c.close()
            c = self.server.conn(timeout=REPLY_TIMEOUT)
            self.conns[name] = c
        return c

    def existing(self, name):
        """The connection as it is, even if the server closed it."""
        c = self.conns.get(name)
        return c if c is not None else self.conn(name)

    def subst(self, arg):
        if b"${" not in arg:
            return arg

        def rep(m):
            name = m.group(1).decode()
            if name == "port":
                return str(self.server.port).encode()
            if name.startswith("addr:"):
                return self.conn(name[5:]).local_addr().encode()
            if name not in self.vars:
                raise ScriptError("undefined variable ${%s}" % name)
            return self.vars[name]
        return re.sub(rb"\$\{([A-Za-z0-9_:]+)\}", rep, arg)

    def close_all(self):
        for c in self.conns.values():
            c.close()
        self.conns = {}
        self.vars = {}


def reply_value(raw):
    try:
        node, _ = parse_reply(raw, 0)
    except Exception:
        return raw
    if node[0] == ":":
        return str(node[1]).encode()
    if isinstance(node[1], bytes):
        return node[1]
    return raw


def scan_all(side, connname, args):
    c = side.conn(connname)
    cursor = args[1]
    keys = set()
    for _ in range(100000):
        a = list(args)
        a[1] = cursor
        raw = c.call(*a, timeout=REPLY_TIMEOUT)
        try:
            node, _ = parse_reply(raw, 0)
        except Exception:
            return raw
        if node[0] != "*" or len(node[1]) != 2 or node[1][1][0] != "*":
            return raw
        cursor = node[1][0][1]
        for k in node[1][1][1]:
            keys.add(k[1])
        if cursor == b"0":
            return ("scan", sorted(keys))
    return ("scan", "did not finish")


class Runner:
    def __init__(self):
        self.ref = Side(Server("redis", name="reference-redis"), "redis")
        t = harness.target_server(name="target")
        self.tgt = Side(t, "target(%s)" % harness.TARGET)
        self.check_target_expect = harness.TARGET != "redis"

    def ensure_up(self, fresh):
        for side in (self.ref, self.tgt):
            s = side.server
            if fresh or not s.alive():
                if s.proc is not None:
                    s.stop()
                s.start()

    def stop(self):
        for side in (self.ref, self.tgt):
            side.close_all()
            side.server.stop()

    def run_script(self, path):
        name = os.path.basename(path)
        fresh, steps = parse_script(path)
        self.ensure_up(fresh)
        mism = []
        cur = "main"
        ncmd = 0

        def compare(step, r_raw, t_raw, what=None):
            mods = step.mods
            if "@target-expect" in mods:
                if self.check_target_expect and t_raw != mods["@target-expect"]:
                    mism.append((step, what, mods["@target-expect"], t_raw, "target must reply exactly"))
                return
            rn, tn = normalise(r_raw, mods), normalise(t_raw, mods)
            if r_raw.startswith(CLOSED) or r_raw == TIMEOUT:
                if r_raw == TIMEOUT:
                    mism.append((step, what, r_raw, t_raw, "script error: reference timed out"))
                    return
            if rn != tn:
                note = "" if rn == r_raw else "compared after %s: %s vs %s" % (
                    " ".join(sorted(mods)), show(rn, 600), show(tn, 600))
                mism.append((step, what, r_raw, t_raw, note))

        def do_cmd(step, sides_raw=None):
            args_r = [self.ref.subst(a) for a in step.args]
            args_t = [self.tgt.subst(a) for a in step.args]
            if "@scan-all" in step.mods:
                r = scan_all(self.ref, cur, args_r)
                t = scan_all(self.tgt, cur, args_t)
                if r != t:
                    mism.append((step, None, r, t, "SCAN full iteration differs"))
                return
            self.ref.conn(cur).send_cmd(*args_r)
            self.tgt.conn(cur).send_cmd(*args_t)
            r = self.ref.conn(cur).read_reply(REPLY_TIMEOUT)
            t = self.tgt.conn(cur).read_reply(REPLY_TIMEOUT)
            finish(step, r, t)

        def finish(step, r, t, what=None):
            # A side that timed out is out of step with the script: drop its
            # connection so the next line starts clean instead of waiting again.
            for side, raw in ((self.ref, r), (self.tgt, t)):
                if raw == TIMEOUT and cur in side.conns:
                    side.conns[cur].close()
            if VERBOSE:
                print("  %s:%d %s\n    ref %s\n    tgt %s" % (name, step.lineno, step.text, show(r), show(t)))
            compare(step, r, t, what)
            if "@set" in step.mods:
                var = step.mods["@set"].decode()
                self.ref.vars[var] = reply_value(r)
                self.tgt.vars[var] = reply_value(t)

        # Every script starts from an empty keyspace.
        for side in (self.ref, self.tgt):
            side.close_all()
        first = Step(0, "FLUSHALL (script start)", "cmd", args=[b"FLUSHALL"])
        do_cmd(first)

        for step in steps:
            if step.kind == "cmd":
                ncmd += 1
                do_cmd(step)
            elif step.kind == "raw":
                ncmd += 1
                for side in (self.ref, self.tgt):
                    side.conn(cur).send(side.subst(step.data))
                for i in range(step.nreplies):
                    r = self.ref.conn(cur).read_reply(REPLY_TIMEOUT)
                    t = self.tgt.conn(cur).read_reply(REPLY_TIMEOUT)
                    finish(step, r, t, "reply %d" % (i + 1) if step.nreplies > 1 else None)
                if step.nreplies == 0:
                    # Nothing may come back (the bytes may be half a command, so
                    # no probe is sent): whatever arrives within 0.3 s is compared.
                    r = self.ref.existing(cur).read_reply(0.3)
                    t = self.tgt.existing(cur).read_reply(0.3)
                    if r != t:
                        mism.append((step, "no reply expected", r, t, ""))
            elif step.kind == "read":
                r = self.ref.conn(cur).read_reply(REPLY_TIMEOUT)
                t = self.tgt.conn(cur).read_reply(REPLY_TIMEOUT)
                finish(step, r, t)
            elif step.kind == "pipeline":
                ncmd += len(step.items)
                for side in (self.ref, self.tgt):
                    data = b"".join(harness.encode_cmd(*[side.subst(a) for a in it.args])
                                    for it in step.items)
                    side.conn(cur).send(data)
                for i, it in enumerate(step.items):
                    r = self.ref.conn(cur).read_reply(REPLY_TIMEOUT)
                    t = self.tgt.conn(cur).read_reply(REPLY_TIMEOUT)
                    finish(it, r, t, "pipelined #%d" % (i + 1))
            elif step.kind == "resp":
                st = Step(step.lineno, step.text, "cmd", args=[b"HELLO", step.proto.encode()])
                st.mods = {"@ignore-value": True}
                do_cmd(st)
            elif step.kind == "conn":
                cur = step.name
            elif step.kind == "sleep":
                time.sleep(step.seconds)
            elif step.kind == "closed":
                r = self.ref.existing(cur).wait_closed(3.0)
                t = self.tgt.existing(cur).wait_closed(3.0)
                if not r.startswith("closed"):
                    mism.append((step, None, r.encode(), t.encode(), "script error: reference did not close"))
                elif r != t:
                    mism.append((step, None, r.encode(), t.encode(), "connection state differs"))
        for side in (self.ref, self.tgt):
            side.close_all()
        return name, ncmd, mism


def report(name, mism):
    lines = []
    for step, what, r, t, note in mism[:15]:
        lines.append("  %s:%d: %s%s" % (name, step.lineno, step.text, (" [%s]" % what) if what else ""))
        lines.append("    expected (redis): %s" % show(r))
        lines.append("    got (%s): %s%s" % (harness.TARGET, " " * max(0, 5 - len(harness.TARGET)), show(t)))
        if note:
            lines.append("    " + note)
    if len(mism) > 15:
        lines.append("  ... and %d more mismatches" % (len(mism) - 15))
    return "\n".join(lines)


def main(argv):
    global VERBOSE
    if "-v" in argv:
        VERBOSE = True
        argv = [a for a in argv if a != "-v"]
    scripts = argv or sorted(glob.glob(os.path.join(DIFF_DIR, "*.txt")))
    res = harness.Results("diff")
    runner = Runner()
    try:
        runner.ensure_up(False)
        for path in scripts:
            t0 = time.time()
            try:
                name, ncmd, mism = runner.run_script(path)
            except Exception as e:
                import traceback
                res.fail(os.path.basename(path), "  " + "".join(
                    traceback.format_exception(type(e), e, e.__traceback__))[-2000:])
                continue
            detail = "%d commands, %.1fs" % (ncmd, time.time() - t0)
            if mism:
                res.fail(name, report(name, mism))
            else:
                res.ok(name, detail)
    finally:
        runner.stop()
    res.check_clean_exit([side.server for side in (runner.ref, runner.tgt)])
    return res.finish()


if __name__ == "__main__":
    sys.exit(harness.guard(lambda: main(sys.argv[1:])))
