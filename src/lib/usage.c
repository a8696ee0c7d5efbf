/* SPDX-License-Identifier: MIT */
/*
 * Usage: how many ephemeral ports each destination has used and has left,
 * under the kernel's rules (see FACTS.md):
 *
 *   free(saddr, daddr, dport) = range - reserved - blocked
 *                               - ports already used toward that 4-tuple
 *
 * where "blocked" are the ports an explicit binder holds (a listener, a
 * bind-before-connect socket, a bound idle socket): autobind skips their
 * bind bucket for every destination. A TIME_WAIT toward the destination
 * uses its port unless connect() may reuse it now (tcp_tw_reuse, the
 * loopback rule for 2, timestamps, tcp_tw_reuse_delay). UDP autobind is
 * not destination aware: every UDP socket takes a port of its own from
 * the sockets whose local addresses overlap its own.
 *
 * Memory grows with the number of destinations, blocked ports and local
 * addresses of UDP sockets, never with the number of sockets: each socket
 * is folded into its destination's (or address's) counters as it streams
 * past.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "internal.h"

/* TCP_TIMEWAIT_LEN: a TIME_WAIT lasts 60 s. */
#define TIME_WAIT_MS 60000u
/* tcp_tw_reuse_delay before it became a sysctl (6.14). */
#define TW_REUSE_DELAY_DEFAULT_MS 1000
#define LOOPBACK_IFINDEX 1u
#define NO_INDEX UINT32_MAX

/*
 * The dump of explicit binders runs in a thread of its own, beside the main
 * dump: each costs a full walk of the kernel's socket table (the walk, not
 * the copy, is most of a dump's cost), and on two cores the two walks take
 * the time of one. It has its own context and netlink socket.
 */
struct binders {
	struct eph_ctx *ctx;
	struct eph_scan *scan;
	struct sockdiag_filter filter;
	/* One socket per port stands for all of them, so that memory grows
	 * with ports, not with (say) a listener's accepted connections. */
	struct eph_sock *socks;
	uint32_t *count;
	size_t n, cap;
	uint32_t *slot_of; /* port -> entry, or NO_INDEX */
	uint32_t by_state[EPH_TCP_MAX_STATES];
	int result;
};

/* UDP sockets on one address: what binding to it would overlap. */
struct udp_addr {
	struct eph_usage_udp_addr pub;
	struct eph_portset ports; /* of the sockets on this address */
	uint32_t sockets;
};

struct eph_usage {
	struct eph_ctx *ctx;
	struct eph_scan *scan; /* opened on the first scan, then reused */
	struct binders binders;

	/* The rules of this round, copied from the policy at begin. */
	const struct eph_policy *policy;
	uint16_t low, high;
	int64_t tw_reuse, tw_delay, timestamps;

	int64_t bindv6only;

	struct eph_portset blocked;
	struct eph_portset preseed; /* blocked ports kept for a refeed */
	struct eph_portset tcp_ports;

	/* UDP ports, by the kinds of socket they overlap (see
	 * struct eph_usage_udp); sockets on reserved ports are counted but
	 * their ports are not. */
	struct eph_portset udp4_ports;	   /* all but IPv6-only sockets */
	struct eph_portset udp_all_ports;  /* every socket */
	struct eph_portset udp6_ports;	   /* IPv6 sockets, not v4-mapped */
	struct eph_portset udp_any4_ports; /* IPv4 address 0.0.0.0 */
	struct eph_portset udp_any6_ports; /* on [::] */
	uint32_t udp_any4, udp_any6;	   /* their sockets */
	struct udp_addr *udp_addrs; /* the sockets on each other address */
	size_t nudp_addrs, udp_addrs_cap;
	struct eph_portset scratch;

	/* Sockets fed by hand, kept until eph_usage_end() folds them. */
	struct eph_sock *fed;
	size_t nfed, fed_cap;

	struct eph_usage_tuple *tuples;
	size_t ntuples, tuples_cap;
	uint32_t *index; /* open addressing: tuple number, or NO_INDEX */
	size_t index_cap;

	struct eph_usage_blocker *blockers;
	size_t nblockers, blockers_cap;
	uint32_t *blocker_of;	/* port -> blocker number, or NO_INDEX */
	uint32_t *port_counted; /* port -> sockets counted to a tuple */
	bool refeed;
	bool ended;
	/* Who sees each socket counted toward a destination. */
	const struct usage_observer *observers[USAGE_OBSERVERS];
	size_t nobservers;

	/* The tracer's record, when there is one; else what could be off. */
	const struct eph_history *history;
	uint32_t doubts;

	struct eph_usage_summary sum;
};

#define ps_set portset_set
#define ps_has portset_has

EPH_EXPORT int eph_usage_new(struct eph_ctx *ctx, struct eph_usage **ret)
{
	struct eph_usage *u = calloc(1, sizeof(*u));

	if (!u)
		return ctx_error(ctx, -ENOMEM, "out of memory");
	u->ctx = ctx;
	u->blocker_of = malloc(EPH_PORT_COUNT * sizeof(*u->blocker_of));
	u->port_counted = calloc(EPH_PORT_COUNT, sizeof(*u->port_counted));
	if (!u->blocker_of || !u->port_counted) {
		eph_usage_free(u);
		return ctx_error(ctx, -ENOMEM, "out of memory");
	}
	memset(u->blocker_of, 0xff, EPH_PORT_COUNT * sizeof(*u->blocker_of));
	*ret = u;
	return 0;
}

EPH_EXPORT void eph_usage_free(struct eph_usage *u)
{
	if (!u)
		return;
	eph_scan_free(u->scan);
	eph_scan_free(u->binders.scan);
	eph_ctx_free(u->binders.ctx);
	free(u->binders.socks);
	free(u->binders.count);
	free(u->binders.slot_of);
	free(u->tuples);
	free(u->index);
	free(u->blockers);
	free(u->blocker_of);
	free(u->port_counted);
	free(u->fed);
	free(u->udp_addrs);
	free(u);
}

EPH_EXPORT double eph_usage_tuple_percent(const struct eph_usage_tuple *t)
{
	if (t->capacity == 0)
		return 100.0;
	return 100.0 * (double)(t->capacity - t->free) / (double)t->capacity;
}

/* Forgets the blockers and the per-port counts, touching only used slots. */
static void clear_blockers(struct eph_usage *u)
{
	for (size_t i = 0; i < u->nblockers; i++)
		u->blocker_of[u->blockers[i].port] = NO_INDEX;
	u->nblockers = 0;
	eph_portset_clear(&u->blocked);
}

static void clear_tcp(struct eph_usage *u)
{
	int32_t port;

	/* What is counted toward destinations starts again: so do the
	 * observers (a redone dump, a second pass, a new round). */
	for (size_t i = 0; i < u->nobservers; i++)
		if (u->observers[i]->begin)
			u->observers[i]->begin(u->observers[i]->data, u->ctx);

	/* Ports that carry counted sockets are exactly the TCP ports seen. */
	for (port = eph_portset_next(&u->tcp_ports, 0); port >= 0;
	     port = eph_portset_next(&u->tcp_ports, (uint32_t)port + 1))
		u->port_counted[port] = 0;
	eph_portset_clear(&u->tcp_ports);
	u->ntuples = 0;
	if (u->index)
		memset(u->index, 0xff, u->index_cap * sizeof(*u->index));
	u->sum.tuples = 0;
	u->sum.tcp_sockets = 0;
	u->sum.tcp_on_blocked = 0;
	u->sum.tcp_on_reserved = 0;
	memset(u->sum.tcp_by_state, 0, sizeof(u->sum.tcp_by_state));
	u->refeed = false;
}

static void clear_udp(struct eph_usage *u)
{
	eph_portset_clear(&u->udp4_ports);
	eph_portset_clear(&u->udp_all_ports);
	eph_portset_clear(&u->udp6_ports);
	eph_portset_clear(&u->udp_any4_ports);
	eph_portset_clear(&u->udp_any6_ports);
	u->udp_any4 = u->udp_any6 = 0;
	u->nudp_addrs = 0;
	u->sum.udp_sockets = 0;
	memset(&u->sum.udp4, 0, sizeof(u->sum.udp4));
	memset(&u->sum.udp6, 0, sizeof(u->sum.udp6));
	memset(&u->sum.udp6only, 0, sizeof(u->sum.udp6only));
}

/*
 * Starts a round under P's rules. KEEP_BLOCKED keeps the ports the last
 * round found blocked, for a second pass that knows them from the start.
 */
static void usage_start(struct eph_usage *u, const struct eph_policy *p,
			bool keep_blocked)
{
	if (keep_blocked)
		eph_portset_copy(&u->preseed, &u->blocked);
	else
		eph_portset_clear(&u->preseed);
	clear_blockers(u);
	clear_tcp(u);
	clear_udp(u);
	memset(&u->sum, 0, sizeof(u->sum));
	u->doubts = 0;
	eph_portset_copy(&u->blocked, &u->preseed);
	u->policy = p;
	eph_policy_range(p, &u->low, &u->high);
	if (eph_policy_knob(p, EPH_KNOB_TCP_TW_REUSE, &u->tw_reuse) < 0)
		u->tw_reuse = 2;
	if (eph_policy_knob(p, EPH_KNOB_TCP_TW_REUSE_DELAY, &u->tw_delay) < 0)
		u->tw_delay = TW_REUSE_DELAY_DEFAULT_MS;
	if (eph_policy_knob(p, EPH_KNOB_TCP_TIMESTAMPS, &u->timestamps) < 0)
		u->timestamps = 1;
	if (eph_policy_knob(p, EPH_KNOB_BINDV6ONLY, &u->bindv6only) < 0)
		u->bindv6only = 0;
	u->ended = false;
}

#define addr_is_loopback sockdiag_addr_is_loopback

/*
 * May connect() take over this TIME_WAIT now? tcp_twsk_unique(): the old
 * connection must have used timestamps (sock_diag cannot show that for a
 * TIME_WAIT: the history H says, else we assume it did when
 * tcp_timestamps is on), tcp_tw_reuse must allow it (2: only with a
 * loopback address at either end or a socket bound to lo), and the
 * TIME_WAIT must be older than tcp_tw_reuse_delay.
 */
static bool tw_reusable(const struct eph_usage *u, const struct eph_sock *s,
			const struct eph_history_entry *h)
{
	uint32_t age;

	if ((h ? !h->timestamps : u->timestamps == 0) || u->tw_reuse == 0)
		return false;
	if (u->tw_reuse == 2 && s->ifindex != LOOPBACK_IFINDEX &&
	    !addr_is_loopback(s->local) && !addr_is_loopback(s->remote))
		return false;
	age = s->expires_ms >= TIME_WAIT_MS ? 0 : TIME_WAIT_MS - s->expires_ms;
	return (int64_t)age > u->tw_delay;
}

uint64_t usage_tuple_hash(const uint8_t local[16], const uint8_t remote[16],
			  uint16_t rport)
{
	uint64_t w[4], h = 0x9e3779b97f4a7c15ull ^ rport;

	memcpy(&w[0], local, 8);
	memcpy(&w[1], local + 8, 8);
	memcpy(&w[2], remote, 8);
	memcpy(&w[3], remote + 8, 8);
	for (int i = 0; i < 4; i++) {
		h ^= w[i];
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	return h;
}

static int index_grow(struct eph_usage *u)
{
	size_t cap = u->index_cap ? u->index_cap * 2 : 1024;
	uint32_t *idx = malloc(cap * sizeof(*idx));

	if (!idx)
		return -ENOMEM;
	memset(idx, 0xff, cap * sizeof(*idx));
	for (size_t i = 0; i < u->ntuples; i++) {
		const struct eph_usage_tuple *t = &u->tuples[i];
		size_t slot =
			usage_tuple_hash(t->local, t->remote, t->remote_port) &
			(cap - 1);

		while (idx[slot] != NO_INDEX)
			slot = (slot + 1) & (cap - 1);
		idx[slot] = (uint32_t)i;
	}
	free(u->index);
	u->index = idx;
	u->index_cap = cap;
	return 0;
}

static struct eph_usage_tuple *tuple_get(struct eph_usage *u,
					 const struct eph_sock *s)
{
	struct eph_usage_tuple *t;
	size_t slot;

	/* Keep the load under a half so probes stay short. */
	if ((u->ntuples + 1) * 2 > u->index_cap && index_grow(u) < 0)
		return NULL;
	slot = usage_tuple_hash(s->local, s->remote, s->remote_port) &
	       (u->index_cap - 1);
	while (u->index[slot] != NO_INDEX) {
		t = &u->tuples[u->index[slot]];
		if (t->remote_port == s->remote_port &&
		    memcmp(t->local, s->local, 16) == 0 &&
		    memcmp(t->remote, s->remote, 16) == 0)
			return t;
		slot = (slot + 1) & (u->index_cap - 1);
	}
	if (u->ntuples == u->tuples_cap) {
		size_t cap = u->tuples_cap ? u->tuples_cap * 2 : 256;
		struct eph_usage_tuple *n =
			realloc(u->tuples, cap * sizeof(*n));

		if (!n)
			return NULL;
		u->tuples = n;
		u->tuples_cap = cap;
	}
	t = &u->tuples[u->ntuples];
	memset(t, 0, sizeof(*t));
	t->proto = s->proto;
	t->remote_port = s->remote_port;
	memcpy(t->local, s->local, 16);
	memcpy(t->remote, s->remote, 16);
	t->family = sockdiag_addr_is_mapped(s->local) ? AF_INET : AF_INET6;
	u->index[slot] = (uint32_t)u->ntuples++;
	return t;
}

/*
 * Which socket stands for a blocked port: a listener first, then a bound
 * idle socket, then any other. Owners are looked up for that one only.
 */
static int blocker_rank(uint8_t state)
{
	switch (state) {
	case EPH_TCP_LISTEN:
		return 0;
	case EPH_TCP_CLOSE:
	case EPH_TCP_BOUND_INACTIVE:
		return 1;
	default:
		return 2;
	}
}

static void blocker_set(struct eph_usage_blocker *b, const struct eph_sock *s)
{
	b->port = s->local_port;
	b->state = s->state;
	b->family = s->family;
	memcpy(b->local, s->local, 16);
	b->inode = s->inode;
	b->uid = s->uid;
	b->cookie = s->cookie;
	b->cgroup_id = s->cgroup_id;
}

/* Records N sockets like S on a port they block for every destination. */
static int add_blocker(struct eph_usage *u, const struct eph_sock *s,
		       uint32_t n)
{
	struct eph_usage_blocker *b;
	uint16_t port = s->local_port;

	if (u->blocker_of[port] != NO_INDEX) {
		b = &u->blockers[u->blocker_of[port]];
		b->sockets += n;
		if (blocker_rank(s->state) < blocker_rank(b->state))
			blocker_set(b, s);
		return 0;
	}
	if (u->nblockers == u->blockers_cap) {
		size_t cap = u->blockers_cap ? u->blockers_cap * 2 : 64;
		struct eph_usage_blocker *nb =
			realloc(u->blockers, cap * sizeof(*nb));

		if (!nb)
			return -ENOMEM;
		u->blockers = nb;
		u->blockers_cap = cap;
	}
	b = &u->blockers[u->nblockers];
	blocker_set(b, s);
	b->sockets = n;
	u->blocker_of[port] = (uint32_t)u->nblockers++;
	if (!ps_has(&u->blocked, port)) {
		ps_set(&u->blocked, port);
		/* Sockets already counted toward destinations on this port
		 * must not be: feed again with the port known up front. */
		if (u->port_counted[port])
			u->refeed = true;
	}
	return 0;
}

/* Does this TCP socket hold its port against every destination? */
static bool blocks_port(const struct eph_sock *s)
{
	switch (s->state) {
	case EPH_TCP_LISTEN:
	case EPH_TCP_CLOSE: /* bound but idle: bind() succeeded, no connect */
	case EPH_TCP_BOUND_INACTIVE:
	case EPH_TCP_SYN_RECV: /* request sockets sit on a listener's port */
	case EPH_TCP_NEW_SYN_RECV:
		return true;
	default:
		return (s->flags & EPH_SOCK_PORT_LOCKED) != 0;
	}
}

/*
 * What the history knows of TCP socket S, in *H; false when nothing (no
 * history, or the socket is not in it).
 */
static bool history_of(const struct eph_usage *u, const struct eph_sock *s,
		       struct eph_history_entry *h)
{
	return u->history && u->history->lookup &&
	       u->history->lookup(u->history->data, s, h) == 0;
}

/*
 * A connection bound first, or accepted by a listener (whose port it
 * keeps), blocks its port for every destination, and so does its
 * TIME_WAIT: only a history tells them from the others.
 */
static bool blocks(const struct eph_usage *u, const struct eph_sock *s)
{
	struct eph_history_entry h;

	if (blocks_port(s))
		return true;
	return s->proto == IPPROTO_TCP && history_of(u, s, &h) &&
	       (h.bound_first || h.accepted);
}

/* The sockets on address A, made on first sight; NULL without memory. */
static struct udp_addr *udp_addr_get(struct eph_usage *u, const uint8_t a[16])
{
	struct udp_addr *e;

	/* A host has few addresses: a linear search is enough. */
	for (size_t i = 0; i < u->nudp_addrs; i++)
		if (memcmp(u->udp_addrs[i].pub.local, a, 16) == 0)
			return &u->udp_addrs[i];
	if (num_grow((void **)&u->udp_addrs, &u->udp_addrs_cap, u->nudp_addrs,
		     sizeof(*u->udp_addrs)) < 0)
		return NULL;
	e = &u->udp_addrs[u->nudp_addrs++];
	memset(&e->pub, 0, sizeof(e->pub));
	e->pub.family = sockdiag_addr_is_mapped(a) ? AF_INET : AF_INET6;
	memcpy(e->pub.local, a, 16);
	eph_portset_clear(&e->ports);
	e->sockets = 0;
	return e;
}

static void udp_take(struct eph_portset *ps, uint32_t *sockets, uint16_t port,
		     bool reserved)
{
	(*sockets)++;
	if (!reserved)
		ps_set(ps, port);
}

/*
 * Files a UDP socket under every kind of autobind it overlaps (see struct
 * eph_usage_udp). An IPv6 socket without IPV6_V6ONLY on a specific IPv6
 * address got it from connect() (bind() would have made it IPv6-only):
 * the kernel gives it the IPv4 address 127.0.0.6 (LOOPBACK4_IPV6) too, so
 * it is filed under that address as well.
 */
static int fold_udp(struct eph_usage *u, const struct eph_sock *s)
{
	bool reserved = ps_has(eph_policy_reserved(u->policy), s->local_port);
	bool mapped = sockdiag_addr_is_mapped(s->local);
	bool v6only = !mapped && (s->flags & EPH_SOCK_V6ONLY);
	bool any = sockdiag_addr_is_any(s->local);
	uint16_t port = s->local_port;
	struct udp_addr *e;

	u->sum.udp_sockets++;
	if (!reserved)
		ps_set(&u->udp_all_ports, port);
	if (!v6only)
		udp_take(&u->udp4_ports, &u->sum.udp4.sockets, port, reserved);
	if (!mapped)
		udp_take(&u->udp6_ports, &u->sum.udp6only.sockets, port,
			 reserved);
	if (any && mapped) {
		udp_take(&u->udp_any4_ports, &u->udp_any4, port, reserved);
		return 0;
	}
	if (any) {
		udp_take(&u->udp_any6_ports, &u->udp_any6, port, reserved);
		if (!v6only)
			udp_take(&u->udp_any4_ports, &u->udp_any4, port,
				 reserved);
		return 0;
	}
	if (!mapped && !v6only) {
		static const uint8_t lo6[16] = {
			[10] = 0xff, [11] = 0xff, [12] = 127, [15] = 6
		};

		e = udp_addr_get(u, lo6);
		if (!e)
			return -ENOMEM;
		udp_take(&e->ports, &e->sockets, port, reserved);
	}
	e = udp_addr_get(u, s->local);
	if (!e)
		return -ENOMEM;
	udp_take(&e->ports, &e->sockets, port, reserved);
	return 0;
}

/* Folds one socket into the round. */
static int usage_fold(struct eph_usage *u, const struct eph_sock *s)
{
	const struct eph_portset *reserved = eph_policy_reserved(u->policy);
	uint16_t port = s->local_port;
	struct eph_usage_tuple *t;
	struct eph_history_entry h;
	bool known;

	if (port < u->low || port > u->high || port == 0)
		return 0;
	if (s->proto == IPPROTO_UDP)
		return fold_udp(u, s);
	if (s->proto != IPPROTO_TCP)
		return 0;
	u->sum.tcp_sockets++;
	if (s->state < EPH_TCP_MAX_STATES)
		u->sum.tcp_by_state[s->state]++;
	ps_set(&u->tcp_ports, port);
	if (ps_has(reserved, port)) {
		u->sum.tcp_on_reserved++;
		return 0;
	}
	if (blocks_port(s))
		return add_blocker(u, s, 1);
	if (ps_has(&u->blocked, port)) {
		u->sum.tcp_on_blocked++;
		return 0;
	}
	known = history_of(u, s, &h);
	if (known && (h.bound_first || h.accepted))
		return add_blocker(u, s, 1);
	/* Without history, a dump cannot tell these (eph_usage_doubts()). */
	if (!u->history) {
		u->doubts |= EPH_USAGE_DOUBT_BLOCKING;
		if (s->state == EPH_TCP_TIME_WAIT && u->tw_reuse != 0)
			u->doubts |= EPH_USAGE_DOUBT_TIMESTAMPS;
	}
	t = tuple_get(u, s);
	if (!t)
		return -ENOMEM;
	u->port_counted[port]++;
	for (size_t i = 0; i < u->nobservers; i++)
		u->observers[i]->sock(u->observers[i]->data, u->ctx, s);
	switch (s->state) {
	case EPH_TCP_ESTABLISHED:
		t->established++;
		break;
	case EPH_TCP_TIME_WAIT:
		t->time_wait++;
		if (tw_reusable(u, s, known ? &h : NULL)) {
			t->tw_reusable++;
			return 0;
		}
		break;
	default:
		t->other++;
		break;
	}
	/* Until the round ends, free_min notes that the range's low or high
	 * port is taken toward this destination (see usage_finish()). */
	if (port == u->low)
		t->free_min |= 1;
	if (port == u->high)
		t->free_min |= 2;
	return 0;
}

/* Fullest first: least free, then most used, then by address. */
static int tuple_cmp(const void *a, const void *b)
{
	const struct eph_usage_tuple *x = a, *y = b;
	int c;

	if (x->free != y->free)
		return x->free < y->free ? -1 : 1;
	if (x->used != y->used)
		return x->used > y->used ? -1 : 1;
	c = memcmp(x->remote, y->remote, 16);
	if (c)
		return c;
	if (x->remote_port != y->remote_port)
		return x->remote_port < y->remote_port ? -1 : 1;
	return memcmp(x->local, y->local, 16);
}

static int blocker_cmp(const void *a, const void *b)
{
	const struct eph_usage_blocker *x = a, *y = b;

	return (int)x->port - (int)y->port;
}

static void udp_finish(struct eph_usage_udp *udp, const struct eph_portset *ps,
		       uint32_t capacity)
{
	udp->used = eph_portset_count(ps);
	udp->capacity = capacity;
	udp->free = udp->used < capacity ? capacity - udp->used : 0;
}

static int udp_addr_cmp(const void *a, const void *b)
{
	const struct udp_addr *x = a, *y = b;

	if (x->pub.family != y->pub.family)
		return x->pub.family == AF_INET ? -1 : 1;
	return memcmp(x->pub.local, y->pub.local, 16);
}

/* Every UDP budget, from the ports filed by fold_udp(). */
static void udp_finish_all(struct eph_usage *u, uint32_t capacity)
{
	struct eph_usage_summary *sum = &u->sum;

	udp_finish(&sum->udp4, &u->udp4_ports, capacity);
	udp_finish(&sum->udp6only, &u->udp6_ports, capacity);
	if (u->bindv6only) {
		sum->udp6 = sum->udp6only;
	} else {
		sum->udp6.sockets = sum->udp_sockets;
		udp_finish(&sum->udp6, &u->udp_all_ports, capacity);
	}
	sum->udp4_addr.sockets = u->udp_any4;
	udp_finish(&sum->udp4_addr, &u->udp_any4_ports, capacity);
	sum->udp6_addr.sockets = u->udp_any6;
	udp_finish(&sum->udp6_addr, &u->udp_any6_ports, capacity);
	if (u->nudp_addrs > 1)
		qsort(u->udp_addrs, u->nudp_addrs, sizeof(*u->udp_addrs),
		      udp_addr_cmp);
	for (size_t i = 0; i < u->nudp_addrs; i++) {
		struct udp_addr *e = &u->udp_addrs[i];
		bool v4 = e->pub.family == AF_INET;

		eph_portset_copy(&u->scratch, &e->ports);
		eph_portset_union(&u->scratch,
				  v4 ? &u->udp_any4_ports : &u->udp_any6_ports);
		e->pub.udp.sockets =
			e->sockets + (v4 ? u->udp_any4 : u->udp_any6);
		udp_finish(&e->pub.udp, &u->scratch, capacity);
	}
}

/*
 * Ends a round. Returns 0, or 1 when a socket already counted toward a
 * destination turned out to sit on a port found blocked later: the round
 * must be done again with usage_start(u, p, true).
 */
static int usage_finish(struct eph_usage *u)
{
	struct eph_usage_summary *sum = &u->sum;
	const struct eph_portset *reserved = eph_policy_reserved(u->policy);
	uint32_t avail;
	bool low_open, high_open;

	sum->range_low = u->low;
	sum->range_high = u->high;
	sum->range_size = eph_policy_range_size(u->policy);
	sum->reserved = eph_policy_reserved_in_range(u->policy);
	sum->blocked = eph_portset_count_range(&u->blocked, u->low, u->high);
	avail = sum->range_size - sum->reserved;
	avail = avail > sum->blocked ? avail - sum->blocked : 0;
	/*
	 * __inet_hash_connect() tries (high + 1 - low) & ~1 candidates, in
	 * two passes of one parity that wrap by that count: with bounds of
	 * one parity each connect() misses one port, the low one (or, when
	 * its random offset is 0, the high one). The offset is drawn anew
	 * for every connect(), so a fill usually gets every port, but the
	 * last free port may be the one missed.
	 */
	sum->same_parity = sum->range_size > 1 && (u->low & 1) == (u->high & 1);
	low_open = !ps_has(reserved, u->low) && !ps_has(&u->blocked, u->low);
	high_open = !ps_has(reserved, u->high) && !ps_has(&u->blocked, u->high);
	sum->capacity = avail;
	sum->capacity_min =
		avail -
		(sum->same_parity && avail && (low_open || high_open) ? 1 : 0);
	sum->tcp_ports = eph_portset_count(&u->tcp_ports);
	sum->tuples = (uint32_t)u->ntuples;
	for (size_t i = 0; i < u->ntuples; i++) {
		struct eph_usage_tuple *t = &u->tuples[i];
		bool edge_free = (low_open && !(t->free_min & 1)) ||
				 (high_open && !(t->free_min & 2));
		uint32_t taken;

		t->used = t->established + t->time_wait + t->other;
		taken = t->used - t->tw_reusable;
		t->capacity = avail;
		t->free = taken < avail ? avail - taken : 0;
		t->free_min =
			t->free -
			(sum->same_parity && edge_free && t->free ? 1 : 0);
	}
	/* The index is rebuilt by the next round; sorting moves tuples. */
	if (u->ntuples > 1)
		qsort(u->tuples, u->ntuples, sizeof(*u->tuples), tuple_cmp);
	if (u->index)
		memset(u->index, 0xff, u->index_cap * sizeof(*u->index));
	if (u->nblockers > 1)
		qsort(u->blockers, u->nblockers, sizeof(*u->blockers),
		      blocker_cmp);
	for (size_t i = 0; i < u->nblockers; i++)
		u->blocker_of[u->blockers[i].port] = (uint32_t)i;
	udp_finish_all(u, sum->range_size - sum->reserved);
	u->ended = true;
	return u->refeed ? 1 : 0;
}

EPH_EXPORT int eph_usage_begin(struct eph_usage *u, const struct eph_policy *p)
{
	ctx_clear_error(u->ctx);
	u->policy = p;
	u->nfed = 0;
	u->ended = false;
	return 0;
}

EPH_EXPORT int eph_usage_add(struct eph_usage *u, const struct eph_sock *s)
{
	if (!u->policy)
		return ctx_error(u->ctx, -EINVAL,
				 "usage: eph_usage_add() before "
				 "eph_usage_begin()");
	if (num_grow((void **)&u->fed, &u->fed_cap, u->nfed, sizeof(*s)) < 0)
		return ctx_error(u->ctx, -ENOMEM, "out of memory");
	u->fed[u->nfed++] = *s;
	return 0;
}

EPH_EXPORT int eph_usage_end(struct eph_usage *u)
{
	int r = 0;

	if (!u->policy)
		return ctx_error(u->ctx, -EINVAL,
				 "usage: eph_usage_end() before "
				 "eph_usage_begin()");
	/* The sockets that block a port go first: then no socket is
	 * counted toward a destination on a port found blocked later. */
	usage_start(u, u->policy, false);
	for (int pass = 0; pass < 2 && r == 0; pass++)
		for (size_t i = 0; i < u->nfed && r == 0; i++)
			if ((u->fed[i].proto == IPPROTO_TCP &&
			     blocks(u, &u->fed[i])) == (pass == 0))
				r = usage_fold(u, &u->fed[i]);
	if (r < 0)
		return ctx_error(u->ctx, r, "out of memory");
	usage_finish(u);
	return 0;
}

/*
 * Scan callbacks. An interrupted dump is redone from its start, so each
 * phase forgets exactly what it gathered itself: phase 0 (listeners) starts
 * from the preseeded blocked ports; phase 1 (TCP sockets that did not name
 * their port) returns to the state phase 0 left; phase 2 (UDP) touches only
 * UDP. The other explicit binders come from their own dump, in a thread.
 */
struct phase {
	struct eph_usage *u;
	int which;
	size_t nblockers; /* as phase 0 left them */
	struct eph_usage_summary sum;
	struct eph_portset tcp_ports;
};

static void phase_save(struct phase *ph)
{
	ph->nblockers = ph->u->nblockers;
	ph->sum = ph->u->sum;
	eph_portset_copy(&ph->tcp_ports, &ph->u->tcp_ports);
}

static void phase_restore(struct phase *ph)
{
	struct eph_usage *u = ph->u;

	clear_tcp(u);
	for (size_t i = ph->nblockers; i < u->nblockers; i++) {
		uint16_t port = u->blockers[i].port;

		u->blocker_of[port] = NO_INDEX;
		if (!ps_has(&u->preseed, port))
			eph_portset_del(&u->blocked, port, port);
	}
	u->nblockers = ph->nblockers;
	u->sum = ph->sum;
	eph_portset_copy(&u->tcp_ports, &ph->tcp_ports);
}

static int phase_begin(void *data)
{
	struct phase *ph = data;

	switch (ph->which) {
	case 0:
		clear_blockers(ph->u);
		eph_portset_copy(&ph->u->blocked, &ph->u->preseed);
		clear_tcp(ph->u);
		break;
	case 1:
		phase_restore(ph);
		break;
	default:
		clear_udp(ph->u);
		break;
	}
	return 0;
}

static int phase_sock(const struct eph_sock *s, void *data)
{
	struct phase *ph = data;

	return usage_fold(ph->u, s);
}

static int binders_begin(void *data)
{
	struct binders *b = data;

	for (size_t i = 0; i < b->n; i++)
		b->slot_of[b->socks[i].local_port] = NO_INDEX;
	b->n = 0;
	memset(b->by_state, 0, sizeof(b->by_state));
	return 0;
}

static int binders_sock(const struct eph_sock *s, void *data)
{
	struct binders *b = data;
	uint32_t slot = b->slot_of[s->local_port];

	if (s->state < EPH_TCP_MAX_STATES)
		b->by_state[s->state]++;
	if (slot != NO_INDEX) {
		b->count[slot]++;
		if (blocker_rank(s->state) < blocker_rank(b->socks[slot].state))
			b->socks[slot] = *s;
		return 0;
	}
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct eph_sock *n = realloc(b->socks, cap * sizeof(*n));
		uint32_t *c;

		if (!n)
			return -ENOMEM;
		b->socks = n;
		c = realloc(b->count, cap * sizeof(*c));
		if (!c)
			return -ENOMEM;
		b->count = c;
		b->cap = cap;
	}
	b->slot_of[s->local_port] = (uint32_t)b->n;
	b->socks[b->n] = *s;
	b->count[b->n++] = 1;
	return 0;
}

static bool is_also_port(const struct sockdiag_filter *f, uint16_t port)
{
	for (uint32_t i = 0; i < f->nalso_ports; i++)
		if (f->also_ports[i] == port)
			return true;
	return false;
}

/* Folds what the binders' dump found into the usage. */
static int binders_merge(struct eph_usage *u, const struct binders *b)
{
	const struct eph_portset *reserved = eph_policy_reserved(u->policy);

	for (int st = 0; st < EPH_TCP_MAX_STATES; st++) {
		u->sum.tcp_by_state[st] += b->by_state[st];
		u->sum.tcp_sockets += b->by_state[st];
	}
	for (size_t i = 0; i < b->n; i++) {
		uint16_t port = b->socks[i].local_port;
		int r;

		ps_set(&u->tcp_ports, port);
		if (ps_has(reserved, port)) {
			u->sum.tcp_on_reserved += b->count[i];
			continue;
		}
		/* A listener's port: its connections, counted as the main
		 * dump counts sockets on a blocked port. */
		if (is_also_port(&b->filter, port)) {
			u->sum.tcp_on_blocked += b->count[i];
			continue;
		}
		r = add_blocker(u, &b->socks[i], b->count[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

static void *binders_run(void *data)
{
	static const struct eph_scan_ops ops = { binders_begin, binders_sock };
	struct binders *b = data;

	b->result = sockdiag_run(b->scan, &b->filter, &ops, b);
	return NULL;
}

static int scan_once(struct eph_usage *u, const struct eph_policy *p,
		     bool keep_blocked)
{
	static const struct eph_scan_ops ops = { phase_begin, phase_sock };
	struct sockdiag_filter f = { 0 };
	struct binders *b = &u->binders;
	struct phase *ph;
	pthread_t thread;
	bool threaded;
	int r;

	usage_start(u, p, keep_blocked);
	ph = malloc(sizeof(*ph));
	if (!ph)
		return -ENOMEM;
	ph->u = u;
	f.f.port_range = true;
	eph_policy_range(p, &f.f.port_lo, &f.f.port_hi);
	f.f.protos = EPH_PROTO_TCP;
	/*
	 * Listeners first: a dump of that state alone walks only the
	 * listening hash, so it is cheap, and it must come first because
	 * the connections a listener accepted share its port without
	 * naming it (the kernel clears their port lock): the main dump
	 * must already know the port is blocked.
	 */
	f.f.states = 1u << EPH_TCP_LISTEN;
	ph->which = 0;
	r = sockdiag_run(u->scan, &f, &ops, ph);
	if (r < 0)
		goto out;
	f.f.states = 0;
	/*
	 * The listeners' ports are blocked already: the main dump need not
	 * copy the connections they accepted, which can be most of a
	 * server's sockets. The binders' dump takes those instead (it
	 * copies little else), to count them, so the copying is shared
	 * between the two dumps. Past SOCKDIAG_MAX_PORTS listener ports,
	 * the rest are counted by the main dump, as on any blocked port.
	 */
	for (size_t i = 0; i < u->nblockers && i < SOCKDIAG_MAX_PORTS; i++)
		f.skip_ports[f.nskip_ports++] = u->blockers[i].port;
	b->filter = f;
	b->filter.nskip_ports = 0;
	memcpy(b->filter.also_ports, f.skip_ports, sizeof(f.skip_ports));
	b->filter.nalso_ports = f.nskip_ports;
	b->filter.f.explicit_only = true;
	b->filter.f.states = ~(1u << EPH_TCP_LISTEN);
	threaded = pthread_create(&thread, NULL, binders_run, b) == 0;
	if (!threaded)
		binders_run(b);

	phase_save(ph);
	f.auto_only = true;
	f.f.states = ~(1u << EPH_TCP_LISTEN);
	ph->which = 1;
	r = sockdiag_run(u->scan, &f, &ops, ph);
	if (r >= 0) {
		f.auto_only = false;
		f.f.states = 0;
		f.nskip_ports = 0;
		f.f.protos = EPH_PROTO_UDP;
		ph->which = 2;
		r = sockdiag_run(u->scan, &f, &ops, ph);
	}
	if (threaded)
		pthread_join(thread, NULL);
	if (r < 0)
		goto out;
	if (b->result < 0) {
		r = ctx_error_copy(u->ctx, b->ctx);
		goto out;
	}
	r = binders_merge(u, b);
	if (r >= 0)
		r = usage_finish(u);
out:
	free(ph);
	return r;
}

EPH_EXPORT int eph_usage_scan(struct eph_usage *u, const struct eph_policy *p)
{
	int r;

	ctx_clear_error(u->ctx);
	u->policy = p;
	if (!u->scan && (r = eph_scan_new(u->ctx, &u->scan)) < 0)
		return r;
	if (!u->binders.slot_of) {
		u->binders.slot_of =
			malloc(EPH_PORT_COUNT * sizeof(*u->binders.slot_of));
		if (!u->binders.slot_of)
			return ctx_error(u->ctx, -ENOMEM, "out of memory");
		memset(u->binders.slot_of, 0xff,
		       EPH_PORT_COUNT * sizeof(*u->binders.slot_of));
	}
	if (!u->binders.scan) {
		if (!u->binders.ctx)
			u->binders.ctx = ctx_clone(u->ctx);
		if (!u->binders.ctx)
			return ctx_error(u->ctx, -ENOMEM, "out of memory");
		if (eph_scan_new(u->binders.ctx, &u->binders.scan) < 0)
			return ctx_error_copy(u->ctx, u->binders.ctx);
	}
	r = scan_once(u, p, false);
	if (r == 1)
		r = scan_once(u, p, true);
	if (r < 0) {
		u->ended = false;
		if (r == -ENOMEM && !*eph_ctx_errmsg(u->ctx))
			ctx_error(u->ctx, r, "out of memory");
		return r;
	}
	return (int)u->ntuples;
}

int usage_observe(struct eph_usage *u, const struct usage_observer *o)
{
	for (size_t i = 0; i < u->nobservers; i++)
		if (u->observers[i] == o)
			return 0;
	if (u->nobservers == USAGE_OBSERVERS)
		return -ENOSPC;
	u->observers[u->nobservers++] = o;
	return 0;
}

void usage_unobserve(struct eph_usage *u, const struct usage_observer *o)
{
	for (size_t i = 0; i < u->nobservers; i++)
		if (u->observers[i] == o) {
			u->observers[i] = u->observers[--u->nobservers];
			return;
		}
}

EPH_EXPORT void eph_usage_set_history(struct eph_usage *u,
				      const struct eph_history *h)
{
	u->history = h;
}

EPH_EXPORT uint32_t eph_usage_doubts(const struct eph_usage *u)
{
	return u->ended ? u->doubts : 0;
}

EPH_EXPORT const struct eph_usage_summary *
eph_usage_summary(const struct eph_usage *u)
{
	return &u->sum;
}

EPH_EXPORT size_t eph_usage_count(const struct eph_usage *u)
{
	return u->ended ? u->ntuples : 0;
}

EPH_EXPORT const struct eph_usage_tuple *
eph_usage_get(const struct eph_usage *u, size_t i)
{
	return u->ended && i < u->ntuples ? &u->tuples[i] : NULL;
}

EPH_EXPORT size_t eph_usage_blocker_count(const struct eph_usage *u)
{
	return u->ended ? u->nblockers : 0;
}

EPH_EXPORT const struct eph_usage_blocker *
eph_usage_blocker(const struct eph_usage *u, size_t i)
{
	return u->ended && i < u->nblockers ? &u->blockers[i] : NULL;
}

EPH_EXPORT const struct eph_portset *
eph_usage_blocked(const struct eph_usage *u)
{
	return &u->blocked;
}

EPH_EXPORT size_t eph_usage_udp_addr_count(const struct eph_usage *u)
{
	return u->ended ? u->nudp_addrs : 0;
}

EPH_EXPORT const struct eph_usage_udp_addr *
eph_usage_udp_addr(const struct eph_usage *u, size_t i)
{
	return u->ended && i < u->nudp_addrs ? &u->udp_addrs[i].pub : NULL;
}
