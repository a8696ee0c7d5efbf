# SPDX-License-Identifier: MIT
"""Helpers the socket makers of the end-to-end tests share: readiness by
what the kernel shows, never by sleeping."""
import time

TIME_WAIT = "06"


def _tcp_table():
    rows = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                rows += [line.split() for line in f]
        except OSError:
            pass
    return rows


def _port_of(field):
    return int(field.rsplit(":", 1)[1], 16)


def wait_time_wait(local_port, remote_port, timeout=5.0):
    """Waits until a TIME_WAIT from LOCAL_PORT to REMOTE_PORT is in the
    kernel's table (this namespace's /proc/net/tcp)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for row in _tcp_table():
            if (row[3] == TIME_WAIT and _port_of(row[1]) == local_port
                    and _port_of(row[2]) == remote_port):
                return
        time.sleep(0.005)
    raise SystemExit("no TIME_WAIT %d -> %d after %.0f s" %
                     (local_port, remote_port, timeout))


def close_client_first(client, peer):
    """Closes CLIENT, then PEER once the FIN has reached it, and returns
    when the client's side is in TIME_WAIT: the active closer keeps it."""
    lport = client.getsockname()[1]
    rport = client.getpeername()[1]
    client.close()
    peer.settimeout(5)
    while peer.recv(4096):
        pass
    peer.close()
    wait_time_wait(lport, rport)
