#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A socket maker driven line by line from stdin, so that a test can change
the sockets of a namespace between two runs of ephport. Each command
prints one line: "OK [details]" or "ERR <errno name>".

  listen ADDR PORT [reuseport] [v6only]   a TCP listener (AF by ADDR)
  udp ADDR PORT                           a bound UDP socket
  unlisten PORT                           close the listener(s) on PORT
  connect ADDR PORT N                     N connections; prints their
                                          local ports; the listener, if
                                          ours, accepts them
  closeclients                            close every client first (they
                                          go to TIME_WAIT), then the peers
  trybind ADDR PORT [reuseaddr]           bind a TCP socket, close it
  bindconnect LPORT ADDR PORT             a client bound to LPORT first
  closepeers                              close every accepted end first
                                          (the server's side goes to
                                          TIME_WAIT), then the clients
  pid                                     print this process's pid
  fork N                                  N children that share every
                                          socket (a prefork server's
                                          workers); prints their pids
  children N ADDR PORT                    N children, each with a
                                          listener of its own on ADDR:PORT
                                          (SO_REUSEPORT); prints their pids
                                          once all listen
"""
import errno
import os
import signal
import socket
import sys

from sockutil import wait_time_wait

listeners = {}
clients = []
peers = []
other = []


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def reply(line):
    print(line, flush=True)


def handle(words):
    cmd = words[0]
    if cmd == "listen":
        addr, port = words[1], int(words[2])
        s = socket.socket(family(addr))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if "reuseport" in words:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family(addr) == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY,
                         1 if "v6only" in words else 0)
        s.bind((addr, port))
        s.listen(1024)
        listeners.setdefault(port, []).append(s)
        return "OK"
    if cmd == "udp":
        s = socket.socket(family(words[1]), socket.SOCK_DGRAM)
        s.bind((words[1], int(words[2])))
        other.append(s)
        return "OK"
    if cmd == "unlisten":
        for s in listeners.pop(int(words[1]), []):
            s.close()
        return "OK"
    if cmd == "connect":
        addr, port, n = words[1], int(words[2]), int(words[3])
        got = []
        for _ in range(n):
            c = socket.socket(family(addr))
            c.connect((addr, port))
            clients.append(c)
            got.append(str(c.getsockname()[1]))
            for lst in listeners.get(port, []):
                lst.setblocking(False)
                try:
                    peers.append(lst.accept()[0])
                except BlockingIOError:
                    pass
        return "OK " + " ".join(got)
    if cmd == "closeclients":
        ends = [(c.getsockname()[1], c.getpeername()[1]) for c in clients]
        for c in clients:
            c.close()
        clients.clear()
        # Each peer closes once the client's FIN has reached it; then the
        # clients' sides are in TIME_WAIT, which is what the tests wait for.
        for p in peers:
            p.settimeout(5)
            while p.recv(4096):
                pass
            p.close()
        if peers:
            for lport, rport in ends:
                wait_time_wait(lport, rport)
        peers.clear()
        return "OK"
    if cmd == "bindconnect":
        c = socket.socket(family(words[2]))
        c.bind(("", int(words[1])))
        c.connect((words[2], int(words[3])))
        clients.append(c)
        for lst in listeners.get(int(words[3]), []):
            lst.setblocking(False)
            try:
                peers.append(lst.accept()[0])
            except BlockingIOError:
                pass
        return "OK"
    if cmd == "closepeers":
        ends = [(p.getsockname()[1], p.getpeername()[1]) for p in peers]
        for p in peers:
            p.close()
        peers.clear()
        # Each client closes once the server's FIN has reached it; the
        # accepted ends are then in TIME_WAIT on the server's port.
        for c in clients:
            c.settimeout(5)
            while c.recv(4096):
                pass
            c.close()
        clients.clear()
        for lport, rport in ends:
            wait_time_wait(lport, rport)
        return "OK"
    if cmd == "pid":
        return "OK %d" % os.getpid()
    if cmd == "fork":
        pids = []
        for _ in range(int(words[1])):
            pid = os.fork()
            if pid == 0:
                # A worker: it holds what its master held, and waits.
                while True:
                    signal.pause()
            pids.append(str(pid))
        return "OK " + " ".join(pids)
    if cmd == "children":
        n, addr, port = int(words[1]), words[2], int(words[3])
        r, w = os.pipe()
        pids = []
        for _ in range(n):
            pid = os.fork()
            if pid == 0:
                os.close(r)
                s = socket.socket(family(addr))
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                s.bind((addr, port))
                s.listen(16)
                os.write(w, b"x")
                while True:
                    signal.pause()
            pids.append(str(pid))
        os.close(w)
        got = 0
        while got < n:
            chunk = os.read(r, n - got)
            if not chunk:
                return "ERR ECHILD"
            got += len(chunk)
        os.close(r)
        return "OK " + " ".join(pids)
    if cmd == "trybind":
        s = socket.socket(family(words[1]))
        if "reuseaddr" in words:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((words[1], int(words[2])))
        finally:
            s.close()
        return "OK"
    return "ERR EINVAL"


for line in sys.stdin:
    words = line.split()
    if not words:
        continue
    if words[0] == "quit":
        break
    try:
        reply(handle(words))
    except OSError as e:
        reply("ERR " + errno.errorcode.get(e.errno, str(e.errno)))
