/* SPDX-License-Identifier: MIT */
/*
 * The audit fed with the servers a scan would find: which are at risk,
 * for which systems, and the one reservation that fixes them.
 */
#include "socks.h"

static struct eph_policy *pol;

static int setup_audit(void **state)
{
	if (setup(state) < 0)
		return -1;
	pol = policy_new();
	return pol ? 0 : -1;
}

static int teardown_audit(void **state)
{
	eph_policy_free(pol);
	return teardown(state);
}

static struct eph_audit *run(const struct eph_sock *s, size_t n,
			     const struct eph_portset *planned, uint64_t os)
{
	struct eph_audit_request req = { planned, os, false };
	struct eph_audit *a = NULL;

	assert_int_equal(audit_decide(pol, &req, s, n, &a), 0);
	return a;
}

static void
test_a_listener_in_the_range_is_fixed_by_one_reservation(void **state)
{
	struct eph_sock s[] = {
		sk("0.0.0.0", 36601, "0.0.0.0", 0, EPH_TCP_LISTEN),
		/* the same service on IPv6: one risk, not two */
		sk("0.0.0.0", 36601, "0.0.0.0", 0, EPH_TCP_LISTEN),
		sk("0.0.0.0", 8080, "0.0.0.0", 0, EPH_TCP_LISTEN),
		sk("0.0.0.0", 40500, "0.0.0.0", 0, EPH_TCP_LISTEN),
	};
	struct eph_portset *res = ps_new();
	struct eph_audit *a;
	char list[64];

	(void)state;
	s[1].family = AF_INET6;
	assert_non_null(res);
	eph_portset_add(res, 40500, 40500);
	eph_portset_add(res, 50000, 50010);
	eph_policy_set_reserved(pol, res);
	a = run(s, 4, NULL, 0);
	/* 8080 is outside 32768-60999; 40500 is reserved already. */
	assert_int_equal(eph_audit_count(a), 1);
	assert_int_equal(eph_audit_get(a, 0)->port, 36601);
	assert_int_equal(eph_audit_get(a, 0)->proto, IPPROTO_TCP);
	assert_true(eph_audit_get(a, 0)->in_range);
	assert_int_equal(eph_audit_get(a, 0)->inode, 36601);
	eph_portset_format(eph_audit_fix(a), list, sizeof(list));
	assert_string_equal(list, "36601");
	/* The value to set keeps what is reserved now. */
	eph_portset_format(eph_audit_merged(a), list, sizeof(list));
	assert_string_equal(list, "36601,40500,50000-50010");
	eph_audit_free(a);
	eph_portset_clear(res);
	eph_policy_set_reserved(pol, res);
	eph_portset_free(res);
}

static void test_planned_ports_and_other_systems(void **state)
{
	struct eph_portset *planned = ps_new();
	const struct eph_os *freebsd = eph_os_find("freebsd");
	struct eph_audit *a;
	uint64_t mask;
	size_t fb = 0;

	(void)state;
	assert_non_null(planned);
	assert_non_null(freebsd);
	for (size_t i = 0; i < eph_os_count(); i++)
		if (eph_os_get(i) == freebsd)
			fb = i;
	assert_int_equal(eph_os_parse_list(ctx, "freebsd,windows", &mask), 0);
	eph_portset_add(planned, 12000, 12000); /* FreeBSD only */
	eph_portset_add(planned, 9000, 9000);	/* nobody's */
	eph_portset_add(planned, 50000, 50000); /* here and both */
	a = run(NULL, 0, planned, mask);
	assert_int_equal(eph_audit_count(a), 2);
	assert_int_equal(eph_audit_get(a, 0)->port, 12000);
	assert_int_equal(eph_audit_get(a, 0)->proto, 0);
	assert_false(eph_audit_get(a, 0)->in_range);
	assert_int_equal(eph_audit_get(a, 0)->os_mask, 1ull << fb);
	assert_int_equal(eph_audit_get(a, 1)->port, 50000);
	assert_true(eph_audit_get(a, 1)->in_range);
	assert_int_equal(eph_audit_get(a, 1)->os_mask, mask);
	/* Only this host's range is fixed by a reservation here. */
	assert_int_equal(eph_portset_count(eph_audit_fix(a)), 1);
	eph_audit_free(a);
	eph_portset_free(planned);
}

static void test_a_bound_udp_socket_is_a_server_too(void **state)
{
	struct eph_sock s = sk("0.0.0.0", 40000, "0.0.0.0", 0, EPH_TCP_CLOSE);
	struct eph_audit *a;

	(void)state;
	s.proto = IPPROTO_UDP;
	s.flags = EPH_SOCK_PORT_LOCKED;
	s.cgroup_id = 1234;
	a = run(&s, 1, NULL, 0);
	assert_int_equal(eph_audit_count(a), 1);
	assert_int_equal(eph_audit_get(a, 0)->proto, IPPROTO_UDP);
	assert_int_equal(eph_audit_get(a, 0)->cgroup_id, 1234);
	assert_int_equal(eph_audit_get(a, 0)->owner.pid, -1);
	eph_audit_free(a);
}

static void test_os_lists(void **state)
{
	uint64_t m;

	(void)state;
	assert_int_equal(eph_os_parse_list(ctx, "all", &m), 0);
	assert_int_equal(m, (1ull << eph_os_count()) - 1);
	assert_int_equal(eph_os_parse_list(ctx, "windows,WINDOWS,windows", &m),
			 0);
	assert_int_equal(__builtin_popcountll(m), 1);
	assert_int_equal(eph_os_parse_list(ctx, "", &m), -EINVAL);
	assert_int_equal(eph_os_parse_list(ctx, "linux,", &m), -EINVAL);
	assert_int_equal(eph_os_parse_list(ctx, "plan9", &m), -EINVAL);
	assert_non_null(strstr(eph_ctx_errmsg(ctx), "plan9"));
	assert_int_equal(eph_os_holding(m, 1000), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_a_listener_in_the_range_is_fixed_by_one_reservation),
		cmocka_unit_test(test_planned_ports_and_other_systems),
		cmocka_unit_test(test_a_bound_udp_socket_is_a_server_too),
		cmocka_unit_test(test_os_lists),
	};

	return cmocka_run_group_tests(tests, setup_audit, teardown_audit);
}
