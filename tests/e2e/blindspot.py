#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Builds one of the four blind spots of a socket dump in the current
network namespace, holds it, and then checks `ephport usage` against what
the kernel grants. The namespace's range must be 40000-40009; listeners
are put on LOOP:5000 (D1, where the ports are counted) and LOOP:5001 (D2).

  blindspot.py EPHPORT FAMILY CASE      FAMILY: 4 or 6 (127.0.0.1 or ::1)

  bind0        bind(0), then connect() to D2: the port is blocked for D1
  bind0-tw     the same, closed first: its TIME_WAIT blocks it 60 s
  accepted     a listener inside the range (40005) accepts a connection and
               closes: the accepted connection keeps 40005 blocked
  accepted-tw  the same, the server closing first: its TIME_WAIT does
  no-ts-tw     a TIME_WAIT toward D1 of a connection made without
               timestamps, tcp_timestamps turned on afterwards: not reusable
  ts-tw        a TIME_WAIT toward D1 of a connection with timestamps,
               tcp_timestamps turned off afterwards: reusable all the same

It prints READY once the case is built, then reads commands on stdin:
  check NAME RECORD   asks `ephport usage --json` (with EPHPORT_RECORD set
                      to RECORD) for D1's free count; prints "NAME=N"
  exhaust             connects to D1 until EADDRNOTAVAIL; prints
                      "kernel=N"
  quit
"""
import errno
import json
import os
import socket
import subprocess
import sys

from sockutil import close_client_first

EPHPORT, FAMILY, CASE = sys.argv[1], sys.argv[2], sys.argv[3]
AF = socket.AF_INET6 if FAMILY == "6" else socket.AF_INET
LOOP = "::1" if FAMILY == "6" else "127.0.0.1"
keep = []
listeners = {}


def listen(port):
    s = socket.socket(AF)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((LOOP, port))
    s.listen(4096)
    listeners[port] = s
    return s


def timestamps(on):
    with open("/proc/sys/net/ipv4/tcp_timestamps", "w") as f:
        f.write("1\n" if on else "0\n")


def connected_pair(dport, bind=None):
    c = socket.socket(AF)
    if bind is not None:
        c.bind((LOOP, bind))
    c.connect((LOOP, dport))
    peer = listeners[dport].accept()[0]
    return c, peer


def build():
    listen(5000)
    listen(5001)
    if CASE in ("bind0", "bind0-tw"):
        c, peer = connected_pair(5001, bind=0)
        if CASE == "bind0":
            keep.extend([c, peer])
        else:
            close_client_first(c, peer)
    elif CASE in ("accepted", "accepted-tw"):
        lst = listen(40005)
        # The client names a port outside the range: it takes none of it.
        c, peer = connected_pair(40005, bind=6000)
        lst.close()
        if CASE == "accepted":
            keep.extend([c, peer])
        else:
            close_client_first(peer, c)
    elif CASE in ("no-ts-tw", "ts-tw"):
        timestamps(CASE == "ts-tw")
        c, peer = connected_pair(5000)
        close_client_first(c, peer)
        timestamps(CASE != "ts-tw")
    else:
        raise SystemExit("unknown case " + CASE)


def free_d1(record):
    env = dict(os.environ, EPHPORT_RECORD=record)
    out = subprocess.run([EPHPORT, "usage", "--json", "--no-owners",
                          "--top", "0"], check=True, capture_output=True,
                         text=True, env=env).stdout
    u = json.loads(out)
    for t in u["tuples"]:
        if t["remote"] == LOOP and t["remote_port"] == 5000:
            return t["free"]
    return u["range"]["capacity"]


def exhaust():
    n = 0
    while True:
        s = socket.socket(AF)
        try:
            s.connect((LOOP, 5000))
        except OSError as e:
            s.close()
            if e.errno != errno.EADDRNOTAVAIL:
                raise
            return n
        keep.append(s)
        keep.append(listeners[5000].accept()[0])
        n += 1
        if n > 100:
            raise SystemExit("no exhaustion")


build()
print("READY", flush=True)
for line in sys.stdin:
    words = line.split()
    if not words:
        continue
    if words[0] == "check":
        print("%s=%d" % (words[1], free_d1(words[2])), flush=True)
    elif words[0] == "exhaust":
        print("kernel=%d" % exhaust(), flush=True)
    elif words[0] == "quit":
        break
