#!/usr/bin/python3
"""gen-command-meta — capture Redis 7.0's COMMAND INFO / COMMAND DOCS / HELP
replies for the commands slotd implements, and emit dataplane/command_meta.c.

slotd answers COMMAND INFO, COMMAND DOCS and the <container> HELP replies with
the exact bytes redis-server 7.0 sends, so clients that introspect the server
(redis-py cluster, redis-cli hints, redis_exporter) see what they expect. The
data describes the interface only; it is generated, never edited by hand.

Run by hand against a running redis-server 7.0 started with
--enable-debug-command yes (for DEBUG HELP):

    redis-server --port 7900 --save '' --appendonly no --enable-debug-command yes &
    /usr/bin/python3 scripts/gen-command-meta.py --port 7900 > dataplane/command_meta.c

The command list comes from kv/commands.h: a handler cmd_<name> is the command
<name>, or the subcommand <parent>|<sub> when cmd_<parent>_<sub> names one.
Subcommands slotd has that 7.0 lacks (CLIENT SETINFO, from 7.2) are described
by SUPPLEMENT below, in the shape 7.2's command JSON gives them.
"""
import argparse
import os
import re
import socket
import sys

HELP_CONTAINERS = ["client", "command", "slowlog", "debug", "object", "memory", "config", "function"]

# Entries 7.0 does not have. Shapes follow 7.2's src/commands/*.json.
SUPPLEMENT = {
    "client|setinfo": {
        "arity": 4,
        "flags": ["noscript", "loading", "stale"],
        "acl": ["@slow", "@connection"],
        "docs": [
            ("summary", "Sets information specific to the client or connection."),
            ("since", "7.2.0"),
            ("group", "connection"),
            ("complexity", "O(1)"),
            ("arguments", [
                [("name", "attr"), ("type", "oneof"), ("arguments", [
                    [("name", "libname"), ("type", "string"), ("token", "lib-name")],
                    [("name", "libver"), ("type", "string"), ("token", "lib-ver")],
                ])],
            ]),
        ],
    },
}


# --- RESP client with byte spans -------------------------------------------

class Node:
    def __init__(self, kind, start):
        self.kind = kind        # one of + - : $ * % ~ _ = , #
        self.start = start
        self.end = start
        self.value = None
        self.children = []


def parse(buf, pos):
    """Parse one RESP2/RESP3 value at buf[pos:]; return (node, end) or None."""
    if pos >= len(buf):
        return None
    eol = buf.find(b"\r\n", pos)
    if eol < 0:
        return None
    kind = chr(buf[pos])
    line = buf[pos + 1:eol]
    node = Node(kind, pos)
    nxt = eol + 2
    if kind in "+-:,#_":
        node.value = line
    elif kind in "$=":
        n = int(line)
        if n < 0:
            node.value = None
        else:
            if len(buf) < nxt + n + 2:
                return None
            node.value = buf[nxt:nxt + n]
            nxt += n + 2
    elif kind in "*~%":
        n = int(line)
        count = n * 2 if kind == "%" else n
        for _ in range(max(count, 0)):
            r = parse(buf, nxt)
            if r is None:
                return None
            child, nxt = r
            node.children.append(child)
    else:
        raise ValueError("unexpected RESP type %r" % kind)
    node.end = nxt
    return node, nxt


class Conn:
    def __init__(self, host, port, proto):
        self.s = socket.create_connection((host, port))
        self.buf = b""
        if proto == 3:
            self.call("HELLO", "3")

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
        while True:
            r = parse(self.buf, 0)
            if r is not None:
                node, end = r
                raw = self.buf[:end]
                self.buf = self.buf[end:]
                return node, raw
            d = self.s.recv(1 << 20)
            if not d:
                raise IOError("connection closed")
            self.buf += d


# --- RESP encoder for SUPPLEMENT ----------------------------------------------

def enc_bulk(s):
    b = s.encode()
    return b"$%d\r\n%s\r\n" % (len(b), b)


def enc_agg(kind, n, proto):
    if proto == 2:
        return b"*%d\r\n" % (n * 2 if kind == "%" else n)
    return b"%s%d\r\n" % (kind.encode(), n)


def enc_docs_value(v, proto):
    if isinstance(v, str):
        return enc_bulk(v)
    if v and isinstance(v[0], list):          # list of argument maps
        out = enc_agg("*", len(v), proto)
        for m in v:
            out += enc_agg("%", len(m), proto) + enc_pairs(m, proto)
        return out
    raise ValueError("unsupported docs value")


def enc_pairs(pairs, proto):
    out = b""
    for k, v in pairs:
        out += enc_bulk(k) + enc_docs_value(v, proto)
    return out


def supplement_info_head(name, sup, proto):
    out = enc_bulk(name) + b":%d\r\n" % sup["arity"]
    out += enc_agg("~", len(sup["flags"]), proto)
    out += b"".join(b"+%s\r\n" % f.encode() for f in sup["flags"])
    out += b":0\r\n:0\r\n:0\r\n"
    out += enc_agg("~", len(sup["acl"]), proto)
    out += b"".join(b"+%s\r\n" % a.encode() for a in sup["acl"])
    out += enc_agg("~", 0, proto)          # tips
    out += enc_agg("~", 0, proto)          # key specs
    return out


# --- capture ----------------------------------------------------------------

def handler_names(commands_h):
    text = re.sub(r"/\*.*?\*/", "", open(commands_h).read(), flags=re.S)
    return [h for h in re.findall(r"\bcmd_([a-z0-9_]+)\b", text) if h != "fn"]


def split_info_entry(node, raw_base):
    """Element 0..8 raw bytes, and the subcommand entries (element 9)."""
    kids = node.children
    assert node.kind == "*" and len(kids) == 10, "unexpected COMMAND INFO entry shape"
    head = raw_base[kids[0].start:kids[8].end]
    return head, kids[9].children


def split_docs_map(node, raw):
    """Pairs other than 'subcommands' as raw bytes, their count, and the
    subcommands node (or None). 'subcommands' must be the last pair."""
    kids = node.children
    pairs = [(kids[i], kids[i + 1]) for i in range(0, len(kids), 2)]
    subs = None
    if pairs and pairs[-1][0].value == b"subcommands":
        subs = pairs[-1][1]
        pairs = pairs[:-1]
    for k, _ in pairs:
        assert k.value != b"subcommands", "subcommands is not the last docs field"
    if not pairs:
        return b"", 0, subs
    return raw[pairs[0][0].start:pairs[-1][1].end], len(pairs), subs


def capture(host, port, commands_h):
    c2 = Conn(host, port, 2)
    c3 = Conn(host, port, 3)

    # every 7.0 command with its subcommands, by full name
    node, _ = c2.call("COMMAND")
    known = {}
    for e in node.children:
        name = e.children[0].value.decode()
        known[name] = [s.children[0].value.decode() for s in e.children[9].children]

    wanted = {}   # top-level -> set of subcommands (full names)
    for h in handler_names(commands_h):
        # cmd_restore_asking is the command restore-asking, not a subcommand
        if h in known or h.replace("_", "-") in known:
            wanted.setdefault(h if h in known else h.replace("_", "-"), set())
            continue
        parent, _, sub = h.partition("_")
        full = "%s|%s" % (parent, sub.replace("_", "-"))
        if parent in known and (full in known[parent] or full in SUPPLEMENT):
            wanted.setdefault(parent, set()).add(full)
        else:
            sys.stderr.write("warning: no Redis 7.0 command for handler cmd_%s\n" % h)

    entries = {}   # full name -> dict
    for top in sorted(wanted):
        rec = {}
        for proto, conn in ((2, c2), (3, c3)):
            inode, iraw = conn.call("COMMAND", "INFO", top)
            ent = inode.children[0]
            head, subs = split_info_entry(ent, iraw)
            rec["info%d" % proto] = head
            for s in subs:
                sname = s.children[0].value.decode()
                if sname in wanted[top]:
                    shead, _ = split_info_entry(s, iraw)
                    entries.setdefault(sname, {})["info%d" % proto] = shead
                    if proto == 2:
                        entries[sname]["acl"] = [a.value.decode() for a in s.children[6].children]
            if proto == 2:
                rec["acl"] = [a.value.decode() for a in ent.children[6].children]

            dnode, draw = conn.call("COMMAND", "DOCS", top)
            doc = dnode.children[1]
            dhead, npairs, dsubs = split_docs_map(doc, draw)
            rec["docs%d" % proto] = dhead
            rec["docs_pairs"] = npairs
            if dsubs is not None:
                k = dsubs.children
                for i in range(0, len(k), 2):
                    sname = k[i].value.decode()
                    if sname in wanted[top]:
                        shead, sp, _ = split_docs_map(k[i + 1], draw)
                        entries.setdefault(sname, {})["docs%d" % proto] = shead
                        entries[sname]["docs_pairs"] = sp
        entries[top] = rec

    for name, sup in SUPPLEMENT.items():
        parent = name.split("|")[0]
        if name not in wanted.get(parent, ()):
            continue
        rec = {"acl": sup["acl"], "docs_pairs": len(sup["docs"])}
        for proto in (2, 3):
            rec["info%d" % proto] = supplement_info_head(name, sup, proto)
            rec["docs%d" % proto] = enc_pairs(sup["docs"], proto)
        entries[name] = rec

    helps = {}
    for h in HELP_CONTAINERS:
        if h not in wanted:
            continue
        node, raw = c2.call(h.upper(), "HELP")
        if node.kind == "-":
            sys.stderr.write("warning: %s HELP failed: %s\n" % (h, node.value.decode()))
            continue
        helps[h] = raw
    return entries, helps


# --- C output -----------------------------------------------------------------

def c_str(b):
    out = []
    line = '"'
    for byte in b:
        ch = chr(byte)
        if ch == "\\":
            s = "\\\\"
        elif ch == '"':
            s = '\\"'
        elif ch == "\r":
            s = "\\r"
        elif ch == "\n":
            s = "\\n"
        elif 32 <= byte < 127 and ch != "?":
            s = ch
        else:
            s = "\\%03o" % byte
        line += s
        if ch == "\n" and len(line) > 60:
            out.append(line + '"')
            line = '"'
    out.append(line + '"')
    return "\n        ".join(out)


def emit(entries, helps):
    w = sys.stdout.write
    w("/* command_meta — GENERATED by scripts/gen-command-meta.py from redis-server 7.0\n"
      " * (COMMAND INFO, COMMAND DOCS and <container> HELP replies). DO NOT EDIT:\n"
      " * re-run the script instead. The bytes describe the command interface (argument\n"
      " * specs, one-line summaries) so slotd answers introspection exactly as 7.0 does.\n"
      " * Read-only data, shared by every core. */\n")
    w('#include "command_meta.h"\n\n#include <string.h>\n\n')
    w("/* Some replies are longer than the 4095 bytes ISO C promises for a literal;\n"
      " * gcc and clang take any length. */\n"
      '#pragma GCC diagnostic ignored "-Woverlength-strings"\n\n')
    w("static const struct command_meta META[] = {\n")
    for name in sorted(entries):
        e = entries[name]
        w("    {\n        .name = %s,\n" % c_str(name.encode()))
        for key in ("info2", "info3", "docs2", "docs3"):
            w("        .%s = %s,\n" % (key, c_str(e[key])))
            w("        .%s_len = %d,\n" % (key, len(e[key])))
        w("        .docs_pairs = %d,\n" % e["docs_pairs"])
        w("        .acl = %s,\n    },\n" % c_str(" ".join(e["acl"]).encode()))
    w("};\n\n")
    w("static const struct command_help HELP[] = {\n")
    for name in sorted(helps):
        w("    { %s, %s, %d },\n" % (c_str(name.encode()), c_str(helps[name]), len(helps[name])))
    w("};\n\n")
    w("const struct command_meta *command_meta_find(const char *fullname)\n{\n"
      "    size_t lo = 0, hi = sizeof(META) / sizeof(META[0]);\n\n"
      "    while (lo < hi) {\n"
      "        size_t mid = (lo + hi) / 2;\n"
      "        int cmp = strcmp(fullname, META[mid].name);\n"
      "        if (cmp == 0)\n            return &META[mid];\n"
      "        if (cmp < 0)\n            hi = mid;\n        else\n            lo = mid + 1;\n"
      "    }\n    return NULL;\n}\n\n")
    w("const struct command_help *command_meta_help(const char *container)\n{\n"
      "    for (size_t i = 0; i < sizeof(HELP) / sizeof(HELP[0]); i++)\n"
      "        if (strcmp(HELP[i].name, container) == 0)\n            return &HELP[i];\n"
      "    return NULL;\n}\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=6379)
    ap.add_argument("--commands", default=os.path.join(os.path.dirname(__file__), "..", "kv", "commands.h"))
    a = ap.parse_args()
    entries, helps = capture(a.host, a.port, a.commands)
    emit(entries, helps)


if __name__ == "__main__":
    main()
