#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Random scenarios for test_matrix.sh, and the check of their results.

  matrix.py gen SEED COUNT [ONLY]
      prints one scenario a line, tab-separated:
      INDEX NAME SYSCTLS ADDRESSES STEPS MODE
      (SYSCTLS "key=value;...", ADDRESSES "addr/len ..." to add to lo,
      STEPS the arguments of exhaust.py, MODE "exact" or "bounds").
      Scenario I of seed S depends on S and I alone, so ONLY regenerates
      just that one.
  matrix.py check MODE LINE [N]
      checks one line of exhaust.py: exact, Pk == Mk == N - k for every k;
      bounds, Mk <= N - k <= Pk; and that N connects succeeded.

A scenario builds, in a fresh namespace: a tiny range (8-24 ports, bounds
of either parity), reserved ports (the edges often), listeners, bound idle
sockets and bind-before-connect sockets in the range, UDP sockets of every
kind (IPv4, IPv6-only on an address, [::] with and without IPV6_V6ONLY,
SO_REUSEADDR pairs, v4-mapped, connected ones), and for a TCP destination
(IPv4, IPv6 or v4-mapped, on loopback or on an address added to lo, from
the routing source or a chosen one, possibly a listener inside the range)
connections held toward it, from other sources and toward other
destinations, in ESTABLISHED, FIN_WAIT2, CLOSE_WAIT and TIME_WAIT (closed
client first; tcp_tw_reuse 0, 1 or 2; older or younger than
tcp_tw_reuse_delay). Then it exhausts one TCP destination or one UDP
budget (IPv4, IPv6 by default under net.ipv6.bindv6only 0 or 1, IPv6-only,
bound to an address).

Left out on purpose, because a socket dump cannot tell them apart from a
connect()-chosen socket (FACTS.md; they need a tracer): bind(0)-then-connect
sockets, the TIME_WAIT of a socket bound first (bind-before-connect
sockets stay open), connections accepted by a listener that has since
closed (listeners stay open), and whether a TIME_WAIT used timestamps
(tcp_timestamps stays 1). Also left out: IPv6 sockets bound to v4-mapped
addresses as the exhausted kind (they differ from IPv4 sockets only for
127.0.0.6), and IP_LOCAL_PORT_RANGE (a per-socket clamp no dump shows).
"""
import random
import sys

# A destination, then the other sources it may be reached from. The
# addresses added to lo are not loopback addresses for tcp_tw_reuse = 2,
# but a TIME_WAIT is loopback when either end is.
POOLS = {
    ("tcp4", False): ["127.0.0.1", "127.0.0.2", "10.255.0.2"],
    ("tcp4", True): ["10.255.0.1", "10.255.0.2", "127.0.0.2"],
    ("tcp6", False): ["::1", "fd00::2"],
    ("tcp6", True): ["fd00::1", "fd00::2", "::1"],
}
ADDRS = ["10.255.0.1/32", "10.255.0.2/32", "fd00::1/128", "fd00::2/128"]
DPORTS = [5000, 5001, 5002]

UDP_KINDS = {
    "v4any": ("udpsock", "0.0.0.0", ""),
    "v4lo": ("udpsock", "127.0.0.1", ""),
    "v4far": ("udpsock", "10.255.0.2", ""),
    "v6only-lo": ("udpsock", "[::1]", ""),
    "v6only-any": ("udpsock", "[::]", ":v6only"),
    "dual-any": ("udpsock", "[::]", ":dual"),
    "reuse-v4": ("udpsock", "0.0.0.0", ":reuse"),
    "reuse-v6": ("udpsock", "[::]", ":dual:reuse"),
    "v6-far": ("udpsock", "[fd00::1]", ""),
    "mapped": ("udpsock", "[::ffff:127.0.0.1]", ""),
    "conn4": ("udpconn", "127.0.0.1", ""),
    "conn6": ("udpconn", "[::1]", ""),
    "conn6-far": ("udpconn", "[fd00::2]", ""),
    "conn-mapped": ("udpconn", "[::ffff:127.0.0.1]", ""),
}


def br(addr):
    return "[%s]" % addr if ":" in addr else addr


class Scenario:
    def __init__(self, seed, index):
        self.r = random.Random("%s:%d" % (seed, index))
        self.index = index
        self.sysctls = {}
        self.steps = ["listen:[::]:%d" % p for p in DPORTS]
        self.name = []
        self.mode = "exact"

    def build(self):
        r = self.r
        size = r.randint(8, 24)
        low = r.randint(40000, 40100)
        high = low + size - 1
        self.low, self.high = low, high
        self.sysctls["net.ipv4.ip_local_port_range"] = "%d %d" % (low, high)
        self.same_parity = (low & 1) == (high & 1)
        self.ports = list(range(low, high + 1))
        r.shuffle(self.ports)
        self.reserved()
        self.binders()
        self.udp()
        target = r.choice(["tcp4", "tcp4", "tcp6", "tcp6", "tcp-mapped",
                           "tcp-inrange", "udp4", "udp6", "udp6only",
                           "udp6default", "udpbind6", "udpbind4",
                           "udpfrom"])
        if target.startswith("tcp"):
            self.tcp(target)
        else:
            self.udp_target(target)
        label = "range %d-%d%s" % (low, high, " same-parity"
                                   if self.same_parity else "")
        return "\t".join([
            str(self.index), " ".join([self.title, label] + self.name),
            ";".join("%s=%s" % kv for kv in self.sysctls.items()),
            " ".join(ADDRS), " ".join(self.steps), self.mode])

    def reserved(self):
        """Reserved ports, the edges more often than their share."""
        r = self.r
        res = set()
        for _ in range(r.choice([0, 0, 1, 2, 3])):
            res.add(r.choice([self.low, self.high, self.ports[-1]]))
        if res:
            self.sysctls["net.ipv4.ip_local_reserved_ports"] = ",".join(
                map(str, sorted(res)))
            self.name.append("reserved %s" % ",".join(map(str,
                                                          sorted(res))))
        self.ports = [p for p in self.ports if p not in res]
        self.nres = len(res)

    def binders(self):
        """Explicit TCP binders in the range: each blocks a port for every
        TCP destination, never a UDP port."""
        r = self.r
        self.nblk = r.choice([0, 1, 1, 2, 3])
        for _ in range(self.nblk):
            port = self.ports.pop()
            kind = r.choice(["listen", "bind", "bbc"])
            addr = r.choice(["0.0.0.0", "127.0.0.1", "10.255.0.1", "::",
                             "::1", "fd00::2"])
            if kind == "listen":
                self.steps.append("listen:%s:%d%s" % (
                    br(addr), port, r.choice(["", ":v6only"])
                    if addr == "::" else ""))
            elif kind == "bind":
                self.steps.append("bind:%s:%d" % (br(addr), port))
            else:
                addr = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(addr, addr)
                self.steps.append("bbc:%s:%d:%s:%d" % (
                    br(addr), port, br(addr), r.choice(DPORTS)))
            self.name.append("%s@%d" % (kind, port))

    def udp(self):
        """UDP sockets of every kind, on ports of the range or chosen by
        the kernel; ports named first, so that no autobind takes one of
        them before."""
        r = self.r
        named, auto, used = [], [], set()
        for _ in range(r.choice([0, 1, 2, 4, 6])):
            kind = r.choice(sorted(UDP_KINDS))
            step, addr, opts = UDP_KINDS[kind]
            if step == "udpconn":
                auto.append(("udpconn:%s:53" % addr, "udp-%s" % kind))
                continue
            port = r.choice([0, r.choice(self.ports)]) if self.ports else 0
            if port in used:
                port = 0
            used.add(port)
            entry = ("udpsock:%s:%d%s" % (addr, port, opts),
                     "udp-%s@%s" % (kind, port or "auto"))
            (auto if port == 0 else named).append(entry)
        # Each autobind may need a port no UDP socket holds (connect()
        # autobinds before the address is chosen, as a wildcard): no more
        # of them than the range has UDP ports left after the named ones,
        # less one for the exhaust itself.
        room = self.high - self.low + 1 - self.nres - len(named) - 1
        auto = auto[:max(0, room)]
        for step, name in named + auto:
            self.steps.append(step)
            self.name.append(name)

    def tcp(self, target):
        r = self.r
        # Ports each destination surely gets (with bounds of one parity a
        # connect() may miss one): the load put on one must leave some
        # for the exhaust.
        cap = self.high - self.low + 1 - self.nres - self.nblk - (
            1 if self.same_parity else 0)
        far = target in ("tcp4", "tcp6") and r.random() < 0.4
        pool = POOLS["tcp6" if target == "tcp6" else "tcp4", far]
        dest, dport = pool[0], r.choice(DPORTS)
        if target == "tcp-inrange" and self.ports:
            # A listener inside the range is its own destination: the
            # connections it accepts sit on its blocked port.
            dport = self.ports.pop()
            cap -= 1
            self.steps.append("listen:0.0.0.0:%d" % dport)
        sources = [None] + ([r.choice(pool[1:])] if r.random() < 0.5
                            else [])
        src = None if target == "tcp-mapped" else r.choice(sources)
        opt = ":from=%s" % br(src) if src else ""
        reuse = r.choice([0, 1, 2])
        old = r.random() < 0.6
        self.sysctls["net.ipv4.tcp_tw_reuse"] = str(reuse)
        self.sysctls["net.ipv4.tcp_tw_reuse_delay"] = "1" if old else "60000"
        self.name.append("tw_reuse=%d %s" % (reuse, "old" if old
                                              else "young"))
        # The load toward this destination, from this source; over a v4-
        # mapped IPv6 socket it shares the IPv4 budget.
        via = "[::ffff:%s]" % dest if target == "tcp-mapped" else br(dest)
        left = cap - 1
        for kind in ["tw", "tw", "est", "fw2", "cw"]:
            n = min(r.choice([0, 0, 1, 2, 3]), left)
            if n > 0:
                self.steps.append("%s:%s:%d:%d%s" % (kind, via, dport, n,
                                                      opt))
                self.name.append("%s %d" % (kind, n))
                left -= n
        # The same load from another source or toward another destination
        # takes none of this destination's ports.
        if r.random() < 0.5:
            other = r.choice([p for p in DPORTS if p != dport])
            nest = min(r.randint(1, 4), cap - 1)
            ntw = min(r.randint(1, 3), cap - nest)
            self.steps += ["%s:%s:%d:%d" % (kind, br(dest), other, n)
                           for kind, n in (("est", nest), ("tw", ntw))
                           if n > 0]
            self.name.append("other dest")
        if len(sources) > 1 and r.random() < 0.7:
            osrc = sources[1] if src is None else None
            self.steps.append("tw:%s:%d:%d%s" % (
                br(dest), dport, min(r.randint(1, 3), cap),
                ":from=%s" % br(osrc) if osrc else ""))
            self.name.append("other source")
        if old and any(s.startswith("tw:") for s in self.steps):
            self.steps.append("sleep:0.05")
        if target == "tcp-mapped" and r.random() < 0.5:
            self.steps.append("tcp:[::ffff:%s]:%d" % (dest, dport))
        else:
            self.steps.append("tcp:%s:%d%s" % (br(dest), dport, opt))
        self.title = "%s %s%s:%d%s" % (target, "from %s to " % src
                                       if src else "", dest, dport,
                                       " (not loopback)" if far else "")
        self.mode = "bounds" if self.same_parity else "exact"

    def udp_target(self, target):
        r = self.r
        if target == "udp4":
            step = "udp:127.0.0.1:53"
        elif target == "udp6":
            step = "udp:[::1]:53:dual"
        elif target == "udp6only":
            step = "udp:[::1]:53:v6only"
        elif target == "udp6default":
            # The default IPv6 socket follows net.ipv6.bindv6only.
            v6only = r.choice(["0", "1"])
            self.sysctls["net.ipv6.bindv6only"] = v6only
            self.name.append("bindv6only=" + v6only)
            step = "udp:[::1]:53"
        elif target == "udpbind6":
            step = "udpbind:[%s]" % r.choice(["::1", "fd00::1", "fd00::2"])
        elif target == "udpbind4":
            step = "udpbind:%s" % r.choice(["127.0.0.1", "10.255.0.1",
                                            "127.0.0.6"])
        else:
            step = r.choice(["udp:[::1]:53:from=[::1]",
                             "udp:[fd00::2]:53:from=[fd00::1]",
                             "udp:127.0.0.1:53:from=127.0.0.2"])
        self.steps.append(step)
        self.title = step


def check(mode, line, want=None):
    def numbers(key):
        return [int(x) for x in line.split(key + "=")[1].split()[0]
                .split(",")]
    pred, mins, n = numbers("predicted"), numbers("min"), \
        numbers("connected")[0]
    bad = []
    for k, (p, m) in enumerate(zip(pred, mins)):
        left = n - k
        if mode == "exact" and not p == m == left:
            bad.append("k=%d: predicted %d (min %d), %d left" %
                       (k, p, m, left))
        if mode == "bounds" and not m <= left <= p:
            bad.append("k=%d: predicted %d..%d, %d left" % (k, m, p, left))
    if len(pred) != n + 1:
        bad.append("%d predictions for %d connects" % (len(pred), n))
    if want is not None and n != want:
        bad.append("%d connected, wanted %d" % (n, want))
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "gen":
        seed, count = sys.argv[2], int(sys.argv[3])
        only = int(sys.argv[4]) if len(sys.argv) > 4 else None
        for i in range(count):
            if only is None or only == i:
                print(Scenario(seed, i).build())
    elif len(sys.argv) in (4, 5) and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3],
                       int(sys.argv[4]) if len(sys.argv) == 5 else None))
    else:
        sys.exit("usage: matrix.py gen SEED COUNT [ONLY] | "
                 "check MODE LINE [N]")
