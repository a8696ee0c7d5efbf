/* SPDX-License-Identifier: MIT */
/*
 * Thresholds, alert levels, and the ranking of destinations across
 * namespaces with what is past the top summed, fed with usages made by
 * hand.
 */
#include <errno.h>

#include "socks.h"

static void test_thresholds(void **state)
{
	struct eph_threshold t;

	(void)state;
	assert_int_equal(eph_threshold_parse(ctx, "66.7%", &t), 0);
	assert_true(t.percent && t.pct > 66.69 && t.pct < 66.71);
	assert_int_equal(eph_threshold_parse(ctx, "100%", &t), 0);
	assert_int_equal(eph_threshold_parse(ctx, "0.125%", &t), 0);
	assert_int_equal(eph_threshold_parse(ctx, "1000", &t), 0);
	assert_false(t.percent);
	assert_int_equal(t.free, 1000);
	assert_int_equal(eph_threshold_parse(ctx, "101%", &t), -EINVAL);
	assert_non_null(strstr(eph_ctx_errmsg(ctx), "\"101%\""));
	assert_int_equal(eph_threshold_parse(ctx, "1.2345%", &t), -EINVAL);
	assert_int_equal(eph_threshold_parse(ctx, "5.%", &t), -EINVAL);
	assert_int_equal(eph_threshold_parse(ctx, "%", &t), -EINVAL);
	assert_int_equal(eph_threshold_parse(ctx, "", &t), -EINVAL);
	assert_int_equal(eph_threshold_parse(ctx, "65537", &t), -EINVAL);
	assert_int_equal(eph_threshold_parse(ctx, "-1", &t), -EINVAL);
}

static void test_levels(void **state)
{
	struct eph_thresholds th = EPH_THRESHOLDS_DEFAULT;

	(void)state;
	assert_int_equal(eph_level_of(&th, 66.6, 10), EPH_LEVEL_OK);
	assert_int_equal(eph_level_of(&th, 66.7, 10), EPH_LEVEL_WARNING);
	assert_int_equal(eph_level_of(&th, 90.0, 10), EPH_LEVEL_CRITICAL);
	th.warn = (struct eph_threshold){ false, 0, 100 };
	th.crit = (struct eph_threshold){ false, 0, 10 };
	assert_int_equal(eph_level_of(&th, 99, 100), EPH_LEVEL_OK);
	assert_int_equal(eph_level_of(&th, 0, 99), EPH_LEVEL_WARNING);
	assert_int_equal(eph_level_of(&th, 0, 9), EPH_LEVEL_CRITICAL);
	assert_string_equal(eph_level_name(EPH_LEVEL_UNKNOWN), "UNKNOWN");
}

/* A snapshot whose usage holds USED connections toward each port of
 * RPORTS (20-port range), and UDP sockets on UDP ports. */
static struct eph_snapshot *snap(const uint16_t *rports, const uint32_t *used,
				 size_t n, uint32_t udp)
{
	struct eph_policy *p = policy_new();
	struct eph_usage *u = NULL;
	struct eph_snapshot *s = NULL;

	assert_non_null(p);
	assert_int_equal(eph_policy_set_range(p, 40000, 40019), 0);
	assert_int_equal(eph_usage_new(ctx, &u), 0);
	assert_int_equal(eph_usage_begin(u, p), 0);
	for (size_t i = 0; i < n; i++)
		for (uint32_t k = 0; k < used[i]; k++) {
			struct eph_sock so =
				sk("10.0.0.1", (uint16_t)(40000 + k),
				   "10.0.0.2", rports[i], EPH_TCP_ESTABLISHED);

			assert_int_equal(eph_usage_add(u, &so), 0);
		}
	for (uint32_t k = 0; k < udp; k++) {
		struct eph_sock so = sk("0.0.0.0", (uint16_t)(40000 + k),
					"0.0.0.0", 0, EPH_TCP_CLOSE);

		so.proto = IPPROTO_UDP;
		assert_int_equal(eph_usage_add(u, &so), 0);
	}
	assert_int_equal(eph_usage_end(u), 0);
	assert_int_equal(snapshot_wrap(ctx, p, u, &s), 0);
	return s;
}

static void test_ranking_keeps_the_top_and_sums_the_rest(void **state)
{
	static const uint16_t a_ports[] = { 1, 2, 3 };
	static const uint32_t a_used[] = { 19, 5, 1 };
	static const uint16_t b_ports[] = { 4, 5 };
	static const uint32_t b_used[] = { 12, 2 };
	struct eph_thresholds th = EPH_THRESHOLDS_DEFAULT;
	const struct eph_snapshot *snaps[3];
	struct eph_ranking *r;
	const struct eph_rollup *rest;

	(void)state;
	snaps[0] = snap(a_ports, a_used, 3, 0);
	snaps[1] = NULL; /* a namespace that could not be read */
	snaps[2] = snap(b_ports, b_used, 2, 15);
	assert_int_equal(eph_ranking_new(snaps, 3, &th, 2, &r), 0);
	assert_int_equal(eph_ranking_count(r), 5);
	assert_int_equal(eph_ranking_shown(r), 2);
	assert_int_equal(eph_ranking_get(r, 0)->source, 0);
	assert_int_equal(eph_ranking_get(r, 0)->tuple->remote_port, 1);
	assert_int_equal(eph_ranking_get(r, 0)->level, EPH_LEVEL_CRITICAL);
	assert_int_equal(eph_ranking_get(r, 1)->source, 2);
	assert_int_equal(eph_ranking_get(r, 1)->tuple->remote_port, 4);
	assert_int_equal(eph_ranking_get(r, 1)->level, EPH_LEVEL_OK);
	/* Past the top: ports 2 and 3 of the first, 5 of the last. */
	rest = eph_ranking_rest(r, 0);
	assert_int_equal(rest->tuples, 2);
	assert_int_equal(rest->used, 6);
	assert_int_equal(rest->min_free, 15);
	assert_int_equal(eph_ranking_rest(r, 1)->tuples, 0);
	assert_int_equal(eph_ranking_rest(r, 2)->tuples, 1);
	assert_int_equal(eph_ranking_rest_total(r)->tuples, 3);
	assert_int_equal(eph_ranking_rest_total(r)->used, 8);
	assert_int_equal(eph_ranking_level(r), EPH_LEVEL_CRITICAL);
	eph_ranking_free(r);

	/* UDP counts too: 15 of 20 is a warning. */
	assert_int_equal(eph_ranking_new(snaps + 2, 1, &th, 0, &r), 0);
	assert_int_equal(eph_ranking_shown(r), 2);
	assert_int_equal(eph_ranking_level(r), EPH_LEVEL_WARNING);
	{
		const struct eph_usage_udp *udp;
		size_t src;

		eph_ranking_udp_fullest(r, &src, &udp);
		assert_int_equal(src, 0);
		assert_int_equal(udp->used, 15);
	}
	eph_ranking_free(r);
	eph_snapshot_free((struct eph_snapshot *)snaps[0]);
	eph_snapshot_free((struct eph_snapshot *)snaps[2]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thresholds),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_ranking_keeps_the_top_and_sums_the_rest),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
