#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Clients that misbehave, against HOST:PORT, N of each kind:
- silent: connect and send nothing (half-open from the server's side);
- gone: send the start of a request, then shut their side down;
- slow: send half a request, then one byte of a header every half second,
  never finishing (slowloris).
Prints READY once all are connected; while it holds them the caller
scrapes. After a line on standard input it waits up to WAIT seconds for
the server to close the silent and the gone ones, and prints one JSON
line with the counts.

  slowclients.py HOST PORT N WAIT
"""
import json
import select
import socket
import sys
import time


def dribble(slow):
    for s in list(slow):
        try:
            s.sendall(b"x")
        except OSError:
            slow.remove(s)


def main():
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    wait = float(sys.argv[4])
    silent, gone, slow = [], [], []
    for _ in range(n):
        silent.append(socket.create_connection((host, port)))
        g = socket.create_connection((host, port))
        g.sendall(b"GET /metr")
        g.shutdown(socket.SHUT_WR)
        gone.append(g)
        s = socket.create_connection((host, port))
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        slow.append(s)
    print("READY", flush=True)
    while not select.select([sys.stdin], [], [], 0.5)[0]:
        dribble(slow)
    sys.stdin.readline()
    open_ = {s: kind for kind, group in (("silent", silent), ("gone", gone))
             for s in group}
    closed = {"silent": 0, "gone": 0}
    deadline = time.monotonic() + wait
    last = 0.0
    while open_ and time.monotonic() < deadline:
        ready = select.select(list(open_), [], [], 0.1)[0]
        for s in ready:
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if data == b"":
                closed[open_.pop(s)] += 1
        if time.monotonic() - last > 0.5:
            dribble(slow)
            last = time.monotonic()
    print(json.dumps({"n": n, "silent_closed": closed["silent"],
                      "gone_closed": closed["gone"],
                      "slow_still_open": len(slow)}), flush=True)


if __name__ == "__main__":
    main()
