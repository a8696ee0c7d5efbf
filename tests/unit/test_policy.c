/* SPDX-License-Identifier: MIT */
/*
 * The host policy read from fixture /proc/sys trees: values, warnings, and
 * what a missing or corrupt sysctl does.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "../helpers.h"

static struct eph_ctx *ctx;
static struct eph_policy *pol;

static int setup(void **state)
{
	(void)state;
	ctx = ctx_new();
	pol = policy_new();
	return ctx && pol ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	eph_ctx_free(ctx);
	eph_policy_free(pol);
	return 0;
}

static int read_fixture(const char *name)
{
	char root[512];

	snprintf(root, sizeof(root), "%s/procsys/%s", FIXTURES, name);
	assert_int_equal(eph_ctx_set_proc_sys_root(ctx, root), 0);
	return policy_reread(ctx, &pol);
}

static bool has_warning(const char *code)
{
	for (size_t i = 0; i < eph_policy_warning_count(pol); i++)
		if (strcmp(eph_policy_warning(pol, i)->code, code) == 0)
			return true;
	return false;
}

static int64_t knob(enum eph_knob k)
{
	int64_t v = -1;

	assert_int_equal(eph_policy_knob(pol, k, &v), 0);
	return v;
}

static void reads_every_value_of_a_default_tree(void **state)
{
	uint16_t lo, hi;

	(void)state;
	assert_int_equal(read_fixture("default"), 0);
	eph_policy_range(pol, &lo, &hi);
	assert_int_equal(lo, 32768);
	assert_int_equal(hi, 60999);
	assert_int_equal(eph_policy_range_size(pol), 28232);
	assert_int_equal(eph_policy_available(pol), 28232);
	assert_int_equal(eph_portset_count(eph_policy_reserved(pol)), 0);
	assert_int_equal(knob(EPH_KNOB_UNPRIVILEGED_PORT_START), 1024);
	assert_int_equal(knob(EPH_KNOB_TCP_TW_REUSE), 2);
	assert_int_equal(knob(EPH_KNOB_TCP_TW_REUSE_DELAY), 1000);
	assert_int_equal(knob(EPH_KNOB_TCP_TIMESTAMPS), 1);
	assert_int_equal(knob(EPH_KNOB_TCP_MAX_TW_BUCKETS), 262144);
	assert_int_equal(knob(EPH_KNOB_TCP_FIN_TIMEOUT), 60);
	/* The Linux default is below IANA's range: a remark, no warning. */
	assert_true(has_warning(EPH_WARN_RANGE_OUTSIDE_IANA));
	assert_int_equal(eph_policy_warning(pol, 0)->severity, EPH_SEV_INFO);
	assert_int_equal(eph_policy_warning_count(pol), 1);
}

static void counts_reservations_inside_and_outside_the_range(void **state)
{
	(void)state;
	assert_int_equal(read_fixture("reserved"), 0);
	assert_int_equal(eph_portset_count(eph_policy_reserved(pol)), 4);
	assert_int_equal(eph_policy_reserved_in_range(pol), 3);
	assert_int_equal(eph_policy_available(pol), 28232 - 3);
	assert_true(has_warning(EPH_WARN_RESERVED_OUTSIDE_RANGE));
	assert_false(has_warning(EPH_WARN_RESERVED_LARGE_SHARE));
}

static void iana_range_raises_nothing(void **state)
{
	(void)state;
	assert_int_equal(read_fixture("iana"), 0);
	assert_int_equal(eph_policy_warning_count(pol), 0);
}

static void warns_same_parity_bounds(void **state)
{
	const struct eph_warning *w;

	(void)state;
	assert_int_equal(read_fixture("same-parity"), 0);
	assert_true(has_warning(EPH_WARN_RANGE_SAME_PARITY));
	w = eph_policy_warning(pol, 0); /* warnings sort before remarks */
	assert_string_equal(w->code, EPH_WARN_RANGE_SAME_PARITY);
	assert_int_equal(w->severity, EPH_SEV_WARNING);
	assert_non_null(strstr(w->message, "32768-60999"));
}

static void warns_heavy_reservations_and_a_small_range(void **state)
{
	(void)state;
	assert_int_equal(read_fixture("heavy-reserved"), 0);
	assert_int_equal(eph_policy_range_size(pol), 100);
	assert_int_equal(eph_policy_reserved_in_range(pol), 50);
	assert_int_equal(eph_policy_available(pol), 50);
	assert_true(has_warning(EPH_WARN_RESERVED_LARGE_SHARE));
	assert_true(has_warning(EPH_WARN_RANGE_SMALL));
	assert_true(has_warning(EPH_WARN_RESERVED_OUTSIDE_RANGE));
}

static void warns_tw_reuse_off_and_timestamps_off(void **state)
{
	(void)state;
	assert_int_equal(read_fixture("tw-off"), 0);
	assert_true(has_warning(EPH_WARN_TW_REUSE_OFF));
	assert_false(has_warning(EPH_WARN_TIMESTAMPS_OFF));
	assert_int_equal(read_fixture("no-timestamps"), 0);
	assert_true(has_warning(EPH_WARN_TIMESTAMPS_OFF));
	assert_false(has_warning(EPH_WARN_TW_REUSE_OFF));
}

static void marks_knobs_an_older_kernel_lacks(void **state)
{
	int64_t v = 123;

	(void)state;
	assert_int_equal(read_fixture("old-kernel"), 0);
	assert_int_equal(eph_policy_knob(pol, EPH_KNOB_TCP_TW_REUSE_DELAY, &v),
			 -ENOENT);
	assert_int_equal(v, 123);
}

struct bad_tree {
	const char *name;
	int err;
	const char *in_message;
};

static void bad_trees_fail_naming_the_file_and_change_nothing(void **state)
{
	static const struct bad_tree bad[] = {
		{ "missing-range", -ENOENT, "ip_local_port_range" },
		{ "corrupt-range", -EINVAL, "\"abc\"" },
		{ "inverted-range", -ERANGE, "5000 is above high bound 4000" },
		{ "corrupt-reserved", -EINVAL,
		  "net.ipv4.ip_local_reserved_ports: port list: empty item" },
		{ "corrupt-knob", -EINVAL, "net.ipv4.tcp_tw_reuse: \"2x\"" },
		{ "knob-out-of-range", -ERANGE, "net.ipv4.tcp_tw_reuse" },
		{ "no-such-tree", -ENOENT, "No such file" },
	};
	uint16_t lo, hi;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r;

		assert_int_equal(read_fixture("iana"), 0);
		r = read_fixture(bad[i].name);
		if (r != bad[i].err ||
		    !strstr(eph_ctx_errmsg(ctx), bad[i].in_message))
			fail_msg("%s: got %d \"%s\"", bad[i].name, r,
				 eph_ctx_errmsg(ctx));
		eph_policy_range(pol, &lo, &hi);
		assert_int_equal(lo, 49152); /* still the previous read */
		assert_int_equal(hi, 65535);
	}
}

static void parses_range_syntax_strictly(void **state)
{
	uint16_t lo = 1, hi = 1;

	(void)state;
	assert_int_equal(
		policy_range_parse(ctx, "32768\t60999\n", 12, &lo, &hi), 0);
	assert_int_equal(lo, 32768);
	assert_int_equal(hi, 60999);
	assert_int_equal(policy_range_parse(ctx, "1 1", 3, &lo, &hi), 0);
	assert_int_equal(lo, 1);
	assert_int_equal(policy_range_parse(ctx, "1", 1, &lo, &hi), -EINVAL);
	assert_int_equal(policy_range_parse(ctx, "", 0, &lo, &hi), -EINVAL);
	assert_int_equal(policy_range_parse(ctx, "1 2 3", 5, &lo, &hi),
			 -EINVAL);
	assert_int_equal(policy_range_parse(ctx, "1 70000", 7, &lo, &hi),
			 -ERANGE);
	assert_int_equal(policy_range_parse(ctx, " 1 2", 4, &lo, &hi), -EINVAL);
	assert_int_equal(policy_range_parse(ctx, "9 2", 3, &lo, &hi), -ERANGE);
	assert_int_equal(lo, 1);
}

static void setters_re_evaluate_warnings(void **state)
{
	struct eph_portset *res = ps_new();

	(void)state;
	assert_int_equal(read_fixture("iana"), 0);
	assert_int_equal(eph_policy_warning_count(pol), 0);
	assert_int_equal(eph_policy_set_range(pol, 50000, 50100), 0);
	assert_true(has_warning(EPH_WARN_RANGE_SAME_PARITY));
	assert_true(has_warning(EPH_WARN_RANGE_SMALL));
	assert_int_equal(eph_policy_set_range(pol, 7, 6), -EINVAL);
	eph_portset_add(res, 50000, 50099);
	eph_policy_set_reserved(pol, res);
	assert_int_equal(eph_policy_available(pol), 1);
	assert_true(has_warning(EPH_WARN_RESERVED_LARGE_SHARE));
	assert_int_equal(eph_policy_set_knob(pol, EPH_KNOB_TCP_TW_REUSE, 0), 0);
	assert_true(has_warning(EPH_WARN_TW_REUSE_OFF));
	assert_int_equal(eph_policy_set_knob(pol, EPH_KNOB_TCP_TW_REUSE, 3),
			 -EINVAL);
	assert_int_equal(eph_policy_set_knob(pol, EPH_KNOB__COUNT, 0), -EINVAL);
	eph_portset_free(res);
}

static void os_table_matches_the_facts(void **state)
{
	const struct eph_os *os;

	(void)state;
	assert_true(eph_os_count() >= 13);
	os = eph_os_find("FreeBSD");
	assert_non_null(os);
	assert_int_equal(os->low, 10000);
	assert_int_equal(os->high, 65535);
	os = eph_os_find("windows-xp");
	assert_non_null(os);
	assert_true(os->legacy);
	assert_int_equal(os->high, 5000);
	assert_null(eph_os_find("plan9"));
	assert_null(eph_os_get(eph_os_count()));
	assert_true(eph_ranges_overlap(32768, 60999, 49152, 65535));
	assert_false(eph_ranges_overlap(32768, 60999, 1025, 5000));
	assert_true(eph_ranges_overlap(5000, 5000, 1025, 5000));
	assert_int_equal(eph_ranges_shared(32768, 60999, 49152, 65535), 11848);
	assert_int_equal(eph_ranges_shared(1, 2, 3, 4), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reads_every_value_of_a_default_tree),
		cmocka_unit_test(
			counts_reservations_inside_and_outside_the_range),
		cmocka_unit_test(iana_range_raises_nothing),
		cmocka_unit_test(warns_same_parity_bounds),
		cmocka_unit_test(warns_heavy_reservations_and_a_small_range),
		cmocka_unit_test(warns_tw_reuse_off_and_timestamps_off),
		cmocka_unit_test(marks_knobs_an_older_kernel_lacks),
		cmocka_unit_test(
			bad_trees_fail_naming_the_file_and_change_nothing),
		cmocka_unit_test(parses_range_syntax_strictly),
		cmocka_unit_test(setters_re_evaluate_warnings),
		cmocka_unit_test(os_table_matches_the_facts),
	};

	return cmocka_run_group_tests_name("policy", tests, setup, teardown);
}
