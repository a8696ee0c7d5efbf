/* SPDX-License-Identifier: MIT */
/* Usage: ephemeral ports used and left, per destination. */
#ifndef EPHPORT_USAGE_H
#define EPHPORT_USAGE_H

#include "common.h"
#include "scan.h"

#ifdef __cplusplus
extern "C" {
#endif

struct eph_history;

/*
 * One destination: what connect() without a prior bind draws its source
 * port from. The kernel's budget is per (local address, remote address,
 * remote port): a port is free toward it unless it is reserved, held by
 * an explicit binder (which blocks it for every destination), or already
 * used by a socket with this same 4-tuple (a TIME_WAIT only while
 * connect() may not reuse it).
 */
struct eph_usage_tuple {
	uint8_t proto;	/* IPPROTO_TCP */
	uint8_t family; /* AF_INET (v4-mapped addresses) or AF_INET6 */
	uint16_t remote_port;
	uint8_t local[16], remote[16]; /* as in struct eph_sock */
	uint32_t established;	       /* sockets in each state that hold */
	uint32_t time_wait;	       /* a port of this budget */
	uint32_t other;		       /* SYN_SENT, FIN_WAIT*, CLOSE_WAIT... */
	uint32_t tw_reusable;	       /* TIME_WAIT connect() may take now */
	uint32_t used;		       /* established + time_wait + other */
	uint32_t capacity;	       /* ports this destination may get */
	uint32_t free;		       /* ports connect() most likely finds */
	uint32_t free_min; /* the fewest it can find: with range bounds of
			      one parity each connect() misses one port, so
			      the last free port may be missed (free - 1);
			      else free */
};

/* The share of T's capacity that is gone, 0 to 100. */
double eph_usage_tuple_percent(const struct eph_usage_tuple *t);

/* A port of the range blocked for every destination, and who holds it. */
struct eph_usage_blocker {
	uint16_t port;
	uint8_t state;	/* state of the socket that stands for the port */
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t local[16];
	uint32_t sockets; /* sockets seen on the port */
	uint32_t inode;	  /* of the standing socket, 0 if none */
	uint32_t uid;
	uint64_t cookie;
	uint64_t cgroup_id; /* of the standing socket, 0 if unknown */
};

/*
 * UDP, for one kind of socket: autobind (bind(0), or connect() and
 * sendto() on an unbound socket) is not destination aware, so every
 * socket needs a port that no socket overlapping its address holds
 * (udp_lib_lport_inuse(), inet_rcv_saddr_equal()). Sockets sharing a port
 * (SO_REUSEADDR, SO_REUSEPORT) take one. Which sockets overlap:
 *
 * - an IPv4 socket on 0.0.0.0: every socket but the IPv6-only ones (an
 *   IPv6 socket is IPv6-only with IPV6_V6ONLY, or once bound to an IPv6
 *   address that is neither :: nor v4-mapped);
 * - an IPv6 socket on [::]: every socket; with IPV6_V6ONLY (or, for a
 *   new socket, net.ipv6.bindv6only = 1) the IPv6 sockets not on a
 *   v4-mapped address;
 * - an IPv4 socket bound to address A: the sockets on A, on 0.0.0.0 and
 *   on [::] without IPV6_V6ONLY. The kernel gives an IPv6 socket that
 *   connect() gave its address (so without IPV6_V6ONLY) the IPv4 address
 *   127.0.0.6: such sockets are on 127.0.0.6 as well (for IPv4 sockets;
 *   an IPv6 socket bound to ::ffff:127.0.0.6 does not overlap them);
 * - an IPv6 socket bound to address A: the IPv6 sockets on A and on [::].
 */
struct eph_usage_udp {
	uint32_t sockets;  /* sockets that overlap, with a port in the range */
	uint32_t used;	   /* distinct ports of them, not reserved */
	uint32_t capacity; /* range minus reserved */
	uint32_t free;
};

/* The budget of UDP sockets bound to one address some UDP socket is on. */
struct eph_usage_udp_addr {
	uint8_t family;	   /* AF_INET (v4-mapped address) or AF_INET6 */
	uint8_t local[16]; /* as in struct eph_sock */
	struct eph_usage_udp udp;
};

/* The namespace as a whole. */
struct eph_usage_summary {
	uint16_t range_low, range_high;
	uint32_t range_size;
	uint32_t reserved;     /* reserved ports inside the range */
	uint32_t blocked;      /* ports of the range, not reserved, blocked for
				  every destination by explicit binders */
	bool same_parity;      /* range bounds of one parity: each connect()
				  misses one port (see free_min) */
	uint32_t capacity;     /* per TCP destination: range - reserved -
				  blocked */
	uint32_t capacity_min; /* the fewest a destination with no socket
				  yet can get: capacity - 1 when the bounds
				  have one parity and an edge port is open
				  (see free_min), else capacity */
	uint32_t tuples;
	uint32_t tcp_sockets; /* TCP sockets with a port in the range */
	uint32_t tcp_by_state[EPH_TCP_MAX_STATES];
	uint32_t tcp_on_blocked;   /* of them, on blocked ports */
	uint32_t tcp_on_reserved;  /* of them, on reserved ports */
	uint32_t tcp_ports;	   /* distinct ports they hold */
	uint32_t udp_sockets;	   /* UDP sockets with a port in the range */
	struct eph_usage_udp udp4; /* an IPv4 socket on 0.0.0.0 */
	struct eph_usage_udp udp6; /* an IPv6 socket on [::], as made by
				      default (net.ipv6.bindv6only) */
	struct eph_usage_udp udp6only; /* one with IPV6_V6ONLY */
	/* Sockets bound to an address no UDP socket of the range is on (the
	 * others are in eph_usage_udp_addr()): they overlap only the
	 * wildcard sockets. */
	struct eph_usage_udp udp4_addr, udp6_addr;
};

struct eph_usage;

/*
 * Makes a usage accumulator bound to CTX. It keeps its buffers between
 * scans, so a daemon can repeat eph_usage_scan() without allocating once
 * the table has grown to the number of destinations. Returns 0 or -ENOMEM.
 */
int eph_usage_new(struct eph_ctx *ctx, struct eph_usage **ret);
void eph_usage_free(struct eph_usage *u);

/*
 * Scans the namespace's TCP and UDP sockets with ports in P's range and
 * computes every destination's budget under P's rules. Memory grows with
 * destinations, not sockets. Three dumps, each filtered in the kernel to
 * the range: the listeners; then side by side (the second in a thread of
 * its own, with its own netlink socket) the sockets bound to a port they
 * named, and the rest; then the UDP sockets. P must stay valid while the
 * results are read. Returns the number of destinations, or a negative
 * errno (see eph_scan_run()).
 */
int eph_usage_scan(struct eph_usage *u, const struct eph_policy *p);

/*
 * The same computation fed by hand (tests, a tracer replaying history):
 * begin with a policy, add sockets in any order, end. Sockets flagged
 * EPH_SOCK_PORT_LOCKED, listening, bound but idle, or being accepted
 * block their port for every destination, wherever they come in the
 * order. P must stay valid while the results are read. Each returns 0 or
 * -ENOMEM.
 */
int eph_usage_begin(struct eph_usage *u, const struct eph_policy *p);
int eph_usage_add(struct eph_usage *u, const struct eph_sock *s);
int eph_usage_end(struct eph_usage *u);

/*
 * Gives U a history source (the tracer's record: eph_record_history()), or
 * NULL. Its scans and ends then tell what a socket dump cannot: a
 * connection bound first (bind(0), then connect()) or accepted by a
 * listener blocks its port for every destination, and so does its
 * TIME_WAIT; a TIME_WAIT may be reused only if its connection used
 * timestamps, whatever tcp_timestamps says now. H must stay valid while U
 * scans.
 */
void eph_usage_set_history(struct eph_usage *u, const struct eph_history *h);

/* What a socket dump alone cannot tell, so that numbers could be off. */
#define EPH_USAGE_DOUBT_BLOCKING                                               \
	(1u << 0) /* connections counted toward                                \
		     a destination may block                                   \
		     their port for every one:                                 \
		     free may be too high */
#define EPH_USAGE_DOUBT_TIMESTAMPS                                             \
	(1u << 1) /* TIME_WAITs judged by                                      \
		     today's tcp_timestamps, not                               \
		     by their connection's */

/*
 * Without a history source, which numbers of the last scan or end could be
 * off (EPH_USAGE_DOUBT_*), because sockets of those kinds were counted; 0
 * with one.
 */
uint32_t eph_usage_doubts(const struct eph_usage *u);

/* The summary of the last scan or end. */
const struct eph_usage_summary *eph_usage_summary(const struct eph_usage *u);

/* Destinations, fullest first. Returns NULL past the end. */
size_t eph_usage_count(const struct eph_usage *u);
const struct eph_usage_tuple *eph_usage_get(const struct eph_usage *u,
					    size_t i);

/* Blocked ports, by port. Returns NULL past the end. */
size_t eph_usage_blocker_count(const struct eph_usage *u);
const struct eph_usage_blocker *eph_usage_blocker(const struct eph_usage *u,
						  size_t i);
/* The blocked ports as a set. */
const struct eph_portset *eph_usage_blocked(const struct eph_usage *u);

/*
 * UDP budgets of sockets bound to an address, for each address that a UDP
 * socket with a port in the range is bound to (or was given by connect()),
 * IPv4 first, by address. Returns NULL past the end; valid until the next
 * scan or end.
 */
size_t eph_usage_udp_addr_count(const struct eph_usage *u);
const struct eph_usage_udp_addr *eph_usage_udp_addr(const struct eph_usage *u,
						    size_t i);

#ifdef __cplusplus
}
#endif

#endif
