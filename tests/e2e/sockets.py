#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Makes a known mix of real sockets in the current network namespace, prints
READY, and holds them until stdin closes or it is killed. Used by the
end-to-end tests and to record netlink fixtures.

Made: a TCP listener on 127.0.0.1:5000 and on [::]:5001 (dual stack), 3
established connections to 5000 (both ends), 1 client TIME_WAIT toward 5000,
1 bound-but-idle socket (bind port 0), an IPv6-only bound-idle socket on
[::1]:40001, a bind-before-connect client from 127.0.0.1:40010, a v4-mapped
IPv6 client to 5001, a connected UDP socket to 127.0.0.1:53 and an
unconnected UDP socket on 0.0.0.0:5353.
"""
import socket
import sys

from sockutil import close_client_first

keep = []
lst = socket.socket()
lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lst.bind(("127.0.0.1", 5000))
lst.listen(128)
lst6 = socket.socket(socket.AF_INET6)
lst6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
lst6.bind(("::", 5001))
lst6.listen(128)
keep += [lst, lst6]
for _ in range(3):
    c = socket.create_connection(("127.0.0.1", 5000))
    keep += [c, lst.accept()[0]]
tw = socket.create_connection(("127.0.0.1", 5000))
# The client closes first: its side goes to TIME_WAIT.
close_client_first(tw, lst.accept()[0])
idle = socket.socket()
idle.bind(("127.0.0.1", 0))
idle6 = socket.socket(socket.AF_INET6)
idle6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
idle6.bind(("::1", 40001))
bbc = socket.socket()
bbc.bind(("127.0.0.1", 40010))
bbc.connect(("127.0.0.1", 5000))
mapped = socket.socket(socket.AF_INET6)
mapped.connect(("::ffff:127.0.0.1", 5001))
keep += [idle, idle6, bbc, lst.accept()[0], mapped, lst6.accept()[0]]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.connect(("127.0.0.1", 53))
u2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u2.bind(("0.0.0.0", 5353))
keep += [u, u2]
print("READY", flush=True)
sys.stdin.read()
