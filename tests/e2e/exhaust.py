#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs ephport's prediction against the kernel, in the current network
namespace. Usage: exhaust.py EPHPORT STEP...

Fields are separated by ':'; an IPv6 address is written in brackets
([::1]); the socket family follows the address. Steps, in order, each
holding its sockets to the end:

  listen:ADDR:PORT[:v6only]   a TCP listener (backlog large enough for the
                        range); on [::] dual stack unless v6only
  bind:ADDR:PORT        a bound idle TCP socket
  bbc:ADDR:PORT:DADDR:DPORT   bind to ADDR:PORT, then connect to DADDR:DPORT
  est:DADDR:DPORT:N[:from=SADDR]   N connections, held open
  tw:DADDR:DPORT:N[:from=SADDR]    N connections closed client first
                        (TIME_WAIT on the client's side)
  fw2:DADDR:DPORT:N[:from=SADDR]   N connections closed by the client only
                        (FIN_WAIT2 on its side; the peers stay open)
  cw:DADDR:DPORT:N[:from=SADDR]    N connections closed by the peer only
                        (CLOSE_WAIT on the client's side)
  udpsock:ADDR:PORT[:v6only|:dual][:reuse]   a bound UDP socket held; with
                        reuse, two sockets sharing the port (SO_REUSEADDR);
                        PORT 0 lets the kernel choose
  udpconn:DADDR:DPORT[:N]   N (default 1) connected UDP sockets held
  sleep:SECONDS
  tcp:DADDR:DPORT[:from=SADDR]   before every connect, ask `ephport usage
                        --json` for the destination's free count (free and
                        free_min); connect until EADDRNOTAVAIL. With from,
                        the socket is bound to SADDR:0 with
                        IP_BIND_ADDRESS_NO_PORT first, so connect() still
                        picks the port; without, routing picks the source.
  udp:DADDR:DPORT[:v6only|:dual][:from=SADDR]   the same with connected UDP
                        sockets until EAGAIN; an IPv4 destination is
                        checked against .udp.ipv4, an IPv6 one against
                        .udp.ipv6 (the default socket: dual stack means
                        it under net.ipv6.bindv6only 0 only), or
                        .udp.ipv6only with v6only; from= binds SADDR:0 as
                        for tcp and is checked against that address's
                        budget
  udpbind:ADDR[:v6only]  bind(ADDR:0) until EADDRINUSE, checked against the
                        budget of that address (ADDR [::] or 0.0.0.0: the
                        family's)
  hold                  print HOLD and keep every socket until stdin closes

For tcp, udp and udpbind it prints one line:
  STEP predicted=P0,...,Pn min=M0,...,Mn connected=N
where Pk (free) and Mk (free_min) are the predictions after k connects; a
right model gives Mk <= N - k <= Pk for every k (Mk == Pk but for bounds
of one parity), ending with 0.
"""
import errno
import ipaddress
import json
import socket
import subprocess
import sys
import time

from sockutil import wait_time_wait

EPHPORT = sys.argv[1]
keep = []
listeners = []


def fields(rest):
    """Splits on ':' outside brackets; strips the brackets."""
    out, cur, depth = [], "", 0
    for ch in rest:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == ":" and depth == 0:
            out.append(cur)
            cur = ""
            continue
        cur += ch
    out.append(cur)
    return [f[1:-1] if f.startswith("[") and f.endswith("]") else f
            for f in out]


def options(words):
    opts = {}
    for w in words:
        k, eq, v = w.partition("=")
        opts[k] = v.strip("[]") if eq else True
    return opts


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def canon(addr):
    """The address as ephport prints it: v4-mapped ones as IPv4."""
    a = ipaddress.ip_address(addr)
    if a.version == 6 and a.ipv4_mapped:
        return a.ipv4_mapped
    return a


def route_src(daddr):
    """The source address routing picks toward DADDR."""
    a = canon(daddr)
    out = subprocess.run(["ip", "-%d" % a.version, "-o", "route", "get",
                          str(a)], check=True, capture_output=True,
                         text=True).stdout.split()
    return canon(out[out.index("src") + 1])


def usage():
    out = subprocess.run([EPHPORT, "usage", "--json", "--no-owners",
                          "--top", "0"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def tcp_free(local, daddr, dport):
    u = usage()
    for t in u["tuples"]:
        if (canon(t["remote"]) == daddr and t["remote_port"] == dport
                and canon(t["local"]) == local):
            return t["free"], t["free_min"]
    return u["range"]["capacity"], u["range"]["capacity_min"]


def udp_budget(u, key):
    """KEY: 'ipv4', 'ipv6', 'ipv6only', or an address bound to."""
    udp = u["udp"]
    if key in udp:
        return udp[key]["free"]
    a = canon(key)
    for e in udp["addresses"]:
        if canon(e["local"]) == a:
            return e["free"]
    return udp["ipv4_address" if a.version == 4 else "ipv6_address"]["free"]


def udp_free(key):
    f = udp_budget(usage(), key)
    return f, f


def drain_accepts():
    for lst in listeners:
        try:
            while True:
                keep.append(lst.accept()[0])
        except BlockingIOError:
            pass


def v6only(s, opts, addr=None):
    """IPV6_V6ONLY as OPTS ask; off for a v4-mapped ADDR, whatever
    net.ipv6.bindv6only says."""
    if s.family != socket.AF_INET6:
        return
    if addr and canon(addr).version == 4:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    elif "v6only" in opts:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    elif "dual" in opts:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)


def client(daddr, kind, opts):
    """An unconnected socket toward DADDR, bound to from= without a port."""
    s = socket.socket(family(daddr), kind)
    v6only(s, opts, daddr)
    if "from" in opts:
        s.setsockopt(socket.SOL_IP, socket.IP_BIND_ADDRESS_NO_PORT, 1)
        s.bind((opts["from"], 0))
    return s


def connections(daddr, dport, n, opts):
    """N connections to DADDR:DPORT, with the peers accepted: each client
    is matched with its peer, which our listener must hand out."""
    out = []
    for _ in range(n):
        c = client(daddr, socket.SOCK_STREAM, opts)
        c.connect((daddr, dport))
        out.append(c)
    def end(a):
        return canon(a[0].split("%")[0]), a[1]

    ends = {end(c.getsockname()) for c in out}
    peers = []
    deadline = time.monotonic() + 5
    while ends and time.monotonic() < deadline:
        got = False
        for lst in listeners:
            try:
                p = lst.accept()[0]
            except BlockingIOError:
                continue
            got = True
            if end(p.getpeername()) in ends:
                ends.discard(end(p.getpeername()))
                peers.append(p)
            else:
                keep.append(p)
        if not got:
            time.sleep(0.001)
    if ends:
        raise SystemExit("%d connections to %s:%d were never accepted" %
                         (len(ends), daddr, dport))
    return out, peers


def wait_eof(socks):
    """Returns once each of SOCKS has read the FIN of its peer."""
    for s in socks:
        s.settimeout(5)
        while s.recv(4096):
            pass


def exhaust(name, predict, attempt, want):
    free, fmin = [], []
    n = 0
    while True:
        p, m = predict()
        free.append(p)
        fmin.append(m)
        try:
            s = attempt()
        except OSError as e:
            if e.errno != want:
                raise
            break
        keep.append(s)
        n += 1
        if n > 70000:
            raise SystemExit("no exhaustion")
        drain_accepts()
    print("%s predicted=%s min=%s connected=%d" %
          (name, ",".join(map(str, free)), ",".join(map(str, fmin)), n),
          flush=True)


def attempt_connect(daddr, dport, kind, opts):
    def attempt():
        s = client(daddr, kind, opts)
        try:
            s.connect((daddr, dport))
        except OSError:
            s.close()
            raise
        return s
    return attempt


def attempt_bind(addr, opts):
    def attempt():
        s = socket.socket(family(addr), socket.SOCK_DGRAM)
        v6only(s, opts)
        try:
            s.bind((addr, 0))
        except OSError:
            s.close()
            raise
        return s
    return attempt


for step in sys.argv[2:]:
    kind, _, rest = step.partition(":")
    a = fields(rest)
    if kind == "listen":
        lst = socket.socket(family(a[0]))
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        v6only(lst, options(a[2:]) if a[2:] else {"dual": True})
        lst.bind((a[0], int(a[1])))
        lst.listen(4096)
        lst.setblocking(False)
        listeners.append(lst)
        keep.append(lst)
    elif kind == "bind":
        s = socket.socket(family(a[0]))
        s.bind((a[0], int(a[1])))
        keep.append(s)
    elif kind == "bbc":
        s = socket.socket(family(a[0]))
        s.bind((a[0], int(a[1])))
        s.connect((a[2], int(a[3])))
        keep.append(s)
        drain_accepts()
    elif kind == "est":
        cs, peers = connections(a[0], int(a[1]), int(a[2]), options(a[3:]))
        keep.extend(cs + peers)
    elif kind in ("tw", "fw2", "cw"):
        cs, peers = connections(a[0], int(a[1]), int(a[2]), options(a[3:]))
        first, then = (peers, cs) if kind == "cw" else (cs, peers)
        ends = [(c.getsockname()[1], c.getpeername()[1]) for c in cs]
        for c in first:
            c.close()
        wait_eof(then)
        if kind == "tw":
            for p in then:
                p.close()
            for lport, rport in ends:
                wait_time_wait(lport, rport)
        else:
            keep.extend(then)
    elif kind == "udpsock":
        opts = options(a[2:])
        for _ in range(2 if "reuse" in opts else 1):
            s = socket.socket(family(a[0]), socket.SOCK_DGRAM)
            v6only(s, opts, a[0])
            if "reuse" in opts:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            port = int(a[1])
            s.bind((a[0], port))
            if "reuse" in opts and port == 0:
                a[1] = str(s.getsockname()[1])
            keep.append(s)
    elif kind == "udpconn":
        # A connected UDP socket: its port was chosen before its address.
        for _ in range(int(a[2]) if len(a) > 2 else 1):
            s = socket.socket(family(a[0]), socket.SOCK_DGRAM)
            v6only(s, {}, a[0])
            s.connect((a[0], int(a[1])))
            keep.append(s)
    elif kind == "sleep":
        time.sleep(float(a[0]))
    elif kind == "tcp":
        daddr, dport, opts = a[0], int(a[1]), options(a[2:])
        local = canon(opts["from"]) if "from" in opts else route_src(daddr)
        exhaust(step,
                lambda: tcp_free(local, canon(daddr), dport),
                attempt_connect(daddr, dport, socket.SOCK_STREAM, opts),
                errno.EADDRNOTAVAIL)
    elif kind == "udp":
        daddr, dport, opts = a[0], int(a[1]), options(a[2:])
        if "from" in opts:
            key = opts["from"]
        elif family(daddr) == socket.AF_INET:
            key = "ipv4"
        else:
            key = "ipv6only" if "v6only" in opts else "ipv6"
        exhaust(step, lambda: udp_free(key),
                attempt_connect(daddr, dport, socket.SOCK_DGRAM, opts),
                errno.EAGAIN)
    elif kind == "udpbind":
        addr, opts = a[0], options(a[1:])
        if addr in ("0.0.0.0", "::"):
            key = ("ipv4" if addr == "0.0.0.0" else
                   "ipv6only" if "v6only" in opts else "ipv6")
        else:
            key = addr
        exhaust(step, lambda: udp_free(key), attempt_bind(addr, opts),
                errno.EADDRINUSE)
    elif kind == "hold":
        print("HOLD", flush=True)
        sys.stdin.read()
    else:
        raise SystemExit("unknown step " + step)
