/* SPDX-License-Identifier: MIT */
/* Port sets: the kernel's list syntax, strictly, and set arithmetic. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "../helpers.h"
#include "unit.h"

/* Parses S and returns its canonical form in a static buffer. */
static const char *canon(const char *s)
{
	static char buf[256];
	struct eph_portset *ps = ps_new();

	assert_non_null(ps);
	assert_int_equal(eph_portset_parse(ctx, ps, s, strlen(s)), 0);
	eph_portset_format(ps, buf, sizeof(buf));
	eph_portset_free(ps);
	return buf;
}

static void formats_canonically_sorted_and_merged(void **state)
{
	(void)state;
	assert_string_equal(canon(""), "");
	assert_string_equal(canon("\n"), "");
	assert_string_equal(canon("8080"), "8080");
	assert_string_equal(canon("8080\n"), "8080");
	assert_string_equal(canon("5,3,4,10-12,11"), "3-5,10-12");
	assert_string_equal(canon("80,81"), "80-81");
	assert_string_equal(canon("40000-40002,8080"), "8080,40000-40002");
	assert_string_equal(canon("0"), "0");
	assert_string_equal(canon("65535"), "65535");
	assert_string_equal(canon("0-65535"), "0-65535");
	assert_string_equal(canon("63,64"), "63-64");
	assert_string_equal(canon("7-7"), "7");
	assert_string_equal(canon("100-200,150-300,1"), "1,100-300");
}

struct bad_case {
	const char *input;
	const char *in_message; /* the message must quote this */
	int err;
};

static void refuses_malformed_lists_naming_the_item(void **state)
{
	static const struct bad_case bad[] = {
		{ ",", "empty item", -EINVAL },
		{ "1,,2", "empty item at offset 2", -EINVAL },
		{ "1,", "empty item", -EINVAL },
		{ ",1", "empty item at offset 0", -EINVAL },
		{ "2-1", "\"2-1\" is an inverted range", -EINVAL },
		{ "70000", "\"70000\"", -ERANGE },
		{ "1-70000", "\"1-70000\"", -ERANGE },
		{ "80a", "\"80a\" is not a port", -EINVAL },
		{ " 80", "\" 80\"", -EINVAL },
		{ "80 ", "\"80 \"", -EINVAL },
		{ "80, 81", "\" 81\"", -EINVAL },
		{ "-5", "\"-5\"", -EINVAL },
		{ "5-", "\"5-\"", -EINVAL },
		{ "1-2-3", "\"1-2-3\"", -EINVAL },
		{ "+5", "\"+5\"", -EINVAL },
		{ "0x50", "\"0x50\"", -EINVAL },
		{ "80\n\n", "\"80\\x0a\"", -EINVAL },
		{ "80;81", "\"80;81\"", -EINVAL },
		{ "99999999999999999999", "out of range", -ERANGE },
	};
	struct eph_portset *ps = ps_new();
	struct eph_portset *before = ps_new();

	(void)state;
	eph_portset_add(ps, 22, 22);
	eph_portset_copy(before, ps);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = eph_portset_parse(ctx, ps, bad[i].input,
					  strlen(bad[i].input));

		if (r != bad[i].err ||
		    !strstr(eph_ctx_errmsg(ctx), bad[i].in_message))
			fail_msg("input \"%s\": got %d \"%s\"", bad[i].input, r,
				 eph_ctx_errmsg(ctx));
		/* A failed parse leaves the set as it was. */
		assert_true(eph_portset_equal(ps, before));
	}
	eph_portset_free(ps);
	eph_portset_free(before);
}

static void counts_and_arithmetic(void **state)
{
	struct eph_portset *a = ps_new(), *b = ps_new();

	(void)state;
	eph_portset_add(a, 100, 199);
	eph_portset_add(b, 150, 249);
	assert_int_equal(eph_portset_count(a), 100);
	assert_int_equal(eph_portset_count_range(a, 150, 1000), 50);
	assert_int_equal(eph_portset_count_range(a, 199, 199), 1);
	assert_int_equal(eph_portset_count_range(a, 200, 100), 0);
	eph_portset_union(a, b);
	assert_int_equal(eph_portset_count(a), 150);
	eph_portset_subtract(a, b);
	assert_int_equal(eph_portset_count(a), 50);
	assert_false(eph_portset_has(a, 150));
	assert_true(eph_portset_has(a, 149));
	eph_portset_add(a, 100, 199);
	eph_portset_intersect(a, b);
	assert_int_equal(eph_portset_count(a), 50);
	assert_int_equal(eph_portset_next(a, 0), 150);
	assert_int_equal(eph_portset_next(a, 199), 199);
	assert_int_equal(eph_portset_next(a, 200), -1);
	assert_int_equal(eph_portset_next(a, 70000), -1);
	eph_portset_del(a, 0, 65535);
	assert_int_equal(eph_portset_count(a), 0);
	eph_portset_add(a, 0, 65535);
	assert_int_equal(eph_portset_count(a), 65536);
	assert_int_equal(eph_portset_next(a, 65535), 65535);
	eph_portset_add(a, 10, 5); /* inverted: no-op */
	eph_portset_clear(a);
	eph_portset_add(a, 10, 5);
	assert_int_equal(eph_portset_count(a), 0);
	eph_portset_free(a);
	eph_portset_free(b);
}

static void format_truncates_like_snprintf(void **state)
{
	struct eph_portset *ps = ps_new();
	char buf[8];

	(void)state;
	eph_portset_add(ps, 8080, 8080);
	eph_portset_add(ps, 40000, 40002);
	assert_int_equal(eph_portset_format(ps, NULL, 0), 16);
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(eph_portset_format(ps, buf, sizeof(buf)), 16);
	assert_string_equal(buf, "8080,40");
	eph_portset_free(ps);
}

/* The longest list the kernel can print: every other port. */
static void worst_case_list_round_trips(void **state)
{
	struct eph_portset *a = ps_new(), *b = ps_new();
	size_t len;
	char *buf;

	(void)state;
	for (uint32_t p = 1; p <= 65535; p += 2)
		eph_portset_add(a, (uint16_t)p, (uint16_t)p);
	len = eph_portset_format(a, NULL, 0);
	assert_true(len < 192 * 1024);
	buf = malloc(len + 1);
	assert_non_null(buf);
	assert_int_equal(eph_portset_format(a, buf, len + 1), len);
	assert_int_equal(eph_portset_parse(ctx, b, buf, len), 0);
	assert_true(eph_portset_equal(a, b));
	free(buf);
	eph_portset_free(a);
	eph_portset_free(b);
}

/* Random sets survive format then parse unchanged (fixed seeds). */
static void random_sets_round_trip(void **state)
{
	struct eph_portset *a = ps_new(), *b = ps_new();
	char *buf = malloc(400 * 1024);

	(void)state;
	assert_non_null(buf);
	for (unsigned int seed = 1; seed <= 200; seed++) {
		srand(seed);
		eph_portset_clear(a);
		for (int i = rand() % 50; i > 0; i--) {
			uint16_t lo = (uint16_t)(rand() % 65536);
			uint16_t span =
				(uint16_t)(rand() % 3 == 0 ? rand() % 500 : 0);

			eph_portset_add(a, lo,
					lo + span > 65535
						? 65535
						: (uint16_t)(lo + span));
		}
		size_t len = eph_portset_format(a, buf, 400 * 1024);
		assert_int_equal(eph_portset_parse(ctx, b, buf, len), 0);
		assert_true(eph_portset_equal(a, b));
	}
	free(buf);
	eph_portset_free(a);
	eph_portset_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(formats_canonically_sorted_and_merged),
		cmocka_unit_test(refuses_malformed_lists_naming_the_item),
		cmocka_unit_test(counts_and_arithmetic),
		cmocka_unit_test(format_truncates_like_snprintf),
		cmocka_unit_test(worst_case_list_round_trips),
		cmocka_unit_test(random_sets_round_trip),
	};

	return cmocka_run_group_tests_name("portset", tests, setup, teardown);
}
