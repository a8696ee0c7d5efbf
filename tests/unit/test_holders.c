// SPDX-License-Identifier: MIT
/*
 * Holders: every socket on one port, the explicit binders marked. Real
 * sockets in a network namespace of the test's own, dumped by the kernel:
 * a port named by bind() is locked, one the kernel chose (connect(),
 * listen() without bind(), bind(0), a UDP connect()) is not, nor is a
 * connection a listener accepted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit.h"

static bool private_netns;

static struct sockaddr_in loopback(uint16_t port)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static uint16_t port_of(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.sin_port);
}

/* A socket of TYPE bound to 127.0.0.1:PORT (0: the kernel chooses, and
 * the port is not locked: bind(0) is the kernel's choice too). */
static int bound(int type, uint16_t port)
{
	struct sockaddr_in a = loopback(port);
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static int connected(int type, int fd, uint16_t port)
{
	struct sockaddr_in a = loopback(port);

	if (fd < 0)
		fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Scans PORT for PROTOS: the count, each socket's state and lock in
 * STATE and LOCKED (listeners first). */
static int scan(struct eph_holders *h, uint32_t protos, uint16_t port,
		int *state, bool *locked, int max)
{
	int n = eph_holders_scan(h, protos, port);

	assert_true(n >= 0);
	assert_int_equal((size_t)n, eph_holders_count(h));
	for (int i = 0; i < n && i < max; i++) {
		const struct eph_sock *s = eph_holders_get(h, (size_t)i);

		assert_int_equal(s->local_port, port);
		state[i] = s->state;
		locked[i] = (s->flags & EPH_SOCK_PORT_LOCKED) != 0;
	}
	assert_null(eph_holders_get(h, (size_t)n));
	return n;
}

static void test_explicit_binders_are_told_from_the_rest(void **state)
{
	struct eph_holders *h = NULL;
	int st[8], lst, acc, cli, bbc, b0, auto_lst, u_bound, u_conn;
	uint16_t p, q;
	bool lk[8];

	(void)state;
	if (!private_netns) {
		skip();
		return;
	}
	unit_lo_up();
	/* A listener on a port it named, a client, the accepted side. */
	lst = bound(SOCK_STREAM, 40001);
	p = port_of(lst);
	assert_int_equal(listen(lst, 8), 0);
	cli = connected(SOCK_STREAM, -1, p);
	acc = accept(lst, NULL, NULL);
	assert_true(acc >= 0);
	/* A client that named its port before connecting. */
	bbc = bound(SOCK_STREAM, 40002);
	q = port_of(bbc);
	connected(SOCK_STREAM, bbc, p);
	/* bind(0), then connect(): the kernel's choice too (FACTS.md: it
	 * blocks its port for everyone, but no dump can tell). */
	b0 = bound(SOCK_STREAM, 0);
	connected(SOCK_STREAM, b0, p);
	/* A listener whose port listen() chose. */
	auto_lst = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(listen(auto_lst, 1), 0);
	/* UDP: a bound socket, and one connect() gave its port. */
	u_bound = bound(SOCK_DGRAM, 40003);
	u_conn = connected(SOCK_DGRAM, -1, port_of(u_bound));

	assert_int_equal(eph_holders_new(ctx, &h), 0);
	/* The listener first, locked; then the three connections it took
	 * (one accepted, two still in its queue), which are not: the
	 * kernel clears the lock on the copy a listener makes. */
	assert_int_equal(scan(h, EPH_PROTO_TCP, p, st, lk, 8), 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(st[i],
				 i ? EPH_TCP_ESTABLISHED : EPH_TCP_LISTEN);
		assert_int_equal(lk[i], i == 0);
	}
	/* The client's port was the kernel's choice. */
	assert_int_equal(scan(h, EPH_PROTO_TCP, port_of(cli), st, lk, 8), 1);
	assert_int_equal(st[0], EPH_TCP_ESTABLISHED);
	assert_false(lk[0]);
	/* Bound, then connected: locked. */
	assert_int_equal(scan(h, EPH_PROTO_TCP, q, st, lk, 8), 1);
	assert_true(lk[0]);
	assert_int_equal(scan(h, EPH_PROTO_TCP, port_of(b0), st, lk, 8), 1);
	assert_false(lk[0]);
	/* listen() without bind(): the kernel's choice. */
	assert_int_equal(scan(h, EPH_PROTO_TCP, port_of(auto_lst), st, lk, 8),
			 1);
	assert_int_equal(st[0], EPH_TCP_LISTEN);
	assert_false(lk[0]);
	/* UDP, and the protocol filter. */
	assert_int_equal(scan(h, EPH_PROTO_UDP, port_of(u_bound), st, lk, 8),
			 1);
	assert_true(lk[0]);
	assert_int_equal(scan(h, EPH_PROTO_UDP, port_of(u_conn), st, lk, 8), 1);
	assert_false(lk[0]);
	assert_int_equal(scan(h, EPH_PROTO_TCP, port_of(u_bound), st, lk, 8),
			 0);
	assert_int_equal(scan(h, EPH_PROTO_UDP, p, st, lk, 8), 0);
	/* Scanned again after the listener's end: what it accepted is
	 * left (the queued ones went with it). */
	close(lst);
	assert_int_equal(scan(h, EPH_PROTO_TCP, p, st, lk, 8), 1);
	assert_int_equal(st[0], EPH_TCP_ESTABLISHED);
	assert_false(lk[0]);
	eph_holders_free(h);
	close(acc);
	close(cli);
	close(bbc);
	close(b0);
	close(auto_lst);
	close(u_bound);
	close(u_conn);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_explicit_binders_are_told_from_the_rest),
	};

	/* A namespace of our own, when allowed: sockets of no one else. */
	private_netns = unshare(CLONE_NEWNET) == 0;
	return cmocka_run_group_tests(tests, setup, teardown);
}
