"""Network-namespace helpers for the DPDK end-to-end test: create and delete
namespaces, run commands inside them, move interfaces into them, inject random
loss with nftables, and check that nothing is left behind.

Standard library only, run as root with /usr/bin/python3. Only addresses from
127.0.0.0/8 and 198.18.0.0/15 are ever configured, and only inside namespaces
this module created, except for what slotd's exception TAP puts in the root
namespace by itself (its address and the connected route of its /24).

Every namespace made here is remembered and deleted by cleanup(), which the
caller runs from a finally block; namespaces that an earlier, killed run left
behind are found by their name (PREFIX + the PID of a process that no longer
exists) and deleted by reap_stale().
"""

import ctypes
import ipaddress
import os
import re
import signal
import subprocess
import time

PREFIX = "slotd-t"
ALLOWED_NETS = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("198.18.0.0/15"))

_namespaces = []


class CmdError(RuntimeError):
    pass


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _die_with_parent():
    # PR_SET_PDEATHSIG = 1: killed if the test itself is killed outright.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    except OSError:
        pass


def run(argv, ns=None, timeout=60, check=True, input=None):
    """Run argv (inside namespace ns when given) with a time limit; the whole
    process group is killed when the limit passes. Returns CompletedProcess
    with text stdout/stderr; raises CmdError on a non-zero status if check."""
    full = (["ip", "netns", "exec", ns] if ns else []) + list(argv)
    proc = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                            start_new_session=True, preexec_fn=_die_with_parent)
    try:
        out, err = proc.communicate(input=input.encode() if isinstance(input, str) else input,
                                    timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        raise CmdError("timed out after %ss: %s\nstdout: %s\nstderr: %s"
                       % (timeout, " ".join(full), _tail(out), _tail(err)))
    except BaseException:
        _kill_group(proc)
        proc.wait()
        raise
    cp = subprocess.CompletedProcess(full, proc.returncode, out.decode("utf-8", "replace"),
                                     err.decode("utf-8", "replace"))
    if check and cp.returncode != 0:
        raise CmdError("exit %d: %s\nstdout: %s\nstderr: %s"
                       % (cp.returncode, " ".join(full), _tail(cp.stdout), _tail(cp.stderr)))
    return cp


def _tail(s, n=2000):
    if isinstance(s, bytes):
        s = s.decode("utf-8", "replace")
    return s if len(s) <= n else "..." + s[-n:]


def check_addr(cidr):
    """Refuse any address outside the ranges the project may use."""
    net = ipaddress.ip_interface(cidr).network
    if not any(net.subnet_of(a) for a in ALLOWED_NETS):
        raise ValueError("address %s is outside 127.0.0.0/8 and 198.18.0.0/15" % cidr)
    return cidr


def namespaces():
    out = run(["ip", "netns", "list"], check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def reap_stale():
    """Delete namespaces PREFIX<pid>[-x] whose creating process is gone (a run
    killed with SIGKILL cannot clean up after itself). Returns their names."""
    gone = []
    for name in namespaces():
        m = re.match(re.escape(PREFIX) + r"(\d+)(-\w+)?$", name)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            run(["ip", "netns", "del", name], check=False)
            gone.append(name)
    return gone


class Netns:
    """A network namespace owned by this process (deleted by cleanup())."""

    def __init__(self, suffix=""):
        self.name = "%s%d%s" % (PREFIX, os.getpid(), suffix)

    def create(self):
        run(["ip", "netns", "add", self.name])
        _namespaces.append(self)
        run(["ip", "link", "set", "lo", "up"], ns=self.name)
        # Only the IPv4 test traffic: no router solicitations or MLD reports
        # from the test's interfaces.
        run(["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"], ns=self.name, check=False)
        run(["sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1"], ns=self.name, check=False)
        return self

    def run(self, argv, **kw):
        return run(argv, ns=self.name, **kw)

    def argv(self, argv):
        return ["ip", "netns", "exec", self.name] + list(argv)

    def adopt(self, ifname, cidr, timeout=10.0, txqueuelen=None, src=None, mac=None):
        """Move ifname from namespace src (None: the root namespace) into
        this one, give it cidr (and MAC address mac) and bring it up (with
        txqueuelen if given). Waits up to timeout for the interface to appear
        first."""
        check_addr(cidr)
        wait_link(ifname, timeout=timeout, ns=src)
        run(["ip", "link", "set", ifname, "netns", self.name], ns=src)
        if txqueuelen:
            self.run(["ip", "link", "set", ifname, "txqueuelen", str(txqueuelen)])
        if mac:
            self.run(["ip", "link", "set", ifname, "address", mac])
        self.run(["ip", "addr", "add", cidr, "dev", ifname])
        self.run(["ip", "link", "set", ifname, "up"])

    def loss_on(self, pct):
        """Drop pct% of IPv4 packets at random, both ways (input and output
        hooks of this namespace's own nftables table)."""
        assert 0 < pct < 100
        rules = ("table ip slotdloss {\n"
                 " chain in { type filter hook input priority 0; policy accept;\n"
                 "  numgen random mod 100 < %d counter drop\n }\n"
                 " chain out { type filter hook output priority 0; policy accept;\n"
                 "  numgen random mod 100 < %d counter drop\n }\n"
                 "}\n" % (pct, pct))
        self.run(["nft", "-f", "-"], input=rules)

    def loss_counters(self):
        """Packets dropped so far by loss_on's rules: (input, output)."""
        out = self.run(["nft", "list", "table", "ip", "slotdloss"], check=False).stdout
        found = {}
        chain = None
        for line in out.splitlines():
            m = re.match(r"\s*chain (\w+)", line)
            if m:
                chain = m.group(1)
            m = re.search(r"counter packets (\d+)", line)
            if m and chain:
                found[chain] = int(m.group(1))
        return found.get("in", 0), found.get("out", 0)

    def loss_off(self):
        self.run(["nft", "delete", "table", "ip", "slotdloss"], check=False)

    def delete(self):
        run(["ip", "netns", "del", self.name], check=False)
        if self in _namespaces:
            _namespaces.remove(self)

    def exists(self):
        return self.name in namespaces()


def link_exists(ifname, ns=None):
    return run(["ip", "link", "show", "dev", ifname], ns=ns, check=False).returncode == 0


def wait_link(ifname, timeout=10.0, ns=None):
    deadline = time.time() + timeout
    while not link_exists(ifname, ns):
        if time.time() > deadline:
            raise CmdError("interface %s did not appear within %ss" % (ifname, timeout))
        time.sleep(0.05)


def wait_link_gone(ifname, timeout=10.0, ns=None):
    deadline = time.time() + timeout
    while link_exists(ifname, ns):
        if time.time() > deadline:
            return False
        time.sleep(0.05)
    return True


def routes():
    """The root namespace's IPv4 routes (all tables) and addresses, for a
    before/after comparison."""
    r = run(["ip", "-4", "route", "show", "table", "all"], check=False).stdout.splitlines()
    a = run(["ip", "-4", "-o", "addr", "show"], check=False).stdout.splitlines()
    return set(r) | set(" ".join(line.split()[1:4]) for line in a)


def foreign_changes(before, after):
    """Lines of routes() that appeared and do not mention 127.x or 198.18/15
    addresses (anything else would be a change outside what we may touch)."""
    bad = []
    for line in sorted(after - before):
        nets = re.findall(r"\d+\.\d+\.\d+\.\d+(?:/\d+)?", line)
        if not nets or not all(any(ipaddress.ip_interface(n).network.subnet_of(a) for a in ALLOWED_NETS)
                               for n in nets):
            bad.append(line)
    return bad


def cleanup():
    """Delete every namespace created here; returns the names that would not go."""
    left = []
    for ns in list(_namespaces):
        ns.delete()
        if ns.exists():
            left.append(ns.name)
    return left
