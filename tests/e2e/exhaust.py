#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs ephport's prediction against the kernel, in the current network
namespace. Steps, in order, each holding its sockets to the end:

  listen:ADDR:PORT      a listener (backlog large enough for the range)
  bind:ADDR:PORT        a bound idle TCP socket
  bbc:ADDR:PORT:DADDR:DPORT   bind to ADDR:PORT, then connect to DADDR:DPORT
  tw:DADDR:DPORT:N      N connections closed client first (TIME_WAIT)
  sleep:SECONDS
  tcp:DADDR:DPORT       before every connect, ask `ephport usage --json` for
                        the destination's free count; connect until
                        EADDRNOTAVAIL
  udp:DADDR:DPORT       the same with connected UDP sockets until EAGAIN
  hold                  print HOLD and keep every socket until stdin closes

For tcp and udp it prints one line: NAME predicted=P0,P1,...,Pn connected=N
where Pk is the prediction after k connects; a right model gives
Pk == N - k for every k, ending with 0.
"""
import errno
import json
import socket
import subprocess
import sys
import time

EPHPORT = sys.argv[1]
keep = []
listeners = {}


def usage():
    out = subprocess.run([EPHPORT, "usage", "--json", "--no-owners"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def tcp_free(daddr, dport):
    u = usage()
    for t in u["tuples"]:
        if (t["remote"] == daddr
                and t["remote_port"] == dport):
            return t["free"]
    return u["range"]["capacity"]


def udp_free():
    return usage()["udp"]["ipv4"]["free"]


def drain_accepts(port):
    lst = listeners.get(port)
    if lst is None:
        return
    lst.setblocking(False)
    try:
        while True:
            keep.append(lst.accept()[0])
    except BlockingIOError:
        pass


def exhaust(name, daddr, dport, udp):
    predicted = []
    n = 0
    while True:
        predicted.append(udp_free() if udp else tcp_free(daddr, dport))
        s = socket.socket(socket.AF_INET,
                          socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
        try:
            s.connect((daddr, dport))
        except OSError as e:
            s.close()
            want = errno.EAGAIN if udp else errno.EADDRNOTAVAIL
            if e.errno != want:
                raise
            break
        keep.append(s)
        n += 1
        if n > 70000:
            raise SystemExit("no exhaustion")
        drain_accepts(dport)
    print("%s predicted=%s connected=%d" %
          (name, ",".join(map(str, predicted)), n), flush=True)


for step in sys.argv[2:]:
    kind, _, rest = step.partition(":")
    a = rest.split(":")
    if kind == "listen":
        lst = socket.socket()
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lst.bind((a[0], int(a[1])))
        lst.listen(4096)
        listeners[int(a[1])] = lst
        keep.append(lst)
    elif kind == "bind":
        s = socket.socket()
        s.bind((a[0], int(a[1])))
        keep.append(s)
    elif kind == "bbc":
        s = socket.socket()
        s.bind((a[0], int(a[1])))
        s.connect((a[2], int(a[3])))
        keep.append(s)
        drain_accepts(int(a[3]))
    elif kind == "tw":
        for _ in range(int(a[2])):
            c = socket.create_connection((a[0], int(a[1])))
            peer = listeners[int(a[1])].accept()[0]
            c.close()
            time.sleep(0.01)
            peer.close()
        time.sleep(0.1)
    elif kind == "sleep":
        time.sleep(float(a[0]))
    elif kind in ("tcp", "udp"):
        exhaust(step, a[0], int(a[1]), kind == "udp")
    elif kind == "hold":
        print("HOLD", flush=True)
        sys.stdin.read()
    else:
        raise SystemExit("unknown step " + step)
