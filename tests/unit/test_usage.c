/* SPDX-License-Identifier: MIT */
/*
 * The usage model fed by hand: which sockets take a destination's ports,
 * which block a port for every destination, when a TIME_WAIT is free, and
 * what bounds of one parity cost.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "socks.h"

static struct eph_policy *pol;
static struct eph_usage *u;

static int setup_usage(void **state)
{
	if (setup(state) < 0)
		return -1;
	pol = policy_new();
	if (!pol || eph_usage_new(ctx, &u) < 0)
		return -1;
	/* 20 ports, bounds of different parity, timestamps on. */
	eph_policy_set_range(pol, 40000, 40019);
	eph_policy_set_knob(pol, EPH_KNOB_TCP_TW_REUSE, 2);
	eph_policy_set_knob(pol, EPH_KNOB_TCP_TW_REUSE_DELAY, 1000);
	eph_policy_set_knob(pol, EPH_KNOB_TCP_TIMESTAMPS, 1);
	return 0;
}

static int teardown_usage(void **state)
{
	eph_usage_free(u);
	eph_policy_free(pol);
	return teardown(state);
}

static void feed(const struct eph_sock *s, size_t n)
{
	assert_int_equal(eph_usage_begin(u, pol), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(eph_usage_add(u, &s[i]), 0);
	assert_int_equal(eph_usage_end(u), 0);
}

static const struct eph_usage_tuple *find(uint16_t rport)
{
	static const struct eph_usage_tuple none;

	for (size_t i = 0; i < eph_usage_count(u); i++)
		if (eph_usage_get(u, i)->remote_port == rport)
			return eph_usage_get(u, i);
	/* The test has failed (fail_msg() does not return): the empty
	 * tuple only spares the caller a NULL the compiler cannot rule
	 * out. */
	fail_msg("no tuple toward port %u", rport);
	return &none;
}

static void test_each_destination_has_its_own_budget(void **state)
{
	struct eph_sock s[] = {
		sk("10.0.0.1", 40000, "10.0.0.2", 443, EPH_TCP_ESTABLISHED),
		sk("10.0.0.1", 40001, "10.0.0.2", 443, EPH_TCP_ESTABLISHED),
		sk("10.0.0.1", 40002, "10.0.0.2", 443, EPH_TCP_SYN_SENT),
		/* the same source ports toward another destination */
		sk("10.0.0.1", 40000, "10.0.0.3", 443, EPH_TCP_ESTABLISHED),
		/* and from another local address */
		sk("10.0.0.9", 40001, "10.0.0.2", 443, EPH_TCP_CLOSE_WAIT),
		/* outside the range: not ours to count */
		sk("10.0.0.1", 39999, "10.0.0.2", 443, EPH_TCP_ESTABLISHED),
	};
	const struct eph_usage_tuple *t;

	(void)state;
	feed(s, sizeof(s) / sizeof(s[0]));
	assert_int_equal(eph_usage_count(u), 3);
	t = eph_usage_get(u, 0); /* fullest first */
	assert_int_equal(t->remote_port, 443);
	assert_int_equal(t->established, 2);
	assert_int_equal(t->other, 1);
	assert_int_equal(t->used, 3);
	assert_int_equal(t->capacity, 20);
	assert_int_equal(t->free, 17);
	assert_true(eph_usage_tuple_percent(t) > 14.9 &&
		    eph_usage_tuple_percent(t) < 15.1);
	assert_int_equal(eph_usage_get(u, 1)->free, 19);
	assert_int_equal(eph_usage_get(u, 2)->free, 19);
	assert_int_equal(eph_usage_summary(u)->tcp_sockets, 5);
	assert_int_equal(eph_usage_summary(u)->tcp_ports, 3);
}

static void test_explicit_binders_block_every_destination(void **state)
{
	struct eph_sock s[] = {
		sk("0.0.0.0", 40010, "0.0.0.0", 0, EPH_TCP_LISTEN),
		sk("127.0.0.1", 40011, "0.0.0.0", 0, EPH_TCP_CLOSE),
		sk("10.0.0.1", 40012, "10.0.0.2", 443, EPH_TCP_ESTABLISHED),
		sk("10.0.0.1", 40000, "10.0.0.2", 443, EPH_TCP_ESTABLISHED),
	};

	(void)state;
	s[2].flags = EPH_SOCK_PORT_LOCKED; /* bind-before-connect */
	feed(s, sizeof(s) / sizeof(s[0]));
	assert_int_equal(eph_usage_summary(u)->blocked, 3);
	assert_int_equal(eph_usage_summary(u)->capacity, 17);
	assert_int_equal(eph_usage_blocker_count(u), 3);
	assert_int_equal(eph_usage_blocker(u, 0)->port, 40010);
	assert_int_equal(eph_usage_blocker(u, 0)->state, EPH_TCP_LISTEN);
	assert_true(eph_portset_has(eph_usage_blocked(u), 40012));
	/* The pinned connection is not in its destination's budget. */
	assert_int_equal(find(443)->used, 1);
	assert_int_equal(find(443)->free, 16);
}

static void test_reserved_ports_are_not_counted_twice(void **state)
{
	struct eph_portset *res = ps_new();
	struct eph_sock s[] = {
		sk("10.0.0.1", 40005, "10.0.0.2", 443, EPH_TCP_ESTABLISHED),
		sk("0.0.0.0", 40006, "0.0.0.0", 0, EPH_TCP_LISTEN),
		sk("10.0.0.1", 40007, "10.0.0.2", 443, EPH_TCP_ESTABLISHED),
	};

	(void)state;
	assert_non_null(res);
	eph_portset_add(res, 40005, 40006);
	eph_policy_set_reserved(pol, res);
	feed(s, sizeof(s) / sizeof(s[0]));
	assert_int_equal(eph_usage_summary(u)->reserved, 2);
	assert_int_equal(eph_usage_summary(u)->blocked, 0);
	assert_int_equal(eph_usage_summary(u)->tcp_on_reserved, 2);
	assert_int_equal(find(443)->free, 17);
	eph_portset_clear(res);
	eph_policy_set_reserved(pol, res);
	eph_portset_free(res);
}

static void test_time_wait_reuse_follows_the_knobs(void **state)
{
	struct eph_sock lo[] = {
		tw("127.0.0.1", 40000, "127.0.0.1", 80, 5000),
		tw("127.0.0.1", 40001, "127.0.0.1", 80, 500), /* too young */
	};
	struct eph_sock far[] = {
		tw("10.0.0.1", 40000, "10.0.0.2", 80, 5000),
	};

	(void)state;
	feed(lo, 2);
	assert_int_equal(find(80)->time_wait, 2);
	assert_int_equal(find(80)->tw_reusable, 1);
	assert_int_equal(find(80)->free, 19);
	feed(far, 1);
	assert_int_equal(find(80)->tw_reusable, 0); /* 2: loopback only */
	assert_int_equal(find(80)->free, 19);

	eph_policy_set_knob(pol, EPH_KNOB_TCP_TW_REUSE, 1);
	feed(far, 1);
	assert_int_equal(find(80)->tw_reusable, 1);
	assert_int_equal(find(80)->free, 20);

	eph_policy_set_knob(pol, EPH_KNOB_TCP_TIMESTAMPS, 0);
	feed(far, 1);
	assert_int_equal(find(80)->tw_reusable, 0);
	eph_policy_set_knob(pol, EPH_KNOB_TCP_TIMESTAMPS, 1);

	eph_policy_set_knob(pol, EPH_KNOB_TCP_TW_REUSE_DELAY, 6000);
	feed(far, 1);
	assert_int_equal(find(80)->tw_reusable, 0);
	eph_policy_set_knob(pol, EPH_KNOB_TCP_TW_REUSE_DELAY, 1000);

	eph_policy_set_knob(pol, EPH_KNOB_TCP_TW_REUSE, 0);
	feed(lo, 2);
	assert_int_equal(find(80)->tw_reusable, 0);
	assert_int_equal(find(80)->free, 18);
	eph_policy_set_knob(pol, EPH_KNOB_TCP_TW_REUSE, 2);
}

static void test_bounds_of_one_parity_may_miss_an_edge_port(void **state)
{
	struct eph_sock low = sk("10.0.0.1", 40000, "10.0.0.2", 1, 1);
	struct eph_sock high = sk("10.0.0.1", 40020, "10.0.0.2", 1, 1);
	struct eph_sock other = sk("10.0.0.1", 40001, "10.0.0.2", 2, 1);

	(void)state;
	eph_policy_set_range(pol, 40000, 40020); /* 21 ports */
	assert_int_equal(eph_usage_begin(u, pol), 0);
	assert_int_equal(eph_usage_add(u, &low), 0);
	assert_int_equal(eph_usage_add(u, &high), 0);
	assert_int_equal(eph_usage_add(u, &other), 0);
	assert_int_equal(eph_usage_end(u), 0);
	assert_true(eph_usage_summary(u)->same_parity);
	/* Each connect() draws a new start: every port can be had. */
	assert_int_equal(eph_usage_summary(u)->capacity, 21);
	/* Holding both edge ports, no scan can miss a free one. */
	assert_int_equal(find(1)->free, 19);
	assert_int_equal(find(1)->free_min, 19);
	/* With an edge port free, the last connect() may miss it. */
	assert_int_equal(find(2)->free, 20);
	assert_int_equal(find(2)->free_min, 19);
	eph_policy_set_range(pol, 40000, 40019);
	feed(NULL, 0);
	assert_false(eph_usage_summary(u)->same_parity);
}

static void test_a_late_blocker_counts_whatever_the_order(void **state)
{
	/* A listener on 127.0.0.2:40003 fed after a connection from
	 * 127.0.0.1:40003: the port blocks everyone all the same. */
	struct eph_sock c = sk("127.0.0.1", 40003, "127.0.0.1", 80, 1);
	struct eph_sock l = sk("127.0.0.2", 40003, "0.0.0.0", 0, 0);

	(void)state;
	l.state = EPH_TCP_LISTEN;
	assert_int_equal(eph_usage_begin(u, pol), 0);
	assert_int_equal(eph_usage_add(u, &c), 0);
	assert_int_equal(eph_usage_add(u, &l), 0);
	assert_int_equal(eph_usage_end(u), 0);
	assert_int_equal(eph_usage_summary(u)->blocked, 1);
	assert_int_equal(eph_usage_summary(u)->tcp_on_blocked, 1);
	assert_int_equal(eph_usage_count(u), 0);
	assert_int_equal(eph_usage_blocker_count(u), 1);
}

static void test_every_udp_socket_takes_its_own_port(void **state)
{
	struct eph_sock a = sk("10.0.0.1", 40000, "10.0.0.2", 53, 1);
	struct eph_sock b = sk("10.0.0.1", 40001, "10.0.0.3", 53, 1);
	struct eph_sock c = sk("0.0.0.0", 40002, "0.0.0.0", 0, 7);
	struct eph_sock far = sk("0.0.0.0", 5353, "0.0.0.0", 0, 7);

	(void)state;
	a.proto = b.proto = c.proto = far.proto = IPPROTO_UDP;
	assert_int_equal(eph_usage_begin(u, pol), 0);
	assert_int_equal(eph_usage_add(u, &a), 0);
	assert_int_equal(eph_usage_add(u, &b), 0);
	assert_int_equal(eph_usage_add(u, &c), 0);
	assert_int_equal(eph_usage_add(u, &far), 0);
	assert_int_equal(eph_usage_end(u), 0);
	assert_int_equal(eph_usage_summary(u)->udp4.used, 3);
	assert_int_equal(eph_usage_summary(u)->udp4.capacity, 20);
	assert_int_equal(eph_usage_summary(u)->udp4.free, 17);
	assert_int_equal(eph_usage_summary(u)->udp6.free, 17);
	assert_int_equal(eph_usage_count(u), 0); /* no TCP destinations */
}

static struct eph_sock udp6(const char *local, uint16_t port, bool v6only)
{
	struct eph_sock s = sk("0.0.0.0", port, "0.0.0.0", 0, 7);

	s.proto = IPPROTO_UDP;
	s.family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, local, s.local), 1);
	memset(s.remote, 0, 16);
	if (v6only)
		s.flags |= EPH_SOCK_V6ONLY;
	return s;
}

static void test_udp_ports_are_counted_per_family(void **state)
{
	/* IPv4 on 40000; IPv6-only on ::1 (40001) and on [::] with
	 * V6ONLY (40002); dual stack on [::] (40003); two IPv4 sockets
	 * sharing 40004 (SO_REUSEADDR); v4-mapped IPv6 on 40005. */
	struct eph_sock v4 = sk("127.0.0.1", 40000, "0.0.0.0", 0, 7);
	struct eph_sock lo6 = udp6("::1", 40001, true);
	struct eph_sock any6 = udp6("::", 40002, true);
	struct eph_sock dual = udp6("::", 40003, false);
	struct eph_sock r1 = sk("0.0.0.0", 40004, "0.0.0.0", 0, 7);
	struct eph_sock r2 = sk("0.0.0.0", 40004, "0.0.0.0", 0, 7);
	struct eph_sock mapped = udp6("::ffff:127.0.0.1", 40005, false);
	const struct eph_usage_summary *sum;

	(void)state;
	v4.proto = r1.proto = r2.proto = IPPROTO_UDP;
	assert_int_equal(eph_usage_begin(u, pol), 0);
	assert_int_equal(eph_usage_add(u, &v4), 0);
	assert_int_equal(eph_usage_add(u, &lo6), 0);
	assert_int_equal(eph_usage_add(u, &any6), 0);
	assert_int_equal(eph_usage_add(u, &dual), 0);
	assert_int_equal(eph_usage_add(u, &r1), 0);
	assert_int_equal(eph_usage_add(u, &r2), 0);
	assert_int_equal(eph_usage_add(u, &mapped), 0);
	assert_int_equal(eph_usage_end(u), 0);
	sum = eph_usage_summary(u);
	assert_int_equal(sum->udp_sockets, 7);
	/* IPv4 autobind: 40000, 40003, 40004, 40005. */
	assert_int_equal(sum->udp4.sockets, 5);
	assert_int_equal(sum->udp4.used, 4);
	assert_int_equal(sum->udp4.free, 16);
	/* A dual-stack IPv6 autobind overlaps every socket. */
	assert_int_equal(sum->udp6.sockets, 7);
	assert_int_equal(sum->udp6.used, 6);
	assert_int_equal(sum->udp6.free, 14);

	/* With bindv6only, a new IPv6 socket is IPv6-only: it overlaps
	 * the IPv6 sockets not on v4-mapped addresses. */
	eph_policy_set_knob(pol, EPH_KNOB_BINDV6ONLY, 1);
	assert_int_equal(eph_usage_end(u), 0);
	sum = eph_usage_summary(u);
	assert_int_equal(sum->udp6.used, 3);
	assert_int_equal(sum->udp4.used, 4);
	eph_policy_set_knob(pol, EPH_KNOB_BINDV6ONLY, 0);
}

/* A UDP socket on LOCAL:PORT (v4-mapped for IPv4), IPv6 with FAMILY. */
static struct eph_sock udp(const char *local, uint16_t port, bool v6only)
{
	struct eph_sock s;

	if (strchr(local, ':'))
		return udp6(local, port, v6only);
	s = sk(local, port, "0.0.0.0", 0, 7);
	s.proto = IPPROTO_UDP;
	return s;
}

static const struct eph_usage_udp *udp_at(const char *addr)
{
	uint8_t a[16];

	if (strchr(addr, ':'))
		assert_int_equal(inet_pton(AF_INET6, addr, a), 1);
	else
		v4(a, addr);
	for (size_t i = 0; i < eph_usage_udp_addr_count(u); i++)
		if (memcmp(eph_usage_udp_addr(u, i)->local, a, 16) == 0)
			return &eph_usage_udp_addr(u, i)->udp;
	fail_msg("no UDP budget for %s", addr);
	return NULL;
}

/*
 * The matrix found that IPv6-only sockets (IPV6_V6ONLY on [::], or bound
 * to an IPv6 address) and sockets bound to an address have budgets of
 * their own: an IPv6-only socket takes no port from IPv4 sockets, a
 * socket bound to ::1 none from one on fd00::1, and a socket bound to
 * 127.0.0.1 none from one on 10.0.0.1. Read from the dual-stack or the
 * IPv4 budget, each of them came out short of what the kernel gave.
 */
static void test_udp_budgets_per_kind_and_address(void **state)
{
	struct eph_sock s[] = {
		udp("0.0.0.0", 40000, false),	/* every IPv4 autobind */
		udp("127.0.0.1", 40001, false), /* 127.0.0.1 only */
		udp("10.0.0.1", 40002, false),	/* 10.0.0.1 only */
		udp("::", 40003, true),		/* every IPv6 one */
		udp("::", 40004, false),	/* everyone */
		udp("::1", 40005, true),	/* ::1 (bound: IPv6-only) */
		udp("fd00::1", 40006, true),	/* fd00::1 */
		/* Connected from [::]: ::1 for IPv6, 127.0.0.6 for IPv4. */
		udp("::1", 40007, false),
		udp("::ffff:127.0.0.1", 40008, false), /* as 127.0.0.1 */
		udp("127.0.0.1", 40009, false),	       /* two on one port */
		udp("127.0.0.1", 40009, false),
	};
	const struct eph_usage_summary *sum;

	(void)state;
	feed(s, sizeof(s) / sizeof(s[0]));
	sum = eph_usage_summary(u);
	assert_int_equal(sum->udp_sockets, 11);
	/* 0.0.0.0: all but the IPv6-only ones (40003, 40005, 40006). */
	assert_int_equal(sum->udp4.used, 7);
	assert_int_equal(sum->udp4.free, 13);
	/* [::] dual stack: every port. */
	assert_int_equal(sum->udp6.used, 10);
	assert_int_equal(sum->udp6.free, 10);
	/* [::] IPv6-only: the IPv6 sockets not on v4-mapped addresses. */
	assert_int_equal(sum->udp6only.sockets, 5);
	assert_int_equal(sum->udp6only.used, 5);
	assert_int_equal(sum->udp6only.free, 15);
	/* An address no socket is on: the wildcard sockets of its kind. */
	assert_int_equal(sum->udp4_addr.used, 2); /* 40000, 40004 */
	assert_int_equal(sum->udp6_addr.used, 2); /* 40003, 40004 */
	assert_int_equal(eph_usage_udp_addr_count(u), 5);
	assert_int_equal(udp_at("127.0.0.1")->used, 5); /* +40001,8,9 */
	assert_int_equal(udp_at("127.0.0.1")->sockets, 6);
	assert_int_equal(udp_at("10.0.0.1")->used, 3);
	assert_int_equal(udp_at("127.0.0.6")->used, 3); /* +40007 */
	assert_int_equal(udp_at("::1")->used, 4);	/* +40005, 40007 */
	assert_int_equal(udp_at("::1")->free, 16);
	assert_int_equal(udp_at("fd00::1")->used, 3);
	/* IPv4 first, then by address. */
	assert_int_equal(eph_usage_udp_addr(u, 0)->family, AF_INET);
	assert_int_equal(eph_usage_udp_addr(u, 0)->local[12], 10);
	assert_int_equal(eph_usage_udp_addr(u, 3)->family, AF_INET6);
	assert_int_equal(eph_usage_udp_addr(u, 3)->local[15], 1);
	assert_null(eph_usage_udp_addr(u, 5));

	/* With bindv6only, the default IPv6 socket is the IPv6-only one. */
	eph_policy_set_knob(pol, EPH_KNOB_BINDV6ONLY, 1);
	feed(s, sizeof(s) / sizeof(s[0]));
	assert_int_equal(eph_usage_summary(u)->udp6.used, 5);
	eph_policy_set_knob(pol, EPH_KNOB_BINDV6ONLY, 0);

	/* A second round starts empty. */
	feed(NULL, 0);
	assert_int_equal(eph_usage_udp_addr_count(u), 0);
	assert_int_equal(eph_usage_summary(u)->udp6only.used, 0);
}

/*
 * A destination with no socket yet has free_min too: with bounds of one
 * parity and an edge port open, its last connect() may miss that port.
 */
static void test_a_new_destination_has_a_lower_bound_too(void **state)
{
	struct eph_portset *res = ps_new();
	struct eph_sock l = sk("0.0.0.0", 40020, "0.0.0.0", 0, 0);

	(void)state;
	assert_non_null(res);
	l.state = EPH_TCP_LISTEN;
	eph_policy_set_range(pol, 40000, 40020); /* 21 ports */
	feed(NULL, 0);
	assert_int_equal(eph_usage_summary(u)->capacity, 21);
	assert_int_equal(eph_usage_summary(u)->capacity_min, 20);
	/* Both edges closed: every scan finds every open port. */
	eph_portset_add(res, 40000, 40000);
	eph_policy_set_reserved(pol, res);
	feed(&l, 1);
	assert_int_equal(eph_usage_summary(u)->capacity, 19);
	assert_int_equal(eph_usage_summary(u)->capacity_min, 19);
	eph_portset_clear(res);
	eph_policy_set_reserved(pol, res);
	eph_portset_free(res);
	eph_policy_set_range(pol, 40000, 40019);
	feed(NULL, 0);
	assert_int_equal(eph_usage_summary(u)->capacity_min, 20);
}

static void test_many_destinations_grow_the_table(void **state)
{
	(void)state;
	assert_int_equal(eph_usage_begin(u, pol), 0);
	for (uint32_t i = 0; i < 5000; i++) {
		struct eph_sock s = sk("10.0.0.1", (uint16_t)(40000 + i % 20),
				       "10.1.0.0", (uint16_t)(1 + i / 20), 1);

		s.remote[14] = (uint8_t)(i >> 8);
		s.remote[15] = (uint8_t)i;
		assert_int_equal(eph_usage_add(u, &s), 0);
	}
	assert_int_equal(eph_usage_end(u), 0);
	assert_int_equal(eph_usage_count(u), 5000);
	/* Reused: a second round starts empty. */
	feed(NULL, 0);
	assert_int_equal(eph_usage_count(u), 0);
	assert_null(eph_usage_get(u, 0));
}

/* ---- With a history source (the tracer's record) ---- */

/* A history made by hand: what it knows of a few 4-tuples. */
struct known {
	uint16_t lport, rport;
	bool time_wait;
	struct eph_history_entry e;
};

static struct known known[8];
static size_t nknown;

static int fake_lookup(void *data, const struct eph_sock *s,
		       struct eph_history_entry *ret)
{
	(void)data;
	for (size_t i = 0; i < nknown; i++)
		if (known[i].lport == s->local_port &&
		    known[i].rport == s->remote_port &&
		    known[i].time_wait == (s->state == EPH_TCP_TIME_WAIT)) {
			*ret = known[i].e;
			return 0;
		}
	return -ENOENT;
}

static const struct eph_history fake = { fake_lookup, NULL };

static void know(uint16_t lport, uint16_t rport, bool time_wait,
		 bool bound_first, bool accepted, bool timestamps)
{
	struct known *k = &known[nknown++];

	memset(k, 0, sizeof(*k));
	k->lport = lport;
	k->rport = rport;
	k->time_wait = time_wait;
	k->e.pid = -1;
	k->e.bound_first = bound_first;
	k->e.accepted = accepted;
	k->e.timestamps = timestamps;
}

/* Free toward 10.0.0.2:DPORT (the full capacity when it is unused). */
static uint32_t free_toward(uint16_t dport)
{
	for (size_t i = 0; i < eph_usage_count(u); i++)
		if (eph_usage_get(u, i)->remote_port == dport)
			return eph_usage_get(u, i)->free;
	return eph_usage_summary(u)->capacity;
}

static void test_history_tells_the_blind_spots_apart(void **state)
{
	/* Four connections a dump sees as ordinary ones, toward port 443:
	 * bind(0) then connect(), its TIME_WAIT, one accepted on 40002
	 * whose listener has closed, and that one's TIME_WAIT. */
	struct eph_sock s[] = {
		sk("10.0.0.1", 40000, "10.0.0.2", 443, EPH_TCP_ESTABLISHED),
		tw("10.0.0.1", 40001, "10.0.0.2", 443, 5000),
		sk("10.0.0.1", 40002, "10.0.0.2", 6000, EPH_TCP_ESTABLISHED),
		tw("10.0.0.1", 40003, "10.0.0.2", 6001, 5000),
	};

	(void)state;
	/* Without history: counted toward their destinations only. */
	eph_usage_set_history(u, NULL);
	feed(s, 4);
	assert_int_equal(free_toward(80), 20);
	assert_int_equal(eph_usage_summary(u)->blocked, 0);
	assert_int_equal(eph_usage_doubts(u),
			 EPH_USAGE_DOUBT_BLOCKING | EPH_USAGE_DOUBT_TIMESTAMPS);
	/* With it: each blocks its port for every destination. */
	nknown = 0;
	know(40000, 443, false, true, false, true);
	know(40001, 443, true, true, false, true);
	know(40002, 6000, false, false, true, false);
	know(40003, 6001, true, false, true, true);
	eph_usage_set_history(u, &fake);
	feed(s, 4);
	assert_int_equal(eph_usage_summary(u)->blocked, 4);
	assert_int_equal(free_toward(80), 16);
	assert_int_equal(eph_usage_doubts(u), 0);
	/* A record of a TIME_WAIT says nothing of a live socket on the same
	 * 4-tuple, and the other way round. */
	nknown = 0;
	know(40000, 443, true, true, false, true);
	know(40001, 443, false, true, false, true);
	feed(s, 2);
	assert_int_equal(eph_usage_summary(u)->blocked, 0);
	eph_usage_set_history(u, NULL);
}

static void test_history_says_which_time_waits_used_timestamps(void **state)
{
	/* Loopback TIME_WAITs older than tcp_tw_reuse_delay. */
	struct eph_sock s[] = {
		tw("127.0.0.1", 40000, "127.0.0.1", 5000, 5000),
		tw("127.0.0.1", 40001, "127.0.0.1", 5000, 5000),
	};

	(void)state;
	nknown = 0;
	know(40000, 5000, true, false, false, false);
	know(40001, 5000, true, false, false, true);
	eph_usage_set_history(u, &fake);
	/* Timestamps on now: the one without them still cannot be reused. */
	feed(s, 2);
	assert_int_equal(eph_usage_get(u, 0)->tw_reusable, 1);
	assert_int_equal(eph_usage_get(u, 0)->free, 19);
	/* Off now: the one that used them can be reused all the same. */
	eph_policy_set_knob(pol, EPH_KNOB_TCP_TIMESTAMPS, 0);
	feed(s, 2);
	assert_int_equal(eph_usage_get(u, 0)->tw_reusable, 1);
	/* Without history, today's knob decides, and usage says so. */
	eph_usage_set_history(u, NULL);
	feed(s, 2);
	assert_int_equal(eph_usage_get(u, 0)->tw_reusable, 0);
	assert_true(eph_usage_doubts(u) & EPH_USAGE_DOUBT_TIMESTAMPS);
	eph_policy_set_knob(pol, EPH_KNOB_TCP_TIMESTAMPS, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_destination_has_its_own_budget),
		cmocka_unit_test(test_explicit_binders_block_every_destination),
		cmocka_unit_test(test_reserved_ports_are_not_counted_twice),
		cmocka_unit_test(test_time_wait_reuse_follows_the_knobs),
		cmocka_unit_test(
			test_bounds_of_one_parity_may_miss_an_edge_port),
		cmocka_unit_test(test_a_late_blocker_counts_whatever_the_order),
		cmocka_unit_test(test_every_udp_socket_takes_its_own_port),
		cmocka_unit_test(test_udp_ports_are_counted_per_family),
		cmocka_unit_test(test_udp_budgets_per_kind_and_address),
		cmocka_unit_test(test_a_new_destination_has_a_lower_bound_too),
		cmocka_unit_test(test_many_destinations_grow_the_table),
		cmocka_unit_test(test_history_tells_the_blind_spots_apart),
		cmocka_unit_test(
			test_history_says_which_time_waits_used_timestamps),
	};

	return cmocka_run_group_tests(tests, setup_usage, teardown_usage);
}
