/* SPDX-License-Identifier: MIT */
/*
 * Sockets of this very test: the holders of a port, the bind probe, the
 * owner found in /proc, and this namespace in the list of namespaces. They
 * run in the caller's namespace and change nothing but their own sockets.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit.h"

static int lst = -1;
static uint16_t port;

/* A listener on 127.0.0.1, on a port of its own choosing. */
static int setup_owners(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);

	if (setup(state) < 0)
		return -1;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lst = socket(AF_INET, SOCK_STREAM, 0);
	if (lst < 0 || bind(lst, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(lst, 1) < 0 ||
	    getsockname(lst, (struct sockaddr *)&a, &len) < 0)
		return -1;
	port = ntohs(a.sin_port);
	return 0;
}

static int teardown_owners(void **state)
{
	close(lst);
	return teardown(state);
}

static void test_the_listener_is_found_with_its_owner(void **state)
{
	struct eph_holders *h = NULL;
	struct eph_owners *o = NULL;
	const struct eph_sock *s;
	const struct eph_owner *found;

	(void)state;
	assert_int_equal(eph_holders_new(ctx, &h), 0);
	assert_int_equal(eph_holders_scan(h, EPH_PROTO_TCP, port), 1);
	s = eph_holders_get(h, 0);
	assert_int_equal(s->state, EPH_TCP_LISTEN);
	assert_int_equal(s->local_port, port);
	assert_true(s->inode != 0);
	assert_null(eph_holders_get(h, 1));
	assert_int_equal(eph_owners_new(ctx, &o), 0);
	assert_int_equal(eph_owners_want(o, s->inode), 0);
	assert_int_equal(eph_owners_want(o, 0), 0); /* ignored */
	assert_int_equal(eph_owners_resolve(o), 1);
	found = eph_owners_find(o, s->inode);
	assert_non_null(found);
	assert_int_equal(found->pid, getpid());
	assert_null(eph_owners_find(o, s->inode + 1));
	eph_owners_free(o);
	eph_holders_free(h);
}

static void test_the_bind_probe_sees_it_and_leaves_nothing(void **state)
{
	struct eph_bind_probe p = { 0 };
	struct eph_holders *h = NULL;
	int err = -1;

	(void)state;
	p.proto = IPPROTO_TCP;
	p.family = AF_INET;
	p.port = port;
	assert_int_equal(eph_bind_probe(ctx, &p, &err), 0);
	assert_int_equal(err, EADDRINUSE);
	/* SO_REUSEADDR does not get past a listener either. */
	p.reuseaddr = true;
	assert_int_equal(eph_bind_probe(ctx, &p, &err), 0);
	assert_int_equal(err, EADDRINUSE);
	/* UDP has a port space of its own. */
	p.proto = IPPROTO_UDP;
	assert_int_equal(eph_bind_probe(ctx, &p, &err), 0);
	assert_int_equal(err, 0);
	/* And the probe left no socket behind. */
	assert_int_equal(eph_holders_new(ctx, &h), 0);
	assert_int_equal(eph_holders_scan(h, EPH_PROTO_UDP, port), 0);
	eph_holders_free(h);
	p.proto = 99;
	assert_int_equal(eph_bind_probe(ctx, &p, &err), -EINVAL);
}

static void test_this_namespace_is_listed_once(void **state)
{
	struct eph_netns *list = NULL;
	size_t n = 0, current = 0;
	uint64_t dev, ino;

	(void)state;
	assert_int_equal(eph_netns_list(ctx, &list, &n), 0);
	assert_int_equal(eph_ctx_netns_id(ctx, &dev, &ino), 0);
	for (size_t i = 0; i < n; i++) {
		if (list[i].current) {
			current++;
			assert_true(list[i].dev == dev && list[i].ino == ino);
		}
		for (size_t k = i + 1; k < n; k++)
			assert_false(list[i].dev == list[k].dev &&
				     list[i].ino == list[k].ino);
	}
	assert_int_equal(current, 1);
	free(list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_listener_is_found_with_its_owner),
		cmocka_unit_test(
			test_the_bind_probe_sees_it_and_leaves_nothing),
		cmocka_unit_test(test_this_namespace_is_listed_once),
	};

	return cmocka_run_group_tests(tests, setup_owners, teardown_owners);
}
