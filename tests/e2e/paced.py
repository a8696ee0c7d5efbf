#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A load of known shape for the forecast: listens on ADDR:PORT and opens
RATE connections a second to it for SECONDS, each kept open (so free
ports toward that destination shrink by exactly RATE a second), then
holds them until its standard input closes.

  paced.py ADDR PORT RATE SECONDS

Prints "READY" once listening, then "DONE N" with the count opened."""
import socket
import sys
import time


def main():
    addr, port = sys.argv[1], int(sys.argv[2])
    rate, seconds = float(sys.argv[3]), float(sys.argv[4])
    lst = socket.socket()
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind((addr, port))
    lst.listen(4096)
    print("READY", flush=True)
    held = []
    start = time.monotonic()
    n = int(rate * seconds)
    for i in range(n):
        # Paced against the clock, not by sleeping a fixed time after
        # each: the rate holds whatever a connect costs.
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        c = socket.create_connection((addr, port))
        held.append(c)
        held.append(lst.accept()[0])
    print("DONE %d" % n, flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
