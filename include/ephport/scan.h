/* SPDX-License-Identifier: MIT */
/* Sockets: a streaming scanner over NETLINK_SOCK_DIAG. */
#ifndef EPHPORT_SCAN_H
#define EPHPORT_SCAN_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * One socket, as compact as the analyses need. Addresses are 16 bytes in
 * network order; IPv4 addresses (and the IPv4 side of v4-mapped IPv6
 * sockets) are stored v4-mapped (::ffff:a.b.c.d), so that an IPv4 socket
 * and a v4-mapped IPv6 socket toward the same peer compare equal, as they
 * do in the kernel's tables.
 */
struct eph_sock {
	uint8_t family; /* AF_INET or AF_INET6, as the kernel reports it */
	uint8_t proto;	/* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t state;	/* the kernel's TCP state numbers (UDP too) */
	uint8_t timer;	/* idiag_timer: 3 for TIME_WAIT */
	uint16_t local_port, remote_port;
	uint8_t local[16], remote[16];
	uint32_t ifindex;
	uint32_t inode; /* 0 for TIME_WAIT and request sockets */
	uint32_t uid;
	uint32_t expires_ms; /* time left on the socket's timer */
	uint32_t flags;	     /* EPH_SOCK_* */
	uint64_t cookie;     /* stable for the socket's life, TIME_WAIT too */
	uint64_t cgroup_id;  /* inode of its cgroup v2 directory, or 0 */
};

/* The socket set IP_BIND_ADDRESS_NO_PORT: its port is chosen at connect. */
#define EPH_SOCK_BIND_NO_PORT (1u << 0)
/* An IPv6 socket with IPV6_V6ONLY. */
#define EPH_SOCK_V6ONLY (1u << 1)
/* Bound to a port it named (found by an explicit_only scan). */
#define EPH_SOCK_PORT_LOCKED (1u << 2)

/* Kernel TCP states, as sock_diag reports them. */
enum {
	EPH_TCP_ESTABLISHED = 1,
	EPH_TCP_SYN_SENT,
	EPH_TCP_SYN_RECV,
	EPH_TCP_FIN_WAIT1,
	EPH_TCP_FIN_WAIT2,
	EPH_TCP_TIME_WAIT,
	EPH_TCP_CLOSE,
	EPH_TCP_CLOSE_WAIT,
	EPH_TCP_LAST_ACK,
	EPH_TCP_LISTEN,
	EPH_TCP_CLOSING,
	EPH_TCP_NEW_SYN_RECV,
	EPH_TCP_BOUND_INACTIVE,
	EPH_TCP_MAX_STATES
};

/* Returns the name ss(8) uses for STATE ("ESTAB", "TIME-WAIT", ...). */
const char *eph_tcp_state_name(uint8_t state);

/* "tcp" or "udp" for IPPROTO_TCP or IPPROTO_UDP, else "?". */
const char *eph_proto_name(uint8_t proto);

/*
 * What to ask the kernel for. Filters run in the kernel, so what they
 * reject is never copied to user space. Zeroed fields mean "all".
 */
struct eph_scan_filter {
	uint32_t protos;   /* EPH_PROTO_*; 0: both */
	uint32_t families; /* EPH_FAMILY_*; 0: both */
	uint32_t states;   /* bit (1 << state); 0: every state */
	bool port_range;   /* only local ports port_lo..port_hi */
	uint16_t port_lo, port_hi;
	/* Only sockets bound to a port they named (explicit binders); their
	 * records carry EPH_SOCK_PORT_LOCKED. */
	bool explicit_only;
};

struct eph_scan;

/*
 * Opens a sock_diag socket in CTX's network namespace; it stays there, so
 * the scan can be repeated cheaply. Returns 0 or a negative errno.
 */
int eph_scan_new(struct eph_ctx *ctx, struct eph_scan **ret);
void eph_scan_free(struct eph_scan *scan);

/*
 * The callbacks of a scan. begin() is called before the first record and
 * again when an interrupted dump (NLM_F_DUMP_INTR) is redone, so that the
 * caller can drop what it gathered. sock() gets each record; the record is
 * valid only during the call. A negative return from either stops the scan
 * and is returned.
 */
struct eph_scan_ops {
	int (*begin)(void *data);
	int (*sock)(const struct eph_sock *sock, void *data);
};

/*
 * Dumps the sockets FILTER (NULL: all) selects, calling OPS for each, in
 * the calling thread. An interrupted dump is redone up to 3 times.
 * Returns the number of records delivered, or a negative errno: -EPROTO
 * for a malformed or truncated reply, -EAGAIN when the dump stayed
 * interrupted.
 */
int eph_scan_run(struct eph_scan *scan, const struct eph_scan_filter *filter,
		 const struct eph_scan_ops *ops, void *data);

/* ---- Holders: every socket on one port ---- */

struct eph_holders;

/* Makes a holder lookup bound to CTX. Returns 0 or -ENOMEM. */
int eph_holders_new(struct eph_ctx *ctx, struct eph_holders **ret);
void eph_holders_free(struct eph_holders *h);

/*
 * Finds every socket of PROTOS (EPH_PROTO_*; 0: both) whose local port is
 * PORT, listeners first. Those that named their port (explicit binders)
 * are flagged EPH_SOCK_PORT_LOCKED; the others were given it by the
 * kernel. Two dumps run side by side, one in a second thread. Returns the
 * number found, or a negative errno.
 */
int eph_holders_scan(struct eph_holders *h, uint32_t protos, uint16_t port);
size_t eph_holders_count(const struct eph_holders *h);
/* Returns holder I of the last scan, or NULL past the end. */
const struct eph_sock *eph_holders_get(const struct eph_holders *h, size_t i);

/* ---- Bind probes: can this port be bound right now? ---- */

struct eph_bind_probe {
	uint8_t proto;	  /* IPPROTO_TCP or IPPROTO_UDP */
	int family;	  /* AF_INET or AF_INET6 */
	bool addr_set;	  /* else the family's wildcard */
	uint8_t addr[16]; /* as in struct eph_sock (IPv4 v4-mapped) */
	uint16_t port;
	bool reuseaddr; /* set SO_REUSEADDR first */
	bool v6only;	/* IPv6: set IPV6_V6ONLY (else dual stack) */
};

/*
 * Makes a socket in CTX's namespace, binds it as PROBE says and closes it
 * at once, never listening or connecting, so nothing is left behind.
 * Returns 0 with the bind's errno in *RET_ERRNO (0: it bound), or a
 * negative errno when no socket could be made (-EAFNOSUPPORT: the family
 * is off in that namespace).
 */
int eph_bind_probe(struct eph_ctx *ctx, const struct eph_bind_probe *probe,
		   int *ret_errno);

#ifdef __cplusplus
}
#endif

#endif
